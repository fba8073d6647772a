"""Forecasting real series: the :class:`Forecaster` estimator, rolling-origin backtests
against baselines (:mod:`.backtesting`), intervals (:mod:`.intervals`), imputation of gaps
(:class:`Imputer`), the forecast metrics (:mod:`.metrics`) and batch forecasts written as
one Parquet part per torchrun rank (:func:`write_parts`)."""

from . import backtesting, intervals, metrics
from .backtesting import backtest, per_fold, summary
from .batch import write_parts
from .forecaster import Forecaster
from .imputation import Imputer

__all__ = ["Forecaster", "Imputer", "backtest", "backtesting", "intervals", "metrics",
           "per_fold", "summary", "write_parts"]
