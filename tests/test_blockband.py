"""The block-banded LU (effcoef.blockband) against SuperLU / dense LAPACK on the same matrices.

The kinetic matrices are the 1D sector matrices of effcoef.kinetic (Hermite x Fourier) for
random potentials with several Fourier modes, with and without a force, in both reflection
sectors (and without symmetry); the reference is scipy's SuperLU with partial pivoting
(COLAMD), an independent sparse factorisation of the same matrix.  Both are backward stable
here (residuals ~1e-15, checked), so the solutions differ by at most ~cond(A) * eps; the
tolerance is 50 cond_1(A) eps (cond_1 from the dense inverse; 1e3 .. 4e5 at these sizes).
"""

import math

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from effcoef import EffcoefError
from effcoef.blockband import BlockBandedLU, block_banded_memory, level_partition
from effcoef.kinetic import FourierTables, KineticSpace, coverage_constant
from effcoef.landscape import periodic_landscape
from effcoef.underdamped import underdamped_coefficients


def _random_potential(rng, even):
    """sum_k a_k cos(k x) (+ b_k sin(k x) unless even), k = 1..3, random amplitudes."""
    terms = []
    for k in range(1, 4):
        terms.append(f"{rng.uniform(-1.5, 1.5):.6f}*cos({k}*x)")
        if not even:
            terms.append(f"{rng.uniform(-1.0, 1.0):.6f}*sin({k}*x)")
    return " + ".join(terms)


def _sector_matrix(U, sector, force, N=40, K=12, gamma=0.3, theta=1.0):
    land = periodic_landscape(U, 2 * math.pi)
    tab = FourierTables.build(land.U, land.grad, land.period, theta)
    c = coverage_constant(1e-8, (tab.Umax - tab.Umin) / theta)
    sigma = min(1.0, c / math.sqrt(2 * N + 1)) * math.sqrt(2 * theta)
    space = KineticSpace.make(1, N, (K,), sigma, theta, sector)
    A = (-space.generator(tab, gamma, None if force == 0 else np.array([force]))).tocsr()
    level = space.dof_hermite()[:, 0]
    if all(s >= 0 for s in sector):
        # the sector holds the kernel: pin one unknown (as the solver does)
        keep = np.r_[1:A.shape[0]]
        A, level = A[keep][:, keep].tocsr(), level[keep]
    return A, level


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2 ** 31 - 1), forced=st.booleans(),
       case=st.sampled_from(["even+", "even-", "none"]))
def test_block_lu_equals_superlu_on_kinetic_matrices(seed, forced, case):
    rng = np.random.default_rng(seed)
    even = case != "none"
    U = _random_potential(rng, even)
    force = rng.uniform(0.2, 1.0) if forced else 0.0
    # a force breaks the reflection symmetry: the solver then uses no sector
    sector = (0,) if (case == "none" or forced) else ((1,) if case == "even+" else (-1,))
    A, level = _sector_matrix(U, sector, force)
    order, bounds, band = level_partition(A, -level)
    assert band == 2                         # p, d/dp tridiagonal, oscillator pentadiagonal
    Ap = A[order][:, order]
    lu = BlockBandedLU(Ap, bounds, band)
    ref = spla.splu(Ap.tocsc(), permc_spec="COLAMD")
    Ad = Ap.toarray()
    kappa = np.linalg.norm(Ad, 1) * np.linalg.norm(np.linalg.inv(Ad), 1)   # 1-norm condition
    assert kappa < 1e7
    tol = 50 * kappa * np.finfo(float).eps        # forward error <= cond x backward error
    R = rng.standard_normal((A.shape[0], 2))
    for trans in ("N", "T"):
        x = lu.solve(R, trans=trans)
        y = np.column_stack([ref.solve(R[:, j].copy(), trans=trans) for j in range(2)])
        M = Ap if trans == "N" else Ap.T
        assert np.linalg.norm(M @ x - R) <= 1e-12 * np.linalg.norm(R)
        assert np.linalg.norm(x - y) <= tol * np.linalg.norm(y)
        # one vector at a time gives the same as the block of columns
        assert np.allclose(lu.solve(R[:, 0], trans=trans), x[:, 0], rtol=0, atol=1e-13 *
                           np.abs(x).max())


def test_block_lu_generic_band_against_dense():
    # a random diagonally dominant block-pentadiagonal matrix with unequal level sizes,
    # against LAPACK's dense solve
    rng = np.random.default_rng(7)
    sizes = rng.integers(1, 6, 11)
    bounds = np.r_[0, np.cumsum(sizes)]
    n = bounds[-1]
    lev = np.repeat(np.arange(sizes.size), sizes)
    M = rng.standard_normal((n, n))
    M[np.abs(lev[:, None] - lev[None, :]) > 2] = 0.0
    M += 3.0 * n * np.eye(n) * 0.2
    A = sp.csr_matrix(M)
    order, bd, band = level_partition(A, lev)
    assert band == 2 and np.array_equal(bd, bounds) and np.array_equal(order, np.arange(n))
    lu = BlockBandedLU(A, bd, band)
    r = rng.standard_normal(n)
    assert np.allclose(lu.solve(r), np.linalg.solve(M, r), rtol=1e-12, atol=1e-12)
    assert np.allclose(lu.solve(r, trans="T"), np.linalg.solve(M.T, r), rtol=1e-12, atol=1e-12)
    assert lu.memory <= block_banded_memory(sizes, band, A.nnz)


def test_level_partition_refuses_wide_band():
    A = sp.csr_matrix(np.eye(8) + np.eye(8, k=3))
    _, _, band = level_partition(A, np.arange(8), max_band=2)
    assert band is None
    _, _, band = level_partition(A, np.arange(8), max_band=3)
    assert band == 3


def test_singular_block_raises():
    # a zero leading block: no pivoting between levels, so the solver must refuse (the caller
    # falls back to SuperLU)
    A = sp.csr_matrix(np.array([[0.0, 1.0], [1.0, 0.0]]))
    with pytest.raises(np.linalg.LinAlgError):
        BlockBandedLU(A, np.array([0, 1, 2]), 1)


@pytest.mark.parametrize("U, force", [("0.8*cos(x) - 0.5*cos(2*x) + 0.3*sin(3*x)", 0.0),
                                      ("0.8*cos(x) - 0.5*cos(2*x) + 0.3*sin(3*x)", 0.4),
                                      ("1.2*cos(x) + 0.6*cos(2*x)", 0.0)])
def test_linear_solvers_agree_and_within_estimate(U, force):
    # same discretisation, two factorisations: D and V agree to solver round-off; the block
    # result at rtol 1e-7 is within its own estimate of a finer SuperLU reference (N, K x 1.5)
    kw = dict(period=2 * math.pi, force=force)
    rb = underdamped_coefficients(U, 1.0, 0.5, rtol=1e-7, linear_solver="block", **kw)
    assert rb.info["solvers_used"] == ["block"]
    rs = underdamped_coefficients(U, 1.0, 0.5, rtol=1e-7, linear_solver="superlu", **kw)
    assert rs.info["solvers_used"] == ["superlu"]
    assert rs.info["hermite_degree"] == rb.info["hermite_degree"]
    assert rs.info["fourier_modes"] == rb.info["fourier_modes"]
    assert rs.D == pytest.approx(rb.D, rel=1e-10)
    assert rs.V == pytest.approx(rb.V, rel=1e-10, abs=1e-14)
    fine = underdamped_coefficients(U, 1.0, 0.5, rtol=1e-11, linear_solver="block", **kw)
    assert fine.accurate
    assert abs(rb.D - fine.D) / fine.D <= rb.rel_error_estimate + fine.rel_error_estimate
    assert rb.error_components["linear_solver"] < 1e-12


def test_auto_picks_by_fourier_content():
    r1 = underdamped_coefficients("cos(x)", 1.0, 1.0)
    r2 = underdamped_coefficients("cos(x) + 0.5*cos(2*x)", 1.0, 1.0)
    assert r1.info["solvers_used"] == ["superlu"]
    assert r2.info["solvers_used"] == ["block"]
    assert "block-banded" in r2.info["solver"]


def test_bad_linear_solver():
    with pytest.raises(EffcoefError, match="linear_solver"):
        underdamped_coefficients("cos(x)", 1.0, 1.0, linear_solver="umfpack")


def test_bad_block_residual_falls_back_to_superlu(monkeypatch):
    # a block solve that is 0.1 % off: one refinement step leaves a residual ~1e-6 > 1e-10, so
    # the solve is redone with SuperLU; D is then SuperLU's (same discretisation) and the
    # reported linear_solver component is SuperLU's small residual
    import effcoef.blockband as bb
    U = "cos(x) + 0.5*cos(2*x)"
    good = underdamped_coefficients(U, 1.0, 1.0, linear_solver="superlu")
    orig = bb.BlockBandedLU.solve

    def off(self, r, trans="N"):
        return 1.001 * orig(self, r, trans=trans)

    monkeypatch.setattr(bb.BlockBandedLU, "solve", off)
    res = underdamped_coefficients(U, 1.0, 1.0, linear_solver="block")
    assert "superlu" in res.info["solvers_used"]
    assert res.D == pytest.approx(good.D, rel=1e-12)
    assert res.error_components["linear_solver"] < 1e-12
