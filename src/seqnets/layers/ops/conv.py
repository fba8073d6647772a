"""Small 1-D convolutions as one matrix product per tap, over time-major memory.

At the chapter's sizes (batch 32, 50 steps, 20 channels) a convolution is bound by
per-operation overhead, not arithmetic. Laid out time-major (``[T, B, C]`` in memory), the
input a tap reads, shifted by a dilation, is a contiguous block of rows, so each tap is one
matrix product added in place into a block of output rows: no padding, no gathered copy.
Results are ``[B, T, C]`` tensors viewed onto time-major memory, which the next convolution
reads without a copy (anything else reads them as any strided tensor).

A run of convolutions goes through :class:`_ConvStack`, one autograd function with a
hand-written backward for the whole run: the per-layer autograd and Python costs, which
otherwise cost as much as the products, are paid once per run. On CPU its loops run in C++
where the native library builds (:mod:`seqnets.layers.ops.native`: the same products, equal
results to rounding), with the batch cut into slices that run side by side on the intra-op
threads (:func:`seqnets.layers.ops.native.slice_count`); the Python loops below are the
fallback and the reference.
"""

import functools
from typing import NamedTuple

import torch
from torch.autograd.function import once_differentiable

from ...errors import ShapeError
from . import dispatch, native


class Tap(NamedTuple):
    """Tap ``j``: output steps ``[lo, hi)`` read input steps ``first, first + s, ...``.

    Steps falling into the padding read zeros, so they are left out of the range."""

    j: int
    lo: int
    hi: int
    first: int


class Geometry(NamedTuple):
    """What a convolution does to the time axis: taps, dilation, strides, padding."""

    kernel_size: int
    dilation: int
    strides: int
    padding: str


class LayerPlan(NamedTuple):
    """One convolution over a given input length and batch, in rows of time-major memory
    (row ``t·B + b`` is step ``t`` of sequence ``b``)."""

    length: int                  # input steps
    count: int                   # output steps
    batch: int
    strides: int
    taps: tuple[Tap, ...]
    rows: tuple[tuple[slice, slice], ...]  # per tap: its output rows, its input rows
    full: int                    # index of a tap covering every output step (written), or -1
    whole: int                   # index of a tap reading every input step once, or -1


def pads(geometry: Geometry, length: int) -> tuple[int, int]:
    """Left and right padding (TensorFlow's rule for ``"same"``: the extra step on the right)."""
    k, d, s, padding = geometry
    span = d * (k - 1) + 1
    if padding == "causal":
        return span - 1, 0
    if padding == "same":
        out = -(-length // s)
        total = max((out - 1) * s + span - length, 0)
        return total // 2, total - total // 2
    return 0, 0


@functools.lru_cache(maxsize=512)
def plan(geometries: tuple[Geometry, ...], length: int, batch: int) -> tuple[LayerPlan, ...]:
    """The plans of a run of convolutions for ``batch`` inputs of ``length`` steps."""
    plans = []
    for geometry in geometries:
        k, d, s, padding = geometry
        left, right = pads(geometry, length)
        span = d * (k - 1) + 1
        if length + left + right < span:
            raise ShapeError(f"Conv1D with padding={padding!r} needs at least {span} steps, "
                             f"got {length}")
        count = (length + left + right - span) // s + 1
        taps = []
        for j in range(k):
            offset = j * d - left                  # input step read by output step 0
            lo = max(0, -(offset // s))            # first output reading a step >= 0
            hi = min(count, (length - 1 - offset) // s + 1)
            if hi > lo:
                taps.append(Tap(j, lo, hi, lo * s + offset))
        rows = tuple((slice(t.lo * batch, t.hi * batch),
                       slice(t.first * batch, (t.first + t.hi - t.lo) * batch)) for t in taps)
        full = next((i for i, t in enumerate(taps) if t.lo == 0 and t.hi == count), -1)
        whole = next((i for i, t in enumerate(taps)
                      if s == 1 and t.first == 0 and t.hi - t.lo == length), -1)
        plans.append(LayerPlan(length, count, batch, s, tuple(taps), rows, full, whole))
        length = count
    return tuple(plans)


class Run(NamedTuple):
    """A run of convolutions over a given input: the layers' plans, and the same in steps as
    flat integers for the native loops (see ``csrc/conv_stack.cpp``)."""

    plans: tuple[LayerPlan, ...]
    relus: tuple[bool, ...]
    biases: tuple[bool, ...]
    code: tuple[int, ...]


@functools.lru_cache(maxsize=512)
def _run(geometries: tuple[Geometry, ...], relus: tuple[bool, ...], biases: tuple[bool, ...],
         length: int, batch: int) -> Run:
    plans = plan(geometries, length, batch)
    code: list[int] = []
    for p, relu, bias in zip(plans, relus, biases, strict=True):
        code += [p.length, p.count, p.strides, p.full, p.whole, int(relu), int(bias),
                 len(p.taps)]
        for tap in p.taps:
            code += [tap.j, tap.lo, tap.hi, tap.first]
    return Run(plans, relus, biases, tuple(code))


# Runs over more rows (steps x sequences) than this take one batch slice: their products are
# large enough for the BLAS's own threads, and one slice reads time-major input in place
# and returns a view, where slices copy in and out (a 64 x 16,384-step WaveNet epoch:
# 126.7 s sliced with the copies, 91.5 s in one slice; 88.3 s before the slices).
LARGEST_SLICED = 32_768


def conv_stack(x: torch.Tensor, geometries: tuple[Geometry, ...], relus: tuple[bool, ...],
               weights: list[torch.Tensor], biases: list[torch.Tensor | None]) -> torch.Tensor:
    """Convolutions in sequence, each ``relu`` or linear: ``[B, T, C] → [B, T', F]``.

    ``weights[i]``: ``[F_i, C_i, k_i]`` (PyTorch's layout); ``biases[i]``: ``[F_i]`` or None.
    """
    run = _run(geometries, relus, tuple(b is not None for b in biases), x.shape[1], x.shape[0])
    params = [p for pair in zip(weights, biases, strict=True) for p in pair]
    return _ConvStack.apply(x, run, *params)


def _steps(tap: Tap, strides: int) -> slice:
    """The input steps a strided tap reads: ``first, first + strides, ...``."""
    return slice(tap.first, tap.first + (tap.hi - tap.lo - 1) * strides + 1, strides)


def _rows(h: torch.Tensor, p: LayerPlan, i: int) -> torch.Tensor:
    """The input rows tap ``i`` reads from ``h`` ``[T·B, C]``: a slice, or a copy when
    strided; ``h`` itself when the tap reads every row (one operation fewer)."""
    tap = p.taps[i]
    if p.strides > 1:
        steps = h.view(p.length, -1, h.shape[1])
        return steps[_steps(tap, p.strides)].reshape(-1, h.shape[1])
    rows = p.rows[i][1]
    return h if rows.start == 0 and rows.stop == h.shape[0] else h[rows]


def _out(g: torch.Tensor, p: LayerPlan, i: int) -> torch.Tensor:
    """The output rows of tap ``i`` in ``g`` (``g`` itself when the tap covers them all)."""
    rows = p.rows[i][0]
    return g if rows.start == 0 and rows.stop == g.shape[0] else g[rows]


def _layer_forward(h: torch.Tensor, w: tuple[torch.Tensor, ...], bias: torch.Tensor | None,
                   p: LayerPlan) -> torch.Tensor:
    """One convolution over rows: ``h`` ``[T·B, C]``, ``w[j]`` ``[C, F]`` → ``[T'·B, F]``.

    Every operation counts at these sizes (a slice costs about a tenth of a product), so
    the tap covering every output row writes the result and the others add into blocks."""
    if p.full >= 0:
        rows, kernel = _rows(h, p, p.full), w[p.taps[p.full].j]
        y = torch.addmm(bias, rows, kernel) if bias is not None else rows.mm(kernel)
    else:
        y = h.new_zeros(p.count * p.batch, w[0].shape[1])
        if bias is not None:
            y += bias
    for i, tap in enumerate(p.taps):
        if i != p.full:
            _out(y, p, i).addmm_(_rows(h, p, i), w[tap.j])
    return y


def _weight_grad(h: torch.Tensor, g: torch.Tensor, w: tuple[torch.Tensor, ...],
                 p: LayerPlan) -> torch.Tensor:
    """``dL/dweight`` ``[F, C, k]`` (the parameter's layout) from the layer's input rows
    ``h`` and its output-gradient rows ``g``."""
    per_tap = [None] * len(w)
    for i, tap in enumerate(p.taps):
        per_tap[tap.j] = _out(g, p, i).t().mm(_rows(h, p, i))   # [F, C]
    if len(w) == 1:
        return per_tap[0].unsqueeze(2)
    if len(p.taps) < len(w):                          # taps reading only padding
        zero = g.new_zeros(g.shape[1], h.shape[1])
        per_tap = [zero if t is None else t for t in per_tap]
    return torch.stack(per_tap, dim=2)


def _input_grad(g: torch.Tensor, w: tuple[torch.Tensor, ...], p: LayerPlan) -> torch.Tensor:
    """``dL/dh`` ``[T·B, C]`` from the output-gradient rows ``g``."""
    if p.whole >= 0:
        dh = _out(g, p, p.whole).mm(w[p.taps[p.whole].j].t())
    else:
        dh = g.new_zeros(p.length * p.batch, w[0].shape[0])
    for i, tap in enumerate(p.taps):
        if i == p.whole:
            continue
        if p.strides == 1:
            dh[p.rows[i][1]].addmm_(_out(g, p, i), w[tap.j].t())
        else:
            steps = dh.view(p.length, -1, dh.shape[1])
            steps[_steps(tap, p.strides)] += \
                _out(g, p, i).mm(w[tap.j].t()).view(tap.hi - tap.lo, -1, dh.shape[1])
    return dh


class _ConvStack(torch.autograd.Function):
    """A run of convolutions (each ReLU or linear) with one hand-written backward.

    Keeps each layer's input rows (the ReLU's output doubles as its mask) and the kernels
    rearranged to ``[k, C, F]``; the backward walks the run in reverse with the same
    per-tap products transposed. The loops run natively where possible, else here."""

    @staticmethod
    def forward(ctx, x, run, *params):
        n = len(run.plans)
        ops = dispatch.native_ops(x.device)
        ctx.run, ctx.native = run, ops
        if ops is not None:
            biases = [b if b is not None else x for b in params[1::2]]  # x: a placeholder
            rows = x.shape[0] * x.shape[1]
            slices = native.slice_count(x.shape[0], x.shape[1]) if rows <= LARGEST_SLICED else 1
            out = ops.stack_forward(x, list(params[0::2]), biases, run.code, slices)
            ctx.save_for_backward(*out[n + 1:])     # per slice, the rows entering each layer
            ctx.kernels = out[1:n + 1]
            return out[0]
        B, T, C = x.shape
        h = x.transpose(0, 1).reshape(T * B, C)           # rows; free if time-major
        hs, kernels = [h], []
        for i, p in enumerate(run.plans):
            # per tap a contiguous [C, F] kernel: one copy of the [F, C, k] weight
            w = params[2 * i].permute(2, 1, 0)
            kernel = w.clone() if w.is_contiguous() else w.contiguous()
            h = _layer_forward(h, kernel.unbind(0), params[2 * i + 1], p)
            if run.relus[i]:
                h.relu_()
            hs.append(h)
            kernels.append(kernel)
        ctx.save_for_backward(*hs)
        ctx.kernels, ctx.batch = kernels, B  # copies, not the parameters, so kept on ctx
        return hs[-1].view(run.plans[-1].count, B, -1).transpose(0, 1)

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        run = ctx.run
        wanted = (ctx.needs_input_grad[0], *ctx.needs_input_grad[2:])
        if ctx.native is not None:
            grads = ctx.native.stack_backward(dy, ctx.saved_tensors, ctx.kernels, run.code,
                                              [int(w) for w in wanted])
            return (grads[0], None, *grads[1:])
        g = dy.transpose(0, 1).reshape(-1, dy.shape[-1])
        g, grads = _backward(g, ctx.saved_tensors, ctx.kernels, run, wanted)
        if g is None:
            return (None, None, *grads)
        dx = g.view(run.plans[0].length, ctx.batch, -1).transpose(0, 1)
        return (dx, None, *grads)


def _backward(g: torch.Tensor, hs: tuple[torch.Tensor, ...], kernels: list[torch.Tensor],
              run: Run, wanted: tuple[bool, ...]
              ) -> tuple[torch.Tensor | None, list[torch.Tensor | None]]:
    """The Python loops of the backward: (input-rows gradient or None, parameter grads)."""
    n = len(run.plans)
    grads: list[torch.Tensor | None] = [None] * (2 * n)
    for i in reversed(range(n)):
        p = run.plans[i]
        if run.relus[i]:
            g = torch.ops.aten.threshold_backward(g, hs[i + 1], 0.0)
        taps = kernels[i].unbind(0)
        if wanted[1 + 2 * i]:
            grads[2 * i] = _weight_grad(hs[i], g, taps, p)
        if run.biases[i] and wanted[2 + 2 * i]:
            grads[2 * i + 1] = g.sum(0)
        if i == 0 and not wanted[0]:
            return None, grads
        g = _input_grad(g, taps, p)
    return g, grads


__all__ = ["Geometry", "Run", "conv_stack", "pads", "plan"]
