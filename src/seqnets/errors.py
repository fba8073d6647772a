"""The errors seqnets raises on purpose, in one small hierarchy users can catch.

Every class also derives from the built-in it refines (``ValueError`` or ``OSError``),
so code that catches the built-in keeps working.
"""

from __future__ import annotations

import re


class SeqnetsError(Exception):
    """Base class of every error seqnets raises on purpose."""


class ConfigError(SeqnetsError, ValueError):
    """An argument or an architecture config is invalid (names the argument and the fix)."""


class ShapeError(SeqnetsError, ValueError):
    """A tensor or array has the wrong shape for the layer, model or data it meets."""


class DataError(SeqnetsError, ValueError):
    """Input data is unusable as given (names the file, column or rows, and what to do)."""


class NotFittedError(SeqnetsError, ValueError):
    """A fitted-only method was called on an estimator that has not been fitted yet."""


class ModelFileError(SeqnetsError, OSError):
    """A model or checkpoint file is missing, truncated, tampered with or mismatched."""


class DivergenceError(SeqnetsError, FloatingPointError):
    """Training produced a NaN or infinite loss or gradient; the weights are those of the
    last good step (the message names the epoch and batch, and what to change)."""


class OutputExistsError(SeqnetsError, FileExistsError):
    """An output (a model folder, a file) exists and replacing it was not asked for
    (``overwrite=True``, ``--force``)."""


class TrainingInterrupted(SeqnetsError):
    """SIGINT or SIGTERM stopped :func:`~seqnets.fit` after a finished step; ``checkpoint``
    is the folder ``fit(..., resume=checkpoint)`` continues from, ``signal`` the signal's
    number."""

    def __init__(self, message: str, checkpoint: str, signal: int) -> None:
        super().__init__(message)
        self.checkpoint, self.signal = checkpoint, signal


_OPTION = re.compile(r"\b(fill|resample|agg|sort|wide|time|target|id)=('([^']*)'|True\b)")


def as_flags(message: str) -> str:
    """A message in command-line terms: the read options it names as the ``seqnets`` flags
    that set them (``fill='ffill'`` -> ``--fill ffill``, ``sort=True`` -> ``--sort``)."""
    return _OPTION.sub(lambda m: f"--{m[1]}" + ("" if m[2] == "True" else f" {m[3]}"),
                       message)
