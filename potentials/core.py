r"""The :class:`Potential` class.

A potential :math:`W` defines the Fokker-Planck operator

.. math::

    Q(f) = \frac{d}{dv}\bigl(W'(v) f + \theta f'\bigr),

whose kernel is spanned by the Maxwellian
:math:`M(v) = e^{-W(v)/\theta} / Z`, :math:`Z = \int e^{-W/\theta}\,dv`.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, Optional, Sequence

import mpmath as mp
import numpy as np
from numpy.typing import ArrayLike

from .errors import NonConfiningError
from .validation import check_positive, check_theta

__all__ = ["Potential", "MassInterval", "affine", "shifted", "reconstructible"]

#: search radii R = 1, 2, 4, ... are tried while R <= _R_MAX
_R_MAX = 1.0e6
#: number of grid points used to sample W on [-R, R]
_N_GRID = 4001
#: largest finite value used in place of W = +inf when bracketing roots
_BIG = 1.0e300


def reconstructible(func: Callable) -> Callable:
    """Decorator of the public constructors: the object they return remembers the call
    (``_recipe``), so that it pickles as that call (closures do not pickle) and a result that
    holds it (its eigenfunctions) pickles too."""
    import functools

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        obj = func(*args, **kwargs)
        try:
            obj._recipe = (wrapper, args, kwargs)
        except AttributeError:       # pragma: no cover - objects without a __dict__
            pass
        return obj

    return wrapper


def rebuild(func: Callable, args: tuple, kwargs: dict) -> Any:
    """Unpickling helper: call the recorded constructor again."""
    return func(*args, **kwargs)


def reduce_recipe(obj: Any) -> tuple:
    """``__reduce__`` for potentials: the recorded constructor call, or a clear error."""
    recipe = getattr(obj, "_recipe", None)
    if recipe is None:
        raise TypeError(f"{obj!r} was built from Python callables and cannot be pickled; build "
                        "it with potentials.from_expression (or a library constructor)")
    return rebuild, recipe


class MassInterval(NamedTuple):
    r"""Result of :meth:`Potential.mass_interval`.

    Attributes
    ----------
    a, b : float
        Convex hull ``[a, b]`` of the sublevel set
        :math:`\{v : (W(v) - W_{\min})/\theta \le \text{tail}\}`.
    vmin : float
        Location of the global minimum of :math:`W`.
    Wmin : float
        Global minimum :math:`W_{\min} = W(v_{\min})`.
    """

    a: float
    b: float
    vmin: float
    Wmin: float


def _symmetry_points() -> np.ndarray:
    """About 50 non-round points spread over [-20, 20] (positive half)."""
    k = np.arange(1, 51, dtype=float)
    # irrational-ish offsets so that no point is an integer or a simple fraction
    pts = 20.0 * (k - 0.5 * math.sqrt(2.0) + 0.1 * math.pi) / 50.0
    return pts[(pts > 0) & (pts <= 20.0)]


def _wrap(fun: Callable) -> Callable:
    """Wrap ``fun`` to take and return float64 of the same shape."""

    def wrapped(v):
        x = np.asarray(v, dtype=np.float64)
        with np.errstate(all="ignore"):
            y = fun(x)
        y = np.asarray(y, dtype=np.float64)
        if y.shape != x.shape:
            y = np.broadcast_to(y, x.shape).copy()
        if x.ndim == 0:
            return np.float64(y)
        return y

    wrapped.__doc__ = getattr(fun, "__doc__", None)
    return wrapped


class Potential:
    r"""A confining potential :math:`W(v)` and its first two derivatives.

    Parameters
    ----------
    W, dW, d2W : callable
        Vectorised functions :math:`W`, :math:`W'`, :math:`W''` (float64
        arrays in, arrays of the same shape out).  At kinks (for example
        of :math:`|v|`) ``d2W`` returns the almost-everywhere value.
    name : str
        Descriptive name.
    symmetric : bool or None, optional
        Whether :math:`W(-v) = W(v)`.  If None it is detected numerically
        at ~50 points of :math:`[-20, 20]` with
        :math:`|W(v) - W(-v)| \le 10^{-12}(1 + |W(v)|)`.
    breakpoints : sequence of float, optional
        Points where :math:`W` is not :math:`C^\infty` (stored sorted).
    theta : float or None, optional
        Temperature :math:`\theta` attached by a family (e.g. the paper
        rescaling :math:`\theta = 1/\gamma`), None otherwise.
    params : dict or None, optional
        Parameters of the potential (copied).
    W_mp : callable or None, optional
        Evaluates :math:`W` at an ``mpmath.mpf`` at the current mpmath
        precision.  If None, a fallback evaluating ``W`` in float64 is used
        (only double precision accuracy).
    expr : str or None, optional
        Expression text if the potential was built from one.

    Attributes
    ----------
    tree, dtree, d2tree : potentials.expression.Node or None
        Expression trees (DAGs) of :math:`W, W', W''` in the variable
        ``var``, set by :func:`~potentials.from_expression` and the library
        constructors; None for a potential given by plain Python callables.
        The certified machinery (:mod:`potentials.intervals`) needs them;
        callers fall back to heuristics when ``tree`` is None.
    var : str
        Name of the variable of the trees (default ``"v"``).
    """

    tree = None
    dtree = None
    d2tree = None
    var = "v"

    def __init__(self, W: Callable, dW: Callable, d2W: Callable, *, name: str,
                 symmetric: Optional[bool] = None, breakpoints: Sequence[float] = (),
                 theta: Optional[float] = None, params: Optional[dict] = None,
                 W_mp: Optional[Callable] = None, expr: Optional[str] = None) -> None:
        self._W = _wrap(W)
        self._dW = _wrap(dW)
        self._d2W = _wrap(d2W)
        self._W_mp = W_mp
        self.name = str(name)
        self.expr = None if expr is None else str(expr)
        self.theta = None if theta is None else check_theta(theta)
        self.params = dict(params) if params is not None else {}
        bps = sorted({float(b) for b in breakpoints})
        if any(not math.isfinite(b) for b in bps):
            raise ValueError(f"breakpoints must be finite, got {bps!r}")
        self.breakpoints = tuple(bps)
        if symmetric is None:
            symmetric = self._detect_symmetry()
        self.symmetric = bool(symmetric)

    # ------------------------------------------------------------------
    # evaluation
    def W(self, v: ArrayLike) -> np.ndarray:
        """Potential :math:`W(v)` (vectorised, float64)."""
        return self._W(v)

    def dW(self, v: ArrayLike) -> np.ndarray:
        """First derivative :math:`W'(v)` (vectorised, float64)."""
        return self._dW(v)

    def d2W(self, v: ArrayLike) -> np.ndarray:
        """Second derivative :math:`W''(v)` (a.e. value at kinks)."""
        return self._d2W(v)

    @property
    def has_mp(self) -> bool:
        """True if :meth:`W_mp` evaluates W at the working precision (an expression or a
        library potential), False if it only converts the double value."""
        return self._W_mp is not None

    def W_mp(self, v: Any) -> mp.mpf:
        """Evaluate :math:`W` at ``v`` with mpmath at the current precision."""
        v = mp.mpf(v)
        if self._W_mp is None:
            return mp.mpf(float(self._W(float(v))))
        return mp.mpf(self._W_mp(v))

    def __repr__(self):
        return f"Potential({self.name!r})"

    def __reduce__(self):
        return reduce_recipe(self)

    # ------------------------------------------------------------------
    def _detect_symmetry(self) -> bool:
        x = _symmetry_points()
        wp = self._W(x)
        wm = self._W(-x)
        ok = np.isfinite(wp) & np.isfinite(wm)
        if not np.any(ok):
            return False
        diff = np.abs(wp[ok] - wm[ok])
        return bool(np.all(diff <= 1e-12 * (1.0 + np.abs(wp[ok]))))

    # ------------------------------------------------------------------
    def mass_interval(self, theta: float, tail: float = 45.0) -> MassInterval:
        r"""Interval carrying the mass of the Maxwellian :math:`e^{-W/\theta}`.

        Returns the convex hull :math:`[a, b]` of the sublevel set

        .. math::

            \{v : (W(v) - W_{\min})/\theta \le \text{tail}\},

        outside of which :math:`M(v)/M(v_{\min}) \le e^{-\text{tail}}`.

        Parameters
        ----------
        theta : float
            Temperature, finite and > 0.
        tail : float, optional
            Level in units of :math:`\theta` (default 45, i.e. the
            Maxwellian has decayed by :math:`e^{-45} \approx 3\cdot10^{-20}`).

        Returns
        -------
        MassInterval
            ``(a, b, vmin, Wmin)``.

        Raises
        ------
        ValueError
            If ``theta`` or ``tail`` is not finite and > 0.
        NonConfiningError
            If no radius :math:`R \le 10^6` encloses the sublevel set
            (:math:`W \to -\infty` or :math:`W` grows too slowly on one
            side), or if :math:`|W'|` is not increasing without bound at
            :math:`2^k b` and :math:`2^k a`, :math:`k = 1..6`.

        Notes
        -----
        For radii :math:`R = 1, 2, 4, \dots` :math:`W` is sampled on 4001
        points of :math:`[-R, R]` plus the breakpoints.  The minimum is
        refined by a bounded scalar minimisation, and the extreme crossings
        of the level :math:`W_{\min} + \text{tail}\,\theta` by Brent's method.
        """
        from scipy.optimize import minimize_scalar  # lazy: keeps `import potentials` cheap

        theta = check_theta(theta, "mass_interval: theta")
        tail = check_positive(tail, "mass_interval: tail")
        level_gap = tail * theta

        R = 1.0
        found = None
        last = None
        while R <= _R_MAX:
            v = np.linspace(-R, R, _N_GRID)
            bps = [b for b in self.breakpoints if -R < b < R]
            if bps:
                v = np.unique(np.concatenate([v, bps]))
            w = self._W(v)
            last = (R, v, w)
            w_cmp = np.where(w == np.inf, _BIG, w)
            if not np.all(np.isfinite(w_cmp)):
                R *= 2.0
                continue
            i = int(np.argmin(w_cmp))
            if i == 0 or i == len(v) - 1:
                R *= 2.0
                continue
            wmin = w_cmp[i]
            if w_cmp[0] - wmin < level_gap or w_cmp[-1] - wmin < level_gap:
                R *= 2.0
                continue
            found = (v, w_cmp, i)
            break
        if found is None:
            raise NonConfiningError(self._nonconfining_message(last, level_gap))

        v, w, i = found
        vmin, Wmin = float(v[i]), float(w[i])

        def Wc(x):
            y = float(self._W(x))
            return _BIG if (y == np.inf) else y

        res = minimize_scalar(Wc, bounds=(v[i - 1], v[i + 1]), method="bounded",
                              options={"xatol": 1e-12 * max(1.0, abs(vmin))})
        if res.success and math.isfinite(res.fun) and res.fun < Wmin:
            vmin, Wmin = float(res.x), float(res.fun)

        level = Wmin + level_gap

        def g(x):
            return Wc(x) - level

        gv = w - level
        below = np.nonzero(gv <= 0)[0]
        if len(below) == 0:
            # the refined minimum lies far below every grid value: W is
            # (numerically) unbounded below near vmin
            raise NonConfiningError(
                f"{self.name}: potential is not confining: W appears unbounded below near "
                f"v = {vmin:.6g} (W = {Wmin:.3g}), exp(-W/theta) is not integrable")
        il, ir = below[0], below[-1]
        a = self._crossing(g, v, gv, il - 1, il)
        b = self._crossing(g, v, gv, ir + 1, ir)
        self._check_schroedinger(a, b)
        return MassInterval(float(a), float(b), vmin, Wmin)

    @staticmethod
    def _crossing(g, v, gv, i_out, i_in):
        """Root of ``g`` between grid point ``i_out`` (g > 0) and ``i_in`` (g <= 0)."""
        from scipy.optimize import brentq

        if gv[i_in] == 0.0:
            return float(v[i_in])
        lo, hi = sorted((v[i_out], v[i_in]))
        return float(brentq(g, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps,
                            maxiter=500))

    def _nonconfining_message(self, last, level_gap):
        R, v, w = last
        parts = []
        finite = np.isfinite(w) | (w == np.inf)
        if not np.all(finite):
            bad = v[~finite]
            parts.append(f"W is not finite (nan or -inf) at v = {bad[0]:.6g}"
                         + (f" and {len(bad) - 1} other points" if len(bad) > 1 else ""))
        wc = np.where(np.isfinite(w), w, np.where(w == np.inf, _BIG, np.nan))
        inner = np.nanmin(wc) if np.any(np.isfinite(wc)) else np.nan
        n = len(v)
        for j, jh, sym in ((0, n // 4, "-inf"), (n - 1, 3 * n // 4, "+inf")):
            wend, whalf = wc[j], wc[jh]
            if not np.isfinite(wend):
                continue
            if wend <= inner or wend < whalf:
                parts.append(f"W -> -inf (or decreases) as v -> {sym}: exp(-W/theta) is not integrable")
            elif wend - inner < level_gap:
                parts.append(f"W grows too slowly as v -> {sym} (W({sym[0]}{R:g}) - Wmin = "
                             f"{wend - inner:.3g} < tail*theta = {level_gap:.3g})")
        if not parts:
            parts.append("no search radius R <= 1e6 encloses the sublevel set")
        return f"{self.name}: potential is not confining: " + "; ".join(parts)

    def _check_schroedinger(self, a, b):
        r"""Check that :math:`|W'|` increases without bound on both sides."""
        k = 2.0 ** np.arange(1, 7)
        for side, pts, sgn in (("+inf", max(abs(b), 1.0) * k, 1.0),
                               ("-inf", -max(abs(a), 1.0) * k, -1.0)):
            d = np.asarray(self._dW(pts), dtype=float)
            where = f"as v -> {side}"
            if np.any(np.isnan(d)):
                raise NonConfiningError(f"{self.name}: W'(v) is nan at large |v| {where}; "
                                        "cannot verify that the potential is confining")
            if np.any(np.sign(d) != sgn):
                raise NonConfiningError(
                    f"{self.name}: W'(v) does not have the sign of v {where} "
                    f"(W' = {d[np.sign(d) != sgn][0]:.3g}); the potential is not confining")
            m = np.abs(d)
            if np.isinf(m[-1]):
                m = m[: int(np.argmax(np.isinf(m)))]
            inc = np.diff(m)
            if len(inc) and not np.all(inc > 0):
                raise NonConfiningError(
                    f"{self.name}: |W'(v)| is not increasing {where}; W'(v)^2 does not tend to "
                    "infinity (e.g. linear growth of W), the Schrödinger potential is not confining")
            if len(inc) >= 2 and inc[-1] < 0.25 * inc[0]:
                raise NonConfiningError(
                    f"{self.name}: |W'(v)| seems bounded {where} (its increments decay "
                    "geometrically); W'(v)^2 does not tend to infinity, the Schrödinger "
                    "potential is not confining")


@reconstructible
def affine(potential: Potential, center: float, scale: float,
           energy: float = 1.0) -> Potential:
    r"""The potential in the variable :math:`u = (v - c)/s`, in units of ``energy`` e:
    :math:`\tilde W(u) = W(c + s u)/e`.

    :math:`\tilde W' = s W'(c + su)/e`, :math:`\tilde W'' = s^2 W''(c + su)/e`; breakpoints
    are mapped, the symmetry is kept when ``center`` is 0.  Used by the solver to work at
    O(1) scales when the interval that carries the mass is astronomically small or large or
    theta is extreme (with :math:`\tilde\theta = \theta/e` the coefficients scale back
    exactly: :math:`D = s^4\tilde D/e`, :math:`K = s^2\tilde K/e`,
    :math:`\mathcal V = c + s\tilde{\mathcal V}`, :math:`\lambda = e\tilde\lambda/s^2`).
    """
    c, s, en = float(center), float(scale), float(energy)
    if not (math.isfinite(c) and math.isfinite(s) and s > 0 and math.isfinite(en) and en > 0):
        raise ValueError(f"affine: center must be finite, scale and energy > 0, got "
                         f"{c!r}, {s!r}, {en!r}")
    p = potential

    def W(u):
        return p.W(c + s * u) / en

    def dW(u):
        return (s / en) * p.dW(c + s * u)

    def d2W(u):
        return (s * s / en) * p.d2W(c + s * u)

    def W_mp(u):
        return p.W_mp(mp.mpf(c) + mp.mpf(s) * u) / mp.mpf(en)

    return Potential(W, dW, d2W, name=f"{p.name} (u = (v - {c:.6g})/{s:.6g})",
                     symmetric=bool(p.symmetric and c == 0.0),
                     breakpoints=tuple((x - c) / s for x in p.breakpoints), theta=p.theta,
                     params=dict(p.params, affine=(c, s)), W_mp=W_mp)


def shifted(potential: Potential, v0: float, *, dps: int = 40) -> Potential:
    r""":math:`\tilde W(v) = W(v) - W(v_0)` with the difference taken in mpmath at ``dps``
    digits and rounded once to double.

    Where :math:`|W|` is huge next to :math:`\theta` (family C at delta = 1e8:
    :math:`W \approx -4\cdot 10^{10}` at the well), the double value of W carries an absolute
    error :math:`\sim\epsilon|W|` that becomes a relative error :math:`\epsilon|W|/\theta`
    of the weights :math:`e^{-W/\theta}`; the shifted W is exact to
    :math:`\epsilon|W - W(v_0)|` instead.  W', W'' are unchanged (their rounding is relative
    to their own size).  Needs a potential whose :meth:`Potential.W_mp` is exact
    (:attr:`Potential.has_mp`); each evaluation costs ~50 us, so the solver uses it only when
    the rounding would limit rtol.
    """
    p = potential
    if not p.has_mp:
        raise ValueError(f"{p.name}: shifted() needs W_mp (an expression or library potential)")
    x0 = float(v0)
    with mp.workdps(dps):
        w0 = p.W_mp(mp.mpf(x0))

    def W(v):
        arr = np.asarray(v, dtype=float)
        out = np.empty(arr.shape)
        with mp.workdps(dps):
            for i, x in np.ndenumerate(arr):
                if not math.isfinite(x):
                    out[i] = float(p.W(np.array([x]))[0]) - float(w0)
                    continue
                try:
                    out[i] = float(p.W_mp(mp.mpf(x)) - w0)
                except (ValueError, ZeroDivisionError, OverflowError):
                    out[i] = math.nan
        return out if arr.ndim else float(out)

    def W_mp(v):
        return p.W_mp(v) - w0

    return Potential(W, p.dW, p.d2W, name=p.name, symmetric=p.symmetric,
                     breakpoints=p.breakpoints, theta=p.theta,
                     params=dict(p.params, shifted=x0), W_mp=W_mp)
