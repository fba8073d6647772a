"""Optimisers by their Keras names, with Keras's defaults; Adam with less per-step overhead.

Keras's defaults: Adam ``lr=1e-3, eps=1e-7``, Nadam the same (:class:`Nadam`: Keras 3's
momentum schedule), SGD ``lr=1e-2``, RMSprop
``lr=1e-3, rho=0.9, eps=1e-7``. One deliberate difference: PyTorch's Adam adds ``eps`` after
the bias correction of ``sqrt(v)``, Keras before, so Keras's effective epsilon is
``eps / sqrt(1 - beta2**t)``: the same update up to a term of order 1e-7.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError

OptimizerSpec = str | torch.optim.Optimizer | Callable[..., torch.optim.Optimizer]


class Nadam(torch.optim.NAdam):
    """Keras 3's Nadam: Adam with Nesterov momentum (Dozat 2016), Keras's defaults
    (``lr=1e-3, betas=(0.9, 0.999), eps=1e-7``).

    Keras 3 schedules the momentum as ``mu_t = beta_1 * (1 - 0.5 * 0.96**t)``; torch's
    ``NAdam`` computes ``0.96**(t * momentum_decay)`` with ``momentum_decay=0.004`` by
    default (the schedule of Keras 2's legacy optimiser). ``momentum_decay=1`` makes the two
    the same update, epsilon included: both add ``eps`` to ``sqrt(v_t / (1 - beta_2**t))``.
    """

    def __init__(self, params: Any, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-7, weight_decay: float = 0.0, momentum_decay: float = 1.0,
                 **kwargs: Any) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         momentum_decay=momentum_decay, **kwargs)


_OPTIMIZERS: dict[str, tuple[type[torch.optim.Optimizer], dict[str, Any]]] = {
    "adam": (torch.optim.Adam, {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7}),
    "nadam": (Nadam, {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-7}),
    "sgd": (torch.optim.SGD, {"lr": 1e-2}),
    "rmsprop": (torch.optim.RMSprop, {"lr": 1e-3, "alpha": 0.9, "eps": 1e-7}),
}


def _can_fuse(params: Sequence[nn.Parameter]) -> bool:
    """Whether torch's fused Adam takes these parameters: floating point, on one CPU or
    CUDA device, all of one dtype (its kernels group by device and dtype)."""
    params = list(params)
    return bool(params) and all(p.is_floating_point() for p in params) and \
        len({(p.device, p.dtype) for p in params}) == 1 and \
        params[0].device.type in ("cpu", "cuda")


def make_optimizer(spec: OptimizerSpec, params: Sequence[nn.Parameter],
                   lr: float | None = None) -> torch.optim.Optimizer:
    """An optimiser from a Keras name (``"adam"``, ``"nadam"``, ``"sgd"``, ``"rmsprop"``),
    a factory ``params -> optimizer``, or an optimiser instance (used as is)."""
    if isinstance(spec, torch.optim.Optimizer):
        if lr is not None:
            for group in spec.param_groups:
                group["lr"] = lr
        return spec
    if isinstance(spec, str):
        if spec.lower() not in _OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {spec!r}; use one of {sorted(_OPTIMIZERS)}, "
                              "a torch optimizer, or a factory params -> optimizer")
        cls, defaults = _OPTIMIZERS[spec.lower()]
        params = list(params)  # a generator would be spent by the check below
        kwargs = dict(defaults)
        if lr is not None:
            kwargs["lr"] = lr
        if cls is torch.optim.Adam and _can_fuse(params):
            # one kernel for every parameter instead of ~8 small ops each, without torch's
            # per-step regrouping: a tenth of a small model's step time on CPU; same update
            return LeanAdam(params, **kwargs)
        return cls(params, **kwargs)
    if callable(spec):
        opt = spec(params)
        if not isinstance(opt, torch.optim.Optimizer):
            raise ConfigError("an optimizer factory must return a torch.optim.Optimizer")
        return make_optimizer(opt, params, lr)
    raise ConfigError(f"optimizer must be a name, a torch optimizer or a factory, got {spec!r}")



class LeanAdam(torch.optim.Adam):
    """``torch.optim.Adam(fused=True)`` whose step skips the per-step Python bookkeeping.

    Same state, same state dict, same update (torch's fused kernel). torch's step regroups
    every tensor by device and dtype and reads each parameter's state on every call: about
    a hundred microseconds, as much as the update itself for a model of a few thousand
    weights. This class keeps those lists after torch's own first step (which creates the
    state) and calls the kernel directly. Whenever the lists may not hold, it steps through
    torch's code instead: a closure, a parameter without a gradient, a new group or a loaded
    state dict, AMSGrad, a tensor learning rate, or a gradient scaler's attributes.
    """

    def __init__(self, params: Any, **kwargs: Any) -> None:
        kwargs["fused"] = True
        super().__init__(params, **kwargs)
        self._lists: list[tuple[list, list, list, list]] | None = None
        self._lists_of: tuple | None = None  # the group and state objects they were read from

    def zero_grad(self, set_to_none: bool = True) -> None:
        lists = self._cached_lists() if set_to_none else None
        if lists is None:
            return super().zero_grad(set_to_none)
        for params, *_ in lists:
            for p in params:
                p.grad = None
        return None

    def step(self, closure: Any = None) -> Any:
        lists = None if closure is not None else self._cached_lists()
        if lists is None or getattr(self, "grad_scale", None) is not None \
                or getattr(self, "found_inf", None) is not None:
            self._lists = None
            return self._torch_step(closure)
        grads = []
        for params, *_ in lists:
            group_grads = [p.grad for p in params]
            if any(g is None for g in group_grads):
                return self._torch_step(None)
            grads.append(group_grads)
        with torch.no_grad():
            for group, (params, exp_avgs, exp_avg_sqs, steps), group_grads in zip(
                    self.param_groups, lists, grads, strict=True):
                steps[0]._base.add_(1)  # every count of the group is a view of one buffer
                update = torch._fused_adamw_ if group.get("decoupled_weight_decay") \
                    else torch._fused_adam_
                beta1, beta2 = group["betas"]
                update(params, group_grads, exp_avgs, exp_avg_sqs, [], steps, amsgrad=False,
                       lr=group["lr"], beta1=beta1, beta2=beta2,
                       weight_decay=group["weight_decay"], eps=group["eps"],
                       maximize=group["maximize"])
        return None

    def _torch_step(self, closure: Any) -> Any:
        # torch wraps each optimiser class's step once to run the step hooks; this step is
        # wrapped already, so call Adam's own step unwrapped or the hooks would run twice
        step = torch.optim.Adam.step
        return getattr(step, "__wrapped__", step)(self, closure)

    def _cached_lists(self) -> list[tuple[list, list, list, list]] | None:
        """Per group: parameters, first and second moments, step counts; None when torch's
        own step must run (state not created yet, or a case the fast path leaves to it)."""
        sizes = tuple(len(g["params"]) for g in self.param_groups)
        held = self._lists_of
        if self._lists is not None and held[0] is self.param_groups and held[1] is self.state \
                and held[2] == sizes:
            return self._lists
        lists = []
        for group in self.param_groups:
            if group["amsgrad"] or group["capturable"] or group["differentiable"] \
                    or not group["fused"] or any(isinstance(group[k], torch.Tensor)
                                                 for k in ("lr", "weight_decay", "eps")) \
                    or any(isinstance(b, torch.Tensor) for b in group["betas"]):
                return None
            params = list(group["params"])
            states = [self.state.get(p) for p in params]
            if not all(s and "exp_avg" in s for s in states):
                return None
            # the step counts become views of one buffer: one addition counts a step for
            # all (torch adds to each count, a few microseconds apiece); still per-parameter
            # 0-d tensors in the state, as torch's Adam keeps them
            counts = torch.stack([s["step"] for s in states])
            for i, state in enumerate(states):
                state["step"] = counts[i]
            lists.append((params, [s["exp_avg"] for s in states],
                          [s["exp_avg_sq"] for s in states], [s["step"] for s in states]))
        if len({(p.device, p.dtype) for params, *_ in lists for p in params}) != 1:
            return None  # the kernel wants one device and dtype per call
        self._lists, self._lists_of = lists, (self.param_groups, self.state, sizes)
        return lists


__all__ = ["LeanAdam", "Nadam"]
