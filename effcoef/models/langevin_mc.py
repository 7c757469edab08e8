r"""Monte Carlo of underdamped Langevin dynamics in a periodic potential (the cross-check of
:func:`effcoef.underdamped.underdamped_coefficients`).

.. math:: dx = p\,dt, \qquad dp = (-\nabla U(x) + F)\,dt - \gamma p\,dt + \sqrt{2\gamma\theta}\,dB,

x unwrapped in :math:`\mathbb R^d` (U periodic), d = 1, 2, vectorised over independent particles.

Scheme: BAOAB splitting (Leimkuhler & Matthews, Appl. Math. Res. Express 2013): half kick
:math:`p \mathrel{+}= \tfrac{dt}2 f(x)`, half drift, the exact Ornstein-Uhlenbeck step
:math:`p \leftarrow e^{-\gamma dt}p + \sqrt{\theta(1 - e^{-2\gamma dt})}\,\xi`, half drift, half
kick; one force evaluation per step.  It is exact for U = 0 whatever :math:`\gamma dt`, so the
friction does not limit dt; the error of time correlations is :math:`O(dt^2)` with constant
:math:`\sim(\omega\,dt)^2`, :math:`\omega^2 = \max|\nabla^2 U|` (default
:math:`dt = 0.05/\omega`: a relative bias of order 1e-3; :func:`timestep_bias_check` measures it
by halving dt).

Estimators (the swarming consumer's :class:`~effcoef.models.swarming.MCEstimate`, batch means
over groups of independent particles, Student-t confidence intervals):

* **Green-Kubo**: per particle, the average over time origins s of
  :math:`(p(s) - V)\otimes(x(s + t) - x(s) - Vt)`, which is
  :math:`\int_0^t C(u)\,du \to D` (no quadrature error: the x increments are the scheme's own
  integrals of p); read at :math:`t = t_{corr}`, the truncation bias is
  :math:`\approx D e^{-\lambda t_{corr}}` for the spectral gap :math:`\lambda`.
* **Mean-square displacement**: the slope of :math:`\langle|x(s+t) - x(s) - Vt|^2\rangle/(2d)`
  over the late lags :math:`t\in[0.6, 1]\,t_{corr}`.
* **Drift** (with a force): :math:`V = \langle x(T) - x(0)\rangle/T` per particle.

Particles start from the exact equilibrium (F = 0: :math:`p\sim N(0,\theta)`, x from
:math:`e^{-U/\theta}` by inverse CDF in 1D, rejection in 2D) or, with a force, after a burn-in.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from potentials import PeriodicPotential

from ..landscape import PeriodicLandscape, periodic_landscape
from ..operator import check_theta
from .swarming import MCEstimate

__all__ = ["LangevinMCResult", "langevin_diffusion_mc", "sample_equilibrium",
           "curvature_scale", "timestep_bias_check"]


def _rng(seed):
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def curvature_scale(land: PeriodicLandscape) -> float:
    r""":math:`\omega = \sqrt{\max|\partial_i\partial_j U|}` on a grid (finite differences of the
    exact gradient), floored by the cell's free-flight scale."""
    n = 128 if land.dim == 1 else 48
    X = land.sample_grid(n)
    G = land.grad(X)
    hmax = 0.0
    for i in range(land.dim):
        h = land.period[i] / n
        dG = (np.roll(G, -1, axis=1 + i) - np.roll(G, 1, axis=1 + i)) / (2 * h)
        hmax = max(hmax, float(np.abs(dG).max()))
    free = 2.0 * math.pi / max(land.period)       # floor: ~ one cell per unit time
    return max(math.sqrt(hmax), free)


def sample_equilibrium(land: PeriodicLandscape, theta: float, n: int,
                       rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    r"""n samples of :math:`e^{-H/\theta}`: x in the cell (shape (d, n)), p (shape (d, n))."""
    d = land.dim
    if d == 1:
        L = land.period[0]
        x = np.linspace(0.0, L, 20001)
        u = land.U(x)
        w = np.exp(-(u - u.min()) / theta)
        cdf = np.concatenate([[0.0], np.cumsum(0.5 * (w[1:] + w[:-1]) * np.diff(x))])
        xs = np.interp(rng.random(n), cdf / cdf[-1], x)[None, :]
    else:
        Umin = float(land.U(land.sample_grid(128)).min())
        out, have = [], 0
        while have < n:
            m = max(2 * (n - have), 1024)
            X = rng.random((d, m)) * np.asarray(land.period)[:, None]
            acc = rng.random(m) < np.exp(-(land.U(X) - Umin) / theta)
            out.append(X[:, acc])
            have += int(acc.sum())
        xs = np.concatenate(out, axis=1)[:, :n]
    p = rng.standard_normal((d, n)) * math.sqrt(theta)
    return xs, p


@dataclass
class LangevinMCResult:
    """Result of :func:`langevin_diffusion_mc`.

    ``green_kubo``, ``msd``: :class:`MCEstimate` of D per component averaged over the d
    components (isotropic summary); ``green_kubo_components``: one estimate per diagonal
    entry; ``drift``: MCEstimate per component (None without force); ``lags``, ``gk_curve``
    (running Green-Kubo integral, component mean), ``msd_curve``; ``t_corr``, ``dt``,
    ``n_particles``, ``n_steps``, ``seconds`` (wall time), ``particle_time`` (total simulated
    time of all particles).
    """

    green_kubo: MCEstimate
    msd: MCEstimate
    green_kubo_components: list
    drift: Optional[list]
    lags: np.ndarray
    gk_curve: np.ndarray
    msd_curve: np.ndarray
    t_corr: float
    dt: float
    n_particles: int
    n_steps: int
    seconds: float
    particle_time: float

    def seconds_for(self, rel_error: float) -> float:
        """Wall time this estimator would need for a relative standard error ``rel_error``
        (the standard error falls like 1/sqrt(particles))."""
        return self.seconds * (self.green_kubo.rel_stderr / rel_error) ** 2


def _batches(x, n_batches):
    x = np.asarray(x, dtype=float)
    m = x.size // n_batches
    if m < 1:
        raise ValueError(f"{x.size} particles cannot form {n_batches} batches")
    return x[: m * n_batches].reshape(n_batches, m).mean(axis=1)


def langevin_diffusion_mc(U: Union[str, PeriodicLandscape, PeriodicPotential,
                                   Callable[..., ArrayLike]],
                          theta: float, gamma: float, *, period: Optional[ArrayLike] = None,
                          force: Optional[ArrayLike] = None,
                          n_particles: int = 4000, t_corr: Optional[float] = None,
                          corr_factor: float = 8.0, relaxation_time: Optional[float] = None,
                          n_origins: int = 200, lag_step: Optional[float] = None,
                          dt: Optional[float] = None, burn_in: Optional[float] = None,
                          n_batches: int = 40, level: float = 0.95,
                          seed: Union[None, int, np.random.Generator] = None,
                          progress: bool = False, chunk: int = 512) -> LangevinMCResult:
    r"""D (and V) of underdamped Langevin dynamics by Monte Carlo (BAOAB, Green-Kubo and MSD).

    Parameters
    ----------
    U, period, force
        As in :func:`effcoef.underdamped.underdamped_coefficients`.
    n_particles : int
        Independent particles (grouped into ``n_batches`` batches for the standard error).
    t_corr : float, optional
        Green-Kubo truncation time; default ``corr_factor * relaxation_time``.
    relaxation_time : float, optional
        :math:`1/\lambda` for the spectral gap :math:`\lambda` (e.g.
        ``1/res.info["spectral_gap"]`` of the spectral solver with ``n_eigenvalues``); default
        the heuristic :math:`(1/\gamma + \gamma/\omega^2)\,e^{\Delta U/\theta}/2` with
        :math:`\Delta U = \max U - \min U`.
    dt : float, optional
        Time step; default :math:`0.05/\omega`.
    burn_in : float, optional
        With a force, the time run before measuring (default ``t_corr``).
    seed : int or numpy Generator
    progress : bool
        tqdm bar over the time steps.
    """
    t0 = time.perf_counter()
    theta = check_theta(theta)
    gamma = float(gamma)
    if not (gamma > 0 and math.isfinite(gamma)):
        raise ValueError(f"gamma must be finite and > 0, got {gamma!r}")
    land = periodic_landscape(U, period)
    d = land.dim
    F = np.zeros(d) if force is None else np.atleast_1d(np.asarray(force, float))
    if F.size != d:
        raise ValueError(f"force must have {d} component(s)")
    rng = _rng(seed)
    omega = curvature_scale(land)
    if dt is None:
        dt = 0.05 / omega
    if relaxation_time is None:
        grid = land.U(land.sample_grid(64))
        dU = float(grid.max() - grid.min())
        relaxation_time = (1.0 / gamma + gamma / omega ** 2) * max(1.0, 0.5 * math.exp(dU / theta))
    if t_corr is None:
        t_corr = corr_factor * relaxation_time
    if lag_step is None:
        lag_step = t_corr / 50.0
    if dt > lag_step:
        dt = lag_step
    every = max(1, int(round(lag_step / dt)))
    lag_step = every * dt
    n_lag = int(math.ceil(t_corr / lag_step))
    t_corr = n_lag * lag_step
    n_coarse = n_lag + n_origins
    n = int(n_particles)
    x, p = sample_equilibrium(land, theta, n, rng)
    c1 = math.exp(-gamma * dt)
    c2 = math.sqrt(theta * (1.0 - c1 * c1))
    h = 0.5 * dt

    def forcef(xx):
        f = -land.grad(xx)
        if np.any(F):
            f += F[:, None]
        return f

    from tqdm.auto import tqdm
    n_burn = 0
    if np.any(F):
        n_burn = int(round((t_corr if burn_in is None else burn_in) / dt))
    total = n_burn + n_coarse * every
    f = forcef(x)
    Xc = np.empty((n_coarse + 1, d, n))
    Pc = np.empty((n_coarse + 1, d, n))
    done, k_c = 0, 0
    with tqdm(total=total, disable=not progress, desc="Langevin BAOAB", leave=False) as bar:
        while done < total:
            m = min(chunk, total - done)
            xi = rng.standard_normal((m, d, n))
            for j in range(m):
                step = done + j
                if step == n_burn:
                    Xc[0], Pc[0] = x, p
                    k_c = 1
                p += h * f
                x += h * p
                p *= c1
                p += c2 * xi[j]
                x += h * p
                f = forcef(x)
                p += h * f
                s = step + 1 - n_burn
                if s > 0 and s % every == 0:
                    Xc[k_c], Pc[k_c] = x, p
                    k_c += 1
            done += m
            bar.update(m)
    if n_burn == 0 and k_c == 0:
        raise RuntimeError("internal error: no samples")
    T = n_coarse * lag_step
    drift = None
    V = np.zeros(d)
    if np.any(F):
        vel = (Xc[-1] - Xc[0]) / T                     # (d, n)
        drift = [MCEstimate.from_batches(_batches(vel[i], n_batches), level) for i in range(d)]
        V = vel.mean(axis=1)
    lags = lag_step * np.arange(n_lag + 1)
    GK = np.zeros((n_lag + 1, d, n))
    MS = np.zeros((n_lag + 1, n))
    for s in range(n_origins + 1):
        dx = Xc[s:s + n_lag + 1] - Xc[s][None] - (lags[:, None, None] * V[None, :, None])
        GK += (Pc[s][None] - V[None, :, None]) * dx
        MS += np.einsum("kin,kin->kn", dx, dx)
    GK /= n_origins + 1
    MS /= n_origins + 1
    comps = [MCEstimate.from_batches(_batches(GK[-1, i], n_batches), level) for i in range(d)]
    gk = MCEstimate.from_batches(_batches(GK[-1].mean(axis=0), n_batches), level)
    sel = lags >= 0.6 * t_corr - 1e-12
    tl = lags[sel]
    A = np.vstack([tl, np.ones_like(tl)]).T
    slope_row = np.linalg.pinv(A)[0]
    per = slope_row @ MS[sel] / (2 * d)
    msd = MCEstimate.from_batches(_batches(per, n_batches), level)
    return LangevinMCResult(gk, msd, comps, drift, lags, GK.mean(axis=(1, 2)),
                            MS.mean(axis=1), float(t_corr), float(dt), n, int(total),
                            time.perf_counter() - t0, float(n * total * dt))


def timestep_bias_check(U: Union[str, PeriodicLandscape, PeriodicPotential,
                                 Callable[..., ArrayLike]],
                        theta: float, gamma: float, *, dt: float, seed: int = 0, **kw: Any
                        ) -> Tuple[LangevinMCResult, LangevinMCResult, float, float]:
    """Green-Kubo D at dt and dt/2 with common seeds: returns (est_dt, est_half, difference,
    its standard error from the two independent runs)."""
    a = langevin_diffusion_mc(U, theta, gamma, dt=dt, seed=seed, **kw)
    b = langevin_diffusion_mc(U, theta, gamma, dt=dt / 2, seed=seed + 1, **kw)
    diff = a.green_kubo.value - b.green_kubo.value
    se = math.hypot(a.green_kubo.stderr, b.green_kubo.stderr)
    return a, b, diff, se
