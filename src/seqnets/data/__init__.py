"""Data in, arrays out: the chapter's synthetic series, tables and files (``read_series``),
transforms with exact inverses, and shipped real datasets. pandas is needed only by the table
functions (``pip install "seqnets[tables]"``)."""

from .datasets import dataset_info, dataset_names, load_dataset
from .series import SeriesSet
from .synthetic import Splits, chapter_splits, generate_time_series, seq2seq_targets
from .tables import read_series
from .transforms import Difference, PerSeries, Pipeline, Scaler, Transform, transform_from_dict
from .windows import window_pairs, windows

__all__ = ["Difference", "PerSeries", "Pipeline", "Scaler", "SeriesSet", "Splits", "Transform",
           "chapter_splits", "dataset_info", "dataset_names", "generate_time_series",
           "load_dataset", "read_series", "seq2seq_targets", "transform_from_dict",
           "window_pairs", "windows"]
