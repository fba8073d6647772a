"""How a Forecaster turns series into model windows and model outputs back into forecasts:
training pairs, the input window before each origin (short series padded), per-window
scaling, MC sample paths, the inversion of the transforms, intervals, and the linear
baseline on the same windows. :class:`~seqnets.forecast.Forecaster` inherits it; the
attributes it reads (``window``, ``horizon``, ``transforms_``, ``model_``, ...) are the
Forecaster's settings and fitted state."""

from __future__ import annotations

import numpy as np
import torch

from ..data.series import SeriesSet
from ..data.windows import windows
from ..errors import ConfigError
from ..layers.ops.dispatch import default_threads, thread_count
from ..models.baselines import LeastSquaresLinear
from ..training.losses import get_loss
from . import covariates as cov
from . import distributions as dist
from . import intervals as iv
from . import quantiles as qt
from .origins import left_pad, local_scale, scale_windows
from .validation import LEAST_TRAINING

_BATCH = 8192  # origins per model call at inference (all of them, for any usual data set)


class WindowedForecasts:
    """Windows in, forecasts out; the machinery under :class:`~seqnets.forecast.Forecaster`."""

    # -- the windows ---------------------------------------------------------------------

    @property
    def outputs_per_step(self) -> int:
        """Target steps each model output covers: 1 for ``recursive``, else ``horizon``."""
        return 1 if self.strategy == "recursive" else self.horizon

    @property
    def model_outputs(self) -> int:
        """Values the model emits per step: per target step, one, the quantiles, or a
        distribution's parameters."""
        n = len(qt.QUANTILES) if self.uncertainty == "quantile" else \
            dist.HEADS.get(self.uncertainty, 1)
        return self.outputs_per_step * n

    @property
    def training_loss(self):
        """The loss the model trains on: the pinball loss for quantile outputs, the
        negative log likelihood for a distribution, else ``loss``."""
        if self.uncertainty == "quantile":
            return qt.pinball()
        if self.uncertainty in dist.HEADS:
            return dist.negative_log_likelihood(self.uncertainty)
        return get_loss(self.loss)[1]

    @property
    def quantile_paths(self) -> bool:
        """Whether forecasts come as the quantiles :data:`~seqnets.forecast.quantiles.
        QUANTILES` (quantile outputs, or a distribution read at them)."""
        return self.uncertainty == "quantile" or self.uncertainty in dist.HEADS

    @property
    def windows(self) -> tuple[int, ...]:
        """The input windows of the ensemble's members (one for a single window)."""
        return tuple(self.window) if isinstance(self.window, list | tuple) else (self.window,)

    @property
    def input_window(self) -> int:
        """Steps read before each origin: the longest of the windows."""
        return max(self.windows)

    @property
    def n_inputs_(self) -> int:
        """Input columns of the model: targets, covariates, calendar features, and the
        padding mask if any."""
        calendar = len(cov.calendar_names(self.series_.freq)) if self.calendar else 0
        return self.series_.values[0].shape[1] + calendar + int(self.masked_)

    @property
    def level_steps(self) -> int:
        """Steps whose mean absolute value is a window's level (``scale="window"``): the
        season (so that the level does not swing with it), or the whole window."""
        season = self.season_ if hasattr(self, "season_") else (self.season or 1)
        return min(self.input_window, season) if season > 1 else self.input_window

    @property
    def differencing_lag(self) -> int:
        """The differencing lag (0 without differencing): steps read before the window."""
        return int(self.difference or 0)

    def training_data(self, upto=None, tail: bool = False) -> tuple:
        """The model's training pairs ``(X [n, window, F], Y)``, transformed: windows of the
        training part of every series (none reaches into the held-out period), or with
        ``upto`` (a length per series) of the first ``upto`` steps of each; with
        ``base="linear"``, ``Y`` is what the linear base leaves. ``tail``: also a mask
        ``[n]`` of the last tenth of each series' windows (at least one; none for a series
        of fewer than 10), the validation windows of early stopping."""
        self._fitted()
        x, y, counts = self._windows_of(upto)
        if getattr(self, "base_", None) is not None:
            y = y - self._base(x)
        if not tail:
            return x, y
        masks = []
        for n in counts:
            m = torch.zeros(n, dtype=torch.bool)
            m[n - (max(1, n // 10) if n >= 10 else 0):] = True
            masks.append(m)
        return x, y, torch.cat(masks)

    def _windows_of(self, upto=None) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
        """Training windows and targets of every series (see :meth:`training_data`), and
        how many each series gave."""
        zs = self._transformed(self.series_)
        ends = self.cuts_ if upto is None else upto
        parts = [self._pairs(z[:c - self.differencing_lag]) for z, c in zip(zs, ends,
                                                                       strict=True)]
        return (torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts]),
                [len(p[0]) for p in parts])

    # -- the linear base (base="linear") -------------------------------------------------

    def _fit_base(self, upto=None) -> None:
        """Fit the linear base (least squares from the transformed training windows to the
        next ``horizon`` values) on the training windows (of the first ``upto`` steps of
        each series, as :meth:`training_data`); no base without ``base="linear"``."""
        self.base_ = None
        if self.base == "linear":
            x, y, _ = self._windows_of(upto)
            self.base_ = LeastSquaresLinear(alpha=1e-6).fit(x.numpy(), y.numpy())

    def _base(self, x: torch.Tensor, base=None) -> torch.Tensor:
        """The linear base's forecast of windows ``x`` (transformed, scaled), ``[N, H]``."""
        base = self.base_ if base is None else base
        return torch.from_numpy(base.predict(x.numpy()))

    def _pairs(self, z: np.ndarray, seq: bool | None = None, k: int | None = None):
        k, w = self.outputs_per_step if k is None else k, self.input_window
        # padded and masked, windows start LEAST_TRAINING steps in: short series train more
        lead = w - LEAST_TRAINING if self.masked_ else 0
        z, _ = left_pad(z, max(len(z) + lead, w + k), mask=self.masked_)
        seg = windows(torch.from_numpy(z), w + k)                 # (n, W + k, F), a view
        x = seg[:, :w]
        if self.seq_out_ if seq is None else seq:
            first, stride = self.align_
            y = seg[:, 1:, 0].unfold(1, k, 1)[:, first::stride]   # (n, L, k)
        else:
            y = seg[:, w:, 0]                                       # (n, k)
        x, s = self._scale_in(x.contiguous())
        return x, (y if s is None else y / (s[:, :, None] if y.dim() == 3 else s)).contiguous()

    def _scale_in(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.scale != "window":
            return x, None
        return scale_windows(x, self.level_steps, self.masked_)

    @property
    def future_names(self) -> tuple:
        """The ``future=`` columns, as a tuple (one name may be given as a string)."""
        return (self.future,) if isinstance(self.future, str) else tuple(self.future or ())

    def _view(self, ss: SeriesSet) -> SeriesSet:
        """The model's columns of ``ss``: ``future=`` columns and calendar features shifted
        ``horizon`` steps earlier (:func:`~seqnets.forecast.covariates.model_view`)."""
        return cov.model_view(ss, self.future_names, self.calendar, self.horizon)

    def _transformed(self, ss: SeriesSet) -> list[np.ndarray]:
        ss = self._view(ss)
        if self.transforms_ is None:
            return [np.array(v, dtype=np.float32) for v in ss.values]
        return [z.astype(np.float32) for z in self.transforms_.transform(list(ss.values))]

    # -- forecasting ----------------------------------------------------------------------

    def _inputs(self, zs: list[np.ndarray], origins: list[np.ndarray]) -> torch.Tensor:
        """Windows ending just before each origin (the raw index of the first step ahead)."""
        nh, w, parts = self.differencing_lag, self.input_window, []
        for z, o in zip(zs, origins, strict=True):
            if not len(o):
                parts.append(torch.empty(0, w, z.shape[1] + self.masked_,
                                         dtype=torch.float32))
                continue
            short = max(0, nh + w - int(o.min()))  # steps missing before the first window
            z, p = left_pad(z, len(z) + short, mask=self.masked_)
            parts.append(windows(torch.from_numpy(z), w)[torch.as_tensor(o - nh - w + p)])
        return torch.cat(parts)

    @property
    def sampled_paths(self) -> bool:
        """Whether forecasts are sample paths of a recursive model with a distribution head
        (each step drawn, then fed back)."""
        return self.strategy == "recursive" and self.uncertainty in dist.HEADS

    def _forward(self, x: torch.Tensor, model, base=None, seed: int | None = None):
        """``[N, horizon]`` in transformed space; one model call per batch of origins (per
        step ahead for ``recursive``); plus the linear ``base`` (a fitted
        :class:`~seqnets.models.baselines.LeastSquaresLinear`) if any. A recursive model
        with a distribution head gives ``mc_samples`` sample paths, ``[N, horizon, S]``:
        each step is drawn from its distribution (seeded by ``seed``) and fed back."""
        def once(xb):
            out = torch.cat([model(xb[i:i + _BATCH]) for i in range(0, len(xb), _BATCH)])
            return out[:, -1] if out.dim() == 3 else out
        if self.strategy != "recursive":
            out = once(x)
            if self.uncertainty == "quantile":  # (N, H, Q), never crossing
                out = out.reshape(len(x), self.horizon, -1).sort(dim=-1).values
            elif self.uncertainty in dist.HEADS:  # (N, H, P) parameters -> (N, H, Q)
                out = dist.quantiles(out.reshape(len(x), self.horizon, -1), self.uncertainty,
                                     qt.QUANTILES)
            if base is not None:
                b = self._base(x, base)
                out = out + (b.unsqueeze(-1) if out.dim() == 3 else b)
            return out
        n, steps = len(x), []
        if self.sampled_paths:
            gen = torch.Generator().manual_seed(0 if seed is None else int(seed))
            x = x.repeat(self.mc_samples, 1, 1)                      # (S * N, W, F)
        for _ in range(self.horizon):
            if self.sampled_paths:
                nxt = dist.sample(once(x), self.uncertainty, gen)[:, None]   # (S * N, 1)
            else:
                nxt = once(x)[:, :1]                                 # (N, 1)
            steps.append(nxt)
            step = torch.cat([nxt, torch.ones_like(nxt)], 1) if self.masked_ else nxt
            x = torch.cat([x[:, 1:], step.unsqueeze(1)], dim=1)  # a real step, fed back
        out = torch.cat(steps, dim=1)
        if self.sampled_paths:                                       # (N, H, S)
            out = out.reshape(self.mc_samples, n, self.horizon).permute(1, 2, 0)
        return out

    def _sample(self, ss: SeriesSet, origins: list[np.ndarray], seed: int | None,
                model=None, base=None) -> np.ndarray:
        """MC-dropout sample paths in the series' units, ``[samples, N, horizon]`` (one path,
        dropout off, without MC dropout; the quantiles ``[Q, N, horizon]`` with
        ``uncertainty="quantile"``, ``"gaussian"`` or ``"student_t"``), of ``model``
        (default: the fitted one, with its linear base)."""
        if model is None:
            model, base = self.model_, getattr(self, "base_", None)
        x, s = self._scale_in(self._inputs(self._transformed(ss), origins))
        with thread_count(default_threads(model)):
            if self.dropout_ and self.uncertainty == "mc_dropout":
                z = iv.mc_passes(lambda: self._forward(x, model, base), self.mc_samples, model,
                                 seed)
            else:
                z = iv.point_pass(lambda: self._forward(x, model, base, seed), model)
        if self.quantile_paths:
            z = np.moveaxis(z[0], -1, 0)                         # (Q, N, H), or (S, N, H)
        z = self._invert(ss, origins, z if s is None else z * s.numpy()[None])
        if self.sampled_paths:  # quantiles of the paths, in the series' units
            z = np.quantile(z, qt.QUANTILES, axis=0)
        return z

    def _invert(self, ss: SeriesSet, origins: list[np.ndarray], z: np.ndarray) -> np.ndarray:
        """Forecasts ``[S, N, horizon]`` of the first target from transformed space back to
        the series' units: each sample path is inverted, given the series before its origin."""
        if self.transforms_ is None:
            return z
        out, start, nh = np.empty_like(z), 0, self.differencing_lag
        for i, (v, o) in enumerate(zip(self._view(ss).values, origins, strict=True)):
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

    def _units(self, ss: SeriesSet, origins: list[np.ndarray]) -> np.ndarray | None:
        """The unit conformal and quantile calibration measure errors in, per origin
        ``[N, 1]`` (None for MC dropout, whose unit is its own spread): with
        ``scale="window"`` the window's level (the model's own unit), else the window's mean
        absolute step change (:func:`~seqnets.forecast.origins.local_scale`)."""
        if self.uncertainty == "mc_dropout":
            return None
        if self.scale == "window":
            return self._scale_in(self._inputs(self._transformed(ss), origins))[1] \
                .double().numpy()
        return local_scale(ss.values, origins, self.input_window)

    def origin_scores(self, series: SeriesSet, origins: list[np.ndarray],
                      forecasts) -> np.ndarray:
        """:meth:`conformity_scores` of :meth:`forecast_origins`'s ``forecasts`` of
        ``series`` from ``origins``: what a backtest adds to later folds' calibration."""
        return self.conformity_scores(forecasts.actual, forecasts.paths,
                                      self._units(series, origins))

    def conformity_scores(self, actual: np.ndarray, paths: np.ndarray,
                          unit: np.ndarray | None) -> np.ndarray:
        """How far each actual value ``[N, H]`` falls from the forecast ``paths``, in the
        unit the intervals are calibrated in: errors over the MC spread (MC dropout) or
        over ``unit`` (:meth:`_units`; conformal), or outside the raw interval (quantile
        outputs, CQR: ``[levels, N, H]``)."""
        if self.quantile_paths:
            return qt.cqr_scores(actual, paths, unit)
        sd = iv.spread(paths)[1] if unit is None else unit
        return iv.normalised_scores(actual, self._point(paths), sd)

    def _point(self, paths: np.ndarray) -> np.ndarray:
        """The forecast from the paths: the median quantile, or the mean of the MC paths."""
        return paths[qt.MEDIAN] if self.quantile_paths else paths.mean(axis=0)

    def _bands(self, paths, levels, calibrated: bool, unit=None) -> dict:
        """The forecast and its bounds per level (levels ascending); ``unit`` is
        :meth:`_units` of the same origins (conformal and quantile calibration)."""
        if self.quantile_paths:
            cols = {"mean": self._point(paths)}
            lower = upper = cols["mean"]
            for p in levels:  # ascending; calibrated apart, so nest each around the last
                lo, hi = qt.bounds_at(paths, p, self.scores_ if calibrated else None, unit)
                lower, upper = np.minimum(lo, lower), np.maximum(hi, upper)
                cols[f"lower_{iv.level_name(p)}"], cols[f"upper_{iv.level_name(p)}"] = \
                    lower, upper
            return cols
        mean, sd = iv.spread(paths)
        cols = {"mean": mean}
        if levels and not self.intervals_:
            raise ConfigError("intervals come from MC dropout and this model has none: set "
                              "dropout > 0 or uncertainty='conformal', or pass intervals=()")
        if levels and self.uncertainty == "conformal":
            if not calibrated:
                raise ConfigError("conformal intervals are calibrated by construction; "
                                  "calibrated=False applies to uncertainty='mc_dropout'")
            sd = unit
        for p in levels:
            f = iv.conformal_factor(self.scores_, p) if calibrated else iv.normal_factor(p)
            cols[f"lower_{iv.level_name(p)}"], cols[f"upper_{iv.level_name(p)}"] = \
                iv.bounds(mean, sd, f)
        return cols

    def _linear_baseline(self, ss: SeriesSet, origins: list[np.ndarray]) -> np.ndarray:
        """Least squares from the transformed training windows to the next ``horizon``
        values, inverted like the model's forecasts: ``[N, horizon]``. It learns from the
        windows the forecasting model learnt from: all of every series after a refit,
        else those before the held-out part."""
        zs = self._transformed(self.series_)
        ends = self.series_.lengths if self.refit else self.cuts_
        pairs = [self._pairs(z[:c - self.differencing_lag], seq=False, k=self.horizon)
                 for z, c in zip(zs, ends, strict=True)]
        lin = LeastSquaresLinear(alpha=1e-6).fit(torch.cat([p[0] for p in pairs]).numpy(),
                                                 torch.cat([p[1] for p in pairs]).numpy())
        x, s = self._scale_in(self._inputs(self._transformed(ss), origins))
        z = lin.predict(x.numpy()).astype(np.float64)
        return self._invert(ss, origins, (z if s is None else z * s.numpy())[None])[0]
