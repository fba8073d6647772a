"""Sequence classification: classifiers by name (:mod:`.models`), the :class:`Classifier`
estimator, metrics (:mod:`.metrics`), labelled files (:mod:`.files`) and synthetic
moving-shape videos (:mod:`.videos`)."""

from . import metrics
from .classifier import Classifier
from .models import CLASSIFIERS, FrameCNN, build, info, names, shortest_input

__all__ = ["CLASSIFIERS", "Classifier", "FrameCNN", "build", "info", "metrics", "names",
           "shortest_input"]
