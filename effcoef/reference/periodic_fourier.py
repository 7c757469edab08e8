r"""A second discretisation of the periodic cell problems: Fourier spectral Galerkin (d = 1, 2).

Independent of the finite elements of :mod:`effcoef.fem_periodic` (no weight, no element, no
Lanczos: dense linear algebra on Fourier coefficients), for checking the periodic route.
Functions on the cell :math:`\prod_i [0, L_i)` are truncated Fourier series
:math:`f = \sum_{|k_i| \le K} \hat f_k e^{i\kappa_k\cdot x}`, :math:`\kappa_k = 2\pi k/L`;
:math:`\hat U` comes from an FFT of U on a fine grid (exact for trigonometric polynomials of
degree below the grid's Nyquist limit), multiplication by :math:`\partial_j U` is the
convolution with :math:`i\kappa_j\hat U`, truncated (Galerkin).  With
:math:`\mathcal L = \theta\Delta + (F - \nabla U)\cdot\nabla`:

* stationary density: :math:`\mathcal L^*\rho = \theta\Delta\rho + \nabla\cdot((\nabla U - F)\rho)
  = 0`, the k = 0 equation (identically zero) replaced by :math:`\hat\rho_0 = 1/|Y|`;
* :math:`V = F - \int\nabla U\,\rho`;
* correctors :math:`-\mathcal L\chi_j = F_j - \partial_j U - V_j` with :math:`\hat\chi_0 = 0`
  (the k = 0 equation dropped: it is implied, :math:`\rho` being the left null vector);
* :math:`D = \theta\int (I + \nabla\chi)(I + \nabla\chi)^T\rho`, by the trapezoidal rule on a
  grid fine enough to be exact for the product;
* eigenvalues of :math:`-\mathcal L` (dense ``eigvals``), sorted by real part.

The estimate is the change from K to ``K_coarse`` (default 3K/4) modes (of D, and of V when
F != 0).  Cost
:math:`O((2K+1)^{3d})`: meant for moderate :math:`\theta` (smooth densities), where it converges
spectrally.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
from numpy.typing import ArrayLike
from scipy.linalg import eigvals, lu_factor, lu_solve

from potentials import PeriodicPotential

__all__ = ["FourierResult", "fourier_coefficients"]


@dataclass
class FourierResult:
    """V (d,), D (d, d), the leading eigenvalues of -L (complex, sorted by real part; index 0
    is the kernel), the number of modes K per direction and the estimate (relative change of
    D and V from the coarser K)."""

    V: np.ndarray
    D: np.ndarray
    eigenvalues: Optional[np.ndarray]
    K: int
    rel_error_estimate: float


def _modes(K, d):
    k1 = np.arange(-K, K + 1)
    if d == 1:
        return k1[:, None]
    a, b = np.meshgrid(k1, k1, indexing="ij")
    return np.stack([a.ravel(), b.ravel()], axis=1)


def _U_hat(pot, n):
    """Fourier coefficients of U on an n^d grid: dict-like array indexed by k mod n."""
    d = pot.dim
    axes = [np.arange(n) * (L / n) for L in pot.period]
    G = np.array(np.meshgrid(*axes, indexing="ij")) if d == 2 else axes[0][None]
    return np.fft.fftn(pot.U(G)) / n ** d


def _solve(pot, theta, F, K, n_eig):
    d = pot.dim
    L = np.asarray(pot.period, dtype=float)
    n_grid = max(4 * K + 8, 32)
    Uh = _U_hat(pot, n_grid)
    k = _modes(K, d)                                  # (M, d)
    M = len(k)
    kap = 2 * np.pi * k / L[None, :]                  # (M, d)
    dk = k[:, None, :] - k[None, :, :]                # (M, M, d): k - l
    idx = tuple(np.mod(dk[..., j], n_grid) for j in range(d))
    Ukl = Uh[idx]                                     # U^_{k-l}
    kapd = 2 * np.pi * dk / L[None, None, :]          # kappa_{k-l}
    lap = -np.sum(kap ** 2, axis=1)
    # generator L: -theta|k|^2 + i F.k  -  sum_j (i kap_{k-l,j} U^_{k-l}) (i kap_{l,j})
    gradU = 1j * kapd * Ukl[..., None]                # (M, M, d): (d_j U)^_{k-l}
    Lmat = -np.einsum("klj,lj->kl", gradU, 1j * kap)
    Lmat[np.diag_indices(M)] += theta * lap + 1j * (kap @ F)
    # adjoint L*: -theta|k|^2 rho_k + i k . (grad U rho)^_k - i F.k rho_k
    Lstar = np.einsum("kj,klj->kl", 1j * kap, gradU)
    Lstar[np.diag_indices(M)] += theta * lap - 1j * (kap @ F)
    i0 = int(np.flatnonzero(np.all(k == 0, axis=1))[0])
    area = float(np.prod(L))
    A = Lstar.copy()
    A[i0, :] = 0.0
    A[i0, i0] = 1.0
    rhs = np.zeros(M, dtype=complex)
    rhs[i0] = 1.0 / area
    rho = np.linalg.solve(A, rhs)
    # V = F - int grad U rho = F - area sum_k (d_j U)^_{-k} rho_k
    iminus = tuple(np.mod(-k[:, j], n_grid) for j in range(d))
    Uminus = Uh[iminus]
    V = np.array([F[j] - area * np.sum(1j * (-kap[:, j]) * Uminus * rho) for j in range(d)])
    V = V.real
    # correctors: -L chi_j = F_j - d_j U - V_j, chi_0 = 0, equation k = 0 dropped
    keep = np.arange(M) != i0
    lu = lu_factor(-Lmat[np.ix_(keep, keep)])
    iplus = tuple(np.mod(k[:, j], n_grid) for j in range(d))
    Uplus = Uh[iplus]
    chis = []
    for j in range(d):
        b = -1j * kap[:, j] * Uplus
        b[i0] += F[j] - V[j]
        c = np.zeros(M, dtype=complex)
        c[keep] = lu_solve(lu, b[keep])
        chis.append(c)
    # D on a grid exact for the triple products (degree 3K)
    ng = 3 * K + 4
    axes = [np.arange(ng) * (Lj / ng) for Lj in L]
    X = np.array(np.meshgrid(*axes, indexing="ij")).reshape(d, -1) if d == 2 else axes[0][None]
    E = np.exp(1j * (kap @ X))                        # (M, npts)
    rho_x = (rho @ E).real
    J = np.empty((d, d, X.shape[1]))
    for a in range(d):
        for b_ in range(d):
            J[a, b_] = (((1j * kap[:, b_]) * chis[a]) @ E).real + (a == b_)
    w = area / X.shape[1]
    D = theta * np.einsum("ajq,bjq,q->ab", J, J, rho_x * w)
    eig = None
    if n_eig:
        ev = eigvals(-Lmat)
        ev = ev[np.lexsort((ev.imag, ev.real))]
        eig = ev[:n_eig + 1]
    return V, D, eig


def fourier_coefficients(U: Union[str, PeriodicPotential], theta: float, *,
                         period: Optional[ArrayLike] = None, force: Optional[ArrayLike] = None,
                         K: int = 16, K_coarse: Optional[int] = None,
                         n_eig: int = 0) -> FourierResult:
    r"""V and D (and ``n_eig`` eigenvalues of :math:`-\mathcal L`) by Fourier Galerkin.

    Parameters
    ----------
    U : potentials.PeriodicPotential or str
        The periodic potential (an expression in ``x`` or ``x1, x2`` with ``period``).
    theta : float > 0
    force : float or (F1, F2), optional
    K : int
        Modes :math:`|k_i| \le K` per direction (:math:`(2K+1)^d` unknowns).
    K_coarse : int, optional
        The coarser truncation of the estimate (default 3K/4).
    n_eig : int
        Number of non-zero eigenvalues to return (0: none).
    """
    import potentials

    if isinstance(U, str):
        U = potentials.periodic_from_expression(U, 1.0 if period is None else period)
    theta = float(theta)
    if not (math.isfinite(theta) and theta > 0):
        raise ValueError(f"theta must be a finite positive number, got {theta!r}")
    d = U.dim
    F = np.zeros(d) if force is None else np.atleast_1d(np.asarray(force, dtype=float))
    if len(F) != d or not np.all(np.isfinite(F)):
        raise ValueError(f"force must be {d} finite number(s), got {force!r}")
    V, D, eig = _solve(U, theta, F, int(K), int(n_eig))
    Kc = max(2, int(K_coarse) if K_coarse is not None else (3 * int(K)) // 4)
    Vc, Dc, _ = _solve(U, theta, F, Kc, 0)
    nD = np.linalg.norm(D)
    est = float(np.linalg.norm(D - Dc) / nD)
    nV = np.linalg.norm(V)
    if np.any(F != 0) and nV > 0:          # F = 0: V = 0 exactly (rounding only)
        est = max(est, float(np.linalg.norm(V - Vc) / nV))
    return FourierResult(V=V, D=D, eigenvalues=eig, K=int(K), rel_error_estimate=est)
