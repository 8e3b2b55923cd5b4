"""The ``unlearnkit`` command line: thin — it parses, calls the library, prints.

One module per group of subcommands (:mod:`~unlearnkit.cli.basic`: ``list``, ``split``,
``train``, ``run``; :mod:`~unlearnkit.cli.evaluate`; :mod:`~unlearnkit.cli.benchmark`:
``benchmark``, ``report``; :mod:`~unlearnkit.cli.attack`; :mod:`~unlearnkit.cli.tune`), each
with ``add_parser(subparsers)`` and handlers registered by :func:`command`. Flags are generated
from the config dataclasses (one source of truth); a TOML file given with ``--config`` supplies
sections ``[split]``, ``[model]``, ``[train]``, ``[eval]``, ``[run]``, ``[engine]`` and
``[methods.<name>]``; flags override the file, the file overrides the dataset's defaults.
User errors print one ``error:`` line (no traceback) and exit with status 2.

Imports point down only: the subcommand modules import :mod:`unlearnkit.cli.common` and the
library, never this package's ``__init__``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from collections.abc import Sequence
from typing import Any

import unlearnkit
from unlearnkit.cli.commands import COMMANDS, DESCRIPTION
from unlearnkit.cli.common import (
    HANDLERS,
    OUTPUT_KINDS,
    SECTIONS,
    Handler,
    command,
    load_sections,
    method_overrides,
)
from unlearnkit.errors import UnlearnkitError
from unlearnkit.outputs import check_output

__all__ = [
    "COMMANDS",
    "OUTPUT_KINDS",
    "SECTIONS",
    "SUBCOMMANDS",
    "Handler",
    "build_parser",
    "command",
    "load_sections",
    "main",
    "method_overrides",
]

#: the modules that add subcommands, in the order ``--help`` lists them
SUBCOMMANDS = (
    "unlearnkit.cli.basic",
    "unlearnkit.cli.evaluate",
    "unlearnkit.cli.benchmark",
    "unlearnkit.cli.attack",
    "unlearnkit.cli.tune",
)


def _top_parser() -> tuple[argparse.ArgumentParser, Any]:
    parser = argparse.ArgumentParser(prog="unlearnkit", description=DESCRIPTION)
    parser.add_argument(
        "--version", action="version", version=f"unlearnkit {unlearnkit.__version__}"
    )
    return parser, parser.add_subparsers(dest="command", required=True, metavar="COMMAND")


def light_parser() -> argparse.ArgumentParser:
    """The top-level parser only (commands listed, none of their flags): enough for
    ``unlearnkit``, ``--help`` and ``--version`` without importing torch."""
    parser, sub = _top_parser()
    for name, help_text in COMMANDS:
        sub.add_parser(name, help=help_text)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser, sub = _top_parser()
    for module in SUBCOMMANDS:
        importlib.import_module(module).add_parser(sub)
    return parser


def _short_warning(
    message: Any, category: Any, filename: str, lineno: int, line: Any = None
) -> str:
    return f"warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    warnings.formatwarning = _short_warning  # type: ignore[assignment]
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if not argv or argv[0] in ("-h", "--help", "--version"):
            light_parser().parse_args(argv)  # prints and exits (usage error without a command)
        from unlearnkit.utils import set_verbosity

        parser = build_parser()
        args = parser.parse_args(argv)
        kind = OUTPUT_KINDS.get(args.command)
        if kind is not None and getattr(args, "out", None):
            check_output(args.out, kind)  # type: ignore[arg-type]
        set_verbosity(0 if getattr(args, "quiet", False) else 1 + getattr(args, "verbose", 0))
        return HANDLERS[args.command](args)
    except UnlearnkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
