"""statsforecast's workhorses beside the Forecaster, in the same process (the ``stats`` extra:
``pip install 'seqnets[stats]'``), for :meth:`~seqnets.Forecaster.backtest`'s ``stats=``.

Each named model is fitted anew on every forecast origin's history (the series up to the
origin, as the Forecaster's baselines see it) and forecasts ``horizon`` steps with its own
prediction intervals. Nothing here is a seqnets model: these are the tools' own fits, so that
a backtest table shows the network beside what a statistician would have used.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError, DataError
from . import intervals as iv

__all__ = ["MODELS", "check_models", "forecasts"]

#: the statsforecast models :func:`forecasts` runs, by the names the tables show
MODELS = ("AutoETS", "AutoTheta", "AutoARIMA", "AutoCES", "MSTL", "SeasonalNaive")


def check_models(names: Sequence[str] | str | None) -> tuple[str, ...]:
    """``names`` as a tuple of known :data:`MODELS`; a clear error for anything else."""
    if names is None:
        return ()
    if isinstance(names, str):
        names = (names,)
    names = tuple(names)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        raise ConfigError(f"stats: unknown statsforecast model(s) {unknown}; "
                          f"choose among {list(MODELS)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"stats: a model is named twice in {list(names)}")
    return names


def _model(name: str, season: int):
    try:
        from statsforecast import models
    except ImportError:
        raise ConfigError("stats= runs statsforecast, which is not installed. Fix: pip "
                          "install 'seqnets[stats]' (or statsforecast)") from None
    # a season of 1 means none: the other models then fit non-seasonal forms
    if name == "MSTL" and season < 2:
        raise ConfigError("stats: MSTL needs a season of at least 2 (season=)")
    return getattr(models, name)(season_length=season)


def _percent(level: float) -> int | float:
    """0.8 -> 80, 0.975 -> 97.5: the level as statsforecast takes and names it, written
    as seqnets' own column suffix (:func:`~seqnets.forecast.intervals.level_name`)."""
    name = iv.level_name(level)
    return int(name) if name.isdigit() else float(name)


def forecasts(name: str, histories: Sequence[np.ndarray], horizon: int, season: int,
              levels: Sequence[float]) -> dict[str, np.ndarray]:
    """``name`` (one of :data:`MODELS`) fitted on each of ``histories`` (1-D arrays, one per
    forecast origin) and forecasting ``horizon`` steps: ``{"mean": (N, horizon)}`` and, per
    level ``p`` of ``levels`` (fractions), ``lower_<p>`` and ``upper_<p>`` (the names of
    :func:`~seqnets.forecast.intervals.level_name`)."""
    model = _model(name, season)
    pcts = [_percent(p) for p in levels]
    out = {"mean": np.empty((len(histories), horizon))}
    for p in levels:
        for side in ("lower", "upper"):
            out[f"{side}_{iv.level_name(p)}"] = np.empty((len(histories), horizon))
    for i, history in enumerate(histories):
        y = np.asarray(history, dtype=np.float64)
        if not np.all(np.isfinite(y)):
            raise DataError(f"stats: {name} got a history with missing values (origin {i}). "
                            "Fix: fit with fill='interpolate' (or another fill)")
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")   # statsforecast's convergence chatter
            try:
                fc = model.forecast(y=y, h=horizon, level=pcts)
            except Exception as err:  # noqa: BLE001 - name the origin, keep the cause
                raise DataError(f"stats: {name} failed on a history of {len(y)} steps "
                                f"(origin {i}): {err}") from err
        out["mean"][i] = fc["mean"]
        for p, pct in zip(levels, pcts, strict=True):
            out[f"lower_{iv.level_name(p)}"][i] = fc[f"lo-{pct}"]
            out[f"upper_{iv.level_name(p)}"][i] = fc[f"hi-{pct}"]
    return out
