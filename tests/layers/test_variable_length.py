"""Variable length: padding never changes an output.

In eval mode a sequence's output alone equals its output inside a batch padded to 4x the
batch's longest length (with garbage in the padding, which layers must ignore), for every
recurrent path the dispatcher can pick here, Bidirectional, strided / dilated Conv1D with
BatchNormalization, global pooling, WaveNet and the textbook's sketch classifier; plus
hand-computed references (a SimpleRNN's last valid state, BatchNormalization's valid-step
statistics, pooling), float64 gradchecks of the masked paths, and the errors.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.autograd import gradcheck

import seqnets as sn
from seqnets.errors import ConfigError, DataError, ShapeError
from seqnets.layers import (
    GRU,
    LSTM,
    RNN,
    Activation,
    BatchNormalization,
    Bidirectional,
    Conv1D,
    Dense,
    Dropout,
    Flatten,
    GlobalAveragePooling1D,
    GlobalMaxPooling1D,
    GRUCell,
    LayerNormalization,
    LNSimpleRNNCell,
    PeepholeLSTMCell,
    RepeatVector,
    SimpleRNN,
    TimeDistributed,
    WaveNet,
    deserialize,
    serialize,
)
from seqnets.layers.conv import conv_output_length
from seqnets.layers.ops import dispatch, native
from seqnets.training import pad_sequences

IN, U = 3, 4
LENGTHS = (5, 2, 7, 1)
GARBAGE = 37.0  # what the padding holds: layers must never read it


def sequences(lengths=LENGTHS, channels=IN, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(n, channels, generator=g, dtype=dtype) for n in lengths]


def padded(seqs, factor=4, fill=GARBAGE):
    """The sequences in one batch of ``factor`` x the longest length, ``fill`` after each."""
    steps = factor * max(len(s) for s in seqs)
    x = torch.full((len(seqs), steps, *seqs[0].shape[1:]), fill, dtype=seqs[0].dtype)
    for i, s in enumerate(seqs):
        x[i, :len(s)] = s
    return x, torch.tensor([len(s) for s in seqs])


def randomise(module, seed=0, scale=0.5):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * scale)
        for m in module.modules():
            if isinstance(m, BatchNormalization):
                m.running_mean.uniform_(-1.0, 1.0, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)


def as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


def assert_invariant(model, seqs, atol=1e-5, factor=4, fill=GARBAGE):
    """Each sequence's outputs alone equal its outputs in the padded batch; zeros after."""
    model.eval()
    x, lengths = padded(seqs, factor, fill)
    with torch.no_grad():
        batch = as_tuple(model(x, lengths=lengths))
        out_lengths = model.output_lengths(lengths)
        for i, s in enumerate(seqs):
            alone = as_tuple(model(s[None]))
            assert len(alone) == len(batch)
            for a, b in zip(alone, batch, strict=True):
                a, b = a[0], b[i]
                if b.dim() == 2 and out_lengths is not None and a.shape[0] != b.shape[0]:
                    n = int(out_lengths[i])
                    assert a.shape[0] == n
                    assert torch.all(b[n:] == 0), "padded steps must be zeros"
                    b = b[:n]
                assert a.shape == b.shape
                torch.testing.assert_close(b, a, atol=atol, rtol=0)


# --------------------------------------------------------------------------------------
# recurrent layers: every path the dispatcher can pick on CPU
# --------------------------------------------------------------------------------------
def backends():
    """The compiled loops' backends here: native (where it builds) and numba."""
    out = []
    if native.library() is not None:
        out.append("native")
    if dispatch.HAVE_NUMBA:
        out.append("numba")
    return out


@pytest.fixture(params=["fused", "loop", *(f"compiled-{b}" for b in backends())])
def implementation(request, monkeypatch):
    impl = request.param
    if impl == "compiled-numba":
        monkeypatch.setenv("SEQNETS_NATIVE", "0")  # the dispatcher then picks numba
    return impl.split("-")[0]


LAYERS = {
    "simple_rnn": lambda **kw: SimpleRNN(U, **kw),
    "simple_rnn_relu": lambda **kw: SimpleRNN(U, activation="relu", **kw),
    "lstm": lambda **kw: LSTM(U, **kw),
    "gru": lambda **kw: GRU(U, **kw),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_recurrent_layers_ignore_padding(name, implementation, return_sequences, go_backwards):
    layer = LAYERS[name](return_sequences=return_sequences, return_state=True,
                         go_backwards=go_backwards, implementation=implementation,
                         input_size=IN)
    randomise(layer)
    x, lengths = padded(sequences())
    path = dispatch.recurrent_path(layer, x, None, lengths)
    if implementation == "compiled" and name == "simple_rnn_relu":
        assert path == "loop"  # unbounded states: the compiled loops would run the padding
    elif implementation == "compiled" and dispatch.loop_backend(layer.compiled_loop()):
        assert path == "compiled"
    else:
        assert path == implementation
    assert_invariant(layer, sequences())


def test_the_automatic_choice_with_lengths():
    x, lengths = padded(sequences())
    relu = SimpleRNN(U, activation="relu", input_size=IN)
    assert dispatch.recurrent_path(relu, x, None, lengths) == "fused"  # packed sequences
    tanh = SimpleRNN(U, input_size=IN)
    expected = "compiled" if dispatch.loop_backend("simple_rnn") else "fused"
    assert dispatch.recurrent_path(tanh, x, None, lengths) == expected
    assert dispatch.recurrent_path(tanh, x, None) == expected  # without lengths: as before


@pytest.mark.parametrize("cell", [
    lambda: LNSimpleRNNCell(U), lambda: PeepholeLSTMCell(U), lambda: GRUCell(U, reset_after=False),
])
def test_the_generic_rnn_over_cells(cell):
    layer = RNN(cell(), return_sequences=True, return_state=True, input_size=IN)
    randomise(layer)
    assert_invariant(layer, sequences())


class ForwardOnlyCell(nn.Module):
    """A user's cell with only forward(x_t, states): the cell loop runs it."""

    state_size = (U,)
    output_size = U

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(IN + U, U)

    def forward(self, x, states):
        h = torch.tanh(self.linear(torch.cat([x, states[0]], dim=-1)))
        return h, (h,)


def test_a_users_cell_skips_padding_too():
    layer = RNN(ForwardOnlyCell(), return_state=True)
    assert_invariant(layer, sequences())


def test_the_last_valid_state_by_hand():
    """SimpleRNN's output and state: h_t = tanh(x_t W_x + h_{t-1} W_h + b) over the valid
    steps only, computed step by step here."""
    layer = SimpleRNN(U, return_state=True, input_size=IN, implementation="loop")
    randomise(layer)
    c = layer.cell
    x, lengths = padded(sequences())
    out, state = layer(x, lengths=lengths)
    for i, n in enumerate(lengths.tolist()):
        h = torch.zeros(U)
        for t in range(n):
            h = torch.tanh(c.weight_ih @ x[i, t] + c.weight_hh @ h + c.bias)
        torch.testing.assert_close(out[i], h, atol=1e-6, rtol=0)
        torch.testing.assert_close(state[i], h, atol=1e-6, rtol=0)


def test_initial_states_follow_their_sequence_through_packing():
    layer = LSTM(U, return_state=True, implementation="fused", input_size=IN).eval()
    randomise(layer)
    seqs = sequences()
    x, lengths = padded(seqs)
    g = torch.Generator().manual_seed(3)
    h0, c0 = torch.randn(len(seqs), U, generator=g), torch.randn(len(seqs), U, generator=g)
    out, h, c = layer(x, initial_state=(h0, c0), lengths=lengths)
    for i, s in enumerate(seqs):
        a = layer(s[None], initial_state=(h0[i:i + 1], c0[i:i + 1]))
        for got, want in zip((out, h, c), a, strict=True):
            torch.testing.assert_close(got[i], want[0], atol=1e-5, rtol=0)


@pytest.mark.parametrize("layer", ["lstm_loop", "lstm_compiled", "gru_compiled",
                                   "simple_rnn_fused"])
def test_gradcheck_float64_of_the_masked_paths(layer):
    make = {"lstm_loop": lambda: LSTM(2, return_sequences=True, return_state=True,
                                      implementation="loop", input_size=2),
            "lstm_compiled": lambda: LSTM(2, return_state=True, go_backwards=True,
                                          implementation="compiled", input_size=2),
            "gru_compiled": lambda: GRU(2, return_state=True, implementation="compiled",
                                        input_size=2),
            "simple_rnn_fused": lambda: SimpleRNN(2, return_sequences=True, go_backwards=True,
                                                  implementation="fused", input_size=2)}[layer]
    module = make().double()
    randomise(module)
    lengths = torch.tensor([3, 1, 5])
    x = torch.randn(3, 6, 2, dtype=torch.float64, requires_grad=True)
    names = [n for n, _ in module.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for _, p in module.named_parameters()]

    def f(x, *ps):
        out = torch.func.functional_call(module, dict(zip(names, ps, strict=True)), (x,),
                                         {"lengths": lengths})
        return as_tuple(out)

    assert gradcheck(f, (x, *params), eps=1e-6, atol=1e-6)
    # the padding gets no gradient
    sum(o.sum() for o in f(x, *params)).backward()
    pad = ~(torch.arange(6) < lengths[:, None])
    assert torch.all(x.grad[pad] == 0)
    assert torch.any(x.grad[~pad] != 0)


@pytest.mark.parametrize("rnn", [LSTM, GRU])
@pytest.mark.parametrize("return_sequences", [False, True])
@pytest.mark.parametrize("merge_mode", ["concat", "ave"])
def test_bidirectional_reverses_within_each_length(rnn, return_sequences, merge_mode):
    layer = Bidirectional(rnn(U, return_sequences=return_sequences, input_size=IN),
                          merge_mode=merge_mode)
    randomise(layer)
    assert_invariant(layer, sequences())


def test_bidirectional_backward_half_starts_at_the_last_valid_step():
    """Without return_sequences the backward half's output is its state after reading the
    sequence from its last valid step down to step 0: the forward layer's on the reversed
    sequence."""
    layer = Bidirectional(GRU(U, input_size=IN), merge_mode=None).eval()
    randomise(layer)
    seqs = sequences()
    x, lengths = padded(seqs)
    _, y_b = layer(x, lengths=lengths)
    back = layer.backward_layer
    for i, s in enumerate(seqs):
        reference = GRU(U, input_size=IN)
        reference.load_state_dict(back.state_dict())
        torch.testing.assert_close(y_b[i], reference(s.flip(0)[None])[0], atol=1e-5, rtol=0)


# --------------------------------------------------------------------------------------
# convolutions, normalisation, pooling
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("padding", ["valid", "same", "causal"])
@pytest.mark.parametrize("strides,dilation", [(1, 1), (2, 1), (3, 1), (1, 2), (2, 3)])
@pytest.mark.parametrize("kernel_size", [2, 3, 4])
@pytest.mark.parametrize("groups", [1, 3])  # 3 groups: F.conv1d runs, not the taps
def test_strided_and_dilated_conv_with_batch_norm(padding, strides, dilation, kernel_size,
                                                  groups):
    conv = Conv1D(6, kernel_size, strides=strides, dilation_rate=dilation, padding=padding,
                  activation="relu", groups=groups)
    model = sn.Sequential([conv, BatchNormalization(), Conv1D(5, 2, padding=padding)],
                          input_size=IN, seed=0)
    randomise(model)
    span = dilation * (kernel_size - 1) + 1
    seqs = sequences((span + 11, span + 4, span + 8, span + strides))
    assert_invariant(model, seqs)
    lengths = torch.tensor([len(s) for s in seqs])
    expected = [conv_output_length(conv_output_length(n, kernel_size, strides, padding,
                                                      dilation), 2, 1, padding, 1)
                for n in lengths.tolist()]
    assert model.output_lengths(lengths).tolist() == expected


def test_same_padding_with_strides_pads_each_sequence_by_its_own_rule():
    """TensorFlow's 'same' left padding depends on the length: for k=4, s=3 it is 1 step for
    7 steps (3 in all) but 0 for 6 (1 in all, on the right). In a batch of 7 steps the
    6-step sequence must still start without left padding."""
    conv = Conv1D(1, 4, strides=3, padding="same", use_bias=False, input_size=1)
    with torch.no_grad():
        conv.weight.copy_(torch.tensor([[[1.0, 10.0, 100.0, 1000.0]]]))
    x = torch.arange(1.0, 8.0).view(1, 7, 1).repeat(2, 1, 1)  # steps hold 1..7
    y = conv(x, lengths=torch.tensor([7, 6]))[..., 0]
    assert y[0].tolist() == [0 + 10 * 1 + 100 * 2 + 1000 * 3,  # reads steps -1..2
                             3 + 10 * 4 + 100 * 5 + 1000 * 6,
                             6 + 10 * 7 + 0 + 0]
    assert y[1].tolist() == [1 + 10 * 2 + 100 * 3 + 1000 * 4,  # reads steps 0..3
                             4 + 10 * 5 + 100 * 6 + 0,         # step 6 is padding: zero
                             0]
    assert y[1, :2].tolist() == conv(x[1:, :6])[0, :, 0].tolist()
    assert y[0].tolist() == conv(x[:1])[0, :, 0].tolist()


def test_batch_norm_training_statistics_are_those_of_the_valid_steps():
    bn = BatchNormalization(momentum=0.9, epsilon=1e-3)
    bn.build((None, IN))
    bn.train()
    seqs = sequences()
    x, lengths = padded(seqs)
    y = bn(x, lengths=lengths)
    valid = torch.cat(seqs)  # the valid steps, by hand
    mean, var = valid.mean(0), valid.var(0, unbiased=False)
    n = len(valid)
    torch.testing.assert_close(bn.running_mean, 0.1 * mean)
    torch.testing.assert_close(bn.running_var, 0.9 + 0.1 * var * n / (n - 1))
    start = 0
    for i, s in enumerate(seqs):
        want = (s - mean) / torch.sqrt(var + 1e-3)
        torch.testing.assert_close(y[i, :len(s)], want, atol=1e-5, rtol=0)
        assert torch.all(y[i, len(s):] == 0)
        start += len(s)


def test_time_distributed_runs_its_layer_on_the_valid_steps_only():
    calls = []

    class Rows(nn.Module):
        def forward(self, x):
            calls.append(x.shape[0])
            return x * 2 + 1

    layer = TimeDistributed(Rows())
    seqs = sequences()
    x, lengths = padded(seqs)
    y = layer(x, lengths=lengths)
    assert calls == [sum(LENGTHS)]
    for i, s in enumerate(seqs):
        torch.testing.assert_close(y[i, :len(s)], s * 2 + 1)
        assert torch.all(y[i, len(s):] == 0)
    inner = TimeDistributed(BatchNormalization())
    inner.build((None, IN))
    inner.train()
    inner(x, lengths=lengths)
    torch.testing.assert_close(inner.layer.running_mean, 0.01 * torch.cat(seqs).mean(0))


@pytest.mark.parametrize("keepdims", [False, True])
def test_global_pooling_by_hand(keepdims):
    seqs = sequences()
    x, lengths = padded(seqs)
    avg = GlobalAveragePooling1D(keepdims=keepdims)(x, lengths=lengths)
    top = GlobalMaxPooling1D(keepdims=keepdims)(x, lengths=lengths)
    if keepdims:
        assert avg.shape == top.shape == (len(seqs), 1, IN)
        avg, top = avg[:, 0], top[:, 0]
    for i, s in enumerate(seqs):
        torch.testing.assert_close(avg[i], s.mean(0))
        torch.testing.assert_close(top[i], s.max(0).values)
    full = torch.randn(2, 5, IN)  # without lengths: over every step
    torch.testing.assert_close(GlobalAveragePooling1D()(full), full.mean(1))
    torch.testing.assert_close(GlobalMaxPooling1D()(full), full.amax(1))


@pytest.mark.parametrize("pool", [GlobalAveragePooling1D, GlobalMaxPooling1D])
def test_a_dilated_conv_classifier_with_global_pooling(pool):
    model = sn.Sequential([Conv1D(8, 2, padding="causal", dilation_rate=d, activation="relu")
                           for d in (1, 2, 4)] + [pool(), Dense(3, activation="softmax")],
                          input_size=IN, seed=0)
    assert_invariant(model, sequences())
    assert model.output_lengths(torch.tensor([3, 4])) is None
    assert model.compute_output_shape((None, IN)) == (3,)
    again = deserialize(serialize(model))
    assert [type(m).__name__ for m in again.layers][-2] == pool.__name__


def test_wavenet_and_per_step_layers():
    model = sn.Sequential([WaveNet(blocks=1, layers_per_block=3, channels=4, outputs=5),
                           TimeDistributed(Dense(U)), Dropout(0.3), Activation("tanh"),
                           LayerNormalization(), Dense(U), GRU(U)], input_size=IN, seed=0)
    randomise(model)
    assert_invariant(model, sequences())


def test_the_textbook_sketch_classifier():
    """3 strided Conv1D + BN -> LSTM(128, return_sequences) -> LSTM(128) -> softmax, with
    sequences long enough for its three 'valid' convolutions, padded with zeros as
    pad_sequences pads them and with garbage."""
    model = sn.Sequential([
        Conv1D(32, kernel_size=5, strides=2, activation="relu"), BatchNormalization(),
        Conv1D(64, kernel_size=5, strides=2, activation="relu"), BatchNormalization(),
        Conv1D(128, kernel_size=3, strides=2, activation="relu"), BatchNormalization(),
        LSTM(128, return_sequences=True), LSTM(128), Dense(8, activation="softmax"),
    ], input_size=IN, seed=0)
    randomise(model, scale=0.2)
    seqs = sequences((21, 40, 33, 26), seed=1)
    assert_invariant(model, seqs, fill=0.0)
    assert_invariant(model, seqs)
    x, lengths = pad_sequences(seqs)
    assert model.output_lengths(lengths) is None
    probs = model.eval()(x, lengths=lengths)
    torch.testing.assert_close(probs.sum(-1), torch.ones(len(seqs)))


@pytest.mark.parametrize("name, options, lengths", [
    ("sketch_lstm", {}, (21, 40, 33, 26)),
    ("sketch_lstm", {"padding": "same", "bidirectional": True}, (7, 1, 12, 29)),
    ("sketch_gru", {"units": 16}, (21, 30, 24)),
    ("sketch_gru", {"padding": "same", "bidirectional": True, "units": 16}, (3, 9, 2)),
    ("dilated_conv", {}, (5, 1, 17, 9)),
    ("dilated_conv", {"pool": "max", "padding": "same", "filters": 8}, (6, 2, 11)),
])
def test_the_classifiers_probabilities_ignore_padding(name, options, lengths):
    """Every classifier of seqnets.classify: the strided-conv + BN, bidirectional, pooling
    paths; zero padding (pad_sequences') and garbage."""
    from seqnets.classify import build, shortest_input

    model = build(name, n_classes=5, input_shape=IN, seed=0, **options)
    randomise(model, scale=0.2)
    assert min(lengths) >= shortest_input(model)
    seqs = sequences(lengths, seed=2)
    assert_invariant(model, seqs, fill=0.0)
    assert_invariant(model, seqs)
    x, lens = pad_sequences(seqs)
    torch.testing.assert_close(model(x, lengths=lens).sum(-1), torch.ones(len(seqs)))


def test_the_video_classifier_ignores_padded_frames():
    """TimeDistributed(FrameCNN) -> GRU -> softmax on [B, T, C, H, W], and the same over a
    per-frame module of the user's own (plain torch layers, with batch normalisation)."""
    from seqnets.classify import build

    g = torch.Generator().manual_seed(3)
    seqs = [torch.randn(n, 2, 8, 8, generator=g) for n in (4, 1, 6)]
    model = build("video_gru", n_classes=4, input_shape=(2, 8, 8), seed=0, units=8)
    randomise(model, scale=0.2)
    assert_invariant(model, seqs)
    frame = nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4 * 6 * 6, 10))
    own = build("video_gru", n_classes=4, input_shape=(2, 8, 8), seed=0, frame=frame, units=8)
    assert own.output_shapes[0] == (None, 10)
    randomise(own, scale=0.2)
    assert_invariant(own, seqs)


def test_full_lengths_equal_no_lengths():
    model = sn.Sequential([Conv1D(6, 3, strides=2, padding="same"), BatchNormalization(),
                           Bidirectional(LSTM(U, return_sequences=True)), GRU(U), Dense(2)],
                          input_size=IN, seed=0)
    x = torch.randn(3, 11, IN)
    for mode in (model.eval, model.train):
        mode()
        torch.manual_seed(0)
        a = model(x)
        torch.manual_seed(0)
        b = model(x, lengths=torch.full((3,), 11))
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_padding_never_changes_the_gradient_of_a_valid_sequence():
    """Training step of the valid sequences alone and inside a padded batch: the same
    gradients (BatchNormalization's statistics from the valid steps only)."""
    model = sn.Sequential([Conv1D(6, 3, strides=2), BatchNormalization(),
                           LSTM(U), Dense(2)], input_size=IN, seed=0).train()
    seqs = sequences((9, 9, 9), seed=2)
    x, lengths = padded(seqs)
    model(x, lengths=lengths).square().sum().backward()
    padded_grads = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model(torch.stack(seqs)).square().sum().backward()
    for a, b in zip(padded_grads, (p.grad for p in model.parameters()), strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


# --------------------------------------------------------------------------------------
# pad_sequences
# --------------------------------------------------------------------------------------
def test_pad_sequences():
    seqs = [np.arange(6.0).reshape(3, 2), np.ones((1, 2)), torch.full((2, 2), 5.0)]
    x, lengths = pad_sequences(seqs)
    assert x.dtype == torch.float32 and lengths.dtype == torch.long
    assert x.shape == (3, 3, 2) and lengths.tolist() == [3, 1, 2]
    assert x[0].tolist() == [[0, 1], [2, 3], [4, 5]]
    assert x[1].tolist() == [[1, 1], [0, 0], [0, 0]]
    x, lengths = pad_sequences(seqs, maxlen=2, value=-1.0, dtype=torch.float64)
    assert x.dtype == torch.float64 and lengths.tolist() == [2, 1, 2]
    assert x[0].tolist() == [[0, 1], [2, 3]] and x[1, 1].tolist() == [-1, -1]
    x, _ = pad_sequences(seqs, maxlen=2, truncating="pre")
    assert x[0].tolist() == [[2, 3], [4, 5]]
    x, lengths = pad_sequences([[1, 2, 3], [4]], maxlen=5)  # 1-D: one channel
    assert x.shape == (2, 5, 1) and lengths.tolist() == [3, 1]
    assert x[:, :, 0].tolist() == [[1, 2, 3, 0, 0], [4, 0, 0, 0, 0]]


@pytest.mark.parametrize("call,error,words", [
    (lambda: pad_sequences([np.ones((2, 1))], padding="pre"), DataError, "'post'"),
    (lambda: pad_sequences([np.ones((2, 1))], truncating="middle"), DataError, "truncating"),
    (lambda: pad_sequences([]), DataError, "non-empty"),
    (lambda: pad_sequences([np.ones((2, 1)), np.ones((0, 1))]), DataError, "sequence 1 is empty"),
    (lambda: pad_sequences([np.ones((2, 1)), np.ones((2, 3))]), ShapeError, "3 channels"),
    (lambda: pad_sequences([np.ones((2, 1, 1))]), ShapeError, "[steps, channels]"),
    (lambda: pad_sequences([np.array(["a", "b"])]), DataError, "numeric"),
    (lambda: pad_sequences([np.ones((2, 1))], maxlen=0), DataError, "maxlen"),
])
def test_pad_sequences_errors(call, error, words):
    with pytest.raises(error, match=words.replace("[", r"\[").replace("]", r"\]")):
        call()


# --------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------
X = torch.zeros(2, 5, IN)


@pytest.mark.parametrize("lengths,error,words", [
    (torch.tensor([[3, 4]]), ShapeError, r"shape \[batch\] = \[2\]"),
    (torch.tensor([3, 4, 5]), ShapeError, r"got shape \(3,\)"),
    (torch.tensor([3.0, 4.0]), DataError, "integer"),
    (torch.tensor([3, 6]), DataError, "sequence 1 has length 6, more than the input's 5"),
    (torch.tensor([0, 4]), DataError, "at least 1; sequence 0 has length 0"),
    (torch.tensor([3, -1]), DataError, "sequence 1 has length -1"),
    ("many", DataError, "integer"),
])
@pytest.mark.parametrize("layer", [
    lambda: LSTM(U, input_size=IN), lambda: Conv1D(U, 2, input_size=IN),
    lambda: Bidirectional(GRU(U, input_size=IN)), lambda: GlobalMaxPooling1D(),
    lambda: sn.Sequential([Dense(U)], input_size=IN), lambda: TimeDistributed(Dense(U)),
])
def test_bad_lengths_are_refused(layer, lengths, error, words):
    with pytest.raises(error, match=words):
        layer()(X, lengths=lengths)


def test_lists_of_lengths_are_accepted():
    layer = GRU(U, input_size=IN)
    torch.testing.assert_close(layer(X, lengths=[2, 5]), layer(X, lengths=torch.tensor([2, 5])))


class Doubler(sn.layers.Layer):
    """A layer of a user's that has not opted in to lengths."""

    def forward(self, x):
        return 2 * x


def test_lengths_on_layers_that_cannot_take_them():
    with pytest.raises(ConfigError, match="'flatten' .*cannot take lengths"):
        sn.Sequential([Flatten()], input_shape=(5, IN))(X, lengths=torch.tensor([2, 5]))
    with pytest.raises(ConfigError, match=r"\(Doubler\) cannot take lengths"):
        sn.Sequential([Dense(U), Doubler()], input_size=IN)(X, lengths=torch.tensor([2, 5]))
    with pytest.raises(ConfigError, match="RepeatVector.*cannot take lengths"):
        RepeatVector(3)(X, lengths=torch.tensor([2, 5]))
    torch.testing.assert_close(Flatten()(X, lengths=None), X.reshape(2, -1))  # None is fine
    with pytest.raises(ConfigError, match="cannot take lengths"):
        sn.Sequential([Dense(U), Flatten()], input_shape=(5, IN)).output_lengths(
            torch.tensor([2, 5]))
    # after a sequence-to-vector layer there is no time axis, so no lengths to refuse
    model = sn.Sequential([GRU(U), RepeatVector(2), Flatten()], input_size=IN)
    assert model(X, lengths=torch.tensor([2, 5])).shape == (2, 2 * U)


def test_lengths_need_a_time_axis():
    with pytest.raises(ShapeError, match="no time axis"):
        Dense(U, input_size=IN)(torch.zeros(2, IN), lengths=torch.tensor([1, 1]))


def test_a_valid_convolution_refuses_sequences_shorter_than_its_span():
    conv = Conv1D(U, 4, dilation_rate=2, input_size=IN)  # span 7
    with pytest.raises(ShapeError, match="needs at least 7 steps, but sequence 1 has 5"):
        conv(torch.zeros(2, 9, IN), lengths=torch.tensor([9, 5]))


def test_the_model_file_round_trip_keeps_pooling(tmp_path):
    model = sn.Sequential([Conv1D(4, 3, padding="causal"), GlobalAveragePooling1D(keepdims=True),
                           Flatten(), Dense(2)], input_shape=(None, IN), seed=0)
    sn.save(model, tmp_path / "m")
    again = sn.load(tmp_path / "m")
    x, lengths = padded(sequences())
    torch.testing.assert_close(again(x[:, :4]), model(x[:, :4]))
    assert again.layers[1].keepdims is True
