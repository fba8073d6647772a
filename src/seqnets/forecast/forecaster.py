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
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.tables import SeriesSet, _pandas, read_series
from ..data.transforms import Difference, PerSeries, Pipeline, Scaler, transform_from_dict
from ..data.windows import windows
from ..errors import ConfigError, DataError, ModelFileError, NotFittedError
from ..io import atomic_write_text
from ..io import load as load_model
from ..io import save as save_model
from ..layers.conv import Conv1D
from ..layers.ops.dispatch import default_threads, thread_count
from ..models import Sequential, zoo
from ..training import fit as train
from . import backtesting, metrics
from . import intervals as iv

__all__ = ["Forecaster"]

STRATEGIES = ("seq2seq", "direct", "recursive")
FILE = "forecaster.json"
FORMAT = "seqnets-forecaster"
_BATCH = 8192  # origins per model call at inference (all of them, for any usual data set)


def _positive(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


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
        scale: standardise each series with statistics of its training part.
        difference: ``None``, or a lag (1 removes a trend, 12 or 52 a season), applied to
            every input column before scaling.
        dropout: MC-dropout rate (0 disables intervals).
        mc_samples: MC passes per forecast.
        holdout: a fraction of each series' steps (float), or a number of forecast origins
            per series (int), held out at the end for calibration.
        model_options: extra ``zoo.build`` options (``units``, ``channels``, ...).
        seed: seeds initialisation, training and MC sampling.
        quiet: no training progress output.
    """

    def __init__(self, model: Any = "gru", window: int = 32, horizon: int = 8,
                 strategy: str = "seq2seq", *, epochs: int = 20, batch_size: int = 32,
                 lr: float | None = None, scale: bool = True, difference: int | None = None,
                 dropout: float = 0.1, mc_samples: int = 100, holdout: float | int = 0.2,
                 model_options: dict | None = None, seed: int = 0, quiet: bool = True):
        self.model, self.window, self.horizon, self.strategy = model, window, horizon, strategy
        self.epochs, self.batch_size, self.lr = epochs, batch_size, lr
        self.scale, self.difference, self.dropout = scale, difference, dropout
        self.mc_samples, self.holdout, self.model_options = mc_samples, holdout, model_options
        self.seed, self.quiet = seed, quiet

    _PARAMS = ("model", "window", "horizon", "strategy", "epochs", "batch_size", "lr", "scale",
               "difference", "dropout", "mc_samples", "holdout", "model_options", "seed",
               "quiet")

    def get_params(self) -> dict:
        return {k: getattr(self, k) for k in self._PARAMS}

    def __repr__(self) -> str:
        return f"Forecaster({self.model!r}, window={self.window}, horizon={self.horizon})"

    # -- checks ---------------------------------------------------------------------------

    def _check(self) -> None:
        _positive(self.window, "window")
        _positive(self.horizon, "horizon")
        _positive(self.batch_size, "batch_size")
        _positive(self.mc_samples, "mc_samples")
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"unknown strategy {self.strategy!r}; use one of {STRATEGIES}")
        if isinstance(self.epochs, bool) or not isinstance(self.epochs, int) or self.epochs < 0:
            raise ConfigError(f"epochs must be a non-negative integer, got {self.epochs!r}")
        if self.lr is not None and not (isinstance(self.lr, int | float) and self.lr > 0):
            raise ConfigError(f"lr must be a positive number or None, got {self.lr!r}")
        if not isinstance(self.scale, bool):
            raise ConfigError(f"scale must be True or False, got {self.scale!r}")
        if self.difference is not None:
            _positive(self.difference, "difference (a lag; None for no differencing)")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, int | float) \
                or not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must be in [0, 1), got {self.dropout!r}")
        h = self.holdout
        if isinstance(h, float):
            if not 0 < h < 1:
                raise ConfigError(f"holdout as a fraction must be in (0, 1), got {h!r}")
        else:
            _positive(h, "holdout (a fraction of each series, or a number of origins)")
        if isinstance(self.model, str):
            entry = zoo.info(self.model)
            if entry.task != "seq2seq" and self.model != "encoder_decoder":
                ok = [n for n in zoo.names() if zoo.info(n).task == "seq2seq"]
                raise ConfigError(f"model {self.model!r} has a fixed output size; use one of "
                                  f"{ok + ['encoder_decoder']}, or pass your own module")
        elif not (isinstance(self.model, nn.Module) or callable(self.model)):
            raise ConfigError(f"model must be a zoo name, a module or a factory "
                              f"(input_size, outputs) -> module, got {self.model!r}")

    @property
    def _outputs(self) -> int:
        return 1 if self.strategy == "recursive" else self.horizon

    def _template(self):
        steps = ([Difference(self.difference)] if self.difference else []) + \
            ([Scaler()] if self.scale else [])
        return PerSeries(Pipeline(steps)) if steps else None

    @property
    def _n_history(self) -> int:
        return int(self.difference or 0)

    def _n_cal(self, length: int) -> int:
        if isinstance(self.holdout, float):
            return max(1, int(self.holdout * length) - self.horizon + 1)
        return int(self.holdout)

    def _min_length(self) -> int:
        n_cal = 1 if isinstance(self.holdout, float) else int(self.holdout)
        return self._n_history + self.window + self._outputs + self.horizon + n_cal - 1

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
        self._check_lengths(ss, data)
        if self.strategy == "recursive" and ss.values[0].shape[1] > 1:
            raise ConfigError("strategy='recursive' feeds forecasts back as inputs, so it "
                              "takes one target and no covariates; use 'seq2seq' or 'direct'")
        return self._fit_series(ss)

    def _check_lengths(self, ss: SeriesSet, data: Any) -> None:
        need = self._min_length()
        short = [f"{'the series' if len(ss) == 1 else repr(sid)} ({n} steps)"
                 for sid, n in zip(ss.ids, ss.lengths, strict=True) if n < need]
        if short:
            parts = ([f"differencing lag {self._n_history}"] if self._n_history else []) + \
                [f"window {self.window}", f"{self._outputs} target step(s)",
                 f"{need - self._n_history - self.window - self._outputs} for the held-out "
                 f"origins of horizon {self.horizon}"]
            where = (f" in '{ss.source}'" if ss.source else
                     " in the array" if isinstance(data, np.ndarray) else
                     "" if isinstance(data, SeriesSet) else " in the DataFrame")
            raise DataError(f"series shorter than {need} steps ({' + '.join(parts)}){where}: "
                            f"{', '.join(short[:5])}{' ...' if len(short) > 5 else ''}. Fix: "
                            "give more history, or use a shorter window, horizon or holdout")

    def _fit_series(self, ss: SeriesSet) -> Forecaster:
        need = self._n_history + self.window + self._outputs
        cuts = []
        for sid, length in zip(ss.ids, ss.lengths, strict=True):
            cut = length - self.horizon - self._n_cal(length) + 1
            if cut < need:
                raise DataError(f"series {sid!r} ({length} steps) leaves {cut} for training "
                                f"after the holdout; window + outputs need {need}. Fix: a "
                                "smaller holdout, window or horizon")
            cuts.append(cut)
        self.series_, self.cuts_ = ss, tuple(cuts)
        self.transforms_ = self._template()
        if self.transforms_ is not None:
            self.transforms_.fit([v[:c] for v, c in zip(ss.values, cuts, strict=True)])
        self.model_ = self._build(ss.values[0].shape[1])
        x, y = self.training_data()
        loss = F.mse_loss if self.seq_out_ else _last_step_mse
        history = train(self.model_, (x, y), epochs=self.epochs, batch_size=self.batch_size,
                        lr=self.lr, loss=loss, seed=self.seed, quiet=self.quiet)
        self.history_ = history.to_dict()
        origins = [np.arange(c, n - self.horizon + 1) for c, n in zip(cuts, ss.lengths,
                                                                        strict=True)]
        paths = self._sample(ss, origins, self.seed)
        actual = self._actual(ss, origins)
        mean, sd = iv.spread(paths)
        self.scores_ = iv.normalised_scores(actual, mean, sd) if self.dropout_ else None
        self.validation_ = _scores(actual, mean)
        return self

    def _build(self, n_features: int) -> nn.Module:
        k, w = self._outputs, self.window
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
        self._layout(model, n_features)
        self.dropout_ = float(self.dropout) if iv.has_dropout(model) else 0.0
        return model

    def _layout(self, model: nn.Module, n_features: int) -> None:
        """Output rank and, for sequence outputs, which input step each output step ends at
        (``first + j * stride``: a strided 'valid' convolution first skips and thins)."""
        if hasattr(model, "compute_output_shape"):
            shape = tuple(model.compute_output_shape((self.window, n_features)))
        else:
            with torch.no_grad():
                shape = tuple(model(torch.zeros(1, self.window, n_features)).shape[1:])
        self.seq_out_ = len(shape) == 2
        first, stride = 0, 1
        layers = list(model.layers) if isinstance(model, Sequential) else []
        if layers and isinstance(layers[0], Conv1D) and layers[0].padding == "valid":
            c = layers[0]
            first, stride = (c.kernel_size - 1) * c.dilation_rate, c.strides
        if shape[-1] != self._outputs:
            raise ConfigError(f"the model outputs {shape[-1]} values per step, the strategy "
                              f"needs {self._outputs}")
        if self.seq_out_:
            steps = len(range(first, self.window, stride))
            if shape[0] != steps or (self.window - 1 - first) % stride:
                raise ConfigError(f"the model's output steps do not end at the window's last "
                                  f"step (window {self.window}, {shape[0]} output steps): for "
                                  f"a strided first convolution pick a window with "
                                  f"(window - {first + 1}) % {stride} == 0")
        elif self.strategy == "seq2seq":
            raise ConfigError("strategy='seq2seq' needs a model with a sequence output "
                              f"[batch, time, k]; {self.model!r} outputs [batch, k]: use "
                              "strategy='direct'")
        self.align_ = (first, stride)

    def training_data(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The model's training pairs ``(X [n, window, F], Y)``, transformed: windows of the
        training part of every series (none reaches into the held-out period)."""
        self._fitted()
        zs = self._transformed(self.series_)
        parts = [self._pairs(z[:c - self._n_history]) for z, c in zip(zs, self.cuts_,
                                                                       strict=True)]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    def _pairs(self, z: np.ndarray, seq: bool | None = None, k: int | None = None):
        k = self._outputs if k is None else k
        seg = windows(torch.from_numpy(z), self.window + k)       # (n, W + k, F), a view
        x = seg[:, :self.window]
        if self.seq_out_ if seq is None else seq:
            first, stride = self.align_
            y = seg[:, 1:, 0].unfold(1, k, 1)[:, first::stride]   # (n, L, k)
        else:
            y = seg[:, self.window:, 0]                             # (n, k)
        return x.contiguous(), y.contiguous()

    def _transformed(self, ss: SeriesSet) -> list[np.ndarray]:
        if self.transforms_ is None:
            return [np.array(v, dtype=np.float32) for v in ss.values]
        return [z.astype(np.float32) for z in self.transforms_.transform(list(ss.values))]

    # -- forecasting ----------------------------------------------------------------------

    def _inputs(self, zs: list[np.ndarray], origins: list[np.ndarray]) -> torch.Tensor:
        """Windows ending just before each origin (the raw index of the first step ahead)."""
        nh, w = self._n_history, self.window
        return torch.cat([windows(torch.from_numpy(z), w)[torch.as_tensor(o - nh - w)]
                          for z, o in zip(zs, origins, strict=True)])

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
        x = self._inputs(self._transformed(ss), origins)
        samples = self.mc_samples if self.dropout_ else 1
        with thread_count(default_threads(self.model_)):
            z = iv.mc_passes(lambda: self._forward(x), samples, self.model_, seed)
        return self._invert(ss, origins, z)

    def _invert(self, ss: SeriesSet, origins: list[np.ndarray], z: np.ndarray) -> np.ndarray:
        """Forecasts ``[S, N, horizon]`` of the first target from transformed space back to
        the series' units: each sample path is inverted, given the series before its origin."""
        if self.transforms_ is None:
            return z
        out, start, nh = np.empty_like(z), 0, self._n_history
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

    def history(self, data: Any, **read_options) -> SeriesSet:
        """Newer history of the series the model was trained on (a table, file or
        :class:`SeriesSet`), read like the training data (same columns unless
        ``read_options`` say otherwise: ``time``, ``target``, ``id``, ``fill``, ``wide``,
        ``sort``, ``resample``, ``agg``) and checked to hold the same series, targets,
        covariates and frequency, each at least ``window`` steps long."""
        self._fitted()
        old = self.series_
        if isinstance(data, SeriesSet):
            ss = data
        else:
            options = dict(read_options)
            if options.get("wide"):
                options.setdefault("target", list(old.ids))
            else:
                options.setdefault("target", list(old.targets))
                options.setdefault("id", None if old.ids == (0,) else old.id_name)
            options.setdefault("time", old.time_name)
            options.setdefault("covariates", list(old.covariates) or None)
            ss = read_series(data, min_length=self._n_history + self.window, **options)
        where = f"'{ss.source}'" if ss.source else "the new data"
        if ss.n_targets != old.n_targets or set(ss.ids) != set(old.ids) or \
                ss.covariates != old.covariates:
            raise DataError(f"{where} holds series {list(ss.ids)[:10]} with targets "
                            f"{list(ss.targets)} and covariates {list(ss.covariates)}; the "
                            f"model was trained on series {list(old.ids)[:10]} with targets "
                            f"{list(old.targets)} and covariates {list(old.covariates)}. Fix: "
                            "give the same series (the scaling is fitted per series), or "
                            "train anew")
        if str(ss.freq) != str(old.freq):
            raise DataError(f"{where} steps by {ss.freq!r}, the model was trained on "
                            f"{old.freq!r} steps. Fix: resample the table, or train anew")
        short = [sid for sid, n in zip(ss.ids, ss.lengths, strict=True)
                 if n < self._n_history + self.window]
        if short:
            raise DataError(f"{where}: series {short[:5]} are shorter than the "
                            f"{self._n_history + self.window} steps a forecast reads. Fix: "
                            "give more history")
        order = [ss.position(sid) for sid in old.ids]
        return SeriesSet(old.ids, [ss.index[i] for i in order], [ss.values[i] for i in order],
                         ss.targets, ss.covariates, ss.freq, ss.time_name, ss.id_name,
                         ss.source)

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
        pd = _pandas()
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
        pd = _pandas()
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
        pd = _pandas()
        rows = []
        for p in iv.check_levels(intervals):
            z, q = iv.normal_factor(p), iv.conformal_factor(self.scores_, p)
            for h in range(self.horizon):
                s = self.scores_[:, h]
                rows.append({"level": p, "step": h + 1, "raw_factor": z, "factor": q[h],
                             "raw_coverage": float(np.mean(s <= z)),
                             "coverage": float(np.mean(s <= q[h]))})
        return pd.DataFrame(rows)

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
        folder = save_model(self.model_, path)
        ss, keep = self.series_, self._n_history + self.window
        pd = _pandas()
        dated = isinstance(ss.index[0], pd.DatetimeIndex)
        params = self.get_params()
        params["model"] = self.model if isinstance(self.model, str) else None
        state = {
            "format": FORMAT, "format_version": 1, "params": params,
            "transforms": None if self.transforms_ is None else self.transforms_.to_dict(),
            "scores": None if self.scores_ is None else self.scores_.tolist(),
            "dropout": self.dropout_, "seq_out": self.seq_out_, "align": list(self.align_),
            "cuts": list(self.cuts_), "history": self.history_, "validation": self.validation_,
            "series": {
                "ids": [_plain(s) for s in ss.ids], "targets": list(ss.targets),
                "covariates": list(ss.covariates), "freq": _plain(ss.freq),
                "time_name": ss.time_name, "id_name": ss.id_name, "dated": dated,
                "index": [[t.isoformat() for t in i[-keep:]] if dated else
                          [int(t) for t in i[-keep:]] for i in ss.index],
                "values": [np.asarray(v[-keep:], dtype=np.float64).tolist()
                           for v in ss.values]}}
        atomic_write_text(folder / FILE, json.dumps(state, indent=1, allow_nan=False) + "\n")
        return folder

    @classmethod
    def load(cls, path) -> Forecaster:
        """A Forecaster saved by :meth:`save`, ready to ``predict``."""
        folder = Path(path)
        try:
            state = json.loads((folder / FILE).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelFileError(f"{folder / FILE} is missing: {folder} holds no saved "
                                 "Forecaster") from None
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise ModelFileError(f"{folder / FILE} is not valid JSON ({err})") from None
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise ModelFileError(f"{folder / FILE} is not a saved Forecaster")
        model = load_model(folder)
        params = dict(state["params"])
        params["model"] = params["model"] or model
        fc = cls(**params)
        fc.model_, fc.dropout_, fc.seq_out_ = model, state["dropout"], state["seq_out"]
        fc.align_, fc.cuts_ = tuple(state["align"]), tuple(state["cuts"])
        fc.history_, fc.validation_ = state["history"], state["validation"]
        fc.transforms_ = None if state["transforms"] is None else \
            transform_from_dict(state["transforms"])
        fc.scores_ = None if state["scores"] is None else np.asarray(state["scores"])
        s = state["series"]
        pd = _pandas()
        index = [pd.DatetimeIndex(pd.to_datetime(i), freq=s["freq"], name=s["time_name"])
                 if s["dated"] else pd.RangeIndex(i[0], i[-1] + s["freq"], s["freq"],
                                                  name=s["time_name"]) for i in s["index"]]
        fc.series_ = SeriesSet(tuple(s["ids"]), index, [np.asarray(v) for v in s["values"]],
                               tuple(s["targets"]), tuple(s["covariates"]), s["freq"],
                               s["time_name"], s["id_name"])
        fc.tail_only_ = True
        return fc


# ----------------------------------------------------------------------------- helpers


def _last_step_mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """MSE of the last step's outputs (``direct`` training of a sequence-output model)."""
    return F.mse_loss(out[:, -1] if out.dim() == 3 else out, y)


def _scores(actual: np.ndarray, pred: np.ndarray, scale=None) -> dict:
    out = {"mae": metrics.mae(actual, pred), "rmse": metrics.rmse(actual, pred),
           "smape": metrics.smape(actual, pred)}
    if scale is not None:
        out["mase"] = metrics.mase(actual, pred, scale)
    return out


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
