"""Fixed compositions for the speciation tests: ranges and row builders (no hypothesis).

Totals are molalities [mol/kgw], temperatures in °C (PHREEQC's units), pH on
the activity scale.  The ranges are those of 24 h urine and of blood plasma
as the speciation literature uses them (urine: Ca 2-8 mM, oxalate 0.1-0.6 mM,
Mg 2-5 mM, citrate 1-4 mM, phosphate 10-30 mM, sulfate 10-20 mM, Na
100-200 mM, K 40-80 mM, pH 5-7; plasma: Ca 2.4 mM, Mg 0.9 mM, Na 140 mM,
K 4 mM, Cl 103 mM, total CO2 24 mM plus 1.2 mM dissolved H2CO3, phosphate
1.1 mM, oxalate 2-100 µM, pH 7.4, 37 °C).  Chloride in urine is set to
roughly balance the charge at pH 5-7 (:func:`balancing_chloride`), so that
the rows are plausible; with a fixed pH the balance need not be exact.

The random compositions of the property tests come from
:mod:`oxalate.testing.strategies`; this module holds the fixed ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np

#: Component keys of :data:`oxalate.database.COMPONENTS` except H, in that order.
KEYS: tuple[str, ...] = ("Ca", "Mg", "Na", "K", "Cl", "Ox", "Cit", "PO4", "SO4", "CO3")

#: Urine-like ranges. [mol/kgw]
URINE_RANGES: dict[str, tuple[float, float]] = {
    "Ca": (2e-3, 8e-3),
    "Ox": (1e-4, 6e-4),
    "Mg": (2e-3, 5e-3),
    "Cit": (1e-3, 4e-3),
    "PO4": (1e-2, 3e-2),
    "SO4": (1e-2, 2e-2),
    "Na": (0.1, 0.2),
    "K": (0.04, 0.08),
}
URINE_PH = (5.0, 7.0)

#: Plasma-like composition without oxalate. [mol/kgw]
PLASMA: dict[str, float] = {
    "Ca": 2.4e-3,
    "Mg": 0.9e-3,
    "Na": 0.140,
    "K": 4e-3,
    "Cl": 0.103,
    "CO3": 25.2e-3,  # total CO2 24 mM + 1.2 mM H2CO3 (pCO2 40 mmHg)
    "PO4": 1.1e-3,
}
PLASMA_OXALATE = (2e-6, 1e-4)


class Row(NamedTuple):
    """One solution: totals [mol/kgw], pH, temperature [°C]."""

    totals: dict[str, float]
    pH: float
    temperature_c: float


def balancing_chloride(totals: Mapping[str, float]) -> float:
    """Chloride that roughly balances the charge of a urine at pH 5-7. [mol/kgw]

    Counts phosphate as -1.5 (H2PO4-/HPO4-2), citrate as -3, oxalate and
    sulfate as -2 and carbonate as -1 (HCO3-); complexes are ignored.
    """
    cations = 2 * totals.get("Ca", 0.0) + 2 * totals.get("Mg", 0.0)
    cations += totals.get("Na", 0.0) + totals.get("K", 0.0)
    anions = 2 * totals.get("Ox", 0.0) + 3 * totals.get("Cit", 0.0)
    anions += 1.5 * totals.get("PO4", 0.0) + 2 * totals.get("SO4", 0.0)
    anions += totals.get("CO3", 0.0)
    return cations - anions


def urine(**totals: float) -> dict[str, float]:
    """A urine-like composition from millimolal values, chloride balancing. [mol/kgw]

    Examples
    --------
    >>> t = urine(Ca=4, Ox=0.3, Mg=3, Cit=2.5, PO4=20, SO4=15, Na=150, K=60)
    >>> round(t["Cl"], 4)
    0.1559
    """
    out = {k: v * 1e-3 for k, v in totals.items()}
    out["Cl"] = balancing_chloride(out)
    return out


def plasma(oxalate_umol: float, **changes: float) -> dict[str, float]:
    """The plasma-like composition with oxalate [µmol/kgw]; ``changes`` in mol/kgw."""
    return {**PLASMA, "Ox": oxalate_umol * 1e-6, **changes}


def as_arrays(
    rows: Sequence[Row],
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Totals of every component [mol/kgw], pH and temperature [°C] as 1-D arrays."""
    totals = {k: np.array([r.totals.get(k, 0.0) for r in rows]) for k in KEYS}
    ph = np.array([r.pH for r in rows])
    tc = np.array([r.temperature_c for r in rows])
    return totals, ph, tc
