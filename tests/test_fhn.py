"""Tests for effcoef.models.fhn (issue 7): frozen FhN voltage operator, network, limit ODE (paper 001)."""
import numpy as np
import pytest
from scipy.linalg import eigh_tridiagonal

from effcoef.models import fhn
from effcoef.reference.asymptotics import eyring_kramers


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
        g = fhn.spectral_gap(0.0, x=0.05, N=Ncub, sigma=np.sqrt(2 * th))
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


def test_effective_drift_correction_is_second_order():
    # <N>_M - N(<v>_M) = N''(mu) Var/2 + c3 E(v-mu)^3 exactly (cubic N); the prediction
    # P = N''(m) theta / (2 (J + N'(m))) at the frozen network mean m (paper 000's conjectured
    # term (eps/(2 rho0)) N'' with theta/J = eps/rho0) misses it at O(1/J^2): the Maxwellian's
    # mean is shifted, mu - m = -(N(m) + x - I)/J + O(1/J^2), so N''(mu) - N''(m) = 6 c3 (mu - m)
    # and D - P -> -3 c3 theta (N(m) + x - I) / J^2 (third moment O(1/J^3)). Using mu instead of
    # m leaves O(1/J^3). Reference: quadrature moments (Gauss-Legendre, ~1e-14) vs this algebra.
    x, m, theta = 0.2, 0.5, 0.5
    c3 = fhn.fhn_cubic(4.0)[3]
    Np, Npp = float(fhn.N_eval(m, deriv=1)), float(fhn.N_eval(m, deriv=2))
    Js = np.array([40.0, 80.0, 160.0, 320.0, 640.0, 1280.0])
    err_m, err_mu, rel = [], [], []
    for J in Js:
        mo = fhn.ground_moments(J, x=x, m=m)
        D = mo.N_mean - float(fhn.N_eval(mo.mean_quad))
        P = Npp * theta / (2 * (J + Np))
        mu = mo.mean_quad
        Pmu = float(fhn.N_eval(mu, deriv=2)) * theta / (2 * (J + float(fhn.N_eval(mu, deriv=1))))
        err_m.append(D - P)
        err_mu.append(D - Pmu)
        rel.append(abs(D / P - 1))
    err_m, err_mu = np.array(err_m), np.array(err_mu)
    c_pred = -3 * c3 * theta * (float(fhn.N_eval(m)) + x)
    assert abs(err_m[-1] * Js[-1] ** 2 / c_pred - 1) < 0.02          # measured 0.96%
    slopes = np.diff(np.log(np.abs(err_m))) / np.diff(np.log(Js))
    assert np.all(slopes[1:] < -1.8) and np.all(slopes > -2.2), slopes   # measured -1.73..-1.99
    slopes_mu = np.diff(np.log(np.abs(err_mu))) / np.diff(np.log(Js))
    assert np.all(np.abs(slopes_mu + 3) < 0.15), slopes_mu               # measured -2.9..-3.0
    assert rel[-1] < 2e-3 and rel[0] > rel[-1] * 16                     # D/P -> 1 like 1/J


def test_hopf_point_and_limit_cycle():
    # paper 001 Fig 7.3 parameters: lam = 4, a = 0.01, b = 0.1; Hopf "near I = 5.54"
    a, b = 0.01, 0.1
    (IH, alH), (IH2, _) = fhn.hopf_points(a, b)
    assert abs(IH - 5.5414507) < 1e-6 and abs(IH2 - 22.6066974) < 1e-6
    # independent check: eigenvalues of the numerically located fixed point cross the axis
    re = [fhn.fixed_points(a, b, I=I)[0][2].real.max() for I in (IH - 1e-3, IH, IH + 1e-3)]
    assert re[0] < 0 < re[2] and abs(re[1]) < 1e-9
    assert len(fhn.fixed_points(a, b, I=IH)) == 1     # single fixed point (no bistability)
    t = np.linspace(0, 600, 6001)
    late = t > 300
    for I, cycle in [(5.3, False), (5.6, True)]:
        al = fhn.fixed_points(a, b, I=I)[0][0]
        y = fhn.solve_limit_ode([al + 0.1, b / a * al], t, a, b, I=I)
        amp = np.ptp(y[0][late])
        assert (amp > 4.5) if cycle else (amp < 1e-3), (I, amp)   # relaxation cycle -0.76..4.05
    with pytest.raises(ValueError):
        fhn.hopf_points(0.0, 0.1)
    assert fhn.hopf_points(0.5, 0.1) == []            # b < a^2: det < 0 where trace = 0


def _spike_times(t, v, level=2.0):
    up = np.where((v[1:] > level) & (v[:-1] <= level))[0]
    return t[up]


def test_network_relaxation_cycles_near_hopf():
    # Fig 7.3 behaviour: n = 200, eps = 0.01 (J = 100), sigma = 1. Far on the stable side
    # (I = 4.0) the network mean settles at the fixed point; on the unstable side (I = 6.0) it
    # fires regular relaxation cycles whose period matches the limit ODE's (finite-J, finite-n
    # corrections of a few %). Closer below the Hopf point (I = 4.5..5.54 for n = 200) the
    # mean's finite-n noise (sigma/sqrt(n)) triggers spikes, as the paper observes; that
    # seed-dependent window is not asserted (I = 4.0: no spike in 4 of 4 seeds; 4.5: 2 of 4).
    a, b = 0.01, 0.1
    t = np.linspace(0, 600, 60001)
    y = fhn.solve_limit_ode([0.6, 5.1], t, a, b, I=6.0)
    period_lim = np.diff(_spike_times(t, y[0])[2:]).mean()
    for I in (4.0, 6.0):
        al, be, _ = fhn.fixed_points(a, b, I=I)[0]
        r = fhn.simulate_network(200, 100.0, 250.0, 5e-3, a=a, b=b, I=I, sigma=1.0, v0=al,
                                 x0=be, seed=7, save_every=20)
        st = _spike_times(r.t, r.mean_v)
        if I == 4.0:
            assert st.size == 0 and abs(r.mean_v[r.t > 100].mean() - al) < 0.05
        else:
            assert st.size >= 2
            assert abs(np.diff(st).mean() / period_lim - 1) < 0.1, (np.diff(st), period_lim)


def test_network_bad_input():
    for kw in [dict(n=1), dict(J=-1.0), dict(dt=0.0), dict(dt=2.0), dict(save_every=0)]:
        args = dict(n=10, J=1.0, T=1.0, dt=0.1, save_every=1) | kw
        with pytest.raises(ValueError):
            fhn.simulate_network(args.pop("n"), args.pop("J"), args.pop("T"), args.pop("dt"),
                                 a=0.3, b=0.1, **args)
