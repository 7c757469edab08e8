r"""Independent reference for general 2D potentials: Chebyshev collocation of the generator.

A discretisation of a different kind from the finite elements of :mod:`effcoef.fend`
(strong form, global polynomials, no weight in the matrix, no eigensolver): with
:math:`\chi = M\varphi`, :math:`Q(M\varphi) = M\,L\varphi` for the generator
:math:`L = \theta\Delta - \nabla W\cdot\nabla`, so

.. math:: L\varphi_j = v_j - \mathcal V_j, \qquad
          \mathcal D_{ij} = -\mathbb E_M[(v_i - \mathcal V_i)\varphi_j], \qquad
          L\kappa_j = \theta^{-1}\partial_j W, \qquad
          \mathcal K_{ij} = -\mathbb E_M[(v_i - \mathcal V_i)\kappa_j].

L is collocated on the tensor Chebyshev-Gauss-Lobatto grid of the box where
:math:`(W - W_{\min})/\theta \le` ``tail`` (``potentials.PotentialND.mass_box``), with the
zero-flux (Neumann) condition :math:`\partial_n\varphi = 0` on the boundary (the natural
condition of the truncated problem; it creates a layer of width :math:`\theta/|\partial_n W|`
where :math:`M \sim e^{-\mathrm{tail}}`, resolved by the clustering of the Chebyshev points).
The constants (the kernel) are fixed by bordering: :math:`L\varphi + c = f`,
:math:`\sum\varphi = 0` (c is the spectrally small incompatibility of the collocated data).
``K`` converges more slowly than ``D`` (its data :math:`\partial_j W/\theta` grow fast in
the tails); ``K_cov`` is the identity :math:`\mathcal K = \mathrm{Cov}_M(v)/\theta` by
quadrature.  The moments :math:`Z`, :math:`\mathcal V` and the expectations are
Gauss-Legendre tensor quadratures (composite, ``n_quad`` points per axis) of
:math:`e^{-(W - W_{\min})/\theta}` times the barycentric interpolant of :math:`\varphi`.

Dense linear algebra on :math:`(n+1)^2` unknowns: n = 48..72 in a few seconds.  Imports
numpy, scipy and ``potentials`` only (never the finite element or eigensolver code).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import lu_factor, lu_solve

from potentials import PotentialND

__all__ = ["SpectralReference", "chebyshev_coefficients"]


@dataclass
class SpectralReference:
    """D, K (2x2), V (2,), K_cov = Cov_M(v)/theta (Gauss quadrature) and the discretisation."""

    D: np.ndarray
    K: np.ndarray
    V: np.ndarray
    K_cov: np.ndarray
    n: int
    box: tuple
    incompatibility: float


def _cheb(n, a, b):
    """Chebyshev-Gauss-Lobatto points on [a, b] (ascending) and the differentiation matrix."""
    k = np.arange(n + 1)
    x = -np.cos(np.pi * k / n)
    c = np.where((k == 0) | (k == n), 2.0, 1.0) * (-1.0) ** k
    X = x[:, None] - x[None, :]
    Dm = np.outer(c, 1.0 / c) / (X + np.eye(n + 1))
    Dm -= np.diag(Dm.sum(axis=1))
    s = 2.0 / (b - a)
    return a + (x + 1.0) / s, Dm * s


def _bary_matrix(x, t):
    """Barycentric interpolation matrix from Chebyshev-Lobatto points x to points t."""
    n = len(x) - 1
    w = (-1.0) ** np.arange(n + 1)
    w[0] *= 0.5
    w[-1] *= 0.5
    d = t[:, None] - x[None, :]
    exact = np.abs(d) < 1e-15
    d[exact] = 1.0
    T = w[None, :] / d
    T /= T.sum(axis=1, keepdims=True)
    rows = np.nonzero(exact.any(axis=1))[0]
    T[rows] = exact[rows].astype(float)
    return T


def _quad(a, b, n_panels, order=16):
    g, w = np.polynomial.legendre.leggauss(order)
    edges = np.linspace(a, b, n_panels + 1)
    h = np.diff(edges)
    x = (0.5 * (edges[:-1] + edges[1:])[:, None] + 0.5 * h[:, None] * g[None, :]).ravel()
    return x, (0.5 * h[:, None] * w[None, :]).ravel()


def chebyshev_coefficients(potential: PotentialND, theta: float, *, n: int = 56,
                           tail: float = 36.0, n_quad: int = 480) -> SpectralReference:
    r"""D, K and V of a 2D ``potentials.PotentialND`` by Chebyshev collocation (module doc).

    ``n``: polynomial degree per axis; ``tail``: box level; ``n_quad``: Gauss points per
    axis of the expectations.  Compare two values of n to see the convergence.
    """
    if int(potential.dim) != 2:
        raise ValueError("the Chebyshev reference is two-dimensional")
    box = potential.mass_box(theta, tail)
    lo, hi = np.asarray(box.lower, float), np.asarray(box.upper, float)
    x, Dx = _cheb(n, lo[0], hi[0])
    y, Dy = _cheb(n, lo[1], hi[1])
    I = np.eye(n + 1)
    X, Y = np.meshgrid(x, y, indexing="ij")
    G = np.array([X, Y])
    g = potential.grad(G).reshape(2, -1)
    D1 = np.kron(Dx, I)
    D2 = np.kron(I, Dy)
    L = theta * (np.kron(Dx @ Dx, I) + np.kron(I, Dy @ Dy)) - g[0][:, None] * D1 \
        - g[1][:, None] * D2
    # zero-flux condition: normal derivative on the faces (x-faces take the corners)
    xf = np.zeros((n + 1, n + 1), bool)
    xf[[0, -1], :] = True
    yf = np.zeros((n + 1, n + 1), bool)
    yf[:, [0, -1]] = True
    yf &= ~xf
    L[xf.ravel()] = D1[xf.ravel()]
    L[yf.ravel()] = D2[yf.ravel()]
    bnd = (xf | yf).ravel()
    N = (n + 1) ** 2
    Mb = np.zeros((N + 1, N + 1))
    Mb[:N, :N] = L
    Mb[:N, N] = np.where(bnd, 0.0, 1.0)
    Mb[N, :N] = 1.0
    lu = lu_factor(Mb, check_finite=False)
    # expectations on a composite Gauss grid
    qx, wx = _quad(lo[0], hi[0], max(n_quad // 16, 1))
    qy, wy = _quad(lo[1], hi[1], max(n_quad // 16, 1))
    QX, QY = np.meshgrid(qx, qy, indexing="ij")
    W = potential.W(np.array([QX, QY]))
    with np.errstate(under="ignore", over="ignore"):
        m = np.exp(-(W - float(box.Wmin)) / theta) * np.outer(wx, wy)
    Z = m.sum()
    V = np.array([(m * QX).sum(), (m * QY).sum()]) / Z
    rhs = np.zeros((N + 1, 4))
    for j in range(2):
        rhs[:N, j] = np.where(bnd, 0.0, G[j].ravel() - V[j])
        rhs[:N, 2 + j] = np.where(bnd, 0.0, g[j] / theta)
    sol = lu_solve(lu, rhs, check_finite=False)
    Tx, Ty = _bary_matrix(x, qx), _bary_matrix(y, qy)
    vals = [Tx @ sol[:N, k].reshape(n + 1, n + 1) @ Ty.T for k in range(4)]
    cen = [QX - V[0], QY - V[1]]
    D = -np.array([[(m * cen[i] * vals[j]).sum() for j in range(2)] for i in range(2)]) / Z
    K = -np.array([[(m * cen[i] * vals[2 + j]).sum() for j in range(2)] for i in range(2)]) / Z
    cov = np.array([[(m * cen[i] * cen[j]).sum() for j in range(2)] for i in range(2)]) / Z
    inc = float(np.max(np.abs(sol[N, :2])))
    return SpectralReference(D=0.5 * (D + D.T), K=K, V=V, K_cov=cov / theta, n=n,
                             box=(tuple(lo), tuple(hi)), incompatibility=inc)
