"""Supersaturation of 10,000 synthetic urine samples in one call.

Draws urine compositions uniformly over the ranges of a stone clinic's 24-hour
urines (calcium 2-8 mmol/L, oxalate 0.1-0.6, magnesium 2-5, citrate 1-4,
phosphate 10-30, sulfate 10-20, sodium 100-200, potassium 40-80 mmol/L,
pH 5-7; chloride from electroneutrality), speciates them all at 37 °C with
one call to :func:`oxalate.speciate`, and prints the distribution of SI(COM)
against the metastable limit (relative supersaturation 8-11, REFERENCE §6;
an EQUIL2 study used DG > 2.8 kJ/mol, i.e. Ω ≈ 8.7).  It also shows how far
the free-ion approximation (:func:`oxalate.supersaturation`) is off.

    python examples/urine_batch.py [--plot si_histogram.png] [-n 10000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import oxalate

#: Relative supersaturation above which spontaneous nucleation is expected
#: (the 8-11 band quoted in the stone literature; REFERENCE §6).
METASTABLE_LIMIT = (8.0, 11.0)


def synthetic_urines(n: int, seed: int = 2026) -> oxalate.Solution:
    """n urine-like compositions [mmol/L], chloride left to electroneutrality."""
    rng = np.random.default_rng(seed)
    Q = oxalate.Quantity

    def mmol(lo: float, hi: float) -> object:
        return Q(rng.uniform(lo, hi, n), "mmol/L")

    return oxalate.Solution(
        calcium=mmol(2, 8), oxalate=mmol(0.1, 0.6), magnesium=mmol(2, 5),
        citrate=mmol(1, 4), phosphate=mmol(10, 30), sulfate=mmol(10, 20),
        sodium=mmol(100, 200), potassium=mmol(40, 80), chloride=mmol(100, 200),
        pH=rng.uniform(5.0, 7.0, n), temperature="37 degC",
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--plot", help="write a histogram of SI(COM) to this PNG file")
    args = parser.parse_args()

    urines = synthetic_urines(args.n)
    t0 = time.perf_counter()
    result = oxalate.speciate(urines, charge_balance="chloride")
    elapsed = time.perf_counter() - t0

    si = result.saturation_index["COM"]
    omega = result.supersaturation["COM"]
    print(f"speciated {args.n:,} urines in {elapsed:.2f} s ({args.n / elapsed:,.0f} per second); "
          f"all converged: {bool(result.converged.all())}")  # fmt: skip
    print(f"SI(COM): median {np.median(si):.2f}, 5-95 % {np.percentile(si, 5):.2f} to "
          f"{np.percentile(si, 95):.2f}")  # fmt: skip
    lo, hi = METASTABLE_LIMIT
    print(f"undersaturated (Ω < 1):         {np.mean(omega < 1):6.1%}")
    print(f"metastable (1 ≤ Ω < {lo:g}):        {np.mean((omega >= 1) & (omega < lo)):6.1%}")
    print(f"in the {lo:g}-{hi:g} band:              {np.mean((omega >= lo) & (omega < hi)):6.1%}")
    print(f"above the metastable limit ({hi:g}): {np.mean(omega >= hi):6.1%}")

    ca = oxalate.Quantity(urines.totals["Ca"], "mol/kg")
    ox = oxalate.Quantity(urines.totals["Ox"], "mol/kg")
    free_ion = oxalate.supersaturation(
        ca,
        ox,
        temperature="37 degC",
        ionic_strength=oxalate.Quantity(result.ionic_strength, "mol/kg"),
    )
    ratio = free_ion / omega
    print(f"free-ion Ω / speciated Ω: median {np.median(ratio):.1f}, "
          f"5-95 % {np.percentile(ratio, 5):.1f} to {np.percentile(ratio, 95):.1f}")  # fmt: skip

    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        ax.hist(si, bins=60, color="0.6")
        ax.axvspan(np.log10(lo), np.log10(hi), color="tab:red", alpha=0.25,
                   label=f"metastable limit (Ω = {lo:g}-{hi:g})")  # fmt: skip
        ax.axvline(0.0, color="k", lw=1, label="saturation (Ω = 1)")
        ax.set_xlabel("SI(COM) = log10 Ω, speciated, 37 °C")
        ax.set_ylabel("urines")
        ax.set_title(f"{args.n:,} synthetic urines, one call: {elapsed:.2f} s")
        ax.legend(frameon=False)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
