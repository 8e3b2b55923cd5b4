"""Unlearning methods: one file each, one registration line each (the imports below)."""

from unlearnkit.methods import finetune, original, retrain, sure  # noqa: F401  (registration)
from unlearnkit.methods.base import (
    LoopConfig,
    MethodConfig,
    MethodContext,
    UnlearningMethod,
    UnlearnOutcome,
    create_method,
    get_method_class,
    method_names,
    register_method,
)

__all__ = [
    "LoopConfig",
    "MethodConfig",
    "MethodContext",
    "UnlearnOutcome",
    "UnlearningMethod",
    "create_method",
    "get_method_class",
    "method_names",
    "register_method",
]
