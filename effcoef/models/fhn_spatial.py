r"""Spatially extended FitzHugh-Nagumo with strong local coupling (paper 000, Blaustein-Filbet).

Paper 000 (eq. 1.3, kernel (1.1) ``Phi_eps = delta_0 / eps + Psi``) on a discrete set of sites
(its Remark 2.1): a periodic grid ``x_k = k L / K``, ``k = 0..K-1``, with weight ``h = L / K``
and spatial density ``rho0(x_k) > 0``; the law ``mu_{t,x_k}`` of (voltage, adaptation) at
site k is sampled by ``n`` particles. In the conventions of :mod:`effcoef.models.fhn`
(drift ``-N(v)``, ``N`` a cubic with positive leading coefficient)::

    dv = ( -N(v) - w + I - (rho0(x)/eps) (v - V(t,x)) - K_Psi(t,x,v) ) dt + sigma dB
    dw = ( b v - a w + c ) dt
    K_Psi(t,x,v) = (Psi *_r rho0)(x) v - Psi *_r (rho0 V)(t,x),
    Psi *_r g (x_k) = sum_j Psi(x_k, x_j) g(x_j) h,       V(t,x_k) = mean of v at site k.

Paper 000 writes ``dv = (N0(v) - w - K_Psi) dt + sqrt(2) dB``, ``dw = (a0 v - b0 w + c) dt``:
its ``N0`` is ``-N`` here, ``a0 = b``, ``b0 = a`` (so ``a``, ``b`` mean what they mean in paper
001 and :func:`effcoef.models.fhn.solve_limit_ode`), and ``sigma = sqrt(2)`` (``theta = sigma^2/2 = 1``,
the default).

Since ``K_Psi = (Psi *_r rho0)(v - V) + L_rho0[V]`` with the nonlocal operator
``L_rho0[V] = V (Psi *_r rho0) - Psi *_r (rho0 V)``, a particle at site k relaxes to the site
mean at the rate ``J_k = rho0_k / eps + (Psi *_r rho0)_k``: a frozen operator of
:mod:`effcoef.models.fhn` with coupling ``J_k``. Hence, with ``theta = sigma^2 / 2``,

* per-site voltage variance ``Var_k -> theta / (J_k + N'(V_k)) = theta eps / rho0_k + O(eps^2)``
  (``eps / rho0`` in paper 000, where ``theta = 1``: the Gaussian profile
  ``M_{rho0/eps, V}`` of its Theorem 2.7);
* ``W2(mu_{t,x}, delta_{V(t,x)} (x) mu_bar_{t,x}) ~ sqrt(theta eps / rho0(x))`` (Corollary 2.9),
  ``V`` the solution of the limit (1.6);
* the site means follow the nonlocal reaction-diffusion limit (1.6) (here, on the same sites)::

      dV/dt = -N(V) - W + I - L_rho0[V],      dW/dt = b V - a W + c,

  with error ``O(eps)`` (Corollary 2.8); the conjectured next term of the conclusion of paper
  000, ``+ (eps / (2 rho0)) N0''(V)`` (INDEX.md: with ``1/rho0``), is
  ``- theta eps N''(V) / (2 rho0)`` here (``<N> = N(V) + N''(V) Var / 2 + ...``).

Time stepping (Lie splitting, step ``dt``): (i) explicit Euler for ``-N(v) - w + I - L_rho0[V]``
and ``dw``; (ii) the linear part ``dv = -J_k (v - V_k) dt + sigma dB`` solved exactly (the site
mean is invariant, the deviations take an exact Ornstein-Uhlenbeck step of rate ``J_k``), so
``eps`` does not restrict ``dt``.

The solver core does not import this module.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
from numpy.typing import ArrayLike

from . import montecarlo
from .fhn import N_eval, cubic_coefficients

__all__ = ["periodic_gaussian_kernel", "Sites", "make_sites", "nonlocal_operator",
           "limit_rhs_spatial", "solve_limit_spatial", "variance_prediction", "SpatialResult",
           "simulate_spatial", "loglog_slope"]


# ---------------------------------------------------------------- sites and kernel

def periodic_gaussian_kernel(kappa: float, ell: float, L: float = 1.0, images: int = 4) -> Callable:
    r"""``Psi(x, x') = kappa sum_m g(x - x' + m L)``, ``g`` the N(0, ell^2) density, periodised.

    Its Fourier coefficients on the period are exact:
    ``int_0^L Psi(d) exp(-2 pi i k d / L) dd = kappa exp(-2 pi^2 k^2 ell^2 / L^2)``
    (``images`` = number of periods summed either side; 4 is exact to double precision for
    ``ell <= L / 2``).
    """
    if not (ell > 0 and L > 0 and np.isfinite(kappa)):
        raise ValueError("periodic_gaussian_kernel needs ell > 0, L > 0 and a finite kappa")
    if ell > L:
        raise ValueError("ell must not exceed the period L")
    c = kappa / (math.sqrt(2 * math.pi) * ell)

    def Psi(x, xp):
        d = np.asarray(x, float) - np.asarray(xp, float)
        return c * sum(np.exp(-0.5 * ((d + m * L) / ell) ** 2) for m in range(-images, images + 1))
    return Psi


@dataclass
class Sites:
    """Discrete spatial set: positions ``x``, weight ``h``, density ``rho0``, kernel matrix.

    ``P[k, j] = Psi(x_k, x_j) h``, so ``Psi *_r g = P @ g``; ``psi_rho = P @ rho0``.
    """
    x: np.ndarray
    h: float
    L: float
    rho0: np.ndarray
    P: np.ndarray
    psi_rho: np.ndarray

    @property
    def K(self) -> int:
        return self.x.size


def _site_values(f, x, name):
    if callable(f):
        out = np.asarray(f(x), float)
    else:
        out = np.asarray(f, float)
    out = np.broadcast_to(out, x.shape).astype(float)
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{name} must be finite at every site")
    return out


def make_sites(K: int, *, L: float = 1.0, rho0: ArrayLike = 1.0,
               Psi: Optional[Callable] = None) -> Sites:
    """Periodic grid of ``K`` sites on ``[0, L)`` with density ``rho0`` (scalar, array or
    callable of x, > 0) and kernel ``Psi(x, x')`` (vectorised callable; None = no long-range
    interaction)."""
    if not (isinstance(K, (int, np.integer)) and K >= 1):
        raise ValueError("K must be a positive integer")
    if not L > 0:
        raise ValueError("L must be > 0")
    x = np.arange(K) * (L / K)
    h = L / K
    r = _site_values(rho0, x, "rho0")
    if not np.all(r > 0):
        raise ValueError("rho0 must be > 0 at every site (paper 000, (2.4))")
    if Psi is None:
        P = np.zeros((K, K))
    else:
        P = np.asarray(Psi(x[:, None], x[None, :]), float) * h
        if P.shape != (K, K) or not np.all(np.isfinite(P)):
            raise ValueError("Psi(x, x') must broadcast to a finite (K, K) array")
    return Sites(x=x, h=h, L=float(L), rho0=r, P=P, psi_rho=P @ r)


def nonlocal_operator(V: ArrayLike, sites: Sites) -> np.ndarray:
    """``L_rho0[V] = V (Psi *_r rho0) - Psi *_r (rho0 V)`` (paper 000, after (1.4))."""
    V = np.asarray(V, float)
    return V * sites.psi_rho - sites.P @ (sites.rho0 * V)


# ---------------------------------------------------------------- limit (1.6)

def limit_rhs_spatial(t: float, y: ArrayLike, sites: Sites, a: float, b: float, c: float = 0.0,
                      I: float = 0.0, N: Optional[Sequence[float]] = None, lam: float = 4.0,
                      corr: Optional[np.ndarray] = None) -> np.ndarray:
    """Right-hand side of the limit (1.6) on the sites, ``y = (V_0..V_{K-1}, W_0..W_{K-1})``.

    ``corr`` (per site) multiplies ``N''(V)`` and is subtracted from dV/dt (the conjectured
    correction, ``corr = theta eps / (2 rho0)``); None = the limit (1.6) itself.
    """
    K = sites.K
    V, W = y[:K], y[K:]
    dV = -N_eval(V, N, lam) - W + I - nonlocal_operator(V, sites)
    if corr is not None:
        dV = dV - corr * N_eval(V, N, lam, 2)
    return np.concatenate([dV, b * V - a * W + c])


def solve_limit_spatial(V0: ArrayLike, W0: ArrayLike, t_eval: ArrayLike, sites: Sites, *, a: float,
                        b: float, c: float = 0.0, I: float = 0.0,
                        N: Optional[Sequence[float]] = None, lam: float = 4.0,
                        eps_correction: Optional[float] = None, sigma: float = math.sqrt(2.0),
                        rtol: float = 1e-10, atol: float = 1e-12) -> tuple:
    """Method of lines for the nonlocal reaction-diffusion limit (1.6) on ``sites``.

    Returns ``(V, W)``, arrays of shape ``(len(t_eval), K)``. With ``eps_correction = eps``
    the conjectured corrected system of paper 000's conclusion is solved instead:
    ``dV/dt = ... - theta eps N''(V) / (2 rho0)``, ``theta = sigma^2 / 2``.
    Adaptive DOP853 with tolerances ``rtol``, ``atol``.
    """
    from scipy.integrate import solve_ivp
    cubic_coefficients(N, lam)
    t_eval = np.asarray(t_eval, float)
    if t_eval.ndim != 1 or t_eval.size < 1 or np.any(np.diff(t_eval) < 0):
        raise ValueError("t_eval must be a non-empty increasing 1D array")
    V0 = _site_values(V0, sites.x, "V0")
    W0 = _site_values(W0, sites.x, "W0")
    corr = None
    if eps_correction is not None:
        if not eps_correction > 0:
            raise ValueError("eps_correction must be > 0")
        corr = (sigma ** 2 / 2.0) * eps_correction / (2.0 * sites.rho0)
    if t_eval.size == 1 or t_eval[-1] == t_eval[0]:
        return (np.tile(V0, (t_eval.size, 1)), np.tile(W0, (t_eval.size, 1)))
    sol = solve_ivp(limit_rhs_spatial, (t_eval[0], t_eval[-1]), np.concatenate([V0, W0]),
                    t_eval=t_eval, args=(sites, a, b, c, I, N, lam, corr), rtol=rtol,
                    atol=atol, method="DOP853")
    if not sol.success:
        raise RuntimeError("limit (1.6) integration failed: " + sol.message)
    K = sites.K
    return sol.y[:K].T, sol.y[K:].T


def variance_prediction(eps: float, sites: Sites, V: ArrayLike, *, sigma: float = math.sqrt(2.0),
                        N: Optional[Sequence[float]] = None, lam: float = 4.0) -> tuple:
    """``(theta / (J_k + N'(V_k)), theta eps / rho0_k)`` with ``J_k = rho0_k/eps + Psi *_r rho0``.

    The first is the variance of the Gaussian approximation of the frozen site operator
    (quasi-stationary, large ``J``); the second its leading order (paper 000's ``eps/rho0`` for
    ``theta = 1``).
    """
    theta = sigma ** 2 / 2.0
    J = sites.rho0 / eps + sites.psi_rho
    return theta / (J + N_eval(V, N, lam, 1)), theta * eps / sites.rho0


# ---------------------------------------------------------------- particle simulator

@dataclass
class SpatialResult:
    """Saved per-site statistics of :func:`simulate_spatial` (arrays of shape (nt, K))."""
    t: np.ndarray
    mean_v: np.ndarray
    var_v: np.ndarray       # empirical variance (ddof = 0) of the voltages at each site
    mean_w: np.ndarray
    var_w: np.ndarray
    v: np.ndarray           # final particles, shape (K, n)
    w: np.ndarray

    def w2_voltage(self, Vref: ArrayLike) -> np.ndarray:
        """``W2(mu^v_{t,x}, delta_{Vref})`` of the empirical voltage law: sqrt(E|v - Vref|^2)."""
        return np.sqrt(self.var_v + (self.mean_v - np.asarray(Vref, float)) ** 2)

    def w2(self, Vref: ArrayLike, Wref: ArrayLike) -> np.ndarray:
        """``W2(mu_{t,x}, delta_{Vref} (x) delta_{Wref})`` (mu_bar = delta_W: deterministic w0)."""
        return np.sqrt(self.var_v + (self.mean_v - np.asarray(Vref, float)) ** 2
                       + self.var_w + (self.mean_w - np.asarray(Wref, float)) ** 2)


def simulate_spatial(eps: float, n: int, T: float, dt: float, sites: Sites, *, a: float, b: float,
                     c: float = 0.0, I: float = 0.0, sigma: float = math.sqrt(2.0),
                     v0: ArrayLike = 0.0, w0: ArrayLike = 0.0, s0: ArrayLike = 0.0,
                     N: Optional[Sequence[float]] = None, lam: float = 4.0, seed: int = 0,
                     save_every: int = 1, center_noise: bool = True) -> SpatialResult:
    """Particle solver of paper 000's mesoscopic equation (1.3) on ``sites`` (see module doc).

    ``n`` particles per site. Initial data: site k starts with voltages
    ``v0_k + s0_k z``, ``z`` standardised per site (empirical mean 0, variance 1: the site mean
    is exactly ``v0_k`` and the initial spread exactly ``s0_k``; ``s0 = O(1)`` is the
    ill-prepared data of paper 000) and adaptation ``w0_k`` for all particles (so the limit
    ``mu_bar`` is ``delta_W``). ``v0``, ``w0``, ``s0``: scalars, arrays (K,) or callables of x.

    ``center_noise=True`` (default) centres the Brownian increments per site and rescales them
    by ``sqrt(n/(n-1))`` (moment matching: each particle's increment is still N(0, dt) in
    variance): the mesoscopic equation is the n -> infinity law, in which the site mean carries
    no noise, so this removes the ``sigma sqrt(t / n)`` Monte Carlo random walk of the site
    means without changing the per-particle law at leading order. ``False`` keeps independent
    increments (the finite network of 000's introduction, each site mean then diffuses with
    ``sigma^2 / n``).
    """
    if not eps > 0:
        raise ValueError("eps must be > 0")
    if not (isinstance(n, (int, np.integer)) and n >= 2):
        raise ValueError("n (particles per site) must be an integer >= 2")
    if not (T > 0 and dt > 0 and dt <= T):
        raise ValueError("need T > 0 and 0 < dt <= T")
    if not (isinstance(save_every, (int, np.integer)) and save_every >= 1):
        raise ValueError("save_every must be a positive integer")
    if not sigma >= 0:
        raise ValueError("sigma must be >= 0")
    cN = cubic_coefficients(N, lam)
    K = sites.K
    J = sites.rho0 / eps + sites.psi_rho
    if not np.all(J > 0):
        raise ValueError("rho0/eps + Psi *_r rho0 must be > 0 at every site (eps too large for "
                         "this inhibitory kernel)")
    rng = montecarlo.rng(seed)
    V0 = _site_values(v0, sites.x, "v0")
    W0 = _site_values(w0, sites.x, "w0")
    S0 = _site_values(s0, sites.x, "s0")
    if np.any(S0 < 0):
        raise ValueError("s0 must be >= 0")
    z = rng.standard_normal((K, n))
    z -= z.mean(axis=1, keepdims=True)
    z /= z.std(axis=1, keepdims=True)
    v = V0[:, None] + S0[:, None] * z
    w = np.repeat(W0[:, None], n, axis=1)

    nsteps = int(round(T / dt))
    e = np.exp(-J * dt)[:, None]
    s_ou = (sigma * np.sqrt((1.0 - e[:, 0] ** 2) / (2.0 * J)))[:, None]
    sq = math.sqrt(dt)
    cfac = math.sqrt(n / (n - 1.0))
    rho0, P, psi_rho = sites.rho0, sites.P, sites.psi_rho
    c0, c1, c2, c3 = cN

    def stats(k):
        return (k * dt, v.mean(axis=1), v.var(axis=1), w.mean(axis=1), w.var(axis=1))

    saved = [stats(0)]
    for k in range(1, nsteps + 1):
        V = v.mean(axis=1)
        Lv = V * psi_rho - P @ (rho0 * V)
        f = -(c0 + v * (c1 + v * (c2 + v * c3))) - w + (I - Lv)[:, None]
        w = w + dt * (b * v - a * w + c)
        v = v + dt * f
        V = v.mean(axis=1, keepdims=True)
        xi = rng.standard_normal((K, n))
        xb = xi.mean(axis=1, keepdims=True)
        if center_noise:
            v = V + e * (v - V) + s_ou * (cfac * (xi - xb))
        else:
            v = V + sigma * sq * xb + e * (v - V) + s_ou * (xi - xb)
        if k % save_every == 0:
            saved.append(stats(k))
    t, mv, vv, mw, vw = (np.array(q) for q in zip(*saved))
    return SpatialResult(t=t, mean_v=mv, var_v=vv, mean_w=mw, var_w=vw, v=v, w=w)


def loglog_slope(x: ArrayLike, y: ArrayLike) -> tuple:
    """Least-squares slope of ``log y`` vs ``log x`` and its standard error."""
    lx, ly = np.log(np.asarray(x, float)), np.log(np.asarray(y, float))
    if lx.size < 3:
        raise ValueError("need at least 3 points for a slope with a standard error")
    p, cov = np.polyfit(lx, ly, 1, cov="unscaled")
    res = ly - np.polyval(p, lx)
    s2 = float(res @ res) / (lx.size - 2)
    return float(p[0]), float(math.sqrt(cov[0, 0] * s2))
