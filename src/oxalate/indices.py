"""Published clinical indices: Tiselius AP(CaOx), Ca × P product, DG, metastable limit.

Shortcuts the stone clinic and the nephrology clinic use in place of (or next to)
a full speciation:

* :func:`tiselius_ap_caox` - Tiselius' AP(CaOx) index of a 24-hour urine, an
  estimate of 10⁸ times the ion-activity product of calcium oxalate from five
  measurements;
* :func:`calcium_phosphate_product` - the serum calcium × phosphate product in
  mg²/dL², with the guideline thresholds (:func:`classify_calcium_phosphate_product`);
* :func:`supersaturation_free_energy` - EQUIL2's DG = (RT/ν) ln Ω;
* :func:`metastable_zone` - a supersaturation Ω placed against the metastable
  limit of calcium oxalate.

All broadcast over numpy arrays (a scalar in gives a scalar out) and take
concentrations with their units at the edge.

References
----------
.. [1] Tiselius HG (1997). Risk formulas in calcium oxalate urolithiasis.
   World J Urol 15:176-185.
.. [2] National Kidney Foundation (2003). K/DOQI clinical practice guidelines
   for bone metabolism and disease in chronic kidney disease. Am J Kidney Dis
   42(4 Suppl 3):S1-S201.
.. [3] Werness PG, Brown CM, Smith LH, Finlayson B (1985). EQUIL2: a BASIC
   computer program for the calculation of urinary saturation. J Urol
   134:1242-1244. doi:10.1016/S0022-5347(17)47703-2
"""

from __future__ import annotations

import math
import warnings
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pint

from ._clinical import clinical_magnitude, volume_per_day
from ._common import scalar_or_array
from ._errors import OxalateInputWarning
from ._quantities import CLINICAL_BASES, OnInvalid, check_water_left
from .database import analyte, constant_set
from .units import temperature_kelvin

__all__ = [
    "CALCIUM_PHOSPHATE_PRODUCT_TARGET",
    "CALCIUM_PHOSPHATE_PRODUCT_THRESHOLD",
    "METASTABLE_LIMIT",
    "RT_EQUIL2",
    "calcium_phosphate_product",
    "classify_calcium_phosphate_product",
    "metastable_zone",
    "plasma_oxalate_threshold",
    "supersaturation_free_energy",
    "tiselius_ap_caox",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]

#: Serum Ca × P product target [mg²/dL²]: keep below 55 (K/DOQI 2003, kdoqi2003).
CALCIUM_PHOSPHATE_PRODUCT_TARGET = 55.0

#: Classic Ca × P threshold of metastatic calcification [mg²/dL²] (about 70; quoted in the
#: project reference, project_reference; primary source not verified).
CALCIUM_PHOSPHATE_PRODUCT_THRESHOLD = 70.0

#: The metastable limit of calcium oxalate as a supersaturation band Ω = 8-11: spontaneous
#: nucleation is expected above it (project_reference; an EQUIL2 study took DG > 2.8 kJ/mol,
#: Ω ≈ 8.7, as critical).
METASTABLE_LIMIT: tuple[float, float] = (8.0, 11.0)

#: RT of EQUIL2's DG [kJ/mol]: the program's literal (werness1985), R × 311.15 K.
RT_EQUIL2 = 2.587

# Molar gas constant [kJ/(mol K)], exact in the 2019 SI (tiesinga2021).
_R = 8.314462618e-3

# Tiselius AP(CaOx) index, 24 h form (tiselius1997; labor_duesseldorf_apcaox).
_TISELIUS_COEFFICIENT = 1.9
_TISELIUS_EXPONENTS = {"calcium": 0.84, "citrate": 0.22, "magnesium": 0.12, "volume": 1.03}

_LABILE = "labile (above the metastable limit)"


def _valid(
    values: FloatArray, argument: str, on_invalid: OnInvalid, *, positive: bool = False
) -> FloatArray:
    """Refuse (or set to NaN) values that are NaN, infinite, negative or (``positive``) zero."""
    if on_invalid not in ("raise", "nan"):
        raise ValueError(f"on_invalid={on_invalid!r} is not known; accepted: 'raise', 'nan'")
    values = np.asarray(values, dtype=np.float64)
    bad = ~np.isfinite(values) | ((values <= 0) if positive else (values < 0))
    if not bad.any():
        return values
    requirement = "> 0 and finite" if positive else ">= 0 and finite"
    if values.ndim == 0:
        shown = f"{float(values)!r}"
    else:
        rows = [tuple(int(i) for i in row) for row in np.argwhere(bad)[:5]]
        shown = ", ".join(
            f"index {r[0] if len(r) == 1 else r}: {float(values[r])!r}" for r in rows
        )
    if on_invalid == "raise":
        raise ValueError(
            f"{argument} has {int(bad.sum())} value(s) that are not {requirement} ({shown}); "
            f"pass on_invalid='nan' to keep the other rows"
        )
    warnings.warn(
        f"{argument}: {int(bad.sum())} value(s) not {requirement} were set to NaN ({shown})",
        OxalateInputWarning,
        stacklevel=3,
    )
    return np.where(bad, np.nan, values)


def _dimensionless(value: Any, argument: str, on_invalid: OnInvalid) -> FloatArray:
    if isinstance(value, str):
        raise TypeError(f"{argument}={value!r} must be a number or an array, not a string")
    if isinstance(value, pint.Quantity):
        value = value.m_as("")
    try:
        values = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{argument}={value!r} must be a number or an array of numbers") from None
    return _valid(values, argument, on_invalid)


def _daily_mmol(value: Any, name: str, volume: FloatArray, on_invalid: OnInvalid) -> FloatArray:
    """A daily amount, or a concentration times the 24 h volume, in mmol/d."""
    magnitude, kind = clinical_magnitude(value, name, volume, on_invalid)
    if kind != "molar":
        raise ValueError(
            f"{name}: give a daily amount ('5 mmol/d', '200 mg/24 h') or a concentration per "
            f"litre ('3.1 mmol/L'), not per kg of water"
        )
    return np.asarray(magnitude * volume * 1e3, dtype=np.float64)


def tiselius_ap_caox(
    *,
    calcium: Any,
    oxalate: Any,
    citrate: Any,
    magnesium: Any,
    volume: Any,
    on_invalid: OnInvalid = "raise",
) -> Any:
    """Tiselius' AP(CaOx) index of a 24-hour urine.

    .. math::

        \\mathrm{AP(CaOx)\\ index} = \\frac{1.9\\, \\mathrm{Ca}^{0.84}\\, \\mathrm{Ox}}
        {\\mathrm{Cit}^{0.22}\\, \\mathrm{Mg}^{0.12}\\, V^{1.03}}

    with the daily excretions Ca, Ox, Cit, Mg in mmol/24 h and the 24 h
    volume V in L.  The index approximates 10⁸ × AP(CaOx), the ion-activity
    product of calcium oxalate in (mol/L)².

    Parameters
    ----------
    calcium, oxalate, citrate, magnesium : pint.Quantity or str
        Daily excretions (``"5 mmol/d"``, ``"200 mg/24 h"``, ``"8 mEq/d"`` for
        magnesium) or concentrations (``"3.1 mmol/L"``, ``"12 mg/dL"``), which
        are multiplied by the volume. [mmol/d]
    volume : pint.Quantity or str
        24 h urine volume, ``"1.5 L/d"`` (or ``"1.5 L"``, the collection). [L/d]
    on_invalid : {"raise", "nan"}
        Negative, zero (citrate, magnesium, volume), NaN or infinite values
        raise naming the argument (default) or become NaN.

    Returns
    -------
    float or numpy.ndarray
        The index (≈ 10⁸ AP(CaOx)). [-]

    Notes
    -----
    The formula and units are as given by the project reference (REFERENCE
    §6) and a clinical laboratory catalogue (``labor_duesseldorf_apcaox``);
    Tiselius (1997) reviews the AP(CaOx) indices.  The paper in which this 24 h
    form first appeared was not verified (Tiselius, Urol Int 1991 is often
    cited).  The index is an empirical fit to EQUIL2 calculations over the
    range of ordinary urines; it is not defined for zero citrate or magnesium.

    References
    ----------
    .. [1] Tiselius HG (1997). Risk formulas in calcium oxalate urolithiasis.
       World J Urol 15:176-185.

    Examples
    --------
    >>> from oxalate.indices import tiselius_ap_caox
    >>> round(float(tiselius_ap_caox(calcium="5 mmol/d", oxalate="0.35 mmol/d",
    ...     citrate="3 mmol/d", magnesium="4 mmol/d", volume="1.5 L/d")), 3)
    1.126
    """
    v = volume_per_day(volume, on_invalid)
    ca = _daily_mmol(calcium, "calcium", v, on_invalid)
    ox = _daily_mmol(oxalate, "oxalate", v, on_invalid)
    cit = _valid(
        _daily_mmol(citrate, "citrate", v, on_invalid), "citrate", on_invalid, positive=True
    )
    mg = _valid(
        _daily_mmol(magnesium, "magnesium", v, on_invalid), "magnesium", on_invalid, positive=True
    )
    # the daily amounts in their urine volume must leave some water [kg/L]
    given = {"calcium": ca, "oxalate": ox, "citrate": cit, "magnesium": mg}
    solute = sum((c / v * analyte(n).molar_mass / 1e6 for n, c in given.items()), start=0.0)
    bad = check_water_left(np.asarray(1.0 - solute), solute, 1.0, tuple(given), on_invalid)
    if bad.any():
        ca = np.where(bad, np.nan, ca)
    e = _TISELIUS_EXPONENTS
    index = (
        _TISELIUS_COEFFICIENT
        * ca ** e["calcium"]
        * ox
        / (cit ** e["citrate"] * mg ** e["magnesium"] * v ** e["volume"])
    )
    return scalar_or_array(index)


def calcium_phosphate_product(
    calcium: Any, phosphate: Any, *, on_invalid: OnInvalid = "raise"
) -> Any:
    """Serum calcium × phosphate product in mg²/dL².

    .. math:: \\mathrm{Ca \\times P} = [\\mathrm{Ca}]_{\\mathrm{mg/dL}}
              \\cdot [\\mathrm{P}]_{\\mathrm{mg/dL\\ as\\ P}}

    Parameters
    ----------
    calcium : pint.Quantity or str
        Total serum calcium: ``"10 mg/dL"``, ``"2.5 mmol/L"``. [mg/dL]
    phosphate : pint.Quantity, str or Expressed
        Serum inorganic phosphate: ``"4.5 mg/dL as P"`` (the clinical
        "phosphorus") or ``"1.45 mmol/L"``.  A bare ``"mg/dL"`` is refused as
        ambiguous. [mg/dL as P]
    on_invalid : {"raise", "nan"}
        Negative, NaN or infinite values raise (default) or become NaN.

    Returns
    -------
    float or numpy.ndarray
        [mg²/dL²]

    Notes
    -----
    Molar inputs are converted with Ca 40.078 and P 30.97376 g/mol.  The
    product is a coarse risk marker of metastatic calcification in chronic
    kidney disease: K/DOQI (2003) set a target below
    :data:`CALCIUM_PHOSPHATE_PRODUCT_TARGET` (55 mg²/dL²); about
    :data:`CALCIUM_PHOSPHATE_PRODUCT_THRESHOLD` (70) is the classic threshold.
    KDIGO (2017) assesses calcium and phosphate individually instead.  The
    product is not a saturation state: see :func:`oxalate.speciate` for the
    supersaturation of the calcium phosphates.

    References
    ----------
    .. [1] National Kidney Foundation (2003). K/DOQI clinical practice
       guidelines for bone metabolism and disease in chronic kidney disease.
       Am J Kidney Dis 42(4 Suppl 3):S1-S201.

    Examples
    --------
    >>> from oxalate.indices import calcium_phosphate_product
    >>> round(float(calcium_phosphate_product("10 mg/dL", "4.5 mg/dL as P")), 6)
    45.0
    >>> round(float(calcium_phosphate_product("2.5 mmol/L", "1.5 mmol/L")), 2)
    46.55
    """
    ca, ca_kind = clinical_magnitude(calcium, "calcium", None, on_invalid)
    p, p_kind = clinical_magnitude(phosphate, "phosphate", None, on_invalid)
    for name, kind in (("calcium", ca_kind), ("phosphate", p_kind)):
        if kind != "molar":
            raise ValueError(f"{name}: give a serum concentration per litre (mg/dL or mmol/L)")
    # mol/L × g/mol = g/L; × 100 = mg/dL
    ca_mg_dl = ca * analyte("calcium").molar_mass * 100.0
    p_mg_dl = p * CLINICAL_BASES["P"][1] * 100.0
    return scalar_or_array(ca_mg_dl * p_mg_dl)


def classify_calcium_phosphate_product(product: Any, *, on_invalid: OnInvalid = "raise") -> Any:
    """Place a Ca × P product against the guideline target and the classic threshold.

    Parameters
    ----------
    product : float, array or pint.Quantity
        Ca × P [mg²/dL²], e.g. from :func:`calcium_phosphate_product`.
    on_invalid : {"raise", "nan"}
        With ``"nan"``, invalid rows are labelled ``"undetermined"``.

    Returns
    -------
    str or numpy.ndarray of str
        ``"below the target"`` (< 55), ``"above the target"`` (55 to < 70) or
        ``"above the classic threshold"`` (≥ 70).

    Examples
    --------
    >>> from oxalate.indices import classify_calcium_phosphate_product
    >>> classify_calcium_phosphate_product([45.0, 60.0, 80.0]).tolist()
    ['below the target', 'above the target', 'above the classic threshold']
    """
    if isinstance(product, pint.Quantity):
        product = product.m_as("mg**2/dL**2")
    values = _dimensionless(product, "product", on_invalid)
    labels = np.where(
        values < CALCIUM_PHOSPHATE_PRODUCT_TARGET,
        "below the target",
        np.where(
            values < CALCIUM_PHOSPHATE_PRODUCT_THRESHOLD,
            "above the target",
            "above the classic threshold",
        ),
    )
    labels = np.where(np.isnan(values), "undetermined", labels)
    return _label(labels)


def _label(labels: Any) -> Any:
    labels = np.asarray(labels)
    return str(labels[()]) if labels.ndim == 0 else labels


def _ions(ions: Any) -> FloatArray:
    if isinstance(ions, str):
        solid = constant_set("default").solid(ions)
        return np.asarray(float(solid.ions))
    values = np.asarray(ions, dtype=np.float64)
    if np.any(~np.isfinite(values) | (values <= 0)):
        raise ValueError(
            f"ions={ions!r} must be the (positive) number of ions per formula unit, "
            f"or a phase name such as 'COM'"
        )
    return values


def supersaturation_free_energy(
    supersaturation: Any,
    *,
    ions: Any = 2,
    temperature: Any = None,
    on_invalid: OnInvalid = "raise",
) -> Any:
    """EQUIL2's free energy of supersaturation, DG = (RT/ν) ln Ω, in kJ/mol.

    .. math:: DG = \\frac{RT}{\\nu} \\ln \\Omega

    Positive when supersaturated.  EQUIL2 uses RT = 2.587 kJ/mol
    (:data:`RT_EQUIL2`), so DG = 1.2935 ln Ω for calcium oxalate (ν = 2);
    give ``temperature`` to use R·T at that temperature instead.

    Parameters
    ----------
    supersaturation : float or array
        Ω = IAP/Ksp (EQUIL2's relative supersaturation). [-]
    ions : int, array or str
        ν, the number of ions per formula unit (2 for calcium oxalate and
        brushite, 9 for hydroxyapatite), or a phase name (``"COM"``,
        ``"brushite"``, ...) to take it from the constant set.
    temperature : pint.Quantity or str, optional
        ``None`` (default) uses EQUIL2's RT = 2.587 kJ/mol (R × 311.15 K);
        a temperature such as ``"37 degC"`` uses R·T with the exact R.
        [degC or K]
    on_invalid : {"raise", "nan"}
        Negative, NaN or infinite Ω raise (default) or become NaN.

    Returns
    -------
    float or numpy.ndarray
        DG [kJ/mol]; -inf where Ω = 0.

    Notes
    -----
    The EQUIL2 literature takes DG > 2.8 kJ/mol for calcium oxalate (Ω ≈ 8.7)
    as critical supersaturation (see :func:`metastable_zone`).  EQUIL2 itself
    prints DG = 0 where Ω ≤ 0; here Ω = 0 gives -inf.

    References
    ----------
    .. [1] Werness PG, Brown CM, Smith LH, Finlayson B (1985). J Urol
       134:1242-1244.

    Examples
    --------
    >>> from oxalate.indices import supersaturation_free_energy
    >>> round(float(supersaturation_free_energy(8.7)), 3)
    2.798
    >>> round(float(supersaturation_free_energy(8.7, temperature="37 degC")), 3)
    2.789
    """
    omega = _dimensionless(supersaturation, "supersaturation", on_invalid)
    nu = _ions(ions)
    if temperature is None:
        rt: Any = RT_EQUIL2
    else:
        rt = _R * temperature_kelvin(temperature)
    with np.errstate(divide="ignore"):
        dg = rt / nu * np.log(omega)
    return scalar_or_array(dg)


def metastable_zone(
    supersaturation: Any,
    *,
    limit: float = METASTABLE_LIMIT[0],
    on_invalid: OnInvalid = "raise",
) -> Any:
    """Place a calcium oxalate supersaturation against the metastable limit.

    Ω < 1: ``"undersaturated"`` (crystals dissolve); 1 ≤ Ω < limit:
    ``"metastable"`` (existing crystals grow, new ones do not form
    spontaneously); Ω ≥ limit: ``"labile (above the metastable limit)"``
    (spontaneous nucleation expected).

    Parameters
    ----------
    supersaturation : float or array
        Ω = IAP/Ksp of calcium oxalate (EQUIL2's RSS or
        ``oxalate.speciate(...).supersaturation["COM"]``). [-]
    limit : float
        The metastable limit.  The literature quotes a band Ω ≈ 8-11
        (:data:`METASTABLE_LIMIT`); the default is its lower end, 8.
    on_invalid : {"raise", "nan"}
        With ``"nan"``, invalid rows are labelled ``"undetermined"``.

    Returns
    -------
    str or numpy.ndarray of str

    Notes
    -----
    The limit depends on the urine (inhibitors, time, the Ksp and activity
    model behind Ω): values inside the 8-11 band are borderline whatever the
    label.  Only meaningful for a Ω computed the way the limit was measured
    (EQUIL2-like relative supersaturation of calcium oxalate).

    Examples
    --------
    >>> from oxalate.indices import metastable_zone
    >>> metastable_zone([0.5, 4.0, 12.0]).tolist()
    ['undersaturated', 'metastable', 'labile (above the metastable limit)']
    >>> metastable_zone(9.0, limit=11.0)
    'metastable'
    """
    if not (isinstance(limit, (int, float)) and math.isfinite(limit) and limit > 1.0):
        raise ValueError(f"limit={limit!r} must be a number above 1 (the band is 8-11)")
    omega = _dimensionless(supersaturation, "supersaturation", on_invalid)
    labels = np.where(
        omega < 1.0, "undersaturated", np.where(omega < limit, "metastable", _LABILE)
    )
    labels = np.where(np.isnan(omega), "undetermined", labels)
    return _label(labels)


def plasma_oxalate_threshold(
    target: Any = 1.0, *, phase: str = "COM", constants: Any = "default", **ultrafiltrate: Any
) -> Any:
    """Plasma oxalate at which the plasma ultrafiltrate reaches Ω = ``target``.

    The calculation the calcification catalogue links to oxalosis (primary
    hyperoxaluria): :func:`oxalate.threshold` on
    :func:`oxalate.fluids.plasma_ultrafiltrate` with ``vary="oxalate"``, fully
    speciated at 37 °C.  Oxalate meets the calcium that albumin does not bind,
    so the ultrafiltrate, not whole plasma, is the fluid (Worcester et al.
    1986, who found 50 µmol/L in uremic ultrafiltrate).

    Parameters
    ----------
    target : float or array
        Ω to reach: 1 for saturation, about 8-11 for the metastable limit
        (:data:`METASTABLE_LIMIT`). [-]
    phase : {"COM", "COD", "COT"}
        The calcium oxalate hydrate.
    constants : str, ConstantSet or mapping
        As in :func:`oxalate.speciate`.
    **ultrafiltrate
        Overrides of the ultrafiltrate preset, e.g. ``pH=7.2``, or
        ``ionized_calcium="1.0 mmol/L"`` (the free Ca²⁺ of a blood-gas
        analyser; the total is solved for it) or ``calcium=`` (the
        ultrafiltrable total); arrays give a batch.

    Returns
    -------
    pint.Quantity
        Total oxalate at the target, in µmol per litre of ultrafiltrate (the
        clinic's unit; the molality is ``oxalate.threshold(...).total``). [µmol/L]

    Examples
    --------
    >>> from oxalate.indices import plasma_oxalate_threshold
    >>> plasma_oxalate_threshold().units
    <Unit('micromole / liter')>
    >>> round(float(plasma_oxalate_threshold(ionized_calcium="1.2 mmol/L").m), 1)
    42.3
    """
    from .fluids import plasma_ultrafiltrate, with_ionized_calcium
    from .precipitation import threshold

    ionized = ultrafiltrate.pop("ionized_calcium", None)
    fluid = plasma_ultrafiltrate(**ultrafiltrate)
    if ionized is not None:  # the free Ca2+ of the same constants as the threshold
        fluid = with_ionized_calcium(fluid, ionized, constants=constants)
    found = threshold(fluid, vary="oxalate", target=target, phase=phase, constants=constants)
    # the clinic's unit: µmol per litre of ultrafiltrate, at the threshold's composition
    return found.molarity(ultrafiltrate.get("density")).to("umol/L")
