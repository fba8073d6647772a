"""A fitted Forecaster as a folder: the model (``model.safetensors`` + ``config.json``) and
``forecaster.json`` (settings, fitted transforms, calibration scores, the end of each series).
JSON and safetensors only, written atomically; nothing is unpickled."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..data.series import SeriesSet, require_pandas
from ..data.transforms import PerSeries, transform_from_dict
from ..errors import ModelFileError, SeqnetsError
from ..io import load as load_model
from ..io import read_saved_state
from ..io import save as save_model
from ..models.baselines import LeastSquaresLinear
from .backtesting import default_season
from .quantiles import LEVELS
from .validation import check_settings, output_layout

FILE = "forecaster.json"
FORMAT = "seqnets-forecaster"


def save(fc, path, overwrite: bool = False) -> Path:
    """Write a fitted Forecaster to the folder ``path`` (see :meth:`Forecaster.save`)."""
    ss, keep = fc.series_, int(fc.difference or 0) + fc.input_window  # what predict reads
    pd = require_pandas()
    dated = isinstance(ss.index[0], pd.DatetimeIndex)
    params = fc.settings()  # the recipe in force (the chosen one after model='auto')
    params["model"] = fc.model if isinstance(fc.model, str) else None
    state = {
        "format": FORMAT, "format_version": 1, "params": params,
        "transforms": None if fc.transforms_ is None else fc.transforms_.to_dict(),
        "scores": None if fc.scores_ is None else fc.scores_.tolist(),
        "dropout": fc.dropout_, "seq_out": fc.seq_out_, "align": list(fc.align_),
        "masked": fc.masked_, "season": fc.season_,
        "base": None if fc.base_ is None else {"coef": fc.base_.coef_.tolist(),
                                               "window": list(fc.base_.window_shape_),
                                               "outputs": list(fc.base_.output_shape_)},
        "cuts": list(fc.cuts_), "history": fc.history_, "validation": fc.validation_,
        "series": {
            "ids": [_plain(s) for s in ss.ids], "targets": list(ss.targets),
            "covariates": list(ss.covariates), "freq": _plain(ss.freq),
            "time_name": ss.time_name, "id_name": ss.id_name, "dated": dated,
            "index": [[t.isoformat() for t in i[-keep:]] if dated else
                      [int(t) for t in i[-keep:]] for i in ss.index],
            "values": [np.asarray(v[-keep:], dtype=np.float64).tolist()
                       for v in ss.values]}}
    text = json.dumps(state, indent=1, allow_nan=False) + "\n"
    # the model and forecaster.json replace the folder as one unit: never a mix of two saves
    return save_model(fc.model_, path, extra_files={FILE: text.encode("utf-8")},
                      overwrite=overwrite)


SHAPING = ("model", "window", "horizon", "strategy", "scale", "difference", "uncertainty")
MAX_BYTES = 256 * 2**20  # the end of each series is kept: large only for very many series


def load(cls, path, max_bytes: int = MAX_BYTES):
    """A Forecaster of class ``cls`` from the folder ``path`` (see :meth:`Forecaster.load`).
    A ``forecaster.json`` that is damaged, inconsistent or larger than ``max_bytes`` is
    refused with a :class:`~seqnets.errors.ModelFileError` naming what is wrong."""
    folder = Path(path)
    where = folder / FILE
    state = read_saved_state(where, max_bytes, "Forecaster", FORMAT,
                             "Forecaster.save or seqnets train")
    model = load_model(folder)
    try:
        _check_state(state, where)
        fc = _rebuild(cls, state, model)
        check_settings(fc)
        _check_model(fc, model, where)
        _check_scores(fc, where)
        t = fc.transforms_
        if t is not None and (not isinstance(t, PerSeries) or t.fitted_ is None
                              or len(t.fitted_) != len(fc.series_)):
            raise ModelFileError(f"{where} does not describe a Forecaster: 'transforms' must "
                                 f"hold one fitted transform per series ({len(fc.series_)}). "
                                 "The file is damaged; save the Forecaster again")
    except ModelFileError:
        raise
    except SeqnetsError as err:  # a setting check_settings refuses: the file is at fault
        raise ModelFileError(f"{where} does not describe a Forecaster: {str(err)[:300]}. The "
                             "file is damaged; save the Forecaster again") from None
    except KeyError as err:
        raise ModelFileError(f"{where} has no entry {err}; the file is damaged or from "
                             "another program") from None
    except (TypeError, ValueError, IndexError, AttributeError) as err:
        raise ModelFileError(f"{where} does not describe a Forecaster: {str(err)[:300]}. "
                             "The file is damaged; save the Forecaster again") from None
    return fc


def _number(v, positive: bool = False) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) \
        and abs(v) < 3e38 and (v > 0 or not positive)


def _int(v, least: int = 0) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and least <= v < 2**62


def _finite_array(v, ndim: int | None = None) -> np.ndarray | None:
    """``v`` as a finite float64 array (of ``ndim`` dimensions), or None."""
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        return None
    if (ndim is not None and a.ndim != ndim) or not np.isfinite(a).all() \
            or (a.size and np.abs(a).max() > 3e38):
        return None
    return a


def _check_state(state: dict, where: Path) -> None:
    """Each field ``predict`` relies on has the type and size it must have: a damaged or
    edited file is refused here, naming the field, not deep inside a forecast."""
    def bad(field: str, want: str):
        raise ModelFileError(f"{where} does not describe a Forecaster: {field!r} must be "
                             f"{want}, got {str(_get(state, field))[:80]}. The file is damaged "
                             "or was edited; save the Forecaster again")

    missing = [k for k in ("params", "transforms", "scores", "dropout", "seq_out", "align",
                           "cuts", "history", "validation", "series") if k not in state]
    if missing:
        raise ModelFileError(f"{where} has no entry {', '.join(map(repr, missing))}; the file "
                             "is damaged or from another program")
    params = state["params"]
    if not isinstance(params, dict):
        bad("params", "an object of Forecaster settings")
    # the settings the model's shape depends on: a default in their place would not fit it
    # (settings added later, such as future= or calendar=, may be absent: their default
    # is what files older than them meant)
    lost = [k for k in SHAPING if k not in params]
    if lost:
        raise ModelFileError(f"{where} has no entry {', '.join(map(repr, lost))} in 'params'; "
                             "the file is damaged or from another program")
    if not _int(params.get("seed", 0)):
        bad("params.seed", "a non-negative integer")
    if not isinstance(params.get("quiet", True), bool):
        bad("params.quiet", "true or false")
    if not (_number(state["dropout"]) and 0 <= state["dropout"] < 1):
        bad("dropout", "a number in [0, 1)")
    if not isinstance(state["seq_out"], bool) or not isinstance(state.get("masked", False),
                                                                 bool):
        bad("seq_out", "true or false (and masked too)")
    align = state["align"]
    if not (isinstance(align, list) and len(align) == 2 and _int(align[0]) and
            _int(align[1], 1)):
        bad("align", "[first step, stride], two non-negative integers")
    if state.get("season") is not None and not _int(state["season"], 1):
        bad("season", "a positive integer or null")
    if state["scores"] is not None and _finite_array(state["scores"]) is None:
        bad("scores", "null or an array of finite numbers")
    s = state["series"]
    if not isinstance(s, dict):
        bad("series", "an object")
    for key in ("ids", "targets", "covariates", "index", "values", "freq", "time_name",
                "id_name", "dated"):
        if key not in s:
            raise ModelFileError(f"{where} has no entry {key!r} in 'series'; the file is "
                                 "damaged")
    n = len(s["ids"]) if isinstance(s["ids"], list) else -1
    if n < 1 or not all(isinstance(i, str | int) and not isinstance(i, bool)
                        for i in s["ids"]) or len(set(s["ids"])) != n:
        bad("series.ids", "a list of distinct series ids (strings or integers)")
    names = (s["targets"], s["covariates"])
    if not all(isinstance(x, list) and all(isinstance(c, str | int) and not isinstance(c, bool)
                                           for c in x) for x in names) or not s["targets"]:
        bad("series.targets", "a list of column names (and series.covariates one, maybe "
                              "empty)")
    if not isinstance(s["dated"], bool) or not isinstance(s["time_name"], str) \
            or not isinstance(s["id_name"], str):
        bad("series.dated", "true or false (time_name and id_name strings)")
    if not (isinstance(s["freq"], str) and s["freq"] if s["dated"] else _int(s["freq"], 1)):
        bad("series.freq", "a pandas frequency for dated series, else a positive integer")
    width = len(s["targets"]) + len(s["covariates"])
    if not (isinstance(s["index"], list) and isinstance(s["values"], list)
            and len(s["index"]) == len(s["values"]) == n):
        bad("series.index", f"one list of times per series ({n}), and series.values one "
                            "array per series")
    for k, (index, values) in enumerate(zip(s["index"], s["values"], strict=True)):
        a = _finite_array(values, 2)
        if not isinstance(index, list) or not index or a is None \
                or a.shape != (len(index), width):
            bad(f"series.values[{k}]", f"finite [steps, {width}] numbers, one row per time in "
                                       f"series.index[{k}]")
        if not all(isinstance(t, str) if s["dated"] else _int(t) for t in index):
            bad(f"series.index[{k}]", "timestamps (dated series) or integer steps")
    cuts = state["cuts"]
    if not (isinstance(cuts, list) and len(cuts) == n and all(_int(c) for c in cuts)):
        bad("cuts", f"{n} non-negative integers, one per series")
    base = state.get("base")
    if base:
        window, outputs = (base.get("window"), base.get("outputs")) if isinstance(base, dict) \
            else (None, None)
        coef = _finite_array(base.get("coef"), 2) if isinstance(base, dict) else None
        shapes_ok = all(isinstance(x, list) and x and all(_int(d, 1) and d < 2**31 for d in x)
                        for x in (window, outputs))
        if not shapes_ok or coef is None or coef.shape != (
                math.prod(window) + 1, math.prod(outputs)):
            bad("base", "null or the linear base's coef, window and outputs, of sizes that "
                        "agree")


def _check_model(fc, model, where: Path) -> None:
    """The model's outputs fit the settings read (horizon, strategy, window) as they did
    when it was fitted: settings edited apart from the model are refused here."""
    shape = getattr(model, "input_shape", None)
    if not shape:
        return  # a module of the user's own: its outputs are checked as it forecasts
    try:
        layout = output_layout(fc, model, shape[-1], fc.input_window)
    except SeqnetsError as err:
        raise ModelFileError(f"{where} does not describe a Forecaster for the model beside "
                             f"it: {str(err)[:300]}. The file is damaged; save the "
                             "Forecaster again") from None
    if layout != (fc.seq_out_, fc.align_):
        raise ModelFileError(f"{where} does not describe a Forecaster for the model beside "
                             f"it: 'seq_out' and 'align' say {[fc.seq_out_, list(fc.align_)]}, "
                             f"the model gives {[layout[0], list(layout[1])]}. The file is "
                             "damaged; save the Forecaster again")


def _check_scores(fc, where: Path) -> None:
    """The calibration scores have the layout predict reads: ``[origins, horizon]``, or one
    such table per quantile level for quantile heads."""
    if fc.scores_ is None:
        return
    s, levels = fc.scores_, len(LEVELS)
    want = (f"[{levels} levels, origins, {fc.horizon}]" if fc.quantile_paths
            else f"[origins, {fc.horizon}]")
    if s.ndim != (3 if fc.quantile_paths else 2) or s.shape[-1] != fc.horizon \
            or s.shape[-2] < 1 or (fc.quantile_paths and s.shape[0] != levels):
        raise ModelFileError(f"{where} does not describe a Forecaster: 'scores' must be "
                             f"{want}, got shape {list(s.shape)}. The file is damaged; save "
                             "the Forecaster again")


def _get(state: dict, field: str):
    value = state
    for key in field.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _rebuild(cls, state: dict, model):
    """The Forecaster ``state`` describes, around the loaded ``model``."""
    params = dict(state["params"])
    params["model"] = params["model"] or model
    fc = cls(**params)
    fc.model_, fc.dropout_, fc.seq_out_ = model, state["dropout"], state["seq_out"]
    fc.align_, fc.cuts_ = tuple(state["align"]), tuple(state["cuts"])
    fc.masked_ = bool(state.get("masked", False))  # files before the mask column: none
    fc.history_, fc.validation_ = state["history"], state["validation"]
    fc.transforms_ = None if state["transforms"] is None else \
        transform_from_dict(state["transforms"])
    fc.scores_ = None if state["scores"] is None else np.asarray(state["scores"],
                                                                 dtype=np.float64)
    s = state["series"]
    pd = require_pandas()
    index = [pd.DatetimeIndex(pd.to_datetime(i), freq=s["freq"], name=s["time_name"])
             if s["dated"] else pd.RangeIndex(i[0], i[-1] + s["freq"], s["freq"],
                                              name=s["time_name"]) for i in s["index"]]
    fc.series_ = SeriesSet(tuple(s["ids"]), index,
                           [np.asarray(v, dtype=np.float64) for v in s["values"]],
                           tuple(s["targets"]), tuple(s["covariates"]), s["freq"],
                           s["time_name"], s["id_name"])
    fc.season_ = state.get("season") or default_season(fc.series_.freq)
    fc.base_ = None
    if state.get("base"):  # files before the linear base: none
        fc.base_ = LeastSquaresLinear(alpha=1e-6)
        fc.base_.coef_ = np.asarray(state["base"]["coef"], dtype=np.float64)
        fc.base_.window_shape_ = tuple(state["base"]["window"])
        fc.base_.output_shape_ = tuple(state["base"]["outputs"])
    fc.tail_only_ = True
    return fc


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
