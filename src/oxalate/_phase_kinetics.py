"""How one phase crystallises, as the kinetics engine takes it: rates, nuclei, seeds, kernel.

A private home shared by :func:`oxalate.crystallize` and
:func:`oxalate.nephron.transit`, so that neither public module imports the
other's private names.
"""

from __future__ import annotations

import math
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from . import _engines as engines
from ._kinetics_inputs import phase_info
from .database import ConstantSet
from .kinetics import AVOGADRO, Aggregation, BulkRate, Growth, Nucleation, Seeds, Solid

__all__ = ["kinetics_of_phase"]

FloatArray: TypeAlias = npt.NDArray[np.float64]


def _rows(value: Any, shape: tuple[int, ...], name: str) -> FloatArray:
    try:
        return np.ascontiguousarray(
            np.broadcast_to(np.asarray(value, dtype=np.float64), shape).ravel()
        )
    except ValueError:
        raise ValueError(
            f"{name} has shape {np.shape(value)}, which does not broadcast to the batch {shape}"
        ) from None


def _phase_mass(cs: ConstantSet, key: str) -> float:

    return phase_info(key, cs)[2]


def kinetics_of_phase(
    key: str,
    cs: ConstantSet,
    law: Any,
    nucleation: Nucleation | None,
    seeds: Seeds | None,
    aggregation: Aggregation | None,
    crystal_props: Solid,
    method: str,
    temperature: FloatArray,
    shape: tuple[int, ...],
    grid: engines.crystal.SectionalGrid | None,
) -> engines.kinetics.PhaseKinetics:
    """The engine's record of one phase: its method, rate constants per row, nuclei, seeds, kernel.

    Raises ValueError for combinations the methods cannot integrate exactly
    (a BulkRate with nucleation or aggregation, Growth with no crystals,
    dissolution under the moment method, dissolving seeds with a spread).
    """
    k_ = engines.kinetics
    n = temperature.size
    solid_record = cs.solids[key]
    mass = _phase_mass(cs, key)
    vm = crystal_props.molar_volume(mass)
    zeros = np.zeros(n)
    seed_amount, seed_mom, seed_big = zeros, np.zeros((n, 3)), zeros
    seed_bins = None
    if seeds is not None:
        amount, mom, big = seeds.moments(mass, crystal_props)
        seed_amount = _rows(amount, shape, f"seeds[{key!r}]")
        seed_mom = np.stack(
            [_rows(mom[..., j], shape, f"seeds[{key!r}]") for j in range(3)], axis=1
        )
        seed_big = _rows(big, shape, f"seeds[{key!r}].size")
        if grid is not None:
            seed_bins = _seed_bins(seeds, seed_amount, _rows(seeds.size, shape, "seeds.size"), vm,
                                   crystal_props.volume_factor, grid)  # fmt: skip
    if isinstance(law, BulkRate):
        if nucleation is not None or aggregation is not None:
            raise ValueError(
                f"{key}: a BulkRate describes no crystals; nucleation and aggregation need Growth"
            )
        return k_.PhaseKinetics(
            method=k_.BULK, ions=float(solid_record.ions), molar_volume=vm,
            volume_factor=crystal_props.volume_factor, area_factor=crystal_props.area_factor,
            k=_rows(law.k, shape, "k"), order=_rows(law.order, shape, "order"), k_back=zeros,
            order_back=zeros + 1.0, nucleation=k_.NO_NUCLEATION, nuc_a=zeros, nuc_b=zeros,
            nuc_size=zeros, seed_amount=seed_amount, seed_moments=seed_mom, seed_largest=seed_big,
        )  # fmt: skip
    assert isinstance(law, Growth)
    if seeds is None and nucleation is None:
        raise ValueError(
            f"{key}: Growth needs crystals to grow on: give seeds= or nucleation= "
            f"(or a BulkRate, which needs no crystals)"
        )
    dissolves = law.dissolution is not None
    if aggregation is not None or method == "sectional":
        chosen = k_.SECTIONAL
    elif nucleation is not None or method == "moments":
        chosen = k_.MOMENTS
    else:
        chosen = k_.SEEDED
    if chosen == k_.MOMENTS and dissolves:
        raise ValueError(
            f"{key}: dissolution with the moment method is exact only for seeds of one size "
            f"and no nucleation; use method='sectional'"
        )
    if chosen == k_.SEEDED and dissolves and seeds is not None and seeds.spread is not None:
        raise ValueError(
            f"{key}: dissolution of seeds with a spread of sizes needs method='sectional' "
            f"(the smallest vanish first)"
        )
    k = _rows(
        law.rate_constant(temperature.reshape(shape) if shape else temperature[0]), shape, "k"
    )
    kd = zeros if law.dissolution is None else _rows(law.dissolution, shape, "dissolution")
    nuc_kind, nuc_a, nuc_b, nuc_size = k_.NO_NUCLEATION, zeros, zeros, zeros
    if nucleation is not None:
        v = vm / AVOGADRO
        t_shaped = temperature.reshape(shape) if shape else temperature[0]
        if nucleation.kind == "cnt":
            nuc_kind = k_.CNT
            nuc_a = _rows(nucleation.prefactor, shape, "prefactor")
            nuc_b = _rows(nucleation.barrier(t_shaped, v), shape, "interfacial_energy")
            nuc_size = _rows(nucleation.size_coefficient(t_shaped, v), shape, "interfacial_energy")
        else:
            nuc_kind = k_.POWER
            nuc_a = _rows(nucleation.prefactor, shape, "k")
            nuc_b = _rows(nucleation.order, shape, "order")
    kernel = None
    if aggregation is not None:
        kinds = {"constant": 0, "shear": 1, "brownian": 2}
        if aggregation.kernel == "brownian":
            rate = (
                2.0
                * 1.380649e-23
                * temperature
                / (3.0 * _rows(aggregation.viscosity, shape, "viscosity"))
            )
        else:
            rate = _rows(aggregation.rate, shape, "rate")
        kernel = engines.crystal.AggregationKernel(
            kinds[aggregation.kernel], rate, _rows(aggregation.efficiency, shape, "efficiency")
        )
    return k_.PhaseKinetics(
        method=chosen, ions=float(solid_record.ions), molar_volume=vm,
        volume_factor=crystal_props.volume_factor, area_factor=crystal_props.area_factor, k=k,
        order=_rows(law.order, shape, "order"), k_back=kd,
        order_back=_rows(law.dissolution_order, shape, "dissolution_order"), nucleation=nuc_kind,
        nuc_a=nuc_a, nuc_b=nuc_b, nuc_size=nuc_size, seed_amount=seed_amount,
        seed_moments=seed_mom, seed_largest=seed_big, seed_bins=seed_bins, aggregation=kernel,
    )  # fmt: skip


def _seed_bins(
    seeds: Seeds,
    amount: FloatArray,
    size: FloatArray,
    vm: float,
    kv: float,
    grid: engines.crystal.SectionalGrid,
) -> FloatArray:
    """Seeds on the sectional grid, keeping their number and volume."""
    n = amount.size
    out = np.zeros((n, grid.n))
    volume = amount * vm  # m3 of solid per kg
    if seeds.spread is None:
        v_one = kv * size**3
        number = np.where(v_one > 0, volume / v_one, 0.0)
        a, upper = grid.place(v_one)
        r = np.arange(n)
        out[r, a] += number * (1.0 - upper)
        out[r, a + 1] += number * upper
        return out
    from scipy.special import ndtr

    s = math.log(seeds.spread)
    edges = np.sqrt(grid.sizes[1:] * grid.sizes[:-1])
    lo = np.concatenate([[0.0], edges])
    hi = np.concatenate([edges, [np.inf]])
    with np.errstate(divide="ignore"):
        zlo = (np.log(lo)[None, :] - np.log(size)[:, None]) / s
        zhi = (np.log(hi)[None, :] - np.log(size)[:, None]) / s
    share = ndtr(zhi) - ndtr(zlo)
    held = np.einsum("ks,s->k", share, grid.volumes)  # summed alike for every row
    return np.asarray(share * np.where(held > 0, volume / held, 0.0)[:, None])
