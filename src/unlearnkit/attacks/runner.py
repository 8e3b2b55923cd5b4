"""Run the per-example attacks end to end: model pools → unlearning runs → statistics → scores.

Two entry points, each for one unlearning method M on the split's forget set:

* :func:`run_neurips`: the NeurIPS 2023 forgetting score (Triantafillou et al. 2024). N runs of
  M from **one** original with method seeds ``s, s+1, …, s+N−1`` (``s`` = the method config's
  seed) against the N models of the retrain pool (retain only, training seeds
  ``t, …, t+N−1``, ``t`` = the recipe's seed). For ``retrain`` itself the "unlearned" side is
  retrain-pool models ``N … 2N−1``: the retrain-vs-retrain reference, with disjoint seeds.
* :func:`run_ulira`: U-LiRA (Hayes et al. 2024) with a fixed target set, the forget set. The
  shadow pool (:class:`~unlearnkit.attacks.pools.ModelPool`, kind ``"shadow"``) trains model i
  on a random ``retain_fraction`` of retain, plus the whole forget set for even i. Each "in"
  model is then unlearned with M (forget set = the split's forget set, retain = that model's
  own retain subset): the H_in samples. The "out" models never saw the forget set: the H_out
  samples. The reported attack is **leave-one-out over the pool**: each pool model in turn is
  the target (unlearned in-models are members, out-models non-members), scored against
  Gaussians fitted on the other models; the scores of all K targets are pooled into one ROC.
  The method's model unlearned from the real original is scored too (``target_*`` keys,
  against a real retrain with the recipe's seed + 1).

Statistics, per model and forget example: LiRA's logit-scaled confidence
``log p_y − log Σ_{j≠y} p_j`` (the main keys) and, for the representation-level view, the cosine
similarity of the example's embedding to its class prototype, the mean embedding of that
class's retain examples in the same model (keys prefixed ``emb_``).

``docs/per-example-attacks.md`` documents the designs and their cost.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from unlearnkit.attacks.config import MIN_K, MIN_N
from unlearnkit.attacks.lira import attack_summary, logit_scaled_confidence, ulira_scores
from unlearnkit.attacks.neurips import neurips_score
from unlearnkit.attacks.pools import ModelPool, TaskMapper, TrainFn
from unlearnkit.data.batching import UnlearningData
from unlearnkit.data.registry import user_cache_dir
from unlearnkit.data.splits import Split
from unlearnkit.errors import ConfigError
from unlearnkit.evaluation.collect import collect_outputs
from unlearnkit.methods import get_method_class, unlearn_copy
from unlearnkit.methods.base import MethodConfig
from unlearnkit.models import FeatureClassifier, ModelConfig, build_model
from unlearnkit.training import TrainConfig
from unlearnkit.utils import log, progress, resolve_device

__all__ = [
    "MIN_K",
    "MIN_N",
    "AttackSetup",
    "ModelStats",
    "class_prototypes",
    "cosine_to_prototype",
    "forget_statistics",
    "per_example_auc",
    "permutation_null_auc",
    "run_neurips",
    "run_ulira",
]

STATISTIC = "logit_scaled_confidence"
EMB_STATISTIC = "cosine_to_class_prototype"


# --------------------------------------------------------------------------------------------
# Per-model statistics
# --------------------------------------------------------------------------------------------


@dataclass
class ModelStats:
    """What the attacks read from one model: per forget example, the logit-scaled confidence
    ``phi`` and the cosine to the class prototype ``cos``; the model's retain and test
    accuracy."""

    phi: np.ndarray
    cos: np.ndarray
    retain_acc: float
    test_acc: float


def class_prototypes(
    embeddings: np.ndarray, labels: np.ndarray, num_classes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean embedding per class ``(num_classes, d)`` (float64) and which classes had examples."""
    emb = np.asarray(embeddings, dtype=np.float64)
    lab = np.asarray(labels, dtype=np.int64)
    sums = np.zeros((num_classes, emb.shape[1]))
    np.add.at(sums, lab, emb)
    counts = np.bincount(lab, minlength=num_classes)
    present = counts > 0
    protos = np.zeros_like(sums)
    protos[present] = sums[present] / counts[present, None]
    return protos, present


def cosine_to_prototype(
    embeddings: np.ndarray, labels: np.ndarray, prototypes: np.ndarray
) -> np.ndarray:
    """Cosine similarity of each embedding to the prototype of its own class ``(n,)``.

    A zero vector (embedding or prototype) has cosine 0 with everything."""
    e = np.asarray(embeddings, dtype=np.float64)
    p = np.asarray(prototypes, dtype=np.float64)[np.asarray(labels, dtype=np.int64)]
    num = np.einsum("ij,ij->i", e, p)
    den = np.linalg.norm(e, axis=1) * np.linalg.norm(p, axis=1)
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def forget_statistics(
    model: FeatureClassifier,
    data: UnlearningData,
    device: torch.device | str,
    *,
    max_retain: int | None = 10_000,
) -> ModelStats:
    """Collect ``model``'s outputs once and reduce them to :class:`ModelStats`.

    Prototypes come from the model's embeddings of the split's retain set (capped at a fixed,
    seeded ``max_retain`` rows); a forget class with no retain example (class scenario) takes
    its prototype from the held-out val set instead.
    """
    out = collect_outputs(
        model, data, device, parts=("retain", "forget", "test"), max_retain=max_retain
    )
    forget, retain = out["forget"], out["retain"]
    k = forget.num_classes
    protos, present = class_prototypes(retain.embeddings, retain.labels, k)
    need = np.unique(forget.labels)
    missing = need[~present[need]]
    if missing.size:
        if len(data.val) == 0:
            raise ConfigError(
                f"no retain or val example of class(es) {missing.tolist()}: cannot form the "
                "class prototypes of the embedding statistic; give the split a val set"
            )
        val = collect_outputs(model, data, device, parts=("forget", "val"))["val"]
        v_protos, v_present = class_prototypes(val.embeddings, val.labels, k)
        still = missing[~v_present[missing]]
        if still.size:
            raise ConfigError(
                f"neither retain nor val has an example of class(es) {still.tolist()}: cannot "
                "form their class prototypes; enlarge the val set"
            )
        protos[missing] = v_protos[missing]
    test_acc = float(out["test"].correct.mean()) if "test" in out else float("nan")
    return ModelStats(
        phi=logit_scaled_confidence(forget.logits, forget.labels),
        cos=cosine_to_prototype(forget.embeddings, forget.labels, protos),
        retain_acc=float(retain.correct.mean()),
        test_acc=test_acc,
    )


# --------------------------------------------------------------------------------------------
# Shared resources: pools, original, statistics cache
# --------------------------------------------------------------------------------------------


@dataclass
class AttackSetup:
    """Everything several attack runs can share: the data, the recipe, the model pools, the
    original, and a cache of per-model statistics. Build one and pass it to
    :func:`run_neurips` / :func:`run_ulira` for every method, so pools are trained once.

    ``cache_dir`` holds ``pools/`` (:class:`ModelPool` folders) and ``models/`` (the original
    and the reference retrain, shared with ``unlearnkit run``'s cache). It defaults to the
    user cache (``~/.cache/unlearnkit``).
    """

    data: UnlearningData
    model_cfg: ModelConfig
    train_cfg: TrainConfig
    device: torch.device | str = "cpu"
    split: Split | None = None
    cache_dir: str | Path | None = None
    show_progress: bool = True
    train_fn: TrainFn | None = None
    max_retain: int | None = 10_000
    retain_fraction: float = 0.5
    original: FeatureClassifier | None = None
    #: runs pool trainings and unlearning runs as tasks (the engine); None: one by one here
    mapper: TaskMapper | None = None
    #: what tasks get instead of ``data``: a picklable callable returning it (the engine's
    #: :func:`~unlearnkit.engine.group.data_source`); needed with ``mapper``
    data_source: Any = None
    _pools: dict[str, ModelPool] = field(default_factory=dict, repr=False)
    _stats: dict[Any, ModelStats] = field(default_factory=dict, repr=False)
    _models: dict[str, FeatureClassifier] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.device = resolve_device(self.device)
        if self.split is None:
            self.split = self.data.split
        if self.split is None:
            raise ConfigError("the attacks need the split (pass split=, or data from a split)")
        self.cache_dir = Path(self.cache_dir) if self.cache_dir is not None else user_cache_dir()
        if self.original is not None:
            self._models["original"] = self.original.eval()

    @property
    def root(self) -> Path:
        assert isinstance(self.cache_dir, Path)
        return self.cache_dir

    def pool(self, kind: str) -> ModelPool:
        """The shadow or retrain pool of this setup (one object per kind)."""
        if kind not in self._pools:
            assert self.split is not None
            self._pools[kind] = ModelPool(
                self.root / "pools",
                kind,
                self.data,
                self.model_cfg,
                self.train_cfg,
                split=self.split,
                retain_fraction=self.retain_fraction,
                train_fn=self.train_fn,
                device=self.device,
                show_progress=self.show_progress,
                data_source=self.data_source,
            )
        return self._pools[kind]

    @property
    def parallel(self) -> bool:
        """Whether pool trainings and unlearning runs go to :attr:`mapper` as tasks."""
        return self.mapper is not None and self.data_source is not None and self.train_fn is None

    def ensure(self, pool: ModelPool, k: int) -> int:
        """``pool.ensure(k)``, as tasks when :attr:`parallel`."""
        return pool.ensure(k, self.mapper if self.parallel else None)

    def members(
        self,
        name: str,
        runs: Sequence[tuple[MethodConfig, Any, np.ndarray | None]],
        desc: str,
    ) -> list[tuple[ModelStats, float]]:
        """Unlearn with ``name`` once per ``(config, start model, retain rows)`` and return
        each result's statistics (on the full data) and wall time. A start model is a
        :class:`FeatureClassifier` or its weights; retain rows None = the whole retain set."""
        dev = str(self.device)
        common = (self.model_cfg, self.train_cfg, dev, self.max_retain)
        if self.parallel:
            assert self.mapper is not None
            calls = [
                (self.data_source, name, cfg, start, rows, *common) for cfg, start, rows in runs
            ]
            return list(self.mapper.map(member_stats, calls))
        bar = progress(runs, enabled=self.show_progress, desc=desc, unit="run")
        return [
            member_stats(self.data, name, cfg, start, rows, *common) for cfg, start, rows in bar
        ]

    def shared(self, model: FeatureClassifier) -> Any:
        """``model`` as a task argument: its weights, shared once (:attr:`parallel`), or itself."""
        if not self.parallel:
            return model
        assert self.mapper is not None
        return self.mapper.put({k: v.detach().cpu() for k, v in model.state_dict().items()})

    def _obtain(self, role: str, recipe: TrainConfig) -> FeatureClassifier:
        from unlearnkit.pipeline import obtain_model

        assert self.split is not None
        model, _ = obtain_model(
            role,
            self.split,
            self.data,
            self.model_cfg,
            recipe,
            device=torch.device(self.device),
            cache_dir=self.root,
            show_progress=self.show_progress,
        )
        return model.eval()

    def get_original(self) -> FeatureClassifier:
        """The original (trained on train with the recipe's seed; cached on disk)."""
        if "original" not in self._models:
            self._models["original"] = self._obtain("original", self.train_cfg)
        return self._models["original"]

    def reference_retrain(self) -> FeatureClassifier:
        """A retrain with the recipe's seed + 1, the non-member side of U-LiRA's real-target
        comparison (seed + 1 so that ``retrain`` as the method is not compared with itself)."""
        if "reference_retrain" not in self._models:
            recipe = self.train_cfg.replace(seed=self.train_cfg.seed + 1)
            self._models["reference_retrain"] = self._obtain("retrain", recipe)
        return self._models["reference_retrain"]

    def compute(self, model: FeatureClassifier) -> ModelStats:
        """:func:`forget_statistics` of ``model`` on this setup's data (not memoised)."""
        return forget_statistics(model, self.data, self.device, max_retain=self.max_retain)

    def stats(self, key: Any, model: FeatureClassifier) -> ModelStats:
        """Statistics of a model, memoised under ``key``."""
        if key not in self._stats:
            self._stats[key] = self.compute(model)
        return self._stats[key]

    def pool_stats(self, pool: ModelPool, i: int) -> ModelStats:
        """Statistics of pool model ``i``, memoised (the model is loaded on a miss only)."""
        key = (str(pool.path), int(i))
        if key not in self._stats:
            self._stats[key] = self.compute(pool.load(i, self.device))
        return self._stats[key]


def _method_config(name: str, cfg: Mapping[str, Any] | MethodConfig | None) -> MethodConfig:
    cls = get_method_class(name)
    if cfg is None or isinstance(cfg, Mapping):
        return cls.config_cls.from_dict(dict(cfg or {}))
    if not isinstance(cfg, cls.config_cls):
        raise ConfigError(
            f"method '{name}' needs a {cls.config_cls.__name__}, got {type(cfg).__name__}"
        )
    return cfg


def _seeded(cfg: MethodConfig, offset: int) -> MethodConfig:
    base = cfg.seed if cfg.seed is not None else 0
    return cfg.replace(seed=int(base) + int(offset))


def member_stats(
    data: UnlearningData | Callable[[], UnlearningData],
    name: str,
    cfg: MethodConfig,
    start: FeatureClassifier | dict[str, torch.Tensor],
    retain_rows: np.ndarray | None,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    device: str,
    max_retain: int | None,
) -> tuple[ModelStats, float]:
    """Task body: run method ``name`` on a copy of ``start`` (the method's teacher/reference is
    a frozen copy of it), with retain cut to ``retain_rows`` when given; return the result's
    :class:`ModelStats` on the full data and the method's wall time."""
    full = data() if callable(data) else data
    if isinstance(start, dict):
        model = build_model(model_cfg, full.input_shape, full.num_classes)
        model.load_state_dict(start)
    else:
        model = start
    dev = resolve_device(device)
    used = full
    if retain_rows is not None:
        used = dataclasses.replace(full, retain=full.retain.subset(retain_rows))
    outcome = unlearn_copy(
        name, cfg, model.to(dev), used, device=dev, model_config=model_cfg, train_config=train_cfg
    )
    stats = forget_statistics(outcome.model.eval(), full, dev, max_retain=max_retain)
    return stats, float(outcome.wall_time)


def _make_setup(
    setup: AttackSetup | None,
    data: UnlearningData,
    split: Split | None,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    device: torch.device | str,
    **kwargs: Any,
) -> AttackSetup:
    if setup is not None:
        if setup.model_cfg != model_cfg or setup.train_cfg != train_cfg:
            raise ConfigError("the AttackSetup was built for another model config or recipe")
        return setup
    return AttackSetup(data, model_cfg, train_cfg, device, split=split, **kwargs)


# --------------------------------------------------------------------------------------------
# NeurIPS 2023 score
# --------------------------------------------------------------------------------------------

_NEURIPS_SCALARS = (
    "score",
    "forgetting_quality",
    "ra_ratio",
    "ta_ratio",
    "ra_unlearned",
    "ra_retrain",
    "ta_unlearned",
    "ta_retrain",
    "epsilon_mean",
    "epsilon_median",
    "frac_capped",
    "n_buckets",
    "max_epsilon",
    "delta",
    "eps_cap",
)


def _side(stats: list[ModelStats], attr: str) -> np.ndarray:
    """One statistic of many models: ``(n_forget, n_models)``."""
    return np.stack([getattr(s, attr) for s in stats], axis=1)


def _neurips_result(
    method_name: str,
    cfg: MethodConfig,
    N: int,
    unlearned: list[ModelStats],
    retrained: list[ModelStats],
    pool: ModelPool,
    data: UnlearningData,
) -> dict[str, Any]:
    """The NeurIPS score of both statistics from the two sides' per-model statistics."""
    ra_u = [s.retain_acc for s in unlearned]
    ra_r = [s.retain_acc for s in retrained]
    ta_u = [s.test_acc for s in unlearned]
    ta_r = [s.test_acc for s in retrained]
    u_phi, r_phi = _side(unlearned, "phi"), _side(retrained, "phi")
    u_cos, r_cos = _side(unlearned, "cos"), _side(retrained, "cos")
    main = neurips_score(u_phi, r_phi, ra_u, ra_r, ta_u, ta_r)
    emb = neurips_score(u_cos, r_cos, ra_u, ra_r, ta_u, ta_r)
    return {
        "attack": "neurips",
        "method": method_name,
        "N": N,
        "n_examples": int(main["n_examples"]),
        "statistic": STATISTIC,
        **{k: _py(main[k]) for k in _NEURIPS_SCALARS},
        "emb_statistic": EMB_STATISTIC,
        **{f"emb_{k}": _py(emb[k]) for k in ("score", "forgetting_quality")},
        **{f"emb_{k}": _py(emb[k]) for k in ("epsilon_mean", "epsilon_median", "frac_capped")},
        "unlearned_side": f"{N} runs of {method_name} from one original, method seeds "
        f"{_seeded(cfg, 0).seed}..{_seeded(cfg, N - 1).seed}",
        "retrained_side": f"retrain pool models 0..{N - 1} (training seeds "
        f"{pool.seed(0)}..{pool.seed(N - 1)})",
        "arrays": {
            "epsilon": main["epsilon"],
            "emb_epsilon": emb["epsilon"],
            "unlearned_phi": u_phi,
            "retrained_phi": r_phi,
            "unlearned_cos": u_cos,
            "retrained_cos": r_cos,
            "forget_indices": np.asarray(data.forget.indices, dtype=np.int64),
        },
    }


def _neurips(setup: AttackSetup, method_name: str, cfg: MethodConfig, N: int) -> dict[str, Any]:
    """:func:`run_neurips` once its inputs are checked: pool, unlearned side, score."""
    t0 = time.perf_counter()
    pool = setup.pool("retrain")
    is_retrain = method_name == "retrain"
    trained = setup.ensure(pool, 2 * N if is_retrain else N)
    timing = {"wall_time_pool": time.perf_counter() - t0}
    retrained = [setup.pool_stats(pool, i) for i in range(N)]
    t1 = time.perf_counter()
    if is_retrain:
        unlearned = [setup.pool_stats(pool, i) for i in range(N, 2 * N)]
        method_wall, runs = pool.wall_time(2 * N) - pool.wall_time(N), 0
    else:
        start = setup.shared(setup.get_original())
        done = setup.members(
            method_name, [(_seeded(cfg, i), start, None) for i in range(N)], f"{method_name} ×{N}"
        )
        unlearned = [stats for stats, _ in done]
        method_wall, runs = sum(wall for _, wall in done), N
    timing["wall_time_method"] = time.perf_counter() - t1
    result = _neurips_result(method_name, cfg, N, unlearned, retrained, pool, setup.data)
    if is_retrain:
        result["unlearned_side"] = (
            f"retrain pool models {N}..{2 * N - 1} (retrain-vs-retrain reference)"
        )
    result.update(
        unlearning_runs=runs,
        pool_trainings=trained,
        pool=str(pool.path),
        method_wall_time=method_wall,
        **timing,
        wall_time=time.perf_counter() - t0,
        config=cfg.to_dict(),
    )
    return result


def run_neurips(
    method_name: str,
    method_cfg: Mapping[str, Any] | MethodConfig | None,
    data: UnlearningData,
    split: Split | None,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    N: int,
    device: torch.device | str = "cpu",
    *,
    setup: AttackSetup | None = None,
    cache_dir: str | Path | None = None,
    show_progress: bool = True,
    train_fn: TrainFn | None = None,
    max_retain: int | None = 10_000,
    original: FeatureClassifier | None = None,
) -> dict[str, Any]:
    """The NeurIPS 2023 forgetting score of method ``method_name`` with N models per side.

    Unlearned side: N runs of the method on one original (method seeds ``s … s+N−1``); for
    ``retrain``, retrain-pool models ``N … 2N−1``. Retrained side: retrain-pool models
    ``0 … N−1``. The per-example statistic is the logit-scaled confidence on each forget
    example; RA / TA are each model's retain / test accuracy (means per side). The same is
    done on the embedding statistic (keys ``emb_*``).

    Returns a dict of JSON-friendly scalars (``N`` stated) with the per-example arrays under
    ``"arrays"`` (``epsilon``, ``emb_epsilon``, the ``(n, N)`` statistics, ``forget_indices``).
    """
    if int(N) < MIN_N:
        raise ConfigError(
            f"the NeurIPS score needs N ≥ {MIN_N} models per side (N = 2 leaves no scoring "
            f"bucket; the challenge used 512, use tens at least), got N = {N}"
        )
    N = int(N)
    cfg = _method_config(method_name, method_cfg)
    setup = _make_setup(
        setup,
        data,
        split,
        model_cfg,
        train_cfg,
        device,
        cache_dir=cache_dir,
        show_progress=show_progress,
        train_fn=train_fn,
        max_retain=max_retain,
        original=original,
    )
    result = _neurips(setup, method_name, cfg, N)
    log(
        f"[neurips] {method_name}: N={N} score={result['score']:.4f} "
        f"F={result['forgetting_quality']:.4f} emb F={result['emb_forgetting_quality']:.4f} "
        f"({result['wall_time']:.1f} s)",
        enabled=setup.show_progress,
    )
    return result


# --------------------------------------------------------------------------------------------
# U-LiRA
# --------------------------------------------------------------------------------------------


def per_example_auc(member: np.ndarray, nonmember: np.ndarray) -> np.ndarray:
    """Row-wise AUC ``P(member score > non-member score) + ½ P(=)``: ``(n, a)``, ``(n, b)`` →
    ``(n,)``."""
    m = np.asarray(member, dtype=np.float64)[:, :, None]
    o = np.asarray(nonmember, dtype=np.float64)[:, None, :]
    return ((m > o) + 0.5 * (m == o)).mean(axis=(1, 2))


def _loo_ulira(
    u: np.ndarray, o: np.ndarray, *, online: bool, global_variance: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out scores: each column of ``u`` (member) and ``o`` (non-member) is scored
    against fits on all other columns. Returns ``(n, K_in)``, ``(n, K_out)``."""
    mem = np.empty_like(u)
    non = np.empty_like(o)
    kw = {"online": online, "global_variance": global_variance}
    for j in range(u.shape[1]):
        mem[:, j] = ulira_scores(u[:, j], np.delete(u, j, axis=1), o, **kw)
    for j in range(o.shape[1]):
        non[:, j] = ulira_scores(o[:, j], u, np.delete(o, j, axis=1), **kw)
    return mem, non


def _auc_ranks(mem: np.ndarray, non: np.ndarray) -> float:
    """AUC by the Mann–Whitney rank formula (ties count one half); equals sklearn's."""
    from scipy.stats import rankdata

    ranks = rankdata(np.concatenate([mem, non]))
    n1, n0 = mem.size, non.size
    return float((ranks[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def permutation_null_auc(
    u: np.ndarray,
    o: np.ndarray,
    *,
    online: bool = True,
    global_variance: bool = True,
    n_perm: int = 200,
    seed: int = 0,
) -> np.ndarray:
    """Null distribution of the pooled leave-one-out AUC under perfect unlearning.

    If the method unlearned perfectly, the unlearned in-models ``u`` ``(n, K_in)`` and the
    out-models ``o`` ``(n, K_out)`` would be exchangeable. So relabel a random ``K_in`` of the
    ``K`` models as "in", redo the whole leave-one-out attack (fits included), and record the
    pooled AUC, ``n_perm`` times (seeded). This accounts for what a naive interval misses:
    all forget examples of one model move together (the model is the independent unit), and
    leave-one-out itself biases a null AUC slightly below 0.5.
    """
    pool = np.concatenate([u, o], axis=1)
    k, k_in = pool.shape[1], u.shape[1]
    rng = np.random.default_rng(seed)
    null = np.empty(n_perm)
    for b in range(n_perm):
        perm = rng.permutation(k)
        mem, non = _loo_ulira(
            pool[:, perm[:k_in]],
            pool[:, perm[k_in:]],
            online=online,
            global_variance=global_variance,
        )
        null[b] = _auc_ranks(mem.ravel(), non.ravel())
    return null


def _ulira_block(
    prefix: str,
    u: np.ndarray,
    o: np.ndarray,
    target: np.ndarray,
    reference: np.ndarray,
    *,
    online: bool,
    global_variance: bool,
    n_perm: int,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    mem, non = _loo_ulira(u, o, online=online, global_variance=global_variance)
    summary = attack_summary(mem.ravel(), non.ravel())
    kw = {"online": online, "global_variance": global_variance}
    t_scores = ulira_scores(target, u, o, **kw)
    r_scores = ulira_scores(reference, u, o, **kw)
    t_summary = attack_summary(t_scores, r_scores)
    ex_auc = per_example_auc(mem, non)
    scalars: dict[str, Any] = {f"{prefix}{k}": _py(v) for k, v in summary.items()}
    scalars.update({f"{prefix}target_{k}": _py(v) for k, v in t_summary.items()})
    if n_perm > 0:
        null = permutation_null_auc(
            u, o, online=online, global_variance=global_variance, n_perm=n_perm
        )
        scalars[f"{prefix}auc_null_mean"] = float(null.mean())
        scalars[f"{prefix}auc_null_q95"] = float(np.quantile(null, 0.95))
        p_value = (1 + np.sum(null >= summary["auc"])) / (1 + null.size)
        scalars[f"{prefix}auc_p_value"] = float(p_value)
    scalars[f"{prefix}per_example_auc_mean"] = float(ex_auc.mean())
    scalars[f"{prefix}frac_examples_auc_ge_0_9"] = float(np.mean(ex_auc >= 0.9))
    arrays = {
        f"{prefix}loo_member_scores": mem,
        f"{prefix}loo_nonmember_scores": non,
        f"{prefix}per_example_auc": ex_auc,
        f"{prefix}target_scores": t_scores,
        f"{prefix}reference_scores": r_scores,
    }
    return scalars, arrays


def _ulira_blocks(
    in_stats: list[ModelStats],
    out_stats: list[ModelStats],
    target: ModelStats,
    reference: ModelStats,
    online: bool,
    gv: bool,
    n_perm: int,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """U-LiRA's scalars and arrays for both statistics (keys ``...`` and ``emb_...``)."""
    scalars: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for prefix, attr in (("", "phi"), ("emb_", "cos")):
        u, o = _side(in_stats, attr), _side(out_stats, attr)
        block, arr = _ulira_block(
            prefix,
            u,
            o,
            getattr(target, attr),
            getattr(reference, attr),
            online=online,
            global_variance=gv,
            n_perm=n_perm,
        )
        scalars.update(block)
        arrays.update(arr)
        arrays[f"{prefix}unlearned_stats"] = u
        arrays[f"{prefix}out_stats"] = o
        arrays[f"{prefix}target_stat"] = getattr(target, attr)
        arrays[f"{prefix}reference_stat"] = getattr(reference, attr)
    return scalars, arrays


def _ulira(
    setup: AttackSetup,
    method_name: str,
    cfg: MethodConfig,
    K: int,
    online: bool,
    gv: bool,
    n_perm: int,
) -> dict[str, Any]:
    """:func:`run_ulira` once its inputs are checked: shadow pool, in-model runs, scores."""
    t0 = time.perf_counter()
    pool = setup.pool("shadow")
    trained = setup.ensure(pool, K)
    pool_time = time.perf_counter() - t0
    in_idx = [i for i in range(K) if pool.includes_forget(i)]
    out_stats = [setup.pool_stats(pool, i) for i in range(K) if not pool.includes_forget(i)]
    t1 = time.perf_counter()
    runs: list[tuple[MethodConfig, Any, np.ndarray | None]] = [
        (_seeded(cfg, i), setup.shared(pool.load(i, setup.device)), pool.retain_rows(i))
        for i in in_idx
    ]
    runs.append((cfg, setup.shared(setup.get_original()), None))  # the real target
    done = setup.members(method_name, runs, f"{method_name} on shadows")
    in_stats, target = [stats for stats, _ in done[:-1]], done[-1][0]
    reference = setup.stats("reference_retrain", setup.reference_retrain())
    method_time = time.perf_counter() - t1
    result: dict[str, Any] = {
        "attack": "ulira",
        "method": method_name,
        "K": K,
        "K_in": len(in_idx),
        "K_out": len(out_stats),
        "n_examples": int(target.phi.size),
        "statistic": STATISTIC,
        "emb_statistic": EMB_STATISTIC,
        "online": online,
        "global_variance": gv,
        "retain_fraction": setup.retain_fraction,
        "n_perm": n_perm,
        "evaluation": "leave-one-out over the K pool models, scores pooled over targets and "
        "forget examples; target_* = method on the real original vs a real retrain",
    }
    blocks = _ulira_blocks(in_stats, out_stats, target, reference, online, gv, n_perm)
    result.update(blocks[0])
    blocks[1]["forget_indices"] = np.asarray(setup.data.forget.indices, dtype=np.int64)
    result.update(
        {
            "target_retain_acc": target.retain_acc,
            "target_test_acc": target.test_acc,
            "unlearning_runs": len(runs),
            "pool_trainings": trained,
            "pool": str(pool.path),
            "method_wall_time": sum(wall for _, wall in done),
            "wall_time_pool": pool_time,
            "wall_time_method": method_time,
            "wall_time": time.perf_counter() - t0,
            "config": cfg.to_dict(),
            "arrays": blocks[1],
        }
    )
    return result


def run_ulira(
    method_name: str,
    method_cfg: Mapping[str, Any] | MethodConfig | None,
    data: UnlearningData,
    split: Split | None,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    K: int,
    device: torch.device | str = "cpu",
    *,
    setup: AttackSetup | None = None,
    cache_dir: str | Path | None = None,
    show_progress: bool = True,
    train_fn: TrainFn | None = None,
    max_retain: int | None = 10_000,
    retain_fraction: float = 0.5,
    online: bool = True,
    global_variance: bool | None = None,
    n_perm: int = 200,
    original: FeatureClassifier | None = None,
) -> dict[str, Any]:
    """U-LiRA (Hayes et al. 2024) of method ``method_name`` on the forget set, K shadow models.

    Shadow model i trains on a random ``retain_fraction`` of retain plus, for even i, the
    forget set. Even ("in") models are unlearned with the method (seed ``s + i``): H_in
    samples; odd ("out") models are H_out samples. The main keys (``auc``,
    ``balanced_accuracy``, ``tpr_at_1pct_fpr``, …) come from leave-one-out over the pool: every
    pool model is the target once, against fits on the other K − 1 models, and the scores of
    all targets on all forget examples are pooled (members: the ``ceil(K/2)`` unlearned
    in-models; non-members: the out-models). ``auc_p_value``, ``auc_null_mean`` and
    ``auc_null_q95`` compare the AUC with its distribution under perfect unlearning, from
    relabelling the pool models (:func:`permutation_null_auc`). ``target_*`` keys score the
    method's model unlearned from the real original (members) against a real retrain
    (non-members).
    ``global_variance`` defaults to ``K < 64`` (as LiRA recommends for few shadow models);
    ``n_perm`` relabellings give the null distribution (0 skips it).
    The same on the embedding statistic gives the ``emb_*`` keys.

    Returns a dict of JSON-friendly scalars (``K``, ``K_in``, ``K_out`` stated) with the
    per-example arrays under ``"arrays"``.
    """
    if int(K) < MIN_K:
        raise ConfigError(
            f"U-LiRA needs K ≥ {MIN_K} shadow models (leave-one-out keeps ≥ 2 per side; half "
            f"of them train on the forget set), got K = {K}; use tens in practice"
        )
    K = int(K)
    cfg = _method_config(method_name, method_cfg)
    setup = _make_setup(
        setup,
        data,
        split,
        model_cfg,
        train_cfg,
        device,
        cache_dir=cache_dir,
        show_progress=show_progress,
        train_fn=train_fn,
        max_retain=max_retain,
        retain_fraction=retain_fraction,
        original=original,
    )
    gv = K < 64 if global_variance is None else bool(global_variance)
    result = _ulira(setup, method_name, cfg, K, online, gv, n_perm)
    log(
        f"[ulira] {method_name}: K={K} auc={result['auc']:.4f} "
        f"bal_acc={result['balanced_accuracy']:.4f} emb auc={result['emb_auc']:.4f} "
        f"({result['wall_time']:.1f} s)",
        enabled=setup.show_progress,
    )
    return result


def _py(v: Any) -> Any:
    """NumPy scalars → Python scalars (JSON)."""
    if isinstance(v, np.generic):
        return v.item()
    return v
