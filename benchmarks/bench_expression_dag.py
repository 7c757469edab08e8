"""Expression size and nesting within the parser's limits (issue 14).

Builds W = 4 chains of sin nested 93 deep (1867 characters) and a 3D sum of 9 chains
nested 30 deep, and times building the potentials (symbolic derivatives) and evaluating
W, W', W'' (resp. W, grad W, Laplacian) on 1000 points.

Measured on the project machine (2 cores, shared):

    case                    before (tree)   after (hash-consed DAG)
    1D build                0.60 s          0.024 s
    1D eval W,W',W''        10.1 s          0.009 s
    3D build                0.13 s          0.038 s
    3D eval W,grad,lap      2.09 s          0.085 s
"""

import time

import numpy as np

from potentials import from_expression
from potentials.nd import from_expression_nd


def main():
    s = "+".join("sin(" * 93 + "v" + ")" * 93 for _ in range(4))
    s3 = "+".join("sin(" * 30 + f"v{i}*v{j}" + ")" * 30 for i in (1, 2, 3) for j in (1, 2, 3))
    rows = []
    t = time.perf_counter()
    p = from_expression(s)
    rows.append(("1D build", time.perf_counter() - t))
    x = np.linspace(-2, 2, 1000)
    t = time.perf_counter()
    p.W(x), p.dW(x), p.d2W(x)
    rows.append(("1D eval W,W',W''", time.perf_counter() - t))
    t = time.perf_counter()
    q = from_expression_nd(s3, 3)
    rows.append(("3D build", time.perf_counter() - t))
    V = np.random.default_rng(0).uniform(-1, 1, (3, 1000))
    t = time.perf_counter()
    q.W(V), q.grad(V), q.laplacian(V)
    rows.append(("3D eval W,grad,lap", time.perf_counter() - t))
    print(f"{'case':24s}{'seconds':>10s}")
    for name, sec in rows:
        print(f"{name:24s}{sec:10.4f}")
    print(f"distinct nodes W, W', W'': {p.tree.count_nodes()}, {p.dtree.count_nodes()}, "
          f"{p.d2tree.count_nodes()} (tree forms {p.tree.tree_size()}, {p.dtree.tree_size()}, "
          f"{p.d2tree.tree_size()})")


if __name__ == "__main__":
    main()
