"""Temperature dependence: Debye-Hückel A(T) and B(T), water density, log K(T).

A and B are computed exactly as USGS PHREEQC 3.8 computes them
(``calc_dielectrics`` at 1 atm), so that oxalate and PHREEQC agree to 1e-8:
the dielectric constant of Bradley and Pitzer (1979), the saturated-liquid
density of Wagner and Pruss (1993) with PHREEQC's pressure polynomial, and
PHREEQC's own physical constants.
"""

from __future__ import annotations

import math
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from ._common import scalar_or_array
from .database import van_t_hoff
from .units import temperature_kelvin

__all__ = [
    "debye_huckel_a",
    "debye_huckel_a_kelvin",
    "debye_huckel_ab_kelvin",
    "debye_huckel_b",
    "debye_huckel_b_kelvin",
    "log_k",
    "water_density_kelvin",
    "water_dielectric_constant_kelvin",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]

# PHREEQC's constants (global.h / calc_dielectrics): Avogadro's number and
# e^2/(4 pi eps0 k) in units giving e = 1.671008e-3/(eps T) [cm].
_AVOGADRO = 6.02252e23
_E2_OVER_K = 1.671008e-3
_P_ATM_BAR = 1.01325


def water_dielectric_constant_kelvin(temperature: Any) -> FloatArray:
    """Relative permittivity of water at 1 atm (Bradley and Pitzer, 1979).

    .. math:: \\varepsilon = d_{1000} + c \\ln\\frac{b + p}{b + 1000}

    Parameters
    ----------
    temperature : float or array
        Temperature. [K]

    Returns
    -------
    numpy.ndarray
        Dielectric constant. [-]

    References
    ----------
    .. [1] Bradley, D. J. and Pitzer, K. S. (1979), J. Phys. Chem. 83, 1599,
       doi:10.1021/j100475a009.

    Examples
    --------
    >>> from oxalate.thermo import water_dielectric_constant_kelvin
    >>> round(float(water_dielectric_constant_kelvin(298.15)), 3)
    78.384
    """
    t = np.asarray(temperature, dtype=np.float64)
    d1000 = 342.79 * np.exp(t * (-5.0866e-3 + 9.469e-7 * t))
    c = -2.0525 + 3115.9 / (t - 182.89)
    b = -8032.5 + 4.2142e6 / t + 2.1417 * t
    return np.asarray(d1000 + c * np.log((b + _P_ATM_BAR) / (b + 1000.0)))


def water_density_kelvin(temperature: Any, water_activity: Any = 1.0) -> FloatArray:
    """Density of water at 1 atm as PHREEQC computes it. [g/cm³]

    The saturated-liquid density of Wagner and Pruss (1993) plus PHREEQC's
    pressure polynomial, with the saturation pressure scaled by the water
    activity as in PHREEQC 3.8.6.

    Parameters
    ----------
    temperature : float or array
        Temperature. [K]
    water_activity : float or array
        Activity of water, default 1. [-]

    Returns
    -------
    numpy.ndarray
        Density. [g/cm³]

    Examples
    --------
    >>> from oxalate.thermo import water_density_kelvin
    >>> round(float(water_density_kelvin(298.15)), 6)
    0.997043
    """
    t = np.asarray(temperature, dtype=np.float64)
    theta = 1.0 - t / 647.096
    rho_sat = 0.322 * (
        1.0
        + 1.99274064 * theta ** (1.0 / 3.0)
        + 1.09965342 * theta ** (2.0 / 3.0)
        - 0.510839303 * theta ** (5.0 / 3.0)
        - 1.75493479 * theta ** (16.0 / 3.0)
        - 45.5170352 * theta ** (43.0 / 3.0)
        - 6.7469445e5 * theta ** (110.0 / 3.0)
    )
    p_sat = np.exp(11.6702 - 3816.44 / (t - 46.13)) * np.minimum(water_activity, 1.0)
    pa = np.maximum(1.0, p_sat) - (p_sat - 1e-6)
    tc = t - 273.15
    p0 = 5.1880000e-2 + tc * (
        -4.1885519e-4 + tc * (6.6780748e-6 + tc * (-3.6648699e-8 + tc * 8.3501912e-11))
    )
    p1 = -6.0251348e-6 + tc * (
        3.6696407e-7 + tc * (-9.2056269e-9 + tc * (6.7024182e-11 - tc * 1.5947241e-13))
    )
    p2 = -2.2983596e-9 + tc * (
        -4.0133819e-10 + tc * (1.2619821e-11 + tc * (-9.8952363e-14 + tc * 2.3363281e-16))
    )
    p3 = 7.0517647e-11 + tc * (
        6.8566831e-12 + tc * (-2.2829750e-13 + tc * (1.8113313e-15 - tc * 4.2475324e-18))
    )
    rho = (1000.0 * rho_sat + pa * (p0 + pa * (p1 + pa * (p2 + np.sqrt(pa) * p3)))) / 1000.0
    return np.asarray(rho)


def _a_and_b(temperature: Any, water_activity: Any = 1.0) -> tuple[FloatArray, FloatArray]:
    t = np.asarray(temperature, dtype=np.float64)
    eps = water_dielectric_constant_kelvin(t)
    rho = water_density_kelvin(t, water_activity)
    e = _E2_OVER_K / (eps * t)
    b = np.sqrt(8.0 * math.pi * _AVOGADRO * e * rho / 1000.0)
    a = b * e / (2.0 * math.log(10.0))
    return np.asarray(a), np.asarray(b * 1e-8)


def debye_huckel_ab_kelvin(
    temperature: Any, water_activity: Any = 1.0
) -> tuple[FloatArray, FloatArray]:
    """Debye-Hückel A and B together (one evaluation of the water's density and permittivity).

    Examples
    --------
    >>> from oxalate.thermo import debye_huckel_ab_kelvin
    >>> a, b = debye_huckel_ab_kelvin(298.15)
    >>> round(float(a), 8), round(float(b), 6)
    (0.51002479, 0.328491)
    """
    return _a_and_b(temperature, water_activity)


def debye_huckel_a_kelvin(temperature: Any, water_activity: Any = 1.0) -> FloatArray:
    """Debye-Hückel A on floats: ``temperature`` in K. [(kg/mol)^0.5]

    The magnitude-only twin of :func:`debye_huckel_a`.

    Examples
    --------
    >>> from oxalate.thermo import debye_huckel_a_kelvin
    >>> round(float(debye_huckel_a_kelvin(298.15)), 8)
    0.51002479
    """
    return _a_and_b(temperature, water_activity)[0]


def debye_huckel_b_kelvin(temperature: Any, water_activity: Any = 1.0) -> FloatArray:
    """Debye-Hückel B on floats: ``temperature`` in K. [(kg/mol)^0.5 / Å]

    Examples
    --------
    >>> from oxalate.thermo import debye_huckel_b_kelvin
    >>> round(float(debye_huckel_b_kelvin(298.15)), 6)
    0.328491
    """
    return _a_and_b(temperature, water_activity)[1]


def debye_huckel_a(temperature: Any = "25 degC", *, water_activity: Any = 1.0) -> Any:
    """Debye-Hückel A(T) exactly as PHREEQC computes it.

    .. math:: A = \\frac{B e}{2 \\ln 10},\\quad
              B = \\sqrt{8 \\pi N_A e \\rho / 1000},\\quad
              e = \\frac{1.671008\\times 10^{-3}}{\\varepsilon T}

    Parameters
    ----------
    temperature : pint.Quantity or str
        Temperature, 0-100 °C. [degC or K]
    water_activity : float or array, optional
        PHREEQC 3.8.6 scales the vapour pressure in the density by a_w;
        the effect on A is below 1e-7 at 25-37 °C. [-]

    Returns
    -------
    float or numpy.ndarray
        A. [(kg/mol)^0.5]

    Notes
    -----
    These are not the textbook 0.5085 / 0.5091 at 25 °C: PHREEQC's constants
    give 0.51002479 at 25 °C and 0.52114364 at 37 °C.

    References
    ----------
    .. [1] Parkhurst, D. L. and Appelo, C. A. J. (2013), USGS Techniques and
       Methods 6-A43, doi:10.3133/tm6A43.
    .. [2] Bradley, D. J. and Pitzer, K. S. (1979), doi:10.1021/j100475a009.

    Examples
    --------
    >>> import oxalate
    >>> round(float(oxalate.debye_huckel_a("37 degC")), 8)
    0.52114364
    """
    return scalar_or_array(debye_huckel_a_kelvin(temperature_kelvin(temperature), water_activity))


def debye_huckel_b(temperature: Any = "25 degC", *, water_activity: Any = 1.0) -> Any:
    """Debye-Hückel B(T) exactly as PHREEQC computes it. [(kg/mol)^0.5 / Å]

    Parameters
    ----------
    temperature : pint.Quantity or str
        Temperature, 0-100 °C. [degC or K]
    water_activity : float or array, optional
        As in :func:`debye_huckel_a`. [-]

    Returns
    -------
    float or numpy.ndarray
        B. [(kg/mol)^0.5 Å^-1]

    Examples
    --------
    >>> import oxalate
    >>> round(float(oxalate.debye_huckel_b("25 degC")), 6)
    0.328491
    """
    return scalar_or_array(debye_huckel_b_kelvin(temperature_kelvin(temperature), water_activity))


def log_k(log_k25: Any, delta_h: Any, temperature: Any = "25 degC") -> Any:
    """log10 K at a temperature by van 't Hoff, as PHREEQC's ``-delta_h``.

    .. math::
        \\log K(T) = \\log K_{25} - \\frac{\\Delta H (298.15 - T)}{\\ln 10\\, R\\, T\\, 298.15}

    with R = 8.31470e-3 kJ/(mol K).

    Parameters
    ----------
    log_k25 : float or array
        log10 K at 25 °C.
    delta_h : float, array or Quantity
        Reaction enthalpy; a bare number is read as kJ/mol. [kJ/mol]
    temperature : pint.Quantity or str
        Temperature. [degC or K]

    Returns
    -------
    float or numpy.ndarray
        log10 K.

    Notes
    -----
    Constant ΔH: good to a few hundredths of a log unit within ±25 K of
    25 °C for the reactions here.

    Examples
    --------
    >>> import math, oxalate
    >>> round(float(oxalate.log_k(math.log10(2.3e-9), 21.5, "37 degC")), 5)
    -8.49254
    """
    from ._quantities import registry  # the delta_h Quantity, if one is given

    if hasattr(delta_h, "m_as"):
        delta_h = delta_h.m_as(registry().kJ / registry().mol)
    return scalar_or_array(van_t_hoff(log_k25, delta_h, temperature_kelvin(temperature)))
