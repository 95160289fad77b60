"""Input parsing shared by :mod:`oxalate.kinetics` and :mod:`oxalate.crystallization`.

A private home, so that neither public module imports the other's private
names (see ``docs/architecture.rst``).
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from .database import analyte, canonical_phase, chemical_system, resolve_constants
from .units import Quantity

__all__ = ["phase_info", "plain_number", "quantity_array"]

FloatArray: TypeAlias = npt.NDArray[np.float64]


def quantity_array(
    value: Any,
    unit: str,
    argument: str,
    example: str,
    *,
    positive: bool = False,
    allow_inf: bool = False,
) -> FloatArray:
    """A Quantity (or string with units) as a float array in ``unit``, validated."""
    if isinstance(value, str):
        try:
            value = Quantity(value)
        except Exception as err:  # pint's parse errors
            raise ValueError(
                f"{argument}={value!r} is not understood; give e.g. {example}"
            ) from err
    if not hasattr(value, "m_as"):
        raise TypeError(f"{argument}={value!r} has no units; give e.g. {example}")
    try:
        out = np.asarray(value.m_as(unit), dtype=np.float64)
    except Exception as err:  # pint's DimensionalityError
        raise ValueError(
            f"{argument}={value!s} cannot be expressed in {unit}; give e.g. {example}"
        ) from err
    bad = (
        np.isnan(out)
        | (out < 0)
        | (~np.isfinite(out) if not allow_inf else np.zeros_like(out, bool))
    )
    if positive:
        bad |= out <= 0
    if bad.any():
        need = "positive and finite" if positive else "finite and >= 0"
        where = (
            f"{float(out):g} {unit}" if out.ndim == 0 else f"at {np.argwhere(bad)[:5].tolist()}"
        )
        raise ValueError(f"{argument} has {int(bad.sum())} value(s) that are not {need} ({where})")
    return out


def plain_number(
    value: Any, argument: str, *, low: float = 0.0, strict: bool = False
) -> FloatArray:
    """A plain number (or array) such as an order, validated."""
    if hasattr(value, "m_as"):
        value = value.m_as("")
    try:
        out = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{argument}={value!r} must be a number") from None
    bad = ~np.isfinite(out) | ((out <= low) if strict else (out < low))
    if bad.any():
        sign = ">" if strict else ">="
        raise ValueError(f"{argument}={value!r} must be finite and {sign} {low:g}")
    return out


def phase_info(phase: str, constants: Any) -> tuple[str, int, float]:
    """Canonical key, ions per formula unit and molar mass [kg/mol] of a phase."""
    cs = resolve_constants(constants)
    key = canonical_phase(phase, cs)
    s = cs.solids[key]
    system = chemical_system()
    mass = 0.0
    for c, n in zip(system.components, s.stoichiometry, strict=True):
        if c == "H":
            mass += n * 1.00794e-3  # wieser2006
        elif n:
            mass += n * analyte(c).molar_mass * 1e-3
    mass += s.water * 18.01528e-3  # database.WATER_MOLAR_MASS (wieser2006)
    return key, int(s.ions), mass
