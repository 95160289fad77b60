"""Activity models, dispatched by name, and the ionic strength.

Models (``model=``):

``"ideal"``
    γ = 1.
``"debye-huckel"``
    Limiting law, log γ = -A z² √I.
``"extended-debye-huckel"``
    log γ = -A z² √I / (1 + B å √I), with the ion size å.
``"davies"``
    PHREEQC's Davies: log γ = -A z² (√I/(1+√I) - 0.3 I) for ions and
    log γ = 0.1 I for neutral species.  The default.
``"truesdell-jones"``
    WATEQ form, log γ = -A z² √I / (1 + B å √I) + b I.
``"equil2"``
    EQUIL2's modified Davies, ln γ₁ = -1.20218 (√I/(1+√I) - 0.285 I),
    γ_z = γ₁^(z²), neutral species γ = 1, independent of temperature.

Each model warns with :class:`~oxalate.OxalateRangeWarning` beyond the ionic
strength up to which it is trusted (``VALIDITY``).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from ._errors import OxalateRangeWarning, user_stacklevel
from .database import analyte
from .thermo import debye_huckel_a_kelvin, debye_huckel_b_kelvin
from .units import concentration, temperature_kelvin

__all__ = [
    "ACTIVITY_MODELS",
    "VALIDITY",
    "activity_coefficient",
    "ionic_strength",
    "log10_activity_coefficient",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]

#: Ionic strength [mol/kg] above which each model is no longer trusted.
#: Limiting law ~0.01, extended DH ~0.1, Davies ~0.5, Truesdell-Jones ~2
#: (Langmuir 1997, ch. 4); ideal only as I -> 0 (γ₂ already 0.86 at 1e-3).
VALIDITY: dict[str, float] = {
    "ideal": 1e-3,
    "debye-huckel": 1e-2,
    "extended-debye-huckel": 0.1,
    "davies": 0.5,
    "truesdell-jones": 2.0,
    "equil2": 0.5,
}

#: Names accepted by ``model=``.
ACTIVITY_MODELS: tuple[str, ...] = tuple(VALIDITY)

#: EQUIL2's activity constants (werness1985): ln-form A and the linear term.
EQUIL2_A_LN = 1.20218
EQUIL2_LINEAR = 0.285
#: PHREEQC's Davies linear coefficient and neutral-species salting coefficient.
DAVIES_LINEAR = 0.3
NEUTRAL_SALTING = 0.1

_LN10 = math.log(10.0)


def check_model(model: str) -> str:
    """Return the canonical model name or raise ``ValueError`` naming ``model``."""
    if not isinstance(model, str):
        raise TypeError(f"activity model={model!r} must be a string; accepted: {ACTIVITY_MODELS}")
    key = model.strip().lower().replace("_", "-").replace("ü", "u").replace("hueckel", "huckel")
    if key not in VALIDITY:
        raise ValueError(f"activity model={model!r} is not known; accepted: {ACTIVITY_MODELS}")
    return key


def warn_if_outside(model: str, ionic_strength: Any) -> None:
    """Warn with :class:`OxalateRangeWarning` where I exceeds the model's range.

    The warning names the caller's line outside the library, however deep the
    call (:func:`oxalate._errors.user_stacklevel`).
    """
    limit = VALIDITY[model]
    i = np.asarray(ionic_strength)
    over = i > limit
    if np.any(over):
        n = int(np.count_nonzero(over))
        warnings.warn(
            f"activity model {model!r} is trusted up to I = {limit:g} mol/kg; "
            f"{n} of {i.size} value(s) exceed it (max I = {float(np.nanmax(i)):.3g} mol/kg)",
            OxalateRangeWarning,
            stacklevel=user_stacklevel(),
        )


def _ideal(
    z: FloatArray, sqrt_i: FloatArray, i: FloatArray, a: Any, b: Any, size: Any, bdot: Any
) -> FloatArray:
    return np.zeros(np.broadcast_shapes(np.shape(z), np.shape(i)))


def _limiting(
    z: FloatArray, sqrt_i: FloatArray, i: FloatArray, a: Any, b: Any, size: Any, bdot: Any
) -> FloatArray:
    return np.asarray(-a * z * z * sqrt_i)


def _extended(
    z: FloatArray, sqrt_i: FloatArray, i: FloatArray, a: Any, b: Any, size: Any, bdot: Any
) -> FloatArray:
    return np.asarray(-a * z * z * sqrt_i / (1.0 + b * size * sqrt_i))


def _truesdell_jones(
    z: FloatArray, sqrt_i: FloatArray, i: FloatArray, a: Any, b: Any, size: Any, bdot: Any
) -> FloatArray:
    return np.asarray(-a * z * z * sqrt_i / (1.0 + b * size * sqrt_i) + bdot * i)


def _davies(
    z: FloatArray, sqrt_i: FloatArray, i: FloatArray, a: Any, b: Any, size: Any, bdot: Any
) -> FloatArray:
    if np.ndim(z) == 0:  # one charge for the whole batch: compute only its branch
        if z == 0:
            return np.asarray(NEUTRAL_SALTING * i)
        return np.asarray(-a * (z * z) * (sqrt_i / (1.0 + sqrt_i) - DAVIES_LINEAR * i))
    charged = -a * z * z * (sqrt_i / (1.0 + sqrt_i) - DAVIES_LINEAR * i)
    return np.asarray(np.where(z == 0, NEUTRAL_SALTING * i, charged))


def _equil2(
    z: FloatArray, sqrt_i: FloatArray, i: FloatArray, a: Any, b: Any, size: Any, bdot: Any
) -> FloatArray:
    return np.asarray(
        -(EQUIL2_A_LN / _LN10) * z * z * (sqrt_i / (1.0 + sqrt_i) - EQUIL2_LINEAR * i)
    )


_MODELS: dict[str, Callable[..., FloatArray]] = {
    "ideal": _ideal,
    "debye-huckel": _limiting,
    "extended-debye-huckel": _extended,
    "davies": _davies,
    "truesdell-jones": _truesdell_jones,
    "equil2": _equil2,
}


def log10_activity_coefficient(
    charge: Any,
    ionic_strength: Any,
    temperature: Any = 298.15,
    model: str = "davies",
    *,
    ion_size: Any = 0.0,
    b: Any = 0.0,
    water_activity: Any = 1.0,
    warn: bool = True,
) -> FloatArray:
    """log10 γ on plain floats: the fast, magnitude-only layer.

    Parameters
    ----------
    charge : float or array
        Ion charge z. [-]
    ionic_strength : float or array
        Ionic strength. [mol/kg]
    temperature : float or array
        Temperature. [K]
    model : str
        One of :data:`ACTIVITY_MODELS`.
    ion_size : float or array
        Ion-size parameter å, for the extended and Truesdell-Jones forms. [Å]
    b : float or array
        Truesdell-Jones linear term. [kg/mol]
    water_activity : float or array
        Passed to A(T) as PHREEQC does. [-]
    warn : bool
        Warn beyond the model's validity range.

    Returns
    -------
    numpy.ndarray
        log10 γ, broadcast over the inputs.

    Examples
    --------
    >>> from oxalate.activity import log10_activity_coefficient
    >>> round(float(log10_activity_coefficient(2, 0.1, 298.15, "davies")), 6)
    -0.428937
    """
    key = check_model(model)
    z = np.asarray(charge, dtype=np.float64)
    i = np.asarray(ionic_strength, dtype=np.float64)
    if warn:
        warn_if_outside(key, i)
    a: Any = 0.0
    bb: Any = 0.0
    if key not in ("ideal", "equil2"):
        a = debye_huckel_a_kelvin(temperature, water_activity)
        bb = debye_huckel_b_kelvin(temperature, water_activity)
    sqrt_i = np.sqrt(i)
    return _MODELS[key](z, sqrt_i, i, a, bb, np.asarray(ion_size), np.asarray(b))


def activity_coefficient(
    charge: Any,
    ionic_strength: Any,
    temperature: Any = "25 degC",
    model: str = "davies",
    *,
    ion: str | None = None,
    ion_size: Any = None,
    b: Any = None,
) -> Any:
    """Activity coefficient γ of an ion (molal scale).

    .. math::
        \\log_{10}\\gamma = -A z^2 \\left(\\frac{\\sqrt I}{1+\\sqrt I} - 0.3 I\\right)
        \\quad\\text{(Davies, PHREEQC)}

    and the other models listed in :mod:`oxalate.activity`.

    Parameters
    ----------
    charge : int or array
        Charge number z of the ion (0 for a neutral species). [-]
    ionic_strength : pint.Quantity or str
        Ionic strength, e.g. ``"0.15 mol/kg"``. [mol/kg]
    temperature : pint.Quantity or str, optional
        Temperature, 0-100 °C; default 25 °C. [degC or K]
    model : {"davies", "ideal", "debye-huckel", "extended-debye-huckel", \
"truesdell-jones", "equil2"}
        The activity model.
    ion : str, optional
        An analyte name (``"calcium"``) or key (``"Ca"``) whose WATEQ/Kielland
        å and b to use for the extended and Truesdell-Jones forms.
    ion_size : float, optional
        å, overrides ``ion``. [Å]
    b : float, optional
        Truesdell-Jones b, overrides ``ion``. [kg/mol]

    Returns
    -------
    float or numpy.ndarray
        γ. [-]

    Warns
    -----
    OxalateRangeWarning
        Above the model's range (:data:`VALIDITY`), e.g. Davies above
        I = 0.5 mol/kg.

    Notes
    -----
    Davies is trusted to about I = 0.5 mol/kg; urine is 0.15-0.3 and plasma
    about 0.16.  PHREEQC applies this Davies form (0.3) to every ion without
    ``-gamma`` parameters and log γ = 0.1 I to neutral species.  The EQUIL2
    model works in mol/L and has a fixed A (about 38 °C).

    References
    ----------
    .. [1] Davies, C. W. (1962), Ion Association, Butterworths.
    .. [2] Truesdell, A. H. and Jones, B. F. (1974), J. Res. USGS 2, 233.
    .. [3] Werness, P. G. et al. (1985), J. Urol. 134, 1242.

    Examples
    --------
    >>> import oxalate
    >>> round(float(oxalate.activity_coefficient(2, "0.15 mol/kg", "37 degC")), 5)
    0.32497
    >>> g = oxalate.activity_coefficient(2, "0.1 mol/kg", model="truesdell-jones", ion="calcium")
    >>> round(float(g), 4)
    0.3907
    """
    key = check_model(model)
    z = np.asarray(charge, dtype=np.float64)
    if not np.all(np.isfinite(z)):
        raise ValueError(f"charge={charge!r} must be finite")
    i, _basis = concentration(
        ionic_strength, argument="ionic_strength", analyte_name="ionic_strength"
    )
    t = temperature_kelvin(temperature)
    size = ion_size
    bdot = b
    if key in ("extended-debye-huckel", "truesdell-jones"):
        if ion is not None:
            info = analyte(ion)
            size = info.ion_size if size is None else size
            bdot = info.wateq_b if bdot is None else bdot
        if size is None:
            raise ValueError(
                f"model={model!r} needs an ion size: pass ion='calcium' (or another analyte) "
                f"or ion_size=<Å>"
            )
    gamma = 10.0 ** log10_activity_coefficient(
        z, i, t, key, ion_size=0.0 if size is None else size, b=0.0 if bdot is None else bdot
    )
    return gamma[()] if gamma.ndim == 0 else gamma


def ionic_strength(molalities: Any, charges: Any, *, axis: int = -1) -> Any:
    """Ionic strength I = ½ Σ mᵢ zᵢ².

    Parameters
    ----------
    molalities : array or Quantity
        Molalities of the species along ``axis``; a Quantity is converted to
        mol/kg, a plain array is read as mol/kg. [mol/kg]
    charges : array
        Charges of the species, broadcast along ``axis``. [-]
    axis : int
        The species axis.

    Returns
    -------
    float or numpy.ndarray
        Ionic strength. [mol/kg]

    Examples
    --------
    >>> from oxalate.activity import ionic_strength
    >>> float(ionic_strength([0.1, 0.2], [2, -1]))
    0.3
    """
    if hasattr(molalities, "m_as"):
        m = np.asarray(molalities.m_as("mol/kg"), dtype=np.float64)
    else:
        m = np.asarray(molalities, dtype=np.float64)
    z = np.asarray(charges, dtype=np.float64)
    out = 0.5 * np.sum(np.moveaxis(m, axis, -1) * z * z, axis=-1)
    return out[()] if np.ndim(out) == 0 else out
