"""Deep in the tunnelling regime (issue 3): relative accuracy does not degrade as lambda_1 -> 0.

References: the log-space quadrature formulas (effcoef.reference.quadrature, independent of the FE and
eigensolver code; itself checked against mpmath at these parameters in test_quadrature.py)
and the Eyring-Kramers asymptotics (effcoef.reference.asymptotics).  Tolerance 1e-8 as asked; the
solver reaches ~1e-12 here, so the margin is 4 digits.
"""

import numpy as np
import pytest

import effcoef
import potentials as P
from effcoef.reference.asymptotics import eyring_kramers
from effcoef.reference.quadrature import quadrature_coefficients


def rel(a, b):
    return abs(a - b) / abs(b)


DEEP = [("A", g) for g in (100, 200, 500, 1000)] + [("B", g) for g in (7, 10, 15, 18)]


@pytest.mark.parametrize("case,gamma", DEEP)
def test_deep_tunnelling_against_quadrature(case, gamma):
    pot = P.paper_family(case, gamma)
    res = effcoef.coefficients(pot, rtol=1e-9)
    ref = quadrature_coefficients(pot, pot.theta)
    assert np.isfinite(res.D) and res.eigenvalues[1] > 0
    assert rel(res.D, ref.D) <= 1e-8, (res.D, ref.D)
    assert rel(res.K, ref.K) <= 1e-8
    assert res.accurate and res.rel_error_estimate <= 1e-9
    # D ~ eta_1^2 / lambda_1: the whole coefficient rides on the tunnelling mode
    assert rel(res.eta[1] ** 2 / res.eigenvalues[1], res.D) <= 1e-3


@pytest.mark.parametrize("gamma", [1, 5, 10, 25])
def test_case_c_delta_sweep(gamma):
    """Case C for delta in [0, 10]: delta = 0 is the symmetric Case A (odd-sector path), small
    delta a nearly symmetric tilted well (full-line path with the kernel projected out)."""
    for delta in (0.0, 0.01, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0):
        pot = P.case_c(gamma, delta)
        res = effcoef.coefficients(pot, rtol=1e-9)
        ref = quadrature_coefficients(pot, pot.theta)
        assert rel(res.D, ref.D) <= 1e-8, (gamma, delta, res.D, ref.D)
        assert rel(res.K, ref.K) <= 1e-8, (gamma, delta)
        assert abs(res.V - ref.V) <= 1e-10 * (1 + abs(ref.V))


def test_starved_tunnelling_warns_not_silent():
    """Far too coarse in the tunnelling regime: the estimate must flag it."""
    pot = P.case_a(500)
    ref = quadrature_coefficients(pot, pot.theta)
    with pytest.warns(effcoef.AccuracyWarning):
        res = effcoef.coefficients(pot, degree=2, h_scale=30.0, rtol=1e-8)
    err = max(rel(res.D, ref.D), rel(res.K, ref.K))
    assert err > 1e-8                       # it really is inaccurate ...
    assert res.rel_error_estimate >= 0.1 * err   # ... and the estimate says so
    with pytest.raises(effcoef.AccuracyError):
        effcoef.coefficients(pot, degree=2, h_scale=30.0, rtol=1e-8, strict=True)


def test_eyring_kramers_ratio_tends_to_one_case_a():
    """lambda_1 / lambda_EK -> 1 with an O(theta) correction (theta = 1/gamma)."""
    ratios = []
    for gamma in (50, 100, 200, 500, 1000):
        pot = P.case_a(gamma)
        lam1 = effcoef.coefficients(pot).eigenvalues[1]
        ratios.append(lam1 / eyring_kramers(pot, pot.theta).lam1)
        assert abs(1 - ratios[-1]) <= 2.0 / gamma
    assert np.all(np.diff(np.abs(1 - np.array(ratios))) < 0)


def test_eyring_kramers_case_b_degenerate_saddle():
    """Case B's barrier top is W(0) - W ~ sqrt(gamma)|v|^3/3 (cubic): the Laplace integral
    uses the cubic law, and the ratio still tends to 1."""
    errs = []
    for gamma in (7, 10, 15, 18):
        pot = P.case_b(gamma)
        ek = eyring_kramers(pot, pot.theta)
        assert ek.saddle_exponent == 3.0
        errs.append(abs(1 - effcoef.coefficients(pot).eigenvalues[1] / ek.lam1))
    assert np.all(np.diff(errs) < 0) and errs[-1] < 0.03


def test_lambda1_relative_accuracy_two_discretisations():
    """lambda_1 ~ 1e-109 at gamma = 1000: two different meshes/degrees agree to 1e-10
    (relative), i.e. the tunnelling eigenvalue is computed, not rounded to 0."""
    pot = P.case_a(1000)
    a = effcoef.coefficients(pot, degree=8, h_scale=1.5).eigenvalues[1]
    b = effcoef.coefficients(pot, degree=12, h_scale=1.0).eigenvalues[1]
    assert 1e-110 < a < 1e-108
    assert rel(a, b) <= 1e-10


def test_barrier_beyond_double_range_is_an_error():
    """exp(-Delta W / theta) below 1e-300: the weights underflow; say so instead of a wrong D."""
    pot = P.case_a(4000)       # Delta W / theta = 1000
    with pytest.raises(effcoef.EffcoefError, match="underflow"):
        effcoef.coefficients(pot)


@pytest.mark.filterwarnings("ignore::effcoef.AccuracyWarning")   # 8 modes: D, K truncated
@pytest.mark.parametrize("case,gamma", [("B", 15), ("A", 1000)])
def test_barrier_states_not_lost_deep_tunnelling(case, gamma):
    """States localised at the barrier top, where M ~ e^-250, are part of the spectrum
    (found by the diagonally scaled Lanczos).  Reference: second-order finite differences
    for H = -theta d^2 + Phi on a fine grid (O(h^2) ~ 1e-6 relative), eigenvalues above the
    tunnelling pair."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import eigsh

    from effcoef.operator import schrodinger_potential
    pot = P.paper_family(case, gamma)
    th = pot.theta
    res = effcoef.coefficients(pot, full_spectrum=True, n_modes=8)
    mi = pot.mass_interval(th, 45.0)
    x = np.linspace(mi.a, mi.b, 40001)[1:-1]
    h = x[1] - x[0]
    main = 2 * th / h ** 2 + schrodinger_potential(pot, th, x)
    H = sp.diags([main, -th / h ** 2 * np.ones(len(x) - 1), -th / h ** 2 * np.ones(len(x) - 1)],
                 [0, 1, -1], format="csc")
    fd = np.sort(eigsh(H, k=8, sigma=0.5, which="LM", return_eigenvectors=False))
    fd = fd[fd > 0.5][:4]
    ours = res.eigenvalues[res.eigenvalues > 0.5][:4]
    np.testing.assert_allclose(ours, fd, rtol=1e-4)
