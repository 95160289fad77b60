"""A batched, safeguarded secant root search on one variable per row."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = ["find_root"]

FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]


def find_root(
    evaluate: Callable[[FloatArray, npt.NDArray[np.intp]], FloatArray],
    x0: FloatArray,
    slope0: FloatArray,
    lower: FloatArray,
    upper: FloatArray,
    tol: float,
    max_iter: int,
    step_cap: float,
    f0: FloatArray | None = None,
    bracket: tuple[FloatArray, FloatArray] | None = None,
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64], BoolArray, BoolArray, FloatArray]:
    """Solve f(x) = 0 on [lower, upper] for every row: secant steps, safeguarded.

    ``evaluate(x, rows)`` returns f at ``x`` for the rows ``rows`` (NaN where
    it cannot be computed).  The first step uses ``slope0`` (df/dx); later
    ones the secant through the last two points, each at most ``step_cap``
    long, and bisection whenever a sign change is known and the secant step
    leaves it.  ``bracket`` gives, per row, a point where f < 0 and one
    where f > 0 (NaN if unknown).  Returns x, f, iterations, converged,
    ``stuck`` (f never changed sign: the target lies beyond the bounds or
    beyond the extremum of f) and the slope df/dx of the last secant (NaN
    where the root was found without a step).
    """
    n = len(x0)
    x = np.clip(x0, lower, upper)
    rows_all = np.arange(n)
    f = evaluate(x, rows_all) if f0 is None else f0.copy()
    xp = np.full(n, np.nan)
    fp = np.full(n, np.nan)
    x_neg = np.full(n, np.nan) if bracket is None else bracket[0].copy()  # f < 0 here
    x_pos = np.full(n, np.nan) if bracket is None else bracket[1].copy()  # f > 0 here
    its = np.zeros(n, dtype=np.int64)
    ok = np.abs(f) <= tol
    stuck = np.zeros(n, dtype=bool)
    live = np.flatnonzero(~ok & np.isfinite(f))
    for it in range(1, max_iter + 1):
        if live.size == 0:
            break
        xl, fl = x[live], f[live]
        x_neg[live] = np.where(fl < 0, xl, x_neg[live])
        x_pos[live] = np.where(fl > 0, xl, x_pos[live])
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = (fl - fp[live]) / (xl - xp[live])
        slope = np.where(np.isfinite(slope) & (slope != 0), slope, slope0[live])
        with np.errstate(divide="ignore", invalid="ignore"):
            step = -fl / slope
        step = np.clip(np.where(np.isfinite(step), step, 0.0), -step_cap, step_cap)
        x_new = xl + step
        a, b = x_neg[live], x_pos[live]
        bracketed = np.isfinite(a) & np.isfinite(b)
        inside = (x_new - a) * (x_new - b) < 0
        x_new = np.where(bracketed & ~inside, 0.5 * (a + b), x_new)
        x_new = np.clip(x_new, lower[live], upper[live])
        no_move = x_new == xl
        stuck[live[no_move & ~bracketed]] = True
        go = ~no_move
        moving = live[go]
        xp[moving], fp[moving] = xl[go], fl[go]
        x[moving] = x_new[go]
        if moving.size:
            f[moving] = evaluate(x[moving], moving)
        its[moving] = it
        ok[moving] = np.abs(f[moving]) <= tol
        # a bracket narrowed to rounding: accept the better end
        tiny = bracketed & no_move
        ok[live[tiny]] = True
        live = moving[~ok[moving] & np.isfinite(f[moving])]
    stuck = ~ok & ~(np.isfinite(x_neg) & np.isfinite(x_pos)) & np.isfinite(f)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(np.isfinite(xp) & (x != xp), (f - fp) / (x - xp), np.nan)
    return x, f, its, ok, stuck, slope
