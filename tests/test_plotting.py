"""effcoef.plotting: the readable defaults, checked on the matplotlib objects it produces.

No image comparison: the tests read the axes back (scales, tick formatters, the data of the
lines, the zero-error markers, legend texts), on results computed by the solver for Case A
and references by quadrature.
"""

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import ScalarFormatter  # noqa: E402

import effcoef  # noqa: E402
import potentials  # noqa: E402
from effcoef import plotting as P  # noqa: E402
from effcoef.reference.quadrature import quadrature_coefficients  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def case_a_sweep():
    gammas = np.array([1.0, 3.0, 10.0, 30.0, 100.0])
    pots = [potentials.case_a(g) for g in gammas]
    res = [effcoef.coefficients(p, rtol=1e-10) for p in pots]
    refs = [quadrature_coefficients(p, p.theta) for p in pots]
    return gammas, res, refs


class _Ref:
    """A reference with chosen values (to make some errors exactly 0)."""

    def __init__(self, D, K):
        self.D, self.K = D, K


def _legend_texts(ax):
    leg = ax.get_legend()
    return [] if leg is None else [t.get_text() for t in leg.get_texts()]


def _zero_markers(ax):
    return [ln for ln in ax.get_lines() if ln.get_gid() == "zero-error"]


def test_logx_and_log_errors(case_a_sweep):
    gammas, res, refs = case_a_sweep
    ax = P.plot_coefficients(gammas, res, refs, logx=True)
    assert [a.get_xscale() for a in ax] == ["log"] * 3
    assert [a.get_yscale() for a in ax] == ["log"] * 3      # D, K span decades; errors too
    ax = P.plot_coefficients(gammas, res, refs)              # default: linear parameter axis
    assert [a.get_xscale() for a in ax] == ["linear"] * 3
    ax = P.plot_tunnelling(gammas, res, [_EK(r) for r in res], refs, logx=True)
    assert all(a.get_xscale() == "log" for a in ax)
    a = P.plot_eigenvalues(gammas, res, n=2, logx=True)
    assert a.get_xscale() == "log" and a.get_yscale() == "linear"


class _EK:
    """Stand-in Kramers result: log of the computed lambda_1 (ratio exactly 1)."""

    def __init__(self, res):
        self.log_lam1 = float(np.log(res.eigenvalues[1]))


def test_no_offset_on_linear_axes(case_a_sweep):
    gammas, res, refs = case_a_sweep
    # values 1000.001 .. 1000.005 would get an offset label "+1e3" by default
    a = P.plot_eigenvalues(1000 + 1e-3 * np.arange(1, 6), res, n=1)
    fmt = a.xaxis.get_major_formatter()
    assert isinstance(fmt, ScalarFormatter) and not fmt.get_useOffset()
    a.figure.canvas.draw()
    assert fmt.get_offset() == ""                          # nothing printed beside the axis
    labels = [t.get_text() for t in a.get_xticklabels() if t.get_text()]
    assert labels and all(lab.replace("\u2212", "-").startswith("1000") for lab in labels)
    ax = P.plot_coefficients(gammas, res, refs, log=False)
    for axis in (ax[0].yaxis, ax[1].yaxis, ax[0].xaxis):
        assert not axis.get_major_formatter().get_useOffset()


def test_exact_zero_errors_are_marked_not_dips(case_a_sweep):
    gammas, res, refs = case_a_sweep
    # reference equal to the computed value at gammas[1] and [3]: relative error exactly 0
    fake = [_Ref(r.D, r.K) if i in (1, 3) else q for i, (r, q) in enumerate(zip(res, refs))]
    ax = P.plot_coefficients(gammas, res, fake)
    err_ax = ax[2]
    markers = _zero_markers(err_ax)
    assert markers, "exactly-zero errors must be marked"
    xs = np.concatenate([m.get_xdata() for m in markers])
    eK = P.relative_error([r.K for r in res], [q.K for q in fake])
    eD = P.relative_error([r.D for r in res], [q.D for q in fake])
    expected = gammas[(eK == 0) | (eD == 0)]        # 1 and 3, and any exact agreement
    assert {gammas[1], gammas[3]} <= set(expected)
    assert sorted(set(xs)) == sorted(set(expected))
    for m in markers:                      # at the bottom of the panel (axes coordinates)
        assert np.allclose(m.get_ydata(), 0.02) and m.get_marker() == "v"
    # the error curves themselves have gaps there, no value at or below 1e-16
    curves = [ln for ln in err_ax.get_lines() if ln.get_gid() != "zero-error"]
    for ln, e in zip(curves, (eK, eD)):
        y = np.asarray(ln.get_ydata(), dtype=float)
        assert np.array_equal(np.isnan(y), e == 0)   # gaps exactly where the error is 0
        assert np.nanmin(y) > 1e-17
    assert P.ZERO_ERROR_LABEL in _legend_texts(err_ax)
    assert _legend_texts(err_ax).count(P.ZERO_ERROR_LABEL) == 1   # one entry per panel
    # without exact agreement there are no markers
    ax = P.plot_coefficients(gammas[2:], res[2:], refs[2:])
    errs = np.r_[P.relative_error([r.D for r in res[2:]], [q.D for q in refs[2:]]),
                 P.relative_error([r.K for r in res[2:]], [q.K for q in refs[2:]])]
    assert bool((errs > 0).all()) == (not _zero_markers(ax[2]))


def test_convergence_errors_on_log_axes_with_zero_markers(case_a_sweep):
    _, res, refs = case_a_sweep
    r = res[2]
    exact = _Ref(r.D_partial[-1], r.K_partial[-1])   # last partial sums: error exactly 0
    ax = P.plot_convergence([r], [exact], labels=["gamma = 10"])
    row = ax[0]
    assert row[1].get_yscale() == "log" and row[3].get_yscale() == "log"
    assert row[0].get_yscale() == "linear"
    N = r.n_modes
    for a in (row[1], row[3]):
        xs = np.concatenate([m.get_xdata() for m in _zero_markers(a)])
        assert N in xs                                  # the last N is exact by construction
        y = a.get_lines()[0].get_ydata()
        assert np.isnan(y[-1]) and np.nanmin(y) > 0
        assert P.ZERO_ERROR_LABEL in _legend_texts(a)
    assert ax[-1][0].get_xlabel() == "number of modes $N$"


def test_legends_name_the_curves(case_a_sweep):
    gammas, res, refs = case_a_sweep
    ax = P.plot_coefficients(gammas, res, refs)
    texts = _legend_texts(ax[2])
    assert any("closed form" in t for t in texts) and any("(4.3)" in t for t in texts)
    assert "diffusion" in ax[0].get_ylabel() and "drift" in ax[1].get_ylabel()
    ax = P.plot_tunnelling(gammas, res, [_EK(r) for r in res], refs)
    assert "Eyring-Kramers asymptotics" in _legend_texts(ax[0])
    assert "computed $\\lambda_1$" in _legend_texts(ax[0])


def test_plot_error_directly():
    fig, ax = plt.subplots()
    line = P.plot_error(ax, [1, 2, 3, 4], [1e-12, 0.0, 3e-14, 0.0], label="D")
    assert ax.get_yscale() == "log" and line.get_label() == "D"
    (m,) = _zero_markers(ax)
    assert list(m.get_xdata()) == [2.0, 4.0] and m.get_color() == line.get_color()
    P.plot_error(ax, [1, 2], [0.0, 1e-10], label="K")        # second curve: no second entry
    labels = [ln.get_label() for ln in _zero_markers(ax)]
    assert labels.count(P.ZERO_ERROR_LABEL) == 1
