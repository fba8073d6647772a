"""Classification metrics against values worked out by hand, and their errors."""

import numpy as np
import pytest

from seqnets.classify import metrics
from seqnets.errors import DataError, ShapeError

TRUE = ["a", "a", "b", "b", "c", "c", "c"]
PRED = ["a", "b", "b", "b", "c", "a", "c"]


def test_confusion_precision_recall_and_macro_f1_by_hand():
    m = metrics.confusion_matrix(TRUE, PRED)
    assert m.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 2]]
    scores = metrics.per_class(TRUE, PRED)
    # a: 1 of 2 predicted a are a, 1 of 2 true a found; b: 2 of 3, 2 of 2; c: 2 of 2, 2 of 3
    assert scores["a"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert scores["b"]["precision"] == pytest.approx(2 / 3)
    assert scores["b"]["recall"] == 1.0 and scores["b"]["f1"] == pytest.approx(0.8)
    assert scores["c"]["precision"] == 1.0 and scores["c"]["recall"] == pytest.approx(2 / 3)
    assert scores["c"]["f1"] == pytest.approx(0.8)
    assert metrics.macro_f1(TRUE, PRED) == pytest.approx((0.5 + 0.8 + 0.8) / 3)
    assert metrics.accuracy(TRUE, PRED) == pytest.approx(5 / 7)


def test_a_class_never_predicted_or_never_seen_scores_zero():
    scores = metrics.per_class([0, 0, 1], [0, 0, 0], labels=[0, 1, 2])
    assert scores[1] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert scores[2]["support"] == 0 and scores[2]["f1"] == 0.0
    assert metrics.macro_f1([0, 0, 1], [0, 0, 0], labels=[0, 1, 2]) == pytest.approx(0.8 / 3)


def test_top_k_accuracy_by_hand():
    proba = np.array([[0.5, 0.3, 0.2],    # true 1: second  -> top-1 no, top-2 yes
                      [0.1, 0.2, 0.7],    # true 2: first
                      [0.6, 0.3, 0.1],    # true 2: third   -> only top-3
                      [0.4, 0.4, 0.2]])   # true 1: tie with 0, lower column first -> top-2
    y = [1, 2, 2, 1]
    assert metrics.top_k_accuracy(y, proba, k=1) == 0.25
    assert metrics.top_k_accuracy(y, proba, k=2) == 0.75
    assert metrics.top_k_accuracy(y, proba, k=3) == 1.0
    assert metrics.top_k_accuracy(["y", "z", "z", "y"], proba, 2, labels=["x", "y", "z"]) == 0.75


def test_report_and_table():
    rep = metrics.report(TRUE, PRED, labels=["a", "b", "c"])
    assert rep["n"] == 7 and rep["labels"] == ["a", "b", "c"]
    assert rep["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 2]]
    table = metrics.confusion_table(rep["confusion"], rep["labels"]).splitlines()
    assert table[0].split()[-3:] == ["a", "b", "c"]
    assert table[3].split() == ["c", "1", "0", "2"]


@pytest.mark.parametrize("call, error, words", [
    (lambda: metrics.accuracy([1, 2], [1]), ShapeError, "2 true labels but 1"),
    (lambda: metrics.accuracy([], []), DataError, "no labels"),
    (lambda: metrics.accuracy([[1]], [[1]]), ShapeError, "1-D"),
    (lambda: metrics.confusion_matrix([1, 2], [1, 3], labels=[1, 2]), DataError,
     "predicted label 3"),
    (lambda: metrics.confusion_matrix(np.array(["a", 1], dtype=object),
                                      np.array(["a", 1], dtype=object)), DataError, "mix types"),
    (lambda: metrics.per_class([1], [1], labels=[1, 1]), DataError, "distinct"),
    (lambda: metrics.top_k_accuracy([0], [[0.5, 0.5]], k=0), DataError, "positive"),
    (lambda: metrics.top_k_accuracy([0, 1], [[0.5, 0.5]]), ShapeError, "proba must be"),
    (lambda: metrics.top_k_accuracy([5], [[0.5, 0.5]]), DataError, "not among"),
    (lambda: metrics.confusion_table([[1]], ["a", "b"]), ShapeError, "must be"),
])
def test_bad_inputs_are_refused(call, error, words):
    with pytest.raises(error, match=words):
        call()
