"""Generate the compiled kernels' source, specialised to one constant set's species.

The speciation kernel and the reaction kernel's evaluation are written out
species by species, as straight-line Python with the stoichiometric
coefficients as literals, and numba compiles that (:mod:`.compiled`).  The
generated text is plain and short enough to read: one line per species for
its constant, one for its molality, and sums for the mass balances and the
Jacobian.

Only the *structure* (which metal and which ligand each species holds, with
which coefficients, its charge and its H⁺ and H₂O) is baked in; log K and ΔH
stay arguments, so every constant set with the same species shares one
compiled kernel.  The sizes (how many components, which are metals) come from
the chemical system of ``ions.csv`` (:class:`KernelLayout`), PHREEQC's Davies
coefficients from :class:`oxalate.activity.Davies` and the water-activity
slope from :data:`oxalate.activity.WATER_ACTIVITY_SLOPE`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ..activity import WATER_ACTIVITY_SLOPE, Davies

__all__ = ["KernelLayout", "SpeciesShape", "kernel_source", "reaction_source", "species_shapes"]


@dataclass(frozen=True)
class SpeciesShape:
    """What the generated code needs to know about one species."""

    index: int
    metal: int  # 0 .. n_metals - 1, or -1
    metal_nu: int
    ligand: int  # n_metals .. n_components - 1, or -1
    ligand_nu: int
    nu_h: int
    nu_w: int
    z2: int


FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class KernelLayout:
    """Sizes of the generated kernels and the slots of their work arrays.

    The components but H are the metals (``0 .. n_metals - 1``) then the
    ligands; the reaction kernel's unknowns ``x`` are ln m of each metal, ln I
    (``x_i``), ln a_H (``x_h``) and the reaction's own from ``x_r``; its
    scalar work array ``sc`` holds the metal sums, then the slots below.
    """

    n_components: int
    n_metals: int
    n_gamma: int  # log10 gamma stored per z^2 class 0 .. n_gamma - 1

    @property
    def n_ligands(self) -> int:
        return self.n_components - self.n_metals

    @property
    def ligands(self) -> range:
        return range(self.n_metals, self.n_components)

    @property
    def x_i(self) -> int:
        return self.n_metals

    @property
    def x_h(self) -> int:
        return self.n_metals + 1

    @property
    def x_r(self) -> int:
        return self.n_metals + 2

    def sc(self, name: str) -> int:
        """Slot of ``sc`` named ``IONIC``, ``CHARGE``, ``SCALE``, ``MSUM``, ``OH``, ``LG0``,
        ``LG1``, ``DLG1``, ``ML`` (first ligand's free molality) or ``SIZE``."""
        order = ("IONIC", "CHARGE", "SCALE", "MSUM", "OH", "LG0", "LG1", "DLG1", "ML")
        if name == "SIZE":
            return self.n_metals + len(order) - 1 + self.n_ligands
        return self.n_metals + order.index(name)

    def constants_source(self) -> str:
        """The module constants the generated kernels and :mod:`.reaction_kernel` read."""
        names = ("IONIC", "CHARGE", "SCALE", "MSUM", "OH", "LG0", "LG1", "DLG1", "ML", "SIZE")
        lines = [
            f"NC = {self.n_components}  # components but H",
            f"NM = {self.n_metals}  # metals: components 0 .. NM - 1",
            f"NL = {self.n_ligands}  # ligands: components NM .. NC - 1",
            f"NG = {self.n_gamma}  # log10 gamma stored per z^2 class 0 .. NG - 1",
            f"X_I = {self.x_i}  # ln I in the unknowns x",
            f"X_H = {self.x_h}  # ln a_H",
            f"X_R = {self.x_r}  # the reaction's first unknown",
            f"WATER_SLOPE = {WATER_ACTIVITY_SLOPE!r}  # a_w = 1 - WATER_SLOPE sum m",
        ]
        lines += [f"SC_{name} = {self.sc(name)}" for name in names]
        return "\n".join(lines) + "\n"


def species_shapes(
    nu: FloatArray, nu_h: FloatArray, nu_w: FloatArray, z2: FloatArray, n_metals: int
) -> list[SpeciesShape]:
    """Describe every species; raise ValueError if one holds two metals or two ligands."""
    shapes = []
    for j in range(len(nu)):
        metals = np.flatnonzero(nu[j, :n_metals])
        ligands = n_metals + np.flatnonzero(nu[j, n_metals:])
        if len(metals) > 1 or len(ligands) > 1:
            raise ValueError(f"species {j} holds two metals or two ligands")
        if len(ligands) and nu[j, ligands[0]] > 2:
            raise ValueError(f"species {j} holds more than two of its ligand")
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


def _davies(davies: Davies, z2_classes: list[int], indent: str, w: Callable[[str], None]) -> None:
    """Write PHREEQC's Davies log γ at I = exp(ln_i) and 1/γ per z² class.

    Defines ``lg0`` (neutral), ``lg1`` (z² = 1; log γ_z = z² lg1), ``df`` =
    d(√I/(1+√I) - c I)/d ln I and ``ig<k>`` = 1/γ for every class ``k`` of
    ``z2_classes`` (0, 1, 4 and 9 always).
    """
    for line in (
        "ii = math.exp(ln_i)",
        "s = math.sqrt(ii)",
        f"f = s / (1.0 + s) - {davies.linear!r} * ii",
        f"df = 0.5 * s / ((1.0 + s) * (1.0 + s)) - {davies.linear!r} * ii",
        f"lg0 = {davies.neutral!r} * ii",
        "lg1 = -a * f",
        "ig0 = math.exp(-LN10 * lg0)",
        "ig1 = math.exp(-LN10 * lg1)",
        "ig2s = ig1 * ig1",
        "ig4 = ig2s * ig2s",
        "ig9 = ig4 * ig4 * ig1",
    ):
        w(indent + line)
    for k in sorted(set(z2_classes) - {0, 1, 4, 9}):
        w(f"{indent}ig{k} = math.exp(-LN10 * {float(k)!r} * lg1)")


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
    layout: KernelLayout,
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
    alpha: dict[int, list[str]] = {c: [] for c in layout.ligands}
    beta: dict[int, list[str]] = {c: [] for c in layout.ligands}
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


def _component_z2(shapes: list[SpeciesShape], layout: KernelLayout) -> list[int]:
    """z² of each component (the components are the first species)."""
    return [next(s.z2 for s in shapes if s.index == c) for c in range(layout.n_components)]


def _ligand_closed_forms(
    shapes: list[SpeciesShape],
    layout: KernelLayout,
    alpha: dict[int, list[str]],
    beta: dict[int, list[str]],
    indent: str,
    w: Callable[[str], None],
) -> None:
    """Every ligand's free molality from T = α m + 2 β m², then every species' molality."""
    for c in layout.ligands:
        w(f"{indent}al{c} = {_sum(alpha[c])}")
        w(f"{indent}be{c} = {_sum(beta[c])}")
        root = f"math.sqrt(al{c} * al{c} + 8.0 * be{c} * T{c})"
        w(f"{indent}ml{c} = 2.0 * T{c} / (al{c} + {root}) if T{c} > 0.0 else 0.0")
    for s in shapes:
        mol = f"c{s.index}"
        if s.ligand >= 0:
            mol += " * " + _power(f"ml{s.ligand}", s.ligand_nu)
        w(f"{indent}m{s.index} = min({mol}, 1e3)")


def kernel_source(shapes: list[SpeciesShape], layout: KernelLayout, davies: Davies) -> str:
    """Python source of ``solve_block(lo, hi, log_k25, delta_h, t, totals, log_ah, ...)``.

    Solves rows ``lo`` to ``hi - 1`` by the reduced Newton of
    :mod:`.numpy_speciation` (fixed pH, Davies): unknowns ln m of the metals and
    ln I, every ligand in closed form.  The other arguments are those of
    :func:`.compiled.solve_rows`.
    """
    out: list[str] = []
    w = out.append
    nv = layout.n_metals + 1  # Newton unknowns: the metals and ln I
    w("def solve_block(lo, hi, log_k25, delta_h, t, totals, log_ah, a_ref, a_slope, tol,")
    w("                max_iter, out_m, out_lg, out_i, out_aw, out_res, out_it, out_ok):")
    w(f"    kt = np.empty({len(shapes)})")
    w(f"    jac = np.empty(({nv}, {nv}))")
    w(f"    rhs = np.empty({nv})")
    w("    t_last = np.nan")
    w("    for row in range(lo, hi):")
    _speciation_row_start(shapes, layout, w)
    w("        for it in range(max_iter + 1):")
    _speciation_evaluation(shapes, layout, davies, w)
    _speciation_newton(shapes, layout, davies, w)
    w("        out_ok[row] = converged")
    w("        out_res[row] = worst")
    w("        out_it[row] = it")
    return "\n".join(line for line in out if line != "")


def _speciation_row_start(
    shapes: list[SpeciesShape], layout: KernelLayout, w: Callable[[str], None]
) -> None:
    """A row's totals, validity, K(T) a_H^ν of every species and first guess."""
    nc = layout.n_components
    for c in range(nc):
        w(f"        T{c} = totals[row, {c}]")
    finite = " and ".join(f"np.isfinite(T{c})" for c in range(nc))
    w(f"        if not ({finite} and np.isfinite(log_ah[row]) and np.isfinite(a_ref[row])):")
    w("            out_ok[row] = False")
    w("            out_res[row] = np.nan")
    w("            continue")
    w("        if t[row] != t_last:")
    w("            kt_fill(log_k25, delta_h, t[row], kt)")
    w("            t_last = t[row]")
    w("        ah = math.exp(LN10 * log_ah[row])")
    w("        iah = 1.0 / ah")
    for c in range(nc):
        w(f"        p{c} = 1.0 if T{c} > 0.0 else 0.0")
    # per-row constants of every species: K(T) a(H+)^nu_h, zero if a component is absent
    for s in shapes:
        w(f"        kh{s.index} = {_kh_product(s, 'p{}')}")
    for u in range(layout.n_metals):
        w(f"        x{u} = math.log(T{u}) if T{u} > 0.0 else 0.0")
    z2c = _component_z2(shapes, layout)
    ionic0 = " + ".join(f"{0.5 * z2c[c]} * T{c}" for c in range(nc))
    w(f"        ln_i = math.log({ionic0} + 1e-7)")
    w("        aw = 1.0")
    w("        converged = False")
    w("        worst = np.inf")
    w("        it = 0")


def _speciation_evaluation(
    shapes: list[SpeciesShape], layout: KernelLayout, davies: Davies, w: Callable[[str], None]
) -> None:
    """One evaluation: molalities, sums, the convergence test and the ratio sweep."""
    nm = layout.n_metals
    ind = " " * 12
    z2c = _component_z2(shapes, layout)
    w(f"{ind}a = a_ref[row] + a_slope[row] * (aw - 1.0)")
    _davies(davies, [s.z2 for s in shapes], ind, w)
    for c in range(layout.n_components):
        gname = f"(1.0 / ig{z2c[c]})"
        if c < nm:
            w(f"{ind}a{c} = math.exp(x{c}) * {gname}")
        else:
            w(f"{ind}a{c} = {gname}")
    w(f"{ind}aww = aw")
    alpha, beta = _complex_constants(shapes, layout, "kh{}", "aww", ind, w)
    _ligand_closed_forms(shapes, layout, alpha, beta, ind, w)
    for u in range(nm):
        terms = [_scaled(s.metal_nu, f"m{s.index}") for s in shapes if s.metal == u]
        w(f"{ind}su{u} = {_sum(terms)}")
    w(f"{ind}ionic = 0.5 * ({_sum([f'{s.z2} * m{s.index}' for s in shapes if s.z2])})")
    w(f"{ind}msum = {_sum([f'm{s.index}' for s in shapes])}")
    w(f"{ind}new_aw = max(1.0 - WATER_SLOPE * msum, 1e-3)")
    w(f"{ind}worst = abs(ln_i - math.log(ionic))")
    w(f"{ind}worst = max(worst, abs(math.log10(new_aw) - math.log10(aw)))")
    for u in range(nm):
        w(f"{ind}if T{u} > 0.0:")
        w(f"{ind}    worst = max(worst, abs(su{u} / T{u} - 1.0))")
    w(f"{ind}if worst <= tol:")
    w(f"{ind}    converged = True")
    for s in shapes:
        # species holding water (OH-) at the a_w reported, not the one iterated with
        # (they differ by at most the tolerance)
        value = f"m{s.index}" + (f" * {_power('(new_aw / aw)', s.nu_w)}" if s.nu_w > 0 else "")
        w(f"{ind}    out_m[row, {s.index}] = {value}")
    w(f"{ind}    out_lg[row, 0] = lg0")
    w(f"{ind}    for zz in range(1, NG):")
    w(f"{ind}        out_lg[row, zz] = zz * lg1")
    w(f"{ind}    out_i[row] = ionic")
    w(f"{ind}    out_aw[row] = new_aw")
    w(f"{ind}    break")
    w(f"{ind}if it == max_iter or not np.isfinite(worst):")
    w(f"{ind}    break")
    w(f"{ind}if it < RATIO_SWEEPS:")
    for u in range(nm):
        w(f"{ind}    if T{u} > 0.0:")
        w(f"{ind}        x{u} -= math.log(su{u} / T{u})")
    w(f"{ind}    ln_i = math.log(ionic)")
    w(f"{ind}    aw = new_aw")
    w(f"{ind}    continue")


def _speciation_newton(
    shapes: list[SpeciesShape], layout: KernelLayout, davies: Davies, w: Callable[[str], None]
) -> None:
    """The Jacobian in (ln m of the metals, ln I) with the ligands' response, and the step."""
    nm = layout.n_metals
    nv = nm + 1
    vi = nm  # the ln I column and row
    ind = " " * 12
    z2c = _component_z2(shapes, layout)
    # Jacobian: g_j = G (S_j - z_j^2) for ions, G S_j - N for neutral species
    w(f"{ind}gg = -LN10 * a * df")
    w(f"{ind}nn = LN10 * {davies.neutral!r} * ii")
    for s in shapes:
        s_sum = (s.metal_nu * z2c[s.metal] if s.metal >= 0 else 0) + (
            s.ligand_nu * z2c[s.ligand] if s.ligand >= 0 else 0
        )
        if s.z2:
            coef = s_sum - s.z2
            w(f"{ind}g{s.index} = {float(coef)} * gg" if coef else f"{ind}g{s.index} = 0.0")
        else:
            w(f"{ind}g{s.index} = {float(s_sum)} * gg - nn")
    # ligand responses e[L][v], v = the metals and I
    for c in layout.ligands:
        members = [s for s in shapes if s.ligand == c]
        q = _sum([_scaled(s.ligand_nu**2, f"m{s.index}") for s in members])
        w(f"{ind}q{c} = {q}")
        w(f"{ind}iq{c} = -1.0 / q{c} if q{c} > 0.0 else 0.0")
        for u in range(nm):
            terms = [
                _scaled(s.ligand_nu * s.metal_nu, f"m{s.index}") for s in members if s.metal == u
            ]
            w(f"{ind}e{c}_{u} = ({_sum(terms)}) * iq{c}")
        terms = [_scaled(s.ligand_nu, f"m{s.index} * g{s.index}") for s in members]
        w(f"{ind}e{c}_{vi} = ({_sum(terms)}) * iq{c}")
    # D_jv and the Jacobian rows
    rows: dict[int, list[list[str]]] = {r: [[] for _ in range(nv)] for r in range(nv)}
    for s in shapes:
        d = []
        for v in range(nv):
            parts = []
            if v < nm and s.metal == v:
                parts.append(str(float(s.metal_nu)))
            if v == vi:
                parts.append(f"g{s.index}")
            if s.ligand >= 0:
                parts.append(_scaled(s.ligand_nu, f"e{s.ligand}_{v}"))
            d.append(" + ".join(parts) if parts else "")
        weight_rows = []
        if s.metal >= 0:
            weight_rows.append((s.metal, _scaled(s.metal_nu, f"m{s.index}")))
        if s.z2:
            weight_rows.append((vi, f"{0.5 * s.z2} * m{s.index}"))
        for r, weight in weight_rows:
            for v in range(nv):
                if d[v]:
                    rows[r][v].append(f"{weight} * ({d[v]})")
    for r in range(nv):
        for v in range(nv):
            w(f"{ind}jac[{r}, {v}] = {_sum(rows[r][v])}")
    # d(sum m)/d unknown, to predict a_w after the step: sum_j m_j (dir_jv + nu_jL e_Lv)
    # = (metal v's sum, or sum m_j g_j) + sum_L T_L e_Lv, each ligand's balance being exact
    gsum = _sum([f"m{s.index} * g{s.index}" for s in shapes])
    for v in range(nv):
        direct = f"su{v}" if v < nm else f"({gsum})"
        lig = " + ".join(f"T{c} * e{c}_{v}" for c in layout.ligands)
        w(f"{ind}dms{v} = {direct} + {lig}")
    for u in range(nm):
        w(f"{ind}if T{u} > 0.0:")
        w(f"{ind}    for v in range({nv}):")
        w(f"{ind}        jac[{u}, v] /= su{u}")
        w(f"{ind}    rhs[{u}] = math.log(su{u}) - math.log(T{u})")
        w(f"{ind}else:")
        w(f"{ind}    for v in range({nv}):")
        w(f"{ind}        jac[{u}, v] = 0.0")
        w(f"{ind}        jac[v, {u}] = 0.0")
        w(f"{ind}    jac[{u}, {u}] = 1.0")
        w(f"{ind}    rhs[{u}] = 0.0")
    w(f"{ind}for v in range({nv}):")
    w(f"{ind}    jac[{vi}, v] = -jac[{vi}, v] / ionic")
    w(f"{ind}jac[{vi}, {vi}] += 1.0")
    for u in range(nm):
        w(f"{ind}if T{u} <= 0.0:")
        w(f"{ind}    jac[{vi}, {u}] = 0.0")
    w(f"{ind}rhs[{vi}] = ln_i - math.log(ionic)")
    w(f"{ind}if not solve_n(jac, rhs, {nv}):")
    w(f"{ind}    break")
    w(f"{ind}big = max({', '.join(f'abs(rhs[{v}])' for v in range(nv))})")
    w(f"{ind}scale = STEP_LIMIT / big if big > STEP_LIMIT else 1.0")
    for u in range(nm):
        w(f"{ind}x{u} -= scale * rhs[{u}]")
    w(f"{ind}ln_i -= scale * rhs[{vi}]")
    # a_w at the new point to first order (lagging it by a whole step made the last
    # iterations converge only linearly); absent metals have rhs = 0
    pred = " + ".join(f"dms{v} * rhs[{v}]" for v in range(nv))
    w(f"{ind}aw = max(1.0 - WATER_SLOPE * (msum - scale * ({pred})), 1e-3)")


# --------------------------------------------------------------------------------------------
# The reaction kernel: one evaluation of the speciation equations with their derivatives,
# for the Newton of .reaction_kernel (precipitation and thresholds, pH fixed or solved).
# --------------------------------------------------------------------------------------------


def _term(coef: float, *factors: str) -> str:
    """``coef * f1 * f2``, without a factor of 1."""
    if coef == 1.0:
        return " * ".join(factors)
    return " * ".join([repr(float(coef)), *factors])


def reaction_source(shapes: list[SpeciesShape], layout: KernelLayout, davies: Davies) -> str:
    """Python source of ``fill_kh``, ``evaluate_fixed`` and ``evaluate_closed``.

    ``fill_kh(kt, pres, ah, kh)``: K(T) a(H⁺)^ν_H of every species, zero where a
    component is absent (``pres[c] == 0``).

    ``evaluate_X(kh, aw, a, x, ln_i, tl, m, jb, jt, el, sc, derivatives)``: with ln m of
    the metals ``x[0:NM]``, ln I, a_w, Davies' A and the totals ``tl`` (per kg
    of water; the ligands' are used), every ligand's free molality in closed
    form, then

    * ``m``: every species' molality;
    * ``sc``: the metal sums Σ ν m (0 .. NM-1), I, Σ z m, ½ Σ |z| m, Σ m, Σ ν_w m,
      log γ of the neutral and the z² = 1 classes, d log γ₁ / d ln I, and the
      ligands' free molalities (slots ``SC_*`` of :class:`KernelLayout`);
    * ``jb[r, k]``: derivative of the row sum r (metal 0 .. NM-1, I (X_I), charge
      (X_H), Σ m (X_R)) with respect to unknown k (ln m of a metal, ln I (X_I),
      ln a_H (X_H)), every ligand following its closed form;
    * ``jt[r, L]``: derivative of row sum r with respect to the total of
      ligand NM + L;
    * ``el[L, k]``: d ln m_L / d unknown k, and ``el[L, X_R]`` d ln m_L / d T_L.

    ``evaluate_fixed`` leaves out the charge row and the ln a_H column; with
    ``derivatives`` false only ``m`` and ``sc`` are written.
    """
    parts = [_fill_kh_source(shapes),
             _evaluate_source(shapes, layout, davies, closed=False),
             _evaluate_source(shapes, layout, davies, closed=True)]  # fmt: skip
    return "\n\n\n".join(parts)


def _fill_kh_source(shapes: list[SpeciesShape]) -> str:
    out: list[str] = []
    w = out.append
    w("@numba.njit(cache=True, error_model='numpy', nogil=True)")
    w("def fill_kh(kt, pres, ah, kh):")
    w("    iah = 1.0 / ah")
    for s in shapes:
        w(f"    kh[{s.index}] = {_kh_product(s, 'pres[{}]')}")
    return "\n".join(out)


def _evaluate_source(
    shapes: list[SpeciesShape], layout: KernelLayout, davies: Davies, closed: bool
) -> str:
    nm = layout.n_metals
    z2c = _component_z2(shapes, layout)
    out: list[str] = []
    w = out.append
    name = "evaluate_closed" if closed else "evaluate_fixed"
    w("@numba.njit(cache=True, error_model='numpy', nogil=True)")
    w(f"def {name}(kh, aw, a, x, ln_i, tl, m, jb, jt, el, sc, derivatives):")
    _davies(davies, [s.z2 for s in shapes], "    ", w)
    for c in range(layout.n_components):
        gamma = f"(1.0 / ig{z2c[c]})"
        w(f"    a{c} = math.exp(x[{c}]) * {gamma}" if c < nm else f"    a{c} = {gamma}")
    alpha, beta = _complex_constants(shapes, layout, "kh[{}]", "aw", "    ", w)
    for c in layout.ligands:
        w(f"    T{c} = tl[{c}]")
    _ligand_closed_forms(shapes, layout, alpha, beta, "    ", w)
    for c in layout.ligands:
        w(f"    sc[{layout.sc('ML') + c - nm}] = ml{c}")
    for s in shapes:
        w(f"    m[{s.index}] = m{s.index}")
    for u in range(nm):
        terms = [_scaled(s.metal_nu, f"m{s.index}") for s in shapes if s.metal == u]
        w(f"    sc[{u}] = {_sum(terms)}")
    ionic = _sum([f"{s.z2} * m{s.index}" for s in shapes if s.z2])
    w(f"    sc[{layout.sc('IONIC')}] = 0.5 * ({ionic})")
    if closed:
        z = {s.index: _charge(s, shapes) for s in shapes}
        charge = [_term(z[s.index], f"m{s.index}") for s in shapes if z[s.index]]
        w(f"    sc[{layout.sc('CHARGE')}] = {_sum(charge)}")
        absz = [_term(abs(z[s.index]), f"m{s.index}") for s in shapes if z[s.index]]
        w(f"    sc[{layout.sc('SCALE')}] = 0.5 * ({_sum(absz)})")
    w(f"    sc[{layout.sc('MSUM')}] = {_sum([f'm{s.index}' for s in shapes])}")
    oh = _sum([_term(s.nu_w, f"m{s.index}") for s in shapes if s.nu_w])
    w(f"    sc[{layout.sc('OH')}] = {oh}")
    w(f"    sc[{layout.sc('LG0')}] = lg0")
    w(f"    sc[{layout.sc('LG1')}] = lg1")
    w(f"    sc[{layout.sc('DLG1')}] = -a * df")
    w("    if not derivatives:")
    w("        return")
    _evaluate_derivatives(shapes, layout, davies, closed, w)
    return "\n".join(out)


def _evaluate_derivatives(
    shapes: list[SpeciesShape],
    layout: KernelLayout,
    davies: Davies,
    closed: bool,
    w: Callable[[str], None],
) -> None:
    """The ``jb``, ``jt`` and ``el`` of :func:`reaction_source`."""
    nm = layout.n_metals
    xi, xh, xr = layout.x_i, layout.x_h, layout.x_r
    z2c = _component_z2(shapes, layout)
    # d ln c_j / d ln I = kg_j gg (ions), kg_j gg - nn (neutral species)
    w("    gg = -LN10 * a * df")
    w(f"    nn = LN10 * {davies.neutral!r} * ii")
    kg = {}
    for s in shapes:
        s_sum = (s.metal_nu * z2c[s.metal] if s.metal >= 0 else 0) + (
            s.ligand_nu * z2c[s.ligand] if s.ligand >= 0 else 0
        )
        kg[s.index] = float(s_sum - s.z2) if s.z2 else float(s_sum)
    # row sums: the metals, I (xi), charge (xh, closed only), sum m (xr)
    rows = [*range(nm), xi, xh, xr] if closed else [*range(nm), xi, xr]
    n_cols = xh + 1 if closed else xh
    z_of = {s.index: _charge(s, shapes) for s in shapes}

    def weight(r: int, s: SpeciesShape) -> float:
        if r < nm:
            return float(s.metal_nu) if s.metal == r else 0.0
        if r == xi:
            return 0.5 * s.z2
        if r == xh:
            return float(z_of[s.index])
        return 1.0  # r = xr: the sum of all molalities

    def direct_sum(k: int, pairs: list[tuple[float, SpeciesShape]]) -> list[str]:
        """Terms of sum_j a_j m_j (d ln c_j / d unknown k, direct part) for (a_j, j) pairs."""
        if k < nm:
            return [_term(a * s.metal_nu, f"m{s.index}") for a, s in pairs if s.metal == k]
        if k == xh:
            return [_term(a * s.nu_h, f"m{s.index}") for a, s in pairs if s.nu_h]
        ions = [_term(a * kg[s.index], f"m{s.index}") for a, s in pairs if kg[s.index]]
        neutral = [_term(a, f"m{s.index}") for a, s in pairs if not s.z2]
        out_terms = [f"gg * ({_sum(ions)})"] if ions else []
        if neutral:
            out_terms.append(f"-nn * ({_sum(neutral)})")
        return out_terms

    # ligand responses: e_L_k = -(sum over L's species of nu_L m_j dir_jk) / Q_L
    for c in layout.ligands:
        members = [s for s in shapes if s.ligand == c]
        w(f"    q{c} = {_sum([_term(s.ligand_nu**2, f'm{s.index}') for s in members])}")
        w(f"    iq{c} = -1.0 / q{c} if q{c} > 0.0 else 0.0")
        pairs = [(float(s.ligand_nu), s) for s in members]
        for k in range(n_cols):
            w(f"    e{c}_{k} = ({_sum(direct_sum(k, pairs))}) * iq{c}")
            w(f"    el[{c - nm}, {k}] = e{c}_{k}")
        w(f"    el[{c - nm}, {xr}] = -iq{c}")
    for r in rows:
        for c in layout.ligands:
            terms = [
                _term(weight(r, s) * s.ligand_nu, f"m{s.index}")
                for s in shapes
                if s.ligand == c and weight(r, s)
            ]
            w(f"    w{r}_{c} = {_sum(terms)}")
            w(f"    jt[{r}, {c - nm}] = -w{r}_{c} * iq{c}")
        pairs = [(weight(r, s), s) for s in shapes if weight(r, s)]
        for k in range(n_cols):
            terms = direct_sum(k, pairs)
            terms += [f"w{r}_{c} * e{c}_{k}" for c in layout.ligands]
            w(f"    jb[{r}, {k}] = {_sum(terms)}")


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
