"""Each baseline's structure against its reference implementation (docs/methods.md), on a
tiny model: steps per epoch over forget and over retain, the order of the steps, the label
distribution, the optimiser settings and batch sizes; retrain's own seed."""

from __future__ import annotations

import copy
import math
import warnings
from typing import Any

import pytest
import torch

from tests.conftest import CPU, TINY_MODEL, TINY_RECIPE
from unlearnkit.methods import MethodContext, UnlearnOutcome, create_method
from unlearnkit.methods.random_labels import random_labels
from unlearnkit.methods.retrain import retrain_recipe, retrain_seed
from unlearnkit.training import new_model
from unlearnkit.utils import generator

torch.set_num_threads(1)


def run_recording(
    name: str, cfg: dict[str, Any], original, data, recipe=TINY_RECIPE
) -> tuple[UnlearnOutcome, list[tuple[str, ...]], Any]:
    """Run ``name`` and record, per optimiser step, the sets its batch held."""
    method = create_method(name, cfg)
    keys: list[tuple[str, ...]] = []
    real_loss = method.loss

    def loss(model, batch):
        keys.append(tuple(batch))
        return real_loss(model, batch)

    method.loss = loss  # type: ignore[method-assign]
    frozen = copy.deepcopy(original).eval()
    ctx = MethodContext(TINY_MODEL, recipe, original=frozen, show_progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = method.unlearn(copy.deepcopy(original), data, device=CPU, context=ctx)
    return out, keys, method


# -- random labels / SalUn (SalUn's unlearn/RL.py) --------------------------------------------


@pytest.mark.parametrize("name", ["random_labels", "salun"])
def test_rl_default_is_a_forget_pass_then_a_retain_pass(name, tiny_data, tiny_original) -> None:
    bs, epochs = 32, 2
    out, keys, _ = run_recording(
        name, {"epochs": epochs, "batch_size": bs}, tiny_original, tiny_data
    )
    n_f = math.ceil(len(tiny_data.forget) / bs)
    n_r = math.ceil(len(tiny_data.retain) / bs)
    assert keys == ([("forget",)] * n_f + [("retain",)] * n_r) * epochs
    assert out.info["steps"] == {
        "forget": n_f * epochs,
        "retain": n_r * epochs,
        "union": 0,
        "joint": 0,
    }
    # each logged part is averaged over the steps that reported it
    assert {"forget_rl_ce", "retain_ce"} <= set(out.history[0])


def test_rl_union_shuffles_relabelled_forget_into_retain(tiny_data, tiny_original) -> None:
    bs = 64
    cfg = {"epochs": 2, "batch_size": bs, "epoch_structure": "union"}
    out, keys, _method = run_recording("random_labels", cfg, tiny_original, tiny_data)
    n = math.ceil((len(tiny_data.forget) + len(tiny_data.retain)) / bs)
    assert keys == [("union",)] * (2 * n)
    assert out.info["steps"]["union"] == 2 * n


def test_rl_joint_is_one_step_per_forget_batch_with_a_retain_batch(
    tiny_data, tiny_original
) -> None:
    bs = 32
    cfg = {"epochs": 2, "batch_size": bs, "epoch_structure": "joint", "label_rule": "wrong"}
    _out, keys, _ = run_recording("random_labels", cfg, tiny_original, tiny_data)
    assert keys == [("forget", "retain")] * (2 * math.ceil(len(tiny_data.forget) / bs))


@pytest.mark.parametrize("structure", ["sequential", "union"])
def test_rl_loop_draws_labels_with_the_configured_rule(structure, tiny_data, tiny_original) -> None:
    rules_seen: list[str] = []
    for rule in ("any", "wrong"):
        cfg = {"epochs": 1, "batch_size": 64, "epoch_structure": structure, "label_rule": rule}
        method = create_method("random_labels", cfg)
        real = method.relabel

        def relabel(y, _real=real, _rule=rule):
            rules_seen.append(_rule)
            new = _real(y)
            if _rule == "wrong":
                assert not (new == y).any()
            return new

        method.relabel = relabel  # type: ignore[method-assign]
        ctx = MethodContext(TINY_MODEL, TINY_RECIPE, show_progress=False)
        method.unlearn(copy.deepcopy(tiny_original), tiny_data, device=CPU, context=ctx)
    assert "any" in rules_seen and "wrong" in rules_seen


def test_random_labels_any_is_uniform_over_all_classes() -> None:
    C, n = 5, 50_000
    y = torch.zeros(n, dtype=torch.long)
    new = random_labels(y, C, generator(0), "any")
    freq = torch.bincount(new, minlength=C).float() / n
    # SalUn's rule: y' = y (here class 0) with probability 1/C, like every other class
    assert torch.allclose(freq, torch.full((C,), 1 / C), atol=0.01)
    wrong = random_labels(y, C, generator(0), "wrong")
    assert int((wrong == 0).sum()) == 0
    assert torch.equal(new, random_labels(y, C, generator(0), "any"))


@pytest.mark.parametrize("name", ["random_labels", "salun"])
def test_rl_optimiser_is_salun_codes_sgd(name, tiny_original) -> None:
    method = create_method(name)
    cfg = method.config
    assert (cfg.epochs, cfg.batch_size, cfg.lr) == (10, 256, 0.013)
    assert (cfg.epoch_structure, cfg.label_rule) == ("sequential", "any")
    opt = method.build_optimizer(list(tiny_original.parameters()))
    group = opt.param_groups[0]
    assert isinstance(opt, torch.optim.SGD)
    assert (group["momentum"], group["weight_decay"]) == (0.9, 5e-4)


# -- NegGrad+ (SCRUB repository, small_scale_unlearning.ipynb) --------------------------------


def test_neggrad_plus_reference_optimiser_and_batches(tiny_data, tiny_original) -> None:
    method = create_method("neggrad_plus")
    cfg = method.config
    assert (cfg.batch_size, cfg.forget_batch_size, cfg.lr, cfg.epochs) == (32, 64, 0.01, 10)
    opt = method.build_optimizer(list(tiny_original.parameters()))
    assert isinstance(opt, torch.optim.SGD)
    assert (opt.param_groups[0]["momentum"], opt.param_groups[0]["weight_decay"]) == (0.0, 0.0)
    assert cfg.prox_weight == 0.1
    sizes: list[tuple[int, int]] = []
    _out, keys, m = run_recording("neggrad_plus", {"epochs": 1}, tiny_original, tiny_data)
    assert keys == [("retain", "forget")] * math.ceil(len(tiny_data.retain) / 32)
    # forget batches of 64 (cycled), retain batches of 32
    batch = next(iter(m.batches(tiny_data)))
    sizes.append((len(batch["retain"][0]), len(batch["forget"][0])))
    assert sizes == [(32, min(64, len(tiny_data.forget)))]


def test_neggrad_plus_proximal_term_is_the_hand_formula(tiny_data, tiny_original) -> None:
    method = create_method("neggrad_plus", {"prox_weight": 0.3})
    model = copy.deepcopy(tiny_original)
    method.device = CPU
    method.setup(model, tiny_data)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01)
    n = sum(p.numel() for p in model.parameters())
    expected = 0.5 * 0.3 * n * 0.01**2
    assert float(method.proximal(model).detach()) == pytest.approx(expected, rel=1e-4)


# -- SCRUB (large_scale_unlearning.ipynb) ------------------------------------------------------


def test_scrub_defaults_are_the_reference_loaders(tiny_data, tiny_original) -> None:
    cfg = create_method("scrub").config
    assert (cfg.batch_size, cfg.forget_batch_size) == (256, 512)
    assert (cfg.epochs, cfg.msteps, cfg.lr, cfg.momentum, cfg.weight_decay) == (
        3,
        2,
        5e-4,
        0.9,
        5e-4,
    )
    _out, keys, _ = run_recording("scrub", {}, tiny_original, tiny_data)
    n_f = math.ceil(len(tiny_data.forget) / 512)
    n_r = math.ceil(len(tiny_data.retain) / 256)
    # epochs 1 and 2 (the reference's `epoch <= msteps`, 1-based): a max-pass, then a min-pass
    expected = ([("forget",)] * n_f + [("retain",)] * n_r) * 2 + [("retain",)] * n_r
    assert keys == expected


# -- retrain: its own seed ------------------------------------------------------------------


def test_retrain_seed_is_derived_distinct_and_reproducible() -> None:
    seeds = [retrain_seed(s) for s in range(200)]
    assert all(r != s for s, r in zip(range(200), seeds))
    assert len(set(seeds)) == 200  # no two originals share a retrain seed
    assert not set(seeds) & set(range(200))
    assert seeds == [retrain_seed(s) for s in range(200)]
    assert retrain_recipe(TINY_RECIPE).seed == retrain_seed(TINY_RECIPE.seed)
    assert retrain_recipe(TINY_RECIPE, 7).seed == 7
    assert retrain_recipe(TINY_RECIPE).replace(seed=TINY_RECIPE.seed) == TINY_RECIPE


def test_retrain_init_differs_from_the_original_and_is_reproducible(
    tiny_data, tiny_original
) -> None:
    shape, C = tiny_data.input_shape, tiny_data.num_classes
    orig_init = new_model(TINY_MODEL, shape, C, TINY_RECIPE.seed)
    re_init = new_model(TINY_MODEL, shape, C, retrain_recipe(TINY_RECIPE).seed)
    assert any(not torch.equal(a, b) for a, b in zip(orig_init.parameters(), re_init.parameters()))
    recipe = TINY_RECIPE.replace(epochs=1)
    a, _, _ = run_recording("retrain", {}, tiny_original, tiny_data, recipe=recipe)
    b, _, _ = run_recording("retrain", {}, tiny_original, tiny_data, recipe=recipe)
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(va, vb), k
