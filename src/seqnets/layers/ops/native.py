"""Native (C++) loops, built once on first use and cached: the fused convolution runs and
the time loops of the LSTM and SimpleRNN.

At the chapter's sizes these are bound by the interpreter's cost per operation, not by
arithmetic. ``csrc/conv_stack.cpp`` runs the computation of the Python loops of
:mod:`seqnets.layers.ops.conv`, ``csrc/lstm.cpp`` and ``csrc/simple_rnn.cpp`` that of the
numba kernels of :mod:`seqnets.layers.ops.numba_loops`: the same arithmetic, with the
products on raw memory (``csrc/gemm.h``) and the batch cut into slices that run side by side
on torch's intra-op threads (``csrc/slices.h``, :func:`slice_count`); results equal to
rounding. Whether they run is :mod:`seqnets.layers.ops.dispatch`'s choice.

It is compiled with PyTorch's extension builder (a C++ compiler and ninja: the ``fast``
extra installs ninja) the first time a process needs it, which takes about half a minute,
and cached under ``$SEQNETS_CACHE`` (default ``~/.cache/seqnets``), keyed by the sources,
the compiler flags, the torch version and the platform. Without a compiler the Python (or
numba) loops run, after one warning. ``SEQNETS_NATIVE=0`` turns the native loops off.
Builds take an exclusive ``flock`` (released when a builder dies) and mark a finished
library with its SHA-256: a killed build neither blocks the next one nor half-loads."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import platform
import shutil
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

import torch

CSRC = Path(__file__).with_name("csrc")
SOURCES = ("conv_stack.cpp", "lstm.cpp", "simple_rnn.cpp")  # in CSRC, headers beside them
# -O3: GCC vectorises the bias and ReLU passes only from -O3 (MSVC takes /O2), and the LSTM's
# gate loops only with -fno-trapping-math (as torch is built: selects on float compares are
# no longer control flow). -fopenmp where torch threads with OpenMP: at::parallel_for is
# compiled into the library (it then runs on torch's own OpenMP threads; without the flag
# the slices would run one after another).
_OPENMP = bool(torch._C.has_openmp) and os.name != "nt" and sys.platform != "darwin"
FLAGS = ("/O2",) if os.name == "nt" else ("-O3", "-fno-trapping-math",
                                           *(("-fopenmp",) if _OPENMP else ()))
LDFLAGS = ("-fopenmp",) if _OPENMP else ()

_lock = threading.Lock()
_loaded: dict[str, Any] = {}  # library name -> its torch.ops namespace, or None if unavailable


def enabled() -> bool:
    """Whether the native loops may be used (``SEQNETS_NATIVE`` is not ``0``)."""
    return os.environ.get("SEQNETS_NATIVE", "1").strip().lower() not in ("0", "false", "off")


# The native loops cut the batch into slices that run side by side on the intra-op threads
# when each slice gets at least this many rows (steps x sequences): below it, handing work
# to another thread costs more than it saves (benchmarks/conv_slices.py).
MIN_SLICE_ROWS = 100


def slice_count(batch: int, length: int) -> int:
    """How many batch slices the native loops run side by side."""
    return max(1, min(torch.get_num_threads(), batch, batch * length // MIN_SLICE_ROWS))


def library_name() -> str:
    """The library's name: it changes with the sources, the compiler flags, the torch
    version and the platform."""
    return _name_for(CSRC, torch.__version__)


@functools.lru_cache(maxsize=8)
def _name_for(folder: Path, torch_version: str) -> str:  # read once: asked at every run
    files = sorted([*folder.glob("*.cpp"), *folder.glob("*.h")])
    key = b"\0".join([*(f.name.encode() + f.read_bytes() for f in files),
                      torch_version.encode(),
                      " ".join(FLAGS + LDFLAGS).encode(),
                      platform.machine().encode(), platform.system().encode()])
    return "seqnets_conv_" + hashlib.sha256(key).hexdigest()[:16]


def cache_dir() -> Path:
    """Where built libraries are kept."""
    root = os.environ.get("SEQNETS_CACHE") or Path.home() / ".cache" / "seqnets"
    return Path(root) / "native"


def library(retry: bool = False) -> Any | None:
    """The ``torch.ops`` namespace of the native loops (``stack_*``, ``lstm_*``,
    ``simple_rnn_*``, ``products``), built if need be; None when turned off or unavailable
    (the Python or numba loops run then).

    A failed build is remembered on disk, so that later processes do not spend the time
    again; ``retry=True`` (what ``seqnets native`` does) forgets it and tries anew."""
    if not enabled():
        return None
    name = library_name()
    if name in _loaded and not retry:
        return _loaded[name]
    with _lock:
        if name not in _loaded or retry:
            _loaded[name] = _load(name, retry)
    return _loaded[name]


def _load(name: str, retry: bool) -> Any | None:
    folder = cache_dir() / name
    built, failed = folder / f"{name}.so", folder / "build-failed.txt"
    try:
        if _complete(built) and _try_load(built):
            return getattr(torch.ops, name)
        folder.mkdir(parents=True, exist_ok=True)
        with _build_lock(folder):  # one builder at a time, across processes
            if _complete(built) and _try_load(built):  # another process built it meanwhile
                return getattr(torch.ops, name)
            if failed.is_file() and not retry:
                raise RuntimeError(f"an earlier build failed: {failed.read_text()[:300]}; "
                                   "`seqnets native` tries again")
            failed.unlink(missing_ok=True)
            # holding the lock, any lock file of PyTorch's builder is a dead process's: left
            # there, it would make this build wait for ever
            (folder / "lock").unlink(missing_ok=True)
            try:
                _build(name, folder)
            except Exception as err:
                with contextlib.suppress(OSError):
                    failed.write_text(str(err))
                raise
            _mark_complete(built)
        return getattr(torch.ops, name)
    except Exception as err:  # noqa: BLE001 - any build failure means: use the Python loops
        warnings.warn(f"seqnets: the native loops are unavailable ({err!s:.400}); "
                      "the Python loops run instead (numba or oneDNN for the LSTM; the same "
                      "results to rounding, slower). "
                      "Set SEQNETS_NATIVE=0 to skip the attempt.", RuntimeWarning, stacklevel=3)
        return None


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _complete(built: Path) -> bool:
    """Whether ``built`` is a whole library: a build that finished wrote its SHA-256
    beside it (a process killed while linking leaves a partial file and no mark)."""
    mark = built.with_suffix(".sha256")
    try:
        return built.is_file() and mark.read_text().strip() == _digest(built)
    except OSError:
        return False


def _mark_complete(built: Path) -> None:
    from ...data.files import atomic_write

    atomic_write(built.with_suffix(".sha256"), _digest(built).encode())


def _try_load(built: Path) -> bool:
    try:
        torch.ops.load_library(str(built))
        return True
    except (OSError, RuntimeError):
        return False  # a stale or damaged file: build it again


@contextlib.contextmanager
def _build_lock(folder: Path):
    """An exclusive lock on ``folder`` across processes, released by the system when its
    holder dies (``flock``; where there is none, no lock)."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    with open(folder / ".seqnets-build.lock", "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _build(name: str, folder: Path) -> None:
    from torch.utils import cpp_extension

    print(f"seqnets: building the native loops once (about 30 s) in {folder}",
          file=sys.stderr, flush=True)
    with _ninja_on_path():
        cpp_extension.load(name, sources=[str(CSRC / f) for f in SOURCES],
                           build_directory=str(folder),
                           extra_cflags=[*FLAGS, f"-DSEQNETS_LIBRARY={name}"],
                           extra_ldflags=list(LDFLAGS),
                           is_python_module=False, verbose=False)


@contextlib.contextmanager
def _ninja_on_path():
    """PyTorch's builder runs ``ninja`` from PATH; the ``ninja`` package's copy sits in the
    environment's bin folder, which is not on PATH when the environment is not activated."""
    if shutil.which("ninja"):
        yield
        return
    try:
        import ninja
    except ImportError:
        yield  # the builder will say that ninja is missing
        return
    before = os.environ.get("PATH", "")
    os.environ["PATH"] = ninja.BIN_DIR + os.pathsep + before
    try:
        yield
    finally:
        os.environ["PATH"] = before
