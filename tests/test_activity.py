"""Activity models and the ionic strength.

Reference values: the Davies equation worked by hand with PHREEQC's A
(REFERENCE §2), and PHREEQC itself run with and without ``-gamma`` lines.
Properties: γ → 1 and the limiting-law slope as I → 0.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import oxalate
from oxalate import precipitation
from oxalate.activity import VALIDITY, log10_activity_coefficient

Q = oxalate.Quantity

# PHREEQC 3.8.6 Debye-Hückel A (REFERENCE §2 check table). [(kg/mol)^0.5]
A25 = 0.51002479
A37 = 0.52114364
# EQUIL2 (Werness et al. 1985): ln γ1 = -1.20218 (√I/(1+√I) - 0.285 I).
EQUIL2_A_LN = 1.20218


def davies_by_hand(z: int, ionic_strength: float, a: float) -> float:
    """γ by PHREEQC's Davies (REFERENCE §2), written out with math."""
    if z == 0:
        return 10.0 ** (0.1 * ionic_strength)
    s = math.sqrt(ionic_strength)
    return 10.0 ** (-a * z * z * (s / (1.0 + s) - 0.3 * ionic_strength))


# --- Davies by hand ------------------------------------------------------------


def test_davies_worked_example() -> None:
    # z = 2, I = 0.1 mol/kg, 25 °C, A = 0.51002479:
    # √0.1 = 0.316227766;  0.316227766 / 1.316227766 = 0.240253073
    # 0.240253073 - 0.3 × 0.1 = 0.210253073;  × 4 × 0.51002479 = 0.428937118
    # γ = 10^-0.428937118 = 0.3724456
    gamma = oxalate.activity_coefficient(2, "0.1 mol/kg", "25 degC")
    assert math.log10(gamma) == pytest.approx(-0.428937118, abs=2e-9)
    assert gamma == pytest.approx(0.3724456, abs=1e-7)


@pytest.mark.parametrize("ionic_strength", [0.001, 0.01, 0.1, 0.15, 0.3, 0.5])
@pytest.mark.parametrize("z", [0, 1, 2, 3, -1, -2, -3])
@pytest.mark.parametrize(("t_c", "a"), [(25, A25), (37, A37)])
def test_davies_by_hand(z: int, ionic_strength: float, t_c: int, a: float) -> None:
    gamma = oxalate.activity_coefficient(z, Q(ionic_strength, "mol/kg"), f"{t_c} degC")
    # A is given to 8 decimals: rtol 1e-7 in γ is far wider than that rounding.
    assert gamma == pytest.approx(davies_by_hand(z, ionic_strength, a), rel=1e-7)


@pytest.mark.parametrize("ionic_strength", [0.01, 0.15, 0.3])
@pytest.mark.parametrize("z", [1, 2, 3])
def test_equil2_by_hand(z: int, ionic_strength: float) -> None:
    s = math.sqrt(ionic_strength)
    ln_gamma1 = -EQUIL2_A_LN * (s / (1.0 + s) - 0.285 * ionic_strength)
    expected = math.exp(ln_gamma1) ** (z * z)  # γ2 = γ1^4, γ3 = γ1^9
    gamma = oxalate.activity_coefficient(z, Q(ionic_strength, "mol/kg"), "37 degC", "equil2")
    assert gamma == pytest.approx(expected, rel=1e-12)


def test_equil2_is_independent_of_temperature() -> None:
    g25 = oxalate.activity_coefficient(2, "0.15 mol/kg", "25 degC", "equil2")
    g60 = oxalate.activity_coefficient(2, "0.15 mol/kg", "60 degC", "equil2")
    assert g25 == g60


@pytest.mark.parametrize("model", ["extended-debye-huckel", "truesdell-jones"])
def test_wateq_forms_by_hand(model: str) -> None:
    # Ca2+: å = 5.0 Å, b = 0.165 (REFERENCE §2 WATEQ table); B(25 °C) = 0.328491.
    i, a, b_dh = 0.1, A25, 0.328491
    log_g = -a * 4 * math.sqrt(i) / (1 + b_dh * 5.0 * math.sqrt(i))
    if model == "truesdell-jones":
        log_g += 0.165 * i
    gamma = oxalate.activity_coefficient(2, "0.1 mol/kg", "25 degC", model, ion="calcium")
    assert math.log10(gamma) == pytest.approx(log_g, abs=1e-6)


def test_limiting_law_by_hand() -> None:
    gamma = oxalate.activity_coefficient(1, "0.005 mol/kg", "25 degC", "debye-huckel")
    assert math.log10(gamma) == pytest.approx(-A25 * math.sqrt(0.005), abs=1e-9)


def test_ideal_is_one() -> None:
    assert oxalate.activity_coefficient(2, "0.0005 mol/kg", model="ideal") == 1.0


def test_explicit_ion_size_overrides_ion() -> None:
    by_ion = oxalate.activity_coefficient(
        2, "0.05 mol/kg", model="extended-debye-huckel", ion="calcium"
    )
    by_size = oxalate.activity_coefficient(
        2, "0.05 mol/kg", model="extended-debye-huckel", ion_size=5.0
    )
    assert by_ion == pytest.approx(by_size, rel=1e-14)


@pytest.mark.parametrize(
    "spelling", ["davies", "Davies", "debye_huckel", "Debye-Hückel", "extended-debye-hueckel"]
)
def test_model_spellings(spelling: str) -> None:
    assert np.isfinite(
        oxalate.activity_coefficient(1, "0.001 mol/kg", model=spelling, ion_size=4.0)
    )


# --- PHREEQC -------------------------------------------------------------------

_GRID = [(t, m) for t in (0.0, 25.0, 37.0, 60.0, 90.0) for m in (0.001, 0.01, 0.15, 0.5)]
_NACL = "".join(
    f"SOLUTION {k}\n  temp {t}\n  units mol/kgw\n  Na {m}\n  Cl {m}\n"
    for k, (t, m) in enumerate(_GRID, 1)
)


# PHREEQC's -gamma a b is the WATEQ Debye-Hückel form (b = 0: extended DH);
# -gamma 0 0 is the limiting law, not Davies (REFERENCE §5 trap).  Na+: å = 4.0,
# b = 0.075 (phreeqc.dat, REFERENCE §2 table).
@pytest.mark.phreeqc
@pytest.mark.parametrize(
    ("model", "gamma_line", "size", "bdot"),
    [
        ("davies", "", 0.0, 0.0),
        ("debye-huckel", "  -gamma 0 0", 0.0, 0.0),
        ("extended-debye-huckel", "  -gamma 4.0 0", 4.0, 0.0),
        ("truesdell-jones", "  -gamma 4.0 0.075", 4.0, 0.075),
    ],
)
def test_log_gamma_matches_phreeqc(
    run_phreeqc, model: str, gamma_line: str, size: float, bdot: float
) -> None:
    out = run_phreeqc(
        _NACL,
        {"t": "TC", "mu": "MU", "lg": 'LG("Na+")', "aw": 'ACT("H2O")'},
        sodium_gamma=gamma_line,
    )
    t = out["t"] + 273.15
    ours = log10_activity_coefficient(
        1, out["mu"], t, model, ion_size=size, b=bdot, water_activity=out["aw"], warn=False
    )
    # Same formula, same A(T, a_w), same I: PHREEQC's SI tolerance of 1e-6
    # (REFERENCE §5) is generous; agreement is to rounding.
    np.testing.assert_allclose(ours, out["lg"], rtol=0, atol=1e-12)


@pytest.mark.phreeqc
def test_public_wateq_parameters_match_phreeqc(run_phreeqc) -> None:
    # The ion="sodium" parameters come from ions.csv; PHREEQC gets them written out.
    out = run_phreeqc(
        "SOLUTION 1\n  temp 37\n  units mol/kgw\n  Na 0.15\n  Cl 0.15\n",
        {"mu": "MU", "lg": 'LG("Na+")'},
        sodium_gamma="  -gamma 4.0 0.075",
    )
    gamma = oxalate.activity_coefficient(
        1, Q(out["mu"][0], "mol/kg"), "37 degC", "truesdell-jones", ion="sodium"
    )
    # a_w = 1 here: A differs from PHREEQC's by < 1e-8 at 37 °C (REFERENCE §2).
    assert math.log10(gamma) == pytest.approx(out["lg"][0], abs=1e-7)


@pytest.mark.phreeqc
def test_neutral_species_salting_out_matches_phreeqc(run_phreeqc) -> None:
    # A neutral ion pair without -gamma: PHREEQC uses log γ = 0.1 I (REFERENCE §2).
    out = run_phreeqc(
        "SOLUTION 1\n  temp 37\n  units mol/kgw\n  Na 0.3\n  Cl 0.3\n",
        {"mu": "MU", "lg": 'LG("NaCl")'},
        species="Na+ + Cl- = NaCl\n  log_k -0.5\n",
    )
    gamma = oxalate.activity_coefficient(0, Q(out["mu"][0], "mol/kg"), "37 degC")
    assert out["lg"][0] == pytest.approx(0.1 * out["mu"][0], abs=1e-12)
    assert math.log10(gamma) == pytest.approx(out["lg"][0], abs=1e-12)


# --- properties ---------------------------------------------------------------

charges = st.sampled_from([1, 2, 3, -1, -2, -3])
temperatures = st.floats(0.0, 100.0)


@pytest.mark.parametrize("model", oxalate.ACTIVITY_MODELS)
@given(z=charges, t_c=temperatures, exponent=st.floats(6.0, 14.0))
def test_gamma_tends_to_one(model: str, z: int, t_c: float, exponent: float) -> None:
    i = 10.0**-exponent
    gamma = oxalate.activity_coefficient(
        z, Q(i, "mol/kg"), Q(t_c, "degC"), model, ion_size=4.0, b=0.1
    )
    at_zero = oxalate.activity_coefficient(
        z, Q(0.0, "mol/kg"), Q(t_c, "degC"), model, ion_size=4.0
    )
    assert at_zero == 1.0
    # |log γ| <= A z² √I + b I with A < 0.61 (0-100 °C) and b = 0.1.
    assert abs(math.log10(gamma)) <= 0.61 * z * z * math.sqrt(i) + 0.1 * i


@pytest.mark.parametrize("model", oxalate.ACTIVITY_MODELS)
@given(z=charges, t_c=temperatures)
def test_limiting_slope(model: str, z: int, t_c: float) -> None:
    """d log γ / d√I → -A z² as I → 0 (finite difference at √I = 1e-5, 2e-5)."""
    t = Q(t_c, "degC")

    def log_gamma(i: float) -> float:
        g = oxalate.activity_coefficient(z, Q(i, "mol/kg"), t, model, ion_size=4.0, b=0.1)
        return math.log10(g)

    slope = (log_gamma(4e-10) - log_gamma(1e-10)) / (2e-5 - 1e-5)
    if model == "ideal":
        assert slope == 0.0
        return
    if model == "equil2":  # EQUIL2's A is fixed: 1.20218 / ln 10
        a = EQUIL2_A_LN / math.log(10)
    else:
        a = oxalate.debye_huckel_a(t)
    # The next term is O(√I) ~ (1 + B å) × 1e-5 relative.
    assert slope == pytest.approx(-a * z * z, rel=1e-3)


@given(
    z=charges,
    i1=st.floats(1e-6, 0.5),
    i2=st.floats(1e-6, 0.5),
)
def test_davies_gamma_decreases_to_its_minimum(z: int, i1: float, i2: float) -> None:
    # Davies log γ has its minimum where 1/(2√I(1+√I)²) = 0.3, near I ≈ 0.3-0.4;
    # below I = 0.25 it falls monotonically.
    lo, hi = sorted((min(i1, 0.25), min(i2, 0.25)))
    if hi > lo * (1 + 1e-9):
        g = oxalate.activity_coefficient(z, Q([lo, hi], "mol/kg"), "37 degC")
        assert g[1] < g[0]


# --- validity warnings ----------------------------------------------------------


@pytest.mark.parametrize("model", oxalate.ACTIVITY_MODELS)
def test_warns_beyond_validity(model: str) -> None:
    limit = VALIDITY[model]
    with pytest.warns(oxalate.OxalateRangeWarning, match=model):
        oxalate.activity_coefficient(2, Q(limit * 1.01, "mol/kg"), model=model, ion="calcium")


@pytest.mark.parametrize("model", oxalate.ACTIVITY_MODELS)
def test_silent_at_validity_limit(model: str) -> None:
    # pytest turns an unexpected OxalateRangeWarning into an error.
    limit = VALIDITY[model]
    oxalate.activity_coefficient(2, Q(limit, "mol/kg"), model=model, ion="calcium")


def test_davies_warns_above_half_molal() -> None:
    with pytest.warns(oxalate.OxalateRangeWarning, match="0.5"):
        oxalate.activity_coefficient(2, "0.6 mol/kg")


def test_warning_counts_rows() -> None:
    with pytest.warns(oxalate.OxalateRangeWarning, match="2 of 4"):
        oxalate.activity_coefficient(1, Q([0.1, 0.6, 0.2, 0.9], "mol/kg"))


# --- ionic strength ---------------------------------------------------------------


def test_ionic_strength_by_hand() -> None:
    # 150 mmol/kg NaCl + 4 mmol/kg CaCl2: ½(0.15 + 0.158 + 4 × 0.004) = 0.162
    m = [0.15, 0.158, 0.004]
    z = [1, -1, 2]
    assert oxalate.ionic_strength(m, z) == pytest.approx(0.162, abs=1e-15)


def test_ionic_strength_quantity_is_converted() -> None:
    m = Q([150.0, 158.0, 4.0], "mmol/kg")
    assert oxalate.ionic_strength(m, [1, -1, 2]) == pytest.approx(0.162, abs=1e-15)


def test_ionic_strength_axis() -> None:
    m = np.array([[0.1, 0.2], [0.1, 0.2], [0.05, 0.0]])  # species along axis 0
    out = oxalate.ionic_strength(m, [1, -1, 2], axis=0)
    np.testing.assert_allclose(out, [0.5 * (0.1 + 0.1 + 0.2), 0.5 * (0.2 + 0.2)], rtol=1e-15)


# --- shapes ----------------------------------------------------------------------


@pytest.mark.parametrize("model", oxalate.ACTIVITY_MODELS)
def test_scalar_in_scalar_out(model: str) -> None:
    out = oxalate.activity_coefficient(2, "0.0001 mol/kg", "37 degC", model, ion="calcium")
    assert np.ndim(out) == 0
    assert not isinstance(out, np.ndarray)


def test_ionic_strength_scalar_out() -> None:
    out = oxalate.ionic_strength([0.1, 0.2], [2, -1])
    assert np.ndim(out) == 0
    assert not isinstance(out, np.ndarray)


@pytest.mark.parametrize("model", oxalate.ACTIVITY_MODELS)
def test_n_dimensional_ionic_strength(model: str) -> None:
    flat = np.linspace(0.0, 1e-3, 24)
    out_flat = oxalate.activity_coefficient(2, Q(flat, "mol/kg"), "37 degC", model, ion="calcium")
    out_nd = oxalate.activity_coefficient(
        2, Q(flat.reshape(2, 3, 4), "mol/kg"), "37 degC", model, ion="calcium"
    )
    assert out_nd.shape == (2, 3, 4)
    np.testing.assert_array_equal(out_nd, out_flat.reshape(2, 3, 4))


def test_n_dimensional_charge_broadcasts() -> None:
    z = np.array([1, 2, 3, 0]).reshape(4, 1)
    i = Q(np.array([0.01, 0.1, 0.3]), "mol/kg")
    out = oxalate.activity_coefficient(z, i, "25 degC")
    assert out.shape == (4, 3)
    assert out[2, 1] == pytest.approx(davies_by_hand(3, 0.1, A25), rel=1e-7)
    assert out[3, 2] == pytest.approx(davies_by_hand(0, 0.3, A25), rel=1e-12)


@given(st.lists(st.floats(0.0, 0.5), min_size=1, max_size=20))
def test_batch_equals_row_by_row(values: list[float]) -> None:
    batch = oxalate.activity_coefficient(2, Q(np.array(values), "mol/kg"), "37 degC")
    rows = np.array([oxalate.activity_coefficient(2, Q(v, "mol/kg"), "37 degC") for v in values])
    np.testing.assert_array_equal(batch, rows)


def test_nan_ionic_strength_raises_with_index() -> None:
    with pytest.raises(ValueError, match=r"ionic_strength.*index 1"):
        oxalate.activity_coefficient(2, Q([0.1, np.nan, 0.2], "mol/kg"))


# --- bad input ---------------------------------------------------------------------


@pytest.mark.parametrize("model", ["pitzer", "sit", "", "davis"])
def test_unknown_model(model: str) -> None:
    with pytest.raises(ValueError, match="model"):
        oxalate.activity_coefficient(2, "0.1 mol/kg", model=model)


def test_model_not_a_string() -> None:
    with pytest.raises(TypeError, match="model"):
        oxalate.activity_coefficient(2, "0.1 mol/kg", model=3)


@pytest.mark.parametrize("ionic_strength", [0.1, np.float64(0.1), np.array([0.1, 0.2]), [0.1]])
def test_ionic_strength_bare_number(ionic_strength: object) -> None:
    with pytest.raises(TypeError, match="ionic_strength"):
        oxalate.activity_coefficient(2, ionic_strength)


@pytest.mark.parametrize(
    "ionic_strength",
    ["-0.1 mol/kg", "nan mol/kg", "inf mol/kg", "0.1 m", "0.1 apples", Q(-1.0, "mmol/kg")],
)
def test_ionic_strength_bad_value(ionic_strength: object) -> None:
    with pytest.raises(ValueError, match="ionic_strength"):
        oxalate.activity_coefficient(2, ionic_strength)


@pytest.mark.parametrize("charge", [np.nan, np.inf, [1, np.nan]])
def test_bad_charge(charge: object) -> None:
    with pytest.raises(ValueError, match="charge"):
        oxalate.activity_coefficient(charge, "0.1 mol/kg")


@pytest.mark.parametrize("model", ["extended-debye-huckel", "truesdell-jones"])
def test_size_dependent_model_needs_ion(model: str) -> None:
    with pytest.raises(ValueError, match="ion"):
        oxalate.activity_coefficient(2, "0.01 mol/kg", model=model)


def test_temperature_out_of_range() -> None:
    with pytest.raises(ValueError, match="temperature"):
        oxalate.activity_coefficient(2, "0.1 mol/kg", "105 degC")


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda s: oxalate.speciate(s), id="speciate"),
        pytest.param(lambda s: oxalate.speciate(s, engine="numpy"), id="speciate-numpy"),
        pytest.param(lambda s: precipitation.precipitate(s), id="precipitate"),
        pytest.param(lambda s: precipitation.precipitate(s, engine="numpy"), id="precip-numpy"),
        pytest.param(lambda s: precipitation.threshold(s), id="threshold"),
        pytest.param(lambda s: precipitation.threshold(s, engine="numpy"), id="threshold-numpy"),
        pytest.param(lambda s: precipitation.dilution_for(s, 4.0), id="dilution"),
        pytest.param(
            lambda s: precipitation.dilution_for(s, 4.0, engine="numpy"), id="dilution-numpy"
        ),
        pytest.param(
            lambda s: oxalate.supersaturation(
                calcium="4 mmol/kg", oxalate="0.1 mmol/kg", ionic_strength="0.9 mol/kg"
            ),
            id="free-ion",
        ),
    ],
)
def test_range_warning_names_the_callers_line(call: Any) -> None:
    """However deep inside the library (and whichever engine), the warning points here."""
    s = oxalate.Solution(calcium="4 mmol/kg", sodium="900 mmol/kg", chloride="908 mmol/kg",
                         oxalate="0.1 mmol/kg", pH=6.0)  # fmt: skip
    with pytest.warns(oxalate.OxalateRangeWarning) as record:
        call(s)
    assert {w.filename for w in record} == {__file__}
