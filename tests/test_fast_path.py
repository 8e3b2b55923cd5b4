"""The fast path (docs/gpu.md): off by default and bit-identical on CPU; its pieces checked on CPU;
a CUDA test where CUDA exists."""

from __future__ import annotations

import copy
import hashlib
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.conftest import CPU, TINY_MODEL
from unlearnkit.data.batching import CyclingSampler, TensorSet, batch_indices, resident
from unlearnkit.errors import ConfigError, DivergenceError
from unlearnkit.evaluation import collect
from unlearnkit.evaluation.collect import collect_outputs
from unlearnkit.methods.base import LoopConfig, MethodContext, UnlearningMethod
from unlearnkit.pipeline import model_cache_key
from unlearnkit.training import TrainConfig, accuracy, new_model, train_fresh, train_model
from unlearnkit.utils import FiniteCheck

CUDA = torch.cuda.is_available()

#: fingerprints of the default CPU path, recorded on main before the fast path existed (torch
#: 2.13.0 CPU build, AVX512, one thread). CPU kernels differ between ISAs and thread counts, so
#: the check runs only where all three match; elsewhere, re-record with ``_fingerprint``.
REFERENCE = {
    "platform": ("2.13.0", "AVX512", 1),
    "train_augFalse": ["b488812a2eb49d74", "4ac8ac2198203635"],
    "train_augTrue": ["538c4fbe6c0df3f0", "dfdfb816e650861d"],
    "unlearn": ["7996a06d052a5ab0", "ae1975e1afb195f4"],
    "collect": "f93831d747edfb41",
    "acc": 0.3231197771587744,
}


class _Contrast(UnlearningMethod):
    """A test-local method on the shared loop (retain CE minus 0.1 × forget CE), independent of
    the shipped methods so that their changes do not move the reference."""

    name = "fast_path_contrast"
    cycled = ("forget",)

    def loss(self, model, batch):
        (x, y), (xf, yf) = batch["retain"], batch["forget"]
        ce = F.cross_entropy(model(x), y) - 0.1 * F.cross_entropy(model(xf), yf)
        return ce, {"ce": float(ce.detach())}


def _weights_hash(model: torch.nn.Module) -> str:
    d = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        d.update(k.encode())
        d.update(v.detach().cpu().contiguous().numpy().tobytes())
    return d.hexdigest()[:16]


def _json_hash(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def _train(data, recipe: TrainConfig, device=CPU, train=None):
    return train_fresh(
        TINY_MODEL,
        recipe,
        data.train if train is None else train,
        input_shape=data.input_shape,
        num_classes=10,
        device=device,
        eval_sets={"test": data.test},
        show_progress=False,
    )


def _fingerprint(data) -> dict[str, object]:
    out: dict[str, object] = {}
    for aug in (False, True):
        recipe = TrainConfig(epochs=2, batch_size=64, lr=0.1, augment=aug)
        model, res = _train(data, recipe)
        out[f"train_aug{aug}"] = [_weights_hash(model), _json_hash(res.history)]
    context = MethodContext(TINY_MODEL, recipe, original=None, show_progress=False)
    oc = _Contrast(LoopConfig(epochs=2, lr=0.01)).unlearn(model, data, device=CPU, context=context)
    out["unlearn"] = [_weights_hash(oc.model), _json_hash(oc.history)]
    o = collect_outputs(oc.model, data, "cpu", batch_size=100)
    parts = ("retain", "forget", "val", "test")
    blob = b"".join(o[p].logits.tobytes() + o[p].embeddings.tobytes() for p in parts)
    out["collect"] = hashlib.sha256(blob).hexdigest()[:16]
    out["acc"] = accuracy(oc.model, data.test, CPU)
    return out


@pytest.mark.skipif(
    (torch.__version__.split("+")[0], torch.backends.cpu.get_cpu_capability())
    != REFERENCE["platform"][:2],
    reason="the reference fingerprints were recorded with torch 2.13.0 on an AVX512 CPU",
)
def test_default_cpu_path_bit_identical_to_before_the_fast_path(tiny_data):
    if torch.get_num_threads() != 1:
        pytest.skip("the reference fingerprints were recorded with one thread")
    got = _fingerprint(tiny_data)
    assert got == {k: v for k, v in REFERENCE.items() if k != "platform"}


def test_fast_path_options_keep_keys_and_validate():
    default = TrainConfig()
    assert list(default.to_dict()) == [
        "epochs", "batch_size", "lr", "momentum", "weight_decay", "schedule",
        "step_milestones", "step_gamma", "warmup_epochs", "augment", "seed",
    ]  # fmt: skip
    fast = TrainConfig(amp="bf16", channels_last=True, check_every=25)
    assert fast.to_dict()["amp"] == "bf16" and fast.to_dict()["check_every"] == 25
    assert "compile" not in fast.to_dict()
    assert TrainConfig.from_dict(fast.to_dict()) == fast
    assert fast.replace(seed=3).check_every == 25

    class _S:  # the key reads only the split's hash
        sha256 = "abc"

    key = model_cache_key("original", _S(), TINY_MODEL, default)  # type: ignore[arg-type]
    assert key != model_cache_key("original", _S(), TINY_MODEL, fast)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="'check_every' must be >= 1, got 0"):
        TrainConfig(check_every=0)
    with pytest.raises(ConfigError, match="must be one of"):
        TrainConfig(amp="fp16")


def test_batch_indices_on_a_device_equal_host_order_and_draws():
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    host = list(batch_indices(23, 4, generator=g1))
    dev = list(batch_indices(23, 4, generator=g2, device=CPU))
    assert all(torch.equal(a, b) for a, b in zip(host, dev, strict=True))
    assert torch.equal(torch.rand(3, generator=g1), torch.rand(3, generator=g2))
    assert resident(ts := TensorSet(torch.zeros(3, 1), torch.zeros(3), np.arange(3)), CPU) is ts


def test_finite_check_defers_at_most_k_steps():
    check = FiniteCheck(5, "loss", "hint!")
    good, bad = torch.tensor(1.0), torch.tensor(float("nan"))
    for _ in range(6):
        check(good)
    check(bad)  # call 7: recorded, not yet read
    check(good)
    check(good)
    with pytest.raises(
        DivergenceError, match=r"loss became NaN or infinite between steps 6 and 10"
    ):
        check(good)  # call 10 closes the window 6..10
    check(bad)  # the flag was reset; an epoch-end flush reads it
    with pytest.raises(DivergenceError, match=r"between steps 11 and 11.*hint!"):
        check.flush()
    check.flush()  # nothing pending: no error
    with pytest.raises(DivergenceError, match=r"loss became nan: training diverged"):
        FiniteCheck(1, "loss")(bad)  # every = 1: the immediate check and its message
    with pytest.raises(ConfigError, match=">= 1 step"):
        FiniteCheck(0, "loss")


def test_deferred_check_changes_nothing_but_when_it_reads(tiny_data):
    base = TrainConfig(epochs=2, batch_size=64, lr=0.1)
    (m1, r1), (m7, r7) = (_train(tiny_data, base.replace(check_every=k)) for k in (1, 7))
    assert _weights_hash(m1) == _weights_hash(m7) and r1.history == r7.history
    assert r1.examples == 2 * len(tiny_data.train) and len(r1.epoch_times) == 2
    context = {
        k: MethodContext(TINY_MODEL, base.replace(check_every=k), None, show_progress=False)
        for k in (1, 5)
    }
    outs = [
        _Contrast(LoopConfig(epochs=2, lr=0.01)).unlearn(
            _train(tiny_data, base)[0], tiny_data, device=CPU, context=context[k]
        )
        for k in (1, 5)
    ]
    assert _weights_hash(outs[0].model) == _weights_hash(outs[1].model)
    assert outs[0].history == outs[1].history


def _diverging_steps(tiny_data, check_every: int) -> int:
    """Forward passes done when a recipe with an absurd lr raises DivergenceError."""
    recipe = TrainConfig(epochs=3, batch_size=16, lr=1e6, check_every=check_every)

    model = new_model(TINY_MODEL, tiny_data.input_shape, 10, recipe.seed)
    calls = [0]
    model.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    with pytest.raises(DivergenceError, match="training loss"):
        train_model(model, tiny_data.train, recipe, device=CPU, show_progress=False)
    return calls[0]


def test_deferred_check_raises_within_k_steps_of_the_divergence(tiny_data):
    first = _diverging_steps(tiny_data, 1)
    for k in (4, 9):
        assert first <= _diverging_steps(tiny_data, k) <= first + k - 1


class _NanAt(_Contrast):
    name = "fast_path_nan"

    def loss(self, model, batch):
        self.calls = getattr(self, "calls", 0) + 1
        loss, parts = super().loss(model, batch)
        return (loss * float("nan") if self.calls == 3 else loss), parts


def test_unlearn_loop_deferred_check_raises(tiny_data, tiny_original):
    recipe = TrainConfig(check_every=4)
    context = MethodContext(TINY_MODEL, recipe, None, show_progress=False)
    method = _NanAt(LoopConfig(epochs=1, lr=0.01))
    with pytest.raises(DivergenceError, match=r"fast_path_nan loss became NaN .* steps 1 and 4"):
        method.unlearn(copy.deepcopy(tiny_original), tiny_data, device=CPU, context=context)
    assert method.calls == 4  # the bad loss of step 3 was read at step 4, not later


def test_bf16_autocast_and_channels_last_run_on_cpu(tiny_data, tmp_path):
    base = TrainConfig(epochs=2, batch_size=64, lr=0.1)
    ref, _ = _train(tiny_data, base)
    fast, res = _train(tiny_data, base.replace(amp="bf16", channels_last=True))
    assert np.isfinite([r["loss"] for r in res.history]).all()
    state = fast.state_dict()
    assert all(v.dtype != torch.bfloat16 for v in state.values())  # weights stay fp32
    assert all(v.is_contiguous() for v in state.values())  # standard format again
    assert _weights_hash(fast) != _weights_hash(ref)  # bf16 really ran
    assert accuracy(fast, tiny_data.test, CPU) > 0.5  # and still learns (fp32: > 0.8 in 8 ep.)
    context = MethodContext(TINY_MODEL, base.replace(amp="bf16", channels_last=True), None, False)
    oc = _Contrast(LoopConfig(epochs=1, lr=0.01)).unlearn(
        fast, tiny_data, device=CPU, context=context
    )
    assert all(v.is_contiguous() for v in oc.model.state_dict().values())
    assert np.isfinite(oc.history[-1]["loss"])


def test_collect_outputs_chunked_copy_is_exact(tiny_data, tiny_original, monkeypatch):
    whole = collect_outputs(tiny_original, tiny_data, CPU, batch_size=50)
    monkeypatch.setattr(collect, "FLUSH_BYTES", 1)  # one copy per batch
    per_batch = collect_outputs(tiny_original, tiny_data, CPU, batch_size=50)
    for part in whole.parts:
        assert np.array_equal(whole[part].logits, per_batch[part].logits)
        assert np.array_equal(whole[part].embeddings, per_batch[part].embeddings)


@pytest.mark.skipif(not CUDA, reason="needs CUDA")
def test_cuda_fast_path(tiny_data, tiny_original):
    cuda = torch.device("cuda")
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    host = tiny_data.train
    dev = TensorSet(host.x.to(cuda), host.y.to(cuda), host.indices)
    for (xh, yh), (xd, yd) in zip(
        host.batches(32, generator=g1), dev.batches(32, generator=g2), strict=True
    ):  # device-resident indexing = host indexing
        assert xd.device.type == "cuda" and torch.equal(xh, xd.cpu()) and torch.equal(yh, yd.cpu())
    sampler = CyclingSampler(dev, 16, torch.Generator().manual_seed(0))
    assert sampler.next()[0].device.type == "cuda"
    fast = TrainConfig(epochs=3, batch_size=64, lr=0.1, amp="bf16", channels_last=True,
                       check_every=10)  # fmt: skip
    model, res = _train(tiny_data, fast, device=cuda)
    assert np.isfinite([r["loss"] for r in res.history]).all()
    assert res.history[-1]["test_acc"] > 0.5
    compiled, _ = _train(tiny_data, fast.replace(compile=True, epochs=1), device=cuda)
    assert next(compiled.parameters()).device.type == "cuda"
    context = MethodContext(TINY_MODEL, fast, None, show_progress=False)
    oc = _Contrast(LoopConfig(epochs=1, lr=0.01)).unlearn(
        model, tiny_data, device=cuda, context=context
    )
    assert np.isfinite(oc.history[-1]["loss"])
    on_gpu = collect_outputs(oc.model, tiny_data, cuda)
    on_cpu = collect_outputs(oc.model.to(CPU), tiny_data, CPU)
    for part in on_cpu.parts:  # fp32 evaluation: the devices agree to float rounding
        np.testing.assert_allclose(on_gpu[part].logits, on_cpu[part].logits, atol=1e-3, rtol=1e-3)
