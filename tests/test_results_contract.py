"""One result contract on every route (effcoef.results): shapes, completed vs series values,
eigenfunctions, to_dict, and options a route does not use are rejected.

References: the Ornstein-Uhlenbeck closed forms (D = theta I, K = I, spectrum of the l = 1
channel 1, 3, 5, ... with multiplicity d), an independent fine-grid quadrature for the
orthonormality of the eigenfunctions.
"""

import json

import numpy as np
import pytest

import effcoef
import potentials as P


def _routes():
    return {
        "1d-symmetric": (P.case_a(5), None),
        "1d-tilted": (P.case_c(5, 2), None),
        "radial-2": (P.ornstein_uhlenbeck_nd(2), 0.7),
        "radial-3": (P.swarming(2, 3, rescaled=True), None),
    }


@pytest.mark.parametrize("name", list(_routes()))
def test_shapes_and_series(name):
    pot, theta = _routes()[name]
    res = effcoef.coefficients(pot, theta)
    d = res.dim
    n = res.n_modes
    assert res.eigenvalues.shape == (n + 1,)
    if d == 1:
        assert isinstance(res.D, float) and isinstance(res.K, float) and isinstance(res.V, float)
        assert res.eta.shape == res.omega.shape == res.D_partial.shape == (n + 1,)
    else:
        assert res.D.shape == res.K.shape == res.K_cov.shape == (d, d) and res.V.shape == (d,)
        assert res.eta.shape == res.omega.shape == (n + 1, d)
        assert res.D_partial.shape == (n + 1, d, d)
    # the series is the same formula on every route: D^N = sum eta (x) eta / lambda
    lam, eta, om = res.eigenvalues[1:], res.eta[1:], res.omega[1:]
    if d == 1:
        D_N, K_N = np.sum(eta * eta / lam), np.sum(eta * om / lam)
    else:
        D_N = np.einsum("ki,kj,k->ij", eta, eta, 1 / lam)
        K_N = np.einsum("ki,kj,k->ij", eta, om, 1 / lam)
    np.testing.assert_allclose(D_N, res.D_series, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(K_N, res.K_series, rtol=1e-12, atol=1e-300)
    assert res.D_is == "completed"
    # the completed value and the (default-length) series agree to the series truncation
    assert res.series_truncation < 1e-3
    assert res.eigenvalue_errors.shape == (n + 1,)
    assert res.accurate and res.rel_error_estimate <= res.rtol
    json.dumps(res.to_dict())                    # JSON-ready, no NaN tokens needed


@pytest.mark.parametrize("dim", [2, 3])
def test_radial_ou_closed_forms_and_multiplicity(dim):
    theta = 0.7
    res = effcoef.coefficients(P.ornstein_uhlenbeck_nd(dim), theta)
    np.testing.assert_allclose(res.D, theta * np.eye(dim), rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(res.K, np.eye(dim), rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(res.eigenvalues[1:2 * dim + 1], np.repeat([1.0, 3.0], dim),
                               rtol=1e-10)


def test_eigenfunctions_radial_orthonormal_2d():
    """Psi_0 = sqrt(M) and Psi_{k,i} = sqrt(2) sqrt(M) g_k v_i / r: orthonormal in L^2(R^2),
    checked by a tensor trapezoid rule on a 601^2 grid (error ~1e-6 for these smooth modes)."""
    theta = 0.7
    res = effcoef.coefficients(P.ornstein_uhlenbeck_nd(2), theta, n_modes=2)
    x = np.linspace(-res.domain[1], res.domain[1], 601)
    X, Y = np.meshgrid(x, x, indexing="ij")
    psi = res.eigenfunctions(np.array([X.ravel(), Y.ravel()]))
    h = x[1] - x[0]
    G = psi @ psi.T * h * h
    np.testing.assert_allclose(G, np.eye(len(psi)), atol=2e-6)
    M = np.exp(-(X**2 + Y**2) / (2 * theta)) / (2 * np.pi * theta)
    np.testing.assert_allclose(psi[0], np.sqrt(M.ravel()), atol=1e-10)


def test_to_dict_keys_match_the_cli():
    res = effcoef.coefficients(P.case_a(10))
    d = res.to_dict()
    for key in ("D", "K", "V", "eigenvalues", "eta", "omega", "D_partial", "K_partial",
                "rel_error_estimate", "error_components", "error_method", "accurate",
                "D_series", "K_series", "D_is", "dim", "theta", "potential"):
        assert key in d
    assert d["D"] == res.D and d["accurate"] is True and d["dim"] == 1


@pytest.mark.parametrize("pot,kw", [
    (P.swarming(2, 2, rescaled=True), {"domain": (0, 1)}),
    (P.swarming(2, 2, rescaled=True), {"n_elements": 3}),
    (P.swarming(2, 2, rescaled=True), {"full_spectrum": True}),
    (P.case_a(2), {"intorder": 21}),
    (P.case_a(2), {"method": "schrodinger", "h_scale": 1.0}),
    (P.case_a(2), {"method": "schrodinger", "eigensolver": "arpack"}),
])
def test_unused_options_rejected(pot, kw):
    with pytest.raises(effcoef.EffcoefError, match="not used by the"):
        effcoef.coefficients(pot, **kw)


def test_schrodinger_degree_is_honoured():
    """The paper's configuration with an explicit degree runs that degree (it used to switch
    8 -> 10 silently)."""
    res = effcoef.coefficients(P.case_a(1), method="schrodinger", degree=8, n_elements=100)
    assert res.info["degree"] == 8 and res.D_is == "series"
