"""The on-disk cache of the compiled kernels: where it lives, who may write it, how files appear.

The generated kernel modules and numba's compiled code (``__pycache__/*.nbi``
and ``*.nbc``, which numba writes next to each module) live in one folder:

1. ``$OXALATE_CACHE_DIR`` when it is set, and only then (an unusable folder
   there is reported, never silently replaced by another);
2. else ``$XDG_CACHE_HOME/oxalate``, or ``~/.cache/oxalate``.

The folder is created private (mode 0700).  Before anything in it is used, it
must belong to the current user and be writable by no one else: numba's cache
holds pickles and the kernels are Python source, so a folder others can write
to would let them run code in this process.  Where no folder qualifies the
cache is unavailable (:class:`KernelCacheError`) and :mod:`oxalate._engines`
runs the numpy engine instead, with one warning.

A kernel module is published atomically (written to a uniquely named
temporary file in the folder, then renamed over its final name, under a lock
that threads and processes share) and imported from the source text this
process generated, not re-read from the file, so no caller ever runs a
half-written or replaced file.  Its name holds the hash of its text: new code
gives a new file, and numba never loads an old compiled version for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import sys
import tempfile
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["KernelCacheError", "cache_dir", "is_compiled", "load", "lock"]

_LOCK = threading.RLock()


class KernelCacheError(OSError):
    """No folder can hold the compiled kernels safely; the message says why."""


def _candidates() -> tuple[list[tuple[Path, str]], bool]:
    """The folders to try, each with how it was chosen; True if the user named one."""
    named = os.environ.get("OXALATE_CACHE_DIR")
    if named:
        return [(Path(named), "OXALATE_CACHE_DIR")], True
    xdg = os.environ.get("XDG_CACHE_HOME")
    home = Path(xdg) if xdg else Path.home() / ".cache"
    return [(home / "oxalate", "XDG_CACHE_HOME" if xdg else "the home folder")], False


def _check(folder: Path) -> None:
    """Raise KernelCacheError unless ``folder`` is ours, private to writers, and writable."""
    try:
        info = folder.stat()
    except OSError as err:
        raise KernelCacheError(f"{folder} cannot be read ({err.strerror})") from None
    if not stat.S_ISDIR(info.st_mode):
        raise KernelCacheError(f"{folder} is not a folder")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise KernelCacheError(
            f"{folder} belongs to another user (uid {info.st_uid}); the kernel cache holds "
            f"code that would run in this process, so oxalate uses only a folder of its own"
        )
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise KernelCacheError(
            f"{folder} is writable by other users (mode {stat.S_IMODE(info.st_mode):o}); "
            f"the kernel cache holds code that would run in this process: make it private "
            f"(chmod 700) or point OXALATE_CACHE_DIR at a private folder"
        )
    if not os.access(folder, os.W_OK | os.X_OK):
        raise KernelCacheError(f"{folder} is not writable")


def cache_dir() -> Path:
    """The kernel cache folder, created private if missing.

    Raises
    ------
    KernelCacheError
        If the folder cannot be created, belongs to another user, is writable
        by others, or is not writable; the message names it and the reason.
    """
    candidates, named = _candidates()
    reasons = []
    for folder, origin in candidates:
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as err:
            reasons.append(f"{folder} ({origin}) cannot be created: {err.strerror}")
            continue
        try:
            _check(folder)
            pycache = folder / "__pycache__"
            if pycache.exists():
                _check(pycache)
        except KernelCacheError as err:
            reasons.append(f"{err} ({origin})")
            continue
        return folder
    hint = "" if named else "; set OXALATE_CACHE_DIR to a private, writable folder"
    raise KernelCacheError("no usable kernel cache: " + "; ".join(reasons) + hint)


@contextlib.contextmanager
def lock(folder: Path) -> Iterator[None]:
    """Hold the cache's lock: this process's threads, and other processes through a lock file."""
    with _LOCK:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: threads only
            yield
            return
        with open(folder / ".lock", "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _publish(folder: Path, name: str, source: str) -> Path:
    """Write ``source`` as ``<folder>/<name>.py`` unless that file already holds it exactly."""
    path = folder / f"{name}.py"
    data = source.encode("utf-8")
    with contextlib.suppress(OSError):
        if path.read_bytes() == data:
            return path
    handle, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)  # atomic: nobody ever sees half a file
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


def is_compiled(path: Path) -> bool:
    """Whether numba has compiled code cached for the module at ``path``.

    numba keeps it next to the module (``__pycache__``) or, when
    ``$NUMBA_CACHE_DIR`` is set, in that folder under ``<folder>_<sha1 of the
    folder's path>`` (numba's ``_UserProvidedCacheLocator``); both are looked at,
    so a warm cache is never announced as a first compilation.
    """
    places = [path.parent / "__pycache__"]
    numba_dir = os.environ.get("NUMBA_CACHE_DIR")
    if numba_dir:
        folder = os.path.dirname(os.path.abspath(path))
        digest = hashlib.sha1(folder.encode(), usedforsecurity=False).hexdigest()
        places.append(Path(numba_dir) / f"{os.path.basename(folder)}_{digest}")
    return any(any(place.glob(f"{path.stem}.*.nbi")) for place in places)


def load(source: str, prefix: str) -> tuple[types.ModuleType, Path, bool]:
    """Publish the kernel module ``source`` in the cache and import it.

    Returns the module, its file and whether numba's cache already held its
    compiled code (False: the first call of its functions compiles them).
    """
    digest = hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]
    name = f"{prefix}_{digest}"
    with _LOCK:
        module = sys.modules.get(name)
        if isinstance(module, types.ModuleType) and getattr(module, "__oxalate_source__", None):
            path = Path(module.__file__ or "")
            return module, path, True
        folder = cache_dir()
        with lock(folder):
            path = _publish(folder, name, source)
        compiled = is_compiled(path)
        module = types.ModuleType(name)
        module.__file__ = str(path)
        code: Any = compile(source, str(path), "exec")  # this process's text, not the file's
        sys.modules[name] = module
        try:
            exec(code, module.__dict__)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        module.__dict__["__oxalate_source__"] = digest
        return module, path, compiled
