"""The periodic homogenisation route (effcoef.periodic) against independent references.

References: the closed forms (Lifson-Jackson, Reimann et al.: effcoef.reference.periodic, log
space, never importing the solver), the exact Bessel value for the cosine, a second
discretisation of a different kind (Fourier Galerkin: effcoef.reference.periodic_fourier), the
Eyring-Kramers asymptotics of the gap, and Monte Carlo of the SDE (effcoef.models.periodic_mc,
within 3 standard errors, seeded).  Tolerances: the route's rtol (1e-10 in 1D) where the
reference is ~1e-13 accurate; 1e-9 for the tilted case (the issue's target; the references'
own estimates are <= 1e-12).
"""

import json
import math
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import potentials as P
from effcoef import AccuracyError, AccuracyWarning
from effcoef import fem_periodic as fp
from effcoef.periodic import effective_coefficients, periodic_point
from effcoef.reference.periodic import (
    cosine_lifson_jackson,
    eyring_kramers_gap,
    lifson_jackson,
    tilted_coefficients,
)
from effcoef.reference.periodic_fourier import fourier_coefficients

TWO_BUMP = "cos(2*pi*x) + 0.6*cos(4*pi*x + 0.4)"          # two unequal wells per cell
NONSEP = "-(cos(x1) + cos(x2))/2 - 0.3*cos(x1)*cos(x2)"
TWO_PI = 2 * math.pi


# ------------------------------------------------------------------------------------------
# 1D, F = 0

@pytest.mark.parametrize("ratio", [0.1, 0.5, 1, 2, 5, 10, 20, 35, 50])
def test_lifson_jackson_cosine(ratio):
    """V0/theta = 0.1 .. 50: D/theta = I0(V0/theta)^-2 down to 1.2e-41, to 1e-10 relative."""
    theta = 1.0 / ratio
    res = effective_coefficients("cos(2*pi*x)", theta)
    exact = cosine_lifson_jackson(1.0, theta)
    assert abs(math.expm1(res.info["log_D"] - math.log(theta) - exact)) <= 1e-10
    assert res.D / theta == pytest.approx(math.exp(exact), rel=1e-10)
    assert res.accurate and res.rel_error_estimate <= 1e-10
    assert res.V == 0.0 and res.K is None and res.K_cov is None and res.omega is None


def test_beyond_double_range_in_log_space():
    """V0/theta = 400: D = e^-800 theta underflows; log D stays exact, with a warning; the
    spectrum (whose matrices would underflow) is skipped."""
    theta = 1 / 400
    with pytest.warns(RuntimeWarning, match="underflows"):
        res = effective_coefficients("cos(2*pi*x)", theta)
    exact = cosine_lifson_jackson(1.0, theta)
    assert res.D == 0.0 and abs(res.info["log_D"] - math.log(theta) - exact) <= 1e-11 * 800
    assert "skipped" in res.info["spectrum"] and res.accurate


@pytest.mark.parametrize("theta", [1.0, 0.3, 0.1, 0.05, 0.03, 0.02])
def test_lifson_jackson_two_bump(theta):
    res = effective_coefficients(TWO_BUMP, theta)
    ref = lifson_jackson(TWO_BUMP, theta)
    assert res.D == pytest.approx(ref.D, rel=1e-10)
    assert res.accurate


@pytest.mark.parametrize("degree", [3, 6])
@pytest.mark.parametrize("F", [0.0, 3.0])
def test_estimate_bounds_the_error_on_coarse_meshes(degree, F):
    """The estimate (1.25 x the P_p vs P_{p+2} gap) bounds the error where it is large, and is
    not pessimistic by more than the factor."""
    for theta in (0.5, 0.1, 0.03):
        res = effective_coefficients(TWO_BUMP, theta, h_scale=3.0, degree=degree, force=F,
                                     max_refine=0, rtol=1.0)
        ref = tilted_coefficients(TWO_BUMP, theta, F)
        err = max(abs(res.D / ref.D - 1), abs(res.V / ref.V - 1) if F else 0.0)
        assert err <= res.rel_error_estimate <= 1.3 * err + 1e-12


def test_exact_discrete_solution_equals_sparse_lu():
    """The derivative-coordinate solutions are the exact Galerkin solutions: the same numbers
    as the sparse LU of the assembled periodic matrices (moderate theta, where LU is exact)."""
    pot = P.periodic_from_expression(TWO_BUMP)
    theta = 0.4
    line = fp.PeriodicLine(fp.periodic_nodes(pot, theta, h_scale=3.0), 6, 11)
    sp = fp.PeriodicSpace([line])
    logm, _ = fp.log_weight_periodic(pot, theta, sp.X)
    mats = fp.weighted_matrices(sp, logm, theta, advection=True)
    rev = fp.reversible_1d(line, logm, theta)
    _, D, *_ = fp.effective_from_fe(mats, theta, 0.0)
    assert math.exp(rev.log_D) == pytest.approx(D[0, 0], rel=1e-13)
    line8 = fp.PeriodicLine(line.nodes, 8, 13)
    sp8 = fp.PeriodicSpace([line8])
    mats8 = fp.weighted_matrices(sp8, fp.log_weight_periodic(pot, theta, sp8.X)[0], theta,
                                 advection=True)
    for F in (0.5, 3.0, 12.0):
        lw, _ = fp.log_weight_periodic(pot, theta, sp8.X, force=F)
        t = fp.tilted_1d(line8, lw, theta, F)
        V, D, *_ = fp.effective_from_fe(mats8, theta, F)
        # the Petrov-Galerkin (tilted weight) and the Galerkin (Gibbs weight) solutions are
        # two discretisations: they agree to the P8 accuracy on this mesh (sized for F = 0:
        # ~1e-9 at F = 12); V from the corrector's normalisation is J L to rounding
        assert math.exp(t.log_V) == pytest.approx(V[0], rel=1e-8)
        assert math.exp(t.log_D) == pytest.approx(D[0, 0], rel=1e-8)
        assert t.log_V_corrector == pytest.approx(t.log_V, abs=1e-13)


def test_assembly_matches_scikit_fem():
    """The periodic weighted matrices equal skfem's BilinearForm assembly with the end
    vertices identified."""
    from scipy import sparse
    from skfem import Basis, BilinearForm, ElementLinePp, MeshLine

    pot = P.periodic_from_expression(TWO_BUMP)
    theta, p = 0.4, 6
    nodes = fp.periodic_nodes(pot, theta, h_scale=2.0)
    line = fp.PeriodicLine(nodes, p, p + 5)
    sp = fp.PeriodicSpace([line])
    lw, c = fp.log_weight_periodic(pot, theta, sp.X)
    mats = fp.weighted_matrices(sp, lw, theta, advection=True)
    basis = Basis(MeshLine(nodes), ElementLinePp(p), intorder=2 * (p + 5) - 1)
    X = np.asarray(basis.global_coordinates()[0])
    m = np.exp(-pot.U(X[None]) / theta - c)
    A = BilinearForm(lambda a, b, w: theta * w.m * a.grad[0] * b.grad[0]).assemble(basis, m=m)
    B = BilinearForm(lambda a, b, w: w.m * a * b).assemble(basis, m=m)
    C = BilinearForm(lambda a, b, w: w.m * a * b.grad[0]).assemble(basis, m=m)
    E = sparse.coo_matrix((np.ones(basis.element_dofs.size),
                           (basis.element_dofs.ravel(), line.l2g.T.ravel())),
                          shape=(basis.N, line.n_dofs)).tocsr()
    E = (E > 0).astype(float)
    for Msk, Mours in ((A, mats.A), (B, mats.B), (C, mats.C[0])):
        assert abs(E.T @ Msk @ E - Mours).max() <= 1e-13 * abs(Mours).max()


def test_spectrum_against_fourier_and_series_completes():
    theta = 0.5
    f = fourier_coefficients(TWO_BUMP, theta, K=60, n_eig=6)
    for h_scale in (3.0, 6.0):
        res = effective_coefficients(TWO_BUMP, theta, full_spectrum=True, n_modes=6,
                                     h_scale=h_scale, max_refine=0, rtol=1e-6)
        err = np.abs(res.eigenvalues[1:7] / f.eigenvalues[1:7].real - 1)
        est = res.eigenvalue_errors[1:7]
        # the eigenvalue estimates (hierarchical p+2 correction) bound the errors, tightly
        assert np.all(err <= est + 1e-12) and np.all(est <= 1.5 * err + 1e-12), (err, est)
    assert res.info["spectral_gap"] == pytest.approx(f.eigenvalues[1].real, rel=1e-5)
    # the series D = theta - sum eta^2/lambda reaches the completed value with "auto"
    auto = effective_coefficients(TWO_BUMP, theta, n_modes="auto")
    assert auto.D_partial[0] == theta
    assert abs(auto.D_series - auto.D) <= 1e-11 * theta
    assert np.all(np.diff(auto.D_partial) <= 1e-15)            # D^N decreases with N


def test_data_modes_only_by_default():
    """Even U: the data U' are odd about the minimum, so only the odd modes enter; with
    full_spectrum the even ones are listed too (eta = 0)."""
    res = effective_coefficients("cos(2*pi*x)", 1.0)
    full = effective_coefficients("cos(2*pi*x)", 1.0, full_spectrum=True)
    assert np.all(np.abs(res.eta[1:]) > 1e-10 * np.max(np.abs(res.eta)))
    assert np.sum(np.abs(full.eta[1:]) < 1e-10) >= 3
    for lam in res.eigenvalues[1:5]:
        assert np.min(np.abs(full.eigenvalues - lam)) <= 1e-8 * lam
    assert res.info["spectral_gap"] == pytest.approx(full.eigenvalues[1], rel=1e-10)


@pytest.mark.parametrize("potential", [TWO_BUMP, "cos(2*pi*x) + 0.6*cos(4*pi*x + 2.4)"])
def test_gap_is_eyring_kramers_rate(potential):
    """Two wells per cell: the gap (refined by the exact Green's operator) is the hopping rate;
    the Eyring-Kramers ratio tends to 1 with O(theta) corrections, down to lambda ~ 1e-27."""
    ratios = []
    for theta in (0.03, 0.01, 0.004):
        res = effective_coefficients(potential, theta)
        lam = res.info["spectral_gap"]
        ratios.append(lam / eyring_kramers_gap(potential, theta)[0])
        assert res.info["refined"] and res.info["spectral_gap_error"] <= 1e-9
    assert all(abs(r - 1) <= 15 * t for r, t in zip(ratios, (0.03, 0.01, 0.004)))
    assert abs(ratios[2] - 1) < abs(ratios[1] - 1) < abs(ratios[0] - 1)


def test_gap_relative_accuracy_against_fourier():
    """lambda_1 ~ 2e-3 (theta = 0.03): the refined gap agrees with the Fourier Galerkin
    eigenvalue of a different discretisation."""
    res = effective_coefficients(TWO_BUMP, 0.06)
    f = fourier_coefficients(TWO_BUMP, 0.06, K=160, n_eig=1)
    assert res.info["spectral_gap"] == pytest.approx(f.eigenvalues[1].real, rel=1e-8)


# ------------------------------------------------------------------------------------------
# 1D, tilted

@pytest.mark.parametrize("tv", [0.1, 0.03, 0.01])
@pytest.mark.parametrize("f", [0.3, 0.8, 0.95, 1.0, 1.05, 1.5, 3.0, -0.9])
def test_tilted_cosine_against_reimann(tv, f):
    """V and D to 1e-9 across the critical tilt F_c = 2 pi V0 / L (theta/V0 = 0.1 .. 0.01)."""
    F = f * 2 * math.pi
    res = effective_coefficients("cos(2*pi*x)", tv, force=F)
    ref = tilted_coefficients("cos(2*pi*x)", tv, F)
    assert res.V == pytest.approx(ref.V, rel=1e-9)
    assert res.D == pytest.approx(ref.D, rel=1e-9)
    assert res.accurate


def test_giant_diffusion_peak():
    """The peak of D/theta against F sits just below F_c and grows as theta/V0 decreases
    (giant diffusion); solver and closed form agree on the whole curve."""
    peaks = []
    for tv in (0.1, 0.03, 0.01):
        Fs = np.linspace(0.9, 1.05, 16) * 2 * math.pi
        D = np.array([effective_coefficients("cos(2*pi*x)", tv, force=F).D for F in Fs])
        Dref = np.array([tilted_coefficients("cos(2*pi*x)", tv, F).D for F in Fs])
        np.testing.assert_allclose(D, Dref, rtol=1e-9)
        i = int(np.argmax(D))
        assert 0.9 < Fs[i] / (2 * math.pi) <= 1.0
        peaks.append(D[i] / tv)
    assert 1 < peaks[0] < peaks[1] < peaks[2]


@pytest.mark.parametrize("theta, F", [(0.1, 2.0), (0.03, -5.0), (0.03, 2.0), (0.5, 8.0)])
def test_tilted_two_bump_against_reimann(theta, F):
    res = effective_coefficients(TWO_BUMP, theta, force=F)
    ref = tilted_coefficients(TWO_BUMP, theta, F)
    assert res.V == pytest.approx(ref.V, rel=1e-9)
    assert res.D == pytest.approx(ref.D, rel=1e-9)
    assert res.info["V_from_corrector"] == pytest.approx(res.V, rel=1e-12)


def test_small_force_continuity_and_einstein_relation():
    theta = 0.2
    r0 = effective_coefficients(TWO_BUMP, theta)
    r1 = effective_coefficients(TWO_BUMP, theta, force=1e-9)
    assert r1.D == pytest.approx(r0.D, rel=1e-8)
    assert r1.V == pytest.approx(1e-9 * r0.D / theta, rel=1e-7)       # mobility D/theta


def test_tilted_eigenvalues_against_fourier():
    res = effective_coefficients(TWO_BUMP, 0.5, force=8.0, n_modes=4)
    f = fourier_coefficients(TWO_BUMP, 0.5, force=8.0, K=60, n_eig=4)
    lam = res.info["eigenvalues_complex"]
    np.testing.assert_allclose(np.sort_complex(lam[1:5]), np.sort_complex(f.eigenvalues[1:5]),
                               rtol=1e-8)
    assert json.loads(json.dumps(res.to_dict()))["info"]["eigenvalues_imag"][0] == 0.0


@settings(max_examples=12, deadline=None)
@given(a=st.floats(0.2, 2.0), b=st.floats(-1.0, 1.0), theta=st.floats(0.05, 2.0),
       F=st.floats(-20.0, 20.0))
def test_property_random_potentials_against_closed_forms(a, b, theta, F):
    U = f"{a!r}*cos(2*pi*x) + {b!r}*sin(4*pi*x)"
    res = effective_coefficients(U, theta, force=F)
    ref = tilted_coefficients(U, theta, F)
    assert res.accurate
    assert res.D == pytest.approx(ref.D, rel=1e-9)
    assert res.V == pytest.approx(ref.V, rel=1e-9, abs=1e-300)


# ------------------------------------------------------------------------------------------
# 2D

def test_separable_is_product_of_1d():
    res = effective_coefficients("cos(2*pi*x1) + 0.5*cos(2*pi*x2)", 0.5, period=(1, 1))
    a, b = lifson_jackson("cos(2*pi*x)", 0.5).D, lifson_jackson("0.5*cos(2*pi*x)", 0.5).D
    np.testing.assert_allclose(np.diag(res.D), [a, b], rtol=1e-8)
    assert abs(res.D[0, 1]) <= 1e-12 and res.accurate
    resF = effective_coefficients("cos(2*pi*x1) + 0.5*cos(2*pi*x2)", 0.5, period=(1, 1),
                                  force=(2.0, -1.0))
    ra, rb = tilted_coefficients("cos(2*pi*x)", 0.5, 2.0), \
        tilted_coefficients("0.5*cos(2*pi*x)", 0.5, -1.0)
    np.testing.assert_allclose(np.diag(resF.D), [ra.D, rb.D], rtol=1e-8)
    np.testing.assert_allclose(resF.V, [ra.V, rb.V], rtol=1e-8)


@pytest.mark.parametrize("force", [None, (0.3, 0.1)])
def test_nonseparable_against_fourier(force):
    res = effective_coefficients(NONSEP, 0.5, period=TWO_PI, force=force)
    f = fourier_coefficients(NONSEP, 0.5, period=TWO_PI, force=force, K=12)
    assert f.rel_error_estimate <= 1e-11
    np.testing.assert_allclose(res.D, f.D, rtol=1e-8, atol=1e-8 * np.abs(f.D).max())
    np.testing.assert_allclose(res.V, f.V, rtol=1e-8, atol=1e-12)
    assert res.accurate and res.rel_error_estimate <= 1e-8


def test_2d_symmetry_and_bounds():
    res = effective_coefficients(NONSEP, 0.5, period=TWO_PI)
    D = res.D
    assert np.allclose(D, D.T, rtol=0, atol=1e-15)
    w = np.linalg.eigvalsh(D)
    assert np.all(w > 0)
    assert np.all(np.linalg.eigvalsh(0.5 * np.eye(2) - D) >= 0)            # D <= theta I
    assert D[0, 0] == pytest.approx(D[1, 1], rel=1e-10)                    # x1 <-> x2
    assert abs(D[0, 1]) <= 1e-12                                           # x1 -> -x1
    # the series from the cell spectrum: D^N decreases from theta I towards D
    assert np.allclose(res.D_partial[0], 0.5 * np.eye(2))
    assert np.all(np.diff(res.D_partial[:, 0, 0]) <= 1e-15)


def test_2d_spectrum_against_fourier():
    """The 2D cell spectrum against Fourier Galerkin, within the eigenvalue indicators (Ritz
    values in the Q_{p+1} space), which stay small on the mesh sized for D."""
    res = effective_coefficients(NONSEP, 0.5, period=TWO_PI, n_modes=6)
    f = fourier_coefficients(NONSEP, 0.5, period=TWO_PI, K=12, n_eig=6)
    err = np.abs(res.eigenvalues[1:7] / f.eigenvalues[1:7].real - 1)
    est = res.eigenvalue_errors[1:7]
    assert np.all(err <= est + 1e-12) and np.all(est <= 1e-6), (err, est)


# ------------------------------------------------------------------------------------------
# Monte Carlo of the SDE (seeded, 3 standard errors)

def test_monte_carlo_1d_tilted_within_3_standard_errors():
    from effcoef.models.periodic_mc import periodic_mc

    F = 1.0                                           # the critical tilt of cos(x)
    res = effective_coefficients("cos(x)", 0.5, period=TWO_PI, force=F)
    mc = periodic_mc("cos(x)", 0.5, period=TWO_PI, force=F, n_particles=1000, n_windows=3,
                     seed=11)
    z = mc.zscores(res.V, res.D)
    assert np.all(np.abs(z["V"]) <= 3) and np.all(np.abs(z["D"]) <= 3), z
    assert mc.D[0][0].ci[0] < mc.D[0][0].value < mc.D[0][0].ci[1]
    assert mc.D_stderr[0, 0] < 0.06 * res.D                # the test can fail (4% s.e.)


@pytest.mark.slow
def test_monte_carlo_1d_giant_diffusion_slow():
    from effcoef.models.periodic_mc import periodic_mc

    F = 2 * math.pi                                   # the critical tilt of cos(2 pi x)
    res = effective_coefficients("cos(2*pi*x)", 0.3, force=F)
    mc = periodic_mc("cos(2*pi*x)", 0.3, force=F, n_particles=8000, n_windows=4, seed=11)
    z = mc.zscores(res.V, res.D)
    assert np.all(np.abs(z["V"]) <= 3) and np.all(np.abs(z["D"]) <= 3), z
    assert mc.D_stderr[0, 0] < 0.02 * res.D


def test_monte_carlo_2d_within_3_standard_errors():
    from effcoef.models.periodic_mc import periodic_mc

    res = effective_coefficients(NONSEP, 0.5, period=TWO_PI, force=(0.3, 0.1))
    mc = periodic_mc(NONSEP, 0.5, period=TWO_PI, force=(0.3, 0.1), n_particles=600,
                     n_windows=2, seed=3)
    z = mc.zscores(res.V, res.D)
    assert np.all(np.abs(z["V"]) <= 3) and np.all(np.abs(z["D"]) <= 3), z
    assert mc.D_stderr[0, 0] < 0.15 * res.D[0, 0]


@pytest.mark.slow
def test_monte_carlo_2d_nonseparable_slow():
    from effcoef.models.periodic_mc import periodic_mc

    for force in (None, (0.3, 0.1)):
        res = effective_coefficients(NONSEP, 0.5, period=TWO_PI, force=force)
        mc = periodic_mc(NONSEP, 0.5, period=TWO_PI, force=force, n_particles=8000,
                         n_windows=4, seed=7)
        z = mc.zscores(res.V, res.D)
        assert np.all(np.abs(z["V"]) <= 3) and np.all(np.abs(z["D"]) <= 3), z
        assert mc.D_stderr[0, 0] < 0.03 * res.D[0, 0]


# ------------------------------------------------------------------------------------------
# contract, errors, warnings

def test_result_contract_1d_and_2d():
    r1 = effective_coefficients("cos(2*pi*x)", 0.3, force=1.0)
    assert r1.dim == 1 and isinstance(r1.D, float) and isinstance(r1.V, float)
    assert r1.method == "periodic" and r1.domain == (0.0, 1.0)
    assert r1.eigenvalues.shape == (1,) and r1.D_partial is None
    d = json.loads(json.dumps(r1.to_dict()))
    assert d["K"] is None and d["K_cov"] is None and d["omega"] is None and d["D_partial"] is None
    assert d["rel_error_estimate"] <= 1e-10 and d["accurate"] is True
    r0 = effective_coefficients("cos(2*pi*x)", 0.3)
    assert r0.eta.shape == r0.eigenvalues.shape == (r0.n_modes + 1,)
    assert r0.D_partial.shape == (r0.n_modes + 1,)
    json.dumps(r0.to_dict())
    r2 = effective_coefficients(NONSEP, 0.5, period=TWO_PI)
    assert r2.D.shape == (2, 2) and r2.V.shape == (2,) and r2.eta.shape == (r2.n_modes + 1, 2)
    assert r2.D_partial.shape == (r2.n_modes + 1, 2, 2)
    assert json.loads(json.dumps(r2.to_dict()))["domain"] == [[0.0, 0.0], [TWO_PI, TWO_PI]]


def test_pickle_and_eigenfunctions():
    res = effective_coefficients(TWO_BUMP, 0.3)
    back = pickle.loads(pickle.dumps(res))
    x = np.linspace(0, 1, 4001)[:-1]
    psi = back.eigenfunctions(x)
    G = psi[:5] @ psi[:5].T / len(x)                             # periodic trapezoid on [0, 1)
    np.testing.assert_allclose(G, np.eye(5), atol=1e-8)
    # Psi_0^2 is the stationary density, the same as info["density"]
    np.testing.assert_allclose(psi[0] ** 2, back.info["density"](x), rtol=1e-10)
    np.testing.assert_allclose(back.eigenfunctions(x + 1.0), psi, atol=1e-12)  # periodic


@pytest.mark.parametrize("theta, F", [(0.2, 3.0), (0.2, -4.0), (0.05, 2.0), (0.3, 0.0)])
def test_density_matches_closed_form(theta, F):
    """The stationary density (exact discrete, any x) against I_- / int I_-: pointwise to 1e-7
    (measured 2e-8 on the default mesh, which is sized for the integrals D and V)."""
    from effcoef.reference.periodic import stationary_density

    res = effective_coefficients(TWO_BUMP, theta, force=F)
    x, rho_ref = stationary_density(TWO_BUMP, theta, F)
    np.testing.assert_allclose(res.info["density"](x), rho_ref, rtol=1e-7)


def test_sweep_hook():
    r = periodic_point({"expression": "{V0}*cos(2*pi*x)", "V0": 2.0, "theta": 0.5,
                        "force": 1.0})
    ref = tilted_coefficients("2.0*cos(2*pi*x)", 0.5, 1.0)
    assert r.D == pytest.approx(ref.D, rel=1e-9) and r.V == pytest.approx(ref.V, rel=1e-9)
    with pytest.raises(ValueError):
        periodic_point({"theta": 1.0})
    r2 = periodic_point({"expression": "cos(x1) + {a}*cos(x2)", "a": -0.5, "theta": 0.7,
                         "period1": TWO_PI, "period2": TWO_PI, "force1": 0.2, "force2": 0.0})
    ref = tilted_coefficients("cos(x)", 0.7, 0.2, TWO_PI)
    assert r2.dim == 2 and r2.D[0, 0] == pytest.approx(ref.D, rel=1e-7)
    assert r2.V[0] == pytest.approx(ref.V, rel=1e-7) and abs(r2.V[1]) <= 1e-12


@pytest.mark.parametrize("kwargs, needle", [
    (dict(U="cos(x)", theta=1.0), "not periodic in x"),
    (dict(U="cos(x1) + cos(pi*x2)", theta=1.0, period=(TWO_PI, 1.0)), "not periodic in x2"),
    (dict(U="cos(2*pi*x)", theta=0.0), "theta"),
    (dict(U="cos(2*pi*x)", theta=-1.0), "theta"),
    (dict(U="cos(2*pi*x)", theta=math.nan), "theta"),
    (dict(U="cos(2*pi*x)", theta=1.0, force=math.inf), "force must be finite"),
    (dict(U="cos(2*pi*x)", theta=1.0, force=math.nan), "force must be finite"),
    (dict(U="cos(2*pi*x1)", theta=1.0, force=1.0, period=(1, 1)), "2 component"),
    (dict(U="cos(2*pi*x)", theta=1.0, period=0.0), "period"),
    (dict(U="cos(2*pi*x)", theta=1.0, period=-2.0), "period"),
    (dict(U="cos(2*pi*x)", theta=1.0, degree=1), "degree"),
    (dict(U="cos(2*pi*x)", theta=1.0, rtol=-1.0), "rtol"),
    (dict(U="cos(2*pi*x)", theta=1.0, n_modes=-1), "n_modes"),
    (dict(U="cos(2*pi*v)", theta=1.0), "unknown name"),
    (dict(U=P.case_a(1), theta=1.0), "PeriodicPotential"),
])
def test_bad_input_one_line_errors(kwargs, needle):
    U = kwargs.pop("U")
    theta = kwargs.pop("theta")
    with pytest.raises(ValueError) as e:
        effective_coefficients(U, theta, **kwargs)
    msg = str(e.value)
    assert needle in msg and "\n" not in msg


def test_accuracy_warning_and_strict():
    kw = dict(h_scale=40.0, degree=2, max_refine=0, rtol=1e-12)
    with pytest.warns(AccuracyWarning):
        res = effective_coefficients(TWO_BUMP, 0.1, **kw)
    assert not res.accurate
    with pytest.raises(AccuracyError):
        effective_coefficients(TWO_BUMP, 0.1, strict=True, **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert effective_coefficients(TWO_BUMP, 0.1).accurate


def test_cli_periodic(capsys):
    from effcoef.cli import main

    code = main(["periodic", "--potential", "cos(2*pi*x)", "--theta", "0.2", "--force", "3.0",
                 "--json"])
    out = capsys.readouterr()
    assert code == 0 and out.err == ""
    data = json.loads(out.out)
    ref = tilted_coefficients("cos(2*pi*x)", 0.2, 3.0)
    assert data["D"] == pytest.approx(ref.D, rel=1e-9) and data["V"] == pytest.approx(ref.V,
                                                                                       rel=1e-9)
    code = main(["periodic", "--potential", NONSEP, "--period", f"{TWO_PI!r},{TWO_PI!r}",
                 "--theta", "0.5", "--force=0.3,0.1", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and len(data["V"]) == 2 and len(data["D"]) == 2
    for args, status, needle in [
        (["--potential", "cos(x)", "--theta", "1"], 2, "not periodic"),
        (["--potential", "cos(2*pi*x)", "--theta", "1", "--force", "nan"], 2, "finite"),
        (["--potential", "cos(2*pi*x)", "--theta", "0"], 2, "theta"),
        (["--potential", "cos(2*pi*x)", "--theta", "1", "--period", "0"], 2, "period"),
        (["--potential", "cos(2*pi*x)", "--theta", "1", "--period", "a,b"], 2, "--period"),
        (["--potential", "cos(2*pi*x)", "--theta", "0.2", "--rtol", "1e-16", "--strict"], 3,
         "accuracy not reached"),
    ]:
        code = main(["periodic"] + args)
        err = capsys.readouterr().err
        assert code == status and needle in err and err.count("\n") == 1, (args, err)
    code = main(["periodic", "--potential", "cos(2*pi*x)", "--theta", "0.2"])
    out = capsys.readouterr().out
    assert code == 0 and "D_eff" in out and "gap" in out
