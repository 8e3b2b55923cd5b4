from __future__ import annotations

import math

import pytest
import torch

from unlearnkit.errors import ConfigError
from unlearnkit.nn import DomainDiscriminator, GradientReversal, dann_lambda, lambda_at


@pytest.mark.parametrize("lambd", [0.0, 0.5, 1.0, 3.7])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_reversed_gradient_is_minus_lambda_times_plain(lambd, dtype):
    torch.manual_seed(0)
    x = torch.randn(5, 3, dtype=dtype, requires_grad=True)
    w = torch.randn(3, dtype=dtype)
    (x @ w).pow(2).sum().backward()
    plain = x.grad.clone()
    x.grad = None
    grl = GradientReversal(lambd)
    out = grl(x)
    assert torch.equal(out, x)  # identity forward
    (out @ w).pow(2).sum().backward()
    assert x.grad.dtype == dtype
    torch.testing.assert_close(x.grad, -lambd * plain)


def test_lambda_setter_and_validation():
    grl = GradientReversal()
    grl.set_lambda(0.25)
    assert grl.lambd == 0.25
    with pytest.raises(ConfigError, match="λ must be >= 0"):
        grl.set_lambda(-1)


def test_schedule_endpoints():
    assert dann_lambda(0.0) == 0.0
    assert dann_lambda(1.0) == pytest.approx(2 / (1 + math.exp(-10)) - 1)
    assert dann_lambda(0.5, gamma=4) == pytest.approx(2 / (1 + math.exp(-2)) - 1)
    assert lambda_at("constant", 0.3, 2.0) == 2.0
    assert lambda_at("dann", 1.0, 2.0) == pytest.approx(2 * dann_lambda(1.0))
    assert lambda_at("dann", 0.0, 2.0) == 0.0
    with pytest.raises(ConfigError, match="unknown λ schedule"):
        lambda_at("cosine", 0.5)


def test_discriminator_returns_logits():
    d = DomainDiscriminator(6, (8, 4), dropout=0.1)
    out = d(torch.randn(10, 6) * 100)
    assert out.shape == (10,)
    assert (out.abs() > 1).any()  # unbounded logits, not probabilities
    assert isinstance(d.net[-1], torch.nn.Linear)


@pytest.mark.parametrize(
    ("kw", "msg"),
    [({"hidden": (0,)}, "hidden widths must be >= 1"), ({"dropout": 1.0}, "dropout must be in")],
)
def test_discriminator_bad_config(kw, msg):
    with pytest.raises(ConfigError, match=msg):
        DomainDiscriminator(4, **kw)
