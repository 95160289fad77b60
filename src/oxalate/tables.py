"""Tables in, tables out: a batch of solutions from a table's columns.

A stone clinic's spreadsheet of 24-hour urines, a lab's table of samples: one
row per solution, one column per analyte.  :func:`read_solution` turns such a
table into a :class:`~oxalate.Solution` whose rows keep the table's index, and
every result's ``to_dataframe()`` gives the index back, so results join the
input again by label.

The header convention
---------------------
A column's header names the analyte and its unit in square brackets, readable
by people and by pint::

    calcium [mg/d]   oxalate [umol/L]   citrate [mmol/d]   volume [L/d]
    phosphate [mg/d as P]   sodium [mEq/d]   temperature [degC]   pH

* Names are the :class:`~oxalate.Solution` keywords (``calcium``,
  ``magnesium``, ``sodium``, ``potassium``, ``chloride``, ``oxalate``,
  ``citrate``, ``phosphate``, ``sulfate``, ``carbonate``) or their component
  keys (``Ca``, ``Ox``, ...), in any case, plus ``volume``, ``pH`` and
  ``temperature``.
* A unit per time (``mg/d``, ``mmol/24 h``) is a daily amount: the table then
  needs a ``volume`` column (24-hour urine), and each amount is divided by it.
* Phosphate and sulfate in mass units need their basis: ``mg/d as P``.
* A column whose header has no unit and is not ``pH`` is not an analyte
  (``patient_id``, ``visit``): it is ignored here, and passed through by the
  command line.  So are analytes the speciation does not model (``ammonium``,
  ``urate``, ``creatinine``, ``urea``, ``albumin``), which :func:`equil2` uses.
  A header *with* a unit whose name is not known is an error, because it is
  almost always a typo.
* Tables whose headers are not in this form are mapped explicitly:
  ``columns={"Ca_mg_d": "calcium"}, units={"calcium": "mg/d"}`` (or
  ``columns={"Ca_mg_d": "calcium [mg/d]"}``).

Bad rows
--------
With ``on_invalid="nan"`` a row with a missing or impossible value (an empty
cell, a negative volume, a pH outside 0-14) is kept: it becomes NaN in every
result, with a ``reason`` that says what was wrong ("volume not positive",
"pH missing"), and one :class:`~oxalate.OxalateInputWarning` lists the count
per reason and the first labels.  The default ``on_invalid="raise"`` raises a
:class:`ValueError` that names the column, the value and the row's label.

Examples
--------
>>> import pandas as pd
>>> import oxalate
>>> table = pd.DataFrame({
...     "patient": ["P-01", "P-02"],
...     "calcium [mg/d]": [180.0, 320.0], "oxalate [mg/d]": [25.0, 48.0],
...     "citrate [mg/d]": [650.0, 300.0], "magnesium [mg/d]": [100.0, 80.0],
...     "sodium [mEq/d]": [150.0, 200.0], "potassium [mEq/d]": [60.0, 45.0],
...     "chloride [mEq/d]": [150.0, 190.0], "phosphate [mg/d as P]": [900.0, 1100.0],
...     "sulfate [mmol/d]": [18.0, 25.0], "volume [L/d]": [2.4, 1.1], "pH": [6.2, 5.6],
... }).set_index("patient")
>>> urine = oxalate.tables.read_solution(table)
>>> oxalate.speciate(urine).to_dataframe()[["omega_COM", "converged"]].round(1)
         omega_COM  converged
patient
P-01           2.5       True
P-02          21.1       True
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from ._clinical import equivalent_charge
from ._common import package_data
from ._errors import OxalateInputWarning, OxalateRowWarning, user_stacklevel, warn_failed_rows
from ._quantities import Expressed, to_quantity
from .solution import ANALYTES, Solution, component_key
from .units import Quantity, expressed_as

__all__ = ["FIELDS", "equil2", "example_csv", "parse_header", "read_solution"]

#: The columns a table may have besides the analytes.
FIELDS = ("volume", "pH", "temperature")

_HEADER = re.compile(r"^\s*(?P<name>[^\[\]]*?)\s*(?:\[\s*(?P<unit>[^\[\]]*?)\s*\])?\s*$")
_FULL = {key: name for name, key in ANALYTES.items()}
# urine analytes the speciation does not model, and why: their columns are ignored by
# read_solution (a urine table usually has them, for EQUIL2), never taken for a typo
_NOT_MODELLED = {
    "ammonium": "oxalate.equil2 models ammonium",
    "urate": "oxalate.equil2 models urate",
    "creatinine": "it is not needed for supersaturation",
    "urea": "it is uncharged and not needed for supersaturation",
    "albumin": "the engine has no protein binding; use an ultrafiltrate",
}

Missing = Literal["warn", "zero", "raise"]
OnInvalid = Literal["raise", "nan"]


def example_csv() -> Path:
    """The path of the bundled example table: 500 synthetic 24-hour urines.

    Daily excretions drawn at random (seed 2026) around the reference
    intervals the presets cite, with ``patient_id``, ``sex`` and ``age``
    columns, ``ammonium`` and ``urate`` for EQUIL2, and four spoiled rows (a
    negative volume, an empty pH, an empty calcium, a pH of 15), as a real
    clinic's table has.  Made by ``examples/make_urines_csv.py``; not patients.

    Examples
    --------
    >>> import pandas as pd
    >>> from oxalate import tables
    >>> pd.read_csv(tables.example_csv()).shape
    (500, 16)
    """
    return Path(str(package_data("urines_24h_synthetic.csv")))


def parse_header(header: Any) -> tuple[str, str | None]:
    """The name and the unit of a column header ``"name [unit]"`` (unit None if absent).

    Examples
    --------
    >>> from oxalate.tables import parse_header
    >>> parse_header("calcium [mg/d]"), parse_header("pH"), parse_header(" Ox [ umol/L ] ")
    (('calcium', 'mg/d'), ('pH', None), ('Ox', 'umol/L'))
    """
    text = str(header)
    match = _HEADER.match(text)
    if match is None:
        raise ValueError(
            f"column {text!r} is not of the form 'name [unit]', e.g. 'calcium [mg/d]'"
        )
    unit = match["unit"]
    return match["name"], (unit if unit else None)


def _field(name: str) -> str | None:
    """The Solution keyword or field a column name stands for, or None."""
    folded = name.strip().casefold()
    for field in FIELDS:
        if folded == field.casefold():
            return field
    key = component_key(name)
    return _FULL.get(key)


def _numbers(values: Any) -> npt.NDArray[np.float64]:
    """A column as floats: empty cells, text and None become NaN."""
    try:
        import pandas as pd

        return np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=np.float64)
    except ImportError:  # pragma: no cover - pandas comes with every table
        out = np.full(len(values), np.nan)
        for i, v in enumerate(values):
            try:
                out[i] = float(v)
            except (TypeError, ValueError):
                pass
        return out


def _quantity(values: npt.NDArray[np.float64], unit: str, column: str, field: str) -> Any:
    """A column with its unit as a Quantity (mEq divided by the charge), or an
    Expressed for ``"mg/d as P"``: the unit parsed as the library parses a value."""
    if field == "temperature":
        try:
            return Quantity(values, unit.replace("°C", "degC"))
        except Exception as err:  # pint's parse errors
            raise ValueError(f"column {column!r}: {unit!r} is not a temperature unit") from err
    quantity, equivalents, basis = to_quantity(f"1 {unit}", f"column {column!r}")
    if equivalents:
        values = values / equivalent_charge(field, f"column {column!r}")
    out = Quantity(values * quantity.magnitude, quantity.units)
    return out if basis is None else expressed_as(out, basis)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python number it holds, for messages (30, not np.int64(30))."""
    return value.item() if isinstance(value, np.generic) else value


def _per_time(quantity: Any) -> bool:
    q = getattr(quantity, "quantity", quantity)
    return bool(q.dimensionality.get("[time]", 0) < 0)


def read_solution(
    table: Any,
    *,
    columns: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    missing: Missing = "warn",
    on_invalid: OnInvalid = "raise",
    volume: Any = None,
    pH: Any = None,
    temperature: Any = "37 degC",
    density: Any = None,
) -> Solution:
    """A batch of solutions from a table, one row per solution, its index kept.

    Parameters
    ----------
    table : pandas.DataFrame or mapping of str to array
        Columns named by the header convention of this module
        (``"calcium [mg/d]"``, ``"pH"``); other columns are ignored.
    columns : mapping of str to str, optional
        Renames columns first: ``{"Ca_mg_d": "calcium"}`` or
        ``{"Ca_mg_d": "calcium [mg/d]"}``.
    units : mapping of str to str, optional
        Units of columns whose header has none, keyed by the column or by the
        analyte: ``{"calcium": "mg/d", "phosphate": "mg/d as P"}``.
    missing : {"warn", "zero", "raise"}
        An analyte without a column counts as zero; ``"warn"`` (default) says
        which with an :class:`~oxalate.OxalateInputWarning`, ``"zero"`` is
        silent, ``"raise"`` refuses the table.
    on_invalid : {"raise", "nan"}
        A row with a missing or impossible value: raise a ValueError naming the
        column, value and row label, or keep the row as NaN with a reason
        (``Solution.input_reason``), which every result reports.
    volume, pH, temperature : optional
        For the whole batch when the table has no such column.  Without a pH
        column or ``pH=``, the pH comes from the charge balance. [-], [K or °C]
    density : pint.Quantity or str, optional
        Solution density for molar inputs. [kg/L]

    Returns
    -------
    Solution
        Shape ``(len(table),)``, labelled with the table's index
        (:meth:`~oxalate.Solution.with_labels`).

    Raises
    ------
    ValueError
        An analyte header with an unknown name (the message lists the accepted
        ones), a column without a unit, a daily amount without a volume, a
        missing analyte with ``missing="raise"``, and bad values with
        ``on_invalid="raise"``.
    """
    if on_invalid not in ("raise", "nan"):
        raise ValueError(f"on_invalid={on_invalid!r} is not known; accepted: 'raise', 'nan'")
    if missing not in ("warn", "zero", "raise"):
        raise ValueError(f"missing={missing!r} is not known; accepted: 'warn', 'zero', 'raise'")
    rename = dict(columns or {})
    unit_of = dict(units or {})
    names = [str(c) for c in table.keys()]
    for old in rename:
        if old not in names:
            raise ValueError(f"columns: {old!r} is not a column of the table; columns: {names}")
    labels = getattr(table, "index", None)
    n = len(table[names[0]]) if names else 0
    if labels is None:
        labels = np.arange(n)
    found: dict[str, tuple[str, str | None]] = {}  # field -> (column, unit)
    for column in names:
        name, unit = parse_header(rename.get(column, column))
        field = _field(name)
        unit = unit_of.get(column, unit_of.get(name, unit_of.get(field or "", unit)))
        if field is None:
            if unit is not None and name.strip().casefold() not in _NOT_MODELLED:
                accepted = ", ".join((*ANALYTES, *FIELDS))
                raise ValueError(
                    f"column {column!r}: {name!r} is not an analyte; accepted names: "
                    f"{accepted} (or their symbols Ca, Ox, ...), in any case; columns of "
                    f"{', '.join(_NOT_MODELLED)} are ignored here"
                )
            continue  # an extra column (patient_id, visit) or one for EQUIL2 (urate)
        if field in found:
            raise ValueError(
                f"column {column!r}: {field} is given twice (also {found[field][0]!r})"
            )
        if unit is None and field != "pH":
            raise ValueError(
                f"column {column!r} has no unit: write it as '{field} [mg/d]' or pass "
                f"units={{{column!r}: 'mg/d'}}"
            )
        found[field] = (column, unit)
    for key in unit_of:
        if key not in names and _field(key) is None:
            raise ValueError(f"units: {key!r} is neither a column nor an analyte")
    if not any(field in ANALYTES for field in found):
        raise ValueError(
            f"read_solution: no column names an analyte; columns: {names}. Write headers "
            f"as 'calcium [mg/d]' (accepted names: {', '.join(ANALYTES)}) or map them "
            f"with columns= and units="
        )

    reasons = np.full(n, "", dtype=object)

    def bad(mask: npt.NDArray[np.bool_], why: str, column: str, values: Any) -> None:
        mask = mask & (reasons == "")
        if not mask.any():
            return
        if on_invalid == "raise":
            i = int(np.flatnonzero(mask)[0])
            raise ValueError(
                f"column {column!r}: {why} at row {_plain(labels[i])!r} "
                f"(value {_plain(values[i])!r}); "
                f"{int(mask.sum())} such row(s); pass on_invalid='nan' to keep the other rows"
            )
        reasons[mask] = why

    kwargs: dict[str, Any] = {}
    for field, (column, unit) in found.items():
        raw = table[column]
        values = _numbers(raw)
        if field == "pH":
            bad(np.isnan(values), "pH missing", column, values)
            bad((values < 0) | (values > 14), "pH outside 0-14", column, values)
            kwargs["pH"] = values
            continue
        bad(np.isnan(values), f"{field} missing", column, values)
        if field == "volume":
            bad(values <= 0, "volume not positive", column, values)
        elif field != "temperature":
            bad(values < 0, f"negative {field}", column, values)
        assert unit is not None
        kwargs[field] = _quantity(values, unit, column, field)
    absent = [a for a in ANALYTES if a not in kwargs and a != "carbonate"]
    if absent and missing == "raise":
        raise ValueError(f"read_solution: no column for {', '.join(absent)} (missing='raise')")
    if absent and missing == "warn":
        warnings.warn(
            f"read_solution: no column for {', '.join(absent)}; taken as zero "
            f"(pass missing='zero' to say so, or add the columns)",
            OxalateInputWarning,
            stacklevel=user_stacklevel(),
        )
    daily = [f for f, v in kwargs.items() if f in ANALYTES and _per_time(v)]
    if daily and "volume" not in kwargs and volume is None:
        raise ValueError(
            f"columns {', '.join(found[f][0] for f in daily)} are daily amounts: the table "
            f"needs a 'volume [L/d]' column (24-hour urine)"
        )
    if volume is not None:
        kwargs.setdefault("volume", volume)
    kwargs.setdefault("pH", pH)
    kwargs.setdefault("temperature", temperature)
    # rows already known bad get harmless stand-ins, then NaN: one message, not one per column
    rows_bad = reasons != ""
    if rows_bad.any():
        for field, value in list(kwargs.items()):
            kwargs[field] = _stand_in(field, value, rows_bad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OxalateInputWarning)
        if "volume" in kwargs:
            from .fluids import urine_24h

            kwargs.setdefault("calcium", Quantity(0.0, "mol/L"))
            kwargs.setdefault("oxalate", Quantity(0.0, "mol/L"))
            solution = urine_24h(**kwargs, density=density, on_invalid=on_invalid)
        else:
            kwargs.pop("volume", None)
            solution = Solution(**kwargs, density=density, on_invalid=on_invalid)
    if solution.shape != (n,):
        solution = _broadcast(solution, n)
    # rows the library refused (e.g. solutes heavier than the solution allows)
    later = ~rows_bad & ~np.isfinite(solution.totals["Ca"])
    reasons[later] = "invalid input"
    if rows_bad.any():
        solution = _with_nan_rows(solution, rows_bad)
    if (reasons != "").any():
        counts = Counter(str(r) for r in reasons[reasons != ""])
        first = ", ".join(str(labels[i]) for i in np.flatnonzero(reasons != "")[:5])
        warnings.warn(
            f"read_solution: {int((reasons != '').sum())} of {n} row(s) are NaN: "
            + "; ".join(f"{k} {v!r}" for v, k in counts.most_common())
            + f"; rows {first}",
            OxalateInputWarning,
            stacklevel=user_stacklevel(),
        )
    return solution.with_labels(labels, input_reason=reasons)


def _stand_in(field: str, value: Any, rows: npt.NDArray[np.bool_]) -> Any:
    """``value`` with the rows ``rows`` replaced by a valid placeholder."""
    if value is None or isinstance(value, str):
        return value
    placeholder = {"pH": 7.0, "volume": 1.0, "temperature": None}.get(field, 0.0)
    if field == "pH":
        out = np.array(value, dtype=np.float64)
        out[rows] = placeholder
        return out
    inner = getattr(value, "quantity", None)
    q = inner if inner is not None else value
    if np.ndim(q.magnitude) == 0:
        return value
    magnitude = np.array(q.magnitude, dtype=np.float64)
    if field == "temperature":
        magnitude[rows] = np.nanmedian(magnitude) if np.isfinite(magnitude).any() else 37.0
    else:
        magnitude[rows] = placeholder
    new = Quantity(magnitude, q.units)
    return expressed_as(new, value.basis) if inner is not None else new


def _with_nan_rows(solution: Solution, rows: npt.NDArray[np.bool_]) -> Solution:
    """The batch with every total of the rows ``rows`` NaN (so every result flags them)."""
    totals = {k: np.where(rows, np.nan, v) for k, v in solution.totals.items()}
    ph = None if solution.pH is None else np.where(rows, np.nan, solution.pH)
    return Solution.from_arrays(totals, pH=ph, temperature_kelvin=solution.temperature)


def _broadcast(solution: Solution, n: int) -> Solution:
    totals = {k: np.broadcast_to(v, (n,)) for k, v in solution.totals.items()}
    ph = None if solution.pH is None else np.broadcast_to(solution.pH, (n,))
    t = np.broadcast_to(solution.temperature, (n,))
    return Solution.from_molalities(totals, pH=ph, temperature_kelvin=t)


def equil2(
    table: Any,
    *,
    columns: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    on_invalid: OnInvalid = "raise",
    iteration: Literal["equil2", "converged"] = "equil2",
    divisors: Literal["mayo", "standard"] = "mayo",
) -> Any:
    """EQUIL2 (:func:`oxalate.equil2.equil2`) on every row of a table, its index kept.

    The same header convention as :func:`read_solution`, plus ``ammonium``
    and ``urate`` (EQUIL2 models both).  Daily amounts are divided by the
    ``volume`` column.  Chloride may be absent (it is inert in EQUIL2's
    model); any other analyte EQUIL2 needs must have a column.

    Returns
    -------
    Equil2Result
        Labelled with the table's index (``to_dataframe()`` keeps it).

    Examples
    --------
    >>> import pandas as pd
    >>> from oxalate import tables
    >>> table = pd.DataFrame({
    ...     "sodium [mmol/L]": [45.0], "potassium [mmol/L]": [55.0], "calcium [mg/dL]": [15.0],
    ...     "magnesium [mg/dL]": [15.0], "ammonium [ug/dL as NH3]": [10.0],
    ...     "chloride [mmol/L]": [75.0], "phosphate [mmol/L]": [32.285],
    ...     "sulfate [mmol/L]": [10.0], "oxalate [mg/L]": [10.0], "citrate [mg/L]": [400.0],
    ...     "urate [mg/dL]": [50.0], "pH": [5.5]}, index=["R port sample"])
    >>> tables.equil2(table).to_dataframe()["ss_calcium_oxalate"].round(2)
    R port sample    3.1
    Name: ss_calcium_oxalate, dtype: float64
    """
    from dataclasses import replace

    from . import equil2 as equil2_module

    rename = dict(columns or {})
    unit_of = dict(units or {})
    names = [str(c) for c in table.keys()]
    labels = getattr(table, "index", None)
    kwargs: dict[str, Any] = {}
    accepted = (*ANALYTES, "ammonium", "urate", "volume", "pH")
    for column in names:
        name, unit = parse_header(rename.get(column, column))
        folded = name.strip().casefold()
        field = _field(name) if folded not in ("ammonium", "urate") else folded
        unit = unit_of.get(column, unit_of.get(name, unit_of.get(field or "", unit)))
        if field is None or field == "temperature":
            if unit is not None:
                raise ValueError(
                    f"column {column!r}: {name!r} is not an EQUIL2 input; accepted: "
                    f"{', '.join(accepted)}"
                )
            continue
        if field in kwargs:
            raise ValueError(f"column {column!r}: {field} is given twice")
        values = _numbers(table[column])
        if field == "pH":
            kwargs["pH"] = values
            continue
        if unit is None:
            raise ValueError(
                f"column {column!r} has no unit: write it as '{field} [mg/dL]' or pass units="
            )
        kwargs[field] = (
            _quantity(values, unit, column, field)
            if field in ANALYTES
            else _as_expressed(values, unit)
            if " as " in unit
            else Quantity(values, unit)
        )
    if "pH" not in kwargs:
        raise ValueError("equil2: the table needs a 'pH' column (EQUIL2 takes the pH)")
    need = ("sodium", "potassium", "calcium", "magnesium", "phosphate", "sulfate", "oxalate",
            "citrate", "urate")  # fmt: skip
    absent = [a for a in need if a not in kwargs]
    if absent:
        raise ValueError(f"equil2: no column for {', '.join(absent)}; EQUIL2 needs them")
    kwargs.pop("carbonate", None)
    with warnings.catch_warnings():  # said once below, with the rows' labels
        warnings.simplefilter("ignore", OxalateRowWarning)
        warnings.simplefilter("ignore", OxalateInputWarning)
        result = equil2_module.equil2(**kwargs, on_invalid=on_invalid, iteration=iteration,
                                      divisors=divisors)  # fmt: skip
    if result.reason is not None:
        warn_failed_rows("equil2", result.reason, labels)
    return result if labels is None else replace(result, labels=labels)


def _as_expressed(values: npt.NDArray[np.float64], unit: str) -> Any:
    """``"ug/dL as NH3"``: a Quantity tagged with its basis (EQUIL2 reads it)."""
    base, _, basis = unit.partition(" as ")
    return Expressed(Quantity(values, base.strip()), basis.strip())
