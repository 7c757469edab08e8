r"""Underdamped Langevin dynamics in a periodic potential: effective drift and diffusion.

The model (issue 19): :math:`x` on the torus of a rectangular cell (d = 1, 2), :math:`p\in\mathbb R^d`,

.. math:: dx = p\,dt, \qquad dp = (-\nabla U(x) + F)\,dt - \gamma p\,dt + \sqrt{2\gamma\theta}\,dB,

with generator :math:`\mathcal L = p\cdot\nabla_x + (F - \nabla U)\cdot\nabla_p
+ \gamma(-p\cdot\nabla_p + \theta\Delta_p)`.  For F = 0 the invariant law is
:math:`\mu \propto e^{-H/\theta}`, :math:`H = |p|^2/2 + U`, and the effective diffusion is the
Green-Kubo integral

.. math:: D = \int_0^\infty \mathbb E_\mu[p(t)\otimes p(0)]\,dt
          = \langle p, (-\mathcal L)^{-1} p\rangle_\mu
          = \lim_{t\to\infty}\frac{\mathrm{Cov}(x(t))}{2t}

(Hairer & Pavliotis, J. Stat. Phys. 117 (2004) 261-279; Pavliotis & Vogiannou, Fluct. Noise
Lett. 8 (2008) L155-L173).  With a force F the process has a non-equilibrium steady state
:math:`\rho_\infty` (:math:`\mathcal L^*\rho_\infty = 0`), the effective drift is
:math:`V = \int p\,\rho_\infty`, and with the corrector :math:`-\mathcal L\chi_j = p_j - V_j`

.. math:: D = \mathrm{sym}\,\hat D, \qquad \hat D_{ij} = \int (p_i - V_i)\,\chi_j\,\rho_\infty .

Checks built into the tests: U = 0 gives :math:`D = \theta/\gamma` exactly; as
:math:`\gamma\to\infty`, :math:`\gamma D` tends to the overdamped Lifson-Jackson value; as
:math:`\gamma\to0`, :math:`\gamma D` tends to the energy-diffusion limit of Hairer & Pavliotis
(2008) (both in :mod:`effcoef.reference.underdamped`).

How
---
The generator is discretised in the flat frame :math:`u = \chi\,e^{-H/(2\theta)}` by Hermite
functions in p (scale :math:`\sigma = s\sqrt{2\theta}`, :math:`s = c/\sqrt{2N+1}`) times real
Fourier modes in x (:mod:`effcoef.kinetic`, where the choice of basis is explained: the scaled
Hermite functions need :math:`N \sim \gamma^{-1/2}` functions as :math:`\gamma\to0` where the
natural scale needs :math:`\gamma^{-1}`).  Reflection symmetries of U halve (1D) or quarter (2D)
each solve.  The transport part is antisymmetric and the friction part positive semi-definite,
so :math:`D = \gamma\,y^T O y \ge 0` for the discrete solution y (O the oscillator), whatever
the resolution.

* **d = 1**: a direct solve of the sector matrix: ordered by decreasing Hermite degree it is
  block-banded (levels at most 2 apart), and the block-banded LU of
  :mod:`effcoef.blockband` (dense Schur complements of the size m of one Fourier sector,
  cost :math:`\sim Nm^3`) is used, or sparse LU (SuperLU: minimum degree on
  :math:`A + A^T`, no pivoting, checked; COLAMD with partial pivoting as the fallback) when
  :math:`U'` is a single Fourier mode (there its fill stays small and it is faster) - see
  ``linear_solver``; where the sector holds
  the kernel :math:`\Psi_0` (no symmetry, or a force) one degree of freedom is pinned to 0,
  which leaves D unchanged (the data are orthogonal to the left kernel, and D does not see a
  multiple of :math:`\Psi_0`).  With a force, the left kernel (the steady state) is the pinned
  transposed solve with the same factors.
* **d = 2** (4D phase space; sparse LU fills in catastrophically): GMRES on the tensor-product
  space :math:`V_1\otimes V_2` (Hermite degree :math:`\le N` in each :math:`p_a`), preconditioned
  by the exact inverse of the *separable* operator :math:`A_1\otimes I + I\otimes A_2`, where
  :math:`A_a` is the 1D generator of the x-average of U over the other direction, with the
  friction raised to :math:`\max(2\gamma, 0.05\cdot2\pi\sqrt\theta/L)` (a Sylvester
  equation, solved by real Schur forms and a recursive blocked Bartels-Stewart algorithm).  It
  converges in about 25 iterations at :math:`\gamma = 1` and 40 at :math:`\gamma = 0.1` for
  the non-separable test potential; at :math:`\gamma = 0.01` the coupling the preconditioner
  ignores costs about 200 iterations.  The kernel is handled by adding the rank-one term
  :math:`\Psi_0\Psi_0^T` (the solution then satisfies :math:`\Psi_0^T u = 0`).

Sizes and the error estimate: N and K are chosen from rtol (initial guesses from
:math:`\gamma`, the depth :math:`(\max U - \min U)/\theta` and the Fourier content of
:math:`e^{-U/(2\theta)}`), and the estimate is *two resolutions in each variable*: the values at
(N, K) are reported, and the relative changes when N grows by 40 % (with 10 % more p-coverage)
and when K grows by 40 % are added (the K-refined matrix contains the base one as a principal
submatrix; for a single-mode :math:`U'` in the odd sector of an even U without force, the
K-refined solve reuses the base factors: :class:`effcoef.latticelu.BorderedLatticeLU`; there,
from 1e5 base unknowns at a scale s < 1, the N-refined run keeps the base's Hermite scale
instead - a nested basis, 18 % more p-coverage at 1.4 N - and reuses the base factors too,
``info["hermite_refinement"] = "nested"``); while their sum exceeds rtol the offending variable
grows.
Also counted: Fourier coefficients of :math:`\nabla U` dropped below round-off and the linear
solver's residual.  Above rtol: :class:`~effcoef.AccuracyWarning` (``strict=True``:
:class:`~effcoef.AccuracyError`).  Memory is estimated before every solve; a solve that would
need more than ``memory_limit`` is refused with a one-line :class:`MemoryLimitError`.
"""

from __future__ import annotations

import math
import threading
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, List, Optional, Sequence, Union

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from numpy.typing import ArrayLike

from potentials.periodic import PeriodicPotential

from .blockband import BlockBandedLU, block_banded_memory, level_partition
from .errors import AccuracyError, AccuracyWarning, EffcoefError
from .kinetic import (
    FourierTables,
    KineticSpace,
    coverage_constant,
    hermite_gaussian_projections,
    marginal_tables,
)
from .landscape import PeriodicLandscape, periodic_landscape
from .latticelu import BorderedLatticeLU, LatticeLU, lattice_widths, nested_dissection_order
from .operator import check_theta
from .results import CoefficientResult, relative_error

__all__ = ["underdamped_coefficients", "friction_sweep", "MemoryLimitError",
           "UNDERDAMPED_DEFAULTS"]

#: defaults: rtol per dimension, memory limit (bytes), growth factors of the two-resolution
#: estimate, GMRES restart length
UNDERDAMPED_DEFAULTS = dict(rtol={1: 1e-8, 2: 1e-6}, memory_limit=8e9, refine=1.4,
                            coverage_refine=1.1, restart=80, max_passes=8)
_CONTROLLER = []
#: friction floor of the 2D separable preconditioner (units sqrt(theta) 2 pi / L)
_PREC_FRICTION_FLOOR = 0.05


class MemoryLimitError(EffcoefError):
    """A solve would need more memory than ``memory_limit`` (refused before starting)."""


def _blas_limit(n):
    from threadpoolctl import ThreadpoolController
    if not _CONTROLLER:
        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=int(n), user_api="blas")


# ------------------------------------------------------------------------------------------
# the problem and one discretisation


@dataclass
class _Problem:
    land: PeriodicLandscape
    theta: float
    gamma: float
    force: np.ndarray
    tables: FourierTables
    rtol: float
    memory_limit: float
    restart: int
    progress: object = None
    n_eigenvalues: int = 0
    linear_solver: str = "auto"
    solves: list = field(default_factory=list)
    #: the latest base solve's matrix and factors, shared with the bordered refined solves
    #: (1D, :func:`_solve_1d` with ``keep_factors=True``; :class:`_KeptBase`)
    kept: Optional["_KeptBase"] = None

    @property
    def dim(self):
        return self.land.dim

    def axis_symmetric(self, a):
        """Reflection symmetry usable in direction a: U even in x_a and no force along a."""
        return bool(self.land.symmetric[a] and self.force[a] == 0.0)

    def sector_for(self, i):
        """Parity sector of the corrector of direction i (0 where no symmetry is used)."""
        return tuple((-1 if a == i else 1) if self.axis_symmetric(a) else 0
                     for a in range(self.dim))

    @property
    def forced(self):
        return bool(np.any(self.force != 0.0))


class _BaseFailed(RuntimeError):
    """The base solve whose factors a refined solve waits for failed (the refined solve is
    abandoned: the caller sees the base's error)."""


class _KeptBase:
    """A base solve (N, K, c) shared with the refined solves that reuse its factors: its
    sector matrix and lattice coordinates (published as soon as assembled, so that a
    refined solve on another thread can check the nesting and factorise its new unknowns
    meanwhile) and then its lattice factors with a root (or None where the base did not
    take the rooted lattice LU).  :meth:`close` releases waiting solves if the base fails."""

    def __init__(self, N, K, c):
        self.N, self.K, self.c = int(N), tuple(K), c
        self.A = self.coords = self.lin = None
        self.failed = False
        #: futures of :func:`_prefactor_1d` for the refined solves ("K", "N")
        self.ahead = {}
        self._matrix = threading.Event()
        self._factors = threading.Event()

    def publish_matrix(self, A, coords):
        self.A, self.coords = A, coords
        self._matrix.set()

    def publish_factors(self, lin):
        self.lin = lin if lin is not None and lin.name == "lattice" and lin.lat.has_root \
            else None
        self._matrix.set()
        self._factors.set()

    def close(self):
        """Release the waiting solves; if the factors were never published the base failed
        (an error or an interrupt) and :meth:`factors` raises."""
        self.failed = not self._factors.is_set()
        self._matrix.set()
        self._factors.set()

    def matrix(self):
        """(A, coords), or (None, None): waits until the base has assembled its matrix."""
        self._matrix.wait()
        return self.A, self.coords

    def known_unusable(self) -> bool:
        """The base is factorised, without reusable factors (e.g. SuperLU below 1e5
        unknowns): a refined solve need not factorise its new unknowns apart."""
        return self._factors.is_set() and (self.failed or self.lin is None)

    def factors(self):
        """The base's linear system (:class:`_Linear1D`, rooted lattice LU) or None: waits
        until the base is factorised."""
        self._factors.wait()
        if self.failed:
            raise _BaseFailed("the base solve failed")
        return self.lin


def _scale(N, c):
    """Hermite scale s = min(1, c / sqrt(2N + 1)) (see :func:`effcoef.kinetic.coverage_constant`)."""
    return min(1.0, c / math.sqrt(2 * N + 1))


def _sigma(N, theta, c):
    return _scale(N, c) * math.sqrt(2.0 * theta)


def _contains_kernel(sector):
    return all(s >= 0 for s in sector)


@dataclass
class _Solve:
    """Output of one discretisation (N, K, c): D (d, d), V (d,), eigenvalues, diagnostics."""

    N: int
    K: tuple
    c: float
    D: np.ndarray
    V: np.ndarray
    eigenvalues: Optional[np.ndarray]
    n_dofs: int
    seconds: float
    residual: float
    iterations: int
    ground_lost: float
    memory: float
    solver: str = ""


# -- memory model ---------------------------------------------------------------------------

def _dofs_estimate(dim, N, K, sector):
    nx = int(np.prod([2 * k + 1 for k in K]))
    nH = (N + 1) ** dim
    factor = 1.0
    for s in sector:
        if s != 0:
            factor *= 0.5
    return int(nH * nx * factor)


def _lu_memory(N, K, sector):
    """Bytes of SuperLU (1D): fill ~ 1.2 n^1.5 nonzeros (measured for U' with few modes)."""
    n = _dofs_estimate(1, N, K, sector)
    return 30.0 * n ** 1.5 + 200.0 * n


def _lattice_memory(N, K, sector):
    """Bytes of the nested-dissection LU (1D, :class:`effcoef.latticelu.LatticeLU`): fill
    ~ n log2 n (measured 2.1 kB per unknown at 237k unknowns for a single-mode U'; taken
    with a margin for the transient update matrices), plus the sparse matrix."""
    n = max(_dofs_estimate(1, N, K, sector), 2)
    return 200.0 * n * math.log2(n) + 400.0 * n


def _block_memory(N, K, sector):
    """Bytes of the block-banded LU (1D): N + 1 levels of m unknowns, 2 dense m x m blocks
    each (the inverse Schur complement and the updated coupling to the next level; see
    :func:`effcoef.blockband.block_banded_memory`), plus the sparse matrix and vectors."""
    m = (2 * K[0] + 1) * (0.5 if sector[0] != 0 else 1.0)
    n = _dofs_estimate(1, N, K, sector)
    return 16.0 * (N + 1) * (m + 1) ** 2 + 400.0 * n


def _memory_estimate(dim, N, K, sector, restart, linear_solver="auto"):
    """Bytes: the 1D direct solver (block-banded LU, or SuperLU where it is used or the
    fallback) or the GMRES/Sylvester workspace (2D)."""
    n = _dofs_estimate(dim, N, K, sector)
    if dim == 1:
        if linear_solver == "superlu":
            return _lu_memory(N, K, sector)
        if linear_solver == "block":
            return _block_memory(N, K, sector)
        if linear_solver == "lattice":
            return _lattice_memory(N, K, sector)
        return min(_lu_memory(N, K, sector), _block_memory(N, K, sector),
                   _lattice_memory(N, K, sector))
    n1 = int(math.sqrt(n)) + 1
    nnz_row = 60.0
    return n * (nnz_row * 12.0 * 2 + (restart + 8) * 8.0) + 8 * 16.0 * n1 * n1


def _two_cores():
    """Whether this process may use two cores (its CPU affinity), and is not a worker of a
    sweep pool (which already uses the cores: ``EFFCOEF_SWEEP_WORKER``)."""
    import os
    if os.environ.get("EFFCOEF_SWEEP_WORKER"):
        return False
    try:
        return len(os.sched_getaffinity(0)) >= 2
    except AttributeError:                       # not Linux
        return (os.cpu_count() or 1) >= 2


def _pair_fits_memory(problem, *sizes):
    """Whether solves of the given (N, K) sizes fit in memory_limit together."""
    sec = problem.sector_for(0)
    need = sum(_memory_estimate(problem.dim, N, tuple(K), sec, problem.restart,
                                problem.linear_solver) for N, K in sizes)
    return need <= problem.memory_limit


def _check_memory(problem, N, K, sector):
    need = _memory_estimate(problem.dim, N, K, sector, problem.restart, problem.linear_solver)
    if need > problem.memory_limit:
        raise MemoryLimitError(
            f"the discretisation N = {N}, K = {tuple(K)} would need about {need / 1e9:.1f} GB "
            f"(limit {problem.memory_limit / 1e9:.1f} GB): raise rtol, memory_limit, or gamma")
    return need


# ------------------------------------------------------------------------------------------
# 1D: sparse LU


def _pin_index(v):
    return int(np.argmax(np.abs(v)))


def _bordering_ok(problem: _Problem, sector) -> bool:
    """The Fourier-refined solve may reuse the base factors (:class:`effcoef.latticelu.
    BorderedLatticeLU`): a parity sector without the kernel (nothing pinned), no force (no
    transposed solves), and a single-mode U' (the new Fourier modes couple to the base ones
    through its last mode only)."""
    return (problem.dim == 1 and problem.linear_solver in ("auto", "lattice")
            and sector[0] != 0 and not _contains_kernel(sector) and not problem.forced
            and _fourier_band(problem) <= 1)


def _nested_refinement(problem: _Problem, N: int, K: tuple, c: float) -> bool:
    """Whether the Hermite-refined run of the estimate keeps the base's Hermite scale (its
    basis then nests the base one and both refined solves reuse the base factors): 1D at a
    scale s < 1 (at s = 1 nested runs were seen to share their errors), where the Fourier-
    refined solve may be bordered (:func:`_bordering_ok`, whatever ``linear_solver``: the
    estimate does not depend on it) and the base has from ``_LATTICE_MIN_DOFS_KEPT``
    unknowns (where the lattice LU is kept)."""
    sec = problem.sector_for(0)
    if problem.dim != 1 or _scale(N, c) >= 1.0 or sec[0] == 0 or _contains_kernel(sec) \
            or problem.forced or _fourier_band(problem) > 1:
        return False
    return _dofs_estimate(1, N, K, sec) >= _LATTICE_MIN_DOFS_KEPT


def _solve_1d(problem: _Problem, N: int, K: tuple, c: float, keep_factors: bool = False,
              border: Optional["_KeptBase"] = None, hermite_root: bool = False,
              sigma: Optional[float] = None, prefactored=None) -> _Solve:
    r"""One 1D discretisation (N, K, c).  ``keep_factors``: keep the factors in ``problem.kept`` (with
    a root on the last Fourier mode, and with ``hermite_root`` also on the highest Hermite
    degrees, for the bordered solves); ``border``: a kept base (N_base, K_base, c, system,
    coords) on a sublattice (fewer Fourier modes, or lower Hermite degrees at the same scale)
    whose factors the solve reuses there, where the matrix equals the base matrix (checked).
    ``sigma``: the Hermite scale, instead of the one of (N, c) (a Hermite-refined run nested
    in the base basis).  ``prefactored``: a future of :func:`_prefactor_1d` for this solve."""
    t0 = time.perf_counter()
    th, ga = problem.theta, problem.gamma
    if sigma is None:
        sigma = _sigma(N, th, c)
    g0, g1 = hermite_gaussian_projections(N, sigma, th)
    norm0 = math.sqrt(math.sqrt(2.0 * math.pi * th))       # ||e^{-p^2/(4 theta)}||
    psi, lost = problem.tables.ground_state(K)
    sector = problem.sector_for(0)
    _check_memory(problem, N, K, sector)
    space = KineticSpace.make(1, N, K, sigma, th, sector)
    A = (-space.generator(problem.tables, ga, problem.force)).tocsr()
    v = space.vector(space.hermite_products(g0, g1), psi) / norm0 if _contains_kernel(sector) \
        else None
    b = space.vector(space.hermite_products(g0, g1, 0), psi) / norm0
    n = A.shape[0]
    if v is not None:
        i0 = _pin_index(v)
        keep = np.r_[0:i0, i0 + 1:n]
        Ar = A[keep][:, keep].tocsr()
        level = space.dof_hermite()[keep, 0]
        mode = _dof_fourier_mode(space)[keep]
    else:
        i0, keep, Ar = None, None, A
        level = space.dof_hermite()[:, 0]
        mode = _dof_fourier_mode(space)
    bord = keep_root = None
    kept = problem.kept if keep_factors else None
    try:
        if (keep_factors or border is not None) and v is None \
                and _bordering_ok(problem, sector):
            coords = np.stack([np.asarray(level), np.asarray(mode)], axis=1)
            if keep_factors:
                # the unknowns a grown lattice couples to: the last Fourier mode, and the
                # top Hermite degrees (as many as the coupling width in n) for a nested
                # N-refinement
                keep_root = coords[:, 1] == coords[:, 1].max()
                if hermite_root:
                    wn = max(lattice_widths(Ar, coords)[0], 1)
                    keep_root |= coords[:, 0] > coords[:, 0].max() - wn
                if kept is not None:
                    kept.publish_matrix(Ar, coords)
            if border is not None:
                bord = _border_map(Ar, coords, border)
                if bord is not None:
                    bord = bord + (prefactored,)
        if kept is not None and kept.A is None:
            kept.publish_matrix(None, None)     # not bordered: the refined solves go alone
        lin = _Linear1D(problem, Ar, level, N, K, sector, mode, last=keep_root, border=bord)
        if kept is not None:
            kept.publish_factors(lin if keep_root is not None else None)
    finally:
        if kept is not None:
            kept.close()

    def solve(rhs, trans="N"):
        if keep is None:
            return lin.solve(rhs, trans=trans)
        out = np.zeros(n)
        out[keep] = lin.solve(rhs[keep], trans=trans)
        return out

    Vd = 0.0
    if problem.forced:
        # left kernel w (steady state in the flat frame): A^T w = 0, w[i0] = 1, then <w, v> = 1
        row = A[i0][:, keep].toarray().ravel()
        w = np.zeros(n)
        w[i0] = 1.0
        w[keep] = lin.solve(-row, trans="T")
        w /= w @ v
        P = space.multiplication_p(0)
        Vd = float(w @ (P @ v))
        b = P @ v - Vd * v
        u = solve(b)
        D = float(((P @ w) - Vd * w) @ u)
    else:
        u = solve(b)
        D = float(b @ u)
    eig = None
    if problem.n_eigenvalues > 0:
        eig = _eigenvalues_1d(problem, N, K, sigma, th, ga)
    return _Solve(N, tuple(K), c, np.array([[D]]), np.array([Vd]), eig, n,
                  time.perf_counter() - t0, lin.residual, 0, lost, lin.memory, lin.name)


def _border_map(Ar, coords, border):
    """(base indices in Ar, the :class:`_KeptBase`, new coords, root of the new part) when Ar
    contains the kept base matrix as the principal submatrix on the base's lattice nodes, else None.
    The root of the new part: its unknowns coupled to the base ones (the base root must hold
    all the base unknowns coupled to the new ones: checked by the bordered LU)."""
    Ab, cbase = border.matrix()
    if Ab is None or border.known_unusable():
        return None
    width = int(max(coords[:, 1].max(), cbase[:, 1].max())) + 2
    key = coords[:, 0] * width + coords[:, 1]
    kb = cbase[:, 0] * width + cbase[:, 1]
    order = np.argsort(key)
    at = np.searchsorted(key[order], kb)
    if np.any(at >= key.size) or np.any(key[order][np.minimum(at, key.size - 1)] != kb):
        return None
    base = order[at]
    diff = (Ar[base][:, base] - Ab).tocoo()
    if diff.nnz and float(np.abs(diff.data).max()) > 0.0:
        return None
    mask = np.ones(Ar.shape[0], dtype=bool)
    mask[base] = False
    new = np.flatnonzero(mask)
    if new.size == 0:
        return None
    # new unknowns coupled to the base ones (either direction)
    C = abs(Ar[new][:, base]) + abs(Ar[base][:, new]).T
    root = np.asarray(C.sum(axis=1)).ravel() > 0
    if not root.any() or root.all():
        return None                 # the new part needs an interior (two layers at least)
    return base, border, coords[new], root


def _prefactor_1d(problem: _Problem, N: int, K: tuple, sigma: float, kept: "_KeptBase"):
    """The factors of the new unknowns of a bordered refined solve (:func:`_solve_1d` with
    ``border=kept``), computed ahead - on another thread while the base is factorised:
    (their matrix E, :class:`LatticeLU` of E with its root), or None where the solve will not
    be bordered.  The same matrix as :func:`_solve_1d` assembles (the solve checks E)."""
    sector = problem.sector_for(0)
    if not _bordering_ok(problem, sector):
        return None
    space = KineticSpace.make(1, N, K, sigma, problem.theta, sector)
    A = (-space.generator(problem.tables, problem.gamma, problem.force)).tocsr()
    coords = np.stack([np.asarray(space.dof_hermite()[:, 0]),
                       np.asarray(_dof_fourier_mode(space))], axis=1)
    bord = _border_map(A, coords, kept)
    if bord is None:
        return None
    base, _, new_coords, last_new = bord
    mask = np.ones(A.shape[0], dtype=bool)
    mask[base] = False
    E = A[mask][:, mask]
    room = problem.memory_limit - _lattice_memory(kept.N, kept.K, sector) - _sparse_bytes(A)
    return E, LatticeLU(E, new_coords, max_bytes=room, last=last_new)


def _dof_fourier_mode(space):
    """Lattice column of each unknown of the sector (order of :meth:`KineticSpace.dof_hermite`):
    the Fourier mode number k (0 for the constant, k for cos kx and sin kx) in a parity
    sector, where each (n, k) holds one unknown; without symmetry both cos kx and sin kx are
    there, and the column is the real-basis index (2k - 1, 2k) instead."""
    f = np.concatenate([np.tile(fc, h.size) for h, fc in space.classes])
    return f if space.sector[0] == 0 else (f + 1) // 2


#: unknowns from which "auto" takes the nested-dissection LU instead of SuperLU (single-mode
#: U'; measured with one BLAS thread against SuperLU with minimum degree: 0.25 s vs 0.29 s at
#: 26k unknowns, 0.36 vs 0.44 s at 37k; 5.3 s vs 3.8 s at 237k, 7.8 s vs 5.7 s at 309k.  With
#: the lattice's nested-dissection order SuperLU is 1.2-1.5x faster than with minimum degree
#: and about as fast as the lattice LU above 2e5 unknowns: 6.3-7.0 s vs 5.3-8.2 s at 353k)
_LATTICE_MIN_DOFS = 120_000
#: the same for a base solve whose factors are kept for the bordered Fourier-refined solve
#: (which then costs about a third of a new factorisation: U = 5 cos x, gamma = 1e-3, 354k
#: unknowns: 3.0 s vs 8.0 s; at 84k the saving only pays for the slower base: 4.3 s vs 4.2 s)
_LATTICE_MIN_DOFS_KEPT = 100_000

#: relative residual above which one step of iterative refinement is taken, and above which
#: (after it) the block-banded solve is redone with SuperLU
_REFINE_RESIDUAL = 1e-12
_BAD_RESIDUAL = 1e-10


class _Linear1D:
    r"""The 1D sector system: block-banded LU (levels = Hermite degree), nested-dissection LU
    on the (Hermite degree, Fourier mode) lattice, or SuperLU.

    ``linear_solver`` of the problem: "block" (:class:`effcoef.blockband.BlockBandedLU` on the
    matrix ordered by decreasing Hermite degree: the elimination starts where the friction
    term dominates, and the Schur complements keep a positive semi-definite symmetric part),
    "lattice" (:class:`effcoef.latticelu.LatticeLU`: the generator couples Hermite degrees
    n +- 2 and, for a single-mode U', Fourier modes k +- 1, a stencil on the (n, k) lattice,
    factorised multifrontally in the geometric nested-dissection order with dense fronts),
    "superlu", or "auto" (block-banded unless the Fourier coupling of :math:`U'` is a single
    mode; there SuperLU's fill stays small and it was measured 1.5-2x faster than the block
    solver, and from ``_LATTICE_MIN_DOFS`` unknowns the lattice LU is 1.4x faster still).
    The structure is checked (band <= 2 levels; the stencil) and memory estimated before
    factorising; every solve reports its relative residual (kept in :attr:`residual`); a
    residual above ``_REFINE_RESIDUAL`` gets one step of iterative refinement, and a
    block-banded or lattice residual still above ``_BAD_RESIDUAL`` makes the solve fall back
    to SuperLU.
    """

    def __init__(self, problem, A, level, N, K, sector, mode=None, last=None, border=None):
        self.problem, self.A, self.N, self.K, self.sector = problem, A.tocsr(), N, K, sector
        self.residual = 0.0
        self.fallbacks = []
        self.lat = self.blu = self.bord = None
        self.coords = None if mode is None else \
            np.stack([np.asarray(level), np.asarray(mode)], axis=1)
        want = problem.linear_solver
        if border is not None:
            base, kept, new_coords, last_new, pre = border
            try:
                # the new unknowns first (or their factors computed ahead, on another thread
                # while the base was factorised: checked to be of the same matrix), then the
                # base factors
                mask = np.ones(self.A.shape[0], dtype=bool)
                mask[base] = False
                E = self.A[mask][:, mask]
                lu_new = None
                got = pre.result() if pre is not None else None
                if got is not None and got[0].shape == E.shape and (got[0] != E).nnz == 0:
                    lu_new = got[1]
                if lu_new is None:
                    room = problem.memory_limit - _lattice_memory(kept.N, kept.K, sector) - \
                        _sparse_bytes(self.A)
                    lu_new = LatticeLU(E, new_coords, max_bytes=room, last=last_new)
                blin = kept.factors()
                if blin is None:
                    raise ValueError("the base factors were not kept")
                self.bord = BorderedLatticeLU(
                    self.A, base, blin.lat, new_coords, last_new, lu_new=lu_new,
                    max_bytes=problem.memory_limit - blin.memory - _sparse_bytes(self.A))
                self.name = "bordered"
                self.memory = blin.memory + self.bord.memory + _sparse_bytes(self.A)
                return
            except (MemoryError, np.linalg.LinAlgError, ValueError) as exc:
                self.fallbacks.append(str(exc))
                self.bord = None
        if want == "auto":
            # the lattice LU only in a parity sector (one unknown per lattice node): without
            # symmetry and with a force its static pivots were seen to break down
            lattice_ok = mode is not None and sector[0] != 0
            if _fourier_band(problem) <= 1:
                # a base kept for the bordered Fourier-refined solve: the lattice LU from
                # fewer unknowns (it saves most of the refined factorisation)
                lo = _LATTICE_MIN_DOFS_KEPT if last is not None else _LATTICE_MIN_DOFS
                want = "lattice" if lattice_ok and A.shape[0] >= lo else "superlu"
                if _lu_memory(N, K, sector) > problem.memory_limit:
                    want = "lattice" if lattice_ok else "block"
            else:
                want = "block"
        if want == "lattice" and mode is None:
            want = "superlu"
        self.name, self.memory = None, 0.0
        if want == "lattice":
            coords = np.stack([np.asarray(level), np.asarray(mode)], axis=1)
            try:
                self.lat = LatticeLU(self.A, coords,
                                     max_bytes=problem.memory_limit - _sparse_bytes(self.A),
                                     last=last)
                self.name, self.memory = "lattice", self.lat.memory + _sparse_bytes(self.A)
            except (MemoryError, np.linalg.LinAlgError, ValueError) as exc:
                self.fallbacks.append(str(exc))
                if isinstance(exc, MemoryError):
                    want = "block"          # its dense blocks may still fit (small K)
        if want == "block":
            order, bounds, band = level_partition(self.A, -np.asarray(level), max_band=2)
            sizes = np.diff(bounds)
            mem = block_banded_memory(sizes, band if band is not None else 2, self.A.nnz) + \
                _sparse_bytes(self.A)
            if band is None:
                self.fallbacks.append("not block-banded in the Hermite degree")
            elif mem > problem.memory_limit:
                self.fallbacks.append(f"block-banded factors need {mem / 1e9:.1f} GB")
            else:
                try:
                    self._set_block(order, bounds, band, mem)
                except np.linalg.LinAlgError as exc:
                    self.fallbacks.append(str(exc))
        if self.name is None:
            self._set_superlu()

    def _set_block(self, order, bounds, band, mem):
        self.order = order
        self.inverse = np.empty_like(order)
        self.inverse[order] = np.arange(order.size)
        Ap = self.A[order][:, order]
        self.blu = BlockBandedLU(Ap, bounds, band)
        self.name, self.memory = "block", mem

    def _set_superlu(self):
        need = _lu_memory(self.N, self.K, self.sector) + _sparse_bytes(self.A)
        if need > self.problem.memory_limit:
            raise MemoryLimitError(
                f"the discretisation N = {self.N}, K = {tuple(self.K)} would need about "
                f"{need / 1e9:.1f} GB for SuperLU ({'; '.join(self.fallbacks)}) "
                f"(limit {self.problem.memory_limit / 1e9:.1f} GB): raise rtol, memory_limit, "
                f"or gamma")
        self.lu = _sparse_lu(self.A.tocsc(), self.coords)
        self.name, self.memory = "superlu", need

    def _raw(self, rhs, trans):
        if self.name == "bordered":
            return self.bord.solve(rhs, trans=trans)
        if self.name == "lattice":
            return self.lat.solve(rhs, trans=trans)
        if self.name == "block":
            return self.blu.solve(rhs[self.order], trans=trans)[self.inverse]
        return self.lu.solve(rhs, trans=trans)

    def _resid(self, x, rhs, trans):
        Ax = (self.A @ x) if trans == "N" else (self.A.T @ x)
        nb = float(np.linalg.norm(rhs))
        return float(np.linalg.norm(Ax - rhs)) / nb if nb > 0 else 0.0

    def solve(self, rhs, trans="N"):
        x = self._raw(rhs, trans)
        r = self._resid(x, rhs, trans)
        if not np.isfinite(r) or r > _REFINE_RESIDUAL:
            Ax = (self.A @ x) if trans == "N" else (self.A.T @ x)
            x2 = x + self._raw(rhs - Ax, trans)
            r2 = self._resid(x2, rhs, trans)
            if np.isfinite(r2) and (r2 < r or not np.isfinite(r)):
                x, r = x2, r2
        if self.name in ("block", "lattice", "bordered") and \
                (not np.isfinite(r) or r > _BAD_RESIDUAL):
            self.fallbacks.append(f"{self.name} residual {r:.1e}")
            self.blu = self.lat = self.bord = None
            self._set_superlu()
            return self.solve(rhs, trans)
        self.residual = max(self.residual, r)
        return x


def _sparse_bytes(A):
    return float(A.data.nbytes + A.indices.nbytes + A.indptr.nbytes)


def _fourier_band(problem, K=64):
    """Largest mode offset |k - l| of a nonzero of the multiplication matrix of U' (1D; the
    matrix drops coefficients at round-off), on K modes."""
    M = problem.tables.mult_matrix(0, (K,)).tocoo()
    if M.nnz == 0:
        return 0
    return int(np.abs((M.row + 1) // 2 - (M.col + 1) // 2).max())


class _PermutedLU:
    """SuperLU factors of A[perm][:, perm], solving with A."""

    def __init__(self, lu, perm):
        self.lu, self.perm = lu, perm

    def solve(self, rhs, trans="N"):
        x = np.empty_like(rhs)
        x[self.perm] = self.lu.solve(np.ascontiguousarray(rhs[self.perm]), trans=trans)
        return x


def _lu_accurate(A, lu):
    x = np.random.default_rng(0).standard_normal(A.shape[0])
    r = A @ lu.solve(A @ x) - A @ x
    return bool(np.all(np.isfinite(r)) and np.linalg.norm(r) <= 1e-10 * np.linalg.norm(A @ x))


def _sparse_lu(A, coords=None):
    """SuperLU: minimum degree on A + A^T without pivoting (the symmetric part of -L is
    positive semi-definite, and without pivoting the ordering is kept: half the fill and time
    of COLAMD with partial pivoting at 86k unknowns); checked on a random right-hand side and
    redone with COLAMD and partial pivoting if the factors are not accurate."""
    A = A.tocsc()
    if coords is not None:
        # the lattice's geometric nested dissection (leaves of 32): less fill and 1.2-1.5x
        # faster than minimum degree on the kinetic matrices (SuperLU at 30k unknowns: 0.22 s
        # vs 0.33 s; at 250k: 3.1 s vs 4.3 s, where the lattice LU took 5 s)
        try:
            perm = nested_dissection_order(A, coords)
            P = A[perm][:, perm].tocsc()
            lu = _PermutedLU(spla.splu(P, permc_spec="NATURAL", diag_pivot_thresh=0.0,
                                       options={"SymmetricMode": True}), perm)
            if _lu_accurate(A, lu):
                return lu
        except (RuntimeError, ValueError):
            pass
    try:
        lu = spla.splu(A, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                       options={"SymmetricMode": True})
        x = np.random.default_rng(0).standard_normal(A.shape[0])
        r = A @ lu.solve(A @ x) - A @ x
        if np.all(np.isfinite(r)) and np.linalg.norm(r) <= 1e-10 * np.linalg.norm(A @ x):
            return lu
    except RuntimeError:
        pass
    return spla.splu(A, permc_spec="COLAMD")


def _eigenvalues_1d(problem, N, K, sigma, th, ga):
    r"""Leading eigenvalues of :math:`-\mathcal L` (smallest real parts), all sectors.

    Shift-invert: the eigenvalues :math:`\mu` of :math:`(A + sI)^{-1}` of largest modulus
    (ARPACK), :math:`\lambda = 1/\mu - s`, with :math:`s = \min(\gamma, 1)/2 > 0` (the spectrum
    of :math:`-\mathcal L` lies in the closed right half plane, so the shifted matrix is never
    singular).
    """
    k = int(problem.n_eigenvalues)
    sectors = [(1,), (-1,)] if problem.axis_symmetric(0) else [(0,)]
    s = 0.5 * min(ga, 1.0)
    out = []
    for sec in sectors:
        space = KineticSpace.make(1, N, K, sigma, th, sec)
        A = (-space.generator(problem.tables, ga, problem.force)).tocsc()
        n = A.shape[0]
        # the shifted matrix is block-banded like A: the same solver choice as the solves
        lin = _Linear1D(problem, (A + s * sp.identity(n, format="csc")).tocsr(),
                        space.dof_hermite()[:, 0], N, K, sec)
        op = spla.LinearOperator((n, n), matvec=lambda x, f=lin: f.solve(np.ravel(x)),
                                dtype=float)
        kk = min(k + 3, n - 2)
        mu = spla.eigs(op, k=kk, which="LM", return_eigenvectors=False, tol=1e-12,
                       v0=np.ones(n) / math.sqrt(n))
        out.append(1.0 / mu - s)
    lam = np.concatenate(out)
    lam = lam[np.argsort(lam.real + 1e-9 * np.abs(lam.imag))]
    return lam[: k + 1]


# ------------------------------------------------------------------------------------------
# 2D: GMRES with the separable (Kronecker-sum) preconditioner


class _KronSumInverse:
    r"""Exact inverse of :math:`A_1\otimes I + I\otimes A_2` (a Sylvester equation), stably.

    For the row-major vector of an :math:`n_1\times n_2` matrix X,
    :math:`(A_1\otimes I + I\otimes A_2)x` is :math:`A_1X + XA_2^T`.  With the real Schur forms
    :math:`A_1 = Q_1T_1Q_1^T` and :math:`A_2^T = Q_2T_2Q_2^T` (quasi-upper-triangular T) the
    equation becomes :math:`T_1Y + YT_2 = Q_1^TRQ_2`, :math:`X = Q_1YQ_2^T`, solved by a
    recursive blocked Bartels-Stewart algorithm (splits never cut a 2x2 block; LAPACK
    ``dtrsyl`` on blocks of at most 48; everything else is matrix products).  Unlike an
    eigendecomposition (whose eigenvector matrices reach condition numbers 1e9 here, which
    stalls GMRES), this is backward stable.  Pairs with :math:`\lambda_i + \mu_j \approx 0`
    (the kernel pair of the all-even sector) are regularised by adding ``floor_value`` to the
    diagonal of the 1x1 blocks that hold the two zero eigenvalues (the rank-one augmentation of
    the kernel seen by the separable operator).
    """

    block = 48

    def __init__(self, A1, A2, floor_value=1.0):
        self.n1, self.n2 = A1.shape[0], A2.shape[0]
        T1, Q1 = sla.schur(np.asarray(A1, dtype=float), output="real")
        T2, Q2 = sla.schur(np.asarray(A2, dtype=float).T, output="real")
        scale = max(float(np.abs(np.diag(T1)).max()), float(np.abs(np.diag(T2)).max()), 1e-300)
        d1, d2 = self._real_diag(T1), self._real_diag(T2)
        self.n_small = 0
        if d1.size and d2.size:
            i, j = int(np.argmin(np.abs(d1[:, 1]))), int(np.argmin(np.abs(d2[:, 1])))
            if abs(d1[i, 1] + d2[j, 1]) < 1e-10 * scale:
                # shift both kernel eigenvalues so that their sum is floor_value
                T1[int(d1[i, 0]), int(d1[i, 0])] += 0.5 * floor_value
                T2[int(d2[j, 0]), int(d2[j, 0])] += 0.5 * floor_value
                self.n_small = 1
        self.T1, self.Q1, self.T2, self.Q2 = T1, Q1, T2, Q2
        self.cond = 1.0          # orthogonal transformations

    @staticmethod
    def _real_diag(T):
        """(index, value) of the 1x1 diagonal blocks (real eigenvalues) of a real Schur form."""
        n = T.shape[0]
        sub = np.r_[np.abs(np.diag(T, -1)) > 0, False]
        out, k = [], 0
        while k < n:
            if sub[k]:
                k += 2
            else:
                out.append((k, T[k, k]))
                k += 1
        return np.array(out).reshape(-1, 2)

    @staticmethod
    def _split(T, k):
        """A split index near k that does not cut a 2x2 block of the quasi-triangular T."""
        if k > 0 and k < T.shape[0] and T[k, k - 1] != 0.0:
            k += 1
        return k

    def _solve(self, T1, T2, C):
        m, n = C.shape
        if m <= self.block and n <= self.block:
            Y, sc, info = sla.lapack.dtrsyl(T1, T2, C, trana="N", tranb="N", isgn=1)
            if info < 0:
                raise RuntimeError(f"dtrsyl failed (info {info})")
            return Y / sc
        if m >= n:
            k = self._split(T1, m // 2)
            Y2 = self._solve(T1[k:, k:], T2, C[k:])
            Y1 = self._solve(T1[:k, :k], T2, C[:k] - T1[:k, k:] @ Y2)
            return np.vstack([Y1, Y2])
        k = self._split(T2, n // 2)
        Y1 = self._solve(T1, T2[:k, :k], C[:, :k])
        Y2 = self._solve(T1, T2[k:, k:], C[:, k:] - Y1 @ T2[:k, k:])
        return np.hstack([Y1, Y2])

    def apply(self, x, transpose=False):
        R = np.asarray(x, dtype=float).reshape(self.n1, self.n2)
        if not transpose:
            C = self.Q1.T @ R @ self.Q2
            Y = self._solve(self.T1, self.T2, C)
            return (self.Q1 @ Y @ self.Q2.T).ravel()
        # transpose: A_1^T X + X A_2 = R; A_1^T = Q1 T1^T Q1^T, A_2 = Q2 T2^T Q2^T: with
        # Z = Q1^T X Q2: T1^T Z + Z T2^T = Q1^T R Q2, i.e. (flipping both orders) a
        # quasi-upper system for the reversed matrices
        C = self.Q1.T @ R @ self.Q2
        Z = self._solve(self.T1.T[::-1, ::-1], self.T2.T[::-1, ::-1], C[::-1, ::-1])[::-1, ::-1]
        return (self.Q1 @ Z @ self.Q2.T).ravel()


def _dof_pairs(space):
    H, F = [], []
    for h, f in space.classes:
        H.append(np.repeat(h, f.size))
        F.append(np.tile(f, h.size))
    return np.concatenate(H), np.concatenate(F)


class _TensorSector:
    """One parity sector of the 2D problem in the tensor ordering V_1 (x) V_2."""

    def __init__(self, problem: _Problem, N, K, sigma, sector, marg):
        th, ga = problem.theta, problem.gamma
        self.sector = sector
        S2 = KineticSpace.make(2, N, K, sigma, th, sector, tensor=True)
        spaces = [KineticSpace.make(1, N, (K[a],), sigma, th, (sector[a],)) for a in range(2)]
        # the separable operator with a friction floor: at small gamma the integrable
        # separable dynamics respond like 1/gamma along tori that the coupling destroys; more
        # friction in the preconditioner damps them (GMRES iterations at gamma = 0.01,
        # N = 40: 873 with gamma, 198 with 5 gamma; at gamma = 0.1: 34 vs 33 with 2 gamma)
        gp = max(2.0 * ga, _PREC_FRICTION_FLOOR * math.sqrt(th) * 2.0 * math.pi
                 / max(problem.land.period))
        ops = [(-spaces[a].generator(marg[a], gp, problem.force[a:a + 1])).toarray()
               for a in range(2)]
        n1, n2 = ops[0].shape[0], ops[1].shape[0]
        pos = []
        for a in range(2):
            h, f = _dof_pairs(spaces[a])
            P = -np.ones((N + 1, 2 * K[a] + 1), dtype=np.int64)
            P[spaces[a].S[h, 0], f] = np.arange(h.size)
            pos.append(P)
        h, f = _dof_pairs(S2)
        j1, j2 = np.unravel_index(f, (2 * K[0] + 1, 2 * K[1] + 1))
        i1 = pos[0][S2.S[h, 0], j1]
        i2 = pos[1][S2.S[h, 1], j2]
        t = i1 * n2 + i2
        if np.any(i1 < 0) or np.any(i2 < 0) or np.unique(t).size != n1 * n2 or t.size != n1 * n2:
            raise RuntimeError("internal error: the 2D sector is not the tensor product of the "
                               "1D sectors")
        perm = np.empty_like(t)
        perm[t] = np.arange(t.size)          # tensor index -> sector index
        A = (-S2.generator(problem.tables, ga, problem.force)).tocsr()
        self.A = A[perm][:, perm].tocsr()
        self.space, self.perm, self.n = S2, perm, t.size
        self.kernel = _contains_kernel(sector)
        self.prec = _KronSumInverse(ops[0], ops[1], floor_value=1.0)

    def vector(self, hcoef, fcoef):
        return self.space.vector(hcoef, fcoef)[self.perm]

    def solve(self, b, v=None, transpose=False, tol=1e-10, restart=80, maxiter=60,
              callback=None, x0=None):
        """GMRES for A u = b (A^T if transpose), with v v^T added when the sector holds the kernel."""
        A = self.A.T.tocsr() if transpose else self.A
        if self.kernel and v is not None:
            def mv(x):
                return A @ x + v * (v @ x)
        else:
            def mv(x):
                return A @ x
        op = spla.LinearOperator(A.shape, matvec=mv, dtype=float)
        M = spla.LinearOperator(A.shape, matvec=lambda x: self.prec.apply(x, transpose),
                                dtype=float)
        count = [0]

        def cb(_):
            count[0] += 1
            if callback is not None:
                callback(count[0])

        u, info = spla.gmres(op, b, x0=x0, M=M, rtol=tol, atol=0.0, restart=restart,
                             maxiter=maxiter, callback=cb, callback_type="pr_norm")
        res = float(np.linalg.norm(mv(u) - b) / np.linalg.norm(b))
        return u, res, count[0]


def _solve_2d(problem: _Problem, N: int, K: tuple, c: float) -> _Solve:
    t0 = time.perf_counter()
    th = problem.theta
    sigma = _sigma(N, th, c)
    g0, g1 = hermite_gaussian_projections(N, sigma, th)
    norm0 = math.sqrt(2.0 * math.pi * th)                  # ||e^{-|p|^2/(4 theta)}|| in 2D
    psi, lost = problem.tables.ground_state(K)
    marg = [marginal_tables(problem.tables, a) for a in range(2)]
    tol = min(1e-10, problem.rtol * 1e-4)
    D = np.zeros((2, 2))
    V = np.zeros(2)
    need = 0.0
    resid, iters, n_dofs = 0.0, 0, 0
    cache = {}

    def sector_solver(sec):
        if sec not in cache:
            cache[sec] = _TensorSector(problem, N, K, sigma, sec, marg)
        return cache[sec]

    bar = problem.progress
    if not problem.forced:
        dirs = [0, 1]
        if problem.land.swap and problem.axis_symmetric(0) and problem.axis_symmetric(1) \
                and K[0] == K[1]:
            dirs = [0]                      # D_22 = D_11 by the symmetry x1 <-> x2
        sols = {}
        for i in dirs:
            sec = problem.sector_for(i)
            need = max(need, _check_memory(problem, N, K, sec))
            ts = sector_solver(sec)
            n_dofs = max(n_dofs, ts.n)
            b = ts.vector(ts.space.hermite_products(g0, g1, i), psi) / norm0
            v = ts.vector(ts.space.hermite_products(g0, g1), psi) / norm0 if ts.kernel else None
            u, r, it = ts.solve(b, v, tol=tol, restart=problem.restart,
                                callback=_gmres_progress(bar, N, K))
            resid, iters = max(resid, r), iters + it
            sols[i] = (sec, b, u)
        for i in sols:
            for j in sols:
                if sols[i][0] == sols[j][0]:
                    D[i, j] = sols[i][1] @ sols[j][2]
        if dirs == [0]:
            D[1, 1] = D[0, 0]
        D = 0.5 * (D + D.T)
    else:
        # steady state in each needed sector, drift, correctors: the sectors here are the
        # kernel-containing ones (parity +1 along symmetric axes for Psi_0; the correctors of
        # a symmetric axis are odd there)
        sec0 = tuple(1 if problem.axis_symmetric(a) else 0 for a in range(2))
        need = max(need, _check_memory(problem, N, K, sec0))
        ts0 = sector_solver(sec0)
        v0 = ts0.vector(ts0.space.hermite_products(g0, g1), psi) / norm0
        v0 /= np.linalg.norm(v0)
        w, r, it = ts0.solve(v0, v0, transpose=True, tol=tol, restart=problem.restart,
                             callback=_gmres_progress(bar, N, K))
        w /= w @ v0
        resid, iters, n_dofs = r, it, ts0.n
        P0 = [ts0.space.multiplication_p(a)[ts0.perm][:, ts0.perm] for a in range(2)]
        for a in range(2):
            if not problem.axis_symmetric(a):
                V[a] = float(w @ (P0[a] @ v0))
        for j in range(2):
            sec = problem.sector_for(j)
            ts = sector_solver(sec)
            if sec == sec0:
                b = P0[j] @ v0 - V[j] * v0
                u, r, it = ts.solve(b, v0, tol=tol, restart=problem.restart,
                                    callback=_gmres_progress(bar, N, K))
                resid, iters = max(resid, r), iters + it
                for i in range(2):
                    if problem.sector_for(i) == sec0:
                        D[i, j] = float(((P0[i] @ w) - V[i] * w) @ u)
            else:
                raise EffcoefError("a force along one axis of a potential symmetric in the "
                                   "other axis is not supported in 2D yet; use a force along "
                                   "both axes or a non-symmetric U")
        D = 0.5 * (D + D.T)
    return _Solve(N, tuple(K), c, D, V, None, n_dofs, time.perf_counter() - t0, resid,
                  iters, lost, need)


def _gmres_progress(bar, N, K):
    if bar is None:
        return None

    def cb(k):
        if callable(bar) and not hasattr(bar, "set_postfix_str"):
            bar(f"GMRES N={N} K={tuple(K)}", k)
        else:
            bar.set_postfix_str(f"N={N} K={tuple(K)} GMRES it {k}")
    return cb


# ------------------------------------------------------------------------------------------
# sizes and the driver


def _dimensionless_friction(problem: _Problem) -> float:
    return problem.gamma * max(problem.land.period) / (2.0 * math.pi * math.sqrt(problem.theta))


def _coverage(problem: _Problem, depth: float) -> float:
    r"""The Hermite coverage constant c (scale :math:`s = \min(1, c/\sqrt{2N+1})`).

    :func:`effcoef.kinetic.coverage_constant` adds the depth of U to
    :math:`\ln(1/\mathrm{rtol})` (D is smaller than :math:`\theta/\gamma` by up to
    :math:`e^{-\mathrm{depth}}`, and absolute errors were assumed amplified by as much).  In
    1D at small friction (:math:`\gamma L/(2\pi\sqrt\theta) < 1`, where s < 1 and N is
    large) that amplification was not seen: for U = 5 cos x (depth 10), gamma = 1e-2, N = 300
    with c = 6.66 is within 4e-11 of the converged D (as N = 425 with the depth-augmented
    c = 9.42 was), and at gamma = 1e-3 N = 907 with c = 6.66 within 3e-11.  There the
    depth is left out (c = 7.59 at rtol 1e-8 for any depth), and N, which resolves p to
    :math:`\sim c\sqrt\theta/N`, shrinks with c.  The estimate's refined run takes 10 % more
    coverage, so a coverage error shows as a Hermite error.  Elsewhere (2D, large friction,
    where the natural scale s = 1 is used for small N) the constant is unchanged.
    """
    if problem.dim == 1 and _dimensionless_friction(problem) < 1.0:
        return coverage_constant(problem.rtol, 0.0)
    return coverage_constant(problem.rtol, depth)


def _initial_sizes(problem: _Problem):
    """Initial (N, K) from the friction, the depth and the Fourier content of exp(-U/(2 theta))."""
    th = problem.theta
    depth = (problem.tables.Umax - problem.tables.Umin) / th
    gt = _dimensionless_friction(problem)
    small = max(min(gt, 1.0), 1e-6)
    if gt < 1.0:
        N = (12 + 17.0 / math.sqrt(small)) * (1 + depth / 7.5)
        # the resolution in p is ~ c / N: N in proportion to the coverage constant (the
        # constants above were measured with kinetic.coverage_constant)
        N = int(math.ceil(N * _coverage(problem, depth)
                          / coverage_constant(problem.rtol, depth)))
    else:       # overdamped side: the natural Hermite scale (s = 1) converges in ~20 functions
        N = int(math.ceil(26 * (1 + depth / 20.0)))
    # spectral convergence: sizes grow like log(1/rtol); the constants are for rtol = 1e-8
    acc = max(math.log(1.0 / min(max(problem.rtol, 1e-14), 1e-2)) / math.log(1e8), 0.3)
    N = int(math.ceil(N * acc))
    if problem.dim == 2:
        N = int(math.ceil(0.6 * N))
    Kpot = _fourier_content(problem)
    K = []
    for a in range(len(problem.land.period)):
        # depth growth (1D): depth^2/15 up to depth 4, depth^1.4/6.53 beyond (equal at 4;
        # U = 5 cos x, depth 10: K = 86 at gamma = 1e-2 and 243 at 1e-3 give estimates
        # 2.5e-10 and 2.4e-10, actual errors 1e-11 and 7e-12; depth^1.5/7.5 gave K = 92 and
        # 261 with estimates 3e-10 and 4e-10; depth^1.25 (K = 79 and 220) left the estimate
        # at 1e-3 below the actual error 1.0e-9; depth^2/15 gave 121 and 353)
        # (at large friction, gt >= 1, still depth^1.5/7.5)
        grow = 1 + (min(depth ** 2 / 15.0, depth ** 1.4 / 6.53 if gt < 1.0
                        else depth ** 1.5 / 7.5)
                    if problem.dim == 1 else depth ** 2 / 15.0)
        # (1.5 below gt = 1: with N smaller by the coverage above, 1.4 left U = 2 cos x at
        # gamma = 1e-3 a hair above rtol in K, and the second pass doubled its time)
        kc = 1.5 if gt < 1.0 and problem.dim == 1 else 1.4
        k = Kpot[a] + int(math.ceil(kc * acc / math.sqrt(small) * grow))
        if problem.dim == 2:
            k = int(math.ceil(0.7 * k))
        K.append(max(k, 4))
    return max(N, 8), tuple(K)


def _fit_memory(problem, N, K, ref):
    """Shrink (N, K) until the base and both refined discretisations fit in memory_limit."""
    sec = problem.sector_for(0)

    def need(N, K):
        K2 = tuple(int(math.ceil(ref * k)) + 1 for k in K)
        return max(_memory_estimate(problem.dim, int(math.ceil(ref * N)), K, sec,
                                    problem.restart, problem.linear_solver),
                   _memory_estimate(problem.dim, N, K2, sec, problem.restart,
                                    problem.linear_solver))

    shrunk = False
    while need(N, K) > problem.memory_limit and N > 8:
        N = max(8, int(0.85 * N))
        K = tuple(max(2, int(0.85 * k)) for k in K)
        shrunk = True
    if need(N, K) > problem.memory_limit:
        _check_memory(problem, N, K, sec)            # raises with the reason
    return N, K, shrunk


def _fourier_content(problem):
    """Per direction, the smallest K beyond which exp(-U/(2 theta)) has relative mass < rtol/100."""
    ph = np.abs(problem.tables.psi_hat)
    out = []
    for a in range(problem.dim):
        prof = ph.max(axis=tuple(b for b in range(problem.dim) if b != a)) if problem.dim > 1 \
            else ph
        nf = prof.size
        m = np.abs(np.fft.fftfreq(nf, 1.0 / nf)).astype(int)
        tot = float(prof.max())
        k = 1
        thr = max(problem.rtol, 1e-15) * 1e-2 * tot
        for kk in range(nf // 2, 0, -1):
            if prof[m == kk].max() > thr:
                k = kk
                break
        out.append(k)
    return out


def underdamped_coefficients(U: Union[str, PeriodicPotential, PeriodicLandscape,
                                       Callable[..., Any]],
                             theta: float, gamma: float, *,
                             period: Optional[ArrayLike] = None,
                             force: Optional[ArrayLike] = None,
                             rtol: Optional[float] = None, strict: bool = False,
                             progress: Union[None, bool, Callable[..., object]] = None,
                             n_eigenvalues: int = 0,
                             hermite_degree: Optional[int] = None,
                             fourier_modes: Union[None, int, Sequence[int]] = None,
                             memory_limit: Optional[float] = None,
                             blas_threads: Optional[int] = 1,
                             linear_solver: str = "auto") -> CoefficientResult:
    r"""Effective diffusion (and drift) of underdamped Langevin dynamics in a periodic potential.

    Parameters
    ----------
    U : str, potentials.PeriodicPotential, PeriodicLandscape or callable
        The potential: an expression in ``x`` (1D) or ``x1, x2`` (2D), e.g. ``"-cos(x)/2"``;
        see :func:`effcoef.landscape.periodic_landscape` (its periodicity on the cell is
        checked: one-line ``ValueError`` otherwise).
    theta : float
        Temperature (the noise is :math:`\sqrt{2\gamma\theta}\,dB`).
    gamma : float
        Friction :math:`\gamma > 0`.
    period : float or (L1, L2), optional
        The cell.  Default for an expression: 1 in each direction (as on the overdamped
        periodic route) if U is periodic on it, else :math:`2\pi` (e.g. ``"-cos(x)/2"``); a
        PeriodicPotential's own cell (see :func:`effcoef.landscape.periodic_landscape`).
    force : float or (F1, F2), optional
        Constant force F (tilt); then V is the effective drift and D the diffusion of the
        non-equilibrium steady state.
    rtol : float, optional
        Requested relative accuracy of D (and V); default 1e-8 in 1D, 1e-6 in 2D.
    strict : bool
        Raise :class:`~effcoef.AccuracyError` instead of warning when the estimate exceeds rtol.
    progress : bool or callable, optional
        True: a tqdm bar over the solves (and GMRES iterations in 2D); a callable receives
        ``(stage, count)``.
    n_eigenvalues : int
        1D: also return the n leading eigenvalues of :math:`-\mathcal L` (smallest real
        parts, all symmetry sectors) after :math:`\lambda_0 = 0`; ``eigenvalues`` holds
        their real parts, ``info["eigenvalues_imag"]`` the imaginary parts,
        ``info["spectral_gap"]`` the smallest nonzero real part.
    hermite_degree, fourier_modes : int, optional
        Fix N (Hermite degree) or K (Fourier modes per direction, int or tuple) instead of
        choosing them from rtol; the estimate still refines each variable once.
    memory_limit : float, optional
        Bytes (default 8e9); a discretisation estimated above it is refused
        (:class:`MemoryLimitError`).
    blas_threads : int or None
        BLAS threads inside the call (default 1: the dense 2D preconditioner is shared-machine
        friendly); None leaves the process setting.
    linear_solver : {"auto", "block", "lattice", "superlu"}
        1D only: the block-banded LU in the Hermite degree (dense m x m Schur complements,
        m the Fourier modes of one sector; cost ~ N m^3 whatever the Fourier content of U),
        the nested-dissection LU on the (Hermite degree, Fourier mode) lattice
        (:mod:`effcoef.latticelu`; about as fast as SuperLU from ~1e5 unknowns for a
        single-mode U', and its factors serve the Fourier-refined solve of the estimate:
        "bordered" in ``info["solvers_used"]``), SuperLU (in the lattice's nested-dissection
        order where the lattice is known) (1.5-2x cheaper than the block solver when U' has a single
        Fourier mode, e.g. ``cos(x)``, but its fill grows quickly with more modes: one
        factorisation for ``exp(1.5*cos(x))`` at N = 300, K = 100 took 56 s against 0.5 s for
        the block solver), or "auto" (a single-mode U': SuperLU below 1.2e5 unknowns, the
        lattice LU above or where SuperLU's memory estimate exceeds memory_limit, and from
        1e5 unknowns for a base solve whose factors the Fourier-refined solve reuses; else
        block).  The block and lattice solvers fall back to SuperLU if the structure does not
        fit, the factors would exceed memory_limit, or the residual stays above 1e-10 after
        one refinement step.

    Returns
    -------
    CoefficientResult
        ``D`` (float, or (2, 2)), ``V`` (effective drift), ``K = K_cov = omega = K_partial =
        None``, ``eigenvalues`` (``[0]`` unless requested), ``rel_error_estimate``,
        ``error_components`` (``hermite``, ``fourier``, ``potential_fourier``,
        ``linear_solver``), ``method = "underdamped"``, ``info`` (sizes, scale, timings,
        solver statistics).
    """
    if linear_solver not in ("auto", "block", "lattice", "superlu"):
        raise EffcoefError(f"linear_solver must be 'auto', 'block', 'lattice' or 'superlu', "
                           f"got {linear_solver!r}")
    if blas_threads is None:
        return _run(U, theta, gamma, period, force, rtol, strict, progress, n_eigenvalues,
                    hermite_degree, fourier_modes, memory_limit, linear_solver)
    with _blas_limit(blas_threads):
        return _run(U, theta, gamma, period, force, rtol, strict, progress, n_eigenvalues,
                    hermite_degree, fourier_modes, memory_limit, linear_solver)


def friction_sweep(U: Union[str, PeriodicPotential, PeriodicLandscape, Callable[..., Any]],
                   theta: float, gammas: Iterable[float], *, progress: bool = False,
                   **kwargs: Any) -> List[CoefficientResult]:
    r""":func:`underdamped_coefficients` for each friction in ``gammas`` (a list of results).

    ``kwargs`` are passed on (``period``, ``force``, ``rtol``, ``strict``, ...); ``progress``
    shows a tqdm bar over the points.
    """
    from tqdm.auto import tqdm
    out = []
    for g in tqdm(list(gammas), disable=not progress, desc="friction sweep", leave=False):
        out.append(underdamped_coefficients(U, theta, g, **kwargs))
    return out


def _positive(name, x):
    if isinstance(x, bool):
        raise EffcoefError(f"{name} must be a finite positive number, got {x!r}")
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise EffcoefError(f"{name} must be a finite positive number, got {x!r}") from None
    if not (math.isfinite(v) and v > 0):
        raise EffcoefError(f"{name} must be a finite positive number, got {x!r}")
    return v


def _run(U, theta, gamma, period, force, rtol, strict, progress, n_eigenvalues,
         hermite_degree, fourier_modes, memory_limit, linear_solver="auto"):
    t_start = time.perf_counter()
    theta = check_theta(theta)
    gamma = _positive("gamma", gamma)
    land = periodic_landscape(U, period)
    d = land.dim
    if rtol is None:
        rtol = UNDERDAMPED_DEFAULTS["rtol"][d]
    rtol = _positive("rtol", rtol)
    memory_limit = _positive("memory_limit", memory_limit if memory_limit is not None
                             else UNDERDAMPED_DEFAULTS["memory_limit"])
    F = np.zeros(d) if force is None else np.atleast_1d(np.asarray(force, dtype=float))
    if F.size == 1 and d == 2:
        raise EffcoefError("force must have 2 components in 2D")
    if F.size != d or not np.all(np.isfinite(F)):
        raise EffcoefError(f"force must be {d} finite number(s), got {force!r}")
    n_eigenvalues = int(n_eigenvalues)
    if n_eigenvalues < 0:
        raise EffcoefError("n_eigenvalues must be >= 0")
    if n_eigenvalues and d == 2:
        raise EffcoefError("eigenvalues are computed in 1D only (n_eigenvalues=0 in 2D)")
    tables = FourierTables.build(land.U, land.grad, land.period, theta)
    problem = _Problem(land, theta, gamma, F, tables, rtol, memory_limit,
                       UNDERDAMPED_DEFAULTS["restart"], None, n_eigenvalues,
                       linear_solver=linear_solver if d == 1 else "auto")
    N0, K0 = _initial_sizes(problem)
    fixN = hermite_degree is not None
    fixK = fourier_modes is not None
    if fixN:
        N0 = int(hermite_degree)
        if N0 < 2:
            raise EffcoefError(f"hermite_degree must be an integer >= 2, got {hermite_degree!r}")
    if fixK:
        K0 = tuple(int(k) for k in np.broadcast_to(np.atleast_1d(fourier_modes), (d,)))
        if min(K0) < 1:
            raise EffcoefError(f"fourier_modes must be >= 1, got {fourier_modes!r}")
    depth = (tables.Umax - tables.Umin) / theta
    c0 = _coverage(problem, depth)
    solver = _solve_1d if d == 1 else _solve_2d
    ref = UNDERDAMPED_DEFAULTS["refine"]
    cref = UNDERDAMPED_DEFAULTS["coverage_refine"]

    bar = _make_bar(progress)
    problem.progress = bar
    cache = {}

    def run(N, K, c, role=None):
        key = (N, tuple(K), round(c, 12))
        if key not in cache:
            if bar is not None:
                _bar_stage(bar, f"N={N} K={tuple(K)}")
            kept = problem.kept
            if d == 1 and role in ("base", "base+N"):
                if kept is None or (kept.N, kept.K, kept.c) != (N, tuple(K), c):
                    problem.kept = _KeptBase(N, K, c)
                cache[key] = solver(problem, N, tuple(K), c, keep_factors=True,
                                    hermite_root=role == "base+N")
            elif d == 1 and role == "K" and kept is not None and \
                    kept.N == N and kept.c == c:
                cache[key] = solver(problem, N, tuple(K), c, border=kept,
                                    prefactored=kept.ahead.get("K"))
            elif d == 1 and role == "N":
                # nested in the base basis (the base's Hermite scale), reusing its factors
                # where they are kept
                Nb, Kb, cb = nested
                use = kept if kept is not None and kept.K == tuple(K) and kept.N == Nb \
                    and kept.c == cb else None
                cache[key] = solver(problem, N, tuple(K), c, border=use,
                                    sigma=_sigma(Nb, theta, cb),
                                    prefactored=None if use is None else use.ahead.get("N"))
            else:
                cache[key] = solver(problem, N, tuple(K), c)
            problem.solves.append(cache[key])
            if bar is not None and hasattr(bar, "update"):
                bar.update(1)
        return cache[key]

    N, K, c = N0, K0, c0
    if not (fixN and fixK):
        N, K, shrunk = _fit_memory(problem, N, K, ref)
        if shrunk:
            warnings.warn(f"the initial discretisation was reduced to N = {N}, K = {K} to fit "
                          f"memory_limit = {memory_limit / 1e9:.1f} GB", AccuracyWarning,
                          stacklevel=3)
    history = []
    nested = None
    try:
        for _ in range(UNDERDAMPED_DEFAULTS["max_passes"]):
            N2 = int(math.ceil(ref * N))
            K2 = tuple(int(math.ceil(ref * k)) + 1 for k in K)
            # the refined p-basis: 10 % more coverage, or the natural scale kept if used
            # at the natural scale (s = 1) the refined basis nests the base one and shares
            # its errors: the refined run takes s = 0.9 instead (V0/theta = 10 at gamma =
            # 3000: natural-scale N = 20, 30, 52 agreed to 1e-9 on a value 8e-4 off the
            # Lifson-Jackson limit; s = 0.9 moved it by 6e-4)
            cN = 0.9 * math.sqrt(2 * N2 + 1) if _scale(N, c) == 1.0 else c * cref
            # the Fourier-refined run may reuse the base factors (then released).  In 1D the
            # Hermite-refined run does not depend on the base one (unless nested, below) and
            # SuperLU / LAPACK release the GIL: it runs on a second thread beside base +
            # Fourier-refined when two cores are free and the three fit in memory_limit
            # together (5 cos x, rtol 1e-8: gamma = 1e-2 1.2-1.6 s -> 0.74-1.4 s; the same
            # values)
            two = d == 1 and _two_cores() and _pair_fits_memory(problem, (N, K), (N, K2),
                                                                (N2, K))
            nested = (N, tuple(K), c) if d == 1 and _nested_refinement(problem, N, K, c) \
                else None
            if nested is not None:
                # the Hermite-refined basis at the base's scale (nested: 18 % more p-coverage
                # at N2 = 1.4 N, the resolution 1.18x finer), so both refined runs reuse the
                # base factors (rooted on the last Fourier mode and the top Hermite degrees):
                # (5 cos x, rtol 1e-8, gamma = 1e-3: N = 1033 -> 1447 at 1.1x coverage gave
                # gamma D = 6.600123808589709e-05, nested 6.600123808589632e-05).  With two
                # cores the refined solves start beside the base: each factorises its new
                # unknowns while the base is factorised, then waits for the base factors
                cN = c * math.sqrt((2 * N2 + 1) / (2 * N + 1))
                problem.kept = _KeptBase(N, K, c)
                if two:
                    from concurrent.futures import Future, ThreadPoolExecutor
                    kept = problem.kept
                    kept.ahead = {"K": Future(), "N": Future()}
                    sig = _sigma(N, theta, c)

                    def second(kept=kept, sig=sig, N=N, K=K, N2=N2, K2=K2, cN=cN):
                        # the new unknowns of both refined solves while the base is
                        # factorised, then the Hermite-refined solve
                        for role, (Nr, Kr, sr) in (("K", (N, K2, sig)), ("N", (N2, K, sig))):
                            try:
                                kept.ahead[role].set_result(
                                    _prefactor_1d(problem, Nr, Kr, sr, kept))
                            except BaseException as exc:        # the solve redoes it
                                kept.ahead[role].set_exception(exc)
                        return run(N2, K, cN, "N")

                    pool = ThreadPoolExecutor(1)
                    try:
                        fN = pool.submit(second)
                        base = run(N, K, c, "base+N")
                        rK = run(N, K2, c, "K")
                        rN = fN.result()
                    finally:
                        kept.close()
                        pool.shutdown(wait=False, cancel_futures=True)
                else:
                    base = run(N, K, c, "base+N")
                    rK = run(N, K2, c, "K")
                    rN = run(N2, K, cN, "N")
                problem.kept = None
            elif two:
                from concurrent.futures import ThreadPoolExecutor
                pool = ThreadPoolExecutor(1)
                try:
                    fN = pool.submit(run, N2, K, cN)
                    base = run(N, K, c, "base")
                    rK = run(N, K2, c, "K")
                    problem.kept = None
                    rN = fN.result()
                finally:
                    # on Ctrl-C or an error do not wait for the other solve (it ends on its
                    # own; its result is dropped)
                    pool.shutdown(wait=False, cancel_futures=True)
            else:
                base = run(N, K, c, "base")
                rK = run(N, K2, c, "K")
                problem.kept = None
                rN = run(N2, K, cN)
            eN = _rel(rN, base)
            eK = _rel(rK, base)
            history.append((N, K, eN, eK))
            if eN + eK <= rtol or (fixN and fixK):
                break
            grow_N = eN > rtol / 3 and not fixN
            grow_K = eK > rtol / 3 and not fixK
            if not (grow_N or grow_K):
                break
            if (len(history) >= 2 and eN + eK < 1e-10
                    and eN + eK > 0.5 * (history[-2][2] + history[-2][3])):
                # finer sizes no longer shrink the gap: the round-off floor of double precision
                warnings.warn(f"stopped refining: the two-resolution gap stalls at "
                              f"{eN + eK:.1e} (round-off of double precision), above "
                              f"rtol = {rtol:.1e}", AccuracyWarning, stacklevel=3)
                break
            # growing N also widens the p-coverage (the refined run did both: its error is
            # the gap, whichever of the two it came from)
            newN, newc = (_grow(N, eN, rtol, ref), cN) if grow_N else (N, c)
            newK = tuple(_grow(k, eK, rtol, ref) + (1 if eK < 100 * rtol else 0) for k in K) \
                if grow_K else K
            sec = problem.sector_for(0)
            try:
                _check_memory(problem, int(math.ceil(ref * newN)), newK, sec)
                _check_memory(problem, newN, tuple(int(math.ceil(ref * k)) + 1 for k in newK),
                              sec)
            except MemoryLimitError as exc:
                warnings.warn(f"stopped refining: {exc}", AccuracyWarning, stacklevel=3)
                break
            N, K, c = newN, newK, newc
    finally:
        if bar is not None and hasattr(bar, "close"):
            bar.close()

    comps = {"hermite": eN, "fourier": eK, "potential_fourier": float(tables.dropped),
             "linear_solver": float(max(base.residual, rN.residual, rK.residual))}
    est = comps["hermite"] + comps["fourier"] + comps["potential_fourier"] + \
        comps["linear_solver"]
    D = float(base.D[0, 0]) if d == 1 else base.D.copy()
    V = float(base.V[0]) if d == 1 else base.V.copy()
    eig = np.array([0.0])
    eig_err = np.array([0.0])
    info = {}
    if base.eigenvalues is not None:
        lam = base.eigenvalues
        eig = lam.real.copy()
        eig[0] = 0.0 if abs(lam[0]) < 1e-8 * max(1.0, abs(lam[-1])) else lam[0].real
        info["eigenvalues_imag"] = [float(x) for x in lam.imag]
        nz = eig[1:]
        info["spectral_gap"] = float(nz.min()) if nz.size else math.nan
        eig_err = np.zeros(lam.size)
        for other in (rN.eigenvalues, rK.eigenvalues):
            if other is None:
                continue
            for k, x in enumerate(lam):
                dist = float(np.min(np.abs(other - x)))
                eig_err[k] = max(eig_err[k], dist / max(abs(x), 1e-300) if k else 0.0)
    info.update({
        "hermite_degree": base.N, "fourier_modes": list(base.K), "hermite_scale": _scale(base.N, base.c),
        "coverage": base.c, "gamma": gamma,
        "force": [float(x) for x in F], "period": list(land.period),
        "symmetric_axes": [bool(problem.axis_symmetric(a)) for a in range(d)],
        "solver": ({"block": "block-banded LU (levels = Hermite degree)",
                    "lattice": "nested-dissection LU on the (Hermite, Fourier) lattice",
                    "superlu": "sparse LU (SuperLU)"}.get(base.solver, base.solver)
                   if d == 1 else "GMRES + Kronecker-sum (separable) preconditioner"),
        "solvers_used": sorted({s.solver for s in cache.values()}) if d == 1 else [],
        "gmres_iterations": int(base.iterations), "seconds": time.perf_counter() - t_start,
        "seconds_base_solve": base.seconds, "memory_estimate_bytes": float(base.memory),
        "n_solves": len(cache), "ground_state_lost": float(base.ground_lost),
        "refinement_history": [(h[0], list(h[1]), h[2], h[3]) for h in history],
        "D_refined_N": float(rN.D[0, 0]) if d == 1 else rN.D.tolist(),
        "hermite_refinement": "nested" if nested is not None else "coverage",
        "solvers_refined": [rN.solver, rK.solver],
        "D_refined_K": float(rK.D[0, 0]) if d == 1 else rK.D.tolist(),
    })
    dom = (0.0, land.period[0]) if d == 1 else (np.zeros(2), np.asarray(land.period))
    res = CoefficientResult(
        dim=d, D=D, K=None, V=V, theta=theta, K_cov=None, eigenvalues=eig, eta=None,
        omega=None, D_partial=None, K_partial=None, rel_error_estimate=float(est),
        error_components=comps,
        error_method=(f"two resolutions per variable: Hermite N={base.N} vs {rN.N} "
                      + (f"(coverage x{cref}), " if nested is None else
                         "(the same scale: nested), ")
                      + f"Fourier K={list(base.K)} vs {list(rK.K)}; plus "
                      "dropped Fourier coefficients of grad U and the solver residual"),
        rtol=rtol, domain=dom, n_dofs=int(base.n_dofs), method="underdamped",
        potential=land.name, eigenvalue_errors=eig_err, info=info)
    _check_accuracy(res, rtol, strict)
    return res


def _rel(a: _Solve, b: _Solve) -> float:
    """Relative change of D (and V when nonzero) between two discretisations."""
    e = relative_error(a.D, b.D)
    if np.any(b.V != 0) or np.any(a.V != 0):
        scale = max(float(np.linalg.norm(b.V)), 1e-300)
        e = max(e, float(np.linalg.norm(a.V - b.V)) / scale)
    return float(e)


def _grow(n, err, rtol, ref):
    """Next size: the refinement factor, more if the error is far above rtol."""
    factor = ref if err < 100 * rtol else ref ** 1.5
    return int(math.ceil(factor * n))


def _make_bar(progress):
    if not progress:
        return None
    if callable(progress) and progress is not True:
        return progress
    from tqdm.auto import tqdm
    return tqdm(total=None, desc="underdamped", leave=False)


def _bar_stage(bar, text):
    if hasattr(bar, "set_description_str"):
        bar.set_description_str(f"underdamped {text}")
    elif callable(bar):
        bar(text, 0)


def _check_accuracy(res, rtol, strict):
    if not res.accurate:
        msg = (f"estimated relative error {res.rel_error_estimate:.1e} exceeds rtol={rtol:.1e} "
               f"({', '.join(f'{k}={v:.1e}' for k, v in res.error_components.items())}); "
               "raise memory_limit or fix hermite_degree / fourier_modes")
        if strict:
            raise AccuracyError(msg)
        warnings.warn(msg, AccuracyWarning, stacklevel=4)
