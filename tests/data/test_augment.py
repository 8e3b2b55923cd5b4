"""random_crop_flip: shapes, flips-only at padding 0, crops against a per-example reference."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from unlearnkit.data.augment import random_crop_flip


def _batch(n: int = 16, c: int = 3, h: int = 32, w: int = 32) -> torch.Tensor:
    return torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(123))


def test_shape_dtype_preserved() -> None:
    x = _batch()
    out = random_crop_flip(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    x_odd = _batch(5, 1, 7, 9)
    assert random_crop_flip(x_odd, torch.Generator().manual_seed(0), padding=2).shape == (
        5,
        1,
        7,
        9,
    )


def test_padding_zero_only_flips() -> None:
    x = _batch(64)
    out = random_crop_flip(x, torch.Generator().manual_seed(1), padding=0)
    flipped = 0
    for i in range(len(x)):
        same = torch.equal(out[i], x[i])
        mirrored = torch.equal(out[i], x[i].flip(-1))
        assert same or mirrored
        flipped += int(mirrored and not same)
    assert 10 < flipped < 54  # about half are flipped (p = 1/2, 64 draws)


def test_same_seed_same_output_and_different_seed_differs() -> None:
    x = _batch()
    a = random_crop_flip(x, torch.Generator().manual_seed(7))
    b = random_crop_flip(x, torch.Generator().manual_seed(7))
    c = random_crop_flip(x, torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_matches_per_example_reference() -> None:
    """Each output is some crop of the zero-padded input, optionally mirrored."""
    x = _batch(8, 2, 6, 6)
    p = 2
    out = random_crop_flip(x, torch.Generator().manual_seed(3), padding=p)
    padded = F.pad(x, (p, p, p, p))
    offsets_seen = set()
    for i in range(len(x)):
        matches = [
            (dy, dx, flip)
            for dy in range(2 * p + 1)
            for dx in range(2 * p + 1)
            for flip in (False, True)
            if torch.equal(
                out[i],
                (lambda t: t.flip(-1) if flip else t)(padded[i, :, dy : dy + 6, dx : dx + 6]),
            )
        ]
        assert matches, f"example {i} is not a crop/flip of its padded input"
        offsets_seen.add(matches[0][:2])
    assert len(offsets_seen) > 1  # offsets really vary per example


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="N×C×H×W"):
        random_crop_flip(torch.zeros(3, 32, 32), torch.Generator())
    with pytest.raises(ValueError, match="padding"):
        random_crop_flip(torch.zeros(1, 3, 4, 4), torch.Generator(), padding=-1)
