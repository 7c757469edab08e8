"""Parameter sweeps at scale: many independent points, written as they finish, resumable.

A *grid* is a dict of parameter lists, expanded as a Cartesian product in the
order the keys are given (deterministic).  Each point gets a stable id, the
first 16 hex digits of the SHA-256 of its canonical JSON (parameters, the
family or expression template, rtol), so a re-run recognises what is done.

Two kinds of points:

* the paper family (``family=None`` or ``"A"``/``"B"``/``"C"``): grid keys
  ``case`` (default ``family`` or ``"A"``), ``gamma``, ``delta`` (default 0) and
  optionally ``theta`` (default 1/gamma, the rescaled family);
* an expression template with ``{name}`` placeholders, e.g.
  ``"v**4/4 - v**2/2 - {delta}*v"``; each value is formatted in as
  ``(repr(float))`` and the result parsed by the safe parser
  (:func:`potentials.from_expression`); the grid must contain ``theta``.

Every point is computed independently by the same deterministic code
(:func:`effcoef.coefficients` runs with one BLAS thread), so the numbers are
bitwise identical whether the sweep ran in one go, was killed and resumed, or
ran on a dask cluster.  Results go to a JSON Lines file, one row per finished
point, flushed and fsync'ed; a point that raises is recorded with
``status = "failed"`` and its message and does not stop the sweep.

This module is a consumer of the solver; the solver core never imports it.
"""

import concurrent.futures as cf
import hashlib
import itertools
import json
import math
import numbers
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Optional

__all__ = ["sweep", "load_sweep", "read_rows", "expand_grid", "parse_range", "SweepSummary"]

_RESERVED = {"id", "status", "D", "K", "V", "lambda_1", "rel_error_estimate", "accurate",
             "error", "warning", "elapsed", "rtol", "expression", "potential"}
_CASES = ("A", "B", "C")


# --------------------------------------------------------------------------- grid

def _norm_value(key, x):
    if isinstance(x, bool):
        raise ValueError(f"grid value for {key!r} must be a number or a string, got {x!r}")
    if isinstance(x, str):
        return x
    if isinstance(x, numbers.Real):
        return float(x)
    try:  # numpy scalars
        return float(x)
    except (TypeError, ValueError):
        raise ValueError(f"grid value for {key!r} must be a number or a string, "
                         f"got {x!r}") from None


def _point_id(kind, template, params, rtol):
    canon = json.dumps({"kind": kind, "template": template, "params": params, "rtol": rtol},
                       sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(canon.encode()).hexdigest()[:16]


def _kind(family):
    if family is None:
        return "family", None
    if not isinstance(family, str):
        raise ValueError(f"family must be None, 'A', 'B', 'C' or an expression template, "
                         f"got {family!r}")
    if family.strip().upper() in _CASES:
        return "family", family.strip().upper()
    return "expression", family


def expand_grid(grid, family=None, rtol=1e-8):
    """The points of ``grid`` (Cartesian product, key order as given) as a list of dicts
    ``{"id": ..., "params": {...}, "kind": ..., "template": ..., "rtol": ...}``;
    duplicate points are listed once."""
    if not isinstance(grid, dict) or not grid:
        raise ValueError("grid must be a non-empty dict of parameter lists")
    kind, template = _kind(family)
    keys = list(grid)
    for k in keys:
        if not isinstance(k, str) or k in _RESERVED:
            raise ValueError(f"invalid grid parameter name {k!r}")
    values = []
    for k in keys:
        v = grid[k]
        if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
            v = [v]
        v = [_norm_value(k, x) for x in v]
        if not v:
            raise ValueError(f"grid parameter {k!r} has no values")
        values.append(v)
    if kind == "family":
        unknown = set(keys) - {"case", "gamma", "delta", "theta"}
        if unknown:
            raise ValueError(f"unknown parameters for the paper family: {sorted(unknown)}")
        if "gamma" not in keys:
            raise ValueError("the paper family needs 'gamma' in the grid")
        if template is not None and "case" in keys:
            raise ValueError("give the case either as family= or in the grid, not both")
    else:
        if "theta" not in keys:
            raise ValueError("an expression template needs 'theta' in the grid")
        try:
            template.format(**{k: 0.0 for k in keys})
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"template {template!r} does not match the grid "
                             f"parameters {keys}: {exc!r}") from None
    points, seen = [], set()
    for combo in itertools.product(*values):
        params = dict(zip(keys, combo))
        if kind == "family":
            params.setdefault("case", template or "A")
            if not isinstance(params["case"], str) or params["case"].upper() not in _CASES:
                raise ValueError(f"case must be one of {_CASES}, got {params['case']!r}")
            params["case"] = params["case"].upper()
        pid = _point_id(kind, template if kind == "expression" else None, params, rtol)
        if pid in seen:
            continue
        seen.add(pid)
        points.append({"id": pid, "params": params, "kind": kind,
                       "template": template if kind == "expression" else None, "rtol": rtol})
    return points


def parse_range(text):
    """``"start:stop:num[:log]"`` (linear or logarithmic, endpoints included), a comma
    list ``"1,2,5"`` or one number -> list of floats."""
    import numpy as np

    s = str(text).strip()
    if ":" in s:
        parts = s.split(":")
        if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3].strip().lower()
                                         not in ("log", "lin")):
            raise ValueError(f"bad range {text!r}: expected start:stop:num[:log]")
        try:
            a, b, n = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            raise ValueError(f"bad range {text!r}: expected start:stop:num[:log]") from None
        if n < 1:
            raise ValueError(f"bad range {text!r}: num must be >= 1")
        if len(parts) == 4 and parts[3].strip().lower() == "log":
            if a <= 0 or b <= 0:
                raise ValueError(f"bad range {text!r}: a log range needs start, stop > 0")
            return [float(x) for x in np.geomspace(a, b, n)]
        return [float(x) for x in np.linspace(a, b, n)]
    try:
        return [float(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"bad value list {text!r}: expected numbers separated by commas "
                         "or start:stop:num[:log]") from None


# --------------------------------------------------------------------------- one point

def _num(x):
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _compute_point(point):
    """Compute one point; never raises for a bad point (the row says status "failed")."""
    import potentials

    from .errors import AccuracyWarning
    from .solver import coefficients

    params = point["params"]
    row = {"id": point["id"], **params}
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AccuracyWarning)
            if point["kind"] == "family":
                pot = potentials.paper_family(params["case"], params["gamma"],
                                              delta=params.get("delta", 0.0), rescaled=True)
                theta = params["theta"] if "theta" in params else pot.theta
            else:
                expr = point["template"].format(
                    **{k: (f"({v!r})" if isinstance(v, float) else v) for k, v in params.items()})
                row["expression"] = expr
                pot = potentials.from_expression(expr)
                theta = params["theta"]
            row["theta"] = _num(theta) if not isinstance(theta, str) else theta
            res = coefficients(pot, theta, rtol=point["rtol"])
        row.update(status="ok", D=_num(res.D), K=_num(res.K), V=_num(res.V),
                   lambda_1=_num(res.eigenvalues[1]),
                   rel_error_estimate=_num(res.rel_error_estimate),
                   accurate=bool(res.accurate), error=None)
        msgs = [str(w.message) for w in caught if issubclass(w.category, AccuracyWarning)]
        row["warning"] = " | ".join(" ".join(m.split()) for m in msgs) or None
    except Exception as exc:  # noqa: BLE001 - recorded, the sweep goes on
        row.update(status="failed", D=None, K=None, V=None, lambda_1=None,
                   rel_error_estimate=None, accurate=False,
                   error=f"{type(exc).__name__}: {' '.join(str(exc).split())}", warning=None)
    row["rtol"] = point["rtol"]
    row["elapsed"] = time.perf_counter() - t0
    return row


# --------------------------------------------------------------------------- file

def read_rows(path, repair=False):
    """The complete rows of a sweep file (list of dicts, file order).  A partial or
    unparseable last line (a write killed half-way) is ignored; with ``repair=True``
    the file is truncated to its last complete line."""
    if not os.path.exists(path):
        return []
    with open(path, "rb") as fh:
        data = fh.read()
    rows, good_end, pos = [], 0, 0
    while pos < len(data):
        nl = data.find(b"\n", pos)
        if nl < 0:  # no newline: a killed write
            break
        line = data[pos:nl].strip()
        pos = nl + 1
        if not line:
            good_end = pos
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            if pos >= len(data):  # garbled last line
                break
            raise ValueError(f"{path}: corrupt line in the middle of the file: "
                             f"{line[:80]!r}") from None
        if not isinstance(obj, dict) or "id" not in obj:
            raise ValueError(f"{path}: line without an id: {line[:80]!r}")
        rows.append(obj)
        good_end = pos
    if repair and good_end < len(data):
        with open(path, "r+b") as fh:
            fh.truncate(good_end)
            fh.flush()
            os.fsync(fh.fileno())
    return rows


def load_sweep(path, latest=True):
    """The sweep file as a ``pandas.DataFrame`` (one row per point; with ``latest`` the
    last row of a point retried with ``retry_failed``).  Needs pandas."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover
        raise ImportError("load_sweep needs pandas: pip install 'effcoef[sweep]'") from None
    rows = read_rows(path)
    df = pd.DataFrame(rows)
    if latest and len(df):
        df = df.drop_duplicates(subset="id", keep="last").reset_index(drop=True)
    return df


def _lock(fh):
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise RuntimeError(f"{fh.name} is being written by another sweep") from None


# --------------------------------------------------------------------------- sweep

@dataclass
class SweepSummary:
    """Counts of one :func:`sweep` call (over the points of its grid)."""

    output: str
    total: int            # points in the grid
    done: int             # computed by this call (ok or failed)
    skipped: int          # already in the file, not recomputed (resumed)
    failed: int           # points of the grid whose recorded status is "failed"
    ok: int               # points of the grid recorded "ok"
    inaccurate: int       # ok points with accurate == False
    worst_rel_error: Optional[float]  # max rel_error_estimate over the ok points
    elapsed: float        # seconds (wall clock) of this call
    failures: list = field(default_factory=list, repr=False)  # (id, error) of failed points

    @property
    def complete(self):
        return self.ok + self.failed == self.total

    def __str__(self):
        worst = "n/a" if self.worst_rel_error is None else f"{self.worst_rel_error:.1e}"
        lines = [f"sweep     : {self.output}",
                 f"points    : {self.total} ({self.done} computed now, {self.skipped} resumed)",
                 f"ok        : {self.ok} ({self.inaccurate} not certified accurate)",
                 f"failed    : {self.failed}",
                 f"worst rel.: {worst}",
                 f"elapsed   : {self.elapsed:.2f} s"]
        for pid, err in self.failures[:5]:
            lines.append(f"  failed {pid}: {err}")
        if len(self.failures) > 5:
            lines.append(f"  ... and {len(self.failures) - 5} more")
        return "\n".join(lines)


def _as_executor(executor):
    """A concurrent.futures-style executor; a dask ``Client`` via ``get_executor()``."""
    if hasattr(executor, "get_executor") and hasattr(executor, "scheduler_info"):
        return executor.get_executor()
    if not hasattr(executor, "submit"):
        raise TypeError(f"executor must have submit() (concurrent.futures.Executor or a dask "
                        f"Client), got {type(executor).__name__}")
    return executor


def sweep(grid, output, *, family=None, executor=None, workers=None, rtol=1e-8,
          progress=True, resume=True, retry_failed=False):
    """Compute effective coefficients on every point of ``grid``, appending to ``output``.

    Parameters
    ----------
    grid : dict
        Parameter lists, e.g. ``{"case": ["A"], "gamma": [1, 10, 100], "delta": [0.0]}``.
    output : str or path
        JSON Lines file (one object per point: parameters, id, theta, status, D, K, V,
        lambda_1, rel_error_estimate, accurate, error, warning, rtol, elapsed).
    family : None, "A"/"B"/"C" or str
        The paper family (case from the grid, default A) or an expression template in
        v with ``{name}`` placeholders for grid parameters (the grid must have theta).
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Where to run; default a local ``ProcessPoolExecutor(workers)``.
    workers : int, optional
        Local processes (default ``os.cpu_count()``); also sets how many points are
        in flight with a given executor.
    rtol : float
        Requested relative accuracy of every point (part of the point id).
    progress : bool
        tqdm progress bar on stderr.
    resume : bool
        Skip points already recorded in ``output``.  With ``resume=False`` a
        non-empty ``output`` is refused (nothing is overwritten).
    retry_failed : bool
        Recompute points recorded as failed (a new row is appended; the last row of
        a point wins in :func:`load_sweep`).

    Returns
    -------
    SweepSummary
    """
    t0 = time.perf_counter()
    output = os.fspath(output)
    points = expand_grid(grid, family=family, rtol=rtol)
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    n_workers = workers or os.cpu_count() or 1

    parent = os.path.dirname(os.path.abspath(output))
    os.makedirs(parent, exist_ok=True)
    fh = open(output, "a+b")
    try:
        _lock(fh)
        if not resume and os.path.getsize(output) > 0:
            raise FileExistsError(f"{output} is not empty; resume=True to continue it "
                                  "or choose a new file")
        status = {}
        rows_by_id = {}
        for r in read_rows(output, repair=True):
            status[r["id"]] = r.get("status")
            rows_by_id[r["id"]] = r
        fh.seek(0, os.SEEK_END)

        todo = [p for p in points if p["id"] not in status
                or (retry_failed and status[p["id"]] != "ok")]
        skipped = len(points) - len(todo)
        done = 0

        def write(row):
            fh.write((json.dumps(row, allow_nan=False) + "\n").encode())
            fh.flush()
            os.fsync(fh.fileno())
            status[row["id"]] = row["status"]
            rows_by_id[row["id"]] = row

        from tqdm.auto import tqdm

        bar = tqdm(total=len(points), initial=skipped, disable=not progress, unit="pt",
                   desc="sweep", file=sys.stderr, dynamic_ncols=True)
        own = executor is None and todo
        ex = cf.ProcessPoolExecutor(max_workers=n_workers) if own else (
            _as_executor(executor) if todo else None)
        try:
            window = max(2, 4 * n_workers)
            it = iter(todo)
            pending = set()
            for p in itertools.islice(it, window):
                pending.add(ex.submit(_compute_point, p))
            while pending:
                finished, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                for fut in finished:
                    row = fut.result()  # infrastructure failures propagate; rows so far kept
                    write(row)
                    done += 1
                    bar.update(1)
                    if row["status"] != "ok":
                        bar.set_postfix_str(f"failed {sum(s != 'ok' for s in status.values())}")
                for p in itertools.islice(it, len(finished)):
                    pending.add(ex.submit(_compute_point, p))
        except BaseException:
            if own:
                ex.shutdown(wait=False, cancel_futures=True)
            else:
                for f in pending:
                    f.cancel()
            raise
        finally:
            bar.close()
        if own:
            ex.shutdown(wait=True)
    finally:
        fh.close()

    ids = [p["id"] for p in points]
    grid_rows = [rows_by_id[i] for i in ids if i in rows_by_id]
    ok_rows = [r for r in grid_rows if r.get("status") == "ok"]
    errs = [r["rel_error_estimate"] for r in ok_rows if r.get("rel_error_estimate") is not None]
    return SweepSummary(
        output=output, total=len(points), done=done, skipped=skipped,
        failed=sum(r.get("status") != "ok" for r in grid_rows), ok=len(ok_rows),
        inaccurate=sum(not r.get("accurate") for r in ok_rows),
        worst_rel_error=max(errs) if errs else None,
        elapsed=time.perf_counter() - t0,
        failures=[(r["id"], r.get("error")) for r in grid_rows if r.get("status") != "ok"])
