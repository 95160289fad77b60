"""Optional compiled kernel of the speciation solver (numba).

The same reduced Newton as :func:`oxalate.speciation._solve_chunk` — unknowns
ln m of Ca, Mg, Na, K and ln I; every ligand's free molality in closed form
from its own mass balance — written as a loop over rows that numba compiles.
It covers the common case (fixed pH, no charge balance, PHREEQC's Davies) and
is used when numba is installed; every other case runs the numpy solver.

Per row, the mass-action constants times a(H⁺)^ν are exponentiated once;
each Newton iteration then costs four exponentials (γ per charge class) and a
few multiplications per species, which is what makes it fast.

This module is imported only by :mod:`oxalate.speciation`, and only when the
kernel is asked for, so ``import oxalate`` never imports numba.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

_LN10 = math.log(10.0)
RATIO_SWEEPS = 1  # EQUIL2-style scaling steps before Newton (measured: 1 is best)


@numba.njit(cache=True, error_model="numpy")  # 1/0 gives inf (row flagged), never raises
def _solve5(a: Any, b: Any) -> bool:  # pragma: no cover - compiled
    """Gaussian elimination with partial pivoting, in place; the solution ends in b."""
    n = b.shape[0]
    for k in range(n):
        p = k
        big = abs(a[k, k])
        for i in range(k + 1, n):
            if abs(a[i, k]) > big:
                big = abs(a[i, k])
                p = i
        if big == 0.0 or not np.isfinite(big):
            return False
        if p != k:
            for j in range(n):
                a[k, j], a[p, j] = a[p, j], a[k, j]
            b[k], b[p] = b[p], b[k]
        for i in range(k + 1, n):
            f = a[i, k] / a[k, k]
            if f != 0.0:
                for j in range(k, n):
                    a[i, j] -= f * a[k, j]
                b[i] -= f * b[k]
    for k in range(n - 1, -1, -1):
        s = b[k]
        for j in range(k + 1, n):
            s -= a[k, j] * b[j]
        b[k] = s / a[k, k]
    return True


@numba.njit(cache=True, error_model="numpy")  # 1/0 gives inf (row flagged), never raises
def solve_rows(  # pragma: no cover - compiled; tested through speciate(engine="numba")
    log_k25: Any,
    delta_h: Any,
    t: Any,
    totals: Any,
    log_ah: Any,
    a_ref: Any,
    a_slope: Any,
    sp_comp: Any,
    sp_nu: Any,
    nu_h: Any,
    nu_w: Any,
    z: Any,
    z2: Any,
    lig: Any,
    lig_nu: Any,
    tol: float,
    max_iter: int,
    out_m: Any,
    out_lg: Any,
    out_i: Any,
    out_aw: Any,
    out_res: Any,
    out_it: Any,
    out_ok: Any,
) -> None:
    """Speciate rows at fixed pH with PHREEQC's Davies; results go to the out_ arrays.

    a_ref and a_slope give Debye-Hückel A(T, a_w) = a_ref + a_slope (a_w - 1),
    PHREEQC's weak dependence of A on the water activity, linearised (the
    numpy solver evaluates it exactly; the two differ by < 1e-15 in A).

    sp_comp/sp_nu (S, 3): the components (0-9, -1 padding) of each species
    and their coefficients; lig/lig_nu: the closed-form ligand (4-9) of each
    species and its coefficient (-1/0 without one).  Components 0-3 are the
    metals (the Newton unknowns).
    """
    n = totals.shape[0]
    ns = log_k25.shape[0]
    z2i = np.empty(ns, dtype=np.int64)
    for j in range(ns):
        z2i[j] = int(z2[j])
    kh = np.empty(ns)
    c = np.empty(ns)
    m = np.empty(ns)
    g = np.empty(ns)
    ok = np.empty(ns, dtype=np.bool_)
    jac = np.empty((5, 5))
    rhs = np.empty(5)
    x = np.empty(4)
    fac = np.empty(10)
    m_l = np.empty(10)
    alpha = np.empty(10)
    beta = np.empty(10)
    q = np.empty(10)
    e = np.empty((10, 5))
    s_u = np.empty(4)
    lg_cls = np.zeros(10)
    dlg_cls = np.empty(10)
    inv_gam = np.empty(10)
    vant_hoff = 1.0 / (_LN10 * 8.31470e-3 * 298.15)  # PHREEQC's R [kJ/(mol K)]
    k_t = np.empty(ns)  # 10^log K(T), recomputed only when T changes from the last row
    t_last = np.nan
    nu_h_i = np.empty(ns, dtype=np.int64)
    for j in range(ns):
        nu_h_i[j] = int(nu_h[j])
    ah_pow = np.empty(8)  # a(H+)^k for k = -4..3, at index k + 4
    for row in range(n):
        tot = totals[row]
        valid = np.isfinite(a_ref[row]) and np.isfinite(log_ah[row])
        for cc in range(10):
            if not np.isfinite(tot[cc]):
                valid = False
        if not valid:
            out_ok[row] = False
            out_res[row] = np.nan
            continue
        if t[row] != t_last:
            for j in range(ns):
                log_k = log_k25[j] - delta_h[j] * (298.15 - t[row]) * vant_hoff / t[row]
                k_t[j] = math.exp(_LN10 * log_k)
            t_last = t[row]
        a_h = math.exp(_LN10 * log_ah[row])
        for k in range(8):
            ah_pow[k] = a_h ** (k - 4)
        for j in range(ns):
            ok[j] = True
            for qq in range(3):
                cc = sp_comp[j, qq]
                if cc >= 0 and tot[cc] <= 0.0:
                    ok[j] = False
            k_h = nu_h_i[j]
            kh[j] = k_t[j] * (ah_pow[k_h + 4] if -4 <= k_h <= 3 else a_h**k_h)
        ionic0 = 1e-7
        for j in range(10):
            ionic0 += 0.5 * tot[j] * z2[j]
        for u in range(4):
            x[u] = math.log(tot[u]) if tot[u] > 0.0 else 0.0
        ln_i = math.log(ionic0)
        aw = 1.0
        converged = False
        worst = np.inf
        it = 0
        for it in range(max_iter + 1):
            a = a_ref[row] + a_slope[row] * (aw - 1.0)
            ii = math.exp(ln_i)
            s = math.sqrt(ii)
            f = s / (1.0 + s) - 0.3 * ii
            df = 0.5 * s / (1.0 + s) ** 2 - 0.3 * ii
            for zz in (0, 1, 4, 9):  # the charge classes z^2 of the species
                if zz == 0:
                    lg_cls[zz] = 0.1 * ii
                    dlg_cls[zz] = 0.1 * ii
                else:
                    lg_cls[zz] = -a * zz * f
                    dlg_cls[zz] = -a * zz * df
                inv_gam[zz] = math.exp(-_LN10 * lg_cls[zz])
            for cc in range(10):
                gam = 1.0 / inv_gam[z2i[cc]]
                fac[cc] = gam * math.exp(x[cc]) if cc < 4 else gam
                alpha[cc] = 0.0
                beta[cc] = 0.0
            for j in range(ns):
                if not ok[j]:
                    c[j] = 0.0
                    continue
                v = kh[j] * inv_gam[z2i[j]]
                if nu_w[j] != 0.0:
                    v *= aw ** nu_w[j]
                for qq in range(3):
                    cc = sp_comp[j, qq]
                    if cc >= 0:
                        k_nu = sp_nu[j, qq]
                        if k_nu == 1.0:
                            v *= fac[cc]
                        elif k_nu == 2.0:
                            v *= fac[cc] * fac[cc]
                        else:
                            v *= fac[cc] ** k_nu
                c[j] = v
                if lig[j] >= 0:
                    if lig_nu[j] == 1.0:
                        alpha[lig[j]] += v
                    else:
                        beta[lig[j]] += v
            for cc in range(4, 10):
                tl = tot[cc]
                if tl > 0.0:
                    m_l[cc] = (
                        2.0
                        * tl
                        / (alpha[cc] + math.sqrt(alpha[cc] * alpha[cc] + 8.0 * beta[cc] * tl))
                    )
                else:
                    m_l[cc] = 0.0
            for u in range(4):
                s_u[u] = 0.0
            ionic = 0.0
            msum = 0.0
            for j in range(ns):
                mj = c[j]
                if lig[j] >= 0:
                    ml = m_l[lig[j]]
                    if lig_nu[j] == 1.0:
                        mj *= ml
                    elif lig_nu[j] == 2.0:
                        mj *= ml * ml
                    else:
                        mj *= ml ** lig_nu[j]
                mj = min(mj, 1e3)
                m[j] = mj
                ionic += 0.5 * z2[j] * mj
                msum += mj
                for qq in range(3):
                    cc = sp_comp[j, qq]
                    if 0 <= cc < 4:
                        s_u[cc] += sp_nu[j, qq] * mj
            new_aw = max(1.0 - 0.017 * msum, 1e-3)
            worst = abs(ln_i - math.log(ionic))
            worst = max(worst, abs(math.log10(new_aw) - math.log10(aw)))
            for u in range(4):
                if tot[u] > 0.0:
                    worst = max(worst, abs(s_u[u] / tot[u] - 1.0))
            if worst <= tol:
                converged = True
                for j in range(ns):
                    out_m[row, j] = m[j]
                for zz in range(10):
                    out_lg[row, zz] = lg_cls[zz]
                out_i[row] = ionic
                out_aw[row] = new_aw
                break
            if it == max_iter or not np.isfinite(worst):
                break
            if it < RATIO_SWEEPS:
                # A cheap first move: scale each free metal by total / computed and take
                # the computed ionic strength (EQUIL2's fixed-point step); far from the
                # solution it gains about as much as a Newton step at half the cost.
                for u in range(4):
                    if tot[u] > 0.0:
                        x[u] -= math.log(s_u[u] / tot[u])
                ln_i = math.log(ionic)
                aw = new_aw
                continue
            # Jacobian (see the numpy solver for the algebra)
            for j in range(ns):
                gj = -dlg_cls[z2i[j]]
                for qq in range(3):
                    cc = sp_comp[j, qq]
                    if cc >= 0:
                        gj += sp_nu[j, qq] * dlg_cls[z2i[cc]]
                g[j] = _LN10 * gj
            for cc in range(10):
                q[cc] = 0.0
                for v in range(5):
                    e[cc, v] = 0.0
            for j in range(ns):
                lj = lig[j]
                if lj < 0 or m[j] == 0.0:
                    continue
                w = lig_nu[j] * m[j]
                q[lj] += lig_nu[j] * w
                for qq in range(3):
                    cc = sp_comp[j, qq]
                    if 0 <= cc < 4:
                        e[lj, cc] -= w * sp_nu[j, qq]
                e[lj, 4] -= w * g[j]
            for cc in range(4, 10):
                if q[cc] > 0.0:
                    for v in range(5):
                        e[cc, v] /= q[cc]
            for r in range(5):
                for v in range(5):
                    jac[r, v] = 0.0
            for j in range(ns):
                mj = m[j]
                if mj == 0.0:
                    continue
                lj = lig[j]
                # D_jv for v = metals 0-3, ln I
                d0 = 0.0
                d1 = 0.0
                d2 = 0.0
                d3 = 0.0
                d4 = g[j]
                for qq in range(3):
                    cc = sp_comp[j, qq]
                    if cc == 0:
                        d0 += sp_nu[j, qq]
                    elif cc == 1:
                        d1 += sp_nu[j, qq]
                    elif cc == 2:
                        d2 += sp_nu[j, qq]
                    elif cc == 3:
                        d3 += sp_nu[j, qq]
                if lj >= 0:
                    ln_ = lig_nu[j]
                    d0 += ln_ * e[lj, 0]
                    d1 += ln_ * e[lj, 1]
                    d2 += ln_ * e[lj, 2]
                    d3 += ln_ * e[lj, 3]
                    d4 += ln_ * e[lj, 4]
                for qq in range(3):
                    cc = sp_comp[j, qq]
                    if 0 <= cc < 4:
                        w = sp_nu[j, qq] * mj
                        jac[cc, 0] += w * d0
                        jac[cc, 1] += w * d1
                        jac[cc, 2] += w * d2
                        jac[cc, 3] += w * d3
                        jac[cc, 4] += w * d4
                w = 0.5 * z2[j] * mj
                jac[4, 0] += w * d0
                jac[4, 1] += w * d1
                jac[4, 2] += w * d2
                jac[4, 3] += w * d3
                jac[4, 4] += w * d4
            for u in range(4):
                if tot[u] > 0.0:
                    for v in range(5):
                        jac[u, v] /= s_u[u]
                    rhs[u] = math.log(s_u[u]) - math.log(tot[u])
                else:
                    for v in range(5):
                        jac[u, v] = 0.0
                        jac[v, u] = 0.0
                    jac[u, u] = 1.0
                    rhs[u] = 0.0
            for v in range(5):
                jac[4, v] = -jac[4, v] / ionic
            jac[4, 4] += 1.0
            for u in range(4):
                if tot[u] <= 0.0:
                    jac[4, u] = 0.0
            rhs[4] = ln_i - math.log(ionic)
            if not _solve5(jac, rhs):
                break
            big = 0.0
            for v in range(5):
                big = max(big, abs(rhs[v]))
            scale = 4.0 / big if big > 4.0 else 1.0
            for u in range(4):
                x[u] -= scale * rhs[u]
            ln_i -= scale * rhs[4]
            aw = new_aw
        out_ok[row] = converged
        out_res[row] = worst
        out_it[row] = it
