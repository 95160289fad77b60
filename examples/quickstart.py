"""Quickstart: how supersaturated with calcium oxalate are urine and plasma?

Prints, for a few urine-like and plasma-like fluids at 37 °C, the free-ion
supersaturation Ω = IAP/Ksp and the saturation index SI = log10 Ω of calcium
oxalate monohydrate (COM, whewellite) and dihydrate (COD, weddellite), then
the solubility products at 37 °C and the free-ion solubility of COM.

Run it with ``python examples/quickstart.py``.

The free-ion model treats the calcium and oxalate given as free ions in a
150 mmol/L NaCl background.  In plasma, where ionised calcium is the free
calcium, that is a fair first answer.  In urine, citrate, magnesium, phosphate
and sulfate bind much of both ions, so the free-ion Ω is an upper bound,
several-fold too high; full speciation (later versions) corrects that.
"""

from __future__ import annotations

import numpy as np

import oxalate

TEMPERATURE = "37 degC"
BACKGROUND = "150 mmol/L NaCl"  # stands in for the other salts of urine and plasma

# (fluid, calcium [mmol/L], oxalate [mmol/L], where the numbers come from)
# Urine: 24 h amounts over a 24 h volume, from typical clinical reference ranges
# (calcium upper normal 6.25-7.5 mmol/d, oxalate upper normal 0.45 mmol/d = 40 mg/d,
# 1.0-2.5 L/d).  Plasma: ionised calcium 1.12-1.32 mmol/L (typical clinical range)
# and the plasma oxalate levels of REFERENCE §6.
CASES = [
    ("urine, normal", 5.0 / 1.5, 0.35 / 1.5, "Ca 5.0, Ox 0.35 mmol/d in 1.5 L/d"),
    ("urine, upper normal", 7.5 / 1.5, 0.45 / 1.5, "Ca 7.5, Ox 0.45 mmol/d in 1.5 L/d"),
    ("urine, low volume", 7.5 / 1.0, 0.45 / 1.0, "the same in 1.0 L/d"),
    ("urine, hyperoxaluria", 3.0, 1.0, "Ox 2 mmol/d in 2 L/d (primary: > 0.7 mmol/d)"),
    ("plasma, normal", 1.20, 0.0015, "Ox <= 2 µmol/L (Mayo Clinic Laboratories)"),
    ("plasma, threshold", 1.20, 0.030, "25-30 µmol/L 'supersaturation' (Mayo)"),
    ("plasma, dialysis after", 1.20, 0.031, "31 µmol/L (Worcester et al. 1986)"),
    ("plasma, dialysis before", 1.20, 0.089, "89 µmol/L (Worcester et al. 1986)"),
]


def free_ion_table(calcium: object, oxalate_: object) -> dict[str, np.ndarray]:
    """Ω and SI of COM and COD for all cases at once (one vectorised call each)."""
    out = {}
    for phase in ("COM", "COD"):
        out[f"omega_{phase}"] = oxalate.supersaturation(
            calcium, oxalate_, temperature=TEMPERATURE, background=BACKGROUND, phase=phase
        )
        out[f"si_{phase}"] = oxalate.saturation_index(
            calcium, oxalate_, temperature=TEMPERATURE, background=BACKGROUND, phase=phase
        )
    return out


def main() -> None:
    names = [c[0] for c in CASES]
    calcium = oxalate.Quantity(np.array([c[1] for c in CASES]), "mmol/L")
    oxalate_ = oxalate.Quantity(np.array([c[2] for c in CASES]), "mmol/L")
    table = free_ion_table(calcium, oxalate_)

    print(f"Free-ion supersaturation of calcium oxalate at 37 °C, background {BACKGROUND}")
    print("(Ω > 1: supersaturated; urine values are upper bounds, see the docstring)\n")
    header = (
        f"{'fluid':<24} {'Ca mmol/L':>9} {'Ox µmol/L':>9} "
        f"{'Ω COM':>7} {'SI COM':>7} {'Ω COD':>7} {'SI COD':>7}  source"
    )
    print(header)
    print("-" * len(header))
    for k, name in enumerate(names):
        print(
            f"{name:<24} {calcium.m[k]:>9.2f} {oxalate_.m_as('umol/L')[k]:>9.1f} "
            f"{table['omega_COM'][k]:>7.2f} {table['si_COM'][k]:>7.2f} "
            f"{table['omega_COD'][k]:>7.2f} {table['si_COD'][k]:>7.2f}  {CASES[k][3]}"
        )

    print("\nSolubility products (molal activity scale, van 't Hoff from 25 °C):")
    for phase in ("COM", "COD", "COT"):
        k25 = oxalate.solubility_product(phase, "25 degC")
        k37 = oxalate.solubility_product(phase, TEMPERATURE)
        print(f"  Ksp({phase}) = {k25:.3g} at 25 °C, {k37:.3g} at 37 °C")

    print("\nFree-ion solubility of COM at 37 °C (dissolved Ca = oxalate, no ion pairs):")
    for label, background in (("pure water", None), (BACKGROUND, BACKGROUND)):
        s = oxalate.solubility("COM", TEMPERATURE, background=background)
        print(f"  in {label:<16} {s.m_as('umol/kg'):7.1f} µmol/kg")


if __name__ == "__main__":
    main()
