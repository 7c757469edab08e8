r"""Independent quadrature reference for the effective coefficients (1-D velocity).

This module computes the effective drift and diffusion coefficients of the
one-dimensional Fokker-Planck operator

.. math::

    Q(f) = \partial_v\bigl(W'(v) f + \theta \partial_v f\bigr),
    \qquad M(v) = e^{-W(v)/\theta} / Z,\quad Z = \int e^{-W/\theta}\,dv,

directly from their closed-form integral representations

.. math::

    V = \int v\, M\,dv, \qquad
    K = \frac1\theta \int (v - V)^2 M\,dv, \qquad
    D = \frac1\theta \int \frac{F(v)^2}{M(v)}\,dv,
    \qquad F(v) = \int_{-\infty}^{v} (u - V)\, M(u)\,du .

It is deliberately *independent* of the finite-element/eigensolver machinery
of :mod:`effcoef`: it uses only :mod:`numpy`, :mod:`scipy.special`,
:mod:`scipy.optimize`, :mod:`mpmath` and the ``Potential`` interface of the
:mod:`potentials` package (``W``, ``W_mp``, ``breakpoints``,
``mass_interval``; ``dW`` is used when present).  No other :mod:`effcoef`
module is imported.

Two implementations are provided:

* :func:`quadrature_coefficients` -- double precision, numpy-vectorised
  composite Gauss-Legendre quadrature, everything in log space;
* :func:`quadrature_coefficients_mp` -- arbitrary precision with
  :func:`mpmath.quad` (tanh-sinh), the high-accuracy reference.

Numerical strategy
------------------
In the tunnelling regime (small :math:`\theta`, multi-well :math:`W`) the
Maxwellian spans hundreds of orders of magnitude (``W = v^4/4 - v^2/2``,
``theta = 1e-3``: :math:`M(0)/M(\pm1) = e^{-250}`) and :math:`D \sim e^{250}`.
Two rules keep the computation accurate:

1. **Log space.**  With :math:`m(v) = e^{-(W(v)-W_{\min})/\theta} \le 1`
   only logarithms are stored: :math:`\log Z`, :math:`\log|F|`,
   :math:`\log M = \log m - \log Z`; sums are ``logsumexp`` /
   ``logaddexp`` accumulations, so nothing under- or overflows and
   :math:`\log D` is finite even when :math:`D` overflows a double.
2. **Positive summands only.**  ``F <= 0`` with ``F(+-inf) = 0`` (because
   :math:`\int (u-V) M = 0`).  Instead of the cancelling difference of two
   large cumulative integrals, ``F`` is evaluated one-sidedly,

   .. math::

       F(v) = -\int_{-\infty}^{v} (V - u) M\,du \quad (v \le V), \qquad
       F(v) = -\int_{v}^{\infty} (u - V) M\,du \quad (v \ge V),

   both integrands being non-negative.  ``K`` and ``D`` are sums of
   non-negative terms; ``V`` is the difference of the two non-negative
   integrals :math:`\int_{v>0} v M` and :math:`\int_{v<0} |v| M`.

The integrals are truncated to the mass interval
``[a, b] = potential.mass_interval(theta, tail)``; outside it the integrands
are below :math:`e^{-\mathrm{tail}}` relative to their maxima.

Expected accuracy
-----------------
``quadrature_coefficients`` (double): a few units of 1e-15 relative for
smooth, well-conditioned cases (Ornstein-Uhlenbeck type), around 1e-13 to
1e-12 in the deep tunnelling regime, where the evaluation of
:math:`(W - W_{\min})/\theta` itself carries an absolute rounding error of
about :math:`\epsilon \max|W|/\theta` (~ 6e-14 for ``theta = 1e-3``), which
is inherited as a relative error by :math:`M`, hence by ``D``.
``quadrature_coefficients_mp``: close to ``dps`` digits (the tanh-sinh error
estimates are checked; a :class:`RuntimeWarning` is issued if they exceed
``10**(5 - dps)`` relative).
"""
from __future__ import annotations

import bisect
import math
import warnings
from dataclasses import dataclass
from typing import Any, Optional, Tuple, Union

import mpmath
import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy.optimize import brentq, minimize_scalar
from scipy.special import logsumexp

from potentials import Potential
from potentials.validation import check_positive

# input validation only (operator.py holds the transform, no finite elements or eigensolver)
from ..operator import check_theta

__all__ = [
    "QuadratureResult",
    "quadrature_coefficients",
    "quadrature_coefficients_mp",
]

_LOG_DBL_MAX = math.log(np.finfo(float).max)
# mpmath panels: (W - Wmin)/theta varies by at most _MP_MAX_VAR, width <=
# _MP_WIDTH_FRAC (b - a); _MP_NSUB pre-computed G values per panel.
_MP_MAX_VAR = 100.0
_MP_WIDTH_FRAC = 1.0 / 3
_MP_NSUB = 4


@dataclass(frozen=True)
class QuadratureResult:
    """Effective coefficients computed by direct quadrature.

    Attributes
    ----------
    D : float
        Effective diffusion :math:`D = \\theta^{-1}\\int F^2/M`; ``inf`` (with a
        :class:`RuntimeWarning`) if it overflows a double -- ``log_D`` stays
        finite.
    K : float
        :math:`K = \\theta^{-1}\\int (v-V)^2 M`.
    V : float
        Mean velocity :math:`V = \\int v M`.
    log_D : float
        Natural logarithm of ``D``.
    log_Z : float
        :math:`\\log \\int_a^b e^{-(W - W_{\\min})/\\theta}\\,dv`.
    Wmin : float
        The reference minimum of ``W`` (from ``mass_interval``).
    domain : tuple of float
        Integration interval ``(a, b)``.
    n_nodes : int
        Number of quadrature nodes (double) or of evaluations of the
        Maxwellian (mpmath).
    method : str
        Short description of the rule used.
    D_mp, K_mp, V_mp : mpmath.mpf or None
        Full-precision values (only set by :func:`quadrature_coefficients_mp`).
    """

    D: float
    K: float
    V: float
    log_D: float
    log_Z: float
    Wmin: float
    domain: Tuple[float, float]
    n_nodes: int
    method: str
    D_mp: Optional[Any] = None
    K_mp: Optional[Any] = None
    V_mp: Optional[Any] = None


# ---------------------------------------------------------------------------
# input validation
# ---------------------------------------------------------------------------
def _check_tail(tail) -> float:
    return check_positive(tail, "tail")


def _check_dps(dps) -> int:
    if isinstance(dps, (bool, np.bool_)) or not isinstance(dps, (int, np.integer)):
        raise ValueError(f"dps must be an integer >= 15, got {dps!r}")
    if dps < 15:
        raise ValueError(f"dps must be an integer >= 15, got {dps!r}")
    return int(dps)


# ---------------------------------------------------------------------------
# panel construction (shared by the double and the mpmath routines)
# ---------------------------------------------------------------------------
def _W_vec(potential, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    w = np.asarray(potential.W(x), dtype=float)
    if w.shape != x.shape:
        w = np.broadcast_to(w, x.shape).astype(float)
    return w


def _interior_extrema(potential, a: float, b: float, n: int = 20001) -> list:
    """Local extrema of ``W`` strictly inside ``(a, b)``.

    Located by sign changes of the finite-difference slope on a fine uniform
    grid (zero slopes are skipped), then refined with ``brentq`` on
    ``potential.dW`` when available, or by a bounded scalar minimisation of
    ``+-W`` otherwise.  Only used to place panel edges, so the refinement
    need not be exact.
    """
    x = np.linspace(a, b, n)
    w = _W_vec(potential, x)
    d = np.diff(w)
    nz = np.nonzero(d)[0]
    if nz.size < 2:
        return []
    s = np.sign(d[nz])
    ch = np.nonzero(s[:-1] != s[1:])[0]
    dW = getattr(potential, "dW", None)
    out = []
    for k in ch:
        i, j = nz[k], nz[k + 1]
        lo, hi = x[i], x[j + 1]
        is_min = s[k] < 0
        xe = None
        if dW is not None:
            try:
                flo = float(dW(np.array([lo]))[0])
                fhi = float(dW(np.array([hi]))[0])
                if flo == 0.0:
                    xe = lo
                elif fhi == 0.0:
                    xe = hi
                elif flo * fhi < 0:
                    xe = brentq(lambda t: float(dW(np.array([t]))[0]), lo, hi,
                                xtol=1e-14 * max(1.0, abs(lo)), maxiter=200)
            except Exception:  # pragma: no cover - fall back to minimisation
                xe = None
        if xe is None:
            sign = 1.0 if is_min else -1.0
            r = minimize_scalar(
                lambda t, sign=sign: sign * float(_W_vec(potential, np.array([t]))[0]),
                bounds=(lo, hi), method="bounded",
                options={"xatol": 1e-12 * max(1.0, abs(lo), abs(hi))})
            xe = float(r.x)
        if a < xe < b:
            out.append(float(xe))
    return out


def _merge_edges(points, a: float, b: float, protected=()) -> np.ndarray:
    """Sorted unique edges in [a, b]; non-protected points closer than
    ``1e-6 (b - a)`` to a kept edge are dropped."""
    tol = 1e-6 * (b - a)
    prot = sorted({float(p) for p in protected if a < p < b})
    edges = [a, b] + prot
    for p in sorted(float(p) for p in points):
        if not (a < p < b):
            continue
        if min(abs(p - e) for e in edges) > tol:
            edges.append(p)
    return np.array(sorted(set(edges)), dtype=float)


def _refine_panels(potential, edges: np.ndarray, theta: float,
                   max_var: float, max_width: float,
                   nsamp: int = 17, max_iter: int = 60) -> np.ndarray:
    """Bisect panels until ``(W - Wmin)/theta`` varies by at most ``max_var``
    on each (sampled at ``nsamp`` points) and its width is <= ``max_width``.

    Returns the ``(P, 2)`` array of panel end points, sorted.
    """
    todo = np.column_stack([edges[:-1], edges[1:]])
    done = []
    s = np.linspace(0.0, 1.0, nsamp)
    for _ in range(max_iter):
        if todo.size == 0:
            break
        lo, hi = todo[:, 0], todo[:, 1]
        X = lo[:, None] + (hi - lo)[:, None] * s
        Wv = _W_vec(potential, X) / theta
        var = Wv.max(axis=1) - Wv.min(axis=1)
        ok = (var <= max_var) & ((hi - lo) <= max_width)
        ok |= ~np.isfinite(var)  # let the quadrature report it
        ok |= (hi - lo) <= 1e-12 * max(1.0, float(np.max(np.abs(edges))))
        done.append(todo[ok])
        bad = todo[~ok]
        mid = 0.5 * (bad[:, 0] + bad[:, 1])
        todo = np.concatenate([np.column_stack([bad[:, 0], mid]),
                               np.column_stack([mid, bad[:, 1]])])
    if todo.size:
        done.append(todo)
    panels = np.concatenate(done)
    return panels[np.argsort(panels[:, 0])]


def _D_or_inf(log_D, value, hint):
    """D as a float, or inf with a RuntimeWarning when exp(log_D) overflows a double."""
    if log_D > _LOG_DBL_MAX:
        warnings.warn(f"D = exp({log_D:.6g}) overflows double precision; "
                      f"returning D = inf (use {hint})", RuntimeWarning, stacklevel=3)
        return math.inf
    return value(log_D)


def _domain(potential, theta: float, tail: float):
    """Mass interval [a, b], vmin, Wmin, breakpoints and interior extrema of W (shared by the
    double and the mpmath references)."""
    mi = potential.mass_interval(theta, tail)
    a, b = float(mi.a), float(mi.b)
    vmin, Wmin = float(mi.vmin), float(mi.Wmin)
    if not (math.isfinite(a) and math.isfinite(b) and a < b):
        raise ValueError(f"invalid mass interval [{a}, {b}]")
    bps = tuple(float(p) for p in getattr(potential, "breakpoints", ()) or ())
    return a, b, vmin, Wmin, bps, _interior_extrema(potential, a, b)


def _panels(potential, theta: float, tail: float, *, max_var: float,
            width_frac: float):
    a, b, vmin, Wmin, bps, extrema = _domain(potential, theta, tail)
    edges = _merge_edges(extrema + [vmin], a, b, protected=bps)
    panels = _refine_panels(potential, edges, theta, max_var,
                            width_frac * (b - a))
    return panels, a, b, vmin, Wmin


# ---------------------------------------------------------------------------
# double precision
# ---------------------------------------------------------------------------
def quadrature_coefficients(potential: Potential, theta: float, *, tail: float = 80.0,
                            panels: Optional[int] = None, order: int = 24) -> QuadratureResult:
    r"""Effective coefficients by composite Gauss-Legendre quadrature (double).

    Parameters
    ----------
    potential : Potential
        Object with ``W`` (vectorised, float64), ``breakpoints`` and
        ``mass_interval(theta, tail)``; ``dW`` is used if present.
    theta : float
        Temperature, finite and > 0.
    tail : float, optional
        The domain is ``[a, b] = potential.mass_interval(theta, tail)``, the
        convex hull of :math:`\{(W - W_{\min})/\theta \le \mathrm{tail}\}`.
        The neglected mass is below :math:`e^{-\mathrm{tail}}` relative.
    panels : int, optional
        Minimum number of panels: the maximal panel width is
        ``(b - a) / panels`` (default 200).  Panels are further bisected until
        :math:`(W - W_{\min})/\theta` varies by at most 2 on each.
    order : int, optional
        Gauss-Legendre points per panel (default 24).

    Returns
    -------
    QuadratureResult

    Notes
    -----
    Panel edges are placed at ``a``, ``b``, the breakpoints, ``vmin`` and
    every local extremum of ``W`` in ``(a, b)``.  With
    :math:`\log m = -(W - W_{\min})/\theta` at the nodes :math:`x_i` and
    weights :math:`w_i`,

    * :math:`\log Z = \operatorname{logsumexp}(\log w_i + \log m_i)`;
    * :math:`V = \sum_{x_i>0} w_i x_i m_i / Z - \sum_{x_i<0} w_i |x_i| m_i / Z`;
    * :math:`K = \theta^{-1}\sum w_i (x_i - V)^2 m_i / Z`;
    * :math:`G(x) = -Z F(x)` at every node ``x`` from the one-sided positive
      integrals (left of ``V``: :math:`\int_a^x (V-u) m`, right of ``V``:
      :math:`\int_x^b (u-V) m`), as the ``logaddexp`` of the whole panels
      already passed and of a Gauss rule of the same order mapped onto the
      partial panel ``[p_0, x]`` (or ``[x, p_1]``);
    * :math:`\log D = \operatorname{logsumexp}(\log w_i + 2\log G_i - \log m_i)
      - \log Z - \log\theta`.

    Accuracy: ~1e-15 relative in smooth single-well cases, ~1e-13 -- 1e-12
    in the deep tunnelling regime (limited by the rounding of
    :math:`W/\theta`).  If ``D`` overflows, ``D = inf`` is returned with a
    :class:`RuntimeWarning`; ``log_D`` is always finite.
    """
    theta = check_theta(theta)
    tail = _check_tail(tail)
    if panels is None:
        panels = 200
    if int(panels) < 1:
        raise ValueError(f"panels must be a positive integer, got {panels!r}")
    order = int(order)
    if order < 2:
        raise ValueError(f"order must be >= 2, got {order!r}")

    P, a, b, vmin, Wmin = _panels(potential, theta, tail, max_var=2.0,
                                  width_frac=1.0 / int(panels))
    lo, hi = P[:, 0], P[:, 1]
    t, w = leggauss(order)
    tp = 0.5 * (t + 1.0)                      # nodes on [0, 1]
    wp = 0.5 * w                              # weights on [0, 1]
    logwp = np.log(wp)

    def logm(x):
        return -(_W_vec(potential, x) - Wmin) / theta

    X = lo[:, None] + (hi - lo)[:, None] * tp             # (P, n)
    logw = np.log(hi - lo)[:, None] + logwp               # (P, n)
    lm = logm(X)
    if not np.all(np.isfinite(lm)):
        raise ValueError("W is not finite on the mass interval")

    with np.errstate(divide="ignore", invalid="ignore"):
        log_Z = float(logsumexp(logw + lm))

        # --- mean velocity: difference of two positive sums
        pos, neg = X > 0, X < 0
        lp = logsumexp((logw + lm + np.log(np.abs(X)))[pos]) if pos.any() else -np.inf
        ln = logsumexp((logw + lm + np.log(np.abs(X)))[neg]) if neg.any() else -np.inf
        V = float(np.exp(lp - log_Z) - np.exp(ln - log_Z))

        # --- K: positive sum
        log_K = float(logsumexp(logw + lm + 2.0 * np.log(np.abs(X - V)))) - log_Z \
            - math.log(theta)
        K = math.exp(log_K)

        # --- G = -Z F at the nodes, one-sided positive integrals
        logG = np.full(X.shape, -np.inf)
        left = X <= V
        right = ~left

        # whole-panel integrals
        whole_l = np.full(len(P), -np.inf)
        full_left = hi <= V
        if full_left.any():
            whole_l[full_left] = logsumexp(
                (logw + lm + np.log(V - X))[full_left], axis=1)
        whole_r = np.full(len(P), -np.inf)
        full_right = lo >= V
        if full_right.any():
            whole_r[full_right] = logsumexp(
                (logw + lm + np.log(X - V))[full_right], axis=1)
        # exclusive cumulative sums: panels strictly before / after
        cum_l = np.concatenate([[-np.inf], np.logaddexp.accumulate(whole_l)[:-1]])
        cum_r = np.concatenate([np.logaddexp.accumulate(whole_r[::-1])[::-1][1:],
                                [-np.inf]])

        # partial panels [p0, x] for the left nodes
        jl = np.nonzero(left.any(axis=1))[0]
        if jl.size:
            x0 = lo[jl][:, None]
            L = X[jl] - x0                                   # (p, n)
            U = x0[:, :, None] + L[:, :, None] * tp          # (p, n, n)
            lg = np.log(L)[:, :, None] + logwp + logm(U) + np.log(V - U)
            part = logsumexp(lg, axis=2)
            val = np.logaddexp(cum_l[jl][:, None], part)
            logG[jl] = np.where(left[jl], val, logG[jl])
        jr = np.nonzero(right.any(axis=1))[0]
        if jr.size:
            x1 = hi[jr][:, None]
            L = x1 - X[jr]
            U = X[jr][:, :, None] + L[:, :, None] * tp
            lg = np.log(L)[:, :, None] + logwp + logm(U) + np.log(U - V)
            part = logsumexp(lg, axis=2)
            val = np.logaddexp(cum_r[jr][:, None], part)
            logG[jr] = np.where(right[jr], val, logG[jr])

        log_D = float(logsumexp(logw + 2.0 * logG - lm)) - log_Z - math.log(theta)

    if not math.isfinite(log_D):
        raise FloatingPointError(f"log D is not finite ({log_D})")
    D = _D_or_inf(log_D, math.exp, "log_D")
    return QuadratureResult(
        D=D, K=K, V=V, log_D=log_D, log_Z=log_Z, Wmin=Wmin, domain=(a, b),
        n_nodes=int(X.size),
        method=f"composite Gauss-Legendre ({len(P)} panels x {order} nodes), "
               "log space, positive one-sided F")


# ---------------------------------------------------------------------------
# arbitrary precision
# ---------------------------------------------------------------------------
def quadrature_coefficients_mp(potential: Potential, theta: Union[float, mpmath.mpf], *,
                               dps: int = 30, tail: Optional[float] = None) -> QuadratureResult:
    r"""High-precision reference with :func:`mpmath.quad` (tanh-sinh).

    Parameters
    ----------
    potential : Potential
        Object with ``W`` (float64, used only to place panel edges),
        ``W_mp`` (evaluated at the current mpmath precision), ``breakpoints``
        and ``mass_interval``.
    theta : float
        Temperature, finite and > 0 (converted exactly to an ``mpf``).
    dps : int, optional
        Decimal digits, >= 15 (default 30).  Work is done inside
        ``mpmath.workdps(dps)``; the global precision is not changed.
    tail : float, optional
        Domain parameter for ``mass_interval``; default
        ``dps * log(10) + 10`` so that :math:`e^{-\mathrm{tail}} < 10^{-dps}`.

    Returns
    -------
    QuadratureResult
        ``D``, ``K``, ``V`` as floats plus ``D_mp``, ``K_mp``, ``V_mp``
        (``mpf``, at ``dps`` digits).  ``n_nodes`` counts evaluations of
        the Maxwellian.

    Notes
    -----
    Same formulas as :func:`quadrature_coefficients`, with
    :math:`m = \exp(-(W_{mp} - W_{\min})/\theta)` evaluated in mpmath (its
    exponent range is unbounded, so no logarithms are needed).  The interval
    is split at the breakpoints, ``0`` (where the two positive parts of
    ``V`` meet), ``vmin``, the local extrema of ``W`` and at ``V``, and
    further into panels on which :math:`(W - W_{\min})/\theta` varies by at
    most 100 and whose width is at most ``(b - a)/3``.  Every integrand is
    normalised by an estimate of its maximum on the panel before calling
    :func:`mpmath.quad`, whose convergence test is absolute.

    ``Z``, ``V``, ``K`` and the panel-end values of :math:`G = -Z F` (the
    one-sided positive integrals, cumulated over 4 sub-panels per panel)
    are :func:`mpmath.quad` integrals.  Inside the outer tanh-sinh integral
    of :math:`F^2/M` over a panel, ``G(x)`` is the nearest already-known
    value on the positive side (a sub-panel point or an earlier outer node;
    the tanh-sinh nodes are dense, so the gaps are short) plus a
    Gauss-Legendre ``mpmath.quad`` over the gap, so all summands are
    positive.  Evaluations of the Maxwellian are memoised.

    Accuracy: close to ``dps`` digits; a :class:`RuntimeWarning` is issued
    if an error estimate of :func:`mpmath.quad` exceeds ``10**(5 - dps)``
    relative.  Cost: a few seconds at ``dps=30`` (roughly 2e4 evaluations
    of ``W_mp``), about 5 s for ``theta = 1e-3`` double wells.
    """
    theta_f = check_theta(theta)
    dps = _check_dps(dps)
    if tail is None:
        tail = dps * math.log(10.0) + 10.0
    tail = _check_tail(tail)

    a, b, vmin, Wmin, bps, extrema = _domain(potential, theta_f, tail)
    # 0 is an edge too: the positive parts of V = int v M are split there
    edges_f = _merge_edges(extrema + [vmin], a, b, protected=bps + (0.0,))
    P = _refine_panels(potential, edges_f, theta_f, _MP_MAX_VAR,
                       (b - a) * _MP_WIDTH_FRAC)
    s = np.linspace(0.0, 1.0, 17)
    Wref = _W_vec(potential, P[:, :1] + (P[:, 1:] - P[:, :1]) * s).min(axis=1)
    Wref = np.maximum(Wref, Wmin)

    counter = [0]
    worst = [0.0]
    cache = {}

    with mpmath.workdps(dps):
        base_prec = mpmath.mp.prec
        th = mpmath.mpf(theta) if isinstance(theta, mpmath.mpf) else mpmath.mpf(theta_f)
        Wm = mpmath.mpf(Wmin)
        W_mp = potential.W_mp
        exp = mpmath.exp

        def m(u):
            """exp(-(W - Wmin)/theta), memoised (nodes repeat across quads)."""
            r = cache.get(u)
            if r is None:
                counter[0] += 1
                r = exp(-(W_mp(u) - Wm) / th)
                cache[u] = r
            return r

        def q(f, x0, x1, scale, method="tanh-sinh"):
            """scale * int_{x0}^{x1} f / scale: mpmath.quad's convergence test
            is absolute, so the integrand is normalised to O(1) first."""
            with mpmath.workprec(base_prec):
                val, err = mpmath.quad(lambda u: f(u) / scale, [x0, x1],
                                       method=method, error=True)
            # error relative to the integral, or to |integrand| * length for
            # the short G increments (mpmath's estimate is absolute, ~eps)
            ref = max(abs(val), abs(x1 - x0))
            if ref != 0:
                worst[0] = max(worst[0], float(abs(err) / ref))
            return val * scale

        edges = [mpmath.mpf(e) for e in np.concatenate([P[:, 0], P[-1:, 1]])]
        S = [exp(-(mpmath.mpf(w) - Wm) / th) for w in Wref]   # ~ max of m
        npan = len(edges) - 1
        rng = range(npan)

        Z = mpmath.fsum(q(m, edges[i], edges[i + 1], S[i]) for i in rng)
        Vp = mpmath.fsum(q(lambda u: u * m(u), edges[i], edges[i + 1], S[i])
                         for i in rng if edges[i] >= 0)
        Vn = mpmath.fsum(q(lambda u: -u * m(u), edges[i], edges[i + 1], S[i])
                         for i in rng if edges[i + 1] <= 0)
        V = (Vp - Vn) / Z
        K = mpmath.fsum(q(lambda u: (u - V) ** 2 * m(u), edges[i], edges[i + 1],
                          S[i]) for i in rng) / Z / th

        # split the panel containing V, so that every panel lies on one side
        for i in rng:
            if edges[i] < V < edges[i + 1]:
                edges.insert(i + 1, V)
                S.insert(i + 1, S[i])
                break
        npan = len(edges) - 1
        rng = range(npan)

        def gl(u):          # integrand of G = -Z F left of V (>= 0)
            return (V - u) * m(u)

        def gr(u):          # integrand of G right of V (>= 0)
            return (u - V) * m(u)

        def incr(g, x0, x1, method):
            sc = max(g(x0), g(x1))
            if sc == 0:
                sc = g((x0 + x1) / 2) or mpmath.mpf(1)
            return q(g, x0, x1, sc, method)

        nsub = _MP_NSUB
        side = [edges[i + 1] <= V for i in rng]
        known = [None] * npan
        G_acc = mpmath.mpf(0)
        for i in rng:                                   # left of V
            if not side[i]:
                continue
            x0, x1 = edges[i], edges[i + 1]
            xs = [x0 + (x1 - x0) * k / nsub for k in range(nsub)] + [x1]
            Gs = [G_acc]
            for k in range(nsub):
                Gs.append(Gs[-1] + incr(gl, xs[k], xs[k + 1], "gauss-legendre"))
            known[i] = (xs, Gs)
            G_acc = Gs[-1]
        G_acc = mpmath.mpf(0)
        for i in reversed(rng):                         # right of V
            if side[i]:
                continue
            x0, x1 = edges[i], edges[i + 1]
            xs = [x0 + (x1 - x0) * k / nsub for k in range(nsub)] + [x1]
            Gs = [None] * (nsub + 1)
            Gs[nsub] = G_acc
            for k in reversed(range(nsub)):
                Gs[k] = Gs[k + 1] + incr(gr, xs[k], xs[k + 1], "gauss-legendre")
            known[i] = (xs, Gs)
            G_acc = Gs[0]

        def panel_D(i):
            xs, Gs = list(known[i][0]), list(known[i][1])
            left_side = side[i]

            def G(x):
                k = bisect.bisect_right(xs, x)
                if k > 0 and xs[k - 1] == x:
                    return Gs[k - 1]
                if left_side:          # from the nearest known point on the left
                    g = Gs[k - 1] + incr(gl, xs[k - 1], x, "gauss-legendre")
                else:                  # from the nearest known point on the right
                    g = Gs[k] + incr(gr, x, xs[k], "gauss-legendre")
                xs.insert(k, x)
                Gs.insert(k, g)
                return g

            sc = max(Gs[k] ** 2 / m(xs[k]) for k in range(len(xs)))
            if sc == 0:
                sc = mpmath.mpf(1)
            return q(lambda x: G(x) ** 2 / m(x), edges[i], edges[i + 1], sc)

        SD = mpmath.fsum(panel_D(i) for i in rng)
        # D = (1/theta) int (G/Z)^2 / (m/Z) = SD / (Z theta)
        D = SD / (Z * th)
        log_D = float(mpmath.log(D))
        log_Z = float(mpmath.log(Z))
        D_mp, K_mp, V_mp = +D, +K, +V

    if worst[0] > 10.0 ** (5 - dps):
        warnings.warn(f"mpmath.quad relative error estimate {worst[0]:.3g} "
                      f"exceeds 1e{5 - dps}", RuntimeWarning, stacklevel=2)
    Df = _D_or_inf(log_D, lambda _: float(D_mp), "log_D / D_mp")
    return QuadratureResult(
        D=Df, K=float(K_mp), V=float(V_mp), log_D=log_D, log_Z=log_Z,
        Wmin=Wmin, domain=(a, b), n_nodes=int(counter[0]),
        method=f"mpmath tanh-sinh, dps={dps}, {npan} panels",
        D_mp=D_mp, K_mp=K_mp, V_mp=V_mp)
