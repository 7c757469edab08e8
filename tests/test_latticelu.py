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
from effcoef.latticelu import BorderedLatticeLU, LatticeLU, lattice_widths, nested_dissection_order
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
    # an even U without force: the Fourier-refined solve reuses the base factors (bordered)
    bordered = force == 0.0 and "sin" not in U
    assert rl.info["solvers_used"] == (["bordered", "lattice"] if bordered else ["lattice"])
    assert rs.info["solvers_used"] == ["superlu"]
    assert rl.info["hermite_degree"] == rs.info["hermite_degree"]
    # the Fourier-refined values (the bordered solve where it was taken) agree as well
    assert rl.info["D_refined_K"] == pytest.approx(rs.info["D_refined_K"], rel=1e-10)
    assert rl.D == pytest.approx(rs.D, rel=1e-10)
    assert rl.V == pytest.approx(rs.V, rel=1e-10, abs=1e-14)
    assert rl.error_components["linear_solver"] < 1e-11


def _grown(U, N, K, K2, gamma, sector=(-1,)):
    """The kinetic matrix on K2 > K modes, the base one on K, and where the base sits in it."""
    A, ca = _kinetic(U, sector, 0.0, N, K, gamma)
    M, cm = _kinetic(U, sector, 0.0, N, K2, gamma)
    pos = {(int(a), int(b)): i for i, (a, b) in enumerate(cm)}
    base = np.array([pos[(int(a), int(b))] for a, b in ca])
    return A, ca, M, cm, base


def _solves_like_superlu(M, solver, rng):
    """Solve two random right-hand sides with ``solver`` and with SuperLU (COLAMD): both
    residuals small, and the solutions equal within the forward-error bound
    (50 kappa eps + kappa (rx + ry)), kappa the 1-norm condition number.  Returns (R, x)."""
    Md = M.toarray()
    kappa = np.linalg.norm(Md, 1) * np.linalg.norm(np.linalg.inv(Md), 1)
    R = rng.standard_normal((M.shape[0], 2))
    x = solver.solve(R)
    y = spla.splu(M.tocsc(), permc_spec="COLAMD").solve(R)
    rx = np.linalg.norm(M @ x - R) / np.linalg.norm(R)
    ry = np.linalg.norm(M @ y - R) / np.linalg.norm(R)
    assert rx <= 1e-10 and ry <= 1e-11
    assert np.linalg.norm(x - y) <= (50 * kappa * np.finfo(float).eps + kappa * (rx + ry)) \
        * np.linalg.norm(y)
    return R, x


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 31 - 1), sector=st.sampled_from([(1,), (-1,)]))
def test_bordered_lattice_lu_equals_superlu(seed, sector):
    # more Fourier modes: the grown matrix contains the base one as its principal submatrix
    # (a Galerkin basis), and for a single-mode U' the new modes couple to the base ones only
    # through the last base mode; the bordered solve (base factors with that mode as the
    # root, the new modes factorised alone, the dense system on the two roots) against
    # SuperLU/COLAMD on the grown matrix, an independent factorisation: forward error
    # <= cond x backward error, as above
    rng = np.random.default_rng(seed)
    U = f"{rng.uniform(0.5, 4.0):.6f}*cos(x)"
    gamma = float(np.exp(rng.uniform(math.log(0.01), math.log(1.0))))
    N, K = int(rng.integers(20, 60)), int(rng.integers(5, 14))
    K2 = K + int(rng.integers(2, 8))          # (one new mode alone: no interior, refused)
    A, ca, M, cm, base = _grown(U, N, K, K2, gamma, sector)
    if sector == (1,):
        # the all-even sector holds the kernel: pin the same unknown in both (the route uses
        # the bordered solve only without a kernel; the algebra does not care)
        i0 = int(np.argmin(np.abs(cm[:, 0]) + np.abs(cm[:, 1])))
        keepM = np.r_[0:i0, i0 + 1:M.shape[0]]
        ib = int(np.flatnonzero(base == i0)[0])
        keepA = np.r_[0:ib, ib + 1:A.shape[0]]
        A, ca = A[keepA][:, keepA].tocsr(), ca[keepA]
        M, cm = M[keepM][:, keepM].tocsr(), cm[keepM]
        base = np.searchsorted(keepM, base[keepA])
    assert abs(M[base][:, base] - A).max() == 0.0
    lu = LatticeLU(A, ca, leaf=40, last=ca[:, 1] == K)
    # the rooted factorisation still solves A (its root is factorised too)
    r = rng.standard_normal(A.shape[0])
    xa = lu.solve(r)
    assert np.linalg.norm(A @ xa - r) <= 1e-10 * np.linalg.norm(r)
    new = np.setdiff1d(np.arange(M.shape[0]), base)
    bl = BorderedLatticeLU(M, base, lu, cm[new], cm[new, 1] == K + 1, leaf=40)
    R, x = _solves_like_superlu(M, bl, rng)
    x1 = bl.solve(R[:, 1])
    assert np.allclose(x1, x[:, 1], rtol=0, atol=1e-12 * np.abs(x).max())


def test_bordered_lattice_lu_refuses():
    # two Fourier modes in U': the new modes couple to two base modes, not only the root
    A, ca, M, cm, base = _grown("2*cos(x) + 0.5*cos(2*x)", 30, 8, 11, 0.1)
    lu = LatticeLU(A, ca, last=ca[:, 1] == 8)
    new = np.setdiff1d(np.arange(M.shape[0]), base)
    with pytest.raises(ValueError):
        BorderedLatticeLU(M, base, lu, cm[new], cm[new, 1] == 9)
    with pytest.raises(ValueError):                 # base factors without a root
        BorderedLatticeLU(M, base, LatticeLU(A, ca), cm[new], cm[new, 1] == 9)
    with pytest.raises(ValueError):                 # forward/backward need a root
        LatticeLU(A, ca).forward(np.ones(A.shape[0]))
    with pytest.raises(ValueError):
        LatticeLU(A, ca, last=np.ones(A.shape[0], dtype=bool))


def test_nested_dissection_order_for_superlu():
    # the lattice's dissection order as SuperLU's column order (NATURAL on the permuted
    # matrix, no pivoting: what effcoef.underdamped uses) against SuperLU/COLAMD with partial
    # pivoting on the original matrix: both backward stable here, forward error <= cond x eps
    A, coords = _kinetic("3*cos(x)", (-1,), 0.0, 50, 14, 0.05)
    perm = nested_dissection_order(A, coords)
    assert np.array_equal(np.sort(perm), np.arange(A.shape[0]))
    P = A[perm][:, perm].tocsc()
    lu = spla.splu(P, permc_spec="NATURAL", diag_pivot_thresh=0.0,
                   options={"SymmetricMode": True})
    r = np.random.default_rng(5).standard_normal(A.shape[0])
    x = np.empty_like(r)
    x[perm] = lu.solve(r[perm])
    y = spla.splu(A.tocsc(), permc_spec="COLAMD").solve(r)
    Ad = A.toarray()
    kappa = np.linalg.norm(Ad, 1) * np.linalg.norm(np.linalg.inv(Ad), 1)
    assert np.linalg.norm(A @ x - r) <= 1e-11 * np.linalg.norm(r)
    assert np.linalg.norm(x - y) <= 100 * kappa * np.finfo(float).eps * np.linalg.norm(y)
    # the route's SuperLU uses this order (and checks it): same D as the block-banded LU
    kw = dict(period=2 * math.pi, rtol=1e-7)
    rs = underdamped_coefficients("3*cos(x)", 1.0, 0.05, linear_solver="superlu", **kw)
    rb = underdamped_coefficients("3*cos(x)", 1.0, 0.05, linear_solver="block", **kw)
    assert rs.info["solvers_used"] == ["superlu"] and rb.info["solvers_used"] == ["block"]
    assert rs.D == pytest.approx(rb.D, rel=1e-10)


def _kinetic_sigma(U, sector, N, K, gamma, sigma, theta=1.0):
    land = periodic_landscape(U, 2 * math.pi)
    tab = FourierTables.build(land.U, land.grad, land.period, theta)
    space = KineticSpace.make(1, N, (K,), sigma, theta, sector)
    A = (-space.generator(tab, gamma, None)).tocsr()
    n = space.dof_hermite()[:, 0]
    f = np.concatenate([np.tile(fc, h.size) for h, fc in space.classes])
    return A, np.stack([n, (f + 1) // 2], axis=1)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 31 - 1))
def test_bordered_lattice_lu_in_the_hermite_degree(seed):
    # more Hermite degrees at the same scale sigma: the grown matrix contains the base one as
    # its principal submatrix (the Hermite operators are the exact ones restricted to the
    # span), and the new degrees couple to the base through the top two (the oscillator
    # couples n +- 2).  Base factors rooted on the last Fourier mode AND the top Hermite
    # degrees (the route's base for both refined solves); the new block factorised ahead
    # (lu_new, as on the second thread); against SuperLU/COLAMD on the grown matrix
    rng = np.random.default_rng(seed)
    U = f"{rng.uniform(0.5, 4.0):.6f}*cos(x)"
    gamma = float(np.exp(rng.uniform(math.log(0.01), math.log(1.0))))
    N, K = int(rng.integers(20, 60)), int(rng.integers(5, 14))
    N2 = N + int(rng.integers(3, 12))         # (the root takes two degrees: three at least)
    sigma = 0.5 * math.sqrt(2.0)
    A, ca = _kinetic_sigma(U, (-1,), N, K, gamma, sigma)
    M, cm = _kinetic_sigma(U, (-1,), N2, K, gamma, sigma)
    pos = {(int(a), int(b)): i for i, (a, b) in enumerate(cm)}
    base = np.array([pos[(int(a), int(b))] for a, b in ca])
    assert abs(M[base][:, base] - A).max() == 0.0
    root = (ca[:, 1] == K) | (ca[:, 0] >= N - 1)
    lu = LatticeLU(A, ca, leaf=40, last=root)
    new = np.setdiff1d(np.arange(M.shape[0]), base)
    last_new = cm[new, 0] <= N + 2
    ahead = LatticeLU(M[new][:, new], cm[new], leaf=40, last=last_new)
    bl = BorderedLatticeLU(M, base, lu, cm[new], last_new, lu_new=ahead)
    _solves_like_superlu(M, bl, rng)
    # the factors given ahead must have the stated root
    with pytest.raises(ValueError):
        BorderedLatticeLU(M, base, lu, cm[new], cm[new, 0] <= N + 1, lu_new=ahead)
