"""Checkpoints that resume a :func:`~seqnets.fit` run exactly.

A checkpoint is a folder of two files, written as one unit
(:func:`~seqnets.data.files.atomic_folder`): ``checkpoint.safetensors`` holds every tensor
(weights, optimiser moments, callback tensors, RNG states) and ``checkpoint.json`` the rest
(settings, position, history, callback state), with ``{"__tensor__": name}`` where a tensor
was. Reading one never unpickles: JSON and safetensors only, bounded in size.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save

from ..data.files import atomic_folder
from ..errors import ModelFileError

FORMAT = "seqnets-checkpoint"
FORMAT_VERSION = 1
STATE_FILE = "checkpoint.json"
TENSORS_FILE = "checkpoint.safetensors"
MAX_STATE_BYTES = 256 * 2**20  # the JSON holds the history and callback state: small
_SAMPLED_ROWS = 256             # rows of the data hashed to recognise it on resume


# ----------------------------------------------------------------------------- encoding

def encode(value: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """``value`` as JSON-ready data, its tensors moved into ``tensors`` under names
    starting with ``prefix``; tuples and dicts with non-string keys are marked so that
    :func:`decode` gives them back as they were."""
    if isinstance(value, torch.Tensor):
        name = f"{prefix}#{len(tensors)}"
        tensors[name] = value.detach().cpu().contiguous().clone()
        return {"__tensor__": name}
    if isinstance(value, tuple):
        return {"__tuple__": [encode(v, prefix, tensors) for v in value]}
    if isinstance(value, list):
        return [encode(v, prefix, tensors) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and not _marked(value):
            return {k: encode(v, f"{prefix}.{k}", tensors) for k, v in value.items()}
        return {"__items__": [[encode(k, prefix, tensors), encode(v, f"{prefix}.{k}", tensors)]
                              for k, v in value.items()]}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"cannot store a {type(value).__name__} in a checkpoint (at {prefix})")


def _marked(value: dict) -> bool:
    return len(value) == 1 and next(iter(value)) in ("__tensor__", "__tuple__", "__items__")


def decode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """The value :func:`encode` stored."""
    if isinstance(value, list):
        return [decode(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if _marked(value):
        kind, inner = next(iter(value.items()))
        if kind == "__tensor__":
            if inner not in tensors:
                raise ModelFileError(f"the checkpoint names a tensor {inner!r} that its "
                                     f"{TENSORS_FILE} does not hold: the files do not match")
            return tensors[inner]
        if kind == "__tuple__":
            return tuple(decode(v, tensors) for v in inner)
        return {decode(k, tensors): decode(v, tensors) for k, v in inner}
    return {k: decode(v, tensors) for k, v in value.items()}


# ----------------------------------------------------------------------------- RNG states

def rng_states() -> dict[str, Any]:
    """Every global RNG a training step may draw from: torch (CPU and each CUDA device),
    NumPy's legacy global generator and Python's ``random``."""
    # the legacy global generator is what user code and libraries may draw from
    kind, keys, pos, has_gauss, gauss = np.random.get_state()  # noqa: NPY002
    return {"torch": torch.get_rng_state(),
            "cuda": list(torch.cuda.get_rng_state_all()) if torch.cuda.is_initialized()
            else [],
            "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(gauss)],
            "python": random.getstate()}


def set_rng_states(states: dict[str, Any]) -> None:
    """Put back what :func:`rng_states` read."""
    torch.set_rng_state(states["torch"])
    if states["cuda"]:
        torch.cuda.set_rng_state_all(states["cuda"])
    kind, keys, pos, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss,  # noqa: NPY002
                         gauss))
    version, internal, gauss_next = states["python"]
    random.setstate((version, tuple(internal), gauss_next))


# ----------------------------------------------------------------------------- data

def data_fingerprint(*arrays: torch.Tensor | None) -> dict[str, Any]:
    """Shapes, dtypes and a hash of up to 256 evenly spaced rows of each array: enough to
    tell a resumed run that it was given other data, without copying a large dataset."""
    shapes, digest = [], hashlib.sha256()
    for a in arrays:
        if a is None:
            shapes.append(None)
            continue
        shapes.append([str(a.dtype).removeprefix("torch."), list(a.shape)])
        if len(a):
            rows = torch.linspace(0, len(a) - 1, min(len(a), _SAMPLED_ROWS)).long()
            digest.update(a[rows].detach().cpu().contiguous().numpy().tobytes())
    return {"shapes": shapes, "sha256": digest.hexdigest()}


# ----------------------------------------------------------------------------- files

def write_checkpoint(folder: str | Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (plain data and tensors) as the checkpoint folder ``folder``,
    replacing an earlier checkpoint there as one unit."""
    tensors: dict[str, torch.Tensor] = {}
    body = encode(state, "state", tensors)
    text = json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, "state": body},
                      allow_nan=True)
    return atomic_folder(folder, {STATE_FILE: text.encode("utf-8"),
                                  TENSORS_FILE: safetensors_save(tensors)})


def read_checkpoint(folder: str | Path, max_bytes: int = MAX_STATE_BYTES) -> dict[str, Any]:
    """The state :func:`write_checkpoint` wrote, checked; a :class:`ModelFileError` names
    what is wrong with a missing, damaged or foreign checkpoint."""
    folder = Path(folder)
    state_file, tensors_file = folder / STATE_FILE, folder / TENSORS_FILE
    if not folder.is_dir():
        raise ModelFileError(f"no checkpoint at {folder}: "
                             + ("not a folder" if folder.exists() else "it does not exist"))
    for f in (state_file, tensors_file):
        if not f.is_file():
            raise ModelFileError(f"{folder} is not a seqnets checkpoint: {f.name} is missing")
    if state_file.stat().st_size > max_bytes:
        raise ModelFileError(f"{state_file} is larger than {max_bytes} bytes; not a "
                             "checkpoint this run wrote (read_checkpoint(max_bytes=...) "
                             "raises the limit)")
    try:
        doc = json.loads(state_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        raise ModelFileError(f"{state_file} is damaged ({type(err).__name__}); resume from "
                             "another checkpoint or start again") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelFileError(f"{state_file} is not a seqnets checkpoint")
    if doc.get("format_version") != FORMAT_VERSION:
        raise ModelFileError(f"{state_file} has format version "
                             f"{doc.get('format_version')!r}; this seqnets reads "
                             f"{FORMAT_VERSION}")
    try:
        tensors = safetensors_load(tensors_file.read_bytes())
    except (SafetensorError, ValueError, OSError) as err:
        raise ModelFileError(f"{tensors_file} is damaged: {str(err)[:200]}") from None
    try:
        state = decode(doc.get("state"), tensors)
    except RecursionError:
        raise ModelFileError(f"{state_file} is nested too deeply") from None
    if not isinstance(state, dict):
        raise ModelFileError(f"{state_file} holds no training state")
    return state
