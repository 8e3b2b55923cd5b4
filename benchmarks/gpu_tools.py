"""Helpers of benchmarks/gpu.sh (not part of the library).

  python benchmarks/gpu_tools.py smoke-config IN.toml OUT.toml
      write a toy-scale copy of a benchmark config (the --smoke run of gpu.sh)
  python benchmarks/gpu_tools.py throughput CONFIG.toml [--data-dir D] [--device cuda] [--epochs E]
      [--set KEY=VALUE ...]
      images/s of unlearnkit's training loop (train_model) next to a bare PyTorch loop on the
      same model, data, batch size, precision and memory format, in the same process

Both loops run on the config's first split (its training part) with its [model] and [train]
settings; the bare loop has no lr schedule, augmentation, NaN check or metrics, which is what
the difference measures. Each loop's first epoch (compilation, cuDNN autotuning, allocator
warm-up) is left out of its figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from unlearnkit.config import load_toml
from unlearnkit.data import load_dataset
from unlearnkit.data.batching import batch_indices, unlearning_data
from unlearnkit.data.splits import SplitConfig, make_split
from unlearnkit.methods import get_method_class
from unlearnkit.models import ModelConfig
from unlearnkit.training import TrainConfig, autocast, new_model, set_memory_format, train_model
from unlearnkit.utils import resolve_device

#: the toy scale of ``gpu.sh --smoke`` (CPU, a few minutes); torch.compile is left out there:
#: inductor's C++ compilation of a ResNet-18 alone takes minutes on a small CPU
SMOKE_SPLIT = {"train_size": 600, "val_size": 300, "test_size": 300}
SMOKE_MODEL = {"width": 4}
SMOKE_TRAIN = {"epochs": 1, "batch_size": 64, "compile": False}
SMOKE_EVAL = {"max_per_class": 150, "max_retain": 300, "relearn": False}


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} as TOML")


def _toml(data: dict[str, Any]) -> str:
    """A TOML writer for benchmark configs: tables of scalars/lists, arrays of tables, and one
    level of nested tables (``[methods.<name>]``)."""
    lines: list[str] = []

    def table(header: str, body: dict[str, Any]) -> None:
        lines.append(header)
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in body.items() if not isinstance(v, dict))
        lines.append("")

    for name, section in data.items():
        if name == "grid":
            for key, rows in section.items():
                for row in rows:
                    table(f"[[grid.{key}]]", row)
        elif name == "methods":
            for method, body in section.items():
                table(f"[methods.{method}]", body)
        else:
            table(f"[{name}]", section)
    return "\n".join(lines)


def smoke_config(src: Path, dst: Path) -> None:
    """Shrink a benchmark config: one seed, tiny splits, a narrow model, one epoch everywhere."""
    cfg = load_toml(src)
    cfg["benchmark"] = {**cfg["benchmark"], "name": cfg["benchmark"]["name"] + "-smoke"}
    cfg["benchmark"]["seeds"] = cfg["benchmark"]["seeds"][:1]
    cfg["benchmark"]["device"] = "auto"
    cfg["grid"]["split"] = [{**s, **SMOKE_SPLIT} for s in cfg["grid"]["split"]]
    cfg["model"] = {**cfg.get("model", {}), **SMOKE_MODEL}
    cfg["train"] = {**cfg.get("train", {}), **SMOKE_TRAIN}
    cfg["eval"] = {**cfg.get("eval", {}), **SMOKE_EVAL}
    methods = cfg.setdefault("methods", {})
    for name in cfg["benchmark"]["methods"]:
        fields = get_method_class(name).config_cls.field_names()
        shrink = {k: v for k, v in (("epochs", 1), ("warmup_epochs", 0)) if k in fields}
        methods[name] = {**methods.get(name, {}), **shrink}
    dst.write_text(_toml(cfg))


def _bare_epoch(model, opt, x, y, batch_size, amp, gen) -> None:
    for idx in batch_indices(len(x), batch_size, generator=gen, device=x.device):
        with autocast(x.device, amp):
            loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def throughput(
    config: Path, data_dir: str | None, device_name: str, epochs: int, overrides: list[str]
) -> None:
    cfg = load_toml(config)
    split_cfg = SplitConfig.from_dict(cfg["grid"]["split"][0])
    model_cfg = ModelConfig.from_dict(cfg.get("model", {}))
    sets = dict(item.split("=", 1) for item in overrides)
    recipe = TrainConfig.from_dict({**cfg.get("train", {}), **sets, "epochs": epochs})
    device = resolve_device(device_name)
    ds = load_dataset(split_cfg.dataset, data_dir)
    data = unlearning_data(ds, make_split(ds, split_cfg), augment=recipe.augment)
    train = data.train
    n = len(train)

    model = new_model(model_cfg, data.input_shape, data.num_classes, recipe.seed)
    res = train_model(
        model, train, recipe, device=device, augment=data.augment, show_progress=False
    )
    loop = n / (sum(res.epoch_times[1:]) / max(1, len(res.epoch_times) - 1))

    bare = new_model(model_cfg, data.input_shape, data.num_classes, recipe.seed).to(device)
    set_memory_format(bare, recipe.channels_last)
    forward = torch.compile(bare) if recipe.compile else bare
    opt = torch.optim.SGD(
        bare.parameters(), lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay
    )
    x, y = train.x.to(device), train.y.to(device)
    gen = torch.Generator().manual_seed(0)
    bare.train()
    times = []
    for _ in range(epochs):
        _sync(device)
        t0 = time.perf_counter()
        _bare_epoch(forward, opt, x, y, recipe.batch_size, recipe.amp, gen)
        _sync(device)
        times.append(time.perf_counter() - t0)
    bare_ips = n / (sum(times[1:]) / max(1, len(times) - 1))
    opts = f"amp={recipe.amp} channels_last={recipe.channels_last} compile={recipe.compile}"
    print(
        f"throughput {split_cfg.dataset} n={n} {model_cfg.name} batch={recipe.batch_size} "
        f"{opts} device={device}: training loop {loop:,.0f} images/s, bare PyTorch loop "
        f"{bare_ips:,.0f} images/s (loop/bare {loop / bare_ips:.2f}; epochs after the first: "
        f"loop {[round(t, 2) for t in res.epoch_times[1:]]} s, bare "
        f"{[round(t, 2) for t in times[1:]]} s)",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("smoke-config")
    s.add_argument("src", type=Path)
    s.add_argument("dst", type=Path)
    t = sub.add_parser("throughput")
    t.add_argument("config", type=Path)
    t.add_argument("--data-dir")
    t.add_argument("--device", default="auto")
    t.add_argument("--epochs", type=int, default=3, help="epochs per loop (the first is warm-up)")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="[train] key")
    args = p.parse_args(argv)
    if args.cmd == "smoke-config":
        smoke_config(args.src, args.dst)
    else:
        if args.epochs < 2:
            p.error("--epochs must be >= 2 (the first epoch is warm-up)")
        if any("=" not in item for item in args.set):
            p.error("--set expects KEY=VALUE, e.g. --set amp=bf16")
        throughput(args.config, args.data_dir, args.device, args.epochs, args.set)
    return 0


if __name__ == "__main__":
    sys.exit(main())
