"""Write ``oxalate/data/urines_24h_synthetic.csv``: 500 synthetic 24-hour urines, reproducibly.

Not patients: every value is drawn at random (seed 2026) from the reference
intervals of 24-hour urine chemistry that the library's presets cite
(``oxalate.fluids.urine_24h_normal`` and ``urine_24h_stone_former``; Tietz
2012, Pearle et al. 2014), log-normal so that a few rows lie outside them, as
real stone-clinic tables do.  A clinic's table is also untidy, so four rows are
spoiled on purpose: a negative volume, an empty pH, an empty calcium and a pH
of 15.  Columns that are not analytes (``patient_id``, ``sex``, ``age``) ride
along.  Headers follow the convention of :mod:`oxalate.tables`.

Usage::

    python examples/make_urines_csv.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "src" / "oxalate" / "data" / "urines_24h_synthetic.csv"

# median, geometric spread of each daily excretion (reference-interval midpoints)
COLUMNS = {
    "calcium [mg/d]": (180.0, 1.5),
    "oxalate [mg/d]": (32.0, 1.4),
    "citrate [mg/d]": (550.0, 1.6),
    "magnesium [mg/d]": (100.0, 1.4),
    "sodium [mEq/d]": (160.0, 1.4),
    "potassium [mEq/d]": (60.0, 1.4),
    "chloride [mEq/d]": (160.0, 1.4),
    "phosphate [mg/d as P]": (900.0, 1.3),
    "sulfate [mmol/d]": (20.0, 1.4),
    "ammonium [mmol/d]": (35.0, 1.4),
    "urate [mg/d]": (550.0, 1.4),
    "volume [L/d]": (1.7, 1.4),
}


def main() -> None:
    rng = np.random.default_rng(2026)
    n = 500
    lines = ["patient_id,sex,age," + ",".join(COLUMNS) + ",pH"]
    values = {k: m * s ** rng.standard_normal(n) for k, (m, s) in COLUMNS.items()}
    ph = np.clip(rng.normal(6.0, 0.5, n), 4.8, 7.6)
    sex = rng.choice(["F", "M"], n)
    age = rng.integers(18, 85, n)
    cells = {k: [f"{v:.4g}" for v in col] for k, col in values.items()}
    ph_cells = [f"{v:.2f}" for v in ph]
    cells["volume [L/d]"][41] = "-1.2"  # a typing error
    ph_cells[97] = ""  # not measured
    cells["calcium [mg/d]"][250] = ""  # lost sample
    ph_cells[333] = "15"  # impossible
    for i in range(n):
        row = [f"U{i + 1:04d}", str(sex[i]), str(age[i]), *(cells[k][i] for k in COLUMNS)]
        lines.append(",".join([*row, ph_cells[i]]))
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {n} rows to {OUT}")


if __name__ == "__main__":
    main()
