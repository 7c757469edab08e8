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
:math:`\langle f, g\rangle_M = \int\mu f g/\int\mu`).  The exact identity
:math:`K = E_M[r^2]/(d\theta) = \mathrm{Cov}_M(v)_{ii}/\theta` checks the series.
The discretisation is the 1D weighted one (:func:`effcoef.fem1d.weighted_fe` with
``radial_dim=d``), the spectrum the same shift-invert Lanczos.
"""

import math

import numpy as np
from scipy.linalg import solveh_banded

from .fem1d import adapted_nodes, weighted_fe
from .results import MatrixCoefficientResult, next_n_modes
from .spectrum import lanczos_modes

__all__ = ["radial_coefficients"]

_EPS = np.finfo(float).eps


def _limits(fe, dim, theta):
    """D_inf = <r, (-L_1)^{-1} r>_M / d by a banded Cholesky solve, K_inf = E[r^2]/(d theta)."""
    b = fe.load(fe.X)
    c = solveh_banded(fe.A.ab, b)
    return float(b @ c) / fe.Z / dim, fe.mean_square(fe.X) / (dim * theta)


def radial_coefficients(potential, theta, *, n_modes=None, degree=8, h_scale=1.5, tail=45.0,
                        rtol=1e-8, eigensolver="lanczos"):
    """D I and K I for a radial potential (a ``potentials.RadialPotential``); see module doc."""
    dim = int(potential.dim)
    if dim not in (2, 3):
        raise ValueError(f"radial potentials need dim 2 or 3, got {dim}")
    mi = potential.mass_interval(theta, tail)
    R = mi.b
    nodes = adapted_nodes(potential, theta, 0.0, R, h_scale=h_scale,
                          fixed=tuple(getattr(potential, "breakpoints", ())))
    fe = weighted_fe(potential, theta, nodes, mi.Wmin, degree=degree, radial_dim=dim)
    with np.errstate(all="ignore"):
        w2 = float(np.abs(potential.d2W(np.array([mi.vmin]))[0]))
    shift = max(w2 if np.isfinite(w2) else 0.0, theta * (dim - 1) / max(mi.vmin, R / 10) ** 2,
                10 * theta / R ** 2)
    auto = n_modes is None
    N = 12 if auto else int(n_modes)
    D_inf, K_inf = _limits(fe, dim, theta)
    while True:
        k = min(N, fe.n_dofs - 1)
        lam, C = lanczos_modes(fe.A, fe.B, k, shift=shift, engine=eigensolver)
        C = C * math.sqrt(fe.Z)
        vals, ders = fe.values(C)
        eta = -np.array([fe.mean(fe.X * vals[j]) for j in range(k)])
        omega = -np.array([fe.mean(ders[j] + (dim - 1) * vals[j] / fe.X) for j in range(k)])
        Dp = np.concatenate([[0.0], np.cumsum(eta ** 2 / lam)]) / dim
        Kp = np.concatenate([[0.0], np.cumsum(eta * omega / lam)]) / dim
        trunc = max(abs(Dp[-1] - D_inf) / D_inf, abs(Kp[-1] - K_inf) / K_inf)
        if not auto or trunc <= rtol / 10 or N >= 256 or k < N:
            break
        N = next_n_modes(Dp, Kp, D_inf, K_inf, rtol / 10)
    fe2 = weighted_fe(potential, theta, nodes, mi.Wmin, degree=degree + 2, radial_dim=dim)
    D2, K2 = _limits(fe2, dim, theta)
    w = eta ** 2 / lam
    comps = {
        "truncation": trunc,
        "discretisation": max(abs(D2 - D_inf) / D_inf, abs(K2 - K_inf) / K_inf),
        "eigensolver": float(np.sum(w * 100 * _EPS * shift / lam) / np.sum(w)),
        "domain": math.exp(-tail) * max(1.0, tail) ** 2,
    }
    I = np.eye(dim)
    lam_all = np.concatenate([[0.0], lam])
    return MatrixCoefficientResult(
        D=Dp[-1] * I, K=Kp[-1] * I, V=np.zeros(dim), theta=theta, dim=dim,
        K_cov=K_inf * I, eigenvalues=lam_all, eta=np.concatenate([[0.0], eta]),
        omega=np.concatenate([[0.0], omega]), D_partial=Dp[:, None, None] * I,
        K_partial=Kp[:, None, None] * I, D_inf=D_inf * I, K_inf=K_inf * I,
        rel_error_estimate=float(max(comps.values())), error_components=comps,
        error_method=("max of series truncation vs the exact discrete Poisson solve (l=1 "
                      f"channel), discretisation gap P{degree} vs P{degree + 2}, eigensolver "
                      "indicator, domain cut e^-tail"),
        rtol=rtol, n_dofs=fe.n_dofs, method="radial", domain=(0.0, R),
        info={"n_elements": len(nodes) - 1, "degree": degree, "shift": shift,
              "D_fine": D2, "K_fine": K2})
