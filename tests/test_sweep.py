"""Parameter sweeps: kill-and-resume, truncated lines, dask, failures, summary counts,
non-finite values, output checks, batching."""

import concurrent.futures as cf
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from effcoef.cli import main as cli_main
from effcoef.sweep import MAX_LINE, expand_grid, load_sweep, parse_range, read_rows, sweep

VALUES = ("D", "K", "V", "lambda_1", "rel_error_estimate")


def _by_id(path):
    rows = read_rows(path)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), "a point was recorded twice"
    return {r["id"]: r for r in rows}


def _assert_identical(a, b):
    assert set(a) == set(b)
    for pid in a:
        assert a[pid]["status"] == b[pid]["status"] == "ok"
        for k in VALUES:
            x, y = a[pid][k], b[pid][k]
            assert (x is None and y is None) or float(x).hex() == float(y).hex(), (pid, k, x, y)


def test_grid_is_deterministic_and_ids_stable():
    g = {"case": ["A"], "gamma": [1, 10.0, np.float64(100)], "delta": [0.0]}
    p1, p2 = expand_grid(g), expand_grid(g)
    assert [p["id"] for p in p1] == [p["id"] for p in p2]
    assert [p["params"]["gamma"] for p in p1] == [1.0, 10.0, 100.0]
    assert len({p["id"] for p in p1}) == 3
    assert len(expand_grid({"gamma": [1.0, 1.0]})) == 1  # duplicates listed once
    # the ids of files written by earlier versions (sha256 of the canonical JSON): resumable
    assert expand_grid({"case": ["A"], "gamma": [10.0], "delta": [0.0]})[0]["id"] == \
        "6d61f89918cead44"
    assert expand_grid({"delta": [0.5], "theta": [0.1]},
                       family="v**4/4 - v**2/2 - {delta}*v")[0]["id"] == "2cf103942406703b"
    assert parse_range("1:1000:4:log") == pytest.approx([1, 10, 100, 1000])
    assert parse_range("0:1:3") == [0.0, 0.5, 1.0]
    assert parse_range("1,2.5") == [1.0, 2.5]
    with pytest.raises(ValueError):
        parse_range("1:2")
    with pytest.raises(ValueError):
        expand_grid({"gamma": [1.0]}, family="v**4/4 - {delta}*v")  # no theta, no delta


def _group(pgid):
    """Pids of the live processes in process group ``pgid`` (Linux /proc)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:  # state, ppid, pgrp
            out.append(int(d))
    return out


def _open_by(pid, path):
    """Whether process ``pid`` has ``path`` open."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == os.path.realpath(path):
                return True
        except OSError:
            pass
    return False


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
@pytest.mark.parametrize("method", ["fork", pytest.param("spawn", marks=pytest.mark.slow),
                                    pytest.param("forkserver", marks=pytest.mark.slow)])
def test_kill9_of_main_ends_workers_and_resume_matches(tmp_path, method):
    """kill -9 of the main process alone: its workers end within 15 s (the parent-death
    check polls every 0.5 s; 15 s leaves room for a loaded 2-core machine, where the check
    once took over 5 s under a parallel suite), only the main process held the output
    (lock), a resume right after it computes exactly the missing points, and the numbers
    equal an uninterrupted run with one point per task (batching changes nothing)."""
    out = tmp_path / "killed.jsonl"
    cmd = [sys.executable, "-m", "effcoef.cli", "sweep", "--case", "A",
           "--gamma", "1:1000:40:log", "--output", str(out), "--workers", "2", "--no-progress"]
    env = {**os.environ, "EFFCOEF_SWEEP_START_METHOD": method}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            start_new_session=True)  # own process group: cleaned up below
    pgid = proc.pid
    try:
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            if out.exists() and out.read_bytes().count(b"\n") >= 6:
                break
            time.sleep(0.002)
        workers = [p for p in _group(pgid) if p != proc.pid]
        assert proc.poll() is None, "the sweep finished before it could be killed"
        assert len(workers) >= 2, workers
        assert _open_by(proc.pid, out)
        held = [p for p in workers if _open_by(p, out)]
        assert not held, f"workers {held} hold the output file"
        os.kill(proc.pid, signal.SIGKILL)  # the main process only
        proc.wait(timeout=10)
        t_kill = time.time()
        while _group(pgid) and time.time() < t_kill + 15:
            time.sleep(0.02)
        left = _group(pgid)
        assert not left, f"processes {left} still alive 15 s after kill -9 of the main process"
    finally:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    n_killed = len(read_rows(out))
    assert 6 <= n_killed < 40

    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    assert f"{40 - n_killed} computed now, {n_killed} resumed" in res.stdout
    assert "Traceback" not in res.stderr

    if method != "fork":
        return
    ref = tmp_path / "ref.jsonl"
    summary = sweep({"case": ["A"], "gamma": parse_range("1:1000:40:log"), "delta": [0.0]},
                    ref, workers=2, progress=False, batch_seconds=0)
    assert summary.ok == 40 and summary.done == 40
    a, b = _by_id(out), _by_id(ref)
    assert len(a) == 40
    _assert_identical(a, b)


def test_truncated_last_line_is_dropped_on_resume(tmp_path):
    out = tmp_path / "t.jsonl"
    grid = {"case": ["A"], "gamma": [2.0, 5.0, 20.0]}
    sweep(grid, out, workers=1, progress=False)
    full = out.read_bytes()
    lines = full.splitlines(keepends=True)
    out.write_bytes(b"".join(lines[:2]) + lines[2][:25])  # killed half-way through line 3
    assert len(read_rows(out)) == 2
    assert len(load_sweep(out)) == 2
    s = sweep(grid, out, workers=1, progress=False)
    assert (s.done, s.skipped, s.ok) == (1, 2, 3)
    text = out.read_bytes()
    assert text.endswith(b"\n") and text.count(b"\n") == 3
    for line in text.splitlines():
        json.loads(line)
    _assert_identical(_by_id(out), {json.loads(x)["id"]: json.loads(x) for x in lines})


def test_failing_point_recorded_others_succeed(tmp_path):
    out = tmp_path / "f.jsonl"
    s = sweep({"delta": [0.0, 0.5], "theta": [0.3, -1.0]}, out,
              family="v**4/4 - v**2/2 - {delta}*v", workers=2, progress=False)
    df = load_sweep(out)
    assert len(df) == 4
    bad = df[df.status == "failed"]
    assert len(bad) == 2 and (bad.theta == -1.0).all()
    assert all("theta" in m for m in bad.error)
    good = df[df.status == "ok"]
    assert len(good) == 2 and good.D.notna().all() and good.error.isna().all()
    assert (s.total, s.done, s.skipped, s.failed, s.ok) == (4, 4, 0, 2, 2)

    out2 = tmp_path / "nc.jsonl"
    s2 = sweep({"theta": [0.2]}, out2, family="v**3 + 0*{theta}", workers=1, progress=False)
    row = read_rows(out2)[0]
    assert s2.failed == 1 and row["status"] == "failed" and "confining" in row["error"]

    # failures are recorded once: a resume does not retry them unless asked
    s3 = sweep({"delta": [0.0, 0.5], "theta": [0.3, -1.0]}, out,
               family="v**4/4 - v**2/2 - {delta}*v", workers=2, progress=False)
    assert (s3.done, s3.skipped, s3.failed) == (0, 4, 2)
    s4 = sweep({"delta": [0.0, 0.5], "theta": [0.3, -1.0]}, out,
               family="v**4/4 - v**2/2 - {delta}*v", workers=2, progress=False,
               retry_failed=True)
    assert (s4.done, s4.skipped, s4.failed) == (2, 2, 2)
    assert len(read_rows(out)) == 6 and len(load_sweep(out)) == 4


def test_summary_counts_and_resume_refusal(tmp_path):
    out = tmp_path / "s.jsonl"
    g1 = {"case": ["A"], "gamma": [1.5, 3.0, 6.0]}
    s1 = sweep(g1, out, workers=2, progress=False)
    assert (s1.total, s1.done, s1.skipped, s1.failed, s1.ok) == (3, 3, 0, 0, 3)
    assert s1.complete and 0 < s1.worst_rel_error < 1e-8 and s1.elapsed > 0
    g2 = {"case": ["A"], "gamma": [1.5, 3.0, 6.0, 12.0, 24.0]}
    s2 = sweep(g2, out, workers=2, progress=False)
    assert (s2.total, s2.done, s2.skipped, s2.failed, s2.ok) == (5, 2, 3, 0, 5)
    assert "5 (2 computed now, 3 resumed)" in str(s2)
    with pytest.raises(FileExistsError):
        sweep(g1, out, workers=1, progress=False, resume=False)
    df = load_sweep(out)
    assert sorted(df.gamma) == [1.5, 3.0, 6.0, 12.0, 24.0]  # file order = finishing order
    assert np.allclose(df.theta, 1 / df.gamma, rtol=1e-15)


def test_cli_sweep_bad_input_exits_2(tmp_path, capsys):
    assert cli_main(["sweep", "--gamma", "1:x:3", "-o", str(tmp_path / "x.jsonl")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "effcoef: error: bad range '1:x:3': expected start:stop:num[:log]"]


def test_dask_matches_local_pool(tmp_path):
    distributed = pytest.importorskip(
        "dask.distributed", reason="dask.distributed not installed (pip install 'effcoef[sweep]')")
    grid = {"case": ["A"], "gamma": parse_range("1:1000:20:log"), "delta": [0.0]}
    local = tmp_path / "local.jsonl"
    remote = tmp_path / "dask.jsonl"
    sweep(grid, local, workers=2, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        s = sweep(grid, remote, executor=client, progress=False)
    assert (s.total, s.ok, s.failed) == (20, 20, 0)
    _assert_identical(_by_id(local), _by_id(remote))


# --------------------------------------------------------------------------- hooks
# Near-trivial point functions (the documented ``point_function`` hook of sweep):
# module level, so the pool's workers can unpickle them.

def fake_point(point, row):
    """D = gamma, K = 2 gamma; gamma = 7, 8, 9 give non-finite results, 10 a set, 13 raises."""
    g = point["params"]["gamma"]
    if g == 13.0:
        raise RuntimeError("boom")
    if g == 7.0:
        return {"D": float("nan"), "K": 1.0}
    if g == 8.0:
        return {"D": 1.0, "K": float("inf")}
    if g == 9.0:
        return {"D": np.float32("nan")}
    if g == 10.0:
        return {"D": 1.0, "K": {1, 2}}  # not a number: cannot be a JSON row
    return {"D": g, "K": 2 * g, "rel_error_estimate": 0.0, "accurate": True}


def sleepy_point(point, row):
    time.sleep(0.002)
    return {"D": point["params"]["gamma"], "accurate": True}


def _strict(name):
    raise AssertionError(f"{name} in the JSON output")


class CountingExecutor(cf.ThreadPoolExecutor):
    """A thread pool that records the number of points of every task."""

    def __init__(self, n):
        super().__init__(n)
        self.sizes = []

    def submit(self, fn, *args, **kwargs):
        self.sizes.append(len(args[0]))  # the points of the task
        return super().submit(fn, *args, **kwargs)


# --------------------------------------------------------------------------- faults

def test_nonfinite_parameters_and_results_are_failed_rows(tmp_path):
    out = tmp_path / "nf.jsonl"
    gammas = [1.0, 7.0, float("nan"), 8.0, 9.0, 10.0, float("inf"), 13.0, 20.0] + \
        parse_range("1:1e400:3")
    assert parse_range("1:1e400:3")[0] == 1.0 and parse_range("2,1e400,nan")[1] == np.inf
    with cf.ThreadPoolExecutor(2) as ex:
        s = sweep({"gamma": gammas}, out, executor=ex, progress=False, point_function=fake_point)
    assert (s.total, s.done, s.ok, s.failed) == (9, 9, 2, 7)
    rows = [json.loads(x, parse_constant=_strict) for x in out.read_text().splitlines()]
    err = {r["gamma"] if r["gamma"] is not None else r["error"].split()[-1]: r["error"]
           for r in rows if r["status"] == "failed"}
    assert err == {"nan": "ValueError: non-finite parameter: gamma = nan",
                   "inf": "ValueError: non-finite parameter: gamma = inf",
                   7.0: "ArithmeticError: non-finite result: D = nan",
                   8.0: "ArithmeticError: non-finite result: K = inf",
                   9.0: "ArithmeticError: non-finite result: D = nan",
                   10.0: "TypeError: Object of type set is not JSON serializable",
                   13.0: "RuntimeError: boom"}
    for r in rows:
        if r["status"] == "failed":
            assert r["D"] is None and r["K"] is None and r["accurate"] is False
        else:
            assert r["D"] == r["gamma"] and r["error"] is None
    with cf.ThreadPoolExecutor(2) as ex:  # recorded once: a rerun computes nothing
        s2 = sweep({"gamma": gammas}, out, executor=ex, progress=False, point_function=fake_point)
    assert (s2.done, s2.skipped, s2.failed) == (0, 9, 7)
    # the hook is part of the id: its rows never pass for real points
    assert expand_grid({"gamma": [1.0]})[0]["id"] != \
        expand_grid({"gamma": [1.0]}, point_function=fake_point)[0]["id"]


def test_cli_nonfinite_gamma_is_recorded_and_the_sweep_goes_on(tmp_path, capsys):
    out = tmp_path / "g.jsonl"
    argv = ["sweep", "--gamma=2,nan,inf,1e400,3", "-o", str(out), "--workers", "2",
            "--no-progress"]
    assert cli_main(argv) == 1  # some points failed
    cap = capsys.readouterr()
    assert "Traceback" not in cap.err and "2 failed" not in cap.err
    rows = [json.loads(x, parse_constant=_strict) for x in out.read_text().splitlines()]
    assert sorted(r["status"] for r in rows) == ["failed", "failed", "ok", "ok"]
    assert {r["gamma"] for r in rows if r["status"] == "ok"} == {2.0, 3.0}
    assert "4 (4 computed now, 0 resumed)" in cap.out and "failed    : 2" in cap.out


@pytest.mark.parametrize("bad", ['{"id": [1, 2]}', '{"id": 5, "status": "ok"}', '[1, 2]',
                                 '{"status": "ok"}', '{"id": "x", "D": NaN}',
                                 '{"id": "x", "D": Infinity}', 'garbage {',
                                 '{"id": "' + "x" * MAX_LINE + '"}'])
def test_corrupt_line_is_named(tmp_path, bad):
    p = tmp_path / "c.jsonl"
    good = json.dumps({"id": "abc", "status": "ok"})
    p.write_text(good + "\n" + bad + "\n" + good + "\n")
    with pytest.raises(ValueError, match=r"c\.jsonl:2: corrupt line"):
        read_rows(p)
    with pytest.raises(ValueError, match=r"c\.jsonl:2: corrupt line"):
        sweep({"gamma": [1.0]}, p, executor=cf.ThreadPoolExecutor(1), progress=False,
              point_function=fake_point)
    if "[1, 2]" in bad:  # also as the last line: a killed write cannot produce it
        p.write_text(good + "\n" + bad + "\n")
        with pytest.raises(ValueError, match=r"c\.jsonl:2: corrupt line"):
            read_rows(p)


def test_output_must_be_a_regular_file(tmp_path, capsys):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in ("/dev/zero", "/dev/full", fifo, tmp_path):
        if not os.path.exists(path):
            continue
        with pytest.raises(ValueError, match="is not a regular file"):
            sweep({"gamma": [1.0]}, path, progress=False, point_function=fake_point)
        with pytest.raises(ValueError, match="is not a regular file"):
            read_rows(path)
    for dev in ("/dev/zero", "/dev/full"):
        if os.path.exists(dev):
            assert cli_main(["sweep", "--gamma", "1", "-o", dev]) == 2
            assert capsys.readouterr().err.strip().splitlines() == [
                f"effcoef: error: {dev} is not a regular file (a sweep file is JSON Lines)"]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_write_error_stops_cleanly_and_resumes(tmp_path):
    """A write that fails (here: the file size limit, like a full disk) ends the sweep
    with a one-line error, ends the pool, and leaves a file that resumes."""
    out = tmp_path / "full.jsonl"
    script = ("import resource, signal, sys\n"
              "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
              "resource.setrlimit(resource.RLIMIT_FSIZE, (600, 600))\n"
              "from effcoef.cli import main\n"
              "sys.exit(main(sys.argv[1:]))\n")
    proc = subprocess.Popen([sys.executable, "-c", script, "sweep", "--gamma", "1:10:6",
                             "-o", str(out), "--workers", "2", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        _, err = proc.communicate(timeout=120)
        assert not _group(proc.pid), "workers left behind"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    assert proc.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "cannot write" in lines[0] and "File too large" in lines[0]
    n = len(read_rows(out))
    assert 1 <= n < 6
    s = sweep({"case": ["A"], "gamma": parse_range("1:10:6"), "delta": [0.0]}, out,
              workers=2, progress=False)
    assert (s.done, s.skipped, s.ok) == (6 - n, n, 6)
    assert len(_by_id(out)) == 6


def test_template_and_grid_are_checked_before_formatting():
    g = {"theta": [0.1], "delta": [1 / 3]}
    for tpl in ("v**4/4 - {delta:>1000000000}*v", "v**2/2 - {delta!r}*v", "{0}*v + v**2",
                "v**2/2 - {delta.real}*v"):
        with pytest.raises(ValueError, match="plain"):
            expand_grid(g, family=tpl)
    with pytest.raises(ValueError, match="longer than"):
        expand_grid(g, family="v**2/2" + " + 0*v" * 400)
    with pytest.raises(ValueError, match="formats to"):
        expand_grid(g, family="v**2/2" + " + {delta}*v" * 80)  # 80 values of ~20 characters
    with pytest.raises(ValueError, match="no values"):
        expand_grid({"theta": [0.1]}, family="v**2/2 - {delta}*v")
    with pytest.raises(ValueError, match="more than 1000000 points"):
        expand_grid({"gamma": range(1, 1002), "delta": range(1001)})
    with pytest.raises(ValueError, match="num must be"):
        parse_range("1:2:100000000")


def test_point_function_must_be_picklable_for_the_pool(tmp_path):
    with pytest.raises(ValueError, match="picklable"):
        sweep({"gamma": [1.0]}, tmp_path / "l.jsonl", workers=1, progress=False,
              point_function=lambda point, row: {"D": 1.0})
    with cf.ThreadPoolExecutor(1) as ex:  # in-process executors take any callable
        s = sweep({"gamma": [1.0]}, tmp_path / "l.jsonl", executor=ex, progress=False,
                  point_function=lambda point, row: {"D": 1.0})
    assert s.ok == 1


def test_workers_above_cores_warn(tmp_path, capsys):
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    with pytest.warns(RuntimeWarning, match="more than the"):
        s = sweep({"gamma": [1.0, 2.0]}, tmp_path / "w.jsonl", workers=n + 1, progress=False,
                  point_function=fake_point)
    assert s.ok == 2


def test_batches_follow_the_measured_time_per_point(tmp_path):
    out = tmp_path / "b.jsonl"
    with CountingExecutor(2) as ex:
        s = sweep({"gamma": np.arange(1.0, 201.0)}, out, executor=ex, batch_seconds=0.02,
                  progress=False, point_function=sleepy_point)
    sizes = ex.sizes
    assert s.ok == 200 and sum(sizes) == 200 and len(_by_id(out)) == 200
    assert sizes[:2] == [1, 1]  # one probe point per worker, then batches
    # >= 2 ms per point: at most 0.02 s / 2 ms = 10 points per task; guided: the last are 1
    assert 2 <= max(sizes) <= 10 and sizes[-1] == 1
    assert len(sizes) < 100


def test_periodic_kind_matches_the_route_and_resumes(tmp_path):
    """A sweep over the periodic route (family 'periodic:<template>'): every row equals a direct
    effective_coefficients call bitwise, Lifson-Jackson holds (V0/theta = 5: D/theta =
    1/I0(5)^2, an independent closed form), and a second run resumes everything."""
    from scipy.special import i0

    from effcoef.periodic import effective_coefficients
    out = tmp_path / "per.jsonl"
    grid = {"V0": [0.5, 1.0], "theta": [0.1, 0.2], "force": [0.0, 3.0]}
    s = sweep(grid, str(out), family="periodic:{V0}*cos(2*pi*x)", workers=1, progress=False)
    assert s.total == 8 and s.failed == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    for row in rows:
        res = effective_coefficients(f"({row['V0']!r})*cos(2*pi*x)", row["theta"],
                                     force=row["force"], rtol=1e-8)
        assert row["D"] == res.D and row["V"] == res.V
        if row["force"] == 0.0 and row["V0"] / row["theta"] == 5.0:
            assert abs(row["D"] / row["theta"] * i0(5.0) ** 2 - 1) <= 1e-9
    again = sweep(grid, str(out), family="periodic:{V0}*cos(2*pi*x)", workers=1, progress=False)
    assert again.done == 0 and again.skipped == 8
    with pytest.raises(ValueError, match="neither placeholders"):
        sweep({"theta": [0.1], "delta": [1.0]}, str(tmp_path / "x.jsonl"),
              family="periodic:cos(2*pi*x)", progress=False)
