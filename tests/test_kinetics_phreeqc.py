"""oxalate.crystallize against USGS PHREEQC's KINETICS, run here with the same rate law.

Every expected value is PHREEQC's (IPhreeqc 3.8.6, ``pip install phreeqc==1.1.1``),
run in the test on the database :func:`oxalate.phreeqc.database_text` writes from the
library's constants, with the rate written in PHREEQC BASIC (``RATES``).  The kinetic
reactant is the phase Whewellite (``CaOx:H2O``), so PHREEQC removes its hydrate water
from the solvent as oxalate does; PHREEQC's ``KIN`` is the moles of reactant, seed plus
precipitate (``-m`` is the seed, or 1 mol of a notional reactant for a bulk rate).

Traps, measured here and avoided:

* PHREEQC's CVODE over a few unequal steps (100, 300, 3200 s) was 0.3 % off at 400 s for
  a urine-like row; with many equal steps (``-steps 3600 in 36 steps``) its Runge-Kutta
  and its CVODE agree to about 5e-9, and each test checks that before trusting either.
* ``KNOBS -convergence_tolerance 1e-15`` makes PHREEQC fail ("Mass of oxygen has not
  converged") on urine rows with KINETICS; 1e-12 is used there (1e-15 for the simple
  row, which converges).

Closed systems solve the same equations in both codes: the bar is 1e-8 relative on the
amount precipitated, Ω and the water mass, and 1e-9 on pH (the agreement seen is about
5e-10 and 1e-13).  A fixed pH is not the same model (PHREEQC holds it by adding NaOH, as
in ``test_precipitation_phreeqc.py``): the amounts differ by about 3e-6, inside
REFERENCE §5's 1e-5 for buffered urine, which is the bar there.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import oxalate
from oxalate.kinetics import BulkRate, Growth, Seeds, default_solid
from oxalate.phreeqc import run_input, solutions_input

phreeqc = pytest.importorskip("phreeqc")

pytestmark = pytest.mark.phreeqc

CLOSED_REL = 1e-8
CLOSED_PH = 1e-9
SELF_REL = 1e-7  # PHREEQC's Runge-Kutta against its CVODE on the same equal steps
FIXED_REL = 1e-5
TIMES = (100.0, 400.0, 3600.0)
STEPS = 36  # 3600 s in 36 equal steps of 100 s
COM_MOLAR_MASS = 0.14611228  # kg/mol: Ca 40.078 + oxalate 88.019 + water 18.01528 g/mol


def phreeqc_kinetics(
    totals: dict[str, Any],
    ph: Any,
    tc: float,
    *,
    rate: str,
    parm: float,
    m0: float,
    charge: bool = False,
    fix_ph: bool = False,
    cvode: bool = False,
    knobs: float = 1e-12,
) -> dict[str, np.ndarray]:
    """One KINETICS run per row, 3600 s in 36 equal steps; columns (rows, 36)."""
    ph = np.atleast_1d(np.asarray(ph, dtype=float))
    n = ph.size
    text = solutions_input(
        totals, pH=ph, temperature_c=tc, charge_balance="pH" if charge else None,
        punch=False, convergence_tolerance=knobs,
    )  # fmt: skip
    head, *blocks = text.split("SOLUTION ")
    lines = [
        head,
        "RATES", "Whewellite", "-start", '10 s_r = SR("Whewellite")', "20 rate = 0",
        f"30 IF s_r > 1 THEN rate = {rate}", "40 SAVE -rate * TIME", "-end",
        "SELECTED_OUTPUT 1", "-reset false", "USER_PUNCH 1", "-headings t kin si ph water",
        '10 PUNCH TOTAL_TIME, KIN("Whewellite"), SI("Whewellite"), -LA("H+"), TOT("water")',
        "INCREMENTAL_REACTIONS true",
    ]  # fmt: skip
    if fix_ph:
        lines += ["PHASES", "Fix_H+", "    H+ = H+", "    -log_k 0"]
    for i, block in enumerate(blocks):
        body = block.replace("END\n", "").rstrip().splitlines()[1:]
        lines += ["SOLUTION 1", *body]
        if fix_ph:
            lines += ["EQUILIBRIUM_PHASES 1", f"    Fix_H+ {-float(ph[i])!r} NaOH 10"]
        lines += [
            "KINETICS 1", "Whewellite", f"    -m {m0!r}", f"    -m0 {m0!r}",
            f"    -parms {parm!r}", "    -tol 1e-15", f"    -steps 3600 in {STEPS} steps",
            f"    -cvode {'true' if cvode else 'false'}", "END",
        ]  # fmt: skip
    out = run_input("\n".join(lines))
    t = np.asarray(out["t"], dtype=float)
    keep = t > 0
    cols = {k: np.asarray(out[k], dtype=float)[keep].reshape(n, STEPS) for k in out}
    pick = [round(x / 100.0) - 1 for x in TIMES]
    np.testing.assert_allclose(cols["t"][:, pick], np.tile(TIMES, (n, 1)))
    return {
        "xi": (cols["kin"] - m0)[:, pick].T,
        "omega": (10.0 ** cols["si"])[:, pick].T,
        "pH": cols["ph"][:, pick].T,
        "water": cols["water"][:, pick].T,
    }


def _compare(ours: oxalate.Crystallization, theirs: dict[str, np.ndarray]) -> None:
    np.testing.assert_allclose(ours.amount["COM"][1:], theirs["xi"], rtol=CLOSED_REL)
    np.testing.assert_allclose(ours.supersaturation["COM"][1:], theirs["omega"], rtol=CLOSED_REL)
    np.testing.assert_allclose(ours.pH[1:], theirs["pH"], rtol=0, atol=CLOSED_PH)
    np.testing.assert_allclose(ours.water_mass[1:], theirs["water"], rtol=CLOSED_REL)


# --- V1: KINETICS.md §7, CaC2O4 in dilute NaCl, pH from the charge balance, 25 °C ----------------

V1 = {"Ca": 0.4e-3, "Ox": 0.4e-3, "Na": 0.8e-3, "Cl": 0.8e-3}
V1_RATE = "PARM(1) * (SQRT(s_r) - 1)^2"


@pytest.fixture(scope="module")
def v1_phreeqc() -> dict[str, dict[str, np.ndarray]]:
    kw: dict[str, Any] = {"rate": V1_RATE, "parm": 1e-7, "m0": 1.0, "charge": True, "knobs": 1e-15}
    return {
        "rk": phreeqc_kinetics(V1, 7.0, 25.0, **kw),
        "cvode": phreeqc_kinetics(V1, 7.0, 25.0, cvode=True, **kw),
    }


@pytest.fixture(scope="module")
def v1_ours() -> oxalate.Crystallization:
    s = oxalate.Solution.from_molalities(V1, pH=None, temperature_kelvin=298.15)
    t = oxalate.Quantity([0.0, *TIMES, np.inf], "s")
    return oxalate.crystallize(s, t, growth=BulkRate("1e-7 mol/kg/s", 2), rtol=1e-10)


def test_v1_phreeqc_agrees_with_itself(v1_phreeqc: Any) -> None:
    for key in ("xi", "omega", "water"):
        np.testing.assert_allclose(
            v1_phreeqc["rk"][key], v1_phreeqc["cvode"][key], rtol=SELF_REL, err_msg=key
        )


def test_v1_bulk_rate_matches_phreeqc(v1_ours: Any, v1_phreeqc: Any) -> None:
    assert bool(v1_ours.converged)
    ours = v1_ours
    theirs = v1_phreeqc["rk"]
    np.testing.assert_allclose(ours.amount["COM"][1:4], theirs["xi"][:, 0], rtol=CLOSED_REL)
    np.testing.assert_allclose(
        ours.supersaturation["COM"][1:4], theirs["omega"][:, 0], rtol=CLOSED_REL
    )
    np.testing.assert_allclose(ours.pH[1:4], theirs["pH"][:, 0], rtol=0, atol=CLOSED_PH)
    np.testing.assert_allclose(ours.water_mass[1:4], theirs["water"][:, 0], rtol=CLOSED_REL)


def test_v1_end_state_is_precipitate(v1_ours: Any) -> None:
    s = oxalate.Solution.from_molalities(V1, pH=None, temperature_kelvin=298.15)
    eq = oxalate.precipitate(s)
    assert v1_ours.amount["COM"][-1] == pytest.approx(float(eq.amount["COM"]), rel=1e-10)
    assert v1_ours.pH[-1] == pytest.approx(float(eq.speciation.pH), abs=1e-10)
    assert v1_ours.water_mass[-1] == pytest.approx(float(eq.water_mass), rel=1e-12)
    # below the end state and rising, as PHREEQC's amounts are
    assert np.all(np.diff(v1_ours.amount["COM"]) > 0)


# --- urine-like rows at 37 °C, seeded growth G = k sigma^2 ------------------------------


def _urine(n: int = 4, seed: int = 7) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Urine-like rows [mol/kgw] as in test_precipitation_phreeqc.py (Ω(COM) 4-17)."""
    rng = np.random.default_rng(seed)
    ranges = {
        "Ca": (2e-3, 8e-3), "Mg": (2e-3, 5e-3), "Na": (0.1, 0.2), "K": (0.04, 0.08),
        "Cl": (0.1, 0.2), "Ox": (2e-4, 6e-4), "Cit": (1e-3, 4e-3), "PO4": (1e-2, 3e-2),
        "SO4": (1e-2, 2e-2),
    }  # fmt: skip
    totals = {k: rng.uniform(lo, hi, n) for k, (lo, hi) in ranges.items()}
    return totals, rng.uniform(5.0, 7.0, n)


K_GROWTH = 3e-11  # m/s
SEED_SIZE = 5e-6  # m
SEED_AMOUNT = 50e-3 / COM_MOLAR_MASS * 1e-3  # 50 mg/kg in mol/kg


def _seeded_parm() -> float:
    """PHREEQC's PARM(1) for 3 k_v N L0^2 k_G / v_m: monodisperse seeds of size L0.

    Every seed grows by the same Λ, so the area is A0 (M/M0)^(2/3) exactly and
    dξ/dt = 3 k_v N L² G / v_m is PHREEQC's PARM(1) (M/M0)^(2/3) σ².
    """
    solid = default_solid("COM")
    vm = solid.molar_volume(COM_MOLAR_MASS)
    kv = solid.volume_factor
    number = SEED_AMOUNT * vm / (kv * SEED_SIZE**3)
    return 3.0 * kv * number * SEED_SIZE**2 * K_GROWTH / vm


SEEDED_RATE = "PARM(1) * (M/M0)^(2/3) * (SQRT(s_r) - 1)^2"


@pytest.fixture(scope="module")
def urine_runs() -> dict[str, Any]:
    totals, ph = _urine()
    s = oxalate.Solution.from_molalities(totals, pH=ph, temperature_kelvin=310.15)
    t = oxalate.Quantity([0.0, *TIMES], "s")
    seeds = Seeds(amount=oxalate.Quantity(SEED_AMOUNT, "mol/kg"), size=f"{SEED_SIZE} m")
    out: dict[str, Any] = {}
    for mode in ("closed", "fixed"):
        kw: dict[str, Any] = {"rate": SEEDED_RATE, "parm": _seeded_parm(), "m0": SEED_AMOUNT}
        out[(mode, "rk")] = phreeqc_kinetics(totals, ph, 37.0, fix_ph=mode == "fixed", **kw)
        out[(mode, "cvode")] = phreeqc_kinetics(
            totals, ph, 37.0, fix_ph=mode == "fixed", cvode=True, **kw
        )
        out[(mode, "ours")] = oxalate.crystallize(
            s, t, growth=Growth(f"{K_GROWTH} m/s"), seeds=seeds, ph_mode=mode, rtol=1e-10
        )
    return out


@pytest.mark.parametrize("mode", ["closed", "fixed"])
def test_urine_phreeqc_agrees_with_itself(urine_runs: Any, mode: str) -> None:
    rk, cv = urine_runs[(mode, "rk")], urine_runs[(mode, "cvode")]
    for key in ("xi", "omega", "water"):
        np.testing.assert_allclose(rk[key], cv[key], rtol=SELF_REL, err_msg=key)


def test_urine_rows_are_supersaturated_and_grow(urine_runs: Any) -> None:
    ours = urine_runs[("closed", "ours")]
    assert np.all(ours.converged)
    assert np.all(ours.supersaturation["COM"][0] > 4)
    # a real desupersaturation: at least 5 % of the oxalate in an hour in some rows
    totals, _ = _urine()
    assert np.max(ours.amount["COM"][-1] / totals["Ox"]) > 0.05


def test_urine_seeded_growth_closed_matches_phreeqc(urine_runs: Any) -> None:
    _compare(urine_runs[("closed", "ours")], urine_runs[("closed", "rk")])


def test_urine_seeded_growth_fixed_ph_within_reference_bound(urine_runs: Any) -> None:
    ours, theirs = urine_runs[("fixed", "ours")], urine_runs[("fixed", "rk")]
    np.testing.assert_allclose(ours.amount["COM"][1:], theirs["xi"], rtol=FIXED_REL)
    np.testing.assert_allclose(ours.supersaturation["COM"][1:], theirs["omega"], rtol=FIXED_REL)
    # both hold the pH
    np.testing.assert_allclose(ours.pH[1:], theirs["pH"], rtol=0, atol=1e-9)


def test_seeded_parm_is_the_moment_law() -> None:
    """The PHREEQC constant is the engine's own area law: 3 k_v N L² k_G / v_m, by hand."""
    vm = COM_MOLAR_MASS / 2230.0  # m3/mol at 2.23 g/cm3
    number = SEED_AMOUNT * vm / (math.pi / 6.0 * SEED_SIZE**3)
    area = math.pi * number * SEED_SIZE**2  # m2 per kg
    # G = k sigma^2 and dξ/dt = (area/2) G / v_m for spheres (2 v_m R = G)
    assert _seeded_parm() == pytest.approx(0.5 * area * K_GROWTH / vm, rel=1e-12)
