"""Models: the FeatureClassifier interface, the built-in zoo, and an adapter for any module."""

from unlearnkit.models import zoo  # noqa: F401  (registers the built-in models)
from unlearnkit.models.adapter import ModuleAdapter, as_feature_classifier, unwrap
from unlearnkit.models.base import (
    FeatureClassifier,
    ModelConfig,
    build_model,
    model_specs,
    pool_to_vector,
    register_model,
)

__all__ = [
    "FeatureClassifier",
    "ModelConfig",
    "ModuleAdapter",
    "as_feature_classifier",
    "build_model",
    "model_specs",
    "pool_to_vector",
    "register_model",
    "unwrap",
]
