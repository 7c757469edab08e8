r"""Chemotaxis consumer (paper 003): hybrid Cucker-Smale particles with a diffusing chemical.

This module *uses* :func:`effcoef.coefficients` and the SDE tools of
:mod:`effcoef.models.swarming`; nothing in the solver core imports it.

1. The particle system (P) of paper 003 (eq. 1, 3-6)
----------------------------------------------------
N particles :math:`(x_i, v_i) \in \mathbb T_L^d \times \mathbb R^d`, d = 1, 2, on the
torus of period L (positions are stored *unwrapped* in :math:`\mathbb R^d`; every
field is L-periodic), and a chemical :math:`\varphi(t, x)`:

.. math::
    \dot x_i = v_i, \qquad
    \dot v_i = F_i = \frac{\beta}{N}\sum_{j=1}^N \psi(x_i - x_j)(v_j - v_i)
               + \eta\,\nabla\varphi(t, x_i) + F_{ext}(x_i)
               \;[-\nabla W(v_i) + \sqrt{2\theta}\,\dot B_i],

.. math::
    \partial_t\varphi = D_c\Delta\varphi - \kappa\varphi + f, \qquad
    f(x, X) = \frac{1}{N}\sum_{j=1}^N \chi(x - x_j), \qquad \varphi(0) = \varphi^{in}\ (= 0),

with the Cucker-Smale weight :math:`\psi(y) = (1 + |y|^2/R^2)^{-\sigma}` (minimal-image
distance on the torus) and the compactly supported source
:math:`\chi(x) = m_\chi \prod_a h^{-1} B_3(x_a/h)` (:math:`B_3` the centred cubic
B-spline on [-2, 2], so :math:`\chi \in C^2_c`, support :math:`|x_a| \le 2h`,
:math:`\int\chi = m_\chi`).  The sign is the particle ODE's, :math:`dv/dt = F`
(the Vlasov equations (13)/(V) as printed carry the sign of a force :math:`-\nu`;
the kinetic limit of (P) is
:math:`\partial_t\rho + v\cdot\nabla_x\rho + \nabla_v\cdot(\nu\rho) = 0`,
:math:`\nu = \beta\,\psi\star(\cdot) + \eta\nabla\psi^t + F_{ext}`).  The bracket is the
extension of section 3 below (friction and velocity noise), off by default.

The chemical is solved by Duhamel's formula (17), with the decay factor
:math:`e^{-\kappa(t-s)}`,

.. math::
    \varphi(t) = e^{-\kappa t}e^{tD_c\Delta}\varphi^{in}
                 + \int_0^t e^{-\kappa(t-s)} e^{(t-s)D_c\Delta} f(\cdot, X(s))\,ds,

mode by mode in Fourier space (:class:`PeriodicChemical`): with
:math:`\omega_k = 2\pi k/L`, :math:`k \in \{-K..K\}^d`,
:math:`\hat f_k = \frac{m_\chi}{L^d}\hat B(\omega_k)\frac1N\sum_j e^{-i\omega_k\cdot x_j}`
(the exact Fourier coefficients of f, :math:`\hat B(\omega) = \prod_a
\mathrm{sinc}^4(\omega_a h/2)`), and
:math:`\hat\varphi_k' = -\lambda_k\hat\varphi_k + \hat f_k`,
:math:`\lambda_k = D_c|\omega_k|^2 + \kappa`.  :math:`\nabla\varphi` is evaluated *at the
particles* from the modes (a non-uniform Fourier sum, no grid interpolation), so the
discrete model is itself a system (P) whose source kernel is the Fourier truncation of
:math:`\chi` (smooth, with Lipschitz gradient); the truncation changes
:math:`\nabla\varphi` by at most :meth:`PeriodicChemical.truncation_bound`.  The
deposition conserves mass exactly: :math:`L^d\hat f_0 = m_\chi`.

Time stepping (:func:`simulate`): Krogstad's exponential Runge-Kutta scheme ETDRK4-B on
the state :math:`(X, V, \hat\varphi)` - exact for the linear part of the chemical (and for
a source constant in time), classical RK4 for the particles (fourth order without
chemotaxis, order 2-3 with it: stiff order reduction, see :func:`simulate`).  With
noise, Strang splitting: a half kick :math:`v \mathrel{+}= \sqrt{\theta\,dt}\,\xi`
before and after each deterministic step (for the Ornstein-Uhlenbeck process the
stationary variance is then :math:`\theta(1 + O(dt^2))`).  All arrays carry a leading
replica axis: ``x`` has shape ``(R, N, d)``; R independent systems run at once.
*Tracers* are passive particles that feel the field of the system but do not act on
it: attached to a large-N reference run they follow the mean-field characteristics
(Sznitman's nonlinear process).

2. Mean-field limit: W2 of the one-particle law (Theorem 2.1)
--------------------------------------------------------------
Theorem 2.1 bounds :math:`W_2((\Phi_N^t\#(\rho^{in})^{\otimes N})_{N;1}, \rho^t)^2 \le
\tau(t) N^{-1/2}` (d = 1); with :math:`\eta = 0` the chemical term of the proof
vanishes (:math:`\beta(t) = 0` in (27)) and the remaining term (30) is
:math:`\alpha(t)^2/N`.  :func:`w2_convergence` measures, at time T, for each N and R
independent replicas with i.i.d. initial data :math:`Z_i^0 \sim \rho^{in}`:

* ``empirical``: :math:`E\,W_2^2(\mu_N^T, \rho^T_M)`, the empirical measure of one
  replica against the reference (POT exact transport, cost :math:`|x-y|^2 + |v-w|^2`).
  By convexity of :math:`W_2^2` and :math:`E\mu_N^T = (\Phi_N^T\#(\rho^{in})^{\otimes
  N})_{N;1}`, it bounds the theorem's quantity from above; it contains the i.i.d.
  sampling floor.
* ``floor``: the same for the N *tracers* started from the same :math:`Z_i^0` in the
  reference field: an exact i.i.d. sample of :math:`\rho^T` (common random numbers).
* ``excess`` = empirical - floor (paired per replica): the debiased estimate of the
  interaction-induced distance.
* ``coupling``: :math:`E|Z_1(T) - \bar Z_1(T)|^2`, particle vs its tracer.  Since
  :math:`(Z_1(T), \bar Z_1(T))` couples the one-particle law and :math:`\rho^T`, it is a
  rigorous upper bound of the theorem's :math:`W_2^2`.

The reference :math:`\rho^T_M` is the run with M deterministic "quantile" particles
(:meth:`MonokineticData.quantile`, the midpoint rule in the Lagrangian label), a
quadrature of the mean-field integrals with error :math:`O(M^{-2})`; the tracers
("mean-field twins") are interpolated in the Lagrangian label
(:func:`mean_field_tracers`) or simulated.  ``reference_check`` compares the twins of
the M- and M/2-particle references.  Quadratic control variates of the initial
fluctuation field (:func:`fluctuation_controls`) reduce the replica variance; rates are
fitted by :func:`fit_power_law`.  Measured (README): all four quantities decay like
:math:`N^{-1}`, with and without chemotaxis - within the paper's :math:`N^{-1/2}`.

Why monokinetic data: the mean-field solution stays on the graph
:math:`v = u^t(x)` (Corollary 2.2) while each replica carries an
:math:`O(N^{-1/2})` random, smooth, transverse velocity perturbation, so the
one-particle law is spread by :math:`O(N^{-1/2})` across the graph and all four
quantities scale like :math:`N^{-1}`.  (For a smooth :math:`\rho^{in}` the averaged
perturbation changes the marginal only at :math:`O(1/N)`, so its :math:`W_2^2` should be
:math:`O(N^{-2})` - a heuristic, not measured here.)

3. Extension: friction, noise and the Keller-Segel limit
--------------------------------------------------------
With friction :math:`-\nabla W(v)` and noise :math:`\sqrt{2\theta}\,dB` and a
chemical S, the kinetic equation is
:math:`\partial_t f + v\cdot\nabla_x f + \chi_0\nabla S\cdot\nabla_v f = Q(f)`,
:math:`Q(f) = \nabla_v\cdot(\nabla W f + \theta\nabla_v f)` (:math:`\chi_0 = \eta`).
In the diffusion scaling :math:`t = t'/\varepsilon^2`, :math:`x = x'/\varepsilon`, with a
chemical varying on the macroscopic scale (force :math:`O(\varepsilon)`) and chemical
parameters in macroscopic units, the Hilbert expansion
:math:`f = \rho M + \varepsilon f_1`, :math:`f_1 = \xi\cdot\nabla\rho - \chi_0\rho\,
\zeta\cdot\nabla S` with the solver's auxiliary functions (:math:`\chi` and
:math:`\kappa` of paper 004, renamed here to avoid the source kernel and the decay
rate) :math:`Q(\xi_j) = (v_j - V_j)M`, :math:`Q(\zeta_j) = \theta^{-1}\partial_jW\,M`,
gives the Keller-Segel system

.. math::
    \partial_t\rho = \nabla\cdot(D\nabla\rho - \chi_0\,\rho\,K\nabla S), \qquad
    \partial_t S = D_S\Delta S - \kappa_S S + \chi\star\rho,

with :math:`D = -\int (v - V)\xi^T`, :math:`K = -\int (v - V)\zeta^T = \mathrm{Cov}_M(v)/\theta`
from :func:`effcoef.coefficients` (scalars in 1D, matrices in 2D); for
:math:`V = \int vM \ne 0` the equation holds in the frame moving with V.  The
chemotactic drift is :math:`u = \chi_0 K\nabla S` - *up* the gradient.  Its particle
check (:func:`chemotactic_drift`): the velocity SDE
:math:`dv = (-\nabla W + \chi_0\nabla S)dt + \sqrt{2\theta}dB`, :math:`dr = v\,dt`, in a
fixed linear chemical :math:`S = g\cdot x`; the measured drift is the displacement per
unit time.  Its expectation is :math:`u(F) = \int v M_F`,
:math:`M_F \propto e^{-(W - F\cdot v)/\theta}` (exact stationary law), and
:math:`(u(F) - u(-F))/2 = KF + O(|F|^3)`; the estimator uses the symmetric difference
with common random numbers, and :math:`u(F)` is also computed by quadrature to show
that the :math:`O(F^3)` term is negligible.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

import potentials
from potentials.validation import check_positive, check_theta

from ..solver import coefficients
from . import montecarlo, swarming
from .montecarlo import MCEstimate

__all__ = [
    "HybridModel", "PeriodicChemical", "cubic_bspline", "HybridRun", "simulate",
    "MonokineticData", "w2_squared", "w2_squared_1d", "RateFit", "fit_power_law",
    "W2Convergence", "w2_convergence", "mean_field_tracers", "fluctuation_controls",
    "control_variate_estimate", "KellerSegelCoefficients",
    "keller_segel_coefficients", "ChemotacticDrift", "chemotactic_drift",
    "stationary_drift",
]


# ----------------------------------------------------------------------
# source kernel and chemical


def cubic_bspline(t: ArrayLike) -> np.ndarray:
    r"""Centred cubic B-spline :math:`B_3` on [-2, 2] (:math:`C^2`, :math:`\int B_3 = 1`).

    :math:`B_3(t) = 2/3 - t^2 + |t|^3/2` for :math:`|t| \le 1`,
    :math:`(2 - |t|)^3/6` for :math:`1 \le |t| \le 2`, 0 otherwise; Fourier transform
    :math:`\hat B_3(\xi) = \mathrm{sinc}^4(\xi/2)`.
    """
    a = np.abs(np.asarray(t, dtype=float))
    return np.where(a <= 1.0, 2.0 / 3.0 - a ** 2 + 0.5 * a ** 3,
                    np.where(a <= 2.0, (2.0 - np.minimum(a, 2.0)) ** 3 / 6.0, 0.0))


class PeriodicChemical:
    r"""Fourier-Galerkin solver of :math:`\varphi_t = D_c\Delta\varphi - \kappa\varphi + f`
    on :math:`[0, L)^d`.

    Real fields :math:`\varphi(x) = \mathrm{Re}\sum_{k\in H} w_k\hat\varphi_k e^{i\omega_k\cdot x}`
    over the half set H of :math:`\{-K..K\}^d` (k = 0 and the vectors whose last non-zero
    component is positive; :math:`w_0 = 1`, :math:`w_k = 2` otherwise), which is the full
    series :math:`\sum_k\hat\varphi_k e^{i\omega_k\cdot x}` with
    :math:`\hat\varphi_{-k} = \overline{\hat\varphi_k}`.

    Parameters
    ----------
    dim : {1, 2}
    length : float
        Period L.
    diffusion, kappa : float
        :math:`D_c \ge 0`, :math:`\kappa \ge 0`.
    n_modes : int
        K (modes :math:`|k_a| \le K` per axis).
    chi_width : float
        h of the source kernel :math:`\chi = m_\chi\prod_a h^{-1}B_3(x_a/h)`; the support
        :math:`4h` must be shorter than L.
    chi_mass : float
        :math:`m_\chi = \int\chi \ge 0`.
    """

    def __init__(self, dim: int, length: float, diffusion: float, kappa: float, n_modes: int,
                 chi_width: float = 0.125, chi_mass: float = 1.0) -> None:
        if dim not in (1, 2):
            raise ValueError(f"dim must be 1 or 2, got {dim!r}")
        self.dim = int(dim)
        self.length = check_positive(length, "length")
        self.diffusion = check_positive(diffusion, "diffusion", allow_zero=True)
        self.kappa = check_positive(kappa, "kappa", allow_zero=True)
        if int(n_modes) != n_modes or n_modes < 1:
            raise ValueError(f"n_modes must be a positive integer, got {n_modes!r}")
        self.n_modes = int(n_modes)
        self.chi_width = check_positive(chi_width, "chi_width")
        if 4 * self.chi_width >= self.length:
            raise ValueError(f"the support 4h = {4 * self.chi_width:g} of chi must be shorter "
                             f"than the period L = {self.length:g}")
        self.chi_mass = check_positive(chi_mass, "chi_mass", allow_zero=True)
        K = self.n_modes
        ax = np.arange(-K, K + 1)
        grids = np.meshgrid(*([ax] * dim), indexing="ij")
        k = np.stack([g.ravel() for g in grids], axis=1)          # (n, d)
        keep = np.zeros(len(k), bool)
        for i, kv in enumerate(k):
            nz = np.nonzero(kv)[0]
            keep[i] = nz.size == 0 or kv[nz[-1]] > 0
        self.k = k[keep]                                          # (M, d)
        self.weights = np.where(np.all(self.k == 0, axis=1), 1.0, 2.0)
        self.omega = (2.0 * math.pi / self.length) * self.k       # (M, d)
        self.rates = self.diffusion * np.sum(self.omega ** 2, axis=1) + self.kappa
        self.chi_hat = self.chi_mass * self.kernel_hat(self.omega)
        self.source_coef = self.chi_hat / self.length ** dim      # f_k = coef * mean_j e^{-i w x_j}
        self._idx = self.k + K                                    # per-axis phase indices
        self.zero_index = int(np.nonzero(np.all(self.k == 0, axis=1))[0][0])
        self._w1 = 2.0 * math.pi / self.length

    @property
    def n(self) -> np.ndarray:
        """Number of stored (half-set) modes."""
        return len(self.k)

    def kernel_hat(self, omega: ArrayLike) -> np.ndarray:
        r""":math:`\prod_a \mathrm{sinc}^4(\omega_a h/2)` (Fourier transform of the unit-mass kernel)."""
        z = 0.5 * self.chi_width * np.asarray(omega, dtype=float)
        return np.prod(np.sinc(z / math.pi) ** 4, axis=-1)

    def chi(self, x: ArrayLike) -> np.ndarray:
        r"""The source kernel :math:`\chi(x)` for points of shape ``(..., d)`` (not periodised)."""
        x = np.asarray(x, dtype=float)
        return self.chi_mass * np.prod(cubic_bspline(x / self.chi_width), axis=-1) \
            / self.chi_width ** self.dim

    def truncation_bound(self, gradient: bool = True) -> float:
        r"""Bound on the change of :math:`\sup|\nabla\varphi|` (or :math:`\sup|\varphi|`) by
        dropping the modes :math:`\max_a|k_a| > K`.

        For any source of the form :math:`\frac1N\sum_j\chi(\cdot - x_j)` and any t (with
        :math:`\varphi^{in} = 0`), :math:`|\hat\varphi_k| \le \sup|\hat f_k|/\lambda_k \le
        m_\chi|\hat B(\omega_k)|/(L^d\lambda_k)`, so the dropped modes change
        :math:`\nabla\varphi` by at most
        :math:`\sum_{k\notin\{-K..K\}^d}|\omega_k|\,m_\chi|\hat B(\omega_k)|/(L^d\lambda_k)`
        (``gradient=False``: without the factor :math:`|\omega_k|`); summed here up to
        :math:`|k_a| \le 40K`, the tail decays like :math:`|k|^{-5}`.  ``inf`` if
        :math:`\lambda_k = 0` for some dropped k.
        """
        K = self.n_modes
        big = 40 * K
        ax = np.arange(-big, big + 1)
        grids = np.meshgrid(*([ax] * self.dim), indexing="ij")
        k = np.stack([g.ravel() for g in grids], axis=1)
        k = k[np.max(np.abs(k), axis=1) > K]
        om = (2.0 * math.pi / self.length) * k
        lam = self.diffusion * np.sum(om ** 2, axis=1) + self.kappa
        if np.any(lam <= 0):
            return math.inf
        terms = np.abs(self.kernel_hat(om)) * self.chi_mass / (self.length ** self.dim * lam)
        if gradient:
            terms = terms * np.linalg.norm(om, axis=1)
        return float(terms.sum())

    # -- particles <-> modes -------------------------------------------
    def phases(self, x: ArrayLike) -> np.ndarray:
        r""":math:`e^{i\omega_k\cdot x}` for positions ``x`` of shape ``(..., d)`` -> ``(..., M)``.

        Per axis one complex exponential and its powers (cumulative products; the
        rounding error grows like K times the machine epsilon).
        """
        x = np.asarray(x, dtype=float)
        K = self.n_modes
        out = None
        for a in range(self.dim):
            base = np.exp(1j * self._w1 * x[..., a])
            pw = np.empty(x.shape[:-1] + (2 * K + 1,), complex)   # index k + K
            pw[..., K] = 1.0
            pw[..., K + 1:] = base[..., None]
            np.cumprod(pw[..., K + 1:], axis=-1, out=pw[..., K + 1:])
            if np.any(self.k[:, a] < 0):
                pw[..., :K] = np.conj(pw[..., K + 1:][..., ::-1])
            pa = pw[..., self._idx[:, a]]
            out = pa if out is None else out * pa
        return out

    def deposit(self, x: Optional[ArrayLike] = None, *,
                phases: Optional[ArrayLike] = None) -> np.ndarray:
        r"""Fourier coefficients :math:`\hat f_k` of :math:`f = \frac1N\sum_j\chi(\cdot - x_j)`.

        ``x`` has shape ``(R, N, d)`` (or pass ``phases``); returns ``(R, M)``.
        """
        E = self.phases(x) if phases is None else phases
        return self.source_coef * np.conj(E).mean(axis=-2)

    def evaluate(self, phi_hat: ArrayLike, x: Optional[ArrayLike] = None, *,
                 phases: Optional[ArrayLike] = None) -> np.ndarray:
        r""":math:`\varphi` at positions ``x`` ``(R, n, d)`` for modes ``phi_hat`` ``(R, M)``
        -> ``(R, n)``."""
        E = self.phases(x) if phases is None else phases
        return np.einsum("rnm,rm->rn", E, self.weights * phi_hat).real

    def gradient(self, phi_hat: ArrayLike, x: Optional[ArrayLike] = None, *,
                 phases: Optional[ArrayLike] = None) -> np.ndarray:
        r""":math:`\nabla\varphi` at positions ``x`` ``(R, n, d)`` -> ``(R, n, d)``."""
        E = self.phases(x) if phases is None else phases
        coef = 1j * (self.weights * phi_hat)[..., None] * self.omega   # (R, M, d)
        return np.einsum("rnm,rmd->rnd", E, coef).real

    def project(self, func: Callable, n_grid: Optional[int] = None) -> np.ndarray:
        r"""Modes of an L-periodic function ``func(x)`` (``x`` of shape ``(..., d)``) by FFT.

        Samples on an ``n_grid``:sup:`d` grid (default 4K) and keeps the modes
        :math:`|k_a| \le K`; returns shape ``(M,)``.
        """
        n = 4 * self.n_modes if n_grid is None else int(n_grid)
        if n <= 2 * self.n_modes:
            raise ValueError(f"n_grid = {n} must exceed 2K = {2 * self.n_modes}")
        g = np.arange(n) * (self.length / n)
        pts = np.stack(np.meshgrid(*([g] * self.dim), indexing="ij"), axis=-1)
        F = np.fft.fftn(np.asarray(func(pts), dtype=float)) / n ** self.dim
        return F[tuple((self.k % n).T)]

    def propagate(self, phi_hat: ArrayLike, t: float,
                  source_hat: Optional[ArrayLike] = None) -> np.ndarray:
        r"""Exact solution after time t with a source constant in time (Duhamel):

        :math:`\hat\varphi_k(t) = e^{-\lambda_k t}\hat\varphi_k(0)
        + \frac{1 - e^{-\lambda_k t}}{\lambda_k}\hat f_k` (:math:`t\hat f_k` if
        :math:`\lambda_k = 0`).
        """
        t = check_positive(t, "t", allow_zero=True)
        e = np.exp(-self.rates * t)
        out = e * phi_hat
        if source_hat is not None:
            lam = self.rates
            g = np.where(lam > 0, -np.expm1(-lam * t) / np.where(lam > 0, lam, 1.0), t)
            out = out + g * source_hat
        return out


# ----------------------------------------------------------------------
# model and integrator


@dataclass(frozen=True)
class HybridModel:
    r"""Parameters of the hybrid system (P) (see the module docstring).

    Attributes
    ----------
    dim : {1, 2}
    length : float
        Period L of the torus.
    beta, cs_radius, cs_exponent : float
        Cucker-Smale strength :math:`\beta \ge 0` and weight
        :math:`\psi(y) = (1 + |y|^2/R^2)^{-\sigma}`.
    eta : float
        Chemotactic sensitivity :math:`\eta \ge 0` (:math:`\chi_0` in the Keller-Segel limit).
    chem_diffusion, kappa : float
        :math:`D_c \ge 0`, :math:`\kappa \ge 0` of the chemical.
    chi_width, chi_mass : float
        Source kernel :math:`\chi = m_\chi\prod_a h^{-1}B_3(x_a/h)`.
    n_modes : int
        Fourier modes per axis, :math:`|k_a| \le K`; with :math:`\eta \ne 0` it must
        resolve the source kernel, :math:`K \ge L/h` (the cut-off then lies beyond the
        first zero of :math:`\mathrm{sinc}^4(\omega h/2)`; coarser truncations make the
        truncated kernel ring on the scale L/K and can turn attraction into repulsion).
    external_force : callable or None
        :math:`F_{ext}(x)`, ``(..., d) -> (..., d)``.
    friction : potential or None
        W of the friction :math:`-\nabla W(v)` (a ``potentials.Potential`` in d = 1,
        ``RadialPotential`` / ``PotentialND`` in d = 2).
    theta : float
        Noise temperature :math:`\theta \ge 0`.
    """

    dim: int = 1
    length: float = 8.0
    beta: float = 1.0
    cs_radius: float = 1.0
    cs_exponent: float = 1.0
    eta: float = 1.0
    chem_diffusion: float = 0.1
    kappa: float = 1.0
    chi_width: float = 0.125
    chi_mass: float = 1.0
    n_modes: int = 64
    external_force: Optional[Callable] = None
    friction: object = None
    theta: float = 0.0

    def __post_init__(self):
        if self.dim not in (1, 2):
            raise ValueError(f"dim must be 1 or 2, got {self.dim!r}")
        for name in ("beta", "eta", "cs_exponent", "theta"):
            check_positive(getattr(self, name), name, allow_zero=True)
        check_positive(self.cs_radius, "cs_radius")
        if self.external_force is not None and not callable(self.external_force):
            raise ValueError("external_force must be a callable x -> F(x) or None")
        if self.friction is not None:
            pd = 1 if isinstance(self.friction, potentials.Potential) else \
                getattr(self.friction, "dim", None)
            if pd != self.dim:
                raise ValueError(f"friction potential of dimension {pd} for a model of "
                                 f"dimension {self.dim}")
        if self.eta != 0 and self.n_modes * self.chi_width < self.length:
            raise ValueError(
                f"n_modes = {self.n_modes} does not resolve the source kernel: the truncated "
                f"chi rings on the scale L/K = {self.length / self.n_modes:g} > h = "
                f"{self.chi_width:g}; need n_modes >= length / chi_width = "
                f"{self.length / self.chi_width:g} when eta != 0")
        # validates length, diffusion, kappa, modes, chi
        PeriodicChemical(self.dim, self.length, self.chem_diffusion, self.kappa, self.n_modes,
                         self.chi_width, self.chi_mass)

    def chemical(self) -> PeriodicChemical:
        return PeriodicChemical(self.dim, self.length, self.chem_diffusion, self.kappa,
                                self.n_modes, self.chi_width, self.chi_mass)

    def psi(self, r2: ArrayLike) -> np.ndarray:
        r"""Cucker-Smale weight :math:`\psi` as a function of :math:`|y|^2` (reference implementation)."""
        s = 1.0 + np.asarray(r2) / self.cs_radius ** 2
        e = self.cs_exponent
        if e == 0:
            return np.ones_like(s)
        if e == 1:
            return 1.0 / s
        if e == 0.5:
            return 1.0 / np.sqrt(s)
        return s ** (-e)


@dataclass
class HybridRun:
    r"""Result of :func:`simulate`.

    Attributes
    ----------
    model : HybridModel
    t : float
        Final time.
    x, v : ndarray (R, N, d)
        Positions (unwrapped) and velocities at t.
    phi_hat : ndarray (R, M)
        Chemical modes at t (see :class:`PeriodicChemical`).
    tracer_x, tracer_v : ndarray (R, T, d)
        Passive tracers at t (T = 0 if none).
    dt : float
    n_steps : int
    times : ndarray
        Recorded times (``n_record`` + 1 of them, including 0 and t; empty if none).
    x_record, v_record : ndarray (n_times, R, N, d)
    seconds : float
        Wall time.
    """

    model: HybridModel
    t: float
    x: np.ndarray
    v: np.ndarray
    phi_hat: np.ndarray
    tracer_x: np.ndarray
    tracer_v: np.ndarray
    dt: float
    n_steps: int
    times: np.ndarray
    x_record: np.ndarray = field(repr=False)
    v_record: np.ndarray = field(repr=False)
    seconds: float = 0.0

    def chemical(self, points: ArrayLike) -> np.ndarray:
        r""":math:`\varphi(t)` at ``points`` ``(n, d)`` for every replica -> ``(R, n)``."""
        pts = np.asarray(points, dtype=float).reshape(1, -1, self.model.dim)
        ch = self.model.chemical()
        return ch.evaluate(self.phi_hat, np.broadcast_to(pts, (len(self.phi_hat),) + pts.shape[1:]))

    @property
    def momentum(self) -> np.ndarray:
        """Mean velocity per replica, shape (R, d)."""
        return self.v.mean(axis=1)


def _as_state(a, dim, name):
    a = np.asarray(a, dtype=float)
    if dim == 1 and a.ndim in (1, 2) and (a.ndim == 1 or a.shape[-1] != 1):
        a = a[..., None]
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3 or a.shape[-1] != dim:
        raise ValueError(f"{name} must have shape (R, N, {dim}) or (N, {dim}), got {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains non-finite values")
    return a.copy()


def _phi_functions(z):
    r""":math:`\varphi_1, \varphi_2, \varphi_3` of real :math:`z \le 0` (Taylor series for
    :math:`|z| < 1`)."""
    z = np.asarray(z, dtype=float)
    small = np.abs(z) < 1.0
    zs = np.where(small, z, 0.0)
    p1 = np.zeros_like(z)
    p2 = np.zeros_like(z)
    p3 = np.zeros_like(z)
    term = np.ones_like(z)
    for j in range(25):                      # z^j / j!
        p1 += term / (j + 1)
        p2 += term / ((j + 1) * (j + 2))
        p3 += term / ((j + 1) * (j + 2) * (j + 3))
        term = term * zs / (j + 1)
    zl = np.where(small, -1.0, z)
    q1 = np.expm1(zl) / zl
    q2 = (np.expm1(zl) - zl) / zl ** 2
    q3 = (np.expm1(zl) - zl - 0.5 * zl ** 2) / zl ** 3
    return (np.where(small, p1, q1), np.where(small, p2, q2), np.where(small, p3, q3))


class _Dynamics:
    """Right-hand side of (P) for replicated systems and attached tracers."""

    _CHUNK = 4_000_000   # pair entries per block of the direct Cucker-Smale sum

    def __init__(self, model: HybridModel):
        self.m = model
        self.chem = model.chemical()
        self.grad_w = None
        if model.friction is not None:
            th = model.theta if model.theta > 0 else (getattr(model.friction, "theta", None)
                                                       or 1.0)
            sde = swarming.VelocitySDE(model.friction, th)   # only its gradient is used
            d = model.dim

            def grad_w(V):
                flat = V.reshape(-1, d).T
                return sde.grad(flat).T.reshape(V.shape)
            self.grad_w = grad_w

    def cucker_smale(self, xt, vt, xs, vs):
        r""":math:`\frac{\beta}{N}\sum_j\psi(x_t - x_j)(v_j - v_t)` for targets (R,T,d), sources (R,N,d).

        Direct O(T N) sum per replica, in blocks of targets (in-place array operations;
        one matrix product gives :math:`\sum_j\psi v_j` and :math:`\sum_j\psi`).  The
        minimal-image convention is applied only if some distance can exceed L/2.
        """
        m = self.m
        R, T, d = xt.shape
        N = xs.shape[1]
        out = np.empty_like(vt)
        L = m.length
        lo = np.minimum(xt.min(axis=(0, 1)), xs.min(axis=(0, 1)))
        hi = np.maximum(xt.max(axis=(0, 1)), xs.max(axis=(0, 1)))
        wrap = bool(np.any(hi - lo >= 0.5 * L))
        vs1 = np.concatenate([vs, np.ones(vs.shape[:2] + (1,))], axis=2)   # (R, N, d+1)
        step = max(1, self._CHUNK // max(1, R * N))
        inv_r2 = 1.0 / m.cs_radius ** 2
        for a in range(0, T, step):
            b = min(T, a + step)
            r2 = None
            for c in range(d):
                dx = np.subtract(xt[:, a:b, None, c], xs[:, None, :, c])
                if wrap:
                    dx -= L * np.round(dx / L)
                np.square(dx, out=dx)
                if r2 is None:
                    r2 = dx
                else:
                    r2 += dx
            r2 *= inv_r2
            r2 += 1.0
            e = m.cs_exponent
            if e == 1:
                psi = np.reciprocal(r2, out=r2)
            elif e == 0.5:
                psi = np.reciprocal(np.sqrt(r2, out=r2), out=r2)
            elif e == 0:
                psi = np.ones_like(r2)
            else:
                psi = np.power(r2, -e, out=r2)
            sv = psi @ vs1                                           # (R, b-a, d+1)
            out[:, a:b] = (m.beta / N) * (sv[..., :d] - vt[:, a:b] * sv[..., d:])
        return out

    def accel(self, x, v, phi_hat, E, xs, vs):
        m = self.m
        acc = np.zeros_like(v)
        if x.shape[1] == 0:
            return acc
        if m.beta != 0:
            acc += self.cucker_smale(x, v, xs, vs)
        if m.eta != 0:
            acc += m.eta * self.chem.gradient(phi_hat, phases=E)
        if m.external_force is not None:
            acc += np.asarray(m.external_force(x), dtype=float).reshape(x.shape)
        if self.grad_w is not None:
            acc -= self.grad_w(v)
        return acc

    def __call__(self, state):
        x, v, p, xt, vt = state
        ch, eta = self.chem, self.m.eta
        # the Fourier sums are skipped when they are identically zero (no production, eta = 0)
        E = ch.phases(x) if (ch.chi_mass != 0 or eta != 0) else None
        s = ch.deposit(phases=E) if ch.chi_mass != 0 else np.zeros_like(p)
        a = self.accel(x, v, p, E, x, v)
        if xt.shape[1]:
            at = self.accel(xt, vt, p, ch.phases(xt) if eta != 0 else None, x, v)
        else:
            at = vt
        return (v, a, s, vt, at)


def simulate(model: HybridModel, x0: ArrayLike, v0: ArrayLike, t_final: float, dt: float, *,
             tracers: Optional[tuple] = None, phi0: Optional[ArrayLike] = None,
             seed: montecarlo.SeedLike = None, n_record: int = 0,
             progress: bool = False) -> HybridRun:
    r"""Integrate (P) from ``(x0, v0)`` (shape ``(R, N, d)``; ``(N, d)`` or ``(N,)`` in 1D) to ``t_final``.

    ``dt`` is rounded down so that an integer number of steps reaches ``t_final``.
    ``tracers = (xt, vt)`` of shape ``(R, T, d)`` are passive particles advected by the
    same field (Cucker-Smale with the N particles of their replica and
    :math:`\eta\nabla\varphi`) without acting on it.  ``phi0``: initial chemical modes
    ``(R, M)`` or ``(M,)`` (default 0, the paper's :math:`\varphi^{in} = 0`).  ``seed``:
    noise (only used if ``model.theta > 0``; tracers get their own independent noise).
    ``n_record``: number of equally spaced snapshots of x, v (besides t = 0).

    Exponential Runge-Kutta (Krogstad's ETDRK4-B, 2005) on :math:`(X, V, \hat\varphi)`:
    with :math:`z = -\lambda_k dt` and the functions :math:`\varphi_j` of z,
    stages :math:`a = e^{z/2}u + \frac{dt}2\varphi_1(z/2)N_u`,
    :math:`b = e^{z/2}u + \frac{dt}2\varphi_1(z/2)N_u + dt\,\varphi_2(z/2)(N_a - N_u)`,
    :math:`c = e^{z}u + dt\,\varphi_1(z)N_u + 2dt\,\varphi_2(z)(N_b - N_u)`, and
    :math:`u^+ = e^z u + dt[(\varphi_1 - 3\varphi_2 + 4\varphi_3)N_u
    + (2\varphi_2 - 4\varphi_3)(N_a + N_b) + (4\varphi_3 - \varphi_2)N_c]`.  For the
    particles (:math:`\lambda = 0`) this is classical RK4 (fourth order, measured with
    :math:`\eta = 0`); the chemical is exact for a source constant in time.  With
    :math:`\eta > 0` the stiff chemical modes (:math:`\lambda_k dt \gg 1`) feed back into the
    forces and the observed order drops to 2-3 at practical steps (the stiff order
    reduction of exponential integrators, Hochbruck & Ostermann 2005; Krogstad's scheme
    errs 3-5x less than Cox-Matthews' here): for the README experiment, :math:`10^{-5}`
    in v at dt = 0.05.
    """
    t0 = time.perf_counter()
    if not isinstance(model, HybridModel):
        raise ValueError("model must be a HybridModel")
    d = model.dim
    x = _as_state(x0, d, "x0")
    v = _as_state(v0, d, "v0")
    if x.shape != v.shape:
        raise ValueError(f"x0 and v0 have different shapes {x.shape} and {v.shape}")
    R = x.shape[0]
    t_final = check_positive(t_final, "t_final", allow_zero=True)
    dt = check_positive(dt, "dt")
    n_steps = max(1, int(math.ceil(t_final / dt - 1e-9))) if t_final > 0 else 0
    h = t_final / n_steps if n_steps else 0.0
    if tracers is None:
        xt = np.zeros((R, 0, d))
        vt = np.zeros((R, 0, d))
    else:
        xt = _as_state(tracers[0], d, "tracer positions")
        vt = _as_state(tracers[1], d, "tracer velocities")
        if xt.shape != vt.shape or xt.shape[0] != R:
            raise ValueError(f"tracers must have shape ({R}, T, {d}), got {xt.shape}, {vt.shape}")
    dyn = _Dynamics(model)
    ch = dyn.chem
    if phi0 is None:
        p = np.zeros((R, ch.n), complex)
    else:
        p = np.broadcast_to(np.asarray(phi0, complex), (R, ch.n)).copy()
    rng = montecarlo.rng(seed) if model.theta > 0 else None
    kick = math.sqrt(model.theta * h) if model.theta > 0 else 0.0
    if n_steps:
        z = -ch.rates * h
        E1, E2 = np.exp(z), np.exp(0.5 * z)
        h1, h2, _ = _phi_functions(0.5 * z)
        Q, Q2 = 0.5 * h * h1, h * h2                 # (h/2) phi_1(z/2), h phi_2(z/2)
        p1, p2, p3 = _phi_functions(z)
        P1, P2 = h * p1, 2 * h * p2                  # h phi_1(z), 2h phi_2(z)
        f1, f2, f3 = h * (p1 - 3 * p2 + 4 * p3), h * (p2 - 2 * p3), h * (4 * p3 - p2)
    rec_every = max(1, n_steps // n_record) if n_record else 0
    times, xr, vr = [], [], []
    if n_record:
        times.append(0.0)
        xr.append(x.copy())
        vr.append(v.copy())
    steps = range(n_steps)
    if progress:
        from tqdm.auto import tqdm
        steps = tqdm(steps, desc="hybrid particles", leave=False)
    for step in steps:
        if kick:
            v += kick * rng.standard_normal(v.shape)
            vt += kick * rng.standard_normal(vt.shape)
        u = (x, v, p, xt, vt)
        k1 = dyn(u)
        a = (x + 0.5 * h * k1[0], v + 0.5 * h * k1[1], E2 * p + Q * k1[2],
             xt + 0.5 * h * k1[3], vt + 0.5 * h * k1[4])
        k2 = dyn(a)
        b = (x + 0.5 * h * k2[0], v + 0.5 * h * k2[1], E2 * p + Q * k1[2] + Q2 * (k2[2] - k1[2]),
             xt + 0.5 * h * k2[3], vt + 0.5 * h * k2[4])
        k3 = dyn(b)
        c = (x + h * k3[0], v + h * k3[1], E1 * p + P1 * k1[2] + P2 * (k3[2] - k1[2]),
             xt + h * k3[3], vt + h * k3[4])
        k4 = dyn(c)
        x = x + (h / 6) * (k1[0] + 2 * k2[0] + 2 * k3[0] + k4[0])
        v = v + (h / 6) * (k1[1] + 2 * k2[1] + 2 * k3[1] + k4[1])
        xt = xt + (h / 6) * (k1[3] + 2 * k2[3] + 2 * k3[3] + k4[3])
        vt = vt + (h / 6) * (k1[4] + 2 * k2[4] + 2 * k3[4] + k4[4])
        p = E1 * p + f1 * k1[2] + 2 * f2 * (k2[2] + k3[2]) + f3 * k4[2]
        if kick:
            v += kick * rng.standard_normal(v.shape)
            vt += kick * rng.standard_normal(vt.shape)
        if not (np.all(np.isfinite(v)) and np.all(np.isfinite(x))):
            raise FloatingPointError(f"non-finite state at step {step + 1}: decrease dt")
        if n_record and ((step + 1) % rec_every == 0 or step + 1 == n_steps) \
                and len(times) <= n_record:
            times.append((step + 1) * h)
            xr.append(x.copy())
            vr.append(v.copy())
    return HybridRun(model, float(t_final), x, v, p, xt, vt, float(h), int(n_steps),
                     np.asarray(times), np.asarray(xr) if xr else np.zeros((0,) + x.shape),
                     np.asarray(vr) if vr else np.zeros((0,) + x.shape),
                     time.perf_counter() - t0)


# ----------------------------------------------------------------------
# initial data


@dataclass(frozen=True)
class MonokineticData:
    r"""Monokinetic initial law :math:`\rho^{in}(x, v) = \mu^{in}(x)\,\delta(v - u^{in}(x))` (Corollary 2.2).

    :math:`\mu^{in}` uniform on the box :math:`[a, b]^d` (``low``, ``high``) and
    :math:`u^{in}_j(x) = A\sin(\pi(x_j - c)/\ell) + U` (:math:`c = (a+b)/2`,
    :math:`\ell = (b-a)/2`; ``amplitude`` A, ``drift`` U), or a callable ``velocity_field``.
    """

    dim: int = 1
    low: float = -1.0
    high: float = 1.0
    amplitude: float = 0.5
    drift: float = 0.0
    velocity_field: Optional[Callable] = None

    def __post_init__(self):
        if self.dim not in (1, 2):
            raise ValueError(f"dim must be 1 or 2, got {self.dim!r}")
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.high > self.low):
            raise ValueError(f"need finite low < high, got {self.low!r}, {self.high!r}")

    def velocity(self, x: ArrayLike) -> np.ndarray:
        r""":math:`u^{in}(x)` for ``x`` of shape ``(..., d)``."""
        x = np.asarray(x, dtype=float)
        if self.velocity_field is not None:
            return np.asarray(self.velocity_field(x), dtype=float).reshape(x.shape)
        c, ell = 0.5 * (self.low + self.high), 0.5 * (self.high - self.low)
        return self.amplitude * np.sin(math.pi * (x - c) / ell) + self.drift

    def sample(self, shape: tuple, seed: montecarlo.SeedLike = None) -> tuple:
        r"""I.i.d. samples: returns ``(x, v)`` of shape ``shape + (d,)`` (e.g. ``shape = (R, N)``)."""
        rng = montecarlo.rng(seed)
        shape = tuple(np.atleast_1d(shape).astype(int))
        x = self.low + (self.high - self.low) * rng.random(shape + (self.dim,))
        return x, self.velocity(x)

    def quantile(self, n: int) -> tuple:
        r"""Deterministic 'quantile' particles: the midpoint rule in the Lagrangian label.

        d = 1: :math:`x_j = a + (b-a)(j - 1/2)/n`; d = 2: the tensor grid of
        :math:`m = \mathrm{round}(\sqrt n)` midpoints per axis (:math:`m^2` particles).
        Returns ``(x, v)`` of shape ``(1, n, d)``.
        """
        n = int(n)
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if self.dim == 1:
            x = self.low + (self.high - self.low) * (np.arange(n) + 0.5) / n
            x = x[:, None]
        else:
            m = max(1, int(round(math.sqrt(n))))
            g = self.low + (self.high - self.low) * (np.arange(m) + 0.5) / m
            x = np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1).reshape(-1, 2)
        return x[None], self.velocity(x)[None]


# ----------------------------------------------------------------------
# Wasserstein distances


def w2_squared(a: ArrayLike, b: ArrayLike, weights_a: Optional[ArrayLike] = None,
               weights_b: Optional[ArrayLike] = None) -> float:
    r""":math:`W_2^2` between two discrete measures on :math:`\mathbb R^m` by exact optimal transport (POT).

    ``a`` ``(n, m)``, ``b`` ``(k, m)`` (1D arrays are single coordinates); uniform
    weights unless given.  Cost :math:`|a_i - b_j|^2`; ``ot.emd2`` (network simplex)
    with a large iteration cap; raises if POT reports that it did not converge.
    """
    import ot
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a = a[:, None] if a.ndim == 1 else a
    b = b[:, None] if b.ndim == 1 else b
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1] or not len(a) or not len(b):
        raise ValueError(f"need two non-empty point sets of equal dimension, got {a.shape}, "
                         f"{b.shape}")
    wa = np.full(len(a), 1.0 / len(a)) if weights_a is None else np.asarray(weights_a, float)
    wb = np.full(len(b), 1.0 / len(b)) if weights_b is None else np.asarray(weights_b, float)
    if wa.shape != (len(a),) or wb.shape != (len(b),) or np.any(wa < 0) or np.any(wb < 0):
        raise ValueError("weights must be non-negative with one weight per point")
    wa, wb = wa / wa.sum(), wb / wb.sum()
    M = ot.dist(a, b)                       # squared Euclidean
    val, log = ot.emd2(wa, wb, M, numItermax=20_000_000, log=True)
    if log.get("warning"):
        raise RuntimeError(f"POT emd2 did not converge: {log['warning']}")
    return float(val)


def w2_squared_1d(a: ArrayLike, b: ArrayLike) -> float:
    r""":math:`W_2^2` of two equal-weight samples on the line, exactly, by the quantile coupling.

    :math:`\int_0^1|F_a^{-1}(u) - F_b^{-1}(u)|^2du` with piecewise constant quantile
    functions (sorted samples; breakpoints :math:`i/n` and :math:`j/m`).  Independent of POT.
    """
    a = np.sort(np.asarray(a, dtype=float).ravel())
    b = np.sort(np.asarray(b, dtype=float).ravel())
    if not len(a) or not len(b):
        raise ValueError("empty sample")
    n, m = len(a), len(b)
    u = np.unique(np.concatenate([np.arange(1, n + 1) / n, np.arange(1, m + 1) / m, [0.0]]))
    du = np.diff(u)
    mid = 0.5 * (u[1:] + u[:-1])
    i = np.minimum((mid * n).astype(int), n - 1)
    j = np.minimum((mid * m).astype(int), m - 1)
    return float(np.sum(du * (a[i] - b[j]) ** 2))


@dataclass
class RateFit:
    r"""Power law :math:`y = C N^{p}` fitted to estimates with standard errors (:func:`fit_power_law`).

    ``slope`` p with ``stderr`` (from the weighted least-squares covariance, inflated by
    :math:`\sqrt{\chi^2_{red}}` when that exceeds 1), ``prefactor`` C, ``chi2_red``,
    ``n_points``; ``local_slopes`` between consecutive points.
    """

    slope: float
    stderr: float
    prefactor: float
    chi2_red: float
    n_points: int
    local_slopes: np.ndarray

    def __format__(self, spec):
        return f"{self.slope:.3f} +- {self.stderr:.3f}"


def fit_power_law(n_values: ArrayLike, estimates: Sequence) -> RateFit:
    r"""Fit :math:`\log y = \log C + p\log N` with weights :math:`(y/\mathrm{se})^2` (delta method).

    ``estimates``: :class:`~effcoef.models.montecarlo.MCEstimate` objects (or ``(value, stderr)``
    pairs).  All values must be positive and at least three points are required.
    """
    n = np.asarray(n_values, dtype=float)
    vals = np.array([getattr(e, "value", None) if hasattr(e, "value") else e[0] for e in estimates],
                    float)
    ses = np.array([getattr(e, "stderr", None) if hasattr(e, "stderr") else e[1]
                    for e in estimates], float)
    if len(n) != len(vals) or len(n) < 3:
        raise ValueError(f"need at least three (N, estimate) pairs, got {len(n)}, {len(vals)}")
    if np.any(vals <= 0) or np.any(ses <= 0):
        raise ValueError(f"values and standard errors must be positive for a log-log fit: "
                         f"{vals}, {ses}")
    y = np.log(vals)
    s = ses / vals
    X = np.vstack([np.ones_like(n), np.log(n)]).T
    W = 1.0 / s ** 2
    cov = np.linalg.inv(X.T @ (W[:, None] * X))
    beta = cov @ (X.T @ (W * y))
    res = y - X @ beta
    dof = len(n) - 2
    chi2 = float(np.sum(W * res ** 2) / dof) if dof > 0 else 0.0
    se = math.sqrt(cov[1, 1] * max(1.0, chi2))
    local = np.diff(y) / np.diff(np.log(n))
    return RateFit(float(beta[1]), se, float(math.exp(beta[0])), chi2, len(n), local)


def _multi_indices(dim, degree):
    """Multi-indices alpha with 1 <= |alpha| <= degree (graded order)."""
    out = []
    for tot in range(1, degree + 1):
        if dim == 1:
            out.append((tot,))
        else:
            out.extend((a, tot - a) for a in range(tot, -1, -1))
    return out


def fluctuation_controls(u: np.ndarray, degree: int) -> np.ndarray:
    r"""Quadratic control variates of the initial fluctuation field (exact mean 0).

    ``u`` of shape ``(R, N, d)``: the initial positions mapped to :math:`[-1, 1]^d`, i.i.d.
    uniform.  With the orthonormal Legendre basis
    :math:`e_\alpha(u) = \prod_a\sqrt{2\alpha_a + 1}P_{\alpha_a}(u_a)`,
    :math:`1 \le |\alpha| \le` ``degree``, the projections
    :math:`C_\alpha = \sqrt N\,\frac1N\sum_j e_\alpha(u_j)` of
    :math:`\sqrt N(\mu_N^0 - \mu^{in})` satisfy :math:`E[C_\alpha C_\beta] = \delta_{\alpha\beta}`
    exactly, so :math:`Q_{\alpha\beta} = C_\alpha C_\beta - \delta_{\alpha\beta}`
    (:math:`\alpha \le \beta`) have mean zero.  Returns ``(R, q)``.
    """
    from numpy.polynomial import legendre
    R, N, d = u.shape
    idx = _multi_indices(d, degree)
    C = np.empty((R, len(idx)))
    for m, alpha in enumerate(idx):
        e = np.ones((R, N))
        for a, k in enumerate(alpha):
            if k:
                e = e * (math.sqrt(2 * k + 1) * legendre.legval(u[..., a], [0] * k + [1]))
        C[:, m] = math.sqrt(N) * e.mean(axis=1)
    cols = []
    for i in range(len(idx)):
        for j in range(i, len(idx)):
            cols.append(C[:, i] * C[:, j] - (1.0 if i == j else 0.0))
    return np.column_stack(cols)


def control_variate_estimate(y: ArrayLike, Q: ArrayLike, level: float = 0.95) -> MCEstimate:
    r"""Control-variate estimate of :math:`E y` from replicas ``y`` ``(R,)`` and zero-mean
    controls ``Q`` ``(R, q)``.

    The intercept of the least-squares fit :math:`y \approx c + Q b` (the classical
    regression estimator :math:`\bar y - \hat b^T\bar Q`); standard error from the
    residual variance, :math:`s^2 (X^TX)^{-1}_{00}` with :math:`R - q - 1` degrees of
    freedom, Student-t interval.  Its bias from estimating b is :math:`O(1/R)`.
    """
    y = np.asarray(y, dtype=float)
    Q = np.asarray(Q, dtype=float).reshape(len(y), -1)
    R, q = Q.shape
    dof = R - q - 1
    if dof < max(8, q):
        raise ValueError(f"{R} replicas are too few for {q} control variates "
                         f"(need R >= 2q + 1 and R - q - 1 >= 8)")
    X = np.column_stack([np.ones(R), Q])
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    res = y - X @ coef
    s2 = float(res @ res) / dof
    se = math.sqrt(s2 * np.linalg.inv(X.T @ X)[0, 0])
    return MCEstimate.from_stderr(float(coef[0]), se, dof, level, y)


@dataclass
class W2Convergence:
    r"""Result of :func:`w2_convergence` (see the module docstring, section 2).

    Attributes
    ----------
    n_values : ndarray
    empirical, floor, excess, coupling : list of MCEstimate
        Per N, estimates of the expectations over replicas of
        :math:`W_2^2(\mu_N^T, \rho^T_M)`, :math:`W_2^2(\bar\mu_N^T, \rho^T_M)` (tracers),
        their paired difference, and :math:`\frac1N\sum_i|Z_i - \bar Z_i|^2`: control-variate
        estimates (:func:`control_variate_estimate`) if ``control_degree > 0``, else plain
        means with standard errors from the replica spread.
    samples : list of dict
        Per N, the per-replica values (``empirical``, ``floor``, ``coupling``) and the
        controls ``Q`` (None without control variates).
    control_degree : int
    fit_excess, fit_coupling, fit_empirical : RateFit
    reference_check : float
        :math:`\max_i|\bar Z_i^{(M)} - \bar Z_i^{(M/2)}|^2` over all mean-field twins: the
        reference's trajectory error (enters ``coupling``; :math:`O(M^{-4})`).
    reference_quantization : float
        :math:`W_2^2(\rho^T_M, \rho^T_{M/2})`: the reference measure is M atoms; this
        quantisation enters ``empirical`` and ``floor`` alike and cancels in ``excess``
        to first order.
    n_replicas, n_reference : int
    t_final, dt : float
    model : HybridModel
    data : MonokineticData
    seconds : float
    """

    n_values: np.ndarray
    empirical: list
    floor: list
    excess: list
    coupling: list
    samples: list
    control_degree: int
    fit_excess: Optional[RateFit]
    fit_coupling: Optional[RateFit]
    fit_empirical: Optional[RateFit]
    reference_check: float
    reference_quantization: float
    n_replicas: int
    n_reference: int
    t_final: float
    dt: float
    model: HybridModel = field(repr=False)
    data: MonokineticData = field(repr=False)
    seconds: float = 0.0

    def table(self) -> str:
        """A plain-text table of the estimates."""
        rows = [f"{'N':>6} {'E W2^2(emp)':>20} {'floor (tracers)':>20} {'excess':>20} "
                f"{'E|Z - Zbar|^2':>20}"]
        for k, n in enumerate(self.n_values):
            rows.append(f"{int(n):6d} {self.empirical[k]:>20.4e} {self.floor[k]:>20.4e} "
                        f"{self.excess[k]:>20.4e} {self.coupling[k]:>20.4e}")
        for name in ("excess", "coupling", "empirical"):
            f = getattr(self, "fit_" + name)
            if f is not None:
                rows.append(f"slope {name}: {f.slope:.3f} +- {f.stderr:.3f} "
                            f"(chi2_red {f.chi2_red:.2f})")
        rows.append(f"reference: max |Zbar(M) - Zbar(M/2)|^2 = {self.reference_check:.1e}, "
                    f"W2^2(M atoms, M/2 atoms) = {self.reference_quantization:.1e}")
        return "\n".join(rows)


def _phase_space(x, v):
    return np.concatenate([x, v], axis=-1)


def mean_field_tracers(ref: HybridRun, data: MonokineticData, x0: np.ndarray) -> tuple:
    r"""Mean-field characteristics from initial positions ``x0`` (``(..., 1)``) by Lagrangian interpolation.

    For monokinetic data in d = 1 the characteristic from :math:`(x_0, u^{in}(x_0))` is the
    Lagrangian flow :math:`(X, V)(s, t)` at the label :math:`s = (x_0 - a)/(b - a)`; the
    quantile reference run (:meth:`MonokineticData.quantile`) samples it at
    :math:`s_j = (j - 1/2)/M`.  A cubic spline in s (not-a-knot, extrapolated over the
    half cells at both ends) gives :math:`O(M^{-4})` interpolation error for a smooth
    flow - far below the :math:`O(M^{-2})` error of the reference itself.  Returns
    ``(x, v)`` of the shape of ``x0``.  Equivalent to simulating the tracers in the
    reference field (``simulate(..., tracers=...)``), at a fraction of the cost.
    """
    from scipy.interpolate import CubicSpline
    if data.dim != 1 or ref.x.shape[0] != 1:
        raise ValueError("Lagrangian interpolation needs a 1D quantile reference (one replica)")
    M = ref.x.shape[1]
    sj = (np.arange(M) + 0.5) / M
    x0 = np.asarray(x0, dtype=float)
    s = (x0[..., 0] - data.low) / (data.high - data.low)
    if np.any(s < 0) or np.any(s > 1):
        raise ValueError("initial positions outside the support of the initial data")
    sx = CubicSpline(sj, ref.x[0, :, 0], extrapolate=True)
    sv = CubicSpline(sj, ref.v[0, :, 0], extrapolate=True)
    return sx(s)[..., None], sv(s)[..., None]


def w2_convergence(model: HybridModel, data: MonokineticData, n_values: Sequence[int], *,
                   n_replicas: int = 32, t_final: float = 1.0, dt: float = 0.05,
                   n_reference: int = 512, tracers: str = "interpolate", control_degree: int = 4,
                   seed: montecarlo.SeedLike = 0, progress: bool = False) -> W2Convergence:
    r"""W2 of the one-particle law at ``t_final`` against a mean-field reference, for each N.

    For each N in ``n_values``: ``n_replicas`` independent systems with i.i.d.
    initial data from ``data`` (one :class:`numpy.random.SeedSequence` child per N).
    The reference is one run with ``n_reference`` quantile particles (and one with
    ``n_reference // 2`` for ``reference_check``).  The mean-field twins of the replicas'
    particles (tracers, same initial data) are obtained by Lagrangian interpolation of
    the reference (``tracers="interpolate"``, d = 1, :func:`mean_field_tracers`) or by
    simulating them as passive particles of the reference run (``"simulate"``, any d).
    See the module docstring (section 2) for the estimators; power laws are fitted when
    at least three N are given and the estimates are positive.

    Variance reduction (``control_degree`` p > 0): to leading order in :math:`N^{-1/2}`
    the deviation :math:`Z_i - \bar Z_i` is linear in the initial fluctuation field
    :math:`\sqrt N(\mu_N^0 - \mu^{in})`, so the per-replica coupling and excess are close
    to quadratic forms in its Legendre projections :math:`C_\alpha`
    (:func:`fluctuation_controls`, :math:`|\alpha| \le p`), whose products have exactly
    known means; regressing on them removes most of the replica-to-replica spread
    (typically a 10-25x smaller variance) without changing the expectation.
    """
    t_start = time.perf_counter()
    if data.dim != model.dim:
        raise ValueError(f"data of dimension {data.dim} for a model of dimension {model.dim}")
    if int(control_degree) != control_degree or control_degree < 0:
        raise ValueError(f"control_degree must be an integer >= 0, got {control_degree!r}")
    if tracers not in ("interpolate", "simulate"):
        raise ValueError(f"tracers must be 'interpolate' or 'simulate', got {tracers!r}")
    if tracers == "interpolate" and data.dim != 1:
        raise ValueError("tracers='interpolate' is implemented for d = 1; use 'simulate'")
    ns = np.asarray(sorted(set(int(n) for n in n_values)))
    if len(ns) < 1 or ns[0] < 2:
        raise ValueError(f"n_values must be integers >= 2, got {n_values!r}")
    R = int(n_replicas)
    if R < 2:
        raise ValueError(f"n_replicas must be >= 2 for standard errors, got {n_replicas!r}")
    if int(n_reference) < 8:
        raise ValueError(f"n_reference must be >= 8, got {n_reference!r}")
    ss = np.random.SeedSequence(seed)
    children = ss.spawn(len(ns))
    inits = [data.sample((R, int(n)), np.random.default_rng(c)) for n, c in zip(ns, children)]
    d = model.dim

    def reference(m):
        xr, vr = data.quantile(m)
        if tracers == "simulate":
            xt = np.concatenate([x0.reshape(1, -1, d) for x0, _ in inits], axis=1)
            vt = np.concatenate([v0.reshape(1, -1, d) for _, v0 in inits], axis=1)
            ref = simulate(model, xr, vr, t_final, dt, tracers=(xt, vt), progress=progress)
            twins, off = [], 0
            for x0, _ in inits:
                k = x0.shape[0] * x0.shape[1]
                twins.append((ref.tracer_x[0, off:off + k].reshape(x0.shape),
                              ref.tracer_v[0, off:off + k].reshape(x0.shape)))
                off += k
        else:
            ref = simulate(model, xr, vr, t_final, dt, progress=progress)
            twins = [mean_field_tracers(ref, data, x0) for x0, _ in inits]
        return ref, twins

    ref, twins = reference(int(n_reference))
    half, twins_half = reference(max(1, int(n_reference) // 2))
    zref = _phase_space(ref.x[0], ref.v[0])
    ref_check = max(float(np.max(np.sum((_phase_space(*a) - _phase_space(*b)) ** 2, axis=-1)))
                    for a, b in zip(twins, twins_half))
    ref_quant = w2_squared(zref, _phase_space(half.x[0], half.v[0]))
    emp, flo, exc, cpl, samples = [], [], [], [], []
    p = int(control_degree)
    for (x0, v0), (xtw, vtw) in zip(inits, twins):
        run = simulate(model, x0, v0, t_final, dt, progress=progress)
        z = _phase_space(run.x, run.v)                          # (R, n, 2d)
        ztr = _phase_space(xtw, vtw)
        e = np.array([w2_squared(z[r], zref) for r in range(R)])
        f = np.array([w2_squared(ztr[r], zref) for r in range(R)])
        c = np.mean(np.sum((z - ztr) ** 2, axis=-1), axis=1)
        if p:
            Q = fluctuation_controls(2.0 * (x0 - data.low) / (data.high - data.low) - 1.0, p)

            def est(y, Q=Q):
                return control_variate_estimate(y, Q)
        else:
            Q = None
            est = MCEstimate.from_batches
        emp.append(est(e))
        flo.append(est(f))
        exc.append(est(e - f))
        cpl.append(est(c))
        samples.append({"empirical": e, "floor": f, "coupling": c, "Q": Q})

    def fit(est):
        if len(ns) < 3 or any(q.value <= 0 for q in est):
            return None
        return fit_power_law(ns, est)

    return W2Convergence(ns, emp, flo, exc, cpl, samples, p, fit(exc), fit(cpl), fit(emp),
                         float(ref_check), float(ref_quant),
                         R, int(n_reference), float(t_final), float(ref.dt), model, data,
                         time.perf_counter() - t_start)


# ----------------------------------------------------------------------
# Keller-Segel coefficients and the chemotactic drift


@dataclass
class KellerSegelCoefficients:
    r"""Coefficients of :math:`\rho_t = \nabla\cdot(D\nabla\rho - \chi_0\rho K\nabla S)`
    (module docstring, section 3).

    Attributes
    ----------
    D, K : float (1D) or (d, d) ndarray
        From :func:`effcoef.coefficients`.
    V : float or ndarray
        Mean velocity of the Maxwellian (0 for symmetric W).
    chi0 : float
        Chemotactic sensitivity (:math:`\eta` of (P)).
    sensitivity : float or ndarray
        :math:`\chi_0 K`, the coefficient of :math:`\rho\nabla S` in the flux.
    theta : float
    dim : int
    rel_error_estimate : float
    solver_result : object
        The full solver result.
    """

    D: object
    K: object
    V: object
    chi0: float
    sensitivity: object
    theta: float
    dim: int
    rel_error_estimate: float
    solver_result: object = field(repr=False)

    def drift(self, grad_S: ArrayLike) -> Union[float, np.ndarray]:
        r"""Chemotactic drift velocity :math:`u = \chi_0 K\nabla S` (vector of length d; float in 1D)."""
        g = np.atleast_1d(np.asarray(grad_S, dtype=float))
        if g.shape != (self.dim,):
            raise ValueError(f"grad_S must have {self.dim} components, got shape {g.shape}")
        u = np.atleast_2d(self.sensitivity) @ g
        return float(u[0]) if self.dim == 1 else u


def keller_segel_coefficients(pot: potentials.AnyPotential, theta: Optional[float] = None,
                              chi0: float = 1.0) -> KellerSegelCoefficients:
    r"""Keller-Segel diffusion D and chemotactic coefficient :math:`\chi_0 K` from the solver.

    ``pot``: friction potential W (``potentials.Potential`` in 1D, ``RadialPotential`` or
    ``PotentialND`` in 2D/3D); ``theta``: noise temperature (default ``pot.theta``);
    ``chi0``: chemotactic sensitivity :math:`\chi_0 = \eta` (finite, may be negative for
    chemorepulsion).
    """
    theta = potentials.theta_of(pot, theta)
    chi0 = float(chi0)
    if not math.isfinite(chi0):
        raise ValueError(f"chi0 must be finite, got {chi0!r}")
    res = coefficients(pot, theta=theta)
    if isinstance(pot, potentials.Potential):
        D, K, V, dim = float(res.D), float(res.K), float(res.V), 1
    else:
        D, K, V, dim = np.asarray(res.D), np.asarray(res.K), np.asarray(res.V), int(res.dim)
    return KellerSegelCoefficients(D, K, V, chi0, chi0 * K, theta, dim,
                                   float(res.rel_error_estimate), res)


def stationary_drift(pot: potentials.AnyPotential, theta: float,
                     force: ArrayLike) -> Union[float, np.ndarray]:
    r"""Exact mean velocity :math:`u(F) = \int v\,M_F\,dv` of the tilted Maxwellian
    :math:`M_F \propto e^{-(W - F\cdot v)/\theta}`.

    1D: trapezoidal quadrature on a fine grid over the (widened) mass interval.  Radial
    W in d = 2: :math:`u = \hat F\int r^2e^{-w/\theta}I_1(|F|r/\theta)dr /
    \int r e^{-w/\theta}I_0(|F|r/\theta)dr` (exponentially scaled Bessel functions);
    d = 3: :math:`u = \hat F\int r^3e^{-w/\theta}(\cosh a/a - \sinh a/a^2)dr /
    \int r^2e^{-w/\theta}\sinh a/a\,dr`, :math:`a = |F|r/\theta` (the angular integrals
    in closed form; radial trapezoidal rule on 200001 points up to 1.5 times the mass radius).
    Returns a float (1D) or an array of length d.
    """
    from scipy.special import i0e, i1e
    theta = check_theta(theta)
    F = np.atleast_1d(np.asarray(force, dtype=float))
    trap = getattr(np, "trapezoid", None) or np.trapz
    if isinstance(pot, potentials.Potential):
        if F.shape != (1,):
            raise ValueError("force must be a scalar for a 1D potential")
        mi = pot.mass_interval(theta)
        w = mi.b - mi.a
        v = np.linspace(mi.a - 0.5 * w, mi.b + 0.5 * w, 200_001)
        ex = -(pot.W(v) - mi.Wmin - F[0] * v) / theta
        wgt = np.exp(ex - ex.max())
        return float(trap(v * wgt, v) / trap(wgt, v))
    if isinstance(pot, potentials.RadialPotential):
        d = pot.dim
        if F.shape != (d,):
            raise ValueError(f"force must have {d} components")
        f = float(np.linalg.norm(F))
        if f == 0:
            return np.zeros(d)
        mi = pot.mass_interval(theta)
        r = np.linspace(0.0, 1.5 * mi.b, 200_001)
        a = f * r / theta
        base = -(pot.W(r) - mi.Wmin) / theta + a      # scaled by e^{a}
        base -= base.max()
        if d == 2:
            num = trap(r ** 2 * np.exp(base) * i1e(a), r)
            den = trap(r * np.exp(base) * i0e(a), r)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                # e^{-a} sinh(a)/a and e^{-a}(cosh a/a - sinh a/a^2)
                sh = np.where(a > 1e-8, -np.expm1(-2 * a) / (2 * a), 1.0)
                lang = np.where(a > 1e-4, (1 + np.exp(-2 * a)) / 2 / a - sh / a, a / 3)
            num = trap(r ** 3 * np.exp(base) * lang, r)
            den = trap(r ** 2 * np.exp(base) * sh, r)
        return (num / den) * F / f
    raise ValueError("stationary_drift supports potentials.Potential and RadialPotential")


@dataclass
class ChemotacticDrift:
    r"""Result of :func:`chemotactic_drift`.

    Attributes
    ----------
    drift : list of MCEstimate
        Per component, the measured drift :math:`(\Delta r^+ - \Delta r^-)/(2T)`.
    along : MCEstimate
        Its component along :math:`\nabla S`, :math:`u\cdot\nabla S/|\nabla S|`.
    predicted : ndarray
        :math:`\chi_0 K\nabla S` with the solver's K (linear response).
    predicted_along : float
    exact : ndarray or None
        :math:`(u(F) - u(-F))/2` by quadrature (:func:`stationary_drift`): the exact
        expectation of the estimator in the long-time limit.
    z : float
        z-score of ``along`` against ``predicted_along``.
    z_components : ndarray
    force : ndarray
        :math:`F = \chi_0\nabla S`.
    timestep_bias : float
        Heuristic relative O(dt) bias of Euler-Maruyama
        (:func:`effcoef.models.swarming.timestep_bias_estimate`).
    t_burn, t_avg, dt : float
    n_particles : int
    seconds : float
    """

    drift: list
    along: MCEstimate
    predicted: np.ndarray
    predicted_along: float
    exact: Optional[np.ndarray]
    z: float
    z_components: np.ndarray
    force: np.ndarray
    timestep_bias: float
    t_burn: float
    t_avg: float
    dt: float
    n_particles: int
    seconds: float


def chemotactic_drift(pot: potentials.AnyPotential, theta: Optional[float] = None, *,
                      chi0: float = 1.0, grad_S: Optional[ArrayLike] = None,
                      n_particles: int = 2000, t_burn: Optional[float] = None,
                      t_avg: Optional[float] = None, burn_factor: float = 5.0,
                      avg_factor: float = 10.0, dt: Optional[float] = None, method: str = "sde",
                      n_batches: int = 40, seed: montecarlo.SeedLike = 0,
                      progress: bool = False) -> ChemotacticDrift:
    r"""Particle drift up a fixed chemical gradient vs :math:`\chi_0 K\nabla S` from the solver.

    The velocity SDE :math:`dv = (-\nabla W(v) + \chi_0\nabla S)dt + \sqrt{2\theta}dB`,
    :math:`dr = v\,dt` (:class:`effcoef.models.swarming.VelocitySDE`, Euler-Maruyama, trapezoidal
    positions) with :math:`S = g\cdot x` (``grad_S`` = g, default a 1% perturbation of the
    exponent at one standard deviation of v, along :math:`e_1`).  ``n_particles``
    velocities from the exact Maxwellian M, two ensembles driven by :math:`\pm\chi_0 g`
    with *identical* Brownian increments (common random numbers: two generators with the
    same seed), burn-in ``t_burn`` (default ``burn_factor``/:math:`\lambda_1`, the
    response relaxes like :math:`e^{-\lambda_1 t}`), then the displacement over ``t_avg``
    (default ``avg_factor``/:math:`\lambda_1`).  Per particle
    :math:`(\Delta r^+ - \Delta r^-)/(2\,t_{avg})`; standard errors from ``n_batches``
    batches of independent particles.

    ``method="hybrid"`` runs the same experiment through this module's own integrator
    (:func:`simulate` with friction W, noise :math:`\theta`, no alignment, :math:`\eta = 0`,
    no production and the constant external force :math:`F_{ext} = \pm\chi_0 g` - a
    linear chemical is not periodic, so it enters as the force it exerts): Strang-split
    RK4, an integrator independent of the Euler-Maruyama one of ``"sde"``.  Default
    ``dt``: 2e-3 (``"sde"``), 2e-2 (``"hybrid"``).
    """
    t0 = time.perf_counter()
    sde = swarming.VelocitySDE(pot, theta)
    theta = sde.theta
    ks = keller_segel_coefficients(pot, theta, chi0)
    d = sde.dim
    lam1 = float(ks.solver_result.eigenvalues[1])
    t_burn = (burn_factor / lam1 if t_burn is None
              else check_positive(t_burn, "t_burn", allow_zero=True))
    t_avg = avg_factor / lam1 if t_avg is None else check_positive(t_avg, "t_avg")
    if ks.chi0 == 0:
        raise ValueError("chi0 = 0: there is no chemotactic drift to measure")
    if grad_S is None:
        sv = math.sqrt(sde.equilibrium_mean(lambda s: s ** 2) / d)
        grad_S = np.zeros(d)
        grad_S[0] = 0.1 * theta / sv / ks.chi0
    g = np.atleast_1d(np.asarray(grad_S, dtype=float))
    if g.shape != (d,) or not np.all(np.isfinite(g)) or not np.any(g != 0):
        raise ValueError(f"grad_S must be a non-zero finite vector of length {d}, got {grad_S!r}")
    F = ks.chi0 * g
    ss = np.random.SeedSequence(seed)
    s_init, s_noise = ss.spawn(2)
    v0 = sde.sample_equilibrium(int(n_particles), np.random.default_rng(s_init))
    if method not in ("sde", "hybrid"):
        raise ValueError(f"method must be 'sde' or 'hybrid', got {method!r}")
    if method == "hybrid" and d not in (1, 2):
        raise ValueError("method='hybrid' needs d = 1 or 2")
    dt = (2e-3 if method == "sde" else 2e-2) if dt is None else check_positive(dt, "dt")
    n_burn = int(round(t_burn / dt))
    n_avg = max(1, int(round(t_avg / dt)))
    disp = []
    for sign in (1.0, -1.0):
        rng = np.random.default_rng(s_noise)     # identical increments for +F and -F
        if method == "sde":
            v = v0.copy()
            r = np.zeros_like(v)
            v, r = sde.run(v, r, n_burn, dt, rng, force=sign * F, progress=progress,
                           desc="chemotactic drift (burn-in)")
            r = np.zeros_like(v)
            v, r = sde.run(v, r, n_avg, dt, rng, force=sign * F, progress=progress,
                           desc="chemotactic drift")
            disp.append(r)
        else:
            Fs = sign * F

            def fext(x, Fs=Fs):
                return np.broadcast_to(Fs, x.shape)
            model = HybridModel(dim=d, beta=0.0, eta=0.0, chi_mass=0.0, n_modes=1,
                                chi_width=0.1, length=1.0, external_force=fext,
                                friction=pot, theta=theta)
            x = np.zeros((1, v0.shape[1], d))
            v = v0.T[None].copy()
            if n_burn:
                run = simulate(model, x, v, n_burn * dt, dt, seed=rng, progress=progress)
                v = run.v
            run = simulate(model, x, v, n_avg * dt, dt, seed=rng, progress=progress)
            disp.append(run.x[0].T)
    per = (disp[0] - disp[1]) / (2.0 * n_avg * dt)               # (d, n)
    comps = [MCEstimate.from_batches(montecarlo.batch_means(per[i], n_batches)) for i in range(d)]
    ghat = g / np.linalg.norm(g)
    along = MCEstimate.from_batches(montecarlo.batch_means(ghat @ per, n_batches))
    pred = np.atleast_1d(ks.drift(g)).astype(float)
    try:
        up = np.atleast_1d(stationary_drift(pot, theta, F if d > 1 else F[0]))
        um = np.atleast_1d(stationary_drift(pot, theta, -F if d > 1 else -F[0]))
        exact = 0.5 * (up - um)
    except ValueError:
        exact = None
    if method == "sde" and (d == 1 or isinstance(pot, potentials.RadialPotential)):
        bias = swarming.timestep_bias_estimate(pot, theta, dt)
    else:
        bias = float("nan")
    pa = float(ghat @ pred)
    return ChemotacticDrift(comps, along, pred, pa, exact, along.zscore(pa),
                            np.array([c.zscore(p) for c, p in zip(comps, pred)]), F,
                            float(bias), float(t_burn), float(t_avg), float(dt),
                            int(n_particles), time.perf_counter() - t0)
