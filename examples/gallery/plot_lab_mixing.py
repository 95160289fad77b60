"""
The lab experiment: mixing CaCl₂ and Na₂C₂O₄ and titrating
==========================================================

A chemist pours 10 mL of 2 mmol/L CaCl₂ (in 0.1 M NaCl) into beakers holding
increasing volumes of 1 mmol/L Na₂C₂O₄, mixes by volume, and lets calcium oxalate
monohydrate precipitate; then titrates the same CaCl₂ solution with Na₂C₂O₄ step by
step and follows pH and free calcium.
"""

import matplotlib.pyplot as plt
import numpy as np

import oxalate
from oxalate.fluids import from_salts
from oxalate.searches import titrate

calcium = from_salts("2 mmol/L CaCl2, 100 mmol/L NaCl", pH=6.5)
oxalate_solution = from_salts("1 mmol/L Na2C2O4, 100 mmol/L NaCl", pH=6.5)
added = oxalate.Quantity(np.linspace(0.0, 20.0, 21), "mL")
mixed = oxalate.mix(calcium, oxalate_solution, volumes=(oxalate.Quantity(10.0, "mL"), added))
formed = oxalate.precipitate(mixed).amount["COM"]

tt = titrate(calcium, step="0.02 mmol/kg", n_steps=40, precipitating=True)

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5))
left.plot(added.m, 1e3 * np.asarray(formed), marker="o")
left.set_xlabel("1 mM Na₂C₂O₄ added to 10 mL [mL]")
left.set_ylabel("COM formed [mmol/kg]")
right.plot(tt.added.m_as("umol/kg"), 1e3 * tt.free_calcium, label="free Ca²⁺ [mM]")
right.set_xlabel("oxalate added [µmol/kg]")
right.set_ylabel("free Ca²⁺ [mmol/kg]")
twin = right.twinx()
twin.plot(tt.added.m_as("umol/kg"), tt.pH, color="C1")
twin.set_ylabel("pH", color="C1")
fig.tight_layout()
print(tt)
