"""End-to-end per-example attacks (pools → unlearning runs → statistics → scores) and the CLI.

Models are tiny (TINY_MODEL, one epoch) on a 300-example digits split, so these runs check the
plumbing, determinism and bookkeeping, not attack strength.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from tests.conftest import CPU, TINY_MODEL
from unlearnkit.attacks import attack_summary, ulira_scores
from unlearnkit.attacks.runner import (
    _auc_ranks,
    _loo_ulira,
    class_prototypes,
    cosine_to_prototype,
    per_example_auc,
    permutation_null_auc,
    run_neurips,
    run_ulira,
)
from unlearnkit.cli import main
from unlearnkit.data.batching import unlearning_data
from unlearnkit.data.splits import SplitConfig, make_split
from unlearnkit.errors import ConfigError
from unlearnkit.training import TrainConfig

RECIPE = TrainConfig(epochs=1, batch_size=64, lr=0.1)
SPLIT = SplitConfig(
    dataset="digits", scenario="partial-class", forget_size=0.5, forget_classes=(3,),
    train_size=300, seed=0,
)  # fmt: skip
FINETUNE = {"epochs": 1}


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """Tiny models train ~50× faster single-threaded on a loaded 2-core machine (OpenMP
    threads spin against each other); the previous setting is restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def small(digits):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        split = make_split(digits, SPLIT)
    return split, unlearning_data(digits, split)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("attack-cache")


def _neurips(small, method, cfg, cache_dir, n=3, **kw):
    split, data = small
    return run_neurips(
        method, cfg, data, split, TINY_MODEL, RECIPE, n, CPU, cache_dir=cache_dir,
        show_progress=False, **kw,
    )  # fmt: skip


@pytest.fixture(scope="module")
def neurips_pair(small, cache, tmp_path_factory):
    """The same finetune run twice, each from scratch (own cache: pool and original retrained)."""
    first = _neurips(small, "finetune", FINETUNE, cache)
    second = _neurips(small, "finetune", FINETUNE, tmp_path_factory.mktemp("second"))
    return first, second


def test_neurips_repeats_bit_for_bit_on_cpu(neurips_pair):
    a, b = neurips_pair
    for key, arr in a["arrays"].items():
        np.testing.assert_array_equal(arr, b["arrays"][key], err_msg=key)
    for key in ("score", "forgetting_quality", "ra_ratio", "ta_ratio", "emb_forgetting_quality"):
        assert a[key] == b[key], key


def test_neurips_result_states_n_and_has_every_key(neurips_pair, small):
    res, _ = neurips_pair
    n = len(small[1].forget)
    assert res["N"] == 3 and res["n_examples"] == n and res["attack"] == "neurips"
    for key in (
        "score", "forgetting_quality", "ra_ratio", "ta_ratio", "epsilon_mean", "epsilon_median",
        "frac_capped", "emb_score", "emb_forgetting_quality", "emb_epsilon_median",
        "unlearning_runs", "pool_trainings", "wall_time", "config",
    ):  # fmt: skip
        assert key in res, key
    assert res["unlearning_runs"] == 3 and res["pool_trainings"] == 3
    arrays = res["arrays"]
    assert arrays["epsilon"].shape == arrays["emb_epsilon"].shape == (n,)
    for key in ("unlearned_phi", "retrained_phi", "unlearned_cos", "retrained_cos"):
        assert arrays[key].shape == (n, 3), key
    assert np.all((arrays["epsilon"] >= 0) & (arrays["epsilon"] <= 50))
    assert np.all(np.abs(arrays["unlearned_cos"]) <= 1 + 1e-9)
    # different seeds ⇒ different finetuned models
    assert not np.array_equal(arrays["unlearned_phi"][:, 0], arrays["unlearned_phi"][:, 1])
    json.dumps({k: v for k, v in res.items() if k != "arrays"})  # JSON-friendly scalars


def test_deterministic_method_gets_epsilon_50(neurips_pair, small, cache):
    res = _neurips(small, "original", None, cache)
    assert res["pool_trainings"] == 0  # the retrain pool is shared with the finetune run
    assert res["unlearning_runs"] == 3
    np.testing.assert_array_equal(res["arrays"]["epsilon"], 50.0)
    np.testing.assert_array_equal(res["arrays"]["emb_epsilon"], 50.0)
    assert res["forgetting_quality"] == 0.0 and res["frac_capped"] == 1.0
    np.testing.assert_array_equal(  # N identical models
        res["arrays"]["unlearned_phi"], np.repeat(res["arrays"]["unlearned_phi"][:, :1], 3, 1)
    )


def test_retrain_as_method_uses_disjoint_retrain_pool_models(neurips_pair, small, cache):
    res = _neurips(small, "retrain", None, cache)
    assert res["pool_trainings"] == 3 and res["unlearning_runs"] == 0  # models 3..5
    first, _ = neurips_pair
    np.testing.assert_array_equal(res["arrays"]["retrained_phi"], first["arrays"]["retrained_phi"])
    assert not np.array_equal(res["arrays"]["unlearned_phi"], res["arrays"]["retrained_phi"])


def test_ulira_end_to_end(small, cache):
    split, data = small
    res = run_ulira(
        "original", None, data, split, TINY_MODEL, RECIPE, 6, CPU, cache_dir=cache,
        show_progress=False,
    )  # fmt: skip
    n = len(data.forget)
    assert (res["K"], res["K_in"], res["K_out"]) == (6, 3, 3)
    assert res["pool_trainings"] == 6 and res["global_variance"] is True
    assert res["n_members"] == res["n_nonmembers"] == 3 * n  # pooled leave-one-out
    assert res["target_n_members"] == res["target_n_nonmembers"] == n
    for key in ("auc", "balanced_accuracy", "tpr_at_1pct_fpr", "tpr_at_0_1pct_fpr", "emb_auc"):
        assert 0 <= res[key] <= 1, key
    arrays = res["arrays"]
    assert arrays["loo_member_scores"].shape == arrays["emb_loo_nonmember_scores"].shape == (n, 3)
    assert arrays["per_example_auc"].shape == (n,)
    # with 'original' nothing is unlearned: the H_in samples are the shadow in-models as trained
    assert arrays["unlearned_stats"].shape == arrays["out_stats"].shape == (n, 3)
    summary = attack_summary(
        arrays["loo_member_scores"].ravel(), arrays["loo_nonmember_scores"].ravel()
    )
    assert summary["auc"] == res["auc"]
    assert 0 < res["auc_p_value"] <= 1 and 0 <= res["emb_auc_null_q95"] <= 1
    assert res["n_perm"] == 200
    with pytest.raises(ConfigError, match="K ≥ 6"):
        run_ulira("original", None, data, split, TINY_MODEL, RECIPE, 4, CPU, cache_dir=cache)
    with pytest.raises(ConfigError, match="N ≥ 3"):
        _neurips(small, "original", None, cache, n=2)


def test_leave_one_out_scores_each_model_against_the_others():
    rng = np.random.default_rng(0)
    u = rng.normal(2.0, 1.0, (5, 4))
    o = rng.normal(0.0, 1.0, (5, 3))
    mem, non = _loo_ulira(u, o, online=True, global_variance=True)
    np.testing.assert_allclose(
        mem[:, 2], ulira_scores(u[:, 2], u[:, [0, 1, 3]], o, global_variance=True)
    )
    np.testing.assert_allclose(
        non[:, 0], ulira_scores(o[:, 0], u, o[:, [1, 2]], global_variance=True)
    )
    far_mem, far_non = _loo_ulira(u + 50, o, online=True, global_variance=True)
    assert attack_summary(far_mem.ravel(), far_non.ravel())["auc"] == 1.0


def test_per_example_auc_matches_sklearn():
    rng = np.random.default_rng(1)
    m = rng.normal(size=(4, 5))
    o = np.round(rng.normal(size=(4, 6)), 1)
    m[0, :2] = o[0, :2]  # ties count one half
    got = per_example_auc(m, o)
    for i in range(4):
        want = roc_auc_score(np.r_[np.ones(5), np.zeros(6)], np.r_[m[i], o[i]])
        assert got[i] == pytest.approx(want)


def test_permutation_null_of_the_pooled_auc():
    rng = np.random.default_rng(2)
    mem = rng.normal(0.5, 1.0, (20, 8))
    non = np.round(rng.normal(0.0, 1.0, (20, 8)), 1)
    point = roc_auc_score(np.r_[np.ones(160), np.zeros(160)], np.r_[mem.ravel(), non.ravel()])
    assert _auc_ranks(mem.ravel(), non.ravel()) == pytest.approx(point)
    null = permutation_null_auc(mem, non, n_perm=40)
    np.testing.assert_array_equal(null, permutation_null_auc(mem, non, n_perm=40))  # seeded
    assert null.shape == (40,) and abs(null.mean() - 0.5) < 0.1
    far = permutation_null_auc(mem + 50, non, n_perm=40)  # relabelled: mostly mixed groups
    assert np.quantile(far, 0.95) < 1.0
    same = np.repeat(mem[:, :1], 8, axis=1)  # identical models: every relabelling ties
    np.testing.assert_array_equal(permutation_null_auc(same, same, n_perm=5), 0.5)


def test_cosine_to_class_prototype_by_hand():
    emb = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, 0.0]])
    lab = np.array([0, 0, 1, 1])
    protos, present = class_prototypes(emb, lab, 3)
    np.testing.assert_allclose(protos, [[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    np.testing.assert_array_equal(present, [True, True, False])
    x = np.array([[1.0, 1.0], [2.0, 0.0], [5.0, 5.0]])
    np.testing.assert_allclose(
        cosine_to_prototype(x, np.array([0, 1, 2]), protos), [np.sqrt(0.5), 0.0, 0.0]
    )


# -- CLI ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["attack", "neurips", "--method", "nope"], "unknown method 'nope'"),
        (["attack", "ulira", "--method", "finetune", "--k", "1"], "--k ≥ 6"),
        (["attack", "neurips", "--method", "finetune", "--n", "2"], "--n ≥ 3"),
        (["attack", "ulira", "--method", "sure", "--retain-fraction", "0"], "retain-fraction"),
    ],
)
def test_cli_bad_input_is_one_clear_error(argv, message, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path / "out"), "--cache-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # fails before any work


def test_cli_writes_json_and_npz(neurips_pair, cache, tmp_path, capsys):
    out = tmp_path / "out"
    argv = [
        "attack", "neurips", "--method", "original", "original", "--n", "3",
        "--train-size", "300", "--forget-classes", "3", "--model", "cnn", "--model-width", "8",
        "--model-embed-dim", "32", "--epochs", "1", "--lr", "0.1", "--device", "cpu",
        "--cache-dir", str(cache), "--out", str(out), "--quiet",
    ]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "original" in printed and "score" in printed
    payload = json.loads((out / "neurips.json").read_text())
    assert payload["N"] == 3 and list(payload["results"]) == ["original"]
    assert payload["results"]["original"]["pool_trainings"] == 0  # same recipe: pool reused
    with np.load(out / "neurips_scores.npz") as z:
        np.testing.assert_array_equal(z["original__epsilon"], 50.0)
    assert (out / "split.json").is_file()
