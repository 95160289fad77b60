"""Fuzz every entry point of oxalate on random rows: converged, flagged and wrong counts.

Random compositions over the wide chemical range (totals log-uniform over
1e-7-0.3 mol/kg with some zeros, pH 2-12, 0-100 °C) go through every solver
with both engines.  Per entry point it counts rows

* **converged** and checked: the invariants hold within the solvers'
  documented tolerances (mass balance, charge balance where it is solved,
  SI = 0 for every phase present and SI ≤ 0 for the others, Ω = target at a
  threshold), and the two engines agree;
* **flagged**: not converged, with a reason (NaN results);
* **wrong**: converged but an invariant fails, or flagged without a reason;

and, apart, rows where the two engines **disagree**: one converges where the
other does not, or their answers differ beyond the bars below.

Usage::

    python tools/fuzz.py --rows 1e6          # the issue-10 run (about 15 minutes)
    python tools/fuzz.py --rows 2e4 --seed 7

``tests/test_fuzz.py`` runs the same checks on a few thousand rows in CI.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import oxalate
from oxalate.database import constant_set

#: Bars: the solvers' tolerances (speciate 1e-12, the reactions 1e-10) with room for the
#: two engines stopping at different points inside them.
MASS_BALANCE = 1e-10  # relative, every component
CHARGE_BALANCE = 1e-9  # relative to the ionic charge scale, where the pH is solved
SATURATION = 1e-8  # |SI| of a phase present; SI of an absent one below this
ENGINE_SI = 1e-8  # the two engines' SI (speciate), log10 units
ENGINE_REL = 1e-7  # the two engines' amounts, thresholds and factors, relative

SOLUTES = ("Ca", "Mg", "Na", "K", "Cl", "Ox", "Cit", "PO4", "SO4", "CO3")


def compositions(n: int, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Random totals [mol/kg], pH and temperature [K] over the wide chemical range."""
    rng = np.random.default_rng(seed)
    totals = {}
    for c in SOLUTES:
        value = 10.0 ** rng.uniform(-7.0, np.log10(0.3), n)
        value[rng.random(n) < 0.1] = 0.0  # some components absent
        totals[c] = value
    return totals, rng.uniform(2.0, 12.0, n), rng.uniform(273.15, 373.15, n)


def _solution(totals: dict[str, np.ndarray], ph: Any, t: np.ndarray) -> oxalate.Solution:
    return oxalate.Solution.from_arrays(totals, pH=ph, temperature_kelvin=t)


class Tally:
    """Counts of one entry point."""

    def __init__(self) -> None:
        self.rows = 0
        self.converged = 0
        self.flagged = 0
        self.wrong = 0
        self.disagree = 0
        self.examples: list[str] = []

    def add(
        self, converged: Any, wrong: Any, disagree: Any, reason: Any, what: str, offset: int
    ) -> None:
        converged = np.asarray(converged, dtype=bool)
        no_reason = ~converged & (np.asarray(reason, dtype=object) == "")
        bad = np.asarray(wrong, dtype=bool) | no_reason
        self.rows += converged.size
        self.converged += int(np.count_nonzero(converged & ~bad))
        self.flagged += int(np.count_nonzero(~converged & ~bad))
        self.wrong += int(np.count_nonzero(bad))
        self.disagree += int(np.count_nonzero(disagree))
        for kind, mask in (("wrong", bad), ("disagree", np.asarray(disagree, dtype=bool))):
            if mask.any() and len(self.examples) < 4:
                self.examples.append(f"{kind}: row {offset + int(np.flatnonzero(mask)[0])}")


def _mass_balance(r: oxalate.Speciation) -> np.ndarray:
    cs = constant_set()
    m = np.asarray(r.molality)
    worst = np.zeros(len(m))
    for k, c in enumerate(SOLUTES):
        total = np.asarray(r.totals[c])
        computed = m @ cs.stoichiometry[:, k]
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(total > 0, np.abs(computed / total - 1.0), 0.0)
        worst = np.maximum(worst, rel)
    return worst


def _charge(r: oxalate.Speciation) -> np.ndarray:
    z = constant_set().charge
    m = np.asarray(r.molality)
    with np.errstate(invalid="ignore"):
        return np.abs(m @ z) / (0.5 * (m @ np.abs(z)))


def _speciate(
    tallies: dict[str, Tally], sol: oxalate.Solution, offset: int, label: str, **kw: Any
) -> None:
    out = {e: oxalate.speciate(sol, engine=e, **kw) for e in ("numpy", "auto")}
    a, b = out["auto"], out["numpy"]
    ca, cb = np.asarray(a.converged), np.asarray(b.converged)
    both = ca & cb
    with np.errstate(invalid="ignore"):
        si = np.abs(np.asarray(a.saturation_index["COM"]) - np.asarray(b.saturation_index["COM"]))
    disagree = (ca != cb) | (both & ~(si <= ENGINE_SI) & np.isfinite(si))
    for name, r, conv in (("numpy", b, cb), ("auto", a, ca)):
        wrong = conv & ~(_mass_balance(r) <= MASS_BALANCE)
        if "charge_balance" in kw or label.startswith("speciate pH=None"):
            wrong |= conv & ~(_charge(r) <= CHARGE_BALANCE)
        tallies.setdefault(f"{label} [{name}]", Tally()).add(
            conv, wrong, disagree, np.asarray(r.reason), label, offset
        )


def _precipitate(tallies: dict[str, Tally], sol: oxalate.Solution, offset: int, mode: str) -> None:
    label = f"precipitate {mode}"
    out = {e: oxalate.precipitate(sol, ("COM", "brushite"), ph_mode=mode, engine=e)
           for e in ("numpy", "auto")}  # fmt: skip
    a, b = out["auto"], out["numpy"]
    ca, cb = np.asarray(a.converged), np.asarray(b.converged)
    amount_a, amount_b = np.asarray(a.amount["COM"]), np.asarray(b.amount["COM"])
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(amount_a - amount_b) / np.maximum(np.abs(amount_b), 1e-12)
    disagree = (ca != cb) | (ca & cb & ~(rel <= ENGINE_REL))
    cs = constant_set()
    for name, r, conv in (("numpy", b, cb), ("auto", a, ca)):
        wrong = np.zeros_like(conv)
        for p in ("COM", "brushite"):
            si = np.asarray(r.speciation.saturation_index[p])
            present = np.asarray(r.present[p]) > 0
            with np.errstate(invalid="ignore"):
                wrong |= conv & present & ~(np.abs(si) <= SATURATION)
                wrong |= conv & ~present & (si > SATURATION)
        # every component conserved: T0 = T W + sum nu xi
        w = np.asarray(r.water_mass)
        for k, c in enumerate(SOLUTES):
            t0 = np.asarray(sol.totals[c])
            left = np.asarray(r.solution.totals[c]) * w
            for p in ("COM", "brushite"):
                left = left + np.asarray(r.amount[p]) * cs.solid(p).stoichiometry[k]
            with np.errstate(invalid="ignore", divide="ignore"):
                off = np.where(t0 > 0, np.abs(left / t0 - 1.0), np.abs(left))
            wrong |= conv & ~(off <= MASS_BALANCE * 10)
        tallies.setdefault(f"{label} [{name}]", Tally()).add(
            conv, wrong, disagree, np.asarray(r.reason), label, offset
        )


def _search(
    tallies: dict[str, Tally], sol: oxalate.Solution, offset: int, label: str,
    call: Callable[..., Any], value: str, **kw: Any,
) -> None:  # fmt: skip
    out = {e: call(sol, engine=e, **kw) for e in ("numpy", "auto")}
    a, b = out["auto"], out["numpy"]
    ca, cb = np.asarray(a.converged), np.asarray(b.converged)
    va, vb = np.asarray(getattr(a, value)), np.asarray(getattr(b, value))
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = np.abs(va - vb) / np.abs(vb)
    disagree = (ca != cb) | (ca & cb & ~(rel <= ENGINE_REL))
    for name, r, conv in (("numpy", b, cb), ("auto", a, ca)):
        omega = np.asarray(r.supersaturation)
        target = kw.get("target", 1.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            reached = np.abs(np.log10(omega / target)) <= SATURATION
            if value == "factor":  # d = 1 leaves Omega at or below the target
                reached |= (np.asarray(r.factor) == 1.0) & (omega <= target * (1 + 1e-8))
        wrong = conv & ~reached
        tallies.setdefault(f"{label} [{name}]", Tally()).add(
            conv, wrong, disagree, np.asarray(r.reason), label, offset
        )


def run(n: int, seed: int = 2026, chunk: int = 20_000) -> dict[str, Tally]:
    """Fuzz ``n`` rows in chunks; the tallies per entry point and engine."""
    tallies: dict[str, Tally] = {}
    done = 0
    while done < n:
        k = min(chunk, n - done)
        totals, ph, t = compositions(k, seed + done)
        fixed = _solution(totals, ph, t)
        neutral = _solution(totals, None, t)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", oxalate.OxalateRangeWarning)
            _speciate(tallies, fixed, done, "speciate fixed pH")
            _speciate(tallies, neutral, done, "speciate pH=None")
            _speciate(
                tallies, fixed, done, "speciate charge_balance=chloride",
                charge_balance="chloride",
            )  # fmt: skip
            _precipitate(tallies, fixed, done, "closed")
            _precipitate(tallies, fixed, done, "fixed")
            _search(tallies, fixed, done, "threshold fixed pH", oxalate.threshold, "molality")
            _search(
                tallies, fixed, done, "threshold closed Na2C2O4", oxalate.threshold,
                "molality", ph_mode="closed", counter_ion="sodium",
            )  # fmt: skip
            _search(tallies, fixed, done, "dilution_for", oxalate.dilution_for, "factor")
        done += k
    return tallies


def report(tallies: dict[str, Tally], seconds: float) -> str:
    head = ("entry point [engine]", "rows", "converged", "flagged", "wrong", "disagree")
    lines = ["{:44} {:>9} {:>10} {:>8} {:>6} {:>9}".format(*head)]
    for name, t in tallies.items():
        counts = (t.rows, t.converged, t.flagged, t.wrong, t.disagree)
        lines.append("{:44} {:9d} {:10d} {:8d} {:6d} {:9d}".format(name, *counts))
        lines += [f"    e.g. {e}" for e in t.examples]
    lines.append(f"{seconds:.1f} s")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=float, default=2e4)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--chunk", type=int, default=20_000)
    args = parser.parse_args()
    t0 = time.perf_counter()
    tallies = run(int(args.rows), args.seed, args.chunk)
    print(f"oxalate {oxalate.__version__}, seed {args.seed}")
    print(report(tallies, time.perf_counter() - t0))
    return 1 if any(t.wrong for t in tallies.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
