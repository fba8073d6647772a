"""Ensemble: several models of one architecture (other seeds), combined by the median."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..checks import positive_int
from ..errors import ConfigError, ShapeError
from ..layers.base import Layer, Shape, deserialize, register, serialize


@register
class Ensemble(Layer):
    """The element-wise median (or mean) of its members' outputs.

    Members take the same input and give outputs of one shape: ``[B, ...] -> [B, ...]``. The
    median of an even count is the mean of the two middle values. ``combine="probability"``
    is for classifiers whose members give logits: the output is the logarithm of the mean of
    the members' softmax probabilities (over the last axis), so its softmax is that mean.
    ``lengths`` (variable-length batches) pass through to the members. With ``windows`` (one
    length per member), member ``i`` reads only the last ``windows[i]`` steps of an input
    ``[B, T, F]``; sequence outputs ``[B, L_i, k]`` are aligned at their last step and the
    ensemble gives the steps every member has. Members are trained apart
    (``Forecaster(ensemble=n)`` and ``Classifier(ensemble=n)`` train each with its own
    seed); the ensemble only combines.
    Saved and loaded like any model (each member's config and weights inside).
    """

    COMBINES = ("median", "mean", "probability")
    takes_lengths = True

    def __init__(self, members: list[nn.Module], combine: str = "median",
                 windows: list[int] | None = None, name: str | None = None) -> None:
        super().__init__(name)
        if not members:
            raise ConfigError("an Ensemble needs at least one member")
        if windows is not None:
            windows = [positive_int(w, "windows[i]") for w in windows]
            if len(windows) != len(members):
                raise ConfigError(f"windows: one length per member ({len(members)}), got "
                                  f"{len(windows)}")
        self.windows = windows
        if combine not in self.COMBINES:
            raise ConfigError(f"combine must be one of {self.COMBINES}, got {combine!r}")
        self.members = nn.ModuleList(members)
        self.combine = combine
        self.built = all(getattr(m, "built", True) for m in members)

    @property
    def checks_dtype(self) -> bool:
        """As the members: models that start with an Embedding take ids of any dtype."""
        return getattr(self.members[0], "checks_dtype", True)

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        if self.windows is None:
            return self.members[0].compute_output_shape(input_shape)
        i = min(range(len(self.windows)), key=self.windows.__getitem__)
        return self.members[i].compute_output_shape((self.windows[i], *input_shape[1:]))

    def output_lengths(self, lengths: torch.Tensor | None) -> torch.Tensor | None:
        return self.members[0].output_lengths(lengths) \
            if hasattr(self.members[0], "output_lengths") else lengths

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if lengths is not None:
            if self.windows is not None:
                raise ConfigError("an Ensemble over input windows cannot take lengths: each "
                                  "member reads the last steps of a full-length input")
            outs = [m(x, lengths=lengths) for m in self.members]
        elif self.windows is None:
            outs = [m(x) for m in self.members]
        else:
            if x.shape[1] < max(self.windows):
                raise ShapeError(f"the ensemble reads {max(self.windows)} steps, the input "
                                 f"has {x.shape[1]}")
            outs = [m(x[:, x.shape[1] - w:]) for m, w in zip(self.members, self.windows,
                                                            strict=True)]
            if outs[0].dim() == 3:  # sequences end together: keep the steps all members have
                steps = min(o.shape[1] for o in outs)
                outs = [o[:, o.shape[1] - steps:] for o in outs]
        outs = torch.stack(outs)                                        # (members, B, ...)
        if len(self.members) == 1:
            return outs[0]
        if self.combine == "probability":  # log of the mean probability, computed stably
            return torch.logsumexp(torch.log_softmax(outs, dim=-1), dim=0) \
                - math.log(len(self.members))
        return outs.mean(0) if self.combine == "mean" else torch.quantile(outs, 0.5, dim=0)

    def get_config(self) -> dict[str, Any]:
        return {"members": [serialize(m) for m in self.members], "combine": self.combine,
                "windows": self.windows, "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Ensemble:
        config = dict(config)
        config["members"] = [deserialize(spec) for spec in config["members"]]
        return cls(**config)
