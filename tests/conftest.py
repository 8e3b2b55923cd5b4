"""Shared fixtures: the digits dataset, a tiny partial-class split and a tiny trained model."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch

from unlearnkit.data import load_dataset
from unlearnkit.data.batching import unlearning_data
from unlearnkit.data.splits import SplitConfig, make_split
from unlearnkit.methods import MethodContext
from unlearnkit.models import ModelConfig
from unlearnkit.training import TrainConfig, train_fresh

# tiny models run faster on one thread (and two test processes never oversubscribe the cores)
torch.set_num_threads(1)

CPU = torch.device("cpu")
TINY_MODEL = ModelConfig(name="cnn", width=8, embed_dim=32)
TINY_RECIPE = TrainConfig(epochs=8, batch_size=64, lr=0.1)


@pytest.fixture(scope="session")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="session")
def tiny_split(digits):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_split(
            digits,
            SplitConfig(
                dataset="digits",
                scenario="partial-class",
                forget_size=0.5,
                forget_classes=(3,),
                seed=0,
            ),
        )


@pytest.fixture(scope="session")
def tiny_data(digits, tiny_split):
    return unlearning_data(digits, tiny_split)


@pytest.fixture(scope="session")
def tiny_original(tiny_data):
    model, _ = train_fresh(
        TINY_MODEL,
        TINY_RECIPE,
        tiny_data.train,
        input_shape=tiny_data.input_shape,
        num_classes=10,
        device=CPU,
        show_progress=False,
    )
    return model.eval()


@pytest.fixture()
def tiny_context(tiny_original):
    frozen = copy.deepcopy(tiny_original).eval()
    for p in frozen.parameters():
        p.requires_grad_(False)
    return MethodContext(TINY_MODEL, TINY_RECIPE, original=frozen, show_progress=False)
