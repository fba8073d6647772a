"""Adam with less per-step overhead: torch's fused kernel, its bookkeeping done once."""

from __future__ import annotations

from typing import Any

import torch


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


__all__ = ["LeanAdam"]
