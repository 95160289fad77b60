"""Batched small linear algebra with results that do not depend on the batch."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = ["rowdot", "solve_small"]

FloatArray: TypeAlias = npt.NDArray[np.float64]


def rowdot(a: FloatArray, b: FloatArray) -> FloatArray:
    """Row-wise products a (k, S) x b (S, ...) summed in the same order for every row.

    A BLAS matmul sums in an order that depends on how many rows there are, so a
    row's last bits would depend on its batch; einsum without BLAS does not.  That
    keeps the batch result equal to the row-by-row result, exactly.
    """
    return np.asarray(np.einsum("ks,s...->k...", a, b))


def solve_small(a: FloatArray, b: FloatArray) -> FloatArray:
    """Solve a batch of small systems a x = b; singular rows give NaN."""
    try:
        return np.asarray(np.linalg.solve(a, b[..., None])[..., 0])
    except np.linalg.LinAlgError:
        out = np.full_like(b, np.nan)
        det_ok = np.abs(np.linalg.det(a)) > 0
        if det_ok.any():
            out[det_ok] = np.linalg.solve(a[det_ok], b[det_ok][..., None])[..., 0]
        return out
