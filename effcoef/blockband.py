r"""Block-banded LU: block Thomas elimination of a sparse matrix with a block-band structure.

For a matrix whose unknowns fall into B consecutive groups ("levels", here the Hermite degree n
of the kinetic discretisation) with couplings only between levels at most ``b`` apart,

.. math:: A = \begin{pmatrix} A_{00} & A_{01} & \cdots \\ A_{10} & A_{11} & \ddots \\
          & \ddots & \ddots \end{pmatrix}, \qquad A_{kl} = 0 \text{ for } |k - l| > b,

Gaussian elimination level by level (the block Thomas algorithm for b = 1, the matrix continued
fraction of Risken's treatment of the Klein-Kramers equation) keeps the band: with the dense
Schur complement :math:`S_k` (partial pivoting inside the block, LAPACK ``getrf``)

.. math:: A_{k+i,k+j} \leftarrow A_{k+i,k+j} - A_{k+i,k}\,S_k^{-1}A_{k,k+j}, \qquad
          1 \le i, j \le b,

so the work is :math:`O(B\,b^2 m^3)` in level-3 BLAS for levels of size m (the inverse
:math:`S_k^{-1}` is formed: LAPACK ``getri`` is several times faster than ``getrs`` with m
right-hand sides here, and the updates become plain GEMMs).  Memory: :math:`bBm^2` numbers,
:math:`S_k^{-1}` and, for b = 2, the updated :math:`A_{k,k+1}`; the outermost band
:math:`A_{k\pm b,k}` is never updated and stays sparse (or diagonal), and the updated
:math:`A_{k+1,k} = A^0_{k+1,k} - A_{k+1,k-1}S_{k-1}^{-1}A_{k-1,k}` is recomputed from stored
pieces in the solves (matrix-vector products) instead of being stored.

There is no pivoting *between* levels: the elimination is stable
when the Schur complements stay well conditioned, e.g. when the symmetric part of A is positive
(semi-)definite (the Schur complements inherit it).  This is not checked a priori; callers check
the residual (:meth:`BlockBandedLU.solve` returns solutions only; see
:mod:`effcoef.underdamped` for the residual check, refinement and fallback).

Nothing here knows about the physics; :func:`level_partition` checks the band structure of a
given matrix and ordering.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

__all__ = ["BlockBandedLU", "level_partition", "block_banded_memory"]


def level_partition(A: sp.spmatrix, level: np.ndarray, max_band: int = 2):
    r"""Ordering and block bounds for the levels ``level`` (one integer per unknown), and the band.

    The unknowns are sorted by level (stable); returns ``(order, bounds, band)`` with
    ``bounds[k]:bounds[k+1]`` the positions of level k in ``order``, and ``band`` the largest
    level distance :math:`|k - l|` of a nonzero :math:`A_{ij}` (in units of consecutive
    distinct levels).  ``band`` is None if it exceeds ``max_band`` (the block solver would
    then do :math:`b^2` times the work; use a sparse LU instead).
    """
    level = np.asarray(level)
    order = np.argsort(level, kind="stable")
    vals, counts = np.unique(level[order], return_counts=True)
    bounds = np.r_[0, np.cumsum(counts)]
    rank = np.searchsorted(vals, level)              # consecutive level index of each unknown
    coo = sp.coo_matrix(A)
    nz = coo.data != 0
    dist = np.abs(rank[coo.row[nz]] - rank[coo.col[nz]])
    band = int(dist.max()) if dist.size else 0
    return order, bounds, (band if band <= max_band else None)


def block_banded_memory(sizes, band: int, nnz: int = 0) -> float:
    """Bytes held by the factors (float64): per level the inverse Schur complement and, for
    band 2, the updated coupling to the next level (``band`` dense m x m blocks); the other
    couplings are kept sparse (at most the ``nnz`` nonzeros of A, 12 bytes each) or recomputed.
    """
    sizes = np.asarray(sizes, dtype=float)
    return 8.0 * band * float(np.sum(sizes * sizes)) + 12.0 * nnz + 64.0 * float(sizes.sum())


class BlockBandedLU:
    r"""LU factors of a block-banded matrix (levels ``bounds``, band ``b``); solves A x = r and
    :math:`A^T x = r` (one vector or several columns).

    Parameters
    ----------
    A : sparse matrix, already permuted so that the levels are consecutive
    bounds : array
        Level k is ``bounds[k]:bounds[k+1]``.
    band : int
        Largest level distance of a nonzero (from :func:`level_partition`).
    progress : callable, optional
        Called as ``progress(k, B)`` every few levels.
    """

    def __init__(self, A: sp.spmatrix, bounds, band: int, progress=None):
        A = sp.csr_matrix(A)
        A.sort_indices()
        self.bounds = bd = np.asarray(bounds, dtype=np.int64)
        self.B = B = bd.size - 1
        self.b = b = max(int(band), 1)
        self.n = A.shape[0]
        sl = [slice(bd[k], bd[k + 1]) for k in range(B)]
        self._sl = sl
        A.sum_duplicates()
        row_of = np.repeat(np.arange(self.n), np.diff(A.indptr))
        rows = {}           # level -> (dense row band over levels lo..hi, column offset)
        orig = {}           # (p, q) -> original A_{pq} (sparse or diagonal), never-updated uses

        def row_band(p):
            if p not in rows:
                lo, hi = max(p - b, 0), min(p + b, B - 1)
                s0, s1 = A.indptr[bd[p]], A.indptr[bd[p + 1]]
                D = np.zeros((bd[p + 1] - bd[p], bd[hi + 1] - bd[lo]))
                cols, rr, vals = A.indices[s0:s1], row_of[s0:s1] - bd[p], A.data[s0:s1]
                c = cols - bd[lo]
                if c.size and (c.min() < 0 or c.max() >= D.shape[1]):
                    raise ValueError("block-banded LU: a nonzero outside the band")
                D[rr, c] = vals
                rows[p] = (D, bd[lo])
                # the blocks used as they are in A (never updated, or kept implicit): taken
                # from A's entries, diagonal or CSR
                for q in {p - b, p + b, p - 1 if b == 2 else p - b}:
                    if 0 <= q < B:
                        orig[(p, q)] = _sparse_block(rr, cols, vals, bd, p, q)
            return rows[p]

        def block(p, q):
            D, off = row_band(p)
            return D[:, bd[q] - off: bd[q + 1] - off]

        self.inv = [None] * B                      # S_k^{-1} (dense)
        self.low = [dict() for _ in range(B)]      # i -> A_{k+i,k} (after updates)
        self.up = [dict() for _ in range(B)]       # j -> A_{k,k+j}
        step = max(B // 50, 1)
        for k in range(B):
            S = block(k, k)
            if not np.all(np.isfinite(S)):
                raise np.linalg.LinAlgError(f"block-banded LU: non-finite Schur complement at "
                                            f"level {k}")
            with warnings.catch_warnings():
                warnings.simplefilter("error", sla.LinAlgWarning)
                try:
                    # getrf + getri: in OpenBLAS much faster than getrs with m right-hand
                    # sides at these sizes, and the updates below are then plain GEMMs
                    Si = sla.inv(S, check_finite=False)
                except (sla.LinAlgWarning, np.linalg.LinAlgError, ValueError):
                    raise np.linalg.LinAlgError(
                        f"block-banded LU: singular Schur complement at level {k}") from None
            self.inv[k] = Si
            js = [j for j in range(1, b + 1) if k + j < B]
            row_band(k)
            for j in js:
                # A_{k,k+b} is never updated: as in A; A_{k,k+1} (b = 2) dense, updated
                self.up[k][j] = orig.pop((k, k + j)) if j == b else block(k, k + j).copy()
            orig.pop((k, k - b), None)
            orig.pop((k, k - 1), None)
            for i in js:
                row_band(k + i)
                if b == 2 and i == 1:
                    # A_{k+1,k} = orig - A_{k+1,k-1} S_{k-1}^{-1} A_{k-1,k}: kept implicit
                    Lc = block(k + i, k)
                    self.low[k][i] = _Implicit(orig[(k + 1, k)])
                else:                                   # i == b: never updated
                    Lc = orig[(k + i, k)]
                    self.low[k][i] = Lc
                W = _left(Lc, Si)                       # A_{k+i,k} S_k^{-1}
                for j in js:
                    block(k + i, k + j)[...] -= _right(W, self.up[k][j])
            rows.pop(k, None)
            if progress is not None and (k % step == 0 or k == B - 1):
                progress(k + 1, B)
        if not all(np.all(np.isfinite(Si)) for Si in self.inv):
            raise np.linalg.LinAlgError("block-banded LU: non-finite Schur complement")

    def solve(self, r: np.ndarray, trans: str = "N") -> np.ndarray:
        """Solve A x = r (``trans="N"``) or A^T x = r (``"T"``); r of shape (n,) or (n, q)."""
        r = np.array(r, dtype=float, copy=True)
        vec = r.ndim == 1
        if vec:
            r = r[:, None]
        sl, B = self._sl, self.B
        if trans == "N":
            # forward: z_k = S_k^{-1} y_k, y_{k+i} -= A_{k+i,k} z_k
            z = [None] * B
            for k in range(B):
                z[k] = self.inv[k] @ r[sl[k]]
                for i in self.low[k]:
                    r[sl[k + i]] -= self._low_apply(k, i, z[k])
            x = np.empty_like(r)
            for k in range(B - 1, -1, -1):
                acc = r[sl[k]].copy()
                for j, U in self.up[k].items():
                    acc -= _right(U, x[sl[k + j]], apply=True)
                x[sl[k]] = self.inv[k] @ acc
        elif trans == "T":
            # A = L U with L_{k+i,k} = A_{k+i,k} S_k^{-1}, U_kk = S_k, U_{k,k+j} = A_{k,k+j}:
            # U^T y = r forward, then L^T x = y backward
            y = np.empty_like(r)
            for k in range(B):
                acc = r[sl[k]].copy()
                for j in range(1, self.b + 1):
                    if k - j >= 0 and j in self.up[k - j]:
                        acc -= _right(_t(self.up[k - j][j]), y[sl[k - j]], apply=True)
                y[sl[k]] = self.inv[k].T @ acc
            x = np.empty_like(r)
            for k in range(B - 1, -1, -1):
                acc = np.zeros_like(r[sl[k]])
                for i in self.low[k]:
                    acc += self._low_apply(k, i, x[sl[k + i]], trans=True)
                x[sl[k]] = y[sl[k]] - self.inv[k].T @ acc
        else:
            raise ValueError(f"trans must be 'N' or 'T', got {trans!r}")
        return x[:, 0] if vec else x

    def _low_apply(self, k, i, v, trans=False):
        """A_{k+i,k} v (or its transpose), the coupling as it was when level k was eliminated."""
        L = self.low[k][i]
        if not isinstance(L, _Implicit):
            return _right(_t(L) if trans else L, v, apply=True)
        if not trans:
            out = _left(L.orig, v)
            if k >= 1 and 2 in self.low[k - 1]:
                out -= _left(self.low[k - 1][2],
                             self.inv[k - 1] @ _left(self.up[k - 1][1], v))
            return out
        out = _left(_t(L.orig), v)
        if k >= 1 and 2 in self.low[k - 1]:
            out -= _left(_t(self.up[k - 1][1]),
                         self.inv[k - 1].T @ _left(_t(self.low[k - 1][2]), v))
        return out

    @property
    def memory(self) -> float:
        """Bytes of the stored factors and couplings."""
        tot = 0.0
        for k in range(self.B):
            tot += self.inv[k].nbytes
            for d in (self.low[k], self.up[k]):
                for M in d.values():
                    if isinstance(M, np.ndarray):
                        tot += M.nbytes
                    elif isinstance(M, _Diag):
                        tot += M.d.nbytes
                    else:
                        S = M.orig if isinstance(M, _Implicit) else M
                        tot += S.d.nbytes if isinstance(S, _Diag) else \
                            S.data.nbytes + S.indices.nbytes + S.indptr.nbytes
        return tot


class _Implicit:
    """A_{k+1,k} after its update (band 2), represented by the original sparse block."""

    def __init__(self, orig):
        self.orig = orig


class _Diag:
    """A coupling block that is diagonal (stored as its diagonal)."""

    def __init__(self, d):
        self.d = d


def _sparse_block(rr, cols, vals, bd, p, q):
    """Block (p, q) from the CSR entries of the rows of level p (local rows ``rr``, global
    columns ``cols``, sorted by row): ``_Diag`` if square and diagonal, else CSR."""
    mask = (cols >= bd[q]) & (cols < bd[q + 1])
    r, c, v = rr[mask], cols[mask] - bd[q], vals[mask]
    mp, mq = bd[p + 1] - bd[p], bd[q + 1] - bd[q]
    if mp == mq and np.array_equal(r, c):
        d = np.zeros(mp)
        d[r] = v
        return _Diag(d)
    indptr = np.r_[0, np.cumsum(np.bincount(r, minlength=mp))]
    return sp.csr_matrix((v, c, indptr), shape=(mp, mq))


def _t(M):
    return M if isinstance(M, _Diag) else M.T


def _left(M, X):
    """M @ X for a block M (diagonal, sparse or dense) and a dense X (vector or columns)."""
    if isinstance(M, _Diag):
        return M.d[:, None] * X if X.ndim == 2 else M.d * X
    return np.asarray(M @ X)


def _right(W, M, apply=False):
    """W @ M (``apply``: M @ W, W a vector or columns) for a block (diagonal or dense)."""
    if apply:
        return _left(W, M)
    if isinstance(M, _Diag):
        return W * M.d[None, :]
    if sp.issparse(M):
        return np.asarray((M.T @ W.T).T)
    return W @ M
