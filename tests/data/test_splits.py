from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from unlearnkit.data.base import ArrayDataset
from unlearnkit.data.batching import unlearning_data
from unlearnkit.data.splits import Split, SplitConfig, make_split
from unlearnkit.errors import ConfigError, DataError


def make(ds, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make_split(ds, SplitConfig(dataset=ds.name, **kw))


def check_invariants(split: Split, ds) -> None:
    tr, fo, va, te, vd = split.train, split.forget, split.val, split.test, split.val_domain
    assert set(fo) <= set(tr)
    assert not set(tr) & set(va) and not set(tr) & set(te) and not set(va) & set(te)
    assert set(vd) <= set(va)
    assert len(split.retain) == len(tr) - len(fo)
    assert not set(split.retain) & set(fo)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    scenario=st.sampled_from(["random", "partial-class", "class"]),
    size=st.one_of(st.floats(0.05, 0.9), st.integers(1, 40).map(float)),
    classes=st.lists(st.integers(0, 9), min_size=1, max_size=3, unique=True),
    seed=st.integers(0, 10_000),
)
def test_invariants_property(digits, scenario, size, classes, seed):
    split = make(
        digits, scenario=scenario, forget_size=size, forget_classes=tuple(classes), seed=seed
    )
    check_invariants(split, digits)
    y = digits.y.numpy()
    if scenario != "random":
        assert np.isin(y[split.forget], classes).all()
        assert np.isin(y[split.val_domain], classes).all()
    if scenario == "class":
        assert not np.isin(y[split.retain], classes).any()
    else:
        assert np.array_equal(split.val_domain, split.val) or scenario != "random"
    # reproducible from (dataset, scenario, size, classes, seed)
    again = make(
        digits, scenario=scenario, forget_size=size, forget_classes=tuple(classes), seed=seed
    )
    assert again.sha256 == split.sha256


def test_sizes_and_counts(digits):
    s = make(digits, scenario="partial-class", forget_size=20, forget_classes=(4,))
    assert len(s.forget) == 20
    s = make(digits, scenario="random", forget_size=0.1)
    assert len(s.forget) == round(0.1 * len(s.train))
    assert len(s.test) == round(0.2 * len(digits))


def test_save_load_roundtrip(tmp_path, digits):
    s = make(digits, scenario="class", forget_classes=(1, 2), seed=3)
    path = s.save(tmp_path / "split.json")
    back = Split.load(path)
    assert back.sha256 == s.sha256
    for k, v in s.parts().items():
        assert np.array_equal(v, back.parts()[k])
    back.check_dataset(digits)


def test_tampered_split_refused(tmp_path, digits):
    s = make(digits)
    path = s.save(tmp_path / "split.json")
    data = json.loads(path.read_text())
    data["indices"]["forget"][0] = data["indices"]["test"][0]
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match="SHA-256 mismatch"):
        Split.load(path)


def test_load_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        Split.load(tmp_path / "nope.json")
    (tmp_path / "x.json").write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        Split.load(tmp_path / "x.json")
    (tmp_path / "y.json").write_text("{}")
    with pytest.raises(DataError, match="not a valid unlearnkit split"):
        Split.load(tmp_path / "y.json")


def test_wrong_dataset_refused(digits):
    s = make(digits)
    other = ArrayDataset("digits", digits.x[:100], digits.y[:100], 10)
    with pytest.raises(DataError, match="this split was made for dataset 'digits' with 1797"):
        s.check_dataset(other)
    with pytest.raises(DataError, match="this split was made"):
        unlearning_data(other, s)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"forget_classes": (12,)}, DataError, "unknown class 12.*classes are 0..9"),
        ({"scenario": "random", "forget_size": 5000}, DataError, "larger than"),
        ({"scenario": "random", "forget_size": 0.0001}, DataError, "empty forget set"),
        ({"forget_size": 0}, ConfigError, "'forget_size' must be > 0"),
        ({"forget_size": 2.5}, ConfigError, "neither a fraction"),
        ({"scenario": "class", "forget_classes": ()}, ConfigError, "needs at least one class"),
        ({"scenario": "bogus"}, ConfigError, "must be one of"),
        ({"val_size": 0.999999}, DataError, "leaves no training examples"),
        ({"train_size": 100000}, DataError, "exceeds"),
    ],
)
def test_bad_split_inputs(digits, kwargs, error, message):
    with pytest.raises(error, match=message):
        make(digits, **kwargs)


def test_whole_train_as_forget_refused():
    x = torch.randn(60, 4)
    y = torch.tensor([0] * 30 + [1] * 30)
    ds = ArrayDataset("toy", x, y, 2)
    with pytest.raises(DataError, match="covers all of train"):
        make_split(
            ds,
            SplitConfig(
                dataset="toy", scenario="random", forget_size=0.99, val_size=10, test_size=10
            ),
        )


def test_small_val_domain_warns(digits):
    with pytest.warns(UserWarning, match="validation-domain set .* is smaller than the forget set"):
        make_split(
            digits,
            SplitConfig(
                dataset="digits",
                scenario="partial-class",
                forget_size=0.9,
                forget_classes=(0,),
                val_size=0.05,
            ),
        )


def test_official_test_part_is_test():
    x = torch.randn(100, 3)
    y = torch.arange(100) % 2
    ds = ArrayDataset("toy", x, y, 2, official_test_start=80)
    s = make_split(ds, SplitConfig(dataset="toy", scenario="random", forget_size=0.1, val_size=10))
    assert np.array_equal(s.test, np.arange(80, 100))
    assert len(s.val) == 10 and len(s.train) == 70


# --------------------------------------------------------------------------- confusion


@pytest.mark.parametrize("size", [0.3, 0.5, 25.0, 24.0])
def test_confusion_split_invariants(digits, size):
    split = make(digits, scenario="confusion", forget_size=size, forget_classes=(3, 8), seed=4)
    check_invariants(split, digits)
    y = digits.y.numpy()
    tr = split.train
    n3, n8 = (int((y[split.forget] == c).sum()) for c in (3, 8))
    if size < 1:  # the fraction of each class's training examples
        assert n3 == round(size * (y[tr] == 3).sum()) and n8 == round(size * (y[tr] == 8).sum())
    else:  # the count split evenly, class a gets the odd one
        assert (n3, n8) == ((int(size) + 1) // 2, int(size) // 2)
    assert set(y[split.forget]) == {3, 8}
    # reproducible from the config, saved with its hash
    again = make(digits, scenario="confusion", forget_size=size, forget_classes=(3, 8), seed=4)
    assert again.sha256 == split.sha256 and np.array_equal(again.forget, split.forget)
    other = make(digits, scenario="confusion", forget_size=size, forget_classes=(3, 8), seed=5)
    assert not np.array_equal(other.forget, split.forget)


def test_confusion_labels_flow_into_training_but_not_into_retain(digits, tmp_path):
    split = make(digits, scenario="confusion", forget_size=0.4, forget_classes=(3, 8), seed=0)
    data = unlearning_data(digits, split)
    true = digits.y.numpy()
    given = data.forget.y.numpy()
    assert np.array_equal(given, np.where(true[split.forget] == 3, 8, 3))  # a ↔ b swapped
    # the original trains on train = retain ∪ forget with the swapped labels
    train = data.train
    pos = {int(i): k for k, i in enumerate(train.indices)}
    rows = [pos[int(i)] for i in split.forget]
    assert np.array_equal(train.y.numpy()[rows], given)
    # retrain's data (retain) never holds a forget example and has only true labels
    assert not set(data.retain.indices.tolist()) & set(split.forget.tolist())
    assert np.array_equal(data.retain.y.numpy(), true[data.retain.indices])
    for part in ("val", "val_domain", "test"):
        ts = getattr(data, part)
        assert np.array_equal(ts.y.numpy(), true[ts.indices])
    # the saved split reproduces the same training labels
    loaded = Split.load(split.save(tmp_path / "confusion.json"))
    assert np.array_equal(unlearning_data(digits, loaded).forget.y.numpy(), given)


def test_training_labels_is_identity_outside_confusion(digits):
    split = make(digits, scenario="partial-class", forget_size=0.5, forget_classes=(3,), seed=0)
    y = digits.y.numpy()[split.forget]
    assert np.array_equal(split.training_labels(split.forget, y), y)


def test_confusion_needs_two_classes(digits):
    with pytest.raises(ConfigError, match="exactly two classes"):
        SplitConfig(dataset="digits", scenario="confusion", forget_classes=(3,))
    with pytest.raises(DataError, match="rounds to an empty forget set"):
        make(digits, scenario="confusion", forget_size=1.0, forget_classes=(3, 8))
