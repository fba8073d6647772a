"""Small 1-D convolutions as one matrix product per tap, over time-major memory.

At the chapter's sizes (batch 32, 50 steps, 20 channels) a convolution is bound by
per-operation overhead, not arithmetic. Laid out time-major (``[T, B, C]`` in memory), the
input a tap reads, shifted by a dilation, is a contiguous block of rows, so each tap is one
matrix product added in place into a block of output rows: no padding, no gathered copy.
Results are ``[B, T, C]`` tensors viewed onto time-major memory, which the next convolution
reads without a copy (anything else reads them as any strided tensor).

A run of convolutions goes through :class:`_ConvStack`, one autograd function with a
hand-written backward for the whole run: the per-layer autograd and Python costs, which
otherwise cost as much as the products, are paid once per run.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import torch
from torch.autograd.function import once_differentiable

from ..errors import ShapeError


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
    rows: tuple[tuple[int, int, int, int], ...]  # per tap: output rows [a, b), input rows [c, d)
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
        rows = tuple((t.lo * batch, t.hi * batch, t.first * batch,
                      (t.first + t.hi - t.lo) * batch) for t in taps)
        full = next((i for i, t in enumerate(taps) if t.lo == 0 and t.hi == count), -1)
        whole = next((i for i, t in enumerate(taps)
                      if s == 1 and t.first == 0 and t.hi - t.lo == length), -1)
        plans.append(LayerPlan(length, count, batch, s, tuple(taps), rows, full, whole))
        length = count
    return tuple(plans)


def conv_stack(x: torch.Tensor, geometries: tuple[Geometry, ...], relus: tuple[bool, ...],
               weights: list[torch.Tensor], biases: list[torch.Tensor | None]) -> torch.Tensor:
    """Convolutions in sequence, each ``relu`` or linear: ``[B, T, C] → [B, T', F]``.

    ``weights[i]``: ``[F_i, C_i, k_i]`` (PyTorch's layout); ``biases[i]``: ``[F_i]`` or None.
    """
    plans = plan(geometries, x.shape[1], x.shape[0])
    params = [p for pair in zip(weights, biases, strict=True) for p in pair]
    return _ConvStack.apply(x, plans, relus, *params)


def _strided_rows(h: torch.Tensor, p: LayerPlan, tap: Tap) -> torch.Tensor:
    """The rows a tap of a strided convolution reads from ``h`` ``[T·B, C]`` (a copy)."""
    steps = h.view(p.length, -1, h.shape[1])
    return steps[tap.first:tap.first + (tap.hi - tap.lo - 1) * p.strides + 1:p.strides] \
        .reshape(-1, h.shape[1])


def _layer_forward(h: torch.Tensor, w: tuple[torch.Tensor, ...], bias: torch.Tensor | None,
                   p: LayerPlan) -> torch.Tensor:
    """One convolution over rows: ``h`` ``[T·B, C]``, ``w[j]`` ``[C, F]`` → ``[T'·B, F]``.

    Every operation counts at these sizes, so rows are plain slices of the flat layout."""
    strided = p.strides > 1
    if p.full >= 0:
        tap, (a, b, c, d) = p.taps[p.full], p.rows[p.full]
        rows = _strided_rows(h, p, tap) if strided else h[c:d]
        y = torch.addmm(bias, rows, w[tap.j]) if bias is not None else rows.mm(w[tap.j])
    else:
        y = h.new_zeros(p.count * p.batch, w[0].shape[1])
        if bias is not None:
            y += bias
    for i, (tap, (a, b, c, d)) in enumerate(zip(p.taps, p.rows, strict=True)):
        if i != p.full:
            y[a:b].addmm_(_strided_rows(h, p, tap) if strided else h[c:d], w[tap.j])
    return y


def _weight_grad(h: torch.Tensor, g: torch.Tensor, w: tuple[torch.Tensor, ...],
                 p: LayerPlan) -> torch.Tensor:
    """``dL/dweight`` ``[F, C, k]`` (the parameter's layout) from the layer's input rows
    ``h`` and its output-gradient rows ``g``."""
    strided = p.strides > 1
    per_tap = [None] * len(w)
    for tap, (a, b, c, d) in zip(p.taps, p.rows, strict=True):
        rows = _strided_rows(h, p, tap) if strided else h[c:d]
        per_tap[tap.j] = g[a:b].t().mm(rows)          # [F, C]
    if len(p.taps) < len(w):                          # taps reading only padding
        zero = g.new_zeros(g.shape[1], h.shape[1])
        per_tap = [zero if t is None else t for t in per_tap]
    return torch.stack(per_tap, dim=2)


def _input_grad(g: torch.Tensor, w: tuple[torch.Tensor, ...], p: LayerPlan) -> torch.Tensor:
    """``dL/dh`` ``[T·B, C]`` from the output-gradient rows ``g``."""
    if p.whole >= 0:
        tap, (a, b, c, d) = p.taps[p.whole], p.rows[p.whole]
        dh = g[a:b].mm(w[tap.j].t())
    else:
        dh = g.new_zeros(p.length * p.batch, w[0].shape[0])
    for i, (tap, (a, b, c, d)) in enumerate(zip(p.taps, p.rows, strict=True)):
        if i == p.whole:
            continue
        if p.strides == 1:
            dh[c:d].addmm_(g[a:b], w[tap.j].t())
        else:
            steps = dh.view(p.length, -1, dh.shape[1])
            n, s = tap.hi - tap.lo, p.strides
            steps[tap.first:tap.first + (n - 1) * s + 1:s] += \
                g[a:b].mm(w[tap.j].t()).view(n, -1, dh.shape[1])
    return dh


class _ConvStack(torch.autograd.Function):
    """A run of convolutions (each ReLU or linear) with one hand-written backward.

    Keeps each layer's input rows (the ReLU's output doubles as its mask) and the kernels
    rearranged to ``[k, C, F]``; the backward walks the run in reverse with the same
    per-tap products transposed."""

    @staticmethod
    def forward(ctx, x, plans, relus, *params):
        B, T, C = x.shape
        h = x.transpose(0, 1).reshape(T * B, C)           # rows; free if time-major
        hs, ws = [h], []
        for i, p in enumerate(plans):
            w = params[2 * i].permute(2, 1, 0).contiguous()   # [k, C, F]
            taps = w.unbind(0)
            h = _layer_forward(h, taps, params[2 * i + 1], p)
            if relus[i]:
                h.relu_()
            hs.append(h)
            ws.append(w)
        ctx.save_for_backward(*hs, *ws)
        ctx.plans, ctx.relus, ctx.batch = plans, relus, B
        ctx.has_bias = [params[2 * i + 1] is not None for i in range(len(plans))]
        return h.view(plans[-1].count, B, -1).transpose(0, 1)

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        plans, relus, B = ctx.plans, ctx.relus, ctx.batch
        n = len(plans)
        saved = ctx.saved_tensors
        hs, ws = saved[:n + 1], saved[n + 1:]
        wanted = ctx.needs_input_grad
        grads: list[torch.Tensor | None] = [None] * (2 * n)
        g = dy.transpose(0, 1).reshape(-1, dy.shape[-1])
        for i in reversed(range(n)):
            if relus[i]:
                g = torch.ops.aten.threshold_backward(g, hs[i + 1], 0.0)
            taps = ws[i].unbind(0)
            if wanted[3 + 2 * i]:
                grads[2 * i] = _weight_grad(hs[i], g, taps, plans[i])
            if ctx.has_bias[i] and wanted[4 + 2 * i]:
                grads[2 * i + 1] = g.sum(0)
            if i == 0 and not wanted[0]:
                return (None, None, None, *grads)
            g = _input_grad(g, taps, plans[i])
        dx = g.view(plans[0].length, B, -1).transpose(0, 1)
        return (dx, None, None, *grads)


__all__ = ["Geometry", "conv_stack", "pads", "plan"]
