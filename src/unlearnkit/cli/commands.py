"""The commands and their one-line help: light (no torch, no numpy), for the top-level
``--help``; every subcommand's parser takes its help from here (a test compares them)."""

from __future__ import annotations

DESCRIPTION = (
    "Machine unlearning of trained classifiers: SURE, baselines, and evaluation against a "
    "retrained model."
)

#: every command and its one-line help, for the top-level ``--help``, which must not import
#: torch (it answers in well under a second); a test checks it against the full parser
COMMANDS: tuple[tuple[str, str], ...] = (
    ("list", "list datasets, models, methods or metrics (no argument: all)"),
    ("split", "make and save an unlearning split"),
    ("train", "train the original model (or --retrain on retain)"),
    ("run", "the main job: split → original → retrain → methods → evaluation → table"),
    ("evaluate", "evaluate saved checkpoints (original, retrain, methods) on a saved split"),
    ("benchmark", "run a grid of splits × seeds × methods (resumable) and print the aggregate"),
    ("report", "write report.md, report.html and figures/ for a benchmark folder"),
    ("attack", "per-example attacks over model pools: U-LiRA, NeurIPS 2023 forgetting score"),
    (
        "tune",
        "tune every method's hyperparameters on val by Bayesian optimisation (Optuna; the same "
        "budget per method)",
    ),
)

HELP = dict(COMMANDS)
