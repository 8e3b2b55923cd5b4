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
