"""The chapter "Processing Sequences Using RNNs and CNNs": its experiments
(:mod:`.experiments`), forecasting strategies (:mod:`.strategies`), the reproduction with its
report (:mod:`.reproduce`) and the speed benchmark against Keras (:mod:`.bench`)."""

from . import experiments, strategies
from .experiments import (
    BY_NAME,
    CORE,
    EXPERIMENTS,
    IMPROVED_ROWS,
    Experiment,
    describe,
    get,
    run,
)

__all__ = ["BY_NAME", "CORE", "EXPERIMENTS", "IMPROVED_ROWS", "Experiment", "describe",
           "experiments", "get", "run", "strategies"]
