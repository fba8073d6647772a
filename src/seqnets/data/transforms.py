"""Transforms fitted on the training part of a series, each with an exact inverse.

    pipe = Pipeline([Scaler(), Difference(1), Difference(52)]).fit(y[:cut])   # training part
    z = pipe.transform(y)                  # [T - 53]: differencing drops its first lags
    back = pipe.inverse(z, history=y[:pipe.n_history])                         # == y[53:]
    level = pipe.inverse(z_forecast, history=y[origin - pipe.n_history:origin])

Shapes. A transform is fitted on ONE series, ``[T]`` or ``[T, F]`` (time first), and learns
only from it: fit on the training part, then transform anything after. ``transform`` and
``inverse`` take arrays with any leading batch axes, ``[..., T]`` (fitted on ``[T]``) or
``[..., T, F]`` (fitted on ``[T, F]``): forecasts ``[n, horizon]``, MC-dropout passes
``[samples, n, horizon]``, interval bounds ``[2, n, horizon]``.

Inverting. ``inverse(z, history)`` maps values in transformed space back to the series' own
units. A differencing step needs the series' values just before ``z`` starts: ``history`` is
the untransformed series up to that point, at least ``n_history`` steps (more is fine: the last
ones are used), either one ``[L]`` / ``[L, F]`` shared by the batch or one per batch element
``[..., L]`` / ``[..., L, F]``. For a full series that is its first ``n_history`` values; for a
forecast it is the series before the forecast origin. Inverting the transform of a series gives
it back up to float64 round-off (|error| below 1e-9 × the series' magnitude in the tests).

Intervals. Every inverse here is non-decreasing in each transformed value (scales are
positive; differencing inverts by sums), so inverting a lower and an upper bound gives the
exact image of the box they span: exact for a scaling, the sum of per-step bounds after
differencing (a wide, comonotone band). For a calibrated interval after differencing, invert
sample paths (e.g. every MC-dropout pass, as a batch) and take quantiles afterwards, or
calibrate in the original units.

Everything is computed and returned in float64. Transforms save to plain JSON
(``to_dict`` / ``transform_from_dict``), never pickle.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..checks import positive_int
from ..errors import ConfigError, DataError, NotFittedError, ShapeError

__all__ = ["Difference", "PerSeries", "Pipeline", "Scaler", "Transform",
           "transform_from_dict"]


class Transform:
    """Base class: ``fit`` on one series' training part, then ``transform`` / ``inverse``.

    Subclasses implement ``_fit(x)``, ``_forward(x)`` and ``_backward(z, history)`` on float64
    arrays ``[..., T, F]`` and say how many leading steps ``transform`` drops (``n_history``).
    """

    n_history = 0  # steps the transform drops at the start (and needs as history to invert)

    def __init__(self):
        self.ndim_: int | None = None
        self.n_features_: int | None = None

    # -- public API -----------------------------------------------------------------------

    def fit(self, x) -> Transform:
        """Learn from ``x``, the training part of one series, ``[T]`` or ``[T, F]``."""
        a = np.asarray(x, dtype=np.float64)
        if a.ndim not in (1, 2):
            raise ShapeError(f"{type(self).__name__}.fit takes one series [T] or [T, F], got "
                             f"shape {a.shape}; fit one transform per series (PerSeries)")
        if a.shape[0] <= self.n_history:
            raise ShapeError(f"{type(self).__name__}.fit needs more than {self.n_history} "
                             f"steps, got {a.shape[0]}")
        bad = np.argwhere(~np.isfinite(a))
        if len(bad):
            raise DataError(f"{type(self).__name__}.fit: the training values hold NaN or inf "
                            f"at (step[, feature]) {[tuple(map(int, b)) for b in bad[:5]]}"
                            f"{' ...' if len(bad) > 5 else ''}. Fix: fill them first "
                            "(read_series(fill='interpolate'))")
        self.ndim_ = a.ndim
        self.n_features_ = 1 if a.ndim == 1 else a.shape[1]
        self._fit(a.reshape(a.shape[0], -1))
        return self

    def transform(self, x) -> np.ndarray:
        """``[..., T(, F)]`` -> ``[..., T - n_history(, F)]`` in transformed space."""
        return self._squeeze(self._forward(self._expand(x, "x")))

    def fit_transform(self, x) -> np.ndarray:
        return self.fit(x).transform(x)

    def inverse(self, z, history=None) -> np.ndarray:
        """Values in transformed space ``[..., H(, F)]`` back to the series' units, given the
        untransformed series before them (``history``, at least ``n_history`` steps; unused
        when ``n_history`` is 0). See the module docstring for shapes and intervals."""
        zz = self._expand(z, "z")
        hh = None
        if self.n_history:
            if history is None:
                raise ConfigError(f"{type(self).__name__}.inverse needs history=: the "
                                  f"{self.n_history} untransformed values just before z "
                                  "(for a full series, its first values)")
            hh = self._expand(history, "history")
            if hh.shape[-2] < self.n_history:
                raise ShapeError(f"history has {hh.shape[-2]} steps, {type(self).__name__} "
                                 f"needs the last {self.n_history} before z")
            lead = np.broadcast_shapes(zz.shape[:-2], hh.shape[:-2])
            zz = np.broadcast_to(zz, lead + zz.shape[-2:])
            hh = np.broadcast_to(hh, lead + hh.shape[-2:])
        return self._squeeze(self._backward(zz, hh))

    def clone(self) -> Transform:
        """An unfitted copy with the same settings."""
        return type(self)(**self._params())

    def to_dict(self) -> dict:
        """Settings and fitted state as plain JSON types (floats round-trip exactly)."""
        return {"type": type(self).__name__, **self._params(), "ndim": self.ndim_,
                "n_features": self.n_features_, **self._state()}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._params().items())
        return f"{type(self).__name__}({args})"

    # -- for subclasses -------------------------------------------------------------------

    def _params(self) -> dict:
        return {}

    def _state(self) -> dict:
        return {}

    def _load(self, d: dict) -> None:
        ndim, n = d["ndim"], d["n_features"]
        if ndim is None and n is None:  # unfitted
            self.ndim_ = self.n_features_ = None
            return
        if ndim not in (1, 2) or isinstance(ndim, bool) or isinstance(n, bool) \
                or not isinstance(n, int) or not 0 < n < 2**31 or (ndim == 1 and n != 1):
            raise ConfigError(f"{type(self).__name__}: ndim {ndim!r} and n_features {n!r} do "
                              "not describe a fitted transform (ndim 1 or 2, n_features > 0)")
        self.ndim_, self.n_features_ = ndim, n

    def _fit(self, a: np.ndarray) -> None:
        pass

    def _forward(self, a: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _backward(self, z: np.ndarray, history: np.ndarray | None) -> np.ndarray:
        raise NotImplementedError

    # -- shapes ---------------------------------------------------------------------------

    def _check_fitted(self):
        if self.ndim_ is None:
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet: call "
                                 ".fit(training values) first")

    def _expand(self, x, name: str) -> np.ndarray:
        """``[..., T]`` (fitted 1-D) or ``[..., T, F]`` -> float64 ``[..., T, F]``."""
        self._check_fitted()
        a = np.asarray(x, dtype=np.float64)
        if self.ndim_ == 1:
            if a.ndim < 1:
                raise ShapeError(f"{name} must be [..., T], got a scalar")
            return a[..., None]
        if a.ndim < 2 or a.shape[-1] != self.n_features_:
            raise ShapeError(f"{name} must be [..., T, {self.n_features_}] (fitted on "
                             f"{self.n_features_} features), got shape {a.shape}")
        return a

    def _squeeze(self, a: np.ndarray) -> np.ndarray:
        return a[..., 0] if self.ndim_ == 1 else a


class Scaler(Transform):
    """Per-feature scaling learnt from the training part: ``z = (x - center) / scale``.

    ``method="standard"``: mean and standard deviation (ddof 0); ``"robust"``: median and
    interquartile range. A zero spread scales by 1 (the feature is only centred), as
    scikit-learn does; ``read_series`` already refuses constant targets.
    """

    def __init__(self, method: str = "standard"):
        super().__init__()
        if method not in ("standard", "robust"):
            raise ConfigError(f"Scaler method must be 'standard' or 'robust', got {method!r}")
        self.method = method
        self.center_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    def _params(self):
        return {"method": self.method}

    def _state(self):
        return {"center": None if self.center_ is None else self.center_.tolist(),
                "scale": None if self.scale_ is None else self.scale_.tolist()}

    def _load(self, d):
        super()._load(d)
        if d["center"] is None and d["scale"] is None:
            return
        try:
            center = np.asarray(d["center"], dtype=np.float64)
            scale = np.asarray(d["scale"], dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            center = scale = np.zeros(0)
        n = self.n_features_
        if n is None or center.shape != (n,) or scale.shape != (n,) \
                or not (np.isfinite(center).all() and np.isfinite(scale).all()) \
                or (scale <= 0).any():
            raise ConfigError(f"Scaler: center and scale must be {n} finite numbers each "
                              "(scale > 0), one per feature")
        self.center_, self.scale_ = center, scale

    def _fit(self, a):
        if self.method == "standard":
            center, scale = a.mean(axis=0), a.std(axis=0)
        else:
            q25, center, q75 = np.percentile(a, [25, 50, 75], axis=0)
            scale = q75 - q25
        self.center_ = center
        self.scale_ = np.where(scale > 0, scale, 1.0)

    def _forward(self, a):
        return (a - self.center_) / self.scale_

    def _backward(self, z, history):
        return z * self.scale_ + self.center_


class Difference(Transform):
    """``z_t = x_t - x_{t-lag}``: lag 1 removes a trend, a seasonal lag (12 for monthly data,
    52 for weekly, 24 for hourly) removes a season. ``transform`` drops the first ``lag`` steps;
    ``inverse`` adds them back from ``history``: ``x_t = x_{t-lag} + z_t``, a cumulative sum
    along each of the ``lag`` phases. Learns nothing from the values."""

    def __init__(self, lag: int = 1):
        super().__init__()
        lag = positive_int(lag, "Difference lag")
        self.lag = int(lag)

    @property
    def n_history(self) -> int:
        return self.lag

    def _params(self):
        return {"lag": self.lag}

    def _forward(self, a):
        if a.shape[-2] < self.lag:
            raise ShapeError(f"Difference(lag={self.lag}) needs at least {self.lag} steps, "
                             f"got {a.shape[-2]}")
        return a[..., self.lag:, :] - a[..., :-self.lag, :]

    def _backward(self, z, history):
        k = self.lag
        out = np.concatenate([history[..., -k:, :], z], axis=-2)  # (..., k + H, F)
        for r in range(k):  # phase r: x[r], x[r+k], x[r+2k], ... is a running sum
            out[..., r::k, :] = np.cumsum(out[..., r::k, :], axis=-2)
        return out[..., k:, :]


class Pipeline(Transform):
    """Transforms applied in order, each fitted on the previous one's output of the training
    part; ``inverse`` undoes them in reverse, giving each the history it needs."""

    def __init__(self, steps: Sequence[Transform]):
        super().__init__()
        steps = list(steps)
        bad = [s for s in steps if not isinstance(s, Transform)]
        if bad or not steps:
            raise ConfigError(f"Pipeline takes a non-empty list of transforms, got {steps!r}")
        self.steps = steps

    @property
    def n_history(self) -> int:
        return sum(s.n_history for s in self.steps)

    def clone(self) -> Pipeline:
        return Pipeline([s.clone() for s in self.steps])

    def to_dict(self) -> dict:
        return {"type": "Pipeline", "steps": [s.to_dict() for s in self.steps],
                "ndim": self.ndim_, "n_features": self.n_features_}

    def _load(self, d):
        super()._load(d)
        steps = d["steps"]
        if not isinstance(steps, list) or not steps:
            raise ConfigError(f"Pipeline: steps must be a non-empty list, got {steps!r:.60}")
        self.steps = [transform_from_dict(s) for s in steps]
        if not all(isinstance(s, Transform) for s in self.steps):
            raise ConfigError("Pipeline: a step is a PerSeries; steps are single transforms")

    def __repr__(self) -> str:
        return f"Pipeline({self.steps!r})"

    def _fit(self, a):
        x = a if self.ndim_ == 2 else a[:, 0]
        for s in self.steps:
            if x.shape[0] <= s.n_history:
                raise ShapeError(f"the training part is too short for {self!r}: "
                                 f"{a.shape[0]} steps, {self.n_history} are used up")
            x = s.fit(x).transform(x)

    def _forward(self, a):
        x = self._squeeze(a)
        for s in self.steps:
            x = s.transform(x)
        return x if self.ndim_ == 2 else x[..., None]

    def _backward(self, z, history):
        x = self._squeeze(z)
        hist = [None if history is None else self._squeeze(history)]
        for s in self.steps[:-1]:  # the history seen by each step, in its input space
            hist.append(None if hist[-1] is None else s.transform(hist[-1]))
        for s, h in zip(reversed(self.steps), reversed(hist), strict=True):
            x = s.inverse(x, h)
        return x if self.ndim_ == 2 else x[..., None]


class PerSeries:
    """One fitted copy of a transform per series (many series, each its own statistics).

        ps = PerSeries(Pipeline([Scaler(), Difference(12)])).fit([y[:cut] for y in series])
        zs = ps.transform(series)                    # a list, one array per series
        ys = ps.inverse(zs, histories=[y[:ps.n_history] for y in series])
    """

    def __init__(self, template: Transform):
        if not isinstance(template, Transform):
            raise ConfigError(f"PerSeries takes a transform, got {template!r}")
        self.template = template
        self.fitted_: list[Transform] | None = None

    @property
    def n_history(self) -> int:
        return self.template.n_history

    def fit(self, series: Sequence[Any]) -> PerSeries:
        """Fit one clone of the template on each series' training part."""
        self.fitted_ = [self.template.clone().fit(x) for x in series]
        return self

    def _each(self) -> list[Transform]:
        if self.fitted_ is None:
            raise NotFittedError("this PerSeries is not fitted yet: call .fit(list of "
                                 "training parts) first")
        return self.fitted_

    def __len__(self) -> int:
        return len(self._each())

    def __getitem__(self, i: int) -> Transform:
        return self._each()[i]

    def _pair(self, values, what):
        each = self._each()
        if len(values) != len(each):
            raise ShapeError(f"{what} has {len(values)} entries for {len(each)} fitted series")
        return each

    def transform(self, series: Sequence[Any]) -> list[np.ndarray]:
        return [t.transform(x) for t, x in zip(self._pair(series, "series"), series,
                                               strict=True)]

    def inverse(self, values: Sequence[Any], histories: Sequence[Any] | None = None
                ) -> list[np.ndarray]:
        each = self._pair(values, "values")
        hs = [None] * len(each) if histories is None else histories
        self._pair(hs, "histories")
        return [t.inverse(z, h) for t, z, h in zip(each, values, hs, strict=True)]

    def take(self, positions: Sequence[int]) -> PerSeries:
        """The fitted transforms of the series at ``positions``, in that order."""
        each = self._each()
        out = PerSeries(self.template)
        out.fitted_ = [each[i] for i in positions]
        return out

    def clone(self) -> PerSeries:
        return PerSeries(self.template.clone())

    def to_dict(self) -> dict:
        return {"type": "PerSeries", "template": self.template.to_dict(),
                "fitted": None if self.fitted_ is None else [t.to_dict() for t in self.fitted_]}

    def __repr__(self) -> str:
        n = "unfitted" if self.fitted_ is None else f"{len(self.fitted_)} series"
        return f"PerSeries({self.template!r}, {n})"


_TYPES = {c.__name__: c for c in (Scaler, Difference, Pipeline)}


def transform_from_dict(d: dict) -> Transform | PerSeries:
    """Rebuild a transform (fitted or not) from ``to_dict()`` output."""
    if not isinstance(d, dict):
        raise ConfigError(f"a transform is described by an object, got {d!r:.60}")
    d = copy.deepcopy(d)
    kind = d.get("type")
    if kind == "PerSeries":
        ps = PerSeries(transform_from_dict(d["template"]))
        fitted = d["fitted"]
        if fitted is not None:
            if not isinstance(fitted, list):
                raise ConfigError(f"PerSeries: fitted must be a list, got {fitted!r:.60}")
            ps.fitted_ = [transform_from_dict(t) for t in fitted]
            if not all(isinstance(t, Transform) and t.ndim_ is not None for t in ps.fitted_):
                raise ConfigError("PerSeries: every fitted transform must be fitted, and none "
                                  "a PerSeries")
        return ps
    if kind not in _TYPES:
        raise ConfigError(f"unknown transform type {kind!r}; known: {sorted(_TYPES)}")
    if kind == "Pipeline":
        t = Pipeline([Scaler()])  # placeholder steps, replaced by _load
    else:
        cls = _TYPES[kind]
        t = cls(**{k: d[k] for k in cls()._params()})
    t._load(d)
    return t
