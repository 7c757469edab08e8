"""effcoef.reference.enclosure (mpmath iv, independent walker) against potentials.intervals
and dense sampling."""

import ast
import math
from pathlib import Path

import mpmath
import numpy as np
import pytest

import potentials as P
from effcoef.reference import enclosure as R
from potentials import from_expression
from potentials.bnb import certified_minimum, monotone_radius
from potentials.intervals import enclose_dW, enclose_W
from potentials.nd import radial_from_expression

POTS = [
    ("((v-0.9)**2-1)**2", 0.02),
    ("68.2*(v**4/4 - 2.82*v**3/3 + 1.82*v**2/2)", 0.1),
    ("1e10*(v-3.0001)**2", 0.1),
    ("v**2 + 0.1*sin(1000*v)", 0.1),
    ("v**2 + sin(100*v)", 0.1),
    ("v**4/4 - v**2/2", 0.01),
    ("log(cosh(3*v)) + v**4/4 - abs(v)**3/2 + sqrt(1 + v**2)", 0.05),
]


def test_module_is_independent():
    src = Path(R.__file__).read_text()
    mods = set()
    for node in ast.walk(ast.parse(src)):
        if isinstance(node, ast.Import):
            mods.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            mods.add(("." * node.level) + (node.module or ""))
    assert mods <= {"__future__", "math", "weakref", "typing", "mpmath"}, mods


@pytest.mark.parametrize("text,theta", POTS)
def test_enclosures_agree_and_contain_samples(text, theta):
    p = from_expression(text)
    rng = np.random.default_rng(7)
    for _ in range(6):
        a = rng.uniform(-4, 4)
        b = a + rng.choice([1e-6, 1e-3, 0.1, 1.0])
        x = np.linspace(a, b, 201)
        w, d = p.W(x), p.dW(x)
        ref_w, ref_d = R.enclose_W(p, a, b), R.enclose_dW(p, a, b)
        lo, hi, _ = enclose_W(p, np.array([a]), np.array([b]))
        dlo, dhi, _ = enclose_dW(p, np.array([a]), np.array([b]))
        # both contain the exact values; the float samples within their rounding (1e-12
        # of the magnitude of the terms)
        tol_w = 1e-12 * (1 + np.abs(w).max() + 1e10 * ("1e10" in text))
        tol_d = 1e-12 * (1 + np.abs(d).max() + 1e10 * ("1e10" in text))
        for (l, h, vals, tol) in ((float(ref_w.a), float(ref_w.b), w, tol_w),
                                  (lo[0], hi[0], w, tol_w),
                                  (float(ref_d.a), float(ref_d.b), d, tol_d),
                                  (dlo[0], dhi[0], d, tol_d)):
            assert np.all(l - tol <= vals) and np.all(vals <= h + tol)
        # the two independent enclosures intersect
        assert max(lo[0], float(ref_w.a)) <= min(hi[0], float(ref_w.b)) + tol_w
        assert max(dlo[0], float(ref_d.a)) <= min(dhi[0], float(ref_d.b)) + tol_d


@pytest.mark.parametrize("text,theta", POTS)
def test_critical_hull(text, theta):
    p = from_expression(text)
    h = R.critical_hull(p, theta, 45.0)
    # critical points of the dense sample (sign changes of W') lie inside [crit_lo, crit_hi]
    x = np.linspace(-60, 60, 2_400_001)
    d = p.dW(x)
    ch = np.sign(d[:-1]) != np.sign(d[1:])
    crit = x[:-1][ch]              # a root of W' in [crit, crit + step]
    step = x[1] - x[0]
    assert crit.min() + step >= h.crit_lo and crit.max() <= h.crit_hi
    # and the outermost ones are resolved (the dense grid step is 5e-5)
    assert h.crit_hi - crit.max() < 1e-4 and crit.min() - h.crit_lo < 1e-4
    # the hull extends until W has risen by tail*theta above W at the outermost critical
    # points, and not much further (bisection)
    for c, end, side in ((crit.max(), h.b, 1), (crit.min(), h.a, -1)):
        # W at the outermost critical point (a local minimum in [c, c + step])
        wc = float(np.min(p.W(np.linspace(c - step, c + 2 * step, 100001))))
        rise = float(p.W(end)) - wc
        assert rise >= 45 * theta * (1 - 1e-9) - 1e-9 * abs(wc)
        inner = end - side * 1e-3 * (abs(end - c))
        assert float(p.W(inner)) - wc < 45 * theta * (1 + 1e-6) + 1e-6
    # consistent with the numpy/bnb route: both bound the outermost critical points
    x0 = certified_minimum(p, -60, 60).x
    r = monotone_radius(p, 1, x0)
    l_ = monotone_radius(p, -1, x0)
    assert abs(r.R - h.crit_hi) < 1e-6 * max(1, abs(h.crit_hi))
    assert abs(l_.R - h.crit_lo) < 1e-6 * max(1, abs(h.crit_lo))


def test_critical_hull_library_radial_and_errors():
    pb = P.case_b(10)
    h = R.critical_hull(pb, 0.1)          # library tree, abs(v)**3 term
    g = math.sqrt(10)
    assert h.crit_hi >= g and h.crit_hi - g < 1e-6 and abs(h.crit_lo + h.crit_hi) < 1e-9
    assert R.critical_hull(pb, 0.1) is h   # cached
    rp = radial_from_expression("10*r**2*(r-1.7)**2 - r", 2)
    hr = R.critical_hull(rp, 0.1)
    assert hr.a == 0.0 and 1.7 < hr.crit_hi < 1.75 and hr.b > hr.crit_hi
    with pytest.raises(R.EnclosureError, match="not monotone"):
        R.critical_hull(from_expression("v**2*(2 + sin(v))"), 0.1)
    with pytest.raises(R.EnclosureError):
        R.critical_hull(from_expression("exp(-v**2)"), 0.1)
    with pytest.raises(R.EnclosureError, match="no expression tree"):
        R.critical_hull(P.Potential(lambda v: v**2, lambda v: 2 * v, lambda v: 2 + 0 * v,
                                    name="plain"), 0.1)


def test_reference_enclosure_exact_cases():
    from potentials.expression import parse
    x = "v"
    e = R.enclose([parse("v**2"), parse("1/v"), parse("sin(v)"), parse("sqrt(v)"),
                   parse("(-2)**v"), parse("exp(v) - exp(v)")], x, -1, 2)
    assert (float(e[0].a), float(e[0].b)) == (0.0, 4.0)
    assert float(e[1].a) == -math.inf and float(e[1].b) == math.inf
    assert float(e[2].a) <= math.sin(-1) and float(e[2].b) == 1.0
    assert float(e[3].a) == 0.0 and abs(float(e[3].b) - math.sqrt(2)) < 1e-15
    assert float(e[4].a) == -math.inf
    big = R.enclose([parse("v**4/4 - v**2/2")], x, mpmath.mpf(2) ** 600, mpmath.mpf(2) ** 601)[0]
    assert big.a > mpmath.mpf(2) ** 2390          # far beyond the double range, exact


# ----------------------------------------------------------------------------
# random expressions: the two implementations against each other and the 50-digit truth

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from potentials.expression import parse, simplify  # noqa: E402
from potentials.intervals import enclose  # noqa: E402

_LEAF = st.one_of(st.just("v"), st.sampled_from(["1", "2", "0.5", "0.1", "pi", "3", "1e-3"]))


def _ext(ch):
    return st.one_of(
        st.tuples(ch, st.sampled_from(["+", "-", "*", "/"]), ch).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(ch, st.sampled_from(["2", "3", "-1", "0.5"])).map(lambda t: f"({t[0]})**{t[1]}"),
        st.tuples(st.sampled_from(["abs", "exp", "log", "sqrt", "sin", "cos", "tanh", "cosh"]),
                  ch).map(lambda t: f"{t[0]}({t[1]})"),
    )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.recursive(_LEAF, _ext, max_leaves=8), st.floats(-4, 4),
       st.sampled_from([0.0, 1e-6, 0.01, 0.5, 2.0]))
def test_random_expressions_both_enclosures(text, a, width):
    b = a + width
    for node in (parse(text), simplify(parse(text)).diff("v")):
        ref = R.enclose([node], "v", a, b)[0]
        lo, hi, _ = enclose(node, {"v": (np.array([a]), np.array([b]))})
        rl, rh = mpmath.mpf(ref.a), mpmath.mpf(ref.b)
        for x in np.linspace(a, b, 5):
            with np.errstate(all="ignore"):
                vals = node.eval_np_all({"v": np.float64(x)})
            if not all(np.isfinite(v) and abs(v) < 1e100 for v in map(float, vals.values())):
                continue
            with mpmath.workdps(50):
                t = node.eval_mp({"v": mpmath.mpf(float(x))})
            if isinstance(t, mpmath.mpf) and mpmath.isfinite(t):
                assert rl <= t <= rh, (text, x, t, ref)
                assert lo[0] <= t <= hi[0], (text, x, t, lo, hi)
        # both contain the exact values at the samples, so when some sample is finite they
        # intersect (checked implicitly); they must never be NaN
        assert not (mpmath.isnan(rl) or mpmath.isnan(rh))
