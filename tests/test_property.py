"""Property-based tests (hypothesis) of the solver against the independent references (issue 14).

Random confining potentials with one to four wells -- products of squared factors with a tilt,
sums of Gaussian wells (exp) on a v^4 / cosh / |v|^3 / v^2 confinement with an optional kink
(abs) -- at random theta down to 0.01, in 1D and in the radial route (d = 2, 3).  For each:

* the reference (effcoef.reference.quadrature in 1D, effcoef.reference.radial for the l = 1
  channel: own certified domain, own discretisation, never the solver's code);
* the solver with its default rtol (1e-8).  A result that says ``accurate`` must be within
  10 rtol of the reference for D, K (relative) and V (absolute, on the scale sqrt(theta K)),
  widened by three times the reference's own error estimate when that is not negligible.
  A refusal must be a ValueError subclass (EffcoefError, PotentialError; not numpy's
  LinAlgError, an internal failure) or AccuracyError with a one-line message; a refusal
  because the weights underflow (D overflows double precision) must be confirmed by the
  reference (log D > 600); anything else is a failure.
  A result flagged inaccurate is "honest" when its error is below 10 times its estimate.
* a few examples go through the command line (exit 0/2/3, one-line stderr).

The counts (run, right, refused, inaccurate-but-honest) are printed.  The default run is
bounded and derandomized: reproducible for a given command (hypothesis also mixes in
numeric constants found in the loaded project modules, so ``pytest tests/test_property.py``
alone and the whole suite draw different, each reproducible, examples).  ``-m slow`` runs a
campaign of a few hundred examples with a random seed printed in the output
(EFFCOEF_PROPERTY_SEED=<n> replays it).
"""

import contextlib
import io
import json
import math
import os
import warnings
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import potentials as P
from effcoef import coefficients
from effcoef.cli import main as cli_main
from effcoef.errors import AccuracyError, AccuracyWarning
from effcoef.reference.panels import ReferenceBudgetError
from effcoef.reference.quadrature import quadrature_coefficients
from effcoef.reference.radial import radial_reference

RTOL = 1e-8          # the solver's default (1D and radial)
TOL = 10 * RTOL      # issue 14: accurate results within 10 rtol of the reference

COUNTS = {"1d": Counter(), "radial": Counter(), "cli": Counter()}
FAILURES = []
REFUSALS = []


def _fmt(x):
    return f"{x:.6g}"


def _log_uniform(lo, hi):
    return st.floats(math.log10(lo), math.log10(hi)).map(lambda e: 10.0 ** e)


def _centres(draw, n, lo, hi, gap):
    """n sorted points in [lo, hi] at least ``gap`` apart."""
    span = hi - lo - gap * (n - 1)
    u = sorted(draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n)))
    return [lo + span * x + gap * i for i, x in enumerate(u)]


# ------------------------------------------------------------------------------------------
# generators (expressions: the same strings go to the command line)

@st.composite
def product_wells(draw, var="v", lo=-2.0, hi=2.0, inner=None):
    """height * prod (v - c_i)^2 / max_[c_1, c_n] prod + tilt: 1 to 4 wells, barriers ~ height."""
    n = draw(st.integers(1, 4))
    cs = _centres(draw, n, lo, hi, 0.35)
    height = draw(_log_uniform(0.05, 4.0))
    if n == 1:
        A = 4.0 * height
    else:
        x = np.linspace(cs[0], cs[-1], 2001)
        A = height / float(np.max(np.prod([(x - c) ** 2 for c in cs], axis=0)))
    tilt = draw(st.floats(-0.3, 0.3)) * height
    terms = "*".join(f"({var} - {_fmt(c)})**2" for c in cs)
    if inner:                           # radial: a well at r = 0 too
        terms = f"{var}**2*" + terms
        A /= max(c * c for c in cs)
    return f"{_fmt(A)}*{terms} + {_fmt(tilt)}*{var}"


@st.composite
def gaussian_wells(draw, var="v", lo=-2.0, hi=2.0):
    """confinement - sum a_i exp(-(v - c_i)^2 / w_i) (+ a kink): 1 to 4 wells."""
    n = draw(st.integers(1, 4))
    cs = _centres(draw, n, lo, hi, 0.3)
    conf = draw(st.sampled_from(["v**4", "cosh(v) - 1", "abs(v)**3", "v**2"])).replace("v", var)
    s = draw(_log_uniform(0.05, 2.0))
    parts = [f"{_fmt(s)}*({conf})"]
    for c in cs:
        a = draw(_log_uniform(0.1, 3.0))
        w = draw(_log_uniform(0.01, 0.5))
        parts.append(f"{_fmt(a)}*exp(-({var} - {_fmt(c)})**2/{_fmt(w)})")
    expr = parts[0] + "".join(" - " + p for p in parts[1:])
    if draw(st.booleans()):
        b = draw(st.floats(0.05, 0.5))
        expr += f" + {_fmt(b)}*abs({var} - {_fmt(draw(st.floats(lo, hi)))})"
    return expr


potentials_1d = st.one_of(product_wells(), gaussian_wells())
radial_profiles = st.one_of(product_wells(var="r", lo=0.4, hi=2.5, inner=True),
                            product_wells(var="r", lo=0.4, hi=2.5),
                            gaussian_wells(var="r", lo=0.3, hi=2.5))
thetas = _log_uniform(0.01, 1.0)


# ------------------------------------------------------------------------------------------
# the check of one example

def _one_line(msg):
    return "\n" not in str(msg) and str(msg).strip() != ""


def _judge(kind, label, res, ref, theta, D, K, V):
    """Compare a solver result with the reference; update the counts."""
    c = COUNTS[kind]
    slack = TOL + 3.0 * ref.rel_error_estimate
    eD = abs(D - ref.D) / ref.D
    eK = abs(K - ref.K) / ref.K
    eV = abs(V - getattr(ref, "V", 0.0)) / math.sqrt(theta * ref.K)
    err = max(eD, eK, eV)
    if res.accurate:
        if err <= slack:
            c["right"] += 1
        else:
            c["WRONG"] += 1
            FAILURES.append(f"{kind} {label}: says accurate (estimate "
                            f"{res.rel_error_estimate:.1e}) but D, K, V errors {eD:.1e}, "
                            f"{eK:.1e}, {eV:.1e} vs reference D={ref.D:.10g} K={ref.K:.10g}")
    elif err <= max(10 * res.rel_error_estimate, slack):
        c["inaccurate_honest"] += 1
    else:
        c["inaccurate_underestimated"] += 1


def _refusal(kind, label, exc, ref):
    c = COUNTS[kind]
    msg = str(exc)
    # numpy's LinAlgError is a ValueError, but 'Singular matrix' is an internal failure, not
    # a reason about the input
    if not isinstance(exc, (ValueError, AccuracyError)) or \
            isinstance(exc, np.linalg.LinAlgError) or not _one_line(msg):
        c["BAD_ERROR"] += 1
        FAILURES.append(f"{kind} {label}: {type(exc).__name__} (not a one-line ValueError): "
                        f"{msg[:300]!r}")
        return
    if "underflow" in msg or "overflow" in msg:
        if ref is not None and ref.log_D < 600:
            c["WRONG_REFUSAL"] += 1
            FAILURES.append(f"{kind} {label}: refused for overflow but the reference has "
                            f"log D = {ref.log_D:.1f}: {msg[:200]}")
            return
    c["refused"] += 1
    REFUSALS.append(f"{kind} {label}: {type(exc).__name__}: {msg[:160]}")


def _run_1d(expr, theta):
    label = f"W = {expr!r}, theta = {theta:.6g}"
    c = COUNTS["1d"]
    c["run"] += 1
    pot = P.from_expression(expr)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)      # D = inf warning
            ref = quadrature_coefficients(pot, theta)
    except (ReferenceBudgetError, ValueError) as exc:
        c["no_reference"] += 1
        print(f"  no reference: {label}: {exc}")
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AccuracyWarning)
            res = coefficients(pot, theta)
    except Exception as exc:  # noqa: BLE001 - every exception is judged
        _refusal("1d", label, exc, ref)
        return
    if not math.isfinite(ref.D):
        c["WRONG"] += 1
        FAILURES.append(f"1d {label}: solver returned D = {res.D} where D overflows "
                        f"(reference log D = {ref.log_D:.1f})")
        return
    _judge("1d", label, res, ref, theta, res.D, res.K, res.V)


def _run_radial(expr, dim, theta):
    label = f"w(r) = {expr!r}, d = {dim}, theta = {theta:.6g}"
    c = COUNTS["radial"]
    c["run"] += 1
    pot = P.radial_from_expression(expr, dim)
    try:
        ref = radial_reference(pot, theta)
    except (ReferenceBudgetError, ValueError) as exc:
        c["no_reference"] += 1
        print(f"  no reference: {label}: {exc}")
        return
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AccuracyWarning)
            res = coefficients(pot, theta)
    except Exception as exc:  # noqa: BLE001
        _refusal("radial", label, exc, ref)
        return
    _judge("radial", label, res, ref, theta, float(res.D[0, 0]), float(res.K[0, 0]), 0.0)


def _run_cli(expr, theta, strict):
    label = f"effcoef coefficients --potential={expr!r} --theta {theta!r}" + \
        (" --strict" if strict else "")
    c = COUNTS["cli"]
    c["run"] += 1
    args = ["coefficients", f"--potential={expr}", "--theta", repr(theta), "--json"]
    if strict:
        args.append("--strict")
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            code = cli_main(args)
    except BaseException as exc:  # noqa: BLE001 - the command line must not raise
        c["CRASH"] += 1
        FAILURES.append(f"cli {label}: raised {type(exc).__name__}: {str(exc)[:200]}")
        return
    err_lines = err.getvalue().strip().splitlines()
    if code not in (0, 2, 3) or len(err_lines) > 1 or (code in (2, 3) and not err_lines):
        c["BAD_EXIT"] += 1
        FAILURES.append(f"cli {label}: exit {code}, stderr {err.getvalue()!r}")
        return
    if code == 3 and not strict:
        c["BAD_EXIT"] += 1
        FAILURES.append(f"cli {label}: exit 3 without --strict")
        return
    if code == 0:
        data = json.loads(out.getvalue())
        pot = P.from_expression(expr)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ref = quadrature_coefficients(pot, theta)
        if data["accurate"] != (not err_lines):
            c["BAD_EXIT"] += 1
            FAILURES.append(f"cli {label}: accurate={data['accurate']} but stderr "
                            f"{err.getvalue()!r}")
            return
        if data["accurate"] and max(abs(data["D"] - ref.D) / ref.D,
                                    abs(data["K"] - ref.K) / ref.K) > TOL + \
                3 * ref.rel_error_estimate:
            c["WRONG"] += 1
            FAILURES.append(f"cli {label}: D={data['D']} K={data['K']} vs reference "
                            f"D={ref.D} K={ref.K}")
            return
        c["right" if data["accurate"] else "inaccurate"] += 1
    else:
        c["refused" if code == 2 else "accuracy_exit_3"] += 1


def _report(capsys, title):
    with capsys.disabled():
        print(f"\n{title}")
        for kind, cnt in COUNTS.items():
            if cnt:
                print(f"  {kind:6s}: " + ", ".join(f"{k}={v}" for k, v in sorted(cnt.items())))
        for r in REFUSALS:
            print(f"  refused: {r}")
        for f in FAILURES:
            print(f"  FAIL {f}")


def _reset():
    for cnt in COUNTS.values():
        cnt.clear()
    FAILURES.clear()
    REFUSALS.clear()


_HC = [HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large]


def _settings(n, derandomize=True):
    return settings(max_examples=n, deadline=None, database=None, derandomize=derandomize,
                    suppress_health_check=_HC, print_blob=True)


# ------------------------------------------------------------------------------------------
# default run: bounded, reproducible

def test_property_1d(capsys):
    _reset()

    @_settings(10)
    @given(potentials_1d, thetas)
    def run(expr, theta):
        _run_1d(expr, theta)

    run()
    _report(capsys, "1D property test (derandomized)")
    assert not FAILURES, FAILURES


def test_property_radial(capsys):
    _reset()

    @_settings(4)
    @given(radial_profiles, st.sampled_from([2, 3]), thetas)
    def run(expr, dim, theta):
        _run_radial(expr, dim, theta)

    run()
    _report(capsys, "radial property test (derandomized)")
    assert not FAILURES, FAILURES


def test_property_cli(capsys):
    _reset()

    @_settings(3)
    @given(potentials_1d, thetas, st.booleans())
    def run(expr, theta, strict):
        _run_cli(expr, theta, strict)

    run()
    _report(capsys, "command-line property test (derandomized)")
    assert not FAILURES, FAILURES


# ------------------------------------------------------------------------------------------
# the campaign (-m slow): a few hundred examples, random seed printed

_SEED = int(os.environ.get("EFFCOEF_PROPERTY_SEED", int.from_bytes(os.urandom(4), "little")))


@pytest.mark.slow
def test_property_campaign(capsys):
    _reset()
    with capsys.disabled():
        print(f"\nproperty campaign seed: {_SEED} (replay: EFFCOEF_PROPERTY_SEED={_SEED})")

    @seed(_SEED)
    @_settings(240, derandomize=False)
    @given(potentials_1d, thetas)
    def run_1d(expr, theta):
        _run_1d(expr, theta)

    @seed(_SEED + 1)
    @_settings(80, derandomize=False)
    @given(radial_profiles, st.sampled_from([2, 3]), thetas)
    def run_radial(expr, dim, theta):
        _run_radial(expr, dim, theta)

    @seed(_SEED + 2)
    @_settings(30, derandomize=False)
    @given(potentials_1d, thetas, st.booleans())
    def run_cli(expr, theta, strict):
        _run_cli(expr, theta, strict)

    for f in (run_1d, run_radial, run_cli):
        f()
    _report(capsys, f"property campaign (seed {_SEED})")
    assert not FAILURES, FAILURES
