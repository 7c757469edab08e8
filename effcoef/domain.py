r"""The computational interval of the 1D and radial routes, and a bound of what it cuts away.

Why the mass alone is not enough
--------------------------------
In one dimension :math:`D = \frac{1}{\theta Z}\int F^2/m` with
:math:`F(v) = \int_{-\infty}^v (\mathcal V - u)\,m(u)\,du`, :math:`m = e^{-(W - W_{\min})/\theta}`.
Where :math:`m` is tiny between two wells, :math:`F^2/m` is huge: a metastable well
:math:`h\theta` above the minimum behind a barrier :math:`B\theta` contributes
:math:`e^{B - 2h}` relative to the rest, however small its mass :math:`e^{-h}`.  So the
interval must contain every region that carries mass *or weight in D*, and the mass cut at
each end must be small relative to the mass of the outermost relevant well, not to the total.

What is certified
-----------------
For a potential with an expression tree (every expression, every library potential)
:func:`landscape` proves, by interval arithmetic over the tree (:mod:`potentials.intervals`,
:mod:`potentials.bnb`):

* monotone tails: :math:`\pm W' \ge c_k > 0` on doubling shells beyond :math:`a_0` and
  :math:`b_0` (every critical point of W lies in :math:`[a_0, b_0]`), up to the radius
  :math:`R_{far}` where double precision stops (~1e154 to 1e308 for polynomials);
* bounds :math:`W_{lo} \le W \le W_{hi}` on a partition of :math:`[a_0, b_0]`, refined where
  :math:`(W_{lo} - W_{\min})/\theta \le` :data:`LEVEL_RELEVANT` until
  :math:`W_{hi} - W_{lo} \le \theta\max(1, \ell/10)` (:math:`\ell` the level in units of
  :math:`\theta`), which also certifies the global minimum to about :math:`\theta`.

From these cells :func:`select_interval` picks the smallest interval :math:`[a, b]` (cell edges)
for which the bound below is under the target, and :func:`cut_bound` evaluates the bound again
with the solver's own :math:`Z, \mathcal V, D, K` on :math:`[a, b]`.  A potential given as a
plain Python callable gets the same analysis on sampled values (a documented heuristic:
``certified=False``, said in the result's ``info`` and error method).

The bound (1D)
--------------
With :math:`A_L = \int_{-\infty}^a |u - \mathcal V|\,m`, :math:`A_R` likewise beyond b,
:math:`B_{L,R}` the second moments, :math:`Z_{L,R}` the masses (upper bounds from the cells and
the closed-form monotone tails :math:`m(u) \le m(b)e^{-c(u-b)/\theta}`), the exact truncated
problem (zero flux at a, b, which the finite elements solve) differs from the whole line by

.. math:: |\delta F| \le \min(A_L, A_R) + A_L + A_R =: \delta, \quad
   \Big|\frac{D - D_t}{D_t}\Big| \le \epsilon_Z + 2\sqrt{\frac{\delta^2 S}{I}} + \frac{\delta^2 S}{I}
   + \frac{O_L + O_R}{I},

:math:`I = \theta Z_t D_t = \int_a^b F_t^2/m`, :math:`S = \int_a^b 1/m` (upper bound from
the cells), :math:`O_L = \int_{-\infty}^a F^2/m \le \int_{-\infty}^a A_L(u)^2/m(u)\,du`,
:math:`\epsilon_Z = (Z_L + Z_R)/Z_t`; and for K, V:
:math:`|\theta K Z - \theta K_t Z_t| \le B_L + B_R + (A_L + A_R)^2/Z_t`,
:math:`|\mathcal V - \mathcal V_t| \le (A_L + A_R)/Z_t`.

Radial l = 1 channel: weight :math:`\mu = r^{d-1}m`, data r, only the outer end is cut (and an
inner end :math:`r_{lo} > 0` only where :math:`W` is above :data:`LEVEL_RELEVANT` on
:math:`[0, r_{lo}]`, e.g. a repulsive core).  With :math:`g` the l = 1 corrector, the
variational principle gives :math:`0 \le D - D_t \lesssim 2(g(R)A_R + O_R/\theta)/(d Z_t)`.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Optional, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from potentials import Potential, PotentialND, RadialPotential

from .errors import EffcoefError

__all__ = ["Landscape", "Interval", "Box", "landscape", "select_interval", "select_box",
           "turned_box",
           "cut_bound", "with_ends", "scaled", "rounding_floor", "LEVEL_RELEVANT"]

#: cells whose level (W_lo - Wmin)/theta exceeds this are not refined (mass < e^-800)
LEVEL_RELEVANT = 800.0
#: most cells a landscape may hold
MAX_CELLS = 400_000
#: a barrier inside the interval beyond this (in theta) underflows the weights
LOG_UNDERFLOW = 690.0
_CACHE: "OrderedDict" = OrderedDict()


def logsumexp(x, axis=None):
    """log(sum(exp(x))) without overflow (scipy's costs ~1 ms per call on small arrays)."""
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        return -np.inf
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out.item() if axis is None else np.squeeze(out, axis=axis)
_CACHE_SIZE = 64
_TINY = 1e-300
_EPS = np.finfo(float).eps


# ------------------------------------------------------------------------------------------
# the theta-independent part: tails and a partition of [a0, b0]

@dataclass
class Landscape:
    r"""What is known about W (1D, or a radial profile on :math:`r \ge 0`), independent of theta.

    ``edges, W_lo, W_hi``: the current finest partition of :math:`[a_0, b_0]` with bounds
    :math:`W_{lo} \le W \le W_{hi}` per cell (certified, or from samples if not
    ``certified``).  ``left``/``right``: (shell edges (k, 2), lower bounds of :math:`|W'|`
    per shell, R_far) of the monotone tails (``left`` is None on the half-line).
    """

    potential: object
    certified: bool
    half_line: bool
    a0: float
    b0: float
    edges: np.ndarray
    W_lo: np.ndarray
    W_hi: np.ndarray
    left: Optional[tuple]
    right: Optional[tuple]
    note: str = ""
    refined_for: dict = field(default_factory=dict)

    def W_point(self, x: ArrayLike) -> Tuple[np.ndarray, np.ndarray]:
        """Bounds of W at the points x (certified: point enclosures; else the float value)."""
        x = np.asarray(x, dtype=float)
        if self.certified:
            from potentials.intervals import enclose_W
            lo, hi, _ = enclose_W(self.potential, x, x)
            return lo, hi
        w = np.asarray(self.potential.W(x), dtype=float)
        return w, w


def _key(potential):
    tree = getattr(potential, "tree", None)
    prof = getattr(potential, "profile", None)
    if tree is None and prof is not None:
        tree = getattr(prof, "tree", None)
    if tree is None:
        return ("id", id(potential))
    return ("tree", tree, prof is not None)


def landscape(potential: Union[Potential, RadialPotential]) -> Landscape:
    """The (cached) :class:`Landscape` of a 1D potential or of a radial potential's profile.

    Raises ``potentials.NonConfiningError`` when no monotone tail exists on a side (W' changes
    sign for arbitrarily large ``|v|``, or W does not grow): the contribution of the far field to
    D cannot be bounded (for ``v**2*(2 + sin(v))`` it is infinite).
    """
    key = _key(potential)
    hit = _CACHE.get(key)
    if hit is not None and (key[0] != "id" or hit.potential is potential):
        _CACHE.move_to_end(key)
        return hit
    prof = getattr(potential, "profile", None)
    half = prof is not None
    base = prof if half else potential
    if getattr(base, "tree", None) is not None and getattr(base, "dtree", None) is not None:
        land = _certified_landscape(base, half)
    else:
        land = _sampled_landscape(base, half)
    _CACHE[key] = land
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return land


def _nonconfining(pot, side, why):
    from potentials import NonConfiningError
    where = "+inf" if side > 0 else "-inf"
    return NonConfiningError(f"{pot.name}: {why} as v -> {where}")


def _no_tail(pot, side):
    """The error for a side without a certified monotone tail, with a diagnosis from samples
    of W and W' far out (decreasing, flat, or oscillating forever)."""
    u = np.ldexp(1.0, np.arange(3, 40))
    with np.errstate(all="ignore"):
        x = side * np.concatenate([u, u * 1.37, u * 1.71])
        d = side * np.asarray(pot.dW(x), dtype=float)
        w = np.asarray(pot.W(x), dtype=float)
    far = d[np.isfinite(d)]
    if len(far) and np.all(far == 0):
        why = "potential is not confining: W is constant (W' = 0) far out"
    elif np.any(np.isnan(w)):
        why = "potential is not confining: W is not defined (nan) far out"
    elif len(far) and np.mean(far < 0) > 0.9:
        why = ("potential is not confining: W decreases (W -> -inf or to a finite limit), "
               "exp(-W/theta) is not integrable")
    else:
        why = ("W' keeps changing sign for arbitrarily large |v| (W is not monotone at "
               "infinity): the contribution of the far wells to D cannot be bounded, and is "
               "infinite when they sit behind ever higher barriers")
    return _nonconfining(pot, side, why)


def _certified_landscape(pot, half):
    from potentials.bnb import cell_bounds, monotone_radius

    tails = {}
    for side in ((1,) if half else (1, -1)):
        t = monotone_radius(pot, side, 0.0)
        # the certified run must reach 'infinity': the end of the double range or the
        # radius where the enclosures overflow, far beyond R (not a bounded stretch)
        if not t.certified or not np.isfinite(t.R) or \
                not abs(t.R_far) >= 1e6 * max(1.0, abs(t.R)):
            raise _no_tail(pot, side)
        _check_growth(pot, side, np.asarray(t.margin, float))
        tails[side] = t
    right = tails[1]
    b0 = max(float(right.R), 0.0) if half else float(right.R)
    a0 = 0.0 if half else float(tails[-1].R)
    if not b0 > a0:        # a single critical point: a few ulp of width (the tails do the rest)
        c = 0.5 * (a0 + b0)
        w = max(8 * np.spacing(abs(c)), 1e-300)
        a0, b0 = (0.0, max(b0, w)) if half else (c - w, c + w)
    # the shells must really be monotone to infinity in W too: W_far_lo finite
    edges = np.linspace(a0, b0, 65)
    lo, hi, ok = cell_bounds(pot, edges)
    land = Landscape(potential=pot, certified=True, half_line=half, a0=a0, b0=b0, edges=edges,
                     W_lo=lo, W_hi=hi, left=None if half else _tail_tuple(tails[-1]),
                     right=_tail_tuple(right))
    land.note = (f"certified by interval arithmetic (monotone beyond [{a0:.6g}, {b0:.6g}] "
                 f"up to |v| = {min(abs(right.R_far), abs(tails[-1].R_far) if not half else np.inf):.3g})")
    return land


def _check_growth(pot, side, margin):
    """|W'| must grow without bound (the Schrödinger potential W'^2/(4 theta) - W''/2 is then
    confining and the spectrum discrete): the certified lower bound of |W'| on the outermost
    shells must exceed 1e6 times the one on the innermost."""
    if len(margin) == 0 or not np.max(margin) >= 1e6 * max(float(margin[0]), 1e-300):
        raise _nonconfining(pot, side, "potential is not confining for the Schrödinger "
                            "operator: |W'| stays bounded (W grows at most linearly), so "
                            "W'^2/(4 theta) - W''/2 does not tend to infinity and the spectrum "
                            "is not discrete")


def _tail_tuple(t):
    return (np.asarray(t.shells, float), np.asarray(t.margin, float), float(t.R_far))


def _sampled_landscape(pot, half):
    """Heuristic landscape for a potential without an expression tree: W' sampled on
    doubling shells (8 points each, up to 1e6) for the monotone tails, W sampled on a fine
    grid for the cells (bounds from the samples widened by |W'| h / 2)."""
    tails = {}
    for side in ((1,) if half else (1, -1)):
        u = np.concatenate([np.linspace(0.0, 1.0, 257)[1:], np.ldexp(1.0, np.arange(1, 21))])
        pts = np.concatenate([np.linspace(u[i], u[i + 1], 9)[:-1] for i in range(len(u) - 1)])
        d = side * np.asarray(pot.dW(side * pts), dtype=float)
        good = np.isfinite(d) & (d > 0)
        if not good[-1]:
            raise _no_tail(pot, side)
        j = len(good) - 1
        while j > 0 and good[j - 1]:
            j -= 1
        R = pts[j]
        shells = np.array([[pts[i], pts[i + 1]] for i in range(j, len(pts) - 1)])
        margin = 0.5 * np.minimum(d[j:-1], d[j + 1:])
        if side < 0:
            shells = -shells[:, ::-1]
        _check_growth(pot, side, margin)
        tails[side] = (shells, margin, side * pts[-1], side * R)
    b0 = tails[1][3]
    a0 = 0.0 if half else tails[-1][3]
    if not b0 > a0:
        c = 0.5 * (a0 + b0)
        a0, b0 = (0.0, max(b0, 1e-3)) if half else (c - 1e-3, c + 1e-3)
    edges = np.linspace(a0, b0, 4097)
    lo, hi = _sampled_cells(pot, edges[:-1], edges[1:])
    land = Landscape(potential=pot, certified=False, half_line=half, a0=a0, b0=b0, edges=edges,
                     W_lo=lo, W_hi=hi, left=None if half else tails[-1][:3], right=tails[1][:3])
    land.note = ("heuristic: W and W' sampled (no expression tree; nothing between samples "
                 "is certified)")
    return land


def _sampled_cells(pot, clo, chi):
    """Heuristic bounds of W on cells [clo, chi]: 5 samples, widened by max|W'| h / 4."""
    clo, chi = np.asarray(clo, float), np.asarray(chi, float)
    t = np.linspace(0.0, 1.0, 5)
    x = clo[:, None] + (chi - clo)[:, None] * t[None, :]
    with np.errstate(all="ignore"):
        w = np.asarray(pot.W(x), dtype=float)
        d = np.abs(np.asarray(pot.dW(x), dtype=float))
    slack = np.max(d, axis=1) * (chi - clo) / 4
    slack = np.where(np.isfinite(slack), slack, np.inf)
    lo = np.min(w, axis=1) - slack
    hi = np.max(w, axis=1) + slack
    bad = ~np.all(np.isfinite(w), axis=1)
    return np.where(bad, -np.inf, lo), np.where(bad, np.inf, hi)


def _cells(land, clo, chi):
    """Bounds of W on the cells [clo, chi] (certified enclosures, or sampled)."""
    if land.certified:
        from potentials.intervals import enclose_W
        lo, hi, _ = enclose_W(land.potential, clo, chi)
        return lo, hi
    return _sampled_cells(land.potential, clo, chi)


def _refine(land, cells, theta, Wmin):
    r"""Split the cells of :math:`[a_0, b_0]` whose bound gap is too wide,
    :math:`W_{hi} - W_{lo} > \theta\max(1, \ell/20)` (:math:`\ell` the level in units of
    theta: a relative accuracy of 5 % high up, where only barriers and the decay matter),
    into as many equal parts as the gap asks for (at most 64), until none is left."""
    edges, lo, hi = cells
    for _ in range(200):
        lev = (lo - Wmin) / theta
        # nothing below the rounding of W itself (16 ulp of its magnitude) can be resolved
        tol = np.maximum(theta * np.maximum(1.0, lev / 20.0),
                         16 * _EPS * np.maximum(np.abs(lo), np.abs(hi)))
        small = np.diff(edges) <= 4e-16 * np.maximum(np.abs(edges[:-1]), np.abs(edges[1:])) \
            + 1e-300
        bad = (hi - lo > tol) & ~small
        if not np.any(bad):
            break
        with np.errstate(all="ignore"):
            parts = np.clip(np.ceil(1.5 * (hi - lo)[bad] / tol[bad]), 2, 64).astype(int)
            parts = np.where(np.isfinite((hi - lo)[bad]), parts, 8)
        if len(edges) + int(np.sum(parts)) > MAX_CELLS:
            raise EffcoefError(
                f"{land.potential.name}: resolving W at theta = {theta:g} needs more than "
                f"{MAX_CELLS} cells (W varies on scales below theta/|W'| over a wide range); "
                "increase theta or smooth the potential")
        a, b = edges[:-1][bad], edges[1:][bad]
        rep = np.repeat(np.arange(len(a)), parts)
        off = np.arange(len(rep)) - np.repeat(np.cumsum(parts) - parts, parts)
        t0, t1 = off / parts[rep], (off + 1) / parts[rep]
        na = a[rep] + (b - a)[rep] * t0
        nb = np.where(off + 1 == parts[rep], b[rep], a[rep] + (b - a)[rep] * t1)
        nlo, nhi = _cells(land, na, nb)
        starts = np.concatenate([edges[:-1][~bad], na])
        order = np.argsort(starts, kind="stable")
        lo = np.concatenate([lo[~bad], nlo])[order]
        hi = np.concatenate([hi[~bad], nhi])[order]
        edges = np.append(starts[order], edges[-1])
    return edges, lo, hi


def _newton_min(pot, x, a, b):
    """Polish a minimum by Newton on W' (float), kept inside [a, b] and only if W decreases."""
    w = float(pot.W(np.array([x]))[0])
    for _ in range(8):
        with np.errstate(all="ignore"):
            d1 = float(pot.dW(np.array([x]))[0])
            d2 = float(pot.d2W(np.array([x]))[0])
        if not (math.isfinite(d1) and math.isfinite(d2)) or d2 <= 0:
            break
        y = min(max(x - d1 / d2, a), b)
        wy = float(pot.W(np.array([y]))[0])
        if not wy <= w:
            break
        if y == x:
            break
        x, w = y, wy
    return x, w


def _minimum(land, theta):
    """Refine the landscape's base cells for theta and locate the global minimum.

    Always starts from the base partition (never from cells refined for another theta), so
    that a result depends only on its inputs, not on what was computed before in the process
    (a sweep must give bitwise identical numbers in any order).  Returns
    (vmin, Wmin, Wmin_lo, cells): Wmin is a float value of W at vmin (an upper bound of the
    minimum), Wmin_lo the (certified, if the landscape is) lower bound over all cells."""
    pot = land.potential
    cells = (land.edges, land.W_lo, land.W_hi)
    Wmin = None
    for _ in range(4):
        e = cells[0]
        mid = 0.5 * (e[:-1] + e[1:])
        with np.errstate(all="ignore"):
            wm = np.asarray(pot.W(mid), dtype=float)
        wm = np.where(np.isnan(wm), np.inf, wm)
        j = int(np.argmin(wm))
        if not math.isfinite(wm[j]):
            raise EffcoefError(f"{pot.name}: W is not finite on [{e[0]:.6g}, {e[-1]:.6g}]")
        vmin, W_new = _newton_min(pot, float(mid[j]), float(e[j]), float(e[j + 1]))
        if theta < 64 * _EPS * abs(W_new):
            raise EffcoefError(
                f"{pot.name}: theta = {theta:g} is below the double-precision resolution of W "
                f"near its minimum (|W| = {abs(W_new):.3g}, rounding ~{_EPS * abs(W_new):.1g}): "
                "exp(-W/theta) cannot be evaluated there; D ~ e^(barrier/theta) would overflow "
                "anyway for a multi-well W (effcoef.reference.quadrature.quadrature_coefficients "
                "returns log_D)")
        if Wmin is not None and W_new >= Wmin - 0.01 * theta:
            break
        Wmin = W_new if Wmin is None else min(Wmin, W_new)
        cells = _refine(land, cells, theta, Wmin)
    return vmin, Wmin, float(np.min(cells[1])), cells


# ------------------------------------------------------------------------------------------
# theta-dependent: tail points, the interval and its bound

_LAG_T, _LAG_W = np.polynomial.laguerre.laggauss(12)


@dataclass
class Interval:
    """The chosen interval ``[a, b]`` and everything :func:`cut_bound` needs.

    ``edges``: cells over ``[A, B]`` (the left tail points, the cells of ``[a0, b0]``, the
    right tail points), ``lmU``/``lmL``: upper/lower bounds of the log weight per cell
    (:math:`m`, or :math:`r^{d-1}m` radially); ``ia``/``ib``: the indices of ``a0``/``b0``
    in ``edges``; ``tails``: per edge outside ``[a0, b0]`` (and at a0, b0), the log of the
    weight's upper bound at the edge and the certified lower bound c of :math:`|W'|` beyond.
    """

    a: float
    b: float
    vmin: float
    Wmin: float
    theta: float
    certified: bool
    note: str
    radial_dim: Optional[int]
    edges: np.ndarray
    lmU: np.ndarray
    lmL: np.ndarray
    ia: int
    ib: int
    tail_lm: np.ndarray
    tail_c: np.ndarray
    land: Optional[Landscape] = None
    W_absmax: float = 0.0
    ka: int = 0
    kb: int = 0
    max_level: float = 0.0
    estimate: dict = field(default_factory=dict)


def _tail_ladder(land, side, w_need=math.inf):
    r"""Points of the monotone tail beyond a0 (side -1) / b0 (side +1) at which
    :math:`W - W(x_0)` climbs a geometric ladder (5 % steps from a thousandth of the rise over
    the first grid step), up to the first point where W exceeds ``w_need`` (then a margin),
    with point enclosures of W and the lower bound c of :math:`|W'|` beyond each point.
    Theta-independent: cached per landscape and extended (doubling the W range) when a
    later call needs more."""
    cache = land.refined_for.setdefault("ladder", {})
    hit = cache.get(side)
    if hit is not None and (hit[4] >= w_need or hit[5]):
        return hit[:4]
    shells, margin, R_far = land.right if side > 0 else land.left
    x0 = land.b0 if side > 0 else land.a0
    pot = land.potential
    # a geometric grid of distances from x0: from the cells' width / 64 (or a few ulp) to
    # the end of the double range, 16 points per octave
    step = max(4 * np.spacing(abs(x0)), 1e-300)
    k = np.arange(0, 16 * 2100)
    with np.errstate(over="ignore", invalid="ignore"):
        g = x0 + side * step * np.exp2(k / 16.0)
    g = np.concatenate([[x0], g[np.isfinite(g) & (side * (g - R_far) <= 0)]])
    with np.errstate(all="ignore"):
        wg = np.maximum.accumulate(np.nan_to_num(np.asarray(pot.W(g), float), nan=np.inf))
    w0 = wg[0]
    d = wg - w0
    pos = d[(d > 0) & np.isfinite(d)]
    # first rung: a thousandth of the rise over the first grid step (W may live at 1e-300)
    d0 = max(1e-3 * float(pos[0]), 1e-300) if len(pos) else 1e-13 * (1.0 + abs(w0))
    with np.errstate(all="ignore"):
        rung = np.where(d > d0, np.floor(np.log(d / d0) / math.log(1.05)), -1.0)
    rung = np.where(np.isfinite(wg), rung, np.inf)
    # stop a rung past the needed W, with the range doubled (amortises later extensions)
    reach = w0 + 2.0 * max(w_need - w0, 0.0) if math.isfinite(w_need) else math.inf
    if hit is not None:
        reach = max(reach, w0 + 2.0 * max(hit[4] - w0, 0.0))
    beyond = np.nonzero(wg > reach)[0]
    complete = len(beyond) == 0
    if not complete:
        rung = rung[:int(beyond[0]) + 1]
    _, first = np.unique(rung, return_index=True)
    pts = g[np.sort(first)]
    pts = pts[np.argsort(side * (pts - x0))]
    lo, hi = land.W_point(pts)
    # c at p: a lower bound of side*W' on [p, infinity): the bound on the rest of the shell
    # containing p (enclosed on [p, shell end]: a shell starting next to a critical point has
    # a margin near 0 that must not spoil the points further out) and the margins of the
    # shells beyond it (a suffix minimum)
    outer = side * (shells[:, 1] if side > 0 else shells[:, 0])
    order = np.argsort(outer)
    outer_sorted = outer[order]
    suffix = np.minimum.accumulate(margin[order][::-1])[::-1]
    i = np.searchsorted(outer_sorted, side * pts, side="right")
    beyond = np.where(i + 1 < len(suffix), suffix[np.minimum(i + 1, len(suffix) - 1)], np.inf)
    end = side * outer_sorted[np.minimum(i, len(outer_sorted) - 1)]
    end = np.where(side * end > side * pts, end, pts)
    lo_iv, hi_iv = (pts, end) if side > 0 else (end, pts)
    if land.certified:
        from potentials.intervals import enclose_dW
        dl, dh, _, ok = enclose_dW(pot, lo_iv, hi_iv, domain=True)
        local = np.where(ok, dl if side > 0 else -dh, 0.0)
    else:
        t = np.linspace(0.0, 1.0, 9)
        xs = lo_iv[:, None] + (hi_iv - lo_iv)[:, None] * t[None, :]
        with np.errstate(all="ignore"):
            local = 0.5 * np.nanmin(side * np.asarray(pot.dW(xs), float), axis=1)
    # the containing shell's own margin is a valid bound on [p, shell end] too: take the better
    own = margin[order][np.minimum(i, len(suffix) - 1)]
    own = np.where(i < len(suffix), own, 0.0)
    c = np.minimum(np.maximum(np.maximum(local, own), 0.0), beyond)
    cache[side] = (pts, lo, hi, c, reach, complete)
    return cache[side][:4]


def _tail_points(land, side, Wmin, theta, level):
    r"""The tail points of :func:`_tail_ladder` for this theta: up to the first point above
    ``level``, thinned to level steps of about :math:`\max(1, \ell/20)`."""
    pts, lo, hi, c = _tail_ladder(land, side, Wmin + 1.01 * level * theta)
    lev = (lo - Wmin) / theta
    above = np.nonzero(lev >= level)[0]
    n = int(above[0]) + 1 if len(above) else len(pts)
    lev = lev[:n]
    t = np.where(lev <= 20.0, lev, 20.0 + 20.0 * np.log(np.maximum(lev, 20.0) / 20.0))
    _, keep = np.unique(np.floor(np.maximum(t, -1.0)), return_index=True)
    keep = np.union1d(np.union1d(keep, [0]), [n - 1])
    return pts[keep], lo[keep], hi[keep], c[keep]


def select_interval(potential: Union[Potential, RadialPotential], theta: float, *, target: float,
                    tail: float, radial_dim: Optional[int] = None) -> Interval:
    r"""The smallest interval (cell edges) whose a-priori truncation bound is below ``target``.

    Starts from the hull of the cells that may hold points with
    :math:`(W - W_{\min})/\theta \le` ``tail`` and moves each end outward until the bound of
    the module docstring (:math:`\mathcal V, Z, D, K` estimated by the midpoint rule on the
    cells) is met.  ``radial_dim``: the l = 1 channel on :math:`r \ge 0`.
    """
    key = (_key(potential), float(theta), float(target), float(tail), radial_dim)
    hit = _CACHE.get(("interval",) + key)
    if hit is not None:
        return hit
    land = landscape(potential)
    vmin, Wmin, Wmin_lo, cells = _minimum(land, theta)
    pot = land.potential
    if radial_dim is not None:
        cells = _split_core(land, cells, Wmin, theta, tail + 70.0, radial_dim)
    if Wmin - Wmin_lo > 50 * theta:
        raise EffcoefError(f"{pot.name}: the global minimum of W could not be located to "
                           f"within theta (bounds {Wmin_lo:.6g} .. {Wmin:.6g})")
    level = LEVEL_RELEVANT + 60.0
    parts_e, parts_lo, parts_hi, tl, tc = [], [], [], [], []
    if not land.half_line:
        pL, loL, hiL, cL = _tail_points(land, -1, Wmin, theta, level)
        # cells between consecutive tail points (inner -> outer): W in [W(inner), W(outer)]
        parts_e.append(pL[::-1][:-1]); parts_lo.append(loL[:-1][::-1])    # noqa: E702
        parts_hi.append(hiL[1:][::-1])
        tl.append(loL[::-1][:-1]); tc.append(cL[::-1][:-1])                # noqa: E702
    ia = sum(len(p) for p in parts_e)
    e_mid = cells[0]
    parts_e.append(e_mid[:-1]); parts_lo.append(cells[1]); parts_hi.append(cells[2])  # noqa
    tl.append(np.full(len(e_mid) - 1, np.nan)); tc.append(np.full(len(e_mid) - 1, np.nan))  # noqa
    ib = ia + len(e_mid) - 1
    pR, loR, hiR, cR = _tail_points(land, +1, Wmin, theta, level)
    parts_e.append(pR); parts_lo.append(loR[:-1]); parts_hi.append(hiR[1:])  # noqa: E702
    tl.append(loR); tc.append(cR)                                           # noqa: E702
    edges = np.concatenate(parts_e)
    Wlo, Whi = np.concatenate(parts_lo), np.concatenate(parts_hi)
    tail_W = np.concatenate(tl)
    tail_c = np.concatenate(tc)
    if not land.half_line:                  # a0 itself: its point bound and the left c
        tail_W[ia], tail_c[ia] = loL[0], cL[0]
    tail_lm = -(tail_W - Wmin) / theta
    lmU, lmL = -(Wlo - Wmin) / theta, -(Whi - Wmin) / theta
    if radial_dim is not None:
        with np.errstate(divide="ignore"):
            lmU = lmU + (radial_dim - 1) * np.log(edges[1:])
            lmL = lmL + (radial_dim - 1) * np.log(edges[:-1])
            tail_lm = tail_lm + (radial_dim - 1) * np.log(np.abs(edges))
    mid = 0.5 * (edges[:-1] + edges[1:])
    with np.errstate(all="ignore"):
        wmid = np.asarray(pot.W(mid), dtype=float)
    relevant = lmU >= -LEVEL_RELEVANT
    if np.any(relevant & np.isnan(wmid)):
        x = mid[np.nonzero(relevant & np.isnan(wmid))[0][0]]
        raise EffcoefError(f"{pot.name}: W is not defined (nan) at v = {x:.6g}, where "
                           "exp(-W/theta) would carry mass")
    lm_mid = -(wmid - Wmin) / theta
    if radial_dim is not None:
        with np.errstate(divide="ignore"):
            lm_mid = lm_mid + (radial_dim - 1) * np.log(mid)
    lm_mid = np.where(np.isfinite(lm_mid), np.clip(lm_mid, lmL, lmU), lmL)
    iv = Interval(a=0.0, b=0.0, vmin=vmin, Wmin=Wmin, theta=theta, certified=land.certified,
                  note=land.note, radial_dim=radial_dim, edges=edges, lmU=lmU, lmL=lmL,
                  ia=ia, ib=ib, tail_lm=tail_lm, tail_c=tail_c, land=land)
    inside = np.nonzero(lmU >= -tail)[0]
    ka, kb = int(inside[0]), int(inside[-1]) + 1
    if radial_dim is not None:
        # inner end: 0, unless the weight r^(d-1) m is negligible (< e^-(tail + 60)) on a
        # whole [0, r] (a repulsive core, W -> +inf at 0): then the last such edge, where the
        # weight is still representable; the bound below decides whether to move it inward
        neg = np.maximum.accumulate(lmU) < -(tail + 60.0)
        ka = int(np.argmin(neg)) if neg[0] else 0
    w = np.diff(edges)
    for _ in range(30):
        est = _estimates(iv, ka, kb, lm_mid, mid, w)
        nka, nkb = _extend(iv, ka, kb, est, target)
        if (nka, nkb) == (ka, kb):
            break
        ka, kb = nka, nkb
    iv.ka, iv.kb = ka, kb
    iv.a, iv.b = float(edges[ka]), float(edges[kb])
    iv.max_level = float(np.max((Wlo[ka:kb] - Wmin) / theta))
    # |W| where the rounding of W/theta matters: where the mass is (level <= 10) and at the
    # highest barrier (where 1/m weighs D), not at the far ends of the interval
    lev = (Wlo[ka:kb] - Wmin) / theta
    sel = (lev <= 10.0) | (lev >= iv.max_level - 10.0) & (lev < -np.min(lmU[ka:kb]) - 20.0) \
        if kb - ka > 2 else np.ones(kb - ka, bool)
    sel = sel | (lev <= 10.0)
    iv.W_absmax = float(max(np.max(np.abs(Wlo[ka:kb][sel]), initial=0.0),
                            np.max(np.abs(np.where(np.isfinite(Whi[ka:kb]), Whi[ka:kb],
                                                   0.0)[sel]), initial=0.0), abs(Wmin)))
    iv.estimate = _estimates(iv, ka, kb, lm_mid, mid, w)
    _cache_put(("interval",) + key, iv)
    return iv


def _split_core(land, cells, Wmin, theta, need, dim=1):
    """A radial profile unbounded at r = 0 (a repulsive core such as 1/r): halve the first
    cell [0, e1] towards 0 until the weight r^(d-1) exp(-(W - Wmin)/theta) on [0, r] is
    certified below e^-need (W's lower bound there, r^(d-1) at r), so that the inner end can
    be cut where the weight is negligible (a node at r = 0 would carry W = inf).  Unchanged
    if W is bounded on the first cell."""
    e, lo, hi = (np.asarray(c, dtype=float) for c in cells)
    if not (land.half_line and e.size >= 2 and e[0] == 0.0 and not np.isfinite(hi[0])):
        return cells
    new, r = [], float(e[1])
    for _ in range(1100):
        r *= 0.5
        if r < 1e-300:
            break
        new.append(r)
        lo0, _ = _cells(land, np.array([0.0]), np.array([r]))
        if (float(lo0[0]) - Wmin) / theta - (dim - 1) * math.log(r) > need:
            break
    edges = np.concatenate([[0.0], np.array(new[::-1]), e[1:]])
    k = len(new) + 1                         # the cells [0, r_J], ..., [r_1, e1]
    lo_n, hi_n = _cells(land, edges[:k], edges[1:k + 1])
    return edges, np.concatenate([lo_n, lo[1:]]), np.concatenate([hi_n, hi[1:]])


def _cache_put(key, value):
    _CACHE[key] = value
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)


def _estimates(iv, ka, kb, lm_mid, mid, w):
    """Midpoint-rule estimates of log Z, V, log K, log I = log(theta Z D) on cells [ka, kb)
    (used to choose the interval only; the final bound uses the solver's values)."""
    th = iv.theta
    lw = np.log(w[ka:kb])
    lm = lm_mid[ka:kb]
    x = mid[ka:kb]
    lz = lw + lm
    logZ = float(logsumexp(lz))
    if iv.radial_dim is not None:
        V, data = 0.0, x
    else:
        with np.errstate(divide="ignore"):
            lp = logsumexp(lz[x > 0] + np.log(x[x > 0])) if np.any(x > 0) else -np.inf
            ln = logsumexp(lz[x < 0] + np.log(-x[x < 0])) if np.any(x < 0) else -np.inf
        V = float(np.exp(lp - logZ) - np.exp(ln - logZ))
        data = x - V
    with np.errstate(divide="ignore"):
        ld = np.log(np.abs(data) + 1e-300)
    logK = float(logsumexp(lz + 2 * ld)) - logZ - math.log(th)
    if iv.radial_dim is not None:
        lF = np.logaddexp.accumulate((lz + ld)[::-1])[::-1]
    else:
        left = data <= 0
        cl = np.logaddexp.accumulate(np.where(left, lz + ld, -np.inf))
        cr = np.logaddexp.accumulate(np.where(~left, lz + ld, -np.inf)[::-1])[::-1]
        lF = np.where(left, cl, cr)
    logI = float(logsumexp(lw + 2 * lF - lm))
    return {"logZ": logZ, "V": V, "logK": logK, "logI": logI}


def _tail_closed_form(x0, lm0, c, V, th, q):
    r"""Logs of the mass, first and second moments and O-term beyond the points ``x0``
    (vectorised) of a monotone tail: :math:`\mathrm{weight}(u) \le e^{lm_0}e^{-c|u - x_0|/
    \theta}` times :math:`|u|^q` (q = d - 1 radially), data distance :math:`\le |x_0 -
    \mathcal V| + s`.  Gauss-Laguerre sums (exact for these polynomial integrands),
    evaluated in log space (x0 may be 1e151)."""
    x0, lm0, c = np.atleast_1d(x0), np.atleast_1d(lm0), np.atleast_1d(c)
    with np.errstate(all="ignore"):
        lsc = np.where(c > 0, math.log(th) - np.log(np.where(c > 0, c, 1.0)), np.inf)
        sc = np.exp(lsc)
        base = np.abs(x0 - V) if q == 0 else np.abs(x0)
        s = sc[:, None] * _LAG_T[None, :]
        lwts = lsc[:, None] + np.log(_LAG_W)[None, :]
        lbs = np.log(base[:, None] + s)                          # log(base + s), (n, 12)

        def lag(lf):                                             # log int e^{-s/sc} e^{lf}
            return logsumexp(lwts + lf, axis=1)

        lZ = lag(q * lbs)
        lA = lag((q + 1) * lbs)
        lB = lag((q + 2) * lbs)
        # moment beyond u = x0 + s: <= weight(u) * int e^{-t/sc} (dist(u) + t)^(q+1) dt
        ly = np.log(base[:, None, None] + s[:, :, None] + s[:, None, :])
        lT1 = logsumexp(lwts[:, None, :] + (q + 1) * ly, axis=2)  # (n, 12)
        lO = lag(2 * lT1) - q * np.log(np.maximum(base, 1e-300))
        fin = np.isfinite(lsc)
        return [np.where(fin, lm0 + x, np.inf) for x in (lZ, lA, lB, lO)]


def _side_terms(iv, ka, kb, V, side, only=False):
    """Logs of (Z, A, B, O) outside every candidate cut on one side (vectorised); with
    ``only`` just for the current cut (ka on the left, kb on the right).

    A candidate in a tail uses the closed form from the candidate itself; a candidate
    inside [a0, b0] uses the closed form from a0 (b0) plus the cells in between."""
    th = iv.theta
    e = iv.edges
    lw = np.log(np.diff(e))
    q = 0 if iv.radial_dim is None else iv.radial_dim - 1
    dmax = np.maximum(np.abs(e[:-1] - V), np.abs(e[1:] - V))
    with np.errstate(divide="ignore"):
        ld = np.log(dmax)
    lZc = lw + iv.lmU
    lAc, lBc = lZc + ld, lZc + 2 * ld
    if side < 0:
        k = np.arange(ka if only else 0, ka + 1)
        out = [np.full(len(k), -np.inf) for _ in range(4)]
        if iv.radial_dim is not None and iv.ia == 0:
            tailk = np.zeros(0, int)
            base = [np.array(-np.inf)] * 4
        else:
            tailk = k[k <= iv.ia]
            cf = _tail_closed_form(e[tailk], iv.tail_lm[tailk], iv.tail_c[tailk], V, th, q)
            for o, c in zip(out, cf):
                o[:len(tailk)] = c
            base = [c[-1] for c in cf] if iv.ia in tailk else \
                [x[0] for x in _tail_closed_form(e[iv.ia], iv.tail_lm[iv.ia],
                                                 iv.tail_c[iv.ia], V, th, q)]
        midk = k[k > iv.ia]
        if len(midk):
            j = np.arange(iv.ia, midk[-1])
            cZ = np.logaddexp(base[0], np.logaddexp.accumulate(lZc[j]))
            cA = np.logaddexp(base[1], np.logaddexp.accumulate(lAc[j]))
            cB = np.logaddexp(base[2], np.logaddexp.accumulate(lBc[j]))
            cO = np.logaddexp(base[3], np.logaddexp.accumulate(lw[j] + 2 * cA - iv.lmL[j]))
            sl = midk - iv.ia - 1
            for o, c in zip(out, (cZ, cA, cB, cO)):
                o[len(k) - len(midk):] = c[sl]
        return k, out
    n = len(e) - 1
    k = np.arange(kb, kb + 1 if only else n + 1)
    out = [np.full(len(k), -np.inf) for _ in range(4)]
    tailk = k[k >= iv.ib]
    cf = _tail_closed_form(e[tailk], iv.tail_lm[tailk], iv.tail_c[tailk], V, th, q)
    for o, c in zip(out, cf):
        o[len(k) - len(tailk):] = c
    base = [x[0] for x in _tail_closed_form(e[iv.ib], iv.tail_lm[iv.ib], iv.tail_c[iv.ib],
                                            V, th, q)]
    midk = k[k < iv.ib]
    if len(midk):
        j = np.arange(midk[0], iv.ib)[::-1]           # from b0 inward
        cZ = np.logaddexp(base[0], np.logaddexp.accumulate(lZc[j]))
        cA = np.logaddexp(base[1], np.logaddexp.accumulate(lAc[j]))
        cB = np.logaddexp(base[2], np.logaddexp.accumulate(lBc[j]))
        cO = np.logaddexp(base[3], np.logaddexp.accumulate(lw[j] + 2 * cA - iv.lmL[j]))
        sl = iv.ib - 1 - midk
        for o, c in zip(out, (cZ, cA, cB, cO)):
            o[:len(midk)] = c[sl]
    return k, out


def _terms(iv, lZ, lA, lB, lO, logS, est, side=1):
    """Logs of the relative error terms of one side (module docstring)."""
    logZ, logI, logK = est["logZ"], est["logI"], est["logK"]
    lth = math.log(iv.theta)
    t = [lZ - logZ, lB - (logK + lth + logZ), lA - logZ - 0.5 * (logK + lth)]  # Z, K, V
    if iv.radial_dim is None or side > 0:      # no flux term at a radial inner end
        t.append(lO - logI)
    if iv.radial_dim is None:
        ldS = math.log(8.0) + 2 * lA + logS - logI         # delta^2 S / I, delta <= 2(A_L+A_R)
        t += [math.log(2.0) + 0.5 * ldS, ldS]
    else:      # 2 g(R) A_R / J with g ~ J / (Z r), r ~ sqrt(d theta K): 2 A / (Z r)
        lr = 0.5 * (math.log(iv.radial_dim) + lth + logK)
        t += [math.log(4.0) + lA - logZ - lr]
    return np.max(np.array(t), axis=0)


def _extend(iv, ka, kb, est, target):
    """Move each end outward to the nearest cut whose per-side terms are <= target / 2."""
    logS = float(logsumexp(np.log(np.diff(iv.edges))[ka:kb] - iv.lmL[ka:kb]))
    lt = math.log(target / 2)
    kL, tL = _side_terms(iv, ka, kb, est["V"], -1)
    okL = _terms(iv, *tL, logS, est, side=-1) <= lt
    kR, tR = _side_terms(iv, ka, kb, est["V"], +1)
    okR = _terms(iv, *tR, logS, est) <= lt
    nka = int(kL[okL][-1]) if np.any(okL) else 0
    nkb = int(kR[okR][0]) if np.any(okR) else len(iv.edges) - 1
    return min(nka, ka), max(nkb, kb)


def scaled(iv: Interval, center: float, scale: float, energy: float = 1.0) -> Interval:
    """The interval in the variable u = (v - center)/scale with energies in units of
    ``energy`` (see ``potentials.affine``): edges, ends and vmin mapped, theta, Wmin and ``|W|``
    divided by ``energy``, the bounds of ``|W'|`` in the tails multiplied by scale/energy; the
    weights (log m) are unchanged.  1D only."""
    import copy
    out = copy.copy(iv)
    out.edges = (iv.edges - center) / scale
    out.tail_c = iv.tail_c * (scale / energy)
    out.a, out.b = (iv.a - center) / scale, (iv.b - center) / scale
    out.vmin = (iv.vmin - center) / scale
    out.theta, out.Wmin, out.W_absmax = iv.theta / energy, iv.Wmin / energy, iv.W_absmax / energy
    return out


def shifted_interval(iv: Interval, w0: float) -> Interval:
    """The interval for :math:`W - w_0` evaluated exactly (``potentials.shifted``): Wmin
    shifted; the |W| that the rounding floor sees is that of W - w0 (at most the highest level
    inside, plus the shift of the minimum)."""
    import copy
    out = copy.copy(iv)
    out.Wmin = iv.Wmin - w0
    out.W_absmax = abs(out.Wmin) + (iv.max_level + 10.0) * iv.theta
    return out


def rounding_floor(iv: Interval) -> float:
    r"""Relative accuracy floor from the rounding of W itself: :math:`\log m` carries an
    absolute error of about :math:`8\epsilon\max|W|/\theta` on the interval, which D, K
    inherit (a few times) as a relative error (the deep tunnelling regime at tiny theta)."""
    return float(3 * 8 * _EPS * iv.W_absmax / iv.theta)


_LAG_LW = np.log(_LAG_W)


def _lse(x):
    m = float(np.max(x))
    if not math.isfinite(m):
        return m
    return m + math.log(float(np.sum(np.exp(x - m))))


def _tail_one(x0, lm0, c, V, th, q):
    """:func:`_tail_closed_form` for one point (scalar, lean: it runs once per solve)."""
    if not (c > 0 and math.isfinite(c)):
        return (math.inf,) * 4
    lsc = math.log(th) - math.log(c)
    sc = math.exp(lsc)
    base = abs(x0 - V) if q == 0 else abs(x0)
    s = sc * _LAG_T
    lw = lsc + _LAG_LW
    lbs = np.log(base + s)
    lZ, lA, lB = _lse(lw + q * lbs), _lse(lw + (q + 1) * lbs), _lse(lw + (q + 2) * lbs)
    ly = np.log(base + s[:, None] + s[None, :])
    t = lw[None, :] + (q + 1) * ly
    m = np.max(t, axis=1)
    lT1 = m + np.log(np.sum(np.exp(t - m[:, None]), axis=1))
    lO = _lse(lw + 2 * lT1) - q * math.log(max(base, 1e-300))
    return lm0 + lZ, lm0 + lA, lm0 + lB, lm0 + lO


def _cut_side(iv, V, side):
    """Logs of (Z, A, B, O) outside the current cut on one side (ka left, kb right): the
    closed-form tail from the cut (in a tail) or from a0/b0 plus the cells in between."""
    e = iv.edges
    q = 0 if iv.radial_dim is None else iv.radial_dim - 1
    th = iv.theta
    k, lim = (iv.ka, iv.ia) if side < 0 else (iv.kb, iv.ib)
    if (side < 0 and k <= lim) or (side > 0 and k >= lim):
        if side < 0 and iv.radial_dim is not None and iv.ia == 0:
            return (-math.inf,) * 4                     # nothing left of r = 0
        return _tail_one(e[k], iv.tail_lm[k], iv.tail_c[k], V, th, q)
    if side < 0 and iv.radial_dim is not None and iv.ia == 0:
        base = (-math.inf,) * 4
    else:
        base = _tail_one(e[lim], iv.tail_lm[lim], iv.tail_c[lim], V, th, q)
    j = np.arange(lim, k) if side < 0 else np.arange(k, lim)[::-1]
    lw = np.log(e[j + 1] - e[j])
    dmax = np.maximum(np.abs(e[j] - V), np.abs(e[j + 1] - V))
    with np.errstate(divide="ignore"):
        ld = np.log(dmax)
    lZc = lw + iv.lmU[j]
    cZ = np.logaddexp(base[0], np.logaddexp.accumulate(lZc))
    cA = np.logaddexp(base[1], np.logaddexp.accumulate(lZc + ld))
    cB = np.logaddexp(base[2], np.logaddexp.accumulate(lZc + 2 * ld))
    cO = np.logaddexp(base[3], np.logaddexp.accumulate(lw + 2 * cA - iv.lmL[j]))
    return float(cZ[-1]), float(cA[-1]), float(cB[-1]), float(cO[-1])


def cut_bound(iv: Interval, *, V: float, logZ: float, D: float, K: float,
              g_end: Optional[float] = None) -> dict:
    r"""The truncation bound on the chosen interval with the solver's values.

    ``V``, ``logZ`` (log of :math:`\int_a^b m` over the whole interval, or of
    :math:`\int r^{d-1}m` radially, with the interval's :math:`W_{\min}`), ``D``, ``K`` of the
    truncated problem; ``g_end``: the radial corrector at the outer end.  Returns the
    relative bounds ``{"D", "K", "V"}`` (V relative to :math:`\max(|\mathcal V|,
    \sqrt{\theta K})`).
    """
    th = iv.theta
    lth = math.log(th)
    rad = iv.radial_dim is not None
    logK = math.log(max(K, _TINY))
    logI = math.log(max(D, _TINY)) + lth + logZ + (math.log(iv.radial_dim) if rad else 0.0)
    ZL, AL, BL, OL = _cut_side(iv, V, -1)
    ZR, AR, BR, OR = _cut_side(iv, V, +1)
    ZL, AL, BL, OL, ZR, AR, BR, OR = ([x] for x in (ZL, AL, BL, OL, ZR, AR, BR, OR))
    lZo = np.logaddexp(ZL[-1], ZR[0])
    lAo = np.logaddexp(AL[-1], AR[0])
    lBo = np.logaddexp(BL[-1], BR[0])
    lOo = np.logaddexp(OL[-1], OR[0])

    def ex(x):
        return math.exp(min(float(x), 50.0))

    eZ = ex(lZo - logZ)
    eK = ex(np.logaddexp(lBo, 2 * lAo - logZ) - (logK + lth + logZ)) + eZ
    eV = ex(lAo - logZ - max(0.5 * (logK + lth), math.log(abs(V) + _TINY)))
    if not rad:
        e = iv.edges[iv.ka:iv.kb + 1]
        logS = _lse(np.log(np.diff(e)) - iv.lmL[iv.ka:iv.kb])
        ldelta = np.logaddexp(np.minimum(AL[-1], AR[0]), lAo)
        r = ex(2 * ldelta + logS - logI)
        eD = eZ + 2 * math.sqrt(r) + r + ex(lOo - logI)
    else:
        # J = d Z D = max of the l = 1 energy; restriction / extension of the optimum:
        # J - J_t <= 2 g(R) A_R + (2/theta) O_R,  J_t - J <= theta (d-1) g(R)^2 Z_R / R^2
        d = iv.radial_dim
        g = 2.0 * (abs(g_end) if g_end is not None and math.isfinite(g_end) else 1.0)
        logJ = math.log(d) + logZ + math.log(max(D, _TINY))
        R = max(iv.b, _TINY)
        # an inner end r_lo > 0 (repulsive core): g extended linearly to 0 costs at most
        # 2 g A_L + theta (d-1) g^2 Z_L / r^2 over [0, r_lo] (r >= r_lo / 2 on the outer half)
        r_lo = max(iv.a, _TINY)
        eD = eZ + 2 * g * (ex(AR[0] - logJ) + ex(AL[-1] - logJ)) + 2 * ex(OR[0] - lth - logJ) \
            + th * (d - 1) * g * g * ex(ZR[0] - logJ) / (R * R) \
            + (th * (d - 1) * g * g * ex(ZL[-1] - logJ) * 4 / (r_lo * r_lo) if iv.a > 0 else 0.0)
    return {"D": float(eD), "K": float(eK), "V": float(eV)}


def with_ends(iv: Interval, a: float, b: float) -> Interval:
    """A copy of ``iv`` cut at the given ends (a user's domain): the cells containing a and b
    are split there (same bounds on both parts), tails get point bounds at the new edges."""
    import copy
    out = copy.copy(iv)
    for x, is_left in ((a, True), (b, False)):
        e = out.edges
        if x <= e[0] or x >= e[-1]:
            raise EffcoefError(f"domain end {x:.6g} lies outside the analysed range "
                               f"[{e[0]:.6g}, {e[-1]:.6g}] (W exceeds Wmin + "
                               f"{LEVEL_RELEVANT + 60:.0f} theta there); use a smaller domain")
        j = int(np.searchsorted(e, x, side="right") - 1)
        if e[j] == x:
            k = j
        else:
            k = j + 1
            lo, _ = iv.land.W_point(np.array([x]))
            lm = -(lo[0] - iv.Wmin) / iv.theta
            if iv.radial_dim is not None:
                lm += (iv.radial_dim - 1) * math.log(abs(x)) if x != 0 else -np.inf
            inner_c = out.tail_c[j + 1] if is_left else out.tail_c[j]
            out.edges = np.insert(e, k, x)
            out.lmU = np.insert(out.lmU, j, out.lmU[j])
            out.lmL = np.insert(out.lmL, j, out.lmL[j])
            in_tail = j < out.ia or j >= out.ib
            out.tail_lm = np.insert(out.tail_lm, k, lm if in_tail else np.nan)
            out.tail_c = np.insert(out.tail_c, k, inner_c if in_tail else np.nan)
            if j < out.ia:
                out.ia += 1
            if j < out.ib:
                out.ib += 1
        if is_left:
            out.ka = k
        else:
            out.kb = k
    out.a, out.b = float(a), float(b)
    return out




# ------------------------------------------------------------------------------------------
# d = 2, 3: the box

#: ladder of levels (in theta) at which the components of the sublevel set are compared
_LADDER = (30.0, 45.0, 60.0, 80.0, 110.0, 150.0, 200.0, 270.0, 360.0, 480.0, 640.0, 800.0)


@dataclass
class Box:
    """The computational box of a d = 2, 3 route and what is known about the cut."""

    lower: np.ndarray
    upper: np.ndarray
    vmin: np.ndarray
    Wmin: float
    certified: bool
    note: str
    level: float              # the box contains {W <= Wmin + level theta} of the kept wells
    outer_well: float         # highest kept well above Wmin (theta units)
    cut: float                # estimate of the relative cut: e^-(level - outer_well) level^d
    cover: Optional[np.ndarray] = None   # (n, 2, d) boxes covering the kept wells to level


def _components(boxes, lower, upper, n):
    """Labels of the connected components of a union of boxes (rasterised on n^d cells: boxes
    touching or overlapping, or closer than a cell, are connected: a conservative merge)."""
    from scipy import ndimage

    d = boxes.shape[2]
    span = np.maximum(upper - lower, 1e-300)
    lo = np.floor((boxes[:, 0] - lower) / span * n).astype(int)
    hi = np.ceil((boxes[:, 1] - lower) / span * n).astype(int)
    lo, hi = np.clip(lo, 0, n - 1), np.clip(np.maximum(hi, lo + 1), 1, n)
    grid = np.zeros((n,) * d, dtype=np.int32)
    for b in range(len(boxes)):
        grid[tuple(slice(lo[b, k], hi[b, k]) for k in range(d))] = 1
    labels, _ = ndimage.label(grid, structure=np.ones((3,) * d))
    return np.array([labels[tuple(lo[b])] for b in range(len(boxes))])


def select_box(potential: PotentialND, theta: float, *, target: float, tail: float) -> Box:
    r"""The box of a general potential in d = 2, 3.

    1. A search box whose boundary is certified above :math:`W_{\min} + 800\theta`
       (``potentials.bnb.box_boundary_above``, doubling), checked beyond by samples on
       doubling cube shells up to :math:`2^{20}` times its size (heuristic: said in
       ``note``).
    2. The certified global minimum in it and a certified cover of
       :math:`\{W \le W_{\min} + 800\theta\}` (``potentials.bnb.sublevel_cover_nd``).
    3. The wells (connected components of the cover) at the levels of a ladder: a well at
       :math:`h\theta` that joins the main one at the ladder level :math:`s\theta` is kept when
       :math:`s - 2h > -(\mathrm{tail} + \log(1/\mathrm{target}))` (its weight in D, as in
       1D); a well that joins only above 690 theta while it would matter makes D
       overflow: refused.
    4. The box: the cover of the kept wells up to :math:`\max(s, h + \text{tail}_m)` with
       :math:`\text{tail}_m = \mathrm{tail} + \log(1/\mathrm{target})/2`.
    """
    key = ("box", _key(potential), float(theta), float(target), float(tail))
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    box = _select_box(potential, theta, target=target, tail=tail)
    _cache_put(key, box)
    return box


def turned_box(box: Box, turned: PotentialND, R: np.ndarray, theta: float, *, target: float,
               tail: float) -> Box:
    r"""The box of the turned potential :math:`\tilde W(y) = W(R y)` from the box of W
    (:func:`select_box`), without a second search: the minimum, the kept wells, the level and
    the cut do not depend on the frame.  Its extent is the bounding box of
    :math:`\{\tilde W \le W_{\min} + \text{level}\,\theta\}`
    (``potentials.bnb.sublevel_bbox_nd``, proved) inside the bounding box of the turned cover
    of the kept wells.  A box without a cover (the heuristic route) is searched again with
    ``target`` and ``tail`` as in :func:`select_box`."""
    R = np.asarray(R, float)
    if box.cover is None or not box.certified:
        return select_box(turned, theta, target=target, tail=tail)
    from potentials.bnb import sublevel_bbox_nd

    c = 0.5 * (box.cover[:, 0] + box.cover[:, 1])           # (n, d)
    h = 0.5 * (box.cover[:, 1] - box.cover[:, 0])
    cy = c @ R                                               # R^T c, row-wise
    hy = h @ np.abs(R)
    lo, hi = (cy - hy).min(axis=0), (cy + hy).max(axis=0)
    fine = sublevel_bbox_nd(turned, lo, hi, box.Wmin + box.level * theta)
    if fine is not None:
        lo, hi = fine
    return Box(np.asarray(lo, float), np.asarray(hi, float), R.T @ np.asarray(box.vmin, float),
               box.Wmin, True, box.note + "; turned frame: box of W(R y) at the same level",
               box.level, box.outer_well, box.cut, None)


def _select_box(potential, theta, *, target, tail):
    from potentials.bnb import (
        box_boundary_above,
        certified_minimum_nd,
        sublevel_bbox_nd,
        sublevel_cover_nd,
    )
    from potentials.intervals import enclose_W_nd

    pot = potential
    d = int(pot.dim)
    certified = getattr(pot, "tree", None) is not None and \
        getattr(pot, "grad_trees", None) is not None
    if not certified:
        b = pot.mass_box(theta, tail + math.log(1.0 / target))
        lvl = tail + math.log(1.0 / target)
        return Box(np.asarray(b.lower, float), np.asarray(b.upper, float),
                   np.asarray(b.vmin, float), float(b.Wmin), False,
                   "heuristic: W sampled (no expression tree)", lvl, 0.0,
                   math.exp(-tail) * lvl ** d)
    L_big = LEVEL_RELEVANT
    try:
        b0 = pot.mass_box(theta, tail)
        c = 0.5 * (np.asarray(b0.lower) + np.asarray(b0.upper))
        r = 0.5 * np.max(np.asarray(b0.upper) - np.asarray(b0.lower))
        W_est = float(b0.Wmin)
    except Exception:        # the sampled search failed: start from the origin
        c, r = np.zeros(d), 1.0
        W_est = float(pot.W(np.zeros((d, 1)))[0])
    r = max(r, 1e-3 * max(1.0, float(np.max(np.abs(c)))))
    for _ in range(80):
        lower, upper = c - r, c + r
        with np.errstate(all="ignore"):
            grid = np.stack(np.meshgrid(*[np.linspace(lower[k], upper[k], 9) for k in range(d)],
                                        indexing="ij")).reshape(d, -1)
            W_est = min(W_est, float(np.nanmin(pot.W(grid))))
        chk = box_boundary_above(pot, lower, upper, W_est + L_big * theta)
        if chk.above:
            break
        r *= 2.0
    else:
        from potentials import NonConfiningError
        raise NonConfiningError(f"{pot.name}: potential is not confining: no box up to "
                                f"|v| ~ {r:.3g} has W > Wmin + {L_big:.0f} theta on its boundary")
    # beyond the box: samples on doubling cube shells (heuristic)
    rng = np.random.default_rng(12345)
    u = rng.uniform(-1.0, 1.0, size=(d, 256))
    u = u / np.max(np.abs(u), axis=0)
    gmin = []
    for k in range(1, 21):
        with np.errstate(all="ignore"):
            pts = c[:, None] + r * 2.0 ** k * u
            w = pot.W(pts)
            gmin.append(float(np.nanmin(np.sqrt(np.sum(pot.grad(pts) ** 2, axis=0)))))
        if np.any(~(w > W_est + L_big * theta)):
            raise EffcoefError(f"{pot.name}: W comes back below Wmin + {L_big:.0f} theta at "
                               f"|v - c| ~ {r * 2.0 ** k:.3g}, beyond the certified box of "
                               f"radius {r:.3g} (far wells or no confinement)")
    if not gmin[-1] >= 2.0 * gmin[0]:
        from potentials import NonConfiningError
        raise NonConfiningError(
            f"{pot.name}: potential is not confining for the Schrödinger operator: |grad W| "
            f"stays bounded far out ({gmin[0]:.3g} at |v| ~ {2 * r:.3g}, {gmin[-1]:.3g} at "
            f"{r * 2.0 ** 20:.3g}), so |grad W|^2/(4 theta) - Laplacian(W)/2 does not tend to "
            "infinity and the spectrum is not discrete")
    mn = certified_minimum_nd(pot, lower, upper, atol=0.1 * theta, rtol=0.0)
    Wmin, vmin = float(mn.Wx), np.asarray(mn.x, float)
    if Wmin - mn.lo > 50 * theta:
        raise EffcoefError(f"{pot.name}: the global minimum of W could not be located to "
                           f"within theta (bounds {mn.lo:.6g} .. {Wmin:.6g})")
    if theta < 64 * _EPS * abs(Wmin):
        raise EffcoefError(f"{pot.name}: theta = {theta:g} is below the double-precision "
                           f"resolution of W near its minimum (|W| = {abs(Wmin):.3g})")
    cov = sublevel_cover_nd(pot, lower, upper, Wmin + L_big * theta)
    boxes = cov.boxes
    wlo = enclose_W_nd(pot, boxes[:, 0].T, boxes[:, 1].T)[0]
    lev = (wlo - Wmin) / theta
    n_r = 512 if d == 2 else 96
    main_box = int(np.argmin(np.max(np.abs(boxes.mean(axis=1) - vmin), axis=1)))
    ln_t = math.log(1.0 / target)
    tail_m = tail + 0.5 * ln_t
    # components at the top level, their heights, and when each joins the main one
    lab_top = _components(boxes, lower, upper, n_r)
    comps = {}
    for lab in np.unique(lab_top):
        sel = lab_top == lab
        comps[int(lab)] = {"h": float(np.min(lev[sel])), "s": math.inf}
    main_lab = int(lab_top[main_box])
    comps[main_lab]["s"] = 0.0
    for L in _LADDER:
        sel = lev <= L
        if not np.any(sel[lab_top == main_lab]):
            continue
        lab_L = np.zeros(len(boxes), dtype=int)
        lab_L[sel] = _components(boxes[sel], lower, upper, n_r)
        main_L = lab_L[main_box] if sel[main_box] else None
        if main_L is None:
            continue
        for lab, info in comps.items():
            if info["s"] == math.inf and np.any((lab_top == lab) & sel & (lab_L == main_L)):
                info["s"] = L
    kept = [main_lab]
    level = tail_m
    outer = 0.0
    for lab, info in comps.items():
        if lab == main_lab:
            continue
        h, s = info["h"], info["s"]
        weight = (s if math.isfinite(s) else L_big) - 2 * h
        if weight <= -(tail + ln_t):
            continue                                  # negligible for D and for the mass
        if not math.isfinite(s) or s > LOG_UNDERFLOW:
            raise EffcoefError(
                f"{pot.name}: a well {h:.0f} theta above the minimum sits behind a barrier "
                f"above {LOG_UNDERFLOW:.0f} theta and weighs on D: the weights underflow "
                "double precision and D overflows")
        kept.append(lab)
        level = max(level, s, h + tail_m)
        outer = max(outer, h)
    sel = np.isin(lab_top, kept) & (lev <= level)
    lo_box = boxes[sel, 0].min(axis=0)
    hi_box = boxes[sel, 1].max(axis=0)
    # the top-level cover is coarse between the final level and 800 theta: cover again at
    # the final level inside that box, for a tight box
    # (to 1e-3 of the box in 2D, 1e-2 in 3D: a 1% wider box costs nothing)
    fine = sublevel_bbox_nd(pot, lo_box, hi_box, Wmin + level * theta)
    if fine is not None:
        lo_box, hi_box = fine
    note = (f"certified by interval arithmetic in the box |v - c| <= {r:.3g} (boundary above "
            f"Wmin + {L_big:.0f} theta); beyond it W sampled on cube shells; wells kept by "
            f"their weight in D ({len(kept)} of {len(comps)})")
    cut = math.exp(-(level - outer)) * max(level, 1.0) ** d
    return Box(lo_box, hi_box, vmin, Wmin, True, note, level, outer, cut, boxes[sel])
