"""The layer base class: lazy build from the input shape, Keras-style config, a registry.

Shapes passed to ``build`` and ``compute_output_shape`` exclude the batch axis:
``(time, features)`` for sequences, ``(features,)`` for vectors; ``time`` may be ``None``.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError, DataError, ShapeError
from .lengths import cannot_take_lengths

Shape = tuple  # of int | None, batch axis excluded

_LAYER_CLASSES: dict[str, type[nn.Module]] = {}


def register(cls: type[nn.Module]) -> type[nn.Module]:
    """Class decorator: make a layer, cell or model rebuildable from its config by name.

    Register your own cells this way so that models using them can be saved and loaded::

        @seqnets.register
        class MyCell(seqnets.layers.Cell): ...
    """
    name = cls.__name__
    existing = _LAYER_CLASSES.get(name)
    if existing is not None and existing is not cls and (
        existing.__module__ != cls.__module__ or existing.__qualname__ != cls.__qualname__
    ):
        raise ConfigError(
            f"a different class is already registered as {name!r} ({existing.__module__}); "
            "rename your class"
        )
    _LAYER_CLASSES[name] = cls
    return cls


def registered_class(name: str) -> type[nn.Module]:
    """The class registered under ``name`` (a clear error when there is none)."""
    try:
        return _LAYER_CLASSES[name]
    except KeyError:
        raise ConfigError(
            f"unknown layer class {name!r} in config; known: {sorted(_LAYER_CLASSES)}. "
            "If it is your own class, import it and decorate it with @seqnets.register first."
        ) from None


def serialize(layer: nn.Module) -> dict[str, Any]:
    """``{"class_name": ..., "config": {...}}`` for a registered layer."""
    cls = type(layer)
    if _LAYER_CLASSES.get(cls.__name__) is not cls or not hasattr(layer, "get_config"):
        raise ConfigError(
            f"{cls.__name__} cannot be serialised: it needs a get_config() method and the "
            "@seqnets.register decorator"
        )
    return {"class_name": cls.__name__, "config": layer.get_config()}


def deserialize(spec: dict[str, Any]) -> nn.Module:
    """Rebuild a layer from :func:`serialize`'s output; no code is executed."""
    if not isinstance(spec, dict) or "class_name" not in spec or "config" not in spec:
        raise ConfigError("a layer config must be {'class_name': ..., 'config': ...}, "
                          f"got {spec!r}")
    cls = registered_class(spec["class_name"])
    return cls.from_config(dict(spec["config"]))


_CONVERT = {torch.float32: "float", torch.float64: "double", torch.float16: "half",
            torch.bfloat16: "bfloat16"}


def check_dtype(layer: nn.Module, x: torch.Tensor) -> None:
    """Refuse an input whose dtype is not that of ``layer``'s weights (float64 data into a
    float32 model, integers into a recurrent layer), which torch would meet with a raw
    matmul error deep inside. Unlike Keras, layers do not cast their inputs: a silent cast
    would hide a float64 pipeline's lost precision; :func:`~seqnets.fit` and ``predict``
    do convert NumPy and float64 data, as Keras's ``fit`` does. Skipped under autocast."""
    weight = next((p for p in layer.parameters() if p.is_floating_point()), None)
    if weight is None or x.dtype == weight.dtype or torch.is_autocast_enabled(x.device.type):
        return
    name = f"{type(layer).__name__} {layer.name!r}" if getattr(layer, "name", None) \
        else type(layer).__name__
    have, want = str(x.dtype).removeprefix("torch."), str(weight.dtype).removeprefix("torch.")
    method = _CONVERT.get(weight.dtype)
    fix = f"convert the input with x.{method}()" if method else f"x.to({weight.dtype})"
    if x.is_floating_point() and x.dtype in _CONVERT:
        fix += f" (or the model with model.{_CONVERT[x.dtype]}() to compute in {have})"
    raise DataError(f"{name} got {have} input, but its weights are {want}. Fix: {fix}")


def wrong_features(layer: str, built: int, x: torch.Tensor) -> ShapeError:
    """The error for an input whose last axis is not the ``built`` features a layer's
    weights were made for."""
    got = x.shape[-1] if x.dim() else None
    return ShapeError(f"{layer} was built for {built} input features, got {got} (input shape "
                      f"{tuple(x.shape)}). Fix: give inputs with {built} features on the last "
                      f"axis, or build the model for {got} (input_size={got})")


def snake_case(name: str) -> str:
    """``SimpleRNN`` → ``simple_rnn``, ``Conv1D`` → ``conv1d`` (Keras's default layer names)."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class Layer(nn.Module):
    """Base of every seqnets layer.

    A layer may be created without knowing its input size; it creates its weights in
    :meth:`build`, called by :class:`~seqnets.Sequential` with the inferred shape, or on
    the first call. ``get_config()`` returns the constructor arguments as plain JSON.

    Variable-length batches (:mod:`seqnets.layers.lengths`): a layer whose ``forward``
    takes ``lengths=`` says so with ``takes_lengths = True`` and reports its output's
    lengths with :meth:`output_lengths`; any other layer refuses ``lengths``.
    """

    takes_lengths = False
    checks_dtype = True  # False: the layer takes any dtype (token ids) and converts itself

    def __init__(self, name: str | None = None) -> None:
        super().__init__()
        self.name = name
        self.built = False

    def build(self, input_shape: Shape) -> None:
        """Create the weights for inputs of ``input_shape`` (batch axis excluded)."""
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        """The output shape for ``input_shape`` (batch axis excluded)."""
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, as plain JSON."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Layer:
        return cls(**config)

    def output_lengths(self, lengths: torch.Tensor | None) -> torch.Tensor | None:
        """The valid steps of each output sequence for inputs of ``lengths`` (``[B]``), or
        None when the output has no time axis; the same lengths by default."""
        return lengths

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs and "lengths" in kwargs and not self.takes_lengths:
            if kwargs["lengths"] is not None:
                raise ConfigError(cannot_take_lengths(self))
            kwargs = {k: v for k, v in kwargs.items() if k != "lengths"}
        if args and isinstance(args[0], torch.Tensor):
            if not self.built:
                self.build(tuple(args[0].shape[1:]))
            if args[0].dtype is not torch.float32 and self.checks_dtype:
                check_dtype(self, args[0])
        return super().__call__(*args, **kwargs)

    # helpers for subclasses -------------------------------------------------------------
    def _require_rank(self, input_shape: Shape, ranks: tuple[int, ...], what: str) -> None:
        if len(input_shape) not in ranks:
            dims = " or ".join(f"{r + 1}-D" for r in ranks)
            raise ShapeError(
                f"{type(self).__name__} expects {dims} input ({what}), got per-sample shape "
                f"{tuple(input_shape)}"
            )

    def _build_if_input_size(self, input_size: int | None, sequence: bool) -> None:
        if input_size is not None:
            self.build((None, input_size) if sequence else (input_size,))
