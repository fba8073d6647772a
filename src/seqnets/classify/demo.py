"""The classification demo's recipe: the textbook's sketch classifier on synthetic sketches
(``seqnets classify demo``; about a minute on two CPU cores)."""

from __future__ import annotations

from ..data.synthetic_sketches import synthetic_sketches
from .classifier import Classifier

TRAIN_PER_CLASS, TEST_PER_CLASS, EPOCHS = 250, 40, 15


def sketches(quiet: bool = True, seed: int = 0) -> tuple[Classifier, dict]:
    """Train ``sketch_lstm`` ('same' padding) on ``TRAIN_PER_CLASS`` synthetic sketches of
    each of the ten classes; returns the Classifier and its report on ``TEST_PER_CLASS``
    new sketches of each class (another generator seed)."""
    train, labels = synthetic_sketches(TRAIN_PER_CLASS, seed=seed)
    test, test_labels = synthetic_sketches(TEST_PER_CLASS, seed=seed + 1000)
    clf = Classifier("sketch_lstm", model_options={"padding": "same"}, epochs=EPOCHS,
                     patience=5, seed=seed, quiet=quiet).fit(train, labels)
    return clf, clf.evaluate(test, test_labels)
