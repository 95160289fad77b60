"""oxalate.indices: Tiselius AP(CaOx), Ca × P, DG and the metastable limit.

Expected values are hand calculations written out here; the formulas are those
of REFERENCE §6 (Tiselius 24 h form, Ca × P in mg²/dL² with 55/70) and EQUIL2's
DG = 1.2935 ln RSS for calcium oxalate (Werness et al. 1985).
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import pytest

import oxalate
from oxalate import indices

M_CA, M_OX, M_CIT, M_MG, M_P, M_PO4 = 40.078, 88.019, 189.10, 24.305, 30.97376, 94.971

# --- Tiselius AP(CaOx) index -----------------------------------------------------------


def test_tiselius_unit_amounts() -> None:
    # Ca = Cit = Mg = 1 mmol/d and V = 1 L: every power is 1, the index is 1.9 Ox
    value = indices.tiselius_ap_caox(
        calcium="1 mmol/d", oxalate="0.5 mmol/d", citrate="1 mmol/d", magnesium="1 mmol/d",
        volume="1 L/d",
    )  # fmt: skip
    assert float(value) == pytest.approx(0.95, rel=1e-12)


def test_tiselius_normal_urine_by_hand() -> None:
    # Ca 5, Ox 0.35, Cit 3, Mg 4 mmol/d, V 1.5 L:
    # 5^0.84 = e^(0.84 ln 5) = e^1.351928 = 3.864869
    # 3^0.22 = e^0.241695 = 1.273405;  4^0.12 = e^0.166355 = 1.180993
    # 1.5^1.03 = e^0.417629 = 1.518357
    # index = 1.9 * 3.864869 * 0.35 / (1.273405 * 1.180993 * 1.518357) = 2.570138 / 2.283431
    expected = 1.9 * 3.864869 * 0.35 / (1.273405 * 1.180993 * 1.518357)
    assert expected == pytest.approx(1.12556, rel=1e-5)
    value = indices.tiselius_ap_caox(
        calcium="5 mmol/d", oxalate="0.35 mmol/d", citrate="3 mmol/d", magnesium="4 mmol/d",
        volume="1.5 L/d",
    )  # fmt: skip
    assert float(value) == pytest.approx(expected, rel=1e-5)
    exact = 1.9 * 5**0.84 * 0.35 / (3**0.22 * 4**0.12 * 1.5**1.03)
    assert float(value) == pytest.approx(exact, rel=1e-12)


def test_tiselius_units_do_not_matter() -> None:
    in_mmol = indices.tiselius_ap_caox(
        calcium="5 mmol/d", oxalate="0.35 mmol/d", citrate="3 mmol/d", magnesium="4 mmol/d",
        volume="1.5 L/d",
    )  # fmt: skip
    in_mg = indices.tiselius_ap_caox(
        calcium=f"{5 * M_CA} mg/24 h", oxalate=f"{0.35 * M_OX} mg/d",
        citrate=f"{3 * M_CIT} mg/d", magnesium="8 mEq/d", volume="1500 mL/24 h",
    )  # fmt: skip
    as_concentrations = indices.tiselius_ap_caox(
        calcium=f"{5 / 1.5} mmol/L", oxalate=f"{0.35 / 1.5} mmol/L", citrate="2 mmol/L",
        magnesium=f"{4 / 1.5} mmol/L", volume="1.5 L",
    )  # fmt: skip
    assert float(in_mg) == pytest.approx(float(in_mmol), rel=1e-9)
    assert float(as_concentrations) == pytest.approx(float(in_mmol), rel=1e-9)


def test_tiselius_vectorised_equals_rows() -> None:
    ca = np.array([[3.0, 5.0], [7.0, 9.0]])
    v = np.array([1.0, 2.5])
    batch = indices.tiselius_ap_caox(
        calcium=oxalate.Quantity(ca, "mmol/d"), oxalate="0.4 mmol/d", citrate="2.5 mmol/d",
        magnesium="4 mmol/d", volume=oxalate.Quantity(v, "L/d"),
    )  # fmt: skip
    assert batch.shape == (2, 2)
    for i in range(2):
        for j in range(2):
            row = 1.9 * ca[i, j] ** 0.84 * 0.4 / (2.5**0.22 * 4**0.12 * v[j] ** 1.03)
            assert batch[i, j] == pytest.approx(row, rel=1e-12)


def test_tiselius_scalar_out() -> None:
    value = indices.tiselius_ap_caox(
        calcium="5 mmol/d", oxalate="0.35 mmol/d", citrate="3 mmol/d", magnesium="4 mmol/d",
        volume="1.5 L/d",
    )  # fmt: skip
    assert np.ndim(value) == 0


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"citrate": "0 mmol/d"}, "citrate"),
        ({"magnesium": "0 mmol/d"}, "magnesium"),
        ({"oxalate": "-0.1 mmol/d"}, "oxalate"),
        ({"volume": "0 L/d"}, "volume"),
        ({"calcium": "2 mmol/kg"}, "per kg of water"),
        ({"phosphate": None}, "phosphate"),
    ],
)
def test_tiselius_bad_input(override: dict[str, Any], message: str) -> None:
    kwargs: dict[str, Any] = {
        "calcium": "5 mmol/d", "oxalate": "0.35 mmol/d", "citrate": "3 mmol/d",
        "magnesium": "4 mmol/d", "volume": "1.5 L/d",
    }  # fmt: skip
    kwargs.update(override)
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        indices.tiselius_ap_caox(**kwargs)


def test_tiselius_nan_rows() -> None:
    cit = oxalate.Quantity(np.array([3.0, 0.0]), "mmol/d")
    with pytest.warns(oxalate.OxalateInputWarning, match="citrate"):
        value = indices.tiselius_ap_caox(
            calcium="5 mmol/d", oxalate="0.35 mmol/d", citrate=cit, magnesium="4 mmol/d",
            volume="1.5 L/d", on_invalid="nan",
        )  # fmt: skip
    assert np.isfinite(value[0]) and np.isnan(value[1])


# --- Ca × P -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("calcium", "phosphate", "expected"),
    [
        ("10 mg/dL", "4.5 mg/dL as P", 45.0),  # 10 × 4.5
        ("10 mg/dL", oxalate.expressed_as("4.5 mg/dL", "P"), 45.0),
        ("100 mg/L", "45 mg/L as P", 45.0),
        # 2.5 mmol/L Ca = 2.5 × 40.078 / 10 = 10.0195 mg/dL; 1.5 mmol/L P = 4.646064 mg/dL
        ("2.5 mmol/L", "1.5 mmol/L", 10.0195 * 4.646064),  # 46.55
        ("5 mEq/L", "1.5 mmol/L", 10.0195 * 4.646064),
        # 13.8 mg/dL of PO4 = 13.8 × 30.97376 / 94.971 mg/dL of P
        ("10 mg/dL", "13.8 mg/dL as PO4", 10 * 13.8 * M_P / M_PO4),  # 45.0
    ],
)
def test_calcium_phosphate_product(calcium: Any, phosphate: Any, expected: float) -> None:
    assert float(indices.calcium_phosphate_product(calcium, phosphate)) == pytest.approx(
        expected, rel=1e-6
    )


def test_calcium_phosphate_product_vectorised() -> None:
    ca = oxalate.Quantity(np.array([8.5, 10.0, 11.5]), "mg/dL")
    product = indices.calcium_phosphate_product(ca, "4.0 mg/dL as P")
    assert product == pytest.approx([34.0, 40.0, 46.0], rel=1e-12)


@pytest.mark.parametrize(
    ("calcium", "phosphate", "message"),
    [
        ("10 mg/dL", "4.5 mg/dL", "ambiguous"),  # phosphate mass without its basis
        ("10 mg/dL", "4.5 mEq/L", "mEq"),
        ("2.5 mmol/kg", "1.5 mmol/L", "per litre"),
        ("-1 mg/dL", "4.5 mg/dL as P", "calcium"),
    ],
)
def test_calcium_phosphate_product_bad_input(calcium: str, phosphate: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        indices.calcium_phosphate_product(calcium, phosphate)


def test_calcium_phosphate_product_needs_units() -> None:
    with pytest.raises(TypeError, match="calcium"):
        indices.calcium_phosphate_product(10.0, "4.5 mg/dL as P")


def test_thresholds() -> None:
    assert indices.CALCIUM_PHOSPHATE_PRODUCT_TARGET == 55.0  # K/DOQI 2003
    assert indices.CALCIUM_PHOSPHATE_PRODUCT_THRESHOLD == 70.0  # classic


@pytest.mark.parametrize(
    ("product", "label"),
    [
        (45.0, "below the target"),
        (54.99, "below the target"),
        (55.0, "above the target"),
        (69.9, "above the target"),
        (70.0, "above the classic threshold"),
        (95.0, "above the classic threshold"),
    ],
)
def test_classify_calcium_phosphate_product(product: float, label: str) -> None:
    assert indices.classify_calcium_phosphate_product(product) == label


def test_classify_accepts_quantity_and_arrays() -> None:
    q = oxalate.Quantity(np.array([45.0, 60.0]), "mg**2/dL**2")
    assert indices.classify_calcium_phosphate_product(q).tolist() == [
        "below the target",
        "above the target",
    ]


# --- DG -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("omega", "ions", "temperature", "expected"),
    [
        (8.7, 2, None, 1.2935 * math.log(8.7)),  # 2.798: EQUIL2's critical DG ~ 2.8
        (1.0, 2, None, 0.0),
        (0.5, 2, None, 1.2935 * math.log(0.5)),  # negative when undersaturated
        (100.0, 9, None, 2.587 / 9 * math.log(100.0)),
        (8.7, "COM", None, 1.2935 * math.log(8.7)),
        (100.0, "hydroxyapatite", None, 2.587 / 9 * math.log(100.0)),
        # R T / 2 at 37 degC, R = 8.314462618 J/(mol K): 1.289366 kJ/mol
        (8.7, 2, "37 degC", 8.314462618e-3 * 310.15 / 2 * math.log(8.7)),  # 2.789
        (8.7, 2, "298.15 K", 8.314462618e-3 * 298.15 / 2 * math.log(8.7)),
    ],
)
def test_supersaturation_free_energy(
    omega: float, ions: Any, temperature: str | None, expected: float
) -> None:
    dg = indices.supersaturation_free_energy(omega, ions=ions, temperature=temperature)
    assert float(dg) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_rt_equil2_matches_the_equil2_table() -> None:
    # EQUIL2's literal for calcium oxalate, DG = 1.2935 ln SS (equil2_constants.csv)
    assert indices.RT_EQUIL2 / 2 == pytest.approx(1.2935, rel=1e-12)


def test_free_energy_vectorised_and_zero() -> None:
    omega = np.array([[0.0, 1.0], [math.e, math.e**2]])
    dg = indices.supersaturation_free_energy(omega)
    assert dg[0, 0] == -np.inf
    assert dg[1] == pytest.approx([1.2935, 2.587], rel=1e-12)


@pytest.mark.parametrize(
    ("omega", "ions", "error"),
    [
        (-1.0, 2, ValueError),
        (np.nan, 2, ValueError),
        (5.0, 0, ValueError),
        (5.0, "quartz", ValueError),
        ("5", 2, TypeError),
    ],
)
def test_free_energy_bad_input(omega: Any, ions: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        indices.supersaturation_free_energy(omega, ions=ions)


# --- metastable limit -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("omega", "limit", "label"),
    [
        (0.2, 8.0, "undersaturated"),
        (0.999, 8.0, "undersaturated"),
        (1.0, 8.0, "metastable"),
        (5.9, 8.0, "metastable"),
        (7.99, 8.0, "metastable"),
        (8.0, 8.0, "labile (above the metastable limit)"),
        (9.0, 11.0, "metastable"),  # inside the 8-11 band: borderline
        (12.0, 11.0, "labile (above the metastable limit)"),
    ],
)
def test_metastable_zone(omega: float, limit: float, label: str) -> None:
    assert indices.metastable_zone(omega, limit=limit) == label


def test_metastable_band_and_default() -> None:
    assert indices.METASTABLE_LIMIT == (8.0, 11.0)
    assert indices.metastable_zone(8.5) == "labile (above the metastable limit)"


def test_metastable_zone_arrays_and_nan() -> None:
    omega = np.array([0.5, np.nan, 20.0])
    with pytest.warns(oxalate.OxalateInputWarning):
        labels = indices.metastable_zone(omega, on_invalid="nan")
    assert labels.tolist() == [
        "undersaturated",
        "undetermined",
        "labile (above the metastable limit)",
    ]


@pytest.mark.parametrize("limit", [0.5, 1.0, float("nan"), "8"])
def test_metastable_zone_bad_limit(limit: Any) -> None:
    with pytest.raises(ValueError, match="limit"):
        indices.metastable_zone(3.0, limit=limit)


def test_metastable_zone_with_speciation() -> None:
    # the clinical picture of the presets: normal urine metastable, plasma undersaturated
    from oxalate import fluids

    urine = oxalate.speciate(fluids.urine_24h_normal()).supersaturation["COM"]
    plasma = oxalate.speciate(fluids.plasma()).supersaturation["COM"]
    assert indices.metastable_zone(urine) == "metastable"
    assert indices.metastable_zone(plasma) == "undersaturated"
