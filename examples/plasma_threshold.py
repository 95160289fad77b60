"""At what plasma oxalate does calcium oxalate precipitate?

Normal adult plasma at 37 °C and pH 7.40 (REFERENCE §6; ``presets.csv`` row
``plasma_normal_adult``), speciated in full (ion pairs with citrate,
phosphate, sulfate, carbonate and magnesium; PHREEQC's Davies activities), and
the plasma oxalate at which it becomes saturated with calcium oxalate
monohydrate (COM, whewellite), Ω(COM) = 1:

(a) with total plasma calcium, 2.40 mmol/L;
(b) with ultrafiltrable calcium, 1.35 mmol/L: the protein-bound 45 % removed;
(c) as (b) with the ThermoChimie solubility product (Hummel et al. 2005);
(d) as (b) at the spontaneous-nucleation (metastable) limit Ω ≈ 8.7.

The thresholds are printed beside the clinical figures: 25-30 µmol/L (Mayo
Clinic Laboratories), 50 µmol/L in uremic serum ultrafiltrate (Worcester et
al. 1986) and renal deposition above about 20 µmol/L (Tomson et al. 1988).

Run::

    python examples/plasma_threshold.py                  # the table
    python examples/plasma_threshold.py --plot out.png   # and Ω(COM) against oxalate

matplotlib is needed only for ``--plot``.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np

import oxalate
from oxalate.precipitation import threshold

TEMPERATURE = "37 degC"
PH = 7.40

# Normal adult plasma (presets.csv, plasma_normal_adult; mmol/L): reference
# intervals as textbooks quote them.  Total CO2 ~25 mmol/L (HCO3- 24 plus
# dissolved CO2) enters as total inorganic carbon.
PLASMA: dict[str, Any] = {
    "sodium": "140 mmol/L",
    "potassium": "4.2 mmol/L",
    "chloride": "104 mmol/L",
    "carbonate": "25 mmol/L",
    "magnesium": "0.85 mmol/L",
    "phosphate": "1.10 mmol/L",
    "sulfate": "0.35 mmol/L",
    "citrate": "0.10 mmol/L",
}
CALCIUM_TOTAL = "2.40 mmol/L"  # about 45 % bound to albumin
CALCIUM_ULTRAFILTRABLE = "1.35 mmol/L"  # ionized 1.20 plus complexed
CALCIUM_IONIZED = 1.20  # mmol/L, for comparison with the speciation

# The metastable limit: EQUIL2 studies call DG = 1.2935 ln RSS > 2.8 kJ/mol critical,
# RSS = exp(2.8 / 1.2935) = 8.7 (REFERENCE §6; 8-11 is the range quoted).
METASTABLE = float(np.exp(2.8 / 1.2935))

CLINICAL = [
    ("Mayo Clinic Laboratories: 'supersaturation'", "25-30 µmol/L"),
    ("Worcester et al. 1986, uremic serum ultrafiltrate", "50 µmol/L"),
    ("Tomson et al. 1988, renal CaOx deposition above", "~20 µmol/L"),
    ("normal plasma oxalate", "<= 2 µmol/L"),
    ("haemodialysis, before / after a session", "89 / 31 µmol/L"),
]


def plasma(calcium: str, oxalate_: Any = "1.5 umol/L") -> oxalate.Solution:
    """Plasma with the given calcium and oxalate (scalar or array). [mol/kg inside]"""
    return oxalate.Solution(
        **PLASMA, calcium=calcium, oxalate=oxalate_, pH=PH, temperature=TEMPERATURE
    )


def thresholds() -> list[tuple[str, Any]]:
    """The four thresholds of the module docstring, as Threshold results."""
    total = plasma(CALCIUM_TOTAL)
    uf = plasma(CALCIUM_ULTRAFILTRABLE)
    metastable = f"(d) = (b), metastable limit Omega = {METASTABLE:.1f}"
    return [
        ("(a) total plasma calcium 2.40 mmol/L", threshold(total, "oxalate")),
        ("(b) ultrafiltrable calcium 1.35 mmol/L", threshold(uf, "oxalate")),
        ("(c) = (b), ThermoChimie Ksp", threshold(uf, "oxalate", constants="thermochimie")),
        (metastable, threshold(uf, "oxalate", target=METASTABLE)),
    ]


def omega_curve(oxalate_umol: np.ndarray) -> dict[str, np.ndarray]:
    """Ω(COM) against plasma oxalate for both calcium cases, one batch call each."""
    ox = oxalate.Quantity(oxalate_umol, "umol/L")
    cases = {"total Ca 2.40": CALCIUM_TOTAL, "ultrafiltrable Ca 1.35": CALCIUM_ULTRAFILTRABLE}
    return {
        name: np.asarray(oxalate.speciate(plasma(ca, ox)).supersaturation["COM"])
        for name, ca in cases.items()
    }


def report() -> list[tuple[str, Any]]:
    rows = thresholds()
    print("At what plasma oxalate does calcium oxalate monohydrate precipitate?")
    print(f"Normal adult plasma, {TEMPERATURE}, pH {PH:.2f}; full speciation (oxalate.speciate)")
    print()
    print(f"{'case':<48} {'µmol/L':>8} {'µmol/kg':>8}")
    for name, th in rows:
        per_l = float(th.molarity().m_as("umol/L"))
        per_kg = float(th.total.m_as("umol/kg"))
        print(f"{name:<48} {per_l:8.1f} {per_kg:8.1f}")
    print()
    print("Clinical figures (REFERENCE §6):")
    for name, value in CLINICAL:
        print(f"  {name:<50} {value}")
    sp = oxalate.speciate(plasma(CALCIUM_TOTAL))
    free_ca = float(sp.free("Ca+2")) * 1e3
    act_ca = float(sp.activity("Ca+2")) * 1e3
    print()
    print(
        f"Free Ca2+ computed from total calcium 2.40 mmol/L with no protein: {free_ca:.2f} "
        f"mmol/kg (activity {act_ca:.2f}),\nagainst {CALCIUM_IONIZED:.2f} mmol/L measured "
        "ionized calcium: speciating total calcium overstates the free calcium by the "
        "protein-bound part."
    )
    a, b, c, d = (float(th.molarity().m_as("umol/L")) for _, th in rows)
    print(
        f"""
Discussion
- Protein binding.  Albumin holds about 45 % of plasma calcium and the model has no
  protein, so (a) counts that calcium as free (free Ca2+ {free_ca:.2f} against 1.20
  measured): its threshold, {a:.0f} µmol/L, at the top of the 25-30 µmol/L usually quoted,
  understates the real one.  (b) speciates the ultrafiltrable calcium, which is what
  oxalate can meet: {b:.0f} µmol/L, as Worcester et al. measured in uremic ultrafiltrate.
- Constants.  The default Ksp(COM) is 2.3e-9 at 25 °C (3.2e-9 at 37 °C); ThermoChimie's
  log K -8.73 is 0.09 lower, and the threshold falls in proportion to Ksp, to {c:.0f} µmol/L.
  The evaluated log Ksp values scatter by about 0.1, i.e. +-25 % in the threshold.
- Ultrafiltrate and plasma.  Clinical values are per litre of plasma, about 93 % water;
  oxalate and calcium are in the water, so per kg of plasma water both are ~7 % higher and
  the threshold per litre of plasma ~7 % lower than computed here (density 1.0 kg/L, no
  protein volume).  Uremic plasma also has other calcium, phosphate and pH.
- Saturation is not precipitation.  Ω = 1 is where COM can start to grow on existing
  crystals; spontaneous nucleation needs Ω of about 8-11 (the metastable limit), here
  reached only near {d:.0f} µmol/L.  Between the two, plasma is supersaturated but
  metastable, which is why deposits follow prolonged high oxalate (Tomson: renal CaOx
  above ~20 µmol/L) rather than the moment Ω passes 1."""
    )
    return rows


def plot(path: str, rows: list[tuple[str, Any]]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise SystemExit("--plot needs matplotlib: pip install matplotlib") from err
    ox = np.geomspace(1.0, 1000.0, 200)
    curves = omega_curve(ox)
    fig, ax = plt.subplots(figsize=(7.0, 4.5))
    for (name, omega), color in zip(curves.items(), ("tab:red", "tab:blue"), strict=True):
        ax.loglog(ox, omega, color=color, label=f"Ω(COM), {name} mmol/L")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.axhspan(8.0, 11.0, color="0.85", label="metastable limit, Ω ≈ 8-11")
    ax.axvspan(20.0, 50.0, color="tab:green", alpha=0.15, label="clinical 20-50 µmol/L")
    for (_name, th), color in zip(rows[:2], ("tab:red", "tab:blue"), strict=True):
        x = float(th.molarity().m_as("umol/L"))
        ax.axvline(x, color=color, ls="--", lw=1.0)
        offset = (3, -14)
        ax.annotate(f"{x:.0f}", (x, 1.0), xytext=offset, textcoords="offset points", color=color)
    ax.set_xlabel("plasma oxalate [µmol/L]")
    ax.set_ylabel("Ω(COM) = IAP / Ksp")
    ax.set_title("Calcium oxalate monohydrate in normal plasma, 37 °C, pH 7.40")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print(f"\nplot saved to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", metavar="PNG", help="save Ω(COM) against plasma oxalate")
    args = parser.parse_args()
    rows = report()
    if args.plot:
        plot(args.plot, rows)


if __name__ == "__main__":
    main()
