"""Resuming the estimators and commands that call :func:`~seqnets.fit` several times (an
ensemble's members, model selection, a chorale model with its evaluation).

Within ``with checkpointed(folder):`` each ``fit`` call that names no checkpoint of its own
gets the next subfolder, ``fit-000``, ``fit-001``, ... , written when it ends and when a
signal stops it. With ``resume=True`` a call whose subfolder holds a checkpoint continues
from it: a finished fit returns its trained weights at once, the interrupted one carries on
from its last step, later ones train as usual. The calls must come in the same order with
the same data and settings, as a rerun of the same command makes them; each checkpoint is
checked against its call, so a mismatch is refused, never silently mixed.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import ModelFileError
from .checkpoints import STATE_FILE

__all__ = ["RunFolder", "checkpointed", "next_fit"]


class RunFolder:
    """The checkpoints of one run's ``fit`` calls, in the order they are made."""

    def __init__(self, folder: str | os.PathLike, resume: bool) -> None:
        self.folder, self.resume, self.calls = Path(folder), resume, 0

    def next(self) -> tuple[Path, bool]:
        """The next call's checkpoint folder, and whether it holds a checkpoint to resume."""
        path = self.folder / f"fit-{self.calls:03d}"
        self.calls += 1
        return path, self.resume and (path / STATE_FILE).is_file()


_ACTIVE: contextvars.ContextVar[RunFolder | None] = contextvars.ContextVar(
    "seqnets_run_folder", default=None)


@contextlib.contextmanager
def checkpointed(folder: str | os.PathLike, resume: bool = False) -> Iterator[RunFolder]:
    """Checkpoint (or, with ``resume``, continue) every ``fit`` call of the block in
    ``folder``; see the module's docstring."""
    run = RunFolder(folder, resume)
    if resume and not run.folder.is_dir():
        raise ModelFileError(f"no interrupted run to resume at {run.folder}: the folder "
                             "does not exist")
    token = _ACTIVE.set(run)
    try:
        yield run
    finally:
        _ACTIVE.reset(token)


def next_fit() -> tuple[Path | None, bool]:
    """For a ``fit`` call without a checkpoint of its own: its folder in the active
    :func:`checkpointed` block (None outside one) and whether to resume from it."""
    run = _ACTIVE.get()
    return (None, False) if run is None else run.next()
