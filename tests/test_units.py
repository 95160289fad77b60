"""Units at the edge: clinical units, molar → molal, bad input.

Reference values: conversions worked by hand with the molar masses of
REFERENCE §4 (IUPAC 2005, Wieser 2006), and PHREEQC's own mmol/L and mg/L
reading (SOLUTION ... density 1) run in the test.
"""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pint
import pytest

import oxalate
from oxalate.units import (
    as_molality,
    concentration,
    expressed_as,
    molar_to_molal,
    solution_density,
    temperature_kelvin,
)

Q = oxalate.Quantity

# Molar masses [g/mol], REFERENCE §4.
M_CA, M_MG, M_NA, M_K, M_CL = 40.078, 24.305, 22.98977, 39.0983, 35.453
M_OX, M_CIT, M_P, M_PO4, M_S, M_SO4 = 88.019, 189.10, 30.97376, 94.971, 32.065, 96.06


# --- mass concentrations ----------------------------------------------------------


def test_calcium_mg_per_dl() -> None:
    # 10 mg/dL = 100 mg/L = 0.1 g/L; / 40.078 g/mol = 2.495 mmol/L
    value, basis = concentration("10 mg/dL", argument="calcium")
    assert basis == "molar"
    assert value == pytest.approx(0.1 / M_CA, rel=1e-14)
    assert value * 1e3 == pytest.approx(2.495, abs=5e-4)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("oxalate", "40 mg/L", 40e-3 / M_OX),  # 0.4544 mmol/L
        ("oxalate", "0.2 mg/dL", 2e-3 / M_OX),
        ("magnesium", "2.4 mg/dL", 24e-3 / M_MG),
        ("citrate", "300 mg/L", 0.3 / M_CIT),
        ("sodium", "3.22 g/L", 3.22 / M_NA),
        ("calcium", "100 ug/mL", 0.1 / M_CA),
    ],
)
def test_mass_concentration_by_hand(name: str, text: str, expected: float) -> None:
    value, basis = concentration(text, argument=name)
    assert basis == "molar"
    assert value == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("phosphate", "3.1 mg/dL as P", 31e-3 / M_P),  # 1.0008 mmol/L
        ("phosphate", "9.5 mg/dL as PO4", 95e-3 / M_PO4),
        ("sulfate", "3.2 mg/dL as S", 32e-3 / M_S),
        ("sulfate", "9.6 mg/dL as SO4", 96e-3 / M_SO4),
        ("phosphate", expressed_as("3.1 mg/dL", "P"), 31e-3 / M_P),
        ("phosphate", expressed_as(Q(3.1, "mg/dL"), "P"), 31e-3 / M_P),
    ],
)
def test_phosphate_and_sulfate_basis(name: str, value: object, expected: float) -> None:
    got, basis = concentration(value, argument=name)
    assert basis == "molar"
    assert got == pytest.approx(expected, rel=1e-14)


def test_phosphate_as_p_clinical_value() -> None:
    got, _ = concentration("3.1 mg/dL as P", argument="phosphate")
    assert got * 1e3 == pytest.approx(1.0008, abs=5e-5)


@pytest.mark.parametrize("name", ["phosphate", "sulfate"])
def test_mass_without_basis_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match=rf"{name}.*as [PS]"):
        concentration("3.1 mg/dL", argument=name)


@pytest.mark.parametrize(
    ("name", "text"),
    [("oxalate", "3 mg/dL as P"), ("phosphate", "3 mg/dL as S"), ("phosphate", "3 mmol/L as P")],
)
def test_basis_mismatch(name: str, text: str) -> None:
    with pytest.raises(ValueError, match=name):
        concentration(text, argument=name)


def test_unknown_basis() -> None:
    with pytest.raises(ValueError, match="basis"):
        expressed_as("3 mg/dL", "N")


@pytest.mark.parametrize("text", ["40 mg/day", "40 mg/(24 h)", "0.45 mmol/24h"])
def test_daily_amount_needs_volume(text: str) -> None:
    with pytest.raises(ValueError, match=r"oxalate.*volume"):
        concentration(text, argument="oxalate")


def test_mass_of_unknown_analyte() -> None:
    with pytest.raises(ValueError, match="urea"):
        concentration("30 mg/dL", argument="urea")


# --- equivalents -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("calcium", "5 mEq/L", 2.5e-3),
        ("sodium", "140 mEq/L", 0.140),
        ("magnesium", "1.7 meq/L", 0.85e-3),
        ("chloride", "104 mEq/L", 0.104),
        ("citrate", "1.5 mEq/L", 0.5e-3),
        ("calcium", "5000 uEq/L", 2.5e-3),
    ],
)
def test_milliequivalents(name: str, text: str, expected: float) -> None:
    value, basis = concentration(text, argument=name)
    assert basis == "molar"
    assert value == pytest.approx(expected, rel=1e-14)


def test_phosphate_milliequivalents_refused() -> None:
    with pytest.raises(ValueError, match=r"phosphate.*mEq"):
        concentration("2 mEq/L", argument="phosphate")


# --- molal and molar ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0.3 mmol/kg", 3e-4), ("0.15 mol/kg", 0.15), ("0.15 molal", 0.15), ("300 umol/kg", 3e-4)],
)
def test_molal_inputs(text: str, expected: float) -> None:
    value, basis = concentration(text, argument="oxalate")
    assert basis == "molal"
    assert value == pytest.approx(expected, rel=1e-14)


@pytest.mark.parametrize(
    "value",
    ["4 mmol/L", "0.004 mol/L", "4000 umol/L", "4 mM", Q(4.0, "mmol/L"), Q(4e-3, "mol/dm^3")],
)
def test_molar_spellings(value: object) -> None:
    got, basis = concentration(value, argument="calcium")
    assert basis == "molar"
    assert got == pytest.approx(4e-3, rel=1e-14)


def test_molar_to_molal_by_hand() -> None:
    # PHREEQC's convention: m = c / (ρ - Σ c M / 1000), ρ in kg/L (REFERENCE §4).
    # 5 mmol/L CaCl2 at ρ = 1: solutes 0.005 × 40.078 + 0.010 × 35.453 = 0.55492 g/L
    # water = 1 - 0.00055492 = 0.99944508 kg/L;  m(Ca) = 0.005 / 0.99944508
    out = molar_to_molal({"calcium": 0.005, "chloride": 0.010}, density=1.0)
    water = 1.0 - (0.005 * M_CA + 0.010 * M_CL) / 1000.0
    assert water == pytest.approx(0.99944508, abs=1e-12)
    assert out["calcium"] == pytest.approx(0.005 / water, rel=1e-14)
    assert out["chloride"] == pytest.approx(0.010 / water, rel=1e-14)


def test_molar_to_molal_density() -> None:
    c = {"calcium": 0.004, "oxalate": 0.0003, "sodium": 0.15, "chloride": 0.15}
    solutes = (0.004 * M_CA + 0.0003 * M_OX + 0.15 * M_NA + 0.15 * M_CL) / 1000.0
    out = molar_to_molal(c, density=1.02)
    for name, value in c.items():
        assert out[name] == pytest.approx(value / (1.02 - solutes), rel=1e-14)


def test_as_molality_mixes_bases() -> None:
    # Only the molar inputs count in the solute mass; molal ones pass through.
    out = as_molality(
        {"calcium": "5 mmol/L", "oxalate": "0.3 mmol/kg", "sodium": "150 mmol/L"},
        density="1.01 kg/L",
    )
    water = 1.01 - (0.005 * M_CA + 0.15 * M_NA) / 1000.0
    assert out["calcium"] == pytest.approx(0.005 / water, rel=1e-14)
    assert out["oxalate"] == 3e-4
    assert out["sodium"] == pytest.approx(0.15 / water, rel=1e-14)


def test_as_molality_broadcasts() -> None:
    out = as_molality({"calcium": Q([1.0, 2.0, 3.0], "mmol/kg"), "oxalate": "0.3 mmol/kg"})
    assert out["oxalate"].shape == (3,)
    np.testing.assert_array_equal(out["oxalate"], [3e-4, 3e-4, 3e-4])


@pytest.mark.phreeqc
@pytest.mark.parametrize(
    ("units", "density", "values"),
    [
        ("mmol/L", 1.0, {"Ca": 5.0, "Ox": 0.3, "Na": 150.0, "Cl": 160.6}),
        ("mmol/L", 1.02, {"Ca": 5.0, "Ox": 0.3, "Na": 150.0, "Cl": 160.6}),
        ("mmol/L", 1.0, {"Ca": 40.0, "Ox": 2.0, "K": 500.0, "Cl": 580.0}),
        ("mg/L", 1.0, {"Ca": 160.0, "Ox": 30.0, "Na": 3450.0, "Cl": 5500.0}),
        ("mg/L", 1.015, {"Ca": 200.0, "Ox": 40.0, "Na": 3450.0, "Cl": 5500.0}),
    ],
)
def test_molar_to_molal_matches_phreeqc(
    run_phreeqc, units: str, density: float, values: dict[str, float]
) -> None:
    """PHREEQC reads mmol/L and mg/L with the gfw of its master species.

    The test database gives them oxalate's molar masses, so TOT() must equal
    as_molality up to the H+ and OH- that PHREEQC also counts as solute
    (~2.5e-7 mol/kg OH- at pH 7, 37 °C, ~4e-6 g/kg: a few 1e-9 relative).
    """
    names = {"Ca": "calcium", "Ox": "oxalate", "Na": "sodium", "K": "potassium", "Cl": "chloride"}
    block = f"SOLUTION 1\n  temp 37\n  units {units}\n  density {density}\n"
    block += "".join(f"  {k} {v}\n" for k, v in values.items())
    out = run_phreeqc(block, {k: f'TOT("{k}")' for k in values})
    ours = as_molality(
        {names[k]: f"{v} {units}" for k, v in values.items()}, density=f"{density} kg/L"
    )
    for k in values:
        assert ours[names[k]] == pytest.approx(out[k][0], rel=1e-8), k


# --- density and temperature -----------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [("1.015 g/mL", 1.015), ("1020 kg/m^3", 1.02)])
def test_density(text: str, expected: float) -> None:
    assert solution_density(text) == pytest.approx(expected, rel=1e-14)


def test_density_default() -> None:
    assert solution_density(None) == 1.0


@pytest.mark.parametrize("density", ["5 kg/L", "0.1 kg/L", "1 mol/L", "1.02", "nan kg/L"])
def test_bad_density(density: str) -> None:
    with pytest.raises(ValueError, match="density"):
        solution_density(density)


def test_density_bare_number() -> None:
    with pytest.raises(TypeError, match="density"):
        solution_density(1.02)


@pytest.mark.parametrize(
    ("text", "kelvin"),
    [("37 degC", 310.15), ("37 °C", 310.15), ("98.6 degF", 310.15), ("310.15 K", 310.15)],
)
def test_temperature_kelvin(text: str, kelvin: float) -> None:
    assert temperature_kelvin(text) == pytest.approx(kelvin, abs=1e-9)


@pytest.mark.parametrize("text", ["-0.5 degC", "100.5 degC", "-10 K", "450 K"])
def test_temperature_out_of_range(text: str) -> None:
    with pytest.raises(ValueError, match="temperature"):
        temperature_kelvin(text)


def test_temperature_argument_name_in_message() -> None:
    with pytest.raises(ValueError, match="t_wall"):
        temperature_kelvin("200 degC", argument="t_wall")


# --- bad concentrations ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [4, 4.0, np.float64(4.0), np.array([1.0, 2.0]), [1.0, 2.0], None, True]
)
def test_bare_number_is_refused(value: object) -> None:
    with pytest.raises(TypeError, match=r"calcium.*no units"):
        concentration(value, argument="calcium")


def test_list_of_strings_is_refused() -> None:
    with pytest.raises(TypeError, match=r"calcium.*Quantity"):
        concentration(["4 mmol/L", "5 mmol/L"], argument="calcium")


@pytest.mark.parametrize(
    "value",
    [
        "-1 mmol/L",
        "nan mmol/L",
        "inf mmol/L",
        "-inf mmol/L",
        Q(-1.0, "mmol/L"),
        Q([1.0, np.nan], "mmol/L"),
        Q([1.0, np.inf], "mmol/kg"),
        "4 m",
        "5 apples",
        "4",
        "mmol/L",
        "four mmol/L",
        Q(4.0, "mmol"),
        Q(4.0, "mol/kg/s"),
    ],
)
def test_bad_value_names_argument(value: object) -> None:
    with pytest.raises(ValueError, match="calcium"):
        concentration(value, argument="calcium")


def test_bad_row_index_in_message() -> None:
    with pytest.raises(ValueError, match=r"oxalate.*index 2"):
        concentration(Q([0.1, 0.2, -0.3, 0.4], "mmol/L"), argument="oxalate")


def test_bad_row_index_n_dimensional() -> None:
    values = np.ones((2, 3))
    values[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"\(1, 2\)"):
        concentration(Q(values, "mmol/L"), argument="oxalate")


def test_nan_on_invalid_keeps_good_rows() -> None:
    values = Q([1.0, -1.0, 2.0, np.nan, np.inf, 3.0], "mmol/L")
    with pytest.warns(oxalate.OxalateInputWarning, match="calcium"):
        got, _ = concentration(values, argument="calcium", on_invalid="nan")
    np.testing.assert_array_equal(np.isnan(got), [False, True, False, True, True, False])
    np.testing.assert_allclose(got[[0, 2, 5]], [1e-3, 2e-3, 3e-3], rtol=1e-14)


def test_on_invalid_does_not_change_the_input() -> None:
    magnitude = np.array([1.0, -1.0])
    with pytest.warns(oxalate.OxalateInputWarning):
        concentration(Q(magnitude, "mmol/kg"), argument="calcium", on_invalid="nan")
    np.testing.assert_array_equal(magnitude, [1.0, -1.0])


def test_unknown_on_invalid_is_refused() -> None:
    with pytest.raises(ValueError, match="on_invalid"):
        concentration("1 mmol/L", argument="calcium", on_invalid="ignore")


def test_zero_is_valid() -> None:
    value, _ = concentration("0 mmol/L", argument="oxalate")
    assert value == 0.0


# --- registry ------------------------------------------------------------------------------------


def test_ureg_is_the_application_registry() -> None:
    app = pint.get_application_registry()
    q = app.Quantity(4.0, "mmol/L")
    value, _ = concentration(q, argument="calcium")
    assert value == pytest.approx(4e-3, rel=1e-14)
    assert oxalate.Quantity(1.0, "mmol/L").units == q.units


def test_scalar_quantity_gives_zero_dimensional_array() -> None:
    value, _ = concentration(Q(4.0, "mmol/L"), argument="calcium")
    assert np.ndim(value) == 0


def test_n_dimensional_concentration() -> None:
    flat = np.linspace(0.1, 10.0, 24)
    a, _ = concentration(Q(flat, "mg/dL"), argument="calcium")
    b, _ = concentration(Q(flat.reshape(2, 3, 4), "mg/dL"), argument="calcium")
    assert b.shape == (2, 3, 4)
    np.testing.assert_array_equal(b, a.reshape(2, 3, 4))


def test_expressed_as_molar_mass_sanity() -> None:
    # as PO4 and as P differ by M(PO4)/M(P) = 3.066 for the same mass.
    as_p, _ = concentration("10 mg/dL as P", argument="phosphate")
    as_po4, _ = concentration("10 mg/dL as PO4", argument="phosphate")
    assert as_p / as_po4 == pytest.approx(M_PO4 / M_P, rel=1e-14)
    assert M_PO4 == pytest.approx(M_P + 4 * 15.9994, abs=2e-3)  # self-consistent masses


def test_import_in_subprocess_leaves_math_module_alone() -> None:
    # A smoke test that the unit layer imports standalone (no circular import).
    code = "import oxalate.units as u; print(u.concentration('1 mmol/L', argument='x')[1])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "molar"
    assert math.isfinite(1.0)
