"""oxalate on a real dask.distributed cluster: 2 worker processes of 1 thread each.

A chunked grid (oxalate.xarray) and a chunked table (oxalate.dask) go through
the cluster and are compared, bit for bit, with one plain call in this process.
The workers are separate processes, so everything they run was pickled: the
run itself shows that nothing unpicklable crosses the wire.  The kernels are
compiled here first; the workers inherit ``OXALATE_CACHE_DIR`` and load them.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

import oxalate
from oxalate import tables

distributed = pytest.importorskip("distributed")
dd = pytest.importorskip("dask.dataframe")
xr = pytest.importorskip("xarray")
import oxalate.dask as odask  # noqa: E402
import oxalate.xarray as oxr  # noqa: E402

OUTPUTS = ["SI_COM", "SI_COD", "omega_brushite", "ionic_strength", "m_Ox-2", "iterations"]


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    oxalate.compile(("speciate",))  # here first: the workers load it from the disk cache
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
        ) as cluster,
        distributed.Client(cluster) as c,
    ):
        yield c


def _urines(n: int, seed: int = 7, bad: bool = True) -> pd.DataFrame:
    """n synthetic 24-hour urines in clinical units, with a few spoiled rows."""
    rng = np.random.default_rng(seed)

    def u(lo: float, hi: float) -> np.ndarray:
        return rng.uniform(lo, hi, n)

    table = pd.DataFrame(
        {
            "patient": [f"P{i:05d}" for i in range(n)],
            "calcium [mmol/L]": u(2, 8),
            "magnesium [mmol/L]": u(2, 5),
            "sodium [mmol/L]": u(100, 200),
            "potassium [mmol/L]": u(40, 80),
            "chloride [mmol/L]": u(100, 200),
            "oxalate [mmol/L]": u(0.1, 0.6),
            "citrate [mmol/L]": u(1, 4),
            "phosphate [mmol/L]": u(10, 30),
            "sulfate [mmol/L]": u(10, 20),
            "pH": u(5, 7),
        }
    ).set_index("patient")
    if bad:
        table.iloc[3, 0] = np.nan  # an empty calcium cell
        table.iloc[n // 2, -1] = 15.0  # a pH of 15
        table.iloc[n - 2, 5] = -0.2  # a negative oxalate
    return table


def _single_process(table: pd.DataFrame) -> oxalate.SpeciationOutputs:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", oxalate.OxalateWarning)
        solution = tables.read_solution(table, on_invalid="nan", missing="zero")
        return oxalate.speciate(solution, outputs=OUTPUTS)


def _compare(got: pd.DataFrame, table: pd.DataFrame, expected: Any) -> None:
    assert got.index.equals(table.index)
    for name in OUTPUTS:
        assert_array_equal(got[name].to_numpy(), expected[name])
    assert_array_equal(got["converged"].to_numpy(), expected.converged)
    assert got["reason"].tolist() == [str(r) for r in expected.reason]


def test_table_on_the_cluster_equals_one_plain_call(client: Any) -> None:
    table = _urines(6000)
    frame = dd.from_pandas(table, npartitions=7)
    lazy = odask.speciate_dataframe(frame, outputs=OUTPUTS, missing="zero")
    assert lazy.npartitions == 7
    got = client.compute(lazy).result()
    expected = _single_process(table)
    _compare(got, table, expected)
    assert int((~got["converged"]).sum()) == 3  # the three spoiled rows, kept and flagged
    assert got.loc["P00003", "reason"] != ""


def _grid() -> dict[str, Any]:
    def axis(name: str, values: np.ndarray, unit: str | None) -> Any:
        return xr.DataArray(
            values, dims=name, coords={name: values}, attrs={"units": unit} if unit else {}
        )

    return {
        "calcium": axis("calcium", np.linspace(1.0, 8.0, 40), "mmol/L"),
        "pH": axis("pH", np.linspace(5.0, 7.5, 11), None),
        "temperature": axis("temperature", np.array([20.0, 37.0, 45.0]), "degC"),
    }


def _grid_reference(grid: dict[str, Any]) -> tuple[Any, tuple[str, ...]]:
    arrays = xr.broadcast(*grid.values())
    ca, ph, t = (a.values for a in arrays)
    solution = oxalate.fluids.urine_24h_normal(
        calcium=oxalate.Quantity(ca, "mmol/L"), pH=ph, temperature=oxalate.Quantity(t, "degC")
    )
    return oxalate.speciate(solution, outputs=OUTPUTS), arrays[0].dims


def test_grid_on_the_cluster_equals_one_plain_call(client: Any) -> None:
    grid = _grid()
    chunked = {**grid, "calcium": grid["calcium"].chunk({"calcium": 9})}
    lazy = oxr.speciate(preset="urine_24h_normal", outputs=OUTPUTS, **chunked)
    assert lazy["SI_COM"].chunks is not None
    got = lazy.compute()  # the client is the default scheduler while it is open
    expected, dims = _grid_reference(grid)
    for name in OUTPUTS:
        assert_array_equal(got[name].transpose(*dims).values, expected[name])
    assert bool(got["converged"].all())


def test_prepare_registers_the_kernels_on_every_worker(client: Any) -> None:
    seconds = odask.prepare(client, ("speciate",))
    assert set(seconds) == {"speciate"}
    plugins = client.run(lambda dask_worker: sorted(dask_worker.plugins))
    assert len(plugins) == 2
    assert all("oxalate-kernels" in names for names in plugins.values())


@pytest.mark.filterwarnings("ignore::oxalate.OxalateWarning")  # the spoiled rows, expected
@pytest.mark.parametrize("scheduler", ["threads", "sync"])
def test_table_on_local_schedulers(scheduler: str) -> None:
    table = _urines(3000, seed=11)
    frame = dd.from_pandas(table, npartitions=4)
    got = odask.speciate_dataframe(frame, outputs=OUTPUTS, missing="zero").compute(
        scheduler=scheduler
    )
    _compare(got, table, _single_process(table))


def test_pandas_table_at_once_keeping_the_input() -> None:
    table = _urines(500, seed=3, bad=False)
    got = odask.speciate_dataframe(table, outputs=OUTPUTS, missing="zero", keep_input=True)
    assert list(got.columns[: table.shape[1]]) == list(table.columns)
    _compare(got, table, _single_process(table))


def test_threshold_and_precipitate_tables_equal_plain_calls() -> None:
    table = _urines(200, seed=5, bad=False)
    frame = dd.from_pandas(table, npartitions=3)
    solution = tables.read_solution(table, missing="zero")
    th = odask.threshold_dataframe(frame, missing="zero", molar_unit="mmol/L").compute(
        scheduler="threads"
    )
    expected = oxalate.threshold(solution, vary="oxalate")
    assert_array_equal(th["threshold"].to_numpy(), expected.molality)
    assert_array_equal(th["threshold_molar"].to_numpy(), expected.molarity().m_as("mmol/L"))
    pr = odask.precipitate_dataframe(frame, missing="zero", phases=["COM"]).compute(
        scheduler="threads"
    )
    amount = oxalate.precipitate(solution, phases=["COM"]).amount["COM"]
    assert_array_equal(pr["amount_COM"].to_numpy(), amount)
    assert float(pr["amount_COM"].max()) > 0


def test_bad_output_is_refused_at_the_call_not_on_a_worker() -> None:
    frame = dd.from_pandas(_urines(10, bad=False), npartitions=2)
    with pytest.raises(ValueError, match="SI_XYZ"):
        odask.speciate_dataframe(frame, outputs=["SI_XYZ"])


def test_result_column_already_in_the_table_is_refused() -> None:
    table = _urines(10, bad=False).assign(SI_COM=0.0)
    with pytest.raises(ValueError, match="keep_input=False"):
        odask.speciate_dataframe(table, outputs=["SI_COM"], keep_input=True)


def test_inside_a_task_the_kernels_run_on_one_thread() -> None:
    numba = pytest.importorskip("numba")
    from oxalate._engines import compiled
    from oxalate._scale import one_numba_thread

    if numba.get_num_threads() < 2:
        pytest.skip("numba has one thread here: nothing to restrict")
    before = numba.get_num_threads()
    assert compiled.blocks(100_000) > 0  # the main thread would start numba's threads
    with one_numba_thread():
        assert numba.get_num_threads() == 1
        assert compiled.blocks(100_000) == 0
    assert numba.get_num_threads() == before


def test_crystallize_grid_on_the_cluster_equals_one_plain_call(client: Any) -> None:
    # the rate-law records are pickled to the worker processes
    from oxalate.kinetics import BulkRate

    growth = BulkRate("1e-7 mol/kg/s")
    times = oxalate.Quantity([0.0, 300.0, 3600.0], "s")
    values = np.linspace(0.35, 0.9, 12)
    ca = xr.DataArray(values, dims="calcium", coords={"calcium": values},
                      attrs={"units": "mmol/kg"})  # fmt: skip
    background = {"oxalate": "0.4 mmol/kg", "sodium": "1 mmol/kg", "chloride": "1 mmol/kg"}
    lazy = oxr.crystallize(calcium=ca.chunk({"calcium": 5}), time=times, growth=growth,
                           **background)  # fmt: skip
    got = lazy.compute()
    plain = oxalate.crystallize(
        oxalate.Solution(calcium=oxalate.Quantity(values, "mmol/kg"), **background),
        times,
        growth=growth,
    )
    assert_array_equal(got["amount_COM"].values, plain.amount["COM"].T)
    assert_array_equal(got["pH_liquid"].values, plain.pH.T)
    assert bool(got["converged"].all())
