"""The optional compiled kernel (numba) solves the same equations as the numpy solver.

Both engines are checked against each other here, and both against PHREEQC in
test_speciation_phreeqc.py.  Each stops where its residuals are below the tolerance,
1e-12, by a different path (the kernel predicts a_w after each step, the numpy solver
lags it by one), so two answers each within 1e-12 of the solution agree to 3e-12; the
kernel also linearises A(T, a_w) in a_w (exact to 1e-15) and sums in another order.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pytest

import oxalate

pytest.importorskip("numba")

Q = oxalate.Quantity


def _urines(n: int, seed: int = 3) -> oxalate.Solution:
    rng = np.random.default_rng(seed)

    def u(lo: float, hi: float) -> np.ndarray:
        return rng.uniform(lo, hi, n) * 1e-3

    totals = {
        "Ca": u(2, 8), "Mg": u(2, 5), "Na": u(100, 200), "K": u(40, 80), "Cl": u(100, 200),
        "Ox": u(0.1, 0.6), "Cit": u(1, 4), "PO4": u(10, 30), "SO4": u(10, 20), "CO3": u(0, 25),
    }  # fmt: skip
    temperature = rng.choice([273.65, 298.15, 310.15, 353.15], n)
    return oxalate.Solution.from_molalities(
        totals, pH=rng.uniform(4.0, 9.0, n), temperature_kelvin=temperature
    )


def _assert_same(a: oxalate.Speciation, b: oxalate.Speciation) -> None:
    np.testing.assert_array_equal(a.converged, b.converged)
    ok = np.asarray(a.converged)
    np.testing.assert_allclose(a.molality[ok], b.molality[ok], rtol=3e-12, atol=0)
    np.testing.assert_allclose(a.log_gamma[ok], b.log_gamma[ok], rtol=0, atol=1e-12)
    np.testing.assert_allclose(a.ionic_strength, b.ionic_strength, rtol=3e-12)
    np.testing.assert_allclose(a.water_activity, b.water_activity, rtol=1e-13)
    for phase, si in a.saturation_index.items():
        np.testing.assert_allclose(si, b.saturation_index[phase], rtol=0, atol=1e-11)


def test_kernel_equals_numpy_on_urines() -> None:
    sol = _urines(500)
    _assert_same(oxalate.speciate(sol, engine="numba"), oxalate.speciate(sol, engine="numpy"))


@pytest.mark.parametrize(
    "totals",
    [
        pytest.param({"Ca": 5e-5, "Ox": 5e-5}, id="pure-caox"),
        pytest.param({"Na": 0.15, "Cl": 0.15}, id="nacl-only"),
        pytest.param({"Ca": 4e-3, "Ox": 3e-4, "Cit": 3e-3, "Na": 0.1, "Cl": 0.1}, id="no-po4"),
        pytest.param({"Ca": 1e-12, "Ox": 1e-12, "Cit": 1.0, "Na": 1e-12}, id="extremes"),
        pytest.param({}, id="pure-water"),
    ],
)
def test_kernel_equals_numpy_with_zero_totals(totals: dict[str, float]) -> None:
    sol = oxalate.Solution.from_molalities(totals, pH=np.array([2.0, 7.0, 12.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", oxalate.OxalateRangeWarning)  # 1 mol/kg citrate
        fast = oxalate.speciate(sol, engine="numba")
        slow = oxalate.speciate(sol, engine="numpy")
    assert np.all(fast.converged)
    _assert_same(fast, slow)


def test_kernel_batch_equals_row_by_row() -> None:
    sol = _urines(12)
    batch = oxalate.speciate(sol, engine="numba")
    for i in range(12):
        row = oxalate.speciate(sol[i : i + 1], engine="numba")
        np.testing.assert_array_equal(batch.molality[i], row.molality[0])
        np.testing.assert_array_equal(
            batch.saturation_index["COM"][i], row.saturation_index["COM"][0]
        )


def test_kernel_flags_rows_it_cannot_solve_and_keeps_the_others() -> None:
    ca = np.array([2e-3, np.nan, 3e-3])
    with pytest.warns(oxalate.OxalateInputWarning, match="calcium"):
        sol = oxalate.Solution(
            calcium=Q(ca * 1e3, "mmol/kg"), oxalate="0.2 mmol/kg", pH=6.0, on_invalid="nan"
        )
    fast = oxalate.speciate(sol, engine="numba")
    np.testing.assert_array_equal(fast.converged, [True, False, True])
    assert np.all(np.isnan(fast.molality[1]))
    alone = oxalate.speciate(sol[2:3], engine="numba")
    np.testing.assert_array_equal(fast.molality[2], alone.molality[0])
    capped = oxalate.speciate(_urines(5), engine="numba", max_iterations=1)
    assert not np.any(capped.converged)
    assert np.all(np.isnan(capped.saturation_index["COM"]))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"activity_model": "ideal"}, "Davies", id="model"),
        pytest.param({"charge_offset": 1e-3}, "charge_offset", id="offset-without-balance"),
    ],
)
def test_numba_engine_refuses_cases_it_does_not_cover(kwargs: dict[str, str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        oxalate.speciate(_urines(2), engine="numba", **kwargs)


def test_unknown_engine_is_refused() -> None:
    with pytest.raises(ValueError, match="engine"):
        oxalate.speciate(_urines(2), engine="fortran")


def _kernel_source(name: str) -> tuple[str, list[object]]:
    from oxalate._engines import species_model
    from oxalate._engines.codegen import KernelLayout, kernel_source, species_shapes

    model = species_model(oxalate.constant_set(name), "davies")
    n_metals = len(model.system.metals)
    shapes = species_shapes(model.nu, model.nu_h, model.nu_w, model.z2, n_metals)
    layout = KernelLayout(model.n_components, n_metals, model.n_gamma)
    return kernel_source(shapes, layout, model.activity), shapes  # type: ignore[arg-type]


def test_generated_kernel_source_is_deterministic_and_readable() -> None:
    source, shapes = _kernel_source("default")
    assert source == _kernel_source("default")[0]
    compile(source, "<generated>", "exec")  # valid Python
    # one line per species for its per-row constant and one for its molality
    for s in shapes:
        assert f"        kh{s.index} = kt[{s.index}]" in source  # type: ignore[attr-defined]
        assert f"            m{s.index} = min(" in source  # type: ignore[attr-defined]
    # the same structure for every shipped constant set: one compiled kernel serves all
    for name in oxalate.CONSTANT_SETS:
        assert _kernel_source(name)[0] == source


def test_structures_the_generator_cannot_write_fall_back_to_numpy() -> None:
    from oxalate._engines.codegen import species_shapes

    def covers(nu: np.ndarray, z2: np.ndarray) -> bool:
        try:
            species_shapes(nu, np.zeros(len(nu)), np.zeros(len(nu)), z2, 4)
        except ValueError:
            return False
        return True

    nu = np.zeros((2, 10))
    nu[0, 0] = 1.0  # Ca+2
    nu[1, [0, 5, 6]] = 1.0  # a mixed oxalate-citrate complex: two ligands
    z2 = np.array([4.0, 9.0])
    assert not covers(nu, z2)
    assert covers(nu[:1], z2[:1])
    half = nu[:1] * 0.5  # a non-integer coefficient
    assert not covers(half, z2[:1])


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({}, id="pH"),
        pytest.param({"charge_balance": "chloride"}, id="chloride"),
        pytest.param({"charge_balance": "sodium"}, id="sodium"),
    ],
)
def test_kernel_equals_numpy_with_a_charge_balance(kwargs: dict[str, str]) -> None:
    # issue 10 item 18: the charge-balanced speciation runs in the compiled kernel too
    sol = _urines(300)
    if not kwargs:  # the pH from electroneutrality
        sol = oxalate.Solution.from_arrays(
            dict(sol.totals), pH=None, temperature_kelvin=sol.temperature
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", oxalate.OxalateRangeWarning)
        fast = oxalate.speciate(sol, engine="numba", **kwargs)
        slow = oxalate.speciate(sol, engine="numpy", **kwargs)
    assert fast.engine == "numba" and slow.engine == "numpy"
    np.testing.assert_array_equal(fast.converged, slow.converged)
    ok = np.asarray(fast.converged)
    assert ok.mean() > 0.95
    # both stop within their tolerance of 1e-12 in the scaled charge residual; where the
    # pH is poorly buffered (no carbonate, pH 10-12) that leaves 1e-10 in pH
    np.testing.assert_allclose(fast.pH[ok], slow.pH[ok], rtol=0, atol=1e-9)
    for c in ("Cl", "Na"):
        np.testing.assert_allclose(fast.totals[c][ok], slow.totals[c][ok], rtol=1e-10)
    for phase in ("COM", "brushite"):
        np.testing.assert_allclose(
            fast.saturation_index[phase][ok], slow.saturation_index[phase][ok], atol=1e-9
        )
    zm = np.asarray(fast.molality)[ok] @ oxalate.constant_set().charge
    scale = 0.5 * np.asarray(fast.molality)[ok] @ np.abs(oxalate.constant_set().charge)
    assert np.max(np.abs(zm) / scale) < 1e-11


def test_charge_balance_from_a_seed_ends_at_the_same_root() -> None:
    """A charge-balanced speciation started from a nearby state's (crystallize's nodes and
    output times) gives the cold start's answer to the Newton's tolerance, and a row whose
    seed is unusable is solved from the usual start."""
    from oxalate._engines import speciate as run
    from oxalate._engines import species_model
    from oxalate._engines.records import SpeciationProblem

    model = species_model(oxalate.constant_set("default"), "davies")
    sol = _urines(50)
    totals = np.stack([np.ravel(sol.totals[c]) for c in model.system.solutes], axis=1)
    n = totals.shape[0]

    def problem(tot: np.ndarray) -> SpeciationProblem:
        return SpeciationProblem(
            totals=tot, temperature=np.full(n, 310.15), ph=np.full(n, 7.0),
            charge_offset=np.zeros(n), solve_ph=True,
        )  # fmt: skip

    near = run(model, problem(totals), "numba")
    moved = totals * np.linspace(0.7, 1.3, n)[:, None]  # a few per cent to 30 % away
    cold = run(model, problem(moved), "numba")
    near.converged[3] = False  # an unusable seed
    warm = run(model, problem(moved), "numba", near)
    assert warm.converged.all()
    np.testing.assert_allclose(warm.pH, cold.pH, rtol=0, atol=1e-11)
    np.testing.assert_allclose(warm.molality, cold.molality, rtol=1e-10, atol=1e-300)
    # in blocks of 7 rows, each with its own rows of the seed: the same bits
    blocks = run(model, replace(problem(moved), chunk_size=7), "numba", near)
    np.testing.assert_array_equal(blocks.pH, warm.pH)
    np.testing.assert_array_equal(blocks.molality, warm.molality)
