"""Tests for effcoef.fhn (issue 7): frozen FhN voltage operator, network, limit ODE (paper 001)."""
import numpy as np
import pytest
from scipy.linalg import eigh_tridiagonal

from effcoef import fhn
from effcoef.asymptotics import eyring_kramers


def _fd_gap(pot, theta, n):
    """Independent 2nd-order FD of H = -theta d^2 + W'^2/(4 theta) - W''/2 (Dirichlet)."""
    mi = pot.mass_interval(theta, 60.0)
    a, b = float(mi.a), float(mi.b)
    x = np.linspace(a, b, n + 2)[1:-1]
    h = (b - a) / (n + 1)
    U = pot.dW(x) ** 2 / (4 * theta) - pot.d2W(x) / 2
    w = eigh_tridiagonal(2 * theta / h ** 2 + U, -theta / h ** 2 * np.ones(n - 1),
                         select="i", select_range=(0, 1), eigvals_only=True)
    return w[1] - w[0]


@pytest.mark.parametrize("J", [0.0, 1.0, 5.0, 20.0, 100.0])
def test_gap_vs_finite_differences(J):
    # FD error is O(h^2); Richardson (n = 4000, 8000) leaves O(h^4) ~ 1e-8 relative (measured
    # 1e-10..1e-8), so 1e-6 is a safe tolerance still far below any modelling error.
    x, m = 0.2, 0.5
    pot = fhn.frozen_potential(x, m, J, 0.0)
    g = fhn.spectral_gap(J, x=x, m=m)
    f1, f2 = _fd_gap(pot, 0.5, 4000), _fd_gap(pot, 0.5, 8000)
    fr = (4 * f2 - f1) / 3
    assert abs(g - fr) / g < 1e-6
    assert abs(f2 - fr) / g < 1e-4   # FD itself converging


def test_large_J_gap_and_variance():
    m, theta = 0.5, 0.5
    Np = float(fhn.N_eval(m, deriv=1))
    errs_g, errs_v = [], []
    for J in [10.0, 100.0, 1000.0]:
        g = fhn.spectral_gap(J, m=m)
        mo = fhn.ground_moments(J, m=m)
        assert abs(mo.mean - mo.mean_quad) < 1e-10
        errs_g.append(abs(g / (J + Np) - 1))
        errs_v.append(abs(mo.var * (J + Np) / theta - 1))
        assert errs_g[-1] < 1.0 / J and errs_v[-1] < 1.0 / J   # O(1/J) with constant <= 1
    # error decreases (at least) like 1/J
    assert errs_g[2] < errs_g[0] / 50 and errs_v[2] < errs_v[0] / 50


@pytest.mark.parametrize("J", [5.0, 10.0, 50.0])
def test_bakry_emery(J):
    vs = np.linspace(-20, 20, 200001)
    bound = J + float(fhn.N_eval(vs, deriv=1).min())   # = J - sup(-N') = J - 13/3 for lam = 4
    assert bound > 0
    for x, m in [(0.0, 0.0), (0.5, 1.5), (-1.0, 3.0)]:
        assert fhn.spectral_gap(J, x=x, m=m) >= bound


def test_effective_drift_limit():
    # <N>_M -> N(m) + N''(m) Var/2 as J grows (x = I = 0 shifts the mean by O(1/J))
    m = 2.0
    for J in [100.0, 1000.0]:
        d = fhn.effective_drift(J, m=m)
        assert abs(d - float(fhn.N_eval(m))) < 20.0 / J


def test_eyring_kramers_J0():
    Ncub = (0.0, -1.0, 0.0, 1.0)   # N = v^3 - v: drift v - v^3, tilted by x = 0.05
    ratios = []
    for th in [0.03, 0.02]:
        pot = fhn.frozen_potential(0.05, 0.0, 0.0, 0.0, N=Ncub)
        g = fhn.spectral_gap(0.0, x=0.05, N=Ncub, sigma=np.sqrt(2 * th), n_modes=4)
        ek = eyring_kramers(pot, th).lam1
        assert g < 1e-3                     # metastable: exponentially small gap
        ratios.append(g / ek)
    assert abs(ratios[1] - 1) < 0.05 and abs(ratios[1] - 1) < abs(ratios[0] - 1)


def test_limit_ode_bistable_fixed_points():
    fps = fhn.fixed_points(0.3, 0.1, I=0.0, lam=4.0)
    stable = [(al, be) for al, be, ev in fps if np.all(ev.real < 0)]
    assert len(fps) == 3 and len(stable) == 2
    assert np.allclose(stable[0], (0.0, 0.0), atol=1e-12)
    assert np.allclose(stable[1], (3.8844, 1.2948), atol=1e-4)
    for al, be in stable:
        assert np.allclose(fhn.limit_rhs(0, [al, be], 0.3, 0.1), 0.0, atol=1e-10)


def test_network_variance_large_J():
    # stationary near the stable point (0, 0): N'(0) = lam = 4, Var v -> theta/(J + 4).
    # Deviations: O(1/J) (non-Gaussian), (n-1)/n, O(dt) splitting, statistical ~2e-3.
    J, theta = 50.0, 0.5
    r = fhn.simulate_network(500, J, 20.0, 0.002, a=0.3, b=0.1, sigma=1.0, seed=1, save_every=10)
    ratio = r.var_v[r.t > 5].mean() * (J + 4.0) / theta
    assert abs(ratio - 1) < 2.0 / J


def test_network_mean_follows_limit_ode():
    errs, Js = [], [5.0, 10.0, 20.0]
    for J in Js:
        r = fhn.simulate_network(50000, J, 2.0, 2e-3, a=0.3, b=0.1, sigma=1.0, v0=2.0, x0=0.5,
                                 seed=2, save_every=10)
        y = fhn.solve_limit_ode([2.0, 0.5], r.t, 0.3, 0.1)
        errs.append(np.abs(r.mean_v - y[0]).max())
    slope = np.polyfit(np.log(Js), np.log(errs), 1)[0]
    assert errs[0] > errs[1] > errs[2]
    assert -1.35 < slope < -0.65, (errs, slope)
