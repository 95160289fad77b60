"""Seeded COM growth for one hour: oxalate.crystallize against PHREEQC KINETICS, same rows.

Urine-like rows at 37 °C (the ranges of ``tests/test_kinetics_phreeqc.py``, Ω(COM)
4-17), 50 mg/kg of 5 µm COM seeds growing at G = k σ² (k = 3e-11 m/s), closed
pH.  oxalate integrates every row at ``rtol=1e-6`` with outputs every 10 min;
PHREEQC integrates the same rate, written as its ``RATES`` BASIC (dξ/dt =
PARM(1) (M/M0)^(2/3) σ², the exact area law of monodisperse seeds), over
``-steps 3600 in 36 steps`` with its default Runge-Kutta, one SOLUTION and
KINETICS block per row in one input.  Both on one core (numba's threads set
to 1).  PHREEQC runs on at most ``--phreeqc-max`` rows and its rate is taken
as rows/s (its cost is linear in the rows: one independent run per row).

Reported: rows/s of each, the ratio, and the largest relative difference of
ξ(1 h) over the rows both ran.

Usage::

    python benchmarks/bench_kinetics.py [--rows 10000 --phreeqc-max 1000]

Benchmarks are never timed assertions in the test suite.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import oxalate
from oxalate.kinetics import Growth, Seeds, default_solid
from oxalate.phreeqc import run_input, solutions_input

COM_MOLAR_MASS = 0.14611228  # kg/mol
K_GROWTH = 3e-11  # m/s
SEED_SIZE = 5e-6  # m
SEED_AMOUNT = 50e-6 / COM_MOLAR_MASS  # 50 mg/kg in mol/kg
RANGES = {
    "Ca": (2e-3, 8e-3), "Mg": (2e-3, 5e-3), "Na": (0.1, 0.2), "K": (0.04, 0.08),
    "Cl": (0.1, 0.2), "Ox": (2e-4, 6e-4), "Cit": (1e-3, 4e-3), "PO4": (1e-2, 3e-2),
    "SO4": (1e-2, 2e-2),
}  # fmt: skip
TIMES = np.arange(0.0, 3601.0, 600.0)


def rows(n: int, seed: int = 7) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    totals = {k: rng.uniform(lo, hi, n) for k, (lo, hi) in RANGES.items()}
    return totals, rng.uniform(5.0, 7.0, n)


def ours(totals: dict[str, np.ndarray], ph: np.ndarray) -> np.ndarray:
    s = oxalate.Solution.from_molalities(totals, pH=ph, temperature_kelvin=310.15)
    seeds = Seeds(amount=oxalate.Quantity(SEED_AMOUNT, "mol/kg"), size=f"{SEED_SIZE} m")
    r = oxalate.crystallize(
        s, oxalate.Quantity(TIMES, "s"), growth=Growth(f"{K_GROWTH} m/s"), seeds=seeds, rtol=1e-6
    )
    assert r.converged.all()
    return np.asarray(r.amount["COM"][-1])


def _parm() -> float:
    solid = default_solid("COM")
    vm = solid.molar_volume(COM_MOLAR_MASS)
    kv = solid.volume_factor
    number = SEED_AMOUNT * vm / (kv * SEED_SIZE**3)
    return 3.0 * kv * number * SEED_SIZE**2 * K_GROWTH / vm


def phreeqc(totals: dict[str, np.ndarray], ph: np.ndarray, tol: float = 1e-8) -> np.ndarray:
    text = solutions_input(
        totals, pH=ph, temperature_c=37.0, punch=False, convergence_tolerance=1e-12
    )
    head, *blocks = text.split("SOLUTION ")
    rate = "PARM(1) * (M/M0)^(2/3) * (SQRT(s_r) - 1)^2"
    lines = [
        head,
        "RATES", "Whewellite", "-start", '10 s_r = SR("Whewellite")', "20 rate = 0",
        f"30 IF s_r > 1 THEN rate = {rate}", "40 SAVE -rate * TIME", "-end",
        "SELECTED_OUTPUT 1", "-reset false", "USER_PUNCH 1", "-headings t kin",
        '10 PUNCH TOTAL_TIME, KIN("Whewellite")', "INCREMENTAL_REACTIONS true",
    ]  # fmt: skip
    for block in blocks:
        body = block.replace("END\n", "").rstrip().splitlines()[1:]
        lines += ["SOLUTION 1", *body]
        lines += [
            "KINETICS 1", "Whewellite", f"    -m {SEED_AMOUNT!r}", f"    -m0 {SEED_AMOUNT!r}",
            f"    -parms {_parm()!r}", f"    -tol {tol!r}", "    -steps 3600 in 36 steps",
            "END",
        ]  # fmt: skip
    out = run_input("\n".join(lines))
    t = np.asarray(out["t"], dtype=float)
    kin = np.asarray(out["kin"], dtype=float)
    return np.asarray(kin[np.isclose(t, 3600.0)] - SEED_AMOUNT)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=1e4)
    parser.add_argument("--phreeqc-max", type=float, default=1e3)
    parser.add_argument("--phreeqc-tol", type=float, default=1e-8, help="KINETICS -tol")
    args = parser.parse_args()
    try:
        import numba

        numba.set_num_threads(1)
    except ImportError:
        pass
    n = int(args.rows)
    m = min(n, int(args.phreeqc_max))
    totals, ph = rows(n)
    ours({k: v[:50] for k, v in totals.items()}, ph[:50])  # load the kernels
    t0 = time.perf_counter()
    xi = ours(totals, ph)
    t_ours = time.perf_counter() - t0
    sub = {k: v[:m] for k, v in totals.items()}
    t0 = time.perf_counter()
    xi_ph = phreeqc(sub, ph[:m], args.phreeqc_tol)
    t_ph = time.perf_counter() - t0
    diff = np.max(np.abs(xi[:m] / xi_ph - 1.0))
    print(f"seeded COM growth, 1 h, {n} rows (PHREEQC on {m}, -tol {args.phreeqc_tol:g}), 1 core")
    print(f"oxalate.crystallize  {n / t_ours:10,.0f} rows/s  ({t_ours:.1f} s)")
    print(f"PHREEQC KINETICS     {m / t_ph:10,.0f} rows/s  ({t_ph:.1f} s)")
    print(f"ratio                {(n / t_ours) / (m / t_ph):10,.0f}x")
    print(f"max rel. diff. of xi(1 h): {diff:.1e}")


if __name__ == "__main__":
    main()
