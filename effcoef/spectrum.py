r"""Low spectrum of the discrete operator (paper 004, Step 3).

Two tools, used together in one dimension:

* :func:`lanczos_modes` - Lanczos in shift-invert mode for :math:`A x = \lambda B x`
  (full re-orthogonalisation, banded Cholesky solves; ARPACK's
  ``scipy.sparse.linalg.eigsh`` as fallback).  The shift is *negative*
  (:math:`\sigma = -s`, ``s`` of the order of the first excited level), so that
  :math:`(A + sB)^{-1}B` is well conditioned whatever the tunnelling; the known
  kernel (the constants, i.e. :math:`\sqrt M`) is removed exactly by projection,
  not left to the eigensolver to separate from :math:`\lambda_1`.
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

import math

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh

from .fem1d import green_solve

_EPS = np.finfo(float).eps

__all__ = ["lanczos_modes", "green_inverse_iteration", "positive_inverse_iteration"]


def _start_vector(n):
    # deterministic start vector: reproducible to the last bit, rich in all modes
    return np.random.default_rng(12345).standard_normal(n)


def shift_invert_solver(A, B, shift, kernel=None):
    r"""Apply :math:`x \mapsto P(A + \mathrm{shift}\,B)^{-1} y`.

    :math:`A + \mathrm{shift}\,B` is symmetric positive definite and banded (element-wise
    dof numbering), so it is factorised once by banded Cholesky (LAPACK ``pbtrf``).  With
    a ``kernel`` vector k of A, P is the B-orthogonal projection onto the complement of k:
    since :math:`(A + sB)^{-1}Bk = k/s` this is exactly the shift-invert operator of the
    deflated pencil (the constant is removed exactly, not left to the eigensolver).
    """
    if hasattr(A, "ab"):               # effcoef.fem1d.BandedSym
        from scipy.linalg import cholesky_banded
        from scipy.linalg.lapack import dpbtrs

        cb = cholesky_banded(A.ab + shift * B.ab, lower=False, check_finite=False)

        def chol_solve(y):             # LAPACK pbtrs directly: the wrapper's checks cost 3x
            x, info = dpbtrs(cb, np.asarray(y, dtype=float).ravel(), lower=0)
            if info != 0:
                raise np.linalg.LinAlgError(f"pbtrs failed (info={info})")
            return x
    else:                              # general sparse (2D): sparse LU
        from scipy.sparse.linalg import splu

        # symmetric pencil: minimum degree on A + A^T (4x less fill than the default COLAMD
        # on the 2D Q6 matrices)
        lu = splu((A + shift * B).tocsc(), permc_spec="MMD_AT_PLUS_A")
        chol_solve = lambda y: lu.solve(np.asarray(y, dtype=float).ravel())  # noqa: E731

    if kernel is None:
        return chol_solve
    Bk = B @ kernel
    kBk = float(kernel @ Bk)
    return lambda y: (lambda x: x - kernel * (Bk @ x / kBk))(chol_solve(y))


def _lanczos(solve, B, k, n, *, tol, maxdim, project=None, start=None):
    r"""Lanczos with full B-orthogonalisation for the ``k`` largest eigenvalues of the
    B-self-adjoint operator :math:`OP = C^{-1}B` (given as ``solve`` = :math:`C^{-1}`).

    Returns (theta, X, converged, resid): Ritz values (descending), B-orthonormal Ritz
    vectors, whether every wanted pair converged, and the residual norms
    :math:`\beta_m |s_{m,i}|` (a bound of the error of each Ritz value, Kahan's theorem).
    Convergence: residual :math:`\beta_m |s_{m,i}| \le tol\,\theta_i` for every wanted i,
    which bounds the Ritz value error by :math:`(tol\,\theta_i)^2/\mathrm{gap}`.
    """
    Q = np.empty((maxdim + 1, n))          # rows: contiguous slices for the projections
    BQ = np.empty((maxdim + 1, n))
    q = _start_vector(n) if start is None else np.array(start, dtype=float)
    if project is not None:
        q = project(q)
    Bq = B @ q
    nq = np.sqrt(q @ Bq)
    Q[0], BQ[0] = q / nq, Bq / nq
    T = np.zeros((maxdim + 1, maxdim + 1))
    theta = S = None
    m = 0
    tnorm = 0.0                                  # running max |T_ij|: scale of the invariance test
    next_check, last = 2 * k + 4, None
    for j in range(maxdim):
        w = solve(BQ[j])
        # full re-orthogonalisation; a second pass only if the first removed most of w
        # (Kahan-Parlett "twice is enough"): with B-orthonormal Q the B-norm of w before the
        # pass is |h|^2 + |w_after|^2, so the test costs nothing
        h = BQ[:j + 1] @ w
        w -= h @ Q[:j + 1]
        T[:j + 1, j] += h
        Bw = B @ w
        b2 = max(float(w @ Bw), 0.0)
        if b2 < float(h @ h):
            h = BQ[:j + 1] @ w
            w -= h @ Q[:j + 1]
            T[:j + 1, j] += h
            Bw = B @ w
            b2 = max(float(w @ Bw), 0.0)
        beta = math.sqrt(b2)
        T[j + 1, j] = beta
        m = j + 1
        tnorm = max(tnorm, abs(T[j, j]), beta)
        invariant = beta <= 1e-13 * tnorm
        if m >= next_check or m == maxdim or invariant:
            theta, S = np.linalg.eigh(0.5 * (T[:m, :m] + T[:m, :m].T))
            theta, S = theta[::-1][:k], S[:, ::-1][:, :k]
            # worst residual in units of the tolerance: converged when <= 1
            worst = float(np.max(beta * np.abs(S[-1, :]) / (tol * np.abs(theta)))) \
                if m >= k else np.inf
            # an invariant subspace (the start vector sees only m modes): all Ritz pairs exact
            if invariant or worst <= 1.0 or m == maxdim:
                resid = np.zeros(len(theta)) if invariant else beta * np.abs(S[-1, :])
                return theta, (S.T @ Q[:m]).T, bool(invariant or worst <= 1.0), resid
            # the Ritz check (an m x m eigh) costs about two steps: schedule the next one where
            # the residual, decreasing geometrically between the last two checks, reaches tol
            step = 4
            if last is not None and np.isfinite(worst) and 0 < worst < last[1]:
                rate = math.log(last[1] / worst) / (m - last[0])
                step = min(max(int(math.ceil(math.log(worst) / rate)), 1), 16)
            last = (m, worst)
            next_check = m + step
        if invariant:
            break
        Q[j + 1], BQ[j + 1] = w / beta, Bw / beta
    return theta, None, False, None


def _dense_modes(A, B, k, kernel):
    """Tiny problems (a handful of elements): dense generalised eigh; the kernel mode (the
    eigenvector with the largest B-overlap with ``kernel``) is dropped."""
    from scipy.linalg import eigh

    Ad, Bd = A.tosparse().toarray(), B.tosparse().toarray()
    lam, X = eigh(Ad, Bd)
    if kernel is not None:
        drop = int(np.argmax(np.abs(X.T @ (Bd @ kernel))))
        lam, X = np.delete(lam, drop), np.delete(X, drop, axis=1)
    X = X[:, :k] / np.sqrt(np.einsum("ik,ik->k", X[:, :k], Bd @ X[:, :k]))
    return lam[:k], X


def _scaled_band(M, sc):
    """S M S for a BandedSym M and diagonal S = diag(sc) (upper band storage)."""
    from .fem1d import BandedSym

    ab = M.ab.copy()
    u = ab.shape[0] - 1
    for r in range(u + 1):
        off = u - r                                  # column j, row i = j - off
        ab[r, off:] *= sc[off:] * sc[:len(sc) - off]
    return BandedSym(ab)


def lanczos_modes(A, B, k, *, shift, kernel=None, tol=1e-12, maxdim=None, engine="lanczos",
                  start=None, solve=None, errors=False, _scaled=False):
    r"""The ``k`` lowest eigenpairs of :math:`A x = \lambda B x`, excluding ``kernel``.

    Parameters
    ----------
    A, B : effcoef.fem1d.BandedSym, A positive semi-definite, B positive definite.
    k : int, number of eigenpairs.
    shift : float > 0, Lanczos runs on :math:`(A + \mathrm{shift}\,B)^{-1} B`.
    kernel : array or None
        A vector spanning the kernel of ``A`` (the constant); removed exactly by projection.
    tol : float
        Relative residual of the Ritz values of the shift-inverted operator.
    maxdim : int, optional
        Largest Krylov dimension of the Lanczos iteration (default ``max(3k + 20, 60)``).
    engine : {"lanczos", "arpack"}
        ``"arpack"`` skips the fast path and runs ``scipy.sparse.linalg.eigsh`` directly.
    start : array, optional
        Start vector.  Started from (the shift-inverted) data, the Krylov space contains
        only the modes the data see, which are exactly the modes of the series (3.6).
    solve : callable, optional
        :math:`y \mapsto (A + \mathrm{shift}\,B)^{-1} y` from a factorisation the caller
        already holds (for a singular A with ``kernel`` and shift 0: any solution, e.g. from a
        factorisation with one pinned dof; the kernel is projected out afterwards).  Default:
        a new factorisation (banded Cholesky or sparse LU).

    errors : bool
        Also return the estimated relative error of each eigenvalue.

    Returns
    -------
    lam : (k,) ascending eigenvalues; X : (n, k) B-orthonormal eigenvectors;
    [err : (k,) relative error estimates of lam, if ``errors``].

    Notes
    -----
    A Lanczos iteration with full B-orthogonalisation (no restarts are needed for the small
    1D pencils; one banded solve and one B-product per step).  If it has not converged
    within ``maxdim`` steps, ARPACK's implicitly restarted Lanczos
    (``scipy.sparse.linalg.eigsh``) is run on the same shift-invert operator with a bounded
    number of restarts; if that does not converge either (clusters of exponentially small
    eigenvalues, one per well of a many-well potential), the Lanczos Ritz pairs are returned
    with their residual-based error estimates :math:`r_i/(\theta_i^2\lambda_i)`
    (:math:`r_i` the residual of the Ritz value :math:`\theta_i` of the shift-inverted
    operator) instead of an unbounded computation.  Converged eigenvalues carry
    :math:`100\,\epsilon\,s/\lambda`.
    """
    if hasattr(A, "ab") and not _scaled:
        # symmetric diagonal scaling S = diag(B)^-1/2: M spans up to e^-690 across a barrier,
        # and without it modes living where M is tiny (barrier-top states) have a negligible
        # B-weight in any start vector and are missed; eigenvectors are mapped back, X = S X^
        sc = 1.0 / np.sqrt(B.ab[-1])
        lam, Xs, err = lanczos_modes(_scaled_band(A, sc), _scaled_band(B, sc), k, shift=shift,
                                     kernel=None if kernel is None else kernel / sc, tol=tol,
                                     maxdim=maxdim, engine=engine,
                                     start=None if start is None else np.asarray(start) / sc,
                                     errors=True, _scaled=True)
        X = Xs * sc[:, None]           # B-orthonormal: X^T B X = Xs^T (S B S) Xs = I
        return (lam, X, err) if errors else (lam, X)
    n = A.shape[0]
    nmax = n - 1 if kernel is None else n - 2
    if k > nmax:
        raise ValueError(f"asked for {k} modes but the discretisation has only {nmax} usable dofs")
    if engine not in ("lanczos", "arpack"):
        raise ValueError(f"unknown eigensolver {engine!r} (use 'lanczos' or 'arpack')")
    if n <= 3 * k + 20 and engine == "lanczos" and hasattr(A, "ab"):
        lam, X = _dense_modes(A, B, k, kernel)
        err = 100 * _EPS * max(shift, 1.0) / np.maximum(np.abs(lam), 1e-300)
        return (lam, X, err) if errors else (lam, X)
    if solve is None:
        solve = shift_invert_solver(A, B, shift, kernel)
    elif kernel is not None:
        Bk0, kBk0, raw = B @ kernel, float(kernel @ (B @ kernel)), solve
        solve = lambda y: (lambda x: x - kernel * (Bk0 @ x / kBk0))(raw(y))  # noqa: E731
    project = None
    if kernel is not None:
        Bk = B @ kernel
        kBk = float(kernel @ Bk)
        project = lambda x: x - kernel * (Bk @ x / kBk)  # noqa: E731
    maxdim = min(nmax, max(4 * k + 40, 80) if maxdim is None else int(maxdim))
    ok = False
    ritz = None
    if engine == "lanczos":
        theta, X, ok, resid = _lanczos(solve, B, k, n, tol=tol, maxdim=maxdim,
                                       project=project, start=start)
        if X is not None:
            ritz = (theta, X, resid)
    if ok:
        lam = 1.0 / theta - shift
        err = 100 * _EPS * shift / np.maximum(np.abs(lam), 1e-300)
    else:
        from scipy.sparse.linalg import ArpackNoConvergence

        OPinv = LinearOperator((n, n), matvec=solve, dtype=float)
        ncv = min(n, max(2 * k + 1, k + 40))
        Aop = LinearOperator((n, n), matvec=A.dot, dtype=float)
        Bop = LinearOperator((n, n), matvec=B.dot, dtype=float)
        try:
            lam, X = eigsh(Aop, k=k, M=Bop, sigma=-shift, which="LM", OPinv=OPinv,
                           v0=project(_start_vector(n)) if project else _start_vector(n),
                           tol=0.0, ncv=ncv, maxiter=10)
            err = 100 * _EPS * shift / np.maximum(np.abs(lam), 1e-300)
        except ArpackNoConvergence:
            if ritz is None:
                raise
            theta, X, resid = ritz
            lam = 1.0 / theta - shift
            err = np.maximum(resid / (theta * theta * np.maximum(np.abs(lam), 1e-300)),
                             100 * _EPS * shift / np.maximum(np.abs(lam), 1e-300))
    order = np.argsort(lam)
    lam, X, err = lam[order], X[:, order], np.asarray(err)[order]
    X = X / np.sqrt(np.einsum("ik,ik->k", X, B @ X))
    return (lam, X, err) if errors else (lam, X)


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
    return positive_inverse_iteration(lambda f: green_solve(fe, f), fe.mean_square, fe.theta,
                                      phi0, rtol=rtol, maxiter=maxiter)


def positive_inverse_iteration(green, mean_square, theta, phi0, *, project=None, rtol=1e-15,
                               maxiter=30):
    r"""Inverse iteration with an exact Green's operator, the eigenvalue as a ratio of
    positive sums: :math:`\lambda = \theta\int m\,g^2/\int m\,\varphi^2` (relative
    accuracy for an exponentially small gap).

    ``green(phi)`` returns ``(g, phi_new)`` (derivative and value of the solution of the
    weighted problem with data phi), ``mean_square(f)`` :math:`\int M f^2`, ``project``
    (optional) removes the kernel from phi before each step.  Returns
    ``(lam, g, phi, steps, change)`` with :math:`\int M\varphi^2 = 1`, :math:`\varphi`
    positive where it is largest, and the last relative change of :math:`\lambda`.
    """
    phi = np.array(phi0, dtype=float)
    lam_old = np.nan
    change = np.inf
    for it in range(1, maxiter + 1):
        if project is not None:
            phi = project(phi)
        phi = phi / np.max(np.abs(phi))          # G phi ~ phi / lambda: keep magnitudes O(1)
        g, phi = green(phi)
        s = np.max(np.abs(phi))
        g, phi = g / s, phi / s
        nrm2 = mean_square(phi)
        lam = theta * mean_square(g) / nrm2
        g, phi = g / np.sqrt(nrm2), phi / np.sqrt(nrm2)
        change = abs(lam - lam_old) / lam if np.isfinite(lam_old) else np.inf
        lam_old = lam
        if change <= rtol and it >= 2:
            break
    i = np.unravel_index(np.argmax(np.abs(phi)), phi.shape)
    if phi[i] < 0:
        g, phi = -g, -phi
    return lam, g, phi, it, change
