"""Sweep throughput: the 100-point Case A sweep (gamma logspace 1..1000, rescaled, rtol 1e-8)
with 1 and 2 local worker processes; prints wall times, the speedup and checks that both
runs give bitwise identical numbers.

    python benchmarks/bench_sweep.py [--points 100] [--workers 1,2]
"""

import argparse
import os
import sys
import tempfile
import time

from effcoef.sweep import parse_range, read_rows, sweep


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=100)
    ap.add_argument("--workers", default="1,2")
    args = ap.parse_args()
    grid = {"case": ["A"], "gamma": parse_range(f"1:1000:{args.points}:log"), "delta": [0.0]}
    workers = [int(w) for w in args.workers.split(",")]
    print(f"Case A sweep, {args.points} points, gamma in [1, 1000] (log), "
          f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    times, values = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for w in workers:
            out = os.path.join(tmp, f"w{w}.jsonl")
            t0 = time.perf_counter()
            s = sweep(grid, out, workers=w, progress=False)
            times[w] = time.perf_counter() - t0
            rows = {r["id"]: r for r in read_rows(out)}
            values[w] = {i: (r["D"], r["K"], r["lambda_1"]) for i, r in rows.items()}
            per_point = sum(r["elapsed"] for r in rows.values()) / len(rows)
            print(f"workers={w}: {times[w]:6.2f} s wall  ({s.ok} ok, {s.failed} failed, "
                  f"worst rel. error {s.worst_rel_error:.1e}, {1e3 * per_point:.0f} ms/point "
                  f"inside the workers)")
    base = workers[0]
    for w in workers[1:]:
        same = values[w] == values[base]
        print(f"speedup {w} vs {base} workers: {times[base] / times[w]:.2f}x  "
              f"(numbers bitwise identical: {same})")


if __name__ == "__main__":
    main()
