r"""Low spectrum of the discrete operator (paper 004, Step 3).

Two tools, used together in one dimension:

* :func:`lanczos_modes` - implicitly restarted Lanczos (``scipy.sparse.linalg.eigsh``)
  in shift-invert mode for :math:`A x = \lambda B x`.  The shift is *negative*
  (:math:`\sigma = -s`, ``s`` of the order of the first excited level), so that
  :math:`(A + sB)^{-1}B` is well conditioned whatever the tunnelling; the known
  kernel (the constants, i.e. :math:`\sqrt M`) is removed exactly by a bordered
  solve, not left to the eigensolver to separate from :math:`\lambda_1`.
  Eigenvalues come out with an absolute accuracy of about
  :math:`\epsilon\,s`; that is enough for every mode except an exponentially
  small one.
* :func:`green_inverse_iteration` - inverse iteration with the exact Green's
  operator of the weighted form (:func:`effcoef.fem1d.green_solve`), which is
  positivity preserving: for the lowest mode of a sector (a function with at
  most one sign change) every sum is of terms of one sign, so the eigenvalue
  keeps its *relative* accuracy even when it is :math:`e^{-250}`.  It converges
  like :math:`(\lambda_1/\lambda_2)^{n}`, i.e. in one or two steps exactly
  when it is needed.
"""

import numpy as np
from scipy import sparse
from scipy.sparse.linalg import LinearOperator, eigsh, splu

from .fem1d import green_solve

__all__ = ["lanczos_modes", "green_inverse_iteration"]


def _start_vector(n):
    # deterministic start vector: reproducible to the last bit, rich in all modes
    return np.random.default_rng(12345).standard_normal(n)


def lanczos_modes(A, B, k, *, shift, kernel=None, tol=0.0):
    r"""The ``k`` lowest eigenpairs of :math:`A x = \lambda B x`, excluding ``kernel``.

    Parameters
    ----------
    A, B : sparse symmetric matrices, A positive semi-definite, B positive definite.
    k : int, number of eigenpairs.
    shift : float > 0, Lanczos runs on :math:`(A + \mathrm{shift}\,B)^{-1} B`.
    kernel : array or None
        A vector spanning the kernel of ``A`` (the constant); the iteration is
        restricted to its B-orthogonal complement by a bordered solve.

    Returns
    -------
    lam : (k,) ascending eigenvalues; X : (n, k) B-orthonormal eigenvectors.
    """
    n = A.shape[0]
    C = (A + shift * B).tocsc()
    if kernel is None:
        lu = splu(C)
        solve = lu.solve
    else:
        Bk = B @ kernel
        K = sparse.bmat([[C, Bk[:, None]], [Bk[None, :], None]], format="csc")
        lu = splu(K)

        def solve(y):
            y = np.asarray(y).ravel()
            return lu.solve(np.concatenate([y, [0.0]]))[:n]
    nmax = n - 1 if kernel is None else n - 2
    if k > nmax:
        raise ValueError(f"asked for {k} modes but the discretisation has only {nmax} usable dofs")
    OPinv = LinearOperator((n, n), matvec=solve, dtype=float)
    ncv = min(n, max(2 * k + 1, 20))
    lam, X = eigsh(A, k=k, M=B, sigma=-shift, which="LM", OPinv=OPinv, v0=_start_vector(n),
                   tol=tol, ncv=ncv)
    order = np.argsort(lam)
    lam, X = lam[order], X[:, order]
    X = X / np.sqrt(np.einsum("ik,ik->k", X, B @ X))
    return lam, X


def green_inverse_iteration(fe, phi0, *, rtol=1e-15, maxiter=30):
    r"""Lowest eigenpair of a sector by inverse iteration with the Green's operator.

    Parameters
    ----------
    fe : effcoef.fem1d.WeightedFE
    phi0 : (n_elements, nq) starting function at the quadrature points
        (the Lanczos eigenvector: already accurate in shape, so one or two steps
        suffice).

    Returns
    -------
    lam : float
        :math:`\lambda = \theta\int m\,g^2 / \int m\,\varphi^2` (a ratio of positive sums).
    g, phi : derivative and value at the quadrature points, normalised by
        :math:`\int M \varphi^2 = 1` and :math:`\varphi` positive where it is largest.
    steps : int, change : float
        Iterations used and the last relative change of :math:`\lambda`
        (the accuracy indicator reported with the result).
    """
    phi = np.array(phi0, dtype=float)
    lam_old = np.nan
    change = np.inf
    for it in range(1, maxiter + 1):
        phi = phi / np.max(np.abs(phi))          # G phi ~ phi / lambda: keep magnitudes O(1)
        g, phi = green_solve(fe, phi)
        s = np.max(np.abs(phi))
        g, phi = g / s, phi / s
        nrm2 = fe.mean_square(phi)
        lam = fe.theta * fe.mean_square(g) / nrm2
        g, phi = g / np.sqrt(nrm2), phi / np.sqrt(nrm2)
        change = abs(lam - lam_old) / lam if np.isfinite(lam_old) else np.inf
        lam_old = lam
        if change <= rtol and it >= 2:
            break
    i = np.unravel_index(np.argmax(np.abs(phi)), phi.shape)
    if phi[i] < 0:
        g, phi = -g, -phi
    return lam, g, phi, it, change
