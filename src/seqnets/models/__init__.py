"""Models built from layers, and the chapter's zoo."""

from . import zoo
from .sequential import Sequential, count_parameters

__all__ = ["Sequential", "count_parameters", "zoo"]
