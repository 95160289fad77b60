"""Assertions for tests of code built on oxalate: the physical invariants, numpy-style.

Each ``assert_*`` function checks one invariant of a result and raises
:class:`AssertionError` with a message that names the worst row and the
figure, as :func:`numpy.testing.assert_allclose` does.  The default
tolerances are the library's own: :data:`SPECIATION_TOLERANCE` (1e-12, the
default ``tolerance`` of :func:`oxalate.speciate`) and
:data:`PRECIPITATION_TOLERANCE` (1e-10, that of :func:`oxalate.precipitate`).

:func:`assert_mass_balance`
    Every component's species sum to its total.
:func:`assert_charge_balance`
    Electroneutrality, where the pH or an ion was solved from it.
:func:`assert_equilibrium`
    A precipitation: SI = 0 for the phases present, SI ≤ 0 for the others,
    every component and water conserved.
:func:`assert_batch_equals_rows`
    A batch gives, bit for bit, what its rows give one by one.
:func:`assert_unit_invariant`
    The same solution in mol/kg, mmol/L and mg/dL gives the same result.

This module needs no hypothesis.  The hypothesis strategies are in
:mod:`oxalate.testing.strategies`, imported on purpose (``test`` extra).

Examples
--------
>>> import oxalate
>>> from oxalate.testing import assert_mass_balance
>>> urine = oxalate.fluids.urine_24h_normal()
>>> assert_mass_balance(oxalate.speciate(urine), urine)
"""

from __future__ import annotations

from ._assertions import (
    PRECIPITATION_TOLERANCE,
    SPECIATION_TOLERANCE,
    assert_batch_equals_rows,
    assert_charge_balance,
    assert_equilibrium,
    assert_mass_balance,
    assert_unit_invariant,
)

__all__ = [
    "PRECIPITATION_TOLERANCE",
    "SPECIATION_TOLERANCE",
    "assert_batch_equals_rows",
    "assert_charge_balance",
    "assert_equilibrium",
    "assert_mass_balance",
    "assert_unit_invariant",
]
