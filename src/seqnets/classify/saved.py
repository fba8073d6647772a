"""Reading a saved Classifier (:meth:`Classifier.load`): ``classifier.json`` is checked
field by field before anything is built from it, so a damaged or hand-edited file is refused
with a :class:`~seqnets.errors.ModelFileError` naming the field, never a raw ``KeyError``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ModelFileError, SeqnetsError
from ..io import load as load_model
from ..io import read_config, read_saved_state

FILE = "classifier.json"
FORMAT = "seqnets-classifier"
MAX_BYTES = 16 * 2**20  # settings, class names, scaling and history: kilobytes


def _damaged(where: Path, what: str) -> ModelFileError:
    return ModelFileError(f"{where}: {what}. The file is damaged or was edited; save the "
                          "Classifier again")


def _read(where: Path, max_bytes: int) -> dict:
    state = read_saved_state(where, max_bytes, "Classifier", FORMAT,
                             "Classifier.save or seqnets classify train")
    missing = [k for k in ("params", "classes", "input_shape", "min_length", "mean", "std")
               if k not in state]
    if missing:
        raise _damaged(where, f"no {', '.join(map(repr, missing))} entry")
    return state


def _is_int(v: Any, least: int = 1) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= least


def _numbers(v: Any, n: int, positive: bool = False) -> bool:
    return (isinstance(v, list) and len(v) == n and all(
        isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
        and abs(x) < 3e38 and (x > 0 or not positive) for x in v))


def _check_state(state: dict, where: Path, saved_classes: Any) -> None:
    """Every field predict relies on has the type and size it must have."""
    classes = state["classes"]
    if not isinstance(classes, list) or len(classes) < 2 or not all(
            isinstance(c, str | int) and not isinstance(c, bool) for c in classes) \
            or len(set(classes)) != len(classes) or len({type(c) for c in classes}) != 1:
        raise _damaged(where, f"'classes' must list two or more distinct labels of one type "
                              f"(strings or integers), got {str(classes)[:100]}")
    if isinstance(saved_classes, list) and saved_classes != classes:
        raise _damaged(where, f"'classes' {str(classes)[:100]} differ from the model's own "
                              f"{str(saved_classes)[:100]} (config.json)")
    shape = state["input_shape"]
    if not isinstance(shape, list) or len(shape) not in (1, 3) \
            or not all(_is_int(d) and d < 2**31 for d in shape):
        raise _damaged(where, f"'input_shape' must be [channels] or [channels, height, width] "
                              f"of positive integers, got {str(shape)[:100]}")
    if not _is_int(state["min_length"]) or state["min_length"] >= 2**31:
        raise _damaged(where, f"'min_length' must be a positive integer, got "
                              f"{str(state['min_length'])[:50]}")
    mean, std = state["mean"], state["std"]
    if (mean is None) != (std is None):
        raise _damaged(where, "'mean' and 'std' must both be lists, or both null")
    if mean is not None and not (_numbers(mean, shape[0]) and _numbers(std, shape[0], True)):
        raise _damaged(where, f"'mean' and 'std' must be {shape[0]} finite numbers each (one "
                              "per channel; std > 0)")
    if not isinstance(state["params"], dict):
        raise _damaged(where, "'params' must be an object of Classifier settings")


def load(cls, path: str | Path, max_bytes: int = MAX_BYTES):
    """A Classifier of class ``cls`` from the folder ``path`` (see :meth:`Classifier.load`)."""
    folder = Path(path)
    where = folder / FILE
    state = _read(where, max_bytes)
    model = load_model(folder)
    metadata = read_config(folder).get("metadata")
    _check_state(state, where, metadata.get("classes") if isinstance(metadata, dict) else None)
    params = dict(state["params"])
    try:
        if isinstance(params.get("class_weight"), list):
            params["class_weight"] = {k: v for k, v in params["class_weight"]}
        params["model"] = params.get("model") or model
        clf = cls(**params)
        clf._check()
        if isinstance(clf.class_weight, dict) and not all(
                isinstance(w, int | float) and not isinstance(w, bool) and math.isfinite(w)
                and w >= 0 for w in clf.class_weight.values()):
            raise _damaged(where, "'class_weight' weights must be non-negative numbers")
    except ModelFileError:
        raise
    except SeqnetsError as err:
        raise _damaged(where, f"its settings are refused: {str(err)[:300]}") from None
    except (TypeError, ValueError) as err:  # unknown settings, a class_weight not in pairs
        raise _damaged(where, f"its settings do not describe a Classifier: {str(err)[:300]}"
                       ) from None
    clf.model_, clf.classes_ = model, np.asarray(state["classes"])
    clf.input_shape_, clf.min_length_ = tuple(state["input_shape"]), state["min_length"]
    clf.mean_ = None if state["mean"] is None else np.asarray(state["mean"], np.float32)
    clf.std_ = None if state["std"] is None else np.asarray(state["std"], np.float32)
    clf.best_epoch_, clf.history_ = state.get("best_epoch"), state.get("history")
    clf.best_epochs_ = state.get("best_epochs", [clf.best_epoch_])
    return clf
