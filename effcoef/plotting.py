r"""Figure panels for the effective coefficients (paper 004, section 4, Figures 1-12).

Each function draws one figure (or one panel) from already computed results and
returns the matplotlib ``Axes`` (or an array of them).  Nothing is computed here
except what is plotted (eigenfunction values, relative errors); nothing is shown
(no ``plt.show``): the caller decides, and the functions work with any backend,
including ``Agg``.

matplotlib is imported on first use, so ``import effcoef`` and
``import effcoef.plotting`` work without it (``pip install -e '.[plot]'`` in the effcoef folder).

Conventions: ``results`` are :class:`effcoef.CoefficientResult` objects (one per
parameter value), ``refs`` the matching :class:`effcoef.reference.quadrature.QuadratureResult`
objects (the reference values :math:`\mathcal D_*`, :math:`\mathcal K_*` of formula
(4.3) and of the 1D closed form of D), ``params`` the parameter values
(:math:`\gamma` or :math:`\delta`).

Readable defaults: parameters that span decades get a logarithmic axis with ``logx=True``
(gamma sweeps); linear axes never use an offset ("+1e-3" above the ticks: every tick label is
the value itself); relative errors are drawn on logarithmic axes, and an error that is
*exactly* zero, which a log axis cannot show, is marked by a downward triangle at the bottom
of the panel (legend entry "exactly 0") instead of being drawn as a dip to an arbitrary floor;
legends say what each curve is.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["plot_eigenfunctions", "plot_eigenvalues", "plot_coefficients",
           "plot_convergence", "plot_tunnelling", "plot_error", "relative_error"]

ZERO_ERROR_LABEL = "exactly 0"     # legend entry of the markers of exactly-zero errors


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:                       # pragma: no cover - depends on env
        raise ImportError("effcoef.plotting needs matplotlib: run pip install -e '.[plot]' "
                          "in the effcoef folder") from exc
    return plt


def _axes(axes, nrows, ncols, figsize):
    """The given axes (as a flat array) or a new figure with ``nrows x ncols`` panels."""
    if axes is None:
        _, axes = _pyplot().subplots(nrows, ncols, figsize=figsize, squeeze=False,
                                     layout="constrained")
    return np.atleast_1d(np.asarray(axes, dtype=object)).ravel()


def _no_offset(ax):
    """Linear axes show plain values: no offset ("+1e3") and no common factor text."""
    from matplotlib.ticker import ScalarFormatter

    for axis in (ax.xaxis, ax.yaxis):
        fmt = axis.get_major_formatter()
        if isinstance(fmt, ScalarFormatter):
            fmt.set_useOffset(False)


def _finish(ax, logx=False):
    """Common defaults of every panel: log x on request, no offset notation."""
    if logx:
        ax.set_xscale("log")
    _no_offset(ax)


def plot_error(ax: Any, x: ArrayLike, err: ArrayLike, fmt: str = ".-", **kwargs: Any) -> Any:
    r"""Draw relative errors ``err`` against ``x`` on a logarithmic y axis.

    Errors that are exactly 0 (the value equals the reference to the last bit) cannot be
    shown on a log axis: they are left out of the line and marked by a downward triangle at
    the bottom of the panel, in the line's colour, with the legend entry "exactly 0" (once
    per panel).  Nothing is drawn at an invented floor such as 1e-17.

    Parameters
    ----------
    ax : Axes
    x, err : array_like
        Abscissae and non-negative relative errors (NaN is left out as well).
    fmt : str
        Line format, as for ``Axes.plot``.
    **kwargs
        Passed to ``Axes.plot`` (``label``, ``color``, ``ms``, ...).

    Returns
    -------
    Line2D
        The error curve (its zero markers, if any, have ``gid`` "zero-error").
    """
    from matplotlib.transforms import blended_transform_factory

    x = np.asarray(x, dtype=float)
    err = np.asarray(err, dtype=float)
    zero = err == 0.0
    line, = ax.plot(x, np.where(zero, np.nan, err), fmt, **kwargs)
    ax.set_yscale("log")
    if zero.any():
        have = any(ln.get_gid() == "zero-error" and ln.get_label() == ZERO_ERROR_LABEL
                   for ln in ax.get_lines())
        ax.plot(x[zero], np.full(zero.sum(), 0.02), "v", ms=6, color=line.get_color(),
                clip_on=False, gid="zero-error",
                label="_nolegend_" if have else ZERO_ERROR_LABEL,
                transform=blended_transform_factory(ax.transData, ax.transAxes))
    return line


def relative_error(value: ArrayLike, reference: ArrayLike) -> np.ndarray:
    r"""``|reference - value| / |reference|`` (elementwise, numpy arrays accepted)."""
    value = np.asarray(value, dtype=float)
    reference = np.asarray(reference, dtype=float)
    return np.abs(reference - value) / np.abs(reference)


def plot_eigenfunctions(results: Sequence, params: Sequence[float], k: Sequence[int] = (0, 1),
                        xlim: tuple[float, float] = (-5.0, 5.0), n_points: int = 4001,
                        param_name: str = r"\gamma", axes: Any = None) -> Any:
    r"""The eigenfunctions :math:`\Psi_k` of :math:`\mathcal H`, one row per result.

    The paper's "first two eigenfunctions" are :math:`\Psi_0 = \sqrt M` (eigenvalue 0)
    and :math:`\Psi_1` (the tunnelling mode, eigenvalue :math:`\lambda_1`); use results
    computed with ``full_spectrum=True`` so that the index k counts all modes.

    Parameters
    ----------
    results : sequence of CoefficientResult
    params : sequence of float or str
        Parameter value (or label) of each result, shown in the panel titles.
    k : sequence of int
        Mode indices, one column each.
    xlim : (float, float)
        Velocity window; the paper uses :math:`[-R/2, R/2] = [-5, 5]`.
    n_points : int
        Number of evaluation points (the modes are narrow for large gamma).
    param_name : str
        TeX name of the parameter for the titles.
    axes : array of Axes, optional
        ``len(results) x len(k)`` axes to draw into.

    Returns
    -------
    ndarray of Axes, shape (len(results), len(k))
    """
    k = tuple(k)
    ax = _axes(axes, len(results), len(k), (3.4 * len(k), 1.9 * len(results)))
    ax = ax.reshape(len(results), len(k))
    v = np.linspace(xlim[0], xlim[1], int(n_points))
    for i, (res, p) in enumerate(zip(results, params)):
        psi = res.eigenfunctions(v)
        for j, kk in enumerate(k):
            a = ax[i, j]
            a.plot(v, psi[kk], lw=1.2)
            a.axhline(0.0, color="0.7", lw=0.6)
            a.set_xlim(*xlim)
            lab = p if isinstance(p, str) else f"${param_name} = {p:g}$"
            a.set_title(f"$\\Psi_{kk}$, {lab}", fontsize=9)
            if i == len(results) - 1:
                a.set_xlabel("$v$")
            _finish(a)
    return ax


def plot_eigenvalues(params: Sequence[float], results: Sequence, n: int = 5, log: bool = False,
                     param_name: str = r"\gamma", label: Optional[str] = None, ax: Any = None,
                     logx: bool = False) -> Any:
    r"""The lowest positive eigenvalues :math:`\lambda_i`, i = 1..n, against the parameter.

    Parameters
    ----------
    params : sequence of float
    results : sequence of CoefficientResult
        Computed with ``full_spectrum=True`` and ``n_modes >= n`` to show the whole
        spectrum (even and odd modes) as in the paper.
    n : int
        Number of eigenvalues.
    log : bool
        Log-log axes (the paper's :math:`\log\gamma \mapsto \log_{10}\lambda_i`).
    param_name : str
    label : str, optional
        Prefix of the legend entries (to overlay several families on one ``ax``).
    ax : Axes, optional
    logx : bool
        Logarithmic parameter axis only (for parameters spanning decades).

    Returns
    -------
    Axes
    """
    ax = _axes(ax, 1, 1, (5.0, 3.6))[0]
    lam = np.array([r.eigenvalues[1:n + 1] for r in results])
    for i in range(lam.shape[1]):
        name = f"$\\lambda_{i + 1}$"
        ax.plot(params, lam[:, i], ".-", ms=3,
                label=name if label is None else (label if n == 1 else f"{label}, {name}"))
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set_xlabel(f"${param_name}$")
    ax.set_ylabel("eigenvalue $\\lambda_i$ of $\\mathcal{H}$")
    ax.legend(fontsize=8)
    _finish(ax, logx)
    return ax


def plot_coefficients(params: Sequence[float], results: Sequence, refs: Optional[Sequence] = None,
                      label: Optional[str] = None, param_name: str = r"\gamma", log: bool = True,
                      axes: Any = None, logx: bool = False) -> Any:
    r"""D and K against the parameter, and their relative error against the references.

    Three panels: :math:`\mathcal D`, :math:`\mathcal K`, and on a log axis
    :math:`|\mathcal K_* - \mathcal K|/\mathcal K_*` (solid) with
    :math:`|\mathcal D_* - \mathcal D|/\mathcal D_*` (dashed), where :math:`\mathcal K_*`
    is formula (4.3) and :math:`\mathcal D_*` the 1D closed form, both by quadrature
    (errors that are exactly 0 are marked, see :func:`plot_error`).
    Call again with the same ``axes`` and another ``label`` to overlay several curves.

    Parameters
    ----------
    params : sequence of float
    results : sequence of CoefficientResult
    refs : sequence of QuadratureResult, optional
        Without references only the first two panels are drawn.
    label : str, optional
        Legend entry of this curve.
    param_name : str
    log : bool
        Logarithmic y axis for D and K (they grow exponentially with gamma).
    axes : array of 3 (or 2) Axes, optional
    logx : bool
        Logarithmic parameter axis (for gamma spanning decades).

    Returns
    -------
    ndarray of Axes
    """
    npan = 2 if refs is None else 3
    ax = _axes(axes, 1, npan, (4.0 * npan, 3.3))
    D = np.array([r.D for r in results])
    K = np.array([r.K for r in results])
    line, = ax[0].plot(params, D, ".-", ms=3, label=label)
    ax[1].plot(params, K, ".-", ms=3, color=line.get_color(), label=label)
    for a, name in zip(ax[:2], ("effective diffusion $\\mathcal{D}$",
                                "effective drift $\\mathcal{K}$")):
        a.set_ylabel(name)
        if log:
            a.set_yscale("log")
    if refs is not None:
        eK = relative_error(K, [q.K for q in refs])
        eD = relative_error(D, [q.D for q in refs])
        plot_error(ax[2], params, eK, ".-", ms=3, color=line.get_color(),
                   label="$\\mathcal{K}$ vs formula (4.3)" if label is None else label)
        plot_error(ax[2], params, eD, "--", lw=0.8, color=line.get_color(),
                   label="$\\mathcal{D}$ vs its closed form" if label is None else None)
        ax[2].set_ylabel("relative error vs quadrature")
        ax[2].set_title("solid: $\\mathcal{K}$ vs (4.3), dashed: $\\mathcal{D}$ vs closed form",
                        fontsize=9)
    for a in ax:
        a.set_xlabel(f"${param_name}$")
        _finish(a, logx)
    if label is not None or refs is not None:
        ax[-1].legend(fontsize=8)
    return ax


def plot_convergence(results: Sequence, refs: Sequence, labels: Optional[Sequence[str]] = None,
                     overlay: bool = False, axes: Any = None) -> Any:
    r"""Convergence in the number of modes N (paper Figures 4, 8, 12).

    Four panels: :math:`D(N)`, :math:`|\mathcal D_* - D(N)|/\mathcal D_*`,
    :math:`K(N)`, :math:`|\mathcal K_* - K(N)|/\mathcal K_*` for N = 1..n_modes,
    with :math:`D(N), K(N)` the partial sums (3.6) and the quadrature references; the errors
    on log axes (the paper plots their :math:`\log_{10}`), a relative error of exactly 0
    marked at the bottom of its panel (:func:`plot_error`).

    Parameters
    ----------
    results : sequence of CoefficientResult
        Use ``full_spectrum=True`` for symmetric potentials so that N counts all modes
        as in the paper (the even modes then add nothing to the sums).
    refs : sequence of QuadratureResult
    labels : sequence of str, optional
    overlay : bool
        All results in one row of four panels (True) or one row per result (False,
        default: D and K differ by orders of magnitude between parameters).
    axes : array of 4 (or ``4 * len(results)``) Axes, optional

    Returns
    -------
    ndarray of Axes, shape (1 or len(results), 4)
    """
    nrows = 1 if overlay else len(results)
    ax = _axes(axes, nrows, 4, (15.0, 2.9 * nrows)).reshape(nrows, 4)
    labels = [None] * len(results) if labels is None else list(labels)
    for i, (res, ref, lab) in enumerate(zip(results, refs, labels)):
        axr = ax[0 if overlay else i]
        N = np.arange(1, res.n_modes + 1)
        DN, KN = res.D_partial[1:], res.K_partial[1:]
        line, = axr[0].plot(N, DN, ".-", ms=3, label=lab)
        c = line.get_color()
        plot_error(axr[1], N, relative_error(DN, ref.D), ".-", ms=3, color=c, label=lab)
        axr[2].plot(N, KN, ".-", ms=3, color=c, label=lab)
        plot_error(axr[3], N, relative_error(KN, ref.K), ".-", ms=3, color=c, label=lab)
        if lab is not None:
            axr[0].legend(fontsize=8)
    titles = ("partial sum $D(N)$ of (3.6)", "$|\\mathcal{D}_*-D(N)|/\\mathcal{D}_*$",
              "partial sum $K(N)$ of (4.1)", "$|\\mathcal{K}_*-K(N)|/\\mathcal{K}_*$")
    for row in ax:
        for a, t in zip(row, titles):
            a.set_title(t, fontsize=9)
            _finish(a)
        for a in row[[1, 3]]:
            if any(ln.get_gid() == "zero-error" for ln in a.get_lines()):
                a.legend(fontsize=7)
    for a in ax[-1]:
        a.set_xlabel("number of modes $N$")
    return ax


def plot_tunnelling(params: Sequence[float], results: Sequence, kramers: Sequence,
                    refs: Optional[Sequence] = None, param_name: str = r"\gamma",
                    label: Optional[str] = None, axes: Any = None, logx: bool = False) -> Any:
    r"""The tunnelling eigenvalue against its Eyring-Kramers asymptotics.

    Panels: :math:`\lambda_1` (computed, dots) and the Eyring-Kramers value
    (:func:`effcoef.reference.asymptotics.eyring_kramers`, line) on a log scale; the ratio
    :math:`\lambda_1/\lambda_1^{EK}` (tends to 1); and, if ``refs`` are given, the
    relative errors of D and K against the quadrature formulas.

    Parameters
    ----------
    params : sequence of float
    results : sequence of CoefficientResult
    kramers : sequence of KramersResult
    refs : sequence of QuadratureResult, optional
    param_name : str
    label : str, optional
    axes : array of 2 (3 with refs) Axes, optional
    logx : bool
        Logarithmic parameter axis (gamma over decades).

    Returns
    -------
    ndarray of Axes
    """
    npan = 2 if refs is None else 3
    ax = _axes(axes, 1, npan, (4.2 * npan, 3.4))
    lam = np.array([r.eigenvalues[1] for r in results])
    log_ek = np.array([k.log_lam1 for k in kramers])
    pts, = ax[0].semilogy(params, lam, "o", ms=3,
                          label="computed $\\lambda_1$" if label is None else label)
    ax[0].semilogy(params, np.exp(log_ek), "-", lw=0.9, color=pts.get_color(),
                   label="Eyring-Kramers asymptotics" if label is None else None)
    ax[0].set_ylabel("tunnelling eigenvalue $\\lambda_1$")
    ax[0].legend(fontsize=8)
    ratio = lam / np.exp(log_ek)
    ax[1].plot(params, ratio, ".-", ms=3, color=pts.get_color(), label=label)
    ax[1].axhline(1.0, color="0.6", lw=0.7)
    ax[1].set_ylabel("$\\lambda_1 / \\lambda_1^{EK}$ (computed / asymptotic)")
    if refs is not None:
        eK = relative_error([r.K for r in results], [q.K for q in refs])
        eD = relative_error([r.D for r in results], [q.D for q in refs])
        plot_error(ax[2], params, eD, ".-", ms=3, color=pts.get_color(),
                   label="$\\mathcal{D}$ vs closed form" if label is None else label)
        plot_error(ax[2], params, eK, "x--", ms=3, lw=0.8, color=pts.get_color(),
                   label="$\\mathcal{K}$ vs formula (4.3)" if label is None else None)
        ax[2].set_ylabel("relative error vs quadrature")
        ax[2].legend(fontsize=8)
    for a in ax:
        a.set_xlabel(f"${param_name}$")
        _finish(a, logx)
    return ax
