"""effcoef.reference.periodic (closed forms) and effcoef.reference.periodic_fourier (a second
discretisation): checked against exact values and limits, never against the solver."""

import ast
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import i0

import potentials as P
from effcoef.reference.periodic import (
    cosine_lifson_jackson,
    critical_tilt,
    eyring_kramers_gap,
    lifson_jackson,
    tilted_coefficients,
)
from effcoef.reference.periodic_fourier import fourier_coefficients

TWO_BUMP = "cos(2*pi*x) + 0.6*cos(4*pi*x + 0.4)"


@pytest.mark.parametrize("name", ["periodic.py", "periodic_fourier.py"])
def test_references_import_no_discretisation(name):
    """Independence: no finite elements, eigensolver or the route itself."""
    src = (Path(__file__).resolve().parents[1] / "effcoef" / "reference" / name).read_text()
    mods = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.ImportFrom):
            mods.add(("." * node.level) + (node.module or ""))
        elif isinstance(node, ast.Import):
            mods.update(a.name for a in node.names)
    banned = ("fem", "spectrum", "periodic", "solver", "series", "radial", "skfem")
    for m in mods:
        if m.startswith("."):
            assert not any(b in m for b in banned), m
        assert "skfem" not in m and "effcoef" not in m, m


@pytest.mark.parametrize("ratio", [0.1, 1.0, 5.0, 20.0, 50.0, 200.0])
def test_lifson_jackson_cosine_is_bessel(ratio):
    """D/theta = I0(V0/theta)^-2 (mpmath-free: i0 directly where it does not overflow)."""
    theta = 1.0 / ratio
    r = lifson_jackson("cos(2*pi*x)", theta)
    exact = cosine_lifson_jackson(1.0, theta)                   # log(D/theta)
    assert abs(r.log_D - math.log(theta) - exact) <= 1e-13 * max(1.0, abs(exact))
    if ratio <= 50:
        assert abs(math.exp(exact) * i0(ratio) ** 2 - 1) <= 1e-13
    assert r.rel_error_estimate <= 1e-12


def test_lifson_jackson_period_scaling():
    """U(x) = cos(2 pi x / L): both integrals scale like L, so D = theta / I0^2 for every L."""
    a = lifson_jackson(P.cosine_potential(1.0, 1.0), 0.3).D
    b = lifson_jackson(P.cosine_potential(1.0, 2.5), 0.3).D
    assert b == pytest.approx(a, rel=1e-13)


def test_tilted_flat_potential():
    """U = 0: V = F, D = theta exactly."""
    r = tilted_coefficients("0*x", 0.3, 2.0)
    assert r.V == pytest.approx(2.0, rel=1e-13) and r.D == pytest.approx(0.3, rel=1e-13)


@pytest.mark.parametrize("F", [1e-9, 1e-6, -1e-6])
def test_tilted_small_force_linear_response(F):
    """F -> 0: D -> Lifson-Jackson and V = F D / theta (Einstein relation) + O(F^2)... odd in F
    for an even U, so O(F^3)."""
    theta = 0.4
    lj = lifson_jackson("cos(2*pi*x)", theta)
    r = tilted_coefficients("cos(2*pi*x)", theta, F)
    assert r.D == pytest.approx(lj.D, rel=1e-9)
    assert r.V == pytest.approx(F * lj.D / theta, rel=1e-9)


def test_tilted_sign_symmetry_even_potential():
    a = tilted_coefficients("cos(2*pi*x)", 0.2, 3.0)
    b = tilted_coefficients("cos(2*pi*x)", 0.2, -3.0)
    assert b.V == pytest.approx(-a.V, rel=1e-13) and b.D == pytest.approx(a.D, rel=1e-13)


@pytest.mark.parametrize("theta, F", [(0.3, 3.0), (0.05, 8.0), (0.03, 1e-3), (0.03, 6.0)])
def test_recurrence_equals_direct_double_sum(theta, F):
    a = tilted_coefficients(TWO_BUMP, theta, F)
    b = tilted_coefficients(TWO_BUMP, theta, F, direct=True)
    assert a.D == pytest.approx(b.D, rel=1e-12) and a.V == pytest.approx(b.V, rel=1e-12)
    assert a.rel_error_estimate <= 1e-11


def test_locked_particle_keeps_relative_accuracy():
    """theta = 0.02, F = 0.001: V ~ 1e-56 (Einstein relation with D ~ 3e-55)."""
    r = tilted_coefficients(TWO_BUMP, 0.02, 1e-3)
    lj = lifson_jackson(TWO_BUMP, 0.02)
    assert 0 < r.V < 1e-50
    assert r.V == pytest.approx(1e-3 * r.D / 0.02, rel=1e-3)      # F L / theta = 0.05: O(F^2)
    assert r.D == pytest.approx(lj.D, rel=0.1)


def test_critical_tilt_cosine():
    assert critical_tilt(P.cosine_potential(1.3, 2.0)) == pytest.approx(2 * math.pi * 1.3 / 2.0,
                                                                      rel=1e-8)


def test_eyring_kramers_two_wells_symmetric_limit():
    """cos(4 pi x): two identical wells per unit cell; each escapes over two barriers of
    height 2 with U'' = +-16 pi^2: lambda_1 ~ 2 * 2 * 16 pi^2/(2 pi) e^{-2/theta}."""
    lam, rates = eyring_kramers_gap("cos(4*pi*x)", 0.1)
    assert lam == pytest.approx(4 * 16 * math.pi ** 2 / (2 * math.pi) * math.exp(-20), rel=1e-9)
    with pytest.raises(ValueError):
        eyring_kramers_gap("cos(2*pi*x)", 0.1)


@pytest.mark.parametrize("theta, F", [(0.5, 0.0), (0.5, 2.0), (0.3, -5.0)])
def test_fourier_1d_against_closed_forms(theta, F):
    f = fourier_coefficients(TWO_BUMP, theta, force=F, K=60)
    ref = tilted_coefficients(TWO_BUMP, theta, F)
    assert f.D[0, 0] == pytest.approx(ref.D, rel=1e-11)
    assert f.V[0] == pytest.approx(ref.V, rel=1e-11, abs=1e-14)
    assert f.rel_error_estimate <= 1e-10


def test_fourier_2d_separable_is_product():
    """U = U1(x1) + U2(x2), F = (F1, F2): D = diag(D1, D2), V = (V1, V2)."""
    f = fourier_coefficients("cos(2*pi*x1) + 0.5*sin(2*pi*x2)", 0.7, period=(1.0, 1.0),
                             force=(1.5, -0.5), K=14)
    a = tilted_coefficients("cos(2*pi*x)", 0.7, 1.5)
    b = tilted_coefficients("0.5*sin(2*pi*x)", 0.7, -0.5)
    np.testing.assert_allclose(np.diag(f.D), [a.D, b.D], rtol=1e-10)
    assert abs(f.D[0, 1]) <= 1e-12
    np.testing.assert_allclose(f.V, [a.V, b.V], rtol=1e-10)


@settings(max_examples=15, deadline=None)
@given(a=st.floats(0.1, 2.0), b=st.floats(-1.0, 1.0), theta=st.floats(0.2, 2.0),
       F=st.floats(-10.0, 10.0))
def test_fourier_1d_property_against_closed_forms(a, b, theta, F):
    """Random trigonometric U, temperatures and tilts: the two independent methods agree
    within their combined estimates."""
    U = f"{a!r}*cos(2*pi*x) + {b!r}*sin(4*pi*x)"
    ref = tilted_coefficients(U, theta, F)
    f = fourier_coefficients(U, theta, force=F, K=48)
    tol = 10 * max(f.rel_error_estimate, ref.rel_error_estimate) + 1e-11
    assert abs(f.D[0, 0] - ref.D) <= tol * ref.D
    assert abs(f.V[0] - ref.V) <= tol * max(abs(ref.V), 1e-300) + 1e-14


def test_bad_input():
    with pytest.raises(ValueError):
        tilted_coefficients("cos(2*pi*x)", 0.0, 1.0)
    with pytest.raises(ValueError):
        tilted_coefficients("cos(2*pi*x)", 1.0, math.inf)
    with pytest.raises(ValueError):
        lifson_jackson("cos(x)", 1.0)                  # not periodic with period 1
