"""CUDA paths: run where a GPU is present (skipped elsewhere; benchmarks/gpu_check.py is the
fuller check, with timings)."""

import warnings

import pytest
import torch

import seqnets as sn
from seqnets.layers import GRU, LSTM, Conv1D, SimpleRNN
from seqnets.layers.ops.dispatch import recurrent_path

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
CUDA = torch.device("cuda")


@pytest.mark.parametrize("make", [
    lambda: SimpleRNN(8, return_sequences=True, input_size=3),
    lambda: SimpleRNN(8, activation="relu", use_bias=False, input_size=3),
    lambda: LSTM(8, return_sequences=True, input_size=3),
    lambda: GRU(8, return_sequences=True, input_size=3),
    lambda: GRU(8, use_bias=False, input_size=3),
])
def test_fused_layers_take_cudnn_without_copying_weights_and_match_cpu(make):
    torch.backends.cudnn.allow_tf32 = False
    cpu = make()
    gpu = make().to(CUDA)
    gpu.load_state_dict(cpu.state_dict())
    assert recurrent_path(gpu, torch.zeros(1, 1, 3, device=CUDA), None) == "fused"
    x = torch.randn(4, 12, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # cuDNN warns when it must compact the weights
        out = gpu(x.to(CUDA))
        out.square().sum().backward()
    ref = cpu(x)
    ref.square().sum().backward()
    torch.testing.assert_close(out.cpu(), ref, atol=1e-5, rtol=1e-4)
    for p, q in zip(gpu.parameters(), cpu.parameters(), strict=True):
        torch.testing.assert_close(p.grad.cpu(), q.grad, atol=1e-4, rtol=1e-4)
    gpu.double()  # moving again re-forms the flat block
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gpu(x.double().to(CUDA))


def test_conv1d_on_cuda_matches_cpu():
    cpu = sn.Sequential([Conv1D(6, 2, padding="causal", activation="relu", dilation_rate=d)
                         for d in (1, 2, 4)], input_shape=(None, 3), seed=0)
    gpu = sn.Sequential([Conv1D(6, 2, padding="causal", activation="relu", dilation_rate=d)
                         for d in (1, 2, 4)], input_shape=(None, 3), seed=0).to(CUDA)
    x = torch.randn(5, 30, 3)
    torch.testing.assert_close(gpu(x.to(CUDA)).cpu(), cpu(x), atol=1e-5, rtol=1e-5)


def test_training_on_cuda_and_loading_on_cpu(tmp_path):
    x = torch.randn(64, 20, 1, generator=torch.Generator().manual_seed(0))
    y = x[:, -1]
    model = sn.zoo.build("deep_rnn_dense", seed=0).to(CUDA)
    sn.fit(model, (x.to(CUDA), y.to(CUDA)), epochs=2, batch_size=16, seed=0, quiet=True)
    sn.save(model, tmp_path / "m")
    loaded = sn.load(tmp_path / "m")
    model.eval()
    with torch.no_grad():
        # float32 over 20 steps of two recurrent layers: the CPU loop and cuDNN sum in
        # other orders (an unseeded input once differed by 1.7e-5 on an H200)
        torch.testing.assert_close(loaded(x), model(x.to(CUDA)).cpu(), atol=1e-4, rtol=1e-4)


def test_padded_batches_on_cuda_match_cpu():
    """Variable length on the GPU: cuDNN on packed sequences (no weight copy), F.conv1d with
    each length's zeros, BatchNormalization over valid steps; the same as on CPU."""
    torch.backends.cudnn.allow_tf32 = False

    def make():
        return sn.Sequential([
            Conv1D(8, 3, strides=2, padding="same", activation="relu"),
            sn.layers.BatchNormalization(),
            sn.layers.Bidirectional(LSTM(8, return_sequences=True)), GRU(8),
            sn.layers.Dense(3, activation="softmax")], input_size=3, seed=0)

    cpu, gpu = make(), make().to(CUDA)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 40, 3, generator=g)
    lengths = torch.tensor([10, 3, 7, 9])
    assert recurrent_path(gpu[3], torch.zeros(1, 1, 16, device=CUDA), None,
                          lengths.to(CUDA)) == "fused"
    for mode in ("train", "eval"):
        getattr(cpu, mode)()
        getattr(gpu, mode)()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = gpu(x.to(CUDA), lengths=lengths.to(CUDA))
        torch.testing.assert_close(out.cpu(), cpu(x, lengths=lengths), atol=1e-5, rtol=1e-4)
    for i, n in enumerate(lengths.tolist()):  # padding changes nothing on the GPU either
        alone = gpu(x[i:i + 1, :n].to(CUDA))
        torch.testing.assert_close(out[i:i + 1], alone, atol=1e-5, rtol=1e-4)
