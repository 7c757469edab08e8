"""Parameter sweeps: kill-and-resume, truncated lines, dask, failures, summary counts."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from effcoef.sweep import expand_grid, load_sweep, parse_range, read_rows, sweep

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
    assert parse_range("1:1000:4:log") == pytest.approx([1, 10, 100, 1000])
    assert parse_range("0:1:3") == [0.0, 0.5, 1.0]
    assert parse_range("1,2.5") == [1.0, 2.5]
    with pytest.raises(ValueError):
        parse_range("1:2")
    with pytest.raises(ValueError):
        expand_grid({"gamma": [1.0]}, family="v**4/4 - {delta}*v")  # no theta, no delta


def test_kill_and_resume_matches_uninterrupted(tmp_path):
    out = tmp_path / "killed.jsonl"
    ref = tmp_path / "ref.jsonl"
    cmd = [sys.executable, "-m", "effcoef.cli", "sweep", "--case", "A",
           "--gamma", "1:1000:40:log", "--output", str(out), "--workers", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    n = 0
    deadline = time.time() + 60
    try:
        while time.time() < deadline and proc.poll() is None:
            n = out.read_bytes().count(b"\n") if out.exists() else 0
            if n >= 10:
                os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.002)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL, "the sweep finished before it could be killed"
    n_killed = len(read_rows(out))
    assert 10 <= n_killed < 40

    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert f"{40 - n_killed} computed now, {n_killed} resumed" in res.stdout

    summary = sweep({"case": ["A"], "gamma": parse_range("1:1000:40:log"), "delta": [0.0]},
                    ref, workers=2, progress=False)
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


def test_cli_sweep_bad_input_exits_2(tmp_path):
    res = subprocess.run([sys.executable, "-m", "effcoef.cli", "sweep", "--gamma", "1:x:3",
                          "-o", str(tmp_path / "x.jsonl")], capture_output=True, text=True)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == ["effcoef: error: bad range '1:x:3': "
                                               "expected start:stop:num[:log]"]


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
