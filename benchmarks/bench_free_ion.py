"""Free-ion supersaturation: ``oxalate.supersaturation`` against bare numpy.

Both compute the same thing on the same rows, in the same process: Ω of
calcium oxalate monohydrate at 37 °C for calcium and oxalate in mmol/L with a
150 mmol/L NaCl background, converted to molality with PHREEQC's convention,
PHREEQC's Davies activity coefficient, a_w = 1 - 0.017 Σm and Ksp by van 't
Hoff.  The numpy version is written out inline below with the constants of
REFERENCE §1-§4 (A at 37 °C fixed at 0.52114364, where the library also
applies PHREEQC's small a_w correction to A).

Reported per size: the best of several repeats (``time.perf_counter``), the
ratio library / numpy (target ≤ 3×), and the peak memory of each call as
measured by ``tracemalloc`` (numpy reports its array buffers to it), in a
separate pass so that tracing does not slow the timed runs.  Inputs are built
before timing: the library gets pint Quantity arrays in mmol/L, numpy the
float arrays behind them.

Usage::

    python benchmarks/bench_free_ion.py                  # 1e6 and 1e7 rows
    python benchmarks/bench_free_ion.py --sizes 1e5 1e6 --repeats 7
    python benchmarks/bench_free_ion.py --profile        # where the library's time goes

Benchmarks are never timed assertions in the test suite.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import math
import os
import platform
import pstats
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

import oxalate

# --- the formula, written out (REFERENCE §1, §2, §4) ---------------------------------------
A_37 = 0.52114364  # Debye-Hückel A at 37 °C, PHREEQC 3.8.6 [(kg/mol)^0.5]
T_K = 310.15  # 37 °C [K]
LOG_KSP_25 = math.log10(2.3e-9)  # COM, 25 °C
DELTA_H = 21.5  # COM dissolution enthalpy [kJ/mol] (Hummel et al. 2005)
R_KJ = 8.31470e-3  # PHREEQC's gas constant [kJ/(mol K)]
LN10 = math.log(10.0)
M_CA, M_OX, M_NA, M_CL = 40.078, 88.019, 22.98977, 35.453  # [g/mol]
NACL = 0.150  # background [mol/L]
RHO = 1.0  # solution density [kg/L]


def omega_numpy(ca_mmol_l: np.ndarray, ox_mmol_l: np.ndarray) -> np.ndarray:
    """Ω of COM at 37 °C, bare numpy, the same formula as the library's free-ion Ω."""
    ca = ca_mmol_l * 1e-3
    ox = ox_mmol_l * 1e-3
    water = RHO - (ca * M_CA + ox * M_OX + NACL * (M_NA + M_CL)) / 1000.0
    m_ca = ca / water
    m_ox = ox / water
    m_na = NACL / water
    i = 2.0 * (m_ca + m_ox) + m_na  # ½ (4 m_Ca + 4 m_Ox + m_Na + m_Cl)
    a_w = 1.0 - 0.017 * (m_ca + m_ox + 2.0 * m_na)
    sqrt_i = np.sqrt(i)
    log_gamma2 = -4.0 * A_37 * (sqrt_i / (1.0 + sqrt_i) - 0.3 * i)
    log_ksp = LOG_KSP_25 - DELTA_H * (298.15 - T_K) / (LN10 * R_KJ * T_K * 298.15)
    return m_ca * m_ox * a_w * 10.0 ** (2.0 * log_gamma2 - log_ksp)


def omega_library(ca: Any, ox: Any) -> np.ndarray:
    out: np.ndarray = oxalate.supersaturation(
        ca, ox, temperature="37 degC", background="150 mmol/L NaCl"
    )
    return out


# --- harness -----------------------------------------------------------------------------------


def inputs(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Urine-like calcium 1-8 mmol/L and oxalate 0.05-0.6 mmol/L (REFERENCE §6 ranges)."""
    rng = np.random.default_rng(seed)
    return rng.uniform(1.0, 8.0, n), rng.uniform(0.05, 0.6, n)


def best_time(function: Callable[[], Any], repeats: int) -> float:
    best = math.inf
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def peak_memory(function: Callable[[], Any]) -> int:
    """Peak bytes allocated during one call (tracemalloc), the result included."""
    gc.collect()
    tracemalloc.start()
    try:
        result = function()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del result
    return peak


def measure(n: int, repeats: int) -> dict[str, float]:
    """Time and memory of both versions on ``n`` rows."""
    ca, ox = inputs(n)
    ca_q, ox_q = oxalate.Quantity(ca, "mmol/L"), oxalate.Quantity(ox, "mmol/L")

    def library() -> np.ndarray:
        return omega_library(ca_q, ox_q)

    def bare() -> np.ndarray:
        return omega_numpy(ca, ox)

    # warm-up, and the agreement check: the library also applies PHREEQC's
    # a_w correction to A (< 1e-7), so Ω agrees to ~1e-8.
    max_rel = float(np.max(np.abs(library() / bare() - 1.0)))
    reps = max(2, repeats if n <= 2_000_000 else repeats // 2)
    t_lib = best_time(library, reps)
    t_np = best_time(bare, reps)
    return {
        "n": n,
        "t_lib": t_lib,
        "t_np": t_np,
        "ratio": t_lib / t_np,
        "mem_lib": peak_memory(library),
        "mem_np": peak_memory(bare),
        "max_rel": max_rel,
        "repeats": reps,
    }


def print_table(rows: list[dict[str, float]]) -> None:
    print(
        f"numpy {np.__version__}, python {platform.python_version()}, "
        f"{os.cpu_count()} CPU(s); best of N repeats; peak memory by tracemalloc"
    )
    header = (
        f"{'rows':>10} {'oxalate [s]':>12} {'numpy [s]':>10} {'ratio':>6} "
        f"{'oxalate MB':>11} {'numpy MB':>9} {'B/row ox':>9} {'B/row np':>9} {'max |rel|':>10}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        n = r["n"]
        print(
            f"{n:>10.0e} {r['t_lib']:>12.4f} {r['t_np']:>10.4f} {r['ratio']:>5.2f}x "
            f"{r['mem_lib'] / 1e6:>11.1f} {r['mem_np'] / 1e6:>9.1f} "
            f"{r['mem_lib'] / n:>9.0f} {r['mem_np'] / n:>9.0f} {r['max_rel']:>10.1e}"
        )
    worst = max(r["ratio"] for r in rows)
    verdict = "meets" if worst <= 3.0 else "MISSES"
    print(f"target: oxalate within 3x of bare numpy -> {verdict} (worst {worst:.2f}x)")


def profile(n: int) -> None:
    ca, ox = inputs(n)
    ca_q, ox_q = oxalate.Quantity(ca, "mmol/L"), oxalate.Quantity(ox, "mmol/L")
    omega_library(ca_q, ox_q)
    profiler = cProfile.Profile()
    profiler.enable()
    omega_library(ca_q, ox_q)
    profiler.disable()
    print(f"\nprofile of one oxalate.supersaturation call on {n:.0e} rows (tottime):")
    pstats.Stats(profiler).sort_stats("tottime").print_stats(12)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="cProfile the largest size")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes]
    print_table([measure(n, args.repeats) for n in sizes])
    if args.profile:
        profile(max(sizes))


if __name__ == "__main__":
    main()
