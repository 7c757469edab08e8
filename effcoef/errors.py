"""Warnings and exceptions raised by the solver."""

__all__ = ["AccuracyWarning", "AccuracyError", "EffcoefError"]


class EffcoefError(ValueError):
    """Invalid input to the solver (bad temperature, bad numerical parameter...)."""


class AccuracyWarning(UserWarning):
    """The requested relative accuracy could not be certified.

    Emitted when the solver's own error estimate (series truncation and
    discretisation gap, see :class:`effcoef.CoefficientResult`) exceeds
    ``rtol``.  The numbers are still returned, but must not be presented as
    accurate to ``rtol``.
    """


class AccuracyError(RuntimeError):
    """Raised instead of :class:`AccuracyWarning` when ``strict=True``."""
