"""A batched, per-row adaptive, linearly implicit ODE integrator (numpy).

:func:`integrate` solves N independent systems y' = f(t, y) (n states each)
at once.  Every row has its own time, step size and step count: a row's
steps depend on that row alone, so its result does not depend on the other
rows of the batch or on how a batch is split (``scipy.integrate.solve_ivp``
with ``vectorized=True`` evaluates several states of *one* system and cannot
do this).  Each pass of the loop takes one step of every row still running,
as a handful of array operations over those rows.

The method is RODAS4 of Hairer and Wanner (1996, section IV.7; the
coefficients of their ``rodas.f``): a Rosenbrock method of order 4 with an
embedded order-3 solution, six stages, stiffly accurate and L-stable (a
nucleation burst or a first-order approach to equilibrium does not limit the
step).  With γ = 1/4 and E = I/(hγ) - J,

.. math::

   E\\,U_i = f\\Bigl(t + c_i h,\\; y + \\sum_{j<i} a_{ij} U_j\\Bigr)
             + \\sum_{j<i} \\frac{C_{ij}}{h} U_j + d_i\\, h\\, \\frac{\\partial f}{\\partial t},
   \\qquad i = 1..6,

y_{n+1} = y + Σ_{j<5} a_{6j} U_j + U_5 + U_6 and the error estimate is U_6.
A step is accepted when max_i |U_{6,i}| / (atol_i + rtol max(|y_i|,
|y_{n+1,i}|)) ≤ 1; the next step is h (0.9/err)^{1/4}, within 0.2-6 times the
last.  The method's dense output locates events (a state function rising
through zero) by bisection inside the step.  The Jacobian J is the caller's
(exact, analytic or from its own differences); the order needs it accurate.

Steps land exactly on the requested output times.  A row whose f is not
finite at a trial point has that step rejected and shortened; a row that
needs more than ``max_steps`` steps, or whose step falls below 1e-14 of its
time, stops with a reason and NaN from there on.

References
----------
.. [1] Hairer, E. and Wanner, G. (1996), Solving Ordinary Differential
   Equations II: Stiff and Differential-Algebraic Problems, 2nd ed.,
   Springer, section IV.7, doi:10.1007/978-3-642-05221-7 (hairer1996).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = ["Events", "OdeResult", "Rhs", "integrate"]

FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
IntArray: TypeAlias = npt.NDArray[np.int64]
IndexArray: TypeAlias = npt.NDArray[np.intp]
ObjectArray: TypeAlias = npt.NDArray[np.object_]

#: ``rhs(t, y, rows)`` -> f (m, n), ∂f/∂y (m, n, n) and ∂f/∂t (m, n) or None, for the
#: rows ``rows`` of the batch at times t (m,) and states y (m, n).
Rhs: TypeAlias = Callable[
    [FloatArray, FloatArray, IndexArray], tuple[FloatArray, FloatArray, FloatArray | None]
]
#: ``events(y, rows)`` -> (m, E) values whose upward zero crossings are recorded.
Events: TypeAlias = Callable[[FloatArray, IndexArray], FloatArray]

# RODAS4 (hairer1996, rodas.f): stage coefficients a_ij, C_ij, c_i, d_i; the dense
# output's H rows; gamma.
_GAMMA = 0.25
_A = (
    (),
    (1.544,),
    (0.9466785280815826, 0.2557011698983284),
    (3.314825187068521, 2.896124015972201, 0.9986419139977817),
    (1.221224509226641, 6.019134481288629, 12.53708332932087, -0.687886036105895),
    (1.221224509226641, 6.019134481288629, 12.53708332932087, -0.687886036105895, 1.0),
)
_C = (
    (),
    (-5.6688,),
    (-2.430093356833875, -0.2063599157091915),
    (-0.1073529058151375, -9.594562251023355, -20.47028614809616),
    (7.496443313967647, -10.24680431464352, -33.99990352819905, 11.7089089320616),
    (8.083246795921522, -7.981132988064893, -31.52159432874371, 16.31930543123136,
     -6.058818238834054),
)  # fmt: skip
_CT = (0.0, 0.386, 0.21, 0.63, 1.0, 1.0)
_DT = (0.25, -0.1043, 0.1035, -0.0362, 0.0, 0.0)
_H = (
    (10.12623508344586, -7.487995877610167, -34.80091861555747, -7.992771707568823,
     1.025137723295662, 0.0),
    (-0.6762803392801253, 6.087714651680015, 16.43084320892478, 24.76722511418386,
     -6.594389125716872, 0.0),
)  # fmt: skip
_SAFETY = 0.9
_GROW = 6.0
_SHRINK = 0.2
_BISECTIONS = 48

MAX_STEPS = "the integration needed more steps than max_steps"
STEP_TOO_SMALL = "the step size fell below 1e-14 of the time (the rates are not finite?)"
NOT_FINITE = "the rates are not finite at the initial state"


@dataclass
class OdeResult:
    """States at the output times, event times, step counts and per-row status."""

    y: FloatArray  # (T, N, n)
    event_time: FloatArray  # (N, E), NaN where no crossing
    event_state: FloatArray  # (N, E, n), the state at each event
    steps: IntArray  # (N,) accepted steps
    rejected: IntArray  # (N,)
    ok: BoolArray  # (N,)
    reason: ObjectArray  # (N,)


def _inverse(w: FloatArray) -> FloatArray:
    """Inverse of each (n, n) matrix; singular ones give NaN."""
    if w.shape[-1] == 1:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.asarray(1.0 / w)
    good = np.isfinite(w).all(axis=(1, 2))
    out = np.full_like(w, np.nan)
    if not good.any():
        return out
    try:
        out[good] = np.linalg.inv(w[good])
    except np.linalg.LinAlgError:
        for i in np.flatnonzero(good):
            try:
                out[i] = np.linalg.inv(w[i])
            except np.linalg.LinAlgError:
                pass
    return out


def _apply(winv: FloatArray, v: FloatArray) -> FloatArray:
    if winv.shape[-1] == 1:
        return np.asarray(winv[:, :, 0] * v)
    return np.asarray(np.einsum("mij,mj->mi", winv, v))


def _dense(y0: FloatArray, y1: FloatArray, u: list[FloatArray], theta: FloatArray) -> FloatArray:
    """RODAS4's continuous extension at the fraction ``theta`` (m,) of each step."""
    k1 = sum(_H[0][j] * u[j] for j in range(5))
    k2 = sum(_H[1][j] * u[j] for j in range(5))
    th = theta[:, None]
    return np.asarray((1.0 - th) * y0 + th * (y1 + (1.0 - th) * (k1 + th * k2)))


def integrate(
    rhs: Rhs,
    y0: FloatArray,
    times: FloatArray,
    *,
    rtol: float,
    atol: FloatArray,
    events: Events | None = None,
    n_events: int = 0,
    max_steps: int = 20_000,
    first_step: FloatArray | None = None,
    rates: Callable[[FloatArray, FloatArray, IndexArray], FloatArray] | None = None,
) -> OdeResult:
    """Integrate every row of ``y0`` (N, n) from t = 0 to each of ``times`` (T,).

    ``times`` are finite, ascending and >= 0 (a 0 gives ``y0``).  ``atol``
    broadcasts to (N, n).  ``events(y, rows)`` gives (m, ``n_events``)
    values; the first time each one rises through zero is recorded.
    ``rates(t, y, rows)``, if given, returns f alone (the same f as
    ``rhs``); RODAS4's five inner stages need no Jacobian, so a system whose
    Jacobian is costly passes it to skip that work.
    """
    n_rows, n = y0.shape
    times = np.asarray(times, dtype=np.float64)
    n_out = times.size
    atol_rows = np.broadcast_to(np.asarray(atol, dtype=np.float64), (n_rows, n))
    y_out = np.full((n_out, n_rows, n), np.nan)
    event_time = np.full((n_rows, max(n_events, 0)), np.nan)
    event_state = np.full((n_rows, max(n_events, 0), n), np.nan)
    steps = np.zeros(n_rows, dtype=np.int64)
    rejected = np.zeros(n_rows, dtype=np.int64)
    ok = np.ones(n_rows, dtype=bool)
    reason = np.full(n_rows, "", dtype=object)
    if n_rows == 0 or n_out == 0:
        return OdeResult(y_out, event_time, event_state, steps, rejected, ok, reason)

    t = np.zeros(n_rows)
    y = np.array(y0, dtype=np.float64)
    k_next = np.searchsorted(times, 0.0, side="right").repeat(n_rows).astype(np.int64)
    y_out[: int(k_next[0])] = y[None]
    all_rows = np.arange(n_rows)
    f, jac, ft = rhs(t, y, all_rows)
    bad = ~np.isfinite(f).all(axis=1) | ~np.isfinite(jac).all(axis=(1, 2))
    ok[bad] = False
    reason[bad] = NOT_FINITE
    ev_prev = events(y, all_rows) if (events is not None and n_events) else None

    if first_step is None:
        scale0 = atol_rows + rtol * np.abs(y)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.max(np.abs(f) / scale0, axis=1)
            h = np.where(rate > 0, rtol**0.25 / rate, np.inf)
    else:
        h = np.array(first_step, dtype=np.float64)
    t_end = float(times[-1])
    h = np.minimum(h, 0.1 * t_end if t_end > 0 else 1.0)
    h = np.where(np.isfinite(h) & (h > 0), h, 1e-6 * max(t_end, 1.0))
    eye = np.eye(n)

    live = np.flatnonzero(ok & (k_next < n_out))
    while live.size:
        tl, yl, fl, jl = t[live], y[live], f[live], jac[live]
        target = times[k_next[live]]
        hl = np.minimum(h[live], target - tl)
        land = hl >= (target - tl) * (1.0 - 1e-12)
        ftl = None if ft is None else ft[live]
        winv = _inverse(eye[None, :, :] / (hl * _GAMMA)[:, None, None] - jl)
        u: list[FloatArray] = []
        finite = np.ones(live.size, dtype=bool)
        y_stage = yl
        for i in range(6):
            if i == 0:
                fi = fl
            else:
                y_stage = yl + sum(_A[i][j] * u[j] for j in range(i))
                if rates is None:
                    fi, _, _ = rhs(tl + _CT[i] * hl, y_stage, live)
                else:
                    fi = rates(tl + _CT[i] * hl, y_stage, live)
            b = fi + sum((_C[i][j] / hl)[:, None] * u[j] for j in range(i))
            if ftl is not None and _DT[i] != 0.0:
                b = b + (_DT[i] * hl)[:, None] * ftl
            u.append(_apply(winv, b))
            finite &= np.isfinite(u[-1]).all(axis=1)
        y_new = y_stage + u[5]
        scale = atol_rows[live] + rtol * np.maximum(np.abs(yl), np.abs(y_new))
        with np.errstate(invalid="ignore", over="ignore"):
            err = np.max(np.abs(u[5]) / scale, axis=1)
        err = np.where(finite & np.isfinite(err), err, np.inf)
        accept = err <= 1.0
        t_new = np.where(land, target, tl + hl)
        # f and J at the new point, for the rows that move on
        acc = np.flatnonzero(accept)
        if acc.size:
            f2, j2, ft2 = rhs(t_new[acc], y_new[acc], live[acc])
            good = np.isfinite(f2).all(axis=1) & np.isfinite(j2).all(axis=(1, 2))
            if not good.all():  # a new point where the rates are not finite: step again
                accept[acc[~good]] = False
                err[acc[~good]] = np.inf
                acc, f2, j2 = acc[good], f2[good], j2[good]
                ft2 = None if ft2 is None else ft2[good]
        with np.errstate(divide="ignore"):
            factor = np.where(err > 0, _SAFETY * err ** (-0.25), _GROW)
        factor = np.clip(factor, _SHRINK, _GROW)
        factor = np.where(np.isfinite(err), factor, 0.25)
        # events: first upward crossings inside accepted steps
        if ev_prev is not None and events is not None and acc.size:
            rows_a = live[acc]
            ev_new = events(y_new[acc], rows_a)
            cross = (ev_prev[rows_a] < 0) & (ev_new >= 0) & np.isnan(event_time[rows_a])
            if cross.any():
                r_idx, e_idx = np.nonzero(cross)
                pos = acc[r_idx]
                _locate(events, live[pos], e_idx, tl[pos], hl[pos], yl[pos], y_new[pos],
                        [x[pos] for x in u], event_time, event_state)  # fmt: skip
            ev_prev[rows_a] = ev_new
        a_rows = live[acc]
        steps[a_rows] += 1
        rejected[live[~accept]] += 1
        t[a_rows] = t_new[acc]
        y[a_rows] = y_new[acc]
        if acc.size:
            f[a_rows] = f2
            jac[a_rows] = j2
            if ft is not None and ft2 is not None:
                ft[a_rows] = ft2
        # a step shortened to land on an output time does not shrink the next one
        h_next = hl * factor
        h[live] = np.where(accept & land, np.maximum(h_next, h[live]), h_next)
        landed = accept & land
        if landed.any():
            r = live[landed]
            y_out[k_next[r], r] = y[r]
            k_next[r] += 1
        too_small = ~accept & (hl * factor <= 1e-14 * np.maximum(np.abs(tl), 1e-300))
        too_many = steps[live] + rejected[live] >= max_steps
        stop = too_small | too_many
        if stop.any():
            r = live[stop]
            ok[r] = False
            reason[r] = np.where(too_small[stop], STEP_TOO_SMALL, MAX_STEPS)
        live = live[~stop & (k_next[live] < n_out)]
    return OdeResult(y_out, event_time, event_state, steps, rejected, ok, reason)


def _locate(
    events: Events,
    rows: IndexArray,
    e_idx: IndexArray,
    t0: FloatArray,
    h: FloatArray,
    y0: FloatArray,
    y1: FloatArray,
    u: list[FloatArray],
    event_time: FloatArray,
    event_state: FloatArray,
) -> None:
    """Bisection on the dense output for each event that rose through zero in its step."""
    lo = np.zeros(rows.size)
    hi = np.ones(rows.size)
    pick = np.arange(rows.size)
    for _ in range(_BISECTIONS):
        mid = 0.5 * (lo + hi)
        val = events(_dense(y0, y1, u, mid), rows)[pick, e_idx]
        up = val >= 0
        hi = np.where(up, mid, hi)
        lo = np.where(up, lo, mid)
    event_time[rows, e_idx] = t0 + hi * h
    event_state[rows, e_idx] = _dense(y0, y1, u, hi)
