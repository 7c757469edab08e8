"""Tests of the 2D/3D potentials (`potentials.nd`), fast."""

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import potentials as P
from potentials import (
    ExpressionError,
    MassBox,
    NonConfiningError,
    PotentialND,
    RadialPotential,
    from_expression,
    from_expression_nd,
)

RNG = np.random.default_rng(12345)
# random points of [-2, 2]^d (none at the origin or on the axes in practice)
PTS = {2: RNG.uniform(-2.0, 2.0, size=(2, 40)), 3: RNG.uniform(-2.0, 2.0, size=(3, 40))}

# ---------------------------------------------------------------------------
# finite differences
#
# Central differences with step h = 1e-5: truncation error h^2 |f'''|/6 ~ 2e-11 |f'''|,
# rounding error ~ eps |f| / h ~ 2e-11 |f|.  The gradient is checked against
# differences of W, the Laplacian against the divergence of the (exact)
# gradient by differences, i.e. always first differences (a second difference
# of W would have rounding error eps |W| / h^2 ~ 2e-6 |W|).  With |f|, |f'''|
# of order 1..1e3 on [-2, 2]^d a relative tolerance of 1e-7 on the scale
# 1 + |f| + |f'| leaves a margin of >= 10.
H = 1e-5
FD_RTOL = 1e-7


def _fd_grad(p, V, h=H):
    d = V.shape[0]
    out = np.empty_like(V)
    for i in range(d):
        e = np.zeros((d, 1))
        e[i] = h
        out[i] = (p.W(V + e) - p.W(V - e)) / (2 * h)
    return out


def _fd_lap(p, V, h=H):
    d = V.shape[0]
    out = np.zeros(V.shape[1:])
    for i in range(d):
        e = np.zeros((d, 1))
        e[i] = h
        out += (p.grad(V + e)[i] - p.grad(V - e)[i]) / (2 * h)
    return out


def _check_fd(p, V=None):
    V = PTS[p.dim] if V is None else V
    g, lap = p.grad(V), p.laplacian(V)
    assert g.shape == V.shape and lap.shape == V.shape[1:]
    scale1 = 1 + np.abs(p.W(V)) + np.abs(g)
    np.testing.assert_array_less(np.abs(_fd_grad(p, V) - g), FD_RTOL * scale1)
    scale2 = 1 + np.sum(np.abs(g), axis=0) + np.abs(lap)
    np.testing.assert_array_less(np.abs(_fd_lap(p, V) - lap), FD_RTOL * scale2)


EXPRESSIONS = {
    2: ["(v1**2 + v2**2)**2/4 - (v1**2+v2**2)/2",
        "v1**4/4 - v1**2/2 + v2**2/2 + 0.3*v1*v2",
        "exp(-v1**2)*cos(v2) + v1**4 + v2**6",
        "log(cosh(v1 - v2)) + sqrt(1 + v1**2*v2**2) + v2**4",
        "tanh(v1)*v2**2 + sin(v1*v2) + (v1**2 + v2**2)**1.5"],
    3: ["(v1**2 + v2**2 + v3**2)**2/4 - (v1**2 + v2**2 + v3**2)/2",
        "v1**4 + v2**2*v3**2 + exp(v3/2) - v1*v2*v3 + abs(v3)**3"],
}


@pytest.mark.parametrize("dim,text", [(d, t) for d in EXPRESSIONS for t in EXPRESSIONS[d]])
def test_expression_fd(dim, text):
    _check_fd(from_expression_nd(text, dim))


CLOSED = {
    "(v1**2 + v2**2)**2/4 - (v1**2+v2**2)/2": (
        lambda x, y: (x**2 + y**2) ** 2 / 4 - (x**2 + y**2) / 2,
        lambda x, y: ((x**2 + y**2 - 1) * x, (x**2 + y**2 - 1) * y),
        lambda x, y: 4 * (x**2 + y**2) - 2),
    "v1**4/4 - v1**2/2 + v2**2/2 + 0.3*v1*v2": (
        lambda x, y: x**4 / 4 - x**2 / 2 + y**2 / 2 + 0.3 * x * y,
        lambda x, y: (x**3 - x + 0.3 * y, y + 0.3 * x),
        lambda x, y: 3 * x**2 - 1 + 1),
}


@pytest.mark.parametrize("text", sorted(CLOSED))
def test_expression_closed_forms(text):
    p = from_expression_nd(text, 2)
    fW, fG, fL = CLOSED[text]
    V = PTS[2]
    x, y = V
    np.testing.assert_allclose(p.W(V), fW(x, y), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(p.grad(V), np.stack(fG(x, y)), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(p.laplacian(V), fL(x, y), rtol=1e-13, atol=1e-13)
    # scalar point and higher-dimensional batches
    assert p.W(np.array([0.5, -0.25])).shape == ()
    assert p.grad(np.zeros((2, 3, 4))).shape == (2, 3, 4)
    assert p.laplacian(np.zeros((2, 3, 4))).shape == (3, 4)


def test_expression_string_forms_and_mp():
    p = from_expression_nd("v1**2*v2 + v2**3/3 + v3", 3)
    assert p.expr == "v1**2*v2 + v2**3/3 + v3"
    assert len(p.grad_expr) == 3 and isinstance(p.laplacian_expr, str)
    # the string forms are themselves valid expressions with the same values
    V = PTS[3]
    for i, s in enumerate(p.grad_expr):
        np.testing.assert_allclose(from_expression_nd(s, 3).W(V), p.grad(V)[i], rtol=1e-14)
    np.testing.assert_allclose(from_expression_nd(p.laplacian_expr, 3).W(V),
                               2 * V[1] + 2 * V[1], rtol=1e-13, atol=1e-13)
    with mp.workdps(40):
        w = p.W_mp(["0.1", "0.2", "0.3"])
        exact = mp.mpf("0.1") ** 2 * mp.mpf("0.2") + mp.mpf("0.2") ** 3 / 3 + mp.mpf("0.3")
        assert abs(w - exact) < mp.mpf(10) ** -38


@pytest.mark.parametrize("text,dim", [
    ("v1 + v3", 2), ("x**2", 2), ("v**2", 2), ("v1.real", 2), ("foo(v1)", 2),
    ("__import__('os')", 2), ("v1 + v4", 3), ("np.exp(v1)", 3), ("lambda: v1", 2),
    ("v1 ^ 2", 2), ("exp(v1, v2)", 2)])
def test_parser_rejects(text, dim):
    with pytest.raises(ExpressionError):
        from_expression_nd(text, dim)


def test_parser_messages_and_1d_unchanged():
    with pytest.raises(ExpressionError, match="'v3'.*'v1', 'v2', 'pi', 'e'"):
        from_expression_nd("v1 + v3", 2)
    from_expression_nd("v1 + v3", 3)
    # the 1D parser still accepts only its own variable, message unchanged
    with pytest.raises(ExpressionError, match=r"allowed: the variable 'v', 'pi', 'e'"):
        from_expression("v1**2")
    with pytest.raises(ValueError):
        from_expression_nd("v1", 4)


# ---------------------------------------------------------------------------
# library


def _library():
    R2 = np.array([[math.cos(0.7), -math.sin(0.7)], [math.sin(0.7), math.cos(0.7)]])
    sep = P.separable(P.case_a(2.0), P.ornstein_uhlenbeck())
    return {
        "swarming2": P.swarming(1.5, 2).as_cartesian(),
        "swarming3": P.swarming(1.5, 3, rescaled=True).as_cartesian(),
        "ou3": P.ornstein_uhlenbeck_nd(3).as_cartesian(),
        "sep": sep,
        "sep3": P.separable(P.case_b(2.0), P.fitzhugh_nagumo(0.2), P.double_well(1.0)),
        "rot": P.rotated(sep, R2),
        "tilt": P.tilted(P.rotated(sep, R2), [0.3, -0.2]),
        "radial_expr": P.radial_from_expression("r**6/6 - r**2 + exp(-r**2)", 3).as_cartesian(),
    }


@pytest.mark.parametrize("key", sorted(_library()))
def test_library_fd(key):
    _check_fd(_library()[key])


@pytest.mark.parametrize("dim", [2, 3])
def test_swarming_cartesian_closed_form(dim):
    g = 1.7
    p = P.swarming(g, dim).as_cartesian()
    V = PTS[dim]
    r2 = np.sum(V**2, axis=0)
    np.testing.assert_allclose(p.W(V), r2**2 / (4 * g) - r2 / 2, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(p.grad(V), (r2 / g - 1) * V, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(p.laplacian(V), (dim + 2) * r2 / g - dim, rtol=1e-12, atol=1e-13)
    # the origin: gradient 0, Laplacian d w''(0) = -d
    z = np.zeros(dim)
    assert np.all(p.grad(z) == 0) and p.laplacian(z) == -dim and p.W(z) == 0
    assert p.symmetric and p.dim == dim and p.theta is None


def test_separable_rotated_tilted_values():
    a, ou = P.case_a(2.0), P.ornstein_uhlenbeck()
    sep = P.separable(a, ou)
    V = PTS[2]
    np.testing.assert_array_equal(sep.W(V), a.W(V[0]) + ou.W(V[1]))
    np.testing.assert_array_equal(sep.laplacian(V), a.d2W(V[0]) + 1.0)
    assert sep.theta is None  # the components carry different theta (0.5 and None)
    assert P.separable(a, P.case_a(2.0, rescaled=True)).theta == 0.5
    th = 0.4
    R = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
    rot = P.rotated(sep, R)
    np.testing.assert_allclose(rot.W(R @ V), sep.W(V), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(rot.grad(R @ V), R @ sep.grad(V), rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(rot.laplacian(R @ V), sep.laplacian(V), rtol=1e-12, atol=1e-13)
    # a radial potential is rotation invariant
    rad = P.swarming(1.0, 2).as_cartesian()
    np.testing.assert_allclose(P.rotated(rad, R).W(V), rad.W(V), rtol=1e-13, atol=1e-13)
    F = np.array([0.3, -0.2])
    t = P.tilted(sep, F)
    np.testing.assert_allclose(t.W(V), sep.W(V) - F @ V, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(t.grad(V), sep.grad(V) - F[:, None], rtol=1e-14, atol=1e-14)
    with pytest.raises(ValueError, match="orthogonal"):
        P.rotated(sep, [[1.0, 0.1], [0.0, 1.0]])
    with pytest.raises(ValueError):
        P.rotated(sep, np.eye(3))
    with pytest.raises(ValueError):
        P.tilted(sep, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError):
        P.separable(a)


def test_symmetry_detection():
    a, c, ou = P.case_a(2.0), P.case_c(2.0, 0.5), P.ornstein_uhlenbeck()
    R = np.array([[0.6, -0.8], [0.8, 0.6]])
    assert P.separable(a, ou).symmetric
    assert not P.separable(c, ou).symmetric
    assert P.rotated(P.separable(a, ou), R).symmetric
    assert not P.rotated(P.separable(c, ou), R).symmetric
    assert not P.tilted(P.separable(a, ou), [0.1, 0.0]).symmetric
    assert P.tilted(P.separable(a, ou), [0.0, 0.0]).symmetric
    assert P.ornstein_uhlenbeck_nd(3).as_cartesian().symmetric
    assert from_expression_nd("v1**4/4 - v1**2/2 + v2**2/2 + 0.3*v1*v2", 2).symmetric
    assert not from_expression_nd("v1**4 + v2**4 + v1**3", 2).symmetric
    assert not from_expression_nd("v1**4 + v2**4 + v3**4 + v1*v2*v3", 3).symmetric
    assert not from_expression_nd("v1**4 + v2**4", 2, symmetric=False).symmetric


# ---------------------------------------------------------------------------
# mass box


@pytest.mark.parametrize("dim,step", [(2, 32 / 200), (3, 32 / 60)])
def test_mass_box_ou(dim, step):
    # R = 16 is the first accepted cube (W = 32 < 45 on the boundary of [-8, 8]^d)
    mb = P.ornstein_uhlenbeck_nd(dim).as_cartesian().mass_box(1.0, tail=45.0)
    assert isinstance(mb, MassBox)
    s = math.sqrt(90.0)
    assert mb.lower.shape == mb.upper.shape == mb.vmin.shape == (dim,)
    assert np.all(mb.lower <= -s) and np.all(mb.upper >= s)
    assert np.all(mb.lower >= -s - step) and np.all(mb.upper <= s + step)
    # the bisection actually makes it tight
    np.testing.assert_allclose(mb.upper, s, rtol=1e-8)
    np.testing.assert_allclose(mb.lower, -s, rtol=1e-8)
    assert mb.Wmin == pytest.approx(0.0, abs=1e-14)
    np.testing.assert_allclose(mb.vmin, 0.0, atol=1e-7)


def test_mass_box_separable_contains_1d_intervals():
    a, ou = P.case_a(4.0), P.ornstein_uhlenbeck()
    theta = 0.25
    mb = P.separable(a, ou).mass_box(theta)
    for k, p in enumerate((a, ou)):
        mi = p.mass_interval(theta)
        assert mb.lower[k] <= mi.a and mb.upper[k] >= mi.b
        # the sublevel extent along axis k is exactly the 1D interval
        assert mb.lower[k] == pytest.approx(mi.a, rel=1e-8)
        assert mb.upper[k] == pytest.approx(mi.b, rel=1e-8)
    assert mb.Wmin == pytest.approx(a.mass_interval(theta).Wmin, abs=1e-12)
    assert abs(abs(mb.vmin[0]) - 1.0) < 1e-6 and abs(mb.vmin[1]) < 1e-6


def test_mass_box_tilted_and_rotated_contains_sublevel_set():
    # tilted OU: minimum at F, Wmin = -|F|^2/2, box F +- sqrt(2 tail theta)
    F = np.array([0.7, -1.3])
    mb = P.tilted(P.ornstein_uhlenbeck_nd(2), F).mass_box(2.0, tail=10.0)
    np.testing.assert_allclose(mb.vmin, F, atol=1e-7)
    assert mb.Wmin == pytest.approx(-F @ F / 2, abs=1e-12)
    np.testing.assert_allclose(mb.upper, F + math.sqrt(40.0), rtol=1e-8)
    np.testing.assert_allclose(mb.lower, F - math.sqrt(40.0), rtol=1e-8)
    # anisotropic rotated double well: brute force on a fine grid
    th = 0.5
    R = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
    p = P.rotated(P.separable(P.case_a(1.0), P.power_law(4.0, 2.0, gamma=0.1)), R)
    theta, tail = 0.5, 20.0
    mb = p.mass_box(theta, tail)
    x = np.linspace(-8, 8, 1601)
    G = np.stack(np.meshgrid(x, x, indexing="ij"))
    inside = p.W(G) <= mb.Wmin + tail * theta
    pts = G[:, inside]
    assert np.all(pts.min(axis=1) >= mb.lower) and np.all(pts.max(axis=1) <= mb.upper)
    # ... and not much larger than the brute-force extent (fine grid step 0.01)
    assert np.all(mb.lower >= pts.min(axis=1) - 0.011)
    assert np.all(mb.upper <= pts.max(axis=1) + 0.011)


@pytest.mark.parametrize("text", ["-v1**2 + v2**2", "v1**3 + v2**2", "v1**2", "v1**2 + log(1 + v2**2)"])
def test_mass_box_nonconfining(text):
    with pytest.raises(NonConfiningError, match="not confining"):
        from_expression_nd(text, 2).mass_box(1.0)


def test_mass_box_nonconfining_3d_and_nan():
    with pytest.raises(NonConfiningError):
        from_expression_nd("v1**2 + v2**2", 3).mass_box(1.0)
    with pytest.raises(NonConfiningError, match="not finite"):
        from_expression_nd("v1**2 + v2**2 + log(v1)", 2).mass_box(1.0)
    # nan only far out (v1 < -100), outside the accepted cube [-16, 16]^2: accepted,
    # as in the 1D mass_interval
    mb = from_expression_nd("v1**2/2 + v2**2/2 + log(v1 + 100)", 2).mass_box(1.0)
    assert np.all(mb.upper - mb.lower < 20)


@pytest.mark.parametrize("theta", [0.0, -1.0, float("nan"), float("inf")])
def test_theta_validation(theta):
    with pytest.raises(ValueError, match="theta"):
        P.ornstein_uhlenbeck_nd(2).as_cartesian().mass_box(theta)
    with pytest.raises(ValueError, match="theta"):
        P.ornstein_uhlenbeck_nd(2).mass_interval(theta)


# ---------------------------------------------------------------------------
# radial potentials


def test_radial_mass_interval_swarming():
    mi = P.swarming(1.0, 2).mass_interval(1.0)
    # r^4/4 - r^2/2 = -1/4 + 45  <=>  r^2 = 1 + sqrt(180)
    assert mi.a == 0.0
    assert mi.b == pytest.approx(math.sqrt(1 + math.sqrt(180.0)), rel=1e-12)
    assert mi.vmin == pytest.approx(1.0, abs=1e-7) and mi.Wmin == pytest.approx(-0.25, abs=1e-13)
    sw = P.swarming(4.0, 3, rescaled=True)
    assert sw.theta == 0.25 and sw.dim == 3 and isinstance(sw, RadialPotential)
    mi = sw.mass_interval(sw.theta)
    # r^4/4 - r^2/2 = -1/4 + 45 theta  <=>  r^2 = 1 + 2 sqrt(45 theta)
    assert mi.b == pytest.approx(math.sqrt(1 + 2 * math.sqrt(45 * 0.25)), rel=1e-12)
    # original variables: W = r^4/(4 gamma) - r^2/2, Wmin = -gamma/4 at r = sqrt(gamma)
    mi = P.swarming(4.0, 2).mass_interval(1.0)
    assert mi.vmin == pytest.approx(2.0, abs=1e-7) and mi.Wmin == pytest.approx(-1.0, abs=1e-12)
    # r^2 = gamma + 2 sqrt(gamma tail theta)
    assert mi.b == pytest.approx(math.sqrt(4.0 + 2 * math.sqrt(4.0 * 45.0)), rel=1e-12)
    mi = P.ornstein_uhlenbeck_nd(3).mass_interval(1.0)
    assert mi == (0.0, pytest.approx(math.sqrt(90.0), rel=1e-12), pytest.approx(0.0, abs=1e-7),
                  pytest.approx(0.0, abs=1e-14))


def test_radial_profile_methods():
    rp = P.radial_from_expression("r**4/4 - r**2/2", 2, theta=0.5)
    r = np.array([0.0, 0.5, 1.3, 2.0])
    np.testing.assert_allclose(rp.W(r), r**4 / 4 - r**2 / 2, rtol=1e-15)
    np.testing.assert_allclose(rp.dW(r), r**3 - r, rtol=1e-15)
    np.testing.assert_allclose(rp.d2W(r), 3 * r**2 - 1, rtol=1e-15)
    assert rp.theta == 0.5 and rp.profile.theta == 0.5 and rp.dim == 2
    with mp.workdps(30):
        assert abs(rp.W_mp("0.5") - (mp.mpf("0.5") ** 4 / 4 - mp.mpf("0.5") ** 2 / 2)) < 1e-29
    # profile given only for r >= 0 (sqrt(r) undefined for r < 0) still works
    rp2 = P.radial_from_expression("r**2 + sqrt(r)**3", 2)
    mi = rp2.mass_interval(1.0)
    assert mi.a == 0.0 and rp2.W(mi.b) == pytest.approx(45.0, rel=1e-12)
    with pytest.raises(ExpressionError):
        P.radial_from_expression("v**2", 2)
    with pytest.raises(ValueError):
        RadialPotential(P.ornstein_uhlenbeck(), 1)


@pytest.mark.parametrize("text", ["r", "-r**2", "log(1 + r)", "r**4 - 2*r**6"])
def test_radial_nonconfining(text):
    with pytest.raises(NonConfiningError):
        P.radial_from_expression(text, 2).mass_interval(1.0)


def test_radial_cartesian_consistency():
    rp = P.radial_from_expression("r**4/8 - r**2 + cosh(r)", 3)
    c = rp.as_cartesian()
    assert isinstance(c, PotentialND) and c.dim == 3
    V = PTS[3]
    r = np.sqrt(np.sum(V**2, axis=0))
    np.testing.assert_allclose(c.W(V), rp.W(r), rtol=1e-14)
    mb = c.mass_box(1.0)
    mi = rp.mass_interval(1.0)
    assert mb.Wmin == pytest.approx(mi.Wmin, abs=1e-10)
    np.testing.assert_allclose(mb.upper, mi.b, rtol=1e-7)
    np.testing.assert_allclose(mb.lower, -mi.b, rtol=1e-7)


# ---------------------------------------------------------------------------------------
# sublevel_bbox_nd: the outer bounding box of a sublevel set (exact for ellipsoids)



@settings(max_examples=12, deadline=None)
@given(dim=st.sampled_from([2, 3]), seed=st.integers(0, 2 ** 31 - 1),
       c=st.floats(0.5, 50.0))
def test_sublevel_bbox_ellipsoid_exact(dim, seed, c):
    """{v^T Q v <= c} has the exact half-widths sqrt(c (Q^-1)_ii) about 0: the bbox must
    contain them (it is an outer box) and be tight to the requested width (it may exceed
    them by at most two boxes of min_width)."""
    from potentials.bnb import sublevel_bbox_nd

    rng = np.random.default_rng(seed)
    G = rng.normal(size=(dim, dim))
    Q = G @ G.T + 0.3 * np.eye(dim)
    names = [f"v{i + 1}" for i in range(dim)]
    expr = " + ".join(f"({float(Q[i, j])!r})*{names[i]}*{names[j]}"
                      for i in range(dim) for j in range(dim))
    pot = P.from_expression_nd(expr, dim)
    half = np.sqrt(c * np.diag(np.linalg.inv(Q)))
    R = 2.0 * half.max() + 1.0
    lo, hi = -R * np.ones(dim), R * np.ones(dim)
    mw = {2: 1e-3, 3: 1e-2}[dim] * (hi - lo)          # the defaults
    out = sublevel_bbox_nd(pot, lo, hi, c, min_width=mw)
    assert out is not None
    blo, bhi = out
    assert np.all(blo <= -half * (1 - 1e-12)) and np.all(bhi >= half * (1 - 1e-12))
    assert np.all(bhi - half <= 2 * mw + 1e-12) and np.all(-half - blo <= 2 * mw + 1e-12)


def test_sublevel_bbox_empty_and_budget():
    from potentials.bnb import sublevel_bbox_nd

    pot = P.from_expression_nd("v1**2 + v2**2 + 1", 2)
    assert sublevel_bbox_nd(pot, [-2, -2], [2, 2], 0.5) is None       # W >= 1 > level
    # a budget too small for the requested width: still an outer box (the whole search box
    # at worst), never a smaller one
    blo, bhi = sublevel_bbox_nd(pot, [-4, -4], [4, 4], 2.0, min_width=1e-9, max_boxes=64)
    assert np.all(blo <= -1.0) and np.all(bhi >= 1.0)


def test_turned_box_matches_exact_extent():
    """effcoef.domain.turned_box: the box of W(R y) from the box of W, against the exact
    half-widths of the turned ellipsoid {y^T R^T Q R y <= level theta}."""
    from effcoef.domain import select_box, turned_box

    Q = np.diag([1.0, 4.0, 9.0]) / 2
    a = 0.6
    R = np.array([[math.cos(a), -math.sin(a), 0], [math.sin(a), math.cos(a), 0], [0, 0, 1]])
    pot = P.from_expression_nd("v1**2/2 + 2*v2**2 + 4.5*v3**2", 3)
    th = 0.5
    box = select_box(pot, th, target=1e-8, tail=30.0)
    tb = turned_box(box, P.rotated(pot, R.T), R, th, target=1e-8, tail=30.0)
    Qt = R.T @ Q @ R
    half = np.sqrt(box.level * th * np.diag(np.linalg.inv(Qt)))
    assert np.all(tb.lower <= -half * (1 - 1e-12)) and np.all(tb.upper >= half * (1 - 1e-12))
    # tight to 1e-2 of the search box (two boxes at most) and certified
    assert np.all(tb.upper - half <= 0.1 * half) and tb.certified
    np.testing.assert_allclose(tb.vmin, R.T @ box.vmin, atol=1e-12)


# --- radial W read off the expression tree (potentials.nd.radial_profile) -------------------

RADIAL = [  # (dim, text, profile w(r) in closed form)
    (2, "(v1**2 + v2**2)**2/4 - (v1**2+v2**2)/2", lambda r: r**4 / 4 - r**2 / 2),
    (3, "(v1**2+v2**2+v3**2)**2/4 - v1**2/2 - v2**2/2 - v3**2/2", lambda r: r**4 / 4 - r**2 / 2),
    (2, "sqrt(1 + v2**2 + v1**2) + 0.1*(v1*v1 + v2**2)", lambda r: np.sqrt(1 + r**2) + 0.1 * r**2),
    (3, "cosh(v1**2 + (v3**2 + v2**2)) - 2*(v3**2 + v2**2 + v1**2)",
     lambda r: np.cosh(r**2) - 2 * r**2),
    (3, "v1**2 + v2**2 + v3**2", lambda r: r**2),
]

NOT_RADIAL = [
    (3, "(v1**2+v2**2+v3**2)**2/4 - v1**2/2 - v2**2/2"),       # one square missing
    (2, "(v1**2+v2**2)**2 - v1**2/2 - 0.4*v2**2"),             # unequal factors
    (3, "(v1**2+v2**2+v3**2)**2/4 + 0.2*v1*v2*v3"),
    (2, "(v1**2+v2**2)**2 + 1e-9*v1"),
    (2, "(v1**2+v2**2)**2 + (v1**2 + 2*v2**2)"),
    (3, "(v1**2+v2**2)**2 + v3**2"),                           # the norm of two of three
    (2, "((v1-5)**2 + v2**2)**2 + v1**2 + v2**2"),             # two centres
    (2, "((v1-1)**2 + v2**2)**2 + (v1 - 1)**2 + (v2 - 1)**2"),
]


@pytest.mark.parametrize("dim,text,w", RADIAL)
def test_radial_profile_recognised(dim, text, w):
    """The profile is W(r, 0, ...) and W(v) = w(|v|) at random points (closed form)."""
    from potentials.nd import radial_profile
    form = radial_profile(from_expression_nd(text, dim))
    assert form is not None and form.center == (0.0,) * dim
    p = P.from_expression(form.profile, var="r")
    V = np.random.default_rng(3).normal(size=(dim, 50))
    r = np.linalg.norm(V, axis=0)
    np.testing.assert_allclose(p.W(r), w(r), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(from_expression_nd(text, dim).W(V), w(r), rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("dim,text", NOT_RADIAL)
def test_radial_profile_rejects_nonradial(dim, text):
    from potentials.nd import radial_profile
    assert radial_profile(from_expression_nd(text, dim)) is None


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 3), st.lists(st.floats(-3, 3).filter(lambda c: abs(c) > 1e-3),
                                   min_size=3, max_size=3),
       st.sampled_from(["", " + {c}*v1", " + {c}*v1*v2", " + {c}*v2**2", " + {c}*v1**4"]),
       st.permutations([1, 2, 3]), st.lists(st.sampled_from([0.0, 0.5, -2.0, 7.25]),
                                            min_size=3, max_size=3))
def test_radial_profile_property(dim, cs, extra, order, center):
    """Random polynomials of |v - c|^2 (their terms in random order) are recognised, with
    their centre, and their profile agrees with W at random points; one non-radial term makes
    them rejected (checked by evaluation: W(c + u) != W(c + R u) for a rotation R)."""
    from potentials.nd import radial_profile
    c = np.array(center[:dim])

    def sq(i):
        ci = c[i - 1]
        return f"v{i}**2" if ci == 0 else f"(v{i} - {ci})**2" if ci > 0 else f"(v{i} + {-ci})**2"

    S = "(" + " + ".join(sq(i) for i in order if i <= dim) + ")"
    text = f"{abs(cs[0]) + 0.1}*{S}**3 + ({cs[1]})*{S}**2 + ({cs[2]})*{S}" + \
        extra.format(c=abs(cs[1]))
    pot = from_expression_nd(text, dim)
    form = radial_profile(pot)
    rng = np.random.default_rng(0)
    U = rng.normal(size=(dim, 20))
    Q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    W = pot.W(c[:, None] + U)
    rotated_equal = np.allclose(pot.W(c[:, None] + Q @ U), W, rtol=1e-10, atol=1e-10)
    if extra:
        assert form is None and not rotated_equal
    else:
        assert form is not None and rotated_equal
        np.testing.assert_array_equal(form.center, c)
        prof = P.from_expression(form.profile, var="r")
        np.testing.assert_allclose(prof.W(np.linalg.norm(U, axis=0)), W, rtol=1e-10, atol=1e-10)



# --- separable in turned axes (potentials.nd.turned_separable_parts) -----------------------

PARTS_1D = ["{y}**4/4 - {y}**2/2", "cosh({y}) + 0.3*{y}", "({y} - 1)**2", "{y}**6/6 + {y}",
            "exp({y}) - {y}"]


@settings(max_examples=30, deadline=None)
@given(st.integers(2, 3), st.integers(0, 10 ** 6),
       st.lists(st.sampled_from(PARTS_1D), min_size=3, max_size=3),
       st.floats(-2, 2), st.booleans())
def test_turned_separable_property(dim, seed, texts, tilt, spoil):
    """W = sum_k w_k(q_k . v) + tilt v1 for a random orthogonal Q written out in the
    expression: recognised, the directions are those of Q (up to order and sign) and the
    parts sum to W at random points; an added cross term v1*v2 (not a function of one linear
    form) or a non-orthogonal direction makes it rejected."""
    from potentials.nd import turned_separable_parts
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    forms = ["(" + " + ".join(f"({float(Q[i, k])!r})*v{i + 1}" for i in range(dim)) + ")"
             for k in range(dim)]
    if spoil:
        forms[-1] = "(" + " + ".join(f"({float(Q[i, -1] + 0.1 * Q[i, 0])!r})*v{i + 1}"
                                     for i in range(dim)) + ")"
    text = " + ".join("(" + texts[k].format(y=forms[k]) + ")" for k in range(dim)) + \
        f" + ({tilt!r})*v1"
    pot = from_expression_nd(text, dim)
    out = turned_separable_parts(pot)
    # all parts quadratic: W is a positive definite quadratic form, separable in the
    # eigenframe of its Hessian whatever the directions (then the frame is not Q)
    quadratic = all(t == "({y} - 1)**2" for t in texts[:dim])
    if spoil and not quadratic:
        assert out is None
        return
    assert out is not None
    F, parts = out
    if not quadratic:
        overlap = np.abs(F.T @ Q)                             # a permutation matrix
        np.testing.assert_allclose(np.sort(overlap, axis=1)[:, -1], 1.0, atol=1e-12)
    V = rng.normal(size=(dim, 7))
    Y = F.T @ V
    total = sum(p.W(Y[k]) for k, p in enumerate(parts))
    np.testing.assert_allclose(total, pot.W(V), rtol=1e-11, atol=1e-11)
    cross = from_expression_nd(text + " + 0.1*v1*v2", dim)
    assert (turned_separable_parts(cross) is None) == (not quadratic)


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 3), st.integers(0, 10 ** 6))
def test_quadratic_form_read_off_tree(dim, seed):
    """Random quadratic polynomials written as products and squares of linear forms: the
    parts in the eigenframe sum to W at random points (independent evaluation), and a cubic
    term makes them not quadratic."""
    from potentials.nd import turned_separable_parts
    rng = np.random.default_rng(seed)

    def lin():
        c = rng.normal(size=dim + 1)
        return "(" + " + ".join(f"({float(c[i])!r})*v{i + 1}" for i in range(dim)) + \
            f" + ({float(c[-1])!r}))"

    text = " + ".join(f"({lin()})**2" for _ in range(dim + 1)) + \
        f" + 0.5*{lin()}*{lin()}/3 - {lin()} + 2.5"
    pot = from_expression_nd(text, dim)
    out = turned_separable_parts(pot)
    # the Hessian from the exact gradient (grad W = A v + b): recognised iff A > 0
    g0 = pot.grad(np.zeros((dim, 1)))[:, 0]
    A = np.array([pot.grad(np.eye(dim)[:, [i]])[:, 0] - g0 for i in range(dim)]).T
    assert (out is not None) == bool(np.linalg.eigvalsh(0.5 * (A + A.T)).min() > 0)
    if out is not None:
        F, parts = out
        V = rng.normal(size=(dim, 9))
        Y = F.T @ V
        total = sum(p.W(Y[k]) for k, p in enumerate(parts))
        np.testing.assert_allclose(total, pot.W(V), rtol=1e-10, atol=1e-10)
    assert turned_separable_parts(from_expression_nd(text + " + 0.01*v1**3", dim)) is None


def test_turned_separable_does_not_merge_nearly_parallel_directions():
    """Directions 4e-6 rad apart are not one direction (1 - |cos| = 8e-12 would have passed a
    cosine test at 1e-9): the potential is not separable and is not recognised."""
    import math

    from potentials.nd import turned_separable_parts
    a = 4e-6
    text = f"v1**4 + ({math.cos(a)!r}*v1 + {math.sin(a)!r}*v2)**4 + v2**2"
    assert turned_separable_parts(from_expression_nd(text, 2)) is None


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["v2**2", "v1*v2", "cosh(v2)", "sin(v2)", "tanh(v2)*v1",
                                 "abs(v2)", "abs(v2 - 1)", "v2**3", "exp(v2)", "v1**2",
                                 "(v1*v2)**2", "sin(v2)*tanh(v2)", "v3*v2**2"]),
                min_size=1, max_size=4))
def test_even_axes_property(terms):
    """even_axes says W is even in v2 only when it is (checked by evaluation at random points
    with v2 -> -v2), and it finds it whenever every term is even by the parity rules."""
    from potentials.nd import even_axes
    even_terms = {"v2**2", "cosh(v2)", "abs(v2)", "v1**2", "(v1*v2)**2", "sin(v2)*tanh(v2)",
                  "v3*v2**2"}
    text = " + ".join(terms) + " + v1**4 + v2**4 + v3**4"
    pot = from_expression_nd(text, 3)
    found = 1 in even_axes(pot)
    V = np.random.default_rng(0).normal(size=(3, 20))
    flipped = V * np.array([[1.0], [-1.0], [1.0]])
    truly_even = np.allclose(pot.W(V), pot.W(flipped), rtol=1e-12, atol=1e-12)
    if found:
        assert truly_even
    assert found == all(t in even_terms for t in terms)
