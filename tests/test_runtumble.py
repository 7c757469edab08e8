"""effcoef.models.runtumble: internal-state run-and-tumble model (paper 002), psi = 0.5 + 1.5 Phi(1.5 z)."""

import numpy as np
import pytest
from scipy.special import ndtr

from effcoef.models import montecarlo as mc
from effcoef.models import runtumble as rt


def psi(z):
    return 0.5 + 1.5 * ndtr(1.5 * z)


def dpsi(z):
    return 2.25 * np.exp(-1.125 * z * z) / np.sqrt(2 * np.pi)


# closed forms: E[Phi(1.5 Z)] = 1/2 (symmetry) -> psi_bar = 1.25, D0 = 0.8;
# E[psi'(Z)] = 2.25 E[phi(1.5 Z)] = 2.25 / sqrt(2 pi (1 + 1.5^2)) -> chi0 = E[psi'] / psi_bar
PSIBAR = 1.25
CHI0 = 2.25 / np.sqrt(2 * np.pi * 3.25) / PSIBAR


def test_limit_closed_forms():
    D0, chi0, Dinf = rt.limit_coefficients(psi)
    assert abs(D0 - 0.8) < 1e-13 and abs(chi0 - CHI0) < 1e-13
    assert Dinf > D0                                        # Jensen


def test_small_and_large_eps_limits():
    _, _, Dinf = rt.limit_coefficients(psi)
    for eps in (1e-2, 1e-3):
        r = rt.runtumble_coefficients(psi, eps, method="hermite")
        assert abs(r.D - 0.8) < 2 * eps and abs(r.chi - CHI0) < 1.0 * eps
    big = rt.runtumble_coefficients(psi, 1e3, method="hermite")
    assert abs(big.D - Dinf) < 2e-3 and 0 < big.chi < 1e-3


@pytest.mark.parametrize("eps", [0.1, 1.0, 10.0])
def test_spectral_and_hermite_agree(eps):
    a = rt.runtumble_coefficients(psi, eps, method="spectral", dpsi=dpsi)
    b = rt.runtumble_coefficients(psi, eps, method="hermite", dpsi=dpsi)
    assert abs(a.D - b.D) < 1e-7 and abs(a.chi - b.chi) < 1e-7
    assert a.D_err < 1e-8 and b.D_err < 1e-8 and a.chi_err < 1e-8 and b.chi_err < 1e-8
    # the second-order (psi') resolvent form of chi
    assert abs(a.chi - a.chi_second_order) < 1e-9 and abs(b.chi - b.chi_second_order) < 1e-9
    assert 0.8 < a.D < rt.limit_coefficients(psi)[2] and 0 < a.chi < CHI0


def test_dimension_scaling():
    r1 = rt.runtumble_coefficients(psi, 1.0, method="hermite")
    r3 = rt.runtumble_coefficients(psi, 1.0, method="hermite", s=2.0, dim=3)
    assert abs(r3.D - 4 / 3 * r1.D) < 1e-12 and abs(r3.chi - 4 / 3 * r1.chi) < 1e-12


# Monte Carlo acceptance: standard errors from 50 batch means (Student-t, 49 dof); a fair
# estimator passes |z| <= z_bound(0.999, n, 49) with probability >= 0.999 for the n checks of
# a test together (union bound), whatever the seed.
def _zb(n_tests):
    return mc.z_bound(0.999, n_tests, dof=49)


def test_monte_carlo_eps1():
    ref = rt.runtumble_coefficients(psi, 1.0, method="hermite")
    D, se = rt.mc_diffusion(psi, 1.0, n=20000, seed=1)
    assert se / D < 0.03 and abs(D - ref.D) < _zb(2) * se
    chi, se = rt.mc_sensitivity(psi, 1.0, alpha=0.1, n=20000, seed=2)
    assert se / chi < 0.03 and abs(chi - ref.chi) < _zb(2) * se


def test_exact_msd_matches_D():
    t = np.array([200.0, 400.0])
    m = rt.exact_msd(psi, 1.0, t, method="hermite")
    D = rt.runtumble_coefficients(psi, 1.0, method="hermite").D
    assert abs((m[1] - m[0]) / (2 * 200) - D) < 1e-10
    assert np.allclose(rt.exact_msd(psi, 0, t), 2 * 0.8 * t - 2 * 0.8 / PSIBAR)


def test_distance_to_limit_model_decreases():
    ts = [0.5, 1.0, 2.0, 4.0]
    m0, s0 = rt.msd_statistics(psi, 0, ts, n=20000, seed=3)
    assert np.all(np.abs(m0 - rt.exact_msd(psi, 0, ts)) < _zb(len(ts)) * s0)
    dist = []
    for eps in (2.0, 0.5, 0.125):
        m, se = rt.msd_statistics(psi, eps, ts, n=20000, seed=3)
        dist.append(np.max(np.abs(m - m0)))
    assert dist[0] > dist[1] > dist[2]


@pytest.mark.slow
@pytest.mark.parametrize("eps", [0.1, 1.0, 10.0])
def test_monte_carlo_slow(eps):
    ref = rt.runtumble_coefficients(psi, eps, method="hermite")
    D, se = rt.mc_diffusion(psi, eps, n=100000, seed=11)
    assert abs(D - ref.D) < _zb(2) * se
    chi, se = rt.mc_sensitivity(psi, eps, alpha=0.1, n=100000, seed=12)
    assert abs(chi - ref.chi) < _zb(2) * se + 0.01 * abs(ref.chi)


def test_ball_and_sphere_velocity_sets():
    """Uniform redistribution in the ball of radius s: E[v_1^2] = s^2/(d+2) (vs s^2/d on the
    sphere), checked by sampling the ball; D and chi scale with it."""
    import numpy as np
    from scipy.special import ndtr

    from effcoef.models.runtumble import runtumble_coefficients, velocity_variance
    rng = np.random.default_rng(7)
    d, s = 3, 2.0
    x = rng.standard_normal((200000, d))
    v = s * x / np.linalg.norm(x, axis=1)[:, None] * rng.random(200000)[:, None] ** (1 / d)
    var = np.mean(v[:, 0] ** 2)
    se = np.std(v[:, 0] ** 2) / np.sqrt(len(v))
    assert abs(var - velocity_variance(s, d, "ball")) <= 4 * se
    psi = lambda z: 0.5 + 1.5 * ndtr(1.5 * z)  # noqa: E731
    sph = runtumble_coefficients(psi, 1.0, s=s, dim=d)
    ball = runtumble_coefficients(psi, 1.0, s=s, dim=d, velocity_set="ball")
    assert abs(ball.D / sph.D - d / (d + 2)) <= 1e-12
    assert abs(ball.chi / sph.chi - d / (d + 2)) <= 1e-12
