"""The independent references on the issue-14 potentials: time (s) and agreement with the solver.

Columns: time of the double-precision reference (quadrature_coefficients, including its
certified critical hull; the hull is cached per potential, so it is computed on a fresh
potential object each time), of the mpmath reference (dps = 30; '-' where it refuses: more
than 800 panels), of the solver (effcoef.coefficients, default rtol 1e-8); panels of the
double reference; its error estimate; the solver's relative difference in D and K from the
most accurate reference (mpmath where it ran).  Radial rows use effcoef.reference.radial.
Run:  python benchmarks/bench_reference.py
"""

import time
import warnings

import potentials as P
from effcoef import coefficients
from effcoef.reference.panels import ReferenceBudgetError
from effcoef.reference.quadrature import quadrature_coefficients, quadrature_coefficients_mp
from effcoef.reference.radial import radial_reference

CASES_1D = [
    ("((v-0.9)**2-1)**2", 0.02), ("68.2*(v**4/4 - 2.82*v**3/3 + 1.82*v**2/2)", 0.1),
    ("C gamma=400 delta=1", None), ("v**2 + 0.1*sin(1000*v)", 0.1), ("v**2 + sin(100*v)", 0.1),
    ("1e10*(v-3.0001)**2", 0.1), ("C gamma=5 delta=1e8", None), ("v**4/4 - v**2/2", 0.001),
]
CASES_RADIAL = [("10*r**2*(r-1.7)**2 - r", 3, 0.05), ("r**4/4 - r**2/2", 2, 0.01),
                ("r**2/2", 3, 0.5)]


def make(text):
    if text.startswith("C "):
        g, d = (float(t.split("=")[1]) for t in text.split()[1:])
        return P.paper_family("C", g, delta=d)
    return P.from_expression(text)


def timed(f):
    t = time.perf_counter()
    try:
        return f(), time.perf_counter() - t
    except (ReferenceBudgetError, ValueError) as exc:
        return exc, time.perf_counter() - t


def rel(x, y):
    return abs(x - y) / abs(y)


def main():
    warnings.simplefilter("ignore")
    quadrature_coefficients(P.from_expression("v**2"), 1.0)        # imports
    print(f"{'potential':44s}{'theta':>7s}{'t_ref':>8s}{'t_mp':>8s}{'t_solver':>9s}"
          f"{'panels':>8s}{'ref_est':>9s}{'err_D':>9s}{'err_K':>9s}")
    for text, theta in CASES_1D:
        th = theta or make(text).theta
        ref, t_ref = timed(lambda: quadrature_coefficients(make(text), th))  # noqa: B023 (called at once)
        mp, t_mp = timed(lambda: quadrature_coefficients_mp(make(text), th, dps=30))  # noqa: B023 (called at once)
        res, t_s = timed(lambda: coefficients(make(text), th))  # noqa: B023 (called at once)
        best = mp if not isinstance(mp, Exception) else ref
        if isinstance(res, Exception):
            eD = eK = "refused"
        else:
            eD, eK = f"{rel(res.D, best.D):9.1e}", f"{rel(res.K, best.K):9.1e}"
        mp_t = f"{t_mp:8.2f}" if not isinstance(mp, Exception) else f"{'-':>8s}"
        print(f"{text:44s}{th:7.3g}{t_ref:8.2f}{mp_t}{t_s:9.2f}{ref.n_panels:8d}"
              f"{ref.rel_error_estimate:9.1e}{eD:>9s}{eK:>9s}")
    print()
    print(f"{'radial profile':30s}{'d':>3s}{'theta':>7s}{'t_ref':>8s}{'t_solver':>9s}"
          f"{'cells':>8s}{'ref_est':>9s}{'err_D':>9s}{'err_K':>9s}")
    for text, d, theta in CASES_RADIAL:
        ref, t_ref = timed(lambda: radial_reference(P.radial_from_expression(text, d), theta))  # noqa: B023
        res, t_s = timed(lambda: coefficients(P.radial_from_expression(text, d), theta))  # noqa: B023
        print(f"{text:30s}{d:3d}{theta:7.3g}{t_ref:8.2f}{t_s:9.2f}{ref.n_cells:8d}"
              f"{ref.rel_error_estimate:9.1e}{rel(res.D[0, 0], ref.D):9.1e}"
              f"{rel(res.K[0, 0], ref.K):9.1e}")


if __name__ == "__main__":
    main()
