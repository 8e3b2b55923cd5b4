"""The command line: every subcommand on tiny settings, and user errors → one message, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from unlearnkit.cli import build_parser, main

TINY = ["--model", "cnn", "--model-width", "4", "--model-embed-dim", "16", "--epochs", "1"]


def run_cli(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_list(capsys):
    rc, out, _ = run_cli(capsys, "list", "datasets")
    assert rc == 0
    for name in ("digits", "fashion-mnist", "mnist", "cifar10", "cifar100", "svhn", "npz"):
        assert name in out
    assert "/usr/share/datasets/fashion-mnist" in out
    rc, out, _ = run_cli(capsys, "list", "methods")
    for name in ("original", "retrain", "finetune", "sure", "salun", "scrub", "ssd"):
        assert name in out
    assert "ICLR 2025" in out
    rc, out, _ = run_cli(capsys, "list", "models")
    assert "resnet18" in out


def test_help_documents_every_option():
    from unlearnkit.methods.sure import SureConfig
    from unlearnkit.training import TrainConfig

    text = build_parser()._subparsers._group_actions[0].choices["run"].format_help()
    for field in SureConfig.field_names():
        assert f"--sure-{field.replace('_', '-')}" in text
    for field in TrainConfig.field_names():
        flag = "--train-seed" if field == "seed" else f"--{field.replace('_', '-')}"
        assert flag in text
    assert "(reconstruction)" in text


def test_split_train_evaluate_roundtrip(tmp_path, capsys):
    split = tmp_path / "s.json"
    rc, out, _ = run_cli(
        capsys, "split", "--out", str(split), "--forget-classes", "2", "--seed", "1"
    )
    assert rc == 0 and json.loads(out)["sha256"]
    for role, extra in (("orig", []), ("re", ["--retrain"])):
        rc, out, _ = run_cli(
            capsys,
            "train",
            "--quiet",
            "--split",
            str(split),
            "--out",
            str(tmp_path / role),
            *TINY,
            *extra,
        )
        assert rc == 0, out
        assert "test_acc" in out
    rc, out, err = run_cli(
        capsys,
        "evaluate",
        "--quiet",
        "--split",
        str(split),
        "--checkpoint",
        f"original={tmp_path / 'orig'}",
        f"retrain={tmp_path / 're'}",
        "--eval-attackers",
        "logreg",
        "--no-eval-mia",
        "--no-eval-transfer",
        "--out",
        str(tmp_path / "ev.json"),
    )
    assert rc == 0, err
    assert "Avg. Gap" in out
    data = json.loads((tmp_path / "ev.json").read_text())
    assert "retrain" in data["rows"]


def test_run_main_job(tmp_path, capsys):
    rc, out, err = run_cli(
        capsys,
        "run",
        "--quiet",
        "--no-cache",
        "--out",
        str(tmp_path / "run"),
        *TINY,
        "--methods",
        "finetune",
        "--finetune-epochs",
        "1",
        "--eval-attackers",
        "logreg",
        "--no-eval-mia",
    )
    assert rc == 0, err
    assert "finetune" in out and "retrain" in out and "Avg. Gap" in out
    # the compact default: methods as rows, under 100 columns, a verdict per method
    table = out.split("\nresults: ")[0]  # the last line names the (long) output paths
    assert max(len(line) for line in table.splitlines()) <= 100
    assert out.splitlines()[0].split()[:3] == ["method", "retain", "forget"]
    assert "verdicts" in out and "  finetune  " in out
    assert "Emb. logreg AUC" not in out
    res = json.loads((tmp_path / "run" / "results.json").read_text())
    assert res["config"]["methods"]["finetune"]["epochs"] == 1
    assert (tmp_path / "run" / "results.md").is_file()
    # --save-models writes checkpoints that `unlearnkit evaluate` reads back
    rc, out, err = run_cli(
        capsys,
        "run",
        "--quiet",
        "--no-cache",
        "--out",
        str(tmp_path / "run2"),
        *TINY,
        "--methods",
        "finetune",
        "--finetune-epochs",
        "1",
        "--eval-attackers",
        "logreg",
        "--no-eval-mia",
        "--save-models",
        "--all-metrics",
    )
    assert rc == 0, err
    assert "Emb. logreg AUC %" in out  # every metric, metrics as rows
    models = tmp_path / "run2" / "models"
    rc, out, err = run_cli(
        capsys,
        "evaluate",
        "--quiet",
        "--split",
        str(tmp_path / "run2" / "split.json"),
        "--checkpoint",
        f"original={models / 'original'}",
        f"retrain={models / 'retrain'}",
        f"finetune={models / 'finetune'}",
        "--eval-attackers",
        "logreg",
        "--no-eval-mia",
    )
    assert rc == 0, err
    assert "finetune" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--dataset", "imagenet"], "unknown dataset 'imagenet'; known datasets:"),
        (["run", "--methods", "forgetall"], "unknown method 'forgetall'; known methods:"),
        (["run", "--model", "vgg", "--no-cache"], "unknown model 'vgg'"),
        (["run", "--forget-classes", "11"], "unknown class 11"),
        (["run", "--scenario", "random", "--forget-size", "100000"], "larger than"),
        (["run", "--sure-lambda-max", "-1"], "lambda_max"),
        (
            ["run", "--dataset", "mnist", "--data-dir", "/nonexistent"],
            "/nonexistent does not exist",
        ),
        (["run", "--config", "/nonexistent.toml"], "not found"),
        (["train", "--split", "/nonexistent.json"], "split file /nonexistent.json not found"),
        (
            ["evaluate", "--split", "/nonexistent.json", "--checkpoint", "original=x"],
            "needs a 'retrain=PATH'",
        ),
        (
            ["run", "--device", "cuda:7"]
            if not __import__("torch").cuda.is_available()
            else ["run", "--device", "tpu"],
            "device",
        ),
    ],
)
def test_user_errors_one_message(capsys, argv, message):
    rc, _, err = run_cli(capsys, *argv)
    assert rc == 2
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1
    assert message in err
    assert "Traceback" not in err


def test_bad_config_file_section(tmp_path, capsys):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[splitt]\ndataset='digits'\n")
    rc, _, err = run_cli(capsys, "run", "--config", str(cfg))
    assert rc == 2 and "unknown section(s) ['splitt']" in err
    cfg.write_text("[methods.sure]\nlrr = 1\n")
    rc, _, err = run_cli(capsys, "run", "--config", str(cfg))
    assert rc == 2 and "unknown key(s) ['lrr']" in err


def test_console_script_no_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "unlearnkit.cli", "run", "--dataset", "nope"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "unknown dataset 'nope'" in proc.stderr


def test_main_job_runs_every_registered_method_by_default():
    from unlearnkit.methods import method_names
    from unlearnkit.pipeline import DEFAULT_METHODS, REFERENCE_METHODS

    assert set(DEFAULT_METHODS) == set(method_names()) - set(REFERENCE_METHODS)


def test_list_without_argument_lists_every_registry_and_metrics(capsys):
    rc, out, _ = run_cli(capsys, "list")
    assert rc == 0
    for heading in ("datasets:", "models:", "methods:", "metrics:"):
        assert heading in out.splitlines()
    rc, out, _ = run_cli(capsys, "list", "metrics")
    assert rc == 0 and "datasets:" not in out
    from unlearnkit.evaluation.registry import METRICS

    keys = {line.split()[0] for line in out.splitlines() if line and not line.startswith(" ")}
    assert set(METRICS) <= keys


def test_top_level_help_lists_the_same_commands_as_the_full_parser_without_torch():
    from unlearnkit.cli import COMMANDS

    full = build_parser()._subparsers._group_actions[0]
    assert [(a.dest, a.help) for a in full._choices_actions] == list(COMMANDS)
    code = (
        "import sys\nfrom unlearnkit.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit as e:\n    assert e.code == 0\n"
        "assert 'torch' not in sys.modules, 'torch imported by --help'\n"
        "assert 'numpy' not in sys.modules, 'numpy imported by --help'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "benchmark" in proc.stdout and "usage: unlearnkit" in proc.stdout


def test_no_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2
    assert "COMMAND" in capsys.readouterr().err
