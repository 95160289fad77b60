"""Regression tests from the reproducers of issue 10 ("Hardening"), each run as written there.

Items 1-3 (the kernel cache) are in test_kernel_cache.py; the engines' agreement
(items 10-13, 15, 17) in test_engine_agreement.py; the fuzz run in test_fuzz.py.
"""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import oxalate
from oxalate import OxalateInputWarning, Quantity, Solution

# --- item 4: molar inputs that leave no water ------------------------------------------------


def test_solutes_heavier_than_the_solution_are_refused() -> None:
    # was: totals["Ca"] = -148 mol/kg
    with pytest.raises(ValueError, match=r"calcium, oxalate.*no water would be left"):
        Solution(calcium="30 mol/L", oxalate="1 mmol/L")
    with pytest.raises(ValueError, match="no water would be left"):
        oxalate.fluids.plasma(oxalate="20 mol/L")  # was: -26 mol/kg


def test_solutes_heavier_than_the_solution_give_nan_rows_on_request() -> None:
    ca = Quantity([2.0, 30_000.0, 3.0], "mmol/L")
    with pytest.warns(OxalateInputWarning, match="index 1"):
        s = Solution(calcium=ca, oxalate="0.3 mmol/kg", on_invalid="nan")
    assert np.isnan(s.totals["Ca"][1]) and np.isnan(s.totals["Ox"][1])
    assert np.all(s.totals["Ca"][[0, 2]] > 0)
    r = oxalate.speciate(Solution.from_arrays(dict(s.totals), pH=6.0, temperature_kelvin=298.15))
    np.testing.assert_array_equal(r.converged, [True, False, True])


def test_tiselius_and_equil2_refuse_impossible_concentrations() -> None:
    # was: Tiselius index 2360, EQUIL2 SS 0.027 "converged"
    with pytest.raises(ValueError, match="no water would be left"):
        oxalate.indices.tiselius_ap_caox(
            calcium="30 mol/L", oxalate="1 mmol/L", citrate="3 mmol/L", magnesium="4 mmol/L",
            volume="1.5 L/d",
        )  # fmt: skip
    with pytest.raises(ValueError, match="no water would be left"):
        oxalate.equil2.equil2_molar({"calcium": 30.0, "oxalate": 1e-3}, 6.0)


# --- item 5: solver arguments ----------------------------------------------------------------


@pytest.mark.parametrize("tolerance", [1e300, 0, -1, float("nan"), "abc", True])
def test_speciate_refuses_a_bad_tolerance(tolerance: object) -> None:
    # was: tolerance=1e300 returned Omega 7.89 instead of 5.94 "converged"
    with pytest.raises(ValueError, match="tolerance"):
        oxalate.speciate(oxalate.fluids.urine_24h_normal(), tolerance=tolerance)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "10"])
def test_speciate_refuses_a_bad_iteration_count(value: object) -> None:
    with pytest.raises(ValueError, match="max_iterations"):
        oxalate.speciate(oxalate.fluids.urine_24h_normal(), max_iterations=value)  # type: ignore[arg-type]


# --- item 6: a pH from electroneutrality outside 0-14 ----------------------------------------


@pytest.mark.parametrize("engine", ["numpy", "auto"])
def test_charge_balance_ph_outside_0_14_is_not_converged(engine: str) -> None:
    # was: pH 14.46, converged=True
    r = oxalate.speciate(Solution(calcium="1 mol/kg", pH=None), engine=engine)
    assert not r.converged and np.isnan(r.pH)
    assert "outside 0-14" in str(r.reason)


# --- item 7: the reason of a failed initial speciation ---------------------------------------


@pytest.mark.parametrize("engine", ["numpy", "auto"])
def test_search_reason_names_the_initial_speciation(engine: str) -> None:
    s = Solution.from_arrays(
        {"Ca": [2e-3, 1.0], "Ox": [1e-4, 1e-4]}, pH=None, temperature_kelvin=298.15
    )
    th = oxalate.threshold(s, "oxalate", engine=engine)
    assert th.converged.tolist() == [True, False]
    assert th.reason[1] == "the initial speciation did not converge"
    d = oxalate.dilution_for(s, engine=engine)
    assert d.reason[1] == "the initial speciation did not converge"
    t = oxalate.titrate(s, step="0.1 mmol/kg", n_steps=3)
    assert t.reason[1] == "the initial speciation did not converge"


# --- item 8: messages -------------------------------------------------------------------------


def test_boolean_ph_is_refused() -> None:
    with pytest.raises(TypeError, match="boolean"):
        Solution(calcium="1 mmol/L", pH=True)  # was: pH 1


def test_scalar_ph_error_shows_the_value() -> None:
    with pytest.raises(ValueError, match=r"\(pH=15.0\)"):  # was: "(at [[]])"
        Solution(calcium="1 mmol/L", pH=15)


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda u: oxalate.precipitate(u, phases=("foo",)), "phases="),
        (lambda u: oxalate.titrate(u, component="foo"), "component="),
        (lambda u: oxalate.mix(u, "x", 0.5), "b="),
        (lambda u: oxalate.mix("x", u, 0.5), "a="),
    ],
    ids=["phases", "titrate-component", "mix-b", "mix-a"],
)
def test_messages_name_the_argument(call: object, argument: str) -> None:
    u = oxalate.fluids.urine_24h_normal()
    with pytest.raises((TypeError, ValueError), match=argument):
        call(u)  # type: ignore[operator]


def test_shape_mismatch_names_the_arguments() -> None:
    with pytest.raises(ValueError, match=r"calcium \(2,\), oxalate \(3,\)"):
        Solution(calcium=Quantity([1, 2], "mmol/L"), oxalate=Quantity([1, 2, 3], "mmol/L"))


def test_very_long_unit_string_is_refused_quickly() -> None:
    # was: RecursionError for a long unit string
    with pytest.raises(ValueError, match="longer than 200 characters"):
        Solution(calcium="1 " + "m" * 100_000 + "ol/L")


@pytest.mark.parametrize("text", ["1 " * 16_000, "a" + " " * 32_000 + "x"])
def test_long_background_string_is_refused_quickly(text: str) -> None:
    # was: 5.5 s in a quadratic regular expression
    with pytest.raises(ValueError, match="longer than 200 characters"):
        oxalate.supersaturation("4 mmol/L", "0.3 mmol/L", background=text)


# --- item 9: read-only solutions and results ---------------------------------------------------


def test_solution_fields_are_read_only() -> None:
    s = Solution(calcium=Quantity([1.0, 2.0], "mmol/L"), pH=6.0)
    for array in (s.pH, s.temperature, s.totals["Ca"], s[0:1].totals["Ca"], s[0:1].pH):
        assert array is not None
        with pytest.raises(ValueError, match="read-only"):
            array[...] = 1.0
    again = pickle.loads(pickle.dumps(s))
    with pytest.raises(ValueError, match="read-only"):
        again.totals["Ca"][0] = 1.0


def test_speciation_arrays_are_read_only() -> None:
    # was: editing r.molality before the first read of r.saturation_index shifted the SI
    r = oxalate.speciate(oxalate.fluids.urine_24h_normal(volume=Quantity([1.5, 2.5], "L/d")))
    with pytest.raises(ValueError, match="read-only"):
        r.molality[...] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        r.ionic_strength[0] = 0.0


# --- item 14: one bad temperature in a batch --------------------------------------------------


def test_one_temperature_out_of_range_keeps_the_other_rows() -> None:
    with pytest.warns(OxalateInputWarning, match="index 1"):
        s = Solution(
            calcium="2 mmol/kg", oxalate="0.2 mmol/kg", pH=6.0,
            temperature=Quantity([37.0, 150.0, 25.0], "degC"), on_invalid="nan",
        )  # fmt: skip
    r = oxalate.speciate(s)
    np.testing.assert_array_equal(r.converged, [True, False, True])
    assert r.reason[1].startswith("invalid input")
    with pytest.raises(ValueError, match="temperature"):
        Solution(calcium="2 mmol/kg", temperature=Quantity([37.0, 150.0], "degC"))


# --- item 16: results cross process boundaries ---------------------------------------------------


def test_equil2_result_pickles() -> None:
    r = oxalate.equil2.equil2_molar(
        {"calcium": 2.5e-3, "oxalate": 3e-4, "sodium": 0.1, "chloride": 0.1}, 6.0
    )
    again = pickle.loads(pickle.dumps(r))
    assert again.ss["calcium_oxalate"] == r.ss["calcium_oxalate"]


def test_constant_set_pickles() -> None:
    cs = oxalate.constant_set("default").with_solubility_product(COM=2.6e-9)
    again = pickle.loads(pickle.dumps(cs))
    assert again.solid("COM").k25 == 2.6e-9


def test_no_warning_for_valid_input() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Solution(calcium="2 mmol/kg", pH=6.0)
