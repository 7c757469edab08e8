"""The nested-dissection lattice LU (effcoef.latticelu) against SuperLU and dense LAPACK.

The kinetic matrices are the 1D sector matrices of effcoef.kinetic (scaled Hermite functions x
real Fourier modes) on the (Hermite degree, Fourier mode) lattice, for single-mode and
multi-mode potentials (the stencil is then wider in k), with and without a force, in both
reflection sectors and without symmetry (one unknown pinned, a hole in the lattice).  The
reference is scipy's SuperLU with partial pivoting (COLAMD), an independent sparse
factorisation; both are backward stable here (residuals checked below 1e-12), so the
solutions differ by at most ~cond(A) eps: tolerance 50 cond_1(A) eps.
"""

import math

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from effcoef.kinetic import FourierTables, KineticSpace, coverage_constant
from effcoef.landscape import periodic_landscape
from effcoef.latticelu import LatticeLU, lattice_widths
from effcoef.underdamped import underdamped_coefficients


def _kinetic(U, sector, force, N, K, gamma, theta=1.0):
    land = periodic_landscape(U, 2 * math.pi)
    tab = FourierTables.build(land.U, land.grad, land.period, theta)
    c = coverage_constant(1e-8, 0.0)
    sigma = min(1.0, c / math.sqrt(2 * N + 1)) * math.sqrt(2 * theta)
    space = KineticSpace.make(1, N, (K,), sigma, theta, sector)
    A = (-space.generator(tab, gamma, None if force == 0 else np.array([force]))).tocsr()
    n = space.dof_hermite()[:, 0]
    f = np.concatenate([np.tile(fc, h.size) for h, fc in space.classes])
    # one unknown per lattice node: the mode k in a parity sector, the real index without
    coords = np.stack([n, f if sector[0] == 0 else (f + 1) // 2], axis=1)
    if all(s >= 0 for s in sector):
        # the sector holds the kernel: pin its largest component, as the solver does
        _, _, vt = np.linalg.svd(A.toarray())
        i0 = int(np.argmax(np.abs(vt[-1])))
        keep = np.r_[0:i0, i0 + 1:A.shape[0]]
        A, coords = A[keep][:, keep].tocsr(), coords[keep]
    return A, coords


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 31 - 1), case=st.sampled_from(["even+", "even-"]),
       multi=st.booleans(), leaf=st.sampled_from([40, 128]))
def test_lattice_lu_equals_superlu_on_kinetic_matrices(seed, case, multi, leaf):
    # the parity sectors of an even U without force (where "auto" uses the lattice LU), leaves
    # of 40 and 128 unknowns (the default).  Static pivots can break down elsewhere: with
    # 8-unknown leaves, or without symmetry and with a force (residual O(1e5) seen), which
    # the route catches by its residual check (falling back to SuperLU; "auto" uses the
    # lattice LU only in parity sectors)
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 3.0)
    U = f"{a:.6f}*cos(x)" if not multi else f"{a:.6f}*cos(x) + {rng.uniform(-1, 1):.6f}*cos(2*x)"
    force = 0.0
    sector = (1,) if case == "even+" else (-1,)
    gamma = float(np.exp(rng.uniform(math.log(0.02), math.log(2.0))))
    A, coords = _kinetic(U, sector, force, N=int(rng.integers(20, 60)),
                         K=int(rng.integers(5, 16)), gamma=gamma)
    w = lattice_widths(A, coords)
    # the stencil of the generator: Hermite n +- 2; modes k +- (1 or 2), in real indices 3, 5
    assert w[0] == 2 and w[1] == (2 if multi else 1)
    lu = LatticeLU(A, coords, leaf=leaf)
    ref = spla.splu(A.tocsc(), permc_spec="COLAMD")
    Ad = A.toarray()
    kappa = np.linalg.norm(Ad, 1) * np.linalg.norm(np.linalg.inv(Ad), 1)
    tol = 50 * kappa * np.finfo(float).eps
    R = rng.standard_normal((A.shape[0], 2))
    for trans in ("N", "T"):
        M = A if trans == "N" else A.T
        x = lu.solve(R, trans=trans)
        # no pivoting between fronts: the first residual is not guaranteed (1e-10 seen with
        # 8-unknown leaves and an arbitrary pinned unknown); one step of iterative refinement,
        # as effcoef.underdamped takes above 1e-12, must reach round-off
        assert np.linalg.norm(M @ x - R) <= 1e-8 * np.linalg.norm(R)
        x = x + lu.solve(R - M @ x, trans=trans)
        y = np.column_stack([ref.solve(R[:, j].copy(), trans=trans) for j in range(2)])
        # after it, the route accepts residuals up to 1e-10 (counted in its estimate); seen
        # here: <= 4e-12 (forced, no symmetry, two modes)
        rx = np.linalg.norm(M @ x - R) / np.linalg.norm(R)
        ry = np.linalg.norm(M @ y - R) / np.linalg.norm(R)
        assert rx <= 1e-10 and ry <= 1e-11
        # forward error <= cond x backward error, for both
        assert np.linalg.norm(x - y) <= (tol + kappa * (rx + ry)) * np.linalg.norm(y)
        # one column alone: the same solution within the same bound
        x1 = lu.solve(R[:, 1], trans=trans)
        x1 = x1 + lu.solve(R[:, 1] - M @ x1, trans=trans)
        r1 = np.linalg.norm(M @ x1 - R[:, 1]) / np.linalg.norm(R[:, 1])
        assert np.linalg.norm(x1 - y[:, 1]) <= (tol + kappa * (r1 + ry)) * \
            np.linalg.norm(y[:, 1])


def test_lattice_lu_random_stencil_against_dense():
    # a random matrix with a (2, 1) stencil on a 23 x 9 lattice with holes, against LAPACK
    rng = np.random.default_rng(3)
    ii, jj = np.meshgrid(np.arange(23), np.arange(9), indexing="ij")
    coords = np.stack([ii.ravel(), jj.ravel()], axis=1)
    coords = coords[rng.random(coords.shape[0]) > 0.1]
    n = coords.shape[0]
    d = np.abs(coords[:, None, :] - coords[None, :, :])
    M = rng.standard_normal((n, n)) * ((d[..., 0] <= 2) & (d[..., 1] <= 1))
    M += 4.0 * np.eye(n)
    A = sp.csr_matrix(M)
    lu = LatticeLU(A, coords, leaf=6)
    assert len(lu.nodes) > 10                       # dissected, not one dense front
    r = rng.standard_normal(n)
    assert np.allclose(lu.solve(r), np.linalg.solve(M, r), rtol=1e-12, atol=1e-12)
    assert np.allclose(lu.solve(r, trans="T"), np.linalg.solve(M.T, r), rtol=1e-12, atol=1e-12)


def test_lattice_lu_refuses():
    A = sp.csr_matrix(np.eye(4) + np.eye(4, k=3))
    coords = np.array([[0, 0], [1, 0], [2, 0], [3, 0]])
    with pytest.raises(ValueError):                 # coupling wider than the given stencil
        LatticeLU(A, coords, widths=(1, 1))
    with pytest.raises(MemoryError):
        LatticeLU(A, coords, max_bytes=10.0)
    with pytest.raises(np.linalg.LinAlgError):      # singular: no pivoting between fronts
        LatticeLU(sp.csr_matrix(np.zeros((4, 4))), coords)


@pytest.mark.parametrize("U, gamma, force", [("3*cos(x)", 0.05, 0.0), ("1.5*cos(x)", 0.3, 0.4),
                                             ("2*cos(x) + sin(x)", 0.1, 0.0)])
def test_route_lattice_equals_superlu(U, gamma, force):
    # the whole route with either factorisation: same sizes, D and V to solver round-off
    # (1e-10: residuals ~1e-13 times condition numbers ~1e3 of these solves)
    kw = dict(period=2 * math.pi, force=force, rtol=1e-7)
    rl = underdamped_coefficients(U, 1.0, gamma, linear_solver="lattice", **kw)
    rs = underdamped_coefficients(U, 1.0, gamma, linear_solver="superlu", **kw)
    assert rl.info["solvers_used"] == ["lattice"] and rs.info["solvers_used"] == ["superlu"]
    assert rl.info["hermite_degree"] == rs.info["hermite_degree"]
    assert rl.D == pytest.approx(rs.D, rel=1e-10)
    assert rl.V == pytest.approx(rs.V, rel=1e-10, abs=1e-14)
    assert rl.error_components["linear_solver"] < 1e-11

