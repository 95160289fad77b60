"""Precipitation and threshold throughput: oxalate against USGS PHREEQC on the same rows.

``precipitate``
    Urine-like rows (the ranges of ``bench_speciation.py``, 37 °C, pH 5-7, fixed
    in the initial solution) equilibrated with COM.  PHREEQC runs the same rows
    as one input string: the SOLUTION blocks, then one EQUILIBRIUM_PHASES block
    per row (``Whewellite 0 0``) and RUN_CELLS, on the database that
    ``oxalate.phreeqc.database_text()`` writes from the library's constants.
    Closed systems (PHREEQC's default) and fixed pH (PHREEQC: ``Fix_H+``
    pseudo-phase adding NaOH; oxalate: a(H+) held).
``threshold``
    Plasma-like rows (Ca 1-2.5 mmol/kg, oxalate 2 µmol/kg): the oxalate, added
    as Na2C2O4 in a closed system, at which Ω(COM) = 1.  PHREEQC's equivalent is
    ``Whewellite 0 Na2Ox 1``: it adds Na2C2O4 until SI = 0.  oxalate's fixed-pH
    threshold (no counter-ion), the everyday clinical use, is timed too.

Both engines run in the same process, one after the other, after a warm-up
call; PHREEQC with its default convergence tolerance (1e-8; the reference runs
of the tests use 1e-15, at which PHREEQC fails on a few of these rows).
PHREEQC is timed on at most ``--phreeqc-max`` rows and its rate taken from
that run (it is linear in N).  The largest relative difference from PHREEQC on
those rows is printed as a check.

Usage::

    python benchmarks/bench_precipitation.py                    # N = 1e4, 1e5
    python benchmarks/bench_precipitation.py --sizes 1e3 1e4 --phreeqc-max 2e3

Benchmarks are never timed assertions in the test suite.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

# the same urine-like rows as the speciation benchmark (this folder is on sys.path when
# a script here runs)
from bench_speciation import urine_rows

import oxalate
from oxalate.phreeqc import run as phreeqc_run
from oxalate.phreeqc import run_input, solutions_input
from oxalate.precipitation import precipitate, threshold


def plasma_rows(n: int, seed: int = 1) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Plasma-like totals [mol/kg] with little oxalate, pH 7.35-7.45."""
    rng = np.random.default_rng(seed)

    def u(lo: float, hi: float) -> np.ndarray:
        return rng.uniform(lo, hi, n) * 1e-3

    totals = {
        "Ca": u(1.0, 2.5), "Mg": u(0.6, 1.0), "Na": u(135, 145), "K": u(3.5, 5.0),
        "Cl": u(98, 107), "CO3": u(22, 28), "PO4": u(0.8, 1.45), "SO4": u(0.3, 0.5),
        "Cit": u(0.05, 0.15), "Ox": np.full(n, 2e-6),
    }  # fmt: skip
    return totals, rng.uniform(7.35, 7.45, n)


def best_of(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, out = np.inf, None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def solution(totals: dict[str, np.ndarray], ph: np.ndarray) -> oxalate.Solution:
    return oxalate.Solution.from_molalities(totals, pH=ph, temperature_kelvin=310.15)


def phreeqc_threshold(totals: dict[str, np.ndarray], ph: np.ndarray) -> np.ndarray:
    """Total oxalate after PHREEQC added Na2C2O4 to SI(COM) = 0. [mol/kg initial water]"""
    n = len(ph)
    text = solutions_input(
        totals, pH=ph, temperature_c=37.0, punch=False, convergence_tolerance=None
    )
    blocks = "\n".join(f"EQUILIBRIUM_PHASES {i + 1}\n    Whewellite 0 Na2Ox 1" for i in range(n))
    lines = [
        text,
        "SELECTED_OUTPUT 1\n    -reset false",
        'USER_PUNCH 1\n    -headings ox\n    10 PUNCH TOT("Ox") * TOT("water")',
        blocks,
        f"RUN_CELLS\n    -cells 1-{n}\nEND",
    ]
    return np.asarray(run_input("\n".join(lines))["ox"])


def subset(totals: dict[str, np.ndarray], ph: np.ndarray, m: int) -> tuple[Any, np.ndarray]:
    return {k: v[:m] for k, v in totals.items()}, ph[:m]


def bench_precipitate(n: int, pq_max: int, repeats: int) -> list[tuple[Any, ...]]:
    totals, ph = urine_rows(n)
    s = solution(totals, ph)
    rows = []
    for mode in ("closed", "fixed"):
        t_ox, res = best_of(lambda mode=mode: precipitate(s, ph_mode=mode), repeats)
        m = min(n, pq_max)
        tot_m, ph_m = subset(totals, ph, m)
        t_pq, out = best_of(
            lambda mode=mode, tot_m=tot_m, ph_m=ph_m: phreeqc_run(
                tot_m, pH=ph_m, temperature_c=37.0, equilibrium_phases={"COM": 0.0},
                closed=mode == "closed", convergence_tolerance=None,
            ),
            1,
        )  # fmt: skip
        ours = np.asarray(res.amount["COM"])[:m]
        diff = np.max(np.abs(ours / out["precipitated_COM"] - 1))
        rows.append((f"precipitate ({mode})", n, n / t_ox, m / t_pq, diff, res.converged.mean()))
    return rows


def bench_threshold(n: int, pq_max: int, repeats: int) -> list[tuple[Any, ...]]:
    totals, ph = plasma_rows(n)
    s = solution(totals, ph)
    t_ox, res = best_of(
        lambda: threshold(s, "oxalate", counter_ion="sodium", ph_mode="closed"), repeats
    )
    m = min(n, pq_max)
    tot_m, ph_m = subset(totals, ph, m)
    t_pq, theirs = best_of(lambda: phreeqc_threshold(tot_m, ph_m), 1)
    diff = np.max(np.abs(np.asarray(res.molality)[:m] / theirs - 1))
    rows = [("threshold (closed, Na2C2O4)", n, n / t_ox, m / t_pq, diff, res.converged.mean())]
    t_fix, res_fix = best_of(lambda: threshold(s, "oxalate"), repeats)
    rows.append(("threshold (fixed pH)", n, n / t_fix, np.nan, np.nan, res_fix.converged.mean()))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e4, 1e5])
    parser.add_argument("--phreeqc-max", type=float, default=5e3)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    pq_max = int(args.phreeqc_max)
    print(f"oxalate {oxalate.__version__}, numpy {np.__version__}")
    # warm-up: the first calls load the constant tables (and any compiled kernel)
    warm_t, warm_ph = urine_rows(50, seed=9)
    precipitate(solution(warm_t, warm_ph))
    threshold(solution(*plasma_rows(50, seed=9)), "oxalate")
    header = (
        f"{'':28} {'N':>8} {'oxalate rows/s':>15} {'PHREEQC rows/s':>15} {'ratio':>7} "
        f"{'max rel diff':>13} {'converged':>10}"
    )
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        n = int(size)
        for name, n_rows, ours, theirs, diff, conv in [
            *bench_precipitate(n, pq_max, args.repeats),
            *bench_threshold(n, pq_max, args.repeats),
        ]:
            ratio = ours / theirs if np.isfinite(theirs) else np.nan
            print(
                f"{name:28} {n_rows:8d} {ours:15,.0f} {theirs:15,.0f} {ratio:7.1f} "
                f"{diff:13.1e} {conv:10.4f}"
            )


if __name__ == "__main__":
    main()
