"""Equilibrium with solids: how much calcium oxalate comes out, and where it starts.

:func:`precipitate`
    Reacts each solution of a batch with one or more candidate solids (COM,
    COD, brushite, ...) until every solid present is exactly saturated and
    every other one is undersaturated: the moles that precipitate (or
    dissolve), the composition and mass of the water left, and its
    speciation.  It reproduces USGS PHREEQC's ``EQUILIBRIUM_PHASES``.
:func:`mix`
    Mixes two batches of solutions by mass of water.

The searches for where Ω reaches a target (:func:`~oxalate.searches.threshold`,
:func:`~oxalate.searches.dilution_for`, :func:`~oxalate.searches.titrate`) are
in :mod:`oxalate.searches`; they are importable from here too.

Conventions
-----------
Amounts of solid are moles per kilogram of the *initial* water.  The
solution after reaction is described per kilogram of the water *left*: when
n moles of a hydrate CaC2O4·xH2O form, x·n moles of H2O leave the solvent
with them (PHREEQC does the same), so the water mass becomes

.. math:: W = 1 - M_w \\sum_p x_p \\xi_p \\quad [\\mathrm{kg}],

with M_w = 18.01528 g/mol (IUPAC 2005 atomic weights, wieser2006; the value
PHREEQC derives from the database that :mod:`oxalate.phreeqc` writes), plus
the tiny change of the water held as OH⁻.  Mass balance is then exact:
initial total = final total × W + Σ_p ν_p ξ_p for every component.

Two pH modes:

``"closed"`` (PHREEQC's default)
    Nothing is added: protons and charge are conserved, and the pH drifts.
    Every solid is electrically neutral, so removing it keeps the solution's
    charge excess q₀ = Σ zᵢ mᵢ (in equivalents, zero for a solution whose pH
    was solved from electroneutrality); per kilogram of the water left it
    becomes q₀/W, and the final pH solves Σ zᵢ mᵢ = q₀/W.  This is exactly
    what PHREEQC conserves (its H, O and charge balances), and the two codes
    agree to about 1e-13 (``tests/test_precipitation_phreeqc.py``).
``"fixed"``
    a(H⁺) is held at the solution's pH, as by an ideal pH-stat that adds or
    removes protons without a counter-ion or water.  PHREEQC can only hold pH
    by adding NaOH (or HCl) as a real reactant, which changes Na and the
    water mass; the two therefore differ slightly (the moles precipitated by
    up to 4e-6 relative in the tests' urine, plasma and CaCl2/Na2C2O4 rows).

Numerics
--------
The solvers are in :mod:`oxalate._engines`.  The numpy engine solves
speciation and solid equilibrium together: a damped Newton iteration on ln m
of the components, ln I, ln a(H⁺) (closed) and the amount ξ_p of each active
solid, with an analytic Jacobian, batched over the rows.  Each row starts at
the amount a fixed-speciation model predicts; the set of solids present is
found by an active-set method, and closed-system rows whose coupled solve does
not converge quickly (unbuffered solutions) are solved again as a search on
pH.  The compiled engine (numba) runs the same Newton row by row for PHREEQC's
Davies model; rows it does not converge are solved again by the numpy engine.

References
----------
.. [1] Parkhurst, D. L. and Appelo, C. A. J. (2013), Description of input and
   examples for PHREEQC version 3, USGS Techniques and Methods 6-A43,
   doi:10.3133/tm6A43 (parkhurst2013).
.. [2] Wieser, M. E. (2006), Atomic weights of the elements 2005, Pure Appl.
   Chem. 78, 2051-2066, doi:10.1351/pac200678112051 (wieser2006).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from . import _engines as engines
from ._checks import check_iterations, check_solution, check_tolerance
from ._common import PhaseMap, column_stack, scalar_or_array
from ._display import Summarized, failed_rows, select
from ._errors import OxalateRangeWarning, warn_failed_rows
from .activity import check_model, warn_if_outside
from .database import WATER_MOLAR_MASS, ConstantSet, canonical_phase, resolve_constants
from .searches import Dilution, Threshold, Titration, dilution_for, threshold, titrate
from .solution import Solution, explain_input
from .speciation import Speciation, speciate, speciation_from_result
from .units import Quantity

__all__ = [
    "WATER_MOLAR_MASS",
    "Dilution",
    "Precipitation",
    "Threshold",
    "Titration",
    "dilution_for",
    "mix",
    "precipitate",
    "threshold",
    "titrate",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
PhMode = Literal["closed", "fixed"]


def _quiet_speciate(solution: Solution, **kwargs: Any) -> Speciation:
    """:func:`speciate` without its range warning (intermediate compositions)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OxalateRangeWarning)
        result: Speciation = speciate(solution, **kwargs)
        return result


def _phase_list(phases: Any, cs: ConstantSet) -> tuple[str, ...]:
    if isinstance(phases, str):
        phases = (phases,)
    if not isinstance(phases, Sequence) or not phases:
        raise ValueError(f"phases={phases!r} must be a phase name or a non-empty list of them")
    try:
        keys = tuple(canonical_phase(p, cs) for p in phases)
    except (TypeError, ValueError) as err:
        raise type(err)(f"phases={tuple(phases)!r}: {err}") from None
    if len(set(keys)) != len(keys):
        raise ValueError(f"phases={phases!r} names a phase twice")
    return keys


def _initial_solids(
    initial_solids: Any, phases: tuple[str, ...], cs: ConstantSet, shape: tuple[int, ...]
) -> FloatArray:
    """Moles of each phase present at the start, per kg of initial water: (N, P)."""
    n = int(np.prod(shape, dtype=np.int64))
    out = np.zeros((n, len(phases)))
    if initial_solids is None:
        return out
    if not isinstance(initial_solids, Mapping):
        raise TypeError(
            f"initial_solids={initial_solids!r} must be a mapping of phase to amount, "
            f"e.g. {{'COM': '1 mmol/kg'}}"
        )
    for phase, amount in initial_solids.items():
        key = canonical_phase(phase, cs)
        if key not in phases:
            raise ValueError(
                f"initial_solids[{phase!r}]: {key} is not among phases={phases}; add it there"
            )
        argument = f"initial_solids[{phase!r}]"
        if isinstance(amount, str):
            amount = Quantity(amount)
        if not hasattr(amount, "m_as"):
            raise TypeError(
                f"{argument}={amount!r} has no units; give moles of solid per kg of water, "
                f"e.g. '1 mmol/kg' or oxalate.Quantity(1e-3, 'mol/kg')"
            )
        try:
            value = np.asarray(amount.m_as("mol/kg"), dtype=np.float64)
        except Exception as err:  # pint's DimensionalityError
            raise ValueError(
                f"{argument}={amount!s} is not an amount per mass of water; give e.g. '1 mmol/kg'"
            ) from err
        bad = ~np.isfinite(value) | (value < 0)
        if bad.any():
            raise ValueError(
                f"{argument} has {int(bad.sum())} negative, NaN or infinite value(s) "
                f"(at {np.argwhere(bad)[:5].tolist()}); amounts of solid must be >= 0"
            )
        try:
            out[:, phases.index(key)] = np.broadcast_to(value, shape).ravel()
        except ValueError:
            raise ValueError(
                f"{argument} has shape {value.shape}, which does not broadcast to the "
                f"solution's {shape}"
            ) from None
    return out


@dataclass(frozen=True, repr=False)
class Precipitation(Summarized):
    """The result of :func:`precipitate`; every array has the batch's shape.

    Attributes
    ----------
    phases : tuple of str
        The candidate phases, in the order given.
    amount : Mapping of str to numpy.ndarray
        Moles of each phase precipitated per kg of the initial water
        (negative: dissolved from ``initial_solids``); 0 where the phase
        does not form. [mol/kg]
    present : Mapping of str to numpy.ndarray
        Moles of each phase present after reaction (initial + precipitated,
        ≥ 0). [mol/kg]
    solution : Solution
        The solution after reaction: totals per kg of the water left; the
        solved pH (closed mode) or the held one (fixed mode).  A solution
        whose pH was solved from electroneutrality stays so (``pH=None``).
    speciation : Speciation
        Its speciation (SI = 0 for the phases present).
    water_mass : numpy.ndarray
        Mass of water left per kg of initial water. [kg]
    converged : numpy.ndarray of bool
        Rows that reached equilibrium; the others are NaN.
    reason : numpy.ndarray of str
        Why a row did not converge (empty where it did).
    iterations : numpy.ndarray of int
        Newton iterations, summed over the changes of the set of solids.
    ph_mode : str
        ``"closed"`` or ``"fixed"``.
    """

    phases: tuple[str, ...]
    amount: Mapping[str, Any]
    present: Mapping[str, Any]
    solution: Solution
    speciation: Speciation
    water_mass: Any
    converged: Any
    reason: Any
    iterations: Any
    ph_mode: str
    #: the input rows' labels (``Solution.with_labels``): the index of to_dataframe()
    labels: Any = field(repr=False, default=None)

    def __getitem__(self, index: Any) -> Precipitation:
        """The rows ``index`` of the batch (``p[0]``, ``p[mask]``, ``p[2:5]``)."""
        return select(self, index, np.shape(self.water_mass), skip=("phases", "ph_mode"))

    def _summary(self) -> tuple[str, list[tuple[str, Any, str]]]:
        shape = np.shape(self.water_mass)
        title = (
            f"Precipitation {shape if shape else '(one solution)'} of "
            f"{', '.join(self.phases)} ({self.ph_mode} pH): "
            f"{int(np.count_nonzero(self.converged))} of {int(np.size(self.converged))} converged"
        )
        rows: list[tuple[str, Any, str]] = [
            (f"formed {p}", 1e3 * np.asarray(self.amount[p], dtype=np.float64), "mmol/kg")
            for p in self.phases
        ]
        rows.append(("pH after", self.speciation.pH, ""))
        for p in self.phases:
            rows.append((f"Ω({p}) after", self.speciation.supersaturation[p], ""))
        rows += failed_rows(self.reason, self.converged)
        return title, rows

    def to_dataframe(self) -> Any:
        """The result as a pandas DataFrame, one row per solution (pandas needed).

        Columns: ``amount_<phase>``, ``present_<phase>`` [mol/kg initial water],
        ``water_mass`` [kg], ``converged``, ``reason``, ``pH``, ``total_<component>``
        [mol/kg water left], ``SI_<phase>`` and ``omega_<phase>`` after reaction;
        the index is the input's labels (``Solution.with_labels``), if any.

        Examples
        --------
        >>> import pytest
        >>> _ = pytest.importorskip("pandas")
        >>> import oxalate
        >>> from oxalate.precipitation import precipitate
        >>> s = oxalate.Solution(calcium="2 mmol/kg", oxalate="1 mmol/kg", sodium="2 mmol/kg",
        ...                      chloride="4 mmol/kg")
        >>> precipitate(s).to_dataframe()[["amount_COM", "converged"]].round(6)
           amount_COM  converged
        0    0.000992       True
        """
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("to_dataframe() needs pandas: pip install pandas") from err
        flat: dict[str, Any] = {}
        for p in self.phases:
            flat[f"amount_{p}"] = np.ravel(self.amount[p])
        for p in self.phases:
            flat[f"present_{p}"] = np.ravel(self.present[p])
        flat["water_mass"] = np.ravel(self.water_mass)
        flat["converged"] = np.ravel(self.converged)
        flat["reason"] = np.ravel(self.reason)
        flat["pH"] = np.ravel(self.speciation.pH)
        for c, v in self.solution.totals.items():
            flat[f"total_{c}"] = np.ravel(v)
        for p, v in self.speciation.saturation_index.items():
            flat[f"SI_{p}"] = np.ravel(v)
        for p, v in self.speciation.supersaturation.items():
            flat[f"omega_{p}"] = np.ravel(v)
        return pd.DataFrame(flat, index=self.labels)


def _resolver(keys: Sequence[str]) -> Any:
    """Maps a phase's other names (``"whewellite"``) to its key among ``keys``."""
    return partial(canonical_phase, known=tuple(keys))


def precipitate(
    solution: Solution,
    phases: str | Sequence[str] = ("COM",),
    *,
    ph_mode: PhMode = "closed",
    initial_solids: Mapping[str, Any] | None = None,
    activity_model: str = "davies",
    constants: Any = "default",
    tolerance: float = 1e-10,
    max_iterations: int = 60,
    engine: str = "auto",
    chunk_size: int | None = None,
) -> Precipitation:
    """Equilibrate each solution with solids: how much precipitates (or dissolves).

    For every row, find the amounts ξ_p ≥ -initial_p of the candidate phases
    such that

    * every phase present (initial_p + ξ_p > 0) is saturated, SI_p = 0;
    * every other candidate is not supersaturated, SI_p ≤ 0;
    * every component's mass is conserved, T₀ = T W + Σ_p ν_p ξ_p, with the
      hydrate water leaving the solvent, W = 1 - M_w Σ_p x_p ξ_p;
    * the pH is held (``"fixed"``) or charge and protons are conserved
      (``"closed"``: Σ z m = q₀/W, q₀ the initial charge excess).

    Parameters
    ----------
    solution : Solution
        The batch, before reaction.
    phases : str or sequence of str
        Candidate phases: ``"COM"`` (whewellite), ``"COD"``, ``"COT"``,
        ``"brushite"``, ``"hydroxyapatite"``, ``"octacalcium_phosphate"``
        or their mineral names.
    ph_mode : {"closed", "fixed"}
        ``"closed"`` (PHREEQC's default): nothing is added, pH drifts.
        ``"fixed"``: a(H⁺) held at ``solution.pH`` (needs a pH).
    initial_solids : mapping, optional
        Solid present at the start, per kg of water, e.g.
        ``{"COM": "1 mmol/kg"}`` (phases must be among ``phases``); it may
        dissolve.  Default: none, so solids can only form. [mol/kg]
    activity_model : str
        As in :func:`oxalate.speciate`; ``"davies"`` is PHREEQC's.
    constants : str, ConstantSet or mapping
        As in :func:`oxalate.speciate`.
    tolerance : float
        Largest ``|SI|`` of a phase present and largest relative mass-balance
        residual accepted. [-]
    max_iterations : int
        Newton iterations per set of solids before a row is declared not
        converged.
    engine : {"auto", "numpy", "numba"}
        ``"numba"`` solves each row in compiled code (:mod:`oxalate._engines`;
        needs the optional numba package, the Davies model, a solution with
        a pH and no ``initial_solids``), an order of magnitude faster on
        large batches; a row it does not converge is solved again by the
        numpy solver.  ``"numpy"`` is the batched numpy Newton.  ``"auto"``
        takes numba where it applies.  Both solve the same equations and
        agree to about the tolerance.
    chunk_size : int, optional
        Rows solved together by either engine (default 100,000); each row's
        result is the same whatever the chunk.

    Returns
    -------
    Precipitation

    Raises
    ------
    ValueError
        For an unknown phase or mode, ``ph_mode="fixed"`` without a pH, or
        invalid ``initial_solids``.

    Warns
    -----
    OxalateRangeWarning
        Where the ionic strength after reaction exceeds the activity model's
        range.

    Notes
    -----
    Rows whose input is NaN (``Solution(..., on_invalid="nan")``) or that do
    not converge come back NaN with ``converged=False`` and a ``reason``;
    the rest of the batch is unaffected.  Phases whose dissolution reactions
    differ only in water (COM, COD, COT) cannot coexist at equilibrium; the
    most stable one forms.  Kinetics are not modelled: this is the amount
    that *can* precipitate, as PHREEQC's ``EQUILIBRIUM_PHASES`` computes it.

    References
    ----------
    .. [1] Parkhurst, D. L. and Appelo, C. A. J. (2013), USGS TM 6-A43,
       doi:10.3133/tm6A43.

    Examples
    --------
    2 mmol/kg CaCl2 with 1 mmol/kg Na2C2O4, pH from electroneutrality: 0.992
    mmol/kg of COM forms, leaving the water saturated.

    >>> import oxalate
    >>> from oxalate.precipitation import precipitate
    >>> s = oxalate.Solution(calcium="2 mmol/kg", oxalate="1 mmol/kg", sodium="2 mmol/kg",
    ...                      chloride="4 mmol/kg", temperature="25 degC")
    >>> r = precipitate(s)
    >>> round(float(r.amount["COM"]) * 1e3, 4)
    0.9922
    >>> abs(float(r.speciation.saturation_index["COM"])) < 1e-10
    True
    >>> ca_left = float(r.solution.totals["Ca"] * r.water_mass)  # mol per kg initial water
    >>> round((ca_left + float(r.amount["COM"])) * 1e3, 12)
    2.0
    """
    solution = check_solution(solution)
    if ph_mode not in ("closed", "fixed"):
        raise ValueError(f"ph_mode={ph_mode!r} is not known; accepted: 'closed', 'fixed'")
    if ph_mode == "fixed" and solution.pH is None:
        raise ValueError(
            "ph_mode='fixed' holds the solution's pH, but the Solution has pH=None; "
            "give a pH or use ph_mode='closed'"
        )
    tolerance = check_tolerance(tolerance)
    check_iterations(max_iterations)
    model_name = check_model(activity_model)
    cs = resolve_constants(constants)
    keys = _phase_list(phases, cs)
    shape = solution.shape
    init = _initial_solids(initial_solids, keys, cs, shape)
    closed = ph_mode == "closed"
    model = engines.species_model(cs, model_name)
    engines.check_engine(engine)
    system = model.system
    problem = engines.PrecipitationProblem(
        totals=column_stack([solution.totals[c] for c in system.solutes]),
        temperature=np.ravel(solution.temperature).astype(np.float64),
        ph=None if solution.pH is None else np.ravel(solution.pH).astype(np.float64),
        initial=init,
        phases=engines.phase_table(cs, keys),
        closed=closed,
        tolerance=tolerance,
        max_iterations=max_iterations,
        chunk_size=None if chunk_size is None else check_iterations(chunk_size, "chunk_size"),
    )
    result = engines.precipitate(model, problem, engine)
    warn_if_outside(model_name, result.speciation.ionic_strength[result.converged])
    explain_input(result.reason, solution)
    warn_failed_rows("precipitate", result.reason, solution.labels)
    out = _precipitation(model, problem, result, shape, ph_mode, solution.pH is None)
    return out if solution.labels is None else replace(out, labels=solution.labels)


def _precipitation(
    model: engines.SpeciesModel,
    problem: engines.PrecipitationProblem,
    result: engines.PrecipitationResult,
    shape: tuple[int, ...],
    ph_mode: PhMode,
    electroneutral: bool,
) -> Precipitation:
    """The :class:`Precipitation` of an engine's raw arrays, in the batch's shape."""
    converged = result.converged
    t = problem.temperature
    solutes = model.system.solutes
    final = Solution.from_arrays(
        {c: result.totals[:, i].reshape(shape) for i, c in enumerate(solutes)},
        # a solution whose pH came from electroneutrality stays so in a closed system
        pH=None if (problem.closed and electroneutral) else result.pH.reshape(shape),
        temperature_kelvin=t.reshape(shape),
    )
    sp = speciation_from_result(model, result.speciation, shape, result.totals, t)
    xi = result.amount + 0.0  # no negative zeros
    # a phase absent at the end has exactly initial + xi = 0
    left = np.where(result.active | ~converged[:, None], problem.initial + xi, 0.0)
    keys = problem.phases.keys

    def shaped(x: Any) -> Any:
        return scalar_or_array(np.asarray(x).reshape(shape))

    return Precipitation(
        phases=keys,
        amount=PhaseMap({p: shaped(xi[:, i]) for i, p in enumerate(keys)}, _resolver(keys)),
        present=PhaseMap({p: shaped(left[:, i]) for i, p in enumerate(keys)}, _resolver(keys)),
        solution=final,
        speciation=sp,
        water_mass=shaped(result.water),
        converged=shaped(converged),
        reason=shaped(result.reason),
        iterations=shaped(result.iterations),
        ph_mode=ph_mode,
    )


def _water_fraction(a: Solution, b: Solution, volumes: Any, density: Any) -> Any:
    """The mass fraction of the mixture's water that ``volumes`` of a and b carry from b."""
    from .database import analyte
    from .units import solution_density

    if not (isinstance(volumes, (tuple, list)) and len(volumes) == 2):
        raise TypeError(f"volumes={volumes!r} must be a pair, e.g. ('10 mL', '2 mL')")
    rho = float(solution_density(density))  # kg/L
    water = []
    for name, solution, volume in (("a", a, volumes[0]), ("b", b, volumes[1])):
        q = volume if hasattr(volume, "m_as") else Quantity(volume)
        try:
            litres = np.asarray(q.m_as("L"), dtype=np.float64)
        except Exception as err:  # pint's DimensionalityError
            raise ValueError(f"volumes: {volume!s} for {name} is not a volume") from err
        if np.any(~np.isfinite(litres) | (litres < 0)):
            raise ValueError(f"volumes: the volume of {name} must be finite and >= 0")
        solute = sum(
            (np.asarray(v) * analyte(c).molar_mass / 1000.0 for c, v in solution.totals.items()),
            start=np.zeros(solution.shape),
        )
        water.append(litres * rho / (1.0 + solute))
    total = water[0] + water[1]
    if np.any(total <= 0):
        raise ValueError("volumes: the two volumes add up to nothing")
    return water[1] / total


def mix(
    a: Solution,
    b: Solution,
    fraction: Any = None,
    *,
    volumes: tuple[Any, Any] | None = None,
    density: Any = None,
    pH: Any = None,
    activity_model: str = "davies",
    constants: Any = "default",
) -> Solution:
    """Mix two batches of solutions by mass of water, or by volume.

    A fraction f of the water comes from ``b`` and 1 - f from ``a``:

    .. math:: T_\\mathrm{mix} = (1 - f)\\,T_a + f\\,T_b, \\qquad
              t_\\mathrm{mix} = (1 - f)\\,t_a + f\\,t_b

    for every total (molality) and for the temperature (equal heat
    capacities assumed).

    Parameters
    ----------
    a, b : Solution
        The two batches; their shapes and that of ``fraction`` broadcast.
    fraction : float or array
        Mass fraction of the mixture's water that comes from ``b``, 0-1. [-]
    volumes : (pint.Quantity or str, pint.Quantity or str), optional
        Instead of ``fraction``: the volumes of ``a`` and ``b`` poured together,
        e.g. ``("10 mL", "2 mL")``, as at the bench.  Each volume holds
        ρ V / (1 + Σ m_j M_j) kg of water (the inverse of the molar to molal
        conversion), which gives the fraction. [L]
    density : pint.Quantity or str, optional
        The density assumed for both solutions with ``volumes``; default
        1.0 kg/L, as :class:`~oxalate.Solution` assumes for molar inputs. [kg/L]
    pH : None, float, array or "neutral"
        ``None`` (default): the pH of the mixture is computed as PHREEQC's
        ``MIX`` does: protons and charge are conserved, so the mixture keeps
        (1 - f) q_a + f q_b of charge excess (q = Σ z m of each solution's
        speciation, 0 for one whose pH was solved from electroneutrality),
        and its pH solves that balance; it is returned as a fixed pH (exactly
        a's at f = 0, b's at f = 1).  When both solutions have ``pH=None`` the
        mixture has ``pH=None`` too.  ``"neutral"``: ``pH=None`` (solve from
        electroneutrality later).  A number or array: that pH.
    activity_model, constants
        For the speciation that finds the mixture's pH, as in
        :func:`oxalate.speciate`.

    Returns
    -------
    Solution

    Notes
    -----
    Mixing is linear in molality only by mass of water; mixing by volume
    needs each solution's density.  Rows whose pH cannot be found (a
    speciation that fails) get NaN.

    Examples
    --------
    >>> import oxalate
    >>> from oxalate.precipitation import mix
    >>> a = oxalate.Solution(calcium="4 mmol/kg", chloride="8 mmol/kg", pH=6.0)
    >>> b = oxalate.Solution(sodium="2 mmol/kg", oxalate="1 mmol/kg", pH=6.0)
    >>> m = mix(a, b, 0.5)
    >>> float(m.totals["Ca"]), float(m.totals["Ox"])
    (0.002, 0.0005)

    By volume, as at the bench: 10 mL of a with 2 mL of b.

    >>> m = mix(a, b, volumes=("10 mL", "2 mL"))
    >>> round(float(m.totals["Ca"]) * 1e3, 4)   # 4 x (1 - 0.16671) mmol/kg
    3.3332
    """
    a = check_solution(a, "a")
    b = check_solution(b, "b")
    if (fraction is None) == (volumes is None):
        raise TypeError("mix: give fraction= (by mass of water) or volumes= (by volume), not both")
    if volumes is not None:
        fraction = _water_fraction(a, b, volumes, density)
    if hasattr(fraction, "m_as"):
        fraction = fraction.m_as("")
    f = np.asarray(fraction, dtype=np.float64)
    if np.any(~np.isfinite(f) | (f < 0) | (f > 1)):
        raise ValueError(f"fraction={fraction!r} must lie in 0-1 (mass fraction of b's water)")
    try:
        shape = np.broadcast_shapes(a.shape, b.shape, f.shape)
    except ValueError:
        raise ValueError(
            f"a {a.shape}, b {b.shape} and fraction {f.shape} do not broadcast"
        ) from None
    fb = np.broadcast_to(f, shape)
    totals = {
        c: (1.0 - fb) * np.broadcast_to(a.totals[c], shape)
        + fb * np.broadcast_to(b.totals[c], shape)
        for c in a.totals
    }
    t = (1.0 - fb) * np.broadcast_to(a.temperature, shape) + fb * np.broadcast_to(
        b.temperature, shape
    )
    if isinstance(pH, str):
        if pH != "neutral":
            raise ValueError(f"pH={pH!r} is not known; accepted: None, 'neutral' or a number")
        return Solution.from_arrays(totals, pH=None, temperature_kelvin=t)
    if pH is not None:
        return Solution.from_molalities(
            totals, pH=np.broadcast_to(pH, shape), temperature_kelvin=t
        )
    if a.pH is None and b.pH is None:
        return Solution.from_arrays(totals, pH=None, temperature_kelvin=t)
    kwargs: dict[str, Any] = {
        "activity_model": check_model(activity_model),
        "constants": resolve_constants(constants),
    }
    charge = np.asarray(kwargs["constants"].charge)

    def excess(s: Solution) -> tuple[FloatArray, FloatArray]:
        sp = _quiet_speciate(s, **kwargs)
        q = np.asarray(sp.molality) @ charge
        if s.pH is None:
            q = np.where(np.asarray(sp.converged), 0.0, np.nan)
        return np.broadcast_to(q, shape), np.broadcast_to(np.asarray(sp.pH), shape)

    q_a, ph_a = excess(a)
    q_b, ph_b = excess(b)
    q = (1.0 - fb) * q_a + fb * q_b
    seed = np.where(np.isfinite(ph_a) & np.isfinite(ph_b), (1.0 - fb) * ph_a + fb * ph_b, 7.0)
    sp = _quiet_speciate(
        Solution.from_arrays(totals, pH=seed, temperature_kelvin=t),
        charge_balance="pH",
        charge_offset=q,
        **kwargs,
    )
    ph = np.where(fb == 0, ph_a, np.where(fb == 1, ph_b, np.asarray(sp.pH)))
    return Solution.from_arrays(totals, pH=ph, temperature_kelvin=t)
