"""Exception and warning classes of the library."""

from __future__ import annotations

import inspect
import os
import warnings
from collections import Counter
from typing import Any

import numpy as np

__all__ = [
    "OxalateEngineWarning",
    "OxalateInputWarning",
    "OxalateRangeWarning",
    "OxalateRowWarning",
    "OxalateWarning",
    "warn_failed_rows",
]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


class OxalateWarning(UserWarning):
    """Base class of every warning raised by oxalate."""


class OxalateRangeWarning(OxalateWarning):
    """A model is used outside its range of validity.

    Raised, for example, when the Davies equation is evaluated above an ionic
    strength of 0.5 mol/kg.  The result is still returned; the warning says how
    far outside the range it lies and for how many rows of a batch.
    """


class OxalateInputWarning(OxalateWarning):
    """Rows of a batch were set to NaN because their input was invalid.

    Only raised when the caller chose ``on_invalid="nan"``; the default
    ``"raise"`` raises :class:`ValueError` instead.
    """


class OxalateEngineWarning(OxalateWarning):
    """The compiled engine cannot run here; the numpy engine gives the results instead.

    Raised once per process, for example when no folder can hold the compiled
    kernels safely (see ``oxalate.compile``); the results are the same, only
    slower.
    """


class OxalateRowWarning(OxalateWarning):
    """Rows of a batch failed: their results are NaN, with a ``reason`` each.

    One warning per call, with the count of failed rows per reason and the
    labels (or positions) of the first few; the other rows are unaffected.
    """


def warn_failed_rows(what: str, reason: Any, labels: Any = None, shown: int = 5) -> None:
    """One :class:`OxalateRowWarning` for the rows of ``reason`` that are not empty.

    ``reason`` is the result's array of reasons ("" for a row that succeeded);
    ``labels`` the rows' labels (see ``Solution.with_labels``), else positions
    are shown.
    """
    flat = np.ravel(np.asarray(reason, dtype=object))
    failed = np.flatnonzero(flat != "")
    if failed.size == 0:
        return
    counts = Counter(str(r) for r in flat[failed])
    by_reason = "; ".join(f"{n} {r!r}" for r, n in counts.most_common())
    if labels is not None and np.ndim(flat) == 1 and len(labels) == flat.size:
        first = [str(np.asarray(labels, dtype=object)[i]) for i in failed[:shown]]
        where = "rows labelled " + ", ".join(first)
    else:
        where = "rows at positions " + ", ".join(str(int(i)) for i in failed[:shown])
    more = ", ..." if failed.size > shown else ""
    warnings.warn(
        f"{what}: {failed.size} of {flat.size} row(s) failed and are NaN ({by_reason}); "
        f"{where}{more}. See the result's reason.",
        OxalateRowWarning,
        stacklevel=user_stacklevel(),
    )


def user_stacklevel() -> int:
    """``stacklevel`` for ``warnings.warn`` that points at the first frame outside oxalate.

    Counted from the function that calls ``warnings.warn``, however deep inside
    the library that is, so a warning names the user's line whichever public
    function (and which engine) raised it; pandas finds its stack level the
    same way.
    """
    frame = inspect.currentframe()
    level = 0
    try:
        while frame is not None:
            if not os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE_DIR + os.sep):
                return level
            frame = frame.f_back
            level += 1
    finally:
        del frame
    return level
