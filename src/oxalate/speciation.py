"""Vectorised aqueous speciation: the mass-action / mass-balance solver.

For every row of a batch it finds the free molalities of the components, the
ionic strength I and the water activity a_w such that

* every complex obeys mass action,
  log m_j = log K_j(T) + Σ_c ν_jc log a_c + ν_jH log a_H + ν_jw log a_w - log γ_j;
* every component's total is met (mass balance);
* I = ½ Σ z_j² m_j over all species, and a_w = 1 - 0.017 Σ m_j;
* optionally, the solution is electroneutral (pH or one ion adjusted).

The activity model is PHREEQC's by default, so the results reproduce USGS
PHREEQC run with the same constants (see ``tests/test_speciation_phreeqc.py``).

The solver is Newton's method on the logarithms of the free molalities and of
I, with the residuals in log form (ln computed total - ln given total), an
analytic Jacobian and a step limit, batched over rows with numpy: each
iteration is a handful of array operations over the whole batch, and rows
that have converged drop out of the active set.  No Python loop runs over
rows.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np
import numpy.typing as npt

from .activity import (
    DAVIES_LINEAR,
    EQUIL2_A_LN,
    EQUIL2_LINEAR,
    NEUTRAL_SALTING,
    check_model,
    warn_if_outside,
)
from .database import COMPONENTS, ConstantSet, analyte, resolve_constants, van_t_hoff
from .solution import ANALYTES, Solution
from .thermo import debye_huckel_a_kelvin, debye_huckel_b_kelvin

__all__ = ["PHASES", "Speciation", "speciate"]

FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]

#: Phases whose saturation is reported by :func:`speciate`.
PHASES: tuple[str, ...] = (
    "COM",
    "COD",
    "COT",
    "brushite",
    "hydroxyapatite",
    "octacalcium_phosphate",
)

_LN10 = math.log(10.0)
_NC = len(COMPONENTS) - 1  # components other than H
_H = COMPONENTS.index("H")
_WATER_SLOPE = 0.017
_STEP_LIMIT = 4.0  # largest change of ln m (or ln I) per Newton step
_M_CAP = 1e3  # species molalities are capped at 1e3 mol/kg while iterating
_RATIO_SWEEPS = 1  # EQUIL2-style scaling steps before Newton (measured: 1 is best)
_METALS = (0, 1, 2, 3)  # Ca, Mg, Na, K: the Newton unknowns; ligands are solved in closed form
_MODELS_IN_SPECIATION = (
    "davies",
    "ideal",
    "debye-huckel",
    "extended-debye-huckel",
    "truesdell-jones",
    "equil2",
)


@dataclass(frozen=True)
class _Model:
    """Species arrays for one constant set and activity model."""

    constants: ConstantSet
    nu: FloatArray  # (S, C) stoichiometry over the non-H components
    nu_h: FloatArray  # (S,)
    nu_w: FloatArray  # (S,)
    z: FloatArray  # (S,)
    z2: FloatArray
    size: FloatArray  # ion size [Å] where a WATEQ form applies, else nan (Davies fallback)
    bdot: FloatArray
    model: str


def _model(constants: ConstantSet, model: str) -> _Model:
    nu = np.ascontiguousarray(np.delete(constants.stoichiometry, _H, axis=1))
    size = np.full(len(constants.species), np.nan)
    bdot = np.zeros(len(constants.species))
    if model in ("extended-debye-huckel", "truesdell-jones"):
        # WATEQ parameters for the free ions that have them (truesdell1974); every
        # other species falls back to Davies, exactly as PHREEQC treats species
        # without -gamma.
        for name in ANALYTES:
            info = analyte(name)
            i = constants.index(info.formula) if info.formula in constants.species else None
            if i is not None:
                size[i] = info.ion_size
                bdot[i] = info.wateq_b if model == "truesdell-jones" else 0.0
    return _Model(
        constants=constants,
        nu=nu,
        nu_h=np.ascontiguousarray(constants.stoichiometry[:, _H]),
        nu_w=np.asarray(constants.water),
        z=np.asarray(constants.charge),
        z2=np.asarray(constants.charge) ** 2,
        size=size,
        bdot=bdot,
        model=model,
    )


def _log_gamma(
    m: _Model, ln_i: FloatArray, a: FloatArray, b: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """log10 γ of every species and its derivative with respect to ln I.

    Shapes: ln_i, a, b (N,) -> (N, S), (N, S).  γ depends on the species only
    through z² (and, for the WATEQ forms, the ion size), so it is computed
    once per charge class and gathered.
    """
    classes, cls_index = np.unique(m.z2, return_inverse=True)
    i = np.exp(ln_i)[:, None]
    s = np.sqrt(i)
    a = a[:, None]
    if m.model == "ideal":
        zero = np.zeros((len(ln_i), len(m.z2)))
        return zero, zero
    if m.model == "debye-huckel":
        lg_c = -a * classes * s
        dlg_c = 0.5 * lg_c
    elif m.model == "equil2":
        coef = EQUIL2_A_LN / _LN10
        f = s / (1.0 + s) - EQUIL2_LINEAR * i
        df = 0.5 * s / (1.0 + s) ** 2 - EQUIL2_LINEAR * i  # d f / d ln I
        lg_c = -coef * classes * f
        dlg_c = -coef * classes * df
    else:  # Davies (PHREEQC), also the fallback of the WATEQ forms
        f = s / (1.0 + s) - DAVIES_LINEAR * i
        df = 0.5 * s / (1.0 + s) ** 2 - DAVIES_LINEAR * i
        charged = classes != 0
        lg_c = np.where(charged, -a * classes * f, NEUTRAL_SALTING * i)
        dlg_c = np.where(charged, -a * classes * df, NEUTRAL_SALTING * i)
    lg = np.take(lg_c, cls_index, axis=1)
    dlg = np.take(dlg_c, cls_index, axis=1)
    if m.model in ("extended-debye-huckel", "truesdell-jones"):
        wateq = ~np.isnan(m.size)
        bs = b[:, None] * m.size[wateq] * s
        lg[:, wateq] = -a * m.z2[wateq] * s / (1.0 + bs) + m.bdot[wateq] * i
        dlg[:, wateq] = -a * m.z2[wateq] * 0.5 * s / (1.0 + bs) ** 2 + m.bdot[wateq] * i
    return lg, dlg


@dataclass(frozen=True)
class Speciation:
    """The result of :func:`speciate`: every quantity has the batch's shape.

    Attributes
    ----------
    species : tuple of str
        Names of the aqueous species, in the order of the last axis of
        ``molality``, ``log_gamma``.
    molality : numpy.ndarray, shape ``(*batch, n_species)``
        Free molality of every species. [mol/kg]
    log_gamma : numpy.ndarray, shape ``(*batch, n_species)``
        log10 activity coefficient of every species. [-]
    ionic_strength : numpy.ndarray
        [mol/kg]
    water_activity : numpy.ndarray
        [-]
    pH : numpy.ndarray
        The fixed or solved pH. [-]
    temperature : numpy.ndarray
        [K]
    totals : Mapping of str to numpy.ndarray
        Total molality of each component, after any charge-balance
        adjustment. [mol/kg]
    log_iap, saturation_index, supersaturation : Mapping of str to numpy.ndarray
        log10 IAP, SI = log10 Ω and Ω = IAP/Ksp for each phase in
        :data:`PHASES`.
    converged : numpy.ndarray of bool
        Rows whose mass balances met the tolerance; the others are NaN.
    residual : numpy.ndarray
        Largest relative mass-balance (or charge) residual per row. [-]
    iterations : numpy.ndarray of int
        Newton iterations per row.

    Examples
    --------
    >>> import oxalate
    >>> r = oxalate.speciate(oxalate.Solution(calcium="2 mmol/kg", oxalate="0.2 mmol/kg",
    ...                                       sodium="0.4 mmol/kg", pH=7.0))
    >>> r.molality.shape == (len(r.species),)
    True
    >>> si = float(r.saturation_index["COM"])
    >>> abs(float(r.supersaturation["COM"]) - 10**si) < 1e-12
    True
    """

    species: tuple[str, ...]
    molality: FloatArray
    ionic_strength: FloatArray
    water_activity: FloatArray
    pH: FloatArray
    temperature: FloatArray
    totals: Mapping[str, FloatArray]
    log_iap: Mapping[str, FloatArray]
    saturation_index: Mapping[str, FloatArray]
    supersaturation: Mapping[str, FloatArray]
    converged: BoolArray
    residual: FloatArray
    iterations: npt.NDArray[np.int64]
    activity_model: str
    constants: str
    _index: Mapping[str, int] = field(repr=False, default_factory=dict)
    # log10 gamma is stored per column of _lg_source; _lg_columns maps each species
    # to its column (its z^2 class when gamma depends on the charge only).
    _lg_source: FloatArray = field(repr=False, default_factory=lambda: np.zeros(0))
    # the constant set's stoichiometry (species x components), for fraction()
    _stoichiometry: FloatArray = field(repr=False, default_factory=lambda: np.zeros((0, 0)))
    _lg_columns: npt.NDArray[np.intp] = field(
        repr=False, default_factory=lambda: np.zeros(0, dtype=np.intp)
    )

    @property
    def log_gamma(self) -> FloatArray:
        """log10 activity coefficient of every species, shape ``(*batch, n_species)``. [-]"""
        return np.asarray(np.take(self._lg_source, self._lg_columns, axis=-1))

    def _column(self, species: str) -> int:
        try:
            return self._index[species]
        except KeyError:
            raise KeyError(
                f"unknown species {species!r}; known: {', '.join(self.species)}"
            ) from None

    def free(self, species: str) -> Any:
        """Free molality of one species (its name or PHREEQC name). [mol/kg]

        Examples
        --------
        >>> import oxalate
        >>> s = oxalate.Solution(calcium="1 mmol/kg", oxalate="0.05 mmol/kg", pH=7)
        >>> r = oxalate.speciate(s)
        >>> bool(r.free("Ca+2") < 1e-3)
        True
        """
        return _squeeze(self.molality[..., self._column(species)])

    def gamma(self, species: str) -> Any:
        """Activity coefficient of one species. [-]"""
        column = self._lg_columns[self._column(species)]
        return _squeeze(10.0 ** self._lg_source[..., column])

    def activity(self, species: str) -> Any:
        """Activity of one species, γ m. [-]"""
        j = self._column(species)
        return _squeeze(self.molality[..., j] * 10.0 ** self._lg_source[..., self._lg_columns[j]])

    def fraction(self, component: str) -> Mapping[str, FloatArray]:
        """Share of a component's total held by each species that contains it.

        Parameters
        ----------
        component : str
            An analyte name (``"calcium"``) or component key (``"Ca"``).

        Returns
        -------
        dict of str to numpy.ndarray
            Species name to fraction (they sum to 1). [-]

        Examples
        --------
        >>> import oxalate
        >>> r = oxalate.speciate(oxalate.Solution(calcium="2 mmol/kg", citrate="2 mmol/kg",
        ...                                       sodium="6 mmol/kg", pH=7))
        >>> shares = r.fraction("calcium")
        >>> round(float(sum(shares.values())), 12)
        1.0
        """
        key = ANALYTES.get(component, component)
        if key not in COMPONENTS or key == "H":
            raise KeyError(f"unknown component {component!r}; accepted: {list(ANALYTES)}")
        c = COMPONENTS.index(key)
        total = self.totals[key]
        out = {}
        for j, name in enumerate(self.species):
            nu = self._stoichiometry[j, c]
            if nu:
                with np.errstate(invalid="ignore", divide="ignore"):
                    out[name] = _squeeze(nu * self.molality[..., j] / total)
        return out

    def to_dataframe(self) -> Any:
        """The result as a pandas DataFrame, one row per solution (pandas needed).

        Columns: ionic strength, water activity, pH, converged, the totals,
        the SI of every phase and the molality of every species.
        """
        try:
            import pandas as pd
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise ImportError("to_dataframe() needs pandas: pip install pandas") from err
        flat: dict[str, Any] = {
            "ionic_strength": np.ravel(self.ionic_strength),
            "water_activity": np.ravel(self.water_activity),
            "pH": np.ravel(self.pH),
            "converged": np.ravel(self.converged),
            "residual": np.ravel(self.residual),
        }
        for k, v in self.totals.items():
            flat[f"total_{k}"] = np.ravel(v)
        for k, v in self.saturation_index.items():
            flat[f"SI_{k}"] = np.ravel(v)
        for j, name in enumerate(self.species):
            flat[f"m_{name}"] = np.ravel(self.molality[..., j])
        return pd.DataFrame(flat)


def _squeeze(x: Any) -> Any:  # a 0-d array becomes a numpy scalar
    x = np.asarray(x)
    return x[()] if x.ndim == 0 else x


def speciate(
    solution: Solution,
    *,
    activity_model: str = "davies",
    constants: Any = "default",
    charge_balance: str | None = None,
    tolerance: float = 1e-12,
    max_iterations: int = 100,
    chunk_size: int = 20_000,
    charge_offset: Any = None,
    engine: str = "auto",
) -> Speciation:
    """Speciate a batch of solutions: free ions, complexes, I, a_w, Ω of every phase.

    Parameters
    ----------
    solution : Solution
        The batch.  Rows with ``pH=None`` get their pH from electroneutrality.
    activity_model : {"davies", "ideal", "debye-huckel", "extended-debye-huckel", \
"truesdell-jones", "equil2"}
        ``"davies"`` is PHREEQC's (log γ = -A z² (√I/(1+√I) - 0.3 I), neutral
        0.1 I) and reproduces PHREEQC.  The WATEQ forms apply to the free
        ions that have WATEQ parameters and Davies to the rest, as PHREEQC
        does for species without ``-gamma``.
    constants : str, ConstantSet or mapping
        ``"default"``, ``"thermochimie"``, ``"nist46"``, a ConstantSet or a
        mapping of Ksp overrides.
    charge_balance : str, optional
        ``"pH"`` solves the pH from electroneutrality (also implied by
        ``solution.pH is None``); an analyte name (``"chloride"``,
        ``"sodium"``, ...) adjusts that ion's total to neutrality, as
        PHREEQC's ``charge`` keyword does.  Rows that would need a negative
        total do not converge.
    tolerance : float
        Largest relative mass-balance residual accepted. [-]
    max_iterations : int
        Newton iterations before a row is declared not converged.
    chunk_size : int
        Rows solved together; bounds memory at about 10 kB per row.
    charge_offset : float or array, optional
        With a charge balance: the charge excess Σ z m the solution must
        keep instead of 0, as PHREEQC keeps a solution's charge imbalance
        through a reaction. [eq/kg]
    engine : {"auto", "numpy", "numba"}
        ``"numba"`` runs the compiled kernel (:mod:`oxalate._kernel`, needs
        the optional numba package; fixed pH, no charge balance, Davies
        only), several times faster on large batches; its first call in a
        new installation compiles for a few seconds, later ones load the
        cache.  ``"numpy"`` is the pure-numpy solver.  ``"auto"`` takes
        numba when it is installed and the case is one it covers.  Both
        solve the same equations; they agree to about 1e-12.  The kernel
        runs batches of 2048 rows or more on numba's threads
        (``numba.set_num_threads``); the results do not depend on how many.

    Returns
    -------
    Speciation

    Warns
    -----
    OxalateRangeWarning
        Where the ionic strength exceeds the activity model's range.

    Notes
    -----
    Converges for totals from 1e-12 to 1 mol/kg, pH 1-13 and 0-100 °C.  A
    total of exactly zero removes the component's species.  A row that does
    not converge is flagged (``converged=False``) and NaN in its results;
    it never disturbs the other rows.

    References
    ----------
    .. [1] Parkhurst, D. L. and Appelo, C. A. J. (2013), USGS TM 6-A43,
       doi:10.3133/tm6A43.

    Examples
    --------
    >>> import oxalate
    >>> urine = oxalate.Solution(calcium="4 mmol/L", magnesium="3 mmol/L", sodium="150 mmol/L",
    ...     potassium="60 mmol/L", chloride="150 mmol/L", oxalate="0.35 mmol/L",
    ...     citrate="2.5 mmol/L", phosphate="20 mmol/L", sulfate="15 mmol/L",
    ...     pH=6.0, temperature="37 degC")
    >>> r = oxalate.speciate(urine)
    >>> bool(r.converged)
    True
    >>> bool(0 < r.saturation_index["COM"] < 1.5)
    True
    """
    if not isinstance(solution, Solution):
        raise TypeError(f"solution={solution!r} must be an oxalate.Solution")
    model_name = check_model(activity_model)
    cs = resolve_constants(constants)
    model = _model(cs, model_name)
    balance_component: int | None = None
    solve_ph = solution.pH is None
    if charge_balance is not None:
        if charge_balance == "pH":
            solve_ph = True
        else:
            key = ANALYTES.get(charge_balance, charge_balance)
            if key not in COMPONENTS or key == "H":
                raise ValueError(
                    f"charge_balance={charge_balance!r} is not known; accepted: 'pH' or one of "
                    f"{list(ANALYTES)}"
                )
            if solve_ph:
                raise ValueError(
                    "charge_balance on an ion needs a fixed pH; the Solution has pH=None"
                )
            balance_component = COMPONENTS.index(key)
    use_kernel = _choose_engine(
        engine,
        model_name,
        not (solve_ph or balance_component is not None or charge_offset is not None),
        model,
    )
    if not (isinstance(chunk_size, int) and chunk_size > 0):
        raise ValueError(f"chunk_size={chunk_size!r} must be a positive integer")

    shape = solution.shape
    n = solution.size
    totals = np.stack([np.ravel(solution.totals[c]) for c in COMPONENTS if c != "H"], axis=1)
    t = np.ravel(solution.temperature).astype(np.float64)
    # a fixed pH, or the first guess of a solved one
    ph = np.full(n, 7.0) if solution.pH is None else np.ravel(solution.pH).astype(np.float64)
    n_species = len(cs.species)
    out_m = np.full((n, n_species), np.nan)
    # log gamma by z^2 class (0-9) from the kernel, per species from the numpy solver
    lg_columns = model.z2.astype(np.intp) if use_kernel else np.arange(n_species)
    out_lg = np.full((n, 10 if use_kernel else n_species), np.nan)
    out_i = np.full(n, np.nan)
    out_aw = np.full(n, np.nan)
    out_ph = np.full(n, np.nan)
    out_res = np.full(n, np.nan)
    out_it = np.zeros(n, dtype=np.int64)
    out_ok = np.zeros(n, dtype=bool)
    out_tot = totals.copy()
    offset = (
        np.zeros(n)
        if charge_offset is None
        else np.ravel(np.broadcast_to(np.asarray(charge_offset, dtype=np.float64), shape)).copy()
    )
    if use_kernel:
        _run_kernel(model, totals, t, ph, tolerance, max_iterations, out_m, out_lg, out_i,
                    out_aw, out_res, out_it, out_ok)  # fmt: skip
        out_ph[:] = np.where(out_ok, ph, np.nan)
    for start in range(0, n if not use_kernel else 0, chunk_size):
        sl = slice(start, min(start + chunk_size, n))
        _solve_chunk(
            model, totals[sl], t[sl], ph[sl], solve_ph, balance_component, tolerance,
            max_iterations,
            out_m[sl], out_lg[sl], out_i[sl], out_aw[sl], out_ph[sl], out_res[sl], out_it[sl],
            out_ok[sl], out_tot[sl], offset[sl],
        )  # fmt: skip
    if balance_component is not None:  # an adjusted total is unknown where the row failed
        out_tot[~out_ok, balance_component] = np.nan
    warn_if_outside(model_name, out_i[out_ok])
    return _assemble(
        cs, model_name, shape, totals, t, out_m, out_lg, lg_columns, out_i, out_aw, out_ph,
        out_tot, out_ok, out_res, out_it,
    )  # fmt: skip


class _PhaseSaturation:
    """log IAP, SI and Ω of each phase of a Speciation, computed per phase on first use."""

    def __init__(
        self,
        cs: ConstantSet,
        shape: tuple[int, ...],
        totals: FloatArray,
        t: FloatArray,
        out_m: FloatArray,
        out_lg: FloatArray,
        lg_columns: npt.NDArray[np.intp],
        out_aw: FloatArray,
        out_ph: FloatArray,
    ) -> None:
        self.phases = tuple(p for p in PHASES if p in cs.solids)
        # plain data only (stoichiometry without H, H, water, log K25, ΔH): picklable
        self._solids = {
            p: (
                np.delete(np.asarray(cs.solids[p].stoichiometry), _H),
                float(cs.solids[p].stoichiometry[_H]),
                float(cs.solids[p].water),
                float(cs.solids[p].log_k25),
                float(cs.solids[p].delta_h),
            )
            for p in self.phases
        }
        self._comp_cols = [cs.index(cs.species[k]) for k in range(_NC)]  # component species
        self._shape, self._t = shape, t
        self._inputs: tuple[Any, ...] | None = (
            totals, out_m, out_lg, lg_columns, out_aw, out_ph,
        )  # fmt: skip
        self._log_a = np.zeros((0, 0))
        self._log_aw = np.zeros(0)
        self._log_ah = np.zeros(0)
        self._cache: dict[tuple[str, str], Any] = {}

    def _activities(self) -> None:
        if self._inputs is None:
            return
        totals, out_m, out_lg, lg_columns, out_aw, out_ph = self._inputs
        comp_cols = self._comp_cols
        with np.errstate(divide="ignore", invalid="ignore"):
            log_a = np.log10(out_m[:, comp_cols]) + out_lg[:, lg_columns[comp_cols]]
            # an absent component: no phase of it forms
            self._log_a = np.where(totals > 0, log_a, -np.inf)
        self._log_aw = np.log10(out_aw)
        self._log_ah = -out_ph
        self._inputs = None

    def get(self, phase: str, what: str) -> Any:
        key = (phase, what)
        if key not in self._cache:
            self._activities()
            nu, nu_h, water, log_k25, delta_h = self._solids[phase]
            with np.errstate(invalid="ignore"):
                lia = self._log_aw * water + self._log_ah * nu_h
                for c in np.flatnonzero(nu):
                    lia = lia + nu[c] * self._log_a[:, c]
            si = lia - van_t_hoff(log_k25, delta_h, self._t)
            with np.errstate(over="ignore"):
                omega = 10.0**si
            for name, value in (("log_iap", lia), ("si", si), ("omega", omega)):
                self._cache[(phase, name)] = _squeeze(value.reshape(self._shape))
        return self._cache[key]


class _LazyPhaseMap(Mapping[str, Any]):
    """A read-only mapping phase -> array whose values are computed on first access."""

    def __init__(self, source: _PhaseSaturation, what: str) -> None:
        self._source = source
        self._what = what

    def __getitem__(self, phase: str) -> Any:
        if phase not in self._source.phases:
            raise KeyError(phase)
        return self._source.get(phase, self._what)

    def __iter__(self) -> Iterator[str]:
        return iter(self._source.phases)

    def __len__(self) -> int:
        return len(self._source.phases)

    def __repr__(self) -> str:
        return repr(dict(self))


def _assemble(
    cs: ConstantSet,
    model_name: str,
    shape: tuple[int, ...],
    totals: FloatArray,
    t: FloatArray,
    out_m: FloatArray,
    out_lg: FloatArray,
    lg_columns: npt.NDArray[np.intp],
    out_i: FloatArray,
    out_aw: FloatArray,
    out_ph: FloatArray,
    out_tot: FloatArray,
    out_ok: BoolArray,
    out_res: FloatArray,
    out_it: npt.NDArray[np.int64],
) -> Speciation:
    """The Speciation of solved rows (flattened to N), with the phases' SI and Ω.

    ``out_lg`` holds log γ by z² class (``lg_columns`` = z² of each species)
    or per species (``lg_columns`` = arange); ``totals`` the totals the
    phases' presence is judged by.
    """
    n_species = len(cs.species)
    # Saturation of the phases, from the converged activities: computed for a phase when
    # it is first asked for (most users look at one or two of the six)
    phases = _PhaseSaturation(cs, shape, totals, t, out_m, out_lg, lg_columns, out_aw, out_ph)
    return Speciation(
        species=cs.species,
        molality=out_m.reshape(*shape, n_species),
        _lg_source=out_lg.reshape(*shape, out_lg.shape[1]),
        _lg_columns=lg_columns,
        _stoichiometry=cs.stoichiometry,
        ionic_strength=_squeeze(out_i.reshape(shape)),
        water_activity=_squeeze(out_aw.reshape(shape)),
        pH=_squeeze(out_ph.reshape(shape)),
        temperature=_squeeze(t.reshape(shape)),
        totals={c: _squeeze(out_tot[:, k].reshape(shape)) for k, c in enumerate(COMPONENTS[:_NC])},
        log_iap=_LazyPhaseMap(phases, "log_iap"),
        saturation_index=_LazyPhaseMap(phases, "si"),
        supersaturation=_LazyPhaseMap(phases, "omega"),
        converged=_squeeze(out_ok.reshape(shape)),
        residual=_squeeze(out_res.reshape(shape)),
        iterations=_squeeze(out_it.reshape(shape)),
        activity_model=model_name,
        constants=cs.name,
        _index={
            **{name: j for j, name in enumerate(cs.species)},
            **{name: j for j, name in enumerate(cs.phreeqc_names)},
        },
    )


def _choose_engine(
    engine: str,
    model_name: str,
    applies: bool,
    model: _Model,
    case: str = "fixed pH, no charge balance and the Davies model",
) -> bool:
    """True when the compiled kernel should run.

    ``applies``: the call is one the kernel covers apart from the activity
    model (which must be Davies), described by ``case`` in the error that
    ``engine="numba"`` raises otherwise.  ``"auto"`` falls back to numpy
    wherever ``"numba"`` would raise.
    """
    if engine not in ("auto", "numpy", "numba"):
        raise ValueError(f"engine={engine!r} is not known; accepted: 'auto', 'numpy', 'numba'")
    if engine == "numpy":
        return False
    if not (model_name == "davies" and applies):
        if engine == "numba":
            raise ValueError(
                f"engine='numba' covers {case}; use engine='numpy' (or 'auto') for this case"
            )
        return False
    try:
        kernel = _kernel_module()
    except ImportError:
        if engine == "numba":
            raise
        return False
    if not kernel.covers(model.nu, model.nu_h, model.nu_w, model.z2):
        if engine == "numba":
            raise ValueError(
                "engine='numba' needs species with at most one metal and one ligand and "
                "integer coefficients; use engine='numpy' for this constant set"
            )
        return False
    return True


def _kernel_module() -> Any:
    try:
        from . import _kernel
    except ImportError as err:
        raise ImportError(
            "engine='numba' needs the optional numba package: pip install 'oxalate[fast]'"
        ) from err
    return _kernel


def _run_kernel(
    model: _Model,
    totals: FloatArray,
    t: FloatArray,
    ph: FloatArray,
    tol: float,
    max_iter: int,
    out_m: FloatArray,
    out_lg: FloatArray,
    out_i: FloatArray,
    out_aw: FloatArray,
    out_res: FloatArray,
    out_it: npt.NDArray[np.int64],
    out_ok: BoolArray,
    a_line: tuple[FloatArray, FloatArray] | None = None,
) -> None:
    """Solve every row with the compiled kernel (fixed pH, Davies).

    ``a_line`` is :func:`_a_line` of ``t`` when the caller has it already.
    """
    kernel = _kernel_module()
    a_ref, a_slope = _a_line(t) if a_line is None else a_line
    kernel.solve_rows(
        model.nu, model.nu_h, model.nu_w, model.z2,
        np.asarray(model.constants.log_k25), np.asarray(model.constants.delta_h), t,
        np.ascontiguousarray(totals), -ph, a_ref, a_slope, tol, max_iter,
        out_m, out_lg, out_i, out_aw, out_res, out_it, out_ok,
    )  # fmt: skip
    out_m[~out_ok] = np.nan
    out_lg[~out_ok] = np.nan
    out_i[~out_ok] = np.nan
    out_aw[~out_ok] = np.nan


def _a_line(t: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Debye-Hückel A(T, a_w) = a_ref + a_slope (a_w - 1), as the compiled kernels take it.

    A is linear in a_w to 1e-15 over the range a_w takes.  A batch at one
    temperature (the usual case) computes it once.
    """
    if t.size > 1 and t.min() == t.max():
        a_ref, a_slope = _a_line(t[:1])
        return np.full(t.shape, a_ref[0]), np.full(t.shape, a_slope[0])
    a_ref = np.asarray(debye_huckel_a_kelvin(t, 1.0), dtype=np.float64)
    return a_ref, (a_ref - debye_huckel_a_kelvin(t, 0.99)) / 0.01


def _solve_chunk(
    model: _Model,
    totals: FloatArray,
    t: FloatArray,
    ph: FloatArray,
    solve_ph: bool,
    balance: int | None,
    tol: float,
    max_iter: int,
    out_m: FloatArray,
    out_lg: FloatArray,
    out_i: FloatArray,
    out_aw: FloatArray,
    out_ph: FloatArray,
    out_res: FloatArray,
    out_it: npt.NDArray[np.int64],
    out_ok: BoolArray,
    out_tot: FloatArray,
    offset: FloatArray,
) -> None:
    """Solve one chunk of rows in place (the reduced Newton, see module notes).

    Unknowns per row: ln m of the metals (Ca, Mg, Na, K), ln I, and, where
    asked, ln a_H or ln m of a charge-balance ligand.  Given those, every
    ligand's free molality follows in closed form from its mass balance
    (no species holds two different ligands), so Newton runs on 5-6
    unknowns instead of 11.
    """
    n = len(t)
    nc = _NC
    # which components are Newton unknowns (metals, and a ligand that balances charge)
    unknown = list(_METALS)
    if balance is not None and balance not in unknown:
        unknown.append(balance)
    closed = [c for c in range(nc) if c not in unknown]
    u_idx = np.array(unknown)
    cf_idx = np.array(closed)
    nu_u = model.nu[:, u_idx]  # (S, U)
    nu_cf = model.nu[:, cf_idx]  # (S, L)
    lig_col = np.where(nu_cf.any(axis=1), np.argmax(nu_cf != 0, axis=1), len(closed))
    lig_nu = nu_cf.max(axis=1)
    double = np.flatnonzero(lig_nu == 2)
    one_mask = (nu_cf == 1).astype(np.float64)
    two_mask = (nu_cf == 2).astype(np.float64)
    nu2_cf = nu_cf**2
    n_u = len(unknown)
    k_var = n_u + 1 + (1 if solve_ph else 0)
    col_i = n_u
    col_h = n_u + 1

    valid = np.all(np.isfinite(totals), axis=1) & np.isfinite(t) & np.isfinite(ph)
    present = totals > 0
    if balance is not None:
        present[:, balance] = True
    species_ok = ((~present).astype(np.float64) @ (model.nu != 0).T) == 0
    log_k = model.constants.log_k(t)
    start = np.where(totals > 0, totals, 1e-3)
    x = np.log(start[:, u_idx])
    ln_i = np.log(0.5 * (totals * model.z2[:nc]).sum(axis=1) + 1e-7)
    log_ah = -np.where(np.isfinite(ph), ph, 7.0)
    log_aw = np.zeros(n)
    tot_u = np.where(totals[:, u_idx] > 0, totals[:, u_idx], 1.0)
    tot_cf = totals[:, cf_idx]
    pres_u = present[:, u_idx]
    if balance is not None:
        pres_u_bal = np.zeros(n_u, dtype=bool)
        pres_u_bal[unknown.index(balance)] = True
    active = np.flatnonzero(valid)
    iterations = np.zeros(n, dtype=np.int64)
    residual = np.full(n, np.inf)
    ok = np.zeros(n, dtype=bool)
    for it in range(max_iter + 1):
        if active.size == 0:
            break
        xa, lia, aha, awa = x[active], ln_i[active], log_ah[active], log_aw[active]
        aw_lin = 10.0**awa
        a_dh = debye_huckel_a_kelvin(t[active], aw_lin)
        b_dh = (
            debye_huckel_b_kelvin(t[active], aw_lin)
            if model.model in ("extended-debye-huckel", "truesdell-jones")
            else a_dh
        )
        lg, dlg = _log_gamma(model, lia, a_dh, b_dh)
        # log10 C_j: everything in m_j but the closed-form ligand's own molality
        y = lg[:, :nc].copy()
        y[:, u_idx] += xa / _LN10
        log_c = log_k[active] + _rowdot(y, model.nu.T) + aha[:, None] * model.nu_h
        log_c += awa[:, None] * model.nu_w - lg
        # C_j is not a molality (it multiplies a small free-ligand molality), so only
        # guard against overflow here; the molalities themselves are capped below.
        c = np.where(species_ok[active], np.exp(_LN10 * np.minimum(log_c, 250.0)), 0.0)
        # closed-form ligands: T = alpha m + 2 beta m^2
        alpha = _rowdot(c, one_mask)
        beta = _rowdot(c, two_mask)
        tl = tot_cf[active]
        with np.errstate(invalid="ignore", divide="ignore"):
            m_l = np.where(
                tl > 0, 2.0 * tl / (alpha + np.sqrt(alpha * alpha + 8.0 * beta * tl)), 0.0
            )
        factor = np.concatenate([m_l, np.ones((len(active), 1))], axis=1)[:, lig_col]
        m = c * factor
        m[:, double] *= factor[:, double]
        m = np.minimum(m, _M_CAP)
        # residuals
        s_u = _rowdot(m, nu_u)
        ionic = 0.5 * _rowdot(m, model.z2)
        charge = _rowdot(m, model.z) - offset[active]
        charge_scale = 0.5 * _rowdot(m, np.abs(model.z))
        pres = pres_u[active]
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(pres, np.log(s_u) - np.log(tot_u[active]), 0.0)
            rel = np.where(pres, np.abs(s_u / tot_u[active] - 1.0), 0.0)
        if balance is not None:
            jb = unknown.index(balance)
            r[:, jb] = charge / charge_scale
            rel[:, jb] = np.abs(r[:, jb])
        r_i = lia - np.log(ionic)
        new_aw = np.maximum(1.0 - _WATER_SLOPE * m.sum(axis=1), 1e-3)
        worst = np.maximum(rel.max(axis=1), np.abs(r_i))
        worst = np.maximum(worst, np.abs(np.log10(new_aw) - awa))
        if solve_ph:
            r_q = charge / charge_scale
            worst = np.maximum(worst, np.abs(r_q))
        residual[active] = worst
        done = worst <= tol
        if done.any():
            idx = active[done]
            # species holding water (OH-) at the a_w reported, not the lagged one iterated
            # with (they differ by at most the tolerance), as the compiled kernel does
            shift = np.log10(new_aw[done]) - awa[done]
            out_m[idx] = m[done] * 10.0 ** (shift[:, None] * model.nu_w)
            out_lg[idx] = lg[done]
            out_i[idx] = ionic[done]
            out_aw[idx] = new_aw[done]
            out_ph[idx] = -aha[done]
            ok[idx] = True
            iterations[idx] = it
            if balance is not None:
                out_tot[idx, balance] = _rowdot(m[done], model.nu[:, balance])
        keep = ~done & np.isfinite(worst)
        if it == max_iter or not keep.any():
            iterations[active[keep]] = it
            break
        if it < _RATIO_SWEEPS:
            # The compiled kernel's first move, repeated here so that both engines take
            # the same path: scale each free metal by total / computed (not the
            # charge-balance component) and take the computed ionic strength.
            scaled = active[keep]
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = np.where(pres[keep], np.log(s_u[keep] / tot_u[scaled]), 0.0)
            if balance is not None:
                ratio[:, unknown.index(balance)] = 0.0
            x[scaled] -= ratio
            ln_i[scaled] = np.log(ionic[keep])
            log_aw[scaled] = np.log10(new_aw[keep])
            active = scaled
            continue
        # --- Jacobian in (ln m_u, ln I[, ln a_H]) with the ligands' implicit response.
        # Every row of the system is a weighted sum R_r = sum_j W_jr m_j (mass balance of
        # an unknown component, I/2 weights z^2/2, charge weights z), so
        #   dR_r/dv = sum_j W_jr m_j Dd_jv + sum_L (sum_j W_jr nu_jL m_j) dln m_L/dv,
        #   dln m_L/dv = -(sum_j nu_jL m_j Dd_jv) / (sum_j nu_jL^2 m_j),
        # where Dd_jv is the direct derivative of ln m_j (nu_ju for a metal, nu_jH for
        # ln a_H, g_j for ln I).  All of it is (k, S) x (S, X) row products.
        if not keep.all():
            m, lg, dlg, r, r_i = m[keep], lg[keep], dlg[keep], r[keep], r_i[keep]
            s_u, ionic, charge = s_u[keep], ionic[keep], charge[keep]
            charge_scale, pres, new_aw = charge_scale[keep], pres[keep], new_aw[keep]
            active = active[keep]
        k = len(m)
        g = _LN10 * (_rowdot(dlg[:, :nc], model.nu.T) - dlg)  # d ln m_j / d ln I, direct
        mg = m * g
        n_l = len(closed)
        n_r = n_u + 2
        dd_const = nu_u if not solve_ph else np.concatenate([nu_u, model.nu_h[:, None]], axis=1)
        n_c = dd_const.shape[1]
        weights = np.concatenate([nu_u, 0.5 * model.z2[:, None], model.z[:, None]], axis=1)
        a_const = _rowdot(m, (weights[:, :, None] * dd_const[:, None, :]).reshape(-1, n_r * n_c))
        a_const = a_const.reshape(k, n_r, n_c)
        a_g = _rowdot(mg, weights)  # (k, R)
        b_rl = _rowdot(m, (weights[:, :, None] * nu_cf[:, None, :]).reshape(-1, n_r * n_l))
        b_rl = b_rl.reshape(k, n_r, n_l)
        q = _rowdot(m, nu2_cf)
        q_safe = np.where(q > 0, q, 1.0)[:, :, None]
        e_const = -_rowdot(m, (nu_cf[:, :, None] * dd_const[:, None, :]).reshape(-1, n_l * n_c))
        e_const = e_const.reshape(k, n_l, n_c) / q_safe
        e_g = -_rowdot(mg, nu_cf)[:, :, None] / q_safe
        full_const = a_const + b_rl @ e_const  # (k, R, n_c)
        full_g = a_g + (b_rl @ e_g)[:, :, 0]  # (k, R)
        jac = np.empty((k, k_var, k_var))
        s_safe = np.where(s_u > 0, s_u, 1.0)
        jac[:, :n_u, :n_u] = full_const[:, :n_u, :n_u] / s_safe[:, :, None]
        jac[:, :n_u, col_i] = full_g[:, :n_u] / s_safe
        jac[:, col_i, :n_u] = -full_const[:, n_u, :n_u] / ionic[:, None]
        jac[:, col_i, col_i] = 1.0 - full_g[:, n_u] / ionic
        charge_row = np.empty((k, k_var))
        charge_row[:, :n_u] = full_const[:, n_u + 1, :n_u]
        charge_row[:, col_i] = full_g[:, n_u + 1]
        if solve_ph:
            jac[:, :n_u, col_h] = full_const[:, :n_u, n_u] / s_safe
            jac[:, col_i, col_h] = -full_const[:, n_u, n_u] / ionic
            charge_row[:, col_h] = full_const[:, n_u + 1, n_u]
        charge_row /= charge_scale[:, None]
        rhs = np.concatenate([r, r_i[:, None]], axis=1)
        if balance is not None:
            jac[:, unknown.index(balance), :] = charge_row
        if solve_ph:
            jac[:, col_h, :] = charge_row
            rhs = np.concatenate([rhs, (charge / charge_scale)[:, None]], axis=1)
        absent = ~pres
        if balance is not None:
            absent &= ~pres_u_bal
        if absent.any():
            rows, cols = np.nonzero(absent)
            jac[rows, cols, :] = 0.0
            jac[rows, :, cols] = 0.0
            jac[rows, cols, cols] = 1.0
            rhs[rows, cols] = 0.0
        step = _solve_small(jac, rhs)
        biggest = np.max(np.abs(step), axis=1)
        step *= (_STEP_LIMIT / np.maximum(biggest, _STEP_LIMIT))[:, None]
        x[active] -= step[:, :n_u]
        ln_i[active] -= step[:, col_i]
        if solve_ph:
            log_ah[active] -= step[:, col_h] / _LN10
        log_aw[active] = np.log10(new_aw)
    out_res[:] = residual
    out_it[:] = iterations
    out_ok[:] = ok


def _rowdot(a: FloatArray, b: FloatArray) -> FloatArray:
    """Row-wise products a (k, S) x b (S, ...) summed in the same order for every row.

    A BLAS matmul sums in an order that depends on how many rows there are, so a
    row's last bits would depend on its batch; einsum without BLAS does not.  That
    keeps the batch result equal to the row-by-row result, exactly.
    """
    return np.asarray(np.einsum("ks,s...->k...", a, b))


def _solve_small(a: FloatArray, b: FloatArray) -> FloatArray:
    """Solve a batch of small systems a x = b; singular rows give NaN."""
    try:
        return np.asarray(np.linalg.solve(a, b[..., None])[..., 0])
    except np.linalg.LinAlgError:
        out = np.full_like(b, np.nan)
        det_ok = np.abs(np.linalg.det(a)) > 0
        if det_ok.any():
            out[det_ok] = np.linalg.solve(a[det_ok], b[det_ok][..., None])[..., 0]
        return out
