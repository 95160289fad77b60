"""The engines: every solver of oxalate, behind one problem-in, arrays-out interface.

Layers (``docs/architecture.rst``)::

    public modules    speciation, precipitation, searches, ...   validate, build, assemble
    engines           this package                               solve
    physics           database, thermo, activity, _common        data and formulas

The engines import only the physics layer, never a public module.  A public
function validates its arguments, builds a problem record
(:mod:`.records`), calls one of the functions below and assembles its result
object from the raw arrays that come back.

Each function chooses its engine in one place (:func:`use_compiled`):

``"numpy"``
    The batched numpy solvers: :mod:`.numpy_speciation`,
    :mod:`.numpy_reaction`, :mod:`.numpy_search`.
``"numba"``
    The compiled kernels (:mod:`.compiled`), generated per species structure
    (:mod:`.codegen`, :mod:`.reaction_kernel`).  They cover PHREEQC's Davies
    model, species with at most one metal and one ligand, a fixed pH for
    speciation and a solution with a pH (and no initial solid) for the
    reactions.
``"auto"``
    The compiled kernels where they apply and numba is installed, else numpy.

and retries the rows the compiled engine leaves unconverged with the numpy
engine, in one place per function, keeping the numpy engine's reason where it
fails too.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from .._errors import OxalateEngineWarning, user_stacklevel
from . import crystal, kinetics, numpy_reaction, numpy_search, numpy_speciation
from .cache import KernelCacheError
from .model import (
    PhaseTable,
    SpeciesModel,
    component_log_activities,
    log_iap,
    phase_table,
    species_model,
)
from .records import (
    OK,
    Addition,
    PrecipitationProblem,
    PrecipitationResult,
    Reason,
    SearchKind,
    SearchProblem,
    SearchResult,
    SpeciationProblem,
    SpeciationResult,
)

__all__ = [
    "ENGINES",
    "OK",
    "Addition",
    "PhaseTable",
    "PrecipitationProblem",
    "PrecipitationResult",
    "Reason",
    "SearchKind",
    "SearchProblem",
    "SearchResult",
    "SpeciationProblem",
    "SpeciationResult",
    "SpeciesModel",
    "component_log_activities",
    "crystal",
    "crystallize",
    "kinetics",
    "log_iap",
    "phase_table",
    "precipitate",
    "search",
    "speciate",
    "species_model",
    "titrate",
    "use_compiled",
]

#: Names accepted by ``engine=``.
ENGINES = ("auto", "numpy", "numba")

_SPECIATION_CASE = "the Davies model"
_REACTION_CASE = "the Davies model, a solution with a pH and no initial solids"


def _compiled_module() -> Any:
    try:
        from . import compiled
    except ImportError as err:
        raise ImportError(
            "engine='numba' needs the optional numba package: pip install 'oxalate[fast]'"
        ) from err
    return compiled


_WARNED: set[str] = set()


def _engine_unavailable(reason: str) -> None:
    """Warn once per process that the numpy engine runs instead of the compiled one."""
    if reason in _WARNED:
        return
    _WARNED.add(reason)
    warnings.warn(
        f"the compiled engine cannot run: {reason}. The numpy engine gives the same "
        f"results, more slowly.",
        OxalateEngineWarning,
        stacklevel=user_stacklevel(),
    )


def check_engine(engine: Any) -> str:
    """``engine`` itself, or ValueError naming it and the accepted values."""
    if not isinstance(engine, str) or engine not in ENGINES:
        raise ValueError(f"engine={engine!r} is not known; accepted: 'auto', 'numpy', 'numba'")
    return engine


def use_compiled(engine: str, model: SpeciesModel, applies: bool, case: str) -> bool:
    """True when the compiled kernels should run.

    ``applies``: the call is one the kernels cover apart from the activity
    model (which must be Davies), described by ``case`` in the error that
    ``engine="numba"`` raises otherwise.  ``"auto"`` falls back to numpy
    wherever ``"numba"`` would raise.
    """
    check_engine(engine)
    if engine == "numpy":
        return False
    if not (model.name == "davies" and applies):
        if engine == "numba":
            raise ValueError(
                f"engine='numba' covers {case}; use engine='numpy' (or 'auto') for this case"
            )
        return False
    try:
        compiled = _compiled_module()
    except ImportError:
        if engine == "numba":
            raise
        return False
    try:
        compiled.available()
    except KernelCacheError as err:
        if engine == "numba":
            raise RuntimeError(
                f"engine='numba' needs a folder for its compiled kernels: {err}"
            ) from err
        _engine_unavailable(str(err))
        return False
    if not compiled.covers(model):
        if engine == "numba":
            raise ValueError(
                "engine='numba' needs species with at most one metal and one ligand and "
                "integer coefficients; use engine='numpy' for this constant set"
            )
        return False
    return True


#: Rows the compiled engine solves together by default: the batch in blocks that
#: keep its arrays in cache (a 1e7-row call ran at half the speed of a loop of
#: 1e5-row calls without them; ECOSYSTEM.md section 1.2).
COMPILED_CHUNK = 100_000

_Record = TypeVar("_Record", SpeciationResult, PrecipitationResult, SearchResult)


def in_chunks(
    solve: Callable[..., _Record], problem: Any, size: int, alongside: Any = None
) -> _Record:
    """``solve`` on blocks of ``size`` rows of ``problem``, into one result record.

    Each row is solved as it would be alone, so the result has the same bits
    whatever ``size``.  ``alongside``, a record of the same rows (a seed), is
    cut into the same blocks and passed as ``solve``'s second argument.
    """

    def part(rows: slice | None) -> _Record:
        if rows is None:
            return solve(problem) if alongside is None else solve(problem, alongside)
        if alongside is None:
            return solve(problem.take(rows))
        return solve(problem.take(rows), alongside.take(rows))

    n = problem.size
    if n <= size:
        return part(None)
    first = part(slice(0, size))
    out = first.grown(n)
    out.put(slice(0, size), first)
    for lo in range(size, n, size):
        rows = slice(lo, min(lo + size, n))
        out.put(rows, part(rows))
    return out


def speciate(
    model: SpeciesModel,
    problem: SpeciationProblem,
    engine: str = "auto",
    seed: SpeciationResult | None = None,
) -> SpeciationResult:
    """Speciate a batch; rows the compiled kernel leaves are retried by numpy.

    A pH solved from the charge balance must lie in 0-14: a row whose root
    lies outside is not converged (its reason says so).  ``seed``, a
    speciation of a nearby state of each row, starts the compiled kernel's
    charge balance there (:func:`.compiled.speciate_balanced`); rows it
    leaves are solved again from the usual start.  The numpy engine and
    the fixed-pH kernel do not use it.
    """
    if use_compiled(engine, model, True, _SPECIATION_CASE):
        compiled = _compiled_module()
        if problem.fixed_ph:  # the kernel writes each block into the result itself
            result: SpeciationResult = SpeciationResult.empty(
                problem.size, len(model.z), model.n_gamma, problem.totals, fill=False
            )
            size = problem.chunk_size or COMPILED_CHUNK
            for lo in range(0, problem.size, size):
                rows = slice(lo, min(lo + size, problem.size))
                compiled.speciate(model, problem.take(rows), out=result.take(rows))
            result = replace(result, engine="numba")
        else:
            size = problem.chunk_size or COMPILED_CHUNK
            if seed is None:
                result = in_chunks(lambda p: compiled.speciate_balanced(model, p), problem, size)
            else:
                result = in_chunks(
                    lambda p, start: compiled.speciate_balanced(model, p, start),
                    problem, size, seed,
                )  # fmt: skip
                cold = np.flatnonzero(problem.valid & ~result.converged)
                if cold.size:
                    result.put(cold, in_chunks(lambda p: compiled.speciate_balanced(model, p),
                                               problem.take(cold), size))  # fmt: skip
        redo = np.flatnonzero(problem.valid & ~result.converged)
        if redo.size:
            result.put(redo, numpy_speciation.solve(model, problem.take(redo)))
    else:
        result = numpy_speciation.solve(model, problem)
    if problem.solve_ph:
        with np.errstate(invalid="ignore"):
            outside = result.converged & ~((result.pH >= 0.0) & (result.pH <= 14.0))
        if outside.any():
            _unconverged(result, outside, Reason.PH_RANGE)
    return result


def _unconverged(result: SpeciationResult, rows: Any, reason: str) -> None:
    """Flag ``rows`` of a speciation as not converged, NaN in every result, with a reason."""
    for array in (result.molality, result.log_gamma):
        array[rows] = np.nan
    for array1 in (result.ionic_strength, result.water_activity, result.pH):
        array1[rows] = np.nan
    result.converged[rows] = False
    result.reason[rows] = reason


def _auto_speciate(model: SpeciesModel) -> Any:
    def run(problem: SpeciationProblem) -> SpeciationResult:
        return speciate(model, problem, "auto")

    return run


def precipitate(
    model: SpeciesModel, problem: PrecipitationProblem, engine: str = "auto"
) -> PrecipitationResult:
    """Equilibrate a batch with solids; rows the compiled kernel leaves are retried by numpy.

    The numpy engine speciates the initial and final solutions with the
    ``"auto"`` engine.  Rows that do not converge come back NaN (amounts,
    totals, water, pH and their speciation) with a reason.
    """
    applies = problem.ph is not None and not bool((problem.initial > 0).any())
    if use_compiled(engine, model, applies, _REACTION_CASE):
        compiled = _compiled_module()
        result: PrecipitationResult = in_chunks(
            lambda p: compiled.precipitate(model, p),
            problem,
            problem.chunk_size or COMPILED_CHUNK,
        )
        redo = np.flatnonzero(~result.converged & (result.reason == OK))
        if redo.size:
            sub = numpy_reaction.solve(model, problem.take(redo), _auto_speciate(model))
            result.put(redo, sub)
    else:
        result = in_chunks(
            lambda p: numpy_reaction.solve(model, p, _auto_speciate(model)),
            problem,
            problem.chunk_size or COMPILED_CHUNK,
        )
    with np.errstate(invalid="ignore"):
        outside = result.converged & ~((result.pH >= 0.0) & (result.pH <= 14.0))
    result.converged[outside] = False
    result.reason[outside] = Reason.PH_AFTER
    bad = ~result.converged
    sp = result.speciation
    for array in (result.amount, result.totals, sp.molality, sp.log_gamma):
        array[bad] = np.nan
    for array1 in (result.water, result.pH, sp.ionic_strength, sp.water_activity, sp.residual):
        array1[bad] = np.nan
    sp.converged[:] = result.converged
    result.active[bad] = False
    return result


def search(model: SpeciesModel, problem: SearchProblem, engine: str = "auto") -> SearchResult:
    """A threshold or dilution search; rows the compiled kernel leaves are retried by numpy."""
    solve = (
        numpy_search.threshold if problem.kind == SearchKind.THRESHOLD else numpy_search.dilution
    )
    if use_compiled(engine, model, problem.ph is not None, _REACTION_CASE):
        compiled = _compiled_module()
        result: SearchResult = in_chunks(
            lambda p: compiled.search(model, p), problem, problem.chunk_size or COMPILED_CHUNK
        )
        redo = np.flatnonzero(~result.converged & (result.reason == OK))
        if redo.size:
            result.put(redo, solve(model, problem.take(redo), _auto_speciate(model)))
    else:
        result = in_chunks(
            lambda p: solve(model, p, _auto_speciate(model)),
            problem,
            problem.chunk_size or COMPILED_CHUNK,
        )
    if problem.kind == SearchKind.THRESHOLD:
        numpy_search.lowest_roots(model, problem, result, _auto_speciate(model))
    with np.errstate(invalid="ignore"):
        outside = result.converged & ~((result.pH >= 0.0) & (result.pH <= 14.0))
    result.converged[outside] = False
    result.reason[outside] = Reason.PH_AFTER
    bad = ~result.converged
    for array in (result.value, result.pH, result.omega, result.ionic_strength):
        array[bad] = np.nan
    result.totals[bad] = np.nan
    return result


def titrate(
    model: SpeciesModel, problem: SearchProblem, step: float, n_steps: int
) -> numpy_search.Titration:
    """A titration series and its crossing (numpy search, ``"auto"`` speciation)."""
    return numpy_search.titration(model, problem, step, n_steps, _auto_speciate(model))


def kernel_cache_folder() -> Path:
    """The compiled kernels' cache folder (:func:`.cache.cache_dir`)."""
    from .cache import cache_dir

    return cache_dir()


def build_compiled(model: SpeciesModel, kernel: str) -> None:
    """Generate, load and compile one kernel for the model's structure (``oxalate.compile``)."""
    use_compiled("numba", model, True, _SPECIATION_CASE)
    compiled = _compiled_module()
    n = 3
    totals = np.full((n, model.n_components), 1e-3)
    problem = SpeciationProblem(
        totals=totals, temperature=np.full(n, 310.15), ph=np.full(n, 6.0),
        charge_offset=np.zeros(n),
    )  # fmt: skip
    if kernel == "speciate":
        compiled.speciate(model, problem)
        return
    if kernel == "crystallize":
        compiled.build_kinetics()
        return
    tab = phase_table(model.constants, (model.constants.phases[0],))
    compiled.precipitate(
        model,
        PrecipitationProblem(
            totals=totals, temperature=problem.temperature, ph=problem.ph,
            initial=np.zeros((n, 1)), phases=tab,
        ),
    )  # fmt: skip


def crystallize(
    model: SpeciesModel, problem: kinetics.CrystallizationProblem, engine: str = "auto"
) -> kinetics.CrystallizationResult:
    """Crystallise a batch over time (:mod:`.kinetics`), speciating with ``engine``."""

    def run_speciate(
        p: SpeciationProblem, seed: SpeciationResult | None = None
    ) -> SpeciationResult:
        return speciate(model, p, engine, seed)

    def run_precipitate(p: PrecipitationProblem) -> PrecipitationResult:
        return precipitate(model, p, engine)

    return kinetics.solve(model, problem, run_speciate, run_precipitate, _curve_integrator(engine))


def _curve_integrator(engine: str) -> kinetics.IntegrateCurve | None:
    """The compiled per-row integrator of the curve coupling, or None: numpy's.

    It does not depend on the species, so it runs wherever numba and the
    kernel cache are available (``engine="numpy"`` asks for the numpy one).
    """
    check_engine(engine)
    if engine == "numpy":
        return None
    try:
        compiled = _compiled_module()
    except ImportError:
        if engine == "numba":
            raise
        return None
    try:
        compiled.available()
    except KernelCacheError:
        return None  # the speciation says so (a warning, or the error of engine="numba")
    integrate: kinetics.IntegrateCurve = compiled.integrate_curve
    return integrate
