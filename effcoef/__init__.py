"""effcoef: effective drift and diffusion coefficients of kinetic equations in the diffusion limit.

The main entry point is :func:`coefficients` (one velocity dimension); the
independent reference is :mod:`effcoef.reference.quadrature`.
"""

from .errors import AccuracyError, AccuracyWarning, EffcoefError
from .solver import CoefficientResult, coefficients

__all__ = ["coefficients", "CoefficientResult", "AccuracyWarning", "AccuracyError", "EffcoefError"]
__version__ = "0.1.0"
