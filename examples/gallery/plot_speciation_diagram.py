"""
Speciation diagram of oxalate against pH
========================================

Where the oxalate of a calcium- and magnesium-bearing solution is, from pH 1 to 10:
protonated at low pH, free C₂O₄²⁻ and the Ca, Mg and Na ion pairs above the second
pKa (4.27).
"""

import numpy as np

import oxalate
from oxalate import plot

ph = np.linspace(1, 10, 91)
s = oxalate.Solution(
    calcium="2 mmol/kg", magnesium="1 mmol/kg", oxalate="0.3 mmol/kg",
    sodium="100 mmol/kg", chloride="100 mmol/kg", pH=ph,
)  # fmt: skip
ax = plot.species_distribution(oxalate.speciate(s), "oxalate", x=ph)
ax.set_title("Oxalate in 2 mM Ca, 1 mM Mg, 0.1 M NaCl, 25 °C")
