"""Training: the loop (:func:`fit`, :func:`evaluate`, :func:`predict`), its settings
(:class:`FitConfig`), callbacks, optimisers, losses and metrics; :func:`pad_sequences`
batches variable-length sequences."""

from . import callbacks
from .batches import pad_sequences
from .callbacks import EarlyStopping, ModelCheckpoint, ReduceLROnPlateau, TensorBoard
from .config import FitConfig
from .loop import evaluate, fit, fit_config, predict
from .optim import LeanAdam, Nadam, make_optimizer
from .sharded import fit_sharded
from .state import Callback, History, Trainer

__all__ = ["Callback", "EarlyStopping", "FitConfig", "History", "LeanAdam", "ModelCheckpoint",
           "Nadam", "ReduceLROnPlateau", "TensorBoard", "Trainer", "callbacks", "evaluate", "fit",
           "fit_config", "fit_sharded", "make_optimizer", "pad_sequences", "predict"]
