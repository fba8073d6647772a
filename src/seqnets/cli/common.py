"""What every command group shares: parsing small lists, refusing an output path of the
wrong kind (or one that exists) before any work starts, and resuming interrupted training."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

from ..errors import ConfigError, TrainingInterrupted
from ..training.distributed import is_main_process, restarted


def names(text: str | None) -> list[str] | None:
    """``"a, b"`` as ``["a", "b"]``; None for no text."""
    return [n.strip() for n in text.split(",") if n.strip()] if text else None


def seeds(text: str) -> list[int]:
    try:
        return [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"seeds must be integers separated by commas, "
                                         f"got {text!r}") from None


def save_on_main(save, *args, **kwargs):
    """``save(*args, **kwargs)`` on rank 0 of a torchrun launch (every rank holds the same
    weights), or in a plain process; returns its result, else None."""
    return save(*args, **kwargs) if is_main_process() else None


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


def add_resume(parser: argparse.ArgumentParser) -> None:
    """The ``--resume`` flag of a command that trains."""
    parser.add_argument("--resume", metavar="DIR",
                        help="continue an interrupted run from the checkpoint folder it "
                             "named (same command, same options)")


@contextlib.contextmanager
def resumable(args: argparse.Namespace, out: str) -> Iterator[Path]:
    """Train (and save) inside a checkpointed run: every ``fit`` of the block is
    checkpointed in ``<out>.checkpoint`` (or continued from ``--resume DIR``). SIGINT or
    SIGTERM ends the command with a message saying how to go on; once the block has
    finished (the model saved) the checkpoints are removed."""
    from ..training.runs import checkpointed

    folder = Path(args.resume) if args.resume else Path(out).with_name(
        Path(out).name + ".checkpoint")
    resume = bool(args.resume) or (restarted() and folder.exists())  # torchrun's restart
    if not resume and folder.exists():
        if not args.force:
            raise ConfigError(f"{folder} holds the checkpoints of an interrupted run: "
                              f"continue it with --resume {folder}, or pass --force to "
                              "start over")
        if is_main_process():  # under torchrun, one rank clears it
            shutil.rmtree(folder, ignore_errors=True)
    try:
        with checkpointed(folder, resume=resume):
            yield folder
    except TrainingInterrupted as err:
        name = signal.Signals(err.signal).name
        raise TrainingInterrupted(
            f"{name} stopped the training; the work done is kept in {folder}: run the "
            f"same command with --resume {folder} to continue", str(folder),
            err.signal) from None
    if is_main_process():
        shutil.rmtree(folder, ignore_errors=True)
