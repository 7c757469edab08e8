"""Velocity dimension 2 and 3 (issue 4).

References: closed forms (OU), the 1D quadrature formulas for separable and rotated
separable potentials (D = R diag(D_1, D_2) R^T exactly), the exact identity
K = Cov_M(v)/theta, and two independent routes for radial potentials (the l = 1 radial
reduction vs full 2D finite elements).  Tolerances: radial routes reach ~1e-13 on OU
(1e-11 asked); the 2D FE defaults target 1e-6 (issue) and reach ~1e-8 on these cases,
so 1e-6 leaves margin and still fails on any structural error (a wrong channel, a missing
V shift, a transposed K).
"""

import json

import numpy as np
import pytest

import effcoef
import potentials as P
from effcoef.cli import main as cli_main
from effcoef.reference.quadrature import quadrature_coefficients


def relmat(A, B):
    return float(np.linalg.norm(A - B) / np.linalg.norm(B))


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("theta", [0.4, 1.0])
def test_ou_radial(dim, theta):
    res = effcoef.coefficients(P.ornstein_uhlenbeck_nd(dim), theta)
    assert relmat(res.D, theta * np.eye(dim)) <= 1e-11
    assert relmat(res.K, np.eye(dim)) <= 1e-11
    # l = 1 channel of the d-dim OU operator: eigenvalues 1, 3, 5, ..., each listed d times
    # (one mode per direction, the result contract)
    np.testing.assert_allclose(res.eigenvalues[1:3 * dim + 1], np.repeat([1, 3, 5], dim),
                               rtol=1e-10)
    # D^N = sum eta (x) eta / lambda with the listed modes: the first triple gives D exactly
    np.testing.assert_allclose(res.D_partial[dim], theta * np.eye(dim), rtol=1e-11, atol=1e-14)
    assert res.accurate


def test_ou_2d_finite_elements():
    res = effcoef.coefficients(P.ornstein_uhlenbeck_nd(2).as_cartesian(), 0.5)
    err = max(relmat(res.D, 0.5 * np.eye(2)), relmat(res.K, np.eye(2)))
    assert err <= 1e-6
    assert res.rel_error_estimate >= 0.1 * err          # the estimate is not optimistic
    assert np.abs(res.V).max() <= 1e-10


def test_separable_gives_diagonal_1d_values():
    """W = W_1(v1) + W_2(v2), W_1 tilted (V_1 != 0): D = diag(D_1, D_2) with the 1D values."""
    th = 0.25
    p1, p2 = P.case_c(4, 1.0), P.from_expression("v**2/2 + v**4/8")
    res = effcoef.coefficients(P.separable(p1, p2), th)
    q1, q2 = quadrature_coefficients(p1, th), quadrature_coefficients(p2, th)
    assert relmat(res.D, np.diag([q1.D, q2.D])) <= 1e-6
    assert relmat(res.K, np.diag([q1.K, q2.K])) <= 1e-6
    np.testing.assert_allclose(res.V, [q1.V, q2.V], atol=1e-9)
    assert abs(res.D[0, 1]) <= 1e-9 * res.D[0, 0]


def test_rotated_separable_gives_rotated_matrices():
    th = 0.25
    p1, p2 = P.case_c(4, 1.0), P.from_expression("v**2/2 + v**4/8")
    a = 0.4
    R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    res = effcoef.coefficients(P.rotated(P.separable(p1, p2), R), th)
    q1, q2 = quadrature_coefficients(p1, th), quadrature_coefficients(p2, th)
    assert relmat(res.D, R @ np.diag([q1.D, q2.D]) @ R.T) <= 1e-6
    assert relmat(res.K, R @ np.diag([q1.K, q2.K]) @ R.T) <= 1e-6
    np.testing.assert_allclose(res.V, R @ np.array([q1.V, q2.V]), atol=1e-9)
    assert relmat(res.K, res.K_cov) <= 1e-6          # K = Cov_M(v) / theta
    assert res.accurate


@pytest.mark.parametrize("a", [0.4, 1.0, -0.3])
def test_principal_frame_finds_the_rotation(a):
    """The mesh frame minimising the tensor-mesh element count is the separable frame
    (W(R_b y) separable for b = a mod pi/2, to the 1 degree search grid); none is chosen for
    an axis-aligned or an isotropic (swarming ring) potential."""
    from effcoef.fem2d import principal_frame
    th = 0.25
    p1, p2 = P.case_c(4, 1.0), P.from_expression("v**2/2 + v**4/8")
    R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    pot = P.rotated(P.separable(p1, p2), R)
    F = principal_frame(pot, th, pot.mass_box(th, 30.0))
    assert F is not None and abs(np.linalg.det(F) - 1) < 1e-12
    b = np.arctan2(F[1, 0], F[0, 0])
    d = (b - a + np.pi / 4) % (np.pi / 2) - np.pi / 4           # angle difference mod 90 deg
    assert abs(d) <= np.deg2rad(2.5)
    sep = P.separable(p1, p2)
    assert principal_frame(sep, th, sep.mass_box(th, 30.0)) is None
    ring = P.swarming(1, 2, rescaled=True).as_cartesian()
    assert principal_frame(ring, 1.0, ring.mass_box(1.0, 30.0)) is None


def test_diagonal_valley_turned_frame():
    """Anisotropic M along the diagonal (variances ~1 and ~0.01 at 45 degrees): meshed in the
    turned frame (64 elements, ~1 s; 1764 elements and ~35 s in the coordinate axes) against
    the rotated 1D quadrature values."""
    th = 0.5
    p1, p2 = P.from_expression("v**2/2"), P.from_expression("20*v**2 + v**4")
    a = np.pi / 4
    R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    res = effcoef.coefficients(P.rotated(P.separable(p1, p2), R), th)
    q1, q2 = quadrature_coefficients(p1, th), quadrature_coefficients(p2, th)
    assert res.info["frame"] is not None and res.info["n_elements"] <= 200
    assert relmat(res.D, R @ np.diag([q1.D, q2.D]) @ R.T) <= 1e-6
    assert relmat(res.K, R @ np.diag([q1.K, q2.K]) @ R.T) <= 1e-6
    assert np.abs(res.V).max() <= 1e-9 and res.accurate


@pytest.mark.slow
@pytest.mark.parametrize("frame", ["auto", "axes"])
def test_rotated_separable_one_radian(frame):
    """Separable potential turned by 1 rad, in the turned frame and in the coordinate axes,
    against the rotated 1D quadrature values.  In the coordinate axes the box corners hold
    elements across which m varies by hundreds of orders of magnitude: before dofs with
    B_ii < e^-2tail max B_ii were dropped they gave spurious Ritz values at -shift (no result
    after 20 minutes)."""
    from effcoef.fem2d import fe2d_coefficients
    th = 0.25
    p1, p2 = P.case_c(4, 1.0), P.from_expression("v**2/2 + v**4/8")
    a = 1.0
    R = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    pot = P.rotated(P.separable(p1, p2), R)
    q1, q2 = quadrature_coefficients(p1, th), quadrature_coefficients(p2, th)
    res = fe2d_coefficients(pot, th, frame=frame)
    assert (res.info["frame"] is not None) == (frame == "auto")
    assert relmat(res.D, R @ np.diag([q1.D, q2.D]) @ R.T) <= 1e-6
    assert relmat(res.K, R @ np.diag([q1.K, q2.K]) @ R.T) <= 1e-6
    np.testing.assert_allclose(res.V, R @ np.array([q1.V, q2.V]), atol=1e-9)
    assert relmat(res.D_partial[-1], res.D) <= 1e-14 and res.rel_error_estimate <= 1e-6


@pytest.mark.parametrize("gamma", [1, 5])
def test_swarming_radial_vs_2d_fe(gamma):
    """Paper 004 (2.1), rescaled: W = |v|^4/4 - |v|^2/2, theta = 1/gamma.  Two routes."""
    rad = P.swarming(gamma, 2, rescaled=True)
    r1 = effcoef.coefficients(rad, rtol=1e-10)
    r2 = effcoef.coefficients(rad.as_cartesian(), rad.theta)
    assert relmat(r2.D, r1.D) <= 1e-6 and relmat(r2.K, r1.K) <= 1e-6
    assert relmat(r1.K, r1.K_cov) <= 1e-10
    # the radial result is isotropic by construction; the 2D one by computation
    assert abs(r2.D[0, 1]) <= 1e-8 * r2.D[0, 0]


@pytest.mark.parametrize("dim", [2, 3])
def test_swarming_original_variables_scaling(dim):
    """v = sqrt(gamma) v~: D scales by gamma, K is invariant (as in 1D)."""
    g = 3.0
    r_o = effcoef.coefficients(P.swarming(g, dim, rescaled=False), 1.0, rtol=1e-10)
    r_r = effcoef.coefficients(P.swarming(g, dim, rescaled=True), rtol=1e-10)
    assert relmat(r_o.D, g * r_r.D) <= 1e-10 and relmat(r_o.K, r_r.K) <= 1e-10


def test_radial_convergence_in_N():
    res = effcoef.coefficients(P.swarming(5, 3, rescaled=True), n_modes=30)
    e = np.abs(res.D_partial[1:, 0, 0] - res.D_inf[0, 0]) / res.D_inf[0, 0]
    assert e[-1] <= 1e-12 and e[9] <= 1e-3 * e[1]


def test_three_dimensional_non_radial_is_refused():
    pot = P.from_expression_nd("v1**2/2 + v2**2/2 + v3**4/4", 3)
    with pytest.raises(effcoef.EffcoefError, match="dimension 2 only"):
        effcoef.coefficients(pot, 1.0)


def test_cli_dim2_json(capsys):
    code = cli_main(["coefficients", "--dim", "2", "--potential",
                     "(v1**2 + v2**2)**2/4 - (v1**2 + v2**2)/2", "--theta", "1", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    ref = effcoef.coefficients(P.swarming(1, 2, rescaled=True))
    assert np.asarray(data["D"]).shape == (2, 2) and np.asarray(data["K"]).shape == (2, 2)
    assert relmat(np.asarray(data["D"]), ref.D) <= 1e-6


def test_cli_radial_dim3_json(capsys):
    code = cli_main(["coefficients", "--dim", "3", "--radial", "r**2/2", "--theta", "0.3",
                     "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    np.testing.assert_allclose(data["D"], 0.3 * np.eye(3), rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(data["K"], np.eye(3), rtol=1e-11, atol=1e-14)


def test_cli_dim_errors(capsys):
    assert cli_main(["coefficients", "--dim", "2", "--potential", "v1**2 + v3**2",
                     "--theta", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "v3" in err[0]
    assert cli_main(["coefficients", "--dim", "4", "--radial", "r**2", "--theta", "1"]) == 2
