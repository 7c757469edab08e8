r"""Periodic potentials U(x) on a rectangular cell, for the underdamped route.

:func:`periodic_landscape` turns U as on the periodic route - an expression in ``x`` (d = 1)
or ``x1, x2`` (d = 2), parsed by :func:`potentials.periodic_from_expression` (the one parser of
periodic potentials, exact symbolic gradient), or a :class:`potentials.PeriodicPotential` -
into a :class:`PeriodicLandscape`: it checks that U is periodic on the cell ``period`` (default
1 in each direction if U is 1-periodic, else :math:`2\pi`) and detects the reflection
symmetries :math:`U(\dots, -x_i, \dots) = U(\dots, x_i, \dots)` (and the swap
:math:`x_1 \leftrightarrow x_2`) used by the discretisation.  A callable ``U(X)`` (``X`` of
shape (d, ...)) is accepted with ``grad`` (same shape in, (d, ...) out).
"""

from __future__ import annotations

import math
from typing import Callable, Optional, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from potentials.expression import Node
from potentials.periodic import PeriodicPotential, periodic_from_expression

__all__ = ["PeriodicLandscape", "periodic_landscape", "LandscapeError"]

_VARS = {1: ("x",), 2: ("x1", "x2")}
_PERIOD_RTOL = 1e-9
_SYM_RTOL = 1e-12


class LandscapeError(ValueError):
    """Invalid periodic potential (not periodic, not finite, wrong variables)."""


class PeriodicLandscape:
    r"""A periodic potential :math:`U` on :math:`\prod_i [0, L_i)` with its gradient.

    ``U(X)`` and ``grad(X)`` take ``X`` of shape (d, ...); in 1D ``U(x)`` also accepts a plain
    array.  ``symmetric[i]``: U is even in :math:`x_i` (about 0); ``swap``: d = 2 and
    :math:`U(x_1, x_2) = U(x_2, x_1)` with :math:`L_1 = L_2`.
    """

    def __init__(self, dim: int, period: Sequence[float], *, tree: Optional[Node] = None,
                 grad_trees: Optional[Sequence[Node]] = None,
                 func: Optional[Callable[..., ArrayLike]] = None,
                 grad: Optional[Callable[..., ArrayLike]] = None,
                 text: str = "", name: Optional[str] = None):
        self.dim = int(dim)
        self.period = tuple(float(p) for p in period)
        self._tree, self._grad_trees = tree, grad_trees
        self._func, self._grad = func, grad
        self.text = text
        self.name = name or (f"U({', '.join(_VARS[self.dim])}) = {text}" if text else "U")
        self.symmetric = (False,) * self.dim
        self.swap = False

    # -- evaluation ----------------------------------------------------------------------
    def _env(self, X):
        return {v: X[i] for i, v in enumerate(_VARS[self.dim])}

    def _as_X(self, X):
        X = np.asarray(X, dtype=float)
        if self.dim == 1 and (X.ndim <= 1 or X.shape[0] != 1):
            X = X[None]             # 1D: a plain array of points
        return X

    def U(self, X: ArrayLike) -> np.ndarray:
        X = self._as_X(X)
        if self._func is not None:
            out = self._func(X if self.dim > 1 else X)
        else:
            with np.errstate(all="ignore"):
                out = self._tree.eval_np(self._env(X))
        return np.broadcast_to(np.asarray(out, dtype=float), X.shape[1:]).copy()

    def grad(self, X: ArrayLike) -> np.ndarray:
        X = self._as_X(X)
        if self._grad is not None:
            G = np.asarray(self._grad(X), dtype=float)
            return np.broadcast_to(G.reshape((self.dim,) + G.shape[-(X.ndim - 1):] if X.ndim > 1
                                             else (self.dim,)), X.shape).copy()
        with np.errstate(all="ignore"):
            env = self._env(X)
            return np.stack([np.broadcast_to(np.asarray(g.eval_np(env), dtype=float),
                                             X.shape[1:]) for g in self._grad_trees])

    def __call__(self, X):
        return self.U(X)

    def __repr__(self):
        return f"PeriodicLandscape({self.name!r}, period={self.period})"

    # -- checks ----------------------------------------------------------------------------
    def sample_grid(self, n: int = 64) -> np.ndarray:
        axes = [np.arange(n) * (L / n) for L in self.period]
        return np.stack(np.meshgrid(*axes, indexing="ij"))

    def check(self, seed: int = 12345) -> PeriodicLandscape:
        """Finite values, periodicity (one-line error), symmetry detection."""
        rng = np.random.default_rng(seed)
        d = self.dim
        X = rng.random((d, 257)) * np.asarray(self.period)[:, None]
        u, g = self.U(X), self.grad(X)
        if not (np.all(np.isfinite(u)) and np.all(np.isfinite(g))):
            raise LandscapeError(f"{self.name} is not finite on the period cell")
        scale = 1.0 + float(np.max(np.abs(u)))
        gscale = 1.0 + float(np.max(np.abs(g)))
        for i, L in enumerate(self.period):
            Y = X.copy()
            Y[i] += L
            du = float(np.max(np.abs(self.U(Y) - u)))
            dg = float(np.max(np.abs(self.grad(Y) - g)))
            if du > _PERIOD_RTOL * scale or dg > _PERIOD_RTOL * gscale:
                var = _VARS[d][i]
                raise LandscapeError(
                    f"{self.name} is not periodic with period {L:g} in {var} "
                    f"(|U({var} + {L:g}) - U({var})| up to {du:.2g}); give period=...")
        sym = []
        for i in range(d):
            Y = X.copy()
            Y[i] = -Y[i]
            sym.append(bool(np.max(np.abs(self.U(Y) - u)) <= _SYM_RTOL * scale))
        self.symmetric = tuple(sym)
        if d == 2 and abs(self.period[0] - self.period[1]) <= 1e-15 * self.period[0]:
            self.swap = bool(np.max(np.abs(self.U(X[::-1]) - u)) <= _SYM_RTOL * scale)
        return self


def periodic_landscape(U: Union[str, PeriodicLandscape, PeriodicPotential,
                                Callable[..., ArrayLike]],
                       period: Optional[ArrayLike] = None, *, dim: Optional[int] = None,
                       grad: Optional[Callable] = None, name: Optional[str] = None
                       ) -> PeriodicLandscape:
    r"""A checked :class:`PeriodicLandscape` from an expression or a callable.

    Parameters
    ----------
    U : str, PeriodicLandscape, potentials.PeriodicPotential or callable
        An expression in ``x`` (1D) or ``x1, x2`` (2D), e.g. ``"-cos(x)/2"`` or
        ``"-(cos(x1) + cos(x2))/2 - 0.64*cos(x1)*cos(x2)"`` (operators ``+ - * / **``, functions
        ``abs exp log sqrt sin cos tanh cosh``, ``pi``, ``e``), as on the overdamped periodic
        route (:func:`effcoef.periodic.effective_coefficients`); a
        :class:`potentials.PeriodicPotential` (its own cell); or a callable ``U(X)`` with
        ``X`` of shape (d, ...), then ``grad`` is required and ``dim`` or ``period`` must fix d.
    period : float or (L1, L2), optional
        The cell.  Default for an expression: 1 in each direction (the periodic route's
        default) if U is periodic on that cell, else :math:`2\pi` (``"-cos(x)/2"``); an
        expression periodic on neither needs ``period``.  Any multiple of the minimal period
        gives the same D and V.  Default for a callable: :math:`2\pi`.
    dim : int, optional
        1 or 2; inferred from the variables of an expression (``x`` or ``x1, x2``).

    Raises
    ------
    LandscapeError (a ValueError)
        If U is not periodic on the cell, not finite, or uses other variables.
    """
    if isinstance(U, PeriodicLandscape):
        if period is not None and tuple(np.atleast_1d(period).astype(float)) != U.period:
            raise LandscapeError(f"period {period} differs from the landscape's {U.period}")
        return U
    if isinstance(U, PeriodicPotential):
        if period is not None:
            per = _period(period, U.dim)
            if not np.allclose(per, U.period, rtol=1e-14, atol=0.0):
                raise LandscapeError(f"period {per} differs from the potential's period "
                                     f"{tuple(U.period)}")
        tree = getattr(U, "tree", None)
        if tree is not None:               # from an expression: exact gradient trees
            return PeriodicLandscape(U.dim, tuple(U.period), tree=tree,
                                     grad_trees=tuple(U.grad_trees), text=U.expr or "",
                                     name=name).check()
        return periodic_landscape(U.U, tuple(U.period), dim=U.dim, grad=U.grad,
                                  name=name or U.name)
    if isinstance(U, str):
        # one parser: potentials.periodic_from_expression (variables, dimension, period
        # checks); this module adds the periodicity and symmetry checks of the cell
        text = U.strip()
        cells = [period] if period is not None else [1.0, 2.0 * math.pi]
        for cell in cells:
            pot = periodic_from_expression(text, cell, dim=dim, name=name, check=False)
            try:
                return periodic_landscape(pot, name=name)
            except LandscapeError as exc:
                if period is not None or "not periodic" not in str(exc):
                    raise
        raise LandscapeError(f"{text!r} is not periodic with period 1 nor with 2*pi in every "
                             f"direction: give period=...")
    if callable(U):
        if grad is None:
            raise LandscapeError("a callable U needs its gradient: grad=...")
        if dim is None:
            dim = 1 if period is None or np.ndim(period) == 0 else len(period)
        dim = _check_dim(dim)
        per = _period(period, dim)
        land = PeriodicLandscape(dim, per, func=U, grad=grad, name=name or "U (callable)")
        return land.check()
    raise LandscapeError(f"U must be an expression string, a potentials.PeriodicPotential or a "
                         f"callable, got {type(U).__name__}")


def _check_dim(dim):
    if isinstance(dim, bool) or dim not in (1, 2):
        raise LandscapeError(f"dimension must be 1 or 2, got {dim!r}")
    return int(dim)


def _period(period, dim):
    if period is None:
        per = (2.0 * math.pi,) * dim
    else:
        arr = np.atleast_1d(np.asarray(period, dtype=float))
        if arr.size == 1:
            arr = np.repeat(arr, dim)
        if arr.size != dim:
            raise LandscapeError(f"period must be a number or {dim} numbers, got {period!r}")
        per = tuple(float(a) for a in arr)
    for L in per:
        if not (math.isfinite(L) and L > 0):
            raise LandscapeError(f"period must be finite and > 0, got {period!r}")
    return per
