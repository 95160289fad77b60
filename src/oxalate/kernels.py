"""The compiled kernels: build them ahead of time, and where they are cached.

With the optional numba package (``pip install "oxalate[fast]"``) the first
call of :func:`oxalate.speciate` in a new installation compiles the speciation
kernel (about 6 s), and the first :func:`oxalate.precipitate`,
:func:`oxalate.threshold` or :func:`oxalate.dilution_for` the reaction kernel
(about 40 s), and the first :func:`oxalate.crystallize` also the kinetics
kernel, its per-row integrator (about 3 s).  The compiled code is cached on
disk and later processes load it in well under a second.  :func:`compile`
does that work ahead of time: at install time, in a container image, or once
on each node of a cluster.

The cache folder is ``$OXALATE_CACHE_DIR`` when that is set, else
``$XDG_CACHE_HOME/oxalate`` or ``~/.cache/oxalate``.  It must belong to the
user and be writable by no one else (it holds code that runs in the process);
where no such folder exists the numpy engine runs instead, with one
:class:`~oxalate.OxalateEngineWarning`.

Examples
--------
>>> import oxalate
>>> built = oxalate.compile(kernels=("speciate",))
>>> sorted(built)
['speciate']
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import _engines as engines
from .database import resolve_constants

__all__ = ["KERNELS", "cache_folder", "compile"]

#: The kernels :func:`compile` builds: the speciation kernel (``speciate``), the
#: reaction kernel of ``precipitate``, ``threshold`` and ``dilution_for``, and the
#: kinetics kernel of ``crystallize`` (the per-row integrator of its curve coupling).
KERNELS: tuple[str, ...] = ("speciate", "precipitate", "crystallize")


def cache_folder() -> Path:
    """The folder that holds the compiled kernels (created private if missing).

    Raises
    ------
    OSError
        If no folder can hold them safely; the message says why.

    Examples
    --------
    >>> import oxalate
    >>> oxalate.kernels.cache_folder().is_dir()
    True
    """
    return engines.kernel_cache_folder()


def compile(kernels: Sequence[str] = KERNELS, *, constants: Any = "default") -> dict[str, float]:
    """Build the compiled kernels now, so that no later call waits for them.

    Parameters
    ----------
    kernels : sequence of {"speciate", "precipitate", "crystallize"}
        Which kernels to build; all by default.
    constants : str, ConstantSet or mapping
        The constant set whose species structure the kernels are built for (the
        shipped sets share one structure, so one build serves them all).

    Returns
    -------
    dict of str to float
        Seconds each kernel took to build or load. [s]

    Raises
    ------
    ImportError
        Without the optional numba package.
    RuntimeError
        If the kernels have no folder to be cached in.
    ValueError
        For an unknown kernel name.
    """
    if isinstance(kernels, str):
        kernels = (kernels,)
    unknown = [k for k in kernels if k not in KERNELS]
    if unknown:
        raise ValueError(f"kernels={list(kernels)!r}: unknown {unknown}; accepted: {KERNELS}")
    cs = resolve_constants(constants)
    model = engines.species_model(cs, "davies")
    out: dict[str, float] = {}
    for kernel in kernels:
        t0 = time.perf_counter()
        engines.build_compiled(model, kernel)
        out[kernel] = time.perf_counter() - t0
    return out
