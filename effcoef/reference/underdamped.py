r"""Independent references for underdamped Langevin dynamics in a 1D periodic potential.

For :math:`dx = p\,dt`, :math:`dp = -U'(x)\,dt - \gamma p\,dt + \sqrt{2\gamma\theta}\,dB` with
:math:`U` of period L, the effective diffusion :math:`D(\gamma) = \lim \mathrm{Var}\,x(t)/(2t)`
has three closed forms, each a one-dimensional quadrature (nothing here imports the
Hermite-Fourier discretisation, :mod:`effcoef.kinetic` / :mod:`effcoef.underdamped`):

* **U = 0** (velocity Ornstein-Uhlenbeck): :math:`D = \theta/\gamma` exactly
  (:func:`free_diffusion`).
* **Overdamped limit** :math:`\gamma\to\infty` (Lifson & Jackson, J. Chem. Phys. 36 (1962)
  2410; the Smoluchowski dynamics :math:`\gamma\,dx = -U'dt + \sqrt{2\gamma\theta}\,dB`):

  .. math:: \gamma D \to \frac{\theta L^2}{Z_+ Z_-}, \qquad Z_\pm = \int_0^L e^{\pm U/\theta}\,dx

  (:func:`lifson_jackson`).
* **Energy-diffusion limit** :math:`\gamma\to0` (Hairer & Pavliotis, J. Stat. Phys. 131 (2008)
  175-202, Theorem on the small-friction limit; there :math:`\beta = 1/\theta`, L = 2π, so the
  prefactor :math:`2L^2\theta` reads :math:`8\pi^2\beta^{-1}`):

  .. math:: \gamma D \to D_0 = \frac{2L^2\theta}{Z}\int_{E_0}^\infty \frac{e^{-E/\theta}}{S(E)}\,dE,
     \qquad S(E) = \int_0^L \sqrt{2(E - U(x))}\,dx, \qquad
     Z = \sqrt{2\pi\theta}\int_0^L e^{-U/\theta}\,dx,

  with :math:`E_0 = \max U` (the separatrix) and :math:`S(E)` the action of the open orbit
  at energy E (:func:`energy_diffusion_limit`).

Derivation of :math:`D_0` (written out because the normalisations matter): for small
:math:`\gamma` the energy :math:`H = p^2/2 + U` is slow,
:math:`dH = \gamma(\theta - p^2)dt + \sqrt{2\gamma\theta}\,p\,dB`.  Averaging over the orbit of
energy :math:`E > E_0` (period :math:`T = S'(E) = \int dx/|p|`, :math:`\langle p^2\rangle = S/T`)
gives the generator :math:`\gamma\,\theta\,e^{E/\theta}T(E)^{-1}\partial_E(S e^{-E/\theta}\partial_E)`
on each direction :math:`\sigma = \mathrm{sign}\,p` of the open orbits, which carry the mean
velocity :math:`\sigma L/T(E)`; trapped orbits carry none and mix the two directions, so odd
functions vanish at :math:`E_0`.  The corrector :math:`\chi = \sigma\phi(E)/\gamma` of
:math:`-\mathcal L\chi = p` solves :math:`-\theta e^{E/\theta}(S e^{-E/\theta}\phi')' = L`,
:math:`\phi(E_0) = 0`, hence :math:`\phi' = L/S` (the flux vanishes as :math:`E\to\infty`), and
:math:`\gamma D = \gamma\langle p,\chi\rangle_\mu = \frac{2L}{Z}\int_{E_0}^\infty \phi\,e^{-E/\theta}dE`
(:math:`dx\,dp = dx\,dE/|p|`, two directions), which after an integration by parts is
:math:`D_0`.  Check: U = 0 gives :math:`S = L\sqrt{2E}` and :math:`D_0 = \theta` exactly.

Numerics (double precision, log space): all exponentials are taken relative to
:math:`\min U` or :math:`E_0`, so deep potentials do not overflow.  The periodic integrals
:math:`Z_\pm` use the trapezoidal rule on a uniform grid (spectrally accurate for smooth periodic
integrands), doubled until two grids agree to 1e-14.  :math:`S(E)` uses composite
Gauss-Legendre panels graded geometrically towards the maxima of U (where the integrand has a
kink at :math:`E = E_0`), and the energy integral :math:`\int_0^\infty e^{-t}/S(E_0 + \theta t)dt`
is taken in :math:`t = u^2` by adaptive quadrature (scipy ``quad``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy.integrate import quad
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp

from potentials import PeriodicPotential

from ..landscape import PeriodicLandscape, periodic_landscape
from ..operator import check_theta

__all__ = ["free_diffusion", "lifson_jackson", "energy_diffusion_limit", "ReferenceValue"]


@dataclass(frozen=True)
class ReferenceValue:
    """A reference value of :math:`\\gamma D` with its estimated quadrature error (relative)."""

    value: float
    rel_error: float
    what: str


def free_diffusion(theta: float, gamma: float) -> float:
    r""":math:`D = \theta/\gamma` for U = 0 (velocity Ornstein-Uhlenbeck, exact)."""
    theta = check_theta(theta)
    if not (gamma > 0 and math.isfinite(gamma)):
        raise ValueError(f"gamma must be finite and > 0, got {gamma!r}")
    return theta / float(gamma)


def _land1d(U, period):
    land = periodic_landscape(U, period)
    if land.dim != 1:
        raise ValueError("the underdamped references are one-dimensional (U in x)")
    return land


def _log_periodic_integral(f_log, L, n0=256, tol=1e-14, n_max=1 << 20):
    """log of int_0^L exp(f_log(x)) dx by the trapezoidal rule (periodic), grid doubled."""
    n, prev = n0, None
    while True:
        x = np.arange(n) * (L / n)
        val = float(logsumexp(f_log(x))) + math.log(L / n)
        if prev is not None and abs(val - prev) <= tol:
            return val, abs(val - prev)
        if n >= n_max:
            raise ValueError("the periodic integral did not converge (U too rough or theta "
                             "too small)")
        prev, n = val, 2 * n


def lifson_jackson(U: Union[str, PeriodicLandscape, PeriodicPotential], theta: float,
                   period: Optional[float] = None) -> ReferenceValue:
    r"""Overdamped limit :math:`\lim_{\gamma\to\infty}\gamma D = \theta L^2/(Z_+Z_-)`.

    Parameters: U an expression in x (or a 1D :class:`~effcoef.landscape.PeriodicLandscape`),
    theta, period L (default :math:`2\pi`).  Returns :class:`ReferenceValue`.
    """
    theta = check_theta(theta)
    land = _land1d(U, period)
    L = land.period[0]
    x = np.linspace(0.0, L, 4097)
    u = land.U(x)
    umin, umax = float(u.min()), float(u.max())
    lp, ep = _log_periodic_integral(lambda s: (land.U(s) - umax) / theta, L)
    lm, em = _log_periodic_integral(lambda s: -(land.U(s) - umin) / theta, L)
    logv = math.log(theta) + 2.0 * math.log(L) - lp - lm - (umax - umin) / theta
    return ReferenceValue(math.exp(logv), ep + em + 1e-15,
                          "overdamped (Lifson-Jackson) limit of gamma*D")


def _maxima(land, L):
    """Points in [0, L) where U attains its global maximum (within round-off)."""
    n = 4096
    x = np.arange(n) * (L / n)
    u = land.U(x)
    umax = float(u.max())
    scale = 1.0 + float(np.abs(u).max())
    if umax - float(u.min()) <= 1e-14 * scale:          # constant U: no separatrix
        return np.array([0.0]), umax
    cand = np.nonzero(u >= umax - 1e-3 * (umax - float(u.min())))[0]
    pts = []
    for i in cand:
        if u[i] < u[(i - 1) % n] or u[i] < u[(i + 1) % n]:
            continue
        r = minimize_scalar(lambda s: -float(land.U(np.array([s]))[0]), method="bounded",
                            bounds=(x[i] - L / n, x[i] + L / n),
                            options={"xatol": 1e-13 * L})
        pts.append((float(r.x) % L, max(-float(r.fun), float(u[i]))))
    top = max(v for _, v in pts)
    xs = sorted({round(p, 12) for p, v in pts if v >= top - 1e-12 * scale})
    return np.array(xs), top


def _graded_nodes(a, b, n_graded=24, ratio=0.5, n_gl=20):
    """Gauss-Legendre nodes/weights on [a, b], panels graded geometrically towards both ends."""
    h = b - a
    # breakpoints: a + h * ratio^k / 2 towards a, symmetric towards b
    ks = [0.5 * ratio ** k for k in range(n_graded)]
    left = sorted({a + h * k for k in ks} | {a})
    right = sorted({b - h * k for k in ks} | {b})
    br = np.array(sorted(set(left) | set(right)))
    t, w = leggauss(n_gl)
    xs, ws = [], []
    for lo, hi in zip(br[:-1], br[1:]):
        if hi <= lo:
            continue
        xs.append(0.5 * (hi - lo) * t + 0.5 * (hi + lo))
        ws.append(0.5 * (hi - lo) * w)
    return np.concatenate(xs), np.concatenate(ws)


def energy_diffusion_limit(U: Union[str, PeriodicLandscape, PeriodicPotential], theta: float,
                           period: Optional[float] = None, *, epsabs: float = 0.0,
                           epsrel: float = 1e-12) -> ReferenceValue:
    r"""Small-friction limit :math:`\lim_{\gamma\to0}\gamma D = D_0` (Hairer & Pavliotis 2008).

    .. math:: D_0 = \frac{2L^2\theta}{Z}\int_{E_0}^\infty \frac{e^{-E/\theta}}{S(E)}\,dE

    (see the module docstring for the derivation and conventions).  Returns
    :class:`ReferenceValue` (the error is quad's estimate of the energy integral plus the
    action quadrature's, relative).
    """
    theta = check_theta(theta)
    land = _land1d(U, period)
    L = land.period[0]
    xmax, E0 = _maxima(land, L)
    # S(E) on panels between consecutive maxima (period shifted to start at the first one)
    starts = np.sort(xmax)
    bounds = np.r_[starts, starts[0] + L]
    X, Wt = [], []
    for a, b in zip(bounds[:-1], bounds[1:]):
        x, w = _graded_nodes(a, b)
        X.append(x)
        Wt.append(w)
    X, Wt = np.concatenate(X), np.concatenate(Wt)
    UX = land.U(np.mod(X, L))
    # check the action quadrature against a half-size rule at E0 (the hardest case)
    Xh, Wh = [], []
    for a, b in zip(bounds[:-1], bounds[1:]):
        x, w = _graded_nodes(a, b, n_gl=12)
        Xh.append(x)
        Wh.append(w)
    Xh, Wh = np.concatenate(Xh), np.concatenate(Wh)
    UXh = land.U(np.mod(Xh, L))

    def S(E, X=X, W=Wt, UX=UX):
        return float(W @ np.sqrt(np.maximum(2.0 * (E - UX), 0.0)))

    Ec = E0 + 1e-3 * theta                    # near the kink, but S > 0 also for constant U
    s_err = abs(S(Ec) - S(Ec, Xh, Wh, UXh)) / S(Ec)

    def integrand(u):
        return 2.0 * u * math.exp(-u * u) / S(E0 + theta * u * u)

    J, jerr = quad(integrand, 0.0, np.inf, epsabs=epsabs, epsrel=epsrel, limit=400)
    umin = float(np.min(land.U(np.arange(8192) * (L / 8192))))
    lz, ez = _log_periodic_integral(lambda s: -(land.U(s) - umin) / theta, L)
    logZ = 0.5 * math.log(2.0 * math.pi * theta) + lz          # Z e^{Umin/theta}
    logv = (math.log(2.0) + 2.0 * math.log(L) + 2.0 * math.log(theta) + math.log(J)
            - (E0 - umin) / theta - logZ)
    return ReferenceValue(math.exp(logv), jerr / J + s_err + ez + 1e-15,
                          "energy-diffusion (Hairer-Pavliotis) limit of gamma*D")
