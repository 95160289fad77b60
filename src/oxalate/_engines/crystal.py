"""Rate laws and population balances of crystallisation, on plain arrays (no chemistry).

Every function takes u = ln Ω per row and returns the rate with its
derivative with respect to u, so that the kinetic engine (:mod:`.kinetics`)
can build an exact Jacobian.  Supersaturations are named as in
``docs/theory.rst``: Ω = IAP/Ksp, S = Ω^{1/ν}, σ = S - 1, with ν the number
of ions in the formula unit (2 for CaC₂O₄).

Rate laws (SI units; the public module :mod:`oxalate.kinetics` converts):

- power law in σ, for growth [m/s] and bulk rates [mol kg⁻¹ s⁻¹]:
  r = k σ^g for σ > 0, and - k_d (-σ)^{g_d} for σ < 0 where dissolution is
  allowed (k_d > 0), else 0;
- classical nucleation, J = A exp(-B / ln²Ω) for Ω > 1 [m⁻³ s⁻¹], with
  ln Ω (not ln S and no second ν²: B already holds the ν of the formula
  unit through the molecular volume), and the nucleus size L₀ = c / ln Ω
  (c = 4 γ v / k_B T, the critical diameter) [m];
- power-law nucleation, J = k_J σ^b [m⁻³ s⁻¹].

Population balances per kilogram of *initial* water (so that water leaving
with hydrates or reabsorbed in a nephron never changes a count):

:func:`moment_rates`
    μ₀-μ₂ [m^k kg⁻¹], the amount precipitated ξ [mol kg⁻¹] and the growth
    integral Λ = ∫ G dt [m] for size-independent growth plus nucleation
    (exact; μ₃ = (n₀ + ξ) v_m / k_v is not a state, so the solid amount is
    one state and the mass balance is exact by construction).
:func:`seeded_amount`
    Growth (or dissolution) of seeds alone: every crystal changes size by Λ,
    so ξ is a cubic in Λ and Λ is the only state.
:class:`SectionalGrid`
    Number of crystals in size classes on a geometric volume grid (fixed
    pivots, Kumar and Ramkrishna 1996): growth, dissolution and nucleation
    move crystals between pivots keeping number and volume, aggregation
    places each new particle between the two pivots around its volume so
    that number and volume are conserved exactly.

References
----------
.. [1] Kumar, S. and Ramkrishna, D. (1996), On the solution of population
   balance equations by discretization - I. A fixed pivot technique, Chem.
   Eng. Sci. 51, 1311-1332, doi:10.1016/0009-2509(96)88489-2 (kumar1996).
.. [2] Randolph, A. D. and Larson, M. A. (1988), Theory of Particulate
   Processes, 2nd ed., Academic Press (randolph1988).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

__all__ = [
    "BOLTZMANN",
    "AggregationKernel",
    "SectionalGrid",
    "moment_rates",
    "nucleation_cnt",
    "nucleation_power",
    "power_rate",
    "relative_supersaturation",
    "seeded_amount",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]

#: Boltzmann constant, exact in the 2019 SI. [J/K]
BOLTZMANN = 1.380649e-23


def relative_supersaturation(
    u: FloatArray, ions: FloatArray | float
) -> tuple[FloatArray, FloatArray]:
    """σ = Ω^{1/ν} - 1 and dσ/du from u = ln Ω."""
    s = np.exp(np.asarray(u) / ions)
    return s - 1.0, s / ions


def power_rate(
    u: FloatArray,
    ions: FloatArray | float,
    k: FloatArray,
    order: FloatArray,
    k_back: FloatArray,
    order_back: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """r = k σ^g (σ > 0), -k_d (-σ)^{g_d} (σ < 0) and dr/du.

    ``k_back`` = 0 means no reverse reaction (r = 0 below saturation).
    """
    sigma, ds = relative_supersaturation(u, ions)
    up = sigma > 0
    down = (sigma < 0) & (k_back > 0)
    a = np.where(up, sigma, 0.0)
    b = np.where(down, -sigma, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(up, k * a**order, 0.0) - np.where(down, k_back * b**order_back, 0.0)
        dr = np.where(up, k * order * a ** (order - 1.0), 0.0) + np.where(
            down, k_back * order_back * b ** (order_back - 1.0), 0.0
        )
    dr = np.where(np.isfinite(dr), dr, 0.0) * ds
    return np.asarray(r), np.asarray(dr)


def nucleation_cnt(
    u: FloatArray, prefactor: FloatArray, barrier: FloatArray, size_coefficient: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """J = A exp(-B/u²), dJ/du, L₀ = c/u and dL₀/du for u = ln Ω > 0 (0 below)."""
    up = u > 0
    uu = np.where(up, u, 1.0)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        j = np.where(up, prefactor * np.exp(-barrier / uu**2), 0.0)
        dj = np.where(j > 0, j * 2.0 * barrier / uu**3, 0.0)
    size = np.where(up, size_coefficient / uu, 0.0)
    dsize = np.where(up, -size_coefficient / uu**2, 0.0)
    return np.asarray(j), np.asarray(dj), np.asarray(size), np.asarray(dsize)


def nucleation_power(
    u: FloatArray, ions: FloatArray | float, k: FloatArray, order: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """J = k_J σ^b (σ > 0, else 0) and dJ/du."""
    zero = np.zeros_like(np.asarray(u, dtype=np.float64))
    return power_rate(u, ions, k, order, zero, zero + 1.0)


def seeded_amount(
    lam: FloatArray, seed_moments: FloatArray, volume_factor: float, molar_volume: float
) -> tuple[FloatArray, FloatArray]:
    """ξ(Λ) and dξ/dΛ for seeds whose every crystal changed size by Λ.

    With the seed moments μ_k⁰ (k = 0..2) [m^k kg⁻¹],
    ξ = (k_v/v_m) (3 μ₂⁰ Λ + 3 μ₁⁰ Λ² + μ₀⁰ Λ³).  [mol kg⁻¹]
    """
    c = volume_factor / molar_volume
    m0, m1, m2 = seed_moments[:, 0], seed_moments[:, 1], seed_moments[:, 2]
    xi = c * lam * (3.0 * m2 + lam * (3.0 * m1 + lam * m0))
    dxi = 3.0 * c * (m2 + lam * (2.0 * m1 + lam * m0))
    return np.asarray(xi), np.asarray(dxi)


def moment_rates(
    y: FloatArray,
    growth: FloatArray,
    d_growth: FloatArray,
    nuc: FloatArray,
    d_nuc: FloatArray,
    size: FloatArray,
    d_size: FloatArray,
    volume: FloatArray,
    volume_factor: float,
    molar_volume: float,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Rates of (ξ, μ₀, μ₁, μ₂, Λ), their Jacobian in these states and their derivative in u.

    ``y`` (m, 5); ``growth`` G [m/s], ``nuc`` J [m⁻³ s⁻¹], ``size`` L₀ [m]
    and their derivatives in u; ``volume`` V, the solution's volume per kg
    of initial water [m³].  Returns f (m, 5), ∂f/∂y at fixed u (m, 5, 5)
    and ∂f/∂u (m, 5)::

        dξ/dt  = (k_v/v_m)(3 G μ₂ + J V L₀³)
        dμ₀/dt = J V
        dμ₁/dt = G μ₀ + J V L₀
        dμ₂/dt = 2 G μ₁ + J V L₀²
        dΛ/dt  = G
    """
    m = y.shape[0]
    c = volume_factor / molar_volume
    mu0, mu1, mu2 = y[:, 1], y[:, 2], y[:, 3]
    jv = nuc * volume
    djv = d_nuc * volume
    l0, l2, l3 = size, size**2, size**3
    f = np.empty((m, 5))
    f[:, 0] = c * (3.0 * growth * mu2 + jv * l3)
    f[:, 1] = jv
    f[:, 2] = growth * mu0 + jv * l0
    f[:, 3] = 2.0 * growth * mu1 + jv * l2
    f[:, 4] = growth
    jac = np.zeros((m, 5, 5))
    jac[:, 0, 3] = 3.0 * c * growth
    jac[:, 2, 1] = growth
    jac[:, 3, 2] = 2.0 * growth
    fu = np.empty((m, 5))
    fu[:, 0] = c * (3.0 * d_growth * mu2 + djv * l3 + 3.0 * jv * l2 * d_size)
    fu[:, 1] = djv
    fu[:, 2] = d_growth * mu0 + djv * l0 + jv * d_size
    fu[:, 3] = 2.0 * d_growth * mu1 + djv * l2 + 2.0 * jv * l0 * d_size
    fu[:, 4] = d_growth
    return f, jac, fu


@dataclass(frozen=True)
class AggregationKernel:
    """β(L_i, L_j) [m³/s] of one kind, per row.

    ``kind``: 0 constant (β₀ = ``rate``), 1 laminar shear
    (G_s/6)(L_i + L_j)³ with G_s = ``rate`` [1/s], 2 Brownian
    (2 k_B T / 3μ)(L_i + L_j)²/(L_i L_j) with ``rate`` = 2 k_B T / 3μ; each
    times ``efficiency``.  L is the crystals' characteristic size (an
    equivalent-sphere diameter).
    """

    kind: int
    rate: FloatArray  # (N,)
    efficiency: FloatArray  # (N,)

    def matrix(self, sizes: FloatArray, rows: npt.NDArray[np.intp]) -> FloatArray:
        """β of every pair of pivots for the rows ``rows``: (m, M, M)."""
        li = sizes[:, None]
        lj = sizes[None, :]
        if self.kind == 0:
            shape = np.ones((sizes.size, sizes.size))
        elif self.kind == 1:
            shape = (li + lj) ** 3 / 6.0
        else:
            shape = (li + lj) ** 2 / (li * lj)
        scale = self.rate[rows] * self.efficiency[rows]
        return np.asarray(scale[:, None, None] * shape[None, :, :])


@dataclass(frozen=True)
class SectionalGrid:
    """Pivots on a geometric volume grid, v_{i+1} = r v_i, and the fixed-pivot tables.

    ``sizes`` L_i [m] and ``volumes`` v_i = k_v L_i³ [m³] of the M pivots.
    Aggregation of pivots j ≤ k gives a particle of volume v_j + v_k, shared
    between the pivots a ≤ (it) < a + 1 around it with number fractions
    chosen so that number and volume are both kept (``share``).
    """

    sizes: FloatArray
    volumes: FloatArray
    share: FloatArray  # (M, M, M): pair (j, k) -> number placed in each pivot

    @classmethod
    def geometric(
        cls, smallest: float, largest: float, ratio: float, volume_factor: float
    ) -> SectionalGrid:
        n = int(np.ceil(np.log((largest / smallest) ** 3) / np.log(ratio))) + 1
        volumes = np.asarray(volume_factor * smallest**3 * ratio ** np.arange(n), np.float64)
        sizes = np.asarray((volumes / volume_factor) ** (1.0 / 3.0), np.float64)
        share = np.zeros((n, n, n))
        total = volumes[:, None] + volumes[None, :]
        a = np.clip(np.searchsorted(volumes, total, side="right") - 1, 0, n - 1)
        for j in range(n):
            for k in range(n):
                i = a[j, k]
                v = total[j, k]
                if i >= n - 1:  # beyond the grid: the last pivot keeps the volume, not the number
                    share[j, k, n - 1] = v / volumes[-1]
                    continue
                upper = (v - volumes[i]) / (volumes[i + 1] - volumes[i])
                share[j, k, i] += 1.0 - upper
                share[j, k, i + 1] += upper
        for array in (sizes, volumes, share):
            array.setflags(write=False)
        return cls(sizes=sizes, volumes=volumes, share=share)

    @property
    def n(self) -> int:
        return int(self.sizes.size)

    def place(self, volume: FloatArray) -> tuple[npt.NDArray[np.intp], FloatArray]:
        """The pivot a at or below each volume and the share going to a + 1 (number and volume)."""
        v = self.volumes
        a = np.clip(np.searchsorted(v, volume, side="right") - 1, 0, self.n - 2)
        with np.errstate(invalid="ignore"):
            upper = np.clip((volume - v[a]) / (v[a + 1] - v[a]), 0.0, 1.0)
        return a, np.where(np.isfinite(upper), upper, 0.0)

    def growth_transfer(self, growth: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Rate constants of the moves between pivots for a growth rate G (m,) [m/s].

        Returns (m, M) ``up`` and ``down``: the fraction of pivot i's crystals
        moving per second to i + 1 (growth) or to i - 1 (dissolution; from the
        first pivot they vanish), so that Σ N_i dv_i/dt is kept exactly.  The
        last pivot does not grow.
        """
        v = self.volumes
        dv = 3.0 * (v / self.sizes)  # k_v 3 L² per unit G
        gp = np.maximum(growth, 0.0)[:, None]
        gm = np.maximum(-growth, 0.0)[:, None]
        up = np.zeros((growth.size, self.n))
        up[:, :-1] = gp * dv[None, :-1] / (v[1:] - v[:-1])[None, :]
        down = np.zeros((growth.size, self.n))
        below = np.concatenate([[0.0], v[:-1]])
        down[:, :] = gm * dv[None, :] / (v - below)[None, :]
        return up, down
