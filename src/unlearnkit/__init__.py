"""unlearnkit: machine unlearning of trained classifiers, with SURE as its flagship.

The shortest path (docs/api.md)::

    import unlearnkit
    unlearned, record = unlearnkit.unlearn(model, train=(x, y), forget=rows, val=(xv, yv),
                                           method="sure", feature_layer="avgpool")
    result = unlearnkit.evaluate({"sure": unlearned}, retrain=..., forget=..., retain=...,
                                 test=..., feature_layer="avgpool")

``unlearn`` and ``evaluate`` are imported on first use, so ``import unlearnkit`` (and the
CLI's ``--help``) stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from unlearnkit.errors import UnlearnkitError

if TYPE_CHECKING:
    from unlearnkit.api import UnlearnRecord, evaluate, unlearn

__all__ = ["UnlearnRecord", "UnlearnkitError", "__version__", "evaluate", "unlearn"]

_LAZY = {"unlearn", "evaluate", "UnlearnRecord"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from unlearnkit import api

        return getattr(api, name)
    raise AttributeError(f"module 'unlearnkit' has no attribute {name!r}")
