"""Model files: weights as safetensors plus a JSON config; atomic writes; never pickle.

A saved model is a folder::

    model.safetensors   the tensors of ``state_dict()``
    config.json         architecture, metadata, versions, and the weights' SHA-256

:func:`load` rebuilds the architecture from registered classes by name (no code runs from
the file), checks the weights' hash, names and shapes, and loads them.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save
from torch import nn

from .data.files import atomic_folder, atomic_write
from .errors import ConfigError, ModelFileError, OutputExistsError
from .layers.base import deserialize, serialize

FORMAT = "seqnets-model"
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
MAX_CONFIG_BYTES = 16 * 2**20  # a model's config is kilobytes; a crafted one may be huge
_MESSAGE = 600                  # characters of a file's content quoted in an error


def _short(text: object) -> str:
    """``text`` cut to a readable length, its start and its end (where a fix is named):
    errors quote files, never whole files."""
    text = str(text)
    if len(text) <= _MESSAGE:
        return text
    return f"{text[:_MESSAGE // 2]} ... ({len(text)} characters) ... {text[-_MESSAGE // 3:]}"


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename, so
    that a crash leaves either the old file or the new one, never a partial file."""
    atomic_write(path, data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """:func:`atomic_write_bytes` for UTF-8 text."""
    atomic_write_bytes(path, text.encode("utf-8"))


def _version() -> str:
    from . import __version__
    return __version__


def save(model: nn.Module, path: str | Path, metadata: dict[str, Any] | None = None, *,
         extra_files: dict[str, bytes] | None = None, overwrite: bool = False) -> Path:
    """Save ``model`` to the folder ``path`` (created if needed); returns the folder.

    ``metadata`` (plain JSON: training settings, history, data description) is stored in
    ``config.json``; ``extra_files`` (name -> bytes) are written beside. The folder is
    replaced as one unit (:func:`~seqnets.data.files.atomic_folder`): a process killed
    during the save leaves the previous model whole and loadable, or the new one. A folder
    that already holds a model is refused unless ``overwrite=True`` (unlike Keras, whose
    ``save`` overwrites by default: a finished model is not lost to a typo).
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ModelFileError(f"{folder} exists and is not a folder; a model is saved as a "
                             "folder (model.safetensors + config.json)")
    if not overwrite and any((folder / name).exists() for name in (CONFIG_FILE, WEIGHTS_FILE)):
        raise OutputExistsError(f"{folder} already holds a saved model; pass overwrite=True "
                                "to replace it, or give another folder")
    try:
        architecture = serialize(model)
    except ConfigError as err:
        raise ConfigError(f"cannot save {type(model).__name__}: {err}") from None
    try:
        meta_json = _finite_json(json.loads(json.dumps(metadata or {}, allow_nan=True)))
    except (TypeError, ValueError) as err:
        raise ConfigError(f"metadata must be plain JSON: {err}") from None
    tensors = {name: t.detach().cpu().contiguous().clone()
               for name, t in model.state_dict().items()}
    blob = safetensors_save(tensors, metadata={"format": FORMAT})
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "seqnets_version": _version(),
        "torch_version": torch.__version__.split("+")[0],
        "architecture": architecture,
        "weights": {"file": WEIGHTS_FILE, "sha256": hashlib.sha256(blob).hexdigest(),
                    "bytes": len(blob),
                    "tensors": {k: [str(v.dtype).removeprefix("torch."), list(v.shape)]
                                for k, v in tensors.items()}},
        "metadata": meta_json,
    }
    files = {WEIGHTS_FILE: blob,
             CONFIG_FILE: (json.dumps(config, indent=2, allow_nan=False) + "\n").encode()}
    clash = set(files) & set(extra_files or {})
    if clash:
        raise ConfigError(f"extra_files may not replace the model's own files {sorted(clash)}")
    return atomic_folder(folder, {**files, **(extra_files or {})})


def _finite_json(value: Any) -> Any:
    """NaN and infinities become None, so that config.json is strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite_json(v) for v in value]
    return value


def read_saved_state(where: Path, max_bytes: int, kind: str, fmt: str,
                     written_by: str) -> dict[str, Any]:
    """The JSON state file ``where`` beside a saved model (``forecaster.json``,
    ``classifier.json``): bounded in size, strict JSON, a dict whose ``format`` is ``fmt``;
    else a :class:`ModelFileError` naming what is wrong. ``kind`` names the estimator,
    ``written_by`` what writes such folders (for the fix)."""
    try:
        size = where.stat().st_size
        if size > max_bytes:
            raise ModelFileError(f"{where} holds {size} bytes, more than max_bytes "
                                 f"({max_bytes}). Fix: check the file; if it is yours, raise "
                                 "max_bytes")
        state = json.loads(where.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFileError(f"{where} is missing: {where.parent} holds no saved "
                             f"{kind}") from None
    except NotADirectoryError:
        raise ModelFileError(f"{where.parent} is a file: a saved {kind} is a folder "
                             f"(written by {written_by}). Fix: give that folder") from None
    except ValueError as err:  # not UTF-8, not JSON, a number past int()'s digit limit
        raise ModelFileError(f"{where} is not valid JSON ({str(err)[:200]})") from None
    except RecursionError:
        raise ModelFileError(f"{where} is nested too deeply to be a saved {kind}") from None
    if not isinstance(state, dict) or state.get("format") != fmt:
        raise ModelFileError(f"{where} is not a saved {kind}")
    return state


def read_config(path: str | Path, max_bytes: int = MAX_CONFIG_BYTES) -> dict[str, Any]:
    """The validated ``config.json`` of a saved model (architecture, metadata, versions);
    one larger than ``max_bytes`` is refused unread."""
    folder = Path(path)
    if not folder.exists():
        raise ModelFileError(f"no saved model at {folder}: the folder does not exist")
    if not folder.is_dir():
        raise ModelFileError(f"{folder} is not a model folder (expected a folder with "
                             f"{WEIGHTS_FILE} and {CONFIG_FILE})")
    config_path = folder / CONFIG_FILE
    if not config_path.is_file():
        raise ModelFileError(f"{config_path} is missing: {folder} is not a saved seqnets model")
    size = config_path.stat().st_size
    if size > max_bytes:
        raise ModelFileError(f"{config_path} holds {size} bytes, more than the {max_bytes} a "
                             "model config is allowed (a saved config is kilobytes). Fix: "
                             "check the file; if it is yours, raise max_bytes")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except ValueError as err:  # not UTF-8, not JSON, or a number past int()'s digit limit
        raise ModelFileError(f"{config_path} is not valid JSON ({_short(err)}); the file is "
                             "truncated or corrupted") from None
    except RecursionError:
        raise ModelFileError(f"{config_path} is nested too deeply to be a model config"
                             ) from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        found = config.get("format") if isinstance(config, dict) else None
        raise ModelFileError(f"{config_path} is not a seqnets model config (format {found!r})")
    version = config.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(f"{config_path} has format version {version!r}; this seqnets "
                             f"({_version()}) reads up to {FORMAT_VERSION}: upgrade seqnets")
    for key in ("architecture", "weights"):
        if key not in config:
            raise ModelFileError(f"{config_path} has no {key!r} entry; the file is damaged")
    if not isinstance(config["weights"], dict):
        raise ModelFileError(f"{config_path}: 'weights' must be an object, got "
                             f"{type(config['weights']).__name__}; the file is damaged")
    return config


def load(path: str | Path, map_location: str | torch.device = "cpu") -> nn.Module:
    """Rebuild a model saved by :func:`save`, in eval mode. Never unpickles anything."""
    folder = Path(path)
    config = read_config(folder)
    name = config["weights"].get("file", WEIGHTS_FILE)
    if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
        raise ModelFileError(f"{folder / CONFIG_FILE} names the weights file "
                             f"{_short(repr(name))}: it must be a file name inside the model "
                             "folder, not a path")
    weights_path = folder / name
    if not weights_path.is_file():
        raise ModelFileError(f"{weights_path} is missing (the config is there, the weights "
                             "are not)")
    blob = weights_path.read_bytes()
    expected = config["weights"].get("sha256")
    if hashlib.sha256(blob).hexdigest() != expected:
        size = config["weights"].get("bytes")
        what = (f"truncated ({len(blob)} of {size} bytes)" if isinstance(size, int)
                and len(blob) < size else "modified after saving, or from another save")
        raise ModelFileError(f"{weights_path} does not match {folder / CONFIG_FILE}: its "
                             f"SHA-256 differs, so the file was {what}")
    try:
        tensors = safetensors_load(blob)
    except (SafetensorError, ValueError, RuntimeError) as err:
        raise ModelFileError(f"{weights_path} is not a readable safetensors file: {err}") from None
    # first without memory (the meta device): a crafted config (units = 10^9) must not
    # allocate before its shapes are checked against the weights the file really holds
    try:
        with torch.device("meta"):
            skeleton = _rebuild(config, folder)
    except NotImplementedError:  # an operation without a meta kernel: check after building
        skeleton = None
    if skeleton is not None:
        _check_state(skeleton, tensors, weights_path)
    model = _rebuild(config, folder)
    _check_state(model, tensors, weights_path)
    model.load_state_dict(tensors)
    model.to(map_location)
    model.eval()
    return model


def _rebuild(config: dict, folder: Path) -> nn.Module:
    try:
        return deserialize(config["architecture"])
    except (ConfigError, TypeError, KeyError, ValueError, AttributeError) as err:
        raise ModelFileError(f"{folder / CONFIG_FILE}: cannot rebuild the architecture: "
                             f"{_short(err)}") from None
    except RecursionError:
        raise ModelFileError(f"{folder / CONFIG_FILE}: the architecture is nested too "
                             "deeply to rebuild") from None
    except NotImplementedError:
        raise
    except RuntimeError as err:  # e.g. sizes whose storage overflows
        raise ModelFileError(f"{folder / CONFIG_FILE}: the architecture asks for tensors "
                             f"that cannot exist ({_short(err)})") from None


def _check_state(model: nn.Module, tensors: dict[str, torch.Tensor], where: Path) -> None:
    own = model.state_dict()
    missing = sorted(set(own) - set(tensors))
    extra = sorted(set(tensors) - set(own))
    if missing or extra:
        raise ModelFileError(f"{where} does not fit the architecture in its config: missing "
                             f"tensors {missing[:5]}, unexpected tensors {extra[:5]}")
    for name in own:  # the model's order: safetensors' order varies from run to run
        t = tensors[name]
        if t.shape != own[name].shape:
            raise ModelFileError(f"{where}: tensor {name!r} has shape {tuple(t.shape)}, the "
                                 f"architecture needs {tuple(own[name].shape)}")
        if t.dtype != own[name].dtype:  # load_state_dict would cast it: silently wrong
            raise ModelFileError(f"{where}: tensor {name!r} holds "
                                 f"{str(t.dtype).removeprefix('torch.')}, the architecture "
                                 f"needs {str(own[name].dtype).removeprefix('torch.')}; the "
                                 "file was modified or comes from another model")
