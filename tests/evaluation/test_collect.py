"""collect_outputs: one streamed pass per part, consistent with model(x), mode restored."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from unlearnkit.data.batching import TensorSet, UnlearningData
from unlearnkit.evaluation.checks import EvaluationError
from unlearnkit.evaluation.collect import (
    ModelOutputs,
    PartOutputs,
    collect_outputs,
    retain_rows,
)
from unlearnkit.models import FeatureClassifier, ModelConfig, build_model

torch.set_num_threads(1)

SHAPE = (1, 8, 8)
K = 3


def _set(n: int, offset: int, seed: int) -> TensorSet:
    g = torch.Generator().manual_seed(seed)
    return TensorSet(
        torch.randn((n, *SHAPE), generator=g),
        torch.randint(0, K, (n,), generator=g),
        np.arange(offset, offset + n),
    )


def _data(n_forget: int = 11) -> UnlearningData:
    return UnlearningData(
        retain=_set(40, 0, 0),
        forget=_set(n_forget, 100, 1),
        val=_set(13, 200, 2),
        val_domain=_set(5, 300, 3),
        test=_set(17, 400, 4),
        num_classes=K,
        input_shape=SHAPE,
    )


def _model() -> FeatureClassifier:
    torch.manual_seed(0)
    return build_model(ModelConfig(name="cnn", width=4, embed_dim=8), SHAPE, K)


def _warm_bn(model: FeatureClassifier, data: UnlearningData) -> None:
    """Move BatchNorm running stats away from their init so train/eval outputs differ."""
    model.train()
    with torch.no_grad():
        model(data.retain.x)


def test_outputs_match_direct_forward() -> None:
    data, model = _data(), _model()
    _warm_bn(model, data)
    model.eval()
    out = collect_outputs(model, data, "cpu", batch_size=7, parts=("retain", "forget", "test"))
    assert set(out.parts) == {"retain", "forget", "test"}
    for part in ("retain", "forget", "test"):
        ts: TensorSet = getattr(data, part)
        with torch.no_grad():
            z = model.features(ts.x)
            logits = model(ts.x)
        p = out[part]
        assert p.logits.dtype == np.float32 and p.embeddings.dtype == np.float32
        assert p.labels.dtype == np.int64
        np.testing.assert_allclose(p.logits, logits.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(p.embeddings, z.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(p.labels, ts.y.numpy())
        np.testing.assert_array_equal(p.indices, ts.indices)
        assert len(p) == len(ts)


def test_derived_arrays() -> None:
    data, model = _data(), _model()
    p = collect_outputs(model, data, "cpu", parts=("forget",))["forget"]
    logits = torch.from_numpy(p.logits.astype(np.float64))
    labels = torch.from_numpy(p.labels)
    np.testing.assert_allclose(p.probs, torch.softmax(logits, 1).numpy(), rtol=1e-12)
    np.testing.assert_allclose(
        p.losses, F.cross_entropy(logits, labels, reduction="none").numpy(), rtol=1e-10
    )
    np.testing.assert_array_equal(p.correct, logits.argmax(1).numpy() == p.labels)


@pytest.mark.parametrize("training", [True, False])
def test_mode_restored_and_eval_mode_used(training: bool) -> None:
    data, model = _data(), _model()
    _warm_bn(model, data)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    model.train(training)
    out = collect_outputs(model, data, "cpu", parts=("forget",))
    assert model.training is training
    assert all(m.training is training for m in model.modules())
    for k, v in model.state_dict().items():  # eval mode: BatchNorm running stats untouched
        assert torch.equal(v, state[k]), k
    model.eval()
    with torch.no_grad():
        expected = model(data.forget.x).numpy()
    np.testing.assert_allclose(out["forget"].logits, expected, rtol=1e-5, atol=1e-6)
    assert torch.is_grad_enabled()


class _CountingModel(FeatureClassifier):
    def __init__(self, inner: FeatureClassifier) -> None:
        super().__init__()
        self.inner = inner
        self.calls = {"features": 0, "head": 0, "forward": 0}

    def features(self, x: torch.Tensor) -> torch.Tensor:
        self.calls["features"] += 1
        return self.inner.features(x)

    def head(self, z: torch.Tensor) -> torch.Tensor:
        self.calls["head"] += 1
        return self.inner.head(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls["forward"] += 1
        return self.inner(x)


def test_features_computed_once_per_batch() -> None:
    data = _data()
    model = _CountingModel(_model())
    collect_outputs(model, data, "cpu", batch_size=5, parts=("retain", "forget"))
    n_batches = -(-len(data.retain) // 5) + -(-len(data.forget) // 5)
    assert model.calls == {"features": n_batches, "head": n_batches, "forward": 0}


class _NaNHead(FeatureClassifier):
    def __init__(self, inner: FeatureClassifier) -> None:
        super().__init__()
        self.inner = inner

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner.features(x)

    def head(self, z: torch.Tensor) -> torch.Tensor:
        out = self.inner.head(z)
        out[0, 0] = float("nan")
        return out


def test_nan_outputs_raise_naming_model_and_part() -> None:
    with pytest.raises(EvaluationError, match=r"model 'sure', part 'forget'.*NaN"):
        collect_outputs(_NaNHead(_model()), _data(), "cpu", parts=("forget",), name="sure")


def test_max_retain_uses_fixed_seeded_rows() -> None:
    data, model = _data(), _model()
    a = collect_outputs(model, data, "cpu", max_retain=10, seed=3, parts=("retain",))
    b = collect_outputs(model, data, "cpu", max_retain=10, seed=3, parts=("retain",))
    rows = retain_rows(len(data.retain), 10, seed=3)
    assert a.subsampled == {"retain": (10, 40)}
    assert rows.size == 10 and np.all(np.diff(rows) > 0)
    np.testing.assert_array_equal(a["retain"].indices, data.retain.indices[rows])
    np.testing.assert_array_equal(a["retain"].indices, b["retain"].indices)
    full = collect_outputs(model, data, "cpu", parts=("retain",))
    assert full.subsampled == {}
    np.testing.assert_allclose(a["retain"].logits, full["retain"].logits[rows], rtol=1e-6)
    np.testing.assert_array_equal(retain_rows(40, None), np.arange(40))


def test_bad_inputs_give_clear_errors() -> None:
    model = _model()
    with pytest.raises(EvaluationError, match="forget set is empty"):
        collect_outputs(model, _data(n_forget=0), "cpu")
    with pytest.raises(EvaluationError, match="unknown part"):
        collect_outputs(model, _data(), "cpu", parts=("train",))
    with pytest.raises(EvaluationError, match="one row per example"):
        PartOutputs(np.zeros((3, 2)), np.zeros(4, np.int64), np.zeros((3, 5)))
    with pytest.raises(EvaluationError, match=r"\(n, k\)"):
        PartOutputs(np.zeros(3), np.zeros(3, np.int64), np.zeros((3, 5)))
    out = ModelOutputs(parts={})
    with pytest.raises(EvaluationError, match="lack part 'test'"):
        out["test"]
    bad = _data()
    bad.forget.y[0] = K  # label outside the model's logits
    with pytest.raises(EvaluationError, match="labels must lie in"):
        collect_outputs(model, bad, "cpu", parts=("forget",))
