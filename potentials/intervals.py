r"""Rigorous, vectorised interval arithmetic on expression trees.

An interval is a pair of float64 arrays ``(lo, hi)`` of any common shape (many
boxes at once).  :func:`enclose` evaluates an expression DAG of
:mod:`potentials.expression` on intervals and returns ``(lo, hi, defined)``
with the guarantee

.. math::

    \mathrm{lo} \le f(x) \le \mathrm{hi}
    \quad\text{for every } x \text{ in the box where } f(x) \text{ is not NaN},

both for the exact real value of :math:`f(x)` (constants read exactly from
their decimal text, ``pi``/``e`` exact) and for its float64 evaluation
``node.eval_np`` at any float64 point of the box.  ``defined`` is True where
:math:`f` is certainly defined and finite on the whole box (no ``log``/
``sqrt`` of a possibly negative argument, no division by an interval
containing 0, no overflow, no infinite bound).

Rounding
--------
Every bound is rounded outward:

* ``+`` and ``-`` use the error-free transformation TwoSum, so exact sums
  stay exact and inexact ones move by one ulp in the safe direction;
* ``*`` and ``/`` (correctly rounded by IEEE 754) widen by one ulp
  (``np.nextafter`` toward :math:`\mp\infty`);
* ``sqrt`` is correctly rounded: one ulp;
* the transcendental functions of numpy (``exp log sin cos tanh cosh sinh``
  and ``pow``) are not correctly rounded.  Their error measured on this
  machine against mpmath is at most 1.05 ulp (tanh; the others <= 0.66
  ulp).  If the library error is :math:`e` ulp, the float value at a point
  of the box may lie :math:`e` ulp beyond the true endpoint value, which is
  itself :math:`e` ulp from the computed one, so the bounds are widened by
  :data:`TRANSCENDENTAL_ULPS` = 4 ulp (valid for :math:`e \le 2`).
  ``log(cosh(w))`` is evaluated like :meth:`Func.eval_np` (``logaddexp``),
  whose cancellation error is absolute (relative to ``log 2``); it is
  widened by ``8 eps`` times the ``logaddexp`` value.

Overflow and NaN: a lower bound that overflows becomes ``DBL_MAX`` (never
``+inf``), an upper bound ``+inf``; ``inf - inf``, ``0*inf`` and other NaN
endpoint values give ``[-inf, inf]`` resp. the conservative side, so NaN
never appears as a bound.

Centered form
-------------
:func:`enclose_W` (1D potentials) and :func:`enclose_W_nd` (boxes in
:math:`\mathbb{R}^d`) intersect the natural enclosure with the mean-value
form

.. math::

    W(X) \subseteq W(c) + \sum_i \partial_i W(X)\,(X_i - c_i),

(:math:`c` the box centre, :math:`W(c)` enclosed on the degenerate box) where
the derivative enclosure is finite and defined; it is quadratically tight
near minima, which makes branch and bound converge.  It is valid for the
a.e. derivative of ``abs`` (``sign``), whose enclosure contains the
generalised gradient.
"""

from __future__ import annotations

import math
from typing import List, Mapping, Sequence, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from .core import Potential
from .expression import Add, Const, Div, Func, Mul, Neg, Node, Pow, Sub, Var, dag_nodes
from .nd import PotentialND, RadialPotential

__all__ = [
    "TRANSCENDENTAL_ULPS", "enclose", "enclose_many", "enclose_W", "enclose_dW",
    "enclose_W_nd", "enclose_centered", "tree_var",
]

#: outward widening (in ulps) of the results of numpy's transcendental functions
TRANSCENDENTAL_ULPS = 4

_INF = np.inf
_EPS = np.finfo(np.float64).eps
_HALF_PI = math.pi / 2.0
#: beyond this |x| sin and cos are enclosed by [-1, 1]
_TRIG_MAX = 2.0 ** 45


# ----------------------------------------------------------------------
# rounding helpers


def _down(x, k=1):
    for _ in range(k):
        x = np.nextafter(x, -_INF)
    return x


def _up(x, k=1):
    for _ in range(k):
        x = np.nextafter(x, _INF)
    return x


def _nan_lo(x):
    return np.where(np.isnan(x), -_INF, x)


def _nan_hi(x):
    return np.where(np.isnan(x), _INF, x)


def _sum_err(a, b):
    """TwoSum: s = fl(a + b) and the sign of the rounding error (a + b) - s."""
    s = a + b
    bb = s - a
    err = (a - (s - bb)) + (b - bb)
    return s, err


def _add_lo(a, b):
    s, err = _sum_err(a, b)
    # round down unless exact (err == 0) or the error is positive
    return _nan_lo(np.where(err >= 0, s, _down(s)))


def _add_hi(a, b):
    s, err = _sum_err(a, b)
    return _nan_hi(np.where(err <= 0, s, _up(s)))


# ----------------------------------------------------------------------
# constants


def _const_bounds(c: Const):
    """Enclosure of the exact value of a constant (its decimal text; ``pi``, ``e``)."""
    v = c.value
    if c.exact:
        return v, v
    return float(_down(v)), float(_up(v))


def _const_exponent(node: Node):
    """Float value of a variable-free exponent, as the float evaluation computes it."""
    if node.variables:
        return None
    with np.errstate(all="ignore"):
        v = float(np.asarray(node.eval_np({}), dtype=np.float64))
    return v


# ----------------------------------------------------------------------
# elementary operations on intervals (lo, hi, ok)


def _mul(alo, ahi, blo, bhi):
    with np.errstate(all="ignore"):
        p = np.stack(np.broadcast_arrays(alo * blo, alo * bhi, ahi * blo, ahi * bhi))
    p = np.where(np.isnan(p), 0.0, p)  # 0 * inf: bounds, not values
    return _down(p.min(axis=0)), _up(p.max(axis=0))


def _sqr(lo, hi):
    with np.errstate(all="ignore"):
        a, b = lo * lo, hi * hi
    straddle = (lo < 0) & (hi > 0)
    mn = np.where(straddle, 0.0, np.minimum(a, b))
    return np.where(straddle, 0.0, np.maximum(_down(mn), 0.0)), _up(np.maximum(a, b))


def _div(alo, ahi, blo, bhi):
    zero_in = (blo <= 0) & (bhi >= 0)
    with np.errstate(all="ignore"):
        q = np.stack(np.broadcast_arrays(alo / blo, alo / bhi, ahi / blo, ahi / bhi))
    nan = np.any(np.isnan(q), axis=0)
    lo = _down(np.nanmin(np.where(np.isnan(q), _INF, q), axis=0))
    hi = _up(np.nanmax(np.where(np.isnan(q), -_INF, q), axis=0))
    bad = zero_in | nan
    # a divisor with 0 as an END point ([0, h] or [-h, 0], h > 0) still bounds one side:
    # on (0, h], a/b lies in [alo/h, +inf] when a >= 0 and in [-inf, ahi/h] when a <= 0
    # (1/r near r = 0 of a radial profile); at b = 0 itself the value is +-inf or NaN
    with np.errstate(all="ignore"):
        zlo = (blo == 0) & (bhi > 0) & ~nan
        zhi = (bhi == 0) & (blo < 0) & ~nan
        pos, neg = alo >= 0, ahi <= 0
        one_lo = np.where(zlo, _down(alo / bhi), _down(ahi / blo))   # a >= 0 on (0, h] / a <= 0 on [-h, 0)
        one_hi = np.where(zlo, _up(ahi / bhi), _up(alo / blo))
    lo_side = (zlo & pos) | (zhi & neg)          # result >= one_lo, unbounded above
    hi_side = (zlo & neg) | (zhi & pos)          # result <= one_hi, unbounded below
    L = np.where(bad, -_INF, lo)
    H = np.where(bad, _INF, hi)
    L = np.where(lo_side, _nan_lo(one_lo), L)
    H = np.where(hi_side, _nan_hi(one_hi), H)
    return L, H, ~zero_in


def _monotone_fn(f, lo, hi, k=TRANSCENDENTAL_ULPS):
    with np.errstate(all="ignore"):
        return _nan_lo(_down(f(lo), k)), _nan_hi(_up(f(hi), k))


def _exp(lo, hi):
    l, h = _monotone_fn(np.exp, lo, hi)
    return np.maximum(l, 0.0), h


def _log(lo, hi):
    with np.errstate(all="ignore"):
        l = np.where(lo > 0, _down(np.log(np.where(lo > 0, lo, 1.0)), TRANSCENDENTAL_ULPS), -_INF)
        h = np.where(hi > 0, _up(np.log(np.where(hi > 0, hi, 1.0)), TRANSCENDENTAL_ULPS), _INF)
    empty = hi <= 0
    return np.where(empty, -_INF, l), np.where(empty, _INF, h), lo > 0


def _sqrt(lo, hi):
    with np.errstate(all="ignore"):
        l = np.maximum(_down(np.sqrt(np.maximum(lo, 0.0))), 0.0)
        h = _up(np.sqrt(np.maximum(hi, 0.0)))
    empty = hi < 0
    return np.where(empty, -_INF, l), np.where(empty, _INF, h), lo >= 0


def _trig(lo, hi, cos):
    """sin (cos=False) or cos (cos=True) with exact extrema detection."""
    f = np.cos if cos else np.sin
    with np.errstate(all="ignore"):
        fa, fb = f(lo), f(hi)
        l = _down(np.minimum(fa, fb), TRANSCENDENTAL_ULPS)
        h = _up(np.maximum(fa, fb), TRANSCENDENTAL_ULPS)
        # extrema at t = x / (pi/2) = m with m = 1 (mod 4) for the max of sin, 3 for its
        # min, 0 / 2 for cos.  |t_computed - t_exact| <= 4e-16 |t| (rounding of pi/2 and
        # of the division); the slack only admits extra (harmless) extrema.
        ta, tb = lo / _HALF_PI, hi / _HALF_PI
        s = 1e-15 * np.maximum(np.abs(ta), np.abs(tb)) + 1e-300
        ta, tb = ta - s, tb + s

        def contains(r):
            m0 = 4.0 * np.ceil((ta - r) / 4.0) + r
            return m0 <= tb

        rmax, rmin = (0.0, 2.0) if cos else (1.0, 3.0)
        wide = ~((np.abs(lo) < _TRIG_MAX) & (np.abs(hi) < _TRIG_MAX) & (hi - lo < 6.0))
        h = np.where(wide | contains(rmax), 1.0, h)
        l = np.where(wide | contains(rmin), -1.0, l)
    return _nan_lo(np.maximum(l, -1.0)), _nan_hi(np.minimum(h, 1.0))


def _cosh(lo, hi):
    with np.errstate(all="ignore"):
        ca, cb = np.cosh(lo), np.cosh(hi)
    straddle = (lo <= 0) & (hi >= 0)
    l = np.where(straddle, 1.0, np.maximum(_down(np.minimum(ca, cb), TRANSCENDENTAL_ULPS), 1.0))
    return l, _up(np.maximum(ca, cb), TRANSCENDENTAL_ULPS)


def _log_cosh(lo, hi):
    """log(cosh(w)) as evaluated by Func.eval_np: logaddexp(w, -w) - log 2 (even in w)."""
    straddle = (lo <= 0) & (hi >= 0)
    m = np.where(straddle, 0.0, np.minimum(np.abs(lo), np.abs(hi)))
    M = np.maximum(np.abs(lo), np.abs(hi))
    with np.errstate(all="ignore"):
        la, lb = np.logaddexp(m, -m), np.logaddexp(M, -M)
        l = _down(la - math.log(2.0) - 8 * _EPS * la, 2)
        h = _up(lb - math.log(2.0) + 8 * _EPS * lb, 2)
    return _nan_lo(l), _nan_hi(h)


def _abs(lo, hi):
    pos, negv = lo >= 0, hi <= 0
    l = np.where(pos, lo, np.where(negv, -hi, 0.0))
    h = np.where(pos, hi, np.where(negv, -lo, np.maximum(-lo, hi)))
    return l, h


def _int_pow(lo, hi, n):
    """x**n for an integer n (as numpy's power with an integer-valued exponent)."""
    k = TRANSCENDENTAL_ULPS
    if n == 0:
        one = np.ones(np.broadcast(lo, hi).shape)
        return one, one, np.ones(one.shape, bool)
    even = math.fmod(n, 2.0) == 0.0
    with np.errstate(all="ignore"):
        pa, pb = np.power(lo, n), np.power(hi, n)
    mn, mx = np.minimum(pa, pb), np.maximum(pa, pb)
    straddle = (lo < 0) & (hi > 0)
    if n > 0:
        if even:
            l = np.where(straddle, 0.0, np.maximum(_down(mn, k), 0.0))
            h = _up(mx, k)
        else:
            l, h = _down(pa, k), _up(pb, k)
        return _nan_lo(l), _nan_hi(h), np.ones(l.shape, bool)
    zero_in = (lo <= 0) & (hi >= 0)
    if even:
        l = np.where(zero_in, np.maximum(_down(mn, k), 0.0), _down(mn, k))
        h = np.where(zero_in, _INF, _up(mx, k))
    else:
        l = np.where(zero_in, -_INF, _down(mn, k))
        h = np.where(zero_in, _INF, _up(mx, k))
    return _nan_lo(l), _nan_hi(h), ~zero_in


def _gen_pow(alo, ahi, blo, bhi, const_expo):
    """u**w for a non-integer or variable exponent: defined for u >= 0 (exp(w log u))."""
    k = TRANSCENDENTAL_ULPS
    neg_base = alo < 0
    a0 = np.maximum(alo, 0.0)
    with np.errstate(all="ignore"):
        p = np.stack(np.broadcast_arrays(np.power(a0, blo), np.power(a0, bhi),
                                         np.power(ahi, blo), np.power(ahi, bhi)))
    nan = np.any(np.isnan(p), axis=0)
    l = np.maximum(_down(np.min(p, axis=0), k), 0.0)
    h = _up(np.max(p, axis=0), k)
    # a negative base: NaN for a non-integer constant exponent (the part u >= 0
    # is enclosed above); with a variable exponent, or a constant one whose exact
    # value may be an integer although its float is not (e.g. (0.1 + 0.2)*10), the
    # value is finite at integer exponents, so nothing is known
    int_in = np.floor(bhi) >= blo
    unknown = nan | (ahi < 0) | (neg_base & (int_in if const_expo else True))
    return (np.where(unknown, -_INF, l), np.where(unknown, _INF, h), ~neg_base)


# ----------------------------------------------------------------------
# evaluation


def enclose_many(nodes: Sequence[Node], env: Mapping[str, Tuple[ArrayLike, ArrayLike]], *,
                 domain: bool = False) -> List[Tuple[np.ndarray, ...]]:
    r"""Enclose several expressions sharing subexpressions, each distinct node once.

    Parameters
    ----------
    nodes : sequence of Node
    env : dict
        Maps each variable name to a pair ``(lo, hi)`` of float arrays
        (broadcastable to a common shape), ``lo <= hi``.
    domain : bool
        Also return the ``in_domain`` flag (see below).

    Returns
    -------
    list of tuple
        ``(lo, hi, defined)`` for each node (``(lo, hi, defined, in_domain)``
        with ``domain=True``), arrays of the broadcast shape.  ``in_domain``
        is True where the *exact* expression is certainly defined (a real
        number) on the whole box: no ``log``/``sqrt``/non-integer power of a
        possibly negative (or zero, where it matters) argument and no
        division by an interval containing 0.  Unlike ``defined`` it allows
        infinite bounds (values beyond the double range), so it is the flag
        to use for properties of the exact values (e.g. ``lo > 0`` with
        ``hi = inf``).
    """
    env = {k: (np.asarray(v[0], dtype=np.float64), np.asarray(v[1], dtype=np.float64))
           for k, v in env.items()}
    shape = np.broadcast_shapes(*[a.shape for pair in env.values() for a in pair]) \
        if env else ()
    vals = {}
    with np.errstate(all="ignore"):
        for n in dag_nodes(*nodes):
            vals[n] = _eval_node(n, vals, env)
    out = []
    for n in nodes:
        lo, hi, ok, dom = vals[n]
        r = (np.broadcast_to(lo, shape).astype(np.float64),
             np.broadcast_to(hi, shape).astype(np.float64),
             np.broadcast_to(ok, shape).astype(bool))
        if domain:
            r = r + (np.broadcast_to(dom, shape).astype(bool),)
        out.append(r)
    return out


def enclose(node: Node, env: Mapping[str, Tuple[ArrayLike, ArrayLike]], *,
            domain: bool = False) -> Tuple[np.ndarray, ...]:
    r"""Interval enclosure of ``node`` on the boxes given by ``env``.

    Parameters
    ----------
    node : Node
        Expression DAG (:mod:`potentials.expression`).
    env : dict
        ``{name: (lo, hi)}`` for every variable of ``node``; arrays of any
        broadcastable shape (one box per element).
    domain : bool
        Also return ``in_domain`` (see :func:`enclose_many`).

    Returns
    -------
    lo, hi : numpy.ndarray
        :math:`\mathrm{lo} \le f(x) \le \mathrm{hi}` for every :math:`x` in
        the box where :math:`f(x)` is not NaN, for the exact value and for
        the float64 evaluation alike.  Never NaN; ``-inf``/``+inf`` mean
        unbounded.
    defined : numpy.ndarray of bool
        True where :math:`f` is certainly defined and finite on the whole box
        (and so is every intermediate value, so that the float64 evaluation
        is finite too).
    """
    return enclose_many([node], env, domain=domain)[0]


def _eval_node(n, vals, env):
    if isinstance(n, Const):
        l, h = _const_bounds(n)
        return np.float64(l), np.float64(h), np.True_, np.True_
    if isinstance(n, Var):
        try:
            lo, hi = env[n.name]
        except KeyError:
            raise KeyError(f"no interval given for variable {n.name!r}") from None
        return lo, hi, np.isfinite(lo) & np.isfinite(hi), np.True_
    if isinstance(n, Neg):
        lo, hi, ok, dom = vals[n.a]
        return -hi, -lo, ok, dom
    if isinstance(n, Func):
        return _eval_func(n, vals)
    alo, ahi, aok, adom = vals[n.a]
    blo, bhi, bok, bdom = vals[n.b]
    ok = aok & bok
    dom = adom & bdom
    if isinstance(n, Add):
        lo, hi = _add_lo(alo, blo), _add_hi(ahi, bhi)
    elif isinstance(n, Sub):
        lo, hi = _add_lo(alo, -bhi), _add_hi(ahi, -blo)
    elif isinstance(n, Mul):
        if n.a is n.b:
            lo, hi = _sqr(alo, ahi)
        else:
            lo, hi = _mul(alo, ahi, blo, bhi)
    elif isinstance(n, Div):
        lo, hi, dok = _div(alo, ahi, blo, bhi)
        ok, dom = ok & dok, dom & dok
    elif isinstance(n, Pow):
        c = _const_exponent(n.b)
        if c is not None and math.isfinite(c) and float(c).is_integer():
            lo, hi, pok = _int_pow(alo, ahi, c)
            if not np.all(blo == bhi):
                # the float of the exponent is an integer, its exact value may not be
                # (e.g. 1 + 1e-17): also enclose the exact real power
                glo, ghi, gok = _gen_pow(alo, ahi, blo, bhi, True)
                lo, hi, pok = np.minimum(lo, glo), np.maximum(hi, ghi), pok & gok
        else:
            lo, hi, pok = _gen_pow(alo, ahi, blo, bhi, c is not None)
            # 0**w with w <= 0 is not a real number
            pok = pok & ((alo > 0) | (blo > 0))
        ok, dom = ok & pok, dom & pok
    else:  # pragma: no cover
        raise TypeError(f"unknown node {type(n).__name__}")
    return lo, hi, ok & np.isfinite(lo) & np.isfinite(hi), dom


def _eval_func(n, vals):
    name = n.name
    u = n.arg
    lo, hi, ok, dom = vals[u]
    if name == "log" and isinstance(u, Func) and u.name == "cosh":
        wlo, whi, wok, wdom = vals[u.arg]
        l, h = _log_cosh(wlo, whi)
        return l, h, wok & np.isfinite(l) & np.isfinite(h), wdom
    if name == "abs":
        l, h = _abs(lo, hi)
    elif name == "sign":
        l, h = np.sign(lo), np.sign(hi)
    elif name == "exp":
        l, h = _exp(lo, hi)
    elif name == "log":
        l, h, d = _log(lo, hi)
        ok, dom = ok & d, dom & d
    elif name == "sqrt":
        l, h, d = _sqrt(lo, hi)
        ok, dom = ok & d, dom & d
    elif name == "sin":
        l, h = _trig(lo, hi, cos=False)
    elif name == "cos":
        l, h = _trig(lo, hi, cos=True)
    elif name == "tanh":
        l, h = _monotone_fn(np.tanh, lo, hi)
        l, h = np.maximum(l, -1.0), np.minimum(h, 1.0)
    elif name == "cosh":
        l, h = _cosh(lo, hi)
    elif name == "sinh":
        l, h = _monotone_fn(np.sinh, lo, hi)
    else:  # pragma: no cover
        raise TypeError(f"unknown function {name!r}")
    return l, h, ok & np.isfinite(l) & np.isfinite(h), dom


# ----------------------------------------------------------------------
# centered (mean-value) forms


def tree_var(pot: Potential) -> str:
    """Name of the variable of a 1D potential's trees."""
    v = getattr(pot, "var", None)
    if v:
        return v
    names = sorted(pot.tree.variables) if pot.tree is not None else []
    return names[0] if names else "v"


def enclose_centered(f: Node, grads: Sequence[Node], names: Sequence[str], lo: ArrayLike,
                     hi: ArrayLike, *, domain: bool = False) -> Tuple[np.ndarray, ...]:
    r"""Natural enclosure of ``f`` intersected with its mean-value form.

    Parameters
    ----------
    f : Node
        Expression.
    grads : sequence of Node
        :math:`\partial f/\partial x_i` for the variables ``names``.
    names : sequence of str
        Variable names, one per row of ``lo``/``hi``.
    lo, hi : array_like, shape (d, ...)
        Boxes.
    domain : bool
        Also return ``in_domain`` (see :func:`enclose_many`).

    Returns
    -------
    lo, hi, defined[, in_domain] : numpy.ndarray, shape (...)
        As :func:`enclose`, except that the bounds are guaranteed for the
        exact values only (the float64 evaluation of ``f`` may differ from
        the exact value by its rounding errors, which the mean-value form
        does not see).  The mean-value form
        :math:`f(c) + \sum_i \partial_i f(X)\,(X_i - c_i)` (:math:`c` the
        centre) is used where ``f`` and all derivatives are certainly
        defined on the box, the derivative bounds are finite and ``f`` is
        continuous (no ``sign`` node whose argument may vanish on the box:
        ``sign`` is the a.e. derivative of ``abs``, so W' of ``abs(v)**3``
        jumps nowhere but W' of ``abs(v)`` jumps at 0).
    """
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    env = {x: (lo[i], hi[i]) for i, x in enumerate(names)}
    # f must be continuous on the box: sign(u) (the a.e. derivative of abs) jumps where
    # u = 0, so boxes where the argument of a sign node may vanish are excluded
    jumps = [n.arg for n in f.nodes() if isinstance(n, Func) and n.name == "sign"]
    res = enclose_many([f, *grads, *jumps], env, domain=True)
    jump = np.zeros(np.shape(res[0][0]), bool)
    for jl, jh, _, _ in res[len(grads) + 1:]:
        jump |= (jl <= 0) & (jh >= 0)
    res = res[:len(grads) + 1]
    L0, H0, ok, dom = res[0]
    with np.errstate(all="ignore"):
        c = 0.5 * lo + 0.5 * hi
        c = np.where(np.isfinite(c), np.minimum(np.maximum(c, lo), hi), lo)
    Lc, Hc, _ = enclose(f, {x: (c[i], c[i]) for i, x in enumerate(names)})
    tl, th = Lc, Hc
    good = dom & ~jump
    with np.errstate(all="ignore"):
        for i, (gl, gh, _, gdom) in enumerate(res[1:]):
            dl = _add_lo(lo[i], -c[i])
            dh = _add_hi(hi[i], -c[i])
            pl, ph = _mul(gl, gh, dl, dh)
            tl, th = _add_lo(tl, pl), _add_hi(th, ph)
            good = good & gdom & np.isfinite(pl) & np.isfinite(ph)
    L = np.where(good, np.maximum(L0, tl), L0)
    H = np.where(good, np.minimum(H0, th), H0)
    # both forms contain the exact value where f is defined; an empty intersection
    # can only happen where it is not: keep the natural enclosure there
    bad = L > H
    L, H = np.where(bad, L0, L), np.where(bad, H0, H)
    return (L, H, ok, dom) if domain else (L, H, ok)


def _require_tree(pot, what="tree"):
    if getattr(pot, what, None) is None:
        raise ValueError(f"{getattr(pot, 'name', pot)}: no expression tree ({what}); the "
                         "certified interval machinery needs a potential built from an "
                         "expression or a library constructor")


def _profile(pot):
    """A RadialPotential's 1D profile, else the potential itself."""
    prof = getattr(pot, "profile", None)
    return prof if prof is not None and not hasattr(pot, "tree") else pot


def enclose_W(pot: Union[Potential, RadialPotential], lo: ArrayLike, hi: ArrayLike, *,
              domain: bool = False) -> Tuple[np.ndarray, ...]:
    r"""Enclosure of :math:`W` of a 1D potential on the intervals ``[lo, hi]``.

    Natural interval extension of ``pot.tree`` intersected with the mean-value
    form using ``pot.dtree``.  A :class:`~potentials.RadialPotential` is
    enclosed through its profile (``r >= 0`` is the caller's business).

    Returns
    -------
    lo, hi, defined[, in_domain] : numpy.ndarray
        See :func:`enclose_centered` (bounds for the exact values).
    """
    pot = _profile(pot)
    _require_tree(pot)
    x = tree_var(pot)
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    if pot.dtree is None:
        return enclose(pot.tree, {x: (lo, hi)}, domain=domain)
    return enclose_centered(pot.tree, [pot.dtree], [x], lo[None], hi[None], domain=domain)


def enclose_dW(pot: Union[Potential, RadialPotential], lo: ArrayLike, hi: ArrayLike, *,
               domain: bool = False) -> Tuple[np.ndarray, ...]:
    r"""Enclosure of :math:`W'` on ``[lo, hi]`` (centered with ``d2tree`` when present)."""
    pot = _profile(pot)
    _require_tree(pot, "dtree")
    x = tree_var(pot)
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    if pot.d2tree is None:
        return enclose(pot.dtree, {x: (lo, hi)}, domain=domain)
    return enclose_centered(pot.dtree, [pot.d2tree], [x], lo[None], hi[None], domain=domain)


def nd_names(pot: PotentialND) -> Tuple[str, ...]:
    """Variable names ``v1..vd`` of a PotentialND's trees."""
    return tuple(f"v{i + 1}" for i in range(pot.dim))


def enclose_W_nd(pot: PotentialND, lo: ArrayLike, hi: ArrayLike, *,
                 domain: bool = False) -> Tuple[np.ndarray, ...]:
    r"""Enclosure of :math:`W` of a :class:`~potentials.PotentialND` on boxes.

    Parameters
    ----------
    pot : PotentialND
        With ``tree`` (and ``grad_trees`` for the centered form) in
        ``v1, ..., vd``.
    lo, hi : array_like, shape (d, n)
        Box corners.

    Returns
    -------
    lo, hi, defined : numpy.ndarray, shape (n,)
    """
    _require_tree(pot)
    names = nd_names(pot)
    lo = np.asarray(lo, dtype=np.float64)
    hi = np.asarray(hi, dtype=np.float64)
    if lo.shape[0] != pot.dim:
        raise ValueError(f"boxes must have shape ({pot.dim}, n), got {lo.shape}")
    grads = pot.grad_trees
    if grads is None:
        return enclose(pot.tree, {x: (lo[i], hi[i]) for i, x in enumerate(names)},
                       domain=domain)
    return enclose_centered(pot.tree, list(grads), names, lo, hi, domain=domain)


__all__ += ["nd_names"]
