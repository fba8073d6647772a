"""What every command group shares: parsing small lists, and refusing an output path of the
wrong kind before any work starts."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError


def names(text: str | None) -> list[str] | None:
    """``"a, b"`` as ``["a", "b"]``; None for no text."""
    return [n.strip() for n in text.split(",") if n.strip()] if text else None


def seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must be integers separated by commas, "
                                         f"got {text!r}") from None


def check_out(path: str | None, folder: bool = False, force: bool = False) -> None:
    """Refuse an output path of the wrong kind, or one that exists (a file, or a folder
    that is not empty) unless ``force`` (``--force``), before any work (and any writing)
    starts."""
    if path is None:
        return
    p = Path(path)
    if folder and p.exists() and not p.is_dir():
        raise ConfigError(f"--out {path} is a file; a model is saved as a folder")
    if not folder and p.is_dir():
        raise ConfigError(f"{path} is a folder; give a file name (e.g. {p / 'out.csv'})")
    if not force and (p.is_file() or (p.is_dir() and any(p.iterdir()))):
        raise ConfigError(f"{path} exists; pass --force to replace it, or give another "
                          "path")


def add_force(parser: argparse.ArgumentParser) -> None:
    """The ``--force`` flag of a command that writes files."""
    parser.add_argument("--force", action="store_true",
                        help="replace outputs that exist (default: refuse them)")
