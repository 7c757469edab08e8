r"""Independent interval enclosures of a 1D potential (mpmath ``iv``), and a certified hull
of its critical points: the reference module's own domain route.

This module is deliberately independent of :mod:`potentials.intervals` and
:mod:`potentials.bnb` (a test checks that it imports neither, nor any
:mod:`effcoef` module): it walks the expression DAG of a potential (``tree``,
``dtree``; nodes are recognised by class name and read through their fields
``a b arg name value text``) with mpmath's interval context :data:`mpmath.iv`
(outward rounding by mpmath, exponent range unbounded), so a bug in one
implementation shows up against the other.

Semantics: the enclosure of an expression on :math:`[a, b]` contains the
exact value :math:`f(v)` for every :math:`v \in [a, b]` where it is a real
number (constants are read exactly from their decimal text; ``pi``, ``e``
enclosed).  Points outside the domain (``log``/``sqrt``/non-integer power
of a negative number, division by 0) are ignored; a non-integer or variable
power of a possibly negative base with a variable exponent gives
:math:`[-\infty, \infty]`.

:func:`critical_hull` returns an interval :math:`[a, b]` that

* contains every point where :math:`W'` may vanish: :math:`W' > 0` is
  certified on :math:`[c_+, R_{far}]` and :math:`W' < 0` on
  :math:`[-R_{far}, c_-]`, :math:`[c_-, c_+] \subseteq [a, b]`;
* extends beyond the outermost critical point on each side until :math:`W`
  has risen by at least ``tail*theta`` above its value there:
  :math:`W(v) \ge W(v^*_\pm) + \text{tail}\,\theta` for :math:`v \ge b`
  resp. :math:`v \le a` (up to :math:`R_{far}`), :math:`v^*_\pm` the
  outermost critical points.

:math:`R_{far} = 2^{1030}` (beyond the double range, where mpmath still
computes exactly; beyond it nothing is certified).
"""

from __future__ import annotations

import math
import weakref
from typing import NamedTuple

import mpmath
from mpmath import iv, mpf

__all__ = ["enclose", "enclose_W", "enclose_dW", "critical_hull", "CriticalHull",
           "EnclosureError", "R_FAR_LOG2"]

#: shells [4^k, 4^(k+1)] up to 2^R_FAR_LOG2
R_FAR_LOG2 = 1030
#: innermost shell edge 2^-K_MIN_LOG2 (the central cell is [-2^-30, 2^-30])
K_MIN_LOG2 = 30
#: budget of cell evaluations per side
MAX_EVALS = 40000

_INF = mpf("inf")
#: relative widening of mpmath's (not outward-rounded) non-integer iv power
_POW_SLACK = iv.mpf([1 - mpf(2) ** -40, 1 + mpf(2) ** -40])


class EnclosureError(ValueError):
    """The critical hull cannot be certified (W' not one-signed at large ``|v|``, budget)."""


# ----------------------------------------------------------------------
# tree walker


def _postorder(roots):
    order, seen = [], set()
    for root in roots:
        stack = [(root, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            for c in reversed(_children(node)):
                if id(c) not in seen:
                    stack.append((c, False))
    return order


def _children(node):
    k = type(node).__name__
    if k in ("Add", "Sub", "Mul", "Div", "Pow"):
        return (node.a, node.b)
    if k == "Neg":
        return (node.a,)
    if k == "Func":
        return (node.arg,)
    return ()


def _ends(x):
    return mpf(x.a), mpf(x.b)


def _iv(lo, hi):
    return iv.mpf([lo, hi])


def _whole():
    return iv.mpf(["-inf", "inf"])


def _const(node):
    t = node.text
    if t == "pi":
        return iv.pi
    if t == "e":
        return iv.e
    if t is not None:
        return iv.mpf(t.replace("_", ""))
    return iv.mpf(node.value)


def _is_integer_point(x):
    lo, hi = _ends(x)
    return lo == hi and mpmath.isfinite(lo) and mpmath.isint(lo)


def _monotone(f, x, lo_lim=None, hi_lim=None):
    """Increasing function f (iv -> iv) on an interval: [f(lo).a, f(hi).b]."""
    lo, hi = _ends(x)
    a = lo_lim if (lo == -_INF and lo_lim is not None) else mpf(f(iv.mpf(lo)).a)
    b = hi_lim if (hi == _INF and hi_lim is not None) else mpf(f(iv.mpf(hi)).b)
    return _iv(a, b)


def _tanh(x):
    return 1 - 2 / (iv.exp(2 * x) + 1)


def _sinh(x):
    return (iv.exp(x) - iv.exp(-x)) / 2


def _cosh_pt(x):
    return (iv.exp(x) + iv.exp(-x)) / 2


def _func(name, x):
    lo, hi = _ends(x)
    if name == "abs":
        return abs(x)
    if name == "sign":
        return _iv(mpmath.sign(lo), mpmath.sign(hi))
    if name == "exp":
        return iv.exp(x)
    if name == "log":
        if hi <= 0:
            return _whole()
        return iv.log(_iv(max(lo, mpf(0)), hi))
    if name == "sqrt":
        if hi < 0:
            return _whole()
        return iv.sqrt(_iv(max(lo, mpf(0)), hi))
    if name in ("sin", "cos"):
        if not (mpmath.isfinite(lo) and mpmath.isfinite(hi)):
            return _iv(-1, 1)
        return iv.sin(x) if name == "sin" else iv.cos(x)
    if name == "tanh":
        return _monotone(_tanh, x, mpf(-1), mpf(1))
    if name == "sinh":
        return _monotone(_sinh, x, -_INF, _INF)
    if name == "cosh":
        m = abs(x)
        mlo, mhi = _ends(m)
        a = mpf(_cosh_pt(iv.mpf(mlo)).a)
        b = _INF if mhi == _INF else mpf(_cosh_pt(iv.mpf(mhi)).b)
        return _iv(a, b)
    raise TypeError(f"unknown function {name!r}")  # pragma: no cover


def _pow(u, w, w_node):
    if _is_integer_point(w):
        n = int(mpf(w.a))
        if n == 0:
            return iv.mpf(1)
        return u ** n
    ulo, uhi = _ends(u)
    variable = any(type(n).__name__ == "Var" for n in _postorder([w_node]))
    if ulo < 0 and variable:
        return _whole()
    if uhi < 0:
        return _whole()
    base = _iv(max(ulo, mpf(0)), uhi)
    blo, bhi = _ends(base)
    wlo, whi = _ends(w)
    # monotone in each argument on base >= 0: hull of the corners
    vals = []
    for bb in (blo, bhi):
        for ww in (wlo, whi):
            if bb == 0:
                vals.append((mpf(0), mpf(0)) if ww > 0 else (_INF, _INF) if ww < 0 else
                            (mpf(1), mpf(1)))
            elif bb == _INF or not mpmath.isfinite(ww):
                r = _INF if ((bb == _INF and ww > 0) or (ww == _INF and bb > 1)
                             or (ww == -_INF and bb < 1)) else mpf(0)
                vals.append((r, r))
            else:
                # mpmath's iv power with a non-integer exponent is not outward rounded
                # (1.175494351e-38 ** -0.5 misses the true value by 0.08 at 1e19): widen
                r = iv.mpf(bb) ** iv.mpf(ww) * _POW_SLACK
                vals.append(_ends(r))
    return _iv(min(v[0] for v in vals), max(v[1] for v in vals))


def _eval(node, vals, env):
    k = type(node).__name__
    if k == "Const":
        return _const(node)
    if k == "Var":
        return env[node.name]
    if k == "Neg":
        return -vals[node.a]
    if k == "Func":
        return _func(node.name, vals[node.arg])
    a, b = vals[node.a], vals[node.b]
    if k == "Add":
        return a + b
    if k == "Sub":
        return a - b
    if k == "Mul":
        return a ** 2 if node.a is node.b else a * b
    if k == "Div":
        blo, bhi = _ends(b)
        if blo <= 0 <= bhi:
            return _whole()
        return a / b
    if k == "Pow":
        return _pow(a, b, node.b)
    raise TypeError(f"unknown node {k}")  # pragma: no cover


def enclose(nodes, var, a, b):
    r"""Interval enclosures (``mpmath.iv.mpf``) of expression DAGs on :math:`[a, b]`.

    Parameters
    ----------
    nodes : sequence of expression nodes
    var : str
        Variable name.
    a, b : number or str
        Interval ends (mpmath numbers, floats or decimal strings).

    Returns
    -------
    list of mpmath.iv.mpf
    """
    x = iv.mpf([a, b])
    vals = {}
    env = {var: x}
    for n in _postorder(nodes):
        try:
            vals[n] = _eval(n, vals, env)
        except (ValueError, ZeroDivisionError, ArithmeticError):
            # mpmath refuses (e.g. complex result): nothing is known
            vals[n] = _whole()
    return [vals[n] for n in nodes]


def _var(pot):
    v = getattr(pot, "var", None)
    return v if v else "v"


def _need(pot, attr):
    prof = getattr(pot, "profile", None)
    if prof is not None and getattr(pot, "tree", None) is None:
        pot = prof
    if getattr(pot, attr, None) is None:
        raise EnclosureError(f"{getattr(pot, 'name', pot)}: no expression tree ({attr})")
    return pot


def enclose_W(pot, a, b):
    r"""Enclosure of :math:`W` on :math:`[a, b]`: natural form intersected with the
    mean-value form :math:`W(c) + W'([a, b])([a, b] - c)` (when finite).

    Returns
    -------
    mpmath.iv.mpf
    """
    pot = _need(pot, "tree")
    x = _var(pot)
    nat = enclose([pot.tree], x, a, b)[0]
    if getattr(pot, "dtree", None) is None:
        return nat
    return _centered(pot.tree, pot.dtree, x, a, b, nat)


def enclose_dW(pot, a, b):
    r"""Enclosure of :math:`W'` on :math:`[a, b]` (mean-value form with ``d2tree`` when
    present)."""
    pot = _need(pot, "dtree")
    x = _var(pot)
    nat = enclose([pot.dtree], x, a, b)[0]
    if getattr(pot, "d2tree", None) is None:
        return nat
    return _centered(pot.dtree, pot.d2tree, x, a, b, nat)


def _centered(f, df, x, a, b, nat):
    X = iv.mpf([a, b])
    lo, hi = _ends(X)
    if not (mpmath.isfinite(lo) and mpmath.isfinite(hi)):
        return nat
    # the mean-value form needs f continuous: sign(u) jumps where u = 0
    for n in _postorder([f]):
        if type(n).__name__ == "Func" and n.name == "sign":
            slo, shi = _ends(enclose([n.arg], x, lo, hi)[0])
            if slo <= 0 <= shi:
                return nat
    c = (lo + hi) / 2
    fc = enclose([f], x, c, c)[0]
    d = enclose([df], x, lo, hi)[0]
    dlo, dhi = _ends(d)
    clo, chi = _ends(fc)
    if not all(mpmath.isfinite(t) for t in (dlo, dhi, clo, chi)):
        return nat
    cen = fc + d * (X - c)
    nlo, nhi = _ends(nat)
    elo, ehi = _ends(cen)
    L, H = max(nlo, elo), min(nhi, ehi)
    if L > H:
        return nat
    return _iv(L, H)


# ----------------------------------------------------------------------
# critical hull


class CriticalHull(NamedTuple):
    r"""Result of :func:`critical_hull`.

    Attributes
    ----------
    a, b : float
        The hull (rounded outward to double).
    crit_lo, crit_hi : float
        :math:`W' < 0` is certified on :math:`[-R_{far}, \text{crit\_lo}]` and
        :math:`W' > 0` on :math:`[\text{crit\_hi}, R_{far}]`; every critical
        point lies in :math:`[\text{crit\_lo}, \text{crit\_hi}]`.
    W_crit_left, W_crit_right : float
        Upper bounds of W at the outermost critical points (left, right).
    R_far : float
        :math:`2^{1030}` as a float (``inf``): the certified range is
        :math:`[-2^{1030}, 2^{1030}]`.
    n_evals : int
        Number of interval evaluations.
    """

    a: float
    b: float
    crit_lo: float
    crit_hi: float
    W_crit_left: float
    W_crit_right: float
    R_far: float
    n_evals: int


_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _cells_outer_first(side):
    """Shells [4^k, 4^(k+1)] (in u = side*v) from 2^R_FAR_LOG2 inward, the central cell,
    then the shells of the other side from the origin outward."""
    edges = [mpf(2) ** e for e in range(R_FAR_LOG2, -K_MIN_LOG2 - 1, -2)]
    cells = [(edges[i + 1], edges[i]) for i in range(len(edges) - 1)]
    cells.append((-edges[-1], edges[-1]))
    cells += [(-edges[i], -edges[i + 1]) for i in range(len(edges) - 2, -1, -1)]
    if side < 0:
        cells = [(-h, -lo) for lo, h in cells]
    return cells


def _outermost_critical(pot, side, rtol, budget):
    """Outer end c of the outermost cell (resolution rtol) where side*W' > 0 is not certified,
    scanning from side*infinity inward; returns (c, cell, n_evals)."""
    x = _var(pot)
    cells = _cells_outer_first(side)
    first = cells[0]
    stack = list(reversed(cells))          # the outermost cell on top
    n = 0
    while stack:
        lo, hi = stack.pop()
        if (side > 0 and hi == first[1] and lo > first[0] * 2) or \
                (side < 0 and lo == first[0] and hi < first[1] * 2):
            # refining inside the outermost shell: W' is not one-signed out there
            raise EnclosureError(
                f"{pot.name}: W' is not certified {'positive' if side > 0 else 'negative'} "
                f"toward {'+' if side > 0 else '-'}infinity (up to 2^{R_FAR_LOG2}): W is "
                "not monotone at large |v| (e.g. oscillating) or not confining")
        d = enclose([pot.dtree], x, lo, hi)[0]
        n += 1
        if n > budget:
            raise EnclosureError(f"{pot.name}: critical hull needs more than {budget} "
                                 "interval evaluations")
        dlo, dhi = _ends(d)
        if (side > 0 and dlo > 0) or (side < 0 and dhi < 0):
            continue
        # uncertified: refine (outer half first), or stop at the resolution
        scale = max(abs(lo), abs(hi), mpf(1))
        if hi - lo <= rtol * scale:
            return (hi if side > 0 else lo), (lo, hi), n
        if lo > 0 and hi / lo > 4:
            m = mpmath.sqrt(lo) * mpmath.sqrt(hi)
        elif hi < 0 and lo / hi > 4:
            m = -mpmath.sqrt(-lo) * mpmath.sqrt(-hi)
        else:
            m = (lo + hi) / 2
        inner, outer = ((lo, m), (m, hi)) if side > 0 else ((m, hi), (lo, m))
        stack.append(inner)
        stack.append(outer)
    raise EnclosureError(f"{pot.name}: W' is certified one-signed on the whole line; "
                         "the potential is not confining")


def _extend(pot, side, c, level):
    """Smallest (to resolution) t beyond c (outward) with W(t) >= level certified."""
    x = _var(pot)

    def above(t):
        w = enclose([pot.tree], x, t, t)[0]
        return mpf(w.a) >= level

    far = mpf(2) ** R_FAR_LOG2
    h = max(mpf(2) ** -30, abs(c) * mpf(2) ** -40)
    inner = c
    t = c + side * h
    n = 0
    while not above(t):
        n += 1
        inner = t
        h *= 2
        t = c + side * h
        if abs(t) > far:
            raise EnclosureError(f"{pot.name}: W does not rise by tail*theta before "
                                 f"|v| = 2^{R_FAR_LOG2}")
    outer = t
    for _ in range(60):
        m = (inner + outer) / 2
        if above(m):
            outer = m
        else:
            inner = m
        n += 1
        if abs(outer - inner) <= mpf(2) ** -40 * max(abs(outer), mpf(1)):
            break
    return outer, n


def _down(x):
    f = float(x)
    return f if mpf(f) <= x else math.nextafter(f, -math.inf)


def _up(x):
    f = float(x)
    return f if mpf(f) >= x else math.nextafter(f, math.inf)


def critical_hull(pot, theta, tail=45.0, *, rtol=1e-10, max_evals=MAX_EVALS) -> CriticalHull:
    r"""Certified hull of the critical points of W, extended by ``tail*theta`` of rise.

    Parameters
    ----------
    pot : Potential or RadialPotential
        With ``tree`` and ``dtree``; for a RadialPotential the profile on
        :math:`r \ge 0`: the hull is :math:`[0, b]` (``a = crit_lo = 0``,
        ``W_crit_left`` bounds :math:`w(0)`).
    theta, tail : float
        The rise required beyond the outermost critical points is
        ``tail*theta``.
    rtol : float
        Relative resolution of the outermost critical points.
    max_evals : int
        Budget of interval evaluations per side.

    Returns
    -------
    CriticalHull

    Raises
    ------
    EnclosureError
        If W' is never certified one-signed toward one side (not confining,
        or oscillating like ``v**2*(2 + sin(v))``), or W does not rise
        enough, or the budget is exceeded.

    Notes
    -----
    Shells :math:`[4^k, 4^{k+1}]` from :math:`2^{1030}` inward (then the
    cell :math:`[-2^{-30}, 2^{-30}]` and the other side) are scanned; a
    shell where :math:`\pm W' > 0` is not certified is split (at the
    geometric mean for wide shells), outer half first, until the outermost
    uncertified cell has relative width ``rtol``.  The rise is certified by
    the enclosure of W at single points, doubling the distance and then
    bisecting.  Results are cached per potential.
    """
    theta = float(theta)
    tail = float(tail)
    if not (math.isfinite(theta) and theta > 0 and math.isfinite(tail) and tail > 0):
        raise ValueError(f"critical_hull: theta and tail must be finite and > 0, got "
                         f"{theta!r}, {tail!r}")
    base = pot
    radial = getattr(pot, "profile", None) is not None and getattr(pot, "tree", None) is None
    pot = _need(pot, "dtree")
    cache = _CACHE.setdefault(base, {}) if _cacheable(base) else {}
    key = ("crit", rtol)
    if key not in cache:
        out = []
        for side in ((1,) if radial else (1, -1)):
            c, cell, n = _outermost_critical(pot, side, mpf(rtol), max_evals)
            wmax = mpf(enclose_W(pot, cell[0], cell[1]).b)
            out.append((c, wmax, n))
        if radial:
            # a radial profile lives on r >= 0: the hull starts at 0
            w0 = mpf(enclose([pot.tree], _var(pot), 0, 0)[0].b)
            out.append((mpf(0), w0, 0))
        cache[key] = out
    (c_hi, w_right, n1), (c_lo, w_left, n2) = cache[key]
    rise = mpf(tail) * mpf(theta)
    key2 = ("hull", rtol, theta, tail)
    if key2 not in cache:
        # a radial profile may be +inf at r = 0 (a repulsive core such as 1/r: no mass there)
        left_ok = mpmath.isfinite(w_left) or (radial and w_left == mpmath.inf)
        if not (mpmath.isfinite(w_right) and left_ok):
            raise EnclosureError(f"{pot.name}: W is not bounded at the outermost critical "
                                 "points")
        b, m1 = _extend(pot, 1, c_hi, w_right + rise)
        if radial:
            a, m2 = mpf(0), 0
        else:
            a, m2 = _extend(pot, -1, c_lo, w_left + rise)
        cache[key2] = CriticalHull(_down(a), _up(b), _down(c_lo), _up(c_hi), _up(w_left),
                                   _up(w_right), math.inf, n1 + n2 + m1 + m2)
    return cache[key2]


def _cacheable(obj):
    try:
        weakref.ref(obj)
        return True
    except TypeError:
        return False
