"""Generate the speciation kernel specialised to one constant set's species.

The table-driven kernel (:mod:`oxalate._kernel`) loops over species and looks up
each one's components at run time.  This module writes the same algorithm out
species by species, as straight-line Python with the stoichiometric
coefficients as literals, and numba compiles that.  The generated text is
plain and short enough to read: one line per species for its constant, one
for its molality, and sums for the mass balances and the Jacobian.

Only the *structure* (which metal and which ligand each species holds, with
which coefficients, its charge and its H+ and H2O) is baked in; log K and ΔH
stay arguments, so every constant set with the same species shares one
compiled kernel.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

METALS = ("Ca", "Mg", "Na", "K")
LIGANDS = ("Cl", "Ox", "Cit", "PO4", "SO4", "CO3")


@dataclass(frozen=True)
class SpeciesShape:
    """What the generated code needs to know about one species."""

    index: int
    metal: int  # 0-3, or -1
    metal_nu: int
    ligand: int  # 4-9, or -1
    ligand_nu: int
    nu_h: int
    nu_w: int
    z2: int


FloatArray = npt.NDArray[np.float64]


def species_shapes(
    nu: FloatArray, nu_h: FloatArray, nu_w: FloatArray, z2: FloatArray
) -> list[SpeciesShape]:
    """Describe every species; raise ValueError if one holds two metals or two ligands."""
    shapes = []
    for j in range(len(nu)):
        metals = np.flatnonzero(nu[j, :4])
        ligands = 4 + np.flatnonzero(nu[j, 4:])
        if len(metals) > 1 or len(ligands) > 1:
            raise ValueError(f"species {j} holds two metals or two ligands")
        for value in (*nu[j], nu_h[j], nu_w[j], z2[j]):
            if value != int(value):
                raise ValueError(f"species {j} has a non-integer coefficient")
        shapes.append(
            SpeciesShape(
                index=j,
                metal=int(metals[0]) if len(metals) else -1,
                metal_nu=int(nu[j, metals[0]]) if len(metals) else 0,
                ligand=int(ligands[0]) if len(ligands) else -1,
                ligand_nu=int(nu[j, ligands[0]]) if len(ligands) else 0,
                nu_h=int(nu_h[j]),
                nu_w=int(nu_w[j]),
                z2=int(z2[j]),
            )
        )
    return shapes


def _power(name: str, k: int) -> str:
    return " * ".join([name] * k) if k > 0 else "1.0"


def _sum(terms: list[str]) -> str:
    return " + ".join(terms) if terms else "0.0"


def _scaled(k: int, name: str) -> str:
    """``k * name``, or just ``name`` for k = 1."""
    return name if k == 1 else f"{k} * {name}"


def _davies(indent: str, w: Callable[[str], None]) -> None:
    """Write PHREEQC's Davies log γ at I = exp(ln_i) and 1/γ per z² class (0, 1, 4, 9).

    Defines ``lg0`` (neutral), ``lg1`` (z² = 1; log γ_z = z² lg1), ``df`` =
    d(√I/(1+√I) - 0.3 I)/d ln I and ``ig0``, ``ig1``, ``ig4``, ``ig9``.
    """
    for line in (
        "ii = math.exp(ln_i)",
        "s = math.sqrt(ii)",
        "f = s / (1.0 + s) - 0.3 * ii",
        "df = 0.5 * s / ((1.0 + s) * (1.0 + s)) - 0.3 * ii",
        "lg0 = 0.1 * ii",
        "lg1 = -a * f",
        "ig0 = math.exp(-LN10 * lg0)",
        "ig1 = math.exp(-LN10 * lg1)",
        "ig2s = ig1 * ig1",
        "ig4 = ig2s * ig2s",
        "ig9 = ig4 * ig4 * ig1",
    ):
        w(indent + line)


def _kh_product(s: SpeciesShape, presence: str) -> str:
    """``K_j(T) a_H^ν_H`` times the presence flags of the species' components.

    ``presence`` formats a component's flag (``"p{}"`` or ``"pres[{}]"``); the
    a_H powers are products of ``ah`` or ``iah`` = 1/a_H.
    """
    factors = [f"kt[{s.index}]"]
    if s.nu_h > 0:
        factors.append(_power("ah", s.nu_h))
    elif s.nu_h < 0:
        factors.append(_power("iah", -s.nu_h))
    if s.metal >= 0:
        factors.append(presence.format(s.metal))
    if s.ligand >= 0:
        factors.append(presence.format(s.ligand))
    return " * ".join(factors)


def _complex_constants(
    shapes: list[SpeciesShape],
    n_components: int,
    kh: str,
    aw: str,
    indent: str,
    w: Callable[[str], None],
) -> tuple[dict[int, list[str]], dict[int, list[str]]]:
    """Write ``c_j = K_j a_H^ν γ_j⁻¹ a_w^ν_w a_M^ν γ_L^ν`` for every species.

    ``kh`` formats the name of K_j a_H^ν (``"kh{}"`` or ``"kh[{}]"``).  Returns,
    per ligand, the c_j of its 1:1 and 2:1 species (the α and β of its
    quadratic mass balance).
    """
    alpha: dict[int, list[str]] = {c: [] for c in range(4, n_components)}
    beta: dict[int, list[str]] = {c: [] for c in range(4, n_components)}
    for s in shapes:
        factors = [kh.format(s.index), f"ig{s.z2}"]
        if s.nu_w:
            factors.append(_power(aw, s.nu_w))
        if s.metal >= 0:
            factors.append(_power(f"a{s.metal}", s.metal_nu))
        if s.ligand >= 0:
            factors.append(_power(f"a{s.ligand}", s.ligand_nu))
            (alpha if s.ligand_nu == 1 else beta)[s.ligand].append(f"c{s.index}")
        w(f"{indent}c{s.index} = {' * '.join(factors)}")
    return alpha, beta


def kernel_source(shapes: list[SpeciesShape], n_components: int = 10) -> str:
    """Python source of ``solve_block(lo, hi, log_k25, delta_h, t, totals, log_ah, ...)``.

    Solves rows ``lo`` to ``hi - 1``; the other arguments and the results are
    those of :func:`oxalate._kernel.solve_rows` minus the species tables.
    """
    ns = len(shapes)
    out: list[str] = []
    w = out.append
    w("def solve_block(lo, hi, log_k25, delta_h, t, totals, log_ah, a_ref, a_slope, tol,")
    w("                max_iter, out_m, out_lg, out_i, out_aw, out_res, out_it, out_ok):")
    w(f"    kt = np.empty({ns})")
    w("    jac = np.empty((5, 5))")
    w("    rhs = np.empty(5)")
    w("    t_last = np.nan")
    w("    vh = 1.0 / (LN10 * 8.31470e-3 * 298.15)")
    w("    for row in range(lo, hi):")
    for c in range(n_components):
        w(f"        T{c} = totals[row, {c}]")
    finite = " and ".join(f"np.isfinite(T{c})" for c in range(n_components))
    w(f"        if not ({finite} and np.isfinite(log_ah[row]) and np.isfinite(a_ref[row])):")
    w("            out_ok[row] = False")
    w("            out_res[row] = np.nan")
    w("            continue")
    w("        if t[row] != t_last:")
    w(f"            for j in range({ns}):")
    w("                log_k = log_k25[j] - delta_h[j] * (298.15 - t[row]) * vh / t[row]")
    w("                kt[j] = math.exp(LN10 * log_k)")
    w("            t_last = t[row]")
    w("        ah = math.exp(LN10 * log_ah[row])")
    w("        iah = 1.0 / ah")
    for c in range(n_components):
        w(f"        p{c} = 1.0 if T{c} > 0.0 else 0.0")
    # per-row constants of every species: K(T) a(H+)^nu_h, zero if a component is absent
    for s in shapes:
        w(f"        kh{s.index} = {_kh_product(s, 'p{}')}")
    for u in range(4):
        w(f"        x{u} = math.log(T{u}) if T{u} > 0.0 else 0.0")
    z2c = [next(s.z2 for s in shapes if s.index == c) for c in range(n_components)]
    ionic0 = " + ".join(f"{0.5 * z2c[c]} * T{c}" for c in range(n_components))
    w(f"        ln_i = math.log({ionic0} + 1e-7)")
    w("        aw = 1.0")
    w("        converged = False")
    w("        worst = np.inf")
    w("        it = 0")
    w("        for it in range(max_iter + 1):")
    w("            a = a_ref[row] + a_slope[row] * (aw - 1.0)")
    _davies(" " * 12, w)
    for c in range(n_components):
        gname = f"(1.0 / ig{z2c[c]})" if z2c[c] != 0 else "(1.0 / ig0)"
        if c < 4:
            w(f"            a{c} = math.exp(x{c}) * {gname}")
        else:
            w(f"            a{c} = {gname}")
    w("            aww = aw")
    # C_j
    alpha, beta = _complex_constants(shapes, n_components, "kh{}", "aww", " " * 12, w)
    for c in range(4, n_components):
        w(f"            al{c} = {_sum(alpha[c])}")
        w(f"            be{c} = {_sum(beta[c])}")
        root = f"math.sqrt(al{c} * al{c} + 8.0 * be{c} * T{c})"
        w(f"            ml{c} = 2.0 * T{c} / (al{c} + {root}) if T{c} > 0.0 else 0.0")
    for s in shapes:
        mol = f"c{s.index}"
        if s.ligand >= 0:
            mol += " * " + _power(f"ml{s.ligand}", s.ligand_nu)
        w(f"            m{s.index} = min({mol}, 1e3)")
    for u in range(4):
        terms = [_scaled(s.metal_nu, f"m{s.index}") for s in shapes if s.metal == u]
        w(f"            su{u} = {_sum(terms)}")
    w(f"            ionic = 0.5 * ({_sum([f'{s.z2} * m{s.index}' for s in shapes if s.z2])})")
    w(f"            msum = {_sum([f'm{s.index}' for s in shapes])}")
    w("            new_aw = max(1.0 - 0.017 * msum, 1e-3)")
    w("            worst = abs(ln_i - math.log(ionic))")
    w("            worst = max(worst, abs(math.log10(new_aw) - math.log10(aw)))")
    for u in range(4):
        w(f"            if T{u} > 0.0:")
        w(f"                worst = max(worst, abs(su{u} / T{u} - 1.0))")
    w("            if worst <= tol:")
    w("                converged = True")
    for s in shapes:
        # species holding water (OH-) at the a_w reported, not the one iterated with
        # (they differ by at most the tolerance)
        value = f"m{s.index}" + (f" * {_power('(new_aw / aw)', s.nu_w)}" if s.nu_w > 0 else "")
        w(f"                out_m[row, {s.index}] = {value}")
    w("                out_lg[row, 0] = lg0")
    w("                for zz in range(1, 10):")
    w("                    out_lg[row, zz] = zz * lg1")
    w("                out_i[row] = ionic")
    w("                out_aw[row] = new_aw")
    w("                break")
    w("            if it == max_iter or not np.isfinite(worst):")
    w("                break")
    w("            if it < RATIO_SWEEPS:")
    for u in range(4):
        w(f"                if T{u} > 0.0:")
        w(f"                    x{u} -= math.log(su{u} / T{u})")
    w("                ln_i = math.log(ionic)")
    w("                aw = new_aw")
    w("                continue")
    # Jacobian: g_j = G (S_j - z_j^2) for ions, G S_j - N for neutral species
    w("            gg = -LN10 * a * df")
    w("            nn = LN10 * 0.1 * ii")
    for s in shapes:
        s_sum = (s.metal_nu * z2c[s.metal] if s.metal >= 0 else 0) + (
            s.ligand_nu * z2c[s.ligand] if s.ligand >= 0 else 0
        )
        if s.z2:
            coef = s_sum - s.z2
            w(
                f"            g{s.index} = {float(coef)} * gg"
                if coef
                else f"            g{s.index} = 0.0"
            )
        else:
            w(f"            g{s.index} = {float(s_sum)} * gg - nn")
    # ligand responses e[L][v], v = metals 0-3 and I (4)
    for c in range(4, n_components):
        members = [s for s in shapes if s.ligand == c]
        q = _sum([_scaled(s.ligand_nu**2, f"m{s.index}") for s in members])
        w(f"            q{c} = {q}")
        w(f"            iq{c} = -1.0 / q{c} if q{c} > 0.0 else 0.0")
        for u in range(4):
            terms = [
                _scaled(s.ligand_nu * s.metal_nu, f"m{s.index}") for s in members if s.metal == u
            ]
            w(f"            e{c}_{u} = ({_sum(terms)}) * iq{c}")
        terms = [_scaled(s.ligand_nu, f"m{s.index} * g{s.index}") for s in members]
        w(f"            e{c}_4 = ({_sum(terms)}) * iq{c}")
    # D_jv and the Jacobian rows
    rows: dict[int, list[list[str]]] = {r: [[] for _ in range(5)] for r in range(5)}
    for s in shapes:
        d = []
        for v in range(5):
            parts = []
            if v < 4 and s.metal == v:
                parts.append(str(float(s.metal_nu)))
            if v == 4:
                parts.append(f"g{s.index}")
            if s.ligand >= 0:
                parts.append(_scaled(s.ligand_nu, f"e{s.ligand}_{v}"))
            d.append(" + ".join(parts) if parts else "")
        weight_rows = []
        if s.metal >= 0:
            weight_rows.append((s.metal, _scaled(s.metal_nu, f"m{s.index}")))
        if s.z2:
            weight_rows.append((4, f"{0.5 * s.z2} * m{s.index}"))
        for r, weight in weight_rows:
            for v in range(5):
                if d[v]:
                    rows[r][v].append(f"{weight} * ({d[v]})")
    for r in range(5):
        for v in range(5):
            w(f"            jac[{r}, {v}] = {_sum(rows[r][v])}")
    # d(sum m)/d unknown, to predict a_w after the step: sum_j m_j (dir_jv + nu_jL e_Lv)
    # = (metal v's sum, or sum m_j g_j) + sum_L T_L e_Lv, each ligand's balance being exact
    gsum = _sum([f"m{s.index} * g{s.index}" for s in shapes])
    for v in range(5):
        direct = f"su{v}" if v < 4 else f"({gsum})"
        lig = " + ".join(f"T{c} * e{c}_{v}" for c in range(4, n_components))
        w(f"            dms{v} = {direct} + {lig}")
    for u in range(4):
        w(f"            if T{u} > 0.0:")
        w("                for v in range(5):")
        w(f"                    jac[{u}, v] /= su{u}")
        w(f"                rhs[{u}] = math.log(su{u}) - math.log(T{u})")
        w("            else:")
        w("                for v in range(5):")
        w(f"                    jac[{u}, v] = 0.0")
        w(f"                    jac[v, {u}] = 0.0")
        w(f"                jac[{u}, {u}] = 1.0")
        w(f"                rhs[{u}] = 0.0")
    w("            for v in range(5):")
    w("                jac[4, v] = -jac[4, v] / ionic")
    w("            jac[4, 4] += 1.0")
    for u in range(4):
        w(f"            if T{u} <= 0.0:")
        w(f"                jac[4, {u}] = 0.0")
    w("            rhs[4] = ln_i - math.log(ionic)")
    w("            if not solve_n(jac, rhs, 5):")
    w("                break")
    w("            big = max(abs(rhs[0]), abs(rhs[1]), abs(rhs[2]), abs(rhs[3]), abs(rhs[4]))")
    w("            scale = 4.0 / big if big > 4.0 else 1.0")
    for u in range(4):
        w(f"            x{u} -= scale * rhs[{u}]")
    w("            ln_i -= scale * rhs[4]")
    # a_w at the new point to first order (lagging it by a whole step made the last
    # iterations converge only linearly); absent metals have rhs = 0
    pred = " + ".join(f"dms{v} * rhs[{v}]" for v in range(5))
    w(f"            aw = max(1.0 - 0.017 * (msum - scale * ({pred})), 1e-3)")
    w("        out_ok[row] = converged")
    w("        out_res[row] = worst")
    w("        out_it[row] = it")
    return "\n".join(line for line in out if line != "")


# --------------------------------------------------------------------------------------------
# The reaction kernel: one evaluation of the speciation equations with their derivatives,
# for the Newton of oxalate._reaction (precipitation and thresholds, pH fixed or solved).
# --------------------------------------------------------------------------------------------

# slots of the scalar output ``sc`` of evaluate_*
SC_IONIC, SC_CHARGE, SC_SCALE, SC_MSUM, SC_OH, SC_LG0, SC_LG1, SC_DLG1 = range(4, 12)
SC_ML = 12  # free molality of ligand c (c = 4..9) at SC_ML + c - 4
SC_SIZE = SC_ML + 6


def _term(coef: float, *factors: str) -> str:
    """``coef * f1 * f2``, without a factor of 1."""
    if coef == 1.0:
        return " * ".join(factors)
    return " * ".join([repr(float(coef)), *factors])


def reaction_source(shapes: list[SpeciesShape], n_components: int = 10) -> str:
    """Python source of ``fill_kh``, ``evaluate_fixed`` and ``evaluate_closed``.

    ``fill_kh(kt, pres, ah, kh)``: K(T) a(H⁺)^ν_H of every species, zero where a
    component is absent (``pres[c] == 0``).

    ``evaluate_X(kh, aw, a, x, ln_i, tl, m, jb, jt, el, sc, derivatives)``: with ln m of the
    four metals ``x[0:4]``, ln I, a_w, Davies' A and the totals ``tl`` (per kg
    of water; the ligands' are used), every ligand's free molality in closed
    form, then

    * ``m``: every species' molality;
    * ``sc``: the metal sums Σ ν m (0-3), I, Σ z m, ½ Σ |z| m, Σ m, Σ ν_w m,
      log γ of the neutral and the z² = 1 classes, d log γ₁ / d ln I, and the
      ligands' free molalities (slots ``SC_*``);
    * ``jb[r, k]``: derivative of the row sum r (metal 0-3, I (4), charge
      (5), Σ m (6)) with respect to unknown k (ln m of metal 0-3, ln I (4), ln a_H
      (5)), every ligand following its closed form;
    * ``jt[r, L]``: derivative of row sum r with respect to the total of
      ligand L + 4;
    * ``el[L, k]``: d ln m_L / d unknown k, and ``el[L, 6]`` d ln m_L / d T_L.

    ``evaluate_fixed`` leaves out the charge row and the ln a_H column; with
    ``derivatives`` false only ``m`` and ``sc`` are written.
    """
    parts = [_fill_kh_source(shapes), _evaluate_source(shapes, n_components, closed=False),
             _evaluate_source(shapes, n_components, closed=True)]  # fmt: skip
    return "\n\n\n".join(parts)


def _fill_kh_source(shapes: list[SpeciesShape]) -> str:
    out: list[str] = []
    w = out.append
    w("@numba.njit(cache=True, error_model='numpy')")
    w("def fill_kh(kt, pres, ah, kh):")
    w("    iah = 1.0 / ah")
    for s in shapes:
        w(f"    kh[{s.index}] = {_kh_product(s, 'pres[{}]')}")
    return "\n".join(out)


def _evaluate_source(shapes: list[SpeciesShape], n_components: int, closed: bool) -> str:
    z2c = [next(s.z2 for s in shapes if s.index == c) for c in range(n_components)]
    out: list[str] = []
    w = out.append
    name = "evaluate_closed" if closed else "evaluate_fixed"
    w("@numba.njit(cache=True, error_model='numpy')")
    w(f"def {name}(kh, aw, a, x, ln_i, tl, m, jb, jt, el, sc, derivatives):")
    _davies("    ", w)
    for c in range(n_components):
        gamma = f"(1.0 / ig{z2c[c]})"
        w(f"    a{c} = math.exp(x[{c}]) * {gamma}" if c < 4 else f"    a{c} = {gamma}")
    alpha, beta = _complex_constants(shapes, n_components, "kh[{}]", "aw", "    ", w)
    for c in range(4, n_components):
        w(f"    T{c} = tl[{c}]")
        w(f"    al{c} = {_sum(alpha[c])}")
        w(f"    be{c} = {_sum(beta[c])}")
        root = f"math.sqrt(al{c} * al{c} + 8.0 * be{c} * T{c})"
        w(f"    ml{c} = 2.0 * T{c} / (al{c} + {root}) if T{c} > 0.0 else 0.0")
        w(f"    sc[{SC_ML + c - 4}] = ml{c}")
    for s in shapes:
        mol = f"c{s.index}"
        if s.ligand >= 0:
            mol += " * " + _power(f"ml{s.ligand}", s.ligand_nu)
        w(f"    m{s.index} = min({mol}, 1e3)")
        w(f"    m[{s.index}] = m{s.index}")
    for u in range(4):
        terms = [_scaled(s.metal_nu, f"m{s.index}") for s in shapes if s.metal == u]
        w(f"    sc[{u}] = {_sum(terms)}")
    w(f"    sc[{SC_IONIC}] = 0.5 * ({_sum([f'{s.z2} * m{s.index}' for s in shapes if s.z2])})")
    if closed:
        z = {s.index: _charge(s, shapes) for s in shapes}
        charge = [_term(z[s.index], f"m{s.index}") for s in shapes if z[s.index]]
        w(f"    sc[{SC_CHARGE}] = {_sum(charge)}")
        absz = [_term(abs(z[s.index]), f"m{s.index}") for s in shapes if z[s.index]]
        w(f"    sc[{SC_SCALE}] = 0.5 * ({_sum(absz)})")
    w(f"    sc[{SC_MSUM}] = {_sum([f'm{s.index}' for s in shapes])}")
    w(f"    sc[{SC_OH}] = {_sum([_term(s.nu_w, f'm{s.index}') for s in shapes if s.nu_w])}")
    w(f"    sc[{SC_LG0}] = lg0")
    w(f"    sc[{SC_LG1}] = lg1")
    w(f"    sc[{SC_DLG1}] = -a * df")
    w("    if not derivatives:")
    w("        return")
    # d ln c_j / d ln I = kg_j gg (ions), kg_j gg - nn (neutral species)
    w("    gg = -LN10 * a * df")
    w("    nn = LN10 * 0.1 * ii")
    kg = {}
    for s in shapes:
        s_sum = (s.metal_nu * z2c[s.metal] if s.metal >= 0 else 0) + (
            s.ligand_nu * z2c[s.ligand] if s.ligand >= 0 else 0
        )
        kg[s.index] = float(s_sum - s.z2) if s.z2 else float(s_sum)
    rows = [0, 1, 2, 3, 4, 5, 6] if closed else [0, 1, 2, 3, 4, 6]
    n_cols = 6 if closed else 5
    z_of = {s.index: _charge(s, shapes) for s in shapes}

    def weight(r: int, s: SpeciesShape) -> float:
        if r < 4:
            return float(s.metal_nu) if s.metal == r else 0.0
        if r == 4:
            return 0.5 * s.z2
        if r == 5:
            return float(z_of[s.index])
        return 1.0  # r = 6: the sum of all molalities

    def direct_sum(k: int, pairs: list[tuple[float, SpeciesShape]]) -> list[str]:
        """Terms of sum_j a_j m_j (d ln c_j / d unknown k, direct part) for (a_j, j) pairs."""
        if k < 4:
            return [_term(a * s.metal_nu, f"m{s.index}") for a, s in pairs if s.metal == k]
        if k == 5:
            return [_term(a * s.nu_h, f"m{s.index}") for a, s in pairs if s.nu_h]
        ions = [_term(a * kg[s.index], f"m{s.index}") for a, s in pairs if kg[s.index]]
        neutral = [_term(a, f"m{s.index}") for a, s in pairs if not s.z2]
        out_terms = [f"gg * ({_sum(ions)})"] if ions else []
        if neutral:
            out_terms.append(f"-nn * ({_sum(neutral)})")
        return out_terms

    # ligand responses: e_L_k = -(sum over L's species of nu_L m_j dir_jk) / Q_L
    for c in range(4, n_components):
        members = [s for s in shapes if s.ligand == c]
        w(f"    q{c} = {_sum([_term(s.ligand_nu**2, f'm{s.index}') for s in members])}")
        w(f"    iq{c} = -1.0 / q{c} if q{c} > 0.0 else 0.0")
        pairs = [(float(s.ligand_nu), s) for s in members]
        for k in range(n_cols):
            w(f"    e{c}_{k} = ({_sum(direct_sum(k, pairs))}) * iq{c}")
            w(f"    el[{c - 4}, {k}] = e{c}_{k}")
        w(f"    el[{c - 4}, 6] = -iq{c}")
    for r in rows:
        for c in range(4, n_components):
            terms = [
                _term(weight(r, s) * s.ligand_nu, f"m{s.index}")
                for s in shapes
                if s.ligand == c and weight(r, s)
            ]
            w(f"    w{r}_{c} = {_sum(terms)}")
            w(f"    jt[{r}, {c - 4}] = -w{r}_{c} * iq{c}")
        pairs = [(weight(r, s), s) for s in shapes if weight(r, s)]
        for k in range(n_cols):
            terms = direct_sum(k, pairs)
            terms += [f"w{r}_{c} * e{c}_{k}" for c in range(4, n_components)]
            w(f"    jb[{r}, {k}] = {_sum(terms)}")
    return "\n".join(out)


def _charge(s: SpeciesShape, shapes: list[SpeciesShape]) -> int:
    """Charge of a species: its metal's (positive) and ligand's (negative), and its H⁺."""
    z = s.nu_h
    if s.metal >= 0:
        z += s.metal_nu * _component_charge(s.metal, shapes)
    if s.ligand >= 0:
        z -= s.ligand_nu * _component_charge(s.ligand, shapes)
    return z


def _component_charge(c: int, shapes: list[SpeciesShape]) -> int:
    """|z| of component c, from its own species' z²."""
    z2: int = next(s.z2 for s in shapes if s.index == c)
    return math.isqrt(z2)
