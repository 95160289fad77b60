"""Can a free calcium oxalate particle be retained in one nephron transit?

The free- vs fixed-particle question (Finlayson & Reid 1978; Kok & Khan 1994;
Grases & Söhnel 2017), asked of :func:`oxalate.nephron.transit` for plasma
ultrafiltrate with normal (2 µM), high (30 µM) and very high (100 µM) plasma
oxalate, through the default human nephron (every number an estimate; see
:func:`oxalate.nephron.default_human`), under two sets of crystallisation
constants:

* ``illustrative``: the package's illustrative-urine values, growth
  k_G = 3e-11 m/s (G = k_G σ²), nucleation γ = 44 mJ/m² and A = 1e20 m⁻³ s⁻¹,
  a constant aggregation kernel of 1e-16 m³/s;
* ``generous``: every constant pushed toward retention, beyond the
  literature's range: k_G = 1e-9 m/s (ten times the upper-end estimate of
  KINETICS.md §2.1), γ = 35 mJ/m² (nucleation from early in the nephron),
  laminar-shear aggregation at 300 1/s with efficiency 1.

For each it prints, at the end of the collecting duct: when nucleation
started, the upper bound on a single crystal (no depletion), the largest
aggregate of the population (the largest size class holding one particle
per kg of filtered water), the same population's largest class without
collisions (efficiency 0: what first-order growth on the grid alone
spreads to), the solid formed, and the diameter of one particle holding
*all* of it (per kg of filtered water): the mass balance's upper bound on
any aggregate.  Retention needs 200 µm (ducts of Bellini).

Run::

    python examples/nephron_free_particle.py            # about 4 minutes on 2 cores

Every row is one call of :func:`oxalate.nephron.transit` on a batch of the
three filtrates.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import oxalate
from oxalate import nephron
from oxalate.kinetics import Aggregation, Growth, Nucleation, default_solid

PLASMA_OXALATE = [2e-6, 30e-6, 100e-6]  # mol/kg: normal, hyperoxaluric, severe
SCENARIOS = {
    "illustrative": (
        Growth("3e-11 m/s"),
        Nucleation("44 mJ/m^2", "1e20 1/m^3/s"),
        lambda e: Aggregation(rate="1e-16 m^3/s", efficiency=e),
    ),
    "generous": (
        Growth("1e-9 m/s"),
        Nucleation("35 mJ/m^2", "1e20 1/m^3/s"),
        lambda e: Aggregation("shear", shear_rate="300 1/s", efficiency=e),
    ),
}
COM_MOLAR_MASS = 0.14611228  # kg/mol


def filtrate() -> oxalate.Solution:
    """Plasma ultrafiltrate at 37 °C: ionised calcium 1.3 mM, NaCl and bicarbonate."""
    return oxalate.Solution(
        calcium="1.3 mmol/kg", oxalate=oxalate.Quantity(PLASMA_OXALATE, "mol/kg"),
        sodium="140 mmol/kg", chloride="110 mmol/kg", carbonate="25 mmol/kg",
        temperature="37 degC",
    )  # fmt: skip


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    solid = default_solid("COM")
    vm = solid.molar_volume(COM_MOLAR_MASS)
    print(
        "| constants | plasma oxalate [µM] | nucleation from [s] | single crystal [µm] | "
        "largest aggregate [µm] | same, efficiency 0 [µm] | solid formed [mol/kg] | "
        "all of it in one particle [µm] | retained |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, (growth, nucleation, kernel) in SCENARIOS.items():
        start = time.perf_counter()
        runs = [
            nephron.transit(
                filtrate(), growth=growth, nucleation=nucleation, aggregation=kernel(e)
            )
            for e in (1.0, 0.0)
        ]
        tr, alone = runs
        solid_formed = tr.precipitated.m_as("mol/kg")[:, -1]
        one_particle = (6.0 / np.pi * solid_formed * vm) ** (1.0 / 3.0)
        for i, ox in enumerate(PLASMA_OXALATE):
            print(
                f"| {name} | {ox * 1e6:g} | {tr.nucleation_time.m_as('s')[i]:.0f} | "
                f"{tr.largest_size.m_as('um')[i, -1]:.3g} | "
                f"{tr.largest_aggregate.m_as('um')[i, -1]:.3g} | "
                f"{alone.largest_aggregate.m_as('um')[i, -1]:.3g} | {solid_formed[i]:.2g} | "
                f"{one_particle[i] * 1e6:.3g} | {bool(tr.aggregate_retained_at_bellini[i])} |"
            )
        print(f"<!-- {name}: {time.perf_counter() - start:.0f} s -->")


if __name__ == "__main__":
    main()
