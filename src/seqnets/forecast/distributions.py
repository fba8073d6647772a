"""Parametric forecasts (``uncertainty="gaussian"`` or ``"student_t"``): the model emits, per
step ahead, the parameters of a distribution of the target, trained on its negative log
likelihood; forecasts read it as the quantiles :data:`~seqnets.forecast.quantiles.QUANTILES`,
so that intervals, their CQR calibration and the scores are those of quantile outputs.

Parameters per step, from the raw outputs ``o``: the location ``mu = o_0``, the scale
``sigma = softplus(o_1) + 1e-4`` and, for Student-t, the degrees of freedom
``nu = 3 + softplus(o_2)``. ``nu > 3`` keeps the variance and the skewness finite, and is
where the series for its quantiles (Abramowitz & Stegun 26.7.5, four terms in ``1/nu``) is
accurate to 0.1%: there is no closed-form Student-t quantile.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..errors import ConfigError

__all__ = ["HEADS", "negative_log_likelihood", "parameters", "quantiles", "sample",
           "t_quantile"]

HEADS = {"gaussian": 2, "student_t": 3}   # raw outputs per step ahead
MIN_SCALE = 1e-4
MIN_DF = 3.0


def parameters(out: torch.Tensor, kind: str) -> tuple[torch.Tensor, ...]:
    """``(mu, sigma)`` or ``(mu, sigma, nu)`` from raw outputs ``[..., P]``."""
    if kind not in HEADS:
        raise ConfigError(f"unknown distribution {kind!r}; use one of {tuple(HEADS)}")
    mu, sigma = out[..., 0], F.softplus(out[..., 1]) + MIN_SCALE
    if kind == "gaussian":
        return mu, sigma
    return mu, sigma, MIN_DF + F.softplus(out[..., 2])


def negative_log_likelihood(kind: str):
    """The mean negative log likelihood of targets ``[..., k]`` under the distributions of
    raw outputs ``[..., k * P]`` (``P`` parameters per target step, step-major)."""
    n = HEADS[kind]

    def nll(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        params = parameters(out.reshape(*y.shape, n), kind)
        mu, sigma = params[0], params[1]
        z = (y - mu) / sigma
        if kind == "gaussian":
            return (torch.log(sigma) + 0.5 * z * z).mean() + 0.5 * math.log(2 * math.pi)
        nu = params[2]
        return (torch.lgamma(nu / 2) - torch.lgamma((nu + 1) / 2)
                + 0.5 * torch.log(nu * math.pi) + torch.log(sigma)
                + (nu + 1) / 2 * torch.log1p(z * z / nu)).mean()
    return nll


def t_quantile(p: torch.Tensor, nu: torch.Tensor) -> torch.Tensor:
    """The ``p``-quantile of Student's t with ``nu`` degrees of freedom (broadcast), by
    the normal quantile's series in ``1/nu`` (Abramowitz & Stegun 26.7.5)."""
    z = math.sqrt(2) * torch.erfinv(2 * p - 1)
    z2 = z * z
    g1 = z * (z2 + 1) / 4
    g2 = z * ((5 * z2 + 16) * z2 + 3) / 96
    g3 = z * (((3 * z2 + 19) * z2 + 17) * z2 - 15) / 384
    g4 = z * ((((79 * z2 + 776) * z2 + 1482) * z2 - 1920) * z2 - 945) / 92160
    return z + g1 / nu + g2 / nu ** 2 + g3 / nu ** 3 + g4 / nu ** 4


def quantiles(out: torch.Tensor, kind: str, levels) -> torch.Tensor:
    """The quantiles ``levels`` of the distributions of raw outputs ``[N, H, P]``:
    ``[N, H, len(levels)]``, ascending."""
    params = parameters(out, kind)
    p = torch.tensor(levels, dtype=out.dtype, device=out.device)
    if kind == "gaussian":
        std = math.sqrt(2) * torch.erfinv(2 * p - 1)
    else:
        std = t_quantile(p, params[2].unsqueeze(-1))
    return params[0].unsqueeze(-1) + params[1].unsqueeze(-1) * std


def sample(out: torch.Tensor, kind: str, generator: torch.Generator) -> torch.Tensor:
    """One draw per row from the distributions of raw outputs ``[N, P]``: ``[N]`` (a
    recursive model's next step, fed back to draw the one after)."""
    params = parameters(out, kind)
    mu, sigma = params[0], params[1]
    z = torch.randn(mu.shape, generator=generator, dtype=mu.dtype)
    if kind == "student_t":  # a normal over the root of a scaled chi-square
        nu = params[2]
        # chi-square(nu) = 2 Gamma(nu / 2); torch.distributions.Gamma draws with this same
        # kernel but takes no generator, which the seeded paths need
        chi2 = 2 * torch._standard_gamma(nu / 2, generator=generator)
        z = z / torch.sqrt(chi2 / nu)
    return mu + sigma * z
