"""Parametric forecast heads (forecast/distributions.py) and the Forecaster reading them."""

import math

import numpy as np
import pytest
import torch

from seqnets import Forecaster
from seqnets.errors import ConfigError
from seqnets.forecast import distributions as dist
from seqnets.forecast.quantiles import QUANTILES

# Student-t quantiles from the tables (nu, p, t_p)
T_TABLE = [(3, 0.975, 3.182446), (3, 0.9, 1.637744), (4, 0.9, 1.533206),
           (5, 0.975, 2.570582), (10, 0.975, 2.228139), (30, 0.9, 1.310415)]


def raw(n: int, params: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, params, generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64)


@pytest.mark.parametrize("kind", ["gaussian", "student_t"])
def test_negative_log_likelihood_is_torch_distributions_log_prob(kind):
    out, y = raw(50, dist.HEADS[kind]), raw(50, 1, seed=1)[:, 0]
    params = dist.parameters(out, kind)
    if kind == "gaussian":
        reference = torch.distributions.Normal(params[0], params[1])
    else:
        reference = torch.distributions.StudentT(params[2], params[0], params[1])
    expected = -reference.log_prob(y).mean()
    torch.testing.assert_close(dist.negative_log_likelihood(kind)(out, y), expected)
    assert (params[1] > 0).all() and (kind == "gaussian" or (params[2] > 3).all())


def test_student_t_quantiles_match_the_tables_and_gaussian_ones_the_inverse_cdf():
    for nu, p, exact in T_TABLE:
        got = float(dist.t_quantile(torch.tensor(p, dtype=torch.float64),
                                    torch.tensor(float(nu), dtype=torch.float64)))
        assert abs(got - exact) / exact < 2e-3, (nu, p, got, exact)
        assert abs(float(dist.t_quantile(torch.tensor(1 - p, dtype=torch.float64),
                                         torch.tensor(float(nu)))) + got) < 1e-6  # symmetric
    out = raw(8, 2).reshape(2, 4, 2)
    q = dist.quantiles(out, "gaussian", QUANTILES)
    mu, sigma = dist.parameters(out, "gaussian")
    expected = torch.distributions.Normal(mu.unsqueeze(-1), sigma.unsqueeze(-1)).icdf(
        torch.tensor(QUANTILES, dtype=torch.float64))
    torch.testing.assert_close(q, expected)
    t = dist.quantiles(raw(8, 3).reshape(2, 4, 3), "student_t", QUANTILES)
    assert (t.diff(dim=-1) > 0).all()   # ascending: quantiles never cross


@pytest.mark.parametrize("kind", ["gaussian", "student_t"])
def test_the_likelihood_is_minimised_by_the_data_distribution(kind):
    """Fitted by gradient descent on draws of N(2, 0.5^2), the head recovers them."""
    g = torch.Generator().manual_seed(0)
    y = 2 + 0.5 * torch.randn(4000, 1, generator=g)
    theta = torch.zeros(1, dist.HEADS[kind], requires_grad=True)
    opt = torch.optim.Adam([theta], lr=0.05)
    loss = dist.negative_log_likelihood(kind)
    for _ in range(600):
        opt.zero_grad()
        loss(theta.expand(len(y), -1), y).backward()
        opt.step()
    params = dist.parameters(theta.detach(), kind)
    assert abs(float(params[0]) - 2) < 0.03
    sd = float(params[1]) if kind == "gaussian" else \
        float(params[1] * torch.sqrt(params[2] / (params[2] - 2)))   # t's standard deviation
    assert abs(sd - 0.5) < 0.03, sd
    if kind == "student_t":   # normal data: the tails want many degrees of freedom
        assert float(params[2]) > 10


@pytest.mark.parametrize("kind", ["gaussian", "student_t"])
def test_forecaster_with_a_parametric_head(tmp_path, kind):
    rng = np.random.default_rng(0)
    t = np.arange(400)
    y = 10 + 3 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.5, len(t))
    fc = Forecaster("mlp", window=24, horizon=6, strategy="direct", scale="window",
                    dropout=0.0, uncertainty=kind, epochs=20, holdout=60).fit(y, time=None)
    assert fc.model_outputs == 6 * dist.HEADS[kind]
    out = fc.predict()
    cols = ["lower_95", "lower_80", "mean", "upper_80", "upper_95"]
    assert (np.diff(out[cols].to_numpy(), axis=1) >= 0).all()        # nested bands
    raw_out = fc.predict(calibrated=False)
    width = (raw_out["upper_95"] - raw_out["lower_95"]).mean()
    assert 2 * 1.96 * 0.5 * 0.8 < width < 2 * 1.96 * 0.5 * 2      # about the noise's
    table = fc.calibration()
    assert set(table["level"]) == {0.8, 0.95}
    back = Forecaster.load(fc.save(tmp_path / kind))
    np.testing.assert_allclose(back.predict()["upper_95"], out["upper_95"], rtol=1e-6)
    with pytest.raises(ConfigError, match="quantiles of differences"):
        Forecaster("mlp", strategy="direct", uncertainty=kind, difference=1).fit(y, time=None)
    assert math.isfinite(fc.backtest(folds=2)["wql"].iloc[0])


@pytest.mark.parametrize("kind", ["gaussian", "student_t"])
def test_a_recursive_model_with_a_distribution_head_draws_sample_paths(kind):
    rng = np.random.default_rng(0)
    y = 10 + np.sin(np.arange(300) / 4) + rng.normal(0, 0.3, 300)
    fc = Forecaster("gru", window=16, horizon=4, strategy="recursive", uncertainty=kind,
                    scale=False, dropout=0.0, epochs=2, mc_samples=4000,
                    model_options={"units": 8}).fit(y, time=None)
    assert fc.sampled_paths and fc.model_outputs == dist.HEADS[kind]
    out = fc.predict(calibrated=False)
    cols = ["lower_95", "lower_80", "mean", "upper_80", "upper_95"]
    assert (np.diff(out[cols].to_numpy(), axis=1) >= 0).all()
    np.testing.assert_allclose(fc.predict(seed=3)["mean"], fc.predict(seed=3)["mean"])
    assert not np.allclose(fc.predict(seed=3)["upper_95"], fc.predict(seed=4)["upper_95"])
    # one step ahead nothing is fed back yet: the paths' quantiles are the distribution's
    x = fc._inputs(fc._transformed(fc.series_), [np.array([300])])
    with torch.no_grad():
        raw = fc.model_(x)[:, -1]
    exact = dist.quantiles(raw[:, None], kind, QUANTILES)[0, 0].double().numpy()
    got = out.iloc[0][["lower_95", "lower_80", "mean", "upper_80", "upper_95"]].to_numpy(float)
    np.testing.assert_allclose(got, exact, atol=0.05 * (exact[-1] - exact[0]))
    # differencing works with paths: each drawn path is inverted, then summed up
    diff = Forecaster("gru", window=16, horizon=4, strategy="recursive", uncertainty=kind,
                      difference=1, dropout=0.0, epochs=1, mc_samples=200,
                      model_options={"units": 8}).fit(y, time=None)
    bands = diff.predict()
    assert (np.diff(bands[cols].to_numpy(), axis=1) >= 0).all()
    width = (bands["upper_95"] - bands["lower_95"]).to_numpy()
    assert width[-1] > width[0]          # each draw fed back: the spread grows with the steps
    with pytest.raises(ConfigError, match="sample"):
        Forecaster("gru", strategy="recursive", uncertainty="quantile").fit(y, time=None)
