"""oxalate.precipitation: invariants, a hand calculation, a published solubility, bad input.

The agreement with PHREEQC is in ``test_precipitation_phreeqc.py``.  Here:

* properties of any equilibrium with solids (hypothesis, checked with
  :func:`oxalate.testing.assert_equilibrium`): every component's mass and water
  are conserved, SI = 0 for a solid present and SI ≤ 0 for one absent, amounts
  ≥ 0, the charge excess is conserved in a closed system, precipitating twice
  changes nothing;
* the root searches: the threshold and the dilution give Ω = target when the
  solution is speciated again, and the threshold rises with the target;
* mixing a solution with itself gives it back;
* NaN rows, scalar in / scalar out, batch = row by row, and errors that name
  the argument.

Random compositions come from :mod:`oxalate.testing.strategies` (:func:`batches`);
a row whose pH is solved from electroneutrality is charge-balanced by the strategy
(sodium or chloride added), so that pH is meaningful.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import oxalate
from oxalate.database import COMPONENTS, constant_set
from oxalate.precipitation import (
    WATER_MOLAR_MASS,
    dilution_for,
    mix,
    precipitate,
    threshold,
    titrate,
)
from oxalate.testing import assert_equilibrium
from oxalate.testing import strategies as ost

KEYS = COMPONENTS[:-1]
CHARGE = {"Ca": 2, "Mg": 2, "Na": 1, "K": 1, "Cl": -1, "Ox": -2, "Cit": -3, "PO4": -3,
          "SO4": -2, "CO3": -2}  # fmt: skip

# -- compositions ----------------------------------------------------------------------------


#: Totals drawn for the invariants: analyte -> (low, high) [mmol/kg].  Calcium and oxalate
#: make most rows supersaturated with COM; the others range from zero (or 1/1000 of the
#: top) to urine-like levels.
RANGES_MMOL = {
    "calcium": (0.2, 8.0), "oxalate": (0.05, 2.0), "magnesium": (0.0, 4.0),
    "sulfate": (0.0, 4.0), "citrate": (0.0, 3.0), "sodium": (0.0, 150.0),
    "chloride": (0.0, 150.0), "potassium": (0.0, 20.0), "phosphate": (0.0, 20.0),
}  # fmt: skip


def batches(*, min_rows: int = 1, max_rows: int = 6) -> st.SearchStrategy[oxalate.Solution]:
    """Small batches from :func:`oxalate.testing.strategies.solutions`, 20-40 °C.

    A fixed pH 5-7.5, or the pH solved from electroneutrality (the strategy then adds
    the sodium or chloride that balances each row's nominal charge).
    """
    overrides = {
        name: ost.totals(
            name,
            min_value=f"{max(low, high / 1000)} mmol/kg",
            max_value=f"{high} mmol/kg",
            allow_zero=low == 0,
        )
        for name, (low, high) in RANGES_MMOL.items()
    }
    shapes = st.integers(min_rows, max_rows).map(lambda n: (n,))
    ph = st.sampled_from([ost.ph_values(min_value=5.0, max_value=7.5), "charge_balance"])
    return ph.flatmap(
        lambda mode: ost.solutions(
            shape=shapes,
            ph=mode,
            temperature=ost.temperatures(min_value="20 degC", max_value="40 degC"),
            components=[],
            overrides=overrides,
        )
    )


MODES = st.sampled_from(["closed", "fixed"])
try:
    import numba  # noqa: F401

    _HAVE_NUMBA = True
except ImportError:  # pragma: no cover - the test extras install numba
    _HAVE_NUMBA = False
# the invariants hold for both engines: the numpy Newton, and "auto", the default, which
# runs the compiled kernel (numba) on solutions with a pH and numpy on the others
ENGINES = pytest.mark.parametrize(
    "engine",
    ["numpy", pytest.param("auto", marks=pytest.mark.skipif(not _HAVE_NUMBA, reason="numba"))],
)
PHASE_SETS = st.sampled_from([("COM",), ("COM", "COD"), ("COM", "brushite"), ("brushite", "COM")])


def _mode_for(solution: oxalate.Solution, mode: str) -> str:
    return "closed" if solution.pH is None else mode


# -- invariants of precipitate ---------------------------------------------------------------


@ENGINES
@given(batches(), MODES, PHASE_SETS)
def test_equilibrium_and_conservation(
    engine: str, solution: oxalate.Solution, mode: str, phases: Any
) -> None:
    """SI = 0 where present and <= 0 elsewhere; every component and water conserved."""
    r = precipitate(solution, phases, ph_mode=_mode_for(solution, mode), engine=engine)
    assert_equilibrium(r, solution)
    for p in phases:
        assert np.all(np.asarray(r.amount[p]) >= 0), p  # no initial solid: nothing dissolves


@given(batches(), MODES)
def test_hydrate_water_leaves_the_solvent(solution: oxalate.Solution, mode: str) -> None:
    """Water is conserved: W (1/M_w + m_OH) + 1 ξ_COM + 2 ξ_brushite = 1/M_w + m_OH,0.

    H2O leaves with each hydrate; the water held as OH⁻ (OH⁻ + H⁺ = H2O) changes by
    up to ~1e-7 mol, which is why W is not exactly 1 - M_w Σ x ξ (PHREEQC's O balance
    counts it too).
    """
    r = precipitate(solution, ("COM", "brushite"), ph_mode=_mode_for(solution, mode))
    oh_before = oxalate.speciate(solution).free("OH-")
    oh_after = r.speciation.free("OH-")
    solid_water = r.amount["COM"] + 2 * r.amount["brushite"]
    lhs = r.water_mass * (1 / WATER_MOLAR_MASS + oh_after) + solid_water
    np.testing.assert_allclose(lhs, 1 / WATER_MOLAR_MASS + oh_before, rtol=1e-14)
    approx = 1 - WATER_MOLAR_MASS * solid_water
    np.testing.assert_allclose(r.water_mass, approx, rtol=0, atol=1e-6)  # OH- < 5e-5 mol/kg


@ENGINES
@given(batches())
def test_closed_system_keeps_its_charge(engine: str, solution: oxalate.Solution) -> None:
    """Σ z m per kg of initial water is the same before and after (solids are neutral)."""
    charge = np.asarray(constant_set().charge)
    before = oxalate.speciate(solution).molality @ charge
    r = precipitate(solution, ("COM", "brushite"), engine=engine)
    after = r.speciation.molality @ charge * r.water_mass
    scale = sum(abs(CHARGE[c]) * np.asarray(solution.totals[c]) for c in KEYS)
    # the charge balance is solved to the tolerance, 1e-10 of ½ Σ |z| m; an unbuffered
    # solution whose pH is found by the pH search (pH=None, high pH) ends near it
    np.testing.assert_allclose(after, before, rtol=0, atol=1e-10 * float(np.max(scale)))


@ENGINES
@given(batches(), MODES, PHASE_SETS)
def test_precipitating_twice_changes_nothing(
    engine: str, solution: oxalate.Solution, mode: str, phases: Any
) -> None:
    mode = _mode_for(solution, mode)
    first = precipitate(solution, phases, ph_mode=mode, engine=engine)
    second = precipitate(first.solution, phases, ph_mode=mode, engine=engine)
    for p in phases:
        np.testing.assert_allclose(second.amount[p], 0.0, atol=1e-15)
    # a pH solved from the charge balance (pH=None) repeats to ~1e-12 of ½ Σ |z| m in charge,
    # up to 1e-6 in pH in an unbuffered salt solution
    np.testing.assert_allclose(second.speciation.pH, first.speciation.pH, rtol=0, atol=1e-6)
    for c in KEYS:
        np.testing.assert_allclose(second.solution.totals[c], first.solution.totals[c], rtol=1e-12)


@given(batches(), MODES, st.floats(1e-5, 3e-3))
def test_initial_solid_dissolves_at_most_what_is_there(
    solution: oxalate.Solution, mode: str, amount: float
) -> None:
    """With COM present at the start, ξ ≥ -initial; what is left is saturated, or none is left."""
    mode = _mode_for(solution, mode)
    r = precipitate(
        solution, ("COM", "COD"), ph_mode=mode,
        initial_solids={"COM": oxalate.Quantity(amount, "mol/kg")},
    )  # fmt: skip
    assert np.all(r.converged)
    left = np.asarray(r.present["COM"])
    assert np.all(np.asarray(r.amount["COM"]) >= -amount * (1 + 1e-12))
    np.testing.assert_allclose(left, amount + r.amount["COM"], rtol=1e-12, atol=1e-18)
    assert_equilibrium(r, solution)  # SI, every component and water (dissolution included)
    assert np.all(np.asarray(r.present["COD"]) == 0)  # less stable than COM


def test_undersaturated_rows_are_left_alone() -> None:
    s = oxalate.Solution(calcium="1 mmol/kg", oxalate="0.001 mmol/kg", sodium="0.002 mmol/kg",
                         chloride="2 mmol/kg")  # fmt: skip
    assert float(oxalate.speciate(s).saturation_index["COM"]) < 0
    r = precipitate(s)
    assert float(r.amount["COM"]) == 0.0
    assert float(r.water_mass) == 1.0
    assert float(r.solution.totals["Ca"]) == 0.001


# -- external numbers ------------------------------------------------------------------------


def test_solubility_in_pure_water_by_hand() -> None:
    """COM in pure water at 25 °C, written out: Davies with A = 0.51002479 (REFERENCE §2).

    Free Ca²⁺ = free C2O4²⁻ = x with x² γ² a_w = Ksp (the hydrate water enters as
    a_w), plus the CaC2O4° pair (log K 3.19, REFERENCE §3), I = 4x.  HC2O4⁻ at the
    solution's pH (≈ 7.1) holds about 10^(4.25-7.1) ≈ 0.15 % of the oxalate and OH⁻
    balances it; both are left out, hence the 0.3 % tolerance.
    """
    ksp, k_pair, a = 2.3e-9, 10**3.19, 0.51002479
    x = math.sqrt(ksp)
    for _ in range(50):
        i = 4 * x
        root = math.sqrt(i)
        gamma = 10 ** (-a * 4 * (root / (1 + root) - 0.3 * i))
        pair = k_pair * (gamma * x) ** 2 / 10 ** (0.1 * i)
        water = 1 - 0.017 * (2 * x + pair)
        x = math.sqrt(ksp / water) / gamma
    solubility = x + pair
    r = precipitate(oxalate.Solution(), initial_solids={"COM": "1 mmol/kg"})
    assert -float(r.amount["COM"]) == pytest.approx(solubility, rel=3e-3)


def test_solubility_in_pure_water_crc() -> None:
    """CRC Handbook (96th ed.): 0.61 mg per 100 g water at 20 °C = 47.6 µmol/kg (REFERENCE §6).

    The default Ksp (2.3e-9 at 25 °C, ΔH 21.5 kJ/mol) gives 50.4 µmol/kg at 20 °C.  The
    evaluated log Ksp values scatter by 0.1 (REFERENCE §1), i.e. 12 % in solubility, so
    the bar is 10 %.
    """
    r = precipitate(oxalate.Solution(temperature="20 degC"), initial_solids={"COM": "1 mmol/kg"})
    assert -float(r.amount["COM"]) == pytest.approx(47.6e-6, rel=0.1)


# -- threshold, dilution, titration ----------------------------------------------------------

PLASMA = {
    "calcium": "2.4 mmol/kg", "magnesium": "0.85 mmol/kg", "sodium": "140 mmol/kg",
    "potassium": "4.2 mmol/kg", "chloride": "104 mmol/kg", "carbonate": "25 mmol/kg",
    "phosphate": "1.1 mmol/kg", "sulfate": "0.35 mmol/kg", "citrate": "0.1 mmol/kg",
}  # fmt: skip


@ENGINES
@given(batches(), st.floats(0.5, 12.0), st.sampled_from(["oxalate", "calcium"]))
def test_threshold_gives_the_target(
    engine: str, solution: oxalate.Solution, target: float, vary: str
) -> None:
    """Speciating the solution at the threshold again gives Ω = target.

    In closed mode its pH is the one solved from the charge balance, stored as a fixed pH.
    """
    with warnings.catch_warnings():  # high targets may need I > 0.5 (Davies' range)
        warnings.simplefilter("ignore", oxalate.OxalateRangeWarning)
        th = threshold(solution, vary, target, engine=engine)
        omega = oxalate.speciate(th.solution).supersaturation["COM"]
    assert np.all(th.converged), th.reason
    np.testing.assert_allclose(omega, target, rtol=1e-8)
    others = [c for c in KEYS if c != th.component]
    for c in others:  # nothing else changed
        np.testing.assert_array_equal(th.solution.totals[c], solution.totals[c])


@ENGINES
@given(batches(), st.floats(0.5, 4.0), st.floats(1.1, 4.0))
def test_threshold_rises_with_the_target(
    engine: str, solution: oxalate.Solution, target: float, factor: float
) -> None:
    low = threshold(solution, "oxalate", target, engine=engine).molality
    high = threshold(solution, "oxalate", target * factor, engine=engine).molality
    assert np.all(high > low)


def test_threshold_counter_ion_and_closed_charge() -> None:
    """Na2C2O4 in a closed system: sodium rises by twice the oxalate; the charge excess stays."""
    s = oxalate.Solution(**PLASMA, pH=7.4, temperature="37 degC")
    th = threshold(s, "oxalate", counter_ion="sodium", ph_mode="closed")
    added = float(th.molality)
    assert float(th.solution.totals["Na"]) == pytest.approx(0.140 + 2 * added, rel=1e-14)
    charge = np.asarray(constant_set().charge)
    before = oxalate.speciate(s).molality @ charge
    after = oxalate.speciate(th.solution).molality @ charge
    assert after == pytest.approx(before, abs=1e-12)


def test_threshold_unreachable_rows_are_nan_with_a_reason() -> None:
    """Without calcium no oxalate saturates COM; with 1 µmol/kg Ω(COM) levels off below 1.

    With little calcium the oxalate added binds it as CaC2O4° (log K 3.19) and Ca(C2O4)2²⁻:
    Ω ≤ T_Ca K_pair⁻¹ γ.../Ksp ≈ 1e-6 / 10^3.19 / 2.3e-9 ≈ 0.3 < 1.
    """
    ca = oxalate.Quantity(np.array([0.0, 1e-6, 2.4e-3]), "mol/kg")
    s = oxalate.Solution(calcium=ca, sodium="140 mmol/kg", chloride="140 mmol/kg", pH=7.4)
    th = threshold(s, "oxalate")
    assert list(np.isnan(th.molality)) == [True, True, False]
    assert list(th.converged) == [False, False, True]
    assert th.reason[0] and th.reason[1] and th.reason[2] == ""


def test_plasma_threshold_in_the_clinical_range() -> None:
    """Total plasma calcium: the COM threshold falls in the 20-50 µmol/L quoted (REFERENCE §6)."""
    s = oxalate.Solution(**PLASMA, pH=7.4, temperature="37 degC")
    th = threshold(s, "oxalate")
    assert 20e-6 < float(th.molarity().m_as("mol/L")) < 50e-6


@given(batches(), st.floats(0.3, 5.0))
def test_dilution_gives_the_target(solution: oxalate.Solution, target: float) -> None:
    d = dilution_for(solution, target)
    factor = np.asarray(d.factor)
    assert np.all(d.converged) and np.all(factor >= 1)
    omega0 = np.asarray(oxalate.speciate(solution).supersaturation["COM"])
    omega = np.asarray(oxalate.speciate(d.solution).supersaturation["COM"])
    above = omega0 > target
    np.testing.assert_allclose(omega[above], target, rtol=1e-8)
    assert np.all(factor[~above] == 1)
    for c in KEYS:
        np.testing.assert_allclose(d.solution.totals[c], solution.totals[c] / factor, rtol=1e-14)


def test_titration_series_and_crossing() -> None:
    s = oxalate.Solution(**{**PLASMA, "oxalate": "2 umol/kg"}, pH=7.4, temperature="37 degC")
    tt = titrate(s, step="5 umol/kg", n_steps=10)
    omega = tt.supersaturation
    assert omega.shape == (11,) and np.all(np.diff(omega) > 0)
    k = int(tt.first_step)
    assert omega[k - 1] < 1 <= omega[k]
    added = float(tt.added_at_target.m_as("mol/kg"))
    step = 5e-6
    assert (k - 1) * step < added <= k * step
    # the crossing is the threshold of Na2C2O4 added
    th = threshold(s, "oxalate", counter_ion="sodium")
    assert added == pytest.approx(float(th.molality) - 2e-6, rel=1e-8)


def test_titration_not_reached() -> None:
    s = oxalate.Solution(calcium="1 umol/kg", chloride="2 umol/kg", pH=7.0)
    tt = titrate(s, step="1 umol/kg", n_steps=3)
    assert int(tt.first_step) == -1 and math.isnan(float(tt.added_at_target.m))
    assert tt.reason


# -- mix -----------------------------------------------------------------------------------


@given(batches(), st.floats(0.0, 1.0))
def test_mix_with_itself_is_itself(solution: oxalate.Solution, fraction: float) -> None:
    """Totals and temperature exactly; the pH to 1e-8.

    The mixture's pH is solved from its charge excess, which speciate meets to 1e-12 of
    ½ Σ |z| m; in an unbuffered salt solution that is ~1e-9 in pH.
    """
    m = mix(solution, solution, fraction)
    for c in KEYS:
        np.testing.assert_allclose(m.totals[c], solution.totals[c], rtol=1e-15)
    np.testing.assert_allclose(m.temperature, solution.temperature, rtol=1e-15)
    if solution.pH is None:
        assert m.pH is None
    else:
        np.testing.assert_allclose(m.pH, solution.pH, rtol=0, atol=1e-8)


@given(batches(min_rows=3, max_rows=3), batches(min_rows=3, max_rows=3))
def test_mix_is_linear_and_exact_at_the_ends(a: oxalate.Solution, b: oxalate.Solution) -> None:
    f = np.array([0.0, 0.25, 1.0])
    m = mix(a, b, f)
    for c in KEYS:
        np.testing.assert_allclose(
            m.totals[c], (1 - f) * a.totals[c] + f * b.totals[c], rtol=1e-15, atol=1e-300
        )
    if m.pH is not None and a.pH is not None:
        assert m.pH[0] == a.pH[0]
    if m.pH is not None and b.pH is not None:
        assert m.pH[2] == b.pH[2]


def test_mix_explicit_and_neutral_ph() -> None:
    a = oxalate.Solution(calcium="4 mmol/kg", chloride="8 mmol/kg", pH=6.0)
    b = oxalate.Solution(sodium="2 mmol/kg", oxalate="1 mmol/kg", pH=6.0)
    assert float(mix(a, b, 0.5, pH=7.0).pH) == 7.0
    assert mix(a, b, 0.5, pH="neutral").pH is None


# -- batches, NaN rows, scalars ------------------------------------------------------------

URINE = {
    "calcium": oxalate.Quantity(np.array([4.0, 6.0, 2.5, 7.0]), "mmol/L"),
    "magnesium": "3 mmol/L", "sodium": "150 mmol/L", "potassium": "60 mmol/L",
    "chloride": "150 mmol/L",
    "oxalate": oxalate.Quantity(np.array([0.35, 0.5, 0.2, 0.6]), "mmol/L"),
    "citrate": "2.5 mmol/L", "phosphate": "20 mmol/L", "sulfate": "15 mmol/L",
}  # fmt: skip


@pytest.mark.parametrize("row", range(4))
def test_batch_equals_row_by_row(row: int) -> None:
    s = oxalate.Solution(**URINE, pH=6.0, temperature="37 degC")
    batch = precipitate(s, ("COM", "brushite"))
    alone = precipitate(s[row], ("COM", "brushite"))
    assert np.ndim(alone.amount["COM"]) == 0
    assert float(alone.amount["COM"]) == pytest.approx(float(batch.amount["COM"][row]), rel=1e-12)
    assert float(alone.speciation.pH) == pytest.approx(float(batch.speciation.pH[row]), abs=1e-12)


def test_scalar_in_scalar_out() -> None:
    s = oxalate.Solution(calcium="2 mmol/kg", oxalate="1 mmol/kg", sodium="2 mmol/kg",
                         chloride="4 mmol/kg")  # fmt: skip
    r = precipitate(s)
    assert np.ndim(r.amount["COM"]) == 0 and np.ndim(r.water_mass) == 0
    assert np.ndim(r.converged) == 0 and r.solution.shape == ()
    assert np.ndim(threshold(s, target=50).molality) == 0
    assert np.ndim(dilution_for(s).factor) == 0


def test_two_dimensional_batch() -> None:
    ox = oxalate.Quantity(np.array([[0.2, 0.4], [0.6, 0.8]]), "mmol/kg")
    s = oxalate.Solution(calcium="3 mmol/kg", chloride="6 mmol/kg", oxalate=ox,
                         sodium=ox * 2, pH=6.5)  # fmt: skip
    r = precipitate(s)
    assert r.amount["COM"].shape == (2, 2) and r.solution.shape == (2, 2)
    assert threshold(s).molality.shape == (2, 2)


def test_nan_rows_do_not_disturb_the_batch() -> None:
    ca = oxalate.Quantity(np.array([4.0, np.nan, 6.0]), "mmol/L")
    with pytest.warns(oxalate.OxalateInputWarning):
        s = oxalate.Solution(**{**URINE, "calcium": ca, "oxalate": "0.4 mmol/L"}, pH=6.0,
                             on_invalid="nan")  # fmt: skip
    r = precipitate(s)
    assert list(r.converged) == [True, False, True]
    assert r.reason[1] and not r.reason[0]
    assert np.isnan(r.amount["COM"][1]) and np.isnan(r.water_mass[1])
    alone = precipitate(s[2])
    assert float(alone.amount["COM"]) == pytest.approx(float(r.amount["COM"][2]), rel=1e-12)
    th = threshold(s)
    assert np.isnan(th.molality[1]) and th.reason[1] and not th.reason[0]
    assert np.isnan(dilution_for(s).factor[1])


def test_to_dataframe() -> None:
    pd = pytest.importorskip("pandas")
    s = oxalate.Solution(**URINE, pH=6.0, temperature="37 degC")
    df = precipitate(s, ("COM", "COD")).to_dataframe()
    assert isinstance(df, pd.DataFrame) and len(df) == 4
    assert {"amount_COM", "present_COD", "water_mass", "SI_COM", "total_Ca"} <= set(df.columns)


# -- bad input -----------------------------------------------------------------------------


SIMPLE = oxalate.Solution(calcium="2 mmol/kg", oxalate="1 mmol/kg", sodium="2 mmol/kg",
                          chloride="4 mmol/kg", pH=6.5)  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"phases": "gypsum"}, ValueError, "gypsum"),
        ({"phases": ("COM", "whewellite")}, ValueError, "twice"),
        ({"ph_mode": "open"}, ValueError, "ph_mode"),
        ({"initial_solids": {"COM": 1e-3}}, TypeError, "no units"),
        ({"initial_solids": {"COM": "-1 mmol/kg"}}, ValueError, "negative"),
        ({"initial_solids": {"COM": "1 mmol/L"}}, ValueError, "per mass of water"),
        ({"initial_solids": {"COD": "1 mmol/kg"}}, ValueError, "phases"),
        ({"tolerance": 0.0}, ValueError, "tolerance"),
        ({"max_iterations": 0}, ValueError, "max_iterations"),
    ],
)
def test_precipitate_rejects_bad_arguments(kwargs: Any, error: Any, match: str) -> None:
    with pytest.raises(error, match=match):
        precipitate(SIMPLE, **kwargs)


def test_fixed_ph_needs_a_ph() -> None:
    s = oxalate.Solution(calcium="2 mmol/kg", oxalate="1 mmol/kg", sodium="2 mmol/kg",
                         chloride="4 mmol/kg")  # fmt: skip
    with pytest.raises(ValueError, match="pH=None"):
        precipitate(s, ph_mode="fixed")
    with pytest.raises(TypeError, match="Solution"):
        precipitate({"Ca": 1e-3})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"vary": "urea"}, ValueError, "vary"),
        ({"target": 0.0}, ValueError, "target"),
        ({"target": -2.0}, ValueError, "target"),
        ({"counter_ion": "chloride"}, ValueError, "opposite charge"),
        ({"phase": "gypsum"}, ValueError, "gypsum"),
    ],
)
def test_threshold_rejects_bad_arguments(kwargs: Any, error: Any, match: str) -> None:
    with pytest.raises(error, match=match):
        threshold(SIMPLE, **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"step": 1e-5}, "units"), ({"step": "-1 umol/kg"}, "positive"), ({"n_steps": 0}, "n_steps")],
)
def test_titrate_rejects_bad_arguments(kwargs: Any, match: str) -> None:
    with pytest.raises((TypeError, ValueError), match=match):
        titrate(SIMPLE, **kwargs)


@pytest.mark.parametrize(
    ("fraction", "kwargs", "match"),
    [(1.5, {}, "fraction"), (0.5, {"pH": "acid"}, "pH")],
)
def test_mix_rejects_bad_arguments(fraction: float, kwargs: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        mix(SIMPLE, SIMPLE, fraction, **kwargs)


def test_mix_by_volume_by_hand() -> None:
    """10 mL of a with 2 mL of b, at 1 kg/L: each holds V/(1 + sum m M) kg of water."""
    a = oxalate.Solution(calcium="4 mmol/kg", chloride="8 mmol/kg", pH=6.0)
    b = oxalate.Solution(sodium="2 mmol/kg", oxalate="1 mmol/kg", pH=6.0)
    water_a = 0.010 / (1 + (4e-3 * 40.078 + 8e-3 * 35.453) / 1000)
    water_b = 0.002 / (1 + (2e-3 * 22.98977 + 1e-3 * 88.0196) / 1000)
    f = water_b / (water_a + water_b)
    m = oxalate.mix(a, b, volumes=("10 mL", "2 mL"))
    assert float(m.totals["Ca"]) == pytest.approx(4e-3 * (1 - f), rel=1e-6)
    assert float(m.totals["Ox"]) == pytest.approx(1e-3 * f, rel=1e-6)
    with pytest.raises(TypeError, match="not both"):
        oxalate.mix(a, b, 0.5, volumes=("1 mL", "1 mL"))
    with pytest.raises(ValueError, match="not a volume"):
        oxalate.mix(a, b, volumes=("1 g", "1 mL"))


def test_a_titration_that_precipitates() -> None:
    """A lab's CaCl2 solution titrated with Na2C2O4, COM allowed to form at each step."""
    s = oxalate.fluids.from_salts("2 mmol/kg CaCl2, 100 mmol/kg NaCl", pH=6.5)
    tt = titrate(s, step="0.02 mmol/kg", n_steps=20, precipitating=True)
    amount, omega_before = tt.amount, tt.supersaturation
    # nothing forms before Ω reaches 1, something after, and more at every step
    assert np.all(amount[omega_before < 1] == 0)
    formed = amount > 0
    assert formed.any() and np.flatnonzero(formed)[0] == tt.first_step
    assert np.all(np.diff(amount[formed]) > 0)
    # free Ca2+ falls as oxalate is added and calcium oxalate forms
    assert np.all(np.diff(tt.free_calcium) < 0)
    # the last step is what precipitate() gives for the same solution built by hand
    last = oxalate.fluids.from_salts("2 mmol/kg CaCl2, 100 mmol/kg NaCl, 0.4 mmol/kg Na2C2O4",
                                     pH=6.5)  # fmt: skip
    ref = oxalate.precipitate(last)
    assert amount[-1] == pytest.approx(float(ref.amount["COM"]), rel=1e-9)
    assert tt.pH[-1] == pytest.approx(float(ref.speciation.pH), abs=1e-9)
    with pytest.raises(ValueError, match="counter_ion"):
        titrate(s, counter_ion=None, precipitating=True)
