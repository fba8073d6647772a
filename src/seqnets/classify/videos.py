"""Synthetic videos told apart only by motion (the chapter's video exercise, offline).

Each video shows one bar (a soft-edged rectangle) on a noisy background, ``frames`` frames of
``size`` × ``size`` pixels; the field wraps around at its edges (a bar leaving on the right
comes back on the left). Its first frame is drawn from the same distribution whatever the
class (position uniform over the field, length, width, angle, brightness), so the first
frame does not tell the class; the motion does:

- ``left`` / ``right`` / ``up`` / ``down``: the bar slides that way, 0.6–1 pixel a frame;
- ``growing``: the bar lengthens by 0.3–0.5 pixel a frame at each end;
- ``rotating``: the bar turns by 12°–20° a frame, either way.

Every video's draws come from ``(seed, class, index)``, so video ``i`` of a class is the same
whatever ``n_per_class`` is; lengths vary between ``min_frames`` and ``frames``.
"""

from __future__ import annotations

import numpy as np

from ..checks import positive_int
from ..errors import ConfigError

MOTIONS = ("left", "right", "up", "down", "growing", "rotating")


def _frame(size: int, cx: float, cy: float, half_length: float, half_width: float,
           angle: float, brightness: float) -> np.ndarray:
    grid = np.arange(size) + 0.5
    x, y = np.meshgrid(grid, grid)  # x across, y down
    dx = (x - cx + size / 2) % size - size / 2  # the field wraps around (a torus), so that
    dy = (y - cy + size / 2) % size - size / 2  # every position is as likely in every class
    c, s = np.cos(angle), np.sin(angle)
    u = dx * c + dy * s        # along the bar
    v = -dx * s + dy * c       # across it
    outside = np.maximum(np.abs(u) - half_length, np.abs(v) - half_width)
    return brightness * np.clip(0.5 - outside, 0.0, 1.0)  # one pixel of soft edge


def _video(motion: str, frames: int, size: int, rng: np.random.Generator,
           noise: float) -> np.ndarray:
    cx, cy = rng.uniform(0, size, 2)
    half_length, half_width = rng.uniform(1.5, 3.0), rng.uniform(0.6, 1.1)
    angle, brightness = rng.uniform(0, np.pi), rng.uniform(0.7, 1.0)
    travel = rng.uniform(0.6, 1.0)
    dx = {"left": -travel, "right": travel}.get(motion, 0.0)
    dy = {"up": -travel, "down": travel}.get(motion, 0.0)
    grow = rng.uniform(0.3, 0.5) if motion == "growing" else 0.0
    turn = rng.uniform(np.radians(12), np.radians(20)) * rng.choice((-1, 1)) \
        if motion == "rotating" else 0.0
    video = np.stack([_frame(size, cx + t * dx, cy + t * dy, half_length + t * grow,
                             half_width, angle + t * turn, brightness)
                      for t in range(frames)])
    video += rng.normal(0.0, noise, video.shape)
    return video[:, None].astype(np.float32)  # [frames, 1, size, size]


def moving_shapes(n_per_class: int = 100, frames: int = 8, size: int = 16,
                  min_frames: int | None = None, noise: float = 0.1, seed: int = 0,
                  motions: tuple[str, ...] = MOTIONS) -> tuple[list[np.ndarray], list[str]]:
    """``n_per_class`` videos of each motion, class by class: float32 ``[T_i, 1, size,
    size]`` arrays (``T_i`` between ``min_frames``, default ``frames - 2``, and ``frames``)
    and their labels (the motion's name)."""
    n = positive_int(n_per_class, "n_per_class")
    frames = positive_int(frames, "frames", least=3)
    size = positive_int(size, "size", least=12)
    low = max(2, frames - 2) if min_frames is None else positive_int(min_frames, "min_frames",
                                                                     least=2)
    if low > frames:
        raise ConfigError(f"min_frames ({low}) must be at most frames ({frames})")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")
    if not noise >= 0:
        raise ConfigError(f"noise must be >= 0, got {noise!r}")
    unknown = [m for m in motions if m not in MOTIONS]
    if unknown or len(set(motions)) < 2:
        raise ConfigError(f"motions must be at least two of {MOTIONS}, got {motions!r}")
    videos, labels = [], []
    for motion in motions:
        k = MOTIONS.index(motion)
        for i in range(n):
            rng = np.random.default_rng([int(seed), k, i])
            videos.append(_video(motion, int(rng.integers(low, frames + 1)), size, rng, noise))
            labels.append(motion)
    return videos, labels
