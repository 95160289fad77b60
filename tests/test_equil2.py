"""Tests of oxalate.equil2, the EQUIL2 (Werness et al. 1985, Mayo V5) re-implementation.

Validation numbers come from outside the code:

* the R port's published sample report (billdenney/equil2, tests/testthat/test-equil2.R,
  development version 1.0.0.9000, checked there against the V5 BASIC source), with its
  inputs converted to mol/L by hand below;
* EQUIL2's own rules as described in its source (MODEL.md): the general complexation
  rule [C] = K Π([R] γ_R) a(H)^h a(OH)^o / γ_C, the mass balances, I = ½ Σ z² c and the
  modified Davies equation, written out here independently of the module.
"""

from __future__ import annotations

import dataclasses
import doctest
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oxalate import OxalateRangeWarning
from oxalate.database import bibliography
from oxalate.equil2 import (
    ALL_PHASES,
    COMPONENTS,
    NOT_PRINTED_PHASES,
    PRINTED_PHASES,
    Equil2Result,
    constants,
    equil2,
    equil2_molar,
)

# --------------------------------------------------------------------------- reference case
#
# R port sample report (test-equil2.R, dev 1.0.0.9000).  Its inputs pass through the R
# `units` package (molar masses from R/unit_setup.R: NH3 17.031, PO4 94.971, SO4 96.07,
# oxalate 88.02, citrate 189.10) into the mEq/L and mg/dL the algorithm divides:
#
#   sodium     45 mmol/L  -> 45 mEq/L              / 1000  = 0.045 mol/L
#   potassium  55 mmol/L  -> 55 mEq/L              / 1000  = 0.055 mol/L
#   calcium    15 mg/dL                            / 4008  = 3.7425e-3 mol/L
#   magnesium  15 mg/dL                            / 2431  = 6.1703e-3 mol/L
#   ammonia    10 ug/dL = 0.1 mg/L of NH3 -> 0.1/17.031 = 5.8717e-3 mEq/L
#                                                  / 1000  = 5.8717e-6 mol/L
#   chloride   75 mmol/L                           / 1000  = 0.075 mol/L
#   phosphate  32.285 mmol/L x 94.971 mg/mmol = 306.614 mg PO4/dL
#                                                  / 9497  = 0.0322853 mol/L
#   sulfate    10 mmol/L x 96.07 mg/mmol = 96.07 mg SO4/dL / 9607 = 0.01 mol/L
#   oxalate    10 mg/L = 1 mg/dL                   / 8802  = 1.1361e-4 mol/L
#   citrate    400 mg/L = 40 mg/dL                 / 19212 = 2.0820e-3 mol/L
#   urate      50 mg/dL                            / 16800 = 2.9762e-3 mol/L
#   pH 5.5
R_PORT_TOTALS = {
    "sodium": 45 / 1000,
    "potassium": 55 / 1000,
    "calcium": 15 / 4008,
    "magnesium": 15 / 2431,
    "ammonium": (10e-6 / 0.1) / 17.031,  # 10 ug/dL = 1e-4 g/L of NH3, / 17.031 g/mol
    "chloride": 75 / 1000,
    "phosphate": (32.285 * 94.971 / 10) / 9497,
    "sulfate": (10 * 96.07 / 10) / 9607,
    "oxalate": (10 / 10) / 8802,
    "citrate": (400 / 10) / 19212,
    "urate": 50 / 16800,
}
R_PORT_PH = 5.5

# Published to 2 decimals (super_saturation, neg_delta_Gibbs).  Ammonium urate prints SS
# 0 but DG -11.29: NH4 is only 5.9 umol/L, so SS = F1² [HU] [NH4] / 3.6e-5 is about
# 1.6e-4, which rounds to 0.00, while DG = 1.2935 ln(1.6e-4) = -11.3 kJ/mol is not 0
# (DG is set to 0 only where SS <= 0).
R_PORT_PUBLISHED = {
    "calcium_oxalate": (3.10, 1.46),
    "brushite": (1.26, 0.30),
    "hydroxyapatite": (39041.89, 3.04),
    "uric_acid": (4.56, 3.93),
    "sodium_urate": (1.63, 0.63),
    "ammonium_urate": (0.00, -11.29),
}

R_PORT_UNITS = {
    "sodium": "45 mmol/L",
    "potassium": "55 mmol/L",
    "calcium": "15 mg/dL",
    "magnesium": "15 mg/dL",
    "ammonium": "10 ug/dL as NH3",
    "chloride": "75 mmol/L",
    # What the R units layer hands the algorithm: mg of PO4 per dL (divided by 9497).
    "phosphate": f"{32.285 * 94.971 / 10!r} mg/dL as PO4",
    "sulfate": "10 mmol/L",
    "oxalate": "10 mg/L",
    "citrate": "400 mg/L",
    "urate": "50 mg/dL",
}


@pytest.fixture(scope="module")
def reference() -> Equil2Result:
    return equil2_molar(R_PORT_TOTALS, R_PORT_PH)


@pytest.fixture(scope="module")
def reference_converged() -> Equil2Result:
    return equil2_molar(R_PORT_TOTALS, R_PORT_PH, iteration="converged")


@pytest.mark.parametrize(("phase", "published"), R_PORT_PUBLISHED.items())
def test_r_port_sample_report_ss(reference: Equil2Result, phase: str, published: tuple) -> None:
    assert round(float(reference.ss[phase]), 2) == pytest.approx(published[0], abs=1e-9)


@pytest.mark.parametrize(("phase", "published"), R_PORT_PUBLISHED.items())
def test_r_port_sample_report_dg(reference: Equil2Result, phase: str, published: tuple) -> None:
    assert round(float(reference.dg[phase]), 2) == pytest.approx(published[1], abs=1e-9)


@pytest.mark.parametrize(("phase", "published"), R_PORT_PUBLISHED.items())
def test_r_port_sample_report_through_units(phase: str, published: tuple) -> None:
    result = equil2(**R_PORT_UNITS, pH=R_PORT_PH)
    assert round(float(result.ss[phase]), 2) == pytest.approx(published[0], abs=1e-9)
    assert round(float(result.dg[phase]), 2) == pytest.approx(published[1], abs=1e-9)


def test_r_port_units_are_the_hand_conversions(reference: Equil2Result) -> None:
    result = equil2(**R_PORT_UNITS, pH=R_PORT_PH)
    for phase in ALL_PHASES:
        np.testing.assert_allclose(result.ss[phase], reference.ss[phase], rtol=1e-12)


@pytest.mark.parametrize(("phase", "published"), R_PORT_PUBLISHED.items())
def test_r_port_sample_report_converged_mode(
    reference_converged: Equil2Result, phase: str, published: tuple
) -> None:
    # The exact equilibrium of the same model differs from EQUIL2's stopping point by
    # up to ~1e-4 relative: within the printed half-unit plus 1e-4 relative.  (For
    # hydroxyapatite it is 39041.900, which prints as 39041.90, not 39041.89.)
    ss, dg = float(reference_converged.ss[phase]), float(reference_converged.dg[phase])
    assert abs(ss - published[0]) <= 0.005 + 1e-4 * abs(published[0])
    assert abs(dg - published[1]) <= 0.005 + 1e-4 * abs(published[1])


def test_phosphate_in_mmol_per_litre() -> None:
    # 32.285 mmol/L exactly is 1.05e-5 (relative) less phosphate than the R port's
    # 306.614 mg PO4/dL / 9497; hydroxyapatite (free PO4 cubed) moves by ~2e-5.
    inputs = {**R_PORT_UNITS, "phosphate": "32.285 mmol/L"}
    result = equil2(**inputs, pH=R_PORT_PH)
    for phase in ("calcium_oxalate", "brushite", "uric_acid", "sodium_urate"):
        assert round(float(result.ss[phase]), 2) == R_PORT_PUBLISHED[phase][0]
    assert float(result.ss["hydroxyapatite"]) == pytest.approx(39041.89, rel=1e-4)


def test_ammonium_urate_dg_is_rt_over_two_ln_ss(reference: Equil2Result) -> None:
    ss = float(reference.ss["ammonium_urate"])
    assert 0 < ss < 0.005  # printed as 0.00
    assert float(reference.dg["ammonium_urate"]) == pytest.approx(2.587 / 2 * math.log(ss), 1e-4)


# --------------------------------------------------------------------------- unit edge


def test_mayo_divisors_read_the_form_as_equil2() -> None:
    # The Mayo form: Ca, Mg, P, S, citrate, oxalate, uric acid in mg/dL, Na, K, Cl in mEq/L.
    by_units = equil2(
        sodium="150 mEq/L",
        potassium="60 mEq/L",
        calcium="12 mg/dL",
        magnesium="8 mg/dL",
        chloride="140 mEq/L",
        phosphate="80 mg/dL as P",
        sulfate="50 mg/dL as S",
        oxalate="2.5 mg/dL",
        citrate="45 mg/dL",
        urate="40 mg/dL",
        pH=6.1,
    )
    by_hand = equil2_molar(
        {
            "sodium": 150 / 1000,
            "potassium": 60 / 1000,
            "calcium": 12 / 4008,
            "magnesium": 8 / 2431,
            "chloride": 140 / 1000,
            "phosphate": 80 / 3097,
            "sulfate": 50 / 3206,
            "oxalate": 2.5 / 8802,
            "citrate": 45 / 19212,
            "urate": 40 / 16800,
        },
        6.1,
    )
    for phase in ALL_PHASES:
        assert by_units.ss[phase] == by_hand.ss[phase]


def test_standard_divisors_use_atomic_weights() -> None:
    common = {
        "sodium": "150 mmol/L",
        "potassium": "60 mmol/L",
        "magnesium": "4 mmol/L",
        "chloride": "140 mmol/L",
        "phosphate": "25 mmol/L",
        "sulfate": "15 mmol/L",
        "oxalate": "0.3 mmol/L",
    }
    by_units = equil2(
        **common,
        calcium="12 mg/dL",
        citrate="45 mg/dL",
        urate="40 mg/dL",
        ammonium="9 mg/dL",
        pH=6.1,
        divisors="standard",
    )
    by_hand = equil2_molar(
        {
            "sodium": 0.150,
            "potassium": 0.060,
            "magnesium": 0.004,
            "chloride": 0.140,
            "phosphate": 0.025,
            "sulfate": 0.015,
            "oxalate": 0.0003,
            "calcium": 0.12 / 40.078,  # 12 mg/dL = 0.12 g/L of Ca
            "citrate": 0.45 / 189.10,  # citrate anion C6H5O7
            "urate": 0.40 / 168.11,  # uric acid C5H4N4O3
            "ammonium": 0.09 / 18.038,  # NH4+
        },
        6.1,
    )
    for phase in ALL_PHASES:
        np.testing.assert_allclose(by_units.ss[phase], by_hand.ss[phase], rtol=1e-12)


@pytest.mark.parametrize(
    ("argument", "a", "b"),
    [
        ("sulfate", "20 mEq/L", "10 mmol/L"),
        ("sulfate", "32.06 mg/dL as S", "96.07 mg/dL as SO4"),  # both 0.01 mol/L (mayo)
        ("phosphate", "30.97 mg/dL as P", "10 mmol/L"),
        ("ammonium", "30 mEq/L", "30 mmol/L"),
        ("ammonium", "17.031 mg/dL as NH3", "10 mmol/L"),
        ("ammonium", "18.038 mg/dL", "10 mmol/L"),
        ("ammonium", "14.0067 mg/dL as N", "10 mmol/L"),
        ("urate", "16.8 mg/dL", "1 mmol/L"),
        ("calcium", "2.5 mmol/kg", "2.5 mmol/L"),  # molal read as molar
    ],
)
def test_equivalent_inputs(argument: str, a: str, b: str) -> None:
    base = {**R_PORT_UNITS, "pH": R_PORT_PH}
    first = equil2(**{**base, argument: a})
    second = equil2(**{**base, argument: b})
    np.testing.assert_allclose(
        first.ss["calcium_oxalate"], second.ss["calcium_oxalate"], rtol=1e-12
    )
    np.testing.assert_allclose(first.free["urate"], second.free["urate"], rtol=1e-12)


def test_no_ammonium_means_zero_ammonium_urate() -> None:
    inputs = {k: v for k, v in R_PORT_UNITS.items() if k != "ammonium"}
    result = equil2(**inputs, pH=R_PORT_PH)
    assert result.ss["ammonium_urate"] == 0
    assert result.dg["ammonium_urate"] == 0  # EQUIL2: DG = 0 where SS <= 0
    assert result.ss["struvite"] == 0


@pytest.mark.parametrize(
    ("argument", "value", "error", "match"),
    [
        ("calcium", "-1 mmol/L", ValueError, "calcium"),
        ("oxalate", "nan mmol/L", ValueError, "oxalate"),
        ("calcium", 2.5, TypeError, "calcium"),
        ("phosphate", "100 mg/dL", ValueError, "as P"),
        ("sulfate", "30 mg/dL", ValueError, "as S"),
        ("phosphate", "100 mg/dL as S", ValueError, "phosphate"),
        ("calcium", "10 mg/dL as P", ValueError, "calcium"),
        ("urate", "3 mEq/L", ValueError, "urate"),
        ("urate", "-3 mmol/L", ValueError, "urate"),
        ("ammonium", "3 mg/dL as P", ValueError, "ammonium"),
        ("ammonium", "3 mmol/day", ValueError, "ammonium"),
        ("urate", "3 kg", ValueError, "urate"),
        ("pH", "5.5", TypeError, "pH"),
        ("pH", 14.5, ValueError, "pH"),
        ("pH", [5.0, float("nan")], ValueError, "pH"),
        ("iteration", "exact", ValueError, "iteration"),
        ("divisors", "si", ValueError, "divisors"),
    ],
)
def test_bad_input(argument: str, value: object, error: type, match: str) -> None:
    kwargs: dict[str, object] = {**R_PORT_UNITS, "pH": R_PORT_PH}
    kwargs[argument] = value
    with pytest.raises(error, match=match):
        equil2(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("totals", "match"),
    [({"calcium": -1e-3}, "calcium"), ({"oxalic": 1e-3}, "oxalic"), ({"urate": np.inf}, "urate")],
)
def test_bad_molar_input(totals: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        equil2_molar(totals, 6.0)


def test_unknown_iteration_molar() -> None:
    with pytest.raises(ValueError, match="iteration"):
        equil2_molar(R_PORT_TOTALS, 5.5, iteration="fast")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- shapes, result


def test_scalar_in_scalar_out(reference: Equil2Result) -> None:
    assert isinstance(reference.ss["calcium_oxalate"], np.float64)
    assert isinstance(reference.iterations, np.integer)
    assert isinstance(reference.converged, np.bool_)
    assert set(reference.ss) == set(ALL_PHASES) == set(PRINTED_PHASES) | set(NOT_PRINTED_PHASES)


def test_batch_shape_broadcasts() -> None:
    totals = {
        **R_PORT_TOTALS,
        "oxalate": np.array([[1e-4], [2e-4]]),
        "calcium": [2e-3, 3e-3, 4e-3],
    }
    result = equil2_molar(totals, 6.0)
    assert result.ss["calcium_oxalate"].shape == (2, 3)
    assert result.iterations.shape == (2, 3)
    assert result.free["chloride"].shape == (2, 3)
    frame = result.to_dict()
    assert frame["ss_calcium_oxalate"].shape == (2, 3)
    assert {"ionic_strength", "F1", "free_calcium", "conc_CaOx", "converged"} <= set(frame)


def test_result_is_frozen(reference: Equil2Result) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        reference.iteration = "converged"  # type: ignore[misc]
    batch = equil2_molar({**R_PORT_TOTALS, "calcium": [2e-3, 3e-3]}, 6.0)
    with pytest.raises(ValueError, match="read-only"):
        batch.ss["calcium_oxalate"][0] = 1.0
    with pytest.raises(TypeError):
        batch.ss["calcium_oxalate"] = 1.0  # type: ignore[index]


# --------------------------------------------------------------------------- batches

# Diverse urines (mol/L), chosen to stop after different numbers of passes: a
# phosphate-free and a citrate-free urine, a dilute one, and a slow one (Ca 14.8 mM,
# phosphate 42 mM at pH 7.27) that needs more than EQUIL2's 50 passes.
URINES = {
    "reference": (R_PORT_TOTALS, 5.5),
    "no_phosphate": ({**R_PORT_TOTALS, "phosphate": 0.0}, 6.2),
    "no_citrate": ({**R_PORT_TOTALS, "citrate": 0.0}, 6.8),
    "dilute": ({k: v / 10 for k, v in R_PORT_TOTALS.items()}, 5.9),
    "slow": (
        {
            "sodium": 13.316e-3,
            "potassium": 12.792e-3,
            "calcium": 14.797e-3,
            "magnesium": 7.209e-3,
            "ammonium": 5.601e-3,
            "chloride": 2.863e-3,
            "phosphate": 41.872e-3,
            "sulfate": 1.515e-3,
            "oxalate": 0.962e-3,
            "citrate": 5.99e-3,
            "urate": 4.502e-3,
        },
        7.27,
    ),
    "only_salt": ({"sodium": 0.1, "chloride": 0.1}, 7.0),
}


def _stack(names: list[str]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    totals = {
        c: np.array([URINES[n][0].get(c, 0.0) for n in names]) for c in (*COMPONENTS, "chloride")
    }
    return totals, np.array([URINES[n][1] for n in names])


def _run(totals: dict, pH: object, iteration: str) -> Equil2Result:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OxalateRangeWarning)  # the slow row, tested below
        return equil2_molar(totals, pH, iteration=iteration)  # type: ignore[arg-type]


@pytest.mark.parametrize("iteration", ["equil2", "converged"])
def test_batch_equals_row_by_row_exactly(iteration: str) -> None:
    names = list(URINES)
    totals, ph = _stack(names)
    batch = _run(totals, ph, iteration)
    for j, name in enumerate(names):
        single = _run(URINES[name][0], URINES[name][1], iteration)
        for phase in ALL_PHASES:
            assert batch.ss[phase][j] == single.ss[phase], (name, phase)
            assert batch.dg[phase][j] == single.dg[phase], (name, phase)
        for component in single.free:
            assert batch.free[component][j] == single.free[component]
        assert batch.ionic_strength[j] == single.ionic_strength
        assert batch.iterations[j] == single.iterations
        assert batch.converged[j] == single.converged


def test_rows_stop_independently() -> None:
    # A fast row keeps its own stopping point next to slow rows, in any order.
    names = ["only_salt", "slow", "reference", "slow", "dilute"]
    totals, ph = _stack(names)
    batch = _run(totals, ph, "equil2")
    passes = [int(p) for p in batch.iterations]
    assert len(set(passes)) >= 3
    reversed_batch = _run({k: v[::-1] for k, v in totals.items()}, ph[::-1], "equil2")
    np.testing.assert_array_equal(
        reversed_batch.ss["calcium_oxalate"][::-1], batch.ss["calcium_oxalate"]
    )


def test_zero_totals_skip_the_stop_test() -> None:
    # EQUIL2 tests only non-zero free Ca, Mg, PO4, Ox, Cit: with none of them the first
    # pass already meets the rule.
    result = equil2_molar(*URINES["only_salt"])
    assert int(result.iterations) == 1
    assert bool(result.converged)


@pytest.mark.parametrize("name", ["no_phosphate", "no_citrate", "only_salt"])
@pytest.mark.parametrize("iteration", ["equil2", "converged"])
def test_missing_ligands_are_harmless(name: str, iteration: str) -> None:
    totals, ph = URINES[name]
    with np.errstate(divide="raise", invalid="raise", over="raise"):
        result = equil2_molar(totals, ph, iteration=iteration)  # type: ignore[arg-type]
    for phase in ALL_PHASES:
        assert np.isfinite(result.ss[phase]) and np.isfinite(result.dg[phase])
    if totals.get("phosphate", 0.0) == 0:
        for phase in ("brushite", "hydroxyapatite", "struvite"):
            assert result.ss[phase] == 0 and result.dg[phase] == 0
        assert result.free["phosphate"] == 0
    if totals.get("citrate", 0.0) == 0:
        assert result.free["citrate"] == 0 and result.species["CaCit"] == 0
    assert bool(result.converged)


def test_fifty_passes_without_convergence_warns() -> None:
    with pytest.warns(OxalateRangeWarning, match="did not converge"):
        result = equil2_molar(*URINES["slow"])
    assert int(result.iterations) == 50
    assert not bool(result.converged)
    converged = equil2_molar(*URINES["slow"], iteration="converged")
    assert bool(converged.converged)


# --------------------------------------------------------------------------- the two modes

REALISTIC = ["reference", "no_phosphate", "no_citrate", "dilute"]


@pytest.mark.parametrize("name", REALISTIC)
@pytest.mark.parametrize("phase", PRINTED_PHASES)
def test_converged_mode_is_close_to_equil2_mode(name: str, phase: str) -> None:
    totals, ph = URINES[name]
    fast = equil2_molar(totals, ph)
    exact = equil2_molar(totals, ph, iteration="converged")
    assert bool(fast.converged) and bool(exact.converged)
    np.testing.assert_allclose(exact.ss[phase], fast.ss[phase], rtol=1e-3)


# EQUIL2's species, written out from its description (MODEL.md §3): for each complex, its
# constant S<n>, reactant species, H+ and OH- counts and charge.  [C] = S_n Π([R] γ_R)
# a(H)^h a(OH)^o / γ_C with γ_z = F1^(z²).
FREE_CHARGE = {
    "Na": 1, "K": 1, "Ca": 2, "Mg": 2, "NH4": 1, "PO4": -3, "SO4": -2, "Ox": -2, "Cit": -3,
    "HU": -1, "Cl": -1,
}  # fmt: skip
COMPLEXES = {
    "HPO4": (1, ["PO4"], 1, 0, -2),
    "H2PO4": (2, ["HPO4"], 1, 0, -1),
    "H3PO4": (3, ["H2PO4"], 1, 0, 0),
    "HSO4": (4, ["SO4"], 1, 0, -1),
    "HOx": (5, ["Ox"], 1, 0, -1),
    "HCit": (6, ["Cit"], 1, 0, -2),
    "H2Cit": (7, ["HCit"], 1, 0, -1),
    "H3Cit": (8, ["H2Cit"], 1, 0, 0),
    "H2U": (9, ["HU"], 1, 0, 0),
    "NaHPO4": (10, ["Na", "HPO4"], 0, 0, -1),
    "NaSO4": (11, ["Na", "SO4"], 0, 0, -1),
    "NaOx": (12, ["Na", "Ox"], 0, 0, -1),
    "NaCit": (13, ["Na", "Cit"], 0, 0, -2),
    "KHPO4": (17, ["K", "HPO4"], 0, 0, -1),
    "KSO4": (18, ["K", "SO4"], 0, 0, -1),
    "KOx": (19, ["K", "Ox"], 0, 0, -1),
    "KCit": (20, ["K", "Cit"], 0, 0, -2),
    "CaPO4": (22, ["Ca", "PO4"], 0, 0, -1),
    "CaHPO4": (23, ["Ca", "HPO4"], 0, 0, 0),
    "CaH2PO4": (24, ["Ca", "H2PO4"], 0, 0, 1),
    "CaSO4": (25, ["Ca", "SO4"], 0, 0, 0),
    "CaOx": (26, ["Ca", "Ox"], 0, 0, 0),
    "CaOx2": (27, ["CaOx", "Ox"], 0, 0, -2),
    "Ca2Ox": (28, ["Ca", "CaOx"], 0, 0, 2),
    "CaCit": (29, ["Ca", "Cit"], 0, 0, -1),
    "CaHCit": (30, ["Ca", "HCit"], 0, 0, 0),
    "CaH2Cit": (31, ["Ca", "H2Cit"], 0, 0, 1),
    "MgPO4": (32, ["Mg", "PO4"], 0, 0, -1),
    "MgHPO4": (33, ["Mg", "HPO4"], 0, 0, 0),
    "MgH2PO4": (34, ["Mg", "H2PO4"], 0, 0, 1),
    "MgSO4": (35, ["Mg", "SO4"], 0, 0, 0),
    "MgOx": (36, ["Mg", "Ox"], 0, 0, 0),
    "Mg2Ox": (37, ["Mg", "MgOx"], 0, 0, 2),
    "MgOx2": (38, ["MgOx", "Ox"], 0, 0, -2),
    "MgCit": (39, ["Mg", "Cit"], 0, 0, -1),
    "MgHCit": (40, ["Mg", "HCit"], 0, 0, 0),
    "MgH2Cit": (41, ["Mg", "H2Cit"], 0, 0, 1),
    "NH4HPO4": (42, ["NH4", "HPO4"], 0, 0, -1),
    "NH4SO4": (43, ["NH4", "SO4"], 0, 0, -1),
    "NH4Ox": (44, ["NH4", "Ox"], 0, 0, -1),
    "NH4Cit": (45, ["NH4", "Cit"], 0, 0, -2),
    "CaOH": (54, ["Ca"], 0, 1, 1),
    "MgOH": (55, ["Mg"], 0, 1, 1),
}
# Mass balances: how many of each component a complex holds (MODEL.md §3).
MASS_BALANCE = {
    "sodium": {"Na": 1, "NaHPO4": 1, "NaSO4": 1, "NaOx": 1, "NaCit": 1},
    "potassium": {"K": 1, "KHPO4": 1, "KSO4": 1, "KOx": 1, "KCit": 1},
    "ammonium": {"NH4": 1, "NH4HPO4": 1, "NH4SO4": 1, "NH4Ox": 1, "NH4Cit": 1},
    "calcium": {
        "Ca": 1, "CaPO4": 1, "CaHPO4": 1, "CaH2PO4": 1, "CaSO4": 1, "CaOx": 1, "Ca2Ox": 2,
        "CaOx2": 1, "CaCit": 1, "CaHCit": 1, "CaH2Cit": 1, "CaOH": 1,
    },
    "magnesium": {
        "Mg": 1, "MgPO4": 1, "MgHPO4": 1, "MgH2PO4": 1, "MgSO4": 1, "MgOx": 1, "Mg2Ox": 2,
        "MgOx2": 1, "MgCit": 1, "MgHCit": 1, "MgH2Cit": 1, "MgOH": 1,
    },
    "phosphate": {
        "PO4": 1, "HPO4": 1, "H2PO4": 1, "H3PO4": 1, "NaHPO4": 1, "KHPO4": 1, "NH4HPO4": 1,
        "CaPO4": 1, "CaHPO4": 1, "CaH2PO4": 1, "MgPO4": 1, "MgHPO4": 1, "MgH2PO4": 1,
    },
    "sulfate": {"SO4": 1, "HSO4": 1, "NaSO4": 1, "KSO4": 1, "NH4SO4": 1, "CaSO4": 1, "MgSO4": 1},
    "oxalate": {
        "Ox": 1, "HOx": 1, "NaOx": 1, "KOx": 1, "NH4Ox": 1, "CaOx": 1, "Ca2Ox": 1, "CaOx2": 2,
        "MgOx": 1, "Mg2Ox": 1, "MgOx2": 2,
    },
    "citrate": {
        "Cit": 1, "HCit": 1, "H2Cit": 1, "H3Cit": 1, "NaCit": 1, "KCit": 1, "NH4Cit": 1,
        "CaCit": 1, "CaHCit": 1, "CaH2Cit": 1, "MgCit": 1, "MgHCit": 1, "MgH2Cit": 1,
    },
    "urate": {"HU": 1, "H2U": 1},
}  # fmt: skip
PKW = 13.593


def _charge(species: str) -> int:
    return FREE_CHARGE[species] if species in FREE_CHARGE else COMPLEXES[species][4]


def test_species_tables_cover_the_result(reference_converged: Equil2Result) -> None:
    assert set(reference_converged.species) == set(FREE_CHARGE) | set(COMPLEXES)


def _check_mass_balance(result: Equil2Result, totals: dict, rtol: float) -> None:
    for component, parts in MASS_BALANCE.items():
        total = sum(n * np.asarray(result.species[s]) for s, n in parts.items())
        np.testing.assert_allclose(total, np.asarray(totals.get(component, 0.0)), rtol=rtol)


@pytest.mark.parametrize("name", ["reference", "no_phosphate", "no_citrate", "dilute", "slow"])
def test_converged_mode_closes_mass_balances(name: str) -> None:
    totals, ph = URINES[name]
    _check_mass_balance(equil2_molar(totals, ph, iteration="converged"), totals, rtol=1e-10)


def test_equil2_mode_closes_mass_balances_to_its_tolerance(reference: Equil2Result) -> None:
    # EQUIL2's printed state mixes the last update's free ions with the complexes
    # computed before it, so the balances close only to about its 1e-4 stop rule.
    _check_mass_balance(reference, R_PORT_TOTALS, rtol=1e-4)


@pytest.mark.parametrize("complex_name", COMPLEXES)
def test_converged_species_obey_the_complexation_rule(
    reference_converged: Equil2Result, complex_name: str
) -> None:
    r = reference_converged
    index, reactants, n_h, n_oh, charge = COMPLEXES[complex_name]
    f1 = float(r.activity_factors["F1"])
    a_h = 10.0**-R_PORT_PH
    a_oh = 10.0 ** (R_PORT_PH - PKW)
    expected = constants()[f"S{index}"] * a_h**n_h * a_oh**n_oh / f1 ** (charge**2)
    for reactant in reactants:
        expected *= float(r.species[reactant]) * f1 ** (_charge(reactant) ** 2)
    assert float(r.species[complex_name]) == pytest.approx(expected, rel=1e-12)


def test_ionic_strength_and_davies(reference_converged: Equil2Result) -> None:
    r = reference_converged
    f1 = float(r.activity_factors["F1"])
    a_h = 10.0**-R_PORT_PH
    a_oh = 10.0 ** (R_PORT_PH - PKW)
    # I = ½ Σ z² c, with H+ and OH- converted from activity by F1 (EQUIL2).
    ionic = 0.5 * (
        (a_h + a_oh) / f1 + sum(_charge(s) ** 2 * float(c) for s, c in r.species.items())
    )
    assert float(r.ionic_strength) == pytest.approx(ionic, rel=1e-10)
    root = math.sqrt(ionic)
    assert f1 == pytest.approx(math.exp(-1.20218 * (root / (1 + root) - 0.285 * ionic)), 1e-10)
    assert float(r.activity_factors["F2"]) == pytest.approx(f1**4, rel=1e-14)
    assert float(r.activity_factors["F3"]) == pytest.approx(f1**9, rel=1e-14)


@pytest.mark.parametrize(
    ("phase", "ksp", "factor"),
    [
        ("calcium_oxalate", 6.16e-6, 1.2935),
        ("brushite", 2.37e-7, 1.2935),
        ("uric_acid", 2.61e-4, 2.587),
        ("sodium_urate", 2.79e-5, 1.2935),
        ("ammonium_urate", 3.6e-5, 1.2935),
        ("potassium_urate", 9.63e-5, 1.2935),
        ("struvite", 1.15e-13, 0.8623),
        ("hydroxyapatite", 1.45e-59, 0.28744),
    ],
)
def test_ss_and_dg_definitions(
    reference_converged: Equil2Result, phase: str, ksp: float, factor: float
) -> None:
    # SS = activity product / Ksp (MODEL.md §2), DG = (RT/ν) ln SS with EQUIL2's literals.
    r = reference_converged
    sp = {k: float(v) for k, v in r.species.items()}
    f1 = float(r.activity_factors["F1"])
    g1, g2, g3 = f1, f1**4, f1**9
    a_oh = 10.0 ** (R_PORT_PH - PKW)
    product = {
        "calcium_oxalate": sp["CaOx"],
        "brushite": g2 * sp["Ca"] * g2 * sp["HPO4"],
        "uric_acid": sp["H2U"],
        "sodium_urate": g1 * sp["Na"] * g1 * sp["HU"],
        "ammonium_urate": g1 * sp["NH4"] * g1 * sp["HU"],
        "potassium_urate": g1 * sp["K"] * g1 * sp["HU"],
        "struvite": g2 * sp["Mg"] * g1 * sp["NH4"] * g3 * sp["PO4"],
        "hydroxyapatite": (g2 * sp["Ca"]) ** 5 * (g3 * sp["PO4"]) ** 3 * a_oh,
    }[phase]
    assert float(r.ss[phase]) == pytest.approx(product / ksp, rel=1e-12)
    assert float(r.dg[phase]) == pytest.approx(factor * math.log(product / ksp), rel=1e-12)


# --------------------------------------------------------------------------- properties


def _optional(high: float) -> st.SearchStrategy[float]:
    return st.one_of(st.just(0.0), st.floats(1e-9, high))


urine = st.fixed_dictionaries(
    {
        "sodium": st.floats(0.01, 0.25),
        "potassium": st.floats(0.01, 0.12),
        "calcium": st.floats(0.5e-3, 10e-3),
        "magnesium": st.floats(0.5e-3, 8e-3),
        "ammonium": _optional(0.06),
        "chloride": st.floats(0.01, 0.25),
        "phosphate": _optional(0.05),
        "sulfate": st.floats(1e-3, 0.03),
        "oxalate": st.floats(0.05e-3, 1e-3),
        "citrate": _optional(6e-3),
        "urate": st.floats(0.2e-3, 5e-3),
    }
)


@settings(max_examples=40, deadline=None)
@given(totals=urine, pH=st.floats(4.5, 7.5), factor=st.floats(1.01, 3.0))
def test_calcium_oxalate_ss_rises_with_oxalate(totals: dict, pH: float, factor: float) -> None:
    more = {**totals, "oxalate": totals["oxalate"] * factor}
    result = equil2_molar(
        {k: np.array([v, more[k]]) for k, v in totals.items()}, pH, iteration="converged"
    )
    ss = result.ss["calcium_oxalate"]
    assert ss[1] > ss[0]


@settings(max_examples=40, deadline=None)
@given(totals=urine, pH=st.floats(4.5, 7.5))
def test_converged_mass_balance_property(totals: dict, pH: float) -> None:
    result = equil2_molar(totals, pH, iteration="converged")
    assert bool(result.converged)
    _check_mass_balance(result, totals, rtol=1e-10)


# --------------------------------------------------------------------------- data, docs


def test_constants_table_has_sources() -> None:
    from oxalate.equil2 import _rows

    rows = _rows()
    keys = [row["key"] for row in rows]
    assert keys[:65] == [f"S{i}" for i in range(1, 66)]
    assert len(set(keys)) == len(keys)
    known = bibliography()
    for row in rows:
        assert row["source"] in known, row["key"]
        assert row["unit"] and row["kind"] and row["active_v5"] in ("0", "1")
        float(row["value"])


def test_constants_are_equil2s() -> None:
    # Spot checks against the V5 listing (S(26) = 2746, S(1) = 1730000000000#, ...).
    c = constants()
    assert c["S1"] == 1.73e12
    assert c["S9"] == 278000
    assert c["S18"] == 8.831001
    assert c["S27"] == 17.3 and c["S28"] == 71.4  # CaOx2 and Ca2Ox, in that order
    assert c["pKw"] == 13.593
    assert c["divisor_phosphate_P"] == 3097 and c["divisor_sulfate_S"] == 3206


DOC = Path(__file__).resolve().parents[1] / "docs" / "equil2.rst"


@pytest.mark.skipif(not DOC.exists(), reason="docs/equil2.rst not present")
def test_docs_examples_run() -> None:
    failures, _ = doctest.testfile(
        str(DOC),
        module_relative=False,
        optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS,
    )
    assert failures == 0
