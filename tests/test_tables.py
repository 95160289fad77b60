"""Tables in, tables out (issue 11): headers, labels, bad rows kept, names in any case.

Expected values come from the library's other, independent routes (``fluids.urine_24h``
with strings, ``oxalate.equil2.equil2`` with keywords) and from hand calculations.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import oxalate
from oxalate import tables

DAILY = {
    "calcium [mg/d]": [180.0, 320.0, 250.0, 210.0],
    "oxalate [mg/d]": [25.0, 48.0, 40.0, 30.0],
    "citrate [mg/d]": [650.0, 300.0, 500.0, 400.0],
    "magnesium [mg/d]": [100.0, 80.0, 90.0, 95.0],
    "sodium [mEq/d]": [150.0, 200.0, 170.0, 160.0],
    "potassium [mEq/d]": [60.0, 45.0, 50.0, 55.0],
    "chloride [mEq/d]": [150.0, 190.0, 160.0, 150.0],
    "phosphate [mg/d as P]": [900.0, 1100.0, 1000.0, 950.0],
    "sulfate [mmol/d]": [18.0, 25.0, 20.0, 22.0],
    "volume [L/d]": [2.4, 1.1, 1.6, 2.0],
    "pH": [6.2, 5.6, 6.0, 5.8],
}


def frame(**changes: list[float]) -> pd.DataFrame:
    data = {"patient_id": ["P-01", "P-02", "P-03", "P-04"], "visit": [1, 1, 2, 1]}
    data.update(DAILY)
    data.update(changes)
    return pd.DataFrame(data).set_index("patient_id")


def test_parse_header() -> None:
    assert tables.parse_header("calcium [mg/d]") == ("calcium", "mg/d")
    assert tables.parse_header("pH") == ("pH", None)
    assert tables.parse_header("phosphate [mg/d as P]") == ("phosphate", "mg/d as P")


def test_a_table_equals_urine_24h_row_by_row() -> None:
    """The header route against fluids.urine_24h given the same values as strings."""
    batch = tables.read_solution(frame())
    for i in (0, 3):
        row = {k: v[i] for k, v in DAILY.items()}
        one = oxalate.fluids.urine_24h(
            calcium=f"{row['calcium [mg/d]']} mg/d", oxalate=f"{row['oxalate [mg/d]']} mg/d",
            citrate=f"{row['citrate [mg/d]']} mg/d", magnesium=f"{row['magnesium [mg/d]']} mg/d",
            sodium=f"{row['sodium [mEq/d]']} mEq/d", potassium=f"{row['potassium [mEq/d]']} mEq/d",
            chloride=f"{row['chloride [mEq/d]']} mEq/d",
            phosphate=f"{row['phosphate [mg/d as P]']} mg/d as P",
            sulfate=f"{row['sulfate [mmol/d]']} mmol/d", volume=f"{row['volume [L/d]']} L/d",
            pH=row["pH"],
        )  # fmt: skip
        for c in ("Ca", "Ox", "Na", "PO4", "SO4"):
            assert batch.totals[c][i] == pytest.approx(float(one.totals[c]), rel=1e-14)


def test_calcium_by_hand() -> None:
    # 180 mg/d of Ca (40.078 g/mol) in 2.4 L/d: 1.8714 mmol/L, molal slightly more
    batch = tables.read_solution(frame())
    molar = 180.0 / 40.078 / 2.4  # mmol/L
    assert 1e3 * batch.totals["Ca"][0] == pytest.approx(molar, rel=0.02)


def test_the_index_comes_back_in_every_result() -> None:
    batch = tables.read_solution(frame())
    sp = oxalate.speciate(batch).to_dataframe()
    assert list(sp.index) == ["P-01", "P-02", "P-03", "P-04"]
    assert sp.index.name == "patient_id"
    np.testing.assert_allclose(sp["omega_COM"], 10.0 ** sp["SI_COM"], rtol=1e-12)
    pr = oxalate.precipitate(batch).to_dataframe()
    assert list(pr.index) == list(sp.index) and "omega_COM" in pr
    th = oxalate.threshold(batch, vary="Oxalate").to_dataframe()
    assert list(th.index) == list(sp.index) and th["converged"].all()
    out = oxalate.speciate(batch, outputs=["SI_COM"]).to_dataframe()
    assert list(out.index) == list(sp.index)
    dil = oxalate.dilution_for(batch).to_dataframe()
    assert list(dil.index) == list(sp.index)
    # diluted by its factor, each urine sits at Ω = 1 (or was below it already)
    assert ((dil["dilution_factor"] >= 1) & np.isclose(dil["omega"], 1.0)).all()


def test_bad_rows_are_kept_with_their_reason() -> None:
    bad = frame(
        **{"volume [L/d]": [2.4, -1.1, 1.6, 2.0], "pH": [6.2, 5.6, np.nan, 5.8]},
    )
    bad.loc["P-04", "calcium [mg/d]"] = np.nan
    with pytest.warns(oxalate.OxalateInputWarning, match="3 of 4 row"):
        batch = tables.read_solution(bad, on_invalid="nan")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = oxalate.speciate(batch)
    rows = [w for w in caught if issubclass(w.category, oxalate.OxalateRowWarning)]
    assert len(rows) == 1  # one warning per call, naming the labels
    assert "P-02" in str(rows[0].message) and "3 of 4" in str(rows[0].message)
    assert list(r.reason) == [
        "",
        "invalid input: volume not positive",
        "invalid input: pH missing",
        "invalid input: calcium missing",
    ]
    assert r.converged.tolist() == [True, False, False, False]
    assert np.isnan(r.saturation_index["COM"][1:]).all()
    # the good row is what it is alone
    alone = oxalate.speciate(tables.read_solution(frame().iloc[:1]))
    assert r.saturation_index["COM"][0] == alone.saturation_index["COM"][0]
    assert len(r.to_dataframe()) == 4


def test_raise_names_the_column_the_value_and_the_label() -> None:
    bad = frame(**{"volume [L/d]": [2.4, -1.1, 1.6, 2.0]})
    with pytest.raises(ValueError, match=r"volume \[L/d\].*'P-02'.*-1.1"):
        tables.read_solution(bad)


def test_the_label_and_value_in_messages_are_plain_numbers() -> None:
    bad = frame(**{"volume [L/d]": [2.4, -1.1, 1.6, 2.0]}).reset_index()  # labels 0..3
    with pytest.raises(ValueError, match=r"at row 1 \(value -1\.1\)") as raised:
        tables.read_solution(bad)
    assert "np." not in str(raised.value)


def test_a_table_without_any_analyte_column_is_refused() -> None:
    table = pd.DataFrame({"patient_id": ["P-01"], "pH": [6.0]})
    with pytest.raises(ValueError, match=r"no column names an analyte.*patient_id"):
        tables.read_solution(table)
    with pytest.raises(ValueError, match="no column names an analyte"):
        tables.read_solution(table, missing="zero")


def test_an_unknown_analyte_with_a_unit_is_refused_and_extra_columns_ignored() -> None:
    with pytest.raises(ValueError, match=r"'calcum' is not an analyte.*calcium"):
        tables.read_solution(frame(**{"calcum [mg/d]": [1.0, 2.0, 3.0, 4.0]}))
    # extra columns, and analytes only EQUIL2 models, are left alone
    extra = frame(**{"comment": ["a", "b", "c", "d"], "urate [mg/d]": [500.0, 600.0, 0, 1]})
    np.testing.assert_array_equal(
        tables.read_solution(extra).totals["Ca"], tables.read_solution(frame()).totals["Ca"]
    )


def test_a_missing_analyte_is_named_unless_the_user_says_zero() -> None:
    table = frame().drop(columns=["chloride [mEq/d]"])
    with pytest.warns(oxalate.OxalateInputWarning, match="chloride"):
        tables.read_solution(table)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        batch = tables.read_solution(table, missing="zero")
    assert (batch.totals["Cl"] == 0).all()
    with pytest.raises(ValueError, match="chloride"):
        tables.read_solution(table, missing="raise")


def test_daily_amounts_need_a_volume() -> None:
    with pytest.raises(ValueError, match="volume"):
        tables.read_solution(frame().drop(columns=["volume [L/d]"]))


def test_explicit_mapping_for_other_headers() -> None:
    other = frame().rename(columns={"calcium [mg/d]": "Ca_mg_d", "oxalate [mg/d]": "ox24"})
    batch = tables.read_solution(
        other, columns={"Ca_mg_d": "calcium [mg/d]", "ox24": "oxalate"}, units={"ox24": "mg/d"}
    )
    np.testing.assert_array_equal(batch.totals["Ca"], tables.read_solution(frame()).totals["Ca"])


def test_names_in_any_case() -> None:
    batch = tables.read_solution(
        frame().rename(columns={"calcium [mg/d]": "CALCIUM [mg/d]", "oxalate [mg/d]": "Ox [mg/d]"})
    )
    p = oxalate.precipitate(batch, phases=("whewellite",))
    np.testing.assert_array_equal(p.amount["COM"], p.amount["whewellite"])
    np.testing.assert_array_equal(p.amount["com"], p.amount["Whewellite"])
    with pytest.raises(KeyError, match="COM"):
        p.amount["brushite"]
    s = oxalate.speciate(batch)
    np.testing.assert_array_equal(s.saturation_index["weddellite"], s.saturation_index["COD"])


EQUIL2_COLUMNS = {
    "sodium [mmol/L]": [45.0, 45.0], "potassium [mmol/L]": [55.0, 55.0],
    "calcium [mg/dL]": [15.0, 15.0], "magnesium [mg/dL]": [15.0, 15.0],
    "ammonium [ug/dL as NH3]": [10.0, 10.0], "chloride [mmol/L]": [75.0, 75.0],
    "phosphate [mmol/L]": [32.285, 32.285], "sulfate [mmol/L]": [10.0, 10.0],
    "oxalate [mg/L]": [10.0, 10.0], "citrate [mg/L]": [400.0, 400.0],
    "urate [mg/dL]": [50.0, 50.0], "pH": [5.5, 5.5],
}  # fmt: skip


def test_equil2_on_a_table_matches_the_keyword_call() -> None:
    table = pd.DataFrame(EQUIL2_COLUMNS, index=["u1", "u2"])
    r = tables.equil2(table)
    ref = oxalate.equil2.equil2(
        sodium="45 mmol/L", potassium="55 mmol/L", calcium="15 mg/dL", magnesium="15 mg/dL",
        ammonium="10 ug/dL as NH3", chloride="75 mmol/L", phosphate="32.285 mmol/L",
        sulfate="10 mmol/L", oxalate="10 mg/L", citrate="400 mg/L", urate="50 mg/dL", pH=5.5,
    )  # fmt: skip
    # the R port's printed sample: SS(CaOx) 3.10
    assert float(ref.ss["calcium_oxalate"]) == pytest.approx(3.10, abs=0.005)
    np.testing.assert_array_equal(r.ss["calcium_oxalate"], float(ref.ss["calcium_oxalate"]))
    assert list(r.to_dataframe().index) == ["u1", "u2"]


def test_equil2_without_chloride_and_with_daily_amounts() -> None:
    base = dict(sodium="45 mmol/L", potassium="55 mmol/L", magnesium="15 mg/dL",
                phosphate="32.285 mmol/L", sulfate="10 mmol/L", oxalate="10 mg/L",
                citrate="400 mg/L", urate="50 mg/dL", pH=5.5)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = oxalate.equil2.equil2(calcium="15 mg/dL", **base)  # no chloride, no warning
    # 300 mg/d in 2 L/d is 15 mg/dL
    daily = oxalate.equil2.equil2(calcium="300 mg/d", volume="2 L/d", **base)
    assert float(daily.ss["calcium_oxalate"]) == pytest.approx(float(r.ss["calcium_oxalate"]))
    with pytest.raises(ValueError, match="volume"):
        oxalate.equil2.equil2(calcium="300 mg/d", **base)


def test_equil2_keeps_good_rows() -> None:
    cols = dict(EQUIL2_COLUMNS)
    cols["calcium [mg/dL]"] = [15.0, -3.0]
    table = pd.DataFrame(cols, index=["u1", "u2"])
    with pytest.raises(ValueError, match="calcium"):
        tables.equil2(table)
    with pytest.warns(oxalate.OxalateRowWarning, match="u2"):
        r = tables.equil2(table, on_invalid="nan")
    df = r.to_dataframe()
    assert df.loc["u2", "reason"] == "invalid input: calcium missing or negative"
    assert not df.loc["u2", "converged"]
    assert df.loc["u1", "ss_calcium_oxalate"] == pytest.approx(3.10, abs=0.005)


def test_equil2_reasons_say_what_is_wrong() -> None:
    """Daily amounts, no chloride, and bad pH and volume cells: the reader's words."""
    daily = pd.DataFrame(
        {"sodium [mmol/d]": 90.0, "potassium [mmol/d]": 110.0, "calcium [mg/d]": 300.0,
         "magnesium [mg/d]": 300.0, "phosphate [mmol/d]": 64.0, "sulfate [mmol/d]": 20.0,
         "oxalate [mg/d]": 20.0, "citrate [mg/d]": 800.0, "urate [mg/d]": 1000.0,
         "volume [L/d]": [2.0, 2.0, 2.0, -1.0], "pH": [5.5, np.nan, 15.0, 5.5]},
        index=["a", "b", "c", "d"],
    )  # fmt: skip
    with pytest.warns(oxalate.OxalateRowWarning, match="b, c, d"):
        df = tables.equil2(daily, on_invalid="nan").to_dataframe()
    assert df["reason"].tolist() == [
        "",
        "invalid input: pH missing",
        "invalid input: pH outside 0-14",
        "invalid input: volume not positive",
    ]
    assert df["converged"].tolist() == [True, False, False, False]


def test_equil2_from_a_solution_reads_its_totals() -> None:
    s = oxalate.Solution(
        calcium="4 mmol/kg", magnesium="3 mmol/kg", sodium="120 mmol/kg",
        potassium="50 mmol/kg", chloride="110 mmol/kg", oxalate="0.35 mmol/kg",
        citrate="2 mmol/kg", phosphate="25 mmol/kg", sulfate="15 mmol/kg", pH=[6.0],
    ).with_labels(["only"])  # fmt: skip
    r = oxalate.equil2.from_solution(s, urate="3 mmol/L")
    ref = oxalate.equil2.equil2(
        calcium="4 mmol/L", magnesium="3 mmol/L", sodium="120 mmol/L", potassium="50 mmol/L",
        chloride="110 mmol/L", oxalate="0.35 mmol/L", citrate="2 mmol/L",
        phosphate="25 mmol/L", sulfate="15 mmol/L", urate="3 mmol/L", pH=6.0,
    )  # fmt: skip
    assert r.ss["calcium_oxalate"][0] == pytest.approx(float(ref.ss["calcium_oxalate"]), rel=1e-12)
    assert list(r.to_dataframe().index) == ["only"]
