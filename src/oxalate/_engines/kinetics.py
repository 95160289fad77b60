"""The kinetic engine: crystallisation over time in a closed (or pH-held) batch.

The state of a row is the amount of each kinetic phase precipitated, ξ_p
[mol per kg of *initial* water], plus the crystal population of the phase
(:mod:`.crystal`).  The liquid is never a state: at every ξ it is computed as
:func:`oxalate._engines.precipitate` computes its final solution,

.. math:: T_c = (T_c^0 - \\sum_p \\nu_{pc}\\,\\xi_p) / W, \\qquad
          W = \\frac{1/M_w + m^0_{OH} - \\sum_p x_p \\xi_p}{1/M_w + m_{OH}},

(the hydrate water x_p leaves the solvent, and the water held as OH⁻ is
counted as there), with the pH solved from Σ z m = q₀/W (closed) or held
(fixed), and speciated by the library.  Mass is therefore conserved by
construction: the solid is a state and the liquid is what is left.

Two couplings of the rates to the liquid:

``curve`` (one kinetic phase)
    In a closed or pH-held batch the liquid depends on ξ alone, so
    u(ξ) = ln Ω(ξ) is computed once per row on Chebyshev-Lobatto nodes
    spanning [0, ξ_eq] (ξ_eq from ``precipitate``; [ξ_eq, 0] for a dissolving
    seed), in one batched speciation per refinement, and the integration
    reads it at the cost of a polynomial.  What is interpolated is
    g(ξ) = u(ξ) - Σ_c ν_c ln T̃_c(ξ): the factor of the totals left, known
    exactly, is taken out, and what remains (free fractions, activity
    coefficients) is smooth.  Rows start with 7 nodes and double (13, 25,
    49) until the last coefficients fall below the tolerance.  Output times
    are speciated again exactly (their charge balance starts from the curve's
    first nodes, interpolated; where nothing has precipitated the initial
    speciation is the answer).
``direct``
    The liquid is speciated at every evaluation of the rates, and du/dξ
    by one more speciation per phase: several phases, or any row whose
    curve does not converge.

The equations are integrated by :mod:`.ode` (RODAS4, per-row step sizes) on
states scaled to order one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from ..database import WATER_MOLAR_MASS
from ..thermo import water_density_kelvin
from . import crystal, ode_kernel
from .crystal import AggregationKernel, SectionalGrid
from .linalg import rowdot
from .model import PhaseTable, SpeciesModel, speciation_log_iap
from .ode import integrate
from .records import (
    OK,
    PrecipitationProblem,
    PrecipitationResult,
    Reason,
    SpeciationProblem,
    SpeciationResult,
    empty_reasons,
)

__all__ = [
    "BULK",
    "MOMENTS",
    "SECTIONAL",
    "SEEDED",
    "CrystallizationProblem",
    "CrystallizationResult",
    "KineticsReason",
    "PhaseKinetics",
    "solve",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
IndexArray: TypeAlias = npt.NDArray[np.intp]
ObjectArray: TypeAlias = npt.NDArray[np.object_]

#: The library's speciation; the second argument: a speciation of nearby states of the same
#: rows to start from, or None (:func:`oxalate._engines.speciate`).
Speciate: TypeAlias = Callable[[SpeciationProblem, SpeciationResult | None], SpeciationResult]
Precipitate: TypeAlias = Callable[[PrecipitationProblem], PrecipitationResult]
#: Runs :func:`.ode_kernel.curve_block` on all rows of its arguments (after ``lo, hi``).
IntegrateCurve: TypeAlias = Callable[[tuple[Any, ...]], None]

LN10 = math.log(10.0)

#: How a phase's population is described (``PhaseKinetics.method``).
BULK = 0  # dξ/dt = r(σ) per kg of initial water, no crystals
SEEDED = 1  # seeds that grow (or dissolve) by the same Λ: one state
MOMENTS = 2  # μ₀..μ₂, ξ and Λ: nucleation and size-independent growth
SECTIONAL = 3  # crystals in size classes: aggregation

#: Nucleation laws (``PhaseKinetics.nucleation``).
NO_NUCLEATION = 0
CNT = 1
POWER = 2

_FIRST_NODES = 7
_MAX_NODES = 49
_W_PASSES = 4


class KineticsReason:
    """Why a row of a crystallisation comes back NaN."""

    EQUILIBRIUM = "the equilibrium state (t = inf) did not converge"
    LIQUID = "the speciation of the liquid did not converge during the integration"
    GRID = "crystals reached the largest size class of the sectional grid"


@dataclass(frozen=True)
class PhaseKinetics:
    """The kinetics of one phase; every array has one value per row (N,).

    ``k``, ``order``: the forward law (``BULK``: mol kg⁻¹ s⁻¹; otherwise the
    linear growth rate, m/s); ``k_back``, ``order_back``: dissolution (0: none).
    ``nuc_a``, ``nuc_b``, ``nuc_size``: CNT's A [m⁻³ s⁻¹], B and the nucleus
    size coefficient c [m] (L₀ = c/ln Ω); for power-law nucleation k_J and b.
    Seeds: ``seed_amount`` [mol/kg], ``seed_moments`` μ₀..μ₂ (N, 3),
    ``seed_largest`` [m] and, for the sectional method, ``seed_bins`` (N, M).
    """

    method: int
    ions: float
    molar_volume: float
    volume_factor: float
    area_factor: float
    k: FloatArray
    order: FloatArray
    k_back: FloatArray
    order_back: FloatArray
    nucleation: int
    nuc_a: FloatArray
    nuc_b: FloatArray
    nuc_size: FloatArray
    seed_amount: FloatArray
    seed_moments: FloatArray
    seed_largest: FloatArray
    seed_bins: FloatArray | None = None
    aggregation: AggregationKernel | None = None

    @property
    def n_states(self) -> int:
        return {BULK: 1, SEEDED: 1, MOMENTS: 5}.get(self.method, 0)


@dataclass(frozen=True)
class CrystallizationProblem:
    """A batch to crystallise: the solutions, the kinetic phases and the output times.

    ``ph`` is None for solutions whose pH comes from electroneutrality.
    ``times`` [s] ascending, >= 0, may end with inf (the equilibrium).
    ``detection``: solid volume fraction that marks the induction time;
    ``count``: crystals per kg of initial water that make "the largest
    crystal" (and the first nucleus) count.
    """

    totals: FloatArray
    temperature: FloatArray
    ph: FloatArray | None
    closed: bool
    phases: PhaseTable
    kinetics: tuple[PhaseKinetics, ...]
    times: FloatArray
    rtol: float = 1e-6
    coupling: str = "auto"
    detection: float = 1e-5
    count: float = 1.0
    grid: SectionalGrid | None = None
    max_steps: int = 20_000

    @property
    def size(self) -> int:
        return int(self.temperature.shape[0])


@dataclass
class CrystallizationResult:
    """Raw arrays of a crystallisation; time is the first axis of every time series."""

    time: FloatArray  # (T,)
    amount: FloatArray  # (T, N, P) precipitated per kg of initial water
    water: FloatArray  # (T, N)
    pH: FloatArray  # (T, N)
    totals: FloatArray  # (T, N, C) per kg of the water left
    log_omega: FloatArray  # (T, N, P) log10 Ω
    speciation: list[SpeciationResult]  # one per output time
    moments: FloatArray  # (T, N, P, 4) μ0..μ3 per kg of initial water
    max_size: FloatArray  # (T, N, P) [m]
    distribution: FloatArray | None  # (T, N, P, M) crystals per kg in each size class
    induction_time: FloatArray  # (N, P) [s]
    converged: BoolArray
    reason: ObjectArray
    steps: npt.NDArray[np.int64]
    nodes: npt.NDArray[np.int64]  # curve nodes per row (0: direct coupling)


# --- the liquid -------------------------------------------------------------------------------


@dataclass
class _Liquid:
    """The batch's liquid as a function of the amounts precipitated ξ (m, P)."""

    model: SpeciesModel
    phases: PhaseTable
    total0: FloatArray  # (N, C)
    temperature: FloatArray
    closed: bool
    ph0: FloatArray  # (N,) the initial pH (held in fixed mode)
    q0: FloatArray  # (N,) charge excess [eq per kg of initial water]
    oh0: FloatArray  # (N,) water held as OH- per kg [mol]
    u0: FloatArray  # (N, P) ln Ω at the start
    log_k: FloatArray  # (N, P)
    speciate: Speciate
    initial: SpeciationResult
    valid: BoolArray  # (N,) initial speciation converged

    @property
    def seed_columns(self) -> IndexArray:
        """The molalities a charge balance starts from: the components' free ions (the
        compiled kernel reads its metals') and the species holding water (W's start)."""
        held = np.flatnonzero(self.model.nu_w)
        return np.asarray(np.union1d(np.arange(self.model.n_components), held), dtype=np.intp)

    def water_share(self, xi: FloatArray, rows: IndexArray) -> FloatArray:
        """Water moles left per kg of initial water (solvent plus OH⁻ water): (m,)."""
        return np.asarray(1.0 / WATER_MOLAR_MASS + self.oh0[rows] - rowdot(xi, self.phases.water))

    def exact(
        self,
        xi: FloatArray,
        rows: IndexArray,
        w_tol: float = 1e-15,
        seed: SpeciationResult | None = None,
    ) -> tuple[SpeciationResult, FloatArray, FloatArray, FloatArray]:
        """Speciation, W, totals and u = ln Ω (m, P) of the liquid at ξ, water solved.

        W depends on the water held as OH⁻ in the liquid, so it is found by
        passes: each row speciated at its W, W updated from that speciation,
        until it changes by at most ``w_tol``; a row's passes depend on that
        row alone.  With ``seed``, the speciation of a nearby state of the
        same rows, the first W is taken with the seed's OH⁻ water and the first
        charge balance starts there; each later pass starts from the one
        before.
        """
        remaining = self.total0[rows] - rowdot(xi, self.phases.nu)
        wt = self.water_share(xi, rows)
        held = self.oh0[rows]
        if seed is not None:
            with np.errstate(invalid="ignore"):
                seed_held = rowdot(seed.molality, self.model.nu_w)
            held = np.where(seed.converged & np.isfinite(seed_held), seed_held, held)
        water = wt / (1.0 / WATER_MOLAR_MASS + held)
        with np.errstate(invalid="ignore", divide="ignore"):
            totals = remaining / water[:, None]
        sp: SpeciationResult | None = None
        ph = self.ph0[rows]
        todo = np.arange(rows.size)
        for _ in range(_W_PASSES):
            w = water[todo]
            with np.errstate(invalid="ignore", divide="ignore"):
                tot = remaining[todo] / w[:, None]
            bad = ~np.all(np.isfinite(tot) & (tot >= 0), axis=1)
            tot = np.where(bad[:, None], np.nan, tot)
            totals[todo] = tot
            part = self.speciate(
                SpeciationProblem(
                    totals=tot,
                    temperature=self.temperature[rows[todo]],
                    ph=np.where(np.isfinite(ph[todo]), ph[todo], 7.0) if self.closed else ph[todo],
                    charge_offset=self.q0[rows[todo]] / w if self.closed else np.zeros(todo.size),
                    solve_ph=self.closed,
                ),
                None if seed is None else seed if todo.size == rows.size else seed.take(todo),
            )
            if sp is None:
                sp = part
            else:
                sp.put(todo, part)
            seed = sp
            new = wt[todo] / (1.0 / WATER_MOLAR_MASS + rowdot(part.molality, self.model.nu_w))
            with np.errstate(invalid="ignore"):
                again = np.abs(new / w - 1.0) > w_tol
            water[todo] = np.where(np.isfinite(new), new, w)
            if self.closed:
                ph[todo] = np.where(np.isfinite(part.pH), part.pH, ph[todo])
            todo = todo[again]
            if not todo.size:
                break
        assert sp is not None
        u = LN10 * (speciation_log_iap(self.model, self.phases, sp) - self.log_k[rows])
        u = np.where(sp.converged[:, None], u, np.nan)
        return sp, water, totals, u


def _initial_liquid(
    model: SpeciesModel, problem: CrystallizationProblem, speciate: Speciate
) -> _Liquid:
    n = problem.size
    tab = problem.phases
    given = problem.ph is not None
    sp0 = speciate(
        SpeciationProblem(
            totals=problem.totals,
            temperature=problem.temperature,
            ph=problem.ph if problem.ph is not None else np.full(n, 7.0),
            charge_offset=np.zeros(n),
            solve_ph=not given,
        ),
        None,
    )
    ok = sp0.converged
    m0 = np.nan_to_num(sp0.molality)
    q0 = np.where(ok, rowdot(m0, model.z), np.nan) if given else np.where(ok, 0.0, np.nan)
    log_k = tab.log_k(problem.temperature)
    with np.errstate(invalid="ignore"):
        u0 = LN10 * (speciation_log_iap(model, tab, sp0) - log_k)
    return _Liquid(
        model=model,
        phases=tab,
        total0=problem.totals,
        temperature=problem.temperature,
        closed=problem.closed,
        ph0=np.asarray(sp0.pH, dtype=np.float64),
        q0=q0,
        oh0=rowdot(m0, model.nu_w),
        u0=np.where(ok[:, None], u0, np.nan),
        log_k=log_k,
        speciate=speciate,
        initial=sp0,
        valid=np.asarray(ok),
    )


#: ``seed_of(ξ, rows)``: a speciation near the liquid's at ξ (m,) for the rows ``rows``.
SeedOf: TypeAlias = Callable[[FloatArray, IndexArray], SpeciationResult]


def _seed_between(liquid: _Liquid, eq: PrecipitationResult) -> SeedOf:
    """Starts for the charge balance of one phase: the initial and the equilibrium liquid
    mixed in the proportion θ = ξ/ξ_eq (:data:`_SEED_FIELDS`: the molalities the
    charge balance reads, ionic strength, a_w, pH; the rest the initial liquid's).

    Only where the Newton starts depends on it (it ends at the same root, to its
    tolerance); it is a few iterations closer than either end.  Rows without a
    converged equilibrium start from the initial liquid.
    """
    a = liquid.initial
    b = eq.speciation
    xi_eq = eq.amount[:, 0]
    both = a.converged & eq.converged & b.converged & (xi_eq != 0)
    columns = liquid.seed_columns
    # what the charge balance starts from (_SEED_FIELDS); b - a where both are
    ends = [
        (x, np.where(both.reshape(-1, *([1] * (x.ndim - 1))), y - x, 0.0))
        for x, y in zip(_seed_fields(a, columns), _seed_fields(b, columns), strict=True)
    ]

    def seed_of(xi: FloatArray, rows: IndexArray) -> SpeciationResult:
        with np.errstate(invalid="ignore", divide="ignore"):
            theta = np.clip(xi / xi_eq[rows], 0.0, 1.0)
        theta = np.where(both[rows] & np.isfinite(theta), theta, 0.0)
        mixed = []
        for x, d in ends:
            th = theta.reshape(-1, *([1] * (x.ndim - 1)))
            mixed.append(x[rows] + th * d[rows])
        return _seed_record(a, rows, mixed, columns)

    return seed_of


# --- the driving-force curve (one phase) --------------------------------------------------------


def _lobatto(k: int) -> FloatArray:
    return np.asarray(np.cos(np.pi * np.arange(k) / (k - 1)))


def _coefficients(values: FloatArray) -> FloatArray:
    """Chebyshev coefficients (m, K) of the interpolant through values at Lobatto nodes."""
    k = values.shape[1]
    j = np.arange(k)
    basis = np.cos(np.pi * np.outer(j, j) / (k - 1))  # T_j(z_i), symmetric
    weights = np.ones(k)
    weights[[0, -1]] = 0.5
    coef = rowdot(values * weights, basis) * (2.0 / (k - 1))
    coef[:, [0, -1]] *= 0.5
    return np.asarray(coef)


def _derivative(coef: FloatArray) -> FloatArray:
    """Chebyshev coefficients of the derivative in z: (m, K)."""
    m, k = coef.shape
    d = np.zeros((m, k + 1))
    for j in range(k - 1, 0, -1):
        d[:, j - 1] = d[:, j + 1] + 2.0 * j * coef[:, j]
    d[:, 0] *= 0.5
    return d[:, :k]


def _clenshaw(coef: FloatArray, z: FloatArray) -> FloatArray:
    b1 = np.zeros_like(z)
    b2 = np.zeros_like(z)
    for j in range(coef.shape[1] - 1, 0, -1):
        b1, b2 = 2.0 * z * b1 - b2 + coef[:, j], b1
    return np.asarray(z * b1 - b2 + coef[:, 0])


@dataclass
class _Curve:
    """u(ξ) = ln Ω per row of a single kinetic phase, from Chebyshev nodes (see the module)."""

    liquid: _Liquid
    lo: FloatArray  # (N,) interval in ξ
    hi: FloatArray
    coef: FloatArray  # (N, K_max) of g in z
    dcoef: FloatArray
    nodes: npt.NDArray[np.int64]  # (N,)
    ok: BoolArray
    first: _Nodes | None = None  # the first level's nodes

    def known(self, xi: FloatArray, rows: IndexArray) -> tuple[FloatArray, FloatArray]:
        """Σ_c ν_c ln T̃_c(ξ) and its derivative in ξ (the exact factor of the totals)."""
        tab = self.liquid.phases
        used = np.flatnonzero(tab.nu[0])  # the components of the phase
        nu = tab.nu[0, used]
        total0 = self.liquid.total0[rows[:, None], used]
        wt = self.liquid.water_share(xi[:, None], rows)
        w0 = 1.0 / WATER_MOLAR_MASS + self.liquid.oh0[rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            rem = total0 - xi[:, None] * nu
            lnt = np.log(rem) - np.log(wt / w0)[:, None]
            dlnt = -nu / rem + (tab.water[0] / wt)[:, None]
        value = (nu * lnt).sum(axis=1)
        slope = (nu * dlnt).sum(axis=1)
        return np.asarray(value), np.asarray(slope)

    def __call__(self, xi: FloatArray, rows: IndexArray) -> tuple[FloatArray, FloatArray]:
        """u and du/dξ at ξ (m,) for the rows ``rows``."""
        lo, hi = self.lo[rows], self.hi[rows]
        half = 0.5 * (hi - lo)
        z = (xi - 0.5 * (hi + lo)) / half
        k = int(self.nodes[rows].max(initial=1))
        g = _clenshaw(self.coef[rows, :k], z)
        dg = _clenshaw(self.dcoef[rows, :k], z) / half
        known, dknown = self.known(xi, rows)
        return g + known, dg + dknown


#: The fields of a speciation a charge balance starts from (:func:`.compiled.speciate_balanced`);
#: of the molalities, the columns of :attr:`_Liquid.seed_columns`.
_SEED_FIELDS = ("molality", "ionic_strength", "water_activity", "pH")


def _seed_record(
    template: SpeciationResult, rows: IndexArray, fields: list[FloatArray], columns: IndexArray
) -> SpeciationResult:
    """A start for the rows ``rows``: :data:`_SEED_FIELDS` given (the molalities of
    ``columns``), the rest ``template``'s."""
    part, ionic_strength, water_activity, ph = fields  # as _SEED_FIELDS
    molality = template.molality[rows]
    molality[:, columns] = part
    return replace(
        template, molality=molality, ionic_strength=ionic_strength,
        water_activity=water_activity, pH=ph, log_gamma=template.log_gamma[rows],
        totals=template.totals[rows],
        converged=template.converged[rows], residual=template.residual[rows],
        iterations=template.iterations[rows], reason=template.reason[rows],
    )  # fmt: skip


def _seed_fields(sp: SpeciationResult, columns: IndexArray) -> list[FloatArray]:
    """The arrays of ``sp`` named in :data:`_SEED_FIELDS` (the molalities of ``columns``)."""
    return [np.asarray(sp.molality[:, columns]),
            *(np.asarray(getattr(sp, name)) for name in _SEED_FIELDS[1:])]  # fmt: skip


@dataclass
class _Nodes:
    """The liquid's speciation at one level's Chebyshev-Lobatto nodes in ξ, for some rows.

    Between the nodes it is interpolated (barycentric formula of the Lobatto
    points) to start the charge balance at any ξ of the interval: the Newton
    starts at about the interpolation's error from its root and ends at the
    same root, to its tolerance.
    """

    rows: IndexArray  # (m,)
    xi: FloatArray  # (m, K), z descending: hi first, lo last
    fields: list[FloatArray]  # _SEED_FIELDS at the nodes, (m, K, ...) each
    columns: IndexArray  # the molalities in fields[0]

    def take(self, keep: BoolArray) -> _Nodes:
        """The same nodes for the rows ``rows[keep]``."""
        return _Nodes(self.rows[keep], self.xi[keep], [f[keep] for f in self.fields], self.columns)

    def interpolate(self, x: FloatArray, s: IndexArray) -> list[FloatArray]:
        """:data:`_SEED_FIELDS` at ξ = ``x`` (q,) of the table's rows ``s`` (q,).

        Parameters
        ----------
        x
            ξ, clipped to the nodes' interval.
        s
            Positions in ``rows``.

        Returns
        -------
        list of FloatArray
            Each field at those points (q, ...).
        """
        k = self.xi.shape[1]
        weight = (-1.0) ** np.arange(k)
        weight[[0, -1]] *= 0.5
        pos = self.xi[s]
        d = np.clip(x, pos[:, -1], pos[:, 0])[:, None] - pos
        on = d == 0.0
        with np.errstate(divide="ignore", invalid="ignore"):
            lam = weight / d
        lam = np.where(on.any(axis=1, keepdims=True), on.astype(float), lam)
        lam /= lam.sum(axis=1, keepdims=True)
        m = self.rows.size
        c = s.size // m if m else 0
        if c and s.size == c * m and bool((s.reshape(m, c) == np.arange(m)[:, None]).all()):
            # c points in each row of the table, in its order: no copy of the table
            lam3 = lam.reshape(m, c, k)
            return [np.einsum("mck,mk...->mc...", lam3, f).reshape(s.size, *f.shape[2:])
                    for f in self.fields]  # fmt: skip
        return [np.einsum("qk,qk...->q...", lam, f[s]) for f in self.fields]

    def seeds(self, template: SpeciationResult, other: SeedOf) -> SeedOf:
        """Starts at ξ interpolated between the nodes; ``other``'s for rows without nodes.

        Parameters
        ----------
        template
            A speciation of every row (N) that gives the fields not interpolated
            (the initial liquid's).
        other
            The starts of the rows these nodes do not hold.

        Returns
        -------
        SeedOf
            ``seed_of(ξ, rows)``.
        """
        slot = np.full(template.converged.shape[0], -1, dtype=np.intp)
        slot[self.rows] = np.arange(self.rows.size)

        def seed_of(x: FloatArray, at: IndexArray) -> SpeciationResult:
            has = slot[at] >= 0
            if has.all():
                return _seed_record(template, at, self.interpolate(x, slot[at]), self.columns)
            if not has.any():
                return other(x, at)
            seed = template.take(at)
            rest = np.flatnonzero(~has)
            seed.put(rest, other(x[rest], at[rest]))
            use = np.flatnonzero(has)
            part, *rest_fields = self.interpolate(x[use], slot[at[use]])
            seed.molality[use[:, None], self.columns] = part
            for name, value in zip(_SEED_FIELDS[1:], rest_fields, strict=True):
                getattr(seed, name)[use] = value
            return seed

        return seed_of


def _curve_nodes(
    curve: _Curve, todo: IndexArray, xs: FloatArray, cols: IndexArray, start: SeedOf,
    fields: list[FloatArray], tol: float,
) -> FloatArray:  # fmt: skip
    """g at the nodes ``cols`` of the rows ``todo``, speciated from ``start``.

    Parameters
    ----------
    curve
        The curve being built (its liquid and the exact factor of the totals).
    todo
        The rows (m,).
    xs
        ξ at every node of the level (m, K).
    cols
        The nodes to speciate (c,).
    start
        Where their charge balance starts.
    fields
        :data:`_SEED_FIELDS` at the level's nodes (m, K, ...): the nodes ``cols``
        are written.
    tol
        The curve's tolerance (the water's is a thousandth of it).

    Returns
    -------
    FloatArray
        g = u - Σ_c ν_c ln T̃_c at those nodes (m, c).
    """
    m = todo.size
    x = xs[:, cols].ravel()
    rr = np.repeat(todo, cols.size)
    sp, _, _, u = curve.liquid.exact(x[:, None], rr, 1e-3 * tol, start(x, rr))
    for f, part in zip(fields, _seed_fields(sp, curve.liquid.seed_columns), strict=True):
        f[:, cols] = part.reshape(m, cols.size, *part.shape[1:])
    known, _ = curve.known(x, rr)
    return np.asarray((u[:, 0] - known).reshape(m, cols.size))


def _build_curve(
    liquid: _Liquid, rows: IndexArray, lo: FloatArray, hi: FloatArray, u_lo: FloatArray,
    u_hi: FloatArray, tol: float, seed_of: SeedOf,
    ends: tuple[list[FloatArray], list[FloatArray]],
) -> _Curve:  # fmt: skip
    """Nodes in ξ at 7, 13, 25, 49 Chebyshev-Lobatto points until the tail is below ``tol``.

    ``ends`` holds :data:`_SEED_FIELDS` of every row's liquid at ξ = hi and at
    ξ = lo.  Every level's new nodes (the odd ones) start their charge balance
    from the level before (:class:`_Nodes`); the first level's odd nodes from
    its even ones, which start from ``seed_of(ξ, rows)`` (a coarser set: the
    curve is still read at 7 nodes first).  ``curve.first`` keeps the first level.
    """
    n = liquid.total0.shape[0]
    coef = np.zeros((n, _MAX_NODES))
    dcoef = np.zeros((n, _MAX_NODES))
    nodes = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    curve = _Curve(liquid, lo.copy(), hi.copy(), coef, dcoef, nodes, ok)
    todo = rows.copy()
    values: dict[int, FloatArray] = {}  # row -> g at the current nodes
    table: _Nodes | None = None  # the speciation at the current nodes of the rows todo
    columns = liquid.seed_columns
    k = _FIRST_NODES
    prev_k = 0
    while todo.size and k <= _MAX_NODES:
        z = _lobatto(k)
        m = todo.size
        xi_mid = 0.5 * (hi[todo] + lo[todo])
        xi_half = 0.5 * (hi[todo] - lo[todo])
        xs = xi_mid[:, None] + xi_half[:, None] * z[None, :]  # (m, k)
        g = np.full((m, k), np.nan)
        fields = [np.empty((m, k, *f.shape[1:])) for f in ends[0]]

        odd = np.arange(1, k, 2)
        if prev_k == 0:
            # z = 1 is hi, z = -1 is lo
            for f, at_hi, at_lo in zip(fields, *ends, strict=True):
                f[:, 0] = at_hi[todo]
                f[:, -1] = at_lo[todo]
            for col, xi_end, u_end in ((0, hi[todo], u_hi[todo]), (k - 1, lo[todo], u_lo[todo])):
                kn, _ = curve.known(xi_end, todo)
                g[:, col] = u_end - kn
            even = np.arange(2, k - 1, 2)
            g[:, even] = _curve_nodes(curve, todo, xs, even, seed_of, fields, tol)
            coarse = np.arange(0, k, 2)
            table = _Nodes(todo, xs[:, coarse], [f[:, coarse] for f in fields], columns)
        else:
            assert table is not None
            g[:, ::2] = np.stack([values[r] for r in todo])
            for f, prev in zip(fields, table.fields, strict=True):
                f[:, ::2] = prev
        g[:, odd] = _curve_nodes(curve, todo, xs, odd, table.seeds(liquid.initial, seed_of),
                                 fields, tol)  # fmt: skip
        table = _Nodes(todo, xs, fields, columns)
        if prev_k == 0:
            curve.first = table
        c = _coefficients(g)
        tail = np.abs(c[:, -2:]).max(axis=1)
        good = np.isfinite(c).all(axis=1) & (tail <= tol)
        done = todo[good]
        coef[done, :k] = c[good]
        dcoef[done, :k] = _derivative(c[good])
        nodes[done] = k
        ok[done] = True
        keep = ~good & np.isfinite(c).all(axis=1)
        for r, row in zip(todo[keep], g[keep], strict=True):
            values[int(r)] = row
        todo = todo[keep]
        table = table.take(keep)
        prev_k = k
        k = 2 * k - 1
    return curve


# --- state blocks -----------------------------------------------------------------------------


@dataclass
class _Block:
    """One kinetic phase's states within a row's state vector."""

    index: int  # the phase
    kin: PhaseKinetics
    start: int
    n: int
    grid: SectionalGrid | None = None
    _shares: tuple[FloatArray, FloatArray] | None = None

    def _aggregation_shares(self) -> tuple[FloatArray, FloatArray]:
        """The grid's shares for aggregation births, once: (M², M) and (M, M, M).

        ``births[j M + k, i]``: number placed in pivot i by one collision of a
        j and a k crystal, each unordered pair counted once (j = k half);
        ``sym[l, k, i]``: its derivative weights in N_l, for the Jacobian.
        """
        if self._shares is None:
            grid = self.grid
            assert grid is not None
            nb = grid.n
            weight = np.triu(np.ones((nb, nb))) - 0.5 * np.eye(nb)  # j < k once, j = k half
            weighted = grid.share * weight[:, :, None]
            sym = weighted + weighted.transpose(1, 0, 2)
            self._shares = (np.ascontiguousarray(weighted.reshape(nb * nb, nb)), sym)
        return self._shares

    def initial(self, rows: int) -> FloatArray:
        y = np.zeros((rows, self.n))
        if self.kin.method == MOMENTS:
            y[:, 1:4] = self.kin.seed_moments
        elif self.kin.method == SECTIONAL:
            assert self.kin.seed_bins is not None
            y[:, 1:] = self.kin.seed_bins
        return y

    def amount(self, y: FloatArray, rows: IndexArray) -> tuple[FloatArray, FloatArray]:
        """ξ (m,) and dξ/dy (m, n) from this block's states y (m, n)."""
        kin = self.kin
        d = np.zeros_like(y)
        if kin.method == SEEDED:
            lam = np.maximum(y[:, 0], -kin.seed_largest[rows])
            xi, dxi = crystal.seeded_amount(
                lam, kin.seed_moments[rows], kin.volume_factor, kin.molar_volume
            )
            d[:, 0] = np.where(y[:, 0] > -kin.seed_largest[rows], dxi, 0.0)
            return xi, d
        d[:, 0] = 1.0
        return y[:, 0].copy(), d

    def rates(
        self,
        y: FloatArray,
        rows: IndexArray,
        u: FloatArray,
        volume: FloatArray,
        jacobian: bool = True,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """f (m, n), ∂f/∂y at fixed u (m, n, n), ∂f/∂u (m, n).

        ``jacobian=False`` may leave the aggregation part of ∂f/∂y out (the
        sectional method's costly term), for evaluations that use f alone.
        """
        kin = self.kin
        m = y.shape[0]
        r, dr = crystal.power_rate(
            u, kin.ions, kin.k[rows], kin.order[rows], kin.k_back[rows], kin.order_back[rows]
        )
        if kin.method == BULK:
            return r[:, None], np.zeros((m, 1, 1)), dr[:, None]
        if kin.method == SEEDED:
            gone = y[:, 0] <= -kin.seed_largest[rows]  # every seed dissolved
            r = np.where(gone & (r < 0), 0.0, r)
            dr = np.where(gone & (r <= 0), 0.0, dr)
            return r[:, None], np.zeros((m, 1, 1)), dr[:, None]
        j, dj, l0, dl0 = self._nucleation(u, rows)
        if kin.method == MOMENTS:
            return crystal.moment_rates(
                y, r, dr, j, dj, l0, dl0, volume, kin.volume_factor, kin.molar_volume
            )
        return self._sectional(y, rows, r, dr, j, dj, l0, dl0, volume, jacobian)

    def _nucleation(
        self, u: FloatArray, rows: IndexArray
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        kin = self.kin
        zero = np.zeros_like(u)
        if kin.nucleation == CNT:
            return crystal.nucleation_cnt(u, kin.nuc_a[rows], kin.nuc_b[rows], kin.nuc_size[rows])
        if kin.nucleation == POWER:
            j, dj = crystal.nucleation_power(u, kin.ions, kin.nuc_a[rows], kin.nuc_b[rows])
            return j, dj, zero, zero
        return zero, zero, zero, zero

    def _sectional(
        self,
        y: FloatArray,
        rows: IndexArray,
        g: FloatArray,
        dg: FloatArray,
        j: FloatArray,
        dj: FloatArray,
        l0: FloatArray,
        dl0: FloatArray,
        volume: FloatArray,
        jacobian: bool = True,
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Fixed-pivot growth, dissolution, nucleation and aggregation (see :mod:`.crystal`)."""
        grid = self.grid
        kin = self.kin
        assert grid is not None
        m, n = y.shape
        nb = grid.n
        num = y[:, 1:]
        v = grid.volumes
        f = np.zeros((m, n))
        jac = np.zeros((m, n, n))
        fu = np.zeros((m, n))
        # growth and dissolution: moves between pivots
        up, down = grid.growth_transfer(g)
        unit_up = grid.growth_transfer(np.ones(1))[0][0]  # per unit G
        unit_down = grid.growth_transfer(-np.ones(1))[1][0]
        grow = g > 0
        move_up = up * num
        move_down = down * num
        dnum = -move_up - move_down
        dnum[:, 1:] += move_up[:, :-1]
        dnum[:, :-1] += move_down[:, 1:]
        idx = np.arange(nb)
        jn = jac[:, 1:, 1:]
        jn[:, idx, idx] = -(up + down)
        jn[:, idx[1:], idx[:-1]] += up[:, :-1]
        jn[:, idx[:-1], idx[1:]] += down[:, 1:]
        # d(dnum)/dG: for G > 0 the moves up, for G < 0 the moves down
        d_up = -unit_up * num
        d_up[:, 1:] += unit_up[:-1] * num[:, :-1]
        d_down = unit_down * num
        d_down[:, :-1] -= unit_down[1:] * num[:, 1:]
        fu[:, 1:] += np.where(grow[:, None], d_up, d_down) * dg[:, None]
        # volume of solid gained: growth (the last pivot does not grow)
        dvol = 3.0 * v / grid.sizes  # dv/dG per crystal
        vol_rate = np.where(grow, (num[:, :-1] * dvol[:-1] * g[:, None]).sum(axis=1), 0.0)
        vol_rate -= np.where(grow, 0.0, (num * dvol * (-g)[:, None]).sum(axis=1))
        d_vol_rate = np.where(grow[:, None], np.concatenate(
            [dvol[:-1] * g[:, None], np.zeros((m, 1))], axis=1), dvol * g[:, None])  # fmt: skip
        d_vol_rate_du = np.where(grow, (num[:, :-1] * dvol[:-1]).sum(axis=1),
                                 (num * dvol).sum(axis=1)) * dg  # fmt: skip
        # nucleation: J V nuclei of volume k_v L0^3, placed between pivots
        if kin.nucleation != NO_NUCLEATION:
            vn = kin.volume_factor * l0**3
            a, upper = grid.place(vn)
            jv = j * volume
            r_idx = np.arange(m)
            dnum[r_idx, a] += jv * (1.0 - upper)
            dnum[r_idx, a + 1] += jv * upper
            placed = v[a] * (1.0 - upper) + v[a + 1] * upper
            vol_rate += jv * placed
            djv = dj * volume
            fu[r_idx, 1 + a] += djv * (1.0 - upper)
            fu[r_idx, 2 + a] += djv * upper
            # the nucleus volume moves with u; its share between pivots follows it
            dvn = 3.0 * kin.volume_factor * l0**2 * dl0
            dup_share = np.where((upper > 0) & (upper < 1), dvn / (v[a + 1] - v[a]), 0.0)
            fu[r_idx, 1 + a] -= jv * dup_share
            fu[r_idx, 2 + a] += jv * dup_share
            d_vol_rate_du += djv * placed + jv * np.where(upper > 0, dvn, 0.0) * (upper < 1)
        # aggregation: number and volume kept by the shares of the grid
        if kin.aggregation is not None:
            beta = kin.aggregation.matrix(grid.sizes, rows) / volume[:, None, None]
            births, sym = self._aggregation_shares()
            pair = beta * num[:, :, None] * num[:, None, :]  # (m, M, M)
            birth = pair.reshape(m, nb * nb) @ births
            jd = np.einsum("mik,mk->mi", beta, num)
            dnum += birth - num * jd
            if jacobian:
                # d(pair_jk)/dN_l = beta_jk (δ_jl N_k + N_j δ_kl): per l one matrix product
                scaled = beta * num[:, None, :]  # (m, l, k)
                jb = np.matmul(scaled.transpose(1, 0, 2), sym)  # (l, m, i)
                jn[:, idx, idx] -= jd
                jn -= num[:, :, None] * beta
                jn += jb.transpose(1, 2, 0)
        f[:, 1:] = dnum
        f[:, 0] = vol_rate / kin.molar_volume
        jac[:, 0, 1:] = d_vol_rate / kin.molar_volume
        fu[:, 0] = d_vol_rate_du / kin.molar_volume
        return f, jac, fu


def _blocks(problem: CrystallizationProblem) -> list[_Block]:
    out = []
    start = 0
    for p, kin in enumerate(problem.kinetics):
        n = kin.n_states
        grid = None
        if kin.method == SECTIONAL:
            grid = problem.grid
            assert grid is not None
            n = 1 + grid.n
        out.append(_Block(p, kin, start, n, grid))
        start += n
    return out


def _scales(blocks: list[_Block], liquid: _Liquid, rows: IndexArray) -> FloatArray:
    """Per-row scale of every state: its natural size, so that scaled states are O(1)."""
    n_tot = sum(b.n for b in blocks)
    out = np.ones((rows.size, n_tot))
    for b in blocks:
        kin = b.kin
        nu = liquid.phases.nu[b.index]
        with np.errstate(divide="ignore"):
            limit = np.where(nu > 0, liquid.total0[rows] / np.where(nu > 0, nu, 1.0), np.inf)
        amount = np.maximum(np.min(limit, axis=1), kin.seed_amount[rows])
        amount = np.where(np.isfinite(amount) & (amount > 0), amount, 1e-3)
        seeded = kin.seed_moments[rows, 0] > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = np.where(seeded, kin.seed_moments[rows, 1] / kin.seed_moments[rows, 0], 1e-6)
        size = np.where(np.isfinite(mean) & (mean > 0), mean, 1e-6)
        count = amount * kin.molar_volume / (kin.volume_factor * size**3)
        s = out[:, b.start : b.start + b.n]
        if kin.method == SEEDED:
            s[:, 0] = size
        elif kin.method == BULK:
            s[:, 0] = amount
        elif kin.method == MOMENTS:
            s[:, 0] = amount
            s[:, 1] = count
            s[:, 2] = count * size
            s[:, 3] = count * size**2
            s[:, 4] = size
        else:
            s[:, 0] = amount
            s[:, 1:] = count[:, None]
    return out


# --- the right-hand side ----------------------------------------------------------------------


@dataclass
class _System:
    """Everything the right-hand side needs; ``u_of`` maps ξ (m, P) to u and du/dξ."""

    blocks: list[_Block]
    scale: FloatArray  # (N, n)
    volume0: FloatArray  # (N,) solution volume per kg of initial water at W = 1 [m3]
    u_of: Callable[[FloatArray, IndexArray], tuple[FloatArray, FloatArray]]
    n_phases: int
    liquid: _Liquid
    failures: BoolArray = field(default_factory=lambda: np.zeros(0, dtype=bool))

    def amounts(self, y: FloatArray, rows: IndexArray) -> tuple[FloatArray, FloatArray]:
        """ξ (m, P) and dξ_p/dy (m, P, n) from unscaled states."""
        m, n = y.shape
        xi = np.zeros((m, self.n_phases))
        dxi = np.zeros((m, self.n_phases, n))
        for b in self.blocks:
            x, d = b.amount(y[:, b.start : b.start + b.n], rows)
            xi[:, b.index] = x
            dxi[:, b.index, b.start : b.start + b.n] = d
        return xi, dxi

    def rhs(
        self, t: FloatArray, ys: FloatArray, rows: IndexArray
    ) -> tuple[FloatArray, FloatArray, None]:
        scale = self.scale[rows]
        y = ys * scale
        m, n = y.shape
        xi, dxi = self.amounts(y, rows)
        u, du = self.u_of(xi, rows)  # (m, P), (m, P, P)
        water = self.liquid.water_share(xi, rows) * WATER_MOLAR_MASS
        volume = self.volume0[rows] * water
        f = np.zeros((m, n))
        jac = np.zeros((m, n, n))
        # du_p/dy = Σ_q du_p/dξ_q dξ_q/dy
        du_dy = np.einsum("mpq,mqn->mpn", du, dxi)
        for b in self.blocks:
            s = slice(b.start, b.start + b.n)
            fb, jb, fu = b.rates(y[:, s], rows, u[:, b.index], volume)
            f[:, s] = fb
            jac[:, s, s] = jb
            jac[:, s, :] += fu[:, :, None] * du_dy[:, b.index, None, :]
        fs = f / scale
        js = jac * scale[:, None, :] / scale[:, :, None]
        return fs, js, None


def _curve_u(curve: _Curve) -> Callable[[FloatArray, IndexArray], tuple[FloatArray, FloatArray]]:
    def u_of(xi: FloatArray, rows: IndexArray) -> tuple[FloatArray, FloatArray]:
        u, du = curve(xi[:, 0], rows)
        return u[:, None], du[:, None, None]

    return u_of


def _direct_u(
    liquid: _Liquid, rtol: float, scale: FloatArray
) -> Callable[[FloatArray, IndexArray], tuple[FloatArray, FloatArray]]:
    """u(ξ) by speciation, du/dξ by one forward difference per phase."""

    def u_of(xi: FloatArray, rows: IndexArray) -> tuple[FloatArray, FloatArray]:
        m, p = xi.shape
        w_tol = 1e-3 * rtol
        _, _, _, u = liquid.exact(xi, rows, w_tol)
        du = np.zeros((m, p, p))
        for q in range(p):
            step = 1e-7 * np.maximum(np.abs(xi[:, q]), scale[rows, q])
            x2 = xi.copy()
            x2[:, q] += step
            _, _, _, u2 = liquid.exact(x2, rows, w_tol)
            du[:, :, q] = (u2 - u) / step[:, None]
        return u, du

    return u_of


# --- the solver -------------------------------------------------------------------------------


def solve(
    model: SpeciesModel,
    problem: CrystallizationProblem,
    speciate: Speciate,
    precipitate: Precipitate,
    integrate_curve: IntegrateCurve | None = None,
) -> CrystallizationResult:
    """Crystallise every row of ``problem`` (see the module notes).

    ``speciate`` and ``precipitate`` run the library's engines (chosen by
    the caller); the equilibrium gives t = inf and the curve's interval.
    ``integrate_curve`` is the compiled per-row integrator of the curve
    coupling (:mod:`.ode_kernel`) for phases with one state (``BULK``,
    ``SEEDED``); without it :func:`.ode.integrate` runs.
    """
    n = problem.size
    tab = problem.phases
    n_p = len(tab.keys)
    times = problem.times
    finite = np.isfinite(times)
    liquid = _initial_liquid(model, problem, speciate)
    reason = empty_reasons(n)
    valid_in = np.all(np.isfinite(problem.totals), axis=1) & np.isfinite(problem.temperature)
    if problem.ph is not None:
        valid_in &= np.isfinite(problem.ph)
    reason[~valid_in] = Reason.INPUT
    reason[valid_in & ~liquid.valid] = Reason.SPECIATION
    converged = liquid.valid.copy()

    # the equilibrium: t = inf, and the end of the curve
    seeds = np.stack([k.seed_amount for k in problem.kinetics], axis=1)
    dissolves = np.stack([k.k_back > 0 for k in problem.kinetics], axis=1)
    eq = precipitate(
        PrecipitationProblem(
            totals=problem.totals,
            temperature=problem.temperature,
            ph=problem.ph,
            initial=np.where(dissolves, seeds, 0.0),
            phases=tab,
            closed=problem.closed,
            # the initial liquid is the speciation at the pH given
            start=liquid.initial if problem.ph is not None else None,
        )
    )

    blocks = _blocks(problem)
    n_states = sum(b.n for b in blocks)
    all_rows = np.arange(n)
    seed_of = _seed_between(liquid, eq) if n_p == 1 else None
    out_seed = seed_of  # the output times' starts
    scale = _scales(blocks, liquid, all_rows)
    water_density = water_density_kelvin(problem.temperature) * 1e3  # kg/m3
    volume0 = 1.0 / water_density  # m3 of solution per kg of water (dilute)
    u0 = liquid.u0
    # rows where something can happen: supersaturated, or a seed that can dissolve
    can_grow = np.zeros((n, n_p), dtype=bool)
    for p, kin in enumerate(problem.kinetics):
        has_crystals = (kin.seed_amount > 0) | (kin.nucleation != NO_NUCLEATION)
        has_crystals |= kin.method == BULK
        can_grow[:, p] = ((u0[:, p] > 0) & has_crystals) | (
            (u0[:, p] < 0) & (kin.seed_amount > 0) & (kin.k_back > 0)
        )
    active = converged & can_grow.any(axis=1)

    y_out = np.zeros((times.size, n, n_states))
    y0 = np.concatenate([b.initial(n) for b in blocks], axis=1) if blocks else np.zeros((n, 0))
    y_out[:] = y0[None]
    event_time = np.full((n, 2 * n_p), np.nan)
    event_state = np.full((n, 2 * n_p, n_states), np.nan)
    steps = np.zeros(n, dtype=np.int64)
    nodes = np.zeros(n, dtype=np.int64)
    out = _Outputs(y_out, event_time, event_state, steps, converged, reason)

    use_curve = problem.coupling == "curve" or (problem.coupling == "auto" and n_p == 1)
    direct_rows = np.flatnonzero(active)
    t_int = times[finite]
    if use_curve and n_p == 1:
        rows = np.flatnonzero(active & eq.converged)
        xi_eq = eq.amount[:, 0]
        lo = np.where(xi_eq >= 0, 0.0, xi_eq)
        hi = np.where(xi_eq >= 0, xi_eq, 0.0)
        u_lo = np.where(xi_eq >= 0, u0[:, 0], 0.0)
        u_hi = np.where(xi_eq >= 0, 0.0, u0[:, 0])
        tol = max(1e-3 * problem.rtol, 1e-12)
        assert seed_of is not None
        grows = xi_eq >= 0
        both = [(a, b, grows.reshape(-1, *([1] * (a.ndim - 1))))
                for a, b in zip(_seed_fields(liquid.initial, liquid.seed_columns),
                                _seed_fields(eq.speciation, liquid.seed_columns),
                                strict=True)]  # fmt: skip
        ends = ([np.where(g, b, a) for a, b, g in both], [np.where(g, a, b) for a, b, g in both])
        curve = _build_curve(liquid, rows, lo, hi, u_lo, u_hi, tol, seed_of, ends)
        if curve.first is not None:
            # the output times start from the first level's nodes
            out_seed = curve.first.take(curve.ok[curve.first.rows]).seeds(liquid.initial, seed_of)
        nodes[:] = curve.nodes
        curve_rows = rows[curve.ok[rows]]
        direct_rows = np.setdiff1d(direct_rows, curve_rows)
        if curve_rows.size:
            system = _System(blocks, scale, volume0, _curve_u(curve), n_p, liquid)
            if integrate_curve is not None and blocks[0].kin.method in (BULK, SEEDED):
                _run_compiled(integrate_curve, system, curve, problem, curve_rows, y0, t_int, out)
            else:
                _run(system, problem, curve_rows, y0, t_int, out)
    if direct_rows.size:
        xi_scale = scale[:, [b.start for b in blocks]]
        system = _System(
            blocks, scale, volume0, _direct_u(liquid, problem.rtol, xi_scale), n_p, liquid
        )
        _run(system, problem, direct_rows, y0, t_int, out)

    return _assemble(
        model, problem, liquid, blocks, eq, y_out, event_time, event_state, steps, nodes,
        converged, reason, volume0, out_seed,
    )  # fmt: skip


@dataclass
class _Outputs:
    """Where the integration writes each row's results (rows first but ``y``)."""

    y: FloatArray  # (T, N, n) unscaled states at the output times, y0 where not integrated
    event_time: FloatArray  # (N, 2 P): detection, first crystal counted
    event_state: FloatArray  # (N, 2 P, n)
    steps: npt.NDArray[np.int64]  # (N,)
    converged: BoolArray  # (N,)
    reason: ObjectArray  # (N,)


def _store(
    out: _Outputs,
    problem: CrystallizationProblem,
    rows: IndexArray,
    y: FloatArray,
    event_time: FloatArray,
    event_state: FloatArray,
    steps: npt.NDArray[np.int64],
    bad: BoolArray,
    why: ObjectArray | list[str],
) -> None:
    """Write the integration of the rows ``rows`` into ``out``.

    Parameters
    ----------
    out
        The batch's outputs, written in place.
    problem
        The batch (its output times: the finite ones were integrated).
    rows
        The rows integrated (m,).
    y
        Unscaled states at the finite output times (T_finite, m, n).
    event_time, event_state
        Times (m, E) and unscaled states (m, E, n) of the events, E <= 2 P
        (the first E columns are written).
    steps
        Steps taken per row (m,).
    bad
        Rows whose integration failed (m,).
    why
        Their reasons, one per True of ``bad``.
    """
    where = np.flatnonzero(np.isfinite(problem.times))
    out.y[where[:, None], rows[None, :]] = y
    n_e = event_time.shape[1]
    out.event_time[rows, :n_e] = event_time
    out.event_state[rows, :n_e] = event_state
    out.steps[rows] = steps
    out.converged[rows[bad]] = False
    out.reason[rows[bad]] = why


def _run(
    system: _System,
    problem: CrystallizationProblem,
    rows: IndexArray,
    y0: FloatArray,
    t_int: FloatArray,
    out: _Outputs,
) -> None:
    """Integrate the rows ``rows`` and write their outputs in place."""
    n_p = system.n_phases
    sub_scale = system.scale[rows]

    def rhs(t: FloatArray, ys: FloatArray, r: IndexArray) -> tuple[FloatArray, FloatArray, None]:
        return system.rhs(t, ys, rows[r])

    blocks = system.blocks
    detection = problem.detection
    count = problem.count

    def events(ys: FloatArray, r: IndexArray) -> FloatArray:
        rr = rows[r]
        y = ys * system.scale[rr]
        xi, _ = system.amounts(y, rr)
        out = np.empty((ys.shape[0], 2 * n_p))
        for b in blocks:
            kin = b.kin
            limit = detection * system.volume0[rr] / kin.molar_volume
            out[:, b.index] = xi[:, b.index] / limit - 1.0
            if kin.method == MOMENTS:
                out[:, n_p + b.index] = y[:, b.start + 1] / count - 1.0
            elif kin.method == SECTIONAL:
                out[:, n_p + b.index] = y[:, b.start + 1 :].sum(axis=1) / count - 1.0
            else:
                out[:, n_p + b.index] = -1.0
        return out

    rtol = problem.rtol
    res = integrate(
        rhs,
        y0[rows] / sub_scale,
        t_int,
        rtol=rtol,
        atol=np.full(sub_scale.shape[1], 1e-6 * rtol),
        events=events,
        n_events=2 * n_p,
        max_steps=problem.max_steps,
    )
    bad = ~res.ok
    _store(out, problem, rows, res.y * sub_scale[None], res.event_time,
           res.event_state * sub_scale[:, None, :], res.steps, bad, res.reason[bad])  # fmt: skip


def _run_compiled(
    integrate_curve: IntegrateCurve,
    system: _System,
    curve: _Curve,
    problem: CrystallizationProblem,
    rows: IndexArray,
    y0: FloatArray,
    t_int: FloatArray,
    out: _Outputs,
) -> None:
    """:func:`_run` by the compiled per-row integrator: one phase with one state on its curve."""
    if t_int.size == 0:
        return
    (block,) = system.blocks
    kin = block.kin
    tab = system.liquid.phases
    m = rows.size

    def c(a: Any) -> FloatArray:
        return np.ascontiguousarray(a, dtype=np.float64)

    sub_scale = c(system.scale[rows, 0])
    k_max = int(curve.nodes[rows].max(initial=1))
    y_c = np.empty((t_int.size, m))
    ev_t = np.empty(m)
    ev_y = np.empty(m)
    n_steps = np.empty(m, dtype=np.int64)
    n_rejected = np.empty(m, dtype=np.int64)
    status = np.empty(m, dtype=np.int64)
    method = ode_kernel.K_SEEDED if kin.method == SEEDED else ode_kernel.K_BULK
    args = (
        method, c(y0[rows, 0] / sub_scale), sub_scale, c(curve.lo[rows]), c(curve.hi[rows]),
        c(curve.coef[rows, :k_max]), c(curve.dcoef[rows, :k_max]),
        np.ascontiguousarray(curve.nodes[rows], dtype=np.int64), c(system.liquid.total0[rows]),
        c(tab.nu[0]), float(tab.water[0]), c(system.liquid.oh0[rows]), 1.0 / WATER_MOLAR_MASS,
        c(np.broadcast_to(kin.seed_moments, (system.scale.shape[0], 3))[rows]),
        c(np.broadcast_to(kin.seed_largest, system.scale.shape[:1])[rows]),
        kin.volume_factor / kin.molar_volume, float(kin.ions), c(kin.k[rows]),
        c(kin.order[rows]), c(kin.k_back[rows]), c(kin.order_back[rows]),
        c(problem.detection * system.volume0[rows] / kin.molar_volume), c(t_int),
        float(problem.rtol), 1e-6 * problem.rtol, int(problem.max_steps),
        y_c, ev_t, ev_y, n_steps, n_rejected, status,
    )  # fmt: skip
    integrate_curve(args)
    assert block.index == 0 and block.n == 1  # the detection event only: column 0
    bad = status != ode_kernel.ST_OK
    _store(out, problem, rows, (y_c * sub_scale[None])[:, :, None], ev_t[:, None],
           (ev_y * sub_scale)[:, None, None], n_steps, bad,
           [ode_kernel.STATUS[int(s)] for s in status[bad]])  # fmt: skip


def _assemble(
    model: SpeciesModel,
    problem: CrystallizationProblem,
    liquid: _Liquid,
    blocks: list[_Block],
    eq: PrecipitationResult,
    y_out: FloatArray,
    event_time: FloatArray,
    event_state: FloatArray,
    steps: npt.NDArray[np.int64],
    nodes: npt.NDArray[np.int64],
    converged: BoolArray,
    reason: ObjectArray,
    volume0: FloatArray,
    seed_of: SeedOf | None,
) -> CrystallizationResult:
    """Speciate the liquid exactly at every output time; moments and sizes from the states."""
    n = problem.size
    n_p = len(problem.phases.keys)
    nc = model.n_components
    times = problem.times
    n_t = times.size
    all_rows = np.arange(n)
    amount = np.full((n_t, n, n_p), np.nan)
    water = np.full((n_t, n), np.nan)
    ph = np.full((n_t, n), np.nan)
    totals = np.full((n_t, n, nc), np.nan)
    log_omega = np.full((n_t, n, n_p), np.nan)
    moments = np.full((n_t, n, n_p, 4), np.nan)
    max_size = np.full((n_t, n, n_p), np.nan)
    grid = problem.grid
    sectional = any(b.kin.method == SECTIONAL for b in blocks)
    distribution = np.full((n_t, n, n_p, grid.n), np.nan) if (sectional and grid) else None
    speciation: list[SpeciationResult] = []
    system = _System(blocks, np.ones_like(y_out[0]), volume0, _no_u, n_p, liquid)
    lost_liquid = np.zeros(n, dtype=bool)
    grid_full = np.zeros(n, dtype=bool)
    birth = _birth_sizes(liquid, blocks, system, event_state, n_p)
    for k in range(n_t):
        if not np.isfinite(times[k]):
            ok = converged & eq.converged
            amount[k] = np.where(ok[:, None], eq.amount, np.nan)
            water[k] = np.where(ok, eq.water, np.nan)
            ph[k] = np.where(ok, eq.pH, np.nan)
            totals[k] = np.where(ok[:, None], eq.totals, np.nan)
            sp = eq.speciation
            with np.errstate(invalid="ignore"):
                lo = speciation_log_iap(model, problem.phases, sp) - liquid.log_k
            log_omega[k] = np.where(ok[:, None], lo, np.nan)
            bad = converged & ~eq.converged
            reason[bad] = KineticsReason.EQUILIBRIUM
            converged &= ~bad
            speciation.append(sp)
            continue
        y = y_out[k]
        xi, _ = system.amounts(y, all_rows)
        # rows where nothing has precipitated (t = 0, rows not integrated): the liquid is
        # the initial one, speciated already
        moved = np.flatnonzero(np.any(xi != 0.0, axis=1))
        if moved.size:
            # the charge balance starts near the answer: see _Nodes.seeds and
            # _seed_between (one phase), else the time before
            if seed_of is not None:
                seed = seed_of(xi[moved, 0], moved)
            else:
                seed = (speciation[-1] if k else liquid.initial).take(moved)
            sp_m, w_m, tot_m, u_m = liquid.exact(xi[moved], moved, seed=seed)
        if moved.size == n:
            sp, w, tot, u = sp_m, w_m, tot_m, u_m
        else:
            sp = liquid.initial.take(all_rows)
            w = np.ones(n)
            tot = np.array(liquid.total0)
            u = np.array(liquid.u0)
            if moved.size:
                sp.put(moved, sp_m)
                w[moved] = w_m
                tot[moved] = tot_m
                u[moved] = u_m
        lost_liquid |= converged & ~sp.converged
        amount[k] = xi
        water[k] = w
        ph[k] = sp.pH
        totals[k] = tot
        log_omega[k] = u / LN10
        speciation.append(sp)
        for b in blocks:
            mom, big, dist = _population(b, y[:, b.start : b.start + b.n], xi[:, b.index],
                                         event_state, event_time, times[k], n_p, problem.count,
                                         birth[b.index])  # fmt: skip
            moments[k, :, b.index] = mom
            max_size[k, :, b.index] = big
            if distribution is not None and dist is not None:
                distribution[k, :, b.index] = dist
                grid_full |= converged & (dist[:, -1] >= problem.count)
    reason[lost_liquid] = KineticsReason.LIQUID
    converged &= ~lost_liquid
    reason[grid_full & converged] = KineticsReason.GRID
    converged &= ~grid_full
    # rows that failed: NaN everywhere
    bad = ~converged
    for array in (amount, water, ph, totals, log_omega, moments, max_size):
        array[:, bad] = np.nan
    if distribution is not None:
        distribution[:, bad] = np.nan
    induction = event_time[:, :n_p].copy()
    induction[bad] = np.nan
    reason[converged] = OK
    return CrystallizationResult(
        time=times.copy(), amount=amount, water=water, pH=ph, totals=totals,
        log_omega=log_omega, speciation=speciation, moments=moments, max_size=max_size,
        distribution=distribution, induction_time=induction, converged=converged,
        reason=reason, steps=steps, nodes=nodes,
    )  # fmt: skip


def _no_u(xi: FloatArray, rows: IndexArray) -> tuple[FloatArray, FloatArray]:  # pragma: no cover
    raise AssertionError("not used")


def _population(
    b: _Block,
    y: FloatArray,
    xi: FloatArray,
    event_state: FloatArray,
    event_time: FloatArray,
    t: float,
    n_p: int,
    count: float,
    birth: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray | None]:
    """μ₀..μ₃ (N, 4), the largest crystal (N,) and the distribution (N, M) of one block.

    The largest crystal is the largest seed grown by Λ, or the first crystal
    counted (``count`` per kg) grown from its birth size since it was born.
    """
    kin = b.kin
    n = y.shape[0]
    mom = np.full((n, 4), np.nan)
    big = np.full(n, np.nan)
    mu3 = (kin.seed_amount + xi) * kin.molar_volume / kin.volume_factor
    if kin.method == SEEDED:
        lam = np.maximum(y[:, 0], -kin.seed_largest)
        s = kin.seed_moments
        gone = y[:, 0] <= -kin.seed_largest
        mom[:, 0] = np.where(gone, 0.0, s[:, 0])
        mom[:, 1] = np.where(gone, 0.0, s[:, 1] + lam * s[:, 0])
        mom[:, 2] = np.where(gone, 0.0, s[:, 2] + 2.0 * lam * s[:, 1] + lam**2 * s[:, 0])
        mom[:, 3] = mu3
        big = np.where(gone, 0.0, kin.seed_largest + lam)
        return mom, big, None
    if kin.method == MOMENTS:
        mom[:, :3] = y[:, 1:4]
        mom[:, 3] = mu3
        lam = y[:, 4]
        seeded = kin.seed_amount > 0
        big = np.where(seeded, kin.seed_largest + lam, 0.0)
        first = event_time[:, n_p + b.index]
        born = np.isfinite(first) & (first <= t)
        lam_first = event_state[:, n_p + b.index, b.start + 4]
        big = np.where(born, np.maximum(big, birth + lam - lam_first), big)
        return mom, big, None
    if kin.method == SECTIONAL:
        grid = b.grid
        assert grid is not None
        num = y[:, 1:]
        for k in range(4):
            mom[:, k] = rowdot(num, grid.sizes**k)
        occupied = num >= count
        top = grid.n - 1 - np.argmax(occupied[:, ::-1], axis=1)
        last = np.where(occupied.any(axis=1), top, -1)
        big = np.where(last >= 0, grid.sizes[np.maximum(last, 0)], 0.0)
        return mom, big, num.copy()
    return mom, big, None  # BULK: no crystals described


def _birth_sizes(
    liquid: _Liquid, blocks: list[_Block], system: _System, event_state: FloatArray, n_p: int
) -> list[FloatArray]:
    """Per phase (N,): the nucleus size L₀ = c/ln Ω when the first crystals counted appeared."""
    n = liquid.total0.shape[0]
    out = [np.zeros(n) for _ in range(n_p)]
    for b in blocks:
        if b.kin.method != MOMENTS or b.kin.nucleation != CNT:
            continue
        state = event_state[:, n_p + b.index]
        rows = np.flatnonzero(np.isfinite(state).all(axis=1))
        if rows.size == 0:
            continue
        xi, _ = system.amounts(state[rows], rows)
        _, _, _, u = liquid.exact(xi, rows)
        _, _, size, _ = crystal.nucleation_cnt(
            u[:, b.index], b.kin.nuc_a[rows], b.kin.nuc_b[rows], b.kin.nuc_size[rows]
        )
        out[b.index][rows] = np.where(np.isfinite(size), size, 0.0)
    return out
