"""The checks a Forecaster's settings, data and model pass, and newer history of its series
(:meth:`Forecaster.history`): each refusal names what is wrong and the fix."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..checks import flag, non_negative_int, positive_int
from ..data.series import SeriesSet
from ..data.tables import read_series
from ..errors import ConfigError, DataError
from ..layers.conv import Conv1D
from ..models import Sequential, zoo

STRATEGIES = ("seq2seq", "direct", "recursive")
LOSSES = ("mse", "mae", "huber")
UNCERTAINTY = ("mc_dropout", "conformal", "quantile", "gaussian", "student_t")
LEAST_TRAINING = 2  # steps (after differencing) a padded series keeps to train on


def check_settings(fc) -> None:
    """Refuse a Forecaster's settings before any work: each named, with what it got."""
    for name in ("horizon", "batch_size", "mc_samples", "ensemble"):
        positive_int(getattr(fc, name), name)
    if isinstance(fc.window, list | tuple):
        if not fc.window or len(set(fc.window)) != len(fc.window):
            raise ConfigError(f"window: one length, or several different ones for an "
                              f"ensemble over windows, got {fc.window!r}")
        if isinstance(fc.model, nn.Module):
            raise ConfigError("several windows train one model per window: give a zoo name "
                              "or a factory (input_size, outputs) -> module, not a module")
    for w in fc.windows:
        positive_int(w, "window")
    if fc.ensemble > 1 and isinstance(fc.model, nn.Module):
        raise ConfigError("ensemble > 1 trains several models from one recipe: give a zoo name "
                          "or a factory (input_size, outputs) -> module, not a module")
    if fc.strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy {fc.strategy!r}; use one of {STRATEGIES}")
    non_negative_int(fc.epochs, "epochs")
    if fc.lr is not None and not (isinstance(fc.lr, int | float) and fc.lr > 0):
        raise ConfigError(f"lr must be a positive number or None, got {fc.lr!r}")
    if fc.scale != "window":
        flag(fc.scale, "scale (True, False or 'window')")
    if fc.loss not in LOSSES:
        raise ConfigError(f"loss must be one of {LOSSES}, got {fc.loss!r}")
    if fc.difference is not None:
        positive_int(fc.difference, "difference (a lag; None for no differencing)")
    if isinstance(fc.dropout, bool) or not isinstance(fc.dropout, int | float) \
            or not 0 <= fc.dropout < 1:
        raise ConfigError(f"dropout must be in [0, 1), got {fc.dropout!r}")
    flag(fc.refit, "refit")
    if fc.base not in (None, "linear"):
        raise ConfigError(f"base must be None or 'linear', got {fc.base!r}")
    if fc.base and fc.strategy != "direct":
        raise ConfigError("base='linear' forecasts all steps ahead from the window, as "
                          "strategy='direct' does; use strategy='direct'")
    if fc.early_stopping is not None:
        positive_int(fc.early_stopping, "early_stopping (a patience in epochs, or None)")
    if fc.season is not None:
        positive_int(fc.season, "season (None: from the frequency)")
    if fc.uncertainty not in UNCERTAINTY:
        raise ConfigError(f"uncertainty must be one of {UNCERTAINTY}, got {fc.uncertainty!r}")
    sampled = fc.strategy == "recursive" and fc.uncertainty in UNCERTAINTY[3:]  # paths
    if fc.uncertainty in UNCERTAINTY[2:] and not sampled and (
            fc.difference or fc.strategy == "recursive"):
        raise ConfigError(f"uncertainty={fc.uncertainty!r} forecasts quantiles of the target "
                          "itself: quantiles of differences do not add up, and a recursive model "
                          "feeds back one value; drop difference= or use seq2seq / direct "
                          "(or 'gaussian' / 'student_t' with strategy='recursive': sample "
                          "paths)")
    names = fc.future_names
    if not all(isinstance(c, str) and c for c in names) or len(set(names)) != len(names):
        raise ConfigError(f"future: column names (strings, each once), got {fc.future!r}")
    flag(fc.calendar, "calendar")
    if (names or fc.calendar) and fc.strategy == "recursive":
        raise ConfigError("strategy='recursive' feeds its forecasts back as inputs and has no "
                          "values of future= columns or calendar features to feed with them; "
                          "use 'seq2seq' or 'direct'")
    if fc.short_series not in ("pad", "refuse"):
        raise ConfigError(f"short_series must be 'pad' or 'refuse', got {fc.short_series!r}")
    h = fc.holdout
    if isinstance(h, float):
        if not 0 < h < 1:
            raise ConfigError(f"holdout as a fraction must be in (0, 1), got {h!r}")
    else:
        positive_int(h, "holdout (a fraction of each series, or a number of origins)")
    if fc.model == "auto":
        return
    if isinstance(fc.model, str):
        entry = zoo.info(fc.model)
        if entry.task != "seq2seq" and entry.task != "direct" and fc.model != "encoder_decoder":
            ok = [n for n in zoo.names() if zoo.info(n).task in ("seq2seq", "direct")]
            raise ConfigError(f"model {fc.model!r} has a fixed output size; use one of "
                              f"{ok + ['encoder_decoder']}, or pass your own module")
    elif not (isinstance(fc.model, nn.Module) or callable(fc.model)):
        raise ConfigError(f"model must be a zoo name, a module or a factory "
                          f"(input_size, outputs) -> module, got {fc.model!r}")


def check_lengths(fc, ss: SeriesSet, data: Any, pad: bool = False) -> None:
    """Refuse a dataset whose series are too short for the settings, naming them: shorter
    than :meth:`Forecaster.min_length`, or with ``pad``, than the differencing lag + 2."""
    if pad:
        need = fc.differencing_lag + LEAST_TRAINING
        short = [f"{'the series' if len(ss) == 1 else repr(sid)} ({n} steps)"
                 for sid, n in zip(ss.ids, ss.lengths, strict=True) if n < need]
        if short:
            raise DataError(f"series shorter than {need} steps, too short to train on even "
                            f"padded: {', '.join(short[:5])}{' ...' if len(short) > 5 else ''}."
                            " Fix: give more history, or leave them out")
        return
    need = fc.min_length()
    short = [f"{'the series' if len(ss) == 1 else repr(sid)} ({n} steps)"
             for sid, n in zip(ss.ids, ss.lengths, strict=True) if n < need]
    if short:
        parts = ([f"differencing lag {fc.differencing_lag}"] if fc.differencing_lag else []) + \
            [f"window {fc.input_window}", f"{fc.outputs_per_step} target step(s)",
             f"{need - fc.differencing_lag - fc.input_window - fc.outputs_per_step} for the "
             "held-out "
             f"origins of horizon {fc.horizon}"]
        where = (f" in '{ss.source}'" if ss.source else
                 " in the array" if isinstance(data, np.ndarray) else
                 "" if isinstance(data, SeriesSet) else " in the DataFrame")
        raise DataError(f"series shorter than {need} steps ({' + '.join(parts)}){where}: "
                        f"{', '.join(short[:5])}{' ...' if len(short) > 5 else ''}. Fix: "
                        "give more history, or use a shorter window, horizon or holdout")


def output_layout(fc, model: nn.Module, n_features: int,
                  window: int) -> tuple[bool, tuple[int, int]]:
    """Whether ``model`` outputs a sequence, and which input step each output step ends at,
    ``(first, stride)`` (``first + j * stride``: a strided 'valid' convolution first skips
    and thins); refuses a model whose outputs do not fit the strategy."""
    if hasattr(model, "compute_output_shape"):
        shape = tuple(model.compute_output_shape((window, n_features)))
    else:
        with torch.no_grad():
            shape = tuple(model(torch.zeros(1, window, n_features)).shape[1:])
    seq_out = len(shape) == 2
    first, stride = 0, 1
    layers = list(model.layers) if isinstance(model, Sequential) else []
    if layers and isinstance(layers[0], Conv1D) and layers[0].padding == "valid":
        c = layers[0]
        first, stride = (c.kernel_size - 1) * c.dilation_rate, c.strides
    if shape[-1] != fc.model_outputs:
        raise ConfigError(f"the model outputs {shape[-1]} values per step, the strategy "
                          f"needs {fc.model_outputs}")
    if seq_out and fc.base:
        raise ConfigError(f"base='linear' corrects one forecast per window, so it needs a "
                          f"model with a vector output [batch, k] such as 'mlp'; "
                          f"{fc.model!r} outputs a sequence [batch, time, k]: drop base= or "
                          "use such a model")
    if seq_out:
        steps = len(range(first, window, stride))
        if shape[0] != steps or (window - 1 - first) % stride:
            raise ConfigError(f"the model's output steps do not end at the window's last "
                              f"step (window {window}, {shape[0]} output steps): for "
                              f"a strided first convolution pick a window with "
                              f"(window - {first + 1}) % {stride} == 0")
    elif fc.strategy == "seq2seq":
        raise ConfigError("strategy='seq2seq' needs a model with a sequence output "
                          f"[batch, time, k]; {fc.model!r} outputs [batch, k]: use "
                          "strategy='direct'")
    return seq_out, (first, stride)


def check_history(fc, data: Any, **read_options) -> SeriesSet:
    """:meth:`Forecaster.history`: ``data`` read like the training data and checked to
    hold the same series, targets, covariates and frequency, each long enough to forecast."""
    old = fc.series_
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
        ss = read_series(data, min_length=fc.differencing_lag + _least(fc), **options)
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
             if n < fc.differencing_lag + _least(fc)]
    if short:
        raise DataError(f"{where}: series {short[:5]} are shorter than the "
                        f"{fc.differencing_lag + _least(fc)} steps a forecast reads. Fix: "
                        "give more history")
    order = [ss.position(sid) for sid in old.ids]
    return SeriesSet(old.ids, [ss.index[i] for i in order], [ss.values[i] for i in order],
                     ss.targets, ss.covariates, ss.freq, ss.time_name, ss.id_name,
                     ss.source)


def _least(fc) -> int:
    """Steps a forecast needs after the differencing lag: a window, or one padded."""
    return fc.input_window if fc.short_series == "refuse" else 1
