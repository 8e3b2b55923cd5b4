"""SURE: Selective Unlearning via Representation Erasure (Sepahvand, Triantafillou,
Larochelle, Precup, Clark, Roy, Dziugaite; ICLR 2025) — domain-adversarial training (DANN,
Ganin et al. 2016) that makes forget-set embeddings indistinguishable from embeddings of
held-out data of the same distribution.

Modules: feature extractor ``G_f`` (the model's body), label head ``G_y``, and a domain
discriminator ``G_d`` on the representation. Domain 1 = forget set ``D_f``, domain 0 = the
validation-domain set ``D_v`` (held out, same distribution as ``D_f``). With the gradient
reversal layer ``R`` (identity forward, gradient × −λ backward):

    L_d = BCEWithLogits(G_d(R(G_f(x))), 1[x ∈ D_f])          (paper, Eq. 2)
    L   = CE(G_y(G_f(x_r)), y_r) + w · L_d                      (retain CE keeps utility)

``G_d`` descends ``L_d``; through ``R`` the features ascend it, i.e. learn to fool ``G_d``.

Confirmed by the paper: the three modules, the two domains (forget vs held-out data of the
same distribution), the GRL and Eq. 2, retain cross-entropy for utility. Everything else is a
*reconstruction* exposed as configuration (see docs/sure.md): the update scheme (alternating
k discriminator steps per feature step, by default), a discriminator warm-up on frozen
embeddings, Adam for the discriminator, gradient clipping, the λ schedule, the loss weight w,
the discriminator's shape, the representation layer, the stopping rule.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from unlearnkit.config import option
from unlearnkit.data.batching import CyclingSampler, TensorSet, UnlearningData, batch_indices
from unlearnkit.data.domain0 import DOMAIN0_SOURCES, domain0_set
from unlearnkit.errors import ConfigError
from unlearnkit.methods.base import Batch, LoopConfig, UnlearningMethod, register_method
from unlearnkit.methods.space import Choice, LogUniform, SearchSpace
from unlearnkit.models import FeatureClassifier
from unlearnkit.models.adapter import require_feature_classifier
from unlearnkit.nn import DomainDiscriminator, GradientReversal, lambda_at
from unlearnkit.nn.layered import (
    LayeredDiscriminator,
    layer_representations,
    layered_accuracy,
    layered_domain_loss,
)
from unlearnkit.nn.schedules import LAMBDA_SCHEDULES
from unlearnkit.utils import check_finite, eval_mode, log

R = "(reconstruction) "


@dataclass(frozen=True)
class SureConfig(LoopConfig):
    """SURE's hyperparameters. Options marked (reconstruction) are not confirmed by the paper;
    their defaults were chosen on real data (docs/sure.md)."""

    epochs: int = option(
        10,
        R + "epochs over the forget set (each forget batch is paired with "
        "a retain batch and a validation-domain batch)",
    )
    batch_size: int = option(64, "batch size of each of the forget, validation and retain batches")
    lr: float = option(0.005, R + "learning rate of the model (feature extractor and head)")
    grad_clip: float = option(
        5.0, R + "clip the model's gradient norm (0 = off); stabilises the adversarial game"
    )
    domain_weight: float = option(
        1.0, R + "w in L = CE_retain + w·L_d: the forgetting/utility dial"
    )
    lambda_max: float = option(
        1.0, R + "λ of the gradient reversal layer (its maximum when scheduled)"
    )
    lambda_schedule: str = option(
        "constant",
        R + "λ over progress p: constant, or DANN's 2/(1+exp(−γp))−1 scaled by lambda_max",
        choices=LAMBDA_SCHEDULES,
    )
    dann_gamma: float = option(10.0, "γ of the DANN λ schedule")
    update: str = option(
        "alternating",
        R + "alternating: k discriminator steps then one feature "
        "step; joint: one step of everything (DANN's form)",
        choices=("alternating", "joint"),
    )
    disc_steps: int = option(1, R + "k: discriminator steps per feature step (alternating)")
    disc_hidden: tuple[int, ...] = option((256, 256), R + "hidden widths of the discriminator MLP")
    disc_dropout: float = option(0.0, R + "dropout in the discriminator")
    disc_optimizer: str = option(
        "adam", R + "optimiser of the discriminator", choices=("adam", "sgd")
    )
    disc_lr: float = option(1e-3, R + "learning rate of the discriminator")
    disc_grad_clip: float = option(5.0, R + "clip the discriminator's gradient norm (0 = off)")
    warmup_epochs: int = option(
        30,
        R + "max epochs of discriminator warm-up on frozen embeddings "
        "(stops earlier when held-out domain accuracy plateaus)",
    )
    warmup_patience: int = option(
        3,
        "warm-up stops after this many epochs without a gain of 0.005 in held-out domain accuracy",
    )
    layer: str | None = option(
        None,
        R + "representation to erase: None = penultimate "
        "embedding, or a named block of the model (pooled to a vector)",
    )
    layers: tuple[str, ...] = option(
        (),
        "(extension, not in the paper) erase at several representations at once: named blocks "
        "of the model, one discriminator each, read in one forward pass; empty = the single "
        "`layer` (docs/sure.md)",
    )
    layer_weights: tuple[float, ...] = option(
        (),
        "(extension) weight w_k of each listed layer's domain loss, L_d = Σ_k w_k·L_d^k; "
        "empty = 1 for every layer",
    )
    holdout_fraction: float = option(
        0.2,
        R + "fraction of forget and validation-domain examples "
        "kept out of the steps to measure the discriminator",
    )
    stop_band: float = option(
        0.05,
        R + "early stop when held-out domain accuracy stays within "
        "0.5 ± stop_band (0 = off: run all epochs)",
    )
    stop_patience: int = option(2, "epochs the held-out accuracy must stay in the band")
    retain_epochs: int = option(0, R + "retain-only fine-tuning epochs after the adversarial phase")
    domain0: str = option(
        "matched",
        "(extension, ablation) SURE's domain-0 examples: matched = held-out val of the forget "
        "distribution (the paper); other-classes = held-out val of the other classes; "
        "augmented-retain = crop+flip-augmented retain examples (docs/sure.md)",
        choices=DOMAIN0_SOURCES,
    )
    min_disc_margin: float = option(
        0.05,
        "warn when the discriminator's held-out accuracy never "
        "exceeds 0.5 + this (SURE is then a no-op)",
    )

    def validate(self) -> None:
        super().validate()
        if not self.lambda_max >= 0:
            raise ConfigError(f"lambda_max (λ) must be >= 0, got {self.lambda_max}")
        if not self.domain_weight >= 0:
            raise ConfigError(f"domain_weight must be >= 0, got {self.domain_weight}")
        if self.disc_steps < 1:
            raise ConfigError(f"disc_steps must be >= 1, got {self.disc_steps}")
        if not self.disc_hidden or any(h < 1 for h in self.disc_hidden):
            raise ConfigError(
                f"disc_hidden must list positive widths, got {list(self.disc_hidden)}"
            )
        if not 0 <= self.disc_dropout < 1:
            raise ConfigError(f"disc_dropout must be in [0, 1), got {self.disc_dropout}")
        if not self.disc_lr > 0:
            raise ConfigError(f"disc_lr must be > 0, got {self.disc_lr}")
        self._validate_layers()
        if not 0 <= self.holdout_fraction < 1:
            raise ConfigError(f"holdout_fraction must be in [0, 1), got {self.holdout_fraction}")
        if not 0 <= self.stop_band < 0.5:
            raise ConfigError(f"stop_band must be in [0, 0.5), got {self.stop_band}")
        for name in ("warmup_epochs", "warmup_patience", "stop_patience", "retain_epochs"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")

    def _validate_layers(self) -> None:
        if self.layers and self.layer is not None:
            raise ConfigError(
                f"set either layer ({self.layer!r}) or layers ({list(self.layers)}), not both"
            )
        if len(set(self.layers)) != len(self.layers):
            raise ConfigError(f"layers has duplicates: {list(self.layers)}")
        if self.layer_weights and len(self.layer_weights) != len(self.layers):
            raise ConfigError(
                f"layer_weights needs one weight per layer: {len(self.layers)} layers "
                f"{list(self.layers)}, got {len(self.layer_weights)} weights"
            )
        if any(not (w >= 0 and np.isfinite(w)) for w in self.layer_weights):
            raise ConfigError(f"layer_weights must be finite and >= 0, got {self.layer_weights}")


def _split_holdout(
    data: TensorSet, fraction: float, gen: torch.Generator
) -> tuple[TensorSet, TensorSet]:
    """Seeded split into (steps part, held-out part); the held-out part may be empty."""
    n = len(data)
    k = int(round(fraction * n)) if n >= 10 else 0
    perm = torch.randperm(n, generator=gen).numpy()
    return data.subset(np.sort(perm[k:])), data.subset(np.sort(perm[:k]))


@register_method
class Sure(UnlearningMethod):
    """SURE (see module docstring)."""

    name = "sure"
    config_cls = SureConfig
    description = "representation erasure by domain-adversarial training (forget vs held-out)"
    paper = "Sepahvand et al., ICLR 2025 (SURE); Ganin et al., JMLR 2016 (DANN)"
    search_space: ClassVar[SearchSpace] = {
        "lr": LogUniform(1e-3, 3e-2),
        "domain_weight": LogUniform(0.3, 3.0),
        "epochs": Choice((5, 10, 20)),
        # the knobs the no-op warning names: a discriminator that cannot separate forget from
        # val makes SURE a no-op, so the tuner searches them too
        "warmup_epochs": Choice((10, 30, 60)),
        "disc_lr": LogUniform(1e-4, 1e-2),
    }
    primary = "forget"
    config: SureConfig

    # -- setup: held-out parts, discriminator, warm-up --------------------------------------
    def setup(self, model: FeatureClassifier, data: UnlearningData) -> None:
        cfg = self.config
        require_feature_classifier(model, self.name)
        val_domain = domain0_set(data, cfg.domain0, self.generator)
        if len(val_domain) == 0:
            raise ConfigError(
                "SURE needs a non-empty validation-domain set (held-out examples of the forget "
                "distribution); the split has none: raise --val-size or pick classes present in val"
            )
        for layer in (cfg.layer, *cfg.layers):
            if layer is not None and layer not in model.layer_names():
                raise ConfigError(
                    f"unknown layer '{layer}' for SURE; this model's layers are: "
                    f"{', '.join(model.layer_names())} (or leave it unset for the embedding)"
                )
        if len(val_domain) < len(data.forget):
            warnings.warn(
                f"SURE: the validation-domain set ({len(val_domain)}) is smaller than the "
                f"forget set ({len(data.forget)}); it is cycled, which may let the discriminator "
                "memorise it. A larger val split helps.",
                stacklevel=2,
            )
        self.forget_steps, self.forget_held = _split_holdout(
            data.forget, cfg.holdout_fraction, self.generator
        )
        self.val_steps, self.val_held = _split_holdout(
            val_domain, cfg.holdout_fraction, self.generator
        )
        self.disc: torch.nn.Module
        if cfg.layers:  # one discriminator per layer (extension; nn.layered)
            dims = [model.layer_dim(n, data.input_shape) for n in cfg.layers]
            self.layer_weights = list(cfg.layer_weights) or [1.0] * len(cfg.layers)
            self.disc = LayeredDiscriminator(dims, cfg.disc_hidden, cfg.disc_dropout)
        else:
            dim = model.layer_dim(cfg.layer, data.input_shape)
            self.disc = DomainDiscriminator(dim, cfg.disc_hidden, cfg.disc_dropout)
        self.disc.to(self.device)
        self.grl = GradientReversal(
            lambda_at(cfg.lambda_schedule, 0.0, cfg.lambda_max, cfg.dann_gamma)
        )
        if cfg.disc_optimizer == "adam":
            self.disc_opt: torch.optim.Optimizer = torch.optim.Adam(
                self.disc.parameters(), lr=cfg.disc_lr
            )
        else:
            self.disc_opt = torch.optim.SGD(self.disc.parameters(), lr=cfg.disc_lr, momentum=0.9)
        self.val_sampler = CyclingSampler(
            self.val_steps, cfg.batch_size, self.generator, data.augment
        )
        self.retain_sampler = CyclingSampler(
            data.retain, cfg.batch_size, self.generator, data.augment
        )
        self.disc_forget_sampler = CyclingSampler(
            self.forget_steps, cfg.batch_size, self.generator, data.augment
        )
        self._disc_hits = 0
        self._disc_seen = 0
        self.max_heldout = 0.5
        self.warmup_history = self._warmup(model)

    def represent(self, model: FeatureClassifier, x: torch.Tensor) -> torch.Tensor:
        if self.config.layers:
            return layer_representations(model, x, self.config.layers)[0]
        return model.features_at(x, self.config.layer)

    def _heldout_sets(self) -> tuple[TensorSet, TensorSet]:
        # with no held-out examples (tiny sets), fall back to the step sets (train accuracy)
        f = self.forget_held if len(self.forget_held) else self.forget_steps
        v = self.val_held if len(self.val_held) else self.val_steps
        return f, v

    def domain_accuracy(self, model: FeatureClassifier, forget: TensorSet, val: TensorSet) -> float:
        """Balanced accuracy of the discriminator on (forget = 1, validation = 0); with
        several layers, that of the most accurate layer's discriminator."""
        if len(self.config.layers) > 1:  # one layer: (N,) logits, the code below
            return self._disc_acc_on(self._embed(model, forget), self._embed(model, val))
        accs = []
        with eval_mode(model), eval_mode(self.disc):
            for data, target in ((forget, 1.0), (val, 0.0)):
                hits = 0
                for start in range(0, len(data), 1024):
                    z = self.represent(model, data.x[start : start + 1024].to(self.device))
                    pred = (self.disc(z) > 0).float()
                    hits += int((pred == target).sum())
                accs.append(hits / max(len(data), 1))
        return float(np.mean(accs))

    def _embed(self, model: FeatureClassifier, data: TensorSet) -> torch.Tensor:
        with eval_mode(model):
            return (
                torch.cat(
                    [
                        self.represent(model, data.x[s : s + 1024].to(self.device))
                        for s in range(0, len(data), 1024)
                    ]
                )
                if len(data)
                else torch.empty(0)
            )

    def _warmup(self, model: FeatureClassifier) -> list[float]:
        """Train the discriminator on frozen embeddings until held-out accuracy plateaus."""
        cfg = self.config
        if cfg.warmup_epochs == 0:
            return []
        zf, zv = self._embed(model, self.forget_steps), self._embed(model, self.val_steps)
        hf, hv = self._heldout_sets()
        zhf, zhv = self._embed(model, hf), self._embed(model, hv)
        history: list[float] = []
        best, stale = 0.0, 0
        n = max(len(zf), len(zv))
        for _epoch in range(cfg.warmup_epochs):
            self.disc.train()
            for idx in batch_indices(n, cfg.batch_size, generator=self.generator):
                fi = idx % len(zf)
                vi = torch.randint(len(zv), (len(idx),), generator=self.generator)
                self._disc_update(zf[fi.to(zf.device)], zv[vi.to(zv.device)])
            acc = self._disc_acc_on(zhf, zhv)
            history.append(acc)
            if acc > best + 0.005:
                best, stale = acc, 0
            else:
                stale += 1
                if stale >= cfg.warmup_patience:
                    break
        self.max_heldout = max(self.max_heldout, max(history))
        show = self.context.show_progress if self.context else True
        log(
            f"[sure] discriminator warm-up: {len(history)} epochs, held-out domain accuracy "
            f"{history[0]:.3f} → {history[-1]:.3f}",
            enabled=show,
        )
        return history

    def _disc_acc_on(self, zf: torch.Tensor, zv: torch.Tensor) -> float:
        if len(self.config.layers) > 1:
            with eval_mode(self.disc), torch.no_grad():
                return max(layered_accuracy(self.disc(zf), self.disc(zv)))
        with eval_mode(self.disc):
            af = float((self.disc(zf) > 0).float().mean()) if len(zf) else 0.5
            av = float((self.disc(zv) <= 0).float().mean()) if len(zv) else 0.5
        return 0.5 * (af + av)

    def _disc_update(self, zf: torch.Tensor, zv: torch.Tensor) -> float:
        """One discriminator step on detached representations; returns its loss."""
        z = torch.cat([zf.detach(), zv.detach()])
        target = torch.cat([torch.ones(len(zf)), torch.zeros(len(zv))]).to(z.device)
        logits = self.disc(z)
        loss = self._bce(logits, target)
        check_finite(loss, "SURE discriminator loss")
        self.disc_opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.disc_grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.disc.parameters(), self.config.disc_grad_clip)
        self.disc_opt.step()
        hits = (logits.detach() > 0).float() == target.view(-1, *[1] * (logits.ndim - 1))
        self._disc_hits += int(hits.sum())
        self._disc_seen += hits.numel()
        return float(loss.detach())

    # -- the adversarial step ---------------------------------------------------------------
    def primary_set(self, data: UnlearningData) -> TensorSet:
        return self.forget_steps if hasattr(self, "forget_steps") else data.forget

    def batches(self, data: UnlearningData) -> Iterator[Batch]:
        cfg = self.config
        fs = self.forget_steps
        for idx in batch_indices(len(fs), cfg.batch_size, generator=self.generator):
            xf, yf = fs.take(idx, generator=self.generator, augment=data.augment)
            xv, yv = self.val_sampler.next()
            xv, yv = xv[: len(xf)], yv[: len(xf)]
            yield {"forget": (xf, yf), "val_domain": (xv, yv), "retain": self.retain_sampler.next()}

    def domain_loss(
        self, z_forget: torch.Tensor, z_val: torch.Tensor, *, reverse: bool
    ) -> torch.Tensor:
        """``L_d``: BCE-with-logits of ``G_d(R(z))`` against forget = 1, validation = 0."""
        z = torch.cat([z_forget, z_val])
        if reverse:
            z = self.grl(z)
        target = torch.cat([torch.ones(len(z_forget)), torch.zeros(len(z_val))]).to(z.device)
        return self._bce(self.disc(z), target)

    def _bce(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.config.layers:  # Σ_k w_k · BCE_k (nn.layered)
            return layered_domain_loss(logits, target, self.layer_weights)
        return F.binary_cross_entropy_with_logits(logits, target)

    def loss(self, model: FeatureClassifier, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """Feature-side loss ``CE(retain) + w·L_d(G_d(R(G_f(x))))``.

        Retain, forget and validation inputs go through the network in ONE forward pass, so
        that BatchNorm layers see a mixed batch: separate single-class forget/validation
        batches would drag the running statistics away from the data distribution (a
        reconstruction detail; it matters for models with BatchNorm).
        """
        xr, yr = batch["retain"]
        xf, _ = batch["forget"]
        xv, _ = batch["val_domain"]
        nr, nf = len(xr), len(xf)
        x = torch.cat([xr, xf, xv])
        if self.config.layers:  # every erased layer and the embedding from one pass
            z, emb = layer_representations(model, x, self.config.layers)
            logits = model.head(emb[:nr])
        elif self.config.layer is None:
            z = model.features(x)
            logits = model.head(z[:nr])
        else:
            logits = model(x)[:nr]
            z = model.features_at(x, self.config.layer)
        ce = F.cross_entropy(logits, yr)
        ld = self.domain_loss(z[nr : nr + nf], z[nr + nf :], reverse=True)
        total = ce + self.config.domain_weight * ld
        return total, {"ce": float(ce.detach()), "domain_loss": float(ld.detach())}

    def step(
        self, model: FeatureClassifier, batch: Batch, optimizer: torch.optim.Optimizer
    ) -> dict[str, float]:
        cfg = self.config
        disc_loss = 0.0
        if cfg.update == "alternating":
            # k discriminator steps on fresh forget/validation batches (features frozen)
            for i in range(cfg.disc_steps):
                if i == 0:
                    xf, xv = batch["forget"][0], batch["val_domain"][0]
                else:
                    xf = self.disc_forget_sampler.next()[0].to(self.device)
                    xv = self.val_sampler.next()[0].to(self.device)[: len(xf)]
                # eval mode: reading the features must not update BatchNorm statistics
                with eval_mode(model):
                    zf, zv = self.represent(model, xf), self.represent(model, xv)
                disc_loss = self._disc_update(zf, zv)
            # one feature step: the discriminator is only read (its grads are discarded)
            parts = super().step(model, batch, optimizer)
            self.disc.zero_grad(set_to_none=True)
            parts["disc_loss"] = disc_loss
            return parts
        # joint (DANN): one backward; the discriminator descends L_d, features ascend it via R
        total, parts = self.loss(model, batch)
        check_finite(total, "SURE loss", self.divergence_hint())
        optimizer.zero_grad(set_to_none=True)
        self.disc_opt.zero_grad(set_to_none=True)
        total.backward()
        self.clip(model)
        if cfg.disc_grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.disc.parameters(), cfg.disc_grad_clip)
        optimizer.step()
        self.disc_opt.step()
        return {"loss": float(total.detach()), **parts}

    def after_step(self, model: FeatureClassifier, progress_frac: float) -> None:
        cfg = self.config
        self.grl.set_lambda(
            lambda_at(cfg.lambda_schedule, progress_frac, cfg.lambda_max, cfg.dann_gamma)
        )

    def end_epoch(
        self, model: FeatureClassifier, data: UnlearningData, epoch: int
    ) -> dict[str, float]:
        hf, hv = self._heldout_sets()
        held = self.domain_accuracy(model, hf, hv)
        self.max_heldout = max(self.max_heldout, held)
        train_acc = self._disc_hits / max(self._disc_seen, 1)
        self._disc_hits = self._disc_seen = 0
        return {"disc_train_acc": train_acc, "disc_heldout_acc": held, "lambda": self.grl.lambd}

    def should_stop(self, history: list[dict[str, float]]) -> bool:
        cfg = self.config
        if cfg.stop_band <= 0 or len(history) < cfg.stop_patience:
            return False
        recent = history[-cfg.stop_patience :]
        return all(abs(r["disc_heldout_acc"] - 0.5) <= cfg.stop_band for r in recent)

    def divergence_hint(self) -> str:
        return (
            "Lower lr or domain_weight, use update='alternating' with grad_clip, or a "
            "smaller lambda_max."
        )

    def finish(self, model: FeatureClassifier, data: UnlearningData) -> dict[str, Any]:
        cfg = self.config
        if cfg.retain_epochs > 0:
            opt = torch.optim.SGD(
                model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
            )
            model.train()
            for _ in range(cfg.retain_epochs):
                for xr, yr in data.retain.batches(
                    cfg.batch_size, generator=self.generator, augment=data.augment
                ):
                    loss = F.cross_entropy(model(xr.to(self.device)), yr.to(self.device))
                    check_finite(loss, "SURE retain-only loss")
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    self.clip(model)
                    opt.step()
        margin = self.max_heldout - 0.5
        noop = margin < cfg.min_disc_margin
        if noop:
            warnings.warn(
                f"SURE: the discriminator's held-out domain accuracy never exceeded "
                f"{self.max_heldout:.3f} (chance 0.5): the reversed gradients carry no signal and "
                "SURE is close to a no-op. Increase warmup_epochs or disc_lr, or check that the "
                "forget and validation-domain sets are separable for the original model.",
                stacklevel=2,
            )
        return {
            "disc_warmup_heldout_acc": self.warmup_history,
            "disc_max_heldout_acc": self.max_heldout,
            "disc_noop_warning": noop,
            "heldout_sizes": {"forget": len(self.forget_held), "val_domain": len(self.val_held)},
        }
