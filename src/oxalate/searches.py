"""Searches: the total at which Ω reaches a target, the dilution that brings it down, titrations.

:func:`threshold`
    The total of one component (oxalate, calcium, ...) at which the
    supersaturation Ω of a phase reaches a target (1 = saturation, 8-11 the
    metastable limit quoted for urine).
:func:`dilution_for`
    The dilution factor that brings Ω down to a target.
:func:`titrate`
    An oxalate titration done in silico (the chemistry of the Bonn Risk Index
    test): Na₂C₂O₄ added step by step, Ω after each step, and the amount added
    at which Ω first reaches the target.

The compiled engine solves the speciation and the varied total (or ln d)
together in one Newton per row; the numpy engine runs a safeguarded secant
on the logarithm of the varied quantity, batched over the rows, each step one
speciation of the rows not yet converged (:mod:`oxalate._engines`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from . import _engines as engines
from ._checks import check_iterations, check_solution, check_tolerance
from ._common import column_stack, scalar_or_array
from ._display import Summarized, failed_rows, select
from ._errors import warn_failed_rows
from .activity import check_model, warn_if_outside
from .database import analyte, canonical_phase, chemical_system, resolve_constants
from .solution import ANALYTES, Solution, component_key, explain_input
from .units import Quantity, solution_density

__all__ = [
    "Dilution",
    "Threshold",
    "Titration",
    "dilution_for",
    "threshold",
    "titrate",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
PhMode = Literal["closed", "fixed"]


def _component_key(name: Any, argument: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"{argument}={name!r} must be an analyte name such as 'oxalate'")
    key = str(component_key(name))
    if key not in chemical_system().solutes:
        raise ValueError(f"{argument}={name!r} is not known; accepted: {list(ANALYTES)}")
    return key


def _addition(vary: Any, counter_ion: Any, argument: str = "vary") -> tuple[str, engines.Addition]:
    """The component varied (its key) and how the totals move with it."""
    solutes = chemical_system().solutes
    key = _component_key(vary, argument)
    z_vary = float(analyte(key).charge)
    ratio, k_idx = 0.0, -1
    if counter_ion is not None:
        ckey = _component_key(counter_ion, "counter_ion")
        z_counter = float(analyte(ckey).charge)
        if z_counter * z_vary >= 0:
            raise ValueError(
                f"counter_ion={counter_ion!r} must have the opposite charge of {vary!r}"
            )
        ratio = -z_vary / z_counter
        k_idx = solutes.index(ckey)
    return key, engines.Addition(solutes.index(key), k_idx, ratio, z_vary)


def _with_target(solution: Solution, target: Any) -> tuple[Solution, FloatArray]:
    """Broadcast the solution and the target Ω together; the target flattened. [-]"""
    if hasattr(target, "m_as"):
        target = target.m_as("")
    arr = np.asarray(target, dtype=np.float64)
    if np.any(~np.isfinite(arr) | (arr <= 0)):
        raise ValueError(f"target={target!r} must be a positive, finite supersaturation")
    try:
        shape = np.broadcast_shapes(solution.shape, arr.shape)
    except ValueError:
        raise ValueError(
            f"target has shape {arr.shape}, which does not broadcast with the solution's "
            f"{solution.shape}"
        ) from None
    if shape != solution.shape:
        solution = Solution.from_arrays(
            {c: np.broadcast_to(v, shape) for c, v in solution.totals.items()},
            pH=None if solution.pH is None else np.broadcast_to(solution.pH, shape),
            temperature_kelvin=np.broadcast_to(solution.temperature, shape),
        )
    return solution, np.broadcast_to(arr, shape).ravel().astype(np.float64)


def _resolve_mode(ph_mode: Any, solution: Solution) -> PhMode:
    if ph_mode is None:
        return "fixed" if solution.pH is not None else "closed"
    if ph_mode not in ("closed", "fixed"):
        raise ValueError(f"ph_mode={ph_mode!r} is not known; accepted: None, 'closed', 'fixed'")
    if ph_mode == "fixed" and solution.pH is None:
        raise ValueError("ph_mode='fixed' needs a Solution with a pH; this one has pH=None")
    return ph_mode  # type: ignore[no-any-return]


def _check_search(tolerance: Any, max_iterations: Any) -> None:
    check_tolerance(tolerance)
    check_iterations(max_iterations)


def _problem(
    kind: engines.SearchKind,
    solution: Solution,
    target: Any,
    phase: str,
    addition: engines.Addition | None,
    ph_mode: Any,
    activity_model: str,
    constants: Any,
    tolerance: float,
    max_iterations: int,
    chunk_size: int | None = None,
) -> tuple[engines.SpeciesModel, engines.SearchProblem, Solution]:
    """Resolve the arguments every search shares; the model, the problem and the batch."""
    cs = resolve_constants(constants)
    model = engines.species_model(cs, check_model(activity_model))
    phase_key = canonical_phase(phase, cs)
    closed = _resolve_mode(ph_mode, solution) == "closed"
    solution, goal = _with_target(solution, target)
    problem = engines.SearchProblem(
        kind=kind,
        totals=column_stack(list(solution.totals.values())),
        temperature=np.ravel(solution.temperature).astype(np.float64),
        ph=None if solution.pH is None else np.ravel(solution.pH).astype(np.float64),
        goal=goal,
        phases=engines.phase_table(cs, (phase_key,)),
        addition=addition,
        closed=closed,
        tolerance=tolerance,
        max_iterations=max_iterations,
        chunk_size=None if chunk_size is None else check_iterations(chunk_size, "chunk_size"),
    )
    return model, problem, solution


def _solution_at(
    result: engines.SearchResult, problem: engines.SearchProblem, shape: Any
) -> Solution:
    """The Solution at the values found (NaN rows where none)."""
    solutes = chemical_system().solutes
    return Solution.from_arrays(
        {c: result.totals[:, i].reshape(shape) for i, c in enumerate(solutes)},
        pH=result.pH.reshape(shape),
        temperature_kelvin=problem.temperature.reshape(shape),
    )


def _warn_range(model: engines.SpeciesModel, result: engines.SearchResult) -> None:
    ionic = result.ionic_strength
    warn_if_outside(model.name, ionic[result.converged & np.isfinite(ionic)])


@dataclass(frozen=True, repr=False)
class Threshold(Summarized):
    """The result of :func:`threshold`; every array has the batch's shape.

    Attributes
    ----------
    component : str
        The component varied (``"Ox"``, ``"Ca"``, ...).
    total : pint.Quantity
        Its total at which Ω reaches the target; NaN where it cannot. [mol/kg]
    molality : numpy.ndarray
        The same as plain floats. [mol/kg]
    target : numpy.ndarray
        The target Ω. [-]
    supersaturation : numpy.ndarray
        Ω at ``total`` (the target, within the tolerance). [-]
    solution : Solution
        The solution at the threshold (counter-ion adjusted; the held pH, or
        in closed mode the solved one).
    converged : numpy.ndarray of bool
    reason : numpy.ndarray of str
        Why a row is NaN (empty where it converged).
    iterations : numpy.ndarray of int
        Speciations the search took.
    """

    component: str
    total: Any
    molality: Any
    target: Any
    supersaturation: Any
    solution: Solution
    converged: Any
    reason: Any
    iterations: Any
    #: the input rows' labels (``Solution.with_labels``): the index of to_dataframe()
    labels: Any = field(repr=False, default=None)

    def __getitem__(self, index: Any) -> Threshold:
        """The rows ``index`` of the batch (``t[0]``, ``t[mask]``, ``t[2:5]``)."""
        return select(self, index, np.shape(self.molality), skip=("component",))

    def _summary(self) -> tuple[str, list[tuple[str, Any, str]]]:
        shape = np.shape(self.molality)
        title = (
            f"Threshold {shape if shape else '(one solution)'} of {self.component}: "
            f"{int(np.count_nonzero(self.converged))} of {int(np.size(self.converged))} found"
        )
        rows: list[tuple[str, Any, str]] = [
            (f"total {self.component}", 1e6 * np.asarray(self.molality, dtype=np.float64),
             "µmol/kg"),
            ("Ω target", self.target, ""),
        ]  # fmt: skip
        rows += failed_rows(self.reason, self.converged)
        return title, rows

    def to_dataframe(self) -> Any:
        """The result as a pandas DataFrame, one row per solution (pandas needed).

        Columns: ``threshold_<component>`` [mol/kg], ``target``, ``omega`` reached,
        ``converged``, ``reason``, ``iterations``, ``pH`` and the SI of every phase
        at the threshold; the index is the input's labels, if any.

        Examples
        --------
        >>> import pytest
        >>> _ = pytest.importorskip("pandas")
        >>> import oxalate
        >>> plasma = oxalate.Solution(calcium="1.2 mmol/kg", sodium="140 mmol/kg",
        ...                           chloride="100 mmol/kg", pH=7.4, temperature="37 degC")
        >>> df = oxalate.threshold(plasma).to_dataframe()
        >>> list(df.columns[:4])
        ['threshold_Ox', 'target', 'omega', 'converged']
        """
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("to_dataframe() needs pandas: pip install pandas") from err
        flat: dict[str, Any] = {
            f"threshold_{self.component}": np.ravel(self.molality),
            "target": np.ravel(self.target),
            "omega": np.ravel(self.supersaturation),
            "converged": np.ravel(self.converged),
            "reason": np.ravel(self.reason),
            "iterations": np.ravel(self.iterations),
        }
        if self.solution.pH is not None:
            flat["pH"] = np.ravel(self.solution.pH)
        return pd.DataFrame(flat, index=self.labels)

    def molarity(self, density: Any = None) -> Any:
        """The threshold as a molar concentration at the threshold's composition. [mol/L]

        c_i = m_i ρ / (1 + Σ_j m_j M_j / 1000), the inverse of the molar to
        molal conversion of PHREEQC and :mod:`oxalate.units`, over every
        component of :attr:`solution`.

        Parameters
        ----------
        density : pint.Quantity or str, optional
            Solution density; default 1.0 kg/L. [kg/L]

        Returns
        -------
        pint.Quantity
            [mol/L]
        """
        rho = solution_density(density)
        return Quantity(scalar_or_array(_molar(self.molality, self.solution, rho)), "mol/L")


def _molar(molality: Any, solution: Solution, rho: Any) -> FloatArray:
    solute = sum(
        (np.asarray(v) * analyte(c).molar_mass / 1000.0 for c, v in solution.totals.items()),
        start=np.zeros(solution.shape),
    )
    return np.asarray(np.asarray(molality) * rho / (1.0 + solute))


def threshold(
    solution: Solution,
    vary: str = "oxalate",
    target: Any = 1.0,
    phase: str = "COM",
    *,
    counter_ion: str | None = None,
    ph_mode: PhMode | None = None,
    activity_model: str = "davies",
    constants: Any = "default",
    tolerance: float = 1e-10,
    max_iterations: int = 60,
    engine: str = "auto",
    chunk_size: int | None = None,
) -> Threshold:
    """The total of one component at which the supersaturation of a phase reaches a target.

    Solves Ω_phase(T_vary) = target for the total T_vary, every other total
    held:

    .. math:: \\log_{10} \\Omega_\\mathrm{phase}(T_\\mathrm{vary}) = \\log_{10} \\mathrm{target}

    Parameters
    ----------
    solution : Solution
        The batch; the current total of ``vary`` is where the search starts.
    vary : str
        The component varied: an analyte name (``"oxalate"``, ``"calcium"``,
        ``"citrate"``, ...) or a component key (``"Ox"``).
    target : float or array
        The Ω to reach: 1 for saturation, about 8-11 for the metastable
        limit quoted for urine. [-]
    phase : str
        ``"COM"`` (default), ``"COD"``, ``"brushite"``, ...
    counter_ion : str, optional
        An ion of the opposite charge that changes with ``vary`` in
        equivalent amount: ``"sodium"`` varies oxalate as Na₂C₂O₄,
        ``"chloride"`` calcium as CaCl₂.  Default: none.
    ph_mode : {None, "fixed", "closed"}
        ``"fixed"`` holds the pH (the default when the solution has one);
        ``"closed"`` solves the pH from the charge balance (the default for
        ``pH=None``), keeping the initial charge excess; without a
        counter-ion the varied ion's own charge is added to that excess, as
        if its counter-ion were a spectator.
    activity_model, constants
        As in :func:`oxalate.speciate`.
    tolerance : float
        Largest ``|log10 Ω - log10 target|`` accepted. [-]
    max_iterations : int
        Steps of the search (one speciation each) before a row is declared
        not converged.
    engine : {"auto", "numpy", "numba"}
        ``"numba"`` solves the speciation and the total together, row by
        row, in compiled code (:mod:`oxalate._engines`; needs numba, the
        Davies model and a solution with a pH); a row it does not converge
        is searched again by the numpy solver.  ``"numpy"`` is the batched
        search below.  ``"auto"`` takes numba where it applies.
    chunk_size : int, optional
        Rows solved together by either engine (default 100,000); each row's
        result is the same whatever the chunk.

    Returns
    -------
    Threshold
        ``.total`` is the answer as a Quantity in mol/kg (NaN where the
        target cannot be reached, with ``.reason``); :meth:`Threshold.molarity`
        gives mol/L.

    Notes
    -----
    The search runs on ln T between 1e-12 and 1 mol/kg (secant steps of at
    most two decades, bisection once the root is bracketed).  A row is NaN
    when the target cannot be reached there: without calcium no amount of
    oxalate saturates COM, and with little calcium Ω(COM) levels off, because
    the added oxalate binds the calcium as CaC2O4° and Ca(C2O4)2²⁻.

    Where Ω is not monotonic in T (it rises, then falls as Ca(C2O4)2²⁻ takes
    the calcium), the target can be reached at two totals.  Both engines then
    return the **lowest** total at which Ω reaches the target: a root where Ω
    does not rise through the target is checked for a change of sign of
    log Ω - log target between the lower bound (1e-12 mol/kg, or where the
    counter-ion runs out) and the root, and a bracketed search finds the
    lower root.  This is exact when Ω has at most one extremum in the range.

    Examples
    --------
    Plasma-like water with 1.35 mmol/kg calcium at 37 °C and pH 7.4:

    >>> import oxalate
    >>> from oxalate.searches import threshold
    >>> plasma = oxalate.Solution(calcium="1.35 mmol/kg", magnesium="0.85 mmol/kg",
    ...     sodium="140 mmol/kg", potassium="4.2 mmol/kg", chloride="104 mmol/kg",
    ...     carbonate="25 mmol/kg", phosphate="1.1 mmol/kg", pH=7.4, temperature="37 degC")
    >>> th = threshold(plasma, "oxalate")
    >>> round(float(th.total.m_as("umol/kg")), 1)
    49.2
    >>> th10 = threshold(plasma, "oxalate", target=10)  # ten times supersaturated
    >>> round(float(th10.total.m_as("umol/kg")), 0)
    504.0
    """
    solution = check_solution(solution)
    _check_search(tolerance, max_iterations)
    key, add = _addition(vary, counter_ion)
    model, problem, solution = _problem(
        engines.SearchKind.THRESHOLD, solution, target, phase, add, ph_mode, activity_model,
        constants, tolerance, max_iterations, chunk_size,
    )  # fmt: skip
    result = engines.search(model, problem, engine)
    _warn_range(model, result)
    explain_input(result.reason, solution)
    warn_failed_rows("threshold", result.reason, solution.labels)
    shape = solution.shape

    def shaped(x: Any) -> Any:
        return scalar_or_array(np.asarray(x).reshape(shape))

    return Threshold(
        component=key,
        total=Quantity(shaped(result.value), "mol/kg"),
        molality=shaped(result.value),
        target=shaped(problem.goal),
        supersaturation=shaped(result.omega),
        solution=_solution_at(result, problem, shape),
        converged=shaped(result.converged),
        reason=shaped(result.reason),
        iterations=shaped(result.iterations),
        labels=solution.labels,
    )


@dataclass(frozen=True, repr=False)
class Dilution(Summarized):
    """The result of :func:`dilution_for`; every array has the batch's shape.

    Attributes
    ----------
    factor : numpy.ndarray
        The dilution factor d ≥ 1 (1 where Ω is already at or below the
        target): every total divided by d, i.e. d - 1 kg of water added per
        kg of the sample's water. [-]
    supersaturation : numpy.ndarray
        Ω of the diluted solution (the target, or less where d = 1). [-]
    solution : Solution
        The diluted solution.
    converged : numpy.ndarray of bool
    reason : numpy.ndarray of str
    iterations : numpy.ndarray of int
    """

    factor: Any
    supersaturation: Any
    solution: Solution
    converged: Any
    reason: Any
    iterations: Any
    #: the input rows' labels (``Solution.with_labels``): the index of to_dataframe()
    labels: Any = field(repr=False, default=None)

    def __getitem__(self, index: Any) -> Dilution:
        """The rows ``index`` of the batch (``d[0]``, ``d[mask]``, ``d[2:5]``)."""
        return select(self, index, np.shape(self.factor))

    def _summary(self) -> tuple[str, list[tuple[str, Any, str]]]:
        shape = np.shape(self.factor)
        title = (
            f"Dilution {shape if shape else '(one solution)'}: "
            f"{int(np.count_nonzero(self.converged))} of {int(np.size(self.converged))} found"
        )
        return title, [("dilution factor", self.factor, ""), ("Ω after", self.supersaturation, "")]

    def to_dataframe(self) -> Any:
        """The result as a pandas DataFrame: ``dilution_factor``, ``omega``, ``converged``,
        ``reason`` and ``iterations`` per row, indexed by the input's labels, if any."""
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("to_dataframe() needs pandas: pip install pandas") from err
        flat = {
            "dilution_factor": np.ravel(self.factor),
            "omega": np.ravel(self.supersaturation),
            "converged": np.ravel(self.converged),
            "reason": np.ravel(self.reason),
            "iterations": np.ravel(self.iterations),
        }
        return pd.DataFrame(flat, index=self.labels)


def dilution_for(
    solution: Solution,
    target: Any = 1.0,
    phase: str = "COM",
    *,
    ph_mode: PhMode | None = None,
    activity_model: str = "davies",
    constants: Any = "default",
    tolerance: float = 1e-10,
    max_iterations: int = 60,
    engine: str = "auto",
    chunk_size: int | None = None,
) -> Dilution:
    """The dilution factor that brings a phase's supersaturation down to a target.

    Solves Ω_phase(T/d) = target for d ≥ 1, every total T divided by d:
    "how much more water (urine volume) would make this sample
    undersaturated".

    Parameters
    ----------
    solution : Solution
        The batch.
    target : float or array
        The Ω to reach: 1 for saturation. [-]
    phase : str
        ``"COM"`` (default), ``"COD"``, ``"brushite"``, ...
    ph_mode : {None, "fixed", "closed"}
        ``"fixed"`` (the default when the solution has a pH) holds the pH,
        as a buffered urine roughly does; ``"closed"`` (the default for
        ``pH=None``) solves it, the charge excess diluted with the rest.
    activity_model, constants
        As in :func:`oxalate.speciate`.
    tolerance : float
        Largest ``|log10 Ω - log10 target|`` accepted. [-]
    max_iterations : int
        Steps of the search before a row is declared not converged.
    engine : {"auto", "numpy", "numba"}
        As in :func:`threshold`: ``"numba"`` solves the speciation and ln d
        together in compiled code (Davies, a solution with a pH), rows it
        does not converge going to the numpy search.
    chunk_size : int, optional
        Rows solved together by either engine (default 100,000).

    Returns
    -------
    Dilution
        ``.factor`` is d (1 where Ω ≤ target already); NaN with a
        ``.reason`` where the input is invalid or the search fails.

    Notes
    -----
    The dilution is by mass of water; for dilute urine the factor is also
    the ratio of volumes, so a 24 h volume V becomes d·V.  The search runs on
    ln d up to d = 1e12.

    Examples
    --------
    >>> import oxalate
    >>> from oxalate.searches import dilution_for
    >>> urine = oxalate.Solution(calcium="4 mmol/L", magnesium="3 mmol/L",
    ...     sodium="150 mmol/L", potassium="60 mmol/L", chloride="150 mmol/L",
    ...     oxalate="0.35 mmol/L", citrate="2.5 mmol/L", phosphate="20 mmol/L",
    ...     sulfate="15 mmol/L", pH=6.0, temperature="37 degC")
    >>> d = dilution_for(urine)
    >>> round(float(d.factor), 2), round(float(d.supersaturation), 6)
    (6.7, 1.0)
    """
    solution = check_solution(solution)
    _check_search(tolerance, max_iterations)
    model, problem, solution = _problem(
        engines.SearchKind.DILUTION, solution, target, phase, None, ph_mode, activity_model,
        constants, tolerance, max_iterations, chunk_size,
    )  # fmt: skip
    result = engines.search(model, problem, engine)
    _warn_range(model, result)
    explain_input(result.reason, solution)
    warn_failed_rows("dilution_for", result.reason, solution.labels)
    shape = solution.shape

    def shaped(x: Any) -> Any:
        return scalar_or_array(np.asarray(x).reshape(shape))

    return Dilution(
        factor=shaped(result.value),
        supersaturation=shaped(result.omega),
        solution=_solution_at(result, problem, shape),
        converged=shaped(result.converged),
        reason=shaped(result.reason),
        iterations=shaped(result.iterations),
        labels=solution.labels,
    )


@dataclass(frozen=True, repr=False)
class Titration(Summarized):
    """The result of :func:`titrate`.

    Attributes
    ----------
    component : str
        The component added (``"Ox"``).
    added : pint.Quantity, shape ``(*batch, n_steps + 1)``
        Amount added after each step, 0 first. [mol/kg]
    supersaturation : numpy.ndarray, shape ``(*batch, n_steps + 1)``
        Ω of the phase after each step. [-]
    added_at_target : pint.Quantity, shape batch
        The amount added at which Ω first reaches the target, found exactly
        between the two steps that straddle it; 0 if Ω ≥ target at the start,
        NaN (with ``reason``) if it is not reached within the series. [mol/kg]
    first_step : numpy.ndarray of int
        Index of the first step with Ω ≥ target (-1: none).
    converged : numpy.ndarray of bool
    reason : numpy.ndarray of str
    amount, pH, free_calcium : numpy.ndarray, shape ``(*batch, n_steps + 1)``, or None
        With ``precipitating=True``: the phase formed at each step [mol/kg of
        initial water], the pH and the free Ca²⁺ [mol/kg] at equilibrium with
        it.  ``supersaturation`` is then Ω before precipitation (the crossing
        is where it first reaches ``target``); Ω after is 1 wherever solid formed.
    """

    component: str
    added: Any
    supersaturation: Any
    added_at_target: Any
    first_step: Any
    converged: Any
    reason: Any
    amount: Any = None
    pH: Any = None
    free_calcium: Any = None

    def _summary(self) -> tuple[str, list[tuple[str, Any, str]]]:
        steps = np.shape(self.supersaturation)[-1]
        title = f"Titration with {self.component}, {steps} points" + (
            ", precipitating" if self.amount is not None else ""
        )
        rows: list[tuple[str, Any, str]] = [
            ("added at the target", 1e6 * np.asarray(self.added_at_target.m_as("mol/kg")),
             "µmol/kg"),
            ("Ω at the last step", np.asarray(self.supersaturation)[..., -1], ""),
        ]  # fmt: skip
        if self.amount is not None:
            rows.append(("formed at the last step", 1e6 * np.asarray(self.amount)[..., -1],
                         "µmol/kg"))  # fmt: skip
        return title, rows


def titrate(
    solution: Solution,
    component: str = "oxalate",
    step: Any = "0.05 mmol/kg",
    n_steps: int = 40,
    *,
    counter_ion: str | None = "sodium",
    target: Any = 1.0,
    phase: str = "COM",
    ph_mode: PhMode | None = None,
    activity_model: str = "davies",
    constants: Any = "default",
    tolerance: float = 1e-10,
    precipitating: bool = False,
) -> Titration:
    """Add a component step by step and follow Ω: an in-silico oxalate titration.

    Step k adds k·``step`` of ``component`` (with its counter-ion) per kg of
    water, without a change of volume, and speciates; the amount at which Ω
    first reaches ``target`` is then found exactly between the straddling
    steps.  With the defaults this is the chemistry of the Bonn Risk Index
    test (Laube et al.), in which oxalate is added to urine until calcium
    oxalate crystallises; the test itself detects crystals optically, at a
    supersaturation above 1 that depends on the kinetics (the metastable
    limit), so compare with a ``target`` of about 8-11 rather than 1.

    Parameters
    ----------
    solution : Solution
        The batch.
    component : str
        What is added; default ``"oxalate"``.
    step : pint.Quantity or str
        The amount added per step, per kg of water. [mol/kg]
    n_steps : int
        Number of steps.
    counter_ion : str or None
        Added with the component in equivalent amount; default ``"sodium"``
        (oxalate added as Na₂C₂O₄, so sodium rises by twice the oxalate).
        ``None`` adds the bare ion (its charge carried as charge excess).
    target : float or array
        The Ω whose crossing is reported. [-]
    phase : str
        Default ``"COM"``.
    ph_mode : {None, "fixed", "closed"}
        As in :func:`threshold`: pH held when the solution has one.
    activity_model, constants
        As in :func:`oxalate.speciate`.
    tolerance : float
        Largest ``|log10 Ω - log10 target|`` at the crossing. [-]
    precipitating : bool
        Let ``phase`` precipitate at every step (equilibrium with the solid,
        by :func:`oxalate.precipitate`, closed or fixed pH as ``ph_mode``) and
        report the amount formed, the pH and the free Ca²⁺ per step, as a lab
        titration that crystallises would show them.  Needs a ``counter_ion``.

    Returns
    -------
    Titration

    Examples
    --------
    >>> import oxalate
    >>> from oxalate.searches import titrate
    >>> urine = oxalate.Solution(calcium="2.5 mmol/L", magnesium="3 mmol/L",
    ...     sodium="150 mmol/L", potassium="60 mmol/L", chloride="150 mmol/L",
    ...     oxalate="0.05 mmol/L", citrate="3 mmol/L", phosphate="20 mmol/L",
    ...     sulfate="15 mmol/L", pH=6.0, temperature="37 degC")
    >>> tt = titrate(urine, step="0.005 mmol/kg", n_steps=40)
    >>> tt.supersaturation[:5].round(3)
    array([0.753, 0.827, 0.901, 0.975, 1.048])
    >>> int(tt.first_step), round(float(tt.added_at_target.m_as("umol/kg")), 2)
    (4, 16.72)
    """
    solution = check_solution(solution)
    _check_search(tolerance, 60)
    if not (isinstance(n_steps, int) and n_steps > 0):
        raise ValueError(f"n_steps={n_steps!r} must be a positive integer")
    if isinstance(step, str):
        step = Quantity(step)
    if not hasattr(step, "m_as"):
        raise TypeError(f"step={step!r} has no units; give an amount per kg, e.g. '0.05 mmol/kg'")
    try:
        dx = float(step.m_as("mol/kg"))
    except Exception as err:  # pint's DimensionalityError
        raise ValueError(f"step={step!s} is not an amount per kg of water") from err
    if not (math.isfinite(dx) and dx > 0):
        raise ValueError(f"step={step!s} must be positive")
    key, add = _addition(component, counter_ion, "component")
    if precipitating and counter_ion is None:
        raise ValueError("titrate: precipitating=True needs a counter_ion (a salt is added)")
    original = solution
    model, problem, solution = _problem(
        engines.SearchKind.THRESHOLD, solution, target, phase, add, ph_mode, activity_model,
        constants, tolerance, 60,
    )  # fmt: skip
    out = engines.titrate(model, problem, dx, n_steps)
    shape = solution.shape
    added = dx * np.arange(n_steps + 1)
    full = (*shape, n_steps + 1)
    result = Titration(
        component=key,
        added=Quantity(np.broadcast_to(added, full).copy(), "mol/kg"),
        supersaturation=out.omega.reshape(full),
        added_at_target=Quantity(scalar_or_array(out.added_at_target.reshape(shape)), "mol/kg"),
        first_step=scalar_or_array(out.first_step.reshape(shape)),
        converged=scalar_or_array(out.converged.reshape(shape)),
        reason=scalar_or_array(out.reason.reshape(shape)),
    )
    if not precipitating:
        return result
    return _precipitating(result, original, key, add, added, phase, ph_mode, activity_model,
                          constants)  # fmt: skip


def _precipitating(
    result: Titration, solution: Solution, key: str, add: engines.Addition, added: Any,
    phase: str, ph_mode: Any, activity_model: str, constants: Any,
) -> Titration:  # fmt: skip
    """Every step equilibrated with ``phase``: one precipitate() call on all the steps."""
    from dataclasses import replace

    from .precipitation import precipitate

    solutes = chemical_system().solutes
    full = (*solution.shape, np.size(added))
    totals = {
        c: np.array(np.broadcast_to(np.asarray(v)[..., None], full))
        for c, v in solution.totals.items()
    }
    totals[key] = totals[key] + added
    counter = solutes[add.counter_ion]
    totals[counter] = totals[counter] + add.ratio * added
    ph = None if solution.pH is None else np.broadcast_to(np.asarray(solution.pH)[..., None], full)
    t = np.broadcast_to(np.asarray(solution.temperature)[..., None], full)
    steps = Solution.from_arrays(totals, pH=ph, temperature_kelvin=t)
    mode: PhMode = ph_mode if ph_mode is not None else "closed"
    p = precipitate(steps, phases=(phase,), ph_mode=mode, activity_model=activity_model,
                    constants=constants)  # fmt: skip
    return replace(
        result,
        amount=np.asarray(p.amount[phase]),
        pH=np.asarray(p.speciation.pH),
        free_calcium=np.asarray(p.speciation.free("Ca+2")),
    )
