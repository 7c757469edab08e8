r"""Radial potentials :math:`W(v) = w(|v|)` in dimension d = 2, 3: the l = 1 channel.

The data :math:`v_i` (for :math:`\chi_i`) and :math:`\partial_i W = w'(r)\,v_i/r` (for
:math:`\kappa_i`) both live in the l = 1 angular channel: with :math:`\chi_i = M g(r)\,v_i/r`
the generator :math:`\mathcal L = \theta\Delta - \nabla W\cdot\nabla` acts as

.. math:: \mathcal L\Big(g(r)\frac{v_i}{r}\Big) = \frac{v_i}{r}\,\mathcal L_1 g, \qquad
   \mathcal L_1 g = \frac{\theta}{r^{d-1}m}\big(r^{d-1} m\, g'\big)' - \theta\frac{d-1}{r^2}g,

self-adjoint and negative in :math:`L^2(\mu)`, :math:`\mu = r^{d-1}m(r)` on :math:`[0, R]`,
with :math:`g(0) = 0`; there is no kernel (the centrifugal term).  Since
:math:`\int_{S^{d-1}}\omega_i\omega_j = |S^{d-1}|\delta_{ij}/d`, :math:`\mathcal D = D\,I`,
:math:`\mathcal K = K\,I` with

.. math:: D = \frac1d\sum_k \frac{\eta_k^2}{\lambda_k},\quad
          K = \frac1d\sum_k \frac{\eta_k\omega_k}{\lambda_k},\quad
          \eta_k = -\langle r, g_k\rangle_M,\quad
          \omega_k = -\langle w'/\theta, g_k\rangle_M
                  = -\langle g_k' + (d-1)g_k/r, 1\rangle_M,

(:math:`-\mathcal L_1 g_k = \lambda_k g_k`, :math:`\langle g_k, g_k\rangle_M = 1`,
:math:`\langle f, g\rangle_M = \int\mu f g/\int\mu`).  Each :math:`\lambda_k` is a d-fold
eigenvalue of :math:`\mathcal H` with eigenfunctions
:math:`\Psi_{k,i} = \sqrt d\,\sqrt M\,g_k(r)\,v_i/r` (i = 1..d), whose Fourier coefficients
are :math:`\eta_{k,i} = \eta_k e_i/\sqrt d`; the result lists them with this multiplicity, so
that :math:`D^N = \sum \eta\otimes\eta/\lambda` as on every route (:mod:`effcoef.results`).
The completed values are :math:`D^\infty = \langle r, (-\mathcal L_1)^{-1} r\rangle_M/d`
(banded Cholesky with one step of iterative refinement) and
:math:`K^\infty = E_M[r^2]/(d\theta) = \mathrm{Cov}_M(v)_{ii}/\theta`.
The discretisation is the 1D weighted one (:func:`effcoef.fem1d.weighted_fe` with
``radial_dim=d``), the spectrum the same shift-invert Lanczos.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Union

import numpy as np
from scipy.linalg import cho_solve_banded, cholesky_banded

from potentials import RadialPotential

from .domain import LOG_UNDERFLOW, cut_bound, rounding_floor, select_interval
from .errors import EffcoefError
from .fem1d import adapted_nodes, evaluate_fe, weighted_fe
from .results import CoefficientResult, relative_error
from .series import lanczos_shift, run_series
from .spectrum import lanczos_modes

__all__ = ["radial_coefficients", "ModesRadial"]

_EPS = np.finfo(float).eps
#: default number of l = 1 channel eigenvalues (each listed d times in the result)
N_DEFAULT = 12


def _limits(fe, dim, theta):
    """D_inf = <r, (-L_1)^{-1} r>_M / d (banded Cholesky, one refinement step), its
    relative change under the refinement, K_inf = E[r^2]/(d theta), and the corrector g at
    the outer end (its last vertex dof)."""
    b = fe.load(fe.X)
    cb = cholesky_banded(fe.A.ab, lower=False)
    c = cho_solve_banded((cb, False), b)
    dc = cho_solve_banded((cb, False), b - fe.A @ c)
    c = c + dc
    D = float(b @ c) / fe.Z / dim
    change = abs(float(b @ dc)) / max(abs(float(b @ c)), 1e-300)
    return D, fe.mean_square(fe.X) / (dim * theta), change, float(c[-1])


@dataclass
class ModesRadial:
    r"""Evaluator of :math:`\Psi_0 = \sqrt M` and :math:`\Psi_{k,i} = \sqrt d\sqrt M g_k(r)v_i/r`."""

    potential: object
    theta: float
    dim: int
    Wmin: float
    log_Zc: float                 # log of the Cartesian normalisation |S^{d-1}| int mu
    nodes: np.ndarray
    degree: int
    vectors: np.ndarray           # (n_dofs, N) dof vectors of g_k (Dirichlet at 0)
    center: Any = None            # c of W(v) = w(|v - c|) (None: the origin)

    def __call__(self, V):
        V = np.asarray(V, dtype=float)
        if V.ndim == 1:
            V = V[:, None]
        if V.shape[0] != self.dim:
            raise ValueError(f"points must have shape ({self.dim}, npts), got {V.shape}")
        if self.center is not None:
            V = V - np.asarray(self.center, dtype=float)[:, None]
        r = np.sqrt(np.sum(V * V, axis=0))
        inside = (r >= self.nodes[0]) & (r <= self.nodes[-1])
        s = np.zeros_like(r)
        s[inside] = np.exp(-0.5 * ((self.potential.W(r[inside]) - self.Wmin) / self.theta
                                   + self.log_Zc))
        rows = [s]
        safe = np.where(r > 0, r, 1.0)
        for j in range(self.vectors.shape[1]):
            g = np.zeros_like(r)
            if np.any(inside):
                g[inside] = evaluate_fe(self.nodes, self.degree, self.nodes[0] == 0.0,
                                        self.vectors[:, j], r[inside])
            for i in range(self.dim):
                rows.append(math.sqrt(self.dim) * s * g * np.where(r > 0, V[i] / safe, 0.0))
        return np.array(rows)


@dataclass
class _Spectrum:
    lam: np.ndarray
    eta: np.ndarray
    omega: np.ndarray
    C: np.ndarray


def _kinks(potential) -> tuple:
    """The profile's breakpoints (kinks of w(r), e.g. abs(r - c)) at r > 0: mesh nodes, so that
    every element sees a smooth w (a kink inside an element spoils the degree gap estimate)."""
    prof = getattr(potential, "profile", potential)
    return tuple(float(b) for b in getattr(prof, "breakpoints", ()) if b > 0)


def radial_coefficients(potential: RadialPotential, theta: float, *,
                        n_modes: Union[None, int, str] = None, degree: int = 8,
                        h_scale: float = 1.5, tail: float = 45.0, rtol: float = 1e-8,
                        eigensolver: str = "lanczos") -> CoefficientResult:
    """D I and K I for a radial potential (a ``potentials.RadialPotential``); see module doc.

    ``n_modes`` counts eigenvalues of the l = 1 channel (default 12); the result lists each
    d times (``res.n_modes = d * n_modes``).
    """
    dim = int(potential.dim)
    if dim not in (2, 3):
        raise ValueError(f"radial potentials need dim 2 or 3, got {dim}")
    target = rtol / 20
    for _attempt in range(3):
        iv = select_interval(potential, theta, target=target, tail=tail, radial_dim=dim)
        r_lo, R = iv.a, iv.b
        if iv.max_level > LOG_UNDERFLOW:
            raise EffcoefError(
                f"{potential.name}: exp(-(W - Wmin)/theta) drops below e^-{iv.max_level:.0f} "
                f"inside the interval that carries D (a barrier of {iv.max_level:.0f} theta): "
                "the weights underflow double precision and D overflows")
        nodes = adapted_nodes(potential, theta, r_lo, R, h_scale=h_scale,
                              fixed=_kinks(potential),
                              samples=iv.edges[iv.ka:iv.kb + 1])
        fe = weighted_fe(potential, theta, nodes, iv.Wmin, degree=degree, radial_dim=dim)
        D_inf, K_inf, solve_change, g_end = _limits(fe, dim, theta)
        cut = cut_bound(iv, V=0.0, logZ=math.log(fe.Z), D=D_inf, K=K_inf, g_end=g_end)
        if max(cut.values()) <= rtol / 3:
            break
        target *= 1e-4
    with np.errstate(all="ignore"):
        w2 = float(np.abs(potential.d2W(np.array([iv.vmin]))[0]))
    shift = lanczos_shift(w2, theta, R,
                          centrifugal=theta * (dim - 1) / max(iv.vmin, R / 10) ** 2)

    def compute(N):
        k = min(N, fe.n_dofs - 1)
        lam, C = lanczos_modes(fe.A, fe.B, k, shift=shift, engine=eigensolver)
        C = C * math.sqrt(fe.Z)
        vals, ders = fe.values(C)
        eta = -np.array([fe.mean(fe.X * vals[j]) for j in range(k)])
        omega = -np.array([fe.mean(ders[j] + (dim - 1) * vals[j] / fe.X) for j in range(k)])
        I = np.eye(dim) / math.sqrt(dim)        # mode (k, i): eta_k e_i / sqrt(d)
        return _Spectrum(lam=np.repeat(lam, dim), eta=(eta[:, None, None] * I).reshape(-1, dim),
                         omega=(omega[:, None, None] * I).reshape(-1, dim), C=C)

    # n_modes counts channel eigenvalues: the series driver sees dim modes per eigenvalue
    n_req = n_modes if n_modes in (None, "auto") else int(n_modes)
    run = run_series(lambda N: compute(-(-N // dim)), D_inf=D_inf * np.eye(dim),
                     K_inf=K_inf * np.eye(dim), rtol=rtol, cap=256 * dim,
                     n_modes=n_req if n_req in (None, "auto") else dim * n_req,
                     default=dim * N_DEFAULT)
    spec = run.spectrum
    fe2 = weighted_fe(potential, theta, nodes, iv.Wmin, degree=degree + 2, radial_dim=dim)
    D2, K2, _, _ = _limits(fe2, dim, theta)
    comps = {
        "discretisation": max(relative_error(D2, D_inf), relative_error(K2, K_inf)),
        "domain": max(cut.values()),
        "linear_solve": solve_change,
        "rounding": rounding_floor(iv),
    }
    I = np.eye(dim)
    nk = spec.C.shape[1]
    ind = 100 * _EPS * shift / np.abs(spec.lam)
    S = 2 * math.pi if dim == 2 else 4 * math.pi
    modes = ModesRadial(potential=potential, theta=theta, dim=dim, Wmin=iv.Wmin,
                        log_Zc=math.log(S * fe.Z), nodes=fe.nodes, degree=degree,
                        vectors=spec.C)
    return CoefficientResult(
        dim=dim, D=D_inf * I, K=K_inf * I, V=np.zeros(dim), theta=theta, K_cov=K_inf * I,
        eigenvalues=np.concatenate([[0.0], spec.lam]),
        eta=np.concatenate([np.zeros((1, dim)), spec.eta]),
        omega=np.concatenate([np.zeros((1, dim)), spec.omega]),
        D_partial=run.D_partial, K_partial=run.K_partial,
        rel_error_estimate=float(max(comps.values())), error_components=comps,
        error_method=("max of the discretisation gap (P{0} vs P{1} on the same mesh, exact "
                      "discrete Poisson solutions of the l=1 channel), the bound of what the "
                      "interval cuts away (effcoef.domain; {2}) and the linear solve (change "
                      "under one step of iterative refinement)"
                      ).format(degree, degree + 2, "certified by interval arithmetic"
                               if iv.certified else "HEURISTIC: W sampled, no expression tree"),
        rtol=rtol, domain=(r_lo, R), n_dofs=fe.n_dofs, method="radial", D_is="completed",
        parity=None, eigenvalue_errors=np.concatenate([[0.0], ind]),
        info={"n_elements": len(nodes) - 1, "degree": degree, "shift": shift,
              "D_fine": D2, "K_fine": K2, "channel_modes": nk,
              "domain_certified": bool(iv.certified), "domain_note": iv.note,
              "domain_cut": cut, "vmin": iv.vmin},
        modes=modes)
