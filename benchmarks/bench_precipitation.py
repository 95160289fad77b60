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
``dilution_for``
    The urine rows, closed: the dilution that brings Ω(COM) to 1 (timed only;
    PHREEQC has no one-keyword equivalent).

oxalate runs its default engine, the compiled kernel (numba), twice: on all of numba's
threads (the default; ``numba.get_num_threads()``, 2 on the project's machine) and on
one thread, as PHREEQC runs.  Both ratios are printed.  ``--numpy`` times the numpy
engine too.

Both libraries run in the same process, one after the other, after a warm-up
call; PHREEQC with its default convergence tolerance (1e-8; the reference runs
of the tests use 1e-15, at which PHREEQC fails on a few of these rows).
PHREEQC is timed on at most ``--phreeqc-max`` rows, best of two runs like oxalate's
best of ``--repeats``, and its rate taken from that (it is linear in N).  The
largest relative difference from PHREEQC on those rows is printed as a check.

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
from bench_speciation import threads, urine_rows

import oxalate
from oxalate.phreeqc import run as phreeqc_run
from oxalate.phreeqc import run_input, solutions_input
from oxalate.precipitation import dilution_for, precipitate, threshold


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


def time_ours(fn: Callable[[], Any], repeats: int, engines: list[str]) -> dict[str, float]:
    """Seconds of ``fn`` (best of ``repeats``) per setting: 'all' threads, '1' thread, 'numpy'."""
    out = {}
    for setting in engines:
        with threads(1 if setting == "1" else None):
            out[setting] = best_of(lambda s=setting: fn(s), repeats)[0]  # type: ignore[call-arg]
    return out


def bench_precipitate(n: int, pq_max: int, repeats: int, engines: list[str]) -> list[Any]:
    totals, ph = urine_rows(n)
    s = solution(totals, ph)
    rows = []
    for mode in ("closed", "fixed"):

        def ours(setting: str, mode: str = mode) -> Any:
            engine = "numpy" if setting == "numpy" else "auto"
            return precipitate(s, ph_mode=mode, engine=engine)

        times = time_ours(ours, repeats, engines)  # type: ignore[arg-type]
        res = ours("all")
        m = min(n, pq_max)
        tot_m, ph_m = subset(totals, ph, m)
        t_pq, out = best_of(
            lambda mode=mode, tot_m=tot_m, ph_m=ph_m: phreeqc_run(
                tot_m, pH=ph_m, temperature_c=37.0, equilibrium_phases={"COM": 0.0},
                closed=mode == "closed", convergence_tolerance=None,
            ),
            min(repeats, 2),
        )  # fmt: skip
        diff = np.max(np.abs(np.asarray(res.amount["COM"])[:m] / out["precipitated_COM"] - 1))
        rows.append((f"precipitate ({mode})", n, times, m / t_pq, diff, res.converged.mean()))
    return rows


def bench_threshold(n: int, pq_max: int, repeats: int, engines: list[str]) -> list[Any]:
    totals, ph = plasma_rows(n)
    s = solution(totals, ph)

    def closed(setting: str) -> Any:
        engine = "numpy" if setting == "numpy" else "auto"
        return threshold(s, "oxalate", counter_ion="sodium", ph_mode="closed", engine=engine)

    def fixed(setting: str) -> Any:
        return threshold(s, "oxalate", engine="numpy" if setting == "numpy" else "auto")

    times = time_ours(closed, repeats, engines)  # type: ignore[arg-type]
    res = closed("all")
    m = min(n, pq_max)
    tot_m, ph_m = subset(totals, ph, m)
    t_pq, theirs = best_of(lambda: phreeqc_threshold(tot_m, ph_m), min(repeats, 2))
    diff = np.max(np.abs(np.asarray(res.molality)[:m] / theirs - 1))
    rows = [("threshold (closed, Na2C2O4)", n, times, m / t_pq, diff, res.converged.mean())]
    times_f = time_ours(fixed, repeats, engines)  # type: ignore[arg-type]
    conv_f = fixed("all").converged.mean()
    rows.append(("threshold (fixed pH)", n, times_f, np.nan, np.nan, conv_f))
    return rows


def bench_dilution(n: int, repeats: int, engines: list[str]) -> list[Any]:
    """dilution_for on the urine rows, closed (no PHREEQC equivalent in one keyword)."""
    s = solution(*urine_rows(n))

    def closed(setting: str) -> Any:
        engine = "numpy" if setting == "numpy" else "auto"
        return dilution_for(s, ph_mode="closed", engine=engine)

    times = time_ours(closed, repeats, engines)  # type: ignore[arg-type]
    return [("dilution_for (closed)", n, times, np.nan, np.nan, closed("all").converged.mean())]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e4, 1e5])
    parser.add_argument("--phreeqc-max", type=float, default=5e3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--numpy", action="store_true", help="time the numpy engine too")
    args = parser.parse_args()
    pq_max = int(args.phreeqc_max)
    engines = ["all", "1"] + (["numpy"] if args.numpy else [])
    import numba

    n_threads = numba.get_num_threads()
    print(f"oxalate {oxalate.__version__}, numpy {np.__version__}, numba {numba.__version__}, "
          f"{n_threads} threads")  # fmt: skip
    # warm-up: the first calls load the constant tables (and compile or load the kernels)
    warm_t, warm_ph = urine_rows(50, seed=9)
    precipitate(solution(warm_t, warm_ph))
    threshold(solution(*plasma_rows(50, seed=9)), "oxalate")
    labels = {"all": f"{n_threads} thr", "1": "1 thr", "numpy": "numpy"}
    cols = "".join(f" {labels[e] + ' rows/s':>15}" for e in engines)
    ratios = "".join(f" {'ratio ' + labels[e]:>13}" for e in engines)
    header = (
        f"{'':28} {'N':>7}{cols} {'PHREEQC rows/s':>15}{ratios} {'max rel diff':>13} "
        f"{'converged':>10}"
    )
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        n = int(size)
        for name, n_rows, times, theirs, diff, conv in [
            *bench_precipitate(n, pq_max, args.repeats, engines),
            *bench_threshold(n, pq_max, args.repeats, engines),
            *bench_dilution(n, args.repeats, engines),
        ]:
            rates = {e: n_rows / times[e] for e in engines}
            line = f"{name:28} {n_rows:7d}" + "".join(f" {rates[e]:15,.0f}" for e in engines)
            line += f" {theirs:15,.0f}"
            line += "".join(f" {rates[e] / theirs:13.1f}" for e in engines)
            print(f"{line} {diff:13.1e} {conv:10.4f}")


if __name__ == "__main__":
    main()
