"""The per-row integrator of the ``curve`` coupling, as plain Python that numba compiles.

:func:`curve_block` integrates rows lo..hi-1 of a single kinetic phase with one
state (``BULK``: ξ; ``SEEDED``: Λ), each row on its own, with exactly the
algorithm of :func:`.ode.integrate` (RODAS4, the same step control, events
located by bisection on the dense output) and the right-hand side of
:class:`.kinetics._System` under :class:`.kinetics._Curve`: u(ξ) = g(ξ) + Σ_c
ν_c ln T̃_c(ξ), g read from its Chebyshev coefficients by Clenshaw's
recurrence, the rate law k σ^g (dissolution -k_d (-σ)^{g_d}) and its Jacobian
evaluated inline.  Nothing a row computes depends on another row, so the
result of a row does not depend on its batch, on the chunking or on the
threads that run it.

:mod:`.compiled` writes the source of these functions into a module of the
kernel cache (:mod:`.cache`) under ``numba.njit`` with the RODAS4
coefficients of :mod:`.ode` as constants, adds a driver that runs blocks of
rows on numba's threads, and numba compiles and caches it.  Importing this
module does not import numba; the masked-numpy :func:`.ode.integrate` is the
engine without numba and the reference (the tests run both).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import ode

__all__ = ["FUNCTIONS", "STATUS", "constants_source", "curve_block"]

#: Methods of a phase (the values of :mod:`.kinetics`'s ``BULK`` and ``SEEDED``).
K_BULK = 0
K_SEEDED = 1
#: Row status written by :func:`curve_block`: 0 ok, then :mod:`.ode`'s reasons.
ST_OK = 0
ST_NOT_FINITE = 1
ST_TOO_SMALL = 2
ST_MAX_STEPS = 3
STATUS = {ST_NOT_FINITE: ode.NOT_FINITE, ST_TOO_SMALL: ode.STEP_TOO_SMALL,
          ST_MAX_STEPS: ode.MAX_STEPS}  # fmt: skip


def _square(rows: tuple[tuple[float, ...], ...]) -> list[list[float]]:
    return [[*r, *([0.0] * (5 - len(r)))] for r in rows]


RODAS_A = np.array(_square(ode._A))
RODAS_C = np.array(_square(ode._C))
RODAS_CT = np.array(ode._CT)
RODAS_H = np.array(ode._H)[:, :5]
GAMMA = ode._GAMMA
SAFETY = ode._SAFETY
GROW = ode._GROW
SHRINK = ode._SHRINK
BISECTIONS = ode._BISECTIONS


def constants_source() -> str:
    """The constants above as the generated module defines them."""
    lines = [
        f"{name} = {globals()[name]!r}"
        for name in ("K_BULK", "K_SEEDED", "ST_OK", "ST_NOT_FINITE", "ST_TOO_SMALL",
                     "ST_MAX_STEPS", "GAMMA", "SAFETY", "GROW", "SHRINK", "BISECTIONS")
    ]  # fmt: skip
    for name in ("RODAS_A", "RODAS_C", "RODAS_CT", "RODAS_H"):
        lines.append(f"{name} = np.array({globals()[name].tolist()!r})")
    return "\n".join(lines) + "\n"


def curve_amount(
    ys: float, row: int, method: int, scale: Any, seed_m: Any, seed_largest: Any, cvol: float
) -> tuple[float, float]:
    """ξ and dξ/dy (y unscaled) of a row from its scaled state (``_Block.amount``)."""
    y = ys * scale[row]
    if method != K_SEEDED:
        return y, 1.0
    low = -seed_largest[row]
    lam = low if y < low else y  # numpy.maximum: NaN stays NaN
    m0 = seed_m[row, 0]
    m1 = seed_m[row, 1]
    m2 = seed_m[row, 2]
    xi = cvol * lam * (3.0 * m2 + lam * (3.0 * m1 + lam * m0))
    dxi = 3.0 * cvol * (m2 + lam * (2.0 * m1 + lam * m0))
    if not y > low:
        dxi = 0.0
    return xi, dxi


def curve_rhs(
    ys: float, row: int, jac_too: bool, method: int, scale: Any, xlo: Any, xhi: Any, coef: Any,
    dcoef: Any,
    nodes: Any, total0: Any, nu: Any, water: float, oh0: Any, inv_mw: float, seed_m: Any,
    seed_largest: Any, cvol: float, ions: float, k: Any, order: Any, k_back: Any,
    order_back: Any,
) -> tuple[float, float]:  # fmt: skip
    """Scaled f and ∂f/∂y of one row at its scaled state ``ys`` (∂f/∂y 0 unless ``jac_too``)."""
    sc = scale[row]
    xi, dxi = curve_amount(ys, row, method, scale, seed_m, seed_largest, cvol)
    # g(ξ) from the Chebyshev coefficients (Clenshaw), and its derivative
    a = xlo[row]
    b = xhi[row]
    half = 0.5 * (b - a)
    z = (xi - 0.5 * (b + a)) / half
    g1 = 0.0
    g2 = 0.0
    for j in range(nodes[row] - 1, 0, -1):
        g1, g2 = 2.0 * z * g1 - g2 + coef[row, j], g1
    g = z * g1 - g2 + coef[row, 0]
    # the exact factor of the totals left: Σ ν_c ln T̃_c(ξ)
    w0 = inv_mw + oh0[row]
    wt = w0 - xi * water
    lw = math.log(wt / w0)
    value = 0.0
    for c in range(nu.shape[0]):
        if nu[c] != 0.0:
            value += nu[c] * (math.log(total0[row, c] - xi * nu[c]) - lw)
    u = g + value
    du = 0.0
    if jac_too:
        d1 = 0.0
        d2 = 0.0
        for j in range(nodes[row] - 1, 0, -1):
            d1, d2 = 2.0 * z * d1 - d2 + dcoef[row, j], d1
        dg = (z * d1 - d2 + dcoef[row, 0]) / half
        slope = 0.0
        for c in range(nu.shape[0]):
            if nu[c] != 0.0:
                slope += nu[c] * (-nu[c] / (total0[row, c] - xi * nu[c]) + water / wt)
        du = dg + slope
    # the rate law (:func:`.crystal.power_rate`)
    e = math.exp(u / ions)
    sigma = e - 1.0
    r = 0.0
    dr = 0.0
    if sigma > 0.0:
        r = k[row] * sigma ** order[row]
        if jac_too:
            dr = k[row] * order[row] * sigma ** (order[row] - 1.0)
    elif sigma < 0.0 and k_back[row] > 0.0:
        s = -sigma
        r = -(k_back[row] * s ** order_back[row])
        if jac_too:
            dr = k_back[row] * order_back[row] * s ** (order_back[row] - 1.0)
    if method == K_SEEDED and ys * sc <= -seed_largest[row] and r < 0.0:  # seeds all gone
        r = 0.0
    if not jac_too:
        return r / sc, 0.0
    if not math.isfinite(dr):
        dr = 0.0
    dr = dr * (e / ions)
    if method == K_SEEDED and ys * sc <= -seed_largest[row] and r <= 0.0:
        dr = 0.0
    jac = dr * (du * dxi)
    return r / sc, jac * sc / sc


def curve_dense(
    y0: float, y1: float, u0: float, u1: float, u2: float, u3: float, u4: float, theta: float
) -> float:
    """RODAS4's continuous extension at the fraction ``theta`` of a step (:func:`.ode._dense`)."""
    k1 = 0.0
    k2 = 0.0
    for j, uj in enumerate((u0, u1, u2, u3, u4)):
        k1 += RODAS_H[0, j] * uj
        k2 += RODAS_H[1, j] * uj
    return (1.0 - theta) * y0 + theta * (y1 + (1.0 - theta) * (k1 + theta * k2))


def curve_block(
    lo: int, hi: int, method: int, y0: Any, scale: Any, xlo: Any, xhi: Any, coef: Any,
    dcoef: Any, nodes: Any, total0: Any, nu: Any, water: float, oh0: Any, inv_mw: float,
    seed_m: Any, seed_largest: Any, cvol: float, ions: float, k: Any, order: Any, k_back: Any,
    order_back: Any, limit: Any, times: Any, rtol: float, atol: float, max_steps: int,
    y_out: Any, event_time: Any, event_state: Any, steps: Any, rejected: Any, status: Any,
) -> None:  # fmt: skip
    """Integrate rows lo..hi-1 from t = 0 to each of ``times`` (see :func:`.ode.integrate`).

    States are scaled (y / ``scale``); ``limit`` is the amount that marks the
    induction time (the event ξ / limit - 1 rising through 0).  Writes
    ``y_out`` (T, N), the event's time and state, the step counts and the
    status (``ST_*``).
    """
    n_out = times.shape[0]
    u = np.zeros(6)
    first = 0
    while first < n_out and times[first] <= 0.0:
        first += 1
    t_end = times[n_out - 1]
    for row in range(lo, hi):
        steps[row] = 0
        rejected[row] = 0
        status[row] = ST_OK
        event_time[row] = np.nan
        event_state[row] = np.nan
        for i in range(n_out):
            y_out[i, row] = np.nan
        y = y0[row]
        for i in range(first):
            y_out[i, row] = y
        if first >= n_out:
            continue
        t = 0.0
        f, jac = curve_rhs(y, row, True, method, scale, xlo, xhi, coef, dcoef, nodes, total0, nu,
                           water, oh0, inv_mw, seed_m, seed_largest, cvol, ions, k, order,
                           k_back, order_back)  # fmt: skip
        if not (math.isfinite(f) and math.isfinite(jac)):
            status[row] = ST_NOT_FINITE
            continue
        xi, _ = curve_amount(y, row, method, scale, seed_m, seed_largest, cvol)
        ev_prev = xi / limit[row] - 1.0
        rate = abs(f) / (atol + rtol * abs(y))
        h = rtol**0.25 / rate if rate > 0.0 else np.inf
        cap = 0.1 * t_end if t_end > 0.0 else 1.0
        if h > cap:
            h = cap
        if not (math.isfinite(h) and h > 0.0):
            h = 1e-6 * max(t_end, 1.0)
        k_next = first
        while k_next < n_out:
            target = times[k_next]
            hl = min(h, target - t)
            land = hl >= (target - t) * (1.0 - 1e-12)
            winv = 1.0 / (1.0 / (hl * GAMMA) - jac)
            finite = True
            y_stage = y
            for i in range(6):
                if i == 0:
                    fi = f
                else:
                    acc = 0.0
                    for j in range(i):
                        acc += RODAS_A[i, j] * u[j]
                    y_stage = y + acc
                    fi, _ = curve_rhs(y_stage, row, False, method, scale, xlo, xhi, coef, dcoef,
                                      nodes, total0, nu, water, oh0, inv_mw, seed_m,
                                      seed_largest, cvol, ions, k, order, k_back,
                                      order_back)  # fmt: skip
                acc = 0.0
                for j in range(i):
                    acc += (RODAS_C[i, j] / hl) * u[j]
                u[i] = winv * (fi + acc)
                if not math.isfinite(u[i]):
                    finite = False
            y_new = y_stage + u[5]
            ay = abs(y)
            ayn = abs(y_new)
            big = ayn if (ay < ayn or math.isnan(ayn)) else ay
            err = abs(u[5]) / (atol + rtol * big)
            if not (finite and math.isfinite(err)):
                err = np.inf
            accept = err <= 1.0
            t_new = target if land else t + hl
            f2 = f
            j2 = jac
            if accept:
                f2, j2 = curve_rhs(y_new, row, True, method, scale, xlo, xhi, coef, dcoef, nodes,
                                   total0, nu, water, oh0, inv_mw, seed_m, seed_largest, cvol,
                                   ions, k, order, k_back, order_back)  # fmt: skip
                if not (math.isfinite(f2) and math.isfinite(j2)):
                    accept = False
                    err = np.inf
            factor = SAFETY * err**-0.25 if err > 0.0 else GROW
            factor = min(max(factor, SHRINK), GROW)
            if not math.isfinite(err):
                factor = 0.25
            if accept:
                xi, _ = curve_amount(y_new, row, method, scale, seed_m, seed_largest, cvol)
                ev_new = xi / limit[row] - 1.0
                if ev_prev < 0.0 and ev_new >= 0.0 and math.isnan(event_time[row]):
                    a = 0.0
                    b = 1.0
                    for _ in range(BISECTIONS):
                        mid = 0.5 * (a + b)
                        ym = curve_dense(y, y_new, u[0], u[1], u[2], u[3], u[4], mid)
                        xm, _ = curve_amount(ym, row, method, scale, seed_m, seed_largest,
                                             cvol)  # fmt: skip
                        if xm / limit[row] - 1.0 >= 0.0:
                            b = mid
                        else:
                            a = mid
                    event_time[row] = t + b * hl
                    event_state[row] = curve_dense(y, y_new, u[0], u[1], u[2], u[3], u[4], b)
                ev_prev = ev_new
                steps[row] += 1
                t = t_new
                y = y_new
                f = f2
                jac = j2
            else:
                rejected[row] += 1
            h_next = hl * factor
            if accept and land:
                h = max(h_next, h)
                y_out[k_next, row] = y
                k_next += 1
            else:
                h = h_next
            if not accept and hl * factor <= 1e-14 * max(abs(t), 1e-300):
                status[row] = ST_TOO_SMALL
                break
            if steps[row] + rejected[row] >= max_steps:
                status[row] = ST_MAX_STEPS
                break


#: The functions the generated module compiles, in order.
FUNCTIONS = (curve_amount, curve_rhs, curve_dense, curve_block)
