"""Crystallisation over time: nucleation, growth and aggregation of a batch of solutions.

:func:`crystallize` follows every row of a :class:`~oxalate.Solution` batch in
time under the rate laws of :mod:`oxalate.kinetics`, with the liquid computed
by the library's own speciation at every instant, and returns a
:class:`Crystallization` at the requested times.  ``numpy.inf`` among the
times is the equilibrium state, that of :func:`oxalate.precipitate`.

Conventions
-----------
As in :func:`oxalate.precipitate`: amounts of solid, crystal numbers and
moments are per kilogram of the *initial* water; the liquid is described per
kilogram of the water *left*, which loses x moles of H₂O per mole of hydrate
CaC₂O₄·xH₂O formed.  The solid amount is the state; the liquid is computed
from it, so mass is conserved exactly by construction.  pH is ``"closed"``
(charge and protons conserved, as in PHREEQC's ``KINETICS``) or ``"fixed"``.

Each phase is described according to its law and options:

=============================================  =============================================
law and options                                description (state per row)
=============================================  =============================================
:class:`~oxalate.kinetics.BulkRate`            the amount ξ alone
``Growth`` with seeds only                     the growth Λ every seed shared: ξ(Λ)
``Growth`` with nucleation (``"moments"``)     μ₀, μ₁, μ₂, ξ and Λ (exact for G(σ))
``Growth`` with aggregation (``"sectional"``)  crystals per size class (fixed pivots)
=============================================  =============================================

Numerics
--------
The rows are independent systems integrated together by a per-row adaptive,
L-stable Rosenbrock method (RODAS4) in numpy: a row's result does not
depend on the other rows.  With one kinetic phase the driving force ln Ω(ξ)
is tabulated once per row on Chebyshev nodes (a batched speciation) and read
at the cost of a polynomial; the output times are speciated again exactly.
See :mod:`oxalate._engines.kinetics`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from . import _engines as engines
from ._common import scalar_or_array
from ._display import Summarized
from ._kinetics_inputs import quantity_array as _value
from ._phase_kinetics import kinetics_of_phase
from .activity import check_model, warn_if_outside
from .database import ConstantSet, canonical_phase, resolve_constants
from .kinetics import (
    Aggregation,
    BulkRate,
    Grid,
    Growth,
    Nucleation,
    ParameterSet,
    Seeds,
    Solid,
    check_binding,
    default_solid,
    parameter_set,
    warn_temperature,
)
from .solution import Solution
from .speciation import Speciation, speciation_from_result
from .units import Quantity

__all__ = ["Crystallization", "crystallize"]

FloatArray: TypeAlias = npt.NDArray[np.float64]
PhMode = Literal["closed", "fixed"]

_METHODS = ("auto", "moments", "sectional")
_COUPLINGS = ("auto", "curve", "direct")


@dataclass(frozen=True, repr=False)
class Crystallization(Summarized):
    """The result of :func:`crystallize`: time series over the batch.

    Every time series has the output times first, then the batch's shape.

    Attributes
    ----------
    time : numpy.ndarray
        The output times (``inf``: equilibrium). [s]
    phases : tuple of str
    amount : Mapping of str to numpy.ndarray
        Solid formed since t = 0 per kg of initial water (negative: seeds
        dissolved). [mol/kg]
    present : Mapping of str to numpy.ndarray
        Seeds plus ``amount``. [mol/kg]
    supersaturation : Mapping of str to numpy.ndarray
        Ω of each kinetic phase in the liquid (exact at every output). [-]
    pH, water_mass : numpy.ndarray
        pH and the mass of water left per kg of initial water [kg].
    totals : Mapping of str to numpy.ndarray
        Total dissolved molality of each component. [mol/kg of water left]
    moments : Mapping of str to numpy.ndarray
        μ₀..μ₃ (last axis) of the crystals per kg of initial water
        [m^k/kg]; NaN for a :class:`~oxalate.kinetics.BulkRate` and at
        t = inf, except for seeds alone.
    number, mean_size, max_size, surface_area : Mapping of str to numpy.ndarray
        μ₀ [1/kg], μ₁/μ₀ [m], the largest crystal [m] (the largest seed
        grown, or the first crystal counted grown since its birth; for the
        sectional method the largest size class holding ``count`` crystals)
        and k_a μ₂ [m²/kg].
    distribution : Mapping of str to numpy.ndarray or None
        Sectional method: crystals per kg in each class (last axis), at the
        pivots ``sizes`` [m].
    induction_time : Mapping of str to numpy.ndarray
        First time the solid formed reaches the ``detection`` volume
        fraction of the solution (NaN if not within the times). [s]
    converged : numpy.ndarray of bool
    reason : numpy.ndarray of str
    steps : numpy.ndarray of int
        Integration steps of each row.
    ph_mode : str
    method : Mapping of str to str
        ``"bulk"``, ``"seeded"``, ``"moments"`` or ``"sectional"`` per phase.
    """

    time: FloatArray
    phases: tuple[str, ...]
    amount: Mapping[str, Any]
    present: Mapping[str, Any]
    supersaturation: Mapping[str, Any]
    pH: Any
    water_mass: Any
    totals: Mapping[str, Any]
    moments: Mapping[str, Any]
    number: Mapping[str, Any]
    mean_size: Mapping[str, Any]
    max_size: Mapping[str, Any]
    surface_area: Mapping[str, Any]
    distribution: Mapping[str, Any] | None
    sizes: FloatArray | None
    induction_time: Mapping[str, Any]
    converged: Any
    reason: Any
    steps: Any
    ph_mode: str
    method: Mapping[str, str]
    _model: Any = field(repr=False, default=None)
    _raw: Any = field(repr=False, default=None)
    _shape: tuple[int, ...] = field(repr=False, default=())
    _electroneutral: bool = field(repr=False, default=False)

    def _summary(self) -> tuple[str, list[tuple[str, Any, str]]]:
        batch = np.shape(self.converged)
        title = (
            f"Crystallization {batch if batch else '(one solution)'} of {', '.join(self.phases)}, "
            f"{np.size(self.time)} times to {float(np.asarray(self.time)[-1]):g} s: "
            f"{int(np.count_nonzero(self.converged))} of {int(np.size(self.converged))} converged"
        )
        rows: list[tuple[str, Any, str]] = []
        for p in self.phases:
            rows.append(
                (f"formed {p} at the end", 1e3 * np.asarray(self.amount[p])[-1], "mmol/kg")
            )
            rows.append((f"Ω({p}) at the end", np.asarray(self.supersaturation[p])[-1], ""))
        return title, rows

    def solution_at(self, k: int) -> Solution:
        """The liquid at output ``k`` as a :class:`~oxalate.Solution` (per kg of water left).

        Examples
        --------
        >>> import oxalate
        >>> s = oxalate.Solution(calcium="1 mmol/kg", oxalate="1 mmol/kg", sodium="2 mmol/kg",
        ...                      chloride="2 mmol/kg", pH=6.5)
        >>> r = oxalate.crystallize(s, oxalate.Quantity([0, 600], "s"),
        ...                         growth=oxalate.kinetics.BulkRate("1e-8 mol/kg/s"))
        >>> float(r.solution_at(0).totals["Ca"])
        0.001
        """
        raw = self._raw
        tot = raw.totals[k]
        ph = None if (self._electroneutral and self.ph_mode == "closed") else raw.pH[k]
        return Solution.from_arrays(
            {c: tot[:, i].reshape(self._shape) for i, c in enumerate(self._model.system.solutes)},
            pH=None if ph is None else ph.reshape(self._shape),
            temperature_kelvin=raw.temperature.reshape(self._shape),
        )

    def speciation_at(self, k: int) -> Speciation:
        """The full :class:`~oxalate.Speciation` of the liquid at output ``k``."""
        raw = self._raw
        return speciation_from_result(
            self._model, raw.speciation[k], self._shape, raw.totals[k], raw.temperature
        )

    def to_dataframe(self) -> Any:
        """A long table: one row per output time and solution (pandas needed).

        Columns: ``time`` [s], ``row`` (flat index in the batch),
        ``amount_<phase>``, ``supersaturation_<phase>``, ``number_<phase>``,
        ``mean_size_<phase>``, ``max_size_<phase>``, ``pH``, ``water_mass``,
        ``total_<component>``, ``converged``, ``reason``.

        Examples
        --------
        >>> import pytest
        >>> _ = pytest.importorskip("pandas")
        >>> import oxalate
        >>> s = oxalate.Solution(calcium="1 mmol/kg", oxalate="1 mmol/kg", sodium="2 mmol/kg",
        ...                      chloride="2 mmol/kg", pH=6.5)
        >>> r = oxalate.crystallize(s, oxalate.Quantity([0, 600], "s"),
        ...                         growth=oxalate.kinetics.BulkRate("1e-8 mol/kg/s"))
        >>> list(r.to_dataframe().columns[:3])
        ['time', 'row', 'amount_COM']
        """
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("to_dataframe() needs pandas: pip install pandas") from err
        n_t = self.time.size
        n = int(np.prod(self._shape, dtype=np.int64))
        flat: dict[str, Any] = {
            "time": np.repeat(self.time, n),
            "row": np.tile(np.arange(n), n_t),
        }

        def col(x: Any) -> Any:
            return np.asarray(x).reshape(n_t * n)

        for p in self.phases:
            flat[f"amount_{p}"] = col(self.amount[p])
            flat[f"supersaturation_{p}"] = col(self.supersaturation[p])
            flat[f"number_{p}"] = col(self.number[p])
            flat[f"mean_size_{p}"] = col(self.mean_size[p])
            flat[f"max_size_{p}"] = col(self.max_size[p])
        flat["pH"] = col(self.pH)
        flat["water_mass"] = col(self.water_mass)
        for c, v in self.totals.items():
            flat[f"total_{c}"] = col(v)
        flat["converged"] = np.tile(np.ravel(self.converged), n_t)
        flat["reason"] = np.tile(np.ravel(self.reason), n_t)
        return pd.DataFrame(flat)


@dataclass(frozen=True)
class _Raw:
    totals: FloatArray  # (T, N, C)
    pH: FloatArray  # (T, N)
    temperature: FloatArray
    speciation: list[Any]


def _times(time: Any) -> FloatArray:

    if isinstance(time, str):
        time = Quantity(time)
    t = np.atleast_1d(_value(time, "s", "time", "'60 min' or oxalate.Quantity([0, 10, 60], 'min')",
                             allow_inf=True))  # fmt: skip
    if t.ndim != 1 or t.size == 0:
        raise ValueError("time must be one time or a 1-D array of times")
    if np.any(np.diff(t) <= 0):
        raise ValueError("time must be strictly increasing")
    if np.any(~np.isfinite(t[:-1])):
        raise ValueError("time: inf (the equilibrium) may only be the last time")
    return t


def _per_phase(
    arg: Any, keys: tuple[str, ...], cs: ConstantSet, name: str, kinds: tuple[type, ...]
) -> dict[str, Any]:
    """A record for every phase: one record for all, or a mapping of phase to record."""
    out: dict[str, Any] = dict.fromkeys(keys)
    if arg is None:
        return out
    if isinstance(arg, Mapping):
        for phase, value in arg.items():
            key = canonical_phase(phase, cs)
            if key not in keys:
                raise ValueError(f"{name}[{phase!r}]: {key} is not among phases={keys}")
            if value is not None and not isinstance(value, kinds):
                raise TypeError(
                    f"{name}[{phase!r}]={value!r} must be a "
                    f"{' or '.join(k.__name__ for k in kinds)}"
                )
            out[key] = value
        return out
    if not isinstance(arg, kinds):
        raise TypeError(
            f"{name}={arg!r} must be a {' or '.join(k.__name__ for k in kinds)} "
            f"or a mapping of phase to one"
        )
    return dict.fromkeys(keys, arg)


def crystallize(
    solution: Solution,
    time: Any,
    *,
    phases: str | Sequence[str] = ("COM",),
    growth: Growth | BulkRate | Mapping[str, Any] | None = None,
    nucleation: Nucleation | Mapping[str, Any] | None = None,
    seeds: Seeds | Mapping[str, Any] | None = None,
    aggregation: Aggregation | Mapping[str, Any] | None = None,
    solid: Solid | Mapping[str, Any] | None = None,
    parameters: str | ParameterSet | None = None,
    ph_mode: PhMode = "closed",
    method: str = "auto",
    coupling: str = "auto",
    rtol: float = 1e-6,
    detection: float = 1e-5,
    count: Any = "1 1/kg",
    grid: Grid | None = None,
    activity_model: str = "davies",
    constants: Any = "default",
    engine: str = "auto",
    max_steps: int = 20_000,
) -> Crystallization:
    """Crystallise every solution of a batch over time.

    For each row the amount ξ_p of every kinetic phase follows its rate law
    (:mod:`oxalate.kinetics`), driven by Ω_p of the liquid, which is the
    library's speciation of what is left:

    .. math:: T_c(t) = \\frac{T_c^0 - \\sum_p \\nu_{pc}\\,\\xi_p(t)}{W(t)}, \\qquad
              W(t) = 1 - M_w \\sum_p x_p\\,\\xi_p(t)

    (plus the water held as OH⁻, as in :func:`oxalate.precipitate`), with the
    pH closed (Σ z m = q₀/W) or held.

    Parameters
    ----------
    solution : Solution
        The batch at t = 0.
    time : pint.Quantity or str
        Output times, ascending, from 0; ``numpy.inf`` last for the
        equilibrium (e.g. ``oxalate.Quantity([0, 10, 60, np.inf], "min")``).
        [s]
    phases : str or sequence of str
        Kinetic phases (``"COM"``, ``"COD"``, ...); the others stay dissolved.
    growth : Growth, BulkRate or mapping of phase to one
        The rate law.  Required unless ``parameters`` gives it.
    nucleation : Nucleation or mapping, optional
        Primary nucleation (default: none).
    seeds : Seeds or mapping, optional
        Crystals present at the start.
    aggregation : Aggregation or mapping, optional
        Aggregation; uses the sectional method.
    solid : Solid or mapping, optional
        Crystal density and shape (default: :func:`oxalate.kinetics.default_solid`).
    parameters : str or ParameterSet, optional
        A named parameter set (:data:`oxalate.kinetics.PARAMETER_SETS`) that
        supplies ``growth`` and ``nucleation`` where they are not given.
    ph_mode : {"closed", "fixed"}
    method : {"auto", "moments", "sectional"}
        ``"auto"``: the simplest description that is exact for the options
        (see :mod:`oxalate.crystallization`).
    coupling : {"auto", "curve", "direct"}
        How the rates read Ω (see :mod:`oxalate._engines.kinetics`); ``"auto"``
        tabulates Ω(ξ) for one phase and speciates directly for several.
    rtol : float
        Relative tolerance of the integration (and of the Ω curve). [-]
    detection : float
        Volume fraction of new solid that defines the induction time. [-]
    count : pint.Quantity or str
        Crystals per kg of water that make the largest crystal count. [1/kg]
    grid : Grid, optional
        Size classes of the sectional method (default 1 nm to 1 mm, ratio 2).
    activity_model, constants, engine
        As in :func:`oxalate.precipitate` (the engine of the speciation).
    max_steps : int
        Integration steps per row before it is given up.

    Returns
    -------
    Crystallization

    Raises
    ------
    ValueError
        For unknown names, times that are not ascending, Growth without seeds
        or nucleation, or options the chosen method cannot describe.

    Warns
    -----
    OxalateRangeWarning
        Ionic strength beyond the activity model's range; a parameter set
        used away from its temperature.
    OxalateWarning
        A parameter set used with another constant set or activity model.

    Notes
    -----
    ``t = inf`` is :func:`oxalate.precipitate`'s equilibrium with the seeds
    as initial solids where they may dissolve, computed by the same engine,
    so it equals it exactly.  Rows that fail come back NaN with a
    ``reason``; the rest of the batch is unaffected.

    References
    ----------
    .. [1] Parkhurst, D. L. and Appelo, C. A. J. (2013), USGS TM 6-A43
       (``KINETICS``), doi:10.3133/tm6A43.
    .. [2] Randolph, A. D. and Larson, M. A. (1988), Theory of Particulate
       Processes, Academic Press.

    Examples
    --------
    PHREEQC's usual rate, dξ/dt = 1e-7 mol/s per kg times σ², in a closed
    CaC₂O₄ solution:

    >>> import numpy as np
    >>> import oxalate
    >>> from oxalate.kinetics import BulkRate
    >>> s = oxalate.Solution(calcium="0.4 mmol/kg", oxalate="0.4 mmol/kg",
    ...                      sodium="0.8 mmol/kg", chloride="0.8 mmol/kg")
    >>> t = oxalate.Quantity([0, 100, 3600, np.inf], "s")
    >>> r = oxalate.crystallize(s, t, growth=BulkRate("1e-7 mol/kg/s"), rtol=1e-9)
    >>> (r.amount["COM"] * 1e3).round(6)  # mmol/kg
    array([0.      , 0.121614, 0.329151, 0.340887])
    """
    if not isinstance(solution, Solution):
        raise TypeError(f"solution={solution!r} must be an oxalate.Solution")
    if ph_mode not in ("closed", "fixed"):
        raise ValueError(f"ph_mode={ph_mode!r} is not known; accepted: 'closed', 'fixed'")
    if ph_mode == "fixed" and solution.pH is None:
        raise ValueError("ph_mode='fixed' holds the solution's pH, but the Solution has pH=None")
    if method not in _METHODS:
        raise ValueError(f"method={method!r} is not known; accepted: {list(_METHODS)}")
    if coupling not in _COUPLINGS:
        raise ValueError(f"coupling={coupling!r} is not known; accepted: {list(_COUPLINGS)}")
    if not (isinstance(rtol, float | int) and 1e-13 <= rtol <= 1e-2):
        raise ValueError(f"rtol={rtol!r} must be a number in [1e-13, 1e-2]")
    if not (isinstance(detection, float | int) and 0 < detection < 1):
        raise ValueError(f"detection={detection!r} must be a volume fraction in (0, 1)")
    if not (isinstance(max_steps, int) and max_steps > 0):
        raise ValueError(f"max_steps={max_steps!r} must be a positive integer")

    count_value = float(_value(count, "1/kg", "count", "'1 1/kg'", positive=True))
    times = _times(time)
    model_name = check_model(activity_model)
    cs = resolve_constants(constants)
    if isinstance(phases, str):
        phases = (phases,)
    if not isinstance(phases, Sequence) or not phases:
        raise ValueError(f"phases={phases!r} must be a phase name or a non-empty list of them")
    keys = tuple(canonical_phase(p, cs) for p in phases)
    if len(set(keys)) != len(keys):
        raise ValueError(f"phases={phases!r} names a phase twice")
    if coupling == "curve" and len(keys) > 1:
        raise ValueError("coupling='curve' covers one kinetic phase; use 'direct' or 'auto'")
    engines.check_engine(engine)
    shape = solution.shape
    temperature = np.ravel(solution.temperature).astype(np.float64)

    laws = _per_phase(growth, keys, cs, "growth", (Growth, BulkRate))
    nucs = _per_phase(nucleation, keys, cs, "nucleation", (Nucleation,))
    seed_map = _per_phase(seeds, keys, cs, "seeds", (Seeds,))
    aggs = _per_phase(aggregation, keys, cs, "aggregation", (Aggregation,))
    solids = _per_phase(solid, keys, cs, "solid", (Solid,))
    if parameters is not None:
        pset = parameter_set(parameters) if isinstance(parameters, str) else parameters
        if not isinstance(pset, ParameterSet):
            raise TypeError(f"parameters={parameters!r} must be a set name or a ParameterSet")
        check_binding(pset, cs.name, model_name)
        for key in keys:
            if laws[key] is None:
                laws[key] = pset.growth(key)
                warn_temperature(pset, key, temperature)
            if nucs[key] is None and seed_map[key] is None:
                nucs[key] = pset.nucleation(key)
    missing = [k for k in keys if laws[k] is None]
    if missing:
        raise ValueError(
            f"no rate law for {missing}: give growth= (oxalate.kinetics.Growth or BulkRate) "
            f"or parameters='illustrative-urine'"
        )
    sectional = method == "sectional" or any(a is not None for a in aggs.values())
    grid_spec = grid if grid is not None else Grid()
    if not isinstance(grid_spec, Grid):
        raise TypeError(f"grid={grid!r} must be an oxalate.kinetics.Grid")
    kinetics = []
    engine_grid = None
    for key in keys:
        props = solids[key] if solids[key] is not None else default_solid(key)
        if sectional and engine_grid is None:
            engine_grid = engines.crystal.SectionalGrid.geometric(
                grid_spec.smallest, grid_spec.largest, grid_spec.ratio, props.volume_factor
            )
        kinetics.append(
            kinetics_of_phase(key, cs, laws[key], nucs[key], seed_map[key], aggs[key], props,
                               method, temperature, shape, engine_grid if sectional else None)
        )  # fmt: skip
    model = engines.species_model(cs, model_name)
    system = model.system
    problem = engines.kinetics.CrystallizationProblem(
        totals=np.stack([np.ravel(solution.totals[c]) for c in system.solutes], axis=1),
        temperature=temperature,
        ph=None if solution.pH is None else np.ravel(solution.pH).astype(np.float64),
        closed=ph_mode == "closed",
        phases=engines.phase_table(cs, keys),
        kinetics=tuple(kinetics),
        times=times,
        rtol=float(rtol),
        coupling=coupling,
        detection=float(detection),
        count=count_value,
        grid=engine_grid,
        max_steps=max_steps,
    )
    result = engines.crystallize(model, problem, engine)
    ionic = np.stack([sp.ionic_strength for sp in result.speciation])
    warn_if_outside(model_name, ionic[:, result.converged])
    return _assemble(model, problem, result, shape, ph_mode, solution.pH is None)


_METHOD_NAMES = {0: "bulk", 1: "seeded", 2: "moments", 3: "sectional"}


def _assemble(
    model: engines.SpeciesModel,
    problem: engines.kinetics.CrystallizationProblem,
    result: engines.kinetics.CrystallizationResult,
    shape: tuple[int, ...],
    ph_mode: str,
    electroneutral: bool,
) -> Crystallization:
    keys = problem.phases.keys
    n_t = result.time.size

    def series(x: FloatArray) -> Any:
        return np.asarray(x).reshape((n_t, *shape, *x.shape[2:]))

    def shaped(x: Any) -> Any:
        return scalar_or_array(np.asarray(x).reshape(shape))

    amount, present, omega, mom, number, mean, big, area, induction = ({} for _ in range(9))
    dist: dict[str, Any] | None = {} if result.distribution is not None else None
    for i, p in enumerate(keys):
        kin = problem.kinetics[i]
        xi = result.amount[:, :, i] + 0.0
        amount[p] = series(xi)
        present[p] = series(xi + kin.seed_amount[None, :])
        omega[p] = series(10.0 ** result.log_omega[:, :, i])
        m = result.moments[:, :, i]
        mom[p] = series(m)
        number[p] = series(m[..., 0])
        with np.errstate(invalid="ignore", divide="ignore"):
            mean[p] = series(np.where(m[..., 0] > 0, m[..., 1] / m[..., 0], np.nan))
        big[p] = series(result.max_size[:, :, i])
        area[p] = series(kin.area_factor * m[..., 2])
        induction[p] = shaped(result.induction_time[:, i])
        if dist is not None and result.distribution is not None:
            dist[p] = series(result.distribution[:, :, i])
    totals = {c: series(result.totals[:, :, j]) for j, c in enumerate(model.system.solutes)}
    raw = _Raw(result.totals, result.pH, problem.temperature, result.speciation)
    return Crystallization(
        time=result.time,
        phases=keys,
        amount=amount,
        present=present,
        supersaturation=omega,
        pH=series(result.pH),
        water_mass=series(result.water),
        totals=totals,
        moments=mom,
        number=number,
        mean_size=mean,
        max_size=big,
        surface_area=area,
        distribution=dist,
        sizes=None if problem.grid is None else np.asarray(problem.grid.sizes),
        induction_time=induction,
        converged=shaped(result.converged),
        reason=shaped(result.reason),
        steps=shaped(result.steps),
        ph_mode=ph_mode,
        method={p: _METHOD_NAMES[k.method] for p, k in zip(keys, problem.kinetics, strict=True)},
        _model=model,
        _raw=raw,
        _shape=shape,
        _electroneutral=electroneutral,
    )
