"""The assertions of :mod:`oxalate.testing` (no hypothesis needed)."""

from __future__ import annotations

import dataclasses
import inspect
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import pint

from .._errors import OxalateInputWarning
from ..database import WATER_MOLAR_MASS, ConstantSet, analyte, chemical_system, resolve_constants
from ..precipitation import Precipitation, precipitate
from ..solution import ANALYTES, Solution
from ..speciation import Speciation, speciate
from ..units import Quantity, expressed_as, solution_density

__all__ = [
    "PRECIPITATION_TOLERANCE",
    "SPECIATION_TOLERANCE",
    "assert_batch_equals_rows",
    "assert_charge_balance",
    "assert_equilibrium",
    "assert_mass_balance",
    "assert_unit_invariant",
]

#: The default ``tolerance`` of :func:`oxalate.speciate`: the largest relative
#: mass-balance (and charge) residual it accepts. [-]
SPECIATION_TOLERANCE: float = inspect.signature(speciate).parameters["tolerance"].default
#: The default ``tolerance`` of :func:`oxalate.precipitate`: the largest ``|SI|``
#: of a phase present and relative mass-balance residual it accepts. [-]
PRECIPITATION_TOLERANCE: float = inspect.signature(precipitate).parameters["tolerance"].default

# Fields of a result that describe the solver's path, not the chemistry: they may
# differ between two equally good solutions of the same problem.
_DIAGNOSTICS = frozenset({"iterations", "residual"})
# Batch metadata: a row's differ from the batch's by definition.
_METADATA = frozenset({"shape", "size"})
# Logarithmic fields (and the pH): compared with an absolute tolerance.
_LOG_FIELDS = ("saturation_index", "log_iap", "log_gamma", "pH")


# -- helpers ---------------------------------------------------------------------------------


def _row(index: tuple[int, ...]) -> str:
    """A row index as the user would write it: ``()`` for a 0-d batch, ``3``, ``(1, 2)``."""
    if len(index) == 1:
        return str(index[0])
    return str(tuple(index))


def _where(mask: Any) -> list[tuple[int, ...]]:
    return [tuple(int(i) for i in row) for row in np.argwhere(np.asarray(mask))]


def _check_tolerance(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"{name}={value!r} must be a number >= 0")
    return float(value)


def _constants(result: Speciation, constants: Any) -> ConstantSet:
    """The constant set a speciation was computed with (its species, charges, solids)."""
    if constants is None:
        name = result.constants
        # with_solubility_product names its copy "<set>+user": same species and solids
        for candidate in (name, name.split("+")[0]):
            try:
                cs = resolve_constants(candidate)
                break
            except ValueError:
                continue
        else:
            raise ValueError(
                f"the result was computed with constants {name!r}, which is not a named set; "
                f"pass the ConstantSet itself as constants="
            )
    else:
        cs = resolve_constants(constants)
    if tuple(cs.species) != tuple(result.species):
        raise ValueError(
            f"constants={cs.name!r} has other species than the result ({result.constants!r}); "
            f"pass the ConstantSet the result was computed with"
        )
    return cs


def _converged_rows(converged: Any, molality: Any, allow_unconverged: bool, what: str) -> Any:
    """The converged mask; raise unless every row converged (or those that did not are NaN)."""
    ok = np.asarray(converged, dtype=bool)
    failed = _where(~ok)
    if not failed:
        return ok
    if not allow_unconverged:
        raise AssertionError(
            f"{what}: {len(failed)} of {ok.size} row(s) did not converge (first: row "
            f"{_row(failed[0])}); pass allow_unconverged=True to check only the others"
        )
    m = np.asarray(molality)
    holding = [i for i in failed if np.any(np.isfinite(m[i]))]
    if holding:
        raise AssertionError(
            f"{what}: row {_row(holding[0])} is flagged converged=False but holds numbers, "
            f"not NaN ({len(holding)} such row(s))"
        )
    return ok


def _worst(excess: Any, ok: Any) -> tuple[int, ...] | None:
    """Index of the largest finite ``excess`` > 0 among ``ok`` rows (NaN counts as worst)."""
    e = np.where(ok, np.asarray(excess, dtype=np.float64), -np.inf)
    e = np.where(np.isnan(e), np.inf, e)
    if e.size == 0 or not np.any(e > 0):
        return None
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(e)), e.shape))


# -- mass and charge balance -----------------------------------------------------------------


def assert_mass_balance(
    speciation: Speciation,
    solution: Solution | None = None,
    *,
    rtol: float = SPECIATION_TOLERANCE,
    charge_balance: str | None = None,
    allow_unconverged: bool = False,
    constants: Any = None,
) -> None:
    """Assert that every component's species sum to its total, row by row.

    For every component c with a total T_c > 0,
    ``|Σ_j ν_jc m_j / T_c - 1| <= rtol``; for a component with T_c = 0, every
    species holding it is exactly 0.

    Parameters
    ----------
    speciation : Speciation
        A result of :func:`oxalate.speciate` (or the ``speciation`` of a
        :class:`~oxalate.Precipitation`).
    solution : Solution, optional
        The input: its totals must be the speciation's (to ``rtol``), but for
        the component adjusted by ``charge_balance``.
    rtol : float
        Default :data:`SPECIATION_TOLERANCE` (1e-12), the relative residual
        :func:`oxalate.speciate` accepts by default. [-]
    charge_balance : str, optional
        The ``charge_balance`` given to :func:`oxalate.speciate`: an analyte
        (``"chloride"``) whose total was adjusted, so it is not compared with
        ``solution``'s.
    allow_unconverged : bool
        By default a row that did not converge fails the assertion; with
        True it is skipped, but it must be NaN (never silently wrong).
    constants : str or ConstantSet, optional
        The constant set the speciation was computed with, when it is not a
        named one (a table of your own).

    Raises
    ------
    AssertionError
        Naming the component, the worst row and its residual.

    Examples
    --------
    >>> import oxalate
    >>> from oxalate.testing import assert_mass_balance
    >>> s = oxalate.Solution(calcium="4 mmol/kg", oxalate="0.3 mmol/kg", pH=6.0)
    >>> assert_mass_balance(oxalate.speciate(s), s)
    """
    if not isinstance(speciation, Speciation):
        raise TypeError(f"speciation={speciation!r} must be an oxalate.Speciation")
    rtol = _check_tolerance(rtol, "rtol")
    cs = _constants(speciation, constants)
    molality = np.asarray(speciation.molality)
    ok = _converged_rows(speciation.converged, molality, allow_unconverged, "mass balance")
    system = chemical_system()
    for k, c in enumerate(system.solutes):
        total = np.asarray(speciation.totals[c], dtype=np.float64)
        held = molality @ np.asarray(cs.stoichiometry)[:, k]
        absent = ok & (total == 0) & (held != 0)
        if np.any(absent):
            i = _where(absent)[0]
            raise AssertionError(
                f"mass balance: {system.analytes[k]} ({c}) has a total of 0 at row {_row(i)}, "
                f"but its species hold {float(held[i])!r} mol/kg"
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(total > 0, np.abs(held / total - 1.0), 0.0)
        worst = _worst(rel - rtol, ok)
        if worst is not None:
            beyond = int(np.sum(ok & ~(rel <= rtol)))
            raise AssertionError(
                f"mass balance of {system.analytes[k]} ({c}) is off by {float(rel[worst]):.3e} "
                f"(relative; rtol={rtol:g}) at row {_row(worst)}: its species sum to "
                f"{float(held[worst])!r} mol/kg, its total is {float(total[worst])!r} mol/kg "
                f"({beyond} row(s) beyond rtol)"
            )
    if solution is None:
        return
    if not isinstance(solution, Solution):
        raise TypeError(f"solution={solution!r} must be an oxalate.Solution")
    if solution.shape != np.shape(speciation.converged):
        raise AssertionError(
            f"mass balance: the speciation has shape {np.shape(speciation.converged)}, "
            f"the solution {solution.shape}"
        )
    adjusted = None
    if charge_balance not in (None, "pH"):
        adjusted = ANALYTES.get(str(charge_balance), charge_balance)
        if adjusted not in system.solutes:
            raise ValueError(
                f"charge_balance={charge_balance!r} is not known; accepted: None, 'pH' or one "
                f"of {list(ANALYTES)}"
            )
    for c in system.solutes:
        if c == adjusted:
            continue
        given = np.asarray(solution.totals[c], dtype=np.float64)
        reported = np.asarray(speciation.totals[c], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(given > 0, np.abs(reported / given - 1.0), np.abs(reported))
        worst = _worst(rel - rtol, ok)
        if worst is not None:
            raise AssertionError(
                f"mass balance: the speciation's total of {c} is {float(reported[worst])!r} "
                f"mol/kg at row {_row(worst)}, the solution's {float(given[worst])!r} mol/kg "
                f"(relative difference {float(rel[worst]):.3e}; rtol={rtol:g})"
            )


def assert_charge_balance(
    speciation: Speciation,
    *,
    rtol: float = SPECIATION_TOLERANCE,
    atol: float = 0.0,
    offset: Any = None,
    allow_unconverged: bool = False,
    constants: Any = None,
) -> None:
    """Assert electroneutrality, for rows whose pH or an ion was solved from it.

    For every row, ``|Σ z_j m_j - offset| <= atol + rtol · ½ Σ |z_j| m_j``:
    the relative charge residual :func:`oxalate.speciate` converges (its
    scale is half the sum of the charge concentrations).

    Parameters
    ----------
    speciation : Speciation
        From :func:`oxalate.speciate` with ``pH=None``, ``charge_balance="pH"``
        or an ion; a fixed-pH speciation is not neutral in general.
    rtol : float
        Relative to ``½ Σ |z| m``; default :data:`SPECIATION_TOLERANCE` (1e-12),
        the residual :func:`oxalate.speciate` accepts. [-]
    atol : float
        Absolute; default 0. [eq/kg]
    offset : float or array, optional
        The ``charge_offset`` given to :func:`oxalate.speciate`: the charge
        excess the solution keeps. [eq/kg]
    allow_unconverged, constants
        As in :func:`assert_mass_balance`.

    Raises
    ------
    AssertionError
        Naming the worst row, its charge excess and the scale.

    Examples
    --------
    >>> import oxalate
    >>> from oxalate.testing import assert_charge_balance
    >>> s = oxalate.Solution(calcium="2 mmol/kg", chloride="4 mmol/kg", citrate="1 mmol/kg",
    ...                      sodium="3 mmol/kg", pH=None)
    >>> assert_charge_balance(oxalate.speciate(s))
    """
    if not isinstance(speciation, Speciation):
        raise TypeError(f"speciation={speciation!r} must be an oxalate.Speciation")
    rtol = _check_tolerance(rtol, "rtol")
    atol = _check_tolerance(atol, "atol")
    cs = _constants(speciation, constants)
    molality = np.asarray(speciation.molality)
    ok = _converged_rows(speciation.converged, molality, allow_unconverged, "charge balance")
    z = np.asarray(cs.charge, dtype=np.float64)
    excess = molality @ z - (0.0 if offset is None else np.asarray(offset, dtype=np.float64))
    scale = 0.5 * (molality @ np.abs(z))
    worst = _worst(np.abs(excess) - (atol + rtol * scale), ok)
    if worst is not None:
        beyond = int(np.sum(ok & ~(np.abs(excess) <= atol + rtol * scale)))
        rel = abs(float(excess[worst])) / float(scale[worst]) if scale[worst] > 0 else np.inf
        raise AssertionError(
            f"charge balance is off at row {_row(worst)}: Σ z m - offset = "
            f"{float(excess[worst]):.6e} eq/kg against ½ Σ |z| m = {float(scale[worst]):.6e} "
            f"eq/kg (relative {rel:.3e}; rtol={rtol:g}, atol={atol:g}; {beyond} row(s) beyond)"
        )


# -- equilibrium with solids -----------------------------------------------------------------


def assert_equilibrium(
    precipitation: Precipitation,
    solution: Solution,
    *,
    atol: float = PRECIPITATION_TOLERANCE,
    rtol: float = PRECIPITATION_TOLERANCE,
    allow_unconverged: bool = False,
    constants: Any = None,
) -> None:
    """Assert that a precipitation is an equilibrium and conserves every component and water.

    For every row:

    * a phase present has ``|SI| <= atol``; a candidate absent ``SI <= atol``;
      no phase is present in a negative amount;
    * every component is conserved, ``T₀ = T W + Σ_p ν_p ξ_p`` (the initial
      total, the total left per kg of the water left times that water, and
      what went into the solids), to ``rtol`` of the largest of the three
      terms;
    * water is conserved: the hydrate water leaving the solvent and the
      water held as OH⁻, ``W (1/M_w + m_OH) + Σ_p x_p ξ_p = 1/M_w + m_OH,₀``,
      to ``rtol`` (M_w = :data:`oxalate.database.WATER_MOLAR_MASS`);
    * the solution left satisfies :func:`assert_mass_balance` (to ``rtol``);
    * with ``ph_mode="fixed"`` the pH is the initial one (to ``atol``).

    Parameters
    ----------
    precipitation : Precipitation
        A result of :func:`oxalate.precipitate`.
    solution : Solution
        The solution it was computed from (the amounts of water held as OH⁻
        at the start are found by speciating it).
    atol : float
        On SI and pH; default :data:`PRECIPITATION_TOLERANCE` (1e-10), the
        ``|SI|`` :func:`oxalate.precipitate` accepts. [-]
    rtol : float
        On the balances; default :data:`PRECIPITATION_TOLERANCE` (1e-10). [-]
    allow_unconverged, constants
        As in :func:`assert_mass_balance`.

    Raises
    ------
    AssertionError
        Naming the phase or component, the worst row and the figure.

    Examples
    --------
    >>> import oxalate
    >>> from oxalate.testing import assert_equilibrium
    >>> s = oxalate.Solution(calcium="2 mmol/kg", oxalate="1 mmol/kg", sodium="2 mmol/kg",
    ...                      chloride="4 mmol/kg")
    >>> assert_equilibrium(oxalate.precipitate(s, ["COM", "COD"]), s)
    """
    if not isinstance(precipitation, Precipitation):
        raise TypeError(f"precipitation={precipitation!r} must be an oxalate.Precipitation")
    if not isinstance(solution, Solution):
        raise TypeError(f"solution={solution!r} must be the oxalate.Solution it was computed from")
    atol = _check_tolerance(atol, "atol")
    rtol = _check_tolerance(rtol, "rtol")
    sp = precipitation.speciation
    cs = _constants(sp, constants)
    if solution.shape != np.shape(precipitation.converged):
        raise AssertionError(
            f"equilibrium: the precipitation has shape {np.shape(precipitation.converged)}, "
            f"the solution {solution.shape}"
        )
    ok = _converged_rows(precipitation.converged, sp.molality, allow_unconverged, "equilibrium")
    # 1. saturation
    for p in precipitation.phases:
        si = np.asarray(sp.saturation_index[p], dtype=np.float64)
        present = np.asarray(precipitation.present[p], dtype=np.float64)
        negative = _worst(-present, ok)
        if negative is not None:
            raise AssertionError(
                f"equilibrium: {p} is present in a negative amount, "
                f"{float(present[negative])!r} mol/kg, at row {_row(negative)}"
            )
        held = present > 0
        worst = _worst(np.where(held, np.abs(si), -np.inf) - atol, ok)
        if worst is not None:
            raise AssertionError(
                f"equilibrium: {p} is present ({float(present[worst]):.6e} mol/kg) but not "
                f"saturated at row {_row(worst)}: SI = {float(si[worst]):.6e} (atol={atol:g})"
            )
        worst = _worst(np.where(held, -np.inf, si) - atol, ok)
        if worst is not None:
            raise AssertionError(
                f"equilibrium: {p} is absent but supersaturated at row {_row(worst)}: "
                f"SI = {float(si[worst]):.6e} (atol={atol:g})"
            )
    # 2. every component: T0 = T W + sum_p nu_p xi_p
    system = chemical_system()
    water = np.asarray(precipitation.water_mass, dtype=np.float64)
    solids = {p: cs.solid(p) for p in precipitation.phases}
    amounts = {p: np.asarray(precipitation.amount[p], dtype=np.float64) for p in solids}
    for k, c in enumerate(system.solutes):
        initial = np.asarray(solution.totals[c], dtype=np.float64)
        left = np.asarray(precipitation.solution.totals[c], dtype=np.float64) * water
        in_solids = sum(
            (solids[p].stoichiometry[k] * amounts[p] for p in solids), start=np.zeros_like(water)
        )
        scale = np.maximum(np.maximum(np.abs(initial), np.abs(left)), np.abs(in_solids))
        error = np.abs(left + in_solids - initial)
        worst = _worst(error - rtol * scale, ok)
        if worst is not None:
            raise AssertionError(
                f"equilibrium: {system.analytes[k]} ({c}) is not conserved at row {_row(worst)}: "
                f"initial {float(initial[worst])!r} mol/kg, left {float(left[worst])!r} "
                f"(total x water mass) + in solids {float(in_solids[worst])!r} = "
                f"{float(left[worst] + in_solids[worst])!r} (error {float(error[worst]):.3e}, "
                f"rtol={rtol:g} of {float(scale[worst]):.3e})"
            )
    # 3. water: W (1/M_w + m_OH) + sum_p x_p xi_p = 1/M_w + m_OH0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # range warnings: the user saw them with the result
        before = speciate(solution, activity_model=sp.activity_model, constants=cs)
    oh_water = np.asarray(cs.water, dtype=np.float64)
    oh0 = np.asarray(before.molality) @ oh_water
    oh = np.asarray(sp.molality) @ oh_water
    hydrate = sum((solids[p].water * amounts[p] for p in solids), start=np.zeros_like(water))
    lhs = water * (1.0 / WATER_MOLAR_MASS + oh) + hydrate
    rhs = 1.0 / WATER_MOLAR_MASS + oh0
    error = np.abs(lhs - rhs)
    worst = _worst(error - rtol * rhs, ok)
    if worst is not None:
        raise AssertionError(
            f"equilibrium: water is not conserved at row {_row(worst)}: water mass "
            f"{float(water[worst])!r} kg, in hydrates {float(hydrate[worst])!r} mol, as OH- "
            f"{float(oh[worst])!r} mol/kg against {float(oh0[worst])!r} at the start "
            f"(error {float(error[worst]):.3e} mol; rtol={rtol:g} of {float(rhs[worst]):.6g})"
        )
    # 4. the solution left, and the pH held
    assert_mass_balance(
        sp, precipitation.solution, rtol=rtol, allow_unconverged=allow_unconverged, constants=cs
    )
    if precipitation.ph_mode == "fixed" and solution.pH is not None:
        before_ph, after_ph = np.asarray(solution.pH), np.asarray(sp.pH)
        worst = _worst(np.abs(after_ph - before_ph) - atol, ok)
        if worst is not None:
            raise AssertionError(
                f"equilibrium: ph_mode='fixed' but the pH moved from "
                f"{float(before_ph[worst])!r} to {float(after_ph[worst])!r} "
                f"at row {_row(worst)} (atol={atol:g})"
            )


# -- batches and units -----------------------------------------------------------------------


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _leaves(obj: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(name, value) of every value of a result: fields, properties, mapping items."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            if not f.name.startswith("_") and f.name not in _METADATA:
                yield from _leaves(getattr(obj, f.name), _join(prefix, f.name))
        for name, _ in inspect.getmembers(type(obj), lambda m: isinstance(m, property)):
            if not name.startswith("_") and name not in _METADATA:
                yield from _leaves(getattr(obj, name), _join(prefix, name))
    elif isinstance(obj, Mapping):
        for key, value in obj.items():
            yield from _leaves(value, f"{prefix}[{key!r}]")
    else:
        yield prefix, obj


def _as_array(value: Any) -> tuple[Any, str]:
    """A leaf as a numpy array (a Quantity's magnitude) and its unit ("" without one)."""
    if isinstance(value, pint.Quantity):
        return np.asarray(value.magnitude), str(value.units)
    return np.asarray(value), ""


def _numeric(array: Any) -> bool:
    return array.dtype.kind in "biuf"


def _same_bits(a: Any, b: Any, rtol: float = 0.0, atol: float = 0.0, log: bool = False) -> bool:
    """Equal bit for bit (NaN = NaN, -0.0 != 0.0), or floats to ``atol + rtol |b|``.

    For a logarithmic field (``log``) the bar is absolute: a relative error ε of a
    quantity is an absolute one of ε/ln 10 in its logarithm, and SI is 0 at saturation.
    """
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if np.issubdtype(a.dtype, np.floating):
        if rtol > 0 or atol > 0:
            bar = atol + (rtol if log else rtol * np.abs(b))
            with np.errstate(invalid="ignore"):
                close = (a == b) | (np.abs(a - b) <= bar) | (np.isnan(a) & np.isnan(b))
            return bool(np.all(close))
        return bool(np.array_equal(a, b, equal_nan=True)) and bool(
            np.array_equal(np.signbit(a), np.signbit(b))
        )
    return bool(np.array_equal(a, b))


def _flatten(result: Any) -> dict[str, Any]:
    return {name or "result": value for name, value in _leaves(result)}


def assert_batch_equals_rows(
    func: Callable[..., Any],
    solution: Solution,
    /,
    *args: Any,
    rtol: float = 0.0,
    atol: float = 0.0,
    **kwargs: Any,
) -> None:
    """Assert that a function's result for a batch equals its results row by row, bit for bit.

    ``func(solution, *args, **kwargs)`` is computed once for the batch and
    once for each row ``solution[i]`` alone; every array of the result (the
    fields of a result object, the values of its mappings, a Quantity's
    magnitude) must hold, at row i, exactly the bits of the row's own
    result (NaN equal to NaN, -0.0 not equal to 0.0).  Strings and names
    must be equal.

    Parameters
    ----------
    func : callable
        ``oxalate.speciate``, ``oxalate.precipitate``, ``oxalate.threshold``,
        ... or a function of your own that takes a Solution first.
    solution : Solution
        A batch (any shape; a 0-d one is its own single row).
    *args, **kwargs
        Passed to ``func``.
    rtol, atol : float
        Both 0 (the default): bit for bit.  Otherwise floats may differ by
        ``atol + rtol · |row's value|``, logarithmic fields (SI, log IAP,
        log γ, pH) by ``atol + rtol``, and the solver's ``iterations`` and
        ``residual`` are not compared: for functions that promise no more,
        such as :func:`oxalate.precipitate` with ``engine="numpy"``, whose
        amounts are solved to ``tolerance`` × the row's largest total.
        [-, and the fields' units]

    Raises
    ------
    AssertionError
        Naming the field, the row, both values and their difference.

    Examples
    --------
    >>> import numpy as np
    >>> import oxalate
    >>> from oxalate.testing import assert_batch_equals_rows
    >>> s = oxalate.Solution(calcium=oxalate.Quantity([2.0, 4.0], "mmol/kg"),
    ...                      oxalate="0.3 mmol/kg", pH=6.0)
    >>> assert_batch_equals_rows(oxalate.speciate, s, engine="numpy")
    """
    if not callable(func):
        raise TypeError(f"func={func!r} must be a function that takes a Solution first")
    if not isinstance(solution, Solution):
        raise TypeError(f"solution={solution!r} must be an oxalate.Solution")
    rtol = _check_tolerance(rtol, "rtol")
    atol = _check_tolerance(atol, "atol")
    exact = rtol == 0 and atol == 0
    batch = _flatten(func(solution, *args, **kwargs))
    shape = solution.shape
    for index in np.ndindex(*shape):
        alone = _flatten(func(solution[index], *args, **kwargs))
        if set(alone) != set(batch):
            raise AssertionError(
                f"batch vs rows: row {_row(index)} gives the fields {sorted(alone)}, the batch "
                f"{sorted(batch)}"
            )
        for name, value in batch.items():
            if not exact and any(d in name for d in _DIAGNOSTICS):
                continue  # the solver's path (iterations, residual) differs with the bits
            got, unit = _as_array(value)
            ref, ref_unit = _as_array(alone[name])
            if not _numeric(got):
                # names, reasons, modes: equal as they are, or row by row for a batch of them
                if got.shape[: len(shape)] == shape and got.shape[len(shape) :] == ref.shape:
                    got = np.asarray(got[index])
                if not np.array_equal(got, ref):
                    raise AssertionError(
                        f"batch vs rows: {name} is {got!r} in the batch but {ref!r} for row "
                        f"{_row(index)} alone"
                    )
                continue
            if got.shape[: len(shape)] != shape:
                raise AssertionError(
                    f"batch vs rows: {name} has shape {got.shape}, which does not start with "
                    f"the batch's {shape}"
                )
            here = np.asarray(got[index])
            log = any(f in name for f in _LOG_FIELDS)
            if unit != ref_unit or not _same_bits(here, ref, rtol, atol, log):
                _report_row_difference(name, index, here, ref, unit, ref_unit)


def _report_row_difference(
    name: str, index: tuple[int, ...], got: Any, ref: Any, unit: str, ref_unit: str
) -> None:
    if unit != ref_unit:
        raise AssertionError(
            f"batch vs rows: {name} is in {unit!r} for the batch, {ref_unit!r} for row "
            f"{_row(index)}"
        )
    if got.shape != ref.shape or got.dtype != ref.dtype:
        raise AssertionError(
            f"batch vs rows: {name} at row {_row(index)} has shape {got.shape} ({got.dtype}) in "
            f"the batch, {ref.shape} ({ref.dtype}) alone"
        )
    if np.issubdtype(got.dtype, np.floating):
        with np.errstate(invalid="ignore"):
            diff = np.abs(got.astype(np.float64) - ref.astype(np.float64))
        diff = np.where(np.isnan(diff), np.inf, diff)
        j = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
        where = f"{name}[{', '.join(map(str, j))}]" if j else name
        raise AssertionError(
            f"batch vs rows: {where} at row {_row(index)} is {float(got[j])!r} in the batch but "
            f"{float(ref[j])!r} for the row alone (difference {float(diff[j]):.3e}; "
            f"{int(np.sum(diff > 0))} value(s) of the row differ)"
        )
    raise AssertionError(
        f"batch vs rows: {name} at row {_row(index)} is {got!r} in the batch but {ref!r} alone"
    )


def _molar_masses() -> dict[str, float]:
    return {name: analyte(name).molar_mass for name in ANALYTES}


# The basis oxalate.units reads a mass of phosphate or sulfate in; these two have the
# analytes' own molar masses (ions.csv), so mass / molar mass is the amount.
_MASS_BASIS = {"phosphate": "PO4", "sulfate": "SO4"}


def _expressed(solution: Solution, unit: str, density: float) -> dict[str, Any]:
    """The solution's totals as concentrations in ``unit``: molal, molar or mass per volume."""
    molal = {name: np.asarray(solution.totals[key]) for name, key in ANALYTES.items()}
    target = Quantity(1.0, unit).dimensionality
    if target == Quantity(1.0, "mol/kg").dimensionality:
        return {n: Quantity(m, "mol/kg").to(unit) for n, m in molal.items()}
    masses = _molar_masses()
    # inverse of PHREEQC's m = c / (rho - sum_j c_j M_j): c = m rho / (1 + sum_j m_j M_j)
    solute = sum((m * masses[n] / 1000.0 for n, m in molal.items()), start=np.zeros(()))
    molar = {n: m * density / (1.0 + solute) for n, m in molal.items()}
    if target == Quantity(1.0, "mol/L").dimensionality:
        return {n: Quantity(c, "mol/L").to(unit) for n, c in molar.items()}
    if target == Quantity(1.0, "g/L").dimensionality:
        out = {}
        for n, c in molar.items():
            q = Quantity(c * masses[n], "g/L").to(unit)
            out[n] = expressed_as(q, _MASS_BASIS[n]) if n in _MASS_BASIS else q
        return out
    raise ValueError(
        f"units: {unit!r} is not an amount per mass of water (mol/kg), per volume (mmol/L) or a "
        f"mass per volume (mg/dL)"
    )


def assert_unit_invariant(
    func: Callable[..., Any],
    solution: Solution,
    /,
    *args: Any,
    units: tuple[str, ...] = ("mol/kg", "mmol/L", "mg/dL"),
    density: Any = "1.0 kg/L",
    rtol: float = SPECIATION_TOLERANCE,
    atol: float = SPECIATION_TOLERANCE,
    **kwargs: Any,
) -> None:
    """Assert that the same solution given in different units gives the same result.

    The totals of ``solution`` are written out in each unit of ``units``
    (molal as they are; molar with c = m ρ / (1 + Σ m_j M_j), PHREEQC's
    conversion inverted; mass per volume with each analyte's molar mass,
    phosphate and sulfate as PO4 and SO4), each version is rebuilt as a
    :class:`~oxalate.Solution` with ``density`` and passed to
    ``func(version, *args, **kwargs)``.  Every result must equal the first
    one: logarithmic fields (SI, log IAP, log γ, pH) to ``atol``, the others
    to ``rtol``; the solver's ``iterations`` and ``residual`` are not
    compared.

    Parameters
    ----------
    func : callable
        A function that takes a Solution first.
    solution : Solution
        The solution (its totals are molalities).
    units : tuple of str
        At least two units, each an amount per mass of water, an amount per
        volume or a mass per volume.
    density : pint.Quantity or str
        The density the molar versions are converted with. [kg/L]
    rtol : float
        Relative, on the other fields; default :data:`SPECIATION_TOLERANCE`:
        the versions differ in their last bits, and two converged speciations
        of the same solution agree to about the solver's tolerance. [-]
    atol : float
        Absolute, on logarithmic fields; default :data:`SPECIATION_TOLERANCE`. [-]

    Raises
    ------
    AssertionError
        Naming the unit, the field, the worst row and both values.

    Notes
    -----
    The versions' molalities agree to about 1e-16 and are compared first
    (to ``rtol``): a wrong molar mass or density shows there.  At a fixed pH
    the results of :func:`oxalate.speciate` then agree to about 1e-14.  Where
    the pH is solved from electroneutrality, the pH and the minor species
    (H⁺, OH⁻) are determined only as well as the charge balance, to
    ``tolerance × ½ Σ |z| m`` over the buffer capacity: in unbuffered rows
    two versions may differ by 1e-10 or more (1.4e-10 relative in molality
    over 150 random wide-range batches).  Give such solutions looser bars,
    e.g. ``rtol=atol=1e-8``, or compare them at a fixed pH.

    Examples
    --------
    >>> import oxalate
    >>> from oxalate.testing import assert_unit_invariant
    >>> s = oxalate.fluids.urine_24h_normal()
    >>> assert_unit_invariant(oxalate.speciate, s)
    """
    if not callable(func):
        raise TypeError(f"func={func!r} must be a function that takes a Solution first")
    if not isinstance(solution, Solution):
        raise TypeError(f"solution={solution!r} must be an oxalate.Solution")
    if isinstance(units, str) or len(units) < 2:
        raise ValueError(f"units={units!r} must list at least two units to compare")
    rtol = _check_tolerance(rtol, "rtol")
    atol = _check_tolerance(atol, "atol")
    rho = float(solution_density(density))
    versions = []
    for unit in units:
        values = _expressed(solution, unit, rho)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OxalateInputWarning)  # NaN rows stay NaN
            versions.append(
                Solution(
                    **values,
                    pH=solution.pH,
                    temperature=Quantity(np.asarray(solution.temperature), "K"),
                    density=Quantity(rho, "kg/L"),
                    on_invalid="nan",
                )
            )
    # 1. the conversions: every version holds the same molalities
    for unit, version in zip(units[1:], versions[1:], strict=True):
        worst_c, worst_rel = "", 0.0
        worst_row: tuple[int, ...] = ()
        for c, ref in versions[0].totals.items():
            got = np.asarray(version.totals[c])
            with np.errstate(invalid="ignore", divide="ignore"):
                rel = np.where(got == ref, 0.0, np.abs(got - ref) / np.abs(ref))
            rel = np.where(np.isnan(got) & np.isnan(ref), 0.0, rel)
            rel = np.where(np.isnan(rel), np.inf, rel)
            j = _worst(rel - rtol, True)
            if j is not None and rel[j] > worst_rel:
                worst_c, worst_rel, worst_row = c, float(rel[j]), j
        if worst_c:
            got, ref = versions[0].totals[worst_c], version.totals[worst_c]
            raise AssertionError(
                f"unit invariance: the total of {worst_c} given in {unit!r} is "
                f"{float(ref[worst_row])!r} mol/kg at row {_row(worst_row)}, in {units[0]!r} "
                f"{float(got[worst_row])!r} mol/kg (relative {worst_rel:.3e}; rtol={rtol:g})"
            )
    # 2. the results
    results = [_flatten(func(version, *args, **kwargs)) for version in versions]
    solved = " (the pH was solved from electroneutrality: see the Notes)" * (solution.pH is None)
    first = results[0]
    for unit, result in zip(units[1:], results[1:], strict=True):
        for name, value in first.items():
            if any(d in name for d in _DIAGNOSTICS):
                continue
            got, _ = _as_array(result[name])
            ref, _ = _as_array(value)
            if not _numeric(ref):
                if not np.array_equal(got, ref):
                    raise AssertionError(
                        f"unit invariance: {name} is {got!r} with the solution in {unit!r} but "
                        f"{ref!r} in {units[0]!r}"
                    )
                continue
            log = any(f in name for f in _LOG_FIELDS)
            g, r = got.astype(np.float64), ref.astype(np.float64)
            with np.errstate(invalid="ignore"):
                same = (g == r) | (np.isnan(g) & np.isnan(r))
                bar = atol if log else rtol * np.abs(r)
                off = np.where(same, 0.0, np.abs(g - r) - bar)
            off = np.where(np.isnan(off), np.inf, off)
            if np.any(off > 0):
                j = tuple(int(i) for i in np.unravel_index(int(np.argmax(off)), off.shape))
                kind = f"atol={atol:g}" if log else f"rtol={rtol:g}"
                raise AssertionError(
                    f"unit invariance: {name} at {_row(j) if j else 'the scalar'} is "
                    f"{float(g[j])!r} with the solution in {unit!r} but {float(r[j])!r} in "
                    f"{units[0]!r} (difference {float(abs(g[j] - r[j])):.3e}; {kind}){solved}"
                )
