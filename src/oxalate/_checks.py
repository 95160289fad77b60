"""Checks of the solver arguments every public function shares."""

from __future__ import annotations

import math
from typing import Any

from .solution import Solution

__all__ = ["check_iterations", "check_solution", "check_tolerance"]


def check_solution(value: Any, argument: str = "solution") -> Solution:
    """``value`` itself if it is a :class:`~oxalate.Solution`, else TypeError naming it."""
    if not isinstance(value, Solution):
        raise TypeError(
            f"{argument}={value!r} must be an oxalate.Solution, e.g. "
            f"oxalate.Solution(calcium='4 mmol/L', oxalate='0.3 mmol/L', pH=6.0)"
        )
    return value


def check_tolerance(tolerance: Any, upper: float = 1e-2) -> float:
    """A solver tolerance: a real number in (0, ``upper``), else ValueError naming it."""
    if (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, int | float)
        or not math.isfinite(tolerance)
        or not 0 < tolerance < upper
    ):
        raise ValueError(f"tolerance={tolerance!r} must be a number in (0, {upper:g})")
    return float(tolerance)


def check_iterations(max_iterations: Any, argument: str = "max_iterations") -> int:
    """A positive integer count of iterations, else ValueError naming it."""
    if (
        isinstance(max_iterations, bool)
        or not isinstance(max_iterations, int)
        or max_iterations < 1
    ):
        raise ValueError(f"{argument}={max_iterations!r} must be a positive integer")
    return max_iterations
