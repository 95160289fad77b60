"""Labelled grids in, labelled grids out: oxalate on xarray, lazily on dask.

The functions here take the inputs of a calculation as :class:`xarray.DataArray`
objects (or the variables of a :class:`xarray.Dataset`), broadcast them by
dimension name, and return a :class:`xarray.Dataset` with the same
coordinates: one variable per output (SI or Ω of a phase, a species'
molality, a threshold...), its unit in ``attrs["units"]``, with ``converged``
and ``reason`` beside them.  A grid of plasma compositions over ionised
calcium × pH × temperature is then one call.

Units
-----
Each concentration or temperature input carries its unit, in one of three ways:

* a DataArray quantified by pint-xarray (``da.pint.quantify("mmol/L")``);
* a pint string in ``attrs["units"]`` (``"mmol/L"``, ``"degC"``), as CF and
  xclim store it;
* ``units={"calcium": "mmol/L"}``, for DataArrays without either (a
  conflicting unit is refused).

``pH`` and a threshold's ``target`` are plain numbers.  Scalars and strings
(``temperature="37 degC"``, ``pH=7.4``) apply to every point of the grid.
oxalate never imports pint-xarray itself (importing it changes a pint setting
for the whole process); results are the same with or without it.

dask
----
When an input is backed by a dask array (``da.chunk(...)``) the result is lazy:
:func:`xarray.apply_ufunc` with ``dask="parallelized"`` maps oxalate over the
chunks, and ``.compute()`` runs them on whatever scheduler is active: dask's
threads, processes, or a :class:`distributed.Client` connected to a cluster.
Inside a task the compiled kernels run on that task's thread alone (dask
already runs one task per core), and every chunk's rows get the bits one call
on the whole grid gives them.  Chunks of about 1e5 points are best; see
:doc:`/scale`.

Examples
--------
>>> import numpy as np
>>> import xarray as xr
>>> import oxalate.xarray
>>> calcium = xr.DataArray([2.0, 4.0, 6.0], dims="calcium",
...                        coords={"calcium": [2.0, 4.0, 6.0]}, attrs={"units": "mmol/L"})
>>> ph = xr.DataArray([5.5, 6.5], dims="pH", coords={"pH": [5.5, 6.5]})
>>> ds = oxalate.xarray.speciate(calcium=calcium, oxalate="0.3 mmol/L",
...                              sodium="150 mmol/L", chloride="150 mmol/L", pH=ph,
...                              outputs=["SI_COM"])
>>> ds["SI_COM"].dims, ds["SI_COM"].attrs["units"]
(('calcium', 'pH'), '1')
>>> ds["SI_COM"].round(2).values.tolist()  # as oxalate.speciate gives them, at 25 °C
[[1.22, 1.23], [1.45, 1.45], [1.56, 1.56]]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from . import _scale
from .database import resolve_constants
from .solution import ANALYTES

__all__ = ["crystallize", "plasma_oxalate_threshold", "precipitate", "speciate", "threshold"]

_SOLUTION_INPUTS = (*ANALYTES, "pH", "temperature", "density", "ionized_calcium", "on_invalid")
# coordinates of a Dataset with these names are inputs too (a grid's axes)
_INPUTS = (*_SOLUTION_INPUTS, "volume", "target")


def _xarray() -> Any:
    try:
        import xarray
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            'oxalate.xarray needs xarray (and dask for lazy grids): pip install "oxalate[xarray]"'
        ) from err
    return xarray


def _split(
    name: str, value: Any, xr: Any, units: Mapping[str, str]
) -> tuple[Any, str | None] | None:
    """(magnitude DataArray, unit) of a DataArray input; None for a scalar one."""
    if not isinstance(value, xr.DataArray):
        if isinstance(value, str) or getattr(value, "ndim", 0) == 0:
            return None
        raise TypeError(
            f"{name}: a {type(value).__name__} of shape {getattr(value, 'shape', '?')}; give "
            f"arrays as xarray.DataArray (their dimension names say how they broadcast), or a "
            f"scalar for the whole grid"
        )
    data = value.data
    unit: str | None = None
    if hasattr(data, "units") and hasattr(data, "magnitude"):  # pint(-xarray) quantity
        unit = str(data.units)
        value = value.copy(data=data.magnitude)
        source = "its pint units"
    elif value.attrs.get("units") is not None:
        unit = str(value.attrs["units"])
        source = "attrs['units']"
    if name in units:
        if unit is not None and unit != units[name]:
            raise ValueError(
                f"{name}: units={units[name]!r} conflicts with {source} {unit!r}; give one"
            )
        unit = units[name]
    if name in _scale.DIMENSIONLESS and unit is not None:
        _scale.check_unit(name, unit)
        unit = None
    _scale.check_unit(name, unit)
    return value, unit


def _grid(
    task: str,
    data: Any,
    inputs: Mapping[str, Any],
    units: Mapping[str, str] | None,
    preset: str | None,
    options: dict[str, Any],
) -> Any:
    """Map ``task`` over the broadcast DataArray inputs; the Dataset of its outputs."""
    xr = _xarray()
    if preset is not None and preset not in _scale.PRESETS:
        raise ValueError(f"preset={preset!r} is not known; accepted: {', '.join(_scale.PRESETS)}")
    merged: dict[str, Any] = {}
    if isinstance(data, xr.Dataset):
        merged.update({str(k): v for k, v in data.coords.items() if str(k) in _INPUTS})
        merged.update({str(k): v for k, v in data.data_vars.items()})
    elif isinstance(data, xr.DataArray):
        if data.name is None:
            raise ValueError(
                "data: a DataArray without a name; name it (da.rename('calcium')) or pass it "
                "as a keyword (calcium=da)"
            )
        merged[str(data.name)] = data
    elif data is not None:
        raise TypeError(f"data: expected an xarray Dataset or DataArray, got {type(data)!r}")
    merged.update(inputs)
    units = dict(units or {})
    allowed = set(_SOLUTION_INPUTS) | set(_scale.TASK_INPUTS.get(task, ()))
    if preset is not None and preset.startswith("urine"):
        allowed.add("volume")
    unknown = [k for k in (*merged, *units) if k not in allowed]
    if unknown:
        raise TypeError(
            f"{', '.join(map(repr, dict.fromkeys(unknown)))}: not an input of "
            f"oxalate.xarray.{task}; accepted: {', '.join(sorted(allowed))}"
        )
    names: list[str] = []
    arrays: list[Any] = []
    unit_of: dict[str, str | None] = {}
    fixed: dict[str, Any] = {}
    for name, value in merged.items():
        split = _split(name, value, xr, units)
        if split is None:
            fixed[name] = value
            continue
        names.append(name)
        arrays.append(split[0])
        unit_of[name] = split[1]
    if not arrays:
        raise ValueError(
            f"oxalate.xarray.{task}: no DataArray among the inputs; for scalars and numpy "
            f"arrays call oxalate.{task} directly"
        )
    for name in _scale.TASK_INPUTS.get(task, ()):
        if name in fixed:
            options[name] = fixed.pop(name)
    _scale.probe(task, options)  # bad options raise here, not later on a worker
    lazy = any(a.chunks is not None for a in arrays)
    spec = _scale.output_spec(task, options)
    labels = {str(c) for a in arrays for c in (*a.dims, *a.coords)}
    clash = [o.name for o in spec if o.name in labels]
    if clash:
        raise ValueError(
            f"outputs {clash} have the name of a dimension or coordinate of the inputs; "
            f"leave them out (the coordinate already holds the input's values)"
        )
    core = ["time"] if any(o.per_time for o in spec) else []
    if core and "time" in labels:
        raise ValueError(
            "an input has a dimension or coordinate named 'time', which the time series "
            "of oxalate.xarray.crystallize use; rename it (da.rename(time='t_sample'))"
        )
    times = _scale.output_times(options) if core else None
    results = xr.apply_ufunc(
        _scale.run_chunk,
        *arrays,
        kwargs={
            "names": tuple(names),
            "units": unit_of,
            "fixed": fixed,
            "preset": preset,
            "task": task,
            "options": options,
            "single_thread": lazy,
        },
        output_core_dims=[core if o.per_time else [] for o in spec],
        dask="parallelized",
        output_dtypes=[o.dtype for o in spec],
        dask_gufunc_kwargs={"output_sizes": {"time": len(times)}} if times is not None else None,
        keep_attrs=False,
    )
    variables = {}
    for out, result in zip(spec, results, strict=True):
        result.attrs = {"long_name": out.long_name}
        if out.units is not None:
            result.attrs["units"] = out.units
        variables[out.name] = result
    ds = xr.Dataset(variables, attrs={"source": f"oxalate.xarray.{task}"})
    if times is not None:
        ds = ds.assign_coords(time=("time", times, {"units": "s", "long_name": "time"}))
    return ds


def speciate(
    data: Any = None,
    /,
    *,
    outputs: Sequence[str] | None = None,
    preset: str | None = None,
    units: Mapping[str, str] | None = None,
    activity_model: str = "davies",
    constants: Any = "default",
    charge_balance: str | None = None,
    engine: str = "auto",
    chunk_size: int | None = None,
    **inputs: Any,
) -> Any:
    """Speciate a labelled grid of solutions: :func:`oxalate.speciate` over DataArrays.

    Parameters
    ----------
    data : xarray.Dataset or xarray.DataArray, optional
        Inputs as variables named like the keywords below (a DataArray needs a
        name); a Dataset's coordinates with such names (a grid's ``calcium``
        or ``pH`` axis) are inputs too.  Keywords override them.
    outputs : sequence of str, optional
        Names as in :func:`oxalate.speciate` (``"SI_COM"``, ``"omega_COD"``,
        ``"ionic_strength"``, ``"pH"``, ``"m_Ca+2"``, ...).  Default: SI and Ω
        of every phase and the ionic strength (and the pH when
        ``charge_balance="pH"`` solves it).  A name that is also a dimension or
        coordinate of the inputs (``"pH"`` over a pH axis) is refused.
    preset : str, optional
        Start from a preset of :mod:`oxalate.fluids` (``"plasma_ultrafiltrate"``,
        ``"urine_24h_normal"``, ...) and override what the inputs give.
        Without one the inputs build an :class:`oxalate.Solution` (25 °C unless
        ``temperature`` is given, as there).
    units : mapping of str to str, optional
        Units of DataArray inputs that carry none: ``{"calcium": "mmol/L"}``.
    activity_model, constants, charge_balance, engine, chunk_size
        As in :func:`oxalate.speciate`.
    **inputs : xarray.DataArray, pint.Quantity, str or float
        ``calcium``, ``magnesium``, ..., ``carbonate`` [concentration], ``pH``
        [-], ``temperature`` [K or °C], ``density`` [kg/L], ``ionized_calcium``
        (free Ca²⁺; the total calcium is solved for it, see
        :func:`oxalate.fluids.with_ionized_calcium`) [concentration],
        ``volume`` with a urine preset [L/d].  DataArrays broadcast by
        dimension name; scalars hold for the whole grid.

    Returns
    -------
    xarray.Dataset
        One variable per output, over the inputs' dimensions and coordinates,
        units in ``attrs["units"]`` (``"1"`` for numbers without one), plus
        ``converged`` and ``reason``.  Lazy when an input is a dask array.

    Raises
    ------
    ValueError
        A DataArray input without units, units pint cannot read or that
        conflict, an unknown output or preset (at the call, not at compute).
    TypeError
        An unknown input name, or a numpy array given instead of a DataArray.

    Examples
    --------
    >>> import xarray as xr
    >>> import oxalate.xarray
    >>> ox = xr.DataArray([0.2, 0.4], dims="oxalate", attrs={"units": "mmol/L"})
    >>> ds = oxalate.xarray.speciate(preset="urine_24h_normal", oxalate=ox,
    ...                              outputs=["omega_COM", "ionic_strength"])
    >>> sorted(ds.data_vars)
    ['converged', 'ionic_strength', 'omega_COM', 'reason']
    >>> ds["ionic_strength"].attrs["units"]
    'mol/kg'
    """
    if outputs is None:
        phases = resolve_constants(constants).phases
        outputs = [
            *(f"SI_{p}" for p in phases),
            *(f"omega_{p}" for p in phases),
            "ionic_strength",
        ]
        if charge_balance == "pH":
            outputs.append("pH")
    if isinstance(outputs, str):
        raise TypeError(f"outputs={outputs!r} must be a list of names such as ['SI_COM', 'pH']")
    options = {
        "outputs": tuple(outputs),
        "activity_model": activity_model,
        "constants": constants,
        "charge_balance": charge_balance,
        "engine": engine,
        "chunk_size": chunk_size,
    }
    return _grid("speciate", data, inputs, units, preset, options)


def precipitate(
    data: Any = None,
    /,
    *,
    phases: str | Sequence[str] = ("COM",),
    ph_mode: str = "closed",
    preset: str | None = None,
    units: Mapping[str, str] | None = None,
    activity_model: str = "davies",
    constants: Any = "default",
    engine: str = "auto",
    chunk_size: int | None = None,
    **inputs: Any,
) -> Any:
    """Equilibrate a labelled grid with solids: :func:`oxalate.precipitate` over DataArrays.

    Parameters
    ----------
    data, preset, units, **inputs
        As in :func:`speciate`.
    phases, ph_mode, activity_model, constants, engine, chunk_size
        As in :func:`oxalate.precipitate`.

    Returns
    -------
    xarray.Dataset
        ``amount_<phase>`` per phase [mol/kg of initial water], ``pH_after``
        reaction, ``water_mass`` [kg], ``iterations``, ``converged``,
        ``reason``.

    Examples
    --------
    >>> import xarray as xr
    >>> import oxalate.xarray
    >>> ox = xr.DataArray([0.1, 1.0], dims="oxalate", attrs={"units": "mmol/kg"})
    >>> ds = oxalate.xarray.precipitate(calcium="5 mmol/kg", oxalate=ox, sodium="10 mmol/kg",
    ...                                 chloride="10 mmol/kg", pH=6.0, ph_mode="fixed")
    >>> (ds["amount_COM"] * 1e3).round(3).values.tolist()  # mmol/kg
    [0.095, 0.995]
    """
    options = {
        "phases": phases,
        "ph_mode": ph_mode,
        "activity_model": activity_model,
        "constants": constants,
        "engine": engine,
        "chunk_size": chunk_size,
    }
    return _grid("precipitate", data, inputs, units, preset, options)


def threshold(
    data: Any = None,
    /,
    *,
    vary: str = "oxalate",
    target: Any = 1.0,
    phase: str = "COM",
    counter_ion: str | None = None,
    ph_mode: str | None = None,
    molar_unit: str = "mol/L",
    preset: str | None = None,
    units: Mapping[str, str] | None = None,
    activity_model: str = "davies",
    constants: Any = "default",
    engine: str = "auto",
    chunk_size: int | None = None,
    **inputs: Any,
) -> Any:
    """The total of ``vary`` at which Ω reaches ``target``, over a labelled grid.

    :func:`oxalate.threshold` over DataArrays.

    Parameters
    ----------
    data, preset, units, **inputs
        As in :func:`speciate`.
    vary, phase, counter_ion, ph_mode, activity_model, constants, engine, chunk_size
        As in :func:`oxalate.threshold`.
    target : float or xarray.DataArray
        The Ω to reach; a DataArray adds its dimensions to the grid. [-]
    molar_unit : str
        Unit of ``threshold_molar`` (``"umol/L"`` for plasma). [concentration]

    Returns
    -------
    xarray.Dataset
        ``threshold`` [mol/kg], ``threshold_molar`` [``molar_unit``, at the
        threshold's composition and the ``density`` input, default 1 kg/L],
        ``supersaturation`` (Ω reached), ``iterations``, ``converged``,
        ``reason``.

    Examples
    --------
    >>> import xarray as xr
    >>> import oxalate.xarray
    >>> ca = xr.DataArray([1.2, 1.6], dims="calcium", attrs={"units": "mmol/kg"})
    >>> ds = oxalate.xarray.threshold(preset="plasma_ultrafiltrate", calcium=ca,
    ...                               molar_unit="umol/L")
    >>> ds["threshold_molar"].round(1).values.tolist(), ds["threshold_molar"].attrs["units"]
    ([53.8, 41.5], 'umol/L')
    """
    options = {
        "vary": vary,
        "target": target,
        "phase": phase,
        "counter_ion": counter_ion,
        "ph_mode": ph_mode,
        "activity_model": activity_model,
        "constants": constants,
        "engine": engine,
        "chunk_size": chunk_size,
        "molar_unit": molar_unit,
        "density": inputs.get("density"),
    }
    if isinstance(target, _xarray().DataArray):
        inputs = {**inputs, "target": options.pop("target")}
    return _grid("threshold", data, inputs, units, preset, options)


def crystallize(
    data: Any = None,
    /,
    *,
    time: Any,
    phases: str | Sequence[str] = ("COM",),
    growth: Any = None,
    nucleation: Any = None,
    seeds: Any = None,
    aggregation: Any = None,
    solid: Any = None,
    parameters: Any = None,
    ph_mode: str = "closed",
    method: str = "auto",
    rtol: float = 1e-6,
    detection: float = 1e-5,
    count: Any = "1 1/kg",
    preset: str | None = None,
    units: Mapping[str, str] | None = None,
    activity_model: str = "davies",
    constants: Any = "default",
    engine: str = "auto",
    max_steps: int = 20_000,
    **inputs: Any,
) -> Any:
    """Crystallise a labelled grid of solutions over time: :func:`oxalate.crystallize`.

    Every point of the grid is crystallised on its own (rows are independent,
    so a chunked run gives every point the bits of one call), and the time
    series gain a ``time`` dimension [s], last.

    Parameters
    ----------
    data, preset, units, **inputs
        As in :func:`speciate`.  No input may have a dimension named ``time``.
    time : pint.Quantity or str
        Output times, ascending from 0 (``numpy.inf`` last: the equilibrium). [s]
    phases, growth, nucleation, seeds, aggregation, solid, parameters, ph_mode, method
        As in :func:`oxalate.crystallize` (the same records of
        :mod:`oxalate.kinetics`; they travel to dask workers by pickling).
    rtol, detection, count, activity_model, constants, engine, max_steps
        As in :func:`oxalate.crystallize`.

    Returns
    -------
    xarray.Dataset
        Over the inputs' dimensions and ``time``: ``amount_<phase>`` and
        ``present_<phase>`` [mol/kg of initial water], ``supersaturation_<phase>``
        (Ω), ``number_<phase>`` [1/kg], ``mean_size_<phase>`` and
        ``max_size_<phase>`` [m], ``surface_area_<phase>`` [m²/kg], ``pH_liquid``,
        ``water_mass`` [kg], ``total_<component>`` [mol/kg of water left];
        over the inputs' dimensions only: ``induction_time_<phase>`` [s],
        ``steps``, ``converged`` and ``reason``.  Lazy when an input is a dask
        array.

    Examples
    --------
    Seeded growth of COM over three calcium levels, PHREEQC's usual rate
    dξ/dt = k σ²:

    >>> import numpy as np
    >>> import xarray as xr
    >>> import oxalate
    >>> import oxalate.xarray
    >>> from oxalate.kinetics import BulkRate
    >>> ca = xr.DataArray([0.4, 0.5, 0.6], dims="calcium", attrs={"units": "mmol/kg"})
    >>> ds = oxalate.xarray.crystallize(
    ...     calcium=ca, oxalate="0.4 mmol/kg", sodium="0.8 mmol/kg", chloride="0.8 mmol/kg",
    ...     time=oxalate.Quantity([0, 600, np.inf], "s"), growth=BulkRate("1e-7 mol/kg/s"))
    >>> ds["amount_COM"].dims
    ('calcium', 'time')
    >>> ds["time"].values.tolist()
    [0.0, 600.0, inf]
    """
    options = {
        "time": time,
        "phases": phases,
        "growth": growth,
        "nucleation": nucleation,
        "seeds": seeds,
        "aggregation": aggregation,
        "solid": solid,
        "parameters": parameters,
        "ph_mode": ph_mode,
        "method": method,
        "rtol": rtol,
        "detection": detection,
        "count": count,
        "activity_model": activity_model,
        "constants": constants,
        "engine": engine,
        "max_steps": max_steps,
    }
    return _grid("crystallize", data, inputs, units, preset, options)


def plasma_oxalate_threshold(
    data: Any = None,
    /,
    *,
    target: Any = 1.0,
    phase: str = "COM",
    constants: Any = "default",
    units: Mapping[str, str] | None = None,
    **ultrafiltrate: Any,
) -> Any:
    """Plasma oxalate at which the ultrafiltrate reaches Ω = ``target``, over a labelled grid.

    :func:`oxalate.indices.plasma_oxalate_threshold` over DataArrays: the
    :func:`oxalate.fluids.plasma_ultrafiltrate` preset, overridden by the
    inputs (``ionized_calcium``, ``pH``, ``temperature``, ...), searched for
    the total oxalate at the target, fully speciated.

    Parameters
    ----------
    data, units
        As in :func:`speciate`.
    target : float or xarray.DataArray
        Ω to reach (1: saturation; 8-11: the metastable limit). [-]
    phase : {"COM", "COD", "COT"}
    constants : str, ConstantSet or mapping
        As in :func:`oxalate.speciate`.
    **ultrafiltrate
        Overrides of the preset; DataArrays span the grid.

    Returns
    -------
    xarray.Dataset
        ``plasma_oxalate`` [µmol/L of ultrafiltrate, the clinic's unit], the
        same numbers :func:`oxalate.indices.plasma_oxalate_threshold` gives
        point by point; ``threshold`` [mol/kg], ``supersaturation``,
        ``iterations``, ``converged`` and ``reason``.

    Examples
    --------
    >>> import xarray as xr
    >>> import oxalate.xarray
    >>> ion = xr.DataArray([1.0, 1.2, 1.4], dims="ionized_calcium",
    ...                    coords={"ionized_calcium": [1.0, 1.2, 1.4]}, attrs={"units": "mmol/L"})
    >>> ds = oxalate.xarray.plasma_oxalate_threshold(ionized_calcium=ion)
    >>> ds["plasma_oxalate"].round(1).values.tolist()
    [49.7, 42.3, 37.1]
    """
    ds = threshold(
        data,
        vary="oxalate",
        target=target,
        phase=phase,
        molar_unit="umol/L",
        preset="plasma_ultrafiltrate",
        units=units,
        constants=constants,
        **ultrafiltrate,
    )
    ds = ds.rename({"threshold_molar": "plasma_oxalate"})
    ds["plasma_oxalate"].attrs["long_name"] = "plasma oxalate at the target Ω (ultrafiltrate)"
    ds.attrs["source"] = "oxalate.xarray.plasma_oxalate_threshold"
    return ds
