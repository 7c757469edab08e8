"""effcoef.reference.radial (finite volumes + Richardson, own domain) against closed forms and
against the solver's radial route (p = 8 finite elements + Lanczos: a different method)."""

import math

import pytest

import potentials as P
from effcoef import coefficients
from effcoef.reference.radial import radial_reference


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("theta", [0.05, 0.5, 2.0])
def test_ornstein_uhlenbeck_closed_form(dim, theta):
    """W = |v|^2/2: g = r solves the l = 1 problem, D = theta, K = 1 in any dimension."""
    r = radial_reference(P.ornstein_uhlenbeck_nd(dim), theta)
    assert abs(r.D - theta) <= 1e-12 * theta
    assert abs(r.K - 1.0) <= 1e-12
    # the estimate covers the error, and is small
    assert abs(r.D - theta) / theta <= max(r.rel_error_estimate, 1e-14) * 10
    assert r.rel_error_estimate < 1e-9 and r.domain_certified


def test_richardson_converges_at_second_order():
    """D_h - D ~ h^2: the level differences shrink by ~4 (before extrapolation)."""
    r = radial_reference(P.ornstein_uhlenbeck_nd(3), 0.5, levels=5)
    d = [abs(math.exp(a) - math.exp(b)) for a, b in zip(r.D_levels, r.D_levels[1:])]
    ratios = [d[i] / d[i + 1] for i in range(len(d) - 1)]
    assert all(3.5 < q < 4.5 for q in ratios), ratios


@pytest.mark.parametrize("gamma,dim", [(1, 2), (5, 3), (50, 3), (20, 2)])
def test_swarming_against_the_radial_route(gamma, dim):
    """The swarming potential r^4/4 - r^2/2 (theta = 1/gamma): two different discretisations
    of the l = 1 channel agree to 1e-10 (both estimate ~1e-12)."""
    pot = P.swarming(gamma, dim, rescaled=True)
    ref = radial_reference(pot, pot.theta)
    res = coefficients(pot)
    assert res.accurate
    assert abs(res.D[0, 0] - ref.D) <= 1e-10 * ref.D
    assert abs(res.K[0, 0] - ref.K) <= 1e-10 * ref.K


def test_deep_barrier_radial():
    """w = r^4/4 - r^2/2 at theta = 0.005 (d = 2): a barrier of 50 theta between the origin
    and the ring; the positive elimination keeps relative accuracy."""
    pot = P.radial_from_expression("r**4/4 - r**2/2", 2)
    ref = radial_reference(pot, 0.005)
    res = coefficients(pot, 0.005)
    assert ref.rel_error_estimate < 1e-9
    assert abs(res.D[0, 0] - ref.D) <= 1e-7 * ref.D and abs(res.K[0, 0] - ref.K) <= 1e-7 * ref.K


def test_bad_input():
    with pytest.raises(ValueError, match="RadialPotential"):
        radial_reference(P.from_expression("v**2"), 1.0)
    with pytest.raises(ValueError, match="theta"):
        radial_reference(P.ornstein_uhlenbeck_nd(2), -1.0)
