"""Argument checks shared by :mod:`potentials` and :mod:`effcoef` (one implementation each).

Every check returns the value as a Python number or raises ``ValueError`` with a one-line
message naming the argument (the CLI prints it and exits with status 2).  Booleans and
strings are refused everywhere: ``True`` is not a temperature and ``"0.5"`` is a typo.
:mod:`effcoef` imports these (``effcoef.operator.check_theta`` is :func:`check_theta`);
this module imports nothing from :mod:`effcoef`.
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Optional

import numpy as np

__all__ = ["check_real", "check_positive", "check_theta", "check_gamma", "check_delta",
           "check_dim", "theta_of"]


def check_real(x: Any, what: str = "value") -> float:
    """``x`` as a finite float; ``ValueError`` for non-numbers, booleans, strings, NaN, inf."""
    if isinstance(x, (bool, np.bool_, str, bytes)):
        raise ValueError(f"{what} must be a finite real number, got {x!r}")
    try:
        v = float(x)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"{what} must be a finite real number, got {x!r}") from None
    if isinstance(x, numbers.Complex) and not isinstance(x, numbers.Real):
        raise ValueError(f"{what} must be a finite real number, got {x!r}")
    if not math.isfinite(v):
        raise ValueError(f"{what} must be a finite real number, got {x!r}")
    return v


def check_positive(x: Any, what: str = "value", *, allow_zero: bool = False) -> float:
    """``x`` as a finite float ``> 0`` (``>= 0`` with ``allow_zero``), else ``ValueError``."""
    bound = ">= 0" if allow_zero else "> 0"
    try:
        v = check_real(x, what)
    except ValueError:
        raise ValueError(f"{what} must be a finite number {bound}, got {x!r}") from None
    if not (v >= 0 if allow_zero else v > 0):
        raise ValueError(f"{what} must be a finite number {bound}, got {x!r}")
    return v


def check_theta(theta: Any, what: str = "theta") -> float:
    r"""The temperature :math:`\theta` as a float; ``ValueError`` unless finite and > 0.

    The message reads "theta must be a finite positive number, got ..." (``what`` replaces
    "theta", e.g. ``"mass_interval: theta"``).
    """
    try:
        return check_positive(theta, what)
    except ValueError:
        raise ValueError(f"{what} must be a finite positive number, got {theta!r}") from None


def check_gamma(gamma: Any) -> float:
    r"""The family parameter :math:`\gamma > 0` (paper 004, eq. 4.2) as a float."""
    return check_positive(gamma, "gamma")


def check_delta(delta: Any) -> float:
    r"""The tilt :math:`\delta \ge 0` (paper 004, Case C) as a float."""
    return check_positive(delta, "delta", allow_zero=True)


def check_dim(dim: Any, allowed: tuple = (2, 3)) -> int:
    """Velocity dimension as an int in ``allowed`` (default 2 or 3), else ``ValueError``."""
    ok = (not isinstance(dim, (bool, np.bool_)) and isinstance(dim, (int, np.integer))
          and int(dim) in allowed)
    if not ok:
        choices = " or ".join(str(a) for a in allowed)
        raise ValueError(f"dim must be {choices}, got {dim!r}")
    return int(dim)


def theta_of(potential: Any, theta: Optional[Any] = None) -> float:
    """``theta`` if given, else the potential's attached ``theta`` (checked by :func:`check_theta`).

    ``ValueError`` if both are None (e.g. :func:`potentials.from_expression` without ``theta``).
    """
    if theta is None:
        theta = getattr(potential, "theta", None)
        if theta is None:
            raise ValueError(f"theta is required: {getattr(potential, 'name', potential)!r} has "
                             "no attached temperature; pass theta explicitly")
    return check_theta(theta)
