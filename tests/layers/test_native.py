"""The native (C++) loops of the convolution runs: equal to the Python loops, built once and
cached, and a clean fallback where they cannot be built."""

from __future__ import annotations

import shutil
import warnings

import pytest
import torch

from seqnets.layers import Conv1D
from seqnets.layers.ops import conv as conv_taps
from seqnets.layers.ops import native
from seqnets.layers.ops.dispatch import thread_count
from seqnets.models import Sequential

needs_native = pytest.mark.skipif(native.library() is None,
                                  reason="the native loops cannot be built on this machine")


def run_model(seed, strides=1):
    torch.manual_seed(seed)
    layers = [Conv1D(5, 3, strides=strides, padding="valid", input_size=2),
              *(Conv1D(5, 2, padding="causal", activation="relu", dilation_rate=d)
                for d in (1, 2, 4)),
              Conv1D(3, 1, use_bias=False)]
    return Sequential(layers, input_shape=(None, 2), seed=seed)


@pytest.fixture(params=[2, 1, 0], ids=["kernels", "blas", "aten-mm"])
def products(request):
    """Each route of the native products: the AVX2 kernels, torch's BLAS, ATen's mm."""
    ops = native.library()
    if ops is None:
        pytest.skip("the native loops cannot be built on this machine")
    best = ops.products(-1)
    if request.param > best:
        pytest.skip(f"route {request.param} is unavailable here (best: {best})")
    assert ops.products(request.param) == request.param
    yield request.param
    ops.products(best)


@needs_native
@pytest.mark.parametrize("strides", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("slices", [1, 2, 3])
def test_native_loops_equal_the_python_loops(strides, dtype, slices, products,
                                              monkeypatch):
    """Equal to rounding: the native loops add the bias after the products, not before, and
    sum the gradients over batch slices (5 sequences in 3 slices: sizes 2, 2, 1)."""
    monkeypatch.setattr(native, "slice_count", lambda batch, length: slices)
    results = []
    for use_native in (True, False):
        if not use_native:
            monkeypatch.setattr(native, "library", lambda: None)
        model = run_model(3, strides).to(dtype)
        x = torch.randn(5, 23, 2, dtype=dtype, generator=torch.Generator().manual_seed(1),
                        requires_grad=True)
        y = model(x)
        grads = torch.autograd.grad(y.square().sum(), [x, *model.parameters()])
        results.append((y.detach(), grads))
    (y_native, g_native), (y_python, g_python) = results
    tol = {"atol": 1e-5, "rtol": 1e-5} if dtype == torch.float32 else {"atol": 1e-12,
                                                                         "rtol": 1e-12}
    torch.testing.assert_close(y_native, y_python, **tol)
    for a, b in zip(g_native, g_python, strict=True):
        torch.testing.assert_close(a, b, **tol)


@needs_native
def test_relu_keeps_nan_as_torch_does():
    conv = Conv1D(1, 1, activation="relu", input_size=1)
    twin = Conv1D(1, 1, activation="relu", input_size=1)
    seq = Sequential([conv, twin], input_shape=(None, 1))
    with torch.no_grad():
        for c in (conv, twin):
            c.weight.fill_(1.0)
            c.bias.zero_()
    out = seq(torch.tensor([[[float("nan")], [-1.0], [2.0]]]))
    assert torch.isnan(out[0, 0, 0]) and out[0, 1, 0] == 0 and out[0, 2, 0] == 2


@needs_native
def test_only_the_wanted_gradients_are_computed():
    model = run_model(0)
    model.layers[0].weight.requires_grad_(False)
    x = torch.randn(2, 9, 2)  # no gradient wanted for the input
    model(x).sum().backward()
    assert model.layers[0].weight.grad is None
    assert model.layers[0].bias.grad is not None and model.layers[1].weight.grad is not None


def test_turned_off_by_the_environment(monkeypatch):
    monkeypatch.setenv("SEQNETS_NATIVE", "0")
    assert not native.enabled() and native.library() is None
    model = run_model(0)
    assert model(torch.randn(2, 9, 2)).shape == (2, 7, 3)  # the Python loops run


def test_the_library_name_follows_the_source(tmp_path, monkeypatch):
    name = native.library_name()
    assert name.startswith("seqnets_conv_") and name == native.library_name()
    copy = tmp_path / "csrc"
    shutil.copytree(native.CSRC, copy)
    monkeypatch.setattr(native, "CSRC", copy)
    assert native.library_name() == name
    header = copy / "gemm.h"
    header.write_text(header.read_text() + "\n// changed\n")
    native._name_for.cache_clear()
    assert native.library_name() != name


def test_a_failed_build_warns_once_and_falls_back(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQNETS_CACHE", str(tmp_path))
    monkeypatch.setattr(native, "_loaded", {})

    attempts = []

    def broken(name, folder):
        attempts.append(name)
        folder.mkdir(parents=True, exist_ok=True)
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(native, "_build", broken)
    with pytest.warns(RuntimeWarning, match="no C.. compiler.*Python loops run instead"):
        assert native.library() is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # remembered: no second attempt, no second warning
        assert native.library() is None
    model = run_model(0)
    assert model(torch.randn(2, 9, 2)).shape == (2, 7, 3)
    # another process: the failure is remembered on disk, not built again
    monkeypatch.setattr(native, "_loaded", {})
    with pytest.warns(RuntimeWarning, match="an earlier build failed.*no C.. compiler"):
        assert native.library() is None
    assert len(attempts) == 1
    with pytest.warns(RuntimeWarning, match="no C.. compiler"):  # retry=True builds again
        assert native.library(retry=True) is None
    assert len(attempts) == 2


def _fake_build(real_so, calls):
    """A build that copies the real library into place, recording what it saw."""
    def build(name, folder):
        calls.append({"stale_lock": (folder / "lock").exists()})
        shutil.copyfile(real_so, folder / f"{name}.so")
    return build


def test_a_killed_build_leaves_nothing_that_blocks_or_half_loads(tmp_path, monkeypatch):
    """A process killed mid-build leaves PyTorch's lock file and a partial library: the next
    process removes the lock (it holds the flock, so the lock is a dead process's), sees the
    library has no completion mark, and builds it again instead of waiting or loading it."""
    real = native.cache_dir() / native.library_name() / f"{native.library_name()}.so"
    assert native.library() is not None and real.is_file()
    monkeypatch.setenv("SEQNETS_CACHE", str(tmp_path))
    monkeypatch.setattr(native, "_loaded", {})
    name = native.library_name()
    folder = native.cache_dir() / name
    folder.mkdir(parents=True)
    (folder / "lock").write_text("")                        # the dead builder's baton
    (folder / f"{name}.so").write_bytes(real.read_bytes()[:1000])   # cut while linking
    calls = []
    monkeypatch.setattr(native, "_build", _fake_build(real, calls))
    assert native.library() is not None
    assert calls == [{"stale_lock": False}] and not (folder / "lock").exists()
    assert native._complete(folder / f"{name}.so")
    # another process loads the marked library as it is (loading the same ops twice in
    # one process would abort it, so the load itself is stood in for here)
    loads = []
    monkeypatch.setattr(native, "_try_load", lambda path: loads.append(path) or True)
    monkeypatch.setattr(native, "_loaded", {})
    assert native.library() is not None and len(calls) == 1 and len(loads) == 1


def test_the_build_lock_excludes_other_processes(tmp_path):
    import subprocess
    import sys

    probe = ("import fcntl, sys; f = open(sys.argv[1], 'a+')\n"
             "try:\n    fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB); print('free')\n"
             "except OSError:\n    print('held')")
    lock = tmp_path / ".seqnets-build.lock"
    with native._build_lock(tmp_path):
        held = subprocess.run([sys.executable, "-c", probe, str(lock)], capture_output=True,
                              text=True).stdout.strip()
    free = subprocess.run([sys.executable, "-c", probe, str(lock)], capture_output=True,
                          text=True).stdout.strip()
    assert (held, free) == ("held", "free")


def test_the_ninja_package_is_found_off_path(tmp_path, monkeypatch):
    """Run from an environment that is not activated, the build still finds the ``ninja``
    that the ``fast`` extra installs (and PATH is restored afterwards)."""
    ninja = pytest.importorskip("ninja")
    from torch.utils import cpp_extension

    seen = {}
    monkeypatch.setattr(native.shutil, "which", lambda name: None)
    monkeypatch.setattr(cpp_extension, "load",
                        lambda *a, **k: seen.setdefault("path", native.os.environ["PATH"]))
    before = native.os.environ.get("PATH", "")
    native._build("seqnets_conv_test", tmp_path / "build")
    assert seen["path"].split(native.os.pathsep)[0] == ninja.BIN_DIR
    assert native.os.environ.get("PATH", "") == before


@needs_native
@pytest.mark.parametrize("layout", ["strided", "time-major"])
@pytest.mark.parametrize("slices", [1, 2])
def test_strided_inputs_and_broadcast_gradients(slices, layout, monkeypatch):
    """Any input strides (time-major input is read in place by one slice), and an output
    gradient with zero strides (the gradient of a sum)."""
    monkeypatch.setattr(native, "slice_count", lambda batch, length: slices)
    results = []
    for use_native in (True, False):
        if not use_native:
            monkeypatch.setattr(native, "library", lambda: None)
        model = run_model(4).double()
        g = torch.Generator().manual_seed(2)
        if layout == "strided":
            base = torch.randn(2, 23, 6, dtype=torch.float64, generator=g).requires_grad_()
            x = base.transpose(0, 2)[::3]    # [2, 23, 2] over memory [2, 23, 6]: strided
        else:
            base = torch.randn(23, 2, 2, dtype=torch.float64, generator=g).requires_grad_()
            x = base.transpose(0, 1)         # [2, 23, 2] over time-major memory
        y = model(x)
        grads = torch.autograd.grad(y.sum(), [base, *model.parameters()])
        results.append((y.detach(), grads))
    (y_native, g_native), (y_python, g_python) = results
    torch.testing.assert_close(y_native, y_python, atol=1e-12, rtol=1e-12)
    for a, b in zip(g_native, g_python, strict=True):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=1e-12)


@needs_native
def test_an_empty_batch():
    model = run_model(0)
    x = torch.zeros(0, 9, 2, requires_grad=True)
    y = model(x)
    y.sum().backward()
    assert y.shape == (0, 7, 3) and x.grad.shape == x.shape
    assert torch.count_nonzero(model.layers[1].weight.grad) == 0


@needs_native
def test_long_runs_take_one_slice_and_return_time_major_views(monkeypatch):
    seen = []
    real = native.slice_count
    monkeypatch.setattr(native, "slice_count", lambda b, t: seen.append((b, t)) or real(b, t))
    conv = Conv1D(3, 2, padding="causal", input_size=2)
    x = torch.randn(2, conv_taps.LARGEST_SLICED, 2)      # 65,536 rows: one slice
    y = conv(x)
    assert seen == [] and y.transpose(0, 1).is_contiguous()
    torch.testing.assert_close(y[:, 5:9], conv(x[:, :9])[:, 5:9])  # the sliced short run


def test_slices_need_enough_rows_each():
    with thread_count(2):
        assert native.slice_count(32, 50) == 2     # the chapter's batch: side by side
        assert native.slice_count(1, 50) == 1      # one sequence: no split
        assert native.slice_count(2, 40) == 1      # 80 rows: below MIN_SLICE_ROWS
        assert native.slice_count(4, 50) == 2
        assert native.slice_count(8, 64) == 2
    with thread_count(1):
        assert native.slice_count(32, 50) == 1



@needs_native
@pytest.mark.parametrize("channels,filters", [(3, 20), (20, 20), (24, 9), (25, 40), (40, 25),
                                              (64, 64), (65, 17), (130, 9),
                                              (9, 260)])
def test_every_tile_shape_of_the_kernels(channels, filters, products, monkeypatch):
    """Column tails of 1–3 vectors, several column tiles, 1–3 leftover rows (3 x 7 rows a
    slice), and sizes past the kernels' limit (routed to the BLAS), float32."""
    monkeypatch.setattr(native, "slice_count", lambda batch, length: 1)
    results = []
    for use_native in (True, False):
        if not use_native:
            monkeypatch.setattr(native, "library", lambda: None)
        torch.manual_seed(0)
        model = Sequential([Conv1D(filters, 2, padding="causal", activation="relu",
                                   dilation_rate=2, input_size=channels),
                            Conv1D(channels, 3, padding="same")], input_shape=(None, channels))
        x = torch.randn(3, 7, channels, generator=torch.Generator().manual_seed(1),
                        requires_grad=True)
        y = model(x)
        grads = torch.autograd.grad(y.square().sum(), [x, *model.parameters()])
        results.append((y.detach(), grads))
    (y_native, g_native), (y_python, g_python) = results
    torch.testing.assert_close(y_native, y_python, atol=1e-5, rtol=1e-5)
    for a, b in zip(g_native, g_python, strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-5)


# --------------------------------------------------------------------------------------
# the LSTM's time loop (csrc/lstm.cpp) against hand-written equations
# --------------------------------------------------------------------------------------
def lstm_reference(p, w, peep, h0, c0, mask):
    """The (peephole) LSTM step by step: gates i, f, g, o; peep [3, H]; mask on h_{t-1}."""
    hidden = w.shape[1]
    h, c, ys, cs = h0, c0, [], []
    for t in range(p.shape[1]):
        a = p[:, t] + (h * mask) @ w.t()
        i = torch.sigmoid(a[:, :hidden] + peep[0] * c)
        f = torch.sigmoid(a[:, hidden:2 * hidden] + peep[1] * c)
        g = torch.tanh(a[:, 2 * hidden:3 * hidden])
        c = f * c + i * g
        o = torch.sigmoid(a[:, 3 * hidden:] + peep[2] * c)
        h = o * torch.tanh(c)
        ys.append(h)
        cs.append(c)
    return torch.stack(ys, 1), torch.stack(cs, 1)


def lstm_inputs(dtype, batch=5, steps=7, hidden=6, seed=0):
    g = torch.Generator().manual_seed(seed)

    def rand(*shape, scale=1.0):
        return (scale * torch.randn(*shape, generator=g, dtype=dtype)).requires_grad_()

    mask = (torch.rand(batch, hidden, generator=g) > 0.3).to(dtype) / 0.7  # recurrent dropout
    return (rand(batch, steps, 4 * hidden), rand(4 * hidden, hidden, scale=0.5),
            rand(3, hidden, scale=0.5), rand(batch, hidden), rand(batch, hidden), mask)


def lstm_outputs_and_grads(run, inputs):
    y, c = run(*inputs)
    g = torch.Generator().manual_seed(9)
    loss = (y * torch.randn(y.shape, generator=g, dtype=y.dtype)).sum() \
        + (c * torch.randn(c.shape, generator=g, dtype=c.dtype)).sum()
    return (y.detach(), c.detach()), torch.autograd.grad(loss, inputs[:5])


@needs_native
@pytest.mark.parametrize("slices", [1, 2, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_native_lstm_equals_the_equations(slices, dtype, monkeypatch):
    """Outputs, cell states and the gradients of the input projections, the recurrent and
    peephole weights and both initial states; a recurrent-dropout mask; 5 sequences in 1, 2
    and 3 slices. (float32 runs the rational tanh: within 4e-7 of the exact one.)"""
    from seqnets.layers.ops import recurrent as fastpath

    monkeypatch.setattr(native, "slice_count", lambda batch, length: slices)
    inputs = lstm_inputs(dtype)
    got = lstm_outputs_and_grads(
        lambda *a: fastpath._LSTM.apply(*a, native.library()), inputs)
    want = lstm_outputs_and_grads(lstm_reference, inputs)
    tol = {"atol": 2e-5, "rtol": 1e-5} if dtype == torch.float32 else {"atol": 1e-12,
                                                                         "rtol": 1e-12}
    for a, b in zip([*got[0], *got[1]], [*want[0], *want[1]], strict=True):
        torch.testing.assert_close(a, b, **tol)


@needs_native
def test_native_lstm_gradcheck_over_two_slices(monkeypatch):
    from seqnets.layers.ops import recurrent as fastpath

    monkeypatch.setattr(native, "slice_count", lambda batch, length: 2)
    p, w, peep, h0, c0, mask = lstm_inputs(torch.float64, batch=3, steps=4, hidden=3, seed=1)
    assert torch.autograd.gradcheck(lambda *a: fastpath._LSTM.apply(*a, mask, native.library()),
                                    (p, w, peep, h0, c0))


def simple_rnn_reference(p, w, h0, mask, relu):
    h, ys = h0, []
    for t in range(p.shape[1]):
        a = p[:, t] + (h * mask) @ w.t()
        h = torch.relu(a) if relu else torch.tanh(a)
        ys.append(h)
    return torch.stack(ys, 1)


@needs_native
@pytest.mark.parametrize("relu", [False, True], ids=["tanh", "relu"])
@pytest.mark.parametrize("slices", [1, 2, 3])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_native_simple_rnn_equals_the_equations(relu, slices, dtype, monkeypatch):
    from seqnets.layers.ops import recurrent as fastpath

    monkeypatch.setattr(native, "slice_count", lambda batch, length: slices)
    p, w, _, h0, _, mask = lstm_inputs(dtype, hidden=6, seed=3)
    p = p.detach()[..., :6].clone().requires_grad_()
    w = w.detach()[:6].clone().requires_grad_()
    g = torch.Generator().manual_seed(4)
    weights = torch.randn(5, 7, 6, generator=g, dtype=dtype)
    results = []
    native_run = lambda *a: fastpath._SimpleRNN.apply(*a, native.library())  # noqa: E731
    for run in (native_run, simple_rnn_reference):
        y = run(p, w, h0, mask, relu)
        results.append((y.detach(), *torch.autograd.grad((y * weights).sum(), [p, w, h0])))
    tol = {"atol": 2e-5, "rtol": 1e-5} if dtype == torch.float32 else {"atol": 1e-12,
                                                                         "rtol": 1e-12}
    for a, b in zip(*results, strict=True):
        torch.testing.assert_close(a, b, **tol)


@needs_native
def test_native_simple_rnn_gradcheck_over_two_slices(monkeypatch):
    from seqnets.layers.ops import recurrent as fastpath

    monkeypatch.setattr(native, "slice_count", lambda batch, length: 2)
    p, w, _, h0, _, mask = lstm_inputs(torch.float64, batch=3, steps=4, hidden=3, seed=5)
    p = p.detach()[..., :3].clone().requires_grad_()
    w = w.detach()[:3].clone().requires_grad_()
    assert torch.autograd.gradcheck(lambda *a: fastpath._SimpleRNN.apply(*a, mask, False,
                                                                        native.library()),
                                    (p, w, h0))


@needs_native
def test_lstm_layers_take_the_native_loop_and_threads():
    from seqnets.layers import LSTM, SimpleRNN
    from seqnets.layers.cells import PeepholeLSTMCell
    from seqnets.layers.ops.dispatch import default_threads, loop_threaded, recurrent_path
    from seqnets.layers.recurrent import RNN

    x = torch.randn(4, 6, 2)
    assert recurrent_path(LSTM(3, input_size=2), x, None) == "compiled"
    assert recurrent_path(RNN(PeepholeLSTMCell(3), input_size=2), x, None) == "compiled"
    assert loop_threaded(LSTM(3, input_size=2).compiled_loop())
    assert not loop_threaded(SimpleRNN(3, input_size=2).compiled_loop())
    assert recurrent_path(SimpleRNN(3, input_size=2), x, None) == "compiled"
    with thread_count(2):
        assert default_threads(Sequential([LSTM(3, input_size=2)])) == 2
        assert default_threads(Sequential([SimpleRNN(3, input_size=2)])) == 1


def test_without_native_loops_the_lstm_runs_onednn(monkeypatch):
    from seqnets.layers import LSTM
    from seqnets.layers.ops.dispatch import recurrent_path

    monkeypatch.setattr(native, "library", lambda: None)
    assert recurrent_path(LSTM(3, input_size=2), torch.randn(4, 6, 2), None) == "fused"


@needs_native
def test_the_native_ops_refuse_what_does_not_match():
    from seqnets.layers.ops import conv as conv_taps

    ops = native.library()
    geometry = (conv_taps.Geometry(2, 1, 1, "causal"),)
    run = conv_taps._run(geometry, (True,), (True,), 9, 2)
    w, b = torch.randn(4, 3, 2), torch.randn(4)
    with pytest.raises(RuntimeError, match="weight does not match its input"):
        ops.stack_forward(torch.randn(2, 9, 5), [w], [b], run.code, 1)   # 5 channels, not 3
    with pytest.raises(RuntimeError, match="bias does not match"):
        ops.stack_forward(torch.randn(2, 9, 3), [w], [torch.randn(7)], run.code, 1)
    with pytest.raises(RuntimeError, match="plan's length"):
        ops.stack_forward(torch.randn(2, 8, 3), [w], [b], run.code, 1)
    p, w_t = torch.randn(2, 5, 8), torch.randn(2, 8)
    states = [torch.zeros(2, 2), torch.zeros(2, 2), torch.ones(2, 2)]
    with pytest.raises(RuntimeError, match="contiguous CPU tensor of the same dtype"):
        ops.lstm_forward(p, w_t.double(), torch.zeros(3, 2), *states, 1)
    with pytest.raises(RuntimeError, match="sizes do not match"):
        ops.lstm_forward(p, torch.randn(3, 8), torch.zeros(3, 2), *states, 1)


RACING_BUILDER = """
import sys
from seqnets.layers.ops import native
real = native._build

def counted(name, folder):
    with open(sys.argv[1], "a") as log:
        log.write("build\\n")
    return real(name, folder)

native._build = counted
print("loaded" if native.library() is not None else "none", flush=True)
"""


@pytest.mark.slow  # a real build from the sources: tens of seconds
def test_two_processes_building_at_once_both_load_one_library(tmp_path):
    """Two fresh processes start on an empty cache together: one builds under the lock,
    the other waits, finds the finished (marked) library and loads it without building."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "SEQNETS_CACHE": str(tmp_path / "cache")}
    log = tmp_path / "builds.log"
    procs = [subprocess.Popen([sys.executable, "-c", RACING_BUILDER, str(log)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=900) for p in procs]
    assert [o.strip() for o, _ in outs] == ["loaded", "loaded"], [e[-2000:] for _, e in outs]
    assert log.read_text().splitlines() == ["build"]
