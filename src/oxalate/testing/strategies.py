"""Hypothesis strategies for property tests of code built on oxalate.

Import this module on purpose (it needs hypothesis, in the ``test`` extra);
``import oxalate`` and ``import oxalate.testing`` never import it::

    from oxalate.testing import strategies as ost

Every function returns a hypothesis strategy and takes keyword arguments only,
as ``xarray.testing.strategies`` does.  An argument that stands for *values*
(``temperature=``, ``ph=``, the ``overrides`` of a composition, ``shape=``)
may be a strategy; a plain value where a strategy is needed is refused with
:class:`hypothesis.errors.InvalidArgument`, which names the argument.

:func:`totals`
    One component's total, a Quantity spread over decades: by default the
    range :func:`oxalate.speciate` is documented to converge on, 1e-12 to
    1 mol/kg, or zero.  Subnormal numbers (below 1e-300) are never drawn.
:func:`compositions`
    A mapping analyte → total: the wide chemical range, or a body fluid
    (``fluid="urine"``, ``"plasma"`` or ``"ultrafiltrate"``) within the
    physiological ranges of :func:`physiological_ranges`.
:func:`ph_values`, :func:`temperatures`
    pH and temperature over the solver's range or a fluid's.
:func:`solutions`
    :class:`oxalate.Solution` batches of any shape (0-d and empty ones when
    asked), with a fixed pH or a pH to be solved from electroneutrality.

Once oxalate is installed, ``hypothesis.strategies.from_type(oxalate.Solution)``
draws from :func:`solutions` over the wide chemical range (hypothesis's
``hypothesis`` entry point, see ``pyproject.toml``).

Shrinking
---------
Every value is drawn as an offset from a round *home* value, and rounded: a
total to 3 significant digits, a pH to 2 decimals, a temperature to 0.1 °C.
A failing example therefore shrinks towards the home values (1 mmol/kg, pH 7
and 25 °C over the wide range; the preset's value for a body fluid), towards
absent components (a total of zero) and, with a shape strategy, towards one
row, and it prints as ``Solution.from_arrays({...}, pH=..., ...)``, a call
that rebuilds it.

The drawn values are not uniformly distributed: hypothesis favours the ends
of each range and round numbers, which is what finds edge cases.

References
----------
.. [1] Burtis CA, Ashwood ER, Bruns DE (eds). Tietz Textbook of Clinical
   Chemistry and Molecular Diagnostics, 5th ed. Elsevier Saunders, 2012
   (tietz2012; the reference intervals of ``physiological_ranges.csv``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt
import pint

try:
    from hypothesis import strategies as st
    from hypothesis.errors import InvalidArgument
except ImportError as err:  # pragma: no cover - the test extra installs hypothesis
    raise ImportError(
        "oxalate.testing.strategies needs hypothesis: pip install 'oxalate[test]' "
        "(the assertions of oxalate.testing do not)"
    ) from err

from .._common import package_data, read_csv
from ..database import chemical_system
from ..fluids import preset_table
from ..solution import ANALYTES, Solution
from ..units import Quantity, concentration, molar_to_molal, temperature_kelvin

__all__ = [
    "FLUIDS",
    "MAX_TOTAL",
    "MIN_TOTAL",
    "PhysiologicalRange",
    "compositions",
    "ph_values",
    "physiological_ranges",
    "solutions",
    "temperatures",
    "totals",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
T = TypeVar("T")

#: The body fluids :func:`compositions` and :func:`solutions` know.
FLUIDS: tuple[str, ...] = ("urine", "plasma", "ultrafiltrate")

#: Range of totals :func:`oxalate.speciate` is documented to converge on (its
#: Notes): 1e-12 to 1 mol/kg.  [mol/kg]
MIN_TOTAL = 1e-12
MAX_TOTAL = 1.0
# pH and temperature of the same Notes: pH 1-13, 0-100 degC.
_PH_RANGE = (1.0, 13.0)
_TEMPERATURE_RANGE_C = (0.0, 100.0)
# Below this a total is subnormal or nearly so (the smallest normal float is 2.2e-308):
# such totals are known to give NaN, and no bound may reach them.  [mol/kg or mol/L]
_SUBNORMAL = 1e-300
# Where values shrink to over the wide range: round, and inside the ranges above.
_HOME_TOTAL = 1e-3  # [mol/kg]
_HOME_PH = 7.0
_HOME_TEMPERATURE_C = 25.0
# Readable draws: totals to 3 significant digits, pH to 2 decimals (a pH meter's),
# temperatures to 0.1 degC (a thermometer's).
_SIGNIFICANT = 3
_PH_DECIMALS = 2
_TEMPERATURE_DECIMALS = 1

# Nominal charge of each component near neutral pH, for ph="charge_balance": the
# ions as they are, phosphate as the H2PO4-/HPO4-2 pair (-1.5) and carbonate as
# HCO3- (-1), so that the solved pH of a balanced solution lands near its buffers
# (pH 4-10), inside the solver's range.
_NOMINAL_CHARGE_OVERRIDES = {"PO4": -1.5, "CO3": -1.0}


def _nominal_charges() -> dict[str, float]:
    system = chemical_system()
    charges = {c: float(z) for c, z in zip(system.components, system.charge, strict=True)}
    return {c: _NOMINAL_CHARGE_OVERRIDES.get(c, charges[c]) for c in system.solutes}


# -- physiological ranges --------------------------------------------------------------------


@dataclass(frozen=True)
class PhysiologicalRange:
    """One row of ``oxalate/data/physiological_ranges.csv``.

    Attributes
    ----------
    fluid : str
        ``"urine"``, ``"plasma"`` or ``"ultrafiltrate"``.
    field : str
        An analyte keyword, ``"pH"``, ``"temperature"`` or (urine)
        ``"volume"``.
    low, high : float
        The range, in ``unit``.
    unit : str
        ``mmol/d`` for the daily amounts of a 24-hour urine, ``mmol/L`` or
        ``umol/L`` for plasma, ``L/d``, ``degC``, empty for pH.
    preset : str
        The :mod:`oxalate.fluids` preset whose value is the typical one
        (where values shrink to).
    typical : float
        That preset's value, in ``unit``.
    status, source, note : str
        How sure the range is, its bibliography keys and how it was found.
    """

    fluid: str
    field: str
    low: float
    high: float
    unit: str
    preset: str
    typical: float
    status: str
    source: str
    note: str


@cache
def _ranges() -> tuple[PhysiologicalRange, ...]:
    rows = []
    for row in read_csv(package_data("physiological_ranges.csv")):
        values = {r.field: r for r in preset_table(row["preset"])}
        typical = values[row["field"]]
        if typical.unit != row["unit"]:  # pragma: no cover - checked by the tests
            raise ValueError(f"physiological_ranges.csv: {row['field']} unit differs from preset")
        rows.append(
            PhysiologicalRange(
                fluid=row["fluid"],
                field=row["field"],
                low=float(row["low"]),
                high=float(row["high"]),
                unit=row["unit"],
                preset=row["preset"],
                typical=float(typical.value),
                status=row["status"],
                source=row["source"],
                note=row["note"],
            )
        )
    return tuple(rows)


def physiological_ranges(fluid: str) -> Mapping[str, PhysiologicalRange]:
    """The ranges a body fluid is drawn from, with their sources.

    Parameters
    ----------
    fluid : {"urine", "plasma", "ultrafiltrate"}

    Returns
    -------
    dict of str to PhysiologicalRange
        Keyed by field: the analytes, ``"pH"``, ``"temperature"`` and, for
        urine, ``"volume"``.  A 24-hour urine's analytes are daily amounts
        [mmol/d], divided by its volume [L/d]; plasma's are concentrations.

    Examples
    --------
    >>> from oxalate.testing.strategies import physiological_ranges
    >>> r = physiological_ranges("plasma")["calcium"]
    >>> r.low, r.high, r.unit, r.typical, r.source
    (2.15, 2.55, 'mmol/L', 2.4, 'tietz2012')
    """
    _check_fluid(fluid)
    return {r.field: r for r in _ranges() if r.fluid == fluid}


# -- argument checks -------------------------------------------------------------------------


def _check_fluid(fluid: Any) -> None:
    if fluid is not None and fluid not in FLUIDS:
        raise InvalidArgument(f"fluid={fluid!r} is not known; accepted: None, {', '.join(FLUIDS)}")


def _check_strategy(value: Any, argument: str, example: str) -> None:
    if not isinstance(value, st.SearchStrategy):
        raise InvalidArgument(
            f"{argument}={value!r} must be provided as a hypothesis.strategies.SearchStrategy "
            f"object, e.g. {example}; to fix a value use hypothesis.strategies.just(...)"
        )


def _analyte_name(component: Any, argument: str) -> str:
    if isinstance(component, str):
        if component in ANALYTES:
            return component
        for name, key in ANALYTES.items():
            if component == key:
                return name
    raise InvalidArgument(
        f"{argument}={component!r} is not a component; accepted: the analyte names "
        f"{', '.join(ANALYTES)} or their keys {', '.join(ANALYTES.values())}"
    )


def _amount_bound(value: Any, argument: str) -> Any:
    """A total's bound as a Quantity of amount per mass of water or per volume."""
    if isinstance(value, str):
        try:
            value = Quantity(value)
        except (pint.errors.PintError, ValueError, AttributeError) as err:
            raise InvalidArgument(f"{argument}={value!r} is not a quantity ({err})") from None
    if not isinstance(value, pint.Quantity):
        raise InvalidArgument(
            f"{argument}={value!r} has no units; give e.g. '1e-6 mol/kg', '2 mmol/L' or "
            f"oxalate.Quantity(1e-6, 'mol/kg')"
        )
    if value.dimensionality not in (_dimension("mol/kg"), _dimension("mol/L")):
        raise InvalidArgument(
            f"{argument}={value!s} is not an amount per mass of water (mol/kg) or per volume "
            f"(mol/L); mass units such as mg/dL are not accepted for bounds"
        )
    if np.ndim(value.magnitude) != 0:
        raise InvalidArgument(f"{argument}={value!s} must be a scalar")
    return value


@cache
def _dimension(unit: str) -> Any:
    return Quantity(1.0, unit).dimensionality


@cache
def _units(registry: Any, unit: str) -> Any:
    return registry.Unit(unit)


def _quantity(value: float, unit: str) -> Any:
    """``Quantity(value, unit)`` with the unit parsed once per registry (parsing dominates)."""
    registry = pint.get_application_registry().get()  # type: ignore[no-untyped-call]
    return registry.Quantity(value, _units(registry, unit))


def _check_range(low: float, high: float, argument: str, floor: float, ceiling: float) -> None:
    for name, value in (("min_value", low), ("max_value", high)):
        if not (math.isfinite(value) and floor <= value <= ceiling):
            raise InvalidArgument(
                f"{argument}: {name}={value!r} is outside {floor:g}-{ceiling:g}"
                + (
                    "; subnormal totals are refused, draw zero with allow_zero=True"
                    if name == "min_value" and value < floor and floor == _SUBNORMAL
                    else ""
                )
            )
    if low > high:
        raise InvalidArgument(f"{argument}: min_value={low!r} is above max_value={high!r}")


# -- building blocks -------------------------------------------------------------------------


def _round_significant(value: float, digits: int = _SIGNIFICANT) -> float:
    return float(f"{value:.{digits}g}")


def _clamp(value: float, low: float, high: float) -> float:
    return min(max(value, low), high)


def _around(low: float, high: float, home: float) -> float:
    """``home`` moved inside [low, high]: where the draws shrink to."""
    return _clamp(home, low, high)


def _log_floats(low: float, high: float, home: float) -> st.SearchStrategy[float]:
    """Positive floats in [low, high] on a log scale, shrinking to ``home``, 3 digits."""
    home = _around(low, high, home)
    if low == high:
        return st.just(low)
    lo, hi = math.log10(low / home), math.log10(high / home)

    def value(exponent: float) -> float:
        return _clamp(_round_significant(home * 10.0**exponent), low, high)

    return st.floats(lo, hi, allow_nan=False, allow_infinity=False).map(value)


def _linear_floats(
    low: float, high: float, home: float, decimals: int
) -> st.SearchStrategy[float]:
    """Floats in [low, high], shrinking to ``home``, rounded to ``decimals``."""
    home = _around(low, high, home)
    if low == high:
        return st.just(low)

    def value(offset: float) -> float:
        return _clamp(round(home + offset, decimals), low, high)

    return st.floats(low - home, high - home, allow_nan=False, allow_infinity=False).map(value)


def _maybe_zero(values: st.SearchStrategy[T], zero: T) -> st.SearchStrategy[T]:
    """``zero`` one time in four (and where shrinking goes), else ``values``."""

    @st.composite
    def draw_one(draw: st.DrawFn) -> T:
        if draw(st.integers(0, 3)) == 0:
            return zero
        return draw(values)

    return draw_one()


# -- public strategies -----------------------------------------------------------------------


def totals(
    component: str,
    *,
    min_value: Any = None,
    max_value: Any = None,
    allow_zero: bool = True,
) -> st.SearchStrategy[Any]:
    """A component's total concentration, as a Quantity, spread over decades.

    The exponent is drawn between log10(min_value) and log10(max_value) and
    the value rounded to 3 significant digits; it shrinks to 1 mmol/kg (or
    the bound nearest it) and, with ``allow_zero``, to zero.

    Parameters
    ----------
    component : str
        An analyte name (``"calcium"``) or component key (``"Ca"``); see
        :data:`oxalate.solution.ANALYTES`.
    min_value, max_value : pint.Quantity or str, optional
        Bounds, in an amount per mass of water (``"1e-6 mol/kg"``) or per
        volume (``"2 mmol/L"``); both in one of the two.  The values drawn are
        in the unit of ``min_value`` (else of ``max_value``).  Default: the
        range :func:`oxalate.speciate` is documented to converge on,
        1e-12 to 1 mol/kg (:data:`MIN_TOTAL`, :data:`MAX_TOTAL`).  Bounds
        below 1e-300 (subnormal numbers) are refused. [mol/kg or mol/L]
    allow_zero : bool
        Draw an exact zero (the component absent) one time in four.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of pint.Quantity

    Raises
    ------
    hypothesis.errors.InvalidArgument
        For an unknown component, a bound without units or of another
        dimension, bounds in different dimensions, or out of order.

    Examples
    --------
    >>> from hypothesis import given
    >>> from oxalate.testing import strategies as ost
    >>> @given(ost.totals("oxalate", min_value="10 umol/L", max_value="1 mmol/L",
    ...                   allow_zero=False))
    ... def test_within_bounds(total):
    ...     assert 10 <= total.m_as("umol/L") <= 1000  # in the bounds' own unit: exact
    >>> test_within_bounds()
    """
    _analyte_name(component, "component")
    if not isinstance(allow_zero, bool):
        raise InvalidArgument(f"allow_zero={allow_zero!r} must be True or False")
    low = None if min_value is None else _amount_bound(min_value, "min_value")
    high = None if max_value is None else _amount_bound(max_value, "max_value")
    given = low if low is not None else high
    unit = "mol/kg" if given is None else given.units
    per = "mol/kg" if given is None or given.dimensionality == _dimension("mol/kg") else "mol/L"
    if low is not None and high is not None and low.dimensionality != high.dimensionality:
        raise InvalidArgument(
            f"min_value={low!s} and max_value={high!s} must both be per mass of water or both "
            f"per volume"
        )
    default_low = Quantity(MIN_TOTAL, per)
    default_high = Quantity(MAX_TOTAL, per)
    lo = float((low if low is not None else default_low).m_as(unit))
    hi = float((high if high is not None else default_high).m_as(unit))
    scale = float(Quantity(1.0, unit).m_as(per))  # one `unit` in mol/kg or mol/L
    _check_range(lo * scale, hi * scale, "totals", _SUBNORMAL, math.inf)
    values = _log_floats(lo, hi, _HOME_TOTAL / scale)
    if allow_zero:
        values = _maybe_zero(values, 0.0)
    text = str(unit)
    return values.map(lambda v: _quantity(v, text))


def ph_values(
    *, fluid: str | None = None, min_value: float | None = None, max_value: float | None = None
) -> st.SearchStrategy[float]:
    """pH values (activity scale), to 2 decimals.

    Parameters
    ----------
    fluid : {None, "urine", "plasma", "ultrafiltrate"}
        ``None``: the range :func:`oxalate.speciate` is documented for, pH
        1-13, shrinking to 7; a fluid: its physiological range
        (:func:`physiological_ranges`), shrinking to its preset's pH.
    min_value, max_value : float, optional
        Bounds that replace the fluid's (within 0-14, the pH a
        :class:`~oxalate.Solution` accepts).

    Returns
    -------
    hypothesis.strategies.SearchStrategy of float

    Examples
    --------
    >>> from hypothesis import given
    >>> from oxalate.testing import strategies as ost
    >>> @given(ost.ph_values(fluid="urine"))
    ... def test_urine_ph(ph):
    ...     assert 4.5 <= ph <= 8.0 and round(ph, 2) == ph
    >>> test_urine_ph()
    """
    _check_fluid(fluid)
    low, high, home = *_PH_RANGE, _HOME_PH
    if fluid is not None:
        r = physiological_ranges(fluid)["pH"]
        low, high, home = r.low, r.high, r.typical
    for name, value in (("min_value", min_value), ("max_value", max_value)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InvalidArgument(f"ph_values: {name}={value!r} must be a number (pH)")
    low = low if min_value is None else float(min_value)
    high = high if max_value is None else float(max_value)
    _check_range(low, high, "ph_values", 0.0, 14.0)
    return _linear_floats(low, high, home, _PH_DECIMALS)


def _celsius(fluid: str | None, min_value: Any, max_value: Any) -> st.SearchStrategy[float]:
    """The temperatures of :func:`temperatures` as plain floats. [degC]"""
    _check_fluid(fluid)
    low, high, home = *_TEMPERATURE_RANGE_C, _HOME_TEMPERATURE_C
    if fluid is not None:
        r = physiological_ranges(fluid)["temperature"]
        low, high, home = r.low, r.high, r.typical
    bounds = []
    for name, value, default in (("min_value", min_value, low), ("max_value", max_value, high)):
        if value is None:
            bounds.append(default)
            continue
        if not isinstance(value, str | pint.Quantity) or np.ndim(getattr(value, "m", 0)):
            raise InvalidArgument(
                f"temperatures: {name}={value!r} must be a scalar temperature with units, "
                f"e.g. '37 degC' or oxalate.Quantity(310.15, 'K')"
            )
        try:
            bounds.append(float(temperature_kelvin(value, argument=name)) - 273.15)
        except (TypeError, ValueError) as err:
            raise InvalidArgument(f"temperatures: {err}") from None
    low, high = bounds
    _check_range(low, high, "temperatures", *_TEMPERATURE_RANGE_C)
    return _linear_floats(low, high, home, _TEMPERATURE_DECIMALS)


def temperatures(
    *, fluid: str | None = None, min_value: Any = None, max_value: Any = None
) -> st.SearchStrategy[Any]:
    """Temperatures as Quantities in degC, to 0.1 °C.

    Parameters
    ----------
    fluid : {None, "urine", "plasma", "ultrafiltrate"}
        ``None``: 0-100 °C, the range of :func:`oxalate.speciate`, shrinking
        to 25 °C; a body fluid: 37 °C.
    min_value, max_value : pint.Quantity or str, optional
        Bounds such as ``"20 degC"`` or ``"310 K"``, within 0-100 °C.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of pint.Quantity

    Examples
    --------
    >>> from hypothesis import given
    >>> from oxalate.testing import strategies as ost
    >>> @given(ost.temperatures(min_value="20 degC", max_value="40 degC"))
    ... def test_room_to_body(t):
    ...     assert 20 <= t.m_as("degC") <= 40
    >>> test_room_to_body()
    """
    return _celsius(fluid, min_value, max_value).map(lambda c: _quantity(c, "degC"))


def _fluid_analytes(fluid: str) -> tuple[str, ...]:
    ranges = physiological_ranges(fluid)
    return tuple(name for name in ANALYTES if name in ranges)


def _components(fluid: str | None, components: Any) -> tuple[str, ...]:
    accepted = ANALYTES if fluid is None else _fluid_analytes(fluid)
    if components is None:
        return tuple(accepted)
    if isinstance(components, str) or not isinstance(components, Sequence | set | frozenset):
        raise InvalidArgument(
            f"components={components!r} must be a list of analyte names, e.g. "
            f"['calcium', 'oxalate']"
        )
    names = [_analyte_name(c, "components") for c in components]
    for name in names:
        if name not in accepted:
            raise InvalidArgument(
                f"components: {name!r} has no range for fluid={fluid!r}; accepted: "
                f"{', '.join(accepted)}; draw it with overrides={{{name!r}: ...}}"
            )
    return tuple(n for n in ANALYTES if n in names)


def _overrides(overrides: Any) -> dict[str, st.SearchStrategy[Any]]:
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise InvalidArgument(
            f"overrides={overrides!r} must be a mapping of analyte name to a strategy, e.g. "
            f"{{'oxalate': ost.totals('oxalate', min_value='1 umol/L', max_value='0.1 mmol/L')}}"
        )
    out = {}
    for key, value in overrides.items():
        name = _analyte_name(key, "overrides")
        _check_strategy(value, f"overrides[{key!r}]", f"ost.totals({name!r})")
        out[name] = value
    return out


def compositions(
    *,
    fluid: str | None = None,
    components: Sequence[str] | None = None,
    overrides: Mapping[str, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[dict[str, Any]]:
    """Compositions: a mapping analyte name → total (a Quantity).

    Parameters
    ----------
    fluid : {None, "urine", "plasma", "ultrafiltrate"}
        ``None``: the wide chemical range, every component drawn by
        :func:`totals` (1e-12 to 1 mol/kg, or absent one time in four).
        ``"urine"``: a 24-hour urine, each analyte's daily amount and the
        volume drawn within their reference intervals, the concentration
        [mmol/L] being amount over volume (so all analytes move together
        with the volume); no carbonate.  ``"plasma"`` and
        ``"ultrafiltrate"``: each concentration within its reference
        interval, oxalate within the normal plasma interval (≤ 2 µmol/L).
        Ranges and sources: :func:`physiological_ranges`; values shrink to
        the fluid's preset in :mod:`oxalate.fluids`.  One composition in
        eight is the typical one as a whole (every component absent over
        the wide range, the preset for a fluid), so that it shrinks away.
    components : sequence of str, optional
        Draw only these analytes (names or keys); the others are left out.
        For a fluid, only analytes it has a range for.
    overrides : mapping of str to SearchStrategy, optional
        Strategies for some analytes instead of the fluid's, e.g. uraemic
        plasma oxalate: ``{"oxalate": totals("oxalate",
        min_value="1 umol/L", max_value="100 umol/L")}``.  An analyte here
        is drawn even if ``components`` leaves it out.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of dict

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> import oxalate
    >>> from oxalate.testing import strategies as ost
    >>> @settings(max_examples=20)
    ... @given(ost.compositions(fluid="plasma"))
    ... def test_plasma_is_undersaturated(composition):
    ...     s = oxalate.Solution(**composition, pH=7.4, temperature="37 degC")
    ...     assert oxalate.speciate(s).saturation_index["COM"] < 0
    >>> test_plasma_is_undersaturated()
    """
    _check_fluid(fluid)
    names = _components(fluid, components)
    extra = _overrides(overrides)
    raw = _raw_compositions(fluid, tuple(n for n in names if n not in extra))

    def build(drawn: tuple[_Raw, dict[str, Any]]) -> dict[str, Any]:
        values = {n: _quantity(v, unit) for n, (v, unit) in drawn[0].items()}
        values.update(drawn[1])
        return {n: values[n] for n in ANALYTES if n in values}

    return st.tuples(raw, st.fixed_dictionaries(extra)).map(build)


# A composition as magnitudes: analyte -> (value, unit), the unit one of _RAW_UNITS.
_Raw: TypeAlias = dict[str, tuple[float, str]]
# The units the raw draws are in, as (basis, factor to mol/kg or mol/L).
_RAW_UNITS = {"mol/kg": ("molal", 1.0), "mmol/L": ("molar", 1e-3), "umol/L": ("molar", 1e-6)}


def _raw_compositions(fluid: str | None, names: tuple[str, ...]) -> st.SearchStrategy[_Raw]:
    """The drawn part of a composition as magnitudes, without pint (it is the slow part).

    One row in eight is the typical one as a whole (nothing over the wide range, the
    preset for a fluid): one choice instead of ten, which hypothesis's shrinker can
    delete from a batch, so that a failing batch shrinks to its failing row.
    """
    drawn: st.SearchStrategy[_Raw]
    if fluid is None:
        wide = _maybe_zero(_log_floats(MIN_TOTAL, MAX_TOTAL, _HOME_TOTAL), 0.0)
        typical: _Raw = {n: (0.0, "mol/kg") for n in names}
        drawn = st.fixed_dictionaries({n: wide for n in names}).map(
            lambda d: {n: (v, "mol/kg") for n, v in d.items()}
        )
        return _typical_or(typical, drawn)
    ranges = physiological_ranges(fluid)
    if fluid != "urine":
        parts = {n: _log_floats(ranges[n].low, ranges[n].high, ranges[n].typical) for n in names}
        units = {n: ranges[n].unit for n in names}
        typical = {n: (ranges[n].typical, units[n]) for n in names}
        drawn = st.fixed_dictionaries(parts).map(
            lambda d: {n: (v, units[n]) for n, v in d.items()}
        )
        return _typical_or(typical, drawn)
    volume = ranges["volume"]
    volumes = _log_floats(volume.low, volume.high, volume.typical)
    amounts = st.fixed_dictionaries(
        {n: _log_floats(ranges[n].low, ranges[n].high, ranges[n].typical) for n in names}
    )

    def concentrations(v: float, daily: dict[str, float]) -> _Raw:
        # ranges in mmol/d and L/d (checked by the tests): c = amount / volume [mmol/L]
        return {n: (_round_significant(a / v), "mmol/L") for n, a in daily.items()}

    typical = concentrations(volume.typical, {n: ranges[n].typical for n in names})
    return _typical_or(typical, st.builds(concentrations, volumes, amounts))


def _typical_or(typical: _Raw, drawn: st.SearchStrategy[_Raw]) -> st.SearchStrategy[_Raw]:
    """``typical`` one time in eight (where shrinking goes), else ``drawn``."""

    @st.composite
    def row(draw: st.DrawFn) -> _Raw:
        if draw(st.integers(0, 7)) == 0:
            return dict(typical)
        return draw(drawn)

    return row()


def _molalities(raw: _Raw, extra: Mapping[str, Any]) -> dict[str, float]:
    """Molalities of a drawn row, as :class:`~oxalate.Solution` would convert it.

    Molar values go through :func:`oxalate.units.molar_to_molal` together (the
    solute mass counts every molar analyte), as ``Solution(**composition)`` does.
    """
    molal: dict[str, float] = {}
    molar: dict[str, Any] = {}
    for name, (value, unit) in raw.items():
        basis, factor = _RAW_UNITS[unit]
        (molal if basis == "molal" else molar)[name] = value * factor
    for name, given in extra.items():
        try:
            values, basis = concentration(given, argument=f"overrides[{name!r}]")
        except (TypeError, ValueError) as err:
            raise InvalidArgument(f"solutions: an override drew an invalid total: {err}") from err
        if np.ndim(values):
            raise InvalidArgument(f"overrides[{name!r}] drew {given!r}; draw one value a row")
        (molal if basis == "molal" else molar)[name] = float(values)
    if molar:
        molal.update({n: float(v) for n, v in molar_to_molal(molar).items()})
    return molal


def _balanced(totals: dict[str, FloatArray], cap: float) -> dict[str, FloatArray]:
    """Add sodium or chloride to cancel the nominal charge; scale down if above ``cap``.

    ``totals`` are molalities of one batch (flat arrays, keyed by component).
    """
    nominal = _nominal_charges()
    out = {k: np.array(v, dtype=np.float64) for k, v in totals.items()}
    for k in nominal:
        out.setdefault(k, np.zeros_like(next(iter(out.values()))))
    charge = sum(nominal[k] * out[k] for k in nominal)
    # 12 digits: the sum's own, without the binary noise of the last bits
    for key, added in (("Cl", np.maximum(charge, 0.0)), ("Na", np.maximum(-charge, 0.0))):
        out[key] = np.array([_round_significant(x, 12) for x in out[key] + added])
    largest = np.max(np.stack(list(out.values())), axis=0)
    factor = np.where(largest > cap, cap / np.where(largest > 0, largest, 1.0), 1.0)
    # scaling keeps the balance; a total it takes below MIN_TOTAL is raised back to it,
    # which unbalances the row by at most 10 x 1e-12 eq/kg
    return {k: np.where(v > 0, np.maximum(v * factor, MIN_TOTAL), 0.0) for k, v in out.items()}


def _shape_strategy(shape: Any) -> st.SearchStrategy[tuple[int, ...]]:
    if isinstance(shape, st.SearchStrategy):
        return shape
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if not (
        isinstance(shape, tuple)
        and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in shape)
    ):
        raise InvalidArgument(
            f"shape={shape!r} must be a tuple of non-negative ints, such as () or (3,), or a "
            f"strategy of them, e.g. hypothesis.extra.numpy.array_shapes(min_dims=0)"
        )
    return st.just(shape)


def solutions(
    *,
    shape: tuple[int, ...] | st.SearchStrategy[tuple[int, ...]] = (),
    fluid: str | None = None,
    ph: str | st.SearchStrategy[float] | None = "fixed",
    temperature: st.SearchStrategy[Any] | None = None,
    components: Sequence[str] | None = None,
    overrides: Mapping[str, st.SearchStrategy[Any]] | None = None,
) -> st.SearchStrategy[Solution]:
    """Batches of solutions, :class:`oxalate.Solution`, of any shape.

    Each row is drawn on its own (:func:`compositions`, a pH and a
    temperature) and the batch is built with the rows' molalities.  A batch
    of n rows holds 1 to n distinct rows, repeated in turn: that is what
    lets a failing batch shrink to the one row that fails.

    Parameters
    ----------
    shape : tuple of int or SearchStrategy of tuple
        The batch shape: ``()`` (one solution, 0-d), ``(n,)``, any n-d
        shape, ``(0,)`` for an empty batch; or a strategy such as
        ``hypothesis.extra.numpy.array_shapes(min_dims=0, max_side=4)``,
        which shrinks towards one row.
    fluid : {None, "urine", "plasma", "ultrafiltrate"}
        As in :func:`compositions`; also sets the pH range and 37 °C.
    ph : {"fixed", "charge_balance", None} or SearchStrategy of float
        ``"fixed"``: each row has a pH (:func:`ph_values` of the fluid).
        ``"charge_balance"``: ``pH=None`` (solved from electroneutrality by
        :func:`oxalate.speciate`), and each row gets the sodium or chloride
        that cancels its nominal charge (phosphate counted -1.5 and
        carbonate -1), standing for the ions the engine does not model;
        a row whose totals would then exceed 1 mol/kg is scaled down, so
        the pH found lies near the solution's buffers.  ``None``: either of
        the two, drawn.  A strategy: fixed pH values drawn from it.
    temperature : SearchStrategy of pint.Quantity, optional
        Default :func:`temperatures` of the fluid (0-100 °C, or 37 °C).
    components, overrides
        As in :func:`compositions`.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of oxalate.Solution

    Raises
    ------
    hypothesis.errors.InvalidArgument
        A ``temperature`` that is not a strategy, an unknown ``ph`` mode,
        fluid, component or a bad shape.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> import numpy as np
    >>> import oxalate
    >>> from oxalate.testing import strategies as ost
    >>> @settings(max_examples=10)
    ... @given(ost.solutions(shape=(3,), fluid="urine"))
    ... def test_speciation_converges(solution):
    ...     assert np.all(oxalate.speciate(solution).converged)
    >>> test_speciation_converges()
    """
    _check_fluid(fluid)
    shapes = _shape_strategy(shape)
    celsius: st.SearchStrategy[Any]
    if temperature is None:
        celsius = _celsius(fluid, None, None)  # floats: pint is the slow part of a draw
    else:
        _check_strategy(temperature, "temperature", "ost.temperatures(min_value='20 degC')")
        celsius = temperature
    modes: st.SearchStrategy[str]
    ph_strategy: st.SearchStrategy[float]
    if isinstance(ph, st.SearchStrategy):
        modes, ph_strategy = st.just("fixed"), ph
    elif ph in ("fixed", "charge_balance"):
        modes, ph_strategy = st.just(ph), ph_values(fluid=fluid)
    elif ph is None:
        modes, ph_strategy = st.sampled_from(["fixed", "charge_balance"]), ph_values(fluid=fluid)
    else:
        raise InvalidArgument(
            f"ph={ph!r} is not known; accepted: 'fixed', 'charge_balance', None (either) or a "
            f"strategy of pH values such as ost.ph_values(min_value=5, max_value=7)"
        )
    names = _components(fluid, components)
    extra = _overrides(overrides)
    raw = _raw_compositions(fluid, tuple(n for n in names if n not in extra))
    rows = st.tuples(raw, st.fixed_dictionaries(extra), ph_strategy, celsius)
    return _solutions(shapes, modes, rows, temperature is not None)


@st.composite
def _solutions(
    draw: st.DrawFn,
    shapes: st.SearchStrategy[tuple[int, ...]],
    modes: st.SearchStrategy[str],
    rows: st.SearchStrategy[tuple[_Raw, dict[str, Any], float, Any]],
    user_temperature: bool,
) -> Solution:
    shape = tuple(draw(shapes))
    n = math.prod(shape)
    mode = draw(modes)
    # Distinct rows are drawn as a list of 1 to n and repeated to fill the batch: hypothesis
    # shrinks a list by deleting any element, so a failing batch shrinks to its one
    # failing row (then to a smaller shape), which a list of exactly n rows cannot do.
    pool = draw(st.lists(rows, min_size=min(n, 1), max_size=n))
    molal = {k: np.zeros(n) for k in chemical_system().solutes}
    kelvin = np.zeros(n)
    ph = np.zeros(n)
    for i in range(n):
        raw, extra, ph_i, t_i = pool[i % len(pool)]
        for name, value in _molalities(raw, extra).items():
            # molar inputs come back from the density conversion with many digits: round
            # to the digits drawn, so that a counterexample reads as it was drawn
            molal[ANALYTES[name]][i] = _round_significant(value)
        ph[i] = _drawn_ph(ph_i)
        kelvin[i] = _drawn_kelvin(t_i) if user_temperature else t_i + 273.15
    if mode == "charge_balance":
        molal = _balanced(molal, MAX_TOTAL)
    return Solution.from_arrays(
        {k: v.reshape(shape) for k, v in molal.items()},
        pH=None if mode == "charge_balance" else ph.reshape(shape),
        temperature_kelvin=kelvin.reshape(shape),
    )


def _drawn_kelvin(value: Any) -> float:
    """A temperature drawn by the user's strategy, in kelvin (it must carry units)."""
    try:
        return float(temperature_kelvin(value))
    except (TypeError, ValueError) as err:
        raise InvalidArgument(
            f"solutions: the temperature strategy drew {value!r}: {err}"
        ) from err


def _drawn_ph(value: Any) -> float:
    """A pH drawn (maybe by the user's strategy): a number in 0-14."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 14:
        raise InvalidArgument(f"solutions: the pH strategy drew {value!r}, not a pH in 0-14")
    return float(value)


def _from_type(_: type) -> st.SearchStrategy[Solution]:
    """What ``st.from_type(oxalate.Solution)`` draws: the wide range, 0-d or up to 4 rows."""
    from hypothesis.extra.numpy import array_shapes

    return solutions(shape=array_shapes(min_dims=0, max_dims=1, max_side=4), ph=None)
