"""SIGKILL in the middle of a study, then resume: no trial is lost or repeated, and the trials
are those of an uninterrupted run with the same sampler seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from unlearnkit.benchmark import load_plan
from unlearnkit.cli import load_sections
from unlearnkit.tuning import TuneConfig, run_tuning

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::UserWarning")]

CHILD = """
import os, signal, sys
import unlearnkit.tuning.search as search
from unlearnkit.benchmark.runner import ResultsFile
mode, kill_at = sys.argv[1], int(sys.argv[2])
calls = [0]
if mode == "evaluating":  # killed while a trial is being evaluated
    real = search.evaluate_trial
    def killer(*a, **k):
        calls[0] += 1
        if calls[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*a, **k)
    search.evaluate_trial = killer
else:  # killed after the evaluation was recorded, before the study was told
    real_append = ResultsFile.append
    def killer(self, row):
        real_append(self, row)
        calls[0] += 1
        if calls[0] == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
    ResultsFile.append = killer
from unlearnkit.cli import main
sys.exit(main(sys.argv[3:]))
"""

NAME = "finetune/0-digits-partial-class"
KW = dict(trials=5, methods=("finetune",), startup_trials=2, seeds=(1000, 1001))


def _study(out: Path):
    return optuna.load_study(study_name=NAME, storage=f"sqlite:///{out / 'study.db'}")


@pytest.mark.parametrize("mode", ["evaluating", "recorded"])
def test_sigkill_mid_study_then_resume(tiny_file, tmp_path, mode):
    sections = load_sections(str(tiny_file))
    plan = load_plan(sections)
    ref = tmp_path / "ref"
    run_tuning(plan, sections, TuneConfig(**KW), ref, show_progress=False)

    out = tmp_path / "killed"
    argv = [
        "tune",
        "--config",
        str(tiny_file),
        "--out",
        str(out),
        "--quiet",
        "--trials",
        "5",
        "--methods",
        "finetune",
        "--startup-trials",
        "2",
        "--tune-seeds",
        "1000",
        "1001",
    ]
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1"}
    # 2 evaluations per trial (two tuning seeds): the 7th is trial 3's first seed
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, mode, "7", *argv],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == -9, proc.stderr
    states = [t.state for t in _study(out).trials]
    assert states.count(optuna.trial.TrialState.RUNNING) == 1 and len(states) == 4

    outcome = run_tuning(plan, sections, TuneConfig(**KW), out, show_progress=False)
    killed, reference = _study(out).trials, _study(ref).trials
    assert [t.state for t in killed] == [optuna.trial.TrialState.COMPLETE] * 5
    assert [t.params for t in killed] == [t.params for t in reference]  # none lost or repeated
    assert [t.values for t in killed] == [t.values for t in reference]
    rows = [json.loads(x) for x in (out / "trials.jsonl").read_text().splitlines()]
    ids = [r["eval_id"] for r in rows]
    assert len(ids) == len(set(ids)) == 10  # 5 trials × 2 seeds, each evaluated once
    # the resumed process ran the rest of trial 3 (one or two evaluations) and trial 4 (two)
    assert outcome.n_new == 2
