r"""High-order finite elements in one velocity dimension (paper 004, Steps 1-2).

Two Galerkin discretisations of the Schrödinger operator
:math:`\mathcal H = -\theta\partial_v^2 + \Phi` live here.

``weighted`` (default)
    Trial and test functions :math:`u = \sqrt M\,\varphi` with
    :math:`\varphi` continuous piecewise :math:`\mathbb P_p`
    (scikit-fem ``ElementLinePp``).  The matrices are

    .. math:: A_{ij} = \theta\int m\,\varphi_i'\varphi_j', \qquad
              B_{ij} = \int m\,\varphi_i\varphi_j, \qquad
              m = e^{-(W-W_{\min})/\theta},

    i.e. the Fokker-Planck generator in :math:`L^2(M)`.  The kernel
    :math:`\sqrt M` (:math:`\varphi = 1`) is represented exactly, and the
    natural boundary condition at the ends of the truncated interval is the
    zero-flux one (the truncation sits where :math:`m < e^{-\mathrm{tail}}`,
    so it differs from Dirichlet by :math:`O(e^{-\mathrm{tail}})`).

    :func:`green_solve` inverts :math:`A` *exactly* (for the same quadrature)
    in derivative coordinates :math:`g = \varphi'`, where :math:`A` is
    block-diagonal: the solution of :math:`A\varphi = \ell(u)`,
    :math:`\ell(u)_i = \int m\,u\,\varphi_i`, is

    .. math:: \theta \int_e m\, g\, h = \int_e h(s) \int_s^{b} m u \,dt\,ds
              \quad \forall h \in \mathbb P_{p-1}(e),

    an element-local weighted projection of a flux that is accumulated as a
    sum of positive terms.  This is the Green's operator of the generator; it
    keeps *relative* accuracy when :math:`m` varies over hundreds of orders of
    magnitude (the tunnelling regime), which no factorisation of :math:`A`
    does.

``schrodinger``
    The paper's configuration: plain :math:`H^1_0` elements for :math:`u` on
    :math:`[-R, R]` with Dirichlet conditions, stiffness
    :math:`\theta\int u'v' + \int\Phi uv` and the unweighted mass.  Kept as the
    baseline of the benchmarks and as an independent second discretisation.
"""

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional, Sequence

import numpy as np
from numpy.polynomial import legendre as npleg
from numpy.typing import ArrayLike
from scipy import sparse
from skfem import Basis, BilinearForm, ElementLinePp, MeshLine

from potentials import Potential

from .operator import log_weight, schrodinger_potential, sqrt_maxwellian


def _load_csr_matvec():
    """scipy's compiled CSR kernel ``csr_matvec(n_row, n_col, indptr, indices, data, x, y)``,
    or None.

    It is a private scipy function (``scipy.sparse._sparsetools``, unchanged since scipy 0.x;
    checked here up to 1.17).  It costs a third less than ``csr_matrix @ x`` for the ~80
    products of one 1D solve (~6% of its time), so it is used when present - but only after
    a self-check against the public product on a small matrix; if the import or the check
    fails (moved or changed in a future scipy) the public ``csr_matrix @ x`` is used.  Both
    paths are tested against each other (``tests/test_fem1d_basis.py``).
    """
    try:
        from scipy.sparse._sparsetools import csr_matvec
        indptr = np.array([0, 2, 3], dtype=np.int32)
        indices = np.array([0, 1, 1], dtype=np.int32)
        data = np.array([2.0, -1.0, 3.0])
        x, y = np.array([1.0, 2.0]), np.zeros(2)
        csr_matvec(2, 2, indptr, indices, data, x, y)
        expected = sparse.csr_matrix((data, indices, indptr), shape=(2, 2)) @ x
        return csr_matvec if np.array_equal(y, expected) else None
    except Exception:  # pragma: no cover - depends on scipy's private layout
        return None


_csr_matvec = _load_csr_matvec()

__all__ = [
    "adapted_nodes",
    "gauss_rule",
    "integrated_legendre",
    "legendre_tables",
    "WeightedFE",
    "weighted_fe",
    "green_solve",
    "evaluate_fe",
    "SchrodingerFE",
    "schrodinger_fe",
]


@lru_cache(maxsize=64)
def gauss_rule(nq: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre rule on the reference element [0, 1]: (points (nq,), weights (nq,))."""
    x, w = npleg.leggauss(nq)
    x, w = 0.5 * (x + 1.0), 0.5 * w
    x.flags.writeable = w.flags.writeable = False   # cached: shared between callers
    return x, w


def integrated_legendre(y: ArrayLike, p: int) -> tuple[np.ndarray, np.ndarray]:
    r"""Values and reference derivatives of scikit-fem's ``ElementLinePp(p)`` shape functions.

    On the reference element :math:`y \in [0, 1]`, :math:`x = 2y - 1`: the vertex hats
    :math:`N_0 = 1 - y`, :math:`N_1 = y` and the integrated Legendre bubbles

    .. math:: N_n(y) = \sqrt{\tfrac{2n-1}{2}}\int_{-1}^{x} L_{n-1}(t)\,dt
              = \frac{L_n(x) - L_{n-2}(x)}{\sqrt{2(2n-1)}}, \qquad
              N_n'(y) = 2\sqrt{\tfrac{2n-1}{2}}\,L_{n-1}(x), \qquad n = 2, \dots, p,

    with the Legendre polynomials :math:`L_n` from Bonnet's recurrence
    :math:`(n+1)L_{n+1} = (2n+1)xL_n - nL_{n-1}`.  The bubbles vanish exactly at both vertices
    (:math:`L_n(\pm1) = L_{n-2}(\pm1)`).  Same functions and local order (0: left vertex,
    1: right vertex, 2..p: bubbles) as ``ElementLinePp(p).lbasis`` (tested to round-off against
    it); computed here so that no private scikit-fem function is needed.

    Returns ``(P, dP)``, arrays of shape ``(p + 1,) + y.shape``.
    """
    y = np.asarray(y, dtype=float)
    p = int(p)
    if p < 1:
        raise ValueError(f"degree must be >= 1, got {p}")
    x = 2.0 * y - 1.0
    L = [np.ones_like(x), x]
    for n in range(1, p):
        L.append(((2 * n + 1) * x * L[n] - n * L[n - 1]) / (n + 1))
    P = np.empty((p + 1,) + y.shape)
    dP = np.empty((p + 1,) + y.shape)
    P[0], P[1] = 1.0 - y, y
    dP[0], dP[1] = -1.0, 1.0
    for n in range(2, p + 1):
        c = math.sqrt((2 * n - 1) / 2.0)
        P[n] = (L[n] - L[n - 2]) * (c / (2 * n - 1))
        dP[n] = (2.0 * c) * L[n - 1]
    return P, dP


#: most elements a 1D mesh may have (about 1.8M dofs at degree 8, ~130 MB per band matrix)
MAX_ELEMENTS = 200_000


def adapted_nodes(potential: Potential, theta: float, a: float, b: float, *,
                  h_scale: float = 1.5, fixed: Sequence[float] = (),
                  min_elements: int = 4, n_sample: int = 4001,
                  samples: Optional[ArrayLike] = None,
                  max_elements: int = MAX_ELEMENTS) -> np.ndarray:
    r"""Mesh nodes on ``[a, b]`` adapted to where :math:`M` lives and varies.

    The local length scale is

    .. math:: \ell(v)^{-1} = \frac{|W'(v)|}{\theta} + \sqrt{\frac{|W''(v)|}{\theta}}
              + \frac{4}{b-a},

    i.e. an element of size :math:`h` sees :math:`\log m` change by at most
    about :math:`h/\ell`, and resolves the harmonic length
    :math:`\sqrt{\theta/W''}` at the wells and at the barriers.  Nodes are
    placed so that :math:`\int_e \ell^{-1} \approx` ``h_scale`` on every
    element.  ``fixed`` points inside ``(a, b)`` (kinks of W, the symmetry
    centre) are always nodes.  The density is sampled on ``n_sample`` uniform points plus
    ``samples`` (e.g. the edges of the cells that resolve W, so that a narrow well between
    uniform samples is seen).  More than ``max_elements`` elements raise ``EffcoefError``
    with the estimated size, before anything is allocated.
    """
    from .errors import EffcoefError

    # fixed points closer than 1e-9 (b - a) to an end or to each other are merged (a kink at
    # 1e-300 next to the symmetry node 0 made an element of width 1e-300: h^2 underflowed)
    tol = 1e-9 * (b - a)
    inner = sorted(float(x) for x in fixed if a + tol < x < b - tol)
    pts = [float(a)]
    for x in inner:
        if x - pts[-1] > tol:
            pts.append(x)
    pts.append(float(b))
    extra = np.asarray([] if samples is None else samples, dtype=float)
    extra = extra[(extra > a) & (extra < b)]
    segs = []
    for lo, hi in zip(pts[:-1], pts[1:]):
        n = max(int(n_sample * (hi - lo) / (b - a)), 64)
        x = np.linspace(lo, hi, n)
        inner = extra[(extra > lo) & (extra < hi)]
        if inner.size:
            x = np.unique(np.concatenate([x, inner, 0.5 * (inner[1:] + inner[:-1])]))
        with np.errstate(all="ignore"):
            d1 = np.abs(potential.dW(x)) / theta
            d2 = np.sqrt(np.abs(potential.d2W(x)) / theta)
        rho = np.nan_to_num(d1, posinf=0.0) + np.nan_to_num(d2, posinf=0.0) + 4.0 / (b - a)
        cum = np.concatenate([[0.0], np.cumsum(0.5 * (rho[1:] + rho[:-1]) * np.diff(x))])
        ne = max(int(min(np.ceil(cum[-1] / h_scale), 1e15)),
                 int(np.ceil(min_elements * (hi - lo) / (b - a))), 1)
        segs.append((lo, hi, x, cum, ne))
    total = sum(s[-1] for s in segs)
    if total > max_elements:
        raise EffcoefError(
            f"{getattr(potential, 'name', 'W')}: the mesh would need about {total:.3g} elements "
            f"(W varies by ~{total * h_scale:.3g} theta over [{a:.6g}, {b:.6g}]), more than "
            f"{max_elements}: theta = {theta:g} is too small for this potential (or increase "
            "h_scale)")
    nodes = [pts[0]]
    for lo, hi, x, cum, ne in segs:
        seg = np.interp(np.linspace(0.0, cum[-1], ne + 1), cum, x)
        seg[0], seg[-1] = lo, hi
        nodes.extend(seg[1:])
    return np.asarray(nodes)


@lru_cache(maxsize=64)
def _band_csr_pattern(n, u):
    """CSR structure of an n x n symmetric matrix of half-bandwidth u, and where each stored
    entry sits in the LAPACK upper band storage (``A[i, j] = ab[u + min - max, max]``)."""
    cols = np.arange(n)[:, None] + np.arange(-u, u + 1)[None, :]
    valid = (cols >= 0) & (cols < n)
    rows = np.broadcast_to(np.arange(n)[:, None], cols.shape)
    lo, hi = np.minimum(rows, cols)[valid], np.maximum(rows, cols)[valid]
    indptr = np.concatenate([[0], np.cumsum(valid.sum(axis=1))]).astype(np.int32)
    return indptr, cols[valid].astype(np.int32), u + lo - hi, hi


class BandedSym:
    """Symmetric banded matrix in LAPACK upper storage: ``ab[u + i - j, j] = A[i, j]`` (i <= j).

    The 1D weighted matrices live here: factorisations use LAPACK ``pbtrf`` (see
    :mod:`effcoef.spectrum`); products use a CSR copy made on first use (for these small
    bands scipy's CSR product has less call overhead than BLAS ``sbmv``).
    """

    def __init__(self, ab: ArrayLike) -> None:
        self.ab = np.asarray(ab, dtype=float)
        self.u = self.ab.shape[0] - 1
        self.shape = (self.ab.shape[1], self.ab.shape[1])
        self.dtype = np.dtype(float)
        self._csr = None

    def __matmul__(self, x):
        if self._csr is None:           # CSR arrays gathered from the band (cached pattern)
            indptr, indices, gr, gc = _band_csr_pattern(self.shape[0], self.u)
            self._csr = (indptr, indices, self.ab[gr, gc])
        x = np.asarray(x, dtype=float)
        n = self.shape[0]
        indptr, indices, data = self._csr
        if _csr_matvec is not None and x.ndim == 1 and x.shape[0] == n:
            y = np.zeros(n)
            _csr_matvec(n, n, indptr, indices, data, x, y)
            return y
        return sparse.csr_matrix((data, indices, indptr), shape=self.shape) @ x

    def dot(self, x: ArrayLike) -> np.ndarray:
        return self @ x

    def tosparse(self) -> sparse.csc_matrix:
        """The full symmetric matrix as scipy.sparse CSC (tests, eigsh fallback)."""
        u = self.u
        offs = list(range(-u, u + 1))
        diags = [self.ab[u - abs(o), abs(o):] for o in offs]
        return sparse.diags(diags, offs, shape=self.shape, format="csc")


@dataclass
class WeightedFE:
    """Weighted discretisation of one sector (see module docstring).

    ``dirichlet_left``: the odd sector of a symmetric potential on
    ``[0, b]`` (:math:`\\varphi(0) = 0`, no kernel); otherwise the constant is
    the kernel (the even sector on ``[0, b]`` or the whole line ``[a, b]``).
    Quadrature arrays have shape (n_elements, nq); ``Z`` is the sector's
    :math:`\\int m` so that all normalised quantities (divided by Z) are those
    of the whole line.

    Degrees of freedom are numbered element by element (left vertex, the p-1
    hierarchical bubbles of scikit-fem's ``ElementLinePp``, right vertex shared
    with the next element), so ``A`` and ``B`` are banded with half-bandwidth p
    (:class:`BandedSym`).  In the Dirichlet sector the first vertex dof is removed.
    """

    nodes: np.ndarray
    degree: int
    theta: float
    dirichlet_left: bool
    X: np.ndarray
    dx: np.ndarray
    m: np.ndarray
    Z: float
    Wmin: float
    A: object = None
    B: object = None
    kernel: np.ndarray = None

    @property
    def n_dofs(self) -> Optional[int]:
        return None if self.A is None else int(self.A.shape[0])

    def integrate(self, f: np.ndarray) -> float:
        r""":math:`\int f` with the element quadrature (f given at the quadrature points)."""
        return float(np.sum(f * self.dx))

    def mean(self, f: np.ndarray) -> float:
        r""":math:`\int M f` over the sector, :math:`M = m/Z`."""
        return self.integrate(self.m * f) / self.Z

    def mean_square(self, f: np.ndarray) -> float:
        r""":math:`\int M f^2`, formed as :math:`(\sqrt m f)^2` so that a huge f where m is
        tiny (the flux of a tunnelling mode across the barrier) does not overflow."""
        return self.integrate(np.square(np.sqrt(self.m) * f)) / self.Z

    def _full(self, C):
        C = np.asarray(C, dtype=float)
        if self.dirichlet_left:
            C = np.concatenate([np.zeros((1,) + C.shape[1:]), C])
        return C

    def values(self, C: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Values and derivatives at the quadrature points of FE vectors ``C`` ((n, k)),
        as arrays of shape (k, n_elements, nq)."""
        p, ne = self.degree, self.X.shape[0]
        P, dP = _reference_tables(p, self.X.shape[1])
        loc = self._full(np.asarray(C).reshape(self.n_dofs, -1))[_local_to_global(p, ne)]
        h = np.diff(self.nodes)
        vals = loc.transpose(2, 0, 1) @ P
        ders = (loc.transpose(2, 0, 1) @ dP) / h[None, :, None]
        return vals, ders

    def load(self, f: np.ndarray) -> np.ndarray:
        r"""Load vector :math:`\ell_i = \int m f \varphi_i` (f at the quadrature points)."""
        p, ne = self.degree, self.X.shape[0]
        P, _ = _reference_tables(p, self.X.shape[1])
        gd = _local_to_global(p, ne)
        b = np.bincount(gd.ravel(), weights=np.einsum("eq,iq->ei", self.m * self.dx * f,
                                                       P).ravel(), minlength=ne * p + 1)
        return b[1:] if self.dirichlet_left else b

    def to_dofs(self, phi: np.ndarray) -> np.ndarray:
        """Dof vector of a function of the FE space given at the quadrature points
        (unweighted L2 projection, exact for members of the space)."""
        from scipy.linalg import solveh_banded
        p, ne = self.degree, self.X.shape[0]
        P, _ = _reference_tables(p, self.X.shape[1])
        G = _assemble_banded(p, _gram(self.dx, P, P))
        gd = _local_to_global(p, ne)
        rhs = np.bincount(gd.ravel(), weights=np.einsum("eq,iq->ei", self.dx * phi, P).ravel(),
                          minlength=ne * p + 1)
        c = solveh_banded(G, rhs)
        return c[1:] if self.dirichlet_left else c

    def evaluate(self, c: ArrayLike, v: ArrayLike) -> np.ndarray:
        """The FE function with dof vector ``c`` at points ``v`` inside the mesh."""
        return evaluate_fe(self.nodes, self.degree, self.dirichlet_left, c, v)


def evaluate_fe(nodes: ArrayLike, degree: int, dirichlet_left: bool, c: ArrayLike,
                v: ArrayLike) -> np.ndarray:
    """Value at points ``v`` (inside ``[nodes[0], nodes[-1]]``) of the ElementLinePp(degree)
    function with dof vector ``c`` (element-by-element numbering; without the first vertex
    dof if ``dirichlet_left``)."""
    v = np.asarray(v, dtype=float)
    p = degree
    e = np.clip(np.searchsorted(nodes, v, side="right") - 1, 0, len(nodes) - 2)
    y = (v - nodes[e]) / (nodes[e + 1] - nodes[e])
    P, _ = integrated_legendre(y, p)                      # (p+1, len(v)) reference basis
    c = np.asarray(c, dtype=float)
    full = np.concatenate([[0.0], c]) if dirichlet_left else c
    gdofs = _local_to_global(p, len(nodes) - 1)[e]         # (len(v), p+1)
    return np.einsum("iv,vi->v", P, full[gdofs])


def _gram(w, P, Q):
    r"""Element matrices :math:`G_{eij} = \sum_q w_{eq} P_{iq} Q_{jq}` (as a batched matmul:
    a 3-operand ``einsum`` is ~4x slower at these sizes)."""
    return (w[:, None, :] * P[None]) @ Q.T


def _unweighted_mass(basis):
    return BilinearForm(lambda u, v, w: u * v).assemble(basis)


@lru_cache(maxsize=64)
def _local_to_global(p, ne):
    """Global dof of local function i of element e, for scikit-fem's ElementLinePp local order
    (0: left vertex, 1: right vertex, 2..p: bubbles); element-by-element numbering."""
    base = (np.arange(ne) * p)[:, None]
    loc = np.array([0, p] + list(range(1, p)))
    out = base + loc[None, :]
    out.flags.writeable = False
    return out


@lru_cache(maxsize=64)
def _band_scatter(p, ne):
    """For element matrices (ne, p+1, p+1): flat indices into the (p+1, N) upper band and the
    mask of the entries that belong there (global row <= global column)."""
    gd = _local_to_global(p, ne)
    gi = np.broadcast_to(gd[:, :, None], (ne, p + 1, p + 1))
    gj = np.broadcast_to(gd[:, None, :], (ne, p + 1, p + 1))
    mask = (gi <= gj).ravel()
    N = ne * p + 1
    flat = ((p + gi - gj) * N + gj).ravel()[mask]
    return flat, mask


def _assemble_banded(p, Ke):
    """Sum element matrices (ne, p+1, p+1) into upper band storage (p+1, N)."""
    ne = Ke.shape[0]
    flat, mask = _band_scatter(p, ne)
    N = ne * p + 1
    return np.bincount(flat, weights=Ke.ravel()[mask], minlength=(p + 1) * N).reshape(p + 1, N)


@lru_cache(maxsize=64)
def _reference_tables(p, nq):
    """ElementLinePp(p) values and reference derivatives at the nq Gauss points of [0, 1]."""
    xi, _ = gauss_rule(nq)
    P, dP = integrated_legendre(np.asarray(xi), p)
    P.flags.writeable = dP.flags.writeable = False
    return P, dP


def weighted_fe(potential: Potential, theta: float, nodes: ArrayLike, Wmin: float, *,
                degree: int = 8, dirichlet_left: bool = False, assemble: bool = True,
                nq: Optional[int] = None, radial_dim: Optional[int] = None) -> WeightedFE:
    """Build the weighted discretisation on ``nodes`` (matrices only if ``assemble``).

    The element is scikit-fem's ``ElementLinePp(degree)`` (hierarchical: vertex hats and
    integrated Legendre bubbles), evaluated on the reference element; the element matrices

    .. math:: A_e = \\theta\\sum_q m\\,dx\\,\\varphi_i'\\varphi_j', \\qquad
              B_e = \\sum_q m\\,dx\\,\\varphi_i\\varphi_j

    are summed into banded storage.  They are exactly what ``skfem.BilinearForm.assemble``
    produces with the same quadrature (tested), in a banded numbering.

    ``radial_dim = d`` builds the l = 1 angular channel of a radial potential in
    dimension d on ``[0, R]``: weight :math:`\\mu = r^{d-1} m` (in ``m``), the centrifugal
    term :math:`\\theta (d-1)\\int \\mu\\,\\varphi_i\\varphi_j / r^2` added to A, and
    :math:`\\varphi(0) = 0` when the mesh starts at 0 (natural condition at an inner end
    :math:`r_{lo} > 0`, where W is so high that the mass is negligible; see
    :mod:`effcoef.radial`).
    """
    nq = degree + 5 if nq is None else nq
    xi, wq = gauss_rule(nq)
    nodes = np.asarray(nodes, dtype=float)
    h = np.diff(nodes)
    X = nodes[:-1, None] + h[:, None] * xi[None, :]
    dx = h[:, None] * wq[None, :]
    logm = log_weight(potential, theta, X, Wmin)
    if radial_dim is not None:
        dirichlet_left = bool(nodes[0] == 0.0)     # g(0) = 0; natural at an inner end > 0
        logm = logm + (radial_dim - 1) * np.log(X)
    with np.errstate(under="ignore"):
        m = np.exp(logm)
    Z = float(np.sum(m * dx))
    fe = WeightedFE(nodes=nodes, degree=degree, theta=theta,
                    dirichlet_left=dirichlet_left, X=X, dx=dx, m=m, Z=Z, Wmin=Wmin)
    if assemble:
        p = degree
        P, dP = _reference_tables(p, nq)
        w = m * dx
        Ae = theta * _gram(w / (h * h)[:, None], dP, dP)
        Be = _gram(w, P, P)
        if radial_dim is not None:
            Ae += theta * (radial_dim - 1) * _gram(w / (X * X), P, P)
        Ab, Bb = _assemble_banded(p, Ae), _assemble_banded(p, Be)
        if dirichlet_left:                 # drop the first vertex dof (phi(0) = 0)
            for ab in (Ab, Bb):
                ab[p - np.arange(1, p + 1), np.arange(1, p + 1)] = 0.0
            Ab, Bb = Ab[:, 1:], Bb[:, 1:]
        fe.A, fe.B = BandedSym(Ab), BandedSym(Bb)
        if not dirichlet_left:
            k = np.zeros(len(h) * p + 1)
            k[::p] = 1.0          # the constant: vertex dofs 1, bubbles 0
            fe.kernel = k
    return fe


# --------------------------------------------------------------------------------------
# Exact inverse of the weighted stiffness in derivative coordinates
# --------------------------------------------------------------------------------------

@lru_cache(maxsize=64)
def legendre_tables(p: int, nq: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r""":math:`P_j(2\xi - 1)`, :math:`\int_0^\xi P_j(2t-1)\,dt` and
    :math:`\int_\xi^1 P_j(2t-1)\,dt` for j < p at the nq Gauss points of [0, 1] (derivative
    coordinates: :math:`\varphi'` is a discontinuous polynomial of degree p - 1 in Legendre
    polynomials; read-only, cached)."""
    xi, _ = gauss_rule(nq)
    y = 2.0 * xi - 1.0
    P = np.array([npleg.legval(y, np.eye(p)[j]) for j in range(p)])          # (p, nq)
    Hl = np.empty_like(P)
    Hr = np.empty_like(P)
    for j in range(p):
        c = np.eye(p)[j]
        Ij = npleg.legval(y, npleg.legint(c, lbnd=-1))                         # int_{-1}^y P_j
        Hl[j] = 0.5 * Ij
        Hr[j] = (1.0 - xi) if j == 0 else -0.5 * Ij                           # int_y^1 P_j = -I_j (j>0)
    for t in (P, Hl, Hr):
        t.flags.writeable = False
    return P, Hl, Hr


def green_solve(fe: WeightedFE, u: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    r"""Solve :math:`A\varphi = \ell(u)` exactly in derivative coordinates.

    Parameters
    ----------
    fe : WeightedFE
    u : array (n_elements, nq) or (k, n_elements, nq)
        Right-hand side data at the quadrature points; the load is
        :math:`\ell(u)_i = \int m\,u\,\varphi_i`.  In a sector with a kernel the
        data must satisfy :math:`\int m u = 0`.

    Returns
    -------
    g, phi : arrays like ``u``
        :math:`g = \varphi'` and :math:`\varphi` at the quadrature points, with
        :math:`\varphi(a) = 0` in the Dirichlet sector and
        :math:`\int m\varphi = 0` otherwise.

    Notes
    -----
    The flux :math:`f(s) = \int_s^b m u` is accumulated over whole elements as a
    plain sum; in a sector with a kernel, each element uses the side (left or
    right) whose accumulated absolute mass is smaller, so that a function with
    one sign change (the tunnelling mode, the data :math:`v - \mathcal V`) is
    summed without cancellation.  The local problems are
    :math:`p\times p` weighted Legendre mass matrices.
    """
    u = np.asarray(u, dtype=float)
    single = u.ndim == 2
    if single:
        u = u[None]
    p = fe.degree
    ne, nq = fe.X.shape
    P, Hl, Hr = legendre_tables(p, nq)
    h = np.diff(fe.nodes)                                           # (ne,)
    mu = fe.m * u * fe.dx                                            # (k, ne, nq)
    I = mu.sum(axis=2)                                               # (k, ne)
    # CR_e = int_{x_{e+1}}^b m u, CL_e = int_a^{x_e} m u (sums over whole elements)
    CR = np.concatenate([np.cumsum(I[:, :0:-1], axis=1)[:, ::-1], np.zeros((u.shape[0], 1))], axis=1)
    # right-sided load: r_j = CR_e * int_e P_j + int_e m u (int_{x_e}^t P_j) dt
    rR = (mu @ Hl.T) * h[None, :, None]
    rR[:, :, 0] += CR * h
    if fe.dirichlet_left:
        r = rR
    else:
        CL = np.concatenate([np.zeros((u.shape[0], 1)), np.cumsum(I[:, :-1], axis=1)], axis=1)
        rL = -(mu @ Hr.T) * h[None, :, None]
        rL[:, :, 0] -= CL * h
        A_abs = np.abs(mu).sum(axis=2)
        AR = np.concatenate([np.cumsum(A_abs[:, :0:-1], axis=1)[:, ::-1], np.zeros((u.shape[0], 1))], axis=1)
        AL = np.concatenate([np.zeros((u.shape[0], 1)), np.cumsum(A_abs[:, :-1], axis=1)], axis=1)
        r = np.where((AR <= AL)[:, :, None], rR, rL)
    # local weighted Legendre mass matrices theta * int_e m P_i P_j, scaled for conditioning
    G = fe.theta * _gram(fe.m * fe.dx, P, P)    # (ne, p, p)
    s = np.sqrt(np.einsum("eii->ei", G))
    s[s == 0] = 1.0
    Gs = G / (s[:, :, None] * s[:, None, :])
    rs = r / s[None]
    c = np.linalg.solve(Gs[None], rs[..., None])[..., 0] / s[None]  # (k, ne, p)
    g = c @ P
    J = c[:, :, 0] * h[None]                                         # int_e g
    Phi0 = np.concatenate([np.zeros((u.shape[0], 1)), np.cumsum(J[:, :-1], axis=1)], axis=1)
    phi = Phi0[:, :, None] + (c @ Hl) * h[None, :, None]
    if not fe.dirichlet_left:
        mean = np.einsum("kev,ev->k", phi, fe.m * fe.dx) / fe.Z
        phi = phi - mean[:, None, None]
    if single:
        return g[0], phi[0]
    return g, phi


# --------------------------------------------------------------------------------------
# The paper's Schrödinger discretisation (baseline)
# --------------------------------------------------------------------------------------

@dataclass
class SchrodingerFE:
    basis: object
    H: object
    Mass: object
    free: np.ndarray
    X: np.ndarray
    dx: np.ndarray
    sqrtM: np.ndarray
    theta: float


def schrodinger_fe(potential: Potential, theta: float, nodes: ArrayLike, Wmin: float, log_Z: float,
                   *, degree: int = 10, intorder: int = 21) -> SchrodingerFE:
    r"""Paper 004 Steps 1-2: :math:`\theta\int u'v' + \int\Phi uv` and :math:`\int uv` on
    :math:`H^1_0(a, b)`, Gauss quadrature exact to degree ``intorder``."""
    mesh = MeshLine(np.asarray(nodes))
    basis = Basis(mesh, ElementLinePp(degree), intorder=intorder)
    X = np.asarray(basis.global_coordinates()[0])
    Phi = schrodinger_potential(potential, theta, X)
    H = BilinearForm(lambda u, v, w: theta * u.grad[0] * v.grad[0] + w.Phi * u * v).assemble(basis, Phi=Phi)
    Mass = _unweighted_mass(basis)
    free = basis.complement_dofs(basis.get_dofs())
    sqrtM = sqrt_maxwellian(potential, theta, X, Wmin, log_Z)
    return SchrodingerFE(basis=basis, H=H[free][:, free].tocsc(), Mass=Mass[free][:, free].tocsc(),
                         free=free, X=X, dx=basis.dx, sqrtM=sqrtM, theta=theta)
