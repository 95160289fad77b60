"""From a spreadsheet of 24-hour urines to Ω, EQUIL2 SS and the Tiselius index per patient.

The bundled table (:func:`oxalate.tables.example_csv`, 500 synthetic patients
made by ``examples/make_urines_csv.py``) is a stone clinic's table as it
comes: one row per patient, daily excretions with their units in the headers
(``calcium [mg/d]``), extra columns (sex, age) and four spoiled rows.  This
script keeps every row, computes for each patient

* Ω(COM) of the full speciation (:func:`oxalate.speciate`),
* EQUIL2's relative supersaturation of calcium oxalate (:func:`oxalate.tables.equil2`),
* Tiselius' AP(CaOx) index (:func:`oxalate.indices.tiselius_ap_caox`),

writes them beside the input to ``urines_24h_results.csv`` and, with matplotlib,
draws a histogram of SI(COM).  The same from the command line::

    CSV=$(python -c "import oxalate; print(oxalate.tables.example_csv())")
    oxalate speciate "$CSV" --outputs SI_COM,omega_COM -o omega.csv
    oxalate equil2 "$CSV" -o equil2.csv

Usage::

    python examples/urine_table.py [--plot histogram.png]
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import oxalate
from oxalate import tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=tables.example_csv())
    parser.add_argument("--output", type=Path, default=Path("urines_24h_results.csv"))
    parser.add_argument("--plot", type=Path, default=None, help="histogram of SI(COM) (PNG)")
    args = parser.parse_args()

    table = pd.read_csv(args.input).set_index("patient_id")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", oxalate.OxalateWarning)
        urine = tables.read_solution(table, on_invalid="nan")
        omega = oxalate.speciate(urine, outputs=["SI_COM", "omega_COM"]).to_dataframe()
        ss = tables.equil2(table, on_invalid="nan").to_dataframe()
        q = oxalate.Quantity
        ap = oxalate.indices.tiselius_ap_caox(
            calcium=q(table["calcium [mg/d]"].to_numpy(), "mg/d"),
            oxalate=q(table["oxalate [mg/d]"].to_numpy(), "mg/d"),
            citrate=q(table["citrate [mg/d]"].to_numpy(), "mg/d"),
            magnesium=q(table["magnesium [mg/d]"].to_numpy(), "mg/d"),
            volume=q(table["volume [L/d]"].to_numpy(), "L/d"),
            on_invalid="nan",
        )
    for w in caught:
        print(f"note: {w.message}")

    results = table.join(omega).join(ss[["ss_calcium_oxalate"]]).assign(tiselius_ap_caox=ap)
    results.to_csv(args.output)
    ok = results["converged"]
    print(f"{len(results)} patients in, {len(results)} out, {int(ok.sum())} computed")
    print(results.loc[~ok, ["reason"]].to_string())
    summary = results.loc[ok, ["omega_COM", "ss_calcium_oxalate", "tiselius_ap_caox"]]
    print(summary.describe().round(2).to_string())
    r = np.corrcoef(summary["omega_COM"], summary["ss_calcium_oxalate"])[0, 1]
    print(f"Ω(COM) against EQUIL2 SS(CaOx): r = {r:.3f}")
    print(f"wrote {args.output}")
    if args.plot is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.hist(results.loc[ok, "SI_COM"], bins=30, color="0.6", edgecolor="black")
        ax.axvline(0.0, color="black", linestyle="--", label="saturation (SI = 0)")
        ax.set_xlabel("SI of calcium oxalate monohydrate")
        ax.set_ylabel("patients")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
