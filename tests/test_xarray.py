"""oxalate.xarray: labelled grids in and out, equal bit for bit to one plain call.

The expected values are always those of the plain functions (``oxalate.speciate``,
``oxalate.precipitate``, ``oxalate.threshold``,
``oxalate.indices.plasma_oxalate_threshold``) on the same points given as numpy
arrays, never of the code under test.  The grids are chunked with dask on its
threaded and synchronous schedulers here; the distributed cluster is in
``test_dask.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import oxalate
from oxalate.indices import plasma_oxalate_threshold

xr = pytest.importorskip("xarray")
pytest.importorskip("dask")
import oxalate.xarray as oxr  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

BACKGROUND = {
    "magnesium": "3 mmol/L",
    "sodium": "150 mmol/L",
    "potassium": "50 mmol/L",
    "chloride": "160 mmol/L",
    "citrate": "2 mmol/L",
    "phosphate": "20 mmol/L",
    "sulfate": "15 mmol/L",
}
OUTPUTS = ["SI_COM", "omega_COD", "ionic_strength", "m_Ca+2", "log_gamma_Ca+2", "iterations"]


def _axis(name: str, values: list[float], unit: str | None) -> xr.DataArray:
    attrs = {"units": unit} if unit else {}
    return xr.DataArray(values, dims=name, coords={name: values}, attrs=attrs)


def _grid() -> dict[str, xr.DataArray]:
    return {
        "calcium": _axis("calcium", [2.0, 3.5, 5.0, 6.5, 8.0], "mmol/L"),
        "oxalate": _axis("oxalate", [0.1, 0.35, 0.6], "mmol/L"),
        "pH": _axis("pH", [5.0, 5.7, 6.4, 7.0], None),
        "temperature": _axis("temperature", [25.0, 37.0], "degC"),
    }


def _reference(grid: dict[str, xr.DataArray]) -> tuple[oxalate.SpeciationOutputs, tuple]:
    """oxalate.speciate on the grid's points as numpy arrays (dims in the grid's order)."""
    arrays = xr.broadcast(*grid.values())
    v = {name: a.values for name, a in zip(grid, arrays, strict=True)}
    solution = oxalate.Solution(
        calcium=oxalate.Quantity(v["calcium"], "mmol/L"),
        oxalate=oxalate.Quantity(v["oxalate"], "mmol/L"),
        pH=v["pH"],
        temperature=oxalate.Quantity(v["temperature"], "degC"),
        **BACKGROUND,
    )
    return oxalate.speciate(solution, outputs=OUTPUTS), arrays[0].dims


def _check(ds: xr.Dataset, reference: oxalate.SpeciationOutputs, dims: tuple) -> None:
    for name in OUTPUTS:
        assert_array_equal(ds[name].transpose(*dims).values, reference[name])
    assert_array_equal(ds["converged"].transpose(*dims).values, reference.converged)


def test_grid_equals_one_plain_call_with_labels_and_units() -> None:
    grid = _grid()
    ds = oxr.speciate(**grid, **BACKGROUND, outputs=OUTPUTS)
    reference, dims = _reference(grid)
    _check(ds, reference, dims)
    assert set(ds.dims) == set(grid)
    for name, axis in grid.items():
        assert_array_equal(ds.coords[name].values, axis.values)
    assert ds["SI_COM"].attrs["units"] == "1"
    assert ds["ionic_strength"].attrs["units"] == "mol/kg"
    assert ds["m_Ca+2"].attrs["units"] == "mol/kg"
    assert "units" not in ds["iterations"].attrs
    assert ds["iterations"].dtype == np.int64
    assert ds["reason"].dtype == object
    assert bool(ds["converged"].all())


@pytest.mark.parametrize("scheduler", ["threads", "sync"])
def test_chunked_grid_is_lazy_and_equals_one_plain_call(scheduler: str) -> None:
    grid = _grid()
    grid["calcium"] = grid["calcium"].chunk({"calcium": 2})
    grid["pH"] = grid["pH"].chunk({"pH": 3})
    ds = oxr.speciate(**grid, **BACKGROUND, outputs=OUTPUTS)
    assert ds["SI_COM"].chunks is not None  # lazy: nothing computed yet
    assert dict(ds["SI_COM"].chunksizes)["calcium"] == (2, 2, 1)
    reference, dims = _reference(grid)
    _check(ds.compute(scheduler=scheduler), reference, dims)


def test_dataset_variables_are_inputs_and_keywords_override_them() -> None:
    grid = _grid()
    # the grid's coordinates named like inputs are inputs, as are data variables
    data = xr.Dataset(
        {"oxalate": grid["oxalate"].rename(oxalate="ox").drop_vars("ox")},
        coords={"calcium": grid["calcium"]},
    )
    ds = oxr.speciate(
        data,
        pH=grid["pH"],
        temperature=grid["temperature"],
        **BACKGROUND,
        outputs=OUTPUTS,
    )
    grid["oxalate"] = data["oxalate"]
    reference, dims = _reference(grid)
    _check(ds, reference, dims)


def test_pint_quantity_data_is_read_like_a_units_attribute() -> None:
    values = np.array([2.0, 5.0, 8.0])
    plain = xr.DataArray(values, dims="calcium", attrs={"units": "mmol/L"})
    wrapped = xr.DataArray(oxalate.Quantity(values, "mmol/L"), dims="calcium")
    a = oxr.speciate(calcium=plain, oxalate="0.3 mmol/L", pH=6.0, outputs=["SI_COM"])
    b = oxr.speciate(calcium=wrapped, oxalate="0.3 mmol/L", pH=6.0, outputs=["SI_COM"])
    c = oxr.speciate(
        calcium=xr.DataArray(values * 1e-3, dims="calcium"),
        units={"calcium": "mol/L"},
        oxalate="0.3 mmol/L",
        pH=6.0,
        outputs=["SI_COM"],
    )
    assert_array_equal(a["SI_COM"].values, b["SI_COM"].values)
    np.testing.assert_allclose(c["SI_COM"].values, a["SI_COM"].values, rtol=1e-13)


_PINT_XARRAY = """
import numpy as np, xarray as xr, pint_xarray  # noqa: F401 (changes a pint setting)
import oxalate, oxalate.xarray
ca = xr.DataArray([2.0, 5.0, 8.0], dims="calcium").pint.quantify("mmol/L")
ph = xr.DataArray([5.5, 6.5], dims="pH")
ds = oxalate.xarray.speciate(calcium=ca, oxalate="0.3 mmol/L", pH=ph, outputs=["SI_COM"])
ref = oxalate.speciate(
    oxalate.Solution(calcium=oxalate.Quantity(np.array([[2.0], [5.0], [8.0]]), "mmol/L"),
                     oxalate="0.3 mmol/L", pH=np.array([[5.5, 6.5]])),
    outputs=["SI_COM"])
assert ds["SI_COM"].dims == ("calcium", "pH"), ds["SI_COM"].dims
np.testing.assert_array_equal(ds["SI_COM"].values, ref["SI_COM"])
print("ok")
"""


def test_pint_xarray_quantified_input_in_a_fresh_process() -> None:
    pytest.importorskip("pint_xarray")
    run = subprocess.run(
        [sys.executable, "-c", _PINT_XARRAY],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=os.environ.copy(),
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"


def test_plasma_threshold_grid_equals_the_clinical_function_point_by_point() -> None:
    ion = _axis("ionized_calcium", [1.0, 1.2, 1.4], "mmol/L")
    ph = _axis("pH", [7.2, 7.5], None)
    temp = _axis("temperature", [35.0, 39.0], "degC")
    ds = oxr.plasma_oxalate_threshold(ionized_calcium=ion, pH=ph, temperature=temp)
    assert ds["plasma_oxalate"].attrs["units"] == "umol/L"
    lazy = oxr.plasma_oxalate_threshold(
        ionized_calcium=ion.chunk({"ionized_calcium": 2}), pH=ph, temperature=temp
    ).compute(scheduler="threads")
    for c in ion.values:
        for p in ph.values:
            for t in temp.values:
                expected = plasma_oxalate_threshold(
                    ionized_calcium=oxalate.Quantity(c, "mmol/L"),
                    pH=p,
                    temperature=oxalate.Quantity(t, "degC"),
                ).m_as("umol/L")
                point = {"ionized_calcium": c, "pH": p, "temperature": t}
                assert ds["plasma_oxalate"].sel(point).item() == expected
                assert lazy["plasma_oxalate"].sel(point).item() == expected
    # the clinic's figures at pH 7.4 and 37 °C (indices.plasma_oxalate_threshold docstring)
    at = oxr.plasma_oxalate_threshold(ionized_calcium=ion)
    assert at["plasma_oxalate"].round(1).values.tolist() == [49.7, 42.3, 37.1]


def test_threshold_target_as_a_dimension() -> None:
    target = _axis("target", [1.0, 5.0, 10.0], None)
    ca = _axis("calcium", [1.2, 1.6], "mmol/kg")
    ds = oxr.threshold(preset="plasma_ultrafiltrate", calcium=ca, target=target)
    assert set(ds["threshold"].dims) == {"calcium", "target"}
    from oxalate.fluids import plasma_ultrafiltrate

    for c in ca.values:
        fluid = plasma_ultrafiltrate(calcium=oxalate.Quantity(c, "mmol/kg"))
        for t in target.values:
            expected = oxalate.threshold(fluid, vary="oxalate", target=t)
            got = ds.sel(calcium=c, target=t)
            assert got["threshold"].item() == float(expected.molality)
            assert got["threshold_molar"].item() == float(expected.molarity().m_as("mol/L"))


def test_precipitate_grid_equals_one_plain_call() -> None:
    ox = _axis("oxalate", [0.05, 0.5, 2.0], "mmol/kg")
    ca = _axis("calcium", [1.0, 5.0], "mmol/kg")
    ds = oxr.precipitate(
        calcium=ca.chunk({"calcium": 1}),
        oxalate=ox,
        sodium="20 mmol/kg",
        chloride="20 mmol/kg",
        pH=6.0,
        phases=["COM", "COD"],
        ph_mode="fixed",
    ).compute(scheduler="threads")
    c, o = np.meshgrid(ca.values, ox.values, indexing="ij")
    expected = oxalate.precipitate(
        oxalate.Solution(
            calcium=oxalate.Quantity(c, "mmol/kg"),
            oxalate=oxalate.Quantity(o, "mmol/kg"),
            sodium="20 mmol/kg",
            chloride="20 mmol/kg",
            pH=6.0,
        ),
        phases=["COM", "COD"],
        ph_mode="fixed",
    )
    for phase in ("COM", "COD"):
        got = ds[f"amount_{phase}"].transpose("calcium", "oxalate").values
        assert_array_equal(got, expected.amount[phase])
    assert float(ds["amount_COM"].max()) > 0  # something precipitated: the test can fail


def test_a_failed_point_is_nan_with_its_reason() -> None:
    ca = _axis("calcium", [2.0, 4.0], "mmol/L")
    ph = _axis("pH", [6.0, float("nan")], None)
    with pytest.warns(oxalate.OxalateWarning):
        ds = oxr.speciate(
            calcium=ca, oxalate="0.3 mmol/L", pH=ph, outputs=["SI_COM"], on_invalid="nan"
        )
    assert ds["converged"].sel(pH=6.0).all()
    bad = ds.isel(pH=1)
    assert not bad["converged"].any()
    assert np.isnan(bad["SI_COM"].values).all()
    assert all(r != "" for r in bad["reason"].values)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"calcium": xr.DataArray([1.0], dims="c")}, ValueError, "calcium: has no units"),
        (
            {"calcium": xr.DataArray([1.0], dims="c", attrs={"units": "mmol/L"})},
            None,
            None,
        ),
        (
            {"calcium": xr.DataArray([1.0], dims="c", attrs={"units": "mmol/qq"})},
            ValueError,
            "calcium: units 'mmol/qq'",
        ),
        (
            {
                "calcium": xr.DataArray([1.0], dims="c", attrs={"units": "mmol/L"}),
                "units": {"calcium": "mol/L"},
            },
            ValueError,
            "conflicts",
        ),
        (
            {"pH": xr.DataArray([6.0], dims="c", attrs={"units": "mmol/L"})},
            ValueError,
            "pH: has units",
        ),
        ({"calcium": np.array([1.0, 2.0])}, TypeError, "calcium: a ndarray"),
        ({"calcuim": xr.DataArray([1.0], dims="c")}, TypeError, "'calcuim': not an input"),
        ({"calcium": "1 mmol/L"}, ValueError, "no DataArray"),
        (
            {"calcium": _axis("c", [1.0], "mmol/L").chunk(), "outputs": ["SI_XYZ"]},
            ValueError,
            "SI_XYZ",
        ),
        (
            {"calcium": _axis("c", [1.0], "mmol/L"), "preset": "seawater"},
            ValueError,
            "preset='seawater'",
        ),
    ],
)
def test_bad_input_names_the_argument(kwargs: dict, error: type | None, message: str) -> None:
    kwargs = {"outputs": ["SI_COM"], **kwargs}
    if error is None:
        oxr.speciate(**kwargs)
        return
    with pytest.raises(error, match=message):
        oxr.speciate(**kwargs)


def test_unnamed_dataarray_as_data_is_refused() -> None:
    with pytest.raises(ValueError, match="without a name"):
        oxr.speciate(xr.DataArray([1.0], dims="c", attrs={"units": "mmol/L"}))


def test_importing_oxalate_imports_neither_xarray_nor_dask() -> None:
    # (pint itself imports dask's core when dask is installed: not counted here)
    code = textwrap.dedent(
        """
        import sys, oxalate, oxalate.xarray
        names = ("xarray", "dask.array", "dask.dataframe", "distributed", "pint_xarray")
        print(sorted(m for m in names if m in sys.modules))
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_building_a_lazy_grid_runs_no_chunk_until_compute(monkeypatch: pytest.MonkeyPatch) -> None:
    from oxalate import _scale

    calls: list[int] = []
    run_chunk = _scale.run_chunk

    def counting(*arrays: np.ndarray, **kwargs: object) -> tuple[np.ndarray, ...]:
        calls.append(int(np.size(arrays[0])))
        return run_chunk(*arrays, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_scale, "run_chunk", counting)
    grid = _grid()
    grid["calcium"] = grid["calcium"].chunk({"calcium": 2})  # 3 chunks
    ds = oxr.speciate(**grid, **BACKGROUND, outputs=OUTPUTS)
    assert calls == []  # only the graph exists
    ds.compute(scheduler="sync")
    assert len(calls) == 3  # one call per chunk, once


KINETIC_BACKGROUND = {"oxalate": "0.4 mmol/kg", "sodium": "0.8 mmol/kg", "chloride": "0.8 mmol/kg"}
TIMES = oxalate.Quantity([0.0, 100.0, 600.0, 3600.0, np.inf], "s")


def test_crystallize_grid_equals_one_plain_call_with_a_time_axis() -> None:
    from oxalate.kinetics import BulkRate

    growth = BulkRate("1e-7 mol/kg/s")
    ca = _axis("calcium", [0.4, 0.5, 0.6, 0.8], "mmol/kg")
    ph = _axis("pH", [5.5, 6.5], None)
    ds = oxr.crystallize(
        calcium=ca, pH=ph, time=TIMES, growth=growth, ph_mode="fixed", **KINETIC_BACKGROUND
    )
    arrays = xr.broadcast(ca, ph)
    plain = oxalate.crystallize(
        oxalate.Solution(
            calcium=oxalate.Quantity(arrays[0].values, "mmol/kg"),
            pH=arrays[1].values,
            **KINETIC_BACKGROUND,
        ),
        TIMES,
        growth=growth,
        ph_mode="fixed",
    )
    assert ds["amount_COM"].dims == ("calcium", "pH", "time")
    assert_array_equal(ds["time"].values, TIMES.m_as("s"))
    assert ds["time"].attrs["units"] == "s"
    # the plain result has time first; the grid has it last
    assert_array_equal(ds["amount_COM"].values, np.moveaxis(plain.amount["COM"], 0, -1))
    assert_array_equal(
        ds["supersaturation_COM"].values, np.moveaxis(plain.supersaturation["COM"], 0, -1)
    )
    assert_array_equal(ds["total_Ca"].values, np.moveaxis(plain.totals["Ca"], 0, -1))
    assert_array_equal(ds["induction_time_COM"].values, plain.induction_time["COM"])
    assert_array_equal(ds["steps"].values, plain.steps)
    assert ds["amount_COM"].attrs["units"] == "mol/kg"
    assert float(ds["amount_COM"].isel(time=-1).min()) > 0  # it precipitated: can fail

    lazy = oxr.crystallize(
        calcium=ca.chunk({"calcium": 3}), pH=ph, time=TIMES, growth=growth, ph_mode="fixed",
        **KINETIC_BACKGROUND,
    )  # fmt: skip
    assert lazy["amount_COM"].chunks == ((3, 1), (2,), (5,))
    got = lazy.compute(scheduler="threads")
    for name in ("amount_COM", "supersaturation_COM", "pH_liquid", "water_mass", "steps"):
        assert_array_equal(got[name].values, ds[name].values)


def test_crystallize_refuses_an_input_dimension_named_time() -> None:
    from oxalate.kinetics import BulkRate

    ca = xr.DataArray([0.4, 0.5], dims="time", attrs={"units": "mmol/kg"})
    with pytest.raises(ValueError, match="named 'time'"):
        oxr.crystallize(
            calcium=ca, time=TIMES, growth=BulkRate("1e-7 mol/kg/s"), **KINETIC_BACKGROUND
        )


def test_a_plain_solution_refuses_a_dataarray_and_points_to_oxalate_xarray() -> None:
    ph = xr.DataArray([6.0, 6.5], dims="pH")
    with pytest.raises(TypeError, match=r"pH: an xarray.DataArray.*oxalate.xarray.speciate"):
        oxalate.Solution(calcium="2 mmol/L", oxalate="0.2 mmol/L", pH=ph)
    with pytest.raises(TypeError, match=r"calcium: an xarray\.DataArray"):
        oxalate.Solution(calcium=ph, oxalate="0.2 mmol/L")
