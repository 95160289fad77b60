"""The species model every engine solves: one constant set, one activity model.

:class:`SpeciesModel` turns a :class:`~oxalate.database.ConstantSet` and an
:class:`~oxalate.activity.ActivityModel` into the arrays the solvers work on:
stoichiometry over the components but H, H⁺ and H₂O coefficients, charges,
the activity model's per-species parameters, and the layout of the stored
activity coefficients.  Its sizes and indices come from the chemical system of
``ions.csv`` (:func:`oxalate.database.chemical_system`), never from literals.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from ..activity import ActivityModel, activity_model
from ..database import ChemicalSystem, ConstantSet, Solid, chemical_system

__all__ = [
    "PhaseTable",
    "SpeciesModel",
    "component_log_activities",
    "log_iap",
    "phase_table",
    "speciation_log_iap",
    "species_model",
]

FloatArray: TypeAlias = npt.NDArray[np.float64]
IndexArray: TypeAlias = npt.NDArray[np.intp]


@dataclass(frozen=True, eq=False)
class SpeciesModel:
    """Species arrays of one constant set and activity model.

    Attributes
    ----------
    constants : ConstantSet
    system : ChemicalSystem
        Components, metals and ligands (``ions.csv``).
    activity : ActivityModel
    nu : numpy.ndarray, shape (S, C)
        Stoichiometry over the components but H.
    nu_h, nu_w : numpy.ndarray, shape (S,)
        H⁺ and H₂O in each formation reaction.
    z, z2 : numpy.ndarray, shape (S,)
        Charge and squared charge.
    size, bdot : numpy.ndarray, shape (S,)
        The activity model's ion size (NaN where its charge-only form
        applies) and b of each species.
    gamma_columns : numpy.ndarray of int, shape (S,)
        Column of the stored log10 γ that holds each species: its z² when γ
        depends on the charge only (so a row stores one value per charge
        class), else the species itself.
    n_gamma : int
        Number of stored log10 γ columns.
    """

    constants: ConstantSet
    system: ChemicalSystem
    activity: ActivityModel
    nu: FloatArray
    nu_h: FloatArray
    nu_w: FloatArray
    z: FloatArray
    z2: FloatArray
    size: FloatArray
    bdot: FloatArray
    gamma_columns: IndexArray
    n_gamma: int

    @property
    def name(self) -> str:
        """The activity model's name."""
        return self.activity.name

    @property
    def n_components(self) -> int:
        """Components whose totals are given (all but H)."""
        return len(self.system.solutes)

    def log_gamma(
        self, ln_i: FloatArray, a: FloatArray, b: FloatArray
    ) -> tuple[FloatArray, FloatArray]:
        """log10 γ of every species and d log10 γ / d ln I, each (N, S)."""
        return self.activity.log_gamma(self.z2, self.size, self.bdot, ln_i, a, b)

    def stored_gamma(self, lg: FloatArray) -> FloatArray:
        """log10 γ per species (k, S) in the stored layout (k, n_gamma)."""
        out = np.full((len(lg), self.n_gamma), np.nan)
        out[:, self.gamma_columns] = lg
        return out

    def species_gamma(self, stored: FloatArray) -> FloatArray:
        """log10 γ per species (k, S) from the stored layout."""
        return np.asarray(np.take(stored, self.gamma_columns, axis=-1))


_CACHE: dict[tuple[int, str], tuple[ConstantSet, SpeciesModel]] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 32


def species_model(constants: ConstantSet, model: str) -> SpeciesModel:
    """The :class:`SpeciesModel` of a constant set and an activity-model name (cached).

    Cached by the constant set's identity (the shipped sets are themselves
    cached, so every call with ``constants="default"`` shares one model).
    """
    key = (id(constants), model)
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    if hit is not None and hit[0] is constants:
        return hit[1]
    built = _build_model(constants, model)
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = (constants, built)
    return built


def _build_model(constants: ConstantSet, model: str) -> SpeciesModel:
    system = chemical_system()
    activity = activity_model(model)
    nu = np.ascontiguousarray(np.delete(constants.stoichiometry, system.h, axis=1))
    z = np.asarray(constants.charge, dtype=np.float64)
    z2 = z**2
    size, bdot = activity.species_parameters(constants.species, z2)
    charge_only = bool(np.all(np.isnan(size)))
    if charge_only and np.all(z2 == np.round(z2)):
        columns = z2.astype(np.intp)
        n_gamma = int(columns.max()) + 1
    else:
        columns = np.arange(len(z2), dtype=np.intp)
        n_gamma = len(z2)
    for array in (nu, z, z2, size, bdot, columns):
        array.setflags(write=False)
    return SpeciesModel(
        constants=constants,
        system=system,
        activity=activity,
        nu=nu,
        nu_h=np.ascontiguousarray(constants.stoichiometry[:, system.h]),
        nu_w=np.asarray(constants.water),
        z=z,
        z2=z2,
        size=size,
        bdot=bdot,
        gamma_columns=columns,
        n_gamma=n_gamma,
    )


@dataclass(frozen=True, eq=False)
class PhaseTable:
    """The dissolution reactions of some phases, as arrays over the components but H.

    Attributes
    ----------
    keys : tuple of str
        The phases, in order.
    nu : numpy.ndarray, shape (P, C)
        Components released per formula unit.
    nu_h, water : numpy.ndarray, shape (P,)
        H⁺ and H₂O released per formula unit.
    solids : tuple of Solid
    """

    keys: tuple[str, ...]
    nu: FloatArray
    nu_h: FloatArray
    water: FloatArray
    solids: tuple[Solid, ...]

    def log_k(self, temperature: FloatArray) -> FloatArray:
        """Dissolution log10 K of every phase at each temperature: (N, P)."""
        n = np.size(temperature)
        if not self.solids:
            return np.zeros((n, 0))
        return np.stack([s.log_k(temperature) for s in self.solids], axis=-1).reshape(
            n, len(self.solids)
        )


def phase_table(constants: ConstantSet, keys: tuple[str, ...]) -> PhaseTable:
    """The :class:`PhaseTable` of the phases ``keys`` (already canonical) of a set."""
    h = chemical_system().h
    solids = tuple(constants.solids[k] for k in keys)
    nu = np.array([np.delete(np.asarray(s.stoichiometry), h) for s in solids], dtype=np.float64)
    return PhaseTable(
        keys=keys,
        nu=np.ascontiguousarray(nu.reshape(len(solids), -1)),
        nu_h=np.array([s.stoichiometry[h] for s in solids], dtype=np.float64),
        water=np.array([s.water for s in solids], dtype=np.float64),
        solids=solids,
    )


def component_log_activities(
    molality: FloatArray,
    log_gamma: FloatArray,
    gamma_columns: IndexArray,
    totals: FloatArray,
    components: Sequence[int] | None = None,
) -> FloatArray:
    """log10 activity of each component but H (N, C) in a speciation.

    ``log_gamma`` is in a model's stored layout (``gamma_columns``); a
    component whose total is not positive has activity 0 (log10 = -inf), so no
    phase holding it forms.  With ``components`` only those columns are
    computed (the same figures) and the others are 0: what one phase needs.
    """
    nc = totals.shape[1]
    if components is not None:
        log_a_some = np.zeros((len(molality), nc))
        with np.errstate(divide="ignore", invalid="ignore"):
            for c in components:
                log_a_c = np.log10(molality[:, c]) + log_gamma[:, gamma_columns[c]]
                log_a_some[:, c] = np.where(totals[:, c] > 0, log_a_c, -np.inf)
        return log_a_some
    with np.errstate(divide="ignore", invalid="ignore"):
        log_a = np.log10(molality[:, :nc]) + log_gamma[:, gamma_columns[:nc]]
        return np.asarray(np.where(totals > 0, log_a, -np.inf))


def log_iap(
    phases: PhaseTable, log_a: FloatArray, log_aw: FloatArray, ph: FloatArray
) -> FloatArray:
    """log10 IAP of each phase (N, P) from the components' log10 activities (N, C).

    ``log_aw`` is log10 a_w and ``ph`` the pH of each row.
    """
    with np.errstate(invalid="ignore"):
        out = log_aw[:, None] * phases.water + (-ph)[:, None] * phases.nu_h
        for c in range(log_a.shape[1]):
            nu = phases.nu[:, c]
            if nu.any():
                out = out + np.where(nu != 0, nu * log_a[:, c : c + 1], 0.0)
    return np.asarray(out)


def speciation_log_iap(model: SpeciesModel, phases: PhaseTable, sp: Any) -> FloatArray:
    """log10 IAP of each phase (N, P) in an engine's speciation result ``sp``."""
    used = np.flatnonzero(phases.nu.any(axis=0))  # the components of the phases only
    log_a = component_log_activities(
        sp.molality, sp.log_gamma, model.gamma_columns, sp.totals, used.tolist()
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        log_aw = np.log10(sp.water_activity)
    return log_iap(phases, log_a, log_aw, sp.pH)
