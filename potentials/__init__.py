r"""Potentials :math:`W` of the Fokker-Planck operator.

.. math::

    Q(f) = \frac{d}{dv}\bigl(W'(v) f + \theta f'\bigr), \qquad
    M = e^{-W/\theta}/Z .

Build a :class:`Potential` from an expression string with
:func:`from_expression` or take one from the library (paper 004 family
:func:`case_a`, :func:`case_b`, :func:`case_c`, :func:`paper_family`, and
:func:`ornstein_uhlenbeck`, :func:`power_law`, :func:`fitzhugh_nagumo`,
:func:`double_well`).
"""

from .errors import ExpressionError, NonConfiningError, PotentialError
from .core import MassInterval, Potential
from .expression import from_expression
from .library import (case_a, case_b, case_c, double_well, fitzhugh_nagumo,
                      ornstein_uhlenbeck, paper_family, power_law)

__all__ = [
    "PotentialError", "ExpressionError", "NonConfiningError",
    "Potential", "MassInterval", "from_expression",
    "case_a", "case_b", "case_c", "paper_family", "ornstein_uhlenbeck",
    "power_law", "fitzhugh_nagumo", "double_well",
]
