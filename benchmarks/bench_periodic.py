"""Issue 18 benchmark: periodic homogenisation, solver side by side with the closed-form
quadrature and with Monte Carlo, in one run.

Tables (times: median of --repeat runs, seconds; errors relative to the references):
  1D, F = 0   cosine V0/theta = 0.1..50 (exact: D/theta = 1/I0^2) and the asymmetric two-bump
              potential (Lifson-Jackson quadrature): solver (rtol 1e-10) vs quadrature.
  1D, F != 0  cosine, theta/V0 = 0.1, 0.03, 0.01, F/F_c = 0.5..2 (Reimann et al. double
              integrals): solver vs quadrature; the giant-diffusion peak.
  Monte Carlo one 1D tilted point (theta/V0 = 0.3, F = F_c) and one 2D point, run until the
              standard error of D is 1% (particles from a pilot run), with its z-score.
  2D          -(cos x1 + cos x2)/2 - 0.3 cos x1 cos x2 on [0, 2 pi]^2 (rtol 1e-8), against the
              Fourier Galerkin reference where it converges (theta = 0.5).
Targets (issue 18): 1D <= 20 ms per point at 1e-10 (F = 0), <= 50 ms (F != 0); 2D <= 5 s per
point at 1e-8.  The machine is shared: the time of one velocity-route point (Case A,
gamma = 50, 7.7 ms on a quiet machine, README) is printed as the load calibration.

Run:  python benchmarks/bench_periodic.py [--repeat R] [--no-mc] [--quick]
"""

import argparse
import math
import statistics
import time

import numpy as np

import effcoef
import potentials
from effcoef.periodic import effective_coefficients
from effcoef.reference.periodic import cosine_lifson_jackson, lifson_jackson, tilted_coefficients
from effcoef.reference.periodic_fourier import fourier_coefficients

TWO_BUMP = "cos(2*pi*x) + 0.6*cos(4*pi*x + 0.4)"
NONSEP = "-(cos(x1) + cos(x2))/2 - 0.3*cos(x1)*cos(x2)"


def median_time(fn, repeat):
    out, ts = None, []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return out, statistics.median(ts)


def calibration(repeat):
    pot = potentials.case_a(50)
    effcoef.coefficients(pot)
    _, t = median_time(lambda: effcoef.coefficients(pot), max(repeat, 5))
    return t


def table_1d_reversible(repeat):
    print("\n1D, F = 0 (rtol 1e-10): solver vs closed form")
    print("(t_ours: with the cell spectrum, 12 modes and their error indicators; t_D: "
          "n_modes=0, D only)")
    print(f"{'potential':>22} {'theta':>7} {'D/theta':>10} {'t_ours':>8} {'t_D':>8} {'err':>8} "
          f"{'estimate':>8} {'gap':>10} {'t_quad':>8}")
    times, errs, tDs = [], [], []
    u = potentials.periodic_from_expression("cos(2*pi*x)")
    effective_coefficients(u, 1.0)
    for ratio in (0.1, 1, 10, 20, 50):
        th = 1.0 / ratio
        res, t = median_time(lambda th=th: effective_coefficients(u, th), repeat)
        _, tD = median_time(lambda th=th: effective_coefficients(u, th, n_modes=0), repeat)
        _, tq = median_time(lambda th=th: lifson_jackson(u, th), repeat)
        err = abs(math.expm1(res.info["log_D"] - math.log(th) - cosine_lifson_jackson(1, th)))
        times.append(t)
        tDs.append(tD)
        errs.append(err)
        print(f"{'V0 cos(2 pi x)':>22} {th:7.3g} {res.D / th:10.3e} {t:8.4f} {tD:8.4f} {err:8.1e} "
              f"{res.rel_error_estimate:8.1e} {res.info['spectral_gap']:10.3e} {tq:8.4f}")
    tb = potentials.periodic_from_expression(TWO_BUMP)
    for th in (0.3, 0.1, 0.03, 0.01):
        res, t = median_time(lambda th=th: effective_coefficients(tb, th), repeat)
        _, tD = median_time(lambda th=th: effective_coefficients(tb, th, n_modes=0), repeat)
        ref, tq = median_time(lambda th=th: lifson_jackson(tb, th), repeat)
        err = abs(res.D / ref.D - 1)
        times.append(t)
        tDs.append(tD)
        errs.append(err)
        print(f"{'two-bump':>22} {th:7.3g} {res.D / th:10.3e} {t:8.4f} {tD:8.4f} {err:8.1e} "
              f"{res.rel_error_estimate:8.1e} {res.info['spectral_gap']:10.3e} {tq:8.4f}")
    return times, errs, tDs


def table_1d_tilted(repeat):
    print("\n1D, F != 0 (rtol 1e-10), cos(2 pi x), F_c = 2 pi: solver vs Reimann et al.")
    print(f"{'theta':>6} {'F/F_c':>6} {'V':>10} {'D/theta':>10} {'t_ours':>8} {'err_V':>8} "
          f"{'err_D':>8} {'estimate':>8} {'t_quad':>8}")
    u = potentials.cosine_potential()
    times, errs = [], []
    for tv in (0.1, 0.03, 0.01):
        for f in (0.5, 0.9, 1.0, 1.1, 2.0):
            F = f * 2 * math.pi
            res, t = median_time(lambda F=F, tv=tv: effective_coefficients(u, tv, force=F), repeat)
            ref, tq = median_time(lambda F=F, tv=tv: tilted_coefficients(u, tv, F), repeat)
            ev, ed = abs(res.V / ref.V - 1), abs(res.D / ref.D - 1)
            times.append(t)
            errs.append(max(ev, ed))
            print(f"{tv:6.3g} {f:6.2f} {res.V:10.3e} {res.D / tv:10.3e} {t:8.4f} {ev:8.1e} "
                  f"{ed:8.1e} {res.rel_error_estimate:8.1e} {tq:8.4f}")
    print("giant diffusion: peak of D/theta over F in [0.9, 1.05] F_c (61 points)")
    for tv in (0.1, 0.03, 0.01):
        Fs = np.linspace(0.9, 1.05, 61) * 2 * math.pi
        t0 = time.perf_counter()
        D = np.array([effective_coefficients(u, tv, force=F).D for F in Fs])
        t_ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        Dr = np.array([tilted_coefficients(u, tv, F).D for F in Fs])
        t_q = time.perf_counter() - t0
        i = int(np.argmax(D))
        print(f"  theta/V0 = {tv:5.3g}: peak D/theta = {D[i] / tv:8.4f} at F/F_c = "
              f"{Fs[i] / (2 * math.pi):.4f}; max error over the curve "
              f"{np.max(np.abs(D / Dr - 1)):.1e}; {t_ours / len(Fs) * 1e3:.1f} ms/point "
              f"(quadrature {t_q / len(Fs) * 1e3:.1f} ms/point)")
    return times, errs


def monte_carlo(U, theta, ref, target=0.01, **kw):
    """Pilot run, then enough particles for a standard error of D of ``target``."""
    from effcoef.models.periodic_mc import periodic_mc

    pilot = periodic_mc(U, theta, n_particles=800, seed=1, **kw)
    D0 = pilot.D_value[0, 0]
    rel = pilot.D_stderr[0, 0] / abs(D0)
    n = int(math.ceil(800 * (rel / target) ** 2 / 40) * 40)
    mc = periodic_mc(U, theta, n_particles=n, seed=2, **kw)
    Dref = np.atleast_2d(ref.D)
    z = mc.zscores(ref.V, Dref)
    return mc, n, z


def table_mc():
    print("\nMonte Carlo (Euler-Maruyama with Richardson extrapolation, 40 batches), "
          "1% standard error of D")
    print(f"{'case':>34} {'particles':>9} {'t_mc':>8} {'D_mc':>12} {'s.e.':>8} {'D_solver':>12} "
          f"{'z_D':>6} {'z_V':>6} {'t_solver':>9}")
    F = 2 * math.pi
    res, t = median_time(lambda: effective_coefficients("cos(2*pi*x)", 0.3, force=F), 3)
    mc, n, z = monte_carlo("cos(2*pi*x)", 0.3, res, force=F, n_windows=4)
    print(f"{'1D cos, theta=0.3, F=F_c':>34} {n:9d} {mc.seconds:8.1f} {mc.D_value[0, 0]:12.6f} "
          f"{mc.D_stderr[0, 0]:8.1e} {res.D:12.6f} {z['D'][0, 0]:6.2f} {z['V'][0]:6.2f} {t:9.4f}")
    res2, t2 = median_time(lambda: effective_coefficients(NONSEP, 0.5, period=2 * math.pi,
                                                          force=(0.3, 0.1)), 1)
    mc2, n2, z2 = monte_carlo(NONSEP, 0.5, res2, period=2 * math.pi, force=(0.3, 0.1),
                              n_windows=4)
    print(f"{'2D nonseparable, theta=0.5, F=(.3,.1)':>34} {n2:9d} {mc2.seconds:8.1f} "
          f"{mc2.D_value[0, 0]:12.6f} {mc2.D_stderr[0, 0]:8.1e} {res2.D[0, 0]:12.6f} "
          f"{z2['D'][0, 0]:6.2f} {z2['V'][0]:6.2f} {t2:9.4f}")
    print(f"  2D z-scores of all entries: D {np.round(z2['D'].ravel(), 2)}, V "
          f"{np.round(z2['V'], 2)}")


def table_2d(repeat):
    print("\n2D, U = -(cos x1 + cos x2)/2 - 0.3 cos x1 cos x2 on [0, 2 pi]^2 (rtol 1e-8)")
    print(f"{'theta':>6} {'F':>10} {'D11':>12} {'D12':>10} {'V1':>10} {'time':>7} {'dofs':>6} "
          f"{'estimate':>8} {'err_fourier':>11}")
    times = []
    for th, F in ((0.5, None), (0.5, (0.3, 0.1)), (0.2, None), (0.2, (0.3, 0.1)), (0.1, None)):
        res, t = median_time(lambda th=th, F=F: effective_coefficients(
            NONSEP, th, period=2 * math.pi, force=F), repeat)
        times.append(t)
        err = "-"
        if th == 0.5:
            f = fourier_coefficients(NONSEP, th, period=2 * math.pi, force=F, K=14)
            e = max(np.abs(res.D - f.D).max() / np.abs(f.D).max(),
                    np.abs(res.V - f.V).max() / max(np.abs(f.V).max(), 1e-300) if F else 0)
            err = f"{e:.1e}"
        print(f"{th:6.2g} {str(F):>10} {res.D[0, 0]:12.6e} {res.D[0, 1]:10.2e} {res.V[0]:10.3e} "
              f"{t:7.2f} {res.n_dofs:6d} {res.rel_error_estimate:8.1e} {err:>11}")
    return times


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-mc", action="store_true")
    ap.add_argument("--quick", action="store_true", help="skip 2D and Monte Carlo")
    args = ap.parse_args()
    cal = calibration(args.repeat)
    print(f"load calibration: velocity route Case A gamma = 50 takes {cal * 1e3:.1f} ms now "
          f"(7.7 ms on a quiet machine)")
    t0, e0, tD = table_1d_reversible(args.repeat)
    t1, e1 = table_1d_tilted(args.repeat)
    if not (args.quick or args.no_mc):
        table_mc()
    t2 = [] if args.quick else table_2d(max(1, args.repeat // 5))
    scale = 7.7e-3 / cal
    print("\nsummary (times also scaled to a quiet machine by the calibration ratio "
          f"{scale:.2f}):")
    print(f"  1D F = 0 : median {statistics.median(t0) * 1e3:.1f} ms (scaled "
          f"{statistics.median(t0) * scale * 1e3:.1f}), max {max(t0) * 1e3:.1f} ms; worst error "
          f"{max(e0):.1e}   target <= 20 ms at 1e-10")
    print(f"             D only (n_modes=0): median {statistics.median(tD) * 1e3:.1f} ms (scaled "
          f"{statistics.median(tD) * scale * 1e3:.1f}), max {max(tD) * 1e3:.1f} ms (scaled "
          f"{max(tD) * scale * 1e3:.1f})")
    print(f"  1D F != 0: median {statistics.median(t1) * 1e3:.1f} ms (scaled "
          f"{statistics.median(t1) * scale * 1e3:.1f}), max {max(t1) * 1e3:.1f} ms; worst error "
          f"{max(e1):.1e}   target <= 50 ms at 1e-9")
    if t2:
        print(f"  2D       : max {max(t2):.2f} s (scaled {max(t2) * scale:.2f} s)   "
              f"target <= 5 s at 1e-8")


if __name__ == "__main__":
    main()
