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
        if truth:
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


@pytest.mark.slow
@settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EXPRS, BOXES)
def test_enclosure_is_sound_campaign(text, box):
    lo, width, fracs = box
    tree = parse(text)
    _check_sound(tree, lo, width, fracs)
    d = simplify(tree).diff("v")
    _check_sound(d, lo, width, fracs)
