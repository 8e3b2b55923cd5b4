"""Layer-wise evaluation: hooks record exactly ``features_at`` and change nothing, CKA per layer
against hand computations, the per-layer probe and attack agree with the suite's penultimate
ones, unknown layers list the valid ones, and the suite's rows carry every layer."""

from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from unlearnkit.data.batching import UnlearningData, unlearning_data
from unlearnkit.data.splits import SplitConfig, make_split
from unlearnkit.errors import ConfigError
from unlearnkit.evaluation import (
    LAYER_METRICS,
    EvalConfig,
    EvaluationError,
    LayerRecorder,
    collect_for_eval,
    collect_outputs,
    depth_profile,
    evaluate_models,
    evaluate_outputs,
    layer_key,
    layer_order,
    layerwise_metrics,
    parse_layer_key,
    resolve_layers,
)
from unlearnkit.models import FeatureClassifier, ModelConfig, build_model
from unlearnkit.training import TrainConfig, train_fresh

torch.set_num_threads(1)
CPU = torch.device("cpu")
FAST = EvalConfig(attackers=("logreg",), mia=False, transfer=False, n_folds=3, layerwise=True)


def _cka_by_hand(x: np.ndarray, y: np.ndarray) -> float:
    """Kornblith et al. 2019 through HSIC with the centring matrix H = I − 11ᵀ/n:
    CKA = tr(KHLH) / sqrt(tr(KHKH) · tr(LHLH)), K = XXᵀ, L = YYᵀ."""
    n = x.shape[0]
    h = np.eye(n) - np.ones((n, n)) / n
    k, l_ = x @ x.T, y @ y.T
    hsic = lambda a, b: np.trace(a @ h @ b @ h)  # noqa: E731
    return float(hsic(k, l_) / np.sqrt(hsic(k, k) * hsic(l_, l_)))


def _train(data: UnlearningData, which: str, seed: int) -> FeatureClassifier:
    torch.manual_seed(seed)
    model, _ = train_fresh(
        ModelConfig(name="cnn", width=4, embed_dim=16),
        TrainConfig(epochs=2, seed=seed),
        data.train if which == "original" else data.retain,
        input_shape=data.input_shape,
        num_classes=10,
        device=CPU,
        show_progress=False,
    )
    return model.eval()


@pytest.fixture(scope="module")
def setup(digits: Any) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        split = make_split(
            digits,
            SplitConfig(
                dataset="digits", scenario="partial-class", forget_size=0.5, forget_classes=(3,)
            ),
        )
    data = unlearning_data(digits, split)
    return {
        "data": data,
        "original": _train(data, "original", 0),
        "retrain": _train(data, "retrain", 1),
    }


def test_hooks_record_features_at_and_change_nothing(setup: dict[str, Any]) -> None:
    model: FeatureClassifier = copy.deepcopy(setup["original"])
    x = setup["data"].forget.x[:37]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        ref_out = model(x)
    rec = LayerRecorder(model)
    keep = np.array([0, 3, 4, 36])
    with rec.record(keep) as acts, torch.no_grad():
        rec.select(keep)
        out = model(x)
    assert torch.equal(out, ref_out)  # the hooks do not change the outputs
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # nor weights / BN buffers
    assert all(not m._forward_hooks for m in model.modules())  # and are removed afterwards
    assert list(acts.acts) == model.layer_names()
    with torch.no_grad():
        for name in model.layer_names():
            direct = model.features_at(x[keep], name).numpy()
            np.testing.assert_allclose(acts.acts[name], direct, rtol=1e-5, atol=1e-6)


def test_hooks_are_removed_on_error(setup: dict[str, Any]) -> None:
    model = copy.deepcopy(setup["original"])
    rec = LayerRecorder(model, ["block2"])
    with pytest.raises(RuntimeError), rec.record(np.arange(2)):
        rec.select(np.arange(2))
        model(torch.zeros(2, 5))  # wrong input shape
    assert all(not m._forward_hooks for m in model.modules())


def test_collect_outputs_with_layers_matches_plain_collection(setup: dict[str, Any]) -> None:
    data, model = setup["data"], setup["original"]
    plain = collect_outputs(model, data, CPU, batch_size=50)
    hooked = collect_outputs(
        model, data, CPU, batch_size=50, layers=["block1", "fc"], layer_max_rows=60
    )
    for part in plain.parts:
        np.testing.assert_array_equal(plain[part].logits, hooked[part].logits)
        np.testing.assert_array_equal(plain[part].embeddings, hooked[part].embeddings)
    assert set(hooked.layers) == {"retain", "forget", "test"} and not plain.layers
    assert len(hooked.layers["retain"]) == 60  # capped, seeded
    assert len(hooked.layers["test"]) == len(data.test)  # all rows (negatives chosen later)
    forget = hooked.layers["forget"]
    assert len(forget) == min(60, len(data.forget))
    # the penultimate block's activations are the embeddings of the same rows
    np.testing.assert_allclose(
        forget.acts["fc"], hooked["forget"].embeddings[forget.rows], rtol=1e-6
    )
    # the batch boundaries do not matter
    again = collect_outputs(model, data, CPU, batch_size=7, layers=["block1"], layer_max_rows=60)
    np.testing.assert_allclose(
        again.layers["forget"].acts["block1"], forget.acts["block1"], rtol=1e-5, atol=1e-6
    )


def test_cka_per_layer_is_one_against_itself_and_matches_hand_computation(
    setup: dict[str, Any],
) -> None:
    data = setup["data"]
    a = collect_for_eval(setup["original"], data, CPU, FAST, "original")
    b = collect_for_eval(setup["retrain"], data, CPU, FAST, "retrain")
    kw: dict[str, Any] = {"scenario": "partial-class", "forget_classes": (3,), "n_folds": 3}
    self_row = layerwise_metrics(a, a, **kw)
    row = layerwise_metrics(a, b, **kw)
    layers = setup["original"].layer_names()
    for name in layers:
        assert self_row[layer_key(name, "cka_forget")] == pytest.approx(1.0, abs=1e-9)
        assert self_row[layer_key(name, "cka_test")] == pytest.approx(1.0, abs=1e-9)
        hand = _cka_by_hand(
            a.layers["forget"].acts[name].astype(np.float64),
            b.layers["forget"].acts[name].astype(np.float64),
        )
        assert row[layer_key(name, "cka_forget")] == pytest.approx(hand, rel=1e-6)
        assert 0.0 < row[layer_key(name, "cka_forget")] < 1.0
    # the test control is the same computation on retrain's matched test rows
    mask = np.isin(data.test.y.numpy(), [3])
    hand = _cka_by_hand(
        a.layers["test"].acts["block2"][mask].astype(np.float64),
        b.layers["test"].acts["block2"][mask].astype(np.float64),
    )
    assert row[layer_key("block2", "cka_test")] == pytest.approx(hand, rel=1e-6)
    # keys in depth order, every metric per layer
    assert [parse_layer_key(k) for k in row] == [
        (n, m) for n in layers for m in ("index", *LAYER_METRICS)
    ]
    assert [row[layer_key(n, "index")] for n in layers] == list(range(len(layers)))
    # the depth order survives sorted keys (results files sort them)
    assert layer_order([dict(sorted(row.items()))]) == layers


def test_penultimate_layer_agrees_with_the_suite(setup: dict[str, Any]) -> None:
    data = setup["data"]
    cfg = EvalConfig(
        attackers=("logreg",), mia=False, transfer=False, n_folds=3, layerwise=True,
        layers=("fc",), max_per_class=None, layer_max_rows=None,
    )  # fmt: skip
    ref = collect_for_eval(setup["retrain"], data, CPU, cfg, "retrain")
    out = collect_for_eval(setup["original"], data, CPU, cfg, "original")
    row = evaluate_outputs(
        out, scenario="partial-class", forget_classes=(3,), num_classes=10, reference=ref,
        config=cfg,
    )  # fmt: skip
    assert row["layer.fc.cka_forget"] == pytest.approx(row["cka_to_reference"], rel=1e-9)
    assert row["layer.fc.probe_forget_acc"] == pytest.approx(row["probe_forget_acc"])
    assert row["layer.fc.emb_logreg_auc"] == pytest.approx(row["emb_logreg_auc"], abs=1e-6)


def test_unknown_layer_lists_the_valid_ones(setup: dict[str, Any]) -> None:
    model = setup["original"]
    with pytest.raises(ConfigError, match=r"unknown layer 'block9'.*block1, block2, block3"):
        resolve_layers(model, ["block9"])
    with pytest.raises(ConfigError, match=r"body\.block1\.0"):  # module paths are listed too
        collect_outputs(model, setup["data"], CPU, layers=["nope"])
    with pytest.raises(ConfigError, match="unique"):
        resolve_layers(model, ["fc", "fc"])


def test_any_module_by_dotted_path() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 6), nn.ReLU(), nn.Linear(6, 3))
    assert [n for n, _ in resolve_layers(net)] == ["0", "1", "2", "3"]
    model = build_model(ModelConfig(name="cnn", width=4, embed_dim=8), (1, 8, 8), 3)
    names = [n for n, _ in resolve_layers(model, ["body.block1.0.1", "fc"])]
    assert names == ["body.block1.0.1", "fc"]
    rec = LayerRecorder(model, ["body.block1.0.1"])  # a BatchNorm inside block1: a feature map
    x = torch.randn(5, 1, 8, 8)
    model.eval()
    with rec.record(np.arange(5)) as acts, torch.no_grad():
        rec.select(np.arange(5))
        model(x)
    with torch.no_grad():  # outside the recorder: the hook would fire again
        bn = model.body.block1[0][1](model.body.block1[0][0](x)).mean(dim=(2, 3))
    np.testing.assert_allclose(acts.acts["body.block1.0.1"], bn.numpy(), rtol=1e-5, atol=1e-6)
    assert parse_layer_key(layer_key("body.block1.0.1", "cka_test")) == (
        "body.block1.0.1",
        "cka_test",
    )
    assert parse_layer_key("forget_acc") is None


def test_a_users_module_through_the_adapter() -> None:
    from collections import OrderedDict

    from unlearnkit.models import ModuleAdapter

    torch.manual_seed(0)
    net = nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(1, 4, 3, padding=1),
            act=nn.ReLU(),
            pool=nn.AdaptiveAvgPool2d(2),
            flat=nn.Flatten(),
            fc=nn.Linear(16, 3),
        )
    )
    model = ModuleAdapter(net, feature_layer="flat")
    assert [n for n, _ in resolve_layers(model)] == ["conv", "act", "pool", "flat"]  # not fc
    x = torch.randn(6, 1, 8, 8)
    rec = LayerRecorder(model)
    with rec.record(np.arange(6)) as acts, torch.no_grad():
        rec.select(np.arange(6))
        z = model.features(x)
    with torch.no_grad():
        for name in ("conv", "pool", "flat"):
            direct = model.features_at(x, name).numpy()
            np.testing.assert_allclose(acts.acts[name], direct, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(acts.acts["flat"], z.numpy(), rtol=1e-6)
    with pytest.raises(ConfigError, match=r"unknown layer 'block1'.*conv, act, pool, flat"):
        resolve_layers(model, ["block1"])


def test_suite_rows_carry_every_layer_and_retrain_is_its_own_reference(
    setup: dict[str, Any],
) -> None:
    models = {"original": setup["original"], "retrain": setup["retrain"]}
    res = evaluate_models(models, setup["data"], device=CPU, config=FAST, show_progress=False)
    layers = setup["original"].layer_names()
    for name in layers:
        assert res.rows["retrain"][layer_key(name, "cka_forget")] == pytest.approx(1.0)
    names, values = depth_profile(res.rows, "cka_forget")
    assert names == layers
    assert values["retrain"] == pytest.approx([1.0] * len(layers))
    assert all(0 < v < 1 for v in values["original"])
    # off by default: no layer keys, no hooks
    plain = evaluate_models(
        models, setup["data"], device=CPU, config=EvalConfig(attackers=("logreg",), mia=False),
        show_progress=False,
    )  # fmt: skip
    assert not any(parse_layer_key(k) for k in plain.rows["original"])
    with pytest.raises(EvaluationError, match="unknown layer metric"):
        depth_profile(res.rows, "cka")


def test_layerwise_needs_recorded_layers_and_matching_reference(setup: dict[str, Any]) -> None:
    data = setup["data"]
    plain = collect_outputs(setup["original"], data, CPU)
    with pytest.raises(EvaluationError, match="no recorded layer activations"):
        layerwise_metrics(plain, None, scenario="random")
    a = collect_outputs(setup["original"], data, CPU, layers=["fc"])
    b = collect_outputs(setup["retrain"], data, CPU, layers=["block1"])
    with pytest.raises(EvaluationError, match="same forget examples at the same layers"):
        layerwise_metrics(a, b, scenario="random")
    row = evaluate_outputs(plain, scenario="random", forget_classes=(), num_classes=10, config=FAST)
    assert not any(parse_layer_key(k) for k in row)
    with pytest.raises(ConfigError, match="layer_max_rows"):
        EvalConfig(layer_max_rows=1)
