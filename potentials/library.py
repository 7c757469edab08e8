r"""Library of analytic potentials.

Paper 004 family (eq. 4.2)
--------------------------
.. math::

    W(v) = \frac{v^4}{4\gamma} - \frac{\sigma}{3}|v|^3
           - \frac{1-\sigma}{2} v^2 - \delta v,
    \qquad \gamma > 0,\ \delta \ge 0,\ \sigma \in \{0, 1\},

with :math:`\theta = 1` in the original variables.  With
:math:`v = \sqrt{\gamma}\,\tilde v` and :math:`\tilde\theta = 1/\gamma` the
rescaled potential is :math:`\tilde W(\tilde v) = W(\sqrt\gamma\,\tilde v)/\gamma`,

.. math::

    \tilde W(v) = \frac{v^4}{4} - \frac{\sigma\sqrt\gamma}{3}|v|^3
                  - \frac{1-\sigma}{2} v^2 - \frac{\delta}{\sqrt\gamma} v .

Case A: :math:`\sigma = 0, \delta = 0`; case B: :math:`\sigma = 1,
\delta = 0`; case C: :math:`\sigma = 0, \delta \ge 0`.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import mpmath as mp
import numpy as np

from .core import Potential, reconstructible
from .expression import Const, Var, add, div, func, mul, pow_, simplify, sub
from .validation import check_delta, check_gamma, check_real

__all__ = [
    "case_a", "case_b", "case_c", "paper_family", "ornstein_uhlenbeck",
    "power_law", "fitzhugh_nagumo", "double_well", "quartic", "attach_trees",
]


def _fmt(x):
    return f"{x:g}"


def quartic(coeffs: Callable, *, name: str, symmetric: bool, params: dict,
            theta: Optional[float] = None, expr: Optional[str] = None) -> Potential:
    r"""Potential :math:`c_4 v^4 + c_3 |v|^3 + c_2 v^2 + c_1 v`.

    ``coeffs(num, sqrt)`` returns ``(c4, c3, c2, c1)`` computed with the
    number constructor ``num`` and square root ``sqrt`` (float/math or
    mpmath), so that ``W_mp`` uses coefficients at the current precision.
    The building block of the paper family, of the Ornstein-Uhlenbeck and
    double-well potentials and of the radial swarming profile
    (:func:`potentials.swarming`).
    """
    c4, c3, c2, c1 = (float(c) for c in coeffs(float, math.sqrt))

    # Horner-like products instead of ** (numpy's pow is ~10x slower than a multiply;
    # W is evaluated on every grid and quadrature point)
    def W(v):
        v2 = v * v
        return (c4 * v2 + c3 * np.abs(v) + c2) * v2 + c1 * v if c3 else \
            (c4 * v2 + c2) * v2 + c1 * v

    def dW(v):
        return (4.0 * c4 * v * v + 3.0 * c3 * np.abs(v) + 2.0 * c2) * v + c1

    def d2W(v):
        return 12.0 * c4 * v * v + 6.0 * c3 * np.abs(v) + 2.0 * c2

    def W_mp(v):
        m4, m3, m2, m1 = coeffs(mp.mpf, mp.sqrt)
        return m4 * v**4 + m3 * abs(v) ** 3 + m2 * v**2 + m1 * v

    pot = Potential(W, dW, d2W, name=name, symmetric=symmetric,
                    breakpoints=(0.0,) if c3 != 0.0 else (), theta=theta,
                    params=params, W_mp=W_mp, expr=expr)
    v = Var("v")
    terms = [(c4, pow_(v, Const(4.0))), (c3, pow_(func("abs", v), Const(3.0))),
             (c2, pow_(v, Const(2.0))), (c1, v)]
    tree = None
    for c, t in terms:
        if c != 0.0:
            term = mul(Const(c), t)
            tree = term if tree is None else add(tree, term)
    return attach_trees(pot, tree if tree is not None else Const(0.0))


def attach_trees(pot: Potential, tree, var="v") -> Potential:
    r"""Attach the expression tree of :math:`W` and its exact derivatives to ``pot``.

    Library potentials are evaluated by fast numpy closures; the trees are an
    equivalent expression (constants are the closures' float64 coefficients,
    printed with ``repr`` so that they round-trip exactly) used by the
    certified interval machinery (:mod:`potentials.intervals`,
    :mod:`potentials.bnb`).  Returns ``pot``.
    """
    d1 = simplify(tree).diff(var)
    pot.tree, pot.dtree, pot.d2tree, pot.var = tree, d1, d1.diff(var), var
    return pot


def _paper(case, sigma, gamma, delta, rescaled):
    g = gamma
    params = {"case": case, "gamma": g, "delta": delta, "sigma": sigma,
              "rescaled": bool(rescaled)}
    if rescaled:
        def coeffs(num, sqrt):
            sg = sqrt(num(g))
            return (num(1) / 4, -num(sigma) * sg / 3, -num(1 - sigma) / 2,
                    -num(delta) / sg)
        theta = 1.0 / g
        form = ("v^4/4"
                + (" - sqrt(gamma)|v|^3/3" if sigma else " - v^2/2")
                + (" - (delta/sqrt(gamma)) v" if delta else ""))
    else:
        def coeffs(num, sqrt):
            return (num(1) / (4 * num(g)), -num(sigma) / 3, -num(1 - sigma) / 2,
                    -num(delta))
        theta = 1.0
        form = ("v^4/(4 gamma)"
                + (" - |v|^3/3" if sigma else " - v^2/2")
                + (" - delta v" if delta else ""))
    pars = f"gamma={_fmt(g)}" + (f", delta={_fmt(delta)}" if case == "C" else "")
    kind = "rescaled" if rescaled else "original"
    name = f"paper004 case {case} ({kind}, {pars}): W = {form}"
    return quartic(coeffs, name=name, symmetric=(delta == 0.0), params=params,
                    theta=theta)


@reconstructible
def case_a(gamma: float, rescaled: bool = True) -> Potential:
    r"""Paper 004 case A: :math:`\sigma = 0`, :math:`\delta = 0`.

    Rescaled: :math:`\tilde W(v) = v^4/4 - v^2/2`, ``theta = 1/gamma``.
    Original: :math:`W(v) = v^4/(4\gamma) - v^2/2`, ``theta = 1``.

    Parameters
    ----------
    gamma : float
        :math:`\gamma > 0`.
    rescaled : bool, optional
        Return the rescaled (default) or the original form.
    """
    return _paper("A", 0, check_gamma(gamma), 0.0, rescaled)


@reconstructible
def case_b(gamma: float, rescaled: bool = True) -> Potential:
    r"""Paper 004 case B: :math:`\sigma = 1`, :math:`\delta = 0`.

    Rescaled: :math:`\tilde W(v) = v^4/4 - \sqrt\gamma\,|v|^3/3`,
    ``theta = 1/gamma``.  Original: :math:`W(v) = v^4/(4\gamma) - |v|^3/3`,
    ``theta = 1``.  ``breakpoints = (0.0,)``.
    """
    return _paper("B", 1, check_gamma(gamma), 0.0, rescaled)


@reconstructible
def case_c(gamma: float, delta: float, rescaled: bool = True) -> Potential:
    r"""Paper 004 case C: :math:`\sigma = 0`, tilt :math:`\delta \ge 0`.

    Rescaled: :math:`\tilde W(v) = v^4/4 - v^2/2 - (\delta/\sqrt\gamma) v`,
    ``theta = 1/gamma``.  Original:
    :math:`W(v) = v^4/(4\gamma) - v^2/2 - \delta v`, ``theta = 1``.
    Symmetric only if :math:`\delta = 0`.
    """
    return _paper("C", 0, check_gamma(gamma), check_delta(delta), rescaled)


@reconstructible
def paper_family(case: str, gamma: float, delta: float = 0.0, rescaled: bool = True) -> Potential:
    r"""Dispatch to :func:`case_a`, :func:`case_b`, :func:`case_c`.

    Parameters
    ----------
    case : {"A", "B", "C"}
        Case letter (case-insensitive).
    gamma : float
        :math:`\gamma > 0`.
    delta : float, optional
        Tilt :math:`\delta \ge 0`; only allowed (nonzero) for case C.
    rescaled : bool, optional
        Rescaled (default) or original variables.

    Raises
    ------
    ValueError
        Unknown case, invalid parameter, or nonzero ``delta`` for A/B.
    """
    c = str(case).strip().upper()
    if c not in ("A", "B", "C"):
        raise ValueError(f"case must be 'A', 'B' or 'C', got {case!r}")
    d = check_delta(delta)
    if c == "C":
        return case_c(gamma, d, rescaled)
    if d != 0.0:
        raise ValueError(f"delta is only allowed for case C, got delta={d!r} for case {c}")
    return case_a(gamma, rescaled) if c == "A" else case_b(gamma, rescaled)


@reconstructible
def ornstein_uhlenbeck() -> Potential:
    r"""Ornstein-Uhlenbeck potential :math:`W(v) = v^2/2` (Gaussian Maxwellian)."""
    return quartic(lambda num, sqrt: (num(0), num(0), num(1) / 2, num(0)),
                    name="Ornstein-Uhlenbeck: W = v^2/2", symmetric=True, params={})


@reconstructible
def fitzhugh_nagumo(delta: float = 0.0) -> Potential:
    r"""FitzHugh-Nagumo voltage potential :math:`W(v) = v^4/4 - v^2/2 - \delta v`.

    :math:`W' = -(v - v^3) - \delta`, i.e. minus the integral of the cubic
    nonlinearity :math:`v - v^3`, tilted by :math:`\delta` (any finite real).
    """
    d = check_real(delta, "delta")
    return quartic(lambda num, sqrt: (num(1) / 4, num(0), -num(1) / 2, -num(d)),
                    name=f"FitzHugh-Nagumo (delta={_fmt(d)}): W = v^4/4 - v^2/2 - delta v",
                    symmetric=(d == 0.0), params={"delta": d})


@reconstructible
def double_well(a: float = 1.0) -> Potential:
    r"""Double well :math:`W(v) = v^4/4 - a v^2/2` (single well if :math:`a \le 0`)."""
    a = check_real(a, "a")
    return quartic(lambda num, sqrt: (num(1) / 4, num(0), -num(a) / 2, num(0)),
                    name=f"double well (a={_fmt(a)}): W = v^4/4 - a v^2/2",
                    symmetric=True, params={"a": a})


@reconstructible
def power_law(a: float, b: float, gamma: float = 1.0) -> Potential:
    r"""Power-law potential :math:`W(v) = |v|^a/(a\gamma) - |v|^b/b`.

    .. math::

        W'(v) = \operatorname{sign}(v)\bigl(|v|^{a-1}/\gamma - |v|^{b-1}\bigr),\qquad
        W''(v) = (a-1)|v|^{a-2}/\gamma - (b-1)|v|^{b-2}\ \text{(a.e.)}.

    Parameters
    ----------
    a, b : float
        Exponents with :math:`a > b \ge 1`.
    gamma : float, optional
        :math:`\gamma > 0`.

    Notes
    -----
    ``breakpoints = (0.0,)``.  A term with coefficient 0 in :math:`W''`
    (``b == 1``) is dropped, so that :math:`W''(0)` is not ``0*inf``.
    """
    a = check_real(a, "a")
    b = check_real(b, "b")
    g = check_gamma(gamma)
    if not (a > b >= 1.0):
        raise ValueError(f"power_law requires a > b >= 1, got a={a!r}, b={b!r}")

    def W(v):
        x = np.abs(v)
        return x**a / (a * g) - x**b / b

    def dW(v):
        x = np.abs(v)
        return np.sign(v) * (x ** (a - 1.0) / g - x ** (b - 1.0))

    def d2W(v):
        x = np.abs(v)
        out = (a - 1.0) / g * x ** (a - 2.0)
        if b != 1.0:
            out = out - (b - 1.0) * x ** (b - 2.0)
        return out

    def W_mp(v):
        x = abs(v)
        ma, mb, mg = mp.mpf(a), mp.mpf(b), mp.mpf(g)
        if x == 0:
            return mp.zero
        return mp.power(x, ma) / (ma * mg) - mp.power(x, mb) / mb

    pot = Potential(W, dW, d2W,
                    name=f"power law (a={_fmt(a)}, b={_fmt(b)}, gamma={_fmt(g)}): "
                         "W = |v|^a/(a gamma) - |v|^b/b",
                    symmetric=True, breakpoints=(0.0,),
                    params={"a": a, "b": b, "gamma": g}, W_mp=W_mp)
    x = func("abs", Var("v"))
    tree = sub(div(pow_(x, Const(a)), Const(a * g)), div(pow_(x, Const(b)), Const(b)))
    return attach_trees(pot, tree)
