"""Hyperparameter search (Optuna) on the val split with the same budget for every method."""

from unlearnkit.tuning.config import SAMPLERS, TuneConfig
from unlearnkit.tuning.objective import OBJECTIVES
from unlearnkit.tuning.search import TuneOutcome, run_tuning

__all__ = ["OBJECTIVES", "SAMPLERS", "TuneConfig", "TuneOutcome", "run_tuning"]
