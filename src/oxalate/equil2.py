"""EQUIL2: urine supersaturation the way the stone clinic computes it.

A vectorised re-implementation of EQUIL2 (Werness, Brown, Smith and Finlayson
1985) in the form the Mayo Clinic runs it ("V5", the Visual Basic form that
the R package ``equil2`` translates).  It takes a urine's sodium, potassium,
calcium, magnesium, ammonium, chloride, phosphate, sulfate, oxalate, citrate,
urate and pH, finds the free ions by EQUIL2's ratio-scaling fixed point with
its own 65 association constants and modified Davies activity factors, and
returns the relative supersaturation SS and the free energy DG of calcium
oxalate, brushite, hydroxyapatite, uric acid, sodium urate and ammonium urate.

Two iteration modes:

``iteration="equil2"``
    Stop where EQUIL2 stops (every non-zero free Ca, Mg, PO4, Ox and Cit
    changed by at most 1e-4 relative in the last pass, at most 50 passes) and
    evaluate SS from the same mixed last-pass state EQUIL2 prints: the numbers
    of the clinical report, to its printed digits.
``iteration="converged"``
    Continue the same fixed point (finishing slow rows with Newton steps)
    until every free concentration and the ionic strength change by at most
    1e-12 relative: the exact equilibrium of the same model.  In realistic
    urines SS differs from the ``"equil2"`` numbers by up to ~1.5e-4 relative
    (calcium oxalate, brushite) and ~7e-4 (hydroxyapatite, a nine-ion
    product); rows that hit EQUIL2's 50-pass limit can differ by percents.

The constants, with their sources, are package data
(``oxalate/data/equil2_constants.csv``); :func:`constants` returns them.
Everything works in mol/L, as EQUIL2 does.

References
----------
.. [1] Werness PG, Brown CM, Smith LH, Finlayson B (1985). EQUIL2: a BASIC
   computer program for the calculation of urinary saturation. J Urol
   134(6):1242-1244. doi:10.1016/S0022-5347(17)47703-2
.. [2] Denney B (2022). equil2: Calculate Urinary Saturation with the EQUIL2
   Algorithm. R package, https://github.com/billdenney/equil2
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from types import MappingProxyType
from typing import Any, Literal, NamedTuple, TypeAlias

import numpy as np
import numpy.typing as npt
import pint

from ._clinical import volume_per_day
from ._common import ReadOnlyMap, package_data, read_csv, scalar_or_array
from ._display import html_table, text_block
from ._errors import OxalateRangeWarning, warn_failed_rows
from ._quantities import (
    OnInvalid,
    check_values,
    check_water_left,
    dimensionality,
    to_quantity,
)
from .database import analyte, analytes
from .units import Quantity, concentration, expressed_as

__all__ = [
    "ALL_PHASES",
    "COMPONENTS",
    "ITERATION_MODES",
    "NOT_PRINTED_PHASES",
    "PRINTED_PHASES",
    "Equil2Result",
    "constants",
    "equil2",
    "equil2_molar",
    "from_solution",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
Iteration = Literal["equil2", "converged"]
Divisors = Literal["mayo", "standard"]

#: The iterated components (free ion and total), in EQUIL2's input order;
#: chloride is inert (free = total) and not iterated.
COMPONENTS: tuple[str, ...] = (
    "sodium", "potassium", "calcium", "magnesium", "ammonium",
    "phosphate", "sulfate", "oxalate", "citrate", "urate",
)  # fmt: skip

#: The phases EQUIL2 prints (SS and DG), in the order of its report.
PRINTED_PHASES: tuple[str, ...] = (
    "calcium_oxalate", "brushite", "hydroxyapatite", "uric_acid", "sodium_urate",
    "ammonium_urate",
)  # fmt: skip

#: Computed by EQUIL2 V5 but not printed (its print lines are commented out).
NOT_PRINTED_PHASES: tuple[str, ...] = ("struvite", "potassium_urate")

#: Every phase of :class:`Equil2Result`.
ALL_PHASES: tuple[str, ...] = PRINTED_PHASES + NOT_PRINTED_PHASES

#: The iteration modes of :func:`equil2` and :func:`equil2_molar`.
ITERATION_MODES: tuple[str, ...] = ("equil2", "converged")

_DIVISORS: tuple[str, ...] = ("mayo", "standard")

#: Formula keys of the free components in :attr:`Equil2Result.species`.
_FORMULA: dict[str, str] = {
    "sodium": "Na", "potassium": "K", "calcium": "Ca", "magnesium": "Mg", "ammonium": "NH4",
    "phosphate": "PO4", "sulfate": "SO4", "oxalate": "Ox", "citrate": "Cit", "urate": "HU",
    "chloride": "Cl",
}  # fmt: skip

#: The complexes, in EQUIL2's order of computation.
_COMPLEXES: tuple[str, ...] = (
    "HPO4", "H2PO4", "H3PO4", "HSO4", "HOx", "HCit", "H2Cit", "H3Cit", "H2U",
    "NaHPO4", "NaSO4", "NaOx", "NaCit", "KHPO4", "KSO4", "KOx", "KCit",
    "CaPO4", "CaHPO4", "CaH2PO4", "CaSO4", "CaOx", "Ca2Ox", "CaOx2", "CaCit", "CaHCit", "CaH2Cit",
    "MgPO4", "MgHPO4", "MgH2PO4", "MgSO4", "MgOx", "Mg2Ox", "MgOx2", "MgCit", "MgHCit", "MgH2Cit",
    "NH4HPO4", "NH4SO4", "NH4Ox", "NH4Cit", "CaOH", "MgOH",
)  # fmt: skip

#: Components whose relative change EQUIL2 tests (free Ca, Mg, PO4, Ox, Cit).
_TESTED: tuple[int, ...] = (2, 3, 5, 7, 8)

#: Stop rule of ``iteration="converged"``: relative change of every free
#: concentration and of the ionic strength.
CONVERGED_TOLERANCE = 1e-12
#: ``iteration="converged"`` runs EQUIL2's fixed point for at most this many
#: passes, then finishes the rows still moving with Newton steps.
_RATIO_PASSES = 100
_NEWTON_PASSES = 100
#: Largest Newton step in ln(free concentration).
_NEWTON_MAX_STEP = 2.0

#: Composition of each complex: (index in COMPONENTS, count) pairs.  The
#: mass-balance sums of EQUIL2 are exactly free + Σ count × complex.
_STOICHIOMETRY: dict[str, tuple[tuple[int, int], ...]] = {
    "HPO4": ((5, 1),), "H2PO4": ((5, 1),), "H3PO4": ((5, 1),), "HSO4": ((6, 1),),
    "HOx": ((7, 1),), "HCit": ((8, 1),), "H2Cit": ((8, 1),), "H3Cit": ((8, 1),),
    "H2U": ((9, 1),),
    "NaHPO4": ((0, 1), (5, 1)), "NaSO4": ((0, 1), (6, 1)), "NaOx": ((0, 1), (7, 1)),
    "NaCit": ((0, 1), (8, 1)),
    "KHPO4": ((1, 1), (5, 1)), "KSO4": ((1, 1), (6, 1)), "KOx": ((1, 1), (7, 1)),
    "KCit": ((1, 1), (8, 1)),
    "CaPO4": ((2, 1), (5, 1)), "CaHPO4": ((2, 1), (5, 1)), "CaH2PO4": ((2, 1), (5, 1)),
    "CaSO4": ((2, 1), (6, 1)), "CaOx": ((2, 1), (7, 1)), "Ca2Ox": ((2, 2), (7, 1)),
    "CaOx2": ((2, 1), (7, 2)), "CaCit": ((2, 1), (8, 1)), "CaHCit": ((2, 1), (8, 1)),
    "CaH2Cit": ((2, 1), (8, 1)),
    "MgPO4": ((3, 1), (5, 1)), "MgHPO4": ((3, 1), (5, 1)), "MgH2PO4": ((3, 1), (5, 1)),
    "MgSO4": ((3, 1), (6, 1)), "MgOx": ((3, 1), (7, 1)), "Mg2Ox": ((3, 2), (7, 1)),
    "MgOx2": ((3, 1), (7, 2)), "MgCit": ((3, 1), (8, 1)), "MgHCit": ((3, 1), (8, 1)),
    "MgH2Cit": ((3, 1), (8, 1)),
    "NH4HPO4": ((4, 1), (5, 1)), "NH4SO4": ((4, 1), (6, 1)), "NH4Ox": ((4, 1), (7, 1)),
    "NH4Cit": ((4, 1), (8, 1)),
    "CaOH": ((2, 1),), "MgOH": ((3, 1),),
}  # fmt: skip

_BASES_NOTE = "'as P' / 'as PO4' for phosphate, 'as S' / 'as SO4' for sulfate"


# --------------------------------------------------------------------------- constants


class _Constants(NamedTuple):
    """The numbers of the algorithm, read once from the package data."""

    S: tuple[float, ...]  # S[1]..S[65]; S[0] is unused
    pkw: float
    davies_a: float
    davies_b: float
    i_min: float
    i_max: float
    f_start: tuple[float, float, float, float]
    free_start: float
    tolerance: float
    max_passes: int
    ksp: Mapping[str, float]
    dg: Mapping[str, float]
    divisor: Mapping[str, float]
    molar_mass: Mapping[str, float]


@cache
def _rows() -> tuple[dict[str, str], ...]:
    return tuple(read_csv(package_data("equil2_constants.csv")))


@cache
def constants() -> Mapping[str, float]:
    """EQUIL2's constants, keyed as in ``oxalate/data/equil2_constants.csv``.

    ``S1`` ... ``S65`` are EQUIL2's association constants (stepwise, on the
    activity basis, L/mol), ``ksp_<phase>`` the SS denominators,
    ``dg_<phase>`` the DG prefactors [kJ/mol], ``divisor_<analyte>`` the
    mg/dL (or mEq/L) to mol/L divisors of the Mayo program.  The file gives
    each value's reaction, unit, source key and whether the V5 result depends
    on it (``active_v5``: pyrophosphate and carbonate constants are carried but
    inactive, V5 never reads those totals).

    Returns
    -------
    Mapping of str to float

    Examples
    --------
    >>> from oxalate.equil2 import constants
    >>> constants()["S26"]  # Ca2+ + C2O4(2-) = CaC2O4(aq) [L/mol]
    2746.0
    >>> constants()["ksp_calcium_oxalate"]
    6.16e-06
    """
    return MappingProxyType({row["key"]: float(row["value"]) for row in _rows()})


@cache
def _constants() -> _Constants:
    c = constants()

    def group(prefix: str) -> Mapping[str, float]:
        return MappingProxyType(
            {k.removeprefix(prefix): v for k, v in c.items() if k.startswith(prefix)}
        )

    return _Constants(
        S=(float("nan"), *(c[f"S{i}"] for i in range(1, 66))),
        pkw=c["pKw"],
        davies_a=c["davies_a_ln"],
        davies_b=c["davies_b"],
        i_min=c["ionic_strength_min"],
        i_max=c["ionic_strength_max"],
        f_start=(c["f1_start"], c["f2_start"], c["f3_start"], c["f4_start"]),
        free_start=c["free_start"],
        tolerance=c["tolerance"],
        max_passes=int(c["max_passes"]),
        ksp=group("ksp_"),
        dg=group("dg_"),
        divisor=group("divisor_"),
        molar_mass=group("molar_mass_"),
    )


# --------------------------------------------------------------------------- result


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return ReadOnlyMap(mapping)


@dataclass(frozen=True, repr=False)
class Equil2Result:
    """What EQUIL2 computes for a urine (or a batch of urines).

    Every value is a numpy array of the batch's shape, or a numpy scalar for
    scalar input; the arrays are read-only.

    Attributes
    ----------
    ss : Mapping of str to array
        Relative supersaturation SS (activity product / solubility product)
        of each phase of :data:`ALL_PHASES`.  [1]
        ``"struvite"`` and ``"potassium_urate"`` are computed by EQUIL2 V5
        but **not printed** by it (:data:`NOT_PRINTED_PHASES`).
    dg : Mapping of str to array
        DG = (RT/ν) ln SS, 0 where SS ≤ 0; positive when supersaturated. [kJ/mol]
    ionic_strength : array
        Ionic strength of the last pass, clamped to [1e-6, 1]. [mol/L]
    activity_factors : Mapping of str to array
        ``"F1"`` ... ``"F4"``: EQUIL2's activity coefficients of ions of
        charge ±1 ... ±4 (F2 = F1⁴, F3 = F1⁹, F4 = F1¹⁶). [1]
    free : Mapping of str to array
        Free concentrations of the components of :data:`COMPONENTS` and of
        chloride (inert). [mol/L]
    species : Mapping of str to array
        Concentrations of the free ions (``"Ca"``, ``"Ox"``, ``"HU"`` ...) and
        of every complex (``"CaOx"``, ``"HPO4"``, ``"H2U"`` ...). [mol/L]
        In ``"equil2"`` mode this is EQUIL2's last-pass state: free ions
        after the last update, complexes from before it, so the mass balances
        close only to about the 1e-4 stop rule; in ``"converged"`` mode they
        close to ~1e-12.
    iterations : array of int
        Passes performed (at most 50 in ``"equil2"`` mode; EQUIL2 itself
        prints 51 after 50 passes without convergence).
    converged : array of bool
        Whether the row met the stop rule of its mode.
    iteration : str
        The mode, ``"equil2"`` or ``"converged"``.
    """

    ss: Mapping[str, Any]
    dg: Mapping[str, Any]
    ionic_strength: Any
    activity_factors: Mapping[str, Any]
    free: Mapping[str, Any]
    species: Mapping[str, Any]
    iterations: Any
    converged: Any
    iteration: str = "equil2"
    #: why a row failed ("" if it did not): bad input (``on_invalid="nan"``) or no convergence
    reason: Any = None
    #: the input rows' labels (a table's index): the index of to_dataframe()
    labels: Any = None

    def _summary(self) -> tuple[str, list[tuple[str, Any, str]]]:
        shape = np.shape(self.converged)
        title = (
            f"EQUIL2 ({self.iteration}) {shape if shape else '(one urine)'}: "
            f"{int(np.count_nonzero(self.converged))} of {int(np.size(self.converged))} converged"
        )
        rows: list[tuple[str, Any, str]] = [
            (f"SS {p.replace('_', ' ')}", self.ss[p], "") for p in PRINTED_PHASES
        ]
        rows.append(("ionic strength", self.ionic_strength, "mol/L"))
        return title, rows

    def __repr__(self) -> str:
        return text_block(*self._summary())

    def _repr_html_(self) -> str:
        return html_table(*self._summary())

    def to_dataframe(self) -> Any:
        """The result as a pandas DataFrame, one row per urine (pandas needed).

        Columns ``ss_<phase>`` and ``dg_<phase>`` of the six phases EQUIL2
        prints, ``ionic_strength``, ``iterations``, ``converged`` and
        ``reason``; the index is the input's labels, if any.
        """
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("to_dataframe() needs pandas: pip install pandas") from err
        flat: dict[str, Any] = {f"ss_{p}": np.ravel(self.ss[p]) for p in PRINTED_PHASES}
        flat.update({f"dg_{p}": np.ravel(self.dg[p]) for p in PRINTED_PHASES})
        flat["ionic_strength"] = np.ravel(self.ionic_strength)
        flat["iterations"] = np.ravel(self.iterations)
        flat["converged"] = np.ravel(self.converged)
        flat["reason"] = (
            np.full(np.size(self.converged), "", dtype=object)
            if self.reason is None
            else np.ravel(self.reason)
        )
        return pd.DataFrame(flat, index=self.labels)

    def to_dict(self) -> dict[str, Any]:
        """Flatten into one dict of arrays (e.g. for :class:`pandas.DataFrame`).

        Keys: ``ss_<phase>``, ``dg_<phase>``, ``ionic_strength``, ``F1`` ...
        ``F4``, ``free_<component>``, ``conc_<species>``, ``iterations``,
        ``converged``.

        Returns
        -------
        dict of str to array

        Examples
        --------
        >>> from oxalate.equil2 import equil2_molar
        >>> r = equil2_molar({"calcium": 2.5e-3, "oxalate": 3e-4, "sodium": 0.1,
        ...                   "chloride": 0.1}, 6.0)
        >>> d = r.to_dict()
        >>> sorted(k for k in d if k.startswith("ss_"))[:3]
        ['ss_ammonium_urate', 'ss_brushite', 'ss_calcium_oxalate']
        """
        out: dict[str, Any] = {}
        out.update({f"ss_{k}": v for k, v in self.ss.items()})
        out.update({f"dg_{k}": v for k, v in self.dg.items()})
        out["ionic_strength"] = self.ionic_strength
        out.update(self.activity_factors)
        out.update({f"free_{k}": v for k, v in self.free.items()})
        out.update({f"conc_{k}": v for k, v in self.species.items()})
        out["iterations"] = self.iterations
        out["converged"] = self.converged
        return out


# --------------------------------------------------------------------------- the model


def _complexes(
    k: _Constants,
    free: tuple[FloatArray, ...],
    F1: FloatArray,
    F2: FloatArray,
    F3: FloatArray,
    aH: FloatArray,
    aOH: FloatArray,
) -> dict[str, FloatArray]:
    """Step 3: every complex from the current free ions and factors.

    The products are written in EQUIL2's order of operations, so that the
    floating-point results match the BASIC program's.  Pyrophosphate and
    carbonate species are left out: V5 never reads those totals, so they are
    identically zero and adding them changes no sum.
    """
    S = k.S
    Na, K, Ca, Mg, NH4, PO4, SO4, Ox, Cit, HU = free
    x: dict[str, FloatArray] = {}
    x["HPO4"] = HPO4 = S[1] * aH * PO4 * F3 / F2
    x["H2PO4"] = H2PO4 = S[2] * aH * HPO4 * F2 / F1
    x["H3PO4"] = S[3] * aH * H2PO4 * F1
    x["HSO4"] = S[4] * aH * SO4 * F2 / F1
    x["HOx"] = S[5] * aH * Ox * F2 / F1
    x["HCit"] = HCit = S[6] * aH * Cit * F3 / F2
    x["H2Cit"] = H2Cit = S[7] * aH * HCit * F2 / F1
    x["H3Cit"] = S[8] * aH * H2Cit * F1
    x["H2U"] = S[9] * aH * HU * F1
    x["NaHPO4"] = S[10] * Na * HPO4 * F2
    x["NaSO4"] = S[11] * Na * SO4 * F2
    x["NaOx"] = S[12] * Na * Ox * F2
    x["NaCit"] = S[13] * Na * Cit * F3 * F1 / F2
    x["KHPO4"] = S[17] * K * HPO4 * F2
    x["KSO4"] = S[18] * K * SO4 * F2
    x["KOx"] = S[19] * K * Ox * F2
    x["KCit"] = S[20] * K * Cit * F3 * F1 / F2
    x["CaPO4"] = S[22] * Ca * PO4 * F3 * F2 / F1
    x["CaHPO4"] = S[23] * Ca * HPO4 * F2 * F2
    x["CaH2PO4"] = S[24] * Ca * H2PO4 * F2
    x["CaSO4"] = S[25] * Ca * SO4 * F2 * F2
    x["CaOx"] = CaOx = S[26] * Ca * Ox * F2 * F2
    x["Ca2Ox"] = S[28] * Ca * CaOx  # S28 is Ca2Ox, S27 CaOx2 (the listing's order)
    x["CaOx2"] = S[27] * CaOx * Ox
    x["CaCit"] = S[29] * Ca * Cit * F3 * F2 / F1
    x["CaHCit"] = S[30] * Ca * HCit * F2 * F2
    x["CaH2Cit"] = S[31] * Ca * H2Cit * F2
    x["MgPO4"] = S[32] * Mg * PO4 * F3 * F2 / F1
    x["MgHPO4"] = S[33] * Mg * HPO4 * F2 * F2
    x["MgH2PO4"] = S[34] * Mg * H2PO4 * F2
    x["MgSO4"] = S[35] * Mg * SO4 * F2 * F2
    x["MgOx"] = MgOx = S[36] * Mg * Ox * F2 * F2
    x["Mg2Ox"] = S[37] * Mg * MgOx
    x["MgOx2"] = S[38] * MgOx * Ox
    x["MgCit"] = S[39] * Mg * Cit * F3 * F2 / F1
    x["MgHCit"] = S[40] * Mg * HCit * F2 * F2
    x["MgH2Cit"] = S[41] * Mg * H2Cit * F2
    x["NH4HPO4"] = S[42] * NH4 * HPO4 * F2
    x["NH4SO4"] = S[43] * NH4 * SO4 * F2
    x["NH4Ox"] = S[44] * NH4 * Ox * F2
    x["NH4Cit"] = S[45] * NH4 * Cit * F3 * F1 / F2
    x["CaOH"] = S[54] * Ca * aOH * F2 / F1
    x["MgOH"] = S[55] * Mg * aOH * F2 / F1
    return x


def _balances(free: tuple[FloatArray, ...], x: dict[str, FloatArray]) -> tuple[FloatArray, ...]:
    """Step 4: the mass-balance sums, in :data:`COMPONENTS` order and EQUIL2's term order."""
    Na, K, Ca, Mg, NH4, PO4, SO4, Ox, Cit, HU = free
    t_na = Na + x["NaHPO4"] + x["NaSO4"] + x["NaOx"] + x["NaCit"]
    t_k = K + x["KHPO4"] + x["KSO4"] + x["KOx"] + x["KCit"]
    t_nh4 = NH4 + x["NH4HPO4"] + x["NH4SO4"] + x["NH4Ox"] + x["NH4Cit"]
    t_ca = (
        Ca + x["CaPO4"] + x["CaHPO4"] + x["CaH2PO4"] + x["CaSO4"] + x["CaOx"] + 2 * x["Ca2Ox"]
        + x["CaCit"] + x["CaHCit"] + x["CaOx2"] + x["CaH2Cit"] + x["CaOH"]
    )  # fmt: skip
    t_mg = (
        Mg + x["MgPO4"] + x["MgHPO4"] + x["MgH2PO4"] + x["MgSO4"] + x["MgOx"] + 2 * x["Mg2Ox"]
        + x["MgCit"] + x["MgHCit"] + x["MgH2Cit"] + x["MgOx2"] + x["MgOH"]
    )  # fmt: skip
    t_po4 = (
        PO4 + x["HPO4"] + x["H2PO4"] + x["H3PO4"] + x["NaHPO4"] + x["KHPO4"] + x["CaPO4"]
        + x["CaHPO4"] + x["CaH2PO4"] + x["MgPO4"] + x["MgHPO4"] + x["MgH2PO4"] + x["NH4HPO4"]
    )  # fmt: skip
    t_so4 = SO4 + x["HSO4"] + x["NaSO4"] + x["KSO4"] + x["CaSO4"] + x["MgSO4"] + x["NH4SO4"]
    t_ox = (
        Ox + x["HOx"] + x["CaOx"] + x["Ca2Ox"] + x["MgOx"] + x["Mg2Ox"] + x["NaOx"] + x["KOx"]
        + x["NH4Ox"] + 2 * x["CaOx2"] + 2 * x["MgOx2"]
    )  # fmt: skip
    t_cit = (
        Cit + x["HCit"] + x["H2Cit"] + x["H3Cit"] + x["NaCit"] + x["KCit"] + x["NH4Cit"]
        + x["CaCit"] + x["CaHCit"] + x["CaH2Cit"] + x["MgCit"] + x["MgHCit"] + x["MgH2Cit"]
    )  # fmt: skip
    t_u = HU + x["H2U"]
    return (t_na, t_k, t_ca, t_mg, t_nh4, t_po4, t_so4, t_ox, t_cit, t_u)


def _ionic_strength(
    free: tuple[FloatArray, ...],
    x: dict[str, FloatArray],
    cl: FloatArray,
    aH: FloatArray,
    aOH: FloatArray,
    F1: FloatArray,
) -> FloatArray:
    """Step 6: I = ½ Σ z²c, H⁺ and OH⁻ as activity / F1 (not clamped here)."""
    Na, K, Ca, Mg, NH4, PO4, SO4, Ox, Cit, HU = free
    s1 = (
        (aOH + aH) / F1 + Na + K + NH4 + HU + cl + x["NaHPO4"] + x["NaSO4"] + x["NaOx"]
        + x["KHPO4"] + x["KSO4"] + x["KOx"] + x["NH4HPO4"] + x["NH4SO4"] + x["NH4Ox"]
        + x["CaPO4"] + x["CaH2PO4"] + x["CaCit"] + x["CaH2Cit"] + x["CaOH"] + x["H2PO4"]
        + x["HSO4"] + x["HOx"] + x["H2Cit"] + x["MgPO4"] + x["MgH2PO4"] + x["MgCit"]
        + x["MgH2Cit"] + x["MgOH"]
    )  # fmt: skip
    s2 = 4 * (
        Ca + Mg + SO4 + Ox + x["NaCit"] + x["KCit"] + x["NH4Cit"] + x["HPO4"] + x["HCit"]
        + x["Ca2Ox"] + x["Mg2Ox"] + x["CaOx2"] + x["MgOx2"]
    )  # fmt: skip
    s3 = 9 * (PO4 + Cit)
    result: FloatArray = (s1 + s2 + s3) / 2
    return result


def _factors(
    k: _Constants, ionic_strength: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Step 7: clamp I and apply the modified Davies equation."""
    i = np.minimum(np.maximum(ionic_strength, k.i_min), k.i_max)
    root = np.sqrt(i)
    F1 = np.exp(-k.davies_a * ((root / (1 + root)) - k.davies_b * i))
    return i, F1, F1**4, F1**9, F1**16


def _relative_change(new: FloatArray, old: FloatArray) -> FloatArray:
    """|new - old| / new as EQUIL2 computes it, 0 where new is 0 (skipped)."""
    zero = new == 0
    out: FloatArray = np.where(zero, 0.0, np.abs((new - old) / np.where(zero, 1.0, new)))
    return out


def _supersaturation(
    k: _Constants,
    free: Mapping[str, FloatArray],
    x: Mapping[str, FloatArray],
    F1: FloatArray,
    F2: FloatArray,
    F3: FloatArray,
    aOH: FloatArray,
) -> dict[str, FloatArray]:
    """Step 9: SS of every phase, in EQUIL2's order of operations."""
    ksp = k.ksp
    Ca, Mg, NH4, PO4 = free["calcium"], free["magnesium"], free["ammonium"], free["phosphate"]
    Na, K, HU = free["sodium"], free["potassium"], free["urate"]
    x1 = F2 * Ca * 1000
    x2 = F3 * PO4 * 1e10
    return {
        "calcium_oxalate": x["CaOx"] / ksp["calcium_oxalate"],
        "brushite": Ca * x["HPO4"] * F2 * F2 / ksp["brushite"],
        "hydroxyapatite": (x1**5) * (x2**3) * aOH / ksp["hydroxyapatite"],
        "uric_acid": x["H2U"] / ksp["uric_acid"],
        "sodium_urate": F1 * F1 * HU * Na / ksp["sodium_urate"],
        "ammonium_urate": F1 * F1 * HU * NH4 / ksp["ammonium_urate"],
        "struvite": F1 * F2 * F3 * Mg * NH4 * PO4 / ksp["struvite"],
        "potassium_urate": F1 * F1 * HU * K / ksp["potassium_urate"],
    }


def _delta_g(k: _Constants, ss: Mapping[str, FloatArray]) -> dict[str, FloatArray]:
    """DG = factor × ln SS where SS > 0, else 0 (EQUIL2's rule). [kJ/mol]"""
    out: dict[str, FloatArray] = {}
    for phase, value in ss.items():
        positive = value > 0
        out[phase] = np.where(positive, k.dg[phase] * np.log(np.where(positive, value, 1.0)), 0.0)
    return out


class _State(NamedTuple):
    """Each row's state when it stopped."""

    free: list[FloatArray]
    factors: list[FloatArray]
    complexes: dict[str, FloatArray]
    ionic_strength: FloatArray
    passes: npt.NDArray[np.int64]
    converged: npt.NDArray[np.bool_]

    def subset(self, rows: npt.NDArray[np.intp]) -> _State:
        return _State(
            [f[rows] for f in self.free],
            [f[rows] for f in self.factors],
            {name: v[rows] for name, v in self.complexes.items()},
            self.ionic_strength[rows],
            self.passes[rows],
            self.converged[rows],
        )


def _ratio_update(
    tot: list[FloatArray], free: list[FloatArray], sums: tuple[FloatArray, ...], _: Any
) -> list[FloatArray]:
    """Step 5, EQUIL2's update: free ← total × free / sum (a zero sum counts as 1e-20).

    Evaluated as EQUIL2 does, (total × free) / sum, except where total × free
    underflows to 0 (totals below ~1e-150 mol/L), which takes total × (free / sum).
    """
    out = []
    for t, f, s in zip(tot, free, sums, strict=True):
        s = np.where(s == 0, 1e-20, s)
        product = t * f
        new = product / s
        tiny = (product == 0) & (t > 0) & (f > 0)
        if tiny.any():
            new = np.where(tiny, t * (f / s), new)
        out.append(new)
    return out


def _newton_update(
    tot: list[FloatArray],
    free: list[FloatArray],
    sums: tuple[FloatArray, ...],
    x: dict[str, FloatArray],
) -> list[FloatArray]:
    """A Newton step on ln(sum_j) = ln(total_j) in ln(free), activity factors held.

    Every complex is a monomial in the free concentrations, so the Jacobian
    d sum_j / d ln free_k = δ_jk free_j + Σ_s ν_sj ν_sk c_s is exact.  With a
    diagonal Jacobian the step is EQUIL2's ratio update.  Zero totals stay 0.
    """
    m, n = free[0].shape[0], len(free)
    total = np.stack(tot, axis=1)
    active = total > 0
    jac = np.zeros((m, n, n))
    for j in range(n):
        jac[:, j, j] = free[j]
    for name, parts in _STOICHIOMETRY.items():
        c = x[name]
        for a, na in parts:
            for b, nb in parts:
                jac[:, a, b] += (na * nb) * c
    summed = np.maximum(np.stack(sums, axis=1), 1e-300)
    pair = active[:, :, None] & active[:, None, :]
    matrix = np.where(pair, jac / summed[:, :, None], np.eye(n))
    rhs = np.where(active, np.log(np.where(active, total, 1.0) / summed), 0.0)
    step = np.linalg.solve(matrix, rhs[:, :, None])[:, :, 0]
    largest = np.max(np.abs(step), axis=1, keepdims=True)
    step *= np.minimum(1.0, _NEWTON_MAX_STEP / np.maximum(largest, 1e-300))
    return [np.where(active[:, j], free[j] * np.exp(step[:, j]), 0.0) for j in range(n)]


def _iterate(
    k: _Constants,
    totals: tuple[FloatArray, ...],
    cl: FloatArray,
    pH: FloatArray,
    *,
    tolerance: float,
    max_passes: int,
    test_all: bool,
    newton: bool = False,
    start: _State | None = None,
) -> _State:
    """Run the fixed point on 1-D rows; each row stops on its own (a shrinking active set).

    From EQUIL2's start (or from ``start``), each pass computes the complexes
    (step 3), the sums (4), the new free ions (5, EQUIL2's ratio update or a
    Newton step), the ionic strength (6), the factors (7) and the stop test
    (8).  Returns the free concentrations, F1..F4 and ionic strength after
    each row's last pass, the complexes of that pass's step 3, the passes and
    the convergence flags: each row exactly as a one-row run leaves it.
    """
    n = pH.shape[0]
    aH = 10 ** (-pH)
    aOH = 10 ** (-k.pkw + pH)
    update = _newton_update if newton else _ratio_update
    # Output arrays, written when a row stops.
    out_free = [np.zeros(n) for _ in COMPONENTS]
    out_f = [np.zeros(n) for _ in range(4)]
    out_i = np.zeros(n)
    out_x = {name: np.zeros(n) for name in _COMPLEXES}
    passes = np.zeros(n, dtype=np.int64)
    converged = np.zeros(n, dtype=bool)
    # Working set: the rows still iterating.
    rows = np.arange(n)
    tot = list(totals)
    w_cl, w_aH, w_aOH = cl, aH, aOH
    if start is None:
        free = [k.free_start * t for t in tot]
        F1, F2, F3, F4 = (np.full(n, f) for f in k.f_start)
        old = [np.zeros(n) for _ in (COMPONENTS if test_all else _TESTED)]
        old_i = np.zeros(n)
    else:
        free = list(start.free)
        F1, F2, F3, F4 = start.factors
        old = [f.copy() for f in (free if test_all else [free[j] for j in _TESTED])]
        old_i = start.ionic_strength
    for step in range(1, max_passes + 1):
        x = _complexes(k, tuple(free), F1, F2, F3, w_aH, w_aOH)
        sums = _balances(tuple(free), x)
        free = update(tot, free, sums, x)
        # EQUIL2 takes I from the new free ions but the complexes of step 3; the
        # Newton passes take the complexes of the new free ions (the same fixed
        # point, without the lag that makes I oscillate in phosphate-rich rows).
        x_i = _complexes(k, tuple(free), F1, F2, F3, w_aH, w_aOH) if newton else x
        i, F1, F2, F3, F4 = _factors(k, _ionic_strength(tuple(free), x_i, w_cl, w_aH, w_aOH, F1))
        tested = free if test_all else [free[j] for j in _TESTED]
        done = np.ones(rows.shape[0], dtype=bool)
        for new, prev in zip(tested, old, strict=True):
            done &= _relative_change(new, prev) <= tolerance
        if test_all:
            done &= _relative_change(i, old_i) <= tolerance
        stop = done | (step == max_passes)
        if stop.any():
            where = rows[stop]
            for target, value in zip(out_free, free, strict=True):
                target[where] = value[stop]
            for target, value in zip(out_f, (F1, F2, F3, F4), strict=True):
                target[where] = value[stop]
            out_i[where] = i[stop]
            for name, value in x.items():
                out_x[name][where] = value[stop]
            passes[where] = step
            converged[where] = done[stop]
            keep = ~stop
            if not keep.any():
                break
            rows = rows[keep]
            tot = [t[keep] for t in tot]
            free = [f[keep] for f in free]
            F1, F2, F3, F4 = F1[keep], F2[keep], F3[keep], F4[keep]
            w_cl, w_aH, w_aOH = w_cl[keep], w_aH[keep], w_aOH[keep]
            i = i[keep]
            tested = free if test_all else [free[j] for j in _TESTED]
        old = [t.copy() for t in tested]
        old_i = i
    return _State(out_free, out_f, out_x, out_i, passes, converged)


def _solve(
    k: _Constants, totals: tuple[FloatArray, ...], cl: FloatArray, pH: FloatArray, iteration: str
) -> _State:
    """Both modes: EQUIL2's stop rule, or its fixed point then Newton to 1e-12."""
    if iteration == "equil2":
        return _iterate(
            k, totals, cl, pH, tolerance=k.tolerance, max_passes=k.max_passes, test_all=False
        )
    state = _iterate(
        k, totals, cl, pH, tolerance=CONVERGED_TOLERANCE, max_passes=_RATIO_PASSES, test_all=True
    )
    slow = np.flatnonzero(~state.converged)
    if slow.size:
        rest = _iterate(
            k,
            tuple(t[slow] for t in totals),
            cl[slow],
            pH[slow],
            tolerance=CONVERGED_TOLERANCE,
            max_passes=_NEWTON_PASSES,
            test_all=True,
            newton=True,
            start=state.subset(slow),
        )
        for target, value in zip(
            state.free + state.factors, rest.free + rest.factors, strict=True
        ):
            target[slow] = value
        for name, value in rest.complexes.items():
            state.complexes[name][slow] = value
        state.ionic_strength[slow] = rest.ionic_strength
        state.passes[slow] += rest.passes
        state.converged[slow] = rest.converged
    return state


def _check_iteration(iteration: str) -> None:
    if iteration not in ITERATION_MODES:
        raise ValueError(
            f"iteration={iteration!r} is not known; accepted: 'equil2' (stop at EQUIL2's 1e-4 "
            f"rule, its printed numbers) or 'converged' (the exact equilibrium of the model)"
        )


def equil2_molar(
    totals: Mapping[str, Any], pH: Any, *, iteration: Iteration = "equil2"
) -> Equil2Result:
    """EQUIL2 on magnitudes: total concentrations in mol/L and pH, no units.

    The fast core of :func:`equil2` (which parses units and calls this).

    Parameters
    ----------
    totals : Mapping of str to array_like
        Total concentrations [mol/L] keyed ``"sodium"``, ``"potassium"``,
        ``"calcium"``, ``"magnesium"``, ``"ammonium"``, ``"chloride"``,
        ``"phosphate"``, ``"sulfate"``, ``"oxalate"``, ``"citrate"``,
        ``"urate"``.  A missing key counts as 0 (EQUIL2's blank field).
        Arrays broadcast together and with ``pH``.
    pH : float or array_like
        pH; EQUIL2 sets a(H⁺) = 10^-pH and a(OH⁻) = 10^(pH - 13.593). [1]
    iteration : {"equil2", "converged"}
        ``"equil2"`` stops where EQUIL2 stops (printed numbers); ``"converged"``
        solves the same model to 1e-12.  See :func:`equil2`.

    Returns
    -------
    Equil2Result

    Raises
    ------
    ValueError
        For an unknown key or mode, a negative, NaN or infinite total, or a pH
        outside 0-14.

    Examples
    --------
    >>> from oxalate.equil2 import equil2_molar
    >>> totals = {"calcium": [2.5e-3, 5e-3], "magnesium": 3e-3, "oxalate": 3e-4,
    ...           "citrate": 2e-3, "phosphate": 0.02, "sodium": 0.1, "potassium": 0.05,
    ...           "chloride": 0.1}
    >>> r = equil2_molar(totals, 6.0)
    >>> r.ss["calcium_oxalate"].round(2)
    array([ 6.94, 12.17])
    >>> r.iterations, r.converged
    (array([17, 16]), array([ True,  True]))
    """
    _check_iteration(iteration)
    unknown = sorted(set(totals) - set(COMPONENTS) - {"chloride"})
    if unknown:
        raise ValueError(
            f"totals has unknown key(s) {unknown}; accepted: {[*COMPONENTS, 'chloride']}"
        )
    arrays: dict[str, FloatArray] = {}
    for name in (*COMPONENTS, "chloride"):
        value = np.asarray(totals.get(name, 0.0), dtype=np.float64)
        bad = ~np.isfinite(value) | (value < 0)
        if bad.any():
            index = np.argwhere(bad)[0]
            where = f" at index {tuple(int(i) for i in index)}" if value.ndim else ""
            raise ValueError(
                f"totals[{name!r}] has {int(bad.sum())} negative, NaN or infinite value(s) "
                f"(first{where}: {value[tuple(index)]!r}); totals must be finite and >= 0 [mol/L]"
            )
        arrays[name] = value
    ph = _check_ph(pH)
    shape = np.broadcast_shapes(ph.shape, *(a.shape for a in arrays.values()))
    # the solutes must leave some water in a litre of urine (density 1 kg/L)
    masses = {n: analyte(n).molar_mass for n in arrays if n in analytes()}
    masses.update(_constants().molar_mass)
    solute = sum((arrays[n] * masses[n] / 1000.0 for n in arrays), start=np.zeros(()))
    given = tuple(n for n in arrays if arrays[n].any())
    check_water_left(np.asarray(1.0 - solute), solute, 1.0, given, "raise")
    flat = {name: np.broadcast_to(a, shape).ravel() for name, a in arrays.items()}
    ph_flat = np.broadcast_to(ph, shape).ravel()
    k = _constants()
    converged_mode = iteration == "converged"
    free, factors, x, ionic, passes, ok = _solve(
        k, tuple(flat[c] for c in COMPONENTS), flat["chloride"], ph_flat, iteration
    )
    F1, F2, F3, F4 = factors
    aH = 10 ** (-ph_flat)
    aOH = 10 ** (-k.pkw + ph_flat)
    if converged_mode:
        # One consistent state: the complexes of the final free ions and factors.
        x = _complexes(k, tuple(free), F1, F2, F3, aH, aOH)
    free_map = dict(zip(COMPONENTS, free, strict=True))
    free_map["chloride"] = flat["chloride"]
    ss = _supersaturation(k, free_map, x, F1, F2, F3, aOH)
    dg = _delta_g(k, ss)
    if not ok.all():
        stuck = np.flatnonzero(~ok)
        warnings.warn(
            f"EQUIL2 iteration ({iteration!r}) did not converge in "
            f"{_RATIO_PASSES + _NEWTON_PASSES if converged_mode else k.max_passes} passes for "
            f"{stuck.size} of {ok.size} row(s) (first flat index {int(stuck[0])}); "
            f"see Equil2Result.converged",
            OxalateRangeWarning,
            stacklevel=2,
        )

    def shaped(a: npt.NDArray[Any]) -> Any:
        out = np.array(a).reshape(shape)
        out.flags.writeable = False
        return scalar_or_array(out)

    species = {_FORMULA[name]: shaped(v) for name, v in free_map.items()}
    species.update({name: shaped(v) for name, v in x.items()})
    return Equil2Result(
        ss=_frozen({p: shaped(ss[p]) for p in ALL_PHASES}),
        dg=_frozen({p: shaped(dg[p]) for p in ALL_PHASES}),
        ionic_strength=shaped(ionic),
        activity_factors=_frozen(
            {f"F{z}": shaped(v) for z, v in enumerate((F1, F2, F3, F4), start=1)}
        ),
        free=_frozen({name: shaped(v) for name, v in free_map.items()}),
        species=_frozen(species),
        iterations=shaped(passes),
        converged=shaped(ok),
        iteration=iteration,
    )


# --------------------------------------------------------------------------- units edge


def _check_ph(pH: Any) -> FloatArray:
    if isinstance(pH, (str, bytes, pint.Quantity)) or (
        isinstance(pH, (list, tuple)) and any(isinstance(v, str) for v in pH)
    ):
        raise TypeError(f"pH={pH!r}: pass pH as a number or an array of numbers (no units)")
    try:
        values = np.asarray(pH, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"pH={pH!r} is not a number or an array of numbers") from err
    bad = ~np.isfinite(values) | (values < 0) | (values > 14)
    if bad.any():
        index = np.argwhere(bad)[0]
        where = f" at index {tuple(int(i) for i in index)}" if values.ndim else ""
        raise ValueError(
            f"pH has {int(bad.sum())} value(s) that are not finite numbers in 0-14 "
            f"(first{where}: {values[tuple(index)]!r})"
        )
    return values


def _mayo_divisor(name: str, basis: str | None, argument: str) -> float | None:
    """EQUIL2's mg/dL → mol/L divisor for ``name``; None where EQUIL2 has none."""
    divisor = _constants().divisor
    if name in ("phosphate", "sulfate"):
        element = "P" if name == "phosphate" else "S"
        if basis is None:
            raise ValueError(
                f"{argument}: a mass concentration of {name} is ambiguous; say what it is a "
                f"mass of: '3.4 mg/dL as {element}' (EQUIL2's reading, mg of {element} per dL) "
                f"or '10 mg/dL as {element}O4', or give mmol/L"
            )
        if basis not in (element, f"{element}O4"):
            raise ValueError(
                f"{argument}: 'as {basis}' is not a basis of {name}; accepted: {_BASES_NOTE}"
            )
        return divisor[f"{name}_{basis}"]
    if basis is not None:
        raise ValueError(f"{argument}: 'as {basis}' is not understood here ({_BASES_NOTE})")
    return divisor.get(name) if name in ("calcium", "magnesium", "oxalate", "citrate") else None


def _parse_analyte(
    value: Any, name: str, divisors: Divisors, on_invalid: OnInvalid = "raise"
) -> FloatArray:
    """A concentration of an analyte of ``ions.csv`` in mol/L (molal read as molar)."""
    if divisors == "mayo":
        quantity, _, basis = to_quantity(value, name)
        if quantity.dimensionality == dimensionality("g/L"):
            divisor = _mayo_divisor(name, basis, name)
            if divisor is not None:
                mg_dl = np.asarray(quantity.m_as("mg/dL"), dtype=np.float64)
                return check_values(mg_dl / divisor, name, on_invalid)
    values, _basis = concentration(value, argument=name, on_invalid=on_invalid)
    return values


def _parse_local(
    value: Any, name: str, divisors: Divisors, on_invalid: OnInvalid = "raise"
) -> FloatArray:
    """Urate or ammonium, which ``oxalate.units`` does not know, in mol/L."""
    quantity, equivalents, basis = to_quantity(value, name)
    dims = quantity.dimensionality
    molar_mass = _constants().molar_mass
    if dims == dimensionality("mol/L"):
        magnitude = np.asarray(quantity.m_as("mol/L"), dtype=np.float64)
    elif dims == dimensionality("mol/kg"):
        magnitude = np.asarray(quantity.m_as("mol/kg"), dtype=np.float64)
    elif dims == dimensionality("g/L"):
        if name == "urate":
            if basis is not None:
                raise ValueError(f"urate: 'as {basis}' is not understood; give mg/dL of uric acid")
            if divisors == "mayo":
                divisor = _constants().divisor["urate"]
                magnitude = np.asarray(quantity.m_as("mg/dL"), dtype=np.float64) / divisor
            else:
                magnitude = (
                    np.asarray(quantity.m_as("g/L"), dtype=np.float64) / molar_mass["urate"]
                )
        else:
            masses = {
                None: molar_mass["ammonium"],
                "NH4": molar_mass["ammonium"],
                "NH3": molar_mass["ammonia"],
                "N": molar_mass["nitrogen"],
            }
            if basis not in masses:
                raise ValueError(
                    f"ammonium: 'as {basis}' is not known; accepted: 'as NH4' (the default), "
                    f"'as NH3', 'as N'"
                )
            magnitude = np.asarray(quantity.m_as("g/L"), dtype=np.float64) / masses[basis]
    elif dims == dimensionality("mol/day") or dims == dimensionality("g/day"):
        raise ValueError(
            f"{name}={quantity!s} is a daily amount; divide by the urine volume to get a "
            f"concentration"
        )
    else:
        raise ValueError(
            f"{name}={quantity!s} has dimension {dims}, not a concentration; pass e.g. "
            f"'{'50 mg/dL' if name == 'urate' else '30 mmol/L'}'"
        )
    if equivalents and name == "urate":
        raise ValueError("urate: mEq/L is not accepted (its charge depends on pH); give mmol/L")
    if basis is not None and dims != dimensionality("g/L"):
        raise ValueError(f"{name}: 'as {basis}' applies only to mass concentrations (mg/dL)")
    return check_values(magnitude, name, on_invalid)


def equil2(
    *,
    sodium: Any,
    potassium: Any,
    calcium: Any,
    magnesium: Any,
    ammonium: Any = None,
    chloride: Any = None,
    phosphate: Any,
    sulfate: Any,
    oxalate: Any,
    citrate: Any,
    urate: Any,
    pH: Any,
    volume: Any = None,
    iteration: Iteration = "equil2",
    divisors: Divisors = "mayo",
    on_invalid: Literal["raise", "nan"] = "raise",
) -> Equil2Result:
    """Urine supersaturation as EQUIL2 (Mayo Clinic V5) computes it.

    SS = IAP / Ksp for calcium oxalate, brushite, hydroxyapatite, uric acid,
    sodium urate and ammonium urate (and struvite and potassium urate, which
    EQUIL2 computes but does not print), with

    .. math:: DG = \\frac{RT}{\\nu} \\ln SS, \\qquad RT = 2.587\\ \\mathrm{kJ/mol}

    (ν ions per formula unit; DG = 0 where SS ≤ 0).

    Parameters
    ----------
    sodium, potassium, chloride : pint.Quantity or str
        Total concentrations, e.g. ``"140 mEq/L"`` or ``"140 mmol/L"``.
        Chloride may be left out: it forms no complex in EQUIL2's model and
        enters only the ionic strength, so a missing chloride is taken as 0
        (the Mayo form's blank field), without a warning. [mol/L]
    calcium, magnesium, oxalate, citrate : pint.Quantity or str
        Total concentrations, e.g. ``"15 mg/dL"`` or ``"3.7 mmol/L"``. [mol/L]
    ammonium : pint.Quantity or str, optional
        Total ammonium, e.g. ``"30 mmol/L"`` (= mEq/L).  A mass is read as
        NH4⁺ (18.038 g/mol) unless it says ``"as NH3"`` (17.031 g/mol, the R
        port's "ammonia") or ``"as N"``.  Default 0: the Mayo form has no
        ammonium field. [mol/L]
    phosphate, sulfate : pint.Quantity, str or Expressed
        Total phosphate and sulfate in an amount unit (``"32 mmol/L"``;
        sulfate also ``"20 mEq/L"``), or a mass *with its basis*:
        ``"100 mg/dL as P"`` (EQUIL2's reading, mg of phosphorus per dL),
        ``"306 mg/dL as PO4"``; ``"32 mg/dL as S"`` or ``"96 mg/dL as SO4"``.
        A bare ``"mg/dL"`` raises :class:`ValueError`. [mol/L]
    urate : pint.Quantity or str
        Total urate as uric acid, e.g. ``"50 mg/dL"`` or ``"3 mmol/L"``. [mol/L]
    pH : float or array_like
        pH, a plain number (0-14). [1]
    volume : pint.Quantity or str, optional
        The 24-hour urine volume (``"1.6 L/d"``), needed when a value is a
        daily amount (``"250 mg/d"``, ``"150 mEq/d"``): each is divided by
        it. [L/d]
    iteration : {"equil2", "converged"}
        ``"equil2"`` (default) stops at EQUIL2's rule (every non-zero free Ca,
        Mg, PO4, Ox, Cit changed ≤ 1e-4 relative, at most 50 passes) and
        reproduces EQUIL2's printed numbers.  ``"converged"`` iterates the
        same fixed point to 1e-12: the exact equilibrium of the same model,
        differing by up to ~1e-4 relative in SS.
    divisors : {"mayo", "standard"}
        How mass concentrations become mol/L.  ``"mayo"`` (default) divides
        mg/dL by EQUIL2's own numbers: Ca 4008, Mg 2431, P 3097, S 3206,
        oxalate 8802, citrate 19212 (citric acid, 192.12 g/mol), urate 16800
        (and 9497 / 9607 for ``"as PO4"`` / ``"as SO4"``, as the R port's
        development version).  ``"standard"`` uses the 2005 atomic weights of
        :mod:`oxalate.units` (Ca 40.078, citrate anion 189.10, P 30.974 ...;
        urate 168.11).  Amount and mEq units are unaffected.
    on_invalid : {"raise", "nan"}
        A negative, NaN or infinite value or pH: raise (default), or make that
        row NaN with ``converged`` False and a ``reason``, keeping the others.

    Returns
    -------
    Equil2Result
        SS, DG, ionic strength, activity factors, free concentrations, all
        species, passes and convergence flags, broadcast over the inputs.

    Raises
    ------
    TypeError
        For a concentration without units, or a pH that is not a number.
    ValueError
        For a negative, NaN or infinite concentration (named), an ambiguous
        phosphate or sulfate mass, a pH outside 0-14, or an unknown
        ``iteration`` or ``divisors``.

    Warns
    -----
    OxalateRangeWarning
        When rows do not meet the stop rule within the pass limit (50 passes
        for ``"equil2"``, as EQUIL2's "50 CYCLES WITHOUT CONVERGE"); their
        ``converged`` flag is False.

    Notes
    -----
    EQUIL2 works in mol/L.  A molal input (``"mmol/kg"``) is taken as the
    same number of mmol/L, as EQUIL2 would (1 kg of water ≈ 1 L of dilute
    urine; the error is the urine's solute volume fraction, a few percent).

    The model: free Na⁺, K⁺, Ca²⁺, Mg²⁺, NH₄⁺, PO₄³⁻, SO₄²⁻, C₂O₄²⁻, Cit³⁻ and
    HU⁻ (urate monoanion) are found by ratio scaling (free ← total × free /
    mass-balance sum) with 43 complexes (protonated ligands, Na/K/NH₄
    ion pairs, Ca and Mg complexes, CaOH⁺, MgOH⁺), a(H⁺) = 10^-pH,
    a(OH⁻) = 10^(pH - 13.593) and the modified Davies equation
    ln F1 = -1.20218 (√I/(1+√I) - 0.285 I), F_z = F1^(z²), I clamped to
    [1e-6, 1] mol/L.  The constants are EQUIL2's (near 37-38 °C, not
    temperature-dependent).  EQUIL2's pyrophosphate and carbonate species are
    identically zero in V5 (it never reads those totals) and are left out.

    References
    ----------
    .. [1] Werness PG, Brown CM, Smith LH, Finlayson B (1985). EQUIL2: a BASIC
       computer program for the calculation of urinary saturation. J Urol
       134(6):1242-1244. doi:10.1016/S0022-5347(17)47703-2

    Examples
    --------
    The R port's sample report (its phosphate and sulfate in mmol/L; its
    ammonia 10 µg/dL is NH3):

    >>> from oxalate.equil2 import equil2
    >>> r = equil2(sodium="45 mmol/L", potassium="55 mmol/L", calcium="15 mg/dL",
    ...            magnesium="15 mg/dL", ammonium="10 ug/dL as NH3", chloride="75 mmol/L",
    ...            phosphate="32.285 mmol/L", sulfate="10 mmol/L", oxalate="10 mg/L",
    ...            citrate="400 mg/L", urate="50 mg/dL", pH=5.5)
    >>> {phase: round(float(r.ss[phase]), 2) for phase in ("calcium_oxalate", "uric_acid")}
    {'calcium_oxalate': 3.1, 'uric_acid': 4.56}
    >>> round(float(r.dg["calcium_oxalate"]), 2), int(r.iterations), bool(r.converged)
    (1.46, 14, True)
    """
    _check_iteration(iteration)
    if divisors not in _DIVISORS:
        raise ValueError(
            f"divisors={divisors!r} is not known; accepted: 'mayo' (EQUIL2's mg/dL divisors) "
            f"or 'standard' (the 2005 atomic weights)"
        )
    if on_invalid not in ("raise", "nan"):
        raise ValueError(f"on_invalid={on_invalid!r} is not known; accepted: 'raise', 'nan'")
    litres, bad_volume = _litres(volume, on_invalid)
    known = {
        "sodium": sodium,
        "potassium": potassium,
        "calcium": calcium,
        "magnesium": magnesium,
        "chloride": "0 mol/L" if chloride is None else chloride,
        "phosphate": phosphate,
        "sulfate": sulfate,
        "oxalate": oxalate,
        "citrate": citrate,
    }
    totals: dict[str, FloatArray] = {
        name: _parse_analyte(_per_litre(value, name, litres), name, divisors, on_invalid)
        for name, value in known.items()
    }
    totals["urate"] = _parse_local(
        _per_litre(urate, "urate", litres), "urate", divisors, on_invalid
    )
    totals["ammonium"] = (
        np.asarray(0.0)
        if ammonium is None
        else _parse_local(
            _per_litre(ammonium, "ammonium", litres), "ammonium", divisors, on_invalid
        )
    )
    if on_invalid == "raise":
        return equil2_molar(totals, pH, iteration=iteration)
    result = _equil2_keeping_rows(totals, pH, iteration, bad_volume)
    warn_failed_rows("equil2", result.reason)
    return result


def _litres(volume: Any, on_invalid: OnInvalid) -> tuple[FloatArray | None, Any]:
    """The 24 h volume in L/d, and why it is bad where it is (``""`` elsewhere; NaN then)."""
    if volume is None:
        return None, ""
    if on_invalid == "raise":
        return volume_per_day(volume), ""
    quantity, _, _ = to_quantity(volume, "volume")
    magnitude = np.asarray(quantity.magnitude, dtype=np.float64)
    bad = ~np.isfinite(magnitude) | (magnitude <= 0)
    if not bad.any():
        return volume_per_day(volume), ""
    why = np.where(np.isnan(magnitude), "volume missing", "volume not positive")
    litres = volume_per_day(Quantity(np.where(bad, 1.0, magnitude), quantity.units))
    return np.where(bad, np.nan, litres), np.where(bad, why, "")


def _per_litre(value: Any, name: str, litres: FloatArray | None) -> Any:
    """A daily amount divided by the 24 h volume (mEq by the charge); others unchanged."""
    if value is None:
        return value
    quantity, equivalents, basis = to_quantity(value, name)
    if quantity.dimensionality.get("[time]", 0) >= 0:
        return value
    if litres is None:
        raise ValueError(f"{name}={value!s} is a daily amount: give the 24 h volume, volume=")
    per_litre = quantity / Quantity(litres, "L/d")
    if equivalents:
        charge = analyte(name).equivalent_charge if name in analytes() else None
        if not charge:
            raise ValueError(f"{name}: mEq is not accepted; give mmol")
        per_litre = per_litre / float(charge)
    return per_litre if basis is None else expressed_as(per_litre, basis)


def _equil2_keeping_rows(
    totals: dict[str, FloatArray], pH: Any, iteration: Iteration, bad_volume: Any = ""
) -> Equil2Result:
    """EQUIL2 on the good rows; the rows with a NaN total or a bad pH are NaN, with a reason.

    ``bad_volume`` says why the volume is bad where it is (``""`` elsewhere); the
    reasons use the table reader's words ("pH missing", "volume not positive").
    """
    ph = np.asarray(pH, dtype=np.float64)
    volume_why = np.asarray(bad_volume, dtype=object)
    shape = np.broadcast_shapes(
        ph.shape, volume_why.shape, *(np.shape(a) for a in totals.values())
    )
    reason = np.full(shape, "", dtype=object)
    volume_why = np.broadcast_to(volume_why, shape)
    reason[volume_why != ""] = "invalid input: " + volume_why[volume_why != ""]
    for name, a in totals.items():
        nan = (reason == "") & np.broadcast_to(np.isnan(a), shape)
        reason[nan] = f"invalid input: {name} missing or negative"
    bad_ph = ~np.isfinite(ph) | (ph < 0) | (ph > 14)
    reason[(reason == "") & np.broadcast_to(np.isnan(ph), shape)] = "invalid input: pH missing"
    reason[(reason == "") & np.broadcast_to(bad_ph, shape)] = "invalid input: pH outside 0-14"
    bad = reason != ""
    clean = {
        n: np.where(np.broadcast_to(np.isnan(a), np.shape(a)), 0.0, a) for n, a in totals.items()
    }
    r = equil2_molar(clean, np.where(bad_ph, 7.0, ph), iteration=iteration)
    if not bad.any():
        return replace(r, reason=_readonly(reason))

    def blank(v: Any) -> Any:
        out = np.array(np.broadcast_to(v, shape), dtype=np.result_type(v, np.float64))
        out[bad] = np.nan
        out.flags.writeable = False
        return scalar_or_array(out)

    return replace(
        r,
        ss=_frozen({k: blank(v) for k, v in r.ss.items()}),
        dg=_frozen({k: blank(v) for k, v in r.dg.items()}),
        ionic_strength=blank(r.ionic_strength),
        activity_factors=_frozen({k: blank(v) for k, v in r.activity_factors.items()}),
        free=_frozen({k: blank(v) for k, v in r.free.items()}),
        species=_frozen({k: blank(v) for k, v in r.species.items()}),
        converged=_readonly(np.where(bad, False, np.broadcast_to(r.converged, shape))),
        reason=_readonly(reason),
    )


def _readonly(a: Any) -> Any:
    out = np.array(a)
    out.flags.writeable = False
    return scalar_or_array(out)


def from_solution(
    solution: Any,
    *,
    urate: Any,
    ammonium: Any = None,
    iteration: Iteration = "equil2",
    on_invalid: Literal["raise", "nan"] = "raise",
) -> Equil2Result:
    """EQUIL2 on an :class:`oxalate.Solution` (a batch), with the urate EQUIL2 also needs.

    The Solution's molal totals are read as the same numbers in mol/L, as
    EQUIL2 reads any input (see :func:`equil2`, Notes); its pH is required
    (EQUIL2 does not solve it), its temperature is ignored (EQUIL2's constants
    are those of 37-38 °C) and its carbonate is not used (EQUIL2 V5 never reads
    it).  The rows' labels, if any, carry over to ``to_dataframe()``.

    Parameters
    ----------
    solution : Solution
    urate : pint.Quantity or str
        Total urate as uric acid, e.g. ``"50 mg/dL"`` or ``"3 mmol/L"``. [mol/L]
    ammonium : pint.Quantity or str, optional
        Total ammonium; default 0. [mol/L]
    iteration, on_invalid
        As in :func:`equil2`.

    Returns
    -------
    Equil2Result

    Examples
    --------
    >>> import oxalate
    >>> from oxalate.equil2 import from_solution
    >>> urine = oxalate.fluids.urine_24h_normal()
    >>> r = from_solution(urine, urate="3 mmol/L")
    >>> round(float(r.ss["calcium_oxalate"]), 1) > 1
    True
    """
    from .solution import ANALYTES, Solution

    if not isinstance(solution, Solution):
        raise TypeError(f"solution={solution!r} must be an oxalate.Solution")
    if solution.pH is None:
        raise ValueError("from_solution: EQUIL2 takes the pH; the Solution has pH=None")
    given = {
        name: Quantity(solution.totals[key], "mol/kg")
        for name, key in ANALYTES.items()
        if name != "carbonate"
    }
    result = equil2(
        **given, urate=urate, ammonium=ammonium, pH=solution.pH, iteration=iteration,
        on_invalid=on_invalid,
    )  # fmt: skip
    return result if solution.labels is None else replace(result, labels=solution.labels)
