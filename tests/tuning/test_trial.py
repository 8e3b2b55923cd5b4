"""A tuning group: val split into the methods' half and the tuner's non-members (issue 12/5)."""

from __future__ import annotations

import numpy as np
import torch

from unlearnkit.benchmark import load_plan
from unlearnkit.cli import load_sections
from unlearnkit.data.batching import TensorSet
from unlearnkit.evaluation import EvalConfig
from unlearnkit.tuning.trial import partition_val, prepare_group


def test_partition_val_is_stratified_disjoint_and_covering() -> None:
    y = torch.tensor([0] * 10 + [1] * 4 + [2] * 1)
    val = TensorSet(torch.zeros(15, 1), y, np.arange(100, 115))
    m, e = partition_val(val, 0.5, seed=3)
    assert set(m).isdisjoint(e) and sorted([*m, *e]) == list(range(15))
    labels = y.numpy()
    assert list(np.bincount(labels[e], minlength=3)) == [5, 2, 0]
    _m2, e2 = partition_val(val, 0.5, seed=3)
    assert (e2 == e).all()  # seeded
    assert not (partition_val(val, 0.5, seed=4)[1] == e).all()


def test_non_members_are_disjoint_from_sure_s_domain_data_and_test(tiny_file) -> None:
    plan = load_plan(load_sections(str(tiny_file)))
    e = plan.entries[0]
    g = prepare_group(
        entry_index=0,
        split_config=e.split,
        model_config=e.model,
        train_config=e.train,
        seed=1000,
        eval_config=EvalConfig(max_per_class=200),
        eval_fraction=0.5,
        data_dir=None,
        cache_dir=None,
        device=torch.device("cpu"),
        datasets={},
    )
    methods, ev = g.method_data, g.eval_data
    non_members = set(ev.val.indices)
    assert non_members and non_members.isdisjoint(methods.val_domain.indices)
    assert non_members.isdisjoint(methods.val.indices)
    assert len(methods.test) == 0 and len(ev.test) == 0  # nobody gets test
    assert set(methods.val_domain.indices) <= set(methods.val.indices)
    assert (methods.val_domain.y == 3).all() and len(methods.val_domain) > 0
    # the evaluation half keeps examples of the forgotten class (class-matched attacks)
    assert (ev.val.y == 3).sum() > 0
    assert set(g.original_outputs.parts) == {"retain", "forget", "val"}
