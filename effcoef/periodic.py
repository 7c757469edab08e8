r"""Periodic homogenisation: effective drift and diffusion in periodic potentials (d = 1, 2).

The overdamped Langevin dynamics

.. math:: dX = (-\nabla U(X) + F)\,dt + \sqrt{2\theta}\,dB, \qquad U(x + L_i e_i) = U(x),

has an effective drift :math:`V = \lim X_t/t` and an effective diffusion matrix
:math:`D = \lim \mathrm{Cov}(X_t)/(2t)`, given by the process on the torus (the cell): with
the generator :math:`\mathcal L = \theta\Delta + (F - \nabla U)\cdot\nabla`, its invariant
density :math:`\rho` (:math:`\mathcal L^*\rho = 0`, :math:`\int\rho = 1`) and the corrector
:math:`\chi` (:math:`-\mathcal L\chi = b - V`, :math:`b = F - \nabla U`),

.. math:: V = \int (F - \nabla U)\rho, \qquad
          D = \theta\int (I + \nabla\chi)(I + \nabla\chi)^T\rho

(:math:`(\nabla\chi)_{kj} = \partial_j\chi_k`; from the martingale decomposition
:math:`X_t - Vt = \chi(X_0) - \chi(X_t) + \int_0^t (I + \nabla\chi)\sqrt{2\theta}\,dB`).

F = 0 (reversible)
    :math:`\rho = m/Z`, :math:`m = e^{-(U - U_{\min})/\theta}`, V = 0, and
    :math:`\mathcal L = \theta m^{-1}\nabla\cdot(m\nabla\,\cdot)` is self-adjoint in
    :math:`L^2(\rho)`: the same weighted formulation as the velocity problem
    (:math:`u = \sqrt m\varphi` turns it into a Schrödinger operator on the torus).  With the
    eigenpairs :math:`-\mathcal L\psi_k = \lambda_k\psi_k` (:math:`\int\rho\psi_k^2 = 1`) and
    :math:`\eta_k = \theta\int\rho\nabla\psi_k = \int\nabla U\,\psi_k\,\rho`,

    .. math:: D = \theta I - \sum_{k\ge1}\frac{\eta_k\otimes\eta_k}{\lambda_k}
              = \theta I - \theta\int\rho\,\nabla\chi\nabla\chi^T \;\le\; \theta I.

    ``eigenvalues`` is the cell operator's spectrum (:math:`\lambda_0 = 0`), ``D_partial[N]``
    :math:`= \theta I - \sum_{k\le N}\eta_k\otimes\eta_k/\lambda_k` (``D_partial[0]`` is the
    bare :math:`\theta I`), and ``D`` the completed value (the exact discrete Poisson solution,
    i.e. the series with its exact remainder).  ``info["spectral_gap"]`` is
    :math:`\lambda_1`, the relaxation rate on the cell; with several wells per cell and deep
    wells it is the Eyring-Kramers hopping rate between them.  (With one well per cell the
    hopping between cells is not a cell eigenvalue: it is :math:`D/L^2` per direction,
    ``info["hopping_rate"]`` in 1D.)  ``n_modes="auto"`` grows N until the series of the
    reduction :math:`\theta I - D` is within ``rtol/10`` of its completed value; in the
    tunnelling regime (:math:`D \ll \theta`) the truncated series is accurate only relative
    to :math:`\theta`, and ``series_truncation`` (relative to D) says so.
F != 0 (tilted, not reversible)
    No spectral series: :math:`\rho` and :math:`\chi` are solved directly; ``eigenvalues`` is
    ``[0]`` unless ``n_modes`` is given, in which case the leading eigenvalues of
    :math:`-\mathcal L` are computed by ARPACK's ``eigs`` (shift-invert): their real parts
    (sorted) in ``eigenvalues``, the complex values in ``info["eigenvalues_complex"]``
    (imaginary parts also in ``info["eigenvalues_imag"]``).

Discretisation (:mod:`effcoef.fem_periodic`)
    Periodic continuous :math:`\mathbb P_p` / :math:`\mathbb Q_p` elements (scikit-fem's
    ``ElementLinePp``, tensor products in 2D) on meshes adapted to the weight.  In 1D the
    cell problems are solved *exactly in derivative coordinates*
    (:func:`~effcoef.fem_periodic.reversible_1d`, :func:`~effcoef.fem_periodic.tilted_1d`):
    every global quantity is a sum of positive terms accumulated in log space, so
    :math:`D/\theta = 10^{-41}` (:math:`V_0/\theta = 50`), a giant D near the critical tilt
    and the exponentially small drift of a locked particle all keep relative accuracy.  In 2D,
    sparse LU of the bordered weighted systems
    (:func:`~effcoef.fem_periodic.effective_from_fe`).  The cell spectrum (F = 0): shift-invert
    Lanczos (:func:`effcoef.spectrum.lanczos_modes`) on the weighted pencil; in 1D an
    exponentially small :math:`\lambda_1` is refined by inverse iteration with the exact
    periodic Green's operator.

Accuracy
    ``rel_error_estimate`` bounds the relative error of D and V: the gap between degree p and
    p + 2 (1D) / p + 1 (2D) on the same mesh, the mesh being refined (``h_scale`` divided by 2)
    until the gap is below ``rtol/3``; in 2D also the linear solves' iterative-refinement
    change.  Above ``rtol``: :class:`~effcoef.AccuracyWarning` (:class:`~effcoef.AccuracyError`
    with ``strict=True``).

Sweeps: :func:`periodic_point` is the hook for :mod:`effcoef.sweep` (one parameter dict ->
one result).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable, Optional, Union

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse

from potentials import PeriodicPotential

from . import fem_periodic as fp
from .errors import AccuracyError, AccuracyWarning, EffcoefError
from .operator import check_theta
from .results import CoefficientResult, relative_error
from .series import lanczos_shift, run_series
from .underdamped import underdamped_coefficients  # the underdamped route, same U (issue 19)

__all__ = ["effective_coefficients", "underdamped_coefficients", "periodic_point",
           "as_periodic_potential", "PERIODIC_DEFAULTS", "PeriodicModes", "PeriodicDensity"]

_EPS = np.finfo(float).eps

#: defaults by dimension
PERIODIC_DEFAULTS = {
    1: dict(degree=8, h_scale=3.0, rtol=1e-10, n_modes=12, max_refine=5),
    2: dict(degree=6, h_scale=6.0, rtol=1e-8, n_modes=12, max_refine=3),
}
_CONTROLLER = []


def _blas_controller():
    """One ThreadpoolController per process (inspecting the loaded libraries costs ~2 ms)."""
    if not _CONTROLLER:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


#: the estimate is the degree gap times this: the finer solution's error has the same sign
#: (measured: error/gap = 1.000-1.02 in 1D over degrees 2-8, coarse to fine meshes)
_GAP_FACTOR = 1.25

#: 2D eigenvalues converge more slowly in the degree than D: the Q_p / Q_{p+1} eigenvalue gap
#: times this (measured error/gap up to 1.7 for the non-separable test potential)
_EIG_FACTOR_2D = 2.5

#: 2D refinement: degree raised up to this, then the mesh refined; the dof count is bounded
_MAX_DEGREE_2D = 10
_MAX_DOFS_2D = 40000

#: (U_max - U_min)/theta above which the weighted matrices underflow (no spectrum; D, V by
#: the log-space 1D solve only)
_LOG_UNDERFLOW = 690.0


# ------------------------------------------------------------------------------------------
# input

def as_periodic_potential(U: Union[str, PeriodicPotential], period: Optional[ArrayLike] = None,
                          dim: Optional[int] = None) -> PeriodicPotential:
    """A :class:`potentials.PeriodicPotential` from an expression (in ``x`` or ``x1, x2``;
    ``period`` default 1 in every direction) or a PeriodicPotential (``period``, if given, must
    agree with its own)."""
    import potentials

    if isinstance(U, str):
        return potentials.periodic_from_expression(U, 1.0 if period is None else period, dim=dim)
    if isinstance(U, potentials.PeriodicPotential):
        if period is not None:
            per = np.broadcast_to(np.asarray(period, dtype=float).ravel(), (U.dim,))
            if not np.allclose(per, U.period, rtol=1e-14, atol=0.0):
                raise EffcoefError(f"period {tuple(per)} differs from the potential's period "
                                   f"{U.period}")
        return U
    raise EffcoefError(f"U must be an expression in x (1D) or x1, x2 (2D) or a "
                       f"potentials.PeriodicPotential, got {type(U).__name__}")


def _check_force(force, dim):
    if force is None:
        return np.zeros(dim)
    if isinstance(force, (bool, np.bool_)):
        raise EffcoefError(f"force must be a number, got {force!r}")
    try:
        F = np.atleast_1d(np.asarray(force, dtype=float))
    except (TypeError, ValueError):
        raise EffcoefError(f"force must be a number or {dim} numbers, got {force!r}") from None
    if F.ndim != 1 or len(F) != dim:
        raise EffcoefError(f"force must have {dim} component(s) in {dim}D, got {force!r}")
    if not np.all(np.isfinite(F)):
        raise EffcoefError(f"force must be finite, got {force!r}")
    return F


def _check_options(degree, h_scale, rtol, n_modes, max_refine):
    if isinstance(degree, bool) or int(degree) != degree or int(degree) < 2:
        raise EffcoefError(f"degree must be an integer >= 2, got {degree!r}")
    if not (isinstance(h_scale, (int, float)) and not isinstance(h_scale, bool)
            and math.isfinite(h_scale) and h_scale > 0):
        raise EffcoefError(f"h_scale must be a positive number, got {h_scale!r}")
    if not (isinstance(rtol, (int, float)) and not isinstance(rtol, bool)
            and math.isfinite(rtol) and rtol > 0):
        raise EffcoefError(f"rtol must be a positive number, got {rtol!r}")
    if n_modes is not None and n_modes != "auto":
        if isinstance(n_modes, bool) or not isinstance(n_modes, (int, np.integer)) or n_modes < 0:
            raise EffcoefError(f"n_modes must be an integer >= 0, None or 'auto', got {n_modes!r}")
    if isinstance(max_refine, bool) or int(max_refine) != max_refine or max_refine < 0:
        raise EffcoefError(f"max_refine must be an integer >= 0, got {max_refine!r}")
    return int(degree), float(h_scale), float(rtol), int(max_refine)


def _progress(progress):
    if progress is None or progress is False:
        return lambda stage, frac: None
    if callable(progress):
        return progress
    import sys

    def show(stage, frac):
        print(f"effcoef.periodic: {stage} ({100 * frac:.0f}%)", file=sys.stderr, flush=True)
    return show


# ------------------------------------------------------------------------------------------
# evaluators kept with the result (picklable: the potential pickles as its expression)

@dataclass
class PeriodicModes:
    r""":math:`\Psi_k = \sqrt\rho\,\psi_k` (k = 0..n; :math:`\Psi_0 = \sqrt\rho`) on the cell,
    extended periodically, normalised in :math:`L^2(\text{cell})` (F = 0)."""

    potential: object
    theta: float
    Umin: float
    log_Z: float
    nodes: list
    degree: int
    columns: np.ndarray          # (n_dofs, n) dof vectors of psi_k (int rho psi_k^2 = 1)

    def _space(self):
        return fp.PeriodicSpace([fp.PeriodicLine(n, self.degree, self.degree + 5)
                                 for n in self.nodes])

    def __call__(self, points):
        pts = np.asarray(points, dtype=float)
        X = pts[None] if self.potential.dim == 1 and (pts.ndim == 1) else pts
        X = np.atleast_2d(X)
        lrho = -(self.potential.U(X) - self.Umin) / self.theta - self.log_Z
        s = np.exp(0.5 * lrho)
        rows = [s]
        if self.columns.shape[1]:
            psi = self._space().evaluate(self.columns, X)
            rows += list(s[None] * psi)
        return np.array(rows)


@dataclass
class PeriodicDensity:
    r"""The stationary density :math:`\rho` on the cell (periodic extension), ``log_density``
    and ``__call__`` at points ((npts,) in 1D, (2, npts) in 2D).

    ``kind`` "gibbs" (F = 0: :math:`e^{-(U - U_{\min})/\theta}/Z` exactly in U), "fe" (2D, F != 0:
    :math:`m\,q` with the FE function q) or "tilted" (1D, F != 0: the exact discrete density
    of :func:`effcoef.fem_periodic.tilted_1d`, :class:`~effcoef.fem_periodic.TiltedDensity1D`,
    ``reflected`` for F < 0)."""

    potential: object
    theta: float
    kind: str
    Umin: float = 0.0
    log_Z: float = 0.0
    evaluator: object = None
    reflected: bool = False
    nodes: Optional[list] = None
    degree: int = 0
    q: Optional[np.ndarray] = None

    def log_density(self, points: ArrayLike) -> np.ndarray:
        pts = np.asarray(points, dtype=float)
        if self.kind == "tilted":
            return self.evaluator.log_density(-pts if self.reflected else pts)
        X = pts[None] if self.potential.dim == 1 and pts.ndim == 1 else np.atleast_2d(pts)
        lm = -(self.potential.U(X) - self.Umin) / self.theta
        if self.kind == "gibbs":
            return lm - self.log_Z
        sp = fp.PeriodicSpace([fp.PeriodicLine(n, self.degree, self.degree + 5)
                               for n in self.nodes])
        with np.errstate(divide="ignore", invalid="ignore"):
            return lm + np.log(sp.evaluate(self.q, X))

    def __call__(self, points):
        return np.exp(self.log_density(points))


# ------------------------------------------------------------------------------------------
# the API

def effective_coefficients(U: Union[str, PeriodicPotential], theta: float, *,
                           period: Optional[ArrayLike] = None, force: Optional[ArrayLike] = None,
                           rtol: Optional[float] = None,
                           n_modes: Union[None, int, str] = None, degree: Optional[int] = None,
                           h_scale: Optional[float] = None, max_refine: Optional[int] = None,
                           full_spectrum: bool = False, strict: bool = False,
                           progress: Union[None, bool, Callable[..., object]] = None,
                           blas_threads: Optional[int] = 1) -> CoefficientResult:
    r"""Effective drift V and diffusion D of :math:`dX = (-\nabla U + F)dt + \sqrt{2\theta}dB`
    for a periodic U (see the module docstring for the equations and the method).

    Parameters
    ----------
    U : str or potentials.PeriodicPotential
        An expression in ``x`` (1D) or ``x1, x2`` (2D), e.g. ``"cos(2*pi*x)"``, or a
        PeriodicPotential.  Checked for periodicity on the cell.
    theta : float > 0
        Temperature (the noise is :math:`\sqrt{2\theta}\,dB`).
    period : float or (L1, L2), optional
        The cell (default 1 in every direction for an expression; a PeriodicPotential's own).
    force : float or (F1, F2), optional
        The constant tilt F (default 0).
    rtol : float, optional
        Requested relative accuracy of D and V (default 1e-10 in 1D, 1e-8 in 2D).
    n_modes : int, "auto" or None
        F = 0: number of cell eigenpairs in the series (default 12; "auto": grow until the
        series is within rtol/10; 0: no spectrum, D and V only, the fastest).  F != 0: compute
        that many leading eigenvalues of :math:`-\mathcal L` with ``eigs`` (default: none).
    degree : int, optional
        Element degree p (default 8 in 1D, 6 in 2D).
    h_scale : float, optional
        Initial element size in units of the local scale (default 2); halved up to
        ``max_refine`` times until the degree gap is below rtol/3.
    full_spectrum : bool
        F = 0: list the whole low spectrum of the cell operator in ``eigenvalues`` (generic
        Lanczos start) instead of the modes that carry the data (the default: the Krylov
        space started from the data holds exactly the modes with :math:`\eta_k \ne 0`, e.g.
        only the odd modes of an even U).  ``info["spectral_gap"]`` is the cell's
        :math:`\lambda_1` either way.
    strict : bool
        Raise :class:`~effcoef.AccuracyError` instead of warning when the estimate exceeds rtol.
    progress : bool or callable, optional
        2D: True prints stages to stderr; a callable receives ``(stage, fraction)``.
    blas_threads : int or None
        BLAS threads inside the call (1 by default: these matrices are small).

    Returns
    -------
    CoefficientResult
        ``dim``, ``D`` (float in 1D, (2, 2)), ``V`` (float, (2,)), ``K = K_cov = omega =
        K_partial = None``, ``eigenvalues``, ``eta``, ``D_partial`` (F = 0), the estimate,
        ``domain`` = the cell, ``method = "periodic"``, ``info`` (``spectral_gap``,
        ``log_D`` and ``log_V`` in 1D, ``density`` (:class:`PeriodicDensity`), mesh data).

    Raises
    ------
    ValueError
        One-line reasons: a non-periodic U (:class:`potentials.PeriodicityError`), a bad
        expression, theta <= 0, a non-finite force, a period that is not positive, a bad
        option (:class:`~effcoef.EffcoefError`).
    """
    if blas_threads is None:
        return _effective(U, theta, period, force, rtol, n_modes, degree, h_scale, max_refine,
                          full_spectrum, strict, progress)
    with _blas_controller().limit(limits=int(blas_threads), user_api="blas"):
        return _effective(U, theta, period, force, rtol, n_modes, degree, h_scale, max_refine,
                          full_spectrum, strict, progress)


def _effective(U, theta, period, force, rtol, n_modes, degree, h_scale, max_refine,
               full_spectrum, strict, progress):
    theta = check_theta(theta)
    pot = as_periodic_potential(U, period)
    d = pot.dim
    F = _check_force(force, d)
    dflt = PERIODIC_DEFAULTS[d]
    degree, h_scale, rtol, max_refine = _check_options(
        dflt["degree"] if degree is None else degree,
        dflt["h_scale"] if h_scale is None else h_scale,
        dflt["rtol"] if rtol is None else rtol, n_modes,
        dflt["max_refine"] if max_refine is None else max_refine)
    if d == 1:
        res = _route_1d(pot, theta, float(F[0]), rtol, n_modes, degree, h_scale, max_refine,
                        bool(full_spectrum))
    else:
        res = _route_2d(pot, theta, F, rtol, n_modes, degree, h_scale, max_refine,
                        bool(full_spectrum), _progress(progress))
    res.potential = pot.name
    _check_accuracy(res, rtol, strict)
    return res


def _check_accuracy(res, rtol, strict):
    if not res.accurate:
        msg = (f"estimated relative error {res.rel_error_estimate:.1e} exceeds rtol={rtol:.1e} "
               f"({', '.join(f'{k}={v:.1e}' for k, v in res.error_components.items())}); "
               "refine the mesh (h_scale, degree, max_refine)")
        if strict:
            raise AccuracyError(msg)
        warnings.warn(msg, AccuracyWarning, stacklevel=4)


def periodic_point(params: dict) -> CoefficientResult:
    r"""Sweep hook: one point ``{"expression" or "potential": ..., "theta": ..., "force": ...,
    "period": ..., "friction": ..., "rtol": ..., "n_modes": ...}`` ->
    :func:`effective_coefficients` (overdamped), or :func:`underdamped_coefficients` when the
    point has a friction (``"friction"``, or ``"gamma"`` when it is not a placeholder of the
    template).

    ``expression`` may be a template with ``{name}`` placeholders filled from the other
    parameters (e.g. ``"{V0}*cos(2*pi*x)"`` with ``V0``); parameters that are not placeholders
    or options are ignored by the computation (but belong to the sweep's point id).
    ``force``/``period`` may be numbers or pairs, or given by components ``force1``,
    ``force2`` (``period1``, ``period2``) for 2D grids.  The result is what the route returns
    (its ``to_dict()`` is the sweep row).
    """
    p = dict(params)
    text = p.pop("expression", None) or p.pop("potential", None)
    if text is None:
        raise EffcoefError("a periodic sweep point needs 'expression' (U in x or x1, x2)")
    placeholders = set()
    if isinstance(text, str) and "{" in text:
        import string

        placeholders = {f[1] for f in string.Formatter().parse(text) if f[1]}
        try:   # numbers in parentheses: a negative value stays one factor
            text = text.format(**{k: (f"({v!r})" if isinstance(v, float) else v)
                                  for k, v in p.items()})
        except (KeyError, IndexError, ValueError) as exc:
            raise EffcoefError(f"cannot fill the template {text!r}: {exc}") from None
    if "theta" not in p:
        raise EffcoefError("a periodic sweep point needs 'theta'")
    for key in ("force", "period"):          # 2D components as force1, force2 / period1, ...
        if key not in p and f"{key}1" in p:
            p[key] = (p[f"{key}1"], p.get(f"{key}2", 0.0 if key == "force" else p[f"{key}1"]))
    friction = p.get("friction")
    if friction is None and "gamma" not in placeholders:
        friction = p.get("gamma")
    if friction is not None:
        kw = {k: p[k] for k in ("period", "force", "rtol") if k in p and p[k] is not None}
        if p.get("n_modes"):
            kw["n_eigenvalues"] = int(p["n_modes"])
        return underdamped_coefficients(text, p["theta"], friction, **kw)
    kw = {k: p[k] for k in ("period", "force", "rtol", "n_modes", "degree", "h_scale")
          if k in p and p[k] is not None}
    return effective_coefficients(text, p["theta"], **kw)


# ------------------------------------------------------------------------------------------
# 1D

@dataclass
class _Reflected:
    """U(-x) (for F < 0: x -> -x turns F into -F and V into -V, D unchanged); picklable."""

    pot: object

    @property
    def dim(self):
        return 1

    @property
    def period(self):
        return self.pot.period

    @property
    def name(self):
        return self.pot.name

    def U(self, X):
        return self.pot.U(-np.asarray(X, dtype=float))

    def grad(self, X):
        return -self.pot.grad(-np.asarray(X, dtype=float))

    def hess_diag(self, X):
        return self.pot.hess_diag(-np.asarray(X, dtype=float))


def _reflect(pot):
    return _Reflected(pot)


def _solve_1d(pot, theta, F, line, Umin):
    """(D, V, log_D, log_V, extra) of the exact 1D solve on ``line`` (F >= 0)."""
    if F == 0.0:
        logm = -(pot.U(line.X[None]) - Umin) / theta
        r = fp.reversible_1d(line, logm, theta)
        return math.exp(r.log_D), 0.0, r.log_D, -math.inf, r
    lw, shift = fp.log_weight_periodic(pot, theta, line.X[None], force=F)
    t = fp.tilted_1d(line, lw, theta, F, logw_fn=_LogW(pot, theta, F, shift))
    return math.exp(t.log_D), math.exp(t.log_V), t.log_D, t.log_V, t


@dataclass
class _LogW:
    """log w(x) = -(U(x) - F x)/theta - shift (picklable)."""

    pot: object
    theta: float
    F: float
    shift: float

    def __call__(self, x):
        x = np.asarray(x, dtype=float)
        return -(self.pot.U(x[None]) - self.F * x) / self.theta - self.shift


def _rounding(theta, dU, FL):
    r"""Rounding floor of the estimate: :math:`(U - F x)/\theta` carries an absolute rounding
    error of about :math:`\epsilon (1 + \Delta U/\theta + |F|L/\theta)`, inherited as a
    relative error by the weights, hence by D and V (a gap of exactly 0 between two degrees
    does not mean an exact result)."""
    return float(4 * _EPS * (1.0 + abs(dU) / theta + abs(FL) / theta))


def _rel_gap(a, b, log=False):
    if log:
        return abs(math.expm1(a - b)) if math.isfinite(a) or math.isfinite(b) else 0.0
    return relative_error(a, b)


def _route_1d(pot, theta, F, rtol, n_modes, degree, h_scale, max_refine, full_spectrum):
    L = pot.period[0]
    sign = 1.0
    work = pot
    if F < 0:
        sign, F, work = -1.0, -F, _reflect(pot)
    xs = np.linspace(0.0, L, 4097)[:-1]
    us = pot.U(xs[None])
    Umin, Umax = float(us.min()), float(us.max())
    hs = h_scale
    for it in range(max_refine + 1):
        nodes = fp.periodic_nodes(work, theta, F, h_scale=hs)
        line = fp.PeriodicLine(nodes, degree, degree + 5)
        fine = fp.PeriodicLine(nodes, degree + 2, degree + 7)
        try:
            D, V, lD, lV, sol = _solve_1d(work, theta, F, line, Umin)
            Df, Vf, lDf, lVf, _ = _solve_1d(work, theta, F, fine, Umin)
            gap = max(_rel_gap(lD, lDf, log=True),
                      _rel_gap(lV, lVf, log=True) if F != 0 else 0.0)
        except FloatingPointError:
            gap = math.inf
        if _GAP_FACTOR * gap <= rtol / 3 or it == max_refine:
            break
        hs /= 2.0
    if not math.isfinite(gap):
        raise EffcoefError(f"the mesh does not resolve exp(-U/theta) (theta = {theta:g}) even "
                           f"with h_scale = {hs:g}; lower h_scale or raise max_refine")
    comps = {"discretisation": _GAP_FACTOR * float(gap),
             "rounding": _rounding(theta, Umax - Umin, F * L)}
    method_txt = (f"max of the discretisation gap x {_GAP_FACTOR} (P{degree} vs P{degree + 2} on "
                  f"the same mesh, exact discrete cell problems in derivative coordinates, log "
                  f"space) and the rounding of (U - Fx)/theta")
    info = dict(period=L, force=sign * F, n_elements=len(nodes) - 1, degree=degree,
                h_scale=hs, refinements=it, D_fine=Df, V_fine=sign * Vf, log_D=lD,
                log_V=lV, Umin=Umin, barrier_over_theta=(Umax - Umin) / theta,
                hopping_rate=D / L ** 2)
    eig_err = None
    modes = None
    if F == 0.0:
        lam, eta, Dp, eig_err, modes, sinfo = _spectrum_1d(pot, theta, line, Umin, D, n_modes,
                                                           rtol, full_spectrum)
        info.update(sinfo)
        density = PeriodicDensity(pot, theta, "gibbs", Umin=Umin,
                                  log_Z=sol.log_Z)
    else:
        lam, eta, Dp = np.array([0.0]), None, None
        density = PeriodicDensity(pot, theta, "tilted", evaluator=sol.density,
                                  reflected=sign < 0)
        info["V_from_corrector"] = sign * math.exp(sol.log_V_corrector)
        if n_modes:
            lam, eig_err, einfo = _eigs_tilted(
                pot, theta, sign * F, line, Umin,
                PERIODIC_DEFAULTS[1]["n_modes"] if n_modes == "auto" else int(n_modes))
            info.update(einfo)
    info["density"] = density
    for name, val, lg in (("D", D, lD), ("V", V, lV)):
        if val == 0.0 and math.isfinite(lg):
            warnings.warn(f"{name} = e^{lg:.1f} underflows double precision (reported as 0); "
                          f"use res.info['log_{name}']", RuntimeWarning, stacklevel=4)
    return CoefficientResult(
        dim=1, D=float(D), K=None, V=float(sign * V), theta=theta, K_cov=None,
        eigenvalues=np.asarray(lam, dtype=float), eta=eta, omega=None, D_partial=Dp,
        K_partial=None, rel_error_estimate=float(max(comps.values())), error_components=comps,
        error_method=method_txt, rtol=rtol, domain=(0.0, L), n_dofs=line.n_dofs,
        method="periodic", D_is="completed", parity=None, eigenvalue_errors=eig_err, info=info,
        modes=modes)


@dataclass
class _Spec:
    lam: np.ndarray
    eta: np.ndarray
    omega: np.ndarray
    errors: np.ndarray
    vectors: np.ndarray
    info: dict


def _scaled_pencil(A, B, kernel):
    d = np.sqrt(B.diagonal())
    S = sparse.diags(1.0 / d)
    return (S @ A @ S).tocsc(), (S @ B @ S).tocsc(), kernel * d, 1.0 / d


def _cell_modes(A, B, kernel, k, shift, start=None, fold=False):
    """k lowest non-zero eigenpairs of A x = lam B x (kernel removed), B-orthonormal.

    1D (``fold``): the periodic band is folded (:func:`effcoef.fem_periodic.folded_order`)
    into an ordinary band and the banded shift-invert Lanczos of
    :func:`effcoef.spectrum.lanczos_modes` runs on it (with its diagonal scaling and ARPACK
    fallback); 2D: the same Lanczos with sparse LU after a diagonal scaling.  ``start``: the
    data vector; only the modes it sees are returned (Krylov space; for small problems the
    dense spectrum reduced to the data, :func:`_dense_data_modes`)."""
    from .spectrum import lanczos_modes

    n = A.shape[0]
    k = min(k, n - 2)
    if k < 1:
        return np.zeros(0), np.zeros((n, 0))
    if start is not None and n <= 3 * k + 20:
        return _dense_data_modes(A, B, kernel, k, start)
    if fold:
        order = fp.folded_order(n)
        Ab, Bb = fp.to_banded_sym(A, order), fp.to_banded_sym(B, order)
        st = None if start is None else np.asarray(start)[order]
        # exponentially close pairs (a well state and its partner at the barrier top, deep
        # wells) need more Krylov steps than the default 3k + 20 before ARPACK's fallback
        lam, Xp = lanczos_modes(Ab, Bb, k, shift=shift, kernel=kernel[order], start=st,
                                maxdim=min(n - 2, max(60, 8 * k + 20)))
        X = np.empty_like(Xp)
        X[order] = Xp
        return lam, X
    As, Bs, ks, sc = _scaled_pencil(A, B, kernel)
    st = None if start is None else np.asarray(start) / sc
    lam, X = lanczos_modes(As, Bs, k, shift=shift, kernel=ks, start=st)
    return lam, X * sc[:, None]


#: a dense-spectrum mode is "seen by the data" if its data coefficient exceeds this fraction
#: of the largest (its share of the series is then below 1e-20)
_DATA_VISIBLE = 1e-10


def _dense_data_modes(A, B, kernel, k, start):
    r"""Small problems: the dense spectrum, reduced to what the data vector ``start``
    (:math:`x_0 = B^{-1}\ell`) sees, as the Krylov space would: in each cluster of
    (numerically) equal eigenvalues the one direction :math:`\sum_j (x_j^T B x_0) x_j`, and
    no mode whose data coefficient is below ``_DATA_VISIBLE`` of the largest."""
    from scipy.linalg import eigh

    As, Bs, ks, sc = _scaled_pencil(A, B, kernel)
    lam, X = eigh(As.toarray(), Bs.toarray())
    drop = int(np.argmax(np.abs(X.T @ (Bs @ ks))))
    lam, X = np.delete(lam, drop), np.delete(X, drop, axis=1)
    X = X / np.sqrt(np.einsum("ik,ik->k", X, Bs @ X))
    c = X.T @ (Bs @ (np.asarray(start) / sc))
    out_l, out_x = [], []
    i = 0
    while i < len(lam):
        j = i + 1
        while j < len(lam) and lam[j] - lam[i] <= 1e-8 * max(abs(lam[j]), 1e-300):
            j += 1
        cc = c[i:j]
        nrm = float(np.linalg.norm(cc))
        out_l.append(float(np.mean(lam[i:j])))
        out_x.append(X[:, i:j] @ cc / nrm if nrm > 0 else X[:, i])
        out_c = nrm
        if out_c <= _DATA_VISIBLE * float(np.max(np.abs(c))):
            out_l.pop()
            out_x.pop()
        i = j
    lam = np.array(out_l[:k])
    X = np.array(out_x[:k]).T if out_x else np.zeros((A.shape[0], 0))
    return lam, X * sc[:, None]


def _data_start(mats, loads, fold=False):
    r"""Start vector :math:`B^{-1}\sum_k c_k\ell_k` (:math:`\ell_k = 	heta\int m\partial_k
    arphi_i`, :math:`c = (1, 0.618...)`): its expansion in the B-orthonormal eigenvectors
    has the coefficients :math:`x_j^T\ell`, so the Krylov space holds exactly the modes that
    carry the data (:math:`\eta_j
e 0`), the modes of the series."""
    from scipy.sparse.linalg import splu

    c = np.array([1.0, 0.6180339887498949])[:len(loads)]
    rhs = np.tensordot(c, np.asarray(loads), axes=(0, 0))
    if fold:                                   # banded Cholesky of the folded mass matrix
        from scipy.linalg import solveh_banded

        order = fp.folded_order(len(rhs))
        x = np.empty_like(rhs)
        x[order] = solveh_banded(fp.to_banded_sym(mats.B, order).ab, rhs[order])
        return x
    return splu(mats.B.tocsc()).solve(rhs)


def _spectrum(pot, theta, sp, mats, Umin, D, n_modes, rtol, full_spectrum, line=None,
              lu2d=None):
    """The cell spectrum (F = 0): the data modes (series) and the gap (both dims)."""
    d = sp.dim
    L = sp.period
    kernel = sp.kernel()
    g = [np.linspace(0, L[k], 257 if d == 1 else 65)[:-1] for k in range(d)]
    G = np.array(np.meshgrid(*g, indexing="ij")).reshape(d, -1)
    i = int(np.argmin(pot.U(G)))
    curv = float(np.mean(pot.hess_diag(G[:, i:i + 1])))
    shift = lanczos_shift(curv, theta, min(L))
    Z = mats.Z
    m = mats.w
    loads = np.array([theta * sp.load_grad(m, k) for k in range(d)])        # (d, n)
    info = {"lanczos_shift": shift}

    def normalise(lam, X):
        C = X * math.sqrt(Z)                          # int rho psi^2 = 1
        vals, _ = sp.values(C)
        for j in range(C.shape[1]):                   # sign: positive where |psi| is largest
            idx = np.unravel_index(np.argmax(np.abs(vals[j])), vals[j].shape)
            if vals[j][idx] < 0:
                C[:, j] = -C[:, j]
        err = 100 * _EPS * shift / np.maximum(np.abs(lam), 1e-300)
        return C, err

    # the gap: the lowest eigenvalue from a generic start (one Ritz value: converges even for
    # an exponentially close pair); a tunnelling mode (lam_1 < shift/10: several wells per
    # cell) is refined to relative accuracy by the exact periodic Green's operator (1D)
    refined = None
    if d == 2:            # the low spectrum below gives the gap (no separate run)
        lam_g, Cg, err_g = np.zeros(0), None, np.zeros(0)
    else:
        lam_g, Xg = _cell_modes(mats.A, mats.B, kernel, 1, shift, fold=True)
        Cg, err_g = normalise(lam_g, Xg)
    if d == 1 and len(lam_g) and lam_g[0] < 0.1 * shift:
        vals, _ = sp.values(Cg[:, :1])
        lam0, _, phi, steps, change = fp.periodic_inverse_iteration(line, m, theta, vals[0])
        if np.isfinite(lam0) and lam0 > 0:
            c0 = _to_dofs(sp, phi)
            refined = (lam0, c0, max(change, 100 * _EPS))
            lam_g[0], Cg[:, 0], err_g[0] = refined
            info.update(green_steps=steps, green_change=change)
    info["refined"] = refined is not None
    info["spectral_gap"] = float(lam_g[0]) if len(lam_g) else math.nan
    info["spectral_gap_error"] = float(err_g[0]) if len(err_g) else math.nan
    # 1D: the modes the data see (Krylov space from the data); 2D: the low spectrum (two data
    # components; degenerate pairs such as x1 <-> x2 are then counted fully)
    full_spectrum = full_spectrum or d > 1
    start = None if full_spectrum else _data_start(mats, loads, fold=(d == 1))
    BCg = mats.B @ Cg[:, :1] / Z if refined is not None else None

    def compute(N):
        if d == 2:
            lam, X = _cell_modes_lu(mats, kernel, N, lu2d[0])
        else:
            lam, X = _cell_modes(mats.A, mats.B, kernel, N, shift, start=start, fold=True)
        C, err = normalise(lam, X)
        if refined is not None:                       # the data see the tunnelling mode
            ov = np.abs(C.T @ BCg[:, 0])
            j = int(np.argmax(ov)) if len(ov) else -1
            if j >= 0 and ov[j] > 0.5:
                lam[j], C[:, j], err[j] = refined
                o = np.argsort(lam, kind="stable")
                lam, C, err = lam[o], C[:, o], err[o]
        eta = (loads @ C).T / Z                       # theta int rho grad psi_k: (k, d)
        if d == 1:
            eta = eta[:, 0]
        return _Spec(lam=lam, eta=eta, omega=eta, errors=err, vectors=C, info={})

    R_inf = theta - D if d == 1 else theta * np.eye(d) - D
    run = run_series(compute, n_modes=n_modes, default=PERIODIC_DEFAULTS[d]["n_modes"],
                     D_inf=R_inf, K_inf=R_inf, rtol=rtol, cap=min(256, sp.n_dofs - 2))
    spec = run.spectrum
    disc, gdisc = _eigen_discretisation(pot, theta, sp, Umin, spec.lam, spec.vectors, shift,
                                        refined, line, lu2d)
    if d == 2 and len(spec.lam):
        info["spectral_gap"] = float(spec.lam[0])
        info["spectral_gap_error"] = float(max(spec.errors[0], disc[0]))
    spec.errors = np.maximum(spec.errors, disc)
    if refined is not None:
        info["spectral_gap_error"] = max(info["spectral_gap_error"], gdisc)
    lam = np.concatenate([[0.0], spec.lam])
    eta = np.concatenate([np.zeros((1,) + spec.eta.shape[1:]), spec.eta])
    Dp = (theta - run.D_partial) if d == 1 else theta * np.eye(d)[None] - run.D_partial
    info.update(n_requested=run.n_requested,
                modes_listed="all low modes" if full_spectrum else
                "the modes carrying the data (eta_k != 0)")
    modes = PeriodicModes(potential=pot, theta=theta, Umin=Umin, log_Z=math.log(Z),
                          nodes=[ln.nodes for ln in sp.lines], degree=sp.degree,
                          columns=spec.vectors)
    return lam, eta, Dp, np.concatenate([[0.0], spec.errors]), modes, info


def _hierarchical_rayleigh(mats, Cf, emb, lam):
    r"""1D: the degree p+2 eigenvalues from the embedded degree-p eigenvectors x by one
    hierarchical correction: the new bubbles (degrees p+1, p+2) are element-local, so
    :math:`(A - \lambda B)_{nn}\,\delta = -(A - \lambda B)_{n\cdot}\,x` is a set of 2 x 2
    systems, and the Rayleigh quotient of :math:`x + \delta` estimates the fine eigenvalue
    (the classical hierarchical a-posteriori estimate).  Returns the values for ``sorted(lam)``."""
    n = Cf.shape[0]
    new = np.setdiff1d(np.arange(n), emb)              # 2 per element, consecutive
    A, B = mats.A.tocsr(), mats.B.tocsr()
    Ann, Bnn = A[new][:, new].toarray(), B[new][:, new].toarray()
    ne = len(new) // 2
    blk = lambda M: np.stack([M[2 * np.arange(ne) + i, 2 * np.arange(ne) + j]  # noqa: E731
                              for i in range(2) for j in range(2)], -1).reshape(ne, 2, 2)
    Ab, Bb = blk(Ann), blk(Bnn)
    An, Bn = A[new], B[new]
    o = np.argsort(lam)
    X = Cf[:, o]
    ls = np.asarray(lam)[o]
    R = -(An @ X - (Bn @ X) * ls[None, :]).reshape(ne, 2, -1).transpose(2, 0, 1)    # (k, ne, 2)
    M = Ab[None] - ls[:, None, None, None] * Bb[None]                                 # (k, ne, 2, 2)
    dlt = np.linalg.solve(M, R[..., None])[..., 0].reshape(len(ls), -1)              # (k, 2 ne)
    Y = X.copy()
    Y[new] += dlt.T
    return np.einsum("ik,ik->k", Y, A @ Y) / np.einsum("ik,ik->k", Y, B @ Y)


def _subspace_ritz(mats, Cf, solve, k):
    """2D: Rayleigh-Ritz of the embedded eigenvectors and two inverse-iteration steps of them
    (a block Krylov space of the fine space's bordered LU of the D solve: A^+ B on the
    complement of the constants)."""
    from scipy.linalg import eigh

    def step(Y):
        return np.column_stack([solve(mats.B @ Y[:, j], 0.0, refine=False)[0]
                                for j in range(Y.shape[1])])

    Y2 = step(Cf)
    Y3 = step(Y2 / np.linalg.norm(Y2, axis=0))
    Y = np.hstack([Cf, Y2, Y3])
    Gm = Y.T @ (mats.B @ Y)
    w, V = np.linalg.eigh(0.5 * (Gm + Gm.T))
    keep = w > 1e-13 * w.max()
    Q = Y @ (V[:, keep] / np.sqrt(w[keep]))            # B-orthonormal basis of the subspace
    ritz = eigh(Q.T @ (mats.A @ Q), Q.T @ (mats.B @ Q), eigvals_only=True)
    return np.sort(ritz[ritz > 1e-9 * np.max(np.abs(ritz))])[:k]


def _cell_modes_lu(mats, kernel, k, solve):
    r"""2D: the k lowest non-zero eigenpairs of A x = lam B x by ARPACK in shift-invert mode at
    0, with the bordered LU of the D solve as :math:`A^+` (it removes the constants: the
    multiplier absorbs their component), so no second factorisation is needed."""
    from scipy.sparse.linalg import LinearOperator, eigsh

    n = mats.A.shape[0]
    k = min(k, n - 2)
    OPinv = LinearOperator((n, n), matvec=lambda y: solve(np.ravel(y), 0.0, refine=False)[0],
                           dtype=float)
    v0 = np.random.default_rng(12345).standard_normal(n)
    Bk = mats.B @ kernel
    v0 -= kernel * (Bk @ v0) / (kernel @ Bk)
    nu, X = eigsh(mats.A, k=k, M=mats.B, sigma=0.0, which="LM", OPinv=OPinv, v0=v0, tol=0.0,
                  ncv=min(n, max(2 * k + 1, k + 30)))
    o = np.argsort(nu)
    lam, X = nu[o], X[:, o]
    X = X / np.sqrt(np.einsum("ik,ik->k", X, mats.B @ X))
    return lam, X


def _eigen_discretisation(pot, theta, sp, Umin, lam, C, shift, refined, line, lu2d=None):
    r"""Discretisation error indicators of the eigenvalues: estimates of the eigenvalues in the
    space of degree p + 2 (1D, :func:`_hierarchical_rayleigh`) / p + 1 (2D,
    :func:`_subspace_ritz`) on the same mesh from the embedded degree-p eigenvectors (the
    hierarchical basis embeds P_p exactly), compared with the degree-p eigenvalues, times the
    gap factor.  A refined tunnelling gap is recomputed by the fine Green's operator.
    Returns (indicators (k,), gap indicator)."""
    k = len(lam)
    if k == 0:
        return np.zeros(0), 0.0
    q = sp.degree + (2 if sp.dim == 1 else 1)
    if sp.dim == 2:                  # the degree p + 1 space, matrices and LU of the D solve
        spf, mats, fine_solve = lu2d[1], lu2d[2], lu2d[3]
        lines = spf.lines
    else:
        lines = [fp.PeriodicLine(ln.nodes, q, q + 5) for ln in sp.lines]
        spf = fp.PeriodicSpace(lines)
        logm = -(pot.U(spf.X) - Umin) / theta
        mats = fp.weighted_matrices(spf, logm, theta)
    Cf = np.zeros((spf.n_dofs, k))
    emb = fp.embed_index(sp, q)
    Cf[emb] = C
    if sp.dim == 1:
        ritz = _hierarchical_rayleigh(mats, Cf, emb, lam)
    else:
        ritz = _subspace_ritz(mats, Cf, fine_solve, k)
    lam_s = np.sort(lam)
    n = min(len(ritz), k)
    out = np.full(k, np.inf)
    factor = _GAP_FACTOR if sp.dim == 1 else _EIG_FACTOR_2D
    out[:n] = factor * np.abs(lam_s[:n] - ritz[:n]) / np.abs(lam_s[:n])
    out = out[np.argsort(np.argsort(lam))]
    gap_err = 0.0
    if refined is not None and line is not None:
        fine = lines[0]
        mf = np.exp(-(pot.U(fine.X[None]) - Umin) / theta)
        phi0 = sp.evaluate(refined[1], fine.X.ravel()).reshape(fine.X.shape)
        lf, *_ = fp.periodic_inverse_iteration(fine, mf, theta, phi0)
        gap_err = _GAP_FACTOR * abs(lf - refined[0]) / refined[0]
        j = int(np.argmin(np.abs(lam - refined[0])))
        if abs(lam[j] - refined[0]) <= 1e-12 * refined[0]:
            out[j] = max(gap_err, 100 * _EPS)
    return out, gap_err


def _no_spectrum(theta, d, why):
    """eigenvalues [0], eta [0], D_partial [theta I] (the bare diffusion, N = 0)."""
    info = dict(spectrum=why, spectral_gap=math.nan)
    if d == 1:
        return np.array([0.0]), np.array([0.0]), np.array([theta]), np.array([0.0]), None, info
    return (np.array([0.0]), np.zeros((1, d)), theta * np.eye(d)[None], np.array([0.0]), None,
            info)


def _spectrum_1d(pot, theta, line, Umin, D, n_modes, rtol, full_spectrum):
    if n_modes == 0:
        return _no_spectrum(theta, 1, "not computed (n_modes=0)")
    logm = -(pot.U(line.X[None]) - Umin) / theta
    if float(np.min(logm)) < -_LOG_UNDERFLOW:
        info = dict(spectrum=f"skipped: exp(-(U - Umin)/theta) drops to e^{np.min(logm):.0f} "
                             "(the weighted matrices underflow); D is exact in log space",
                    spectral_gap=math.nan)
        return np.array([0.0]), np.array([0.0]), np.array([theta]), np.array([0.0]), None, info
    sp = fp.PeriodicSpace([line])
    mats = fp.weighted_matrices(sp, logm, theta)
    return _spectrum(pot, theta, sp, mats, Umin, D, n_modes, rtol, full_spectrum, line=line)


def _to_dofs(sp, phi):
    """Dof vector of an FE function given at the quadrature points (L2 projection)."""
    from scipy.sparse.linalg import spsolve

    mats = fp.weighted_matrices(sp, np.zeros_like(sp.dx), 1.0)
    return spsolve(mats.B.tocsc(), sp.load(phi))


def _eigs_tilted(pot, theta, F, line_or_space, Umin, k):
    """Leading eigenvalues of -L (F != 0) by ARPACK eigs (shift-invert, negative real shift)."""
    from scipy.sparse.linalg import LinearOperator, eigs, splu

    sp = line_or_space if isinstance(line_or_space, fp.PeriodicSpace) \
        else fp.PeriodicSpace([line_or_space])
    F = np.atleast_1d(np.asarray(F, dtype=float))
    logm = -(pot.U(sp.X) - Umin) / theta
    if float(np.min(logm)) < -_LOG_UNDERFLOW:
        return np.array([0.0]), np.array([0.0]), {
            "spectrum": "skipped: the weighted matrices underflow", "spectral_gap": math.nan}
    mats = fp.weighted_matrices(sp, logm, theta, advection=True)
    Cf = sum(Fk * Ck for Fk, Ck in zip(F, mats.C) if Fk != 0.0)
    G = (mats.A - Cf.T).tocsc()
    n = G.shape[0]
    k = int(min(k + 1, n - 2))
    dB = np.sqrt(mats.B.diagonal())
    S = sparse.diags(1.0 / dB)
    Gs, Bs = (S @ G @ S).tocsc(), (S @ mats.B @ S).tocsc()
    curv = float(np.max(np.abs(pot.hess_diag(sp.X))))
    shift = max(curv, 10 * theta / sp.period[0] ** 2, float(np.max(np.abs(F))) ** 2 / theta)
    lu = splu((Gs + shift * Bs).tocsc())
    OPinv = LinearOperator((n, n), matvec=lambda y: lu.solve(np.asarray(y, dtype=complex)
                                                             if np.iscomplexobj(y) else
                                                             np.asarray(y, dtype=float)),
                           dtype=float)
    v0 = np.random.default_rng(12345).standard_normal(n)
    vals = eigs(Gs, k=k, M=Bs, sigma=-shift, which="LM", OPinv=OPinv, v0=v0,
                return_eigenvectors=False, tol=1e-13)
    vals = np.asarray(vals)
    i0 = int(np.argmin(np.abs(vals)))
    rest = np.delete(vals, i0)
    rest = rest[np.lexsort((rest.imag, rest.real))]
    lam = np.concatenate([[0.0 + 0.0j], rest])
    err = np.concatenate([[0.0], 1e3 * _EPS * shift / np.maximum(np.abs(rest), 1e-300)])
    info = {"eigenvalues_complex": lam, "eigenvalues_imag": [float(x) for x in lam.imag],
            "spectral_gap": float(lam[1].real) if len(lam) > 1 else math.nan,
            "eigs_shift": shift}
    return lam.real.copy(), err, info


# ------------------------------------------------------------------------------------------
# 2D

def _solve_2d(pot, theta, F, nodes, degree, Umin, want_mats=False):
    lines = [fp.PeriodicLine(n, degree, degree + 4) for n in nodes]
    sp = fp.PeriodicSpace(lines)
    logm = -(pot.U(sp.X) - Umin) / theta
    if float(np.min(logm)) < -_LOG_UNDERFLOW:
        raise EffcoefError(f"exp(-(U - Umin)/theta) drops to e^{np.min(logm):.0f} on the cell: "
                           "the 2D weighted matrices underflow double precision (barrier "
                           f"{-np.min(logm):.0f} theta); raise theta")
    nonzero = bool(np.any(F != 0.0))
    mats = fp.weighted_matrices(sp, logm, theta, advection=nonzero)
    solve = None
    if nonzero:
        V, D, q, chi, res = fp.effective_from_fe(mats, theta, F)
    else:
        # F = 0: q = 1/Z, V = 0; A chi_k = -theta int m d_k phi (bordered by int m chi = 0)
        kernel = sp.kernel()
        b1 = mats.B @ kernel
        solve = fp.bordered_lu(mats.A.tocsc(), b1, b1)
        chis = []
        for k in range(2):
            chi_k, _ = solve(-theta * sp.load_grad(mats.w, k), 0.0)
            chis.append(chi_k)
        chi = np.array(chis)
        _, gchi = sp.values(chi.T)
        J = gchi.reshape(2, 2, -1) + np.eye(2)[:, :, None]
        rho = (mats.w / mats.Z).ravel() * sp.dx.ravel()
        D = theta * np.einsum("kjq,ljq,q->kl", J, J, rho)
        V = np.zeros(2)
        q = kernel / mats.Z
        r = [np.linalg.norm(mats.A @ c + theta * sp.load_grad(mats.w, k)) /
             max(np.linalg.norm(theta * sp.load_grad(mats.w, k)), 1e-300)
             for k, c in enumerate(chi)]
        res = float(max(r))                           # relative residual of the solves
    return sp, mats, V, D, q, chi, res, solve


def _route_2d(pot, theta, F, rtol, n_modes, degree, h_scale, max_refine, full_spectrum,
              report):
    L = pot.period
    g = [np.linspace(0, L[k], 129)[:-1] for k in range(2)]
    G = np.array(np.meshgrid(*g, indexing="ij"))
    Ug = pot.U(G)
    Umin, Umax = float(Ug.min()), float(Ug.max())
    hs = h_scale
    tilted = bool(np.any(F != 0))
    done = False
    for it in range(max_refine + 1):
        nodes = fp.periodic_tensor_nodes(pot, theta, F, h_scale=hs)
        p = degree
        cur = _solve_2d(pot, theta, F, nodes, p, Umin)
        while True:
            report(f"mesh {len(nodes[0]) - 1}x{len(nodes[1]) - 1}, Q{p} vs Q{p + 1}",
                   min(0.85, (it + (p - degree) / 8) / (max_refine + 1)))
            nxt = _solve_2d(pot, theta, F, nodes, p + 1, Umin)
            sp, mats, V, D, q, chi, res, solve = cur
            Vf, Df = nxt[2], nxt[3]
            scaleV = max(float(np.linalg.norm(V)), 1e-300)
            gap = max(relative_error(D, Df),
                      float(np.linalg.norm(V - Vf)) / scaleV if tilted else 0.0)
            if _GAP_FACTOR * gap <= rtol / 3:
                done = True
                break
            if p + 1 >= _MAX_DEGREE_2D or nxt[0].n_dofs > _MAX_DOFS_2D:
                break
            cur, p = nxt, p + 1            # p-refinement: the Q(p+1) solve is reused
        if done or it == max_refine or nxt[0].n_dofs > _MAX_DOFS_2D:
            break
        hs /= 2.0
    degree = p
    comps = {"discretisation": _GAP_FACTOR * float(gap), "linear_solve": float(res),
             "rounding": _rounding(theta, Umax - Umin, float(np.dot(np.abs(F), L)))}
    method_txt = (f"max of the discretisation gap x {_GAP_FACTOR} (Q{degree} vs Q{degree + 1} on "
                  f"the same mesh, "
                  f"sparse LU of the bordered cell problems), the relative residual of the solves "
                  f"and the rounding of (U - F.x)/theta")
    info = dict(period=L, force=tuple(float(x) for x in F), n_elements=sp.n_elements,
                degree=degree, h_scale=hs, refinements=it, D_fine=Df, V_fine=Vf, Umin=Umin,
                barrier_over_theta=(Umax - Umin) / theta)
    eig_err, modes, eta, Dp = None, None, None, None
    lam = np.array([0.0])
    if np.all(F == 0.0) and n_modes == 0:
        lam, eta, Dp, eig_err, modes, sinfo = _no_spectrum(theta, 2, "not computed (n_modes=0)")
        info.update(sinfo)
        density = PeriodicDensity(pot, theta, "gibbs", Umin=Umin, log_Z=math.log(mats.Z))
    elif np.all(F == 0.0):
        report("cell spectrum", 0.9)
        lam, eta, Dp, eig_err, modes, sinfo = _spectrum(pot, theta, sp, mats, Umin, D,
                                                        n_modes, rtol, full_spectrum,
                                                        lu2d=(solve, nxt[0], nxt[1], nxt[7]))
        info.update(sinfo)
        density = PeriodicDensity(pot, theta, "gibbs", Umin=Umin, log_Z=math.log(mats.Z))
    else:
        density = PeriodicDensity(pot, theta, "fe", Umin=Umin, nodes=[ln.nodes for ln in sp.lines],
                                  degree=degree, q=q)
        if n_modes:
            report("eigs", 0.9)
            lam, eig_err, einfo = _eigs_tilted(
                pot, theta, F, sp, Umin,
                PERIODIC_DEFAULTS[2]["n_modes"] if n_modes == "auto" else int(n_modes))
            info.update(einfo)
    info["density"] = density
    report("done", 1.0)
    return CoefficientResult(
        dim=2, D=np.asarray(D), K=None, V=np.asarray(V), theta=theta, K_cov=None,
        eigenvalues=np.asarray(lam, dtype=float), eta=eta, omega=None, D_partial=Dp,
        K_partial=None, rel_error_estimate=float(max(comps.values())), error_components=comps,
        error_method=method_txt, rtol=rtol, domain=((0.0, 0.0), tuple(L)), n_dofs=sp.n_dofs,
        method="periodic", D_is="completed", parity=None, eigenvalue_errors=eig_err, info=info,
        modes=modes)
