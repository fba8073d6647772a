"""A fitted Forecaster as a folder: the model (``model.safetensors`` + ``config.json``) and
``forecaster.json`` (settings, fitted transforms, calibration scores, the end of each series).
JSON and safetensors only, written atomically; nothing is unpickled."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..data.series import SeriesSet, require_pandas
from ..data.transforms import transform_from_dict
from ..errors import ModelFileError
from ..io import load as load_model
from ..io import save as save_model
from ..models.baselines import LeastSquaresLinear
from .backtesting import default_season
from .validation import check_settings

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


MAX_BYTES = 256 * 2**20  # the end of each series is kept: large only for very many series


def load(cls, path, max_bytes: int = MAX_BYTES):
    """A Forecaster of class ``cls`` from the folder ``path`` (see :meth:`Forecaster.load`).
    A ``forecaster.json`` that is damaged, inconsistent or larger than ``max_bytes`` is
    refused with a :class:`~seqnets.errors.ModelFileError` naming what is wrong."""
    folder = Path(path)
    where = folder / FILE
    try:
        size = where.stat().st_size
        if size > max_bytes:
            raise ModelFileError(f"{where} holds {size} bytes, more than max_bytes "
                                 f"({max_bytes}). Fix: check the file; if it is yours, "
                                 "raise max_bytes")
        state = json.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"{where} is missing: {folder} holds no saved "
                             "Forecaster") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(f"{where} is not valid JSON ({str(err)[:200]})") from None
    except RecursionError:
        raise ModelFileError(f"{where} is nested too deeply to be a saved Forecaster"
                             ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ModelFileError(f"{where} is not a saved Forecaster")
    model = load_model(folder)
    try:
        fc = _rebuild(cls, state, model)
        check_settings(fc)
    except KeyError as err:
        raise ModelFileError(f"{where} has no entry {err}; the file is damaged or from "
                             "another program") from None
    except (TypeError, ValueError, IndexError, AttributeError) as err:
        raise ModelFileError(f"{where} does not describe a Forecaster: {str(err)[:300]}. "
                             "The file is damaged; save the Forecaster again") from None
    return fc


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
