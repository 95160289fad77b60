"""oxalate.testing: its strategies draw what they promise, its assertions fail when they must.

* the strategies: bounds, units, never a subnormal total, rounding, shapes, the two
  pH modes, the physiological ranges and their sources, arguments refused as
  xarray's strategies refuse them, readable shrinking, ``st.from_type(Solution)``
  through the installed entry point, and no hypothesis at ``import oxalate``;
* each assertion passes on real results and fails on a result corrupted on
  purpose (a test of the test), with a message that names the row and the figure.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.extra.numpy import array_shapes

import oxalate
from oxalate.database import bibliography, constant_set
from oxalate.fluids import preset_table
from oxalate.solution import ANALYTES
from oxalate.testing import (
    PRECIPITATION_TOLERANCE,
    SPECIATION_TOLERANCE,
    assert_batch_equals_rows,
    assert_charge_balance,
    assert_equilibrium,
    assert_mass_balance,
    assert_unit_invariant,
)
from oxalate.testing import strategies as ost

# -- the strategies --------------------------------------------------------------------------


def _significant_digits(x: float) -> int:
    """Significant digits of a float's shortest repr (0 for zero)."""
    if x == 0:
        return 0
    mantissa = f"{abs(x):e}".split("e")[0].rstrip("0").rstrip(".").replace(".", "")
    return len(mantissa)


@given(ost.totals("calcium"))
def test_totals_span_the_solver_range_in_mol_per_kg(total: Any) -> None:
    value = total.m_as("mol/kg")
    assert str(total.units) == "mole / kilogram"
    assert value == 0 or ost.MIN_TOTAL <= value <= ost.MAX_TOTAL
    assert _significant_digits(value) <= 3


@given(ost.totals("Ox", min_value="2 umol/L", max_value="0.1 mmol/L", allow_zero=False))
def test_totals_keep_the_unit_and_bounds_given(total: Any) -> None:
    assert str(total.units) == "micromole / liter"
    assert 2.0 <= total.m_as("umol/L") <= 100.0


@given(ost.totals("sodium", min_value="1e-300 mol/kg", max_value="1e-290 mol/kg"))
def test_totals_are_never_subnormal(total: Any) -> None:
    value = total.m_as("mol/kg")
    assert value == 0 or value >= 1e-300


def test_totals_reach_zero_and_both_ends() -> None:
    quiet = settings(database=None, max_examples=2000, phases=[Phase.generate],
                     suppress_health_check=list(HealthCheck))  # fmt: skip
    s = ost.totals("calcium")
    assert find(s, lambda q: q.m_as("mol/kg") == 0, settings=quiet).m_as("mol/kg") == 0
    tiny = find(s, lambda q: 0 < q.m_as("mol/kg") < 1e-11, settings=quiet)
    assert tiny.m_as("mol/kg") >= 1e-12
    assert find(s, lambda q: q.m_as("mol/kg") > 0.5, settings=quiet).m_as("mol/kg") <= 1.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"component": "iron"}, "not a component; accepted: the analyte names calcium"),
        ({"component": "Ca", "min_value": 1e-6}, "has no units"),
        ({"component": "Ca", "min_value": "1 mg/dL"}, "mass units such as mg/dL"),
        ({"component": "Ca", "min_value": "1 mmol/kg", "max_value": "1 umol/kg"}, "above"),
        ({"component": "Ca", "min_value": "1e-310 mol/kg"}, "subnormal"),
        ({"component": "Ca", "min_value": "1 umol/kg", "max_value": "1 mmol/L"}, "both"),
        ({"component": "Ca", "allow_zero": "yes"}, "allow_zero"),
    ],
)
def test_totals_refuse_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    component = kwargs.pop("component")
    with pytest.raises(InvalidArgument, match=match):
        ost.totals(component, **kwargs)


@given(ost.compositions(fluid="urine"))
def test_urine_is_daily_amounts_over_a_volume(composition: dict[str, Any]) -> None:
    ranges = ost.physiological_ranges("urine")
    volume = ranges["volume"]
    assert set(composition) == {n for n in ANALYTES if n in ranges}
    for name, value in composition.items():
        low = ranges[name].low / volume.high * (1 - 5e-3)  # 3 significant digits
        high = ranges[name].high / volume.low * (1 + 5e-3)
        assert low <= value.m_as("mmol/L") <= high, name


@pytest.mark.parametrize("fluid", ["plasma", "ultrafiltrate"])
def test_plasma_concentrations_lie_in_their_ranges(fluid: str) -> None:
    ranges = ost.physiological_ranges(fluid)

    @given(ost.compositions(fluid=fluid))
    def check(composition: dict[str, Any]) -> None:
        assert "carbonate" in composition
        for name, value in composition.items():
            r = ranges[name]
            assert r.low <= value.m_as(r.unit) <= r.high, name

    check()


@given(
    ost.compositions(
        components=["calcium", "Ox"],
        overrides={"sodium": st.just(oxalate.Quantity(0.15, "mol/kg"))},
    )
)
def test_components_and_overrides(composition: dict[str, Any]) -> None:
    assert list(composition) == ["calcium", "sodium", "oxalate"]
    assert composition["sodium"].m_as("mol/kg") == 0.15


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"fluid": "blood"}, "fluid='blood' is not known; accepted: None, urine, plasma"),
        ({"fluid": "urine", "components": ["carbonate"]}, "no range for fluid='urine'"),
        ({"components": "calcium"}, "list of analyte names"),
        ({"overrides": {"oxalate": "1 mmol/kg"}}, "must be provided as a hypothesis"),
        ({"overrides": {"iron": st.just(1)}}, "not a component"),
    ],
)
def test_compositions_refuse_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        ost.compositions(**kwargs)


@given(ost.ph_values(), ost.ph_values(fluid="plasma"), ost.temperatures())
def test_ph_and_temperature_ranges_and_rounding(wide: float, plasma: float, t: Any) -> None:
    assert 1.0 <= wide <= 13.0 and round(wide, 2) == wide
    assert 7.35 <= plasma <= 7.45
    celsius = t.m_as("degC")
    assert 0.0 <= celsius <= 100.0 and round(celsius, 1) == celsius


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: ost.ph_values(min_value=8, max_value=6), "above"),
        (lambda: ost.ph_values(min_value="6"), "must be a number"),
        (lambda: ost.ph_values(max_value=15), "outside 0-14"),
        (lambda: ost.temperatures(min_value=20), "with units"),
        (lambda: ost.temperatures(max_value="120 degC"), "outside 0-100"),
        (lambda: ost.solutions(temperature="37 degC"), "must be provided as a hypothesis"),
        (lambda: ost.solutions(ph="neutral"), "ph='neutral' is not known"),
        (lambda: ost.solutions(ph=7.0), "ph=7.0 is not known"),
        (lambda: ost.solutions(shape=(-1,)), "non-negative ints"),
        (lambda: ost.solutions(shape=[3]), "tuple of non-negative ints"),
        (lambda: ost.physiological_ranges("blood"), "not known"),
    ],
)
def test_bad_arguments_are_refused_naming_them(make: Any, match: str) -> None:
    with pytest.raises(InvalidArgument, match=match):
        make()


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (0,), (2, 0)])
def test_solutions_have_the_shape_asked(shape: tuple[int, ...]) -> None:
    @settings(max_examples=5)
    @given(ost.solutions(shape=shape))
    def check(solution: oxalate.Solution) -> None:
        assert solution.shape == shape
        assert all(np.shape(v) == shape for v in solution.totals.values())
        assert np.shape(solution.pH) == shape and np.shape(solution.temperature) == shape

    check()


@given(ost.solutions(shape=array_shapes(min_dims=0, max_dims=2, max_side=3), ph="fixed"))
def test_fixed_ph_rows_have_a_ph_in_range(solution: oxalate.Solution) -> None:
    assert solution.pH is not None
    assert np.all((solution.pH >= 1) & (solution.pH <= 13))
    for value in solution.totals.values():
        v = np.asarray(value)
        assert np.all((v == 0) | ((v >= ost.MIN_TOTAL) & (v <= ost.MAX_TOTAL)))


#: The nominal charges the strategy balances with (its documentation).
NOMINAL = {"Ca": 2, "Mg": 2, "Na": 1, "K": 1, "Cl": -1, "Ox": -2, "Cit": -3, "PO4": -1.5,
           "SO4": -2, "CO3": -1}  # fmt: skip


@pytest.mark.parametrize("fluid", [None, "urine", "plasma"])
def test_charge_balance_rows_are_nominally_neutral(fluid: str | None) -> None:
    @given(ost.solutions(shape=(4,), fluid=fluid, ph="charge_balance"))
    def check(solution: oxalate.Solution) -> None:
        assert solution.pH is None
        charge = sum(z * np.asarray(solution.totals[c]) for c, z in NOMINAL.items())
        scale = sum(abs(z) * np.asarray(solution.totals[c]) for c, z in NOMINAL.items())
        # the counter-ion is the sum to 12 digits; a scaled-down row may have totals
        # raised back to 1e-12 (10 components: 1e-11 eq/kg at most)
        np.testing.assert_allclose(charge, 0.0, atol=1e-11 + 1e-11 * float(np.max(scale)))
        for value in solution.totals.values():
            assert np.all(np.asarray(value) <= ost.MAX_TOTAL)

    check()


def test_ph_none_draws_both_modes() -> None:
    quiet = settings(database=None, max_examples=500, phases=[Phase.generate])
    s = ost.solutions(ph=None)
    assert find(s, lambda x: x.pH is None, settings=quiet).pH is None
    assert find(s, lambda x: x.pH is not None, settings=quiet).pH is not None


def test_a_failing_example_shrinks_to_one_readable_row() -> None:
    # Any supersaturated solution: hypothesis shrinks it to one row, round values,
    # the components it needs (calcium and oxalate) and nothing else.
    def supersaturated(s: oxalate.Solution) -> bool:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", oxalate.OxalateRangeWarning)
            return bool(np.any(oxalate.speciate(s).saturation_index["COM"] > 0))

    found = find(
        ost.solutions(shape=array_shapes(min_dims=1, max_dims=1, max_side=5)),
        supersaturated,
        settings=settings(database=None, max_examples=1000, phases=[Phase.generate, Phase.shrink]),
    )
    assert found.shape == (1,)
    present = {k for k, v in found.totals.items() if np.any(v != 0)}
    assert present == {"Ca", "Ox"}
    assert all(_significant_digits(float(v[0])) <= 3 for v in found.totals.values())
    assert "Solution.from_arrays({'Ca': [" in repr(found)


def test_physiological_ranges_hold_their_presets_and_cite_sources() -> None:
    bib = bibliography()
    for fluid in ost.FLUIDS:
        ranges = ost.physiological_ranges(fluid)
        preset = ranges["pH"].preset
        inputs = {
            r.field
            for r in preset_table(preset)
            if r.role == "input" and (r.field in ANALYTES or r.field in ("pH", "temperature"))
        }
        assert inputs <= set(ranges), (fluid, inputs - set(ranges))
        for field, r in ranges.items():
            assert r.low <= r.typical <= r.high, (fluid, field)
            assert all(key in bib for key in r.source.split(";")), (fluid, field, r.source)
            assert r.unit == {"pH": "", "temperature": "degC", "volume": "L/d"}.get(
                field, "mmol/d" if fluid == "urine" else r.unit
            )


def test_urine_ranges_contain_the_stone_former_preset() -> None:
    ranges = ost.physiological_ranges("urine")
    for row in preset_table("urine_stone_former"):
        if row.role == "input" and row.field in ranges:
            assert ranges[row.field].low <= float(row.value) <= ranges[row.field].high, row.field


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_import_oxalate_and_oxalate_testing_import_no_hypothesis() -> None:
    out = _run(
        "import sys, oxalate, oxalate.testing\n"
        "print('hypothesis' in sys.modules, 'oxalate.testing.strategies' in sys.modules)"
    )
    assert out.split() == ["False", "False"]


def test_from_type_draws_solutions_through_the_entry_point() -> None:
    # the editable install registers the entry point; hypothesis runs it when imported
    out = _run(
        "import sys, warnings\n"
        "from hypothesis import strategies as st\n"
        "import oxalate\n"
        "print('oxalate.testing.strategies' in sys.modules)\n"
        "warnings.simplefilter('ignore')\n"
        "s = st.from_type(oxalate.Solution).example()\n"
        "print(type(s).__name__, len(s.shape) <= 1)\n"
    )
    assert out.split() == ["False", "Solution", "True"]


@given(st.from_type(oxalate.Solution))
def test_from_type_in_this_session(solution: oxalate.Solution) -> None:
    assert isinstance(solution, oxalate.Solution)
    assert len(solution.shape) <= 1 and solution.size <= 4


# -- the assertions pass on real results ----------------------------------------------------


def _urines() -> oxalate.Solution:
    return oxalate.fluids.urine_24h_normal(volume=oxalate.Quantity([1.0, 1.5, 2.5], "L/d"))


def _neutral() -> oxalate.Solution:
    ca = oxalate.Quantity([2.0, 3.0, 4.0], "mmol/kg")
    return oxalate.Solution(calcium=ca, chloride=2 * ca, oxalate="0.5 mmol/kg",
                            sodium="1 mmol/kg", citrate="1 mmol/kg", sulfate="1.5 mmol/kg",
                            pH=None)  # fmt: skip


def test_default_tolerances_are_the_solvers() -> None:
    assert SPECIATION_TOLERANCE == 1e-12
    assert PRECIPITATION_TOLERANCE == 1e-10


def test_assertions_pass_on_real_results() -> None:
    s = _urines()
    r = oxalate.speciate(s)
    assert_mass_balance(r, s)
    n = _neutral()
    assert_charge_balance(oxalate.speciate(n))
    chloride = oxalate.speciate(s, charge_balance="chloride")
    assert_mass_balance(chloride, s, charge_balance="chloride")
    assert_charge_balance(chloride)
    for mode in ("closed", "fixed"):
        assert_equilibrium(oxalate.precipitate(s, ["COM", "COD", "brushite"], ph_mode=mode), s)
    assert_equilibrium(oxalate.precipitate(n, "COM"), n)
    assert_batch_equals_rows(oxalate.speciate, s)
    assert_unit_invariant(oxalate.speciate, s)


# -- ... and fail on corrupted ones (tests of the tests) -------------------------------------


def _corrupt(r: Any, **fields: Any) -> Any:
    return dataclasses.replace(r, **fields)


def test_mass_balance_catches_a_species_off_by_1e_9() -> None:
    s = _urines()
    r = oxalate.speciate(s)
    m = np.array(r.molality)
    j = r.species.index("CaCit-")
    m[1, j] *= 1 + 1e-9
    with pytest.raises(AssertionError, match=r"mass balance of calcium \(Ca\).* at row 1"):
        assert_mass_balance(_corrupt(r, molality=m))
    m = np.array(r.molality)
    m[2, r.species.index("Ca+2")] *= 1 + 1e-11  # Ca+2 is most of the calcium
    with pytest.raises(AssertionError, match="row 2"):
        assert_mass_balance(_corrupt(r, molality=m))


def test_mass_balance_catches_an_absent_component_with_species() -> None:
    s = oxalate.Solution(calcium="1 mmol/kg", oxalate="0.01 mmol/kg", pH=6.0)
    r = oxalate.speciate(s)
    m = np.array(r.molality)
    m[r.species.index("MgC2O4")] = 1e-20
    with pytest.raises(AssertionError, match=r"magnesium \(Mg\) has a total of 0 at row \(\)"):
        assert_mass_balance(_corrupt(r, molality=m))


def test_mass_balance_catches_totals_that_are_not_the_solutions() -> None:
    s = _urines()
    r = oxalate.speciate(s)
    # free Na+ and the sodium total both 1e-6 mol/kg up: balanced, but not the input
    m = np.array(r.molality)
    m[..., r.species.index("Na+")] += 1e-6
    totals = {**r.totals, "Na": np.asarray(r.totals["Na"]) + 1e-6}
    corrupted = _corrupt(r, molality=m, totals=totals)
    assert_mass_balance(corrupted)  # balanced in itself
    with pytest.raises(AssertionError, match=r"total of Na is .* at row 2, the solution.s"):
        assert_mass_balance(corrupted, s)
    chloride = oxalate.speciate(s, charge_balance="chloride")
    with pytest.raises(AssertionError, match="total of Cl"):
        assert_mass_balance(chloride, s)  # chloride was adjusted: say so


def test_mass_balance_wants_converged_rows_and_nan_elsewhere() -> None:
    s = _urines()
    r = oxalate.speciate(s)
    flagged = _corrupt(r, converged=np.array([True, False, True]))
    with pytest.raises(AssertionError, match=r"1 of 3 row\(s\) did not converge \(first: row 1"):
        assert_mass_balance(flagged)
    with pytest.raises(AssertionError, match="row 1 is flagged converged=False but holds"):
        assert_mass_balance(flagged, allow_unconverged=True)
    m = np.array(r.molality)
    m[1] = np.nan
    assert_mass_balance(_corrupt(flagged, molality=m), allow_unconverged=True)


def test_charge_balance_catches_a_fixed_ph_and_a_corrupted_ion() -> None:
    with pytest.raises(AssertionError, match="charge balance is off at row"):
        assert_charge_balance(oxalate.speciate(_urines()))  # pH fixed: not neutral
    r = oxalate.speciate(_neutral())
    m = np.array(r.molality)
    m[0, r.species.index("Na+")] *= 1 + 1e-9
    with pytest.raises(AssertionError, match=r"at row 0: Σ z m - offset = .* eq/kg"):
        assert_charge_balance(_corrupt(r, molality=m))


def test_equilibrium_catches_a_corrupted_amount() -> None:
    s = _urines()
    p = oxalate.precipitate(s, ["COM", "brushite"])
    amount = dict(p.amount)
    amount["COM"] = np.asarray(amount["COM"]) * np.array([1.0, 1 + 1e-8, 1.0])
    with pytest.raises(AssertionError, match=r"calcium \(Ca\) is not conserved at row 1"):
        assert_equilibrium(_corrupt(p, amount=amount), s)


def test_equilibrium_catches_a_supersaturated_solution_left() -> None:
    s = _urines()
    p = oxalate.precipitate(s, "COM")
    with pytest.raises(AssertionError, match=r"COM is present .* but not saturated at row 0"):
        assert_equilibrium(_corrupt(p, speciation=oxalate.speciate(s)), s)
    # a phase said absent where the solution is supersaturated with it
    present = {"COM": np.zeros(3)}
    with pytest.raises(AssertionError, match="COM is absent but supersaturated"):
        assert_equilibrium(_corrupt(p, present=present, speciation=oxalate.speciate(s)), s)


def test_equilibrium_catches_water_that_is_not_conserved() -> None:
    s = _urines()
    p = oxalate.precipitate(s, "COM")
    water = np.asarray(p.water_mass) * np.array([1.0, 1.0, 1 + 1e-9])
    # the totals per kg of water left move with it, so the components still balance
    totals = {
        c: np.asarray(v) / np.array([1.0, 1.0, 1 + 1e-9]) for c, v in p.solution.totals.items()
    }
    left = oxalate.Solution.from_arrays(totals, pH=p.solution.pH,
                                        temperature_kelvin=p.solution.temperature)  # fmt: skip
    with pytest.raises(AssertionError, match="water is not conserved at row 2"):
        assert_equilibrium(_corrupt(p, water_mass=water, solution=left), s)


def test_equilibrium_catches_a_fixed_ph_that_moved() -> None:
    s = _urines()
    p = oxalate.precipitate(s, "COM", ph_mode="fixed")
    drifted = oxalate.precipitate(s, "COM", ph_mode="closed")
    with pytest.raises(AssertionError, match="ph_mode='fixed' but the pH moved"):
        assert_equilibrium(_corrupt(p, speciation=drifted.speciation), s, rtol=1e-3)


def test_batch_equals_rows_catches_a_function_that_sees_the_batch() -> None:
    def batch_mean(s: oxalate.Solution) -> Any:  # a row's result depends on its neighbours
        ca = np.asarray(s.totals["Ca"])
        return ca - ca.mean() + ca

    s = _urines()
    with pytest.raises(AssertionError, match=r"batch vs rows: result at row 0 is"):
        assert_batch_equals_rows(batch_mean, s)

    def last_bit(s: oxalate.Solution) -> Any:  # one ulp off for a batch
        r = oxalate.speciate(s)
        m = np.array(r.molality)
        if s.shape:
            m[..., 0] = np.nextafter(m[..., 0], np.inf)
        return dataclasses.replace(r, molality=m)

    with pytest.raises(AssertionError, match=r"molality\[0\] at row 0 .*difference"):
        assert_batch_equals_rows(last_bit, s)
    assert_batch_equals_rows(last_bit, s, rtol=1e-15)  # one ulp is within 1e-15
    with pytest.raises(AssertionError, match="result at row 0"):
        assert_batch_equals_rows(batch_mean, s, rtol=1e-10, atol=1e-12)


def test_unit_invariance_catches_a_wrong_molar_mass(monkeypatch: pytest.MonkeyPatch) -> None:
    # The mg/dL version is written with citric acid's molar mass (192.12 g/mol) instead of
    # citrate's (189.10): oxalate reads it back with 189.10, so citrate is 1.6 % high.
    import oxalate.testing._assertions as impl

    masses = impl._molar_masses()
    monkeypatch.setattr(impl, "_molar_masses", lambda: {**masses, "citrate": 192.12})
    with pytest.raises(AssertionError, match=r"the total of Cit given in 'mg/dL' is .* row \d"):
        assert_unit_invariant(oxalate.speciate, _urines(), units=("mol/kg", "mg/dL"))


def test_unit_invariance_where_the_ph_is_solved_needs_looser_bars() -> None:
    # Na2SO4 with a trace of carbonate, pH solved: unbuffered, so the pH and OH- of two
    # versions differ by more than 1e-12 (hypothesis's counterexample); the message says why
    s = oxalate.Solution.from_arrays(
        {"Na": [0.0020001], "SO4": [0.001], "CO3": [1e-07]}, pH=None, temperature_kelvin=298.15
    )
    with pytest.raises(AssertionError, match="the pH was solved from electroneutrality"):
        assert_unit_invariant(oxalate.speciate, s)
    assert_unit_invariant(oxalate.speciate, s, rtol=1e-8, atol=1e-8)


def test_assertions_refuse_what_they_cannot_check() -> None:
    s = _urines()
    r = oxalate.speciate(s)
    with pytest.raises(TypeError, match="speciation"):
        assert_mass_balance(s)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rtol"):
        assert_mass_balance(r, rtol=-1)
    with pytest.raises(ValueError, match="not a named set; pass the ConstantSet"):
        assert_mass_balance(_corrupt(r, constants="mine"))
    default = constant_set("default")
    other = dataclasses.replace(default, species=(*default.species[:-1], "NaHCO3(aq)"))
    with pytest.raises(ValueError, match="other species"):
        assert_mass_balance(r, constants=other)
    with pytest.raises(TypeError, match="computed from"):
        assert_equilibrium(oxalate.precipitate(s), r)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least two units"):
        assert_unit_invariant(oxalate.speciate, s, units=("mol/kg",))
    with pytest.raises(ValueError, match="not an amount per mass"):
        assert_unit_invariant(oxalate.speciate, s, units=("mol/kg", "degC"))


def test_significant_digits_helper() -> None:
    assert [_significant_digits(x) for x in (0.0, 0.001, 2.5e-7, 0.123, 1.0)] == [0, 1, 2, 3, 1]
