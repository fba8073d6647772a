"""What ``seqnets reproduce`` keeps between runs, and how it stops.

Each finished (experiment, seed) is written to ``OUT/runs/`` the moment it completes (one
JSON file each, atomically), beside ``settings.json`` (the epochs and the seqnets version the
runs were made with); a rerun into the same folder with the same settings skips them. SIGINT
or SIGTERM in the parent stops the worker processes, waits for them, and raises
:class:`Stopped`, which says what is saved and how to continue.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import ConfigError
from ..io import atomic_write_text

FOLDER = "runs"
SETTINGS = "settings.json"


class Stopped(Exception):
    """SIGINT or SIGTERM stopped ``reproduce``; the runs finished so far are saved."""

    def __init__(self, signum: int, finished: int, total: int, folder: Path | None):
        self.signum, self.finished, self.total, self.folder = signum, finished, total, folder
        name = signal.Signals(signum).name
        saved = (f", saved in {folder}/; run the same command again to continue (finished "
                 "runs are skipped)" if folder is not None else "")
        super().__init__(f"stopped by {name}: {finished} of {total} runs finished{saved}")

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + self.signum


class FinishedRuns:
    """The finished runs kept in ``out/runs/`` for runs of ``epochs`` epochs.

    Runs made with other settings are never mixed in: they are refused with a
    :class:`~seqnets.errors.ConfigError` (``fresh=True`` discards them and starts over).
    """

    def __init__(self, out: str | Path, epochs: int, fresh: bool = False):
        self.folder = Path(out) / FOLDER
        self.settings = {"epochs": epochs, "seqnets_version": __version__}
        if fresh and self.folder.exists():
            shutil.rmtree(self.folder)
        path = self.folder / SETTINGS
        if path.exists():
            try:
                saved = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                saved = None
            if saved != self.settings:
                raise ConfigError(
                    f"{self.folder}/ holds finished runs made with {_describe(saved)}, not "
                    f"{_describe(self.settings)} as asked; they must not mix. Fix: give "
                    "another --out folder, or pass --fresh to discard them and start over "
                    "(Python: fresh=True)")
        else:
            self.folder.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, json.dumps(self.settings) + "\n")

    def _path(self, name: str, seed: int) -> Path:
        return self.folder / f"{name}-seed{seed}.json"

    def get(self, name: str, seed: int) -> dict[str, Any] | None:
        """The saved record of ``name`` for ``seed``, or None (a file that does not read
        as that run's record counts as not finished: the run is made again)."""
        try:
            rec = json.loads(self._path(name, seed).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(rec, dict) or rec.get("experiment") != name \
                or rec.get("seed") != seed or rec.get("epochs") != self.settings["epochs"]:
            return None
        return rec

    def put(self, rec: dict[str, Any]) -> None:
        atomic_write_text(self._path(rec["experiment"], rec["seed"]), json.dumps(rec) + "\n")


def _describe(settings: Any) -> str:
    if not isinstance(settings, dict):
        return "unreadable settings"
    return (f"{settings.get('epochs')} epochs, seqnets {settings.get('seqnets_version')}")


class _Signal(BaseException):
    """SIGINT or SIGTERM arrived (a BaseException, so no ``except Exception`` eats it)."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def signals_raise() -> Iterator[None]:
    """For the block, SIGINT and SIGTERM raise :class:`_Signal` in the main thread; a second
    signal while stopping is ignored (the first one is being handled)."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def handler(signum, frame):
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_IGN)
        raise _Signal(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def worker_init() -> None:
    """In each worker: ignore SIGINT. Ctrl-C reaches the whole process group; the parent
    alone decides, and stops the workers itself (no traceback from each of them)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def stop_workers(pool, grace: float = 5.0) -> None:
    """Terminate ``pool``'s worker processes (SIGTERM, then SIGKILL after ``grace``
    seconds), wait for each, and shut the pool down: no process is left behind."""
    processes = list((getattr(pool, "_processes", None) or {}).values())  # CPython's own
    for p in processes:
        with contextlib.suppress(Exception):
            p.terminate()
    deadline = time.monotonic() + grace
    for p in processes:
        with contextlib.suppress(Exception):
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join()
    pool.shutdown(wait=True, cancel_futures=True)
