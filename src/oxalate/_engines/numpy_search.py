"""The numpy search engine: thresholds, dilutions and titrations by batched root search.

Each search runs a safeguarded secant (:func:`.roots.find_root`) on the
logarithm of the varied quantity, batched over the rows, each step one
speciation of the rows not yet converged (:class:`Trial`).  In a closed
system a trial composition keeps the initial charge excess, as
:func:`oxalate.mix` and :func:`oxalate.precipitate` do, and its pH is solved
from the charge balance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from .linalg import rowdot
from .model import PhaseTable, SpeciesModel, speciation_log_iap
from .reaction_kernel import LN10
from .records import (
    Addition,
    Reason,
    SearchProblem,
    SearchResult,
    SpeciationProblem,
    SpeciationResult,
    empty_reasons,
)
from .roots import find_root

__all__ = ["Titration", "Trial", "dilution", "threshold", "titration"]

FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
IndexArray: TypeAlias = npt.NDArray[np.intp]
ObjectArray: TypeAlias = npt.NDArray[np.object_]
Speciate: TypeAlias = Callable[[SpeciationProblem], SpeciationResult]
Root: TypeAlias = tuple[
    FloatArray, FloatArray, npt.NDArray[np.int64], BoolArray, BoolArray, FloatArray
]


class Trial:
    """Speciates trial compositions of a batch: the totals scaled or one of them changed.

    Holds the initial totals (N, C), pH, temperature and, in a closed system,
    the initial charge excess q₀, so that a trial row keeps charge as
    :func:`oxalate.mix` and :func:`oxalate.precipitate` do.
    """

    def __init__(
        self,
        model: SpeciesModel,
        totals: FloatArray,
        temperature: FloatArray,
        ph: FloatArray | None,
        closed: bool,
        phase: PhaseTable,
        speciate: Speciate,
    ) -> None:
        self.model = model
        self.n = len(temperature)
        self.total = np.asarray(totals, dtype=np.float64)
        self.t = np.asarray(temperature, dtype=np.float64)
        self.closed = closed
        self.phase = phase
        self.given_ph = ph
        self._speciate = speciate
        n = self.n
        sp0 = speciate(
            SpeciationProblem(
                totals=self.total,
                temperature=self.t,
                ph=ph if ph is not None else np.full(n, 7.0),
                charge_offset=np.zeros(n),
                solve_ph=ph is None,
            )
        )
        self.ok0 = sp0.converged
        self.ph0 = sp0.pH
        self.seed = self.ph0.copy()
        if ph is None:
            self.q0 = np.where(self.ok0, 0.0, np.nan)
        else:
            self.q0 = rowdot(sp0.molality, model.z)
        self.si0 = self.saturation_index(sp0, np.arange(n))
        self.valid_input = np.all(np.isfinite(self.total), axis=1) & np.isfinite(self.t)
        if ph is not None:
            self.valid_input &= np.isfinite(ph)
        self.valid = self.valid_input & self.ok0

    def saturation_index(self, sp: SpeciationResult, rows: IndexArray) -> FloatArray:
        """SI of the phase in the speciation ``sp`` of the rows ``rows``."""
        lia = speciation_log_iap(self.model, self.phase, sp)[:, 0]
        return np.asarray(lia - self.phase.log_k(self.t[rows])[:, 0])

    def speciate(self, totals: FloatArray, rows: IndexArray, q: FloatArray) -> SpeciationResult:
        """Speciate rows ``rows`` with these totals (k, C); ``q`` the charge excess (closed)."""
        k = len(rows)
        if not self.closed:
            assert self.given_ph is not None
            return self._speciate(
                SpeciationProblem(
                    totals=totals,
                    temperature=self.t[rows],
                    ph=self.given_ph[rows],
                    charge_offset=np.zeros(k),
                )
            )
        # the last pH solved for the row seeds the next solve
        seed = np.where(np.isfinite(self.seed[rows]), self.seed[rows], 7.0)
        sp = self._speciate(
            SpeciationProblem(
                totals=totals,
                temperature=self.t[rows],
                ph=seed,
                charge_offset=np.asarray(q, dtype=np.float64),
                solve_ph=True,
            )
        )
        self.seed[rows] = np.where(np.isfinite(sp.pH), sp.pH, self.seed[rows])
        return sp

    def with_addition(
        self, add: Addition, rows: IndexArray, total: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """Totals (k, C) and charge excess (k,) with the varied component at ``total``."""
        base = self.total[rows]
        tot = base.copy()
        delta = total - base[:, add.component]
        tot[:, add.component] = total
        q = self.q0[rows].copy()
        if add.counter_ion >= 0:
            tot[:, add.counter_ion] = base[:, add.counter_ion] + add.ratio * delta
        else:
            q = q + add.charge * delta  # the ion's charge stays as charge excess
        return tot, q

    def lowest(self, add: Addition) -> FloatArray:
        """The lowest total the counter-ion allows (it cannot become negative). [mol/kg]"""
        if add.counter_ion < 0:
            return np.zeros(self.n)
        base = self.total
        return np.asarray(base[:, add.component] - base[:, add.counter_ion] / add.ratio)

    def at(
        self, rows: IndexArray, totals: FloatArray, q: FloatArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Speciate converged rows once more: totals (N, C), Ω, I and pH over the whole batch."""
        n = self.n
        tot_all = np.full((n, self.total.shape[1]), np.nan)
        omega = np.full(n, np.nan)
        ionic = np.full(n, np.nan)
        ph = np.full(n, np.nan)
        if rows.size:
            sp = self.speciate(totals, rows, q)
            tot_all[rows] = totals
            with np.errstate(over="ignore"):
                omega[rows] = 10.0 ** self.saturation_index(sp, rows)
            ionic[rows] = sp.ionic_strength
            ph[rows] = sp.pH
        return tot_all, omega, ionic, ph


def _trial(model: SpeciesModel, problem: SearchProblem, speciate: Speciate) -> Trial:
    return Trial(
        model, problem.totals, problem.temperature, problem.ph, problem.closed, problem.phases,
        speciate,
    )  # fmt: skip


def search_total(
    trial: Trial,
    add: Addition,
    log_goal: FloatArray,
    rows: IndexArray,
    x0: FloatArray,
    tol: float,
    max_iter: int,
    f0: FloatArray | None = None,
    bracket: tuple[FloatArray, FloatArray] | None = None,
) -> Root:
    """Find ln T of the varied component with log10 Ω = log_goal, for the rows ``rows``."""

    def evaluate(x: FloatArray, sub: IndexArray) -> FloatArray:
        r = rows[sub]
        tot, q = trial.with_addition(add, r, np.exp(x))
        tot = np.where(np.any(tot < 0, axis=1, keepdims=True), np.nan, tot)
        sp = trial.speciate(tot, r, q)
        return np.asarray(trial.saturation_index(sp, r) - log_goal[r])

    lower = np.full(len(rows), math.log(1e-12))
    floor = trial.lowest(add)[rows]
    lower = np.where(floor > 0, np.maximum(lower, np.log(np.maximum(floor, 1e-300)) + 1e-9), lower)
    upper = np.zeros(len(rows))  # 1 mol/kg
    nu = float(trial.phase.nu[0, add.component])
    slope0 = np.full(len(rows), nu / LN10)
    if not nu:  # not a component of the phase: the slope by a finite difference
        if f0 is None:
            f0 = evaluate(x0, np.arange(len(rows)))
        with np.errstate(invalid="ignore"):
            slope0 = (evaluate(x0 + 1e-3, np.arange(len(rows))) - f0) / 1e-3
    return find_root(
        evaluate, x0, slope0, lower, upper, tol, max_iter, 2.0 * LN10, f0=f0, bracket=bracket
    )


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


def _start_reasons(trial: Trial) -> ObjectArray:
    reason = empty_reasons(trial.n)
    reason[~trial.valid_input] = Reason.INPUT
    reason[trial.valid_input & ~trial.ok0] = Reason.SPECIATION
    return reason


def threshold(model: SpeciesModel, problem: SearchProblem, speciate: Speciate) -> SearchResult:
    """The total of the varied component at which Ω reaches the goal (numpy search)."""
    add = problem.addition
    assert add is not None
    trial = _trial(model, problem, speciate)
    n = trial.n
    valid = trial.valid
    reason = _start_reasons(trial)
    log_goal = np.log10(problem.goal)
    tol, max_iter = problem.tolerance, problem.max_iterations
    c0 = trial.total[:, add.component]
    rows = np.flatnonzero(valid)
    x = np.full(n, np.nan)
    f = np.full(n, np.nan)
    its = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    stuck = np.zeros(n, dtype=bool)
    slope = np.full(n, np.nan)
    if rows.size:
        c_start = c0[rows]
        x0 = np.log(np.where(c_start > 0, c_start, 1e-6))
        # where the component is present, the initial speciation is the first point
        f0 = np.where(c_start > 0, trial.si0[rows] - log_goal[rows], np.nan)
        fresh = np.flatnonzero(c_start <= 0)
        if fresh.size:
            tot, q = trial.with_addition(add, rows[fresh], np.exp(x0[fresh]))
            sp = trial.speciate(tot, rows[fresh], q)
            f0[fresh] = trial.saturation_index(sp, rows[fresh]) - log_goal[rows[fresh]]
        sub = search_total(trial, add, log_goal, rows, x0, tol, max_iter, f0=f0)
        x[rows], f[rows], its[rows], ok[rows], stuck[rows], slope[rows] = sub
    key = model.system.solutes[add.component]
    _stuck_reasons(
        reason, valid, ok, stuck, f,
        f"Omega({problem.phases.keys[0]}) does not reach the target for any total of {key} "
        f"between 1e-12 and 1 mol/kg that the search tried",
        max_iter,
    )  # fmt: skip
    total = np.where(ok, np.exp(x), np.nan)
    good = np.flatnonzero(ok)
    tot_g, q_g = trial.with_addition(add, good, total[good])
    totals, omega, ionic, ph = trial.at(good, tot_g, q_g)
    return SearchResult(total, totals, ph, omega, ionic, ok, reason, its, slope)


def lowest_roots(
    model: SpeciesModel, problem: SearchProblem, result: SearchResult, speciate: Speciate
) -> None:
    """Move each threshold to the lowest total at which Ω reaches the target, in place.

    Where Ω is not monotonic in the varied total (oxalate binding calcium as
    Ca(C2O4)2²⁻ makes Ω(COM) rise, then fall), the target can be reached
    twice.  A root found where Ω falls through the target (or whose slope is
    unknown) is checked: if log Ω - log target has another sign at the lower
    bound of the search than just below the root, a lower root lies between
    them, and a bracketed search finds it; repeated until no lower crossing
    is left.  With at most one extremum of Ω in the range, the result is the
    lowest root, whichever engine found the first one.
    """
    add = problem.addition
    assert add is not None
    check = np.flatnonzero(result.converged & ~(result.slope > 0))
    if check.size == 0:
        return
    sub = problem.take(check)
    trial = _trial(model, sub, speciate)
    log_goal = np.log10(sub.goal)
    k = check.size
    lower = np.full(k, math.log(1e-12))
    floor = trial.lowest(add)
    lower = np.where(floor > 0, np.maximum(lower, np.log(np.maximum(floor, 1e-300)) + 1e-9), lower)
    x_root = np.log(result.value[check])
    moved = np.zeros(k, dtype=bool)
    extra = np.zeros(k, dtype=np.int64)

    def evaluate(x: FloatArray, idx: IndexArray) -> FloatArray:
        tot, q = trial.with_addition(add, idx, np.exp(x))
        sp = trial.speciate(tot, idx, q)
        return np.asarray(trial.saturation_index(sp, idx) - log_goal[idx])

    live = np.arange(k)
    for _ in range(4):  # each pass leaves a root with fewer crossings below it
        x_left = x_root[live] - 1e-6 * np.maximum(1.0, np.abs(x_root[live]))
        ahead = x_left > lower[live]
        live, x_left = live[ahead], x_left[ahead]
        if live.size == 0:
            break
        f_low = evaluate(lower[live], live)
        f_left = evaluate(x_left, live)
        cross = np.isfinite(f_low) & np.isfinite(f_left) & (np.sign(f_low) * np.sign(f_left) < 0)
        live, x_left, f_low, f_left = live[cross], x_left[cross], f_low[cross], f_left[cross]
        if live.size == 0:
            break
        x_neg = np.where(f_low < 0, lower[live], x_left)
        x_pos = np.where(f_low < 0, x_left, lower[live])

        def on_live(x: FloatArray, idx: IndexArray, rows: IndexArray = live) -> FloatArray:
            return evaluate(x, rows[idx])

        chord = (f_left - f_low) / (x_left - lower[live])
        x0 = lower[live] - f_low / chord  # regula falsi inside the bracket
        x, _, its, ok, _, _ = find_root(
            on_live, x0, chord, lower[live], x_left, problem.tolerance, problem.max_iterations,
            2.0 * LN10, bracket=(x_neg, x_pos),
        )  # fmt: skip
        x_root[live[ok]] = x[ok]
        moved[live[ok]] = True
        extra[live] += its
        live = live[ok]
    if not moved.any():
        return
    rows = np.flatnonzero(moved)
    total = np.exp(x_root[rows])
    tot, q = trial.with_addition(add, rows, total)
    totals, omega, ionic, ph = trial.at(rows, tot, q)
    target = check[rows]
    result.value[target] = total
    result.totals[target] = totals[rows]
    result.omega[target] = omega[rows]
    result.ionic_strength[target] = ionic[rows]
    result.pH[target] = ph[rows]
    result.iterations[target] += extra[rows]
    result.slope[target] = np.nan


def dilution(model: SpeciesModel, problem: SearchProblem, speciate: Speciate) -> SearchResult:
    """The dilution factor d ≥ 1 at which Ω comes down to the goal (numpy search)."""
    trial = _trial(model, problem, speciate)
    n = trial.n
    valid = trial.valid
    reason = _start_reasons(trial)
    log_goal = np.log10(problem.goal)
    tol, max_iter = problem.tolerance, problem.max_iterations
    f0 = trial.si0 - log_goal
    below = valid & (f0 <= tol)
    rows = np.flatnonzero(valid & ~below)
    x = np.where(below, 0.0, np.nan)
    f = np.where(below, f0, np.nan)
    its = np.zeros(n, dtype=np.int64)
    ok = below.copy()
    stuck = np.zeros(n, dtype=bool)
    slope = np.full(n, np.nan)

    def evaluate(xs: FloatArray, sub: IndexArray) -> FloatArray:
        r = rows[sub]
        d = np.exp(xs)
        sp = trial.speciate(trial.total[r] / d[:, None], r, trial.q0[r] / d)
        return np.asarray(trial.saturation_index(sp, r) - log_goal[r])

    if rows.size:
        nu = problem.phases.nu[0]
        ions = float(nu[nu > 0].sum())
        k = rows.size
        sub = find_root(
            evaluate, np.zeros(k), np.full(k, -ions / LN10), np.zeros(k),
            np.full(k, math.log(1e12)), tol, max_iter, 2.0 * LN10, f0=f0[rows],
        )  # fmt: skip
        x[rows], f[rows], its[rows], ok[rows], stuck[rows], slope[rows] = sub
        # Omega can first rise on dilution (the activity coefficients rise, complexes
        # dissociate) and the secant then runs into d = 1; Omega falls to nothing at the
        # far end, so a row stuck there is bracketed between d = 1 and d = 1e12
        again = np.flatnonzero(stuck[rows])
        if again.size:
            top = np.full(again.size, math.log(1e12))
            f_top = evaluate(top, again)
            can = np.flatnonzero(f_top < 0)
            if can.size:
                redo = again[can]

                def on_redo(xs: FloatArray, sub_idx: IndexArray) -> FloatArray:
                    return evaluate(xs, redo[sub_idx])

                f_one = f0[rows[redo]]
                chord = (f_top[can] - f_one) / top[can]
                x0 = -f_one / chord
                out = find_root(
                    on_redo, x0, chord, np.zeros(redo.size), top[can], tol, max_iter,
                    2.0 * LN10, bracket=(top[can], np.zeros(redo.size)),
                )  # fmt: skip
                r = rows[redo]
                x[r], f[r], extra, ok[r], stuck[r], slope[r] = out
                its[r] += extra
    _stuck_reasons(
        reason, valid, ok, stuck, f, "no dilution up to 1e12 reaches the target", max_iter
    )
    factor = np.where(ok, np.exp(x), np.nan)
    good = np.flatnonzero(ok)
    totals, omega, ionic, ph = trial.at(
        good, trial.total[good] / factor[good, None], trial.q0[good] / factor[good]
    )
    return SearchResult(factor, totals, ph, omega, ionic, ok, reason, its, slope)


@dataclass(frozen=True)
class Titration:
    """Raw arrays of a titration: Ω after each step (N, steps + 1) and the crossing."""

    omega: FloatArray
    first_step: npt.NDArray[np.int64]
    added_at_target: FloatArray
    converged: BoolArray
    reason: ObjectArray


def titration(
    model: SpeciesModel,
    problem: SearchProblem,
    step: float,
    n_steps: int,
    speciate: Speciate,
) -> Titration:
    """Add ``problem.addition`` in ``n_steps`` steps of ``step`` [mol/kg] and follow Ω.

    The whole series runs as one batch of N (n_steps + 1) rows; the amount at
    which Ω first reaches the goal is then found exactly between the two steps
    that straddle it.
    """
    add = problem.addition
    assert add is not None
    trial = _trial(model, problem, speciate)
    n = trial.n
    valid = trial.valid
    reason = _start_reasons(trial)
    log_goal = np.log10(problem.goal)
    key = problem.phases.keys[0]
    added = step * np.arange(n_steps + 1)
    rows = np.repeat(np.arange(n), n_steps + 1)
    c0 = trial.total[:, add.component]
    amounts = (c0[:, None] + added[None, :]).ravel()
    tot, q = trial.with_addition(add, rows, amounts)
    tot = np.where(valid[rows, None], tot, np.nan)
    sp = trial.speciate(tot, rows, q)
    si = trial.saturation_index(sp, rows).reshape(n, n_steps + 1)
    with np.errstate(over="ignore"):
        omega = 10.0**si
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
        x, _, _, ok_s, _, _ = search_total(
            trial, add, log_goal, search, x0, problem.tolerance, problem.max_iterations,
            bracket=(np.where(lo_c > 0, x_lo, np.nan), x_hi),
        )  # fmt: skip
        at[search] = np.where(ok_s, np.exp(x) - c0[search], np.nan)
        ok[search] = ok_s
        reason[search[~ok_s]] = "the search between the straddling steps did not converge"
    reason[valid & (first < 0)] = f"Omega({key}) does not reach the target in the series"
    return Titration(omega, first, at, ok, reason)
