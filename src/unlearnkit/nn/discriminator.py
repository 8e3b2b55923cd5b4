"""Domain discriminator ``G_d``: an MLP on embeddings that returns one logit per example
(use ``binary_cross_entropy_with_logits``). DANN used 1024-1024 hidden units with ReLU and
dropout on bottleneck features; sizes and dropout are configurable here."""

from __future__ import annotations

import torch
from torch import nn

from unlearnkit.errors import ConfigError


class DomainDiscriminator(nn.Module):
    """``in_dim → [Linear → ReLU → Dropout] × len(hidden) → Linear → 1 logit``."""

    def __init__(
        self, in_dim: int, hidden: tuple[int, ...] = (256, 256), dropout: float = 0.0
    ) -> None:
        super().__init__()
        if in_dim < 1:
            raise ConfigError(f"discriminator input width must be >= 1, got {in_dim}")
        if any(h < 1 for h in hidden):
            raise ConfigError(f"discriminator hidden widths must be >= 1, got {list(hidden)}")
        if not 0 <= dropout < 1:
            raise ConfigError(f"discriminator dropout must be in [0, 1), got {dropout}")
        layers: list[nn.Module] = []
        width = in_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Logits of shape ``(N,)`` (domain 1 = forget, 0 = validation)."""
        return self.net(z).squeeze(-1)
