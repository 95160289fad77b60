"""Thermodynamic data: lazy, cached, read-only loading of ``oxalate/data``.

The data are plain CSV files shipped in the package, each row carrying a
``source`` key that resolves in the BibTeX files beside them:

``species.csv``
    Aqueous species as formation reactions from the components
    (Ca+2, Mg+2, Na+, K+, Cl-, C2O4-2, Cit-3, PO4-3, SO4-2, CO3-2, H+, H2O),
    with log K at 25 °C and the reaction enthalpy.
``solids.csv``
    Dissolution reactions of the solids (COM, COD, COT, brushite,
    hydroxyapatite, octacalcium phosphate).
``ions.csv``
    Molar masses, charges and ion-size parameters of the analytes.

Named constant sets are layers over ``"default"``: a row in set ``"nist46"``
replaces the default row of the same species or phase.  Nothing is read at
import; the first call reads and caches.

The chemical system itself (which components there are, in which order, their
charges, and which are metals and which ligands) is read from ``ions.csv``
too (:func:`chemical_system`): the speciation engines and the code generator
take their sizes and indices from it.  Adding a ligand is a row of
``ions.csv``, a column of ``species.csv`` and ``solids.csv`` and a keyword of
:class:`oxalate.Solution`; adding a phase is a row of ``solids.csv`` (or of a
user's table, :func:`from_csv`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import numpy.typing as npt

from ._common import ReadOnlyMap, package_data, read_csv

__all__ = [
    "COMPONENTS",
    "CONSTANT_SETS",
    "WATER_MOLAR_MASS",
    "Analyte",
    "ChemicalSystem",
    "ConstantSet",
    "Solid",
    "analyte",
    "analytes",
    "bibliography",
    "canonical_phase",
    "chemical_system",
    "constant_set",
    "from_csv",
    "resolve_constants",
    "van_t_hoff",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]

#: Names of the constant sets shipped with the package.
CONSTANT_SETS: tuple[str, ...] = ("default", "thermochimie", "nist46")

#: Gas constant used by PHREEQC's van 't Hoff expression (parkhurst2013). [kJ/(mol K)]
R_KJ = 8.31470e-3
#: Reference temperature of the constants. [K]
T_REF = 298.15

#: Molar mass of water from the IUPAC 2005 atomic weights, 2 x 1.00794 +
#: 15.9994 g/mol (wieser2006); PHREEQC derives the same from the database
#: :mod:`oxalate.phreeqc` writes. [kg/mol]
WATER_MOLAR_MASS = 18.01528e-3

if TYPE_CHECKING:
    #: Component keys, in the order of the stoichiometry columns: those of
    #: ``ions.csv`` in its order, then ``"H"`` (read on first use, see
    #: :func:`chemical_system`).
    COMPONENTS: tuple[str, ...]


def __getattr__(name: str) -> Any:
    # COMPONENTS comes from ions.csv, read on first use rather than at import
    if name == "COMPONENTS":
        return chemical_system().components
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def _species_rows() -> tuple[dict[str, str], ...]:
    return tuple(read_csv(package_data("species.csv")))


@cache
def _solid_rows() -> tuple[dict[str, str], ...]:
    return tuple(read_csv(package_data("solids.csv")))


@dataclass(frozen=True)
class Analyte:
    """What the unit layer needs to know about one analyte."""

    name: str
    component: str
    formula: str
    charge: int
    equivalent_charge: float | None
    molar_mass: float
    ion_size: float
    wateq_b: float
    source: str
    phreeqc_element: str = ""
    element_molar_mass: float = 0.0
    alkalinity: float = 0.0


@cache
def analytes() -> Mapping[str, Analyte]:
    """The analytes known to the unit layer, keyed by name.

    Returns
    -------
    Mapping of str to Analyte

    Examples
    --------
    >>> from oxalate.database import analytes
    >>> analytes()["calcium"].molar_mass
    40.078
    """
    out = {}
    for row in read_csv(package_data("ions.csv")):
        out[row["analyte"]] = Analyte(
            name=row["analyte"],
            component=row["component"],
            formula=row["formula"],
            charge=int(row["charge"]),
            equivalent_charge=float(row["equivalent_charge"])
            if row["equivalent_charge"]
            else None,
            molar_mass=float(row["molar_mass"]),
            ion_size=float(row["ion_size"]),
            wateq_b=float(row["wateq_b"]),
            source=f"{row['mass_source']};{row['ion_size_source']}",
            phreeqc_element=row.get("phreeqc_element") or row["component"],
            element_molar_mass=float(row.get("element_molar_mass") or row["molar_mass"]),
            alkalinity=float(row.get("alkalinity") or 0.0),
        )
    return ReadOnlyMap(out)


def analyte(name: str) -> Analyte:
    """Look up one analyte by name (``"calcium"``) or component key (``"Ca"``).

    Examples
    --------
    >>> from oxalate.database import analyte
    >>> analyte("Ox").name, analyte("Oxalate").name
    ('oxalate', 'oxalate')
    """
    table = analytes()
    if name in table:
        return table[name]
    for item in table.values():
        if name == item.component:
            return item
    if isinstance(name, str):  # any case: "Oxalate", "OX"
        folded = name.strip().casefold()
        for item in table.values():
            if folded in (item.name.casefold(), item.component.casefold()):
                return item
    raise KeyError(f"unknown analyte {name!r}; known: {sorted(table)}")


@dataclass(frozen=True)
class ChemicalSystem:
    """The components of the model and their roles, read once from ``ions.csv``.

    Every analyte of ``ions.csv`` is a component, in the file's order, and
    ``"H"`` (H⁺) comes last.  The cations are the *metals* and the anions the
    *ligands*: the speciation engines solve the metals' free molalities by
    Newton's method and every ligand's in closed form (no species holds two
    ligands), so ``ions.csv`` lists the metals first.

    Attributes
    ----------
    components : tuple of str
        Component keys, H last (``"Ca", ..., "CO3", "H"``).
    analytes : tuple of str
        The analyte name of each component but H (``"calcium"``, ...).
    charge : numpy.ndarray
        Charge of each component, H included. [-]
    metals, ligands : tuple of int
        Positions of the cations and of the anions in ``components``.
    h : int
        Position of H.

    Examples
    --------
    >>> from oxalate.database import chemical_system
    >>> system = chemical_system()
    >>> system.components[system.metals[0]], system.components[system.h]
    ('Ca', 'H')
    """

    components: tuple[str, ...]
    analytes: tuple[str, ...]
    charge: FloatArray
    metals: tuple[int, ...]
    ligands: tuple[int, ...]

    @property
    def h(self) -> int:
        """Position of H⁺ among the components (the last)."""
        return len(self.components) - 1

    @property
    def solutes(self) -> tuple[str, ...]:
        """The components whose totals a solution gives: all but H."""
        return self.components[:-1]

    def index(self, name: str) -> int:
        """Position of a component given by its key (``"Ox"``) or analyte name (``"oxalate"``)."""
        if name in self.components:
            return self.components.index(name)
        if name in self.analytes:
            return self.analytes.index(name)
        raise KeyError(f"unknown component {name!r}; known: {list(self.analytes)}")


@cache
def chemical_system() -> ChemicalSystem:
    """The chemical system of ``ions.csv``: components, charges, metals and ligands.

    Returns
    -------
    ChemicalSystem

    Raises
    ------
    ValueError
        If ``ions.csv`` does not list its cations before its anions, or
        lists a neutral analyte.
    """
    table = analytes()
    names = tuple(table)
    charge = [float(table[n].charge) for n in names]
    metals = tuple(i for i, z in enumerate(charge) if z > 0)
    ligands = tuple(i for i, z in enumerate(charge) if z < 0)
    if len(metals) + len(ligands) != len(names):
        raise ValueError("ions.csv: every analyte must be charged (a cation or an anion)")
    if metals != tuple(range(len(metals))):
        raise ValueError("ions.csv: list the cations (metals) before the anions (ligands)")
    charges = np.array([*charge, 1.0])
    charges.setflags(write=False)
    return ChemicalSystem(
        components=(*(table[n].component for n in names), "H"),
        analytes=names,
        charge=charges,
        metals=metals,
        ligands=ligands,
    )


@dataclass(frozen=True)
class Solid:
    """A solid phase and its dissolution reaction.

    ``stoichiometry[j]`` is the number of component ``COMPONENTS[j]``
    released per formula unit; ``water`` the number of H2O.
    """

    phase: str
    mineral: str
    formula: str
    stoichiometry: tuple[float, ...]
    water: float
    log_k25: float
    delta_h: float
    ions: int
    source: str
    note: str = ""
    k25: float | None = None
    aliases: tuple[str, ...] = ()

    def log_k(self, temperature: FloatArray | float) -> FloatArray:
        """log10 K of dissolution at ``temperature`` [K] by van 't Hoff."""
        return van_t_hoff(self.log_k25, self.delta_h, temperature)


def van_t_hoff(log_k25: Any, delta_h: Any, temperature: Any) -> FloatArray:
    """log K(T) = log K25 - ΔH (298.15 - T) / (ln10 R T 298.15), as PHREEQC.

    Parameters
    ----------
    log_k25 : float or array
        log10 K at 25 °C.
    delta_h : float or array
        Reaction enthalpy. [kJ/mol]
    temperature : float or array
        Temperature. [K]

    Returns
    -------
    numpy.ndarray
        log10 K at ``temperature``.

    Examples
    --------
    >>> from oxalate.database import van_t_hoff
    >>> round(float(van_t_hoff(-8.6382722, 21.5, 310.15)), 6)
    -8.492542
    """
    t = np.asarray(temperature, dtype=np.float64)
    return np.asarray(
        np.asarray(log_k25)
        - np.asarray(delta_h) * (T_REF - t) / (math.log(10) * R_KJ * t * T_REF),
        dtype=np.float64,
    )


@dataclass(frozen=True)
class ConstantSet:
    """A named, self-consistent set of species and solid constants.

    Attributes
    ----------
    name : str
    species : tuple of str
        Aqueous species names; the first ``len(COMPONENTS)`` are the
        components themselves.
    phreeqc_names : tuple of str
    charge : numpy.ndarray
        Charge of each species.
    stoichiometry : numpy.ndarray, shape (n_species, n_components)
    water : numpy.ndarray
        H2O in each formation reaction.
    log_k25 : numpy.ndarray
        Formation log10 K at 25 °C.
    delta_h : numpy.ndarray
        Formation enthalpy. [kJ/mol]
    sources : tuple of str
    solids : Mapping of str to Solid

    Examples
    --------
    >>> from oxalate.database import constant_set
    >>> cs = constant_set("default")
    >>> cs.species[cs.index("CaOx")], float(cs.log_k25[cs.index("CaOx")])
    ('CaC2O4', 3.19)
    """

    name: str
    species: tuple[str, ...]
    phreeqc_names: tuple[str, ...]
    charge: FloatArray
    stoichiometry: FloatArray
    water: FloatArray
    log_k25: FloatArray
    delta_h: FloatArray
    sources: tuple[str, ...]
    solids: Mapping[str, Solid] = field(default_factory=dict)

    def log_k(self, temperature: Any) -> FloatArray:
        """Formation log10 K of every species at ``temperature`` [K].

        The result has shape ``temperature.shape + (n_species,)``.
        """
        t = np.asarray(temperature, dtype=np.float64)[..., np.newaxis]
        return van_t_hoff(self.log_k25, self.delta_h, t)

    @property
    def phases(self) -> tuple[str, ...]:
        """Keys of the solids, in table order: the phases :func:`oxalate.speciate` reports."""
        return tuple(self.solids)

    def solid(self, phase: str) -> Solid:
        """The :class:`Solid` named ``phase`` (aliases such as ``"whewellite"`` accepted)."""
        return self.solids[canonical_phase(phase, self)]

    def with_solubility_product(self, **values: float) -> ConstantSet:
        """A copy with some solubility products replaced (at 25 °C).

        Parameters
        ----------
        **values : float
            ``phase=Ksp`` pairs; Ksp is the dissolution constant at 25 °C in
            the phase's own reaction (mol/kg units).  The enthalpy is kept.

        Examples
        --------
        >>> from oxalate.database import constant_set
        >>> mine = constant_set("default").with_solubility_product(COM=2.6e-9)
        >>> round(mine.solid("COM").log_k25, 4)
        -8.585
        """
        solids = dict(self.solids)
        for phase, k in values.items():
            key = canonical_phase(phase, self)
            if not (isinstance(k, (int, float)) and math.isfinite(k) and k > 0):
                raise ValueError(
                    f"{phase}: a solubility product must be a positive number, not {k!r}"
                )
            solids[key] = replace(
                solids[key],
                log_k25=math.log10(k),
                k25=float(k),
                source="user",
                note="set by the user",
            )
        return replace(self, name=f"{self.name}+user", solids=ReadOnlyMap(solids))

    def index(self, species: str) -> int:
        """Position of ``species`` (its own or its PHREEQC name)."""
        if species in self.species:
            return self.species.index(species)
        if species in self.phreeqc_names:
            return self.phreeqc_names.index(species)
        raise KeyError(f"unknown species {species!r} in constant set {self.name!r}")


def _normal_name(name: str) -> str:
    return " ".join(name.strip().lower().replace("_", " ").split())


def canonical_phase(phase: str, known: ConstantSet | Iterable[str] | None = None) -> str:
    """Map a phase name or alias to its key: ``"whewellite"`` and ``"com"`` to ``"COM"``.

    A phase is known by its key, its mineral name and the aliases of its row
    of ``solids.csv`` (or of a user's table), case-insensitively.

    Parameters
    ----------
    phase : str
        A phase key, mineral name or alias.
    known : ConstantSet or iterable of str, optional
        The constant set whose solids are accepted, or some phase keys of
        the default set; default: every solid of the default set.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        For a name that is not one of the accepted phases; the message lists
        them.

    Examples
    --------
    >>> from oxalate.database import canonical_phase
    >>> canonical_phase("whewellite"), canonical_phase("ocp")
    ('COM', 'octacalcium_phosphate')
    """
    if not isinstance(phase, str):
        raise TypeError(f"phase={phase!r} must be a string such as 'COM'")
    if isinstance(known, ConstantSet):
        solids, names = known.solids, tuple(known.solids)
    else:
        solids = constant_set("default").solids
        names = tuple(solids) if known is None else tuple(known)
    wanted = _normal_name(phase)
    for key in names:
        solid = solids.get(key)
        spellings = (key,) if solid is None else (key, solid.mineral, *solid.aliases)
        if phase == key or wanted in {_normal_name(s) for s in spellings}:
            return key
    raise ValueError(f"phase={phase!r} is not known; accepted: {', '.join(names)}")


def _rows_for(rows: Iterable[dict[str, str]], name: str, key: str) -> list[dict[str, str]]:
    base = [r for r in rows if r["constant_set"] == "default"]
    if name == "default":
        return base
    over = {r[key]: r for r in rows if r["constant_set"] == name}
    out = [over.pop(r[key], r) for r in base]
    out.extend(over.values())
    return out


def _build(
    name: str, species_rows: list[dict[str, str]], solid_rows: list[dict[str, str]]
) -> ConstantSet:
    system = chemical_system()
    components = system.components
    for what, rows, needed in (
        ("species", species_rows, ("species", "charge", "log_k", "delta_h", "source")),
        ("solids", solid_rows, ("phase", "mineral", "formula", "delta_h", "ions", "source")),
    ):
        for row in rows:
            missing = [c for c in (*needed, *components) if c not in row]
            if missing:
                raise ValueError(f"{what} table is missing columns {missing}")
    stoich = np.array([[float(r[c]) for c in components] for r in species_rows], dtype=np.float64)
    stoich.setflags(write=False)
    arrays = {
        "charge": np.array([float(r["charge"]) for r in species_rows]),
        "water": np.array([float(r.get("H2O") or 0.0) for r in species_rows]),
        "log_k25": np.array([float(r["log_k"]) for r in species_rows]),
        "delta_h": np.array([float(r["delta_h"] or 0.0) for r in species_rows]),
    }
    for a in arrays.values():
        a.setflags(write=False)
    charge_from_stoich = stoich @ system.charge
    bad = np.flatnonzero(np.abs(charge_from_stoich - arrays["charge"]) > 1e-12)
    if bad.size:
        raise ValueError(
            f"charge of {[species_rows[i]['species'] for i in bad]} does not match its reaction"
        )
    solids = {}
    for r in solid_rows:
        k25 = float(r["k"]) if r.get("k") else None
        log_k = math.log10(k25) if k25 is not None else float(r["log_k"])
        solids[r["phase"]] = Solid(
            phase=r["phase"],
            mineral=r["mineral"],
            formula=r["formula"],
            stoichiometry=tuple(float(r[c]) for c in components),
            water=float(r["H2O"] or 0.0),
            log_k25=log_k,
            delta_h=float(r["delta_h"] or 0.0),
            ions=int(r["ions"]),
            source=r["source"],
            note=r.get("note", ""),
            k25=k25,
            aliases=tuple(a.strip() for a in (r.get("aliases") or "").split(";") if a.strip()),
        )
    return ConstantSet(
        name=name,
        species=tuple(r["species"] for r in species_rows),
        phreeqc_names=tuple(r.get("phreeqc_name") or r["species"] for r in species_rows),
        stoichiometry=stoich,
        sources=tuple(r["source"] for r in species_rows),
        solids=ReadOnlyMap(solids),
        **arrays,
    )


@cache
def constant_set(name: str = "default") -> ConstantSet:
    """Load a named constant set.

    Parameters
    ----------
    name : {"default", "thermochimie", "nist46"}
        ``"default"``: COM Ksp = 2.3e-9 at 25 °C (ΔH 21.5 kJ/mol), the rest
        minteq.v4 (NIST SRD 46) and Hummel et al. (2005) for oxalate.
        ``"thermochimie"``: Hummel et al. (2005) / ThermoChimie for COM and
        the citrate system.  ``"nist46"``: NIST SRD 46 where the set has a
        value (COM, COT, CaC2O4(aq), HC2O4-).  Species a set does not give
        are the default's.

    Returns
    -------
    ConstantSet

    Examples
    --------
    >>> from oxalate.database import constant_set
    >>> round(constant_set("thermochimie").solid("COM").log_k25, 2)
    -8.73
    """
    if name not in CONSTANT_SETS:
        raise ValueError(
            f"constants={name!r} is not a known constant set; accepted: {CONSTANT_SETS}"
        )
    return _build(
        name,
        _rows_for(_species_rows(), name, "species"),
        _rows_for(_solid_rows(), name, "phase"),
    )


def from_csv(
    species: str | Path, solids: str | Path | None = None, *, name: str = "user"
) -> ConstantSet:
    """Build a constant set from the user's own tables.

    The files have the columns of the shipped ``species.csv`` and
    ``solids.csv`` (the ``constant_set`` column is ignored).  Without
    ``solids`` the default solids are used.

    Examples
    --------
    >>> import tempfile, shutil, os
    >>> from importlib import resources
    >>> from oxalate.database import from_csv
    >>> d = tempfile.mkdtemp()
    >>> src = resources.files("oxalate") / "data" / "species.csv"
    >>> path = os.path.join(d, "species.csv")
    >>> _ = shutil.copyfile(str(src), path)
    >>> from_csv(path).name
    'user'
    """
    species_rows = read_csv(species)
    solid_rows = (
        read_csv(solids)
        if solids is not None
        else list(_rows_for(_solid_rows(), "default", "phase"))
    )
    return _build(name, species_rows, solid_rows)


def resolve_constants(constants: Any) -> ConstantSet:
    """Turn a ``constants=`` argument into a :class:`ConstantSet`.

    Accepts a set name, a :class:`ConstantSet`, or a mapping of phase to
    solubility product (applied over ``"default"``).

    Examples
    --------
    >>> from oxalate.database import resolve_constants
    >>> resolve_constants("nist46").name
    'nist46'
    >>> resolve_constants({"COM": 2.6e-9}).solid("COM").k25
    2.6e-09
    """
    if isinstance(constants, ConstantSet):
        return constants
    if isinstance(constants, str):
        return constant_set(constants)
    if isinstance(constants, Mapping):
        return constant_set("default").with_solubility_product(**dict(constants))
    raise TypeError(
        f"constants={constants!r} must be a set name {CONSTANT_SETS}, a ConstantSet, "
        f"or a mapping such as {{'COM': 2.3e-9}}"
    )


_BIB_KEY = re.compile(r"@\w+\s*\{\s*([^,\s]+)\s*,")


@cache
def bibliography() -> Mapping[str, str]:
    """Every BibTeX entry shipped in ``oxalate/data/*.bib``, keyed by citation key.

    Examples
    --------
    >>> from oxalate.database import bibliography
    >>> "hummel2005" in bibliography()
    True
    """
    entries: dict[str, str] = {}
    folder = resources.files("oxalate") / "data"
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".bib"):
            continue
        text = item.read_text(encoding="utf-8")
        starts = [(m.start(), m.group(1)) for m in _BIB_KEY.finditer(text)]
        for (start, key), nxt in zip(
            starts, [*[s for s, _ in starts[1:]], len(text)], strict=True
        ):
            entries[key] = text[start:nxt].strip()
    return ReadOnlyMap(entries)
