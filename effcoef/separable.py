r"""Separable potentials :math:`W(v) = \sum_i W_i(v_i)` in d = 2, 3: d one-dimensional problems.

The Fokker-Planck operator of a separable W is the sum of commuting 1D operators acting on
one coordinate each, and :math:`M = \prod_i M_i`.  The data :math:`v_i - \mathcal V_i` and
:math:`\partial_i W = W_i'(v_i)` of direction i only involve the i-th operator: the correctors
are :math:`\chi_i = \chi^{(i)}(v_i)\prod_{j\ne i} M_j(v_j)`, so

.. math:: \mathcal D = \mathrm{diag}(D^{(1)}, \dots, D^{(d)}), \qquad
          \mathcal K = \mathrm{diag}(K^{(1)}, \dots, K^{(d)}), \qquad
          \mathcal V = (\mathcal V^{(1)}, \dots, \mathcal V^{(d)}),

with the 1D coefficients of :math:`W_i` (the 1D route, :func:`effcoef.coefficients`: certified
interval, Green's operator, tunnelling-safe).  The modes that carry data are those with one
coordinate excited, :math:`\Psi_{i,k}(v) = \Psi^{(i)}_k(v_i)\prod_{j\ne i}\Psi^{(j)}_0(v_j)`
with eigenvalue :math:`\lambda^{(i)}_k` and :math:`\eta = \eta^{(i)}_k e_i`: the result lists
exactly these (ascending), so :math:`D^N = \sum\eta\otimes\eta/\lambda` as on every route.
The estimate is the largest of the 1D estimates (a relative error of each diagonal entry
bounds the Frobenius relative error of the diagonal matrix).

:func:`potentials.nd.separable_parts` recognises the form on the expression tree (sums,
differences and constant factors of terms in one variable each), and
:func:`potentials.nd.turned_separable_parts` the form :math:`\sum_k W_k(q_k\cdot v)` in
orthonormal turned axes (every term a function of one linear form, e.g.
:func:`potentials.rotated` of a separable W); the result is then rotated back exactly
(``frame``).  Other potentials go to the general route (:mod:`effcoef.fend`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from potentials import Potential, PotentialND

from .results import CoefficientResult
from .series import partial_sums

__all__ = ["separable_coefficients", "ModesSeparable"]


@dataclass
class ModesSeparable:
    r""":math:`\Psi_0 = \prod_j\Psi^{(j)}_0(v_j)` and
    :math:`\Psi_{i,k} = \Psi^{(i)}_k(v_i)\prod_{j\ne i}\Psi^{(j)}_0(v_j)` from the 1D results."""

    parts: list                  # the 1D results' eigenfunction evaluators
    modes: list                  # (axis, k) of the listed modes 1..n
    frame: Any = None            # Q of a turned separable W (y = Q^T v), or None

    def __call__(self, V):
        V = np.asarray(V, dtype=float)
        if V.ndim == 1:
            V = V[:, None]
        d = len(self.parts)
        if V.shape[0] != d:
            raise ValueError(f"points must have shape ({d}, npts), got {V.shape}")
        if self.frame is not None:
            V = np.asarray(self.frame).T @ V
        ks = [sorted({k for a, k in self.modes if a == i} | {0}) for i in range(d)]
        vals = []
        for i, part in enumerate(self.parts):
            psi = part(V[i])                          # (n_i + 1, npts)
            vals.append({k: psi[k] for k in ks[i]})
        ground = np.prod([vals[i][0] for i in range(d)], axis=0)
        rows = [ground]
        for a, k in self.modes:
            others = np.prod([vals[j][0] for j in range(d) if j != a], axis=0)
            rows.append(vals[a][k] * others)
        return np.array(rows)


def separable_coefficients(potential: PotentialND, parts: Sequence[Potential], theta: float,
                           *, frame: Optional[np.ndarray] = None,
                           **options: Any) -> CoefficientResult:
    r"""D, K of a separable potential from the 1D results of its parts (see module docstring).

    ``parts``: the 1D potentials (``potentials.nd.separable_parts``); ``options`` are passed to
    the 1D route (n_modes, degree, h_scale, tail, rtol, eigensolver, strict=False).

    ``frame``: Q (orthonormal columns :math:`q_k`) for W separable in turned axes,
    :math:`W(v) = \sum_k W_k(q_k\cdot v)` (``potentials.nd.turned_separable_parts``; parts in
    :math:`y = Q^T v`): :math:`\mathcal D = Q\,\mathrm{diag}(D^{(k)})\,Q^T`, likewise K,
    :math:`\mathcal V = Q\mathcal V_y`, :math:`\eta \to Q\eta`; the estimate adds
    10 :math:`\|Q^TQ - I\|_\infty` (component ``frame``)."""
    from .solver import coefficients

    d = len(parts)
    res = [coefficients(p, theta, **options) for p in parts]
    lam, eta, omega, err, modes = [], [], [], [], []
    for i, r in enumerate(res):
        for k in range(1, r.n_modes + 1):
            e = np.zeros(d)
            o = np.zeros(d)
            e[i], o[i] = r.eta[k], r.omega[k]
            lam.append(r.eigenvalues[k])
            eta.append(e)
            omega.append(o)
            err.append(r.eigenvalue_errors[k])
            modes.append((i, k))
    order = np.argsort(lam, kind="stable")
    lam = np.asarray(lam)[order]
    eta = np.asarray(eta).reshape(-1, d)[order]
    omega = np.asarray(omega).reshape(-1, d)[order]
    err = np.asarray(err)[order]
    modes = [modes[j] for j in order]
    Dp, Kp = partial_sums(lam, eta, omega)
    comps = {}
    for r in res:
        for name, v in r.error_components.items():
            comps[name] = max(comps.get(name, 0.0), float(v))
    D = np.diag([r.D for r in res])
    K = np.diag([r.K for r in res])
    V = np.array([r.V for r in res])
    K_cov = np.diag([r.K_cov for r in res])
    method_text = ("separable W = sum_i W_i(v_i): D, K diagonal from the 1D route of each "
                   "part; the largest of their estimates (")
    if frame is not None:
        Q = np.asarray(frame, dtype=float)
        comps["frame"] = 10.0 * float(np.max(np.abs(Q.T @ Q - np.eye(d))))
        D, K, K_cov = Q @ D @ Q.T, Q @ K @ Q.T, Q @ K_cov @ Q.T
        Dp = np.einsum("ij,njk,lk->nil", Q, Dp, Q)
        Kp = np.einsum("ij,njk,lk->nil", Q, Kp, Q)
        V, eta, omega = Q @ V, eta @ Q.T, omega @ Q.T
        method_text = ("W separable in turned axes, W = sum_k W_k(q_k . v) (read off its "
                       "expression tree; Q = [q_k] in info['frame']): D = Q diag(D_k) Q^T, K "
                       "likewise, from the 1D route of each part; the largest of their "
                       "estimates and 10 |Q^T Q - I| (")
    return CoefficientResult(
        dim=d, D=D, K=K, V=V, theta=float(theta),
        K_cov=K_cov,
        eigenvalues=np.concatenate([[0.0], lam]), eta=np.concatenate([np.zeros((1, d)), eta]),
        omega=np.concatenate([np.zeros((1, d)), omega]), D_partial=Dp, K_partial=Kp,
        rel_error_estimate=float(max([r.rel_error_estimate for r in res]
                                     + [comps.get("frame", 0.0)])),
        error_components=comps,
        error_method=method_text + res[0].error_method + ")",
        rtol=res[0].rtol, domain=(tuple(r.domain[0] for r in res),
                                  tuple(r.domain[1] for r in res)),
        n_dofs=int(sum(r.n_dofs for r in res)), method="separable", D_is="completed",
        parity=None, eigenvalue_errors=np.concatenate([[0.0], err]),
        info={"parts": [p.expr for p in parts],
              "part_info": [r.info for r in res],
              "domain_certified": all(bool(r.info.get("domain_certified")) for r in res),
              "log_D_parts": [math.log(r.D) if r.D > 0 else -math.inf for r in res],
              "frame": None if frame is None else np.asarray(frame, dtype=float)},
        modes=ModesSeparable(parts=[r.modes for r in res], modes=modes, frame=frame))
