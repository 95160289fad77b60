"""The compiled reaction kernel (numba) solves the same equilibria as the numpy solver.

``precipitate`` and ``threshold`` run the kernel by default where it applies (the Davies
model, a solution with a pH, no initial solids).  Here the two engines are compared on
batches that exercise every branch of the kernel (closed and fixed pH, several phases
with the active set, counter-ions, a varied metal), rows the kernel leaves to numpy are
checked to come back solved, the thread count is checked not to change a single bit,
and the kernel's final speciation is checked against speciate() of its final solution.
Agreement with PHREEQC, for both engines, is in test_precipitation_phreeqc.py.

Tolerances: both engines stop at 1e-10 (largest |SI| of a phase present, relative mass
and charge residuals); the kernel goes on to 1e-11, so they differ by up to ~1e-10
relative in the amounts, which the 1e-8 bounds here leave room for.
"""

from __future__ import annotations

import numpy as np
import pytest

import oxalate
from oxalate.database import COMPONENTS
from oxalate.precipitation import dilution_for, precipitate, threshold

numba = pytest.importorskip("numba")

KEYS = COMPONENTS[:-1]


def _urines(n: int, seed: int = 7, ph: tuple[float, float] = (5.0, 7.0)) -> oxalate.Solution:
    rng = np.random.default_rng(seed)

    def u(lo: float, hi: float) -> np.ndarray:
        return rng.uniform(lo, hi, n) * 1e-3

    totals = {
        "Ca": u(1, 8), "Mg": u(1, 5), "Na": u(80, 200), "K": u(30, 80), "Cl": u(80, 200),
        "Ox": u(0.1, 0.8), "Cit": u(0.5, 4), "PO4": u(5, 40), "SO4": u(5, 25), "CO3": u(0, 5),
    }  # fmt: skip
    return oxalate.Solution.from_molalities(
        totals, pH=rng.uniform(*ph, n), temperature_kelvin=rng.choice([298.15, 310.15], n)
    )


def _plasmas(n: int, seed: int = 2) -> oxalate.Solution:
    rng = np.random.default_rng(seed)

    def u(lo: float, hi: float) -> np.ndarray:
        return rng.uniform(lo, hi, n) * 1e-3

    totals = {
        "Ca": u(1.0, 2.5), "Mg": u(0.6, 1.0), "Na": u(135, 145), "K": u(3.5, 5.0),
        "Cl": u(98, 107), "CO3": u(22, 28), "PO4": u(0.8, 1.45), "SO4": u(0.3, 0.5),
        "Cit": u(0.05, 0.15), "Ox": np.full(n, 2e-6),
    }  # fmt: skip
    return oxalate.Solution.from_molalities(
        totals, pH=rng.uniform(7.35, 7.45, n), temperature_kelvin=310.15
    )


def _same_precipitation(a: object, b: object, phases: tuple[str, ...]) -> None:
    np.testing.assert_array_equal(a.converged, b.converged)  # type: ignore[attr-defined]
    for p in phases:
        np.testing.assert_allclose(
            a.amount[p],
            b.amount[p],
            rtol=1e-8,
            atol=1e-16,
            err_msg=p,  # type: ignore[attr-defined]
        )
        si_a = np.asarray(a.speciation.saturation_index[p])  # type: ignore[attr-defined]
        si_b = np.asarray(b.speciation.saturation_index[p])  # type: ignore[attr-defined]
        np.testing.assert_allclose(si_a, si_b, rtol=0, atol=1e-9, err_msg=p)
    np.testing.assert_allclose(
        a.speciation.pH,
        b.speciation.pH,
        rtol=0,
        atol=1e-9,  # type: ignore[attr-defined]
    )
    np.testing.assert_allclose(
        a.water_mass,
        b.water_mass,
        rtol=1e-13,  # type: ignore[attr-defined]
    )
    for c in KEYS:
        np.testing.assert_allclose(
            a.solution.totals[c],
            b.solution.totals[c],
            rtol=1e-8,
            err_msg=c,  # type: ignore[attr-defined]
        )


@pytest.mark.parametrize("mode", ["closed", "fixed"])
@pytest.mark.parametrize(
    "phases", [("COM",), ("COM", "COD", "brushite"), ("brushite", "COM")], ids=str
)
def test_precipitate_kernel_equals_numpy(mode: str, phases: tuple[str, ...]) -> None:
    s = _urines(300, ph=(5.0, 7.2))
    fast = precipitate(s, phases, ph_mode=mode, engine="numba")
    slow = precipitate(s, phases, ph_mode=mode, engine="numpy")
    assert np.all(fast.converged)
    if "brushite" in phases:  # the active set had work to do
        assert np.any(np.asarray(fast.present["brushite"]) > 0)
        assert np.any(np.asarray(fast.present["COM"]) > 0)
    _same_precipitation(fast, slow, phases)


def test_precipitate_kernel_leaves_undersaturated_rows_as_they_are() -> None:
    """Rows with no supersaturated phase keep their speciation: ξ = 0, W = 1, totals as given."""
    s = _plasmas(50)
    r = precipitate(s, ("COM", "brushite"), engine="numba")
    assert np.all(r.converged)
    for p in ("COM", "brushite"):
        np.testing.assert_array_equal(r.amount[p], 0.0)
    np.testing.assert_array_equal(r.water_mass, 1.0)
    sp = oxalate.speciate(s)
    np.testing.assert_array_equal(r.speciation.molality, sp.molality)
    for c in KEYS:
        np.testing.assert_array_equal(r.solution.totals[c], s.totals[c])


@pytest.mark.parametrize("mode", ["closed", "fixed"])
def test_kernel_speciation_is_the_speciation_of_its_solution(mode: str) -> None:
    """The final Speciation the kernel returns is speciate() of the final solution."""
    r = precipitate(_urines(100), ("COM", "brushite"), ph_mode=mode, engine="numba")
    again = oxalate.speciate(r.solution)
    np.testing.assert_allclose(r.speciation.molality, again.molality, rtol=1e-9, atol=1e-25)
    np.testing.assert_allclose(r.speciation.ionic_strength, again.ionic_strength, rtol=1e-10)
    for p, si in again.saturation_index.items():
        np.testing.assert_allclose(r.speciation.saturation_index[p], si, rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    ("solution", "kwargs"),
    [
        pytest.param("plasma", {}, id="oxalate-fixed"),
        pytest.param("plasma", {"counter_ion": "sodium", "ph_mode": "closed"}, id="Na2Ox-closed"),
        pytest.param("plasma", {"ph_mode": "closed"}, id="oxalate-closed-no-counter-ion"),
        pytest.param("plasma", {"target": 8.0, "counter_ion": "sodium"}, id="target-8"),
        pytest.param("urine", {"vary": "calcium", "counter_ion": "chloride"}, id="CaCl2-fixed"),
        pytest.param("urine", {"vary": "calcium", "ph_mode": "closed"}, id="calcium-closed"),
        pytest.param("urine", {"phase": "brushite", "vary": "phosphate"}, id="brushite"),
    ],
)
def test_threshold_kernel_equals_numpy(solution: str, kwargs: dict[str, object]) -> None:
    s = _plasmas(200) if solution == "plasma" else _urines(200, ph=(5.5, 7.0))
    kwargs = dict(kwargs)
    vary = str(kwargs.pop("vary", "oxalate"))
    fast = threshold(s, vary, engine="numba", **kwargs)  # type: ignore[arg-type]
    slow = threshold(s, vary, engine="numpy", **kwargs)  # type: ignore[arg-type]
    np.testing.assert_array_equal(fast.converged, slow.converged)
    assert np.mean(fast.converged) > 0.5
    np.testing.assert_allclose(fast.molality, slow.molality, rtol=1e-8)
    np.testing.assert_allclose(fast.supersaturation, slow.supersaturation, rtol=1e-8)
    np.testing.assert_allclose(fast.solution.pH, slow.solution.pH, rtol=0, atol=1e-8)
    for c in KEYS:
        np.testing.assert_allclose(
            fast.solution.totals[c], slow.solution.totals[c], rtol=1e-8, err_msg=c
        )
    ok = np.asarray(fast.converged)
    target = np.broadcast_to(np.asarray(kwargs.get("target", 1.0)), ok.shape)
    omega = oxalate.speciate(fast.solution).supersaturation[str(kwargs.get("phase", "COM"))]
    np.testing.assert_allclose(np.asarray(omega)[ok], target[ok], rtol=1e-9)


def test_rows_the_kernel_leaves_are_solved_by_numpy() -> None:
    """A zero starting total (the kernel's Newton on ln T needs one) goes to the numpy search."""
    s = _plasmas(4)
    totals = {c: np.array(s.totals[c]) for c in KEYS}
    totals["Ox"][[1, 3]] = 0.0
    s0 = oxalate.Solution.from_molalities(totals, pH=s.pH, temperature_kelvin=310.15)
    fast = threshold(s0, "oxalate", engine="numba")
    slow = threshold(s0, "oxalate", engine="numpy")
    assert np.all(fast.converged)
    np.testing.assert_allclose(fast.molality, slow.molality, rtol=1e-8)


def test_threads_do_not_change_a_bit() -> None:
    """Batches of >= 2048 rows run in blocks on numba's threads; one thread gives the same bits."""
    s = _urines(5000, seed=11)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = precipitate(s, ("COM", "brushite"))
        one_th = threshold(s, "oxalate", 3.0)
        one_sp = oxalate.speciate(s)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = precipitate(s, ("COM", "brushite"))
        many_th = threshold(s, "oxalate", 3.0)
        many_sp = oxalate.speciate(s)
    finally:
        numba.set_num_threads(before)
    for p in ("COM", "brushite"):
        np.testing.assert_array_equal(one.amount[p], many.amount[p])
    np.testing.assert_array_equal(one.speciation.molality, many.speciation.molality)
    np.testing.assert_array_equal(one_th.molality, many_th.molality)
    np.testing.assert_array_equal(one_sp.molality, many_sp.molality)


def test_batch_equals_row_by_row_in_the_kernel() -> None:
    s = _urines(3000, seed=5)  # large enough for the threaded path
    batch = precipitate(s, ("COM", "brushite"))
    for row in (0, 1234, 2999):
        alone = precipitate(s[row], ("COM", "brushite"))
        assert float(alone.amount["COM"]) == float(batch.amount["COM"][row])
        assert float(alone.speciation.pH) == float(batch.speciation.pH[row])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"initial_solids": {"COM": "1 mmol/kg"}}, "no initial solids", id="solids"),
        pytest.param({"activity_model": "truesdell-jones"}, "Davies", id="model"),
    ],
)
def test_engine_numba_says_what_it_covers(kwargs: dict[str, object], match: str) -> None:
    s = _urines(3)
    with pytest.raises(ValueError, match=match):
        precipitate(s, engine="numba", **kwargs)  # type: ignore[arg-type]
    precipitate(s, engine="auto", **kwargs)  # type: ignore[arg-type]  # falls back to numpy


def test_engine_numba_needs_a_ph() -> None:
    s = oxalate.Solution(calcium="2 mmol/kg", oxalate="1 mmol/kg", sodium="2 mmol/kg",
                         chloride="4 mmol/kg")  # fmt: skip
    with pytest.raises(ValueError, match="a pH"):
        precipitate(s, engine="numba")
    with pytest.raises(ValueError, match="a pH"):
        threshold(s, engine="numba")


@pytest.mark.parametrize("function", [precipitate, threshold, dilution_for])
def test_unknown_engine(function: object) -> None:
    with pytest.raises(ValueError, match="engine='fast' is not known; accepted"):
        function(_urines(2), engine="fast")  # type: ignore[operator]


def test_results_pickle() -> None:
    """Solutions and results cross process boundaries (multiprocessing, joblib)."""
    import pickle

    s = _urines(3)
    again = pickle.loads(pickle.dumps(s))
    for c in KEYS:
        np.testing.assert_array_equal(again.totals[c], s.totals[c])
    np.testing.assert_array_equal(again.pH, s.pH)
    sp = oxalate.speciate(s)
    sp2 = pickle.loads(pickle.dumps(sp))
    np.testing.assert_array_equal(sp2.saturation_index["COM"], sp.saturation_index["COM"])
    r = pickle.loads(pickle.dumps(precipitate(s)))
    assert set(r.speciation.supersaturation) == set(sp.supersaturation)


def test_calls_from_other_threads_run_serially_and_agree() -> None:
    """Only the main thread launches numba's threads: calls from a thread pool (a web
    server, a GUI) run their rows in that thread, with the same results."""
    from concurrent.futures import ThreadPoolExecutor

    s = _urines(3000, seed=13)
    here = precipitate(s, ("COM", "brushite"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(precipitate, s, ("COM", "brushite")) for _ in range(2)]
        results = [f.result() for f in futures]
    for r in results:
        np.testing.assert_array_equal(r.amount["COM"], here.amount["COM"])
        np.testing.assert_array_equal(r.speciation.molality, here.speciation.molality)


@pytest.mark.parametrize("mode", ["fixed", "closed"])
@pytest.mark.parametrize("target", [1.0, 8.0])
def test_dilution_kernel_equals_numpy(mode: str, target: float) -> None:
    """ln d solved with the speciation; rows already at or below the target keep d = 1."""
    s = _urines(300, seed=21)
    fast = dilution_for(s, target, ph_mode=mode, engine="numba")
    slow = dilution_for(s, target, ph_mode=mode, engine="numpy")
    np.testing.assert_array_equal(fast.converged, slow.converged)
    assert np.all(fast.converged)
    np.testing.assert_allclose(fast.factor, slow.factor, rtol=1e-8)
    np.testing.assert_array_equal(np.asarray(fast.factor) == 1.0, np.asarray(slow.factor) == 1.0)
    np.testing.assert_allclose(fast.solution.pH, slow.solution.pH, rtol=0, atol=1e-8)
    diluted = np.asarray(fast.factor) > 1
    if target == 8.0:
        assert 0 < diluted.mean() < 1  # both kinds of rows are exercised
    omega = np.asarray(oxalate.speciate(fast.solution).supersaturation["COM"])
    np.testing.assert_allclose(omega[diluted], target, rtol=1e-9)
    for c in KEYS:
        np.testing.assert_allclose(
            np.asarray(fast.solution.totals[c]) * np.asarray(fast.factor), s.totals[c], rtol=1e-14
        )
