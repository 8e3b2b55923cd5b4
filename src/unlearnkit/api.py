"""The shortest path: :func:`unlearn` one model in one call, :func:`evaluate` it against retrain.

Both take the user's own ``nn.Module`` and tensors; nothing of unlearnkit needs subclassing.
A plain module is split into features and head at ``feature_layer`` by
:class:`~unlearnkit.models.ModuleAdapter` (forward hooks); a
:class:`~unlearnkit.models.FeatureClassifier` is used as it is. Data are ``(x, y)`` pairs (tensors
or arrays) or ``TensorDataset``\\ s. A deletion request is ``train=(x, y)`` plus ``forget=``
row indices or a boolean mask over those rows; ``retain`` is then the other rows.

Guide with examples: ``docs/api.md``.
"""

from __future__ import annotations

import copy
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from unlearnkit.data.batching import TensorSet, UnlearningData
from unlearnkit.data.splits import forget_rows, split_from_rows
from unlearnkit.errors import ConfigError
from unlearnkit.evaluation import EvalConfig, EvaluationResult, evaluate_models
from unlearnkit.methods import MethodContext, create_method, get_method_class
from unlearnkit.models import FeatureClassifier, as_feature_classifier, unwrap
from unlearnkit.models.adapter import MissingFeatureLayer
from unlearnkit.training import TrainConfig
from unlearnkit.utils import resolve_device

__all__ = ["UnlearnRecord", "evaluate", "unlearn"]

#: the user's training function: ``train_fn(model, x, y)`` trains a fresh model in place
UserTrainFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], Any]


@dataclass
class UnlearnRecord:
    """What :func:`unlearn` did: the method and its resolved config, set sizes, device, wall
    time, per-epoch history, method-specific info, and every warning it raised (e.g. SURE's
    no-op warning; they are also re-emitted as Python warnings)."""

    method: str
    config: dict[str, Any]
    sizes: dict[str, int]
    device: str
    wall_time: float
    history: list[dict[str, float]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: method, sizes, epochs run, wall time, number of warnings."""
        sizes = ", ".join(f"{k} {v}" for k, v in self.sizes.items())
        epochs = f"{len(self.history)} epochs in " if self.history else ""
        return (
            f"{self.method}: {sizes}; {epochs}{self.wall_time:.1f} s; "
            f"{len(self.warnings)} warning(s)"
        )


def _pair(data: Any, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x, y)`` tensors from a pair of tensors/arrays or a ``TensorDataset``."""
    tensors = getattr(data, "tensors", None)
    if tensors is not None:
        data = tensors
    if isinstance(data, TensorSet):
        data = (data.x, data.y)
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ConfigError(
            f"{what}: expected an (x, y) pair of tensors or arrays, or a TensorDataset(x, y); "
            f"got {type(data).__name__}"
        )
    x = torch.as_tensor(data[0])
    y = torch.as_tensor(data[1])
    if x.dtype == torch.float64:
        x = x.float()
    if y.ndim != 1 or x.shape[0] != y.shape[0]:
        raise ConfigError(
            f"{what}: expected one integer label per example, got x of shape {tuple(x.shape)} "
            f"and y of shape {tuple(y.shape)}"
        )
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        raise ConfigError(f"{what}: labels must be integers (class indices), got {y.dtype}")
    return x, y.long()


def _pool(
    parts: list[tuple[str, Any]],
) -> tuple[torch.Tensor, torch.Tensor, dict[str, np.ndarray]]:
    """Concatenate the given parts (``None`` = empty) into one pool; rows of each part."""
    given = [(n, _pair(d, n)) for n, d in parts if d is not None]
    shapes = {tuple(x.shape[1:]) for _, (x, _) in given}
    if len(shapes) != 1:
        raise ConfigError(
            "every set must have inputs of the same shape; got "
            + ", ".join(f"{n} {tuple(x.shape[1:])}" for n, (x, _) in given)
        )
    rows: dict[str, np.ndarray] = {}
    start = 0
    for name, d in parts:
        k = 0 if d is None else len(dict(given)[name][1])
        rows[name] = np.arange(start, start + k, dtype=np.int64)
        start += k
    x = torch.cat([x for _, (x, _) in given])
    y = torch.cat([y for _, (_, y) in given])
    return x, y, rows


def _data(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    train: np.ndarray,
    forget: np.ndarray,
    val: np.ndarray,
    test: np.ndarray,
    scenario: str,
    forget_classes: tuple[int, ...],
) -> UnlearningData:
    split = split_from_rows(
        y.numpy(),
        train=train,
        forget=forget,
        val=val,
        test=test,
        scenario=scenario,
        forget_classes=forget_classes,
    )

    def part(idx: np.ndarray) -> TensorSet:
        t = torch.as_tensor(idx, dtype=torch.long)
        return TensorSet(x[t], y[t], idx)

    num_classes = int(y.max()) + 1
    return UnlearningData(
        retain=part(split.retain),
        forget=part(split.forget),
        val=part(split.val),
        val_domain=part(split.val_domain),
        test=part(split.test),
        num_classes=num_classes,
        input_shape=tuple(x.shape[1:]),
        split=split,
    )


def _frozen(model: FeatureClassifier) -> FeatureClassifier:
    frozen = copy.deepcopy(model).eval()
    for p in frozen.parameters():
        p.requires_grad_(False)
    return frozen


def unlearn(
    model: nn.Module,
    *,
    forget: Any,
    retain: Any = None,
    val: Any = None,
    train: Any = None,
    method: str = "sure",
    feature_layer: str | None = None,
    head_layer: str | None = None,
    model_fn: Callable[[], nn.Module] | None = None,
    train_fn: UserTrainFn | None = None,
    train_config: TrainConfig | None = None,
    device: str | torch.device = "auto",
    progress: bool = False,
    **options: Any,
) -> tuple[nn.Module, UnlearnRecord]:
    """Unlearn ``forget`` from a trained ``model`` with ``method``; return the unlearned model
    (a new object of the model's own class; ``model`` is left untouched) and a record.

    Args:
        model: the trained model: any ``nn.Module`` (give ``feature_layer`` when the method
            reads embeddings, e.g. SURE) or a :class:`~unlearnkit.models.FeatureClassifier`.
        forget: the examples to unlearn, as an ``(x, y)`` pair; or, with ``train``, row indices
            or a boolean mask over ``train``'s rows.
        retain: the rest of the training data ``(x, y)`` (not needed with ``train``).
        val: held-out ``(x, y)`` from the forget set's distribution, never trained on (SURE's
            domain-0 data: for part of a class, held-out examples of that class).
        train: everything the model was trained on, with ``forget`` as rows of it.
        method: a registered method (``unlearnkit list methods``), e.g. ``"sure"``,
            ``"finetune"``, ``"scrub"``, ``"retrain"``.
        feature_layer, head_layer: where a plain module's embedding and head are
            (:class:`~unlearnkit.models.ModuleAdapter`), e.g. ``"avgpool"`` and ``"fc"``.
        model_fn: zero-argument constructor of a fresh, untrained model of the same
            architecture: ``retrain``'s model and ``bad_teacher``'s incompetent teacher.
        train_fn: ``train_fn(model, x, y)`` trains a fresh model in place on retain (for
            ``retrain``); default unlearnkit's recipe ``train_config`` (``TrainConfig()``).
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda:0"`` ...
        progress: show progress bars and per-epoch lines on stderr.
        **options: the method's config keys (``unlearnkit run --help``, docs/methods.md), e.g.
            ``epochs=5, lr=0.01, domain_weight=1.0, seed=0``. Unknown keys are an error.
    """
    cls = get_method_class(method)
    config = cls.config_cls.from_dict(options)
    if train is not None:
        if retain is not None:
            raise ConfigError(
                "give either train=(x, y) with forget=<row indices or mask of train>, or "
                "forget=(x, y) with retain=(x, y); not both train and retain"
            )
        x, y, rows = _pool([("train", train), ("val", val)])
        train_rows = rows["train"]
        forget_idx = forget_rows(forget, len(train_rows))
    else:
        if retain is None:
            raise ConfigError(
                "unlearn() needs the retain set: retain=(x, y) next to forget=(x, y), or "
                "train=(x, y) with forget=<row indices or boolean mask of train>"
            )
        x, y, rows = _pool([("retain", retain), ("forget", forget), ("val", val)])
        train_rows = np.concatenate([rows["retain"], rows["forget"]])
        forget_idx = rows["forget"]
    if method == "sure" and len(rows["val"]) == 0:
        raise ConfigError(
            "method 'sure' needs val=(x, y): held-out examples from the forget set's "
            "distribution that the model never trained on (its discriminator's domain 0)"
        )
    data = _data(
        x,
        y,
        train=train_rows,
        forget=forget_idx,
        val=rows["val"],
        test=np.zeros(0, dtype=np.int64),
        scenario="random",
        forget_classes=(),
    )
    dev = resolve_device(device)
    fc = as_feature_classifier(copy.deepcopy(model), feature_layer, head_layer, example=x[:2]).to(
        dev
    )
    context = MethodContext(
        train_config=train_config,
        original=_frozen(fc),
        show_progress=progress,
        model_fn=_wrap_model_fn(model_fn, feature_layer, head_layer, x[:2]),
        train_fn=_wrap_train_fn(train_fn),
    )
    t0 = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            outcome = create_method(method, config).unlearn(fc, data, device=dev, context=context)
        except MissingFeatureLayer as exc:
            raise ConfigError(f"method '{method}' needs the embedding: {exc}") from None
    for w in caught:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    record = UnlearnRecord(
        method=method,
        config=config.to_dict(),
        sizes={"forget": len(data.forget), "retain": len(data.retain), "val": len(data.val)},
        device=str(dev),
        wall_time=time.perf_counter() - t0,
        history=outcome.history,
        info=outcome.info,
        warnings=[str(w.message) for w in caught],
    )
    return unwrap(outcome.model), record


def _wrap_model_fn(
    model_fn: Callable[[], nn.Module] | None,
    feature_layer: str | None,
    head_layer: str | None,
    example: torch.Tensor,
) -> Callable[[], FeatureClassifier] | None:
    if model_fn is None:
        return None
    return lambda: as_feature_classifier(model_fn(), feature_layer, head_layer, example=example)


def _wrap_train_fn(
    train_fn: UserTrainFn | None,
) -> Callable[[FeatureClassifier, TensorSet, torch.device], None] | None:
    if train_fn is None:
        return None

    def run(model: FeatureClassifier, retain: TensorSet, device: torch.device) -> None:
        inner = unwrap(model)
        inner.train()
        train_fn(inner, retain.x.to(device), retain.y.to(device))

    return run


def evaluate(
    models: nn.Module | Mapping[str, nn.Module],
    *,
    forget: Any,
    retain: Any,
    test: Any,
    val: Any = None,
    retrain: nn.Module | None = None,
    original: nn.Module | None = None,
    feature_layer: str | None = None,
    head_layer: str | None = None,
    scenario: str = "random",
    forget_classes: tuple[int, ...] = (),
    device: str | torch.device = "auto",
    progress: bool = False,
    **eval_options: Any,
) -> EvaluationResult:
    """Every metric of the suite (docs/metrics.md) for each model, with gaps to ``retrain``.

    Args:
        models: one model (named ``"model"``) or ``{name: model}``.
        forget, retain, test, val: ``(x, y)`` pairs; test is held-out data the attacks compare
            forget with (and val, when given, another held-out set).
        retrain: the reference retrained without forget (gaps and Avg. Gap need it).
        original: the model before unlearning (relearn time's target; shown for contrast).
        feature_layer, head_layer: how to read a plain module's embedding (all models share
            the architecture, so one name serves them all).
        scenario, forget_classes: ``"random"``, or ``"partial-class"`` / ``"class"`` with the
            forgotten classes (attacks then compare forget with test rows of those classes).
        **eval_options: :class:`~unlearnkit.evaluation.EvalConfig` keys, e.g. ``relearn=True``,
            ``attackers=("logreg",)``.

    Returns:
        An :class:`~unlearnkit.evaluation.EvaluationResult`: ``.rows[name][metric]``,
        ``.gaps()``, ``.avg_gap(name)``, ``.table()``.
    """
    named = dict(models) if isinstance(models, Mapping) else {"model": models}
    for name, extra in (("retrain", retrain), ("original", original)):
        if extra is not None:
            if name in named:
                raise ConfigError(f"'{name}' is given twice (in models and as {name}=)")
            named[name] = extra
    cfg = EvalConfig.from_dict(eval_options)
    x, y, rows = _pool([("retain", retain), ("forget", forget), ("val", val), ("test", test)])
    data = _data(
        x,
        y,
        train=np.concatenate([rows["retain"], rows["forget"]]),
        forget=rows["forget"],
        val=rows["val"],
        test=rows["test"],
        scenario=scenario,
        forget_classes=tuple(forget_classes),
    )
    dev = resolve_device(device)
    fcs = {
        n: as_feature_classifier(m, feature_layer, head_layer, example=x[:2]).to(dev)
        for n, m in named.items()
    }
    if cfg.relearn and "original" not in fcs:
        raise ConfigError("relearn=True needs original=<the model before unlearning>")
    return evaluate_models(fcs, data, device=dev, config=cfg, show_progress=progress)
