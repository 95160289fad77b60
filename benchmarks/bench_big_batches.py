"""Big batches on one machine: one call, a chunked loop, outputs=, threads and processes.

The same synthetic urines (the ranges of ECOSYSTEM.md section 1.1, 37 °C) are
speciated, and SI(COM), SI(COD), SI(brushite), I and ``converged`` kept, by:

* **one call**: ``speciate`` on every row, the full result, then the five outputs;
* **chunked loop**: a Python loop of 1e5-row ``speciate`` calls (the fastest way
  before the engines chunked by themselves);
* **outputs=**: one ``speciate(..., outputs=[...])`` call, which keeps only those;
* **thread pool**: 2 threads, each a share of 1e5-row ``outputs=`` calls (the
  kernels release the GIL; off the main thread each call runs on one numba
  thread), against the same on 1 thread;
* **processes**: a pool of 2 processes with ``NUMBA_NUM_THREADS=1``.

Reported: rows per second and the peak memory the work allocated (tracemalloc, a
separate run) per row.  In one process the compiled kernels use numba's threads
(``numba.get_num_threads()``, 2 here).

Usage::

    python benchmarks/bench_big_batches.py --sizes 1e6 1e7

Benchmarks are never timed assertions in the test suite.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import os
import time
import tracemalloc
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np

import oxalate

OUTPUTS = ["SI_COM", "SI_COD", "SI_brushite", "ionic_strength"]
RANGES = {"Ca": (2, 8), "Mg": (2, 5), "Na": (100, 200), "K": (40, 80), "Cl": (100, 200),
          "Ox": (0.1, 0.6), "Cit": (1, 4), "PO4": (10, 30), "SO4": (10, 20)}  # fmt: skip
CHUNK = 100_000


def rows(n: int, seed: int = 2026) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    totals = {k: rng.uniform(lo, hi, n) * 1e-3 for k, (lo, hi) in RANGES.items()}
    return totals, rng.uniform(5.0, 7.0, n)


def _solution(totals: dict[str, np.ndarray], ph: np.ndarray) -> oxalate.Solution:
    return oxalate.Solution.from_arrays(totals, pH=ph, temperature_kelvin=310.15)


def one_call(totals: dict[str, np.ndarray], ph: np.ndarray) -> np.ndarray:
    r = oxalate.speciate(_solution(totals, ph))
    si = r.saturation_index
    return np.stack([si["COM"], si["COD"], si["brushite"], r.ionic_strength, r.converged], 1)


def chunked_loop(totals: dict[str, np.ndarray], ph: np.ndarray) -> np.ndarray:
    n = len(ph)
    out = np.empty((n, 5))
    for lo in range(0, n, CHUNK):
        sl = slice(lo, min(lo + CHUNK, n))
        out[sl] = one_call({k: v[sl] for k, v in totals.items()}, ph[sl])
    return out


def with_outputs(totals: dict[str, np.ndarray], ph: np.ndarray) -> np.ndarray:
    r = oxalate.speciate(_solution(totals, ph), outputs=OUTPUTS)
    return np.stack([*(r[o] for o in OUTPUTS), r.converged], 1)


def _block(args: tuple[dict[str, np.ndarray], np.ndarray]) -> np.ndarray:
    return with_outputs(*args)


def _blocks(
    totals: dict[str, np.ndarray], ph: np.ndarray
) -> list[tuple[dict[str, np.ndarray], np.ndarray]]:
    n = len(ph)
    return [
        ({k: v[lo : lo + CHUNK] for k, v in totals.items()}, ph[lo : lo + CHUNK])
        for lo in range(0, n, CHUNK)
    ]


def thread_pool(workers: int) -> Callable[[dict[str, np.ndarray], np.ndarray], np.ndarray]:
    def run(totals: dict[str, np.ndarray], ph: np.ndarray) -> np.ndarray:
        with ThreadPoolExecutor(workers) as pool:
            return np.concatenate(list(pool.map(_block, _blocks(totals, ph))))

    return run


def _init_worker() -> None:
    import numba

    numba.set_num_threads(1)


def process_pool(totals: dict[str, np.ndarray], ph: np.ndarray) -> np.ndarray:
    ctx = mp.get_context("spawn")
    with ctx.Pool(2, initializer=_init_worker) as pool:
        return np.concatenate(pool.map(_block, _blocks(totals, ph)))


def best_time(fn: Callable[[], np.ndarray], repeats: int) -> tuple[float, np.ndarray]:
    out = fn()
    times = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def peak_bytes(fn: Callable[[], np.ndarray]) -> int:
    gc.collect()
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return int(peak)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--no-processes", action="store_true")
    args = parser.parse_args()
    import numba

    print(f"oxalate {oxalate.__version__}, numba {numba.__version__}, "
          f"{numba.get_num_threads()} numba threads, {os.cpu_count()} CPUs")  # fmt: skip
    oxalate.speciate(_solution(*rows(3000)))  # load the kernels
    for n in (int(s) for s in args.sizes):
        totals, ph = rows(n)
        ways: dict[str, Callable[[dict[str, np.ndarray], np.ndarray], np.ndarray]] = {
            "one call (full result)": one_call,
            "chunked loop, 1e5-row calls": chunked_loop,
            "one call, outputs=": with_outputs,
            "thread pool, 1 thread": thread_pool(1),
            "thread pool, 2 threads": thread_pool(2),
        }
        if not args.no_processes:
            ways["process pool, 2 processes"] = process_pool
        cases = {label: partial(way, totals, ph) for label, way in ways.items()}
        print(f"\nN = {n:.0e}")
        print(f"{'':32} {'rows/s':>10} {'peak B/row':>11}  same as one call")
        reference = None
        for label, fn in cases.items():
            seconds, out = best_time(fn, args.repeats)
            peak = peak_bytes(fn) if "process" not in label else -1
            if reference is None:
                reference = out
            same = bool(np.array_equal(out, reference, equal_nan=True))
            shown = f"{peak / n:11.0f}" if peak >= 0 else f"{'(workers)':>11}"
            print(f"{label:32} {n / seconds:10,.0f} {shown}  {same}")


if __name__ == "__main__":
    main()
