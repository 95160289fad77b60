"""Units at the edge: parsing and converting concentrations and temperatures.

Everything the user hands to oxalate passes through this module once.  It
accepts pint Quantities (scalar or array) from the *application registry*
(``pint.get_application_registry()``), so quantities built by the user, by
pint-xarray or by pint-pandas combine with ours, and strings such as
``"4 mmol/L"``, ``"16 mg/dL"``, ``"140 mEq/L"``, ``"3.4 mg/dL as P"`` or
``"37 degC"``.  Inside the library everything is a float array in fixed units:
mol/kg of water (molality), mol/L (molarity) and kelvin.

No registry setting is changed and no unit is defined: equivalents (``mEq``)
and the clinical "as P" / "as S" bases are handled here, before pint sees the
string.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pint

from ._errors import OxalateInputWarning
from ._quantities import (
    CLINICAL_BASES,
    STRING_RE,
    Expressed,
    OnInvalid,
    analyte_or_error,
    check_text,
    check_values,
    check_water_left,
    dimensionality,
    format_accepted,
    molar_mass_of,
    registry,
    to_quantity,
    where_text,
)
from .database import analyte

__all__ = [
    "Expressed",
    "Quantity",
    "as_molality",
    "concentration",
    "expressed_as",
    "molar_to_molal",
    "temperature_kelvin",
    "ureg",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
Basis = Literal["molal", "molar"]


class _RegistryProxy:
    """Always the *current* application registry (``pint.set_application_registry`` aware)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(registry(), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return registry()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<oxalate.ureg: {registry()!r}>"


#: The unit registry oxalate uses: pint's application registry.
ureg: Any = _RegistryProxy()


def Quantity(value: Any, units: Any = None) -> Any:  # noqa: N802 - mirrors pint's class name
    """Build a Quantity in the application registry, like ``ureg.Quantity``.

    A scalar magnitude stays a scalar even when another package has set the
    registry's ``force_ndarray_like`` (pint-xarray does, on import), so that
    oxalate's scalar results are the same with or without it.

    Examples
    --------
    >>> import oxalate
    >>> oxalate.Quantity(4, "mmol/L")
    <Quantity(4, 'millimole / liter')>
    """
    q = registry().Quantity(value, units)
    magnitude = q.magnitude
    if (
        not isinstance(value, np.ndarray)
        and isinstance(magnitude, np.ndarray)
        and not magnitude.shape
    ):
        q._magnitude = magnitude[()]  # undo force_ndarray_like for a scalar
    return q


def expressed_as(quantity: Any, basis: str) -> Expressed:
    """Tag a mass concentration of phosphate or sulfate with its basis.

    Parameters
    ----------
    quantity : pint.Quantity or str
        A mass concentration such as ``"3.4 mg/dL"``.
    basis : {"P", "PO4", "S", "SO4"}
        What the mass is a mass *of*.

    Returns
    -------
    Expressed

    Examples
    --------
    >>> from oxalate.units import concentration, expressed_as
    >>> value, basis = concentration(expressed_as("3.1 mg/dL", "P"), argument="phosphate")
    >>> round(float(value) * 1e3, 4), basis
    (1.0008, 'molar')
    """
    if basis not in CLINICAL_BASES:
        raise ValueError(f"basis={basis!r} is not known; accepted: {sorted(CLINICAL_BASES)}")
    return Expressed(quantity, basis)


def concentration(
    value: Any,
    *,
    argument: str,
    analyte_name: str | None = None,
    on_invalid: OnInvalid = "raise",
) -> tuple[FloatArray, Basis]:
    """Convert a user concentration to a float array in mol/kg or mol/L.

    Parameters
    ----------
    value : pint.Quantity, str or Expressed
        Amount-of-substance per mass of water (``mol/kg``), per volume
        (``mmol/L``), mass per volume (``mg/dL``, needs the analyte's molar
        mass) or equivalents per volume (``mEq/L``, needs its charge).
    argument : str
        The name of the argument, used in error messages.
    analyte_name : str, optional
        The analyte (``"calcium"``, ``"oxalate"``, ...); defaults to
        ``argument``.  Needed for mass and equivalent units.
    on_invalid : {"raise", "nan"}
        What to do with negative, NaN or infinite values: raise
        :class:`ValueError` naming the argument and the index, or set those
        rows to NaN with an :class:`~oxalate.OxalateInputWarning`.

    Returns
    -------
    values : numpy.ndarray
        The magnitudes, in mol/kg of water when ``basis == "molal"`` and in
        mol/L when ``basis == "molar"``.
    basis : {"molal", "molar"}

    Raises
    ------
    TypeError
        For a bare number (no units).
    ValueError
        For a wrong dimension, an unknown unit, or invalid values.

    Examples
    --------
    >>> from oxalate.units import concentration
    >>> concentration("10 mg/dL", argument="calcium")
    (array(0.00249513), 'molar')
    >>> concentration("140 mEq/L", argument="sodium")
    (array(0.14), 'molar')
    >>> concentration("0.3 mmol/kg", argument="oxalate")
    (array(0.0003), 'molal')
    """
    if on_invalid not in ("raise", "nan"):
        raise ValueError(f"on_invalid={on_invalid!r} is not known; accepted: 'raise', 'nan'")
    name = analyte_name or argument
    quantity, equivalents, basis = to_quantity(value, argument)
    dims = quantity.dimensionality
    magnitude: Any
    kind: Basis
    if dims == dimensionality("mol/kg"):
        magnitude, kind = quantity.m_as("mol/kg"), "molal"
    elif dims == dimensionality("mol/L"):
        magnitude, kind = quantity.m_as("mol/L"), "molar"
    elif dims == dimensionality("g/L"):
        molar_mass = molar_mass_of(name, basis, argument)
        magnitude, kind = quantity.m_as("g/L") / molar_mass, "molar"
    elif dims == dimensionality("mol/day") or dims == dimensionality("g/day"):
        raise ValueError(
            f"{argument}={quantity!s} is a daily amount; it needs a urine volume to become a "
            f"concentration. Use oxalate.fluids.urine_24h(..., volume='1.6 L/d')."
        )
    else:
        raise ValueError(
            f"{argument}={quantity!s} has dimension {dims}, not a concentration; "
            f"{format_accepted(argument)}"
        )
    if equivalents:
        info = analyte_or_error(name, argument)
        if not info.equivalent_charge:
            raise ValueError(
                f"{argument}: mEq/L is not accepted for {name}, whose charge depends on pH; "
                f"give it in mmol/L"
            )
        magnitude = np.asarray(magnitude) / info.equivalent_charge
    if basis is not None and dims != dimensionality("g/L"):
        raise ValueError(f"{argument}: 'as {basis}' applies only to mass concentrations (mg/dL)")
    values = np.asarray(magnitude, dtype=np.float64)
    return check_values(values, argument, on_invalid), kind


def molar_to_molal(
    molar: dict[str, FloatArray], density: FloatArray | float = 1.0
) -> dict[str, FloatArray]:
    """Convert molarities to molalities with PHREEQC's convention.

    .. math:: m_i = c_i / (\\rho - \\sum_j c_j M_j / 1000)

    Parameters
    ----------
    molar : dict of str to array
        Molarities [mol/L] keyed by analyte name (``"calcium"``, ...).  Every
        analyte's molar mass contributes to the solute mass.
    density : float or array
        Solution density. [kg/L]

    Returns
    -------
    dict of str to array
        Molalities. [mol/kg water]

    Examples
    --------
    >>> from oxalate.units import molar_to_molal
    >>> m = molar_to_molal({"calcium": 0.005, "chloride": 0.010}, density=1.0)
    >>> round(float(m["calcium"]), 8)
    0.00500278
    """
    return _to_molal(molar, density, "raise")[0]


def _to_molal(
    molar: dict[str, FloatArray], density: Any, on_invalid: OnInvalid
) -> tuple[dict[str, FloatArray], npt.NDArray[np.bool_]]:
    """:func:`molar_to_molal`, and the rows that leave no water (NaN with ``"nan"``)."""
    solute = sum(
        (
            np.asarray(c, dtype=np.float64) * analyte(k).molar_mass / 1000.0
            for k, c in molar.items()
        ),
        start=np.float64(0.0),
    )
    water = np.asarray(density, dtype=np.float64) - solute
    bad = check_water_left(water, solute, density, tuple(molar), on_invalid)
    if bad.any():
        water = np.where(bad, np.nan, water)
    return {k: np.asarray(c, dtype=np.float64) / water for k, c in molar.items()}, bad


def as_molality(
    values: dict[str, Any],
    *,
    density: Any = None,
    on_invalid: OnInvalid = "raise",
) -> dict[str, FloatArray]:
    """Parse several concentrations and bring them all to molality.

    Molal inputs are taken as they are; molar, mass and equivalent inputs are
    converted with :func:`molar_to_molal`, the solute mass counting *every*
    analyte given in molar form.

    Parameters
    ----------
    values : dict of str to Quantity or str
        Concentrations keyed by analyte name.
    density : Quantity or str, optional
        Solution density, default ``"1.0 kg/L"``.
    on_invalid : {"raise", "nan"}
        See :func:`concentration`.

    Returns
    -------
    dict of str to numpy.ndarray
        Molalities [mol/kg water], broadcast to a common shape.

    Examples
    --------
    >>> from oxalate.units import as_molality
    >>> m = as_molality({"calcium": "5 mmol/L", "oxalate": "0.3 mmol/kg"})
    >>> round(float(m["calcium"]) * 1e3, 5), round(float(m["oxalate"]) * 1e3, 5)
    (5.001, 0.3)
    """
    parsed = {
        name: concentration(v, argument=name, on_invalid=on_invalid) for name, v in values.items()
    }
    molar = {k: v for k, (v, basis) in parsed.items() if basis == "molar"}
    out = {k: v for k, (v, basis) in parsed.items() if basis == "molal"}
    shape = _broadcast_shape({k: np.shape(v) for k, (v, _) in parsed.items()})
    if molar:
        molal, bad = _to_molal(molar, solution_density(density), on_invalid)
        if bad.any():  # the row is not a solution: NaN for every analyte
            out = {k: np.where(bad, np.nan, v) for k, v in out.items()}
        out.update(molal)
    return {k: np.broadcast_to(out[k], shape) for k in values}


def _broadcast_shape(shapes: dict[str, tuple[int, ...]]) -> tuple[int, ...]:
    """The shape the arrays broadcast to, or ValueError naming each argument's shape."""
    try:
        return tuple(np.broadcast_shapes(*shapes.values()))
    except ValueError:
        listed = ", ".join(f"{k} {v}" for k, v in shapes.items())
        raise ValueError(f"the arguments' shapes do not broadcast together: {listed}") from None


def solution_density(density: Any) -> FloatArray:
    """Parse a solution density, default 1.0 kg/L. [kg/L]

    Examples
    --------
    >>> from oxalate.units import solution_density
    >>> float(solution_density("1.015 g/mL"))
    1.015
    """
    if density is None:
        return np.asarray(1.0)
    quantity, _, _ = to_quantity(density, "density")
    try:
        rho = np.asarray(quantity.m_as("kg/L"), dtype=np.float64)
    except pint.errors.DimensionalityError:
        raise ValueError(
            f"density={quantity!s} is not a density; pass e.g. '1.02 kg/L' or '1.02 g/mL'"
        ) from None
    if np.any(~np.isfinite(rho) | (rho < 0.5) | (rho > 2.0)):
        raise ValueError(f"density={quantity!s} must be between 0.5 and 2 kg/L")
    return rho


#: Temperatures accepted by the models [K]: liquid water at 1 atm.
T_MIN, T_MAX = 273.15, 373.15


def temperature_kelvin(
    value: Any, *, argument: str = "temperature", on_invalid: OnInvalid = "raise"
) -> FloatArray:
    """Parse a temperature and return it in kelvin.

    Parameters
    ----------
    value : pint.Quantity or str
        ``"37 degC"``, ``"37 °C"``, ``"310.15 K"`` or a Quantity in degC, K or
        degF, scalar or array.  It must lie in 0-100 °C.
    argument : str
        Name used in error messages.
    on_invalid : {"raise", "nan"}
        A temperature outside 0-100 °C (or NaN) raises ``ValueError`` naming
        the row (the default), or makes that row NaN with an
        :class:`~oxalate.OxalateInputWarning`.

    Returns
    -------
    numpy.ndarray
        Temperature. [K]

    Examples
    --------
    >>> from oxalate.units import temperature_kelvin
    >>> temperature_kelvin("37 degC")
    array(310.15)
    """
    if isinstance(value, str):
        check_text(value, argument)
        match = STRING_RE.match(value)
        if match is None or not match.group("unit"):
            raise ValueError(
                f"{argument}={value!r} is not a number with a unit; "
                f"pass e.g. '37 degC' or '310.15 K'"
            )
        unit = match.group("unit").replace("°C", "degC").replace("° C", "degC")
        unit = {"C": "degC", "F": "degF", "°F": "degF"}.get(unit, unit)
        try:
            quantity = registry().Quantity(float(match.group("num")), unit)
        except pint.errors.UndefinedUnitError:
            raise ValueError(
                f"{argument}={value!r}: unit {unit!r} is not a temperature unit; "
                f"pass e.g. '37 degC' or '310.15 K'"
            ) from None
    elif isinstance(value, pint.Quantity):
        quantity = value
    else:
        raise TypeError(
            f"{argument}={value!r} has no units; pass e.g. '37 degC', '310.15 K' or "
            f'oxalate.Quantity(37, "degC")'
        )
    try:
        kelvin = np.asarray(quantity.m_as("K"), dtype=np.float64)
    except pint.errors.DimensionalityError:
        raise ValueError(
            f"{argument}={quantity!s} is not a temperature; pass e.g. '37 degC' or '310.15 K'"
        ) from None
    bad = ~np.isfinite(kelvin) | (kelvin < T_MIN - 1e-9) | (kelvin > T_MAX + 1e-9)
    if bad.any():
        first = kelvin[bad].ravel()[0]
        message = (
            f"{argument}: {int(bad.sum())} value(s) outside 0-100 degC ({where_text(bad)}; first: "
            f"{first - 273.15:g} degC); the activity and log K models are for liquid water "
            f"at 1 atm"
        )
        if on_invalid == "raise":
            raise ValueError(message)
        if on_invalid != "nan":
            raise ValueError(f"on_invalid={on_invalid!r} is not known; accepted: 'raise', 'nan'")
        warnings.warn(message + "; those rows were set to NaN", OxalateInputWarning, stacklevel=3)
        kelvin = np.where(bad, np.nan, kelvin)
    return kelvin
