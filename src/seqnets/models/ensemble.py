"""Ensemble: several models of one architecture (other seeds), combined by the median."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import ConfigError
from ..layers.base import Layer, Shape, deserialize, register, serialize


@register
class Ensemble(Layer):
    """The element-wise median (or mean) of its members' outputs.

    Members take the same input and give outputs of one shape: ``[B, ...] -> [B, ...]``. The
    median of an even count is the mean of the two middle values. Members are trained apart
    (``Forecaster(ensemble=n)`` trains each with its own seed); the ensemble only combines.
    Saved and loaded like any model (each member's config and weights inside).
    """

    COMBINES = ("median", "mean")

    def __init__(self, members: list[nn.Module], combine: str = "median",
                 name: str | None = None) -> None:
        super().__init__(name)
        if not members:
            raise ConfigError("an Ensemble needs at least one member")
        if combine not in self.COMBINES:
            raise ConfigError(f"combine must be one of {self.COMBINES}, got {combine!r}")
        self.members = nn.ModuleList(members)
        self.combine = combine
        self.built = all(getattr(m, "built", True) for m in members)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        return self.members[0].compute_output_shape(input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = torch.stack([m(x) for m in self.members])              # (members, B, ...)
        if len(self.members) == 1:
            return outs[0]
        return outs.mean(0) if self.combine == "mean" else torch.quantile(outs, 0.5, dim=0)

    def get_config(self) -> dict[str, Any]:
        return {"members": [serialize(m) for m in self.members], "combine": self.combine,
                "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Ensemble:
        config = dict(config)
        config["members"] = [deserialize(spec) for spec in config["members"]]
        return cls(**config)
