"""Tests of the independent quadrature reference :mod:`effcoef.reference.quadrature`.

Closed forms (Ornstein-Uhlenbeck family) check the double-precision rule;
the mpmath tanh-sinh reference (dps=30) checks it on multi-well potentials,
including the deep tunnelling regime theta = 1e-3.
"""
import math
import warnings

import numpy as np
import pytest

from effcoef.reference.quadrature import (
    QuadratureResult,
    quadrature_coefficients,
    quadrature_coefficients_mp,
)

try:  # the real potentials package
    from potentials import from_expression

    def make(expr, breakpoints=()):
        return from_expression(expr)

except ImportError:  # pragma: no cover - minimal stand-in
    from typing import NamedTuple

    import mpmath
    from scipy.optimize import brentq, minimize_scalar

    class _MI(NamedTuple):
        a: float
        b: float
        vmin: float
        Wmin: float

    class _StandIn:
        def __init__(self, expr, breakpoints=()):
            self.expr = expr
            self.breakpoints = tuple(breakpoints)

        def W(self, v):
            v = np.asarray(v, dtype=float)
            return eval(self.expr, {"abs": np.abs, "sqrt": np.sqrt, "v": v})

        def W_mp(self, v):
            return eval(self.expr, {"abs": abs, "sqrt": mpmath.sqrt,
                                    "v": mpmath.mpf(v)})

        def mass_interval(self, theta, tail=45.0):
            if not (math.isfinite(theta) and theta > 0):
                raise ValueError("theta")
            x = np.linspace(-60.0, 60.0, 400001)
            w = self.W(x)
            i = int(np.argmin(w))
            r = minimize_scalar(lambda t: float(self.W(t)),
                                bounds=(x[i - 1], x[i + 1]), method="bounded",
                                options={"xatol": 1e-14})
            Wmin = min(float(r.fun), float(w[i]))
            inside = np.nonzero((w - Wmin) / theta <= tail)[0]
            g = lambda t: (float(self.W(t)) - Wmin) / theta - tail  # noqa: E731
            a = brentq(g, x[inside[0] - 1], x[inside[0]], xtol=1e-15)
            b = brentq(g, x[inside[-1]], x[inside[-1] + 1], xtol=1e-15)
            return _MI(a, b, float(r.x), Wmin)

    def make(expr, breakpoints=()):
        return _StandIn(expr, breakpoints)


def rel(x, y):
    return abs(x - y) / abs(y)


# ---------------------------------------------------------------------------
# closed forms
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("theta", [0.1, 1.0, 3.0])
def test_ornstein_uhlenbeck(theta):
    r = quadrature_coefficients(make("v**2/2"), theta)
    assert isinstance(r, QuadratureResult)
    assert abs(r.V) <= 1e-13
    assert rel(r.K, 1.0) <= 1e-13
    assert rel(r.D, theta) <= 1e-13
    assert r.log_D == pytest.approx(math.log(theta), abs=1e-13)
    # log Z = log sqrt(2 pi theta) (Wmin = 0)
    assert r.log_Z == pytest.approx(0.5 * math.log(2 * math.pi * theta), abs=1e-13)
    assert r.Wmin == pytest.approx(0.0, abs=1e-14)
    a, b = r.domain
    assert a < -math.sqrt(2 * 79 * theta) and b > math.sqrt(2 * 79 * theta)
    assert r.n_nodes > 0 and isinstance(r.method, str)


@pytest.mark.parametrize("theta", [0.1, 1.0, 3.0])
@pytest.mark.parametrize("c", [1.0, -2.5])
def test_shifted_ou(theta, c):
    r = quadrature_coefficients(make(f"v**2/2 - ({c})*v"), theta)
    assert rel(r.V, c) <= 1e-13
    assert rel(r.K, 1.0) <= 1e-13
    assert rel(r.D, theta) <= 1e-13


@pytest.mark.parametrize("theta", [0.1, 1.0, 3.0])
@pytest.mark.parametrize("a", [0.25, 3.0])
def test_scaled_ou(theta, a):
    r = quadrature_coefficients(make(f"{a}*v**2/2"), theta)
    assert abs(r.V) <= 1e-13
    assert rel(r.K, 1.0 / a) <= 1e-13
    assert rel(r.D, theta / a**2) <= 1e-13


def test_ou_mp_closed_form():
    r = quadrature_coefficients_mp(make("v**2/2 - 1.5*v"), 0.5, dps=20)
    assert abs(r.V_mp - 1.5) < 1e-18
    assert abs(r.K_mp - 1) < 1e-18
    assert abs(r.D_mp / 0.5 - 1) < 1e-18
    assert (r.D, r.K, r.V) == (float(r.D_mp), float(r.K_mp), float(r.V_mp))


# ---------------------------------------------------------------------------
# double precision vs the mpmath reference
# ---------------------------------------------------------------------------
GAMMA = 5.0
MP_CASES = [
    ("v**4/4 - v**2/2", 1.0),
    ("v**4/4 - v**2/2", 0.1),
    ("v**4/4 - v**2/2", 0.02),
    (f"v**4/4 - sqrt({GAMMA})*abs(v)**3/3", 1.0 / GAMMA),
    ("v**4/4 - v**2/2 - 0.5*v", 0.2),
]


def _compare(expr, theta, tol):
    pot = make(expr, breakpoints=(0.0,) if "abs" in expr else ())
    with warnings.catch_warnings():
        warnings.simplefilter("error")       # no quad-accuracy warning
        ref = quadrature_coefficients_mp(pot, theta, dps=30)
        r = quadrature_coefficients(pot, theta)
    assert rel(r.D, ref.D) <= tol
    assert rel(r.K, ref.K) <= tol
    # V vanishes for symmetric W: compare on the scale of the domain
    assert abs(r.V - ref.V) <= tol * max(1.0, abs(ref.V))
    assert abs(r.log_D - ref.log_D) <= tol * max(1.0, abs(ref.log_D))
    assert abs(r.log_Z - ref.log_Z) <= tol * max(1.0, abs(ref.log_Z))
    return r, ref


@pytest.mark.parametrize("expr,theta", MP_CASES)
def test_double_vs_mp(expr, theta):
    r, ref = _compare(expr, theta, 1e-12)
    assert r.D > 0 and r.K > 0


# quadrature_coefficients_mp(v^4/4 - v^2/2, theta=1e-3, dps=30) (~5 s; the
# live comparison is test_deep_tunnelling_vs_mp, marked slow)
DEEP_LOG_D = 250.7981562955694130323536
DEEP_K = 998.9969756980011790134049


def test_deep_tunnelling():
    """W = v^4/4 - v^2/2, theta = 1e-3: M spans e^{-250}, D ~ e^{250}."""
    r = quadrature_coefficients(make("v**4/4 - v**2/2"), 1e-3)
    assert math.isfinite(r.log_D) and 240.0 < r.log_D < 260.0
    assert r.D == pytest.approx(math.exp(r.log_D), rel=1e-12)
    # relative error of D = |error of log D|
    assert abs(r.log_D - DEEP_LOG_D) <= 1e-10
    assert rel(r.K, DEEP_K) <= 1e-10
    assert abs(r.V) < 1e-12


@pytest.mark.slow
def test_deep_tunnelling_vs_mp():
    r, ref = _compare("v**4/4 - v**2/2", 1e-3, 1e-10)
    assert 240.0 < ref.log_D < 260.0 and 240.0 < r.log_D < 260.0
    assert abs(ref.log_D - DEEP_LOG_D) <= 1e-13


def test_overflowing_D_is_inf_with_finite_log():
    # barrier of height 1/4 at theta = 1/4000: D ~ e^{1000} overflows
    with pytest.warns(RuntimeWarning, match="overflow"):
        r = quadrature_coefficients(make("v**4/4 - v**2/2"), 2.5e-4)
    assert r.D == math.inf
    assert 980.0 < r.log_D < 1020.0
    assert math.isfinite(r.K) and math.isfinite(r.log_Z)


@pytest.mark.slow
@pytest.mark.parametrize("expr,theta", [("v**4/4 - v**2/2", 2.5e-4),
                                        ("v**4/4 - v**2/2 - 0.05*v", 0.01)])
def test_double_vs_mp_slow(expr, theta):
    pot = make(expr)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # D overflow
        r = quadrature_coefficients(pot, theta)
        ref = quadrature_coefficients_mp(pot, theta, dps=30)
    assert abs(r.log_D - ref.log_D) <= 1e-10 * abs(ref.log_D) + 1e-10
    assert rel(r.K, ref.K) <= 1e-10


# ---------------------------------------------------------------------------
# input validation
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("theta", [0.0, -1.0, float("nan"), float("inf"), "x", None])
def test_bad_theta(theta):
    pot = make("v**2/2")
    with pytest.raises(ValueError, match="theta must be a finite positive number"):
        quadrature_coefficients(pot, theta)
    with pytest.raises(ValueError, match="theta must be a finite positive number"):
        quadrature_coefficients_mp(pot, theta)


@pytest.mark.parametrize("dps", [10, 14, 20.5, "30"])
def test_bad_dps(dps):
    with pytest.raises(ValueError, match="dps"):
        quadrature_coefficients_mp(make("v**2/2"), 1.0, dps=dps)


def test_mp_does_not_change_global_precision():
    import mpmath
    before = mpmath.mp.dps
    quadrature_coefficients_mp(make("v**2/2"), 1.0, dps=20)
    assert mpmath.mp.dps == before
