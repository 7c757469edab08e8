r"""General (non-radial) potentials in d = 2, 3: full D and K by tensor-product spectral elements.

The weighted formulation of the 1D route in d dimensions: :math:`u = \sqrt M\varphi` with
:math:`\varphi` continuous piecewise :math:`Q_p` on a tensor mesh of a box where
:math:`(W - W_{\min})/\theta \le \mathrm{tail}` (:func:`domain_box`), natural (zero-flux)
conditions on the box,

.. math:: A_{IJ} = \theta\int m\,\nabla\varphi_I\cdot\nabla\varphi_J, \qquad
          B_{IJ} = \int m\,\varphi_I\varphi_J, \qquad m = e^{-(W - W_{\min})/\theta},

assembled by sum factorisation (:mod:`effcoef.tensorfe`, GLL nodal basis).  With
:math:`\mathcal V = \int vM`, the loads :math:`\ell_{i,I} = \int m (v_i - \mathcal V_i)\varphi_I`
and :math:`g_{i,I} = \int m\,\partial_i\varphi_I` (:math:`= \theta^{-1}\int m\,\partial_i W
\varphi_I` up to the flux through the box, :math:`O(e^{-\mathrm{tail}})`):

* the completed coefficients are the exact discrete Poisson solutions
  :math:`\mathcal D = \ell^T A^+\ell/Z`, :math:`\mathcal K = \ell^T A^+ g/Z` (one sparse LU of
  A with one pinned dof: A has the constants as kernel and the loads are orthogonal to them);
  :math:`\mathcal K` equals :math:`\mathrm{Cov}_M(v)/\theta` exactly in the discrete space
  (:math:`(v_j - \mathcal V_j)/\theta` solves :math:`A x = g_j`), so ``K_cov`` checks the
  solve;
* the series :math:`D^N = \sum_{k\le N}\eta_k\otimes\eta_k/\lambda_k`,
  :math:`\eta_{k,i} = -\langle v_i - \mathcal V_i, \varphi_k\rangle_M`,
  :math:`\omega_{k,i} = -\langle\partial_i\varphi_k, 1\rangle_M`, with the N lowest modes of
  :math:`A x = \lambda B x` by shift-invert Lanczos that reuses the same factorisation
  (shift 0, the kernel projected out exactly).

Accuracy: the mesh (element sizes from the local curvature scale
:math:`\sqrt{\theta/|\partial_{ii}W|}` and at most ``log_mass_step`` e-folds of m per element)
is fixed, and the degree p is raised by 2 until the gap between the Poisson solutions at
degree p - 2 and p on the same mesh is below rtol (if the largest degree does not reach it, the
elements are halved once).  The reported values are those of degree p: the spectral elements
converge exponentially in p, so the gap bounds their error with margin.  The estimate is the
largest of that gap, the domain cut :math:`e^{-\mathrm{tail}}` and the change under one step
of iterative refinement of the solves (a solve that lost all accuracy, as in deep tunnelling,
is refused).  The residuals of that refinement are formed in edge form,
:math:`\sum_J A_{IJ}(u_J - u_I)`, so that the constants stay the exact kernel: behind a
barrier (a metastable well, :math:`\lambda_1` exponentially small) the rounding of the
stored matrix would otherwise move D by ~eps/lambda_1.  A turned mesh frame is used
when it needs fewer elements (:func:`principal_frame`); D and K are rotated back exactly.

Symmetry sectors (3D): when the expression tree shows W even in some :math:`v_k`
(:func:`potentials.nd.even_axes`, exact), the correctors of the components :math:`i \ne k`
are even in :math:`v_k` and that of k is odd, as are the eigenfunctions that carry data.  The
route then solves two problems on the half box :math:`v_k \ge 0` of the same mesh: the even
sector (natural condition on the plane :math:`v_k = 0`, the constants as kernel) for
:math:`D_{ij}, K_{ij}` with :math:`i, j \ne k`, and the odd sector (Dirichlet on the plane,
no kernel) for :math:`D_{kk}, K_{kk}`; the cross terms vanish and :math:`\mathcal V_k = 0`.
Each level has half the unknowns, so the 2 GB budget reaches a higher degree; each sector
raises its own degree, the estimate is the larger of the two (each bounds the relative
error of its block) and the spectra are merged, the modes mirrored to the whole box.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable, List, Optional, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike
from scipy.sparse import csc_matrix
from scipy.sparse.linalg import splu

from potentials import PotentialND
from potentials.nd import axis_kinks

from .errors import EffcoefError
from .progress import Progress
from .results import CoefficientResult, relative_error
from .series import SeriesRun, run_series
from .spectrum import lanczos_modes
from .tensorfe import Axis, TensorSpace

__all__ = ["DomainBox", "domain_box", "mesh_nodes", "principal_frame", "fend_coefficients",
           "ModesND", "MEMORY_LIMIT"]

_EPS = np.finfo(float).eps
#: refuse problems whose estimated peak memory exceeds this many bytes
MEMORY_LIMIT = 2.0e9
#: default (h_scale, log_mass_step) of mesh_nodes by dimension
_MESH = {2: (4.0, 30.0), 3: (12.0, 60.0)}
#: default (first reported degree, largest degree, degree step) by dimension; the gap is
#: between degree - step and degree.  The step is 2 in 3D as well (it was 1: cheaper, but
#: wrong): on an element symmetric about a symmetry point of W the local solution has a
#: parity, and raising the degree by one adds only polynomials of the other parity, so
#: Q5 and Q6 share their error and their gap says nothing (measured: v1^6/6 - v1^2/2 +
#: v2^4/4 + ... on 5 x 4 x 4 elements, gap 1.2e-8, error 4.2e-4).  With a step of 2 both
#: levels gain a degree of each parity.
_DEGREES = {2: (8, 16, 2), 3: (6, 8, 2)}


@dataclass
class DomainBox:
    """The computational box: corners, location and value of the global minimum of W, the
    estimate of what it cuts away and how the box was found."""

    lower: np.ndarray
    upper: np.ndarray
    vmin: np.ndarray
    Wmin: float
    cut: float = 0.0
    certified: bool = False
    note: str = ""
    source: object = None        # the effcoef.domain.Box it was made from (its cover)


def domain_box(potential: PotentialND, theta: float, tail: float,
               rtol: float = 1e-8) -> DomainBox:
    r"""The box of the route (the one place where the domain is determined):
    :func:`effcoef.domain.select_box` - a certified search box, the certified global minimum
    and the wells of the sublevel set kept by their weight in D; it contains
    :math:`\{(W - W_{\min})/\theta \le \mathrm{tail} + \log(20/\mathrm{rtol})/2\}` around
    every kept well."""
    from .domain import select_box
    return _domain_box(select_box(potential, theta, target=rtol / 20, tail=tail))


def _domain_box(b):
    return DomainBox(np.asarray(b.lower, float), np.asarray(b.upper, float),
                     np.asarray(b.vmin, float), float(b.Wmin), float(b.cut), bool(b.certified),
                     b.note, b)


def mesh_nodes(potential: PotentialND, theta: float, lower: ArrayLike, upper: ArrayLike, *,
               h_scale: float = 3.0, tail: float = 30.0, log_mass_step: float = 20.0,
               n_grid: Optional[int] = None) -> List[np.ndarray]:
    r"""Element end points along each axis of the box [lower, upper].

    Along axis i the element density (elements per unit length) is

    .. math:: \rho_i(x) = \max_{\text{live}}\Big(\frac{1}{h}\sqrt{|\partial_{ii}W|/\theta}
              + \frac{|\partial_i W|}{\theta\,L}\Big) + \frac{1}{\text{box length}},

    the maximum over the other coordinates where :math:`(W - W_{\min})/\theta \le` ``tail``
    (where M lives): about ``h_scale`` = h curvature lengths per element, and at most
    ``log_mass_step`` = L e-folds of m across an element (the weighted basis functions stay
    well conditioned and the quadrature accurate).  Second derivatives by differences of
    the exact gradient on a sample grid (161 points per axis in 2D, 41 in 3D).
    """
    d = len(lower)
    n_grid = n_grid or (161 if d == 2 else 41)
    lower, upper = np.asarray(lower, float), np.asarray(upper, float)
    axes = [np.linspace(lower[i], upper[i], n_grid) for i in range(d)]
    G = np.array(np.meshgrid(*axes, indexing="ij"))
    W = potential.W(G)
    finite = np.isfinite(W)
    live = finite & ((W - np.min(W[finite])) / theta <= tail)
    g = potential.grad(G)
    kinks = axis_kinks(potential) if hasattr(potential, "tree") else [[] for _ in range(d)]
    nodes = []
    for i in range(d):
        curv = np.abs(np.gradient(g[i], axes[i], axis=i)) / theta
        dens = np.sqrt(curv) / h_scale + np.abs(g[i]) / (theta * log_mass_step)
        dens = np.where(live & np.isfinite(dens), dens, 0.0)
        dens = dens.max(axis=tuple(j for j in range(d) if j != i)) + 1.0 / (upper[i] - lower[i])
        x = axes[i]
        cum = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(x))])
        ne = max(int(math.ceil(cum[-1])), 1)
        nodes.append(_with_kinks(np.interp(np.linspace(0.0, cum[-1], ne + 1), cum, x),
                                 kinks[i]))
    return nodes


def _with_kinks(x: np.ndarray, kinks: Sequence[float]) -> np.ndarray:
    """Element ends ``x`` with the kink coordinates inside (lower, upper) made nodes: the
    nearest interior node moves there if it is within a third of its elements, else the kink
    is inserted (W is smooth inside every element, as in 1D)."""
    x = np.array(x, dtype=float)
    for c in kinks:
        if not x[0] < c < x[-1]:
            continue
        j = int(np.argmin(np.abs(x - c)))
        if x[j] == c:
            continue
        if 0 < j < len(x) - 1 and abs(x[j] - c) <= (x[j + 1] - x[j - 1]) / 6:
            x[j] = c
        else:
            x = np.sort(np.append(x, c))
    return x


def _n_elements(nodes):
    return int(np.prod([len(x) - 1 for x in nodes]))


def _turned_box(box, R):
    """Bounding box, in y = R^T v, of the box ``box`` (it contains the turned sublevel set)."""
    d = len(box.lower)
    corners = np.array(np.meshgrid(*[[box.lower[i], box.upper[i]] for i in range(d)],
                                   indexing="ij")).reshape(d, -1)
    y = R.T @ corners
    return y.min(axis=1), y.max(axis=1)


def principal_frame(potential: PotentialND, theta: float, box: DomainBox, *, tail: float = 30.0,
                    h_scale: float = 3.0, gain: float = 0.8) -> Optional[np.ndarray]:
    r"""Rotation R of the mesh axes (mesh in y = R^T v) that needs fewer elements, or None.

    A tensor mesh resolves M only along its own axes.  Candidates: the eigenvectors of the
    Hessian of W at the minimum and of :math:`\mathrm{Cov}_M(v)` (sampled on a grid of the
    box); the candidate with the fewest elements of :func:`mesh_nodes` is used if it needs
    fewer than ``gain`` times the elements of the coordinate axes.  A rotation is exact
    (D, K transform as :math:`R X R^T`): only the cost depends on it.
    """
    from potentials import rotated

    d = len(box.lower)
    n0 = _n_elements(mesh_nodes(potential, theta, box.lower, box.upper, h_scale=h_scale,
                                tail=tail))
    cands = []
    v = np.asarray(box.vmin, float)
    h = 1e-4 * max(1.0, float(np.max(np.abs(v))))
    H = np.empty((d, d))
    for j in range(d):
        e = np.zeros(d)
        e[j] = h
        H[:, j] = (potential.grad((v + e)[:, None])[:, 0]
                   - potential.grad((v - e)[:, None])[:, 0]) / (2 * h)
    if np.all(np.isfinite(H)):
        cands.append(np.linalg.eigh(0.5 * (H + H.T))[1])
    n = 81 if d == 2 else 31
    G = np.array(np.meshgrid(*[np.linspace(box.lower[i], box.upper[i], n) for i in range(d)],
                             indexing="ij")).reshape(d, -1)
    W = potential.W(G)
    ok = np.isfinite(W)
    if np.any(ok):
        with np.errstate(under="ignore"):
            m = np.where(ok, np.exp(-(np.where(ok, W, 0.0) - np.min(W[ok])) / theta), 0.0)
        mean = G @ m / m.sum()
        C = ((G - mean[:, None]) * m) @ (G - mean[:, None]).T / m.sum()
        cands.append(np.linalg.eigh(C)[1])
    best, nbest = None, n0
    for R in cands:
        if np.linalg.det(R) < 0:
            R = R * np.r_[-1.0, np.ones(d - 1)][None, :]
        if np.max(np.abs(np.abs(R) - np.eye(d))) < 1e-9:
            continue                                  # the coordinate axes
        lo, hi = _turned_box(box, R)
        cnt = _n_elements(mesh_nodes(rotated(potential, R.T), theta, lo, hi, h_scale=h_scale,
                                     tail=tail))
        if cnt < nbest:
            best, nbest = R, cnt
    if best is None or nbest >= gain * n0:
        return None
    return best


# ------------------------------------------------------------------------------------------
# one discretisation level (mesh, degree): assembly, pinned LU, Poisson solutions

#: bytes per stored entry of A: (peak while a level is built, held by a built level).
#: Measured peaks (ru_maxrss above the interpreter): 2D (A and B in CSR, their scaled copies,
#: the LU factors, fill ~1.1-1.6 nnz) ~80 / ~48; 3D (A only: B is applied by sum
#: factorisation, the pinned LU shares A's arrays, the edge residual works in blocks)
#: Q6, Q7, Q8 on 4^3 elements: 0.43, 0.64, 1.21 GB for 7.2M, 16.2M, 33M entries (~37 bytes
#: per entry at Q8) while built, 0.26, 0.44, 0.88 GB held.
_BYTES = {2: (80, 48), 3: (44, 36)}


def _memory_estimate(nodes, p, d, held=0):
    """Peak bytes of a level (plus ``held``, the bytes of a level still alive) and its
    number of dofs.  The sparsity pattern is the Kronecker product of the 1D patterns
    (ne (p+1)^2 - (ne - 1) entries per axis), so nnz is exact; bytes per entry from
    ``_BYTES``, plus the element data of one assembly chunk."""
    N, nnz = _sizes(nodes, p)
    return int(_BYTES[d][0] * nnz + 2 ** 28 + held), N


def _sizes(nodes, p):
    n1 = [len(x) - 1 for x in nodes]
    N = int(np.prod([e * p + 1 for e in n1]))
    nnz = int(np.prod([e * (p + 1) ** 2 - (e - 1) for e in n1]))
    return N, nnz


def _held(nodes, p, d):
    """Bytes held by a built level of degree p (its matrices and factors)."""
    return _BYTES[d][1] * _sizes(nodes, p)[1]


def _pair_fits(nodes, q, p, d, limit):
    """Whether the levels q (built first) and p (built while q is held) fit in ``limit``."""
    return max(_memory_estimate(nodes, q, d)[0],
               _memory_estimate(nodes, p, d, _held(nodes, q, d))[0]) <= limit


@dataclass
class _Level:
    p: int
    space: TensorSpace
    keep: np.ndarray
    dg: np.ndarray           # sqrt(diag B) on the kept dofs (the scaling)
    A: object                # scaled kept pencil (CSR)
    B: object
    lu: object               # pinned LU of A
    pin: int                 # position of the pinned dof in keep
    loads: np.ndarray        # (d, nk) scaled loads l
    grads: np.ndarray        # (d, nk) scaled loads g
    Z: float
    V: np.ndarray
    D: np.ndarray
    K: np.ndarray
    K_cov: np.ndarray
    change: float

    def solve(self, y):
        """A pinned solution of A x = y (y orthogonal to the kernel): x[pin] = 0.  The
        factorisation is that of the transpose of the pinned A (see :func:`_pinned_lu`)."""
        y = np.array(y, float)
        if self.pin is None:                  # no kernel (odd sector: Dirichlet plane)
            return self.lu.solve(y, trans="T")
        y[self.pin] = 0.0
        x = self.lu.solve(y, trans="T")
        x[self.pin] = 0.0
        return x


def _pinned_lu(A, pin):
    r"""Sparse LU of A (CSR) with dof ``pin`` decoupled (its row and column zero, its
    diagonal 1): the same factors as those of A without row and column ``pin``, without a
    copy of A.  The CSR arrays of A are those of :math:`A^T` in CSC, so SuperLU factorises
    :math:`A^T` (solve with ``trans="T"``); the entries are changed for the factorisation
    and restored.  Symmetric positive definite: minimum degree on :math:`A + A^T`, no
    pivoting (symmetric mode).  Saves the pinned copy of A (with the blockwise edge residual
    and the mass matrix applied by sum factorisation, the measured peak of a Q8 level with 33M
    entries went from 2.97 to 1.31 GB)."""
    hit = np.zeros(0, dtype=np.intp)          # pin None: no kernel, A as it is
    if pin is not None:
        rows = np.repeat(np.arange(A.shape[0]), np.diff(A.indptr))
        hit = np.nonzero((rows == pin) | (A.indices == pin))[0]
        pinned = np.where((rows[hit] == pin) & (A.indices[hit] == pin), 1.0, 0.0)
        del rows
    saved = A.data[hit].copy()
    if pin is not None:
        A.data[hit] = pinned
    try:
        At = csc_matrix((A.data, A.indices, A.indptr), shape=A.shape, copy=False)
        return splu(At, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                    options=dict(SymmetricMode=True))
    finally:
        A.data[hit] = saved


class _ScaledMass:
    r"""The scaled kept mass matrix :math:`S B S` (S = diag(1/dg)) as an operator: products
    by sum factorisation (:meth:`TensorSpace.mass_apply`), for ``B @ x`` in the eigensolver
    and the modes."""

    def __init__(self, space, mw, keep, dg):
        self.space, self.mw, self.keep, self.dg = space, mw, keep, dg
        self.shape = (len(keep), len(keep))
        self.dtype = np.dtype(float)

    def dot(self, x):
        x = np.asarray(x, float)
        X = x.reshape(self.shape[0], -1)
        u = np.zeros((self.space.N, X.shape[1]))
        u[self.keep] = X / self.dg[:, None]
        out = self.space.mass_apply(self.mw, u)[self.keep] / self.dg[:, None]
        return out.reshape(x.shape)

    __matmul__ = dot


def _scaled(M, keep, s):
    """S M[keep][:, keep] S for S = diag(s), scaled in place (CSR)."""
    M = M[keep][:, keep].tocsr()
    M.data *= np.repeat(s, np.diff(M.indptr))
    M.data *= s[M.indices]
    return M


def _dropped_coupling(A, keep):
    r""":math:`q_I = \sum_{J\ \mathrm{dropped}} A_{IJ}` for the kept dofs I (the unscaled
    stiffness A in CSR): with the dropped dofs fixed to 0, row I of the kept system is
    :math:`\sum_{J \ne I\ \mathrm{kept}} A_{IJ}(u_J - u_I) - q_I u_I` (A 1 = 0)."""
    dropped = np.ones(A.shape[0], bool)
    dropped[keep] = False
    Ak = A[keep].tocsr()
    rows = np.repeat(np.arange(len(keep)), np.diff(Ak.indptr))
    hit = dropped[Ak.indices]
    return np.bincount(rows[hit], weights=Ak.data[hit], minlength=len(keep))


def _edge_residual(A, dg, c, rhs, x):
    r"""Residual :math:`y - A x` of the scaled kept stiffness in edge form,

    .. math:: (A x)_I = \sum_{J \ne I} A_{IJ}\,\mathrm{dg}_J\,(u_J - u_I) + c_I x_I,
              \qquad u = x / \mathrm{dg},

    (the unscaled stiffness has the constants as its kernel; c, nonzero only next to the
    dropped dofs, from :func:`_dropped_coupling`).  The diagonal of A is not used: the
    operator is defined by its off-diagonal entries (edge weights) with exact zero row sums.

    Why: with a metastable well behind a barrier the solution u is nearly constant on each
    well, at levels set by the exponentially small tunnelling eigenvalue
    :math:`\lambda_1`; :math:`u^T\delta A\,u` for a rounding :math:`\delta A` of the
    stored matrix (eps relative, entry by entry) breaks :math:`A 1 = 0` and moves D by
    ~eps |A| / lambda_1 relative (measured: 5.6e-6 for a barrier of 30 theta, 17.7 theta
    above the metastable well, whatever the degree and the quadrature; refinement with a
    long double residual of the stored matrix converged to that perturbed solution).  In
    edge form every rounding is a relative perturbation of an edge weight or of a
    component of u (the differences :math:`u_J - u_I` round relative to themselves), which
    moves D by ~eps: working precision suffices.  The LU of the stored matrix differs from
    this operator by the rounding of its diagonal only, so refinement with it converges
    (contraction ~ eps / lambda_1).  Blocks of rows, one column at a time: temporaries of
    ~2^22 entries."""
    n = A.shape[0]
    u = x / dg[:, None]
    out = rhs - c[:, None] * x
    # blocks of rows holding about 2^22 entries: O(block) temporaries, not O(nnz)
    ptr = A.indptr
    starts = np.searchsorted(ptr, np.arange(0, ptr[-1], 1 << 22), side="right") - 1
    bounds = np.unique(np.concatenate([starts, [n]]))
    for r0, r1 in zip(bounds[:-1], bounds[1:]):
        k0, k1 = ptr[r0], ptr[r1]
        cols = A.indices[k0:k1]
        local = np.repeat(np.arange(r1 - r0), np.diff(ptr[r0:r1 + 1]))
        w = A.data[k0:k1] * dg[cols]
        for j in range(x.shape[1]):
            uj = u[:, j]
            out[r0:r1, j] -= np.bincount(local, weights=w * (uj[cols] - uj[r0 + local]),
                                         minlength=r1 - r0)
    return out


def _level(potential, theta, nodes, p, Wmin, tail, nq=None, sector=None):
    """One level of degree p.  ``sector`` (k, parity): the half box v_k >= 0 of a W even in
    v_k (nodes[k] starts at 0); V_k = 0; parity -1 (functions odd in v_k): the dofs on the
    plane v_k = 0 are dropped (Dirichlet) and A has no kernel (no pinned dof)."""
    d = len(nodes)
    # Gauss points per element and axis: m varies by up to e^log_mass_step across an
    # element; the 3D elements are large (few elements of high degree), and below 16 points
    # the quadrature of m, not the polynomial degree, limits the accuracy (OU: 5e-6 at 10
    # points, 1e-12 at 16)
    space = TensorSpace([Axis(x, p, nq or (p + 4 if d == 2 else max(p + 4, 16)))
                         for x in nodes])
    X = space.grid()
    with np.errstate(under="ignore", over="ignore", invalid="ignore"):
        W = potential.W(X)
    if np.any(np.isnan(W)):
        raise EffcoefError("W is not a number at some quadrature points of the box")
    with np.errstate(under="ignore"):
        m = np.exp(-(W - Wmin) / theta)                  # W = +inf gives 0
    mw = m * space.weights()
    Z = float(mw.sum())
    V = np.array([float((mw * X[i]).sum()) / Z for i in range(d)])
    if sector is not None:
        V[sector[0]] = 0.0                               # W even in v_k: the mean is 0
    # in 3D the mass matrix is not stored (its products by sum factorisation, _ScaledMass):
    # at Q8 it held 0.4 GB of the 2 GB budget, and with its assembly and scaled copy 0.8
    A, B = space.assemble(mw, theta, mass=(d == 2))
    # m spans e^-tail..1 where M lives and underflows in the box corners: the symmetric
    # scaling diag(B)^-1/2 makes every row O(1); dofs whose support carries less than
    # e^-2 tail of the largest B_ii (beyond the accepted mass cut) are dropped (phi = 0 there)
    dB = np.sqrt(np.maximum(B.diagonal() if B is not None else space.mass_diagonal(mw), 0.0))
    live = dB > math.exp(-tail) * dB.max()
    if sector is not None and sector[1] == -1:
        on_plane = np.zeros(space.shape, bool)
        on_plane[(slice(None),) * sector[0] + (0,)] = True      # dof index 0 along axis k
        live &= ~on_plane.ravel()
    keep = np.nonzero(live)[0]
    dg = dB[keep]
    leak = -_dropped_coupling(A, keep) / dg ** 2
    A = _scaled(A, keep, 1.0 / dg)
    B = _scaled(B, keep, 1.0 / dg) if B is not None else _ScaledMass(space, mw, keep, dg)
    loads = np.array([space.load(mw * (X[i] - V[i]))[keep] / dg for i in range(d)])
    grads = np.array([space.load_grad(mw, i)[keep] / dg for i in range(d)])
    if sector is not None:
        # a sector carries only its components (an even load in the odd sector, or the odd
        # one on the half box with the constants as kernel, is no problem of this sector)
        off = ~_components(d, sector)
        loads[off], grads[off] = 0.0, 0.0
    Xc = [X[i] - V[i] for i in range(d)]
    K_cov = np.array([[float((mw * Xc[i] * Xc[j]).sum()) for j in range(d)]
                      for i in range(d)]) / (Z * theta)
    del X, Xc, W, m
    pin = None if sector is not None and sector[1] == -1 else int(np.argmax(dg))
    try:
        lu = _pinned_lu(A, pin)
    except MemoryError:
        raise EffcoefError(f"the sparse LU of the degree-{p} system ({len(keep)} dofs, "
                           f"{A.nnz} nonzeros) ran out of memory; refused") from None
    lev = _Level(p=p, space=space, keep=keep, dg=dg, A=A, B=B, lu=lu, pin=pin, loads=loads,
                 grads=grads, Z=Z, V=V, D=None, K=None, K_cov=K_cov, change=0.0)
    rhs = np.concatenate([loads, grads]).T                   # (nk, 2d)
    x = lev.solve(rhs)
    # iterative refinement: the LU of an ill-conditioned system (tunnelling: cond ~ 1/lambda_1)
    # leaves ~cond eps in x; each step contracts it by ~cond eps while that is < 1.  The
    # reported change is that of the last step (what the solution still moves).
    # The residual is formed in edge form (_edge_residual): refinement converges to the
    # solution of the operator whose constants are the exact kernel, not of the rounded
    # stored matrix (whose error eps |A| / lambda_1 dominated D behind a barrier).
    prev = math.inf
    for _ in range(5):
        dx = lev.solve(_edge_residual(A, dg, leak, rhs, x))
        x = x + dx
        num = np.abs(np.einsum("ik,ik->k", rhs, dx))
        den = np.maximum(np.abs(np.einsum("ik,ik->k", rhs, x)), 1e-300)
        lev.change = float(np.max(num[:d] / den[:d]))
        if lev.change < 1e-14 or lev.change > 0.5 * prev:
            break
        prev = lev.change
    Dm = loads @ x[:, :d] / Z
    lev.D = 0.5 * (Dm + Dm.T)
    lev.K = loads @ x[:, d:] / Z
    return lev


# ------------------------------------------------------------------------------------------
# eigenfunctions

@dataclass
class ModesND:
    r"""Evaluator of :math:`\Psi_k = \sqrt M\,\varphi_k` of the d-dimensional route (plain
    data and the potential: picklable).  ``frame`` R: the mesh lives in y = R^T v."""

    potential: object
    theta: float
    Wmin: float
    log_Z: float
    nodes: list
    degree: int
    vectors: np.ndarray          # (N, n+1) full dof vectors of phi_0 = 1, phi_1, ...
    frame: object = None

    def __call__(self, V):
        V = np.asarray(V, dtype=float)
        d = len(self.nodes)
        if V.ndim == 1:
            V = V[:, None]
        if V.shape[0] != d:
            raise ValueError(f"points must have shape ({d}, npts), got {V.shape}")
        Y = V if self.frame is None else np.asarray(self.frame).T @ V
        lo = np.array([x[0] for x in self.nodes])
        hi = np.array([x[-1] for x in self.nodes])
        inside = np.all((Y >= lo[:, None]) & (Y <= hi[:, None]), axis=0)
        out = np.zeros((self.vectors.shape[1], V.shape[1]))
        if np.any(inside):
            space = TensorSpace([Axis(x, self.degree, self.degree + 1) for x in self.nodes])
            phi = (space.probes(Y[:, inside]) @ self.vectors).T
            s = np.exp(-0.5 * ((self.potential.W(V[:, inside]) - self.Wmin) / self.theta
                               + self.log_Z))
            out[:, inside] = phi * s
        return out


@dataclass
class _Spectrum:
    lam: np.ndarray
    eta: np.ndarray
    omega: np.ndarray
    C: np.ndarray
    resid: np.ndarray


def _rotate_result(res, R):
    """A result computed for W(R y) in the coordinates y, expressed in v = R y."""
    rot = lambda X: R @ X @ R.T                               # noqa: E731
    rotn = lambda X: np.einsum("ij,njk,lk->nil", R, X, R)     # noqa: E731
    res.D, res.K, res.K_cov = rot(res.D), rot(res.K), rot(res.K_cov)
    res.D_partial, res.K_partial = rotn(res.D_partial), rotn(res.K_partial)
    res.V = R @ res.V
    res.eta, res.omega = res.eta @ R.T, res.omega @ R.T
    res.info["D_coarse"], res.info["K_coarse"] = (rot(res.info["D_coarse"]),
                                                  rot(res.info["K_coarse"]))
    res.info["frame"] = R            # res.domain is the box in the coordinates y = R^T v
    res.modes.frame = R
    return res


# ------------------------------------------------------------------------------------------
# the route

def fend_coefficients(potential: PotentialND, theta: float, *,
                      n_modes: Union[None, int, str] = None, degree: Optional[int] = None,
                      h_scale: Optional[float] = None, tail: float = 30.0, rtol: float = 1e-8,
                      eigensolver: str = "lanczos", frame: str = "auto",
                      log_mass_step: Optional[float] = None,
                      progress: Union[None, bool, Callable[..., object], Progress] = None,
                      memory_limit: float = MEMORY_LIMIT,
                      sectors: bool = True) -> CoefficientResult:
    r"""Full D and K matrices of a general potential in d = 2, 3 (``potentials.PotentialND``).

    Parameters
    ----------
    degree : int or None
        Element degree p of the reported values.  None: start at 8 (2D) / 6 (3D) and raise by
        2 until the gap to degree p - 2 is below ``rtol`` (at most 16 / 8; when p + 2 is
        refused for memory, the pair p - 1, p + 1 is tried once).  An integer fixes p (the
        estimate is that gap, whatever its size).
    h_scale, log_mass_step : float
        Elements about ``h_scale`` curvature lengths wide, with at most ``log_mass_step``
        e-folds of m across one (:func:`mesh_nodes`); defaults 4 and 30 in 2D, 12 and 60 in
        3D (few large elements of high degree; at 100 e-folds per element the weighted mass
        matrix of a Q6 element becomes numerically singular and the Lanczos finds spurious
        modes).
    tail : float
        The box holds :math:`(W - W_{\min})/\theta \le` ``tail``.
    n_modes : int, "auto" or None
        Modes of the series (default 12).
    frame : {"auto", "axes"}
        ``"auto"`` meshes in turned axes when that needs fewer elements.
    progress : bool or callable
        Stages on stderr (after 2 s) or ``progress(stage, fraction)``.
    memory_limit : float
        Refuse (EffcoefError, before assembling) a level whose estimated peak memory is
        larger, with the estimate in the message.
    sectors : bool
        3D: when the expression tree shows W even in some :math:`v_k`, solve the sectors of
        functions even and odd in :math:`v_k` on the half box :math:`v_k \ge 0` (each with
        half the unknowns) and merge them (default True).
    """
    d = int(potential.dim)
    if d not in (2, 3):
        raise ValueError(f"the tensor-product route is for dimension 2 or 3, got {d}")
    if frame not in ("auto", "axes"):
        raise ValueError(f"frame must be 'auto' or 'axes', got {frame!r}")
    h_scale = float(h_scale) if h_scale is not None else _MESH[d][0]
    log_mass_step = float(log_mass_step) if log_mass_step is not None else _MESH[d][1]
    report = progress if isinstance(progress, Progress) else Progress(progress)
    report("domain box", 0.02)
    box = domain_box(potential, theta, tail, rtol)
    if frame == "auto":
        report("mesh frame", 0.08)
        R = principal_frame(potential, theta, box, tail=tail, h_scale=h_scale)
        if R is not None:
            from potentials import rotated
            turned_pot = rotated(potential, R.T)
            # the box of W(R y) itself: the bounding box of the turned box (_turned_box)
            # would add dead corners whose elements span hundreds of e-folds of m; found
            # from the first search (same minimum, wells, level and cut)
            from .domain import turned_box
            turned = _domain_box(turned_box(box.source, turned_pot, R, theta,
                                            target=rtol / 20, tail=tail))
            res = _solve_sectors(turned_pot, theta, turned, n_modes=n_modes, degree=degree,
                                 h_scale=h_scale, tail=tail, rtol=rtol,
                                 eigensolver=eigensolver, log_mass_step=log_mass_step,
                                 report=report, memory_limit=memory_limit, sectors=sectors)
            res.modes.potential = potential
            return _rotate_result(res, R)
    return _solve_sectors(potential, theta, box, n_modes=n_modes, degree=degree,
                          h_scale=h_scale, tail=tail, rtol=rtol, eigensolver=eigensolver,
                          log_mass_step=log_mass_step, report=report,
                          memory_limit=memory_limit, sectors=sectors)


def _solve_sectors(potential, theta, box, *, sectors, **kw):
    """:func:`_solve`, or in 3D for a W even in some v_k (:func:`potentials.nd.even_axes`)
    its two sectors on the half box, merged (:func:`_merge_sectors`): each level has half
    the unknowns, so the degree that the 2 GB budget allows is higher."""
    from potentials.nd import even_axes
    axes = even_axes(potential) if sectors and int(potential.dim) == 3 else []
    if not axes:
        return _solve(potential, theta, box, **kw)
    # the axis with the most elements is halved (the one whose half saves most)
    nel = [len(x) - 1 for x in mesh_nodes(potential, theta, box.lower, box.upper,
                                          h_scale=kw["h_scale"], tail=kw["tail"],
                                          log_mass_step=kw["log_mass_step"])]
    k = max(axes, key=lambda i: nel[i])
    report = kw.pop("report")
    ev = _solve(potential, theta, box, sector=(k, 1),
                report=report.part(f"sector even in v{k + 1}, ", 0.1, 0.55), **kw)
    od = _solve(potential, theta, box, sector=(k, -1),
                report=report.part(f"sector odd in v{k + 1}, ", 0.55, 0.98), **kw)
    report("done", 1.0)
    return _merge_sectors(ev, od, k, potential, theta, box)


def _mirror_modes(res, k, parity):
    """The sector's mode vectors (half box v_k >= 0) extended to the whole box by their
    parity in v_k: (full nodes, vectors (N_full, n))."""
    m = res.modes
    nodes = [np.asarray(x) for x in m.nodes]
    shape = [(len(x) - 1) * m.degree + 1 for x in nodes]
    V = m.vectors.reshape(shape + [m.vectors.shape[1]])
    n = shape[k]
    inner = np.take(V, np.arange(1, n), axis=k)
    full = np.concatenate([parity * np.flip(inner, axis=k), V], axis=k)
    xk = nodes[k]
    nodes[k] = np.concatenate([-xk[:0:-1], xk])
    return nodes, full.reshape(-1, V.shape[-1])


def _merge_sectors(ev, od, k, potential, theta, box):
    r"""The result of a W even in :math:`v_k` from its two sectors on the half box: ``ev``
    (functions even in :math:`v_k`: the components i != k of D, K, their modes) and ``od``
    (odd: the component k).  D, K, K_cov block-diagonal (the cross terms vanish by symmetry),
    V_k = 0, the spectra merged in ascending order, the partial sums recomputed, the modes
    mirrored to the whole box.  The estimate is the larger of the two: each bounds the
    relative error of its block, and the Frobenius norms add."""
    from .series import partial_sums
    d = ev.dim
    # D, K are zero off each sector's block (its loads are); K_cov, by quadrature on the
    # half box, has the cross terms of v_k, which vanish on the whole box
    ce, co = _components(d, (k, 1)), _components(d, (k, -1))
    D, K = ev.D + od.D, ev.K + od.K
    K_cov = ev.K_cov * np.outer(ce, ce) + od.K_cov * np.outer(co, co)
    lam = np.concatenate([ev.eigenvalues[1:], od.eigenvalues[1:]])
    order = np.argsort(lam, kind="stable")
    lam = lam[order]
    eta = np.concatenate([ev.eta[1:], od.eta[1:]])[order]
    omega = np.concatenate([ev.omega[1:], od.omega[1:]])[order]
    errs = np.concatenate([ev.eigenvalue_errors[1:], od.eigenvalue_errors[1:]])[order]
    Dp, Kp = partial_sums(lam, eta, omega)
    comps = {c: max(float(ev.error_components.get(c, 0.0)), float(od.error_components.get(c, 0.0)))
             for c in set(ev.error_components) | set(od.error_components)}
    nodes, ve = _mirror_modes(ev, k, 1.0)
    _, vo = _mirror_modes(od, k, -1.0)
    # the sectors may end at different degrees: the lower one is interpolated (exactly) to
    # the higher one on the same mesh
    pe, po = ev.modes.degree, od.modes.degree
    p = max(pe, po)

    def lift(v, q):
        if q == p:
            return v
        low = TensorSpace([Axis(x, q, q + 1) for x in nodes])
        return TensorSpace([Axis(x, p, p + 1) for x in nodes]).interpolate(low, v)

    ve, vo = lift(ve, pe), lift(vo, po)
    vectors = np.concatenate([ve[:, :1], np.concatenate([ve[:, 1:], vo[:, 1:]], axis=1)[:, order]],
                             axis=1)
    modes = ModesND(potential=potential, theta=theta, Wmin=box.Wmin,
                    log_Z=ev.modes.log_Z + math.log(2.0), nodes=nodes, degree=p,
                    vectors=vectors)
    nel = [len(x) - 1 for x in nodes]
    info = dict(ev.info)
    info.update({"symmetry_axis": k, "sectors": {"even": {"degree": ev.info["degree"],
                                                           "n_dofs": ev.n_dofs,
                                                           "estimate": ev.rel_error_estimate},
                                                  "odd": {"degree": od.info["degree"],
                                                          "n_dofs": od.n_dofs,
                                                          "estimate": od.rel_error_estimate}},
                 "degree": max(ev.info["degree"], od.info["degree"]),
                 "n_elements": int(np.prod(nel)), "elements_per_axis": tuple(nel),
                 "D_coarse": ev.info["D_coarse"] + od.info["D_coarse"],
                 "K_coarse": ev.info["K_coarse"] + od.info["K_coarse"],
                 "n_dofs_coarse": ev.info["n_dofs_coarse"] + od.info["n_dofs_coarse"],
                 "series_error": ev.info["series_error"] or od.info["series_error"]})
    return CoefficientResult(
        dim=d, D=D, K=K, V=ev.V, theta=theta, K_cov=K_cov,
        eigenvalues=np.concatenate([[0.0], lam]), eta=np.concatenate([np.zeros((1, d)), eta]),
        omega=np.concatenate([np.zeros((1, d)), omega]), D_partial=Dp, K_partial=Kp,
        rel_error_estimate=float(max(comps.values())), error_components=comps,
        error_method=(f"W is even in v{k + 1} (read off its expression tree, exactly): two "
                      f"sectors on the half box v{k + 1} >= 0, functions even in v{k + 1} "
                      f"(natural condition on the plane: D_ij, i, j != {k + 1}) and odd "
                      f"(Dirichlet: D_{k + 1}{k + 1}); in each, " + ev.error_method
                      + "; the larger of the two estimates"),
        rtol=ev.rtol, n_dofs=int(ev.n_dofs + od.n_dofs), method=ev.method, D_is="completed",
        parity=None, eigenvalue_errors=np.concatenate([[0.0], errs]),
        domain=(tuple(box.lower), tuple(box.upper)), info=info, modes=modes)


def _prolong(coarse, fine, Xc):
    """Scaled kept coefficients on ``fine`` of the functions with scaled kept coefficients
    ``Xc`` (n, k) on ``coarse`` (same mesh, lower degree: exact,
    :meth:`TensorSpace.interpolate`)."""
    u = np.zeros((coarse.space.N, Xc.shape[1]))
    u[coarse.keep] = Xc / coarse.dg[:, None]
    return fine.space.interpolate(coarse.space, u)[fine.keep] * fine.dg[:, None]


def _two_level_modes(coarse, fine, k, engine, tol):
    r"""The k lowest modes of the fine pencil from the coarse one (3D, where a Lanczos run
    on the fine level costs ~100 solves with its large factors).

    The coarse modes (Lanczos on the coarse pencil, its factorisation) are prolonged to
    the fine space (:func:`_prolong`, exact), one step of inverse iteration with the fine
    factorisation adds :math:`A^{-1}BV` (k solves), and Rayleigh-Ritz on the 2k-dimensional
    span (the constant projected out B-orthogonally) gives the fine Ritz pairs.  Their
    residuals on the fine pencil are computed by the caller; ``disc`` returns
    :math:`|\lambda_{\text{coarse}} - \lambda|/\lambda`, the change between the two
    discretisations, as the eigenvalues' discretisation indicator."""
    nkc = len(coarse.keep)
    k = min(k, nkc - 2)
    kernel = coarse.pin is not None           # the constants (not in an odd sector)
    lam_c, Xc = lanczos_modes(coarse.A, coarse.B, k, shift=0.0,
                              kernel=coarse.dg.copy() if kernel else None,
                              engine=engine, tol=tol, solve=coarse.solve,
                              maxdim=min(nkc - 2, 4 * k + 60))
    V = _prolong(coarse, fine, Xc)
    Y = fine.solve(fine.B @ V)
    one = fine.dg                                     # the constant in scaled dofs
    Bone = fine.B @ one

    def b_orth(Q, basis):
        # remove the constant and the span of basis (B-orthonormal), twice (Y ~ V / lambda:
        # one pass leaves rounding of the size of the removed part)
        for _ in range(2):
            if kernel:
                Q = Q - np.outer(one, (Bone @ Q) / (one @ Bone))
            if basis is not None:
                Q = Q - basis @ (basis.T @ (fine.B @ Q))
        return Q

    def b_normal(Q, floor):
        # a B-orthonormal basis of span(Q), directions below floor (relative) dropped
        G = Q.T @ (fine.B @ Q)
        w, U = np.linalg.eigh(0.5 * (G + G.T))
        good = w > floor * max(w.max(), 1e-300)
        return Q @ (U[:, good] / np.sqrt(w[good]))

    V = b_normal(b_orth(V, None), 1e-12)
    scale = float(np.max(np.abs(np.diag(Y.T @ (fine.B @ Y)))))
    Y = b_orth(Y, V)
    Gy = Y.T @ (fine.B @ Y)
    w, U = np.linalg.eigh(0.5 * (Gy + Gy.T))
    good = w > 1e-16 * scale                          # new directions, not rounding
    S = np.hstack([V, b_normal(Y @ U[:, good], 1e-12)]) if np.any(good) else V
    H = S.T @ (fine.A @ S)
    mu, Z = np.linalg.eigh(0.5 * (H + H.T))
    if not mu[0] > 0:
        # A is positive semi-definite and the constant is projected out: a Ritz value <= 0
        # is rounding, in directions of A^-1 B V where the scaled A spans ~1e18 (elements of
        # 60 e-folds of m); then the prolonged coarse modes alone (well conditioned; their
        # residuals on the fine pencil carry the coarse discretisation error)
        S = V
        H = S.T @ (fine.A @ S)
        mu, Z = np.linalg.eigh(0.5 * (H + H.T))
    X = S @ Z[:, :k]
    lam = mu[:k]
    disc = np.abs(lam_c[:len(lam)] - lam) / np.abs(lam)
    return lam, X, disc


def _check_solve(lev, theta):
    """Refuse when the Poisson solve has lost all accuracy (iterative refinement changes D by
    more than 10%): the pencil has an exponentially small eigenvalue (tunnelling across a
    barrier of many theta), below what a factorisation resolves in double precision."""
    if not lev.change <= 0.1:
        raise EffcoefError(
            f"the Poisson solve lost all accuracy (one step of iterative refinement changes D by "
            f"{lev.change:.1e}): the operator has an exponentially small eigenvalue (wells "
            f"separated by a barrier of many theta = {theta:g}); D ~ e^(barrier/theta) is not "
            "computable in double precision by this route (raise theta)")


def _components(d, sector):
    """Which components of D, K a solve carries: all, or those of a sector (k, +1): i != k,
    (k, -1): i == k."""
    comp = np.ones(d, bool)
    if sector is not None:
        comp[:] = sector[1] == 1
        comp[sector[0]] = sector[1] == -1
    return comp


def _solve(potential, theta, box, *, n_modes, degree, h_scale, tail, rtol, eigensolver,
           log_mass_step, report, memory_limit, sector=None):
    d = int(potential.dim)
    lo, hi = np.array(box.lower, float), np.array(box.upper, float)
    if sector is not None:                     # a box symmetric in v_k
        k = sector[0]
        hi[k] = max(-lo[k], hi[k])
        lo[k] = -hi[k]

    def half(nodes):
        # the nodes of the whole (symmetric) box, cut at v_k = 0: the half box v_k >= 0
        # with the same elements (0 is a node of the symmetric mesh, or becomes one)
        if sector is not None:
            xk = nodes[k]
            nodes[k] = np.concatenate([[0.0], xk[xk > 1e-9 * hi[k]]])
        return nodes

    nodes = half(mesh_nodes(potential, theta, lo, hi, h_scale=h_scale, tail=tail,
                            log_mass_step=log_mass_step))
    p0, pmax, step = _DEGREES[d]
    fixed = degree is not None
    if fixed and int(degree) < 1 + step:
        raise EffcoefError(f"degree must be >= {1 + step} here (the estimate uses degree - "
                           f"{step}), got {degree}")
    p = int(degree) if fixed else p0          # the reported degree; the gap is to p - step
    if not fixed:        # a finer mesh starts lower rather than being refused at once
        while p > 2 + step and not _pair_fits(nodes, p - step, p, d, memory_limit):
            p -= step

    def level(q, frac, held=None):
        need, N = _memory_estimate(nodes, q, d, 0 if held is None else _held(nodes, held.p, d))
        if need > memory_limit:
            raise EffcoefError(
                f"the {d}D discretisation would need about {need / 1e9:.1f} GB ({N} dofs, "
                f"degree {q}, {_n_elements(nodes)} elements) > {memory_limit / 1e9:.1f} GB; "
                "refused (ask for a larger rtol, raise theta or give a smaller tail)")
        report(f"degree {q}: {N} dofs, assembly and factorisation", frac)
        return _level(potential, theta, nodes, q, box.Wmin, tail, sector=sector)

    def frac(q):
        return 0.15 + 0.55 * min((q - p0 + step) / max(pmax - p0 + step, 1), 1.0)

    coarse = level(p - step, 0.15)
    _check_solve(coarse, theta)
    refined = False
    odd_tried = False
    while True:
        fine = level(p, frac(p), coarse)
        _check_solve(fine, theta)     # every level: one that lost its accuracy is no value
        gap = max(relative_error(coarse.D, fine.D), relative_error(coarse.K, fine.K))
        if fixed or gap <= rtol:
            break
        if p + step > pmax:
            if refined or d == 3:
                # (3D: the halved mesh fits only at low degree, where its gap was measured
                # worse and slower than the last pair: 5.7e-3 in 96 s vs 3.3e-5 in 32 s)
                break
            # the degree is exhausted: halve the elements once and start again (unless that
            # is refused for its memory: then the last pair stands, with its estimate)
            refined = True
            finer = half(mesh_nodes(potential, theta, lo, hi, h_scale=h_scale / 2,
                                    tail=tail, log_mass_step=log_mass_step / 2))
            if not _pair_fits(finer, p0 - step, p0, d, memory_limit):
                break
            nodes, p = finer, p0
            h_scale, log_mass_step = h_scale / 2, log_mass_step / 2
            coarse = fine = None          # release the last pair before the next one
            coarse = level(p - step, 0.15)
            _check_solve(coarse, theta)
            continue
        if not _pair_fits(nodes, p, p + step, d, memory_limit):
            # the next degree is refused: the pair one degree up (p - 1, p + 1), if it fits,
            # halves the distance to it (its gap still spans two degrees, as every gap here);
            # otherwise the last pair stands
            if step == 2 and not odd_tried and _pair_fits(nodes, p - 1, p + 1, d, memory_limit):
                odd_tried = True
                coarse = fine = None          # release the last pair before the next one
                coarse, p = level(p - 1, frac(p)), p + 1
                _check_solve(coarse, theta)
                continue
            break
        coarse, p = fine, p + step
    change = max(coarse.change, fine.change)
    # the reported values are those of the finer level (degree p); the gap to degree
    # p - step bounds their error with margin (exponential convergence in p)
    base = fine

    report(f"eigenmodes (degree {p}{', from degree %d' % coarse.p if d == 3 else ''})",
           0.75)
    kernel = base.dg.copy()                 # the constant in scaled dofs
    nk = len(base.keep)

    def compute(N):
        k = min(N, nk - 2)
        # Ritz residuals rtol/10 (at most 1e-7, at least 1e-10): eta, D^N to that accuracy
        # (the series is the spectrum's view of D, which does not depend on it; n_modes="auto"
        # asks the series for rtol/10), eigenvalues to its square over the gap; a Krylov space
        # of 4k + 60 avoids most ARPACK restarts on the near-degenerate clusters of
        # (near-)separable potentials
        tol = min(1e-7, max(rtol / 10, 1e-10))
        disc = None
        if d == 3:
            lam, X, disc = _two_level_modes(coarse, base, k, eigensolver, tol)
        else:
            lam, X = lanczos_modes(base.A, base.B, k, shift=0.0, kernel=kernel,
                                   engine=eigensolver, tol=tol, solve=base.solve,
                                   maxdim=min(nk - 2, 4 * k + 60))
        if not (np.all(np.isfinite(lam)) and np.all(np.isfinite(X))):
            raise FloatingPointError("the eigensolver returned non-finite modes (the weighted mass "
                                     "matrix is numerically singular: lower h_scale)")
        if np.any(lam <= 0):
            raise FloatingPointError("the eigensolver returned non-positive eigenvalues (the "
                                     "weighted mass matrix is numerically singular: lower "
                                     "h_scale)")
        resid = np.linalg.norm(base.A @ X - (base.B @ X) * lam, axis=0) / (
            lam * np.linalg.norm(base.B @ X, axis=0))
        if disc is not None:
            resid = np.maximum(resid, disc)
        C = X * math.sqrt(base.Z)
        eta = -(base.loads @ C).T / base.Z      # (a sector: zero off its components, as
        omega = -(base.grads @ C).T / base.Z    # its loads are, and so are its D and K)
        return _Spectrum(lam=lam, eta=eta, omega=omega, C=C, resid=resid)

    series_error = None
    try:
        run = run_series(compute, n_modes=n_modes, default=12, D_inf=base.D, K_inf=base.K,
                         rtol=rtol, cap=320)
    except (FloatingPointError, np.linalg.LinAlgError, ArithmeticError) as exc:
        # D and K do not depend on the modes: keep them, without a series (n_modes = 0)
        series_error = str(exc)
        warnings.warn(f"no spectral series: {exc}; D and K (completed values) are unaffected",
                      RuntimeWarning, stacklevel=3)
        empty = _Spectrum(lam=np.zeros(0), eta=np.zeros((0, d)), omega=np.zeros((0, d)),
                          C=np.zeros((nk, 0)), resid=np.zeros(0))
        run = SeriesRun(empty, np.zeros((1, d, d)), np.zeros((1, d, d)), np.zeros(0), 0)
    spec = run.spectrum
    report("done", 1.0)
    comps = {
        "discretisation": gap,
        "domain": box.cut,
        "linear_solve": change,
    }
    N_full = base.space.N
    full = np.zeros((N_full, spec.C.shape[1] + 1))
    full[:, 0] = 1.0
    full[base.keep, 1:] = spec.C / base.dg[:, None]
    modes = ModesND(potential=potential, theta=theta, Wmin=box.Wmin, log_Z=math.log(base.Z),
                    nodes=[np.asarray(x) for x in nodes], degree=p, vectors=full)
    nel = [len(x) - 1 for x in nodes]
    return CoefficientResult(
        dim=d, D=base.D, K=base.K, V=base.V, theta=theta, K_cov=base.K_cov,
        eigenvalues=np.concatenate([[0.0], spec.lam]),
        eta=np.concatenate([np.zeros((1, d)), spec.eta]),
        omega=np.concatenate([np.zeros((1, d)), spec.omega]), D_partial=run.D_partial,
        K_partial=run.K_partial, rel_error_estimate=float(max(comps.values())),
        error_components=comps,
        error_method=(f"max of the discretisation gap Q{p - step} vs Q{p} on the same mesh (exact "
                      f"discrete Poisson solutions, Frobenius norm; the values are those of Q{p}),"
                      " the estimate of what the box cuts away (effcoef.domain.select_box; "
                      + ("certified box" if box.certified else "HEURISTIC box: W sampled")
                      + ") and the linear solve (change under one step of iterative "
                      "refinement)"),
        rtol=rtol, n_dofs=int(nk), method="fe2d" if d == 2 else "fe3d", D_is="completed",
        parity=None,
        eigenvalue_errors=np.concatenate([[0.0], np.maximum(spec.resid, 100 * _EPS)]),
        domain=(tuple(box.lower), tuple(box.upper)),
        info={"n_elements": int(np.prod(nel)), "elements_per_axis": tuple(nel), "degree": p,
              "frame": None, "h_scale": h_scale, "shift": 0.0, "D_coarse": coarse.D,
              "K_coarse": coarse.K, "n_dofs_coarse": int(len(coarse.keep)),
              "seconds": {k: round(v, 3) for k, v in report.durations().items()},
              "series_error": series_error, "domain_certified": box.certified,
              "domain_note": box.note},
        modes=modes)
