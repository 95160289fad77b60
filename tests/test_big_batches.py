"""Big batches (issue 16): chunks give the same bits, outputs= keeps only what is asked.

Memory and speed are measured in ``benchmarks/bench_big_batches.py``, never here.
"""

from __future__ import annotations

import numpy as np
import pytest

import oxalate


def _urines(n: int, seed: int = 9, ph: bool = True) -> oxalate.Solution:
    rng = np.random.default_rng(seed)

    def u(lo: float, hi: float) -> np.ndarray:
        return rng.uniform(lo, hi, n) * 1e-3

    totals = {
        "Ca": u(2, 8), "Mg": u(2, 5), "Na": u(100, 200), "K": u(40, 80), "Cl": u(100, 200),
        "Ox": u(0.1, 0.6), "Cit": u(1, 4), "PO4": u(10, 30), "SO4": u(10, 20),
    }  # fmt: skip
    return oxalate.Solution.from_arrays(
        totals, pH=rng.uniform(5, 7, n) if ph else None, temperature_kelvin=310.15
    )


@pytest.mark.parametrize("engine", ["numpy", "auto"])
@pytest.mark.parametrize("ph", [True, False], ids=["fixed-pH", "pH=None"])
def test_chunks_give_the_same_bits(engine: str, ph: bool) -> None:
    s = _urines(2500, ph=ph)
    whole = oxalate.speciate(s, engine=engine, chunk_size=10_000)
    for size in (1, 7, 1000):
        part = oxalate.speciate(s[:50] if size == 1 else s, engine=engine, chunk_size=size)
        rows = slice(0, 50) if size == 1 else slice(None)
        np.testing.assert_array_equal(part.molality, whole.molality[rows])
        np.testing.assert_array_equal(part.pH, whole.pH[rows])


@pytest.mark.parametrize(
    "call",
    [
        lambda s, k: oxalate.precipitate(s, chunk_size=k).amount["COM"],
        lambda s, k: oxalate.threshold(s, chunk_size=k).molality,
        lambda s, k: oxalate.dilution_for(s, chunk_size=k).factor,
    ],
    ids=["precipitate", "threshold", "dilution"],
)
def test_reaction_chunks_give_the_same_bits(call: object) -> None:
    s = _urines(600)
    whole = np.asarray(call(s, 10_000))  # type: ignore[operator]
    np.testing.assert_array_equal(np.asarray(call(s, 97)), whole)  # type: ignore[operator]


def test_outputs_equal_the_full_result() -> None:
    s = _urines(3000)
    full = oxalate.speciate(s)
    names = ["SI_COM", "omega_brushite", "log_iap_COD", "ionic_strength", "pH",
             "water_activity", "m_CaC2O4", "log_gamma_Ca+2", "total_Ox", "residual"]  # fmt: skip
    some = oxalate.speciate(s, outputs=names, chunk_size=700)
    assert list(some) == names
    np.testing.assert_array_equal(some["SI_COM"], full.saturation_index["COM"])
    np.testing.assert_array_equal(some["omega_brushite"], full.supersaturation["brushite"])
    np.testing.assert_array_equal(some["log_iap_COD"], full.log_iap["COD"])
    np.testing.assert_array_equal(some["ionic_strength"], full.ionic_strength)
    np.testing.assert_array_equal(some["m_CaC2O4"], full.molality[:, full.species.index("CaC2O4")])
    np.testing.assert_array_equal(some["log_gamma_Ca+2"], full.log_gamma[:, 0])
    np.testing.assert_array_equal(some["total_Ox"], full.totals["Ox"])
    np.testing.assert_array_equal(some.converged, full.converged)
    frame = pytest.importorskip("pandas") and some.to_dataframe()
    assert list(frame.columns) == [*names, "converged", "reason"]


def test_outputs_refuses_unknown_names() -> None:
    with pytest.raises(ValueError, match=r"\['SI_foo'\] not known"):
        oxalate.speciate(_urines(3), outputs=["SI_foo", "pH"])
    with pytest.raises(TypeError, match="outputs"):
        oxalate.speciate(_urines(3), outputs="pH")  # type: ignore[call-overload]


def test_outputs_keep_failed_rows_and_their_reasons() -> None:
    s = oxalate.Solution.from_arrays(
        {"Ca": [2e-3, np.nan, 3e-3], "Ox": 2e-4}, pH=6.0, temperature_kelvin=298.15
    )
    r = oxalate.speciate(s, outputs=["SI_COM"])
    assert r.converged.tolist() == [True, False, True]
    assert np.isnan(r["SI_COM"][1]) and r.reason[1].startswith("invalid input")


def test_compiled_speciation_writes_every_entry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The compiled fixed-pH path allocates its big arrays without filling them
    (``fill=False``, one write instead of two): every entry must then be written,
    NaN on the rows that did not converge. Poison the allocation and look for it."""
    pytest.importorskip("numba")
    from oxalate._engines import records

    poison = 7.77e77
    original = records.SpeciationResult.empty.__func__  # type: ignore[attr-defined]

    def poisoned(cls: type, *args: object, fill: bool = True) -> object:
        r = original(cls, *args, fill=fill)
        if not fill:
            for array in (r.molality, r.log_gamma, r.totals):
                array[...] = poison
        return r

    monkeypatch.setattr(records.SpeciationResult, "empty", classmethod(poisoned))
    rng = np.random.default_rng(3)
    n = 4000
    totals = {c: 10 ** rng.uniform(-9, 0.3, n) for c in ("Ca", "Mg", "Na", "Cl", "Ox", "SO4")}
    for v in totals.values():
        v[rng.random(n) < 0.2] = 0.0
    totals["Ca"][::97] = np.nan  # invalid rows
    s = oxalate.Solution.from_arrays(totals, pH=rng.uniform(0, 14, n), temperature_kelvin=310.15)
    with pytest.warns(oxalate.OxalateRangeWarning):
        r = oxalate.speciate(s, engine="numba", chunk_size=1000)
    assert not r.converged.all() and r.converged.any()  # both kinds of row are present
    assert not np.any(r.molality == poison)
    assert not np.any(r.log_gamma == poison)
    for c, v in r.totals.items():
        assert not np.any(v == poison), c
    np.testing.assert_array_equal(r.totals["Ox"], totals["Ox"])
    assert np.isnan(r.molality[~r.converged]).all()
