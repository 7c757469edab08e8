r"""Monte Carlo of the overdamped Langevin dynamics in a periodic potential (d = 1, 2).

.. math:: dX = (F - \nabla U(X))\,dt + \sqrt{2\theta}\,dB, \qquad U(x + L_ie_i) = U(x),

the particle side of :mod:`effcoef.periodic`: estimates of the effective drift
:math:`V = \lim X_t/t` and diffusion :math:`D = \lim\mathrm{Cov}(X_t)/(2t)` with standard errors
and confidence intervals, to check the solver (tests, notebook, benchmark).

Estimators
    ``n_particles`` independent particles start uniformly in the cell, relax for ``t_burn``
    (towards the invariant law on the torus, at the rate of the cell's spectral gap
    :math:`\lambda_1`), then their displacements
    :math:`\Delta X(t) = X(s + t) - X(s)` are recorded at ``n_fit`` lags in
    :math:`[f_0 T, T]` (``fit``, ``T = t_obs``) from the origins
    :math:`s = t_{burn} + kT`, k < ``n_windows``, and pooled.
    :math:`V = \mathbb E\,\Delta X(T)/T` (no bias
    in stationarity: :math:`\Delta X(t) - Vt = \chi(X_0) - \chi(X_t) + \text{martingale}`);
    :math:`D` is the least-squares slope of :math:`\mathrm{Cov}(\Delta X(t))/2` over the lags,
    which removes the constant offset :math:`\mathrm{Cov}(\chi(X_0) - \chi(X_t))` of the
    start (exponentially small corrections once :math:`f_0 T` exceeds the relaxation time).
    Standard errors: the particles are independent, so they are split into ``n_batches``
    batches (independent replicas), each giving its own V and D;
    :class:`~effcoef.models.swarming.MCEstimate` turns the batch values into a mean, a
    standard error and a Student-t interval.
Time discretisation
    Euler-Maruyama (weak order 1: an :math:`O(\Delta t)` bias of V and D).  With
    ``richardson=True`` (default) every batch is run twice with the *same* Brownian path, at
    :math:`\Delta t` and :math:`\Delta t/2` (the coarse increment is the sum of two fine ones),
    and the batch values are extrapolated, :math:`2E_{\Delta t/2} - E_{\Delta t}`: bias
    :math:`O(\Delta t^2)`, and since the two runs are coupled the extrapolation costs little
    variance.  The fine-minus-coarse difference is reported (``dt_bias``) as the measured size
    of the first-order bias that was removed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Dict, Optional, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from potentials import PeriodicPotential

# The Monte Carlo estimators (one import place: they move to effcoef.models.montecarlo)
from .swarming import MCEstimate

__all__ = ["PeriodicMC", "periodic_mc", "euler_paths"]


@dataclass
class PeriodicMC:
    """Result of :func:`periodic_mc`.

    ``V`` (list of d :class:`MCEstimate`), ``D`` (d x d nested list of MCEstimate),
    ``V_value``, ``V_stderr`` (d,), ``D_value``, ``D_stderr`` (d, d) as arrays; ``dt_bias``
    (MCEstimate of the fine-minus-coarse difference of D[0][0], or None without Richardson);
    the parameters and the wall time.
    """

    V: list
    D: list
    dim: int
    theta: float
    force: tuple
    dt: float
    n_particles: int
    t_burn: float
    t_obs: float
    n_windows: int
    richardson: bool
    dt_bias: Optional[MCEstimate]
    seconds: float

    @property
    def V_value(self) -> np.ndarray:
        return np.array([e.value for e in self.V])

    @property
    def V_stderr(self) -> np.ndarray:
        return np.array([e.stderr for e in self.V])

    @property
    def D_value(self) -> np.ndarray:
        return np.array([[e.value for e in row] for row in self.D])

    @property
    def D_stderr(self) -> np.ndarray:
        return np.array([[e.stderr for e in row] for row in self.D])

    def zscores(self, V_ref: Optional[ArrayLike] = None,
                D_ref: Optional[ArrayLike] = None) -> Dict[str, np.ndarray]:
        """(value - reference)/stderr for every component of V and D given (dict of arrays)."""
        out = {}
        if V_ref is not None:
            out["V"] = np.array([e.zscore(r) for e, r in
                                 zip(self.V, np.atleast_1d(np.asarray(V_ref, dtype=float)))])
        if D_ref is not None:
            Dr = np.asarray(D_ref, dtype=float).reshape(self.dim, self.dim)
            out["D"] = np.array([[self.D[i][j].zscore(Dr[i, j]) for j in range(self.dim)]
                                 for i in range(self.dim)])
        return out


def _drift(pot, F, L):
    def b(X):
        return F[:, None] - pot.grad(np.mod(X, L[:, None]))
    return b


def euler_paths(pot: PeriodicPotential, theta: float, force: ArrayLike, x0: ArrayLike, dt: float,
                n_steps: int, record: ArrayLike, rng: np.random.Generator, *,
                coupled: bool = False, progress: bool = False, desc: str = "Euler-Maruyama"
                ) -> Union[np.ndarray, Tuple[np.ndarray, np.ndarray]]:
    r"""Euler-Maruyama paths of :math:`dX = (F - \nabla U)dt + \sqrt{2\theta}dB` from ``x0``
    ((d, n), unwrapped positions; the gradient is evaluated at the positions reduced to the
    cell).  ``record``: sorted step indices (repeats allowed) at which to store the positions.
    With ``coupled``
    a second path with step ``dt/2`` driven by the same Brownian motion is run alongside
    (``n_steps`` coarse steps, 2 ``n_steps`` fine ones).  Returns an array (len(record), d, n)
    (and the fine one if ``coupled``)."""
    from tqdm.auto import tqdm

    L = np.asarray(pot.period, dtype=float)
    F = np.atleast_1d(np.asarray(force, dtype=float))
    b = _drift(pot, F, L)
    x = np.array(x0, dtype=float)
    xf = x.copy() if coupled else None
    rec = np.asarray(record, dtype=np.int64)
    out = np.empty((len(rec),) + x.shape)
    outf = np.empty_like(out) if coupled else None
    j = 0
    while j < len(rec) and rec[j] == 0:
        out[j] = x
        if coupled:
            outf[j] = xf
        j += 1
    s = math.sqrt(2.0 * theta * dt)
    sh = math.sqrt(theta * dt)                     # sqrt(2 theta dt/2)
    with tqdm(total=n_steps, disable=not progress, desc=desc, leave=False) as bar:
        for n in range(1, n_steps + 1):
            if coupled:
                z1 = rng.standard_normal(x.shape)
                z2 = rng.standard_normal(x.shape)
                xf = xf + b(xf) * (0.5 * dt) + sh * z1
                xf = xf + b(xf) * (0.5 * dt) + sh * z2
                x = x + b(x) * dt + sh * (z1 + z2)
            else:
                x = x + b(x) * dt + s * rng.standard_normal(x.shape)
            while j < len(rec) and rec[j] == n:     # (repeated indices allowed)
                out[j] = x
                if coupled:
                    outf[j] = xf
                j += 1
            if n % 256 == 0:
                bar.update(256)
                if not np.all(np.isfinite(x)):
                    raise FloatingPointError("Euler-Maruyama left the finite range: lower dt")
    return (out, outf) if coupled else out


def _batch_estimates(paths, n_windows, n_lags, lags, n_batches):
    """Per-batch V (d,) and D (d, d) from recorded positions: ``paths`` (n_windows * (n_lags +
    1), d, n), window k at rows k (n_lags + 1) .. (k + 1)(n_lags + 1) - 1, its origin first.
    Window displacements are pooled over the particles of a batch and the windows."""
    d, n = paths.shape[1], paths.shape[2]
    P = paths.reshape(n_windows, n_lags + 1, d, n)
    disp = P[:, 1:] - P[:, :1]                      # (n_windows, n_lags, d, n)
    m = n // n_batches
    if m < 2:
        raise ValueError(f"{n} particles cannot form {n_batches} batches of >= 2")
    T = lags[-1]
    A = np.vstack([lags, np.ones_like(lags)]).T
    slope = np.linalg.pinv(A)[0]                   # least-squares slope weights over the lags
    Vb, Db = [], []
    for bi in range(n_batches):
        x = disp[:, :, :, bi * m:(bi + 1) * m]     # (n_windows, n_lags, d, m)
        x = x.transpose(1, 2, 0, 3).reshape(len(lags), d, -1)     # pool windows and particles
        Vb.append(x[-1].mean(axis=1) / T)
        xc = x - x.mean(axis=2, keepdims=True)
        cov = np.einsum("tin,tjn->tij", xc, xc) / (x.shape[2] - 1)
        Db.append(0.5 * np.tensordot(slope, cov, axes=(0, 0)))
    return np.array(Vb), np.array(Db)


def periodic_mc(U: Union[str, PeriodicPotential], theta: float, *,
                period: Optional[ArrayLike] = None, force: Optional[ArrayLike] = None,
                n_particles: int = 20000,
                t_burn: Optional[float] = None, t_obs: Optional[float] = None,
                n_windows: int = 4, dt: Optional[float] = None, n_batches: int = 40,
                level: float = 0.95, fit: Tuple[float, float] = (0.5, 1.0), n_fit: int = 6,
                richardson: bool = True, seed: Union[None, int, np.random.Generator] = 0,
                progress: bool = False) -> PeriodicMC:
    r"""Monte Carlo estimates of V and D (see the module docstring).

    Parameters
    ----------
    U : str or potentials.PeriodicPotential
    theta : float > 0
    period, force : as for :func:`effcoef.periodic.effective_coefficients`.
    n_particles : int
        Independent particles (split into ``n_batches`` batches).
    t_burn, t_obs : float, optional
        Relaxation time before the observation and observation length T.  Defaults
        :math:`10/\lambda_1` and :math:`20/\lambda_1` with the cell's spectral gap
        :math:`\lambda_1` (its real part for F != 0) from the solver
        (:func:`effcoef.periodic.effective_coefficients`): the law on the torus relaxes like
        :math:`e^{-\lambda_1 t}`, so the start and the fit window :math:`[T/2, T]` carry
        biases of order :math:`e^{-10}`.  (In the tunnelling regime :math:`\lambda_1` is tiny
        and so is D: Monte Carlo is then impractical, which these defaults make visible.)
    dt : float, optional
        Euler step (default :math:`0.02/\max|\partial_{ii}U|` and :math:`\le 0.02 L^2/\theta`).
        Larger steps are not safe even with the extrapolation: at twice the default, the
        non-separable 2D test case showed a 9% Euler bias of :math:`D_{22}` and extrapolated
        values off by up to 4 standard errors (the coarse and fine paths decouple).
    n_windows : int
        Consecutive observation windows of length T per particle (their displacements are
        pooled; batches stay independent, being made of different particles).
    fit : (f0, f1), n_fit
        The lags :math:`t \in [f_0 T, f_1 T]` of the slope fit.
    richardson : bool
        Extrapolate :math:`\Delta t \to 0` with a coupled run at :math:`\Delta t/2`.
    seed : int or numpy.random.Generator

    Returns
    -------
    PeriodicMC
    """
    from ..periodic import as_periodic_potential

    t0 = time.perf_counter()
    pot = as_periodic_potential(U, period)
    if not (isinstance(theta, (int, float)) and math.isfinite(theta) and theta > 0):
        raise ValueError(f"theta must be a finite positive number, got {theta!r}")
    d = pot.dim
    F = np.zeros(d) if force is None else np.atleast_1d(np.asarray(force, dtype=float))
    if len(F) != d or not np.all(np.isfinite(F)):
        raise ValueError(f"force must be {d} finite number(s), got {force!r}")
    L = np.asarray(pot.period, dtype=float)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if dt is None:
        X = pot.sample_points(400)
        curv = float(np.max(np.abs(pot.hess_diag(X))))
        dt = min(0.02 / max(curv, 1e-12), 0.02 * float(np.min(L)) ** 2 / theta)
    if t_burn is None or t_obs is None:
        from ..periodic import effective_coefficients

        res = effective_coefficients(pot, theta, force=F if d > 1 else F[0], rtol=1e-6,
                                     n_modes=None if np.all(F == 0) else 1)
        lam1 = float(res.info.get("spectral_gap", math.nan))
        if not (math.isfinite(lam1) and lam1 > 0):
            raise ValueError("no spectral gap from the solver: pass t_burn and t_obs")
        t_burn = 10.0 / lam1 if t_burn is None else t_burn
        t_obs = 20.0 / lam1 if t_obs is None else t_obs
    n_burn = int(math.ceil(t_burn / dt))
    n_obs = int(math.ceil(t_obs / dt))
    fit_steps = np.unique(np.round(np.linspace(fit[0], fit[1], n_fit) * n_obs).astype(np.int64))
    fit_steps = fit_steps[fit_steps > 0]
    nw = int(n_windows)
    origins = n_burn + n_obs * np.arange(nw)
    record = (origins[:, None] + np.concatenate([[0], fit_steps])[None, :]).ravel()
    lags = fit_steps * dt
    x0 = rng.uniform(0.0, 1.0, size=(d, int(n_particles))) * L[:, None]
    paths = euler_paths(pot, theta, F, x0, dt, n_burn + nw * n_obs, record, rng,
                        coupled=richardson, progress=progress)
    nl = len(fit_steps)
    if richardson:
        coarse, fine = paths
        Vc, Dc = _batch_estimates(coarse, nw, nl, lags, n_batches)
        Vf, Df = _batch_estimates(fine, nw, nl, lags, n_batches)
        Vb, Db = 2 * Vf - Vc, 2 * Df - Dc
        bias = MCEstimate.from_batches(Df[:, 0, 0] - Dc[:, 0, 0], level)
    else:
        Vb, Db = _batch_estimates(paths, nw, nl, lags, n_batches)
        bias = None
    V = [MCEstimate.from_batches(Vb[:, i], level) for i in range(d)]
    D = [[MCEstimate.from_batches(Db[:, i, j], level) for j in range(d)] for i in range(d)]
    return PeriodicMC(V=V, D=D, dim=d, theta=float(theta), force=tuple(float(f) for f in F),
                      dt=float(dt), n_particles=int(n_particles), t_burn=float(n_burn * dt),
                      t_obs=float(n_obs * dt), n_windows=nw, richardson=bool(richardson),
                      dt_bias=bias,
                      seconds=time.perf_counter() - t0)
