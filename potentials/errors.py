"""Exceptions raised by the :mod:`potentials` package."""

__all__ = ["PotentialError", "ExpressionError", "NonConfiningError"]


class PotentialError(ValueError):
    """Base class of all errors about a potential :math:`W`."""


class ExpressionError(PotentialError):
    """A potential expression string is invalid.

    Raised for syntax errors, unknown names or functions and any construct
    outside the whitelisted arithmetic grammar (attribute access, lambdas,
    subscripts, strings, keyword arguments, ...).
    """


class NonConfiningError(PotentialError):
    """The potential :math:`W` is not confining.

    Either :math:`e^{-W/\\theta}` is not integrable (``W -> -inf`` or ``W``
    grows too slowly on one side), or :math:`W'(v)^2` does not tend to
    infinity, so that the Schrödinger potential
    :math:`W'^2/(4\\theta^2) - W''/(2\\theta)` is not confining.  The message
    names the failing side.
    """
