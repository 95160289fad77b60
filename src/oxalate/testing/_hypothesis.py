"""The ``hypothesis`` entry point: ``st.from_type(oxalate.Solution)`` works once installed.

hypothesis calls :func:`_hypothesis_setup_hook` when it is imported (the
``[project.entry-points.hypothesis]`` table of ``pyproject.toml``).  The hook
only registers a function; :mod:`oxalate.testing.strategies` is imported when
hypothesis first asks for a Solution, never at ``import oxalate``.
"""

from __future__ import annotations

from typing import Any


def _solution_strategy(kind: type) -> Any:
    from .strategies import _from_type

    return _from_type(kind)


def _hypothesis_setup_hook() -> None:
    """Register the strategy of :class:`oxalate.Solution` with hypothesis."""
    from hypothesis import strategies as st

    from ..solution import Solution

    st.register_type_strategy(Solution, _solution_strategy)
