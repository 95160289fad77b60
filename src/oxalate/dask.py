"""Tables that outgrow one computer: oxalate on dask DataFrames, and dask workers made ready.

A table of solutions (one row each, headers such as ``calcium [mg/d]``, as
:mod:`oxalate.tables` reads them) is processed partition by partition with
:meth:`dask.dataframe.DataFrame.map_partitions`, on whatever scheduler is
active: dask's threads or processes, or a :class:`distributed.Client` of a
cluster.  Every row is kept: one with a missing or impossible value is NaN in
the results with its ``reason``, as the command line does.  The functions also
take a pandas DataFrame, which they process at once.

On the workers:

* the compiled kernels run on the task's thread alone (dask already runs one
  task per core; numba's threads on top would oversubscribe them);
* the kernels load from the on-disk cache (``$OXALATE_CACHE_DIR``, inherited
  by the workers of a ``LocalCluster``), so a machine compiles them once, not
  once per task; :func:`prepare` compiles them before the first task and
  loads them on every worker, present and future;
* only the partition, strings and numbers travel to a task, and only the
  result columns come back.

A row's results do not depend on its partition: a distributed run equals one
call on the whole table, bit for bit.  See :doc:`/scale`.

Examples
--------
>>> import pandas as pd
>>> import dask.dataframe as dd
>>> import oxalate.dask
>>> table = pd.DataFrame({
...     "calcium [mmol/L]": [2.0, 4.0, 6.0, 8.0], "oxalate [mmol/L]": [0.2, 0.3, 0.4, 0.5],
...     "sodium [mmol/L]": 150.0, "chloride [mmol/L]": 150.0, "pH": [5.5, 6.0, 6.5, 7.0]})
>>> frame = dd.from_pandas(table, npartitions=2)
>>> out = oxalate.dask.speciate_dataframe(frame, outputs=["SI_COM"], missing="zero")
>>> out.compute()["SI_COM"].round(2).tolist()  # as oxalate.speciate gives them
[0.88, 1.28, 1.51, 1.67]
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from . import _scale

__all__ = [
    "OxalateWorkerPlugin",
    "precipitate_dataframe",
    "prepare",
    "speciate_dataframe",
    "threshold_dataframe",
]

_PluginBase: Any
try:  # a real WorkerPlugin when distributed is installed (register_plugin checks the type)
    from distributed import WorkerPlugin as _PluginBase
except ImportError:  # pragma: no cover - depends on the environment
    _PluginBase = object


class OxalateWorkerPlugin(_PluginBase):  # type: ignore[misc]
    """A dask worker plugin that loads oxalate's compiled kernels when a worker starts.

    Register it with ``client.register_plugin(OxalateWorkerPlugin())`` (or
    let :func:`prepare` do it): every worker, including those that join later,
    then builds or loads the kernels before its first task.  With a warm cache
    that takes well under a second; on a machine whose cache is cold the first
    worker compiles (about 6 s for ``speciate``, 40 s more for
    ``precipitate``).

    Parameters
    ----------
    kernels : sequence of {"speciate", "precipitate"}
        As in :func:`oxalate.compile`; ``precipitate`` also serves thresholds.
    """

    name = "oxalate-kernels"

    def __init__(self, kernels: Sequence[str] = ("speciate",)) -> None:
        self.kernels = tuple(kernels)
        #: seconds each kernel took to load on the last worker set up (for the logs)
        self.seconds: dict[str, float] = {}

    def setup(self, worker: Any = None) -> None:
        """Build or load the kernels in this worker's process."""
        from .kernels import compile

        self.seconds = compile(self.kernels)


def prepare(
    client: Any, kernels: Sequence[str] = ("speciate",), *, here: bool = True
) -> dict[str, float]:
    """Make a dask cluster ready for oxalate: kernels compiled once, then loaded on every worker.

    Parameters
    ----------
    client : distributed.Client
        Connected to the cluster (``Client("tcp://scheduler:8786")``, or a
        ``LocalCluster``).
    kernels : sequence of {"speciate", "precipitate"}
        The kernels the work needs.
    here : bool
        Compile in this process first.  That fills the cache the workers read
        when they share this machine or its cache folder (a ``LocalCluster``),
        so they load instead of all compiling at once.

    Returns
    -------
    dict of str to float
        Seconds each kernel took to build or load here (empty with
        ``here=False``). [s]
    """
    from .kernels import compile

    t0 = time.perf_counter()
    seconds = compile(tuple(kernels)) if here else {}
    if here and not seconds:  # pragma: no cover - compile returns one entry per kernel
        seconds = {"total": time.perf_counter() - t0}
    client.register_plugin(OxalateWorkerPlugin(kernels))
    return seconds


def _string_dtype() -> Any:
    import pandas as pd

    return pd.Series(["x"]).dtype  # object before pandas 3, str from pandas 3


def _result_frame(columns: Mapping[str, Any], index: Any, spec: list[_scale.Output]) -> Any:
    import numpy as np
    import pandas as pd

    data = {o.name: np.asarray(columns[o.name], dtype=o.dtype).ravel() for o in spec}
    frame = pd.DataFrame(data, index=index)
    return frame.astype({"reason": _string_dtype()})


def _partition(
    part: Any,
    *,
    task: str,
    read: Mapping[str, Any],
    options: Mapping[str, Any],
    keep_input: bool,
    rename: Mapping[str, str] | None = None,
) -> Any:
    """One partition: its rows to a Solution, ``task`` on it, the result columns (same index)."""
    import numpy as np
    import pandas as pd

    from .tables import read_solution

    spec = _scale.output_spec(task, options)
    if len(part) == 0:
        columns = {o.name: np.empty(0, dtype=o.dtype) for o in spec}
    else:
        with _scale.one_numba_thread():
            solution = read_solution(part, **read)
            columns = _scale.run_task(task, solution, options)
    out = _result_frame(columns, part.index, spec)
    if rename:
        out = out.rename(columns=dict(rename))
    return pd.concat([part, out], axis=1) if keep_input else out


def _table(
    task: str,
    frame: Any,
    read: dict[str, Any],
    options: dict[str, Any],
    keep_input: bool,
    suffix: str | None = None,
) -> Any:
    import numpy as np

    spec = _scale.output_spec(task, options)
    names = [str(c) for c in frame.columns]
    clash = [o.name for o in spec if o.name in names]
    if keep_input and clash and not suffix:
        raise ValueError(
            f"the table already has column(s) {clash} that the results would add; rename "
            f"them, pass suffix='_out', or pass keep_input=False to get the results alone"
        )
    rename = {c: f"{c}{suffix}" for c in clash} if keep_input and suffix else {}
    _scale.probe(task, options)  # bad options raise here, not later on a worker
    kwargs: dict[str, Any] = {
        "task": task,
        "read": read,
        "options": options,
        "keep_input": keep_input,
        "rename": rename,
    }
    if not hasattr(frame, "map_partitions"):  # pandas: at once
        return _partition(frame, **kwargs)
    empty = {o.name: np.empty(0, dtype=o.dtype) for o in spec}
    meta_in = frame._meta
    meta = _result_frame(empty, meta_in.index, spec).rename(columns=rename)
    if keep_input:
        import pandas as pd

        meta = pd.concat([meta_in, meta], axis=1)
    return frame.map_partitions(_partition, meta=meta, **kwargs)


def _read_options(
    columns: Mapping[str, str] | None,
    units: Mapping[str, str] | None,
    missing: str,
    on_invalid: str,
    volume: Any,
    pH: Any,
    temperature: Any,
    density: Any,
) -> dict[str, Any]:
    return {
        "columns": dict(columns) if columns else None,
        "units": dict(units) if units else None,
        "missing": missing,
        "on_invalid": on_invalid,
        "volume": volume,
        "pH": pH,
        "temperature": temperature,
        "density": density,
    }


def speciate_dataframe(
    frame: Any,
    *,
    outputs: Sequence[str] = ("SI_COM", "SI_COD", "ionic_strength"),
    keep_input: bool = False,
    suffix: str | None = None,
    columns: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    missing: str = "warn",
    on_invalid: str = "nan",
    volume: Any = None,
    pH: Any = None,
    temperature: Any = "37 degC",
    density: Any = None,
    activity_model: str = "davies",
    constants: Any = "default",
    charge_balance: str | None = None,
    engine: str = "auto",
) -> Any:
    """Speciate every row of a (dask) table: :func:`oxalate.speciate` per partition.

    Parameters
    ----------
    frame : dask.dataframe.DataFrame or pandas.DataFrame
        One solution per row, headers as in :mod:`oxalate.tables`
        (``calcium [mg/d]``, ``volume [L/d]``, ``pH``); other columns are
        ignored.
    outputs : sequence of str
        As in :func:`oxalate.speciate` (``"SI_COM"``, ``"omega_COD"``,
        ``"ionic_strength"``, ``"m_Ca+2"``, ...).
    keep_input : bool
        Put the input columns before the results (as the command line does);
        default: the results alone, with the input's index.
    suffix : str, optional
        With ``keep_input``, added to a result column whose name the table
        already has (the command line uses ``"_out"``); default: refused.
    columns, units, missing, on_invalid, volume, pH, temperature, density
        As in :func:`oxalate.tables.read_solution`, except ``on_invalid``:
        ``"nan"`` by default, so that a bad row is kept and flagged instead of
        failing the whole computation on a worker.
    activity_model, constants, charge_balance, engine
        As in :func:`oxalate.speciate`.

    Returns
    -------
    dask.dataframe.DataFrame or pandas.DataFrame
        The same index, one row per input row: the outputs, ``converged`` and
        ``reason``.  Lazy for a dask input.

    Raises
    ------
    ValueError
        An unknown output (at the call, not on a worker); a result column that
        the table already has with ``keep_input=True``.
    """
    if isinstance(outputs, str):
        raise TypeError(f"outputs={outputs!r} must be a list of names such as ['SI_COM', 'pH']")
    read = _read_options(columns, units, missing, on_invalid, volume, pH, temperature, density)
    options = {
        "outputs": tuple(outputs),
        "activity_model": activity_model,
        "constants": constants,
        "charge_balance": charge_balance,
        "engine": engine,
    }
    return _table("speciate", frame, read, options, keep_input, suffix)


def precipitate_dataframe(
    frame: Any,
    *,
    phases: str | Sequence[str] = ("COM",),
    ph_mode: str = "closed",
    keep_input: bool = False,
    suffix: str | None = None,
    columns: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    missing: str = "warn",
    on_invalid: str = "nan",
    volume: Any = None,
    pH: Any = None,
    temperature: Any = "37 degC",
    density: Any = None,
    activity_model: str = "davies",
    constants: Any = "default",
    engine: str = "auto",
) -> Any:
    """Equilibrate every row of a (dask) table with solids: :func:`oxalate.precipitate`.

    Parameters
    ----------
    frame, keep_input, suffix, columns, units, missing
        As in :func:`speciate_dataframe`.
    on_invalid, volume, pH, temperature, density
        As in :func:`speciate_dataframe`.
    phases, ph_mode, activity_model, constants, engine
        As in :func:`oxalate.precipitate`.

    Returns
    -------
    dask.dataframe.DataFrame or pandas.DataFrame
        ``amount_<phase>`` [mol/kg of initial water], ``pH_after``, ``water_mass``
        [kg], ``iterations``, ``converged``, ``reason``; the input's index.
    """
    read = _read_options(columns, units, missing, on_invalid, volume, pH, temperature, density)
    options = {
        "phases": phases,
        "ph_mode": ph_mode,
        "activity_model": activity_model,
        "constants": constants,
        "engine": engine,
    }
    return _table("precipitate", frame, read, options, keep_input, suffix)


def threshold_dataframe(
    frame: Any,
    *,
    vary: str = "oxalate",
    target: float = 1.0,
    phase: str = "COM",
    counter_ion: str | None = None,
    ph_mode: str | None = None,
    molar_unit: str = "mol/L",
    keep_input: bool = False,
    suffix: str | None = None,
    columns: Mapping[str, str] | None = None,
    units: Mapping[str, str] | None = None,
    missing: str = "warn",
    on_invalid: str = "nan",
    volume: Any = None,
    pH: Any = None,
    temperature: Any = "37 degC",
    density: Any = None,
    activity_model: str = "davies",
    constants: Any = "default",
    engine: str = "auto",
) -> Any:
    """The total of ``vary`` at which Ω reaches ``target``, for every row of a (dask) table.

    Parameters
    ----------
    frame, keep_input, suffix, columns, units, missing
        As in :func:`speciate_dataframe`.
    on_invalid, volume, pH, temperature, density
        As in :func:`speciate_dataframe`.
    vary, target, phase, counter_ion, ph_mode, activity_model, constants, engine
        As in :func:`oxalate.threshold`.
    molar_unit : str
        Unit of ``threshold_molar``. [concentration]

    Returns
    -------
    dask.dataframe.DataFrame or pandas.DataFrame
        ``threshold`` [mol/kg], ``threshold_molar`` [``molar_unit``],
        ``supersaturation``, ``iterations``, ``converged``, ``reason``; the
        input's index.
    """
    read = _read_options(columns, units, missing, on_invalid, volume, pH, temperature, density)
    options = {
        "vary": vary,
        "target": target,
        "phase": phase,
        "counter_ion": counter_ion,
        "ph_mode": ph_mode,
        "activity_model": activity_model,
        "constants": constants,
        "engine": engine,
        "molar_unit": molar_unit,
        "density": density,
    }
    return _table("threshold", frame, read, options, keep_input, suffix)
