"""Hermite functions and the Gaussian projections of effcoef.kinetic at large degree.

References: mpmath's Hermite polynomials at 60 digits (independent of the recurrence),
Parseval's identity for the projections (exact integrals of the Gaussian data), and the
trapezoidal rule on the checked Hermite functions (independent of the closed form).  Before the
scaled recurrence, h_0 underflowed to 0 beyond |y| ~ 38.6 and every h_n(y) there came out 0,
although h_n is O(1) up to its turning point sqrt(2n+1): at N = 1270, s = 0.13 the projections
lost 1e-6 of their norm (and D at U = 5 cos x, gamma = 1e-3 was off by 4e-7).
"""

import math

import mpmath as mp
import numpy as np
import pytest

from effcoef.kinetic import hermite_functions, hermite_gaussian_projections


@pytest.mark.parametrize("n, y", [(0, 0.3), (7, -2.5), (200, 12.0), (1000, 40.0),
                                  (1200, 45.5), (1300, -49.0), (900, 44.0)])
def test_hermite_functions_against_mpmath(n, y):
    with mp.workdps(60):
        ref = mp.hermite(n, y) * mp.exp(-mp.mpf(y) ** 2 / 2) / mp.sqrt(
            mp.power(2, n) * mp.factorial(n) * mp.sqrt(mp.pi))
    got = hermite_functions(n, np.array([y]))[n, 0]
    # the three-term recurrence is stable in the oscillatory region: relative error ~ n eps
    # there; beyond the turning point (900 at 44) the value is tiny and compared absolutely
    assert got == pytest.approx(float(ref), rel=1e-10, abs=1e-14)


@pytest.mark.parametrize("N, s, theta", [(40, 1.0, 1.0), (300, 0.3, 2.0), (1270, 0.1321, 1.0)])
def test_gaussian_projections_parseval_and_quadrature(N, s, theta):
    sigma = s * math.sqrt(2 * theta)
    g0, g1 = hermite_gaussian_projections(N, sigma, theta)
    # Parseval: int g0^2 = sqrt(2 pi theta), int (p g0)^2 = theta sqrt(2 pi theta); the
    # truncated tails are < 1e-20 here (coefficients decay like ((1-s^2)/(1+s^2))^(n/2))
    assert g0 @ g0 == pytest.approx(math.sqrt(2 * math.pi * theta), rel=1e-12)
    assert g1 @ g1 == pytest.approx(theta * math.sqrt(2 * math.pi * theta), rel=1e-12)
    assert np.all(g0[1::2] == 0.0) and np.all(g1[0::2] == 0.0)
    # all degrees against the trapezoidal rule (exponentially accurate for these entire,
    # decaying integrands) with the Hermite functions checked above, 16 points per local
    # wavelength of h_N; absolute 1e-11 against coefficients of order 1 (the round-off of
    # summing ~6e4 terms is ~1e-12; the underflow bug gave errors of 1e-7)
    pmax = max(math.sqrt(2 * N + 1) * sigma + 12 * sigma, math.sqrt(4 * theta * 45.0))
    h = min(sigma / math.sqrt(2 * N + 1), math.sqrt(theta)) / 8.0
    p = np.linspace(-pmax, pmax, 2 * int(math.ceil(pmax / h)) + 1)
    q0 = np.zeros(N + 1)
    q1 = np.zeros(N + 1)
    for chunk in np.array_split(p, max(1, p.size // 4000)):     # bounded memory
        H = hermite_functions(N, chunk / sigma) / math.sqrt(sigma)
        gauss = np.exp(-chunk * chunk / (4 * theta))
        q0 += H @ gauss
        q1 += H @ (chunk * gauss)
    dp = p[1] - p[0]
    assert np.abs(q0 * dp - g0).max() < 1e-11
    assert np.abs(q1 * dp - g1).max() < 1e-11
