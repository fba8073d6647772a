"""The Forecaster: a global sequence model for real series, with calibrated intervals.

    fc = Forecaster("gru", window=64, horizon=24, epochs=20).fit(df, time="ds", target="y")
    fc.predict(intervals=(0.8, 0.95))      # id, time, mean, lower_80, upper_80, lower_95, ...
    fc.backtest(folds=5)                   # metrics per fold, model vs baselines
    fc.save("co2/"); Forecaster.load("co2/")

How it works. ``fit`` reads the table with :func:`~seqnets.data.read_series`, holds out the
last part of each series (``holdout``), fits one transform per series (differencing, then
scaling) on the rest, and trains ONE model on the windows of every series together (inputs:
the targets then the covariates; output: the first target). The held-out windows calibrate
the intervals (:mod:`seqnets.intervals`): nothing from the held-out period enters the scaling
statistics or a training window of that first model. Then (``refit=True``, the default) the
final model is trained anew, same recipe and seeds, on the windows of the whole series, so
that the most recent steps, the ones that matter most for the forecast, are learnt too; its
intervals keep the first model's calibration (a model that saw more data errs less, so
MC-dropout and conformal intervals err on the wide side; quantile outputs are learnt by the
final model itself and only shifted by that calibration). ``refit=False`` forecasts with the
calibrated model itself.

Dropout. A zoo model gets a :class:`~seqnets.layers.Dropout` layer (rate ``dropout``) before
each of its layers but the first (normalisation layers excepted; ``wavenet_full`` gets
``Dropout → Dense(outputs)`` as its head), active in training and, at inference, under
:func:`~seqnets.layers.mc_dropout`. The ``*_dropout`` zoo variants keep their own recurrent
dropout; your own modules bring theirs (``torch.nn.Dropout`` is not sampled).
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from ..data.series import SeriesSet, require_pandas
from ..data.tables import read_series
from ..data.transforms import Difference, PerSeries, Pipeline, Scaler
from ..errors import ConfigError, DataError, ModelFileError, NotFittedError
from ..models import Sequential, zoo
from . import auto, backtesting, files, members, validation
from . import covariates as cov
from . import intervals as iv
from . import quantiles as qt
from .origins import OriginForecasts, scores
from .windowing import WindowedForecasts

__all__ = ["Forecaster"]

STRATEGIES = validation.STRATEGIES
SHORT_SERIES = ("pad", "refuse")


class Forecaster(WindowedForecasts):
    """Forecast many series with one sequence model; scikit-learn conventions.

    Args:
        model: a zoo name with a sequence output (``"gru"``, ``"lstm"``, ``"seq2seq_rnn"``,
            ``"conv_gru"``, ``"wavenet"``, ``"wavenet_full"``, ...; ``"encoder_decoder"`` and
            ``"mlp"`` for ``direct``), a factory ``(input_size, outputs) -> nn.Module``, a
            module, or ``"auto"``: a few recipes (:mod:`~seqnets.forecast.auto`) tried on
            the held-out part, the best by MASE kept (its settings replace window,
            strategy, scale, loss, dropout and uncertainty; ``auto_`` is the table of what
            each scored and which was chosen).
        window: input steps per forecast, or several lengths (a tuple): an ensemble over
            windows, ``ensemble`` members per length, combined by the median;
            horizon: steps ahead.
        strategy: ``"seq2seq"`` (k values at every step, the chapter's best), ``"direct"``
            (k values from the last step only) or ``"recursive"`` (a one-step model iterated;
            univariate, no covariates).
        epochs, batch_size, lr: training (Adam, Keras defaults).
        scale: ``True``: standardise each series with statistics of its training part;
            ``"window"``: scale each input window by its own level (the mean absolute value of
            the first target over the window) and the forecast back by the same factor, so
            that one model serves series of any level; ``False``: neither.
        loss: the training loss, ``"mse"`` (default), ``"mae"`` or ``"huber"`` (in the
            transformed, scaled units).
        difference: ``None``, or a lag (1 removes a trend, 12 or 52 a season), applied to
            every input column before scaling.
        dropout: MC-dropout rate (0 disables intervals).
        mc_samples: MC passes per forecast.
        holdout: a fraction of each series' steps (float), or a number of forecast origins
            per series (int), held out at the end for calibration.
        model_options: extra ``zoo.build`` options (``units``, ``channels``, ...).
        short_series: ``"pad"`` (default): a series too short for a full training window (or
            for held-out origins) still trains and is forecast, its windows padded on the left
            with its first value (a warning names them; one too short to hold out origins
            trains on all its steps and is not used for calibration). Training windows then
            start two steps into every series, padded the same way, and a model the
            Forecaster builds (zoo name or factory) gets one more input column, 1 on real
            steps and 0 on padded ones; ``"refuse"``: such a dataset is refused, naming the
            series, and only full windows train.
        ensemble: train this many models (seeds ``seed``, ``seed + 1``, ...) on the same
            windows and forecast with the median of their outputs (one: a single model).
        refit: after calibrating on the held-out part, train the final model anew on the
            windows of the whole of every series (same recipe and seeds), so that it learns
            the most recent steps too; the calibration scores of the first model stay.
            ``False``: the model that was calibrated forecasts.
        season: the season length, for the window level (``scale="window"``: the mean
            absolute value over the last ``season`` steps) and the backtest's seasonal
            naive; ``None``: from the frequency (12 monthly, 52 weekly, 7 daily, 24 hourly;
            1, no season, for integer steps).
        uncertainty: ``"mc_dropout"`` (intervals from MC-dropout passes, their spread
            calibrated on the held-out errors), ``"conformal"`` (one deterministic
            forecast; per step ahead, the split-conformal quantile of the held-out absolute
            errors, in each window's unit: its level with ``scale="window"``, else its mean
            absolute step change; needs no dropout) or ``"quantile"`` (the model emits the
            quantiles :data:`~seqnets.forecast.quantiles.QUANTILES` per step, trained on the
            pinball loss instead of ``loss``; the median is the forecast; the 80% and 95%
            intervals are calibrated on the held-out part by CQR; ``calibrated=False``
            gives the raw quantiles; no differencing, no ``recursive``), or ``"gaussian"``
            / ``"student_t"`` (the model emits a distribution's parameters per step, trained
            on its negative log likelihood instead of ``loss``, and read at the same
            quantiles: :mod:`~seqnets.forecast.distributions`; the rest as ``"quantile"``;
            with ``recursive``, ``mc_samples`` paths drawn step by step and fed back, read at
            those quantiles after inverting the transforms, so differencing works too).
        future: covariate columns whose values are known ahead (prices, promotions,
            holidays): read with ``fit``'s covariates, fed to the model shifted ``horizon``
            steps earlier (:mod:`~seqnets.forecast.covariates`), and required by
            ``predict(future=...)`` for the steps forecast.
        calendar: add calendar features of the steps ahead (sine and cosine of the position
            in the day, week and year, as the frequency has them), known from the
            timestamps alone.
        early_stopping: a patience in epochs, or ``None`` (train ``epochs`` epochs): the
            last tenth of each series' training windows validates, the learning rate halves
            after ``patience // 2`` epochs without gain, training stops after ``patience``
            and keeps the best epoch's weights; a refit trains each member for its best
            number of epochs (:mod:`~seqnets.forecast.members`).
        base: ``"linear"`` (``strategy="direct"``): the forecast is a closed-form linear
            one (least squares from the transformed windows to the next ``horizon``
            values, as the ``linear`` baseline) plus what the model learns of its errors,
            so that the network starts from, and corrects, the linear forecast; ``None``:
            the model forecasts alone.
        seed: seeds initialisation, training and MC sampling.
        quiet: no training progress output.
    """

    def __init__(self, model: Any = "gru", window: int = 32, horizon: int = 8,
                 strategy: str = "seq2seq", *, epochs: int = 20, batch_size: int = 32,
                 lr: float | None = None, scale: bool | str = True, loss: str = "mse",
                 difference: int | None = None,
                 dropout: float = 0.1, mc_samples: int = 100, holdout: float | int = 0.2,
                 model_options: dict | None = None, short_series: str = "pad",
                 ensemble: int = 1, refit: bool = True, uncertainty: str = "mc_dropout",
                 season: int | None = None, future: tuple = (), calendar: bool = False,
                 early_stopping: int | None = None, base: str | None = None, seed: int = 0,
                 quiet: bool = True):
        self.model, self.window, self.horizon, self.strategy = model, window, horizon, strategy
        self.epochs, self.batch_size, self.lr = epochs, batch_size, lr
        self.scale, self.loss, self.difference, self.dropout = scale, loss, difference, dropout
        self.mc_samples, self.holdout, self.model_options = mc_samples, holdout, model_options
        self.short_series, self.ensemble = short_series, ensemble
        self.refit, self.uncertainty, self.season = refit, uncertainty, season
        self.future, self.calendar, self.early_stopping = future, calendar, early_stopping
        self.base = base
        self.seed, self.quiet = seed, quiet

    _PARAMS = ("model", "window", "horizon", "strategy", "epochs", "batch_size", "lr", "scale",
               "loss", "difference", "dropout", "mc_samples", "holdout", "model_options",
               "short_series", "ensemble", "refit", "uncertainty", "season", "future",
               "calendar", "early_stopping", "base", "seed", "quiet")

    def get_params(self) -> dict:
        """The settings as given (``model="auto"`` stays ``"auto"`` after fitting)."""
        return dict(self.requested_) if hasattr(self, "requested_") else self.settings()

    def settings(self) -> dict:
        """The settings in force: after ``model="auto"``, those of the chosen recipe."""
        return {k: getattr(self, k) for k in self._PARAMS}

    def __repr__(self) -> str:
        return f"Forecaster({self.model!r}, window={self.window}, horizon={self.horizon})"

    # -- checks ---------------------------------------------------------------------------

    def _template(self):
        steps = ([Difference(self.difference)] if self.difference else []) + \
            ([Scaler()] if self.scale is True else [])
        return PerSeries(Pipeline(steps)) if steps else None

    def _n_cal(self, length: int) -> int:
        if isinstance(self.holdout, float):
            return max(1, int(self.holdout * length) - self.horizon + 1)
        return int(self.holdout)

    def min_length(self) -> int:
        """The fewest steps a series needs to be fitted with these settings."""
        n_cal = 1 if isinstance(self.holdout, float) else int(self.holdout)
        return (self.differencing_lag + self.input_window + self.outputs_per_step + self.horizon
                + n_cal - 1)

    def _fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError("this Forecaster is not fitted yet: call .fit(data) first")

    # -- fitting --------------------------------------------------------------------------

    def fit(self, data: Any, time: str | None = "ds", target: Any = None, id: str | None = None,
            covariates: Any = None, fill: str | None = None, **read_options) -> Forecaster:
        """Read ``data`` (a table, file or :class:`SeriesSet`; see ``read_series``, whose
        options such as ``wide``, ``resample``, ``agg`` and ``sort`` pass through), train on
        the training part of every series, calibrate on the held-out part; returns self."""
        validation.check_settings(self)
        if isinstance(data, SeriesSet):
            ss = data
        else:
            names = [covariates] if isinstance(covariates, str) else list(covariates or ())
            names += [c for c in self.future_names if c not in names]
            ss = read_series(data, time=time, target=target, id=id, covariates=names or None,
                             fill=fill, **read_options)
        cov.check_columns(ss, self.future_names, self.calendar)
        validation.check_lengths(self, ss, data, pad=self.short_series == "pad")
        if self.strategy == "recursive" and (ss.values[0].shape[1] > 1 or self.calendar):
            raise ConfigError("strategy='recursive' feeds forecasts back as inputs, so it "
                              "takes one target, no covariates and no calendar; use 'seq2seq' "
                              "or 'direct'")
        return self._fit_series(ss)

    def _fit_series(self, ss: SeriesSet) -> Forecaster:
        if self.model == "auto":
            return self._fit_auto(ss)
        need = self.differencing_lag + self.input_window + self.outputs_per_step
        pad = self.short_series == "pad"
        cuts, padded = [], []
        for sid, length in zip(ss.ids, ss.lengths, strict=True):
            cut = length - self.horizon - self._n_cal(length) + 1
            if cut < need and not pad:
                raise DataError(f"series {sid!r} ({length} steps) leaves {cut} for training "
                                f"after the holdout; window + outputs need {need}. Fix: a "
                                "smaller holdout, window or horizon, or short_series='pad'")
            if pad and cut < self.differencing_lag + validation.LEAST_TRAINING:
                cut = length  # too short to hold out origins: all of it trains, none calibrates
            if cut < need:
                padded.append(sid)
            cuts.append(cut)
        if not any(c + self.horizon <= n for c, n in zip(cuts, ss.lengths, strict=True)):
            raise DataError(f"no series is long enough to hold out a forecast of {self.horizon} "
                            "steps for calibration and validation. Fix: give more history, or "
                            "use a shorter horizon or holdout")
        if padded:
            warnings.warn(f"{len(padded)} of {len(ss)} series have fewer than {need} training "
                          f"steps (window {self.input_window} + {self.outputs_per_step} target "
                          f"step(s)), e.g. {padded[:3]}: their windows are padded on the left "
                          "with their first value", stacklevel=3)
        self.series_, self.cuts_ = ss, tuple(cuts)
        self.masked_ = pad and not isinstance(self.model, nn.Module)
        self.season_ = self.season or backtesting.default_season(ss.freq)
        self.transforms_ = self._template()
        if self.transforms_ is not None:
            self.transforms_.fit([v[:c] for v, c in zip(self._view(ss).values, cuts,
                                                        strict=True)])
        self.model_, self.best_epochs_ = self._build(self.n_inputs_, self.seed), None
        self._fit_base()
        self.model_ = self._train(*self.training_data(tail=bool(self.early_stopping)),
                                  record=True)
        origins = [np.arange(c, n - self.horizon + 1) for c, n in zip(cuts, ss.lengths,
                                                                        strict=True)]
        self._calibrate(ss, origins)
        self.holdout_model_, self.holdout_base_ = self.model_, self.base_  # as calibrated
        if self.refit:  # the final model also learns the held-out steps, the most recent
            self._fit_base(ss.lengths)
            self.model_ = self._train(*self.training_data(upto=ss.lengths))
        return self

    def _fit_auto(self, ss: SeriesSet) -> Forecaster:
        """``model="auto"``: the best candidate on the held-out part (:mod:`~seqnets.
        forecast.auto`), its settings and fitted state adopted, then refitted on all."""
        requested = self.get_params()
        chosen, table = auto.choose(self, ss)
        self.__dict__.update(chosen.__dict__)
        self.requested_, self.auto_, self.refit = requested, table, requested["refit"]
        if self.refit:
            self._fit_base(ss.lengths)
            self.model_ = self._train(*self.training_data(upto=ss.lengths))
        return self

    def _train(self, x, y, tail=None, record: bool = False) -> nn.Module:
        """The model (or the ensemble's median) trained on the pairs ``(x, y)``
        (:func:`~seqnets.forecast.members.train_members`)."""
        return members.train_members(self, x, y, tail, record)

    def _calibrate(self, ss: SeriesSet, origins: list[np.ndarray]) -> None:
        """Held-out scores of the model trained before the cut: the conformity scores the
        intervals are calibrated on, and the validation metrics."""
        paths = self._sample(ss, origins, self.seed)
        actual, mean = self._actual(ss, origins), self._point(paths)
        self.scores_ = self.conformity_scores(actual, paths, self._units(ss, origins)) \
            if self.intervals_ else None
        self.validation_ = scores(actual, mean)

    @property
    def intervals_(self) -> bool:
        """Whether this fitted Forecaster gives intervals."""
        return self.uncertainty != "mc_dropout" or bool(self.dropout_)

    def _build(self, n_features: int, seed: int, window: int | None = None) -> nn.Module:
        k, w = self.model_outputs, self.input_window if window is None else window
        if isinstance(self.model, str):
            sizes = {o: k for o in ("outputs", "horizon") if o in zoo.option_names(self.model)}
            base = zoo.build(self.model, input_size=n_features, window=w, seed=seed, **sizes,
                             **dict(self.model_options or {}))
            model = iv.with_dropout(list(base.layers), self.dropout, k)
            shape = (w if zoo.info(self.model).fixed_length else None, n_features)
            model = Sequential(model, input_shape=shape, seed=seed, name=self.model)
        elif isinstance(self.model, nn.Module):
            model = copy.deepcopy(self.model)
        else:
            model = self.model(n_features, k)
        self.seq_out_, self.align_ = validation.output_layout(self, model, n_features, w)
        self.dropout_ = float(self.dropout) if iv.has_dropout(model) else 0.0
        return model

    def forecast_origins(self, series: SeriesSet, origins: list[np.ndarray],
                         intervals=(0.8, 0.95), seed: int | None = None) -> OriginForecasts:
        """Forecasts of ``series`` (the fitted series, or :meth:`history` of them) from chosen
        origins: per series, the indices of the first step ahead, each with ``window`` (and
        the differencing lag) steps before it and ``horizon`` after. Gives the actual values,
        the MC sample paths, the raw and calibrated bands per level (none without dropout)
        and the linear baseline fitted on this Forecaster's own training windows: what
        :meth:`backtest` scores."""
        self._fitted()
        levels = iv.check_levels(intervals)
        if len(origins) != len(series):
            raise ConfigError(f"origins: one array per series ({len(series)}), got "
                              f"{len(origins)}")
        paths = self._sample(series, origins, self.seed if seed is None else seed)
        bands = {}
        if self.intervals_ and levels:
            unit = self._units(series, origins)
            for calibrated in (True,) if self.uncertainty == "conformal" else (True, False):
                cols = self._bands(paths, levels, calibrated, unit)   # all levels: nested
                for p in levels:
                    name = iv.level_name(p)
                    bands[(p, calibrated)] = {k: cols[k] for k in
                                              ("mean", f"lower_{name}", f"upper_{name}")}
        return OriginForecasts(self._actual(series, origins), paths, bands,
                               self._linear_baseline(series, origins), self._point(paths))

    def history(self, data: Any, **read_options) -> SeriesSet:
        """Newer history of the series the model was trained on (a table, file or
        :class:`SeriesSet`), read like the training data (same columns unless
        ``read_options`` say otherwise: ``time``, ``target``, ``id``, ``fill``, ``wide``,
        ``sort``, ``resample``, ``agg``) and checked to hold the same series, targets,
        covariates and frequency, each at least ``window`` steps long."""
        self._fitted()
        return validation.check_history(self, data, **read_options)

    def predict(self, intervals=(0.8, 0.95), calibrated: bool = True,
                seed: int | None = None, data: Any = None, future: Any = None,
                **read_options):
        """The ``horizon`` steps after the end of each series: a DataFrame with columns
        ``id``, ``time``, ``mean`` and ``lower_<level>`` / ``upper_<level>`` per level
        (percent: ``lower_80``). ``calibrated=False`` gives the raw MC-dropout intervals.
        ``seed`` (default: the Forecaster's) fixes the MC-dropout masks. ``data``: newer
        history of the same series to forecast after (:meth:`history`; nothing refitted).
        ``future``: with ``future=`` columns, a table (DataFrame, CSV or Parquet) of their
        values at the steps forecast: the time column, the id column, those columns."""
        self._fitted()
        levels = iv.check_levels(intervals)
        if data is None and read_options:
            raise ConfigError(f"predict() got {sorted(read_options)}: reading options go with "
                              "data= (newer history); predict takes intervals, calibrated, "
                              "seed, data and future")
        ss = self.series_ if data is None else self.history(data, **read_options)
        origins = [np.array([n]) for n in ss.lengths]
        model_ss = cov.with_future(ss, future, self.future_names, self.horizon)
        paths = self._sample(model_ss, origins, self.seed if seed is None else seed)
        cols = self._bands(paths, levels, calibrated,
                           self._units(model_ss, origins) if levels else None)
        pd = require_pandas()
        frame = pd.DataFrame({
            "id": np.repeat(np.array(ss.ids, dtype=object), self.horizon),
            "time": np.concatenate([np.asarray(ss.future_index(i, self.horizon))
                                    for i in range(len(ss))])})
        for name, a in cols.items():
            frame[name] = a.reshape(-1)
        return frame

    def holdout_forecasts(self, intervals=(0.8, 0.95), calibrated: bool = True):
        """Forecasts from every held-out origin (the calibration windows) by the model that
        was calibrated (trained before the held-out part, also with ``refit``), with the seed
        used for calibration: columns ``id``, ``origin`` (time of the first step ahead), ``step``,
        ``time``, ``actual``, ``mean``, bounds."""
        self._fitted()
        ss = self.series_
        if getattr(self, "tail_only_", False):
            raise ConfigError("a loaded Forecaster keeps only the end of each series, not its "
                              "held-out part")
        origins = [np.arange(c, n - self.horizon + 1) for c, n in zip(self.cuts_, ss.lengths,
                                                                        strict=True)]
        paths = self._sample(ss, origins, self.seed, model=self.holdout_model_,
                             base=self.holdout_base_)
        levels = iv.check_levels(intervals)
        cols = self._bands(paths, levels, calibrated, self._units(ss, origins) if levels else None)
        pd = require_pandas()
        h = self.horizon
        ids = np.concatenate([[sid] * len(o) for sid, o in zip(ss.ids, origins, strict=True)])
        starts = np.concatenate([np.asarray(ss.index[i])[o] for i, o in enumerate(origins)])
        times = np.concatenate([np.asarray(ss.index[i])[o[:, None] + np.arange(h)].ravel()
                                for i, o in enumerate(origins)])
        frame = pd.DataFrame({"id": np.repeat(ids, h), "origin": np.repeat(starts, h),
                              "step": np.tile(np.arange(1, h + 1), len(ids)), "time": times,
                              "actual": self._actual(ss, origins).ravel()})
        for name, a in cols.items():
            frame[name] = a.reshape(-1)
        return frame

    def calibration(self, intervals=(0.8, 0.95)):
        """Per level and step ahead: the calibrated (conformal) half-widths (in MC standard
        deviations; with ``uncertainty="conformal"`` in each window's unit; with
        ``"quantile"`` the CQR shift of the raw quantiles, in that unit), the raw normal ones
        (MC dropout only; 0 for quantiles, NaN for conformal), and the share of held-out
        values each interval covers."""
        self._fitted()
        if self.scores_ is None:
            raise ConfigError("no calibration: the model has no dropout (set dropout > 0 or "
                              "uncertainty='conformal' or 'quantile')")
        if self.quantile_paths:
            return qt.quantile_table(self.scores_, intervals)
        return iv.calibration_table(self.scores_, intervals,
                                    raw=self.uncertainty == "mc_dropout")

    # -- backtesting ----------------------------------------------------------------------

    def backtest(self, folds: int = 5, step: int | None = None, season: int | None = None,
                 intervals=(0.8, 0.95), per_step: bool = False, adapt: bool = True,
                 stats=(), rate: float | None = None):
        """Rolling-origin evaluation, refitting per fold, against the naive, seasonal naive,
        linear baselines and statsforecast's models named in ``stats`` (``("AutoETS",)``;
        the stats extra): one row per fold and method (:mod:`seqnets.backtesting`), or with
        ``per_step=True`` one per fold, method and horizon step. ``step`` (default
        ``horizon``) origins per fold; ``season`` defaults to the Forecaster's (``season=``,
        else the frequency's: 52 weekly, 12 monthly, 7 daily, 24 hourly); ``adapt``: also
        calibrate on earlier folds' errors; ``rate``: ACI (:mod:`seqnets.forecast.adaptive`)."""
        return backtesting.backtest(self, folds, step, season, intervals, per_step, adapt,
                                    stats, rate)

    # -- files ----------------------------------------------------------------------------

    def save(self, path, overwrite: bool = False) -> Path:
        """Save to the folder ``path``: the model (``model.safetensors`` + ``config.json``)
        and ``forecaster.json`` (settings, fitted transforms, calibration scores, and the last
        steps of each series that ``predict`` needs), replacing the folder as one unit; no
        pickle. A folder holding a model is refused unless ``overwrite=True``."""
        self._fitted()
        return files.save(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path, max_bytes: int = files.MAX_BYTES) -> Forecaster:
        """A Forecaster saved by :meth:`save`, ready to ``predict``; a damaged or
        inconsistent folder (or a ``forecaster.json`` over ``max_bytes``) is refused."""
        if Path(path).is_file():
            raise ModelFileError(f"{path} is a file: a saved Forecaster is a folder (written "
                                 "by Forecaster.save or seqnets train). Fix: give that folder")
        return files.load(cls, path, max_bytes)


# ----------------------------------------------------------------------------- helpers
