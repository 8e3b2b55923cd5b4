"""Where SURE's domain-0 ("unseen data") examples come from: the unmatched-validation ablation.

SURE trains its discriminator to tell forget embeddings (domain 1) from embeddings of held-out
data *of the same distribution* (domain 0): held-out examples of the forget class(es) for class
scenarios, random held-out examples for random forgetting (``split.val_domain``). A user whose
forget data has no held-out twin cannot build that set. :func:`domain0_set` builds the
alternatives that one would use instead, of the same size as the matched set:

* ``matched`` — ``data.val_domain`` (the paper's choice, the default);
* ``other-classes`` — held-out val examples of the *other* classes (class scenarios only: for
  random forgetting every class is a forget class);
* ``augmented-retain`` — retain examples, i.e. training members, each transformed once by the
  standard crop + flip augmentation (:func:`~unlearnkit.data.augment.random_crop_flip`; images
  only), seeded.

Sizes: ``len(data.val_domain)`` examples (all of the pool when it is smaller), drawn without
replacement from ``generator``.
"""

from __future__ import annotations

import numpy as np
import torch

from unlearnkit.data.augment import random_crop_flip
from unlearnkit.data.batching import TensorSet, UnlearningData
from unlearnkit.errors import ConfigError

__all__ = ["DOMAIN0_SOURCES", "domain0_set"]

#: Accepted values of SURE's ``domain0`` option.
DOMAIN0_SOURCES: tuple[str, ...] = ("matched", "other-classes", "augmented-retain")


def _draw(pool: TensorSet, n: int, generator: torch.Generator) -> TensorSet:
    if len(pool) <= n:
        return pool
    perm = torch.randperm(len(pool), generator=generator).numpy()
    return pool.subset(np.sort(perm[:n]))


def domain0_set(data: UnlearningData, source: str, generator: torch.Generator) -> TensorSet:
    """SURE's domain-0 examples from ``source`` (module docstring)."""
    if source not in DOMAIN0_SOURCES:
        raise ConfigError(f"unknown domain0 '{source}'; choose one of {', '.join(DOMAIN0_SOURCES)}")
    if source == "matched":
        return data.val_domain
    n = len(data.val_domain) or len(data.forget)
    if source == "other-classes":
        split = data.split
        if split is None or split.config.scenario == "random" or not split.config.forget_classes:
            raise ConfigError(
                "domain0='other-classes' needs a class scenario (partial-class, class or "
                "confusion) with forget classes: under random forgetting every class is a forget "
                "class; use domain0='augmented-retain' or 'matched'"
            )
        classes = torch.as_tensor(list(split.config.forget_classes), device=data.val.y.device)
        rows = torch.nonzero(~torch.isin(data.val.y, classes)).flatten().cpu().numpy()
        if rows.size == 0:
            raise ConfigError("domain0='other-classes': val holds no example of another class")
        return _draw(data.val.subset(rows), n, generator)
    if len(data.input_shape) != 3:
        raise ConfigError(
            f"domain0='augmented-retain' needs image inputs C×H×W (crop + flip), got examples "
            f"of shape {data.input_shape}; use domain0='matched' or 'other-classes'"
        )
    picked = _draw(data.retain, n, generator)
    gen = torch.Generator(device=picked.x.device).manual_seed(
        int(torch.randint(0, 2**31 - 1, (1,), generator=generator))
    )
    padding = max(1, data.input_shape[-1] // 8)  # 4 px at 32×32, 3 at 28×28, 1 at 8×8
    return TensorSet(random_crop_flip(picked.x, gen, padding), picked.y, picked.indices)
