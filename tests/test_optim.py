"""LeanAdam: the same trajectory and state as torch's Adam, through every fallback."""

from __future__ import annotations

import copy

import pytest
import torch

from seqnets.training import make_optimizer
from seqnets.training.optim import LeanAdam


def make_params(seed=0, shapes=((3, 4), (4,), (2, 3, 2))):
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(s, generator=g)) for s in shapes]


def set_grads(params, step, skip=()):
    g = torch.Generator().manual_seed(100 + step)
    for i, p in enumerate(params):
        p.grad = None if i in skip else torch.randn(p.shape, generator=g)


def run(opt_cls, steps=6, skip_at=None, lr_change_at=None, **kwargs):
    params = make_params()
    opt = opt_cls(params, **kwargs)
    for step in range(steps):
        set_grads(params, step, skip=(1,) if step == skip_at else ())
        if step == lr_change_at:
            for group in opt.param_groups:
                group["lr"] = group["lr"] * 0.1
        opt.step()
    return params, opt


@pytest.mark.parametrize("kwargs", [
    {"lr": 0.01, "eps": 1e-7},
    {"lr": 0.05, "betas": (0.8, 0.9), "weight_decay": 0.1},
    {"lr": 0.05, "maximize": True},
])
def test_same_trajectory_and_state_as_torch_adam(kwargs):
    ours, opt = run(LeanAdam, lr_change_at=3, **kwargs)
    fused, ref_f = run(torch.optim.Adam, fused=True, lr_change_at=3, **kwargs)
    plain, ref_p = run(torch.optim.Adam, lr_change_at=3, **kwargs)
    assert opt._lists is not None  # the cached path ran
    for a, b, c in zip(ours, fused, plain, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
        torch.testing.assert_close(a, c, rtol=1e-6, atol=1e-6)
    for p, q in zip(ours, fused, strict=True):
        for key in ("step", "exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(opt.state[p][key], ref_f.state[q][key], rtol=0, atol=0)


def test_a_parameter_without_gradient_is_left_to_torch():
    ours, _ = run(LeanAdam, skip_at=4, lr=0.01)
    ref, _ = run(torch.optim.Adam, fused=True, skip_at=4, lr=0.01)
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_state_dict_round_trip_resumes_exactly():
    params, opt = run(LeanAdam, steps=4, lr=0.02)
    saved_params = [p.detach().clone() for p in params]
    saved = copy.deepcopy(opt.state_dict())  # torch's state dict holds the live tensors
    for step in range(4, 7):
        set_grads(params, step)
        opt.step()
    resumed = [torch.nn.Parameter(p.clone()) for p in saved_params]
    opt2 = LeanAdam(resumed, lr=0.02)
    opt2.load_state_dict(copy.deepcopy(saved))  # loading keeps the tensors it is given
    for step in range(4, 7):
        set_grads(resumed, step)
        opt2.step()
    for a, b in zip(params, resumed, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    # a state loaded into a warm optimiser replaces its cached lists: the count goes on
    # from the loaded 4, not from the 7 steps taken since
    opt.load_state_dict(saved)
    set_grads(params, 9)
    opt.step()
    assert float(opt.state[params[0]]["step"]) == 5.0


def test_step_hooks_run_once_per_step_and_groups_can_be_added():
    params = make_params()
    opt = LeanAdam(params[:2], lr=0.01)
    calls = []
    opt.register_step_pre_hook(lambda *a: calls.append("pre"))
    opt.register_step_post_hook(lambda *a: calls.append("post"))
    for step in range(3):
        set_grads(params, step)
        opt.step()
    assert calls == ["pre", "post"] * 3
    opt.add_param_group({"params": params[2:], "lr": 0.1})
    set_grads(params, 3)
    opt.step()
    opt.step()
    assert float(opt.state[params[2]]["step"]) == 2.0
    assert float(opt.state[params[0]]["step"]) == 5.0
    opt.zero_grad()
    assert all(p.grad is None for p in params)
    set_grads(params, 4)
    opt.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not p.grad.any() for p in params)


def test_closure_and_amsgrad_take_torch_step():
    params = make_params()
    opt = LeanAdam(params, lr=0.01, amsgrad=True)
    ref_params = make_params()
    ref = torch.optim.Adam(ref_params, lr=0.01, amsgrad=True, fused=True)
    for step in range(3):
        set_grads(params, step)
        set_grads(ref_params, step)
        opt.step(lambda: None)
        ref.step()
    assert opt._lists is None
    for a, b in zip(params, ref_params, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_make_optimizer_gives_lean_adam_with_keras_epsilon():
    opt = make_optimizer("adam", make_params())
    assert isinstance(opt, LeanAdam) and isinstance(opt, torch.optim.Adam)
    assert opt.defaults["eps"] == 1e-7 and opt.defaults["fused"]


# ------------------------------------------------------------------------------------------
# Nadam: Keras 3's update, coded by hand in float64
# ------------------------------------------------------------------------------------------
def _keras3_nadam(w, grads, lr=1e-3, b1=0.9, b2=0.999, eps=1e-7):
    """Keras 3's Nadam.update_step, step by step (u_product updated before the step)."""
    import numpy as np

    m, v, u_product = np.zeros_like(w), np.zeros_like(w), 1.0
    for t, grad_fn in enumerate(grads, start=1):
        g = grad_fn(w)
        u_t, u_next = b1 * (1 - 0.5 * 0.96 ** t), b1 * (1 - 0.5 * 0.96 ** (t + 1))
        u_product *= u_t
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        m_hat = u_next * m / (1 - u_product * u_next) + (1 - u_t) * g / (1 - u_product)
        v_hat = v / (1 - b2 ** t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
    return w


def test_nadam_matches_keras3_update_in_float64():
    import numpy as np

    from seqnets.training import Nadam

    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(5, 3)), rng.normal(size=5)
    w0 = rng.normal(size=3)
    grad = lambda w: 2 * a.T @ (a @ w - b)  # noqa: E731 - gradient of |Aw - b|^2
    steps = 6
    expected = _keras3_nadam(w0.copy(), [grad] * steps, lr=0.05)
    for make in (lambda p: Nadam(p, lr=0.05), lambda p: make_optimizer("nadam", p, lr=0.05)):
        w = torch.nn.Parameter(torch.tensor(w0))
        opt = make([w])
        assert isinstance(opt, Nadam)
        for _ in range(steps):
            opt.zero_grad()
            loss = ((torch.tensor(a) @ w - torch.tensor(b)) ** 2).sum()
            loss.backward()
            opt.step()
        # torch keeps the running product of the momentum coefficients as a float32 scalar:
        # agreement to ~1e-9, not to the last float64 digit
        np.testing.assert_allclose(w.detach().numpy(), expected, rtol=1e-8, atol=1e-12)
    # torch's own default schedule (momentum_decay=0.004) is a different update
    w = torch.nn.Parameter(torch.tensor(w0))
    opt = torch.optim.NAdam([w], lr=0.05, eps=1e-7)
    for _ in range(steps):
        opt.zero_grad()
        ((torch.tensor(a) @ w - torch.tensor(b)) ** 2).sum().backward()
        opt.step()
    assert not np.allclose(w.detach().numpy(), expected, rtol=1e-6)
