"""potentials.periodic: periodic potentials from expressions, derivatives, the periodicity check."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import potentials
from potentials import PeriodicityError, periodic_from_expression


def test_derivatives_exact_1d():
    u = periodic_from_expression("0.7*cos(2*pi*x/3) + 0.2*sin(4*pi*x/3)", 3.0)
    x = np.linspace(0, 3, 11)
    k = 2 * math.pi / 3
    assert u.dim == 1 and u.period == (3.0,)
    np.testing.assert_allclose(u.U(x), 0.7 * np.cos(k * x) + 0.2 * np.sin(2 * k * x), atol=1e-15)
    np.testing.assert_allclose(u.grad(x)[0], -0.7 * k * np.sin(k * x)
                               + 0.4 * k * np.cos(2 * k * x), atol=1e-14)
    np.testing.assert_allclose(u.hess_diag(x)[0], -0.7 * k * k * np.cos(k * x)
                               - 0.8 * k * k * np.sin(2 * k * x), atol=1e-13)


def test_derivatives_exact_2d():
    d = 0.3
    u = periodic_from_expression(f"-(cos(x1) + cos(x2))/2 - {d}*cos(x1)*cos(x2)", 2 * math.pi)
    X = np.random.default_rng(0).uniform(0, 2 * math.pi, (2, 20))
    c1, c2, s1, s2 = np.cos(X[0]), np.cos(X[1]), np.sin(X[0]), np.sin(X[1])
    assert u.dim == 2 and u.period == (2 * math.pi, 2 * math.pi)
    np.testing.assert_allclose(u.grad(X)[0], s1 / 2 + d * s1 * c2, atol=1e-15)
    np.testing.assert_allclose(u.grad(X)[1], s2 / 2 + d * c1 * s2, atol=1e-15)
    np.testing.assert_allclose(u.hess_diag(X)[1], c2 / 2 + d * c1 * c2, atol=1e-15)
    assert float(u.U_mp([0, 0])) == pytest.approx(-1 - d, abs=1e-15)


@pytest.mark.parametrize("text, period, where", [
    ("cos(x)", 1.0, "in x with period 1"),                       # wrong period
    ("cos(2*pi*x) + 0.1*x", 1.0, "in x with period 1"),          # a tilt written into U
    ("cos(x1) + x2", 2 * math.pi, "in x2"),
    ("cos(x1) + cos(2*x2)", (2 * math.pi, 3.0), "in x2 with period 3"),
])
def test_non_periodic_is_one_line_error_naming_direction(text, period, where):
    with pytest.raises(PeriodicityError) as e:
        periodic_from_expression(text, period)
    msg = str(e.value)
    assert "\n" not in msg and where in msg and "not periodic" in msg


@pytest.mark.parametrize("period", [0.0, -1.0, math.inf, math.nan, "a", (1.0, 2.0, 3.0), True])
def test_bad_period(period):
    with pytest.raises(ValueError) as e:
        periodic_from_expression("cos(2*pi*x)", period)
    assert "period" in str(e.value)


def test_bad_names():
    with pytest.raises(potentials.ExpressionError):
        periodic_from_expression("cos(x) + cos(x1)", 1.0)
    with pytest.raises(potentials.ExpressionError):
        periodic_from_expression("cos(v)", 1.0)
    with pytest.raises(potentials.ExpressionError):
        periodic_from_expression("__import__('os')", 1.0)


@settings(max_examples=30, deadline=None)
@given(a=st.floats(-5, 5), b=st.floats(-5, 5), k=st.integers(1, 4), L=st.floats(0.1, 20))
def test_trigonometric_polynomials_pass_and_shifts_fail(a, b, k, L):
    """Any trigonometric polynomial with the cell's period passes; adding a non-zero linear
    term (U(x + L) - U(x) = s L) fails once s L is above the tolerance."""
    text = f"{a!r}*cos(2*pi*{k}*x/{L!r}) + {b!r}*sin(2*pi*x/{L!r})"
    u = periodic_from_expression(text, L)
    assert u.check_periodic()
    with pytest.raises(PeriodicityError):
        periodic_from_expression(text + f" + {1e-3 * (1 + abs(a) + abs(b)) / L!r}*x", L)
