"""Figures as PNG files (matplotlib, the ``plot`` extra): learning curves and forecasts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ConfigError


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as err:
        raise ConfigError("plots need matplotlib: pip install 'seqnets[plot]'") from err
    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt
    return plt


def _save(fig: Any, path: str | Path) -> Path:
    import io

    from .io import atomic_write_bytes

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)


def learning_curves(curves: Mapping[str, Mapping[str, Sequence[float]]], path: str | Path,
                    title: str = "Learning curves") -> Path:
    """One panel per run: training and validation loss per epoch (log scale)."""
    plt = _pyplot()
    names = list(curves)
    cols = min(4, max(1, len(names)))
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        hist = curves[name]
        for key, style in (("loss", "-"), ("val_loss", "--"), ("val_last_time_step_mse", ":")):
            values = hist.get(key)
            if values:
                ax.plot(range(1, len(values) + 1), values, style, label=key)
        ax.set_yscale("log")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    fig.suptitle(title)
    fig.tight_layout()
    path = _save(fig, path)
    plt.close(fig)
    return path


def forecast_panels(history: np.ndarray, future: np.ndarray,
                    forecasts: Mapping[str, np.ndarray], path: str | Path,
                    title: str = "Forecasts") -> Path:
    """The chapter's forecast plots: each series' history, its true future, and every
    named forecast of that future (one row per series)."""
    plt = _pyplot()
    n = len(history)
    fig, axes = plt.subplots(n, 1, figsize=(9, 2.6 * n), squeeze=False)
    steps = history.shape[1]
    for i, ax in enumerate(axes[:, 0]):
        ax.plot(range(steps), history[i], ".-", color="0.3", label="series")
        t_future = range(steps, steps + future.shape[1])
        ax.plot(t_future, future[i], "o-", color="black", label="actual", markersize=4)
        for name, pred in forecasts.items():
            p = np.asarray(pred[i]).ravel()
            ax.plot(range(steps, steps + len(p)), p, "x--", label=name, markersize=5)
        ax.set_xlabel("t")
        ax.grid(alpha=0.3)
        if i == 0:
            ax.legend(fontsize=7, ncol=3)
    fig.suptitle(title)
    fig.tight_layout()
    path = _save(fig, path)
    plt.close(fig)
    return path


def bars(values: Mapping[str, float], path: str | Path, title: str, xlabel: str,
         marks: Mapping[str, float] | None = None) -> Path:
    """Horizontal bars (log scale), with optional reference marks per row."""
    plt = _pyplot()
    names = list(values)
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(names) + 1.2))
    ax.barh(names, [values[n] for n in names], color="tab:blue", label="measured")
    if marks:
        ys = [i for i, n in enumerate(names) if n in marks]
        ax.scatter([marks[names[i]] for i in ys], ys, color="tab:red", marker="|", s=200,
                   label="bar", zorder=3)
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = _save(fig, path)
    plt.close(fig)
    return path
