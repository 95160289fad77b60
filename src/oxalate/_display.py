"""Short, unit-bearing reprs (text and HTML) and row selection for result objects.

A result of a million rows must print in a few lines: its shape, how many rows
converged, and a few key outputs (a value for one row, the values for a handful,
min - median - max for a batch), each with its unit.  xarray and pandas are the
models.  ``select`` indexes a result like its batch (``r[0]``, ``r[mask]``,
``r[2:5]``): every per-row field is indexed along the batch's axes.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import fields, replace
from typing import Any, TypeVar

import numpy as np

from ._common import PhaseMap, scalar_or_array

__all__ = ["html_table", "select", "text_block", "values_text"]

_R = TypeVar("_R")

_SHOWN = 6  # rows printed one by one; more: min - median - max


def values_text(value: Any, digits: int = 4) -> str:
    """One value, a few values, or ``min … median … max (n finite)`` of a batch."""
    a = np.asarray(value)
    if a.dtype == bool:
        return f"{int(a.sum())} of {a.size}"
    a = a.astype(np.float64, copy=False)
    if a.ndim == 0:
        return f"{float(a):.{digits}g}"
    flat = a.ravel()
    if flat.size <= _SHOWN:
        return "[" + ", ".join(f"{v:.{digits}g}" for v in flat) + "]"
    finite = flat[np.isfinite(flat)]
    if finite.size == 0:
        return f"all NaN ({flat.size})"
    lo, mid, hi = np.min(finite), np.median(finite), np.max(finite)
    return f"{lo:.{digits}g} … {mid:.{digits}g} … {hi:.{digits}g} (min … median … max)"


def text_block(title: str, rows: Sequence[tuple[str, Any, str]]) -> str:
    """``title`` then one aligned line per (label, value, unit)."""
    width = max((len(label) for label, _, _ in rows), default=0)
    lines = [title]
    for label, value, unit in rows:
        shown = value if isinstance(value, str) else values_text(value)
        lines.append(f"  {label:<{width}}  {shown}{f' [{unit}]' if unit else ''}")
    return "\n".join(lines)


def html_table(title: str, rows: Sequence[tuple[str, Any, str]]) -> str:
    """The same as :func:`text_block` as a small HTML table (Jupyter's ``_repr_html_``)."""
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(label)}</th>"
        f"<td style='text-align:left'>{html.escape(v if isinstance(v, str) else values_text(v))}"
        f"</td><td style='text-align:left'>{html.escape(unit)}</td></tr>"
        for label, v, unit in rows
    )
    return (
        f"<div><strong>{html.escape(title)}</strong>"
        f"<table style='border-collapse:collapse'>{body}</table></div>"
    )


def failed_rows(reason: Any, converged: Any) -> list[tuple[str, Any, str]]:
    """The summary's "failed" line: how many rows failed and the first reason, or nothing."""
    failed = np.asarray(reason)[~np.asarray(converged, dtype=bool)]
    if not failed.size:
        return []
    return [("failed", f"{failed.size} row(s), e.g. {str(failed.flat[0])!r}", "")]


class Summarized:
    """A result shown by its ``_summary()``: a text block in ``repr``, a table in notebooks.

    A dataclass using it needs ``repr=False``, or the dataclass's own
    ``__repr__`` would win.
    """

    def _summary(self) -> tuple[str, list[tuple[str, Any, str]]]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return text_block(*self._summary())

    def _repr_html_(self) -> str:
        return html_table(*self._summary())


def _batch_index(index: Any, shape: tuple[int, ...]) -> Any:
    if not shape:
        raise TypeError("a scalar result has no rows to select")
    return index


def _pick(value: Any, index: Any, shape: tuple[int, ...]) -> Any:
    """``value`` indexed along the batch axes when it has them; else unchanged."""
    if (
        not isinstance(value, np.ndarray)
        and hasattr(value, "totals")
        and callable(getattr(value, "__getitem__", None))
    ):  # a Solution or a Speciation inside a result: select its rows too
        return value[index]
    if isinstance(value, PhaseMap):
        return PhaseMap({k: _pick(v, index, shape) for k, v in value.items()}, value._resolve)
    if isinstance(value, Mapping):
        return {k: _pick(v, index, shape) for k, v in value.items()}
    if hasattr(value, "magnitude") and hasattr(value, "units"):  # a pint Quantity
        return type(value)(_pick(value.magnitude, index, shape), value.units)
    if hasattr(value, "shape") and hasattr(value, "__getitem__") and not isinstance(value, str):
        a = value
        if tuple(np.shape(a)[: len(shape)]) == shape:
            out = np.asarray(a)[index]
            if isinstance(out, np.ndarray):
                out = out.view()
                out.flags.writeable = False
            return scalar_or_array(out) if np.ndim(out) == 0 else out
    return value


def select(result: _R, index: Any, shape: tuple[int, ...], skip: Sequence[str] = ()) -> _R:
    """A copy of the dataclass ``result`` with every per-row field indexed by ``index``."""
    _batch_index(index, shape)
    changes: dict[str, Any] = {}
    for f in fields(result):  # type: ignore[arg-type]
        if f.name in skip:
            continue
        value = getattr(result, f.name)
        if f.name == "labels" and value is not None:
            rows = np.arange(shape[0])[index] if len(shape) == 1 else None
            if rows is not None:
                changes[f.name] = (
                    value.take(np.atleast_1d(rows)) if hasattr(value, "take") else value
                )
                if np.ndim(rows) == 0:
                    changes[f.name] = None
            continue
        changes[f.name] = _pick(value, index, shape)
    return replace(result, **changes)  # type: ignore[type-var]
