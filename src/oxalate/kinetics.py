"""Rate laws of crystallisation, their parameter sets, and fitting them to measurements.

The records here describe *how fast* a phase forms; :func:`oxalate.crystallize`
(in :mod:`oxalate.crystallization`) integrates them over time with the
library's own speciation of the liquid.

Supersaturation
---------------
Named as in the theory page: Ω = IAP/Ksp (the library's ``supersaturation``),
S = Ω^{1/ν} and σ = S - 1, with ν the number of ions in the formula unit (2
for CaC₂O₄).  So Ω = 9 is S = 3 and σ = 2.  Every growth and bulk law is a
power of σ; nucleation uses ln Ω (classical nucleation theory written per
formula unit: ΔG* / k_B T = B / ln²Ω with B = 16π γ³ v² f / 3 (k_B T)³ and v the
volume of one formula unit; papers that write ln S put ν² under it, which is
the same number, so no second ν² enters here).

Laws
----
:class:`BulkRate`
    dξ/dt = k σ^n [mol per kg of initial water per s], independent of the
    crystals: PHREEQC's usual ``RATES`` form.
:class:`Growth`
    Size-independent linear growth G = dL/dt = k(T) σ^g [m/s] with an
    Arrhenius temperature dependence, and optional dissolution
    G = -k_d (1 - S)^{g_d} below saturation (first order in the relative
    undersaturation: Tomažič and Nancollas 1980).
:class:`Nucleation`
    J = A exp(-B / ln²Ω) [m⁻³ s⁻¹] (classical nucleation theory) with nuclei
    of the critical diameter L* = 4 γ v / (k_B T ln Ω), or a power law
    J = k_J σ^b.
:class:`Seeds`
    Crystals present at the start: an amount, mass or number per kg of
    water, a size and an optional log-normal spread.
:class:`Aggregation`
    Constant, laminar-shear or Brownian kernel (Smoluchowski 1917), on a
    sectional size grid (:class:`Grid`).
:class:`Solid`
    Density and shape factors of the crystals (L is an equivalent-sphere
    diameter by default).

Parameter sets
--------------
Named sets are rows of the package table ``oxalate/data/kinetics.csv``, each
value with its unit, uncertainty, source key and **status**:

``measured form``
    The form of the law as measured (e.g. growth ∝ σ²), not a constant.
``calibrated``
    Fitted to a property of a system, here the metastable limit of urine;
    an *effective* value, not a measurement of the quantity named.
``illustrative``
    An order of magnitude for examples; replace it with your own data
    (:func:`fit_growth`, :func:`fit_nucleation`).
``handbook value (not checked)``
    A material property as recalled from a handbook.

Every set records the constant set and activity model it was calibrated
with; using it with others warns (:class:`oxalate.OxalateWarning`), because
a nucleation rate is extremely sensitive to the Ksp behind Ω.  **No rate
constant of the literature could be transcribed for this version** (the
tables of Nancollas and Gardner 1974, Brown et al. 1991, Hounslow et al.
1988 and Kok and Khan 1994); the one set shipped, ``"illustrative-urine"``,
is labelled accordingly.  Never read an induction time or a crystal size
computed with it as a clinical prediction.

References
----------
.. [1] Nancollas, G. H. and Gardner, G. L. (1974), Kinetics of crystal growth
   of calcium oxalate monohydrate, J. Cryst. Growth 21, 267-276
   (nancollas1974).
.. [2] Tomažič, B. and Nancollas, G. H. (1980), Invest. Urol. 18, 97-101
   (tomazic1980).
.. [3] von Smoluchowski, M. (1917), Z. phys. Chem. 92, 129-168
   (smoluchowski1917).
.. [4] Mersmann, A. (1990), Calculation of interfacial tensions, J. Cryst.
   Growth 102, 841-847 (mersmann1990).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from . import _engines as engines
from ._common import package_data, read_csv, scalar_or_array
from ._errors import OxalateRangeWarning, OxalateWarning
from ._kinetics_inputs import phase_info as _phase_info
from ._kinetics_inputs import plain_number as _number
from ._kinetics_inputs import quantity_array as _value
from .units import Quantity, temperature_kelvin

__all__ = [
    "AVOGADRO",
    "BOLTZMANN",
    "PARAMETER_SETS",
    "Aggregation",
    "BulkRate",
    "Grid",
    "Growth",
    "GrowthFit",
    "Nucleation",
    "NucleationFit",
    "ParameterSet",
    "Seeds",
    "Solid",
    "critical_size",
    "default_solid",
    "fit_growth",
    "fit_nucleation",
    "growth_rate",
    "induction_time",
    "linear_growth_from_flux",
    "nucleation_rate",
    "parameter_set",
    "relative_supersaturation",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]

#: Boltzmann constant, exact in the 2019 SI. [J/K]
BOLTZMANN = 1.380649e-23
#: Avogadro constant, exact in the 2019 SI. [1/mol]
AVOGADRO = 6.02214076e23
#: Gas constant, exact in the 2019 SI. [J/(mol K)]
GAS_CONSTANT = BOLTZMANN * AVOGADRO

#: Names of the shipped parameter sets (rows of ``kinetics.csv``).
PARAMETER_SETS = ("illustrative-urine",)


# --- units at the edge ------------------------------------------------------------------------


# --- records ----------------------------------------------------------------------------------


@dataclass(frozen=True, init=False)
class Solid:
    """Density and shape of the crystals of one phase.

    Parameters
    ----------
    density : pint.Quantity or str
        Crystal density, e.g. ``"2.23 g/cm^3"``. [kg/m³]
    shape : {"sphere", "cube"}
        Sets the volume and area factors k_v, k_a (v = k_v L³, a = k_a L²):
        π/6 and π for spheres (L the diameter), 1 and 6 for cubes (L the
        edge).
    volume_factor, area_factor : float, optional
        Override the shape's k_v and k_a.

    Examples
    --------
    >>> from oxalate.kinetics import Solid
    >>> s = Solid("2.23 g/cm^3")
    >>> round(s.molar_volume(0.14611228) * 1e5, 4)  # m3/mol
    6.5521
    """

    density: float
    volume_factor: float
    area_factor: float

    def __init__(
        self,
        density: Any,
        *,
        shape: str = "sphere",
        volume_factor: float | None = None,
        area_factor: float | None = None,
    ) -> None:
        rho = float(_value(density, "kg/m^3", "density", "'2.23 g/cm^3'", positive=True))
        shapes = {"sphere": (math.pi / 6.0, math.pi), "cube": (1.0, 6.0)}
        if shape not in shapes:
            raise ValueError(f"shape={shape!r} is not known; accepted: 'sphere', 'cube'")
        kv, ka = shapes[shape]
        kv = (
            kv
            if volume_factor is None
            else float(_number(volume_factor, "volume_factor", strict=True))
        )
        ka = ka if area_factor is None else float(_number(area_factor, "area_factor", strict=True))
        object.__setattr__(self, "density", rho)
        object.__setattr__(self, "volume_factor", kv)
        object.__setattr__(self, "area_factor", ka)

    def molar_volume(self, molar_mass: float) -> float:
        """v_m = M/ρ for a molar mass M [kg/mol]. [m³/mol]"""
        return molar_mass / self.density


@dataclass(frozen=True, init=False)
class BulkRate:
    """dξ/dt = k σ^n per kg of initial water, for σ > 0 (0 otherwise).

    Independent of the crystals present: the usual form of a PHREEQC
    ``RATES`` block.  Both parameters may be arrays that broadcast to the
    batch.

    Parameters
    ----------
    k : pint.Quantity or str
        Rate constant, e.g. ``"1e-7 mol/kg/s"``. [mol kg⁻¹ s⁻¹]
    order : float or array
        n ≥ 1. [-]

    Examples
    --------
    >>> from oxalate.kinetics import BulkRate
    >>> BulkRate("1e-7 mol/kg/s", order=2).k
    array(1.e-07)
    """

    k: FloatArray
    order: FloatArray

    def __init__(self, k: Any, order: Any = 2.0) -> None:
        object.__setattr__(self, "k", _value(k, "mol/kg/s", "k", "'1e-7 mol/kg/s'"))
        object.__setattr__(self, "order", _number(order, "order", low=1.0))


@dataclass(frozen=True, init=False)
class Growth:
    """Size-independent linear growth G = dL/dt = k(T) σ^g, and optional dissolution.

    k(T) = k exp[-(E_a/R)(1/T - 1/T_ref)].  Below saturation the crystals
    dissolve at G = -k_d (1 - S)^{g_d} if ``dissolution`` is given (only
    where crystals exist), else they keep their size.

    Parameters
    ----------
    k : pint.Quantity or str
        Growth rate constant at ``reference_temperature``, e.g.
        ``"3e-11 m/s"``; may be an array over the batch. [m/s]
    order : float or array
        g ≥ 1 (2 for the surface-controlled growth of COM). [-]
    activation_energy : pint.Quantity or str
        E_a, default 0 (k independent of T). [J/mol]
    reference_temperature : pint.Quantity or str
        T_ref, default 37 °C. [K]
    dissolution : pint.Quantity or str, optional
        k_d [m/s]; ``None``: no dissolution.
    dissolution_order : float
        g_d ≥ 1, default 1. [-]

    Examples
    --------
    >>> from oxalate.kinetics import Growth
    >>> g = Growth("3e-11 m/s", activation_energy="40 kJ/mol")
    >>> round(float(g.rate_constant(298.15)) / 3e-11, 3)  # slower at 25 °C
    0.536
    """

    k: FloatArray
    order: FloatArray
    activation_energy: FloatArray
    reference_temperature: FloatArray
    dissolution: FloatArray | None
    dissolution_order: FloatArray

    def __init__(
        self,
        k: Any,
        order: Any = 2.0,
        *,
        activation_energy: Any = "0 kJ/mol",
        reference_temperature: Any = "37 degC",
        dissolution: Any = None,
        dissolution_order: Any = 1.0,
    ) -> None:
        object.__setattr__(self, "k", _value(k, "m/s", "k", "'3e-11 m/s'"))
        object.__setattr__(self, "order", _number(order, "order", low=1.0))
        ea = _value(activation_energy, "J/mol", "activation_energy", "'45 kJ/mol'")
        object.__setattr__(self, "activation_energy", ea)
        tref = temperature_kelvin(reference_temperature, argument="reference_temperature")
        object.__setattr__(self, "reference_temperature", tref)
        kd = (
            None
            if dissolution is None
            else _value(dissolution, "m/s", "dissolution", "'1e-9 m/s'")
        )
        object.__setattr__(self, "dissolution", kd)
        object.__setattr__(
            self,
            "dissolution_order",
            _number(dissolution_order, "dissolution_order", low=1.0),
        )

    def rate_constant(self, temperature: Any) -> FloatArray:
        """k at ``temperature`` [K] (Arrhenius). [m/s]"""
        t = np.asarray(temperature, dtype=np.float64)
        factor = np.exp(
            -self.activation_energy / GAS_CONSTANT * (1.0 / t - 1.0 / self.reference_temperature)
        )
        return np.asarray(self.k * factor)


@dataclass(frozen=True, init=False)
class Nucleation:
    """Primary nucleation: classical nucleation theory, or a power law in σ.

    CNT: J = A exp(-B / ln²Ω) for Ω > 1 with
    B = 16π γ³ v² f / (3 (k_B T)³), v the volume of a formula unit, f ≤ 1 a
    heterogeneity factor (or fold it into an effective γ).  Nuclei appear at
    the critical diameter L* = 4 γ v / (k_B T ln Ω) (``nucleus_size="critical"``)
    or at zero size (``"zero"``).

    Parameters
    ----------
    interfacial_energy : pint.Quantity or str
        γ, e.g. ``"44 mJ/m^2"``. [J/m²]
    prefactor : pint.Quantity or str
        A, e.g. ``"1e20 1/m^3/s"``. [m⁻³ s⁻¹]
    factor : float
        f, default 1. [-]
    nucleus_size : {"critical", "zero"}

    See Also
    --------
    Nucleation.power_law : J = k_J σ^b.

    Examples
    --------
    >>> from oxalate.kinetics import Nucleation
    >>> n = Nucleation("44 mJ/m^2", "1e20 1/m^3/s")
    >>> round(float(n.barrier(310.15, 1.0880e-28)), 1)  # B at 37 °C for COM
    215.2
    """

    kind: str
    interfacial_energy: FloatArray
    prefactor: FloatArray
    factor: FloatArray
    order: FloatArray
    nucleus_size: str

    def __init__(
        self,
        interfacial_energy: Any,
        prefactor: Any,
        *,
        factor: Any = 1.0,
        nucleus_size: str = "critical",
    ) -> None:
        gamma = _value(
            interfacial_energy, "J/m^2", "interfacial_energy", "'44 mJ/m^2'", positive=True
        )
        a = _value(prefactor, "1/m^3/s", "prefactor", "'1e20 1/m^3/s'")
        if nucleus_size not in ("critical", "zero"):
            raise ValueError(
                f"nucleus_size={nucleus_size!r} is not known; accepted: 'critical', 'zero'"
            )
        f = _number(factor, "factor", strict=True)
        for name, value in (("kind", "cnt"), ("interfacial_energy", gamma), ("prefactor", a),
                            ("factor", f), ("order", np.asarray(0.0)),
                            ("nucleus_size", nucleus_size)):  # fmt: skip
            object.__setattr__(self, name, value)

    @classmethod
    def power_law(cls, k: Any, order: Any) -> Nucleation:
        """J = k_J σ^b [m⁻³ s⁻¹] for σ > 0; nuclei of zero size.

        Examples
        --------
        >>> from oxalate.kinetics import Nucleation
        >>> Nucleation.power_law("1e6 1/m^3/s", 4).kind
        'power'
        """
        new = object.__new__(cls)
        for name, value in (
            ("kind", "power"),
            ("interfacial_energy", np.asarray(np.nan)),
            ("prefactor", _value(k, "1/m^3/s", "k", "'1e6 1/m^3/s'")),
            ("factor", np.asarray(1.0)),
            ("order", _number(order, "order", low=1.0)),
            ("nucleus_size", "zero"),
        ):
            object.__setattr__(new, name, value)
        return new

    def barrier(self, temperature: Any, molecular_volume: float) -> FloatArray:
        """B of J = A exp(-B/ln²Ω) at ``temperature`` [K] for a formula-unit volume v [m³]."""
        kt = BOLTZMANN * np.asarray(temperature, dtype=np.float64)
        gamma = self.interfacial_energy
        return np.asarray(
            16.0 * math.pi * gamma**3 * molecular_volume**2 * self.factor / (3.0 * kt**3)
        )

    def size_coefficient(self, temperature: Any, molecular_volume: float) -> FloatArray:
        """c of L* = c / ln Ω (the critical diameter 4 γ v / k_B T ln Ω); 0 for ``"zero"``. [m]"""
        if self.nucleus_size == "zero" or self.kind != "cnt":
            return np.zeros(np.shape(temperature))
        kt = BOLTZMANN * np.asarray(temperature, dtype=np.float64)
        return np.asarray(4.0 * self.interfacial_energy * molecular_volume / kt)


@dataclass(frozen=True, init=False)
class Seeds:
    """Crystals present at the start of a run.

    Give exactly one of ``amount``, ``mass`` or ``number`` (per kg of
    water), and their ``size``.  With ``spread`` the sizes are log-normal
    by number, ``size`` the median and ``spread`` the geometric standard
    deviation; the largest seed is taken at three of them above the median.

    Parameters
    ----------
    amount : pint.Quantity or str, optional
        Moles of solid per kg of water, e.g. ``"0.1 mmol/kg"``. [mol/kg]
    mass : pint.Quantity or str, optional
        Mass of solid per kg of water, e.g. ``"20 mg/kg"``. [kg/kg]
    number : pint.Quantity or str, optional
        Crystals per kg of water, e.g. ``"1e9 1/kg"``. [1/kg]
    size : pint.Quantity or str
        Characteristic size L (equivalent-sphere diameter by default). [m]
    spread : float, optional
        Geometric standard deviation (> 1); ``None``: all seeds alike.

    Examples
    --------
    >>> from oxalate.kinetics import Seeds
    >>> Seeds(mass="20 mg/kg", size="10 um").size
    array(1.e-05)
    """

    amount: FloatArray | None
    mass: FloatArray | None
    number: FloatArray | None
    size: FloatArray
    spread: float | None

    def __init__(
        self,
        amount: Any = None,
        *,
        mass: Any = None,
        number: Any = None,
        size: Any,
        spread: float | None = None,
    ) -> None:
        given = [x is not None for x in (amount, mass, number)]
        if sum(given) != 1:
            raise ValueError("Seeds: give exactly one of amount=, mass= or number=")
        object.__setattr__(
            self,
            "amount",
            None if amount is None else _value(amount, "mol/kg", "amount", "'0.1 mmol/kg'"),
        )
        object.__setattr__(
            self,
            "mass",
            None if mass is None else _value(mass, "kg/kg", "mass", "'20 mg/kg'"),
        )
        object.__setattr__(
            self,
            "number",
            None if number is None else _value(number, "1/kg", "number", "'1e9 1/kg'"),
        )
        object.__setattr__(self, "size", _value(size, "m", "size", "'10 um'", positive=True))
        if spread is not None:
            spread = float(_number(spread, "spread", low=1.0))
            if spread == 1.0:
                spread = None
        object.__setattr__(self, "spread", spread)

    def moments(self, molar_mass: float, sol: Solid) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Amount [mol/kg], μ₀..μ₂ (..., 3) [m^k/kg] and the largest seed [m]."""
        vm = sol.molar_volume(molar_mass)
        s = 0.0 if self.spread is None else math.log(self.spread)
        size = self.size

        def factor(k: int) -> float:
            return math.exp(0.5 * k * k * s * s)

        if self.number is not None:
            number = self.number
            amount = number * sol.volume_factor * size**3 * factor(3) / vm
        else:
            amount = self.amount if self.amount is not None else np.asarray(self.mass) / molar_mass
            number = amount * vm / (sol.volume_factor * size**3 * factor(3))
        number, size = np.broadcast_arrays(number, size)
        mom = np.stack([number * size**k * factor(k) for k in range(3)], axis=-1)
        largest = size * math.exp(3.0 * s)
        return np.asarray(np.broadcast_to(amount, number.shape)), mom, np.asarray(largest)


@dataclass(frozen=True, init=False)
class Aggregation:
    """Aggregation (collision) kernel β(L_i, L_j), times a collision efficiency.

    ``"constant"``: β = β₀ (``rate``, m³/s); ``"shear"``: laminar shear,
    β = (G_s/6)(L_i + L_j)³ with the shear rate G_s (``shear_rate``, 1/s);
    ``"brownian"``: β = (2 k_B T / 3μ)(L_i + L_j)²/(L_i L_j) with the
    viscosity μ (Smoluchowski 1917; L are diameters).  Needs the sectional
    method of :func:`oxalate.crystallize`.

    Parameters
    ----------
    kernel : {"constant", "shear", "brownian"}
    rate : pint.Quantity or str, optional
        β₀ for ``"constant"``. [m³/s]
    shear_rate : pint.Quantity or str, optional
        G_s for ``"shear"``. [1/s]
    efficiency : float or array
        Collision efficiency, 0-1 (default 1). [-]
    viscosity : pint.Quantity or str
        μ for ``"brownian"``; default 0.692 mPa s, water at 37 °C
        (huber2009). [Pa s]

    Examples
    --------
    >>> from oxalate.kinetics import Aggregation
    >>> Aggregation("shear", shear_rate="100 1/s", efficiency=0.1).kernel
    'shear'
    """

    kernel: str
    rate: FloatArray
    efficiency: FloatArray
    viscosity: FloatArray

    def __init__(
        self,
        kernel: str = "constant",
        *,
        rate: Any = None,
        shear_rate: Any = None,
        efficiency: Any = 1.0,
        viscosity: Any = "0.692 mPa*s",
    ) -> None:
        if kernel not in ("constant", "shear", "brownian"):
            raise ValueError(
                f"kernel={kernel!r} is not known; accepted: 'constant', 'shear', 'brownian'"
            )
        if kernel == "constant":
            if rate is None:
                raise ValueError("Aggregation('constant') needs rate=, e.g. '1e-16 m^3/s'")
            value = _value(rate, "m^3/s", "rate", "'1e-16 m^3/s'")
        elif kernel == "shear":
            if shear_rate is None:
                raise ValueError("Aggregation('shear') needs shear_rate=, e.g. '100 1/s'")
            value = _value(shear_rate, "1/s", "shear_rate", "'100 1/s'")
        else:
            value = np.asarray(np.nan)
        eff = _number(efficiency, "efficiency")
        if np.any(eff > 1):
            raise ValueError(f"efficiency={efficiency!r} must lie in 0-1")
        mu = _value(viscosity, "Pa*s", "viscosity", "'0.692 mPa*s'", positive=True)
        for name, v in (
            ("kernel", kernel),
            ("rate", value),
            ("efficiency", eff),
            ("viscosity", mu),
        ):
            object.__setattr__(self, name, v)


@dataclass(frozen=True, init=False)
class Grid:
    """The sectional method's size classes: pivots from ``smallest`` to ``largest``.

    Pivot volumes grow by ``ratio`` (2: each class holds twice the volume of
    the one below, Hounslow et al. 1988); 1 nm to 1 mm gives 61 classes.

    Examples
    --------
    >>> from oxalate.kinetics import Grid
    >>> Grid("1 nm", "1 mm").ratio
    2.0
    """

    smallest: float
    largest: float
    ratio: float

    def __init__(self, smallest: Any = "1 nm", largest: Any = "1 mm", ratio: float = 2.0) -> None:
        lo = float(_value(smallest, "m", "smallest", "'1 nm'", positive=True))
        hi = float(_value(largest, "m", "largest", "'1 mm'", positive=True))
        if not hi > lo:
            raise ValueError(f"Grid: largest={largest!r} must exceed smallest={smallest!r}")
        r = float(_number(ratio, "ratio", low=1.0, strict=True))
        object.__setattr__(self, "smallest", lo)
        object.__setattr__(self, "largest", hi)
        object.__setattr__(self, "ratio", r)


# --- parameter sets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ParameterEntry:
    """One row of ``kinetics.csv``."""

    phase: str
    parameter: str
    value: float
    unit: str
    uncertainty: str
    status: str
    source: str
    note: str


@dataclass(frozen=True)
class ParameterSet:
    """A named, sourced set of kinetic parameters, bound to a constant set and activity model.

    Attributes
    ----------
    name : str
    constants : str
        The constant set the values were calibrated with.
    activity_model : str
    entries : Mapping of (phase, parameter) to ParameterEntry
        Every value with its unit, uncertainty, status, source and note.

    Examples
    --------
    >>> from oxalate.kinetics import parameter_set
    >>> p = parameter_set("illustrative-urine")
    >>> p.status("COM", "interfacial_energy")
    'calibrated'
    >>> float(p.growth("COM").k)
    3e-11
    """

    name: str
    constants: str
    activity_model: str
    entries: Mapping[tuple[str, str], ParameterEntry]

    def _get(self, phase: str, parameter: str) -> ParameterEntry:
        try:
            return self.entries[(phase, parameter)]
        except KeyError:
            have = sorted({p for p, _ in self.entries})
            raise ValueError(
                f"parameter set {self.name!r} has no {parameter!r} for {phase!r} "
                f"(phases it covers: {have})"
            ) from None

    def quantity(self, phase: str, parameter: str) -> Any:
        """The value of one parameter as a Quantity."""
        e = self._get(phase, parameter)
        return Quantity(e.value, e.unit or "dimensionless")

    def status(self, phase: str, parameter: str) -> str:
        """The status of one value: measured form, calibrated, illustrative, ..."""
        return self._get(phase, parameter).status

    def growth(self, phase: str = "COM") -> Growth:
        """The set's :class:`Growth` of ``phase``."""
        q = self.quantity
        return Growth(
            q(phase, "growth_rate_constant"),
            float(q(phase, "growth_order").m_as("")),
            reference_temperature=q(phase, "reference_temperature"),
        )

    def nucleation(self, phase: str = "COM") -> Nucleation:
        """The set's classical :class:`Nucleation` of ``phase``."""
        q = self.quantity
        return Nucleation(q(phase, "interfacial_energy"), q(phase, "nucleation_prefactor"))

    def temperature(self, phase: str = "COM") -> float:
        """The temperature the set applies at. [K]"""
        return float(temperature_kelvin(self.quantity(phase, "reference_temperature")))


@cache
def _kinetics_rows() -> tuple[dict[str, str], ...]:
    return tuple(read_csv(package_data("kinetics.csv")))


@cache
def parameter_set(name: str) -> ParameterSet:
    """A shipped parameter set by name (see :data:`PARAMETER_SETS`).

    Raises
    ------
    ValueError
        For an unknown name.

    Examples
    --------
    >>> from oxalate.kinetics import parameter_set
    >>> parameter_set("illustrative-urine").constants
    'default'
    """
    if name not in PARAMETER_SETS:
        raise ValueError(f"parameter set {name!r} is not known; accepted: {list(PARAMETER_SETS)}")
    rows = [r for r in _kinetics_rows() if r["set"] == name]
    entries = {
        (r["phase"], r["parameter"]): ParameterEntry(
            r["phase"],
            r["parameter"],
            float(r["value"]),
            r["unit"],
            r["uncertainty"],
            r["status"],
            r["source"],
            r["note"],
        )
        for r in rows
    }
    return ParameterSet(
        name=name,
        constants=rows[0]["constant_set"],
        activity_model=rows[0]["activity_model"],
        entries=MappingProxyType(entries),
    )


def default_solid(phase: str) -> Solid:
    """The crystal properties the package ships for ``phase`` (sphere, density from the table).

    Raises
    ------
    ValueError
        For a phase without a density in ``kinetics.csv``; pass your own
        :class:`Solid` to :func:`oxalate.crystallize` then.

    Examples
    --------
    >>> from oxalate.kinetics import default_solid
    >>> default_solid("COM").density
    2230.0
    """
    for r in _kinetics_rows():
        if r["set"] == "crystal" and r["phase"] == phase and r["parameter"] == "density":
            return Solid(Quantity(float(r["value"]), r["unit"]))
    raise ValueError(
        f"no crystal density is shipped for {phase!r}; pass solid={{'{phase}': "
        f"oxalate.kinetics.Solid('... g/cm^3')}}"
    )


def check_binding(parameters: ParameterSet, constants: str, activity_model: str) -> None:
    """Warn when a parameter set is used with another constant set or activity model."""
    if parameters.constants != constants or parameters.activity_model != activity_model:
        warnings.warn(
            f"parameter set {parameters.name!r} was calibrated with constants="
            f"{parameters.constants!r} and activity_model={parameters.activity_model!r}, "
            f"not {constants!r} and {activity_model!r}: Ω differs between them, and rates "
            f"(nucleation above all) depend steeply on Ω",
            OxalateWarning,
            stacklevel=3,
        )


# --- vectorised rate functions ----------------------------------------------------------------


def relative_supersaturation(omega: Any, ions: int = 2) -> Any:
    """σ = Ω^{1/ν} - 1 from the supersaturation Ω.

    Parameters
    ----------
    omega : float or array
        Ω = IAP/Ksp. [-]
    ions : int
        ν, ions per formula unit (2 for calcium oxalate).

    Returns
    -------
    float or numpy.ndarray
        σ. [-]

    Examples
    --------
    >>> from oxalate.kinetics import relative_supersaturation
    >>> float(relative_supersaturation(9.0))
    2.0
    """
    w = _number(omega, "omega")
    return scalar_or_array(w ** (1.0 / ions) - 1.0)


def growth_rate(
    omega: Any,
    growth: Growth | BulkRate,
    *,
    temperature: Any = "37 degC",
    phase: str = "COM",
    constants: Any = "default",
) -> Any:
    """The rate of a growth or bulk law at Ω (the engine's own formula).

    Parameters
    ----------
    omega : float or array
        Ω. [-]
    growth : Growth or BulkRate
    temperature : pint.Quantity or str
    phase : str
        Sets ν.

    Returns
    -------
    float or numpy.ndarray
        G [m/s] for :class:`Growth` (negative: dissolution), dξ/dt
        [mol kg⁻¹ s⁻¹] for :class:`BulkRate`.

    Examples
    --------
    >>> from oxalate.kinetics import Growth, growth_rate
    >>> float(growth_rate(9.0, Growth("3e-11 m/s")))  # k σ² with σ = 2
    1.2e-10
    """
    _, ions, _ = _phase_info(phase, constants)
    u = np.log(_number(omega, "omega"))
    t = temperature_kelvin(temperature)
    if isinstance(growth, BulkRate):
        k, kd, gd = growth.k, np.zeros(()), np.ones(())
        order = growth.order
    elif isinstance(growth, Growth):
        k = growth.rate_constant(t)
        kd = np.zeros(()) if growth.dissolution is None else growth.dissolution
        order, gd = growth.order, growth.dissolution_order
    else:
        raise TypeError(f"growth={growth!r} must be a Growth or a BulkRate")
    u, k, order, kd, gd = np.broadcast_arrays(u, k, order, kd, gd)
    r, _ = engines.crystal.power_rate(u, float(ions), k, order, kd, gd)
    return scalar_or_array(r)


def linear_growth_from_flux(
    flux: Any,
    *,
    phase: str = "COM",
    solid: Solid | None = None,
    constants: Any = "default",
) -> Any:
    """The linear growth rate G = dL/dt of a molar growth flux R per crystal area.

    Constant-composition experiments (Nancollas and co-workers) report a
    flux R, moles per m² of crystal (or substrate) per unit time.  For
    crystals of volume k_v L³ and area k_a L², dξ/dt = (3 k_v/v_m) L² G per
    crystal equals k_a L² R, so

    .. math:: G = \\frac{k_a}{3 k_v}\\, v_m\\, R

    which is 2 v_m R for spheres and for cubes alike.

    Parameters
    ----------
    flux : pint.Quantity or str
        R, e.g. ``"0.56e-7 mol/min/m^2"``. [mol m⁻² s⁻¹]
    phase : str
        Sets the molar mass.
    solid : Solid, optional
        Density and shape; default :func:`default_solid` (sphere, 2.23
        g/cm³ for COM).
    constants
        As for :func:`oxalate.speciate` (the phase's molar mass).

    Returns
    -------
    pint.Quantity
        G. [m/s]

    Examples
    --------
    Wu, Gerard & Nancollas (1999): COM on hydroxyapatite at σ = 1.44 grew at
    0.56e-7 mol min⁻¹ m⁻² (a flux per m² of substrate):

    >>> from oxalate.kinetics import linear_growth_from_flux
    >>> linear_growth_from_flux("0.56e-7 mol/min/m^2").to("nm/h").round(2)
    <Quantity(0.44, 'nanometer / hour')>
    """
    key, _, mass = _phase_info(phase, constants)
    if solid is not None and not isinstance(solid, Solid):
        raise TypeError(f"solid={solid!r} must be an oxalate.kinetics.Solid")
    props = default_solid(key) if solid is None else solid
    r = _value(flux, "mol/m^2/s", "flux", "'0.56e-7 mol/min/m^2'")
    g = props.area_factor / (3.0 * props.volume_factor) * props.molar_volume(mass) * r
    return Quantity(scalar_or_array(g), "m/s")


def _nucleation_arrays(
    omega: Any, nucleation: Nucleation, temperature: Any, phase: str, sol: Solid | None,
    constants: Any,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, float]:  # fmt: skip
    key, ions, mass = _phase_info(phase, constants)
    crystal_props = sol if sol is not None else default_solid(key)
    v = crystal_props.molar_volume(mass) / AVOGADRO
    t = temperature_kelvin(temperature)
    u = np.log(_number(omega, "omega"))
    if nucleation.kind == "power":
        u, a, b = np.broadcast_arrays(u, nucleation.prefactor, nucleation.order)
        j, _ = engines.crystal.nucleation_power(u, float(ions), a, b)
        return j, np.zeros_like(j), u, np.zeros_like(j), crystal_props.volume_factor
    barrier = nucleation.barrier(t, v)
    c = nucleation.size_coefficient(t, v)
    u, a, barrier, c = np.broadcast_arrays(u, nucleation.prefactor, barrier, c)
    j, _, size, _ = engines.crystal.nucleation_cnt(u, a, barrier, c)
    return j, size, u, barrier, crystal_props.volume_factor


def nucleation_rate(
    omega: Any,
    nucleation: Nucleation,
    *,
    temperature: Any = "37 degC",
    phase: str = "COM",
    solid: Solid | None = None,
    constants: Any = "default",
) -> Any:
    """J at Ω: A exp(-B / ln²Ω) (CNT) or k_J σ^b. [m⁻³ s⁻¹]

    Examples
    --------
    >>> from oxalate.kinetics import Nucleation, nucleation_rate
    >>> n = Nucleation("44 mJ/m^2", "1e20 1/m^3/s")
    >>> f"{float(nucleation_rate(10.0, n)):.3g}"  # 1e20 exp(-215.18/ln²10), about 1/mL/h
    '237'
    """
    j, *_ = _nucleation_arrays(omega, nucleation, temperature, phase, solid, constants)
    return scalar_or_array(j)


def critical_size(
    omega: Any,
    nucleation: Nucleation,
    *,
    temperature: Any = "37 degC",
    phase: str = "COM",
    solid: Solid | None = None,
    constants: Any = "default",
) -> Any:
    """The critical nucleus diameter L* = 4 γ v / (k_B T ln Ω) (NaN for Ω ≤ 1). [m]

    Examples
    --------
    >>> from oxalate.kinetics import Nucleation, critical_size
    >>> round(float(critical_size(10.0, Nucleation("44 mJ/m^2", "1e20 1/m^3/s"))) * 1e9, 2)
    1.94
    """
    _, size, u, _, _ = _nucleation_arrays(omega, nucleation, temperature, phase, solid, constants)
    return scalar_or_array(np.where(u > 0, size, np.nan))


def induction_time(
    omega: Any,
    nucleation: Nucleation,
    *,
    volume: Any = "1 mL",
    criterion: str = "first_nucleus",
    growth: Growth | None = None,
    detection: float = 1e-5,
    temperature: Any = "37 degC",
    phase: str = "COM",
    solid: Solid | None = None,
    constants: Any = "default",
) -> Any:
    """Closed-form induction times at a constant Ω (no depletion).

    ``"first_nucleus"``: the mean waiting time for one nucleus in the
    volume V, t = 1/(J V) (the stochastic, mononuclear regime of small
    volumes).  ``"detection"``: the time at which nuclei born at zero size
    and growing at G fill the volume fraction φ of the solution,
    φ = k_v J G³ t⁴ / 4, so t = (4 φ / (k_v J G³))^{1/4} (needs ``growth``).
    :func:`oxalate.crystallize` computes the second with depletion and the
    full speciation (its ``induction_time``).

    Parameters
    ----------
    omega : float or array
    nucleation : Nucleation
    volume : pint.Quantity or str
        V for ``"first_nucleus"``. [m³]
    criterion : {"first_nucleus", "detection"}
    growth : Growth, optional
    detection : float
        φ, the volume fraction of solid detected (default 1e-5). [-]

    Returns
    -------
    float or numpy.ndarray
        [s]; inf where Ω ≤ 1.

    Examples
    --------
    >>> from oxalate.kinetics import Growth, Nucleation, induction_time
    >>> n = Nucleation("44 mJ/m^2", "1e20 1/m^3/s")
    >>> round(float(induction_time(10.0, n)) / 3600, 2)  # hours, in 1 mL: 1/(J V), J = 237
    1.17
    >>> round(float(induction_time(30.0, n, criterion="detection", growth=Growth("3e-11 m/s"))))
    805
    """
    j, _, u, _, kv = _nucleation_arrays(omega, nucleation, temperature, phase, solid, constants)
    with np.errstate(divide="ignore"):
        if criterion == "first_nucleus":
            v = _value(volume, "m^3", "volume", "'1 mL'", positive=True)
            out = 1.0 / (j * v)
        elif criterion == "detection":
            if not isinstance(growth, Growth):
                raise ValueError("criterion='detection' needs growth=oxalate.kinetics.Growth(...)")
            phi = float(_number(detection, "detection", strict=True))
            g = growth_rate(
                np.exp(u), growth, temperature=temperature, phase=phase, constants=constants
            )
            out = (4.0 * phi / (kv * j * np.asarray(g) ** 3)) ** 0.25
        else:
            raise ValueError(
                f"criterion={criterion!r} is not known; accepted: 'first_nucleus', 'detection'"
            )
    return scalar_or_array(np.where(u > 0, out, np.inf))


# --- fitting ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrowthFit:
    """A growth law fitted to a desupersaturation curve (:func:`fit_growth`).

    Attributes
    ----------
    growth : Growth
        The fitted law.
    k, k_std : float
        Rate constant and its standard error. [m/s]
    order, order_std : float
        g and its standard error (0 when g was held). [-]
    residuals : numpy.ndarray
        Model minus data at each time, in the data's units (mol/kg).
    rmse : float
        Root-mean-square residual. [mol/kg]
    crystallization : Crystallization
        The fitted model at the data's times.
    """

    growth: Growth
    k: float
    k_std: float
    order: float
    order_std: float
    residuals: FloatArray
    rmse: float
    crystallization: Any


def fit_growth(
    solution: Any,
    time: Any,
    *,
    seeds: Seeds,
    calcium: Any = None,
    precipitated: Any = None,
    order: float | None = 2.0,
    k0: Any = "1e-11 m/s",
    phase: str = "COM",
    ph_mode: str = "closed",
    solid: Solid | None = None,
    activity_model: str = "davies",
    constants: Any = "default",
    rtol: float = 1e-8,
) -> GrowthFit:
    """Fit G = k σ^g to a seeded-growth run: calcium (or solid formed) against time.

    The model is :func:`oxalate.crystallize` with :class:`Growth` and the
    seeds of the run, on the library's speciation; k (and g unless held)
    minimise the squared residuals (``scipy.optimize.least_squares`` on
    ln k and g).  Each evaluation runs the model once for the parameters and
    once per parameter perturbed, as rows of one batch.  Standard errors
    come from the Jacobian at the optimum, s² (JᵀJ)⁻¹ with s² the residual
    variance.

    Parameters
    ----------
    solution : Solution
        The solution at t = 0 (one row).
    time : pint.Quantity
        The measurement times, ascending. [s]
    seeds : Seeds
    calcium : pint.Quantity, optional
        Total dissolved calcium measured at each time, per kg of water.
        [mol/kg]
    precipitated : pint.Quantity, optional
        Or the solid formed at each time (e.g. from conductivity), per kg of
        initial water. [mol/kg]
    order : float or None
        g held at this value (default 2, surface control), or fitted when None.
    k0 : pint.Quantity or str
        Starting value of k. [m/s]

    Returns
    -------
    GrowthFit

    Examples
    --------
    A synthetic run at k = 2e-11 m/s, then the fit (in a lab the calcium comes
    from an electrode or from samples):

    >>> import oxalate
    >>> from oxalate.kinetics import Growth, Seeds, fit_growth
    >>> s = oxalate.Solution(calcium="1 mmol/kg", oxalate="1 mmol/kg", sodium="2 mmol/kg",
    ...                      chloride="2 mmol/kg", pH=6.5, temperature="37 degC")
    >>> seeds = Seeds(mass="50 mg/kg", size="5 um")
    >>> t = oxalate.Quantity([600, 1200, 1800, 3600], "s")
    >>> run = oxalate.crystallize(s, t, growth=Growth("2e-11 m/s"), seeds=seeds, rtol=1e-9)
    >>> fit = fit_growth(s, t, seeds=seeds, calcium=oxalate.Quantity(run.totals["Ca"], "mol/kg"))
    >>> round(fit.k / 2e-11, 6)
    1.0
    """
    from scipy.optimize import least_squares

    from .crystallization import crystallize
    from .solution import Solution

    if not isinstance(solution, Solution) or solution.shape != ():
        raise ValueError("fit_growth: solution must be one oxalate.Solution row (shape ())")
    t = _value(time, "s", "time", "oxalate.Quantity([60, 120], 's')")
    if t.ndim != 1 or t.size < 2 or np.any(np.diff(t) <= 0):
        raise ValueError("fit_growth: time must be at least two ascending times")
    if (calcium is None) == (precipitated is None):
        raise ValueError("fit_growth: give exactly one of calcium= or precipitated=")
    key = "calcium" if calcium is not None else "precipitated"
    data = _value(calcium if calcium is not None else precipitated, "mol/kg", key, "'1 mmol/kg'")
    if data.shape != t.shape:
        raise ValueError(f"fit_growth: {key} has shape {data.shape}, time {t.shape}")
    fit_order = order is None
    k_start = float(_value(k0, "m/s", "k0", "'1e-11 m/s'", positive=True))
    g_start = 2.0 if order is None else float(_number(order, "order", low=1.0))
    scale = max(float(np.ptp(data)), float(np.max(np.abs(data))) * 1e-6, 1e-300)
    times = Quantity(t, "s")

    def model(params: FloatArray) -> tuple[FloatArray, Any]:
        """Model values (rows, T) for parameter rows (rows, 2): ln k, g."""
        rows = params.shape[0]
        batch = Solution.from_arrays(
            {c: np.full(rows, v) for c, v in solution.totals.items()},
            pH=None if solution.pH is None else np.full(rows, solution.pH),
            temperature_kelvin=np.full(rows, solution.temperature),
        )
        law = Growth(Quantity(np.exp(params[:, 0]), "m/s"), params[:, 1])
        res = crystallize(
            batch, times, phases=phase, growth=law, seeds=seeds, ph_mode=ph_mode,  # type: ignore[arg-type]
            solid=None if solid is None else {phase: solid}, activity_model=activity_model,
            constants=constants, rtol=rtol,
        )  # fmt: skip
        values = res.totals["Ca"] if key == "calcium" else res.amount[res.phases[0]]
        return np.asarray(values).T, res

    def residuals(p: FloatArray) -> FloatArray:
        values, _ = model(np.array([[p[0], p[1] if fit_order else g_start]]))
        return np.asarray((values[0] - data) / scale)

    def jacobian(p: FloatArray) -> FloatArray:
        full = np.array([p[0], p[1] if fit_order else g_start])
        steps = np.array([1e-4, 1e-4])
        rows = [full] + [full + np.eye(2)[i] * steps[i] for i in range(1 + fit_order)]
        values, _ = model(np.array(rows))
        base = values[0]
        cols = [(values[i + 1] - base) / steps[i] / scale for i in range(1 + fit_order)]
        return np.stack(cols, axis=1)

    x0 = np.array([math.log(k_start), g_start]) if fit_order else np.array([math.log(k_start)])
    sol = least_squares(residuals, x0, jac=jacobian, x_scale="jac", xtol=1e-12, ftol=1e-12)
    p = sol.x
    final = np.array([[p[0], p[1] if fit_order else g_start]])
    values, res = model(final)
    resid = values[0] - data
    jac = jacobian(p) * scale
    dof = max(t.size - p.size, 1)
    s2 = float(np.sum(resid**2)) / dof
    try:
        cov = np.linalg.inv(jac.T @ jac) * s2
    except np.linalg.LinAlgError:
        cov = np.full((p.size, p.size), np.nan)
    k = math.exp(p[0])
    g = float(p[1]) if fit_order else g_start
    return GrowthFit(
        growth=Growth(Quantity(k, "m/s"), g),
        k=k,
        k_std=k * math.sqrt(max(cov[0, 0], 0.0)),
        order=g,
        order_std=math.sqrt(max(cov[1, 1], 0.0)) if fit_order else 0.0,
        residuals=resid,
        rmse=math.sqrt(float(np.mean(resid**2))),
        crystallization=res,
    )


@dataclass(frozen=True)
class NucleationFit:
    """Classical nucleation fitted to induction times (:func:`fit_nucleation`).

    Attributes
    ----------
    nucleation : Nucleation
    interfacial_energy, interfacial_energy_std : float
        γ (with f = 1) and its standard error. [J/m²]
    prefactor : float
        A. [m⁻³ s⁻¹]
    log10_prefactor_std : float
        Standard error of log10 A.
    barrier : float
        B. [-]
    residuals : numpy.ndarray
        ln t, model minus data.
    """

    nucleation: Nucleation
    interfacial_energy: float
    interfacial_energy_std: float
    prefactor: float
    log10_prefactor_std: float
    barrier: float
    residuals: FloatArray


def fit_nucleation(
    omega: Any,
    induction_time: Any,
    *,
    volume: Any,
    temperature: Any = "37 degC",
    phase: str = "COM",
    solid: Solid | None = None,
    constants: Any = "default",
) -> NucleationFit:
    """Fit γ and A of classical nucleation to induction times in small volumes.

    In the mononuclear regime the induction time is the waiting time for
    the first nucleus in the volume V, t = 1/(J V), so
    ln t = -ln(A V) + B / ln²Ω: a straight line in 1/ln²Ω whose slope is
    B = 16π γ³ v² / 3 (k_B T)³ and whose intercept gives A (ordinary least
    squares; standard errors from the fit).  Use it for droplet or
    microwell data; for turbidity in large volumes the detection time also
    holds the growth (:func:`induction_time` with ``"detection"``).

    Parameters
    ----------
    omega : array
        Ω of each run (≥ 3 runs, all > 1). [-]
    induction_time : pint.Quantity
        [s]
    volume : pint.Quantity or str
        Volume of each droplet or well. [m³]

    Returns
    -------
    NucleationFit

    Examples
    --------
    Times computed from γ = 40 mJ/m², A = 1e15 m⁻³ s⁻¹ in 1 nL droplets are fitted back:

    >>> import numpy as np, oxalate
    >>> from oxalate.kinetics import Nucleation, fit_nucleation, induction_time
    >>> omega = np.array([8.0, 12.0, 20.0, 40.0])
    >>> t = induction_time(omega, Nucleation("40 mJ/m^2", "1e15 1/m^3/s"), volume="1 nL")
    >>> fit = fit_nucleation(omega, oxalate.Quantity(t, "s"), volume="1 nL")
    >>> round(fit.interfacial_energy * 1e3, 6), round(float(np.log10(fit.prefactor)), 6)
    (40.0, 15.0)
    """
    w = _number(omega, "omega")
    t = _value(
        induction_time, "s", "induction_time", "oxalate.Quantity([10, 100], 's')", positive=True
    )
    if w.shape != t.shape or w.ndim != 1 or w.size < 3:
        raise ValueError("fit_nucleation: omega and induction_time must be 1-D, same length, >= 3")
    if np.any(w <= 1):
        raise ValueError("fit_nucleation: every omega must exceed 1 (supersaturated)")
    v = float(_value(volume, "m^3", "volume", "'1 nL'", positive=True))
    key, _, mass = _phase_info(phase, constants)
    crystal_props = solid if solid is not None else default_solid(key)
    molecular = crystal_props.molar_volume(mass) / AVOGADRO
    kt = BOLTZMANN * float(temperature_kelvin(temperature))
    x = 1.0 / np.log(w) ** 2
    y = np.log(t)
    design = np.stack([np.ones_like(x), x], axis=1)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    resid = design @ coef - y
    dof = max(x.size - 2, 1)
    s2 = float(np.sum(resid**2)) / dof
    cov = np.linalg.inv(design.T @ design) * s2
    b = float(coef[1])
    if b <= 0:
        raise ValueError("fit_nucleation: induction times do not fall with Ω; no positive barrier")
    gamma = (3.0 * b * kt**3 / (16.0 * math.pi * molecular**2)) ** (1.0 / 3.0)
    a = math.exp(-float(coef[0])) / v
    return NucleationFit(
        nucleation=Nucleation(Quantity(gamma, "J/m^2"), Quantity(a, "1/m^3/s")),
        interfacial_energy=gamma,
        interfacial_energy_std=gamma * math.sqrt(max(cov[1, 1], 0.0)) / (3.0 * b),
        prefactor=a,
        log10_prefactor_std=math.sqrt(max(cov[0, 0], 0.0)) / math.log(10.0),
        barrier=b,
        residuals=resid,
    )


def warn_temperature(parameters: ParameterSet, phase: str, temperature: FloatArray) -> None:
    """Warn where a set without an activation energy is used away from its temperature."""
    t_ref = parameters.temperature(phase)
    far = np.abs(np.asarray(temperature) - t_ref) > 2.0
    if np.any(far):
        warnings.warn(
            f"parameter set {parameters.name!r} gives {phase} kinetics at "
            f"{t_ref - 273.15:g} °C only (no activation energy); {int(far.sum())} row(s) lie "
            f"more than 2 K away",
            OxalateRangeWarning,
            stacklevel=3,
        )
