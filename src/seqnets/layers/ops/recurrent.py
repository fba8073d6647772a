"""The compiled CPU path for recurrent layers: autograd functions over the native loops
(:mod:`.native`) and the numba kernels (:mod:`.numba_loops`).

Taken on CPU for the built-in cells with their default activations (:mod:`.dispatch`
decides): the LSTM's and SimpleRNN's loops run natively where the native library builds,
the others (and those, without it) with numba (the ``fast`` extra).
Every function equals the reference cell loop in values and gradients (tests); double
backward is not supported (use ``implementation="loop"``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from . import dispatch, native

_kernels: Any = None


def _k() -> Any:
    global _kernels  # the compiled module, imported once on first use
    if _kernels is None:
        from . import numba_loops
        _kernels = numba_loops
    return _kernels


def _np(t: torch.Tensor) -> Any:
    return t.detach().contiguous().numpy()


def _t(*arrays: Any) -> tuple[torch.Tensor, ...]:
    return tuple(torch.from_numpy(a) for a in arrays)


def _weight_grad(dz: torch.Tensor, y: torch.Tensor, h0: torch.Tensor,
                 mask: torch.Tensor) -> torch.Tensor:
    """Gradient of ``weight_hh`` ``[G, H]`` from the recurrent pre-activations' gradients
    ``dz`` ``[B, T, G]`` of every step: ``sum_t dz_t^T (h_{t-1} ⊙ mask)`` as one product."""
    prev = torch.cat([h0[:, None], y[:, :-1]], dim=1) * mask[:, None]
    return dz.reshape(-1, dz.shape[-1]).t() @ prev.reshape(-1, prev.shape[-1])


class _SimpleRNN(torch.autograd.Function):
    """SimpleRNN's time loop: native where the library builds (as :class:`_LSTM`), else
    the numba kernels."""

    @staticmethod
    def forward(ctx, p, w, h0, mask, relu, ops):
        if ops is not None:
            y = ops.simple_rnn_forward(p.contiguous(), w.t().contiguous(), h0.contiguous(),
                                       mask.contiguous(), relu,
                                       native.slice_count(p.shape[0], p.shape[1]))
        else:
            y = torch.from_numpy(_k().simple_rnn_forward(_np(p), _np(w.t()), _np(h0),
                                                         _np(mask), relu))
        ctx.save_for_backward(y, w, h0, mask)
        ctx.relu, ctx.native = relu, ops
        return y

    @staticmethod
    def backward(ctx, dy):
        y, w, h0, mask = ctx.saved_tensors
        if ctx.native is not None:
            dp, dh0 = ctx.native.simple_rnn_backward(
                dy.contiguous(), y, w.contiguous(), mask.contiguous(), ctx.relu,
                native.slice_count(y.shape[0], y.shape[1]))
        else:
            dp, dh0 = _t(*_k().simple_rnn_backward(_np(dy), _np(y), _np(w), _np(h0),
                                                   _np(mask), ctx.relu))
        return dp, _weight_grad(dp, y, h0, mask), dh0, None, None, None


class _LNRNN(torch.autograd.Function):
    @staticmethod
    def forward(ctx, p, w, h0, mask, gamma, beta, eps):
        y, xhat, rstd = _t(*_k().ln_rnn_forward(_np(p), _np(w.t()), _np(h0), _np(mask),
                                                _np(gamma), _np(beta), eps))
        ctx.save_for_backward(y, xhat, rstd, w, h0, mask, gamma)
        return y

    @staticmethod
    def backward(ctx, dy):
        y, xhat, rstd, w, h0, mask, gamma = ctx.saved_tensors
        dp, dgamma, dbeta, dh0 = _t(*_k().ln_rnn_backward(
            _np(dy), _np(y), _np(xhat), _np(rstd), _np(w), _np(h0), _np(mask), _np(gamma)))
        return dp, _weight_grad(dp, y, h0, mask), dh0, None, dgamma, dbeta, None


class _GRU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, p, w, bh, h0, mask):
        y, r, z, n, gn = _t(*_k().gru_forward(_np(p), _np(w.t()), _np(bh), _np(h0),
                                              _np(mask)))
        ctx.save_for_backward(y, r, z, n, gn, w, h0, mask)
        return y

    @staticmethod
    def backward(ctx, dy):
        y, r, z, n, gn, w, h0, mask = ctx.saved_tensors
        dp, dgh, dh0 = _t(*_k().gru_backward(_np(dy), _np(y), _np(r), _np(z), _np(n),
                                             _np(gn), _np(w), _np(h0), _np(mask)))
        return dp, _weight_grad(dgh, y, h0, mask), dgh.sum((0, 1)), dh0, None


class _LSTM(torch.autograd.Function):
    """The (peephole) LSTM's time loop: the native loops where they build (batch slices side
    by side, one product per step over a slice's rows), else the numba kernels."""

    @staticmethod
    def forward(ctx, p, w, peep, h0, c0, mask, ops):
        if ops is not None:
            y, c, i, f, g, o = ops.lstm_forward(
                p.contiguous(), w.t().contiguous(), peep.contiguous(), h0.contiguous(),
                c0.contiguous(), mask.contiguous(), native.slice_count(p.shape[0], p.shape[1]))
        else:
            y, c, i, f, g, o = _t(*_k().lstm_forward(_np(p), _np(w.t()), _np(peep), _np(h0),
                                                     _np(c0), _np(mask)))
        ctx.save_for_backward(y, c, i, f, g, o, w, peep, h0, c0, mask)
        ctx.native = ops
        return y, c

    @staticmethod
    def backward(ctx, dy, dc):
        y, c, i, f, g, o, w, peep, h0, c0, mask = ctx.saved_tensors
        dy = torch.zeros_like(y) if dy is None else dy
        dc = torch.zeros_like(c) if dc is None else dc
        if ctx.native is not None:
            dp, dpeep, dh0, dc0 = ctx.native.lstm_backward(
                dy.contiguous(), dc.contiguous(), c, i, f, g, o, w.contiguous(),
                peep.contiguous(), c0.contiguous(), mask.contiguous(),
                native.slice_count(y.shape[0], y.shape[1]))
        else:
            dp, dpeep, dh0, dc0 = _t(*_k().lstm_backward(
                _np(dy), _np(dc), _np(y), _np(c), _np(i), _np(f), _np(g), _np(o), _np(w),
                _np(peep), _np(h0), _np(c0), _np(mask)))
        return dp, _weight_grad(dp, y, h0, mask), dpeep, dh0, dc0, None, None


def _at(seq: torch.Tensor, last: torch.Tensor | None) -> torch.Tensor:
    """Step ``last[b]`` of each sequence of ``seq`` ``[B, T, H]`` (None: the last step)."""
    if last is None:
        return seq[:, -1]
    return seq.gather(1, last.view(-1, 1, 1).expand(seq.shape[0], 1, seq.shape[2])).squeeze(1)


def run(family: str, cell: nn.Module, x: torch.Tensor, states: tuple[torch.Tensor, ...],
        rec_mask: torch.Tensor | None, lengths: torch.Tensor | None = None,
        ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """Outputs ``[B, T, H]`` and final states for ``x`` ``[B, T, F]``, through the compiled
    loop ``family`` (the cell's ``compiled_loop``: one of :data:`.dispatch.LOOP_FAMILIES`).

    With ``lengths`` ``[B]`` (a batch padded at the end) the final states are those of each
    sequence's last valid step; the loop still runs over the padded steps (their outputs are
    the caller's to drop), which leaves the valid steps exact: a recurrence never looks ahead.

    The cell is read by its parameters' names (``weight_hh``, ``recurrent_bias``,
    ``ln_weight``/``ln_bias``, ``peephole_weights``), so this module knows no cell class."""
    ops = native.library() if dispatch.loop_backend(family) == "native" else None
    last = None if lengths is None else lengths - 1
    p = cell.project(x)
    dtype = p.dtype
    w = cell.weight_hh.to(dtype)
    mask = (torch.ones_like(states[0]) if rec_mask is None else rec_mask).to(dtype)
    h0 = states[0].to(dtype)
    if family == "simple_rnn":
        y = _SimpleRNN.apply(p, w, h0, mask, cell.activation == "relu", ops)
        return y, (_at(y, last),)
    if family == "ln_rnn":
        y = _LNRNN.apply(p, w, h0, mask, cell.ln_weight.to(dtype), cell.ln_bias.to(dtype),
                         cell.epsilon)
        return y, (_at(y, last),)
    if family == "gru":
        y = _GRU.apply(p, w, cell.recurrent_bias.to(dtype), h0, mask)
        return y, (_at(y, last),)
    if family != "lstm":
        raise ValueError(f"no compiled loop {family!r}; one of {dispatch.LOOP_FAMILIES}")
    peephole = getattr(cell, "peephole_weights", None)
    peep = p.new_zeros(3, cell.units) if peephole is None else peephole.to(dtype)
    y, c = _LSTM.apply(p, w, peep, h0, states[1].to(dtype), mask, ops)
    return y, (_at(y, last), _at(c, last))
