"""The layers of the package, and the chemical system read from data rather than code.

* no public module imports another public module's private names;
* the engines (``oxalate._engines``) import only the physics layer;
* no source file is longer than 1,500 lines;
* a phase added in a user's table, with no code change, is reported by
  ``speciate`` and precipitates in ``precipitate``; PHREEQC, run on the
  database written from the same table, is the reference for the amount.
"""

from __future__ import annotations

import ast
import csv
import math
from pathlib import Path

import numpy as np
import pytest

import oxalate
from oxalate.database import chemical_system, from_csv

SRC = Path(oxalate.__file__).resolve().parent
PHYSICS = {"database", "thermo", "activity", "_common", "_errors", "_quantities", "units"}


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def _public(path: Path) -> bool:
    rel = path.relative_to(SRC)
    return not any(part.startswith("_") and part != "__init__.py" for part in rel.parts)


def _relative_imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) of every ``from .module import name`` in a file (level >= 1)."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            for alias in node.names:
                out.append((node.module or "", alias.name))
    return out


def test_no_public_module_imports_private_names_of_another() -> None:
    found = []
    for path in filter(_public, _modules()):
        for module, name in _relative_imports(path):
            if module and not module.split(".")[0].startswith("_") and name.startswith("_"):
                found.append(f"{path.name}: from .{module} import {name}")
    assert found == []


def test_engines_import_only_the_physics_layer() -> None:
    found = []
    for path in sorted((SRC / "_engines").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 2:  # from ..module import x
                target = (node.module or "").split(".")[0]
                if target not in PHYSICS:
                    found.append(f"{path.name}: from ..{node.module}")
    assert found == []


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_no_source_file_above_1500_lines(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= 1500


def test_components_come_from_ions_csv() -> None:
    with (SRC / "data" / "ions.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    system = chemical_system()
    assert system.components == (*(r["component"] for r in rows), "H")
    assert [system.components[i] for i in system.metals] == [
        r["component"] for r in rows if int(r["charge"]) > 0
    ]
    assert oxalate.database.COMPONENTS == system.components


# --- a phase from the user's own table -------------------------------------------------------

# Gypsum, CaSO4:2H2O = Ca+2 + SO4-2 + 2 H2O: log K = -4.58, delta_h = -0.109 kcal/mol
# (phreeqc.dat and minteq.v4; parkhurst2013), i.e. -0.456 kJ/mol.
GYPSUM = {
    "constant_set": "user", "phase": "gypsum", "mineral": "Gypsum", "formula": "CaSO4:2H2O",
    "aliases": "calcium sulfate dihydrate", "Ca": "1", "SO4": "1", "H2O": "2", "k": "",
    "log_k": "-4.58", "delta_h": str(-0.109 * 4.184), "ions": "2", "source": "parkhurst2013",
    "note": "phreeqc.dat",
}  # fmt: skip


@pytest.fixture(scope="module")
def with_gypsum(tmp_path_factory: pytest.TempPathFactory) -> oxalate.ConstantSet:
    folder = tmp_path_factory.mktemp("user-table")
    data = SRC / "data"
    with (data / "solids.csv").open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = [r for r in reader if r["constant_set"] == "default"]
    rows.append({f: GYPSUM.get(f, "0") for f in fields})
    solids = folder / "solids.csv"
    with solids.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    species = folder / "species.csv"
    species.write_text((data / "species.csv").read_text(encoding="utf-8"), encoding="utf-8")
    return from_csv(species, solids, name="with-gypsum")


def _sulfate_water() -> oxalate.Solution:
    # CaCl2 + Na2SO4 around gypsum's solubility (about 15 mmol/kg at 25 °C)
    ca = np.array([10e-3, 20e-3, 40e-3])
    return oxalate.Solution.from_molalities(
        {"Ca": ca, "Cl": 2 * ca, "SO4": np.full(3, 30e-3), "Na": np.full(3, 60e-3)},
        pH=np.full(3, 7.0),
        temperature_kelvin=298.15,
    )


def test_user_phase_is_reported_by_speciate(with_gypsum: oxalate.ConstantSet) -> None:
    r = oxalate.speciate(_sulfate_water(), constants=with_gypsum)
    assert "gypsum" in r.saturation_index
    # by hand: SI = log a(Ca) + log a(SO4) + 2 log a_w - log K(25 °C)
    expected = (
        np.log10(r.activity("Ca+2"))
        + np.log10(r.activity("SO4-2"))
        + 2 * np.log10(r.water_activity)
        + 4.58
    )
    np.testing.assert_allclose(r.saturation_index["gypsum"], expected, rtol=0, atol=1e-12)
    assert with_gypsum.solid("calcium sulfate dihydrate").phase == "gypsum"


@pytest.mark.phreeqc
@pytest.mark.parametrize("engine", ["numpy", "auto"])
def test_user_phase_precipitates_as_in_phreeqc(
    with_gypsum: oxalate.ConstantSet, engine: str
) -> None:
    pytest.importorskip("phreeqc")
    from oxalate.phreeqc import run

    s = _sulfate_water()
    ours = oxalate.precipitate(s, "gypsum", constants=with_gypsum, engine=engine)
    totals = {c: np.asarray(v) for c, v in s.totals.items() if np.any(v > 0)}
    theirs = run(
        totals, pH=np.full(3, 7.0), temperature_c=25.0, constants=with_gypsum,
        equilibrium_phases={"gypsum": 0.0},
    )  # fmt: skip
    assert np.all(ours.converged)
    # the first row is undersaturated: nothing forms in either code
    np.testing.assert_allclose(
        ours.amount["gypsum"], theirs["precipitated_gypsum"], rtol=1e-8, atol=1e-15
    )
    np.testing.assert_allclose(ours.water_mass, theirs["mass_water"], rtol=0, atol=1e-12)
    formed = np.asarray(ours.amount["gypsum"]) > 0
    assert formed.tolist() == [False, True, True]
    np.testing.assert_allclose(
        np.asarray(ours.speciation.saturation_index["gypsum"])[formed], 0.0, atol=1e-10
    )
    assert math.isclose(float(with_gypsum.solid("gypsum").delta_h), -0.456056)


def test_solution_keywords_match_ions_csv() -> None:
    """Adding a ligand: its Solution keyword must match its row of ions.csv."""
    from oxalate.solution import ANALYTES

    system = chemical_system()
    assert dict(zip(system.analytes, system.solutes, strict=True)) == ANALYTES
