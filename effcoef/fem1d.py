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

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.polynomial import legendre as npleg
from scipy import sparse
import scipy.sparse.linalg  # noqa: F401  (sparse.linalg.spsolve)
from skfem import Basis, BilinearForm, ElementLinePp, MeshLine

from .operator import log_weight, schrodinger_potential

__all__ = [
    "adapted_nodes",
    "gauss_rule",
    "WeightedFE",
    "weighted_fe",
    "green_solve",
    "SchrodingerFE",
    "schrodinger_fe",
]


@lru_cache(maxsize=64)
def gauss_rule(nq):
    """Gauss-Legendre rule on the reference element [0, 1]: (points (nq,), weights (nq,))."""
    x, w = npleg.leggauss(nq)
    x, w = 0.5 * (x + 1.0), 0.5 * w
    x.flags.writeable = w.flags.writeable = False   # cached: shared between callers
    return x, w


def adapted_nodes(potential, theta, a, b, *, h_scale=1.5, fixed=(), min_elements=4,
                  n_sample=4001):
    r"""Mesh nodes on ``[a, b]`` adapted to where :math:`M` lives and varies.

    The local length scale is

    .. math:: \ell(v)^{-1} = \frac{|W'(v)|}{\theta} + \sqrt{\frac{|W''(v)|}{\theta}}
              + \frac{4}{b-a},

    i.e. an element of size :math:`h` sees :math:`\log m` change by at most
    about :math:`h/\ell`, and resolves the harmonic length
    :math:`\sqrt{\theta/W''}` at the wells and at the barriers.  Nodes are
    placed so that :math:`\int_e \ell^{-1} \approx` ``h_scale`` on every
    element.  ``fixed`` points inside ``(a, b)`` (kinks of W, the symmetry
    centre) are always nodes.
    """
    pts = sorted({float(a), float(b)} | {float(x) for x in fixed if a < x < b})
    nodes = [pts[0]]
    for lo, hi in zip(pts[:-1], pts[1:]):
        n = max(int(n_sample * (hi - lo) / (b - a)), 64)
        x = np.linspace(lo, hi, n)
        with np.errstate(all="ignore"):
            d1 = np.abs(potential.dW(x)) / theta
            d2 = np.sqrt(np.abs(potential.d2W(x)) / theta)
        rho = np.nan_to_num(d1, posinf=0.0) + np.nan_to_num(d2, posinf=0.0) + 4.0 / (b - a)
        cum = np.concatenate([[0.0], np.cumsum(0.5 * (rho[1:] + rho[:-1]) * np.diff(x))])
        ne = max(int(np.ceil(cum[-1] / h_scale)),
                 int(np.ceil(min_elements * (hi - lo) / (b - a))), 1)
        seg = np.interp(np.linspace(0.0, cum[-1], ne + 1), cum, x)
        seg[0], seg[-1] = lo, hi
        nodes.extend(seg[1:])
    return np.asarray(nodes)


@dataclass
class WeightedFE:
    """Weighted discretisation of one sector (see module docstring).

    ``dirichlet_left``: the odd sector of a symmetric potential on
    ``[0, b]`` (:math:`\\varphi(0) = 0`, no kernel); otherwise the constant is
    the kernel (the even sector on ``[0, b]`` or the whole line ``[a, b]``).
    Quadrature arrays have shape (n_elements, nq); ``Z`` is the sector's
    :math:`\\int m` so that all normalised quantities (divided by Z) are those
    of the whole line.  ``E`` and ``Ed`` map free dofs to values and
    derivatives at the quadrature points (flattened element-major).
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
    basis: object = None
    A: object = None
    B: object = None
    free: np.ndarray = None
    E: object = None
    Ed: object = None
    kernel: np.ndarray = None

    @property
    def n_dofs(self):
        return int(self.free.size) if self.free is not None else None

    def integrate(self, f):
        r""":math:`\int f` with the element quadrature (f given at the quadrature points)."""
        return float(np.sum(f * self.dx))

    def mean(self, f):
        r""":math:`\int M f` over the sector, :math:`M = m/Z`."""
        return self.integrate(self.m * f) / self.Z

    def mean_square(self, f):
        r""":math:`\int M f^2`, formed as :math:`(\sqrt m f)^2` so that a huge f where m is
        tiny (the flux of a tunnelling mode across the barrier) does not overflow."""
        return self.integrate(np.square(np.sqrt(self.m) * f)) / self.Z

    def values(self, C):
        """Values and derivatives at the quadrature points of FE vectors ``C`` (free dofs, (n, k)),
        as arrays of shape (k, n_elements, nq)."""
        C = np.asarray(C).reshape(self.E.shape[1], -1)
        shape = (C.shape[1],) + self.X.shape
        return ((self.E @ C).T.reshape(shape), (self.Ed @ C).T.reshape(shape))

    def to_dofs(self, phi):
        """Free-dof vector of a function of the FE space given at the quadrature points
        (unweighted L2 projection, exact for members of the space)."""
        w = self.dx.ravel()
        G = (self.E.T @ sparse.diags(w) @ self.E).tocsc()
        return sparse.linalg.spsolve(G, self.E.T @ (w * np.ravel(phi)))


@lru_cache(maxsize=16)
def _element(degree):
    """One ElementLinePp per degree: it caches its reference basis tables (rebuilding them
    costs more than the rest of a small assembly)."""
    return ElementLinePp(degree)


def _unweighted_mass(basis):
    return BilinearForm(lambda u, v, w: u * v).assemble(basis)


def _evaluation_matrices(basis, free):
    """Sparse maps dofs -> values / derivatives at all quadrature points (element-major)."""
    ne, nq = basis.dx.shape
    nloc = basis.element_dofs.shape[0]
    rows = np.broadcast_to(np.arange(ne * nq).reshape(ne, 1, nq), (ne, nloc, nq))
    cols = np.broadcast_to(basis.element_dofs.T[:, :, None], (ne, nloc, nq))
    val = np.stack([np.asarray(basis.basis[i][0]) for i in range(nloc)], axis=1)
    der = np.stack([np.asarray(basis.basis[i][0].grad[0]) for i in range(nloc)], axis=1)
    shape = (ne * nq, basis.N)
    E = sparse.csr_matrix((val.ravel(), (rows.ravel(), cols.ravel())), shape=shape)
    Ed = sparse.csr_matrix((der.ravel(), (rows.ravel(), cols.ravel())), shape=shape)
    return E[:, free], Ed[:, free]


def weighted_fe(potential, theta, nodes, Wmin, *, degree=8, dirichlet_left=False,
                assemble=True, nq=None):
    """Build the weighted discretisation on ``nodes`` (matrices only if ``assemble``).

    The element (``ElementLinePp``), its reference basis and dof numbering come from
    scikit-fem; :math:`A = \\theta E_d^T\\,\\mathrm{diag}(m\\,dx)\\,E_d` and
    :math:`B = E^T\\,\\mathrm{diag}(m\\,dx)\\,E` are formed from the basis tables
    (identical to ``BilinearForm.assemble`` with the same quadrature, and faster).
    """
    nq = degree + 5 if nq is None else nq
    xi, wq = gauss_rule(nq)
    h = np.diff(nodes)
    X = nodes[:-1, None] + h[:, None] * xi[None, :]
    dx = h[:, None] * wq[None, :]
    with np.errstate(under="ignore"):
        m = np.exp(log_weight(potential, theta, X, Wmin))
    Z = float(np.sum(m * dx))
    fe = WeightedFE(nodes=np.asarray(nodes), degree=degree, theta=theta,
                    dirichlet_left=dirichlet_left, X=X, dx=dx, m=m, Z=Z, Wmin=Wmin)
    if assemble:
        mesh = MeshLine(np.asarray(nodes))
        basis = Basis(mesh, _element(degree), quadrature=(xi[None, :], wq))
        Xb = np.asarray(basis.global_coordinates()[0])
        if not np.allclose(Xb, X, rtol=0, atol=1e-12 * (1 + np.abs(X).max())):
            raise RuntimeError("scikit-fem quadrature points do not match the element ordering")
        if dirichlet_left:
            left = basis.get_dofs(lambda x: np.isclose(x[0], nodes[0])).all()
            free = basis.complement_dofs(left)
        else:
            free = np.arange(basis.N)
        E, Ed = _evaluation_matrices(basis, free)
        W = sparse.diags((m * dx).ravel())
        fe.basis, fe.free, fe.E, fe.Ed = basis, free, E, Ed
        fe.A = (theta * (Ed.T @ W @ Ed)).tocsc()
        fe.B = (E.T @ W @ E).tocsc()
        if not dirichlet_left:
            # the constant: vertex dofs 1, hierarchical bubble dofs 0
            k = np.zeros(basis.N)
            k[basis.nodal_dofs[0]] = 1.0
            fe.kernel = k[free]
    return fe


# --------------------------------------------------------------------------------------
# Exact inverse of the weighted stiffness in derivative coordinates
# --------------------------------------------------------------------------------------

@lru_cache(maxsize=64)
def _legendre_tables(p, nq):
    """P_j(2 xi - 1), int_0^xi P_j(2t-1) dt and int_xi^1 P_j(2t-1) dt for j < p at the nq
    Gauss points xi of [0, 1]."""
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


def green_solve(fe, u):
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
    P, Hl, Hr = _legendre_tables(p, nq)
    h = np.diff(fe.nodes)                                           # (ne,)
    mu = fe.m * u * fe.dx                                            # (k, ne, nq)
    I = mu.sum(axis=2)                                               # (k, ne)
    # CR_e = int_{x_{e+1}}^b m u, CL_e = int_a^{x_e} m u (sums over whole elements)
    CR = np.concatenate([np.cumsum(I[:, :0:-1], axis=1)[:, ::-1], np.zeros((u.shape[0], 1))], axis=1)
    # right-sided load: r_j = CR_e * int_e P_j + int_e m u (int_{x_e}^t P_j) dt
    rR = np.einsum("kev,jv->kej", mu, Hl) * h[None, :, None]
    rR[:, :, 0] += CR * h
    if fe.dirichlet_left:
        r = rR
    else:
        CL = np.concatenate([np.zeros((u.shape[0], 1)), np.cumsum(I[:, :-1], axis=1)], axis=1)
        rL = -np.einsum("kev,jv->kej", mu, Hr) * h[None, :, None]
        rL[:, :, 0] -= CL * h
        A_abs = np.abs(mu).sum(axis=2)
        AR = np.concatenate([np.cumsum(A_abs[:, :0:-1], axis=1)[:, ::-1], np.zeros((u.shape[0], 1))], axis=1)
        AL = np.concatenate([np.zeros((u.shape[0], 1)), np.cumsum(A_abs[:, :-1], axis=1)], axis=1)
        r = np.where((AR <= AL)[:, :, None], rR, rL)
    # local weighted Legendre mass matrices theta * int_e m P_i P_j, scaled for conditioning
    G = fe.theta * np.einsum("ev,iv,jv->eij", fe.m * fe.dx, P, P)    # (ne, p, p)
    s = np.sqrt(np.einsum("eii->ei", G))
    s[s == 0] = 1.0
    Gs = G / (s[:, :, None] * s[:, None, :])
    rs = r / s[None]
    c = np.linalg.solve(Gs[None], rs[..., None])[..., 0] / s[None]  # (k, ne, p)
    g = np.einsum("kej,jv->kev", c, P)
    J = c[:, :, 0] * h[None]                                         # int_e g
    Phi0 = np.concatenate([np.zeros((u.shape[0], 1)), np.cumsum(J[:, :-1], axis=1)], axis=1)
    phi = Phi0[:, :, None] + np.einsum("kej,jv->kev", c, Hl) * h[None, :, None]
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


def schrodinger_fe(potential, theta, nodes, Wmin, log_Z, *, degree=10, intorder=21):
    r"""Paper 004 Steps 1-2: :math:`\theta\int u'v' + \int\Phi uv` and :math:`\int uv` on
    :math:`H^1_0(a, b)`, Gauss quadrature exact to degree ``intorder``."""
    mesh = MeshLine(np.asarray(nodes))
    basis = Basis(mesh, ElementLinePp(degree), intorder=intorder)
    X = np.asarray(basis.global_coordinates()[0])
    Phi = schrodinger_potential(potential, theta, X)
    H = BilinearForm(lambda u, v, w: theta * u.grad[0] * v.grad[0] + w.Phi * u * v).assemble(basis, Phi=Phi)
    Mass = _unweighted_mass(basis)
    free = basis.complement_dofs(basis.get_dofs())
    sqrtM = np.exp(0.5 * (log_weight(potential, theta, X, Wmin) - log_Z))
    return SchrodingerFE(basis=basis, H=H[free][:, free].tocsc(), Mass=Mass[free][:, free].tocsc(),
                         free=free, X=X, dx=basis.dx, sqrtM=sqrtM, theta=theta)
