"""The settings of one :func:`~seqnets.fit` run, as one small validated object.

A checkpoint stores it (:meth:`FitConfig.to_dict`) and a resumed run reads it back
(:meth:`FitConfig.from_dict`); optimisers and losses given as objects rather than names are
recorded by name only and must be passed again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..checks import non_negative_int, positive_int, positive_number
from ..errors import ConfigError
from .losses import LossFn
from .optim import OptimizerSpec


@dataclass(frozen=True)
class FitConfig:
    """Training settings; see :func:`~seqnets.fit` for each one. Checked on creation."""

    epochs: int = 1
    batch_size: int = 32
    optimizer: OptimizerSpec = "adam"
    lr: float | None = None
    loss: str | LossFn = "mse"
    metrics: Sequence[str | LossFn] = field(default_factory=tuple)
    clipnorm: float | None = None
    global_clipnorm: float | None = None
    clipvalue: float | None = None
    shuffle: bool = True
    bucket: bool = False
    seed: int | None = None
    threads: int | None = None
    quiet: bool = False

    def __post_init__(self) -> None:
        non_negative_int(self.epochs, "epochs")
        positive_int(self.batch_size, "batch_size")
        for arg in ("clipnorm", "global_clipnorm", "clipvalue"):
            value = getattr(self, arg)
            if value is not None and not value > 0:
                raise ConfigError(f"{arg} must be positive, got {value!r}")
        if self.lr is not None:
            positive_number(self.lr, "lr")
        if self.threads is not None:
            positive_int(self.threads, "threads")
        object.__setattr__(self, "metrics", tuple(self.metrics))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings; an optimiser, loss or metric given as an object is recorded
        by its name, with ``"custom": [...]`` listing which."""
        out = asdict(self)
        custom = []
        for key in ("optimizer", "loss"):
            if not isinstance(out[key], str):
                out[key] = _name_of(out[key])
                custom.append(key)
        metrics = []
        for m in self.metrics:
            metrics.append(m if isinstance(m, str) else _name_of(m))
            if not isinstance(m, str):
                custom.append(f"metric {metrics[-1]}")
        out["metrics"] = metrics
        out["custom"] = custom
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], **objects: Any) -> FitConfig:
        """The config :meth:`to_dict` wrote; ``objects`` (``optimizer=``, ``loss=``,
        ``metrics=``) replace what was recorded by name only."""
        data = dict(data)
        custom = data.pop("custom", [])
        data.update(objects)
        missing = [c for c in custom if c.split()[0] not in objects
                   and not (c.startswith("metric") and "metrics" in objects)]
        if missing:
            raise ConfigError(f"the run used its own {', '.join(missing)}: pass them again "
                              "(FitConfig.from_dict(data, optimizer=..., loss=..., metrics=...))")
        unknown = sorted(set(data) - set(cls.__dataclass_fields__))
        if unknown:
            raise ConfigError(f"unknown fit settings {unknown}; known: "
                              f"{sorted(cls.__dataclass_fields__)}")
        return cls(**data)


def _name_of(obj: Any) -> str:
    return getattr(obj, "__name__", None) or type(obj).__name__
