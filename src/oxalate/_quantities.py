"""The unit layer's core: pint's registry, parsing unit strings, checking values.

A private home for what :mod:`oxalate.units`, :mod:`oxalate.fluids`,
:mod:`oxalate.equil2` and :mod:`oxalate.indices` share; the public functions
are in :mod:`oxalate.units`.
"""

from __future__ import annotations

import re
import threading
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pint

from ._errors import OxalateInputWarning
from .database import Analyte, analyte

__all__ = [
    "CLINICAL_BASES",
    "STRING_RE",
    "Expressed",
    "OnInvalid",
    "analyte_or_error",
    "check_text",
    "check_values",
    "check_water_left",
    "dimensionality",
    "format_accepted",
    "molar_mass_of",
    "registry",
    "short",
    "to_quantity",
    "where_text",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
OnInvalid = Literal["raise", "nan"]


_BUILT: set[int] = set()
_BUILD_LOCK = threading.Lock()


def registry() -> Any:
    """pint's application registry, built once under a lock on first use.

    pint builds its default registry lazily, on the first attribute access,
    and two threads doing that at once can see it half-built ("'mmol' is not
    defined"; hgrecco/pint#2039).  The first call here builds it under a lock,
    so that calls of oxalate from several threads are safe; no setting changes.
    """
    app = pint.get_application_registry()  # type: ignore[no-untyped-call]
    inner = app.get()
    if id(inner) not in _BUILT:
        with _BUILD_LOCK:
            if id(inner) not in _BUILT:
                inner.Quantity  # noqa: B018 - attribute access completes a LazyRegistry
                _BUILT.add(id(inner))
    return app


@dataclass(frozen=True)
class Expressed:
    """A mass concentration tagged with the basis it is expressed as.

    Phosphate reported in mg/dL "as P" and sulfate "as S" are clinical
    conventions; the same number "as PO4" means three times as much phosphate.
    Build one with :func:`expressed_as`.
    """

    quantity: Any
    basis: str


# Molar masses of the clinical bases [g/mol] (wieser2006).
CLINICAL_BASES: dict[str, tuple[str, float]] = {
    "P": ("phosphate", 30.97376),
    "PO4": ("phosphate", 94.971),
    "S": ("sulfate", 32.065),
    "SO4": ("sulfate", 96.06),
}

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|NaN|inf|-inf"
STRING_RE = re.compile(rf"^\s*(?P<num>{_NUMBER})\s*(?P<unit>.*?)\s*$")
_AS_RE = re.compile(r"\s+as\s+(?P<basis>[A-Za-z0-9]+)\s*$")
_EQ_RE = re.compile(r"(?<![A-Za-z])(?P<prefix>[mµu]?)(?:Eq|eq|EQ)(?![A-Za-z])")
_PER_DAY_RE = re.compile(r"/\s*\(?\s*24\s*-?\s*(?:h|hr|hrs|hour|hours)\s*\)?")

_EXAMPLES = '"4 mmol/L", "4 mmol/kg", "16 mg/dL", "140 mEq/L" or oxalate.Quantity(4, "mmol/L")'


#: The longest text accepted where a number with a unit is expected (longer text is
#: refused before any pattern or pint looks at it).
MAX_TEXT = 200


def short(text: str, limit: int = 60) -> str:
    """``text`` for an error message: its start and its length when it is long."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} characters)"


def check_text(text: str, argument: str) -> None:
    """Refuse text too long to be a number with a unit (naming the argument)."""
    if len(text) > MAX_TEXT:
        raise ValueError(
            f"{argument}={short(text)} is longer than {MAX_TEXT} characters; give a number and "
            f"a unit such as '4 mmol/L'"
        )


def format_accepted(argument: str) -> str:
    return f"pass {argument} as a pint Quantity or a string with units, e.g. {_EXAMPLES}"


def _parse_string(text: str, argument: str) -> tuple[Any, int, str | None]:
    """Split ``"3.4 mg/dL as P"`` into a Quantity, an equivalents flag and a basis."""
    check_text(text, argument)
    basis: str | None = None
    match_as = _AS_RE.search(text)
    if match_as:
        basis = match_as.group("basis")
        text = text[: match_as.start()]
    match = STRING_RE.match(text)
    if match is None or not match.group("unit"):
        raise ValueError(
            f"{argument}={short(text)} is not a number followed by a unit; "
            f"{format_accepted(argument)}"
        )
    unit = match.group("unit")
    unit = _PER_DAY_RE.sub("/day", unit)
    unit = unit.replace("molal", "mol/kg")
    equivalents = 0
    if _EQ_RE.search(unit):
        equivalents = 1
        unit = _EQ_RE.sub(lambda m: (m.group("prefix") or "").replace("µ", "u") + "mol", unit)
    try:
        quantity = registry().Quantity(float(match.group("num")), unit)
    except (
        pint.errors.UndefinedUnitError,
        pint.errors.DefinitionSyntaxError,
        ValueError,
        RecursionError,
    ) as err:
        raise ValueError(
            f"{argument}={short(text)}: unit {short(unit)} is not understood "
            f"({short(str(err), 100)}); {format_accepted(argument)}"
        ) from None
    return quantity, equivalents, basis


def to_quantity(value: Any, argument: str) -> tuple[Any, int, str | None]:
    if isinstance(value, Expressed):
        quantity, equivalents, _ = to_quantity(value.quantity, argument)
        return quantity, equivalents, value.basis
    if isinstance(value, str):
        return _parse_string(value, argument)
    if isinstance(value, pint.Quantity):
        return value, 0, None
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        raise TypeError(
            f"{argument} is a list of strings; pass one Quantity with an array magnitude, "
            f'e.g. oxalate.Quantity([2.5, 4.0], "mmol/L")'
        )
    raise TypeError(
        f"{argument}={value!r} has no units. {format_accepted(argument)}. "
        f"Bare numbers are refused because mmol/L, mol/kg and mg/dL differ by orders of magnitude."
    )


def check_values(
    values: FloatArray, argument: str, on_invalid: OnInvalid, *, allow_zero: bool = True
) -> FloatArray:
    bad = ~np.isfinite(values) | (values < 0 if allow_zero else values <= 0)
    if not bad.any():
        return values
    index = np.argwhere(bad)
    first = [tuple(int(i) for i in row) for row in index[:5]]
    shown = ", ".join(
        f"index {i[0] if len(i) == 1 else i}: {float(values[i])!r}"
        if i
        else f"{float(values[()])!r}"
        for i in first
    )
    reason = "negative, NaN or infinite" if allow_zero else "not positive and finite"
    if on_invalid == "raise":
        more = f" (and {len(index) - 5} more)" if len(index) > 5 else ""
        raise ValueError(
            f"{argument} has {len(index)} {reason} value(s) ({shown}{more}); "
            f"concentrations must be finite and >= 0. "
            f"Pass on_invalid='nan' to keep the other rows."
        )
    if on_invalid != "nan":
        raise ValueError(f"on_invalid={on_invalid!r} is not known; accepted: 'raise', 'nan'")
    warnings.warn(
        f"{argument}: {len(index)} row(s) {reason} were set to NaN ({shown})",
        OxalateInputWarning,
        stacklevel=3,
    )
    values = values.copy()
    values[bad] = np.nan
    return values


@cache
def dimensionality(unit: str) -> Any:
    return registry().Quantity(1.0, unit).dimensionality


def analyte_or_error(name: str, argument: str) -> Analyte:
    try:
        return analyte(name)
    except KeyError as err:
        raise ValueError(
            f"{argument}: mass and equivalent units need a known analyte, and {name!r} is not "
            f"one ({err.args[0]})"
        ) from None


def molar_mass_of(name: str, basis: str | None, argument: str) -> float:
    if basis is not None:
        if basis not in CLINICAL_BASES:
            raise ValueError(
                f"{argument}: 'as {basis}' is not known; accepted: {sorted(CLINICAL_BASES)}"
            )
        owner, mass = CLINICAL_BASES[basis]
        if owner != name:
            raise ValueError(f"{argument}: 'as {basis}' is a basis of {owner}, not of {name}")
        return mass
    if name in ("phosphate", "sulfate"):
        element = "P" if name == "phosphate" else "S"
        raise ValueError(
            f"{argument}: a mass concentration of {name} is ambiguous; say what it is a mass of, "
            f"e.g. '3.4 mg/dL as {element}' (the clinical convention) or "
            f"'10 mg/dL as {element}O4', or oxalate.units.expressed_as(q, '{element}')"
        )
    return analyte_or_error(name, argument).molar_mass


def check_water_left(
    water: FloatArray, solute: Any, density: Any, names: tuple[str, ...], on_invalid: OnInvalid
) -> npt.NDArray[np.bool_]:
    """Rows where the solutes weigh as much as the solution itself: no water is left.

    Raises naming the analytes, or (``on_invalid="nan"``) returns the mask of
    those rows after one warning.
    """
    bad = np.asarray(~(water > 0))  # NaN rows are someone else's business
    bad &= np.isfinite(np.asarray(water))
    if not bad.any():
        return bad
    where = where_text(bad)
    solute_kg = float(np.broadcast_to(solute, bad.shape)[bad].ravel()[0])
    rho = float(np.broadcast_to(np.asarray(density, dtype=np.float64), bad.shape)[bad].ravel()[0])
    message = (
        f"{', '.join(names)}: {int(bad.sum())} row(s) ({where}) have solutes weighing "
        f"{solute_kg:.3g} kg per litre, not less than the solution's density {rho:g} kg/L: "
        f"no water would be left (molar concentrations that high are not physical)"
    )
    if on_invalid == "raise":
        raise ValueError(message + "; pass on_invalid='nan' to keep the other rows")
    warnings.warn(message + "; those rows were set to NaN", OxalateInputWarning, stacklevel=4)
    return bad


def where_text(bad: Any) -> str:
    """Where a mask is true, for messages: ``"index 3"``, ``"index (1, 2)"`` or the scalar."""
    bad = np.asarray(bad)
    if bad.ndim == 0:
        return "the value"
    rows = [tuple(int(i) for i in row) for row in np.argwhere(bad)[:5]]
    shown = ", ".join(f"index {r[0] if len(r) == 1 else r}" for r in rows)
    return shown + (" and more" if int(bad.sum()) > 5 else "")
