"""Recurrent cells against plain NumPy implementations of the spec's equations (§3).

Every cell runs over a whole multi-step sequence through ``RNN(cell, return_sequences=True)``
with random weights (biases, layer-norm and peephole weights included) and is compared with
a NumPy float64 reference written here from the equations, not from the code. Also: one-step
gradchecks (inputs, states and every parameter), Keras initialisers, cell configs.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from torch.autograd import gradcheck
from torch.func import functional_call

import seqnets
from seqnets.errors import ConfigError
from seqnets.layers import (
    RNN,
    Cell,
    GRUCell,
    LNSimpleRNNCell,
    LSTMCell,
    PeepholeLSTMCell,
    SimpleRNNCell,
    deserialize,
    serialize,
)

B, T, IN, U = 3, 7, 4, 5


# --------------------------------------------------------------------------------------
# NumPy references (PyTorch weight layout: weight_ih [k*u, in], weight_hh [k*u, u])
# --------------------------------------------------------------------------------------
def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def relu(x):
    return np.maximum(x, 0.0)


def np_simple_rnn(x, p, states, act):
    (h,) = states
    ys = []
    for t in range(x.shape[1]):
        # y_t = φ(x_t W_x + y_{t-1} W_y + b)
        h = act(x[:, t] @ p["weight_ih"].T + h @ p["weight_hh"].T + p["bias"])
        ys.append(h)
    return np.stack(ys, 1), (h,)


def np_ln_simple_rnn(x, p, states, eps=1e-3):
    (h,) = states
    ys = []
    for t in range(x.shape[1]):
        z = x[:, t] @ p["weight_ih"].T + h @ p["weight_hh"].T + p["bias"]
        mu = z.mean(-1, keepdims=True)
        var = ((z - mu) ** 2).mean(-1, keepdims=True)  # biased variance, as LayerNorm
        h = np.tanh((z - mu) / np.sqrt(var + eps) * p["ln_weight"] + p["ln_bias"])
        ys.append(h)
    return np.stack(ys, 1), (h,)


def np_lstm(x, p, states, peephole=False):
    h, c = states
    u = h.shape[1]
    ys = []
    for t in range(x.shape[1]):
        z = x[:, t] @ p["weight_ih"].T + h @ p["weight_hh"].T + p["bias"]
        zi, zf, zg, zo = z[:, :u], z[:, u:2 * u], z[:, 2 * u:3 * u], z[:, 3 * u:]
        if peephole:
            w_ci, w_cf, w_co = p["peephole_weights"]
            i = sigmoid(zi + w_ci * c)  # c_{t-1} feeds the input and forget gates
            f = sigmoid(zf + w_cf * c)
            c = f * c + i * np.tanh(zg)
            o = sigmoid(zo + w_co * c)  # c_t feeds the output gate
        else:
            i, f, o = sigmoid(zi), sigmoid(zf), sigmoid(zo)
            c = f * c + i * np.tanh(zg)
        h = o * np.tanh(c)
        ys.append(h)
    return np.stack(ys, 1), (h, c)


def np_gru(x, p, states, reset_after=True):
    (h,) = states
    u = h.shape[1]
    W_ih, W_hh = p["weight_ih"], p["weight_hh"]
    ys = []
    for t in range(x.shape[1]):
        xp = x[:, t] @ W_ih.T + p["bias"]
        x_r, x_z, x_n = xp[:, :u], xp[:, u:2 * u], xp[:, 2 * u:]
        if reset_after:
            hp = h @ W_hh.T + p["recurrent_bias"]
            h_r, h_z, h_n = hp[:, :u], hp[:, u:2 * u], hp[:, 2 * u:]
            r = sigmoid(x_r + h_r)
            z = sigmoid(x_z + h_z)
            n = np.tanh(x_n + r * h_n)
        else:
            W_hr, W_hz, W_hn = W_hh[:u], W_hh[u:2 * u], W_hh[2 * u:]
            r = sigmoid(x_r + h @ W_hr.T)
            z = sigmoid(x_z + h @ W_hz.T)
            n = np.tanh(x_n + (r * h) @ W_hn.T)
        h = z * h + (1.0 - z) * n
        ys.append(h)
    return np.stack(ys, 1), (h,)


CASES = {
    "simple_tanh": (lambda: SimpleRNNCell(U), lambda x, p, s: np_simple_rnn(x, p, s, np.tanh)),
    "simple_relu": (lambda: SimpleRNNCell(U, activation="relu"),
                    lambda x, p, s: np_simple_rnn(x, p, s, relu)),
    "ln_simple": (lambda: LNSimpleRNNCell(U), np_ln_simple_rnn),
    "lstm": (lambda: LSTMCell(U), np_lstm),
    "peephole_lstm": (lambda: PeepholeLSTMCell(U),
                      lambda x, p, s: np_lstm(x, p, s, peephole=True)),
    "gru_reset_after": (lambda: GRUCell(U), lambda x, p, s: np_gru(x, p, s, True)),
    "gru_reset_before": (lambda: GRUCell(U, reset_after=False),
                         lambda x, p, s: np_gru(x, p, s, False)),
}

EXPECTED_PARAMS = {
    "simple_tanh": {"weight_ih", "weight_hh", "bias"},
    "simple_relu": {"weight_ih", "weight_hh", "bias"},
    "ln_simple": {"weight_ih", "weight_hh", "bias", "ln_weight", "ln_bias"},
    "lstm": {"weight_ih", "weight_hh", "bias"},
    "peephole_lstm": {"weight_ih", "weight_hh", "bias", "peephole_weights"},
    "gru_reset_after": {"weight_ih", "weight_hh", "bias", "recurrent_bias"},
    "gru_reset_before": {"weight_ih", "weight_hh", "bias"},
}


def randomise(module: torch.nn.Module, seed: int = 0, scale: float = 0.6) -> None:
    """Random values for every parameter (biases, LN and peephole weights too)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * scale)


def built_cell(case: str, dtype=torch.float64, seed: int = 0) -> Cell:
    cell = CASES[case][0]()
    cell.build((IN,))
    cell.to(dtype)
    randomise(cell, seed)
    return cell


def numpy_params(module: torch.nn.Module) -> dict[str, np.ndarray]:
    return {n: p.detach().double().numpy() for n, p in module.named_parameters()}


# --------------------------------------------------------------------------------------
# forward: cell over a sequence == NumPy reference
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(CASES))
def test_parameter_names_and_shapes(case):
    cell = built_cell(case)
    params = dict(cell.named_parameters())
    assert set(params) == EXPECTED_PARAMS[case]
    k = {"lstm": 4, "peephole_lstm": 4, "gru_reset_after": 3, "gru_reset_before": 3}.get(case, 1)
    assert params["weight_ih"].shape == (k * U, IN)
    assert params["weight_hh"].shape == (k * U, U)
    assert params["bias"].shape == (k * U,)
    if "recurrent_bias" in params:
        assert params["recurrent_bias"].shape == (k * U,)
    if "peephole_weights" in params:
        assert params["peephole_weights"].shape == (3, U)


@pytest.mark.parametrize("with_initial_state", [False, True])
@pytest.mark.parametrize("case", sorted(CASES))
def test_cell_sequence_matches_numpy_float64(case, with_initial_state):
    cell = built_cell(case, torch.float64, seed=1)
    layer = RNN(cell, return_sequences=True, return_state=True)
    g = torch.Generator().manual_seed(2)
    x = torch.randn(B, T, IN, generator=g, dtype=torch.float64)
    n_states = len(cell.state_size)
    if with_initial_state:
        init = tuple(torch.randn(B, U, generator=g, dtype=torch.float64) * 0.5
                     for _ in range(n_states))
    else:
        init = tuple(np.zeros((B, U)) for _ in range(n_states))
    with torch.no_grad():
        if with_initial_state:
            out, *states = layer(x, initial_state=init)
        else:
            out, *states = layer(x)
    np_init = tuple(np.asarray(s, dtype=np.float64) for s in init)
    ref_out, ref_states = CASES[case][1](x.numpy(), numpy_params(cell), np_init)
    assert out.shape == (B, T, U)
    np.testing.assert_allclose(out.numpy(), ref_out, rtol=0, atol=1e-9)
    assert len(states) == len(ref_states)
    for s, r in zip(states, ref_states, strict=True):
        np.testing.assert_allclose(s.numpy(), r, rtol=0, atol=1e-9)
    # the reference is not trivially satisfied: outputs move over time and are not saturated
    assert np.abs(np.diff(ref_out, axis=1)).max() > 1e-2


@pytest.mark.parametrize("case", sorted(CASES))
def test_cell_sequence_matches_numpy_float32(case):
    """The default dtype: float32 against the float64 reference, within 1e-6."""
    cell = built_cell(case, torch.float32, seed=3)
    layer = RNN(cell, return_sequences=True)
    x = torch.randn(B, T, IN, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        out = layer(x)
    init = tuple(np.zeros((B, U)) for _ in cell.state_size)
    ref_out, _ = CASES[case][1](x.double().numpy(), numpy_params(cell), init)
    np.testing.assert_allclose(out.double().numpy(), ref_out, rtol=0, atol=1e-6)


@pytest.mark.parametrize("case", sorted(CASES))
def test_cell_single_step_call(case):
    """Calling the cell directly (one step) is the first step of the sequence reference."""
    cell = built_cell(case, torch.float64, seed=5)
    g = torch.Generator().manual_seed(6)
    x = torch.randn(B, IN, generator=g, dtype=torch.float64)
    states = tuple(torch.randn(B, U, generator=g, dtype=torch.float64) for _ in cell.state_size)
    with torch.no_grad():
        y, new_states = cell(x, states)
    ref_out, ref_states = CASES[case][1](x.numpy()[:, None], numpy_params(cell),
                                         tuple(s.numpy() for s in states))
    np.testing.assert_allclose(y.numpy(), ref_out[:, 0], rtol=0, atol=1e-9)
    for s, r in zip(new_states, ref_states, strict=True):
        np.testing.assert_allclose(s.numpy(), r, rtol=0, atol=1e-9)


def test_state_and_output_sizes():
    for cls in (SimpleRNNCell, LNSimpleRNNCell, GRUCell):
        cell = cls(7)
        assert tuple(cell.state_size) == (7,) and cell.output_size == 7
    for cls in (LSTMCell, PeepholeLSTMCell):
        cell = cls(7)
        assert tuple(cell.state_size) == (7, 7) and cell.output_size == 7


def test_use_bias_false_has_no_bias_and_matches_reference():
    cell = SimpleRNNCell(U, use_bias=False, input_size=IN).double()
    assert cell.bias is None
    randomise(cell, 7)
    x = torch.randn(B, T, IN, dtype=torch.float64, generator=torch.Generator().manual_seed(8))
    with torch.no_grad():
        out = RNN(cell, return_sequences=True)(x)
    p = numpy_params(cell)
    p["bias"] = np.zeros(U)
    ref, _ = np_simple_rnn(x.numpy(), p, (np.zeros((B, U)),), np.tanh)
    np.testing.assert_allclose(out.numpy(), ref, rtol=0, atol=1e-9)


# --------------------------------------------------------------------------------------
# gradcheck: one step, w.r.t. the input, the states and every parameter (float64)
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", sorted(CASES))
def test_cell_gradcheck_one_step(case):
    cell = built_cell(case, torch.float64, seed=9)
    names = [n for n, _ in cell.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for _, p in cell.named_parameters())
    g = torch.Generator().manual_seed(10)
    x = torch.randn(2, IN, generator=g, dtype=torch.float64, requires_grad=True)
    states = tuple(torch.randn(2, U, generator=g, dtype=torch.float64, requires_grad=True)
                   for _ in cell.state_size)
    n_states = len(states)

    def step(x, *rest):
        st, ps = rest[:n_states], rest[n_states:]
        y, new = functional_call(cell, dict(zip(names, ps, strict=True)), (x, st))
        return (y, *new)

    assert gradcheck(step, (x, *states, *params), eps=1e-6, atol=1e-6)


# --------------------------------------------------------------------------------------
# Keras initialisers
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("cls, k", [(SimpleRNNCell, 1), (LNSimpleRNNCell, 1), (LSTMCell, 4),
                                    (PeepholeLSTMCell, 4), (GRUCell, 3)])
def test_cell_initialisers_match_keras(cls, k):
    torch.manual_seed(11)
    units, n_in = 32, 40
    cell = cls(units, input_size=n_in)
    # input kernel: glorot-uniform with Keras's fans for its [in, k*units] kernel
    limit = math.sqrt(6.0 / (n_in + k * units))
    w = cell.weight_ih.detach()
    assert w.abs().max() <= limit
    assert w.abs().max() > 0.97 * limit  # the full range is used, not a narrower one
    assert abs(w.std().item() - limit / math.sqrt(3)) < 0.05 * limit
    # recurrent kernel [k*units, units]: orthonormal columns (Keras: orthonormal rows of
    # its [units, k*units] transpose)
    r = cell.weight_hh.detach().double()
    torch.testing.assert_close(r.T @ r, torch.eye(units, dtype=torch.float64),
                               atol=1e-5, rtol=0)
    # biases zero except LSTM's forget gate (1)
    expected_bias = torch.zeros(k * units)
    if cls in (LSTMCell, PeepholeLSTMCell):
        expected_bias[units:2 * units] = 1.0
    torch.testing.assert_close(cell.bias.detach(), expected_bias, atol=0, rtol=0)
    if cls is GRUCell:
        assert torch.count_nonzero(cell.recurrent_bias) == 0
    if cls is LNSimpleRNNCell:
        assert torch.equal(cell.ln_weight.detach(), torch.ones(units))
        assert torch.equal(cell.ln_bias.detach(), torch.zeros(units))
        assert cell.epsilon == 1e-3
    if cls is PeepholeLSTMCell:
        pw = cell.peephole_weights.detach()
        assert pw.abs().max() <= math.sqrt(6.0 / (2 * units))
        assert pw.abs().max() > 0  # random, not zeros


def test_lstm_unit_forget_bias_false_gives_zero_bias():
    cell = LSTMCell(6, unit_forget_bias=False, input_size=3)
    assert torch.count_nonzero(cell.bias) == 0


def test_keras_cell_parameter_counts():
    def count(cell):
        return sum(p.numel() for p in cell.parameters())

    # SimpleRNN: in*u + u*u + u; LSTM: 4*(in*u + u*u + u); GRU reset_after: 3*(in*u + u*u + 2u)
    assert count(SimpleRNNCell(20, input_size=1)) == 20 + 400 + 20
    assert count(LNSimpleRNNCell(20, input_size=1)) == 20 + 400 + 20 + 40
    assert count(LSTMCell(20, input_size=1)) == 4 * (20 + 400 + 20)
    assert count(PeepholeLSTMCell(20, input_size=1)) == 4 * (20 + 400 + 20) + 3 * 20
    assert count(GRUCell(20, input_size=20)) == 3 * (400 + 400 + 40)
    assert count(GRUCell(20, reset_after=False, input_size=20)) == 3 * (400 + 400 + 20)


# --------------------------------------------------------------------------------------
# configs, custom cells, errors
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", [
    SimpleRNNCell(4, activation="relu", use_bias=False, dropout=0.1, recurrent_dropout=0.2),
    LNSimpleRNNCell(4, epsilon=1e-4), LSTMCell(4, unit_forget_bias=False),
    PeepholeLSTMCell(4, recurrent_activation="hard_sigmoid"),
    GRUCell(4, reset_after=False), GRUCell(4, use_bias=False),
], ids=lambda c: type(c).__name__)
def test_cell_config_round_trip(cell):
    spec = serialize(cell)
    spec2 = json.loads(json.dumps(spec))
    clone = deserialize(spec2)
    assert type(clone) is type(cell)
    assert clone.get_config() == cell.get_config()
    cell.build((3,))
    clone.build((3,))
    clone.load_state_dict(cell.state_dict())
    x = torch.randn(2, 3)
    states = tuple(torch.randn(2, s) for s in cell.state_size)
    with torch.no_grad():
        torch.testing.assert_close(clone(x, states)[0], cell(x, states)[0], atol=0, rtol=0)


@seqnets.register
class MinimalTanhCell(Cell):
    """A user's cell written with only the documented protocol: weights + forward."""

    def _create_weights(self, input_size: int) -> None:
        self.kernel = torch.nn.Parameter(torch.randn(self.units, input_size + self.units) * 0.3)

    def forward(self, x_t, states):
        h = torch.tanh(torch.cat([x_t, states[0]], dim=-1) @ self.kernel.T)
        return h, (h,)


def test_user_cell_built_on_forward_only_runs_in_rnn():
    cell = MinimalTanhCell(3)
    layer = RNN(cell, return_sequences=True)
    x = torch.randn(2, 5, 4)
    out = layer(x)
    assert out.shape == (2, 5, 3)
    h = torch.zeros(2, 3)
    for t in range(5):
        h = torch.tanh(torch.cat([x[:, t], h], -1) @ cell.kernel.T)
        torch.testing.assert_close(out[:, t], h)


def test_subclass_overriding_forward_is_called_by_rnn():
    class DoubledSimpleCell(SimpleRNNCell):
        def forward(self, x_t, states, recurrent_mask=None):
            y, new = super().forward(x_t, states, recurrent_mask)
            return 2 * y, new

    cell = DoubledSimpleCell(3, input_size=2)
    plain = SimpleRNNCell(3, input_size=2)
    plain.load_state_dict(cell.state_dict())
    x = torch.randn(2, 4, 2)
    with torch.no_grad():
        torch.testing.assert_close(RNN(cell, return_sequences=True)(x),
                                   2 * RNN(plain, return_sequences=True)(x))


@pytest.mark.parametrize("make, match", [
    (lambda: SimpleRNNCell(0), "units must be a positive integer"),
    (lambda: LSTMCell(-3), "units must be a positive integer"),
    (lambda: GRUCell(2.5), "units must be a positive integer"),
    (lambda: GRUCell(4, dropout=1.5), r"dropout must be a number in \[0, 1\)"),
    (lambda: LSTMCell(4, recurrent_dropout=-0.1), "recurrent_dropout must be a number"),
    (lambda: SimpleRNNCell(4, activation="tanhh"), "'tanhh' is not a known activation"),
    (lambda: LSTMCell(4, recurrent_activation="sigmoidd"), "recurrent_activation="),
])
def test_cell_argument_errors(make, match):
    with pytest.raises(ConfigError, match=match):
        make()

