"""The diagrams a speciation program is known by, drawn with matplotlib.

Needs the ``plot`` extra (``pip install "oxalate[plot]"``); matplotlib is
imported when a function is called, never at ``import oxalate``.  Every
function draws on the ``ax`` it is given (or a new one) and returns that
:class:`matplotlib.axes.Axes`, so figures compose and can be styled further.

* :func:`species_distribution`: the fraction of a component in each of its
  species against pH (or any varied input);
* :func:`saturation`: Ω (or SI) of chosen phases against a varied total or pH,
  with Ω = 1 and the metastable band of calcium oxalate (Ω 8-11) marked;
* :func:`saturation_histogram`: the SI of a phase over a batch (a clinic's
  table of urines), with saturation marked.

Examples
--------
>>> import numpy as np
>>> import oxalate
>>> from oxalate import plot
>>> ph = np.linspace(2, 10, 41)
>>> s = oxalate.Solution(calcium="2 mmol/kg", oxalate="0.3 mmol/kg",
...                      sodium="100 mmol/kg", chloride="100 mmol/kg", pH=ph)
>>> ax = plot.species_distribution(oxalate.speciate(s), "oxalate", x=ph, xlabel="pH")
>>> sorted(line.get_label() for line in ax.get_lines())[:3]
['C2O4-2', 'CaC2O4', 'H2C2O4']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .indices import METASTABLE_LIMIT
from .solution import component_key

__all__ = ["saturation", "saturation_histogram", "species_distribution"]


def _axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError('oxalate.plot needs matplotlib: pip install "oxalate[plot]"') from err
    return plt.subplots(figsize=(6, 4))[1]


def _x(x: Any, n: int) -> Any:
    values = np.asarray(getattr(x, "magnitude", x), dtype=np.float64)
    if values.shape != (n,):
        raise ValueError(f"x has shape {values.shape}; give one value per row ({n},)")
    return values


def species_distribution(
    speciation: Any,
    component: str,
    *,
    x: Any,
    xlabel: str = "pH",
    minimum: float = 0.01,
    ax: Any = None,
) -> Any:
    """Fraction of ``component`` in each of its species against ``x``.

    Parameters
    ----------
    speciation : Speciation
        A 1-d batch, e.g. one solution at a range of pH values.
    component : str
        ``"oxalate"``, ``"calcium"``, ``"Cit"`` ... (any case).
    x : array_like or pint.Quantity
        The varied input, one value per row (its magnitude is plotted).
    xlabel : str
    minimum : float
        Species that never reach this fraction are left out. [-]
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes
        One line per species, labelled with its name.
    """
    key = component_key(component)
    if np.ndim(speciation.ionic_strength) != 1:
        raise ValueError("species_distribution needs a 1-d batch (one row per x value)")
    fractions = speciation.fraction(key)
    xs = _x(x, np.size(speciation.ionic_strength))
    ax = _axes(ax)
    for name, f in fractions.items():
        f = np.asarray(f, dtype=np.float64)
        if np.nanmax(f, initial=0.0) >= minimum:
            ax.plot(xs, f, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"fraction of total {component}")
    ax.set_ylim(0.0, 1.02)
    ax.legend(fontsize="small")
    return ax


def saturation(
    speciation: Any,
    phases: Sequence[str] = ("COM", "COD"),
    *,
    x: Any,
    xlabel: str,
    index: bool = False,
    band: bool = True,
    ax: Any = None,
) -> Any:
    """Ω (or SI) of ``phases`` against ``x``, with Ω = 1 and the metastable band marked.

    Parameters
    ----------
    speciation : Speciation
        A 1-d batch.
    phases : sequence of str
        Phase keys or names (``"whewellite"``).
    x : array_like or pint.Quantity
        The varied input, one value per row.
    xlabel : str
    index : bool
        Plot SI = log10 Ω instead of Ω (on a log axis).
    band : bool
        Shade Ω 8-11 (:data:`oxalate.indices.METASTABLE_LIMIT`), the range
        where urine nucleates calcium oxalate on its own.
    ax : matplotlib.axes.Axes, optional

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import numpy as np
    >>> import oxalate
    >>> from oxalate import plot
    >>> ox = oxalate.Quantity(np.geomspace(5, 200, 30), "umol/L")
    >>> r = oxalate.speciate(oxalate.fluids.plasma_ultrafiltrate(oxalate=ox))
    >>> ax = plot.saturation(r, ["COM"], x=ox, xlabel="plasma oxalate [µmol/L]")
    >>> ax.get_yscale()
    'log'
    """
    xs = _x(x, np.size(speciation.ionic_strength))
    ax = _axes(ax)
    for phase in phases:
        values = np.asarray(speciation.supersaturation[phase], dtype=np.float64)
        ax.plot(xs, np.log10(values) if index else values, label=f"{phase}")
    if index:
        ax.axhline(0.0, color="black", linewidth=0.8, linestyle="--", label="saturation")
        ax.set_ylabel("SI = log10 Ω")
    else:
        ax.set_yscale("log")
        ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--", label="Ω = 1")
        ax.set_ylabel("Ω")
    if band:
        lo, hi = METASTABLE_LIMIT
        span = (np.log10(lo), np.log10(hi)) if index else (lo, hi)
        ax.axhspan(*span, color="0.85", label="metastable limit (Ω 8-11)")
    ax.set_xlabel(xlabel)
    ax.legend(fontsize="small")
    return ax


def saturation_histogram(
    speciation: Any, phase: str = "COM", *, bins: int = 30, ax: Any = None
) -> Any:
    """Histogram of SI(``phase``) over a batch, with saturation (SI = 0) marked.

    Rows that did not converge are left out (their count is in the title).

    Returns
    -------
    matplotlib.axes.Axes
    """
    si = np.ravel(np.asarray(speciation.saturation_index[phase], dtype=np.float64))
    ok = np.isfinite(si)
    ax = _axes(ax)
    ax.hist(si[ok], bins=bins, color="0.6", edgecolor="black")
    ax.axvline(0.0, color="black", linestyle="--", label="saturation (SI = 0)")
    ax.set_xlabel(f"SI({phase})")
    ax.set_ylabel("solutions")
    missing = int((~ok).sum())
    ax.set_title(f"{int(ok.sum())} solutions" + (f" ({missing} not computed)" if missing else ""))
    ax.legend(fontsize="small")
    return ax
