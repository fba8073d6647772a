"""Data in, arrays out: the chapter's synthetic series (more formats come here)."""

from .synthetic import Splits, chapter_splits, generate_time_series, seq2seq_targets
from .windows import window_pairs, windows

__all__ = ["Splits", "chapter_splits", "generate_time_series", "seq2seq_targets",
           "window_pairs", "windows"]
