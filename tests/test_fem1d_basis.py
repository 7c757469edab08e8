"""effcoef.fem1d uses no private third-party function on its numerical path.

* The hierarchical basis (``fem1d.integrated_legendre``) is checked against scikit-fem's
  ``ElementLinePp(p)`` through its public ``lbasis`` (and, in test_solver_1d.py, the assembled
  matrices against scikit-fem's ``BilinearForm.assemble``).
* The banded product's fast path (scipy's private compiled CSR kernel, self-checked at import)
  is compared with the public fallback ``csr_matrix @ x`` that is used when the kernel is
  missing: forced here by monkeypatching.
"""

import numpy as np
import pytest
from skfem import ElementLinePp

import effcoef
import potentials
from effcoef import fem1d


@pytest.mark.parametrize("p", [1, 2, 3, 8, 10, 12])
def test_integrated_legendre_matches_scikit_fem(p):
    y = np.concatenate([[0.0, 1.0], np.linspace(0, 1, 37), fem1d.gauss_rule(p + 3)[0]])
    P, dP = fem1d.integrated_legendre(y, p)
    el = ElementLinePp(p) if p >= 3 else None
    for i in range(p + 1):
        if el is None:
            break
        v, dv = el.lbasis(y[None, :], i)            # public API: values and reference gradient
        np.testing.assert_allclose(P[i], v, rtol=0, atol=2e-15 * p)
        np.testing.assert_allclose(dP[i], dv[0], rtol=0, atol=4e-14 * p * p)
    # partition of unity of the vertex functions, bubbles vanish exactly at the vertices
    np.testing.assert_array_equal(P[0] + P[1], 1.0)
    assert np.all(P[2:, :2] == 0.0)
    # derivative tables are the derivatives (central differences, O(h^2) = 1e-10 * p^4)
    h = 1e-5
    z = np.linspace(0.1, 0.9, 9)
    fd = (fem1d.integrated_legendre(z + h, p)[0] - fem1d.integrated_legendre(z - h, p)[0]) / (2 * h)
    np.testing.assert_allclose(fem1d.integrated_legendre(z, p)[1], fd, rtol=0,
                               atol=1e-8 * max(1, p) ** 2)


def test_integrated_legendre_rejects_degree_zero():
    with pytest.raises(ValueError):
        fem1d.integrated_legendre(np.zeros(2), 0)


def test_csr_kernel_self_check_and_fallback_agree(monkeypatch):
    """Whatever scipy provides, the fast and the public product give the same numbers, and a
    whole solve is unchanged when the private kernel is unavailable."""
    rng = np.random.default_rng(0)
    n, u = 353, 8
    M = fem1d.BandedSym(rng.standard_normal((u + 1, n)))
    x = rng.standard_normal(n)
    fast = M @ x
    pot = potentials.case_a(10)
    r_fast = effcoef.coefficients(pot)
    monkeypatch.setattr(fem1d, "_csr_matvec", None)
    slow = fem1d.BandedSym(M.ab) @ x
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-13 * np.abs(slow).max())
    r_slow = effcoef.coefficients(pot)
    assert r_slow.D == pytest.approx(r_fast.D, rel=1e-13)
    assert r_slow.K == pytest.approx(r_fast.K, rel=1e-13)
    np.testing.assert_allclose(r_slow.eigenvalues, r_fast.eigenvalues, rtol=1e-12, atol=1e-14)


def test_fast_kernel_is_in_use_or_reported():
    """Records whether scipy still has the private kernel (else the public path is used and
    the 1D solve is ~6% slower: look at benchmarks/bench_paper_config.py)."""
    if fem1d._csr_matvec is None:                      # pragma: no cover - future scipy
        pytest.skip("scipy.sparse._sparsetools.csr_matvec unavailable: public fallback in use")
    assert callable(fem1d._csr_matvec)
