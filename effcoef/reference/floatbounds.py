r"""Vectorised floating-point interval bounds of expression DAGs, for the reference panels.

The reference quadratures (:mod:`effcoef.reference.quadrature`,
:mod:`effcoef.reference.radial`) need, on thousands of panels at once, bounds of
:math:`W`, :math:`|W'|` and :math:`|W''|`: to decide where a Gauss rule resolves the
integrands (an oscillating :math:`W` such as ``v**2 + 0.1*sin(1000*v)`` is not seen by
sampling a wide panel), and where a panel cannot matter (its mass and its weight in
:math:`D` are bounded by :math:`e^{-(W_{lo} - W_{\min})/\theta}` and
:math:`e^{(W_{hi} - W_{\min})/\theta}`).  :mod:`mpmath.iv` (used for the certified hull in
:mod:`effcoef.reference.enclosure`) costs about a millisecond per panel, so this module
evaluates the natural interval extension with numpy arrays of lower and upper ends.

Rounding: every operation's result is widened outward by :data:`WIDEN` relative (a few
ulps) plus the smallest subnormal, which covers the rounding of the numpy operations
(exactly rounded, or within 1-2 ulps for the transcendental functions) but is not a
proof with directed rounding.  These bounds steer panel refinement and bound what the
panels leave unresolved; the domain itself is certified by
:func:`effcoef.reference.enclosure.critical_hull` (mpmath, outward rounding).  The width
of the enclosure of a *point* is a bound of the rounding error of evaluating the
expression there in double precision (:func:`point_rounding`).

This module is independent of :mod:`potentials.intervals` and :mod:`potentials.bnb`:
it reads the expression nodes through their fields (``a b arg name value``) only.
"""

from __future__ import annotations

import math

import numpy as np

from potentials.expression import dag_nodes

__all__ = ["tree_bounds", "point_rounding", "WIDEN"]

#: relative outward widening per operation
WIDEN = 2.0 * np.finfo(float).eps
_TINY = 5e-324
_HALF_PI = 0.5 * math.pi
_TWO_PI = 2.0 * math.pi
#: beyond this |argument| sin/cos are bounded by [-1, 1] (the float phase is meaningless)
_TRIG_MAX = 1e12


def _kind(node):
    return type(node).__name__


def _widen(lo, hi):
    with np.errstate(all="ignore"):
        lo2 = lo - (np.abs(lo) * WIDEN + _TINY)
        hi2 = hi + (np.abs(hi) * WIDEN + _TINY)
    lo2 = np.where(np.isnan(lo2), -np.inf, np.where(np.isfinite(lo), lo2, lo))
    hi2 = np.where(np.isnan(hi2), np.inf, np.where(np.isfinite(hi), hi2, hi))
    return lo2, hi2


def _nan_to(x, v):
    return np.where(np.isnan(x), v, x)


def _mul(al, ah, bl, bh):
    with np.errstate(all="ignore"):
        p = np.stack([al * bl, al * bh, ah * bl, ah * bh])
    p = _nan_to(p, 0.0)          # 0 * inf: the limit set contains 0 only
    return p.min(axis=0), p.max(axis=0)


def _square(l, h):
    with np.errstate(all="ignore"):
        l2, h2 = l * l, h * h
    lo = np.where((l <= 0) & (h >= 0), 0.0, np.minimum(l2, h2))
    return lo, np.maximum(l2, h2)


def _int_pow(l, h, n):
    with np.errstate(all="ignore"):
        if n == 0:
            return np.ones_like(l), np.ones_like(l)
        if n < 0:
            pl, ph = _int_pow(l, h, -n)
            zero = (pl <= 0) & (ph >= 0)
            lo = np.where(zero, -np.inf, 1.0 / ph)
            hi = np.where(zero, np.inf, 1.0 / pl)
            # even powers are >= 0: 1/x^n in [1/ph, inf]
            if n % 2 == 0:
                lo = np.where(zero, 1.0 / ph, lo)
            return lo, hi
        pl, ph = l ** n, h ** n
        if n % 2 == 1:
            return pl, ph
        lo = np.where((l <= 0) & (h >= 0), 0.0, np.minimum(pl, ph))
        return lo, np.maximum(pl, ph)


def _trig(l, h, name):
    """Bounds of sin or cos on [l, h] (element-wise)."""
    shift = _HALF_PI if name == "cos" else 0.0      # cos x = sin(x + pi/2)
    with np.errstate(all="ignore"):
        sl, sh = np.sin(l + shift), np.sin(h + shift)
        if name == "cos":
            sl, sh = np.cos(l), np.cos(h)
        lo, hi = np.minimum(sl, sh), np.maximum(sl, sh)
        u, w = l + shift, h + shift
        # a maximum of sin at pi/2 + 2k pi, a minimum at -pi/2 + 2k pi inside [u, w]?
        kmax = np.ceil((u - _HALF_PI) / _TWO_PI)
        has_max = _HALF_PI + _TWO_PI * kmax <= w
        kmin = np.ceil((u + _HALF_PI) / _TWO_PI)
        has_min = -_HALF_PI + _TWO_PI * kmin <= w
    # the float argument carries a rounding error of ~|x| eps: be generous near extrema
    slack = 4.0 * np.finfo(float).eps * np.maximum(np.abs(l), np.abs(h)) + 1e-15
    hi = np.where(has_max, 1.0, np.minimum(hi + slack, 1.0))
    lo = np.where(has_min, -1.0, np.maximum(lo - slack, -1.0))
    wide = ~(np.isfinite(l) & np.isfinite(h)) | ((h - l) >= _TWO_PI) | \
        (np.maximum(np.abs(l), np.abs(h)) > _TRIG_MAX)
    return np.where(wide, -1.0, lo), np.where(wide, 1.0, hi)


def _func(name, l, h, node):
    with np.errstate(all="ignore"):
        if name == "abs":
            lo = np.where(l >= 0, l, np.where(h <= 0, -h, 0.0))
            hi = np.maximum(np.abs(l), np.abs(h))
            return lo, hi
        if name == "sign":
            return np.sign(l), np.sign(h)
        if name == "exp":
            return np.exp(l), np.exp(h)
        if name == "log":
            arg = node.arg
            if _kind(arg) == "Func" and arg.name == "cosh":
                # log cosh w = |w| + log1p(exp(-2|w|)) - log 2 (as the numpy evaluation)
                return None
            lo = np.where(l <= 0, -np.inf, np.log(np.maximum(l, _TINY)))
            hi = np.where(h <= 0, -np.inf, np.log(np.maximum(h, _TINY)))
            return lo, hi
        if name == "sqrt":
            return np.sqrt(np.maximum(l, 0.0)), np.sqrt(np.maximum(h, 0.0))
        if name in ("sin", "cos"):
            return _trig(l, h, name)
        if name == "tanh":
            return np.tanh(l), np.tanh(h)
        if name == "sinh":
            return np.sinh(l), np.sinh(h)
        if name == "cosh":
            al = np.where(l >= 0, l, np.where(h <= 0, -h, 0.0))
            ah = np.maximum(np.abs(l), np.abs(h))
            return np.cosh(al), np.cosh(ah)
    raise TypeError(f"unknown function {name!r}")


def _logcosh(l, h):
    al = np.where(l >= 0, l, np.where(h <= 0, -h, 0.0))
    ah = np.maximum(np.abs(l), np.abs(h))
    with np.errstate(all="ignore"):
        f = lambda w: w + np.log1p(np.exp(-2.0 * w)) - math.log(2.0)  # noqa: E731
        return f(al), np.where(np.isinf(ah), np.inf, f(ah))


def _is_const_int(node):
    return _kind(node) == "Const" and math.isfinite(node.value) and \
        float(node.value).is_integer() and abs(node.value) <= 64


def tree_bounds(nodes, var, lo, hi, exact_consts=False):
    r"""Interval bounds of expression DAGs on the boxes :math:`[lo_i, hi_i]`.

    Parameters
    ----------
    nodes : sequence of expression nodes (``potentials.expression``)
    var : str
        The variable's name.
    lo, hi : array_like
        Box ends (same shape).
    exact_consts : bool
        Take the constants as their double values (no widening): the rounding of a decimal
        literal is a perturbation of W, not an error of its evaluation.

    Returns
    -------
    list of (lo, hi) pairs of arrays
        ``lo <= f(x) <= hi`` for every x in the box where f is real (up to the rounding
        note of the module docstring); ``-inf``/``inf`` where nothing is known.
    """
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    vals = {}
    for n in dag_nodes(*nodes):
        k = _kind(n)
        if k == "Const":
            v = np.full(lo.shape, float(n.value))
            r = (v, v) if (exact_consts or getattr(n, "exact", False)) else _widen(v, v)
        elif k == "Var":
            if n.name != var:
                raise ValueError(f"unexpected variable {n.name!r} (expected {var!r})")
            r = (lo, hi)
        elif k == "Neg":
            al, ah = vals[id(n.a)]
            r = (-ah, -al)
        elif k == "Func":
            al, ah = vals[id(n.arg)]
            if n.name == "log" and _kind(n.arg) == "Func" and n.arg.name == "cosh":
                r = _widen(*_logcosh(*vals[id(n.arg.arg)]))
            else:
                r = _widen(*_func(n.name, al, ah, n))
        else:
            al, ah = vals[id(n.a)]
            bl, bh = vals[id(n.b)]
            with np.errstate(all="ignore"):
                if k == "Add":
                    r = _widen(al + bl, ah + bh)
                elif k == "Sub":
                    r = _widen(al - bh, ah - bl)
                elif k == "Mul":
                    r = _widen(*(_square(al, ah) if n.a is n.b else _mul(al, ah, bl, bh)))
                elif k == "Div":
                    zero = (bl <= 0) & (bh >= 0)
                    sl, sh = np.where(zero, 1.0, bl), np.where(zero, 1.0, bh)
                    ql, qh = _mul(al, ah, 1.0 / sh, 1.0 / sl)
                    r = _widen(np.where(zero, -np.inf, ql), np.where(zero, np.inf, qh))
                elif k == "Pow":
                    if _is_const_int(n.b):
                        r = _widen(*_int_pow(al, ah, int(n.b.value)))
                    elif _kind(n.b) == "Const":
                        p = float(n.b.value)
                        bl0, bh0 = np.maximum(al, 0.0), np.maximum(ah, 0.0)
                        if p > 0:
                            r = _widen(bl0 ** p, bh0 ** p)
                        else:
                            r = _widen(np.where(bh0 == 0, np.inf, bh0 ** p),
                                       np.where(bl0 == 0, np.inf, bl0 ** p))
                    else:
                        # u ** w = exp(w log u) for u > 0; otherwise nothing is known
                        pos = al > 0
                        ll = np.log(np.where(pos, al, 1.0))
                        lh = np.log(np.where(pos, ah, 1.0))
                        el, eh = _mul(bl, bh, ll, lh)
                        r = _widen(np.where(pos, np.exp(el), -np.inf),
                                   np.where(pos, np.exp(eh), np.inf))
                else:  # pragma: no cover
                    raise TypeError(f"unknown node {k}")
        l, h = r
        l = np.where(np.isnan(l), -np.inf, l)
        h = np.where(np.isnan(h), np.inf, h)
        vals[id(n)] = (l, h)
    return [vals[id(n)] for n in nodes]


def point_rounding(node, var, x, exact_consts=True):
    r"""Width of the enclosure of ``node`` at the points ``x``: a bound (up to a factor of
    a few) of the rounding error of evaluating the expression in double precision there,
    including cancellation between large terms."""
    x = np.asarray(x, dtype=float)
    l, h = tree_bounds([node], var, x, x, exact_consts=exact_consts)[0]
    with np.errstate(all="ignore"):
        return np.where(np.isfinite(h - l), h - l, np.inf)
