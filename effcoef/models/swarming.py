r"""Swarming consumer: particle and kinetic validation of the coefficients D and K.

This module *uses* :func:`effcoef.coefficients`; nothing in the solver core
imports it.  It provides

1. :class:`VelocitySDE` - the velocity SDE of paper 004 (2.4)

   .. math:: dv = (-\nabla W(v) + F)\,dt + \sqrt{2\theta}\,dB, \qquad dr = v\,dt,

   in velocity dimension d = 1, 2, 3, vectorised over particles (arrays of
   shape ``(d, n)``), seeded through ``seed`` / :class:`numpy.random.Generator`,
   with exact equilibrium sampling (inverse CDF on a fine grid; radial density
   :math:`r^{d-1} e^{-w(r)/\theta}` and a uniform direction for
   :class:`potentials.RadialPotential`).
2. Monte Carlo estimators with standard errors and confidence intervals
   (:class:`~effcoef.models.montecarlo.MCEstimate`; the standard error is from batch means
   over groups of *independent* particles, i.e. independent replicas; see
   :mod:`effcoef.models.montecarlo`):

   * :func:`diffusion_mc` - D by Green-Kubo and by the mean-square displacement;
   * :func:`drift_linear_response` - K by the linear response of the mean
     velocity to a small constant force.
3. The macroscopic aggregation-diffusion equation (paper 004, 2.10/2.14) in 1D,
   :func:`solve_macroscopic`, and the interacting particle system (2.1) in the
   diffusive scaling (2.6), :func:`simulate_particles`, with
   :func:`l1_distance` / :func:`l1_vs_eps` comparing the two.

Time discretisation and its bias
--------------------------------
Velocities are advanced with Euler-Maruyama (``scheme="euler"``, default) or
tamed Euler (``scheme="tamed"``, drift :math:`b/(1 + dt|b|)`, unconditionally
bounded for the quartic confinement); positions with the trapezoidal rule
:math:`r_{n+1} = r_n + dt\,(v_n + v_{n+1})/2` (so that the discrete
Green-Kubo sum has no :math:`dt\,C(0)/2` end-point error).  There is no exact
OU-like step for a quartic drift.  The explicit scheme is used with a
stability check: each chunk of steps verifies that the state is finite and
that :math:`dt\,|b(v)| \le 0.5\,(1 + |v|)` for every particle, and raises
:class:`TimeStepError` otherwise (use a smaller ``dt`` or ``scheme="tamed"``).

Both schemes have weak order 1: the stationary law and the time correlations
carry an :math:`O(dt)` error.  For the OU process :math:`dv = -\lambda v\,dt
+ \sqrt{2\theta} dB` the Euler stationary variance is
:math:`\theta/(\lambda(1 - \lambda dt/2))`, a relative bias
:math:`\lambda dt/2`; :func:`timestep_bias_estimate` uses the same formula
with the mean curvature :math:`\lambda = \langle \Delta W\rangle_M / d =
\langle|\nabla W|^2\rangle_M/(\theta d)` as a heuristic size of the relative
bias of D and K.  The defaults (``dt = 2e-3``) give estimates of 1e-3 or less
for the paper potentials, well below the few-percent statistical errors; the
slow tests verify it by halving dt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
from numpy.typing import ArrayLike

import potentials

from ..solver import coefficients
from . import montecarlo
from .montecarlo import MCEstimate, batch_curves, batch_means

__all__ = [
    "TimeStepError", "VelocitySDE", "MCEstimate", "DiffusionMC", "spectral_gap",
    "timestep_bias_estimate", "diffusion_mc", "drift_linear_response",
    "compare_with_spectral", "Interaction", "gaussian_interaction",
    "MacroscopicSolution", "solve_macroscopic", "simulate_particles",
    "particle_density", "l1_distance", "l1_vs_eps",
]


class TimeStepError(RuntimeError):
    """The explicit scheme left its stability region (decrease ``dt`` or use ``scheme='tamed'``)."""


def _progress(total, progress, desc):
    from tqdm.auto import tqdm
    return tqdm(total=total, disable=not progress, desc=desc, leave=False)


# ----------------------------------------------------------------------
# velocity SDE


class VelocitySDE:
    r"""The velocity SDE (2.4) :math:`dv = (-\nabla W + F)dt + \sqrt{2\theta}dB`, :math:`dr = v dt`.

    Parameters
    ----------
    pot : potentials.Potential, potentials.RadialPotential or potentials.PotentialND
        The potential W (1D, radial in d = 2, 3, or general in d = 2, 3).
    theta : float or None
        Temperature (default ``pot.theta``; required if that is None).
    grad : callable or None, optional
        Override :math:`\nabla W`: ``grad(V)`` for ``V`` of shape ``(d, n)``
        returns shape ``(d, n)`` (e.g. a faster closed form).

    Notes
    -----
    States are arrays of shape ``(d, n)`` (component, particle).
    """

    def __init__(self, pot: potentials.AnyPotential, theta: Optional[float] = None, *,
                 grad: Optional[Callable] = None) -> None:
        self.pot, self.theta = pot, potentials.theta_of(pot, theta)
        if isinstance(pot, potentials.RadialPotential):
            self.dim, self.kind = pot.dim, "radial"
        elif isinstance(pot, potentials.PotentialND):
            self.dim, self.kind = pot.dim, "nd"
        elif isinstance(pot, potentials.Potential):
            self.dim, self.kind = 1, "1d"
        else:
            raise TypeError(f"unsupported potential type {type(pot).__name__}")
        self._grad_override = grad
        self._grid = None
        self._poly = None if grad is not None or self.kind == "nd" else self._detect_polynomial()

    def _detect_polynomial(self, max_degree=8):
        """Coefficients of W' (1D) or of w'(r)/r as a polynomial in r^2 (radial), if exact.

        A fast path only: the candidate (least squares on Chebyshev-like points
        of the mass interval) is accepted if it reproduces the potential's own
        derivative to 1e-11 (relative) at 64 other points, else None and
        ``pot.dW`` is used.  Polynomials are evaluated by Horner's rule.
        """
        try:
            mi = self.pot.mass_interval(self.theta)
        except Exception:
            return None
        R = max(abs(mi.a), abs(mi.b), 1.0)
        x = R * np.cos(np.pi * (np.arange(40) + 0.5) / 40)
        y = 0.37 * R * np.sin(np.arange(1, 65) * 1.234567)
        if self.kind == "1d":
            fx, fy, tx, ty = self.pot.dW(x), self.pot.dW(y), x, y
        else:
            x, y = np.abs(x) + 1e-3, np.abs(y) + 1e-3
            fx, fy, tx, ty = self.pot.dW(x) / x, self.pot.dW(y) / y, x * x, y * y
        scale = np.max(np.abs(fx)) + 1e-300
        for deg in range(1, max_degree + 1):
            c = np.polynomial.polynomial.polyfit(tx, fx, deg)
            c[np.abs(c) < 1e-14 * np.max(np.abs(c))] = 0.0
            err = np.max(np.abs(np.polynomial.polynomial.polyval(ty, c) - fy))
            if err <= 1e-11 * scale:
                return c[::-1].copy()  # highest degree first for Horner
        return None

    @staticmethod
    def _horner(c, x):
        out = np.full_like(x, c[0])
        for a in c[1:]:
            out *= x
            if a != 0.0:
                out += a
        return out

    # -- drift --------------------------------------------------------
    def grad(self, V: np.ndarray) -> np.ndarray:
        r""":math:`\nabla W(V)` for ``V`` of shape ``(d, n)``."""
        if self._grad_override is not None:
            return self._grad_override(V)
        if self.kind == "1d":
            return self._horner(self._poly, V) if self._poly is not None else self.pot.dW(V)
        if self.kind == "nd":
            return self.pot.grad(V)
        if self._poly is not None:
            return self._horner(self._poly, np.einsum("in,in->n", V, V)) * V
        r = np.sqrt(np.einsum("in,in->n", V, V))
        with np.errstate(invalid="ignore", divide="ignore"):
            fac = np.where(r > 1e-12, self.pot.dW(r) / r, self.pot.d2W(np.zeros_like(r)))
        return fac * V

    # -- equilibrium --------------------------------------------------
    def _radial_grid(self, n_grid=20001):
        """Fine grid of the (radial) variable and the log of the equilibrium weight."""
        if self._grid is None:
            if self.kind == "1d":
                mi = self.pot.mass_interval(self.theta)
                x = np.linspace(mi.a, mi.b, n_grid)
                logw = -(self.pot.W(x) - mi.Wmin) / self.theta
            elif self.kind == "radial":
                mi = self.pot.mass_interval(self.theta)
                x = np.linspace(0.0, mi.b, n_grid)
                with np.errstate(divide="ignore"):
                    logw = (self.dim - 1) * np.log(x) - (self.pot.W(x) - mi.Wmin) / self.theta
            else:
                raise NotImplementedError("equilibrium sampling is implemented for 1D and radial "
                                          "potentials; pass v0 for a general PotentialND")
            w = np.exp(logw - logw.max())
            cdf = np.concatenate([[0.0], np.cumsum(0.5 * (w[1:] + w[:-1]) * np.diff(x))])
            self._grid = (x, w, cdf / cdf[-1])
        return self._grid

    def sample_equilibrium(self, n: int, seed: montecarlo.SeedLike = None) -> np.ndarray:
        r"""``n`` exact samples of :math:`M \propto e^{-W/\theta}`, shape ``(d, n)``.

        Inverse CDF of the (radial) density on a 20001-point grid over the mass
        interval (``tail = 45``), linear in each cell; uniform direction in
        d >= 2.  The grid error is far below any Monte Carlo error used here.
        """
        rng = montecarlo.rng(seed)
        x, _, cdf = self._radial_grid()
        s = np.interp(rng.random(n), cdf, x)
        if self.kind == "1d":
            return s[None, :]
        u = rng.standard_normal((self.dim, n))
        u /= np.sqrt(np.einsum("in,in->n", u, u))
        return s * u

    def equilibrium_mean(self, fun: Callable) -> float:
        r""":math:`\int f M` for a function ``fun`` of the (radial) variable, by quadrature on the grid."""
        x, w, _ = self._radial_grid()
        trap = getattr(np, "trapezoid", None) or np.trapz
        return float(trap(fun(x) * w, x) / trap(w, x))

    # -- integration --------------------------------------------------
    def run(self, v: np.ndarray, r: np.ndarray, n_steps: int, dt: float,
            seed: montecarlo.SeedLike = None, *, force: Optional[ArrayLike] = None,
            scheme: str = "euler", callback: Optional[Callable] = None, every: int = 1,
            chunk: int = 256, progress: bool = False, desc: str = "SDE", copies: int = 1) -> tuple:
        r"""Advance ``(v, r)`` (arrays ``(d, n)``, modified in place) by ``n_steps`` steps of ``dt``.

        ``force`` is a constant F added to the drift: a vector (length d) or one per particle
        (``(d, n)``).  ``copies = c`` stacks c ensembles of n/c particles (columns
        ``[i n/c, (i+1) n/c)``) driven by the same Brownian increments (common random numbers,
        e.g. +F and -F in a linear-response estimate).
        ``callback(k, v, r)`` is called after steps ``every, 2*every, ...``
        (``k`` = number of steps done).  Returns ``(v, r)``.
        """
        rng = montecarlo.rng(seed)
        d, n = v.shape
        if scheme not in ("euler", "tamed"):
            raise ValueError(f"scheme must be 'euler' or 'tamed', got {scheme!r}")
        copies = int(copies)
        if copies < 1 or n % copies:
            raise ValueError(f"copies must be a positive divisor of n = {n}, got {copies}")
        F = None
        if force is not None:
            F = np.asarray(force, dtype=float)
            F = F.reshape(d, 1) if F.size == d else F.reshape(d, n)
        sig = math.sqrt(2.0 * self.theta * dt)
        done = 0
        with _progress(n_steps, progress, desc) as bar, np.errstate(over="ignore", invalid="ignore"):
            while done < n_steps:
                m = min(chunk, n_steps - done)
                xi = rng.standard_normal((m, d, n // copies))
                xi *= sig
                if copies > 1:
                    xi = np.tile(xi, (1, 1, copies))
                for j in range(m):
                    b = -self.grad(v)
                    if F is not None:
                        b += F
                    if scheme == "tamed":
                        nb = np.sqrt(np.einsum("in,in->n", b, b)) if d > 1 else np.abs(b[0])
                        b /= 1.0 + dt * nb
                    vn = v + dt * b + xi[j]
                    r += (0.5 * dt) * (v + vn)
                    v = vn
                    if callback is not None and (done + j + 1) % every == 0:
                        callback(done + j + 1, v, r)
                done += m
                bar.update(m)
                if scheme == "euler":
                    self._check(v, b, dt)
        return v, r

    @staticmethod
    def _check(v, b, dt):
        if not np.all(np.isfinite(v)):
            raise TimeStepError("non-finite velocities: dt too large for the confinement; "
                                "decrease dt or use scheme='tamed'")
        nv = np.sqrt(np.einsum("in,in->n", v, v))
        nb = np.sqrt(np.einsum("in,in->n", b, b))
        if not np.all(np.isfinite(nb)) or np.any(dt * nb > 0.5 * (1.0 + nv)):
            raise TimeStepError(f"dt = {dt:g} leaves the explicit stability region "
                                f"(dt |b| = {float(np.max(dt * nb)):.3g}); decrease dt or use "
                                "scheme='tamed'")


# ----------------------------------------------------------------------
# estimates


def _solver_result(pot, theta):
    return coefficients(pot, theta=theta)


def _iso(x):
    """Scalar of a coefficient that is a float (1D) or an isotropic matrix (d >= 2)."""
    a = np.asarray(x, dtype=float)
    return float(a) if a.ndim == 0 else float(np.trace(a) / a.shape[0])


def spectral_gap(pot: potentials.AnyPotential, theta: Optional[float] = None) -> float:
    r"""The first non-zero eigenvalue :math:`\lambda_1` from :func:`effcoef.coefficients`.

    For even W (and radial W) this is the gap of the sector carrying the
    velocity, so the velocity autocorrelation decays like :math:`e^{-\lambda_1 t}`.
    """
    sde = VelocitySDE(pot, theta)
    res = _solver_result(pot, sde.theta)
    return float(res.eigenvalues[1])


def timestep_bias_estimate(pot: potentials.AnyPotential, theta: Optional[float] = None,
                           dt: float = 2e-3) -> float:
    r"""Heuristic relative O(dt) bias of the Euler scheme, :math:`\lambda dt/2`.

    :math:`\lambda = \langle|\nabla W|^2\rangle_M/(\theta d)` (= the mean
    curvature :math:`\langle\Delta W\rangle_M/d` by integration by parts); exact
    to leading order for the OU process.  See the module docstring.
    """
    sde = VelocitySDE(pot, theta)
    dW = sde.pot.dW
    lam = sde.equilibrium_mean(lambda x: dW(x) ** 2) / (sde.theta * sde.dim)
    return 0.5 * lam * dt


@dataclass
class DiffusionMC:
    """Result of :func:`diffusion_mc`.

    ``green_kubo`` and ``msd`` are :class:`MCEstimate` of D (per component,
    averaged over the d components); ``lags`` the time lags,
    ``gk_curve[j]`` the running Green-Kubo integral
    :math:`\\langle v(0)\\cdot(r(t_j) - r(0))\\rangle/d` and ``msd_curve[j]`` the
    mean-square displacement :math:`\\langle|r(t_j)-r(0)|^2\\rangle` (means
    over all particles); ``t_corr`` the truncation time, ``lambda1`` the gap
    used to choose it, ``dt`` the time step, ``n_particles``,
    ``t_total`` the total simulated particle time and ``seconds`` the wall time.
    """

    green_kubo: MCEstimate
    msd: MCEstimate
    lags: np.ndarray
    gk_curve: np.ndarray
    msd_curve: np.ndarray
    t_corr: float
    lambda1: Optional[float]
    dt: float
    n_particles: int
    t_total: float
    seconds: float


def diffusion_mc(pot: potentials.AnyPotential, theta: Optional[float] = None, *,
                 n_particles: int = 2000, t_corr: Optional[float] = None, corr_factor: float = 8.0,
                 n_origins: int = 40, lag_step: Optional[float] = None, dt: float = 2e-3,
                 scheme: str = "euler", n_batches: int = 40, level: float = 0.95,
                 msd_fit: tuple = (0.6, 1.0), seed: montecarlo.SeedLike = None,
                 progress: bool = False, grad: Optional[Callable] = None) -> DiffusionMC:
    r"""D by Green-Kubo and by the mean-square displacement, in equilibrium.

    ``n_particles`` independent particles start from the exact equilibrium
    :math:`M` (``(v - V)`` is used, V from the solver, = 0 for even W) and run
    for :math:`t_{corr} + n_{origins}\,\Delta s`.  Time origins
    :math:`s_k = k \Delta s` (``lag_step`` :math:`= \Delta s`, default
    :math:`t_{corr}/50`) and lags :math:`t_j = j\Delta s \le t_{corr}` give,
    per particle, averages over the origins of

    * Green-Kubo: :math:`v(s)\cdot(r(s+t) - r(s))/d
      = \int_0^{t} v(s)\cdot v(s+u)\,du / d \to D` as t grows: the Green-Kubo
      integral :math:`D = \int_0^\infty \langle v(0) v(t)\rangle dt` truncated at
      ``t_corr``, per component and averaged over components (isotropy).  The
      truncation error is :math:`\approx D e^{-\lambda_1 t_{corr}}`;
      ``t_corr`` defaults to ``corr_factor / lambda_1`` (spectral gap of the
      solver), i.e. a relative truncation error :math:`e^{-8} = 3\cdot10^{-4}`.
    * MSD: :math:`|r(s+t) - r(s)|^2`; D is the slope of
      :math:`\langle|r(t)-r(0)|^2\rangle/(2d)` fitted by least squares over the
      late lags :math:`t \in [f_0, f_1]\,t_{corr}` (``msd_fit``), which removes
      the constant offset :math:`-2\int_0^\infty t C(t) dt` of the ballistic start.
      The local slope at lag t is :math:`2d\int_0^t C`, so the fit window must
      start where the VACF has decayed: with the defaults it starts at
      :math:`4.8/\lambda_1` (relative bias :math:`\lesssim e^{-4.8} < 1\%`).

    Standard errors: the particles are independent, so the per-particle
    estimates are grouped into ``n_batches`` batches (independent replicas).
    """
    import time
    t0 = time.perf_counter()
    sde = VelocitySDE(pot, theta, grad=grad)
    res = _solver_result(pot, sde.theta)
    V = np.zeros((sde.dim, 1))
    if sde.kind == "1d":
        V[0, 0] = float(res.V)
    lam1 = float(res.eigenvalues[1]) if len(res.eigenvalues) > 1 else None
    if t_corr is None:
        if lam1 is None or not lam1 > 0:
            raise ValueError("no spectral gap available: pass t_corr")
        t_corr = corr_factor / lam1
    if lag_step is None:
        lag_step = t_corr / 50.0
    every = max(1, int(round(lag_step / dt)))
    lag_step = every * dt
    n_lag = int(math.ceil(t_corr / lag_step))
    t_corr = n_lag * lag_step
    n_coarse = n_lag + n_origins  # coarse samples after the initial one
    rng = montecarlo.rng(seed)
    v = sde.sample_equilibrium(n_particles, rng)
    r = np.zeros_like(v)
    d, n = v.shape
    # ring buffers of the last n_lag + 1 origins
    Vb = np.zeros((n_lag + 1, d, n))
    Rb = np.zeros((n_lag + 1, d, n))
    GK = np.zeros((n_lag + 1, n))
    MS = np.zeros((n_lag + 1, n))
    cnt = np.zeros(n_lag + 1)

    def accumulate(m, vv, rr):
        # m = index of the current coarse time; origins k = m - j, j = 0..n_lag
        rrV = rr - V * (m * lag_step)
        j = np.arange(max(0, m - n_origins + 1), min(n_lag, m) + 1)
        if j.size:
            i = (m - j) % (n_lag + 1)
            dr = rrV[None] - Rb[i]
            GK[j] += np.einsum("kin,kin->kn", Vb[i], dr)
            MS[j] += np.einsum("kin,kin->kn", dr, dr)
            cnt[j] += 1
        i = m % (n_lag + 1)
        Vb[i] = vv - V
        Rb[i] = rrV

    accumulate(0, v, r)

    def cb(k, vv, rr):
        accumulate(k // every, vv, rr)

    sde.run(v, r, n_coarse * every, dt, rng, scheme=scheme, callback=cb, every=every,
            progress=progress, desc="Green-Kubo/MSD")
    GK /= cnt[:, None] * d
    MS /= cnt[:, None]
    lags = lag_step * np.arange(n_lag + 1)
    gk = MCEstimate.from_batches(batch_means(GK[-1], n_batches), level)
    sel = (lags >= msd_fit[0] * t_corr - 1e-12) & (lags <= msd_fit[1] * t_corr + 1e-12)
    tl = lags[sel]
    A = np.vstack([tl, np.ones_like(tl)]).T
    pinv = np.linalg.pinv(A)[0]  # slope row
    msd_b = np.array([pinv @ bm for bm in batch_curves(MS[sel], n_batches)]) / (2 * d)
    msd = MCEstimate.from_batches(msd_b, level)
    return DiffusionMC(gk, msd, lags, GK.mean(axis=1), MS.mean(axis=1), float(t_corr), lam1,
                       float(dt), int(n), float(n * (n_coarse * every) * dt),
                       time.perf_counter() - t0)


def drift_linear_response(pot: potentials.AnyPotential, theta: Optional[float] = None, *,
                          force: Optional[float] = None, n_particles: int = 2000,
                          t_burn: Optional[float] = None, t_avg: Optional[float] = None,
                          burn_factor: float = 5.0, avg_factor: float = 10.0, dt: float = 2e-3,
                          scheme: str = "euler", n_batches: int = 40, level: float = 0.95,
                          seed: montecarlo.SeedLike = None, progress: bool = False,
                          grad: Optional[Callable] = None) -> MCEstimate:
    r"""K by the linear response of the mean velocity to a small constant force.

    With a constant force :math:`F` the drift is :math:`-\nabla W + F =
    -\nabla(W - F\cdot v)` and the stationary law is the perturbed Maxwellian

    .. math:: M_F = M e^{F\cdot v/\theta}/Z', \qquad
              \langle v\rangle_F = \langle v\rangle + \mathrm{Cov}_M(v)\,F/\theta + O(F^2).

    On the other hand :math:`Q(\kappa_j) = \theta^{-1}\partial_j W\,M = -\partial_j M`
    is solved explicitly: with (2.7), :math:`Q(gM) = \theta\nabla\cdot(M\nabla g)`, so
    :math:`g = -(v_j - V_j)/\theta` gives :math:`Q(gM) = -\partial_j M`; hence
    :math:`\kappa_j = -(v_j - V_j) M/\theta` (zero mass, as required), and

    .. math:: K_{ij} = -\int v_i\kappa_j\,dv = \theta^{-1}\int v_i (v_j - V_j) M\,dv
              = \mathrm{Cov}_M(v)_{ij}/\theta,

    the exact 1D formula of the README (and the solver's ``K_cov`` in d >= 2).
    Therefore

    .. math:: \langle v\rangle_F - \langle v\rangle = K F + O(F^2).

    This is the sign and normalisation of (2.10): the force
    :math:`-\nabla U\star\rho` yields the flux :math:`-K(\nabla U\star\rho)\rho`.

    Estimator: two ensembles with common random numbers (same initial
    velocities from M, same Brownian increments) driven by :math:`+F e_1` and
    :math:`-F e_1`; after a burn-in ``t_burn`` (default ``burn_factor /
    lambda_1``; the response relaxes like :math:`e^{-\lambda_1 t}`) each
    particle's time average of :math:`(v_1^+ - v_1^-)/(2F)` over ``t_avg``
    (default ``avg_factor / lambda_1``).  The symmetric difference removes the
    :math:`O(F^2)` term (and, with even W, all even orders); the remaining
    relative bias is :math:`O(F^2)` (0.14-0.25% at the default force for Case A
    gamma = 1, 5 and the 2D swarming potential, computed by quadrature of
    :math:`M_{\pm F}`).  ``force`` defaults to
    :math:`0.1\,\theta/\sigma_v`, :math:`\sigma_v^2 = \langle|v-V|^2\rangle_M/d`
    (a 1% perturbation of the exponent at one standard deviation).  The
    common random numbers make the difference :math:`O(F)` path by path, so
    the estimator's variance does not blow up like :math:`1/F^2`.

    Returns an :class:`MCEstimate` with extra attributes ``force``, ``t_burn``,
    ``t_avg``, ``dt``, ``seconds``.
    """
    import time
    t0 = time.perf_counter()
    sde = VelocitySDE(pot, theta, grad=grad)
    res = _solver_result(pot, sde.theta)
    lam1 = float(res.eigenvalues[1])
    if t_burn is None:
        t_burn = burn_factor / lam1
    if t_avg is None:
        t_avg = avg_factor / lam1
    rng = montecarlo.rng(seed)
    v0 = sde.sample_equilibrium(n_particles, rng)
    d, n = v0.shape
    if force is None:
        Vm = float(res.V) if sde.kind == "1d" else 0.0
        sv = math.sqrt(sde.equilibrium_mean(lambda x: (x - Vm) ** 2) / d)
        force = 0.1 * sde.theta / sv
    force = float(force)
    F = np.zeros(d)
    F[0] = force
    # both ensembles stacked: columns [0, n) with +F, [n, 2n) with -F, common noise
    v = np.concatenate([v0, v0], axis=1)
    r = np.zeros_like(v)
    Fst = np.concatenate([np.repeat(F[:, None], n, 1), np.repeat(-F[:, None], n, 1)], axis=1)
    n_burn = int(round(t_burn / dt))
    n_avg = int(round(t_avg / dt))
    acc = np.zeros(n)

    def run(vv, steps, cb=None, every=1, desc=""):
        # common random numbers: one (d, n) draw drives both ensembles
        return sde.run(vv, r, steps, dt, rng, force=Fst, scheme=scheme, callback=cb,
                       every=every, progress=progress, desc=desc, copies=2)[0]

    v = run(v, n_burn, desc="linear response (burn-in)")

    def cb(k, vv, rr):
        acc[:] += vv[0, :n] - vv[0, n:]

    run(v, n_avg, cb, 1, desc="linear response")
    per_particle = acc / (n_avg * 2.0 * force)
    est = MCEstimate.from_batches(batch_means(per_particle, n_batches), level)
    est.force, est.t_burn, est.t_avg, est.dt = force, float(t_burn), float(t_avg), float(dt)
    est.seconds = time.perf_counter() - t0
    return est


def compare_with_spectral(pot: potentials.AnyPotential, theta: Optional[float] = None, *,
                          seed: montecarlo.SeedLike = 0, progress: bool = False,
                          gk_kwargs: Optional[dict] = None,
                          k_kwargs: Optional[dict] = None) -> dict:
    """Monte Carlo D (Green-Kubo, MSD) and K (linear response) next to the solver's values.

    Returns a dict with keys ``D_spectral``, ``K_spectral`` (scalars; the
    diagonal entry for d >= 2), ``D_gk``, ``D_msd``, ``K_lr`` (:class:`MCEstimate`)
    and ``z`` (z-scores of the three estimates).
    """
    sde = VelocitySDE(pot, theta)
    res = _solver_result(pot, sde.theta)
    rng = montecarlo.rng(seed)
    dm = diffusion_mc(pot, sde.theta, seed=rng, progress=progress, **(gk_kwargs or {}))
    kl = drift_linear_response(pot, sde.theta, seed=rng, progress=progress, **(k_kwargs or {}))
    D, K = _iso(res.D), _iso(res.K)
    return {"D_spectral": D, "K_spectral": K, "D_gk": dm.green_kubo, "D_msd": dm.msd,
            "K_lr": kl, "diffusion": dm,
            "z": {"D_gk": dm.green_kubo.zscore(D), "D_msd": dm.msd.zscore(D),
                  "K_lr": kl.zscore(K)}}


# ----------------------------------------------------------------------
# macroscopic equation and particle system (1D)


@dataclass
class Interaction:
    r"""A smooth even interaction potential U (1D), with ``U(x)`` and ``dU(x)``."""

    U: Callable
    dU: Callable
    name: str


def gaussian_interaction(strength: float = 1.0, length: float = 1.0) -> Interaction:
    r"""Attractive Gaussian kernel :math:`U(x) = -c\,e^{-x^2/(2\ell^2)}`.

    :math:`U'(x) = (c x/\ell^2) e^{-x^2/(2\ell^2)}` is smooth, bounded, odd and
    vanishes at 0 (so the :math:`j = i` term of (2.1) drops out); U increases
    with :math:`|x|`, hence attracts: the macroscopic drift :math:`-K U'\star\rho`
    points towards the mass.  Chosen over a Morse kernel for its smoothness
    at the origin (no cusp) and its fast decay (negligible truncation on a
    bounded interval).
    """
    c, l2 = float(strength), float(length) ** 2

    def U(x):
        return -c * np.exp(-0.5 * np.asarray(x) ** 2 / l2)

    def dU(x):
        x = np.asarray(x)
        return (c / l2) * x * np.exp(-0.5 * x ** 2 / l2)

    return Interaction(U, dU, f"Gaussian attraction, c = {c:g}, l = {math.sqrt(l2):g}")


@dataclass
class MacroscopicSolution:
    """Cell averages ``rho`` on cells with ``edges`` at time ``t``; ``D``, ``K`` used."""

    edges: np.ndarray
    rho: np.ndarray
    t: float
    D: float
    K: float
    n_steps: int

    @property
    def centers(self) -> np.ndarray:
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    def bin_masses(self, edges: ArrayLike) -> np.ndarray:
        """Mass in each interval of ``edges`` (exact for the piecewise constant solution)."""
        cm = np.concatenate([[0.0], np.cumsum(self.rho * np.diff(self.edges))])
        return np.diff(np.interp(edges, self.edges, cm))


def _minmod(a, b):
    return np.where(a * b > 0, np.sign(a) * np.minimum(np.abs(a), np.abs(b)), 0.0)


def solve_macroscopic(pot: potentials.AnyPotential, theta: Optional[float] = None, *,
                      interaction: Interaction, rho0: Callable, t_final: float, L: float = 6.0,
                      n_cells: int = 400, D: Optional[float] = None, K: Optional[float] = None,
                      cfl: float = 0.4, progress: bool = False) -> MacroscopicSolution:
    r"""Solve (2.14) :math:`\rho_t = D\rho_{xx} + K((U'\star\rho)\rho)_x` on :math:`[-L, L]`.

    D and K come from :func:`effcoef.coefficients` (``pot``, ``theta``) unless
    given.  Finite volumes with zero-flux walls at :math:`\pm L` (choose L so that
    the mass never reaches them), ``n_cells`` cells.  Interface flux
    :math:`-D(\rho_{k}-\rho_{k-1})/h + a^+\rho^-_{k} + a^-\rho^+_{k}`, with
    :math:`a = -K (U'\star\rho)` at the interface (midpoint quadrature of the
    convolution) and the upwind value taken from a minmod-limited linear
    reconstruction (second order where smooth).  Time stepping: Heun
    (SSP-RK2), a convex combination of forward Euler steps, each positivity
    preserving under :math:`dt\,(2D/h^2 + 2\max|a|/h) \le 1` - ``cfl`` times that
    bound is used.  Mass is conserved to round-off (telescoping fluxes).

    ``rho0`` is a callable of x (normalised numerically to mass 1).
    """
    if D is None or K is None:
        sde = VelocitySDE(pot, theta)
        res = _solver_result(pot, sde.theta)
        D = _iso(res.D) if D is None else D
        K = _iso(res.K) if K is None else K
    D, K = float(D), float(K)
    edges = np.linspace(-L, L, n_cells + 1)
    h = edges[1] - edges[0]
    xc = 0.5 * (edges[1:] + edges[:-1])
    rho = np.maximum(np.asarray(rho0(xc), dtype=float), 0.0)
    rho /= rho.sum() * h
    xi = edges[1:-1]  # interior interfaces
    Kmat = h * interaction.dU(xi[:, None] - xc[None, :])  # (U' * rho) at interfaces

    def rhs(rho):
        a = -K * (Kmat @ rho)
        s = _minmod(np.diff(rho, prepend=rho[0]), np.diff(rho, append=rho[-1]))
        right = rho + 0.5 * s   # value at the right face of each cell
        left = rho - 0.5 * s    # value at the left face
        flux = (-D * np.diff(rho) / h + np.maximum(a, 0) * right[:-1]
                + np.minimum(a, 0) * left[1:])
        full = np.concatenate([[0.0], flux, [0.0]])
        return -np.diff(full) / h, np.max(np.abs(a), initial=0.0)

    t, n_steps = 0.0, 0
    with _progress(None, progress, "macroscopic") as bar:
        while t < t_final - 1e-14:
            k1, amax = rhs(rho)
            dt = cfl / (2 * D / h ** 2 + 2 * amax / h + 1e-300)
            dt = min(dt, t_final - t)
            r1 = rho + dt * k1
            k2, _ = rhs(r1)
            rho = 0.5 * (rho + r1 + dt * k2)
            t += dt
            n_steps += 1
            bar.update(1)
    return MacroscopicSolution(edges, rho, float(t_final), D, K, n_steps)


def simulate_particles(pot: potentials.AnyPotential, theta: Optional[float] = None, *,
                       interaction: Interaction, eps: float, n_particles: int, t_final: float,
                       r0: Callable, h: float = 0.02, L: float = 6.0, n_grid: int = 1200,
                       scheme: str = "euler", seed: montecarlo.SeedLike = None,
                       progress: bool = False, grad: Optional[Callable] = None) -> np.ndarray:
    r"""The particle system (2.1) in the diffusive scaling (2.6), 1D.

    .. math::
        dr_i = \frac{v_i}{\sqrt\varepsilon} dt, \qquad
        dv_i = -\frac{1}{\varepsilon} W'(v_i) dt
               - \frac{1}{\sqrt\varepsilon}\frac1N\sum_j U'(r_i - r_j) dt
               + \sqrt{\frac{2\theta}{\varepsilon}} dB_i,

    whose mean-field kinetic equation is (2.6),
    :math:`f_t + \varepsilon^{-1/2}(v f_x - ((U'\star\rho) f)_v) = \varepsilon^{-1} Q(f)`
    (Fokker-Planck of the SDE: the drift :math:`v/\sqrt\varepsilon` gives
    :math:`-\varepsilon^{-1/2} v f_x`, the drift :math:`-\varepsilon^{-1}W'`
    and the noise give :math:`\varepsilon^{-1}(W' f + \theta f_v)_v`, the
    interaction gives :math:`+\varepsilon^{-1/2}((U'\star\rho) f)_v`).

    Time step :math:`dt = h\,\varepsilon` (``h`` is the step in units of the
    velocity relaxation time; Euler-Maruyama for v, trapezoid for r).
    Well-prepared data: :math:`r_i \sim` ``r0`` (callable ``r0(n, rng)``),
    :math:`v_i \sim M` exactly.  The mean field
    :math:`\frac1N\sum_j U'(r_i - r_j)` is computed particle-in-cell: cloud-in-cell
    deposit on ``n_grid`` cells of :math:`[-L, L]` (particles outside are
    deposited in the end cells), FFT convolution with :math:`U'`, linear
    interpolation back; for the smooth kernel the error is
    :math:`O((2L/n_{grid})^2)`, far below the :math:`O(N^{-1/2})` sampling
    noise of the O(N^2) direct sum it replaces.

    Returns the positions at ``t_final`` (array of length N).
    """
    sde = VelocitySDE(pot, theta, grad=grad)
    if sde.dim != 1:
        raise ValueError("the particle system is implemented in 1D")
    rng = montecarlo.rng(seed)
    n = int(n_particles)
    r = np.asarray(r0(n, rng), dtype=float).reshape(1, n)
    v = sde.sample_equilibrium(n, rng)
    dt = h * eps
    n_steps = int(math.ceil(t_final / dt - 1e-9))
    dt = t_final / n_steps
    hg = 2 * L / n_grid
    xg = -L + hg * np.arange(n_grid + 1)  # grid nodes
    ng = n_grid + 1
    nfft = 1 << int(math.ceil(math.log2(2 * ng)))
    offs = hg * np.arange(-(ng - 1), ng)
    kern = np.zeros(nfft)
    kv = interaction.dU(offs)
    kern[: ng] = kv[ng - 1:]           # offsets 0..ng-1
    kern[nfft - (ng - 1):] = kv[: ng - 1]  # offsets -(ng-1)..-1
    kf = np.fft.rfft(kern)

    def field(x):
        s = np.clip((x + L) / hg, 0.0, n_grid - 1e-9)
        i = s.astype(np.int64)
        w = s - i
        m = np.bincount(i, 1.0 - w, ng) + np.bincount(i + 1, w, ng)
        m /= n
        E = np.fft.irfft(np.fft.rfft(m, nfft) * kf, nfft)[:ng]  # sum_j m_j U'(x_i - x_j)
        return np.interp(x, xg, E)

    se = math.sqrt(eps)
    sig = math.sqrt(2.0 * sde.theta * dt / eps)
    done = 0
    chunk = 64
    with _progress(n_steps, progress, f"particles eps={eps:g}") as bar:
        while done < n_steps:
            m = min(chunk, n_steps - done)
            xi = rng.standard_normal((m, 1, n))
            xi *= sig
            for j in range(m):
                b = -sde.grad(v) / eps - field(r[0])[None, :] / se
                if scheme == "tamed":
                    b /= 1.0 + dt * np.abs(b)
                vn = v + dt * b + xi[j]
                r += (0.5 * dt / se) * (v + vn)
                v = vn
            done += m
            bar.update(m)
            if scheme == "euler":
                VelocitySDE._check(v, b * eps, dt / eps)
    return r[0]


def particle_density(r: ArrayLike, edges: ArrayLike) -> np.ndarray:
    """Histogram density of the positions ``r`` on ``edges`` (mass outside is dropped)."""
    cnt, _ = np.histogram(r, bins=edges)
    return cnt / (len(r) * np.diff(edges))


def l1_distance(r: ArrayLike, macro: MacroscopicSolution, edges: ArrayLike) -> float:
    r"""L1 distance :math:`\int|\rho_N - \rho|` between the histogram density of ``r`` on
    ``edges`` and the macroscopic solution averaged over the same bins (plus
    the mass of either outside ``edges``)."""
    p = np.histogram(r, bins=edges)[0] / len(r)
    q = macro.bin_masses(edges)
    return float(np.abs(p - q).sum() + max(0.0, 1 - p.sum()) + max(0.0, 1 - q.sum()))


def l1_vs_eps(pot: potentials.AnyPotential, theta: Optional[float] = None, *,
              interaction: Interaction, eps_values: Sequence[float], n_particles: int,
              t_final: float, r0: Callable, rho0: Callable, edges: ArrayLike, h: float = 0.02,
              L: float = 6.0, n_cells: int = 400, seed: montecarlo.SeedLike = 0,
              progress: bool = False) -> dict:
    """L1 distance between the particle density and the macroscopic solution at ``t_final``.

    One macroscopic solve; one particle run per ``eps`` (same ``seed``, so the
    initial positions and velocities are common to all eps).  Returns a dict
    with ``eps``, ``l1`` (arrays), ``macro`` (:class:`MacroscopicSolution`),
    ``positions`` (list) and ``noise_floor`` - the expected L1 distance of a
    histogram of N exact samples, :math:`\\approx\\sum_b\\sqrt{2 q_b/(\\pi N)}`.
    """
    macro = solve_macroscopic(pot, theta, interaction=interaction, rho0=rho0,
                              t_final=t_final, L=L, n_cells=n_cells)
    out, pos = [], []
    for e in eps_values:
        r = simulate_particles(pot, theta, interaction=interaction, eps=e,
                               n_particles=n_particles, t_final=t_final, r0=r0, h=h, L=L,
                               seed=seed, progress=progress)
        pos.append(r)
        out.append(l1_distance(r, macro, edges))
    q = macro.bin_masses(edges)
    floor = float(np.sum(np.sqrt(2 * q * (1 - q) / (math.pi * n_particles))))
    return {"eps": np.asarray(eps_values, float), "l1": np.asarray(out), "macro": macro,
            "positions": pos, "edges": np.asarray(edges), "noise_floor": floor}
