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
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from ._errors import OxalateRangeWarning, user_stacklevel
from .database import analyte, analytes
from .thermo import debye_huckel_a_kelvin, debye_huckel_ab_kelvin
from .units import concentration, temperature_kelvin

__all__ = [
    "ACTIVITY_MODELS",
    "MODELS",
    "VALIDITY",
    "WATER_ACTIVITY_SLOPE",
    "ActivityModel",
    "Davies",
    "activity_coefficient",
    "activity_model",
    "ionic_strength",
    "log10_activity_coefficient",
    "water_activity",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]

#: EQUIL2's activity constants (werness1985): ln-form A and the linear term.
EQUIL2_A_LN = 1.20218
EQUIL2_LINEAR = 0.285
#: PHREEQC's Davies linear coefficient and neutral-species salting coefficient
#: (parkhurst2013).
DAVIES_LINEAR = 0.3
NEUTRAL_SALTING = 0.1
#: Water-activity slope of PHREEQC: a_w = 1 - 0.017 Σ m over every solute
#: species (parkhurst2013). [kg/mol]
WATER_ACTIVITY_SLOPE = 0.017

_LN10 = math.log(10.0)


def water_activity(total_molality: Any) -> FloatArray:
    """Water activity as PHREEQC computes it, a_w = 1 - 0.017 Σ m.

    Parameters
    ----------
    total_molality : float or array
        Sum of the molalities of every solute species. [mol/kg]

    Returns
    -------
    numpy.ndarray
        a_w, floored at 1e-3 (the engines' guard against nonsense while
        iterating). [-]

    Examples
    --------
    >>> from oxalate.activity import water_activity
    >>> float(water_activity(0.3))
    0.9949
    """
    return np.maximum(1.0 - WATER_ACTIVITY_SLOPE * np.asarray(total_molality), 1e-3)


class ActivityModel:
    """An activity model: log10 γ of every species and its derivative in ln I.

    One instance per model lives in :data:`MODELS`; look one up with
    :func:`activity_model`.  The speciation and reaction engines use only
    :meth:`log_gamma` (and, for the compiled kernels, the coefficients of
    :class:`Davies`); the public functions use :meth:`log10_gamma`.

    Attributes
    ----------
    name : str
        The name accepted by ``activity_model=``.
    validity : float
        Ionic strength up to which the model is trusted. [mol/kg]
    uses_temperature : bool
        Whether A (and B) depend on the temperature.
    uses_ion_size : bool
        Whether the model needs B(T) and each species' ion size å (WATEQ forms).
    """

    name = ""
    validity = 0.0
    uses_temperature = True
    uses_ion_size = False

    def log10_gamma(
        self,
        z: FloatArray,
        sqrt_i: FloatArray,
        i: FloatArray,
        a: Any,
        b: Any,
        size: Any,
        bdot: Any,
    ) -> FloatArray:
        """log10 γ of ions of charge ``z`` at I (elementwise, broadcast)."""
        raise NotImplementedError

    def _by_charge(
        self, z2: FloatArray, s: FloatArray, i: FloatArray, a: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """log10 γ and d log10 γ / d ln I of the charge classes ``z2`` (K,): (N, K) each.

        ``s`` = √I, ``i`` = I and ``a`` = A, each of shape (N, 1).
        """
        raise NotImplementedError

    def species_parameters(
        self, formulas: Sequence[str], z2: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """Ion size å [Å] (NaN: the model's charge-only form applies) and b of each species."""
        return np.full(len(z2), np.nan), np.zeros(len(z2))

    def log_gamma(
        self,
        z2: FloatArray,
        size: FloatArray,
        bdot: FloatArray,
        ln_i: FloatArray,
        a: FloatArray,
        b: FloatArray,
    ) -> tuple[FloatArray, FloatArray]:
        """log10 γ of every species and its derivative with respect to ln I.

        Parameters
        ----------
        z2 : numpy.ndarray, shape (S,)
            Squared charge of each species.
        size, bdot : numpy.ndarray, shape (S,)
            From :meth:`species_parameters`.
        ln_i : numpy.ndarray, shape (N,)
            ln of the ionic strength [mol/kg].
        a, b : numpy.ndarray, shape (N,)
            Debye-Hückel A(T) and B(T) (B is used by the WATEQ forms only).

        Returns
        -------
        log_gamma, dlog_gamma : numpy.ndarray, shape (N, S)
            γ depends on a species only through z² (and, for the WATEQ forms,
            its size), so it is computed once per charge class and gathered.
        """
        classes, cls_index = np.unique(z2, return_inverse=True)
        i = np.exp(ln_i)[:, None]
        s = np.sqrt(i)
        lg_c, dlg_c = self._by_charge(classes, s, i, a[:, None])
        lg = np.take(lg_c, cls_index, axis=1)
        dlg = np.take(dlg_c, cls_index, axis=1)
        return lg, dlg

    def __repr__(self) -> str:
        return f"<activity model {self.name!r}, trusted to I = {self.validity:g} mol/kg>"


class Ideal(ActivityModel):
    """γ = 1; trusted only as I → 0 (γ₂ is already 0.86 at 1e-3 mol/kg)."""

    name = "ideal"
    validity = 1e-3
    uses_temperature = False

    def log10_gamma(
        self,
        z: FloatArray,
        sqrt_i: FloatArray,
        i: FloatArray,
        a: Any,
        b: Any,
        size: Any,
        bdot: Any,
    ) -> FloatArray:
        return np.zeros(np.broadcast_shapes(np.shape(z), np.shape(i)))

    def log_gamma(
        self,
        z2: FloatArray,
        size: FloatArray,
        bdot: FloatArray,
        ln_i: FloatArray,
        a: FloatArray,
        b: FloatArray,
    ) -> tuple[FloatArray, FloatArray]:
        zero = np.zeros((len(ln_i), len(z2)))
        return zero, zero


class DebyeHuckel(ActivityModel):
    """The limiting law, log10 γ = -A z² √I; trusted to about 0.01 mol/kg."""

    name = "debye-huckel"
    validity = 1e-2

    def log10_gamma(
        self,
        z: FloatArray,
        sqrt_i: FloatArray,
        i: FloatArray,
        a: Any,
        b: Any,
        size: Any,
        bdot: Any,
    ) -> FloatArray:
        return np.asarray(-a * z * z * sqrt_i)

    def _by_charge(
        self, z2: FloatArray, s: FloatArray, i: FloatArray, a: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        lg = -a * z2 * s
        return lg, 0.5 * lg


class Davies(ActivityModel):
    """PHREEQC's Davies: log10 γ = -A z² (√I/(1+√I) - 0.3 I), neutral species 0.1 I.

    Parameters
    ----------
    linear : float
        The linear coefficient (0.3, PHREEQC's). [-]
    neutral : float
        Salting-out coefficient of neutral species (0.1, PHREEQC's). [kg/mol]
    """

    name = "davies"
    validity = 0.5

    def __init__(self, linear: float = DAVIES_LINEAR, neutral: float = NEUTRAL_SALTING) -> None:
        self.linear = linear
        self.neutral = neutral

    def log10_gamma(
        self,
        z: FloatArray,
        sqrt_i: FloatArray,
        i: FloatArray,
        a: Any,
        b: Any,
        size: Any,
        bdot: Any,
    ) -> FloatArray:
        if np.ndim(z) == 0:  # one charge for the whole batch: compute only its branch
            if z == 0:
                return np.asarray(self.neutral * i)
            return np.asarray(-a * (z * z) * (sqrt_i / (1.0 + sqrt_i) - self.linear * i))
        charged = -a * z * z * (sqrt_i / (1.0 + sqrt_i) - self.linear * i)
        return np.asarray(np.where(z == 0, self.neutral * i, charged))

    def _by_charge(
        self, z2: FloatArray, s: FloatArray, i: FloatArray, a: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        f = s / (1.0 + s) - self.linear * i
        df = 0.5 * s / (1.0 + s) ** 2 - self.linear * i  # d f / d ln I
        charged = z2 != 0
        lg = np.where(charged, -a * z2 * f, self.neutral * i)
        dlg = np.where(charged, -a * z2 * df, self.neutral * i)
        return lg, dlg


class Equil2Davies(ActivityModel):
    """EQUIL2's modified Davies: ln γ₁ = -1.20218 (√I/(1+√I) - 0.285 I), γ_z = γ₁^(z²).

    Neutral species have γ = 1 and A does not depend on the temperature
    (werness1985).
    """

    name = "equil2"
    validity = 0.5
    uses_temperature = False

    def __init__(self, a_ln: float = EQUIL2_A_LN, linear: float = EQUIL2_LINEAR) -> None:
        self.a_ln = a_ln
        self.linear = linear

    def log10_gamma(
        self,
        z: FloatArray,
        sqrt_i: FloatArray,
        i: FloatArray,
        a: Any,
        b: Any,
        size: Any,
        bdot: Any,
    ) -> FloatArray:
        return np.asarray(
            -(self.a_ln / _LN10) * z * z * (sqrt_i / (1.0 + sqrt_i) - self.linear * i)
        )

    def _by_charge(
        self, z2: FloatArray, s: FloatArray, i: FloatArray, a: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        coef = self.a_ln / _LN10
        f = s / (1.0 + s) - self.linear * i
        df = 0.5 * s / (1.0 + s) ** 2 - self.linear * i
        return -coef * z2 * f, -coef * z2 * df


class Wateq(ActivityModel):
    """The WATEQ forms for the free ions with tabulated å (and b); Davies for the rest.

    log10 γ = -A z² √I / (1 + B å √I) + b I (Truesdell-Jones; extended
    Debye-Hückel without the b I term).  Species without WATEQ parameters
    (the complexes) get PHREEQC's Davies, exactly as PHREEQC treats species
    without ``-gamma``.
    """

    uses_ion_size = True

    def __init__(self, name: str, validity: float, with_b: bool) -> None:
        self.name = name
        self.validity = validity
        self.with_b = with_b
        self._fallback = Davies()

    def log10_gamma(
        self,
        z: FloatArray,
        sqrt_i: FloatArray,
        i: FloatArray,
        a: Any,
        b: Any,
        size: Any,
        bdot: Any,
    ) -> FloatArray:
        core = -a * z * z * sqrt_i / (1.0 + b * size * sqrt_i)
        return np.asarray(core + bdot * i if self.with_b else core)

    def _by_charge(
        self, z2: FloatArray, s: FloatArray, i: FloatArray, a: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        return self._fallback._by_charge(z2, s, i, a)

    def species_parameters(
        self, formulas: Sequence[str], z2: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        # WATEQ parameters for the free ions that have them (truesdell1974)
        size = np.full(len(z2), np.nan)
        bdot = np.zeros(len(z2))
        table = {info.formula: info for info in analytes().values()}
        for j, formula in enumerate(formulas):
            info = table.get(formula)
            if info is not None:
                size[j] = info.ion_size
                bdot[j] = info.wateq_b if self.with_b else 0.0
        return size, bdot

    def log_gamma(
        self,
        z2: FloatArray,
        size: FloatArray,
        bdot: FloatArray,
        ln_i: FloatArray,
        a: FloatArray,
        b: FloatArray,
    ) -> tuple[FloatArray, FloatArray]:
        lg, dlg = super().log_gamma(z2, size, bdot, ln_i, a, b)
        wateq = ~np.isnan(size)
        i = np.exp(ln_i)[:, None]
        s = np.sqrt(i)
        a = a[:, None]
        bs = b[:, None] * size[wateq] * s
        lg[:, wateq] = -a * z2[wateq] * s / (1.0 + bs) + bdot[wateq] * i
        dlg[:, wateq] = -a * z2[wateq] * 0.5 * s / (1.0 + bs) ** 2 + bdot[wateq] * i
        return lg, dlg


#: Every activity model by name.  Limiting law ~0.01, extended DH ~0.1,
#: Davies ~0.5, Truesdell-Jones ~2 mol/kg (Langmuir 1997, ch. 4).
MODELS: Mapping[str, ActivityModel] = MappingProxyType(
    {
        m.name: m
        for m in (
            Ideal(),
            DebyeHuckel(),
            Wateq("extended-debye-huckel", 0.1, with_b=False),
            Davies(),
            Wateq("truesdell-jones", 2.0, with_b=True),
            Equil2Davies(),
        )
    }
)

#: Ionic strength [mol/kg] above which each model is no longer trusted.
VALIDITY: dict[str, float] = {name: m.validity for name, m in MODELS.items()}

#: Names accepted by ``model=``.
ACTIVITY_MODELS: tuple[str, ...] = tuple(VALIDITY)


def check_model(model: str) -> str:
    """Return the canonical model name or raise ``ValueError`` naming ``model``."""
    if not isinstance(model, str):
        raise TypeError(f"activity model={model!r} must be a string; accepted: {ACTIVITY_MODELS}")
    key = model.strip().lower().replace("_", "-").replace("ü", "u").replace("hueckel", "huckel")
    if key not in VALIDITY:
        raise ValueError(f"activity model={model!r} is not known; accepted: {ACTIVITY_MODELS}")
    return key


def activity_model(model: str) -> ActivityModel:
    """The :class:`ActivityModel` of a name accepted by ``activity_model=``.

    Examples
    --------
    >>> from oxalate.activity import activity_model
    >>> activity_model("Davies")
    <activity model 'davies', trusted to I = 0.5 mol/kg>
    """
    return MODELS[check_model(model)]


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
    model_obj = MODELS[key]
    if model_obj.uses_ion_size:
        a, bb = debye_huckel_ab_kelvin(temperature, water_activity)
    elif model_obj.uses_temperature:
        a = debye_huckel_a_kelvin(temperature, water_activity)
    sqrt_i = np.sqrt(i)
    return model_obj.log10_gamma(z, sqrt_i, i, a, bb, np.asarray(ion_size), np.asarray(b))


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
    if MODELS[key].uses_ion_size:
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
