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
from collections.abc import Mapping
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
_LOG_M_CAP = 3.0  # species molalities are capped at 1e3 mol/kg while iterating
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
    pair: FloatArray  # (S, C*C) nu_c nu_k, flattened
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
        pair=np.ascontiguousarray((nu[:, :, None] * nu[:, None, :]).reshape(len(nu), -1)),
        size=size,
        bdot=bdot,
        model=model,
    )


def _log_gamma(
    m: _Model, ln_i: FloatArray, a: FloatArray, b: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """log10 γ of every species and its derivative with respect to ln I.

    Shapes: ln_i, a, b (N,) -> (N, S), (N, S).
    """
    i = np.exp(ln_i)[:, None]
    s = np.sqrt(i)
    a = a[:, None]
    z2 = m.z2
    if m.model == "ideal":
        zero = np.zeros((len(ln_i), len(z2)))
        return zero, zero
    if m.model == "debye-huckel":
        lg = -a * z2 * s
        return lg, 0.5 * lg
    if m.model == "equil2":
        coef = EQUIL2_A_LN / _LN10
        f = s / (1.0 + s) - EQUIL2_LINEAR * i
        df = 0.5 * s / (1.0 + s) ** 2 - EQUIL2_LINEAR * i  # d f / d ln I
        return -coef * z2 * f, -coef * z2 * df
    # Davies (PHREEQC), and the WATEQ forms with a Davies fallback
    f = s / (1.0 + s) - DAVIES_LINEAR * i
    df = 0.5 * s / (1.0 + s) ** 2 - DAVIES_LINEAR * i
    charged = z2 != 0
    lg = np.where(charged, -a * z2 * f, NEUTRAL_SALTING * i)
    dlg = np.where(charged, -a * z2 * df, NEUTRAL_SALTING * i)
    if m.model in ("extended-debye-huckel", "truesdell-jones"):
        wateq = ~np.isnan(m.size)
        bs = b[:, None] * m.size[wateq] * s
        lg_w = -a * z2[wateq] * s / (1.0 + bs) + m.bdot[wateq] * i
        dlg_w = -a * z2[wateq] * 0.5 * s / (1.0 + bs) ** 2 + m.bdot[wateq] * i
        lg[:, wateq] = lg_w
        dlg[:, wateq] = dlg_w
    return lg, dlg


@dataclass(frozen=True)
class Speciation:
    """The result of :func:`speciate`: every quantity has the batch's shape.

    Attributes
    ----------
    species : tuple of str
        Names of the aqueous species, in the order of the last axis of
        ``molality``, ``log_gamma``.
    molality : numpy.ndarray, shape (*batch, n_species)
        Free molality of every species. [mol/kg]
    log_gamma : numpy.ndarray, shape (*batch, n_species)
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
    """

    species: tuple[str, ...]
    molality: FloatArray
    log_gamma: FloatArray
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
        return _squeeze(10.0 ** self.log_gamma[..., self._column(species)])

    def activity(self, species: str) -> Any:
        """Activity of one species, γ m. [-]"""
        j = self._column(species)
        return _squeeze(self.molality[..., j] * 10.0 ** self.log_gamma[..., j])

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
            nu = _STOICH_CACHE[self.constants][j, c]
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


_STOICH_CACHE: dict[str, FloatArray] = {}


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
    _STOICH_CACHE.setdefault(cs.name, cs.stoichiometry)
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
    if not (isinstance(chunk_size, int) and chunk_size > 0):
        raise ValueError(f"chunk_size={chunk_size!r} must be a positive integer")

    shape = solution.shape
    n = solution.size
    totals = np.stack([np.ravel(solution.totals[c]) for c in COMPONENTS if c != "H"], axis=1)
    t = np.ravel(solution.temperature).astype(np.float64)
    ph = (
        np.full(n, 7.0)
        if solve_ph or solution.pH is None
        else np.ravel(solution.pH).astype(np.float64)
    )
    n_species = len(cs.species)
    out_m = np.full((n, n_species), np.nan)
    out_lg = np.full((n, n_species), np.nan)
    out_i = np.full(n, np.nan)
    out_aw = np.full(n, np.nan)
    out_ph = np.full(n, np.nan)
    out_res = np.full(n, np.nan)
    out_it = np.zeros(n, dtype=np.int64)
    out_ok = np.zeros(n, dtype=bool)
    out_tot = totals.copy()
    for start in range(0, n, chunk_size):
        sl = slice(start, min(start + chunk_size, n))
        _solve_chunk(
            model, totals[sl], t[sl], ph[sl], solve_ph, balance_component, tolerance,
            max_iterations,
            out_m[sl], out_lg[sl], out_i[sl], out_aw[sl], out_ph[sl], out_res[sl], out_it[sl],
            out_ok[sl], out_tot[sl],
        )  # fmt: skip
    warn_if_outside(model_name, out_i[out_ok], stacklevel=2)
    # Saturation of the phases, from the converged activities.
    log_a = np.log10(np.where(out_m > 0, out_m, np.nan)) + out_lg
    comp_cols = [cs.index(cs.species[k]) for k in range(_NC)]  # the component species
    log_aw = np.log10(out_aw)
    log_ah = -out_ph
    lk_t = {}
    log_iap: dict[str, FloatArray] = {}
    si: dict[str, FloatArray] = {}
    omega: dict[str, FloatArray] = {}
    for phase in PHASES:
        if phase not in cs.solids:
            continue
        solid = cs.solids[phase]
        nu = np.delete(np.asarray(solid.stoichiometry), _H)
        with np.errstate(invalid="ignore"):
            lia = log_aw * solid.water + log_ah * solid.stoichiometry[_H]
            for c in np.flatnonzero(nu):
                col = log_a[:, comp_cols[c]]
                lia = lia + nu[c] * np.where(totals[:, c] > 0, col, -np.inf)
        lk_t[phase] = van_t_hoff(solid.log_k25, solid.delta_h, t)
        log_iap[phase] = lia.reshape(shape)
        si[phase] = (lia - lk_t[phase]).reshape(shape)
        with np.errstate(over="ignore"):
            omega[phase] = 10.0 ** si[phase]
    return Speciation(
        species=cs.species,
        molality=out_m.reshape(*shape, n_species),
        log_gamma=out_lg.reshape(*shape, n_species),
        ionic_strength=_squeeze(out_i.reshape(shape)),
        water_activity=_squeeze(out_aw.reshape(shape)),
        pH=_squeeze(out_ph.reshape(shape)),
        temperature=_squeeze(t.reshape(shape)),
        totals={c: _squeeze(out_tot[:, k].reshape(shape)) for k, c in enumerate(COMPONENTS[:_NC])},
        log_iap={k: _squeeze(v) for k, v in log_iap.items()},
        saturation_index={k: _squeeze(v) for k, v in si.items()},
        supersaturation={k: _squeeze(v) for k, v in omega.items()},
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


def _species_log_m(
    model: _Model,
    log_k: FloatArray,
    x: FloatArray,
    lg: FloatArray,
    log_ah: FloatArray,
    log_aw: FloatArray,
) -> FloatArray:
    """log10 m_j from the free component molalities (ln) and the γ's."""
    comp_log_a = x / _LN10 + lg[:, :_NC]
    return (
        log_k
        + comp_log_a @ model.nu.T
        + log_ah[:, None] * model.nu_h
        + log_aw[:, None] * model.nu_w
        - lg
    )


def _protonation_alpha(model: _Model, log_k: FloatArray, log_ah: FloatArray) -> FloatArray:
    """Σ of the protonated forms of each component over its free form (γ = 1).

    Starting the ligands at total / alpha instead of at the total keeps the
    first Newton iterate from overflowing (20 mM phosphate at pH 6 would
    otherwise start with 10^7 mol/kg of H2PO4-).
    """
    single = (np.count_nonzero(model.nu, axis=1) == 1) & (model.nu.sum(axis=1) == 1)
    alpha = np.ones((len(log_ah), _NC))
    for j in np.flatnonzero(single & (model.nu_h > 0)):
        c = int(np.flatnonzero(model.nu[j])[0])
        alpha[:, c] += 10.0 ** np.minimum(log_k[:, j] + model.nu_h[j] * log_ah, 300.0)
    return alpha


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
) -> None:
    n = len(t)
    nc = _NC
    valid = np.all(np.isfinite(totals), axis=1) & np.isfinite(t) & np.isfinite(ph)
    present = totals > 0  # (n, C)
    if balance is not None:
        present[:, balance] = True
    # a species exists only if all of its components are present
    species_ok = ~((~present[:, None, :]) & (model.nu[None, :, :] != 0)).any(axis=2)
    log_k = model.constants.log_k(t)
    safe_tot = np.where(present, np.where(totals > 0, totals, 1e-3), 1.0)
    log_ah = -np.where(np.isfinite(ph), ph, 7.0)
    x = np.log(safe_tot) - np.log(_protonation_alpha(model, log_k, log_ah))
    ionic0 = 0.5 * (totals * model.z2[:nc]).sum(axis=1) + 1e-7
    ln_i = np.log(ionic0)
    log_aw = np.zeros(n)
    nv = nc + 1 + (1 if solve_ph else 0)
    active = np.flatnonzero(valid)
    iterations = np.zeros(n, dtype=np.int64)
    residual = np.full(n, np.inf)
    ok = np.zeros(n, dtype=bool)
    ident = np.eye(nv)
    for it in range(max_iter + 1):
        if active.size == 0:
            break
        xa, lia, aha, awa = x[active], ln_i[active], log_ah[active], log_aw[active]
        a_dh = debye_huckel_a_kelvin(t[active], 10.0**awa)
        b_dh = (
            debye_huckel_b_kelvin(t[active], 10.0**awa)
            if model.model in ("extended-debye-huckel", "truesdell-jones")
            else a_dh
        )
        lg, dlg = _log_gamma(model, lia, a_dh, b_dh)
        log_m = _species_log_m(model, log_k[active], xa, lg, aha, awa)
        m = np.where(species_ok[active], 10.0 ** np.minimum(log_m, _LOG_M_CAP), 0.0)
        pres = present[active]
        # computed totals and residuals
        s_tot = m @ model.nu  # (k, C)
        tot_a = totals[active]
        ionic = 0.5 * (m @ model.z2)
        charge = m @ model.z
        charge_scale = 0.5 * (m @ np.abs(model.z))
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(pres, np.log(s_tot) - np.log(np.where(tot_a > 0, tot_a, 1.0)), 0.0)
            rel = np.where(pres, np.abs(s_tot / np.where(tot_a > 0, tot_a, 1.0) - 1.0), 0.0)
        if balance is not None:
            r[:, balance] = charge / charge_scale
            rel[:, balance] = np.abs(charge / charge_scale)
        r_i = lia - np.log(ionic)
        new_aw = np.maximum(1.0 - _WATER_SLOPE * m.sum(axis=1), 1e-3)
        worst = np.max(rel, axis=1)
        worst = np.maximum(worst, np.abs(r_i))
        worst = np.maximum(worst, np.abs(np.log10(new_aw) - awa))
        if solve_ph:
            r_q = charge / charge_scale
            worst = np.maximum(worst, np.abs(r_q))
        residual[active] = worst
        done = worst <= tol
        bad = ~np.isfinite(worst)
        if it == max_iter:
            done_idx = active[done]
        else:
            done_idx = active[done]
        if done_idx.size:
            sel = done
            out_m[done_idx] = m[sel]
            out_lg[done_idx] = lg[sel]
            out_i[done_idx] = ionic[sel]
            out_aw[done_idx] = new_aw[sel]
            out_ph[done_idx] = -aha[sel]
            ok[done_idx] = True
            iterations[done_idx] = it
            if balance is not None:
                out_tot[done_idx, balance] = s_tot[sel, balance]
        keep = ~done & ~bad
        if it == max_iter or not keep.any():
            iterations[active[keep]] = it
            break
        # Jacobian of the residuals with respect to (ln m_c, ln I[, ln a_H])
        k = int(keep.sum())
        m, s_tot, ionic, charge, charge_scale, r, r_i = (
            m[keep],
            s_tot[keep],
            ionic[keep],
            charge[keep],
            charge_scale[keep],
            r[keep],
            r_i[keep],
        )
        dlg = dlg[keep]
        pres = pres[keep]
        # d ln m_j / d ln I = ln10 (Σ_c ν_jc dlgγ_c - dlgγ_j)
        d_lnm_dlni = _LN10 * (dlg[:, :nc] @ model.nu.T - dlg)
        jac = np.zeros((k, nv, nv))
        s_safe = np.where(s_tot > 0, s_tot, 1.0)
        jac[:, :nc, :nc] = (m @ model.pair).reshape(k, nc, nc) / s_safe[:, :, None]
        jac[:, :nc, nc] = ((m * d_lnm_dlni) @ model.nu) / s_safe
        jac[:, nc, :nc] = -(0.5 * (m * model.z2) @ model.nu) / ionic[:, None]
        jac[:, nc, nc] = 1.0 - (0.5 * (m * d_lnm_dlni) @ model.z2) / ionic
        rhs = np.concatenate([r, r_i[:, None]], axis=1)
        if balance is not None:
            jac[:, balance, :nc] = ((m * model.z) @ model.nu) / charge_scale[:, None]
            jac[:, balance, nc] = ((m * d_lnm_dlni) @ model.z) / charge_scale
        if solve_ph:
            d_lnm_dlnah = model.nu_h / 1.0  # ln m_j per ln a_H
            jac[:, :nc, nc + 1] = ((m * d_lnm_dlnah) @ model.nu) / s_safe
            jac[:, nc, nc + 1] = -(0.5 * (m * d_lnm_dlnah) @ model.z2) / ionic
            jac[:, nc + 1, :nc] = ((m * model.z) @ model.nu) / charge_scale[:, None]
            jac[:, nc + 1, nc] = ((m * d_lnm_dlni) @ model.z) / charge_scale
            jac[:, nc + 1, nc + 1] = ((m * d_lnm_dlnah) @ model.z) / charge_scale
            rhs = np.concatenate([rhs, (charge / charge_scale)[:, None]], axis=1)
        # absent components: identity rows, zero residual
        absent = ~pres
        if absent.any():
            rows, cols = np.nonzero(absent)
            jac[rows, cols, :] = 0.0
            jac[rows, :, cols] = 0.0
            jac[rows, cols, cols] = 1.0
            rhs[rows, cols] = 0.0
        try:
            step = -np.linalg.solve(jac, rhs[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = np.full_like(rhs, np.nan)
            for q in range(k):  # pragma: no cover - singular Jacobians are rare
                try:
                    step[q] = -np.linalg.solve(jac[q] + 1e-14 * ident, rhs[q])
                except np.linalg.LinAlgError:
                    pass
        biggest = np.max(np.abs(step), axis=1)
        scale = np.where(biggest > _STEP_LIMIT, _STEP_LIMIT / biggest, 1.0)
        step *= scale[:, None]
        idx = active[keep]
        x[idx] += step[:, :nc]
        ln_i[idx] += step[:, nc]
        if solve_ph:
            log_ah[idx] += step[:, nc + 1] / _LN10
        log_aw[idx] = np.log10(new_aw[keep])
        active = idx
    out_res[:] = residual
    out_it[:] = iterations
    out_ok[:] = ok
