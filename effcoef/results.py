r"""The result contract shared by every route (1D, radial, 2D, 3D, and the paper's baseline).

One class, :class:`CoefficientResult`, is returned by :func:`effcoef.coefficients` whatever
the route.  The contract, written down once:

Shapes
    ``dim`` is the velocity dimension d.  In 1D the coefficients are Python floats
    (``D``, ``K``, ``V``, ``K_cov``, ``D_series``, ``K_series``); for d >= 2 they are arrays,
    ``D``, ``K``, ``K_cov``, ``D_series``, ``K_series`` of shape (d, d) and ``V`` of shape (d,).
    Mode arrays run over ``k = 0 .. n_modes``: ``eigenvalues`` (n+1,); ``eta``, ``omega``
    (n+1,) in 1D and (n+1, d) for d >= 2; ``D_partial``, ``K_partial`` (n+1,) in 1D and
    (n+1, d, d) for d >= 2.  Index 0 is the ground state :math:`\Psi_0 = \sqrt M`
    (``eigenvalues[0] = 0`` up to rounding, ``eta[0] = omega[0] = 0``, ``D_partial[0] = 0``).
    Degenerate eigenvalues are listed with their multiplicity (the radial route lists each
    l = 1 eigenvalue d times, one mode per direction), so that in every route

    .. math:: D^N = \sum_{k=1}^N \frac{\eta_k\otimes\eta_k}{\lambda_k}, \qquad
              K^N = \sum_{k=1}^N \frac{\eta_k\otimes\omega_k}{\lambda_k}
              \qquad\text{(paper 004, eq. 3.6 / 4.1)}.

Which value ``D`` is
    ``D``, ``K`` are the *completed* coefficients: the exact solution of the discrete Poisson
    problems :math:`Q\chi = (v - \mathcal V)M`, :math:`Q\kappa = \theta^{-1}\nabla W M` on the
    finite element space, i.e. the :math:`N\to\infty` limit of the discrete series (the
    truncated series plus its remainder).  The truncated series :math:`D^N`, :math:`K^N` are
    ``D_series``, ``K_series`` (= ``D_partial[-1]``, ``K_partial[-1]``); ``D_is`` says which of
    the two ``D`` is (``"completed"``; ``"series"`` for the paper's baseline configuration,
    ``method="schrodinger"``, which has no Poisson solve).  ``K_cov`` is the exact identity
    :math:`K = \mathrm{Cov}_M(v)/\theta` evaluated by quadrature.

Accuracy
    ``rel_error_estimate`` bounds the relative error of ``D`` and ``K`` (Frobenius norm for
    matrices): the largest of ``error_components`` (discretisation gap between two degrees,
    the cut-off domain, the linear solve), described by ``error_method``.  ``accurate`` is
    ``rel_error_estimate <= rtol``.  The eigenvalues have their own estimate,
    ``eigenvalue_errors`` (relative, one per eigenvalue), and the series its truncation
    ``series_truncation`` (relative distance of :math:`D^N, K^N` to the completed values):
    neither enters ``rel_error_estimate`` since ``D`` and ``K`` do not depend on them.

Problems without a drift coefficient
    Routes that compute only an effective diffusion and drift velocity (periodic
    homogenisation: ``V`` is the effective drift :math:`\lim X_t/t`, ``D`` the effective
    diffusion) set ``K``, ``K_cov``, ``omega`` and ``K_partial`` to None.  There
    (:mod:`effcoef.periodic`, F = 0) the series is
    :math:`D^N = \theta I - \sum_{k\le N}\eta_k\otimes\eta_k/\lambda_k` with
    :math:`\eta_k = \theta\int\rho\nabla\psi_k`, so ``D_partial[0]`` is :math:`\theta I`
    (not 0); with a tilt there is no series (``eta``, ``D_partial`` None).

Other fields
    ``parity``: +1/-1 per mode where a symmetry sector is used (1D even potentials), else
    None.  ``eigenfunctions(points)`` evaluates :math:`\Psi_k` (normalised in
    :math:`L^2(\mathbb R^d)`) on every route.  ``to_dict()`` is the JSON form used by the
    command line (``--json``) and by sweeps.  Results pickle (no closures).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["CoefficientResult", "relative_error"]


def relative_error(x: ArrayLike, ref: ArrayLike) -> float:
    r""":math:`\|x - \mathrm{ref}\| / \|\mathrm{ref}\|` (absolute value or Frobenius norm)."""
    x, ref = np.asarray(x, dtype=float), np.asarray(ref, dtype=float)
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    if scale == 0.0 or not math.isfinite(scale):
        scale = 1.0
    den = float(np.linalg.norm(ref / scale))         # scaled: D ~ 1e212 squares to inf
    num = float(np.linalg.norm((x - ref) / scale))
    if den == 0.0:
        return 0.0 if num == 0.0 else math.inf
    return num / den


def _json(x):
    """JSON value: floats (None for nan/inf), nested lists for arrays, dicts and strings kept."""
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, dict):
        return {str(k): _json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json(v) for v in x]
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return int(x)
    a = np.asarray(x)
    if a.dtype.kind in "biuf":
        if a.ndim:
            return [_json(v) for v in a]
        if a.dtype.kind in "iu":
            return int(a)
        if a.dtype.kind == "b":
            return bool(a)
        v = float(a)
        return v if math.isfinite(v) else None
    return str(x)


@dataclass
class CoefficientResult:
    r"""Effective coefficients D and K with their spectrum and an accuracy estimate.

    See the module docstring of :mod:`effcoef.results` for the contract (shapes, which value
    ``D`` is, what the estimate covers).

    Attributes
    ----------
    dim : int
        Velocity dimension.
    D, K : float or ndarray (dim, dim)
        Completed diffusion and drift coefficients (exact discrete Poisson solutions).
    V : float or ndarray (dim,)
        Mean velocity :math:`\int v M`.
    theta : float
    K_cov : float or ndarray
        :math:`\mathrm{Cov}_M(v)/\theta` (the exact identity for K, by quadrature).
    eigenvalues : ndarray (n+1,)
    eta, omega : ndarray
        Fourier coefficients of the data :math:`h_\chi = -(v-\mathcal V)\sqrt M`,
        :math:`h_\kappa = -\theta^{-1}\nabla W\sqrt M` on the eigenfunctions.
    D_partial, K_partial : ndarray
        Partial sums :math:`D^N`, :math:`K^N`, N = 0..n_modes.
    rel_error_estimate : float
    error_components : dict of str -> float
    error_method : str
    rtol : float
    domain : tuple
        Computational domain: (a, b) in 1D, (0, R) radial, (lower, upper) corners for d >= 2.
    n_dofs : int
    method : str
        The route: ``"weighted"`` (1D), ``"schrodinger"`` (paper baseline), ``"radial"``,
        ``"fe2d"``, ``"fe3d"``.
    potential : str
        Name of the potential.
    D_is : str
        ``"completed"`` or ``"series"``.
    parity : ndarray of int or None
    eigenvalue_errors : ndarray (n+1,)
        Estimated relative error of each eigenvalue (0 for the exact ground state).
    info : dict
        Route diagnostics (mesh, shift, frame, domain certificate...).
    """

    dim: int
    D: Any
    K: Any
    V: Any
    theta: float
    K_cov: Any
    eigenvalues: np.ndarray
    eta: np.ndarray
    omega: np.ndarray
    D_partial: np.ndarray
    K_partial: np.ndarray
    rel_error_estimate: float
    error_components: dict
    error_method: str
    rtol: float
    domain: tuple
    n_dofs: int
    method: str
    potential: str = ""
    D_is: str = "completed"
    parity: Optional[np.ndarray] = None
    eigenvalue_errors: Optional[np.ndarray] = None
    info: dict = field(default_factory=dict)
    modes: Any = field(default=None, repr=False)   # picklable evaluator of Psi_k (route's own)

    # ------------------------------------------------------------------------------------
    @property
    def n_modes(self) -> int:
        """N, the number of positive eigenvalues in the series."""
        return len(self.eigenvalues) - 1

    @property
    def accurate(self) -> bool:
        """``rel_error_estimate <= rtol``."""
        return bool(self.rel_error_estimate <= self.rtol)

    @property
    def D_series(self) -> Optional[Union[float, np.ndarray]]:
        """Truncated series :math:`D^N` (N = ``n_modes``; None if the route has no series)."""
        return None if self.D_partial is None else self._scalar(self.D_partial[-1])

    @property
    def K_series(self) -> Optional[Union[float, np.ndarray]]:
        """Truncated series :math:`K^N` (None where the problem has no K)."""
        return None if self.K_partial is None else self._scalar(self.K_partial[-1])

    @property
    def D_inf(self) -> Union[float, np.ndarray]:
        """The exact discrete Poisson solution (:math:`N\\to\\infty`): ``D`` when completed."""
        return self.D if self.D_is == "completed" else self.info.get("D_inf", math.nan)

    @property
    def K_inf(self) -> Optional[Union[float, np.ndarray]]:
        """:math:`K^\\infty`: ``K`` when completed."""
        return self.K if self.D_is == "completed" else self.info.get("K_inf", math.nan)

    @property
    def series_truncation(self) -> float:
        """Relative distance of the truncated series to the completed values (max of D, K)."""
        if self.D_is != "completed" or self.D_partial is None or len(self.D_partial) < 2:
            return math.nan
        err = relative_error(self.D_series, self.D)
        if self.K is not None and self.K_partial is not None:
            err = max(err, relative_error(self.K_series, self.K))
        return err

    def _scalar(self, x):
        return float(x) if np.ndim(x) == 0 else np.asarray(x)

    # ------------------------------------------------------------------------------------
    def eigenfunctions(self, points: ArrayLike) -> np.ndarray:
        r"""Normalised eigenfunctions :math:`\Psi_k`, k = 0..n_modes, at ``points``.

        ``points``: shape (npts,) in 1D, (dim, npts) for d >= 2.  Returns (n_modes+1, npts);
        :math:`\Psi_0 = \sqrt M`, :math:`\int\Psi_k^2 = 1`, zero outside the domain.
        """
        if self.modes is None:
            raise NotImplementedError(f"the {self.method} route does not keep its eigenfunctions")
        return self.modes(points)

    def eigenfunction(self, k: int) -> Callable[[ArrayLike], np.ndarray]:
        r"""The callable :math:`v \mapsto \Psi_k(v)`."""
        if not 0 <= k <= self.n_modes:
            raise IndexError(f"mode {k} not computed (0..{self.n_modes})")
        return lambda v: self.eigenfunctions(v)[k]

    # ------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """JSON-ready dictionary (the CLI's ``--json`` object and a sweep's row).

        Keys: ``potential, theta, dim, D, K, V, D_series, K_series, K_cov, D_is, eigenvalues,
        eta, omega, D_partial, K_partial, n_modes, rel_error_estimate, error_components,
        error_method, accurate, rtol, series_truncation, eigenvalue_errors, parity, domain,
        n_dofs, method, info`` (``info``: its JSON-representable scalars and strings).
        Arrays become nested lists; nan and inf become null.
        """
        info = {k: _json(v) for k, v in self.info.items()
                if isinstance(v, (bool, str, int, float, np.floating, np.integer))
                or (isinstance(v, (list, tuple)) and len(v) <= 16)}
        return {
            "potential": self.potential,
            "theta": _json(self.theta),
            "dim": int(self.dim),
            "D": _json(self.D),
            "K": _json(self.K),
            "V": _json(self.V),
            "D_series": _json(self.D_series),
            "K_series": _json(self.K_series),
            "K_cov": _json(self.K_cov),
            "D_is": self.D_is,
            "eigenvalues": _json(self.eigenvalues),
            "eta": _json(self.eta),
            "omega": _json(self.omega),
            "D_partial": _json(self.D_partial),
            "K_partial": _json(self.K_partial),
            "n_modes": self.n_modes,
            "rel_error_estimate": _json(self.rel_error_estimate),
            "error_components": _json(self.error_components),
            "error_method": self.error_method,
            "accurate": self.accurate,
            "rtol": _json(self.rtol),
            "series_truncation": _json(self.series_truncation),
            "eigenvalue_errors": _json(self.eigenvalue_errors),
            "parity": _json(self.parity),
            "domain": _json(self.domain),
            "n_dofs": int(self.n_dofs),
            "method": self.method,
            "info": info,
        }

    def summary(self) -> str:
        """One line: D, K, V, the estimate and what it covers."""
        fmt = (lambda x: f"{x:.15g}") if self.dim == 1 else \
            (lambda x: np.array2string(np.asarray(x), precision=12))
        return (f"D = {fmt(self.D)}, K = {fmt(self.K)}, V = {fmt(self.V)} (theta = "
                f"{self.theta:g}, dim {self.dim}, {self.method}, {self.n_modes} modes, rel. error "
                f"estimate {self.rel_error_estimate:.1e}: {self.error_method})")
