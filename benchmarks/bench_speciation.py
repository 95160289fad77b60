"""Speciation throughput: oxalate.speciate against USGS PHREEQC on the same rows.

Both engines speciate the same urine-like compositions (REFERENCE §5 ranges) at
37 °C with the same constant set (PHREEQC runs on the database that
``oxalate.phreeqc.database_text()`` generates from the library's own tables),
in the same process, one after the other.  PHREEQC gets all rows as one input
string with N SOLUTION blocks, its fastest mode.  Reported: rows per second,
the ratio, peak memory per row of ``speciate`` (tracemalloc), and the time of
a first call in a fresh interpreter (import + first speciate).

Usage::

    python benchmarks/bench_speciation.py                 # N = 1e3 ... 1e6
    python benchmarks/bench_speciation.py --sizes 1e3 1e4 --phreeqc-max 1e4

PHREEQC is timed on at most ``--phreeqc-max`` rows (default 2e4) and its
rate is taken from that run: it is linear in N, and 1e6 rows would take
minutes.  Benchmarks are never timed assertions in the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator

import numpy as np

import oxalate
from oxalate.database import COMPONENTS
from oxalate.phreeqc import run as phreeqc_run


def urine_rows(n: int, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Urine-like totals [mol/kg] and pH, uniformly over the ranges of issue 3."""
    rng = np.random.default_rng(seed)

    def u(lo: float, hi: float) -> np.ndarray:
        return rng.uniform(lo, hi, n) * 1e-3

    totals = {
        "Ca": u(2, 8), "Mg": u(2, 5), "Na": u(100, 200), "K": u(40, 80), "Cl": u(100, 200),
        "Ox": u(0.1, 0.6), "Cit": u(1, 4), "PO4": u(10, 30), "SO4": u(10, 20),
    }  # fmt: skip
    return totals, rng.uniform(5.0, 7.0, n)


@contextlib.contextmanager
def threads(k: int | None) -> Iterator[None]:
    """Run the compiled kernels on k of numba's threads (None: all of them)."""
    try:
        import numba
    except ImportError:
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS if k is None else k)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def first_call_seconds() -> float:
    code = (
        "import time; t=time.perf_counter(); import oxalate;"
        "r=oxalate.speciate(oxalate.Solution(calcium='4 mmol/L', oxalate='0.3 mmol/L',"
        "sodium='150 mmol/L', chloride='150 mmol/L', citrate='3 mmol/L', pH=6.0,"
        "temperature='37 degC')); print(time.perf_counter()-t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e3, 1e4, 1e5, 1e6])
    parser.add_argument("--phreeqc-max", type=float, default=2e4)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"oxalate {oxalate.__version__}, numpy {np.__version__}")
    print(f"first call in a fresh process (import + speciate): {first_call_seconds():.2f} s")
    engines = [("numpy", None)]
    try:
        import numba

        # the kernel on all of numba's threads (the default) and on one, as PHREEQC runs
        engines = [("numba", None), ("numba", 1), *engines]
        print(f"numba {numba.__version__}, {numba.config.NUMBA_NUM_THREADS} threads")
    except ImportError:
        print("numba not installed: the compiled kernel is not measured")
    header = (
        f"{'N':>9} {'engine':>9} {'oxalate rows/s':>15} {'PHREEQC rows/s':>15} {'ratio':>7} "
        f"{'peak B/row':>11} {'max |dSI|':>10}"
    )
    print(header)
    print("-" * len(header))
    for size in args.sizes:
        n = int(size)
        totals, ph = urine_rows(n)
        sol = oxalate.Solution.from_molalities(totals, pH=ph, temperature_kelvin=310.15)
        repeats = args.repeats if n <= 1e5 else 2  # big batches: one run to fault the pages in
        n_p = min(n, int(args.phreeqc_max))
        sub = {k: v[:n_p] for k, v in totals.items()}
        t_p = best_of(lambda: phreeqc_run(sub, pH=ph[:n_p], temperature_c=37.0), 1)  # noqa: B023
        ref = phreeqc_run(sub, pH=ph[:n_p], temperature_c=37.0)
        rate_p = n_p / t_p
        for engine, k in engines:
            oxalate.speciate(sol[:2], engine=engine)  # compile or load the kernel first
            with threads(k):
                t_ox = best_of(lambda: oxalate.speciate(sol, engine=engine), repeats)  # noqa: B023
                tracemalloc.start()
                result = oxalate.speciate(sol, engine=engine)
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
            label = engine if engine == "numpy" else f"numba×{k or 'all'}"
            dsi = float(np.max(np.abs(result.saturation_index["COM"][:n_p] - ref["si_COM"])))
            rate_ox = n / t_ox
            print(
                f"{n:>9.0e} {label:>9} {rate_ox:>15,.0f} {rate_p:>15,.0f} "
                f"{rate_ox / rate_p:>7.1f} {peak / n:>11,.0f} {dsi:>10.1e}"
            )
    assert set(totals) <= set(COMPONENTS)


if __name__ == "__main__":
    main()
