"""Forecasting real series: the :class:`Forecaster` estimator, rolling-origin backtests
against baselines (:mod:`.backtesting`), intervals (:mod:`.intervals`), imputation of gaps
(:class:`Imputer`) and the forecast metrics (:mod:`.metrics`)."""

from . import backtesting, intervals, metrics
from .backtesting import backtest, per_fold, summary
from .forecaster import Forecaster
from .imputation import Imputer

__all__ = ["Forecaster", "Imputer", "backtest", "backtesting", "intervals", "metrics",
           "per_fold", "summary"]
