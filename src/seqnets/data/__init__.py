"""Data in, arrays out: the chapter's synthetic series (more formats come here)."""

from .synthetic import Splits, chapter_splits, generate_time_series, seq2seq_targets

__all__ = ["Splits", "chapter_splits", "generate_time_series", "seq2seq_targets"]
