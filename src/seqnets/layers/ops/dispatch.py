"""The one place that decides how a layer runs here: native (C++), numba or torch, and on how
many CPU threads.

Layers never choose a fast path themselves. They state facts about their configuration
through two small protocols, and the functions below turn those facts, the device and what
this machine has built into a choice:

- a recurrent layer (:class:`RecurrentKernels`) says which compiled time loop its cell fits
  (``"simple_rnn"``, ``"ln_rnn"``, ``"gru"``, ``"lstm"``, or None) and whether PyTorch has a
  fused kernel for it; :func:`recurrent_path` picks ``"fused"``, ``"compiled"`` or ``"loop"``
  and :func:`loop_backend` runs a compiled loop natively or with numba;
- a convolution (:class:`Convolution`) says whether its geometry suits one matrix product
  per tap; :func:`conv_runs_taps` picks the taps or ``F.conv1d``, and :func:`native_ops`
  the native or Python loops of a run of taps;
- WaveNet generation asks :func:`generation_path`;
- :func:`default_threads` is the thread rule ``fit`` applies, :func:`thread_count` applies it.

Every choice gives the same results (to rounding); they differ in speed, measured by the
benchmarks each rule names. This module imports no layer class: the arrows point from the
layers to it, never back.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from . import native

HAVE_NUMBA = importlib.util.find_spec("numba") is not None

LOOP_FAMILIES = ("simple_rnn", "ln_rnn", "gru", "lstm")
_NATIVE_FAMILIES = ("simple_rnn", "lstm")  # the loops of csrc/simple_rnn.cpp and csrc/lstm.cpp
_COMPILED_DTYPES = (torch.float32, torch.float64)
# Where Conv1D runs its time-major taps; elsewhere F.conv1d. On an H200, cuDNN's conv1d beat
# the taps for the zoo's WaveNet (0.73 against 1.07 s/epoch at batch 32, 0.025 against 0.037
# at 1,024: benchmarks/gpu_check.py, benchmarks/results/gpu_check_h200.json); on CPU the taps
# win (about twice as fast at batch 32).
TAPS_DEVICES = ("cpu",)
_SERIAL_PARAMETERS = 200_000  # below this, a model of single-threaded loops runs on one thread


@runtime_checkable
class RecurrentKernels(Protocol):
    """What a recurrent layer tells dispatch (:class:`seqnets.layers.RNN` implements it)."""

    implementation: str  # "auto", "fused", "compiled" or "loop"

    def compiled_loop(self) -> str | None:
        """The compiled time loop that fits the cell's configuration (one of
        :data:`LOOP_FAMILIES`), or None."""

    def has_fused_kernel(self) -> bool:
        """Whether PyTorch's fused kernel (oneDNN / cuDNN) computes this configuration."""

    def bounded_states(self) -> bool:
        """Whether the cell's states stay finite over any number of steps (saturating
        activations), so that a compiled loop may run over a batch's padded steps."""


@runtime_checkable
class Convolution(Protocol):
    """What a convolution tells dispatch (:class:`seqnets.layers.Conv1D` implements it)."""

    def fits_taps(self) -> bool:
        """Whether the geometry suits one matrix product per tap (no groups, few taps)."""


def native_loops() -> bool:
    """Whether the native library is built and loaded (``seqnets native`` builds it)."""
    return native.library() is not None


def loop_backend(family: str | None) -> str | None:
    """``"native"``, ``"numba"`` or None (no compiled loop here) for a loop family."""
    if family in _NATIVE_FAMILIES and native_loops():
        return "native"
    if family in LOOP_FAMILIES and HAVE_NUMBA:
        return "numba"
    return None


def loop_threaded(family: str | None) -> bool:
    """Whether a compiled loop gains from the intra-op threads: the native LSTM loop, whose
    batch slices run side by side (the chapter's LSTM 0.66-0.73 s/epoch on two threads,
    1.09-1.23 on one). Not the native SimpleRNN loop, whose steps are too small (seq2seq_rnn
    0.60-0.75 on two, 0.49-0.67 on one), nor the numba loops (one sequence at a time)."""
    return family == "lstm" and loop_backend(family) == "native"


def cpu_prefers_fused(family: str | None) -> bool:
    """Whether PyTorch's fused CPU kernel beats the compiled loop: for the LSTM without the
    native loop (numba's loop only matches oneDNN; the native one takes 0.66-0.73 s/epoch for
    the chapter's LSTM against oneDNN's 1.22-1.56). The compiled SimpleRNN and GRU loops beat
    PyTorch's kernels several times at batch 32."""
    return family == "lstm" and loop_backend(family) != "native"


def recurrent_path(layer: RecurrentKernels, x: torch.Tensor,
                   recurrent_mask: torch.Tensor | None,
                   lengths: torch.Tensor | None = None) -> str:
    """Which implementation runs this call of a recurrent layer: ``"fused"``, ``"compiled"``
    or ``"loop"`` (the reference cell loop).

    ``implementation="auto"``: on CPU the compiled loop where the cell fits one (unless the
    fused kernel is faster, :func:`cpu_prefers_fused`), else the fused kernel; on GPU cuDNN's
    fused kernel. An explicit choice that cannot run the call (fused with recurrent dropout
    while training, say) falls back to the loop.

    With ``lengths`` (a padded batch) every path skips the padding its own way: the fused
    kernels take packed sequences, the cell loop carries each state unchanged over padded
    steps, and the compiled loops, which know no lengths, run over the padded steps too
    while the layer reads each sequence's outputs and states up to its last valid step
    (exact: a sequence's valid steps come before its padding, and a recurrence never looks
    ahead). That needs states that stay finite over padded steps: a cell without
    :meth:`~RecurrentKernels.bounded_states` (the ReLU SimpleRNN) takes the packed fused
    kernel or the cell loop instead."""
    impl = layer.implementation
    if impl == "loop":
        return "loop"
    fused = recurrent_mask is None and layer.has_fused_kernel()
    family = layer.compiled_loop()
    compiled = (x.device.type == "cpu" and x.dtype in _COMPILED_DTYPES
                and loop_backend(family) is not None
                and (lengths is None or layer.bounded_states()))
    if impl == "fused":
        return "fused" if fused else "loop"
    if impl == "compiled":
        return "compiled" if compiled else "loop"
    if compiled and not (fused and cpu_prefers_fused(family)):
        return "compiled"
    return "fused" if fused else "loop"


def conv_runs_taps(layer: Convolution, device: torch.device) -> bool:
    """Whether a convolution runs as time-major tap products on ``device`` (else F.conv1d)."""
    return device.type in TAPS_DEVICES and layer.fits_taps()


def native_ops(device: torch.device) -> Any | None:
    """The native library's ops for tensors on ``device``, or None (the Python loops run)."""
    return native.library() if device.type == "cpu" else None


def generation_path(implementation: str, device: torch.device) -> str:
    """How cached WaveNet generation runs: ``"compiled"`` (numba, CPU), ``"torch"`` or
    ``"naive"`` (full recomputation, the reference). ``"auto"``: compiled on CPU when numba
    is installed (0.17 ms a step for the chapter's sizes), else torch."""
    if implementation == "auto":
        return "compiled" if HAVE_NUMBA and device.type == "cpu" else "torch"
    return implementation


def default_threads(model: nn.Module) -> int:
    """Intra-op threads for training ``model`` on CPU: the rule measured by
    ``benchmarks/threads.py`` (docs/benchmarks.md, "Threads").

    One thread when the model is small (< 200k parameters) and every recurrent layer runs a
    compiled single-threaded loop, with no convolution: such steps are bound by per-operation
    overhead, and a second thread only adds synchronisation (GRU: 6.9 ms per step with one
    thread, 9.0 with two). Every available thread otherwise: the native loops run batch
    slices side by side (the chapter's LSTM 1.09-1.23 → 0.66-0.73 s/epoch), oneDNN's LSTM
    and the convolutions split their products well (LSTM 11.4 → 9.1 ms, conv_gru 7.7 → 6.2
    ms, a 3×10×32 WaveNet on 1,024 steps 2.8 → 1.6 s). "Available" is
    ``torch.get_num_threads()``, so a caller that runs several trainings side by side caps it
    first (``seqnets reproduce`` gives each worker one core).
    """
    available = max(1, torch.get_num_threads())
    size = sum(p.numel() for p in model.parameters())
    serial = size < _SERIAL_PARAMETERS
    for m in model.modules():
        if isinstance(m, Convolution):
            serial = False
        elif isinstance(m, RecurrentKernels):
            family = m.compiled_loop()
            single_threaded_loop = (loop_backend(family) is not None
                                    and not cpu_prefers_fused(family)
                                    and not loop_threaded(family))
            serial = serial and single_threaded_loop
    return 1 if serial else available


def cap_process_threads(n: int) -> None:
    """Give this whole process ``n`` intra-op threads: for worker processes that run side by
    side, one per core (``seqnets reproduce``); ``fit`` then picks at most that many."""
    torch.set_num_threads(n)


@contextlib.contextmanager
def thread_count(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` intra-op threads (None: leave as is), then restore."""
    if n is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


__all__ = ["HAVE_NUMBA", "LOOP_FAMILIES", "Convolution", "RecurrentKernels", "cap_process_threads",
           "conv_runs_taps", "cpu_prefers_fused", "default_threads", "generation_path",
           "loop_backend", "loop_threaded", "native_loops", "native_ops", "recurrent_path",
           "thread_count"]
