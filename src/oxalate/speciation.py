"""Aqueous speciation: free ions, complexes, ionic strength and the saturation of every phase.

:func:`speciate` finds, for every row of a batch, the free molalities of the
components, the ionic strength I and the water activity a_w such that

* every complex obeys mass action,
  log m_j = log K_j(T) + Σ_c ν_jc log a_c + ν_jH log a_H + ν_jw log a_w - log γ_j;
* every component's total is met (mass balance);
* I = ½ Σ z_j² m_j over all species, and a_w = 1 - 0.017 Σ m_j;
* optionally, the solution is electroneutral (pH or one ion adjusted).

The activity model is PHREEQC's by default, so the results reproduce USGS
PHREEQC run with the same constants (see ``tests/test_speciation_phreeqc.py``).
The solvers are in :mod:`oxalate._engines`: a reduced Newton on the logarithms
of the free metal molalities and of I, batched over rows with numpy, and the
same algorithm compiled by numba for the common case.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import TYPE_CHECKING, Any, TypeAlias, overload

import numpy as np
import numpy.typing as npt

from . import _engines as engines
from ._checks import check_iterations, check_solution, check_tolerance
from ._common import PhaseMap, column_stack, scalar_or_array
from ._display import Summarized, failed_rows, html_table, select
from ._errors import warn_failed_rows
from .activity import check_model, warn_if_outside
from .database import canonical_phase, chemical_system, constant_set, resolve_constants
from .solution import ANALYTES, Solution, component_key, explain_input

__all__ = ["PHASES", "Speciation", "SpeciationOutputs", "speciate"]

_KERNEL_CASE = "the Davies model, and charge_offset only with a charge balance"

FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]


if TYPE_CHECKING:
    #: Phases whose saturation :func:`speciate` reports with the default constant
    #: set, in ``solids.csv`` order (every solid of a constant set is reported).
    PHASES: tuple[str, ...]


def __getattr__(name: str) -> Any:
    # PHASES: the phases of the default constant set, read on first use
    if name == "PHASES":
        return constant_set("default").phases
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _phase_resolver(phases: tuple[str, ...]) -> Any:
    """Maps a phase's other names (``"whewellite"``) to its key among ``phases``."""
    return partial(canonical_phase, known=phases)


@dataclass(frozen=True, repr=False)
class Speciation(Summarized):
    """The result of :func:`speciate`: every quantity has the batch's shape.

    Attributes
    ----------
    species : tuple of str
        Names of the aqueous species, in the order of the last axis of
        ``molality``, ``log_gamma``.
    molality : numpy.ndarray, shape ``(*batch, n_species)``
        Free molality of every species. [mol/kg]
    log_gamma : numpy.ndarray, shape ``(*batch, n_species)``
        log10 activity coefficient of every species. [-]
    ionic_strength : numpy.ndarray
        [mol/kg]
    water_activity : numpy.ndarray
        [-]
    pH : numpy.ndarray
        The fixed or solved pH. [-]
    temperature : numpy.ndarray
        [K]
    totals : Mapping of str to numpy.ndarray
        Total molality of each component, after any charge-balance
        adjustment. [mol/kg]
    log_iap, saturation_index, supersaturation : Mapping of str to numpy.ndarray
        log10 IAP, SI = log10 Ω and Ω = IAP/Ksp for each phase in
        :data:`PHASES`.
    converged : numpy.ndarray of bool
        Rows whose mass balances met the tolerance; the others are NaN.
    residual : numpy.ndarray
        Largest relative mass-balance (or charge) residual per row. [-]
    iterations : numpy.ndarray of int
        Newton iterations per row.
    reason : numpy.ndarray of str
        Why a row did not converge (empty where it did): invalid input, no
        convergence, or a pH from the charge balance outside 0-14.
    engine : str
        The engine that solved the batch: ``"numba"`` or ``"numpy"`` (rows the
        compiled kernel leaves are solved again by numpy).

    Examples
    --------
    >>> import oxalate
    >>> r = oxalate.speciate(oxalate.Solution(calcium="2 mmol/kg", oxalate="0.2 mmol/kg",
    ...                                       sodium="0.4 mmol/kg", pH=7.0))
    >>> r.molality.shape == (len(r.species),)
    True
    >>> si = float(r.saturation_index["COM"])
    >>> abs(float(r.supersaturation["COM"]) - 10**si) < 1e-12
    True
    """

    species: tuple[str, ...]
    molality: FloatArray
    ionic_strength: FloatArray
    water_activity: FloatArray
    pH: FloatArray
    temperature: FloatArray
    totals: Mapping[str, FloatArray]
    log_iap: Mapping[str, FloatArray]
    saturation_index: Mapping[str, FloatArray]
    supersaturation: Mapping[str, FloatArray]
    converged: BoolArray
    residual: FloatArray
    iterations: npt.NDArray[np.int64]
    reason: Any
    engine: str
    activity_model: str
    constants: str
    _index: Mapping[str, int] = field(repr=False, default_factory=dict)
    # log10 gamma is stored per column of _lg_source; _lg_columns maps each species
    # to its column (its z^2 class when gamma depends on the charge only).
    _lg_source: FloatArray = field(repr=False, default_factory=lambda: np.zeros(0))
    # the constant set's stoichiometry (species x components), for fraction()
    _stoichiometry: FloatArray = field(repr=False, default_factory=lambda: np.zeros((0, 0)))
    _lg_columns: npt.NDArray[np.intp] = field(
        repr=False, default_factory=lambda: np.zeros(0, dtype=np.intp)
    )
    #: the input rows' labels (``Solution.with_labels``): the index of to_dataframe()
    labels: Any = field(repr=False, default=None)

    def __getitem__(self, index: Any) -> Speciation:
        """The rows ``index`` of the batch (``r[0]``, ``r[mask]``, ``r[2:5]``)."""
        shape = np.shape(self.ionic_strength)
        picked = select(
            self, index, shape, skip=("species", "_index", "_stoichiometry", "_lg_columns")
        )
        resolve = _phase_resolver(tuple(self.saturation_index))
        return replace(
            picked,
            log_iap=PhaseMap(picked.log_iap, resolve),
            saturation_index=PhaseMap(picked.saturation_index, resolve),
            supersaturation=PhaseMap(picked.supersaturation, resolve),
        )

    def _summary(self) -> tuple[str, list[tuple[str, Any, str]]]:
        shape = np.shape(self.ionic_strength)
        title = (
            f"Speciation {shape if shape else '(one solution)'}: "
            f"{int(np.count_nonzero(self.converged))} of {int(np.size(self.converged))} "
            f"converged; {self.activity_model}, constants {self.constants!r}, {self.engine}"
        )
        rows: list[tuple[str, Any, str]] = [
            ("ionic strength", self.ionic_strength, "mol/kg"),
            ("pH", self.pH, ""),
        ]
        for phase in ("COM", "COD", "brushite"):
            if phase in self.supersaturation:
                rows.append((f"Ω({phase})", self.supersaturation[phase], ""))
        if "Ca+2" in self._index:
            rows.append(("free Ca²⁺", 1e3 * np.asarray(self.free("Ca+2")), "mmol/kg"))
        rows += failed_rows(self.reason, self.converged)
        return title, rows

    @property
    def log_gamma(self) -> FloatArray:
        """log10 activity coefficient of every species, shape ``(*batch, n_species)``. [-]"""
        return np.asarray(np.take(self._lg_source, self._lg_columns, axis=-1))

    def _column(self, species: str) -> int:
        try:
            return self._index[species]
        except KeyError:
            raise KeyError(
                f"unknown species {species!r}; known: {', '.join(self.species)}"
            ) from None

    def free(self, species: str) -> Any:
        """Free molality of one species (its name or PHREEQC name). [mol/kg]

        Examples
        --------
        >>> import oxalate
        >>> s = oxalate.Solution(calcium="1 mmol/kg", oxalate="0.05 mmol/kg", pH=7)
        >>> r = oxalate.speciate(s)
        >>> bool(r.free("Ca+2") < 1e-3)
        True
        """
        return scalar_or_array(self.molality[..., self._column(species)])

    def gamma(self, species: str) -> Any:
        """Activity coefficient of one species. [-]"""
        column = self._lg_columns[self._column(species)]
        return scalar_or_array(10.0 ** self._lg_source[..., column])

    def activity(self, species: str) -> Any:
        """Activity of one species, γ m. [-]"""
        j = self._column(species)
        return scalar_or_array(
            self.molality[..., j] * 10.0 ** self._lg_source[..., self._lg_columns[j]]
        )

    def fraction(self, component: str) -> Mapping[str, FloatArray]:
        """Share of a component's total held by each species that contains it.

        Parameters
        ----------
        component : str
            An analyte name (``"calcium"``) or component key (``"Ca"``).

        Returns
        -------
        dict of str to numpy.ndarray
            Species name to fraction (they sum to 1). [-]

        Examples
        --------
        >>> import oxalate
        >>> r = oxalate.speciate(oxalate.Solution(calcium="2 mmol/kg", citrate="2 mmol/kg",
        ...                                       sodium="6 mmol/kg", pH=7))
        >>> shares = r.fraction("calcium")
        >>> round(float(sum(shares.values())), 12)
        1.0
        """
        key = component_key(component)
        solutes = chemical_system().solutes
        if key not in solutes:
            raise KeyError(f"unknown component {component!r}; accepted: {list(ANALYTES)}")
        c = solutes.index(key)
        total = self.totals[key]
        out = {}
        for j, name in enumerate(self.species):
            nu = self._stoichiometry[j, c]
            if nu:
                with np.errstate(invalid="ignore", divide="ignore"):
                    out[name] = scalar_or_array(nu * self.molality[..., j] / total)
        return out

    def to_dataframe(self) -> Any:
        """The result as a pandas DataFrame, one row per solution (pandas needed).

        Columns: ionic strength, water activity, pH, converged, reason, the
        totals, the SI and Ω of every phase and the molality of every species;
        the index is the input's labels (``Solution.with_labels``), if any.
        """
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("to_dataframe() needs pandas: pip install pandas") from err
        flat: dict[str, Any] = {
            "ionic_strength": np.ravel(self.ionic_strength),
            "water_activity": np.ravel(self.water_activity),
            "pH": np.ravel(self.pH),
            "converged": np.ravel(self.converged),
            "reason": np.ravel(self.reason),
            "residual": np.ravel(self.residual),
        }
        for k, v in self.totals.items():
            flat[f"total_{k}"] = np.ravel(v)
        for k, v in self.saturation_index.items():
            flat[f"SI_{k}"] = np.ravel(v)
        for k, v in self.supersaturation.items():
            flat[f"omega_{k}"] = np.ravel(v)
        for j, name in enumerate(self.species):
            flat[f"m_{name}"] = np.ravel(self.molality[..., j])
        return pd.DataFrame(flat, index=self.labels)


@overload
def speciate(
    solution: Solution,
    *,
    activity_model: str = ...,
    constants: Any = ...,
    charge_balance: str | None = ...,
    tolerance: float = ...,
    max_iterations: int = ...,
    chunk_size: int | None = ...,
    charge_offset: Any = ...,
    engine: str = ...,
    outputs: None = ...,
) -> Speciation: ...


@overload
def speciate(
    solution: Solution,
    *,
    activity_model: str = ...,
    constants: Any = ...,
    charge_balance: str | None = ...,
    tolerance: float = ...,
    max_iterations: int = ...,
    chunk_size: int | None = ...,
    charge_offset: Any = ...,
    engine: str = ...,
    outputs: Sequence[str],
) -> SpeciationOutputs: ...


def speciate(
    solution: Solution,
    *,
    activity_model: str = "davies",
    constants: Any = "default",
    charge_balance: str | None = None,
    tolerance: float = 1e-12,
    max_iterations: int = 100,
    chunk_size: int | None = None,
    charge_offset: Any = None,
    engine: str = "auto",
    outputs: Sequence[str] | None = None,
) -> Speciation | SpeciationOutputs:
    """Speciate a batch of solutions: free ions, complexes, I, a_w, Ω of every phase.

    Parameters
    ----------
    solution : Solution
        The batch.  Rows with ``pH=None`` get their pH from electroneutrality.
    activity_model : {"davies", "ideal", "debye-huckel", "extended-debye-huckel", \
"truesdell-jones", "equil2"}
        ``"davies"`` is PHREEQC's (log γ = -A z² (√I/(1+√I) - 0.3 I), neutral
        0.1 I) and reproduces PHREEQC.  The WATEQ forms apply to the free
        ions that have WATEQ parameters and Davies to the rest, as PHREEQC
        does for species without ``-gamma``.
    constants : str, ConstantSet or mapping
        ``"default"``, ``"thermochimie"``, ``"nist46"``, a ConstantSet or a
        mapping of Ksp overrides.
    charge_balance : str, optional
        ``"pH"`` solves the pH from electroneutrality (also implied by
        ``solution.pH is None``); an analyte name (``"chloride"``,
        ``"sodium"``, ...) adjusts that ion's total to neutrality, as
        PHREEQC's ``charge`` keyword does.  Rows that would need a negative
        total do not converge.
    tolerance : float
        Largest relative mass-balance residual accepted. [-]
    max_iterations : int
        Newton iterations before a row is declared not converged.
    chunk_size : int, optional
        Rows solved together, by either engine (each row's result is the same
        whatever the chunk).  Default: 100,000 for the compiled engine (its
        arrays then stay in cache) and 20,000 for numpy (about 10 kB of work
        arrays per row).
    outputs : sequence of str, optional
        Keep only these results, computed chunk by chunk, so that a large batch
        costs the memory of its outputs rather than of every species'
        molality (about 8 B per row and output, against 790 B per row for the
        full result): ``"SI_<phase>"``, ``"omega_<phase>"``,
        ``"log_iap_<phase>"``, ``"ionic_strength"``, ``"water_activity"``,
        ``"pH"``, ``"residual"``, ``"iterations"``, ``"m_<species>"``,
        ``"log_gamma_<species>"`` and ``"total_<component>"``.  A
        :class:`SpeciationOutputs` is returned instead of a
        :class:`Speciation`; ``converged`` and ``reason`` always come with it.
    charge_offset : float or array, optional
        With a charge balance: the charge excess Σ z m the solution must
        keep instead of 0, as PHREEQC keeps a solution's charge imbalance
        through a reaction. [eq/kg]
    engine : {"auto", "numpy", "numba"}
        ``"numba"`` runs the compiled kernel (:mod:`oxalate._engines`, needs
        the optional numba package; the Davies model, a fixed pH or a
        charge balance), several times faster on large batches; its first
        call in a new installation compiles for a few seconds, later ones
        load the cache.  ``"numpy"`` is the pure-numpy solver.  ``"auto"`` takes
        numba when it is installed and the case is one it covers.  Both
        solve the same equations; they agree to about 1e-12.  The kernel
        runs batches of 2048 rows or more on numba's threads
        (``numba.set_num_threads``) when called from the main thread, and on
        the calling thread otherwise (it releases the GIL, so a thread pool
        scales); the results do not depend on how many.  See
        :doc:`/big_batches`.

    Returns
    -------
    Speciation or SpeciationOutputs

    Warns
    -----
    OxalateRangeWarning
        Where the ionic strength exceeds the activity model's range.

    Notes
    -----
    Converges for totals from 1e-12 to 1 mol/kg, pH 1-13 and 0-100 °C.  A
    total of exactly zero removes the component's species.  A row that does
    not converge is flagged (``converged=False``) and NaN in its results;
    it never disturbs the other rows.

    References
    ----------
    .. [1] Parkhurst, D. L. and Appelo, C. A. J. (2013), USGS TM 6-A43,
       doi:10.3133/tm6A43.

    Examples
    --------
    >>> import oxalate
    >>> urine = oxalate.Solution(calcium="4 mmol/L", magnesium="3 mmol/L", sodium="150 mmol/L",
    ...     potassium="60 mmol/L", chloride="150 mmol/L", oxalate="0.35 mmol/L",
    ...     citrate="2.5 mmol/L", phosphate="20 mmol/L", sulfate="15 mmol/L",
    ...     pH=6.0, temperature="37 degC")
    >>> r = oxalate.speciate(urine)
    >>> bool(r.converged)
    True
    >>> bool(0 < r.saturation_index["COM"] < 1.5)
    True
    """
    check_solution(solution)
    tolerance = check_tolerance(tolerance)
    check_iterations(max_iterations)
    model_name = check_model(activity_model)
    cs = resolve_constants(constants)
    model = engines.species_model(cs, model_name)
    system = model.system
    balance_component = -1
    solve_ph = solution.pH is None
    if charge_balance is not None:
        if charge_balance == "pH":
            solve_ph = True
        else:
            key = component_key(charge_balance)
            if key not in system.solutes:
                raise ValueError(
                    f"charge_balance={charge_balance!r} is not known; accepted: 'pH' or one of "
                    f"{list(ANALYTES)}"
                )
            if solve_ph:
                raise ValueError(
                    "charge_balance on an ion needs a fixed pH; the Solution has pH=None"
                )
            balance_component = system.index(key)
    engines.check_engine(engine)
    if chunk_size is not None:
        check_iterations(chunk_size, "chunk_size")
    shape = solution.shape
    n = solution.size
    totals = column_stack([solution.totals[c] for c in system.solutes])
    # a fixed pH, or the first guess of a solved one
    ph = np.full(n, 7.0) if solution.pH is None else np.ravel(solution.pH).astype(np.float64)
    offset = (
        np.zeros(n)
        if charge_offset is None
        else np.ravel(np.broadcast_to(np.asarray(charge_offset, dtype=np.float64), shape)).copy()
    )
    problem = engines.SpeciationProblem(
        totals=totals,
        temperature=np.ravel(solution.temperature).astype(np.float64),
        ph=ph,
        charge_offset=offset,
        solve_ph=solve_ph,
        balance=balance_component,
        tolerance=tolerance,
        max_iterations=max_iterations,
        chunk_size=chunk_size,
    )
    if charge_offset is not None and problem.fixed_ph:
        # a charge excess without a charge balance: the compiled kernel does not take one
        engines.use_compiled(engine, model, False, _KERNEL_CASE)
        engine = "numpy"
    if outputs is not None:
        reduced = _speciate_outputs(model, problem, engine, outputs, shape, solution)
        warn_failed_rows("speciate", reduced.reason, solution.labels)
        return replace(reduced, labels=solution.labels)
    result = engines.speciate(model, problem, engine)
    warn_if_outside(model_name, result.ionic_strength[result.converged])
    explain_input(result.reason, solution)
    warn_failed_rows("speciate", result.reason, solution.labels)
    out = speciation_from_result(model, result, shape, totals, problem.temperature)
    return out if solution.labels is None else replace(out, labels=solution.labels)


_DIRECT = ("ionic_strength", "water_activity", "pH", "residual", "iterations")


def _output_columns(
    model: engines.SpeciesModel, outputs: Sequence[str]
) -> list[tuple[str, str, Any]]:
    """(name, kind, what) of each output asked for, or ValueError naming the unknown ones."""
    if isinstance(outputs, str) or not all(isinstance(o, str) for o in outputs):
        raise TypeError(f"outputs={outputs!r} must be a list of names such as ['SI_COM', 'pH']")
    cs = model.constants
    solutes = model.system.solutes
    columns: list[tuple[str, str, Any]] = []
    unknown = []
    for name in dict.fromkeys(outputs):
        if name in ("converged", "reason"):
            continue
        if name in _DIRECT:
            columns.append((name, "direct", name))
            continue
        prefix, _, rest = name.partition("_")
        for head in ("log_iap", "log_gamma"):
            if name.startswith(head + "_"):
                prefix, rest = head, name[len(head) + 1 :]
        try:
            if prefix in ("SI", "omega", "log_iap"):
                columns.append((name, prefix, canonical_phase(rest, cs)))
            elif prefix in ("m", "log_gamma"):
                columns.append((name, prefix, cs.index(rest)))
            elif prefix == "total" and component_key(rest) in solutes:
                columns.append((name, prefix, solutes.index(component_key(rest))))
            else:
                unknown.append(name)
        except (KeyError, ValueError):
            unknown.append(name)
    if unknown:
        raise ValueError(
            f"outputs: {unknown} not known; accepted: {', '.join(_DIRECT)}, converged, reason, "
            f"SI_<phase>, omega_<phase>, log_iap_<phase> (phases {', '.join(cs.phases)}), "
            f"m_<species>, log_gamma_<species>, total_<component>"
        )
    return columns


def _speciate_outputs(
    model: engines.SpeciesModel,
    problem: engines.SpeciationProblem,
    engine: str,
    outputs: Sequence[str],
    shape: tuple[int, ...],
    solution: Solution,
) -> SpeciationOutputs:
    """speciate(outputs=...): the outputs asked for, chunk by chunk, nothing else kept."""
    columns = _output_columns(model, outputs)
    n = problem.size
    size = problem.chunk_size or engines.COMPILED_CHUNK
    out: dict[str, Any] = {
        name: np.empty(n, dtype=np.int64 if what == "iterations" else np.float64)
        for name, _, what in columns
    }
    converged = np.zeros(n, dtype=bool)
    reason = np.full(n, "", dtype=object)
    phases = {what for _, kind, what in columns if kind in ("SI", "omega", "log_iap")}
    tables = {p: engines.phase_table(model.constants, (p,)) for p in phases}
    used = ""
    over: list[FloatArray] = []
    for lo in range(0, n, size):
        rows = slice(lo, min(lo + size, n))
        sub = problem.take(rows)
        r = engines.speciate(model, sub, engine)
        used = r.engine
        converged[rows] = r.converged
        reason[rows] = r.reason
        over.append(r.ionic_strength[r.converged])
        log_a: FloatArray | None = None
        log_aw = np.zeros(0)
        for name, kind, what in columns:
            if kind == "direct":
                out[name][rows] = getattr(r, what)
            elif kind == "m":
                out[name][rows] = r.molality[:, what]
            elif kind == "log_gamma":
                out[name][rows] = r.log_gamma[:, model.gamma_columns[what]]
            elif kind == "total":
                out[name][rows] = r.totals[:, what]
            else:
                if log_a is None:
                    log_a = engines.component_log_activities(
                        r.molality, r.log_gamma, model.gamma_columns, sub.totals
                    )
                    with np.errstate(divide="ignore", invalid="ignore"):
                        log_aw = np.log10(r.water_activity)
                lia = engines.log_iap(tables[what], log_a, log_aw, r.pH)[:, 0]
                if kind == "log_iap":
                    out[name][rows] = lia
                    continue
                si = lia - tables[what].log_k(sub.temperature)[:, 0]
                if kind == "SI":
                    out[name][rows] = si
                else:
                    with np.errstate(over="ignore"):
                        out[name][rows] = 10.0**si
    warn_if_outside(model.name, np.concatenate(over) if over else np.zeros(0))
    explain_input(reason, solution)
    return SpeciationOutputs(
        columns={k: _frozen(v, shape) for k, v in out.items()},
        converged=_frozen(converged, shape),
        reason=_frozen(reason, shape),
        engine=used,
        activity_model=model.name,
        constants=model.constants.name,
        shape=shape,
    )


@dataclass(frozen=True)
class SpeciationOutputs(Mapping[str, Any]):
    """Some outputs of :func:`speciate` (``outputs=``), each of the batch's shape.

    A read-only mapping from each name asked for (``"SI_COM"``, ``"pH"``, ...)
    to its array, with ``converged`` and ``reason`` beside them.

    Examples
    --------
    >>> import oxalate
    >>> urine = oxalate.fluids.urine_24h_normal(volume=oxalate.Quantity([1.5, 2.5], "L/d"))
    >>> r = oxalate.speciate(urine, outputs=["SI_COM", "ionic_strength"])
    >>> sorted(r), r["SI_COM"].round(2), r.converged
    (['SI_COM', 'ionic_strength'], array([0.77, 0.53]), array([ True,  True]))
    """

    columns: Mapping[str, Any]
    converged: Any
    reason: Any
    engine: str
    activity_model: str
    constants: str
    shape: tuple[int, ...]
    labels: Any = field(repr=False, default=None)

    def __getitem__(self, name: str) -> Any:
        try:
            return self.columns[name]
        except KeyError:
            raise KeyError(f"{name!r} was not asked for; outputs: {list(self.columns)}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def __repr__(self) -> str:
        # short whatever the batch: the arrays are read by name, not printed
        ok = int(np.count_nonzero(self.converged))
        return f"SpeciationOutputs({', '.join(self.columns)}; shape {self.shape}, {ok} converged)"

    def _repr_html_(self) -> str:
        ok = int(np.count_nonzero(self.converged))
        title = f"SpeciationOutputs {self.shape}: {ok} of {int(np.size(self.converged))} converged"
        return html_table(title, [(name, v, "") for name, v in self.columns.items()])

    def to_dataframe(self) -> Any:
        """The outputs as a pandas DataFrame, one row per solution, with converged and reason."""
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("to_dataframe() needs pandas: pip install pandas") from err
        flat = {k: np.ravel(v) for k, v in self.columns.items()}
        flat["converged"] = np.ravel(self.converged)
        flat["reason"] = np.ravel(self.reason)
        return pd.DataFrame(flat, index=self.labels)


def speciation_from_result(
    model: engines.SpeciesModel,
    result: engines.SpeciationResult,
    shape: tuple[int, ...],
    presence: FloatArray,
    temperature: FloatArray,
) -> Speciation:
    """The :class:`Speciation` of an engine's raw arrays (rows flattened to N).

    ``presence`` holds the totals (N, C) the phases' presence is judged by: a
    phase holding a component whose total is not positive has SI = -inf.
    This is how :mod:`oxalate.precipitation` and :mod:`oxalate.searches`
    build the speciation of the solutions they compute.
    """
    cs = model.constants
    n_species = len(cs.species)
    # Saturation of the phases, from the converged activities: computed for a phase when
    # it is first asked for (most users look at one or two of the six)
    phases = _PhaseSaturation(model, shape, presence, result, temperature)
    return Speciation(
        species=cs.species,
        molality=_frozen(result.molality, (*shape, n_species)),
        _lg_source=_frozen(result.log_gamma, (*shape, result.log_gamma.shape[1])),
        _lg_columns=model.gamma_columns,
        _stoichiometry=cs.stoichiometry,
        ionic_strength=_frozen(result.ionic_strength, shape),
        water_activity=_frozen(result.water_activity, shape),
        pH=_frozen(result.pH, shape),
        temperature=_frozen(phases.temperature, shape),
        totals={
            c: _frozen(result.totals[:, k], shape) for k, c in enumerate(model.system.solutes)
        },
        log_iap=_LazyPhaseMap(phases, "log_iap"),
        saturation_index=_LazyPhaseMap(phases, "si"),
        supersaturation=_LazyPhaseMap(phases, "omega"),
        converged=_frozen(result.converged, shape),
        residual=_frozen(result.residual, shape),
        iterations=_frozen(result.iterations, shape),
        reason=_frozen(result.reason, shape),
        engine=result.engine,
        activity_model=model.name,
        constants=cs.name,
        _index={
            **{name: j for j, name in enumerate(cs.species)},
            **{name: j for j, name in enumerate(cs.phreeqc_names)},
        },
    )


def _frozen(array: Any, shape: tuple[int, ...]) -> Any:
    """A read-only view of ``array`` in ``shape`` (a numpy scalar for a scalar batch).

    Results are read-only so that editing one in place cannot make it disagree
    with what is computed from it later (the SI of a phase, on first access).
    """
    view = np.asarray(array).reshape(shape).view()
    view.flags.writeable = False
    return scalar_or_array(view)


class _PhaseSaturation:
    """log IAP, SI and Ω of each phase of a Speciation, computed per phase on first use.

    Holds plain arrays and the phases' dissolution reactions only, so that a
    Speciation pickles.
    """

    def __init__(
        self,
        model: engines.SpeciesModel,
        shape: tuple[int, ...],
        presence: FloatArray,
        result: engines.SpeciationResult,
        temperature: FloatArray,
    ) -> None:
        cs = model.constants
        self.phases = cs.phases
        self._tables = {p: engines.phase_table(cs, (p,)) for p in self.phases}
        self._shape = shape
        self.temperature = np.asarray(temperature, dtype=np.float64)
        self._inputs: tuple[Any, ...] = (
            result.molality, result.log_gamma, model.gamma_columns, presence,
            result.water_activity, result.pH,
        )  # fmt: skip
        self._cache: dict[tuple[str, str], Any] = {}

    def get(self, phase: str, what: str) -> Any:
        key = (phase, what)
        if key not in self._cache:
            lia = self._log_iap(self._tables[phase])
            si = lia - self._tables[phase].log_k(self.temperature)[:, 0]
            with np.errstate(over="ignore"):
                omega = 10.0**si
            for name, value in (("log_iap", lia), ("si", si), ("omega", omega)):
                self._cache[(phase, name)] = scalar_or_array(value.reshape(self._shape))
        return self._cache[key]

    def _log_iap(self, table: engines.PhaseTable) -> FloatArray:
        """log10 IAP of one phase, in blocks of rows that stay in cache (a big batch
        would otherwise make several temporaries of its full size)."""
        molality, log_gamma, columns, presence, water_activity, ph = self._inputs
        n = len(ph)
        lia = np.empty(n)
        used = [int(c) for c in np.flatnonzero(table.nu[0])]
        size = engines.COMPILED_CHUNK
        for lo in range(0, n, size):
            rows = slice(lo, min(lo + size, n))
            log_a = engines.component_log_activities(
                molality[rows], log_gamma[rows], columns, presence[rows], used
            )
            with np.errstate(divide="ignore", invalid="ignore"):
                log_aw = np.log10(water_activity[rows])
            lia[rows] = engines.log_iap(table, log_a, log_aw, ph[rows])[:, 0]
        return lia


class _LazyPhaseMap(Mapping[str, Any]):
    """A read-only mapping phase -> array whose values are computed on first access."""

    def __init__(self, source: _PhaseSaturation, what: str) -> None:
        self._source = source
        self._what = what

    def __getitem__(self, phase: str) -> Any:
        if phase not in self._source.phases:
            try:  # "whewellite", "com": the phase's other names, any case
                phase = canonical_phase(phase, self._source.phases)
            except (ValueError, TypeError):
                raise KeyError(
                    f"{phase!r} is not one of the phases here: {list(self._source.phases)}"
                ) from None
        return self._source.get(phase, self._what)

    def __iter__(self) -> Iterator[str]:
        return iter(self._source.phases)

    def __len__(self) -> int:
        return len(self._source.phases)

    def __repr__(self) -> str:
        return repr(dict(self))
