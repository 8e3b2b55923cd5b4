"""Collect a model's outputs once: logits, labels and penultimate embeddings of every split part.

Every metric and attack of the suite reads these arrays; nothing re-runs the model. One batched
pass per part, under :func:`unlearnkit.utils.eval_mode` (``no_grad``, eval mode, previous mode
restored), on any device. The embedding is ``model.features(x)`` and the logits are
``model.head(z)`` of the *same* pass (features are computed once), so the two always agree with
``model(x)``. Outputs stay on the device and are copied to CPU ``float32`` NumPy arrays
preallocated for the part in chunks of at most :data:`FLUSH_BYTES` (one host synchronisation per
chunk instead of one per batch), so device memory stays bounded whatever the size of the part.
On a non-CPU device each part is moved there once before its batches are taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch

from unlearnkit.data.batching import TensorSet, UnlearningData, resident
from unlearnkit.evaluation.checks import EvaluationError
from unlearnkit.evaluation.layer_hooks import LayerActivations, LayerRecorder
from unlearnkit.evaluation.output_attacks import per_example_loss, softmax
from unlearnkit.models import FeatureClassifier
from unlearnkit.utils import eval_mode

__all__ = ["LAYER_PARTS", "PARTS", "ModelOutputs", "PartOutputs", "collect_outputs", "retain_rows"]

#: Split parts :func:`collect_outputs` can collect (attributes of ``UnlearningData``).
PARTS: tuple[str, ...] = ("retain", "forget", "val", "val_domain", "test")
#: outputs (logits + embeddings, float32) buffered on the device before one copy to the host
FLUSH_BYTES = 256 * 2**20

#: Parts whose intermediate representations ``collect_outputs(..., layers=...)`` records:
#: retain (probe training), forget and test (CKA, probe and attack evaluation).
LAYER_PARTS: tuple[str, ...] = ("retain", "forget", "test")


@dataclass
class PartOutputs:
    """Outputs of one model on one split part.

    ``logits`` ``(n, k)`` float32, ``labels`` ``(n,)`` int64, ``embeddings`` ``(n, d)`` float32;
    ``indices`` are the examples' positions in the dataset pool (for joining across models).
    Derived arrays (``probs``, ``losses``, ``correct``) are computed in float64 on first use and
    cached.
    """

    logits: np.ndarray
    labels: np.ndarray
    embeddings: np.ndarray
    indices: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.logits = np.asarray(self.logits, dtype=np.float32)
        self.labels = np.asarray(self.labels, dtype=np.int64)
        self.embeddings = np.asarray(self.embeddings, dtype=np.float32)
        if self.logits.ndim != 2 or self.embeddings.ndim != 2 or self.labels.ndim != 1:
            raise EvaluationError(
                "PartOutputs expects logits (n, k), labels (n,) and embeddings (n, d); got "
                f"shapes {self.logits.shape}, {self.labels.shape}, {self.embeddings.shape}"
            )
        n = {self.logits.shape[0], self.labels.shape[0], self.embeddings.shape[0]}
        if self.indices is not None:
            self.indices = np.asarray(self.indices, dtype=np.int64)
            n.add(self.indices.shape[0])
        if len(n) != 1:
            raise EvaluationError(
                "PartOutputs needs one row per example in logits, labels, embeddings (and "
                f"indices), got lengths {self.logits.shape[0]}, {self.labels.shape[0]}, "
                f"{self.embeddings.shape[0]}"
                + ("" if self.indices is None else f", {self.indices.shape[0]}")
            )

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_classes(self) -> int:
        return int(self.logits.shape[1])

    @cached_property
    def probs(self) -> np.ndarray:
        """Softmax probabilities ``(n, k)``, float64."""
        return softmax(self.logits)

    @cached_property
    def losses(self) -> np.ndarray:
        """Per-example cross-entropy ``(n,)``, float64."""
        return per_example_loss(self.logits, self.labels)

    @cached_property
    def correct(self) -> np.ndarray:
        """Whether ``argmax logits == label``, ``(n,)`` bool."""
        return np.argmax(self.logits, axis=1) == self.labels

    def subset(self, rows: np.ndarray) -> PartOutputs:
        """The outputs of the given rows (a boolean mask or integer positions)."""
        return PartOutputs(
            self.logits[rows],
            self.labels[rows],
            self.embeddings[rows],
            None if self.indices is None else self.indices[rows],
        )


@dataclass
class ModelOutputs:
    """A model's :class:`PartOutputs` per split part (``retain``, ``forget``, ``val``,
    ``val_domain``, ``test``).

    ``subsampled`` records parts evaluated on a fixed subsample: ``{part: (rows used, rows in
    the part)}`` (e.g. ``{"retain": (10000, 45000)}`` with ``max_retain=10000``). ``layers``
    holds the intermediate representations recorded in the same pass (``collect_outputs(...,
    layers=[...])``): ``{part: LayerActivations}`` for the parts in :data:`LAYER_PARTS`.
    """

    parts: dict[str, PartOutputs]
    subsampled: dict[str, tuple[int, int]] = field(default_factory=dict)
    layers: dict[str, LayerActivations] = field(default_factory=dict)

    def __getitem__(self, part: str) -> PartOutputs:
        if part not in self.parts:
            have = ", ".join(self.parts) or "none"
            raise EvaluationError(
                f"the model outputs lack part '{part}' (collected: {have}); pass it in "
                f"collect_outputs(..., parts=...)"
            )
        return self.parts[part]

    def __contains__(self, part: object) -> bool:
        return part in self.parts


def retain_rows(n: int, max_retain: int | None, seed: int = 0) -> np.ndarray:
    """The fixed retain rows used when retain is capped at ``max_retain`` rows.

    All rows if ``max_retain`` is None or not smaller than ``n``; else a sorted, seeded sample
    without replacement (``np.random.default_rng(seed)``), the same for every model, so all
    models are evaluated on the same examples.
    """
    if max_retain is None or n <= max_retain:
        return np.arange(n)
    if max_retain < 1:
        raise EvaluationError(f"'max_retain' must be ≥ 1 (or None for all rows), got {max_retain}")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=int(max_retain), replace=False))


def _collect_part(
    model: FeatureClassifier,
    data: TensorSet,
    device: torch.device,
    batch_size: int,
    what: str,
    recorder: LayerRecorder | None = None,
    layer_rows: np.ndarray | None = None,
) -> PartOutputs:
    n = len(data)
    if device.type != "cpu":
        data = resident(data, device)
    logits: np.ndarray | None = None
    emb: np.ndarray | None = None
    pending: list[tuple[torch.Tensor, torch.Tensor]] = []
    done = buffered = 0
    for start in range(0, n, batch_size):
        xb = data.x[start : start + batch_size].to(device, non_blocking=True)
        if recorder is not None and layer_rows is not None:
            lo, hi = np.searchsorted(layer_rows, [start, start + xb.shape[0]])
            recorder.select(layer_rows[lo:hi] - start)
        z = model.features(xb)
        out = model.head(z)
        if z.ndim != 2 or out.ndim != 2:
            raise EvaluationError(
                f"{what}: model.features(x) must return (batch, d) embeddings and model.head(z) "
                f"(batch, classes) logits, got shapes {tuple(z.shape)} and {tuple(out.shape)}"
            )
        if logits is None or emb is None:  # allocate once the widths are known
            logits = np.empty((n, out.shape[1]), dtype=np.float32)
            emb = np.empty((n, z.shape[1]), dtype=np.float32)
        pending.append((out.detach().float(), z.detach().float()))
        buffered += 4 * xb.shape[0] * (out.shape[1] + z.shape[1])
        if buffered >= FLUSH_BYTES or start + batch_size >= n:  # one device→host copy
            rows = sum(o.shape[0] for o, _ in pending)
            logits[done : done + rows] = torch.cat([o for o, _ in pending]).cpu().numpy()
            emb[done : done + rows] = torch.cat([e for _, e in pending]).cpu().numpy()
            done, buffered, pending = done + rows, 0, []
    assert logits is not None and emb is not None
    for name, arr in (("logits", logits), ("embeddings", emb)):
        bad = ~np.isfinite(arr)
        if bad.any():
            rows = int(bad.any(axis=1).sum())
            raise EvaluationError(
                f"{what}: the model's {name} are NaN or infinite on {rows} of {n} examples: the "
                "model is broken (diverged unlearning?); fix or retrain it before evaluating"
            )
    labels = data.y.detach().cpu().numpy().astype(np.int64)
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise EvaluationError(
            f"{what}: labels must lie in [0, {logits.shape[1]}) to index the model's "
            f"{logits.shape[1]} logits, found {int(labels.min())}..{int(labels.max())}: does the "
            "model match the dataset?"
        )
    return PartOutputs(logits, labels, emb, np.asarray(data.indices, dtype=np.int64))


def collect_outputs(
    model: FeatureClassifier,
    data: UnlearningData,
    device: torch.device | str,
    *,
    batch_size: int = 1024,
    parts: Sequence[str] = ("retain", "forget", "val", "test"),
    max_retain: int | None = None,
    seed: int = 0,
    name: str = "model",
    layers: Sequence[str] = (),
    layer_max_rows: int | None = None,
) -> ModelOutputs:
    """Logits, labels and embeddings of ``model`` on each of ``parts`` of ``data``.

    The model is moved to ``device`` (as training does) and run once per part in eval mode
    under ``no_grad``; its previous train/eval mode is restored afterwards, always in fp32 (the
    recipe's bf16 autocast is a training option only). Each part is moved to a non-CPU
    ``device`` once; outputs come back as CPU float32 arrays.

    ``max_retain`` caps retain at a fixed, seeded subsample of rows (:func:`retain_rows`,
    identical for every model given the same ``seed``) to bound the cost of large retain sets;
    the subsample is recorded in :attr:`ModelOutputs.subsampled`. Other parts are never
    subsampled here.

    ``layers`` (names for :func:`~unlearnkit.evaluation.layer_hooks.resolve_layers`; empty =
    none) are recorded by forward hooks in the same pass, for the parts of
    :data:`LAYER_PARTS` that are collected (:attr:`ModelOutputs.layers`): retain and forget on
    a fixed seeded subsample of at most ``layer_max_rows`` rows (:func:`retain_rows`, the same
    rows for every model), test on all rows (the matched negatives are chosen later). The hooks
    are removed afterwards.

    An empty part is skipped, except ``forget`` (nothing to evaluate: error). NaN or infinite
    outputs raise :class:`EvaluationError` naming the model and the part.
    """
    device = torch.device(device)
    if int(batch_size) < 1:
        raise EvaluationError(f"'batch_size' must be ≥ 1, got {batch_size}")
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise EvaluationError(f"unknown part(s) {unknown}: choose from {', '.join(PARTS)}")
    if len(data.forget) == 0:
        raise EvaluationError(
            "the forget set is empty: there is nothing to evaluate; check the split "
            "(forget_size, forget_classes)"
        )
    model.to(device)
    recorder = LayerRecorder(model, layers) if layers else None
    out = ModelOutputs(parts={})
    with eval_mode(model):
        for part in dict.fromkeys(parts):  # unique, in order
            ts: TensorSet = getattr(data, part)
            if len(ts) == 0:
                continue
            if part == "retain":
                rows = retain_rows(len(ts), max_retain, seed)
                if rows.size < len(ts):
                    out.subsampled["retain"] = (int(rows.size), len(ts))
                    ts = ts.subset(rows)
            what = f"model '{name}', part '{part}'"
            if recorder is None or part not in LAYER_PARTS:
                out.parts[part] = _collect_part(model, ts, device, int(batch_size), what)
                continue
            cap = None if part == "test" else layer_max_rows
            keep = retain_rows(len(ts), cap, seed)
            with recorder.record(keep) as acts:
                out.parts[part] = _collect_part(
                    model, ts, device, int(batch_size), what, recorder, keep
                )
            out.layers[part] = acts
    return out
