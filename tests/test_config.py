from __future__ import annotations

import argparse
from dataclasses import dataclass

import pytest

from unlearnkit.config import Config, add_config_arguments, config_from_args, load_toml, option
from unlearnkit.errors import ConfigError


@dataclass(frozen=True)
class Demo(Config):
    """A demo config."""

    lr: float = option(0.1, "learning rate")
    epochs: int = option(3, "epochs")
    name: str = option("a", "name", choices=("a", "b"))
    hidden: tuple[int, ...] = option((4, 8), "hidden widths")
    layer: str | None = option(None, "optional layer")
    flag: bool = option(False, "a switch")


def test_roundtrip_dict_json():
    cfg = Demo(lr=0.5, hidden=(1, 2, 3), layer="x", flag=True)
    assert Demo.from_dict(cfg.to_dict()) == cfg
    assert Demo.from_json(cfg.to_json()) == cfg
    assert cfg.to_dict()["hidden"] == [1, 2, 3]


def test_unknown_key_lists_known():
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['lrr'\].*known keys: lr, epochs"):
        Demo.from_dict({"lrr": 1})


def test_type_and_choice_errors():
    with pytest.raises(ConfigError, match="'epochs' expects int"):
        Demo.from_dict({"epochs": 1.5})
    with pytest.raises(ConfigError, match="must be one of"):
        Demo(name="c")
    with pytest.raises(ConfigError, match="may not be empty"):
        Demo.from_dict({"lr": None})


def test_coercion_from_strings():
    cfg = Demo.from_dict({"lr": "0.25", "epochs": "7", "hidden": "16,32", "flag": "yes"})
    assert cfg == Demo(lr=0.25, epochs=7, hidden=(16, 32), flag=True)


def test_cli_generation_and_override():
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, Demo, prefix="demo")
    help_text = parser.format_help()
    for flag in ("--demo-lr", "--demo-epochs", "--demo-hidden", "--demo-flag", "--no-demo-flag"):
        assert flag in help_text
    assert "learning rate (default: 0.1)" in help_text
    args = parser.parse_args(["--demo-lr", "0.3", "--demo-hidden", "5", "6", "--demo-flag"])
    cfg = config_from_args(Demo, args, prefix="demo", base={"epochs": 9, "lr": 1.0})
    assert cfg == Demo(lr=0.3, epochs=9, hidden=(5, 6), flag=True)


def test_toml_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_toml(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[split\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_toml(bad)
    good = tmp_path / "good.toml"
    good.write_text('[split]\ndataset = "digits"\n')
    assert load_toml(good) == {"split": {"dataset": "digits"}}


@dataclass(frozen=True)
class Ranged(Config):
    """A config with declared ranges."""

    size: float = option(0.5, "a size", gt=0)
    frac: float = option(0.1, "a fraction", ge=0, lt=1)
    steps: tuple[float, ...] = option((0.5,), "milestones", ge=0, le=1)
    seed: int = option(0, "a seed")
    count: int = option(3, "a count", ge=1)

    def validate(self) -> None:
        if self.count == 7:
            raise ConfigError("count may not be 7", field="count")


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf", float("nan"), float("inf")])
def test_non_finite_floats_refused_with_the_field_name(bad):
    with pytest.raises(ConfigError, match=r"'size' must be a finite number, got"):
        Ranged.from_dict({"size": bad})
    with pytest.raises(ConfigError, match=r"'steps' must be a finite number"):
        Ranged.from_dict({"steps": [0.5, bad]})


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"size": 0}, r"'size' must be > 0, got 0\.0"),
        ({"frac": 1.0}, r"'frac' must be >= 0 and < 1, got 1\.0"),
        ({"steps": (0.5, 1.5)}, r"'steps' must be >= 0 and <= 1, got 1\.5"),
        ({"count": 0}, r"'count' must be >= 1, got 0"),
        ({"seed": -1}, r"'seed' must be >= 0 and < 4294967296, got -1"),
        ({"seed": 2**32}, r"'seed' must be >= 0 and < 4294967296"),
    ],
)
def test_declared_ranges(values, message):
    with pytest.raises(ConfigError, match=message):
        Ranged.from_dict(values)


def test_range_shown_in_help():
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, Ranged)
    assert "a fraction (default: 0.1; >= 0 and < 1)" in " ".join(parser.format_help().split())


def test_flag_errors_name_the_flag_and_file_values_are_checked_under_flags():
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, Ranged, prefix="r")
    args = parser.parse_args(["--r-size", "nan"])
    with pytest.raises(ConfigError, match=r"^--r-size: config field 'size' must be a finite"):
        config_from_args(Ranged, args, prefix="r")
    # the file's wrong-typed value is reported although --r-size overrides it
    args = parser.parse_args(["--r-size", "0.3"])
    with pytest.raises(ConfigError, match=r"'size' expects float, got 'abc'"):
        config_from_args(Ranged, args, prefix="r", base={"size": "abc"})
    with pytest.raises(ConfigError, match=r"'size' must be a finite number, got nan"):
        config_from_args(Ranged, args, prefix="r", base={"size": float("nan")})
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['sizes'\]"):
        config_from_args(Ranged, args, prefix="r", base={"sizes": 1})
    # cross-field rules see the merged config
    args = parser.parse_args(["--r-count", "7"])
    with pytest.raises(ConfigError, match=r"^--r-count: count may not be 7"):
        config_from_args(Ranged, args, prefix="r", base={"count": 2})
    cfg = config_from_args(Ranged, parser.parse_args(["--r-size", "2"]), prefix="r")
    assert cfg.size == 2.0


def test_toml_non_finite_value_refused(tmp_path):
    path = tmp_path / "nan.toml"
    path.write_text("[r]\nsize = nan\n")
    data = load_toml(path)["r"]
    with pytest.raises(ConfigError, match=r"'size' must be a finite number, got nan"):
        Ranged.from_dict(data)


def test_toml_files_that_are_not_utf8_text(tmp_path):
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff")
    with pytest.raises(ConfigError, match=r"bin.toml is not UTF-8 text \(line 1, byte 0 is 0x89\)"):
        load_toml(binary)
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes('[split]\ndataset = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(line 2, byte 22 is 0xe9\)"):
        load_toml(latin1)
    with pytest.raises(ConfigError, match=r"is a folder; pass the path of a \.toml file"):
        load_toml(tmp_path)


def test_boolean_flags_named_no_something_store_what_they_say():
    import argparse
    from dataclasses import dataclass

    from unlearnkit.config import Config, add_config_arguments, config_from_args, option

    @dataclass(frozen=True)
    class Flags(Config):
        no_cache: bool = option(False, "always train afresh")
        augment: bool = option(True, "augment")

    parser = argparse.ArgumentParser()
    add_config_arguments(parser, Flags)

    def parse(*argv: str) -> Flags:
        return config_from_args(Flags, parser.parse_args(list(argv)))

    assert parse("--no-cache").no_cache is True
    assert parse("--no-no-cache").no_cache is False
    assert parse().no_cache is False
    assert parse("--no-augment").augment is False
    assert parse("--augment").augment is True


def test_run_no_cache_flag_reaches_the_run_config():
    from unlearnkit.cli import build_parser
    from unlearnkit.config import config_from_args
    from unlearnkit.pipeline import RunConfig

    parser = build_parser()
    for argv, expected in ((["run", "--no-cache"], True), (["run", "--no-no-cache"], False)):
        cfg = config_from_args(RunConfig, parser.parse_args(argv))
        assert cfg.no_cache is expected


def test_a_section_that_is_not_a_table():
    from unlearnkit.data.splits import SplitConfig

    with pytest.raises(ConfigError, match=r"options of \[split\] must be a table .*, got 3"):
        SplitConfig.from_dict(3)  # type: ignore[arg-type]
    args = argparse.Namespace()
    with pytest.raises(ConfigError, match=r"options of Ranged must be a table"):
        config_from_args(Ranged, args, base=[1, 2])  # type: ignore[arg-type]
