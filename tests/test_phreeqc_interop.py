"""oxalate.phreeqc: the generated database and batch runs against USGS PHREEQC.

Every expected value here is either PHREEQC's own output checked against a
formula written out in this file (Davies, a_w = 1 - 0.017 Σm, I = ½ Σ m z²,
SI = log IAP/Ksp), or the library's separately validated A(T), van 't Hoff
log K(T), Ksp and molar masses.  The tolerances are those the two codes
reach when they compute the same thing (REFERENCE §5: ≤ 1e-6 is the bar; we
see 1e-15 here, so the bars below are tight).
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

import oxalate
from oxalate import phreeqc as bridge
from oxalate.database import COMPONENTS, analytes, constant_set, van_t_hoff
from oxalate.thermo import debye_huckel_a_kelvin

phreeqc = pytest.importorskip("phreeqc")

pytestmark = pytest.mark.phreeqc

#: Mass of water PHREEQC derives from the database's H and O weights
#: (IUPAC 2005: 2 x 1.00794 + 15.9994). [kg/mol]
M_WATER = 18.01528e-3

# NaCl 150 mmol/kg, CaCl2 4 mmol/kg, Na2C2O4 0.3 mmol/kg.
SALINE = {"Na": 0.1506, "Ca": 0.004, "Cl": 0.158, "Ox": 0.0003}

# A urine-like composition (mol/kgw), each row drawn within the usual
# 24 h urine ranges.
URINE_RANGES = {
    "Ca": (1e-3, 6e-3),
    "Mg": (1e-3, 5e-3),
    "Na": (0.05, 0.2),
    "K": (0.02, 0.08),
    "Cl": (0.05, 0.2),
    "Ox": (1e-4, 6e-4),
    "Cit": (5e-4, 4e-3),
    "PO4": (5e-3, 3e-2),
    "SO4": (5e-3, 2e-2),
    "CO3": (1e-4, 3e-3),
}


def urine_batch(n: int, seed: int = 1) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    totals = {k: rng.uniform(lo, hi, n) for k, (lo, hi) in URINE_RANGES.items()}
    return totals, rng.uniform(5.0, 7.0, n)


def davies(z: float, ionic_strength: float, a: float) -> float:
    """PHREEQC's default activity coefficient, written out (REFERENCE §2)."""
    if z == 0:
        return 0.1 * ionic_strength
    root = math.sqrt(ionic_strength)
    return -a * z * z * (root / (1.0 + root) - 0.3 * ionic_strength)


def run_raw(text: str, constants: str = "default") -> dict[str, list[float]]:
    engine = phreeqc.Phreeqc()
    assert engine.LoadDatabaseString(bridge.database_text(constants)) == 0
    assert engine.RunString(text) == 0, engine.GetErrorString()
    out: dict[str, list[float]] = engine.GetSelectedOutput()
    return out


# -- the database -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", oxalate.CONSTANT_SETS)
def test_database_loads_without_errors(name: str) -> None:
    engine = phreeqc.Phreeqc()
    assert engine.LoadDatabaseString(bridge.database_text(name)) == 0, engine.GetErrorString()
    assert engine.GetWarningString() == ""


@pytest.mark.parametrize("name", oxalate.CONSTANT_SETS)
def test_database_has_no_gamma_and_every_species_and_phase(name: str) -> None:
    text = bridge.database_text(name)
    cs = constant_set(name)
    assert "-gamma" not in text.lower()
    lines = {line.strip() for line in text.splitlines()}
    reactions = {line.split(" = ")[1].split(" + ")[0] for line in lines if " = " in line}
    assert set(cs.phreeqc_names) <= reactions
    assert {s.mineral for s in cs.solids.values()} <= lines


@pytest.mark.parametrize("name", oxalate.CONSTANT_SETS)
def test_phreeqc_knows_every_species_and_phase(name: str) -> None:
    cs = constant_set(name)
    totals = {k: 0.5 * (lo + hi) for k, (lo, hi) in URINE_RANGES.items()}
    out = bridge.run(totals, pH=6.0, temperature_c=37.0, constants=name)
    molalities = np.array([out[f"m_{s}"] for s in cs.species])
    assert np.all(molalities > 1e-30)  # PHREEQC punches 1e-99 for a species it lacks
    assert all(-50 < out[f"si_{p}"] < 50 for p in cs.solids)


def test_user_solubility_product_reaches_phreeqc() -> None:
    # Ksp 2.6e-9 instead of 2.3e-9 lowers SI(COM) by log10(2.6/2.3) at 25 °C.
    base = bridge.run(SALINE, pH=6.5)
    mine = bridge.run(SALINE, pH=6.5, constants={"COM": 2.6e-9})
    assert mine["si_COM"] - base["si_COM"] == pytest.approx(-math.log10(2.6 / 2.3), abs=1e-12)


@pytest.mark.parametrize("temperature_c", [5.0, 37.0, 80.0])
def test_log_k_temperature_dependence_matches_van_t_hoff(temperature_c: float) -> None:
    # Confirms -delta_h is read in kJ/mol with R = 8.31470e-3 kJ/(mol K).
    cs = constant_set("default")
    species = cs.phreeqc_names[len(COMPONENTS) :]
    minerals = [s.mineral for s in cs.solids.values()]
    items = [f'LK_SPECIES("{s}")' for s in species] + [f'LK_PHASE("{m}")' for m in minerals]
    punch = [f"{10 * (i + 1)} PUNCH {item}" for i, item in enumerate(items)]
    text = "\n".join(
        [
            "SELECTED_OUTPUT 1",
            "    -reset false",
            "USER_PUNCH 1",
            *punch,
            "SOLUTION 1",
            f"    temp {temperature_c}",
            "    units mol/kgw",
            *(f"    {bridge.ELEMENTS[k]} 0.01" for k in URINE_RANGES),
            "END",
        ]
    )
    got = np.array([v[0] for v in run_raw(text).values()])
    t = temperature_c + 273.15
    expected = np.concatenate(
        [
            van_t_hoff(cs.log_k25[len(COMPONENTS) :], cs.delta_h[len(COMPONENTS) :], t),
            [van_t_hoff(s.log_k25, s.delta_h, t) for s in cs.solids.values()],
        ]
    )
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("component", [c for c in COMPONENTS if c != "H"])
def test_gram_formula_weights_are_the_library_molar_masses(component: str) -> None:
    # 1 mmol of the analyte, given by mass: PHREEQC must read back 1e-3 mol/kgw.
    mass = next(a.molar_mass for a in analytes().values() if a.component == component)
    element = bridge.ELEMENTS[component]
    text = "\n".join(
        [
            "SELECTED_OUTPUT 1",
            "    -reset false",
            "USER_PUNCH 1",
            f'10 PUNCH TOT("{element}")',
            "SOLUTION 1",
            "    units mg/kgw",
            f"    {element} {mass!r}",
            "END",
        ]
    )
    (total,) = run_raw(text).values()
    assert total[0] == pytest.approx(1e-3, rel=1e-12)


# -- PHREEQC applies REFERENCE §2 exactly on this database -----------------------------------


@pytest.fixture(scope="module", params=[25.0, 37.0], ids=["25C", "37C"])
def saline(request: pytest.FixtureRequest) -> tuple[float, dict[str, float]]:
    temperature_c = request.param
    out = bridge.run(SALINE, pH=6.5, temperature_c=temperature_c)
    return temperature_c, out


@pytest.mark.parametrize(
    ("species", "charge"),
    [
        ("Ca+2", 2),
        ("Na+", 1),
        ("Cl-", -1),
        ("C2O4-2", -2),
        ("HC2O4-", -1),
        ("CaC2O4", 0),
        ("H2C2O4", 0),
    ],
)
def test_log_gamma_is_davies_at_phreeqcs_ionic_strength(
    saline: tuple[float, dict[str, float]], species: str, charge: int
) -> None:
    temperature_c, out = saline
    # A(T) with PHREEQC 3.8.6's a_w-scaled vapour pressure (REFERENCE §2).
    a = float(debye_huckel_a_kelvin(temperature_c + 273.15, out["water_activity"]))
    expected = davies(charge, out["ionic_strength"], a)
    assert out[f"log_gamma_{species}"] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("species", ["Ca+2", "Na+"])
def test_log_gamma_with_unit_water_activity_a_within_1e_7(
    saline: tuple[float, dict[str, float]], species: str
) -> None:
    # Leaving a_w out of A costs < 1e-8 in log γ at 25-37 °C (REFERENCE §2).
    temperature_c, out = saline
    a = float(debye_huckel_a_kelvin(temperature_c + 273.15))
    charge = constant_set().charge[constant_set().index(species)]
    expected = davies(charge, out["ionic_strength"], a)
    assert out[f"log_gamma_{species}"] == pytest.approx(expected, abs=1e-7)


def test_water_activity_is_one_minus_0017_sum_m(saline: tuple[float, dict[str, float]]) -> None:
    _, out = saline
    total = sum(out[f"m_{s}"] for s in constant_set().species)
    assert out["water_activity"] == pytest.approx(1.0 - 0.017 * total, rel=1e-14)


def test_ionic_strength_is_half_sum_m_z2(saline: tuple[float, dict[str, float]]) -> None:
    _, out = saline
    cs = constant_set()
    total = sum(out[f"m_{s}"] * z * z for s, z in zip(cs.species, cs.charge, strict=True))
    assert out["ionic_strength"] == pytest.approx(0.5 * total, rel=1e-13)


def test_totals_are_conserved_to_the_tolerance(saline: tuple[float, dict[str, float]]) -> None:
    _, out = saline
    cs = constant_set()
    ca = cs.stoichiometry[:, COMPONENTS.index("Ca")]
    free_and_bound = sum(n * out[f"m_{s}"] for s, n in zip(cs.species, ca, strict=True))
    assert free_and_bound == pytest.approx(SALINE["Ca"], rel=1e-12)
    assert out["tot_Ox"] == pytest.approx(SALINE["Ox"], rel=1e-12)


def test_si_whewellite_is_log_iap_over_ksp(saline: tuple[float, dict[str, float]]) -> None:
    temperature_c, out = saline

    def log_activity(s: str) -> float:
        return math.log10(out[f"m_{s}"]) + out[f"log_gamma_{s}"]

    ksp = oxalate.solubility_product("COM", f"{temperature_c} degC")
    expected = (
        log_activity("Ca+2")
        + log_activity("C2O4-2")
        + math.log10(out["water_activity"])
        - math.log10(ksp)
    )
    assert out["si_COM"] == pytest.approx(expected, abs=1e-8)


def test_fixed_ph_is_held(saline: tuple[float, dict[str, float]]) -> None:
    _, out = saline
    assert out["pH"] == pytest.approx(6.5, abs=1e-12)
    assert math.log10(out["m_H+"]) + out["log_gamma_H+"] == pytest.approx(-6.5, abs=1e-12)


# -- batches ----------------------------------------------------------------------------------


def test_scalar_in_scalar_out() -> None:
    out = bridge.run(SALINE, pH=6.5)
    assert np.ndim(out["si_COM"]) == 0
    assert isinstance(out["si_COM"], float)


def test_batch_equals_row_by_row_and_keeps_shape() -> None:
    totals = {"Ca": np.array([[0.002], [0.004]]), "Ox": np.array([1e-4, 3e-4, 5e-4])}
    totals |= {"Na": 0.15, "Cl": 0.15}
    ph = 6.0
    temperature = np.array([25.0, 37.0, 45.0])
    out = bridge.run(totals, pH=ph, temperature_c=temperature)
    assert out["si_COM"].shape == (2, 3)
    np.testing.assert_array_equal(out["temperature_c"][1], temperature)
    one = bridge.run({"Ca": 0.004, "Ox": 5e-4, "Na": 0.15, "Cl": 0.15}, pH=ph, temperature_c=45.0)
    for key in ("si_COM", "ionic_strength", "m_CaC2O4", "log_gamma_Ca+2"):
        assert out[key][1, 2] == pytest.approx(one[key], rel=1e-13)


def test_absent_elements_give_zero_nan_and_minus_inf() -> None:
    out = bridge.run(SALINE, pH=6.5)
    assert out["m_Mg+2"] == 0.0
    assert math.isnan(out["log_gamma_MgC2O4"])
    assert out["si_brushite"] == -math.inf
    assert out["tot_PO4"] == 0.0


def test_charge_balance_on_ph() -> None:
    totals = {"Ca": 0.004, "Ox": 3e-4, "Na": 0.15, "Cl": 0.1574, "CO3": 2e-3}
    out = bridge.run(totals, pH=7.0, temperature_c=37.0, charge_balance="pH")
    assert abs(out["charge_imbalance"]) < 1e-14
    assert out["pH"] != 7.0


def test_charge_balance_on_chloride() -> None:
    totals = {"Ca": 0.004, "Ox": 3e-4, "Na": 0.15}
    out = bridge.run(totals, pH=6.5, temperature_c=37.0, charge_balance="Cl")
    assert abs(out["charge_imbalance"]) < 1e-14
    cs = constant_set()
    charge = sum(out[f"m_{s}"] * z for s, z in zip(cs.species, cs.charge, strict=True))
    assert charge == pytest.approx(0.0, abs=1e-14)
    assert 0.15 < out["tot_Cl"] < 0.16


# -- errors -----------------------------------------------------------------------------------


@pytest.fixture
def no_phreeqc(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> None:
        raise AssertionError("PHREEQC must not be started for invalid input")

    monkeypatch.setattr(bridge, "_import_phreeqc", refuse)


@pytest.mark.parametrize("bad", [-1e-6, math.nan, math.inf])
def test_bad_totals_are_refused_before_phreeqc_runs(no_phreeqc: None, bad: float) -> None:
    totals = {"Ca": np.array([0.004, bad, 0.002]), "Ox": 3e-4}
    with pytest.raises(ValueError, match=r"totals\['Ca'\].*index \[\[1\]\]"):
        bridge.run(totals, pH=6.5)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"totals": {"H": 0.1}}, "set by pH"),
        ({"totals": {"Fe": 0.1}}, "not a component"),
        ({"pH": math.nan}, "pH"),
        ({"temperature_c": 120.0}, "temperature_c"),
        ({"charge_balance": "Fe"}, "charge_balance"),
        ({"equilibrium_phases": {"calcite": 0.0}}, "calcite"),
        ({"totals": {"Ca": [1e-3, 2e-3], "Ox": [1e-4, 2e-4, 3e-4]}}, "broadcast"),
    ],
)
def test_bad_arguments_are_named(no_phreeqc: None, kwargs: dict[str, object], match: str) -> None:
    call: dict[str, object] = {"totals": SALINE, "pH": 6.5, "temperature_c": 25.0}
    call.update(kwargs)
    with pytest.raises(ValueError, match=match):
        bridge.run(**call)  # type: ignore[arg-type]


def test_phreeqc_failure_raises_with_its_message() -> None:
    # Na cannot balance a solution that is already positive: PHREEQC fails.
    with pytest.raises(RuntimeError, match="initial solution"):
        bridge.run({"Ca": 0.004, "Ox": 3e-4}, pH=6.5, charge_balance="Na")


# -- precipitation ----------------------------------------------------------------------------

PRECIPITATION = {
    "Ca": np.array([0.004, 0.002, 1e-4]),
    "Ox": np.array([6e-4, 3e-4, 1e-5]),
    "Na": 0.15,
    "Cl": 0.1582,
    "Cit": 2e-3,
}


@pytest.fixture(scope="module")
def precipitated_closed() -> dict[str, np.ndarray]:
    return bridge.run(PRECIPITATION, pH=6.0, temperature_c=37.0, equilibrium_phases={"COM": 0})


def test_com_precipitates_to_saturation(precipitated_closed: dict[str, np.ndarray]) -> None:
    out = precipitated_closed
    np.testing.assert_allclose(out["si_COM"][:2], 0.0, atol=1e-10)
    assert out["precipitated_COM"][2] == 0.0  # undersaturated row: nothing forms
    assert out["si_COM"][2] < 0


def test_precipitation_conserves_ca_and_oxalate(
    precipitated_closed: dict[str, np.ndarray],
) -> None:
    out = precipitated_closed
    for key in ("Ca", "Ox"):
        left = out[f"tot_{key}"] * out["mass_water"] + out["precipitated_COM"]
        np.testing.assert_allclose(left, PRECIPITATION[key], rtol=1e-12)


def test_precipitation_takes_one_water_per_com(
    precipitated_closed: dict[str, np.ndarray],
) -> None:
    # REFERENCE §5; the pH drift of the closed system moves water by < 1e-10 kg.
    out = precipitated_closed
    expected = 1.0 - out["precipitated_COM"] * M_WATER
    np.testing.assert_allclose(out["mass_water"], expected, rtol=0, atol=1e-9)
    assert np.all(out["pH"][:2] != 6.0)  # closed: pH drifts


def test_precipitation_at_fixed_ph_adds_naoh() -> None:
    out = bridge.run(
        PRECIPITATION,
        pH=6.0,
        temperature_c=37.0,
        equilibrium_phases={"whewellite": 0.0},
        closed=False,
    )
    np.testing.assert_allclose(out["pH"], 6.0, atol=1e-10)
    np.testing.assert_allclose(out["si_COM"][:2], 0.0, atol=1e-10)
    na = out["tot_Na"] * out["mass_water"]
    np.testing.assert_allclose(na - 0.15, out["base_added"], rtol=0, atol=1e-13)


# -- throughput -------------------------------------------------------------------------------


def test_batch_of_1000_urines(capsys: pytest.CaptureFixture[str]) -> None:
    totals, ph = urine_batch(1000)
    start = time.perf_counter()
    out = bridge.run(totals, pH=ph, temperature_c=37.0)
    elapsed = time.perf_counter() - start
    with capsys.disabled():
        print(f"\n[phreeqc] 1000 urine-like solutions in {elapsed:.3f} s")
    # every row: SI(COM) = log IAP/Ksp from PHREEQC's own activities
    log_iap = (
        np.log10(out["m_Ca+2"])
        + out["log_gamma_Ca+2"]
        + np.log10(out["m_C2O4-2"])
        + out["log_gamma_C2O4-2"]
        + np.log10(out["water_activity"])
    )
    ksp = oxalate.solubility_product("COM", "37 degC")
    np.testing.assert_allclose(out["si_COM"], log_iap - math.log10(ksp), rtol=0, atol=1e-8)
    np.testing.assert_allclose(out["pH"], ph, rtol=0, atol=1e-12)


def test_empty_batch_gives_empty_columns(no_phreeqc: None) -> None:
    out = bridge.run({"Ca": np.zeros(0), "Ox": 3e-4}, pH=6.5)
    assert out["si_COM"].shape == (0,)
    assert list(out) == bridge.output_columns()
