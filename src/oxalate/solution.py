"""The composition record: a batch of solutions, validated once.

A :class:`Solution` holds total molalities of the components, the pH (or
``None`` for "solve it from electroneutrality") and the temperature, all
broadcast to one batch shape.  It is the only place below which pint is not
needed: :func:`oxalate.speciate` and everything after it work on its float
arrays.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from ._errors import OxalateInputWarning
from ._quantities import OnInvalid
from .database import analyte, chemical_system
from .units import as_molality, solution_density, temperature_kelvin

__all__ = ["ANALYTES", "Solution"]

FloatArray: TypeAlias = npt.NDArray[np.float64]

#: Keyword names of :class:`Solution` and the component each one sets.
ANALYTES: dict[str, str] = {
    "calcium": "Ca",
    "magnesium": "Mg",
    "sodium": "Na",
    "potassium": "K",
    "chloride": "Cl",
    "oxalate": "Ox",
    "citrate": "Cit",
    "phosphate": "PO4",
    "sulfate": "SO4",
    "carbonate": "CO3",
}


def component_key(name: Any) -> Any:
    """The component key (``"Ox"``) of an analyte name or key in any case (``"Oxalate"``).

    Anything else comes back unchanged, for the caller to refuse with its own message.

    Examples
    --------
    >>> from oxalate.solution import component_key
    >>> component_key("Oxalate"), component_key("ca"), component_key("nonsuch")
    ('Ox', 'Ca', 'nonsuch')
    """
    if name in ANALYTES:
        return ANALYTES[name]
    if not isinstance(name, str):
        return name
    folded = name.strip().casefold()
    for full, key in ANALYTES.items():
        if folded in (full, key.casefold()):
            return key
    return name


_PH_RANGE = (0.0, 14.0)
#: Batches up to this size show every value in their repr.
_REPR_MAX_ROWS = 24


def _refuse_labelled(inputs: dict[str, Any]) -> None:
    """TypeError for an xarray object: its labels would be lost (oxalate.xarray keeps them)."""
    for name, value in inputs.items():
        if type(value).__module__.split(".")[0] == "xarray":
            raise TypeError(
                f"{name}: an xarray.{type(value).__name__}; a Solution holds plain arrays and "
                f"would drop its dimensions and coordinates. Use oxalate.xarray.speciate "
                f"(precipitate, threshold, crystallize), which keeps them, or pass "
                f"{name}.values with its unit"
            )


def _parse_ph(pH: Any, on_invalid: OnInvalid) -> FloatArray | None:
    if pH is None:
        return None
    if isinstance(pH, str):
        try:
            pH = float(pH)
        except ValueError:
            raise ValueError(f"pH={pH!r} is not a number") from None
    if isinstance(pH, bool | np.bool_) or (isinstance(pH, np.ndarray) and pH.dtype == np.bool_):
        raise TypeError(f"pH={pH!r} is a boolean; give a number such as 6.0, or None")
    if hasattr(pH, "m_as"):
        pH = pH.m_as("")
    try:
        ph = np.asarray(pH, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"pH={pH!r} is not a number or an array of numbers") from None
    bad = ~np.isfinite(ph) | (ph < _PH_RANGE[0]) | (ph > _PH_RANGE[1])
    if bad.any():
        if ph.ndim == 0:
            where = f"pH={float(ph)!r}"
        else:
            rows = [tuple(int(i) for i in r) for r in np.argwhere(bad)[:5]]
            shown = ", ".join(
                f"index {r[0] if len(r) == 1 else r}: {float(ph[r])!r}" for r in rows
            )
            where = shown + (" and more" if int(bad.sum()) > 5 else "")
        message = f"pH has {int(bad.sum())} value(s) outside 0-14 or not finite ({where})"
        if on_invalid == "raise":
            raise ValueError(
                f"{message}; pass pH=None to solve it from electroneutrality, or "
                f"on_invalid='nan' to keep the other rows"
            )
        warnings.warn(f"{message}; those rows were set to NaN", OxalateInputWarning, stacklevel=3)
        ph = np.where(bad, np.nan, ph)
    return ph


@dataclass(frozen=True, init=False)
class Solution:
    """A batch of aqueous solutions: totals, pH and temperature.

    Parameters
    ----------
    calcium, magnesium, sodium, potassium, chloride, oxalate, citrate, \
phosphate, sulfate, carbonate : pint.Quantity or str, optional
        Total concentrations: mol/kg, mmol/L, mg/dL (phosphate and sulfate
        with an explicit ``"as P"``/``"as PO4"`` basis) or mEq/L.  Missing
        components are zero.  Carbonate is total inorganic carbon
        (clinical "total CO2" or bicarbonate). [concentration]
    pH : float or array, optional
        Fixed pH (activity scale, a(H⁺) = 10^-pH).  ``None`` solves the pH
        from electroneutrality.
    temperature : pint.Quantity or str
        0-100 °C; default 25 °C. [degC or K]
    density : pint.Quantity or str, optional
        Solution density, used to convert molar inputs; default 1.0 kg/L.
        [kg/L]
    on_invalid : {"raise", "nan"}
        A negative or NaN total raises ``ValueError`` naming the argument
        and row (the default), or makes that row NaN (it then comes back
        from :func:`oxalate.speciate` with ``converged=False``).

    Attributes
    ----------
    totals : Mapping of str to numpy.ndarray
        Total molality of each component (keys of
        :data:`oxalate.database.COMPONENTS` except ``"H"``). [mol/kg]
    pH : numpy.ndarray or None
    temperature : numpy.ndarray
        [K]
    shape : tuple of int
        The batch shape; every field broadcasts to it.

    Examples
    --------
    >>> import oxalate
    >>> ox = oxalate.Quantity([0.1, 0.3], "mmol/kg")
    >>> s = oxalate.Solution(calcium="2.5 mmol/kg", oxalate=ox, pH=6.0, temperature="37 degC")
    >>> s.shape
    (2,)
    >>> s.totals["Ox"]
    array([0.0001, 0.0003])
    """

    totals: Mapping[str, FloatArray]
    pH: FloatArray | None
    temperature: FloatArray
    shape: tuple[int, ...]
    labels: Any
    input_reason: Any

    def __init__(
        self,
        *,
        calcium: Any = None,
        magnesium: Any = None,
        sodium: Any = None,
        potassium: Any = None,
        chloride: Any = None,
        oxalate: Any = None,
        citrate: Any = None,
        phosphate: Any = None,
        sulfate: Any = None,
        carbonate: Any = None,
        pH: Any = None,
        temperature: Any = "25 degC",
        density: Any = None,
        on_invalid: OnInvalid = "raise",
    ) -> None:
        given = {
            name: value
            for name, value in {
                "calcium": calcium,
                "magnesium": magnesium,
                "sodium": sodium,
                "potassium": potassium,
                "chloride": chloride,
                "oxalate": oxalate,
                "citrate": citrate,
                "phosphate": phosphate,
                "sulfate": sulfate,
                "carbonate": carbonate,
            }.items()
            if value is not None
        }
        if on_invalid not in ("raise", "nan"):
            raise ValueError(f"on_invalid={on_invalid!r} is not known; accepted: 'raise', 'nan'")
        _refuse_labelled({**given, "pH": pH, "temperature": temperature, "density": density})
        solution_density(density)  # validate even when every input is molal
        molal = as_molality(given, density=density, on_invalid=on_invalid) if given else {}
        ph = _parse_ph(pH, on_invalid)
        t = temperature_kelvin(temperature, on_invalid=on_invalid)
        shapes = {name: np.shape(v) for name, v in molal.items()}
        shapes["temperature"] = np.shape(t)
        if ph is not None:
            shapes["pH"] = np.shape(ph)
        try:
            shape = np.broadcast_shapes(*shapes.values())
        except ValueError:
            listed = ", ".join(f"{k} {v}" for k, v in shapes.items())
            raise ValueError(
                f"the arguments' shapes do not broadcast to one batch: {listed}"
            ) from None
        zero = np.zeros(())
        self._fill({key: molal.get(name, zero) for name, key in ANALYTES.items()}, ph, t, shape)

    @classmethod
    def from_molalities(
        cls,
        totals: Mapping[str, Any],
        *,
        pH: Any = None,
        temperature_kelvin: Any = 298.15,
    ) -> Solution:
        """Build a Solution from plain float molalities (the magnitude layer).

        Parameters
        ----------
        totals : mapping
            Component key (``"Ca"``, ``"Ox"``, ...) or analyte name to total
            molality. [mol/kg]
        pH : float or array, optional
        temperature_kelvin : float or array
            [K]

        Examples
        --------
        >>> from oxalate import Solution
        >>> Solution.from_molalities({"Ca": 0.0025, "Ox": 0.0003}, pH=6.0).totals["Ca"]
        array(0.0025)
        """
        from .units import Quantity

        keyed = {}
        for name, value in totals.items():
            key = component_key(name)
            if key not in chemical_system().solutes:
                raise ValueError(f"totals: unknown component {name!r}; accepted: {list(ANALYTES)}")
            keyed[analyte(key).name] = Quantity(np.asarray(value, dtype=np.float64), "mol/kg")
        t = np.asarray(temperature_kelvin, dtype=np.float64)
        return cls(pH=pH, temperature=Quantity(t, "K"), **keyed)

    @property
    def size(self) -> int:
        """Number of solutions in the batch."""
        return int(np.prod(self.shape, dtype=np.int64))

    @classmethod
    def from_arrays(
        cls,
        totals: Mapping[str, Any],
        *,
        pH: Any,
        temperature_kelvin: Any,
    ) -> Solution:
        """A Solution from float arrays as they are: the magnitude layer's fast path.

        No units and no conversion: the totals are molalities, the
        temperature is in kelvin.  Components left out are zero.  A NaN total,
        pH or temperature marks a row without a valid composition, as
        ``on_invalid="nan"`` does; it comes back unconverged from every
        function.  This is how :func:`oxalate.precipitate` and the searches
        build the solutions they return.

        Parameters
        ----------
        totals : mapping
            Component key (``"Ca"``) or analyte name (``"calcium"``) to total
            molality. [mol/kg]
        pH : float, array or None
            ``None``: solve the pH from electroneutrality.
        temperature_kelvin : float or array
            [K]

        Raises
        ------
        ValueError
            For an unknown component, a negative total or arrays that do not
            broadcast.

        Examples
        --------
        >>> import numpy as np
        >>> from oxalate import Solution
        >>> s = Solution.from_arrays({"Ca": np.array([2e-3, np.nan])}, pH=6.0,
        ...                          temperature_kelvin=310.15)
        >>> s.shape, s.totals["Ox"]
        ((2,), array([0., 0.]))
        """
        solutes = chemical_system().solutes
        keyed: dict[str, Any] = {}
        for name, value in totals.items():
            key = component_key(name)
            if key not in solutes:
                raise ValueError(f"totals: unknown component {name!r}; accepted: {list(ANALYTES)}")
            array = np.asarray(value, dtype=np.float64)
            if np.any(array < 0):
                raise ValueError(f"totals[{name!r}] has negative values; totals must be >= 0")
            keyed[key] = array
        t = np.asarray(temperature_kelvin, dtype=np.float64)
        ph = None if pH is None else np.asarray(pH, dtype=np.float64)
        try:
            shape = np.broadcast_shapes(
                t.shape, *(v.shape for v in keyed.values()), *(() if ph is None else (ph.shape,))
            )
        except ValueError:
            raise ValueError(
                "totals, pH and temperature_kelvin do not broadcast to one batch shape: "
                f"{ {k: v.shape for k, v in keyed.items()} }, "
                f"pH {None if ph is None else ph.shape}, temperature {t.shape}"
            ) from None
        zero = np.zeros(())
        return cls._make({c: keyed.get(c, zero) for c in solutes}, ph, t, shape)

    @classmethod
    def _make(
        cls,
        totals: Mapping[str, Any],
        ph: Any,
        temperature: Any,
        shape: tuple[int, ...],
    ) -> Solution:
        """A Solution from validated parts (see :meth:`_fill`)."""
        new = object.__new__(cls)
        new._fill(totals, ph, temperature, shape)
        return new

    def _fill(
        self, totals: Mapping[str, Any], ph: Any, temperature: Any, shape: tuple[int, ...]
    ) -> None:
        """The one place a Solution's fields are set: read-only float copies of one shape."""

        def frozen(value: Any) -> FloatArray:
            arr = np.array(np.broadcast_to(value, shape), dtype=np.float64)
            arr.setflags(write=False)
            return arr

        object.__setattr__(
            self, "totals", MappingProxyType({k: frozen(v) for k, v in totals.items()})
        )
        object.__setattr__(self, "pH", None if ph is None else frozen(ph))
        object.__setattr__(self, "temperature", frozen(temperature))
        object.__setattr__(self, "shape", tuple(shape))
        object.__setattr__(self, "labels", None)
        object.__setattr__(self, "input_reason", None)

    def with_labels(self, labels: Any, *, input_reason: Any = None) -> Solution:
        """This batch with a label for each row (a 1-d batch only).

        Labels (a pandas Index, or any sequence such as patient numbers) name
        the rows in messages about bad or failed rows, and become the index of
        every result's ``to_dataframe()``.  :func:`oxalate.tables.read_solution`
        sets them from a table's index, with ``input_reason``: why a row's
        input was unusable ("volume not positive"; "" for a good row), which
        every result then gives as that row's reason.

        Examples
        --------
        >>> import oxalate
        >>> calcium = oxalate.Quantity([2, 3], "mmol/kg")
        >>> s = oxalate.Solution(calcium=calcium, oxalate="0.2 mmol/kg")
        >>> list(s.with_labels(["P-17", "P-18"])[1:].labels)
        ['P-18']
        """
        if len(self.shape) != 1 or len(labels) != self.shape[0]:
            raise ValueError(
                f"labels: {len(labels)} label(s) for a batch of shape {self.shape}; "
                "give one per row of a 1-d batch"
            )
        if not hasattr(labels, "take"):  # a list: kept as Python objects
            labels = np.asarray(list(labels), dtype=object)
        new = Solution._make(dict(self.totals), self.pH, self.temperature, self.shape)
        object.__setattr__(new, "labels", labels)
        if input_reason is not None:
            reasons = np.array(np.broadcast_to(np.asarray(input_reason, dtype=object), self.shape))
            reasons.setflags(write=False)
            object.__setattr__(new, "input_reason", reasons)
        return new

    def __getitem__(self, index: Any) -> Solution:
        """Select rows of the batch, like a numpy array (their labels too)."""
        t = np.asarray(self.temperature[index])
        new = Solution._make(
            {k: v[index] for k, v in self.totals.items()},
            None if self.pH is None else self.pH[index],
            t,
            t.shape,
        )
        if self.labels is not None and t.ndim == 1:
            rows = np.arange(self.shape[0])[index]
            labels = self.labels
            picked = labels.take(rows) if hasattr(labels, "take") else np.asarray(labels)[rows]
            object.__setattr__(new, "labels", picked)
            if self.input_reason is not None:
                object.__setattr__(new, "input_reason", self.input_reason[rows])
        return new

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        """Pickle support (multiprocessing, joblib): the totals as a plain dict."""
        return _rebuild, (
            dict(self.totals), self.pH, self.temperature, self.shape, self.labels,
            self.input_reason,
        )  # fmt: skip

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("a scalar Solution has no len()")
        return self.shape[0]

    def _repr_html_(self) -> str:
        """A short table for notebooks: each total [mmol/kg], the pH and the temperature [°C]."""
        from ._display import html_table

        title = f"Solution {self.shape if self.shape else '(one solution)'}"
        rows: list[tuple[str, Any, str]] = [
            (name, 1e3 * self.totals[key], "mmol/kg")
            for name, key in ANALYTES.items()
            if key in self.totals and np.any(self.totals[key])
        ]
        rows.append(("pH", "solved from the charge balance" if self.pH is None else self.pH, ""))
        rows.append(("temperature", self.temperature - 273.15, "°C"))
        return html_table(title, rows)

    def __repr__(self) -> str:
        """Every value of a batch of up to 24 rows, as a call that rebuilds it.

        A counterexample of a property test (hypothesis prints the repr) can
        then be read, and pasted back, as it is: the molalities of the
        components present, the pH and the temperature, exactly.  A larger
        batch shows its shape and which components it holds.

        Examples
        --------
        >>> from oxalate import Solution
        >>> Solution.from_molalities({"Ca": 0.002, "Ox": 0.0003}, pH=6.0)
        Solution.from_arrays({'Ca': 0.002, 'Ox': 0.0003}, pH=6.0, temperature_kelvin=298.15)
        """
        present = [key for key, value in self.totals.items() if np.any(value != 0)]
        if self.size > _REPR_MAX_ROWS:
            ph = "None" if self.pH is None else "..."
            return f"Solution(shape={self.shape}, components={present}, pH={ph})"

        def show(value: Any) -> str:
            array = np.asarray(value)
            return repr(array.tolist()) if array.ndim else repr(float(array))

        totals = ", ".join(f"{key!r}: {show(self.totals[key])}" for key in present)
        ph = "None" if self.pH is None else show(self.pH)
        return (
            f"Solution.from_arrays({{{totals}}}, pH={ph}, "
            f"temperature_kelvin={show(self.temperature)})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """The repr for IPython and for hypothesis's counterexamples (not a list of fields)."""
        printer.text(repr(self))


def _rebuild(
    totals: dict[str, Any],
    ph: Any,
    temperature: Any,
    shape: tuple[int, ...],
    labels: Any = None,
    input_reason: Any = None,
) -> Solution:
    """A Solution from its pickled, already validated parts."""
    new = Solution._make(totals, ph, temperature, tuple(shape))
    if labels is not None:
        return new.with_labels(labels, input_reason=input_reason)
    return new


def explain_input(reason: Any, solution: Solution) -> None:
    """Write each row's input reason (``Solution.input_reason``) into ``reason``, in place.

    Engines say only "invalid input" for a NaN row; the table reader knows why.
    """
    if solution.input_reason is None:
        return
    given = np.ravel(solution.input_reason)
    flat = np.asarray(reason).reshape(-1)
    for i in np.flatnonzero(given != ""):
        flat[i] = f"invalid input: {given[i]}"
