"""Figures as PNG files (matplotlib, the ``plot`` extra): learning curves, forecasts with
intervals, backtest errors, confusion matrices. Every file is written atomically (temporary
file, then rename)."""

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


def confusion_matrix(matrix: Any, labels: Sequence, path: str | Path,
                     title: str = "Confusion matrix") -> Path:
    """A confusion matrix as a heat map: true classes down, predicted across, each row's
    share shaded (so rare classes show as clearly as common ones) and its count written."""
    plt = _pyplot()
    m = np.asarray(matrix, dtype=float)
    names = [str(c) for c in labels]
    if m.shape != (len(names), len(names)):
        raise ConfigError(f"a confusion matrix for {len(names)} labels must be "
                          f"[{len(names)}, {len(names)}], got {m.shape}")
    rows = m.sum(axis=1, keepdims=True)
    share = np.divide(m, rows, out=np.zeros_like(m), where=rows > 0)
    size = 1.6 + 0.5 * len(names)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    for i in range(len(names)):
        for j in range(len(names)):
            if m[i, j]:
                ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", fontsize=7,
                        color="white" if share[i, j] > 0.5 else "black")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(names)), names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    fig.tight_layout()
    path = _save(fig, path)
    plt.close(fig)
    return path


def check_available() -> None:
    """Raise :class:`~seqnets.errors.ConfigError` now if matplotlib is missing (call it
    before writing any other file, so that a run that cannot plot writes nothing)."""
    _pyplot()


def _by_series(data: Any, ids: list, time: str, value: str, id: str) -> dict:
    """``{series id: (times, values)}`` from a SeriesSet (first target), a DataFrame with
    columns ``id`` (optional), ``time`` and ``value``, or a pair ``(times, values)`` of the
    only series in ``ids``."""
    from .data.series import SeriesSet

    if isinstance(data, SeriesSet):
        return {sid: (np.asarray(idx), np.asarray(v[:, 0], dtype=np.float64))
                for sid, idx, v in zip(data.ids, data.index, data.values, strict=True)}
    if isinstance(data, tuple | list) and len(data) == 2:
        if len(ids) != 1:
            raise ConfigError(f"a pair (times, values) is one series, but the forecast has "
                              f"{len(ids)}; pass a DataFrame with an {id!r} column")
        return {ids[0]: (np.asarray(data[0]), np.asarray(data[1], dtype=np.float64))}
    if hasattr(data, "columns"):
        lost = [c for c in (time, value) if c not in data.columns]
        if lost:
            raise ConfigError(f"the table to plot has no column(s) {lost}; its columns are "
                              f"{list(data.columns)} (name them with time=, value=)")
        if id not in data.columns:
            if len(ids) != 1:
                raise ConfigError(f"the table to plot has no {id!r} column to match the "
                                  f"forecast's {len(ids)} series")
            return {ids[0]: (data[time].to_numpy(), data[value].to_numpy(np.float64))}
        return {sid: (part[time].to_numpy(), part[value].to_numpy(np.float64))
                for sid, part in data.groupby(id, sort=False)}
    raise ConfigError(f"cannot plot series from a {type(data).__name__}: pass a SeriesSet, "
                      "a DataFrame or a pair (times, values)")


def _levels(columns) -> list[str]:
    """Interval level names of a forecast frame (``lower_80`` -> ``'80'``), widest first."""
    names = [c[len("lower_"):] for c in columns
             if c.startswith("lower_") and f"upper_{c[len('lower_'):]}" in columns]
    return sorted(names, key=float, reverse=True)


def forecast_plot(history: Any, forecast: Any, path: str | Path, actuals: Any = None, *,
                  last: int | None = None, time: str = "time", value: str = "y",
                  id: str = "id", title: str = "Forecast", max_series: int = 6) -> Path:
    """One panel per series: its history (the last ``last`` steps), the forecast mean, a
    band per interval level (the widest lightest) and the actual values where known.

    ``forecast`` is a frame as :meth:`Forecaster.predict` returns it (columns ``id``,
    ``time``, ``mean``, ``lower_<level>``, ``upper_<level>``). ``history`` and ``actuals``:
    a :class:`~seqnets.data.SeriesSet`, a DataFrame with columns ``id`` (optional), ``time``
    and ``y`` (other names with ``id=``, ``time=``, ``value=``), or ``(times, values)`` for one
    series. At most ``max_series`` panels (the first series)."""
    plt = _pyplot()
    ids = list(dict.fromkeys(forecast["id"]))
    past = _by_series(history, ids, time, value, id)
    known = {} if actuals is None else _by_series(actuals, ids, time, value, id)
    shown = ids[:max_series]
    fig, axes = plt.subplots(len(shown), 1, figsize=(9, 2.8 * len(shown)), squeeze=False)
    levels = _levels(forecast.columns)
    for ax, sid in zip(axes[:, 0], shown, strict=True):
        part = forecast[forecast["id"] == sid]
        t_f = part["time"].to_numpy()
        first = t_f[0]
        if sid in past:
            t, y = past[sid]
            start = 0 if last is None else max(0, len(t) - last)
            ax.plot(t[start:], y[start:], "-", color="0.35", lw=1, label="history")
            first = t[start] if len(t) else first
        for i, name in enumerate(levels):
            ax.fill_between(t_f, part[f"lower_{name}"], part[f"upper_{name}"],
                            color="tab:blue", alpha=0.15 + 0.15 * i, lw=0,
                            label=f"{name}% interval")
        ax.plot(t_f, part["mean"], ".-", color="tab:blue", label="forecast")
        if sid in known:
            t, y = known[sid]
            keep = (t >= first) & (t <= t_f[-1])
            ax.plot(t[keep], y[keep], "x", color="black", ms=5, label="actual")
        ax.set_title(f"series {sid}" if len(ids) > 1 else title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    if len(ids) > 1:
        more = f" (first {len(shown)} of {len(ids)} series)" if len(ids) > len(shown) else ""
        fig.suptitle(title + more)
    fig.autofmt_xdate()
    fig.tight_layout()
    path = _save(fig, path)
    plt.close(fig)
    return path


def backtest_errors(frame: Any, path: str | Path, metric: str | None = None,
                    title: str = "Backtest") -> Path:
    """Errors of the model and each baseline per fold (a :meth:`Forecaster.backtest` frame:
    columns ``fold``, ``method`` and the metrics), with each method's mean in the legend.
    A ``per_step=True`` frame (column ``step``) adds the error per horizon step (mean over
    folds), and the model's interval coverage (raw and calibrated) is drawn per step, else
    per fold, when the frame has it. ``metric`` defaults to ``mase`` (else ``mae``)."""
    from .forecast.backtesting import per_fold

    plt = _pyplot()
    if metric is None:
        metric = "mase" if "mase" in frame.columns and frame["mase"].notna().all() else "mae"
    if metric not in frame.columns:
        raise ConfigError(f"no column {metric!r} in the backtest frame; it has "
                          f"{list(frame.columns)}")
    steps = frame if "step" in frame.columns else None
    folds = per_fold(frame) if steps is not None else frame
    cover = [c for c in frame.columns if c.startswith("coverage_")]
    n = 1 + (steps is not None) + bool(cover)
    fig, axes = plt.subplots(1, n, figsize=(5.5 * n, 3.6), squeeze=False)
    panels = iter(axes[0])
    ax = next(panels)
    for method, part in folds.groupby("method", sort=False):
        mean = part[metric].mean()
        ax.plot(part["fold"], part[metric], "o-", label=f"{method} (mean {mean:.3g})")
    ax.set_xlabel("fold")
    ax.set_ylabel(metric)
    ax.set_xticks(sorted(folds["fold"].unique()))
    ax.set_title(f"{title}: {metric} per fold", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if steps is not None:
        ax = next(panels)
        by_step = steps.groupby(["method", "step"], sort=False)[metric].mean()
        for method in steps["method"].unique():
            ax.plot(by_step[method].index, by_step[method].to_numpy(), "o-", ms=3,
                    label=method)
        ax.set_xlabel("steps ahead")
        ax.set_ylabel(f"{metric} (mean over folds)")
        ax.set_title(f"{metric} per horizon step", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if cover:
        ax = next(panels)
        model = frame[frame["method"] == "model"]
        key = "fold" if steps is None else "step"
        model = model.groupby(key).mean(numeric_only=True).reset_index()
        for i, col in enumerate(cover):
            name, color = col[len("coverage_"):], f"C{i}"
            ax.plot(model[key], model[col], "o-", color=color, label=f"calibrated {name}%")
            if f"raw_{col}" in model.columns:
                ax.plot(model[key], model[f"raw_{col}"], "x--", color=color,
                        label=f"raw {name}%")
            ax.axhline(float(name) / 100, color=color, lw=0.8, alpha=0.6)
        ax.set_ylim(0, 1.05)
        ax.set_xlabel("fold" if steps is None else "steps ahead")
        ax.set_ylabel("coverage")
        ax.set_title(f"model interval coverage per {'fold' if steps is None else 'step'} "
                     "(lines: nominal)", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    path = _save(fig, path)
    plt.close(fig)
    return path
