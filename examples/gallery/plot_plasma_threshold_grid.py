"""
Plasma oxalate threshold over ionised calcium and pH
====================================================

The plasma oxalate at which the ultrafiltrate saturates with calcium oxalate
monohydrate (Ω = 1), on a grid of the ionised calcium a blood-gas analyser reports
and the blood pH: one batched call of :func:`oxalate.indices.plasma_oxalate_threshold`.
"""

import matplotlib.pyplot as plt
import numpy as np

import oxalate
from oxalate.indices import plasma_oxalate_threshold

ionized = np.linspace(0.9, 1.5, 13)  # mmol/L
ph = np.linspace(7.1, 7.6, 11)
ca, p = np.meshgrid(ionized, ph)
calcium = oxalate.Quantity(ca.ravel(), "mmol/L")
found = plasma_oxalate_threshold(ionized_calcium=calcium, pH=p.ravel())
threshold = found.m_as("umol/L").reshape(ca.shape)

fig, ax = plt.subplots(figsize=(6, 4))
contours = ax.contourf(ca, p, threshold, levels=12, cmap="viridis")
fig.colorbar(contours, ax=ax, label="plasma oxalate at Ω(COM) = 1 [µmol/L]")
ax.set_xlabel("ionised calcium [mmol/L]")
ax.set_ylabel("pH")
ax.set_title("Plasma ultrafiltrate, 37 °C")
print(f"at 1.2 mmol/L and pH 7.4: {threshold[6, 5]:.1f} µmol/L")
