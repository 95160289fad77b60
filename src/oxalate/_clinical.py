"""Clinical amounts: 24-hour volumes, daily excretion and concentrations in clinical units.

A private home for what :mod:`oxalate.fluids` and :mod:`oxalate.indices`
share.
"""

from __future__ import annotations

import warnings
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from ._errors import OxalateInputWarning, user_stacklevel
from ._quantities import OnInvalid, check_values, dimensionality, molar_mass_of, to_quantity
from .database import analyte
from .solution import ANALYTES
from .units import concentration

__all__ = ["clinical_magnitude", "equivalent_charge", "is_daily", "volume_per_day"]

FloatArray: TypeAlias = npt.NDArray[np.float64]


def equivalent_charge(name: str, argument: str) -> float:
    charge = analyte(name).equivalent_charge
    if not charge:
        raise ValueError(
            f"{argument}: mEq is not accepted for {name}, whose charge depends on pH; "
            f"give it in mmol"
        )
    return charge


def volume_per_day(volume: Any, on_invalid: OnInvalid = "raise") -> FloatArray:
    """A 24 h urine volume in L/d; a plain volume is the 24 h collection.

    With ``on_invalid="nan"`` a volume that is not positive and finite becomes
    NaN (its row NaN in every result), with one warning, instead of an error.
    """
    quantity, equivalents, basis = to_quantity(volume, "volume")
    if equivalents or basis is not None:
        raise ValueError(f"volume={volume!r} is not a volume; pass e.g. '1.6 L/d'")
    dims = quantity.dimensionality
    if dims == dimensionality("L/day"):
        litres = quantity.m_as("L/day")
    elif dims == dimensionality("L"):
        litres = quantity.m_as("L")
    else:
        raise ValueError(
            f"volume={quantity!s} is not a urine volume; pass e.g. '1.6 L/d', '1600 mL/24 h' "
            f"or '1.6 L' (taken as the volume of a 24 h collection)"
        )
    values = np.asarray(litres, dtype=np.float64)
    bad = ~np.isfinite(values) | (values <= 0)
    if bad.any() and on_invalid == "nan":
        warnings.warn(
            f"volume has {int(bad.sum())} value(s) that are not positive and finite "
            f"(at index {np.argwhere(bad)[:5].tolist()}); those rows were set to NaN",
            OxalateInputWarning,
            stacklevel=user_stacklevel(),
        )
        return np.asarray(np.where(bad, np.nan, values), dtype=np.float64)
    if bad.any():
        shown = (
            f"{float(values)!r} L/d"
            if values.ndim == 0
            else f"at index {np.argwhere(bad)[:5].tolist()}"
        )
        raise ValueError(
            f"volume has {int(bad.sum())} value(s) that are not positive and finite "
            f"({shown}); a urine volume must be > 0"
        )
    return values


def is_daily(quantity: Any) -> bool:
    dims = quantity.dimensionality
    return bool(dims == dimensionality("mol/day") or dims == dimensionality("g/day"))


def _daily_moles(
    quantity: Any, equivalents: int, basis: str | None, name: str, on_invalid: OnInvalid
) -> FloatArray:
    """A daily amount (mol/d, g/d, Eq/d) in mol/d."""
    if quantity.dimensionality == dimensionality("g/day"):
        if basis is None and name in ("phosphate", "sulfate"):
            element = "P" if name == "phosphate" else "S"
            raise ValueError(
                f"{name}={quantity!s}: a mass of {name} is ambiguous; say what it is a mass of, "
                f"e.g. '1000 mg/d as {element}' (the clinical convention) or "
                f"'as {element}O4', or give it in mmol/d"
            )
        moles = np.asarray(quantity.m_as("g/day"), dtype=np.float64) / molar_mass_of(
            name, basis, name
        )
    else:
        if basis is not None:
            raise ValueError(f"{name}: 'as {basis}' applies only to masses (mg/d)")
        moles = np.asarray(quantity.m_as("mol/day"), dtype=np.float64)
    if equivalents:
        moles = moles / equivalent_charge(name, name)
    return check_values(np.asarray(moles, dtype=np.float64), name, on_invalid)


def clinical_magnitude(
    value: Any, name: str, volume: FloatArray | None, on_invalid: OnInvalid
) -> tuple[FloatArray, str]:
    """One clinical value as (magnitude, "molar" [mol/L] or "molal" [mol/kg])."""
    if name not in ANALYTES:
        raise ValueError(f"analyte={name!r} is not known; accepted: {', '.join(ANALYTES)}")
    quantity, equivalents, basis = to_quantity(value, name)
    if is_daily(quantity):
        if volume is None:
            raise ValueError(
                f"{name}={quantity!s} is a daily amount; it needs the urine volume to become a "
                f"concentration: pass volume='1.6 L/d' (or the volume of the 24 h collection)"
            )
        return _daily_moles(quantity, equivalents, basis, name, on_invalid) / volume, "molar"
    dims = quantity.dimensionality
    if dims == dimensionality("mol") or dims == dimensionality("g"):
        raise ValueError(
            f"{name}={quantity!s} is an amount without a time or a volume; give a daily "
            f"amount such as '250 mg/d' with volume=, or a concentration such as '2.5 mmol/L'"
        )
    values, kind = concentration(value, argument=name, on_invalid=on_invalid)
    return values, kind
