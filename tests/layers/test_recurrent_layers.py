"""Recurrent layers: gradients, fused == loop, Keras semantics, dropout, configs, errors."""

from __future__ import annotations

import json

import pytest
import torch
from torch.autograd import gradcheck
from torch.func import functional_call

import seqnets
from seqnets.errors import ConfigError, ShapeError
from seqnets.layers import (
    GRU,
    LSTM,
    RNN,
    Bidirectional,
    Cell,
    Dense,
    GRUCell,
    LNSimpleRNNCell,
    LSTMCell,
    PeepholeLSTMCell,
    SimpleRNN,
    SimpleRNNCell,
    deserialize,
    serialize,
)
from seqnets.layers.ops.dispatch import recurrent_path

IN, U = 2, 3


def randomise(module: torch.nn.Module, seed: int = 0, scale: float = 0.6) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * scale)


def gradcheck_module(module, x, initial_state=()):
    """gradcheck of ``module(x[, initial_state])`` w.r.t. x, the states and every parameter."""
    module = module.double()
    names = [n for n, _ in module.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_(True) for _, p in module.named_parameters())
    assert params, "module has no parameters to check"
    n_states = len(initial_state)

    def f(x, *rest):
        states, ps = rest[:n_states], rest[n_states:]
        kwargs = {"initial_state": states} if n_states else {}
        out = functional_call(module, dict(zip(names, ps, strict=True)), (x,), kwargs)
        return out if isinstance(out, tuple) else (out,)

    return gradcheck(f, (x, *initial_state, *params), eps=1e-6, atol=1e-6)


def make_x(batch=2, time=5, features=IN, seed=0, dtype=torch.float64, requires_grad=True):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, time, features, generator=g, dtype=dtype,
                       requires_grad=requires_grad)


# --------------------------------------------------------------------------------------
# gradcheck (float64) for every recurrent layer and both paths
# --------------------------------------------------------------------------------------
GRAD_LAYERS = {
    "simple_rnn_fused": lambda: SimpleRNN(U, return_sequences=True, implementation="fused"),
    "simple_rnn_relu_fused": lambda: SimpleRNN(U, activation="relu", return_sequences=True,
                                               implementation="fused"),
    "simple_rnn_compiled": lambda: SimpleRNN(U, return_sequences=True,
                                             implementation="compiled"),
    "simple_rnn_relu_compiled": lambda: SimpleRNN(U, activation="relu", return_sequences=True,
                                                  implementation="compiled"),
    "simple_rnn_loop": lambda: SimpleRNN(U, return_sequences=True, implementation="loop"),
    "lstm_fused": lambda: LSTM(U, return_sequences=True, implementation="fused"),
    "lstm_compiled": lambda: LSTM(U, return_sequences=True, implementation="compiled"),
    "lstm_loop": lambda: LSTM(U, return_sequences=True, implementation="loop"),
    "gru_fused": lambda: GRU(U, return_sequences=True, implementation="fused"),
    "gru_compiled": lambda: GRU(U, return_sequences=True, implementation="compiled"),
    "gru_loop": lambda: GRU(U, return_sequences=True, implementation="loop"),
    "gru_reset_before": lambda: GRU(U, reset_after=False, return_sequences=True),
    "rnn_ln_cell_loop": lambda: RNN(LNSimpleRNNCell(U), return_sequences=True,
                                    implementation="loop"),
    "rnn_ln_cell_compiled": lambda: RNN(LNSimpleRNNCell(U), return_sequences=True,
                                        implementation="compiled"),
    "rnn_peephole_cell_loop": lambda: RNN(PeepholeLSTMCell(U), return_sequences=True,
                                          implementation="loop"),
    "rnn_peephole_cell_compiled": lambda: RNN(PeepholeLSTMCell(U), return_sequences=True,
                                              implementation="compiled"),
    "bidirectional_lstm": lambda: Bidirectional(LSTM(U, return_sequences=True)),
    "bidirectional_gru_last": lambda: Bidirectional(GRU(U), merge_mode="sum"),
}


@pytest.mark.parametrize("kind", sorted(GRAD_LAYERS))
def test_layer_gradcheck(kind):
    layer = GRAD_LAYERS[kind]()
    layer.build((None, IN))
    layer.double()
    randomise(layer, seed=1)
    inner = layer.forward_layer if isinstance(layer, Bidirectional) else layer
    expected = next((p for p in ("fused", "compiled", "loop") if kind.endswith(p)), None)
    if expected is not None:
        assert recurrent_path(inner, make_x(), None) == expected
    assert gradcheck_module(layer, make_x())


@pytest.mark.parametrize("kind", ["lstm_fused", "lstm_compiled", "gru_loop", "gru_compiled",
                                  "rnn_peephole_cell_loop", "rnn_peephole_cell_compiled",
                                  "rnn_ln_cell_compiled", "simple_rnn_compiled"])
def test_layer_gradcheck_with_initial_state_and_return_state(kind):
    layer = GRAD_LAYERS[kind]()
    layer.return_state = True
    layer.build((None, IN))
    layer.double()
    randomise(layer, seed=2)
    g = torch.Generator().manual_seed(3)
    init = tuple(torch.randn(2, U, generator=g, dtype=torch.float64, requires_grad=True)
                 for _ in layer._state_sizes())
    assert gradcheck_module(layer, make_x(seed=4), init)


# --------------------------------------------------------------------------------------
# fused kernel == cell loop (outputs and gradients)
# --------------------------------------------------------------------------------------
FUSABLE = {
    "simple_rnn_tanh": lambda **kw: SimpleRNN(U + 1, **kw),
    "simple_rnn_relu": lambda **kw: SimpleRNN(U + 1, activation="relu", **kw),
    "lstm": lambda **kw: LSTM(U + 1, **kw),
    "gru": lambda **kw: GRU(U + 1, **kw),
    # no biases: the fused kernels run without their bias arguments
    "simple_rnn_no_bias": lambda **kw: SimpleRNN(U + 1, use_bias=False, **kw),
    "lstm_no_bias": lambda **kw: LSTM(U + 1, use_bias=False, **kw),
    "gru_no_bias": lambda **kw: GRU(U + 1, use_bias=False, **kw),
}


def _run_with_grads(layer, x0, init0, out_weights_seed=0):
    x = x0.clone().requires_grad_(True)
    init = None if init0 is None else tuple(s.clone().requires_grad_(True) for s in init0)
    out = layer(x) if init is None else layer(x, initial_state=init)
    outs = out if isinstance(out, tuple) else (out,)
    g = torch.Generator().manual_seed(out_weights_seed)
    loss = sum((o * torch.randn(o.shape, generator=g)).sum() for o in outs)
    params = [p for _, p in layer.named_parameters()]
    wrt = [x, *(init or ()), *params]
    grads = torch.autograd.grad(loss, wrt)
    return [o.detach() for o in outs], grads


@pytest.mark.parametrize("initial_state", [False, True], ids=["zeros", "given_state"])
@pytest.mark.parametrize("return_state", [False, True], ids=["", "return_state"])
@pytest.mark.parametrize("go_backwards", [False, True], ids=["", "backwards"])
@pytest.mark.parametrize("return_sequences", [False, True], ids=["last", "seq"])
@pytest.mark.parametrize("path", ["fused", "compiled"])
@pytest.mark.parametrize("kind", sorted(FUSABLE))
def test_fast_paths_equal_loop(kind, path, return_sequences, go_backwards, return_state,
                               initial_state, monkeypatch):
    torch.manual_seed(0)
    layer = FUSABLE[kind](return_sequences=return_sequences, go_backwards=go_backwards,
                          return_state=return_state, input_size=IN, implementation=path)
    randomise(layer, seed=5, scale=0.5)
    x0 = make_x(batch=3, time=6, seed=6, dtype=torch.float32, requires_grad=False)
    init0 = None
    if initial_state:
        g = torch.Generator().manual_seed(7)
        init0 = tuple(torch.randn(3, U + 1, generator=g) for _ in layer._state_sizes())

    calls = []
    for method in ("_forward_fused", "_forward_loop"):
        original = getattr(layer, method)

        def spy(*args, _original=original, _method=method):
            calls.append(_method)
            return _original(*args)

        monkeypatch.setattr(layer, method, spy)
    if kind == "gru_no_bias" and path == "compiled":  # the compiled GRU needs its biases
        assert recurrent_path(layer, x0, None) == "loop"
        return
    assert recurrent_path(layer, x0, None) == path
    out_f, grads_f = _run_with_grads(layer, x0, init0)
    assert calls == (["_forward_fused"] if path == "fused" else []), calls
    layer.implementation = "loop"
    out_l, grads_l = _run_with_grads(layer, x0, init0)
    assert calls[-1] == "_forward_loop", "implementation='loop' did not take the cell loop"

    assert len(out_f) == len(out_l) == (1 + len(layer._state_sizes()) if return_state else 1)
    for a, b in zip(out_f, out_l, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    names = ["x", *(f"init{i}" for i in range(len(init0 or ()))),
             *(n for n, _ in layer.named_parameters())]
    for name, a, b in zip(names, grads_f, grads_l, strict=True):
        # torch's float32 tolerance: weight gradients of magnitude ~5 sum many products,
        # in another order on each path (relative differences ~2e-6)
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1.3e-6,
                                   msg=lambda m, n=name: f"{n}: {m}")


def test_fused_equals_loop_in_twin_loaded_from_state_dict():
    lstm = LSTM(4, return_sequences=True, input_size=IN)
    randomise(lstm, seed=8)
    twin = deserialize({**serialize(lstm),
                        "config": {**lstm.get_config(), "implementation": "loop"}})
    twin.build((None, IN))
    twin.load_state_dict(lstm.state_dict())
    x = make_x(batch=3, time=8, dtype=torch.float32, requires_grad=False)
    with torch.no_grad():
        torch.testing.assert_close(lstm(x), twin(x), atol=1e-5, rtol=0)


def test_non_fusable_configurations_use_the_loop():
    assert not SimpleRNN(3, activation="sigmoid").has_fused_kernel()
    assert not LSTM(3, recurrent_activation="hard_sigmoid").has_fused_kernel()
    assert not GRU(3, reset_after=False).has_fused_kernel()
    assert not GRU(3, activation="relu").has_fused_kernel()
    # and they still compute the cell's equations: compare with RNN(cell) on the same weights
    layer = GRU(3, reset_after=False, return_sequences=True, input_size=IN)
    rnn = RNN(GRUCell(3, reset_after=False, input_size=IN), return_sequences=True)
    rnn.cell.load_state_dict(layer.cell.state_dict())
    x = make_x(dtype=torch.float32, requires_grad=False)
    with torch.no_grad():
        torch.testing.assert_close(layer(x), rnn(x), atol=0, rtol=0)


# --------------------------------------------------------------------------------------
# Keras semantics: shapes, go_backwards, return_state, initial state, Bidirectional
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda **k: SimpleRNN(4, **k), lambda **k: LSTM(4, **k),
                                  lambda **k: GRU(4, **k),
                                  lambda **k: RNN(PeepholeLSTMCell(4), **k)])
def test_output_shapes_and_return_state(make):
    x = make_x(batch=3, time=6, dtype=torch.float32, requires_grad=False)
    assert make()(x).shape == (3, 4)
    assert make(return_sequences=True)(x).shape == (3, 6, 4)
    layer = make(return_sequences=True, return_state=True)
    out, *states = layer(x)
    assert len(states) == len(layer._state_sizes())
    torch.testing.assert_close(states[0], out[:, -1])  # h_T is the last output
    assert make(return_sequences=True).compute_output_shape((6, IN)) == (6, 4)
    assert make().compute_output_shape((None, IN)) == (4,)


@pytest.mark.parametrize("make", [lambda **k: SimpleRNN(4, **k), lambda **k: LSTM(4, **k),
                                  lambda **k: GRU(4, implementation="loop", **k)])
def test_go_backwards_processes_reversed_input_and_keeps_processing_order(make):
    fwd = make(return_sequences=True, input_size=IN)
    bwd = make(return_sequences=True, go_backwards=True, input_size=IN)
    bwd.load_state_dict(fwd.state_dict())
    x = make_x(batch=2, time=5, dtype=torch.float32, requires_grad=False)
    with torch.no_grad():
        torch.testing.assert_close(bwd(x), fwd(x.flip(1)))  # Keras: not re-reversed
        last = make(go_backwards=True, input_size=IN)
        last.load_state_dict(fwd.state_dict())
        torch.testing.assert_close(last(x), fwd(x.flip(1))[:, -1])


def test_initial_state_is_used_and_defaults_to_zeros():
    layer = LSTM(3, return_sequences=True, input_size=IN)
    x = make_x(dtype=torch.float32, requires_grad=False)
    zeros = (torch.zeros(2, 3), torch.zeros(2, 3))
    with torch.no_grad():
        torch.testing.assert_close(layer(x), layer(x, initial_state=zeros), atol=0, rtol=0)
        other = layer(x, initial_state=(torch.ones(2, 3), torch.ones(2, 3)))
    assert not torch.allclose(other, layer(x))
    simple = SimpleRNN(3, input_size=IN)
    with torch.no_grad():  # a single tensor is accepted for one-state cells
        h0 = torch.randn(2, 3)
        torch.testing.assert_close(simple(x, initial_state=h0), simple(x, initial_state=[h0]))


@pytest.mark.parametrize("merge_mode", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("return_sequences", [False, True])
def test_bidirectional_matches_two_manual_directions(merge_mode, return_sequences):
    torch.manual_seed(1)
    inner = GRU(3, return_sequences=return_sequences, input_size=IN)
    bi = Bidirectional(inner, merge_mode=merge_mode)
    randomise(bi, seed=9)
    # independent weights for the two directions
    assert bi.backward_layer.go_backwards and not bi.forward_layer.go_backwards
    assert not torch.equal(bi.forward_layer.cell.weight_ih, bi.backward_layer.cell.weight_ih)
    ref_b = GRU(3, return_sequences=True, input_size=IN)
    ref_b.load_state_dict(bi.backward_layer.state_dict())
    x = make_x(batch=2, time=5, dtype=torch.float32, requires_grad=False)
    with torch.no_grad():
        y_f = bi.forward_layer(x)
        y_b = ref_b(x.flip(1))  # the reversed sequence, processed forwards
        y_b = y_b.flip(1) if return_sequences else y_b[:, -1]
        out = bi(x)
    expected = {"concat": lambda: torch.cat([y_f, y_b], -1), "sum": lambda: y_f + y_b,
                "mul": lambda: y_f * y_b, "ave": lambda: (y_f + y_b) / 2,
                None: lambda: (y_f, y_b)}[merge_mode]()
    if merge_mode is None:
        torch.testing.assert_close(out[0], expected[0])
        torch.testing.assert_close(out[1], expected[1])
    else:
        torch.testing.assert_close(out, expected)
        shape = bi.compute_output_shape((5, IN))
        assert out.shape[1:] == shape


# --------------------------------------------------------------------------------------
# dropout: one mask per sequence, reused at every step; none in eval mode
# --------------------------------------------------------------------------------------
DROPOUT_LAYERS = {
    "simple_rnn": lambda **k: SimpleRNN(4, **k),
    "lstm": lambda **k: LSTM(4, **k),
    "gru": lambda **k: GRU(4, **k),
    "gru_reset_before": lambda **k: GRU(4, reset_after=False, **k),
    "ln_rnn": lambda **k: RNN(LNSimpleRNNCell(4, **{a: k.pop(a) for a in list(k)
                                                     if "dropout" in a}), **k),
    "peephole": lambda **k: RNN(PeepholeLSTMCell(4, **{a: k.pop(a) for a in list(k)
                                                        if "dropout" in a}), **k),
}


@pytest.mark.parametrize("kind", sorted(DROPOUT_LAYERS))
def test_input_dropout_mask_is_the_same_at_every_step(kind):
    """A dropped input feature has zero gradient at every step; kept ones at none."""
    torch.manual_seed(10)
    features = 16
    layer = DROPOUT_LAYERS[kind](dropout=0.5, return_sequences=True, input_size=features)
    layer.train()
    x = torch.randn(6, 5, features, requires_grad=True)
    layer(x).sum().backward()
    dropped = x.grad == 0  # [B, T, F]
    assert torch.equal(dropped, dropped[:, :1].expand_as(dropped)), "mask changes over time"
    per_sequence = dropped[:, 0]
    assert 0 < per_sequence.sum() < per_sequence.numel()
    assert not torch.equal(per_sequence, per_sequence[:1].expand_as(per_sequence)), \
        "every sequence got the same mask"


@pytest.mark.parametrize("kind", sorted(set(DROPOUT_LAYERS) - {"gru_reset_before"}))
def test_compiled_path_applies_the_same_dropout_as_the_loop(kind):
    """Training mode, input and recurrent dropout: the same seed draws the same masks, and
    the compiled loop then gives the reference loop's outputs and gradients."""
    layer = DROPOUT_LAYERS[kind](dropout=0.3, recurrent_dropout=0.5, return_sequences=True,
                                 input_size=3, implementation="compiled")
    randomise(layer, seed=3, scale=0.5)
    layer.train()
    x0 = make_x(batch=5, time=7, features=3, seed=4, dtype=torch.float32, requires_grad=False)
    results = []
    for path in ("compiled", "loop"):
        layer.implementation = path
        torch.manual_seed(21)
        results.append(_run_with_grads(layer, x0, None))
    (out_c, grads_c), (out_l, grads_l) = results
    torch.testing.assert_close(out_c[0], out_l[0], atol=1e-5, rtol=0)
    for a, b in zip(grads_c, grads_l, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


def test_recurrent_dropout_mask_is_the_same_at_every_step_black_box():
    """h_t = x_t + m ⊙ h_{t-1} with identity weights: h_t = m^t if m is reused."""
    torch.manual_seed(11)
    units = 16
    layer = SimpleRNN(units, activation="linear", recurrent_dropout=0.5, return_sequences=True,
                      input_size=units)
    with torch.no_grad():
        layer.cell.weight_ih.copy_(torch.eye(units))
        layer.cell.weight_hh.copy_(torch.eye(units))
        layer.cell.bias.zero_()
    x = torch.zeros(4, 5, units)
    x[:, 0] = 1.0
    layer.train()
    with torch.no_grad():
        out = layer(x)
    mask = out[:, 1]
    assert set(mask.unique().tolist()) == {0.0, 2.0}  # inverted dropout: kept units x 1/(1-p)
    for t in range(2, 5):
        torch.testing.assert_close(out[:, t], mask ** t)
    assert not torch.equal(mask, mask[:1].expand_as(mask))  # one mask per sequence


@pytest.mark.parametrize("kind", sorted(DROPOUT_LAYERS))
def test_recurrent_dropout_mask_reused_at_every_step(kind, monkeypatch):
    torch.manual_seed(12)
    layer = DROPOUT_LAYERS[kind](recurrent_dropout=0.5, return_sequences=True, input_size=3,
                                 implementation="loop")
    layer.train()
    seen = []
    original = type(layer.cell).step

    def spy(self, p_t, states, recurrent_mask=None):
        seen.append(recurrent_mask)
        return original(self, p_t, states, recurrent_mask)

    monkeypatch.setattr(type(layer.cell), "step", spy)
    layer(torch.randn(5, 4, 3))
    assert len(seen) == 4
    assert seen[0] is not None and seen[0].shape == (5, 4)
    for m in seen[1:]:
        assert torch.equal(m, seen[0])
    assert set(seen[0].unique().tolist()) == {0.0, 2.0}
    layer(torch.randn(5, 4, 3))
    assert not torch.equal(seen[4], seen[0])  # a fresh mask for the next batch


@pytest.mark.parametrize("kind", sorted(DROPOUT_LAYERS))
def test_dropout_is_off_and_deterministic_in_eval_mode(kind):
    torch.manual_seed(13)
    layer = DROPOUT_LAYERS[kind](dropout=0.4, recurrent_dropout=0.4, return_sequences=True,
                                 input_size=3)
    plain = DROPOUT_LAYERS[kind](return_sequences=True, input_size=3)
    plain.load_state_dict(layer.state_dict())
    x = torch.randn(4, 5, 3)
    layer.train()
    with torch.no_grad():
        a, b = layer(x), layer(x)
    assert not torch.allclose(a, b), "training mode should sample dropout masks"
    layer.eval()
    with torch.no_grad():
        c, d = layer(x), layer(x)
        torch.testing.assert_close(c, d, atol=0, rtol=0)
        torch.testing.assert_close(c, plain(x))


# --------------------------------------------------------------------------------------
# configs
# --------------------------------------------------------------------------------------
@seqnets.register
class ScaledTanhCell(Cell):
    """A user's registered cell (only weights and forward, plus an extra argument)."""

    def __init__(self, units, scale=1.0, **kwargs):
        super().__init__(units, **kwargs)
        self.scale = float(scale)

    def _create_weights(self, input_size):
        self.w = torch.nn.Parameter(torch.randn(self.units, input_size + self.units) * 0.4)

    def forward(self, x_t, states):
        h = torch.tanh(self.scale * torch.cat([x_t, states[0]], -1) @ self.w.T)
        return h, (h,)

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


class UnregisteredCell(ScaledTanhCell):
    pass


ROUND_TRIP = {
    "simple_rnn": lambda: SimpleRNN(3, activation="relu", return_sequences=True,
                                    go_backwards=True, dropout=0.1, name="enc"),
    "lstm": lambda: LSTM(3, unit_forget_bias=False, return_state=True, implementation="loop"),
    "gru": lambda: GRU(3, reset_after=False, recurrent_dropout=0.2, return_sequences=True),
    "rnn_simple_cell": lambda: RNN(SimpleRNNCell(3, use_bias=False), return_sequences=True),
    "rnn_ln_cell": lambda: RNN(LNSimpleRNNCell(3, epsilon=1e-2), return_sequences=True),
    "rnn_lstm_cell": lambda: RNN(LSTMCell(3), return_state=True),
    "rnn_peephole_cell": lambda: RNN(PeepholeLSTMCell(3), go_backwards=True),
    "rnn_gru_cell": lambda: RNN(GRUCell(3)),
    "rnn_user_cell": lambda: RNN(ScaledTanhCell(3, scale=0.5), return_sequences=True),
    "bidirectional": lambda: Bidirectional(LSTM(3, return_sequences=True), merge_mode="ave"),
}


@pytest.mark.parametrize("kind", sorted(ROUND_TRIP))
def test_config_round_trip(kind):
    torch.manual_seed(14)
    layer = ROUND_TRIP[kind]()
    spec = serialize(layer)
    text = json.dumps(spec)  # plain JSON
    clone = deserialize(json.loads(text))
    assert type(clone) is type(layer)
    assert serialize(clone) == spec
    x = torch.randn(2, 5, IN)
    layer.eval()
    clone.eval()
    layer(x)  # build both
    clone(x)
    clone.load_state_dict(layer.state_dict())
    with torch.no_grad():
        a, b = layer(x), clone(x)
    for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,),
                    strict=True):
        torch.testing.assert_close(u, v, atol=0, rtol=0)


def test_unregistered_cell_gives_clear_config_error():
    layer = RNN(UnregisteredCell(3))
    layer(torch.randn(1, 2, 2))  # it runs...
    with pytest.raises(ConfigError, match=r"UnregisteredCell.*@seqnets.register"):
        serialize(layer)  # ...but cannot be saved
    spec = serialize(RNN(ScaledTanhCell(3)))
    spec["config"]["cell"]["class_name"] = "NoSuchCell"
    with pytest.raises(ConfigError, match=r"unknown layer class 'NoSuchCell'"):
        deserialize(spec)


# --------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, match", [
    (lambda: SimpleRNN(0), "units must be a positive integer, got 0"),
    (lambda: LSTM(-2), "units must be a positive integer, got -2"),
    (lambda: GRU(4, dropout=1.5), r"dropout must be a number in \[0, 1\), got 1.5"),
    (lambda: SimpleRNN(4, recurrent_dropout=1.0), r"recurrent_dropout must be a number"),
    (lambda: SimpleRNN(4, activation="tanhh"), "'tanhh' is not a known activation"),
    (lambda: LSTM(4, implementation="cudnn"), "implementation must be one of"),
    (lambda: RNN(Dense(3)), "RNN needs a cell with a 'state_size' attribute"),
    (lambda: RNN("lstm"), "RNN needs a cell"),
    (lambda: Bidirectional(Dense(3)), "Bidirectional wraps a recurrent layer, got Dense"),
    (lambda: Bidirectional(LSTMCell(3)), "Bidirectional wraps a recurrent layer"),
    (lambda: Bidirectional(LSTM(3, return_state=True)), "return_state"),
    (lambda: Bidirectional(LSTM(3), merge_mode="max"), "merge_mode must be one of"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ConfigError, match=match):
        make()


def test_rnn_on_2d_input():
    with pytest.raises(ShapeError, match=r"expects 3-D input \(\[batch, time, features\]\)"):
        SimpleRNN(3)(torch.randn(4, 2))  # unbuilt: caught while building
    built = SimpleRNN(3, input_size=2)
    with pytest.raises(ShapeError, match=r"expects \[batch, time, features\].*\(4, 2\)"):
        built(torch.randn(4, 2))


def test_wrong_feature_count_after_build():
    layer = LSTM(3, input_size=2)
    with pytest.raises(ShapeError, match="built for 2 input features, got 5"):
        layer(torch.randn(4, 6, 5))
    layer = RNN(GRUCell(3))
    layer(torch.randn(1, 2, 4))
    with pytest.raises(ShapeError, match="built for 4 input features, got 3"):
        layer(torch.randn(1, 2, 3))


@pytest.mark.parametrize("make, init, match", [
    (lambda: SimpleRNN(3, input_size=2), torch.zeros(4, 5), r"initial_state shapes \[\(4, 5\)\]"),
    (lambda: SimpleRNN(3, input_size=2), torch.zeros(3), "do not match the cell's"),
    (lambda: LSTM(3, input_size=2), torch.zeros(4, 3), r"do not match the cell's \[\(4, 3\), "),
    (lambda: GRU(3, input_size=2), (torch.zeros(2, 3),), r"\[\(2, 3\)\] do not match"),
])
def test_initial_state_with_wrong_shape(make, init, match):
    with pytest.raises(ShapeError, match=match):
        make()(torch.randn(4, 6, 2), initial_state=init)


def test_empty_sequence_is_refused():
    with pytest.raises(ShapeError, match="length 0"):
        SimpleRNN(3, input_size=2)(torch.randn(4, 0, 2))


def test_return_state_cannot_feed_a_sequential_model():
    with pytest.raises(ShapeError, match="return_state=True"):
        seqnets.Sequential([LSTM(3, return_state=True), Dense(1)], input_size=2)


@pytest.mark.parametrize("make", [lambda: SimpleRNN(3, input_size=2),
                                  lambda: LSTM(3, input_size=2)])
def test_the_second_bias_of_the_fused_kernels_is_a_fixed_zero_outside_the_state_dict(make):
    layer = make()
    assert "_zero_recurrent_bias" not in layer.state_dict()
    assert not layer._zero_recurrent_bias.requires_grad
    layer(torch.randn(2, 4, 2)).sum().backward()
    assert torch.count_nonzero(layer._zero_recurrent_bias) == 0
    assert [w is v for w, v in zip(layer._fused_weights(), layer._fused_weights(), strict=True)] \
        == [True] * 4  # the same tensors at every call: on CUDA they stay in one flat block
