"""Interval arithmetic on expression trees (potentials.intervals): soundness against float64
and 50-digit mpmath evaluations at points of random boxes (hypothesis), exact small cases."""

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from potentials import from_expression
from potentials.expression import parse, simplify
from potentials.intervals import enclose, enclose_W

# ----------------------------------------------------------------------------
# random expressions over the grammar

CONST_TEXTS = ["0", "1", "2", "3", "0.5", "0.1", "1.5", "pi", "e", "10", "1e-3", "2.7", "100"]
FUNCS = ["abs", "exp", "log", "sqrt", "sin", "cos", "tanh", "cosh"]
EXPONENTS = ["2", "3", "4", "-1", "-2", "0.5", "1.5", "0.3"]


def _leaf():
    return st.one_of(st.just("v"), st.sampled_from(CONST_TEXTS),
                     st.floats(-20, 20, allow_nan=False).map(repr))


def _extend(children):
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*", "/"]), children)
        .map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(children, st.sampled_from(EXPONENTS)).map(lambda t: f"({t[0]})**{t[1]}"),
        st.tuples(children, children).map(lambda t: f"({t[0]})**({t[1]})"),
        children.map(lambda a: f"-({a})"),
        st.tuples(st.sampled_from(FUNCS), children).map(lambda t: f"{t[0]}({t[1]})"),
    )


EXPRS = st.recursive(_leaf(), _extend, max_leaves=12)
WIDTHS = [0.0, 1e-12, 1e-6, 1e-3, 0.1, 1.0, 3.0, 10.0]
BOXES = st.tuples(st.floats(-8, 8, allow_nan=False), st.sampled_from(WIDTHS),
                  st.lists(st.floats(0, 1), min_size=3, max_size=3))


def _depth(node):
    d = {}
    for n in node.nodes():
        d[n] = 1 + max((d[c] for c in n.children()), default=0)
    return d[node]


def _intermediates_moderate(node, x):
    """All float intermediate values finite and below 1e100 (the mpmath truth of e.g.
    sin(exp(exp(20))) would need 1e8-digit argument reduction: skipped)."""
    with np.errstate(all="ignore"):
        vals = node.eval_np_all({"v": np.float64(x)})
    for y in vals.values():
        y = np.asarray(y, dtype=float)
        if not np.all(np.isfinite(y)) or np.any(np.abs(y) > 1e100):
            return False
    return True


def _check_sound(node, lo, width, fracs, truth=True):
    hi = lo + width
    pts = np.array([lo, hi] + [lo + f * width for f in fracs])
    pts = np.clip(pts, lo, hi)
    L, H, ok = enclose(node, {"v": (np.full(len(pts), lo), np.full(len(pts), hi))})
    assert not np.any(np.isnan(L)) and not np.any(np.isnan(H))
    assert np.all(L <= H) or not np.all(ok)
    with np.errstate(all="ignore"):
        y = np.broadcast_to(np.asarray(node.eval_np({"v": pts}), dtype=float), pts.shape)
    for x, yi, l, h, k in zip(pts, y, L, H, ok):
        if not math.isfinite(yi):
            assert not k, f"defined although f({x!r}) = {yi}"
        if not math.isnan(yi):
            assert l <= yi <= h, f"float f({x!r}) = {yi!r} outside [{l!r}, {h!r}]"
        if truth and _intermediates_moderate(node, x):
            with mp.workdps(50):
                t = node.eval_mp({"v": mp.mpf(float(x))})
                if isinstance(t, mp.mpf) and not mp.isnan(t):
                    assert l <= t <= h, f"exact f({x!r}) = {t} outside [{l!r}, {h!r}]"


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRS, BOXES)
def test_enclosure_is_sound(text, box):
    """float64 and 50-digit values at the endpoints and 3 inner points lie in [lo, hi];
    `defined` is False whenever a sample is nan/inf.  Also for the simplified tree and its
    derivative (which brings in sign and sinh)."""
    lo, width, fracs = box
    tree = parse(text)
    if _depth(tree) > 7:
        return
    _check_sound(tree, lo, width, fracs)
    d = simplify(tree).diff("v")
    _check_sound(d, lo, width, fracs, truth=False)


def _check_centered(text, lo, width, fracs):
    """enclose_W / enclose_dW (mean-value forms) contain the 50-digit values of W and W'."""
    from potentials.intervals import enclose_dW
    p = from_expression(text)
    hi = lo + width
    pts = np.clip(np.array([lo, hi] + [lo + f * width for f in fracs]), lo, hi)
    for enc, node in ((enclose_W, p.tree), (enclose_dW, p.dtree)):
        L, H, _ = enc(p, np.array([lo]), np.array([hi]))
        assert not (np.isnan(L[0]) or np.isnan(H[0]))
        for x in pts:
            if not _intermediates_moderate(node, x):
                continue
            with mp.workdps(50):
                t = node.eval_mp({"v": mp.mpf(float(x))})
            if isinstance(t, mp.mpf) and mp.isfinite(t):
                assert L[0] <= t <= H[0], f"{text}: exact value {t} at {x!r} outside [{L[0]!r}, {H[0]!r}]"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRS, BOXES)
def test_centered_forms_are_sound(text, box):
    lo, width, fracs = box
    if _depth(parse(text)) > 6:
        return
    _check_centered(text, lo, width, fracs)


@pytest.mark.slow
@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRS, BOXES)
def test_centered_forms_are_sound_campaign(text, box):
    _check_centered(text, *box)


@pytest.mark.slow
@settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRS, BOXES)
def test_enclosure_is_sound_campaign(text, box):
    lo, width, fracs = box
    tree = parse(text)
    _check_sound(tree, lo, width, fracs)
    d = simplify(tree).diff("v")
    _check_sound(d, lo, width, fracs)


# ----------------------------------------------------------------------------
# exact small cases


def _enc(text, lo, hi):
    L, H, ok = enclose(parse(text), {"v": (np.array([lo], float), np.array([hi], float))})
    return L[0], H[0], bool(ok[0])


def _close_above(h, x, ulps=8):
    """h is an upper bound of x within a few ulps."""
    return x <= h <= x + ulps * np.spacing(abs(x) + 1e-300)


def test_exact_small_cases():
    l, h, ok = _enc("v**2", -1, 2)
    assert l == 0.0 and _close_above(h, 4.0) and ok
    l, h, ok = _enc("v*v", -1, 2)
    assert l == 0.0 and _close_above(h, 4.0) and ok
    l, h, ok = _enc("sin(v)", 0, math.pi)       # float pi < true pi: sin(pi_float) > 0
    assert -1e-300 < l <= 0.0 and h == 1.0 and ok
    l, h, ok = _enc("1/v", -1, 1)
    assert l == -np.inf and h == np.inf and not ok
    l, h, ok = _enc("1/v", 1, 2)
    assert _close_above(-l, -0.5) and _close_above(h, 1.0) and ok
    l, h, ok = _enc("cos(v)", -0.1, 0.1)
    assert h == 1.0 and abs(l - math.cos(0.1)) < 1e-15
    l, h, ok = _enc("cos(v)", 3, 3.3)            # contains pi: minimum -1
    assert l == -1.0 and h < 0
    l, h, ok = _enc("sin(v)", 0, 100)
    assert (l, h) == (-1.0, 1.0)
    l, h, ok = _enc("v**-2", -1, 1)
    assert h == np.inf and l <= 1.0 and not ok
    l, h, ok = _enc("v**3", -2, 1)
    assert _close_above(-l, 8.0) and _close_above(h, 1.0)
    l, h, ok = _enc("abs(v)", -3, 2)
    assert (l, h) == (0.0, 3.0)
    l, h, ok = _enc("cosh(v)", -1, 2)
    assert l == 1.0 and _close_above(h, math.cosh(2))
    l, h, ok = _enc("sqrt(v)", -1, 4)
    assert l == 0.0 and _close_above(h, 2.0) and not ok
    l, h, ok = _enc("log(v)", -1, 2)
    assert l == -np.inf and _close_above(h, math.log(2)) and not ok
    l, h, ok = _enc("0.1", 0, 1)                 # the decimal 0.1 is not a double
    assert l < 0.1 < h and not (l == h)
    l, h, ok = _enc("v - v", 1, 2)               # dependency problem: wide but sound
    assert (l, h) == (-1.0, 1.0)
    l, h, ok = _enc("(-2)**v", 1, 3)             # finite only at integers: nothing known
    assert (l, h) == (-np.inf, np.inf) and not ok


def test_overflow_never_gives_wrong_finite_bounds():
    # lower bound overflowing: DBL_MAX, never inf; upper bound inf
    l, h, ok = _enc("exp(v)", 710, 800)
    assert l == np.finfo(float).max or (np.isfinite(l) and l > 1e307)
    assert h == np.inf and not ok
    # inf - inf -> [-inf, inf]
    l, h, ok = _enc("exp(v) - exp(2*v)", 800, 900)
    assert (l, h) == (-np.inf, np.inf) and not ok
    l, h, ok = _enc("exp(v)*0", 800, 900)
    assert not ok and l <= 0 <= h
    l, h, ok = _enc("v**4 - v**2", 1e200, 2e200)   # both overflow
    assert (l, h) == (-np.inf, np.inf)
    l, h, ok, dom = enclose(parse("v**3 - v"), {"v": (np.array([1e200]), np.array([2e200]))},
                            domain=True)
    # the exact value is > 1e600: certified positive although beyond the double range
    assert l[0] > 1e307 and h[0] == np.inf and dom[0] and not ok[0]


def test_centered_form_is_tight_near_a_minimum():
    p = from_expression("v**4/4 - v**2/2")
    lo = np.array([1 - 1e-4])
    hi = np.array([1 + 1e-4])
    L, H, ok = enclose_W(p, lo, hi)
    Ln, Hn, _ = enclose(p.tree, {"v": (lo, hi)})
    # exact range [-0.25, -0.25 + ~1e-8]; the natural form is ~1e-4 wide
    assert Hn[0] - Ln[0] > 1e-4
    assert L[0] <= -0.25 <= H[0] and H[0] - L[0] < 1e-7 and ok[0]


# ----------------------------------------------------------------------------
# branch and bound (potentials.bnb) against dense sampling + local refinement

from scipy.optimize import minimize, minimize_scalar  # noqa: E402

import potentials as P  # noqa: E402
from potentials.bnb import (  # noqa: E402
    BudgetExceededError,
    adaptive_cell_bounds,
    box_boundary_above,
    cell_bounds,
    certified_minimum,
    certified_minimum_nd,
    level_radius,
    monotone_radius,
    sublevel_cover,
    sublevel_cover_nd,
)
from potentials.nd import from_expression_nd, radial_from_expression  # noqa: E402

ISSUE_1D = [
    # (expression, theta, search interval)
    ("((v-0.9)**2-1)**2", 0.02, (-6.0, 6.0)),
    ("68.2*(v**4/4 - 2.82*v**3/3 + 1.82*v**2/2)", 0.1, (-4.0, 5.0)),
    ("1e10*(v-3.0001)**2", 0.1, (-10.0, 10.0)),
    ("v**2 + 0.1*sin(1000*v)", 0.1, (-10.0, 10.0)),
    ("v**2 + sin(100*v)", 0.1, (-10.0, 10.0)),
    ("v**2*(2 + sin(v))", 0.1, (-10.0, 10.0)),
]


def _dense(p, a, b, n=1_000_001):
    x = np.linspace(a, b, n)
    w = p.W(x)
    i = int(np.argmin(w))
    lo, hi = x[max(i - 1, 0)], x[min(i + 1, n - 1)]
    r = minimize_scalar(lambda t: float(p.W(t)), bounds=(lo, hi), method="bounded",
                        options={"xatol": 1e-15})
    xm, wm = (float(r.x), float(r.fun)) if r.fun < w[i] else (float(x[i]), float(w[i]))
    return xm, wm, x, w


@pytest.mark.parametrize("text,theta,ab", ISSUE_1D)
def test_certified_minimum_and_cover_issue_potentials(text, theta, ab):
    p = from_expression(text)
    a, b = ab
    res = certified_minimum(p, a, b, atol=1e-9)
    xm, wm, x, w = _dense(p, a, b)
    # rounding of the float64 W at the reference point: a few ulps of the largest term
    rnd = 1e-12 * (1.0 + np.max(np.abs(w[np.abs(x - xm) < 1e-3])))
    assert res.converged and not res.exhausted and res.defined
    assert res.lo <= wm + rnd                    # the true minimum is <= the sampled one
    assert res.hi <= wm + 1e-9 + rnd             # and B&B found it up to atol
    assert abs(res.x - xm) < 1e-3 or abs(float(p.W(res.x)) - wm) < 1e-9
    level = res.hi + 45 * theta
    cov = sublevel_cover(p, a, b, level, min_width=1e-10)
    assert not cov.exhausted
    inside = np.zeros(x.shape, bool)
    for lo_, hi_ in cov.intervals:
        inside |= (x >= lo_) & (x <= hi_)
    # every sample of the sublevel set is covered ...
    assert np.all(inside[w <= level - rnd])
    # ... and every piece of the cover touches it (no spurious pieces wider than 1e-6)
    for lo_, hi_ in cov.intervals:
        if hi_ - lo_ > 1e-6:
            sel = (x >= lo_ - 1e-6) & (x <= hi_ + 1e-6)
            assert np.any(w[sel] <= level + 1e-6 * (1 + abs(level)))


def test_cover_sees_the_far_well():
    """((v-0.9)**2-1)**2 at theta = 0.02: wells at -0.1 and 1.9, both in the cover."""
    p = from_expression("((v-0.9)**2-1)**2")
    cov = sublevel_cover(p, -6, 6, 0.02 * 45)
    assert len(cov.intervals) == 2
    for well in (-0.1, 1.9):
        assert any(lo <= well <= hi for lo, hi in cov.intervals)
    # exact hull: (v-0.9)^2 = 1 +- sqrt(0.9)
    s = math.sqrt(1 + math.sqrt(0.9))
    assert abs(cov.intervals[0, 0] - (0.9 - s)) < 1e-8
    assert abs(cov.intervals[-1, 1] - (0.9 + s)) < 1e-8


def test_narrow_well_is_found():
    p = from_expression("1e10*(v-3.0001)**2")
    res = certified_minimum(p, -10, 10)
    assert res.lo <= 0.0 <= res.hi < 1e-9 and abs(res.x - 3.0001) < 1e-9


def test_minimum_over_a_huge_interval():
    """Samples and cell midpoints overflow (W = inf) almost everywhere on [-1e100, 1e100]: the
    upper bounds of W over cells still drive the search."""
    p = from_expression("v**4/4 - v**2/2")
    r = certified_minimum(p, -1e100, 1e100)
    assert r.converged and r.lo <= -0.25 <= r.hi and r.hi + 0.25 < 1e-9


def test_cell_bounds_contain_samples():
    p = from_expression("v**2 + sin(100*v)")
    edges = np.linspace(-2, 2, 41)
    lo, hi, ok = cell_bounds(p, edges)
    x = np.linspace(-2, 2, 40001)
    w = p.W(x)
    cell = np.minimum(np.searchsorted(edges, x, side="right") - 1, 39)
    assert np.all(lo[cell] <= w + 1e-12) and np.all(w <= hi[cell] + 1e-12) and np.all(ok)
    ad = adaptive_cell_bounds(p, -2, 2, 0.05)     # |W'| <= 104: ~1e4 cells
    assert ad.converged and not ad.exhausted and np.all(ad.W_hi - ad.W_lo <= 0.05)
    assert ad.edges[0] == -2 and ad.edges[-1] == 2 and np.all(np.diff(ad.edges) > 0)
    cell = np.minimum(np.searchsorted(ad.edges, x, side="right") - 1, ad.W_lo.size - 1)
    assert np.all(ad.W_lo[cell] <= w + 1e-12) and np.all(w <= ad.W_hi[cell] + 1e-12)


def test_monotone_radius_double_well():
    p = from_expression("v**4/4 - v**2/2")
    r = monotone_radius(p, +1, 0.0)
    assert r.certified and 1.0 <= r.R <= 1.0 + 1e-6
    assert r.R_far > 1e300 and np.all(r.margin > 0)
    left = monotone_radius(p, -1, 0.0)
    assert -1.0 - 1e-6 <= left.R <= -1.0 and left.R_far < -1e300
    # W at R and far out: W(1) = -1/4, and W is huge on the last shell
    assert r.W_R[0] <= -0.25 <= r.W_R[1] + 1e-12 and r.W_far_lo > 1e300
    # library potential (tree attached to the closures): the same
    q = P.case_a(10)
    assert abs(monotone_radius(q, 1, 0.0).R - 1.0) < 1e-6


def test_monotone_radius_oscillating():
    """|W'| = |2v + 100 cos(1000 v)| is certified positive only beyond ~50."""
    p = from_expression("v**2 + 0.1*sin(1000*v)")
    r = monotone_radius(p, +1, 0.0)
    x = np.linspace(45, 55, 2_000_001)
    last_nonpos = x[p.dW(x) <= 0].max()          # last sampled critical region
    assert last_nonpos <= r.R <= 50.0 + 1e-6
    lr = level_radius(p, 4.5, +1, 0.0)
    assert math.sqrt(4.4) < lr.R < math.sqrt(4.6) + 1e-6


def test_level_radius_non_monotone_tail():
    """v**2*(2 + sin(v)) is confining but W' changes sign forever: no monotone tail,
    but W > level is certified beyond a radius."""
    p = from_expression("v**2*(2 + sin(v))")
    assert monotone_radius(p, +1, 0.0).R_far < 10
    lr = level_radius(p, 10.0, +1, 0.0)
    assert lr.certified and lr.R_far > 1e300
    x = np.linspace(0, 20, 200001)
    assert x[p.W(x) <= 10.0].max() <= lr.R <= 10.0


def test_radial_profile_far_shell():
    """10 r^2 (r - 1.7)^2 - r: the global minimum is on the shell near r = 1.7."""
    rp = radial_from_expression("10*r**2*(r-1.7)**2 - r", 2)
    res = certified_minimum(rp, 0.0, 5.0)
    xm, wm, _, _ = _dense(rp.profile, 0.0, 5.0)
    assert res.lo <= wm + 1e-12 and res.hi <= wm + 1e-9 and abs(res.x - xm) < 1e-4
    r = monotone_radius(rp, +1, 0.0)
    x = np.linspace(0, 5, 500001)
    assert x[rp.dW(x) <= 0].max() <= r.R < x[rp.dW(x) <= 0].max() + 1e-4


def test_budget_is_bounded_and_flagged():
    p = from_expression("v**2 + sin(1e6*v)")
    cov = sublevel_cover(p, -3, 3, 1.0, min_width=1e-12, max_cells=20000)
    assert cov.exhausted
    # still a valid cover: the sampled sublevel set is inside
    x = np.linspace(-3, 3, 100001)
    inside = np.zeros(x.shape, bool)
    for lo, hi in cov.intervals:
        inside |= (x >= lo) & (x <= hi)
    assert np.all(inside[p.W(x) <= 1.0 - 1e-12])
    with pytest.raises(BudgetExceededError):
        sublevel_cover(p, -3, 3, 1.0, min_width=1e-12, max_cells=20000, strict=True)
    m = certified_minimum(p, -3, 3, atol=1e-14, rtol=0, max_cells=5000)
    assert m.lo <= m.hi
    q = from_expression("v**2 + sin(1/v)")   # undefined at 0: split until the budget
    c = sublevel_cover(q, -1, 1, 0.5, max_cells=5000)
    assert not c.defined and any(lo <= 0 <= hi for lo, hi in c.intervals)


# ----------------------------------------------------------------------------
# nD


def _covered(pts, boxes, chunk=2000):
    """Whether each point (d, n) lies in some box (m, 2, d), vectorised in chunks."""
    out = np.zeros(pts.shape[1], bool)
    lo, hi = boxes[:, 0, :], boxes[:, 1, :]
    for s in range(0, boxes.shape[0], chunk):
        l, h = lo[s:s + chunk, :, None], hi[s:s + chunk, :, None]
        out |= np.any(np.all((pts[None] >= l) & (pts[None] <= h), axis=1), axis=0)
    return out


def test_nd_double_well_2d():
    p = from_expression_nd("5*(v1**2-1)**2 + v2**2/2", 2)
    res = certified_minimum_nd(p, [-3, -3], [3, 3])
    assert res.converged and res.lo <= 0.0 <= res.hi < 1e-8
    assert abs(abs(res.x[0]) - 1) < 1e-4 and abs(res.x[1]) < 1e-4
    cov = sublevel_cover_nd(p, [-3, -3], [3, 3], 0.5, min_width=1e-2)
    assert not cov.exhausted
    g = np.linspace(-3, 3, 401)
    V = np.stack(np.meshgrid(g, g, indexing="ij")).reshape(2, -1)
    w = p.W(V)
    assert np.all(_covered(V[:, w <= 0.5 - 1e-12], cov.boxes))
    lo, hi = cov.bounding_box
    # exact extent: |v2| <= 1, v1^2 in [1 - sqrt(0.1), 1 + sqrt(0.1)]
    assert abs(hi[1] - 1.0) < 2e-2 and abs(hi[0] - math.sqrt(1 + math.sqrt(0.1))) < 2e-2
    assert box_boundary_above(p, [-3, -3], [3, 3], 0.5).above
    chk = box_boundary_above(p, [-1, -3], [1, 3], 0.5)   # the face v1 = 1 crosses a well
    assert not chk.above and chk.boxes.shape[0] > 0


def test_nd_coupled_quartic_3d():
    text = "(v1**2+v2**2+v3**2)**2/4 - (v1**2+v2**2+v3**2)/2 + 0.3*v1*v2 + 0.1*v3"
    p = from_expression_nd(text, 3)
    res = certified_minimum_nd(p, [-2] * 3, [2] * 3, atol=1e-6)
    # independent reference: multistart L-BFGS
    best = min((minimize(lambda z: float(p.W(z)), z0, jac=lambda z: p.grad(z),
                         method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-12})
                for z0 in np.random.default_rng(3).uniform(-1.5, 1.5, (12, 3))),
               key=lambda r: r.fun)
    assert res.converged and res.lo <= best.fun + 1e-12 and res.hi <= best.fun + 1e-6
    cov = sublevel_cover_nd(p, [-2] * 3, [2] * 3, res.hi + 0.3, min_width=0.1,
                            max_boxes=100000)
    assert not cov.exhausted
    V = np.random.default_rng(4).uniform(-2, 2, (3, 5000))
    pts = V[:, p.W(V) <= res.hi + 0.3 - 1e-12]
    assert pts.shape[1] > 100 and np.all(_covered(pts, cov.boxes))


def test_library_nd_trees():
    q = P.swarming(10, 2, rescaled=True)
    # a circle of minimisers: the boxes must cover it, so a moderate atol (radial
    # potentials are better handled through their 1D profile)
    res = certified_minimum_nd(q, [-2, -2], [2, 2], atol=1e-4)
    assert res.converged and abs(res.hi - (-0.25)) < 1e-10 and -0.25 - 1e-4 <= res.lo <= -0.25
    prof = certified_minimum(q, 0.0, 2.0)
    assert prof.lo <= -0.25 <= prof.hi and prof.hi + 0.25 < 1e-9
    s = P.separable(P.case_a(10), P.ornstein_uhlenbeck())
    res = certified_minimum_nd(P.rotated(s, [[0.6, -0.8], [0.8, 0.6]]), [-3, -3], [3, 3])
    assert res.lo <= -0.25 <= res.hi + 1e-12 and res.hi + 0.25 < 1e-8
