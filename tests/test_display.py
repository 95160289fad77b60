"""Readable results (issue 13): short reprs, HTML for notebooks, rows selected like a batch."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import oxalate


def _urines(n: int) -> oxalate.Solution:
    volume = oxalate.Quantity(np.linspace(0.8, 3.0, n), "L/d")
    return oxalate.fluids.urine_24h_normal(volume=volume)


def test_a_big_result_prints_in_a_few_lines() -> None:
    r = oxalate.speciate(_urines(20_000))
    text = repr(r)
    assert len(text) < 800 and len(text.splitlines()) < 12
    assert "(20000,)" in text and "20000 of 20000 converged" in text
    assert "[mol/kg]" in text and "Ω(COM)" in text
    # the numbers shown are the batch's own: min and max of Ω(COM)
    omega = r.supersaturation["COM"]
    assert f"{omega.min():.4g}" in text and f"{omega.max():.4g}" in text
    html = r._repr_html_()
    assert html.startswith("<div>") and "<table" in html and "Ω(COM)" in html


def test_rows_are_selected_like_the_batch() -> None:
    s = _urines(8).with_labels(pd.Index([f"u{i}" for i in range(8)], name="id"))
    r = oxalate.speciate(s)
    one = r[3]
    assert float(one.supersaturation["COM"]) == r.supersaturation["COM"][3]
    np.testing.assert_array_equal(one.molality, r.molality[3])
    some = r[2:5]
    np.testing.assert_array_equal(
        some.saturation_index["whewellite"], r.saturation_index["COM"][2:5]
    )
    assert list(some.to_dataframe().index) == ["u2", "u3", "u4"]
    mask = r.supersaturation["COM"] > np.median(r.supersaturation["COM"])
    np.testing.assert_array_equal(r[mask].pH, r.pH[mask])
    p = oxalate.precipitate(s)
    np.testing.assert_array_equal(p[mask].amount["COM"], p.amount["COM"][mask])
    assert p[0].solution.shape == () and p[0].speciation.pH == p.speciation.pH[0]
    t = oxalate.threshold(s)
    assert float(t[1].total.m_as("mol/kg")) == t.molality[1]
    assert "Threshold (8,)" in repr(t) and "Precipitation (8,)" in repr(p)


def test_a_single_solution_has_no_rows() -> None:
    r = oxalate.speciate(oxalate.fluids.plasma())
    with pytest.raises(TypeError, match="scalar"):
        r[0]
    assert "(one solution)" in repr(r)


def test_solution_html_shows_units() -> None:
    html = oxalate.fluids.plasma()._repr_html_()
    assert "mmol/kg" in html and "°C" in html and "calcium" in html


def test_every_result_prints_short() -> None:
    from oxalate.kinetics import BulkRate

    u = _urines(500)
    for result, head in (
        (oxalate.dilution_for(u), "Dilution (500,)"),
        (oxalate.titrate(u[:3], precipitating=True), "Titration with Ox, 41 points"),
        (oxalate.crystallize(u[:4], oxalate.Quantity([0, 60], "s"),
                             growth=BulkRate("1e-7 mol/kg/s")), "Crystallization (4,)"),
    ):  # fmt: skip
        text = repr(result)
        assert text.startswith(head) and len(text) < 600, text
        assert "<table" in result._repr_html_()


def test_equil2_outputs_and_dilution_display_and_select() -> None:
    u = _urines(30)
    d = oxalate.dilution_for(u)
    np.testing.assert_array_equal(d[3:6].factor, d.factor[3:6])
    out = oxalate.speciate(u, outputs=["SI_COM"])
    assert "<table" in out._repr_html_() and "SI_COM" in out._repr_html_()
    e = oxalate.equil2.from_solution(u, urate="3 mmol/L")
    text = repr(e)
    assert text.startswith("EQUIL2 (equil2) (30,)") and "SS calcium oxalate" in text
    assert "<table" in e._repr_html_()
