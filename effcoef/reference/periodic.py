r"""Closed-form references for periodic homogenisation in one dimension (log space).

For the overdamped dynamics :math:`dX = (-U'(X) + F)\,dt + \sqrt{2\theta}\,dB` with
:math:`U(x + L) = U(x)`, the effective drift :math:`V = \lim X_t/t` and diffusion
:math:`D = \lim \mathrm{Var}(X_t)/(2t)` have integral formulas:

Untilted (F = 0): Lifson and Jackson (J. Chem. Phys. 36, 2410 (1962)),

.. math:: V = 0, \qquad
          D = \frac{\theta L^2}{\int_0^L e^{U/\theta}\,dx\,\int_0^L e^{-U/\theta}\,dx};

for :math:`U = V_0\cos(2\pi x/L)` both integrals are :math:`L I_0(V_0/\theta)`, so
:math:`D/\theta = I_0(V_0/\theta)^{-2}` (:func:`cosine_lifson_jackson`).

Tilted (F != 0): Reimann, Van den Broeck, Linke, Hänggi, Rubi, Pérez-Madrid, Phys. Rev. Lett.
87, 010602 (2001); Phys. Rev. E 65, 031104 (2002), with the tilted potential
:math:`\tilde U(x) = U(x) - Fx` and

.. math:: I_\pm(x) = \frac1\theta\int_0^L
          \exp\Big(\pm\frac{\tilde U(x) - \tilde U(x \mp y)}{\theta}\Big)\,dy,

.. math:: V = \frac{L\,(1 - e^{-FL/\theta})}{\int_0^L I_\pm(x)\,dx}, \qquad
          D = \theta L^2\,\frac{\int_0^L I_\pm(x)^2\,I_\mp(x)\,dx}
                                 {\big(\int_0^L I_\pm(x)\,dx\big)^3}

(both sign choices give the same values; both are computed and their difference is part of
the error estimate).  The stationary density on the cell is
:math:`\rho = I_-/\int_0^L I_-`.

Numerics, independent of the finite elements and eigensolvers of :mod:`effcoef` (this module
imports none of them): every integrand is periodic in x, so the x-integrals use the trapezoidal
rule on N equispaced points (geometric convergence for analytic U); the y-integrals use
composite Gauss-Legendre on the N panels :math:`[kh, (k+1)h]`, so that the points
:math:`x_i \pm y` fall on the N translates of one table of U (N nq evaluations of U in all).
Everything is summed in log space (``logsumexp``) with positive terms only, so
:math:`D/\theta = 10^{-41}` (Lifson-Jackson at :math:`V_0/\theta = 50`) and the
exponentially small V of a locked particle keep their relative accuracy.  N is chosen so that
the exponent changes by at most ~4 per panel and the result is computed on 2N;
``rel_error_estimate`` is the largest of the changes from N to 2N points, when the y-rule drops
4 Gauss points, and between the two sign choices (converged values agree to ~1e-13, the rounding of
:math:`(U(x+y) - U(x))/\theta`).  A negative F is reduced to a positive one by reflection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional, Tuple, Union

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy.special import i0e, logsumexp

from potentials import PeriodicPotential

__all__ = ["PeriodicReference", "lifson_jackson", "cosine_lifson_jackson",
           "tilted_coefficients", "critical_tilt", "eyring_kramers_gap", "stationary_density"]


@dataclass(frozen=True)
class PeriodicReference:
    """V and D of a 1D periodic potential from the closed forms.

    ``log_D`` stays finite when D under- or overflows; ``log_V`` is the log of ``|V|``
    (``sign_V`` its sign, 0 when F = 0).  ``rel_error_estimate`` covers D and V.
    """

    D: float
    V: float
    log_D: float
    log_V: float
    sign_V: int
    theta: float
    force: float
    period: float
    rel_error_estimate: float
    n_points: int
    method: str


def _as_potential(U, period):
    import potentials

    if isinstance(U, str):
        return potentials.periodic_from_expression(U, 1.0 if period is None else period, dim=1)
    if getattr(U, "dim", None) != 1 or not hasattr(U, "period"):
        raise ValueError("U must be a 1D potentials.PeriodicPotential or an expression in x")
    if period is not None and abs(float(period) - U.period[0]) > 1e-14 * U.period[0]:
        raise ValueError(f"period {period!r} differs from the potential's period {U.period[0]!r}")
    return U


def _check(theta, force):
    for name, x in (("theta", theta), ("force", force)):
        if isinstance(x, (bool, np.bool_)):
            raise ValueError(f"{name} must be a number, got {x!r}")
        try:
            float(x)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number, got {x!r}") from None
    theta, force = float(theta), float(force)
    if not (math.isfinite(theta) and theta > 0):
        raise ValueError(f"theta must be a finite positive number, got {theta!r}")
    if not math.isfinite(force):
        raise ValueError(f"force must be finite, got {force!r}")
    return theta, force


def _n_points(pot, theta, force, nq, n_min=64):
    """Panels so that the exponent (U(x+y) - U(x) - F y)/theta changes by <= ~4 per panel."""
    L = pot.period[0]
    x = np.linspace(0.0, L, 4097)[:-1]
    rate = (np.max(np.abs(pot.grad(x)[0])) + abs(force)) / theta \
        + math.sqrt(np.max(np.abs(pot.hess_diag(x)[0])) / theta)
    n = max(n_min, int(math.ceil(rate * L / 4.0)))
    return 2 * ((n + 1) // 2)           # even: the halved x-rule uses every second point


def lifson_jackson(U: Union[str, PeriodicPotential], theta: float,
                   period: Optional[float] = None, *, n: Optional[int] = None) -> PeriodicReference:
    r"""Lifson-Jackson :math:`D = \theta L^2/(\int e^{U/\theta}\int e^{-U/\theta})`, V = 0.

    Trapezoidal rule on ``n`` equispaced points (periodic integrand: geometric convergence),
    log space; the estimate is the change when every second point is dropped.
    """
    pot = _as_potential(U, period)
    theta, _ = _check(theta, 0.0)
    L = pot.period[0]
    n = 2 * _n_points(pot, theta, 0.0, 8) if n is None else 2 * ((int(n) + 1) // 2)
    x = L * np.arange(n) / n
    u = pot.U(x) / theta

    def logD(uu, h):
        return (math.log(theta) + 2 * math.log(L) - (logsumexp(uu) + math.log(h))
                - (logsumexp(-uu) + math.log(h)))

    lD = logD(u, L / n)           # n points; the estimate is the change from n/2 points
    err = abs(math.expm1(logD(u[::2], 2 * L / n) - lD))
    return PeriodicReference(D=math.exp(lD), V=0.0, log_D=lD, log_V=-math.inf, sign_V=0,
                             theta=theta, force=0.0, period=L, rel_error_estimate=err,
                             n_points=n, method="Lifson-Jackson, periodic trapezoidal rule")


def cosine_lifson_jackson(amplitude: float, theta: float) -> float:
    r"""Exact :math:`\log(D/\theta) = -2\log I_0(V_0/\theta)` for :math:`U = V_0\cos(2\pi x/L)`
    (any L), with :math:`\log I_0(z) = \log(\mathrm{i0e}(z)) + |z|`."""
    z = abs(float(amplitude)) / float(theta)
    return -2.0 * (math.log(float(i0e(z))) + z)


def critical_tilt(U: Union[str, PeriodicPotential], period: Optional[float] = None) -> float:
    r""":math:`F_c = \max U'` (the tilt at which the minima of :math:`U - Fx` disappear)."""
    pot = _as_potential(U, period)
    x = np.linspace(0.0, pot.period[0], 200001)
    return float(np.max(pot.grad(x)[0]))


def _log_I_direct(u_grid, u_shift, sign, F, theta, h, xi, w, chunk=256):
    r"""log I_{sign}(x_i), i = 0..n-1, as the plain double sum (O(n^2 nq); tests).

    ``u_grid[i] = U(x_i)``; ``u_shift[j, q] = U(x_j + sign*h*xi_q)`` (sign = -1 for
    :math:`I_-`: points :math:`x_i + y`; sign = +1 for :math:`I_+`: points :math:`x_i - y`).
    """
    n = len(u_grid)
    k = np.arange(n)
    logw = np.log(h * w)                                  # (nq,)
    yoff = F * h * (k[:, None] + xi[None, :])            # F y at panel k, node q: (n, nq)
    out = np.empty(n)
    for i0 in range(0, n, chunk):
        i = np.arange(i0, min(i0 + chunk, n))
        if sign < 0:   # I_-: (U(x_i + y) - U(x_i) - F y)/theta, x_i + y = x_{i+k} + h xi
            idx = (i[:, None] + k[None, :]) % n
            expo = (u_shift[idx] - u_grid[i][:, None, None] - yoff[None]) / theta
        else:          # I_+: (U(x_i) - U(x_i - y) - F y)/theta, x_i - y = x_{i-k} - h xi
            idx = (i[:, None] - k[None, :]) % n
            expo = (u_grid[i][:, None, None] - u_shift[idx] - yoff[None]) / theta
        out[i] = logsumexp((expo + logw[None, None, :]).reshape(len(i), -1), axis=1)
    return out - math.log(theta)


def _log_I(u_grid, u_shift, sign, F, theta, h, xi, w):
    r"""The same sums as :func:`_log_I_direct` in O(n nq), by the exact recurrence of the
    window sums.

    With :math:`r = e^{-Fh/\theta}`, :math:`E = r^n = e^{-FL/\theta}` and the panel sums
    :math:`a_j = \sum_q w_q h\,e^{(\pm U(x_j \mp h\xi_q) - F h \xi_q)/\theta}`, the y-sum of
    :math:`I_-` at :math:`x_i` is :math:`S_i = \sum_{k<n} r^k a_{i+k}` and satisfies
    :math:`S_i = (1 - E)\,a_i + r\,S_{i+1}` (all terms positive; :math:`S_n = S_0` summed
    directly); :math:`I_+` runs the other way, :math:`P_i = (1-E)\,a_i + r\,P_{i-1}`.  Unrolled,
    both are cumulative ``logaddexp`` sums, so no term under- or overflows.
    """
    n = len(u_grid)
    logr = -F * h / theta
    x = F * h * n / theta
    # log(1 - e^-x); for tiny x (a tilt of 1e-300) from the series, never log(0)
    log1mE = math.log(-math.expm1(-x)) if x > 1e-8 else math.log(x) + math.log1p(-x / 2)
    s = -1.0 if sign < 0 else 1.0
    # log a_j: U(x_j + h xi) for I_- (u_shift sign -1), -U(x_j - h xi) for I_+
    la = logsumexp((-s * u_shift - F * h * xi[None, :]) / theta + np.log(h * w)[None, :], axis=1)
    j = np.arange(n)
    if sign < 0:
        # S_i = sum_{j=i}^{n-1} r^{j-i} (1-E) a_j + r^{n-i} S_0
        lS0 = logsumexp(la + j * logr)
        t = log1mE + la + j * logr
        rev = np.logaddexp.accumulate(t[::-1])[::-1]        # log sum_{j>=i} r^j (1-E) a_j
        lS = np.logaddexp(rev - j * logr, (n - j) * logr + lS0)
        return lS - u_grid / theta - math.log(theta)
    # P_i = sum_{j=0}^{i} r^{i-j} (1-E) a_j + r^{i+1} P_{n-1}, P_{n-1} = sum_k r^k a_{n-1-k}
    lPlast = logsumexp(la[::-1] + j * logr)
    t = log1mE + la - j * logr
    fwd = np.logaddexp.accumulate(t)                         # log sum_{j<=i} r^-j (1-E) a_j
    lP = np.logaddexp(fwd + j * logr, (j + 1) * logr + lPlast)
    return lP + u_grid / theta - math.log(theta)


def _tilted_logs(pot, theta, F, n, nq, direct=False):
    """(log I_-, log I_+, h) on n points with nq Gauss nodes per panel; F > 0."""
    L = pot.period[0]
    h = L / n
    x = h * np.arange(n)
    xi, w = leggauss(nq)
    xi, w = 0.5 * (xi + 1.0), 0.5 * w
    u = pot.U(x)
    up = pot.U((x[:, None] + h * xi[None, :]).ravel()).reshape(n, nq)
    um = pot.U((x[:, None] - h * xi[None, :]).ravel()).reshape(n, nq)
    f = _log_I_direct if direct else _log_I
    lIm = f(u, up, -1, F, theta, h, xi, w)
    lIp = f(u, um, +1, F, theta, h, xi, w)
    return lIm, lIp, h


def _combine(lIm, lIp, h, theta, F, L):
    log1mE = math.log(-math.expm1(-F * L / theta))
    lSm = logsumexp(lIm) + math.log(h)
    lSp = logsumexp(lIp) + math.log(h)
    lV = math.log(L) + log1mE - lSm
    base = math.log(theta) + 2 * math.log(L)
    lDp = base + logsumexp(2 * lIp + lIm) + math.log(h) - 3 * lSp
    lDm = base + logsumexp(2 * lIm + lIp) + math.log(h) - 3 * lSm
    return lV, lDp, lDm


def tilted_coefficients(U: Union[str, PeriodicPotential], theta: float, force: float,
                        period: Optional[float] = None, *, n: Optional[int] = None,
                        nq: int = 12, direct: bool = False) -> PeriodicReference:
    r"""V and D in a tilted periodic potential (Reimann et al. 2001/2002), log space.

    Parameters
    ----------
    U : potentials.PeriodicPotential (1D) or str
        The periodic potential (an expression in ``x`` with ``period``).
    theta : float > 0
    force : float
        The tilt F (0 gives Lifson-Jackson).
    n : int, optional
        Number of x points / y panels (default: the exponent changes by <= ~4 per panel).
    nq : int
        Gauss-Legendre nodes per y panel.
    direct : bool
        Evaluate the y-sums as plain double sums (O(n^2 nq)) instead of by their exact
        recurrence (O(n nq)); the same quadrature, for checking.

    Returns
    -------
    PeriodicReference
    """
    pot = _as_potential(U, period)
    theta, F = _check(theta, force)
    if F == 0.0:
        return lifson_jackson(pot, theta, n=n)
    if abs(F) * pot.period[0] / theta < 1e-250:
        # a tilt below what the double integrals resolve (F L / theta underflows in their
        # weights): linear response, V = F D / theta, D at F = 0, exact to O(F L / theta)
        ref = lifson_jackson(pot, theta, n=n)
        lV = math.log(abs(F)) + ref.log_D - math.log(theta)
        return PeriodicReference(D=ref.D, V=math.copysign(math.exp(lV), F), log_D=ref.log_D,
                                 log_V=lV, sign_V=1 if F > 0 else -1, theta=theta, force=F,
                                 period=ref.period, rel_error_estimate=ref.rel_error_estimate,
                                 n_points=ref.n_points,
                                 method="linear response V = F D / theta at a tilt below "
                                        "resolution; " + ref.method)
    L = pot.period[0]
    sign = 1
    if F < 0:   # reflection x -> -x: U(x) -> U(-x), F -> -F, V -> -V, D unchanged
        import potentials

        sign, F = -1, -F
        src = pot
        pot = potentials.PeriodicPotential(
            lambda X: src.U(-X), lambda X: [-g for g in src.grad(-X)],
            lambda X: src.hess_diag(-X), L, 1, name=src.name + " (reflected)", check=False)
    n = _n_points(pot, theta, F, nq) if n is None else 2 * ((int(n) + 1) // 2)
    # the result on 2n points; estimate: n vs 2n points, nq vs nq - 4 nodes, the two signs
    lIm, lIp, h = _tilted_logs(pot, theta, F, 2 * n, nq, direct)
    lV, lDp, lDm = _combine(lIm, lIp, h, theta, F, L)
    lIm1, lIp1, h1 = _tilted_logs(pot, theta, F, n, nq, direct)
    lV1, lDp1, _ = _combine(lIm1, lIp1, h1, theta, F, L)
    lIm4, lIp4, _ = _tilted_logs(pot, theta, F, 2 * n, max(nq - 4, 2), direct)
    lV4, lDp4, _ = _combine(lIm4, lIp4, h, theta, F, L)
    err = max(abs(math.expm1(a - b)) for a, b in
              ((lV1, lV), (lDp1, lDp), (lV4, lV), (lDp4, lDp), (lDm, lDp)))
    n = 2 * n
    return PeriodicReference(D=math.exp(lDp), V=sign * math.exp(lV), log_D=lDp, log_V=lV,
                             sign_V=sign, theta=theta, force=sign * F, period=L,
                             rel_error_estimate=err, n_points=n,
                             method=f"Reimann et al. double integrals, trapezoidal x ({n}) "
                                    f"x Gauss-Legendre y ({n} panels of {nq})")


def eyring_kramers_gap(U: Union[str, PeriodicPotential], theta: float,
                       period: Optional[float] = None,
                       n_grid: int = 20001) -> Tuple[float, List[Tuple[float, float]]]:
    r"""Eyring-Kramers asymptotics of the cell's spectral gap for F = 0 and several wells per
    cell (1D): with the minima :math:`m_a` and maxima :math:`s` of U on the circle,

    .. math:: k_a = \sum_{s\ \text{adjacent to}\ a}
              \frac{\sqrt{U''(m_a)\,|U''(s)|}}{2\pi}\,e^{-(U(s) - U(m_a))/\theta},

    and for two wells :math:`\lambda_1 \approx k_1 + k_2` (the relative correction is
    :math:`O(\theta)`).  Returns (lambda_1 asymptotic, list of (k_a, U(m_a))).  Only two wells
    are supported (the general case is the lowest eigenvalue of the rate matrix).
    """
    from scipy.optimize import brentq

    pot = _as_potential(U, period)
    L = pot.period[0]
    x = np.linspace(0.0, L, n_grid) + 0.318309886 * L / n_grid   # no critical point on the grid
    g = pot.grad(x[None])[0]
    s = np.sign(g)
    idx = np.nonzero(s[:-1] * s[1:] < 0)[0]
    crit = [brentq(lambda t: float(pot.grad(np.array([[t]]))[0, 0]), x[i], x[i + 1], xtol=1e-15)
            for i in idx]
    crit = np.mod(np.array(crit), L)
    crit.sort()
    u = pot.U(crit[None])
    h = pot.hess_diag(crit[None])[0]
    n = len(crit)
    minima = [i for i in range(n) if h[i] > 0]
    if len(minima) != 2:
        raise ValueError(f"eyring_kramers_gap needs exactly two wells per cell, found "
                         f"{len(minima)}")
    rates = []
    for i in minima:
        k = 0.0
        for j in ((i - 1) % n, (i + 1) % n):          # the two neighbouring maxima
            k += math.sqrt(h[i] * abs(h[j])) / (2 * math.pi) * math.exp(-(u[j] - u[i]) / theta)
        rates.append((k, float(u[i])))
    return rates[0][0] + rates[1][0], rates


def stationary_density(U: Union[str, PeriodicPotential], theta: float, force: float = 0.0,
                       period: Optional[float] = None, *, n: Optional[int] = None,
                       nq: int = 12) -> Tuple[np.ndarray, np.ndarray]:
    r"""The stationary density on the cell at the points :math:`x_i = iL/n`:
    :math:`\rho = I_-/\int_0^L I_-` (Reimann et al.), :math:`e^{-U/\theta}/Z` for F = 0.
    Returns (x, rho)."""
    pot = _as_potential(U, period)
    theta, F = _check(theta, force)
    L = pot.period[0]
    if F == 0.0:
        n = 2 * _n_points(pot, theta, 0.0, 8) if n is None else int(n)
        x = L * np.arange(n) / n
        lu = -pot.U(x) / theta
        return x, np.exp(lu - logsumexp(lu) - math.log(L / n))
    src, sign = pot, 1
    if F < 0:
        import potentials

        sign, F = -1, -F
        pot = potentials.PeriodicPotential(
            lambda X: src.U(-X), lambda X: [-g for g in src.grad(-X)],
            lambda X: src.hess_diag(-X), L, 1, name=src.name, check=False)
    n = 2 * _n_points(pot, theta, F, nq) if n is None else 2 * ((int(n) + 1) // 2)
    lIm, _, h = _tilted_logs(pot, theta, F, n, nq)
    rho = np.exp(lIm - logsumexp(lIm) - math.log(h))
    x = h * np.arange(n)
    if sign < 0:                                  # rho(x) = rho_reflected(-x)
        x = np.mod(-x, L)
        o = np.argsort(x)
        x, rho = x[o], rho[o]
    return x, rho
