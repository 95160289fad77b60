"""Body-fluid presets and clinical units: plasma, interstitial fluid, 24-hour urine.

Six presets return an :class:`oxalate.Solution` at 37 °C, ready for
:func:`oxalate.speciate`: :func:`plasma`, :func:`plasma_ultrafiltrate`,
:func:`interstitial_fluid`, :func:`urine_24h_normal`, :func:`urine_stone_former`
and :func:`artificial_urine_griffith`.  Every value is a row of the package table
``oxalate/data/presets.csv`` (:func:`preset_table`) with a source key that
resolves in the package bibliography and a status that says how sure it is.
Any value can be overridden by keyword, e.g. ``plasma(oxalate="50 umol/L")``.

:func:`urine_24h` turns the daily excretions of a 24-hour urine (mg/d, mmol/d,
mEq/d, "mg/24 h") and its volume into a :class:`~oxalate.Solution`;
:func:`molar_concentration` converts one clinical value; :func:`from_dataframe`
builds a batch of patients from a table with one column per analyte.

Notes
-----
**Status of a value** (column ``status`` of the table):

``reference interval``
    A typical adult reference interval as textbooks quote it (``tietz2012``).
    Not checked against the printed table of the cited edition; laboratories
    publish their own intervals.
``textbook value``
    A typical value as physiology textbooks quote it (``hall2016``), not checked
    against the cited edition.
``published`` / ``inside published interval``
    Checked in the cited source, or a typical value inside an interval that was.
``derived``, ``assumed``
    Computed from other values, or taken equal to another fluid's value; the
    row's note says how.
``illustrative``
    Constructed for the examples and tests; not a measured patient.
``recipe (unverified)``
    Griffith's artificial urine as commonly reproduced, not checked against
    the 1976 paper.
``convention``
    37 °C body temperature.

**Role of a value** (column ``role``): ``input`` values make the
:class:`~oxalate.Solution`; ``not modelled`` values belong to the fluid but are
not components of the speciation engine (albumin, urate, ammonium, urea,
creatinine) and are reported only; ``reference`` values are for comparison with
results (ionized calcium, published plasma oxalate levels).

**Charge balance.**  Measured electrolytes are never exactly neutral, and each
fluid holds charged solutes the engine does not have (albumin and organic
anions in plasma, ammonium and urate in urine).  Every preset therefore fixes
the pH at its measured value, keeps the measured chloride and *leaves the
charge imbalance*; each preset's docstring states its size and cause.  To make
a solution neutral, speciate it with ``charge_balance="chloride"`` (the
chloride total is adjusted, as PHREEQC's ``charge`` keyword does) or pass
``pH=None`` (the pH is solved; not advisable where unmodelled ions are large).

**Concentration basis.**  Clinical values are per litre of plasma or urine.  A
:class:`~oxalate.Solution` converts them to molality with the solution density
(default 1.0 kg/L) and the molar masses of the listed solutes, as PHREEQC does;
the plasma-water correction (plasma is about 93 % water) and the volume of
urea and proteins are not applied.

References
----------
.. [1] Burtis CA, Ashwood ER, Bruns DE (eds). Tietz Textbook of Clinical
   Chemistry and Molecular Diagnostics, 5th ed. Elsevier Saunders, 2012.
.. [2] Hall JE. Guyton and Hall Textbook of Medical Physiology, 13th ed.
   Elsevier, 2016.
.. [3] Worcester EM, Nakagawa Y, Bushinsky DA, Coe FL (1986). Evidence that
   serum calcium oxalate supersaturation is a consequence of oxalate retention
   in patients with chronic renal failure. J Clin Invest 77:1888-1896.
   doi:10.1172/JCI112516
.. [4] Griffith DP, Musher DM, Itin C (1976). Urease. The primary cause of
   infection-induced urinary stones. Invest Urol 13:346-350.
.. [5] Wieser ME (2006). Atomic weights of the elements 2005 (IUPAC Technical
   Report). Pure Appl Chem 78:2051-2066. doi:10.1351/pac200678112051
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from ._clinical import clinical_magnitude, volume_per_day
from ._common import package_data, read_csv, scalar_or_array
from ._quantities import OnInvalid
from .solution import ANALYTES, Solution
from .units import Quantity

__all__ = [
    "ATOMIC_WEIGHTS",
    "PRESETS",
    "SALTS",
    "PresetValue",
    "artificial_urine_griffith",
    "formula_mass",
    "from_dataframe",
    "from_salts",
    "interstitial_fluid",
    "molar_concentration",
    "plasma",
    "plasma_ultrafiltrate",
    "preset_table",
    "urine_24h",
    "urine_24h_normal",
    "urine_stone_former",
    "with_ionized_calcium",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]

#: Names of the presets, each a function of this module.
PRESETS: tuple[str, ...] = (
    "plasma",
    "plasma_ultrafiltrate",
    "interstitial_fluid",
    "urine_24h_normal",
    "urine_stone_former",
    "artificial_urine_griffith",
)

#: Standard atomic weights [g/mol] of the elements of the recipe salts: IUPAC 2005
#: (wieser2006), the same table as the molar masses of ``ions.csv``.
ATOMIC_WEIGHTS: Mapping[str, float] = MappingProxyType(
    {
        "H": 1.00794,
        "C": 12.0107,
        "N": 14.0067,
        "O": 15.9994,
        "Na": 22.98976928,
        "Mg": 24.3050,
        "P": 30.973762,
        "S": 32.065,
        "Cl": 35.453,
        "K": 39.0983,
        "Ca": 40.078,
    }
)

# The ions each recipe salt releases per formula unit.  Phosphate and citrate
# are counted as totals (their protonation follows the pH); ammonium is not a
# component of the speciation engine and is reported as not modelled.
_SALT_IONS: Mapping[str, Mapping[str, int]] = MappingProxyType(
    {
        "CaCl2.2H2O": {"calcium": 1, "chloride": 2},
        "MgCl2.6H2O": {"magnesium": 1, "chloride": 2},
        "NaCl": {"sodium": 1, "chloride": 1},
        "Na2SO4": {"sodium": 2, "sulfate": 1},
        "Na3C6H5O7.2H2O": {"sodium": 3, "citrate": 1},
        "Na2C2O4": {"sodium": 2, "oxalate": 1},
        "KH2PO4": {"potassium": 1, "phosphate": 1},
        "KCl": {"potassium": 1, "chloride": 1},
        "NH4Cl": {"ammonium": 1, "chloride": 1},
    }
)

# Analytes of a 24-hour urine that the engine does not model, with what to do instead.

_SOLUTION_OPTIONS = ("pH", "temperature", "density", "on_invalid")


@dataclass(frozen=True)
class PresetValue:
    """One row of the presets table.

    Attributes
    ----------
    preset : str
        Name of the preset function.
    field : str
        Analyte keyword (``"calcium"``), ``"pH"``, ``"temperature"``,
        ``"volume"``, a salt formula (Griffith's recipe) or the name of a
        solute that is not modelled or of a reference value.
    value : str
        The value as written in the table.
    unit : str
        Its unit (empty for pH).
    basis : str
        What the value is a total of, e.g. ``"total P"`` or ``"ultrafiltrable"``.
    role : {"input", "not modelled", "reference"}
    status : str
        How sure the value is (see the module notes).
    source : str
        Bibliography keys, separated by ``;``.
    note : str
        Range, derivation or caveat.
    """

    preset: str
    field: str
    value: str
    unit: str
    basis: str
    role: str
    status: str
    source: str
    note: str


@cache
def _rows() -> tuple[PresetValue, ...]:
    return tuple(PresetValue(**row) for row in read_csv(package_data("presets.csv")))


def preset_table(name: str) -> tuple[PresetValue, ...]:
    """The rows of one preset: values, units, roles, sources and notes.

    Parameters
    ----------
    name : str
        One of :data:`PRESETS`.

    Returns
    -------
    tuple of PresetValue

    Examples
    --------
    >>> from oxalate.fluids import preset_table
    >>> row = [r for r in preset_table("plasma") if r.field == "oxalate"][0]
    >>> row.value, row.unit, row.source
    ('1.5', 'umol/L', 'umich_poxa')
    """
    if name not in PRESETS:
        raise ValueError(f"preset {name!r} is not known; accepted: {', '.join(PRESETS)}")
    return tuple(row for row in _rows() if row.preset == name)


def formula_mass(formula: str) -> float:
    """Molar mass of a chemical formula from IUPAC 2005 atomic weights. [g/mol]

    Parameters
    ----------
    formula : str
        Element symbols with counts; hydrate water after a dot, e.g.
        ``"CaCl2.2H2O"`` or ``"CaCl2·2H2O"``.  Only the elements of
        :data:`ATOMIC_WEIGHTS`; no parentheses.

    Returns
    -------
    float
        [g/mol]

    Examples
    --------
    >>> from oxalate.fluids import formula_mass
    >>> round(formula_mass("CaCl2.2H2O"), 3)
    147.015
    """
    if not isinstance(formula, str) or not formula.strip():
        raise TypeError(f"formula={formula!r} must be a chemical formula such as 'CaCl2.2H2O'")
    total = 0.0
    for part in re.split(r"[.·*]", formula.strip()):
        match = re.fullmatch(r"(\d*)((?:[A-Z][a-z]?\d*)+)", part.strip())
        if match is None:
            raise ValueError(
                f"formula={formula!r}: {part!r} is not a list of element symbols with counts"
            )
        multiple = int(match.group(1) or 1)
        for symbol, count in re.findall(r"([A-Z][a-z]?)(\d*)", match.group(2)):
            if symbol not in ATOMIC_WEIGHTS:
                raise ValueError(
                    f"formula={formula!r}: element {symbol!r} has no atomic weight here; "
                    f"known: {', '.join(ATOMIC_WEIGHTS)}"
                )
            total += multiple * int(count or 1) * ATOMIC_WEIGHTS[symbol]
    return total


#: The salts :func:`from_salts` knows, anhydrous formula -> ions released per formula
#: unit.  Hydrates are accepted by their full formula (``"CaCl2.2H2O"``): the water
#: counts in the molar mass of a mass input only.  Phosphates and carbonates are
#: counted as totals: their protonation follows the pH.
SALTS: Mapping[str, Mapping[str, int]] = MappingProxyType(
    {
        "CaCl2": {"calcium": 1, "chloride": 2},
        "MgCl2": {"magnesium": 1, "chloride": 2},
        "NaCl": {"sodium": 1, "chloride": 1},
        "KCl": {"potassium": 1, "chloride": 1},
        "Na2C2O4": {"sodium": 2, "oxalate": 1},
        "K2C2O4": {"potassium": 2, "oxalate": 1},
        "H2C2O4": {"oxalate": 1},
        "Na3C6H5O7": {"sodium": 3, "citrate": 1},
        "K3C6H5O7": {"potassium": 3, "citrate": 1},
        "Na2SO4": {"sodium": 2, "sulfate": 1},
        "K2SO4": {"potassium": 2, "sulfate": 1},
        "MgSO4": {"magnesium": 1, "sulfate": 1},
        "NaH2PO4": {"sodium": 1, "phosphate": 1},
        "Na2HPO4": {"sodium": 2, "phosphate": 1},
        "KH2PO4": {"potassium": 1, "phosphate": 1},
        "K2HPO4": {"potassium": 2, "phosphate": 1},
        "NaHCO3": {"sodium": 1, "carbonate": 1},
        "Na2CO3": {"sodium": 2, "carbonate": 1},
        "NaOH": {"sodium": 1},
        "HCl": {"chloride": 1},
    }
)


def from_salts(
    salts: Any,
    *,
    pH: Any = None,
    temperature: Any = "25 degC",
    density: Any = None,
    on_invalid: OnInvalid = "raise",
) -> Solution:
    """A solution made up from salts, as a chemist weighs them: ``"5 mmol/L CaCl2"``.

    Each salt releases its ions (:data:`SALTS`); each ion's total is the sum
    over the salts.  An amount (``"5 mmol/L"``, ``"2 mmol/kg"``) is moles of
    the salt; a mass (``"0.735 g/L CaCl2.2H2O"``) is divided by the formula's
    molar mass (:func:`formula_mass`, hydrate water included).

    Parameters
    ----------
    salts : str, sequence of str, or mapping of formula to amount
        ``"5 mmol/L CaCl2, 1 mmol/L Na2C2O4"``, ``["5 mmol/L CaCl2",
        "150 mmol/L NaCl"]`` or ``{"CaCl2": "5 mmol/L", "Na2C2O4":
        oxalate.Quantity([0.5, 1.0], "mmol/L")}`` (arrays give a batch).  All
        in molar or all in molal units.
    pH : float or array, optional
        The pH; default: from the charge balance (a salt solution is neutral).
    temperature, density, on_invalid
        As for :class:`~oxalate.Solution`.

    Returns
    -------
    Solution

    Raises
    ------
    ValueError
        For a salt not in :data:`SALTS` (the message lists them), a value that
        is not an amount or a mass concentration, or molar and molal units mixed.

    Examples
    --------
    >>> import oxalate
    >>> from oxalate.fluids import from_salts
    >>> s = from_salts("5 mmol/L CaCl2, 0.5 mmol/L Na2C2O4, 150 mmol/L NaCl", pH=6.5)
    >>> round(float(s.totals["Cl"]) / float(s.totals["Ca"]), 6)   # 2 x 5 + 150 over 5
    32.0
    >>> round(float(oxalate.speciate(s).supersaturation["COM"]), 1) > 1
    True
    """
    from ._quantities import dimensionality as _dim

    if isinstance(salts, str):
        items = [part.strip() for part in salts.split(",") if part.strip()]
        pairs = []
        for item in items:
            value, _, formula = item.rpartition(" ")
            if not value:
                raise ValueError(
                    f"salts: {item!r} is not '<amount> <formula>', e.g. '5 mmol/L CaCl2'"
                )
            pairs.append((formula, value))
    elif isinstance(salts, Mapping):
        pairs = list(salts.items())
    else:
        pairs = []
        for item in salts:
            value, _, formula = str(item).strip().rpartition(" ")
            pairs.append((formula, value))
    if not pairs:
        raise ValueError("salts: give at least one salt, e.g. '5 mmol/L CaCl2'")
    totals: dict[str, Any] = {}
    kind = None
    for formula, value in pairs:
        base = re.split(r"[.·*]", str(formula).strip())[0]
        if base not in SALTS:
            raise ValueError(
                f"salts: {formula!r} is not a known salt; accepted: {', '.join(SALTS)} "
                f"(hydrates by their full formula, e.g. 'CaCl2.2H2O')"
            )
        q: Any = value if hasattr(value, "units") else Quantity(value)
        if q.dimensionality == _dim("g/L"):
            q = (q / Quantity(formula_mass(str(formula)), "g/mol")).to("mol/L")
        elif q.dimensionality == _dim("g/kg") and str(q.units) != "dimensionless":
            q = (q / Quantity(formula_mass(str(formula)), "g/mol")).to("mol/kg")
        if q.dimensionality == _dim("mol/L"):
            this, unit = "molar", "mol/L"
        elif q.dimensionality == _dim("mol/kg"):
            this, unit = "molal", "mol/kg"
        else:
            raise ValueError(
                f"salts: {value!s} {formula} is not an amount (mmol/L, mmol/kg) or a mass (g/L)"
            )
        if kind is not None and this != kind:
            raise ValueError("salts: give every salt in molar units or every one in molal units")
        kind = this
        moles = q.m_as(unit)
        for ion, count in SALTS[base].items():
            totals[ion] = totals.get(ion, 0.0) + count * np.asarray(moles, dtype=np.float64)
    unit = "mol/L" if kind == "molar" else "mol/kg"
    given = {ion: Quantity(v, unit) for ion, v in totals.items()}
    return Solution(
        **given, pH=pH, temperature=temperature, density=density, on_invalid=on_invalid
    )


# --- clinical units ---------------------------------------------------------------------


def molar_concentration(
    value: Any,
    *,
    analyte: str,
    volume: Any = None,
    on_invalid: OnInvalid = "raise",
) -> Any:
    """Convert one clinical value to a molar concentration (mmol/L).

    A concentration (mg/dL, mg/L, µmol/L, mEq/L, mmol/L) is converted with
    the analyte's molar mass or charge; a daily amount (mg/d, mmol/d, mEq/d,
    "mg/24 h") is divided by the 24 h urine volume:

    .. math:: c = \\frac{m / M}{V}

    Parameters
    ----------
    value : pint.Quantity, str or Expressed
        E.g. ``"10 mg/dL"``, ``"40 mg/d"``, ``"150 mEq/d"``, ``"1000 mg/d as P"``.
        Phosphate and sulfate masses need their basis (``"as P"``, ``"as PO4"``,
        ``"as S"``, ``"as SO4"``). [concentration or amount/time]
    analyte : str
        The analyte keyword: ``"calcium"``, ``"oxalate"``, ``"phosphate"``, ...
    volume : pint.Quantity or str, optional
        24 h urine volume, needed for daily amounts: ``"1.6 L/d"``,
        ``"1600 mL/24 h"``; a plain ``"1.6 L"`` is taken as the volume of a
        24 h collection. [L/d]
    on_invalid : {"raise", "nan"}
        Negative, NaN or infinite values raise (default) or become NaN.

    Returns
    -------
    pint.Quantity
        In mmol/L; a molal input (mmol/kg) is returned unchanged in mmol/kg.

    Raises
    ------
    ValueError
        A daily amount without a volume, a mass of an analyte without a
        molar mass or basis, an unknown analyte or unit.
    TypeError
        A bare number (no units).

    Examples
    --------
    >>> from oxalate.fluids import molar_concentration
    >>> molar_concentration("10 mg/dL", analyte="calcium")
    <Quantity(2.49513449, 'millimole / liter')>
    >>> molar_concentration("40 mg/d", analyte="oxalate", volume="1.6 L/d")
    <Quantity(0.284029585, 'millimole / liter')>
    >>> molar_concentration("1000 mg/d as P", analyte="phosphate", volume="1.6 L/d")
    <Quantity(20.1783703, 'millimole / liter')>
    """
    v = None if volume is None else volume_per_day(volume, on_invalid)
    values, kind = clinical_magnitude(value, analyte, v, on_invalid)
    unit = "mmol/L" if kind == "molar" else "mmol/kg"
    return Quantity(scalar_or_array(values * 1e3), unit)


def urine_24h(
    *,
    calcium: Any,
    oxalate: Any,
    citrate: Any = None,
    magnesium: Any = None,
    sodium: Any = None,
    potassium: Any = None,
    chloride: Any = None,
    phosphate: Any = None,
    sulfate: Any = None,
    carbonate: Any = None,
    volume: Any = None,
    pH: Any,
    temperature: Any = "37 degC",
    density: Any = None,
    on_invalid: OnInvalid = "raise",
) -> Solution:
    """A 24-hour urine from daily excretions and volume, in clinical units.

    Each daily amount is divided by the volume, c = (m/M)/V; concentrations
    pass through unchanged.  Units may be mixed freely, and arrays give a
    batch (one row per patient).

    Parameters
    ----------
    calcium, oxalate : pint.Quantity, str or Expressed
        Daily excretion (``"250 mg/d"``, ``"5 mmol/d"``, ``"40 mg/24 h"``) or
        concentration (``"15 mg/dL"``, ``"3.1 mmol/L"``). [amount/d or
        concentration]
    citrate, magnesium, sodium, potassium, chloride, carbonate : optional
        Likewise; sodium, potassium, chloride and magnesium also in
        ``"mEq/d"`` or ``"mEq/L"``.  Missing analytes are zero.
    phosphate, sulfate : optional
        In mmol (``"30 mmol/d"``), or a mass with its basis: ``"1000 mg/d as P"``,
        ``"3000 mg/d as PO4"``, ``"640 mg/d as S"``.  A bare ``"mg/d"`` raises.
    volume : pint.Quantity or str
        24 h urine volume, ``"1.6 L/d"`` or ``"1600 mL/24 h"`` (a plain
        ``"1.6 L"`` is the volume of a 24 h collection).  Required when any
        value is a daily amount. [L/d]
    pH : float or array
        Urine pH; ``None`` solves it from electroneutrality (not advisable:
        ammonium and urate are not modelled).
    temperature : pint.Quantity or str
        Default ``"37 degC"``.
    density : pint.Quantity or str, optional
        Urine density for the molar-to-molal conversion, default 1.0 kg/L. [kg/L]
    on_invalid : {"raise", "nan"}
        Negative, NaN or infinite values raise (default) naming the analyte
        and row, or become NaN rows.

    Returns
    -------
    Solution

    Raises
    ------
    ValueError
        A daily amount without a volume, a phosphate or sulfate mass without
        its basis, a mass or mEq of an analyte without a molar mass or fixed
        charge, a non-positive volume.
    TypeError
        A value without units.

    Notes
    -----
    Ammonium and urate are not components of the speciation engine; use
    :func:`oxalate.equil2.equil2` where they matter (ammonium urate, uric
    acid).  Without them, and without the organic anions of urine, the
    solution is not exactly neutral at its measured pH (see the module notes
    on charge balance).

    Examples
    --------
    >>> from oxalate import speciate
    >>> from oxalate.fluids import urine_24h
    >>> urine = urine_24h(calcium="250 mg/d", oxalate="40 mg/d", citrate="600 mg/d",
    ...                   magnesium="100 mg/d", sodium="150 mEq/d", potassium="60 mEq/d",
    ...                   chloride="150 mEq/d", phosphate="1000 mg/d as P",
    ...                   sulfate="20 mmol/d", volume="1.6 L/d", pH=6.0)
    >>> round(float(urine.totals["Ox"]) * 1e3, 3)   # mmol/kg of water (0.284 mmol/L)
    0.287
    >>> round(float(speciate(urine).supersaturation["COM"]), 1)
    8.6
    """
    given = {
        "calcium": calcium,
        "oxalate": oxalate,
        "citrate": citrate,
        "magnesium": magnesium,
        "sodium": sodium,
        "potassium": potassium,
        "chloride": chloride,
        "phosphate": phosphate,
        "sulfate": sulfate,
        "carbonate": carbonate,
    }
    for required in ("calcium", "oxalate"):
        if given[required] is None:
            raise ValueError(
                f"urine_24h: {required} is required (a daily amount such as '5 mmol/d' "
                f"or a concentration)"
            )
    v = None if volume is None else volume_per_day(volume, on_invalid)
    values: dict[str, Any] = {}
    for name, value in given.items():
        if value is None:
            continue
        magnitude, kind = clinical_magnitude(value, name, v, on_invalid)
        values[name] = Quantity(magnitude, "mol/L" if kind == "molar" else "mol/kg")
    return Solution(
        **values, pH=pH, temperature=temperature, density=density, on_invalid=on_invalid
    )


def from_dataframe(
    frame: Any,
    *,
    units: Mapping[str, str],
    columns: Mapping[str, str] | None = None,
    volume: Any = None,
    pH: Any = None,
    temperature: Any = "37 degC",
    density: Any = None,
    on_invalid: OnInvalid = "raise",
) -> Solution:
    """A batch of urines (or other fluids) from a table, one column per analyte.

    Parameters
    ----------
    frame : pandas.DataFrame or mapping of str to array
        One row per sample.  Columns: analyte keywords (``"calcium"``,
        ``"oxalate"``, ``"citrate"``, ``"magnesium"``, ``"sodium"``,
        ``"potassium"``, ``"chloride"``, ``"phosphate"``, ``"sulfate"``,
        ``"carbonate"``), ``"volume"``, ``"pH"`` and ``"temperature"``, or
        headers of the form ``"calcium [mg/d]"`` (see :mod:`oxalate.tables`,
        whose :func:`~oxalate.tables.read_solution` this calls).  Other
        columns without a unit (``"patient_id"``) are ignored; the index is
        kept as the rows' labels.
    units : mapping of str to str
        The unit of every column except pH (keyed by the column's name or
        its analyte keyword), e.g. ``{"calcium": "mg/d",
        "phosphate": "mg/d as P", "sodium": "mEq/d", "volume": "L/d"}``.
    columns : mapping of str to str, optional
        Renames columns to analyte keywords first, e.g. ``{"Ca24": "calcium"}``.
    volume, pH, temperature : optional
        Values for the whole batch when the table has no such column.
        ``pH`` is required one way or the other.
    density : pint.Quantity or str, optional
        [kg/L]
    on_invalid : {"raise", "nan"}
        See :func:`urine_24h`.

    Returns
    -------
    Solution
        Shape ``(len(frame),)``.

    Raises
    ------
    ValueError
        An unknown column or unit key (named), a column without a unit, a
        missing pH, and everything :func:`urine_24h` refuses.

    Examples
    --------
    >>> import pandas as pd
    >>> from oxalate import speciate
    >>> from oxalate.fluids import from_dataframe
    >>> table = pd.DataFrame({
    ...     "calcium": [180.0, 320.0], "oxalate": [25.0, 48.0], "citrate": [650.0, 300.0],
    ...     "magnesium": [100.0, 80.0], "sodium": [150.0, 200.0], "potassium": [60.0, 45.0],
    ...     "chloride": [150.0, 190.0], "phosphate": [900.0, 1100.0], "sulfate": [18.0, 25.0],
    ...     "volume": [2.4, 1.1], "pH": [6.2, 5.6]})
    >>> units = {"calcium": "mg/d", "oxalate": "mg/d", "citrate": "mg/d", "magnesium": "mg/d",
    ...          "sodium": "mEq/d", "potassium": "mEq/d", "chloride": "mEq/d",
    ...          "phosphate": "mg/d as P", "sulfate": "mmol/d", "volume": "L/d"}
    >>> batch = from_dataframe(table, units=units)
    >>> batch.shape
    (2,)
    >>> speciate(batch).supersaturation["COM"].round(1)
    array([ 2.5, 21.1])
    """
    from .tables import read_solution

    rename = dict(columns or {})
    has_ph = any(str(rename.get(str(c), c)).strip().casefold() == "ph" for c in frame.keys())
    if not has_ph and pH is None:
        raise ValueError("from_dataframe: give a 'pH' column or pH=")
    return read_solution(
        frame, columns=columns, units=units, missing="zero", on_invalid=on_invalid,
        volume=volume, pH=pH, temperature=temperature, density=density,
    )  # fmt: skip


# --- presets --------------------------------------------------------------------------


def _inputs(name: str) -> dict[str, Any]:
    """The input rows of a preset as Solution / urine_24h keyword values."""
    out: dict[str, Any] = {}
    for row in preset_table(name):
        if row.role != "input" or row.field in _SALT_IONS:
            continue
        out[row.field] = float(row.value) if row.field == "pH" else f"{row.value} {row.unit}"
    return out


def _merge(
    name: str, base: dict[str, Any], overrides: dict[str, Any], extra: tuple[str, ...]
) -> dict[str, Any]:
    accepted = (*ANALYTES, *extra, *_SOLUTION_OPTIONS)
    unknown = [k for k in overrides if k not in accepted]
    if unknown:
        raise TypeError(
            f"{name}() got unknown keyword(s) {', '.join(map(repr, unknown))}; "
            f"accepted: {', '.join(accepted)}"
        )
    merged = {**base, **overrides}
    return {k: v for k, v in merged.items() if v is not None or k == "pH"}


def _fluid(name: str, overrides: dict[str, Any]) -> Solution:
    ionized = overrides.pop("ionized_calcium", None)
    if ionized is None:
        return Solution(**_merge(name, _inputs(name), overrides, ()))
    if overrides.get("calcium") is not None:
        raise TypeError(
            f"{name}: give calcium= (the total) or ionized_calcium= (the free Ca2+), not both"
        )
    fluid = Solution(**_merge(name, _inputs(name), overrides, ()))
    return with_ionized_calcium(fluid, ionized, density=overrides.get("density"))


def with_ionized_calcium(
    solution: Solution,
    ionized_calcium: Any,
    *,
    density: Any = None,
    constants: Any = "default",
    activity_model: str = "davies",
    tolerance: float = 1e-12,
    max_iterations: int = 50,
) -> Solution:
    """The same solution with its total calcium set so that free Ca²⁺ equals ``ionized_calcium``.

    A blood-gas analyser reports *ionised* calcium: the free Ca²⁺, not the
    total.  Taken as the total, 1.0 mmol/L ionised gives a plasma COM
    threshold about 25 % too high, because part of a total is complexed (by
    bicarbonate, phosphate, citrate, sulfate).  This solves, row by row, for
    the total calcium whose speciation leaves exactly that free Ca²⁺, by the
    fixed point T ← T · c_ion / c_free(T) (free Ca²⁺ is nearly proportional to
    the total, so it converges in a few steps).

    Parameters
    ----------
    solution : Solution
        The fluid; its other totals, pH and temperature are kept.
    ionized_calcium : pint.Quantity or str
        Free Ca²⁺, e.g. ``"1.20 mmol/L"`` (a molar value is converted with the
        solution's composition and ``density``) or ``"1.2 mmol/kg"``.
    density : pint.Quantity or str, optional
        Density of the fluid for a molar input; default 1.0 kg/L, as the
        presets assume. [kg/L]
    constants, activity_model
        The speciation the free Ca²⁺ is computed with; use the same later.
    tolerance : float
        Relative agreement of free Ca²⁺ with the target. [-]
    max_iterations : int

    Returns
    -------
    Solution
        The rows' labels are kept.

    Raises
    ------
    ValueError
        If a row does not converge (the message names it).

    Examples
    --------
    >>> import oxalate
    >>> from oxalate.fluids import plasma_ultrafiltrate, with_ionized_calcium
    >>> uf = with_ionized_calcium(plasma_ultrafiltrate(), "1.20 mmol/L")
    >>> free = oxalate.speciate(uf).free("Ca+2")          # mol/kg
    >>> round(float(free) * 1e3 / (1 + 0.0098), 3)        # back to mmol/L: ~9.8 g/kg of solutes
    1.2
    >>> round(float(uf.totals["Ca"]) * 1e3, 3)            # the total that gives it [mmol/kg]
    1.566
    """
    from ._checks import check_iterations, check_tolerance
    from .speciation import speciate
    from .units import concentration, solution_density

    tol = check_tolerance(tolerance)
    check_iterations(max_iterations, "max_iterations")
    values, kind = concentration(ionized_calcium, argument="ionized_calcium")
    shape = np.broadcast_shapes(solution.shape, np.shape(values))
    totals = {k: np.broadcast_to(v, shape).astype(np.float64) for k, v in solution.totals.items()}
    target = np.broadcast_to(np.asarray(values, dtype=np.float64), shape)
    if kind == "molar":
        # c = m rho / (1 + sum m M / 1000): the inverse for the free Ca2+ in this solution
        from .database import analyte

        solute = sum((totals[c] * analyte(c).molar_mass / 1000.0 for c in totals), start=0.0)
        target = target * (1.0 + solute) / float(solution_density(density))
    ph = None if solution.pH is None else np.broadcast_to(solution.pH, shape)
    t = np.broadcast_to(solution.temperature, shape)
    total = np.where(target > 0, np.maximum(totals["Ca"], target), 0.0)
    for _ in range(int(max_iterations)):
        totals["Ca"] = total
        trial = Solution.from_arrays(totals, pH=ph, temperature_kelvin=t)
        free = np.asarray(
            speciate(trial, constants=constants, activity_model=activity_model).free("Ca+2")
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(target > 0, target / free, 1.0)
        if np.all(np.abs(ratio - 1.0) <= tol):
            break
        total = total * ratio
    else:
        bad = np.flatnonzero(np.ravel(~(np.abs(ratio - 1.0) <= tol)))
        raise ValueError(
            f"ionized_calcium: no total calcium gives that free Ca2+ in {bad.size} row(s) "
            f"(first at position {int(bad[0])}) within {max_iterations} steps"
        )
    out = Solution.from_arrays(totals, pH=ph, temperature_kelvin=t)
    if solution.labels is not None and out.shape == solution.shape:
        out = out.with_labels(solution.labels, input_reason=solution.input_reason)
    return out


def _urine(name: str, overrides: dict[str, Any]) -> Solution:
    kwargs = _merge(name, _inputs(name), overrides, ("volume",))
    for required in ("calcium", "oxalate"):
        kwargs.setdefault(required, Quantity(0.0, "mol/L"))
    return urine_24h(**kwargs)


def plasma(**overrides: Any) -> Solution:
    """Normal adult blood plasma at 37 °C, with *total* calcium and magnesium.

    Parameters
    ----------
    **overrides
        Any analyte keyword of :class:`~oxalate.Solution` (``oxalate="50 umol/L"``,
        arrays for a batch; ``None`` removes the analyte), ``pH``,
        ``temperature``, ``density`` or ``on_invalid``; or
        ``ionized_calcium="1.20 mmol/L"``, the free Ca²⁺ a blood-gas analyser
        reports, instead of ``calcium`` (the total is then solved by
        :func:`with_ionized_calcium`).  Another keyword raises
        :class:`TypeError` listing the accepted ones.

    Returns
    -------
    Solution

    Notes
    -----
    Calcium is the *total* 2.40 mmol/L.  About 45 % of it is bound to
    albumin, which the engine does not model, so the computed free calcium
    (about 1.9 mmol/kg) overstates the ionized 1.20 mmol/L and the
    supersaturations come out too high; :func:`plasma_ultrafiltrate` removes
    the protein-bound calcium and magnesium.  Carbonate is total CO2.

    Charge balance: pH fixed at 7.40, chloride as measured, imbalance left.
    The modelled ions carry about +20 meq/L (Na + K + 2 Ca + 2 Mg = 150.7
    against Cl + HCO3⁻ + phosphate, sulfate, citrate ≈ 131): the anion gap of
    albumin, organic acids and urate.  ``charge_balance="chloride"`` would
    turn that gap into chloride.

    ===============  =====  ======  ============  =========================  ==========
    field            value  unit    role          status                     source
    ===============  =====  ======  ============  =========================  ==========
    temperature      37     degC    input         convention                 hall2016
    pH               7.40   (none)  input         reference interval         tietz2012
    sodium           140    mmol/L  input         reference interval         tietz2012
    potassium        4.2    mmol/L  input         reference interval         tietz2012
    chloride         104    mmol/L  input         reference interval         tietz2012
    carbonate        25.2   mmol/L  input         derived                    tietz2012
    calcium          2.40   mmol/L  input         reference interval         tietz2012
    magnesium        0.85   mmol/L  input         reference interval         tietz2012
    phosphate        1.10   mmol/L  input         reference interval         tietz2012
    sulfate          0.35   mmol/L  input         reference interval         tietz2012
    citrate          0.10   mmol/L  input         reference interval         tietz2012
    oxalate          1.5    umol/L  input         inside published interval  umich_poxa
    calcium_ionized  1.20   mmol/L  reference     reference interval         tietz2012
    albumin          42     g/L     not modelled  reference interval         tietz2012
    urate            0.30   mmol/L  not modelled  reference interval         tietz2012
    ===============  =====  ======  ============  =========================  ==========

    Ranges and derivations are in :func:`preset_table`.

    Examples
    --------
    >>> from oxalate import speciate
    >>> from oxalate.fluids import plasma
    >>> r = speciate(plasma())
    >>> round(float(r.supersaturation["COM"]), 3)
    0.05
    >>> round(float(speciate(plasma(oxalate="50 umol/L")).supersaturation["COM"]), 2)
    1.64
    """
    return _fluid("plasma", overrides)


def plasma_ultrafiltrate(**overrides: Any) -> Solution:
    """Normal plasma ultrafiltrate at 37 °C: the protein-bound calcium and magnesium removed.

    The fluid of the plasma oxalate supersaturation studies (Worcester et al.
    1986 ultrafiltered serum and computed its relative saturation): total
    calcium is the ultrafiltrable 1.35 mmol/L (ionized + complexed) and
    magnesium about 70 % of the total.

    Parameters
    ----------
    **overrides
        As :func:`plasma`, e.g. ``oxalate="89 umol/L"``.

    Returns
    -------
    Solution

    Notes
    -----
    Sodium, potassium, chloride and carbonate are the plasma values: the
    plasma-water (about 7 %) and Gibbs-Donnan (a few %) corrections of a true
    ultrafiltrate are ignored (:func:`interstitial_fluid` has them).

    The computed free calcium is about 1.04 mmol/kg, somewhat below the
    ionized calcium of the reference interval (1.12-1.32 mmol/L): the default
    constants bind 23 % of the ultrafiltrable calcium in complexes, 15 % of
    it as CaHCO3⁺ (minteq.v4), while 1.35 - 1.20 mmol/L implies about 11 %.
    To start from the ionized value a blood-gas analyser reports, pass
    ``ionized_calcium="1.0 mmol/L"`` instead of ``calcium``
    (:func:`with_ionized_calcium`): taking 1.0 mmol/L ionised as the total puts
    the COM threshold about 25 % too high.

    Charge balance: pH fixed at 7.40, chloride as measured, imbalance left:
    about +17 meq/L (Na + K + 2 Ca + 2 Mg = 148.1 against ≈ 131 of measured
    anions), the unmeasured organic anions and the charge of the removed
    albumin.

    ====================  =====  ======  =========  =========================  =============
    field                 value  unit    role       status                     source
    ====================  =====  ======  =========  =========================  =============
    temperature           37     degC    input      convention                 hall2016
    pH                    7.40   (none)  input      reference interval         tietz2012
    sodium                140    mmol/L  input      reference interval         tietz2012
    potassium             4.2    mmol/L  input      reference interval         tietz2012
    chloride              104    mmol/L  input      reference interval         tietz2012
    carbonate             25.2   mmol/L  input      derived                    tietz2012
    calcium               1.35   mmol/L  input      reference interval         tietz2012
    magnesium             0.60   mmol/L  input      derived                    tietz2012
    phosphate             1.10   mmol/L  input      reference interval         tietz2012
    sulfate               0.35   mmol/L  input      reference interval         tietz2012
    citrate               0.10   mmol/L  input      reference interval         tietz2012
    oxalate               1.5    umol/L  input      inside published interval  umich_poxa
    calcium_ionized       1.20   mmol/L  reference  reference interval         tietz2012
    oxalate_predialysis   89     umol/L  reference  published                  worcester1986
    oxalate_postdialysis  31     umol/L  reference  published                  worcester1986
    ====================  =====  ======  =========  =========================  =============

    Examples
    --------
    >>> import oxalate
    >>> from oxalate.fluids import plasma_ultrafiltrate
    >>> ox = oxalate.Quantity([1.5, 31, 89], "umol/L")     # normal, post- and pre-dialysis
    >>> oxalate.speciate(plasma_ultrafiltrate(oxalate=ox)).supersaturation["COM"].round(2)
    array([0.03, 0.65, 1.85])
    """
    return _fluid("plasma_ultrafiltrate", overrides)


def interstitial_fluid(**overrides: Any) -> Solution:
    """Interstitial fluid at 37 °C (textbook composition).

    Interstitial fluid is nearly protein-free, so its calcium is the
    ultrafiltrable calcium; the Gibbs-Donnan effect of the plasma proteins
    makes its sodium, chloride and bicarbonate a few per cent higher than
    in plasma.

    Parameters
    ----------
    **overrides
        As :func:`plasma`.

    Returns
    -------
    Solution

    Notes
    -----
    Sulfate, citrate and oxalate are taken equal to plasma (small solutes
    cross the capillary wall freely); the pH is taken equal to plasma.

    Charge balance: pH fixed at 7.40, chloride as given, imbalance left:
    about +6 meq/L (Na + K + 2 Ca + 2 Mg = 153.1 against Cl + HCO3⁻ +
    phosphate, sulfate, citrate ≈ 147), the organic anions.

    ===========  =====  ======  =====  ==============  ==========
    field        value  unit    role   status          source
    ===========  =====  ======  =====  ==============  ==========
    temperature  37     degC    input  convention      hall2016
    pH           7.40   (none)  input  assumed         hall2016
    sodium       145    mmol/L  input  textbook value  hall2016
    potassium    4.1    mmol/L  input  textbook value  hall2016
    chloride     117    mmol/L  input  textbook value  hall2016
    carbonate    28.2   mmol/L  input  derived         hall2016
    calcium      1.3    mmol/L  input  textbook value  hall2016
    magnesium    0.7    mmol/L  input  textbook value  hall2016
    phosphate    1.1    mmol/L  input  textbook value  hall2016
    sulfate      0.35   mmol/L  input  assumed         tietz2012
    citrate      0.10   mmol/L  input  assumed         tietz2012
    oxalate      1.5    umol/L  input  assumed         umich_poxa
    ===========  =====  ======  =====  ==============  ==========

    Examples
    --------
    >>> from oxalate import speciate
    >>> from oxalate.fluids import interstitial_fluid
    >>> round(float(speciate(interstitial_fluid()).supersaturation["COM"]), 3)
    0.029
    """
    return _fluid("interstitial_fluid", overrides)


def urine_24h_normal(**overrides: Any) -> Solution:
    """A normal adult 24-hour urine at 37 °C, from typical daily excretions and 1.5 L/d.

    Built with :func:`urine_24h`: each daily amount is divided by the volume.

    Parameters
    ----------
    **overrides
        Any keyword of :func:`urine_24h`: an analyte as a daily amount
        (``oxalate="0.6 mmol/d"``) or a concentration, ``volume``, ``pH``,
        ``temperature``, ``density``, ``on_invalid``.  Changing the volume
        rescales every daily amount, e.g. ``volume="2.5 L/d"``.

    Returns
    -------
    Solution

    Notes
    -----
    Ammonium (30 mmol/d) and urate (3.5 mmol/d) are not components of the
    engine and are left out; :func:`oxalate.equil2.equil2` models them.

    Charge balance: pH fixed at 6.0, chloride as given, imbalance left.  The
    modelled ions nearly balance (about -5 meq/L of 152 meq/L of cations),
    because the left-out ammonium (+20 mmol/L) roughly offsets the left-out
    urate and organic anions.  ``charge_balance="chloride"`` neutralises the
    rest by lowering chloride about 5 mmol/L and changes Ω(COM) by under 1 %.

    ===================  =====  ======  ============  ==================  ====================
    field                value  unit    role          status              source
    ===================  =====  ======  ============  ==================  ====================
    temperature          37     degC    input         convention          hall2016
    volume               1.5    L/d     input         reference interval  tietz2012;pearle2014
    pH                   6.0    (none)  input         reference interval  tietz2012
    calcium              5.0    mmol/d  input         reference interval  tietz2012
    oxalate              0.35   mmol/d  input         typical value       tietz2012
    citrate              3.0    mmol/d  input         reference interval  tietz2012
    magnesium            4.0    mmol/d  input         reference interval  tietz2012
    sodium               150    mmol/d  input         reference interval  tietz2012
    potassium            60     mmol/d  input         reference interval  tietz2012
    chloride             150    mmol/d  input         reference interval  tietz2012
    phosphate            30     mmol/d  input         reference interval  tietz2012
    sulfate              20     mmol/d  input         reference interval  tietz2012
    ammonium             30     mmol/d  not modelled  reference interval  tietz2012
    urate                3.5    mmol/d  not modelled  reference interval  tietz2012
    oxalate_upper_limit  40     mg/d    reference     published           medscape444683
    ===================  =====  ======  ============  ==================  ====================

    Examples
    --------
    >>> import oxalate
    >>> from oxalate.fluids import urine_24h_normal
    >>> r = oxalate.speciate(urine_24h_normal())
    >>> round(float(r.supersaturation["COM"]), 2), round(float(r.supersaturation["brushite"]), 2)
    (5.94, 1.48)
    >>> v = oxalate.Quantity([1.0, 1.5, 2.5], "L/d")
    >>> oxalate.speciate(urine_24h_normal(volume=v)).supersaturation["COM"].round(2)
    array([9.39, 5.94, 3.36])
    """
    return _urine("urine_24h_normal", overrides)


def urine_stone_former(**overrides: Any) -> Solution:
    """An *illustrative* calcium oxalate stone-former 24-hour urine at 37 °C.

    Constructed for examples and tests, not measured: calcium and oxalate at
    the upper limits of normal, low-normal citrate, acid pH and a low
    volume (1.2 L/d).  Built with :func:`urine_24h`.

    Parameters
    ----------
    **overrides
        As :func:`urine_24h_normal`.

    Returns
    -------
    Solution

    Notes
    -----
    Ammonium and urate are not modelled (as in :func:`urine_24h_normal`).

    Charge balance: pH fixed at 5.8, chloride as given, imbalance left: about
    -5 meq/L of 210 meq/L of cations.

    ===========  =====  ======  ============  ============  ====================
    field        value  unit    role          status        source
    ===========  =====  ======  ============  ============  ====================
    temperature  37     degC    input         convention    hall2016
    volume       1.2    L/d     input         illustrative  oxalate_illustrative
    pH           5.8    (none)  input         illustrative  oxalate_illustrative
    calcium      7.5    mmol/d  input         illustrative  oxalate_illustrative
    oxalate      0.45   mmol/d  input         illustrative  oxalate_illustrative
    citrate      2.0    mmol/d  input         illustrative  oxalate_illustrative
    magnesium    3.5    mmol/d  input         illustrative  oxalate_illustrative
    sodium       180    mmol/d  input         illustrative  oxalate_illustrative
    potassium    50     mmol/d  input         illustrative  oxalate_illustrative
    chloride     170    mmol/d  input         illustrative  oxalate_illustrative
    phosphate    32     mmol/d  input         illustrative  oxalate_illustrative
    sulfate      22     mmol/d  input         illustrative  oxalate_illustrative
    ammonium     35     mmol/d  not modelled  illustrative  oxalate_illustrative
    urate        4.0    mmol/d  not modelled  illustrative  oxalate_illustrative
    ===========  =====  ======  ============  ============  ====================

    Examples
    --------
    >>> from oxalate import speciate
    >>> from oxalate.fluids import urine_stone_former
    >>> round(float(speciate(urine_stone_former()).supersaturation["COM"]), 1)
    14.9
    """
    return _urine("urine_stone_former", overrides)


def artificial_urine_griffith(**overrides: Any) -> Solution:
    """Griffith's artificial urine at 37 °C, built from its salt recipe.

    The molarity of each salt is its mass concentration over its molar
    mass (:func:`formula_mass`, IUPAC 2005 atomic weights); each ion's total
    is the sum over the salts that release it.

    Parameters
    ----------
    **overrides
        As :func:`plasma`: an analyte keyword replaces that analyte's total
        from the recipe (``oxalate="0.3 mmol/L"``); ``pH``, ``temperature``,
        ``density``, ``on_invalid``.

    Returns
    -------
    Solution

    Warnings
    --------
    Not modelled: the NH4⁺ of NH4Cl (18.7 mmol/L; its chloride is kept),
    urea (25 g/L) and creatinine (1.1 g/L).  The tryptic soy broth added for
    bacterial work is not part of the recipe here.  The recipe is the one
    commonly reproduced in later papers and was not checked against the
    1976 paper.

    Notes
    -----
    Totals [mmol/L]: Ca 4.428, Mg 3.202, Na 118.02, K 42.04, Cl 134.13,
    sulfate 16.19, citrate 2.210, oxalate 0.1493, phosphate 20.58 (and the
    unmodelled NH4⁺ 18.69).

    Charge balance: pH fixed at 5.8, imbalance left: about -22 meq/L, the
    unmodelled NH4⁺ (18.7 mmol/L) plus the base implied by fixing the pH at
    5.8 (the recipe's own pH is lower).

    ==============  =====  ======  ============  ===================  ============
    field           value  unit    role          status               source
    ==============  =====  ======  ============  ===================  ============
    temperature     37     degC    input         convention           hall2016
    pH              5.8    (none)  input         recipe (unverified)  griffith1976
    CaCl2.2H2O      0.651  g/L     input         recipe (unverified)  griffith1976
    MgCl2.6H2O      0.651  g/L     input         recipe (unverified)  griffith1976
    NaCl            4.6    g/L     input         recipe (unverified)  griffith1976
    Na2SO4          2.3    g/L     input         recipe (unverified)  griffith1976
    Na3C6H5O7.2H2O  0.65   g/L     input         recipe (unverified)  griffith1976
    Na2C2O4         0.02   g/L     input         recipe (unverified)  griffith1976
    KH2PO4          2.8    g/L     input         recipe (unverified)  griffith1976
    KCl             1.6    g/L     input         recipe (unverified)  griffith1976
    NH4Cl           1.0    g/L     input         recipe (unverified)  griffith1976
    urea            25.0   g/L     not modelled  recipe (unverified)  griffith1976
    creatinine      1.1    g/L     not modelled  recipe (unverified)  griffith1976
    ==============  =====  ======  ============  ===================  ============

    Examples
    --------
    >>> from oxalate import speciate
    >>> from oxalate.fluids import artificial_urine_griffith
    >>> s = artificial_urine_griffith()
    >>> round(float(s.totals["Ox"]) * 1e3, 4)    # mmol/kg of water (0.1493 mmol/L)
    0.1513
    >>> round(float(speciate(s).supersaturation["COM"]), 2)
    4.52
    """
    name = "artificial_urine_griffith"
    totals: dict[str, float] = {}
    for row in preset_table(name):
        if row.role != "input" or row.field not in _SALT_IONS:
            continue
        if row.unit != "g/L":
            raise ValueError(f"presets.csv: {row.field} must be in g/L, not {row.unit!r}")
        molar = float(row.value) / formula_mass(row.field)
        for ion, count in _SALT_IONS[row.field].items():
            totals[ion] = totals.get(ion, 0.0) + count * molar
    base: dict[str, Any] = _inputs(name)
    base.update({k: Quantity(v, "mol/L") for k, v in totals.items() if k in ANALYTES})
    return Solution(**_merge(name, base, overrides, ()))
