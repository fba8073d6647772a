"""Synchronised batch normalisation (issue 16): the moments summed over ranks, checked here
with one rank against ``F.batch_norm`` (values, gradients, moving averages) and by
gradcheck; tests/test_distributed.py checks two gloo ranks against one process."""

from __future__ import annotations

import pytest
import torch

from seqnets.layers import BatchNormalization
from seqnets.layers.sync_stats import _Sync, active, moments, summed_over


def one_rank(t: torch.Tensor) -> torch.Tensor:
    return t.clone()


def layer(features: int, momentum: float = 0.8) -> BatchNormalization:
    bn = BatchNormalization(momentum=momentum)
    bn.build((None, features))
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5, generator=torch.Generator().manual_seed(1))
        bn.bias.uniform_(-0.5, 0.5, generator=torch.Generator().manual_seed(2))
    return bn.train()


@pytest.mark.parametrize("lengths", [None, torch.tensor([7, 3, 5, 1])])
def test_one_rank_synchronised_equals_the_plain_layer(lengths):
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(4, 7, 3, generator=g) * 3 + 2).requires_grad_()
    upstream = torch.randn(4, 7, 3, generator=g)
    outs = []
    for sync in (False, True):
        bn = layer(3)
        with summed_over(one_rank if sync else None):
            out = bn(x, lengths=lengths) if lengths is not None else bn(x)
        (out * upstream).sum().backward()
        outs.append((out.detach(), x.grad.clone(), bn.weight.grad.clone(),
                     bn.bias.grad.clone(), bn.running_mean.clone(), bn.running_var.clone()))
        x.grad = None
    for plain, synced in zip(*outs, strict=True):
        assert torch.allclose(plain, synced, rtol=0, atol=1e-5)


def test_the_moments_gradient_by_gradcheck():
    x = torch.randn(9, 4, dtype=torch.float64, requires_grad=True)
    sync = _Sync(one_rank, True)
    assert torch.autograd.gradcheck(lambda t: moments(t, sync)[:2], (x,))


def test_the_moments_are_the_whole_batchs_and_a_stand_in_adds_nothing():
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(5, 2, generator=g).double(), torch.randn(8, 2, generator=g).double()

    def with_b(t):  # a second rank holding b: its count, sums and squares (forward only)
        return t + torch.cat([b.sum(0), (b * b).sum(0), b.new_tensor([len(b)])])
    mean, var, n = moments(a, _Sync(with_b, True))
    both = torch.cat([a, b])
    assert n == 13
    assert torch.allclose(mean, both.mean(0)) and torch.allclose(var, both.var(0, False))
    mean, var, n = moments(a, _Sync(with_b, False))  # a only stands in
    assert n == 8 and torch.allclose(mean, b.mean(0)) and torch.allclose(var, b.var(0, False))


def test_nothing_is_synchronised_outside_the_block_or_in_evaluation():
    assert active() is None
    bn = layer(2)
    x = torch.randn(6, 2)
    calls = []

    def counting(t):
        calls.append(t.shape)
        return t.clone()
    with summed_over(counting):
        assert active() is not None
        bn.eval()(x)
    assert calls == [] and active() is None
    with summed_over(counting):
        bn.train()(x)
    assert calls == [torch.Size([5])]
