"""Unlearning methods: one file each, one registration line each (the imports below)."""

from unlearnkit.methods import (  # noqa: F401  (registration: one import per method)
    bad_teacher,
    finetune,
    gradient_ascent,
    l1_sparse,
    neggrad_plus,
    original,
    random_labels,
    retrain,
    salun,
    scrub,
    ssd,
    sure,
)
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
    unlearn_copy,
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
    "unlearn_copy",
]
