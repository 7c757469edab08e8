r"""Potentials in velocity dimension :math:`d = 2, 3`.

The Fokker-Planck operator is

.. math::

    Q(f) = \operatorname{div}_v\bigl(\nabla W\, f + \theta \nabla f\bigr),
    \qquad M = e^{-W/\theta}/Z .

Two kinds of potentials are provided:

* :class:`RadialPotential` -- :math:`W(v) = w(|v|)` given by a 1D profile
  :math:`w` (a :class:`~potentials.Potential` used for :math:`r \ge 0`);
  the solver reduces it to a 1D problem on :math:`[0, R]` in :math:`r`.
* :class:`PotentialND` -- a general :math:`W(v_1, \dots, v_d)` with its
  gradient and Laplacian (vectorised over arrays of shape ``(d, ...)``).

Constructors: :func:`from_expression_nd` (expression in ``v1, v2[, v3]``
with exact symbolic derivatives), :func:`radial_from_expression`
(expression in ``r``), and the library :func:`swarming`,
:func:`ornstein_uhlenbeck_nd`, :func:`separable`, :func:`rotated`,
:func:`tilted`.
"""

from __future__ import annotations

import math
from typing import Any, Callable, List, NamedTuple, Optional, Sequence, Union

import mpmath as mp
import numpy as np
from numpy.typing import ArrayLike

from .core import MassInterval, Potential, reconstructible, reduce_recipe
from .errors import NonConfiningError
from .expression import (
    Add,
    Const,
    Div,
    Func,
    Mul,
    Neg,
    Pow,
    Sub,
    Var,
    add,
    from_expression,
    func,
    mul,
    parse,
    simplify,
    sub,
    substitute,
)
from .library import ornstein_uhlenbeck, quartic
from .validation import check_dim, check_gamma, check_positive, check_theta

__all__ = [
    "PotentialND", "RadialPotential", "MassBox", "from_expression_nd",
    "radial_from_expression", "swarming", "ornstein_uhlenbeck_nd",
    "separable", "rotated", "tilted", "separable_parts", "turned_separable_parts",
    "radial_profile", "RadialForm", "even_axes", "axis_kinks", "AnyPotential",
]

#: search cubes [-R, R]^d, R = 1, 2, 4, ..., 8192 and finally 1e4
_R_MAX = 1.0e4
#: grid points per axis used to sample W (by dimension)
_N_GRID = {2: 201, 3: 61}
#: largest finite value used in place of W = +inf
_BIG = 1.0e300
#: relative tolerance of the numerical symmetry detection
_SYM_RTOL = 1e-12


class MassBox(NamedTuple):
    r"""Result of :meth:`PotentialND.mass_box`.

    Attributes
    ----------
    lower, upper : numpy.ndarray, shape (d,)
        Corners of a box containing the sublevel set
        :math:`\{v : (W(v) - W_{\min})/\theta \le \text{tail}\}`.
    vmin : numpy.ndarray, shape (d,)
        Location of the global minimum of :math:`W`.
    Wmin : float
        Global minimum :math:`W_{\min}`.
    """

    lower: np.ndarray
    upper: np.ndarray
    vmin: np.ndarray
    Wmin: float


# ----------------------------------------------------------------------
# general potential


class PotentialND:
    r"""A potential :math:`W(v)`, :math:`v \in \mathbb{R}^d`, :math:`d \in \{2, 3\}`.

    Parameters
    ----------
    W : callable
        ``W(V)`` for an array ``V`` of shape ``(d, ...)`` returns shape ``(...)``.
    grad : callable
        ``grad(V)`` returns :math:`\nabla W`, shape ``(d, ...)``.
    laplacian : callable
        ``laplacian(V)`` returns :math:`\Delta W`, shape ``(...)``.
    dim : int
        Dimension :math:`d` (2 or 3).
    name : str
        Descriptive name.
    theta : float or None, optional
        Temperature attached by a family, None otherwise.
    params : dict or None, optional
        Parameters (copied).
    expr : str or None, optional
        Expression text if built from one.
    symmetric : bool or None, optional
        Central symmetry :math:`W(-v) = W(v)`.  If None it is detected at
        50 pseudo-random points of :math:`[-5, 5]^d` (fixed seed) with
        :math:`|W(v) - W(-v)| \le 10^{-12}(1 + |W(v)|)`.
    W_mp : callable or None, optional
        ``W_mp(v)`` for a sequence of ``d`` numbers evaluates :math:`W`
        with mpmath at the current precision; if None a float64 fallback
        is used.

    All callables are wrapped to work in float64 and to broadcast their
    result to the documented shape.

    Attributes
    ----------
    tree : potentials.expression.Node or None
        Expression DAG of :math:`W` in the variables ``v1, ..., vd`` (set by
        :func:`from_expression_nd` and by the library constructors when
        their components have trees); None for plain callables.
    grad_trees : tuple of Node or None
        Trees of :math:`\partial W/\partial v_i`.
    laplacian_tree : Node or None
        Tree of :math:`\Delta W`.
    grad_expr, laplacian_expr
        ``str()`` of the gradient and Laplacian trees (computed on access;
        None without trees).
    """

    tree = None
    grad_trees = None
    laplacian_tree = None

    @property
    def grad_expr(self) -> Optional[tuple]:
        """Tuple of ``str(g)`` for the gradient trees (None without trees)."""
        return None if self.grad_trees is None else tuple(str(g) for g in self.grad_trees)

    @property
    def laplacian_expr(self) -> Optional[str]:
        """``str()`` of the Laplacian tree (None without a tree)."""
        return None if self.laplacian_tree is None else str(self.laplacian_tree)

    def __init__(self, W: Callable, grad: Callable, laplacian: Callable, dim: int, *, name: str,
                 theta: Optional[float] = None, params: Optional[dict] = None,
                 expr: Optional[str] = None, symmetric: Optional[bool] = None,
                 W_mp: Optional[Callable] = None) -> None:
        self.dim = check_dim(dim)
        self._W = W
        self._grad = grad
        self._lap = laplacian
        self._W_mp = W_mp
        self.name = str(name)
        self.expr = None if expr is None else str(expr)
        self.theta = None if theta is None else check_theta(theta)
        self.params = dict(params) if params is not None else {}
        if symmetric is None:
            symmetric = self._detect_symmetry()
        self.symmetric = bool(symmetric)

    # ------------------------------------------------------------------
    def _asV(self, V):
        V = np.asarray(V, dtype=np.float64)
        if V.ndim == 0 or V.shape[0] != self.dim:
            raise ValueError(f"{self.name}: expected an array of shape ({self.dim}, ...), "
                             f"got shape {V.shape}")
        return V

    def W(self, V: ArrayLike) -> np.ndarray:
        """Potential :math:`W(V)`; ``V`` of shape ``(d, ...)``, result ``(...)``."""
        V = self._asV(V)
        with np.errstate(all="ignore"):
            y = np.asarray(self._W(V), dtype=np.float64)
        return np.broadcast_to(y, V.shape[1:]).copy()

    def grad(self, V: ArrayLike) -> np.ndarray:
        r"""Gradient :math:`\nabla W(V)`, shape ``(d, ...)``."""
        V = self._asV(V)
        with np.errstate(all="ignore"):
            g = self._grad(V)
            g = np.stack([np.broadcast_to(np.asarray(gi, dtype=np.float64), V.shape[1:])
                          for gi in g])
        return g

    def laplacian(self, V: ArrayLike) -> np.ndarray:
        r"""Laplacian :math:`\Delta W(V)`, shape ``(...)``."""
        V = self._asV(V)
        with np.errstate(all="ignore"):
            y = np.asarray(self._lap(V), dtype=np.float64)
        return np.broadcast_to(y, V.shape[1:]).copy()

    def W_mp(self, v: Sequence) -> mp.mpf:
        """Evaluate :math:`W` at the point ``v`` (``d`` numbers) with mpmath."""
        v = [mp.mpf(x) for x in v]
        if len(v) != self.dim:
            raise ValueError(f"{self.name}: expected {self.dim} coordinates, got {len(v)}")
        if self._W_mp is None:
            return mp.mpf(float(self.W(np.array([float(x) for x in v]))))
        return mp.mpf(self._W_mp(v))

    def __repr__(self):
        return f"PotentialND({self.name!r}, dim={self.dim})"

    def __reduce__(self):
        return reduce_recipe(self)

    def _detect_symmetry(self) -> bool:
        rng = np.random.default_rng(20240601)
        V = rng.uniform(-5.0, 5.0, size=(self.dim, 50))
        wp, wm = self.W(V), self.W(-V)
        ok = np.isfinite(wp) & np.isfinite(wm)
        if not np.any(ok):
            return False
        return bool(np.all(np.abs(wp[ok] - wm[ok]) <= _SYM_RTOL * (1.0 + np.abs(wp[ok]))))

    # ------------------------------------------------------------------
    def mass_box(self, theta: float, tail: float = 45.0) -> MassBox:
        r"""Box carrying the mass of the Maxwellian :math:`e^{-W/\theta}`.

        Returns a box :math:`\prod_k [\text{lower}_k, \text{upper}_k]`
        containing the sublevel set
        :math:`S = \{v : (W(v) - W_{\min})/\theta \le \text{tail}\}`
        (outside of which :math:`M(v)/M(v_{\min}) \le e^{-\text{tail}}`).

        Parameters
        ----------
        theta : float
            Temperature, finite and > 0.
        tail : float, optional
            Level in units of :math:`\theta` (default 45).

        Returns
        -------
        MassBox
            ``(lower, upper, vmin, Wmin)``.

        Raises
        ------
        ValueError
            If ``theta`` or ``tail`` is not finite and > 0.
        NonConfiningError
            If :math:`W` is not finite (nan, :math:`-\infty`) on the sample
            grid, or no cube :math:`[-R, R]^d`, :math:`R \le 10^4`, has
            its grid minimum inside and
            :math:`W - W_{\min} > \text{tail}\,\theta` on its whole boundary
            (:math:`W` unbounded below, decreasing or too slowly growing in
            some direction, e.g. flat in one variable).

        Notes
        -----
        1. For :math:`R = 1, 2, 4, \dots, 8192, 10^4`, :math:`W` is sampled
           on a tensor grid of 201 (d = 2) or 61 (d = 3) points per axis of
           :math:`[-R, R]^d` until the cube is accepted.
        2. :math:`W_{\min}, v_{\min}` are refined by L-BFGS-B (with the
           gradient) from the grid minimum.
        3. The bounding box of the grid points of :math:`S`, padded by one
           grid step :math:`h`, is a first box.
        4. Each face is then tightened by bisection of
           :math:`\varphi_k(x) = \min_{v_j, j \ne k} W(v)|_{v_k = x} - W_{\min}
           - \text{tail}\,\theta`, where the inner minimum is the minimum on
           a grid slice of the padded box (201 resp. 61 points per other
           axis) refined by a bounded Brent minimisation (d = 2) or L-BFGS-B
           (d = 3) from the slice minimum.  The bracket starts at
           [extreme grid point of S, one step further] and is moved
           outward while :math:`\varphi_k \le 0` at its outer end (so a set
           reaching past the padding is still enclosed); the root is found
           by Brent's method (``brentq``, tolerance 1e-11 relative) and
           pushed outward by twice the tolerance, and accepted only if
           :math:`\varphi_k > 0` there (else the outer bracket end is used),
           so the face errs on the large side, by ~1e-11 relative.  If
           anything fails (non-finite values, inconsistent bracket) the
           padded grid face is kept.
           Components of S thinner than a grid step may be missed (as in
           the 1D :meth:`Potential.mass_interval`).
        """
        from scipy.optimize import minimize

        theta = check_theta(theta, "mass_box: theta")
        tail = check_positive(tail, "mass_box: tail")
        gap = tail * theta
        d = self.dim
        n = _N_GRID[d]

        radii = []
        R = 1.0
        while R < _R_MAX:
            radii.append(R)
            R *= 2.0
        radii.append(_R_MAX)

        found = None
        last = None
        for R in radii:
            x = np.linspace(-R, R, n)
            G = np.stack(np.meshgrid(*([x] * d), indexing="ij"))
            w = self.W(G)
            w = np.where(w == np.inf, _BIG, w)
            bad = ~np.isfinite(w)
            last = (R, G, w, bad)
            if np.any(bad):
                continue
            idx = np.unravel_index(int(np.argmin(w)), w.shape)
            if any(i == 0 or i == n - 1 for i in idx):
                continue
            wmin = float(w[idx])
            bmin = min(float(np.min(np.take(w, j, axis=k))) for k in range(d) for j in (0, n - 1))
            if bmin - wmin <= gap:
                continue
            # refine the minimum
            v0 = G[(slice(None),) + idx].copy()
            vmin, Wmin = v0, wmin
            res = minimize(lambda z: float(self.W(z)), v0, jac=lambda z: self.grad(z),
                           method="L-BFGS-B", bounds=[(-R, R)] * d,
                           options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 500})
            if np.isfinite(res.fun) and res.fun < Wmin:
                vmin, Wmin = np.asarray(res.x, dtype=float), float(res.fun)
            if bmin - Wmin <= gap:
                continue  # the refined minimum is much deeper: look further out
            found = (R, x, G, w, vmin, Wmin)
            break
        if found is None:
            raise NonConfiningError(self._nonconfining_message(last, gap))

        R, x, G, w, vmin, Wmin = found
        h = x[1] - x[0]
        level = Wmin + gap
        mask = w <= level
        lower = np.empty(d)
        upper = np.empty(d)
        extremes = []
        for k in range(d):
            rows = np.nonzero(np.any(mask, axis=tuple(j for j in range(d) if j != k)))[0]
            extremes.append((x[rows[0]], x[rows[-1]]))
            lower[k] = x[rows[0]] - h
            upper[k] = x[rows[-1]] + h
        pad_lower, pad_upper = lower.copy(), upper.copy()
        for k in range(d):
            for side, x_in in ((-1, extremes[k][0]), (+1, extremes[k][1])):
                face = self._tighten(k, side, x_in, h, level, pad_lower, pad_upper, R)
                if face is not None:
                    if side < 0:
                        lower[k] = face
                    else:
                        upper[k] = face
        return MassBox(lower, upper, np.asarray(vmin, dtype=float), float(Wmin))

    def _slice_min(self, k, xk, lo, hi, R):
        """min over v_j (j != k) in the box [lo, hi] of W(v) with v_k = xk.

        Grid minimum on a slice (201 resp. 61 points per other axis), refined
        by a bounded scalar minimisation (d = 2) or L-BFGS-B (d = 3) around
        the grid minimum.  None if W is not finite on the slice.
        """
        from scipy.optimize import minimize, minimize_scalar

        d = self.dim
        other = [j for j in range(d) if j != k]
        n = _N_GRID[d]
        axes = [np.linspace(lo[j], hi[j], n) for j in other]
        mesh = np.meshgrid(*axes, indexing="ij")
        V = np.empty((d,) + mesh[0].shape)
        V[k] = xk
        for j, m in zip(other, mesh):
            V[j] = m
        w = self.W(V)
        w = np.where(w == np.inf, _BIG, w)
        if not np.all(np.isfinite(w)):
            return None
        i = np.unravel_index(int(np.argmin(w)), w.shape)
        best = float(w[i])
        z0 = np.array([V[j][i] for j in other])
        steps = np.array([ax[1] - ax[0] for ax in axes])

        def full(z):
            v = np.empty(d)
            v[k] = xk
            v[other] = z
            return v

        def f(z):
            y = float(self.W(full(np.atleast_1d(z))))
            return _BIG if y == np.inf else y

        if d == 2:
            res = minimize_scalar(f, bounds=(z0[0] - steps[0], z0[0] + steps[0]),
                                  method="bounded",
                                  options={"xatol": 1e-12 * max(1.0, abs(z0[0]))})
        else:
            res = minimize(f, z0, jac=lambda z: self.grad(full(z))[other], method="L-BFGS-B",
                           bounds=[(z - 2 * h_, z + 2 * h_) for z, h_ in zip(z0, steps)],
                           options={"ftol": 1e-14, "gtol": 1e-10, "maxiter": 100})
        if np.isfinite(res.fun) and res.fun < best:
            best = float(res.fun)
        return best

    def _tighten(self, k, side, x_in, h, level, lo, hi, R):
        """Tightened face of the box on axis ``k``, side ``side`` (None: keep padded).

        ``x_in`` is the extreme grid coordinate of the sublevel set.  The
        root of phi(x) = (slice minimum at v_k = x) - level is bracketed
        in [x_in, x_in + side*h] (moving outward while phi <= 0 at the
        outer end), located by Brent's method and pushed outward by twice
        the root tolerance; the result is accepted only if phi > 0 there
        (else the outer bracket end, where phi > 0, is returned).
        """
        from scipy.optimize import brentq

        class _Fail(Exception):
            pass

        def phi(xk):
            m = self._slice_min(k, xk, lo, hi, R)
            if m is None:
                raise _Fail
            return m - level

        try:
            if phi(x_in) > 0:  # inconsistent with the grid: keep the padded face
                return None
            x_out = x_in + side * h
            for _ in range(8):  # move outward while the set still reaches x_out
                if phi(x_out) > 0:
                    break
                x_in, x_out = x_out, x_out + side * h
            else:
                return None
            tol = 1e-11 * max(1.0, abs(x_in), abs(x_out))
            root = brentq(phi, min(x_in, x_out), max(x_in, x_out), xtol=tol, rtol=1e-14,
                          maxiter=200)
            face = root + side * 2 * tol
            if (face - x_out) * side < 0 and phi(face) > 0:
                return float(face)
            return float(x_out)
        except (_Fail, ValueError, RuntimeError):
            return None

    def _nonconfining_message(self, last, gap):
        R, G, w, bad = last
        d = self.dim
        if np.any(bad):
            i = np.unravel_index(int(np.argmax(bad)), bad.shape)
            p = G[(slice(None),) + i]
            return (f"{self.name}: potential is not confining: W is not finite (nan or -inf) "
                    f"at v = ({', '.join(f'{c:.6g}' for c in p)}) "
                    f"and {int(bad.sum()) - 1} other grid points of [-{R:g}, {R:g}]^{d}")
        n = w.shape[0]
        idx = np.unravel_index(int(np.argmin(w)), w.shape)
        wmin = float(w[idx])
        if any(i == 0 or i == n - 1 for i in idx):
            p = G[(slice(None),) + idx]
            return (f"{self.name}: potential is not confining: the minimum of W on "
                    f"[-{R:g}, {R:g}]^{d} is on the boundary at v = "
                    f"({', '.join(f'{c:.6g}' for c in p)}) (W = {wmin:.3g}); W is unbounded "
                    "below or does not grow in some direction, exp(-W/theta) is not integrable")
        bmin = min(float(np.min(np.take(w, j, axis=k))) for k in range(d) for j in (0, n - 1))
        return (f"{self.name}: potential is not confining: W grows too slowly in some "
                f"direction (min over the boundary of [-{R:g}, {R:g}]^{d} of W - Wmin = "
                f"{bmin - wmin:.3g} <= tail*theta = {gap:.3g})")


def _attach_nd(pot: "PotentialND", tree) -> "PotentialND":
    """Attach ``tree`` (in v1..vd), its exact gradient and Laplacian trees to ``pot``."""
    names = _VARS[pot.dim]
    s = simplify(tree)
    grads = tuple(s.diff(x) for x in names)
    lap = None
    for x, g in zip(names, grads):
        term = g.diff(x)
        lap = term if lap is None else add(lap, term)
    pot.tree, pot.grad_trees, pot.laplacian_tree = tree, grads, lap
    return pot


def _linear(coeffs, names):
    """sum_i coeffs[i]*names[i] as a tree (float coefficients, exact)."""
    out = None
    for c, x in zip(coeffs, names):
        c = float(c)
        if c == 0.0:
            continue
        t = mul(Const(c), Var(x))
        out = t if out is None else add(out, t)
    return out if out is not None else Const(0.0)


# ----------------------------------------------------------------------
# radial potential


def _even_extension(profile: Potential) -> Potential:
    """1D potential w(|x|) of a profile w used for r >= 0."""
    def W(x):
        return profile.W(np.abs(x))

    def dW(x):
        return np.sign(x) * profile.dW(np.abs(x))

    def d2W(x):
        return profile.d2W(np.abs(x))

    def W_mp(x):
        return profile.W_mp(abs(x))

    bps = {0.0}
    for b in profile.breakpoints:
        if b > 0:
            bps.update((b, -b))
    return Potential(W, dW, d2W, name=profile.name, symmetric=True, breakpoints=sorted(bps),
                     W_mp=W_mp)


class RadialPotential:
    r"""A radial potential :math:`W(v) = w(|v|)` in dimension ``dim`` (2 or 3).

    Parameters
    ----------
    profile : Potential
        The 1D profile :math:`w(r)`; only used for :math:`r \ge 0`.
    dim : int
        Velocity dimension, 2 or 3.
    name : str or None, optional
        Name (default derived from the profile name).
    theta : float or None, optional
        Attached temperature (default: ``profile.theta``).
    params : dict or None, optional
        Parameters (default: a copy of ``profile.params``).

    Notes
    -----
    Methods ``W``, ``dW``, ``d2W``, ``W_mp`` evaluate the profile
    :math:`w, w', w''` at :math:`r \ge 0`.  The potential is centrally
    symmetric (``symmetric = True``).
    """

    symmetric = True

    def __init__(self, profile: Potential, dim: int, *, name: Optional[str] = None,
                 theta: Optional[float] = None, params: Optional[dict] = None) -> None:
        if not isinstance(profile, Potential):
            raise TypeError(f"profile must be a potentials.Potential, got {type(profile).__name__}")
        self.profile = profile
        self.dim = check_dim(dim)
        self.name = str(name) if name is not None else f"radial (d={self.dim}): {profile.name}"
        if theta is None:
            theta = profile.theta
        self.theta = None if theta is None else check_theta(theta)
        self.params = dict(params) if params is not None else dict(profile.params)
        self.expr = profile.expr

    def W(self, r: ArrayLike) -> np.ndarray:
        """Profile :math:`w(r)`, :math:`r \\ge 0` (vectorised)."""
        return self.profile.W(r)

    def dW(self, r: ArrayLike) -> np.ndarray:
        """Radial derivative :math:`w'(r)`."""
        return self.profile.dW(r)

    def d2W(self, r: ArrayLike) -> np.ndarray:
        """Second radial derivative :math:`w''(r)`."""
        return self.profile.d2W(r)

    def W_mp(self, r: Any) -> mp.mpf:
        """:math:`w(r)` with mpmath at the current precision."""
        return self.profile.W_mp(r)

    def __repr__(self):
        return f"RadialPotential({self.name!r}, dim={self.dim})"

    def __reduce__(self):
        return reduce_recipe(self)

    def mass_interval(self, theta: float, tail: float = 45.0) -> MassInterval:
        r"""Radial interval :math:`[0, R]` carrying the mass.

        :math:`R` is the largest :math:`r \ge 0` with
        :math:`(w(r) - W_{\min})/\theta \le \text{tail}`, where
        :math:`W_{\min} = \min_{r \ge 0} w`.  Computed with
        :meth:`Potential.mass_interval` on the even extension
        :math:`w(|x|)` (same validation and :class:`NonConfiningError`
        checks, including :math:`|w'| \to \infty`).  Returns
        ``MassInterval(0.0, R, r_min, Wmin)`` with :math:`r_{\min} \ge 0`.

        The radial Maxwellian carries the Jacobian :math:`r^{d-1}`; this
        polynomial factor does not change the super-exponential cut-off,
        so the level set of :math:`w` alone is used.
        """
        mi = _even_extension(self.profile).mass_interval(theta, tail)
        R = max(abs(mi.a), abs(mi.b))
        return MassInterval(0.0, float(R), abs(float(mi.vmin)), float(mi.Wmin))

    def as_cartesian(self) -> PotentialND:
        r"""The same potential as a :class:`PotentialND` on :math:`\mathbb{R}^d`.

        :math:`\nabla W = w'(r)\,v/r` (0 at :math:`v = 0`),
        :math:`\Delta W = w''(r) + (d-1)\,w'(r)/r` (:math:`d\,w''(0)` at
        :math:`v = 0`; exact only if :math:`w'(0) = 0`).
        """
        prof, d = self.profile, self.dim

        def radius(V):
            return np.sqrt(np.sum(V * V, axis=0))

        def W(V):
            return prof.W(radius(V))

        def grad(V):
            r = radius(V)
            pos = r > 0
            q = np.where(pos, prof.dW(r) / np.where(pos, r, 1.0), 0.0)
            return V * q

        def lap(V):
            r = radius(V)
            pos = r > 0
            rs = np.where(pos, r, 1.0)
            away = prof.d2W(r) + (d - 1) * prof.dW(r) / rs
            return np.where(pos, away, d * prof.d2W(np.zeros_like(r)))

        def W_mp(v):
            return prof.W_mp(mp.sqrt(mp.fsum(x * x for x in v)))

        out = PotentialND(W, grad, lap, d, name=self.name, theta=self.theta,
                          params=dict(self.params, radial=True), expr=self.expr,
                          symmetric=True, W_mp=W_mp)
        if prof.tree is not None:
            names = _VARS[d]
            r2 = None
            for x in names:
                t = mul(Var(x), Var(x))
                r2 = t if r2 is None else add(r2, t)
            _attach_nd(out, substitute(prof.tree, {prof.var: func("sqrt", r2)}))
        return out


# ----------------------------------------------------------------------
# expressions

_VARS = {2: ("v1", "v2"), 3: ("v1", "v2", "v3")}


@reconstructible
def from_expression_nd(text: str, dim: int, *, name: Optional[str] = None,
                       theta: Optional[float] = None,
                       symmetric: Optional[bool] = None) -> PotentialND:
    r"""Build a :class:`PotentialND` from an expression in ``v1, v2`` (``, v3``).

    Same whitelist and safety as :func:`~potentials.from_expression`
    (``v3`` in dimension 2 is an unknown name).  The gradient and the
    Laplacian :math:`\sum_i \partial_i^2 W` are exact symbolic derivatives.
    The trees are attached as ``tree``, ``grad_trees`` (tuple) and
    ``laplacian_tree``; their string forms as ``expr`` (the input text),
    ``grad_expr`` (tuple of str) and ``laplacian_expr``.

    Raises
    ------
    ExpressionError
        For an invalid expression.
    ValueError
        If ``dim`` is not 2 or 3.
    """
    d = check_dim(dim)
    names = _VARS[d]
    tree = parse(text, names)
    s = simplify(tree)
    grads = tuple(s.diff(x) for x in names)
    lap = None
    for x, g in zip(names, grads):
        term = g.diff(x)
        lap = term if lap is None else add(lap, term)

    def make(node):
        def f(V):
            env = {x: V[i] for i, x in enumerate(names)}
            with np.errstate(all="ignore"):
                y = node.eval_np(env)
            return np.broadcast_to(np.asarray(y, dtype=np.float64), V.shape[1:]).copy()
        return f

    fW, fL = make(tree), make(lap)
    fG = [make(g) for g in grads]

    def grad(V):
        return np.stack([f(V) for f in fG])

    def W_mp(v):
        return tree.eval_mp({x: mp.mpf(c) for x, c in zip(names, v)})

    text = text.strip()
    pot = PotentialND(fW, grad, fL, d,
                      name=name if name is not None else f"W({', '.join(names)}) = {text}",
                      theta=theta, params={"vars": names}, expr=text,
                      symmetric=symmetric, W_mp=W_mp)
    pot.tree, pot.grad_trees, pot.laplacian_tree = tree, grads, lap
    return pot


@reconstructible
def radial_from_expression(text: str, dim: int, *, name: Optional[str] = None,
                           theta: Optional[float] = None) -> RadialPotential:
    r"""Radial potential :math:`W(v) = w(|v|)` with the profile given in ``r``.

    The profile is :func:`~potentials.from_expression` ``(text, var="r")``.
    """
    d = check_dim(dim)
    prof = from_expression(text, var="r", theta=theta, symmetric=False)
    return RadialPotential(prof, d, name=name if name is not None
                           else f"W(v) = w(|v|), w(r) = {prof.expr} (d={d})", theta=theta)



#: any potential that :func:`effcoef.coefficients` and the models accept
AnyPotential = Union[Potential, RadialPotential, PotentialND]

# ----------------------------------------------------------------------
# library


@reconstructible
def swarming(gamma: float, dim: int, rescaled: bool = False) -> RadialPotential:
    r"""Swarming potential of paper 004 (2.1): :math:`W(v) = |v|^4/(4\gamma) - |v|^2/2`.

    With ``rescaled=True`` (:math:`v = \sqrt\gamma\,\tilde v`):
    :math:`\tilde W = r^4/4 - r^2/2` and ``theta = 1/gamma``; otherwise
    ``theta`` is None (the model's own temperature is not fixed here).
    """
    g = check_gamma(gamma)
    d = check_dim(dim)
    if rescaled:
        def coeffs(num, sqrt):
            return (num(1) / 4, num(0), -num(1) / 2, num(0))
        theta, form = 1.0 / g, "r^4/4 - r^2/2"
    else:
        def coeffs(num, sqrt):
            return (num(1) / (4 * num(g)), num(0), -num(1) / 2, num(0))
        theta, form = None, "r^4/(4 gamma) - r^2/2"
    kind = "rescaled" if rescaled else "original"
    params = {"gamma": g, "rescaled": bool(rescaled)}
    name = f"swarming ({kind}, gamma={g:g}, d={d}): W = {form}"
    prof = quartic(coeffs, name=name, symmetric=True, params=params, theta=theta)
    return RadialPotential(prof, d, name=name, theta=theta, params=params)


@reconstructible
def ornstein_uhlenbeck_nd(dim: int) -> RadialPotential:
    r"""Radial Ornstein-Uhlenbeck potential :math:`W(v) = |v|^2/2`."""
    d = check_dim(dim)
    return RadialPotential(ornstein_uhlenbeck(), d,
                           name=f"Ornstein-Uhlenbeck (d={d}): W = |v|^2/2", params={})


def _as_nd(pot):
    if isinstance(pot, RadialPotential):
        return pot.as_cartesian()
    if not isinstance(pot, PotentialND):
        raise TypeError(f"expected a PotentialND or RadialPotential, got {type(pot).__name__}")
    return pot


@reconstructible
def separable(*pots1d: Potential) -> PotentialND:
    r"""Separable potential :math:`W(v) = \sum_i W_i(v_i)` of 1D potentials.

    ``d = len(pots1d)`` (2 or 3).  ``theta`` is the common ``theta`` of the
    components if they all carry the same one, else None; ``symmetric`` is
    detected numerically.
    """
    d = len(pots1d)
    if d not in (2, 3):
        raise ValueError(f"separable needs 2 or 3 one-dimensional potentials, got {d}")
    for p in pots1d:
        if not isinstance(p, Potential):
            raise TypeError(f"separable expects potentials.Potential, got {type(p).__name__}")
    pots = tuple(pots1d)

    def W(V):
        return sum(p.W(V[i]) for i, p in enumerate(pots))

    def grad(V):
        return np.stack([p.dW(V[i]) for i, p in enumerate(pots)])

    def lap(V):
        return sum(p.d2W(V[i]) for i, p in enumerate(pots))

    def W_mp(v):
        return mp.fsum(p.W_mp(x) for p, x in zip(pots, v))

    thetas = {p.theta for p in pots}
    theta = thetas.pop() if len(thetas) == 1 else None
    out = PotentialND(W, grad, lap, d, name="separable: " + " + ".join(
                          f"[{p.name}](v{i + 1})" for i, p in enumerate(pots)),
                      theta=theta, params={"components": [p.name for p in pots]},
                      W_mp=W_mp)
    if all(p.tree is not None for p in pots):
        tree = None
        for x, p in zip(_VARS[d], pots):
            t = substitute(p.tree, {p.var: Var(x)})
            tree = t if tree is None else add(tree, t)
        _attach_nd(out, tree)
    return out


@reconstructible
def rotated(pot: Union[Potential, PotentialND], R: ArrayLike) -> PotentialND:
    r"""Rotated potential :math:`W_R(v) = W(R^T v)` for an orthogonal matrix ``R``.

    :math:`\nabla W_R(v) = R\,\nabla W(R^T v)`, :math:`\Delta W_R(v) = \Delta W(R^T v)`.
    ``pot`` is a :class:`PotentialND` (a :class:`RadialPotential` is
    converted with :meth:`~RadialPotential.as_cartesian`).

    Raises
    ------
    ValueError
        If ``R`` is not a real ``d x d`` matrix with
        :math:`\|R^T R - I\|_\infty \le 10^{-10}`.
    """
    pot = _as_nd(pot)
    d = pot.dim
    R = np.array(R, dtype=np.float64)
    if R.shape != (d, d) or not np.all(np.isfinite(R)):
        raise ValueError(f"R must be a finite {d}x{d} matrix, got shape {R.shape}")
    if np.max(np.abs(R.T @ R - np.eye(d))) > 1e-10:
        raise ValueError("R must be orthogonal (R^T R = I within 1e-10)")
    Rt = R.T.copy()

    def back(V):
        return np.tensordot(Rt, V, axes=1)

    def W(V):
        return pot.W(back(V))

    def grad(V):
        return np.tensordot(R, pot.grad(back(V)), axes=1)

    def lap(V):
        return pot.laplacian(back(V))

    def W_mp(v):
        vv = [mp.fsum(mp.mpf(R[j, i]) * v[j] for j in range(d)) for i in range(d)]
        return pot.W_mp(vv)

    out = PotentialND(W, grad, lap, d, name=f"rotated [{pot.name}]", theta=pot.theta,
                      params=dict(pot.params, rotation=R.tolist()), W_mp=W_mp)
    if pot.tree is not None:
        names = _VARS[d]
        # (R^T v)_i = sum_j R[j, i] v_j, with the same float coefficients as the closure
        _attach_nd(out, substitute(pot.tree, {names[i]: _linear(Rt[i], names)
                                              for i in range(d)}))
    return out


@reconstructible
def tilted(pot: Union[Potential, PotentialND], force: ArrayLike) -> PotentialND:
    r"""Tilted potential :math:`W(v) - F\cdot v` (gradient :math:`\nabla W - F`, same Laplacian)."""
    pot = _as_nd(pot)
    d = pot.dim
    F = np.array(force, dtype=np.float64).reshape(-1)
    if F.shape != (d,) or not np.all(np.isfinite(F)):
        raise ValueError(f"force must be {d} finite numbers, got {force!r}")

    def W(V):
        return pot.W(V) - np.tensordot(F, V, axes=1)

    def grad(V):
        g = pot.grad(V)
        return g - F.reshape((d,) + (1,) * (g.ndim - 1))

    def lap(V):
        return pot.laplacian(V)

    def W_mp(v):
        return pot.W_mp(v) - mp.fsum(mp.mpf(f) * mp.mpf(x) for f, x in zip(F, v))

    out = PotentialND(W, grad, lap, d, name=f"tilted [{pot.name}] - F.v, F = {F.tolist()}",
                      theta=pot.theta, params=dict(pot.params, force=F.tolist()), W_mp=W_mp)
    if pot.tree is not None:
        _attach_nd(out, sub(pot.tree, _linear(F, _VARS[d])))
    return out


def axis_kinks(pot: "PotentialND") -> List[List[float]]:
    r"""Per axis i, the coordinates c of kink planes :math:`v_i = c` of an expression
    potential: the roots of the affine arguments of ``abs()`` nodes that depend on
    :math:`v_i` alone (e.g. ``abs(v1 - 0.5)`` gives 0.5 on axis 1).  A mesh with nodes there
    sees a smooth W in every element.  Empty lists without a tree or without such kinks."""
    d = int(pot.dim)
    out = [set() for _ in range(d)]
    tree = getattr(pot, "tree", None)
    if tree is None:
        return [[] for _ in range(d)]
    names = _VARS[d]
    for node in tree.nodes():
        if not (isinstance(node, Func) and node.name == "abs"):
            continue
        arg = node.arg
        dep = [v for v in names if arg.has_var(v)]
        if len(dep) != 1:
            continue
        v = dep[0]
        d1 = arg.diff(v)
        d2 = d1.diff(v)
        if not (isinstance(d1, Const) and isinstance(d2, Const) and d2.value == 0.0) \
                or d1.value == 0.0:
            continue
        b = float(np.asarray(arg.eval_np({v: np.float64(0.0)}), dtype=float))
        if math.isfinite(b):
            out[names.index(v)].add(-b / d1.value + 0.0)
    return [sorted(c) for c in out]


def _signed_terms(tree) -> list:
    """The top-level terms of an expression tree, ``[(factor text or None, node)]`` with
    tree = sum of factor * node: sums and differences split, constant factors and divisors
    moved out (``c*(u + w) = c*u + c*w``)."""
    terms = []
    stack = [(None, tree)]

    def scaled(f, g):
        return g if f is None else (f if g is None else f"({f})*({g})")

    while stack:
        f, n = stack.pop()
        if isinstance(n, Add):
            stack += [(f, n.a), (f, n.b)]
        elif isinstance(n, Sub):
            stack += [(f, n.a), (scaled(f, "-1"), n.b)]
        elif isinstance(n, Neg):
            stack.append((scaled(f, "-1"), n.a))
        elif isinstance(n, Mul) and not n.a.variables and n.b.variables:
            stack.append((scaled(f, str(n.a)), n.b))        # c*(u + w) = c*u + c*w
        elif isinstance(n, Mul) and not n.b.variables and n.a.variables:
            stack.append((scaled(f, str(n.b)), n.a))
        elif isinstance(n, Div) and not n.b.variables and n.a.variables:
            stack.append((scaled(f, f"1/({n.b})"), n.a))   # (u + w)/c
        else:
            terms.append((f, n))
    return terms


def separable_parts(pot: "PotentialND") -> Optional[list]:
    r"""The 1D parts of a separable expression potential, :math:`W(v) = \sum_i W_i(v_i)`.

    Read off the expression tree: its top-level sums and differences are split into terms;
    every term must depend on at most one variable (constants go to the first part).  Returns
    ``[W_1, ..., W_d]`` as 1D :class:`Potential` objects in the variables ``v1, ..., vd`` (from
    their expression text, so with trees and exact derivatives), or None if the tree is not of
    that form (or the potential has no tree).  A potential that is separable only in turned
    axes is not recognised.
    """
    tree = getattr(pot, "tree", None)
    if tree is None:
        return None
    names = tuple(f"v{i + 1}" for i in range(pot.dim))
    terms = _signed_terms(tree)
    groups = {x: [] for x in names}
    consts = []
    for f, n in terms:
        used = [x for x in names if n.has_var(x)]
        if len(used) > 1:
            return None
        (groups[used[0]] if used else consts).append((f, n))
    if any(not g for g in groups.values()):
        return None
    groups[names[0]] += consts
    parts = []
    for x in names:
        text = " + ".join(f"({n})" if f is None else f"({f})*({n})" for f, n in groups[x])
        parts.append(from_expression(text, var=x, name=f"{pot.name} [{x} part]"))
    return parts


def _factor_value(f) -> Optional[float]:
    """The number of a factor text of :func:`_signed_terms` (None: 1), or None if it is not
    a finite number."""
    if f is None:
        return 1.0
    try:
        value = float(parse(f, var="v").eval_np({"v": 0.0}))
    except Exception:
        return None
    return value if math.isfinite(value) else None


def _square_of(n) -> Optional[tuple]:
    """``(x, c)`` for a node :math:`(x - c)^2` (``x**2``, ``x*x``, ``(x - c)**2``,
    ``(x + c)**2``, ``(c - x)**2`` with a constant c), else None."""
    if isinstance(n, Mul) and isinstance(n.a, Var) and isinstance(n.b, Var) \
            and n.a.name == n.b.name:
        return n.a.name, 0.0
    if not (isinstance(n, Pow) and isinstance(n.b, Const) and n.b.value == 2.0):
        return None
    u = n.a
    if isinstance(u, Var):
        return u.name, 0.0
    if isinstance(u, (Add, Sub)):
        a, b = u.a, u.b
        if isinstance(a, Var) and not b.variables:
            c = float(b.eval_np({}))
            return a.name, (c if isinstance(u, Sub) else -c)
        if isinstance(b, Var) and not a.variables:
            c = float(a.eval_np({}))
            return b.name, (c if isinstance(u, Sub) else -c)
    return None


class RadialForm(NamedTuple):
    """A radial expression potential :math:`W(v) = w(|v - c|)`: the profile w as expression
    text in ``r`` and the centre c."""

    profile: str
    center: tuple


def radial_profile(pot: "PotentialND") -> Optional[RadialForm]:
    r"""The profile :math:`w(r)` and centre c of an expression potential that is radial about
    c, :math:`W(v) = w(|v - c|)`, or None.

    Read off the expression tree, exactly (no sampling): every occurrence of a variable must
    lie inside a subtree :math:`(v_1 - c_1)^2 + \dots + (v_d - c_d)^2` (the squared distance
    to c, its terms in any order and grouping, constants added), except top-level terms
    :math:`a\,(v_i - c_i)^2` that occur for every i with the same factor a; c is the same
    everywhere.  Then W depends on v through :math:`|v - c|^2` only and
    :math:`w(r) = W(c + r e_1)`.  Radial potentials written otherwise (an expanded
    polynomial, a turned frame) are not recognised: the general route takes them.
    """
    tree = getattr(pot, "tree", None)
    dim = int(getattr(pot, "dim", 0))
    if tree is None or dim not in (2, 3):
        return None
    names = [f"v{i + 1}" for i in range(dim)]
    centers = set()
    squares_of = {}                   # every node (x - c)**2 found -> x

    def norm2_center(n):
        if not isinstance(n, Add):
            return None
        found, leaves, stack = {}, {}, [n]
        while stack:
            m = stack.pop()
            if isinstance(m, Add):
                stack += [m.a, m.b]
            elif m.variables:                   # constants may be added: 1 + |v|^2
                sq = _square_of(m)
                if sq is None or sq[0] in found:
                    return None
                found[sq[0]], leaves[m] = sq[1], sq[0]
        if sorted(found) != names:
            return None
        squares_of.update(leaves)
        return tuple(found[x] for x in names)

    def covered(n):
        if not n.variables:
            return True
        c = norm2_center(n)
        if c is not None:
            centers.add(c)
            return True
        if isinstance(n, Var):
            return False
        return all(covered(k) for k in n.children())

    squares = {}                 # variable -> (sum of factors a, centre) of a * (x - c)**2 terms
    for f, n in _signed_terms(tree):
        if covered(n):
            continue
        sq = _square_of(n)
        if sq is None:
            return None
        a = _factor_value(f)
        if a is None:
            return None
        x, c = sq
        if x in squares and squares[x][1] != c:
            return None
        squares_of[n] = x
        squares[x] = (squares.get(x, (0.0, c))[0] + a, c)
    if squares:
        if sorted(squares) != names or len({a for a, _ in squares.values()}) != 1:
            return None
        centers.add(tuple(squares[x][1] for x in names))
    if len(centers) != 1:
        return None
    center = centers.pop()
    # on the ray v = c + r e1 every (v_i - c_i)^2 is r^2 (i = 1) or 0: replaced whole (not
    # v1 -> r + c1, which would print (r + c1 - c1) and round)
    r2 = Pow(Var("r"), Const(2.0))
    profile = str(simplify(substitute(tree, {}, {m: (r2 if x == "v1" else Const(0.0))
                                                 for m, x in squares_of.items()})))
    return RadialForm(profile, tuple(float(c) for c in center))


def _affine(n, names, memo) -> Optional[tuple]:
    """``(a, b)`` with n = a . v + b (a an array over ``names``) if the subtree n is affine in
    v (sums, differences, negations, products and quotients by constants), else None."""
    key = id(n)
    if key in memo:
        return memo[key]
    out = None
    if not n.variables:
        try:
            out = (np.zeros(len(names)), float(n.eval_np({})))
        except Exception:
            out = None
    elif isinstance(n, Var):
        a = np.zeros(len(names))
        a[names.index(n.name)] = 1.0
        out = (a, 0.0)
    elif isinstance(n, Neg):
        u = _affine(n.a, names, memo)
        out = None if u is None else (-u[0], -u[1])
    elif isinstance(n, (Add, Sub)):
        u, w = _affine(n.a, names, memo), _affine(n.b, names, memo)
        if u is not None and w is not None:
            s = 1.0 if isinstance(n, Add) else -1.0
            out = (u[0] + s * w[0], u[1] + s * w[1])
    elif isinstance(n, Mul) and not (n.a.variables and n.b.variables):
        c, u = (n.a, n.b) if not n.a.variables else (n.b, n.a)
        u = _affine(u, names, memo)
        if u is not None:
            k = float(c.eval_np({}))
            out = (k * u[0], k * u[1])
    elif isinstance(n, Div) and not n.b.variables:
        u = _affine(n.a, names, memo)
        if u is not None:
            k = float(n.b.eval_np({}))
            out = (u[0] / k, u[1] / k)
    memo[key] = out
    return out


def _quadratic(n, names, memo, amemo) -> Optional[tuple]:
    """``(A, b, c)`` with n = v.A v / 2 + b . v + c (A symmetric) if the subtree n is a
    polynomial of degree at most 2 in v, else None (``memo``, ``amemo``: results of this
    function and of :func:`_affine` by node)."""
    key = id(n)
    if key in memo:
        return memo[key]
    d = len(names)
    out = None
    aff = _affine(n, names, amemo)
    if aff is not None:
        out = (np.zeros((d, d)), aff[0], aff[1])
    elif isinstance(n, Neg):
        u = _quadratic(n.a, names, memo, amemo)
        out = None if u is None else (-u[0], -u[1], -u[2])
    elif isinstance(n, (Add, Sub)):
        u, w = _quadratic(n.a, names, memo, amemo), _quadratic(n.b, names, memo, amemo)
        if u is not None and w is not None:
            s = 1.0 if isinstance(n, Add) else -1.0
            out = (u[0] + s * w[0], u[1] + s * w[1], u[2] + s * w[2])
    elif isinstance(n, Mul):
        u, w = _quadratic(n.a, names, memo, amemo), _quadratic(n.b, names, memo, amemo)
        if u is not None and w is not None:
            if not (u[0].any() or u[1].any()):                 # constant * quadratic
                out = (u[2] * w[0], u[2] * w[1], u[2] * w[2])
            elif not (w[0].any() or w[1].any()):
                out = (w[2] * u[0], w[2] * u[1], w[2] * u[2])
            elif not (u[0].any() or w[0].any()):
                # (a.v + b)(e.v + f) = v.(a e^T + e a^T) v / 2 + (b e + f a).v + b f
                A = np.outer(u[1], w[1]) + np.outer(w[1], u[1])
                out = (A, u[2] * w[1] + w[2] * u[1], u[2] * w[2])
    elif isinstance(n, Div) and not n.b.variables:
        u = _quadratic(n.a, names, memo, amemo)
        if u is not None:
            k = float(n.b.eval_np({}))
            out = (u[0] / k, u[1] / k, u[2] / k)
    elif isinstance(n, Pow) and isinstance(n.b, Const) and n.b.value == 2.0:
        u = _affine(n.a, names, amemo)
        if u is not None:
            out = (2.0 * np.outer(u[0], u[0]), 2.0 * u[1] * u[0], u[1] ** 2)
    memo[key] = out
    return out


#: directions of the linear forms of a turned separable W: parallel if the component of
#: one orthogonal to the other is below this (relative: an angle; 1 - |cos| would allow
#: angles of sqrt(2e-9) = 4.5e-5), and the distinct directions must be orthogonal to this
#: (|q_j . q_k| <= it; the frame is then used as exact, 10 |Q^T Q - I| in the estimate)
_FRAME_TOL = 1e-9


def turned_separable_parts(pot: "PotentialND") -> Optional[tuple]:
    r"""``(Q, parts)`` for an expression potential that is separable in turned axes,
    :math:`W(v) = \sum_k W_k(q_k\cdot v)` with orthonormal :math:`q_k` (the columns of Q),
    or None.

    Read off the expression tree: every top-level term (as in :func:`separable_parts`) must
    depend on v only through affine subtrees :math:`a\cdot v + b` whose vectors a are all
    parallel (one direction per term); the distinct directions must be d and orthogonal
    (to ``_FRAME_TOL``; :func:`rotated` of a separable potential gives this form, with
    ``Q`` = R up to signs).  ``parts[k]`` is :math:`W_k(y_k)` (the terms of direction k at
    :math:`v = y_k q_k`, the affine terms :math:`a\cdot v + b` split as
    :math:`\sum_k (a\cdot q_k) y_k + b`, b in the first part) as a 1D :class:`Potential` in
    ``y1, ..., yd``.  An axis-aligned separable W gives Q = a signed permutation.  A
    polynomial W of degree 2 (products and squares of affine subtrees) with a positive
    definite Hessian A is separable in the eigenframe of A (:func:`_quadratic_parts`), whatever
    directions its terms have.
    """
    tree = getattr(pot, "tree", None)
    dim = int(getattr(pot, "dim", 0))
    if tree is None or dim not in (2, 3):
        return None
    names = [f"v{i + 1}" for i in range(dim)]
    memo = {}
    quad = _quadratic(tree, names, {}, memo)
    if quad is not None:                   # a quadratic W: the eigenframe of its Hessian
        return _quadratic_parts(quad, pot.name)

    def directions(n, out):
        # the maximal affine subtrees of n that hold variables: (node, a, b)
        if not n.variables:
            return True
        u = _affine(n, names, memo)
        if u is not None:
            out.append((n, u[0], u[1]))
            return True
        return all(directions(c, out) for c in n.children())

    dirs = []                       # unit vectors q_k (sign of the first occurrence)
    groups = []                     # terms (factor, node, affine subtrees) per direction
    lin, const = np.zeros(dim), 0.0 # affine terms (a tilt is separable in every frame)
    for f, n in _signed_terms(tree):
        u = _affine(n, names, memo)
        if u is not None:
            c = _factor_value(f)
            if c is None:
                return None
            lin, const = lin + c * u[0], const + c * u[1]
            continue
        occ = []
        if not directions(n, occ):
            return None
        q = occ[0][1] / np.linalg.norm(occ[0][1])
        for _, a, _ in occ:
            na = np.linalg.norm(a)
            if not na > 0 or np.linalg.norm(a - (a @ q) * q) > _FRAME_TOL * na:
                return None         # a term in two directions
        for k, qk in enumerate(dirs):
            if np.linalg.norm(q - (q @ qk) * qk) <= _FRAME_TOL:
                groups[k].append((f, n, occ))
                break
        else:
            dirs.append(q)
            groups.append([(f, n, occ)])
    if len(dirs) != dim:
        return None
    Q = np.array(dirs).T
    if np.max(np.abs(Q.T @ Q - np.eye(dim))) > _FRAME_TOL:
        return None
    parts = []
    for k in range(dim):
        y = f"y{k + 1}"
        terms = []
        for f, n, occ in groups[k]:
            # on the line v = y q_k each affine subtree a . v + b is (a . q_k) y + b
            line = {m: add(mul(Const(float(a @ Q[:, k])), Var(y)), Const(b)) for m, a, b in occ}
            t = str(simplify(substitute(n, {}, line)))
            terms.append(f"({t})" if f is None else f"({f})*({t})")
        slope = float(lin @ Q[:, k])
        if abs(slope) > 1e-14 * float(np.linalg.norm(lin)):    # not the rounding of a split
            terms.append(f"({slope!r})*{y}")
        if k == 0 and const != 0.0:
            terms.append(f"({const!r})")
        text = " + ".join(terms)
        parts.append(from_expression(text, var=y, name=f"{pot.name} [{y} = q{k + 1}.v part]"))
    return Q, parts


def _quadratic_parts(quad, name) -> Optional[tuple]:
    r"""``(Q, parts)`` of :math:`W = v\cdot Av/2 + b\cdot v + c` in the eigenframe of A
    (:math:`A = Q\Lambda Q^T`): parts :math:`\lambda_k y^2/2 + (Q^Tb)_k y` (+ c in the
    first); None unless A is positive definite (W confining)."""
    A, b, c = quad
    lam, Q = np.linalg.eigh(0.5 * (A + A.T))
    if not lam.min() > 1e-12 * max(lam.max(), 0.0):
        return None
    bt = Q.T @ b
    parts = []
    for k in range(len(lam)):
        y = f"y{k + 1}"
        text = f"({float(lam[k]) / 2!r})*{y}**2 + ({float(bt[k])!r})*{y}"
        if k == 0 and c != 0.0:
            text += f" + ({float(c)!r})"
        parts.append(from_expression(text, var=y, name=f"{name} [{y} = q{k + 1}.v part]"))
    return Q, parts


#: functions f with f(-u) = f(u) / f(-u) = -f(u)
_EVEN_FUNCS = ("abs", "cosh")
_ODD_FUNCS = ("sin", "tanh", "sinh")


def _parity(n, var, memo) -> Optional[int]:
    """+1 if the subtree n is even in ``var`` (unchanged by var -> -var), -1 if odd, None if
    neither can be shown (structurally: exact when it answers)."""
    key = id(n)
    if key in memo:
        return memo[key]
    if var not in n.variables:
        out = 1
    elif isinstance(n, Var):
        out = -1
    elif isinstance(n, Neg):
        out = _parity(n.a, var, memo)
    elif isinstance(n, (Add, Sub)):
        pa, pb = _parity(n.a, var, memo), _parity(n.b, var, memo)
        out = pa if pa is not None and pa == pb else None
    elif isinstance(n, (Mul, Div)):
        pa, pb = _parity(n.a, var, memo), _parity(n.b, var, memo)
        out = None if pa is None or pb is None else pa * pb
    elif isinstance(n, Pow):
        pa = _parity(n.a, var, memo)
        if var in n.b.variables or pa is None:
            out = None
        elif pa == 1:
            out = 1
        elif isinstance(n.b, Const) and float(n.b.value).is_integer():
            out = 1 if int(n.b.value) % 2 == 0 else -1
        else:
            out = None
    elif isinstance(n, Func):
        pa = _parity(n.arg, var, memo)
        if pa == 1:
            out = 1                              # any function of an even argument
        elif pa == -1 and n.name in _EVEN_FUNCS:
            out = 1
        elif pa == -1 and n.name in _ODD_FUNCS:
            out = -1
        else:
            out = None
    else:
        out = None
    memo[key] = out
    return out


def even_axes(pot: "PotentialND") -> list:
    r"""The axes k in which an expression potential is even, :math:`W(\dots, -v_k, \dots) =
    W(v)`, read off its tree exactly (parities of sums, products, powers and of even/odd
    functions; a subtree whose parity cannot be shown makes the answer "not even")."""
    tree = getattr(pot, "tree", None)
    if tree is None:
        return []
    return [k for k in range(int(pot.dim)) if _parity(tree, f"v{k + 1}", {}) == 1]
