"""Data in, arrays out: the chapter's synthetic series, tables and files (``read_series``),
transforms with exact inverses, and shipped real datasets; for classification, the real file
formats of pen sketches (sketch-rnn ``.npz``, QuickDraw ``.ndjson``) and of labelled recordings
(UEA/UCR ``.ts``), stroke conversions, and synthetic sketches; the Bach chorales (shipped,
CSV and MIDI files: :mod:`.chorales`, :mod:`.chorale_midi`). pandas is needed only by the
table functions (``pip install "seqnets[tables]"``)."""

from .chorale_midi import read_midi, write_midi
from .chorales import Chorales, load_chorales, read_chorale, write_chorale
from .datasets import dataset_info, dataset_names, load_dataset
from .quickdraw import Drawings, read_quickdraw, write_quickdraw
from .series import SeriesSet
from .sketch_npz import read_sketch_npz, write_sketch_npz
from .strokes import (
    crop_strokes,
    normalize_strokes,
    stroke3_to_stroke5,
    stroke3_to_strokes,
    stroke5_to_stroke3,
    stroke_scale,
    strokes_to_stroke3,
)
from .synthetic import Splits, chapter_splits, generate_time_series, seq2seq_targets
from .synthetic_sketches import SKETCH_CLASSES, synthetic_sketches, write_synthetic_sketches
from .tables import read_series
from .transforms import Difference, PerSeries, Pipeline, Scaler, Transform, transform_from_dict
from .ts_files import TsData, read_ts, write_ts
from .windows import window_pairs, windows

__all__ = ["SKETCH_CLASSES", "Chorales", "Difference", "Drawings", "PerSeries", "Pipeline",
           "Scaler", "SeriesSet", "Splits", "Transform", "TsData", "chapter_splits", "crop_strokes",
           "dataset_info", "dataset_names", "generate_time_series", "load_chorales", "load_dataset",
           "normalize_strokes", "read_chorale", "read_midi", "read_quickdraw", "read_series",
           "read_sketch_npz", "read_ts", "seq2seq_targets", "stroke3_to_stroke5",
           "stroke3_to_strokes", "stroke5_to_stroke3", "stroke_scale", "strokes_to_stroke3",
           "synthetic_sketches", "transform_from_dict", "window_pairs", "windows", "write_chorale",
           "write_midi", "write_quickdraw", "write_sketch_npz", "write_synthetic_sketches",
           "write_ts"]
