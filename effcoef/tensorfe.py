r"""Tensor-product spectral elements in d = 2, 3 (the weighted formulation, sum factorisation).

On a tensor mesh of a box the continuous piecewise :math:`Q_p` space is the tensor product of
the 1D continuous piecewise :math:`P_p` spaces of the axes, so every global basis function is
a product :math:`\varphi_{a_1}(v_1)\cdots\varphi_{a_d}(v_d)` of 1D functions.  The 1D basis
is the nodal Lagrange basis on the Gauss-Lobatto-Legendre (GLL) points of each element (well
conditioned at high degree; the constant is the all-ones vector, so the kernel of the
weighted stiffness is known exactly), and the quadrature is the tensor product of
Gauss-Legendre rules with ``nq`` points per element and axis.  With the weight
:math:`m = e^{-(W - W_{\min})/\theta}` sampled on the tensor quadrature grid,

.. math:: A_{IJ} = \theta\sum_q m_q w_q \nabla\varphi_I(x_q)\cdot\nabla\varphi_J(x_q),
          \qquad B_{IJ} = \sum_q m_q w_q \varphi_I(x_q)\varphi_J(x_q)

are assembled element by element with sum factorisation: the quadrature sums are contracted
one axis at a time (:math:`O(n_q (p+1)^{2d})` per element in place of
:math:`O(n_q^d (p+1)^{2d})`), as matrix products.  Loads
:math:`\ell_I = \sum_q f_q w_q\varphi_I(x_q)` and the values of a coefficient vector on the
quadrature grid are products with the sparse 1D collocation matrices, one axis at a time.

Only numpy/scipy are used; :func:`effcoef.tensorfe` is checked against scikit-fem's
``ElementQuadP`` (2D) and ``ElementHex1``/``ElementHex2`` (3D) on the same meshes
(``tests/test_multid.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from numpy.polynomial import legendre as npleg
from scipy import sparse

__all__ = ["gll_rule", "lagrange_tables", "Axis", "TensorSpace"]


@lru_cache(maxsize=32)
def gll_rule(p):
    r"""Gauss-Lobatto-Legendre points and weights on [-1, 1] (p + 1 points, exact to degree
    2p - 1): the end points and the roots of :math:`P_p'`."""
    if p < 1:
        raise ValueError(f"degree must be >= 1, got {p}")
    c = np.zeros(p + 1)
    c[-1] = 1.0
    inner = np.sort(np.real(npleg.legroots(npleg.legder(c)))) if p > 1 else np.array([])
    x = np.concatenate([[-1.0], inner, [1.0]])
    # one Newton polish of the inner roots of P_p' (companion-matrix roots lose a few digits)
    for _ in range(2):
        if p > 1:
            d1 = npleg.legval(x[1:-1], npleg.legder(c))
            d2 = npleg.legval(x[1:-1], npleg.legder(c, 2))
            x[1:-1] -= d1 / d2
    w = 2.0 / (p * (p + 1) * npleg.legval(x, c) ** 2)
    x.flags.writeable = w.flags.writeable = False
    return x, w


def lagrange_tables(nodes, x):
    r"""Values and derivatives of the Lagrange basis on ``nodes`` at the points ``x``
    (barycentric formulas): arrays (len(x), len(nodes))."""
    nodes, x = np.asarray(nodes, float), np.asarray(x, float)
    diff = nodes[:, None] - nodes[None, :]
    np.fill_diagonal(diff, 1.0)
    bw = 1.0 / np.prod(diff, axis=1)                     # barycentric weights
    d = x[:, None] - nodes[None, :]                       # (npts, n)
    hit = np.abs(d) < 1e-14
    rows = hit.any(axis=1)
    d = np.where(hit, 1.0, d)
    t = bw[None, :] / d
    s = t.sum(axis=1, keepdims=True)
    V = t / s
    # l_i'(x) = (t_i / s) (sum_j t_j / d_j / s - 1 / d_i)  (derivative of the barycentric form)
    u = (t / d).sum(axis=1, keepdims=True)
    Dv = V * (u / s - 1.0 / d)
    if np.any(rows):                                     # points on a node: exact rows
        idx = np.nonzero(rows)[0]
        js = np.argmax(hit[idx], axis=1)
        dn = nodes[js][:, None] - nodes[None, :]
        dn[np.arange(len(idx)), js] = 1.0
        R = bw[None, :] / (bw[js][:, None] * dn)
        R[np.arange(len(idx)), js] = 0.0
        R[np.arange(len(idx)), js] = -R.sum(axis=1)
        V[idx] = 0.0
        V[idx, js] = 1.0
        Dv[idx] = R
    return V, Dv


@dataclass
class Axis:
    r"""One axis of the tensor mesh: element end points ``nodes`` (ne + 1,), degree ``p``,
    ``nq`` Gauss points per element.

    Global 1D dofs: the GLL points of the elements, shared at element ends
    (n = ne p + 1); ``dof[e, a] = e p + a``.
    """

    nodes: np.ndarray
    p: int
    nq: int
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        self.nodes = np.asarray(self.nodes, dtype=float)
        if len(self.nodes) < 2 or np.any(np.diff(self.nodes) <= 0):
            raise ValueError("axis nodes must be strictly increasing")
        xi, _ = gll_rule(self.p)
        g, gw = npleg.leggauss(self.nq)
        self.ref_V, self.ref_D = lagrange_tables(xi, g)      # (nq, p+1)
        self.ref_w = gw
        h = np.diff(self.nodes)
        self.h = h
        mid = 0.5 * (self.nodes[1:] + self.nodes[:-1])
        self.x = mid[:, None] + 0.5 * h[:, None] * g[None, :]       # (ne, nq)
        self.w = 0.5 * h[:, None] * gw[None, :]                     # (ne, nq)
        self.jac = 2.0 / h                                           # d xi / dx
        self.dof = np.arange(self.ne)[:, None] * self.p + np.arange(self.p + 1)[None, :]
        inner = (mid[:, None] + 0.5 * h[:, None] * xi[None, :])[:, :-1].ravel()
        self.dof_x = np.concatenate([inner, self.nodes[-1:]])       # GLL points (n,)

    @property
    def ne(self):
        return len(self.nodes) - 1

    @property
    def n(self):
        return self.ne * self.p + 1

    def collocation(self, deriv=False):
        r"""Sparse (ne nq, n) matrix of the global 1D basis functions (or their derivatives)
        at the quadrature points."""
        key = ("G", deriv)
        if key not in self._cache:
            ne, nq, p1 = self.ne, self.nq, self.p + 1
            vals = np.broadcast_to(self.ref_V, (ne, nq, p1))
            if deriv:
                vals = self.ref_D[None, :, :] * self.jac[:, None, None]
            rows = np.broadcast_to(np.arange(ne * nq).reshape(ne, nq, 1), (ne, nq, p1))
            cols = np.broadcast_to(self.dof[:, None, :], (ne, nq, p1))
            self._cache[key] = sparse.csr_matrix(
                (np.ascontiguousarray(vals).ravel(), (rows.ravel(), cols.ravel())),
                shape=(ne * nq, self.n))
        return self._cache[key]

    def evaluate_matrix(self, x, deriv=False):
        r"""Sparse (len(x), n) matrix of the global basis (derivative) at arbitrary points of
        the axis (points outside get zero rows)."""
        x = np.asarray(x, float).ravel()
        e = np.clip(np.searchsorted(self.nodes, x, side="right") - 1, 0, self.ne - 1)
        inside = (x >= self.nodes[0]) & (x <= self.nodes[-1])
        xi = 2.0 * (x - self.nodes[e]) / self.h[e] - 1.0
        V, Dv = lagrange_tables(gll_rule(self.p)[0], xi)
        vals = Dv * self.jac[e][:, None] if deriv else V
        vals = vals * inside[:, None]
        rows = np.repeat(np.arange(len(x)), self.p + 1)
        cols = self.dof[e].ravel()
        return sparse.csr_matrix((vals.ravel(), (rows, cols)), shape=(len(x), self.n))


def _apply_axis(G, F, axis):
    """Contract the sparse matrix G (r, s) with the array F along ``axis`` (length s)."""
    F = np.moveaxis(F, axis, 0)
    shp = F.shape
    out = G @ F.reshape(shp[0], -1)
    return np.moveaxis(np.asarray(out).reshape((G.shape[0],) + shp[1:]), 0, axis)


class TensorSpace:
    r"""The tensor-product space of ``axes`` (2 or 3 :class:`Axis`); global dof index
    :math:`I = (a_1, \dots, a_d)` in C order."""

    def __init__(self, axes):
        self.axes = list(axes)
        self.dim = len(self.axes)
        if self.dim not in (2, 3):
            raise ValueError(f"dimension must be 2 or 3, got {self.dim}")
        self.shape = tuple(ax.n for ax in self.axes)
        self.N = int(np.prod(self.shape))

    # --- the quadrature grid -------------------------------------------------------------
    def grid(self):
        """Quadrature points, shape (d, Q_1, ..., Q_d) with Q_i = ne_i nq_i."""
        return np.array(np.meshgrid(*[ax.x.ravel() for ax in self.axes], indexing="ij"))

    def weights(self):
        """Tensor quadrature weights (Q_1, ..., Q_d)."""
        w = self.axes[0].w.ravel()
        for ax in self.axes[1:]:
            w = np.multiply.outer(w, ax.w.ravel())
        return w

    # --- operators on coefficient vectors ------------------------------------------------
    def values(self, c, deriv=None):
        """Values (or the derivative along axis ``deriv``) of the coefficient vector(s) ``c``
        (N,) on the quadrature grid (Q_1, ..., Q_d)."""
        F = np.asarray(c, float).reshape(self.shape)
        for i, ax in enumerate(self.axes):
            F = _apply_axis(ax.collocation(deriv == i), F, i)
        return F

    def load(self, f):
        r""":math:`\ell_I = \sum_q f_q \varphi_I(x_q)` for f on the quadrature grid (the
        quadrature weights are not applied here: pass ``f * w``)."""
        F = np.asarray(f, float)
        for i, ax in enumerate(self.axes):
            F = _apply_axis(ax.collocation(False).T.tocsr(), F, i)
        return F.ravel()

    def load_grad(self, f, i):
        r""":math:`\sum_q f_q\,\partial_i\varphi_I(x_q)`."""
        F = np.asarray(f, float)
        for j, ax in enumerate(self.axes):
            F = _apply_axis(ax.collocation(j == i).T.tocsr(), F, j)
        return F.ravel()

    def interpolate(self, coarse: "TensorSpace", c):
        r"""Coefficients in this space of the functions with coefficients ``c`` (N_coarse,
        k) in ``coarse``: the coarse basis at this space's GLL points, one axis at a time
        (:math:`P = P_1\otimes\dots\otimes P_d`).  Exact when ``coarse`` is contained in this
        space (same mesh, lower degree)."""
        c = np.asarray(c, float)
        k = c.shape[1]
        F = c.reshape(coarse.shape + (k,))
        for i, (ca, fa) in enumerate(zip(coarse.axes, self.axes)):
            F = _apply_axis(ca.evaluate_matrix(fa.dof_x), F, i)
        return F.reshape(-1, k)

    def probes(self, points):
        """Sparse (npts, N) evaluation matrix at arbitrary points (d, npts)."""
        P = np.asarray(points, float)
        mats = [ax.evaluate_matrix(P[i]) for i, ax in enumerate(self.axes)]
        out = mats[0]
        for Mi in mats[1:]:
            # row-wise Kronecker product (face-splitting product)
            out = sparse.csr_matrix(
                (np.einsum("ra,rb->rab", _dense_rows(out), _dense_rows(Mi)).reshape(len(P[0]), -1)
                 .ravel(), _kron_index(out, Mi)), shape=(len(P[0]), out.shape[1] * Mi.shape[1]))
        return out

    # --- assembly ----------------------------------------------------------------------
    def element_matrix_bytes(self):
        p1 = [ax.p + 1 for ax in self.axes]
        ne = [ax.ne for ax in self.axes]
        return int(np.prod(ne)) * int(np.prod(p1)) ** 2 * 8

    def assemble(self, mw, theta, *, chunk_bytes=2 ** 27, mass=True):
        r"""Stiffness A and mass B (scipy CSR) for the weight ``mw`` = m w on the quadrature
        grid (Q_1, ..., Q_d), by sum factorisation element by element (chunks of elements
        along the first axis keep the element matrices below ``chunk_bytes``).  With
        ``mass=False`` B is not assembled (None; :meth:`mass_apply` and
        :meth:`mass_diagonal` give its products and diagonal)."""
        d = self.dim
        axes = self.axes
        ne = [ax.ne for ax in axes]
        nq = [ax.nq for ax in axes]
        p1 = [ax.p + 1 for ax in axes]
        M = np.asarray(mw, float).reshape(sum(([e, q] for e, q in zip(ne, nq)), []))
        # 1D products P[e, q, a, c] for value-value and derivative-derivative
        PV = [np.einsum("qa,qc->qac", ax.ref_V, ax.ref_V).reshape(ax.nq, -1) for ax in axes]
        PD = [np.einsum("qa,qc->qac", ax.ref_D, ax.ref_D).reshape(ax.nq, -1) for ax in axes]
        J2 = [ax.jac ** 2 for ax in axes]
        per_elem = int(np.prod(p1)) ** 2 * 8 * 6
        step = max(1, min(ne[0], chunk_bytes // max(per_elem * int(np.prod(ne[1:])), 1)))
        loc = self._element_dofs()
        per_slab = int(np.prod(ne[1:]))
        nloc = loc.shape[1]
        A = B = None
        for s in range(0, ne[0], step):
            Mc = M[s:s + step]
            ex = Mc.shape[0]
            Jx = J2[0][s:s + step]
            if d == 2:
                # contract the quadrature index of axis 2, then of axis 1 (matrix products)
                TV = _last(Mc, PV[1])                                    # (x, i, y, bd)
                TD = _last(Mc, PD[1]) * J2[1][None, None, :, None]
                Ae = (_first(PD[0], TV) * Jx[None, :, None, None]       # (ac, x, y, bd)
                      + _first(PV[0], TD))
                Be = _first(PV[0], TV) if mass else None
                shp = (p1[0], p1[0], ex, ne[1], p1[1], p1[1])
                perm = (2, 3, 0, 4, 1, 5)                                 # x, y, a, b, c, d
            else:
                TV = _last(Mc, PV[2])                                    # (x, i, y, j, z, cf)
                TD = _last(Mc, PD[2]) * J2[2][None, None, None, None, :, None]
                # contract axis 2: value-value, derivative in y, derivative in z
                UVV = _mid(PV[1], TV)                                    # (x, i, y, z, be, cf)
                UDV = _mid(PD[1], TV) * J2[1][None, None, :, None, None, None]
                UVD = _mid(PV[1], TD)
                Ae = (_first(PD[0], UVV) * Jx[None, :, None, None, None, None]
                      + _first(PV[0], UDV + UVD))                        # (ad, x, y, z, be, cf)
                Be = _first(PV[0], UVV) if mass else None
                shp = (p1[0], p1[0], ex, ne[1], ne[2], p1[1], p1[1], p1[2], p1[2])
                perm = (2, 3, 4, 0, 5, 7, 1, 6, 8)                        # x,y,z,a,b,c,a',b',c'
                del TV, TD, UVV, UDV, UVD
            # this chunk's elements are contiguous in the element order of _element_dofs;
            # summed into CSR chunk by chunk (the COO data of all elements is never held)
            lc = loc[s * per_slab:(s + ex) * per_slab]
            rows = np.repeat(lc, nloc, axis=1).ravel()
            cols = np.tile(lc, (1, nloc)).ravel()
            Ac = sparse.csr_matrix(
                (np.ascontiguousarray((theta * Ae).reshape(shp).transpose(perm)).ravel(),
                 (rows, cols)), shape=(self.N, self.N))
            del Ae
            A = Ac if A is None else A + Ac
            del Ac
            if mass:
                Bc = sparse.csr_matrix(
                    (np.ascontiguousarray(Be.reshape(shp).transpose(perm)).ravel(),
                     (rows, cols)), shape=(self.N, self.N))
                B = Bc if B is None else B + Bc
                del Bc
            del Be, rows, cols
        A.sum_duplicates()
        if mass:
            B.sum_duplicates()
        return A, B

    def mass_apply(self, mw, c):
        r""":math:`B c` for coefficient vectors ``c`` (N, k) without B:
        :math:`(Bc)_I = \sum_q mw_q\,\varphi_I(x_q)\,(\sum_J c_J\varphi_J(x_q))`, the same
        quadrature as :meth:`assemble` (equal to rounding)."""
        c = np.asarray(c, float)
        out = np.empty_like(c)
        for j in range(c.shape[1]):
            out[:, j] = self.load(mw * self.values(c[:, j]))
        return out

    def mass_diagonal(self, mw):
        r"""The diagonal of B: :math:`\sum_q mw_q \varphi_I(x_q)^2`, one axis at a time with
        the squared collocation matrices."""
        F = np.asarray(mw, float)
        for i, ax in enumerate(self.axes):
            C = ax.collocation(False)
            F = _apply_axis(C.multiply(C).T.tocsr(), F, i)
        return F.ravel()

    def _element_dofs(self):
        """Global dof indices of each element's local dofs, (n_elements, nloc), elements in
        C order of (e_1, ..., e_d) and local dofs in C order of (a_1, ..., a_d)."""
        axes = self.axes
        # global index of each element's local dofs: (ne_1, ..., ne_d, p1_1, ..., p1_d)
        idx = None
        for i, ax in enumerate(axes):
            stride = int(np.prod(self.shape[i + 1:]))
            g = ax.dof * stride                                       # (ne_i, p1_i)
            shape = [1] * (2 * self.dim)
            shape[i], shape[self.dim + i] = ax.ne, ax.p + 1
            g = g.reshape(shape)
            idx = g if idx is None else idx + g
        ne = [ax.ne for ax in axes]
        nloc = int(np.prod([ax.p + 1 for ax in axes]))
        return idx.reshape(int(np.prod(ne)), nloc)


def _last(M, P):
    """Contract the last axis of M with the first of P (a matrix product)."""
    return (M.reshape(-1, M.shape[-1]) @ P).reshape(M.shape[:-1] + (P.shape[1],))


def _mid(P, T):
    """(x, i, y, j, z, C) x (j, B) -> (x, i, y, z, B, C): contract the axis-2 quadrature index."""
    x, i, y, j, z, C = T.shape
    U = np.tensordot(T, P, axes=([3], [0]))                  # (x, i, y, z, C, B)
    return U.transpose(0, 1, 2, 3, 5, 4)


def _first(P, T):
    """(i, A) x (x, i, ...) -> (A, x, ...): contract the axis-1 quadrature index."""
    return np.tensordot(P, T, axes=([0], [1]))


def _dense_rows(S):
    """The nonzero values of a CSR matrix with the same number of entries in every row."""
    S = S.tocsr()
    k = np.diff(S.indptr)[0]
    return S.data.reshape(-1, k)


def _kron_index(S, T):
    S, T = S.tocsr(), T.tocsr()
    ks, kt = np.diff(S.indptr)[0], np.diff(T.indptr)[0]
    n = S.shape[0]
    ci = (S.indices.reshape(n, ks)[:, :, None] * T.shape[1]
          + T.indices.reshape(n, kt)[:, None, :]).ravel()
    ri = np.repeat(np.arange(n), ks * kt)
    return ri, ci
