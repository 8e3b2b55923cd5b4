"""Batch-level data augmentation as tensor operations (no per-example Python loop)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def random_crop_flip(x: Tensor, generator: torch.Generator, padding: int = 4) -> Tensor:
    """The standard CIFAR augmentation: zero-pad, random crop back to size, random h-flip.

    Every example of the ``N×C×H×W`` batch gets its own crop offset (uniform in
    ``[0, 2·padding]`` for rows and columns) and is mirrored left-right with probability 1/2.
    Random numbers are drawn from ``generator`` (offsets for rows, then columns, then flips) on
    the generator's device, so the result is a deterministic function of the generator state.

    Args:
        x: batch of images, ``N×C×H×W``.
        generator: source of randomness.
        padding: zero padding added on each side before cropping (0 = flips only).

    Returns:
        A new tensor with the shape, dtype and device of ``x``.
    """
    if x.ndim != 4:
        raise ValueError(f"random_crop_flip expects an N×C×H×W batch, got shape {tuple(x.shape)}")
    if padding < 0:
        raise ValueError(f"padding must be ≥ 0, got {padding}")
    n, c, h, w = x.shape
    gdev = generator.device
    oy = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=gdev).to(x.device)
    ox = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=gdev).to(x.device)
    flip = (torch.rand(n, generator=generator, device=gdev) < 0.5).to(x.device)
    padded = F.pad(x, (padding, padding, padding, padding)) if padding else x
    rows = oy[:, None] + torch.arange(h, device=x.device)  # N×H
    cols = ox[:, None] + torch.arange(w, device=x.device)  # N×W
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chan = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, chan, rows[:, None, :, None], cols[:, None, None, :]]
