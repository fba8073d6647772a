"""Recurrent cells: one time step each. :class:`~seqnets.layers.RNN` owns the loop.

A cell has ``state_size`` (a tuple: one size per state tensor), ``output_size`` and a
step ``forward(x_t, states) -> (y_t, new_states)`` on ``x_t`` of shape ``[B, input]``.
Your own cell only needs those three; subclass :class:`Cell` to get lazy building and
configs, and decorate it with :func:`seqnets.register` to save models that use it.

The built-in cells also split their step in two so the driver can hoist work out of the
time loop: ``project(x)`` applies the input kernel to a whole ``[B, T, in]`` sequence at
once, ``step(p_t, states, recurrent_mask)`` does the rest. ``forward`` is
``step(project(x_t), states)``.

Weights are stored in PyTorch's layout (``weight_ih`` ``[k*units, in]``, ``weight_hh``
``[k*units, units]``), initialised as Keras initialises its transposed kernels
(glorot-uniform input kernel, orthogonal recurrent kernel, zero bias; LSTM forget bias 1).
Gate order is PyTorch's, so the fused kernels take the weights as they are: LSTM
``i, f, g, o`` (Keras: ``i, f, c, o``, the same), GRU ``r, z, n`` (Keras: ``z, r, h``).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..checks import positive_int, probability
from ..errors import ShapeError
from . import activations
from .base import Layer, Shape, register
from .initializers import glorot_uniform_, orthogonal_

States = tuple[torch.Tensor, ...]


class Cell(Layer):
    """Base class of recurrent cells (see the module docstring for the protocol)."""

    state_size: tuple[int, ...]
    output_size: int

    def __init__(self, units: int, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 name: str | None = None) -> None:
        super().__init__(name)
        self.units = positive_int(units, "units")
        self.dropout = probability(dropout, "dropout")
        self.recurrent_dropout = probability(recurrent_dropout, "recurrent_dropout")
        self.input_size: int | None = None

    @property
    def state_size(self) -> tuple[int, ...]:  # type: ignore[override]
        return (self.units,)

    @property
    def output_size(self) -> int:  # type: ignore[override]
        return self.units

    def build(self, input_shape: Shape) -> None:
        size = input_shape[-1]
        if size is None:
            raise ShapeError(f"{type(self).__name__} needs a known input feature size")
        self.input_size = int(size)
        self._create_weights(self.input_size)
        self.built = True

    def _create_weights(self, input_size: int) -> None:
        raise NotImplementedError

    def _gate_weights(self, input_size: int, gates: int, bias: bool = True) -> None:
        """weight_ih, weight_hh and bias for ``gates`` blocks of ``units``, Keras-initialised."""
        n = gates * self.units
        self.weight_ih = nn.Parameter(glorot_uniform_(torch.empty(n, input_size), input_size, n))
        self.weight_hh = nn.Parameter(orthogonal_(torch.empty(n, self.units)))
        self.bias = nn.Parameter(torch.zeros(n)) if bias else None

    def initial_states(self, batch: int, like: torch.Tensor) -> States:
        """Zero states for a batch, on ``like``'s device and dtype."""
        return tuple(like.new_zeros(batch, s) for s in self.state_size)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        """Input part of the step, all time steps at once: ``[..., in] → [..., k*units]``."""
        return F.linear(x, self.weight_ih, self.bias)

    def step(self, p_t: torch.Tensor, states: States,
             recurrent_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, States]:
        raise NotImplementedError

    def forward(self, x_t: torch.Tensor, states: States,
                recurrent_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, States]:
        """One step on ``x_t`` ``[B, in]``; returns the output ``[B, units]`` and the new states."""
        return self.step(self.project(x_t), tuple(states), recurrent_mask)

    def compiled_loop(self) -> str | None:
        """The compiled CPU time loop that computes this cell's steps (see
        :mod:`seqnets.layers.ops.dispatch`), or None: a subclass runs the cell loop unless it
        declares one (the loops know the built-in equations only)."""
        return None

    def get_config(self) -> dict[str, Any]:
        return {"units": self.units, "dropout": self.dropout,
                "recurrent_dropout": self.recurrent_dropout, "name": self.name}


def _masked(h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    return h if mask is None else h * mask


@register
class SimpleRNNCell(Cell):
    """``h_t = y_t = φ(x_t W_x + h_{t-1} W_h + b)``; φ is tanh by default."""

    def __init__(self, units: int, activation: str | None = "tanh", use_bias: bool = True,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 input_size: int | None = None, name: str | None = None) -> None:
        super().__init__(units, dropout, recurrent_dropout, name)
        self.activation = activations.canonical(activation)
        self.use_bias = bool(use_bias)
        self._act = activations.get(self.activation)
        self._build_if_input_size(input_size, sequence=False)

    def _create_weights(self, input_size: int) -> None:
        self._gate_weights(input_size, 1, self.use_bias)

    def step(self, p_t, states, recurrent_mask=None):
        h = self._act(p_t + F.linear(_masked(states[0], recurrent_mask), self.weight_hh))
        return h, (h,)

    def compiled_loop(self):
        ok = type(self) is SimpleRNNCell and self.activation in ("tanh", "relu")
        return "simple_rnn" if ok else None

    def get_config(self):
        return {**super().get_config(), "activation": self.activation, "use_bias": self.use_bias}


@register
class LNSimpleRNNCell(Cell):
    """The chapter's layer-normalised SimpleRNN cell.

    ``h_t = y_t = φ(LayerNorm(x_t W_x + h_{t-1} W_h + b))`` with a learned scale and offset
    (Keras's ``LayerNormalization`` defaults, ``epsilon=1e-3``).
    """

    def __init__(self, units: int, activation: str | None = "tanh", epsilon: float = 1e-3,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 input_size: int | None = None, name: str | None = None) -> None:
        super().__init__(units, dropout, recurrent_dropout, name)
        self.activation = activations.canonical(activation)
        self.epsilon = float(epsilon)
        self._act = activations.get(self.activation)
        self._build_if_input_size(input_size, sequence=False)

    def _create_weights(self, input_size: int) -> None:
        self._gate_weights(input_size, 1)
        self.ln_weight = nn.Parameter(torch.ones(self.units))
        self.ln_bias = nn.Parameter(torch.zeros(self.units))

    def step(self, p_t, states, recurrent_mask=None):
        z = p_t + F.linear(_masked(states[0], recurrent_mask), self.weight_hh)
        h = self._act(F.layer_norm(z, (self.units,), self.ln_weight, self.ln_bias, self.epsilon))
        return h, (h,)

    def compiled_loop(self):
        return "ln_rnn" if type(self) is LNSimpleRNNCell and self.activation == "tanh" else None

    def get_config(self):
        return {**super().get_config(), "activation": self.activation, "epsilon": self.epsilon}


@register
class LSTMCell(Cell):
    """Long short-term memory cell (Hochreiter & Schmidhuber 1997), Keras's formulation.

    ``i, f, o = σ(·)``, ``g = tanh(·)`` from ``x_t`` and ``h_{t-1}``;
    ``c_t = f ⊙ c_{t-1} + i ⊙ g``; ``h_t = y_t = o ⊙ tanh(c_t)``. States are ``(h, c)``.
    ``unit_forget_bias=True`` initialises the forget-gate bias to 1, as Keras does.
    """

    def __init__(self, units: int, activation: str | None = "tanh",
                 recurrent_activation: str | None = "sigmoid", use_bias: bool = True,
                 unit_forget_bias: bool = True, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, input_size: int | None = None,
                 name: str | None = None) -> None:
        super().__init__(units, dropout, recurrent_dropout, name)
        self.activation = activations.canonical(activation)
        self.recurrent_activation = activations.canonical(recurrent_activation,
                                                          "recurrent_activation")
        self.use_bias = bool(use_bias)
        self.unit_forget_bias = bool(unit_forget_bias)
        self._act = activations.get(self.activation)
        self._gate = activations.get(self.recurrent_activation)
        self._build_if_input_size(input_size, sequence=False)

    @property
    def state_size(self):
        return (self.units, self.units)

    def _create_weights(self, input_size: int) -> None:
        self._gate_weights(input_size, 4, self.use_bias)
        if self.use_bias and self.unit_forget_bias:
            with torch.no_grad():
                self.bias[self.units:2 * self.units] = 1.0

    def _gates(self, p_t, h, recurrent_mask):
        z = p_t + F.linear(_masked(h, recurrent_mask), self.weight_hh)
        return z.chunk(4, dim=-1)

    def step(self, p_t, states, recurrent_mask=None):
        h, c = states
        i, f, g, o = self._gates(p_t, h, recurrent_mask)
        c = self._gate(f) * c + self._gate(i) * self._act(g)
        h = self._gate(o) * self._act(c)
        return h, (h, c)

    def compiled_loop(self):
        # the loop computes the plain and the peephole equations (zero peepholes for the plain)
        ok = (type(self) in (LSTMCell, PeepholeLSTMCell) and self.activation == "tanh"
              and self.recurrent_activation == "sigmoid")
        return "lstm" if ok else None

    def get_config(self):
        return {**super().get_config(), "activation": self.activation,
                "recurrent_activation": self.recurrent_activation, "use_bias": self.use_bias,
                "unit_forget_bias": self.unit_forget_bias}


@register
class PeepholeLSTMCell(LSTMCell):
    """LSTM with peephole connections (Gers & Schmidhuber 2000).

    ``c_{t-1}`` also feeds the input and forget gates and ``c_t`` the output gate, through
    diagonal (elementwise) weights ``w_ci, w_cf, w_co``, initialised like the kernel
    (glorot-uniform on a ``[units]`` vector), as TensorFlow's ``PeepholeLSTMCell`` did.
    Keras 3 no longer has this cell.
    """

    def _create_weights(self, input_size: int) -> None:
        super()._create_weights(input_size)
        self.peephole_weights = nn.Parameter(
            glorot_uniform_(torch.empty(3, self.units), self.units, self.units))

    def step(self, p_t, states, recurrent_mask=None):
        h, c = states
        i, f, g, o = self._gates(p_t, h, recurrent_mask)
        w_ci, w_cf, w_co = self.peephole_weights
        c = self._gate(f + w_cf * c) * c + self._gate(i + w_ci * c) * self._act(g)
        h = self._gate(o + w_co * c) * self._act(c)
        return h, (h, c)


@register
class GRUCell(Cell):
    """Gated recurrent unit (Cho et al. 2014).

    ``r, z = σ(·)``; ``h_t = z ⊙ h_{t-1} + (1 - z) ⊙ n``. With ``reset_after=True`` (Keras's
    and PyTorch's default) ``n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`` and there are two
    biases (input and recurrent), as in Keras; with ``False`` (the original formulation)
    ``n = tanh(W_in x + W_hn (r ⊙ h) + b_n)`` and a single bias.
    """

    def __init__(self, units: int, activation: str | None = "tanh",
                 recurrent_activation: str | None = "sigmoid", use_bias: bool = True,
                 reset_after: bool = True, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, input_size: int | None = None,
                 name: str | None = None) -> None:
        super().__init__(units, dropout, recurrent_dropout, name)
        self.activation = activations.canonical(activation)
        self.recurrent_activation = activations.canonical(recurrent_activation,
                                                          "recurrent_activation")
        self.use_bias = bool(use_bias)
        self.reset_after = bool(reset_after)
        self._act = activations.get(self.activation)
        self._gate = activations.get(self.recurrent_activation)
        self._build_if_input_size(input_size, sequence=False)

    def _create_weights(self, input_size: int) -> None:
        self._gate_weights(input_size, 3, self.use_bias)
        self.recurrent_bias = (nn.Parameter(torch.zeros(3 * self.units))
                               if self.use_bias and self.reset_after else None)

    def step(self, p_t, states, recurrent_mask=None):
        h = states[0]
        hm = _masked(h, recurrent_mask)
        u = self.units
        x_r, x_z, x_n = p_t.chunk(3, dim=-1)
        if self.reset_after:
            h_r, h_z, h_n = F.linear(hm, self.weight_hh, self.recurrent_bias).chunk(3, dim=-1)
            r = self._gate(x_r + h_r)
            z = self._gate(x_z + h_z)
            n = self._act(x_n + r * h_n)
        else:
            h_rz = F.linear(hm, self.weight_hh[:2 * u])
            r = self._gate(x_r + h_rz[..., :u])
            z = self._gate(x_z + h_rz[..., u:])
            n = self._act(x_n + F.linear(r * hm, self.weight_hh[2 * u:]))
        h = z * h + (1.0 - z) * n
        return h, (h,)

    def compiled_loop(self):
        ok = (type(self) is GRUCell and self.reset_after and self.use_bias
              and self.activation == "tanh" and self.recurrent_activation == "sigmoid")
        return "gru" if ok else None

    def get_config(self):
        return {**super().get_config(), "activation": self.activation,
                "recurrent_activation": self.recurrent_activation, "use_bias": self.use_bias,
                "reset_after": self.reset_after}
