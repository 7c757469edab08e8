r"""Run-and-tumble consumer with an internal (methylation) state (paper 002, Blaustein).

A consumer of the 1D spectral machinery (:func:`effcoef.fem1d.weighted_fe`); the solver
core does not import this module.

Model (paper eq. 1.4-1.5 in the rescaled variable, eq. 1.9)
-----------------------------------------------------------
A bacterium has position :math:`x\in\mathbb R^d`, velocity :math:`v\in V` and methylation
level :math:`m`, :math:`dm = -\frac1\varepsilon(m - M(x))\,dt + \sqrt{2\varepsilon}\,dW`
(the drift/diffusion of eq. 1.4), and tumbles at rate :math:`\psi(y)`,
:math:`y = (m - M(x))/\varepsilon` (the first argument of :math:`\Lambda` in eq. 1.5),
redistributing :math:`v` uniformly on :math:`V` (isotropic kernel
:math:`\Lambda(y, v, v') = \psi(y)/|V|`).  In the variable :math:`y` (Itô, :math:`dM = v\cdot
\nabla M\,dt` along a run)

.. math:: dy = -\frac1\varepsilon\big(y + v\cdot\nabla M\big)\,dt
                + \sqrt{2/\varepsilon}\,dW ,

i.e. an Ornstein-Uhlenbeck process at speed :math:`1/\varepsilon`, generator
:math:`L_z/\varepsilon`, :math:`L_z = \partial_z^2 - z\partial_z`, invariant law
:math:`\mathcal N(0,1)` -- shifted to :math:`\mathcal N(-v\cdot\nabla M, 1)` by the signal.
This is the paper's :math:`y - D_tN` with :math:`D_tN \to D_tM = v\cdot\nabla M`
(eq. 1.8 for a static signal).  The limit :math:`\varepsilon\to0` is the kinetic model
(1.1)-(1.3) with the Gaussian-averaged kernel (1.12),
:math:`\bar\Lambda(D_tM) = \mathbb E[\psi(Z - D_tM)]`, :math:`Z\sim\mathcal N(0,1)`.
Without signal (:math:`S = 0`, :math:`D_tM = 0`) this is
:math:`\bar\psi = \mathbb E[\psi(Z)]`: the issue's ":math:`\mathbb E[\psi(Z - S)]`" is the
same Gaussian average with the shift given by the *path-wise gradient* :math:`D_tM`
of the signal (not the signal value itself, which the adaptation removes); for
:math:`S = 0` the shift vanishes.

Effective diffusion (no signal)
-------------------------------
Stationary state: :math:`v` uniform on :math:`V`, :math:`Z\sim\mathcal N(0,1)` independent.
After a tumble the new velocity is independent of everything before and has mean 0, so
:math:`\mathbb E[v(0)\cdot v(t)\,;\ \text{a tumble in }(0,t)] = 0` and only the no-tumble
event contributes: :math:`v(t) = v(0)` on it, and
:math:`P(\text{no tumble}\mid Z) = \exp(-\int_0^t\psi(Z_u)du)` (Z does not depend on v
without signal).  Hence, per component (sphere of radius s: :math:`\mathrm{Cov}\,v =
s^2/d\,I`; 1D :math:`V=\{-s,s\}`: :math:`s^2`),

.. math:: \langle v_1(0)v_1(t)\rangle = \frac{s^2}{d}\,
          \mathbb E\Big[e^{-\int_0^t\psi(Z_u)du}\Big]
          = \frac{s^2}{d}\,\langle 1, e^{-t(\psi - L_z/\varepsilon)}1\rangle_{\mathcal N(0,1)}

(Feynman-Kac), and :math:`D(\varepsilon) = \int_0^\infty = \frac{s^2}{d}\langle 1,
(\psi - L_z/\varepsilon)^{-1}1\rangle`.  :math:`\mathcal A = -L_z/\varepsilon + \psi` is
self-adjoint and :math:`\ge \min\psi > 0` in :math:`L^2(\mathcal N(0,1))` (unitarily
equivalent, via :math:`u = \sqrt{\mathcal M}\,f`, to the harmonic Schrödinger operator
:math:`(-\partial^2 + z^2/4 - 1/2)/\varepsilon + \psi`), so with its eigenpairs
:math:`\mathcal A\phi_k = \lambda_k\phi_k`:
:math:`D = \frac{s^2}{d}\sum_k \langle1,\phi_k\rangle^2/\lambda_k`.
Equivalently :math:`D = \frac{s^2}{d}\langle 1, h\rangle` with :math:`h` solving the cell
problem :math:`(\psi - L_z/\varepsilon)h = 1` (Poisson equation :math:`-\mathcal G g = v`,
:math:`g = v\,h(z)`, of the full generator :math:`\mathcal G`).

Limits: :math:`\varepsilon\to0`: :math:`h = h_0 + \varepsilon h_1 + \dots`, :math:`L h_0 =
0`, solvability of :math:`-L h_1 = 1 - \psi h_0` gives :math:`h_0 = 1/\bar\psi`, so
:math:`D\to s^2/(d\bar\psi)` (the kinetic model's :math:`s^2/(d\bar\psi)`).
:math:`\varepsilon\to\infty`: z frozen, :math:`h = 1/\psi`, :math:`D\to \frac{s^2}{d}
\mathbb E[1/\psi(Z)]` (:math:`\ge s^2/(d\bar\psi)` by Jensen).

Chemotactic sensitivity (linear response to :math:`M(x) = \alpha\,e\cdot x`)
----------------------------------------------------------------------------
The signal adds :math:`\alpha\mathcal B`, :math:`\mathcal B = -\frac{v\cdot e}\varepsilon
\partial_z`, to the generator.  With :math:`g = (v\cdot e)h` (:math:`-\mathcal G_0 g = v\cdot
e`) and stationarity :math:`\mathbb E_{\pi_\alpha}[\mathcal G_\alpha g] = 0`:
:math:`\mathbb E_{\pi_\alpha}[v\cdot e] = \alpha\,\mathbb E_{\pi_0}[\mathcal B g] + O(\alpha^2)`, so
the drift is :math:`u = \chi\,\alpha` with

.. math:: \chi(\varepsilon) = -\frac{s^2}{d\,\varepsilon}\,\mathbb E[h'(Z)]
          = -\frac{s^2}{d\,\varepsilon}\,\langle z, (\psi - L_z/\varepsilon)^{-1}1\rangle
          = \frac{s^2}{d\,\varepsilon}\,\big\langle 1,\,(\psi + (1 - L_z)/\varepsilon)^{-1}
            \,\psi'\,(\psi - L_z/\varepsilon)^{-1}1\big\rangle

(Gaussian integration by parts :math:`\mathbb E[h'] = \mathbb E[Zh]`; the last, second-order
resolvent form follows from differentiating the cell problem, :math:`(L h)' = L h' - h'`,
so :math:`(\psi + (1-L)/\varepsilon)h' = -\psi' h`).  The operator
:math:`\psi + (1-L)/\varepsilon = \mathcal A + 1/\varepsilon` has the same eigenvectors, so
both forms are one spectral decomposition; they agree to rounding (tested).  Since
:math:`-L z = z`, :math:`\langle z, h_1\rangle = -\mathbb E[Z\psi]/\bar\psi`, hence

.. math:: \chi(0^+) = \frac{s^2}{d}\,\frac{\mathbb E[\psi'(Z)]}{\bar\psi}
          = \frac{s^2}{d}\,\frac{\mathbb E[Z\psi(Z)]}{\bar\psi},

which is exactly the drift of the kinetic limit model with rate
:math:`\bar\Lambda = \mathbb E[\psi(Z - \alpha v\cdot e)] \approx \bar\psi -
\alpha (v\cdot e)\mathbb E[\psi']` (stationary velocity density :math:`\propto
1/\bar\Lambda(v)`).  For :math:`\varepsilon\to\infty`, :math:`\chi = O(1/\varepsilon)`:
:math:`\chi \approx \frac{s^2}{d\varepsilon}\mathbb E[\psi'/\psi^2]` (frozen z, the
signal shifts z by :math:`\alpha v\cdot e\, t/\varepsilon` over a run).

Discretisations
---------------
``method="spectral"``: the weighted high-order FE of :mod:`effcoef.fem1d` with
:math:`W = z^2/2`, :math:`\theta = 1` (its stiffness *is* the weak form of
:math:`-L_z` in :math:`L^2(\mathcal N(0,1))`, its mass the :math:`\mathcal N(0,1)` mass) on
:math:`[-R, R]`, plus the mass matrix weighted by :math:`\psi`; the generalised
eigenproblem is solved in full (``scipy.linalg.eigh``) and the series summed over the
lowest ``n_modes`` modes.  ``method="hermite"``: Galerkin in the orthonormal probabilists'
Hermite polynomials :math:`He_n/\sqrt{n!}` (:math:`-L He_n = n He_n` exactly), the
:math:`\psi`-matrix by Gauss-Hermite quadrature.  The error estimate is the change under
refinement (FE: degree p -> p+2 and more elements; Hermite: n -> 3n/4 basis functions).

Monte Carlo (1D, :math:`V=\{-s,s\}`): exact event-driven simulation -- tumble candidates
at rate ``psi_max`` (thinning), between candidates the exact OU transition of y (shift
:math:`-\alpha v`) and exact transport; and the limit kinetic model with the Gaussian
averaged rate (1.12) (exact exponential run times).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
from numpy.typing import ArrayLike
from scipy import linalg

from ..fem1d import weighted_fe
from . import montecarlo

__all__ = ["RunTumbleResult", "runtumble_coefficients", "limit_coefficients",
           "spectral_decomposition", "exact_msd", "simulate_internal", "simulate_limit",
           "mc_diffusion", "mc_sensitivity", "msd_statistics", "gauss_mean"]


@dataclass
class RunTumbleResult:
    D: float
    chi: float
    D_err: float
    chi_err: float
    eps: float
    method: str
    n_modes: int
    chi_second_order: float = None     # chi from the psi'-resolvent form (if dpsi given)


def gauss_mean(f: Callable, n: int = 200) -> float:
    r""":math:`\mathbb E[f(Z)]`, :math:`Z\sim\mathcal N(0,1)` (Gauss-Hermite, n nodes)."""
    z, sw = _gauss_hermite(n)
    return float(np.sum(sw * sw * f(z)))


def velocity_variance(s: float = 1.0, dim: int = 1, velocity_set: str = "sphere") -> float:
    r"""Per-component variance :math:`\sigma^2 = E[v_1^2]` of the isotropic redistribution:
    V = {-s, s} (dim 1): :math:`s^2`; sphere of radius s: :math:`s^2/d`; ball of radius s
    (uniform): :math:`s^2/(d+2)`.  D and chi are proportional to it (after a tumble the
    velocity is independent of the past with mean 0, so only :math:`E[v_iv_j]` enters)."""
    if velocity_set == "sphere":              # in 1D the "sphere" is V = {-s, s}
        return s * s / dim
    if velocity_set == "ball":
        return s * s / (dim + 2)
    raise ValueError(f"velocity_set must be 'sphere' or 'ball', not {velocity_set!r}")


def limit_coefficients(psi: Callable, *, s: float = 1.0, dim: int = 1,
                       velocity_set: str = "sphere") -> tuple:
    r"""The :math:`\varepsilon\to0` and :math:`\varepsilon\to\infty` limits:
    ``(D0, chi0, D_inf)`` = :math:`(\sigma^2/\bar\psi,\ \sigma^2\mathbb E[Z\psi]/\bar\psi,\
    \sigma^2\mathbb E[1/\psi])`, :math:`\sigma^2` = :func:`velocity_variance`."""
    s2 = velocity_variance(s, dim, velocity_set)
    psibar = gauss_mean(psi)
    return s2 / psibar, s2 * gauss_mean(lambda z: z * psi(z)) / psibar, \
        s2 * gauss_mean(lambda z: 1.0 / psi(z))


# --------------------------------------------------------------------------------------
# Galerkin pencils of  A = -L_z/eps + psi  in L^2(N(0,1))
# --------------------------------------------------------------------------------------

class _Harmonic:
    """W(z) = z^2/2 in the interface effcoef.fem1d expects."""
    W = staticmethod(lambda z: 0.5 * np.asarray(z) ** 2)
    dW = staticmethod(lambda z: np.asarray(z, dtype=float))
    d2W = staticmethod(lambda z: np.ones_like(np.asarray(z, dtype=float)))


def _fe_pencil(psi, dpsi, *, degree=10, R=10.0, n_elements=24):
    """FE matrices: stiffness K (of -L), mass B, psi-mass P, dpsi-mass P1 (or None), and the
    normalised coefficient vectors of 1 and z (B-inner products divided by Z).  Uniform
    mesh on [-R, R] (the weight e^{-z^2/2} is integrated by the element quadrature)."""
    nodes = np.linspace(-R, R, n_elements + 1)
    fe = weighted_fe(_Harmonic, 1.0, nodes, 0.0, degree=degree)
    K = fe.A.tosparse().toarray()
    B = fe.B.tosparse().toarray()
    n = B.shape[0]
    vals, _ = fe.values(np.eye(n))                        # (n, ne, nq)
    w = fe.m * fe.dx / fe.Z                               # normalised weight
    def wmass(f):
        return np.einsum("keq,leq->kl", vals * (w * f)[None], vals)
    P = wmass(psi(fe.X))
    P1 = None if dpsi is None else wmass(dpsi(fe.X))
    one = fe.load(np.ones_like(fe.X)) / fe.Z              # <1, phi_i>
    zl = fe.load(fe.X) / fe.Z                             # <z, phi_i>
    return K / fe.Z, B / fe.Z, P, P1, one, zl


def _gauss_hermite(nq):
    """Nodes and square-rooted weights of the nq-point Gauss rule for N(0,1).

    Nodes: eigenvalues of the Jacobi matrix (Golub-Welsch).  Weights by the Christoffel
    formula w_q = 1/sum_k h_k(z_q)^2, evaluated with the bounded Hermite functions
    sqrt(phi) h_k (no overflow, and relative accuracy in the tails where the eigenvector
    components of Golub-Welsch are only absolutely accurate)."""
    z = linalg.eigvalsh_tridiagonal(np.zeros(nq), np.sqrt(np.arange(1, nq)))
    F = _hermite_functions(z, nq)
    nrm = np.sqrt(np.sum(F * F, axis=0))
    ok = nrm > 0                                          # exp(-z^2/4) underflow: weight 0
    return z[ok], F[0, ok] / nrm[ok]


def _hermite_functions(z, n):
    """sqrt(phi(z)) h_k(z), k < n, phi the N(0,1) density, h_k = He_k/sqrt(k!) (bounded)."""
    F = np.empty((n, len(z)))
    F[0] = np.exp(-0.25 * z * z) / (2 * np.pi) ** 0.25
    if n > 1:
        F[1] = z * F[0]
    for k in range(1, n - 1):
        F[k + 1] = (z * F[k] - np.sqrt(k) * F[k - 1]) / np.sqrt(k + 1)
    return F


def _hermite_pencil(psi, dpsi, *, n=80, nq=None):
    """Orthonormal Hermite basis He_k/sqrt(k!), k < n: -L is diag(k), the mass is I."""
    nq = max(2 * n + 40, 120) if nq is None else nq
    z, sw = _gauss_hermite(nq)
    F = _hermite_functions(z, nq)
    nrm = np.sqrt(np.sum(F * F, axis=0))
    ok = nrm > 0                                          # drop nodes where exp(-z^2/4) underflows
    H = F[:n, ok] / nrm[ok]                               # sqrt(w_q) h_k(z_q), bounded
    z = z[ok]
    K = np.diag(np.arange(n, dtype=float))
    B = np.eye(n)
    P = (H * psi(z)) @ H.T
    P1 = None if dpsi is None else (H * dpsi(z)) @ H.T
    one = np.zeros(n)
    one[0] = 1.0
    zl = np.zeros(n)
    zl[1] = 1.0
    return K, B, P, P1, one, zl


def spectral_decomposition(psi: Callable, eps: float, *, method: str = "spectral",
                           dpsi: Optional[Callable] = None, **kw: Any) -> tuple:
    """Eigenpairs of the Galerkin pencil (K/eps + P, B): returns (lam, X, one, zl, P1) with
    B-orthonormal X (columns), so the L^2(N(0,1)) resolvent is X diag(1/(lam+c)) X^T."""
    if method == "spectral":
        K, B, P, P1, one, zl = _fe_pencil(psi, dpsi, **kw)
    elif method == "hermite":
        K, B, P, P1, one, zl = _hermite_pencil(psi, dpsi, **kw)
    else:
        raise ValueError(f"method must be 'spectral' or 'hermite', not {method!r}")
    lam, X = linalg.eigh(K / eps + P, B)
    return lam, X, one, zl, P1


def _coefficients(psi, eps, s2, method, n_modes, dpsi, **kw):
    lam, X, one, zl, P1 = spectral_decomposition(psi, eps, method=method, dpsi=dpsi, **kw)
    k = len(lam) if n_modes is None else min(int(n_modes), len(lam))
    lam, X = lam[:k], X[:, :k]
    c1, cz = X.T @ one, X.T @ zl                   # <1, phi_k>, <z, phi_k>
    D = s2 * float(np.sum(c1 * c1 / lam))
    chi = -s2 / eps * float(np.sum(cz * c1 / lam))
    chi2 = None
    if P1 is not None:                             # (s2/eps) <1, (A + 1/eps)^-1 psi' A^-1 1>
        Mk = X.T @ P1 @ X
        chi2 = s2 / eps * float((c1 / (lam + 1.0 / eps)) @ Mk @ (c1 / lam))
    return D, chi, chi2, k


def runtumble_coefficients(psi: Callable, eps: float, *, s: float = 1.0, dim: int = 1,
                           n_modes: Optional[int] = None, method: str = "spectral",
                           dpsi: Optional[Callable] = None, degree: int = 10, R: float = 10.0,
                           n_hermite: Optional[int] = None,
                           velocity_set: str = "sphere") -> RunTumbleResult:
    r"""Effective diffusion :math:`D(\varepsilon)` and chemotactic sensitivity
    :math:`\chi(\varepsilon)` (drift = :math:`\chi\,\nabla M`) of the internal-state model.

    psi : vectorised callable, the tumbling rate :math:`\psi(z) > 0`.
    eps : adaptation time scale.  s, dim, velocity_set : speed, dimension and "sphere" or
    "ball" (velocity covariance :func:`velocity_variance` times I: V = {-s, s} for dim = 1).
    n_modes : number of eigenmodes in the spectral sums (default: all of the pencil).
    method : ``"spectral"`` (weighted FE of effcoef.fem1d, degree ``degree`` on [-R, R]) or
    ``"hermite"`` (``n_hermite`` Hermite polynomials, default from eps).
    dpsi : optional derivative of psi; then ``chi_second_order`` is computed as well.
    The error estimates are the changes under refinement of the discretisation.
    """
    if eps <= 0:
        raise ValueError("eps must be > 0")
    s2 = velocity_variance(s, dim, velocity_set)
    if method == "spectral":
        kws = [dict(degree=degree, R=R, n_elements=24),
               dict(degree=degree + 2, R=R + 1.0, n_elements=30)]
    elif method == "hermite":
        n = n_hermite or int(min(300, 60 + 40 * np.sqrt(max(eps, 1e-12))))
        kws = [dict(n=n), dict(n=max(3 * n // 4, 10))]
    else:
        raise ValueError(f"method must be 'spectral' or 'hermite', not {method!r}")
    D, chi, chi2, k = _coefficients(psi, eps, s2, method, n_modes, dpsi, **kws[0])
    Dr, chir, _, _ = _coefficients(psi, eps, s2, method, n_modes, None, **kws[1])
    return RunTumbleResult(D=D, chi=chi, D_err=abs(D - Dr), chi_err=abs(chi - chir), eps=eps,
                           method=method, n_modes=k, chi_second_order=chi2)


def exact_msd(psi: Callable, eps: float, times: ArrayLike, *, s: float = 1.0, dim: int = 1,
              method: str = "spectral", velocity_set: str = "sphere") -> np.ndarray:
    r"""Mean-square displacement per component from the stationary state,
    :math:`2\sigma^2\sum_k c_k^2[t/\lambda_k - (1-e^{-\lambda_k t})/\lambda_k^2]`;
    ``eps = 0`` gives the limit model :math:`\lambda = \bar\psi`."""
    t = np.asarray(times, dtype=float)
    s2 = velocity_variance(s, dim, velocity_set)
    if eps == 0:
        lam, c2 = np.array([gauss_mean(psi)]), np.array([1.0])
    else:
        lam, X, one, _, _ = spectral_decomposition(psi, eps, method=method)
        c2 = (X.T @ one) ** 2
    tt = t[:, None]
    return 2 * s2 * np.sum(c2 * (tt / lam - (1 - np.exp(-lam * tt)) / lam ** 2), axis=1)


# --------------------------------------------------------------------------------------
# Monte Carlo, 1D, V = {-s, s}
# --------------------------------------------------------------------------------------

def simulate_internal(psi: Callable, eps: float, times: ArrayLike, *, alpha: float = 0.0,
                      n: int = 20000, seed: montecarlo.SeedLike = 0,
                      psi_max: Optional[float] = None, s: float = 1.0) -> np.ndarray:
    r"""Exact event-driven simulation of the internal-state model in a linear signal
    :math:`M = \alpha x`.  Start: v uniform, :math:`y\sim\mathcal N(-\alpha v, 1)`, x = 0.
    Returns the positions at ``times`` (shape (len(times), n)).  The random stream does
    not depend on alpha (common random numbers for the +alpha / -alpha coupling)."""
    rng = montecarlo.rng(seed)
    if psi_max is None:
        psi_max = 1.01 * float(np.max(psi(np.linspace(-12, 12, 4001))))
    v = s * rng.choice([-1.0, 1.0], size=n)
    y = -alpha * v + rng.standard_normal(n)
    x = np.zeros(n)
    t = np.zeros(n)
    tau = rng.exponential(1.0 / psi_max, size=n)
    out = np.empty((len(times), n))

    def ou(idx, dt):
        mu = -alpha * v[idx]                  # shift -D_tM = -alpha v
        a = np.exp(-dt / eps)
        y[idx] = mu + (y[idx] - mu) * a + np.sqrt(-np.expm1(-2 * dt / eps)) * \
            rng.standard_normal(len(idx))

    for j, T in enumerate(times):
        while True:
            idx = np.flatnonzero(t + tau < T)
            if idx.size == 0:
                break
            dt = tau[idx]
            ou(idx, dt)
            x[idx] += v[idx] * dt
            t[idx] += dt
            acc = rng.random(idx.size) * psi_max < psi(y[idx])
            newv = s * rng.choice([-1.0, 1.0], size=idx.size)
            v[idx] = np.where(acc, newv, v[idx])
            tau[idx] = rng.exponential(1.0 / psi_max, size=idx.size)
        idx = np.arange(n)
        dt = T - t
        ou(idx, dt)
        x += v * dt
        t[:] = T
        tau -= dt
        out[j] = x
    return out


def simulate_limit(psi: Callable, times: ArrayLike, *, alpha: float = 0.0, n: int = 20000,
                   seed: montecarlo.SeedLike = 0, s: float = 1.0) -> np.ndarray:
    r"""Exact simulation of the limit kinetic model (1.1)-(1.3) with the kernel (1.12):
    tumbling rate :math:`\bar\Lambda(v) = \mathbb E[\psi(Z - \alpha v)]`, v uniform on
    {-s, s} after a tumble.  Start: stationary velocity law (density :math:`\propto
    1/\bar\Lambda`)."""
    rng = montecarlo.rng(seed)
    lam = {sg: gauss_mean(lambda z, sg=sg: psi(z - alpha * s * sg)) for sg in (-1.0, 1.0)}
    p_plus = (1 / lam[1.0]) / (1 / lam[1.0] + 1 / lam[-1.0])
    sg = np.where(rng.random(n) < p_plus, 1.0, -1.0)
    rate = np.where(sg > 0, lam[1.0], lam[-1.0])
    x = np.zeros(n)
    t = np.zeros(n)
    tau = rng.exponential(1.0, size=n) / rate
    out = np.empty((len(times), n))
    for j, T in enumerate(times):
        while True:
            idx = np.flatnonzero(t + tau < T)
            if idx.size == 0:
                break
            x[idx] += s * sg[idx] * tau[idx]
            t[idx] += tau[idx]
            sg[idx] = rng.choice([-1.0, 1.0], size=idx.size)
            rate[idx] = np.where(sg[idx] > 0, lam[1.0], lam[-1.0])
            tau[idx] = rng.exponential(1.0, size=idx.size) / rate[idx]
        dt = T - t
        x += s * sg * dt
        t[:] = T
        tau -= dt
        out[j] = x
    return out


def _mean_se(samples, n_batches=50):
    """Mean and batch-means standard error (batches of independent particles;
    :meth:`effcoef.models.montecarlo.MCEstimate.from_samples`)."""
    est = montecarlo.MCEstimate.from_samples(samples, n_batches)
    return est.value, est.stderr


def mc_diffusion(psi: Callable, eps: float, *, T1: float = 16.0, T2: float = 64.0, n: int = 20000,
                 seed: montecarlo.SeedLike = 1, s: float = 1.0) -> tuple:
    r"""D from the MSD slope :math:`(\langle x_{T_2}^2\rangle - \langle x_{T_1}^2\rangle)
    /(2(T_2-T_1))` (stationary start: unbiased up to :math:`e^{-\lambda_0 T_1}`).
    Returns (D, SE)."""
    X = simulate_internal(psi, eps, [T1, T2], n=n, seed=seed, s=s)
    return _mean_se((X[1] ** 2 - X[0] ** 2) / (2 * (T2 - T1)))


def mc_sensitivity(psi: Callable, eps: float, *, alpha: float = 0.1, T1: float = 16.0,
                   T2: float = 64.0, n: int = 20000, seed: montecarlo.SeedLike = 2,
                   s: float = 1.0) -> tuple:
    r"""chi from the symmetric difference of the drifts in the signals
    :math:`\pm\alpha x` (coupled by common random numbers), drift measured on
    :math:`[T_1, T_2]` after the burn-in :math:`T_1`.  Returns (chi, SE)."""
    Xp = simulate_internal(psi, eps, [T1, T2], alpha=alpha, n=n, seed=seed, s=s)
    Xm = simulate_internal(psi, eps, [T1, T2], alpha=-alpha, n=n, seed=seed, s=s)
    d = ((Xp[1] - Xp[0]) - (Xm[1] - Xm[0])) / (2 * alpha * (T2 - T1))
    return _mean_se(d)


def msd_statistics(psi: Callable, eps: float, times: ArrayLike, *, n: int = 20000,
                   seed: montecarlo.SeedLike = 3, s: float = 1.0) -> tuple:
    """MC mean-square displacement at ``times`` and its standard errors, for the
    internal-state model (eps > 0, stationary start) or the limit model (eps = 0)."""
    X = simulate_limit(psi, times, n=n, seed=seed, s=s) if eps == 0 else \
        simulate_internal(psi, eps, times, n=n, seed=seed, s=s)
    res = [_mean_se(xi ** 2) for xi in X]
    return np.array([r[0] for r in res]), np.array([r[1] for r in res])
