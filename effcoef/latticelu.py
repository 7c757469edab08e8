r"""Nested-dissection multifrontal LU for sparse matrices whose unknowns sit on a 2D lattice.

The unknowns of the matrix A carry integer lattice coordinates :math:`(i, j)` (for the 1D
kinetic matrices of :mod:`effcoef.kinetic`: the Hermite degree n and the Fourier mode k), and
a nonzero :math:`A_{uv}` couples only nodes with :math:`|i_u - i_v| \le w_i` and
:math:`|j_u - j_v| \le w_j` (a stencil; :func:`lattice_widths`).  Then a band of :math:`w_i`
rows (or :math:`w_j` columns) of the lattice separates the two halves of a box, and the
geometric nested dissection of the lattice (George 1973: cut the box across its longer side,
measured in separator size, recursively, down to leaves of at most ``leaf`` unknowns) orders
the elimination so that the fill is :math:`O(n\log n)` and the work :math:`O(n^{3/2})` for n
unknowns on a roughly square lattice.

The factorisation is multifrontal (Duff & Reid 1983): the separator tree is processed leaves
first; node t owns the unknowns :math:`V_t` (a leaf box or a separator) and its front is the
dense matrix on :math:`V_t \cup B_t`, :math:`B_t` the not yet eliminated unknowns coupled to
:math:`V_t` (parts of the ancestors' separators), assembled from the entries of A and the
update matrices of its children (extend-add).  Eliminating :math:`V_t`,

.. math:: F = \begin{pmatrix}F_{VV} & F_{VB}\\ F_{BV} & F_{BB}\end{pmatrix}, \qquad
          X = F_{VV}^{-1}F_{VB}, \qquad U_t = F_{BB} - F_{BV}X ,

with LAPACK ``getrf`` (partial pivoting *inside* :math:`V_t`) and level-3 BLAS for X and the
update :math:`U_t` passed to the parent.  The stored factors (LU of :math:`F_{VV}`,
:math:`X`, :math:`F_{BV}`) solve :math:`Ax = r` (forward: :math:`y_V = F_{VV}^{-1}r_V`,
:math:`r_B \mathrel{-}= F_{BV}y_V`; backward: :math:`x_V = y_V - Xx_B`) and
:math:`A^Tx = r` (forward: :math:`r_B \mathrel{-}= X^Tr_V`; backward:
:math:`x_V = F_{VV}^{-T}(r_V - F_{BV}^Tx_B)`).

There is no pivoting *between* fronts (static pivots): the elimination is exact when every
:math:`F_{VV}` is nonsingular (e.g. when the symmetric part of A is positive definite on
every box, as for the kinetic matrices with friction), but its accuracy is not guaranteed a
priori; callers check the residual (see :mod:`effcoef.underdamped`: residual check, one step
of iterative refinement, fallback to SuperLU).

Nothing here knows about the physics.
"""

from __future__ import annotations

from typing import List, Optional

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack

__all__ = ["LatticeLU", "BorderedLatticeLU", "lattice_widths", "nested_dissection_order"]


def lattice_widths(A: sp.spmatrix, coords: np.ndarray) -> tuple:
    """Stencil half-widths ``(w_i, w_j)``: the largest coordinate distances of a nonzero."""
    coords = np.asarray(coords)
    A = sp.csr_matrix(A)
    rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
    nz = A.data != 0
    if not np.any(nz):
        return (0, 0)
    r, c = rows[nz], A.indices[nz]
    return (int(np.abs(coords[r, 0] - coords[c, 0]).max()),
            int(np.abs(coords[r, 1] - coords[c, 1]).max()))


def nested_dissection_order(A: sp.spmatrix, coords, leaf: int = 32) -> np.ndarray:
    """The geometric nested-dissection elimination order of :class:`LatticeLU` (separators
    last, recursively) as a permutation, for another sparse factorisation (e.g. SuperLU with
    ``permc_spec="NATURAL"`` on ``A[perm][:, perm]``)."""
    coords = np.asarray(coords, dtype=np.int64)
    perm, _ = _dissect(coords, lattice_widths(A, coords), int(leaf))
    return perm


class _Node:
    __slots__ = ("start", "stop", "children", "B", "lu", "piv", "X", "L")

    def __init__(self, start, stop, children):
        self.start, self.stop, self.children = start, stop, children
        self.B = self.lu = self.piv = self.X = self.L = None


def _dissect(coords: np.ndarray, widths, leaf: int, last: Optional[np.ndarray] = None):
    """Elimination order (postorder of the separator tree) and the tree nodes; the unknowns
    flagged in ``last`` (boolean) form the root, eliminated after all others."""
    ci = coords[:, 0] - coords[:, 0].min()
    cj = coords[:, 1] - coords[:, 1].min()
    grid = -np.ones((int(ci.max()) + 1, int(cj.max()) + 1), dtype=np.int64)
    if np.unique(ci * grid.shape[1] + cj).size != ci.size:
        raise ValueError("lattice LU: two unknowns share a lattice node")
    grid[ci, cj] = np.arange(ci.size)
    if last is not None:
        grid[ci[last], cj[last]] = -1
    wi, wj = max(int(widths[0]), 1), max(int(widths[1]), 1)
    order: List[np.ndarray] = []
    nodes: List[_Node] = []
    count = [0]

    def emit(vars_, children):
        vars_ = vars_[vars_ >= 0]
        order.append(vars_)
        nodes.append(_Node(count[0], count[0] + vars_.size, children))
        count[0] += vars_.size
        return len(nodes) - 1

    def rec(a0, a1, b0, b1):
        box = grid[a0:a1, b0:b1]
        nvar = int(np.count_nonzero(box >= 0))
        if nvar == 0:
            return None
        # separator sizes of the two cuts (inf where a half would be empty)
        cost_i = wi * (b1 - b0) if a1 - a0 >= wi + 2 else np.inf
        cost_j = wj * (a1 - a0) if b1 - b0 >= wj + 2 else np.inf
        if nvar <= leaf or (cost_i == np.inf and cost_j == np.inf):
            return emit(box.ravel(), [])
        if cost_i <= cost_j:
            m = (a0 + a1 - wi) // 2
            kids = [rec(a0, m, b0, b1), rec(m + wi, a1, b0, b1)]
            sep = grid[m:m + wi, b0:b1]
        else:
            m = (b0 + b1 - wj) // 2
            kids = [rec(a0, a1, b0, m), rec(a0, a1, m + wj, b1)]
            sep = grid[a0:a1, m:m + wj]
        return emit(sep.ravel(), [k for k in kids if k is not None])

    top = rec(0, grid.shape[0], 0, grid.shape[1])
    if last is not None:
        rootv = np.flatnonzero(last)
        rootv = rootv[np.lexsort((cj[rootv], ci[rootv]))]
        emit(rootv, [] if top is None else [top])
    perm = np.concatenate(order)
    return perm, nodes


def _extend_add(F, li, U):
    """F[li, li] += U for increasing indices li: a small U (at most 20000 entries: most
    calls, the updates of the leaves and small separators) by one flat fancy index; else by
    contiguous runs of li (slices) where they are few (the usual case: pieces of the
    ancestors' separators), else fancy indexing.  (Each entry of F gets the same single
    addition either way.  The flat index for small U: extend-add 1.06 s -> 0.75 s of a 4.1 s
    factorisation at 252k unknowns, 5 cos x at gamma = 1e-3.)"""
    if U.size <= 20000 and F.flags.c_contiguous:
        idx = (li[:, None] * F.shape[1] + li).ravel()
        Ff = F.reshape(-1)
        Ff[idx] += U.ravel()
        return
    brk = np.flatnonzero(np.diff(li) != 1) + 1
    if brk.size > 12:
        F[np.ix_(li, li)] += U
        return
    lo = np.r_[0, brk]
    hi = np.r_[brk, li.size]
    runs = [(int(s), int(e), int(li[s])) for s, e in zip(lo, hi)]
    for rs, re, r0 in runs:
        Fr = F[r0:r0 + re - rs]
        Ur = U[rs:re]
        for cs, ce, c0 in runs:
            Fr[:, c0:c0 + ce - cs] += Ur[:, cs:ce]


class LatticeLU:
    r"""Multifrontal LU of A in the nested-dissection order of its lattice.

    Parameters
    ----------
    A : sparse matrix (n, n)
    coords : int array (n, 2)
        Lattice coordinates of the unknowns (distinct).
    leaf : int
        Boxes with at most this many unknowns are not dissected further (one dense front).
    widths : (int, int), optional
        Stencil half-widths; default from A (:func:`lattice_widths`).  Couplings wider than
        given are refused (``ValueError``): the separators would not separate.
    max_bytes : float, optional
        Refuse (``MemoryError``, before the numeric factorisation) if the factors (counted
        exactly by the symbolic phase) and the largest update matrix need more.
    last : bool array (n,), optional
        Unknowns eliminated last, as the root of the separator tree (e.g. a boundary column
        of the lattice).  Their Schur complement :math:`S = A_{rr} - A_{ri}A_{ii}^{-1}A_{ir}`
        is then kept (:attr:`schur`, in the order :attr:`root`) and :meth:`forward` /
        :meth:`backward` give the elimination of the other unknowns alone, for a bordered
        solve of a larger system that couples to A only through these unknowns
        (:class:`BorderedLatticeLU`).

    Raises ``numpy.linalg.LinAlgError`` if a front's pivot block is exactly singular or the
    factors are not finite.
    """

    def __init__(self, A: sp.spmatrix, coords, leaf: int = 128, widths: Optional[tuple] = None,
                 max_bytes: Optional[float] = None, last: Optional[np.ndarray] = None):
        A = sp.csr_matrix(A)
        n = A.shape[0]
        coords = np.asarray(coords, dtype=np.int64)
        if coords.shape != (n, 2):
            raise ValueError(f"lattice LU: coords must have shape ({n}, 2)")
        actual = lattice_widths(A, coords)
        if widths is None:
            widths = actual
        elif actual[0] > widths[0] or actual[1] > widths[1]:
            raise ValueError(f"lattice LU: couplings {actual} wider than the stencil {widths}")
        self.n, self.widths = n, tuple(int(w) for w in widths)
        self.schur = self.root = None
        if last is not None:
            last = np.asarray(last, dtype=bool)
            if last.shape != (n,) or not last.any() or last.all():
                raise ValueError("lattice LU: last must flag some, not all, of the unknowns")
        self.has_root = last is not None
        self.perm, self.nodes = _dissect(coords, self.widths, int(leaf), last)
        if self.has_root:
            self.root = self.perm[self.nodes[-1].start:]
        P = A[self.perm][:, self.perm]
        Pr, Pc = P.tocsr(), P.tocsc()
        Pr.sum_duplicates()
        Pc.sum_duplicates()
        self._symbolic(Pr, Pc)
        if max_bytes is not None and self.memory > max_bytes:
            raise MemoryError(f"lattice LU: the factors need {self.memory / 1e9:.1f} GB")
        self._numeric(Pr, Pc)

    # -- symbolic: the index sets B_t -------------------------------------------------------

    def _symbolic(self, Pr, Pc):
        self.front_entries = 0
        self.largest_front = 0
        for t in self.nodes:
            a, b = t.start, t.stop
            parts = [Pr.indices[Pr.indptr[a]:Pr.indptr[b]],
                     Pc.indices[Pc.indptr[a]:Pc.indptr[b]]]
            parts += [self.nodes[c].B for c in t.children]
            allb = np.concatenate(parts)
            t.B = np.unique(allb[allb >= b])
            nv, nb = b - a, t.B.size
            self.front_entries += nv * nv + 2 * nv * nb
            self.largest_front = max(self.largest_front, nv + nb)

    @property
    def memory(self) -> float:
        """Bytes of the stored factors (float64) and of the largest front, twice (a front and
        the update matrices waiting for their parents are of that order)."""
        return 8.0 * self.front_entries + 16.0 * self.largest_front ** 2 + 16.0 * self.n

    # -- numeric ----------------------------------------------------------------------------

    def _numeric(self, Pr, Pc):
        n = self.n
        row_of = np.repeat(np.arange(n), np.diff(Pr.indptr))
        col_of = np.repeat(np.arange(n), np.diff(Pc.indptr))
        loc = np.zeros(n, dtype=np.int64)
        updates = {}
        for ti, t in enumerate(self.nodes):
            a, b = t.start, t.stop
            nv, B = b - a, t.B
            nb = B.size
            loc[a:b] = np.arange(nv)
            loc[B] = nv + np.arange(nb)
            F = np.zeros((nv + nb, nv + nb))
            s0, s1 = Pr.indptr[a], Pr.indptr[b]
            cols = Pr.indices[s0:s1]
            m = cols >= a
            F[row_of[s0:s1][m] - a, loc[cols[m]]] = Pr.data[s0:s1][m]
            s0, s1 = Pc.indptr[a], Pc.indptr[b]
            rows = Pc.indices[s0:s1]
            m = rows >= b
            F[loc[rows[m]], col_of[s0:s1][m] - a] = Pc.data[s0:s1][m]
            for c in t.children:
                Bc, Uc = updates.pop(c)
                _extend_add(F, loc[Bc], Uc)
            if nv:
                if self.has_root and ti == len(self.nodes) - 1:
                    self.schur = F[:nv, :nv].copy()
                lu, piv, info = lapack.dgetrf(F[:nv, :nv])
                if info != 0 or not np.all(np.isfinite(lu)):
                    raise np.linalg.LinAlgError(
                        f"lattice LU: singular pivot block at node {ti} ({nv} unknowns)")
                t.lu, t.piv = lu, piv
                if nb:
                    t.X, _ = lapack.dgetrs(lu, piv, F[:nv, nv:])
                    t.L = F[nv:, :nv].copy()
                    Upd = F[nv:, nv:]
                    Upd -= t.L @ t.X
                    updates[ti] = (B, Upd)
            elif nb:
                updates[ti] = (B, F)
        if not all(np.all(np.isfinite(t.X)) for t in self.nodes if t.X is not None):
            raise np.linalg.LinAlgError("lattice LU: non-finite factors")

    # -- solves -----------------------------------------------------------------------------

    def forward(self, r: np.ndarray) -> np.ndarray:
        """Forward elimination of all unknowns but the root (``last``): returns the work array
        (permuted order) whose root rows hold the reduced right-hand side
        :math:`r_r - A_{ri}A_{ii}^{-1}r_i`."""
        if not self.has_root:
            raise ValueError("lattice LU: forward/backward need a root (last=...)")
        y = np.asarray(r, dtype=float)[self.perm].reshape(self.n, -1).copy()
        for t in self.nodes[:-1]:
            a, b = t.start, t.stop
            if b > a:
                y[a:b], _ = lapack.dgetrs(t.lu, t.piv, y[a:b])
                if t.L is not None:
                    y[t.B] -= t.L @ y[a:b]
        return y

    def backward(self, y: np.ndarray, x_root: np.ndarray) -> np.ndarray:
        """Back substitution given the root unknowns x_root (order :attr:`root`): the solution
        in the original order, of shape (n, q)."""
        y = y.copy()
        t = self.nodes[-1]
        y[t.start:t.stop] = np.asarray(x_root, dtype=float).reshape(t.stop - t.start, -1)
        for t in reversed(self.nodes[:-1]):
            if t.X is not None:
                y[t.start:t.stop] -= t.X @ y[t.B]
        x = np.empty_like(y)
        x[self.perm] = y
        return x

    def solve(self, r: np.ndarray, trans: str = "N") -> np.ndarray:
        """Solve A x = r (``trans="N"``) or A^T x = r (``"T"``); r of shape (n,) or (n, q)."""
        r = np.asarray(r, dtype=float)
        vec = r.ndim == 1
        y = r[self.perm].reshape(self.n, -1).copy()
        nodes = self.nodes
        if trans == "N":
            for t in nodes:
                a, b = t.start, t.stop
                if b > a:
                    y[a:b], _ = lapack.dgetrs(t.lu, t.piv, y[a:b])
                    if t.L is not None:
                        y[t.B] -= t.L @ y[a:b]
            for t in reversed(nodes):
                if t.X is not None:
                    y[t.start:t.stop] -= t.X @ y[t.B]
        elif trans == "T":
            for t in nodes:
                if t.X is not None:
                    y[t.B] -= t.X.T @ y[t.start:t.stop]
            for t in reversed(nodes):
                a, b = t.start, t.stop
                if b > a:
                    rhs = y[a:b] if t.L is None else y[a:b] - t.L.T @ y[t.B]
                    y[a:b], _ = lapack.dgetrs(t.lu, t.piv, rhs, trans=1)
        else:
            raise ValueError(f"trans must be 'N' or 'T', got {trans!r}")
        x = np.empty_like(y)
        x[self.perm] = y
        return x[:, 0] if vec else x


class BorderedLatticeLU:
    r"""LU of a bordered matrix that reuses the factors of its leading block.

    The unknowns of M split into ``base`` (where :math:`M_{bb} = A`, already factorised by
    ``lu_base``, a :class:`LatticeLU` with a root ``last``) and ``new`` (the rest, factorised
    here by a :class:`LatticeLU` with the root ``last_new``), and the two parts are coupled
    only through the two roots (checked):

    .. math:: M = \begin{pmatrix} A_{ii} & A_{ia} & & \\ A_{ai} & A_{aa} & M_{ab} & \\
              & M_{ba} & E_{bb} & E_{bj}\\ & & E_{jb} & E_{jj}\end{pmatrix} .

    Eliminating the interiors i and j (the two factorisations without their roots) leaves
    the dense system on the roots a and b,

    .. math:: G = \begin{pmatrix} S_A & M_{ab}\\ M_{ba} & S_E \end{pmatrix}, \qquad
              S_A = A_{aa} - A_{ai}A_{ii}^{-1}A_{ia}, \quad S_E = E_{bb} - E_{bj}E_{jj}^{-1}E_{jb},

    solved by LAPACK ``getrf``; then back substitution in each part.  For a lattice grown by
    some columns (e.g. more Fourier modes) only the new columns are factorised.  No pivoting
    between the parts (as in :class:`LatticeLU`); callers check the residual.

    Parameters
    ----------
    M : sparse matrix (n, n)
    base : int array
        Indices (into M) of the unknowns of A, in the order of A's rows.
    lu_base : LatticeLU
        Factors of A = M[base][:, base], built with ``last`` (the caller guarantees the
        equality; only the coupling structure is checked here).
    new_coords : int array (n - len(base), 2)
        Lattice coordinates of the other unknowns (in increasing index order of M).
    last_new : bool array
        Which of the new unknowns form the root of their factorisation.
    lu_new : LatticeLU, optional
        The factors of the new block ``M[new][:, new]`` with the root ``last_new``, if already
        computed (e.g. on another thread while the base was factorised); the caller
        guarantees the equality (the root is checked).
    """

    def __init__(self, M: sp.spmatrix, base, lu_base: LatticeLU, new_coords, last_new,
                 leaf: int = 128, max_bytes: Optional[float] = None,
                 lu_new: Optional[LatticeLU] = None):
        M = sp.csr_matrix(M)
        n = M.shape[0]
        base = np.asarray(base, dtype=np.int64)
        if not lu_base.has_root or base.size != lu_base.n:
            raise ValueError("bordered LU: the base factors need a root of the right size")
        mask = np.zeros(n, dtype=bool)
        mask[base] = True
        new = np.flatnonzero(~mask)
        if new.size == 0:
            raise ValueError("bordered LU: nothing to add")
        if lu_new is None:
            lu_new = LatticeLU(M[new][:, new], new_coords, leaf=leaf, max_bytes=max_bytes,
                               last=last_new)
        elif lu_new.n != new.size or not lu_new.has_root or not np.array_equal(
                np.sort(lu_new.root), np.flatnonzero(np.asarray(last_new, dtype=bool))):
            raise ValueError("bordered LU: the given factors of the new block do not match")
        self.lu_new = lu_new
        ra = base[lu_base.root]
        rb = new[self.lu_new.root]
        # the couplings between the parts must touch the roots only
        for R, C, rr, rc in ((base, new, ra, rb), (new, base, rb, ra)):
            X = M[R][:, C].tocoo()
            X.eliminate_zeros()
            if X.nnz and (not np.all(np.isin(R[X.row], rr)) or
                          not np.all(np.isin(C[X.col], rc))):
                raise ValueError("bordered LU: the parts couple outside the roots")
        na, nb = ra.size, rb.size
        G = np.empty((na + nb, na + nb))
        G[:na, :na] = lu_base.schur
        G[na:, na:] = self.lu_new.schur
        G[:na, na:] = M[ra][:, rb].toarray()
        G[na:, :na] = M[rb][:, ra].toarray()
        lu, piv, info = lapack.dgetrf(G)
        if info != 0 or not np.all(np.isfinite(lu)):
            raise np.linalg.LinAlgError("bordered LU: singular root system")
        self.G_lu, self.G_piv = lu, piv
        self.n, self.base, self.new, self.lu_base = n, base, new, lu_base
        self.memory = self.lu_new.memory + 8.0 * G.size

    def solve(self, r: np.ndarray, trans: str = "N") -> np.ndarray:
        """Solve M x = r; r of shape (n,) or (n, q) (``trans="N"`` only)."""
        if trans != "N":
            raise ValueError("bordered LU: only trans='N' is implemented")
        r = np.asarray(r, dtype=float)
        vec = r.ndim == 1
        r2 = r.reshape(self.n, -1)
        ya = self.lu_base.forward(r2[self.base])
        yb = self.lu_new.forward(r2[self.new])
        ta, tb = self.lu_base.nodes[-1], self.lu_new.nodes[-1]
        g = np.vstack([ya[ta.start:ta.stop], yb[tb.start:tb.stop]])
        z, _ = lapack.dgetrs(self.G_lu, self.G_piv, g)
        na = ta.stop - ta.start
        x = np.empty_like(r2)
        x[self.base] = self.lu_base.backward(ya, z[:na])
        x[self.new] = self.lu_new.backward(yb, z[na:])
        return x[:, 0] if vec else x
