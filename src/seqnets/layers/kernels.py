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
over all steps, is one matrix product in :mod:`.fastpath` (BLAS beats a per-step
accumulation here), and the input projection's own backward is left to autograd.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

# error_model="numpy": a division by zero gives inf instead of raising, which removes a
# branch from every division and lets LLVM vectorise the activation loops (the rational
# tanh divides): 2.8x faster GRU forward here. Nothing here divides by a possible zero.
_JIT = {"cache": True, "nogil": True, "error_model": "numpy"}


def _tanh(x):
    """tanh; in float32 a branch-free rational approximation that vectorises (|error| <
    4e-7, the float32 resolution near 1), in float64 the exact libm function."""
    return math.tanh(x)


def _sigmoid(x):
    """The logistic function, as ``0.5 tanh(x/2) + 0.5`` (vectorises in float32)."""
    return 1.0 / (1.0 + math.exp(-x))


@overload(_tanh, inline="always")
def _tanh_impl(x):
    if isinstance(x, types.Float) and x.bitwidth == 32:
        f = np.float32
        # clamp and minimax coefficients of the float32 tanh approximation used by Eigen
        lim = f(7.90531110763549805)
        a1, a3, a5 = f(4.89352455891786e-03), f(6.37261928875436e-04), f(1.48572235717979e-05)
        a7, a9 = f(5.12229709037114e-08), f(-8.60467152213735e-11)
        a11, a13 = f(2.00018790482477e-13), f(-2.76076847742355e-16)
        b0, b2 = f(4.89352518554385e-03), f(2.26843463243900e-03)
        b4, b6 = f(1.18534705686654e-04), f(1.19825839466702e-06)

        def tanh32(x):
            x = min(max(x, -lim), lim)
            x2 = x * x
            p = x2 * (x2 * (x2 * (x2 * (x2 * (x2 * a13 + a11) + a9) + a7) + a5) + a3) + a1
            q = x2 * (x2 * (x2 * b6 + b4) + b2) + b0
            return x * p / q
        return tanh32
    return lambda x: math.tanh(x)


@overload(_sigmoid, inline="always")
def _sigmoid_impl(x):
    if isinstance(x, types.Float) and x.bitwidth == 32:
        half = np.float32(0.5)
        return lambda x: half * _tanh(half * x) + half
    return lambda x: 1.0 / (1.0 + math.exp(-x))


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
    (:mod:`.fastpath`) from the ``dz`` of all steps."""
    H = dh.shape[0]
    for j in range(H):
        dh[j] = 0.0
    for i in range(dz.shape[0]):
        d = dz[i]
        for j in range(H):
            dh[j] += d * W[i, j]
    for j in range(H):
        dh[j] *= mask[b, j]


@njit(**_JIT)
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
                Y[b, t, i] = max(acc[i], 0.0) if relu else _tanh(acc[i])
    return Y


@njit(**_JIT)
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


@njit(**_JIT)
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
                Y[b, t, i] = _tanh(xh * gamma[i] + beta[i])
    return Y, Xhat, Rstd


@njit(**_JIT)
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


@njit(**_JIT)
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
                rz[i] = _sigmoid(P[b, t, i] + gh[i])
            for i in range(H):
                n[i] = _tanh(P[b, t, 2 * H + i] + rz[i] * gh[2 * H + i])
            for i in range(H):
                R[b, t, i] = rz[i]
                Z[b, t, i] = rz[H + i]
                N[b, t, i] = n[i]
                Gn[b, t, i] = gh[2 * H + i]
                Y[b, t, i] = rz[H + i] * hp[i] + (1 - rz[H + i]) * n[i]
    return Y, R, Z, N, Gn


@njit(**_JIT)
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


@njit(**_JIT)
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
                ig = _sigmoid(a[j] + peep[0, j] * cp)
                fg = _sigmoid(a[H + j] + peep[1, j] * cp)
                gg = _tanh(a[2 * H + j])
                c = fg * cp + ig * gg
                og = _sigmoid(a[3 * H + j] + peep[2, j] * c)
                C[b, t, j] = c
                Y[b, t, j] = og * _tanh(c)
                Ig[b, t, j] = ig
                Fg[b, t, j] = fg
                Gg[b, t, j] = gg
                Og[b, t, j] = og
    return Y, C, Ig, Fg, Gg, Og


@njit(**_JIT)
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
                tc = _tanh(c)
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


@njit(**_JIT)
def wavenet_generate(first, steps, t0, in_size, k, in_w, in_b, in_buf, dil_w, dil_b,
                     dilations, bufs, res_w, res_b, skip_w, skip_b, h1_w, h1_b, h2_w, h2_b):
    """Fast WaveNet generation (Paine et al. 2016): one queue per dilated layer, so each
    new step costs O(layers), not O(receptive field).

    ``first`` ``[B, O]`` is the output at the last context step (time ``t0 - 1``); each
    step feeds its first ``in_size`` outputs back as the next input. Queues ``in_buf``
    ``[B, k-1, I]`` and ``bufs`` ``[layers, B, Lmax, C]`` hold each layer's last
    ``(k-1)·d`` inputs at slot ``time mod ((k-1)·d)``. Weights are flattened so that taps
    ``j = 0..k-1`` (lag ``(k-1-j)·d``) are consecutive column blocks. Returns ``[B, steps, O]``.
    """
    B, O = first.shape
    C = in_b.shape[0]
    NL = dil_w.shape[0]
    S = skip_b.shape[1]
    out = np.empty((B, steps, O), first.dtype)
    taps_in = np.empty(k * in_size, first.dtype)
    taps = np.empty(k * C, first.dtype)
    h = np.empty(C, first.dtype)
    z = np.empty(2 * C, first.dtype)
    g = np.empty(C, first.dtype)
    skip = np.empty(S, first.dtype)
    a = np.empty(S, first.dtype)
    for b in range(B):
        for o in range(O):
            out[b, 0, o] = first[b, o]
        for s in range(1, steps):
            t = t0 + s - 1
            # the input convolution, kernel k, dilation 1
            for j in range(k):
                lag = k - 1 - j
                for i in range(in_size):
                    taps_in[j * in_size + i] = (out[b, s - 1, i] if lag == 0
                                                else in_buf[b, (t - lag) % (k - 1), i])
            for i in range(in_size):
                in_buf[b, t % (k - 1), i] = out[b, s - 1, i]
            for c in range(C):
                acc = in_b[c]
                for q in range(k * in_size):
                    acc += in_w[c, q] * taps_in[q]
                h[c] = acc
            for q in range(S):
                skip[q] = 0.0
            for layer in range(NL):
                d = dilations[layer]
                span = (k - 1) * d
                for j in range(k):
                    lag = (k - 1 - j) * d
                    for c in range(C):
                        taps[j * C + c] = h[c] if lag == 0 else bufs[layer, b, (t - lag) % span, c]
                for c in range(C):
                    bufs[layer, b, t % span, c] = h[c]
                for r in range(2 * C):
                    acc = dil_b[layer, r]
                    for q in range(k * C):
                        acc += dil_w[layer, r, q] * taps[q]
                    z[r] = acc
                for c in range(C):
                    g[c] = _tanh(z[c]) * _sigmoid(z[C + c])
                for q in range(S):
                    acc = skip_b[layer, q]
                    for c in range(C):
                        acc += skip_w[layer, q, c] * g[c]
                    skip[q] += acc
                for r in range(C):
                    acc = res_b[layer, r]
                    for c in range(C):
                        acc += res_w[layer, r, c] * g[c]
                    h[r] += acc
            for q in range(S):
                a[q] = max(skip[q], 0.0)
            for r in range(S):
                acc = h1_b[r]
                for q in range(S):
                    acc += h1_w[r, q] * a[q]
                skip[r] = max(acc, 0.0)
            for o in range(O):
                acc = h2_b[o]
                for q in range(S):
                    acc += h2_w[o, q] * skip[q]
                out[b, s, o] = acc
    return out
