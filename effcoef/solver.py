r"""The router :func:`coefficients` and the one-dimensional route (paper 004, Steps 1-5).

For :math:`Q(f) = \partial_v(W'f + \theta\partial_v f)` with Maxwellian
:math:`M = e^{-W/\theta}/Z` and mean velocity :math:`\mathcal V = \int vM`,

.. math::
   D = -\int (v-\mathcal V)\chi, \quad Q(\chi) = (v-\mathcal V)M, \qquad
   K = -\int (v-\mathcal V)\kappa, \quad Q(\kappa) = \tfrac1\theta W' M .

With the eigenpairs :math:`(\lambda_k, \Psi_k)` of
:math:`\mathcal H = -\theta\partial_v^2 + \Phi` and the Fourier coefficients
of the data :math:`h_\chi = -(v-\mathcal V)\sqrt M`,
:math:`h_\kappa = -\tfrac1\theta W'\sqrt M`,

.. math::
   \eta_k = \int h_\chi\Psi_k, \quad \omega_k = \int h_\kappa\Psi_k, \qquad
   D^N = \sum_{k=1}^N \frac{\eta_k^2}{\lambda_k}, \quad
   K^N = \sum_{k=1}^N \frac{\eta_k\,\omega_k}{\lambda_k}
   \qquad\text{(paper 004, eq. 3.6 / 4.1).}

How the 1D route computes (``method="weighted"``, the default): see
:mod:`effcoef.fem1d` and :mod:`effcoef.spectrum`.  In short: the interval is
the convex hull of :math:`\{(W-W_{\min})/\theta \le \mathrm{tail}\}`; a
symmetric potential is split into its odd sector (where the data live and
:math:`\lambda_1` is a simple ground state, Dirichlet at 0) and its even
sector (only needed to report the full spectrum); the kernel is removed
exactly; an exponentially small :math:`\lambda_1` is refined by
positivity-preserving inverse iteration with the Green's operator.
:math:`\omega_k` is evaluated as :math:`-\int M\varphi_k'` (integration by
parts of :math:`-\tfrac1\theta\int W' M\varphi_k`, no cancellation).

The reported ``D``, ``K`` are the completed values :math:`D^\infty = \ell^T A^{-1}\ell`
(the exact discrete Poisson solution, computed by the Green's operator, i.e. the
:math:`N\to\infty` limit of the discrete series) and
:math:`K^\infty = \tfrac1\theta\int(v-\mathcal V)^2M`; the truncated series are
``D_series``, ``K_series`` (see :mod:`effcoef.results`).

Error estimate of D and K: the largest of
(i) the discretisation gap between :math:`(D^\infty, K^\infty)` at element
degree p and at degree p+2 on the same mesh (for a resolved mesh the p+2
solution is far more accurate, so the gap estimates the degree-p error);
(ii) the domain truncation (mass beyond the interval ends).
Each eigenvalue has its own indicator (``eigenvalue_errors``): the last relative change
of the inverse iteration for a refined tunnelling mode, :math:`100\,\epsilon s/\lambda`
for the Lanczos modes (s the shift).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable, Optional, Sequence, Union

import numpy as np
from threadpoolctl import ThreadpoolController

from potentials import AnyPotential

from .domain import (
    LOG_UNDERFLOW,
    cut_bound,
    rounding_floor,
    scaled,
    select_interval,
    shifted_interval,
    with_ends,
)
from .errors import AccuracyError, AccuracyWarning, EffcoefError
from .fem1d import adapted_nodes, evaluate_fe, green_solve, schrodinger_fe, weighted_fe
from .operator import check_theta, log_weight, sqrt_maxwellian
from .results import CoefficientResult, relative_error
from .series import lanczos_shift, run_series
from .spectrum import green_inverse_iteration, lanczos_modes

__all__ = ["coefficients", "CoefficientResult", "ROUTE_DEFAULTS"]

_EPS = np.finfo(float).eps
_CONTROLLER = []

#: Per-route defaults and the options each route uses (one table).  An option given
#: explicitly (not None) to a route that does not use it raises EffcoefError.
ROUTE_DEFAULTS = {
    "weighted": dict(degree=8, h_scale=1.5, tail=45.0, rtol=1e-8, eigensolver="lanczos",
                     full_spectrum=False, options={"n_modes", "degree", "h_scale", "tail",
                                                   "rtol", "full_spectrum", "domain",
                                                   "n_elements", "eigensolver"}),
    "schrodinger": dict(degree=10, n_modes=20, n_elements=1000, intorder=21, rtol=1e-8,
                        options={"n_modes", "degree", "domain", "n_elements", "intorder",
                                 "rtol"}),
    "radial": dict(degree=8, h_scale=1.5, tail=45.0, rtol=1e-8, eigensolver="lanczos",
                   options={"n_modes", "degree", "h_scale", "tail", "rtol", "eigensolver"}),
    # general potentials, d = 2, 3 (effcoef.fend): degree None = raised from 8 (2D) / 6 (3D)
    # until the gap to degree p - 2 is below rtol; h_scale None = 4 (2D) /
    # 12 (3D) curvature lengths per element
    "fe2d": dict(degree=None, h_scale=None, tail=30.0, rtol=1e-8, eigensolver="lanczos",
                 frame="auto", options={"n_modes", "degree", "h_scale", "tail", "rtol",
                                        "eigensolver", "frame"}),
    "fe3d": dict(degree=None, h_scale=None, tail=30.0, rtol=1e-6, eigensolver="lanczos",
                 frame="auto", options={"n_modes", "degree", "h_scale", "tail", "rtol",
                                        "eigensolver", "frame"}),
    # W = sum_i W_i(v_i) read off the expression tree (effcoef.separable): d 1D problems with
    # the 1D route's defaults (method="general" forces the route above instead)
    "separable": dict(degree=8, h_scale=None, tail=45.0, rtol=1e-8, eigensolver="lanczos",
                      options={"n_modes", "degree", "h_scale", "tail", "rtol", "eigensolver"}),
}
#: default number of modes in the series: odd sector of a symmetric 1D potential / others
N_DEFAULT = {"weighted_symmetric": 12, "weighted": 16, "radial": 12, "fe2d": 12, "fe3d": 12}


def _blas_controller():
    """One ThreadpoolController per process (inspecting the loaded libraries costs ~2 ms)."""
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


# ------------------------------------------------------------------------------------------
# the router

def coefficients(potential: AnyPotential, theta: Optional[float] = None, *,
                 n_modes: Union[None, int, str] = None, degree: Optional[int] = None,
                 h_scale: Optional[float] = None, tail: Optional[float] = None,
                 rtol: Optional[float] = None, strict: bool = False,
                 method: Optional[str] = None, full_spectrum: Optional[bool] = None,
                 domain: Optional[Sequence[float]] = None, n_elements: Optional[int] = None,
                 intorder: Optional[int] = None,
                 eigensolver: Optional[str] = None, frame: Optional[str] = None,
                 blas_threads: Optional[int] = 1,
                 progress: Union[None, bool, Callable[..., object]] = None) -> CoefficientResult:
    r"""Effective diffusion D and drift K of :math:`Q(f) = \nabla\cdot(\nabla W f + \theta\nabla f)`.

    One function for every dimension; the route follows the potential (defaults in
    :data:`ROUTE_DEFAULTS`):

    * a 1D ``potentials.Potential``: the weighted 1D finite elements (``method="weighted"``,
      degree 8, ``h_scale`` 1.5, tail 45, rtol 1e-8) or the paper's plain Schrödinger
      discretisation (``method="schrodinger"``: 1000 uniform P10 elements, quadrature
      degree 21, 20 modes);
    * a ``potentials.RadialPotential`` (d = 2, 3): the l = 1 channel on [0, R]
      (:mod:`effcoef.radial`, same defaults as 1D);
    * a ``potentials.PotentialND`` with d = 2 or 3 whose expression tree shows that W
      depends on :math:`|v - c|^2` only (:func:`potentials.nd.radial_profile`, exact): the
      radial route with the profile :math:`w(r) = W(c + r e_1)` about its centre c; one that
      is a sum of 1D parts, in the axes or in turned orthonormal axes
      (:func:`potentials.nd.separable_parts`, :func:`potentials.nd.turned_separable_parts`):
      d 1D problems, rotated back exactly (route ``separable``);
    * any other ``potentials.PotentialND`` with d = 2 or 3 (or ``method="general"``):
      tensor-product spectral elements (:mod:`effcoef.fend`, routes ``fe2d`` / ``fe3d``:
      tail 30, rtol 1e-8 in 2D and 1e-6 in 3D, the degree raised until the p - 2 / p gap is
      below rtol).

    Every route returns :class:`~effcoef.results.CoefficientResult` (the contract is in
    :mod:`effcoef.results`): ``D``, ``K`` are the completed coefficients (exact discrete
    Poisson solutions), ``D_series``, ``K_series`` the truncated series.

    Parameters
    ----------
    potential : potentials.Potential, RadialPotential or PotentialND
        W with its derivatives (see the ``potentials`` package).
    theta : float, optional
        Temperature; defaults to ``potential.theta`` (set by the paper's families).
    n_modes : int, "auto" or None
        Number N of eigenpairs in the series (3.6) (for symmetric 1D potentials: of the odd
        sector, see ``full_spectrum``).  None: the route's default (12 odd modes, 16 without
        symmetry, 12 radial and 2D).  ``"auto"``: grow N until the series alone reaches
        ``rtol / 10`` (:func:`effcoef.series.run_series`).
    degree : int
        Polynomial degree p of the elements (scikit-fem ``ElementLinePp`` in 1D; the
        tensor-product GLL elements of :mod:`effcoef.tensorfe` in 2D, 3D, where None raises p
        automatically).
    h_scale : float
        Element size in units of the local length scale (see
        :func:`effcoef.fem1d.adapted_nodes`); smaller is finer.
    tail : float
        The interval is where :math:`(W - W_{\min})/\theta \le` ``tail``.
    rtol : float
        Requested relative accuracy of D and K; a larger error estimate gives an
        :class:`~effcoef.AccuracyWarning` (or :class:`~effcoef.AccuracyError` if ``strict``).
    method : {"weighted", "schrodinger", "general"}, optional
        1D only: ``"schrodinger"`` is the paper's plain discretisation of
        :math:`\mathcal H` with Dirichlet conditions (baseline).  d = 2, 3: ``"general"``
        takes the tensor-product elements even for a radial or separable W.
    full_spectrum : bool
        Symmetric 1D W only.  By default only the odd sector is computed: it carries all the
        data (:math:`\eta_k = \omega_k = 0` for even modes), so ``eigenvalues`` lists
        :math:`\lambda_1, \lambda_3, \dots` (``parity`` -1) and N counts odd modes.  With
        ``True`` the even sector is added: ``eigenvalues`` is then the whole low spectrum of
        :math:`\mathcal H` and N counts all modes, as in the paper's figures.
    domain : (a, b), optional
        1D: override the automatic interval (``schrodinger``: the paper uses (-10, 10)).
    n_elements : int, optional
        1D: uniform mesh with this many elements instead of the adapted mesh.
    intorder : int, optional
        Quadrature degree (``schrodinger`` only; the paper uses 21).
    eigensolver : {"lanczos", "arpack"}
        ``"lanczos"``: shift-invert Lanczos with full re-orthogonalisation (banded Cholesky
        solves in 1D; ARPACK as fallback); ``"arpack"``: ``scipy.sparse.linalg.eigsh`` on the
        same shift-invert operator (the 2D default).
    frame : {"auto", "axes"}
        d = 2, 3, tensor-product elements: ``"auto"`` meshes in turned axes (principal axes
        of the Hessian at the minimum or of Cov_M) when that needs fewer elements; ``"axes"``
        never turns.  Given, it selects those elements (as ``method="general"``) for a W that
        would otherwise be solved as 1D problems.
    blas_threads : int or None
        BLAS threads used inside the call (threadpoolctl).  The 1D matrices are small, and
        multi-threaded BLAS on them is up to 10x slower; ``None`` leaves the process alone.
    progress : bool or callable, optional
        Progress of long solves (d = 2, 3): True prints stages with a time estimate to stderr
        once the solve has run for 2 s, a callable receives ``(stage, fraction)``.  Routes
        that finish in milliseconds ignore it.

    Returns
    -------
    CoefficientResult

    Raises
    ------
    ValueError
        Bad input (``theta``, an option the route does not use, a non-confining potential:
        ``potentials.NonConfiningError``), with a one-line reason.
    AccuracyError
        With ``strict=True``, when the error estimate exceeds ``rtol``.
    """
    kw = locals()
    # floating-point events (exp underflow in the tails, inf in far cells) are handled
    # explicitly; numpy's RuntimeWarnings would only leak noise to the user's terminal
    with np.errstate(all="ignore"):
        if blas_threads is None:
            return _route(potential, theta, kw)
        with _blas_controller().limit(limits=int(blas_threads), user_api="blas"):
            return _route(potential, theta, kw)


_OPTION_NAMES = ("n_modes", "degree", "h_scale", "tail", "rtol", "full_spectrum", "domain",
                 "n_elements", "intorder", "eigensolver", "frame")


def route_of(potential, method=None) -> str:
    """The route name for a potential: ``weighted``/``schrodinger`` (1D), ``radial``,
    ``separable``, ``fe2d``, ``fe3d``."""
    return _routing(potential, method)[0]


def _routing(potential, method):
    """``(route, structure)``: the route and what the expression tree showed (the
    :class:`potentials.nd.RadialForm` of a radial expression, ``(frame, parts)`` of a
    separable one; None otherwise), read once."""
    dim = int(getattr(potential, "dim", 1))
    if dim == 1:
        m = "weighted" if method is None else method
        if m not in ("weighted", "schrodinger"):
            raise EffcoefError(f"unknown method {m!r} (use 'weighted' or 'schrodinger')")
        return m, None
    if method not in (None, "weighted", "general"):
        raise EffcoefError(f"method {method!r} exists in 1D only (dimension {dim} uses the "
                           "weighted formulation; method='general' forces the general "
                           "finite elements for a separable W)")
    if hasattr(potential, "profile"):
        return "radial", None
    if dim in (2, 3):
        if method != "general":
            from potentials.nd import radial_profile, separable_parts, turned_separable_parts
            # W read off its expression tree (exactly): |v - c|^2 only -> the radial route
            # (l = 1 channel, milliseconds at 1e-10), a sum of 1D parts (in the axes or in
            # turned orthonormal axes) -> d 1D problems
            form = radial_profile(potential)
            if form is not None:
                return "radial", form
            parts = separable_parts(potential)
            if parts is not None:
                return "separable", (None, parts)
            turned = turned_separable_parts(potential)
            if turned is not None:
                return "separable", turned
        return f"fe{dim}d", None
    raise EffcoefError(f"general potentials are supported in dimension 2 and 3, got {dim}")


def _route(potential, theta, kw):
    method = kw["method"]
    if method is None and kw["frame"] is not None and not hasattr(potential, "profile") \
            and int(getattr(potential, "dim", 1)) in (2, 3):
        method = "general"        # a mesh frame asks for the tensor-product elements
    route, structure = _routing(potential, method)
    if theta is None:
        theta = getattr(potential, "theta", None)
        if theta is None:
            raise ValueError("theta is required (this potential has no default temperature)")
    theta = check_theta(theta)
    table = ROUTE_DEFAULTS[route]
    unused = [k for k in _OPTION_NAMES if kw[k] is not None and k not in table["options"]]
    if unused:
        raise EffcoefError(f"option(s) {', '.join(unused)} not used by the {route} route "
                           f"(it uses {', '.join(sorted(table['options']))})")
    opt = {k: (kw[k] if kw[k] is not None else table.get(k)) for k in _OPTION_NAMES}
    _validate(opt)
    strict = bool(kw["strict"])
    if route == "weighted":
        res = _weighted(potential, theta, opt, kw["progress"], auto_mesh=kw["h_scale"] is None)
    elif route == "schrodinger":
        res = _schrodinger(potential, theta, opt)
    elif route == "separable":
        from .separable import separable_coefficients
        frame, parts = structure
        res = separable_coefficients(
            potential, parts, theta, frame=frame, rtol=opt["rtol"],
            **{k: opt[k] for k in ("n_modes", "degree", "tail", "eigensolver")},
            **({} if kw["h_scale"] is None else {"h_scale": opt["h_scale"]}))
    elif route == "radial":
        from .radial import radial_coefficients
        form = structure
        if form is not None:
            # an expression in v1, ..., vd that is radial (_routing): its profile w(r)
            from potentials import radial_from_expression
            potential = radial_from_expression(form.profile, potential.dim,
                                               name=getattr(potential, "name", None))
        res = radial_coefficients(potential, theta, n_modes=opt["n_modes"], degree=opt["degree"],
                                  h_scale=opt["h_scale"], tail=opt["tail"], rtol=opt["rtol"],
                                  eigensolver=opt["eigensolver"])
        if form is not None:
            # W(v) = w(|v - c|): D, K, the spectrum do not depend on the centre; V = c
            res.V = np.asarray(form.center, dtype=float)
            if res.modes is not None:
                res.modes.center = res.V.copy()
            res.info["radial_profile"] = form.profile
            res.info["radial_center"] = form.center
            res.error_method = (f"(W = w(|v - c|) read off its expression tree, w(r) = "
                                f"{form.profile}, c = {form.center}) " + res.error_method)
    else:
        from .fend import fend_coefficients
        res = fend_coefficients(potential, theta, n_modes=opt["n_modes"], degree=opt["degree"],
                                h_scale=opt["h_scale"], tail=opt["tail"], rtol=opt["rtol"],
                                eigensolver=opt["eigensolver"], frame=opt["frame"],
                                progress=kw["progress"])
    res.potential = str(getattr(potential, "name", ""))
    _check_accuracy(res, opt["rtol"], strict)
    return res


def _validate(opt):
    """One-line errors for bad numerical options."""
    deg = opt["degree"]
    if deg is not None:
        if isinstance(deg, bool) or int(deg) != deg or int(deg) < 2:
            raise EffcoefError(f"degree must be an integer >= 2, got {deg!r}")
        opt["degree"] = int(deg)
    h = opt["h_scale"]
    if h is not None and not (isinstance(h, (int, float)) and math.isfinite(h) and h > 0):
        raise EffcoefError(f"h_scale must be a positive number, got {h!r}")
    t = opt["tail"]
    if t is not None and not (isinstance(t, (int, float)) and math.isfinite(t) and 5 <= t <= 600):
        raise EffcoefError(f"tail must be in [5, 600] (log-mass cut), got {t!r}")
    r = opt["rtol"]
    if not (isinstance(r, (int, float)) and not isinstance(r, bool) and math.isfinite(r)
            and r > 0):
        raise EffcoefError(f"rtol must be a positive number, got {r!r}")
    n = opt["n_modes"]
    if n is not None and n != "auto":
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or int(n) < 1:
            raise EffcoefError(f"n_modes must be an integer >= 1, None or 'auto', got {n!r}")
    e = opt["eigensolver"]
    if e is not None and e not in ("lanczos", "arpack"):
        raise EffcoefError(f"unknown eigensolver {e!r} (use 'lanczos' or 'arpack')")
    f = opt["frame"]
    if f is not None and f not in ("auto", "axes"):
        raise EffcoefError(f"frame must be 'auto' or 'axes', got {f!r}")
    ne = opt["n_elements"]
    if ne is not None and (isinstance(ne, bool) or int(ne) != ne or int(ne) < 1):
        raise EffcoefError(f"n_elements must be a positive integer, got {ne!r}")


def _check_accuracy(res, rtol, strict):
    """AccuracyWarning (AccuracyError if strict) when the estimate exceeds rtol."""
    if not res.accurate:
        msg = (f"estimated relative error {res.rel_error_estimate:.1e} exceeds rtol={rtol:.1e} "
               f"({', '.join(f'{k}={v:.1e}' for k, v in res.error_components.items())}); "
               "refine the mesh (h_scale, degree) or widen the domain")
        if strict:
            raise AccuracyError(msg)
        warnings.warn(msg, AccuracyWarning, stacklevel=4)


# ------------------------------------------------------------------------------------------
# 1D: eigenfunctions (picklable: plain data and the potential)

@dataclass
class Modes1D:
    r"""Evaluator of :math:`\Psi_k = \sqrt M\,\varphi_k` of the 1D weighted route.

    ``sectors``: (nodes, degree, dirichlet_left, parity) per sector; ``columns[k-1]`` =
    (sector index, dof vector of :math:`\varphi_k`) for k = 1..n.  Half-line sectors
    (symmetric W) are extended by parity.
    """

    potential: object
    theta: float
    Wmin: float
    log_Z: float
    interval: tuple
    sectors: list
    columns: list
    center: float = 0.0           # the route solved in u = (v - center)/scale (extreme scales)
    scale: float = 1.0

    def sqrt_m(self, v):
        a, b = self.interval
        inside = (v >= a) & (v <= b)
        out = np.zeros_like(v)
        out[inside] = sqrt_maxwellian(self.potential, self.theta, v[inside], self.Wmin,
                                      self.log_Z)
        return out

    def __call__(self, v):
        v = np.atleast_1d(np.asarray(v, dtype=float))
        if self.scale != 1.0 or self.center != 0.0:
            u = (v - self.center) / self.scale
            return self._eval(u) / math.sqrt(self.scale)
        return self._eval(v)

    def _eval(self, v):
        s = self.sqrt_m(v)
        rows = [s]
        for isec, c in self.columns:
            nodes, degree, dleft, parity = self.sectors[isec]
            half = parity != 0
            x = np.abs(v) if half else v
            inside = (x >= nodes[0]) & (x <= nodes[-1])
            phi = np.zeros_like(v)
            if np.any(inside):
                phi[inside] = evaluate_fe(nodes, degree, dleft, c, x[inside])
            if half and parity < 0:
                phi = np.where(v < 0, -phi, phi)
            rows.append(s * phi)
        return np.array(rows)


# ------------------------------------------------------------------------------------------
# 1D weighted route

@dataclass
class _Spectrum:
    lam: np.ndarray
    eta: np.ndarray
    omega: np.ndarray
    parity: np.ndarray
    errors: np.ndarray
    columns: list
    info: dict


def _sector_modes(fe, k, shift, *, data, refine, kernel, eigensolver="lanczos"):
    """Eigenpairs of one sector: values, Fourier coefficients, dof vectors, indicators."""
    lam, C, indicator = lanczos_modes(fe.A, fe.B, k, shift=shift, kernel=kernel,
                                      engine=eigensolver, errors=True)
    C = C * math.sqrt(fe.Z)                      # int M phi^2 = 1 with M = m / Z
    vals, ders = fe.values(C)
    info = {"refined": False}
    if refine and k >= 1 and (k == 1 or lam[0] < 0.1 * lam[1]):
        lam0, g, phi, steps, change = green_inverse_iteration(fe, vals[0])
        lam[0], vals[0], ders[0] = lam0, phi, g
        C[:, 0] = fe.to_dofs(phi)
        info.update(refined=True, green_steps=steps, green_change=change)
        indicator[0] = max(change, 100 * _EPS)
    for j in range(k):                          # sign: positive where |phi| is largest
        i = np.unravel_index(np.argmax(np.abs(vals[j])), vals[j].shape)
        if vals[j][i] < 0:
            vals[j], ders[j], C[:, j] = -vals[j], -ders[j], -C[:, j]
    if data is None:
        eta = np.zeros(k)
        omega = np.zeros(k)
    else:
        eta = -np.array([fe.mean(data * vals[j]) for j in range(k)])
        omega = -np.array([fe.mean(ders[j]) for j in range(k)])
    return lam, eta, omega, C, indicator, info


def _mesh(potential, theta, lo, hi, h_scale, n_elements, fixed, samples=None):
    if n_elements is not None:
        nodes = np.linspace(lo, hi, int(n_elements) + 1)
        h = (hi - lo) / int(n_elements)
        extra = [x for x in fixed if lo < x < hi and np.min(np.abs(nodes - x)) > 1e-9 * h]
        return np.unique(np.concatenate([nodes, extra]))
    return adapted_nodes(potential, theta, lo, hi, h_scale=h_scale, fixed=fixed,
                         samples=samples)


def _weighted(potential, theta, opt, progress=None, auto_mesh=True):
    """The 1D weighted route: choose the interval (effcoef.domain), solve, bound the cut.

    While the cut bound exceeds rtol/3 on an automatic interval the target is lowered
    (twice at most); while the discretisation gap exceeds rtol/3 on the automatic mesh
    (``h_scale`` not given) the mesh is refined by the factor the p-th order rate predicts
    (three times at most)."""
    rtol = opt["rtol"]
    target = rtol / 20
    opt = dict(opt)
    for attempt in range(6):
        iv = select_interval(potential, theta, target=target, tail=opt["tail"])
        if opt["domain"] is not None:
            a, b = float(opt["domain"][0]), float(opt["domain"][1])
            if not (math.isfinite(a) and math.isfinite(b) and a < b):
                raise EffcoefError(f"domain must be an interval (a, b) with a < b, got "
                                   f"({a}, {b})")
            iv = with_ends(iv, a, b)
        if potential.symmetric and iv.a != -iv.b:
            # the symmetric sectors live on [-hi, hi]: bound what that interval cuts (and
            # its 1/m integral), not a slightly asymmetric one
            hi = max(-iv.a, iv.b)
            iv = with_ends(iv, -hi, hi)
        res = _weighted_scaled(potential, theta, opt, iv)
        comps = res.error_components
        if opt["domain"] is None and comps["domain"] > rtol / 3 and target > rtol * 1e-9:
            target *= 1e-4
            continue
        gap = comps["discretisation"]
        if auto_mesh and opt["n_elements"] is None and gap > rtol / 3 and \
                opt["h_scale"] > 0.05 and attempt < 5:
            p = opt["degree"]
            opt["h_scale"] /= float(np.clip(1.2 * (gap / (rtol / 3)) ** (1.0 / p), 1.3, 4.0))
            continue
        break
    return res


def _weighted_scaled(potential, theta, opt, iv):
    """Solve on the interval; when it is astronomically small or large (half-width outside
    [1e-20, 1e20]: the element integrals would under- or overflow) or theta is extreme
    (outside [1e-100, 1e100]: eigenvalues ~ theta in LAPACK's subnormal range), solve for
    W(c + s u)/e with theta/e (e = theta) in u and scale back exactly (D = s^4 D_u / e,
    K = s^2 K_u / e, V = c + s V_u, lambda = e lambda_u / s^2, eta = s eta_u,
    omega = omega_u / s)."""
    if rounding_floor(iv) > opt["rtol"] / 10 and getattr(potential, "has_mp", False):
        # |W| >> theta: the double value of W limits the weights; W - W(vmin) in mpmath
        from potentials import shifted
        # W - W(vmin) is 0 at vmin (the minimiser to solver precision): Wmin becomes 0
        potential, iv = shifted(potential, iv.vmin), shifted_interval(iv, iv.Wmin)
    c = 0.0 if potential.symmetric else float(iv.vmin)
    s = max(iv.b - c, c - iv.a)
    if 1e-20 <= s <= 1e20 and 1e-100 <= theta <= 1e100:
        return _weighted_on(potential, theta, opt, iv)
    from potentials import affine
    e = theta
    res = _weighted_on(affine(potential, c, s, e), theta / e, opt, scaled(iv, c, s, e))
    logs, loge = math.log(s), math.log(e)
    for name, p in (("D", 4), ("K", 2)):
        val = getattr(res, name)
        lg = math.log(abs(val)) + p * logs - loge if val != 0 else -math.inf
        if not (-708.0 < lg < 709.0):
            raise EffcoefError(
                f"{potential.name}: {name} = e^{lg:.0f} is outside the double-precision range "
                f"at theta = {theta:g} (the mass lives on a scale of {s:.3g})")
    fD, fK = math.exp(4 * logs - loge), math.exp(2 * logs - loge)     # s^4/e, s^2/e
    res.D, res.K, res.K_cov = res.D * fD, res.K * fK, res.K_cov * fK
    res.theta = theta
    res.V = c + s * res.V
    res.eigenvalues = res.eigenvalues * math.exp(loge - 2 * logs)
    res.eta, res.omega = res.eta * s, res.omega / s
    res.D_partial, res.K_partial = res.D_partial * fD, res.K_partial * fK
    res.domain = (c + s * res.domain[0], c + s * res.domain[1])
    res.info.update(D_fine=res.info["D_fine"] * fD, K_fine=res.info["K_fine"] * fK,
                    vmin=c + s * res.info["vmin"], Wmin=res.info["Wmin"] * e,
                    rescaled=(c, s, e))
    res.modes.center, res.modes.scale = c, s    # the modes keep W(c + s u)/e, theta/e
    return res


def _weighted_on(potential, theta, opt, iv):
    degree, h_scale, rtol = opt["degree"], opt["h_scale"], opt["rtol"]
    a, b, Wmin = iv.a, iv.b, iv.Wmin
    if iv.max_level > LOG_UNDERFLOW:
        raise EffcoefError(
            f"{potential.name}: exp(-(W - Wmin)/theta) drops below e^-{iv.max_level:.0f} "
            f"inside the interval that carries D (a barrier of {iv.max_level:.0f} theta at "
            f"theta = {theta:g}): the weights underflow double precision and D ~ "
            "e^(barrier/theta) overflows; use effcoef.reference.quadrature."
            "quadrature_coefficients, which returns log_D")
    symmetric = bool(potential.symmetric)
    fixed = tuple(potential.breakpoints) + ((0.0,) if a < 0 < b else ())
    with np.errstate(all="ignore"):
        w2 = float(np.abs(potential.d2W(np.array([iv.vmin]))[0]))
    cells = iv.edges[iv.ka:iv.kb + 1]
    sectors = []  # (parity, fe, is_data_sector, has_kernel)
    if symmetric:
        hi = max(abs(a), abs(b))
        nodes = _mesh(potential, theta, 0.0, hi, h_scale, opt["n_elements"], fixed,
                      np.abs(cells))
        sectors.append((-1, weighted_fe(potential, theta, nodes, Wmin, degree=degree,
                                        dirichlet_left=True), True, False))
        if opt["full_spectrum"]:
            sectors.append((+1, weighted_fe(potential, theta, nodes, Wmin, degree=degree),
                            False, True))
    else:
        nodes = _mesh(potential, theta, a, b, h_scale, opt["n_elements"], fixed, cells)
        sectors.append((0, weighted_fe(potential, theta, nodes, Wmin, degree=degree), True, True))
    fe_data = sectors[0][1]
    X = fe_data.X
    if symmetric:
        V = 0.0
    else:  # positive parts separately: V = (int_{v>0} v m - int_{v<0} |v| m) / Z
        w = fe_data.m * fe_data.dx
        V = (np.sum((w * X)[X > 0]) - np.sum((w * -X)[X < 0])) / fe_data.Z
    data = X - V

    # the completed coefficients: N -> infinity limits of the discrete problem (Green's
    # operator), and the same at degree p + 2 on the same mesh for the discretisation gap
    def limits(fe):
        g, _ = green_solve(fe, fe.X - V)
        return theta * fe.mean_square(g), fe.mean_square(fe.X - V) / theta

    D_inf, K_inf = limits(fe_data)
    # shift: the harmonic level W''(vmin), but not above N times the data's Rayleigh
    # quotient 1/K = theta / Var_M(v) (an oscillating W has a huge W'' and an O(1) spectrum)
    n_req = opt["n_modes"] if isinstance(opt["n_modes"], (int, np.integer)) else 16
    shift = lanczos_shift(min(w2, max(n_req, 4) / K_inf), theta, b - a)
    fe_c = weighted_fe(potential, theta, fe_data.nodes, Wmin, degree=degree + 2,
                       dirichlet_left=fe_data.dirichlet_left, assemble=False)
    D_c, K_c = limits(fe_c)

    sector_data = [(fe.nodes, fe.degree, fe.dirichlet_left, parity)
                   for parity, fe, _, _ in sectors]
    lam0 = [0.0]

    def compute(N):
        lam_all, eta_all, om_all, par_all, ind_all, cols = [], [], [], [], [], []
        info = {"shift": shift, "sectors": [], "dof_limited": False}
        for isec, (parity, fe, is_data, has_kernel) in enumerate(sectors):
            nmax = fe.A.shape[0] - (2 if has_kernel else 1)
            k = min(N, nmax)
            info["dof_limited"] |= k < N
            kernel = fe.kernel if has_kernel else None
            if has_kernel:
                lam0[0] = float(kernel @ (fe.A @ kernel)) / float(kernel @ (fe.B @ kernel))
            lam, eta, om, C, ind, sinfo = _sector_modes(
                fe, k, shift, data=data if is_data else None, refine=is_data or has_kernel,
                kernel=kernel, eigensolver=opt["eigensolver"])
            lam_all += list(lam); eta_all += list(eta); om_all += list(om)  # noqa: E702
            par_all += [parity] * k; ind_all += list(ind)                   # noqa: E702
            cols += [(isec, C[:, j].copy()) for j in range(k)]
            info["sectors"].append({"parity": parity, "n_dofs": fe.A.shape[0],
                                    "n_elements": len(fe.nodes) - 1, **sinfo})
        order = np.argsort(lam_all, kind="stable")[:N]
        return _Spectrum(lam=np.asarray(lam_all)[order], eta=np.asarray(eta_all)[order],
                         omega=np.asarray(om_all)[order], parity=np.asarray(par_all)[order],
                         errors=np.asarray(ind_all)[order], columns=[cols[i] for i in order],
                         info=info)

    n_default = N_DEFAULT["weighted_symmetric" if symmetric else "weighted"]
    try:
        run = run_series(compute, n_modes=opt["n_modes"], default=n_default, D_inf=D_inf,
                         K_inf=K_inf, rtol=rtol)
    except (np.linalg.LinAlgError, ArithmeticError, RuntimeError) as exc:
        # D and K (completed values) do not depend on the modes: keep them, without a series
        from .series import SeriesRun
        warnings.warn(f"no spectral series: the eigensolver failed ({type(exc).__name__}: "
                      f"{' '.join(str(exc).split())[:160]}); D and K are unaffected",
                      RuntimeWarning, stacklevel=4)
        empty = _Spectrum(lam=np.zeros(0), eta=np.zeros(0), omega=np.zeros(0),
                          parity=np.zeros(0, int), errors=np.zeros(0), columns=[],
                          info={"shift": shift, "sectors": [], "dof_limited": False,
                                "series_error": str(exc)})
        run = SeriesRun(empty, np.zeros(1), np.zeros(1), np.zeros(0), 0)
    spec = run.spectrum
    # what the interval cuts away, bounded with the solver's own V, Z, D, K (effcoef.domain)
    Z_line = fe_data.Z * (2.0 if symmetric else 1.0)
    cut = cut_bound(iv, V=V, logZ=math.log(Z_line), D=D_inf, K=K_inf)
    domain_cut = max(cut.values())
    comps = {
        "discretisation": max(relative_error(D_c, D_inf), relative_error(K_c, K_inf)),
        "domain": domain_cut,
        "rounding": rounding_floor(iv),
    }
    method_txt = (f"max of the discretisation gap (P{degree} vs P{degree + 2} on the same mesh, "
                  "exact discrete Poisson solutions by the Green's operator), the bound of "
                  "what the interval cuts away from D, K, V and the rounding of W/theta "
                  "(effcoef.domain; "
                  + ("interval certified by interval arithmetic" if iv.certified else
                     "HEURISTIC interval: W sampled, no expression tree") + ")")
    log_Z = math.log(fe_data.Z * (2.0 if symmetric else 1.0))
    lam = np.concatenate([[lam0[0]], spec.lam])
    half = (-max(abs(a), abs(b)), max(abs(a), abs(b)))
    info = dict(spec.info, D_fine=D_c, K_fine=K_c, log_Z=log_Z, Wmin=Wmin,
                n_elements=len(fe_data.nodes) - 1, degree=degree,
                n_requested=run.n_requested, domain_certified=bool(iv.certified),
                domain_note=iv.note, domain_cut=cut, vmin=iv.vmin)
    modes = Modes1D(potential=potential, theta=theta, Wmin=Wmin, log_Z=log_Z,
                    interval=half if symmetric else (a, b), sectors=sector_data,
                    columns=spec.columns)
    return CoefficientResult(
        dim=1, D=float(D_inf), K=float(K_inf), V=float(V), theta=theta, K_cov=float(K_inf),
        eigenvalues=lam, eta=np.concatenate([[0.0], spec.eta]),
        omega=np.concatenate([[0.0], spec.omega]), D_partial=run.D_partial,
        K_partial=run.K_partial, rel_error_estimate=float(max(comps.values())),
        error_components=comps, error_method=method_txt, rtol=rtol,
        domain=half if symmetric else (a, b),
        n_dofs=int(sum(fe.A.shape[0] for _, fe, _, _ in sectors)), method="weighted",
        D_is="completed",
        parity=(np.concatenate([[1], spec.parity]).astype(int) if symmetric else None),
        eigenvalue_errors=np.concatenate([[0.0], spec.errors]), info=info, modes=modes)


# ------------------------------------------------------------------------------------------
# the paper's configuration (baseline)

@dataclass
class ModesSchrodinger:
    """Evaluator of the paper-configuration eigenfunctions (the FE functions are the Psi_k)."""

    nodes: np.ndarray
    degree: int
    intorder: int
    vectors: np.ndarray            # (n_basis, n+1) full dof vectors

    def __call__(self, v):
        from skfem import Basis, ElementLinePp, MeshLine
        v = np.atleast_1d(np.asarray(v, dtype=float))
        a, b = self.nodes[0], self.nodes[-1]
        inside = (v >= a) & (v <= b)
        out = np.zeros((self.vectors.shape[1], len(v)))
        if np.any(inside):
            basis = Basis(MeshLine(self.nodes), ElementLinePp(self.degree), intorder=self.intorder)
            out[:, inside] = (basis.probes(v[inside][None, :]) @ self.vectors).T
        return out


def _schrodinger(potential, theta, opt):
    """Paper 004's configuration: plain FE for H on [a, b] with Dirichlet conditions."""
    from scipy.sparse.linalg import eigsh
    from skfem import Basis, ElementLinePp, MeshLine

    n_modes, degree, intorder, rtol = opt["n_modes"], opt["degree"], opt["intorder"], opt["rtol"]
    if n_modes == "auto":
        raise EffcoefError("n_modes='auto' needs the weighted method (no Poisson solve here)")
    mi = potential.mass_interval(theta, 45.0)
    domain = opt["domain"]
    a, b = (mi.a, mi.b) if domain is None else (float(domain[0]), float(domain[1]))
    if not (math.isfinite(a) and math.isfinite(b) and a < b):
        raise EffcoefError(f"domain must be an interval (a, b) with a < b, got ({a}, {b})")
    nodes = np.linspace(a, b, int(opt["n_elements"]) + 1)
    Wmin = mi.Wmin
    # Z and V with the element quadrature of the same mesh
    basis = Basis(MeshLine(nodes), ElementLinePp(degree), intorder=intorder)
    Xq, dxq = np.asarray(basis.global_coordinates()[0]), basis.dx
    with np.errstate(under="ignore"):
        mq = np.exp(log_weight(potential, theta, Xq, Wmin))
    Z = float(np.sum(mq * dxq))
    V = 0.0 if potential.symmetric else float(np.sum(mq * Xq * dxq) / Z)
    log_Z = math.log(Z)
    with np.errstate(under="ignore", over="ignore"):
        fe = schrodinger_fe(potential, theta, nodes, Wmin, log_Z, degree=degree, intorder=intorder)
    k = min(int(n_modes) + 1, fe.H.shape[0] - 2)
    lam, U = eigsh(fe.H, k=k, M=fe.Mass, sigma=0.0, which="LM",
                   v0=np.random.default_rng(12345).standard_normal(fe.H.shape[0]))
    order = np.argsort(lam)
    lam, U = lam[order], U[:, order]
    U = U / np.sqrt(np.einsum("ik,ik->k", U, fe.Mass @ U))
    full = np.zeros((fe.basis.N, k))
    full[fe.free] = U
    vals = np.array([np.asarray(fe.basis.interpolate(full[:, j])) for j in range(k)])
    for j in range(k):
        i = np.unravel_index(np.argmax(np.abs(vals[j])), vals[j].shape)
        if vals[j][i] < 0:
            vals[j], full[:, j] = -vals[j], -full[:, j]
    h_chi = -(fe.X - V) * fe.sqrtM
    h_kap = -potential.dW(fe.X) / theta * fe.sqrtM
    eta = np.array([np.sum(h_chi * vals[j] * fe.dx) for j in range(k)])
    omega = np.array([np.sum(h_kap * vals[j] * fe.dx) for j in range(k)])
    eta[0] = omega[0] = 0.0  # the ground state does not enter the series
    Dp = np.concatenate([[0.0], np.cumsum(eta[1:] ** 2 / lam[1:])])
    Kp = np.concatenate([[0.0], np.cumsum(eta[1:] * omega[1:] / lam[1:])])
    K_exact = float(np.sum(mq * (Xq - V) ** 2 * dxq) / Z / theta)
    D, K = Dp[-1], Kp[-1]
    comps = {"K_vs_formula_4_3": abs(K - K_exact) / K_exact,
             # last two increments (one of them is 0 for symmetric W: even modes)
             "series_tail": abs(Dp[-1] - Dp[-3]) / abs(D) if len(Dp) > 3 else 1.0}
    return CoefficientResult(
        dim=1, D=float(D), K=float(K), V=V, theta=theta, K_cov=K_exact, eigenvalues=lam,
        eta=eta, omega=omega, D_partial=Dp, K_partial=Kp,
        rel_error_estimate=float(max(comps.values())), error_components=comps,
        error_method="paper 004 check: K^N against formula (4.3) and the last series increment",
        rtol=rtol, domain=(a, b), n_dofs=int(fe.H.shape[0]), method="schrodinger",
        D_is="series", parity=None, eigenvalue_errors=np.full(k, np.nan),
        info={"n_elements": len(nodes) - 1, "degree": degree, "intorder": intorder,
              "D_inf": math.nan, "K_inf": K_exact},
        modes=ModesSchrodinger(nodes=nodes, degree=degree, intorder=intorder, vectors=full))
