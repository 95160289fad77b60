"""Compiled solver of equilibria with a reaction: precipitation, thresholds, dilution (numba).

The Newton of :mod:`.numpy_reaction` for the common case (PHREEQC's Davies
model, species the generated kernel covers, a solution with a pH, no solid at
the start), as a loop over rows.  Per row the unknowns ``x`` are ln m of the
metals (``x[0 .. NM-1]``), ln I (``x[X_I]``), ln a(H⁺) (``x[X_H]``, solved in a
closed system, held otherwise) and the reaction's own from ``x[X_R]``:

* :data:`Kind.PRECIPITATE` (:func:`precipitate_rows`): the moles ξ_p of each
  candidate phase formed per kg of initial water, with hydrate water leaving
  the solvent; equations SI_p = 0 for the phases present, ξ_p = 0 for the
  others, updated by an active-set loop;
* :data:`Kind.THRESHOLD` (:func:`search_rows`): ln T of one component (with a
  counter-ion in fixed ratio), equation log10 Ω = log10 target;
* :data:`Kind.DILUTION` (:func:`search_rows`): ln d, every total divided by d,
  equation log10 Ω = log10 target.

Every ligand's free molality follows its mass balance in closed form, as in
the speciation kernel; the evaluation and its derivatives are generated for
the constant set's species by :func:`.codegen.reaction_source`.

The functions and records below are plain Python.  :mod:`.compiled` writes
their source into the module it generates for a species structure, the
functions under ``numba.njit``, after the layout constants (``NC``, ``NM``,
``X_R``, ``SC_*``: :meth:`.codegen.KernelLayout.constants_source`) and that
structure's ``fill_kh`` and ``evaluate_*``, adds the drivers that run
:func:`precipitate_block` and :func:`search_block` on numba's threads
(:data:`PARALLEL`), and numba compiles and caches the whole module.  The
problem travels in named tuples (numba types them as records with attribute
access).  Importing this module does not import numba;
its functions are never run uncompiled.
"""

from __future__ import annotations

import math
from enum import IntEnum
from typing import Any, NamedTuple

import numpy as np

from ..activity import WATER_ACTIVITY_SLOPE
from ..database import R_KJ, T_REF  # van 't Hoff's constants, written into the kernels

#: Numerical constants of both reaction engines (numpy and compiled).
LN10 = math.log(10.0)
INV_LN10 = 1.0 / LN10
KEEP = 0.01  # a step leaves at least this share of a component in solution
STEP_LIMIT = 4.0  # largest change of ln m, ln I per step
PH_STEP = 0.5 * LN10  # largest change of ln a_H per step (0.5 pH)
AMOUNT_STEP = 2.0 * LN10  # threshold, dilution: largest change of ln T, ln d per step
MAX_HALVINGS = 12  # backtracking: a step may be halved this many times
WATER_SLOPE = WATER_ACTIVITY_SLOPE

#: The names above that the generated module defines from these values.
NUMERIC_CONSTANTS = (
    "LN10", "INV_LN10", "KEEP", "STEP_LIMIT", "PH_STEP", "AMOUNT_STEP", "MAX_HALVINGS",
    "R_KJ", "T_REF", "PRECIPITATE", "THRESHOLD", "DILUTION", "SPECIATE", "BALANCE",
)  # fmt: skip

# The chemical system's layout: defined in the generated module by
# KernelLayout.constants_source (these placeholders are never used).
NC = NM = NG = X_I = X_H = X_R = 0
SC_IONIC = SC_CHARGE = SC_SCALE = SC_MSUM = SC_OH = SC_LG0 = SC_LG1 = SC_DLG1 = 0
SC_ML = SC_SIZE = 0


class Kind(IntEnum):
    """What the reaction's own unknowns are (passed to the kernels as a plain int)."""

    PRECIPITATE = 0  # the amount of each candidate phase
    THRESHOLD = 1  # ln T of the varied component
    DILUTION = 2  # ln d
    SPECIATE = 3  # none: the pH from the charge balance, totals held
    BALANCE = 4  # ln T of the ion adjusted to the charge balance, the pH held


PRECIPITATE = int(Kind.PRECIPITATE)
THRESHOLD = int(Kind.THRESHOLD)
DILUTION = int(Kind.DILUTION)
SPECIATE = int(Kind.SPECIATE)
BALANCE = int(Kind.BALANCE)


class Species(NamedTuple):
    """The species of the constant set: log K₂₅, ΔH, charge, H₂O, components' z²."""

    log_k25: Any
    delta_h: Any
    z: Any
    nu_w: Any
    z2c: Any


class Rows(NamedTuple):
    """The rows' inputs: temperature, Davies A at a_w = 1 and its slope, totals, log a_H."""

    t: Any
    a_ref: Any
    a_slope: Any
    total0: Any
    log_ah0: Any


class Speciated(NamedTuple):
    """The rows' speciation (log γ by z² class), read at the start and overwritten at the end."""

    m: Any
    lg: Any
    ionic: Any
    aw: Any
    ok: Any


class Phases(NamedTuple):
    """Dissolution stoichiometry, H⁺, H₂O and log K (N, P) of the candidate phases."""

    nup: Any
    nup_h: Any
    nwp: Any
    log_kp: Any


class Search(NamedTuple):
    """A search: kind, the totals' change per unit of the varied total, bounds, target."""

    kind: int
    ratio: Any
    z_q: float
    vary: int
    s_lo: Any
    s_hi: float
    log_goal: Any


class PrecipitateOut(NamedTuple):
    """Per row: ξ (N, P), phases present, log a_H, water, totals left (N, C), status."""

    xi: Any
    active: Any
    log_ah: Any
    water: Any
    rem: Any
    ok: Any
    it: Any
    res: Any


class SearchOut(NamedTuple):
    """Per row: the unknown s (ln T or ln d), log a_H, SI at the solution, status, slope.

    ``slope`` is d log10 Ω / d s at the solution along the speciation's
    solutions (NaN where unknown).
    """

    s: Any
    log_ah: Any
    si: Any
    ok: Any
    it: Any
    slope: Any


class Balance(NamedTuple):
    """A charge balance: SPECIATE (the pH) or BALANCE (an ion's total), the charge excess kept.

    ``component`` is the ion adjusted (-1 for the pH); ``offset`` (N,) the charge
    excess Σ z m each row keeps [eq/kg]; ``s_lo``, ``s_hi`` bound ln T of the ion.
    """

    kind: int
    component: int
    offset: Any
    s_lo: float
    s_hi: float


class BalanceOut(NamedTuple):
    """Per row: log a_H, the adjusted ion's total, converged, iterations, residual."""

    log_ah: Any
    total: Any
    ok: Any
    it: Any
    res: Any


class Row(NamedTuple):
    """One row's problem, as :func:`state_eval` reads it.

    K(T), presence of each component, K(T) a_H^ν, A at a_w = 1 and its
    slope, ``lag`` (log10 a_w and Σ ν_w m of the previous evaluation, both
    lagged, as in speciate), the initial totals, the water component, the
    charge excess, M_w, the phases' stoichiometry, ν_H, hydrate water and log
    K, the target log Ω, the active phases, the totals' change per unit of a
    threshold's total, the charge that comes with it, the varied total at the
    start and the components' z².
    """

    kt: Any
    pres: Any
    kh: Any
    a_ref: float
    a_slope: float
    lag: Any
    total0: Any
    wtot0: float
    q0: float
    mw: float
    nup: Any
    nup_h: Any
    nwp: Any
    log_kp: Any
    goal: Any
    active: Any
    ratio: Any
    z_q: float
    t0v: float
    z2c: Any


class Work(NamedTuple):
    """Arrays one row's evaluation writes (:func:`workspace`)."""

    tl: Any
    rem: Any
    m: Any
    jb: Any
    jt: Any
    el: Any
    sc: Any
    si: Any
    dt: Any
    dms: Any
    jac0: Any  # the last full Jacobian, before its factorisation: a root's slope


#: The records, in the order the generated module defines them.
RECORDS = (
    Species, Rows, Speciated, Phases, Search, PrecipitateOut, SearchOut, Balance, BalanceOut,
    Row, Work,
)  # fmt: skip

# The generated functions these call; replaced by the real ones in the generated module.


def fill_kh(kt: Any, pres: Any, ah: float, kh: Any) -> None:  # pragma: no cover
    raise NotImplementedError("generated by .codegen.reaction_source")


def evaluate_fixed(*args: Any) -> None:  # pragma: no cover
    raise NotImplementedError("generated by .codegen.reaction_source")


def evaluate_closed(*args: Any) -> None:  # pragma: no cover
    raise NotImplementedError("generated by .codegen.reaction_source")


def solve_n(a: Any, b: Any, n: int) -> bool:
    """Gaussian elimination with partial pivoting on a[:n, :n], in place; b becomes x.

    1/0 gives inf (the row is flagged); it never raises.
    """
    for k in range(n):
        p = k
        big = abs(a[k, k])
        for i in range(k + 1, n):
            if abs(a[i, k]) > big:
                big = abs(a[i, k])
                p = i
        if big == 0.0 or not np.isfinite(big):
            return False
        if p != k:
            for j in range(n):
                a[k, j], a[p, j] = a[p, j], a[k, j]
            b[k], b[p] = b[p], b[k]
        for i in range(k + 1, n):
            f = a[i, k] / a[k, k]
            if f != 0.0:
                for j in range(k, n):
                    a[i, j] -= f * a[k, j]
                b[i] -= f * b[k]
    for k in range(n - 1, -1, -1):
        s = b[k]
        for j in range(k + 1, n):
            s -= a[k, j] * b[j]
        b[k] = s / a[k, k]
    return True


def kt_fill(log_k25: Any, delta_h: Any, t: float, kt: Any) -> None:
    """K(T) of every species by van 't Hoff (:func:`oxalate.database.van_t_hoff`'s expression)."""
    for j in range(kt.shape[0]):
        log_k = log_k25[j] - delta_h[j] * (T_REF - t) / (LN10 * R_KJ * t * T_REF)
        kt[j] = math.exp(LN10 * log_k)


def state_eval(
    kind: int,
    closed: bool,
    jacobian: bool,
    x: Any,
    nx: int,
    n_p: int,
    rd: Row,
    w: Work,
    f: Any,
    jac: Any,
) -> tuple[float, float, float, float, float]:
    """Residuals ``f`` (and Jacobian ``jac``) at ``x`` for the row ``rd``.

    ``w`` is the work space of :func:`workspace`.  Returns the largest scaled
    residual, the sum of squared residuals, the water mass W [kg per kg of
    initial water], and the new log10 a_w and Σ ν_w m.

    One function on purpose: split into helpers (each unpacking the records it
    needs), the compiled reaction kernel ran 10-25 % slower (measured with
    ``benchmarks/bench_precipitation.py``).
    """
    (kt, pres, kh, a_ref, a_slope, lag, total0, wtot0, q0, mw, nup, nup_h, nwp, log_kp, goal,
     active, ratio, z_q, t0v, z2c) = rd  # fmt: skip
    tl, rem, m, jb, jt, el, sc, si, dt, dms, _jac0 = w
    law = lag[0]
    oh = lag[1]
    ah = math.exp(x[X_H])
    if closed:
        fill_kh(kt, pres, ah, kh)
    aw = math.exp(LN10 * law)
    a = a_ref + a_slope * (aw - 1.0)
    if kind == PRECIPITATE:
        wt = wtot0
        for p in range(n_p):
            wt -= nwp[p] * x[X_R + p]
        water = wt / (1.0 / mw + oh)
        for c in range(NC):
            r = total0[c]
            for p in range(n_p):
                r -= nup[p, c] * x[X_R + p]
            rem[c] = r
            tl[c] = r / water
        q = q0 / water
    elif kind == THRESHOLD or kind == BALANCE:
        wt = 1.0
        water = 1.0
        ev = math.exp(x[X_R])
        for c in range(NC):
            tl[c] = total0[c] + ratio[c] * (ev - t0v)
            rem[c] = tl[c]
        q = q0 + z_q * (ev - t0v)
    elif kind == DILUTION:  # every total (and the charge excess) divided by d = exp(x[X_R])
        wt = 1.0
        water = 1.0
        ev = math.exp(-x[X_R])
        for c in range(NC):
            tl[c] = total0[c] * ev
            rem[c] = tl[c]
        q = q0 * ev
    else:  # SPECIATE: the totals as they are
        wt = 1.0
        water = 1.0
        for c in range(NC):
            tl[c] = total0[c]
            rem[c] = tl[c]
        q = q0
    for c in range(NC):
        if pres[c] > 0.0 and not (tl[c] > 0.0):
            return np.inf, np.inf, water, law, oh
    if closed:
        evaluate_closed(kh, aw, a, x, x[X_I], tl, m, jb, jt, el, sc, jacobian)
    else:
        evaluate_fixed(kh, aw, a, x, x[X_I], tl, m, jb, jt, el, sc, jacobian)
    ionic = sc[SC_IONIC]
    lg1 = sc[SC_LG1]
    dlg1 = sc[SC_DLG1]
    new_oh = sc[SC_OH]
    new_aw = max(1.0 - WATER_SLOPE * sc[SC_MSUM], 1e-3)
    new_law = math.log10(new_aw)
    worst = abs(new_law - law)
    if kind == PRECIPITATE:
        worst = max(worst, abs(wt / ((1.0 / mw + new_oh) * water) - 1.0))
    for u in range(NM):
        if pres[u] > 0.0:
            ratio_u = sc[u] / tl[u]
            f[u] = math.log(ratio_u)
            worst = max(worst, abs(ratio_u - 1.0))
        else:
            f[u] = 0.0
    f[X_I] = x[X_I] - math.log(ionic)
    worst = max(worst, abs(f[X_I]))
    scale = 1.0
    f[X_H] = 0.0
    if closed:
        scale = sc[SC_SCALE]
        f[X_H] = (sc[SC_CHARGE] - q) / scale
        worst = max(worst, abs(f[X_H]))
    for p in range(n_p):
        ok_p = True
        v = nup_h[p] * x[X_H] * INV_LN10 + nwp[p] * new_law - log_kp[p]
        for c in range(NC):
            nu = nup[p, c]
            if nu != 0.0:
                if pres[c] == 0.0:
                    ok_p = False
                    break
                lm = x[c] if c < NM else math.log(sc[SC_ML + c - NM])
                v += nu * (lm * INV_LN10 + z2c[c] * lg1)
        si[p] = v if ok_p else -np.inf
        if kind != PRECIPITATE or active[p]:
            f[X_R + p] = si[p] - goal[p]
        else:
            f[X_R + p] = x[X_R + p]
        worst = max(worst, abs(f[X_R + p]))
    if kind == BALANCE:  # the pH is held: ln a_H pinned to the goal
        f[X_R] = x[X_H] - goal[0]
        worst = max(worst, abs(f[X_R]))
    norm = 0.0
    for i in range(nx):
        norm += f[i] * f[i]
    if not np.isfinite(worst) or not np.isfinite(norm):
        worst = np.inf
        norm = np.inf
    if not jacobian:
        return worst, norm, water, new_law, new_oh
    for i in range(nx):
        for k in range(nx):
            jac[i, k] = 0.0
    nb = X_H + 1 if closed else X_H
    inv_ionic = 1.0 / ionic
    inv_scale = 1.0 / scale
    for u in range(NM):
        if pres[u] > 0.0:
            inv = 1.0 / sc[u]
            for k in range(nb):
                jac[u, k] = jb[u, k] * inv
    for k in range(nb):
        jac[X_I, k] = -jb[X_I, k] * inv_ionic
    jac[X_I, X_I] += 1.0
    if closed:
        for k in range(X_H + 1):
            jac[X_H, k] = jb[X_H, k] * inv_scale
    else:
        jac[X_H, X_H] = 1.0
    # d(sum m)/d x: predicts a_w after a step (a_w lags one evaluation behind)
    for k in range(nx):
        dms[k] = jb[X_R, k] if k < nb else 0.0
    # the Omega rows: d log10 Omega_p
    for p in range(n_p):
        row = X_R + p
        if kind == PRECIPITATE and not active[p]:
            jac[row, row] = 1.0
            continue
        for c in range(NC):
            nu = nup[p, c]
            if nu == 0.0:
                continue
            if c < NM:
                jac[row, c] += nu * INV_LN10
            else:
                for k in range(nb):
                    jac[row, k] += nu * el[c - NM, k] * INV_LN10
            jac[row, X_I] += nu * z2c[c] * dlg1
        if closed:
            jac[row, X_H] += nup_h[p] * INV_LN10
    if kind == BALANCE:
        jac[X_R, X_H] = 1.0
    # the columns of the reaction's unknowns: through the totals T_c
    for j in range(nx - X_R):
        col = X_R + j
        if kind == PRECIPITATE:
            inv_water = 1.0 / water
            w_share = nwp[j] / wt
            for c in range(NC):
                dt[c] = -nup[j, c] * inv_water + tl[c] * w_share
            dnegq = -q0 * nwp[j] / (water * wt)
        elif kind == THRESHOLD or kind == BALANCE:
            ev = math.exp(x[X_R])
            for c in range(NC):
                dt[c] = ratio[c] * ev
            dnegq = -z_q * ev
        else:
            for c in range(NC):
                dt[c] = -tl[c]
            dnegq = q0 * math.exp(-x[X_R])
        v = 0.0
        for lig in range(NC - NM):
            v += jt[X_R, lig] * dt[NM + lig]
        dms[col] = v
        for r in range(X_H + 1 if closed else X_H):
            v = 0.0
            for lig in range(NC - NM):
                v += jt[r, lig] * dt[NM + lig]
            if r < NM:
                if pres[r] > 0.0:
                    jac[r, col] = v / sc[r] - dt[r] / tl[r]
            elif r == X_I:
                jac[X_I, col] = -v * inv_ionic
            else:
                jac[X_H, col] = (v + dnegq) * inv_scale
        for p in range(n_p):
            if kind == PRECIPITATE and not active[p]:
                continue
            v = 0.0
            for lig in range(NC - NM):
                v += nup[p, NM + lig] * el[lig, X_R] * dt[NM + lig]
            jac[X_R + p, col] += v * INV_LN10
    # hydrate water in Omega: log10 a_w of the current molalities, d/dx through sum m
    for p in range(n_p):
        if nwp[p] != 0.0 and (kind != PRECIPITATE or active[p]):
            coef = -nwp[p] * WATER_SLOPE / (new_aw * LN10)
            for k in range(nx):
                jac[X_R + p, k] += coef * dms[k]
    # absent metals: identity rows, zero columns
    for u in range(NM):
        if pres[u] == 0.0:
            for i in range(nx):
                jac[u, i] = 0.0
                jac[i, u] = 0.0
            jac[u, u] = 1.0
            dms[u] = 0.0
    return worst, norm, water, new_law, new_oh


def newton(
    kind: int,
    closed: bool,
    x: Any,
    nx: int,
    n_p: int,
    s_lo: float,
    s_hi: float,
    tol: float,
    max_iter: int,
    accept: float,
    rd: Row,
    w: Work,
    f: Any,
    jac: Any,
    prev_x: Any,
    step: Any,
    cheap_first: bool,
) -> tuple[bool, int, float, float]:
    """Damped Newton on one row, in place on ``x`` and ``rd.lag``.

    Steps are limited as in :func:`.numpy_reaction.newton` (|Δ ln m|,
    |Δ ln I| ≤ 4, |Δ ln a_H| ≤ 0.5 ln 10, no component losing more than 99 %
    of what is left in solution, a threshold's ln T or a dilution's ln d at
    most two decades and within [s_lo, s_hi]) and halved back towards the
    last point where the sum of squared residuals did not fall.  It aims at
    ``tol`` (the caller's tolerance divided by 10, so that the results are
    accurate well beyond what is asked, as the numpy solver's extra step
    makes them) and, if round-off stops it short, accepts the last point
    where the largest residual is within ``accept``.  Returns converged,
    iterations, the water mass and the largest residual; the work space
    holds the evaluation at ``x``.  With ``cheap_first`` the start is
    evaluated without the Jacobian first (for a start that is likely the
    root): the same result and iterations, one evaluation more if it is not
    (``w.jac0`` is not written when the start is the root).
    """
    rd_lag = rd.lag
    rd_active = rd.active
    w_sc = w.sc
    w_dms = w.dms
    w_jac0 = w.jac0
    lag = rd_lag
    prev_norm = np.inf
    alpha = 1.0
    halvings = 0
    worst = np.inf
    water = 1.0
    cheap = cheap_first  # the last step should have converged: try without the Jacobian first
    for it in range(max_iter + 1):
        if cheap:
            cheap = False
            worst, norm, water, new_law, new_oh = state_eval(
                kind, closed, False, x, nx, n_p, rd, w, f, jac
            )
            if worst <= tol:
                return True, it, water, worst
        worst, norm, water, new_law, new_oh = state_eval(
            kind, closed, True, x, nx, n_p, rd, w, f, jac
        )
        for i in range(nx):
            for k in range(nx):
                w_jac0[i, k] = jac[i, k]
        if worst <= tol:
            return True, it, water, worst
        if worst <= accept and not (norm < prev_norm):  # round-off: no further to go
            return True, it, water, worst
        if it == max_iter:
            return worst <= accept, it, water, worst
        if (
            not (norm < prev_norm)
            and prev_norm < np.inf
            and prev_norm > (0.01 * tol) ** 2
            and halvings < MAX_HALVINGS
            and kind < SPECIATE  # a charge balance alone: plain Newton, as numpy's speciation
        ):
            alpha *= 0.5
            halvings += 1
            for i in range(nx):
                x[i] = prev_x[i] - alpha * step[i]
            if np.isfinite(new_law):
                lag[0] = new_law
                lag[1] = new_oh
            continue
        if not np.isfinite(norm):
            break
        for i in range(nx):
            prev_x[i] = x[i]
            step[i] = f[i]
        prev_norm = norm
        alpha = 1.0
        halvings = 0
        if not solve_n(jac, step, nx):
            return worst <= accept, it, water, worst
        lim = _step_limit(kind, closed, nx, n_p, rd, w, step)
        if not np.isfinite(lim):
            return worst <= accept, it, water, worst
        cheap = lim == 1.0 and worst <= 1e-6  # Newton's next residual ~ worst**2
        for i in range(nx):
            step[i] *= lim
        if kind == PRECIPITATE:
            for p in range(n_p):
                if not rd_active[p]:
                    step[X_R + p] = x[X_R + p]  # an absent phase stays at exactly none
        elif nx > X_R:
            if x[X_R] - step[X_R] < s_lo:
                step[X_R] = x[X_R] - s_lo
            if x[X_R] - step[X_R] > s_hi:
                step[X_R] = x[X_R] - s_hi
        # a_w at the new point, predicted to first order: it then lags by second order
        msum = w_sc[SC_MSUM]
        for i in range(nx):
            x[i] -= step[i]
            msum -= w_dms[i] * step[i]
        lag[0] = math.log10(max(1.0 - WATER_SLOPE * msum, 1e-3))
        lag[1] = new_oh
    return False, max_iter, water, worst


def _step_limit(kind: int, closed: bool, nx: int, n_p: int, rd: Row, w: Work, step: Any) -> float:
    """The factor that keeps a Newton step within the limits of :func:`newton`."""
    rd_pres = rd.pres
    rd_nup = rd.nup
    w_rem = w.rem
    big = 0.0
    for i in range(X_R):
        big = max(big, abs(step[i]))
    lim = STEP_LIMIT / big if big > STEP_LIMIT else 1.0
    if closed and kind < SPECIATE and abs(step[X_H]) * lim > PH_STEP:
        lim = PH_STEP / abs(step[X_H])
    if kind == PRECIPITATE:
        for c in range(NC):
            if rd_pres[c] > 0.0:
                d = 0.0
                for p in range(n_p):
                    d += step[X_R + p] * rd_nup[p, c]
                if d < 0.0:
                    lim = min(lim, (1.0 - KEEP) * w_rem[c] / -d)
    elif nx > X_R and abs(step[X_R]) * lim > AMOUNT_STEP:
        lim = AMOUNT_STEP / abs(step[X_R])
    return lim


def workspace(ns: int, n_p: int) -> Work:
    """The arrays one row's evaluation writes."""
    nl = NC - NM
    return Work(
        np.empty(NC), np.empty(NC), np.empty(ns), np.zeros((X_R + 1, nl)),
        np.zeros((X_R + 1, nl)), np.zeros((nl, X_R + 1)), np.zeros(SC_SIZE), np.empty(n_p),
        np.empty(NC), np.zeros(X_R + n_p), np.zeros((X_R + n_p, X_R + n_p)),
    )  # fmt: skip


def first_guess(
    p: int,
    total0: Any,
    phi0: Any,
    h: float,
    law: float,
    ph: Phases,
    log_kp: Any,
    mw: float,
) -> float:
    """Amount of phase p that a fixed-speciation model predicts (0 if it does not form).

    With every component's free fraction and activity coefficient held at
    their initial values (``phi0`` = log10 of their product), log10 Ω_p(ξ) =
    Σ_c ν_pc log10(R_c(ξ)/W(ξ)) + const falls from ξ = 0 to -∞ at the first
    component used up; its root by Newton safeguarded with bisection.
    """
    ph_nup = ph.nup
    ph_nwp = ph.nwp
    ph_nup_h = ph.nup_h
    nup, nwp = ph_nup, ph_nwp
    const = ph_nup_h[p] * h / LN10 + nwp[p] * law - log_kp[p]
    hi = np.inf
    n_in = 0
    one_one = True
    c_a = -1
    c_b = -1
    for c in range(NC):
        nu = nup[p, c]
        if nu != 0.0:
            const += nu * phi0[c]
            n_in += 1
            one_one = one_one and nu == 1.0
            if c_a < 0:
                c_a = c
            else:
                c_b = c
            if nu > 0.0:
                hi = min(hi, total0[c] / nu)
    if not (hi < np.inf and hi > 0.0):
        return 0.0
    lo = 0.0
    top = hi
    xi = 0.0
    if n_in == 2 and one_one:
        # two components, one of each: (a - xi)(b - xi) = P ignoring W (within ~M_w xi),
        # in the form without cancellation; Newton below polishes it
        a = total0[c_a]
        b = total0[c_b]
        prod = math.exp(-LN10 * const)
        if not (a * b > prod):
            return 0.0
        xi = 2.0 * (a * b - prod) / ((a + b) + math.sqrt((a - b) * (a - b) + 4.0 * prod))
    for _ in range(80):
        water = 1.0 - mw * nwp[p] * xi
        g = const
        dg = 0.0
        for c in range(NC):
            nu = nup[p, c]
            if nu != 0.0:
                r = total0[c] - nu * xi
                g += nu * math.log10(r / water) if r > 0.0 else -np.inf
                dg += nu * (-nu / r + mw * nwp[p] / water) / LN10
        if xi == 0.0 and not (g > 0.0):
            return 0.0
        if g > 0.0:
            lo = xi
        else:
            hi = xi
        new = xi - g / dg if np.isfinite(g) and dg < 0.0 else 0.5 * (lo + hi)
        if not (lo < new < hi):
            new = 0.5 * (lo + hi)
        if abs(new - xi) <= 1e-9 * top or hi - lo <= 1e-14 * top:
            return new
        xi = new
    return xi


def initial_state(
    row: int, sp: Speciated, log_ah: float, total0: Any, x: Any, lag: Any, pr: Any
) -> None:
    """Unknowns, lagged a_w and presence of a row from its speciation (log γ by z² class)."""
    sp_m = sp.m
    sp_ionic = sp.ionic
    sp_aw = sp.aw
    for c in range(NC):
        pr[c] = 1.0 if total0[row, c] > 0.0 else 0.0
    for c in range(NM):
        x[c] = math.log(sp_m[row, c]) if sp_m[row, c] > 0.0 else math.log(1e-20)
    x[X_I] = math.log(sp_ionic[row])
    x[X_H] = LN10 * log_ah
    for i in range(X_R, x.shape[0]):
        x[i] = 0.0
    lag[0] = math.log10(sp_aw[row])
    lag[1] = 0.0


def store(row: int, w: Work, sp: Speciated) -> None:
    """Write the speciation of the last evaluation into row ``row`` of ``sp``."""
    w_sc = w.sc
    w_m = w.m
    sp_m = sp.m
    sp_lg = sp.lg
    sp_ionic = sp.ionic
    sp_aw = sp.aw
    sc = w_sc
    for j in range(w_m.shape[0]):
        sp_m[row, j] = w_m[j]
    sp_lg[row, 0] = sc[SC_LG0]
    for zz in range(1, NG):
        sp_lg[row, zz] = zz * sc[SC_LG1]
    sp_ionic[row] = sc[SC_IONIC]
    sp_aw[row] = max(1.0 - WATER_SLOPE * sc[SC_MSUM], 1e-3)


def _initial_saturation(
    row: int,
    sp: Speciated,
    sv: Species,
    ph: Phases,
    log_ah0: float,
    lag: Any,
    pr: Any,
    si0: Any,
    tol: float,
) -> int:
    """SI of each phase in the initial speciation (``si0``); the most supersaturated one, or -1."""
    ph_nup = ph.nup
    ph_nup_h = ph.nup_h
    ph_nwp = ph.nwp
    ph_log_kp = ph.log_kp
    sp_m = sp.m
    sp_lg = sp.lg
    sv_z2c = sv.z2c
    first = -1
    best = tol
    for p in range(ph_nup.shape[0]):
        v = ph_nup_h[p] * log_ah0 + ph_nwp[p] * lag[0] - ph_log_kp[row, p]
        for c in range(NC):
            if ph_nup[p, c] != 0.0:
                if pr[c] == 0.0:
                    v = -np.inf
                    break
                v += ph_nup[p, c] * (math.log10(sp_m[row, c]) + sp_lg[row, int(sv_z2c[c])])
        si0[p] = v
        if v > best:
            best = v
            first = p
    return first


def _active_set_rounds(
    closed: bool,
    x: Any,
    nx: int,
    n_p: int,
    rd: Row,
    w: Work,
    f: Any,
    jac: Any,
    prev_x: Any,
    step: Any,
    tol: float,
    max_iter: int,
    amount_tol: float,
) -> tuple[bool, int, float]:
    """Newton for the current set of phases, then drop or add a phase, until the set settles."""
    rd_active = rd.active
    w_si = w.si
    its = 0
    worst = np.inf
    active = rd_active
    for _round in range(3 * n_p + 3):
        conv, it_n, _, worst = newton(
            PRECIPITATE, closed, x, nx, n_p, 0.0, 0.0, 1e-1 * tol, max_iter, tol, rd, w,
            f, jac, prev_x, step, False,
        )  # fmt: skip
        its += it_n
        if not conv:
            return False, its, worst
        worst_p = -1
        most = -amount_tol
        for p in range(n_p):
            if active[p] and x[X_R + p] < most:
                most = x[X_R + p]
                worst_p = p
        if worst_p >= 0:
            active[worst_p] = False
            x[X_R + worst_p] = 0.0
            continue
        add = -1
        most = tol
        for p in range(n_p):
            if not active[p] and w_si[p] > most:
                most = w_si[p]
                add = p
        if add >= 0:
            active[add] = True
            continue
        return True, its, worst
    return False, its, worst


def precipitate_block(
    lo: int,
    hi: int,
    sv: Species,
    rows: Rows,
    sp: Speciated,
    ph: Phases,
    mw: float,
    closed: bool,
    tol: float,
    max_iter: int,
    out: PrecipitateOut,
) -> None:
    """Equilibrium with the phases of ``ph`` for rows lo..hi-1 (:data:`PRECIPITATE`).

    Starts from each row's speciation ``sp`` (at pH ``-rows.log_ah0``,
    converged where ``sp.ok``), which it overwrites with the final one where
    a solid forms.  A row where no phase is supersaturated by more than
    ``tol`` keeps it (ξ = 0).  Otherwise the most supersaturated phase forms
    first, at the amount :func:`first_guess` predicts; then Newton for the
    current set of phases, after which a row drops its phase with a negative
    amount or adds its most supersaturated absent one, and solves again,
    until the set settles (at most 3 P + 3 rounds).
    """
    sv_log_k25 = sv.log_k25
    ph_nup = ph.nup
    out_ok = out.ok
    out_it = out.it
    out_res = out.res
    out_xi = out.xi
    out_active = out.active
    out_log_ah = out.log_ah
    rows_log_ah0 = rows.log_ah0
    out_water = out.water
    out_rem = out.rem
    rows_total0 = rows.total0
    sp_ok = sp.ok
    sv_z = sv.z
    sp_m = sp.m
    sv_nu_w = sv.nu_w
    sp_lg = sp.lg
    sv_z2c = sv.z2c
    rows_t = rows.t
    sv_delta_h = sv.delta_h
    ph_log_kp = ph.log_kp
    ph_nwp = ph.nwp
    rows_a_ref = rows.a_ref
    rows_a_slope = rows.a_slope
    ph_nup_h = ph.nup_h
    ns = sv_log_k25.shape[0]
    n_p = ph_nup.shape[0]
    nx = X_R + n_p
    kt = np.empty(ns)
    kh = np.empty(ns)
    x = np.zeros(nx)
    prev_x = np.zeros(nx)
    step = np.zeros(nx)
    f = np.zeros(nx)
    jac = np.zeros((nx, nx))
    lag = np.zeros(2)
    goal = np.zeros(n_p)
    active = np.zeros(n_p, dtype=np.bool_)
    ratio = np.zeros(NC)
    pr = np.zeros(NC)
    phi0 = np.zeros(NC)
    si0 = np.zeros(n_p)
    w = workspace(ns, n_p)
    t_last = np.nan
    for row in range(lo, hi):
        out_ok[row] = False
        out_it[row] = 0
        out_res[row] = np.nan
        for p in range(n_p):
            out_xi[row, p] = 0.0
            out_active[row, p] = False
        out_log_ah[row] = rows_log_ah0[row]
        out_water[row] = 1.0
        for c in range(NC):
            out_rem[row, c] = rows_total0[row, c]
        if not sp_ok[row]:
            continue
        initial_state(row, sp, rows_log_ah0[row], rows_total0, x, lag, pr)
        # the initial saturation, charge excess and water
        q0 = 0.0
        oh0 = 0.0
        for j in range(ns):
            q0 += sv_z[j] * sp_m[row, j]
            oh0 += sv_nu_w[j] * sp_m[row, j]
        lag[1] = oh0
        for c in range(NC):
            if pr[c] > 0.0:
                phi0[c] = (
                    math.log10(sp_m[row, c] / rows_total0[row, c]) + sp_lg[row, int(sv_z2c[c])]
                )
            else:
                phi0[c] = 0.0
        first = _initial_saturation(row, sp, sv, ph, rows_log_ah0[row], lag, pr, si0, tol)
        if first < 0:  # nothing forms: the row is at equilibrium as it is
            out_ok[row] = True
            out_res[row] = 0.0
            continue
        if rows_t[row] != t_last:
            kt_fill(sv_log_k25, sv_delta_h, rows_t[row], kt)
            t_last = rows_t[row]
        if not closed:
            fill_kh(kt, pr, math.exp(x[X_H]), kh)
        xi = first_guess(first, rows_total0[row], phi0, x[X_H], lag[0], ph, ph_log_kp[row], mw)
        if xi > 0.0:
            x[X_R + first] = xi
            active[first] = True
            water = 1.0 - mw * ph_nwp[first] * xi
            for c in range(NM):
                if ph_nup[first, c] != 0.0 and pr[c] > 0.0:
                    x[c] += math.log(
                        (rows_total0[row, c] - ph_nup[first, c] * xi) / rows_total0[row, c]
                    )
                    x[c] -= math.log(water)
        else:
            for p in range(n_p):
                active[p] = False
        amount_tol = 0.0
        for c in range(NC):
            amount_tol = max(amount_tol, rows_total0[row, c])
        amount_tol *= tol
        wtot0 = 1.0 / mw + oh0
        rd = Row(
            kt, pr, kh, rows_a_ref[row], rows_a_slope[row], lag, rows_total0[row], wtot0, q0, mw,
            ph_nup, ph_nup_h, ph_nwp, ph_log_kp[row], goal, active, ratio, 0.0, 0.0, sv_z2c,
        )  # fmt: skip
        done, its, worst = _active_set_rounds(
            closed, x, nx, n_p, rd, w, f, jac, prev_x, step, tol, max_iter, amount_tol
        )
        out_it[row] = its
        out_res[row] = worst
        if done:
            out_ok[row] = True
            store(row, w, sp)
            for p in range(n_p):
                out_xi[row, p] = x[X_R + p]
                out_active[row, p] = active[p]
        for p in range(n_p):
            active[p] = False
        if not done:
            continue
        out_log_ah[row] = x[X_H] / LN10
        # W from the final Σ ν_w m (the Newton lags it by one evaluation), so that
        # W (1/M_w + Σ ν_w m) + Σ x_p ξ_p = 1/M_w + Σ ν_w m₀ holds to rounding
        wt = wtot0
        for p in range(n_p):
            wt -= ph_nwp[p] * x[X_R + p]
        out_water[row] = wt / (1.0 / mw + w.sc[SC_OH])
        for c in range(NC):
            out_rem[row, c] = w.rem[c]


def search_block(
    lo: int,
    hi: int,
    sv: Species,
    rows: Rows,
    sp: Speciated,
    ph: Phases,
    se: Search,
    closed: bool,
    tol: float,
    max_iter: int,
    out: SearchOut,
) -> None:
    """log10 Ω = ``se.log_goal`` by one more unknown s, rows lo..hi-1.

    :data:`THRESHOLD`: s = ln T_vary; the total T_c of every component
    moves by ``se.ratio[c]`` (T_vary - T0_vary), the charge excess (closed) by
    ``se.z_q`` times the same.  s starts at ln T0_vary; rows where T_vary or a
    counter-ion's total is zero at the start are left (not converged) for
    the numpy solver.

    :data:`DILUTION`: s = ln d, every total and (closed) the charge
    excess divided by d; ``ratio``, ``z_q`` and ``vary`` are not used.  s
    starts at 0, and a row whose Ω is already at or below the target keeps
    d = 1.

    Newton on s, kept in [s_lo, s_hi], together with the speciation, from
    each row's speciation ``sp``, which it overwrites with the one at the
    solution.
    """
    sv_log_k25 = sv.log_k25
    out_ok = out.ok
    out_it = out.it
    out_s = out.s
    out_log_ah = out.log_ah
    out_si = out.si
    out_slope = out.slope
    sp_ok = sp.ok
    se_log_goal = se.log_goal
    se_ratio = se.ratio
    rows_total0 = rows.total0
    rows_log_ah0 = rows.log_ah0
    sv_z = sv.z
    sp_m = sp.m
    se_kind = se.kind
    se_vary = se.vary
    rows_t = rows.t
    sv_delta_h = sv.delta_h
    rows_a_ref = rows.a_ref
    rows_a_slope = rows.a_slope
    ph_nup = ph.nup
    ph_nup_h = ph.nup_h
    ph_nwp = ph.nwp
    ph_log_kp = ph.log_kp
    se_z_q = se.z_q
    sv_z2c = sv.z2c
    se_s_lo = se.s_lo
    se_s_hi = se.s_hi
    ns = sv_log_k25.shape[0]
    nx = X_R + 1
    kt = np.empty(ns)
    kh = np.empty(ns)
    x = np.zeros(nx)
    prev_x = np.zeros(nx)
    step = np.zeros(nx)
    f = np.zeros(nx)
    jac = np.zeros((nx, nx))
    lag = np.zeros(2)
    goal = np.zeros(1)
    active = np.ones(1, dtype=np.bool_)
    pr = np.zeros(NC)
    w = workspace(ns, 1)
    t_last = np.nan
    for row in range(lo, hi):
        out_ok[row] = False
        out_it[row] = 0
        out_s[row] = np.nan
        out_log_ah[row] = np.nan
        out_si[row] = np.nan
        out_slope[row] = np.nan
        good = sp_ok[row] and np.isfinite(se_log_goal[row])
        for c in range(NC):
            if se_ratio[c] != 0.0 and not (rows_total0[row, c] > 0.0):
                good = False
        if not good:
            continue
        initial_state(row, sp, rows_log_ah0[row], rows_total0, x, lag, pr)
        q0 = 0.0
        for j in range(ns):
            q0 += sv_z[j] * sp_m[row, j]
        if se_kind == THRESHOLD:
            x[X_R] = math.log(rows_total0[row, se_vary])
        goal[0] = se_log_goal[row]
        if rows_t[row] != t_last:
            kt_fill(sv_log_k25, sv_delta_h, rows_t[row], kt)
            t_last = rows_t[row]
        if not closed:
            fill_kh(kt, pr, math.exp(x[X_H]), kh)
        rd = Row(
            kt, pr, kh, rows_a_ref[row], rows_a_slope[row], lag, rows_total0[row], 1.0, q0, 1.0,
            ph_nup, ph_nup_h, ph_nwp, ph_log_kp[row], goal, active, se_ratio, se_z_q,
            rows_total0[row, se_vary], sv_z2c,
        )  # fmt: skip
        if se_kind == DILUTION:
            # Omega of the solution as it is (the speciation given): at or below the
            # target, no dilution is needed
            worst, _, _, _, _ = state_eval(se_kind, closed, False, x, nx, 1, rd, w, f, jac)
            if np.isfinite(worst) and f[X_R] <= tol:
                out_ok[row] = True
                out_s[row] = 0.0
                out_log_ah[row] = rows_log_ah0[row]
                out_si[row] = w.si[0]
                continue
        conv, its, _, _ = newton(
            se_kind, closed, x, nx, 1, se_s_lo[row], se_s_hi, 1e-1 * tol, max_iter, tol, rd, w,
            f, jac, prev_x, step, False,
        )  # fmt: skip
        out_it[row] = its
        if not conv:
            continue
        out_ok[row] = True
        store(row, w, sp)
        out_s[row] = x[X_R]
        out_log_ah[row] = x[X_H] / LN10
        out_si[row] = w.si[0]
        out_slope[row] = root_slope(w.jac0, jac, step, nx)


def balance_block(
    lo: int,
    hi: int,
    sv: Species,
    rows: Rows,
    sp: Speciated,
    ba: Balance,
    tol: float,
    max_iter: int,
    out: BalanceOut,
) -> None:
    """Speciation with a charge balance, rows lo..hi-1 (:data:`Kind.SPECIATE`, ``BALANCE``).

    SPECIATE solves ln a_H with the charge balance Σ z m = offset; BALANCE holds
    the pH and solves ln T of the ion ``ba.component`` instead.  Each row starts
    from its speciation ``sp`` at ``rows.log_ah0`` (the seed pH, or the pH
    held), which it overwrites with the balanced one; rows whose start did not
    converge are left, not converged, for the numpy engine.  After a row that
    started at its root (a seed from nearby states often is), the next row's
    start is first evaluated without the Jacobian: only the cost changes.
    """
    ns = sv.log_k25.shape[0]
    kind = ba.kind
    nx = X_R if kind == SPECIATE else X_R + 1
    kt = np.empty(ns)
    kh = np.empty(ns)
    x = np.zeros(nx)
    prev_x = np.zeros(nx)
    step = np.zeros(nx)
    f = np.zeros(nx)
    jac = np.zeros((nx, nx))
    lag = np.zeros(2)
    goal = np.zeros(1)
    active = np.zeros(0, dtype=np.bool_)
    ratio = np.zeros(NC)
    pr = np.zeros(NC)
    none = np.zeros((0, NC))
    empty = np.zeros(0)
    w = workspace(ns, 0)
    t_last = np.nan
    b = ba.component
    if kind == BALANCE:
        ratio[b] = 1.0
    # the row before started at its root: so may this one (seeded from nearby states);
    # the result is the same either way, only the cost differs
    near = False
    for row in range(lo, hi):
        out.ok[row] = False
        out.it[row] = 0
        out.res[row] = np.nan
        out.log_ah[row] = np.nan
        out.total[row] = np.nan
        if not sp.ok[row]:
            continue
        initial_state(row, sp, rows.log_ah0[row], rows.total0, x, lag, pr)
        t0v = 0.0
        if kind == BALANCE:
            t0v = rows.total0[row, b]
            pr[b] = 1.0
            x[X_R] = math.log(t0v) if t0v > 0.0 else math.log(1e-6)
            if t0v > 0.0 and x[X_R] > ba.s_hi:
                x[X_R] = ba.s_hi
            goal[0] = x[X_H]
        if rows.t[row] != t_last:
            kt_fill(sv.log_k25, sv.delta_h, rows.t[row], kt)
            t_last = rows.t[row]
        rd = Row(
            kt, pr, kh, rows.a_ref[row], rows.a_slope[row], lag, rows.total0[row], 1.0,
            ba.offset[row], 1.0, none, empty, empty, empty, goal, active, ratio, 0.0, t0v,
            sv.z2c,
        )  # fmt: skip
        conv, its, _, worst = newton(
            kind, True, x, nx, 0, ba.s_lo, ba.s_hi, 1e-1 * tol, max_iter, tol, rd, w, f, jac,
            prev_x, step, near,
        )  # fmt: skip
        near = conv and its == 0
        out.it[row] = its
        out.res[row] = worst
        if not conv:
            continue
        out.ok[row] = True
        store(row, w, sp)
        out.log_ah[row] = x[X_H] / LN10
        if kind == BALANCE:
            out.total[row] = w.tl[b]


def root_slope(jac0: Any, a: Any, b: Any, nx: int) -> float:
    """d log10 Ω / d s along the solutions of the other equations, from the Jacobian ``jac0``.

    With J z = e (e the unit vector of the Ω row), z_s = ds / d(log10 Ω), so the
    slope is 1 / z_s; ``a`` and ``b`` are scratch space.  NaN if J is singular.
    """
    for i in range(nx):
        b[i] = 0.0
        for k in range(nx):
            a[i, k] = jac0[i, k]
    b[X_R] = 1.0
    if not solve_n(a, b, nx) or b[X_R] == 0.0:
        return np.nan
    return float(1.0 / b[X_R])


#: Compiled as ``njit`` in the generated module, in this order; those of ``INLINE`` are
#: inlined into their callers (``inline="always"``), as one function, for speed.
SERIAL = (
    solve_n, kt_fill, state_eval,
    _step_limit, newton, workspace, first_guess, initial_state, store, _initial_saturation,
    _active_set_rounds, precipitate_block, root_slope, search_block, balance_block,
)  # fmt: skip
INLINE = (_step_limit,)
#: The parameters of the blocks run in parallel: (name, record or None for a scalar).
#: The generated ``<block>_rows`` drivers take the records' fields one by one (numba's
#: parallel loops take arrays and scalars, not records) and build the records per block.
PARALLEL: dict[str, tuple[tuple[str, Any], ...]] = {
    "precipitate": (
        ("sv", Species), ("rows", Rows), ("sp", Speciated), ("ph", Phases), ("mw", None),
        ("closed", None), ("tol", None), ("max_iter", None), ("out", PrecipitateOut),
    ),
    "search": (
        ("sv", Species), ("rows", Rows), ("sp", Speciated), ("ph", Phases), ("se", Search),
        ("closed", None), ("tol", None), ("max_iter", None), ("out", SearchOut),
    ),
    "balance": (
        ("sv", Species), ("rows", Rows), ("sp", Speciated), ("ba", Balance), ("tol", None),
        ("max_iter", None), ("out", BalanceOut),
    ),
}  # fmt: skip
