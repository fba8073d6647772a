"""Global pooling over time: ``[B, T, F] → [B, F]`` (Keras's ``GlobalAveragePooling1D``
and ``GlobalMaxPooling1D``, channels last)."""

from __future__ import annotations

from typing import Any

import torch

from ..errors import ConfigError
from .base import Layer, Shape, register
from .lengths import check_lengths, pad_mask


class _GlobalPooling1D(Layer):
    takes_lengths = True

    def __init__(self, data_format: str = "channels_last", keepdims: bool = False,
                 name: str | None = None) -> None:
        super().__init__(name)
        if data_format != "channels_last":
            raise ConfigError(f"{type(self).__name__} takes [batch, time, features] inputs "
                              f"(data_format='channels_last'), got {data_format!r}")
        self.data_format = data_format
        self.keepdims = bool(keepdims)
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        self._require_rank(input_shape, (2,), "[batch, time, features]")
        return (1, input_shape[-1]) if self.keepdims else (input_shape[-1],)

    def output_lengths(self, lengths: torch.Tensor | None) -> torch.Tensor | None:
        """None (no time axis left), or ones with ``keepdims``."""
        if lengths is None or not self.keepdims:
            return None
        return torch.ones_like(lengths)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        self._require_rank(tuple(x.shape[1:]), (2,), "[batch, time, features]")
        pad = None
        if lengths is not None:
            lengths = check_lengths(lengths, x, self.name or type(self).__name__)
            pad = pad_mask(lengths, x.shape[1])[..., None]  # [B, T, 1]
        y = self._pool(x, pad, lengths)
        return y.unsqueeze(1) if self.keepdims else y

    def _pool(self, x: torch.Tensor, pad: torch.Tensor | None,
              lengths: torch.Tensor | None) -> torch.Tensor:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {"data_format": self.data_format, "keepdims": self.keepdims, "name": self.name}


@register
class GlobalAveragePooling1D(_GlobalPooling1D):
    """The mean over time of each feature: ``[B, T, F] → [B, F]`` (``[B, 1, F]`` with
    ``keepdims``). With ``lengths`` (padded batches, :mod:`.lengths`) the mean of each
    sequence's valid steps only, as Keras's does under a mask."""

    def _pool(self, x, pad, lengths):
        if pad is None:
            return x.mean(dim=1)
        return x.masked_fill(pad, 0.0).sum(dim=1) / lengths[:, None].to(x.dtype)


@register
class GlobalMaxPooling1D(_GlobalPooling1D):
    """The maximum over time of each feature: ``[B, T, F] → [B, F]`` (``[B, 1, F]`` with
    ``keepdims``). With ``lengths`` the maximum of each sequence's valid steps only."""

    def _pool(self, x, pad, lengths):
        if pad is None:
            return x.amax(dim=1)
        return x.masked_fill(pad, float("-inf")).amax(dim=1)


__all__ = ["GlobalAveragePooling1D", "GlobalMaxPooling1D"]
