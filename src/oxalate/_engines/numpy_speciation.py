"""The numpy speciation engine: a reduced Newton, batched over rows.

For every row it finds the free molalities, the ionic strength I and the water
activity a_w such that every complex obeys mass action,

    log m_j = log K_j(T) + Σ_c ν_jc log a_c + ν_jH log a_H + ν_jw log a_w - log γ_j,

every component's total is met, I = ½ Σ z_j² m_j, a_w = 1 - 0.017 Σ m_j and,
where asked, the solution is electroneutral (pH or one ion adjusted).

Unknowns per row: ln m of the metals (the cations of ``ions.csv``), ln I and,
where asked, ln a_H or ln m of the charge-balance ligand.  Given those, every
other ligand's free molality follows in closed form from its own mass balance
(no species holds two different ligands): T = α m + 2 β m², so Newton runs on
5-6 unknowns instead of 11.  Each iteration is a handful of array operations
over the rows still iterating; no Python loop runs over rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from ..activity import WATER_ACTIVITY_SLOPE
from ..thermo import debye_huckel_a_kelvin, debye_huckel_b_kelvin
from .linalg import rowdot, solve_small
from .model import SpeciesModel
from .records import Reason, SpeciationProblem, SpeciationResult

__all__ = ["RATIO_SWEEPS", "solve"]

FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
IndexArray: TypeAlias = npt.NDArray[np.intp]

_LN10 = math.log(10.0)
STEP_LIMIT = 4.0  # largest change of ln m (or ln I) per Newton step
M_CAP = 1e3  # species molalities are capped at 1e3 mol/kg while iterating
#: Rows solved together by default: about 10 kB of work arrays per row.
NUMPY_CHUNK = 20_000
#: EQUIL2-style scaling steps before Newton (measured: 1 is best); the compiled
#: kernel takes the same first move.
RATIO_SWEEPS = 1


@dataclass(frozen=True)
class _Layout:
    """Which components are Newton unknowns and how the closed-form ligands enter."""

    unknown: list[int]  # metals, and a ligand that balances charge
    closed: list[int]  # ligands in closed form
    nu_u: FloatArray  # (S, U)
    nu_cf: FloatArray  # (S, L)
    lig_col: IndexArray  # (S,) the species' closed-form ligand, L if none
    double: IndexArray  # species holding two of their ligand
    one_mask: FloatArray
    two_mask: FloatArray
    nu2_cf: FloatArray
    solve_ph: bool
    balance: int  # -1: none

    @property
    def n_u(self) -> int:
        return len(self.unknown)

    @property
    def k_var(self) -> int:
        return self.n_u + 1 + (1 if self.solve_ph else 0)


def _layout(model: SpeciesModel, solve_ph: bool, balance: int) -> _Layout:
    nc = model.n_components
    unknown = list(model.system.metals)
    if balance >= 0 and balance not in unknown:
        unknown.append(balance)
    closed = [c for c in range(nc) if c not in unknown]
    nu_u = model.nu[:, np.array(unknown)]
    nu_cf = model.nu[:, np.array(closed, dtype=np.intp)]
    lig_nu = nu_cf.max(axis=1, initial=0.0)
    return _Layout(
        unknown=unknown,
        closed=closed,
        nu_u=nu_u,
        nu_cf=nu_cf,
        lig_col=np.where(nu_cf.any(axis=1), np.argmax(nu_cf != 0, axis=1), len(closed)),
        double=np.flatnonzero(lig_nu == 2),
        one_mask=(nu_cf == 1).astype(np.float64),
        two_mask=(nu_cf == 2).astype(np.float64),
        nu2_cf=nu_cf**2,
        solve_ph=solve_ph,
        balance=balance,
    )


def solve(model: SpeciesModel, problem: SpeciationProblem) -> SpeciationResult:
    """Speciate every row of ``problem`` with the numpy engine, in chunks of rows."""
    n = problem.size
    out = SpeciationResult.empty(n, len(model.z), model.n_gamma, problem.totals)
    layout = _layout(model, problem.solve_ph, problem.balance)
    step = problem.chunk_size or NUMPY_CHUNK
    for start in range(0, n, step):
        rows = slice(start, min(start + step, n))
        _solve_chunk(model, layout, problem, rows, out)
    if problem.balance >= 0:  # an adjusted total is unknown where the row failed
        out.totals[~out.converged, problem.balance] = np.nan
    valid = problem.valid
    out.reason[~valid] = Reason.INPUT
    out.reason[valid & ~out.converged] = Reason.NOT_CONVERGED
    return out


@dataclass
class _Step:
    """Everything one evaluation of the rows still iterating gives."""

    m: FloatArray
    lg: FloatArray
    dlg: FloatArray
    r: FloatArray  # mass-balance residuals of the unknown components
    r_i: FloatArray
    s_u: FloatArray
    ionic: FloatArray
    charge: FloatArray
    charge_scale: FloatArray
    new_aw: FloatArray
    worst: FloatArray
    pres: BoolArray


def _evaluate(
    model: SpeciesModel,
    lay: _Layout,
    log_k: FloatArray,
    species_ok: BoolArray,
    tot_cf: FloatArray,
    tot_u: FloatArray,
    pres_u: BoolArray,
    offset: FloatArray,
    t: FloatArray,
    xa: FloatArray,
    lia: FloatArray,
    aha: FloatArray,
    awa: FloatArray,
) -> _Step:
    """Molalities and residuals of the active rows at their current unknowns."""
    nc = model.n_components
    aw_lin = 10.0**awa
    a_dh = debye_huckel_a_kelvin(t, aw_lin)
    b_dh = debye_huckel_b_kelvin(t, aw_lin) if model.activity.uses_ion_size else a_dh
    lg, dlg = model.log_gamma(lia, a_dh, b_dh)
    # log10 C_j: everything in m_j but the closed-form ligand's own molality
    y = lg[:, :nc].copy()
    y[:, lay.unknown] += xa / _LN10
    log_c = log_k + rowdot(y, model.nu.T) + aha[:, None] * model.nu_h
    log_c += awa[:, None] * model.nu_w - lg
    # C_j is not a molality (it multiplies a small free-ligand molality), so only
    # guard against overflow here; the molalities themselves are capped below.
    c = np.where(species_ok, np.exp(_LN10 * np.minimum(log_c, 250.0)), 0.0)
    # closed-form ligands: T = alpha m + 2 beta m^2
    alpha = rowdot(c, lay.one_mask)
    beta = rowdot(c, lay.two_mask)
    with np.errstate(invalid="ignore", divide="ignore"):
        m_l = np.where(
            tot_cf > 0, 2.0 * tot_cf / (alpha + np.sqrt(alpha * alpha + 8.0 * beta * tot_cf)), 0.0
        )
    factor = np.concatenate([m_l, np.ones((len(t), 1))], axis=1)[:, lay.lig_col]
    m = c * factor
    m[:, lay.double] *= factor[:, lay.double]
    m = np.minimum(m, M_CAP)
    # residuals
    s_u = rowdot(m, lay.nu_u)
    ionic = 0.5 * rowdot(m, model.z2)
    charge = rowdot(m, model.z) - offset
    charge_scale = 0.5 * rowdot(m, np.abs(model.z))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(pres_u, np.log(s_u) - np.log(tot_u), 0.0)
        rel = np.where(pres_u, np.abs(s_u / tot_u - 1.0), 0.0)
    if lay.balance >= 0:
        jb = lay.unknown.index(lay.balance)
        r[:, jb] = charge / charge_scale
        rel[:, jb] = np.abs(r[:, jb])
    r_i = lia - np.log(ionic)
    new_aw = np.maximum(1.0 - WATER_ACTIVITY_SLOPE * m.sum(axis=1), 1e-3)
    worst = np.maximum(rel.max(axis=1), np.abs(r_i))
    worst = np.maximum(worst, np.abs(np.log10(new_aw) - awa))
    if lay.solve_ph:
        worst = np.maximum(worst, np.abs(charge / charge_scale))
    return _Step(m, lg, dlg, r, r_i, s_u, ionic, charge, charge_scale, new_aw, worst, pres_u)


def _solve_chunk(
    model: SpeciesModel,
    lay: _Layout,
    problem: SpeciationProblem,
    rows: slice,
    out: SpeciationResult,
) -> None:
    """Solve the rows ``rows`` of ``problem`` in place into ``out`` (see the module notes)."""
    totals = problem.totals[rows]
    t = problem.temperature[rows]
    ph = problem.ph[rows]
    offset = problem.charge_offset[rows]
    n = len(t)
    nc = model.n_components
    u_idx = np.array(lay.unknown)
    cf_idx = np.array(lay.closed, dtype=np.intp)
    valid = np.all(np.isfinite(totals), axis=1) & np.isfinite(t) & np.isfinite(ph)
    present = totals > 0
    if lay.balance >= 0:
        present[:, lay.balance] = True
    species_ok = ((~present).astype(np.float64) @ (model.nu != 0).T) == 0
    log_k = model.constants.log_k(t)
    start = np.where(totals > 0, totals, 1e-3)
    x = np.log(start[:, u_idx])
    ln_i = np.log(0.5 * (totals * model.z2[:nc]).sum(axis=1) + 1e-7)
    log_ah = -np.where(np.isfinite(ph), ph, 7.0)
    log_aw = np.zeros(n)
    tot_u = np.where(totals[:, u_idx] > 0, totals[:, u_idx], 1.0)
    tot_cf = totals[:, cf_idx]
    pres_u = present[:, u_idx]
    pres_u_bal = np.zeros(lay.n_u, dtype=bool)
    if lay.balance >= 0:
        pres_u_bal[lay.unknown.index(lay.balance)] = True
    active = np.flatnonzero(valid)
    iterations = np.zeros(n, dtype=np.int64)
    residual = np.full(n, np.inf)
    ok = np.zeros(n, dtype=bool)
    out_m, out_lg = out.molality[rows], out.log_gamma[rows]
    cycles = _Cycles(n, lay.k_var)  # damps the rows whose Newton iteration cycles
    for it in range(problem.max_iterations + 1):
        if active.size == 0:
            break
        st = _evaluate(
            model, lay, log_k[active], species_ok[active], tot_cf[active], tot_u[active],
            pres_u[active], offset[active], t[active], x[active], ln_i[active],
            log_ah[active], log_aw[active],
        )  # fmt: skip
        awa, aha = log_aw[active], log_ah[active]
        residual[active] = st.worst
        done = st.worst <= problem.tolerance
        if done.any():
            idx = active[done]
            # species holding water (OH-) at the a_w reported, not the lagged one iterated
            # with (they differ by at most the tolerance), as the compiled kernel does
            shift = np.log10(st.new_aw[done]) - awa[done]
            out_m[idx] = st.m[done] * 10.0 ** (shift[:, None] * model.nu_w)
            out_lg[idx] = model.stored_gamma(st.lg[done])
            out.ionic_strength[rows][idx] = st.ionic[done]
            out.water_activity[rows][idx] = st.new_aw[done]
            out.pH[rows][idx] = -aha[done]
            ok[idx] = True
            iterations[idx] = it
            if lay.balance >= 0:
                out.totals[rows][idx, lay.balance] = rowdot(st.m[done], model.nu[:, lay.balance])
        keep = ~done & np.isfinite(st.worst)
        if it == problem.max_iterations or not keep.any():
            iterations[active[keep]] = it
            break
        if it < RATIO_SWEEPS:
            # The compiled kernel's first move, repeated here so that both engines take
            # the same path: scale each free metal by total / computed (not the
            # charge-balance component) and take the computed ionic strength.
            scaled = active[keep]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(st.pres[keep], np.log(st.s_u[keep] / tot_u[scaled]), 0.0)
            if lay.balance >= 0:
                ratio[:, lay.unknown.index(lay.balance)] = 0.0
            x[scaled] -= ratio
            ln_i[scaled] = np.log(st.ionic[keep])
            log_aw[scaled] = np.log10(st.new_aw[keep])
            active = scaled
            continue
        if not keep.all():
            st = _Step(*(getattr(st, f)[keep] for f in st.__dataclass_fields__))
            active = active[keep]
        log_aw[active] = np.log10(st.new_aw)
        step = _newton_step(model, lay, st, pres_u_bal)
        point = np.column_stack([x[active], ln_i[active]])
        if lay.solve_ph:
            point = np.column_stack([point, _LN10 * log_ah[active]])
        step *= cycles.scale(active, point)[:, None]
        x[active] -= step[:, : lay.n_u]
        ln_i[active] -= step[:, lay.n_u]
        if lay.solve_ph:
            log_ah[active] -= step[:, lay.n_u + 1] / _LN10
    out.residual[rows] = residual
    out.iterations[rows] = iterations
    out.converged[rows] = ok


class _Cycles:
    """Per row: the last two points Newton stepped from, and the damping of its steps.

    Newton's iteration can cycle between two states (it did for citrate- and
    magnesium-rich rows at pH 9.5-12: 73 of 50,000 random rows there).  When a
    row steps from a point much closer to the one two steps back than to the
    last one, its steps are halved from then on (down to 1/64).  Rows that do
    not cycle take Newton's steps as they are: a line search on the residual
    norm stalled charge-balance solves that plain Newton converges.
    """

    def __init__(self, n: int, k_var: int) -> None:
        self.prev1 = np.full((n, k_var), np.nan)
        self.prev2 = np.full((n, k_var), np.nan)
        self.damp = np.ones(n)

    def scale(self, rows: IndexArray, point: FloatArray) -> FloatArray:
        """The damping of the steps from ``point`` (rows ``rows``); remembers the point."""
        back2 = np.max(np.abs(point - self.prev2[rows]), axis=1)
        back1 = np.max(np.abs(point - self.prev1[rows]), axis=1)
        with np.errstate(invalid="ignore"):
            cycling = back2 < 0.05 * back1
        damp = self.damp[rows]
        damp = np.where(cycling, np.maximum(0.5 * damp, 1.0 / 64.0), damp)
        self.damp[rows] = damp
        self.prev2[rows] = self.prev1[rows]
        self.prev1[rows] = point
        return np.asarray(damp)


def _newton_step(
    model: SpeciesModel, lay: _Layout, st: _Step, pres_u_bal: BoolArray
) -> FloatArray:
    """The limited Newton step in (ln m_u, ln I[, ln a_H]) with the ligands' implicit response.

    Every row of the system is a weighted sum R_r = Σ_j W_jr m_j (mass balance
    of an unknown component, I/2 weights z²/2, charge weights z), so

        dR_r/dv = Σ_j W_jr m_j Dd_jv + Σ_L (Σ_j W_jr ν_jL m_j) dln m_L/dv,
        dln m_L/dv = -(Σ_j ν_jL m_j Dd_jv) / (Σ_j ν_jL² m_j),

    where Dd_jv is the direct derivative of ln m_j (ν_ju for a metal, ν_jH for
    ln a_H, g_j for ln I).  All of it is (k, S) x (S, X) row products.
    """
    nc = model.n_components
    n_u, k_var = lay.n_u, lay.k_var
    col_i, col_h = n_u, n_u + 1
    m = st.m
    k = len(m)
    g = _LN10 * (rowdot(st.dlg[:, :nc], model.nu.T) - st.dlg)  # d ln m_j / d ln I, direct
    mg = m * g
    n_l = len(lay.closed)
    n_r = n_u + 2
    dd_const = (
        lay.nu_u if not lay.solve_ph else np.concatenate([lay.nu_u, model.nu_h[:, None]], axis=1)
    )
    n_c = dd_const.shape[1]
    weights = np.concatenate([lay.nu_u, 0.5 * model.z2[:, None], model.z[:, None]], axis=1)
    a_const = rowdot(m, (weights[:, :, None] * dd_const[:, None, :]).reshape(-1, n_r * n_c))
    a_const = a_const.reshape(k, n_r, n_c)
    a_g = rowdot(mg, weights)  # (k, R)
    b_rl = rowdot(m, (weights[:, :, None] * lay.nu_cf[:, None, :]).reshape(-1, n_r * n_l))
    b_rl = b_rl.reshape(k, n_r, n_l)
    q = rowdot(m, lay.nu2_cf)
    q_safe = np.where(q > 0, q, 1.0)[:, :, None]
    e_const = -rowdot(m, (lay.nu_cf[:, :, None] * dd_const[:, None, :]).reshape(-1, n_l * n_c))
    e_const = e_const.reshape(k, n_l, n_c) / q_safe
    e_g = -rowdot(mg, lay.nu_cf)[:, :, None] / q_safe
    full_const = a_const + b_rl @ e_const  # (k, R, n_c)
    full_g = a_g + (b_rl @ e_g)[:, :, 0]  # (k, R)
    jac = np.empty((k, k_var, k_var))
    s_safe = np.where(st.s_u > 0, st.s_u, 1.0)
    ionic = st.ionic
    jac[:, :n_u, :n_u] = full_const[:, :n_u, :n_u] / s_safe[:, :, None]
    jac[:, :n_u, col_i] = full_g[:, :n_u] / s_safe
    jac[:, col_i, :n_u] = -full_const[:, n_u, :n_u] / ionic[:, None]
    jac[:, col_i, col_i] = 1.0 - full_g[:, n_u] / ionic
    charge_row = np.empty((k, k_var))
    charge_row[:, :n_u] = full_const[:, n_u + 1, :n_u]
    charge_row[:, col_i] = full_g[:, n_u + 1]
    if lay.solve_ph:
        jac[:, :n_u, col_h] = full_const[:, :n_u, n_u] / s_safe
        jac[:, col_i, col_h] = -full_const[:, n_u, n_u] / ionic
        charge_row[:, col_h] = full_const[:, n_u + 1, n_u]
    charge_row /= st.charge_scale[:, None]
    rhs = np.concatenate([st.r, st.r_i[:, None]], axis=1)
    if lay.balance >= 0:
        jac[:, lay.unknown.index(lay.balance), :] = charge_row
    if lay.solve_ph:
        jac[:, col_h, :] = charge_row
        rhs = np.concatenate([rhs, (st.charge / st.charge_scale)[:, None]], axis=1)
    absent = ~st.pres
    if lay.balance >= 0:
        absent &= ~pres_u_bal
    if absent.any():
        rows, cols = np.nonzero(absent)
        jac[rows, cols, :] = 0.0
        jac[rows, :, cols] = 0.0
        jac[rows, cols, cols] = 1.0
        rhs[rows, cols] = 0.0
    step = solve_small(jac, rhs)
    biggest = np.max(np.abs(step), axis=1)
    step *= (STEP_LIMIT / np.maximum(biggest, STEP_LIMIT))[:, None]
    return np.asarray(step)
