r"""Periodic potentials :math:`U(x)` on a rectangular cell, :math:`x \in \mathbb R^d`, d = 1, 2.

The overdamped Langevin dynamics in a periodic landscape

.. math:: dX = (-\nabla U(X) + F)\,dt + \sqrt{2\theta}\,dB, \qquad
          U(x + L_i e_i) = U(x), \quad i = 1..d,

is homogenised by :mod:`effcoef.periodic`.  This module only describes U: its values, gradient
and the diagonal of its Hessian (vectorised over arrays of shape ``(d, ...)``), its periods
:math:`(L_1, \dots, L_d)`, and a numerical periodicity check.

Constructors: :func:`periodic_from_expression` (an expression in ``x`` for d = 1 or in ``x1, x2``
for d = 2, parsed by the safe whitelist of :mod:`potentials.expression`, derivatives exact) and
:class:`PeriodicPotential` itself (callables).  Library: :func:`cosine_potential`.
"""

from __future__ import annotations

import math
from typing import Any, Callable, List, Optional, Tuple

import mpmath as mp
import numpy as np
from numpy.typing import ArrayLike

from .errors import ExpressionError, PotentialError
from .expression import parse, simplify

__all__ = ["PeriodicPotential", "PeriodicityError", "periodic_from_expression",
           "cosine_potential", "PERIODICITY_RTOL"]

#: relative tolerance of the periodicity check, on the scale max|U| + L max|grad U|
PERIODICITY_RTOL = 1e-10

_VARS = {1: ("x",), 2: ("x1", "x2")}


class PeriodicityError(PotentialError):
    """U is not periodic on the given cell (the message names the failing direction)."""


def _check_period(period, dim):
    """Tuple of ``dim`` finite positive periods (a scalar is used in every direction)."""
    p = np.atleast_1d(np.asarray(period, dtype=object))
    if p.ndim != 1 or len(p) not in (1, dim):
        raise ValueError(f"period must be one number or {dim} numbers, got {period!r}")
    out = []
    for x in p:
        if isinstance(x, (bool, np.bool_)):
            raise ValueError(f"period must be a positive number, got {x!r}")
        try:
            v = float(x)
        except (TypeError, ValueError):
            raise ValueError(f"period must be a positive number, got {x!r}") from None
        if not (math.isfinite(v) and v > 0):
            raise ValueError(f"period must be a finite positive number, got {x!r}")
        out.append(v)
    return tuple(out * dim) if len(out) == 1 else tuple(out)


class PeriodicPotential:
    r"""A periodic potential U on the cell :math:`\prod_i [0, L_i)`.

    Parameters
    ----------
    U : callable
        ``U(X)`` for ``X`` of shape ``(d, ...)`` returns shape ``(...)``.
    grad : callable
        ``grad(X)`` returns :math:`\nabla U`, shape ``(d, ...)``.
    hess_diag : callable
        ``hess_diag(X)`` returns :math:`(\partial_{11}U, \dots, \partial_{dd}U)`, shape
        ``(d, ...)`` (used to size the mesh).
    period : float or sequence of d floats
        The periods :math:`L_i > 0`.
    dim : int
        1 or 2.
    name : str
    U_mp : callable, optional
        ``U_mp(point)`` (d numbers) with mpmath at the current precision.
    expr : str, optional
        Expression text if built from one.
    check : bool
        Verify periodicity now (:meth:`check_periodic`); default True.

    In 1D the methods also accept a plain array ``x`` of any shape (other than a leading axis
    of length 1, which is read as the coordinate axis).
    """

    def __init__(self, U: Callable[[np.ndarray], ArrayLike],
                 grad: Callable[[np.ndarray], ArrayLike],
                 hess_diag: Callable[[np.ndarray], ArrayLike], period: ArrayLike, dim: int, *,
                 name: str, U_mp: Optional[Callable[[List[mp.mpf]], Any]] = None,
                 expr: Optional[str] = None, check: bool = True):
        if isinstance(dim, bool) or dim not in (1, 2):
            raise ValueError(f"dim must be 1 or 2, got {dim!r}")
        self.dim = int(dim)
        self.period = _check_period(period, self.dim)
        self._U, self._grad, self._hess = U, grad, hess_diag
        self._U_mp = U_mp
        self.name = str(name)
        self.expr = None if expr is None else str(expr)
        if check:
            self.check_periodic()

    # ------------------------------------------------------------------
    def _asX(self, X):
        X = np.asarray(X, dtype=np.float64)
        if self.dim == 1 and (X.ndim == 0 or X.shape[0] != 1):
            X = X[None]
        if X.shape[0] != self.dim:
            raise ValueError(f"{self.name}: expected an array of shape ({self.dim}, ...), got "
                             f"shape {X.shape}")
        return X

    def U(self, X: ArrayLike) -> np.ndarray:
        """:math:`U(X)`; ``X`` of shape ``(d, ...)``, result ``(...)``."""
        X = self._asX(X)
        with np.errstate(all="ignore"):
            y = np.asarray(self._U(X), dtype=np.float64)
        return np.broadcast_to(y, X.shape[1:]).copy()

    def grad(self, X: ArrayLike) -> np.ndarray:
        r""":math:`\nabla U(X)`, shape ``(d, ...)``."""
        X = self._asX(X)
        with np.errstate(all="ignore"):
            g = self._grad(X)
            g = np.stack([np.broadcast_to(np.asarray(gi, dtype=np.float64), X.shape[1:])
                          for gi in g])
        return g

    def hess_diag(self, X: ArrayLike) -> np.ndarray:
        r""":math:`(\partial_{ii} U)_i`, shape ``(d, ...)``."""
        X = self._asX(X)
        with np.errstate(all="ignore"):
            h = self._hess(X)
            h = np.stack([np.broadcast_to(np.asarray(hi, dtype=np.float64), X.shape[1:])
                          for hi in h])
        return h

    def U_mp(self, point: ArrayLike) -> mp.mpf:
        """U at one point (``d`` numbers) with mpmath (float64 fallback if no ``U_mp``)."""
        pt = [mp.mpf(x) for x in np.atleast_1d(point)]
        if len(pt) != self.dim:
            raise ValueError(f"{self.name}: expected {self.dim} coordinates, got {len(pt)}")
        if self._U_mp is None:
            return mp.mpf(float(self.U(np.array([float(x) for x in pt]).reshape(self.dim, 1))[0]))
        return mp.mpf(self._U_mp(pt))

    def __reduce__(self):
        # expression-built potentials pickle as their recipe (the numpy closures do not)
        recipe = getattr(self, "_recipe", None)
        if recipe is None:
            return object.__reduce__(self)
        return (_rebuild, recipe)

    @property
    def cell(self) -> Tuple[Tuple[float, ...], Tuple[float, ...]]:
        """((0, ..., 0), (L_1, ..., L_d))."""
        return (tuple(0.0 for _ in self.period), tuple(self.period))

    def __repr__(self):
        per = ", ".join(f"{p:g}" for p in self.period)
        return f"PeriodicPotential({self.name!r}, period=({per}))"

    # ------------------------------------------------------------------
    def sample_points(self, n: Optional[int] = None, seed: int = 20261127) -> np.ndarray:
        """Deterministic points of the cell (a grid with a jitter), shape ``(d, n)``."""
        rng = np.random.default_rng(seed)
        n = (97 if self.dim == 1 else 400) if n is None else int(n)
        L = np.asarray(self.period)[:, None]
        return rng.uniform(0.0, 1.0, size=(self.dim, n)) * L

    def check_periodic(self, rtol: float = PERIODICITY_RTOL) -> bool:
        r"""Raise :class:`PeriodicityError` (one line, naming the direction) unless
        :math:`|U(x + L_i e_i) - U(x)| \le` ``rtol`` :math:`(\max|U| + L_i\max|\nabla U|)` at
        deterministic sample points of the cell, and U, :math:`\nabla U` are finite there.

        The scale allows the rounding of U at the shifted arguments (about
        :math:`\epsilon\,|x|\,|\nabla U|`); a genuinely non-periodic U (a wrong period, a tilt
        written into U) fails by many orders of magnitude.
        """
        X = self.sample_points()
        u = self.U(X)
        g = self.grad(X)
        names = _VARS[self.dim]
        if not (np.all(np.isfinite(u)) and np.all(np.isfinite(g))):
            i = int(np.argmin(np.isfinite(u) & np.all(np.isfinite(g), axis=0)))
            where = ", ".join(f"{c:.6g}" for c in X[:, i])
            raise PeriodicityError(f"{self.name}: U or its gradient is not finite at "
                                   f"({where}) in the cell; U must be smooth and periodic")
        for k in range(self.dim):
            L = self.period[k]
            scale = float(np.max(np.abs(u))) + L * float(np.max(np.abs(g)))
            tol = rtol * max(scale, 1e-300)
            for sgn in (1.0, -1.0):
                Xs = X.copy()
                Xs[k] += sgn * L
                du = self.U(Xs) - u
                bad = ~np.isfinite(du) | (np.abs(du) > tol)
                if np.any(bad):
                    i = int(np.argmax(np.where(np.isfinite(du), np.abs(du), np.inf)))
                    where = ", ".join(f"{c:.6g}" for c in X[:, i])
                    raise PeriodicityError(
                        f"U is not periodic in {names[k]} with period {L:g}: "
                        f"U(x {'+' if sgn > 0 else '-'} {L:g} e_{k + 1}) - U(x) = {du[i]:.3g} at "
                        f"x = ({where}) (tolerance {tol:.1e}); check the period "
                        f"(e.g. cos({names[k]}) has period 2*pi, cos(2*pi*{names[k]}) period 1)")
        return True


def periodic_from_expression(text: str, period: ArrayLike = 1.0, *, dim: Optional[int] = None,
                             name: Optional[str] = None,
                             check: bool = True) -> PeriodicPotential:
    r"""A :class:`PeriodicPotential` from an expression in ``x`` (d = 1) or ``x1, x2`` (d = 2).

    Parameters
    ----------
    text : str
        E.g. ``"cos(2*pi*x)"`` or ``"-(cos(x1) + cos(x2))/2 - 0.3*cos(x1)*cos(x2)"``.  Same
        whitelist as :func:`potentials.from_expression` (``+ - * / **``, ``abs exp log sqrt
        sin cos tanh cosh``, ``pi``, ``e``); nothing is evaluated by Python.
    period : float or (L1, L2)
        The cell; one number is used in every direction.
    dim : {1, 2}, optional
        Default: 2 if the expression uses ``x1`` or ``x2`` or two periods are given, else 1.
    name : str, optional
    check : bool
        Run :meth:`PeriodicPotential.check_periodic` (default True).

    Raises
    ------
    ExpressionError
        Invalid expression (syntax, unknown names: ``x`` and ``x1, x2`` cannot be mixed).
    PeriodicityError
        U is not periodic with the given period (the message names the direction).
    ValueError
        A period that is not a finite positive number.
    """
    if not isinstance(text, str):
        raise ExpressionError(f"expression must be a string, got {type(text).__name__}")
    tree = parse(text, ("x", "x1", "x2"))
    has = {v for v in ("x", "x1", "x2") if tree.has_var(v)}
    n_per = np.size(np.asarray(period, dtype=object))
    if dim is None:
        dim = 2 if (has & {"x1", "x2"} or n_per == 2) else 1
    if dim not in (1, 2):
        raise ValueError(f"dim must be 1 or 2, got {dim!r}")
    names = _VARS[dim]
    stray = sorted(has - set(names))
    if stray:
        allowed = "x" if dim == 1 else "x1, x2"
        raise ExpressionError(f"unknown name {stray[0]!r} in a {dim}D periodic potential "
                              f"(use {allowed})")
    tree = parse(text, names)
    s = simplify(tree)
    g = tuple(s.diff(v) for v in names)
    h = tuple(gi.diff(v) for gi, v in zip(g, names))

    def make(node):
        def f(X):
            env = {v: X[i] for i, v in enumerate(names)}
            with np.errstate(all="ignore"):
                y = node.eval_np(env)
            return np.broadcast_to(np.asarray(y, dtype=np.float64), X.shape[1:]).copy()
        return f

    fU = make(tree)
    fg = [make(n) for n in g]
    fh = [make(n) for n in h]

    def U_mp(pt):
        return tree.eval_mp({v: mp.mpf(c) for v, c in zip(names, pt)})

    text = text.strip()
    pot = PeriodicPotential(fU, lambda X: [f(X) for f in fg], lambda X: [f(X) for f in fh],
                            period, dim, name=name if name is not None else
                            f"U({', '.join(names)}) = {text}", U_mp=U_mp, expr=text,
                            check=check)
    pot.tree, pot.grad_trees, pot.hess_trees = tree, g, h
    pot._recipe = (text, pot.period, dim, pot.name)
    return pot


def _rebuild(text, period, dim, name):
    return periodic_from_expression(text, period, dim=dim, name=name, check=False)


def cosine_potential(amplitude: float = 1.0, period: float = 1.0) -> PeriodicPotential:
    r""":math:`U(x) = V_0\cos(2\pi x/L)` (d = 1): the tilted-washboard / Lifson-Jackson example,
    critical tilt :math:`F_c = 2\pi V_0/L`."""
    V0, L = float(amplitude), _check_period(period, 1)[0]
    if not math.isfinite(V0):
        raise ValueError(f"amplitude must be finite, got {amplitude!r}")
    return periodic_from_expression(f"{V0!r}*cos(2*pi*x/{L!r})", L,
                                    name=f"U(x) = {V0:g} cos(2 pi x / {L:g})")
