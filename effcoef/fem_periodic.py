r"""Periodic high-order finite elements on the cell of a periodic potential (d = 1, 2).

The cell problems of periodic homogenisation (:mod:`effcoef.periodic`) and of the underdamped
route built on it are discretised here.  The reusable pieces:

Meshes and spaces
    :func:`periodic_nodes` (1D nodes on :math:`[0, L]` adapted to the local scale of the weight),
    :func:`periodic_tensor_nodes` (one node set per axis for a tensor mesh of the cell),
    :class:`PeriodicLine` (a periodic 1D mesh with scikit-fem's ``ElementLinePp(p)``: vertex hats
    and integrated-Legendre bubbles, the last vertex identified with the first) and
    :class:`PeriodicSpace` (the tensor product of one or two periodic lines: continuous
    :math:`\mathbb Q_p` on the torus), with quadrature, interpolation at the quadrature points
    and evaluation anywhere (:meth:`PeriodicSpace.evaluate`).
Weighted matrices
    :func:`weighted_matrices` assembles, for a weight :math:`w = e^{\log w}` given at the
    quadrature points,

    .. math:: A_{ij} = \theta\int w\,\nabla\varphi_j\cdot\nabla\varphi_i, \quad
              B_{ij} = \int w\,\varphi_j\varphi_i, \quad
              (C_k)_{ij} = \int w\,\varphi_j\,\partial_k\varphi_i

    (sparse, periodic).  With :math:`w = m = e^{-(U - U_{\min})/\theta}` and the unknown
    :math:`q = \rho/m`: the stationary Fokker-Planck equation
    :math:`\nabla\cdot(\theta\nabla\rho + (\nabla U - F)\rho) = 0` is
    :math:`(A - \sum_k F_k C_k)\,q = 0`, the generator :math:`-\mathcal L` acting on
    :math:`\chi` is :math:`A - \sum_k F_k C_k^T`, and :math:`B` is the mass of
    :math:`L^2(m)`; for F = 0, :math:`A x = \lambda B x` is the (self-adjoint) cell eigenproblem.
General sparse solves (any d, any F)
    :func:`stationary_density_fe` and :func:`corrector_fe` (sparse LU of the bordered
    systems), :func:`effective_from_fe` (V and D from them).
Exact 1D solves in derivative coordinates (tunnelling-safe)
    :func:`reversible_1d` (F = 0), :func:`tilted_1d` (F > 0), :func:`periodic_green_solve`
    and :func:`periodic_inverse_iteration` (the lowest cell mode to relative accuracy): see
    their docstrings.  They sum positive terms in log space, so :math:`D/\theta = 10^{-41}` or
    an exponentially small drift keep their relative accuracy, which no factorisation of the
    assembled matrices does.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import numpy as np
from numpy.polynomial import legendre as npleg
from scipy import sparse
from scipy.sparse.linalg import splu
from scipy.special import logsumexp
from skfem import ElementLinePp

from .fem1d import gauss_rule, legendre_tables
from .spectrum import positive_inverse_iteration

__all__ = [
    "periodic_nodes", "periodic_tensor_nodes", "PeriodicLine", "PeriodicSpace",
    "line_tables", "weighted_matrices", "WeightedMatrices", "bordered_lu",
    "stationary_density_fe", "corrector_fe", "effective_from_fe",
    "reversible_1d", "tilted_1d", "Tilted1D", "Reversible1D",
    "periodic_green_solve", "periodic_inverse_iteration", "log_weight_periodic",
    "folded_order", "to_banded_sym", "embed_index", "TiltedDensity1D",
]


# ------------------------------------------------------------------------------------------
# meshes

def _local_density(pot, theta, force, axis, X):
    r""":math:`|\partial_k U - F_k|/\theta + \sqrt{|\partial_{kk}U|/\theta}` at points X."""
    g = pot.grad(X)[axis]
    h = pot.hess_diag(X)[axis]
    with np.errstate(all="ignore"):
        d = np.abs(g - force) / theta + np.sqrt(np.abs(h) / theta)
    return np.nan_to_num(d, nan=0.0, posinf=0.0)


def _equidistribute(x, dens, h_scale, min_elements):
    """Nodes on [x0, x-1] with int dens ~ h_scale per element (x: a fine grid)."""
    cum = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(x))])
    ne = max(int(np.ceil(cum[-1] / h_scale)), int(min_elements), 1)
    nodes = np.interp(np.linspace(0.0, cum[-1], ne + 1), cum, x)
    nodes[0], nodes[-1] = x[0], x[-1]
    return nodes


def periodic_nodes(pot, theta, force=0.0, *, h_scale=1.5, min_elements=4, n_sample=4001):
    r"""Nodes of a 1D periodic mesh of :math:`[0, L]` adapted to the weight.

    The local length scale is

    .. math:: \ell(x)^{-1} = \frac{|U'(x) - F|}{\theta} + \sqrt{\frac{|U''(x)|}{\theta}}
              + \frac{4}{L},

    so that :math:`\log w` changes by about ``h_scale`` per element
    (:math:`w = e^{-(U - Fx)/\theta}`) and the harmonic length
    :math:`\sqrt{\theta/U''}` of the wells and barriers is resolved.
    """
    L = pot.period[0]
    x = np.linspace(0.0, L, n_sample)
    dens = _local_density(pot, theta, float(force), 0, x[None]) + 4.0 / L
    return _equidistribute(x, dens, h_scale, min_elements)


def periodic_tensor_nodes(pot, theta, force=(0.0, 0.0), *, h_scale=1.5, min_elements=4,
                          n_grid=161):
    r"""One node set per axis for a tensor mesh of the 2D cell: along axis k the density is
    :math:`\max_{x_{k'}}` of the 1D density (:func:`periodic_nodes`) over the other
    coordinate, on an ``n_grid`` x ``n_grid`` sample."""
    L = pot.period
    axes = [np.linspace(0.0, L[k], n_grid) for k in range(2)]
    G = np.array(np.meshgrid(*axes, indexing="ij"))
    out = []
    for k in range(2):
        dens = _local_density(pot, theta, float(force[k]), k, G).max(axis=1 - k) + 4.0 / L[k]
        xf = np.linspace(0.0, L[k], 4001)
        out.append(_equidistribute(xf, np.interp(xf, axes[k], dens), h_scale, min_elements))
    return out


# ------------------------------------------------------------------------------------------
# reference tables

@lru_cache(maxsize=16)
def _element(p):
    """scikit-fem's ElementLinePp(p) (its advice to use ElementLineP2 for p = 2 silenced: the
    hierarchical basis is what the dof numbering here assumes)."""
    import logging

    log = logging.getLogger("skfem")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ElementLinePp(p)
    finally:
        log.setLevel(level)


@lru_cache(maxsize=64)
def line_tables(p, nq):
    r"""Gauss points ``xi`` and weights ``wq`` of [0, 1] (nq of them), and the values ``P`` and
    reference derivatives ``dP`` (shape (p+1, nq)) of scikit-fem's ``ElementLinePp(p)`` local
    basis (0: left vertex, 1: right vertex, 2..p: integrated-Legendre bubbles)."""
    xi, wq = gauss_rule(nq)
    e = _element(p)
    P = np.empty((p + 1, nq))
    dP = np.empty((p + 1, nq))
    for i in range(p + 1):
        v, g = e.lbasis(np.asarray(xi)[None, :], i)
        P[i], dP[i] = v, g[0]
    for t in (P, dP):
        t.flags.writeable = False
    return xi, wq, P, dP


def _legendre_at(p, xi):
    """P_j(2 xi - 1), int_0^xi P_j(2t-1) dt, int_xi^1 P_j(2t-1) dt (j < p) at points xi."""
    xi = np.asarray(xi, dtype=float)
    y = 2.0 * xi - 1.0
    P = np.array([npleg.legval(y, np.eye(p)[j]) for j in range(p)])
    Ij = np.array([npleg.legval(y, npleg.legint(np.eye(p)[j], lbnd=-1)) for j in range(p)])
    Hl = 0.5 * Ij
    Hr = -0.5 * Ij
    Hr[0] = 1.0 - xi
    return P, Hl, Hr


# ------------------------------------------------------------------------------------------
# periodic spaces

@dataclass
class PeriodicLine:
    r"""A periodic 1D mesh of :math:`[0, L]` with ``ElementLinePp(degree)``.

    Degrees of freedom are numbered element by element: vertex e is dof ``e p`` (vertex
    ``n_elements`` is vertex 0: periodicity), the bubbles of element e are ``e p + 1 .. e p +
    p - 1``; there are ``n_elements * p`` dofs.  ``X``, ``dx`` (n_elements, nq) are the Gauss
    points and weights of the elements.
    """

    nodes: np.ndarray
    degree: int
    nq: int

    def __post_init__(self):
        self.nodes = np.asarray(self.nodes, dtype=float)
        if self.nodes.ndim != 1 or len(self.nodes) < 2 or np.any(np.diff(self.nodes) <= 0):
            raise ValueError("nodes must be increasing, at least one element")
        xi, wq, _, _ = line_tables(self.degree, self.nq)
        self.h = np.diff(self.nodes)
        self.X = self.nodes[:-1, None] + self.h[:, None] * np.asarray(xi)[None, :]
        self.dx = self.h[:, None] * np.asarray(wq)[None, :]

    @property
    def L(self):
        return float(self.nodes[-1] - self.nodes[0])

    @property
    def n_elements(self):
        return len(self.nodes) - 1

    @property
    def n_dofs(self):
        return self.n_elements * self.degree

    @property
    def l2g(self):
        """Global dof of local function i of element e, shape (n_elements, p+1)."""
        return _l2g(self.degree, self.n_elements)

    def kernel(self):
        """The constant function: 1 on vertex dofs, 0 on bubbles."""
        k = np.zeros(self.n_dofs)
        k[::self.degree] = 1.0
        return k

    def locate(self, x):
        """Element index and reference coordinate of points x (reduced to the cell)."""
        x = np.asarray(x, dtype=float)
        xr = self.nodes[0] + np.mod(x - self.nodes[0], self.L)
        e = np.clip(np.searchsorted(self.nodes, xr, side="right") - 1, 0, self.n_elements - 1)
        return e, (xr - self.nodes[e]) / self.h[e]


@lru_cache(maxsize=64)
def _l2g(p, ne):
    N = ne * p
    base = (np.arange(ne) * p)[:, None]
    out = np.empty((ne, p + 1), dtype=np.int64)
    out[:, 0] = base[:, 0]
    out[:, 1] = (base[:, 0] + p) % N
    out[:, 2:] = base + np.arange(1, p)[None, :]
    out.flags.writeable = False
    return out


@dataclass
class PeriodicSpace:
    r"""Continuous :math:`\mathbb Q_p` on the torus: the tensor product of ``lines``
    (one :class:`PeriodicLine` per direction, same degree).

    The global dof of the product function :math:`\varphi_a(x_1)\varphi_b(x_2)` is
    ``a * N2 + b``.  Quadrature arrays: 1D ``(ne, nq)``; 2D ``(ne1, ne2, nq, nq)``.
    """

    lines: list

    def __post_init__(self):
        if len(self.lines) not in (1, 2) or len({ln.degree for ln in self.lines}) != 1:
            raise ValueError("one or two periodic lines of the same degree")
        self.dim = len(self.lines)
        self.degree = self.lines[0].degree
        if self.dim == 1:
            ln = self.lines[0]
            self.X = ln.X[None]
            self.dx = ln.dx
        else:
            a, b = self.lines
            X1 = np.broadcast_to(a.X[:, None, :, None], (a.n_elements, b.n_elements, a.nq, b.nq))
            X2 = np.broadcast_to(b.X[None, :, None, :], X1.shape)
            self.X = np.array([X1, X2])
            self.dx = a.dx[:, None, :, None] * b.dx[None, :, None, :]

    @property
    def shape(self):
        return tuple(ln.n_dofs for ln in self.lines)

    @property
    def n_dofs(self):
        return int(np.prod(self.shape))

    @property
    def period(self):
        return tuple(ln.L for ln in self.lines)

    @property
    def n_elements(self):
        return tuple(ln.n_elements for ln in self.lines)

    def kernel(self):
        """The constant function (vertex dofs 1, others 0)."""
        k = self.lines[0].kernel()
        for ln in self.lines[1:]:
            k = np.kron(k, ln.kernel())
        return k

    def integrate(self, f):
        r""":math:`\int_{\text{cell}} f` (f at the quadrature points)."""
        return float(np.sum(f * self.dx))

    def _tables(self):
        out = []
        for ln in self.lines:
            _, _, P, dP = line_tables(ln.degree, ln.nq)
            out.append((P, dP))
        return out

    def _local(self, C):
        """Local coefficients: (k, ne, p+1) in 1D, (k, ne1, ne2, p+1, p+1) in 2D."""
        C = np.asarray(C, dtype=float).reshape(self.n_dofs, -1)
        if self.dim == 1:
            return C[self.lines[0].l2g].transpose(2, 0, 1)
        g1, g2 = self.lines[0].l2g, self.lines[1].l2g
        N2 = self.shape[1]
        idx = g1[:, None, :, None] * N2 + g2[None, :, None, :]       # (ne1, ne2, p+1, p+1)
        return C[idx].transpose(4, 0, 1, 2, 3)

    def values(self, C):
        """Values and gradients of FE vectors ``C`` ((n,) or (n, k)) at the quadrature points:
        ``vals`` of shape (k,) + quad shape, ``grads`` of shape (k, d) + quad shape."""
        loc = self._local(C)
        (P1, dP1), *rest = self._tables()
        if self.dim == 1:
            h = self.lines[0].h
            vals = loc @ P1
            ders = (loc @ dP1) / h[None, :, None]
            return vals, ders[:, None]
        P2, dP2 = rest[0]
        h1, h2 = self.lines[0].h, self.lines[1].h
        vals = np.einsum("kabij,iq,jr->kabqr", loc, P1, P2, optimize=True)
        d1 = np.einsum("kabij,iq,jr->kabqr", loc, dP1, P2, optimize=True) \
            / h1[None, :, None, None, None]
        d2 = np.einsum("kabij,iq,jr->kabqr", loc, P1, dP2, optimize=True) \
            / h2[None, None, :, None, None]
        return vals, np.stack([d1, d2], axis=1)

    def load(self, f):
        r"""Load vector :math:`\ell_i = \int f\,\varphi_i` (f at the quadrature points,
        already multiplied by any weight)."""
        (P1, _), *rest = self._tables()
        fdx = f * self.dx
        if self.dim == 1:
            ln = self.lines[0]
            return np.bincount(ln.l2g.ravel(), weights=(fdx @ P1.T).ravel(),
                               minlength=self.n_dofs)
        P2, _ = rest[0]
        loc = np.einsum("abqr,iq,jr->abij", fdx, P1, P2, optimize=True)
        g1, g2 = self.lines[0].l2g, self.lines[1].l2g
        idx = g1[:, None, :, None] * self.shape[1] + g2[None, :, None, :]
        return np.bincount(idx.ravel(), weights=loc.ravel(), minlength=self.n_dofs)

    def load_grad(self, f, k):
        r""":math:`\int f\,\partial_k\varphi_i` (f at the quadrature points)."""
        (P1, dP1), *rest = self._tables()
        fdx = f * self.dx
        if self.dim == 1:
            ln = self.lines[0]
            return np.bincount(ln.l2g.ravel(), weights=((fdx / ln.h[:, None]) @ dP1.T).ravel(),
                               minlength=self.n_dofs)
        P2, dP2 = rest[0]
        h1, h2 = self.lines[0].h, self.lines[1].h
        if k == 0:
            loc = np.einsum("abqr,iq,jr->abij", fdx / h1[:, None, None, None], dP1, P2,
                            optimize=True)
        else:
            loc = np.einsum("abqr,iq,jr->abij", fdx / h2[None, :, None, None], P1, dP2,
                            optimize=True)
        g1, g2 = self.lines[0].l2g, self.lines[1].l2g
        idx = g1[:, None, :, None] * self.shape[1] + g2[None, :, None, :]
        return np.bincount(idx.ravel(), weights=loc.ravel(), minlength=self.n_dofs)

    def evaluate(self, C, points):
        """FE functions ``C`` ((n,) or (n, k)) at ``points`` ((npts,) in 1D, (d, npts)),
        reduced periodically to the cell; returns (k, npts) (or (npts,) for one vector)."""
        C = np.asarray(C, dtype=float)
        single = C.ndim == 1
        C = C.reshape(self.n_dofs, -1)
        pts = np.atleast_2d(np.asarray(points, dtype=float))
        if self.dim == 1 and pts.shape[0] != 1:
            pts = pts.reshape(1, -1)
        npts = pts.shape[1]
        loc = self._local(C)                         # (k, ne..., p+1...)
        basis = []
        eidx = []
        for ax, ln in enumerate(self.lines):
            e, y = ln.locate(pts[ax])
            el = _element(ln.degree)
            B = np.array([el.lbasis(y[None, :], i)[0] for i in range(ln.degree + 1)])  # (p+1, n)
            basis.append(B)
            eidx.append(e)
        if self.dim == 1:
            out = np.einsum("kpi,ip->kp", loc[:, eidx[0], :], basis[0])
        else:
            sel = loc[:, eidx[0], eidx[1]]           # (k, npts, p+1, p+1)
            out = np.einsum("kpij,ip,jp->kp", sel, basis[0], basis[1])
        return out[0] if single else out.reshape(C.shape[1], npts)


def embed_index(space, degree):
    """Dof indices of ``space`` inside the same mesh's space of a higher ``degree`` (the
    hierarchical basis of ElementLinePp makes P_p a coordinate subspace of P_q, q >= p):
    ``fine[idx] = coarse`` embeds a coarse dof vector exactly."""
    idx1 = []
    for ln in space.lines:
        e = np.arange(ln.n_elements)[:, None]
        j = np.arange(ln.degree)[None, :]
        idx1.append((e * degree + j).ravel())
    if space.dim == 1:
        return idx1[0]
    N2f = space.lines[1].n_elements * degree
    return (idx1[0][:, None] * N2f + idx1[1][None, :]).ravel()


def log_weight_periodic(pot, theta, X, force=None, shift=None):
    r""":math:`\log w = -(U(X) - F\cdot X)/\theta - c` at points X (shape (d, ...)); c = ``shift``
    (default: the maximum over X, so that :math:`w \le 1`).  With F = 0 this is
    :math:`\log m = -(U - U_{\min})/\theta` when X samples the minimum."""
    lw = -pot.U(X) / theta
    if force is not None:
        F = np.atleast_1d(np.asarray(force, dtype=float))
        lw = lw + np.tensordot(F, X, axes=(0, 0)) / theta
    c = float(np.max(lw)) if shift is None else float(shift)
    return lw - c, c


# ------------------------------------------------------------------------------------------
# weighted matrices

@dataclass
class WeightedMatrices:
    r"""Sparse periodic matrices of a weight :math:`w = e^{\log w}` (see module docstring):
    ``A`` (:math:`\theta\int w\nabla\varphi_j\cdot\nabla\varphi_i`), ``B``
    (:math:`\int w\varphi_j\varphi_i`), ``C`` (list over directions,
    :math:`\int w\varphi_j\partial_k\varphi_i`; only if asked), the weight ``w`` at the
    quadrature points and ``Z`` = :math:`\int w`."""

    space: PeriodicSpace
    A: object
    B: object
    C: Optional[list]
    w: np.ndarray
    Z: float


def _scatter(space, Ke):
    """Sum element matrices (ne..., nloc, nloc) into a CSR matrix."""
    if space.dim == 1:
        g = space.lines[0].l2g                                   # (ne, p+1)
        rows = np.broadcast_to(g[:, :, None], Ke.shape)
        cols = np.broadcast_to(g[:, None, :], Ke.shape)
    else:
        g1, g2 = space.lines[0].l2g, space.lines[1].l2g
        idx = (g1[:, None, :, None] * space.shape[1] + g2[None, :, None, :])
        idx = idx.reshape(idx.shape[0], idx.shape[1], -1)         # (ne1, ne2, nloc)
        rows = np.broadcast_to(idx[..., :, None], Ke.shape)
        cols = np.broadcast_to(idx[..., None, :], Ke.shape)
    N = space.n_dofs
    M = sparse.coo_matrix((Ke.ravel(), (rows.ravel(), cols.ravel())), shape=(N, N)).tocsr()
    M.sum_duplicates()
    return M


def weighted_matrices(space, logw, theta, *, advection=False):
    r"""Assemble :math:`A`, :math:`B` (and :math:`C_k` if ``advection``) for the weight
    :math:`w = e^{\log w}` given at the quadrature points (shape of ``space.dx``).

    The element matrices are computed from scikit-fem's ``ElementLinePp`` tables by tensor
    contractions (they equal ``skfem.BilinearForm(...).assemble`` on the same quadrature with
    the periodic identification of the end vertices; tested), then summed into CSR.
    """
    with np.errstate(under="ignore"):
        w = np.exp(np.asarray(logw, dtype=float))
    wdx = w * space.dx
    (P1, dP1), *rest = space._tables()
    if space.dim == 1:
        h = space.lines[0].h

        def gram(W, Pi, Pj):          # G_eij = sum_q W_eq Pi_iq Pj_jq, as a batched matmul
            return (W[:, None, :] * Pi[None]) @ Pj.T

        Ae = theta * gram(wdx / (h * h)[:, None], dP1, dP1)
        Be = gram(wdx, P1, P1)
        Ce = [gram(wdx / h[:, None], dP1, P1)] if advection else None
    else:
        P2, dP2 = rest[0]
        h1, h2 = space.lines[0].h, space.lines[1].h
        n1 = P1.shape[0]

        def prod(W, Ti, Tj, Tk, Tl):
            M = np.einsum("abqr,iq,jq,kr,lr->abikjl", W, Ti, Tj, Tk, Tl, optimize=True)
            s = M.shape
            return M.reshape(s[0], s[1], n1 * n1, n1 * n1)

        W1 = wdx / (h1 * h1)[:, None, None, None]
        W2 = wdx / (h2 * h2)[None, :, None, None]
        Ae = theta * (prod(W1, dP1, dP1, P2, P2) + prod(W2, P1, P1, dP2, dP2))
        Be = prod(wdx, P1, P1, P2, P2)
        Ce = None
        if advection:
            Ce = [prod(wdx / h1[:, None, None, None], dP1, P1, P2, P2),
                  prod(wdx / h2[None, :, None, None], P1, P1, dP2, P2)]
    A, B = _scatter(space, Ae), _scatter(space, Be)
    C = None if Ce is None else [_scatter(space, c) for c in Ce]
    return WeightedMatrices(space=space, A=A, B=B, C=C, w=w, Z=float(np.sum(wdx)))


def folded_order(n):
    """The ordering 0, n-1, 1, n-2, 2, ... (new position k holds old dof ``order[k]``): a
    periodic banded matrix of half-bandwidth u becomes banded with half-bandwidth <= 2u + 1."""
    order = np.empty(n, dtype=np.int64)
    order[0::2] = np.arange((n + 1) // 2)
    order[1::2] = n - 1 - np.arange(n // 2)
    return order


def to_banded_sym(M, order):
    """A symmetric sparse matrix, permuted by ``order``, as :class:`effcoef.fem1d.BandedSym`
    (LAPACK upper band storage) for the banded Cholesky / Lanczos of :mod:`effcoef.spectrum`."""
    from .fem1d import BandedSym

    inv = np.empty_like(order)
    inv[order] = np.arange(len(order))
    Mc = M.tocoo()
    i, j = inv[Mc.row], inv[Mc.col]
    keep = i <= j
    i, j, v = i[keep], j[keep], Mc.data[keep]
    u = int(np.max(j - i)) if len(i) else 0
    ab = np.zeros((u + 1, M.shape[0]))
    np.add.at(ab, (u + i - j, j), v)
    return BandedSym(ab)


# ------------------------------------------------------------------------------------------
# general sparse solves (any dimension, any force)

def bordered_lu(S, col, row):
    r"""LU factorisation of :math:`K = \begin{pmatrix} S & c\\ r^T & 0\end{pmatrix}` (a singular
    S with a one-dimensional kernel made regular by one constraint and one multiplier);
    returns ``solve(rhs, constraint=0.0, trans=False, refine=True) -> (x, multiplier)``
    (``trans``: solve with :math:`K^T`, i.e. :math:`S^T` bordered by r and c; ``refine``: one
    step of iterative refinement).  The pattern of S is symmetric, so SuperLU's minimum degree on
    :math:`K + K^T` is used (4-40x less fill than the default COLAMD on periodic
    :math:`\mathbb Q_p` matrices)."""
    n = S.shape[0]
    K = sparse.bmat([[S, sparse.csr_matrix(np.asarray(col, dtype=float)[:, None])],
                     [sparse.csr_matrix(np.asarray(row, dtype=float)[None, :]), None]],
                    format="csc")
    lu = splu(K, permc_spec="MMD_AT_PLUS_A")

    def solve(rhs, constraint=0.0, trans=False, refine=True):
        b = np.concatenate([np.asarray(rhs, dtype=float), [constraint]])
        t = "T" if trans else "N"
        x = lu.solve(b, trans=t)
        if refine:                                   # one step of iterative refinement
            M = K.T if trans else K
            x = x + lu.solve(b - M @ x, trans=t)
        return x[:n], x[n]

    solve.matrix = K
    return solve


def _drift_matrix(mats, force):
    F = np.atleast_1d(np.asarray(force, dtype=float))
    Cf = None
    for k, Fk in enumerate(F):
        if Fk != 0.0:
            Cf = Fk * mats.C[k] if Cf is None else Cf + Fk * mats.C[k]
    return Cf


def _bordered_generator(mats, force):
    """One LU of the bordered stationary matrix A - sum F_k C_k (its transpose is the
    corrector's); bordered by b1 = int w phi_i (the constraint int w q = 1 / int w chi = 0)."""
    Cf = _drift_matrix(mats, force)
    S = mats.A if Cf is None else (mats.A - Cf)
    b1 = mats.B @ mats.space.kernel()                 # int w phi_i
    return bordered_lu(S.tocsc(), b1, b1), S, b1


def stationary_density_fe(mats, force, solve=None):
    r"""Stationary density :math:`\rho = w q` on the FE space (general sparse).

    Solves :math:`(A - \sum_k F_k C_k) q = 0` with :math:`\int w q = 1`
    (``mats`` built with ``advection=True`` and :math:`w = m`).  Returns the dof vector q and
    the relative residual.
    """
    if solve is None:
        solve, S, _ = _bordered_generator(mats, force)
    else:
        S = solve.matrix[:-1, :-1]
    q, _ = solve(np.zeros(S.shape[0]), 1.0)
    res = np.linalg.norm(S @ q) / max(abs(S).max() * np.linalg.norm(q), 1e-300)
    return q, float(res)


def corrector_fe(mats, theta, force, V, solve=None):
    r"""Correctors :math:`\chi_k`, k = 1..d: :math:`-\mathcal L\chi_k = b_k - V_k`,
    :math:`b = F - \nabla U`, weak form with weight :math:`w = m`:

    .. math:: (A - \textstyle\sum_j F_j C_j^T)\,\chi_k =
              (F_k - V_k)\int m\varphi_i - \theta\int m\,\partial_k\varphi_i,
              \qquad \int m\chi_k = 0

    (:math:`\int m\,\partial_k U\varphi = \theta\int m\,\partial_k\varphi` by parts): the
    transpose of the stationary system, solved with the same LU.  The right-hand side is
    orthogonal to q (the discrete V makes it so).  Returns (d, n) and the largest relative
    residual.
    """
    space = mats.space
    F = np.atleast_1d(np.asarray(force, dtype=float))
    V = np.atleast_1d(np.asarray(V, dtype=float))
    if solve is None:
        solve, _, b1 = _bordered_generator(mats, F)
    b1 = mats.B @ space.kernel()
    ST = solve.matrix[:-1, :-1].T
    out, res = [], 0.0
    for k in range(space.dim):
        rhs = (F[k] - V[k]) * b1 - theta * space.load_grad(mats.w, k)
        chi, _ = solve(rhs, 0.0, trans=True)
        res = max(res, np.linalg.norm(ST @ chi - rhs) / max(np.linalg.norm(rhs), 1e-300))
        out.append(chi)
    return np.array(out), float(res)


def effective_from_fe(mats, theta, force):
    r"""V and D from the general sparse solves (any d, any F; ``mats`` with ``advection``).

    .. math:: V = F - \theta\int m\nabla q, \qquad
              D = \theta\int m\,q\,(I + \nabla\chi)(I + \nabla\chi)^T
              \quad(\textstyle\int m q = 1),

    (:math:`(\nabla\chi)_{kj} = \partial_j\chi_k`): the martingale decomposition
    :math:`X_t - Vt = \chi(X_0) - \chi(X_t) + \int(I + \nabla\chi)\sqrt{2\theta}\,dB`.
    One sparse LU serves both problems.  For V much smaller than F (a locked particle) the
    difference :math:`F - \theta\int m\nabla q` cancels; the 1D route uses
    :func:`tilted_1d` instead.  Returns (V (d,), D (d, d), q, chi, residual).
    """
    space = mats.space
    d = space.dim
    F = np.atleast_1d(np.asarray(force, dtype=float))
    solve, _, _ = _bordered_generator(mats, F)
    q, res = stationary_density_fe(mats, F, solve)
    # V = F - theta int m grad q = F - (theta int m d_k phi_i) . q
    V = np.array([F[k] - theta * space.load_grad(mats.w, k) @ q for k in range(d)])
    chi, res2 = corrector_fe(mats, theta, F, V, solve)
    qv, _ = space.values(q)
    _, gchi = space.values(chi.T)                       # (d_chi, d_x, ...)
    rho = mats.w * qv[0]
    J = gchi.reshape(d, d, -1) + np.eye(d)[:, :, None]   # J[k, j] = delta_kj + d_j chi_k
    D = theta * np.einsum("kjq,ljq,q->kl", J, J, (rho * space.dx).ravel())
    return V, D, q, chi, max(res, res2)


# ------------------------------------------------------------------------------------------
# exact 1D solves in derivative coordinates

def _local_solve(line, lw, rhs):
    r"""Solve :math:`\sum_j (\int_e \hat w P_i P_j) c_j = \mathrm{rhs}_i` on every element
    (:math:`\hat w = e^{\log w - a_e}`, :math:`a_e = \max_e \log w`), after a symmetric
    diagonal scaling.  Returns (c (k, ne, p), a (ne,))."""
    p = line.degree
    P, _, _ = legendre_tables(p, line.nq)
    a = lw.max(axis=1)
    wh = np.exp(lw - a[:, None])
    G = ((wh * line.dx)[:, None, :] * P[None]) @ P.T
    s = np.sqrt(np.einsum("eii->ei", G))
    Gs = G / (s[:, :, None] * s[:, None, :])
    rhs = np.asarray(rhs)
    single = rhs.ndim == 2
    r = rhs[None] if single else rhs
    c = np.linalg.solve(Gs[None], (r / s[None])[..., None])[..., 0] / s[None]
    return (c[0] if single else c), a


def _checked_log(x, what):
    """log of positive numbers; a non-positive one means the mesh does not resolve the weight."""
    x = np.asarray(x, dtype=float)
    if np.any(~(x > 0)):
        raise FloatingPointError(f"{what}: a local sum is not positive (mesh too coarse for "
                                 "the weight); refine h_scale")
    return np.log(x)


@dataclass
class Reversible1D:
    r"""F = 0 in 1D, the exact discrete solution (:func:`reversible_1d`)."""

    log_D: float
    log_Z: float          # log int m (m with its shift)
    log_G: float          # log sum_e int_e g~ (the discrete int 1/m)
    shift: float          # log m = -(U/theta) - shift
    g: np.ndarray         # phi' = 1 + chi' at the quadrature points
    log_rho: np.ndarray   # log of the normalised stationary density


def reversible_1d(line, logm, theta):
    r"""D for F = 0 in 1D from the exact discrete cell problem (no linear system).

    The Galerkin corrector :math:`\chi_h` (periodic, continuous :math:`\mathbb P_p`) of
    :math:`\int m(1 + \chi_h')v' = 0` has, in derivative coordinates
    :math:`g = 1 + \chi_h'` (discontinuous :math:`\mathbb P_{p-1}`), the solution
    :math:`g = c\,\tilde g` where on each element :math:`\int_e m\tilde g r = \int_e r` for all
    :math:`r\in\mathbb P_{p-1}` (the test derivatives :math:`v'` are exactly the zero-mean
    discontinuous polynomials) and :math:`c = L/\sum_e\int_e\tilde g`.  Since
    :math:`\int_e m\tilde g^2 = \int_e\tilde g`,

    .. math:: D_h = \theta\int\rho\,g^2 = \frac{\theta L^2}{Z\,\sum_e \int_e\tilde g},
              \qquad Z = \int m,

    the discrete Lifson-Jackson formula: two sums of positive terms, in log space
    (:math:`\int_e \tilde g \approx \int_e 1/m`, with error :math:`O(h^{2p})`).
    """
    p = line.degree
    ne, nq = line.X.shape
    rhs = np.zeros((ne, p))
    rhs[:, 0] = line.h                           # int_e P_j = h delta_j0
    c, a = _local_solve(line, logm, rhs)
    lG_e = -a + _checked_log(c[:, 0] * line.h, "reversible cell problem")
    lG = float(logsumexp(lG_e))
    lZ = float(logsumexp(logm + np.log(line.dx)))
    L = line.L
    log_D = math.log(theta) + 2 * math.log(L) - lZ - lG
    P, _, _ = legendre_tables(p, nq)
    # g = (L / sum G) * e^{-a_e} (c . P)
    g = np.exp(math.log(L) - lG - a)[:, None] * (c @ P)
    return Reversible1D(log_D=log_D, log_Z=lZ, log_G=lG, shift=0.0, g=g,
                        log_rho=logm - lZ)


@dataclass
class Tilted1D:
    r"""F > 0 in 1D, the exact discrete solution (:func:`tilted_1d`)."""

    log_V: float
    log_D: float
    log_V_corrector: float   # V from the corrector's normalisation (equal up to rounding)
    log_rho: np.ndarray      # log stationary density at the quadrature points
    dphi: np.ndarray         # phi' = 1 + chi' at the quadrature points
    density: "TiltedDensity1D" = None


@dataclass
class TiltedDensity1D:
    r"""The discrete stationary density of :func:`tilted_1d` anywhere in the cell:
    :math:`\log\rho(x) = \log w(x) + \log[\int_x^L\tilde g + E\int_0^x\tilde g] - \log N`,
    with the element-local Legendre coefficients of :math:`\tilde g` (``c``, scale ``a``),
    ``lbase`` the log of the sums over the other elements, ``logw`` a callable giving
    :math:`\log w` at points of :math:`[0, L]`."""

    nodes: np.ndarray
    c: np.ndarray
    a: np.ndarray
    lbase: np.ndarray
    logE: float
    lnorm: float
    logw: object

    def log_density(self, x):
        x = np.asarray(x, dtype=float)
        L = self.nodes[-1] - self.nodes[0]
        xr = self.nodes[0] + np.mod(x - self.nodes[0], L)
        ne = len(self.nodes) - 1
        e = np.clip(np.searchsorted(self.nodes, xr, side="right") - 1, 0, ne - 1)
        h = np.diff(self.nodes)[e]
        xi = (xr - self.nodes[e]) / h
        _, Hl, Hr = _legendre_at(self.c.shape[1], xi.ravel())
        ce = self.c[e.ravel()]                                   # (n, p)
        loc = h.ravel() * (np.einsum("nj,jn->n", ce, Hr) + math.exp(self.logE)
                           * np.einsum("nj,jn->n", ce, Hl))
        lb, a = self.lbase[e.ravel()], self.a[e.ravel()]
        M = np.maximum(lb, -a + np.log(np.maximum(np.abs(loc), 1e-300)))
        M = np.where(np.isfinite(M), M, 0.0)
        val = np.exp(lb - M) + np.exp(-a - M) * loc
        with np.errstate(divide="ignore", invalid="ignore"):
            out = self.logw(xr.ravel()) + M + np.log(val) - self.lnorm
        return out.reshape(x.shape)

    def __call__(self, x):
        return np.exp(self.log_density(x))


def _log_cum(lx, reverse=False):
    """Exclusive cumulative logsumexp: out[e] = log sum_{e' < e} (or e' > e) exp(lx[e'])."""
    if reverse:
        return _log_cum(lx[::-1])[::-1]
    inc = np.logaddexp.accumulate(lx)
    return np.concatenate([[-np.inf], inc[:-1]])


def _log_combine(lbase, a, loc):
    r"""log(e^{lbase} + e^{-a} loc) per element (lbase (ne,), a (ne,), loc (ne, nq)),
    without overflow; the sum must be positive."""
    with np.errstate(divide="ignore"):
        lloc = np.log(np.max(np.abs(loc), axis=1))
    M = np.maximum(lbase, -a + lloc)
    M = np.where(np.isfinite(M), M, 0.0)
    val = np.exp(lbase - M)[:, None] + np.exp(-a - M)[:, None] * loc
    return M[:, None] + _checked_log(val, "tilted cell problem")


def tilted_1d(line, logw, theta, force, logw_fn=None):
    r"""V and D for F > 0 in 1D from the exact discrete cell problems (no linear system).

    With the tilted weight :math:`w = e^{-(U - Fx)/\theta}` (``logw`` at the quadrature points,
    any additive constant), :math:`E = e^{-FL/\theta}`, the stationary density is
    :math:`\rho = w s` with :math:`\theta w s' = -J` (the flux): s is quasi-periodic,
    :math:`s(x + L) = E s(x)`, and the Petrov-Galerkin problem
    :math:`\int w s' v' = 0` for periodic v (trial: continuous :math:`\mathbb P_p` with
    :math:`s(L) = E s(0)`) has, as in :func:`reversible_1d`, :math:`s' = -(J/\theta)\tilde g`
    with :math:`\tilde g` the element-local weighted projection of :math:`1/w`; hence

    .. math:: s(x) = \frac{J/\theta}{1 - E}\Big[\int_x^L\tilde g + E\int_0^x\tilde g\Big],
              \qquad V = JL = \frac{\theta L (1 - E)}{\int_0^L w(x)\big[\int_x^L\tilde g +
              E\int_0^x\tilde g\big]dx}.

    The corrector :math:`\varphi = x + \chi` (:math:`\mathcal L\varphi = V`) solves
    :math:`\int w\varphi' t' = -(V/\theta)\int w t` for quasi-periodic t
    (:math:`t(L) = E t(0)`, so that the boundary terms cancel); the derivatives t' are all
    discontinuous :math:`\mathbb P_{p-1}` functions, and by Fubini

    .. math:: \int_e w\varphi' r = \kappa\int_e \Omega\, r, \qquad
              \Omega(y) = \int_0^y w + E\int_y^L w, \quad \kappa = \frac{V}{\theta(1-E)},

    so :math:`\varphi'` is again element-local, :math:`\kappa` follows from
    :math:`\int_0^L\varphi' = L` (periodic :math:`\chi`), and
    :math:`D = \theta\int\rho\,\varphi'^2`.  Every global quantity is a sum of positive terms
    (the discrete :math:`I_\pm` of Reimann et al.), accumulated in log space: relative
    accuracy for an exponentially small V (a locked particle) or a giant D.  The V from the
    corrector's normalisation equals :math:`JL` (take t = s in its weak form) and is returned
    as a check.  With ``logw_fn`` (:math:`\log w` at points, the same constant as ``logw``)
    the result carries a :class:`TiltedDensity1D` evaluator.
    """
    F = float(force)
    if not F > 0:
        raise ValueError("tilted_1d needs F > 0 (reflect x -> -x for F < 0)")
    p = line.degree
    ne, nq = line.X.shape
    L = line.L
    logE = -F * L / theta
    log1mE = math.log(-math.expm1(logE))
    P, Hl, Hr = legendre_tables(p, nq)
    h = line.h
    # --- stationary density: g~ = local projection of 1/w ---------------------------------
    rhs = np.zeros((ne, p))
    rhs[:, 0] = h
    c, a = _local_solve(line, logw, rhs)
    lG_e = -a + _checked_log(c[:, 0] * h, "tilted cell problem")
    lSR = _log_cum(lG_e, reverse=True)                  # sum over e' > e
    lSL = _log_cum(lG_e)                                 # sum over e' < e
    lbase = np.logaddexp(lSR, logE + lSL)
    # inside e: int_x^{x_e+1} g~ + E int_{x_e}^x g~ = e^{-a_e} h (c.Hr + E c.Hl)
    loc = h[:, None] * ((c @ Hr) + math.exp(logE) * (c @ Hl))
    lbr = _log_combine(lbase, a, loc)                    # log bracket at the quadrature points
    lnorm = float(logsumexp(logw + lbr + np.log(line.dx)))
    log_rho = logw + lbr - lnorm
    log_V = math.log(theta) + math.log(L) + log1mE - lnorm
    # --- corrector ------------------------------------------------------------------------
    wh = np.exp(logw - a[:, None])                       # same local scaling a_e
    lW_e = a + _checked_log(np.sum(wh * line.dx, axis=1), "tilted corrector")
    lTL = _log_cum(lW_e)
    lTR = _log_cum(lW_e, reverse=True)
    lb = np.logaddexp(lTL, logE + lTR)                   # log (T_L + E T_R)
    # e^{-a_e} int_e Omega P_i = e^{lb - a_e} h delta_i0 + h sum_q w^ dx (Hr_i + E Hl_i)
    locr = h[:, None] * np.einsum("eq,iq->ei", wh * line.dx, Hr + math.exp(logE) * Hl)
    lscale = np.maximum(lb - a, np.log(np.max(np.abs(locr), axis=1)))
    rc = locr * np.exp(-lscale)[:, None]
    rc[:, 0] += h * np.exp(lb - a - lscale)
    cc, _ = _local_solve(line, logw, rc)                  # phi'/kappa = e^{lscale} (cc . P)
    lint = lscale + _checked_log(cc[:, 0] * h, "tilted corrector")
    log_kappa = math.log(L) - float(logsumexp(lint))
    log_V_corr = log_kappa + math.log(theta) + log1mE
    dphi = np.exp(log_kappa + lscale)[:, None] * (cc @ P)
    with np.errstate(divide="ignore"):
        log_D = math.log(theta) + float(logsumexp(log_rho + 2 * np.log(np.abs(dphi))
                                                  + np.log(line.dx)))
    dens = None if logw_fn is None else TiltedDensity1D(
        nodes=line.nodes.copy(), c=c, a=a, lbase=lbase, logE=logE, lnorm=lnorm, logw=logw_fn)
    return Tilted1D(log_V=log_V, log_D=log_D, log_V_corrector=log_V_corr, log_rho=log_rho,
                    dphi=dphi, density=dens)


def periodic_green_solve(line, m, theta, u):
    r"""Solve :math:`A\varphi = \ell(u)` on the periodic 1D space exactly, in derivative
    coordinates (the Green's operator of the cell generator).

    ``m`` (weight), ``u`` at the quadrature points, :math:`\ell_i = \int m u\varphi_i`,
    :math:`\int m u = 0`.  For periodic tests v, :math:`\int m u v = -\int v'(y) G(y)\,dy`
    with :math:`G(y) = \int_{y_*}^y m u`, so on every element
    :math:`\theta\int_e m\varphi' r = \int_e (J_* - G) r` for :math:`r \in \mathbb P_{p-1}`,
    the flux at :math:`y_*` being fixed by :math:`\int_0^L\varphi' = 0`:
    :math:`J_* = \int G/m \big/ \int 1/m` (in the discrete, element-local form).

    The origin :math:`y_*` is the element where m is smallest (the highest barrier), and G is
    accumulated from the nearer end (left from :math:`y_*`, or right from :math:`y_* + L`:
    equal up to the rounding of :math:`\int m u = 0`).  For the lowest mode of several wells
    per cell, G then has one sign, is a sum of tiny terms on both sides of the highest barrier,
    and :math:`J_*` is a ratio of one-signed sums: the tiny flux across that barrier is not the
    difference of O(1) numbers (which fails once the barriers differ by more than ~36 theta).
    Returns
    :math:`\varphi'` and :math:`\varphi` (:math:`\int m\varphi = 0`) at the quadrature
    points, arrays like ``u``.
    """
    u = np.asarray(u, dtype=float)
    single = u.ndim == 2
    if single:
        u = u[None]
    p = line.degree
    ne, nq = line.X.shape
    P, Hl, Hr = legendre_tables(p, nq)
    e0 = int(np.argmin(np.max(m, axis=1)))                     # the highest barrier
    roll = np.roll(np.arange(ne), -e0)                         # elements from e0 on
    h = line.h[roll]
    mm, dx = m[roll], line.dx[roll]
    uu = u[:, roll]
    mu = mm * uu * dx                                          # (k, ne, nq)
    I = mu.sum(axis=2)
    k = u.shape[0]
    zero = np.zeros((k, 1))
    # G from the left (int_{y*}^y mu) or, equally up to the rounding of int mu = 0, from the
    # right (-int_y^{y*+L} mu): each element takes the side with the smaller accumulated |mu|,
    # so that both ends of the circle (the highest barrier, where 1/m is huge) see sums of a
    # few tiny terms, not the rounding of the total.
    CL = np.concatenate([zero, np.cumsum(I[:, :-1], axis=1)], axis=1)
    CR = np.concatenate([np.cumsum(I[:, :0:-1], axis=1)[:, ::-1], zero], axis=1)
    rL = -(mu @ Hr.T) * h[None, :, None]                   # int_e (-G) P_j, G from the left
    rL[:, :, 0] -= CL * h
    rR = (mu @ Hl.T) * h[None, :, None]                    # int_e (int_y^end mu) P_j
    rR[:, :, 0] += CR * h
    Aabs = np.abs(mu).sum(axis=2)
    AL = np.concatenate([zero, np.cumsum(Aabs[:, :-1], axis=1)], axis=1)
    AR = np.concatenate([np.cumsum(Aabs[:, :0:-1], axis=1)[:, ::-1], zero], axis=1)
    r = np.where((AR <= AL)[:, :, None], rR, rL)
    G = theta * ((mm * dx)[:, None, :] * P[None]) @ P.T
    s = np.sqrt(np.einsum("eii->ei", G))
    s[s == 0] = 1.0
    Gs = G / (s[:, :, None] * s[:, None, :])
    ca = np.linalg.solve(Gs[None], (r / s[None])[..., None])[..., 0] / s[None]   # (k, ne, p)
    e0v = np.zeros((ne, p))
    e0v[:, 0] = h
    cb = np.linalg.solve(Gs, (e0v / s)[..., None])[..., 0] / s                   # (ne, p)
    Jstar = -(ca[:, :, 0] @ h) / (cb[:, 0] @ h)                                   # (k,)
    c = ca + Jstar[:, None, None] * cb[None]
    g = c @ P
    Jint = c[:, :, 0] * h[None]                                # int_e phi'
    # phi is accumulated from the deepest well (largest m) towards both sides of the circle,
    # which meet at the highest barrier: values where m is large (they carry the mass) are
    # then sums of small local increments, not differences of O(1) numbers; the constant is
    # fixed by int m phi = 0 from these anchored values.
    eref = int(np.argmax(np.max(mm, axis=1)))
    start = np.zeros((k, ne))                                  # phi at the element starts
    start[:, eref + 1:] = np.cumsum(Jint[:, eref:ne - 1], axis=1)       # right of the anchor
    if eref > 0:                                               # left: -sum_{e'=e}^{eref-1}
        start[:, :eref] = -np.cumsum(Jint[:, eref - 1::-1], axis=1)[:, ::-1]
    phi = start[:, :, None] + (c @ Hl) * h[None, :, None]
    Z = float(np.sum(mm * dx))
    mean = np.einsum("kev,ev->k", phi, mm * dx) / Z
    phi = phi - mean[:, None, None]
    back = np.argsort(roll)
    g, phi = g[:, back], phi[:, back]
    if single:
        return g[0], phi[0]
    return g, phi


def periodic_inverse_iteration(line, m, theta, phi0, *, rtol=1e-15, maxiter=30):
    r"""Lowest non-zero eigenpair of the periodic cell operator by inverse iteration with
    :func:`periodic_green_solve` (started from the Lanczos vector ``phi0`` at the quadrature
    points).  :math:`\lambda = \theta\int m\varphi'^2/\int m\varphi^2`, a ratio of positive
    sums: relative accuracy for an exponentially small gap (two wells per cell).  Returns
    (lam, g, phi, steps, change) with :math:`\int m\varphi^2 = \int m` (i.e.
    :math:`\int\rho\varphi^2 = 1`)."""
    Z = float(np.sum(m * line.dx))

    def mean_square(f):
        return float(np.sum(np.square(np.sqrt(m) * f) * line.dx)) / Z

    return positive_inverse_iteration(lambda f: periodic_green_solve(line, m, theta, f),
                                      mean_square, theta, phi0,
                                      project=lambda f: f - np.sum(m * f * line.dx) / Z,
                                      rtol=rtol, maxiter=maxiter)
