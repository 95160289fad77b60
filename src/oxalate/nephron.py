"""A Lagrangian parcel of filtrate through the nephron: can a free crystal be retained?

The free- vs fixed-particle question (Finlayson & Reid 1978; Kok & Khan
1994): during one transit from the glomerulus to the ducts of Bellini, can a
calcium oxalate crystal that forms in the tubular fluid grow to a size that
the tubule retains?  :func:`transit` answers it for every row of a batch of
filtrates with the library's own speciation and the rate laws of
:mod:`oxalate.kinetics`.

The model (the Finlayson–Reid frame)
------------------------------------
* One parcel, per kg of filtered water, moves through the segments in order,
  spending ``residence_time`` in each (multiplied by ``residence``: 1 for
  the mean, plug-flow particle; 1/0.38 ≈ 2.6 for a particle at r/R = 0.9 in
  Poiseuille flow, whose speed is 2(1 − 0.81) = 0.38 of the mean).
* Water, calcium, oxalate and the other solutes remaining in the lumen, as
  fractions of the filtered amounts, go linearly in time from a segment's
  inlet (the previous segment's outlet, 1 at the glomerulus) to its outlet
  values.  A fraction above 1 is net secretion.  pH goes linearly too (fixed
  pH, as a prescribed profile).  The totals of the liquid are the filtrate's
  totals times (solute fraction / water fraction).
* Ω(t) comes from one batched :func:`oxalate.speciate` call over every row
  and every node.
* **Supersaturation is not depleted by the crystals** (as Finlayson & Reid
  assumed).  Growth only lowers Ω, so the size found is an *upper bound* on
  what a single crystal reaches: if even that stays below the lumen, the
  crystal is washed out.
* A crystal starts growing where nucleation starts (the expected number of
  nuclei per kg of filtered water, ∫ J w dt with J per m³ of liquid, first
  reaches ``nucleus_count``), or, with ``nucleation=None``, where Ω first
  exceeds 1 (a pre-existing nucleus: the most favourable case).  Its
  diameter then follows dL/dt = G(Ω(t)) (trapezoid rule on the nodes;
  exact where G is constant), never below zero.

The crystal population (with ``aggregation=``)
-----------------------------------------------
The bound above ignores two things that decide retention: the crystals
take ions out of the liquid, and they stick together.  Given
``aggregation`` (and ``nucleation``), :func:`transit` also carries the
whole crystal population of the parcel through the segments: nucleation,
growth and aggregation on the sectional grid of :func:`oxalate.crystallize`
(Hounslow et al. 1988's geometric volume grid, number and volume kept by
the shares of each collision), with the liquid computed at every step by
the library's speciation from what is still dissolved.

* The state per kg of filtered water is the amount precipitated, the
  particles in each size class and the dissolved calcium and oxalate.
* The epithelium handles only what is dissolved: a segment that reabsorbs
  calcium takes the same fraction of the calcium still in solution per unit
  time (d ln D/dt = d ln f/dt); secretion adds the filtered amount times
  the rise of the fraction.  Crystals are neither reabsorbed nor secreted.
  Without crystals this is exactly the crystal-free model above.
* Hydrate water leaves the solvent with the solid, as in
  :func:`oxalate.precipitate`.
* The largest aggregate is the largest size class holding at least
  ``nucleus_count`` particles per kg of filtered water (the sectional
  method's :attr:`~oxalate.Crystallization.max_size`).  On the whole
  kidney (about 180 kg of filtrate a day) one particle per kg is about 180
  particles a day.

A pure solid cannot aggregate into more than it precipitated: a particle
of diameter d needs (π/6) d³ of solid, and the parcel holds
``precipitated`` × V_m of it per kg of filtered water.  For 200 µm that is
6.4e-8 mol of COM (V_m = 6.55e-5 m³/mol).  This bound is checked by the tests.

References
----------
Finlayson B, Reid F (1978) Invest Urol 15:442-448.
Kok DJ, Khan SR (1994) Kidney Int 46:847-854.
Grases F, Söhnel O (2017) BMC Urol 17:13, doi:10.1186/s12894-017-0274-7.
Hautmann R, Osswald H (1978) Naunyn-Schmiedeberg's Arch Pharmacol 304:277.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from ._display import Summarized, failed_rows
from ._errors import OxalateRowWarning, warn_failed_rows
from ._kinetics_inputs import phase_info
from .kinetics import (
    Aggregation,
    Grid,
    Growth,
    Nucleation,
    default_solid,
    growth_rate,
    nucleation_rate,
)
from .solution import Solution
from .speciation import speciate
from .units import Quantity

__all__ = ["Nephron", "Segment", "Transit", "default_human", "transit"]

FloatArray: TypeAlias = npt.NDArray[np.float64]

#: Speed of a particle at r/R = 0.9 in Poiseuille flow, as a fraction of the
#: mean speed: v/v̄ = 2(1 − (r/R)²) = 0.38 (Grases & Söhnel 2017 use the
#: radial profile).
WALL_SPEED_FRACTION = 2.0 * (1.0 - 0.9**2)

#: Diameter of the ducts of Bellini [m], ≈ 200 µm (Finlayson & Reid 1978, as
#: quoted by Randolph et al.; KINETICS.md §2.4).
BELLINI_DIAMETER = 200e-6

_WATER_DENSITY = 1.0  # kg/L: liquid volume per kg of water, as Solution's default density


@dataclass(frozen=True)
class Segment:
    """One nephron segment, with the fractions remaining at its *outlet*.

    Parameters
    ----------
    name : str
    residence_time : float
        Mean residence of the fluid in the segment. [s]
    lumen_diameter : float
        Inner diameter at the outlet, for the retention flag. [m]
    water, calcium, oxalate, salts : float
        Fractions of the filtered water, calcium, oxalate and of every other
        solute (Na, K, Mg, Cl, phosphate, sulfate, citrate, carbonate) still
        in the lumen at the outlet. [-]  Above 1: net secretion.
    pH : float
        pH at the outlet (fixed; linear in time from the inlet).
    source : str
        Where the numbers come from, or that they are estimates.
    """

    name: str
    residence_time: float
    lumen_diameter: float
    water: float
    calcium: float
    oxalate: float
    salts: float
    pH: float
    source: str = "estimate"

    def __post_init__(self) -> None:
        checks = {
            "residence_time": self.residence_time,
            "lumen_diameter": self.lumen_diameter,
            "water": self.water,
        }
        for name, value in checks.items():
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"Segment {self.name!r}: {name}={value!r} must be positive")
        for name in ("calcium", "oxalate", "salts"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"Segment {self.name!r}: {name}={value!r} must be >= 0")
        if not (np.isfinite(self.pH) and 0 < self.pH < 14):
            raise ValueError(f"Segment {self.name!r}: pH={self.pH!r} must be in (0, 14)")


@dataclass(frozen=True)
class Nephron:
    """A nephron: its segments in flow order and the filtrate's pH.

    Parameters
    ----------
    segments : sequence of Segment
    filtrate_pH : float
        pH at the glomerulus (the inlet of the first segment).
    retention_size : float
        Size retained at the end (ducts of Bellini). [m]
    """

    segments: tuple[Segment, ...]
    filtrate_pH: float = 7.4
    retention_size: float = BELLINI_DIAMETER

    def __post_init__(self) -> None:
        if len(self.segments) == 0 or not all(isinstance(s, Segment) for s in self.segments):
            raise ValueError("segments must be a non-empty sequence of Segment")
        if not (np.isfinite(self.retention_size) and self.retention_size > 0):
            raise ValueError(f"retention_size={self.retention_size!r} must be positive")
        if not (0 < self.filtrate_pH < 14):
            raise ValueError(f"filtrate_pH={self.filtrate_pH!r} must be in (0, 14)")


def default_human() -> Nephron:
    """A long-looped human nephron under antidiuresis: every number an estimate.

    Residence times and lumen diameters are KINETICS.md §2.4's plausible
    default (geometry from memory, residence derived from SNGFR = 62.5
    nL/min and the flows); the water fractions follow its flow column
    (65 % reabsorbed in the proximal tubule, 1.5 of 180 L/day excreted).
    Calcium: ~65 % reabsorbed in the proximal tubule, ~25 % in the thick
    ascending limb, ~1-2 % excreted (textbook physiology, from memory).
    Oxalate: fractional delivery 0.84 from the proximal tubule on (rat
    micropuncture, Hautmann & Osswald 1978), no net secretion.  pH: 7.4 →
    6.0, a textbook profile (estimate).  Replace by Kok & Khan 1994's
    segment table once transcribed.

    Returns
    -------
    Nephron

    Examples
    --------
    >>> from oxalate import nephron
    >>> n = nephron.default_human()
    >>> [s.name for s in n.segments][:2]
    ['proximal tubule', 'thin descending limb']
    >>> round(sum(s.residence_time for s in n.segments))
    170
    """
    est = "estimate (KINETICS.md §2.4; textbook physiology)"
    return Nephron(
        segments=(
            Segment("proximal tubule", 10.0, 24e-6, 0.35, 0.35, 0.84, 0.35, 6.9, est),
            Segment("thin descending limb", 6.5, 16e-6, 0.25, 0.35, 0.84, 0.35, 7.0, est),
            Segment("thin ascending limb", 3.9, 16e-6, 0.25, 0.30, 0.84, 0.30, 7.0, est),
            Segment("thick ascending limb", 16.0, 24e-6, 0.25, 0.10, 0.84, 0.10, 6.9, est),
            Segment("distal convoluted tubule", 14.0, 24e-6, 0.10, 0.04, 0.84, 0.05, 6.6, est),
            Segment("collecting duct", 120.0, 200e-6, 0.008, 0.015, 0.84, 0.01, 6.0, est),
        )
    )


@dataclass(frozen=True, repr=False)
class Transit(Summarized):
    """The result of :func:`transit`: per row (leading axes) and per segment (last).

    Attributes
    ----------
    segments : tuple of str
    time : pint.Quantity
        Time at each segment's outlet since filtration. [s]
    node_time : pint.Quantity
        The times at which Ω was computed (all segments, in order). [s]
    node_supersaturation : numpy.ndarray
        Ω of the phase at every node, shape (..., nodes). [-]
    supersaturation : numpy.ndarray
        Ω at each segment's outlet, shape (..., segments). [-]
    max_supersaturation : numpy.ndarray
        The largest Ω within each segment. [-]
    first_supersaturated : pint.Quantity
        The first time Ω > 1 (``inf`` if never). [s]
    nucleation_time : pint.Quantity
        When the expected nuclei per kg of filtered water reach the count
        (the growth start when ``nucleation=None``: the first Ω > 1). [s]
    nuclei : numpy.ndarray
        Expected nuclei per kg of filtered water at each outlet. [1/kg]
    largest_size : pint.Quantity
        Upper bound on the diameter of the oldest single crystal at each
        outlet (0 before it starts). [m]
    retained : numpy.ndarray of bool
        largest_size ≥ the segment's lumen diameter.
    retained_at_bellini : numpy.ndarray of bool
        largest_size at the last outlet ≥ the nephron's retention size.

    The attributes from ``depleted_supersaturation`` to ``sizes`` are ``None``
    unless ``aggregation`` was given: they
    describe the crystal *population* (nucleation, growth and aggregation on
    the sectional grid, with the liquid depleted by the solid formed).

    depleted_supersaturation : numpy.ndarray
        Ω of the liquid left by the population at every node. [-]
    precipitated : pint.Quantity
        Solid formed per kg of filtered water at each outlet. [mol/kg]
    particles : numpy.ndarray
        Particles (single crystals and aggregates) per kg of filtered water
        at each outlet, μ₀. [1/kg]
    largest_aggregate : pint.Quantity
        Equivalent diameter of the largest size class holding at least
        ``nucleus_count`` particles per kg of filtered water at each outlet
        (as :attr:`oxalate.Crystallization.max_size` for the sectional
        method; 0 if none). [m]
    aggregate_retained : numpy.ndarray of bool
        largest_aggregate ≥ the segment's lumen diameter.
    aggregate_retained_at_bellini : numpy.ndarray of bool
        largest_aggregate at the last outlet ≥ the nephron's retention size.
    distribution : numpy.ndarray
        Particles per kg of filtered water in each size class at each outlet,
        shape (..., segments, classes). [1/kg]
    sizes : pint.Quantity
        The size classes' pivots. [m]
    converged : numpy.ndarray of bool
        Rows computed in full: the liquid speciated at every node and, with
        ``aggregation``, the population integrated.  A row whose liquid fails
        at a node is NaN throughout (False in the boolean flags); a row whose
        population fails keeps its crystal-free profile and single-crystal
        bound, with the population's attributes NaN.  One
        :class:`~oxalate.OxalateRowWarning` names the failed rows.
    reason : numpy.ndarray of str
        Why a row failed, with the time of the first node that did ("" when
        it did not).
    """

    segments: tuple[str, ...]
    time: Any
    node_time: Any
    node_supersaturation: FloatArray
    supersaturation: FloatArray
    max_supersaturation: FloatArray
    first_supersaturated: Any
    nucleation_time: Any
    nuclei: FloatArray
    largest_size: Any
    retained: npt.NDArray[np.bool_]
    retained_at_bellini: npt.NDArray[np.bool_]
    depleted_supersaturation: FloatArray | None = None
    precipitated: Any = None
    particles: FloatArray | None = None
    largest_aggregate: Any = None
    aggregate_retained: npt.NDArray[np.bool_] | None = None
    aggregate_retained_at_bellini: npt.NDArray[np.bool_] | None = None
    distribution: FloatArray | None = None
    sizes: Any = None
    converged: npt.NDArray[np.bool_] = field(default_factory=lambda: np.ones((), dtype=bool))
    reason: npt.NDArray[np.object_] = field(default_factory=lambda: np.full((), "", dtype=object))

    def _summary(self) -> tuple[str, list[tuple[str, Any, str]]]:
        batch = np.shape(self.converged)
        title = (
            f"Transit {batch if batch else '(one filtrate)'} through {len(self.segments)} "
            f"segments ({float(self.time.m_as('s')[-1]):g} s): "
            f"{int(np.count_nonzero(self.converged))} of {int(np.size(self.converged))} converged"
        )
        rows: list[tuple[str, Any, str]] = [
            ("first Ω > 1", self.first_supersaturated.m_as("s"), "s"),
            ("crystal grows from", self.nucleation_time.m_as("s"), "s"),
            ("Ω at the end", self.supersaturation[..., -1], ""),
            ("largest single crystal", self.largest_size.m_as("um")[..., -1], "µm"),
        ]
        if self.largest_aggregate is not None:
            rows.append(("largest aggregate", self.largest_aggregate.m_as("um")[..., -1], "µm"))
            rows.append(("particles at the end", np.asarray(self.particles)[..., -1], "1/kg"))
            retained = self.retained_at_bellini | np.asarray(self.aggregate_retained_at_bellini)
        else:
            retained = self.retained_at_bellini
        rows.append(("retained at the ducts of Bellini", retained, ""))
        rows += failed_rows(self.reason, self.converged)
        return title, rows

    def to_dataframe(self) -> Any:
        """A long table: one row per filtrate and segment outlet (pandas needed).

        Columns: ``row`` (flat index in the batch), ``segment``, ``time`` [s],
        ``supersaturation``, ``max_supersaturation``, ``nuclei`` [1/kg],
        ``largest_size`` [m], ``retained``; with a population also
        ``depleted_supersaturation``, ``precipitated`` [mol/kg], ``particles``
        [1/kg], ``largest_aggregate`` [m], ``aggregate_retained``; then
        ``converged`` and ``reason``.

        Examples
        --------
        >>> import pytest
        >>> _ = pytest.importorskip("pandas")
        >>> import oxalate
        >>> from oxalate import nephron
        >>> plasma = oxalate.Solution(calcium="1.3 mmol/kg", oxalate="30 umol/kg",
        ...     sodium="140 mmol/kg", chloride="110 mmol/kg", temperature="37 degC")
        >>> df = nephron.transit(plasma).to_dataframe()
        >>> df.shape  # one filtrate, six segments, ten columns
        (6, 10)
        >>> str(df["segment"].iloc[-1]), round(float(df["supersaturation"].iloc[-1]), 1)
        ('collecting duct', 107.6)
        """
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("to_dataframe() needs pandas: pip install pandas") from err
        n_s = len(self.segments)
        n = int(np.size(self.converged))

        def col(x: Any) -> Any:
            return np.asarray(x).reshape(n * n_s)

        per_segment = np.asarray(self.node_supersaturation).shape[-1] // n_s
        outlets = np.arange(1, n_s + 1) * per_segment - 1
        flat: dict[str, Any] = {
            "row": np.repeat(np.arange(n), n_s),
            "segment": np.tile(np.asarray(self.segments, dtype=object), n),
            "time": np.tile(self.time.m_as("s"), n),
            "supersaturation": col(self.supersaturation),
            "max_supersaturation": col(self.max_supersaturation),
            "nuclei": col(self.nuclei),
            "largest_size": col(self.largest_size.m_as("m")),
            "retained": col(self.retained),
        }
        if self.largest_aggregate is not None:
            depleted = np.asarray(self.depleted_supersaturation)[..., outlets]
            flat["depleted_supersaturation"] = col(depleted)
            flat["precipitated"] = col(self.precipitated.m_as("mol/kg"))
            flat["particles"] = col(self.particles)
            flat["largest_aggregate"] = col(self.largest_aggregate.m_as("m"))
            flat["aggregate_retained"] = col(self.aggregate_retained)
        flat["converged"] = np.repeat(np.ravel(self.converged), n_s)
        flat["reason"] = np.repeat(np.ravel(self.reason), n_s)
        return pd.DataFrame(flat)


def _residence_factor(residence: Any) -> float:
    if isinstance(residence, str):
        if residence == "mean":
            return 1.0
        if residence == "wall":
            return 1.0 / WALL_SPEED_FRACTION
        raise ValueError(f"residence={residence!r} must be 'mean', 'wall' or a positive factor")
    factor = float(residence)
    if not (np.isfinite(factor) and factor > 0):
        raise ValueError(f"residence={residence!r} must be 'mean', 'wall' or a positive factor")
    return factor


def _bounds_column(component: str) -> int:
    """The column of a component's lumen fraction in the boundary profiles of :func:`transit`."""
    return {"Ca": 1, "Ox": 2}.get(component, 3)  # 3: every other solute (Segment.salts)


def _first_crossing(t: FloatArray, y: FloatArray, level: Any) -> FloatArray:
    """First time y reaches level along the last axis, linear between nodes; inf if never."""
    above = y >= level
    k = np.argmax(above, axis=-1)
    hit = above.any(axis=-1)
    k0 = np.maximum(k - 1, 0)
    y0 = np.take_along_axis(y, k0[..., None], -1)[..., 0]
    y1 = np.take_along_axis(y, k[..., None], -1)[..., 0]
    lev = np.broadcast_to(level, y0.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where((k > 0) & (y1 > y0), (lev - y0) / (y1 - y0), 0.0)
    out = t[k0] + np.clip(frac, 0.0, 1.0) * (t[k] - t[k0])
    return np.where(hit, out, np.inf)


def transit(
    filtrate: Solution,
    nephron: Nephron | None = None,
    *,
    growth: Growth | None = None,
    nucleation: Nucleation | None = None,
    phase: str = "COM",
    residence: Any = "mean",
    nodes_per_segment: int = 16,
    nucleus_count: Any = "1 1/kg",
    aggregation: Aggregation | None = None,
    grid: Grid | None = None,
    rtol: float = 1e-4,
    max_steps: int = 20_000,
    activity_model: str = "davies",
    constants: Any = "default",
) -> Transit:
    """Send every filtrate of a batch through a nephron and follow Ω and crystal size.

    See the module docstring for the models and their assumptions.  Always
    computed: the Ω profile without depletion and the upper bound on a
    single crystal's size.  With ``aggregation`` (which needs
    ``nucleation``): the crystal population, with depletion and aggregation
    (the attributes of :class:`Transit` from ``depleted_supersaturation``
    on).  For the same population without aggregation give
    ``Aggregation(..., efficiency=0)``.

    Parameters
    ----------
    filtrate : Solution
        Glomerular ultrafiltrate, one row per case.  Its pH is ignored: the
        nephron's pH profile applies.  Temperature is taken from it.
    nephron : Nephron, optional
        Default :func:`default_human`.
    growth : Growth
        Linear growth law G(Ω); default ``Growth("3e-11 m/s")`` with order 2
        (illustrative, within the 1e-12–1e-10 m/s range of KINETICS.md §2.1).
    nucleation : Nucleation, optional
        ``None``: a crystal is assumed present from the first Ω > 1.
    phase : str
        The crystallising phase, default COM.
    residence : {"mean", "wall"} or float
        Factor on every residence time: 1, 1/0.38 (r/R = 0.9), or a number.
    nodes_per_segment : int
        Ω nodes per segment (≥ 2).
    nucleus_count : pint.Quantity or str
        Nuclei per kg of filtered water that mark the start of nucleation,
        and the particles per kg that make a size class count for the
        largest aggregate. [1/kg]
    aggregation : oxalate.kinetics.Aggregation, optional
        The collision kernel and efficiency.  Default ``None``: no
        population is computed.
    grid : oxalate.kinetics.Grid, optional
        The population's size classes; default ``Grid()`` (1 nm to 1 mm,
        volume ratio 2: 61 classes).
    rtol : float
        Relative tolerance of the population's integration (1e-10 to
        1e-2).  The default 1e-4 resolves the largest class (a factor 2 in
        volume) and is several times faster than 1e-6.
    max_steps : int
        Steps (accepted and rejected) allowed per row in each segment before
        the row is given up as failed (its ``reason`` says so).
    activity_model, constants
        As for :func:`oxalate.speciate`.

    Returns
    -------
    Transit

    Raises
    ------
    ValueError
        A bad ``phase``, ``residence``, ``nodes_per_segment``,
        ``nucleus_count`` or ``rtol``; ``aggregation`` without
        ``nucleation``.
    TypeError
        ``filtrate`` not a Solution, ``growth`` not a Growth, ``nucleation``,
        ``aggregation`` or ``grid`` of the wrong type.

    Examples
    --------
    >>> import oxalate
    >>> from oxalate import nephron

    Plasma ultrafiltrate with normal (2 µM) and high (30 µM) oxalate:

    >>> oxalate_molal = oxalate.Quantity([2e-6, 3e-5], "mol/kg")
    >>> plasma = oxalate.Solution(calcium="1.3 mmol/kg", oxalate=oxalate_molal,
    ...     sodium="140 mmol/kg", chloride="110 mmol/kg", carbonate="25 mmol/kg",
    ...     temperature="37 degC")
    >>> tr = nephron.transit(plasma)
    >>> tr.first_supersaturated.m_as("s").round()  # Ω > 1: collecting duct vs proximal tubule
    array([128.,   5.])
    >>> bool(tr.largest_size.m_as("um").max() < 20)   # far below 200 µm: washed out
    True

    The population of the hyperoxaluric filtrate, with depletion and
    aggregation (illustrative constants, see :mod:`oxalate.kinetics`):

    >>> from oxalate.kinetics import Aggregation, Nucleation
    >>> tr = nephron.transit(plasma[1], nucleation=Nucleation("44 mJ/m^2", "1e20 1/m^3/s"),
    ...                      aggregation=Aggregation(rate="1e-16 m^3/s"))
    >>> float(tr.nucleation_time.m_as("s").round())  # in the collecting duct (from 50 s)
    115.0
    >>> tr.largest_aggregate[-1].to("um").round(2)  # still far below 200 µm
    <Quantity(0.13, 'micrometer')>
    """
    if not isinstance(filtrate, Solution):
        raise TypeError(f"filtrate={filtrate!r} must be an oxalate.Solution")
    nephron = default_human() if nephron is None else nephron
    if not isinstance(nephron, Nephron):
        raise TypeError(f"nephron={nephron!r} must be a Nephron")
    growth = Growth("3e-11 m/s") if growth is None else growth
    if not isinstance(growth, Growth):
        raise TypeError(f"growth={growth!r} must be a Growth (a linear rate G [m/s])")
    if nucleation is not None and not isinstance(nucleation, Nucleation):
        raise TypeError(f"nucleation={nucleation!r} must be a Nucleation or None")
    if aggregation is not None:
        if not isinstance(aggregation, Aggregation):
            raise TypeError(f"aggregation={aggregation!r} must be an oxalate.kinetics.Aggregation")
        if nucleation is None:
            raise ValueError(
                "aggregation needs a crystal population: give nucleation= "
                "(e.g. oxalate.kinetics.Nucleation('44 mJ/m^2', '1e20 1/m^3/s'))"
            )
    if grid is not None and not isinstance(grid, Grid):
        raise TypeError(f"grid={grid!r} must be an oxalate.kinetics.Grid")
    if not (isinstance(rtol, float | int) and 1e-10 <= rtol <= 1e-2):
        raise ValueError(f"rtol={rtol!r} must be a number in [1e-10, 1e-2]")
    if not (isinstance(max_steps, int | np.integer) and max_steps > 0):
        raise ValueError(f"max_steps={max_steps!r} must be a positive integer")
    if not isinstance(nodes_per_segment, int | np.integer) or nodes_per_segment < 2:
        raise ValueError(f"nodes_per_segment={nodes_per_segment!r} must be an integer >= 2")
    phase, _, _ = phase_info(phase, constants)
    factor = _residence_factor(residence)
    try:
        count = float(Quantity(nucleus_count).m_as("1/kg"))
    except Exception as err:
        raise ValueError(f"nucleus_count={nucleus_count!r} must be a number per kg") from err
    if not (np.isfinite(count) and count > 0):
        raise ValueError(f"nucleus_count={nucleus_count!r} must be positive")

    # Fractions and pH at the segment boundaries, then at the nodes (linear in time inside
    # each segment); the population's engine takes the same boundaries and nodes.
    segs = nephron.segments
    n = int(nodes_per_segment)
    bounds = np.array(
        [[1.0, 1.0, 1.0, 1.0, nephron.filtrate_pH]]
        + [[s.water, s.calcium, s.oxalate, s.salts, s.pH] for s in segs]
    )  # (segments + 1, 5): water, Ca, Ox, every other solute, pH
    times, fractions, seg_end = [], [], []
    t0 = 0.0
    u = np.linspace(0.0, 1.0, n)
    for s, inlet, outlet in zip(segs, bounds[:-1], bounds[1:], strict=True):
        times.append(t0 + u * s.residence_time * factor)
        fractions.append(inlet + u[:, None] * (outlet - inlet))
        t0 += s.residence_time * factor
        seg_end.append(len(times) * n - 1)
    node_t = np.concatenate(times)
    frac = np.concatenate(fractions)  # (nodes, 5)
    water, ph = frac[:, 0], frac[:, 4]

    shape = filtrate.shape
    totals: dict[str, FloatArray] = {}
    for key, value in filtrate.totals.items():
        scale = frac[:, _bounds_column(key)] / water
        totals[key] = np.broadcast_to(value, shape)[..., None] * scale
    temperature = np.broadcast_to(filtrate.temperature, shape)[..., None] * np.ones_like(node_t)
    liquid = Solution.from_arrays(
        totals, pH=np.broadcast_to(ph, (*shape, node_t.size)), temperature_kelvin=temperature
    )
    with warnings.catch_warnings():  # the nodes' failures are reported per filtrate below
        warnings.simplefilter("ignore", OxalateRowWarning)
        spec = speciate(liquid, activity_model=activity_model, constants=constants)
    node_reason = np.asarray(spec.reason, dtype=object).reshape(*shape, node_t.size)
    row_ok = (node_reason == "").all(axis=-1)
    flat_reason = node_reason.reshape(-1, node_t.size)
    reason = np.full(flat_reason.shape[0], "", dtype=object)
    for i in np.flatnonzero(~row_ok.reshape(-1)):
        k = int(np.argmax(flat_reason[i] != ""))
        at = f" (at {node_t[k]:.4g} s since filtration)" if k else ""
        reason[i] = f"{flat_reason[i, k]}{at}"
    reason = reason.reshape(shape)
    # rates at Ω = 1 (nothing happens) for failed rows, which are NaN in the result
    omega = np.where(row_ok[..., None], np.asarray(spec.supersaturation[phase], dtype=float), 1.0)
    temp_q = Quantity(np.where(np.isfinite(temperature), temperature, 310.15), "K")

    # Nuclei per kg of filtered water: ∫ J(Ω) [1/m³/s] × liquid volume w/ρ [m³].
    if nucleation is not None:
        j = np.asarray(
            nucleation_rate(
                np.maximum(omega, 1.0), nucleation, temperature=temp_q, phase=phase,
                constants=constants,
            ),
            dtype=float,
        )  # fmt: skip
        j = np.where(omega > 1.0, np.nan_to_num(j), 0.0)
        flux = j * water * 1e-3 / _WATER_DENSITY
        nuclei = np.concatenate(
            [
                np.zeros((*shape, 1)),
                np.cumsum(0.5 * (flux[..., 1:] + flux[..., :-1]) * np.diff(node_t), -1),
            ],
            axis=-1,
        )
        start = _first_crossing(node_t, nuclei, count)
    else:
        nuclei = np.zeros_like(omega)
        start = _first_crossing(node_t, omega, np.nextafter(1.0, 2.0))
    first_ss = _first_crossing(node_t, omega, np.nextafter(1.0, 2.0))

    # Diameter of the oldest crystal: dL/dt = G(Ω) from the start on, L ≥ 0.
    g = np.asarray(
        growth_rate(omega, growth, temperature=temp_q, phase=phase, constants=constants),
        dtype=float,
    )
    size = np.zeros_like(omega)
    for k in range(1, node_t.size):
        ta, tb = node_t[k - 1], node_t[k]
        active = np.clip(tb - np.maximum(ta, start), 0.0, tb - ta)
        step = 0.5 * (g[..., k - 1] + g[..., k]) * active
        size[..., k] = np.maximum(size[..., k - 1] + step, 0.0)

    ends = np.array(seg_end)
    diameters = np.array([s.lumen_diameter for s in segs])
    largest = size[..., ends]
    seg_max = np.stack([omega[..., i * n : (i + 1) * n].max(-1) for i in range(len(segs))], -1)
    population: dict[str, Any] = {}
    if aggregation is not None:
        assert nucleation is not None
        population = _population(
            filtrate, nephron, node_t, bounds, phase, growth, nucleation, aggregation, grid,
            rtol, int(max_steps), count, activity_model, constants,
        )  # fmt: skip
        lost = row_ok & ~population.pop("converged")
        reason[lost] = population.pop("reason")[lost]
    else:
        lost = np.zeros(shape, dtype=bool)
    liquid_ok = row_ok.copy()  # the crystal-free profile and bound stand without the population
    row_ok &= ~lost

    def expand(mask: npt.NDArray[np.bool_], x: Any) -> npt.NDArray[np.bool_]:
        return mask.reshape(mask.shape + (1,) * (np.ndim(x) - mask.ndim))

    def nan_where(mask: npt.NDArray[np.bool_], x: FloatArray) -> FloatArray:
        return np.where(expand(mask, x), np.nan, x)

    def retention(size: FloatArray) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
        """Retained in each segment and at the end (False for NaN: a failed row)."""
        return size >= diameters, size[..., -1] >= nephron.retention_size

    if population:
        for key in ("depleted_supersaturation", "particles", "distribution", "precipitated"):
            population[key] = nan_where(~row_ok, population[key])
        big = nan_where(~row_ok, population.pop("largest_aggregate"))
        population["precipitated"] = Quantity(population["precipitated"], "mol/kg")
        population["largest_aggregate"] = Quantity(big, "m")
        population["aggregate_retained"], population["aggregate_retained_at_bellini"] = retention(
            big
        )
    largest = nan_where(~liquid_ok, largest)
    retained, retained_at_bellini = retention(largest)

    def nan_where_failed(x: FloatArray) -> FloatArray:
        return nan_where(~liquid_ok, x)

    warn_failed_rows("nephron.transit", reason, filtrate.labels)
    return Transit(
        segments=tuple(s.name for s in segs),
        time=Quantity(node_t[ends], "s"),
        node_time=Quantity(node_t, "s"),
        node_supersaturation=nan_where_failed(omega),
        supersaturation=nan_where_failed(omega[..., ends]),
        max_supersaturation=nan_where_failed(seg_max),
        first_supersaturated=Quantity(nan_where_failed(first_ss), "s"),
        nucleation_time=Quantity(nan_where_failed(start), "s"),
        nuclei=nan_where_failed(nuclei[..., ends]),
        largest_size=Quantity(largest, "m"),
        retained=retained,
        retained_at_bellini=retained_at_bellini,
        converged=row_ok,
        reason=reason,
        **population,
    )


def _population(
    filtrate: Solution,
    nephron: Nephron,
    node_t: FloatArray,
    bounds: FloatArray,
    phase: str,
    growth: Growth,
    nucleation: Nucleation,
    aggregation: Aggregation,
    grid: Grid | None,
    rtol: float,
    max_steps: int,
    count: float,
    activity_model: str,
    constants: Any,
) -> dict[str, Any]:
    """The crystal population of every row through the segments (:mod:`._engines.transit`).

    Plain arrays per row (and outlet or node), in mol/kg, 1/kg and m, for
    :func:`transit` to mask and label.
    """
    from . import _engines as engines
    from ._engines import transit as engine
    from ._phase_kinetics import kinetics_of_phase
    from .activity import check_model
    from .database import resolve_constants

    cs = resolve_constants(constants)
    model = engines.species_model(cs, check_model(activity_model))
    solutes = model.system.solutes
    segs = nephron.segments
    shape = filtrate.shape
    temperature = np.ravel(np.broadcast_to(filtrate.temperature, shape)).astype(np.float64)
    props = default_solid(phase)
    spec = grid if grid is not None else Grid()
    sgrid = engines.crystal.SectionalGrid.geometric(
        spec.smallest, spec.largest, spec.ratio, props.volume_factor
    )
    kin = kinetics_of_phase(phase, cs, growth, nucleation, None, aggregation, props,
                             "sectional", temperature, shape, sgrid)  # fmt: skip
    # the crystal-free model's nodes: t = 0, then each segment's nodes after its inlet
    n = node_t.size // len(segs)
    by_segment = node_t.reshape(len(segs), n)
    knots = np.concatenate([[0.0], by_segment[:, -1]])
    times = np.concatenate([[0.0], by_segment[:, 1:].ravel()])
    solute = bounds[:, [_bounds_column(c) for c in solutes]]
    totals = np.stack([np.ravel(np.broadcast_to(filtrate.totals[c], shape)) for c in solutes], 1)
    problem = engine.TransitProblem(
        totals=totals.astype(np.float64), temperature=temperature, knots=knots,
        water=bounds[:, 0], solute=solute, ph=bounds[:, 4],
        phases=engines.phase_table(cs, (phase,)), kinetics=kin, grid=sgrid, times=times,
        rtol=float(rtol), count=count, max_steps=max_steps,
        liquid_volume=1e-3 / _WATER_DENSITY,
    )  # fmt: skip

    def run_speciate(p: engines.SpeciationProblem) -> engines.SpeciationResult:
        return engines.speciate(model, p, "auto")

    res = engine.solve(model, problem, run_speciate)
    # node (segment i, position j) is output i (n - 1) + j; the outlets are i (n - 1) + n - 1
    nodes = np.arange(len(segs))[:, None] * (n - 1) + np.arange(n)[None, :]
    outlets = nodes[:, -1]

    def per_row(x: Any, index: Any) -> Any:
        a = np.moveaxis(np.asarray(x)[index], 0, 1)  # (N, k, ...)
        return a.reshape((*shape, *a.shape[1:]))

    return {
        "depleted_supersaturation": per_row(10.0**res.log_omega, nodes.ravel()),
        "precipitated": per_row(res.amount, outlets),
        "particles": per_row(res.moments[..., 0], outlets),
        "largest_aggregate": per_row(res.max_size, outlets),
        "distribution": per_row(res.distribution, outlets),
        "sizes": Quantity(np.asarray(sgrid.sizes), "m"),
        "converged": res.converged.reshape(shape),
        "reason": res.reason.reshape(shape),
    }
