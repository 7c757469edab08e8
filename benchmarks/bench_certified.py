"""Certified domain machinery on the issue-14 potentials: time (s) of each step.

Columns: certified minimum on [-10, 10] (bnb), sublevel cover at Wmin + 45 theta (bnb),
monotone radii on both sides (bnb), and the independent mpmath critical hull
(effcoef.reference.enclosure).  First calls include imports; run twice to compare.
"""

import time

from effcoef.reference.enclosure import critical_hull
from potentials import from_expression
from potentials.bnb import certified_minimum, monotone_radius, sublevel_cover

CASES = [("((v-0.9)**2-1)**2", 0.02), ("68.2*(v**4/4 - 2.82*v**3/3 + 1.82*v**2/2)", 0.1),
         ("1e10*(v-3.0001)**2", 0.1), ("v**2 + 0.1*sin(1000*v)", 0.1),
         ("v**2 + sin(100*v)", 0.1), ("v**4/4 - v**2/2", 0.01)]


def main():
    certified_minimum(from_expression("v**2"), -1, 1)   # imports
    print(f"{'potential':44s}{'min':>8s}{'cover':>8s}{'mono':>8s}{'hull':>8s}  pieces  hull")
    for text, theta in CASES:
        p = from_expression(text)
        t0 = time.perf_counter()
        m = certified_minimum(p, -10, 10)
        t1 = time.perf_counter()
        c = sublevel_cover(p, -10, 10, m.hi + 45 * theta)
        t2 = time.perf_counter()
        monotone_radius(p, 1, m.x), monotone_radius(p, -1, m.x)
        t3 = time.perf_counter()
        h = critical_hull(p, theta)
        t4 = time.perf_counter()
        print(f"{text:44s}{t1 - t0:8.3f}{t2 - t1:8.3f}{t3 - t2:8.3f}{t4 - t3:8.3f}  "
              f"{len(c.intervals):6d}  [{h.a:.6g}, {h.b:.6g}]")


if __name__ == "__main__":
    main()
