r"""Potentials :math:`W` of the Fokker-Planck operator.

.. math::

    Q(f) = \frac{d}{dv}\bigl(W'(v) f + \theta f'\bigr), \qquad
    M = e^{-W/\theta}/Z .

Build a :class:`Potential` from an expression string with
:func:`from_expression` or take one from the library (paper 004 family
:func:`case_a`, :func:`case_b`, :func:`case_c`, :func:`paper_family`, and
:func:`ornstein_uhlenbeck`, :func:`power_law`, :func:`fitzhugh_nagumo`,
:func:`double_well`).

Velocity dimension 2 and 3 (:mod:`potentials.nd`): :class:`RadialPotential`
(:math:`W(v) = w(|v|)`, :func:`radial_from_expression`, :func:`swarming`,
:func:`ornstein_uhlenbeck_nd`) and :class:`PotentialND`
(:func:`from_expression_nd`, :func:`separable`, :func:`rotated`,
:func:`tilted`), with :meth:`PotentialND.mass_box`.

Certified bounds: :mod:`potentials.intervals` (rigorous interval enclosures of
the expression trees ``tree``/``dtree``/``d2tree``/``grad_trees``) and
:mod:`potentials.bnb` (certified minimum, sublevel covers, monotone tails,
with bounded work; :class:`BudgetExceededError`).

Argument checks shared with :mod:`effcoef` (:func:`check_theta`, :func:`theta_of`, and the
others in :mod:`potentials.validation`) live here because this package never imports
:mod:`effcoef`.

Periodic potentials U(x) on a cell (:mod:`potentials.periodic`, for
:mod:`effcoef.periodic`): :class:`PeriodicPotential`, :func:`periodic_from_expression`
(in ``x`` or ``x1, x2``, with a periodicity check), :func:`cosine_potential`.
"""

from .bnb import BudgetExceededError
from .core import MassInterval, Potential, affine, shifted
from .errors import ExpressionError, NonConfiningError, PotentialError
from .expression import from_expression
from .library import (
    case_a,
    case_b,
    case_c,
    double_well,
    fitzhugh_nagumo,
    ornstein_uhlenbeck,
    paper_family,
    power_law,
)
from .nd import (
    AnyPotential,
    MassBox,
    PotentialND,
    RadialPotential,
    from_expression_nd,
    ornstein_uhlenbeck_nd,
    radial_from_expression,
    rotated,
    separable,
    swarming,
    tilted,
)
from .periodic import (
    PeriodicityError,
    PeriodicPotential,
    cosine_potential,
    periodic_from_expression,
)
from .validation import check_theta, theta_of

__all__ = [
    "PotentialError", "ExpressionError", "NonConfiningError", "BudgetExceededError",
    "Potential", "MassInterval", "affine", "shifted", "from_expression",
    "case_a", "case_b", "case_c", "paper_family", "ornstein_uhlenbeck",
    "power_law", "fitzhugh_nagumo", "double_well",
    "PotentialND", "RadialPotential", "MassBox", "from_expression_nd",
    "radial_from_expression", "swarming", "ornstein_uhlenbeck_nd", "separable",
    "rotated", "tilted", "check_theta", "theta_of", "AnyPotential",
    "PeriodicPotential", "PeriodicityError", "periodic_from_expression", "cosine_potential",
]
