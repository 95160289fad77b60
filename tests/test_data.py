"""The shipped data tables: provenance, structure, and REFERENCE §3/§4 values.

The CSV files are read here with the csv module, independently of
``oxalate.database``, and the expected values are written out from
REFERENCE §1, §3 and §4.
"""

from __future__ import annotations

import csv
import json
import math
import re
import subprocess
import sys
from importlib import resources

import numpy as np
import pytest

import oxalate
from oxalate.database import COMPONENTS, CONSTANT_SETS, analyte, bibliography, constant_set

# Charges of the components (REFERENCE §3: Ca²⁺ ... H⁺), written out.
COMPONENT_CHARGE = {
    "Ca": 2, "Mg": 2, "Na": 1, "K": 1, "Cl": -1, "Ox": -2, "Cit": -3,
    "PO4": -3, "SO4": -2, "CO3": -2, "H": 1,
}  # fmt: skip


def _rows(name: str) -> list[dict[str, str]]:
    path = resources.files("oxalate") / "data" / name
    with path.open("r", encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


SPECIES = _rows("species.csv")
SOLIDS = _rows("solids.csv")
IONS = _rows("ions.csv")


# --- provenance -------------------------------------------------------------------------


def _keys(rows: list[dict[str, str]], *columns: str) -> list[tuple[str, str]]:
    out = []
    for row in rows:
        label = row.get("species") or row.get("phase") or row.get("analyte") or "?"
        for column in columns:
            for key in row[column].split(";"):
                out.append((label, key.strip()))
    return out


@pytest.mark.parametrize(
    ("label", "key"),
    _keys(SPECIES, "source")
    + _keys(SOLIDS, "source")
    + _keys(IONS, "mass_source", "ion_size_source"),
)
def test_source_key_resolves(label: str, key: str) -> None:
    assert key, f"{label}: empty source"
    assert key in bibliography(), f"{label}: source {key!r} not in references.bib"


def test_bibliography_entries_have_titles() -> None:
    for key, entry in bibliography().items():
        assert re.search(r"title\s*=", entry), key


# --- structure ----------------------------------------------------------------------------

_REQUIRED = {
    "species.csv": (
        "constant_set", "species", "phreeqc_name", "charge", *COMPONENT_CHARGE, "H2O",
        "log_k", "delta_h", "source", "note",
    ),
    "solids.csv": (
        "constant_set", "phase", "mineral", "formula", *COMPONENT_CHARGE, "H2O", "k",
        "log_k", "delta_h", "ions", "source", "note",
    ),
    "ions.csv": (
        "analyte", "component", "formula", "charge", "equivalent_charge", "molar_mass",
        "mass_source", "ion_size", "wateq_b", "ion_size_source",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(_REQUIRED))
def test_required_columns(name: str) -> None:
    header = _rows(name)[0].keys()
    missing = [c for c in _REQUIRED[name] if c not in header]
    assert not missing, f"{name} lacks {missing}"


def test_components_match_reference() -> None:
    assert tuple(COMPONENT_CHARGE) == COMPONENTS


@pytest.mark.parametrize("row", SPECIES, ids=lambda r: f"{r['constant_set']}:{r['species']}")
def test_species_charge_equals_stoichiometry(row: dict[str, str]) -> None:
    from_reaction = sum(float(row[c]) * z for c, z in COMPONENT_CHARGE.items())
    assert float(row["charge"]) == from_reaction
    # ... and the charge written in the name (Ca(C2O4)2-2, HCO3-, CaH2PO4+, CaC2O4)
    match = re.search(r"([+-])(\d*)$", row["species"])
    in_name = (
        0 if match is None else int(match.group(2) or 1) * (1 if match.group(1) == "+" else -1)
    )
    assert in_name == from_reaction


@pytest.mark.parametrize("row", SOLIDS, ids=lambda r: f"{r['constant_set']}:{r['phase']}")
def test_solid_dissolution_is_charge_balanced(row: dict[str, str]) -> None:
    assert sum(float(row[c]) * z for c, z in COMPONENT_CHARGE.items()) == 0


@pytest.mark.parametrize("row", SPECIES + SOLIDS, ids=lambda r: r.get("species") or r["phase"])
def test_numbers_are_finite(row: dict[str, str]) -> None:
    value = float(row["k"]) if row.get("k") else float(row["log_k"])
    assert math.isfinite(value)
    assert math.isfinite(float(row["delta_h"] or 0.0))


@pytest.mark.parametrize("name", CONSTANT_SETS)
def test_constant_set_loads(name: str) -> None:
    cs = constant_set(name)
    n = len(cs.species)
    assert len(set(cs.species)) == n, "duplicate species"
    assert cs.stoichiometry.shape == (n, len(COMPONENTS))
    for array in (cs.charge, cs.water, cs.log_k25, cs.delta_h):
        assert array.shape == (n,)
        assert np.all(np.isfinite(array))
        assert not array.flags.writeable
    # the first species are the components themselves, log K = 0
    np.testing.assert_array_equal(cs.stoichiometry[: len(COMPONENTS)], np.eye(len(COMPONENTS)))
    np.testing.assert_array_equal(cs.log_k25[: len(COMPONENTS)], 0.0)
    assert set(cs.solids) >= {"COM", "COD", "COT", "brushite"}


@pytest.mark.parametrize("name", ["default", "thermochimie", "nist46"])
def test_set_rows_in_csv(name: str) -> None:
    # every species row of a set appears in the loaded set
    cs = constant_set(name)
    for row in SPECIES:
        if row["constant_set"] == name:
            assert cs.log_k25[cs.index(row["species"])] == float(row["log_k"])


def test_unknown_constant_set() -> None:
    with pytest.raises(ValueError, match="constants"):
        constant_set("llnl")


# --- REFERENCE §3: the default set, written out -------------------------------------------

# (species, {component: count}, log K25, ΔH kJ/mol) from REFERENCE §3.
REFERENCE_SPECIES = [
    ("OH-", {"H": -1}, -13.997, 55.81),
    ("HC2O4-", {"H": 1, "Ox": 1}, 4.25, 7.3),
    ("H2C2O4", {"H": 2, "Ox": 1}, 5.65, 10.6),
    ("CaC2O4", {"Ca": 1, "Ox": 1}, 3.19, 6.811),
    ("MgC2O4", {"Mg": 1, "Ox": 1}, 3.56, 0.0),
    ("NaC2O4-", {"Na": 1, "Ox": 1}, 0.82, 0.0),
    ("KC2O4-", {"K": 1, "Ox": 1}, 1.127, 0.0),
    ("HCit-2", {"H": 1, "Cit": 1}, 6.396, 3.3472),
    ("H2Cit-", {"H": 2, "Cit": 1}, 11.157, 1.297),
    ("H3Cit", {"H": 3, "Cit": 1}, 14.285, -2.7614),
    ("CaCit-", {"Ca": 1, "Cit": 1}, 4.87, -8.368),
    ("MgCit-", {"Mg": 1, "Cit": 1}, 4.89, 8.368),
    ("NaCit-2", {"Na": 1, "Cit": 1}, 1.03, -2.8033),
    ("HPO4-2", {"H": 1, "PO4": 1}, 12.375, -15.0),
    ("H2PO4-", {"H": 2, "PO4": 1}, 19.573, -18.0),
    ("CaHPO4", {"Ca": 1, "H": 1, "PO4": 1}, 15.035, -3.0),
    ("CaPO4-", {"Ca": 1, "PO4": 1}, 6.46, 12.9704),
    ("CaH2PO4+", {"Ca": 1, "H": 2, "PO4": 1}, 20.923, -6.0),
    ("CaSO4", {"Ca": 1, "SO4": 1}, 2.36, 7.1),
    ("MgSO4", {"Mg": 1, "SO4": 1}, 2.26, 5.8),
    ("NaSO4-", {"Na": 1, "SO4": 1}, 0.73, 1.0),
    ("HSO4-", {"H": 1, "SO4": 1}, 1.99, 22.0),
    ("KSO4-", {"K": 1, "SO4": 1}, 0.85, 4.1),
    ("H3PO4", {"H": 3, "PO4": 1}, 21.721, -10.1),
    ("MgHPO4", {"Mg": 1, "H": 1, "PO4": 1}, 15.175, -3.0),
    ("MgH2PO4+", {"Mg": 1, "H": 2, "PO4": 1}, 21.2561, -4.6861),
    ("NaHPO4-", {"Na": 1, "H": 1, "PO4": 1}, 13.445, 0.0),
    ("KHPO4-", {"K": 1, "H": 1, "PO4": 1}, 13.255, 0.0),
    ("CaHCit", {"Ca": 1, "H": 1, "Cit": 1}, 9.26, -0.8368),
    ("CaH2Cit+", {"Ca": 1, "H": 2, "Cit": 1}, 12.257, 0.0),
    ("MgHCit", {"Mg": 1, "H": 1, "Cit": 1}, 8.91, 3.3472),
    ("MgH2Cit+", {"Mg": 1, "H": 2, "Cit": 1}, 12.2, 0.0),
    ("NaHCit-", {"Na": 1, "H": 1, "Cit": 1}, 6.45, -3.5982),
    ("KCit-2", {"K": 1, "Cit": 1}, 1.1, 5.4392),
    ("Ca(C2O4)2-2", {"Ca": 1, "Ox": 2}, 4.02, 0.0),
    ("Mg(C2O4)2-2", {"Mg": 1, "Ox": 2}, 5.17, 0.0),
    ("HCO3-", {"H": 1, "CO3": 1}, 10.329, -14.6),
    ("H2CO3", {"H": 2, "CO3": 1}, 16.681, -23.76),
    ("CaHCO3+", {"Ca": 1, "H": 1, "CO3": 1}, 11.599, 5.4),
    ("CaCO3", {"Ca": 1, "CO3": 1}, 3.2, 16.0),
    ("MgCO3", {"Mg": 1, "CO3": 1}, 2.92, 12.0),
    ("MgHCO3+", {"Mg": 1, "H": 1, "CO3": 1}, 11.339, -10.6),
    ("NaCO3-", {"Na": 1, "CO3": 1}, 1.27, -20.35),
    ("NaHCO3", {"Na": 1, "H": 1, "CO3": 1}, 10.079, -28.3301),
]


@pytest.mark.parametrize(("species", "reaction", "log_k", "delta_h"), REFERENCE_SPECIES)
def test_default_set_matches_reference(
    species: str, reaction: dict[str, int], log_k: float, delta_h: float
) -> None:
    cs = constant_set("default")
    i = cs.index(species)
    assert cs.log_k25[i] == log_k
    assert cs.delta_h[i] == delta_h
    expected = [reaction.get(c, 0) for c in COMPONENTS]
    np.testing.assert_array_equal(cs.stoichiometry[i], expected)
    assert cs.water[i] == (1.0 if species == "OH-" else 0.0)


def test_default_set_is_exactly_reference() -> None:
    # "The default set is exactly the two tables of this section" (REFERENCE §3).
    cs = constant_set("default")
    assert set(cs.species[len(COMPONENTS) :]) == {s for s, *_ in REFERENCE_SPECIES}


# (phase, {component: count}, H2O, log K25, ΔH) from REFERENCE §1/§3.
REFERENCE_SOLIDS = [
    ("COM", {"Ca": 1, "Ox": 1}, 1, math.log10(2.3e-9), 21.5),
    ("COD", {"Ca": 1, "Ox": 1}, 2, -8.30, 25.2),
    ("COT", {"Ca": 1, "Ox": 1}, 3, -8.19, 29.7),
    ("brushite", {"Ca": 1, "H": 1, "PO4": 1}, 2, -18.995, 23.0),
    ("hydroxyapatite", {"Ca": 5, "H": -1, "PO4": 3}, 1, -44.333, 0.0),
    ("octacalcium_phosphate", {"Ca": 4, "H": 1, "PO4": 3}, 3, -47.08, 0.0),
]


@pytest.mark.parametrize(("phase", "reaction", "water", "log_k", "delta_h"), REFERENCE_SOLIDS)
def test_default_solids_match_reference(
    phase: str, reaction: dict[str, int], water: int, log_k: float, delta_h: float
) -> None:
    solid = constant_set("default").solid(phase)
    assert solid.log_k25 == pytest.approx(log_k, abs=1e-12)
    assert solid.delta_h == delta_h
    assert solid.water == water
    assert solid.stoichiometry == tuple(float(reaction.get(c, 0)) for c in COMPONENTS)


def test_com_ksp_is_stored_exactly() -> None:
    # REFERENCE §1: store 2.3e-9 itself, not a rounded log.
    assert oxalate.solubility_product("COM") == 2.3e-9
    assert constant_set("default").solid("COM").k25 == 2.3e-9
    assert next(r for r in SOLIDS if r["phase"] == "COM")["k"] == "2.3e-9"


def test_magnesium_phosphate_ion_pair_left_out() -> None:
    # REFERENCE §3 trap: minteq.v4's MgPO4- (4.654) is an I = 0.2 value.
    cs = constant_set("default")
    assert "MgPO4-" not in cs.species
    mg, po4, h = (COMPONENTS.index(c) for c in ("Mg", "PO4", "H"))
    pairs = (cs.stoichiometry[:, mg] == 1) & (cs.stoichiometry[:, po4] == 1)
    assert not np.any(pairs & (cs.stoichiometry[:, h] == 0))


@pytest.mark.parametrize("name", CONSTANT_SETS)
def test_brushite_log_k_is_negative(name: str) -> None:
    # REFERENCE §3 trap: llnl.dat's brushite (+6.55) carries a sign error.
    assert constant_set(name).solid("brushite").log_k25 < 0


def test_no_oxalate_from_databases_without_it() -> None:
    # minteq.v4 and phreeqc.dat have no oxalate (REFERENCE §3): oxalate species
    # must cite Hummel, Tromans or Werness (EQUIL2), or NIST 46.
    ox = COMPONENTS.index("Ox")
    allowed = {"hummel2005", "tromans2005", "werness1985", "nist46", "definition"}
    cs = constant_set("default")
    for i, source in enumerate(cs.sources):
        if cs.stoichiometry[i, ox]:
            assert set(source.split(";")) <= allowed, cs.species[i]


def test_overlay_sets() -> None:
    assert constant_set("thermochimie").solid("COM").log_k25 == -8.73
    assert constant_set("nist46").solid("COM").log_k25 == -8.75
    # species a set does not give are the default's
    i = constant_set("nist46").index("CaCit-")
    assert constant_set("nist46").log_k25[i] == 4.87


# --- REFERENCE §4: molar masses --------------------------------------------------------------

REFERENCE_MASSES = [
    ("calcium", 40.078),
    ("magnesium", 24.305),
    ("sodium", 22.98977),
    ("potassium", 39.0983),
    ("chloride", 35.453),
    ("oxalate", 88.019),
    ("citrate", 189.10),
    ("phosphate", 94.971),
    ("sulfate", 96.06),
]


@pytest.mark.parametrize(("name", "mass"), REFERENCE_MASSES)
def test_molar_masses(name: str, mass: float) -> None:
    assert analyte(name).molar_mass == mass


# REFERENCE §2 WATEQ table (phreeqc.dat / wateq4f.dat) and Kielland for the rest.
@pytest.mark.parametrize(
    ("name", "size", "b"),
    [
        ("calcium", 5.0, 0.165),
        ("magnesium", 5.5, 0.20),
        ("sodium", 4.0, 0.075),
        ("potassium", 3.5, 0.015),
        ("chloride", 3.5, 0.015),
        ("sulfate", 5.0, -0.04),
        ("oxalate", 4.5, 0.0),
        ("citrate", 5.0, 0.0),
    ],
)
def test_ion_size_parameters(name: str, size: float, b: float) -> None:
    info = analyte(name)
    assert (info.ion_size, info.wateq_b) == (size, b)


@pytest.mark.parametrize("row", IONS, ids=lambda r: r["analyte"])
def test_ion_charge_matches_component(row: dict[str, str]) -> None:
    assert int(row["charge"]) == COMPONENT_CHARGE[row["component"]]


# --- no side effects at import ------------------------------------------------------------------

_IMPORT_PROBE = r"""
import json, sys
import pint

app = pint.get_application_registry()
inner = app.get()
import oxalate

report = {
    "same_registry": app.get() is inner,
    "lazy": type(app.get()).__name__,
    "caches": [
        f.cache_info().currsize
        for f in (
            oxalate.database._species_rows,
            oxalate.database._solid_rows,
            oxalate.database.analytes,
            oxalate.database.constant_set,
            oxalate.database.bibliography,
        )
    ],
    "optional": [m for m in ("pandas", "matplotlib", "hypothesis", "phreeqc", "xarray")
                 if m in sys.modules],
}
reg = app.get()
settings = lambda: (str(reg.formatter.default_format), reg.auto_reduce_dimensions,
                    reg.autoconvert_offset_to_baseunit, reg.case_sensitive)
before, units_before = settings(), set(reg._units)
oxalate.supersaturation("5 mEq/L", "3 mg/L", temperature="98.6 degF",
                        background="150 mmol/L NaCl")
oxalate.units.concentration("3.1 mg/dL as P", argument="phosphate")
# pint caches prefixed forms ("millimole") in _units as they are parsed; any
# other new name would be a unit defined by oxalate.
new = [n for n in set(reg._units) - units_before
       if not any(p and u in units_before for p, u, _ in reg.parse_unit_name(n))]
try:
    reg.parse_units("mEq")
    report["mEq_defined"] = True
except pint.errors.UndefinedUnitError:
    report["mEq_defined"] = False
report["settings_unchanged_by_use"] = before == settings()
report["new_units"] = new
report["default_format"] = before[0]
report["auto_reduce_dimensions"] = before[1]
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def import_report() -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def test_import_reads_no_data(import_report: dict[str, object]) -> None:
    assert import_report["caches"] == [0, 0, 0, 0, 0]


def test_import_leaves_pint_registry_alone(import_report: dict[str, object]) -> None:
    assert import_report["same_registry"]
    # pint's application registry is built lazily: oxalate's import must not build it.
    assert import_report["lazy"] == "LazyRegistry"
    assert import_report["default_format"] == ""
    assert import_report["auto_reduce_dimensions"] is False
    assert import_report["settings_unchanged_by_use"]
    assert import_report["new_units"] == []
    assert import_report["mEq_defined"] is False


def test_import_pulls_in_no_optional_dependency(import_report: dict[str, object]) -> None:
    assert import_report["optional"] == []
