"""Classification metrics on plain arrays: accuracy, top-k accuracy, per-class precision and
recall, macro F1, the confusion matrix and its text table.

Labels may be integers or strings; ``labels`` fixes the classes and their order (default:
the sorted union of those seen). A class that is never predicted has precision 0, one that
never occurs has recall 0 (scikit-learn's ``zero_division=0``); macro F1 is the unweighted
mean of the per-class F1 scores over ``labels``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import DataError, ShapeError


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.ndim != 1 or p.ndim != 1:
        raise ShapeError(f"labels must be 1-D (one per sequence), got shapes {t.shape} and "
                         f"{p.shape}")
    if len(t) != len(p):
        raise ShapeError(f"{len(t)} true labels but {len(p)} predictions")
    if len(t) == 0:
        raise DataError("no labels to score")
    return t, p


def _labels(labels: Sequence | None, *arrays: np.ndarray) -> list:
    if labels is None:
        seen = set()
        for a in arrays:
            seen.update(a.tolist())
        try:
            return sorted(seen)
        except TypeError:
            raise DataError("labels mix types (e.g. strings and numbers); give labels=[...] "
                            "in the order to report them") from None
    out = list(labels)
    if len(set(out)) != len(out):
        raise DataError(f"labels must be distinct, got {out}")
    return out


def accuracy(y_true: Any, y_pred: Any) -> float:
    """The share of predictions equal to the true label."""
    t, p = _pair(y_true, y_pred)
    return float(np.mean(t == p))


def top_k_accuracy(y_true: Any, proba: Any, k: int = 5, labels: Sequence | None = None) -> float:
    """The share of sequences whose true label is among the ``k`` most probable classes.

    ``proba`` is ``[N, K]``; column ``j`` is class ``labels[j]`` (default ``0 .. K-1``). Ties
    are broken towards the lower column, as ``argsort`` of the negated scores does."""
    t = np.asarray(y_true)
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != 2 or len(p) != len(t) or t.ndim != 1:
        raise ShapeError(f"proba must be [N, classes] for N = {len(t)} labels, got {p.shape}")
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise DataError(f"k must be a positive integer, got {k!r}")
    columns = list(range(p.shape[1])) if labels is None else list(labels)
    if len(columns) != p.shape[1]:
        raise ShapeError(f"{len(columns)} labels for {p.shape[1]} probability columns")
    index = {c: j for j, c in enumerate(columns)}
    unknown = [v for v in t.tolist() if v not in index]
    if unknown:
        raise DataError(f"true label {unknown[0]!r} is not among the classes {columns}")
    truth = np.array([index[v] for v in t.tolist()])
    top = np.argsort(-p, axis=1, kind="stable")[:, :k]
    return float(np.mean((top == truth[:, None]).any(axis=1)))


def confusion_matrix(y_true: Any, y_pred: Any, labels: Sequence | None = None) -> np.ndarray:
    """Counts ``[K, K]``: row ``i`` is true class ``labels[i]``, column ``j`` predicted
    ``labels[j]``. Labels outside ``labels`` are refused."""
    t, p = _pair(y_true, y_pred)
    classes = _labels(labels, t, p)
    index = {c: i for i, c in enumerate(classes)}
    for name, a in (("true", t), ("predicted", p)):
        bad = [v for v in a.tolist() if v not in index]
        if bad:
            raise DataError(f"{name} label {bad[0]!r} is not among the labels {classes}")
    m = np.zeros((len(classes), len(classes)), dtype=np.int64)
    np.add.at(m, ([index[v] for v in t.tolist()], [index[v] for v in p.tolist()]), 1)
    return m


def per_class(y_true: Any, y_pred: Any, labels: Sequence | None = None) -> dict:
    """``{label: {"precision", "recall", "f1", "support"}}`` in the order of ``labels``."""
    t, p = _pair(y_true, y_pred)
    classes = _labels(labels, t, p)
    m = confusion_matrix(t, p, classes)
    out = {}
    for i, c in enumerate(classes):
        tp, predicted, actual = m[i, i], m[:, i].sum(), m[i, :].sum()
        precision = tp / predicted if predicted else 0.0
        recall = tp / actual if actual else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[c] = {"precision": float(precision), "recall": float(recall), "f1": float(f1),
                  "support": int(actual)}
    return out


def macro_f1(y_true: Any, y_pred: Any, labels: Sequence | None = None) -> float:
    """The unweighted mean over classes of each class's F1 score."""
    scores = per_class(y_true, y_pred, labels)
    return float(np.mean([s["f1"] for s in scores.values()]))


def report(y_true: Any, y_pred: Any, proba: Any = None, labels: Sequence | None = None,
           k: int = 3) -> dict:
    """Every metric at once, as plain JSON: accuracy, macro F1, top-``k`` accuracy (with
    ``proba``, whose columns are ``labels``), per-class scores and the confusion matrix."""
    t, p = _pair(y_true, y_pred)
    classes = _labels(labels, t, p)
    out = {"n": len(t), "accuracy": accuracy(t, p), "macro_f1": macro_f1(t, p, classes)}
    if proba is not None:
        k = min(k, len(classes))
        out[f"top_{k}_accuracy"] = top_k_accuracy(t, proba, k, classes)
    out["per_class"] = {str(c): s for c, s in per_class(t, p, classes).items()}
    out["labels"] = [c if isinstance(c, int | str) else str(c) for c in classes]
    out["confusion"] = confusion_matrix(t, p, classes).tolist()
    return out


def confusion_table(matrix: Any, labels: Sequence) -> str:
    """The confusion matrix as aligned text: true classes down, predicted across."""
    m = np.asarray(matrix)
    names = [str(c) for c in labels]
    if m.shape != (len(names), len(names)):
        raise ShapeError(f"a confusion matrix for {len(names)} labels must be "
                         f"[{len(names)}, {len(names)}], got {m.shape}")
    width = max(5, *(len(n) for n in names), len(str(int(m.max()))) if m.size else 1)
    head = "true \\ pred".ljust(width + 2) + " ".join(n.rjust(width) for n in names)
    rows = [n.ljust(width + 2) + " ".join(str(int(v)).rjust(width) for v in row)
            for n, row in zip(names, m, strict=True)]
    return "\n".join([head, *rows])
