r"""The spectral series (paper 004, eq. 3.6 / 4.1) and its truncation: one driver for all routes.

With the eigenpairs :math:`(\lambda_k, \Psi_k)` of the discrete operator and the Fourier
coefficients :math:`\eta_k = (h_\chi, \Psi_k)`, :math:`\omega_k = (h_\kappa, \Psi_k)`
(scalars in 1D, vectors of length d otherwise)

.. math:: D^N = \sum_{k=1}^N \frac{\eta_k\otimes\eta_k}{\lambda_k}, \qquad
          K^N = \sum_{k=1}^N \frac{\eta_k\otimes\omega_k}{\lambda_k}.

The :math:`N\to\infty` limits of the *discrete* series are the exact solutions of the discrete
Poisson problems, :math:`D^\infty = \ell^T A^{-1}\ell` (and :math:`K^\infty` likewise), which
every route computes directly; the reported coefficients are these completed values, and the
series gives the spectrum's view of them (convergence in N, Theorem 3.1).

:func:`run_series` is the one driver: ``n_modes=None`` uses the route's default number of
modes once, an integer uses that many, and ``"auto"`` grows N (by :func:`next_n_modes`) until
the truncation :math:`\max(\|D^N - D^\infty\|/\|D^\infty\|, \|K^N - K^\infty\|/\|K^\infty\|)`
is below ``rtol / 10``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["partial_sums", "truncation_errors", "next_n_modes", "run_series", "SeriesRun",
           "lanczos_shift"]


def partial_sums(lam: ArrayLike, eta: ArrayLike,
                 omega: ArrayLike) -> Tuple[np.ndarray, np.ndarray]:
    r"""Partial sums :math:`D^N, K^N` for N = 0..n (index 0 is 0).

    ``lam`` (n,) positive eigenvalues; ``eta``, ``omega`` (n,) or (n, d).  Returns arrays of
    shape (n+1,) or (n+1, d, d).
    """
    lam = np.asarray(lam, dtype=float)
    eta, omega = np.asarray(eta, dtype=float), np.asarray(omega, dtype=float)
    if eta.ndim == 1:
        Dt, Kt = eta * eta / lam, eta * omega / lam
    else:
        Dt = eta[:, :, None] * eta[:, None, :] / lam[:, None, None]
        Kt = eta[:, :, None] * omega[:, None, :] / lam[:, None, None]
    zero = np.zeros((1,) + Dt.shape[1:])
    return np.concatenate([zero, np.cumsum(Dt, axis=0)]), np.concatenate([zero, np.cumsum(Kt, axis=0)])


def truncation_errors(D_partial: ArrayLike, K_partial: ArrayLike, D_inf: ArrayLike,
                      K_inf: ArrayLike) -> np.ndarray:
    r"""Relative truncation errors for N = 1..n (Frobenius norms for matrices)."""
    def err(P, inf):
        P, inf = np.asarray(P, float)[1:], np.asarray(inf, float)
        scale = float(np.max(np.abs(inf))) if inf.size else 1.0
        if scale > 0 and np.isfinite(scale):          # scaled: D ~ 1e212 squares to inf
            P, inf = P / scale, inf / scale
        ax = tuple(range(1, P.ndim))
        num = np.sqrt(np.sum((P - inf) ** 2, axis=ax)) if ax else np.abs(P - inf)
        den = np.linalg.norm(inf)
        return num / den if den > 0 else np.where(num == 0, 0.0, np.inf)

    with np.errstate(all="ignore"):
        return np.maximum(err(D_partial, D_inf), err(K_partial, K_inf))


def next_n_modes(D_partial: ArrayLike, K_partial: ArrayLike, D_inf: ArrayLike,
                 K_inf: ArrayLike, target: float, cap: int = 256) -> int:
    r"""N for the next pass of an automatic truncation of the series.

    The truncation error (:func:`truncation_errors`) is extrapolated with the geometric rate
    of its last four values (Theorem 3.1: the tail of a convergent series) to where it
    reaches ``target``; with a 25 % margin, at least N + 4 and at most 2N (also when no decay
    can be read off), at most ``cap``.
    """
    N = len(np.asarray(D_partial)) - 1
    tr = truncation_errors(D_partial, K_partial, D_inf, K_inf)
    with np.errstate(all="ignore"):
        tail = np.log(tr[-4:]) if N >= 4 else np.array([])
    new = 2 * N
    if len(tail) == 4 and np.all(np.isfinite(tail)):
        rate = (tail[-1] - tail[0]) / 3.0          # log-decrease per mode (< 0 if decaying)
        if rate < 0:
            new = N + int(math.ceil(1.25 * (math.log(target) - tail[-1]) / rate))
    return int(min(max(new, N + 4), 2 * N, cap))


@dataclass
class SeriesRun:
    """What :func:`run_series` returns: the route's last spectral computation and the sums."""

    spectrum: object          # whatever the route's compute(N) returned (lam, eta, omega, ...)
    D_partial: np.ndarray
    K_partial: np.ndarray
    truncation: np.ndarray    # relative truncation errors for N = 1..n
    n_requested: int


def run_series(compute: Callable[[int], object], *, n_modes: Union[None, int, str],
               default: int, D_inf: ArrayLike, K_inf: ArrayLike, rtol: float,
               cap: int = 256) -> SeriesRun:
    r"""The one automatic-N loop.

    ``compute(N)`` returns an object with attributes ``lam`` (k,), ``eta``, ``omega``
    ((k,) or (k, d)) for the k <= N lowest modes that carry data.  ``n_modes``: None (the
    route's ``default``, once), an int, or ``"auto"`` (grow N until the truncation against
    the completed values ``D_inf``, ``K_inf`` is <= ``rtol / 10``, N <= ``cap``, or the
    discretisation has no more modes).
    """
    auto = isinstance(n_modes, str)
    if auto and n_modes != "auto":
        raise ValueError(f"n_modes must be a positive integer, None or 'auto', got {n_modes!r}")
    N = default if (n_modes is None or auto) else int(n_modes)
    while True:
        spec = compute(N)
        Dp, Kp = partial_sums(spec.lam, spec.eta, spec.omega)
        tr = truncation_errors(Dp, Kp, D_inf, K_inf)
        k = len(spec.lam)
        done = (not auto or (len(tr) and tr[-1] <= rtol / 10) or N >= cap or k < N)
        if done:
            return SeriesRun(spec, Dp, Kp, tr, N)
        N = next_n_modes(Dp, Kp, D_inf, K_inf, rtol / 10, cap=cap)


def lanczos_shift(curvature: float, theta: float, length: float,
                  centrifugal: Optional[float] = None) -> float:
    r"""Negative shift :math:`-s` of the shift-invert Lanczos: of the order of the first excited
    level, so that :math:`(A + sB)^{-1}B` is well conditioned whatever the tunnelling.

    :math:`s = \max(|\text{curvature}|, 10\,\theta/L^2[, \text{centrifugal}])`: the harmonic
    level at the global minimum (W'' in 1D, :math:`\Delta W/d` in d dimensions), floored by
    the level of a box of length L; the radial l = 1 channel adds its centrifugal level
    :math:`\theta(d-1)/r^2`.
    """
    c = abs(float(curvature)) if np.isfinite(curvature) else 0.0
    s = max(c, 10.0 * theta / length ** 2)
    if centrifugal is not None and np.isfinite(centrifugal):
        s = max(s, float(centrifugal))
    return s
