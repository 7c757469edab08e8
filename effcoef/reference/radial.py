r"""Independent reference for radial potentials :math:`W(v) = w(|v|)` (d = 2, 3): the l = 1 channel.

For a radial W the coefficients are :math:`\mathcal D = D\,I`, :math:`\mathcal K = K\,I` with

.. math::
   D = \frac{1}{d}\,\langle r, g\rangle_M, \qquad
   -\theta\,\frac{(\mu g')'}{\mu} + \theta\,\frac{d-1}{r^2}\,g = r, \qquad
   K = \frac{E_M[r^2]}{d\,\theta},

:math:`\mu = r^{d-1} m(r)`, :math:`m = e^{-(w - w_0)/\theta}`,
:math:`\langle f, g\rangle_M = \int_0^\infty \mu f g / \int_0^\infty\mu`, :math:`g(0) = 0` and no
flux at infinity (the l = 1 corrector :math:`\chi_i = M g(r) v_i/r`; see :mod:`effcoef.radial`).

This module computes them by a discretisation of a different kind from the solver's
(which is a p = 8 Galerkin finite element method in the :math:`\sqrt M`-weighted basis with a
Lanczos eigensolver): an **exponentially fitted, vertex-centred finite-volume scheme** with
**Richardson extrapolation**, solved by a **positive (GTH-type) elimination in log space**.

Scheme
------
On nodes :math:`0 < r_1 < \dots < r_N = R` with dual cells
:math:`C_i = [r_{i-1/2}, r_{i+1/2}]` (midpoints; :math:`C_1` starts at 0, :math:`C_N` ends at R),
integrating the equation times :math:`\mu` over :math:`C_i`:

.. math::
   a_{i-1/2}(g_i - g_{i-1}) + a_{i+1/2}(g_i - g_{i+1}) + s_i g_i = b_i, \qquad
   a_{i+1/2} = \frac{\theta\, r_{i+1/2}^{d-1}}{\int_{r_i}^{r_{i+1}} dr/m}, \quad
   s_i = \frac{\theta (d-1)}{r_i}\int_{C_i}\frac{\mu}{r}, \quad b_i = \int_{C_i}\mu r .

The flux :math:`\mu g'` divided by :math:`r^{d-1}` is taken constant between two nodes (with
:math:`r^{d-1}` at the midpoint), which makes the coupling :math:`a_{i+1/2}` exact whatever
:math:`m` does there (Scharfetter-Gummel / exponential fitting: a barrier of hundreds of
:math:`\theta` between two nodes is integrated exactly, not interpolated) and reproduces
:math:`g \propto r` at the origin; g is taken as :math:`g_i r/r_i` on :math:`C_i` in the
centrifugal term (exact for the regular behaviour :math:`g \sim r` at 0); no flux at 0
(:math:`\mu(0) = 0`) and at R.
Then :math:`D_h = \sum_i b_i g_i/(dZ)`, :math:`Z = \int_0^R \mu`.  The matrix is a symmetric
tridiagonal M-matrix with row sums :math:`s_i > 0`; eliminating with the *excesses*
:math:`e_i = s_i + a_{i-1/2} e_{i-1}/p_{i-1}` (pivots :math:`p_i = e_i + a_{i+1/2}`,
right-hand side :math:`y_i = b_i + a_{i-1/2} y_{i-1}/p_{i-1}`, back substitution
:math:`g_i = (y_i + a_{i+1/2} g_{i+1})/p_i`) adds positive numbers only, so the relative
accuracy does not depend on the condition number (which is :math:`\sim e^{B/\theta}` for a
barrier B); all quantities are stored as logarithms (tunnelling: :math:`D \sim e^{300}`).
The cell integrals are 24-point Gauss-Legendre rules on the half cells, which are resolved
(:func:`effcoef.reference.panels.panel_bounds`, constants ``C_DOUBLE``).

The scheme is second order: :math:`D_h = D + c_2 h^2 + c_4 h^4 + \dots` on a mesh refined
by halving every cell of a base mesh (levels :math:`h, h/2, h/4, \dots`); Richardson's
table on :math:`D_h` gives the result and the error estimate (the last two diagonal entries).

Domain: :math:`[0, R]` with R the end of the certified critical hull of the profile
(:func:`effcoef.reference.panels.hull`, W monotone beyond and risen by ``tail*theta`` above
its value at the outermost critical point); beyond R the mass and the first moment are bounded
with :func:`effcoef.reference.panels.tail_shells`, and the truncation estimate is
:math:`(2 g(R) \int_R^\infty \mu r)/(\sum b_i g_i) + \int_R^\infty\mu / Z` (first order
in what is cut away).  :math:`K` is a Gauss-Legendre quadrature of :math:`\int \mu r^2`.

Nothing here imports the solver's modules (:mod:`effcoef.fem1d`, :mod:`effcoef.spectrum`,
:mod:`effcoef.solver`, :mod:`effcoef.radial`, :mod:`effcoef.domain`) or
:mod:`potentials.intervals`/:mod:`potentials.bnb` (a test checks the imports).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Tuple

import numpy as np
from numpy.polynomial.legendre import leggauss

from potentials import RadialPotential

from ..operator import check_theta
from .panels import C_DOUBLE, ReferenceBudgetError, hull, lse, panel_bounds, tail_shells

__all__ = ["RadialReferenceResult", "radial_reference", "MAX_CELLS"]

#: most cells at the finest Richardson level
MAX_CELLS = 400_000
_LOG_DBL_MAX = math.log(np.finfo(float).max)


@dataclass(frozen=True)
class RadialReferenceResult:
    """Reference values of the l = 1 channel of a radial potential.

    Attributes
    ----------
    D, K : float
        :math:`\\mathcal D = D I`, :math:`\\mathcal K = K I` (``D = inf`` if it overflows;
        ``log_D`` stays finite).
    log_D : float
    rel_error_estimate : float
        Sum of ``error_components``: ``richardson`` (last two diagonal entries of the
        Richardson table), ``domain`` (what lies beyond R), ``rounding`` (of w/theta).
    domain : (0, R)
    n_cells : int
        Cells at the finest level.
    D_levels : tuple of float
        log D_h at each level (h, h/2, ...).
    method : str
    domain_certified : bool
    """

    D: float
    K: float
    log_D: float
    rel_error_estimate: float
    error_components: dict = field(default_factory=dict)
    domain: Tuple[float, float] = (0.0, math.nan)
    n_cells: int = 0
    D_levels: tuple = ()
    method: str = ""
    domain_certified: bool = False


def _gauss01(n=24):
    t, w = leggauss(n)
    return 0.5 * (t + 1.0), np.log(0.5 * w)


_T, _LW = _gauss01()


def _w(pot, x):
    with np.errstate(all="ignore"):
        return np.asarray(pot.W(np.asarray(x, dtype=float)), dtype=float)


def _base_mesh(pot, theta, R, crit, min_cells, budget, W0):
    """Edges of a base mesh on [0, R]: every cell resolved for the 24-point rule (its halves
    are then resolved too), except where w is 700 theta above W0 (no mass, no flux: a
    repulsive core)."""
    pts = [0.0, R, crit] + list(np.linspace(0.0, R, min_cells + 1))
    pts += [p for p in (getattr(pot, "breakpoints", ()) or ()) if 0.0 < p < R]
    e = np.unique(np.clip(np.array(pts, dtype=float), 0.0, R))
    e = e[np.concatenate([[True], np.diff(e) > 1e-12 * R])]
    lo, hi = e[:-1], e[1:]
    done_lo, done_hi = [], []
    for _ in range(200):
        if len(lo) == 0:
            break
        bd = panel_bounds(pot, theta, lo, hi, C_DOUBLE)
        k = bd["kappa"]
        ok = (k <= 1.0) | ((bd["Wl"] - W0) / theta > 700.0)
        done_lo.append(lo[ok])
        done_hi.append(hi[ok])
        lo, hi, k = lo[~ok], hi[~ok], k[~ok]
        n = np.clip(np.where(np.isfinite(k), np.ceil(1.1 * k), 8), 2, 8).astype(int)
        if sum(len(x) for x in done_lo) + n.sum() > budget:
            raise ReferenceBudgetError(
                f"{getattr(pot, 'name', 'W')}: the radial reference needs more than {budget} "
                f"cells to resolve w on [0, {R:.6g}] at theta = {theta:g}")
        idx = np.concatenate([np.arange(j) for j in n]) if len(n) else np.zeros(0)
        nn = np.repeat(n, n)
        l0 = np.repeat(lo, n)
        hh = np.repeat(hi - lo, n)
        lo = l0 + hh * idx / nn
        hi = np.where(idx + 1 == nn, np.repeat(hi, n), l0 + hh * (idx + 1) / nn)
    edges = np.unique(np.concatenate([np.concatenate(done_lo), np.concatenate(done_hi)]))
    return edges


def _cell_logs(pot, theta, d, edges, W0):
    """Per half cell [edges[j], mid_j] and [mid_j, edges[j+1]]: logs of int mu, int mu r,
    int mu r^2, int mu / r, int 1/m (24-point Gauss-Legendre)."""
    lo, hi = edges[:-1], edges[1:]
    mid = 0.5 * (lo + hi)
    out = []
    for a, b in ((lo, mid), (mid, hi)):
        h = b - a
        X = a[:, None] + h[:, None] * _T
        lw = np.log(h)[:, None] + _LW
        W = _w(pot, X)
        if not np.all(np.isfinite(W)):
            raise ValueError(f"{getattr(pot, 'name', 'W')}: w is not finite on the reference "
                             f"domain [0, {edges[-1]:.6g}]")
        lX = np.log(X)
        lmu = -(W - W0) / theta + (d - 1) * lX
        out.append({
            "Z": lse(lw + lmu, axis=1), "M1": lse(lw + lmu + lX, axis=1),
            "M2": lse(lw + lmu + 2 * lX, axis=1), "Mi": lse(lw + lmu - lX, axis=1),
            "J": lse(lw - (lmu - (d - 1) * lX), axis=1)})      # int 1/m
    return out


def _solve(pot, theta, d, edges, W0):
    """log of I = sum b_i g_i, log Z, log int mu r^2, log g at the last node."""
    L, Rh = _cell_logs(pot, theta, d, edges, W0)
    n = len(edges) - 1                      # nodes r_1..r_N = edges[1..N]
    r = edges[1:]
    lr = np.log(r)
    # dual cell of node i (0-based k = i - 1): right half of cell k, left half of cell k+1
    # a_{i+1/2} = theta r_{i+1/2}^(d-1) / int_{r_i}^{r_{i+1}} dr/m, i = 1..N-1
    lmid = np.log(0.5 * (edges[1:-1] + edges[2:]))
    la = math.log(theta) + (d - 1) * lmid - np.logaddexp(L["J"], Rh["J"])[1:]
    nxt = lambda x: np.concatenate([x[1:], [-np.inf]])            # noqa: E731
    lb = np.logaddexp(Rh["M1"], nxt(L["M1"]))
    lMi = np.logaddexp(Rh["Mi"], nxt(L["Mi"]))
    lb[0] = lse([L["M1"][0], lb[0]])
    lMi[0] = lse([L["Mi"][0], lMi[0]])
    ls = math.log(theta * (d - 1)) + lMi - lr
    lZ = lse(np.concatenate([L["Z"], Rh["Z"]]))
    lM2 = lse(np.concatenate([L["M2"], Rh["M2"]]))
    # positive elimination in log space (sequential; plain floats for speed)
    la_l = la.tolist() + [-math.inf]
    ls_l, lb_l = ls.tolist(), lb.tolist()
    lp = [0.0] * n
    ly = [0.0] * n
    le_prev = lp_prev = ly_prev = None
    la_prev = -math.inf

    def lae(x, y):
        if x == -math.inf:
            return y
        if y == -math.inf:
            return x
        return max(x, y) + math.log1p(math.exp(-abs(x - y)))

    for i in range(n):
        if i == 0:
            le = ls_l[0]
            y = lb_l[0]
        else:
            q = la_prev - lp_prev
            le = lae(ls_l[i], q + le_prev)
            y = lae(lb_l[i], q + ly_prev)
        p = lae(le, la_l[i])
        lp[i], ly[i] = p, y
        le_prev, lp_prev, ly_prev, la_prev = le, p, y, la_l[i]
    lg = [0.0] * n
    lg[n - 1] = ly[n - 1] - lp[n - 1]
    for i in range(n - 2, -1, -1):
        lg[i] = lae(ly[i], la_l[i] + lg[i + 1]) - lp[i]
    lI = lse(np.asarray(lb_l) + np.asarray(lg))
    return lI, lZ, lM2, lg[-1]


def radial_reference(potential: RadialPotential, theta: float, *, tail: float = 80.0,
                     levels: int = 5,
                     min_cells: int = 64, max_cells: int = MAX_CELLS) -> RadialReferenceResult:
    r"""D and K of a radial potential (l = 1 channel) by the finite-volume scheme of the module
    docstring with Richardson extrapolation.

    Parameters
    ----------
    potential : potentials.RadialPotential
        With ``profile`` (1D potential in r; expression trees give a certified domain),
        ``dim`` 2 or 3.
    theta : float
    tail : float
        The domain ends where w has risen by ``tail*theta`` above its value at the outermost
        critical point (certified hull); default 80.
    levels : int
        Richardson levels (meshes h, h/2, ..., h/2^(levels-1)); default 5.
    min_cells : int
        Cells of the base mesh at least (default 64).
    max_cells : int
        Budget of cells at the finest level (:class:`ReferenceBudgetError` beyond).

    Returns
    -------
    RadialReferenceResult
    """
    theta = check_theta(theta)
    d = int(getattr(potential, "dim", 0))
    if d not in (2, 3) or getattr(potential, "profile", None) is None:
        raise ValueError("radial_reference needs a RadialPotential in dimension 2 or 3")
    levels = int(levels)
    if levels < 2:
        raise ValueError(f"levels must be >= 2, got {levels}")
    hl = hull(potential, theta, tail)
    pot = potential.profile
    R = hl.b
    W0 = float(np.nanmin(_w(pot, np.linspace(0.0, R, 4097)[1:])))
    base = _base_mesh(pot, theta, R, hl.crit_hi, int(min_cells),
                      max(1, int(max_cells) >> (levels - 1)), W0)
    logs, res = [], None
    edges = base
    for lev in range(levels):
        if lev:
            mid = 0.5 * (edges[:-1] + edges[1:])
            edges = np.sort(np.concatenate([edges, mid]))
        res = _solve(pot, theta, d, edges, W0)
        logs.append(res[0])
    lI, lZ, lM2, lgR = res
    # Richardson on x_l = D_l / D_finest (all ~ 1)
    x = [math.exp(v - logs[-1]) for v in logs]
    T = [[xi] for xi in x]
    for k in range(1, levels):
        for lev in range(k, levels):
            T[lev].append(T[lev][k - 1] + (T[lev][k - 1] - T[lev - 1][k - 1]) / (4 ** k - 1))
    best = T[-1][-1]
    rich = abs(T[-1][-1] - T[-2][-2]) / best
    log_I = logs[-1] + math.log(best)
    log_D = log_I - lZ - math.log(d)
    K = math.exp(lM2 - lZ) / (d * theta)
    # beyond R: mass and first moment of the shells (monotone w there)
    sh = tail_shells(potential, hl, +1, W0, theta)
    if len(sh.x0):
        with np.errstate(divide="ignore", over="ignore"):
            hq = np.abs(sh.x1 - sh.x0)
            q = np.where(sh.c > 0, np.minimum(hq, theta / np.where(sh.c > 0, sh.c, 1.0)), hq)
            lz = -(sh.Wlo0 - W0) / theta + np.log(q) + (d - 1) * np.log(sh.x1)
        lzR = lse(lz)
        lm1R = lse(lz + np.log(sh.x1))
        last = -(sh.Wlo1[-1] - W0) / theta + d * math.log(sh.x1[-1] + 1.0)
        lzR, lm1R = np.logaddexp(lzR, last), np.logaddexp(lm1R, last + math.log(sh.x1[-1] + 1))
    else:
        lzR = lm1R = -np.inf
    dom = float(np.exp(math.log(2.0) + lgR + lm1R - log_I) + np.exp(lzR - lZ))
    # rounding of w/theta, weighted by the mass (max over the base mesh where it matters)
    bd = panel_bounds(pot, theta, base[:-1], base[1:], C_DOUBLE)
    Wm = np.minimum(bd["Wl"], bd["Wh"])
    rel = (Wm - W0) / theta < 60.0
    rnd = 3.0 * float(np.max(bd["rnd"][rel])) / theta if rel.any() else 0.0
    comps = {"richardson": float(rich), "domain": dom, "rounding": rnd}
    D = math.exp(log_D) if log_D < _LOG_DBL_MAX else math.inf
    cert = hl.certified
    return RadialReferenceResult(
        D=D, K=K, log_D=log_D, rel_error_estimate=float(sum(comps.values())),
        error_components=comps, domain=(0.0, R), n_cells=len(edges) - 1,
        D_levels=tuple(logs), domain_certified=cert,
        method=(f"exponentially fitted finite volumes, {len(base) - 1} to {len(edges) - 1} "
                f"cells, Richardson over {levels} levels, positive elimination in log space; "
                "domain: " + ("certified critical hull of the profile" if cert else
                              "HEURISTIC mass_interval (no expression tree)")))
