"""Quickstart: how supersaturated with calcium oxalate are urine and plasma?

Speciates the body-fluid presets bundled with the library (``oxalate.fluids``,
every value with its source in ``src/oxalate/data/presets.csv``) at 37 °C, in
one call, and prints for each the relative supersaturation Ω = IAP/Ksp and the
saturation index SI = log10 Ω of calcium oxalate monohydrate (COM), dihydrate
(COD) and brushite, beside the free-ion shortcut Ω that ignores complexation.
Then it asks the nephrologist's question: at what plasma oxalate does the
plasma ultrafiltrate become saturated with COM?

Run it with ``python examples/quickstart.py``.
"""

from __future__ import annotations

import numpy as np

import oxalate

PRESETS = [
    ("plasma", oxalate.fluids.plasma),
    ("plasma ultrafiltrate", oxalate.fluids.plasma_ultrafiltrate),
    ("interstitial fluid", oxalate.fluids.interstitial_fluid),
    ("urine, normal 24 h", oxalate.fluids.urine_24h_normal),
    ("urine, stone former", oxalate.fluids.urine_stone_former),
    ("Griffith artificial urine", oxalate.fluids.artificial_urine_griffith),
]


def main() -> None:
    fluids = [make() for _, make in PRESETS]
    # One batch: stack the presets' totals into arrays (pH and temperature per row).
    totals = {key: np.array([f.totals[key] for f in fluids]) for key in fluids[0].totals}
    batch = oxalate.Solution.from_molalities(
        totals,
        pH=np.array([f.pH for f in fluids]),
        temperature_kelvin=np.array([f.temperature for f in fluids]),
    )
    result = oxalate.speciate(batch)
    free_ion = oxalate.supersaturation(
        oxalate.Quantity(totals["Ca"], "mol/kg"),
        oxalate.Quantity(totals["Ox"], "mol/kg"),
        temperature="37 degC",
        ionic_strength=oxalate.Quantity(result.ionic_strength, "mol/kg"),
    )

    print("Calcium oxalate supersaturation of the bundled body-fluid presets, 37 °C")
    print("(full speciation with PHREEQC's conventions; Ω > 1 supersaturated)\n")
    header = (
        f"{'fluid':<26} {'pH':>4} {'Ca mM':>6} {'Ox µM':>7} {'I':>6} "
        f"{'Ω COM':>7} {'SI COM':>7} {'Ω COD':>6} {'Ω brush':>7} {'free-ion Ω':>10}"
    )
    print(header)
    print("-" * len(header))
    omega = result.supersaturation
    for k, (name, _) in enumerate(PRESETS):
        print(
            f"{name:<26} {result.pH[k]:>4.2f} {totals['Ca'][k] * 1e3:>6.2f} "
            f"{totals['Ox'][k] * 1e6:>7.1f} {result.ionic_strength[k]:>6.3f} "
            f"{omega['COM'][k]:>7.2f} {result.saturation_index['COM'][k]:>7.2f} "
            f"{omega['COD'][k]:>6.2f} {omega['brushite'][k]:>7.2f} {free_ion[k]:>10.2f}"
        )
    print(
        "\nThe free-ion Ω takes the totals as free ions: in urine, where citrate, magnesium,"
        "\nphosphate and sulfate bind much of the calcium and oxalate, it is several-fold high."
    )

    uf = oxalate.fluids.plasma_ultrafiltrate(ionized_calcium="1.20 mmol/L")
    limit = oxalate.threshold(uf, vary="oxalate", target=1.0)
    at = float(limit.molarity().m_as("umol/L"))
    print(
        f"\nPlasma ultrafiltrate (ionised calcium 1.20 mmol/L) saturates with COM at "
        f"{at:.1f} µmol/L oxalate"
        "\n(clinical figures: 25-30 µmol/L (Mayo), 50 µmol/L in uremic ultrafiltrate"
        " (Worcester 1986);\nnormal plasma oxalate <= 2 µmol/L)."
    )
    print("\nSolubility products (molal activity scale, van 't Hoff from 25 °C):")
    for phase in ("COM", "COD", "COT"):
        k25 = oxalate.solubility_product(phase, "25 degC")
        k37 = oxalate.solubility_product(phase, "37 degC")
        print(f"  Ksp({phase}) = {k25:.3g} at 25 °C, {k37:.3g} at 37 °C")


if __name__ == "__main__":
    main()
