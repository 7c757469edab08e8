r"""Small-temperature asymptotics of the spectral gap (Eyring-Kramers).

For a one-dimensional double well with minima :math:`m_1 < s < m_2` separated by
the barrier top :math:`s`, the first positive eigenvalue of the generator (and of
:math:`\mathcal H`) is, as :math:`\theta \to 0`, the sum of the two escape rates

.. math::
   \lambda_1 \simeq k_{1\to 2} + k_{2\to 1}, \qquad
   k_{i\to j} = \frac{\theta}{I_{m_i}\, I_s}\, e^{-(W(s) - W(m_i))/\theta},

with the Laplace integrals :math:`I_{m} = \int e^{-(W - W(m))/\theta}` over the
well and :math:`I_s = \int e^{-(W(s) - W)/\theta}` over the barrier.  For
quadratic extrema they give the classical Eyring-Kramers formula
:math:`k = \frac{\sqrt{W''(m)\,|W''(s)|}}{2\pi} e^{-\Delta W/\theta}`; for a
degenerate top :math:`W(s) - W \approx c|v - s|^a` (paper 004 Case B has
:math:`a = 3`) the local integral is
:math:`2\Gamma(1 + 1/a)(\theta/c)^{1/a}`.  Relative corrections are
:math:`O(\theta)` (quadratic) or :math:`O(\theta^{1/3})`-type (degenerate), so
the ratio to the computed :math:`\lambda_1` tends to 1.

This module is independent of the finite elements (it only evaluates W).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
from scipy.optimize import brentq

from potentials import Potential

__all__ = ["eyring_kramers", "KramersResult", "critical_points"]


@dataclass(frozen=True)
class KramersResult:
    """``lam1``: the asymptotic first eigenvalue; ``rates``: (k_12, k_21); ``minima``,
    ``saddle``: locations; ``saddle_exponent``: a in W(s) - W ~ c|v - s|^a."""

    lam1: float
    rates: tuple
    minima: tuple
    saddle: float
    saddle_exponent: float
    log_lam1: float


def critical_points(potential: Potential, a: float, b: float, n: int = 20001) -> list:
    """Zeros of W' in (a, b) by sign changes on a grid and Brent's method, with their type
    (+1 minimum, -1 maximum).  A kink where W' jumps from + to - (``|v|``-type) counts as a max."""
    x = np.linspace(a, b, n)
    d = potential.dW(x)
    out = []
    for i in np.nonzero(np.sign(d[:-1]) * np.sign(d[1:]) < 0)[0]:
        try:
            z = brentq(lambda t: float(potential.dW(np.array([t]))[0]), x[i], x[i + 1],
                       xtol=1e-14, rtol=1e-15)
        except ValueError:                     # jump of W' (kink) rather than a zero
            z = 0.5 * (x[i] + x[i + 1])
        out.append((z, 1 if d[i] < 0 else -1))
    for i in np.nonzero(d == 0)[0]:
        if 0 < i < n - 1 and np.sign(d[i - 1]) * np.sign(d[i + 1]) < 0:
            out.append((x[i], 1 if d[i - 1] < 0 else -1))
    return sorted(out)


def _local_laplace(potential, x0, theta, sign):
    """int exp(sign (W - W(x0)) / theta) near an extremum, from the local power law
    |W - W(x0)| ~ c |v - x0|^a fitted on both sides at the scale where the exponent is ~1."""
    W0 = float(potential.W(np.array([x0]))[0])
    total, exps = 0.0, []
    for side in (-1.0, 1.0):
        # find delta with |W(x0 + side delta) - W0| ~ theta (the Laplace scale)
        delta = 1e-3
        for _ in range(200):
            dv = abs(float(potential.W(np.array([x0 + side * delta]))[0]) - W0)
            if dv >= theta:
                break
            delta *= 1.5
        h = delta * 1e-2
        f1 = abs(float(potential.W(np.array([x0 + side * h]))[0]) - W0)
        f2 = abs(float(potential.W(np.array([x0 + side * 2 * h]))[0]) - W0)
        a = math.log(f2 / f1) / math.log(2.0)
        a = round(a * 2) / 2 if abs(a - round(a * 2) / 2) < 0.05 else a
        c = f1 / h ** a
        exps.append(a)
        total += math.gamma(1.0 + 1.0 / a) * (theta / c) ** (1.0 / a)
    return total, max(exps)


def eyring_kramers(potential: Potential, theta: float,
                   interval: Optional[tuple[float, float]] = None) -> KramersResult:
    r"""Eyring-Kramers asymptotics of :math:`\lambda_1` for a 1D double well.

    Parameters
    ----------
    potential : potentials.Potential with exactly two local minima (in ``interval``,
        default the mass interval of the potential at ``theta``).
    theta : float

    Returns
    -------
    KramersResult
    """
    if interval is None:
        mi = potential.mass_interval(theta, 45.0)
        span = mi.b - mi.a
        interval = (mi.a - 0.1 * span, mi.b + 0.1 * span)
    cps = critical_points(potential, *interval)
    mins = [z for z, t in cps if t > 0]
    maxs = [z for z, t in cps if t < 0]
    if len(mins) != 2 or len(maxs) != 1 or not mins[0] < maxs[0] < mins[1]:
        raise ValueError(f"eyring_kramers needs a double well (two minima around one maximum); "
                         f"found minima {mins} and maxima {maxs}")
    m1, s, m2 = mins[0], maxs[0], mins[1]
    W = lambda x: float(potential.W(np.array([x]))[0])  # noqa: E731
    I_s, a_s = _local_laplace(potential, s, theta, -1)
    logs = []
    for m in (m1, m2):
        I_m, _ = _local_laplace(potential, m, theta, +1)
        logs.append(math.log(theta / (I_m * I_s)) - (W(s) - W(m)) / theta)
    log_lam = float(np.logaddexp(*logs))
    return KramersResult(lam1=math.exp(log_lam) if log_lam > -745 else 0.0,
                         rates=tuple(math.exp(x) if x > -745 else 0.0 for x in logs),
                         minima=(m1, m2), saddle=s, saddle_exponent=a_s, log_lam1=log_lam)
