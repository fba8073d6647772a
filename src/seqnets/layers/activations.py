"""Activation functions by their Keras names.

Layers keep the *name* (so configs stay plain JSON) and look the function up here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..errors import ConfigError

Activation = Callable[[torch.Tensor], torch.Tensor]


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    # Keras 3 definition: relu6(x + 3) / 6
    return F.relu6(x + 3.0) / 6.0


_ACTIVATIONS: dict[str, Activation] = {
    "linear": _identity,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "elu": F.elu,
    "selu": F.selu,
    "gelu": F.gelu,
    "softplus": F.softplus,
    "softsign": F.softsign,
    "swish": F.silu,
    "silu": F.silu,
    "hard_sigmoid": _hard_sigmoid,
    "exponential": torch.exp,
    "leaky_relu": lambda x: F.leaky_relu(x, 0.2),  # Keras's default negative slope
    "softmax": lambda x: torch.softmax(x, dim=-1),
}


def names() -> list[str]:
    """The activation names accepted by every layer's ``activation`` argument."""
    return sorted(_ACTIVATIONS)


def canonical(name: str | None, argument: str = "activation") -> str:
    """Validate an activation name and return its canonical form (``None`` → ``"linear"``)."""
    if name is None:
        return "linear"
    if not isinstance(name, str) or name not in _ACTIVATIONS:
        raise ConfigError(
            f"{argument}={name!r} is not a known activation; use one of {names()} "
            "(activations are named, not passed as functions, so configs stay plain JSON)"
        )
    return name


def get(name: str | None) -> Activation:
    """The function for an activation name."""
    return _ACTIVATIONS[canonical(name)]
