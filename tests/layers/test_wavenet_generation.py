"""Fast WaveNet generation equals full recomputation, for every implementation."""

import pytest
import torch

from seqnets.errors import ConfigError, ShapeError
from seqnets.layers import WaveNet


def make(seed=0, **kwargs):
    torch.manual_seed(seed)
    options = {"blocks": 2, "layers_per_block": 3, "channels": 4, "outputs": 2,
               "input_size": 1, **kwargs}
    model = WaveNet(**options).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3)  # non-trivial biases too
    return model


@pytest.mark.parametrize("implementation", ["torch", "compiled", "auto"])
@pytest.mark.parametrize("context_length", [1, 5, 40])
def test_cached_generation_equals_recomputation(implementation, context_length):
    model = make()
    context = torch.randn(3, context_length, 1, generator=torch.Generator().manual_seed(1))
    reference = model.generate(context, 25, implementation="naive")
    fast = model.generate(context, 25, implementation=implementation)
    assert fast.shape == (3, 25, 2)
    torch.testing.assert_close(fast, reference, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("implementation", ["torch", "compiled"])
def test_wider_kernels_and_several_input_features(implementation):
    model = make(seed=2, kernel_size=3, input_size=2, outputs=3, skip_channels=5)
    context = torch.randn(2, 7, 2, generator=torch.Generator().manual_seed(3))
    reference = model.generate(context, 12, implementation="naive")
    torch.testing.assert_close(model.generate(context, 12, implementation=implementation),
                               reference, atol=1e-6, rtol=1e-5)


def test_first_output_is_the_models_output_at_the_last_context_step():
    model = make()
    context = torch.randn(2, 9, 1)
    with torch.no_grad():
        expected = model(context)[:, -1]
    torch.testing.assert_close(model.generate(context, 1)[:, 0], expected)


def test_generation_leaves_training_mode_as_it_was():
    model = make().train()
    model.generate(torch.randn(1, 4, 1), 3)
    assert model.training


def test_generation_refuses_bad_arguments():
    model = make()
    with pytest.raises(ConfigError, match="steps must be a positive integer"):
        model.generate(torch.randn(1, 4, 1), 0)
    with pytest.raises(ShapeError, match="context must be"):
        model.generate(torch.randn(1, 4, 3), 2)
    with pytest.raises(ConfigError, match="implementation must be"):
        model.generate(torch.randn(1, 4, 1), 2, implementation="fast")
    with pytest.raises(ConfigError, match="outputs"):
        make(input_size=3, outputs=2).generate(torch.randn(1, 4, 3), 2)


def test_checkpointing_gives_the_same_gradients():
    plain = make(seed=4)
    saving = make(seed=4, checkpoint=True)
    x = torch.randn(2, 30, 1)
    grads = []
    for model in (plain, saving):
        model.train()
        model(x).square().sum().backward()
        # (the last layer's residual projection feeds nothing: no gradient in either)
        grads.append([p.grad for p in model.parameters()])
    for a, b in zip(*grads, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b)


def test_windows_are_views_of_the_series():
    from seqnets.data import window_pairs, windows

    series = torch.arange(20.0).reshape(10, 2)
    w = windows(series, 4, step=2)
    assert w.shape == (4, 4, 2)
    assert w.untyped_storage().data_ptr() == series.untyped_storage().data_ptr()
    torch.testing.assert_close(w[1], series[2:6])
    x, y = window_pairs(series, window=3, horizon=2)
    assert x.shape == (6, 3, 2) and y.shape == (6, 2)
    torch.testing.assert_close(y[0], series[3:5, 0])
    torch.testing.assert_close(x[-1], series[5:8])
    assert y.untyped_storage().data_ptr() == series.untyped_storage().data_ptr()
