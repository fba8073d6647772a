"""Sequential: a stack of layers whose input sizes are inferred, Keras-style."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..checks import positive_int
from ..errors import ConfigError, ShapeError
from ..layers.base import Layer, Shape, deserialize, register, serialize, snake_case
from ..layers.conv import fusable, run_fused
from ..layers.lengths import cannot_take_lengths, check_lengths


def count_parameters(module: nn.Module) -> tuple[int, int]:
    """(trainable, non-trainable) parameter counts as Keras reports them.

    Non-trainable counts frozen parameters and floating-point buffers (BatchNorm's moving
    mean and variance), as Keras's summary does.
    """
    trainable = sum(p.numel() for p in module.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in module.parameters() if not p.requires_grad)
    # persistent buffers only: non-persistent ones are working memory, not model state
    frozen += sum(b.numel() for m in module.modules() for name, b in m._buffers.items()
                  if b is not None and b.is_floating_point()
                  and name not in m._non_persistent_buffers_set)
    return trainable, frozen


@register
class Sequential(Layer):
    """A linear stack of layers: ``Sequential([SimpleRNN(20), Dense(1)], input_size=1)``.

    Args:
        layers: the layers, in order.
        input_size: features per time step; the time length stays free.
        input_shape: ``(time, features)`` (time may be ``None``) or ``(features,)``; needed
            instead of ``input_size`` when a layer must know the length (``Flatten``).
        seed: seed for the weight initialisation (the global RNG is left untouched).

    Consecutive plain ``Conv1D`` layers (ReLU or linear, no hooks) run as one fused
    autograd function (:func:`seqnets.layers.conv.run_fused`): the same values and gradients
    as calling them one by one, with the per-layer autograd and Python costs paid once per
    run; their ``forward`` is not called.

    With an input size the model is built at once and :meth:`summary` lists each layer's
    output shape and parameter count; without one, layers build on the first call.

    Variable length: ``model(x, lengths=lengths)`` with ``lengths`` ``[B]`` (valid steps of
    each sequence, padding at the end; :func:`seqnets.training.pad_sequences` builds such
    batches) hands each layer the lengths of its input, updated where a layer changes the
    time axis (:meth:`output_lengths`), until a layer returns vectors; padding then never
    changes an output (:mod:`seqnets.layers.lengths`). Convolutions run one by one then, so
    that each reads zeros past each length. A layer that cannot honour lengths refuses them.
    """

    takes_lengths = True

    def __init__(self, layers: list[nn.Module], input_size: int | None = None,
                 input_shape: Shape | None = None, seed: int | None = None,
                 name: str | None = None) -> None:
        super().__init__(name or "sequential")
        layers = list(layers)
        if not layers:
            raise ConfigError("Sequential needs at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, nn.Module):
                raise ConfigError(f"Sequential: layer {i} is a {type(layer).__name__}, not an "
                                  f"nn.Module ({layer!r:.40}). Fix: pass layer objects "
                                  "(seqnets.layers.GRU(20)); sn.zoo.build(name) builds a zoo "
                                  "model by name")
        if input_size is not None and input_shape is not None:
            raise ConfigError("give input_size or input_shape, not both")
        if input_size is not None:
            positive_int(input_size, "input_size")
            input_shape = (None, input_size)
        self.input_shape = tuple(input_shape) if input_shape is not None else None
        self.seed = seed
        _assign_names(layers)
        self.layers = nn.ModuleList(layers)
        self.output_shapes: list[Shape] = []
        if self.input_shape is not None:
            self.build(self.input_shape)

    def build(self, input_shape: Shape) -> None:
        generator_state = None
        if self.seed is not None:
            generator_state = torch.random.get_rng_state()
            torch.manual_seed(self.seed)
        try:
            shape = tuple(input_shape)
            self.output_shapes = []
            for layer in self.layers:
                if not getattr(layer, "built", True):
                    layer.build(shape)
                try:
                    shape = layer.compute_output_shape(shape)
                except ShapeError as err:
                    raise ShapeError(f"layer {getattr(layer, 'name', '?')!r}: {err}") from None
                self.output_shapes.append(shape)
        finally:
            if generator_state is not None:
                torch.random.set_rng_state(generator_state)
        self.input_shape = tuple(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape: Shape) -> Shape:
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.compute_output_shape(shape)
        return shape

    def output_lengths(self, lengths: torch.Tensor | None) -> torch.Tensor | None:
        """The valid steps of each output sequence for inputs of ``lengths``, or None when
        the output has no time axis."""
        for layer in self.layers:
            if lengths is None:
                break
            lengths = _layer_lengths(layer, lengths)
        return lengths

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if lengths is not None:
            lengths = check_lengths(lengths, x, self.name)
            for layer in self.layers:
                if lengths is None:  # no time axis left
                    x = layer(x)
                    continue
                after = _layer_lengths(layer, lengths)
                x = layer(x, lengths=lengths)
                lengths = after
            return x
        layers = list(self.layers)
        i = 0
        while i < len(layers):
            end = i
            while end < len(layers) and fusable(layers[end]):
                end += 1
            if end - i >= 2:  # consecutive convolutions: one fused autograd function
                x = run_fused(layers[i:end], x)
                i = end
            else:
                x = layers[i](x)
                i += 1
        return x

    @property
    def checks_dtype(self) -> bool:
        """Whether a call checks the input's dtype here: not when the first layer takes
        token ids (an Embedding) and converts them itself."""
        return getattr(self.layers[0], "checks_dtype", True)

    def __getitem__(self, index: int) -> nn.Module:
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    # description ------------------------------------------------------------------------
    def summary(self, print_fn: Any = print) -> str:
        """Print (and return) the layers, output shapes and parameter counts, as Keras does."""
        if not self.built:
            raise ShapeError("the model is not built yet: give Sequential an input_size or "
                             "input_shape, or call it once on a batch")
        rows = []
        for layer, shape in zip(self.layers, self.output_shapes, strict=True):
            trainable, frozen = count_parameters(layer)
            name = getattr(layer, "name", None) or snake_case(type(layer).__name__)
            rows.append((f"{name} ({type(layer).__name__})",
                         str((None, *shape)), f"{trainable + frozen:,}"))
        widths = [max(30, *(len(r[0]) + 2 for r in rows)), 26, 12]
        line = "_" * sum(widths)
        fmt = lambda cols: "".join(f" {c:<{w - 1}}" for c, w in zip(cols, widths, strict=True))  # noqa: E731
        out = [f'Model: "{self.name}"', line, fmt(("Layer (type)", "Output Shape", "Param #")),
               "=" * sum(widths)]
        for i, row in enumerate(rows):
            out.append(fmt(row))
            if i < len(rows) - 1:
                out.append("")
        trainable, frozen = count_parameters(self)
        out += ["=" * sum(widths), f"Total params: {trainable + frozen:,}",
                f"Trainable params: {trainable:,}", f"Non-trainable params: {frozen:,}", line]
        text = "\n".join(out)
        if print_fn is not None:
            print_fn(text)
        return text

    def count_params(self) -> int:
        """Total parameters (trainable + non-trainable), as Keras's ``count_params``."""
        return sum(count_parameters(self))

    # configs ----------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        return {"name": self.name,
                "input_shape": list(self.input_shape) if self.input_shape else None,
                "layers": [serialize(layer) for layer in self.layers]}

    def config(self) -> dict[str, Any]:
        """The whole architecture as plain JSON (``{"class_name": ..., "config": ...}``)."""
        return serialize(self)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Sequential:
        """Rebuild from :meth:`config` (either the full spec or its ``"config"`` part)."""
        if "class_name" in config:
            if config["class_name"] != "Sequential":
                raise ConfigError(f"not a Sequential config: {config['class_name']!r}")
            config = config["config"]
        layers = [deserialize(spec) for spec in config["layers"]]
        shape = config.get("input_shape")
        return cls(layers, input_shape=tuple(shape) if shape else None, name=config.get("name"))


def _layer_lengths(layer: nn.Module, lengths: torch.Tensor) -> torch.Tensor | None:
    """The lengths of ``layer``'s output; a clear error if it cannot take lengths."""
    if not getattr(layer, "takes_lengths", False):
        raise ConfigError(cannot_take_lengths(layer))
    return layer.output_lengths(lengths)


def _assign_names(layers: list[nn.Module]) -> None:
    """Give unnamed layers Keras-style unique names (``simple_rnn``, ``simple_rnn_1``, ...)."""
    taken = {getattr(layer, "name", None) for layer in layers}
    counts: dict[str, int] = {}
    for layer in layers:
        if not isinstance(layer, Layer) or layer.name is not None:
            continue
        base = snake_case(type(layer).__name__)
        while True:
            n = counts.get(base, 0)
            counts[base] = n + 1
            candidate = base if n == 0 else f"{base}_{n}"
            if candidate not in taken:
                break
        layer.name = candidate
        taken.add(candidate)
