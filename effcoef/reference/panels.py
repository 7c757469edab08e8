r"""The reference quadratures' own domain and panel bounds (independent of :mod:`effcoef.domain`).

The references in :mod:`effcoef.reference.quadrature` and :mod:`effcoef.reference.radial`
find the region that carries :math:`D, K, \mathcal V` by a route of their own, so that a
domain bug in the solver (which uses :mod:`effcoef.domain`, :mod:`potentials.intervals`,
:mod:`potentials.bnb`) shows up as a test failure:

* :func:`hull` -- for a potential with an expression tree, the certified critical hull of
  :func:`effcoef.reference.enclosure.critical_hull` (mpmath interval arithmetic): every
  critical point of W lies inside, W is monotone outside (certified up to
  :math:`|v| = 2^{1030}`) and has risen by ``tail*theta`` above its value at the outermost
  critical point on each side.  A far well, a metastable well, a narrow well are critical
  points: they are inside whatever their depth.  A plain callable gets
  ``potential.mass_interval(theta, tail)`` (a sampled heuristic, flagged
  ``certified=False``).
* :func:`panel_bounds` -- per panel, bounds of W (natural interval extension intersected
  with the mean-value form, :mod:`effcoef.reference.floatbounds`) and a *resolution ratio*
  :math:`\kappa`: a 24-point Gauss rule resolves :math:`e^{\pm W/\theta}` on the panel when
  :math:`\kappa \le 1`,

  .. math:: \kappa = \max\Big(\frac{h\,\sup|W'|}{c_1\theta},\
     \sqrt{\frac{h^2\sup|W''|}{c_2\theta}},\ \frac{h\,\sup|u'|}{c_3}\Big),

  u running over the arguments of the ``sin cos exp cosh sinh tanh`` nodes of W (the phase
  of an oscillation of any amplitude, the rate of an exponential), with
  :math:`(c_1, c_2, c_3) = (6, 8, 6)` for the double rule (measured: the 24-point rule is
  then exact to a few ulps on :math:`e^{s x + A\sin(\omega x)}` under these constraints,
  and the 16-point check rule to ~4e-15).  A bound of :math:`|W''|` alone does not see a
  small-amplitude oscillation (``1e-4 sin(100 x)`` has :math:`|W''|\le 1` but aliases at
  1e-5 on a 24-point rule), hence the phase term.  Plain callables: W, W', W'' sampled at
  33 points per panel with a margin (heuristic).
* :func:`tail_shells` -- beyond the hull, shells :math:`[x_k, x_{k+1}]` with doubling widths
  on which W is increasing (certified by the hull), with a certified lower bound of
  :math:`W(x_k)` and of :math:`W'` on the shell (mpmath ``iv``) and an upper bound of
  :math:`W(x_{k+1})`: they bound the mass, the first moment and the weight in D of what
  lies beyond the hull (see :mod:`effcoef.reference.quadrature`).  Shells stop where W is
  2000 theta above W0; beyond, the remainder is bounded assuming :math:`W'` does not fall
  below its bound on the last shell (W' > 0 itself is certified to :math:`2^{1030}`).

Nothing here imports :mod:`effcoef.domain`, :mod:`potentials.intervals` or
:mod:`potentials.bnb` (a test checks it).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from . import enclosure
from .floatbounds import point_rounding, tree_bounds

__all__ = ["lse", "ReferenceBudgetError", "Hull", "hull", "panel_bounds", "tail_shells",
           "has_tree", "C_DOUBLE"]

#: resolution constants (c1, c2, c3) of the 24-point rule (also used by the mpmath rules)
C_DOUBLE = (6.0, 8.0, 6.0)
#: shells beyond the hull stop where (W - W0)/theta exceeds this
TAIL_STOP = 2000.0
#: most shells per side
MAX_SHELLS = 400


class ReferenceBudgetError(ValueError):
    """The reference cannot resolve the problem within its work budget (one-line reason)."""


def lse(x, axis=None):
    """log(sum(exp(x))) (``-inf`` for empty or all ``-inf`` input; no warnings)."""
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        return -np.inf if axis is None else np.full(
            tuple(s for i, s in enumerate(x.shape) if i != (axis % x.ndim)), -np.inf)
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore", under="ignore"):
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    out = np.where(np.isnan(out), -np.inf, out)
    return float(out.reshape(())) if axis is None else np.squeeze(out, axis=axis)


def has_tree(potential) -> bool:
    """True when the potential (or a radial potential's profile) has ``tree`` and ``dtree``."""
    base = getattr(potential, "profile", None) or potential
    return getattr(base, "tree", None) is not None and getattr(base, "dtree", None) is not None


def _base(potential):
    prof = getattr(potential, "profile", None)
    return prof if prof is not None else potential


class Hull(NamedTuple):
    """The reference's domain: ``[a, b]``, the outermost critical points, certification."""

    a: float
    b: float
    crit_lo: float
    crit_hi: float
    certified: bool
    radial: bool
    note: str


def hull(potential, theta, tail) -> Hull:
    r"""The reference domain (see the module docstring).

    Raises
    ------
    ValueError
        ``EnclosureError`` when the hull cannot be certified (W' not one-signed far out:
        oscillating like ``v**2*(2 + sin(v))``, or not confining), with a one-line reason.
    """
    radial = getattr(potential, "profile", None) is not None
    if has_tree(potential):
        h = enclosure.critical_hull(potential, theta, tail)
        a = 0.0 if radial else h.a
        return Hull(a, h.b, 0.0 if radial else h.crit_lo, h.crit_hi, True, radial,
                    "critical hull certified by mpmath interval arithmetic "
                    "(effcoef.reference.enclosure)")
    mi = potential.mass_interval(theta, tail)
    a, b = float(mi.a), float(mi.b)
    if radial:
        a = 0.0
    if not (math.isfinite(a) and math.isfinite(b) and a < b):
        raise ValueError(f"invalid mass interval [{a}, {b}]")
    v = float(mi.vmin)
    return Hull(a, b, v, v, False, radial,
                "HEURISTIC domain: potential.mass_interval (W sampled, no expression tree)")


# ------------------------------------------------------------------------------------------
# panel bounds

class _Scale(NamedTuple):
    arg: object
    darg: object
    kind: str


_SCALE_CACHE: dict = {}


def _scale_trees(base):
    """(argument, derivative, function name) of the oscillating/exponential nodes of W."""
    key = id(base.tree)
    hit = _SCALE_CACHE.get(key)
    if hit is not None and hit[0] is base.tree:
        return hit[1]
    var = getattr(base, "var", None) or "v"
    out, seen, stack = [], set(), [base.tree]
    while stack:
        n = stack.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        k = type(n).__name__
        if k == "Func":
            if n.name in ("sin", "cos", "exp", "cosh", "sinh", "tanh"):
                out.append(_Scale(n.arg, n.arg.diff(var), n.name))
            stack.append(n.arg)
        elif k in ("Add", "Sub", "Mul", "Div", "Pow"):
            stack += [n.a, n.b]
        elif k == "Neg":
            stack.append(n.a)
    if len(_SCALE_CACHE) > 256:
        _SCALE_CACHE.clear()
    _SCALE_CACHE[key] = (base.tree, out)
    return out


def panel_bounds(potential, theta, lo, hi, consts=C_DOUBLE):
    r"""Bounds on the panels :math:`[lo_i, hi_i]`.

    Returns
    -------
    dict of arrays
        ``Wl``, ``Wh`` (bounds of W), ``kappa`` (resolution ratio, see the module
        docstring; <= 1: resolved), ``rnd`` (bound of the rounding error of W in double
        precision at the panel midpoint, constants taken as given in double, plus
        :math:`\sup|W'|` times the ulp of the node positions).
    """
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    h = hi - lo
    c1, c2, c3 = consts
    base = _base(potential)
    with np.errstate(all="ignore"):
        if has_tree(potential) and getattr(base, "d2tree", None) is not None:
            var = getattr(base, "var", None) or "v"
            (wl, wh), (d1l, d1h), (d2l, d2h) = tree_bounds(
                [base.tree, base.dtree, base.d2tree], var, lo, hi)
            c = 0.5 * (lo + hi)
            wcl, wch = tree_bounds([base.tree], var, c, c)[0]
            d1 = np.maximum(np.abs(d1l), np.abs(d1h))
            d2 = np.maximum(np.abs(d2l), np.abs(d2h))
            r = 0.5 * h * (1 + 1e-15)
            Wl = np.fmax(wl, wcl - r * d1)
            Wh = np.fmin(wh, wch + r * d1)
            kappa = np.maximum(h * d1 / (c1 * theta), np.sqrt(h * h * d2 / (c2 * theta)))
            for s in _scale_trees(base):
                (ul, uh), (dl, dh) = tree_bounds([s.arg, s.darg], var, lo, hi)
                rate = h * np.maximum(np.abs(dl), np.abs(dh)) / c3
                if s.kind == "exp":          # matters where exp(u) is not negligible
                    rate = np.where(uh > -40.0, rate, 0.0)
                elif s.kind == "tanh":       # saturated beyond |u| = 20
                    rate = np.where((uh > -20.0) & (ul < 20.0), rate, 0.0)
                kappa = np.maximum(kappa, rate)
            # rounding of W at a node: of the evaluation, and of the node's position (ulp of x)
            rnd = point_rounding(base.tree, var, c, exact_consts=True) + \
                d1 * np.finfo(float).eps * np.maximum(np.abs(lo), np.abs(hi))
        else:
            s = np.linspace(0.0, 1.0, 33)
            X = lo[:, None] + h[:, None] * s
            w = np.asarray(potential.W(X), dtype=float).reshape(X.shape)
            d1s = _sampled(potential, "dW", X, w, h)
            d2s = _sampled(potential, "d2W", X, d1s, h)
            d1 = 1.5 * np.max(np.abs(d1s), axis=1)
            d2 = 1.5 * np.max(np.abs(d2s), axis=1)
            margin = (h / 32.0) * d1
            Wl = np.min(w, axis=1) - margin
            Wh = np.max(w, axis=1) + margin
            kappa = np.maximum(h * d1 / (c1 * theta), np.sqrt(h * h * d2 / (c2 * theta)))
            rnd = 8 * np.finfo(float).eps * (np.max(np.abs(w), axis=1) +
                                             d1 * np.maximum(np.abs(lo), np.abs(hi)))
    Wl = np.where(np.isnan(Wl), -np.inf, Wl)
    Wh = np.where(np.isnan(Wh), np.inf, Wh)
    kappa = np.where(np.isfinite(kappa), kappa, np.inf)
    return {"Wl": Wl, "Wh": Wh, "kappa": kappa, "rnd": rnd}


def _sampled(potential, name, X, prev, h):
    f = getattr(potential, name, None)
    if f is not None:
        try:
            return np.asarray(f(X), dtype=float).reshape(X.shape)
        except Exception:  # noqa: BLE001 - fall back to differences
            pass
    return np.gradient(prev, axis=1) / (h[:, None] / (X.shape[1] - 1))


# ------------------------------------------------------------------------------------------
# beyond the hull

class Shells(NamedTuple):
    """Shells beyond the hull on one side (outward order); W is increasing outward on them.

    ``x0, x1``: shell ends (|x0| < |x1|); ``Wlo0``, ``Wlo1``: lower bounds of W(x0), W(x1);
    ``Whi1``: upper bound of W(x1); ``c``: lower bound of |W'| on the shell (0 if none is known);
    ``certified``: bounds from mpmath interval arithmetic (else sampled)."""

    x0: np.ndarray
    x1: np.ndarray
    Wlo0: np.ndarray
    Wlo1: np.ndarray
    Whi1: np.ndarray
    c: np.ndarray
    certified: bool


def tail_shells(potential, hl: Hull, side: int, W0: float, theta: float) -> Shells:
    """Shells beyond the hull end on ``side`` (+1: beyond b, -1: before a); see the module
    docstring."""
    base = _base(potential)
    end = hl.b if side > 0 else hl.a
    crit = hl.crit_hi if side > 0 else hl.crit_lo
    s = max(abs(end - crit), 2.0 ** -20 * max(1.0, abs(end)))
    certified = has_tree(potential)
    var = getattr(base, "var", None) or "v"

    def w_point(x):
        if certified:
            e = enclosure.enclose([base.tree], var, x, x)[0]
            return float(e.a), float(e.b)
        w = float(np.asarray(potential.W(np.array([x])), dtype=float)[0])
        return w, w

    def slope(x0, x1):
        lo, hi = min(x0, x1), max(x0, x1)
        if certified:
            d = enclosure.enclose_dW(base, lo, hi)
            v = float(d.a) if side > 0 else -float(d.b)
        else:
            t = np.linspace(lo, hi, 9)
            v = 0.5 * float(np.min(side * np.asarray(potential.dW(t), dtype=float)))
        return v if (math.isfinite(v) and v > 0) else 0.0

    x0s, x1s, wl0, wl1, wh1, cs = [], [], [], [], [], []
    x = end
    wlo, _ = w_point(x)
    for _ in range(MAX_SHELLS):
        xn = x + side * s
        if not math.isfinite(xn) or abs(xn) > 2.0 ** 1000:
            break
        wlo_n, whi_n = w_point(xn)
        x0s.append(x)
        x1s.append(xn)
        wl0.append(wlo)
        wl1.append(wlo_n)
        wh1.append(whi_n)
        cs.append(slope(x, xn))
        x, wlo = xn, wlo_n
        s *= 2.0
        if (wlo - W0) / theta > TAIL_STOP and cs[-1] > 0:
            break
    return Shells(np.array(x0s), np.array(x1s), np.array(wl0), np.array(wl1), np.array(wh1),
                  np.array(cs), certified)
