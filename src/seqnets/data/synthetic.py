"""The chapter's synthetic series and its three forecasting tasks (spec §1)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..checks import positive_int
from ..errors import ConfigError

N_STEPS = 50
N_SERIES = 10_000
TRAIN, VALID = 7_000, 9_000  # split boundaries: [0, 7000), [7000, 9000), [9000, 10000)
TASKS = ("next_value", "next_10", "seq2seq")

Pair = tuple[np.ndarray, np.ndarray]


def _random_state(seed: int | np.random.RandomState | None) -> np.random.RandomState:
    if isinstance(seed, np.random.RandomState):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
        raise ConfigError(f"seed must be an integer or a numpy RandomState, got {seed!r}")
    try:
        return np.random.RandomState(seed)
    except ValueError as err:  # e.g. a negative seed or one above 2**32 - 1
        raise ConfigError(f"seed {seed!r} is not usable: {err}") from None


def generate_time_series(batch_size: int, n_steps: int,
                         seed: int | np.random.RandomState | None = None) -> np.ndarray:
    """``batch_size`` noisy two-sine series of ``n_steps``, float32 ``[batch, n_steps, 1]``.

    The draw order is the chapter's (``freq1, freq2, off1, off2`` as one ``[4, batch, 1]``
    uniform array, then the noise), from NumPy's legacy generator, so a seed gives the same
    series as the book's code after ``np.random.seed(seed)``.
    """
    batch_size = positive_int(batch_size, "batch_size")
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 2:
        raise ConfigError(f"n_steps must be an integer >= 2, got {n_steps!r}")
    rng = _random_state(seed)
    freq1, freq2, off1, off2 = rng.rand(4, batch_size, 1)
    t = np.linspace(0, 1, n_steps)
    series = 0.5 * np.sin((t - off1) * (freq1 * 10 + 10))
    series += 0.2 * np.sin((t - off2) * (freq2 * 20 + 20))
    series += 0.1 * (rng.rand(batch_size, n_steps) - 0.5)
    return series[..., np.newaxis].astype(np.float32)


def seq2seq_targets(series: np.ndarray, n_steps: int = N_STEPS, horizon: int = 10) -> np.ndarray:
    """``Y[:, t, k-1] = series[:, t + k]`` for t < n_steps, k = 1..horizon.

    Returns ``[B, n_steps, horizon]`` float32.
    """
    if series.shape[1] < n_steps + horizon:
        raise ConfigError(f"series of {series.shape[1]} steps are too short for "
                          f"{n_steps} inputs and {horizon} steps ahead")
    y = np.empty((series.shape[0], n_steps, horizon), dtype=np.float32)
    for k in range(1, horizon + 1):
        y[:, :, k - 1] = series[:, k:k + n_steps, 0]
    return y


@dataclass(frozen=True)
class Splits:
    """Train / valid / test pairs ``(X, Y)`` of one task."""

    task: str
    train: Pair
    valid: Pair
    test: Pair


def chapter_splits(task: str = "seq2seq", seed: int = 42, n_series: int = N_SERIES) -> Splits:
    """The chapter's data for ``task``: 70% / 20% / 10% of ``n_series`` series.

    ``"next_value"``: X ``[B, 50, 1]``, Y ``[B, 1]`` (step 51). ``"next_10"``: Y ``[B, 10]``
    (steps 51..60). ``"seq2seq"``: Y ``[B, 50, 10]``, the next 10 values at every step.
    """
    if task not in TASKS:
        raise ConfigError(f"task must be one of {TASKS}, got {task!r}")
    if isinstance(n_series, bool) or not isinstance(n_series, (int, np.integer)) \
            or n_series < 10:
        raise ConfigError(f"n_series must be an integer of at least 10, got {n_series!r}")
    ahead = 1 if task == "next_value" else 10
    series = generate_time_series(n_series, N_STEPS + ahead, seed)
    x = series[:, :N_STEPS]
    if task == "next_value":
        y = series[:, -1]
    elif task == "next_10":
        y = series[:, -10:, 0]
    else:
        y = seq2seq_targets(series)
    a, b = n_series * TRAIN // N_SERIES, n_series * VALID // N_SERIES
    return Splits(task, (x[:a], y[:a]), (x[a:b], y[a:b]), (x[b:], y[b:]))
