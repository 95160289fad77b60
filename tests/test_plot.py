"""oxalate.plot (issue 13): the lines drawn are the library's numbers, and the physics holds."""

from __future__ import annotations

import numpy as np
import pytest

import oxalate

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from oxalate import plot  # noqa: E402


@pytest.fixture
def ph_scan() -> tuple[np.ndarray, oxalate.Speciation]:
    ph = np.linspace(2.0, 10.0, 33)
    s = oxalate.Solution(calcium="2 mmol/kg", oxalate="0.3 mmol/kg", magnesium="1 mmol/kg",
                         sodium="100 mmol/kg", chloride="100 mmol/kg", pH=ph)  # fmt: skip
    return ph, oxalate.speciate(s)


def test_species_fractions_sum_to_one(ph_scan: tuple[np.ndarray, oxalate.Speciation]) -> None:
    ph, r = ph_scan
    ax = plot.species_distribution(r, "Oxalate", x=ph, minimum=0.0)
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert {"C2O4-2", "HC2O4-", "H2C2O4", "CaC2O4"} <= set(lines)
    total = sum(np.asarray(line.get_ydata()) for line in lines.values())
    np.testing.assert_allclose(total, 1.0, rtol=1e-10)  # mass balance of oxalate
    np.testing.assert_array_equal(lines["HC2O4-"].get_xdata(), ph)
    # pKa1 1.25, pKa2 4.27: at pH 2 HC2O4- outweighs H2C2O4 (10^0.75) and C2O4-- (10^2.27);
    # at pH 10 the protonated forms are ~10^-5.7 of C2O4--
    assert lines["HC2O4-"].get_ydata()[0] > lines["H2C2O4"].get_ydata()[0]
    assert lines["HC2O4-"].get_ydata()[0] > lines["C2O4-2"].get_ydata()[0]
    protonated = lines["HC2O4-"].get_ydata()[-1] + lines["H2C2O4"].get_ydata()[-1]
    assert protonated < 1e-4


def test_saturation_lines_and_the_marks() -> None:
    ox = oxalate.Quantity(np.geomspace(5, 200, 20), "umol/L")
    r = oxalate.speciate(oxalate.fluids.plasma_ultrafiltrate(oxalate=ox))
    ax = plot.saturation(r, ["whewellite", "COD"], x=ox, xlabel="oxalate")
    com = next(line for line in ax.get_lines() if line.get_label() == "whewellite")
    np.testing.assert_array_equal(com.get_ydata(), r.supersaturation["COM"])
    assert any(line.get_label() == "Ω = 1" for line in ax.get_lines())
    assert len(ax.patches) == 1  # the metastable band
    ax2 = plot.saturation(r, ["COM"], x=ox, xlabel="oxalate", index=True, band=False)
    np.testing.assert_allclose(ax2.get_lines()[0].get_ydata(), r.saturation_index["COM"])
    with pytest.raises(ValueError, match="one value per row"):
        plot.saturation(r, ["COM"], x=ox.m[:3], xlabel="oxalate")


def test_histogram_counts_every_computed_row() -> None:
    volume = oxalate.Quantity(np.linspace(0.8, 3.0, 50), "L/d")
    r = oxalate.speciate(oxalate.fluids.urine_24h_normal(volume=volume))
    ax = plot.saturation_histogram(r, "COM", bins=10)
    assert sum(p.get_height() for p in ax.patches) == 50
    assert ax.get_title() == "50 solutions"
