"""Issue 4 benchmark: velocity dimension 2 and 3.

Radial route (l = 1 channel, d = 2, 3): time per point (median of --repeat runs) and
relative error against an independent reference: the closed form for OU, otherwise a much
finer radial discretisation (P12, elements 3x smaller, N = 64).  Target: 1e-9 in <= 0.1 s.

2D finite elements (non-radial): rotated separable potentials (turned by 0.4 and 1 rad, and
a narrow valley along the diagonal, meshed in the turned frame: fem2d.principal_frame), whose
exact D and K are the rotated 1D quadrature values R diag(D_1, D_2) R^T, and the swarming
potential in Cartesian form against the radial route.  Target: 1e-6 in <= 30 s.

Run:  python benchmarks/bench_multid.py [--repeat R]
"""

import argparse
import statistics
import time
import warnings

import numpy as np

import effcoef
import potentials
from effcoef.reference.quadrature import quadrature_coefficients


def rel(A, B):
    return float(np.linalg.norm(np.asarray(A) - np.asarray(B)) / np.linalg.norm(B))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    warnings.simplefilter("ignore", effcoef.AccuracyWarning)
    print("radial route (rescaled swarming W = r^4/4 - r^2/2, theta = 1/gamma; OU r^2/2)")
    print(f"{'potential':>16} {'d':>2} {'time_s':>8} {'err_D':>9} {'err_K':>9} {'estimate':>9}")
    ok_radial = True
    for dim in (2, 3):
        cases = [("OU theta=0.5", potentials.ornstein_uhlenbeck_nd(dim), 0.5)]
        cases += [(f"swarming g={g}", potentials.swarming(g, dim, rescaled=True), 1.0 / g)
                  for g in (1, 5, 50)]
        for name, pot, th in cases:
            times = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                res = effcoef.coefficients(pot, th, rtol=1e-10)
                times.append(time.perf_counter() - t)
            if name.startswith("OU"):
                Dref, Kref = th * np.eye(dim), np.eye(dim)
            else:
                ref = effcoef.coefficients(pot, th, degree=12, h_scale=0.5, n_modes=64)
                Dref, Kref = ref.D, ref.K
            eD, eK, tm = rel(res.D, Dref), rel(res.K, Kref), statistics.median(times)
            ok_radial &= max(eD, eK) <= 1e-9 and tm <= 0.1
            print(f"{name:>16} {dim:>2} {tm:8.4f} {eD:9.1e} {eK:9.1e} "
                  f"{res.rel_error_estimate:9.1e}")
    print("radial target (1e-9 in <= 0.1 s):", "met" if ok_radial else "NOT met")

    print("\n2D finite elements (defaults: Q6, mesh refined to the Q6/Q7 gap < rtol/3, "
          "rtol 1e-6)")
    print(f"{'potential':>28} {'time_s':>8} {'dofs':>6} {'err_D':>9} {'err_K':>9} "
          f"{'estimate':>9}")
    th = 0.25
    p1, p2 = potentials.case_c(4, 1.0), potentials.from_expression("v**2/2 + v**4/8")
    q1, q2 = quadrature_coefficients(p1, th), quadrature_coefficients(p2, th)
    cases = []
    for ang in (0.4, 1.0):   # meshed in the turned frame found by fem2d.principal_frame
        R = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
        cases.append((f"rotated separable a={ang}",
                      potentials.rotated(potentials.separable(p1, p2), R), th,
                      R @ np.diag([q1.D, q2.D]) @ R.T, R @ np.diag([q1.K, q2.K]) @ R.T))
    v1, v2 = potentials.from_expression("v**2/2"), potentials.from_expression("20*v**2 + v**4")
    w1, w2 = quadrature_coefficients(v1, 0.5), quadrature_coefficients(v2, 0.5)
    R = np.array([[1.0, -1.0], [1.0, 1.0]]) / np.sqrt(2.0)
    cases.append(("diagonal valley (45 deg)", potentials.rotated(potentials.separable(v1, v2), R),
                  0.5, R @ np.diag([w1.D, w2.D]) @ R.T, R @ np.diag([w1.K, w2.K]) @ R.T))
    for g in (1, 5):
        rad = potentials.swarming(g, 2, rescaled=True)
        ref = effcoef.coefficients(rad, rtol=1e-12)
        cases.append((f"swarming (cartesian) g={g}", rad.as_cartesian(), rad.theta, ref.D, ref.K))
    ok_2d = True
    for name, pot, th_, Dref, Kref in cases:
        t = time.perf_counter()
        res = effcoef.coefficients(pot, th_)
        tm = time.perf_counter() - t
        eD, eK = rel(res.D, Dref), rel(res.K, Kref)
        ok_2d &= max(eD, eK) <= 1e-6 and tm <= 30
        print(f"{name:>28} {tm:8.1f} {res.n_dofs:>6} {eD:9.1e} {eK:9.1e} "
              f"{res.rel_error_estimate:9.1e}")
    print("2D target (1e-6 in <= 30 s):", "met" if ok_2d else "NOT met")


if __name__ == "__main__":
    main()
