"""Issue 3 benchmark: accuracy and time per point into the tunnelling regime, side by side with
the paper's configuration and with pyslise, plus a 100-point Case A sweep.

Columns: time (median of --repeat runs, seconds) and max relative error of (D, K) against the
independent quadrature reference, for
  ours   effcoef.coefficients(pot, rtol=1e-10) (defaults)
  paper  1000 uniform P10 elements on [-10, 10], quadrature degree 21, Dirichlet, N = 20
  slise  pyslise (CP-method Sturm-Liouville solver, tolerance 1e-10) for the eigenpairs of
         -u'' + Phi/theta u on the mass interval, eta_k by 8000-node Gauss quadrature, N = 20
         ("-" where it fails or returns a wrong lambda_1; pyslise is optional: pip install pyslise)
Targets (issue 3): median time per point <= 50 ms; 100-point sweep <= 5 s; error <= 1e-8.

Run:  python benchmarks/bench_tunnelling.py [--repeat R] [--no-paper] [--no-slise]
"""

import argparse
import statistics
import time
import warnings

import numpy as np

import effcoef
import potentials
from effcoef.operator import schrodinger_potential
from effcoef.reference.quadrature import quadrature_coefficients

CASES = ([("A", g, 0.0) for g in (1, 10, 50, 100, 200, 500, 1000)]
         + [("B", g, 0.0) for g in (1, 5, 7, 10, 15, 18)]
         + [("C", 5, 2.0), ("C", 25, 0.5), ("C", 25, 10.0)])


def median_time(fn, repeat):
    out, ts = None, []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        ts.append(time.perf_counter() - t)
    return out, statistics.median(ts)


def slise_coefficients(pot, theta, n_modes=20, tol=1e-10):
    """D^N, K^N from pyslise's eigenpairs of H/theta (Dirichlet on the mass interval)."""
    import pyslise

    mi = pot.mass_interval(theta, 45.0)
    a, b = mi.a, mi.b
    Vf = lambda x: float(schrodinger_potential(pot, theta, np.array([x]))[0]) / theta  # noqa
    solver = pyslise.Pyslise(Vf, a, b, tolerance=tol)
    pairs = solver.eigenpairsByIndex(0, n_modes + 1, (0, 1))
    xg, wg = np.polynomial.legendre.leggauss(40)
    edges = np.linspace(a, b, 201)
    X = (0.5 * (edges[1:] + edges[:-1])[:, None] + 0.5 * np.diff(edges)[:, None] * xg).ravel()
    Wt = (0.5 * np.diff(edges)[:, None] * wg).ravel()
    m = np.exp(-(pot.W(X) - mi.Wmin) / theta)
    Z = np.sum(m * Wt)
    V = np.sum(X * m * Wt) / Z
    sq = np.sqrt(m / Z)
    lam, eta, omega = [], [], []
    for _, E, f in pairs[1:]:
        y = f(X)[0]
        y = y / np.sqrt(np.sum(y * y * Wt))
        lam.append(E * theta)
        eta.append(-np.sum((X - V) * sq * y * Wt))
        omega.append(-np.sum(pot.dW(X) / theta * sq * y * Wt))
    lam, eta, omega = map(np.array, (lam, eta, omega))
    return float(np.sum(eta ** 2 / lam)), float(np.sum(eta * omega / lam)), lam[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--no-paper", action="store_true")
    ap.add_argument("--no-slise", action="store_true")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    try:
        import pyslise  # noqa: F401
        have_slise = not args.no_slise
    except ImportError:
        have_slise = False
    print(f"{'case':>4} {'gamma':>6} {'delta':>5} {'lambda_1':>10} {'t_ours':>8} {'err_ours':>9} "
          f"{'t_paper':>8} {'err_paper':>9} {'t_slise':>8} {'err_slise':>9}")
    times, worst = [], 0.0
    for case, g, d in CASES:
        pot = potentials.paper_family(case, g, delta=d)
        ref = quadrature_coefficients(pot, pot.theta)
        def err(D, K, ref=ref):
            return max(abs(D - ref.D) / ref.D, abs(K - ref.K) / ref.K)

        res, t = median_time(lambda pot=pot: effcoef.coefficients(pot, rtol=1e-10), args.repeat)
        times.append(t)
        worst = max(worst, err(res.D, res.K))
        cols = [f"{t:8.4f}", f"{err(res.D, res.K):9.1e}"]
        if args.no_paper:
            cols += [f"{'':>8}", f"{'':>9}"]
        else:
            try:
                pr, tp = median_time(lambda pot=pot: effcoef.coefficients(
                    pot, method="schrodinger", domain=(-10.0, 10.0), n_elements=1000, degree=10,
                    intorder=21, n_modes=20), 1)
                cols += [f"{tp:8.3f}", f"{err(pr.D, pr.K):9.1e}"]
            except Exception:
                cols += [f"{'fail':>8}", f"{'-':>9}"]
        if have_slise:
            try:
                (Ds, Ks, l1), ts = median_time(
                    lambda pot=pot: slise_coefficients(pot, pot.theta), 1)
                ok = abs(l1 - res.eigenvalues[1]) <= 1e-3 * res.eigenvalues[1]
                cols += [f"{ts:8.3f}", f"{err(Ds, Ks):9.1e}" if ok else f"{'wrong':>9}"]
            except Exception:
                cols += [f"{'fail':>8}", f"{'-':>9}"]
        print(f"{case:>4} {g:>6} {d:>5} {res.eigenvalues[1]:10.3e} " + " ".join(cols))
    med = statistics.median(times)
    print(f"ours: median time per point {med * 1e3:.1f} ms (target <= 50 ms), "
          f"worst error {worst:.1e} (target <= 1e-8)")

    gammas = np.logspace(0, 3, 100)
    pots = [potentials.case_a(g) for g in gammas]
    t = time.perf_counter()
    results = [effcoef.coefficients(p, rtol=1e-10) for p in pots]
    t_sweep = time.perf_counter() - t
    sweep_err = max(max(abs(r.D - q.D) / q.D, abs(r.K - q.K) / q.K) for r, q in
                    zip(results, (quadrature_coefficients(p, p.theta) for p in pots)))
    print(f"sweep: 100 Case A points, gamma in [1, 1000] (log-spaced): {t_sweep:.2f} s "
          f"(target <= 5 s), worst error {sweep_err:.1e}")
    ok = med <= 0.05 and t_sweep <= 5.0 and worst <= 1e-8 and sweep_err <= 1e-8
    print("targets:", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
