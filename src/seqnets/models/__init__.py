"""Models built from layers, the chapter's zoo, and the closed-form baselines."""

from . import baselines, zoo
from .ensemble import Ensemble
from .sequential import Sequential, count_parameters

__all__ = ["Ensemble", "Sequential", "baselines", "count_parameters", "zoo"]
