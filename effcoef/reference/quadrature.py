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
of :mod:`effcoef` and of the solver's domain choice (:mod:`effcoef.domain`,
:mod:`potentials.intervals`, :mod:`potentials.bnb`): it uses :mod:`numpy`,
:mod:`scipy.special`, :mod:`mpmath`, the ``Potential`` interface of the
:mod:`potentials` package (``W``, ``W_mp``, ``dW``, ``d2W``, ``breakpoints``,
the expression trees, ``mass_interval`` for plain callables only) and the
reference's own domain (:mod:`effcoef.reference.panels`,
:mod:`effcoef.reference.enclosure`, :mod:`effcoef.reference.floatbounds`,
:mod:`effcoef.reference.mpeval`).  A test checks the imports.

Two implementations are provided:

* :func:`quadrature_coefficients` -- double precision, numpy-vectorised
  composite Gauss-Legendre quadrature, everything in log space;
* :func:`quadrature_coefficients_mp` -- arbitrary precision: Gauss-Legendre
  rules in :mod:`mpmath` on the same (resolved) panels, the high-accuracy reference.

Domain
------
The integrals run over the certified critical hull :math:`[a, b]`
(:func:`effcoef.reference.panels.hull`: every critical point of W inside, W
monotone outside and risen by ``tail*theta`` above its value at the outermost
critical point on each side, so a far, metastable or narrow well is always
inside), split into panels.  What lies beyond, and what the panels leave
unresolved, is *bounded*, not assumed small: for a panel (or a shell beyond
the hull, :func:`effcoef.reference.panels.tail_shells`) with
:math:`W_{lo} \le W \le W_{hi}`, width h and :math:`d = \max|u - V|`,

* its mass is at most :math:`Z^+ = h e^{-(W_{lo} - W_0)/\theta}` (the Gauss
  rule of a positive integrand also returns a value in :math:`[0, Z^+]`), its
  first moment :math:`\delta = Z^+ d`;
* its own weight in D, :math:`\int F^2/m \le h e^{(W_{hi} - W_0)/\theta}
  (G^+ + \Delta + \delta)^2` with :math:`G^+` the one-sided integral at the
  panel's inner edge and :math:`\Delta` the sum of the :math:`\delta` of the
  bounded panels further out (on a shell beyond the hull with
  :math:`W' \ge c`: :math:`2 q^2 d^2 Z^+ + 2 (A^+)^2 h e^{(W_{hi}-W_0)/\theta}`,
  :math:`q = \min(h, \theta/c)`, :math:`A^+` the first moment of the shells
  beyond);
* its mass changes the one-sided :math:`G = -Z F` by at most :math:`\delta`
  between it and V, so changes :math:`I = \int G^2/m` there by at most
  :math:`\int (2 G \Delta + \Delta^2)/m` (evaluated with the resolved panels'
  own quadrature), and V by :math:`\sum\delta/Z`, which moves G by
  :math:`\delta V\,Z_c` (:math:`Z_c` the one-sided mass).

This weighs a cut-off mass by what it does to D: a mass :math:`e^{-h}` behind
a barrier :math:`e^{B}` counts :math:`e^{B-h}`, so the mass beyond an end is
small relative to the outermost well, not only to the total.  Panels are
split (into as many pieces as the resolution ratio asks, at most 8 per round) while
they are not resolved and their bound exceeds ~1e-19 of the quantity (double;
``10**-(dps+3)`` for mpmath); unresolved panels at the ends are then cut
away, unresolved panels inside stay with their bounds.  The bounds are
reported as the ``domain`` (cut away, beyond the hull) and ``unresolved``
error components.

Resolution
----------
A panel is resolved when its resolution ratio (bounds of :math:`|W'|`,
:math:`|W''|` and of the phase/rate of every ``sin cos exp cosh sinh tanh``
node, :func:`effcoef.reference.panels.panel_bounds`) is at most 1 and the 24-
and 16-point Gauss rules of :math:`\int m` and :math:`\int 1/m` on it agree to
1e-13 (or 20 times the rounding of :math:`W/\theta` there): the a priori
bounds see oscillations that sampling aliases (``v**2 + 0.1*sin(1000*v)``),
the a posteriori check sees kinks off the panel edges.  The number of panels
is bounded (:data:`MAX_PANELS`; :class:`ReferenceBudgetError` beyond).

Numerical strategy
------------------
In the tunnelling regime (small :math:`\theta`, multi-well :math:`W`) the
Maxwellian spans hundreds of orders of magnitude (``W = v^4/4 - v^2/2``,
``theta = 1e-3``: :math:`M(0)/M(\pm1) = e^{-250}`) and :math:`D \sim e^{250}`.
Two rules keep the computation accurate:

1. **Log space.**  With :math:`m(v) = e^{-(W(v)-W_{0})/\theta}` only
   logarithms are stored: :math:`\log Z`, :math:`\log|F|`,
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

Expected accuracy
-----------------
``quadrature_coefficients`` (double): a few units of 1e-15 relative for
smooth, well-conditioned cases, around 1e-13 to 1e-12 in the deep tunnelling
regime, where the evaluation of :math:`(W - W_0)/\theta` itself carries an
absolute rounding error of about :math:`\epsilon \max|W|/\theta`; the result's
``rel_error_estimate`` adds the bounds above, the 16-/24-point gap and three
times the rounding of :math:`W/\theta` (bounded by interval arithmetic at the
panel midpoints; 4e-5 for family C at delta = 1e8, where W ~ 1e10).
``quadrature_coefficients_mp``: close to ``dps`` digits (the n- and
(n - 8)-point rules are compared; a :class:`RuntimeWarning` is issued if they
differ by more than ``10**(5 - dps)`` relative).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Optional, Tuple, Union

import mpmath
import numpy as np
from numpy.polynomial.legendre import leggauss
from scipy.optimize import brentq, minimize_scalar

from potentials import Potential
from potentials.validation import check_positive

# input validation only (operator.py holds the transform, no finite elements or eigensolver)
from ..operator import check_theta
from .mpeval import compile_mp
from .panels import C_DOUBLE, Hull, ReferenceBudgetError, hull, lse, panel_bounds, tail_shells

__all__ = [
    "QuadratureResult",
    "quadrature_coefficients",
    "quadrature_coefficients_mp",
    "ReferenceBudgetError",
    "MAX_PANELS",
]

_LOG_DBL_MAX = math.log(np.finfo(float).max)
_EPS = np.finfo(float).eps
#: most panels of the double rule (each costs order * (order + 1) evaluations of W)
MAX_PANELS = 50_000
#: most panels of the mpmath rule
MP_MAX_PANELS = 600
#: relative bound of what the double rule may cut away or leave unresolved
_TARGET = 1e-16
#: relative bound per panel below which an unresolved panel is not refined (double)
_EPS_SPLIT = 1e-19
#: agreement of the 24- and 16-point rules on a resolved panel
_APOST_TOL = 1e-13
_MAX_ROUNDS = 120
_CHUNK = 2048


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
        The reference level of ``W`` (smallest value of W at the nodes).
    domain : tuple of float
        The integration interval ``(a, b)`` (the hull minus what was cut away).
    n_nodes : int
        Number of quadrature nodes (double) or of evaluations of the
        Maxwellian (mpmath).
    method : str
        Short description of the rule and of the domain (certified or heuristic).
    D_mp, K_mp, V_mp : mpmath.mpf or None
        Full-precision values (only set by :func:`quadrature_coefficients_mp`).
    rel_error_estimate : float
        Estimated relative error of D, K and of V on the scale
        :math:`\\sqrt{\\theta K}`: the sum of ``error_components``.
    error_components : dict
        ``domain`` (bound of what lies beyond ``domain``), ``unresolved`` (bound of
        the panels left unresolved inside), ``quadrature`` (16/24-point gap, or the
        gap of the n- and (n - 8)-point mpmath rules), ``rounding`` (of
        :math:`W/\\theta` in double).
    domain_certified : bool
        True when the hull comes from interval arithmetic on the expression tree.
    hull : tuple of float
        The critical hull ``(a, b)`` before cutting.
    n_panels : int
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
    rel_error_estimate: float = math.nan
    error_components: dict = field(default_factory=dict)
    domain_certified: bool = False
    hull: Tuple[float, float] = (math.nan, math.nan)
    n_panels: int = 0


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


def _W_vec(potential, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    with np.errstate(all="ignore"):
        w = np.asarray(potential.W(x), dtype=float)
    if w.shape != x.shape:
        w = np.broadcast_to(w, x.shape).astype(float)
    return w


def _name(potential):
    return str(getattr(potential, "name", "W"))


def _D_or_inf(log_D, value, hint):
    """D as a float, or inf with a RuntimeWarning when exp(log_D) overflows a double."""
    if log_D > _LOG_DBL_MAX:
        warnings.warn(f"D = exp({log_D:.6g}) overflows double precision; "
                      f"returning D = inf (use {hint})", RuntimeWarning, stacklevel=3)
        return math.inf
    return value(log_D)


# ---------------------------------------------------------------------------
# plain callables: panel edges at the sampled extrema (heuristic, as before)
# ---------------------------------------------------------------------------
def _interior_extrema(potential, a: float, b: float, n: int = 20001) -> list:
    """Local extrema of ``W`` strictly inside ``(a, b)`` (sign changes of the sampled slope,
    refined with ``brentq`` on ``dW`` or a bounded minimisation).  Only used to place panel
    edges for potentials without an expression tree."""
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
    for k in ch[:2000]:
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


def _merge_edges(points, a: float, b: float, protected=(0.0,)) -> np.ndarray:
    """Sorted edges in [a, b]: the ``protected`` points inside, then the other points not
    closer than 1e-9 (b - a) to a kept edge."""
    tol = 1e-9 * (b - a)
    edges = [a, b] + sorted({float(p) for p in protected if a < p < b})
    for p in sorted(float(p) for p in points):
        if a < p < b and min(abs(p - e) for e in edges) > tol:
            edges.append(p)
    return np.array(sorted(edges), dtype=float)


# ---------------------------------------------------------------------------
# the panel plan: resolution, relevance, bounds
# ---------------------------------------------------------------------------
def _gauss01(n):
    t, w = leggauss(n)
    return 0.5 * (t + 1.0), np.log(0.5 * w)


def _lcum(x):
    """Inclusive cumulative log-sum-exp."""
    if len(x) == 0:
        return np.zeros(0)
    with np.errstate(invalid="ignore"):
        return np.logaddexp.accumulate(np.asarray(x, dtype=float))


def _lexcl(x):
    """Exclusive cumulative log-sum-exp (sum of the elements before each)."""
    c = _lcum(x)
    return np.concatenate([[-np.inf], c[:-1]]) if len(c) else c


def _ldiff(a, b):
    """log|e^a - e^b| (elementwise, -inf where equal)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    hi, lo = np.maximum(a, b), np.minimum(a, b)
    with np.errstate(all="ignore"):
        out = hi + np.log(-np.expm1(lo - hi))
    return np.where(np.isfinite(hi) & (hi > lo), out, -np.inf)


def _lsum(*xs):
    out = np.asarray(xs[0], dtype=float)
    for x in xs[1:]:
        with np.errstate(invalid="ignore"):
            out = np.logaddexp(out, x)
    return out


_LOG2 = math.log(2.0)


class _Plan:
    """Panels on the hull with bounds, Gauss node values and the bounds analysis."""

    def __init__(self, potential, theta, hl: Hull, *, order, check, consts, min_panels,
                 budget, apost, fixed):
        self.pot, self.theta, self.hl = potential, theta, hl
        self.order, self.check = order, check
        self.consts, self.budget, self.apost = consts, budget, apost
        self.t, self.lw = _gauss01(order)
        self.tc, self.lwc = _gauss01(check)
        a, b = hl.a, hl.b
        self.max_width = (b - a) / min_panels
        pts = list(fixed) + list(np.linspace(a, b, min_panels + 1)[1:-1])
        edges = _merge_edges(pts, a, b)
        self.lo, self.hi = edges[:-1].copy(), edges[1:].copy()
        self.W0 = None
        self.lm = np.zeros((0, order))
        self.lmc = np.zeros((0, check))
        self.bd = {k: np.zeros(0) for k in ("Wl", "Wh", "kappa", "rnd")}
        self.trimmed = np.zeros(0, dtype=bool)
        self.shells = {}
        self._add(self.lo, self.hi, fresh=True)

    # -- evaluation ------------------------------------------------------------------------
    def _logm(self, X):
        w = _W_vec(self.pot, X)
        if not np.all(np.isfinite(w)):
            bad = X[~np.isfinite(w)].ravel()[0]
            raise ValueError(f"{_name(self.pot)}: W is not finite at v = {bad:.17g} inside the "
                             f"reference domain [{self.hl.a:.6g}, {self.hl.b:.6g}]")
        if self.W0 is None:
            self.W0 = float(np.min(w))
        return -(w - self.W0) / self.theta

    def _add(self, lo, hi, fresh=False):
        """Evaluate new panels [lo, hi] (bounds and node values) and store them."""
        h = hi - lo
        X = lo[:, None] + h[:, None] * self.t
        Xc = lo[:, None] + h[:, None] * self.tc
        lm = self._logm(np.concatenate([X, Xc], axis=1))
        bd = panel_bounds(self.pot, self.theta, lo, hi, self.consts)
        if fresh:
            self.lo, self.hi = lo, hi
            self.lm, self.lmc = lm[:, :self.order], lm[:, self.order:]
            self.bd = bd
            self.trimmed = np.zeros(len(lo), dtype=bool)
        else:
            self.trimmed = np.concatenate([self.trimmed, np.zeros(len(lo), dtype=bool)])
            self.lo = np.concatenate([self.lo, lo])
            self.hi = np.concatenate([self.hi, hi])
            self.lm = np.concatenate([self.lm, lm[:, :self.order]])
            self.lmc = np.concatenate([self.lmc, lm[:, self.order:]])
            self.bd = {k: np.concatenate([self.bd[k], bd[k]]) for k in self.bd}
        o = np.argsort(self.lo, kind="stable")
        self.lo, self.hi, self.lm, self.lmc = self.lo[o], self.hi[o], self.lm[o], self.lmc[o]
        self.bd = {k: v[o] for k, v in self.bd.items()}
        self.trimmed = self.trimmed[o]

    def _keep(self, mask):
        self.lo, self.hi, self.lm, self.lmc = (self.lo[mask], self.hi[mask], self.lm[mask],
                                               self.lmc[mask])
        self.trimmed = self.trimmed[mask]
        self.bd = {k: v[mask] for k, v in self.bd.items()}

    @property
    def n(self):
        return len(self.lo)

    # -- sums and bounds -------------------------------------------------------------------
    def analyse(self, bounded=None):
        r"""Per-panel sums (Gauss), the one-sided G at the panel edges, and the bounds of
        the module docstring for the panels in ``bounded`` (default: the unresolved ones)
        and the shells beyond the hull.  Returns a dict (logs)."""
        th = self.theta
        lo, hi = self.lo, self.hi
        h = hi - lo
        lh = np.log(h)
        live = ~self.trimmed
        lmz = np.where(live[:, None], self.lm, -np.inf)
        lmzc = np.where(live[:, None], self.lmc, -np.inf)
        X = lo[:, None] + h[:, None] * self.t
        lZ = lse(lh[:, None] + self.lw + lmz, axis=1)
        lZc = lse(lh[:, None] + self.lwc + lmzc, axis=1)
        lR = lse(lh[:, None] + self.lw - self.lm, axis=1)
        lRc = lse(lh[:, None] + self.lwc - self.lmc, axis=1)
        lZt = lse(lZ)
        with np.errstate(divide="ignore"):
            la = lh[:, None] + self.lw + lmz + np.log(np.abs(X))
        mid = 0.5 * (lo + hi)
        lp = lse(la[mid > 0])
        ln = lse(la[mid < 0])
        V = float(np.exp(lp - lZt) - np.exp(ln - lZt))
        with np.errstate(divide="ignore"):
            lK = lse(lh[:, None] + self.lw + lmz + 2.0 * np.log(np.abs(X - V)))
        K = float(np.exp(lK - lZt)) / th
        lsig = 0.5 * math.log(th * K) if K > 0 else 0.0

        # one-sided first moments per panel; the panel containing V in two parts
        left = hi <= V
        right = lo >= V
        jm = np.nonzero(~left & ~right)[0]
        with np.errstate(divide="ignore"):
            lA = lse(lh[:, None] + self.lw + lmz + np.log(np.abs(X - V)), axis=1)
        lA_mid = (-np.inf, -np.inf)
        lZ_mid = (-np.inf, -np.inf)
        if len(jm):
            j = int(jm[0])
            parts = []
            for (p0, p1) in ((lo[j], V), (V, hi[j])):
                U = p0 + (p1 - p0) * self.t
                lmu = self._logm(U) if live[j] else np.full(U.shape, -np.inf)
                with np.errstate(divide="ignore"):
                    parts.append((lse(math.log(p1 - p0) + self.lw + lmu + np.log(np.abs(U - V))),
                                  lse(math.log(p1 - p0) + self.lw + lmu)))
            lA_mid = (parts[0][0], parts[1][0])
            lZ_mid = (parts[0][1], parts[1][1])
        iL = np.nonzero(left)[0]
        iR = np.nonzero(right)[0]
        GL_hi = _lcum(lA[iL])
        ZL_hi = _lcum(lZ[iL])
        GR_lo = _lcum(lA[iR][::-1])[::-1]
        ZR_lo = _lcum(lZ[iR][::-1])[::-1]
        Gmax = np.full(self.n, -np.inf)
        Gmin = np.full(self.n, -np.inf)
        Zcm = np.full(self.n, -np.inf)
        Gmax[iL], Zcm[iL] = GL_hi, ZL_hi
        Gmin[iL] = _lexcl(lA[iL])
        Gmax[iR], Zcm[iR] = GR_lo, ZR_lo
        Gmin[iR] = _lexcl(lA[iR][::-1])[::-1]
        GV = -np.inf
        if len(jm):
            j = int(jm[0])
            gl0 = GL_hi[-1] if len(iL) else -np.inf
            gr0 = GR_lo[0] if len(iR) else -np.inf
            GV = max(np.logaddexp(gl0, lA_mid[0]), np.logaddexp(gr0, lA_mid[1]))
            Gmax[j] = GV
            Gmin[j] = min(gl0, gr0)
            Zcm[j] = max(np.logaddexp(ZL_hi[-1] if len(iL) else -np.inf, lZ_mid[0]),
                         np.logaddexp(ZR_lo[0] if len(iR) else -np.inf, lZ_mid[1]))

        # resolution
        kappa = self.bd["kappa"]
        tol = np.maximum(_APOST_TOL, 20.0 * self.bd["rnd"] / th)
        ok = (kappa <= 1.0) & (h <= self.max_width * (1 + 1e-12))
        if self.apost:
            with np.errstate(invalid="ignore"):
                gapZ = np.abs(lZ - lZc)
                gapR = np.abs(lR - lRc)
            gapZ = np.where(np.isfinite(lZ) | np.isfinite(lZc), gapZ, 0.0)
            ok &= (np.nan_to_num(gapZ, nan=np.inf) <= tol) & \
                (np.nan_to_num(gapR, nan=np.inf) <= tol)
        resolved = ok & live
        # I = int G^2/m >= sum Gmin^2 int 1/m (G monotone on a one-sided panel), with the
        # Gauss value of int 1/m on resolved panels and h exp((Wl - W0)/theta) elsewhere
        with np.errstate(over="ignore", invalid="ignore"):
            lRlo = np.where(resolved, lR, lh + (self.bd["Wl"] - self.W0) / th)
        lI_lo = lse(np.where(live, 2.0 * Gmin + lRlo, -np.inf))
        if bounded is None:
            bounded = ~resolved
        # bounds per panel
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            lZp = lh - (self.bd["Wl"] - self.W0) / th
            lRp = lh + (self.bd["Wh"] - self.W0) / th
            ld = np.log(np.maximum(np.abs(lo - V), np.abs(hi - V)))
        lZp = np.where(np.isnan(lZp), np.inf, lZp)
        lRp = np.where(np.isnan(lRp), np.inf, lRp)
        ld_ = ld
        ldl = lZp + ld_

        # shells beyond the hull (mass, first and second moments, own weight in D)
        tails = {}
        for side in ((1,) if self.hl.radial else (1, -1)):
            tails[side] = self._tail_bounds(side, V)
        sides = list(tails.values())
        t_dl = lse([t["dl"] for t in sides])
        t_Z = lse([t["Z"] for t in sides])
        t_M2 = lse([t["M2"] for t in sides])
        t_own = lse([t["own"] for t in sides])
        dl_left = tails[-1]["dl"] if -1 in tails else -np.inf
        dl_right = tails[1]["dl"]

        B = bounded & np.ones(self.n, dtype=bool)
        ldB = np.where(B, ldl, -np.inf)
        # Delta (upstream bounded first moments) per panel
        Delta = np.full(self.n, -np.inf)
        Delta[iL] = np.logaddexp(dl_left, _lexcl(ldB[iL]))
        Delta[iR] = np.logaddexp(dl_right, _lexcl(ldB[iR][::-1])[::-1])
        if len(jm):
            j = int(jm[0])
            Delta[j] = np.logaddexp(np.logaddexp(dl_left, lse(ldB[iL])),
                                    np.logaddexp(dl_right, lse(ldB[iR])))
        ldV = lse([lse(ldB), t_dl]) - lZt              # |delta V|
        own = lRp + 2.0 * _lsum(Gmax, Delta, ldl, ldV + Zcm)
        own = np.where(B, own, -np.inf)
        good = ~B & live
        prop_i = np.where(good, lR + _lsum(_LOG2 + Gmax + Delta, 2.0 * Delta), -np.inf)
        Vt_i = np.where(good, lR + _lsum(_LOG2 + ldV + Gmax + Zcm, 2.0 * (ldV + Zcm)), -np.inf)
        # downstream sums of the resolved panels (toward V), for the per-panel relevance
        S1 = np.full(self.n, -np.inf)
        S2 = np.full(self.n, -np.inf)
        g1 = np.where(good, Gmax + lR, -np.inf)
        g2 = np.where(good, lR, -np.inf)
        jj = int(jm[0]) if len(jm) else None
        m1 = g1[jj] if jj is not None else -np.inf
        m2 = g2[jj] if jj is not None else -np.inf
        if len(iL):
            S1[iL] = np.logaddexp(_lexcl(g1[iL][::-1])[::-1], m1)
            S2[iL] = np.logaddexp(_lexcl(g2[iL][::-1])[::-1], m2)
        if len(iR):
            S1[iR] = np.logaddexp(_lexcl(g1[iR]), m1)
            S2[iR] = np.logaddexp(_lexcl(g2[iR]), m2)
        prop_j = _lsum(_LOG2 + ldl + S1, 2.0 * ldl + S2)
        return dict(V=V, K=K, lZt=lZt, lsig=lsig, lI_lo=lI_lo, lZ=lZ, lZc=lZc, lR=lR,
                    lRc=lRc, Gmax=Gmax, resolved=resolved, bounded=B, lZp=lZp, ld=ld_,
                    ldl=ldl, own=own, prop_i=prop_i, Vt_i=Vt_i, prop_j=prop_j, ldV=ldV,
                    t_dl=t_dl, t_Z=t_Z, t_M2=t_M2, t_own=t_own, tol=tol, GV=GV,
                    Delta=Delta, Zcm=Zcm, good=good)

    def _tail_bounds(self, side, V):
        th = self.theta
        if side not in self.shells:
            self.shells[side] = tail_shells(self.pot, self.hl, side, self.W0, th)
        s = self.shells[side]
        if len(s.x0) == 0:
            return dict(dl=-np.inf, Z=-np.inf, M2=-np.inf, own=-np.inf)
        h = np.abs(s.x1 - s.x0)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            q = np.where(s.c > 0, np.minimum(h, th / np.where(s.c > 0, s.c, 1.0)), h)
            lq = np.log(q)
            lZp = -(s.Wlo0 - self.W0) / th + lq
            ld = np.log(np.maximum(np.abs(s.x0 - V), np.abs(s.x1 - V)))
            dl = lZp + ld
            # remainder beyond the last shell: W >= W(x_K) + c_K (u - x_K) assumed there
            cK = s.c[-1]
            xK = s.x1[-1]
            wK = s.Wlo1[-1]
            if cK > 0:
                qK = th / cK
                rem_Z = -(wK - self.W0) / th + math.log(qK)
                rem_dl = rem_Z + math.log(abs(xK - V) + qK)
            else:
                rem_Z = -(wK - self.W0) / th + math.log(abs(xK) + 1.0)
                rem_dl = rem_Z + math.log(abs(xK - V) + abs(xK) + 1.0)
            Aplus = np.logaddexp(_lexcl(dl[::-1])[::-1], rem_dl)   # beyond each shell
            own = _lsum(_LOG2 + 2 * lq + 2 * ld + lZp,
                        _LOG2 + 2 * Aplus + np.log(h) + (s.Whi1 - self.W0) / th)
        own = np.where(np.isnan(own), np.inf, own)
        return dict(dl=lse(np.append(dl, rem_dl)), Z=lse(np.append(lZp, rem_Z)),
                    M2=lse(np.append(lZp + 2 * ld, rem_Z + 2 * math.log(abs(xK - V) + 1.0))),
                    own=lse(own))

    # -- refinement ------------------------------------------------------------------------
    def refine(self, target=_TARGET, eps_split=_EPS_SPLIT, resolve_inside=False):
        """Bisect unresolved panels whose bound matters, then cut the unresolved ends."""
        for _ in range(_MAX_ROUNDS):
            A = self.analyse()
            e = self._relevance(A)
            split = A["bounded"] & ~self.trimmed & (e > math.log(eps_split))
            if not split.any():
                tot = _error_terms(A, A["lI_lo"], self.theta)
                if max(tot.values()) > target and eps_split > target * 1e-9:
                    eps_split *= 1e-3
                    continue
                break
            self._split(split)
        else:
            raise ReferenceBudgetError(
                f"{_name(self.pot)}: the reference panels did not converge in {_MAX_ROUNDS} "
                "refinement rounds")
        self._trim(A)
        if resolve_inside:
            for _ in range(_MAX_ROUNDS):
                A = self.analyse()
                need = ~A["resolved"] & ~self.trimmed
                if not need.any():
                    break
                self._split(need)
                self._trim(self.analyse())
        return self.analyse()

    def _relevance(self, A):
        th = self.theta
        lZt, lsig = A["lZt"], A["lsig"]
        e = np.maximum.reduce([
            A["lZp"] - lZt,
            A["ldl"] - lZt - lsig,
            A["lZp"] + 2 * A["ld"] - lZt - 2 * lsig,
            np.logaddexp(A["own"], A["prop_j"]) - A["lI_lo"],
        ])
        del th
        return np.where(np.isnan(e), np.inf, e)

    def _split(self, mask):
        kappa = self.bd["kappa"][mask]
        h = (self.hi - self.lo)[mask]
        k = np.maximum(np.ceil(1.1 * kappa), np.ceil(h / self.max_width))
        # at most 8 pieces per round: the bounds of a wide panel overestimate
        k = np.clip(np.where(np.isfinite(k), k, 8), 2, 8).astype(int)
        if self.n - mask.sum() + k.sum() > self.budget:
            raise ReferenceBudgetError(
                f"{_name(self.pot)}: the reference quadrature needs more than {self.budget} "
                f"panels to resolve W on [{self.hl.a:.6g}, {self.hl.b:.6g}] at theta = "
                f"{self.theta:g} (smallest panel {float(np.min(h / k)):.2e}: W oscillates or "
                "varies faster than the panels can follow)")
        lo, hi = self.lo[mask], self.hi[mask]
        kk = np.repeat(k, k)
        idx = np.concatenate([np.arange(n) for n in k])
        l0 = np.repeat(lo, k)
        hh = np.repeat(hi - lo, k)
        nlo = l0 + hh * idx / kk
        nhi = np.where(idx + 1 == kk, np.repeat(hi, k), l0 + hh * (idx + 1) / kk)
        self._keep(~mask)
        self._add(nlo, nhi)

    def _trim(self, A):
        """Cut away the runs of unresolved panels at both ends (they become bounds only)."""
        b = A["bounded"]
        tr = np.zeros(self.n, dtype=bool)
        i = 0
        while i < self.n and b[i]:
            tr[i] = True
            i += 1
        j = self.n - 1
        while j >= 0 and b[j] and not tr[j]:
            tr[j] = True
            j -= 1
        if tr.all():
            tr[:] = False
        self.trimmed = tr

    def live_interval(self):
        live = np.nonzero(~self.trimmed)[0]
        return float(self.lo[live[0]]), float(self.hi[live[-1]])


def _error_terms(A, lI, theta, which="all"):
    """Relative error bounds (D, K, V/sigma) of the bounded panels and the shells."""
    B = A["bounded"]
    lZt, lsig = A["lZt"], A["lsig"]
    Z_b = lse([lse(A["lZp"][B]), A["t_Z"]])
    relZ = float(np.exp(Z_b - lZt))
    relV = float(np.exp(A["ldV"] - lsig))
    M2 = lse([lse((A["lZp"] + 2 * A["ld"])[B]), A["t_M2"]])
    relK = float(np.exp(M2 - lZt - 2 * lsig)) + relZ + relV ** 2
    lD = lse([lse(A["own"]), A["t_own"], lse(A["prop_i"]), lse(A["Vt_i"])])
    relD = float(np.exp(lD - lI)) + relZ
    return {"D": relD, "K": relK, "V": relV}


# ---------------------------------------------------------------------------
# double precision
# ---------------------------------------------------------------------------
def _plan(potential, theta, tail, *, order, check, consts, min_panels, budget, apost,
          target, eps_split, resolve_inside):
    hl = hull(potential, theta, tail)
    fixed = [p for p in (getattr(potential, "breakpoints", ()) or ())]
    fixed += [0.0, hl.crit_lo, hl.crit_hi]
    if not hl.certified:
        fixed += _interior_extrema(potential, hl.a, hl.b)
    plan = _Plan(potential, theta, hl, order=order, check=check, consts=consts,
                 min_panels=min_panels, budget=budget, apost=apost, fixed=fixed)
    A = plan.refine(target=target, eps_split=eps_split, resolve_inside=resolve_inside)
    return plan, A


def quadrature_coefficients(potential: Potential, theta: float, *, tail: float = 80.0,
                            panels: Optional[int] = None,
                            order: int = 24,
                            max_panels: int = MAX_PANELS) -> QuadratureResult:
    r"""Effective coefficients by composite Gauss-Legendre quadrature (double).

    Parameters
    ----------
    potential : Potential
        With ``W`` (vectorised, float64) and expression trees (``tree``, ``dtree``,
        ``d2tree``: the domain is certified); a plain callable needs ``mass_interval``
        (heuristic domain, said in ``method``).  ``dW``, ``d2W`` and ``breakpoints`` are
        used when present.
    theta : float
        Temperature, finite and > 0.
    tail : float, optional
        The hull extends until W has risen by ``tail*theta`` above its value at the
        outermost critical points (default 80); what lies beyond is bounded (see the
        module docstring).
    panels : int, optional
        Minimum number of panels: the maximal panel width is ``(b - a) / panels``
        (default 200).
    order : int, optional
        Gauss-Legendre points per panel (default 24; the check rule has ``order - 8``).
    max_panels : int, optional
        Budget (default :data:`MAX_PANELS`); :class:`ReferenceBudgetError` beyond.

    Returns
    -------
    QuadratureResult

    Notes
    -----
    With :math:`\log m = -(W - W_0)/\theta` at the nodes :math:`x_i` and
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
    :math:`W/\theta`); ``rel_error_estimate`` says it.  If ``D`` overflows,
    ``D = inf`` is returned with a :class:`RuntimeWarning`; ``log_D`` is always
    finite.
    """
    theta = check_theta(theta)
    tail = _check_tail(tail)
    if panels is None:
        panels = 200
    if int(panels) < 1:
        raise ValueError(f"panels must be a positive integer, got {panels!r}")
    order = int(order)
    if order < 10:
        raise ValueError(f"order must be >= 10, got {order!r}")
    return _double(potential, theta, tail, order=order, panels=int(panels),
                   max_panels=int(max_panels), target=_TARGET, eps_split=_EPS_SPLIT)[0]


def _double(potential, theta, tail, *, order, panels, max_panels, target, eps_split):
    plan, A = _plan(potential, theta, tail, order=order, check=order - 8, consts=C_DOUBLE,
                    min_panels=panels, budget=max_panels, apost=True,
                    target=target, eps_split=eps_split, resolve_inside=False)
    return _double_result(plan, A, order), plan


def _double_result(plan, A, order):
    theta = plan.theta
    live = ~plan.trimmed
    lo, hi = plan.lo[live], plan.hi[live]
    lm_all = plan.lm[live]
    V = A["V"]
    K = A["K"]
    log_Z0 = A["lZt"]
    t, lwp = plan.t, plan.lw
    h = hi - lo
    X = lo[:, None] + h[:, None] * t
    logw = np.log(h)[:, None] + lwp
    with np.errstate(divide="ignore", invalid="ignore"):
        whole_l = np.where(hi <= V, lse(logw + lm_all + np.log(np.abs(V - X)), axis=1), -np.inf)
        whole_r = np.where(lo >= V, lse(logw + lm_all + np.log(np.abs(X - V)), axis=1), -np.inf)
    cum_l = _lexcl(whole_l)
    cum_r = _lexcl(whole_r[::-1])[::-1]
    left = X <= V
    logG = np.full(X.shape, -np.inf)
    # partial panels, in chunks (P x n x n evaluations)
    for s0 in range(0, len(lo), _CHUNK):
        sl = slice(s0, min(s0 + _CHUNK, len(lo)))
        Xs = X[sl]
        jl = np.nonzero(left[sl].any(axis=1))[0]
        if jl.size:
            x0 = lo[sl][jl][:, None]
            L = Xs[jl] - x0
            U = x0[:, :, None] + L[:, :, None] * t
            with np.errstate(divide="ignore", invalid="ignore"):
                lg = np.log(L)[:, :, None] + lwp + plan._logm(U) + np.log(np.abs(V - U))
            part = lse(lg, axis=2)
            val = np.logaddexp(cum_l[sl][jl][:, None], part)
            blk = logG[sl]
            blk[jl] = np.where(left[sl][jl], val, blk[jl])
            logG[sl] = blk
        jr = np.nonzero((~left[sl]).any(axis=1))[0]
        if jr.size:
            x1 = hi[sl][jr][:, None]
            L = x1 - Xs[jr]
            U = Xs[jr][:, :, None] + L[:, :, None] * t
            with np.errstate(divide="ignore", invalid="ignore"):
                lg = np.log(L)[:, :, None] + lwp + plan._logm(U) + np.log(np.abs(U - V))
            part = lse(lg, axis=2)
            val = np.logaddexp(cum_r[sl][jr][:, None], part)
            blk = logG[sl]
            blk[jr] = np.where(~left[sl][jr], val, blk[jr])
            logG[sl] = blk
    lI = lse(logw + 2.0 * logG - lm_all)
    log_D = float(lI) - log_Z0 - math.log(theta)
    if not math.isfinite(log_D):
        raise FloatingPointError(f"log D is not finite ({log_D})")
    # int_i G/m per panel at the nodes: the propagated bounds with the panels' own G
    lGm = np.full(plan.n, -np.inf)
    lGm[live] = lse(logw + logG - lm_all, axis=1)

    # error components
    comps = _components(plan, A, lI, lGm)
    comps["quadrature"] = _quad_gap(plan, A, lI)
    comps["rounding"] = _rounding(plan, A, lI)
    D = _D_or_inf(log_D, math.exp, "log_D")
    Wmin = _refined_min(plan)
    log_Z_min = log_Z0 - (plan.W0 - Wmin) / theta      # log int exp(-(W - Wmin)/theta)
    a, b = plan.live_interval()
    cert = plan.hl.certified
    nb = int((A["bounded"] & live).sum())
    method = (f"composite Gauss-Legendre ({len(lo)} panels x {order} nodes, {nb} unresolved "
              "with bounds), log space, positive one-sided F; domain: "
              + ("certified critical hull (mpmath interval arithmetic)" if cert else
                 "HEURISTIC mass_interval (no expression tree)"))
    return QuadratureResult(
        D=D, K=K, V=V, log_D=log_D, log_Z=log_Z_min, Wmin=Wmin, domain=(a, b),
        n_nodes=int(X.size), method=method,
        rel_error_estimate=float(sum(comps.values())), error_components=comps,
        domain_certified=cert, hull=(plan.hl.a, plan.hl.b), n_panels=int(len(lo)))


def _sharpen(A, lGm):
    """Propagated bounds with int_i G/m at the nodes (lGm) instead of Gmax int_i 1/m."""
    if lGm is None:
        return A
    A = dict(A)
    g = A["good"]
    D, lR = A["Delta"], A["lR"]
    A["prop_i"] = np.where(g, _lsum(_LOG2 + D + lGm, 2.0 * D + lR), -np.inf)
    zV = A["ldV"] + A["Zcm"]
    A["Vt_i"] = np.where(g, _lsum(_LOG2 + zV + lGm, 2.0 * zV + lR), -np.inf)
    return A


def _refined_min(plan):
    """The smallest W: the smallest node value, refined by a bounded minimisation around it."""
    live = np.nonzero(~plan.trimmed)[0]
    j = live[int(np.argmax(np.max(plan.lm[live], axis=1)))]
    lo, hi = plan.lo[j], plan.hi[j]
    h = hi - lo
    w0 = plan.W0 - plan.theta * float(np.max(plan.lm[j]))
    try:
        r = minimize_scalar(lambda t: float(_W_vec(plan.pot, np.array([t]))[0]),
                            bounds=(lo - h, hi + h), method="bounded",
                            options={"xatol": 1e-15 * max(1.0, abs(lo)) + 1e-300})
        if math.isfinite(float(r.fun)) and float(r.fun) < w0:
            return float(r.fun)
    except (ValueError, ArithmeticError):  # pragma: no cover
        pass
    return w0


def _components(plan, A, lI, lGm=None):
    """'domain' (what was cut away at the ends and lies beyond the hull) and 'unresolved'
    (the panels left unresolved inside) error bounds: max over D, K, V/sigma."""
    tot = max(_error_terms(_sharpen(A, lGm), lI, plan.theta).values())
    A_dom = _sharpen(plan.analyse(bounded=plan.trimmed.copy()), lGm)
    dom = max(_error_terms(A_dom, lI, plan.theta).values())
    return {"domain": dom, "unresolved": max(tot - dom, 0.0)}


def _quad_gap(plan, A, lI):
    live = ~plan.trimmed & A["resolved"]
    gZ = lse(_ldiff(A["lZ"], A["lZc"])[live]) - A["lZt"]
    gD = lse((2 * A["Gmax"] + _ldiff(A["lR"], A["lRc"]))[live]) - lI
    return float(np.exp(max(gZ, gD)))


def _rounding(plan, A, lI):
    """First-order effect of the rounding of W/theta at the nodes (bounded per panel by
    ``rnd``): Z, K move by sum_j (share of panel j) * rnd_j/theta, I = int G^2/m by up to
    three times that (G^2/m ~ m)."""
    live = ~plan.trimmed
    r = np.where(live, plan.bd["rnd"] / plan.theta, 0.0)
    with np.errstate(over="ignore", invalid="ignore"):
        wZ = np.exp(np.where(live, A["lZ"] - A["lZt"], -np.inf))
        wD = np.exp(np.where(live, 2 * A["Gmax"] + A["lR"] - lI, -np.inf))
    wZ = np.nan_to_num(wZ, nan=0.0, posinf=1.0)
    wD = np.nan_to_num(wD, nan=0.0, posinf=1.0)
    return float(max(2.0 * np.sum(wZ * r), 3.0 * np.sum(wD * r)))


# ---------------------------------------------------------------------------
# arbitrary precision
# ---------------------------------------------------------------------------
_MP_RULES: dict = {}


def w_mp_function(potential, probes=(-0.7326, 0.3141, 1.618)):
    """W at an mpf at the current precision: the compiled expression tree
    (:func:`effcoef.reference.mpeval.compile_mp`, 2-5x faster) when it agrees with
    ``potential.W_mp`` at a few points to the working precision, else ``W_mp`` (a library
    potential's ``W_mp`` may use exact parameters where its tree holds rounded ones)."""
    base = getattr(potential, "profile", None) or potential
    tree = getattr(base, "tree", None)
    if tree is not None:
        f = compile_mp(tree, getattr(base, "var", None) or "v")
        tol = mpmath.mpf(2) ** (8 - mpmath.mp.prec)
        try:
            same = all(abs(f(mpmath.mpf(x)) - potential.W_mp(mpmath.mpf(x))) <=
                       tol * (1 + abs(potential.W_mp(mpmath.mpf(x)))) for x in probes)
        except (ValueError, ArithmeticError, TypeError):
            same = False
        if same:
            return f
    return potential.W_mp


def _mp_rule(n, dps):
    """Gauss-Legendre nodes t, weights w on [0, 1] and the indefinite-integration matrix
    S[i, k] = int_0^{t_i} l_k (l_k the Lagrange basis of the nodes), at ``dps`` digits."""
    key = (n, dps)
    hit = _MP_RULES.get(key)
    if hit is not None:
        return hit
    with mpmath.workdps(dps):
        X, Wt = mpmath.mp.gauss_quadrature(n, "legendre")
        x = [X[i] for i in range(n)]
        w = [Wt[i] for i in range(n)]

        def legendre_all(y):
            P = [mpmath.mpf(1), y]
            for m in range(2, n + 2):
                P.append(((2 * m - 1) * y * P[-1] - (m - 1) * P[-2]) / m)
            return P
        PX = [legendre_all(y) for y in x]
        # l_k(y) = w_k sum_m (2m+1)/2 P_m(y_k) P_m(y) on [-1, 1]; int_{-1}^{y_i} P_m is
        # y_i + 1 (m = 0) and (P_{m+1} - P_{m-1})(y_i)/(2m+1); on [0, 1] a factor 1/2
        Q = [[(2 * m + 1) * PX[k][m] * w[k] / 4 for m in range(n)] for k in range(n)]
        S = []
        for i in range(n):
            Pi = PX[i]
            Im = [x[i] + 1] + [(Pi[m + 1] - Pi[m - 1]) / (2 * m + 1) for m in range(1, n)]
            S.append([mpmath.fdot(Q[k], Im) for k in range(n)])
        t = [(y + 1) / 2 for y in x]
        w01 = [v / 2 for v in w]
        Sr = [[w01[k] - S[i][k] for k in range(n)] for i in range(n)]   # int_{t_i}^1 l_k
    _MP_RULES[key] = (t, w01, S, Sr)
    return _MP_RULES[key]


def _mp_sums(potential, P, theta, W0, n, dps, counter):
    """Z, V, K, D (mpf) with the n-point Gauss-Legendre rule in mpmath on the panels P."""
    t, w, S, Sr = _mp_rule(n, dps)
    th = mpmath.mpf(theta)
    Wm = mpmath.mpf(W0)
    W_mp = w_mp_function(potential)

    def nodes(p0, p1):
        h = p1 - p0
        us = [p0 + h * tk for tk in t]
        counter[0] += n
        return h, us, [mpmath.exp(-(W_mp(u) - Wm) / th) for u in us]

    edges = [(mpmath.mpf(float(a)), mpmath.mpf(float(b))) for a, b in P]
    vals = [nodes(p0, p1) for p0, p1 in edges]
    fs = mpmath.fsum
    Z = fs(h * fs(wk * mk for wk, mk in zip(w, ms)) for h, _, ms in vals)
    Vp = fs(h * fs(wk * u * mk for wk, u, mk in zip(w, us, ms))
            for (p0, p1), (h, us, ms) in zip(edges, vals) if p0 >= 0)
    Vn = fs(h * fs(wk * -u * mk for wk, u, mk in zip(w, us, ms))
            for (p0, p1), (h, us, ms) in zip(edges, vals) if p1 <= 0)
    V = (Vp - Vn) / Z
    K = fs(h * fs(wk * (u - V) ** 2 * mk for wk, u, mk in zip(w, us, ms))
           for h, us, ms in vals) / Z / th
    # split the panel containing V: every panel on one side (|u - V| is not smooth at V)
    for i, (p0, p1) in enumerate(edges):
        if p0 < V < p1:
            edges[i:i + 1] = [(p0, V), (V, p1)]
            vals[i:i + 1] = [nodes(p0, V), nodes(V, p1)]
            break
    # one-sided G = -Z F at the nodes: whole panels cumulated (positive sums), partial
    # panels by the indefinite-integration matrix (guard digits absorb its mixed signs)
    npan = len(edges)
    G = [None] * npan
    acc = mpmath.mpf(0)
    for i in range(npan):
        p0, p1 = edges[i]
        if p1 > V:
            continue
        h, us, ms = vals[i]
        f = [(V - u) * mk for u, mk in zip(us, ms)]
        G[i] = [max(acc + h * mpmath.fdot(S[j], f), mpmath.mpf(0)) for j in range(n)]
        acc += h * fs(wk * fk for wk, fk in zip(w, f))
    acc = mpmath.mpf(0)
    for i in reversed(range(npan)):
        p0, p1 = edges[i]
        if p1 <= V:
            continue
        h, us, ms = vals[i]
        f = [(u - V) * mk for u, mk in zip(us, ms)]
        G[i] = [max(acc + h * mpmath.fdot(Sr[j], f), mpmath.mpf(0)) for j in range(n)]
        acc += h * fs(wk * fk for wk, fk in zip(w, f))
    SD = fs(h * fs(wk * g * g / mk for wk, g, mk in zip(w, G[i], ms))
            for i, (h, us, ms) in enumerate(vals))
    D = SD / (Z * th)
    return Z, V, K, D, npan


def quadrature_coefficients_mp(potential: Potential, theta: Union[float, mpmath.mpf], *,
                               dps: int = 30,
                               tail: Optional[float] = None,
                               max_panels: int = MP_MAX_PANELS) -> QuadratureResult:
    r"""High-precision reference: Gauss-Legendre quadrature in :mod:`mpmath`.

    Parameters
    ----------
    potential : Potential
        Object with ``W`` (float64, used to plan the panels), ``W_mp`` (evaluated at the
        working mpmath precision) and expression trees (certified domain) or
        ``mass_interval`` (heuristic domain).
    theta : float
        Temperature, finite and > 0 (converted exactly to an ``mpf``).
    dps : int, optional
        Decimal digits, >= 15 (default 30).  Work is done inside ``mpmath.workdps(dps +
        10)``; the global precision is not changed.
    tail : float, optional
        Rise of the hull beyond the outermost critical points, in units of theta;
        default ``dps * log(10) + 10``.
    max_panels : int, optional
        Budget of panels (default :data:`MP_MAX_PANELS`): a potential that needs more
        (a fast oscillation over a wide range) is refused with
        :class:`ReferenceBudgetError` (use :func:`quadrature_coefficients`).

    Returns
    -------
    QuadratureResult
        ``D``, ``K``, ``V`` as floats plus ``D_mp``, ``K_mp``, ``V_mp`` (``mpf``, ``dps``
        digits).  ``n_nodes`` counts evaluations of ``W_mp``.

    Notes
    -----
    The panels are those of :func:`quadrature_coefficients` planned for the relative
    target ``10**-dps`` (same certified hull, same bounds of what is cut away and of what
    lies beyond), with every kept panel resolved (:data:`~effcoef.reference.panels.C_DOUBLE`:
    then an n-point Gauss-Legendre rule of :math:`e^{\pm W/\theta}` converges at about 1.2
    digits per node: measured 1e-25, 1e-35, 1e-44 for n = 24, 32, 40 on the worst
    :math:`e^{s x + A\sin(\omega x)}` the constraints allow).  In mpmath, with
    :math:`m = \exp(-(W_{mp} - W_0)/\theta)` (no logarithms needed) and
    ``n = max(32, 1.25 dps + 4)`` nodes per panel: ``Z``, ``V`` (two positive parts, the
    panels are split at 0), ``K``; the panel containing ``V`` is split at ``V``; the
    one-sided :math:`G = -ZF` at the nodes is the cumulated whole panels (positive sums)
    plus the partial panel by the exact indefinite-integration matrix of the nodes' Lagrange
    basis (mixed signs, absorbed by 10 guard digits); :math:`D = \sum w G^2/m / (Z\theta)`.
    Everything is computed again with ``n - 8`` nodes: the difference is the ``quadrature``
    error component, and a :class:`RuntimeWarning` is issued if it exceeds
    ``10**(5 - dps)`` relative.  Cost: ``(2n - 8)`` evaluations of ``W_mp`` per panel
    (~0.2 ms each): about a second for a double well at ``dps=30``.
    """
    theta_f = check_theta(theta)
    dps = _check_dps(dps)
    if tail is None:
        tail = dps * math.log(10.0) + 10.0
    tail = _check_tail(tail)
    target = 10.0 ** (-dps)
    try:
        plan, A = _plan(potential, theta_f, tail, order=24, check=16, consts=C_DOUBLE,
                        min_panels=3, budget=int(max_panels), apost=True, target=target,
                        eps_split=target * 1e-3, resolve_inside=True)
    except ReferenceBudgetError as exc:
        raise ReferenceBudgetError(f"{exc}; the mpmath reference is limited to {max_panels} "
                                   "panels, use quadrature_coefficients (double)") from None
    res_d = _double_result(plan, A, 24)
    live = ~plan.trimmed
    P = np.column_stack([plan.lo[live], plan.hi[live]])
    W0 = plan.W0
    Wmin = _refined_min(plan)
    a, b = plan.live_interval()
    n = max(32, int(1.25 * dps) + 4)
    counter = [0]
    with mpmath.workdps(dps + 10):
        Z, V, K, D, npan = _mp_sums(potential, P, theta_f, W0, n, dps + 10, counter)
        Z2, V2, K2, D2, _ = _mp_sums(potential, P, theta_f, W0, n - 8, dps + 10, counter)
        sig = mpmath.sqrt(K * mpmath.mpf(theta_f))
        gap = max(abs(Z2 / Z - 1), abs(D2 / D - 1), abs(K2 / K - 1), abs(V2 - V) / sig)
        log_D = float(mpmath.log(D))
        log_Z = float(mpmath.log(Z) - (mpmath.mpf(W0) - mpmath.mpf(Wmin)) / mpmath.mpf(theta_f))
    with mpmath.workdps(dps):
        D_mp, K_mp, V_mp = +D, +K, +V
    gap = float(gap)
    if gap > 10.0 ** (5 - dps):
        warnings.warn(f"mpmath Gauss-Legendre: the {n}- and {n - 8}-point rules differ by "
                      f"{gap:.3g} relative (> 1e{5 - dps})", RuntimeWarning, stacklevel=2)
    comps = {"domain": res_d.error_components["domain"],
             "unresolved": res_d.error_components["unresolved"], "quadrature": gap}
    Df = _D_or_inf(log_D, lambda _: float(D_mp), "log_D / D_mp")
    cert = plan.hl.certified
    return QuadratureResult(
        D=Df, K=float(K_mp), V=float(V_mp), log_D=log_D, log_Z=log_Z,
        Wmin=Wmin, domain=(a, b), n_nodes=int(counter[0]),
        method=f"mpmath Gauss-Legendre ({npan} panels x {n} nodes, checked with {n - 8}), "
               f"dps={dps}; domain: "
               + ("certified critical hull (mpmath interval arithmetic)" if cert else
                  "HEURISTIC mass_interval (no expression tree)"),
        D_mp=D_mp, K_mp=K_mp, V_mp=V_mp,
        rel_error_estimate=float(sum(comps.values())), error_components=comps,
        domain_certified=cert, hull=(plan.hl.a, plan.hl.b), n_panels=npan)
