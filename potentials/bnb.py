r"""Certified branch and bound on potentials, built on :mod:`potentials.intervals`.

Everything here is *proved* by interval bounds (outward rounded, see
:mod:`potentials.intervals`), never by sampling: a cell is discarded only if
the enclosure of :math:`W` on it shows that it cannot matter.  Samples and a
local minimiser are only used to find good upper bounds (a point and its
certified value).  Work is bounded: every routine takes a cell budget and
stops, with its result still *sound* but coarser and a flag
``exhausted=True``, when the budget is reached (``strict=True`` raises
:class:`BudgetExceededError` instead).  All routines are deterministic.

The guarantees concern the exact values of :math:`W` (constants read from
their decimal text); points where :math:`W` is undefined (NaN, e.g.
``log`` of a negative number) are ignored by the bounds and reported through
``defined=False``.

1D (a :class:`~potentials.Potential` with ``tree``/``dtree``; a
:class:`~potentials.RadialPotential` is handled through its profile):

* :func:`certified_minimum` -- bracket of :math:`\min_{[a,b]} W` and a point;
* :func:`sublevel_cover` -- cells covering :math:`\{W \le \text{level}\}`;
* :func:`cell_bounds`, :func:`adaptive_cell_bounds` -- bounds of W per cell;
* :func:`monotone_radius` -- where :math:`W'` is certified one-signed;
* :func:`level_radius` -- where :math:`W > \text{level}` is certified.

nD (a :class:`~potentials.PotentialND` with ``tree``/``grad_trees``):

* :func:`certified_minimum_nd`, :func:`sublevel_cover_nd`,
  :func:`box_boundary_above`.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from .core import Potential
from .errors import PotentialError
from .intervals import enclose, enclose_dW, enclose_W, enclose_W_nd, nd_names, tree_var
from .nd import PotentialND, RadialPotential

__all__ = [
    "BudgetExceededError", "MinimumResult", "Cover", "CellBounds", "TailResult",
    "MinimumResultND", "CoverND", "BoundaryCheck",
    "certified_minimum", "sublevel_cover", "cell_bounds", "adaptive_cell_bounds",
    "monotone_radius", "level_radius", "certified_minimum_nd", "sublevel_cover_nd",
    "sublevel_bbox_nd", "box_boundary_above",
]

_INF = np.inf
#: default cell budgets
MAX_CELLS = 200_000
MAX_BOXES = 200_000


class BudgetExceededError(PotentialError):
    """A certified search needed more cells than its budget (``strict=True``).

    The potential varies on scales too small to resolve with the given
    budget (e.g. ``v**2 + sin(1e6*v)``) or is undefined on a region.
    """


# ----------------------------------------------------------------------
# helpers


def _as_1d(pot):
    prof = getattr(pot, "profile", None)
    if prof is not None and getattr(pot, "tree", None) is None:
        pot = prof
    if getattr(pot, "tree", None) is None:
        raise ValueError(f"{getattr(pot, 'name', pot)}: no expression tree; certified "
                         "bounds need a potential built from an expression or the library")
    return pot


def _as_nd(pot):
    if getattr(pot, "profile", None) is not None and hasattr(pot, "as_cartesian"):
        pot = pot.as_cartesian()
    if getattr(pot, "tree", None) is None:
        raise ValueError(f"{getattr(pot, 'name', pot)}: no expression tree; certified "
                         "bounds need a potential built from an expression or the library")
    return pot


def _splittable(lo, hi):
    mid = 0.5 * lo + 0.5 * hi
    return (mid > lo) & (mid < hi)


def _split(lo, hi, max_cells):
    """Split each cell into k equal parts: k = 16 while there are few cells (fewer
    iterations of the vectorised loop), else 2.  Returns the new (lo, hi)."""
    n = lo.size
    k = 16 if 16 * n <= min(4096, max_cells) else 2
    t = np.linspace(0.0, 1.0, k + 1)
    edges = lo[:, None] + (hi - lo)[:, None] * t[None, :]
    edges[:, 0], edges[:, -1] = lo, hi
    edges = np.maximum.accumulate(edges, axis=1)     # monotone even with rounding
    nlo, nhi = edges[:, :-1].ravel(), edges[:, 1:].ravel()
    keep = nhi > nlo
    return nlo[keep], nhi[keep]


def _W_point(pot, x):
    """Certified enclosure (natural form, contains the float value) of W at points x."""
    x = np.asarray(x, dtype=np.float64)
    lo, hi, ok = enclose(pot.tree, {tree_var(pot): (x, x)})
    return lo, hi, ok


def _budget(strict, what, n, limit):
    if strict:
        raise BudgetExceededError(
            f"{what}: more than {limit} cells would be needed ({n}); the potential varies "
            "on scales too small for the budget or is undefined on a region")


def _check_interval(a, b, what):
    a, b = float(a), float(b)
    if not (math.isfinite(a) and math.isfinite(b) and a < b):
        raise ValueError(f"{what}: need finite a < b, got [{a!r}, {b!r}]")
    return a, b


# ----------------------------------------------------------------------
# 1D minimum


class MinimumResult(NamedTuple):
    r"""Result of :func:`certified_minimum`.

    Attributes
    ----------
    lo, hi : float
        Certified bracket :math:`lo \le \min_{[a,b]} W \le hi`.
    x : float
        The best point found: the certified enclosure of :math:`W(x)` has its
        upper end at ``hi`` unless ``hi`` came from the upper bound of W over
        a whole cell (then :math:`W(x) \le hi` still holds for the cell's
        midpoint ``x`` in exact arithmetic); ``Wx`` is ``W(x)`` in float64.
    Wx : float
        ``W(x)`` evaluated in float64.
    converged : bool
        ``hi - lo <= atol + rtol*|hi|``.
    exhausted : bool
        The cell budget was reached (the bracket is still valid).
    defined : bool
        W is certainly defined and finite on the cells that were kept.
    n_cells : int
        Number of cell evaluations.
    """

    lo: float
    hi: float
    x: float
    Wx: float
    converged: bool
    exhausted: bool
    defined: bool
    n_cells: int


def _local_min_1d(pot, a, b, x0, h):
    from scipy.optimize import minimize_scalar

    lo, hi = max(a, x0 - h), min(b, x0 + h)
    if not lo < hi:
        return x0

    def f(x):
        y = float(pot.W(x))
        return y if math.isfinite(y) else 1e300

    res = minimize_scalar(f, bounds=(lo, hi), method="bounded",
                          options={"xatol": 1e-14 * max(1.0, abs(x0))})
    return float(res.x) if math.isfinite(res.fun) else x0


def certified_minimum(pot: Union[Potential, RadialPotential],
                      a: float, b: float, *, atol: float = 1e-9,
                      rtol: float = 1e-12, max_cells: int = MAX_CELLS, n_samples: int = 4097,
                      strict: bool = False) -> MinimumResult:
    r"""Certified bracket of :math:`\min_{v \in [a, b]} W(v)`.

    Branch and bound: cells whose lower bound exceeds the best certified
    upper bound :math:`U` are discarded; cells whose lower bound is below
    :math:`U - \text{tol}` are bisected, until
    :math:`U - \min \text{lower bounds} \le \text{tol} = \text{atol} +
    \text{rtol}|U|`.  :math:`U` comes from a sample of ``n_samples`` points
    refined by a bounded local minimiser (float64 W) and from the cell
    midpoints, each certified by the enclosure of W at the point.

    Parameters
    ----------
    pot : Potential or RadialPotential
        With ``tree`` (and ``dtree`` for the centered form).
    a, b : float
        Finite interval, ``a < b``.
    atol, rtol : float
        Target width of the bracket.
    max_cells : int
        Budget of live cells.
    n_samples : int
        Points sampled for the initial upper bound.
    strict : bool
        Raise :class:`BudgetExceededError` instead of returning
        ``exhausted=True``.

    Returns
    -------
    MinimumResult
    """
    pot = _as_1d(pot)
    a, b = _check_interval(a, b, "certified_minimum")
    xs = _sample_points(a, b, int(n_samples))
    w = pot.W(xs)
    w = np.where(np.isnan(w), _INF, w)
    i = int(np.argmin(w))
    x = float(xs[i])
    if math.isfinite(w[i]):
        h = max(np.max(np.diff(xs[max(i - 1, 0):i + 2])), 1e-300)
        x = _local_min_1d(pot, a, b, x, h)
    _, U, _ = _W_point(pot, np.array([x]))
    U = float(U[0]) if math.isfinite(U[0]) else _INF      # certified W(x) <= U
    Uc = _INF                                              # min over cells of W_hi
    lo = np.linspace(a, b, 65)
    cells_lo, cells_hi = lo[:-1].copy(), lo[1:].copy()
    cells_hi[-1] = b
    parked_L, parked_ok = [], []
    n_eval = 0
    exhausted = False
    while cells_lo.size:
        L, H, _, ok = enclose_W(pot, cells_lo, cells_hi, domain=True)
        n_eval += cells_lo.size
        mid = 0.5 * cells_lo + 0.5 * cells_hi
        _, Hm, _ = _W_point(pot, mid)
        j = int(np.argmin(Hm))
        if Hm[j] < U:
            U, x = float(Hm[j]), float(mid[j])
        if np.any(ok):
            # min W <= W_hi of any cell on which W is defined (needed when the points
            # sampled so far overflow, e.g. v**4 on [-1e100, 1e100])
            Uc = min(Uc, float(np.min(H[ok])))
        Ub = min(U, Uc)
        tol = atol + rtol * abs(Ub) if math.isfinite(Ub) else 0.0
        keep = L <= Ub
        cells_lo, cells_hi, L, ok = cells_lo[keep], cells_hi[keep], L[keep], ok[keep]
        split = (L < Ub - tol) & _splittable(cells_lo, cells_hi)
        park = ~split
        parked_L.append(L[park])
        parked_ok.append(ok[park])
        cells_lo, cells_hi = cells_lo[split], cells_hi[split]
        if 2 * cells_lo.size > max_cells:
            exhausted = True
            parked_L.append(enclose_W(pot, cells_lo, cells_hi)[0])
            parked_ok.append(np.zeros(cells_lo.size, bool))
            _budget(strict, "certified_minimum", 2 * cells_lo.size, max_cells)
            break
        cells_lo, cells_hi = _split(cells_lo, cells_hi, max_cells)
    # polish the point (float64 local minimiser), keep it if its certified value is lower
    x2 = _local_min_1d(pot, a, b, x, max(1e-3 * (b - a), 1e-300))
    _, U2, _ = _W_point(pot, np.array([x2]))
    if U2[0] < U:
        U, x = float(U2[0]), x2
    Ub = min(U, Uc)
    allL = np.concatenate(parked_L) if parked_L else np.array([])
    allok = np.concatenate(parked_ok) if parked_ok else np.array([], bool)
    sel = allL <= Ub
    L_final = min(float(np.min(allL[sel])) if np.any(sel) else Ub, Ub)
    tol = atol + rtol * abs(Ub) if math.isfinite(Ub) else 0.0
    return MinimumResult(L_final, Ub, float(x), float(pot.W(x)), bool(Ub - L_final <= tol),
                         exhausted, bool(np.all(allok[sel])) if np.any(sel) else True, n_eval)


def _sample_points(a, b, n):
    """n uniform points of [a, b] plus 0 and +-10^k (k = -3..307) when inside."""
    xs = np.linspace(a, b, n)
    k = np.logspace(-3, 307, 311)
    extra = np.concatenate([[0.0], k, -k])
    extra = extra[(extra >= a) & (extra <= b)]
    return np.unique(np.concatenate([xs, extra]))


# ----------------------------------------------------------------------
# 1D sublevel cover


class Cover(NamedTuple):
    r"""Result of :func:`sublevel_cover`.

    Attributes
    ----------
    intervals : numpy.ndarray, shape (k, 2)
        Sorted, disjoint, merged intervals whose union contains
        :math:`\{v \in [a, b] : W(v) \le \text{level}\}`; every point of
        :math:`[a, b]` outside them has :math:`W > \text{level}` (proved).
    cells : numpy.ndarray, shape (m, 2)
        The unmerged cells (sorted).
    certain : numpy.ndarray of bool, shape (m,)
        Cells on which :math:`W \le \text{level}` everywhere (proved); the
        other cells are undecided (width <= ``min_width``, or left when the
        budget ran out).
    exhausted : bool
        The budget was reached: undecided cells may be wider than ``min_width``.
    defined : bool
        W is certainly defined and finite on all cells of the cover.
    n_cells : int
        Number of cell evaluations.
    """

    intervals: np.ndarray
    cells: np.ndarray
    certain: np.ndarray
    exhausted: bool
    defined: bool
    n_cells: int


def _merge(lo, hi):
    if lo.size == 0:
        return np.empty((0, 2))
    order = np.argsort(lo, kind="stable")
    lo, hi = lo[order], hi[order]
    out = []
    cl, ch = lo[0], hi[0]
    for l, h in zip(lo[1:], hi[1:]):
        if l <= ch:
            ch = max(ch, h)
        else:
            out.append((cl, ch))
            cl, ch = l, h
    out.append((cl, ch))
    return np.array(out, dtype=np.float64)


def sublevel_cover(pot: Union[Potential, RadialPotential], a: float, b: float, level: float, *,
                   min_width: Optional[float] = None, max_cells: int = MAX_CELLS,
                   n_initial: int = 64, strict: bool = False) -> Cover:
    r"""Cells covering the sublevel set :math:`\{v \in [a, b] : W(v) \le \text{level}\}`.

    A cell is discarded when its enclosure shows :math:`W > \text{level}`,
    accepted when it shows :math:`W \le \text{level}`, and bisected
    otherwise until its width is at most ``min_width`` (then it is kept,
    undecided).

    Parameters
    ----------
    pot : Potential or RadialPotential
    a, b : float
        Finite interval.
    level : float
    min_width : float, optional
        Default ``1e-9 * (b - a)``.
    max_cells : int
        Budget of live cells; when reached, the remaining cells are kept
        (the cover stays valid, coarser) and ``exhausted`` is True.
    n_initial : int
        Initial uniform cells.
    strict : bool
        Raise :class:`BudgetExceededError` when the budget is reached.

    Returns
    -------
    Cover
    """
    pot = _as_1d(pot)
    a, b = _check_interval(a, b, "sublevel_cover")
    level = float(level)
    if math.isnan(level):
        raise ValueError("sublevel_cover: level is nan")
    if min_width is None:
        min_width = 1e-9 * (b - a)
    e = np.linspace(a, b, int(n_initial) + 1)
    e[-1] = b
    clo, chi = e[:-1].copy(), e[1:].copy()
    out_lo, out_hi, out_cert, out_ok = [], [], [], []
    n_eval = 0
    exhausted = False
    while clo.size:
        L, H, _, ok = enclose_W(pot, clo, chi, domain=True)
        n_eval += clo.size
        inside = (H <= level) & ok
        undecided = (L <= level) & ~inside
        small = undecided & (((chi - clo) <= min_width) | ~_splittable(clo, chi))
        keep = inside | small
        out_lo.append(clo[keep])
        out_hi.append(chi[keep])
        out_cert.append(inside[keep])
        out_ok.append(ok[keep])
        split = undecided & ~small
        clo, chi = clo[split], chi[split]
        if 2 * clo.size > max_cells:
            exhausted = True
            _budget(strict, "sublevel_cover", 2 * clo.size, max_cells)
            out_lo.append(clo)
            out_hi.append(chi)
            out_cert.append(np.zeros(clo.size, bool))
            out_ok.append(enclose_W(pot, clo, chi, domain=True)[3])
            break
        clo, chi = _split(clo, chi, max_cells)
    lo = np.concatenate(out_lo)
    hi = np.concatenate(out_hi)
    cert = np.concatenate(out_cert)
    okk = np.concatenate(out_ok)
    order = np.argsort(lo, kind="stable")
    cells = np.stack([lo[order], hi[order]], axis=1) if lo.size else np.empty((0, 2))
    return Cover(_merge(lo, hi), cells, cert[order], exhausted, bool(np.all(okk)), n_eval)


# ----------------------------------------------------------------------
# bounds per cell


class CellBounds(NamedTuple):
    r"""Result of :func:`adaptive_cell_bounds`.

    Attributes
    ----------
    edges : numpy.ndarray, shape (n + 1,)
        Refined partition of :math:`[a, b]`.
    W_lo, W_hi : numpy.ndarray, shape (n,)
        Certified :math:`W_{lo} \le W \le W_{hi}` on each cell.
    defined : numpy.ndarray of bool, shape (n,)
    converged : bool
        Every cell has ``W_hi - W_lo <= tol`` (or is at ``min_width``).
    exhausted : bool
    """

    edges: np.ndarray
    W_lo: np.ndarray
    W_hi: np.ndarray
    defined: np.ndarray
    converged: bool
    exhausted: bool


def cell_bounds(pot: Union[Potential, RadialPotential], edges: ArrayLike) -> Tuple[np.ndarray, ...]:
    r"""Certified bounds of :math:`W` on the cells of a partition.

    Parameters
    ----------
    pot : Potential or RadialPotential
    edges : array_like, shape (n + 1,)
        Increasing cell edges.

    Returns
    -------
    W_lo, W_hi : numpy.ndarray, shape (n,)
        :math:`W_{lo,i} \le W(v) \le W_{hi,i}` for :math:`v` in cell ``i``.
    defined : numpy.ndarray of bool, shape (n,)
    """
    pot = _as_1d(pot)
    e = np.asarray(edges, dtype=np.float64)
    if e.ndim != 1 or e.size < 2 or np.any(np.diff(e) < 0):
        raise ValueError("cell_bounds: edges must be an increasing 1D array of >= 2 points")
    return enclose_W(pot, e[:-1], e[1:])


def adaptive_cell_bounds(pot: Union[Potential, RadialPotential], a: float, b: float, tol: float, *,
                         min_width: Optional[float] = None, max_cells: int = MAX_CELLS,
                         n_initial: int = 64, strict: bool = False) -> CellBounds:
    r"""Refine a partition of :math:`[a, b]` until ``W_hi - W_lo <= tol`` on every cell.

    Cells are bisected while their bound gap exceeds ``tol`` and their
    width exceeds ``min_width`` (default ``1e-12 (b - a)``).
    """
    pot = _as_1d(pot)
    a, b = _check_interval(a, b, "adaptive_cell_bounds")
    tol = float(tol)
    if not tol > 0:
        raise ValueError(f"adaptive_cell_bounds: tol must be > 0, got {tol!r}")
    if min_width is None:
        min_width = 1e-12 * (b - a)
    e = np.linspace(a, b, int(n_initial) + 1)
    e[-1] = b
    clo, chi = e[:-1].copy(), e[1:].copy()
    done = []
    exhausted = False
    converged = True
    while clo.size:
        L, H, ok = enclose_W(pot, clo, chi)
        fine = (H - L <= tol)
        small = ~fine & (((chi - clo) <= min_width) | ~_splittable(clo, chi))
        fin = fine | small
        converged &= not np.any(small)
        done.append((clo[fin], chi[fin], L[fin], H[fin], ok[fin]))
        clo, chi = clo[~fin], chi[~fin]
        total = sum(d[0].size for d in done) + 2 * clo.size
        if total > max_cells:
            exhausted, converged = True, False
            _budget(strict, "adaptive_cell_bounds", total, max_cells)
            L, H, ok = enclose_W(pot, clo, chi)
            done.append((clo, chi, L, H, ok))
            break
        m = 0.5 * clo + 0.5 * chi
        clo, chi = np.concatenate([clo, m]), np.concatenate([m, chi])
    lo = np.concatenate([d[0] for d in done])
    order = np.argsort(lo, kind="stable")
    lo = lo[order]
    hi = np.concatenate([d[1] for d in done])[order]
    edges = np.append(lo, hi[-1])
    return CellBounds(edges, np.concatenate([d[2] for d in done])[order],
                      np.concatenate([d[3] for d in done])[order],
                      np.concatenate([d[4] for d in done])[order], bool(converged), exhausted)


# ----------------------------------------------------------------------
# tails: doubling shells


class TailResult(NamedTuple):
    r"""Result of :func:`monotone_radius` and :func:`level_radius`.

    Coordinates are in :math:`v` (negative for ``side=-1``).

    Attributes
    ----------
    R : float
        Inner end of the certified range (nan if nothing was certified).
    R_far : float
        Outer end of the certified range: the property holds on
        :math:`[R, R_{far}]` (side +1) resp. :math:`[R_{far}, R]` (side -1).
        Beyond :math:`R_{far}` nothing is certified (the enclosures stop
        being conclusive there, typically because intermediate values
        overflow double precision, e.g. ``inf - inf``).
    shells : numpy.ndarray, shape (k, 2)
        The certified shells (sorted by distance from ``start``), in v.
    margin : numpy.ndarray, shape (k,)
        Certified lower bound on each shell of :math:`|W'|` (monotone_radius)
        resp. of :math:`W - \text{level}` (level_radius); all > 0.
    W_R : tuple of float
        Enclosure ``(lo, hi)`` of :math:`W(R)`.
    W_far_lo : float
        Certified lower bound of :math:`W` on the outermost certified shell
        (for :func:`monotone_radius`: the largest lower bound over the shells
        of the range, valid from that shell out to ``R_far`` because W is
        monotone there; the enclosure of W itself may stop being finite
        before that of W', e.g. ``v**4/4 - v**2/2`` beyond ~1e154).
    certified : bool
        Whether a certified range was found.
    """

    R: float
    R_far: float
    shells: np.ndarray
    margin: np.ndarray
    W_R: tuple
    W_far_lo: float
    certified: bool


def _shell_edges(u0):
    if u0 < 1.0:
        inner = list(np.linspace(u0, 1.0, 65))
    else:
        inner = [u0]
    k = np.arange(0, 1024)
    p = np.ldexp(1.0, k)
    p = p[p > inner[-1] * (1 + 4e-16)]
    return np.concatenate([np.array(inner), p])


def _tail_search(pot, side, start, margin_fn, sub=8, rtol=1e-9, max_iter=200):
    """Outermost run of shells (u = side*v >= side*start) on which margin_fn > 0."""
    if side not in (1, -1):
        raise ValueError(f"side must be +1 or -1, got {side!r}")
    u0 = side * float(start)
    if not math.isfinite(u0):
        raise ValueError(f"start must be finite, got {start!r}")
    e = _shell_edges(u0)
    # each shell whole first; only the shells not certified that way are split into `sub`
    # uniform sub-cells (the certificate of a shell is the minimum over its sub-cells)
    mins = np.asarray(margin_fn(e[:-1], e[1:]), dtype=float)
    redo = np.nonzero(~(mins > 0))[0]
    if len(redo):
        t = np.linspace(0.0, 1.0, sub + 1)
        a, b = e[:-1][redo], e[1:][redo]
        slo = a[:, None] + (b - a)[:, None] * t[None, :-1]
        shi = a[:, None] + (b - a)[:, None] * t[None, 1:]
        shi[:, -1] = b
        slo[:, 0] = a
        marg = margin_fn(slo.ravel(), shi.ravel()).reshape(len(redo), sub)
        mins[redo] = np.maximum(mins[redo], marg.min(axis=1))
    cert = mins > 0
    if not np.any(cert):
        return None
    last = int(np.nonzero(cert)[0][-1])
    first = last
    while first > 0 and cert[first - 1]:
        first -= 1
    R = e[first]
    # refine R inward: look at the cell [R - w, R]; if it is certified entirely, move R to
    # its left end (and double w), else move R to the start of its certified suffix of
    # 16 sub-cells and continue with the failing sub-cell's width
    if first > 0:
        lo_limit = e[0]
        w = R - e[first - 1]
        for _ in range(max_iter):
            cl, ch = max(R - w, lo_limit), R
            if ch <= lo_limit or ch - cl <= rtol * max(1.0, abs(ch)):
                break
            tt = np.linspace(cl, ch, 17)
            tt[0], tt[-1] = cl, ch
            ok = margin_fn(tt[:-1], tt[1:]) > 0
            j = 16
            while j > 0 and ok[j - 1]:
                j -= 1
            R = tt[j]
            if j == 0:
                w *= 2.0
            else:
                w = tt[j] - tt[j - 1]
    shells = np.stack([e[first:last + 1], e[first + 1:last + 2]], axis=1)
    return R, e[last + 1], shells, mins[first:last + 1]


def _to_v(side, ulo, uhi):
    return (ulo, uhi) if side == 1 else (-uhi, -ulo)


def _finish_tail(pot, side, found, monotone):
    if found is None:
        nan = float("nan")
        return TailResult(nan, nan, np.empty((0, 2)), np.empty(0), (nan, nan), nan, False)
    R, Rf, shells, margin = found
    vl, vh = _to_v(side, shells[:, 0], shells[:, 1])
    sh = np.stack([vl, vh], axis=1)
    lo, hi, _ = _W_point(pot, np.array([side * R]))
    if monotone:
        # W increases outward on the range: the best lower bound on any shell holds on
        # every shell beyond it, up to R_far
        wl = enclose_W(pot, sh[:, 0], sh[:, 1])[0]
        far_lo = float(np.max(wl))
    else:
        far_lo = float(enclose_W(pot, sh[-1:, 0], sh[-1:, 1])[0][0])
    return TailResult(float(side * R), float(side * Rf), sh, margin,
                      (float(lo[0]), float(hi[0])), far_lo, True)


def monotone_radius(pot: Union[Potential, RadialPotential], side: int = 1, start: float = 0.0, *,
                    rtol: float = 1e-9) -> TailResult:
    r"""Radius beyond which :math:`W'` is certified to have the sign of ``side``.

    Shells :math:`[2^k, 2^{k+1}]` (:math:`k = 0..1022`, in
    :math:`u = \text{side}\cdot v`; 64 uniform cells from ``start`` to 1
    when ``side*start < 1``), each split into 8 cells, are all evaluated at
    once; a shell is certified if :math:`\text{side}\cdot W' > 0` on it
    (centered form with ``d2tree``).  The outermost run of certified shells
    is kept and its inner end refined by repeated 16-fold subdivision of the
    uncertified shell below it (relative resolution ``rtol``).

    Returns
    -------
    TailResult
        :math:`\text{side}\cdot W' \ge \text{margin} > 0` on each shell of
        the range between ``R`` and ``R_far``; :math:`W` increases
        (side +1) resp. decreases toward :math:`-\infty` (side -1) outward
        there, so :math:`W \ge W(R)` on the range.  ``R_far`` is where the
        double-precision enclosures stop being conclusive, or the end of the
        shells, :math:`2^{1023} \approx 9\cdot10^{307}`.  A lower bound that
        overflows stays a valid bound (``DBL_MAX``), so W' = ``v**3 - v``
        (``v**4/4 - v**2/2``) is certified up to :math:`2^{1023}`; where two
        overflowing terms are subtracted (``inf - inf``) certification stops,
        e.g. at :math:`\approx 6.7\cdot10^{153}` for
        ``68.2*(v**4/4 - 2.82*v**3/3 + 1.82*v**2/2)`` (W' has ``v**3`` and
        ``v**2`` terms of opposite signs, and ``v**2`` overflows there).
        Beyond ``R_far`` nothing is certified.
    """
    pot = _as_1d(pot)
    if pot.dtree is None:
        raise ValueError(f"{pot.name}: monotone_radius needs dtree")

    def margin(ulo, uhi):
        vl, vh = _to_v(side, ulo, uhi)
        L, H, _, ok = enclose_dW(pot, vl, vh, domain=True)
        m = L if side == 1 else -H
        return np.where(ok, m, -_INF)

    return _finish_tail(pot, side, _tail_search(pot, side, start, margin, rtol=rtol), True)


def level_radius(pot: Union[Potential, RadialPotential],
                 level: float, side: int = 1, start: float = 0.0, *,
                 rtol: float = 1e-9) -> TailResult:
    r"""Radius beyond which :math:`W > \text{level}` is certified (doubling shells).

    Same shells and refinement as :func:`monotone_radius`, with the
    certificate :math:`W_{lo} > \text{level}` on each cell.  Works for
    confining potentials that are not monotone at infinity, e.g.
    ``v**2*(2 + sin(v))``.  ``margin`` is the certified lower bound of
    :math:`W - \text{level}` per shell.
    """
    pot = _as_1d(pot)
    level = float(level)

    def margin(ulo, uhi):
        vl, vh = _to_v(side, ulo, uhi)
        L, H, _, ok = enclose_W(pot, vl, vh, domain=True)
        return np.where(ok, L - level, -_INF)

    return _finish_tail(pot, side, _tail_search(pot, side, start, margin, rtol=rtol), False)


# ----------------------------------------------------------------------
# nD


def _check_box(pot, lower, upper, what):
    lower = np.asarray(lower, dtype=np.float64).reshape(-1)
    upper = np.asarray(upper, dtype=np.float64).reshape(-1)
    if lower.shape != (pot.dim,) or upper.shape != (pot.dim,):
        raise ValueError(f"{what}: lower/upper must have {pot.dim} entries")
    if not (np.all(np.isfinite(lower)) and np.all(np.isfinite(upper)) and np.all(lower <= upper)):
        raise ValueError(f"{what}: need finite lower <= upper")
    return lower, upper


def _initial_boxes(lower, upper, n_per_axis):
    d = lower.size
    axes = []
    for k in range(d):
        if upper[k] > lower[k]:
            e = np.linspace(lower[k], upper[k], n_per_axis + 1)
            e[-1] = upper[k]
        else:
            e = np.array([lower[k], upper[k]])
        axes.append(e)
    los = np.meshgrid(*[ax[:-1] for ax in axes], indexing="ij")
    his = np.meshgrid(*[ax[1:] for ax in axes], indexing="ij")
    return (np.stack([m.ravel() for m in los]), np.stack([m.ravel() for m in his]))


def _split_boxes(blo, bhi, scale):
    """Bisect each box (d, n) along its widest axis (widths divided by ``scale``)."""
    w = (bhi - blo) / scale[:, None]
    k = np.argmax(w, axis=0)
    n = blo.shape[1]
    idx = np.arange(n)
    mid = 0.5 * blo[k, idx] + 0.5 * bhi[k, idx]
    lo2, hi1 = blo.copy(), bhi.copy()
    hi1[k, idx] = mid
    lo2[k, idx] = mid
    return np.concatenate([blo, lo2], axis=1), np.concatenate([hi1, bhi], axis=1)


def _box_splittable(blo, bhi, min_width):
    w = bhi - blo
    mid = 0.5 * blo + 0.5 * bhi
    can = (mid > blo) & (mid < bhi) & (w > min_width[:, None])
    return np.any(can, axis=0)


class MinimumResultND(NamedTuple):
    """Result of :func:`certified_minimum_nd` (fields as :class:`MinimumResult`, ``x`` of shape (d,))."""

    lo: float
    hi: float
    x: np.ndarray
    Wx: float
    converged: bool
    exhausted: bool
    defined: bool
    n_boxes: int


def _W_point_nd(pot, X):
    names = nd_names(pot)
    X = np.asarray(X, dtype=np.float64)
    return enclose(pot.tree, {x: (X[i], X[i]) for i, x in enumerate(names)})


def certified_minimum_nd(pot: Union[PotentialND, RadialPotential],
                         lower: ArrayLike, upper: ArrayLike, *,
                         atol: float = 1e-9, rtol: float = 1e-12, max_boxes: int = MAX_BOXES,
                         n_samples: Optional[int] = None,
                         strict: bool = False) -> MinimumResultND:
    r"""Certified bracket of :math:`\min W` over the box ``[lower, upper]`` (d = 2, 3).

    Same branch and bound as :func:`certified_minimum` on boxes bisected
    along their widest axis; the upper bound comes from a grid sample
    (``n_samples`` points per axis, default 65 in 2D, 21 in 3D) refined by
    L-BFGS-B and from box centres, each certified by the enclosure at the
    point.  A :class:`~potentials.RadialPotential` is converted with
    ``as_cartesian()``.
    """
    from scipy.optimize import minimize

    pot = _as_nd(pot)
    lower, upper = _check_box(pot, lower, upper, "certified_minimum_nd")
    d = pot.dim
    n = n_samples or {2: 65, 3: 21}[d]
    axes = [np.linspace(lower[k], upper[k], n) for k in range(d)]
    G = np.stack([m.ravel() for m in np.meshgrid(*axes, indexing="ij")])
    w = pot.W(G)
    w = np.where(np.isnan(w), _INF, w)
    i = int(np.argmin(w))
    x = G[:, i].copy()
    if math.isfinite(w[i]):
        res = minimize(lambda z: float(pot.W(z)), x, jac=lambda z: pot.grad(z), method="L-BFGS-B",
                       bounds=list(zip(lower, upper)),
                       options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 500})
        if np.isfinite(res.fun) and res.fun <= w[i]:
            x = np.asarray(res.x, dtype=float)
    U = float(_W_point_nd(pot, x[:, None])[1][0])
    if not math.isfinite(U):
        U = _INF
    blo, bhi = _initial_boxes(lower, upper, 4)
    scale = np.maximum(upper - lower, 1e-300)
    min_w = np.zeros(d)
    parked_L, parked_ok = [], []
    n_eval = 0
    exhausted = False
    while blo.shape[1]:
        L, H, _, ok = enclose_W_nd(pot, blo, bhi, domain=True)
        n_eval += blo.shape[1]
        mid = 0.5 * blo + 0.5 * bhi
        Hm = _W_point_nd(pot, mid)[1]
        j = int(np.argmin(Hm))
        if Hm[j] < U:
            U, x = float(Hm[j]), mid[:, j].copy()
        tol = atol + rtol * abs(U) if math.isfinite(U) else 0.0
        keep = L <= U
        blo, bhi, L, ok = blo[:, keep], bhi[:, keep], L[keep], ok[keep]
        split = (L < U - tol) & _box_splittable(blo, bhi, min_w)
        parked_L.append(L[~split])
        parked_ok.append(ok[~split])
        blo, bhi = blo[:, split], bhi[:, split]
        if 2 * blo.shape[1] > max_boxes:
            exhausted = True
            _budget(strict, "certified_minimum_nd", 2 * blo.shape[1], max_boxes)
            parked_L.append(enclose_W_nd(pot, blo, bhi)[0])
            parked_ok.append(np.zeros(blo.shape[1], bool))
            break
        blo, bhi = _split_boxes(blo, bhi, scale)
    allL = np.concatenate(parked_L)
    allok = np.concatenate(parked_ok)
    sel = allL <= U
    Lf = min(float(np.min(allL[sel])) if np.any(sel) else U, U)
    tol = atol + rtol * abs(U) if math.isfinite(U) else 0.0
    return MinimumResultND(Lf, U, x, float(pot.W(x)), bool(U - Lf <= tol), exhausted,
                           bool(np.all(allok[sel])) if np.any(sel) else True, n_eval)


class CoverND(NamedTuple):
    r"""Result of :func:`sublevel_cover_nd`.

    Attributes
    ----------
    boxes : numpy.ndarray, shape (n, 2, d)
        ``boxes[i, 0]`` lower and ``boxes[i, 1]`` upper corner; their union
        contains :math:`\{v \in \text{box} : W(v) \le \text{level}\}`, every
        other point of the box has :math:`W > \text{level}` (proved).
    certain : numpy.ndarray of bool, shape (n,)
        Boxes on which :math:`W \le \text{level}` everywhere (proved).
    exhausted, defined, n_boxes
        As in :class:`Cover`.
    """

    boxes: np.ndarray
    certain: np.ndarray
    exhausted: bool
    defined: bool
    n_boxes: int

    @property
    def bounding_box(self) -> Optional[Tuple[np.ndarray, np.ndarray]]:
        """``(lower, upper)`` of the union, or None if the cover is empty."""
        if self.boxes.shape[0] == 0:
            return None
        return self.boxes[:, 0].min(axis=0), self.boxes[:, 1].max(axis=0)


def _sublevel_args(pot, lower, upper, level, min_width, what):
    """The checked arguments of the sublevel searches: the nD potential, the box, the level
    and the smallest box width per axis (default 1e-3 of the box in 2D, 1e-2 in 3D)."""
    pot = _as_nd(pot)
    lower, upper = _check_box(pot, lower, upper, what)
    level = float(level)
    if math.isnan(level):
        raise ValueError(f"{what}: level is nan")
    if min_width is None:
        min_w = {2: 1e-3, 3: 1e-2}[pot.dim] * (upper - lower)
    else:
        min_w = np.broadcast_to(np.asarray(min_width, dtype=np.float64), (pot.dim,)).copy()
    return pot, lower, upper, level, min_w


def sublevel_cover_nd(pot: Union[PotentialND, RadialPotential],
                      lower: ArrayLike, upper: ArrayLike, level: float, *,
                      min_width: Optional[ArrayLike] = None, max_boxes: int = MAX_BOXES,
                      n_initial: int = 4, strict: bool = False) -> CoverND:
    r"""Boxes covering :math:`\{v \in [\text{lower}, \text{upper}] : W(v) \le \text{level}\}`.

    Boxes are discarded when :math:`W > \text{level}` is proved, accepted
    when :math:`W \le \text{level}` is proved, and otherwise bisected along
    their widest axis until every axis is at most ``min_width`` (scalar or
    per axis; default ``1e-3 * (upper - lower)`` in 2D, ``1e-2 * (upper -
    lower)`` in 3D, so that a boundary of the set needs ~1e4 boxes).  Degenerate axes
    (``lower[k] == upper[k]``, e.g. a face of a box) are never split.
    """
    pot, lower, upper, level, min_w = _sublevel_args(pot, lower, upper, level, min_width,
                                                     "sublevel_cover_nd")
    scale = np.maximum(upper - lower, 1e-300)
    blo, bhi = _initial_boxes(lower, upper, int(n_initial))
    out_lo, out_hi, out_cert, out_ok = [], [], [], []
    n_eval = 0
    exhausted = False
    while blo.shape[1]:
        L, H, _, ok = enclose_W_nd(pot, blo, bhi, domain=True)
        n_eval += blo.shape[1]
        inside = (H <= level) & ok
        undecided = (L <= level) & ~inside
        small = undecided & ~_box_splittable(blo, bhi, min_w)
        keep = inside | small
        out_lo.append(blo[:, keep])
        out_hi.append(bhi[:, keep])
        out_cert.append(inside[keep])
        out_ok.append(ok[keep])
        split = undecided & ~small
        blo, bhi = blo[:, split], bhi[:, split]
        if 2 * blo.shape[1] > max_boxes:
            exhausted = True
            _budget(strict, "sublevel_cover_nd", 2 * blo.shape[1], max_boxes)
            out_lo.append(blo)
            out_hi.append(bhi)
            out_cert.append(np.zeros(blo.shape[1], bool))
            out_ok.append(enclose_W_nd(pot, blo, bhi, domain=True)[3])
            break
        blo, bhi = _split_boxes(blo, bhi, scale)
    lo = np.concatenate(out_lo, axis=1)
    hi = np.concatenate(out_hi, axis=1)
    boxes = np.stack([lo.T, hi.T], axis=1)
    okk = np.concatenate(out_ok)
    return CoverND(boxes, np.concatenate(out_cert), exhausted, bool(np.all(okk)), n_eval)


def sublevel_bbox_nd(pot: Union[PotentialND, RadialPotential],
                     lower: ArrayLike, upper: ArrayLike, level: float, *,
                     min_width: Optional[ArrayLike] = None, max_boxes: int = MAX_BOXES,
                     strict: bool = False) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    r"""An outer bounding box of :math:`S = \{v \in [\text{lower}, \text{upper}] : W(v) \le
    \text{level}\}` (proved: every point of S lies in it), tight to about ``min_width``;
    None if S is proved empty.

    The branch and bound of :func:`sublevel_cover_nd` that resolves only the extremes of S:
    boxes proved inside S grow an inner box :math:`I` (contained in the bounding box of S);
    a box inside :math:`I` cannot move the bounding box and is dropped unsplit, as is one
    with :math:`W > \text{level}` proved.  Undecided boxes sticking out of :math:`I` are
    bisected down to ``min_width`` (default as in :func:`sublevel_cover_nd`) and then join the
    outer box.  The bounding box of a cover at the same width costs ~1e5 boxes in 3D; this
    costs a few thousand.  If the budget ``max_boxes`` runs out the undecided boxes join the
    outer box unsplit (still a valid outer box, not tight; ``strict`` raises instead).
    """
    pot, lower, upper, level, min_w = _sublevel_args(pot, lower, upper, level, min_width,
                                                     "sublevel_bbox_nd")
    d = pot.dim
    scale = np.maximum(upper - lower, 1e-300)
    blo, bhi = _initial_boxes(lower, upper, 4)
    in_lo, in_hi = np.full(d, np.inf), np.full(d, -np.inf)       # inner box (empty)
    out_lo, out_hi = np.full(d, np.inf), np.full(d, -np.inf)     # outer additions
    while blo.shape[1]:
        L, H, _, ok = enclose_W_nd(pot, blo, bhi, domain=True)
        inside = (H <= level) & ok
        if np.any(inside):
            in_lo = np.minimum(in_lo, blo[:, inside].min(axis=1))
            in_hi = np.maximum(in_hi, bhi[:, inside].max(axis=1))
        undecided = (L <= level) & ~inside
        # a box within the inner box cannot extend the bounding box
        within = np.all((blo >= in_lo[:, None]) & (bhi <= in_hi[:, None]), axis=0)
        undecided &= ~within
        small = undecided & ~_box_splittable(blo, bhi, min_w)
        if np.any(small):
            out_lo = np.minimum(out_lo, blo[:, small].min(axis=1))
            out_hi = np.maximum(out_hi, bhi[:, small].max(axis=1))
        split = undecided & ~small
        blo, bhi = blo[:, split], bhi[:, split]
        if 2 * blo.shape[1] > max_boxes:
            _budget(strict, "sublevel_bbox_nd", 2 * blo.shape[1], max_boxes)
            out_lo = np.minimum(out_lo, blo.min(axis=1))
            out_hi = np.maximum(out_hi, bhi.max(axis=1))
            break
        blo, bhi = _split_boxes(blo, bhi, scale)
    lo, hi = np.minimum(in_lo, out_lo), np.maximum(in_hi, out_hi)
    if not np.all(lo <= hi):
        return None
    return lo, hi


class BoundaryCheck(NamedTuple):
    r"""Result of :func:`box_boundary_above`.

    Attributes
    ----------
    above : bool
        True if :math:`W > \text{level}` is proved on the whole boundary of
        the box.
    boxes : numpy.ndarray, shape (n, 2, d)
        Boundary pieces (degenerate in one axis) where :math:`W \le
        \text{level}` could not be excluded (empty if ``above``).
    exhausted : bool
    """

    above: bool
    boxes: np.ndarray
    exhausted: bool


def box_boundary_above(pot: Union[PotentialND, RadialPotential],
                       lower: ArrayLike, upper: ArrayLike, level: float, *,
                       min_width: Optional[ArrayLike] = None, max_boxes: int = MAX_BOXES,
                       strict: bool = False) -> BoundaryCheck:
    r"""Whether :math:`W > \text{level}` is certified on the boundary of a box.

    Runs :func:`sublevel_cover_nd` on the :math:`2d` faces (boxes
    degenerate in one axis).  If the minimum of W lies inside the box and
    the boundary is above the level, the connected component of the
    sublevel set containing the minimum lies inside the box (use it to
    choose a search box; other components outside need a separate argument,
    e.g. :func:`level_radius` on the profile or a larger box).
    """
    pot = _as_nd(pot)
    lower, upper = _check_box(pot, lower, upper, "box_boundary_above")
    d = pot.dim
    pieces = []
    exhausted = False
    budget = max(1, int(max_boxes) // (2 * d))
    for k in range(d):
        for side in (0, 1):
            flo, fhi = lower.copy(), upper.copy()
            if side == 0:
                fhi[k] = lower[k]
            else:
                flo[k] = upper[k]
            mw = {2: 1e-3, 3: 1e-2}[d] * (upper - lower) if min_width is None else min_width
            c = sublevel_cover_nd(pot, flo, fhi, level, min_width=mw, max_boxes=budget,
                                  strict=strict)
            exhausted |= c.exhausted
            if c.boxes.shape[0]:
                pieces.append(c.boxes)
    boxes = np.concatenate(pieces, axis=0) if pieces else np.empty((0, 2, d))
    return BoundaryCheck(boxes.shape[0] == 0, boxes, exhausted)
