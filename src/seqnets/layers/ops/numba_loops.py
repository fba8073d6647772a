"""Compiled CPU kernels for the recurrent time loop (numba), forward and backward.

Small recurrent models on a CPU spend their time in per-operation overhead: a
``[32, 20]`` step is a few hundred nanoseconds of arithmetic but microseconds of framework
dispatch, fifty times per sequence, forwards and backwards. These kernels run the whole
loop, and its hand-written backward-through-time, as compiled code.

Conventions: arrays are C-contiguous, float32 or float64 (one compilation each, cached on
disk). ``P`` is the hoisted input projection ``x W_ih^T + b`` for every step,
``[B, T, k*H]``; ``W`` is ``weight_hh`` ``[k*H, H]`` and ``WT`` its transpose (forward
kernels read ``WT``, so that inner loops run along contiguous memory); ``mask`` is the
recurrent-dropout mask ``[B, H]`` (ones when there is none), applied to ``h_{t-1}`` in
the recurrent product only.
Each backward takes the gradients of every output and returns the gradients of ``P``,
of the cell's own small parameters and of the initial states; the gradient of ``W``, a sum
over all steps, is one matrix product in :mod:`.recurrent` (BLAS beats a per-step
accumulation here), and the input projection's own backward is left to autograd.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from .numba_math import JIT, sigmoid, tanh


@njit(inline="always")
def _recurrent_product(acc, WT, h0, Y, mask, b, t):  # noqa: N803
    """``acc += (h_{t-1} ⊙ mask) W^T`` for sample ``b`` at step ``t`` (``h_{-1} = h0``); the
    inner loop runs along a row of ``WT`` (contiguous)."""
    for j in range(WT.shape[0]):
        v = (h0[b, j] if t == 0 else Y[b, t - 1, j]) * mask[b, j]
        for i in range(acc.shape[0]):
            acc[i] += v * WT[j, i]


@njit(inline="always")
def _recurrent_product_backward(dz, W, mask, b, dh):  # noqa: N803
    """Backward of ``z += (h_{t-1} ⊙ mask) W^T`` with respect to ``h_{t-1}``:
    ``dh = (W^T dz) ⊙ mask`` (row-wise, so the inner loop runs along contiguous memory).
    The weight's gradient, a sum over every step, is one matrix product done by the caller
    (:mod:`.recurrent`) from the ``dz`` of all steps."""
    H = dh.shape[0]
    for j in range(H):
        dh[j] = 0.0
    for i in range(dz.shape[0]):
        d = dz[i]
        for j in range(H):
            dh[j] += d * W[i, j]
    for j in range(H):
        dh[j] *= mask[b, j]


@njit(**JIT)
def simple_rnn_forward(P, WT, h0, mask, relu):  # noqa: N803 - math names
    B, T, H = P.shape
    Y = np.empty_like(P)
    acc = np.empty(H, P.dtype)
    for b in range(B):
        for t in range(T):
            for i in range(H):
                acc[i] = P[b, t, i]
            _recurrent_product(acc, WT, h0, Y, mask, b, t)
            for i in range(H):
                Y[b, t, i] = max(acc[i], 0.0) if relu else tanh(acc[i])
    return Y


@njit(**JIT)
def simple_rnn_backward(dY, Y, W, h0, mask, relu):  # noqa: N803
    B, T, H = Y.shape
    dP = np.empty_like(Y)
    dh0 = np.empty_like(h0)
    dnext = np.zeros(H, Y.dtype)
    for b in range(B):
        dnext[:] = 0.0
        for t in range(T - 1, -1, -1):
            for i in range(H):
                h = Y[b, t, i]
                g = dY[b, t, i] + dnext[i]
                dP[b, t, i] = (g if h > 0.0 else 0.0) if relu else g * (1.0 - h * h)
            _recurrent_product_backward(dP[b, t], W, mask, b, dnext)
        for j in range(H):
            dh0[b, j] = dnext[j]
    return dP, dh0


@njit(**JIT)
def ln_rnn_forward(P, WT, h0, mask, gamma, beta, eps):  # noqa: N803
    """h_t = tanh(LayerNorm(P_t + h_{t-1} W^T)); also returns xhat and 1/std for backward."""
    B, T, H = P.shape
    Y = np.empty_like(P)
    Xhat = np.empty_like(P)
    Rstd = np.empty((B, T), P.dtype)
    z = np.empty(H, P.dtype)
    for b in range(B):
        for t in range(T):
            for i in range(H):
                z[i] = P[b, t, i]
            _recurrent_product(z, WT, h0, Y, mask, b, t)
            mean = 0.0
            for i in range(H):
                mean += z[i]
            mean /= H
            var = 0.0
            for i in range(H):
                var += (z[i] - mean) ** 2
            rstd = 1.0 / math.sqrt(var / H + eps)
            Rstd[b, t] = rstd
            for i in range(H):
                xh = (z[i] - mean) * rstd
                Xhat[b, t, i] = xh
                Y[b, t, i] = tanh(xh * gamma[i] + beta[i])
    return Y, Xhat, Rstd


@njit(**JIT)
def ln_rnn_backward(dY, Y, Xhat, Rstd, W, h0, mask, gamma):  # noqa: N803
    B, T, H = Y.shape
    dP = np.empty_like(Y)
    dgamma = np.zeros(H, Y.dtype)
    dbeta = np.zeros(H, Y.dtype)
    dh0 = np.empty_like(h0)
    dnext = np.zeros(H, Y.dtype)
    dxh = np.empty(H, Y.dtype)
    for b in range(B):
        dnext[:] = 0.0
        for t in range(T - 1, -1, -1):
            m1 = 0.0
            m2 = 0.0
            for i in range(H):
                h = Y[b, t, i]
                du = (dY[b, t, i] + dnext[i]) * (1.0 - h * h)
                xh = Xhat[b, t, i]
                dgamma[i] += du * xh
                dbeta[i] += du
                dxh[i] = du * gamma[i]
                m1 += dxh[i]
                m2 += dxh[i] * xh
            m1 /= H
            m2 /= H
            rstd = Rstd[b, t]
            for i in range(H):
                dP[b, t, i] = rstd * (dxh[i] - m1 - Xhat[b, t, i] * m2)
            _recurrent_product_backward(dP[b, t], W, mask, b, dnext)
        for j in range(H):
            dh0[b, j] = dnext[j]
    return dP, dgamma, dbeta, dh0


@njit(**JIT)
def gru_forward(P, WT, bh, h0, mask):  # noqa: N803
    """reset_after GRU, gate order r, z, n. Returns Y and the gates R, Z, N and the
    recurrent part of the candidate Gn = (h W_hn^T + b_hn), all [B, T, H]."""
    B, T, H3 = P.shape
    H = H3 // 3
    Y = np.empty((B, T, H), P.dtype)
    R = np.empty_like(Y)
    Z = np.empty_like(Y)
    N = np.empty_like(Y)
    Gn = np.empty_like(Y)
    gh = np.empty(H3, P.dtype)
    hp = np.empty(H, P.dtype)
    rz = np.empty(2 * H, P.dtype)
    n = np.empty(H, P.dtype)
    for b in range(B):
        for t in range(T):
            for j in range(H):
                hp[j] = h0[b, j] if t == 0 else Y[b, t - 1, j]
            for i in range(H3):
                gh[i] = bh[i]
            _recurrent_product(gh, WT, h0, Y, mask, b, t)
            # one simple loop per quantity, so that each vectorises
            for i in range(2 * H):
                rz[i] = sigmoid(P[b, t, i] + gh[i])
            for i in range(H):
                n[i] = tanh(P[b, t, 2 * H + i] + rz[i] * gh[2 * H + i])
            for i in range(H):
                R[b, t, i] = rz[i]
                Z[b, t, i] = rz[H + i]
                N[b, t, i] = n[i]
                Gn[b, t, i] = gh[2 * H + i]
                Y[b, t, i] = rz[H + i] * hp[i] + (1 - rz[H + i]) * n[i]
    return Y, R, Z, N, Gn


@njit(**JIT)
def gru_backward(dY, Y, R, Z, N, Gn, W, h0, mask):  # noqa: N803
    """Returns dP, dGh (the gradient of the recurrent part h W^T + b_h, for the caller's
    weight and bias gradients) and dh0."""
    B, T, H = Y.shape
    H3 = 3 * H
    dP = np.empty((B, T, H3), Y.dtype)
    dGh = np.empty((B, T, H3), Y.dtype)
    dh0 = np.empty_like(h0)
    dnext = np.zeros(H, Y.dtype)
    dhm = np.empty(H, Y.dtype)
    for b in range(B):
        dnext[:] = 0.0
        for t in range(T - 1, -1, -1):
            for i in range(H):
                hp = h0[b, i] if t == 0 else Y[b, t - 1, i]
                dh = dY[b, t, i] + dnext[i]
                r, z, n = R[b, t, i], Z[b, t, i], N[b, t, i]
                dan = dh * (1.0 - z) * (1.0 - n * n)
                dar = dan * Gn[b, t, i] * r * (1.0 - r)
                daz = dh * (hp - n) * z * (1.0 - z)
                dP[b, t, i] = dar
                dP[b, t, H + i] = daz
                dP[b, t, 2 * H + i] = dan
                dGh[b, t, i] = dar
                dGh[b, t, H + i] = daz
                dGh[b, t, 2 * H + i] = dan * r
                dnext[i] = dh * z  # the direct path z ⊙ h_{t-1}
            _recurrent_product_backward(dGh[b, t], W, mask, b, dhm)
            for j in range(H):
                dnext[j] += dhm[j]
        for j in range(H):
            dh0[b, j] = dnext[j]
    return dP, dGh, dh0


@njit(**JIT)
def lstm_forward(P, WT, peep, h0, c0, mask):  # noqa: N803
    """LSTM, gate order i, f, g, o; ``peep`` [3, H] holds peephole weights (w_ci, w_cf,
    w_co), zeros for a plain LSTM. Returns Y (h), C (c) and the gates I, F, G, O."""
    B, T, H4 = P.shape
    H = H4 // 4
    Y = np.empty((B, T, H), P.dtype)
    C = np.empty_like(Y)
    Ig = np.empty_like(Y)
    Fg = np.empty_like(Y)
    Gg = np.empty_like(Y)
    Og = np.empty_like(Y)
    a = np.empty(H4, P.dtype)
    cprev = np.empty(H, P.dtype)
    for b in range(B):
        for t in range(T):
            for j in range(H):
                cprev[j] = c0[b, j] if t == 0 else C[b, t - 1, j]
            for k in range(H4):
                a[k] = P[b, t, k]
            _recurrent_product(a, WT, h0, Y, mask, b, t)
            for j in range(H):
                cp = cprev[j]
                ig = sigmoid(a[j] + peep[0, j] * cp)
                fg = sigmoid(a[H + j] + peep[1, j] * cp)
                gg = tanh(a[2 * H + j])
                c = fg * cp + ig * gg
                og = sigmoid(a[3 * H + j] + peep[2, j] * c)
                C[b, t, j] = c
                Y[b, t, j] = og * tanh(c)
                Ig[b, t, j] = ig
                Fg[b, t, j] = fg
                Gg[b, t, j] = gg
                Og[b, t, j] = og
    return Y, C, Ig, Fg, Gg, Og


@njit(**JIT)
def lstm_backward(dY, dC, Y, C, Ig, Fg, Gg, Og, W, peep, h0, c0, mask):  # noqa: N803
    B, T, H = Y.shape
    H4 = 4 * H
    dP = np.empty((B, T, H4), Y.dtype)
    dpeep = np.zeros_like(peep)
    dh0 = np.empty_like(h0)
    dc0 = np.empty_like(c0)
    dh_next = np.zeros(H, Y.dtype)
    dc_next = np.zeros(H, Y.dtype)
    for b in range(B):
        dh_next[:] = 0.0
        dc_next[:] = 0.0
        for t in range(T - 1, -1, -1):
            for j in range(H):
                cp = c0[b, j] if t == 0 else C[b, t - 1, j]
                c = C[b, t, j]
                ig, fg, gg, og = Ig[b, t, j], Fg[b, t, j], Gg[b, t, j], Og[b, t, j]
                tc = tanh(c)
                dh = dY[b, t, j] + dh_next[j]
                dao = dh * tc * og * (1.0 - og)
                dc = dc_next[j] + dC[b, t, j] + dh * og * (1.0 - tc * tc) + dao * peep[2, j]
                dai = dc * gg * ig * (1.0 - ig)
                daf = dc * cp * fg * (1.0 - fg)
                dag = dc * ig * (1.0 - gg * gg)
                dP[b, t, j] = dai
                dP[b, t, H + j] = daf
                dP[b, t, 2 * H + j] = dag
                dP[b, t, 3 * H + j] = dao
                dpeep[0, j] += dai * cp
                dpeep[1, j] += daf * cp
                dpeep[2, j] += dao * c
                dc_next[j] = dc * fg + dai * peep[0, j] + daf * peep[1, j]
            _recurrent_product_backward(dP[b, t], W, mask, b, dh_next)
        for j in range(H):
            dh0[b, j] = dh_next[j]
            dc0[b, j] = dc_next[j]
    return dP, dpeep, dh0, dc0
