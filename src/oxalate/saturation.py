"""Solubility products and the free-ion supersaturation of calcium oxalate.

This module is the *fast approximation*: it treats the calcium and oxalate
passed as free ions and corrects only for ionic strength.  It leaves out ion
pairs (CaC2O4°, CaCit⁻, MgC2O4°, NaC2O4⁻ ...) and protonation (HC2O4⁻), so
in urine, where citrate, magnesium, phosphate and sulfate bind a large share
of the calcium and oxalate, it overestimates Ω several-fold.  Measured on
10,000 synthetic urines (``examples/urine_batch.py``: Ca 2-8, Ox 0.1-0.6,
Mg 2-5, citrate 1-4, phosphate 10-30, sulfate 10-20 mmol/L, pH 5-7, 37 °C,
the same ionic strength for both): free-ion Ω / speciated Ω has a median of
4.6 and a 5-95 % range of 3.9-5.4.  Use :func:`oxalate.speciate` for the
full aqueous speciation.
"""

from __future__ import annotations

from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt

from ._common import scalar_or_array
from ._quantities import OnInvalid, check_text
from .activity import WATER_ACTIVITY_SLOPE, check_model, log10_activity_coefficient
from .database import ConstantSet, analyte, canonical_phase, resolve_constants, van_t_hoff
from .units import Quantity, as_molality, concentration, temperature_kelvin

__all__ = [
    "INERT_ELECTROLYTES",
    "saturation_index",
    "solubility",
    "solubility_product",
    "supersaturation",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
Convention = Literal["relative", "crystallisation"]

#: Background electrolytes taken as inert (ionic strength, water activity and
#: solution mass only): formula -> ((analyte, count), ...).
INERT_ELECTROLYTES: dict[str, tuple[tuple[str, int], ...]] = {
    "NaCl": (("sodium", 1), ("chloride", 1)),
    "KCl": (("potassium", 1), ("chloride", 1)),
}

_OXALATE_PHASES = ("COM", "COD", "COT")


def _oxalate_phase(phase: str, constants: ConstantSet) -> str:
    key = canonical_phase(phase, _OXALATE_PHASES)
    constants.solid(key)
    return key


def solubility_product(
    phase: str = "COM", temperature: Any = "25 degC", *, constants: Any = "default"
) -> Any:
    """Thermodynamic solubility product of a calcium oxalate hydrate.

    .. math::
        \\log K_{sp}(T) = \\log K_{sp,25}
        - \\frac{\\Delta H (298.15 - T)}{\\ln 10\\, R\\, T\\, 298.15}

    for CaC2O4·nH2O(s) = Ca²⁺ + C2O4²⁻ + n H2O.

    Parameters
    ----------
    phase : {"COM", "COD", "COT"}
        Monohydrate (whewellite), dihydrate (weddellite) or trihydrate
        (caoxite); mineral names are accepted.
    temperature : pint.Quantity or str
        0-100 °C. [degC or K]
    constants : str, ConstantSet or mapping
        ``"default"`` (COM 2.3e-9 at 25 °C, ΔH 21.5 kJ/mol),
        ``"thermochimie"``, ``"nist46"``, a :class:`~oxalate.database.ConstantSet`,
        or ``{"COM": 2.6e-9}`` to override a value.

    Returns
    -------
    float or numpy.ndarray
        Ksp on the molal activity scale. [(mol/kg)²]

    References
    ----------
    .. [1] Hummel, W. et al. (2005), Chemical Thermodynamics vol. 9, NEA/OECD.

    Examples
    --------
    >>> import oxalate
    >>> float(oxalate.solubility_product("COM"))
    2.3e-09
    >>> round(float(oxalate.solubility_product("COM", "37 degC")) * 1e9, 3)
    3.21
    """
    constants = resolve_constants(constants)
    solid = constants.solid(_oxalate_phase(phase, constants))
    t = temperature_kelvin(temperature)
    log_k = van_t_hoff(solid.log_k25, solid.delta_h, t)
    # the stored 25 degC value itself (2.3e-9 for COM), not 10**log10 of it
    k25 = solid.k25 if solid.k25 is not None else 10.0**solid.log_k25
    out = np.where(t == 298.15, k25, 10.0**log_k)
    return scalar_or_array(out)


def _parse_background(background: Any) -> dict[str, Any]:
    if background is None:
        return {}
    if isinstance(background, str):
        check_text(background, "background")
        parts = background.split()
        if len(parts) < 2 or parts[-1] not in INERT_ELECTROLYTES:
            raise ValueError(
                f"background={background!r} is not understood; write a concentration and a salt, "
                f"e.g. '150 mmol/L NaCl'; salts accepted: {sorted(INERT_ELECTROLYTES)}"
            )
        amount, salt = " ".join(parts[:-1]), parts[-1]
    elif isinstance(background, tuple) and len(background) == 2:
        amount, salt = background
        if salt not in INERT_ELECTROLYTES:
            raise ValueError(
                f"background salt {salt!r} is not known; accepted: {sorted(INERT_ELECTROLYTES)}"
            )
    else:
        raise TypeError(
            f"background={background!r}: pass e.g. '150 mmol/L NaCl' or (Quantity, 'NaCl')"
        )
    value, basis = concentration(
        amount, argument="background", analyte_name="sodium" if salt == "NaCl" else "potassium"
    )
    unit = "mol/kg" if basis == "molal" else "mol/L"
    return {name: Quantity(value * count, unit) for name, count in INERT_ELECTROLYTES[salt]}


def _free_ion_state(
    calcium: Any,
    oxalate: Any,
    temperature: Any,
    ionic_strength: Any,
    activity_model: str,
    background: Any,
    density: Any,
    on_invalid: OnInvalid,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    model = check_model(activity_model)
    bg = _parse_background(background)
    if set(bg) & {"calcium", "oxalate"}:
        raise ValueError("background must not contain calcium or oxalate")
    m = as_molality(
        {"calcium": calcium, "oxalate": oxalate, **bg}, density=density, on_invalid=on_invalid
    )
    t = temperature_kelvin(temperature)
    charges = {name: analyte(name).charge for name in m}
    if ionic_strength is None:
        i = 0.5 * sum((m[k] * charges[k] ** 2 for k in m), start=np.float64(0.0))
    else:
        i, _ = concentration(
            ionic_strength,
            argument="ionic_strength",
            analyte_name="ionic_strength",
            on_invalid=on_invalid,
        )
    total = sum(m.values(), start=np.float64(0.0))
    water_activity = 1.0 - WATER_ACTIVITY_SLOPE * total
    log_gamma = log10_activity_coefficient(2, i, t, model, water_activity=water_activity)
    return m["calcium"], m["oxalate"], np.asarray(log_gamma), np.asarray(water_activity), t


def _log_omega(
    calcium: Any,
    oxalate: Any,
    temperature: Any,
    ionic_strength: Any,
    phase: str,
    activity_model: str,
    background: Any,
    constants: Any,
    density: Any,
    on_invalid: OnInvalid,
) -> FloatArray:
    cs = resolve_constants(constants)
    solid = cs.solid(_oxalate_phase(phase, cs))
    ca, ox, log_gamma, aw, t = _free_ion_state(
        calcium,
        oxalate,
        temperature,
        ionic_strength,
        activity_model,
        background,
        density,
        on_invalid,
    )
    with np.errstate(divide="ignore"):
        log_iap = np.log10(ca) + np.log10(ox) + 2.0 * log_gamma + solid.water * np.log10(aw)
    return np.asarray(log_iap - van_t_hoff(solid.log_k25, solid.delta_h, t))


def supersaturation(
    calcium: Any,
    oxalate: Any,
    *,
    temperature: Any = "25 degC",
    ionic_strength: Any = None,
    phase: str = "COM",
    activity_model: str = "davies",
    background: Any = None,
    constants: Any = "default",
    density: Any = None,
    convention: Convention = "relative",
    on_invalid: OnInvalid = "raise",
) -> Any:
    """Free-ion supersaturation of calcium oxalate, Ω = IAP / Ksp.

    .. math:: \\Omega = \\frac{\\gamma_{Ca} m_{Ca}\\, \\gamma_{Ox} m_{Ox}\\, a_w^{n}}{K_{sp}(T)}

    the *relative supersaturation* of the stone literature (EQUIL2's "SS"):
    Ω > 1 supersaturated, Ω < 1 undersaturated.

    Parameters
    ----------
    calcium, oxalate : pint.Quantity or str
        Concentrations, taken as free ions: mol/kg, mmol/L, mg/dL or mEq/L,
        scalar or array (they broadcast). [concentration]
    temperature : pint.Quantity or str
        0-100 °C, default 25 °C. [degC or K]
    ionic_strength : pint.Quantity or str, optional
        Ionic strength; by default computed from the ions passed (calcium,
        oxalate and ``background``; their counter-ions are not known and
        are not counted). [mol/kg]
    phase : {"COM", "COD", "COT"}
        The calcium oxalate hydrate.
    activity_model : str
        See :mod:`oxalate.activity`; default PHREEQC's Davies.
    background : str or (Quantity, str), optional
        An inert electrolyte, e.g. ``"150 mmol/L NaCl"``.
    constants : str, ConstantSet or mapping
        See :func:`solubility_product`.
    density : pint.Quantity or str, optional
        Solution density for molar inputs, default 1.0 kg/L. [kg/L]
    convention : {"relative", "crystallisation"}
        ``"relative"`` returns Ω.  ``"crystallisation"`` returns
        S = Ω^(1/ν) with ν = 2 ions, the convention of crystal-growth papers.
    on_invalid : {"raise", "nan"}
        Negative, NaN or infinite concentrations raise ``ValueError`` naming
        the argument and row, or (``"nan"``) give NaN in those rows only.

    Returns
    -------
    float or numpy.ndarray
        Ω (or S), broadcast over the inputs; a scalar for scalar inputs. [-]

    Warns
    -----
    OxalateRangeWarning
        When the ionic strength is beyond the activity model's range.

    Notes
    -----
    This free-ion Ω ignores complexation and protonation.  In urine, where
    about half the calcium is bound to citrate, phosphate and sulfate and
    much of the oxalate to magnesium and calcium, it overestimates Ω about
    4-5-fold (median 4.6 over 10,000 synthetic urines at the same ionic
    strength; see the module notes); use :func:`oxalate.speciate`.
    The water-activity term a_w^n (n = 1, 2, 3 for COM, COD, COT) uses
    a_w = 1 - 0.017 Σm as PHREEQC does.

    References
    ----------
    .. [1] Werness, P. G. et al. (1985), J. Urol. 134, 1242.
    .. [2] Parkhurst, D. L. and Appelo, C. A. J. (2013), USGS TM 6-A43.

    Examples
    --------
    >>> import oxalate
    >>> round(float(oxalate.supersaturation("0.1 mmol/kg", "0.1 mmol/kg")), 4)
    3.6204
    >>> oxalate.supersaturation(oxalate.Quantity([1.0, 2.0], "mmol/L"), "0.05 mmol/L",
    ...                         temperature="37 degC", background="150 mmol/L NaCl").round(3)
    array([1.642, 3.262])
    """
    if convention not in ("relative", "crystallisation"):
        raise ValueError(
            f"convention={convention!r} is not known; accepted: 'relative', 'crystallisation'"
        )
    log_omega = _log_omega(
        calcium, oxalate, temperature, ionic_strength, phase, activity_model, background,
        constants, density, on_invalid,
    )  # fmt: skip
    if convention == "crystallisation":
        log_omega = log_omega / 2.0
    return scalar_or_array(10.0**log_omega)


def saturation_index(
    calcium: Any,
    oxalate: Any,
    *,
    temperature: Any = "25 degC",
    ionic_strength: Any = None,
    phase: str = "COM",
    activity_model: str = "davies",
    background: Any = None,
    constants: Any = "default",
    density: Any = None,
    on_invalid: OnInvalid = "raise",
) -> Any:
    """Free-ion saturation index SI = log10 Ω of calcium oxalate.

    Parameters are those of :func:`supersaturation`.

    Returns
    -------
    float or numpy.ndarray
        SI; 0 at saturation, -inf for a zero concentration. [-]

    Examples
    --------
    >>> import oxalate
    >>> round(float(oxalate.saturation_index("0.1 mmol/kg", "0.1 mmol/kg")), 4)
    0.5588
    """
    return scalar_or_array(
        _log_omega(
            calcium,
            oxalate,
            temperature,
            ionic_strength,
            phase,
            activity_model,
            background,
            constants,
            None if density is None else density,
            on_invalid,
        )
    )


def solubility(
    phase: str = "COM",
    temperature: Any = "25 degC",
    *,
    background: Any = None,
    activity_model: str = "davies",
    constants: Any = "default",
) -> Any:
    """Free-ion solubility of a calcium oxalate hydrate in water.

    Solves s² γ²(I) a_wⁿ = Ksp(T) with I = 4 s (+ the background), i.e. the
    molality of dissolved Ca²⁺ (= C2O4²⁻) at saturation when nothing else
    binds them.

    Parameters
    ----------
    phase : {"COM", "COD", "COT"}
    temperature : pint.Quantity or str
        0-100 °C. [degC or K]
    background : str, optional
        Inert electrolyte, e.g. ``"150 mmol/L NaCl"`` (molal inputs are
        exact; molar ones use a density of 1 kg/L).
    activity_model : str
        See :mod:`oxalate.activity`.
    constants : str, ConstantSet or mapping
        See :func:`solubility_product`.

    Returns
    -------
    pint.Quantity
        Solubility. [mol/kg]

    Notes
    -----
    Ion pairs and protonation raise the *total* dissolved calcium oxalate
    above this value: CaC2O4(aq) adds about 3.6 µmol/kg at 25 °C (K = 10^3.19),
    so the free-ion 51.2 µmol/kg becomes about 55 µmol/kg in total.  The CRC
    Handbook gives 0.61 mg per 100 g water at 20 °C = 47.6 µmol/kg.

    Examples
    --------
    >>> import oxalate
    >>> s = oxalate.solubility("COM", "25 degC")
    >>> round(float(s.m_as("umol/kg")), 2)
    51.23
    """
    cs = resolve_constants(constants)
    solid = cs.solid(_oxalate_phase(phase, cs))
    model = check_model(activity_model)
    t = temperature_kelvin(temperature)
    bg = _parse_background(background)
    m_bg = as_molality(bg) if bg else {}
    i_bg = 0.5 * sum((m_bg[k] * analyte(k).charge ** 2 for k in m_bg), start=np.float64(0.0))
    sum_bg = sum(m_bg.values(), start=np.float64(0.0))
    log_k = van_t_hoff(solid.log_k25, solid.delta_h, t)
    s = np.sqrt(10.0**log_k) * np.ones_like(i_bg + t)
    for _ in range(60):  # a contraction: converges to 1e-15 in < 20 passes
        aw = 1.0 - WATER_ACTIVITY_SLOPE * (2.0 * s + sum_bg)
        lg = log10_activity_coefficient(2, 4.0 * s + i_bg, t, model, water_activity=aw)
        s = 10.0 ** (0.5 * (log_k - solid.water * np.log10(aw)) - lg)
    return Quantity(scalar_or_array(s), "mol/kg")
