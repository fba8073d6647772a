"""Bidirectional: a recurrent layer run forwards and, as a copy with its own weights, backwards."""

from __future__ import annotations

from typing import Any

import torch

from ..errors import ConfigError, ShapeError
from .base import Layer, Shape, deserialize, register, serialize
from .lengths import check_lengths, reverse_within
from .recurrent import RNN

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


@register
class Bidirectional(Layer):
    """Runs a recurrent layer forwards and a copy of it backwards, and merges the outputs.

    The backward copy has the same config with ``go_backwards`` flipped (its own weights);
    with ``return_sequences`` its outputs are re-reversed so that step ``t`` of both halves
    describes input step ``t``. ``merge_mode``: ``"concat"`` (default), ``"sum"``,
    ``"mul"``, ``"ave"``, or ``None`` (return both).

    ``layer(x, lengths=lengths)`` (padded batches, :mod:`.lengths`): the backward copy
    reverses each sequence within its own length, so that it starts at the sequence's last
    valid step, and its outputs are re-reversed the same way; padded steps are zeros.
    """

    takes_lengths = True

    def __init__(self, layer: RNN, merge_mode: str | None = "concat",
                 name: str | None = None) -> None:
        super().__init__(name)
        if not isinstance(layer, RNN):
            raise ConfigError(f"Bidirectional wraps a recurrent layer, got {type(layer).__name__}")
        if layer.return_state:
            raise ConfigError("Bidirectional does not support return_state=True layers")
        if merge_mode not in _MERGE_MODES:
            raise ConfigError(f"merge_mode must be one of {_MERGE_MODES}, got {merge_mode!r}")
        self.merge_mode = merge_mode
        self.forward_layer = layer
        spec = serialize(layer)
        spec["config"] = {**spec["config"], "go_backwards": not layer.go_backwards,
                          "name": None}
        self.backward_layer = deserialize(spec)
        self.built = layer.built
        if self.built:
            self.backward_layer.build((None, layer.cell.input_size))

    def build(self, input_shape: Shape) -> None:
        for layer in (self.forward_layer, self.backward_layer):
            if not layer.built:
                layer.build(tuple(input_shape))
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = self.forward_layer.compute_output_shape(input_shape)
        if self.merge_mode == "concat":
            return (*shape[:-1], 2 * shape[-1])
        if self.merge_mode is None:
            raise ShapeError("Bidirectional(merge_mode=None) returns a pair and cannot feed "
                             "the next layer of a Sequential model")
        return shape

    def output_lengths(self, lengths: torch.Tensor | None) -> torch.Tensor | None:
        return self.forward_layer.output_lengths(lengths)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> Any:
        if lengths is None:
            y_f = self.forward_layer(x)
            y_b = self.backward_layer(x)
            if self.forward_layer.return_sequences:
                y_b = y_b.flip(1)
        else:
            lengths = check_lengths(lengths, x, self.name or "Bidirectional")
            y_f = self.forward_layer(x, lengths=lengths)
            y_b = self.backward_layer(x, lengths=lengths)
            if self.forward_layer.return_sequences:
                y_b = reverse_within(y_b, lengths)
        if self.merge_mode == "concat":
            return torch.cat([y_f, y_b], dim=-1)
        if self.merge_mode == "sum":
            return y_f + y_b
        if self.merge_mode == "mul":
            return y_f * y_b
        if self.merge_mode == "ave":
            return (y_f + y_b) / 2
        return y_f, y_b

    def get_config(self) -> dict[str, Any]:
        return {"layer": serialize(self.forward_layer), "merge_mode": self.merge_mode,
                "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Bidirectional:
        config = dict(config)
        config["layer"] = deserialize(config["layer"])
        return cls(**config)
