"""Fuzz every entry point on random rows of the wide chemical range (tools/fuzz.py, CI-sized).

Each converged row must satisfy its invariants (mass balance, charge balance where
it is solved, SI = 0 for the phases present, Ω = target at a threshold or dilution)
and every failed row must carry a reason.  The larger run (1e6 rows) is
``python tools/fuzz.py --rows 1e6``; its figures are in the issue-10 note.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("numba")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import fuzz


@pytest.fixture(scope="module")
def tallies() -> dict[str, fuzz.Tally]:
    return fuzz.run(3000, seed=20261205, chunk=3000)


def test_every_entry_point_was_fuzzed(tallies: dict[str, fuzz.Tally]) -> None:
    assert len(tallies) == 16
    assert all(t.rows == 3000 for t in tallies.values())


def test_no_converged_row_is_wrong_and_every_failure_has_a_reason(
    tallies: dict[str, fuzz.Tally],
) -> None:
    wrong = {name: (t.wrong, t.examples) for name, t in tallies.items() if t.wrong}
    assert wrong == {}


def test_the_engines_agree(tallies: dict[str, fuzz.Tally]) -> None:
    # numpy's solve of a charge balance on an ion (chloride) fails on about 1 row in 1000
    # of this wide range where the compiled engine converges (its rows pass the mass and
    # charge balance checks above); every other entry point agrees row by row
    allowed = {
        "speciate charge_balance=chloride [numpy]",
        "speciate charge_balance=chloride [auto]",
    }
    disagree = {n: t.disagree for n, t in tallies.items() if t.disagree and n not in allowed}
    assert disagree == {}
    for name in allowed:
        assert tallies[name].disagree <= 0.003 * tallies[name].rows
