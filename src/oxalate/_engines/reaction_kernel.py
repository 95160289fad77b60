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
    "R_KJ", "T_REF", "PRECIPITATE", "THRESHOLD", "DILUTION",
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


PRECIPITATE = int(Kind.PRECIPITATE)
THRESHOLD = int(Kind.THRESHOLD)
DILUTION = int(Kind.DILUTION)


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
    """Per row: the unknown s (ln T or ln d), log a_H, SI at the solution, status."""

    s: Any
    log_ah: Any
    si: Any
    ok: Any
    it: Any


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


#: The records, in the order the generated module defines them.
RECORDS = (Species, Rows, Speciated, Phases, Search, PrecipitateOut, SearchOut, Row, Work)

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


def _reaction_totals(kind: int, x: Any, n_p: int, rd: Row, w: Work) -> tuple[float, float, float]:
    """Totals per kg of water (``w.tl``), moles left (``w.rem``): the water and charge terms.

    Returns the water component left W_t, the water mass W and the charge excess q.
    """
    if kind == PRECIPITATE:
        wt = rd.wtot0
        for p in range(n_p):
            wt -= rd.nwp[p] * x[X_R + p]
        water = wt / (1.0 / rd.mw + rd.lag[1])
        for c in range(NC):
            r = rd.total0[c]
            for p in range(n_p):
                r -= rd.nup[p, c] * x[X_R + p]
            w.rem[c] = r
            w.tl[c] = r / water
        return wt, water, rd.q0 / water
    if kind == THRESHOLD:
        ev = math.exp(x[X_R])
        for c in range(NC):
            w.tl[c] = rd.total0[c] + rd.ratio[c] * (ev - rd.t0v)
            w.rem[c] = w.tl[c]
        return 1.0, 1.0, rd.q0 + rd.z_q * (ev - rd.t0v)
    # dilution: every total (and the charge excess) divided by d = exp(x[X_R])
    ev = math.exp(-x[X_R])
    for c in range(NC):
        w.tl[c] = rd.total0[c] * ev
        w.rem[c] = w.tl[c]
    return 1.0, 1.0, rd.q0 * ev


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
    """
    law = rd.lag[0]
    oh = rd.lag[1]
    if closed:
        fill_kh(rd.kt, rd.pres, math.exp(x[X_H]), rd.kh)
    aw = math.exp(LN10 * law)
    a = rd.a_ref + rd.a_slope * (aw - 1.0)
    wt, water, q = _reaction_totals(kind, x, n_p, rd, w)
    for c in range(NC):
        if rd.pres[c] > 0.0 and not (w.tl[c] > 0.0):
            return np.inf, np.inf, water, law, oh
    if closed:
        evaluate_closed(rd.kh, aw, a, x, x[X_I], w.tl, w.m, w.jb, w.jt, w.el, w.sc, jacobian)
    else:
        evaluate_fixed(rd.kh, aw, a, x, x[X_I], w.tl, w.m, w.jb, w.jt, w.el, w.sc, jacobian)
    sc = w.sc
    new_oh = sc[SC_OH]
    new_aw = max(1.0 - WATER_SLOPE * sc[SC_MSUM], 1e-3)
    new_law = math.log10(new_aw)
    worst = abs(new_law - law)
    if kind == PRECIPITATE:
        worst = max(worst, abs(wt / ((1.0 / rd.mw + new_oh) * water) - 1.0))
    worst = _residuals(kind, closed, x, nx, n_p, rd, w, f, q, new_law, worst)
    norm = 0.0
    for i in range(nx):
        norm += f[i] * f[i]
    if not np.isfinite(worst) or not np.isfinite(norm):
        worst = np.inf
        norm = np.inf
    if jacobian:
        _jacobian(kind, closed, x, nx, n_p, rd, w, jac, wt, water, new_aw)
    return worst, norm, water, new_law, new_oh


def _residuals(
    kind: int,
    closed: bool,
    x: Any,
    nx: int,
    n_p: int,
    rd: Row,
    w: Work,
    f: Any,
    q: float,
    new_law: float,
    worst: float,
) -> float:
    """Mass balances, I, charge and the phases' log Ω into ``f``; the largest |residual|."""
    sc = w.sc
    for u in range(NM):
        if rd.pres[u] > 0.0:
            ratio_u = sc[u] / w.tl[u]
            f[u] = math.log(ratio_u)
            worst = max(worst, abs(ratio_u - 1.0))
        else:
            f[u] = 0.0
    f[X_I] = x[X_I] - math.log(sc[SC_IONIC])
    worst = max(worst, abs(f[X_I]))
    f[X_H] = 0.0
    if closed:
        f[X_H] = (sc[SC_CHARGE] - q) / sc[SC_SCALE]
        worst = max(worst, abs(f[X_H]))
    lg1 = sc[SC_LG1]
    for p in range(n_p):
        ok_p = True
        v = rd.nup_h[p] * x[X_H] * INV_LN10 + rd.nwp[p] * new_law - rd.log_kp[p]
        for c in range(NC):
            nu = rd.nup[p, c]
            if nu != 0.0:
                if rd.pres[c] == 0.0:
                    ok_p = False
                    break
                lm = x[c] if c < NM else math.log(sc[SC_ML + c - NM])
                v += nu * (lm * INV_LN10 + rd.z2c[c] * lg1)
        w.si[p] = v if ok_p else -np.inf
        if kind != PRECIPITATE or rd.active[p]:
            f[X_R + p] = w.si[p] - rd.goal[p]
        else:
            f[X_R + p] = x[X_R + p]
        worst = max(worst, abs(f[X_R + p]))
    return worst


def _jacobian(
    kind: int,
    closed: bool,
    x: Any,
    nx: int,
    n_p: int,
    rd: Row,
    w: Work,
    jac: Any,
    wt: float,
    water: float,
    new_aw: float,
) -> None:
    """The Jacobian of :func:`_residuals` at ``x`` (the evaluation's derivatives in ``w``)."""
    sc, jb, el, dms = w.sc, w.jb, w.el, w.dms
    for i in range(nx):
        for k in range(nx):
            jac[i, k] = 0.0
    nb = X_H + 1 if closed else X_H
    inv_ionic = 1.0 / sc[SC_IONIC]
    inv_scale = 1.0 / sc[SC_SCALE] if closed else 1.0
    for u in range(NM):
        if rd.pres[u] > 0.0:
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
    dlg1 = sc[SC_DLG1]
    for p in range(n_p):
        row = X_R + p
        if kind == PRECIPITATE and not rd.active[p]:
            jac[row, row] = 1.0
            continue
        for c in range(NC):
            nu = rd.nup[p, c]
            if nu == 0.0:
                continue
            if c < NM:
                jac[row, c] += nu * INV_LN10
            else:
                for k in range(nb):
                    jac[row, k] += nu * el[c - NM, k] * INV_LN10
            jac[row, X_I] += nu * rd.z2c[c] * dlg1
        if closed:
            jac[row, X_H] += rd.nup_h[p] * INV_LN10
    _reaction_columns(kind, closed, x, nx, n_p, rd, w, jac, wt, water, inv_ionic, inv_scale)
    # hydrate water in Omega: log10 a_w of the current molalities, d/dx through sum m
    for p in range(n_p):
        if rd.nwp[p] != 0.0 and (kind != PRECIPITATE or rd.active[p]):
            coef = -rd.nwp[p] * WATER_SLOPE / (new_aw * LN10)
            for k in range(nx):
                jac[X_R + p, k] += coef * dms[k]
    # absent metals: identity rows, zero columns
    for u in range(NM):
        if rd.pres[u] == 0.0:
            for i in range(nx):
                jac[u, i] = 0.0
                jac[i, u] = 0.0
            jac[u, u] = 1.0
            dms[u] = 0.0


def _reaction_columns(
    kind: int,
    closed: bool,
    x: Any,
    nx: int,
    n_p: int,
    rd: Row,
    w: Work,
    jac: Any,
    wt: float,
    water: float,
    inv_ionic: float,
    inv_scale: float,
) -> None:
    """The Jacobian's columns of the reaction's unknowns: through the totals T_c."""
    sc, jt, el, dt, dms, tl = w.sc, w.jt, w.el, w.dt, w.dms, w.tl
    nl = NC - NM
    for j in range(nx - X_R):
        col = X_R + j
        if kind == PRECIPITATE:
            inv_water = 1.0 / water
            w_share = rd.nwp[j] / wt
            for c in range(NC):
                dt[c] = -rd.nup[j, c] * inv_water + tl[c] * w_share
            dnegq = -rd.q0 * rd.nwp[j] / (water * wt)
        elif kind == THRESHOLD:
            ev = math.exp(x[X_R])
            for c in range(NC):
                dt[c] = rd.ratio[c] * ev
            dnegq = -rd.z_q * ev
        else:
            for c in range(NC):
                dt[c] = -tl[c]
            dnegq = rd.q0 * math.exp(-x[X_R])
        v = 0.0
        for lig in range(nl):
            v += jt[X_R, lig] * dt[NM + lig]
        dms[col] = v
        for r in range(X_H + 1 if closed else X_H):
            v = 0.0
            for lig in range(nl):
                v += jt[r, lig] * dt[NM + lig]
            if r < NM:
                if rd.pres[r] > 0.0:
                    jac[r, col] = v / sc[r] - dt[r] / tl[r]
            elif r == X_I:
                jac[X_I, col] = -v * inv_ionic
            else:
                jac[X_H, col] = (v + dnegq) * inv_scale
        for p in range(n_p):
            if kind == PRECIPITATE and not rd.active[p]:
                continue
            v = 0.0
            for lig in range(nl):
                v += rd.nup[p, NM + lig] * el[lig, X_R] * dt[NM + lig]
            jac[X_R + p, col] += v * INV_LN10


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
    holds the evaluation at ``x``.
    """
    lag = rd.lag
    prev_norm = np.inf
    alpha = 1.0
    halvings = 0
    worst = np.inf
    water = 1.0
    cheap = False  # the last step should have converged: try without the Jacobian first
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
                if not rd.active[p]:
                    step[X_R + p] = x[X_R + p]  # an absent phase stays at exactly none
        else:
            if x[X_R] - step[X_R] < s_lo:
                step[X_R] = x[X_R] - s_lo
            if x[X_R] - step[X_R] > s_hi:
                step[X_R] = x[X_R] - s_hi
        # a_w at the new point, predicted to first order: it then lags by second order
        msum = w.sc[SC_MSUM]
        for i in range(nx):
            x[i] -= step[i]
            msum -= w.dms[i] * step[i]
        lag[0] = math.log10(max(1.0 - WATER_SLOPE * msum, 1e-3))
        lag[1] = new_oh
    return False, max_iter, water, worst


def _step_limit(kind: int, closed: bool, nx: int, n_p: int, rd: Row, w: Work, step: Any) -> float:
    """The factor that keeps a Newton step within the limits of :func:`newton`."""
    big = 0.0
    for i in range(X_R):
        big = max(big, abs(step[i]))
    lim = STEP_LIMIT / big if big > STEP_LIMIT else 1.0
    if closed and abs(step[X_H]) * lim > PH_STEP:
        lim = PH_STEP / abs(step[X_H])
    if kind == PRECIPITATE:
        for c in range(NC):
            if rd.pres[c] > 0.0:
                d = 0.0
                for p in range(n_p):
                    d += step[X_R + p] * rd.nup[p, c]
                if d < 0.0:
                    lim = min(lim, (1.0 - KEEP) * w.rem[c] / -d)
    elif abs(step[X_R]) * lim > AMOUNT_STEP:
        lim = AMOUNT_STEP / abs(step[X_R])
    return lim


def workspace(ns: int, n_p: int) -> Work:
    """The arrays one row's evaluation writes."""
    nl = NC - NM
    return Work(
        np.empty(NC), np.empty(NC), np.empty(ns), np.zeros((X_R + 1, nl)),
        np.zeros((X_R + 1, nl)), np.zeros((nl, X_R + 1)), np.zeros(SC_SIZE), np.empty(n_p),
        np.empty(NC), np.zeros(X_R + n_p),
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
    nup, nwp = ph.nup, ph.nwp
    const = ph.nup_h[p] * h / LN10 + nwp[p] * law - log_kp[p]
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
    for c in range(NC):
        pr[c] = 1.0 if total0[row, c] > 0.0 else 0.0
    for c in range(NM):
        x[c] = math.log(sp.m[row, c]) if sp.m[row, c] > 0.0 else math.log(1e-20)
    x[X_I] = math.log(sp.ionic[row])
    x[X_H] = LN10 * log_ah
    for i in range(X_R, x.shape[0]):
        x[i] = 0.0
    lag[0] = math.log10(sp.aw[row])
    lag[1] = 0.0


def store(row: int, w: Work, sp: Speciated) -> None:
    """Write the speciation of the last evaluation into row ``row`` of ``sp``."""
    sc = w.sc
    for j in range(w.m.shape[0]):
        sp.m[row, j] = w.m[j]
    sp.lg[row, 0] = sc[SC_LG0]
    for zz in range(1, NG):
        sp.lg[row, zz] = zz * sc[SC_LG1]
    sp.ionic[row] = sc[SC_IONIC]
    sp.aw[row] = max(1.0 - WATER_SLOPE * sc[SC_MSUM], 1e-3)


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
    first = -1
    best = tol
    for p in range(ph.nup.shape[0]):
        v = ph.nup_h[p] * log_ah0 + ph.nwp[p] * lag[0] - ph.log_kp[row, p]
        for c in range(NC):
            if ph.nup[p, c] != 0.0:
                if pr[c] == 0.0:
                    v = -np.inf
                    break
                v += ph.nup[p, c] * (math.log10(sp.m[row, c]) + sp.lg[row, int(sv.z2c[c])])
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
    its = 0
    worst = np.inf
    active = rd.active
    for _round in range(3 * n_p + 3):
        conv, it_n, _, worst = newton(
            PRECIPITATE, closed, x, nx, n_p, 0.0, 0.0, 1e-1 * tol, max_iter, tol, rd, w,
            f, jac, prev_x, step,
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
            if not active[p] and w.si[p] > most:
                most = w.si[p]
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
    ns = sv.log_k25.shape[0]
    n_p = ph.nup.shape[0]
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
        out.ok[row] = False
        out.it[row] = 0
        out.res[row] = np.nan
        for p in range(n_p):
            out.xi[row, p] = 0.0
            out.active[row, p] = False
        out.log_ah[row] = rows.log_ah0[row]
        out.water[row] = 1.0
        for c in range(NC):
            out.rem[row, c] = rows.total0[row, c]
        if not sp.ok[row]:
            continue
        initial_state(row, sp, rows.log_ah0[row], rows.total0, x, lag, pr)
        # the initial saturation, charge excess and water
        q0 = 0.0
        oh0 = 0.0
        for j in range(ns):
            q0 += sv.z[j] * sp.m[row, j]
            oh0 += sv.nu_w[j] * sp.m[row, j]
        lag[1] = oh0
        for c in range(NC):
            if pr[c] > 0.0:
                phi0[c] = (
                    math.log10(sp.m[row, c] / rows.total0[row, c]) + sp.lg[row, int(sv.z2c[c])]
                )
            else:
                phi0[c] = 0.0
        first = _initial_saturation(row, sp, sv, ph, rows.log_ah0[row], lag, pr, si0, tol)
        if first < 0:  # nothing forms: the row is at equilibrium as it is
            out.ok[row] = True
            out.res[row] = 0.0
            continue
        if rows.t[row] != t_last:
            kt_fill(sv.log_k25, sv.delta_h, rows.t[row], kt)
            t_last = rows.t[row]
        if not closed:
            fill_kh(kt, pr, math.exp(x[X_H]), kh)
        xi = first_guess(first, rows.total0[row], phi0, x[X_H], lag[0], ph, ph.log_kp[row], mw)
        if xi > 0.0:
            x[X_R + first] = xi
            active[first] = True
            water = 1.0 - mw * ph.nwp[first] * xi
            for c in range(NM):
                if ph.nup[first, c] != 0.0 and pr[c] > 0.0:
                    x[c] += math.log(
                        (rows.total0[row, c] - ph.nup[first, c] * xi) / rows.total0[row, c]
                    )
                    x[c] -= math.log(water)
        else:
            for p in range(n_p):
                active[p] = False
        amount_tol = 0.0
        for c in range(NC):
            amount_tol = max(amount_tol, rows.total0[row, c])
        amount_tol *= tol
        wtot0 = 1.0 / mw + oh0
        rd = Row(
            kt, pr, kh, rows.a_ref[row], rows.a_slope[row], lag, rows.total0[row], wtot0, q0, mw,
            ph.nup, ph.nup_h, ph.nwp, ph.log_kp[row], goal, active, ratio, 0.0, 0.0, sv.z2c,
        )  # fmt: skip
        done, its, worst = _active_set_rounds(
            closed, x, nx, n_p, rd, w, f, jac, prev_x, step, tol, max_iter, amount_tol
        )
        out.it[row] = its
        out.res[row] = worst
        if done:
            out.ok[row] = True
            store(row, w, sp)
            for p in range(n_p):
                out.xi[row, p] = x[X_R + p]
                out.active[row, p] = active[p]
        for p in range(n_p):
            active[p] = False
        if not done:
            continue
        out.log_ah[row] = x[X_H] / LN10
        # W from the final Σ ν_w m (the Newton lags it by one evaluation), so that
        # W (1/M_w + Σ ν_w m) + Σ x_p ξ_p = 1/M_w + Σ ν_w m₀ holds to rounding
        wt = wtot0
        for p in range(n_p):
            wt -= ph.nwp[p] * x[X_R + p]
        out.water[row] = wt / (1.0 / mw + w.sc[SC_OH])
        for c in range(NC):
            out.rem[row, c] = w.rem[c]


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
    ns = sv.log_k25.shape[0]
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
        out.ok[row] = False
        out.it[row] = 0
        out.s[row] = np.nan
        out.log_ah[row] = np.nan
        out.si[row] = np.nan
        good = sp.ok[row] and np.isfinite(se.log_goal[row])
        for c in range(NC):
            if se.ratio[c] != 0.0 and not (rows.total0[row, c] > 0.0):
                good = False
        if not good:
            continue
        initial_state(row, sp, rows.log_ah0[row], rows.total0, x, lag, pr)
        q0 = 0.0
        for j in range(ns):
            q0 += sv.z[j] * sp.m[row, j]
        if se.kind == THRESHOLD:
            x[X_R] = math.log(rows.total0[row, se.vary])
        goal[0] = se.log_goal[row]
        if rows.t[row] != t_last:
            kt_fill(sv.log_k25, sv.delta_h, rows.t[row], kt)
            t_last = rows.t[row]
        if not closed:
            fill_kh(kt, pr, math.exp(x[X_H]), kh)
        rd = Row(
            kt, pr, kh, rows.a_ref[row], rows.a_slope[row], lag, rows.total0[row], 1.0, q0, 1.0,
            ph.nup, ph.nup_h, ph.nwp, ph.log_kp[row], goal, active, se.ratio, se.z_q,
            rows.total0[row, se.vary], sv.z2c,
        )  # fmt: skip
        if se.kind == DILUTION:
            # Omega of the solution as it is (the speciation given): at or below the
            # target, no dilution is needed
            worst, _, _, _, _ = state_eval(se.kind, closed, False, x, nx, 1, rd, w, f, jac)
            if np.isfinite(worst) and f[X_R] <= tol:
                out.ok[row] = True
                out.s[row] = 0.0
                out.log_ah[row] = rows.log_ah0[row]
                out.si[row] = w.si[0]
                continue
        conv, its, _, _ = newton(
            se.kind, closed, x, nx, 1, se.s_lo[row], se.s_hi, 1e-1 * tol, max_iter, tol, rd, w,
            f, jac, prev_x, step,
        )  # fmt: skip
        out.it[row] = its
        if not conv:
            continue
        out.ok[row] = True
        store(row, w, sp)
        out.s[row] = x[X_R]
        out.log_ah[row] = x[X_H] / LN10
        out.si[row] = w.si[0]


#: Compiled as ``njit`` in the generated module, in this order.
SERIAL = (
    solve_n, kt_fill, _reaction_totals, _residuals, _reaction_columns, _jacobian, state_eval,
    _step_limit, newton, workspace, first_guess, initial_state, store, _initial_saturation,
    _active_set_rounds, precipitate_block, search_block,
)  # fmt: skip
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
}  # fmt: skip
