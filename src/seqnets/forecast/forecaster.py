"""The Forecaster: a global sequence model for real series, with calibrated intervals.

    fc = Forecaster("gru", window=64, horizon=24, epochs=20).fit(df, time="ds", target="y")
    fc.predict(intervals=(0.8, 0.95))      # id, time, mean, lower_80, upper_80, lower_95, ...
    fc.backtest(folds=5)                   # metrics per fold, model vs baselines
    fc.save("co2/"); Forecaster.load("co2/")

How it works. ``fit`` reads the table with :func:`~seqnets.data.read_series`, holds out the
last part of each series (``holdout``), fits one transform per series (differencing, then
scaling) on the rest, and trains ONE model on the windows of every series together (inputs:
the targets then the covariates; output: the first target). The held-out windows calibrate
the MC-dropout intervals (:mod:`seqnets.intervals`). Nothing from the held-out period enters
the scaling statistics or a training window. The model is not refitted on the held-out part
afterwards: the calibration holds for the model that forecasts.

Dropout. A zoo model gets a :class:`~seqnets.layers.Dropout` layer (rate ``dropout``) before
each of its layers but the first (normalisation layers excepted); a one-layer model
(``wavenet_full``) gets ``Dropout → Dense(outputs)`` as its head. Dropout is active in training
and, at inference, only under :func:`~seqnets.layers.mc_dropout`. The ``*_dropout`` zoo
variants keep their own recurrent dropout instead; your own modules bring their own
(seqnets ``Dropout``/``MCDropout`` or recurrent dropout: ``torch.nn.Dropout`` is not sampled).
"""

from __future__ import annotations

import copy
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..data.series import SeriesSet, require_pandas
from ..data.tables import read_series
from ..data.transforms import Difference, PerSeries, Pipeline, Scaler
from ..data.windows import windows
from ..errors import ConfigError, DataError, NotFittedError
from ..layers.ops.dispatch import default_threads, thread_count
from ..models import Sequential, zoo
from ..models.baselines import LeastSquaresLinear
from ..training import fit as train
from ..training.losses import get_loss
from . import backtesting, files, validation
from . import intervals as iv
from .origins import OriginForecasts, last_step, left_pad, scale_windows, scores

__all__ = ["Forecaster"]

STRATEGIES = validation.STRATEGIES
SHORT_SERIES = ("pad", "refuse")
_LEAST_TRAINING = 2  # a padded series keeps at least this many steps (after differencing) to train
_BATCH = 8192  # origins per model call at inference (all of them, for any usual data set)


class Forecaster:
    """Forecast many series with one sequence model; scikit-learn conventions.

    Args:
        model: a zoo name with a sequence output (``"gru"``, ``"lstm"``, ``"seq2seq_rnn"``,
            ``"conv_gru"``, ``"wavenet"``, ``"wavenet_full"``, ...; ``"encoder_decoder"`` for
            ``direct``), a factory ``(input_size, outputs) -> nn.Module``, or a module.
        window: input steps per forecast; horizon: steps ahead.
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
            trains on all its steps and is not used for calibration); ``"refuse"``: such a
            dataset is refused, naming the series.
        seed: seeds initialisation, training and MC sampling.
        quiet: no training progress output.
    """

    def __init__(self, model: Any = "gru", window: int = 32, horizon: int = 8,
                 strategy: str = "seq2seq", *, epochs: int = 20, batch_size: int = 32,
                 lr: float | None = None, scale: bool | str = True, loss: str = "mse",
                 difference: int | None = None,
                 dropout: float = 0.1, mc_samples: int = 100, holdout: float | int = 0.2,
                 model_options: dict | None = None, short_series: str = "pad", seed: int = 0,
                 quiet: bool = True):
        self.model, self.window, self.horizon, self.strategy = model, window, horizon, strategy
        self.epochs, self.batch_size, self.lr = epochs, batch_size, lr
        self.scale, self.loss, self.difference, self.dropout = scale, loss, difference, dropout
        self.mc_samples, self.holdout, self.model_options = mc_samples, holdout, model_options
        self.short_series, self.seed, self.quiet = short_series, seed, quiet

    _PARAMS = ("model", "window", "horizon", "strategy", "epochs", "batch_size", "lr", "scale",
               "loss", "difference", "dropout", "mc_samples", "holdout", "model_options",
               "short_series", "seed", "quiet")

    def get_params(self) -> dict:
        return {k: getattr(self, k) for k in self._PARAMS}

    def __repr__(self) -> str:
        return f"Forecaster({self.model!r}, window={self.window}, horizon={self.horizon})"

    # -- checks ---------------------------------------------------------------------------

    def _check(self) -> None:
        validation.check_settings(self)

    @property
    def outputs_per_step(self) -> int:
        """Values the model emits per step: 1 for ``recursive``, else ``horizon``."""
        return 1 if self.strategy == "recursive" else self.horizon

    def _template(self):
        steps = ([Difference(self.difference)] if self.difference else []) + \
            ([Scaler()] if self.scale is True else [])
        return PerSeries(Pipeline(steps)) if steps else None

    @property
    def differencing_lag(self) -> int:
        """The differencing lag (0 without differencing): steps read before the window."""
        return int(self.difference or 0)

    def _n_cal(self, length: int) -> int:
        if isinstance(self.holdout, float):
            return max(1, int(self.holdout * length) - self.horizon + 1)
        return int(self.holdout)

    def min_length(self) -> int:
        """The fewest steps a series needs to be fitted with these settings."""
        n_cal = 1 if isinstance(self.holdout, float) else int(self.holdout)
        return (self.differencing_lag + self.window + self.outputs_per_step + self.horizon
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
        self._check()
        if isinstance(data, SeriesSet):
            ss = data
        else:
            ss = read_series(data, time=time, target=target, id=id, covariates=covariates,
                             fill=fill, **read_options)
        validation.check_lengths(self, ss, data, pad=self.short_series == "pad")
        if self.strategy == "recursive" and ss.values[0].shape[1] > 1:
            raise ConfigError("strategy='recursive' feeds forecasts back as inputs, so it "
                              "takes one target and no covariates; use 'seq2seq' or 'direct'")
        return self._fit_series(ss)

    def _fit_series(self, ss: SeriesSet) -> Forecaster:
        need = self.differencing_lag + self.window + self.outputs_per_step
        pad = self.short_series == "pad"
        cuts, padded = [], []
        for sid, length in zip(ss.ids, ss.lengths, strict=True):
            cut = length - self.horizon - self._n_cal(length) + 1
            if cut < need and not pad:
                raise DataError(f"series {sid!r} ({length} steps) leaves {cut} for training "
                                f"after the holdout; window + outputs need {need}. Fix: a "
                                "smaller holdout, window or horizon, or short_series='pad'")
            if pad and cut < self.differencing_lag + _LEAST_TRAINING:
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
                          f"steps (window {self.window} + {self.outputs_per_step} target "
                          f"step(s)), e.g. {padded[:3]}: their windows are padded on the left "
                          "with their first value", stacklevel=3)
        self.series_, self.cuts_ = ss, tuple(cuts)
        self.transforms_ = self._template()
        if self.transforms_ is not None:
            self.transforms_.fit([v[:c] for v, c in zip(ss.values, cuts, strict=True)])
        self.model_ = self._build(ss.values[0].shape[1])
        x, y = self.training_data()
        fn = get_loss(self.loss)[1]
        loss = fn if self.seq_out_ else last_step(fn)
        history = train(self.model_, (x, y), epochs=self.epochs, batch_size=self.batch_size,
                        lr=self.lr, loss=loss, seed=self.seed, quiet=self.quiet)
        self.history_ = history.to_dict()
        origins = [np.arange(c, n - self.horizon + 1) for c, n in zip(cuts, ss.lengths,
                                                                        strict=True)]
        paths = self._sample(ss, origins, self.seed)
        actual = self._actual(ss, origins)
        mean, sd = iv.spread(paths)
        self.scores_ = iv.normalised_scores(actual, mean, sd) if self.dropout_ else None
        self.validation_ = scores(actual, mean)
        return self

    def _build(self, n_features: int) -> nn.Module:
        k, w = self.outputs_per_step, self.window
        if isinstance(self.model, str):
            opts = dict(self.model_options or {})
            base = zoo.build(self.model, input_size=n_features, window=w, seed=self.seed,
                             outputs=k, horizon=k, **opts)
            model = iv.with_dropout(list(base.layers), self.dropout, k)
            model = Sequential(model, input_size=n_features, seed=self.seed, name=self.model)
        elif isinstance(self.model, nn.Module):
            model = copy.deepcopy(self.model)
        else:
            model = self.model(n_features, k)
        self.seq_out_, self.align_ = validation.output_layout(self, model, n_features)
        self.dropout_ = float(self.dropout) if iv.has_dropout(model) else 0.0
        return model

    def training_data(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's training pairs ``(X [n, window, F], Y)``, transformed: windows of the
        training part of every series (none reaches into the held-out period)."""
        self._fitted()
        zs = self._transformed(self.series_)
        parts = [self._pairs(z[:c - self.differencing_lag]) for z, c in zip(zs, self.cuts_,
                                                                       strict=True)]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    def _pairs(self, z: np.ndarray, seq: bool | None = None, k: int | None = None):
        k = self.outputs_per_step if k is None else k
        z, _ = left_pad(z, self.window + k)
        seg = windows(torch.from_numpy(z), self.window + k)       # (n, W + k, F), a view
        x = seg[:, :self.window]
        if self.seq_out_ if seq is None else seq:
            first, stride = self.align_
            y = seg[:, 1:, 0].unfold(1, k, 1)[:, first::stride]   # (n, L, k)
        else:
            y = seg[:, self.window:, 0]                             # (n, k)
        x, s = self._scale_in(x.contiguous())
        return x, (y if s is None else y / (s[:, :, None] if y.dim() == 3 else s)).contiguous()

    def _scale_in(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return scale_windows(x) if self.scale == "window" else (x, None)

    def _transformed(self, ss: SeriesSet) -> list[np.ndarray]:
        if self.transforms_ is None:
            return [np.array(v, dtype=np.float32) for v in ss.values]
        return [z.astype(np.float32) for z in self.transforms_.transform(list(ss.values))]

    # -- forecasting ----------------------------------------------------------------------

    def _inputs(self, zs: list[np.ndarray], origins: list[np.ndarray]) -> torch.Tensor:
        """Windows ending just before each origin (the raw index of the first step ahead)."""
        nh, w, parts = self.differencing_lag, self.window, []
        for z, o in zip(zs, origins, strict=True):
            if not len(o):
                parts.append(torch.empty(0, w, z.shape[1], dtype=torch.float32))
                continue
            short = max(0, nh + w - int(o.min()))  # steps missing before the first window
            z, p = left_pad(z, len(z) + short)
            parts.append(windows(torch.from_numpy(z), w)[torch.as_tensor(o - nh - w + p)])
        return torch.cat(parts)

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, horizon]`` in transformed space; one model call per batch of origins (per
        step ahead for ``recursive``)."""
        def once(xb):
            out = torch.cat([self.model_(xb[i:i + _BATCH]) for i in range(0, len(xb), _BATCH)])
            return out[:, -1] if out.dim() == 3 else out
        if self.strategy != "recursive":
            return once(x)
        steps = []
        for _ in range(self.horizon):
            nxt = once(x)[:, :1]                                     # (N, 1)
            steps.append(nxt)
            x = torch.cat([x[:, 1:], nxt.unsqueeze(-1)], dim=1)
        return torch.cat(steps, dim=1)

    def _sample(self, ss: SeriesSet, origins: list[np.ndarray], seed: int | None) -> np.ndarray:
        """MC-dropout sample paths in the series' units, ``[samples, N, horizon]``."""
        x, s = self._scale_in(self._inputs(self._transformed(ss), origins))
        samples = self.mc_samples if self.dropout_ else 1
        with thread_count(default_threads(self.model_)):
            z = iv.mc_passes(lambda: self._forward(x), samples, self.model_, seed)
        return self._invert(ss, origins, z if s is None else z * s.numpy()[None])

    def _invert(self, ss: SeriesSet, origins: list[np.ndarray], z: np.ndarray) -> np.ndarray:
        """Forecasts ``[S, N, horizon]`` of the first target from transformed space back to
        the series' units: each sample path is inverted, given the series before its origin."""
        if self.transforms_ is None:
            return z
        out, start, nh = np.empty_like(z), 0, self.differencing_lag
        for i, (v, o) in enumerate(zip(ss.values, origins, strict=True)):
            block = slice(start, start + len(o))
            part = np.zeros(z[:, block].shape + (v.shape[1],))       # (S, n_i, H, F)
            part[..., 0] = z[:, block]  # the other columns do not affect the first one
            hist = None
            if nh:
                hist = windows(torch.from_numpy(np.array(v)), nh)[torch.as_tensor(o - nh)]
                hist = hist.numpy()                                      # (n_i, nh, F)
            out[:, block] = self.transforms_[i].inverse(part, hist)[..., 0]
            start += len(o)
        return out

    def _actual(self, ss: SeriesSet, origins: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([windows(torch.from_numpy(np.array(v[:, :1])), self.horizon)
                               [torch.as_tensor(o)][..., 0].double().numpy()
                               for v, o in zip(ss.values, origins, strict=True)])

    def _bands(self, paths, levels, calibrated: bool) -> dict:
        mean, sd = iv.spread(paths)
        cols = {"mean": mean}
        if levels and not self.dropout_:
            raise ConfigError("intervals come from MC dropout and this model has none: set "
                              "dropout > 0, or pass intervals=()")
        for p in levels:
            f = iv.conformal_factor(self.scores_, p) if calibrated else iv.normal_factor(p)
            cols[f"lower_{iv.level_name(p)}"], cols[f"upper_{iv.level_name(p)}"] = \
                iv.bounds(mean, sd, f)
        return cols

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
        bands = {(p, calibrated): self._bands(paths, (p,), calibrated)
                 for p in levels for calibrated in (True, False)} if self.dropout_ else {}
        return OriginForecasts(self._actual(series, origins), paths, bands,
                               self._linear_baseline(series, origins))

    def _linear_baseline(self, ss: SeriesSet, origins: list[np.ndarray]) -> np.ndarray:
        """Least squares from the transformed training windows to the next ``horizon``
        values, inverted like the model's forecasts: ``[N, horizon]``."""
        zs = self._transformed(self.series_)
        pairs = [self._pairs(z[:c - self.differencing_lag], seq=False, k=self.horizon)
                 for z, c in zip(zs, self.cuts_, strict=True)]
        lin = LeastSquaresLinear(alpha=1e-6).fit(torch.cat([p[0] for p in pairs]).numpy(),
                                                 torch.cat([p[1] for p in pairs]).numpy())
        x, s = self._scale_in(self._inputs(self._transformed(ss), origins))
        z = lin.predict(x.numpy()).astype(np.float64)
        return self._invert(ss, origins, (z if s is None else z * s.numpy())[None])[0]

    def history(self, data: Any, **read_options) -> SeriesSet:
        """Newer history of the series the model was trained on (a table, file or
        :class:`SeriesSet`), read like the training data (same columns unless
        ``read_options`` say otherwise: ``time``, ``target``, ``id``, ``fill``, ``wide``,
        ``sort``, ``resample``, ``agg``) and checked to hold the same series, targets,
        covariates and frequency, each at least ``window`` steps long."""
        self._fitted()
        return validation.check_history(self, data, **read_options)

    def predict(self, intervals=(0.8, 0.95), calibrated: bool = True,
                seed: int | None = None, data: Any = None, **read_options):
        """The ``horizon`` steps after the end of each series: a DataFrame with columns
        ``id``, ``time``, ``mean`` and ``lower_<level>`` / ``upper_<level>`` per level
        (percent: ``lower_80``). ``calibrated=False`` gives the raw MC-dropout intervals.
        ``seed`` (default: the Forecaster's) fixes the MC-dropout masks. ``data``: forecast
        after the end of newer history of the same series instead (see :meth:`history`;
        the model and its fitted scaling are used as they are, nothing is refitted)."""
        self._fitted()
        levels = iv.check_levels(intervals)
        if data is None and read_options:
            raise ConfigError(f"predict() got {sorted(read_options)}: reading options go with "
                              "data= (newer history); predict takes intervals, calibrated, "
                              "seed and data")
        ss = self.series_ if data is None else self.history(data, **read_options)
        origins = [np.array([n]) for n in ss.lengths]
        paths = self._sample(ss, origins, self.seed if seed is None else seed)
        cols = self._bands(paths, levels, calibrated)
        pd = require_pandas()
        frame = pd.DataFrame({
            "id": np.repeat(np.array(ss.ids, dtype=object), self.horizon),
            "time": np.concatenate([np.asarray(ss.future_index(i, self.horizon))
                                    for i in range(len(ss))])})
        for name, a in cols.items():
            frame[name] = a.reshape(-1)
        return frame

    def holdout_forecasts(self, intervals=(0.8, 0.95), calibrated: bool = True):
        """Forecasts from every held-out origin (the calibration windows), with the seed used
        for calibration: columns ``id``, ``origin`` (time of the first step ahead), ``step``,
        ``time``, ``actual``, ``mean``, bounds."""
        self._fitted()
        ss = self.series_
        if getattr(self, "tail_only_", False):
            raise ConfigError("a loaded Forecaster keeps only the end of each series, not its "
                              "held-out part")
        origins = [np.arange(c, n - self.horizon + 1) for c, n in zip(self.cuts_, ss.lengths,
                                                                        strict=True)]
        cols = self._bands(self._sample(ss, origins, self.seed), iv.check_levels(intervals),
                           calibrated)
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
        """Per level and step ahead: the raw (normal) and calibrated (conformal) half-widths
        in MC standard deviations, and the share of held-out errors each interval covers."""
        self._fitted()
        if self.scores_ is None:
            raise ConfigError("no calibration: the model has no dropout")
        return iv.calibration_table(self.scores_, intervals)

    # -- backtesting ----------------------------------------------------------------------

    def backtest(self, folds: int = 5, step: int | None = None, season: int | None = None,
                 intervals=(0.8, 0.95), per_step: bool = False):
        """Rolling-origin evaluation, refitting per fold, against the naive, seasonal naive
        and linear baselines: one row per fold and method (see :mod:`seqnets.backtesting`),
        or with ``per_step=True`` one per fold, method and horizon step. ``step`` (default
        ``horizon``) origins per fold; ``season`` defaults to the frequency's (52 weekly, 12
        monthly, 7 daily, 24 hourly)."""
        return backtesting.backtest(self, folds, step, season, intervals, per_step)

    # -- files ----------------------------------------------------------------------------

    def save(self, path) -> Path:
        """Save to the folder ``path``: the model (``model.safetensors`` + ``config.json``)
        and ``forecaster.json`` (settings, fitted transforms, calibration scores, and the last
        steps of each series that ``predict`` needs). Atomic writes; no pickle."""
        self._fitted()
        return files.save(self, path)

    @classmethod
    def load(cls, path) -> Forecaster:
        """A Forecaster saved by :meth:`save`, ready to ``predict``."""
        return files.load(cls, path)


# ----------------------------------------------------------------------------- helpers
