r"""FitzHugh-Nagumo consumer (papers 001 and 000): frozen voltage operator, network, limit ODE.

Conventions (paper 001, eq. 1.1, with the INDEX.md sign fix: the input current I enters the
voltage drift with a + sign)::

    dv_i = ( -N(v_i) - x_i + I - J (v_i - m) ) dt + sigma dW_i,      m = (1/n) sum_j v_j
    dx_i = ( -a x_i + b v_i ) dt

with the cubic ``N(v) = v (v - lam) (v - 1)`` (paper 001; ``lam = 4`` in Figs 6.1, 7.1-7.4).
Any cubic can be given by its coefficients ``N=(c0, c1, c2, c3)``, ``N(v) = sum c_k v^k``;
e.g. ``N=(0, -1, 0, 1)`` is ``N(v) = v^3 - v`` (drift ``v - v^3``).

Frozen voltage operator of one neuron (x, m frozen): ``L f = theta f'' - W'(v) f'`` with
``theta = sigma^2 / 2`` and::

    W(v) = int_0^v N + (x - I) v + (J/2) (v - m)^2,    M = exp(-W/theta) / Z,

so ``W'' = N' + J``: for large J the gap tends to ``J + N'(m)`` and ``Var_M v`` to
``theta / (J + N'(m))``; Bakry-Emery gives ``gap >= J + inf N'`` (= J - sup(-N')).

Limit ODE (6.4) with the corrected second line (INDEX.md)::

    d alpha/dt = -N(alpha) - beta + I,     d beta/dt = -a beta + b alpha.

The solver core does not import this module.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np
from numpy.typing import ArrayLike

import potentials

from ..solver import coefficients
from . import montecarlo

__all__ = ["fhn_cubic", "cubic_coefficients", "N_eval", "frozen_potential", "spectral_gap", "ground_moments",
           "effective_drift", "limit_rhs", "solve_limit_ode", "fixed_points", "jacobian", "hopf_points",
           "NetworkResult", "simulate_network"]


def fhn_cubic(lam: float = 4.0) -> tuple:
    """Coefficients (c0, c1, c2, c3) of N(v) = v (v - lam) (v - 1) = v^3 - (1+lam) v^2 + lam v."""
    return (0.0, float(lam), -(1.0 + lam), 1.0)


def cubic_coefficients(N: Optional[Sequence[float]] = None, lam: float = 4.0) -> tuple:
    """Validated coefficients ``(c0, c1, c2, c3)`` of the cubic: ``N`` if given, else
    :func:`fhn_cubic` ``(lam)``; ``ValueError`` unless four numbers with ``c3 > 0``."""
    c = fhn_cubic(lam) if N is None else tuple(float(t) for t in N)
    if len(c) != 4 or not c[3] > 0:
        raise ValueError("N must be (c0, c1, c2, c3) with c3 > 0 (confining cubic)")
    return c


def N_eval(v: ArrayLike, N: Optional[Sequence[float]] = None, lam: float = 4.0,
           deriv: int = 0) -> np.ndarray:
    """N(v) (deriv=0), N'(v) (1) or N''(v) (2) for the cubic N."""
    c0, c1, c2, c3 = cubic_coefficients(N, lam)
    v = np.asarray(v, dtype=float)
    if deriv == 0:
        return c0 + v * (c1 + v * (c2 + v * c3))
    if deriv == 1:
        return c1 + v * (2 * c2 + 3 * c3 * v)
    if deriv == 2:
        return 2 * c2 + 6 * c3 * v
    raise ValueError("deriv must be 0, 1 or 2")


def _lit(a: float) -> str:
    return "(" + repr(float(a)) + ")"


def frozen_potential(x: float, m: float, J: float, I: float = 0.0, *,
                     N: Optional[Sequence[float]] = None, lam: float = 4.0,
                     theta: Optional[float] = None) -> potentials.Potential:
    """Potential W(v) = int_0^v N + (x - I) v + (J/2)(v - m)^2 of the frozen voltage operator."""
    c0, c1, c2, c3 = cubic_coefficients(N, lam)
    # int_0^v N = c0 v + c1 v^2/2 + c2 v^3/3 + c3 v^4/4; expand (J/2)(v-m)^2 (drop constant)
    q4 = c3 / 4.0
    q3 = c2 / 3.0
    q2 = c1 / 2.0 + J / 2.0
    q1 = c0 + (x - I) - J * m
    text = f"{_lit(q4)}*v**4 + {_lit(q3)}*v**3 + {_lit(q2)}*v**2 + {_lit(q1)}*v"
    name = f"FhN frozen W (x={x:g}, m={m:g}, J={J:g}, I={I:g}, N={(c0, c1, c2, c3)})"
    return potentials.from_expression(text, name=name, theta=theta)


def _result(pot, theta, n_modes=None):
    """The solver's result (both parity sectors).  Its AccuracyWarning is not hidden: with the
    automatic series length (``n_modes=None``) the estimate of the series is within rtol, and
    a warning means the numbers cannot be certified (a forced short series warns as well)."""
    return coefficients(pot, theta, full_spectrum=True, n_modes=n_modes)


def spectral_gap(J: float, *, x: float = 0.0, m: float = 0.0, I: float = 0.0, sigma: float = 1.0,
                 N: Optional[Sequence[float]] = None, lam: float = 4.0,
                 n_modes: Optional[int] = None) -> float:
    """Spectral gap lambda_1 of the frozen voltage operator (theta = sigma^2/2).

    ``n_modes``: series length of the solve (default automatic; a small fixed value saves a
    few ms but the solver then warns that D, K are truncated - lambda_1 is not affected).
    """
    theta = sigma ** 2 / 2.0
    pot = frozen_potential(x, m, J, I, N=N, lam=lam)
    return float(_result(pot, theta, n_modes).eigenvalues[1])


def _gauss_moments(pot, theta, fns, n_panels=400, order=20):
    """Independent composite Gauss-Legendre averages <f>_M over the mass interval."""
    mi = pot.mass_interval(theta, 60.0)
    a, b = float(mi.a), float(mi.b)
    xg, wg = np.polynomial.legendre.leggauss(order)
    edges = np.linspace(a, b, n_panels + 1)
    h = np.diff(edges)
    pts = (edges[:-1, None] + 0.5 * h[:, None] * (xg[None, :] + 1)).ravel()
    wts = (0.5 * h[:, None] * wg[None, :]).ravel()
    Wv = pot.W(pts)
    w = wts * np.exp(-(Wv - Wv.min()) / theta)
    Z = w.sum()
    return [float(np.dot(w, f(pts)) / Z) for f in fns]


@dataclass
class Moments:
    mean: float          # <v>_M from the spectral solver (result.V)
    mean_quad: float     # <v>_M by independent Gauss-Legendre quadrature
    var: float           # Var_M v by quadrature
    N_mean: float        # <N(v)>_M by quadrature


def ground_moments(J: float, *, x: float = 0.0, m: float = 0.0, I: float = 0.0, sigma: float = 1.0,
                   N: Optional[Sequence[float]] = None, lam: float = 4.0) -> Moments:
    """Mean and variance of v under the Maxwellian M of the frozen operator, and <N>_M."""
    theta = sigma ** 2 / 2.0
    pot = frozen_potential(x, m, J, I, N=N, lam=lam)
    V = float(_result(pot, theta).V)
    c = cubic_coefficients(N, lam)
    mq, m2, Nm = _gauss_moments(pot, theta, [lambda v: v, lambda v: v * v,
                                             lambda v: N_eval(v, c)])
    return Moments(mean=V, mean_quad=mq, var=m2 - mq * mq, N_mean=Nm)


def effective_drift(J: float, **kw: Any) -> float:
    """<N>_M under the frozen Maxwellian (the mean voltage moves as -<N>_M - x + I)."""
    return ground_moments(J, **kw).N_mean


# ---------------------------------------------------------------- limit ODE (6.4)

def limit_rhs(t: float, y: ArrayLike, a: float, b: float, I: float = 0.0,
              N: Optional[Sequence[float]] = None, lam: float = 4.0) -> np.ndarray:
    al, be = y
    return np.array([-float(N_eval(al, N, lam)) - be + I, -a * be + b * al])


def solve_limit_ode(y0: ArrayLike, t_eval: ArrayLike, a: float, b: float, I: float = 0.0,
                    N: Optional[Sequence[float]] = None, lam: float = 4.0) -> np.ndarray:
    from scipy.integrate import solve_ivp
    t_eval = np.asarray(t_eval, float)
    sol = solve_ivp(limit_rhs, (t_eval[0], t_eval[-1]), np.asarray(y0, float), t_eval=t_eval,
                    args=(a, b, I, N, lam), rtol=1e-10, atol=1e-12, method="LSODA")
    return sol.y


def jacobian(al: float, a: float, b: float, N: Optional[Sequence[float]] = None,
             lam: float = 4.0) -> np.ndarray:
    return np.array([[-float(N_eval(al, N, lam, 1)), -1.0], [b, -a]])


def fixed_points(a: float, b: float, I: float = 0.0, N: Optional[Sequence[float]] = None,
                 lam: float = 4.0) -> list:
    """Fixed points (alpha, beta, eigenvalues of the Jacobian) of the limit ODE."""
    c0, c1, c2, c3 = cubic_coefficients(N, lam)
    # beta = (b/a) alpha;  N(alpha) + (b/a) alpha - I = 0
    roots = np.roots([c3, c2, c1 + b / a, c0 - I])
    out = []
    for r in sorted(roots[np.abs(roots.imag) < 1e-9].real):
        out.append((float(r), float(b / a * r), np.linalg.eigvals(jacobian(r, a, b, N, lam))))
    return out


def hopf_points(a: float, b: float, N: Optional[Sequence[float]] = None, lam: float = 4.0) -> list:
    r"""Hopf points ``(I_H, alpha_H)`` of the limit ODE (6.4), sorted by ``I_H``.

    At a fixed point the Jacobian ``[[-N'(alpha), -1], [b, -a]]`` has trace ``-N'(alpha) - a``
    and determinant ``a N'(alpha) + b``; a Hopf point is ``trace = 0`` with ``det > 0``:
    ``N'(alpha) = -a`` (a quadratic in alpha) and ``b > a^2``; the current putting the fixed
    point there is ``I_H = N(alpha) + (b/a) alpha`` (from ``beta = (b/a) alpha``). For
    ``lam = 4, a = 0.01, b = 0.1``: ``I_H = 5.54145`` (paper 001, Fig. 7.3) and 22.6067.
    """
    if not a > 0:
        raise ValueError("hopf_points needs a > 0 (fixed points beta = (b/a) alpha)")
    c0, c1, c2, c3 = cubic_coefficients(N, lam)
    out = []
    if not b > a * a:                 # det = a N' + b = b - a^2 at trace 0
        return out
    r = np.roots([3 * c3, 2 * c2, c1 + a])
    for al in sorted(r[np.abs(r.imag) < 1e-12].real):
        out.append((float(N_eval(al, (c0, c1, c2, c3))) + b / a * float(al), float(al)))
    return sorted(out)


# ---------------------------------------------------------------- network simulator

@dataclass
class NetworkResult:
    t: np.ndarray
    mean_v: np.ndarray
    mean_x: np.ndarray
    var_v: np.ndarray       # empirical variance of (v_i) at each saved time
    v: np.ndarray           # final voltages
    x: np.ndarray           # final recovery variables
    var_x: Optional[np.ndarray] = None   # empirical variance of (x_i) at each saved time


def simulate_network(n: int, J: float, T: float, dt: float, *, a: float, b: float, I: float = 0.0,
                     sigma: float = 1.0, sigma_x: float = 0.0, v0: ArrayLike = 0.0,
                     x0: ArrayLike = 0.0, N: Optional[Sequence[float]] = None, lam: float = 4.0,
                     seed: int = 0, save_every: int = 1) -> NetworkResult:
    """Network (1.1) / (6.6): Euler-Maruyama with the stiff coupling solved exactly.

    Lie splitting per step: (i) explicit Euler for -N(v) - x + I and dx = (-a x + b v) dt
    (+ sigma_x dB; (6.6) has sigma_x = sqrt(2 eps)); (ii) the linear part
    dv_i = -J (v_i - m) dt + sigma dW_i solved exactly: the mean m receives sigma dt^1/2 times
    the mean noise, the fluctuations are an exact OU step with rate J.
    """
    if not (isinstance(n, (int, np.integer)) and n >= 2):
        raise ValueError("n must be an integer >= 2")
    if not (J >= 0 and sigma >= 0 and sigma_x >= 0):
        raise ValueError("need J >= 0, sigma >= 0, sigma_x >= 0")
    if not (T > 0 and dt > 0 and dt <= T):
        raise ValueError("need T > 0 and 0 < dt <= T")
    if not (isinstance(save_every, (int, np.integer)) and save_every >= 1):
        raise ValueError("save_every must be a positive integer")
    rng = montecarlo.rng(seed)
    c = cubic_coefficients(N, lam)
    v = np.broadcast_to(np.asarray(v0, float), (n,)).copy()
    x = np.broadcast_to(np.asarray(x0, float), (n,)).copy()
    nsteps = int(round(T / dt))
    e = math.exp(-J * dt)
    s_ou = sigma * math.sqrt((1 - e * e) / (2 * J)) if J > 0 else sigma * math.sqrt(dt)
    sq = math.sqrt(dt)
    ts, mv, mx, vv, vx = [0.0], [v.mean()], [x.mean()], [v.var()], [x.var()]
    for k in range(1, nsteps + 1):
        f = -N_eval(v, c) - x + I
        xn = x + dt * (-a * x + b * v)
        if sigma_x:
            xn += sigma_x * sq * rng.standard_normal(n)
        v = v + dt * f
        x = xn
        xi = rng.standard_normal(n)
        xb = xi.mean()
        m = v.mean()
        v = m + sigma * sq * xb + e * (v - m) + s_ou * (xi - xb)
        if k % save_every == 0:
            ts.append(k * dt)
            mv.append(v.mean())
            mx.append(x.mean())
            vv.append(v.var())
            vx.append(x.var())
    return NetworkResult(np.array(ts), np.array(mv), np.array(mx), np.array(vv), v, x,
                         np.array(vx))
