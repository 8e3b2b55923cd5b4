"""The Python API (unlearnkit.unlearn / evaluate) and the forward-hook adapter, with models
written by hand that subclass nothing of unlearnkit (a torchvision-style ResNet, an MLP)."""

from __future__ import annotations

import doctest
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import unlearnkit
from unlearnkit.data.splits import forget_rows, split_from_rows
from unlearnkit.errors import ConfigError, DataError
from unlearnkit.methods import MethodContext, create_method
from unlearnkit.models import FeatureClassifier, ModuleAdapter, as_feature_classifier

ROOT = Path(__file__).resolve().parents[1]
CPU = torch.device("cpu")


class BasicBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + x)


class TinyResNet(nn.Module):
    """torchvision's ResNet layout in miniature: conv1/bn1/relu, layer1, avgpool, flatten, fc."""

    def __init__(self, num_classes: int = 3, c: int = 8) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.relu = nn.ReLU()
        self.layer1 = nn.Sequential(BasicBlock(c))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer1(self.relu(self.bn1(self.conv1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def images(n: int = 240, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 3
    x = torch.randn(n, 1, 8, 8, generator=g) * 0.5
    x[:, :, : 3 * 1, :] += (y == 0).float().view(-1, 1, 1, 1)
    x[:, :, 5:, :] += (y == 1).float().view(-1, 1, 1, 1)
    return x, y


def fit(model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 60) -> None:
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    model.eval()


@pytest.fixture(scope="module")
def resnet_setup():
    torch.manual_seed(0)
    x, y = images()
    model = TinyResNet()
    fit(model, x[:160], y[:160])
    return model, (x[:160], y[:160]), (x[160:], y[160:])


# -- adapter --------------------------------------------------------------------------------


def test_adapter_splits_a_resnet_at_avgpool_and_reproduces_forward(resnet_setup):
    model, (x, _), _ = resnet_setup
    ad = as_feature_classifier(model, "avgpool", example=x[:4])
    assert isinstance(ad, ModuleAdapter) and ad.head_layer == "fc" and ad.embed_dim == 8
    with torch.no_grad():
        z = ad.features(x[:5])
        manual = torch.flatten(
            model.avgpool(model.layer1(model.relu(model.bn1(model.conv1(x[:5]))))), 1
        )
        assert torch.allclose(z, manual)
        assert torch.allclose(ad.head(z), model(x[:5]), atol=1e-6)
        # an intermediate layer is global-average-pooled
        h = model.layer1(model.relu(model.bn1(model.conv1(x[:5]))))
        assert torch.allclose(ad.features_at(x[:5], "layer1"), h.mean(dim=(2, 3)))
    assert ad.layer_dim("layer1", (1, 8, 8)) == 8


def test_adapter_features_skip_the_head(resnet_setup):
    model, (x, _), _ = resnet_setup
    calls = []
    handle = model.fc.register_forward_hook(lambda *a: calls.append(1))
    try:
        ModuleAdapter(model, "avgpool").features(x[:2])
    finally:
        handle.remove()
    assert calls == []


def test_adapter_refuses_a_split_that_does_not_reproduce_forward(resnet_setup):
    model, (x, _), _ = resnet_setup
    with pytest.raises(ConfigError, match="cannot take the flattened output of feature_layer"):
        as_feature_classifier(model, "layer1", example=x[:2])
    with pytest.raises(ConfigError, match="feature_layer 'pool' is not a layer of TinyResNet"):
        ModuleAdapter(model, "pool")
    with pytest.raises(ConfigError, match="both 'fc'"):
        ModuleAdapter(model, "fc")


def test_sure_on_a_plain_module_says_how_to_wrap_it(tiny_data):
    plain = nn.Sequential(nn.Flatten(), nn.Linear(64, 10))
    ctx = MethodContext(original=plain)
    with pytest.raises(ConfigError, match=r"plain nn.Module .*ModuleAdapter\(model, feature_layer"):
        create_method("sure", {"epochs": 1}).unlearn(plain, tiny_data, device=CPU, context=ctx)  # type: ignore[arg-type]


# -- forget rows ----------------------------------------------------------------------------


def test_forget_rows_from_indices_and_masks():
    assert forget_rows([4, 1], 6).tolist() == [1, 4]
    mask = np.zeros(6, dtype=bool)
    mask[[0, 5]] = True
    assert forget_rows(mask, 6).tolist() == [0, 5]
    assert forget_rows(torch.tensor([False, True, False]), 3).tolist() == [1]
    with pytest.raises(DataError, match=r"one entry per row \(6\), got shape \(5,\)"):
        forget_rows(np.zeros(5, dtype=bool), 6)
    with pytest.raises(DataError, match=r"must lie in \[0, 6\)"):
        forget_rows([6], 6)
    with pytest.raises(DataError, match="duplicates"):
        forget_rows([1, 1], 6)
    with pytest.raises(DataError, match="no rows selected"):
        forget_rows(np.zeros(6, dtype=bool), 6)
    with pytest.raises(DataError, match="integer row indices"):
        forget_rows([0.5], 6)


def test_split_from_rows_checks_invariants():
    labels = np.arange(10) % 2
    s = split_from_rows(labels, train=np.arange(6), forget=[0, 2], val=[6, 7], test=[8, 9])
    assert s.retain.tolist() == [1, 3, 4, 5] and s.val_domain.tolist() == [6, 7]
    with pytest.raises(DataError, match="not training rows"):
        split_from_rows(labels, train=np.arange(6), forget=[7], val=[6, 7], test=[8, 9])
    with pytest.raises(DataError, match="train and test overlap"):
        split_from_rows(labels, train=np.arange(6), forget=[1], val=[6, 7], test=[5, 9])


# -- unlearn / evaluate ---------------------------------------------------------------------


def test_unlearn_sure_on_a_resnet_returns_the_users_class(resnet_setup):
    model, train, val = resnet_setup
    before = {k: v.clone() for k, v in model.state_dict().items()}
    forget = torch.zeros(160, dtype=torch.bool)
    forget[:20] = True
    out, record = unlearnkit.unlearn(
        model, train=train, forget=forget, val=val, method="sure",
        feature_layer="avgpool", epochs=2, warmup_epochs=2, device="cpu",
    )  # fmt: skip
    assert type(out) is TinyResNet and out is not model
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not all(torch.equal(before[k], v) for k, v in out.state_dict().items())
    assert record.method == "sure" and record.sizes == {"forget": 20, "retain": 140, "val": 80}
    assert record.config["epochs"] == 2 and "disc_max_heldout_acc" in record.info
    assert len(record.history) >= 1


def test_unlearn_errors_say_what_is_missing(resnet_setup):
    model, train, val = resnet_setup
    rows = [0, 1, 2]
    with pytest.raises(ConfigError, match=r"method 'sure' needs the embedding: .*feature_layer="):
        unlearnkit.unlearn(model, train=train, forget=rows, val=val, method="sure", epochs=1)
    with pytest.raises(ConfigError, match=r"method 'sure' needs val=\(x, y\)"):
        unlearnkit.unlearn(model, train=train, forget=rows, feature_layer="avgpool")
    with pytest.raises(ConfigError, match="needs a fresh model of your architecture"):
        unlearnkit.unlearn(model, train=train, forget=rows, method="bad_teacher")
    with pytest.raises(ConfigError, match=r"retrain.*model_fn=<constructor of your model>"):
        unlearnkit.unlearn(model, train=train, forget=rows, method="retrain")
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['epoch'\] for FinetuneConfig"):
        unlearnkit.unlearn(model, train=train, forget=rows, method="finetune", epoch=1)
    with pytest.raises(ConfigError, match="not both train and retain"):
        unlearnkit.unlearn(model, train=train, retain=train, forget=rows, method="finetune")


def test_retrain_and_bad_teacher_use_the_users_constructor_and_training(resnet_setup):
    model, train, _ = resnet_setup
    seen: list[int] = []

    def my_fit(m: nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
        assert type(m) is TinyResNet
        seen.append(len(x))
        fit(m, x, y, steps=5)

    built: list[int] = []

    def make() -> nn.Module:
        built.append(1)
        return TinyResNet()

    forget = np.arange(30)
    out, _ = unlearnkit.unlearn(
        model, train=train, forget=forget, method="retrain", model_fn=make, train_fn=my_fit
    )
    assert type(out) is TinyResNet and seen == [130] and built == [1]
    out2, _ = unlearnkit.unlearn(
        model, train=train, forget=forget, method="bad_teacher", model_fn=make
    )
    assert type(out2) is TinyResNet and built == [1, 1]


def test_retrain_never_sees_a_forget_example(resnet_setup):
    model, (x, y), _ = resnet_setup
    got: list[torch.Tensor] = []
    unlearnkit.unlearn(
        model, train=(x, y), forget=[3, 7], method="retrain", model_fn=TinyResNet,
        train_fn=lambda m, xr, yr: got.append(xr),
    )  # fmt: skip
    retained = got[0]
    for i in (3, 7):
        assert not any(torch.equal(retained[j], x[i]) for j in range(len(retained)))
    assert len(retained) == len(x) - 2


def test_finetune_needs_no_recipe_in_the_context(tiny_data, tiny_original):
    ctx = MethodContext(original=tiny_original)
    import copy

    out = create_method("finetune", {"epochs": 1}).unlearn(
        copy.deepcopy(tiny_original), tiny_data, device=CPU, context=ctx
    )
    assert isinstance(out.model, FeatureClassifier) and len(out.history) == 1


def test_evaluate_matches_the_suite_on_hand_checked_accuracies(resnet_setup):
    model, (x, y), (xt, yt) = resnet_setup
    result = unlearnkit.evaluate(
        {"same": model}, retrain=model, forget=(x[:20], y[:20]), retain=(x[20:], y[20:]),
        test=(xt, yt), feature_layer="avgpool", attackers=("logreg",), mia=False,
    )  # fmt: skip
    with torch.no_grad():
        acc = float((model(x[:20]).argmax(1) == y[:20]).float().mean())
        test_acc = float((model(xt).argmax(1) == yt).float().mean())
    assert result.rows["same"]["forget_acc"] == pytest.approx(acc)
    assert result.rows["same"]["test_acc"] == pytest.approx(test_acc)
    assert result.avg_gap("same") == pytest.approx(0.0)


def test_unlearn_records_warnings(resnet_setup):
    model, train, val = resnet_setup
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, rec = unlearnkit.unlearn(
            model, train=train, forget=list(range(40)), val=(val[0][:10], val[1][:10]),
            feature_layer="avgpool", epochs=1, warmup_epochs=1,
        )  # fmt: skip
    expected = "validation-domain set (10) is smaller than the forget set"
    assert any(expected in w for w in rec.warnings)
    assert {str(w.message) for w in caught} >= set(rec.warnings)


# -- the README's snippet and docs/api.md run as written ------------------------------------


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


@pytest.mark.slow
def test_readme_library_snippet_runs_as_written():
    blocks = [b for b in python_blocks(ROOT / "README.md") if "unlearnkit.unlearn" in b]
    assert blocks, "README.md has no Python example calling unlearnkit.unlearn"
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert type(namespace["unlearned"]) is type(namespace["model"])
    assert not any(isinstance(v, FeatureClassifier) for v in namespace.values())


@pytest.mark.slow
def test_api_docs_doctests_pass():
    result = doctest.testfile(
        str(ROOT / "docs" / "api.md"),
        module_relative=False,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
    )
    assert result.attempted >= 10
    assert result.failed == 0
