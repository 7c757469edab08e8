"""Tests of the `potentials` package (fast)."""

import math

import mpmath as mp
import numpy as np
import pytest

import potentials as P
from potentials import ExpressionError, NonConfiningError, Potential, from_expression

# points avoiding the kinks at 0 and 1, non-round
V = np.array([-3.137, -1.91, -1.234, -0.777, -0.31, 0.123, 0.456, 0.89, 1.37, 2.05, 2.93])

# ---------------------------------------------------------------------------
# finite differences
#
# Central differences with step h have truncation error h^2 |f'''|/6 ~ 2e-11
# |f'''| and rounding error ~ eps |f| / h ~ 2e-11 |f|, so a relative tolerance
# of 1e-7 (on the scale 1 + |f| + |f'|) is safe for the moderate values below.
H = 1e-5
FD_RTOL = 1e-7


def _fd(f, v, h=H):
    return (f(v + h) - f(v - h)) / (2 * h)


def _check_fd(p, v=V):
    d1 = _fd(p.W, v)
    d2 = _fd(p.dW, v)
    scale1 = 1 + np.abs(p.W(v)) + np.abs(p.dW(v))
    scale2 = 1 + np.abs(p.dW(v)) + np.abs(p.d2W(v))
    np.testing.assert_array_less(np.abs(d1 - p.dW(v)), FD_RTOL * scale1)
    np.testing.assert_array_less(np.abs(d2 - p.d2W(v)), FD_RTOL * scale2)


CLOSED_FORMS = {
    "v**4/4 - v**2/2 - 0.3*v": (
        lambda v: v**4 / 4 - v**2 / 2 - 0.3 * v,
        lambda v: v**3 - v - 0.3,
        lambda v: 3 * v**2 - 1),
    "exp(-v**2)*cos(v) + v**6": (
        lambda v: np.exp(-v**2) * np.cos(v) + v**6,
        lambda v: np.exp(-v**2) * (-2 * v * np.cos(v) - np.sin(v)) + 6 * v**5,
        lambda v: np.exp(-v**2) * ((4 * v**2 - 3) * np.cos(v) + 4 * v * np.sin(v)) + 30 * v**4),
    "abs(v)**3/3": (
        lambda v: np.abs(v)**3 / 3,
        lambda v: v * np.abs(v),
        lambda v: 2 * np.abs(v)),
    "log(cosh(v)) + v**4": (
        lambda v: np.log(np.cosh(v)) + v**4,
        lambda v: np.tanh(v) + 4 * v**3,
        lambda v: 1 / np.cosh(v)**2 + 12 * v**2),
    "sqrt(1 + v**2)": (
        lambda v: np.sqrt(1 + v**2),
        lambda v: v / np.sqrt(1 + v**2),
        lambda v: (1 + v**2) ** -1.5),
    "tanh(v)*v**2 + v**4": (
        lambda v: np.tanh(v) * v**2 + v**4,
        lambda v: v**2 / np.cosh(v)**2 + 2 * v * np.tanh(v) + 4 * v**3,
        lambda v: -2 * np.tanh(v) / np.cosh(v)**2 * v**2 + 4 * v / np.cosh(v)**2
        + 2 * np.tanh(v) + 12 * v**2),
}

MORE_EXPRESSIONS = [
    "abs(v-1)**3 + v**4", "v**4 - 2*v**2 + sin(3*v)", "exp(v/2) + exp(-v) + v**2",
    "(v**2 + 1)**1.5", "v**2*log(1 + v**2)", "cosh(v)/2 + pi*v**2 - e*v",
    "-(v**3)/3 + v**4", "2**v + v**2", "1/(1 + v**2) + v**2", "+v**2 - -v",
]


@pytest.mark.parametrize("text", list(CLOSED_FORMS))
def test_expression_closed_forms(text):
    p = from_expression(text)
    W, dW, d2W = CLOSED_FORMS[text]
    x = np.concatenate([V, [0.0]])
    for got, ref in ((p.W, W), (p.dW, dW), (p.d2W, d2W)):
        np.testing.assert_allclose(got(x), ref(x), rtol=1e-13, atol=1e-13)
    _check_fd(p)


@pytest.mark.parametrize("text", MORE_EXPRESSIONS)
def test_expression_finite_differences(text):
    _check_fd(from_expression(text))


LIBRARY = [
    P.case_a(2.0), P.case_a(3.0, rescaled=False), P.case_b(2.5),
    P.case_b(0.7, rescaled=False), P.case_c(2.0, 0.4), P.case_c(5.0, 1.1, rescaled=False),
    P.ornstein_uhlenbeck(), P.power_law(4, 2), P.power_law(3.5, 1.0, gamma=2.0),
    P.power_law(6, 1.5, 0.5), P.fitzhugh_nagumo(0.2), P.double_well(1.7),
]


@pytest.mark.parametrize("p", LIBRARY, ids=lambda p: p.name)
def test_library_finite_differences(p):
    _check_fd(p)


@pytest.mark.parametrize("p", LIBRARY + [from_expression(t) for t in CLOSED_FORMS]
                         + [from_expression("cosh(v)/2 + pi*v**2 - e*v")],
                         ids=lambda p: p.name)
def test_W_mp_agrees(p):
    with mp.workdps(30):
        for x in V:
            ref = float(p.W(x))
            got = p.W_mp(mp.mpf(float(x)))
            assert isinstance(got, mp.mpf)
            assert abs(float(got) - ref) <= 1e-14 * max(1.0, abs(ref))


def test_W_mp_high_precision():
    p = from_expression("pi*v**2 + e - 0.1")
    with mp.workdps(50):
        x = mp.mpf(1) / 3
        assert abs(p.W_mp(x) - (mp.pi * x**2 + mp.e - mp.mpf("0.1"))) < mp.mpf(10) ** -45


def test_shapes_and_scalars():
    p = from_expression("v**2/2 + 1")
    assert np.shape(p.W(1.0)) == () and float(p.W(1.0)) == 1.5
    x = np.linspace(-1, 1, 6).reshape(2, 3)
    for f in (p.W, p.dW, p.d2W):
        y = f(x)
        assert y.shape == (2, 3) and y.dtype == np.float64
    assert np.all(p.d2W(x) == 1.0)
    assert P.case_a(2.0).W(np.array([1, 2])).dtype == np.float64


def test_powers_of_negative_numbers():
    p = from_expression("abs(v)**3 + v**3 + v**(-2)")
    np.testing.assert_allclose(p.W(-2.0), 8 - 8 + 0.25)
    assert np.isnan(from_expression("v**0.5").W(-1.0))
    assert from_expression("v**0.5").W(4.0) == 2.0
    with mp.workdps(30):
        assert mp.isnan(from_expression("v**0.5").W_mp(-1))
        assert from_expression("v**3").W_mp(-2) == -8


def test_log_cosh_is_stable():
    p = from_expression("log(cosh(v))")
    y = p.W(np.array([1000.0, -1000.0]))
    np.testing.assert_allclose(y, 1000 - math.log(2), rtol=1e-15)
    np.testing.assert_allclose(p.dW(np.array([1000.0, -1000.0])), [1.0, -1.0])


def test_derivative_of_abs_is_ae_value():
    p = from_expression("abs(v)")
    assert p.dW(0.0) == 0.0 and p.d2W(1.5) == 0.0 and p.d2W(0.0) == 0.0
    assert p.breakpoints == (0.0,)


def test_str_of_tree():
    p = from_expression("v**4/4 - v**2/2 - 0.3*v")
    assert str(p.tree) == "v**4/4 - v**2/2 - 0.3*v"
    assert str(p.dtree) == "v**3 - v - 0.3"
    assert str(p.d2tree) == "3*v**2 - 1"


def test_other_variable_name():
    p = from_expression("r**2/2 + abs(r - 2)", var="r")
    assert p.breakpoints == (2.0,)
    assert p.dW(1.0) == 0.0
    with pytest.raises(ExpressionError, match="'v'"):
        from_expression("v**2", var="r")


# ---------------------------------------------------------------------------
# parser rejections

REJECT = {
    "__import__('os').system('ls')": "attribute",
    "v.real": "real",
    "x + 1": "'x'",
    "os": "'os'",
    "foo(v)": "foo",
    "lambda: 1": "lambda",
    "v[0]": "subscript",
    "'a'": "string",
    "v if v else 1": "conditional",
    "1j*v": "complex",
    "abs(v, 2)": "one argument",
    "exp(v=1)": "keyword",
    "v^2": "'^'",
    "v // 2": "'//'",
    "v < 1": "comparison",
    "sinh(v)": "sinh",
    "sign(v)": "sign",
    "[v]": "list",
    "exp": "must be called",
    "True": "True",
    "1e400*v": "not finite",
}


@pytest.mark.parametrize("text", list(REJECT))
def test_parser_rejects(text):
    with pytest.raises(ExpressionError) as info:
        from_expression(text)
    msg = str(info.value)
    assert REJECT[text].lower() in msg.lower()
    assert "\n" not in msg


@pytest.mark.parametrize("text", ["v +", "(v", "v**", "", "   ", "2 v", "v = 1"])
def test_parser_rejects_syntax_errors(text):
    with pytest.raises(ExpressionError):
        from_expression(text)


def test_parser_limits():
    with pytest.raises(ExpressionError, match="longer than 2000"):
        from_expression("v" + "+v" * 1000)
    with pytest.raises(ExpressionError, match="deeper than 100"):
        from_expression("(" * 120 + "v" + ")**1" * 120)
    with pytest.raises(ExpressionError):
        from_expression("-" * 1500 + "v")
    from_expression("(" * 40 + "v" + ")**1" * 40)  # moderate nesting is fine


def test_expression_error_hierarchy():
    assert issubclass(ExpressionError, P.PotentialError)
    assert issubclass(NonConfiningError, P.PotentialError)
    assert issubclass(P.PotentialError, ValueError)


# ---------------------------------------------------------------------------
# attributes

def test_symmetry_detection():
    assert from_expression("v**4 - v**2").symmetric
    assert not from_expression("v**4 + v").symmetric
    assert from_expression("abs(v)**3/3 + cos(v)").symmetric
    assert not from_expression("abs(v-1)**3").symmetric
    assert from_expression("v**4 + v", symmetric=True).symmetric  # explicit flag wins


def test_breakpoints():
    assert from_expression("abs(v-1)**3").breakpoints == (1.0,)
    assert from_expression("abs(2*v + 1) + abs(v) + abs(v - 3)**2").breakpoints == (-0.5, 0.0, 3.0)
    assert from_expression("v**4").breakpoints == ()
    # polynomial arguments: their real roots (numpy.roots, polished on the tree)
    assert from_expression("abs(v**2 - 1)").breakpoints == (-1.0, 1.0)
    assert from_expression("abs(v**2 + 1) + abs(sin(v))").breakpoints == ()  # none / not polynomial
    bp = from_expression("abs(v**3 - 2*v + 0.5) + v**4").breakpoints
    ref = np.sort(np.roots([1.0, 0.0, -2.0, 0.5]).real)     # three real roots
    np.testing.assert_allclose(bp, ref, rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("text,theta", [("abs(v**2 - 1) + v**4/4", 0.3),
                                        ("abs(v**3 - 2*v + 0.5) + v**4", 0.2)])
def test_kinks_of_polynomial_arguments_are_nodes(text, theta):
    """Kinks at the roots of a polynomial inside abs() are mesh nodes: the 1D route is accurate
    there, against the independent quadrature (1e-10)."""
    import effcoef
    from effcoef.reference.quadrature import quadrature_coefficients
    p = from_expression(text)
    r = effcoef.coefficients(p, theta)
    q = quadrature_coefficients(p, theta)
    assert r.accurate and abs(r.D / q.D - 1) <= 1e-10 and abs(r.K / q.K - 1) <= 1e-10


def test_attributes():
    p = from_expression("v**2/2", name="OU", theta=0.5)
    assert p.name == "OU" and p.expr == "v**2/2" and p.theta == 0.5
    assert "OU" in repr(p)
    assert P.ornstein_uhlenbeck().theta is None
    q = Potential(np.square, lambda v: 2 * v, lambda v: 2 + 0 * v, name="sq")
    assert q.symmetric and q.breakpoints == () and q.expr is None and q.params == {}
    with mp.workdps(30):  # fallback W_mp (double precision)
        assert q.W_mp(mp.mpf(3)) == 9


# ---------------------------------------------------------------------------
# paper 004 family

GAMMAS = [0.3, 1.0, 2.0, 7.5]


@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("case,delta", [("A", 0.0), ("B", 0.0), ("C", 0.0), ("C", 0.7)])
def test_paper_rescaling_identity(case, delta, gamma):
    """W~(v) = W(sqrt(gamma) v)/gamma, and derivatives accordingly."""
    pr = P.paper_family(case, gamma, delta)
    po = P.paper_family(case.lower(), gamma, delta, rescaled=False)
    s = math.sqrt(gamma)
    np.testing.assert_allclose(pr.W(V), po.W(s * V) / gamma, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(pr.dW(V), po.dW(s * V) / s, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(pr.d2W(V), po.d2W(s * V), rtol=1e-13, atol=1e-13)
    assert pr.theta == pytest.approx(1 / gamma) and po.theta == 1.0
    assert pr.symmetric == po.symmetric == (delta == 0.0)


def test_paper_cases_closed_forms():
    g, d = 2.0, 0.4
    np.testing.assert_allclose(P.case_a(g).W(V), V**4 / 4 - V**2 / 2, rtol=1e-14)
    np.testing.assert_allclose(P.case_a(g, rescaled=False).W(V), V**4 / (4 * g) - V**2 / 2,
                               rtol=1e-14)
    np.testing.assert_allclose(P.case_b(g).W(V), V**4 / 4 - math.sqrt(g) * np.abs(V)**3 / 3,
                               rtol=1e-14)
    np.testing.assert_allclose(P.case_b(g, rescaled=False).W(V),
                               V**4 / (4 * g) - np.abs(V)**3 / 3, rtol=1e-14)
    np.testing.assert_allclose(P.case_c(g, d).W(V), V**4 / 4 - V**2 / 2 - d / math.sqrt(g) * V,
                               rtol=1e-14)
    np.testing.assert_allclose(P.case_c(g, d, rescaled=False).W(V),
                               V**4 / (4 * g) - V**2 / 2 - d * V, rtol=1e-14)
    assert P.case_b(g).breakpoints == (0.0,) and P.case_a(g).breakpoints == ()
    assert P.case_c(g, 0.0).symmetric and not P.case_c(g, d).symmetric
    assert P.case_c(g, d).params["delta"] == d


def test_library_closed_forms():
    np.testing.assert_allclose(P.ornstein_uhlenbeck().W(V), V**2 / 2)
    np.testing.assert_allclose(P.fitzhugh_nagumo(0.3).W(V), V**4 / 4 - V**2 / 2 - 0.3 * V)
    np.testing.assert_allclose(P.fitzhugh_nagumo(0.3).dW(V), -(V - V**3) - 0.3)
    np.testing.assert_allclose(P.double_well(2.0).W(V), V**4 / 4 - V**2)
    p = P.power_law(3.5, 1.5, 2.0)
    np.testing.assert_allclose(p.W(V), np.abs(V)**3.5 / 7 - np.abs(V)**1.5 / 1.5)
    assert p.symmetric and p.breakpoints == (0.0,)
    assert P.power_law(3, 1).d2W(0.0) == 0.0


@pytest.mark.parametrize("call", [
    lambda: P.case_a(0.0), lambda: P.case_a(-1.0), lambda: P.case_b(float("inf")),
    lambda: P.case_c(1.0, -0.1), lambda: P.case_c(1.0, float("nan")),
    lambda: P.case_a(float("nan")),
    lambda: P.paper_family("A", 1.0, 0.5), lambda: P.paper_family("B", 1.0, 0.5),
    lambda: P.paper_family("D", 1.0), lambda: P.power_law(2, 2), lambda: P.power_law(3, 0.5),
    lambda: P.power_law(3, 2, gamma=0), lambda: P.fitzhugh_nagumo(float("inf")),
])
def test_library_validation(call):
    with pytest.raises(ValueError):
        call()


# ---------------------------------------------------------------------------
# mass interval

def test_mass_interval_gaussian():
    a, b, vmin, Wmin = from_expression("v**2/2").mass_interval(1.0)
    assert abs(a + math.sqrt(90)) < 1e-10 and abs(b - math.sqrt(90)) < 1e-10
    assert abs(vmin) < 1e-8 and abs(Wmin) < 1e-15
    a, b, _, _ = P.ornstein_uhlenbeck().mass_interval(0.01, tail=10.0)
    assert abs(b - math.sqrt(0.2)) < 1e-10 and abs(a + math.sqrt(0.2)) < 1e-10


def test_mass_interval_double_well_and_tilt():
    p = from_expression("v**4/4 - v**2/2")
    a, b, vmin, Wmin = p.mass_interval(0.1)
    assert abs(Wmin + 0.25) < 1e-12 and abs(abs(vmin) - 1) < 1e-6
    assert abs(p.W(b) - (Wmin + 4.5)) < 1e-10 and a == pytest.approx(-b, rel=1e-12)
    q = P.case_c(2.0, 1.0)
    a, b, vmin, Wmin = q.mass_interval(0.5)
    assert vmin > 0 and abs(q.dW(vmin)) < 1e-6
    assert q.W(a) == pytest.approx(Wmin + 22.5, rel=1e-12)
    assert q.W(b) == pytest.approx(Wmin + 22.5, rel=1e-12)
    # wide potential needs several radius doublings
    a, b, _, _ = from_expression("(v/100)**2").mass_interval(1.0)
    assert b == pytest.approx(100 * math.sqrt(45), rel=1e-12)


@pytest.mark.parametrize("text", ["-v**2", "v**3", "abs(v)", "-v**4", "sqrt(1 + v**2)",
                                  "v + v**2*0", "log(1 + v**2)", "v**2 + 1/v", "log(v)"])
def test_mass_interval_nonconfining(text):
    with pytest.raises(NonConfiningError) as info:
        from_expression(text).mass_interval(1.0)
    assert "confining" in str(info.value)


def test_mass_interval_nonconfining_side():
    with pytest.raises(NonConfiningError, match=r"v -> -inf"):
        from_expression("v**3").mass_interval(1.0)
    with pytest.raises(NonConfiningError, match=r"grows too slowly as v -> \+inf"):
        from_expression("log(1 + v**2)").mass_interval(1.0)


@pytest.mark.parametrize("theta", [0.0, -1.0, float("nan"), float("inf")])
def test_mass_interval_bad_theta(theta):
    with pytest.raises(ValueError, match="theta"):
        from_expression("v**2/2").mass_interval(theta)


def test_mass_interval_confining_library():
    for p in LIBRARY:
        a, b, vmin, Wmin = p.mass_interval(p.theta or 1.0)
        assert a < vmin < b
