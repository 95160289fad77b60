"""A crystal population carried by a parcel of tubular fluid (the nephron transit).

The same sectional population balance as :func:`oxalate.crystallize` (the
fixed-pivot block of :mod:`.kinetics`: nucleation, growth and aggregation on
a geometric volume grid, :mod:`.crystal`), integrated by the same per-row
RODAS4 (:mod:`.ode`), but with a liquid that changes in time as the parcel
moves through the segments.  Nothing here is a second population balance:
only the liquid differs.

State of a row, per kg of *filtered* water: the amount precipitated ξ
[mol/kg], the crystals in each size class N_i [1/kg], and the *dissolved*
amount D_c [mol/kg] of each component c the phase takes up (Ca and oxalate
for CaC₂O₄·xH₂O).  Inside a segment the prescribed lumen fraction f_c(τ) of
the filtered amount n_c⁰ is linear in time, and the epithelium handles only
what is dissolved (crystals are neither reabsorbed nor secreted):

.. math::

   \\frac{dD_c}{dt} = \\begin{cases} \\frac{f_c'}{f_c}\\,D_c & f_c' \\le 0
                      \\text{ (reabsorption of a fraction of what is dissolved)} \\\\
                      f_c'\\,n_c^0 & f_c' > 0 \\text{ (secretion)} \\end{cases}
                      \\; - \\; \\nu_c \\frac{d\\xi}{dt}

so that without crystals D_c = f_c n_c⁰, the crystal-free model exactly.
Every other solute is f_s(τ) n_s⁰.  The water left is W = w(τ) − M_w x ξ
(the hydrate water leaves with the crystals), the totals of the liquid are
amounts / W, the pH is the segment's prescribed (fixed) profile, and
u = ln Ω comes from the library's speciation at every evaluation of the
rates.  The solution volume per kg of filtered water is V = W × 1e-3 m³/kg.

The Jacobian of u in the states and in time is taken by forward
differences (one stacked speciation); the part through W is analytic (the
totals' factor), as the hydrate water's effect is of order 1e-7.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..database import WATER_MOLAR_MASS
from .crystal import SectionalGrid
from .kinetics import (
    LN10,
    SECTIONAL,
    FloatArray,
    IndexArray,
    KineticsReason,
    PhaseKinetics,
    _Block,
)
from .kinetics import _population as population
from .model import PhaseTable, SpeciesModel, speciation_log_iap
from .ode import integrate
from .records import OK, Reason, SpeciationProblem, SpeciationResult, empty_reasons

__all__ = ["TransitProblem", "TransitResult", "solve"]

_FD = 1e-7  # relative step of the forward differences


@dataclass(frozen=True)
class TransitProblem:
    """A batch of filtrates and the nephron's prescribed profiles.

    ``totals`` (N, C) of the filtrate [mol/kg]; ``temperature`` (N,) [K];
    ``knots`` (S + 1,) segment boundaries in time [s], from 0; ``water``
    (S + 1,) and ``solute`` (S + 1, C) the lumen fractions of the filtered
    water and of each component at the boundaries; ``ph`` (S + 1,);
    ``times`` the output times [s] (each segment's outlet among them);
    ``count`` crystals per kg of filtered water that make a size class count.
    """

    totals: FloatArray
    temperature: FloatArray
    knots: FloatArray
    water: FloatArray
    solute: FloatArray
    ph: FloatArray
    phases: PhaseTable
    kinetics: PhaseKinetics
    grid: SectionalGrid
    times: FloatArray
    rtol: float = 1e-6
    count: float = 1.0
    max_steps: int = 20_000
    liquid_volume: float = 1e-3  # m³ of solution per kg of water


@dataclass
class TransitResult:
    """Time series at ``times`` (first axis) for every row (second)."""

    amount: FloatArray  # (T, N) ξ per kg of filtered water [mol/kg]
    log_omega: FloatArray  # (T, N) log10 Ω of the liquid left
    dissolved: FloatArray  # (T, N, K) D_c of the components taken up [mol/kg]
    moments: FloatArray  # (T, N, 4) μ0..μ3 [m^k/kg]
    max_size: FloatArray  # (T, N) largest class with ≥ count crystals [m]
    distribution: FloatArray  # (T, N, M) crystals per kg in each class
    converged: npt.NDArray[np.bool_]  # (N,)
    reason: npt.NDArray[np.object_]  # (N,) "" or why the row failed
    steps: npt.NDArray[np.int64]  # (N,) accepted steps


@dataclass(frozen=True)
class _Segment:
    """Linear profiles inside one segment, in τ = t − start."""

    start: float
    length: float
    w0: float
    dw: float  # per second
    f0: FloatArray  # (C,)
    df: FloatArray  # (C,) per second
    ph0: float
    dph: float

    def at(self, tau: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """w (m,), f (m, C) and pH (m,) at τ (m,)."""
        return (
            self.w0 + self.dw * tau,
            self.f0[None, :] + self.df[None, :] * tau[:, None],
            self.ph0 + self.dph * tau,
        )


def _segments(problem: TransitProblem) -> list[_Segment]:
    out = []
    k = problem.knots
    for s in range(k.size - 1):
        span = float(k[s + 1] - k[s])
        out.append(
            _Segment(
                start=float(k[s]),
                length=span,
                w0=float(problem.water[s]),
                dw=float(problem.water[s + 1] - problem.water[s]) / span,
                f0=problem.solute[s].astype(np.float64),
                df=(problem.solute[s + 1] - problem.solute[s]).astype(np.float64) / span,
                ph0=float(problem.ph[s]),
                dph=float(problem.ph[s + 1] - problem.ph[s]) / span,
            )
        )
    return out


class _Parcel:
    """The liquid of a row at (τ, ξ, D) in one segment, and the rates of every state."""

    def __init__(
        self,
        model: SpeciesModel,
        problem: TransitProblem,
        speciate: Callable[[SpeciationProblem], SpeciationResult],
    ) -> None:
        self.model = model
        self.problem = problem
        self.speciate = speciate
        nu = problem.phases.nu[0]
        self.taken = np.flatnonzero(nu != 0)  # components the phase takes up
        self.nu = nu[self.taken]
        self.x = float(problem.phases.water[0])
        self.log_k = problem.phases.log_k(problem.temperature)[:, 0]
        grid = problem.grid
        self.block = _Block(0, problem.kinetics, 0, 1 + grid.n, grid)
        self.n_block = 1 + grid.n
        self.n = self.n_block + self.taken.size
        self.seg: _Segment | None = None

    def liquid(
        self, tau: FloatArray, xi: FloatArray, dissolved: FloatArray, rows: IndexArray
    ) -> tuple[FloatArray, FloatArray]:
        """u = ln Ω (m,) and the water left W (m,) [kg per kg of filtered water]."""
        seg = self.seg
        assert seg is not None
        w, f, ph = seg.at(tau)
        water = w - WATER_MOLAR_MASS * self.x * xi
        amounts = f * self.problem.totals[rows]
        amounts[:, self.taken] = dissolved
        with np.errstate(invalid="ignore", divide="ignore"):
            totals = amounts / water[:, None]
        bad = ~np.all(np.isfinite(totals) & (totals >= 0), axis=1) | ~(water > 0)
        totals = np.where(bad[:, None], np.nan, totals)
        sp = self.speciate(
            SpeciationProblem(
                totals=totals,
                temperature=self.problem.temperature[rows],
                ph=ph,
                charge_offset=np.zeros(rows.size),
                solve_ph=False,
            )
        )
        with np.errstate(invalid="ignore"):
            u = LN10 * (speciation_log_iap(self.model, self.problem.phases, sp)[:, 0]
                        - self.log_k[rows])  # fmt: skip
        return np.where(sp.converged, u, np.nan), water

    def reabsorption(self, tau: FloatArray, rows: IndexArray) -> tuple[FloatArray, ...]:
        """r_c, dr_c/dτ and s_c (m, K) of dD_c/dt = r_c D_c + s_c (before crystals)."""
        seg = self.seg
        assert seg is not None
        f = seg.f0[self.taken][None, :] + seg.df[self.taken][None, :] * tau[:, None]
        df = np.broadcast_to(seg.df[self.taken][None, :], f.shape)
        back = df <= 0
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(back, df / f, 0.0)
            dr = np.where(back, -(df**2) / f**2, 0.0)
        s = np.where(back, 0.0, df * self.problem.totals[rows][:, self.taken])
        return r, dr, s

    def _rates_at(
        self,
        tau: FloatArray,
        y: FloatArray,
        rows: IndexArray,
        u: FloatArray,
        water: FloatArray,
        jacobian: bool,
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        """f (m, n) at the liquid (u, W), with the block's ∂f/∂y and ∂f/∂u and r, dr/dτ."""
        nb = self.n_block
        volume = self.problem.liquid_volume * water
        fb, jb, fu = self.block.rates(y[:, :nb], rows, u, volume, jacobian=jacobian)
        r, dr, s = self.reabsorption(tau, rows)
        f = np.empty((y.shape[0], self.n))
        f[:, :nb] = fb
        f[:, nb:] = r * y[:, nb:] + s - self.nu[None, :] * fb[:, 0, None]
        return f, jb, fu, r, dr

    def rates(self, tau: FloatArray, y: FloatArray, rows: IndexArray) -> FloatArray:
        """f (m, n) alone, for unscaled states y (m, n): RODAS4's inner stages."""
        u, water = self.liquid(tau, y[:, 0], y[:, self.n_block :], rows)
        return self._rates_at(tau, y, rows, u, water, jacobian=False)[0]

    def rhs(
        self, tau: FloatArray, y: FloatArray, rows: IndexArray
    ) -> tuple[FloatArray, FloatArray, FloatArray]:
        """f, ∂f/∂y and ∂f/∂t for unscaled states y (m, n)."""
        m = y.shape[0]
        nb = self.n_block
        k = self.taken.size
        xi = y[:, 0]
        dis = y[:, nb:]
        # u at the point and at one forward step in each D_c and in τ, in one speciation
        seg = self.seg
        assert seg is not None
        h_d = _FD * np.maximum(np.abs(dis), 1e-30)
        h_t = _FD * max(seg.length, 1.0)
        tau_s = [tau] + [tau] * k + [tau + h_t]
        dis_s = [dis]
        for j in range(k):
            d2 = dis.copy()
            d2[:, j] += h_d[:, j]
            dis_s.append(d2)
        dis_s.append(dis)
        rr = np.tile(rows, k + 2)
        u_all, w_all = self.liquid(
            np.concatenate(tau_s), np.tile(xi, k + 2), np.concatenate(dis_s), rr
        )
        u_all = u_all.reshape(k + 2, m)
        u = u_all[0]
        water = w_all[:m]
        du_dd = ((u_all[1 : k + 1] - u[None, :]) / h_d.T).T  # (m, K)
        du_dt = (u_all[k + 1] - u) / h_t
        du_dxi = float(self.nu.sum()) * WATER_MOLAR_MASS * self.x / water
        f, jb, fu, r, dr = self._rates_at(tau, y, rows, u, water, jacobian=True)
        jac = np.zeros((m, self.n, self.n))
        ft = np.zeros((m, self.n))
        du_dy = np.zeros((m, self.n))
        du_dy[:, 0] = du_dxi
        du_dy[:, nb:] = du_dd
        jac[:, :nb, :nb] = jb
        jac[:, :nb, :] += fu[:, :, None] * du_dy[:, None, :]
        ft[:, :nb] = fu * du_dt[:, None]
        jac[:, nb:, :] = -self.nu[None, :, None] * jac[:, None, 0, :]
        idx = np.arange(k)
        jac[:, nb + idx, nb + idx] += r
        ft[:, nb:] = dr * dis - self.nu[None, :] * ft[:, 0, None]
        return f, jac, ft


def solve(
    model: SpeciesModel,
    problem: TransitProblem,
    speciate: Callable[[SpeciationProblem], SpeciationResult],
) -> TransitResult:
    """Carry the crystal population of every row through the segments (see the module)."""
    kin = problem.kinetics
    assert kin.method == SECTIONAL
    n = problem.temperature.size
    grid = problem.grid
    parcel = _Parcel(model, problem, speciate)
    nb = parcel.n_block
    times = problem.times
    n_t = times.size
    reason = empty_reasons(n)
    valid = np.all(np.isfinite(problem.totals), axis=1) & np.isfinite(problem.temperature)
    reason[~valid] = Reason.INPUT
    converged = valid.copy()

    # scales: the stoichiometric limit for ξ and D, crystals of 1 µm holding it for N
    n0 = problem.totals[:, parcel.taken]
    with np.errstate(divide="ignore"):
        limit = np.min(np.where(parcel.nu > 0, n0 / parcel.nu, np.inf), axis=1)
    amount = np.where(np.isfinite(limit) & (limit > 0), limit, 1e-3)
    count_scale = amount * kin.molar_volume / (kin.volume_factor * 1e-18)
    scale = np.ones((n, parcel.n))
    scale[:, 0] = amount
    scale[:, 1:nb] = count_scale[:, None]
    scale[:, nb:] = np.where(n0 > 0, n0, amount[:, None])

    y = np.zeros((n, parcel.n))
    y[:, nb:] = n0 * problem.solute[0, parcel.taken][None, :]
    out = np.full((n_t, n, parcel.n), np.nan)
    at_zero = times <= 0.0
    out[at_zero] = y[None]
    steps = np.zeros(n, dtype=np.int64)
    seg_of_time = np.clip(np.searchsorted(problem.knots, times, side="left") - 1, 0, None)
    rows = np.flatnonzero(converged)
    segs = _segments(problem)
    for s, seg in enumerate(segs):
        parcel.seg = seg
        mine = np.flatnonzero((seg_of_time == s) & ~at_zero)
        t_rel = times[mine] - seg.start
        if t_rel.size and abs(t_rel[-1] - seg.length) <= 1e-9 * seg.length:
            t_rel[-1] = seg.length
        else:
            t_rel = np.concatenate([t_rel, [seg.length]])
        sub = rows
        sub_scale = scale[sub]

        def rhs(
            t: FloatArray, ys: FloatArray, r: IndexArray, sc: FloatArray = sub_scale,
            rw: IndexArray = sub,
        ) -> tuple[FloatArray, FloatArray, FloatArray]:  # fmt: skip
            f, jac, ft = parcel.rhs(t, ys * sc[r], rw[r])
            return f / sc[r], jac * sc[r][:, None, :] / sc[r][:, :, None], ft / sc[r]

        def rates(
            t: FloatArray, ys: FloatArray, r: IndexArray, sc: FloatArray = sub_scale,
            rw: IndexArray = sub,
        ) -> FloatArray:  # fmt: skip
            return parcel.rates(t, ys * sc[r], rw[r]) / sc[r]

        res = integrate(
            rhs,
            y[sub] / sub_scale,
            t_rel,
            rtol=problem.rtol,
            atol=np.full(parcel.n, 1e-6 * problem.rtol),
            max_steps=problem.max_steps,
            rates=rates,
        )
        steps[sub] += res.steps
        bad = ~res.ok
        converged[sub[bad]] = False
        reason[sub[bad]] = res.reason[bad]
        out[mine[:, None], sub[None, :]] = res.y[: mine.size] * sub_scale[None]
        y[sub] = res.y[-1] * sub_scale
        rows = sub[res.ok]

    # the outputs: the liquid speciated exactly, the population as crystallize reports it
    log_omega = np.full((n_t, n), np.nan)
    moments = np.full((n_t, n, 4), np.nan)
    max_size = np.full((n_t, n), np.nan)
    distribution = np.full((n_t, n, grid.n), np.nan)
    all_rows = np.arange(n)
    grid_full = np.zeros(n, dtype=bool)
    nothing = np.full((n, 2, parcel.n), np.nan)
    for i, t in enumerate(times):
        s = int(seg_of_time[i])
        parcel.seg = segs[min(s, len(segs) - 1)]
        state = out[i]
        tau = np.full(n, t - parcel.seg.start)
        u, _ = parcel.liquid(tau, state[:, 0], state[:, nb:], all_rows)
        log_omega[i] = u / LN10
        mom, big, dist = population(parcel.block, state[:, :nb], state[:, 0], nothing,
                                    nothing[:, :, 0], float(t), 1, problem.count,
                                    np.zeros(n))  # fmt: skip
        moments[i] = mom
        max_size[i] = big
        assert dist is not None
        distribution[i] = dist
        grid_full |= converged & (dist[:, -1] >= problem.count)
    reason[grid_full] = KineticsReason.GRID
    converged &= ~grid_full
    lost = converged & ~np.isfinite(log_omega).all(axis=0)
    reason[lost] = KineticsReason.LIQUID
    converged &= ~lost
    bad = ~converged
    for array in (out, log_omega, moments, max_size, distribution):
        array[:, bad] = np.nan
    reason[converged] = OK
    return TransitResult(
        amount=out[:, :, 0],
        log_omega=log_omega,
        dissolved=out[:, :, nb:],
        moments=moments,
        max_size=max_size,
        distribution=distribution,
        converged=converged,
        reason=reason,
        steps=steps,
    )
