"""Recurrent layers: the generic :class:`RNN` driver and the fused SimpleRNN / LSTM / GRU.

Input ``[B, T, F]``; output ``[B, T, units]`` with ``return_sequences=True``, else the
last output ``[B, units]``. ``return_state=True`` returns ``(output, *final_states)``.

Variable length (:mod:`.lengths`): ``layer(x, lengths=lengths)`` with ``lengths`` ``[B]``
(valid steps per sequence, padding at the end) skips each sequence's padding: the output
without ``return_sequences`` and the states of ``return_state`` are those of each
sequence's last valid step, and with ``return_sequences`` the padded steps are zeros.
``go_backwards`` then reverses each sequence within its own length (processing starts at its
last valid step), and its outputs, in processing order, keep the padding at the end. The
fused kernels run packed sequences (``pack_padded_sequence``), the cell loop carries each
state unchanged over padded steps, and the compiled loops run as
:func:`seqnets.layers.ops.dispatch.recurrent_path` describes; all give the same results.

Dropout follows Keras: ``dropout`` drops input features and ``recurrent_dropout`` drops
units of ``h_{t-1}`` in the recurrent product, with one mask per sequence reused at every
step (variational dropout, Gal & Ghahramani 2016). The state carried to the next step is
not masked (Keras 2's semantics).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from ..errors import ConfigError, ShapeError
from .base import Layer, Shape, deserialize, register, serialize, wrong_features
from .cells import Cell, GRUCell, LSTMCell, SimpleRNNCell, States
from .core import dropout_active
from .lengths import check_lengths, last_steps, pad_time, reverse_within, step_mask, zero_padding
from .ops import dispatch
from .ops import recurrent as compiled_loops

IMPLEMENTATIONS = ("auto", "fused", "compiled", "loop")


def _sequence_mask(batch: int, size: int, rate: float, like: torch.Tensor) -> torch.Tensor:
    """One inverted-dropout mask ``[B, size]`` per sequence."""
    keep = 1.0 - rate
    return torch.bernoulli(like.new_full((batch, size), keep)) / keep


def _has_split_step(cell: nn.Module) -> bool:
    """Whether the cell's step can be split into ``project`` + ``step`` (see :mod:`.cells`).

    A :class:`Cell` subclass that implements only ``forward`` (the documented protocol for
    your own cells) inherits ``Cell.project``/``Cell.step``, which it cannot run; one that
    overrides ``forward`` must have that override called at every step.
    """
    if not (hasattr(cell, "project") and hasattr(cell, "step")):
        return False
    if isinstance(cell, Cell):
        cls = type(cell)
        return cls.step is not Cell.step and cls.forward is Cell.forward
    return True


@register
class RNN(Layer):
    """Runs any cell over a sequence; the cell defines one step (see :mod:`.cells`).

    Args:
        cell: a :class:`~seqnets.layers.Cell`, or any module with ``state_size``,
            ``output_size`` and ``forward(x_t, states) -> (y_t, new_states)``.
        return_sequences: output every step ``[B, T, units]`` or only the last ``[B, units]``.
        return_state: also return the final states, as ``(output, *states)``.
        go_backwards: process the sequence in reverse (outputs stay in processing order,
            as in Keras).
        implementation: how the time loop runs; every choice gives the same results.
            ``"auto"`` (default) picks the fastest available for the device: on CPU the
            compiled loop (numba, the ``fast`` extra) where the cell supports it, else
            PyTorch's fused kernel; on GPU the fused cuDNN kernel. ``"fused"``,
            ``"compiled"`` and ``"loop"`` (the reference cell loop) ask for one; a path
            that cannot run the configuration (say, fused with recurrent dropout while
            training) falls back to the loop.

    Call: ``layer(x, initial_state=None, lengths=None)``; ``lengths`` ``[B]`` for padded
    batches (see the module docstring).
    """

    takes_lengths = True

    def __init__(self, cell: nn.Module, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False,
                 implementation: str = "auto", input_size: int | None = None,
                 name: str | None = None) -> None:
        super().__init__(name)
        if implementation not in IMPLEMENTATIONS:
            raise ConfigError(f"implementation must be one of {IMPLEMENTATIONS}, "
                              f"got {implementation!r}")
        self.implementation = implementation
        for attr in ("state_size", "output_size"):
            if not hasattr(cell, attr):
                raise ConfigError(f"RNN needs a cell with a {attr!r} attribute; "
                                  f"{type(cell).__name__} has none")
        self.cell = cell
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.mc_dropout = False
        self.built = getattr(cell, "built", True)
        self._build_if_input_size(input_size, sequence=True)

    # shapes and building --------------------------------------------------------------
    def build(self, input_shape: Shape) -> None:
        self._require_rank(input_shape, (2,), "[batch, time, features]")
        if not getattr(self.cell, "built", True):
            self.cell.build(tuple(input_shape))
        self.built = True

    def _state_sizes(self) -> tuple[int, ...]:
        size = self.cell.state_size
        return tuple(size) if isinstance(size, (tuple, list)) else (int(size),)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._require_rank(input_shape, (2,), "[batch, time, features]")
        units = int(self.cell.output_size)
        out = (input_shape[0], units) if self.return_sequences else (units,)
        if self.return_state:
            raise ShapeError(
                f"{self.name or type(self).__name__} has return_state=True; its output is a "
                "tuple and cannot feed the next layer of a Sequential model"
            )
        return out

    # running --------------------------------------------------------------------------
    def _check_input(self, x: torch.Tensor) -> None:
        if x.dim() != 3:
            fix = ". Fix: add the feature axis (x.unsqueeze(-1))" if x.dim() == 2 else ""
            raise ShapeError(f"{type(self).__name__} expects [batch, time, features], "
                             f"got a tensor of shape {tuple(x.shape)}{fix}")
        if x.shape[1] == 0:
            raise ShapeError(f"{type(self).__name__} got a sequence of length 0")
        size = getattr(self.cell, "input_size", None)
        if size is not None and x.shape[2] != size:
            raise wrong_features(type(self).__name__, size, x)

    def _initial(self, x: torch.Tensor, initial_state: Any) -> States:
        if initial_state is None:
            return tuple(x.new_zeros(x.shape[0], s) for s in self._state_sizes())
        states = ((initial_state,) if isinstance(initial_state, torch.Tensor)
                  else tuple(initial_state))
        expected = [(x.shape[0], s) for s in self._state_sizes()]
        got = [tuple(s.shape) for s in states]
        if got != expected:
            raise ShapeError(f"initial_state shapes {got} do not match the cell's {expected}")
        return states

    def output_lengths(self, lengths: torch.Tensor | None) -> torch.Tensor | None:
        """The input's lengths with ``return_sequences``, else None (no time axis)."""
        return lengths if self.return_sequences else None

    def forward(self, x: torch.Tensor, initial_state: Any = None,
                lengths: torch.Tensor | None = None) -> Any:
        self._check_input(x)
        states = self._initial(x, initial_state)
        steps = x.shape[1]
        if lengths is not None:
            lengths = check_lengths(lengths, x, self.name or type(self).__name__)
            x = zero_padding(x[:, :int(lengths.max())], lengths)  # no step past the longest
            if self.go_backwards:
                x = reverse_within(x, lengths)
        elif self.go_backwards:
            x = x.flip(1)
        active = dropout_active(self)
        rate = getattr(self.cell, "dropout", 0.0)
        if active and rate > 0.0:
            x = x * _sequence_mask(x.shape[0], x.shape[2], rate, x).unsqueeze(1)
        rec_rate = getattr(self.cell, "recurrent_dropout", 0.0)
        rec_mask = None
        if active and rec_rate > 0.0:
            rec_mask = _sequence_mask(x.shape[0], self._state_sizes()[0], rec_rate, x)
        path = dispatch.recurrent_path(self, x, rec_mask, lengths)
        if path == "fused":
            outputs, states = self._forward_fused(x, states, lengths)
        elif path == "compiled":
            outputs, states = compiled_loops.run(self.compiled_loop(), self.cell, x, states,
                                                 rec_mask, lengths)
        else:
            outputs, states = self._forward_loop(x, states, rec_mask, lengths)
        if lengths is None:
            out = outputs if self.return_sequences else outputs[:, -1]
        elif self.return_sequences:
            out = pad_time(zero_padding(outputs, lengths), steps)
        else:
            out = last_steps(outputs, lengths)
        return (out, *states) if self.return_state else out

    def compiled_loop(self) -> str | None:
        """The compiled CPU loop the cell fits (its ``compiled_loop``), or None (a cell of
        your own without one runs the cell loop); :mod:`.ops.dispatch` decides if it runs."""
        declared = getattr(self.cell, "compiled_loop", None)
        return declared() if callable(declared) else None

    def has_fused_kernel(self) -> bool:
        """Whether the configuration has a PyTorch fused kernel (oneDNN / cuDNN)."""
        return False

    def bounded_states(self) -> bool:
        """Whether the compiled loop's states stay finite over any number of steps: tanh and
        sigmoid saturate (an LSTM's cell state grows at most by one a step); ReLU does not."""
        family = self.compiled_loop()
        if family == "simple_rnn":
            return getattr(self.cell, "activation", None) == "tanh"
        return family in ("ln_rnn", "gru", "lstm")

    def _forward_fused(self, x: torch.Tensor, states: States,
                       lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, States]:
        raise NotImplementedError

    def _forward_loop(self, x: torch.Tensor, states: States,
                      rec_mask: torch.Tensor | None = None,
                      lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, States]:
        """The reference path: the cell's step at every time step. With ``lengths`` the
        states are carried unchanged over each sequence's padded steps."""
        cell = self.cell
        valid = None if lengths is None else step_mask(lengths, x.shape[1])[..., None]
        if _has_split_step(cell):
            projected = cell.project(x)  # the input product for every step at once
            outputs = []
            for t in range(x.shape[1]):
                y, new = cell.step(projected[:, t], states, rec_mask)
                states = new if valid is None else _carry(valid[:, t], new, states)
                outputs.append(y)
        else:  # a user's own cell: only forward(x_t, states)
            if rec_mask is not None:
                raise ConfigError(
                    f"{type(cell).__name__} has recurrent_dropout > 0 but only a forward(); "
                    "implement step(p_t, states, recurrent_mask) and project(x) (see "
                    "seqnets.layers.cells) so the mask can reach the recurrent product")
            outputs = []
            for t in range(x.shape[1]):
                y, new = cell(x[:, t], states)
                new = (new,) if isinstance(new, torch.Tensor) else tuple(new)
                states = new if valid is None else _carry(valid[:, t], new, states)
                outputs.append(y)
        return torch.stack(outputs, dim=1), tuple(states)

    def get_config(self) -> dict[str, Any]:
        return {"cell": serialize(self.cell), "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "implementation": self.implementation, "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> RNN:
        config = dict(config)
        config["cell"] = deserialize(config["cell"])
        return cls(**config)


def _carry(valid: torch.Tensor, new: States, old: States) -> States:
    """The new states where the step is valid (``valid`` ``[B, 1]``), the old ones elsewhere."""
    return tuple(torch.where(valid, n, o) for n, o in zip(new, old, strict=True))


class _FusedRNN(RNN):
    """A recurrent layer that owns its cell and can run PyTorch's fused kernel.

    See :class:`RNN` for ``implementation`` and ``lengths``; all paths give the same results.
    """

    cell_class: type[Cell]

    def __init__(self, units: int, *, return_sequences: bool = False,
                 return_state: bool = False, go_backwards: bool = False,
                 implementation: str = "auto", input_size: int | None = None,
                 name: str | None = None, **cell_args: Any) -> None:
        cell = self.cell_class(units, **cell_args)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, implementation=implementation,
                         input_size=input_size, name=name)

    @property
    def units(self) -> int:
        return self.cell.units

    def get_config(self) -> dict[str, Any]:
        cell_config = self.cell.get_config()
        cell_config.pop("name", None)
        return {**cell_config, "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "implementation": self.implementation, "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> _FusedRNN:
        return cls(**config)

    def build(self, input_shape: Shape) -> None:
        super().build(input_shape)
        c = self.cell
        if c.bias is not None and getattr(c, "recurrent_bias", None) is None:
            # PyTorch's kernels take two biases; Keras's SimpleRNN and LSTM have one. The
            # second is a zero buffer kept for good, so that on CUDA it can live in the
            # same flat block of memory as the weights (see _flatten_for_cudnn).
            self.register_buffer("_zero_recurrent_bias", torch.zeros_like(c.bias),
                                 persistent=False)

    def _fused_weights(self) -> list[torch.Tensor]:
        """The weights in the order PyTorch's fused kernels take them (no biases when the
        cell has none)."""
        c = self.cell
        if c.bias is None:
            return [c.weight_ih, c.weight_hh]
        recurrent_bias = getattr(c, "recurrent_bias", None)
        if recurrent_bias is None:
            recurrent_bias = self._zero_recurrent_bias
        return [c.weight_ih, c.weight_hh, c.bias, recurrent_bias]

    def _run_fused(self, op: Any, x: torch.Tensor, hx: tuple[torch.Tensor, ...],
                   lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """``op`` (``torch.lstm``, ``torch.gru``, ...) on ``x`` from states ``hx`` (each
        ``[1, B, H]``): ``(outputs, *states)``. With ``lengths``, on packed sequences: the
        states of each sequence's last valid step, zeros at padded steps."""
        weights = self._fused_weights()
        bias = len(weights) == 4
        state = hx if len(hx) > 1 else hx[0]
        if lengths is None:
            return op(x, state, weights, bias, 1, 0.0, self.training, False, True)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        order, unorder = packed.sorted_indices, packed.unsorted_indices
        sort = lambda h: h.index_select(1, order)  # noqa: E731
        state = tuple(map(sort, hx)) if len(hx) > 1 else sort(hx[0])
        data, *states = op(packed.data, packed.batch_sizes, state, weights, bias, 1, 0.0,
                           self.training, False)
        out, _ = pad_packed_sequence(PackedSequence(data, packed.batch_sizes, order, unorder),
                                     batch_first=True, total_length=x.shape[1])
        return (out, *(h.index_select(1, unorder) for h in states))

    def _cudnn_mode(self) -> str:
        """cuDNN's name for the fused kernel: RNN_TANH, RNN_RELU, LSTM or GRU."""
        raise NotImplementedError

    # cuDNN runs from one flat block of weights; weights elsewhere are copied there at every
    # call, with a warning. As nn.LSTM does, the parameters become views into such a block
    # whenever the layer moves to the GPU (the Parameter objects stay the same).

    def _apply(self, fn: Any, recurse: bool = True) -> _FusedRNN:
        out = super()._apply(fn, recurse)
        self._flatten_for_cudnn()
        return out

    def _flatten_for_cudnn(self) -> None:
        if not (self.built and self.has_fused_kernel()):
            return
        weights = self._fused_weights()
        first = weights[0]
        if not (first.is_cuda and torch.backends.cudnn.is_acceptable(first)
                and all(w.is_cuda and w.dtype == first.dtype for w in weights)
                and len({w.data_ptr() for w in weights}) == len(weights)):
            return
        from torch.backends.cudnn import rnn as cudnn_rnn

        with torch.cuda.device_of(first), torch.no_grad():
            torch._cudnn_rnn_flatten_weight(weights, len(weights), first.shape[1],
                                            cudnn_rnn.get_cudnn_mode(self._cudnn_mode()),
                                            self.units, 0, 1, True, False)


@register
class SimpleRNN(_FusedRNN):
    """Fully connected recurrent layer: ``h_t = φ(x_t W_x + h_{t-1} W_h + b)``.

    Keras's arguments and defaults (``activation="tanh"``, glorot-uniform kernel,
    orthogonal recurrent kernel, zero bias). Fused for tanh and relu. Padded batches:
    ``layer(x, lengths=lengths)`` (see the module docstring).
    """

    cell_class = SimpleRNNCell

    def __init__(self, units: int, activation: str | None = "tanh", use_bias: bool = True,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, **kwargs: Any) -> None:
        super().__init__(units, activation=activation, use_bias=use_bias, dropout=dropout,
                         recurrent_dropout=recurrent_dropout, **kwargs)

    def has_fused_kernel(self) -> bool:
        return self.cell.activation in ("tanh", "relu")

    def _cudnn_mode(self) -> str:
        return "RNN_TANH" if self.cell.activation == "tanh" else "RNN_RELU"

    def _forward_fused(self, x, states, lengths=None):
        op = torch.rnn_tanh if self.cell.activation == "tanh" else torch.rnn_relu
        out, h = self._run_fused(op, x, (states[0].unsqueeze(0),), lengths)
        return out, (h.squeeze(0),)


@register
class LSTM(_FusedRNN):
    """Long short-term memory layer (see :class:`~seqnets.layers.LSTMCell`).

    Keras's defaults, forget-gate bias 1 included. On CPU the native time loop where it
    builds, else oneDNN's fused kernel (:mod:`seqnets.layers.ops.dispatch`); on GPU cuDNN's.
    The cell loop when the activations differ from tanh/sigmoid, and (without the native loop
    or numba) when ``recurrent_dropout`` is active. Padded batches: ``layer(x, lengths=...)``.
    """

    cell_class = LSTMCell

    def __init__(self, units: int, activation: str | None = "tanh",
                 recurrent_activation: str | None = "sigmoid", use_bias: bool = True,
                 unit_forget_bias: bool = True, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, **kwargs: Any) -> None:
        super().__init__(units, activation=activation,
                         recurrent_activation=recurrent_activation, use_bias=use_bias,
                         unit_forget_bias=unit_forget_bias, dropout=dropout,
                         recurrent_dropout=recurrent_dropout, **kwargs)

    def has_fused_kernel(self) -> bool:
        c = self.cell
        return c.activation == "tanh" and c.recurrent_activation == "sigmoid"

    def _cudnn_mode(self) -> str:
        return "LSTM"

    def _forward_fused(self, x, states, lengths=None):
        out, h, c = self._run_fused(torch.lstm, x, tuple(s.unsqueeze(0) for s in states),
                                    lengths)
        return out, (h.squeeze(0), c.squeeze(0))


@register
class GRU(_FusedRNN):
    """Gated recurrent unit layer (see :class:`~seqnets.layers.GRUCell`).

    ``reset_after=True`` by default, as in Keras; that variant is fused (PyTorch's GRU is
    the same equation). ``reset_after=False`` runs the cell loop. Padded batches:
    ``layer(x, lengths=lengths)`` (see the module docstring).
    """

    cell_class = GRUCell

    def __init__(self, units: int, activation: str | None = "tanh",
                 recurrent_activation: str | None = "sigmoid", use_bias: bool = True,
                 reset_after: bool = True, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, **kwargs: Any) -> None:
        super().__init__(units, activation=activation,
                         recurrent_activation=recurrent_activation, use_bias=use_bias,
                         reset_after=reset_after, dropout=dropout,
                         recurrent_dropout=recurrent_dropout, **kwargs)

    def has_fused_kernel(self) -> bool:
        c = self.cell
        return (c.reset_after and c.activation == "tanh"
                and c.recurrent_activation == "sigmoid")

    def _cudnn_mode(self) -> str:
        return "GRU"

    def _forward_fused(self, x, states, lengths=None):
        out, h = self._run_fused(torch.gru, x, (states[0].unsqueeze(0),), lengths)
        return out, (h.squeeze(0),)
