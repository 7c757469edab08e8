r"""Effective coefficients D and K in one velocity dimension (paper 004, Steps 1-5).

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

How it is computed (``method="weighted"``, the default): see
:mod:`effcoef.fem1d` and :mod:`effcoef.spectrum`.  In short: the interval is
the convex hull of :math:`\{(W-W_{\min})/\theta \le \mathrm{tail}\}`; a
symmetric potential is split into its odd sector (where the data live and
:math:`\lambda_1` is a simple ground state, Dirichlet at 0) and its even
sector (only needed to report the full spectrum); the kernel is removed
exactly; an exponentially small :math:`\lambda_1` is refined by
positivity-preserving inverse iteration with the Green's operator.
:math:`\omega_k` is evaluated as :math:`-\int M\varphi_k'` (integration by
parts of :math:`-\tfrac1\theta\int W' M\varphi_k`, no cancellation).

Error estimate: the largest of
(i) the series truncation :math:`|D^N - D^\infty|/D^\infty` and the same for
K, where :math:`D^\infty = \ell^T A^{-1}\ell` is the exact solution of the
discrete Poisson problem (the :math:`N\to\infty` limit of the discrete
series, computed by the Green's operator) and
:math:`K^\infty = \tfrac1\theta\int(v-\mathcal V)^2M`;
(ii) the discretisation gap between :math:`(D^\infty, K^\infty)` at element
degree p and at degree p+2 on the same mesh (for a resolved mesh the p+2
solution is far more accurate, so the gap estimates the degree-p error);
(iii) the eigensolver indicator (last relative change of the inverse
iteration; :math:`\epsilon s/\lambda` for a tunnelling mode that could not be
refined).
"""

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import ThreadpoolController

from .errors import AccuracyError, AccuracyWarning, EffcoefError
from .fem1d import adapted_nodes, green_solve, schrodinger_fe, weighted_fe
from .operator import check_theta, log_weight, sqrt_maxwellian
from .results import SeriesResult, next_n_modes
from .spectrum import green_inverse_iteration, lanczos_modes

__all__ = ["coefficients", "CoefficientResult"]

_EPS = np.finfo(float).eps
_CONTROLLER = []


def _blas_controller():
    """One ThreadpoolController per process (inspecting the loaded libraries costs ~2 ms)."""
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


@dataclass
class CoefficientResult(SeriesResult):
    r"""Result of :func:`coefficients` (fields in the style of ``scipy.optimize.OptimizeResult``).

    Arrays indexed by the mode number k run over ``k = 0 .. n_modes``:
    ``eigenvalues[0]`` is the ground eigenvalue (0 up to rounding, its
    eigenfunction is :math:`\sqrt M`), ``eta[0] = omega[0] = 0``;
    ``D_partial[N]`` / ``K_partial[N]`` are the partial sums :math:`D^N`, :math:`K^N`
    (``D_partial[0] = 0``).

    Attributes
    ----------
    D, K : float
        The truncated series :math:`D^N`, :math:`K^N` with ``N = n_modes``.
    V : float
        Mean velocity :math:`\int vM` (0 for symmetric potentials).
    theta : float
    eigenvalues, eta, omega : ndarray
    parity : ndarray of int
        +1 (even), -1 (odd) for symmetric potentials, 0 otherwise.
    D_partial, K_partial : ndarray
    D_inf, K_inf : float
        :math:`N\to\infty` limits of the discrete series (see module docstring).
    rel_error_estimate : float
        Estimated relative error of D and K (the largest component).
    error_components : dict
        The components of the estimate (``truncation``, ``discretisation``,
        ``eigensolver``, ``domain``).
    error_method : str
        How the estimate was obtained.
    accurate : bool
        ``rel_error_estimate <= rtol``.
    domain : tuple
        The truncated interval.
    n_dofs : int
    method : str
    info : dict
        Extra diagnostics (mesh sizes, shift, inverse-iteration steps...).
    """

    D: float
    K: float
    V: float
    theta: float
    eigenvalues: np.ndarray
    eta: np.ndarray
    omega: np.ndarray
    parity: np.ndarray
    D_partial: np.ndarray
    K_partial: np.ndarray
    D_inf: float
    K_inf: float
    rel_error_estimate: float
    error_components: dict
    error_method: str
    rtol: float
    domain: tuple
    n_dofs: int
    method: str
    info: dict = field(default_factory=dict)
    _psi: list = field(default_factory=list, repr=False)   # callables v -> Psi_k(v), k = 0..N

    def eigenfunctions(self, v):
        r"""Normalised eigenfunctions :math:`\Psi_k(v)`, k = 0..n_modes, shape (n_modes+1, len(v)).

        :math:`\Psi_0 = \sqrt M`; :math:`\int\Psi_k^2 = 1`; zero outside the truncated interval.
        """
        v = np.atleast_1d(np.asarray(v, dtype=float))
        return np.array([psi(v) for psi in self._psi])

    def eigenfunction(self, k):
        r"""The callable :math:`v \mapsto \Psi_k(v)`."""
        if not 0 <= k <= self.n_modes:
            raise IndexError(f"mode {k} not computed (0..{self.n_modes})")
        return lambda v: self.eigenfunctions(v)[k]

    def summary(self):
        return (f"D = {self.D:.15g}, K = {self.K:.15g}, V = {self.V:.15g} "
                f"(theta = {self.theta:g}, {self.n_modes} modes, rel. error estimate "
                f"{self.rel_error_estimate:.1e}: {self.error_method})")


# ------------------------------------------------------------------------------------------

def _phi_evaluator(fe, c, parity, phi_q=None):
    """phi(v) from the dof vector c of sector ``fe`` (parity extension for half-line sectors).

    If ``phi_q`` (values at the quadrature points) is given instead, the dof vector is
    computed on first use (the refined tunnelling mode: not needed unless plotted)."""
    lo, hi = fe.nodes[0], fe.nodes[-1]
    half = parity != 0
    cache = {}

    def dofs():
        if "c" not in cache:
            cache["c"] = fe.to_dofs(phi_q) if c is None else c
        return cache["c"]

    def phi(v):
        cv = dofs()
        v = np.asarray(v, dtype=float)
        x = np.abs(v) if half else v
        inside = (x >= lo) & (x <= hi)
        out = np.zeros_like(v)
        if np.any(inside):
            out[inside] = fe.evaluate(cv, x[inside])
        if half and parity < 0:
            out = np.where(v < 0, -out, out)
        return out

    return phi


def _sector_modes(fe, k, shift, *, data, refine, kernel, eigensolver="lanczos"):
    """Eigenpairs of one sector: values, derivatives at quadrature points, dof vectors, diagnostics."""
    lam, C = lanczos_modes(fe.A, fe.B, k, shift=shift, kernel=kernel, engine=eigensolver)
    refined = [None] * k
    C = C * math.sqrt(fe.Z)                      # int M phi^2 = 1 with M = m / Z
    vals, ders = fe.values(C)
    info = {"refined": False, "eig_indicator": np.zeros(k)}
    # Lanczos eigenvalues are accurate to about eps * shift in absolute terms
    info["eig_indicator"] = 100 * _EPS * shift / np.maximum(lam, 1e-300)
    if refine and k >= 1 and (k == 1 or lam[0] < 0.1 * lam[1]):
        lam0, g, phi, steps, change = green_inverse_iteration(fe, vals[0])
        lam[0], vals[0], ders[0] = lam0, phi, g
        refined[0] = phi
        info.update(refined=True, green_steps=steps, green_change=change)
        info["eig_indicator"][0] = max(change, 100 * _EPS)
    for j in range(k):                          # sign: positive where |phi| is largest
        i = np.unravel_index(np.argmax(np.abs(vals[j])), vals[j].shape)
        if vals[j][i] < 0:
            vals[j], ders[j], C[:, j] = -vals[j], -ders[j], -C[:, j]
            if refined[j] is not None:
                refined[j] = vals[j]
    info["refined_phi"] = refined
    if data is None:
        eta = np.zeros(k)
        omega = np.zeros(k)
    else:
        eta = -np.array([fe.mean(data * vals[j]) for j in range(k)])
        omega = -np.array([fe.mean(ders[j]) for j in range(k)])
    return lam, eta, omega, C, info


def _shift(potential, mi, theta):
    """Negative Lanczos shift: the harmonic level W''(vmin), floored by theta / L^2."""
    L = mi.b - mi.a
    with np.errstate(all="ignore"):
        w2 = float(np.abs(potential.d2W(np.array([mi.vmin]))[0]))
    if not np.isfinite(w2):
        w2 = 0.0
    return max(w2, 10 * theta / L**2)


def coefficients(potential, theta=None, *, n_modes=None, degree=None, h_scale=None, tail=None,
                 rtol=None, strict=False, method="weighted", full_spectrum=False,
                 domain=None, n_elements=None, intorder=None, eigensolver="lanczos",
                 blas_threads=1):
    r"""Effective diffusion D and drift K of :math:`Q(f) = \nabla\cdot(\nabla W f + \theta\nabla f)`.

    One function for every dimension; the route follows the potential:

    * a 1D ``potentials.Potential``: the weighted 1D solver below
      (defaults ``degree=8, h_scale=1.5, tail=45, rtol=1e-8``), returns
      :class:`CoefficientResult`;
    * a ``potentials.RadialPotential`` (d = 2, 3): the l = 1 channel on [0, R]
      (:mod:`effcoef.radial`, same defaults), returns
      :class:`~effcoef.results.MatrixCoefficientResult` with D = D I, K = K I;
    * a ``potentials.PotentialND`` with d = 2: 2D finite elements
      (:mod:`effcoef.fem2d`, defaults ``degree=6, tail=30, rtol=1e-6`` and a mesh refined
      until the discretisation gap is below rtol/3),
      returns :class:`~effcoef.results.MatrixCoefficientResult` with full matrices.

    Parameters
    ----------
    potential : potentials.Potential, RadialPotential or PotentialND
        W with its derivatives (see the ``potentials`` package).
    theta : float, optional
        Temperature; defaults to ``potential.theta`` (set by the paper's families).
    n_modes : int, optional
        Number N of positive eigenvalues in the series (3.6).  Default: start
        at 12 (16 without symmetry, where both parities carry data) and, while the
        series truncation exceeds ``rtol / 10``, rerun with the N at which the
        geometric decay of the last partial sums reaches it (at least N + 4, at
        most 2N, up to 256).
    degree : int
        Polynomial degree p of the elements (scikit-fem ``ElementLinePp``; ``ElementQuadP`` in 2D).
    h_scale : float
        Element size in units of the local length scale (see
        :func:`effcoef.fem1d.adapted_nodes`); smaller is finer.
    tail : float
        The interval is where :math:`(W - W_{\min})/\theta \le` ``tail``.
    rtol : float
        Requested relative accuracy; a larger error estimate gives an
        :class:`~effcoef.AccuracyWarning` (or :class:`~effcoef.AccuracyError`
        if ``strict``).
    method : {"weighted", "schrodinger"}
        ``"schrodinger"`` is the paper's plain discretisation of
        :math:`\mathcal H` with Dirichlet conditions (baseline).
    full_spectrum : bool
        Symmetric W only.  By default only the odd sector is computed: it
        carries all the data (:math:`\eta_k = \omega_k = 0` for even modes), so
        ``eigenvalues`` lists :math:`\lambda_1, \lambda_3, \dots` (``parity``
        -1) and N counts odd modes.  With ``True`` the even sector is added:
        ``eigenvalues`` is then the whole low spectrum of :math:`\mathcal H` and
        N counts all modes, as in the paper's figures (twice the work).
    domain : (a, b), optional
        Override the automatic truncation (``schrodinger``: the paper uses (-10, 10)).
    n_elements : int, optional
        Uniform mesh with this many elements instead of the adapted mesh.
    intorder : int, optional
        Quadrature degree (``schrodinger`` only; the paper uses 21).
    eigensolver : {"lanczos", "arpack"}
        ``"lanczos"``: shift-invert Lanczos with full re-orthogonalisation and banded
        Cholesky solves (ARPACK as fallback); ``"arpack"``: ``scipy.sparse.linalg.eigsh``
        on the same shift-invert operator (slower, same results).
    blas_threads : int or None
        BLAS threads used inside the call (threadpoolctl).  The 1D matrices are
        small, and multi-threaded BLAS on them is up to 10x slower; ``None``
        leaves the process setting alone.

    Returns
    -------
    CoefficientResult
    """
    if blas_threads is None:
        return _coefficients(potential, theta, n_modes, degree, h_scale, tail, rtol, strict,
                             method, full_spectrum, domain, n_elements, intorder, eigensolver)
    with _blas_controller().limit(limits=int(blas_threads), user_api="blas"):
        return _coefficients(potential, theta, n_modes, degree, h_scale, tail, rtol, strict,
                             method, full_spectrum, domain, n_elements, intorder, eigensolver)


def _coefficients(potential, theta, n_modes, degree, h_scale, tail, rtol, strict, method,
                  full_spectrum, domain, n_elements, intorder, eigensolver):
    if eigensolver not in ("lanczos", "arpack"):
        raise EffcoefError(f"unknown eigensolver {eigensolver!r} (use 'lanczos' or 'arpack')")
    if theta is None:
        theta = getattr(potential, "theta", None)
        if theta is None:
            raise ValueError("theta is required (this potential has no default temperature)")
    theta = check_theta(theta)
    dim = int(getattr(potential, "dim", 1))
    route = "1d" if dim == 1 else ("radial" if hasattr(potential, "profile") else "fe2d")
    if route == "fe2d" and dim != 2:
        raise EffcoefError(f"general (non-radial) potentials are supported in dimension 2 only, "
                           f"got dimension {dim}; radial potentials work in 2 and 3")
    dflt = dict(degree=6, h_scale=None, tail=30.0, rtol=1e-6) if route == "fe2d" else \
        dict(degree=8, h_scale=1.5, tail=45.0, rtol=1e-8)
    degree = dflt["degree"] if degree is None else degree
    h_scale = dflt["h_scale"] if h_scale is None else h_scale
    tail = dflt["tail"] if tail is None else tail
    rtol = dflt["rtol"] if rtol is None else rtol
    degree = int(degree)
    if degree < 2:
        raise EffcoefError(f"degree must be >= 2, got {degree}")
    if h_scale is not None and not (h_scale > 0 and np.isfinite(h_scale)):
        raise EffcoefError(f"h_scale must be a positive number, got {h_scale!r}")
    if not (np.isfinite(tail) and 5 <= tail <= 600):
        raise EffcoefError(f"tail must be in [5, 600] (log-mass cut), got {tail!r}")
    if not (rtol > 0):
        raise EffcoefError(f"rtol must be positive, got {rtol!r}")
    if n_modes is not None and int(n_modes) < 1:
        raise EffcoefError(f"n_modes must be >= 1, got {n_modes!r}")
    if route != "1d":
        if method != "weighted":
            raise EffcoefError(f"method {method!r} exists in 1D only")
        if route == "radial":
            from .radial import radial_coefficients
            res = radial_coefficients(potential, theta, n_modes=n_modes, degree=degree,
                                      h_scale=h_scale, tail=tail, rtol=rtol,
                                      eigensolver=eigensolver)
        else:
            from .fem2d import fe2d_coefficients
            res = fe2d_coefficients(potential, theta, n_modes=n_modes, degree=degree,
                                    h_scale=h_scale, tail=tail, rtol=rtol,
                                    eigensolver="arpack" if eigensolver == "lanczos"
                                    else eigensolver)
        _check_accuracy(res, rtol, strict)
        return res
    mi = potential.mass_interval(theta, tail)
    if method == "weighted":
        auto = n_modes is None
        # 8-14 odd modes reach 1e-11 for Cases A, B (cf. Fig. 4); 15-23 modes of both
        # parities for Case C
        N = int(n_modes) if not auto else (12 if potential.symmetric else 16)
        while True:
            res = _weighted(potential, theta, mi, N, degree, h_scale, tail, rtol, full_spectrum,
                            domain, n_elements, eigensolver)
            if not auto or res.error_components["truncation"] <= rtol / 10 or N >= 256 \
                    or res.info.get("dof_limited"):
                break
            N = next_n_modes(res.D_partial, res.K_partial, res.D_inf, res.K_inf, rtol / 10)
    elif method == "schrodinger":
        res = _schrodinger(potential, theta, mi, 20 if n_modes is None else int(n_modes),
                           10 if degree == 8 else degree, domain, n_elements,
                           21 if intorder is None else int(intorder), rtol)
    else:
        raise EffcoefError(f"unknown method {method!r} (use 'weighted' or 'schrodinger')")
    _check_accuracy(res, rtol, strict)
    return res


def _check_accuracy(res, rtol, strict):
    """AccuracyWarning (AccuracyError if strict) when the estimate exceeds rtol."""
    if not res.accurate:
        msg = (f"estimated relative error {res.rel_error_estimate:.1e} exceeds rtol={rtol:.1e} "
               f"({', '.join(f'{k}={v:.1e}' for k, v in res.error_components.items())}); "
               "refine the mesh (h_scale, degree) or increase n_modes")
        if strict:
            raise AccuracyError(msg)
        warnings.warn(msg, AccuracyWarning, stacklevel=4)


def _mesh(potential, theta, lo, hi, h_scale, n_elements, fixed):
    if n_elements is not None:
        nodes = np.linspace(lo, hi, int(n_elements) + 1)
        extra = [x for x in fixed if lo < x < hi]
        return np.unique(np.concatenate([nodes, extra]))
    return adapted_nodes(potential, theta, lo, hi, h_scale=h_scale, fixed=fixed)


def _weighted(potential, theta, mi, n_modes, degree, h_scale, tail, rtol, full_spectrum,
              domain, n_elements, eigensolver="lanczos"):
    a, b = (mi.a, mi.b) if domain is None else (float(domain[0]), float(domain[1]))
    if not a < b:
        raise EffcoefError(f"empty domain ({a}, {b})")
    Wmin = mi.Wmin
    symmetric = bool(potential.symmetric)
    fixed = tuple(potential.breakpoints) + ((0.0,) if a < 0 < b else ())
    shift = _shift(potential, mi, theta)
    sectors = []  # (parity, fe, is_data_sector, has_kernel)
    if symmetric:
        hi = max(abs(a), abs(b))
        nodes = _mesh(potential, theta, 0.0, hi, h_scale, n_elements, fixed)
        sectors.append((-1, weighted_fe(potential, theta, nodes, Wmin, degree=degree,
                                        dirichlet_left=True), True, False))
        if full_spectrum:
            sectors.append((+1, weighted_fe(potential, theta, nodes, Wmin, degree=degree),
                            False, True))
    else:
        nodes = _mesh(potential, theta, a, b, h_scale, n_elements, fixed)
        sectors.append((0, weighted_fe(potential, theta, nodes, Wmin, degree=degree), True, True))
    fe_data = sectors[0][1]
    logm_min = float(np.min(-(potential.W(fe_data.X) - Wmin) / theta))
    if logm_min < -690.0:
        raise EffcoefError(
            f"exp(-(W - Wmin)/theta) drops to e^{logm_min:.0f} inside the domain (a barrier of "
            f"{-logm_min:.0f} theta): the weights underflow double precision and D ~ "
            "e^(barrier/theta) would overflow; use effcoef.reference.quadrature.quadrature_coefficients, "
            "which returns log_D")
    X = fe_data.X
    if symmetric:
        V = 0.0
    else:  # positive parts separately: V = (int_{v>0} v m - int_{v<0} |v| m) / Z
        w = fe_data.m * fe_data.dx
        V = (np.sum((w * X)[X > 0]) - np.sum((w * -X)[X < 0])) / fe_data.Z
    data = X - V

    lam_all, eta_all, om_all, par_all, ev_all, ind_all = [], [], [], [], [], []
    info = {"shift": shift, "sectors": []}
    dof_limited = False
    lam0 = 0.0
    for parity, fe, is_data, has_kernel in sectors:
        nmax = fe.A.shape[0] - (2 if has_kernel else 1)
        k = min(n_modes, nmax)
        dof_limited |= k < n_modes
        kernel = fe.kernel if has_kernel else None
        if has_kernel:
            lam0 = float(kernel @ (fe.A @ kernel)) / float(kernel @ (fe.B @ kernel))
        lam, eta, om, C, sinfo = _sector_modes(fe, k, shift, data=data if is_data else None,
                                               refine=is_data or has_kernel, kernel=kernel,
                                               eigensolver=eigensolver)
        for j in range(k):
            lam_all.append(lam[j]); eta_all.append(eta[j]); om_all.append(om[j])
            par_all.append(parity); ind_all.append(sinfo["eig_indicator"][j])
            rphi = sinfo["refined_phi"][j]
            ev_all.append(_phi_evaluator(fe, None if rphi is not None else C[:, j], parity,
                                         phi_q=rphi))
        info["sectors"].append({"parity": parity, "n_dofs": fe.A.shape[0],
                                "n_elements": len(fe.nodes) - 1,
                                **{kk: vv for kk, vv in sinfo.items()
                                   if kk not in ("eig_indicator", "refined_phi")}})
    order = np.argsort(lam_all, kind="stable")[:n_modes]
    lam = np.concatenate([[lam0], np.asarray(lam_all)[order]])
    eta = np.concatenate([[0.0], np.asarray(eta_all)[order]])
    omega = np.concatenate([[0.0], np.asarray(om_all)[order]])
    parity = np.concatenate([[1 if symmetric else 0], np.asarray(par_all)[order]])
    indicator = np.asarray(ind_all)[order]
    phis = [ev_all[i] for i in order]
    Dp = np.concatenate([[0.0], np.cumsum(eta[1:] ** 2 / lam[1:])])
    Kp = np.concatenate([[0.0], np.cumsum(eta[1:] * omega[1:] / lam[1:])])

    # N -> infinity limits of the discrete problem, and the same at degree p - 2
    def limits(fe):
        g, _ = green_solve(fe, fe.X - V)
        return theta * fe.mean_square(g), fe.mean_square(fe.X - V) / theta

    D_inf, K_inf = limits(fe_data)
    fe_c = weighted_fe(potential, theta, fe_data.nodes, Wmin, degree=degree + 2,
                       dirichlet_left=fe_data.dirichlet_left, assemble=False)
    D_c, K_c = limits(fe_c)
    D, K = Dp[-1], Kp[-1]
    # domain cut from the interval actually used (a user-given domain may be too small):
    # the mass beyond an end is ~ m(end), times the (W - Wmin)/theta-polynomial of the data
    ends = np.array([max(abs(a), abs(b))] if symmetric else [a, b])
    cut = np.maximum((potential.W(ends) - Wmin) / theta, 0.0)
    domain_cut = float(np.max(np.exp(-cut) * np.maximum(1.0, cut) ** 2))
    # only data-carrying modes matter for the eigensolver indicator
    w = eta[1:] ** 2 / lam[1:]
    eig_ind = float(np.sum(w * indicator) / max(np.sum(w), 1e-300)) if len(w) else 0.0
    comps = {
        "truncation": max(abs(D - D_inf) / D_inf, abs(K - K_inf) / K_inf),
        "discretisation": max(abs(D_c - D_inf) / D_inf, abs(K_c - K_inf) / K_inf),
        "eigensolver": eig_ind,
        "domain": domain_cut,
    }
    est = max(comps.values())
    method_txt = ("max of series truncation |D^N - D^inf| (exact discrete Poisson solve), "
                  f"discretisation gap (P{degree} vs P{degree + 2} on the same mesh), "
                  "eigensolver indicator and domain truncation (mass at the interval ends)")
    log_Z = math.log(fe_data.Z * (2.0 if symmetric else 1.0))

    def sqrtM(v):
        v = np.asarray(v, dtype=float)
        inside = (v >= -b if symmetric else v >= a) & (v <= b)
        out = np.zeros_like(v)
        out[inside] = sqrt_maxwellian(potential, theta, v[inside], Wmin, log_Z)
        return out

    info.update(dof_limited=dof_limited, D_fine=D_c, K_fine=K_c, log_Z=log_Z, Wmin=Wmin,
                n_elements=len(fe_data.nodes) - 1, degree=degree)
    dom = (-max(abs(a), abs(b)), max(abs(a), abs(b))) if symmetric else (a, b)
    return CoefficientResult(
        D=float(D), K=float(K), V=float(V), theta=theta, eigenvalues=lam, eta=eta, omega=omega,
        parity=parity, D_partial=Dp, K_partial=Kp, D_inf=float(D_inf), K_inf=float(K_inf),
        rel_error_estimate=float(est), error_components=comps, error_method=method_txt, rtol=rtol,
        domain=dom, n_dofs=int(sum(fe.A.shape[0] for _, fe, _, _ in sectors)), method="weighted",
        info=info, _psi=[sqrtM] + [lambda v, phi=phi: sqrtM(v) * phi(v) for phi in phis])


def _schrodinger(potential, theta, mi, n_modes, degree, domain, n_elements, intorder, rtol):
    """Paper 004's configuration: plain FE for H on [a, b] with Dirichlet conditions."""
    from scipy.sparse.linalg import eigsh

    a, b = (mi.a, mi.b) if domain is None else (float(domain[0]), float(domain[1]))
    ne = 1000 if n_elements is None else int(n_elements)
    nodes = np.linspace(a, b, ne + 1)
    Wmin = mi.Wmin
    # Z and V with the element quadrature of the same mesh
    from skfem import Basis, ElementLinePp, MeshLine
    basis = Basis(MeshLine(nodes), ElementLinePp(degree), intorder=intorder)
    Xq, dxq = np.asarray(basis.global_coordinates()[0]), basis.dx
    with np.errstate(under="ignore"):
        mq = np.exp(log_weight(potential, theta, Xq, Wmin))
    Z = float(np.sum(mq * dxq))
    V = 0.0 if potential.symmetric else float(np.sum(mq * Xq * dxq) / Z)
    log_Z = math.log(Z)
    with np.errstate(under="ignore", over="ignore"):
        fe = schrodinger_fe(potential, theta, nodes, Wmin, log_Z, degree=degree, intorder=intorder)
    k = min(n_modes + 1, fe.H.shape[0] - 2)
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
    modes = []
    for j in range(1, k):
        c = full[:, j].copy()

        def ev(v, c=c):
            v = np.asarray(v, dtype=float)
            out = np.zeros_like(v)
            inside = (v >= a) & (v <= b)
            out[inside] = fe.basis.probes(v[inside][None, :]) @ c
            return out
        modes.append(ev)
    c0 = full[:, 0].copy()

    def psi0(v):
        v = np.asarray(v, dtype=float)
        out = np.zeros_like(v)
        inside = (v >= a) & (v <= b)
        out[inside] = fe.basis.probes(v[inside][None, :]) @ c0
        return out

    return CoefficientResult(
        D=float(D), K=float(K), V=V, theta=theta, eigenvalues=lam, eta=eta, omega=omega,
        parity=np.zeros(k, dtype=int), D_partial=Dp, K_partial=Kp, D_inf=float("nan"),
        K_inf=K_exact, rel_error_estimate=float(max(comps.values())), error_components=comps,
        error_method="paper 004 check: K^N against formula (4.3) and the last series increment",
        rtol=rtol, domain=(a, b), n_dofs=int(fe.H.shape[0]), method="schrodinger",
        info={"n_elements": ne, "degree": degree, "intorder": intorder},
        _psi=[psi0] + modes)      # here the FE functions are the Psi_k themselves
