"""Result objects shared by every route (SeriesResult; matrices D and K for d >= 2) and the
automatic truncation of the series (next_n_modes: 1D, radial and 2D)."""

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["MatrixCoefficientResult", "SeriesResult", "next_n_modes"]


def next_n_modes(D_partial, K_partial, D_inf, K_inf, target, cap=256):
    r"""N for the next pass of an automatic truncation of the series (3.6).

    The truncation error :math:`\max(\|D^n - D^\infty\|/\|D^\infty\|,
    \|K^n - K^\infty\|/\|K^\infty\|)` (Frobenius norms for matrices; ``D_partial[n]`` is
    :math:`D^n`, ``[0]`` = 0) is extrapolated with the geometric rate of its last four values
    (Theorem 3.1: the tail of a convergent series) to where it reaches ``target``; with a 25 %
    margin, at least N + 4 and at most 2N (also when no decay can be read off), at most ``cap``.
    """
    Dp, Kp = np.asarray(D_partial, float), np.asarray(K_partial, float)
    N = len(Dp) - 1

    def err(P, inf):
        ax = tuple(range(1, P.ndim))
        return (np.sqrt(np.sum((P[1:] - inf) ** 2, axis=ax)) if ax else np.abs(P[1:] - inf)) \
            / np.linalg.norm(inf)

    with np.errstate(all="ignore"):
        tr = np.maximum(err(Dp, np.asarray(D_inf, float)), err(Kp, np.asarray(K_inf, float)))
        tail = np.log(tr[-4:]) if N >= 4 else np.array([])
    new = 2 * N
    if len(tail) == 4 and np.all(np.isfinite(tail)):
        rate = (tail[-1] - tail[0]) / 3.0          # log-decrease per mode (< 0 if decaying)
        if rate < 0:
            new = N + int(math.ceil(1.25 * (math.log(target) - tail[-1]) / rate))
    return int(min(max(new, N + 4), 2 * N, cap))


class SeriesResult:
    """What every coefficient result derives from its fields (1D and d >= 2)."""

    @property
    def n_modes(self):
        return len(self.eigenvalues) - 1

    @property
    def accurate(self):
        return bool(self.rel_error_estimate <= self.rtol)


@dataclass
class MatrixCoefficientResult(SeriesResult):
    r"""Effective coefficients in dimension ``dim`` (scipy-style result).

    Attributes
    ----------
    D, K : (dim, dim) ndarray
        Truncated spectral series :math:`\mathcal D^N, \mathcal K^N` (paper 004, 3.6).
    V : (dim,) ndarray
        Mean velocity :math:`\int v M`.
    K_cov : (dim, dim) ndarray
        The exact identity :math:`\mathcal K = \mathrm{Cov}_M(v)/\theta`, computed by
        quadrature on the same discretisation (a check of the series).
    eigenvalues : ndarray
        :math:`\lambda_0 = 0, \lambda_1, \dots` of the channel that carries the data (radial:
        the l = 1 channel, each eigenvalue has multiplicity ``dim`` in the spectrum of H).
    eta, omega : ndarray
        Fourier coefficients of the data (radial: scalars per mode; 2D FE: (n+1, dim)).
    D_partial, K_partial : ndarray (n_modes + 1, dim, dim)
        Partial sums :math:`\mathcal D^N`, ``[0]`` = 0.
    D_inf, K_inf : (dim, dim) ndarray
        Exact discrete Poisson solutions (the N -> infinity limits).
    rel_error_estimate, error_components, error_method, rtol : as in the 1D result.
    method : {"radial", "fe2d"}
    """

    D: np.ndarray
    K: np.ndarray
    V: np.ndarray
    theta: float
    dim: int
    K_cov: np.ndarray
    eigenvalues: np.ndarray
    eta: np.ndarray
    omega: np.ndarray
    D_partial: np.ndarray
    K_partial: np.ndarray
    D_inf: np.ndarray
    K_inf: np.ndarray
    rel_error_estimate: float
    error_components: dict
    error_method: str
    rtol: float
    n_dofs: int
    method: str
    domain: tuple
    info: dict = field(default_factory=dict)

    def summary(self):
        return (f"D = {np.array2string(self.D, precision=12)}, K = "
                f"{np.array2string(self.K, precision=12)} (theta = {self.theta:g}, dim "
                f"{self.dim}, {self.method}, rel. error estimate {self.rel_error_estimate:.1e})")
