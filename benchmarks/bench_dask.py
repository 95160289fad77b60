"""Beyond one machine: oxalate.xarray on a dask LocalCluster against one process.

The same synthetic urines as ``bench_big_batches.py`` (the ranges of
ECOSYSTEM.md section 1.1, molal, pH 5-7, 37 °C) are speciated, and SI(COM),
SI(COD), SI(brushite), I and ``converged`` kept, by:

* **one process**: one ``oxalate.speciate(..., outputs=[...])`` call on all rows,
  on numba's 2 threads and on 1 (the inputs made in the process with numpy);
* **cluster**: ``oxalate.xarray.speciate`` on dask-backed DataArrays, on a
  ``distributed.LocalCluster`` of W worker processes × T threads.  Each chunk's
  inputs are drawn on the worker (``dask.array.random``), so no rows cross the
  wire; each task's results are summed there and only the sums come back
  (write them from the workers, e.g. ``to_zarr``, in real use);
* **threads**: the same graph on dask's threaded scheduler, no cluster.

Reported per configuration: wall time of the compute (best of ``--repeats``),
rows/s, chunks, and the peak RSS of each worker process (``VmHWM``; the
workers are restarted before each configuration, so the peak is that run's).
From the chunk sweep: the wall cost of one more task (the slope of time against
tasks, times the workers: core-seconds per task).  Scaling efficiency: rows/s
on 2 workers over twice the rows/s on 1.  Before timing, a small grid is run on
the cluster and compared bit for bit with one call in this process.

Usage::

    python benchmarks/bench_dask.py --rows 1e7
    python benchmarks/bench_dask.py --rows 1e8 --configs 2x1 --chunks 1e5 --no-single

The machine is shared and has 2 cores: run twice before comparing, and say
what else ran.  Benchmarks are never timed assertions in the test suite.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import oxalate

OUTPUTS = ["SI_COM", "SI_COD", "SI_brushite", "ionic_strength"]
RANGES = {"calcium": (2, 8), "magnesium": (2, 5), "sodium": (100, 200),
          "potassium": (40, 80), "chloride": (100, 200), "oxalate": (0.1, 0.6),
          "citrate": (1, 4), "phosphate": (10, 30), "sulfate": (10, 20)}  # fmt: skip


def lazy_inputs(n: int, chunk: int, seed: int = 2026) -> dict[str, Any]:
    """Dask-backed DataArrays of n urines (mmol/kg, pH), drawn chunk by chunk where they run."""
    import dask.array as da
    import xarray as xr

    rng = da.random.default_rng(seed)
    out: dict[str, Any] = {}
    for name, (lo, hi) in RANGES.items():
        values = rng.uniform(lo, hi, size=n, chunks=chunk)
        out[name] = xr.DataArray(values, dims="row", attrs={"units": "mmol/kg"})
    out["pH"] = xr.DataArray(rng.uniform(5.0, 7.0, size=n, chunks=chunk), dims="row")
    return out


def cluster_run(n: int, chunk: int) -> Callable[[], float]:
    """The lazy computation: sums of the outputs and the count of converged rows."""
    import oxalate.xarray as oxr

    inputs = lazy_inputs(n, chunk)
    ds = oxr.speciate(**inputs, temperature="37 degC", outputs=OUTPUTS)
    total = sum(ds[o].sum() for o in OUTPUTS) + ds["converged"].sum()

    def run() -> float:
        return float(total.compute())

    run.tasks = tasks_of(total)  # type: ignore[attr-defined]
    return run


def tasks_of(lazy: Any) -> int:
    """Tasks in the optimised graph (what the scheduler runs)."""
    import dask

    (optimised,) = dask.optimize(lazy.data)
    return len(dict(optimised.__dask_graph__()))


def single_process(n: int, threads: int, seed: int = 2026) -> tuple[float, float, float]:
    """(seconds, the same checksum, peak RSS in GB of this process) for one call on n rows."""
    import numba

    numba.set_num_threads(threads)
    t0 = time.perf_counter()  # drawing the inputs counts, as it does on the cluster
    rng = np.random.default_rng(seed)
    kwargs = {
        k: oxalate.Quantity(rng.uniform(lo, hi, n), "mmol/kg") for k, (lo, hi) in RANGES.items()
    }
    s = oxalate.Solution(**kwargs, pH=rng.uniform(5.0, 7.0, n), temperature="37 degC")
    r = oxalate.speciate(s, outputs=OUTPUTS)
    check = float(sum(np.sum(r[o]) for o in OUTPUTS) + np.sum(r.converged))
    seconds = time.perf_counter() - t0
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    return seconds, check, _peak_gb()


def _peak_gb() -> float:
    """This process's peak RSS (VmHWM: unlike ru_maxrss, not inherited through fork/exec)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1e6  # kB -> GB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def check_bits(client: Any) -> bool:
    """A 30,000-point chunked run on the cluster equals one call here, bit for bit."""
    import oxalate.xarray as oxr

    inputs = lazy_inputs(30_000, 7_000, seed=1)
    ds = oxr.speciate(**inputs, temperature="37 degC", outputs=OUTPUTS).compute()
    values = {k: v.values for k, v in inputs.items()}  # the same draws, computed here
    plain = oxalate.speciate(
        oxalate.Solution(
            **{k: oxalate.Quantity(values[k], "mmol/kg") for k in RANGES},
            pH=values["pH"],
            temperature="37 degC",
        ),
        outputs=OUTPUTS,
    )
    return all(np.array_equal(ds[o].values, plain[o], equal_nan=True) for o in OUTPUTS)


def best(fn: Callable[[], float], repeats: int) -> tuple[float, float]:
    times, value = [], 0.0
    for _ in range(repeats):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return min(times), value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=float, default=1e7)
    parser.add_argument("--chunks", type=float, nargs="+", default=[1e4, 3e4, 1e5, 3e5, 1e6])
    parser.add_argument(
        "--configs", nargs="+", default=["1x1", "2x1", "1x2"], help="workers x threads"
    )
    parser.add_argument("--best-chunk", type=float, default=1e5, help="chunk of the configs")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--no-single", action="store_true", help="skip the one-process runs")
    parser.add_argument("--no-threads", action="store_true", help="skip dask's threads")
    args = parser.parse_args()
    n = int(args.rows)

    import dask
    import distributed

    import oxalate.dask as odask

    oxalate.compile(("speciate",))  # here first: the workers load it from the disk cache
    print(f"rows {n:,}; cores {os.cpu_count()}; load average {os.getloadavg()[0]:.2f}")
    cache = os.environ.get("OXALATE_CACHE_DIR")
    print(f"dask {dask.__version__}, distributed {distributed.__version__}, "
          f"oxalate {oxalate.__version__}; OXALATE_CACHE_DIR={cache}")  # fmt: skip
    print()
    print("| configuration | chunk | chunks (tasks) | time [s] | rows/s "
          "| peak RSS per worker [GB] |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    results: dict[tuple[str, int], float] = {}

    def row(name: str, chunk: int | str, tasks: Any, seconds: float, peak: str) -> None:
        print(f"| {name} | {chunk} | {tasks} | {seconds:.1f} | {n / seconds:,.0f} | {peak} |",
              flush=True)  # fmt: skip

    if not args.no_single:
        for threads in (2, 1):
            seconds, _, peak = single_process(n, threads)
            row(f"one process, one call, {threads} numba thread(s)", "-", "-", seconds,
                f"{peak:.2f} (this process, cumulative)")  # fmt: skip
            results[(f"single{threads}", 0)] = seconds

    sweep = [int(c) for c in args.chunks]
    best_chunk = int(args.best_chunk)
    plan: list[tuple[str, list[int]]] = []
    for config in args.configs:
        plan.append((config, sweep if config == "2x1" else [best_chunk]))
    for config, chunks in plan:
        workers, threads = (int(x) for x in config.split("x"))
        with (
            distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=threads,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.ERROR,
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            odask.prepare(client, ("speciate",))
            if config == plan[0][0]:
                same = check_bits(client)
                print(f"\nbits equal to one call (30,000 points, 5 chunks): {same}\n")
            for chunk in chunks:
                client.restart()  # fresh worker processes: the peak RSS is this run's
                cluster_run(20_000, 5_000)()  # warm: kernels loaded, imports done
                run = cluster_run(n, chunk)
                seconds, _ = best(run, args.repeats)
                peaks = client.run(_peak_gb)
                peak = ", ".join(f"{p:.2f}" for p in peaks.values())
                tasks = f"{-(-n // chunk)} ({run.tasks})"  # type: ignore[attr-defined]
                row(f"LocalCluster {workers} worker(s) x {threads} thread(s)", f"{chunk:,}",
                    tasks, seconds, peak)  # fmt: skip
                results[(config, chunk)] = seconds
    if not args.no_threads:
        with dask.config.set(scheduler="threads", num_workers=2):
            run = cluster_run(20_000, 5_000)
            run()
            seconds, _ = best(cluster_run(n, best_chunk), args.repeats)
        peak = f"{_peak_gb():.2f} (this process, cumulative)"
        row("dask threaded scheduler, 2 threads (no cluster)", f"{best_chunk:,}",
            -(-n // best_chunk), seconds, peak)  # fmt: skip
        results[("threads", best_chunk)] = seconds

    print()
    if ("1x1", best_chunk) in results and ("2x1", best_chunk) in results:
        eff = results[("1x1", best_chunk)] / (2 * results[("2x1", best_chunk)])
        print(f"scaling 1 -> 2 workers at {best_chunk:,}-row chunks: {eff:.0%} of ideal")
    timed = sorted((c, t) for (cfg, c), t in results.items() if cfg == "2x1")
    if len(timed) >= 2:
        (c0, t0), (c1, t1) = timed[0], min(timed[1:], key=lambda ct: ct[1])
        extra = -(-n // c0) - -(-n // c1)
        if extra > 0:
            per_chunk = (t0 - t1) / extra * 2  # 2 workers: wall x workers = core time
            print(f"cost of one more chunk (2 workers, {c0:,} vs {c1:,} rows): "
                  f"{per_chunk * 1e3:.1f} core-ms")  # fmt: skip
        fastest = min(timed, key=lambda ct: ct[1])
        print(f"best chunk on 2 workers: {fastest[0]:,} rows")


if __name__ == "__main__":
    main()
