"""The numpy and compiled engines give the same answers, whatever the batch (issue 10).

* item 10: where Ω is not monotonic in the varied total, both engines return the
  lowest total at which Ω reaches the target (the issue's counterexample: numba
  0.8229, numpy 0.000408 mol/kg);
* item 12: a row's result does not depend on the rest of the batch, bit for bit, in
  the numpy precipitation and the closed numpy threshold too;
* item 13: subnormal ligand totals converge in both engines;
* item 15: the convergence pocket (Mg 5-14 mM, citrate 80-100 mM, pH 9.5-12);
* dilution where Ω first rises on dilution.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import numpy as np
import pytest

import oxalate
from oxalate import Solution

pytest.importorskip("numba")

ENGINES = ("numpy", "numba")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Rows beyond the Davies range on purpose: no range warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", oxalate.OxalateRangeWarning)
        yield


def test_non_monotonic_threshold_gives_the_lowest_root_in_both_engines() -> None:
    s = Solution(
        calcium="11.5 umol/kg", sodium="35.6 mmol/kg", chloride="0.82 mmol/kg",
        oxalate="40.4 mmol/kg", phosphate="71 umol/kg", pH=7.1, temperature="5 degC",
    )  # fmt: skip
    found = {e: oxalate.threshold(s, "oxalate", engine=e) for e in ENGINES}
    for th in found.values():
        assert th.converged
        assert abs(float(th.supersaturation) - 1.0) < 1e-9
    np.testing.assert_allclose(found["numba"].molality, found["numpy"].molality, rtol=1e-9)
    # Omega of this water rises with oxalate, peaks near 30 mmol/kg and falls (oxalate
    # binds the calcium as Ca(C2O4)2-2): a grid of the speciation itself shows the two
    # crossings of Omega = 1, below 1e-3 and near 0.8 mol/kg; the lower one is returned
    ox = np.logspace(-4, 0, 41)
    grid = Solution.from_arrays(
        {"Ca": 11.5e-6, "Na": 35.6e-3, "Cl": 0.82e-3, "Ox": ox, "PO4": 71e-6},
        pH=7.1, temperature_kelvin=278.15,
    )  # fmt: skip
    with _quiet():
        omega = np.asarray(oxalate.speciate(grid).supersaturation["COM"])
    first = ox[np.argmax(omega >= 1.0)]
    assert ox[np.argmax(omega >= 1.0) - 1] < float(found["numpy"].molality) <= first
    assert omega[-1] < 1.0  # the second crossing lies above it


def _urines(n: int, seed: int = 5) -> Solution:
    rng = np.random.default_rng(seed)

    def u(lo: float, hi: float) -> np.ndarray:
        return rng.uniform(lo, hi, n) * 1e-3

    totals = {
        "Ca": u(2, 8), "Mg": u(2, 5), "Na": u(100, 200), "K": u(40, 80), "Cl": u(100, 200),
        "Ox": u(0.1, 0.6), "Cit": u(1, 4), "PO4": u(10, 30), "SO4": u(10, 20),
    }  # fmt: skip
    return Solution.from_arrays(totals, pH=rng.uniform(5, 7, n), temperature_kelvin=310.15)


@pytest.mark.parametrize(
    ("label", "call"),
    [
        ("precipitate", lambda s: oxalate.precipitate(s, engine="numpy").amount["COM"]),
        (
            "threshold-closed",
            lambda s: oxalate.threshold(s, ph_mode="closed", engine="numpy").molality,
        ),
        ("speciate-pH=None", lambda s: oxalate.speciate(s, engine="numpy").pH),
    ],
)
def test_a_row_gives_the_same_bits_alone_and_in_a_batch(label: str, call: object) -> None:
    # item 12: was 35 of 50 rows differing (up to 1.5e-14) in numpy precipitate
    s = _urines(12)
    if label == "speciate-pH=None":
        s = Solution.from_arrays(dict(s.totals), pH=None, temperature_kelvin=s.temperature)
    batch = np.asarray(call(s))  # type: ignore[operator]
    for i in range(12):
        alone = np.asarray(call(s[i : i + 1]))  # type: ignore[operator]
        assert np.array_equal(batch[i], alone[0]), (label, i)


@pytest.mark.parametrize("engine", ENGINES)
def test_subnormal_ligand_totals_converge(engine: str) -> None:
    # item 13: totals of 1e-310 mol/kg (subnormal floats) converged in numpy, not numba
    s = Solution.from_arrays(
        {"Ca": 2e-3, "Na": 0.1, "Cl": 0.1, "Ox": np.array([1e-310, 3e-320, 1e-4])},
        pH=6.0, temperature_kelvin=298.15,
    )  # fmt: skip
    r = oxalate.speciate(s, engine=engine)
    assert np.all(r.converged)


@pytest.mark.parametrize("engine", ENGINES)
def test_the_convergence_pocket_converges(engine: str) -> None:
    # item 15: these rows failed in both engines (Newton cycled between two states)
    rows = [
        {"Mg": 0.0113, "Cit": 0.0949, "Ca": 6.67e-4, "Na": 1.02e-3, "K": 2.86e-5,
         "Cl": 1.43e-4, "Ox": 3.78e-7, "PO4": 3.69e-4, "SO4": 5.34e-6, "CO3": 7.21e-5,
         "pH": 9.8726, "T": 325.229},
        {"Mg": 0.00906, "Cit": 0.0875, "Ca": 1.54e-5, "Na": 3.73e-4, "K": 1.54e-5,
         "Cl": 8.25e-3, "Ox": 3.18e-7, "PO4": 8.23e-4, "SO4": 3.52e-4, "CO3": 2.03e-6,
         "pH": 9.5204, "T": 329.252},
    ]  # fmt: skip
    totals = {k: np.array([r[k] for r in rows]) for k in rows[0] if k not in ("pH", "T")}
    s = Solution.from_arrays(
        totals, pH=np.array([r["pH"] for r in rows]), temperature_kelvin=[r["T"] for r in rows]
    )
    with _quiet():
        r = oxalate.speciate(s, engine=engine)
    assert np.all(r.converged), r.reason


@pytest.mark.parametrize("engine", ENGINES)
def test_dilution_where_omega_first_rises(engine: str) -> None:
    # 0.26 mol/kg oxalate, 0.38 mmol/kg calcium: diluting first raises Omega (activity
    # coefficients rise, Ca(C2O4)2-2 dissociates), so a secant from d = 1 ran into the
    # bound; Omega falls to nothing on great dilution, which brackets the root
    s = Solution.from_arrays(
        {"Ca": 3.8277e-4, "Mg": 0.013594, "Na": 0.0073908, "K": 0.054525, "Cl": 0.0018858,
         "Ox": 0.26336, "Cit": 0.16974, "PO4": 1.9817e-4, "SO4": 0.29480, "CO3": 1.0061e-4},
        pH=10.4047, temperature_kelvin=336.916,
    )  # fmt: skip
    with _quiet():
        d = oxalate.dilution_for(s, engine=engine)
    assert d.converged and float(d.factor) > 1.0
    assert abs(float(d.supersaturation) - 1.0) < 1e-9
