"""Models: the FeatureClassifier interface and the built-in zoo."""

from unlearnkit.models import zoo  # noqa: F401  (registers the built-in models)
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
    "build_model",
    "model_specs",
    "pool_to_vector",
    "register_model",
]
