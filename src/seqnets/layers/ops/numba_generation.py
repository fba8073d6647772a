"""Compiled WaveNet generation on CPU (numba): one queue per dilated layer."""

from __future__ import annotations

import numpy as np
from numba import njit

from .numba_math import JIT, sigmoid, tanh


@njit(**JIT)
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
                    g[c] = tanh(z[c]) * sigmoid(z[C + c])
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
