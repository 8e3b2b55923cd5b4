"""Configuration dataclasses: one source of truth for defaults, help text, CLI flags and files.

Every config in unlearnkit is a dataclass deriving from :class:`Config`. Fields are declared
with :func:`option`, which carries the help text (and, optionally, allowed choices). From the
dataclass we derive:

* strict ``from_dict`` (unknown keys are errors that list the known ones) and ``to_dict``;
* JSON and TOML round trips;
* argparse flags (``add_config_arguments`` / ``config_from_args``), so ``--help`` documents
  every option exactly as the dataclass does.

Supported field types: ``int``, ``float``, ``str``, ``bool``, ``X | None`` of those, and
``tuple[int, ...]`` / ``tuple[float, ...]`` / ``tuple[str, ...]``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from unlearnkit.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

C = TypeVar("C", bound="Config")

_MISSING = dataclasses.MISSING


def option(
    default: Any,
    help: str,
    *,
    choices: tuple[Any, ...] | None = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
) -> Any:
    """Declare a config field with its default and help text, and optionally its allowed
    values (``choices``) or range (``ge`` ≥, ``gt`` >, ``le`` ≤, ``lt`` <; checked for every
    element of a tuple, and shown in ``--help``)."""
    bounds = tuple(
        (op, v) for op, v in (("ge", ge), ("gt", gt), ("le", le), ("lt", lt)) if v is not None
    )
    meta = {"help": help, "choices": choices, "bounds": bounds}
    if isinstance(default, (list, dict, set)):
        raise TypeError("use a tuple for sequence defaults (configs are immutable values)")
    return dataclasses.field(default=default, metadata=meta)


#: every integer field named ``seed``, ``*_seed``, ``seeds`` or ``*_seeds`` must lie in
#: [0, 2**32) (NumPy's legacy seeding and scikit-learn's ``random_state`` accept no more)
SEED_BOUNDS: tuple[tuple[str, float], ...] = (("ge", 0), ("lt", 2**32))
_OPS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "ge": (">=", lambda a, b: a >= b),
    "gt": (">", lambda a, b: a > b),
    "le": ("<=", lambda a, b: a <= b),
    "lt": ("<", lambda a, b: a < b),
}


def _bounds(f: dataclasses.Field[Any]) -> tuple[tuple[str, float], ...]:
    explicit = f.metadata.get("bounds") or ()
    if not explicit and any(f.name == w or f.name.endswith("_" + w) for w in ("seed", "seeds")):
        return SEED_BOUNDS
    return tuple(explicit)


def describe_bounds(bounds: tuple[tuple[str, float], ...]) -> str:
    """``(("ge", 0), ("lt", 1))`` → ``">= 0 and < 1"``."""
    shown = [f"{v:g}" if isinstance(v, float) else str(v) for _, v in bounds]
    return " and ".join(f"{_OPS[op][0]} {v}" for (op, _), v in zip(bounds, shown))


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _coerce(name: str, tp: Any, value: Any) -> Any:
    """Convert ``value`` to the field type ``tp`` or raise a ConfigError naming the field."""
    base, optional = _unwrap_optional(tp)
    if value is None:
        if optional:
            return None
        raise ConfigError(f"config field '{name}' may not be empty (None)", field=name)
    origin = typing.get_origin(base)
    if origin is tuple:
        (elem, *_rest) = typing.get_args(base)
        if isinstance(value, str):
            value = [v for v in value.replace(",", " ").split() if v]
        if not isinstance(value, (list, tuple)):
            value = [value]
        return tuple(_coerce(name, elem, v) for v in value)
    try:
        if base is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
                return True
            if isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
                return False
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            raise ValueError
        if base is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if base is float:
            if isinstance(value, bool):
                raise ValueError
            number = float(value)
            if not math.isfinite(number):
                raise ConfigError(
                    f"config field '{name}' must be a finite number, got {value!r}", field=name
                )
            return number
        if base is str:
            if not isinstance(value, (str, int, float)):
                raise ValueError
            return str(value)
    except (TypeError, ValueError):
        pass
    else:
        return value
    raise ConfigError(
        f"config field '{name}' expects {getattr(base, '__name__', base)}, got {value!r}",
        field=name,
    )


def _as_mapping(cls: type[Config], data: Any) -> dict[str, Any]:
    """``data`` as a dict of options, or a ConfigError when it is not a table (e.g. a config
    file's ``split = 3`` where a ``[split]`` table belongs)."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        where = f"[{cls.section}]" if cls.section else cls.__name__
        raise ConfigError(
            f"the options of {where} must be a table of key = value pairs, got {data!r}"
        )
    return dict(data)


def _check_field(f: dataclasses.Field[Any], hint: Any, value: Any) -> Any:
    """Coerce one field's value and check its choices and range; returns the coerced value."""
    coerced = _coerce(f.name, hint, value)
    if coerced is None:
        return None
    items = coerced if isinstance(coerced, tuple) else (coerced,)
    choices = f.metadata.get("choices")
    bounds = _bounds(f)
    for item in items:
        if choices is not None and item not in choices:
            raise ConfigError(
                f"config field '{f.name}' must be one of {list(choices)}, got {item!r}",
                field=f.name,
            )
        numeric = isinstance(item, (int, float)) and not isinstance(item, bool)
        if bounds and numeric and not all(_OPS[op][1](item, v) for op, v in bounds):
            raise ConfigError(
                f"config field '{f.name}' must be {describe_bounds(bounds)}, got {item!r}",
                field=f.name,
            )
    return coerced


@dataclasses.dataclass(frozen=True)
class Config:
    """Base class of all configs: strict dict/JSON/TOML round trip and CLI generation.

    Subclasses override :meth:`validate` to check values; it runs after construction and
    raises :class:`~unlearnkit.errors.ConfigError` with a message that names the field.
    """

    section: ClassVar[str] = ""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _check_field(f, hints[f.name], getattr(self, f.name)))
        self.validate()

    @classmethod
    def check_values(cls, data: Mapping[str, Any]) -> None:
        """Check the type, choices and range of each given value on its own (no cross-field
        rules), e.g. a config file's values before flags override some of them."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        hints = typing.get_type_hints(cls)
        for key, value in data.items():
            name = key.replace("-", "_")
            if name in fields:
                _check_field(fields[name], hints[name], value)

    def validate(self) -> None:
        """Check values; raise ConfigError with a clear message. Override in subclasses."""

    # -- dict / files -------------------------------------------------------------------
    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any] | None) -> C:
        """Build from a mapping; unknown keys are an error listing the known ones."""
        data = _as_mapping(cls, data)
        known = cls.field_names()
        unknown = sorted(k for k in data if k.replace("-", "_") not in known)
        if unknown:
            raise ConfigError(
                f"unknown key(s) {unknown} for {cls.__name__}; known keys: {', '.join(known)}"
            )
        return cls(**{k.replace("-", "_"): v for k, v in data.items()})

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    def replace(self: C, **changes: Any) -> C:
        return self.from_dict({**self.to_dict(), **changes})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls: type[C], text: str) -> C:
        return cls.from_dict(json.loads(text))

    @classmethod
    def help_table(cls) -> list[tuple[str, str, Any]]:
        """(name, help, default) for every field, for docs and ``--help``."""
        return [(f.name, f.metadata.get("help", ""), f.default) for f in dataclasses.fields(cls)]


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file into a dict; a missing, unreadable, non-UTF-8 or malformed file is one
    :class:`ConfigError` that says so."""
    p = Path(path)
    if p.is_dir():
        raise ConfigError(f"config file {p} is a folder; pass the path of a .toml file")
    if not p.is_file():
        raise ConfigError(f"config file {p} not found; pass the path of an existing .toml file")
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {p}: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"config file {p} is not UTF-8 text (line {raw.count(10, 0, exc.start) + 1}, "
            f"byte {exc.start} is 0x{raw[exc.start]:02x}): "
            "a config file must be a TOML text file saved as UTF-8"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {p} is not valid TOML: {exc}") from None


# -- argparse generation ------------------------------------------------------------------


def _flag(prefix: str, name: str) -> str:
    return "--" + (f"{prefix}-" if prefix else "").replace("_", "-") + name.replace("_", "-")


def _dest(prefix: str, name: str, aliases: dict[str, str] | None = None) -> str:
    if aliases and name in aliases:
        return aliases[name].lstrip("-").replace("-", "_")
    return (f"{prefix}_" if prefix else "") + name


class _BoolFlag(argparse.BooleanOptionalAction):
    """``--flag`` / ``--no-flag``, decided by which of the two was given — not, as argparse's
    own action does, by a ``--no-`` prefix, which made both ``--no-cache`` and
    ``--no-no-cache`` store False for a field named ``no_cache``."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        self._positive = frozenset(option_strings)
        super().__init__(option_strings, dest, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        if option_string in self.option_strings:
            setattr(namespace, self.dest, option_string in self._positive)


def add_config_arguments(
    parser: argparse.ArgumentParser | Any,
    cls: type[Config],
    *,
    prefix: str = "",
    title: str | None = None,
    skip: tuple[str, ...] = (),
    aliases: dict[str, str] | None = None,
) -> None:
    """Add one flag per field of ``cls`` (default None, so absent flags do not override).

    ``aliases`` maps a field name to the flag to use instead of the generated one (e.g.
    ``{"name": "--model"}``); pass the same ``aliases`` to :func:`config_from_args`."""
    group = parser.add_argument_group(title or cls.__name__, (cls.__doc__ or "").split("\n")[0])
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        tp, _ = _unwrap_optional(hints[f.name])
        help_text = f.metadata.get("help", "")
        default = f.default
        shown = list(default) if isinstance(default, tuple) else default
        bounds = _bounds(f)
        shown_range = f"; {describe_bounds(bounds)}" if f.metadata.get("bounds") else ""
        kwargs: dict[str, Any] = {
            "dest": _dest(prefix, f.name, aliases),
            "default": None,
            "help": f"{help_text} (default: {shown}{shown_range})".replace("%", "%%"),
        }
        if f.metadata.get("choices") and typing.get_origin(tp) is not tuple:
            kwargs["choices"] = list(f.metadata["choices"])
        if tp is bool:
            kwargs["action"] = _BoolFlag
        elif typing.get_origin(tp) is tuple:
            kwargs["nargs"] = "*"
            kwargs["metavar"] = typing.get_args(tp)[0].__name__.upper()
        else:
            kwargs["type"] = str if tp is str else (lambda s, _tp=tp: s)
            kwargs["metavar"] = getattr(tp, "__name__", "VALUE").upper()
        flag = (aliases or {}).get(f.name, _flag(prefix, f.name))
        group.add_argument(flag, **kwargs)


def given_flags(
    cls: type[Config],
    args: argparse.Namespace,
    *,
    prefix: str = "",
    aliases: dict[str, str] | None = None,
) -> dict[str, tuple[str, Any]]:
    """The fields of ``cls`` that were given as flags: ``{field: (flag, raw value)}``."""
    out: dict[str, tuple[str, Any]] = {}
    for f in dataclasses.fields(cls):
        value = getattr(args, _dest(prefix, f.name, aliases), None)
        if value is not None:
            out[f.name] = ((aliases or {}).get(f.name, _flag(prefix, f.name)), value)
    return out


def config_from_args(
    cls: type[C],
    args: argparse.Namespace,
    *,
    prefix: str = "",
    base: dict[str, Any] | None = None,
    aliases: dict[str, str] | None = None,
) -> C:
    """Build ``cls`` from a base mapping (e.g. a TOML section) overridden by given flags.

    The merged config is validated as one, and every base value is checked on its own too, so
    a wrong value in a file is reported even when a flag overrides it. An error about a value
    that a flag set names the flag."""
    data = _as_mapping(cls, base)
    known = cls.field_names()
    unknown = sorted(k for k in data if k.replace("-", "_") not in known)
    if unknown:
        raise ConfigError(
            f"unknown key(s) {unknown} for {cls.__name__}; known keys: {', '.join(known)}"
        )
    cls.check_values(data)
    given = given_flags(cls, args, prefix=prefix, aliases=aliases)
    data.update({name: value for name, (_, value) in given.items()})
    flags = {name: flag for name, (flag, _) in given.items()}
    try:
        return cls.from_dict(data)
    except ConfigError as exc:
        if exc.field in flags:
            raise ConfigError(f"{flags[exc.field]}: {exc}", field=exc.field) from None
        raise
