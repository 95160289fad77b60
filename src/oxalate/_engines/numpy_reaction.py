"""The numpy reaction engine: equilibrium with solids, batched over rows.

:func:`solve` solves speciation and solid equilibrium together: a damped
Newton iteration on ln m of the components, ln I, ln a(H⁺) (closed) and the
amount ξ_p of each active solid, with an analytic Jacobian, batched over the
rows (a handful of array operations per iteration, no loop over rows).  Each
row starts at the amount a fixed-speciation model predicts, refined by two
fixed-point sweeps on the free molalities.  The set of solids present is found
by an active-set method: each row starts with its most supersaturated phase
and, once converged, drops a phase whose amount went negative or adds the most
supersaturated absent one, until nothing changes.  Closed-system rows that do
not converge in 12 iterations (unbuffered solutions, whose pH hangs on a tiny
charge balance) are solved again as a search on pH, with the fixed-pH
equilibrium at every trial pH.  The final state is speciated once more at the
pH found, which provides the returned speciation and checks the mass
balances; the charge balance is checked here.

Amounts of solid are moles per kilogram of the *initial* water; when n moles
of a hydrate CaC2O4·xH2O form, x·n moles of H2O leave the solvent with them
(PHREEQC does the same), so the water mass becomes W = 1 - M_w Σ_p x_p ξ_p,
plus the tiny change of the water held as OH⁻.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from ..database import WATER_MOLAR_MASS
from ..thermo import debye_huckel_a_kelvin, debye_huckel_b_kelvin
from .linalg import rowdot, solve_small
from .model import PhaseTable, SpeciesModel, speciation_log_iap
from .reaction_kernel import KEEP, LN10, MAX_HALVINGS, PH_STEP, STEP_LIMIT, WATER_SLOPE
from .records import (
    OK,
    PrecipitationProblem,
    PrecipitationResult,
    Reason,
    SpeciationProblem,
    SpeciationResult,
    empty_reasons,
)
from .roots import find_root

__all__ = ["solve"]

FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
ObjectArray: TypeAlias = npt.NDArray[np.object_]
Speciate: TypeAlias = Callable[[SpeciationProblem], SpeciationResult]

LOG_M_CAP = 3.0  # species molalities capped at 1e3 mol/kg while iterating, as in speciate
SWEEPS = 2  # fixed-point sweeps on the free molalities after the first guess
FIRST_TRY = 12  # closed mode: coupled Newton iterations before the pH search
CHUNK = 4096  # rows solved together: keeps the (rows, 13, 13) Jacobians in cache


@dataclass
class _System:
    """Constant data of one precipitation problem (rows flattened to N)."""

    model: SpeciesModel
    closed: bool
    t: FloatArray  # (N,) [K]
    log_k: FloatArray  # (N, S)
    log_kp: FloatArray  # (N, P)
    nup: FloatArray  # (P, C) phase stoichiometry over the non-H components
    nup_h: FloatArray  # (P,)
    nwp: FloatArray  # (P,) hydrate water
    total0: FloatArray  # (N, C) initial totals [mol per kg of initial water]
    init: FloatArray  # (N, P) solids present at the start
    q0: FloatArray  # (N,) charge excess [eq per kg of initial water]
    wtot0: FloatArray  # (N,) water component [mol per kg of initial water]
    present: BoolArray  # (N, C)
    species_ok: BoolArray  # (N, S)
    phase_ok: BoolArray  # (N, P) all its components present
    weights_d: FloatArray  # (S, R*D) products of row weights and direct derivatives
    n_d: int  # number of direct-derivative columns (C, plus ln a_H when closed)


@dataclass
class _State:
    u: FloatArray  # (N, C) ln m of the free components
    v: FloatArray  # (N,) ln I
    h: FloatArray  # (N,) ln a_H
    xi: FloatArray  # (N, P) moles precipitated per kg of initial water
    law: FloatArray  # (N,) log10 a_w (lagged, as in speciate)


@dataclass
class _Eval:
    m: FloatArray
    lg: FloatArray
    si: FloatArray  # (k, P)
    water: FloatArray  # (k,) W [kg]
    remaining: FloatArray  # (k, C) moles in solution per kg of initial water
    worst: FloatArray  # (k,)
    f: FloatArray  # (k, n_x)
    jac: FloatArray | None


def _build_system(
    model: SpeciesModel,
    phases: PhaseTable,
    closed: bool,
    t: FloatArray,
    total0: FloatArray,
    init: FloatArray,
    q0: FloatArray,
    oh0: FloatArray,
) -> _System:
    cs = model.constants
    nup = phases.nu
    present = (total0 > 0) | ((init > 0).astype(np.float64) @ (nup > 0) > 0)
    species_ok = ((~present).astype(np.float64) @ (model.nu != 0).T) == 0
    phase_ok = ((~present).astype(np.float64) @ (nup != 0).T) == 0
    log_kp = phases.log_k(t)
    direct = np.concatenate([model.nu, model.nu_h[:, None]], axis=1) if closed else model.nu
    weights = np.concatenate([model.nu, 0.5 * model.z2[:, None], model.z[:, None]], axis=1)
    weights_d = (weights[:, :, None] * direct[:, None, :]).reshape(len(model.z), -1)
    return _System(
        model=model,
        closed=closed,
        t=t,
        log_k=cs.log_k(t).reshape(len(t), len(model.z)),
        log_kp=log_kp,
        nup=nup,
        nup_h=phases.nu_h,
        nwp=phases.water,
        total0=total0,
        init=init,
        q0=q0,
        wtot0=1.0 / WATER_MOLAR_MASS + oh0,
        present=present,
        species_ok=species_ok,
        phase_ok=phase_ok,
        weights_d=np.ascontiguousarray(weights_d),
        n_d=direct.shape[1],
    )


def _evaluate(
    sy: _System, st: _State, idx: npt.NDArray[np.intp], active: BoolArray, jacobian: bool
) -> _Eval:
    """Residuals (and Jacobian) of the rows ``idx`` with their active solids ``active`` (k, P).

    Unknowns, in this order: ln m of the C components, ln I, [ln a_H when
    closed], ξ of each phase.  Equations: mass balance of each component in
    log form, ln(W Σ ν m) = ln(T₀ - Σ ν_p ξ_p); ionic strength; [charge,
    Σ z m = q₀/W]; log10 Ω_p = 0 for an active phase, ξ_p = -initial_p
    (none left) for an inactive one.
    """
    model = sy.model
    nc = sy.model.n_components
    closed = sy.closed
    k = len(idx)
    u, v, h, xi, law = st.u[idx], st.v[idx], st.h[idx], st.xi[idx], st.law[idx]
    t = sy.t[idx]
    aw = 10.0**law
    a_dh = debye_huckel_a_kelvin(t, aw)
    b_dh = debye_huckel_b_kelvin(t, aw) if model.activity.uses_ion_size else a_dh
    lg, dlg = model.log_gamma(v, a_dh, b_dh)
    y = lg[:, :nc] + u / LN10  # log10 activity of the free components
    log_m = sy.log_k[idx] + rowdot(y, model.nu.T) + (h / LN10)[:, None] * model.nu_h
    log_m += law[:, None] * model.nu_w - lg
    m = np.where(sy.species_ok[idx], 10.0 ** np.minimum(log_m, LOG_M_CAP), 0.0)
    s = rowdot(m, model.nu)
    remaining = sy.total0[idx] - rowdot(xi, sy.nup)
    oh = rowdot(m, model.nu_w)
    wt = sy.wtot0[idx] - rowdot(xi, sy.nwp)
    water = wt / (1.0 / WATER_MOLAR_MASS + oh)
    ionic = 0.5 * rowdot(m, model.z2)
    pres = sy.present[idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        f_mass = np.where(pres, np.log(water[:, None] * s) - np.log(remaining), 0.0)
        rel = np.where(pres, np.abs(water[:, None] * s / remaining - 1.0), 0.0)
        f_i = v - np.log(ionic)
    new_aw = np.maximum(1.0 - WATER_SLOPE * m.sum(axis=1), 1e-3)
    si = (
        rowdot(y, sy.nup.T)
        + (h / LN10)[:, None] * sy.nup_h
        + law[:, None] * sy.nwp
        - sy.log_kp[idx]
    )
    si = np.where(sy.phase_ok[idx], si, -np.inf)
    init = sy.init[idx]
    f_solid = np.where(active, si, xi + init)
    worst = np.maximum(rel.max(axis=1), np.abs(f_i))
    worst = np.maximum(worst, np.abs(np.log10(new_aw) - law))
    worst = np.maximum(worst, np.abs(f_solid).max(axis=1, initial=0.0))
    parts = [f_mass, f_i[:, None]]
    if closed:
        charge = rowdot(m, model.z)
        scale = 0.5 * rowdot(m, np.abs(model.z))
        f_q = (charge - sy.q0[idx] / water) / scale
        worst = np.maximum(worst, np.abs(f_q))
        parts.append(f_q[:, None])
    parts.append(f_solid)
    f = np.concatenate(parts, axis=1)
    worst = np.where(np.isfinite(worst), worst, np.inf)
    jac = None
    if jacobian:
        n_p = sy.nup.shape[0]
        n_d = sy.n_d
        n_r = nc + 2
        cv = nc
        ch = nc + 1
        cx = nc + 1 + int(closed)
        n_x = cx + n_p
        g = LN10 * (rowdot(dlg[:, :nc], model.nu.T) - dlg)  # d ln m_j / d ln I
        m1 = rowdot(m, sy.weights_d).reshape(k, n_r, n_d)
        mg = rowdot(
            m * g, np.concatenate([model.nu, 0.5 * model.z2[:, None], model.z[:, None]], axis=1)
        )
        jac = np.zeros((k, n_x, n_x))
        s_safe = np.where(s > 0, s, 1.0)
        jac[:, :nc, :nc] = m1[:, :nc, :nc] / s_safe[:, :, None]
        jac[:, :nc, cv] = mg[:, :nc] / s_safe
        dlnw = -sy.nwp[None, :] / wt[:, None]  # d ln W / d xi_p (OH- water lagged)
        r_safe = np.where(remaining > 0, remaining, np.inf)
        jac[:, :nc, cx:] = dlnw[:, None, :] + sy.nup.T[None, :, :] / r_safe[:, :, None]
        jac[:, cv, :nc] = -m1[:, nc, :nc] / ionic[:, None]
        jac[:, cv, cv] = 1.0 - mg[:, nc] / ionic
        if closed:
            jac[:, :nc, ch] = m1[:, :nc, nc] / s_safe
            jac[:, cv, ch] = -m1[:, nc, nc] / ionic
            jac[:, ch, :nc] = m1[:, nc + 1, :nc] / scale[:, None]
            jac[:, ch, cv] = mg[:, nc + 1] / scale
            jac[:, ch, ch] = m1[:, nc + 1, nc] / scale
            jac[:, ch, cx:] = (sy.q0[idx] / water / scale)[:, None] * dlnw
        # solid rows: d log10 Omega_p
        d_si_dv = rowdot(dlg[:, :nc], sy.nup.T)  # (k, P)
        for p in range(n_p):
            row = cx + p
            act = active[:, p]
            jac[:, row, :nc] = np.where(act[:, None], sy.nup[p] / LN10, 0.0)
            jac[:, row, cv] = np.where(act, d_si_dv[:, p], 0.0)
            if closed:
                jac[:, row, ch] = np.where(act, sy.nup_h[p] / LN10, 0.0)
            jac[:, row, cx + p] = np.where(act, 0.0, 1.0)
        # absent components: identity rows and columns
        absent = ~pres
        if absent.any():
            rows, cols = np.nonzero(absent)
            jac[rows, cols, :] = 0.0
            jac[rows, :, cols] = 0.0
            jac[rows, cols, cols] = 1.0
    return _Eval(m=m, lg=lg, si=si, water=water, remaining=remaining, worst=worst, f=f, jac=jac)


def _pack(sy: _System, st: _State, idx: npt.NDArray[np.intp]) -> FloatArray:
    """The unknowns of rows ``idx`` as one (k, n_x) array (and log10 a_w last)."""
    parts = [st.u[idx], st.v[idx, None]]
    if sy.closed:
        parts.append(st.h[idx, None])
    parts += [st.xi[idx], st.law[idx, None]]
    return np.concatenate(parts, axis=1)


def _unpack(sy: _System, st: _State, idx: npt.NDArray[np.intp], x: FloatArray) -> None:
    nc = sy.model.n_components
    cx = nc + 1 + int(sy.closed)
    st.u[idx] = x[:, :nc]
    st.v[idx] = x[:, nc]
    if sy.closed:
        st.h[idx] = x[:, nc + 1]
    st.xi[idx] = x[:, cx:-1]
    st.law[idx] = x[:, -1]


def _newton(
    sy: _System,
    st: _State,
    rows: npt.NDArray[np.intp],
    active: BoolArray,
    tol: float,
    max_iter: int,
) -> tuple[BoolArray, npt.NDArray[np.int64]]:
    """Damped Newton on the rows ``rows`` with their active sets, in place on ``st``.

    Each step is limited (|Δ ln m|, |Δ ln I|, |Δ ln a_H| ≤ 4; no component
    loses more than 99 % of what is left in solution) and, where the sum of
    squared residuals did not decrease, halved back towards the previous
    point (a backtracking line search that costs no extra evaluation when the
    full step is good).  Returns which of ``rows`` converged and the
    iterations each took.
    """
    nc = sy.model.n_components
    cx = nc + 1 + int(sy.closed)
    n_rows = len(rows)
    ok = np.zeros(n_rows, dtype=bool)
    its = np.zeros(n_rows, dtype=np.int64)
    prev_x = _pack(sy, st, rows)  # the last accepted point
    prev_norm = np.full(n_rows, np.inf)
    prev_step = np.zeros((n_rows, prev_x.shape[1] - 1))
    alpha = np.ones(n_rows)
    halvings = np.zeros(n_rows, dtype=np.int64)
    pos = np.arange(n_rows)  # positions (in rows) still iterating
    for it in range(max_iter + 1):
        if pos.size == 0:
            break
        idx = rows[pos]
        ev = _evaluate(sy, st, idx, active[idx], jacobian=True)
        with np.errstate(over="ignore", invalid="ignore"):
            norm = np.sum(ev.f * ev.f, axis=1)
        norm = np.where(np.isfinite(norm), norm, np.inf)
        done = ev.worst <= tol
        ok[pos[done]] = True
        its[pos] = it
        last = it == max_iter
        # no decrease: go back half-way towards the last accepted point
        # (not near round-off, where the sum of squares cannot be expected to fall)
        back = ~done & ~(norm < prev_norm[pos]) & np.isfinite(prev_norm[pos])
        back &= (prev_norm[pos] > (0.01 * tol) ** 2) & (halvings[pos] < MAX_HALVINGS)
        back &= not last
        if back.any():
            b = pos[back]
            alpha[b] *= 0.5
            halvings[b] += 1
            x = prev_x[b].copy()
            x[:, :-1] -= alpha[b, None] * prev_step[b]
            # a_w lags as in speciate: from the latest molalities
            x[:, -1] = np.log10(np.maximum(1.0 - WATER_SLOPE * ev.m[back].sum(axis=1), 1e-3))
            _unpack(sy, st, rows[b], x)
        # Newton steps: rows that improved, and rows that just converged (their step costs
        # no evaluation and, Newton being quadratic, leaves a residual near tol**2)
        newton = ~back & np.isfinite(norm) & (done | (not last))
        if newton.any():
            p, i_n = pos[newton], idx[newton]
            prev_x[p] = _pack(sy, st, i_n)
            prev_norm[p] = norm[newton]
            halvings[p] = 0
            alpha[p] = 1.0
            jac = ev.jac[newton]  # type: ignore[index]
            step = solve_small(jac, ev.f[newton])
            # a converged row keeps its state if its extra step is not finite
            step = np.where(np.isfinite(step) | ~done[newton][:, None], step, 0.0)
            big = np.max(np.abs(step[:, :cx]), axis=1)
            lim = np.where(big > STEP_LIMIT, STEP_LIMIT / np.where(big > 0, big, 1.0), 1.0)
            if sy.closed:
                dh = np.abs(step[:, nc + 1])
                lim = np.minimum(lim, np.where(dh > PH_STEP, PH_STEP / np.where(dh > 0, dh, 1), 1))
            d_rem = rowdot(step[:, cx:], sy.nup)  # change of the remaining amounts for a full step
            rem = ev.remaining[newton]
            with np.errstate(divide="ignore", invalid="ignore"):
                cap = np.where(sy.present[i_n] & (d_rem < 0), (1.0 - KEEP) * rem / -d_rem, np.inf)
            lim = np.minimum(lim, cap.min(axis=1))
            step *= np.where(np.isfinite(lim), lim, np.nan)[:, None]
            # an inactive phase stays at xi = -initial exactly
            act = active[i_n]
            step[:, cx:] = np.where(act, step[:, cx:], st.xi[i_n] + sy.init[i_n])
            prev_step[p] = step
            x = prev_x[p].copy()
            x[:, :-1] -= step
            x[:, -1] = np.log10(np.maximum(1.0 - WATER_SLOPE * ev.m[newton].sum(axis=1), 1e-3))
            _unpack(sy, st, i_n, x)
        pos = pos[(back | newton) & ~done]
    return ok, its


def _repair(
    sy: _System, st: _State, rows: npt.NDArray[np.intp], active: BoolArray, sweeps: int
) -> None:
    """A few fixed-point sweeps on the free molalities: ln m_c -= ln(W Σ ν m / R_c).

    Brings each component's mass balance close before Newton starts (the
    first guess keeps the initial free fractions, which a precipitate changes:
    calcium is freed from CaC2O4° as the oxalate goes).  pH and ξ are kept.
    """
    for _ in range(sweeps):
        if rows.size == 0:
            return
        nc = sy.model.n_components
        ev = _evaluate(sy, st, rows, active[rows], jacobian=False)
        fix = ev.f[:, :nc]
        good = np.all(np.isfinite(fix), axis=1) & np.isfinite(ev.f[:, nc])
        r = rows[good]
        st.u[r] -= np.clip(fix[good], -STEP_LIMIT, STEP_LIMIT)
        st.v[r] -= ev.f[good, nc]


def _first_guess(
    sy: _System,
    st: _State,
    rows: npt.NDArray[np.intp],
    phase: npt.NDArray[np.intp],
    log_gamma0: FloatArray,
    m0: FloatArray,
) -> BoolArray:
    """Start each row at the amount of its first phase that a fixed-speciation model predicts.

    With the free fraction and activity coefficient of every component held
    at their initial values, log Ω_p(ξ) = Σ_c ν_pc log10(R_c(ξ)/W) + const;
    its root is found by bisection on ξ ∈ [-initial_p, min_c T_c/ν_pc).  The
    free molalities are scaled to match.  Returns whether the phase remains
    (False: it dissolves completely).
    """
    if rows.size == 0:
        return np.zeros(0, dtype=bool)
    # only the components of the phases involved
    cols = np.flatnonzero((sy.nup[np.unique(phase)] != 0).any(axis=0))
    nup = sy.nup[phase][:, cols]  # (k, c)
    total0 = sy.total0[rows][:, cols]
    init = sy.init[rows, phase]
    t0 = np.where(total0 > 0, total0, 1.0)
    m0c = m0[rows][:, cols]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(total0 > 0, m0c / t0, 1.0)
        phi = np.log10(frac) + log_gamma0[rows][:, cols]
    phi = np.where(nup != 0, phi, 0.0)
    const = (
        (phi * nup).sum(axis=1)
        + sy.nup_h[phase] * st.h[rows] / LN10
        + sy.nwp[phase] * st.law[rows]
        - sy.log_kp[rows, phase]
    )
    nwp = sy.nwp[phase]
    with np.errstate(divide="ignore"):
        hi = np.where(nup > 0, total0 / np.where(nup > 0, nup, 1.0), np.inf).min(axis=1)
    lo = -init

    def log_omega(xi: FloatArray) -> FloatArray:
        rem = total0 - xi[:, None] * nup
        w = 1.0 - WATER_MOLAR_MASS * nwp * xi
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(nup != 0, nup * np.log10(np.maximum(rem, 0.0) / w[:, None]), 0.0)
        return np.asarray(terms.sum(axis=1) + const)

    remains = log_omega(lo) > 0
    a, b = lo.copy(), hi.copy()
    for _ in range(40):  # a start for Newton: 1e-12 of the bracket is plenty
        mid = 0.5 * (a + b)
        up = log_omega(mid) > 0
        a = np.where(up, mid, a)
        b = np.where(up, b, mid)
    xi = np.where(remains, 0.5 * (a + b), lo)
    st.xi[rows, phase] = xi
    rem = total0 - xi[:, None] * nup
    w = 1.0 - WATER_MOLAR_MASS * nwp * xi
    pres = sy.present[rows][:, cols]
    with np.errstate(divide="ignore", invalid="ignore"):
        u_new = np.where(
            total0 > 0,
            np.log(m0c) + np.log(rem / t0) - np.log(w)[:, None],
            np.log(rem / w[:, None]),
        )
    use = pres & (nup != 0) & np.isfinite(u_new)
    u_rows = st.u[rows]
    u_rows[:, cols] = np.where(use, u_new, u_rows[:, cols])
    st.u[rows] = u_rows
    return np.asarray(remains)


def _copy_rows(st: _State, rows: npt.NDArray[np.intp]) -> _State:
    return _State(st.u[rows].copy(), st.v[rows].copy(), st.h[rows].copy(),
                  st.xi[rows].copy(), st.law[rows].copy())  # fmt: skip


def _restore_rows(st: _State, rows: npt.NDArray[np.intp], saved: _State, which: BoolArray) -> None:
    st.u[rows], st.v[rows], st.h[rows] = saved.u[which], saved.v[which], saved.h[which]
    st.xi[rows], st.law[rows] = saved.xi[which], saved.law[which]


def _closed_by_ph_search(
    sy: _System,
    sy_fixed: _System,
    st: _State,
    rows: npt.NDArray[np.intp],
    active: BoolArray,
    amount_tol: FloatArray,
    tol: float,
    max_iter: int,
) -> tuple[BoolArray, npt.NDArray[np.int64], ObjectArray]:
    """Closed-system equilibrium as a search on pH: the fallback for unbuffered rows.

    At each trial pH the fixed-pH equilibrium with the solids is solved (robust, warm
    started); the relative charge residual (Σ z m - q₀/W) / (½ Σ |z| m), which falls
    as the pH rises, is driven to zero by the safeguarded secant of :func:`find_root`.
    """
    nc = sy.model.n_components
    its = np.zeros(len(rows), dtype=np.int64)

    def charge_residual(ph: FloatArray, sub: npt.NDArray[np.intp]) -> FloatArray:
        r = rows[sub]
        st.h[r] = -LN10 * ph
        ok_in, its_in, _ = _active_set(sy_fixed, st, r, active, amount_tol, tol, max_iter)
        its[sub] += its_in
        ev = _evaluate(sy, st, r, active[r], jacobian=False)
        return np.asarray(np.where(ok_in, ev.f[:, nc + 1], np.nan))

    ph0 = -st.h[rows] / LN10
    all_rows = np.arange(len(rows))
    f0 = charge_residual(ph0, all_rows)
    f1 = charge_residual(ph0 + 0.05, all_rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (f1 - f0) / 0.05
    slope = np.where(np.isfinite(slope) & (slope < 0), slope, -1.0)
    ph, _, _, ok, _, _ = find_root(
        charge_residual, ph0 + 0.05, slope, np.full(len(rows), 1.0), np.full(len(rows), 13.0),
        tol, max_iter, 1.0, f0=f1,
    )  # fmt: skip
    # the state now holds each row's last trial; make sure it is the root found
    sub = np.flatnonzero(ok)
    if sub.size:
        charge_residual(ph[sub], sub)
    why = np.full(len(rows), Reason.NO_PH, dtype=object)
    why[ok] = OK
    return ok, its, why


def _active_set(
    sy: _System,
    st: _State,
    rows: npt.NDArray[np.intp],
    active: BoolArray,
    amount_tol: FloatArray,
    tol: float,
    max_iter: int,
) -> tuple[BoolArray, npt.NDArray[np.int64], ObjectArray]:
    """Newton for the current sets of solids, then update the sets, until none changes.

    A row drops its active phase with the most negative amount left, or (if
    none is negative) adds its most supersaturated absent phase, and solves
    again.  ``active`` and ``st`` are updated in place.  Returns, for
    ``rows``: converged, Newton iterations, and the reason of a failure.
    """
    n_p = sy.nup.shape[0]
    ok_all = np.zeros(len(rows), dtype=bool)
    its_all = np.zeros(len(rows), dtype=np.int64)
    why = np.full(len(rows), Reason.ACTIVE_SET, dtype=object)
    where = np.arange(len(rows))  # positions in rows still to solve
    can_change = n_p > 1 or bool((sy.init[rows] > 0).any())
    for _round in range(3 * n_p + 3):
        if where.size == 0:
            break
        todo = rows[where]
        ok, its = _newton(sy, st, todo, active, tol, max_iter)
        its_all[where] += its
        why[where[~ok]] = Reason.NEWTON
        where, todo = where[ok], todo[ok]
        ok_all[where] = True
        if not can_change or todo.size == 0:
            where = where[:0]
            break
        ev = _evaluate(sy, st, todo, active[todo], jacobian=False)
        init = sy.init[todo]
        amount_left = init + st.xi[todo]
        act = active[todo]
        negative = act & (amount_left < -amount_tol[todo, None])
        drop = negative.any(axis=1)
        worst_neg = np.argmin(np.where(negative, amount_left, np.inf), axis=1)
        supersat = ~act & (ev.si > tol)
        add = ~drop & supersat.any(axis=1)
        best_new = np.argmax(np.where(supersat, ev.si, -np.inf), axis=1)
        r_drop = todo[drop]
        active[r_drop, worst_neg[drop]] = False
        st.xi[r_drop, worst_neg[drop]] = -init[drop, worst_neg[drop]]
        active[todo[add], best_new[add]] = True
        change = drop | add
        ok_all[where[change]] = False
        where = where[change]
    ok_all[where] = False  # still changing after the last round
    return ok_all, its_all, why


def solve(
    model: SpeciesModel, problem: PrecipitationProblem, speciate: Speciate
) -> PrecipitationResult:
    """Equilibrate every row of ``problem`` with its phases (see the module notes).

    ``speciate`` speciates a problem with the engine chosen for plain
    speciation (the initial and the final solutions).
    """
    n = problem.size
    tab = problem.phases
    n_p = len(tab.keys)
    nc = model.n_components
    init = problem.initial
    closed = problem.closed
    tol = problem.tolerance
    total0 = problem.totals
    t = problem.temperature
    # 1. the initial solution: its speciation and charge excess
    given_ph = problem.ph is not None
    sp0 = speciate(
        SpeciationProblem(
            totals=total0,
            temperature=t,
            ph=problem.ph if problem.ph is not None else np.full(n, 7.0),
            charge_offset=np.zeros(n),
            solve_ph=not given_ph,
        )
    )
    m0 = sp0.molality
    lg0 = model.species_gamma(sp0.log_gamma)
    ok0 = sp0.converged
    ph0 = sp0.pH
    reason = empty_reasons(n)
    valid_in = np.all(np.isfinite(total0), axis=1) & np.isfinite(t)
    if problem.ph is not None:
        valid_in &= np.isfinite(problem.ph)
    reason[~valid_in] = Reason.INPUT
    reason[valid_in & ~ok0] = Reason.SPECIATION
    q0 = np.where(ok0, rowdot(np.nan_to_num(m0), model.z), np.nan)
    if not given_ph:
        q0 = np.where(ok0, 0.0, np.nan)  # solved from electroneutrality: exactly neutral
    oh0 = rowdot(np.nan_to_num(m0), model.nu_w)
    sy = _build_system(model, tab, closed, t, np.nan_to_num(total0), init, q0, oh0)
    # closed mode's fallback solves the fixed-pH equilibrium at trial pH values
    sy_fixed = _build_system(model, tab, False, t, sy.total0, init, q0, oh0) if closed else sy

    # 2. the state: the initial speciation, no solid formed yet
    with np.errstate(divide="ignore"):
        u0 = np.log(np.where(m0[:, :nc] > 0, m0[:, :nc], 1e-20))
    st = _State(
        u=np.nan_to_num(u0, nan=0.0),
        v=np.log(np.where(ok0, sp0.ionic_strength, 0.1)),
        h=-LN10 * np.where(ok0, ph0, 7.0),
        xi=np.zeros((n, n_p)),
        law=np.log10(np.where(ok0, sp0.water_activity, 1.0)),
    )
    si0 = speciation_log_iap(model, tab, sp0) - tab.log_k(t)
    si0 = np.where(np.isfinite(si0), si0, -np.inf)
    candidate = np.where(init > 0, np.inf, si0)  # a phase present at the start goes first
    first = np.argmax(candidate, axis=1)
    need = ok0 & (np.take_along_axis(candidate, first[:, None], axis=1)[:, 0] > tol)
    need |= ok0 & (init > 0).any(axis=1)
    active = np.zeros((n, n_p), dtype=bool)
    iterations = np.zeros(n, dtype=np.int64)
    converged = ok0.copy()
    rows = np.flatnonzero(need)
    # phases present at the start but not chosen first: assume them dissolved
    st.xi[rows] = -init[rows]
    remains = _first_guess(sy, st, rows, first[rows], lg0, m0)
    active[rows, first[rows]] = remains
    amount_tol = tol * np.maximum(total0.max(axis=1, initial=0.0), init.max(axis=1, initial=0.0))
    _solve_rows(sy, sy_fixed, st, rows, active, amount_tol, problem, iterations, converged, reason)

    # 3. the final solution, speciated once more at the solved pH (which checks the mass
    # balances; the charge balance is checked here)
    water = np.empty(n)
    remaining = np.empty((n, nc))
    for lo in range(0, n, CHUNK):
        chunk = np.arange(lo, min(lo + CHUNK, n))
        ev = _evaluate(sy, st, chunk, active[chunk], jacobian=False)
        water[chunk], remaining[chunk] = ev.water, ev.remaining
    water = np.where(converged, water, np.nan)
    final_totals = np.where(converged[:, None], remaining / water[:, None], np.nan)
    final_ph = np.where(converged, -st.h / LN10 if closed else ph0, np.nan)
    sp = speciate(
        SpeciationProblem(
            totals=final_totals, temperature=t, ph=final_ph, charge_offset=np.zeros(n)
        )
    )
    if closed:
        m_fin = sp.molality
        scale = 0.5 * rowdot(m_fin, np.abs(model.z))
        with np.errstate(invalid="ignore"):
            off = np.abs(rowdot(m_fin, model.z) - q0 / water) / scale
        reason[converged & ~(off <= 1e3 * tol)] = Reason.FINAL
        converged &= off <= 1e3 * tol
    lost = converged & ~sp.converged
    reason[lost] = Reason.FINAL
    converged &= sp.converged
    xi = np.where(converged[:, None], st.xi + 0.0, np.nan)  # + 0.0: no negative zeros
    return PrecipitationResult(
        amount=xi,
        active=active,
        water=water,
        totals=final_totals,
        pH=final_ph,
        speciation=sp,
        converged=converged,
        reason=reason,
        iterations=iterations,
    )


def _solve_rows(
    sy: _System,
    sy_fixed: _System,
    st: _State,
    rows: npt.NDArray[np.intp],
    active: BoolArray,
    amount_tol: FloatArray,
    problem: PrecipitationProblem,
    iterations: npt.NDArray[np.int64],
    converged: BoolArray,
    reason: ObjectArray,
) -> None:
    """Newton for the current sets, then update the sets; repeat until none changes.

    Chunks of rows keep the Jacobians in cache.  Closed mode: rows whose
    coupled solve does not converge quickly (unbuffered solutions, where the pH
    hangs on a tiny charge balance) start again and search the pH that meets
    the charge balance, with the fixed-pH equilibrium at each trial pH.
    """
    closed = problem.closed
    tol, max_iter = problem.tolerance, problem.max_iterations
    first_try = min(max_iter, FIRST_TRY) if closed else max_iter
    for lo in range(0, rows.size, CHUNK):
        chunk = rows[lo : lo + CHUNK]
        _repair(sy, st, chunk, active, SWEEPS)
        saved = _copy_rows(st, chunk), active[chunk].copy()
        ok, its, why = _active_set(sy, st, chunk, active, amount_tol, tol, first_try)
        if closed and not ok.all():
            bad = ~ok
            again = chunk[bad]
            _restore_rows(st, again, saved[0], bad)
            active[again] = saved[1][bad]
            ok[bad], its_b, why[bad] = _closed_by_ph_search(
                sy, sy_fixed, st, again, active, amount_tol, tol, max_iter
            )
            its[bad] += its_b
        iterations[chunk] = its
        converged[chunk] = ok
        reason[chunk] = np.where(ok, reason[chunk], why)
