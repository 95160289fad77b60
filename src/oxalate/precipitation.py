"""Equilibrium with solids: how much calcium oxalate comes out, and where it starts.

:func:`precipitate`
    Reacts each solution of a batch with one or more candidate solids (COM,
    COD, brushite, ...) until every solid present is exactly saturated and
    every other one is undersaturated: the moles that precipitate (or
    dissolve), the composition and mass of the water left, and its
    speciation.  It reproduces USGS PHREEQC's ``EQUILIBRIUM_PHASES``.
:func:`threshold`
    The total of one component (oxalate, calcium, ...) at which the
    supersaturation Ω of a phase reaches a target (1 = saturation, 8-11 the
    metastable limit quoted for urine).
:func:`dilution_for`
    The dilution factor that brings Ω down to a target.
:func:`mix`
    Mixes two batches of solutions by mass of water.
:func:`titrate`
    An oxalate titration done in silico (the chemistry of the Bonn Risk
    Index test): Na₂C₂O₄ added step by step, Ω after each step, and the
    amount added at which Ω first reaches the target.

Conventions
-----------
Amounts of solid are moles per kilogram of the *initial* water.  The
solution after reaction is described per kilogram of the water *left*: when
n moles of a hydrate CaC2O4·xH2O form, x·n moles of H2O leave the solvent
with them (PHREEQC does the same), so the water mass becomes

.. math:: W = 1 - M_w \\sum_p x_p \\xi_p \\quad [\\mathrm{kg}],

with M_w = 18.01528 g/mol (IUPAC 2005 atomic weights, wieser2006; the value
PHREEQC derives from the database that :mod:`oxalate.phreeqc` writes), plus
the tiny change of the water held as OH⁻.  Mass balance is then exact:
initial total = final total × W + Σ_p ν_p ξ_p for every component.

Two pH modes:

``"closed"`` (PHREEQC's default)
    Nothing is added: protons and charge are conserved, and the pH drifts.
    Every solid is electrically neutral, so removing it keeps the solution's
    charge excess q₀ = Σ zᵢ mᵢ (in equivalents, zero for a solution whose pH
    was solved from electroneutrality); per kilogram of the water left it
    becomes q₀/W, and the final pH solves Σ zᵢ mᵢ = q₀/W.  This is exactly
    what PHREEQC conserves (its H, O and charge balances), and the two codes
    agree to about 1e-13 (``tests/test_precipitation_phreeqc.py``).
``"fixed"``
    a(H⁺) is held at the solution's pH, as by an ideal pH-stat that adds or
    removes protons without a counter-ion or water.  PHREEQC can only hold pH
    by adding NaOH (or HCl) as a real reactant, which changes Na and the
    water mass; the two therefore differ slightly (the moles precipitated by
    up to 4e-6 relative in the tests' urine, plasma and CaCl2/Na2C2O4 rows).

Numerics
--------
:func:`precipitate` solves speciation and solid equilibrium together: a
damped Newton iteration on ln m of the ten components, ln I, ln a(H⁺)
(closed) and the amount ξ_p of each active solid, with an analytic Jacobian,
batched over the rows (a handful of array operations per iteration, no loop
over rows).  Each row starts at the amount a fixed-speciation model predicts,
refined by two fixed-point sweeps on the free molalities.  The set of solids
present is found by an active-set method: each row starts with its most
supersaturated phase and, once converged, drops a phase whose amount went
negative or adds the most supersaturated absent one, until nothing changes.
Closed-system rows that do not converge in 12 iterations (unbuffered
solutions, whose pH hangs on a tiny charge balance) are solved again as a
search on pH, with the fixed-pH equilibrium at every trial pH.  The final
state is speciated once more by :func:`oxalate.speciate` at the pH found,
which provides the returned :class:`~oxalate.Speciation` and checks the
mass balances; the charge balance is checked here.

:func:`threshold`, :func:`dilution_for` and :func:`titrate` find their roots
with a safeguarded secant iteration on the logarithm of the varied quantity,
batched over the rows, each step one call of :func:`oxalate.speciate` on the
rows not yet converged.

References
----------
.. [1] Parkhurst, D. L. and Appelo, C. A. J. (2013), Description of input and
   examples for PHREEQC version 3, USGS Techniques and Methods 6-A43,
   doi:10.3133/tm6A43 (parkhurst2013).
.. [2] Wieser, M. E. (2006), Atomic weights of the elements 2005, Pure Appl.
   Chem. 78, 2051-2066, doi:10.1351/pac200678112051 (wieser2006).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal, NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt

from ._errors import OxalateRangeWarning
from .activity import check_model, warn_if_outside
from .database import COMPONENTS, ConstantSet, Solid, analyte, canonical_phase, resolve_constants
from .solution import ANALYTES, Solution
from .speciation import (
    Speciation,
    _a_line,
    _assemble,
    _choose_engine,
    _kernel_module,
    _log_gamma,
    _Model,
    _model,
    _run_kernel,
    _solve_small,
    speciate,
)
from .thermo import debye_huckel_a_kelvin, debye_huckel_b_kelvin
from .units import Quantity, solution_density

__all__ = [
    "WATER_MOLAR_MASS",
    "Dilution",
    "Precipitation",
    "Threshold",
    "Titration",
    "dilution_for",
    "mix",
    "precipitate",
    "threshold",
    "titrate",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
ObjectArray: TypeAlias = npt.NDArray[np.object_]
PhMode = Literal["closed", "fixed"]

#: Molar mass of water from the IUPAC 2005 atomic weights, 2 x 1.00794 +
#: 15.9994 g/mol (wieser2006); PHREEQC derives the same from the database
#: oxalate.phreeqc writes. [kg/mol]
WATER_MOLAR_MASS = 18.01528e-3

_LN10 = math.log(10.0)
_NC = len(COMPONENTS) - 1  # components other than H
_H = COMPONENTS.index("H")
_WATER_SLOPE = 0.017  # a_w = 1 - 0.017 sum m (parkhurst2013), as in speciate
_STEP_LIMIT = 4.0  # largest change of ln m, ln I or ln a_H per Newton step
_KEEP = 0.01  # a Newton step leaves at least this share of a component in solution
_MAX_HALVINGS = 12  # backtracking: a step may be halved this many times
_LOG_M_CAP = 3.0  # species molalities capped at 1e3 mol/kg while iterating, as in speciate
_WATEQ_MODELS = ("extended-debye-huckel", "truesdell-jones")
_PH_STEP = 0.5 * _LN10  # closed mode: largest change of ln a_H per step (0.5 pH)
_SWEEPS = 2  # fixed-point sweeps on the free molalities after the first guess
_FIRST_TRY = 12  # closed mode: coupled Newton iterations before the pH search
_CHUNK = 4096  # rows solved together: keeps the (rows, 13, 13) Jacobians in cache

# Reasons a row comes back NaN.
_OK = ""
_R_INPUT = "invalid input: a total, the pH or the temperature is NaN"
_R_SPECIATION = "the initial speciation did not converge"
_R_NEWTON = "the equilibrium with the solids did not converge"
_R_ACTIVE_SET = "the set of solids present did not settle"
_R_FINAL = "the final speciation did not converge"
_R_NO_PH = "no pH meets the charge balance (closed system)"


def _squeeze(x: Any) -> Any:
    x = np.asarray(x)
    return x[()] if x.ndim == 0 else x


def _new_solution(
    totals: Mapping[str, FloatArray], ph: FloatArray | None, temperature: FloatArray
) -> Solution:
    """A Solution from already validated float arrays (the magnitude layer, no checks).

    Unlike :meth:`Solution.from_molalities` it accepts NaN rows (failed
    rows stay NaN in a result).
    """
    shape = np.shape(temperature)
    new = object.__new__(Solution)
    fixed = {}
    for c in COMPONENTS[:_NC]:
        arr = np.array(np.broadcast_to(totals[c], shape), dtype=np.float64)
        arr.setflags(write=False)
        fixed[c] = arr
    object.__setattr__(new, "totals", MappingProxyType(fixed))
    object.__setattr__(
        new, "pH", None if ph is None else np.array(np.broadcast_to(ph, shape), dtype=np.float64)
    )
    object.__setattr__(new, "temperature", np.array(temperature, dtype=np.float64))
    object.__setattr__(new, "shape", tuple(shape))
    return new


def _quiet_speciate(solution: Solution, **kwargs: Any) -> Speciation:
    """:func:`speciate` without its range warning (trial compositions of a root search)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OxalateRangeWarning)
        return speciate(solution, **kwargs)


def _check_solution(solution: Any) -> Solution:
    if not isinstance(solution, Solution):
        raise TypeError(f"solution={solution!r} must be an oxalate.Solution")
    return solution


def _phase_list(phases: Any, cs: ConstantSet) -> tuple[str, ...]:
    if isinstance(phases, str):
        phases = (phases,)
    if not isinstance(phases, Sequence) or not phases:
        raise ValueError(f"phases={phases!r} must be a phase name or a non-empty list of them")
    keys = tuple(canonical_phase(p, tuple(cs.solids)) for p in phases)
    if len(set(keys)) != len(keys):
        raise ValueError(f"phases={phases!r} names a phase twice")
    return keys


def _initial_solids(
    initial_solids: Any, phases: tuple[str, ...], cs: ConstantSet, shape: tuple[int, ...]
) -> FloatArray:
    """Moles of each phase present at the start, per kg of initial water: (N, P)."""
    n = int(np.prod(shape, dtype=np.int64))
    out = np.zeros((n, len(phases)))
    if initial_solids is None:
        return out
    if not isinstance(initial_solids, Mapping):
        raise TypeError(
            f"initial_solids={initial_solids!r} must be a mapping of phase to amount, "
            f"e.g. {{'COM': '1 mmol/kg'}}"
        )
    for phase, amount in initial_solids.items():
        key = canonical_phase(phase, tuple(cs.solids))
        if key not in phases:
            raise ValueError(
                f"initial_solids[{phase!r}]: {key} is not among phases={phases}; add it there"
            )
        argument = f"initial_solids[{phase!r}]"
        if isinstance(amount, str):
            amount = Quantity(amount)
        if not hasattr(amount, "m_as"):
            raise TypeError(
                f"{argument}={amount!r} has no units; give moles of solid per kg of water, "
                f"e.g. '1 mmol/kg' or oxalate.Quantity(1e-3, 'mol/kg')"
            )
        try:
            value = np.asarray(amount.m_as("mol/kg"), dtype=np.float64)
        except Exception as err:  # pint's DimensionalityError
            raise ValueError(
                f"{argument}={amount!s} is not an amount per mass of water; give e.g. '1 mmol/kg'"
            ) from err
        bad = ~np.isfinite(value) | (value < 0)
        if bad.any():
            raise ValueError(
                f"{argument} has {int(bad.sum())} negative, NaN or infinite value(s) "
                f"(at {np.argwhere(bad)[:5].tolist()}); amounts of solid must be >= 0"
            )
        try:
            out[:, phases.index(key)] = np.broadcast_to(value, shape).ravel()
        except ValueError:
            raise ValueError(
                f"{argument} has shape {value.shape}, which does not broadcast to the "
                f"solution's {shape}"
            ) from None
    return out


# --------------------------------------------------------------------------------------------
# The coupled Newton solver: speciation and solid equilibrium together.
# --------------------------------------------------------------------------------------------


@dataclass
class _System:
    """Constant data of one precipitation problem (rows flattened to N)."""

    model: _Model
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
    model: _Model,
    solids: Sequence[Solid],
    closed: bool,
    t: FloatArray,
    total0: FloatArray,
    init: FloatArray,
    q0: FloatArray,
    oh0: FloatArray,
) -> _System:
    cs = model.constants
    nup = np.array([np.delete(np.asarray(s.stoichiometry), _H) for s in solids]).reshape(
        len(solids), _NC
    )
    present = (total0 > 0) | ((init > 0).astype(np.float64) @ (nup > 0) > 0)
    species_ok = ((~present).astype(np.float64) @ (model.nu != 0).T) == 0
    phase_ok = ((~present).astype(np.float64) @ (nup != 0).T) == 0
    log_kp = np.stack([s.log_k(t) for s in solids], axis=-1).reshape(len(t), len(solids))
    direct = np.concatenate([model.nu, model.nu_h[:, None]], axis=1) if closed else model.nu
    weights = np.concatenate([model.nu, 0.5 * model.z2[:, None], model.z[:, None]], axis=1)
    weights_d = (weights[:, :, None] * direct[:, None, :]).reshape(len(model.z), -1)
    return _System(
        model=model,
        closed=closed,
        t=t,
        log_k=cs.log_k(t).reshape(len(t), -1),
        log_kp=log_kp,
        nup=nup,
        nup_h=np.array([s.stoichiometry[_H] for s in solids], dtype=np.float64),
        nwp=np.array([s.water for s in solids], dtype=np.float64),
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
    nc = _NC
    closed = sy.closed
    k = len(idx)
    u, v, h, xi, law = st.u[idx], st.v[idx], st.h[idx], st.xi[idx], st.law[idx]
    t = sy.t[idx]
    aw = 10.0**law
    a_dh = debye_huckel_a_kelvin(t, aw)
    b_dh = debye_huckel_b_kelvin(t, aw) if model.model in _WATEQ_MODELS else a_dh
    lg, dlg = _log_gamma(model, v, a_dh, b_dh)
    y = lg[:, :nc] + u / _LN10  # log10 activity of the free components
    log_m = sy.log_k[idx] + y @ model.nu.T + (h / _LN10)[:, None] * model.nu_h
    log_m += law[:, None] * model.nu_w - lg
    m = np.where(sy.species_ok[idx], 10.0 ** np.minimum(log_m, _LOG_M_CAP), 0.0)
    s = m @ model.nu
    remaining = sy.total0[idx] - xi @ sy.nup
    oh = m @ model.nu_w
    wt = sy.wtot0[idx] - xi @ sy.nwp
    water = wt / (1.0 / WATER_MOLAR_MASS + oh)
    ionic = 0.5 * (m @ model.z2)
    pres = sy.present[idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        f_mass = np.where(pres, np.log(water[:, None] * s) - np.log(remaining), 0.0)
        rel = np.where(pres, np.abs(water[:, None] * s / remaining - 1.0), 0.0)
        f_i = v - np.log(ionic)
    new_aw = np.maximum(1.0 - _WATER_SLOPE * m.sum(axis=1), 1e-3)
    si = y @ sy.nup.T + (h / _LN10)[:, None] * sy.nup_h + law[:, None] * sy.nwp - sy.log_kp[idx]
    si = np.where(sy.phase_ok[idx], si, -np.inf)
    init = sy.init[idx]
    f_solid = np.where(active, si, xi + init)
    worst = np.maximum(rel.max(axis=1), np.abs(f_i))
    worst = np.maximum(worst, np.abs(np.log10(new_aw) - law))
    worst = np.maximum(worst, np.abs(f_solid).max(axis=1, initial=0.0))
    parts = [f_mass, f_i[:, None]]
    if closed:
        charge = m @ model.z
        scale = 0.5 * (m @ np.abs(model.z))
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
        g = _LN10 * (dlg[:, :nc] @ model.nu.T - dlg)  # d ln m_j / d ln I
        m1 = (m @ sy.weights_d).reshape(k, n_r, n_d)
        mg = (m * g) @ np.concatenate(
            [model.nu, 0.5 * model.z2[:, None], model.z[:, None]], axis=1
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
        d_si_dv = dlg[:, :nc] @ sy.nup.T  # (k, P)
        for p in range(n_p):
            row = cx + p
            act = active[:, p]
            jac[:, row, :nc] = np.where(act[:, None], sy.nup[p] / _LN10, 0.0)
            jac[:, row, cv] = np.where(act, d_si_dv[:, p], 0.0)
            if closed:
                jac[:, row, ch] = np.where(act, sy.nup_h[p] / _LN10, 0.0)
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
    nc = _NC
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
    nc = _NC
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
        back &= (prev_norm[pos] > (0.01 * tol) ** 2) & (halvings[pos] < _MAX_HALVINGS)
        back &= not last
        if back.any():
            b = pos[back]
            alpha[b] *= 0.5
            halvings[b] += 1
            x = prev_x[b].copy()
            x[:, :-1] -= alpha[b, None] * prev_step[b]
            # a_w lags as in speciate: from the latest molalities
            x[:, -1] = np.log10(np.maximum(1.0 - _WATER_SLOPE * ev.m[back].sum(axis=1), 1e-3))
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
            step = _solve_small(jac, ev.f[newton])
            # a converged row keeps its state if its extra step is not finite
            step = np.where(np.isfinite(step) | ~done[newton][:, None], step, 0.0)
            big = np.max(np.abs(step[:, :cx]), axis=1)
            lim = np.where(big > _STEP_LIMIT, _STEP_LIMIT / np.where(big > 0, big, 1.0), 1.0)
            if sy.closed:
                dh = np.abs(step[:, nc + 1])
                lim = np.minimum(
                    lim, np.where(dh > _PH_STEP, _PH_STEP / np.where(dh > 0, dh, 1), 1)
                )
            d_rem = step[:, cx:] @ sy.nup  # change of the remaining amounts for a full step
            rem = ev.remaining[newton]
            with np.errstate(divide="ignore", invalid="ignore"):
                cap = np.where(sy.present[i_n] & (d_rem < 0), (1.0 - _KEEP) * rem / -d_rem, np.inf)
            lim = np.minimum(lim, cap.min(axis=1))
            step *= np.where(np.isfinite(lim), lim, np.nan)[:, None]
            # an inactive phase stays at xi = -initial exactly
            act = active[i_n]
            step[:, cx:] = np.where(act, step[:, cx:], st.xi[i_n] + sy.init[i_n])
            prev_step[p] = step
            x = prev_x[p].copy()
            x[:, :-1] -= step
            x[:, -1] = np.log10(np.maximum(1.0 - _WATER_SLOPE * ev.m[newton].sum(axis=1), 1e-3))
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
        ev = _evaluate(sy, st, rows, active[rows], jacobian=False)
        fix = ev.f[:, :_NC]
        good = np.all(np.isfinite(fix), axis=1) & np.isfinite(ev.f[:, _NC])
        r = rows[good]
        st.u[r] -= np.clip(fix[good], -_STEP_LIMIT, _STEP_LIMIT)
        st.v[r] -= ev.f[good, _NC]


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
        + sy.nup_h[phase] * st.h[rows] / _LN10
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
    as the pH rises, is driven to zero by the safeguarded secant of :func:`_find_root`.
    """
    nc = _NC
    its = np.zeros(len(rows), dtype=np.int64)

    def charge_residual(ph: FloatArray, sub: npt.NDArray[np.intp]) -> FloatArray:
        r = rows[sub]
        st.h[r] = -_LN10 * ph
        ok_in, its_in, _ = _active_set(sy_fixed, st, r, active, amount_tol, tol, max_iter)
        its[sub] += its_in
        ev = _evaluate(sy, st, r, active[r], jacobian=False)
        return np.asarray(np.where(ok_in, ev.f[:, nc + 1], np.nan))

    ph0 = -st.h[rows] / _LN10
    all_rows = np.arange(len(rows))
    f0 = charge_residual(ph0, all_rows)
    f1 = charge_residual(ph0 + 0.05, all_rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = (f1 - f0) / 0.05
    slope = np.where(np.isfinite(slope) & (slope < 0), slope, -1.0)
    ph, _, _, ok, _ = _find_root(
        charge_residual, ph0 + 0.05, slope, np.full(len(rows), 1.0), np.full(len(rows), 13.0),
        tol, max_iter, 1.0, f0=f1,
    )  # fmt: skip
    # the state now holds each row's last trial; make sure it is the root found
    sub = np.flatnonzero(ok)
    if sub.size:
        charge_residual(ph[sub], sub)
    why = np.full(len(rows), _R_NO_PH, dtype=object)
    why[ok] = _OK
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
    why = np.full(len(rows), _R_ACTIVE_SET, dtype=object)
    where = np.arange(len(rows))  # positions in rows still to solve
    can_change = n_p > 1 or bool((sy.init[rows] > 0).any())
    for _round in range(3 * n_p + 3):
        if where.size == 0:
            break
        todo = rows[where]
        ok, its = _newton(sy, st, todo, active, tol, max_iter)
        its_all[where] += its
        why[where[~ok]] = _R_NEWTON
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


def _reaction_kernel(engine: str, model: _Model, model_name: str, applies: bool) -> Any:
    """The compiled reaction module when ``engine`` asks for it and it covers the case."""
    case = "the Davies model, a solution with a pH and no initial solids"
    if not _choose_engine(engine, model_name, applies, model, case):
        return None
    return _kernel_module().reaction_kernel(model.nu, model.nu_h, model.nu_w, model.z2)


def _flat_inputs(solution: Solution) -> tuple[FloatArray, FloatArray, FloatArray, BoolArray]:
    """Totals (N, C), temperature and pH of a Solution with a pH, flattened; finite rows."""
    total0 = np.stack([np.ravel(solution.totals[c]) for c in COMPONENTS[:_NC]], axis=1)
    total0 = np.ascontiguousarray(total0, dtype=np.float64)
    t = np.ravel(solution.temperature).astype(np.float64)
    assert solution.pH is not None
    ph0 = np.ravel(solution.pH).astype(np.float64)
    valid = np.all(np.isfinite(total0), axis=1) & np.isfinite(t) & np.isfinite(ph0)
    return total0, t, ph0, valid


def _initial_speciation(
    model: _Model,
    totals: FloatArray,
    t: FloatArray,
    ph: FloatArray,
    a_line: tuple[FloatArray, FloatArray],
) -> tuple[
    FloatArray, FloatArray, FloatArray, FloatArray, BoolArray, FloatArray, npt.NDArray[np.int64]
]:
    """Speciate every row with the compiled kernel, as :func:`speciate` does at fixed pH.

    Returns molality (N, S), log γ by z² class (N, 10), I, a_w, converged,
    residual and iterations (raw arrays, no Speciation).  ``a_line`` is
    :func:`~oxalate.speciation._a_line` of ``t``, which the reaction kernel
    then uses too.
    """
    n = len(t)
    out_m = np.empty((n, len(model.z)))
    out_lg = np.empty((n, 10))
    out_i, out_aw, out_res = np.empty(n), np.empty(n), np.empty(n)
    out_it = np.zeros(n, dtype=np.int64)
    out_ok = np.zeros(n, dtype=bool)
    _run_kernel(model, totals, t, ph, 1e-12, 100, out_m, out_lg, out_i, out_aw, out_res,
                out_it, out_ok, a_line)  # fmt: skip
    return out_m, out_lg, out_i, out_aw, out_ok, out_res, out_it


def _precipitate_compiled(
    kernel: Any,
    solution: Solution,
    keys: tuple[str, ...],
    solids: Sequence[Solid],
    closed: bool,
    model: _Model,
    model_name: str,
    tolerance: float,
    max_iterations: int,
) -> Precipitation:
    """:func:`precipitate` by the compiled kernel; rows it does not converge by numpy."""
    cs = model.constants
    shape = solution.shape
    n = solution.size
    n_p = len(keys)
    total0, t, ph0, valid = _flat_inputs(solution)
    a_ref, a_slope = _a_line(t)
    m, lg, ionic, aw, ok0, res, its = _initial_speciation(model, total0, t, ph0, (a_ref, a_slope))
    nup = np.ascontiguousarray([np.delete(np.asarray(sd.stoichiometry), _H) for sd in solids])
    log_kp = np.ascontiguousarray(
        np.stack([sd.log_k(t) for sd in solids], axis=-1).reshape(n, n_p)
    )
    xi = np.empty((n, n_p))
    active = np.empty((n, n_p), dtype=bool)
    log_ah = np.empty(n)
    water = np.empty(n)
    remaining = np.empty((n, _NC))
    ok = np.empty(n, dtype=bool)
    iterations = np.empty(n, dtype=np.int64)
    _kernel_module().run_rows(
        kernel, "precipitate", n,
        np.asarray(cs.log_k25, dtype=np.float64), np.asarray(cs.delta_h, dtype=np.float64),
        model.z, np.ascontiguousarray(model.nu_w, dtype=np.float64), t, a_ref, a_slope,
        total0, -ph0, ok0, m, lg, ionic, aw, nup,
        np.array([sd.stoichiometry[_H] for sd in solids], dtype=np.float64),
        np.array([sd.water for sd in solids], dtype=np.float64), log_kp,
        np.ascontiguousarray(model.z2[:_NC]), WATER_MOLAR_MASS, closed, float(tolerance),
        int(max_iterations), xi, active, log_ah, water, remaining, ok, iterations, res,
    )  # fmt: skip
    its = np.where(ok, iterations, its).astype(np.int64)
    reason = np.full(n, _OK, dtype=object)
    reason[~valid] = _R_INPUT
    reason[valid & ~ok0] = _R_SPECIATION
    converged = ok0 & ok
    final_tot = remaining / water[:, None]
    ph = np.asarray(-log_ah)
    redo = np.flatnonzero(ok0 & ~ok)  # left to the numpy solver
    if redo.size:
        sub = precipitate(
            _new_solution(
                {c: total0[redo, i] for i, c in enumerate(COMPONENTS[:_NC])}, ph0[redo], t[redo]
            ),
            keys, ph_mode="closed" if closed else "fixed", activity_model=model_name,
            constants=cs, tolerance=tolerance, max_iterations=max_iterations, engine="numpy",
        )  # fmt: skip
        sp_sub = sub.speciation
        if sp_sub._lg_source.shape[-1] != lg.shape[1]:  # pragma: no cover - same engine
            raise RuntimeError("the numpy fallback's speciation used another engine")
        k = redo.size
        xi[redo] = np.stack([np.ravel(sub.amount[p]) for p in keys], axis=1)
        active[redo] = np.stack([np.ravel(sub.present[p]) > 0 for p in keys], axis=1)
        water[redo] = np.ravel(sub.water_mass)
        final_tot[redo] = np.stack(
            [np.ravel(sub.solution.totals[c]) for c in COMPONENTS[:_NC]], axis=1
        )
        ph[redo] = np.ravel(sp_sub.pH)
        m[redo] = np.asarray(sp_sub.molality).reshape(k, -1)
        lg[redo] = np.asarray(sp_sub._lg_source).reshape(k, -1)
        ionic[redo] = np.ravel(sp_sub.ionic_strength)
        aw[redo] = np.ravel(sp_sub.water_activity)
        res[redo] = np.ravel(sp_sub.residual)
        its[redo] = np.ravel(sub.iterations)
        converged[redo] = np.ravel(sub.converged)
        reason[redo] = np.ravel(sub.reason)
    bad = ~converged
    for arr in (xi, final_tot, m, lg):
        arr[bad] = np.nan
    for arr1 in (water, ph, ionic, aw, res):
        arr1[bad] = np.nan
    active[bad] = False
    sp = _assemble(
        cs, model_name, shape, np.nan_to_num(final_tot), t, m, lg, model.z2.astype(np.intp),
        ionic, aw, ph, final_tot, converged, res, its,
    )  # fmt: skip
    warn_if_outside(model_name, ionic[converged])
    final_shaped = {c: final_tot[:, i].reshape(shape) for i, c in enumerate(COMPONENTS[:_NC])}
    final = _new_solution(final_shaped, ph.reshape(shape), t.reshape(shape))
    xi = xi + 0.0  # no negative zeros
    left = np.where(active | bad[:, None], xi, 0.0)
    return Precipitation(
        phases=keys,
        amount={p: _squeeze(xi[:, i].reshape(shape)) for i, p in enumerate(keys)},
        present={p: _squeeze(left[:, i].reshape(shape)) for i, p in enumerate(keys)},
        solution=final,
        speciation=sp,
        water_mass=_squeeze(water.reshape(shape)),
        converged=_squeeze(converged.reshape(shape)),
        reason=_squeeze(reason.reshape(shape)),
        iterations=_squeeze(its.astype(np.int64).reshape(shape)),
        ph_mode="closed" if closed else "fixed",
    )


@dataclass(frozen=True)
class Precipitation:
    """The result of :func:`precipitate`; every array has the batch's shape.

    Attributes
    ----------
    phases : tuple of str
        The candidate phases, in the order given.
    amount : Mapping of str to numpy.ndarray
        Moles of each phase precipitated per kg of the initial water
        (negative: dissolved from ``initial_solids``); 0 where the phase
        does not form. [mol/kg]
    present : Mapping of str to numpy.ndarray
        Moles of each phase present after reaction (initial + precipitated,
        ≥ 0). [mol/kg]
    solution : Solution
        The solution after reaction: totals per kg of the water left; the
        solved pH (closed mode) or the held one (fixed mode).  A solution
        whose pH was solved from electroneutrality stays so (``pH=None``).
    speciation : Speciation
        Its speciation (SI = 0 for the phases present).
    water_mass : numpy.ndarray
        Mass of water left per kg of initial water. [kg]
    converged : numpy.ndarray of bool
        Rows that reached equilibrium; the others are NaN.
    reason : numpy.ndarray of str
        Why a row did not converge (empty where it did).
    iterations : numpy.ndarray of int
        Newton iterations, summed over the changes of the set of solids.
    ph_mode : str
        ``"closed"`` or ``"fixed"``.
    """

    phases: tuple[str, ...]
    amount: Mapping[str, Any]
    present: Mapping[str, Any]
    solution: Solution
    speciation: Speciation
    water_mass: Any
    converged: Any
    reason: Any
    iterations: Any
    ph_mode: str

    def to_dataframe(self) -> Any:
        """The result as a pandas DataFrame, one row per solution (pandas needed).

        Columns: ``amount_<phase>``, ``present_<phase>`` [mol/kg initial water],
        ``water_mass`` [kg], ``converged``, ``reason``, ``pH``, ``total_<component>``
        [mol/kg water left] and ``SI_<phase>`` after reaction.

        Examples
        --------
        >>> import pytest
        >>> _ = pytest.importorskip("pandas")
        >>> import oxalate
        >>> from oxalate.precipitation import precipitate
        >>> s = oxalate.Solution(calcium="2 mmol/kg", oxalate="1 mmol/kg", sodium="2 mmol/kg",
        ...                      chloride="4 mmol/kg")
        >>> precipitate(s).to_dataframe()[["amount_COM", "converged"]].round(6)
           amount_COM  converged
        0    0.000992       True
        """
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("to_dataframe() needs pandas: pip install pandas") from err
        flat: dict[str, Any] = {}
        for p in self.phases:
            flat[f"amount_{p}"] = np.ravel(self.amount[p])
        for p in self.phases:
            flat[f"present_{p}"] = np.ravel(self.present[p])
        flat["water_mass"] = np.ravel(self.water_mass)
        flat["converged"] = np.ravel(self.converged)
        flat["reason"] = np.ravel(self.reason)
        flat["pH"] = np.ravel(self.speciation.pH)
        for c, v in self.solution.totals.items():
            flat[f"total_{c}"] = np.ravel(v)
        for p, v in self.speciation.saturation_index.items():
            flat[f"SI_{p}"] = np.ravel(v)
        return pd.DataFrame(flat)


def precipitate(
    solution: Solution,
    phases: str | Sequence[str] = ("COM",),
    *,
    ph_mode: PhMode = "closed",
    initial_solids: Mapping[str, Any] | None = None,
    activity_model: str = "davies",
    constants: Any = "default",
    tolerance: float = 1e-10,
    max_iterations: int = 60,
    engine: str = "auto",
) -> Precipitation:
    """Equilibrate each solution with solids: how much precipitates (or dissolves).

    For every row, find the amounts ξ_p ≥ -initial_p of the candidate phases
    such that

    * every phase present (initial_p + ξ_p > 0) is saturated, SI_p = 0;
    * every other candidate is not supersaturated, SI_p ≤ 0;
    * every component's mass is conserved, T₀ = T W + Σ_p ν_p ξ_p, with the
      hydrate water leaving the solvent, W = 1 - M_w Σ_p x_p ξ_p;
    * the pH is held (``"fixed"``) or charge and protons are conserved
      (``"closed"``: Σ z m = q₀/W, q₀ the initial charge excess).

    Parameters
    ----------
    solution : Solution
        The batch, before reaction.
    phases : str or sequence of str
        Candidate phases: ``"COM"`` (whewellite), ``"COD"``, ``"COT"``,
        ``"brushite"``, ``"hydroxyapatite"``, ``"octacalcium_phosphate"``
        or their mineral names.
    ph_mode : {"closed", "fixed"}
        ``"closed"`` (PHREEQC's default): nothing is added, pH drifts.
        ``"fixed"``: a(H⁺) held at ``solution.pH`` (needs a pH).
    initial_solids : mapping, optional
        Solid present at the start, per kg of water, e.g.
        ``{"COM": "1 mmol/kg"}`` (phases must be among ``phases``); it may
        dissolve.  Default: none, so solids can only form. [mol/kg]
    activity_model : str
        As in :func:`oxalate.speciate`; ``"davies"`` is PHREEQC's.
    constants : str, ConstantSet or mapping
        As in :func:`oxalate.speciate`.
    tolerance : float
        Largest ``|SI|`` of a phase present and largest relative mass-balance
        residual accepted. [-]
    max_iterations : int
        Newton iterations per set of solids before a row is declared not
        converged.
    engine : {"auto", "numpy", "numba"}
        ``"numba"`` solves each row in compiled code (:mod:`oxalate._reaction`;
        needs the optional numba package, the Davies model, a solution with
        a pH and no ``initial_solids``), an order of magnitude faster on
        large batches; a row it does not converge is solved again by the
        numpy solver.  ``"numpy"`` is the batched numpy Newton.  ``"auto"``
        takes numba where it applies.  Both solve the same equations and
        agree to about the tolerance.

    Returns
    -------
    Precipitation

    Raises
    ------
    ValueError
        For an unknown phase or mode, ``ph_mode="fixed"`` without a pH, or
        invalid ``initial_solids``.

    Warns
    -----
    OxalateRangeWarning
        Where the ionic strength after reaction exceeds the activity model's
        range.

    Notes
    -----
    Rows whose input is NaN (``Solution(..., on_invalid="nan")``) or that do
    not converge come back NaN with ``converged=False`` and a ``reason``;
    the rest of the batch is unaffected.  Phases whose dissolution reactions
    differ only in water (COM, COD, COT) cannot coexist at equilibrium; the
    most stable one forms.  Kinetics are not modelled: this is the amount
    that *can* precipitate, as PHREEQC's ``EQUILIBRIUM_PHASES`` computes it.

    References
    ----------
    .. [1] Parkhurst, D. L. and Appelo, C. A. J. (2013), USGS TM 6-A43,
       doi:10.3133/tm6A43.

    Examples
    --------
    2 mmol/kg CaCl2 with 1 mmol/kg Na2C2O4, pH from electroneutrality: 0.992
    mmol/kg of COM forms, leaving the water saturated.

    >>> import oxalate
    >>> from oxalate.precipitation import precipitate
    >>> s = oxalate.Solution(calcium="2 mmol/kg", oxalate="1 mmol/kg", sodium="2 mmol/kg",
    ...                      chloride="4 mmol/kg", temperature="25 degC")
    >>> r = precipitate(s)
    >>> round(float(r.amount["COM"]) * 1e3, 4)
    0.9922
    >>> abs(float(r.speciation.saturation_index["COM"])) < 1e-10
    True
    >>> ca_left = float(r.solution.totals["Ca"] * r.water_mass)  # mol per kg initial water
    >>> round((ca_left + float(r.amount["COM"])) * 1e3, 12)
    2.0
    """
    solution = _check_solution(solution)
    if ph_mode not in ("closed", "fixed"):
        raise ValueError(f"ph_mode={ph_mode!r} is not known; accepted: 'closed', 'fixed'")
    if ph_mode == "fixed" and solution.pH is None:
        raise ValueError(
            "ph_mode='fixed' holds the solution's pH, but the Solution has pH=None; "
            "give a pH or use ph_mode='closed'"
        )
    if not (isinstance(tolerance, float | int) and 0 < tolerance < 1e-2):
        raise ValueError(f"tolerance={tolerance!r} must be a number in (0, 0.01)")
    if not (isinstance(max_iterations, int) and max_iterations > 0):
        raise ValueError(f"max_iterations={max_iterations!r} must be a positive integer")
    model_name = check_model(activity_model)
    cs = resolve_constants(constants)
    keys = _phase_list(phases, cs)
    solids = [cs.solids[p] for p in keys]
    shape = solution.shape
    n = solution.size
    n_p = len(keys)
    init = _initial_solids(initial_solids, keys, cs, shape)
    closed = ph_mode == "closed"
    kwargs: dict[str, Any] = {"activity_model": model_name, "constants": cs}
    model = _model(cs, model_name)
    applies = solution.pH is not None and not (init > 0).any()
    kernel = _reaction_kernel(engine, model, model_name, applies)
    if kernel is not None:
        return _precipitate_compiled(
            kernel, solution, keys, solids, closed, model, model_name, tolerance, max_iterations
        )

    # 1. the initial solution: its speciation and charge excess
    sp0 = _quiet_speciate(solution, **kwargs)
    m0 = np.asarray(sp0.molality).reshape(n, -1)
    lg0 = np.asarray(sp0.log_gamma).reshape(n, -1)
    ok0 = np.ravel(sp0.converged)
    total0 = np.stack([np.ravel(solution.totals[c]) for c in COMPONENTS[:_NC]], axis=1)
    t = np.ravel(solution.temperature).astype(np.float64)
    ph0 = np.ravel(sp0.pH)
    reason = np.full(n, _OK, dtype=object)
    valid_in = np.all(np.isfinite(total0), axis=1) & np.isfinite(t)
    if solution.pH is not None:
        valid_in &= np.isfinite(np.ravel(solution.pH))
    reason[~valid_in] = _R_INPUT
    reason[valid_in & ~ok0] = _R_SPECIATION
    q0 = np.where(ok0, np.nan_to_num(m0) @ model.z, np.nan)
    if solution.pH is None:
        q0 = np.where(ok0, 0.0, np.nan)  # solved from electroneutrality: exactly neutral
    oh0 = np.nan_to_num(m0) @ model.nu_w
    sy = _build_system(model, solids, closed, t, np.nan_to_num(total0), init, q0, oh0)

    # 2. the state: the initial speciation, no solid formed yet
    with np.errstate(divide="ignore"):
        u0 = np.log(np.where(m0[:, :_NC] > 0, m0[:, :_NC], 1e-20))
    st = _State(
        u=np.nan_to_num(u0, nan=0.0),
        v=np.log(np.where(ok0, np.ravel(sp0.ionic_strength), 0.1)),
        h=-_LN10 * np.where(ok0, ph0, 7.0),
        xi=np.zeros((n, n_p)),
        law=np.log10(np.where(ok0, np.ravel(sp0.water_activity), 1.0)),
    )
    si0 = np.stack([np.ravel(sp0.saturation_index[key]) for key in keys], axis=1)
    si0 = np.where(np.isfinite(si0), si0, -np.inf)
    candidate = np.where(init > 0, np.inf, si0)  # a phase present at the start goes first
    first = np.argmax(candidate, axis=1)
    need = ok0 & (np.take_along_axis(candidate, first[:, None], axis=1)[:, 0] > tolerance)
    need |= ok0 & (init > 0).any(axis=1)
    active = np.zeros((n, n_p), dtype=bool)
    iterations = np.zeros(n, dtype=np.int64)
    converged = ok0.copy()
    rows = np.flatnonzero(need)
    # phases present at the start but not chosen first: assume them dissolved
    st.xi[rows] = -init[rows]
    remains = _first_guess(sy, st, rows, first[rows], lg0, m0)
    active[rows, first[rows]] = remains
    amount_tol = tolerance * np.maximum(total0.max(axis=1, initial=0.0), init.max(axis=1))

    # 3. Newton for the current sets, then update the sets; repeat until none changes.
    # Chunks of rows keep the Jacobians in cache.
    # Closed mode: rows whose coupled solve does not converge quickly (unbuffered
    # solutions, where the pH hangs on a tiny charge balance) start again and search the
    # pH that meets the charge balance, with the fixed-pH equilibrium at each trial pH.
    sy_fixed = sy
    if closed:
        sy_fixed = _build_system(model, solids, False, t, sy.total0, init, q0, oh0)
    first_try = min(max_iterations, _FIRST_TRY) if closed else max_iterations
    for lo in range(0, rows.size, _CHUNK):
        chunk = rows[lo : lo + _CHUNK]
        _repair(sy, st, chunk, active, _SWEEPS)
        saved = _copy_rows(st, chunk), active[chunk].copy()
        ok, its, why = _active_set(sy, st, chunk, active, amount_tol, tolerance, first_try)
        if closed and not ok.all():
            bad = ~ok
            again = chunk[bad]
            _restore_rows(st, again, saved[0], bad)
            active[again] = saved[1][bad]
            ok[bad], its_b, why[bad] = _closed_by_ph_search(
                sy, sy_fixed, st, again, active, amount_tol, tolerance, max_iterations
            )
            its[bad] += its_b
        iterations[chunk] = its
        converged[chunk] = ok
        reason[chunk] = np.where(ok, reason[chunk], why)

    # 4. the final solution, speciated once more by speciate at the solved pH (which
    # checks the mass balances; the charge balance is checked here)
    water = np.empty(n)
    remaining = np.empty((n, _NC))
    for lo in range(0, n, _CHUNK):
        chunk = np.arange(lo, min(lo + _CHUNK, n))
        ev = _evaluate(sy, st, chunk, active[chunk], jacobian=False)
        water[chunk], remaining[chunk] = ev.water, ev.remaining
    water = np.where(converged, water, np.nan)
    final_totals = {
        c: np.where(converged, remaining[:, i] / water, np.nan).reshape(shape)
        for i, c in enumerate(COMPONENTS[:_NC])
    }
    final_ph = np.where(converged, -st.h / _LN10 if closed else ph0, np.nan).reshape(shape)
    t_shaped = t.reshape(shape)
    keep_none = closed and solution.pH is None
    final = _new_solution(final_totals, None if keep_none else final_ph, t_shaped)
    sp = speciate(_new_solution(final_totals, final_ph, t_shaped), **kwargs)
    if closed:
        m_fin = np.asarray(sp.molality).reshape(n, -1)
        scale = 0.5 * (m_fin @ np.abs(model.z))
        off = np.abs(m_fin @ model.z - q0 / water) / scale
        reason[converged & ~(off <= 1e3 * tolerance)] = _R_FINAL
        converged &= off <= 1e3 * tolerance
    final_ok = np.ravel(sp.converged)
    lost = converged & ~final_ok
    reason[lost] = _R_FINAL
    converged &= final_ok
    xi = np.where(converged[:, None], st.xi + 0.0, np.nan)  # + 0.0: no negative zeros
    # a phase absent at the end has exactly initial + xi = 0
    left = np.where(active | ~converged[:, None], init + xi, 0.0)
    return Precipitation(
        phases=keys,
        amount={p: _squeeze(xi[:, i].reshape(shape)) for i, p in enumerate(keys)},
        present={p: _squeeze(left[:, i].reshape(shape)) for i, p in enumerate(keys)},
        solution=final,
        speciation=sp,
        water_mass=_squeeze(water.reshape(shape)),
        converged=_squeeze(converged.reshape(shape)),
        reason=_squeeze(reason.reshape(shape)),
        iterations=_squeeze(iterations.reshape(shape)),
        ph_mode=ph_mode,
    )


# --------------------------------------------------------------------------------------------
# Root finding on a logarithmic variable, batched: threshold, dilution, titration.
# --------------------------------------------------------------------------------------------


def _find_root(
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
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64], BoolArray, BoolArray]:
    """Solve f(x) = 0 on [lower, upper] for every row: secant steps, safeguarded.

    ``evaluate(x, rows)`` returns f at ``x`` for the rows ``rows`` (NaN where
    it cannot be computed).  The first step uses ``slope0`` (df/dx); later
    ones the secant through the last two points, each at most ``step_cap``
    long, and bisection whenever a sign change is known and the secant step
    leaves it.  ``bracket`` gives, per row, a point where f < 0 and one
    where f > 0 (NaN if unknown).  Returns x, f, iterations, converged and
    ``stuck`` (f never changed sign: the target lies beyond the bounds or
    beyond the extremum of f).
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
    return x, f, its, ok, stuck


def _component_key(name: Any, argument: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"{argument}={name!r} must be an analyte name such as 'oxalate'")
    key = ANALYTES.get(name, name)
    if key not in COMPONENTS or key == "H":
        raise ValueError(f"{argument}={name!r} is not known; accepted: {list(ANALYTES)}")
    return key


def _with_target(solution: Solution, target: Any) -> tuple[Solution, FloatArray]:
    """Broadcast the solution and the target Ω together; the target flattened. [-]"""
    if hasattr(target, "m_as"):
        target = target.m_as("")
    arr = np.asarray(target, dtype=np.float64)
    if np.any(~np.isfinite(arr) | (arr <= 0)):
        raise ValueError(f"target={target!r} must be a positive, finite supersaturation")
    try:
        shape = np.broadcast_shapes(solution.shape, arr.shape)
    except ValueError:
        raise ValueError(
            f"target has shape {arr.shape}, which does not broadcast with the solution's "
            f"{solution.shape}"
        ) from None
    if shape != solution.shape:
        solution = _new_solution(
            {c: np.broadcast_to(solution.totals[c], shape) for c in COMPONENTS[:_NC]},
            None if solution.pH is None else np.broadcast_to(solution.pH, shape),
            np.broadcast_to(solution.temperature, shape),
        )
    return solution, np.broadcast_to(arr, shape).ravel().astype(np.float64)


def _resolve_mode(ph_mode: Any, solution: Solution) -> PhMode:
    if ph_mode is None:
        return "fixed" if solution.pH is not None else "closed"
    if ph_mode not in ("closed", "fixed"):
        raise ValueError(f"ph_mode={ph_mode!r} is not known; accepted: None, 'closed', 'fixed'")
    if ph_mode == "fixed" and solution.pH is None:
        raise ValueError("ph_mode='fixed' needs a Solution with a pH; this one has pH=None")
    return ph_mode  # type: ignore[no-any-return]


class _Trial:
    """Speciates trial compositions of a batch: the totals scaled or one of them changed.

    Holds the initial totals (N, C), pH, temperature and, in closed mode, the
    initial charge excess q₀, so that a trial row keeps charge as :func:`mix`
    and :func:`precipitate` do.
    """

    def __init__(
        self, solution: Solution, mode: PhMode, phase: str, kwargs: dict[str, Any]
    ) -> None:
        self.n = solution.size
        self.shape = solution.shape
        self.total = np.stack(
            [np.ravel(solution.totals[c]) for c in COMPONENTS[:_NC]], axis=1
        ).astype(np.float64)
        self.t = np.ravel(solution.temperature).astype(np.float64)
        self.mode = mode
        self.phase = phase
        self.kwargs = kwargs
        self.given_ph = None if solution.pH is None else np.ravel(solution.pH).astype(np.float64)
        sp0 = _quiet_speciate(solution, **kwargs)
        self.sp0 = sp0
        self.ok0 = np.ravel(sp0.converged)
        self.ph0 = np.ravel(sp0.pH)
        self.seed = self.ph0.copy()
        self.cs = resolve_constants(kwargs["constants"])
        charge = np.asarray(self.cs.charge)
        if solution.pH is None:
            self.q0 = np.where(self.ok0, 0.0, np.nan)
        else:
            self.q0 = np.asarray(sp0.molality).reshape(self.n, -1) @ charge
        self.si0 = np.ravel(sp0.saturation_index[phase])
        self.valid = np.all(np.isfinite(self.total), axis=1) & np.isfinite(self.t) & self.ok0

    def speciate(
        self, totals: FloatArray, rows: npt.NDArray[np.intp], q: FloatArray | None
    ) -> Speciation:
        """Speciate rows ``rows`` with these totals (k, C); ``q`` the charge excess (closed)."""
        tot = {c: totals[:, i] for i, c in enumerate(COMPONENTS[:_NC])}
        if self.mode == "fixed":
            assert self.given_ph is not None
            s = _new_solution(tot, self.given_ph[rows], self.t[rows])
            sp = _quiet_speciate(s, **self.kwargs)
        else:
            # the last pH solved for the row seeds the next solve
            seed = np.where(np.isfinite(self.seed[rows]), self.seed[rows], 7.0)
            s = _new_solution(tot, seed, self.t[rows])
            sp = _quiet_speciate(s, charge_balance="pH", charge_offset=q, **self.kwargs)
            solved = np.ravel(sp.pH)
            self.seed[rows] = np.where(np.isfinite(solved), solved, self.seed[rows])
        return sp


@dataclass(frozen=True)
class _Addition:
    """One component changed, with an optional counter-ion in equivalent amount."""

    key: str
    c_idx: int
    k_idx: int  # -1: no counter-ion
    ratio: float  # counter-ion moles per mole of the component
    z: float  # charge of the component

    @classmethod
    def make(cls, vary: Any, counter_ion: Any) -> _Addition:
        key = _component_key(vary, "vary")
        z_vary = float(analyte(key).charge)
        ratio, k_idx = 0.0, -1
        if counter_ion is not None:
            ckey = _component_key(counter_ion, "counter_ion")
            z_counter = float(analyte(ckey).charge)
            if z_counter * z_vary >= 0:
                raise ValueError(
                    f"counter_ion={counter_ion!r} must have the opposite charge of {vary!r}"
                )
            ratio = -z_vary / z_counter
            k_idx = COMPONENTS.index(ckey)
        return cls(key, COMPONENTS.index(key), k_idx, ratio, z_vary)

    def totals(
        self, trial: _Trial, rows: npt.NDArray[np.intp], total: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """Totals (k, C) and charge excess (k,) with the component at ``total`` [mol/kg]."""
        base = trial.total[rows]
        tot = base.copy()
        delta = total - base[:, self.c_idx]
        tot[:, self.c_idx] = total
        q = trial.q0[rows].copy()
        if self.k_idx >= 0:
            tot[:, self.k_idx] = base[:, self.k_idx] + self.ratio * delta
        else:
            q = q + self.z * delta  # the ion's charge stays as charge excess
        return tot, q

    def lowest(self, trial: _Trial) -> FloatArray:
        """The lowest total the counter-ion allows (it cannot become negative). [mol/kg]"""
        if self.k_idx < 0:
            return np.zeros(trial.n)
        base = trial.total
        return np.asarray(base[:, self.c_idx] - base[:, self.k_idx] / self.ratio)


def _search_total(
    trial: _Trial,
    add: _Addition,
    log_goal: FloatArray,
    rows: npt.NDArray[np.intp],
    x0: FloatArray,
    tol: float,
    max_iter: int,
    f0: FloatArray | None = None,
    bracket: tuple[FloatArray, FloatArray] | None = None,
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.int64], BoolArray, BoolArray]:
    """Find ln T of ``add.key`` with log10 Ω = log_goal, for the rows ``rows``."""

    def evaluate(x: FloatArray, sub: npt.NDArray[np.intp]) -> FloatArray:
        r = rows[sub]
        tot, q = add.totals(trial, r, np.exp(x))
        tot = np.where(np.any(tot < 0, axis=1, keepdims=True), np.nan, tot)
        sp = trial.speciate(tot, r, q)
        return np.asarray(np.ravel(sp.saturation_index[trial.phase]) - log_goal[r])

    lower = np.full(len(rows), math.log(1e-12))
    floor = add.lowest(trial)[rows]
    lower = np.where(floor > 0, np.maximum(lower, np.log(np.maximum(floor, 1e-300)) + 1e-9), lower)
    upper = np.zeros(len(rows))  # 1 mol/kg
    nu = trial.cs.solids[trial.phase].stoichiometry[add.c_idx]
    slope0 = np.full(len(rows), nu / _LN10)
    if not nu:  # not a component of the phase: the slope by a finite difference
        if f0 is None:
            f0 = evaluate(x0, np.arange(len(rows)))
        with np.errstate(invalid="ignore"):
            slope0 = (evaluate(x0 + 1e-3, np.arange(len(rows))) - f0) / 1e-3
    return _find_root(
        evaluate, x0, slope0, lower, upper, tol, max_iter, 2.0 * _LN10, f0=f0, bracket=bracket
    )


class _Search(NamedTuple):
    """What threshold(), dilution_for() and titrate() set up alike."""

    solution: Solution
    goal: FloatArray
    trial: _Trial
    valid: BoolArray
    reason: npt.NDArray[np.object_]
    phase_key: str
    model_name: str
    constants: ConstantSet


def _search_setup(
    solution: Solution, constants: Any, phase: str, activity_model: str, ph_mode: Any, target: Any
) -> _Search:
    """Resolve the common arguments and speciate the starting solutions once."""
    cs = resolve_constants(constants)
    phase_key = canonical_phase(phase, tuple(cs.solids))
    model_name = check_model(activity_model)
    mode = _resolve_mode(ph_mode, solution)
    solution, goal = _with_target(solution, target)
    trial = _Trial(solution, mode, phase_key, {"activity_model": model_name, "constants": cs})
    reason = np.full(solution.size, _OK, dtype=object)
    reason[~trial.valid] = _R_INPUT
    return _Search(solution, goal, trial, trial.valid, reason, phase_key, model_name, cs)


@dataclass(frozen=True)
class Threshold:
    """The result of :func:`threshold`; every array has the batch's shape.

    Attributes
    ----------
    component : str
        The component varied (``"Ox"``, ``"Ca"``, ...).
    total : pint.Quantity
        Its total at which Ω reaches the target; NaN where it cannot. [mol/kg]
    molality : numpy.ndarray
        The same as plain floats. [mol/kg]
    target : numpy.ndarray
        The target Ω. [-]
    supersaturation : numpy.ndarray
        Ω at ``total`` (the target, within the tolerance). [-]
    solution : Solution
        The solution at the threshold (counter-ion adjusted; the held pH, or
        in closed mode the solved one).
    converged : numpy.ndarray of bool
    reason : numpy.ndarray of str
        Why a row is NaN (empty where it converged).
    iterations : numpy.ndarray of int
        Speciations the search took.
    """

    component: str
    total: Any
    molality: Any
    target: Any
    supersaturation: Any
    solution: Solution
    converged: Any
    reason: Any
    iterations: Any

    def molarity(self, density: Any = None) -> Any:
        """The threshold as a molar concentration at the threshold's composition. [mol/L]

        c_i = m_i ρ / (1 + Σ_j m_j M_j / 1000), the inverse of the molar to
        molal conversion of PHREEQC and :mod:`oxalate.units`, over every
        component of :attr:`solution`.

        Parameters
        ----------
        density : pint.Quantity or str, optional
            Solution density; default 1.0 kg/L. [kg/L]

        Returns
        -------
        pint.Quantity
            [mol/L]
        """
        rho = solution_density(density)
        return Quantity(_squeeze(_molar(self.molality, self.solution, rho)), "mol/L")


def _molar(molality: Any, solution: Solution, rho: Any) -> FloatArray:
    solute = sum(
        (
            np.asarray(solution.totals[c]) * analyte(c).molar_mass / 1000.0
            for c in COMPONENTS[:_NC]
        ),
        start=np.zeros(solution.shape),
    )
    return np.asarray(np.asarray(molality) * rho / (1.0 + solute))


def _check_search(tolerance: Any, max_iterations: Any) -> None:
    if not (isinstance(tolerance, float | int) and 0 < tolerance < 1e-2):
        raise ValueError(f"tolerance={tolerance!r} must be a number in (0, 0.01)")
    if not (isinstance(max_iterations, int) and max_iterations > 0):
        raise ValueError(f"max_iterations={max_iterations!r} must be a positive integer")


def _stuck_reasons(
    reason: ObjectArray,
    valid: BoolArray,
    ok: BoolArray,
    stuck: BoolArray,
    f: FloatArray,
    beyond: str,
    max_iterations: int,
) -> None:
    failed = valid & ~ok
    reason[failed & stuck] = beyond
    reason[failed & ~stuck & ~np.isfinite(f)] = "the speciation of a trial composition failed"
    reason[failed & ~stuck & np.isfinite(f)] = (
        f"the search did not converge in {max_iterations} steps (Omega may level off "
        f"below the target)"
    )


def _solution_at(
    trial: _Trial, rows: npt.NDArray[np.intp], totals: FloatArray, q: FloatArray
) -> tuple[Solution, FloatArray, FloatArray]:
    """Speciate converged rows once more; the Solution over the whole batch, Ω and I."""
    n = trial.n
    tot_all = np.full((n, _NC), np.nan)
    omega = np.full(n, np.nan)
    ionic = np.full(n, np.nan)
    ph = np.full(n, np.nan)
    if rows.size:
        sp = trial.speciate(totals, rows, q)
        tot_all[rows] = totals
        omega[rows] = np.ravel(sp.supersaturation[trial.phase])
        ionic[rows] = np.ravel(sp.ionic_strength)
        ph[rows] = np.ravel(sp.pH)
    shape = trial.shape
    sol = _new_solution(
        {c: tot_all[:, i].reshape(shape) for i, c in enumerate(COMPONENTS[:_NC])},
        ph.reshape(shape),
        trial.t.reshape(shape),
    )
    return sol, omega, ionic


def _threshold_result(
    add: _Addition,
    shape: tuple[int, ...],
    total: FloatArray,
    goal: FloatArray,
    omega: FloatArray,
    final: Solution,
    ok: BoolArray,
    reason: ObjectArray,
    its: npt.NDArray[np.int64],
) -> Threshold:
    """The Threshold of flat per-row results, in the batch's shape."""
    return Threshold(
        component=add.key,
        total=Quantity(_squeeze(total.reshape(shape)), "mol/kg"),
        molality=_squeeze(total.reshape(shape)),
        target=_squeeze(goal.reshape(shape)),
        supersaturation=_squeeze(omega.reshape(shape)),
        solution=final,
        converged=_squeeze(ok.reshape(shape)),
        reason=_squeeze(reason.reshape(shape)),
        iterations=_squeeze(its.reshape(shape)),
    )


def _run_search(
    kernel: Any,
    kind: int,
    model: _Model,
    phase_key: str,
    closed: bool,
    goal: FloatArray,
    inputs: tuple[FloatArray, FloatArray, FloatArray, BoolArray],
    tolerance: float,
    max_iterations: int,
    ratio: FloatArray,
    z_q: float,
    vary: int,
    lower: FloatArray,
    upper: float,
) -> tuple[FloatArray, FloatArray, FloatArray, BoolArray, BoolArray, npt.NDArray[np.int64], Any]:
    """Speciate, then run the compiled search (``kind`` 1: threshold, 2: dilution).

    ``inputs`` are :func:`_flat_inputs`.  Returns the unknown s per row
    (ln T or ln d), the pH (solved when closed, else the one given), Ω of
    ``phase_key``, converged, the initial speciation converged, iterations
    and the ionic strength at the solution.
    """
    cs = model.constants
    total0, t, ph0, _ = inputs
    n = t.size
    a_ref, a_slope = _a_line(t)
    m, lg, ionic, aw, ok0, _, _ = _initial_speciation(model, total0, t, ph0, (a_ref, a_slope))
    solid = cs.solids[phase_key]
    log_s = np.empty(n)
    log_ah = np.empty(n)
    si = np.empty(n)
    ok = np.empty(n, dtype=bool)
    its = np.empty(n, dtype=np.int64)
    _kernel_module().run_rows(
        kernel, "search", n, kind,
        np.asarray(cs.log_k25, dtype=np.float64), np.asarray(cs.delta_h, dtype=np.float64),
        model.z, t, a_ref, a_slope, total0, -ph0, ok0, m, lg, ionic, aw, ratio, float(z_q),
        int(vary), lower, float(upper), np.delete(np.asarray(solid.stoichiometry), _H)[None, :],
        np.array([solid.stoichiometry[_H]], dtype=np.float64),
        np.array([solid.water], dtype=np.float64), solid.log_k(t).reshape(n, 1),
        np.log10(goal), np.ascontiguousarray(model.z2[:_NC]), closed, float(tolerance),
        int(max_iterations), log_s, log_ah, si, ok, its,
    )  # fmt: skip
    ph = np.where(ok, -log_ah if closed else ph0, np.nan)
    omega = np.where(ok, 10.0**si, np.nan)
    return log_s, ph, omega, ok, ok0, its, ionic


def _search_reasons(valid: BoolArray, ok0: BoolArray) -> ObjectArray:
    reason = np.full(valid.size, _OK, dtype=object)
    reason[~valid] = _R_INPUT
    reason[valid & ~ok0] = _R_SPECIATION
    return reason


def _take_numpy_rows(
    redo: npt.NDArray[np.intp],
    sub: Threshold | Dilution,
    final_tot: FloatArray,
    ph: FloatArray,
    omega: FloatArray,
    ok: BoolArray,
    reason: ObjectArray,
    its: npt.NDArray[np.int64],
    ionic: FloatArray,
) -> None:
    """Copy the numpy search's results for the rows ``redo`` over the kernel's."""
    final_tot[redo] = np.stack(
        [np.ravel(sub.solution.totals[c]) for c in COMPONENTS[:_NC]], axis=1
    )
    assert sub.solution.pH is not None
    ph[redo] = np.ravel(sub.solution.pH)
    omega[redo] = np.ravel(sub.supersaturation)
    ok[redo] = np.ravel(sub.converged)
    reason[redo] = np.ravel(sub.reason)
    its[redo] = np.ravel(sub.iterations)
    ionic[redo] = np.nan  # the numpy search warned for these rows itself


def _searched_solution(
    final_tot: FloatArray,
    ph: FloatArray,
    t: FloatArray,
    shape: tuple[int, ...],
    ok: BoolArray,
    ionic: FloatArray,
    model_name: str,
) -> Solution:
    """The Solution at the solutions found (NaN rows where none), warning on I's range."""
    final_tot[~ok] = np.nan
    warn_if_outside(model_name, ionic[ok & np.isfinite(ionic)])
    return _new_solution(
        {c: final_tot[:, i].reshape(shape) for i, c in enumerate(COMPONENTS[:_NC])},
        ph.reshape(shape),
        t.reshape(shape),
    )


def _threshold_compiled(
    kernel: Any,
    solution: Solution,
    add: _Addition,
    goal: FloatArray,
    phase_key: str,
    closed: bool,
    model: _Model,
    model_name: str,
    tolerance: float,
    max_iterations: int,
    counter_ion: str | None,
) -> Threshold:
    """:func:`threshold` by the compiled kernel; rows it does not converge by numpy."""
    shape = solution.shape
    n = solution.size
    inputs = _flat_inputs(solution)
    total0, t, ph0, valid = inputs
    ratio = np.zeros(_NC)
    ratio[add.c_idx] = 1.0
    if add.k_idx >= 0:
        ratio[add.k_idx] = add.ratio
    z_q = add.z if add.k_idx < 0 else 0.0
    lower = np.full(n, math.log(1e-12))
    if add.k_idx >= 0:  # the counter-ion's total cannot become negative
        floor = total0[:, add.c_idx] - total0[:, add.k_idx] / add.ratio
        with np.errstate(divide="ignore", invalid="ignore"):
            lower = np.where(floor > 0, np.maximum(lower, np.log(floor) + 1e-9), lower)
    log_total, ph, omega, ok, ok0, its, ionic = _run_search(
        kernel, 1, model, phase_key, closed, goal, inputs, tolerance, max_iterations, ratio,
        z_q, add.c_idx, lower, 0.0,
    )  # fmt: skip
    total = np.where(ok, np.exp(log_total), np.nan)
    final_tot = total0 + ratio * (total - total0[:, add.c_idx])[:, None]
    reason = _search_reasons(valid, ok0)
    redo = np.flatnonzero(ok0 & ~ok)  # left to the numpy search
    if redo.size:
        sub = threshold(
            _new_solution(
                {c: total0[redo, i] for i, c in enumerate(COMPONENTS[:_NC])}, ph0[redo], t[redo]
            ),
            add.key, goal[redo], phase_key, counter_ion=counter_ion,
            ph_mode="closed" if closed else "fixed", activity_model=model_name,
            constants=model.constants, tolerance=tolerance, max_iterations=max_iterations,
            engine="numpy",
        )  # fmt: skip
        total[redo] = np.ravel(sub.molality)
        _take_numpy_rows(redo, sub, final_tot, ph, omega, ok, reason, its, ionic)
    final = _searched_solution(final_tot, ph, t, shape, ok, ionic, model_name)
    return _threshold_result(add, shape, total, goal, omega, final, ok, reason, its)


def threshold(
    solution: Solution,
    vary: str = "oxalate",
    target: Any = 1.0,
    phase: str = "COM",
    *,
    counter_ion: str | None = None,
    ph_mode: PhMode | None = None,
    activity_model: str = "davies",
    constants: Any = "default",
    tolerance: float = 1e-10,
    max_iterations: int = 60,
    engine: str = "auto",
) -> Threshold:
    """The total of one component at which the supersaturation of a phase reaches a target.

    Solves Ω_phase(T_vary) = target for the total T_vary, every other total
    held:

    .. math:: \\log_{10} \\Omega_\\mathrm{phase}(T_\\mathrm{vary}) = \\log_{10} \\mathrm{target}

    Parameters
    ----------
    solution : Solution
        The batch; the current total of ``vary`` is where the search starts.
    vary : str
        The component varied: an analyte name (``"oxalate"``, ``"calcium"``,
        ``"citrate"``, ...) or a component key (``"Ox"``).
    target : float or array
        The Ω to reach: 1 for saturation, about 8-11 for the metastable
        limit quoted for urine. [-]
    phase : str
        ``"COM"`` (default), ``"COD"``, ``"brushite"``, ...
    counter_ion : str, optional
        An ion of the opposite charge that changes with ``vary`` in
        equivalent amount: ``"sodium"`` varies oxalate as Na₂C₂O₄,
        ``"chloride"`` calcium as CaCl₂.  Default: none.
    ph_mode : {None, "fixed", "closed"}
        ``"fixed"`` holds the pH (the default when the solution has one);
        ``"closed"`` solves the pH from the charge balance (the default for
        ``pH=None``), keeping the initial charge excess; without a
        counter-ion the varied ion's own charge is added to that excess, as
        if its counter-ion were a spectator.
    activity_model, constants
        As in :func:`oxalate.speciate`.
    tolerance : float
        Largest ``|log10 Ω - log10 target|`` accepted. [-]
    max_iterations : int
        Steps of the search (one speciation each) before a row is declared
        not converged.
    engine : {"auto", "numpy", "numba"}
        ``"numba"`` solves the speciation and the total together, row by
        row, in compiled code (:mod:`oxalate._reaction`; needs numba, the
        Davies model and a solution with a pH); a row it does not converge
        is searched again by the numpy solver.  ``"numpy"`` is the batched
        search below.  ``"auto"`` takes numba where it applies.

    Returns
    -------
    Threshold
        ``.total`` is the answer as a Quantity in mol/kg (NaN where the
        target cannot be reached, with ``.reason``); :meth:`Threshold.molarity`
        gives mol/L.

    Notes
    -----
    The search runs on ln T between 1e-12 and 1 mol/kg (secant steps of at
    most two decades, bisection once the root is bracketed).  A row is NaN
    when the target cannot be reached there: without calcium no amount of
    oxalate saturates COM, and with little calcium Ω(COM) levels off, because
    the added oxalate binds the calcium as CaC2O4° and Ca(C2O4)2²⁻.  Where
    Ω is not monotonic in T the root found is the one reached from the
    current total.

    Examples
    --------
    Plasma-like water with 1.35 mmol/kg calcium at 37 °C and pH 7.4:

    >>> import oxalate
    >>> from oxalate.precipitation import threshold
    >>> plasma = oxalate.Solution(calcium="1.35 mmol/kg", magnesium="0.85 mmol/kg",
    ...     sodium="140 mmol/kg", potassium="4.2 mmol/kg", chloride="104 mmol/kg",
    ...     carbonate="25 mmol/kg", phosphate="1.1 mmol/kg", pH=7.4, temperature="37 degC")
    >>> th = threshold(plasma, "oxalate")
    >>> round(float(th.total.m_as("umol/kg")), 1)
    49.2
    >>> th10 = threshold(plasma, "oxalate", target=10)  # ten times supersaturated
    >>> round(float(th10.total.m_as("umol/kg")), 0)
    504.0
    """
    solution = _check_solution(solution)
    _check_search(tolerance, max_iterations)
    add = _Addition.make(vary, counter_ion)
    cs = resolve_constants(constants)
    model_name = check_model(activity_model)
    model = _model(cs, model_name)
    kernel = _reaction_kernel(engine, model, model_name, solution.pH is not None)
    if kernel is not None:
        phase_key = canonical_phase(phase, tuple(cs.solids))
        closed = _resolve_mode(ph_mode, solution) == "closed"
        solution, goal = _with_target(solution, target)
        return _threshold_compiled(
            kernel, solution, add, goal, phase_key, closed, model, model_name, tolerance,
            max_iterations, counter_ion,
        )  # fmt: skip
    solution, goal, trial, valid, reason, phase_key, model_name, _ = _search_setup(
        solution, constants, phase, activity_model, ph_mode, target
    )
    shape = solution.shape
    n = solution.size
    log_goal = np.log10(goal)
    c0 = trial.total[:, add.c_idx]
    rows = np.flatnonzero(valid)
    x = np.full(n, np.nan)
    f = np.full(n, np.nan)
    its = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    stuck = np.zeros(n, dtype=bool)
    if rows.size:
        c_start = c0[rows]
        x0 = np.log(np.where(c_start > 0, c_start, 1e-6))
        # where the component is present, the initial speciation is the first point
        f0 = np.where(c_start > 0, trial.si0[rows] - log_goal[rows], np.nan)
        fresh = np.flatnonzero(c_start <= 0)
        if fresh.size:
            tot, q = add.totals(trial, rows[fresh], np.exp(x0[fresh]))
            sp = trial.speciate(tot, rows[fresh], q)
            f0[fresh] = np.ravel(sp.saturation_index[phase_key]) - log_goal[rows[fresh]]
        sub = _search_total(trial, add, log_goal, rows, x0, tolerance, max_iterations, f0=f0)
        x[rows], f[rows], its[rows], ok[rows], stuck[rows] = sub
    _stuck_reasons(
        reason, valid, ok, stuck, f,
        f"Omega({phase_key}) does not reach the target for any total of {add.key} "
        f"between 1e-12 and 1 mol/kg that the search tried",
        max_iterations,
    )  # fmt: skip
    total = np.where(ok, np.exp(x), np.nan)
    good = np.flatnonzero(ok)
    tot_g, q_g = add.totals(trial, good, total[good])
    final, omega, ionic = _solution_at(trial, good, tot_g, q_g)
    warn_if_outside(model_name, ionic[good])
    return _threshold_result(add, shape, total, goal, omega, final, ok, reason, its)


@dataclass(frozen=True)
class Dilution:
    """The result of :func:`dilution_for`; every array has the batch's shape.

    Attributes
    ----------
    factor : numpy.ndarray
        The dilution factor d ≥ 1 (1 where Ω is already at or below the
        target): every total divided by d, i.e. d - 1 kg of water added per
        kg of the sample's water. [-]
    supersaturation : numpy.ndarray
        Ω of the diluted solution (the target, or less where d = 1). [-]
    solution : Solution
        The diluted solution.
    converged : numpy.ndarray of bool
    reason : numpy.ndarray of str
    iterations : numpy.ndarray of int
    """

    factor: Any
    supersaturation: Any
    solution: Solution
    converged: Any
    reason: Any
    iterations: Any


def _dilution_result(
    shape: tuple[int, ...],
    factor: FloatArray,
    omega: FloatArray,
    final: Solution,
    ok: BoolArray,
    reason: ObjectArray,
    its: npt.NDArray[np.int64],
) -> Dilution:
    """The Dilution of flat per-row results, in the batch's shape."""
    return Dilution(
        factor=_squeeze(factor.reshape(shape)),
        supersaturation=_squeeze(omega.reshape(shape)),
        solution=final,
        converged=_squeeze(ok.reshape(shape)),
        reason=_squeeze(reason.reshape(shape)),
        iterations=_squeeze(its.reshape(shape)),
    )


def _dilution_compiled(
    kernel: Any,
    solution: Solution,
    goal: FloatArray,
    phase_key: str,
    closed: bool,
    model: _Model,
    model_name: str,
    tolerance: float,
    max_iterations: int,
) -> Dilution:
    """:func:`dilution_for` by the compiled kernel; rows it does not converge by numpy."""
    shape = solution.shape
    n = solution.size
    inputs = _flat_inputs(solution)
    total0, t, ph0, valid = inputs
    log_d, ph, omega, ok, ok0, its, ionic = _run_search(
        kernel, 2, model, phase_key, closed, goal, inputs, tolerance, max_iterations,
        np.zeros(_NC), 0.0, 0, np.zeros(n), math.log(1e12),
    )  # fmt: skip
    factor = np.where(ok, np.exp(log_d), np.nan)
    final_tot = total0 / factor[:, None]
    reason = _search_reasons(valid, ok0)
    redo = np.flatnonzero(ok0 & ~ok)  # left to the numpy search
    if redo.size:
        sub = dilution_for(
            _new_solution(
                {c: total0[redo, i] for i, c in enumerate(COMPONENTS[:_NC])}, ph0[redo], t[redo]
            ),
            goal[redo], phase_key, ph_mode="closed" if closed else "fixed",
            activity_model=model_name, constants=model.constants, tolerance=tolerance,
            max_iterations=max_iterations, engine="numpy",
        )  # fmt: skip
        factor[redo] = np.ravel(sub.factor)
        _take_numpy_rows(redo, sub, final_tot, ph, omega, ok, reason, its, ionic)
    final = _searched_solution(final_tot, ph, t, shape, ok, ionic, model_name)
    return _dilution_result(shape, factor, omega, final, ok, reason, its)


def dilution_for(
    solution: Solution,
    target: Any = 1.0,
    phase: str = "COM",
    *,
    ph_mode: PhMode | None = None,
    activity_model: str = "davies",
    constants: Any = "default",
    tolerance: float = 1e-10,
    max_iterations: int = 60,
    engine: str = "auto",
) -> Dilution:
    """The dilution factor that brings a phase's supersaturation down to a target.

    Solves Ω_phase(T/d) = target for d ≥ 1, every total T divided by d:
    "how much more water (urine volume) would make this sample
    undersaturated".

    Parameters
    ----------
    solution : Solution
        The batch.
    target : float or array
        The Ω to reach: 1 for saturation. [-]
    phase : str
        ``"COM"`` (default), ``"COD"``, ``"brushite"``, ...
    ph_mode : {None, "fixed", "closed"}
        ``"fixed"`` (the default when the solution has a pH) holds the pH,
        as a buffered urine roughly does; ``"closed"`` (the default for
        ``pH=None``) solves it, the charge excess diluted with the rest.
    activity_model, constants
        As in :func:`oxalate.speciate`.
    tolerance : float
        Largest ``|log10 Ω - log10 target|`` accepted. [-]
    max_iterations : int
        Steps of the search before a row is declared not converged.
    engine : {"auto", "numpy", "numba"}
        As in :func:`threshold`: ``"numba"`` solves the speciation and ln d
        together in compiled code (Davies, a solution with a pH), rows it
        does not converge going to the numpy search.

    Returns
    -------
    Dilution
        ``.factor`` is d (1 where Ω ≤ target already); NaN with a
        ``.reason`` where the input is invalid or the search fails.

    Notes
    -----
    The dilution is by mass of water; for dilute urine the factor is also
    the ratio of volumes, so a 24 h volume V becomes d·V.  The search runs on
    ln d up to d = 1e12.

    Examples
    --------
    >>> import oxalate
    >>> from oxalate.precipitation import dilution_for
    >>> urine = oxalate.Solution(calcium="4 mmol/L", magnesium="3 mmol/L",
    ...     sodium="150 mmol/L", potassium="60 mmol/L", chloride="150 mmol/L",
    ...     oxalate="0.35 mmol/L", citrate="2.5 mmol/L", phosphate="20 mmol/L",
    ...     sulfate="15 mmol/L", pH=6.0, temperature="37 degC")
    >>> d = dilution_for(urine)
    >>> round(float(d.factor), 2), round(float(d.supersaturation), 6)
    (6.7, 1.0)
    """
    solution = _check_solution(solution)
    _check_search(tolerance, max_iterations)
    cs = resolve_constants(constants)
    model_name = check_model(activity_model)
    model = _model(cs, model_name)
    kernel = _reaction_kernel(engine, model, model_name, solution.pH is not None)
    if kernel is not None:
        phase_key = canonical_phase(phase, tuple(cs.solids))
        closed = _resolve_mode(ph_mode, solution) == "closed"
        solution, goal = _with_target(solution, target)
        return _dilution_compiled(
            kernel, solution, goal, phase_key, closed, model, model_name, tolerance,
            max_iterations,
        )  # fmt: skip
    solution, goal, trial, valid, reason, phase_key, model_name, cs = _search_setup(
        solution, constants, phase, activity_model, ph_mode, target
    )
    shape = solution.shape
    n = solution.size
    log_goal = np.log10(goal)
    f0 = trial.si0 - log_goal
    below = valid & (f0 <= tolerance)
    rows = np.flatnonzero(valid & ~below)
    x = np.where(below, 0.0, np.nan)
    f = np.where(below, f0, np.nan)
    its = np.zeros(n, dtype=np.int64)
    ok = below.copy()
    stuck = np.zeros(n, dtype=bool)

    def evaluate(xs: FloatArray, sub: npt.NDArray[np.intp]) -> FloatArray:
        r = rows[sub]
        d = np.exp(xs)
        sp = trial.speciate(trial.total[r] / d[:, None], r, trial.q0[r] / d)
        return np.asarray(np.ravel(sp.saturation_index[phase_key]) - log_goal[r])

    if rows.size:
        ions = float(sum(v for v in cs.solids[phase_key].stoichiometry[:_NC] if v > 0))
        k = rows.size
        sub = _find_root(
            evaluate, np.zeros(k), np.full(k, -ions / _LN10), np.zeros(k),
            np.full(k, math.log(1e12)), tolerance, max_iterations, 2.0 * _LN10, f0=f0[rows],
        )  # fmt: skip
        x[rows], f[rows], its[rows], ok[rows], stuck[rows] = sub
    _stuck_reasons(
        reason, valid, ok, stuck, f, "no dilution up to 1e12 reaches the target", max_iterations
    )
    factor = np.where(ok, np.exp(x), np.nan)
    good = np.flatnonzero(ok)
    final, omega, ionic = _solution_at(
        trial, good, trial.total[good] / factor[good, None], trial.q0[good] / factor[good]
    )
    warn_if_outside(model_name, ionic[good])
    return _dilution_result(shape, factor, omega, final, ok, reason, its)


def mix(
    a: Solution,
    b: Solution,
    fraction: Any,
    *,
    pH: Any = None,
    activity_model: str = "davies",
    constants: Any = "default",
) -> Solution:
    """Mix two batches of solutions by mass of water.

    A fraction f of the water comes from ``b`` and 1 - f from ``a``:

    .. math:: T_\\mathrm{mix} = (1 - f)\\,T_a + f\\,T_b, \\qquad
              t_\\mathrm{mix} = (1 - f)\\,t_a + f\\,t_b

    for every total (molality) and for the temperature (equal heat
    capacities assumed).

    Parameters
    ----------
    a, b : Solution
        The two batches; their shapes and that of ``fraction`` broadcast.
    fraction : float or array
        Mass fraction of the mixture's water that comes from ``b``, 0-1. [-]
    pH : None, float, array or "neutral"
        ``None`` (default): the pH of the mixture is computed as PHREEQC's
        ``MIX`` does: protons and charge are conserved, so the mixture keeps
        (1 - f) q_a + f q_b of charge excess (q = Σ z m of each solution's
        speciation, 0 for one whose pH was solved from electroneutrality),
        and its pH solves that balance; it is returned as a fixed pH (exactly
        a's at f = 0, b's at f = 1).  When both solutions have ``pH=None`` the
        mixture has ``pH=None`` too.  ``"neutral"``: ``pH=None`` (solve from
        electroneutrality later).  A number or array: that pH.
    activity_model, constants
        For the speciation that finds the mixture's pH, as in
        :func:`oxalate.speciate`.

    Returns
    -------
    Solution

    Notes
    -----
    Mixing is linear in molality only by mass of water; mixing by volume
    needs each solution's density.  Rows whose pH cannot be found (a
    speciation that fails) get NaN.

    Examples
    --------
    >>> import oxalate
    >>> from oxalate.precipitation import mix
    >>> a = oxalate.Solution(calcium="4 mmol/kg", chloride="8 mmol/kg", pH=6.0)
    >>> b = oxalate.Solution(sodium="2 mmol/kg", oxalate="1 mmol/kg", pH=6.0)
    >>> m = mix(a, b, 0.5)
    >>> float(m.totals["Ca"]), float(m.totals["Ox"])
    (0.002, 0.0005)
    """
    a = _check_solution(a)
    b = _check_solution(b)
    if hasattr(fraction, "m_as"):
        fraction = fraction.m_as("")
    f = np.asarray(fraction, dtype=np.float64)
    if np.any(~np.isfinite(f) | (f < 0) | (f > 1)):
        raise ValueError(f"fraction={fraction!r} must lie in 0-1 (mass fraction of b's water)")
    try:
        shape = np.broadcast_shapes(a.shape, b.shape, f.shape)
    except ValueError:
        raise ValueError(
            f"a {a.shape}, b {b.shape} and fraction {f.shape} do not broadcast"
        ) from None
    fb = np.broadcast_to(f, shape)
    totals = {
        c: (1.0 - fb) * np.broadcast_to(a.totals[c], shape)
        + fb * np.broadcast_to(b.totals[c], shape)
        for c in COMPONENTS[:_NC]
    }
    t = (1.0 - fb) * np.broadcast_to(a.temperature, shape) + fb * np.broadcast_to(
        b.temperature, shape
    )
    if isinstance(pH, str):
        if pH != "neutral":
            raise ValueError(f"pH={pH!r} is not known; accepted: None, 'neutral' or a number")
        return _new_solution(totals, None, t)
    if pH is not None:
        return Solution.from_molalities(
            totals, pH=np.broadcast_to(pH, shape), temperature_kelvin=t
        )
    if a.pH is None and b.pH is None:
        return _new_solution(totals, None, t)
    kwargs: dict[str, Any] = {
        "activity_model": check_model(activity_model),
        "constants": resolve_constants(constants),
    }
    charge = np.asarray(kwargs["constants"].charge)

    def excess(s: Solution) -> tuple[FloatArray, FloatArray]:
        sp = _quiet_speciate(s, **kwargs)
        q = np.asarray(sp.molality) @ charge
        if s.pH is None:
            q = np.where(np.asarray(sp.converged), 0.0, np.nan)
        return np.broadcast_to(q, shape), np.broadcast_to(np.asarray(sp.pH), shape)

    q_a, ph_a = excess(a)
    q_b, ph_b = excess(b)
    q = (1.0 - fb) * q_a + fb * q_b
    seed = np.where(np.isfinite(ph_a) & np.isfinite(ph_b), (1.0 - fb) * ph_a + fb * ph_b, 7.0)
    sp = _quiet_speciate(
        _new_solution(totals, seed, t), charge_balance="pH", charge_offset=q, **kwargs
    )
    ph = np.where(fb == 0, ph_a, np.where(fb == 1, ph_b, np.asarray(sp.pH)))
    return _new_solution(totals, ph, t)


@dataclass(frozen=True)
class Titration:
    """The result of :func:`titrate`.

    Attributes
    ----------
    component : str
        The component added (``"Ox"``).
    added : pint.Quantity, shape ``(*batch, n_steps + 1)``
        Amount added after each step, 0 first. [mol/kg]
    supersaturation : numpy.ndarray, shape ``(*batch, n_steps + 1)``
        Ω of the phase after each step. [-]
    added_at_target : pint.Quantity, shape batch
        The amount added at which Ω first reaches the target, found exactly
        between the two steps that straddle it; 0 if Ω ≥ target at the start,
        NaN (with ``reason``) if it is not reached within the series. [mol/kg]
    first_step : numpy.ndarray of int
        Index of the first step with Ω ≥ target (-1: none).
    converged : numpy.ndarray of bool
    reason : numpy.ndarray of str
    """

    component: str
    added: Any
    supersaturation: Any
    added_at_target: Any
    first_step: Any
    converged: Any
    reason: Any


def titrate(
    solution: Solution,
    component: str = "oxalate",
    step: Any = "0.05 mmol/kg",
    n_steps: int = 40,
    *,
    counter_ion: str | None = "sodium",
    target: Any = 1.0,
    phase: str = "COM",
    ph_mode: PhMode | None = None,
    activity_model: str = "davies",
    constants: Any = "default",
    tolerance: float = 1e-10,
) -> Titration:
    """Add a component step by step and follow Ω: an in-silico oxalate titration.

    Step k adds k·``step`` of ``component`` (with its counter-ion) per kg of
    water, without a change of volume, and speciates; the amount at which Ω
    first reaches ``target`` is then found exactly between the straddling
    steps.  With the defaults this is the chemistry of the Bonn Risk Index
    test (Laube et al.), in which oxalate is added to urine until calcium
    oxalate crystallises; the test itself detects crystals optically, at a
    supersaturation above 1 that depends on the kinetics (the metastable
    limit), so compare with a ``target`` of about 8-11 rather than 1.

    Parameters
    ----------
    solution : Solution
        The batch.
    component : str
        What is added; default ``"oxalate"``.
    step : pint.Quantity or str
        The amount added per step, per kg of water. [mol/kg]
    n_steps : int
        Number of steps.
    counter_ion : str or None
        Added with the component in equivalent amount; default ``"sodium"``
        (oxalate added as Na₂C₂O₄, so sodium rises by twice the oxalate).
        ``None`` adds the bare ion (its charge carried as charge excess).
    target : float or array
        The Ω whose crossing is reported. [-]
    phase : str
        Default ``"COM"``.
    ph_mode : {None, "fixed", "closed"}
        As in :func:`threshold`: pH held when the solution has one.
    activity_model, constants
        As in :func:`oxalate.speciate`.
    tolerance : float
        Largest ``|log10 Ω - log10 target|`` at the crossing. [-]

    Returns
    -------
    Titration

    Examples
    --------
    >>> import oxalate
    >>> from oxalate.precipitation import titrate
    >>> urine = oxalate.Solution(calcium="2.5 mmol/L", magnesium="3 mmol/L",
    ...     sodium="150 mmol/L", potassium="60 mmol/L", chloride="150 mmol/L",
    ...     oxalate="0.05 mmol/L", citrate="3 mmol/L", phosphate="20 mmol/L",
    ...     sulfate="15 mmol/L", pH=6.0, temperature="37 degC")
    >>> tt = titrate(urine, step="0.005 mmol/kg", n_steps=40)
    >>> tt.supersaturation[:5].round(3)
    array([0.753, 0.827, 0.901, 0.975, 1.048])
    >>> int(tt.first_step), round(float(tt.added_at_target.m_as("umol/kg")), 2)
    (4, 16.72)
    """
    solution = _check_solution(solution)
    _check_search(tolerance, 60)
    if not (isinstance(n_steps, int) and n_steps > 0):
        raise ValueError(f"n_steps={n_steps!r} must be a positive integer")
    if isinstance(step, str):
        step = Quantity(step)
    if not hasattr(step, "m_as"):
        raise TypeError(f"step={step!r} has no units; give an amount per kg, e.g. '0.05 mmol/kg'")
    try:
        dx = float(step.m_as("mol/kg"))
    except Exception as err:  # pint's DimensionalityError
        raise ValueError(f"step={step!s} is not an amount per kg of water") from err
    if not (math.isfinite(dx) and dx > 0):
        raise ValueError(f"step={step!s} must be positive")
    add = _Addition.make(component, counter_ion)
    solution, goal, trial, valid, reason, phase_key, _, _ = _search_setup(
        solution, constants, phase, activity_model, ph_mode, target
    )
    shape = solution.shape
    n = solution.size
    log_goal = np.log10(goal)
    # the whole series as one batch of n * (n_steps + 1) rows
    added = dx * np.arange(n_steps + 1)
    rows = np.repeat(np.arange(n), n_steps + 1)
    c0 = trial.total[:, add.c_idx]
    amounts = (c0[:, None] + added[None, :]).ravel()
    tot, q = add.totals(trial, rows, amounts)
    tot = np.where(valid[rows, None], tot, np.nan)
    sp = trial.speciate(tot, rows, q)
    si = np.ravel(sp.saturation_index[phase_key]).reshape(n, n_steps + 1)
    omega = np.ravel(sp.supersaturation[phase_key]).reshape(n, n_steps + 1)
    reached = si - log_goal[:, None] >= 0
    first = np.where(reached.any(axis=1), np.argmax(reached, axis=1), -1)
    at = np.where(first == 0, 0.0, np.nan)
    ok = valid & (first == 0)
    search = np.flatnonzero(valid & (first > 0))
    if search.size:
        k = first[search]
        lo_c = c0[search] + added[k - 1]
        hi_c = c0[search] + added[k]
        f_lo = si[search, k - 1] - log_goal[search]
        f_hi = si[search, k] - log_goal[search]
        x_lo = np.log(np.where(lo_c > 0, lo_c, 1e-300))
        x_hi = np.log(hi_c)
        with np.errstate(divide="ignore", invalid="ignore"):
            x0 = np.where(lo_c > 0, x_lo - f_lo * (x_hi - x_lo) / (f_hi - f_lo), x_hi)
        x0 = np.where(np.isfinite(x0), x0, x_hi)
        x, _, _, ok_s, _ = _search_total(
            trial, add, log_goal, search, x0, tolerance, 60,
            bracket=(np.where(lo_c > 0, x_lo, np.nan), x_hi),
        )  # fmt: skip
        at[search] = np.where(ok_s, np.exp(x) - c0[search], np.nan)
        ok[search] = ok_s
        reason[search[~ok_s]] = "the search between the straddling steps did not converge"
    reason[valid & (first < 0)] = f"Omega({phase_key}) does not reach the target in the series"
    full = (*shape, n_steps + 1)
    return Titration(
        component=add.key,
        added=Quantity(np.broadcast_to(added, full).copy(), "mol/kg"),
        supersaturation=omega.reshape(full),
        added_at_target=Quantity(_squeeze(at.reshape(shape)), "mol/kg"),
        first_step=_squeeze(first.reshape(shape)),
        converged=_squeeze(ok.reshape(shape)),
        reason=_squeeze(reason.reshape(shape)),
    )
