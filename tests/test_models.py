from __future__ import annotations

import pytest
import torch

from unlearnkit.errors import ConfigError
from unlearnkit.models import FeatureClassifier, ModelConfig, build_model


@pytest.mark.parametrize(
    ("name", "shape"),
    [
        ("mlp", (20,)),
        ("mlp", (1, 8, 8)),
        ("cnn", (1, 8, 8)),
        ("cnn", (1, 28, 28)),
        ("cnn", (3, 32, 32)),
        ("resnet18", (3, 32, 32)),
    ],
)
def test_shapes_and_interface(name, shape):
    width = 4 if name == "resnet18" else 8
    m = build_model(ModelConfig(name=name, width=width, embed_dim=16), shape, 7)
    assert isinstance(m, FeatureClassifier)
    x = torch.randn(3, *shape)
    z = m.features(x)
    assert z.shape == (3, m.embed_dim)
    assert torch.allclose(m.head(z), m(x))
    assert m(x).shape == (3, 7)
    for layer in m.layer_names():
        h = m.features_at(x, layer)
        assert h.ndim == 2 and h.shape[0] == 3
        assert m.layer_dim(layer, shape) == h.shape[1]


def test_resnet_cifar_stem():
    m = build_model(ModelConfig(name="resnet18", width=64), (3, 32, 32), 10)
    stem_conv = m.body.stem[0]
    assert stem_conv.kernel_size == (3, 3) and stem_conv.stride == (1, 1)
    assert not any(isinstance(mod, torch.nn.MaxPool2d) for mod in m.modules())
    assert m.embed_dim == 512
    assert 11.0e6 < sum(p.numel() for p in m.parameters()) < 11.3e6


def test_bad_model_inputs():
    with pytest.raises(ConfigError, match="unknown model 'vgg'; known models: mlp, cnn, resnet18"):
        build_model(ModelConfig(name="vgg"), (1, 8, 8), 10)
    with pytest.raises(ConfigError, match="needs image inputs"):
        build_model(ModelConfig(name="cnn"), (20,), 10)
    with pytest.raises(ConfigError, match="width must be >= 1"):
        ModelConfig(width=0)
    with pytest.raises(ConfigError, match="at least 2 classes"):
        build_model(ModelConfig(name="mlp"), (4,), 1)
    m = build_model(ModelConfig(name="mlp"), (4,), 3)
    with pytest.raises(ConfigError, match="unknown layer 'nope'"):
        m.features_at(torch.randn(2, 4), "nope")
