r"""The Fokker-Planck -> Schrödinger transform (one place for the operator).

The Fokker-Planck operator

.. math:: Q(f) = \partial_v\big(W'(v) f + \theta \partial_v f\big)
           = \theta\,\partial_v\big(M \partial_v (f/M)\big),
   \qquad M = e^{-W/\theta}/Z,

is turned by the unitary map :math:`u = f/\sqrt{M}` into the Schrödinger
operator

.. math:: \mathcal H u = -\frac{1}{\sqrt M} Q(\sqrt M u)
          = -\theta u'' + \Phi u, \qquad
          \Phi = -\tfrac12 W'' + \frac{|W'|^2}{4\theta}

(paper 004, eq. 3.1), whose kernel is spanned by :math:`\sqrt M`.  Its
quadratic form is the *weighted* Dirichlet form

.. math:: (\mathcal H u, u) = \theta \int M\,|\partial_v(u/\sqrt M)|^2\,dv,

which is what the default discretisation uses: with :math:`u = \sqrt M\varphi`
every term is a positive integral, the kernel :math:`\varphi = 1` is exact,
and no :math:`\Phi` (hence no :math:`W''`) is needed.

Everything here works in log space: :math:`\log m = -(W - W_{\min})/\theta`
never overflows, and :math:`m = e^{\log m} \le 1` underflows only where
the mass is negligible.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from potentials import Potential
from potentials.validation import check_theta  # the one theta check (re-exported here)

__all__ = ["check_theta", "log_weight", "schrodinger_potential", "sqrt_maxwellian"]


def log_weight(potential: Potential, theta: float, v: ArrayLike, Wmin: float) -> np.ndarray:
    r"""Unnormalised log-Maxwellian :math:`\log m(v) = -(W(v) - W_{\min})/\theta \le 0`."""
    return -(potential.W(v) - Wmin) / theta


def schrodinger_potential(potential: Potential, theta: float, v: ArrayLike) -> np.ndarray:
    r""":math:`\Phi(v) = -W''(v)/2 + W'(v)^2/(4\theta)` (paper 004, eq. 3.1)."""
    dW = potential.dW(v)
    return -0.5 * potential.d2W(v) + dW * dW / (4.0 * theta)


def sqrt_maxwellian(potential: Potential, theta: float, v: ArrayLike, Wmin: float,
                    log_Z: float) -> np.ndarray:
    r""":math:`\sqrt{M(v)} = \exp\big(\tfrac12(\log m(v) - \log Z)\big)`, computed in log space."""
    return np.exp(0.5 * (log_weight(potential, theta, v, Wmin) - log_Z))
