"""The argument checks every module shares: one wording for each rule, a ConfigError that
names the argument and what it got."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import ConfigError


def _is_int(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | np.integer)


def positive_int(value: Any, argument: str, least: int = 1) -> int:
    """``value`` as an int, if it is an integer ≥ ``least`` (1 by default)."""
    if not _is_int(value) or value < least:
        what = "a positive integer" if least == 1 else f"an integer >= {least}"
        raise ConfigError(f"{argument} must be {what}, got {value!r}")
    return int(value)


def non_negative_int(value: Any, argument: str) -> int:
    """``value`` as an int, if it is an integer ≥ 0."""
    if not _is_int(value) or value < 0:
        raise ConfigError(f"{argument} must be a non-negative integer, got {value!r}")
    return int(value)


def probability(value: Any, argument: str) -> float:
    """``value`` as a float, if it is a rate in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating) \
            or not 0.0 <= value < 1.0:
        raise ConfigError(f"{argument} must be a number in [0, 1), got {value!r}")
    return float(value)


def positive_number(value: Any, argument: str) -> float:
    """``value`` as a float, if it is a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number) \
            or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"{argument} must be a positive finite number, got {value!r}")
    return float(value)


def flag(value: Any, argument: str) -> bool:
    """``value``, if it is True or False."""
    if not isinstance(value, bool | np.bool_):
        raise ConfigError(f"{argument} must be True or False, got {value!r}")
    return bool(value)


__all__ = ["flag", "non_negative_int", "positive_int", "positive_number", "probability"]
