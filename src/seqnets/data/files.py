"""Writing data files whole: a temporary file in the same folder, then a rename, so a crash
leaves the old file or the new one, never a partial one."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

__all__ = ["atomic_folder", "atomic_write"]


def atomic_write(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (parent folders are created); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # honours the umask
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


# ----------------------------------------------------------------------------- folders

_AT_FDCWD, _RENAME_EXCHANGE = -100, 2
_STALE_SECONDS = 60.0


def atomic_folder(folder: str | os.PathLike, files: dict[str, bytes]) -> Path:
    """Write ``files`` (name -> bytes) as the folder ``folder``, replacing it as ONE unit:
    they are written and fsynced into a hidden sibling folder, which then takes the old
    one's place in a single atomic exchange (Linux ``renameat2``; elsewhere two renames in
    a row). A process killed at any moment leaves the old folder or the new one, whole,
    never a mix. Entries of the old folder that ``files`` does not name are carried over
    (hard links, or copies). Hidden folders left by saves killed more than a minute ago
    are removed. Returns the folder."""
    import shutil

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"{folder} exists and is not a folder")
    folder.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(folder)
    tmp = folder.parent / f".{folder.name}.{secrets.token_hex(8)}.tmp"
    tmp.mkdir()
    try:
        for name, data in files.items():
            _write_synced(tmp / name, data)
        if folder.exists():
            _carry_over(folder, tmp, set(files))
        _fsync(tmp)
        if folder.exists():
            tmp = _exchange(tmp, folder)       # tmp now holds the old folder
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            os.rename(tmp, folder)
        _fsync(folder.parent)
    except BaseException:
        if tmp != folder:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _write_synced(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # honours the umask
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync(directory: Path) -> None:
    """Make a folder's entries durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


def _link_or_copy(src: str, dst: str) -> None:
    import shutil

    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _carry_over(old: Path, new: Path, written: set) -> None:
    import shutil

    for entry in old.iterdir():
        if entry.name in written:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, new / entry.name, copy_function=_link_or_copy,
                            symlinks=True)
        else:
            _link_or_copy(str(entry), str(new / entry.name))


def _exchange(new: Path, folder: Path) -> Path:
    """Swap ``new`` into ``folder``'s place; returns where the old contents now are."""
    import ctypes

    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        fn = None
    if fn is not None:
        if fn(_AT_FDCWD, os.fsencode(new), _AT_FDCWD, os.fsencode(folder),
              _RENAME_EXCHANGE) == 0:
            return new
        if ctypes.get_errno() not in (22, 38, 95):  # EINVAL, ENOSYS, EOPNOTSUPP: fall back
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), str(folder))
    old = folder.parent / f".{folder.name}.{secrets.token_hex(8)}.tmp"
    os.rename(folder, old)   # a kill between these two renames leaves the old one hidden
    os.rename(new, folder)
    return old


def _remove_stale(folder: Path) -> None:
    import re
    import shutil
    import time

    pattern = re.compile(rf"^\.{re.escape(folder.name)}\.[0-9a-f]{{16}}\.tmp$")
    for entry in folder.parent.iterdir():
        if pattern.match(entry.name) and entry.is_dir():
            with contextlib.suppress(OSError):
                if time.time() - entry.stat().st_mtime > _STALE_SECONDS:
                    shutil.rmtree(entry, ignore_errors=True)
