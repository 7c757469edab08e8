r"""Hermite-Fourier discretisation of the kinetic (Klein-Kramers) generator on a torus.

The underdamped Langevin dynamics on the torus :math:`\mathbb T^d = \prod_i [0, L_i)`

.. math:: dx = p\,dt, \qquad dp = (-\nabla U(x) + F)\,dt - \gamma p\,dt + \sqrt{2\gamma\theta}\,dB

has the generator

.. math:: \mathcal L = p\cdot\nabla_x + (F - \nabla U)\cdot\nabla_p
          + \gamma(-p\cdot\nabla_p + \theta\Delta_p).

With :math:`\Psi_0 = e^{-H/(2\theta)}/\sqrt Z`, :math:`H = |p|^2/2 + U`, the unitary map
:math:`\chi \mapsto u = \chi\Psi_0` from :math:`L^2(e^{-H/\theta}/Z)` to the flat
:math:`L^2(dx\,dp)` turns :math:`\mathcal L` into (the terms :math:`\pm p\cdot\nabla U/(2\theta)`
of the two Hamiltonian pieces cancel)

.. math:: \tilde{\mathcal L} = \Psi_0\,\mathcal L\,\Psi_0^{-1}
          = p\cdot\nabla_x - \nabla U\cdot\nabla_p
            + F\cdot\Big(\nabla_p + \frac{p}{2\theta}\Big)
            - \gamma\sum_i\Big(-\theta\partial_{p_i}^2 + \frac{p_i^2}{4\theta} - \frac12\Big),

a transport part that is antisymmetric in :math:`L^2(dx\,dp)` (for F = 0) plus :math:`\gamma` times
a harmonic oscillator in p, with :math:`\tilde{\mathcal L}\Psi_0 = 0`.  This module discretises
:math:`\tilde{\mathcal L}` by

* **Hermite functions in p** with a scale :math:`\sigma = s\sqrt{2\theta}`:
  :math:`h^\sigma_n(p) = h_n(p/\sigma)/\sqrt\sigma`, total degree :math:`|n| \le N` in 2D.
  :math:`s = 1` is the natural scale (the oscillator is diagonal, :math:`h_0^\sigma \propto
  e^{-p^2/(4\theta)}`), but then N functions resolve p only to :math:`\sqrt{\theta/N}` while
  covering :math:`|p| \le \sqrt{4\theta N}`, far more than the Gaussian needs.  With
  :math:`s = c/\sqrt{2N+1}` the N functions cover a fixed :math:`|p| \le c\sqrt{2\theta}` (c from
  the tolerance: the data decay like :math:`e^{-p^2/(4\theta)}`) and resolve it to
  :math:`\sim c\sqrt\theta/N`: N grows like :math:`\gamma^{-1/2}` instead of :math:`\gamma^{-1}`
  as the friction goes to 0 (the boundary layer of width :math:`\sqrt\gamma` in energy along
  the separatrix is what must be resolved).  In this basis p and :math:`\partial_p` are
  tridiagonal and the oscillator pentadiagonal.
* **Fourier modes in x** in the real orthonormal basis
  :math:`\{1, \sqrt2\cos(2\pi kx/L), \sqrt2\sin(2\pi kx/L)\}/\sqrt L`, :math:`k \le K_i`, where
  :math:`\partial_x` is 2x2-block diagonal and multiplication by :math:`\partial_iU` is the
  (sparse, real) Toeplitz-plus-Hankel matrix of its Fourier coefficients (FFT on a grid fine
  enough that the coefficients have decayed to round-off).

Symmetry: if :math:`U(-x_i) = U(x_i)` and :math:`F_i = 0`, the reflection
:math:`(x_i, p_i) \to (-x_i, -p_i)` commutes with :math:`\tilde{\mathcal L}`; the data
:math:`p_i\Psi_0` are odd in direction i and even in the others, so each solve is restricted to
its parity sector (1/2 of the unknowns in 1D, 1/4 in 2D).  The kernel :math:`\Psi_0` lies in the
all-even sector; where the solved sector contains it, one degree of freedom (the largest
component of the discrete :math:`\Psi_0`) is pinned to 0 - the right-hand sides are orthogonal
to the left kernel, and the coefficients do not see a multiple of :math:`\Psi_0` (see
:mod:`effcoef.underdamped`).

Nothing here imports the finite-element or eigensolver modules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
import scipy.sparse as sp

__all__ = ["FourierTables", "KineticSpace", "hermite_ops_1d", "hermite_gaussian_projections",
           "hermite_functions", "marginal_tables",
           "fourier_real_basis", "coverage_constant"]

_EPS = np.finfo(float).eps


# ------------------------------------------------------------------------------------------
# Hermite functions


def hermite_ops_1d(N: int, sigma: float):
    r"""p, :math:`\partial_p`, :math:`p^2`, :math:`\partial_p^2` on :math:`h^\sigma_0..h^\sigma_N`.

    With the ladder operator :math:`c\,h_n = \sqrt n\,h_{n-1}`:
    :math:`p = \sigma(c + c^*)/\sqrt2`, :math:`\partial_p = (c - c^*)/(\sigma\sqrt2)`; the
    squares are the exact operators restricted to the span (computed on N + 3 functions and
    cut), not the squares of the truncated matrices.  Returns CSR matrices (N+1, N+1).
    """
    M = N + 3
    n = np.sqrt(np.arange(1, M + 1, dtype=float))
    c = sp.diags(n, 1, shape=(M + 1, M + 1), format="csr")
    cs = c.T.tocsr()
    P = (sigma / math.sqrt(2.0)) * (c + cs)
    Dp = (1.0 / (sigma * math.sqrt(2.0))) * (c - cs)
    P2 = (P @ P)[: N + 1, : N + 1]
    D2 = (Dp @ Dp)[: N + 1, : N + 1]
    cut = slice(0, N + 1)
    return (P[cut, cut].tocsr(), Dp[cut, cut].tocsr(), P2.tocsr(), D2.tocsr())


def hermite_functions(N: int, y: np.ndarray) -> np.ndarray:
    r"""Normalised Hermite functions :math:`h_0..h_N` at y (stable three-term recurrence).

    The recurrence runs on :math:`h_n(y)e^{y^2/2}` with a running power-of-two scale per
    point, and :math:`e^{-y^2/2}` is applied at the end: starting from :math:`h_0(y)`, which
    underflows to 0 beyond :math:`|y| \approx 38.6`, would give :math:`h_n(y) = 0` there
    although :math:`h_n` is O(1) up to its turning point :math:`\sqrt{2n+1}` (n > 745).
    """
    y = np.asarray(y, dtype=float)
    H = np.empty((N + 1, y.size))
    yr = y.ravel()
    lscale = -0.5 * yr * yr                 # log of the factor applied to the scaled values
    prev = np.zeros_like(yr)
    cur = np.full_like(yr, math.pi ** -0.25)
    H[0] = cur * np.exp(lscale)
    for k in range(1, N + 1):
        nxt = math.sqrt(2.0 / k) * yr * cur - math.sqrt((k - 1) / k) * prev
        prev, cur = cur, nxt
        big = np.abs(cur) > 1e150
        if big.any():
            prev[big] *= 1e-150
            cur[big] *= 1e-150
            lscale[big] += 150.0 * math.log(10.0)
        H[k] = cur * np.exp(lscale)
    return H


def hermite_gaussian_projections(N: int, sigma: float, theta: float):
    r"""Coefficients of :math:`g_0 = e^{-p^2/(4\theta)}` and :math:`g_1 = p\,g_0` on :math:`h^\sigma_n`.

    In closed form: with :math:`a = \sigma^2/(2\theta)` and :math:`q = (1-a)/(1+a)`,
    :math:`I_n = \int h_n(y)e^{-ay^2/2}dy` is 0 for odd n, :math:`I_0 = \pi^{-1/4}
    \sqrt{2\pi/(1+a)}` and :math:`I_{2m} = I_{2m-2}\,q\sqrt{(2m-1)/(2m)}` (from
    :math:`\int H_{2m}(y)e^{-by^2}dy = \sqrt{\pi/b}\,\frac{(2m)!}{m!}(1/b-1)^m`); then
    :math:`(g_0)_n = \sqrt\sigma I_n` and, with :math:`y h_n = \sqrt{(n+1)/2}\,h_{n+1} +
    \sqrt{n/2}\,h_{n-1}`, :math:`(g_1)_n = \sigma^{3/2}(\sqrt{(n+1)/2}\,I_{n+1} +
    \sqrt{n/2}\,I_{n-1})`.  Returns two arrays (N+1,); :math:`\int g_0^2 = \sqrt{2\pi\theta}`.
    """
    a = sigma * sigma / (2.0 * theta)
    q = (1.0 - a) / (1.0 + a)
    I = np.zeros(N + 2)
    I[0] = math.pi ** -0.25 * math.sqrt(2.0 * math.pi / (1.0 + a))
    m = np.arange(1, (N + 1) // 2 + 1)
    if m.size:
        I[2 * m] = I[0] * np.cumprod(q * np.sqrt((2.0 * m - 1.0) / (2.0 * m)))
    n = np.arange(N + 1)
    g0 = math.sqrt(sigma) * I[: N + 1]
    Im1 = np.r_[0.0, I[: N]]
    g1 = sigma ** 1.5 * (np.sqrt((n + 1) / 2.0) * I[1: N + 2] + np.sqrt(n / 2.0) * Im1)
    return g0, g1


def coverage_constant(rtol: float, depth: float = 0.0) -> float:
    r"""c in :math:`s = \min(1, c/\sqrt{2N+1})`: Hermite functions cover :math:`|p| \le c\sqrt{2\theta}`.

    Two errors depend on c alone (not on N): the tails beyond the turning point
    :math:`\sqrt{2N+1}` of :math:`h_N` (the data and solutions decay like
    :math:`e^{-y^2/2}`, :math:`y = p/\sqrt{2\theta}`), and the expansion of the Gaussian
    :math:`e^{-y^2/2}` itself in the narrower functions, whose coefficients decay like
    :math:`((1-s^2)/(1+s^2))^{n/2} \approx e^{-s^2 n}`, i.e. to :math:`e^{-c^2/2}` at n = N.
    Both are below rtol when :math:`c^2/2 \ge \ln(1/\mathrm{rtol})`; a factor 1.25 of margin
    is taken (c = 7.6 at rtol 1e-8, 6.6 at 1e-6).  A deep potential makes D small compared with
    the free value :math:`\theta/\gamma` (by up to :math:`e^{-\mathrm{depth}}`,
    depth = :math:`(\max U - \min U)/\theta`), and absolute errors of that size are relative
    errors amplified by as much, so ``depth`` (capped at 20) is added to
    :math:`\ln(1/\mathrm{rtol})`.  For :math:`N \le (c^2-1)/2` the natural scale s = 1 is
    used (the oscillator is then diagonal and the Gaussian exact).
    """
    r = min(max(rtol, 1e-16), 1e-2)
    extra = min(max(float(depth), 0.0), 20.0)
    return max(5.0, 1.25 * math.sqrt(2.0 * (math.log(1.0 / r) + extra)))


# ------------------------------------------------------------------------------------------
# Fourier modes


def fourier_real_basis(K: int, L: float):
    r"""The real basis :math:`[1, \cos_1, \sin_1, \dots, \cos_K, \sin_K]` on [0, L).

    Returns ``(Dx, T, parity)``: ``Dx`` the matrix of :math:`d/dx` (CSR, antisymmetric),
    ``T`` (2K+1, 2K+1) complex with column j the coefficients of real function j on the
    exponentials :math:`e_m = e^{2\pi imx/L}/\sqrt L`, m = -K..K (row m + K), and ``parity``
    (+1 for 1 and cos, -1 for sin).
    """
    n = 2 * K + 1
    k = np.arange(1, K + 1)
    kap = 2.0 * math.pi * k / L
    ic, is_ = 2 * k - 1, 2 * k
    Dx = sp.csr_matrix((np.r_[-kap, kap], (np.r_[is_, ic], np.r_[ic, is_])), shape=(n, n))
    T = np.zeros((n, n), dtype=complex)
    T[K, 0] = 1.0
    r = 1.0 / math.sqrt(2.0)
    T[K + k, ic] = r
    T[K - k, ic] = r
    T[K + k, is_] = -1j * r
    T[K - k, is_] = 1j * r
    parity = np.ones(n, dtype=int)
    parity[is_] = -1
    return Dx, T, parity


@dataclass
class FourierTables:
    r"""Fourier coefficients of :math:`\partial_i U` and of :math:`e^{-(U - U_{\min})/(2\theta)}`.

    Computed by the FFT on a uniform grid of ``nf`` points per direction, doubled until the
    coefficients in the outer quarter of the spectrum are below :math:`10^{-15}` of the largest
    (so aliasing is at round-off); coefficients below ``drop`` times the largest are dropped
    from the multiplication matrices, and the l1 norm of what is dropped, relative, is kept
    as ``dropped`` (a bound on the relative perturbation of the operator).
    """

    dim: int
    period: tuple
    nf: tuple
    grad_hat: list            # d arrays (complex, fftshifted? no: numpy order), coefficient of e^{imx}
    psi_hat: np.ndarray       # coefficients of exp(-(U-Umin)/(2 theta)) (un-normalised)
    Umin: float
    Umax: float
    grad_scale: float
    dropped: float = 0.0
    drop: float = 1e-16
    offsets: list = field(default_factory=list)   # significant offsets (tuples) per gradient

    @classmethod
    def build(cls, U, grad, period: Sequence[float], theta: float, *, nf0: int = 64,
              nf_max: Optional[int] = None, drop: float = 1e-16):
        d = len(period)
        if nf_max is None:
            nf_max = 8192 if d == 1 else 1024
        nf = nf0
        while True:
            axes = [np.arange(nf) * (Li / nf) for Li in period]
            X = np.stack(np.meshgrid(*axes, indexing="ij"))
            Uv = np.asarray(U(X), dtype=float)
            G = np.asarray(grad(X), dtype=float).reshape((d,) + Uv.shape)
            if not (np.all(np.isfinite(Uv)) and np.all(np.isfinite(G))):
                raise ValueError("U or its gradient is not finite on the period cell")
            Umin, Umax = float(Uv.min()), float(Uv.max())
            gh = [np.fft.fftn(G[i]) / Uv.size for i in range(d)]
            ph = np.fft.fftn(np.exp(-(Uv - Umin) / (2.0 * theta))) / Uv.size
            if all(_tail(a) <= 1e-15 for a in gh + [ph]):
                break
            if nf * 2 > nf_max:
                raise ValueError(
                    f"the potential is not resolved by {nf} Fourier points per direction "
                    f"(its Fourier coefficients or those of exp(-U/(2 theta)) have not decayed "
                    f"to round-off; theta = {theta:g} may be too small for this U)")
            nf *= 2
        scale = max(float(max(np.abs(a).max() for a in gh)), 1e-300)
        dropped, offsets = 0.0, []
        for a in gh:
            keep = np.abs(a) > drop * scale
            dropped += float(np.abs(a[~keep]).sum())
            offsets.append(keep)
        return cls(d, tuple(float(x) for x in period), (nf,) * d, gh, ph, Umin, Umax, scale,
                   dropped / scale, drop, offsets)

    # -- matrices on a given set of modes ------------------------------------------------
    def bandwidth(self, i: int) -> tuple:
        """Largest absolute offset per direction among the kept coefficients of grad_i U."""
        keep = self.offsets[i]
        idx = np.nonzero(keep)
        out = []
        for ax, nfa in enumerate(keep.shape):
            m = idx[ax]
            m = np.where(m > nfa // 2, m - nfa, m)
            out.append(int(np.abs(m).max()) if m.size else 0)
        return tuple(out)

    def mult_matrix(self, i: int, K: Sequence[int]):
        r"""Matrix of multiplication by :math:`\partial_iU` on the real tensor basis (CSR)."""
        return _mult_real(self.grad_hat[i], self.offsets[i], K)

    def ground_state(self, K: Sequence[int]):
        r"""Coefficients of :math:`e^{-(U-U_{\min})/(2\theta)}` on the real tensor basis,
        normalised to unit l2 norm; with the norm of the discarded modes (relative)."""
        a = _project_real(self.psi_hat, K, self.period)
        total = float(np.sqrt(np.sum(np.abs(self.psi_hat) ** 2) * np.prod(self.period)))
        nrm = float(np.linalg.norm(a))
        lost = math.sqrt(max(total ** 2 - nrm ** 2, 0.0)) / total if total > 0 else 0.0
        return a / nrm, lost


def _tail(a: np.ndarray) -> float:
    """Largest |coefficient| with some |m| > nf/4, relative to the largest."""
    mx = float(np.abs(a).max())
    if mx == 0.0:
        return 0.0
    mask = np.zeros(a.shape, dtype=bool)
    for ax, n in enumerate(a.shape):
        m = np.fft.fftfreq(n, 1.0 / n)
        sl = [None] * a.ndim
        sl[ax] = slice(None)
        mask |= (np.abs(m) > n // 4)[tuple(sl)]
    return float(np.abs(a[mask]).max()) / mx if mask.any() else 0.0


def _real_transform(K: Sequence[int]):
    """Tensor product of the 1D transforms (sparse, complex) and the real parities."""
    T, par = None, None
    for Ki in K:
        _, Ti, pi = fourier_real_basis(Ki, 1.0)
        Ts = sp.csr_matrix(Ti)
        T = Ts if T is None else sp.kron(T, Ts, format="csr")
        par = pi if par is None else np.kron(par, pi)
    return T, par


def _mult_real(ghat: np.ndarray, keep: np.ndarray, K: Sequence[int]):
    """Real matrix of multiplication by a real function with coefficients ``ghat`` (numpy FFT order)."""
    d = len(K)
    nf = ghat.shape
    idx = np.nonzero(keep)
    offs = []
    for ax in range(d):
        m = idx[ax]
        offs.append(np.where(m > nf[ax] // 2, m - nf[ax], m))
    offs = np.stack(offs, axis=1) if idx[0].size else np.zeros((0, d), dtype=int)
    vals = ghat[idx]
    # exponential modes: multi-index j in prod [-K_a, K_a]; flat index row-major
    sizes = [2 * k + 1 for k in K]
    rows, cols, data = [], [], []
    grids = np.meshgrid(*[np.arange(-k, k + 1) for k in K], indexing="ij")
    J = np.stack([g.ravel() for g in grids], axis=1)          # (nx, d) exponential indices
    flat_J = np.ravel_multi_index(tuple((J + np.array(K)).T), sizes)
    for off, v in zip(offs, vals):
        Kc = J - off                                          # column index k = j - m
        ok = np.all(np.abs(Kc) <= np.array(K), axis=1)
        if not ok.any():
            continue
        rows.append(flat_J[ok])
        cols.append(np.ravel_multi_index(tuple((Kc[ok] + np.array(K)).T), sizes))
        data.append(np.full(int(ok.sum()), v))
    n = int(np.prod(sizes))
    if rows:
        C = sp.csr_matrix((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n, n))
    else:
        C = sp.csr_matrix((n, n), dtype=complex)
    T, _ = _real_transform(K)
    R = (T.conj().T @ C @ T).tocsr()
    imag = float(np.abs(R.data.imag).max()) if R.nnz else 0.0
    scale = float(np.abs(R.data).max()) if R.nnz else 1.0
    if imag > 1e-12 * max(scale, 1e-300):
        raise ValueError("internal error: the multiplication matrix of a real function is not real")
    R = sp.csr_matrix((R.data.real, R.indices, R.indptr), shape=R.shape)
    R.data[np.abs(R.data) <= 4 * _EPS * scale] = 0.0
    R.eliminate_zeros()
    return R


def _project_real(fhat: np.ndarray, K: Sequence[int], period) -> np.ndarray:
    """Real-basis coefficients (orthonormal on the cell) of a real function with FFT coefficients fhat."""
    nf = fhat.shape
    grids = np.meshgrid(*[np.arange(-k, k + 1) for k in K], indexing="ij")
    idx = tuple(g.ravel() % n for g, n in zip(grids, nf))
    # modes beyond the FFT grid's Nyquist limit are zero (the grid resolves f to round-off);
    # reading them from fhat would alias them onto low modes
    inside = np.all([np.abs(g.ravel()) < n // 2 for g, n in zip(grids, nf)], axis=0)
    e = np.where(inside, fhat[idx], 0.0) * math.sqrt(float(np.prod(period)))
    T, _ = _real_transform(K)
    return np.asarray((T.conj().T @ e)).real.ravel()


# ------------------------------------------------------------------------------------------
# the tensor space and the operator


def _hermite_set(N: int, d: int, tensor: bool = False) -> np.ndarray:
    """Multi-indices n with |n|_1 <= N (d = 2; max-degree <= N if ``tensor``) or n <= N (d = 1),
    shape (nH, d)."""
    if d == 1:
        return np.arange(N + 1)[:, None]
    n1, n2 = np.meshgrid(np.arange(N + 1), np.arange(N + 1), indexing="ij")
    m = np.ones_like(n1, dtype=bool) if tensor else (n1 + n2) <= N
    return np.stack([n1[m], n2[m]], axis=1)


def _lift(op1: sp.spmatrix, S: np.ndarray, axis: int, N: int) -> sp.csr_matrix:
    """The 1D Hermite operator ``op1`` acting on coordinate ``axis`` of the multi-index set S."""
    nH, d = S.shape
    if d == 1:
        return op1.tocsr()
    lookup = -np.ones((N + 1,) * d, dtype=np.int64)
    lookup[tuple(S.T)] = np.arange(nH)
    coo = op1.tocoo()
    by_col = {}
    for a, b, v in zip(coo.row, coo.col, coo.data):
        by_col.setdefault(int(b), []).append((int(a), v))
    rows, cols, data = [], [], []
    for b, lst in by_col.items():
        src = np.nonzero(S[:, axis] == b)[0]
        for a, v in lst:
            T = S[src].copy()
            T[:, axis] = a
            ok = np.all(T <= N, axis=1)
            tgt = np.full(src.size, -1, dtype=np.int64)
            tgt[ok] = lookup[tuple(T[ok].T)]
            good = tgt >= 0
            rows.append(tgt[good])
            cols.append(src[good])
            data.append(np.full(int(good.sum()), v))
    return sp.csr_matrix((np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(nH, nH))


@dataclass
class KineticSpace:
    r"""One discretisation: Hermite degree N (scale sigma), Fourier modes K, a parity sector.

    ``sector``: tuple with, per direction, +1/-1 (solve in that parity of the reflection
    :math:`(x_i, p_i)\to(-x_i, -p_i)`) or 0 (no symmetry used in that direction).
    """

    dim: int
    N: int
    K: tuple
    sigma: float
    theta: float
    sector: tuple
    S: np.ndarray = field(repr=False, default=None)
    classes: list = field(repr=False, default=None)   # [(H_idx, F_idx)] blocks of the sector

    @classmethod
    def make(cls, dim, N, K, sigma, theta, sector, tensor=False):
        S = _hermite_set(N, dim, tensor)
        _, fpar = _real_transform(K)
        # Fourier parity per direction
        fpar_axes = []
        for Ka in K:
            _, _, pa = fourier_real_basis(Ka, 1.0)
            fpar_axes.append(pa)
        grids = np.meshgrid(*[np.arange(2 * k + 1) for k in K], indexing="ij")
        Fidx = np.stack([g.ravel() for g in grids], axis=1)     # (nx, d) real-basis indices
        sym_axes = [a for a in range(dim) if sector[a] != 0]
        classes = []
        for key in np.ndindex(*([2] * len(sym_axes))):
            hm = np.ones(S.shape[0], dtype=bool)
            fm = np.ones(Fidx.shape[0], dtype=bool)
            for a, par_n in zip(sym_axes, key):
                hm &= (S[:, a] % 2) == par_n
                want = sector[a] * (1 if par_n == 0 else -1)      # Fourier parity needed
                fm &= fpar_axes[a][Fidx[:, a]] == want
            if hm.any() and fm.any():
                classes.append((np.nonzero(hm)[0], np.nonzero(fm)[0]))
        return cls(dim, int(N), tuple(int(k) for k in K), float(sigma), float(theta),
                   tuple(sector), S, classes)

    @property
    def n_dofs(self) -> int:
        return int(sum(h.size * f.size for h, f in self.classes))

    @property
    def nx(self) -> int:
        return int(np.prod([2 * k + 1 for k in self.K]))

    def _assemble(self, terms):
        """Sum of kron(H, F) over ``terms`` restricted to the sector (class blocks), CSR."""
        blocks = []
        for hr, fr in self.classes:
            row = []
            for hc, fc in self.classes:
                acc = None
                for H, F in terms:
                    Hb = H[hr][:, hc]
                    if Hb.nnz == 0:
                        continue
                    Fb = F[fr][:, fc]
                    if Fb.nnz == 0:
                        continue
                    kb = sp.kron(Hb, Fb, format="csr")
                    acc = kb if acc is None else acc + kb
                row.append(acc)
            blocks.append(row)
        if len(self.classes) == 1 and blocks[0][0] is not None:
            return blocks[0][0].tocsr()
        return sp.bmat(blocks, format="csr")

    def hermite_ops(self):
        """Lifted (P_i, Dp_i, OU_i) for each direction on the multi-index set."""
        P1, D1, P21, D21 = hermite_ops_1d(self.N, self.sigma)
        th = self.theta
        OU1 = (th * D21 - P21 / (4.0 * th) + 0.5 * sp.identity(self.N + 1)).tocsr()
        out = []
        for a in range(self.dim):
            out.append(tuple(_lift(M, self.S, a, self.N) for M in (P1, D1, OU1)))
        return out

    def generator(self, tables: FourierTables, gamma: float, force=None):
        r"""The matrix of :math:`\tilde{\mathcal L}` on the sector (CSR)."""
        ops = self.hermite_ops()
        nH = self.S.shape[0]
        IH = sp.identity(nH, format="csr")
        Ix = sp.identity(self.nx, format="csr")
        Dx_axes = [fourier_real_basis(k, L)[0] for k, L in zip(self.K, tables.period)]
        terms = []
        F = np.zeros(self.dim) if force is None else np.asarray(force, float)
        for a in range(self.dim):
            P, Dp, OU = ops[a]
            Dx = sp.identity(1, format="csr")
            for b in range(self.dim):
                Dx = sp.kron(Dx, Dx_axes[b] if b == a else
                             sp.identity(2 * self.K[b] + 1, format="csr"), format="csr")
            Mg = tables.mult_matrix(a, self.K)
            terms.append((P, Dx))
            terms.append((-Dp, Mg))
            Hdiag = gamma * OU
            if F[a] != 0.0:
                Hdiag = Hdiag + F[a] * (Dp + P / (2.0 * self.theta))
            terms.append((Hdiag.tocsr(), Ix))
        del IH
        return self._assemble(terms)

    def multiplication_p(self, a: int):
        r"""The matrix of multiplication by :math:`p_a` on the sector (it maps the sector with
        parity :math:`\epsilon` in direction a to :math:`-\epsilon`; used only without symmetry)."""
        P = self.hermite_ops()[a][0]
        return self._assemble([(P, sp.identity(self.nx, format="csr"))])

    def dof_hermite(self) -> np.ndarray:
        """Hermite multi-index of each unknown of the sector, shape (n_dofs, dim).

        The generator couples multi-indices at most 2 apart in each direction (p and
        :math:`\\partial_p` are tridiagonal, the oscillator pentadiagonal), so ordered by the
        Hermite degree the 1D matrix is block-banded (see :mod:`effcoef.blockband`)."""
        return np.concatenate([np.repeat(self.S[h], f.size, axis=0) for h, f in self.classes])

    def vector(self, hermite_coef: np.ndarray, fourier_coef: np.ndarray) -> np.ndarray:
        """kron(hermite_coef, fourier_coef) restricted to the sector."""
        return np.concatenate([np.kron(hermite_coef[h], fourier_coef[f]) for h, f in self.classes])

    def hermite_products(self, g0: np.ndarray, g1: np.ndarray, a: Optional[int] = None):
        r"""Multi-index coefficients :math:`\prod_b g_0(n_b)` (a None) or with :math:`g_1` in
        direction a."""
        out = np.ones(self.S.shape[0])
        for b in range(self.dim):
            out *= (g1 if b == a else g0)[self.S[:, b]]
        return out


def marginal_tables(tables: FourierTables, axis: int) -> FourierTables:
    r"""1D tables of the x-average of U over the other direction (d = 2 -> 1).

    The Fourier coefficients of :math:`\bar u(x_a) = \frac1{L_b}\int U\,dx_b` are the
    coefficients of U with :math:`m_b = 0`; the same holds for its derivative.  Used by the
    separable preconditioner (no ground state: ``psi_hat`` is None).
    """
    if tables.dim != 2:
        raise ValueError("marginal_tables needs 2D tables")
    sl = (slice(None), 0) if axis == 0 else (0, slice(None))
    g = tables.grad_hat[axis][sl].copy()
    keep = tables.offsets[axis][sl].copy()
    return FourierTables(1, (tables.period[axis],), (tables.nf[axis],), [g], None,
                         tables.Umin, tables.Umax, tables.grad_scale, tables.dropped,
                         tables.drop, [keep])
