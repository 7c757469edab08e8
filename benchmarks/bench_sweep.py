"""Sweep throughput: local process pool vs dask LocalCluster, per-point overhead, 16-worker model.

1. The Case A sweep (gamma logspace 1..1000, rescaled, rtol 1e-8, default 100 points) with
   1, 2, ... workers on the local process pool and on a dask LocalCluster (one thread per
   worker process; the cluster is started and its workers have imported effcoef before
   the clock starts, as on a long-lived cluster).  Points per second, speed-up over one
   worker, dask / pool, and whether all runs gave bitwise identical numbers.  Best and
   median of --repeat runs, pool and dask interleaved (the machine is shared).
2. The per-point overhead of each path: wall time per point of a sweep of near-trivial
   points (the documented ``point_function`` hook of ``effcoef.sweep.sweep``), with the
   adaptive batching and with one point per task (``batch_seconds=0``), and the CPU time
   of the main process per point (the serial part that bounds the scaling).
3. A model of the 16-core measurement of issue 17 (2400 Case A points, 16 workers) that
   runs on this machine: every point's compute is replaced by a sleep of the time that
   point took (measured in part 1 at one worker, interpolated in log gamma and scaled to
   the 16-core machine's 9.25 ms per point), so 16 workers run with their real scheduling,
   batching, IPC, row encoding, writing and main-process work while the compute needs no
   cores.  Wall times here are inflated by the shared machine's load, CPU times are not:
   the prediction for 16 idle cores is T = S + (compute + main CPU + worker CPU) / 16 +
   tail (S the serial start, tail the last task), and the speed-up is against the sum of
   the compute times (the ideal one-worker time).  What it cannot show: slower compute
   per core when 16 cores share caches, memory bandwidth and turbo.

    python benchmarks/bench_sweep.py [--points 100] [--workers 1,2] [--repeat 5]
                                     [--trivial 20000] [--model-points 2400]
                                     [--model-workers 16] [--model-dask-processes 2]
                                     [--no-dask] [--no-model]
"""

import argparse
import logging
import os
import resource
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np

from effcoef.sweep import parse_range, read_rows, sweep

TARGET_DASK_OVERHEAD = 0.5e-3   # s per point, trivial points (issue 17)
TARGET_DASK_VS_POOL = 0.85      # dask within 15% of the pool on the 100-point sweep
TARGET_POOL_SPEEDUP = 12.0      # 16 workers over one (16-core machine)
MACHINE16_PER_POINT = 22.2 / 2400  # s per Case A point on the 16-core machine (one worker)


def trivial_point(point, row):
    """Near-trivial point (benchmark hook): no solve, a few dict operations."""
    return {"D": point["params"]["gamma"], "accurate": True}


def _timed(fn):
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def _values(path):
    return {r["id"]: (r["D"], r["K"], r["V"], r["lambda_1"]) for r in read_rows(path)}


def _cluster(n, threads=1):
    from dask.distributed import Client, LocalCluster

    logging.getLogger("distributed").setLevel(logging.CRITICAL)  # shutdown chatter
    cluster = LocalCluster(n_workers=n, threads_per_worker=threads, processes=True,
                           dashboard_address=":0", silence_logs=logging.CRITICAL)
    client = Client(cluster)
    client.run(lambda: __import__("effcoef.sweep"))  # import on every worker before timing
    return cluster, client


def case_a(args, tmp, workers, use_dask):
    grid = {"case": ["A"], "gamma": parse_range(f"1:1000:{args.points}:log"), "delta": [0.0]}
    times = {("pool", w): [] for w in workers}
    if use_dask:
        times.update({("dask", w): [] for w in workers})
    values, per_point = {}, {}
    wcpu = {k: [] for k in times}  # CPU seconds of the worker processes per run
    mcpu = {k: [] for k in times}  # and of the main process (with dask: client, scheduler)
    idle = {}
    # warm-up: the main process imports what the points need (the pool's forked workers
    # inherit it), so the first timed run does not pay it alone
    sweep({"case": ["A"], "gamma": [2.0, 3.0]}, os.path.join(tmp, "warm.jsonl"),
          workers=1, progress=False)
    run = 0
    for w in workers:  # one cluster at a time (an idle one would take CPU from the others)
        cluster = client = None
        try:
            if use_dask:
                cluster, client = _cluster(w)
                # warm-up: the first solve in a fresh process loads lazily imported code
                sweep({"case": ["A"], "gamma": [2.0, 3.0]}, os.path.join(tmp, f"warm{w}.jsonl"),
                      executor=client, progress=False)
                idle[w] = _dask_idle_rate(client)
            for rep in range(args.repeat):
                for path in (["pool", "dask"] if use_dask else ["pool"]):
                    run += 1
                    out = os.path.join(tmp, f"case_a_{run}.jsonl")
                    ex = client if path == "dask" else None
                    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                    d0 = _dask_cpu(ex) if ex is not None else 0.0
                    _, wall, main_cpu = _timed(lambda ex=ex, out=out, w=w: sweep(grid, out, workers=w,
                                                             executor=ex, progress=False))
                    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                    times[(path, w)].append(wall)
                    # dask: without the background that runs whatever the sweep does
                    wcpu[(path, w)].append(_dask_cpu(ex) - d0 - idle[w] * w * wall
                                           if ex is not None else
                                           c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime)
                    mcpu[(path, w)].append(main_cpu)
                    vals = _values(out)
                    values.setdefault(path, vals)
                    if vals != values[path] or vals != values["pool"]:
                        values["mismatch"] = True
                    if path == "pool" and w == workers[0] and rep == 0:
                        per_point = {r["gamma"]: r["elapsed"] for r in read_rows(out)}
        finally:
            if client is not None:
                client.close()
                cluster.close()
    best = {k: min(v) for k, v in times.items()}
    med = {k: statistics.median(v) for k, v in times.items()}
    n = args.points
    print(f"\n1. Case A sweep, {n} points (gamma 1..1000 log, rescaled, rtol 1e-8), best and "
          f"median of {args.repeat} interleaved runs")
    print(f"   {'executor':<18}{'workers':>8}{'best s':>8}{'median s':>10}{'points/s':>10}"
          f"{'vs ' + str(workers[0]) + ' worker':>13}{'dask/pool':>11}")
    for path in (["pool", "dask"] if use_dask else ["pool"]):
        for w in workers:
            t = best[(path, w)]
            base = best[(path, workers[0])]
            ratio = (f"{best[('pool', w)] / t:11.2f}" if path == "dask" else "")
            label = "process pool" if path == "pool" else "dask LocalCluster"
            print(f"   {label:<18}{w:>8}{t:8.2f}{med[(path, w)]:10.2f}{n / t:10.1f}"
                  f"{base / t:13.2f}{ratio}")
    print("   (points/s, speed-up and dask/pool from the best run of each: the least disturbed "
          "by other\n   processes on a shared machine)")
    cpu = {k: statistics.median(v) / n for k, v in wcpu.items()}
    main = {k: statistics.median(v) / n for k, v in mcpu.items()}
    print("   CPU per point (median; load-independent), ms, workers + main process: " + ", ".join(
        f"{p} {w}: {1e3 * cpu[(p, w)]:.1f} + {1e3 * main[(p, w)]:.1f}" for p, w in cpu))
    if use_dask:
        wm = max(workers)
        print(f"   an idle dask worker process uses {idle[wm]:.1%} of a core (event loop, "
              "heartbeats, monitor),\n   left out of the dask CPU per point above and charged "
              "separately in part 3")
        bg = idle[wm] * wm * best[("dask", wm)] / n
        r = (cpu[("pool", wm)] + main[("pool", wm)]) / (cpu[("dask", wm)] + main[("dask", wm)]
                                                        + bg)
        print(f"   dask / pool from CPU per point (what an idle {wm}-core machine would show, "
              f"CPU being the limit): {r:.2f}")
    same = "mismatch" not in values
    print(f"   numbers bitwise identical across all runs and executors: {same}")
    mean = statistics.fmean(per_point.values())
    print(f"   compute per point inside the workers (one worker): {1e3 * mean:.1f} ms mean")
    wmax = max(workers)
    dask = (dict(ratio=cpu[("dask", wmax)] / cpu[("pool", wmax)], idle=idle[wmax]) if use_dask
            else None)
    return best, per_point, same, dask


def overhead(args, tmp, w, use_dask):
    n = args.trivial
    grid_big = {"gamma": np.arange(1.0, n + 1.0)}
    small = max(200, n // 20)
    grid_small = {"gamma": np.arange(1.0, small + 1.0)}
    rows = []
    cluster = client = None
    try:
        runs = [("process pool", None, grid_big, None), ("process pool", None, grid_small, 0)]
        if use_dask:
            cluster, client = _cluster(w)
            sweep({"gamma": [1.0]}, os.path.join(tmp, "warm.jsonl"), executor=client,
                  progress=False, point_function=trivial_point)
            runs += [("dask", client, grid_big, None), ("dask", client, grid_small, 0)]
        for i, (label, ex, grid, bs) in enumerate(runs):
            out = os.path.join(tmp, f"trivial_{i}.jsonl")
            s, wall, cpu = _timed(lambda bs=bs, ex=ex, grid=grid, out=out: sweep(
                grid, out, executor=ex, workers=w, progress=False, batch_seconds=bs,
                point_function=trivial_point))
            assert s.ok == s.total
            rows.append((label, s.total, "adaptive" if bs is None else "1 per task",
                         wall / s.total, cpu / s.total))
    finally:
        if client is not None:
            client.close()
            cluster.close()
    print(f"\n2. Per-point overhead: near-trivial points (point_function hook), {w} workers")
    print(f"   {'path':<14}{'points':>8}  {'batching':<11}{'wall/point':>12}"
          f"{'main CPU/point':>16}")
    for label, total, mode, wpp, cpp in rows:
        print(f"   {label:<14}{total:>8}  {mode:<11}{1e6 * wpp:10.0f} us{1e6 * cpp:14.0f} us")
    return {(r[0], r[2]): r[3] for r in rows}


def _dask_cpu(client):
    """CPU seconds used so far by all worker processes of a dask cluster."""
    return sum(client.run(time.process_time).values())


def _dask_idle_rate(client, seconds=2.0):
    """CPU fraction of a core that one idle dask worker process uses (event loop,
    heartbeats, system monitor): it runs for as long as the cluster does."""
    n = len(client.scheduler_info()["workers"])
    c0 = _dask_cpu(client)
    time.sleep(seconds)
    return max(0.0, (_dask_cpu(client) - c0) / seconds / n)


def model(args, tmp, per_point, use_dask, dask_cpu=None):
    dask_cpu = dask_cpu or dict(ratio=1.0, idle=0.0)
    w, n = args.model_workers, args.model_points
    procs = max(1, min(args.model_dask_processes, w))
    threads = -(-w // procs)
    g = np.array(sorted(per_point))
    t = np.array([per_point[x] for x in g])
    gammas = np.geomspace(1.0, 1000.0, n)
    secs = np.interp(np.log(gammas), np.log(g), t)
    secs *= MACHINE16_PER_POINT / secs.mean()
    ideal = float(secs.sum())
    t_last = float(secs[-max(1, n // 10):].mean())  # the grid order puts the slow points last
    # the sleep time rides along with gamma in one string value (two grid keys would
    # make a Cartesian product): the workers of a dask cluster need it inside the point
    grid = {"gamma": [f"{float(a)!r}|{float(b)!r}" for a, b in zip(gammas, secs)]}
    trivial = {"gamma": [f"{float(a)!r}|0.0" for a in range(w)]}
    results = {}
    cluster = client = None
    try:
        runs = [("process pool", None)]
        if use_dask:
            cluster, client = _cluster(procs, threads)
            sweep({"gamma": ["1.0|0.0"]}, os.path.join(tmp, "mwarm.jsonl"), executor=client,
                  progress=False, point_function=model_point)
            runs.append(("dask", client))
        for label, ex in runs:
            out = os.path.join(tmp, f"model_{label.split()[0]}.jsonl")
            run = lambda path, grid_, ex=ex: sweep(grid_, path, executor=ex,  # noqa: E731
                                                   workers=w, progress=False,
                                                   point_function=model_point)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # 16 workers > 2 cores
                # serial start-up: expanding the grid and reading the file (a resume with
                # nothing left to do) and starting and stopping the workers (w empty points)
                _, _, s_pool = _timed(lambda out=out, run=run: run(out + ".start", trivial))
                c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                d0 = _dask_cpu(ex) if ex is not None else 0.0
                s, wall, cpu = _timed(lambda out=out, run=run: run(out, grid))
                c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                d1 = _dask_cpu(ex) if ex is not None else 0.0
                if ex is not None:  # the emulation's own background (procs, not w processes)
                    d1 -= dask_cpu["idle"] * procs * wall
                _, _, s_grid = _timed(lambda out=out, run=run: run(out, grid))
            assert s.ok == n, s
            inside = sum(r["t_end"] - r["t_start"] for r in read_rows(out))
            workers_cpu = (d1 - d0 if ex is not None else
                           c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime)
            floor = 1 if ex is None else max(1, int(0.5 / 10 / float(secs.mean())))
            start, tail = s_pool + s_grid, floor * t_last
            compute = ideal * (dask_cpu["ratio"] if ex is not None else 1.0)
            t16 = start + (compute + cpu + workers_cpu) / w + tail
            if ex is not None:  # w worker processes, each with its idle background
                t16 /= 1.0 - dask_cpu["idle"]
            results[label] = dict(wall=wall, cpu=cpu, workers_cpu=workers_cpu, start=start,
                                  tail=tail, t16=max(t16, cpu), inflation=inside / ideal)
    finally:
        if client is not None:
            client.close()
            cluster.close()
    print(f"\n3. Model of the 16-core run: {n} Case A points of {1e3 * MACHINE16_PER_POINT:.2f} ms "
          f"mean (the profile measured in part 1, scaled to the 16-core machine), {w} workers")
    print(f"""   How: each point's compute is replaced by a sleep of its time, so {w} workers run
   here with their real scheduling, batching, IPC, row encoding, writing and main-process
   work while the compute needs no cores ({w} pool processes; dask {procs} processes x
   {threads} threads).  Wall times on this shared 2-core machine are inflated by its load
   (sleeps wake late, by 'sleep +'), but CPU times are not, so the prediction for {w} idle
   cores is  T = S + (compute + main CPU + worker CPU) / {w} + tail,  with S the serial
   start (grid, file, starting and stopping the workers), tail the last task (one point on
   the pool, a tenth of batch_seconds on dask, of the slowest points, which come last) and
   compute the sum of the point times ({ideal:.2f} s, the ideal one-worker time: the speed-up
   is a lower bound of the one over a real one-worker run).  For dask the compute is
   charged x{dask_cpu['ratio']:.2f} (the CPU its workers spent per point in part 1, relative to the
   pool's) and T is divided by 1 - {dask_cpu['idle']:.3f} (the idle background of each of the {w}
   worker processes).  Not modelled: a core computing slower when all 16 are busy
   (caches, memory bandwidth, turbo clock).""")
    print(f"   {'executor':<14}{'wall here':>10}{'sleep +':>9}{'main CPU':>10}{'worker CPU':>12}"
          f"{'S':>7}{'tail':>7}{'T':>7}{'speed-up':>10}{'dask/pool':>11}")
    for label, r in results.items():
        ratio = (f"{results['process pool']['t16'] / r['t16']:11.2f}" if label == "dask" else "")
        print(f"   {label:<14}{r['wall']:10.2f}{r['inflation'] - 1:9.0%}{r['cpu']:10.2f}"
              f"{r['workers_cpu']:12.2f}{r['start']:7.2f}{r['tail']:7.3f}{r['t16']:7.2f}"
              f"{ideal / r['t16']:10.1f}{ratio}")
    return {k: dict(r, speedup=ideal / r["t16"]) for k, r in results.items()}


def model_point(point, row):
    """Emulated point for part 3: gamma and the sleep time travel as 'gamma|seconds'."""
    gamma, seconds = (float(x) for x in point["params"]["gamma"].split("|"))
    t0 = time.time()
    time.sleep(seconds)
    return {"D": gamma, "accurate": True, "t_start": t0, "t_end": time.time()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=100)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--trivial", type=int, default=20000)
    ap.add_argument("--model-points", type=int, default=2400)
    ap.add_argument("--model-workers", type=int, default=16)
    ap.add_argument("--model-dask-processes", type=int, default=2)
    ap.add_argument("--no-dask", action="store_true")
    ap.add_argument("--no-model", action="store_true")
    args = ap.parse_args()
    workers = [int(w) for w in args.workers.split(",")]
    use_dask = not args.no_dask
    if use_dask:
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            print("dask.distributed not installed: pool only (pip install 'effcoef[sweep]')")
            use_dask = False
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average "
          f"{os.getloadavg()[0]:.1f} at start")
    with tempfile.TemporaryDirectory() as tmp:
        best, per_point, same, dask_cpu = case_a(args, tmp, workers, use_dask)
        over = overhead(args, tmp, max(workers), use_dask)
        if not args.no_model:
            res = model(args, tmp, per_point, use_dask, dask_cpu)
    print("\nChecks (issue 17)")
    wmax = max(workers)
    checks = [("numbers bitwise identical (pool, dask, all worker counts)", same)]
    if use_dask:
        d = over[("dask", "adaptive")]
        checks.append((f"dask per-point overhead {1e3 * d:.3f} ms <= "
                       f"{1e3 * TARGET_DASK_OVERHEAD:.1f} ms (trivial points)",
                       d <= TARGET_DASK_OVERHEAD))
        r = best[("pool", wmax)] / best[("dask", wmax)]
        checks.append((f"dask / pool throughput on the {args.points}-point Case A sweep at "
                       f"{wmax} workers: {r:.2f} >= {TARGET_DASK_VS_POOL}", r >= TARGET_DASK_VS_POOL))
    if workers[0] == 1 and wmax >= 16:  # the 16-core machine of the issue
        sp = best[("pool", 1)] / best[("pool", wmax)]
        checks.append((f"pool speed-up at {wmax} workers over one: {sp:.1f} >= "
                       f"{TARGET_POOL_SPEEDUP:.0f}", sp >= TARGET_POOL_SPEEDUP))
    if not args.no_model:
        sp = res["process pool"]["speedup"]
        checks.append((f"model, {args.model_workers} idle cores: pool speed-up {sp:.1f} >= "
                       f"{TARGET_POOL_SPEEDUP:.0f}", sp >= TARGET_POOL_SPEEDUP))
        if "dask" in res:
            r = res["dask"]["speedup"] / sp
            checks.append((f"model, {args.model_workers} idle cores: dask / pool {r:.2f} >= "
                           f"{TARGET_DASK_VS_POOL}", r >= TARGET_DASK_VS_POOL))
    for text, ok in checks:
        print(f"   [{'PASS' if ok else 'FAIL'}] {text}")


if __name__ == "__main__":
    main()
