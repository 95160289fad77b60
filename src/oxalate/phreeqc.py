"""Bridge to USGS PHREEQC, the peer oxalate is validated against.

This module writes a complete PHREEQC database from one of oxalate's own
constant sets (:func:`database_text`), writes PHREEQC input for a batch of
solutions (:func:`solutions_input`) and runs IPhreeqc on it (:func:`run`),
returning plain float arrays.

The database gives no species a ``-gamma`` line, so PHREEQC applies its
default activity model to every species, which is the library's default
``"davies"`` model exactly: log10 γ = -A z² (√I/(1+√I) - 0.3 I) for ions and
+0.1 I for neutral species, a_w = 1 - 0.017 Σ m, log K(T) by van 't Hoff with
R = 8.31470e-3 kJ/(mol K).  With the same constants the two codes then agree
to better than 1e-7 in SI, log γ and relative molality (the tests see
1e-15).

PHREEQC itself is optional: the ``phreeqc`` package (IPhreeqc 3.8.6) comes with
``pip install oxalate[test]``.  It is imported only inside the functions that
run it; :func:`database_text` and :func:`solutions_input` work without it.

Notes
-----
Conventions of the generated database:

- Elements and master species: Ca (Ca+2), Mg (Mg+2), Na (Na+), K (K+),
  Cl (Cl-), Ox (Ox-2, oxalate C2O4-2), Cit (Cit-3, citrate C6H5O7-3),
  P (PO4-3), S (SO4-2), C (CO3-2, total inorganic carbon without redox
  states), plus the H, H(0), H(1), E, O, O(0), O(-2) PHREEQC requires.
  ``Ox`` and ``Cit`` are element names of their own, as in ThermoChimie's
  ``sit.dat``: a PHREEQC formula reads an element as one capital and its
  lowercase letters, so ``CaOx2-2`` is Ca(Ox)2 and ``CaH2Cit+`` is
  Ca H2 Cit.
- O2(aq) and H2(aq) are defined (PHREEQC refuses a database without them)
  with phreeqc.dat's constants; at the default pe 4 their molalities are
  below 1e-40 and touch nothing.
- Gram formula weights are numbers, not formulas, and are the molar masses of
  :func:`oxalate.database.analytes`: Ca 40.078, Mg 24.305, Na 22.98977,
  K 39.0983, Cl 35.453, oxalate 88.019 (as C2O4), citrate 189.10
  (as C6H5O7), phosphate 94.971 (as PO4), sulfate 96.06 (as SO4) and
  carbonate 61.017 (as HCO3, the clinical reporting basis), so that mass and
  molar inputs convert as in :mod:`oxalate.units`.  The element weights of
  H, O, C, P and S are the IUPAC 2005 atomic weights (wieser2006); they set
  the mass of water, 18.01528 g/mol.
- ``-delta_h`` is written with its unit, ``kJ/mol``; PHREEQC then uses
  R = 8.31470e-3 kJ/(mol K) as oxalate does.  No ``-analytical_expression``
  and no molar volumes (``-Vm``) are given, so pressure (PHREEQC's default
  1 atm) enters only through the density of water in A(T).
- Solids are PHASES named by their mineral names (``Whewellite``,
  ``Weddellite``, ``Caoxite``, ``Brushite``, ``Hydroxyapatite``, ``OCP``),
  with formulas written in these elements (``CaOx:H2O``,
  ``Ca5(PO4)3OH``) that balance in elements and charge.

Throughput: one input string with N SOLUTION blocks, measured on a 2-core
machine, is about 0.2 s per 1000 NaCl/CaCl2/oxalate solutions and 0.3 s per
1000 urine-like ones (all ten components, 58 species), of which PHREEQC's
solver takes about 0.17 s and reading the ~130 punched columns back through
the ``phreeqc`` package about 0.07 s.

References
----------
.. [1] Parkhurst, D. L. and Appelo, C. A. J. (2013), Description of input and
   examples for PHREEQC version 3, USGS Techniques and Methods 6-A43,
   doi:10.3133/tm6A43.
.. [2] Charlton, S. R. and Parkhurst, D. L. (2011), Modules based on the
   geochemical model PHREEQC for use in scripting and programming languages,
   Computers & Geosciences 37, 1653-1663, doi:10.1016/j.cageo.2011.02.005.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import numpy.typing as npt

from .database import (
    ConstantSet,
    analyte,
    analytes,
    canonical_phase,
    chemical_system,
    resolve_constants,
)

__all__ = [
    "ELEMENTS",
    "database_text",
    "output_columns",
    "run",
    "run_input",
    "solutions_input",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]

_INSTALL_HINT = (
    "oxalate.phreeqc needs the optional 'phreeqc' package (IPhreeqc 3.8.6): "
    "pip install oxalate[test]  or  pip install phreeqc==1.1.1"
)

if TYPE_CHECKING:
    #: PHREEQC element of each component (``ions.csv``'s ``phreeqc_element``; H for H).
    ELEMENTS: Mapping[str, str]


def __getattr__(name: str) -> Any:
    # ELEMENTS comes from ions.csv, read on first use rather than at import
    if name == "ELEMENTS":
        return _elements()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def _elements() -> Mapping[str, str]:
    out = {a.component: a.phreeqc_element for a in analytes().values()}
    out["H"] = "H"
    return MappingProxyType(out)


# IUPAC 2005 standard atomic weights (Wieser 2006, Pure Appl. Chem. 78, 2051; bib key
# wieser2006) of H and O, which are not analytes; those of the elements of polyatomic
# analytes (C, P, S) are ions.csv's element_molar_mass. [g/mol]
_ATOMIC_WEIGHT = {"H": 1.00794, "O": 15.9994}

# The redox pair PHREEQC needs, with phreeqc.dat's constants (log K, delta_h
# in kcal/mol, as phreeqc.dat gives them).
_REDOX_SPECIES = (
    ("2 H2O = O2 + 4 H+ + 4 e-", -86.08, "134.79 kcal/mol"),
    ("2 H+ + 2 e- = H2", -3.15, "-1.759 kcal/mol"),
)

# Species per PUNCH line: keeps Basic lines short (about 150 characters).
_PER_LINE = 4


def _number(x: float) -> str:
    """Shortest text that reads back as exactly ``x``."""
    return repr(float(x))


def _coefficient(n: float) -> str:
    return "" if n == 1 else f"{n:g} "


def _count(n: float) -> str:
    return "" if n == 1 else f"{n:g}"


def _import_phreeqc() -> Any:
    try:
        from phreeqc import Phreeqc
    except ImportError as error:  # pragma: no cover - exercised without the extra
        raise ImportError(_INSTALL_HINT) from error
    return Phreeqc


def _terms(
    stoichiometry: Sequence[float], water: float, masters: Sequence[str]
) -> tuple[list[str], list[str]]:
    """The species with positive and with negative coefficients, as PHREEQC terms."""
    positive: list[str] = []
    negative: list[str] = []
    for n, master in [*zip(stoichiometry, masters, strict=True), (water, "H2O")]:
        if n > 0:
            positive.append(f"{_coefficient(n)}{master}")
        elif n < 0:
            negative.append(f"{_coefficient(-n)}{master}")
    return positive, negative


def _formation(
    defined: str, stoichiometry: Sequence[float], water: float, masters: Sequence[str]
) -> str:
    """``reactants = defined + products``: PHREEQC wants the defined species first on the right."""
    reactants, products = _terms(stoichiometry, water, masters)
    return f"{' + '.join(reactants)} = {' + '.join([defined, *products])}"


def _dissolution(
    formula: str, stoichiometry: Sequence[float], water: float, masters: Sequence[str]
) -> str:
    """``formula + consumed = released``: PHREEQC wants the phase formula first on the left."""
    released, consumed = _terms(stoichiometry, water, masters)
    return f"{' + '.join([formula, *consumed])} = {' + '.join(released)}"


def _solid_formula(
    phase: str, stoichiometry: Sequence[float], water: float, charges: Sequence[float]
) -> str:
    """A PHREEQC formula of a solid from its dissolution stoichiometry.

    ``CaOx:H2O`` for COM, ``CaHPO4:2H2O`` for brushite, ``Ca5(PO4)3OH`` for
    hydroxyapatite (H+ consumed on dissolution appears as OH in the solid).
    """
    system = chemical_system()
    nu = dict(zip(system.components, stoichiometry, strict=True))
    charge = sum(n * z for n, z in zip(stoichiometry, charges, strict=True))
    if abs(charge) > 1e-12:
        raise ValueError(f"solid {phase!r}: its dissolution reaction is not charge-balanced")
    if any(nu[c] < 0 for c in system.solutes):
        raise ValueError(f"solid {phase!r}: only H+ may be consumed when it dissolves")
    h = nu["H"]
    metals = [system.components[i] for i in system.metals]
    ligands = [system.components[i] for i in system.ligands]
    parts = [f"{c}{_count(nu[c])}" for c in metals if nu[c] > 0]
    tail = ""
    if h > 0:
        parts.append(f"H{_count(h)}")
    elements = _elements()
    for c in ligands:
        n = nu[c]
        if n <= 0:
            continue
        if elements[c] != c:  # a polyatomic group written as such: PO4, (PO4)3
            parts.append(c if n == 1 else f"({c}){_count(n)}")
        else:
            parts.append(f"{c}{_count(n)}")
    hydrate = water
    if h < 0:
        if -h <= water:
            parts.append("OH" if h == -1 else f"(OH){_count(-h)}")
            hydrate = water + h
        elif h + 2 * water >= 0:
            # oxide: the H+ consumed exceeds the water released
            n_h = h + 2 * water
            parts.append(f"O{_count(water)}" + (f"H{_count(n_h)}" if n_h else ""))
            hydrate = 0.0
        else:
            raise ValueError(f"solid {phase!r}: cannot write a formula (H {h}, H2O {water})")
    elif water < 0:
        raise ValueError(f"solid {phase!r}: water consumed on dissolution is not supported")
    if hydrate > 0:
        tail = f":{_coefficient(hydrate).strip()}H2O"
    return "".join(parts) + tail


def database_text(constants: Any = "default") -> str:
    """A complete PHREEQC database written from an oxalate constant set.

    Every aqueous species is a formation reaction from the components with
    its ``log_k`` and ``-delta_h`` [kJ/mol]; every solid is a PHASE
    (named by its mineral name) with its dissolution reaction.  No species
    has a ``-gamma`` line, so PHREEQC applies the library's ``"davies"``
    model (REFERENCE §2).

    Parameters
    ----------
    constants : str, ConstantSet or mapping
        A constant-set name (``"default"``, ``"thermochimie"``,
        ``"nist46"``), a :class:`~oxalate.database.ConstantSet`, or a
        mapping of phase to solubility product applied over ``"default"``.

    Returns
    -------
    str
        The database, to hand to ``Phreeqc.LoadDatabaseString``.

    Notes
    -----
    See the module docstring for the elements, gram formula weights and
    formula conventions.

    Examples
    --------
    >>> from oxalate.phreeqc import database_text
    >>> text = database_text()
    >>> "Ca+2 + Ox-2 = CaOx" in text
    True
    >>> "CaOx:H2O = Ca+2 + Ox-2 + H2O" in text
    True
    >>> "-gamma" in text
    False
    """
    cs = resolve_constants(constants)
    components = chemical_system().components
    n_comp = len(components)
    masters = cs.phreeqc_names[:n_comp]
    if tuple(cs.stoichiometry[:n_comp].ravel()) != tuple(np.eye(n_comp).ravel()):
        raise ValueError(
            f"constant set {cs.name!r}: its first {n_comp} species must be the components"
        )
    lines = [
        f"# PHREEQC database written by oxalate.phreeqc from constant set {cs.name!r}.",
        "# No ion-size (gamma) parameters: PHREEQC applies Davies to ions, 0.1 I to neutrals.",
        "SOLUTION_MASTER_SPECIES",
        "#element  species  alk  gfw_formula  element_gfw",
        f"H      H+    -1  {_ATOMIC_WEIGHT['H']}  {_ATOMIC_WEIGHT['H']}",
        "H(0)   H2     0  H",
        "H(1)   H+    -1  H",
        "E      e-     1  0  0",
        f"O      H2O    0  {_ATOMIC_WEIGHT['O']}  {_ATOMIC_WEIGHT['O']}",
        "O(0)   O2     0  O",
        "O(-2)  H2O    0  O",
    ]
    for component, master in zip(components, masters, strict=True):
        if component == "H":
            continue
        info = analyte(component)
        element = info.phreeqc_element
        gfw = info.molar_mass
        element_gfw = info.element_molar_mass
        alk = info.alkalinity
        lines.append(f"{element:<6} {master:<6} {alk:g}  {gfw!r}  {element_gfw!r}")
    lines += [
        "",
        "SOLUTION_SPECIES",
        "H+ = H+",
        "    -log_k 0",
        "e- = e-",
        "    -log_k 0",
        "H2O = H2O",
        "    -log_k 0",
    ]
    for reaction, log_k, delta_h in _REDOX_SPECIES:
        lines += [reaction, f"    -log_k {log_k}", f"    -delta_h {delta_h}"]
    for i, name in enumerate(cs.phreeqc_names):
        if i < n_comp:
            if components[i] == "H":
                continue
            lines += [f"{name} = {name}", "    -log_k 0"]
            continue
        lines += [
            _formation(name, cs.stoichiometry[i], float(cs.water[i]), masters),
            f"    -log_k {_number(cs.log_k25[i])}",
            f"    -delta_h {_number(cs.delta_h[i])} kJ/mol",
            f"    # {cs.species[i]}; source: {cs.sources[i]}",
        ]
    lines += ["", "PHASES"]
    for key, solid in cs.solids.items():
        formula = _solid_formula(
            key, solid.stoichiometry, solid.water, cs.charge[:n_comp].tolist()
        )
        lines += [
            solid.mineral,
            "    " + _dissolution(formula, solid.stoichiometry, solid.water, masters),
            f"    -log_k {_number(solid.log_k25)}",
            f"    -delta_h {_number(solid.delta_h)} kJ/mol",
            f"    # {key}; source: {solid.source}",
        ]
    lines += ["", "END", ""]
    return "\n".join(lines)


_FIX_PH_PHASE = "Fix_H+"


def _phases(cs: ConstantSet, equilibrium_phases: Any) -> dict[str, float]:
    """Canonical phase key -> target SI, validated."""
    if equilibrium_phases is None:
        return {}
    if not isinstance(equilibrium_phases, Mapping):
        raise TypeError(
            f"equilibrium_phases={equilibrium_phases!r} must be a mapping of phase to target "
            f"saturation index, e.g. {{'COM': 0.0}}"
        )
    if not equilibrium_phases:
        raise ValueError("equilibrium_phases is empty; give e.g. {'COM': 0.0} or None")
    out: dict[str, float] = {}
    for phase, si in equilibrium_phases.items():
        key = canonical_phase(phase, tuple(cs.solids))
        value = float(si)
        if not math.isfinite(value):
            raise ValueError(f"equilibrium_phases[{phase!r}]={si!r} must be a finite SI")
        out[key] = value
    return out


def output_columns(
    constants: Any = "default", *, equilibrium_phases: Any = None, closed: bool = True
) -> list[str]:
    """The keys :func:`run` returns, in the order PHREEQC punches them.

    Parameters
    ----------
    constants : str, ConstantSet or mapping
        As in :func:`database_text`.
    equilibrium_phases : mapping, optional
        As in :func:`run`: adds ``precipitated_<phase>`` for each phase.
    closed : bool
        As in :func:`run`: ``False`` adds ``base_added``.

    Returns
    -------
    list of str
        ``ionic_strength`` [mol/kgw], ``water_activity``, ``pH``,
        ``temperature_c`` [°C], ``mass_water`` [kg], ``charge_imbalance``
        [eq], ``tot_<component>`` [mol/kgw] for each component but H,
        ``m_<species>`` [mol/kgw] and ``log_gamma_<species>`` for every
        species of the set, ``si_<phase>`` for every solid, then the
        equilibrium-phase columns.  Species and phases carry the library's
        names (``m_CaC2O4``, ``si_COM``), not PHREEQC's.

    Examples
    --------
    >>> from oxalate.phreeqc import output_columns
    >>> cols = output_columns()
    >>> cols[:4]
    ['ionic_strength', 'water_activity', 'pH', 'temperature_c']
    >>> "m_CaC2O4" in cols and "log_gamma_Ca+2" in cols and "si_COM" in cols
    True
    """
    cs = resolve_constants(constants)
    phases = _phases(cs, equilibrium_phases)
    keys = [
        "ionic_strength",
        "water_activity",
        "pH",
        "temperature_c",
        "mass_water",
        "charge_imbalance",
    ]
    keys += [f"tot_{c}" for c in chemical_system().components if c != "H"]
    keys += [f"m_{s}" for s in cs.species]
    keys += [f"log_gamma_{s}" for s in cs.species]
    keys += [f"si_{p}" for p in cs.solids]
    keys += [f"precipitated_{p}" for p in phases]
    if phases and not closed:
        keys.append("base_added")
    return keys


def _punch_items(cs: ConstantSet, phases: Mapping[str, float], closed: bool) -> list[str]:
    items = ["MU", 'ACT("H2O")', '-LA("H+")', "TC", 'TOT("water")', "CHARGE_BALANCE"]
    items += [f'TOT("{_elements()[c]}")' for c in chemical_system().components if c != "H"]
    items += [f'MOL("{s}")' for s in cs.phreeqc_names]
    items += [f'LG("{s}")' for s in cs.phreeqc_names]
    items += [f'SI("{solid.mineral}")' for solid in cs.solids.values()]
    items += [f'EQUI("{cs.solids[p].mineral}")' for p in phases]
    if phases and not closed:
        items.append(f'-EQUI_DELTA("{_FIX_PH_PHASE}")')
    return items


def _selected_output(cs: ConstantSet, phases: Mapping[str, float], closed: bool) -> list[str]:
    """SELECTED_OUTPUT and a USER_PUNCH with numbered, short Basic lines."""
    items = _punch_items(cs, phases, closed)
    keys = output_columns(cs, equilibrium_phases=phases or None, closed=closed)
    lines = ["SELECTED_OUTPUT 1", "    -reset false", "USER_PUNCH 1"]
    lines += [
        "    -headings " + " ".join(keys[j : j + _PER_LINE])
        for j in range(0, len(keys), _PER_LINE)
    ]
    lines += [
        f"{10 * (k + 1)} PUNCH " + ", ".join(items[j : j + _PER_LINE])
        for k, j in enumerate(range(0, len(items), _PER_LINE))
    ]
    return lines


def _as_batch(
    totals: Mapping[str, Any], pH: Any, temperature_c: Any
) -> tuple[dict[str, FloatArray], FloatArray, FloatArray, tuple[int, ...]]:
    """Validate and broadcast the inputs; flatten them to 1-D rows."""
    if not isinstance(totals, Mapping):
        raise TypeError(
            f"totals={totals!r} must be a mapping of component to molality [mol/kgw], "
            f"e.g. {{'Ca': 0.004, 'Ox': 3e-4}}"
        )
    accepted = [c for c in chemical_system().components if c != "H"]
    for key in totals:
        if key == "H":
            raise ValueError("totals['H']: H+ is set by pH=, not given as a total")
        if key not in accepted:
            raise ValueError(f"totals[{key!r}] is not a component; accepted: {accepted}")
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in totals.items()}
    ph = np.asarray(pH, dtype=np.float64)
    tc = np.asarray(temperature_c, dtype=np.float64)
    try:
        shape = np.broadcast_shapes(ph.shape, tc.shape, *(a.shape for a in arrays.values()))
    except ValueError:
        shapes = {k: a.shape for k, a in arrays.items()}
        raise ValueError(
            f"totals {shapes}, pH {ph.shape} and temperature_c {tc.shape} do not broadcast"
        ) from None
    for key, a in arrays.items():
        bad = ~np.isfinite(a) | (a < 0)
        if bad.any():
            where = np.argwhere(bad)[:5].tolist()
            raise ValueError(
                f"totals[{key!r}] has {int(bad.sum())} negative, NaN or infinite value(s) "
                f"(at index {where}); PHREEQC would silently read a negative total as 0"
            )
    bad_ph = ~np.isfinite(ph) | (ph < 0) | (ph > 14)
    if bad_ph.any():
        raise ValueError(
            f"pH must be finite and within 0-14 (at index {np.argwhere(bad_ph)[:5].tolist()})"
        )
    bad_t = ~np.isfinite(tc) | (tc < 0) | (tc > 100)
    if bad_t.any():
        raise ValueError(
            f"temperature_c must be within 0-100 °C (at index {np.argwhere(bad_t)[:5].tolist()})"
        )
    flat = {k: np.broadcast_to(a, shape).ravel() for k, a in arrays.items()}
    return (
        flat,
        np.broadcast_to(ph, shape).ravel(),
        np.broadcast_to(tc, shape).ravel(),
        shape,
    )


def _charge_element(charge_balance: str | None) -> str | None:
    if charge_balance is None:
        return None
    if charge_balance == "pH":
        return "pH"
    if charge_balance in _elements() and charge_balance != "H":
        return charge_balance
    accepted = ["pH", *(c for c in chemical_system().components if c != "H")]
    raise ValueError(f"charge_balance={charge_balance!r} is not known; accepted: {accepted}")


def solutions_input(
    totals: Mapping[str, Any],
    *,
    pH: Any,
    temperature_c: Any = 25.0,
    charge_balance: str | None = None,
    constants: Any = "default",
    equilibrium_phases: Mapping[str, float] | None = None,
    closed: bool = True,
    convergence_tolerance: float | None = 1e-15,
    punch: bool = True,
) -> str:
    """PHREEQC input for a batch of solutions, one SOLUTION block per row.

    Parameters
    ----------
    totals : mapping of str to float or array
        Total molality of each component (keys of
        :data:`oxalate.database.COMPONENTS` but ``"H"``: ``"Ca"``, ``"Ox"``,
        ``"PO4"``, ...). [mol/kgw]  Zero totals are left out of that row's
        block; negative or NaN totals raise :class:`ValueError`.
    pH : float or array
        pH, fixed (a(H+) = 10^-pH), or the first guess when
        ``charge_balance="pH"``. [-]
    temperature_c : float or array
        Temperature, 0-100 °C. [°C]
    charge_balance : str, optional
        ``None`` (pH fixed, charge not balanced), ``"pH"`` (pH adjusted to
        electroneutrality: ``pH 7 charge``) or a component such as ``"Cl"``
        or ``"Na"`` whose total is adjusted.
    constants : str, ConstantSet or mapping
        The set whose species and phases are punched.
    equilibrium_phases : mapping of str to float, optional
        Phases to equilibrate each solution with, and their target SI, e.g.
        ``{"COM": 0.0}``: PHREEQC's ``Whewellite 0 0`` (none present at
        the start, so it can only precipitate).
    closed : bool
        With ``equilibrium_phases``: ``True`` (default) keeps the system
        closed (H and charge conserved, pH drifts, PHREEQC's default);
        ``False`` holds pH with a ``Fix_H+`` pseudo-phase that adds or
        removes NaOH.
    convergence_tolerance : float or None
        PHREEQC's ``KNOBS -convergence_tolerance``; the default 1e-15 is for
        reference runs (PHREEQC's own 1e-8 leaves mass-balance residuals
        near 1e-8).  ``None`` leaves PHREEQC's default.
    punch : bool
        Write the SELECTED_OUTPUT / USER_PUNCH whose columns are
        :func:`output_columns`.

    Returns
    -------
    str
        PHREEQC input: the solutions are numbered 1..N in C order of the
        broadcast shape.

    Examples
    --------
    >>> from oxalate.phreeqc import solutions_input
    >>> text = solutions_input({"Ca": [0.004, 0.002], "Ox": 3e-4}, pH=6.5, temperature_c=37)
    >>> print(text[text.index("SOLUTION 2") :])
    SOLUTION 2
        units mol/kgw
        temp 37.0
        pH 6.5
        Ca 0.002
        Ox 0.0003
    END
    <BLANKLINE>
    """
    cs = resolve_constants(constants)
    phases = _phases(cs, equilibrium_phases)
    element = _charge_element(charge_balance)
    if element == "pH" and not closed and phases:
        raise ValueError(
            "charge_balance='pH' and closed=False cannot be combined: the held pH is the given one"
        )
    flat, ph, tc, _ = _as_batch(totals, pH, temperature_c)
    n = ph.size
    # one text column per component; the rows are joined once below
    columns: list[list[str]] = []
    for key, values in flat.items():
        name = _elements()[key]
        suffix = " charge" if element == key else ""
        text = [f"    {name} {_number(v)}{suffix}" if v > 0 else "" for v in values]
        if element == key:
            text = [t if t else f"    {name} 1e-3 charge" for t in text]
        columns.append(text)
    if element not in (None, "pH") and element not in flat:
        columns.append([f"    {_elements()[str(element)]} 1e-3 charge"] * n)
    ph_suffix = " charge" if element == "pH" else ""
    blocks = [
        "\n".join(
            [
                f"SOLUTION {i + 1}",
                "    units mol/kgw",
                f"    temp {_number(tc[i])}",
                f"    pH {_number(ph[i])}{ph_suffix}",
                *(c[i] for c in columns if c[i]),
            ]
        )
        for i in range(n)
    ]
    knobs = (
        ["KNOBS", f"    -convergence_tolerance {convergence_tolerance!r}"]
        if convergence_tolerance is not None
        else []
    )
    out = "\n".join(blocks)
    if not phases:
        head = [*_selected_output(cs, phases, closed)] if punch else []
        return "\n".join([*head, *knobs, out, "END", ""])
    # Simulation 1 defines the solutions (nothing punched); simulation 2
    # reacts each with its own EQUILIBRIUM_PHASES block through RUN_CELLS.
    lines = [*knobs, out, "END"]
    if punch:
        lines += _selected_output(cs, phases, closed)
    if not closed:
        lines += ["PHASES", _FIX_PH_PHASE, "    H+ = H+", "    -log_k 0"]
    targets = [f"    {cs.solids[p].mineral} {_number(si)} 0" for p, si in phases.items()]
    for i in range(n):
        lines += [f"EQUILIBRIUM_PHASES {i + 1}", *targets]
        if not closed:
            lines.append(f"    {_FIX_PH_PHASE} {_number(-ph[i])} NaOH 10")
    lines += ["RUN_CELLS", f"    -cells 1-{n}", "END", ""]
    return "\n".join(lines)


def run_input(input_text: str, *, constants: Any = "default") -> dict[str, list[Any]]:
    """Run PHREEQC input on the database of a constant set; return its selected output.

    Parameters
    ----------
    input_text : str
        PHREEQC input, e.g. from :func:`solutions_input`.
    constants : str, ConstantSet or mapping
        The set :func:`database_text` writes the database from.

    Returns
    -------
    dict of str to list
        PHREEQC's selected-output columns, keyed by heading.

    Raises
    ------
    ImportError
        Without the optional ``phreeqc`` package.
    RuntimeError
        When the database does not load or the run fails, with PHREEQC's
        error text.

    Examples
    --------
    >>> import pytest
    >>> _ = pytest.importorskip("phreeqc")
    >>> from oxalate.phreeqc import run_input
    >>> text = "\\n".join([
    ...     "SELECTED_OUTPUT 1", "-reset false",
    ...     "USER_PUNCH 1", "-headings logK_COM_37C", '10 PUNCH LK_PHASE("Whewellite")',
    ...     "SOLUTION 1", "temp 37", "END",
    ... ])
    >>> round(run_input(text)["logK_COM_37C"][0], 5)
    -8.49254
    """
    phreeqc_class = _import_phreeqc()
    engine = phreeqc_class()
    if engine.LoadDatabaseString(database_text(constants)):
        raise RuntimeError(f"PHREEQC did not load the database:\n{engine.GetErrorString()}")
    if engine.RunString(input_text):
        raise RuntimeError(
            "PHREEQC failed; it stops at the first failing solution "
            f"(SOLUTION k is row k-1 of the flattened batch):\n{engine.GetErrorString()}"
        )
    out: dict[str, list[Any]] = engine.GetSelectedOutput()
    return out


def run(
    totals: Mapping[str, Any],
    *,
    pH: Any,
    temperature_c: Any = 25.0,
    constants: Any = "default",
    charge_balance: str | None = None,
    equilibrium_phases: Mapping[str, float] | None = None,
    closed: bool = True,
    convergence_tolerance: float | None = 1e-15,
) -> dict[str, Any]:
    """Speciate a batch of solutions with USGS PHREEQC, in one run.

    All rows go to PHREEQC as one input string with N SOLUTION blocks
    (about 10,000 solutions/s), on the database :func:`database_text` writes
    from ``constants``.

    Parameters
    ----------
    totals : mapping of str to float or array
        Total molality of each component (``"Ca"``, ``"Mg"``, ``"Na"``,
        ``"K"``, ``"Cl"``, ``"Ox"``, ``"Cit"``, ``"PO4"``, ``"SO4"``,
        ``"CO3"``). [mol/kgw]
    pH : float or array
        Fixed pH, or the first guess with ``charge_balance="pH"``. [-]
    temperature_c : float or array
        Temperature, per row if an array. [°C]
    constants : str, ConstantSet or mapping
        As in :func:`database_text`.
    charge_balance : str, optional
        ``"pH"`` or a component (``"Cl"``) adjusted to electroneutrality;
        see :func:`solutions_input`.
    equilibrium_phases : mapping of str to float, optional
        Phases to equilibrate with and their target SI, e.g.
        ``{"COM": 0.0}``; each solution then reacts, and the columns
        describe the solution after reaction.
    closed : bool
        With ``equilibrium_phases``: ``True`` conserves H and charge (pH
        drifts); ``False`` holds pH by adding NaOH (``base_added``).
    convergence_tolerance : float or None
        PHREEQC's ``-convergence_tolerance``; 1e-15 by default.

    Returns
    -------
    dict of str to numpy.ndarray
        The keys of :func:`output_columns`, each an array of the broadcast
        shape of the inputs (a scalar for scalar inputs):

        - ``ionic_strength`` [mol/kgw] (PHREEQC ``MU``), ``water_activity``
          (``ACT("H2O")``), ``pH``, ``temperature_c`` [°C],
          ``mass_water`` [kg] (``TOT("water")``; 1 kg before reaction),
          ``charge_imbalance`` [eq] (``CHARGE_BALANCE``);
        - ``tot_<component>`` [mol/kgw] (``TOT`` of its element);
        - ``m_<species>`` [mol/kgw] and ``log_gamma_<species>`` (``MOL``,
          ``LG``), with the library's species names; log γ is NaN for a
          species absent from that solution (one of its elements is zero);
        - ``si_<phase>`` (``SI``), with the library's phase names; -inf
          where an element of the phase is absent;
        - with ``equilibrium_phases``: ``precipitated_<phase>`` [mol], the
          moles of solid formed from the solution's initial 1 kg of water
          (``EQUI``), and with ``closed=False`` ``base_added`` [mol], the
          NaOH added to hold pH (negative: NaOH taken out).  Molalities then
          refer to the water left, ``mass_water``, which is smaller by the
          hydrate water the solid took (one H2O per COM).

    Raises
    ------
    ValueError
        For negative, NaN or infinite totals (before PHREEQC runs: it would
        read a negative total as 0), unknown components or phases.
    RuntimeError
        When PHREEQC fails; it stops at the first failing solution.
    ImportError
        Without the optional ``phreeqc`` package.

    Notes
    -----
    PHREEQC applies no validity limit; above I ≈ 0.5 mol/kg its Davies
    results are not physical.

    Examples
    --------
    >>> import pytest
    >>> _ = pytest.importorskip("phreeqc")
    >>> from oxalate.phreeqc import run
    >>> out = run({"Ca": 0.004, "Ox": 3e-4, "Na": 0.15, "Cl": 0.158}, pH=6.5, temperature_c=37)
    >>> round(float(out["si_COM"]), 3)
    1.269
    """
    cs = resolve_constants(constants)
    phases = _phases(cs, equilibrium_phases)
    keys = output_columns(cs, equilibrium_phases=phases or None, closed=closed)
    text = solutions_input(
        totals,
        pH=pH,
        temperature_c=temperature_c,
        charge_balance=charge_balance,
        constants=cs,
        equilibrium_phases=phases or None,
        closed=closed,
        convergence_tolerance=convergence_tolerance,
    )
    _, _, _, shape = _as_batch(totals, pH, temperature_c)
    n = math.prod(shape)
    if n == 0:
        return {k: np.empty(shape) for k in keys}
    raw = run_input(text, constants=cs)
    missing = [k for k in keys if k not in raw]
    if missing or any(len(raw[k]) != n for k in keys):
        raise RuntimeError(
            f"PHREEQC punched {len(next(iter(raw.values()), []))} rows and columns "
            f"{list(raw)[:5]}...; expected {n} rows (missing columns: {missing[:5]})"
        )
    out = {key: np.asarray(raw[key], dtype=np.float64) for key in keys}
    # Species and phases with an element absent from a row: PHREEQC punches
    # MOL = 1e-99, LG = 0 and SI = -99.99 for them; report 0, NaN and -inf.
    solutes = chemical_system().solutes
    present = np.stack([out[f"tot_{c}"] > 0 for c in solutes], axis=-1)
    needs = cs.stoichiometry[:, : len(solutes)] != 0
    absent = ~np.all(present[:, np.newaxis, :] | ~needs[np.newaxis], axis=-1)
    for j, species in enumerate(cs.species):
        out[f"m_{species}"] = np.where(absent[:, j], 0.0, out[f"m_{species}"])
        out[f"log_gamma_{species}"] = np.where(absent[:, j], np.nan, out[f"log_gamma_{species}"])
    for phase, solid in cs.solids.items():
        phase_needs = np.asarray(solid.stoichiometry)[: len(solutes)] != 0
        gone = ~np.all(present | ~phase_needs, axis=-1)
        out[f"si_{phase}"] = np.where(gone, -np.inf, out[f"si_{phase}"])
    return {k: v.reshape(shape)[()] for k, v in out.items()}
