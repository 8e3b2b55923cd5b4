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
import sys
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from unlearnkit.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

C = TypeVar("C", bound="Config")

_MISSING = dataclasses.MISSING


def option(default: Any, help: str, *, choices: tuple[Any, ...] | None = None) -> Any:
    """Declare a config field with its default and help text (and optional allowed values)."""
    meta = {"help": help, "choices": choices}
    if isinstance(default, (list, dict, set)):
        raise TypeError("use a tuple for sequence defaults (configs are immutable values)")
    return dataclasses.field(default=default, metadata=meta)


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
        raise ConfigError(f"config field '{name}' may not be empty (None)")
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
            return float(value)
        if base is str:
            if not isinstance(value, (str, int, float)):
                raise ValueError
            return str(value)
    except (TypeError, ValueError):
        pass
    else:
        return value
    raise ConfigError(
        f"config field '{name}' expects {getattr(base, '__name__', base)}, got {value!r}"
    )


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
            value = getattr(self, f.name)
            coerced = _coerce(f.name, hints[f.name], value)
            choices = f.metadata.get("choices")
            if choices is not None and coerced is not None:
                items = coerced if isinstance(coerced, tuple) else (coerced,)
                for item in items:
                    if item not in choices:
                        raise ConfigError(
                            f"config field '{f.name}' must be one of {list(choices)}, got {item!r}"
                        )
            object.__setattr__(self, f.name, coerced)
        self.validate()

    def validate(self) -> None:
        """Check values; raise ConfigError with a clear message. Override in subclasses."""

    # -- dict / files -------------------------------------------------------------------
    @classmethod
    def field_names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls: type[C], data: Mapping[str, Any] | None) -> C:
        """Build from a mapping; unknown keys are an error listing the known ones."""
        data = dict(data or {})
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
    """Read a TOML file into a dict, with a clear error for a missing or malformed file."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} not found; pass the path of an existing .toml file")
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {p} is not valid TOML: {exc}") from None


# -- argparse generation ------------------------------------------------------------------


def _flag(prefix: str, name: str) -> str:
    return "--" + (f"{prefix}-" if prefix else "").replace("_", "-") + name.replace("_", "-")


def _dest(prefix: str, name: str, aliases: dict[str, str] | None = None) -> str:
    if aliases and name in aliases:
        return aliases[name].lstrip("-").replace("-", "_")
    return (f"{prefix}_" if prefix else "") + name


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
        kwargs: dict[str, Any] = {
            "dest": _dest(prefix, f.name, aliases),
            "default": None,
            "help": f"{help_text} (default: {shown})".replace("%", "%%"),
        }
        if f.metadata.get("choices") and typing.get_origin(tp) is not tuple:
            kwargs["choices"] = list(f.metadata["choices"])
        if tp is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(tp) is tuple:
            kwargs["nargs"] = "*"
            kwargs["metavar"] = typing.get_args(tp)[0].__name__.upper()
        else:
            kwargs["type"] = str if tp is str else (lambda s, _tp=tp: s)
            kwargs["metavar"] = getattr(tp, "__name__", "VALUE").upper()
        flag = (aliases or {}).get(f.name, _flag(prefix, f.name))
        group.add_argument(flag, **kwargs)


def config_from_args(
    cls: type[C],
    args: argparse.Namespace,
    *,
    prefix: str = "",
    base: dict[str, Any] | None = None,
    aliases: dict[str, str] | None = None,
) -> C:
    """Build ``cls`` from a base mapping (e.g. a TOML section) overridden by given flags."""
    data = dict(base or {})
    for f in dataclasses.fields(cls):
        value = getattr(args, _dest(prefix, f.name, aliases), None)
        if value is not None:
            data[f.name] = value
    return cls.from_dict(data)
