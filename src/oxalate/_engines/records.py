"""Problem and result records: what goes into an engine and the raw arrays that come out.

Every array is flat over the rows of a batch (N rows, the batch's shape is the
public layer's business).  A problem record says everything an engine needs;
a result record holds plain arrays and the per-row ``converged``, ``reason``
and ``iterations``.  ``take(rows)`` and ``put(rows, other)`` select and write
back rows, which is all the fallback from the compiled to the numpy engine
needs.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import IntEnum
from functools import cached_property
from typing import Any, TypeAlias, TypeVar

import numpy as np
import numpy.typing as npt

from .model import PhaseTable

__all__ = [
    "OK",
    "Addition",
    "PrecipitationProblem",
    "PrecipitationResult",
    "Reason",
    "SearchKind",
    "SearchProblem",
    "SearchResult",
    "SpeciationProblem",
    "SpeciationResult",
    "empty_reasons",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]
IntArray: TypeAlias = npt.NDArray[np.int64]
ObjectArray: TypeAlias = npt.NDArray[np.object_]

OK = ""


class Reason:
    """Why a row comes back NaN: the texts of ``reason``."""

    INPUT = "invalid input: a total, the pH or the temperature is NaN"
    SPECIATION = "the initial speciation did not converge"
    NEWTON = "the equilibrium with the solids did not converge"
    ACTIVE_SET = "the set of solids present did not settle"
    FINAL = "the final speciation did not converge"
    NO_PH = "no pH meets the charge balance (closed system)"
    NOT_CONVERGED = "the speciation did not converge"
    PH_RANGE = "the pH that meets the charge balance lies outside 0-14"
    PH_AFTER = "the pH the solution reaches lies outside 0-14"


class SearchKind(IntEnum):
    """What a search varies (the ``kind`` of the compiled search)."""

    THRESHOLD = 1  # ln T of one component (with a counter-ion)
    DILUTION = 2  # ln d, every total divided by d


def empty_reasons(n: int) -> ObjectArray:
    """An array of ``n`` empty reasons (rows that converged)."""
    return np.full(n, OK, dtype=object)


_Record = TypeVar("_Record", bound="_Rows")


class _Rows:
    """Row selection for records whose array fields all have the rows first."""

    def take(self: _Record, rows: Any) -> _Record:
        """The same record for the rows ``rows`` only."""
        changes: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                changes[f.name] = value[rows]
            elif isinstance(value, _Rows):
                changes[f.name] = value.take(rows)
        return replace(self, **changes)  # type: ignore[type-var]

    def grown(self: _Record, n: int) -> _Record:
        """A record like this one for ``n`` rows, not filled in (reasons empty)."""
        changes: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                if value.dtype == object:
                    changes[f.name] = np.full((n, *value.shape[1:]), OK, dtype=object)
                else:
                    changes[f.name] = np.empty((n, *value.shape[1:]), dtype=value.dtype)
            elif isinstance(value, _Rows):
                changes[f.name] = value.grown(n)
        return replace(self, **changes)  # type: ignore[type-var]

    def put(self, rows: Any, other: _Rows) -> None:
        """Write ``other``'s rows over rows ``rows`` of this record, in place."""
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                value[rows] = getattr(other, f.name)
            elif isinstance(value, _Rows):
                value.put(rows, getattr(other, f.name))


@dataclass(frozen=True)
class SpeciationProblem(_Rows):
    """A batch to speciate.

    ``totals`` (N, C) [mol/kg] over the components but H; ``temperature``
    (N,) [K]; ``ph`` (N,) the fixed pH, or the first guess where ``solve_ph``;
    ``balance`` the component adjusted to electroneutrality (-1: none);
    ``charge_offset`` (N,) the charge excess the solution keeps with a charge
    balance [eq/kg].
    """

    totals: FloatArray
    temperature: FloatArray
    ph: FloatArray
    charge_offset: FloatArray
    solve_ph: bool = False
    balance: int = -1
    tolerance: float = 1e-12
    max_iterations: int = 100
    chunk_size: int | None = None  # rows solved together; None: the engine's default

    @property
    def size(self) -> int:
        return int(self.temperature.shape[0])

    @property
    def fixed_ph(self) -> bool:
        """No charge balance: the compiled kernel's case."""
        return not self.solve_ph and self.balance < 0

    @cached_property
    def valid(self) -> BoolArray:
        """Rows whose totals, temperature and pH are all finite (computed once per record,
        read-only)."""
        out = np.asarray(
            np.all(np.isfinite(self.totals), axis=1)
            & np.isfinite(self.temperature)
            & np.isfinite(self.ph)
        )
        out.flags.writeable = False
        return out


@dataclass(frozen=True)
class SpeciationResult(_Rows):
    """Raw arrays of a speciation: ``log_gamma`` in the model's stored layout."""

    molality: FloatArray  # (N, S)
    log_gamma: FloatArray  # (N, n_gamma)
    ionic_strength: FloatArray
    water_activity: FloatArray
    pH: FloatArray
    totals: FloatArray  # (N, C), the balanced component adjusted
    converged: BoolArray
    residual: FloatArray
    iterations: IntArray
    reason: ObjectArray
    engine: str = "numpy"

    @classmethod
    def empty(
        cls, n: int, n_species: int, n_gamma: int, totals: FloatArray, *, fill: bool = True
    ) -> SpeciationResult:
        """NaN everywhere, nothing converged; ``totals`` copied.

        ``fill=False`` leaves ``molality``, ``log_gamma`` and ``totals`` (the
        big arrays) uninitialised, for a caller that writes every entry of
        them, as the compiled kernel does (NaN on the rows it does not
        converge, the totals copied block by block).  A big
        batch then writes them once, not twice.
        """
        new = np.full if fill else (lambda shape, _: np.empty(shape))
        return cls(
            molality=new((n, n_species), np.nan),
            log_gamma=new((n, n_gamma), np.nan),
            ionic_strength=np.full(n, np.nan),
            water_activity=np.full(n, np.nan),
            pH=np.full(n, np.nan),
            totals=np.array(totals, dtype=np.float64) if fill else np.empty(np.shape(totals)),
            converged=np.zeros(n, dtype=bool),
            residual=np.full(n, np.nan),
            iterations=np.zeros(n, dtype=np.int64),
            reason=empty_reasons(n),
        )


@dataclass(frozen=True)
class PrecipitationProblem(_Rows):
    """A batch to equilibrate with the phases of ``phases``.

    ``ph`` is None for solutions whose pH comes from electroneutrality;
    ``initial`` (N, P) the moles of each phase present at the start per kg
    of water.  ``start``: the speciation of ``totals`` at the fixed ``ph``,
    when the caller has it (the compiled engine then starts from a copy of
    it instead of speciating again; the numpy engine does not use it).
    """

    totals: FloatArray
    temperature: FloatArray
    ph: FloatArray | None
    initial: FloatArray
    phases: PhaseTable
    closed: bool = True
    tolerance: float = 1e-10
    max_iterations: int = 60
    chunk_size: int | None = None  # rows solved together; None: the engine's default
    start: SpeciationResult | None = None

    @property
    def size(self) -> int:
        return int(self.temperature.shape[0])


@dataclass(frozen=True)
class PrecipitationResult(_Rows):
    """Raw arrays of a precipitation; ``speciation`` is the final state's."""

    amount: FloatArray  # (N, P) per kg of initial water
    active: BoolArray  # (N, P)
    water: FloatArray  # (N,) kg per kg of initial water
    totals: FloatArray  # (N, C) per kg of the water left
    pH: FloatArray
    speciation: SpeciationResult
    converged: BoolArray
    reason: ObjectArray
    iterations: IntArray


@dataclass(frozen=True)
class Addition:
    """One component changed, with an optional counter-ion in equivalent amount.

    ``component`` and ``counter_ion`` are positions among the components but
    H (``counter_ion`` -1: none), ``ratio`` the counter-ion's moles per mole
    of the component and ``charge`` the component's charge.
    """

    component: int
    counter_ion: int
    ratio: float
    charge: float

    def ratios(self, n_components: int) -> FloatArray:
        """How each total moves per mole of the component added: (C,)."""
        out = np.zeros(n_components)
        out[self.component] = 1.0
        if self.counter_ion >= 0:
            out[self.counter_ion] = self.ratio
        return out

    @property
    def charge_added(self) -> float:
        """Charge excess added per mole (closed system): the bare ion's own charge."""
        return self.charge if self.counter_ion < 0 else 0.0


@dataclass(frozen=True)
class SearchProblem(_Rows):
    """Ω of ``phase`` = ``goal`` by one total (threshold) or a dilution factor.

    ``addition`` is the component varied (threshold) and ``None`` for a
    dilution; ``ph`` None for solutions whose pH comes from electroneutrality.
    """

    kind: SearchKind
    totals: FloatArray
    temperature: FloatArray
    ph: FloatArray | None
    goal: FloatArray  # (N,) target Omega
    phases: PhaseTable  # one phase
    addition: Addition | None
    closed: bool
    tolerance: float = 1e-10
    max_iterations: int = 60
    chunk_size: int | None = None  # rows solved together; None: the engine's default

    @property
    def size(self) -> int:
        return int(self.temperature.shape[0])


@dataclass(frozen=True)
class SearchResult(_Rows):
    """Raw arrays of a search: the value found (a total [mol/kg] or a factor) per row."""

    value: FloatArray
    totals: FloatArray  # (N, C) at the solution
    pH: FloatArray
    omega: FloatArray
    ionic_strength: FloatArray
    converged: BoolArray
    reason: ObjectArray
    iterations: IntArray
    slope: FloatArray  # d log10 Omega / d ln(value) at the solution; NaN where unknown
