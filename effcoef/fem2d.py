r"""The previous 2D route (scikit-fem ``ElementQuadP``), kept as the baseline of
``benchmarks/bench_multid.py``; :func:`effcoef.coefficients` uses :mod:`effcoef.fend`.

General (non-radial) potentials :math:`W(v_1, v_2)`: full matrices D and K by 2D finite elements.

Same weighted formulation as in 1D: :math:`u = \sqrt M\varphi` with :math:`\varphi` in
scikit-fem's ``ElementQuadP(p)`` on a tensor-product quadrilateral mesh adapted to where
:math:`M` lives (:func:`tensor_nodes`), natural (zero-flux) conditions on the box where
:math:`(W - W_{\min})/\theta \le \mathrm{tail}`,

.. math:: A_{ij} = \theta\int m\,\nabla\varphi_i\cdot\nabla\varphi_j, \qquad
          B_{ij} = \int m\,\varphi_i\varphi_j,

the constant (kernel) removed exactly by projection.  With the compatibility shift
:math:`\mathcal V = \int vM` (paper 004, 4.3) the data are
:math:`h_i = -(v_i - \mathcal V_i)\sqrt M` and

.. math:: \mathcal D = \sum_k \frac{\eta_k\otimes\eta_k}{\lambda_k}, \quad
          \mathcal K = \sum_k \frac{\eta_k\otimes\omega_k}{\lambda_k}, \quad
          \eta_{k,i} = -\langle v_i - \mathcal V_i, \varphi_k\rangle_M, \quad
          \omega_{k,i} = -\langle\partial_i\varphi_k, 1\rangle_M

(:math:`\omega` by integration by parts of :math:`-\theta^{-1}\langle\partial_i W,
\varphi_k\rangle_M`).  Checks reported with
the result: the exact discrete Poisson solutions :math:`\mathcal D^\infty` (sparse LU)
and :math:`\mathcal K^\infty = \mathrm{Cov}_M(v)/\theta` (exact identity, from
:math:`Q(-(v-\mathcal V)M/\theta) = \nabla W M/\theta`), and the degree p vs p+1 gap.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import splu
from skfem import Basis, BilinearForm, ElementQuadP, LinearForm, MeshQuad

from .results import CoefficientResult, relative_error
from .series import lanczos_shift, run_series
from .spectrum import lanczos_modes

__all__ = ["tensor_nodes", "principal_frame", "fe2d_coefficients"]

_EPS = np.finfo(float).eps


def tensor_nodes(potential, theta, box, *, h_scale=1.5, tail=45.0, n_grid=161, min_elements=6):
    r"""1D node sets for a tensor mesh of ``box``: along axis i the element size follows the
    local scale :math:`1/(\max|\partial_i W|/\theta + \sqrt{\max|\partial_{ii}W|/\theta})`,
    the maxima taken over the other coordinate where :math:`(W-W_{\min})/\theta \le`
    ``tail`` (where M lives)."""
    lower, upper = np.asarray(box[0], float), np.asarray(box[1], float)
    axes = [np.linspace(lower[i], upper[i], n_grid) for i in range(2)]
    G = np.array(np.meshgrid(*axes, indexing="ij"))
    W = potential.W(G)
    live = (W - W.min()) / theta <= tail
    g = potential.grad(G)
    nodes = []
    for i in range(2):
        d1 = np.abs(g[i]) / theta
        # second derivative along axis i by differences of the exact gradient
        d2 = np.abs(np.gradient(g[i], axes[i], axis=i)) / theta
        dens = np.where(live, d1 + np.sqrt(d2), 0.0).max(axis=1 - i) + 4.0 / (upper[i] - lower[i])
        x = axes[i]
        cum = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(x))])
        ne = max(int(np.ceil(cum[-1] / h_scale)), min_elements)
        nodes.append(np.interp(np.linspace(0, cum[-1], ne + 1), cum, x))
    return nodes


def _assemble(potential, theta, nodes, Wmin, degree, tail):
    mesh = MeshQuad.init_tensor(*nodes)
    basis = Basis(mesh, ElementQuadP(degree), intorder=2 * degree + 4)
    X = basis.global_coordinates()
    Xa = np.array([np.asarray(X[0]), np.asarray(X[1])])
    with np.errstate(under="ignore"):
        m = np.exp(-(potential.W(Xa) - Wmin) / theta)
    A = BilinearForm(lambda u, v, w: theta * w.m * (u.grad[0] * v.grad[0]
                                                    + u.grad[1] * v.grad[1])).assemble(basis, m=m)
    B = BilinearForm(lambda u, v, w: w.m * u * v).assemble(basis, m=m)
    Z = float(np.sum(m * basis.dx))
    V = np.array([np.sum(m * Xa[i] * basis.dx) / Z for i in range(2)])
    # m spans e^-tail..1 inside the sublevel set and underflows in the box corners: symmetric
    # diagonal scaling S = diag(B)^-1/2 makes every row O(1), so that LU and Lanczos see a
    # well-conditioned pencil.  Dofs whose support carries less than e^-2 tail of the largest
    # B_ii (beyond the mass cut already accepted, e^-tail) are dropped (phi = 0 there): where m
    # varies by hundreds of orders of magnitude across one element their scaled mass rows are
    # numerically indefinite and produced spurious Ritz values at -shift (a separable
    # potential turned by 1 rad on a coordinate-axes mesh: no result after 20 minutes).
    d = np.sqrt(B.diagonal())
    keep = np.nonzero(d > math.exp(-tail) * d.max())[0]
    S = sparse.diags(1.0 / d[keep])
    E = sparse.eye(basis.N, format="csr")[:, keep] @ S          # scaled dofs -> all dofs
    A = (E.T @ A @ E).tocsc()
    B = (E.T @ B @ E).tocsc()
    return basis, A, B, m, Xa, Z, V, E


def _kernel(basis, E):
    """The constant in scaled dofs, E k = 1.  ElementQuadP is hierarchical (vertex functions
    and bubbles): the constant is 1 on the vertex dofs and 0 elsewhere; checked at the
    quadrature points, with the L2 projection of 1 (a global mass solve) as the fallback."""
    k = np.zeros(basis.N)
    k[basis.nodal_dofs.ravel()] = 1.0
    if np.max(np.abs(np.asarray(basis.interpolate(k)) - 1.0)) > 1e-12:
        k = basis.project(lambda x: 1.0 + 0.0 * x[0])
    d = 1.0 / np.asarray(E.sum(axis=0)).ravel()          # E = I[:, keep] S: column sums = S
    keep = E.indices if E.format == "csc" else E.tocsc().indices
    return k[keep] * d


def _limits(basis, A, B, m, Xa, Z, V, kernel, theta, E):
    """D_inf (sparse LU of the kernel-bordered stiffness) and K_inf = Cov_M(v) / theta."""
    loads = [E.T @ LinearForm(lambda v, w, i=i: w.m * (w.x[i] - V[i]) * v).assemble(basis, m=m)
             for i in range(2)]
    Bk = B @ kernel
    n = A.shape[0]
    K = sparse.bmat([[A, Bk[:, None]], [Bk[None, :], None]], format="csc")
    # symmetric matrix: a minimum-degree ordering of A + A^T has 4x less fill than SuperLU's
    # default COLAMD on these Q6 stiffness matrices (factor 4.5x, solve 3.5x faster)
    lu = splu(K, permc_spec="MMD_AT_PLUS_A")
    sols, change = [], 0.0
    for b in loads:                     # one step of iterative refinement, its size reported
        rhs = np.concatenate([b, [0.0]])
        x = lu.solve(rhs)
        dx = lu.solve(rhs - K @ x)
        x = x + dx
        sols.append(x[:n])
        change = max(change, abs(float(b @ dx[:n])) / max(abs(float(b @ x[:n])), 1e-300))
    Dinf = np.array([[loads[i] @ sols[j] for j in range(2)] for i in range(2)]) / Z
    cov = np.array([[np.sum(m * (Xa[i] - V[i]) * (Xa[j] - V[j]) * basis.dx) for j in range(2)]
                    for i in range(2)]) / Z
    return 0.5 * (Dinf + Dinf.T), cov / theta, loads, sols, change


def _rotation(b):
    return np.array([[math.cos(b), -math.sin(b)], [math.sin(b), math.cos(b)]])


def principal_frame(potential, theta, box, *, tail=30.0, gain=0.8):
    r"""Rotation R of the mesh axes that minimises the number of tensor-mesh elements, or None.

    A tensor mesh resolves :math:`M` only along its own axes: an anisotropic :math:`M` with
    turned axes (or a tilted double well) needs many more elements than in its own frame.
    The element count of :func:`tensor_nodes` (``h_scale`` 1.5) for the potential
    :math:`W(R_\beta y)` is evaluated for :math:`\beta` on a 5 degree grid of
    :math:`[0, \pi/2)` (the count is :math:`\pi/2`-periodic) on the square circumscribing
    the mass box, then on a 1 degree grid around the best; None (keep the coordinate axes)
    unless the best count is below ``gain`` times the count at :math:`\beta = 0`.
    A rotation is exact (D, K transform as :math:`R X R^T`): only the cost depends on it.
    """
    from potentials import rotated

    lower, upper = np.asarray(box.lower, float), np.asarray(box.upper, float)
    c, r = 0.5 * (lower + upper), 0.5 * float(np.linalg.norm(upper - lower))

    def count(b):
        R = _rotation(b)
        cy = R.T @ c
        nodes = tensor_nodes(rotated(potential, R.T), theta, (cy - r, cy + r), h_scale=1.5,
                             tail=tail)
        return (len(nodes[0]) - 1) * (len(nodes[1]) - 1)

    coarse = np.deg2rad(np.arange(0, 90, 5))
    counts = [count(b) for b in coarse]
    b0 = coarse[int(np.argmin(counts))]
    fine = b0 + np.deg2rad(np.arange(-4, 5, 1))
    fcounts = [count(b) for b in fine]
    best, cbest = fine[int(np.argmin(fcounts))], min(fcounts)
    if cbest >= gain * counts[0] or abs(math.sin(2 * best)) < 1e-12:
        return None
    return _rotation(best)


def _rotate_result(res, R):
    """A result computed for :math:`W(R y)` in the coordinates y, expressed in v = R y:
    matrices :math:`R X R^T`, vectors :math:`R x`; eigenvalues are invariant."""
    rot = lambda X: R @ X @ R.T                               # noqa: E731
    rotn = lambda X: np.einsum("ij,njk,lk->nil", R, X, R)     # noqa: E731
    res.D, res.K, res.K_cov = rot(res.D), rot(res.K), rot(res.K_cov)
    res.D_partial, res.K_partial = rotn(res.D_partial), rotn(res.K_partial)
    res.V = R @ res.V
    res.eta, res.omega = res.eta @ R.T, res.omega @ R.T
    res.info["D_fine"], res.info["K_fine"] = rot(res.info["D_fine"]), rot(res.info["K_fine"])
    res.info["frame"] = R            # res.domain is the mass box in the coordinates y = R^T v
    res.modes.frame = R
    return res


@dataclass
class Modes2D:
    r"""Evaluator of :math:`\Psi_k = \sqrt M\,\varphi_k` of the 2D route (picklable data; the
    scikit-fem basis is rebuilt on first use).  ``frame`` R: the mesh lives in y = R^T v."""

    potential: object
    theta: float
    Wmin: float
    log_Z: float
    nodes: list
    degree: int
    vectors: np.ndarray          # (basis.N, n+1) full dof vectors of phi_0 = 1, phi_1, ...
    frame: object = None

    def __call__(self, V):
        V = np.asarray(V, dtype=float)
        if V.ndim == 1:
            V = V[:, None]
        if V.shape[0] != 2:
            raise ValueError(f"points must have shape (2, npts), got {V.shape}")
        Y = V if self.frame is None else self.frame.T @ V
        lo = np.array([self.nodes[0][0], self.nodes[1][0]])
        hi = np.array([self.nodes[0][-1], self.nodes[1][-1]])
        inside = np.all((Y >= lo[:, None]) & (Y <= hi[:, None]), axis=0)
        out = np.zeros((self.vectors.shape[1], V.shape[1]))
        if np.any(inside):
            mesh = MeshQuad.init_tensor(*self.nodes)
            basis = Basis(mesh, ElementQuadP(self.degree))
            phi = (basis.probes(Y[:, inside]) @ self.vectors).T
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


def fe2d_coefficients(potential, theta, *, n_modes=None, degree=6, h_scale=None, tail=30.0,
                      rtol=1e-6, eigensolver="arpack", frame="auto") -> CoefficientResult:
    r"""Full D and K matrices of a 2D potential (``potentials.PotentialND`` with dim 2).

    Defaults: Q6 elements, box where :math:`(W - W_{\min})/\theta \le 30`, ARPACK.
    ``h_scale=None`` starts with elements ten local length scales wide and refines the
    tensor mesh until the Q6/Q7 gap is below ``rtol/3``; ``n_modes`` (default 12) modes of
    the series (``"auto"``: grown until the series alone is below ``rtol/10``).
    In 2D the restarted ARPACK Lanczos is faster than the restart-free one (which would need
    Krylov spaces of several hundred vectors).  ``frame="auto"`` meshes in turned axes when
    that needs fewer elements (:func:`principal_frame`; the result is rotated back and
    ``info["frame"]`` holds R); ``"axes"`` always uses the coordinate axes.
    """
    if int(potential.dim) != 2:
        raise ValueError(f"the finite element route is for dim 2, got {potential.dim}")
    if frame not in ("auto", "axes"):
        raise ValueError(f"frame must be 'auto' or 'axes', got {frame!r}")
    from .domain import select_box
    box = select_box(potential, theta, target=rtol / 20, tail=tail)
    R = principal_frame(potential, theta, box, tail=tail) if frame == "auto" else None
    if R is not None:     # solve for W(R y) on a mesh aligned with its axes, rotate back
        from potentials import rotated
        res = fe2d_coefficients(rotated(potential, R.T), theta, n_modes=n_modes,
                                degree=degree, h_scale=h_scale, tail=tail, rtol=rtol,
                                eigensolver=eigensolver, frame="axes")
        res.modes.potential = potential
        return _rotate_result(res, R)
    # mesh: start at h_scale and refine until the degree p vs p+1 gap of the Poisson solutions
    # is below rtol/3, the refinement factor predicted from the h^(p+1) rate (at most 4
    # refinements); the eigenproblem is solved once, on the final mesh
    auto_mesh = h_scale is None
    hs = 10.0 if auto_mesh else float(h_scale)
    for attempt in range(5):
        nodes = tensor_nodes(potential, theta, (box.lower, box.upper), h_scale=hs, tail=tail)
        basis, A, B, m, Xa, Z, V, E = _assemble(potential, theta, nodes, box.Wmin, degree, tail)
        kernel = _kernel(basis, E)
        D_inf, K_inf, loads, sols, change = _limits(basis, A, B, m, Xa, Z, V, kernel, theta, E)
        basis2, A2, B2, m2, Xa2, Z2, V2, E2 = _assemble(potential, theta, nodes, box.Wmin,
                                                        degree + 1, tail)
        D2, K2, _, _, _ = _limits(basis2, A2, B2, m2, Xa2, Z2, V2, _kernel(basis2, E2), theta, E2)
        gap = max(relative_error(D2, D_inf), relative_error(K2, K_inf))
        if not auto_mesh or gap <= rtol / 3 or attempt == 4:
            break
        hs /= float(np.clip(1.15 * (gap / (rtol / 3)) ** (1.0 / (degree + 1)), 1.25, 3.0))
    # shift of the order of the lowest harmonic level: trace of the Hessian at the minimum / d
    with np.errstate(all="ignore"):
        lap = float(np.abs(potential.laplacian(np.asarray(box.vmin, float).reshape(2, 1))[0]))
    shift = lanczos_shift(lap / 2, theta, float(np.max(box.upper - box.lower)))

    def compute(N):
        lam, C = lanczos_modes(A, B, N, shift=shift, kernel=kernel, engine=eigensolver,
                               maxdim=min(A.shape[0] - 2, 3 * N + 40))
        k = len(lam)
        if not np.all(np.isfinite(lam)) or not np.all(np.isfinite(C)):
            raise FloatingPointError("the eigensolver returned non-finite modes; refine the mesh "
                                     "(h_scale) or lower the degree")
        C = C * math.sqrt(Z)
        eta = -np.array([[loads[i] @ C[:, j] for i in range(2)] for j in range(k)]) / Z
        dphi = [basis.interpolate(E @ C[:, j]).grad for j in range(k)]
        omega = -np.array([[np.sum(m * np.asarray(dphi[j][i]) * basis.dx) for i in range(2)]
                           for j in range(k)]) / Z
        return _Spectrum(lam=lam, eta=eta, omega=omega, C=C)

    run = run_series(compute, n_modes=n_modes, default=12, D_inf=D_inf, K_inf=K_inf, rtol=rtol,
                     cap=320)
    spec = run.spectrum
    comps = {
        "discretisation": gap,
        "domain": box.cut,
        "linear_solve": change,
    }
    vectors = np.column_stack([E @ kernel, E @ spec.C])        # phi_0 = 1, phi_1, ...
    modes = Modes2D(potential=potential, theta=theta, Wmin=box.Wmin, log_Z=math.log(Z),
                    nodes=[np.asarray(x) for x in nodes], degree=degree, vectors=vectors)
    return CoefficientResult(
        dim=2, D=D_inf, K=K_inf, V=V, theta=theta, K_cov=K_inf,
        eigenvalues=np.concatenate([[0.0], spec.lam]),
        eta=np.concatenate([np.zeros((1, 2)), spec.eta]),
        omega=np.concatenate([np.zeros((1, 2)), spec.omega]), D_partial=run.D_partial,
        K_partial=run.K_partial, rel_error_estimate=float(max(comps.values())),
        error_components=comps,
        error_method=(f"max of the discretisation gap Q{degree} vs Q{degree + 1} on the same "
                      "mesh (exact discrete Poisson solutions, Frobenius norm), the domain cut "
                      "e^-tail and the linear solve (change under one step of iterative "
                      "refinement)"),
        rtol=rtol, n_dofs=int(A.shape[0]), method="fe2d", D_is="completed", parity=None,
        eigenvalue_errors=np.concatenate([[0.0], 100 * _EPS * shift / np.abs(spec.lam)]),
        domain=(tuple(box.lower), tuple(box.upper)),
        info={"n_elements": (len(nodes[0]) - 1) * (len(nodes[1]) - 1), "degree": degree,
              "frame": None, "h_scale": hs, "shift": shift, "D_fine": D2, "K_fine": K2,
              "domain_certified": bool(box.certified), "domain_note": box.note},
        modes=modes)
