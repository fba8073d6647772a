"""Losses and metrics by their Keras names.

Classification outputs are logits (the softmax / sigmoid is part of the loss), the
numerically stable choice; Keras's equivalent is ``from_logits=True``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from ..errors import ConfigError, ShapeError

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _same_shape(name: str, pred: torch.Tensor, target: torch.Tensor) -> None:
    if pred.shape != target.shape:
        raise ShapeError(f"{name}: model output {tuple(pred.shape)} and target "
                         f"{tuple(target.shape)} have different shapes. Fix: give targets of "
                         "the output's shape, or change the model's last layer to match them")


def mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    _same_shape("mse", pred, target)
    return F.mse_loss(pred, target)


def mae(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    _same_shape("mae", pred, target)
    return F.l1_loss(pred, target)


def huber(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Keras's Huber loss, ``delta=1``."""
    _same_shape("huber", pred, target)
    return F.huber_loss(pred, target, delta=1.0)


def crossentropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Categorical cross-entropy on logits ``[..., C]``; targets are class indices ``[...]``
    (integers) or probabilities ``[..., C]``."""
    if not target.is_floating_point():
        if logits.shape[:-1] != target.shape:
            raise ShapeError(f"crossentropy: logits {tuple(logits.shape)} need integer targets "
                             f"of shape {tuple(logits.shape[:-1])}, got {tuple(target.shape)}")
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))
    _same_shape("crossentropy", logits, target)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                           target.reshape(-1, target.shape[-1]))


def _class_targets(name: str, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Integer class targets ``[...]`` for logits ``[..., C]``, checked (shape and range)."""
    if logits.shape[:-1] != target.shape:
        raise ShapeError(f"{name}: logits {tuple(logits.shape)} need class indices of shape "
                         f"{tuple(logits.shape[:-1])}, got {tuple(target.shape)}")
    if target.is_floating_point():
        ids = target.long()
        if not torch.equal(ids.to(target.dtype), target):
            raise ShapeError(f"{name}: targets must be class indices (whole numbers)")
        target = ids
    if target.numel() and (int(target.min()) < 0 or int(target.max()) >= logits.shape[-1]):
        raise ShapeError(f"{name}: class indices must be in 0..{logits.shape[-1] - 1}, got "
                         f"{int(target.min())}..{int(target.max())}")
    return target


def sparse_categorical_crossentropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Keras's ``sparse_categorical_crossentropy(from_logits=True)``: the mean over every
    position of ``-log softmax(logits)[target]``; logits ``[..., C]``, class indices ``[...]``."""
    target = _class_targets("sparse_categorical_crossentropy", logits, target)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), target.reshape(-1))


def sparse_categorical_accuracy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Share of positions whose largest logit is the target class (Keras's ``accuracy``
    with a sparse categorical loss); logits ``[..., C]``, class indices ``[...]``."""
    target = _class_targets("sparse_categorical_accuracy", logits, target)
    return (logits.argmax(-1) == target).float().mean()


def binary_crossentropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    _same_shape("binary_crossentropy", logits, target)
    return F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype))


def last_time_step_mse(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """MSE of the outputs at the last time step of ``[B, T, k]`` sequences (the chapter's
    metric for sequence-to-sequence models, comparable with vector models' MSE)."""
    _same_shape("last_time_step_mse", pred, target)
    if pred.dim() != 3:
        raise ShapeError(f"last_time_step_mse needs [batch, time, k] outputs, "
                         f"got {tuple(pred.shape)}")
    return F.mse_loss(pred[:, -1], target[:, -1])


def accuracy(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Share of correct predictions: argmax of logits against class indices or one-hot
    targets; for a single logit per output, ``logit > 0`` against 0/1 targets."""
    if not target.is_floating_point() and pred.shape[:-1] == target.shape:
        return (pred.argmax(-1) == target).float().mean()
    _same_shape("accuracy", pred, target)
    if pred.shape[-1] > 1:
        return (pred.argmax(-1) == target.argmax(-1)).float().mean()
    return ((pred > 0).to(target.dtype) == target).float().mean()


LOSSES: dict[str, LossFn] = {
    "mse": mse, "mean_squared_error": mse,
    "mae": mae, "mean_absolute_error": mae,
    "huber": huber,
    "crossentropy": crossentropy, "categorical_crossentropy": crossentropy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
    "binary_crossentropy": binary_crossentropy,
}

METRICS: dict[str, LossFn] = {
    "mse": mse, "mae": mae, "huber": huber, "last_time_step_mse": last_time_step_mse,
    "accuracy": accuracy, "crossentropy": crossentropy,
    "sparse_categorical_accuracy": sparse_categorical_accuracy,
    "sparse_categorical_crossentropy": sparse_categorical_crossentropy,
}


def get_loss(loss: str | LossFn) -> tuple[str, LossFn]:
    """(name, function) for a loss name or a callable ``(pred, target) -> scalar``."""
    if callable(loss):
        return getattr(loss, "__name__", "loss"), loss
    if loss not in LOSSES:
        raise ConfigError(f"unknown loss {loss!r}; use one of {sorted(LOSSES)} or a callable")
    return loss, LOSSES[loss]


def get_metric(metric: str | LossFn) -> tuple[str, LossFn]:
    """(name, function) for a metric name or a callable ``(pred, target) -> scalar``."""
    if callable(metric):
        return getattr(metric, "__name__", "metric"), metric
    if metric not in METRICS:
        raise ConfigError(f"unknown metric {metric!r}; use one of {sorted(METRICS)} "
                          "or a callable")
    return metric, METRICS[metric]
