"""What :mod:`oxalate.xarray` and :mod:`oxalate.dask` run on each chunk, and its outputs.

A chunk is plain data: float arrays and unit strings in, float arrays out.  The
functions here build the chunk's :class:`~oxalate.Solution` (from keywords or a
named preset), run one public calculation on it with only the outputs asked
for, and return a mapping of name to array.  Everything that crosses to a dask
worker is a module-level function, strings, numbers and arrays, so it pickles
by reference or by value and nothing else is shipped.

Inside a dask task the compiled kernels run on the task's thread alone
(:func:`one_numba_thread`): dask already runs one task per core, and numba's
own threads on top would oversubscribe them.  A row's result does not depend on
its chunk or on the number of threads, so a chunked run equals one call on the
whole batch bit for bit.

Nothing here imports xarray or dask.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .units import Quantity

__all__ = [
    "PRESETS",
    "TASKS",
    "Output",
    "build_solution",
    "check_unit",
    "one_numba_thread",
    "output_spec",
    "probe",
    "run_chunk",
    "run_task",
]

#: The fluids presets a chunk may start from (functions of :mod:`oxalate.fluids`).
PRESETS = (
    "plasma",
    "plasma_ultrafiltrate",
    "interstitial_fluid",
    "urine_24h_normal",
    "urine_stone_former",
    "artificial_urine_griffith",
    "urine_24h",
)

#: The calculations a chunk may run.
TASKS = ("speciate", "precipitate", "threshold", "crystallize")

#: Inputs that are numbers without a unit.
DIMENSIONLESS = ("pH", "target")

#: Inputs that are options of the calculation, not of the Solution.
TASK_INPUTS = {"threshold": ("target",)}


@dataclass(frozen=True)
class Output:
    """One output column: its name, dtype, unit (CF ``units`` attribute) and description."""

    name: str
    dtype: Any
    units: str | None
    long_name: str
    #: a time series (crystallize): one value per output time, on a last ``time`` axis
    per_time: bool = False


@contextlib.contextmanager
def one_numba_thread() -> Iterator[None]:
    """Run the compiled kernels on the calling thread alone, for the duration of the block.

    ``numba.set_num_threads`` is per thread, so this never changes another
    thread's setting.  Without numba it does nothing.
    """
    numba: Any = sys.modules.get("numba")
    if numba is None:
        try:
            import numba
        except ImportError:
            yield
            return
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def check_unit(name: str, unit: str | None) -> None:
    """ValueError naming ``name`` if pint cannot read ``unit``, or if an input needs one."""
    if name in DIMENSIONLESS:
        if unit not in (None, "", "1", "dimensionless"):
            raise ValueError(f"{name}: has units {unit!r}; it is a number without a unit")
        return
    if unit is None:
        raise ValueError(
            f"{name}: has no units; give them as a pint string in attrs['units'] (e.g. "
            f"'mmol/L'), quantify the DataArray with pint-xarray, or pass units={{{name!r}: ...}}"
        )
    try:
        Quantity(1.0, unit)
    except Exception as err:
        raise ValueError(f"{name}: units {unit!r} are not readable by pint ({err})") from None


def _value(name: str, values: Any, unit: str | None) -> Any:
    if name in DIMENSIONLESS or unit in (None, "", "1", "dimensionless"):
        return np.asarray(values, dtype=np.float64)
    return Quantity(np.asarray(values, dtype=np.float64), unit)


def build_solution(
    values: Mapping[str, Any],
    units: Mapping[str, str | None],
    fixed: Mapping[str, Any],
    preset: str | None,
    constants: Any,
) -> Any:
    """The chunk's Solution: ``values`` (arrays, with ``units``) and ``fixed`` (anything).

    ``ionized_calcium`` (free Ca²⁺) sets the total calcium by
    :func:`oxalate.fluids.with_ionized_calcium`, with the calculation's
    ``constants``, after the rest of the solution is built.
    """
    from . import fluids
    from .solution import Solution

    kwargs = {**fixed, **{k: _value(k, v, units.get(k)) for k, v in values.items()}}
    ionized = kwargs.pop("ionized_calcium", None)
    if preset is None:
        solution = Solution(**kwargs)
    else:
        solution = getattr(fluids, preset)(**kwargs)
    if ionized is not None:
        density = kwargs.get("density")
        solution = fluids.with_ionized_calcium(
            solution, ionized, density=density, constants=constants
        )
    return solution


def output_spec(task: str, options: Mapping[str, Any]) -> list[Output]:
    """The outputs of ``task`` with ``options``, in order (the names the results carry)."""
    tail = [
        Output("converged", np.bool_, None, "row converged"),
        Output("reason", object, None, "why a row is NaN (empty where it converged)"),
    ]
    if task == "speciate":
        out = []
        for name in options["outputs"]:
            if name in ("converged", "reason"):
                continue
            out.append(_speciation_output(name))
        return out + tail
    if task == "precipitate":
        phases = options.get("phases", ("COM",))
        phases = (phases,) if isinstance(phases, str) else tuple(phases)
        out = [
            Output(f"amount_{p}", np.float64, "mol/kg", f"{p} precipitated per kg of water")
            for p in phases
        ]
        out += [
            Output("pH_after", np.float64, "1", "pH after reaction"),
            Output("water_mass", np.float64, "kg", "water left per kg of initial water"),
            Output("iterations", np.int64, None, "Newton iterations"),
        ]
        return out + tail
    if task == "threshold":
        molar_unit = options.get("molar_unit", "mol/L")
        vary = options.get("vary", "oxalate")
        return [
            Output("threshold", np.float64, "mol/kg", f"total {vary} at the target Ω"),
            Output(
                "threshold_molar", np.float64, molar_unit, f"total {vary} at the target Ω, molar"
            ),
            Output("supersaturation", np.float64, "1", "Ω at the threshold"),
            Output("iterations", np.int64, None, "speciations of the search"),
            *tail,
        ]
    if task == "crystallize":
        steps = Output("steps", np.int64, None, "integration steps")
        return [*_crystallization_outputs(options), steps, *tail]
    raise ValueError(f"task={task!r} is not known; accepted: {TASKS}")


def crystallization_phases(options: Mapping[str, Any]) -> tuple[str, ...]:
    """The canonical names of the kinetic phases of a ``crystallize`` task."""
    from .database import canonical_phase, resolve_constants

    phases = options.get("phases", ("COM",))
    phases = (phases,) if isinstance(phases, str) else tuple(phases)
    cs = resolve_constants(options.get("constants", "default"))
    return tuple(canonical_phase(p, cs) for p in phases)


def output_times(options: Mapping[str, Any]) -> npt.NDArray[np.float64]:
    """Output times of a ``crystallize`` task [s], checked as :func:`oxalate.crystallize` does."""
    from .crystallization import _times

    return _times(options["time"])


def _crystallization_outputs(options: Mapping[str, Any]) -> list[Output]:
    from .database import chemical_system

    out: list[Output] = []
    for p in crystallization_phases(options):
        out += [
            Output(f"amount_{p}", np.float64, "mol/kg", f"{p} formed per kg of water", True),
            Output(f"present_{p}", np.float64, "mol/kg", f"{p} present (seeds + formed)", True),
            Output(f"supersaturation_{p}", np.float64, "1", f"supersaturation Ω of {p}", True),
            Output(f"number_{p}", np.float64, "1/kg", f"{p} crystals per kg of water", True),
            Output(f"mean_size_{p}", np.float64, "m", f"mean size of {p} crystals", True),
            Output(f"max_size_{p}", np.float64, "m", f"largest {p} crystal", True),
            Output(f"surface_area_{p}", np.float64, "m**2/kg", f"surface of {p} crystals", True),
            Output(f"induction_time_{p}", np.float64, "s", f"induction time of {p}"),
        ]
    out += [
        Output("pH_liquid", np.float64, "1", "pH of the liquid", True),
        Output("water_mass", np.float64, "kg", "water left per kg of initial water", True),
    ]
    for c in chemical_system().components:
        if c != "H":
            out.append(Output(f"total_{c}", np.float64, "mol/kg", f"total dissolved {c}", True))
    return out


def _speciation_output(name: str) -> Output:
    head, _, rest = name.partition("_")
    if name == "ionic_strength":
        return Output(name, np.float64, "mol/kg", "ionic strength")
    if name == "iterations":
        return Output(name, np.int64, None, "Newton iterations")
    if name in ("water_activity", "pH", "residual"):
        return Output(name, np.float64, "1", name.replace("_", " "))
    if name.startswith("log_iap_"):
        return Output(name, np.float64, "1", f"log10 ion activity product of {name[8:]}")
    if name.startswith("log_gamma_"):
        return Output(name, np.float64, "1", f"log10 activity coefficient of {name[10:]}")
    if head == "SI":
        return Output(name, np.float64, "1", f"saturation index of {rest}")
    if head == "omega":
        return Output(name, np.float64, "1", f"supersaturation Ω of {rest}")
    if head == "m":
        return Output(name, np.float64, "mol/kg", f"molality of {rest}")
    if head == "total":
        return Output(name, np.float64, "mol/kg", f"total {rest}")
    # unknown names are refused by oxalate.speciate itself (probe), with the accepted list
    return Output(name, np.float64, None, name)


def run_task(task: str, solution: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """Run ``task`` on ``solution``; the arrays of :func:`output_spec`, in the batch's shape."""
    opts = dict(options)
    if task == "speciate":
        from .speciation import speciate

        outputs = list(opts.pop("outputs"))
        r = speciate(solution, outputs=outputs, **opts)
        out = {name: r[name] for name in outputs if name not in ("converged", "reason")}
        return {**out, "converged": r.converged, "reason": r.reason}
    if task == "precipitate":
        from .precipitation import precipitate

        p = precipitate(solution, **opts)
        out = {f"amount_{k}": p.amount[k] for k in p.phases}
        return {
            **out,
            "pH_after": p.speciation.pH,
            "water_mass": p.water_mass,
            "iterations": p.iterations,
            "converged": p.converged,
            "reason": p.reason,
        }
    if task == "threshold":
        from .searches import threshold

        density = opts.pop("density", None)
        molar_unit = opts.pop("molar_unit", "mol/L")
        t = threshold(solution, **opts)
        return {
            "threshold": t.molality,
            "threshold_molar": t.molarity(density).to(molar_unit).magnitude,
            "supersaturation": t.supersaturation,
            "iterations": t.iterations,
            "converged": t.converged,
            "reason": t.reason,
        }
    if task == "crystallize":
        from .crystallization import crystallize

        time = opts.pop("time")
        c = crystallize(solution, time, **opts)
        series: dict[str, Any] = {}
        for name in c.phases:
            series[f"amount_{name}"] = c.amount[name]
            series[f"present_{name}"] = c.present[name]
            series[f"supersaturation_{name}"] = c.supersaturation[name]
            series[f"number_{name}"] = c.number[name]
            series[f"mean_size_{name}"] = c.mean_size[name]
            series[f"max_size_{name}"] = c.max_size[name]
            series[f"surface_area_{name}"] = c.surface_area[name]
        series["pH_liquid"] = c.pH  # not "pH": a grid often has a pH axis
        series["water_mass"] = c.water_mass
        series.update({f"total_{k}": v for k, v in c.totals.items()})
        # the time axis last, as xarray's core dimensions are
        out = {k: np.moveaxis(np.asarray(v), 0, -1) for k, v in series.items()}
        out.update({f"induction_time_{k}": c.induction_time[k] for k in c.phases})
        return {**out, "steps": c.steps, "converged": c.converged, "reason": c.reason}
    raise ValueError(f"task={task!r} is not known; accepted: {TASKS}")


def run_chunk(
    *arrays: npt.NDArray[Any],
    names: Sequence[str],
    units: Mapping[str, str | None],
    fixed: Mapping[str, Any],
    preset: str | None,
    task: str,
    options: Mapping[str, Any],
    single_thread: bool,
) -> tuple[npt.NDArray[Any], ...]:
    """One chunk: the inputs (broadcast together) to the outputs of :func:`output_spec`.

    The function :func:`xarray.apply_ufunc` maps over the chunks; with
    ``single_thread`` (inside dask) the kernels run on this thread alone.
    """
    shape = np.broadcast_shapes(*(np.shape(a) for a in arrays))
    values = {n: np.broadcast_to(a, shape) for n, a in zip(names, arrays, strict=True)}
    opts = dict(options)
    for name in TASK_INPUTS.get(task, ()):
        if name in values:
            opts[name] = np.asarray(values.pop(name), dtype=np.float64)
    spec = output_spec(task, opts)
    n_times = output_times(opts).size if task == "crystallize" else 0

    def shape_of(o: Output) -> tuple[int, ...]:
        return (*shape, n_times) if o.per_time else shape

    if 0 in shape:
        return tuple(np.empty(shape_of(o), dtype=o.dtype) for o in spec)
    context = one_numba_thread() if single_thread else contextlib.nullcontext()
    with context:
        solution = build_solution(values, units, fixed, preset, opts.get("constants", "default"))
        result = run_task(task, solution, opts)
    return tuple(
        np.broadcast_to(np.asarray(result[o.name], dtype=o.dtype), shape_of(o)).copy()
        for o in spec
    )


def probe(task: str, options: Mapping[str, Any]) -> None:
    """Run ``task`` with ``options`` on one plasma ultrafiltrate: bad options raise now.

    A lazy (dask) call would otherwise report an unknown output or phase only
    when it is computed, on a worker.
    """
    from .fluids import plasma_ultrafiltrate

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_task(task, plasma_ultrafiltrate(), options)
