"""Relearn time: how many steps of fine-tuning on the forget set bring its accuracy back.

Golatkar et al., "Eternal Sunshine of the Spotless Net" (CVPR 2020) measure how quickly a
scrubbed model relearns the forgotten data; SURE (ICLR 2025) reports it as "RRT". A model that
only *hides* the forget set (small weight change, information still in the representation)
relearns it in a few steps; retrain needs many. As every number of the suite, compare it with
retrain's value.

Protocol (:func:`relearn_time`): a *copy* of the model (the input is never modified) is trained
on the forget set with plain SGD (fixed learning rate, no momentum, no weight decay, train mode)
on seeded random mini-batches, cycling over the forget set; after every ``eval_every`` steps the
forget accuracy is measured in eval mode; the count stops at the first check where it reaches
``target_acc`` (normally the original model's forget accuracy). Forget sets larger than
:data:`RELEARN_EVAL_MAX` examples are checked on a fixed, seeded subsample of that many rows
(:func:`relearn_eval_rows`), to keep the per-step check cheap; the target should then be measured
on the same rows (:func:`~unlearnkit.evaluation.suite.evaluate_models` does). Hitting
``max_steps`` returns ``steps = max_steps`` with ``reached = False`` (report the cap).
"""

from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F

from unlearnkit.data.batching import CyclingSampler, TensorSet
from unlearnkit.evaluation.checks import EvaluationError
from unlearnkit.models import FeatureClassifier
from unlearnkit.utils import check_finite, eval_mode, generator

__all__ = ["RELEARN_EVAL_MAX", "relearn_eval_rows", "relearn_time"]

#: Largest number of forget examples on which relearning progress is checked.
RELEARN_EVAL_MAX = 2000


def relearn_eval_rows(n: int, seed: int = 0, max_rows: int = RELEARN_EVAL_MAX) -> np.ndarray:
    """Rows of the forget set on which relearn progress is checked: all rows when
    ``n <= max_rows``, else a sorted seeded sample of ``max_rows`` rows."""
    if n <= max_rows:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=max_rows, replace=False))


def _accuracy(model: FeatureClassifier, x: torch.Tensor, y: torch.Tensor, bs: int = 1024) -> float:
    correct = 0
    with eval_mode(model):
        for s in range(0, x.shape[0], bs):
            correct += int((model(x[s : s + bs]).argmax(1) == y[s : s + bs]).sum())
    return correct / x.shape[0]


def relearn_time(
    model: FeatureClassifier,
    forget: TensorSet,
    target_acc: float,
    *,
    device: torch.device | str,
    lr: float = 0.01,
    batch_size: int = 32,
    max_steps: int = 500,
    seed: int = 0,
    eval_every: int = 1,
) -> dict[str, float | int | bool]:
    """Steps of SGD on ``forget`` until a copy of ``model`` reaches ``target_acc`` on it.

    Returns ``{"steps", "reached", "cap", "target", "final_acc"}``: ``steps`` = 0 when the
    model already reaches the target; ``steps = cap = max_steps`` and ``reached = False`` when
    the cap is hit first. Deterministic for ``seed`` on CPU. See the module docstring for the
    protocol.
    """
    device = torch.device(device)
    if len(forget) == 0:
        raise EvaluationError("relearn_time: the forget set is empty; nothing to relearn")
    target = float(target_acc)
    if not 0.0 <= target <= 1.0:
        raise EvaluationError(f"relearn_time: 'target_acc' must be in [0, 1], got {target_acc}")
    if not lr > 0:
        raise EvaluationError(f"relearn_time: 'lr' must be > 0, got {lr}")
    if int(batch_size) < 1 or int(max_steps) < 0 or int(eval_every) < 1:
        raise EvaluationError(
            "relearn_time: need batch_size ≥ 1, max_steps ≥ 0 and eval_every ≥ 1, got "
            f"{batch_size}, {max_steps}, {eval_every}"
        )
    cap = int(max_steps)
    rows = relearn_eval_rows(len(forget), seed)
    check = forget.subset(rows).to(device)
    work = copy.deepcopy(model).to(device)
    acc = _accuracy(work, check.x, check.y)
    if acc >= target:
        return {"steps": 0, "reached": True, "cap": cap, "target": target, "final_acc": acc}
    sampler = CyclingSampler(forget, int(batch_size), generator(seed))
    opt = torch.optim.SGD(work.parameters(), lr=float(lr))
    # torch's global RNG (dropout inside the model) is seeded here and restored afterwards
    fork = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=fork):
        torch.manual_seed(seed)
        for step in range(1, cap + 1):
            work.train()
            xb, yb = sampler.next()
            loss = F.cross_entropy(work(xb.to(device)), yb.to(device))
            check_finite(loss, f"relearn loss (step {step})", "Lower relearn_lr.")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if step % int(eval_every) == 0 or step == cap:
                acc = _accuracy(work, check.x, check.y)
                if acc >= target:
                    return {
                        "steps": step,
                        "reached": True,
                        "cap": cap,
                        "target": target,
                        "final_acc": acc,
                    }
    return {"steps": cap, "reached": False, "cap": cap, "target": target, "final_acc": acc}
