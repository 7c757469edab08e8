"""Particle and kinetic validation of D and K (effcoef.models.swarming, issue 6).

Monte Carlo estimates (fixed seeds) are compared with the spectral solver by their z-score
(value - reference) / stderr.  With 40 batches the z-score of a fair estimator is Student-t
with 39 degrees of freedom; the bound is ``montecarlo.z_bound(0.999, n_tests, dof=39)``, a
union (Bonferroni) bound over the ``n_tests`` estimates checked in one test, so each test
passes with probability >= 0.999 for any seed (one estimate: |z| <= 3.56, two: 3.80, nine:
4.30).  The committed seeds are not tuned: seeds 20-25 of every default case were run as well
(max |z| = 2.50 over 72 estimates).  The standard errors are required to be a few percent
(meaningful) and at least 3x the heuristic O(dt) bias (the bias does not dominate; the slow
tests check it by halving dt).
"""

import numpy as np
import pytest

import effcoef
import potentials
from effcoef.models import montecarlo as mc
from effcoef.models import swarming as sw

CASES = {  # potential, theta, seed, particles for K (its variance differs a lot between cases)
    "A1": (lambda: potentials.case_a(1), None, 0, 3000),   # W = v^4/4 - v^2/2, theta = 1
    "A5": (lambda: potentials.case_a(5), None, 1, 3000),   # rescaled, theta = 1/5
    "S2": (lambda: potentials.swarming(1, 2), 1.0, 2, 1000),  # radial, d = 2, theta = 1
}


def _spectral(pot, theta):
    res = effcoef.coefficients(pot, theta=theta)
    return sw._iso(res.D), sw._iso(res.K), res


def _check(est, ref, bias, n_tests, max_rel_se=0.06):
    """``est`` agrees with ``ref``: |z| <= z_bound(0.999, n_tests, dof) (see the module doc).

    ``max_rel_se`` only asks for a meaningful test; it is itself a random quantity (relative
    standard errors measured over seeds 20-25: 0.007-0.045, typically 0.02-0.035), so it is
    set well above them (0.04 failed for seed 22 of Case A, gamma = 1).
    """
    assert est.rel_stderr <= max_rel_se, f"standard error too large: {est}"
    assert est.stderr >= 3 * bias * abs(ref), f"time-step bias not negligible: {est}, bias {bias}"
    assert est.dof == 39
    assert est.agrees(ref, 0.999, n_tests), \
        f"{est} vs spectral {ref}: z = {est.zscore(ref):.2f}, bound " \
        f"{mc.z_bound(0.999, n_tests, est.dof):.2f}"
    lo, hi = est.ci
    assert lo < est.value < hi


# ----------------------------------------------------------------------
# building blocks (fast)

def test_equilibrium_sampling_moments():
    pot = potentials.case_a(1)
    sde = sw.VelocitySDE(pot)
    v = sde.sample_equilibrium(200_000, seed=0)
    assert v.shape == (1, 200_000)
    D, K, _ = _spectral(pot, None)
    # K = Var(v)/theta exactly (theta = 1)
    assert abs(v.var() - K) < 4 * np.sqrt(2.0 / v.size) * K
    pot2 = potentials.swarming(1, 2)
    s2 = sw.VelocitySDE(pot2, 1.0)
    V = s2.sample_equilibrium(200_000, seed=1)
    _, K2, _ = _spectral(pot2, 1.0)
    assert abs((V ** 2).sum(0).mean() / 2 - K2) < 0.01 * K2
    # isotropy: both components have the same variance, the mean is 0
    assert abs(V[0].var() - V[1].var()) < 0.02 * K2
    assert np.all(np.abs(V.mean(axis=1)) < 0.01)


def test_seed_reproducible_and_generator_accepted():
    pot = potentials.case_a(1)
    sde = sw.VelocitySDE(pot)
    a = sde.sample_equilibrium(10, seed=5)
    b = sde.sample_equilibrium(10, seed=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    v, r = a.copy(), np.zeros_like(a)
    v1, r1 = sde.run(v, r, 100, 1e-3, seed=3)
    v, r = a.copy(), np.zeros_like(a)
    v2, r2 = sde.run(v, r, 100, 1e-3, seed=3)
    np.testing.assert_array_equal(v1, v2)
    np.testing.assert_array_equal(r1, r2)


def test_polynomial_fast_path_matches_potential():
    for pot, th in [(potentials.case_a(5, rescaled=False), None), (potentials.case_b(3), None),
                    (potentials.swarming(2, 3), 1.0)]:
        sde = sw.VelocitySDE(pot, th)
        V = sde.sample_equilibrium(500, seed=0)
        g = sde.grad(V)
        ref = sw.VelocitySDE(pot, th, grad=None)
        ref._poly = None
        np.testing.assert_allclose(g, ref.grad(V), rtol=1e-10, atol=1e-10)


def test_unstable_time_step_is_detected():
    sde = sw.VelocitySDE(potentials.case_a(1))
    v = np.full((1, 4), 20.0)
    with pytest.raises(sw.TimeStepError):
        sde.run(v, np.zeros_like(v), 10, 0.1, seed=0)
    # the tamed scheme stays bounded from the same start
    v = np.full((1, 4), 20.0)
    v, _ = sde.run(v, np.zeros_like(v), 2000, 0.1, seed=0, scheme="tamed")
    assert np.all(np.abs(v) < 10)


def test_mc_estimate_interval():
    assert sw.MCEstimate is mc.MCEstimate                # re-exported for existing callers
    est = sw.MCEstimate.from_batches(np.arange(10.0), level=0.95)
    assert est.value == 4.5
    assert est.stderr == pytest.approx(np.std(np.arange(10.0), ddof=1) / np.sqrt(10))
    assert est.ci[0] < 4.5 < est.ci[1]
    assert est.ci[1] - 4.5 == pytest.approx(2.2621571627 * est.stderr, rel=1e-6)


def test_requires_theta():
    with pytest.raises(ValueError):
        sw.VelocitySDE(potentials.swarming(1, 2))


def test_macroscopic_mass_and_positivity():
    pot = potentials.case_a(1)
    U = sw.gaussian_interaction(2.0, 1.0)
    sol = sw.solve_macroscopic(pot, interaction=U, rho0=lambda x: np.exp(-8 * x ** 2),
                               t_final=0.2, n_cells=200)
    h = np.diff(sol.edges)
    assert abs((sol.rho * h).sum() - 1.0) < 1e-12
    assert sol.rho.min() >= 0.0
    D, K, _ = _spectral(pot, None)
    assert sol.D == D and sol.K == K
    # without interaction: the heat kernel, variance 1/16 + 2 D t
    free = sw.solve_macroscopic(pot, interaction=sw.gaussian_interaction(0.0),
                                rho0=lambda x: np.exp(-8 * x ** 2), t_final=0.2, n_cells=400)
    xc = free.centers
    var = (xc ** 2 * free.rho * np.diff(free.edges)).sum()
    assert var == pytest.approx(1 / 16 + 2 * D * 0.2, rel=2e-3)
    # attraction: narrower than free diffusion
    var_int = (sol.centers ** 2 * sol.rho * h).sum()
    assert var_int < var


# ----------------------------------------------------------------------
# Monte Carlo vs spectral (default run: a few seconds per case)

@pytest.mark.parametrize("case", ["A1", "A5", "S2"])
def test_diffusion_green_kubo_and_msd(case):
    make, theta, seed, n_k = CASES[case]
    pot = make()
    D, _, _ = _spectral(pot, theta)
    bias = sw.timestep_bias_estimate(pot, theta, dt=2e-3)
    dm = sw.diffusion_mc(pot, theta, n_particles=3000, seed=seed)
    _check(dm.green_kubo, D, bias, n_tests=2)
    _check(dm.msd, D, bias, n_tests=2)
    # the running Green-Kubo integral has reached its plateau
    assert dm.t_corr * dm.lambda1 >= 7.9


@pytest.mark.parametrize("case", ["A1", "A5", "S2"])
def test_drift_linear_response(case):
    make, theta, seed, n_k = CASES[case]
    pot = make()
    _, K, _ = _spectral(pot, theta)
    bias = sw.timestep_bias_estimate(pot, theta, dt=2e-3)
    est = sw.drift_linear_response(pot, theta, n_particles=n_k, seed=seed + 10)
    _check(est, K, bias, n_tests=1)


def test_l1_distance_decreases_with_eps():
    pot = potentials.case_a(1)
    s0 = 0.25
    out = sw.l1_vs_eps(pot, interaction=sw.gaussian_interaction(2.0, 1.0),
                       eps_values=[0.2, 0.05, 0.0125], n_particles=20_000, t_final=0.25,
                       r0=lambda n, rng: s0 * rng.standard_normal(n),
                       rho0=lambda x: np.exp(-0.5 * x ** 2 / s0 ** 2),
                       edges=np.linspace(-4, 4, 41), seed=0)
    l1 = out["l1"]
    assert np.all(np.diff(l1) < 0), l1
    assert l1[0] > 2 * l1[-1]
    assert l1[-1] < 3 * out["noise_floor"] + 0.03


# ----------------------------------------------------------------------
# slow: more particles, halved time step, smaller eps

@pytest.mark.slow
@pytest.mark.parametrize("case", ["A1", "A5", "S2"])
def test_slow_more_particles_and_halved_dt(case):
    make, theta, seed, n_k = CASES[case]
    pot = make()
    D, K, _ = _spectral(pot, theta)
    est = {}
    for dt in (2e-3, 1e-3):
        dm = sw.diffusion_mc(pot, theta, n_particles=12_000, dt=dt, seed=100 + seed)
        kl = sw.drift_linear_response(pot, theta, n_particles=12_000, dt=dt, seed=200 + seed)
        for name, e, ref in (("gk", dm.green_kubo, D), ("msd", dm.msd, D), ("k", kl, K)):
            assert e.rel_stderr <= 0.02
            # 6 z-scores against the solver + 3 differences below: union bound over 9
            assert e.agrees(ref, 0.999, n_tests=9), (case, name, dt, e, ref)
            est[name, dt] = e
    for name in ("gk", "msd", "k"):
        a, b = est[name, 2e-3], est[name, 1e-3]
        # halving dt changes nothing beyond the statistical error: the O(dt) bias is negligible
        # (z against hypot(se_a, se_b) with ~78 dof: conservative, the common seed draws the
        # same initial velocities for both dt, which correlates a and b positively)
        z = (a.value - b.value) / np.hypot(a.stderr, b.stderr)
        assert abs(z) <= mc.z_bound(0.999, 9, dof=78), (case, name, a, b)


@pytest.mark.slow
def test_slow_l1_distance_decreases_with_eps():
    pot = potentials.case_a(1)
    s0 = 0.25
    out = sw.l1_vs_eps(pot, interaction=sw.gaussian_interaction(2.0, 1.0),
                       eps_values=[0.1, 0.03, 0.01, 0.003], n_particles=200_000,
                       t_final=0.25, r0=lambda n, rng: s0 * rng.standard_normal(n),
                       rho0=lambda x: np.exp(-0.5 * x ** 2 / s0 ** 2),
                       edges=np.linspace(-4, 4, 41), seed=1)
    assert np.all(np.diff(out["l1"]) < 0), out["l1"]


def test_swarming_3d():
    """d = 3 radial swarming potential (gamma = 1, theta = 1): same checks, fewer particles."""
    pot = potentials.swarming(1, 3)
    D, K, _ = _spectral(pot, 1.0)
    bias = sw.timestep_bias_estimate(pot, 1.0, dt=2e-3)
    dm = sw.diffusion_mc(pot, 1.0, n_particles=1500, seed=4)
    _check(dm.green_kubo, D, bias, n_tests=2)
    _check(sw.drift_linear_response(pot, 1.0, n_particles=400, seed=5), K, bias, n_tests=2)
