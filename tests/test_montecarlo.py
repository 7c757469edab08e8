"""effcoef.models.montecarlo: estimates, batch means, Green-Kubo and z-bounds against exact values.

References are closed forms: normal/Student-t quantiles, the variance of the mean of an AR(1)
series, and the discrete autocorrelation sum of an exactly sampled Ornstein-Uhlenbeck process.
Statistical checks use montecarlo.z_bound(0.999, ...): a fair estimator passes with
probability >= 0.999 for any seed (the committed seeds are not tuned).
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm
from scipy.stats import t as student_t

from effcoef.models import montecarlo as mc


def test_rng_passes_generators_and_is_reproducible():
    g = np.random.default_rng(3)
    assert mc.rng(g) is g
    np.testing.assert_array_equal(mc.rng(5).random(4), np.random.default_rng(5).random(4))
    a = [r.random(3) for r in mc.spawn(7, 3)]
    b = [r.random(3) for r in mc.spawn(np.random.SeedSequence(7), 3)]
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.allclose(a[0], a[1])                   # children are different streams
    g = [r.random(3) for r in mc.spawn(np.random.default_rng(7), 2)]   # from a generator
    assert not np.allclose(g[0], g[1])
    with pytest.raises(ValueError):
        mc.spawn(0, -1)


@settings(max_examples=50, deadline=None)
@given(n=st.integers(2, 500), nb=st.integers(1, 40), seed=st.integers(0, 2**32 - 1))
def test_batch_means_equal_groups(n, nb, seed):
    x = np.random.default_rng(seed).standard_normal(n)
    if n < nb:
        with pytest.raises(ValueError):
            mc.batch_means(x, nb)
        return
    m = n // nb
    b = mc.batch_means(x, nb)
    assert b.shape == (nb,)
    np.testing.assert_allclose(b, [x[i * m:(i + 1) * m].mean() for i in range(nb)], rtol=0,
                               atol=1e-14)
    # along another axis and for curves
    X = np.vstack([x, 2 * x])
    np.testing.assert_allclose(mc.batch_means(X, nb, axis=1)[1], 2 * b, atol=1e-14)
    curves = mc.batch_curves(X, nb)
    assert len(curves) == nb and curves[0].shape == (2,)


def test_from_batches_student_t_interval():
    est = mc.MCEstimate.from_batches(np.arange(10.0), level=0.95)
    assert est.value == 4.5 and est.dof == 9 and est.n_batches == 10
    assert est.stderr == pytest.approx(np.std(np.arange(10.0), ddof=1) / np.sqrt(10))
    assert est.ci[1] - 4.5 == pytest.approx(student_t.ppf(0.975, 9) * est.stderr, rel=1e-12)
    assert f"{est:.3f}".startswith("4.500 +- ")
    with pytest.raises(ValueError):
        mc.MCEstimate.from_batches([1.0])
    e2 = mc.MCEstimate.from_stderr(1.0, 0.1)               # dof = inf: normal interval
    assert e2.ci[1] - 1.0 == pytest.approx(norm.ppf(0.975) * 0.1, rel=1e-12)


def test_z_bound_matches_quantiles():
    assert mc.z_bound(0.999) == pytest.approx(3.2905267, abs=1e-6)      # normal, one test
    assert mc.z_bound(0.999, 2) == pytest.approx(norm.ppf(1 - 0.001 / 4), rel=1e-12)
    assert mc.z_bound(0.999, 1, dof=39) == pytest.approx(student_t.ppf(1 - 0.0005, 39),
                                                         rel=1e-12)
    for bad in (0.0, 1.0, 2.0):
        with pytest.raises(ValueError):
            mc.z_bound(bad)
    with pytest.raises(ValueError):
        mc.z_bound(0.99, 0)


def test_interval_coverage_iid():
    """2000 replicas of a 40-batch mean: the 99% Student-t bound is passed by 99% of them.

    The count of failures is Binomial(2000, 0.01) (mean 20, sd 4.45); the acceptance window
    [5, 40] holds with probability > 0.9995 (both tails), so a fair implementation passes.
    """
    r = np.random.default_rng(1)
    x = r.exponential(1.0, size=(2000, 400))                 # skewed: the CLT is what is tested
    fails = 0
    for row in x:
        est = mc.MCEstimate.from_samples(row, n_batches=40)
        fails += not est.agrees(1.0, p_pass=0.99)
    assert 5 <= fails <= 40, fails


def _ar1(a, n, m, rng):
    """m independent stationary AR(1) series x_{k+1} = a x_k + sqrt(1 - a^2) xi (Var x = 1)."""
    x = np.empty((n, m))
    x[0] = rng.standard_normal(m)
    xi = rng.standard_normal((n - 1, m)) * math.sqrt(1 - a * a)
    for k in range(n - 1):
        x[k + 1] = a * x[k] + xi[k]
    return x


def test_time_series_batch_means_variance():
    """Var of the mean of a stationary AR(1) series of length n: exactly
    (1/n^2) sum_{|k|<n} (n - |k|) a^|k|  (~ (1 + a)/((1 - a) n) for large n).

    Averaged over 200 independent series the squared standard error from 20 time blocks of
    1000 steps (53x the integrated correlation time (1 + a)/(1 - a) = 19 steps) matches the
    exact variance: the average of 200 chi^2_19/19 draws has relative sd 0.023 and the block
    bias is ~ tau/block = 2%, so 12% is > 4 sd away (measured 0.975..1.016 over 8 seeds).
    """
    a, n, m = 0.9, 20_000, 200
    x = _ar1(a, n, m, np.random.default_rng(2))
    k = np.arange(1, n)
    var_exact = (n + 2 * np.sum((n - k) * a ** k)) / n ** 2
    se2 = []
    lag1 = []
    for j in range(m):
        est = mc.MCEstimate.from_time_series(x[:, j], n_batches=20)
        se2.append(est.stderr ** 2)
        lag1.append(est.info["lag1"])
        assert est.info["block_length"] == 1000
    assert np.mean(se2) == pytest.approx(var_exact, rel=0.12)
    assert abs(np.mean(lag1)) < 0.1                        # blocks nearly independent
    # means of independent series averaged at each time: same estimator on the mean series
    est = mc.MCEstimate.from_time_series(x[:, :4], n_batches=20, burn_in=100)
    assert est.info["block_length"] == (n - 100) // 20


@pytest.mark.parametrize("n_traj", [400, 4])
def test_green_kubo_ou_exact(n_traj):
    """Exact OU samples, v_{k+1} = e^{-lam dt} v_k + noise, stationary variance s2: C(t) = s2
    e^{-lam t}.  The estimator's mean is the trapezoidal sum of C on the grid (exactly), so
    the reference has no discretisation error; |z| <= z_bound(0.999, dof) for any seed."""
    lam, s2, dt, t_max = 2.0, 0.7, 0.01, 3.0
    a = math.exp(-lam * dt)
    n_t = 4000 if n_traj > 20 else 200_000
    v = math.sqrt(s2) * _ar1(a, n_t, n_traj, np.random.default_rng(3 + n_traj))
    est = mc.green_kubo(v, dt=dt, t_max=t_max, n_batches=20)
    L = int(round(t_max / dt))
    C = s2 * a ** np.arange(L + 1)
    ref = dt * (C.sum() - 0.5 * (C[0] + C[-1]))
    assert abs(ref - s2 / lam * (1 - math.exp(-lam * t_max))) < 1e-4 * ref   # O(dt^2)
    assert est.info["batching"] == ("trajectories" if n_traj >= 20 else "time")
    assert est.info["t_max"] == pytest.approx(t_max)
    assert est.rel_stderr < 0.05                                 # the test is meaningful
    assert est.agrees(ref, 0.999), (est, ref, est.zscore(ref))
    with pytest.raises(ValueError):
        mc.green_kubo(v, dt=dt, t_max=n_t * dt)
    with pytest.raises(ValueError):
        mc.green_kubo(v, v[:, :1], dt=dt, t_max=1.0)
