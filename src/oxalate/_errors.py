"""Exception and warning classes of the library."""

from __future__ import annotations

import inspect
import os

__all__ = [
    "OxalateEngineWarning",
    "OxalateInputWarning",
    "OxalateRangeWarning",
    "OxalateWarning",
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
