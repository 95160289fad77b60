"""Exception and warning classes of the library."""

from __future__ import annotations

__all__ = ["OxalateInputWarning", "OxalateRangeWarning", "OxalateWarning"]


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
