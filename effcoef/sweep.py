r"""Parameter sweeps at scale: many independent points, written as they finish, resumable.

A *grid* is a dict of parameter lists, expanded as a Cartesian product in the
order the keys are given (deterministic).  Each point gets a stable id, the
first 16 hex digits of the SHA-256 of its canonical JSON (parameters, the
family or expression template, rtol), so a re-run recognises what is done.

Point kinds
-----------
Every point has a *kind*, looked up in the table :data:`POINT_KINDS`:

* ``"family"``, the paper family (``family=None`` or ``"A"``/``"B"``/``"C"``):
  grid keys ``case`` (default ``family`` or ``"A"``), ``gamma``, ``delta``
  (default 0) and optionally ``theta`` (default 1/gamma, the rescaled family);
* ``"expression"``, an expression template with plain ``{name}`` placeholders,
  e.g. ``"v**4/4 - v**2/2 - {delta}*v"``; each value is formatted in as
  ``(repr(float))`` and the result parsed by the safe parser
  (:func:`potentials.from_expression`); the grid must contain ``theta``.

Adding a kind (for example a periodic route over theta and force) is one small
function and one table entry::

    def _periodic_point(point, row):
        p = point["params"]                      # floats (and strings) of the grid
        row["theta"] = p["theta"]                 # optional extra row fields, set early
        return periodic_coefficients(p["theta"], p["force"], rtol=point["rtol"])

    POINT_KINDS["periodic"] = PointKind("periodic", _periodic_point,
                                        params=("theta", "force"), required=("theta", "force"),
                                        warm=_warm_periodic)  # optional: see PointKind

after which ``sweep(grid, out, family="periodic")`` runs it.  The function gets
the point (``id``, ``params``, ``kind``, ``template``, ``rtol``) and the row
being built (``id`` and the parameters); it returns the result object (read by
:func:`result_fields`) or a mapping of row fields.  It may raise: the point is
then recorded as failed with the message.  Non-finite parameters are refused
before it runs and non-finite results after it returns, for every kind.

Execution
---------
Every point is computed independently by the same deterministic code
(:func:`effcoef.coefficients` runs with one BLAS thread), so the numbers are
bitwise identical whether the sweep ran in one go, was killed and resumed,
ran in batches or on a dask cluster.  Points are sent to the workers in
*batches* (several points per task): the batch size follows the measured
compute time per point so that one task runs about ``batch_seconds`` (0.1 s on
the local pool, 0.5 s on other executors), capped by guided self-scheduling
(at most 1/4 of the remaining points per worker on the local pool, 1/2 on other
executors, so the last tasks are small and the workers finish together) and never
below a tenth of ``batch_seconds``.  The rows of a task are appended to the JSON
Lines file as soon as it finishes (a kill of the process loses only the batches
in flight) and fsync'ed by a background thread at most once a second and at the
end (the bound on what a crash of the whole machine can lose).  A point that raises
is recorded with ``status = "failed"`` and its message and does not stop the
sweep.

The local pool's workers end within a second when the main process dies (also
by ``kill -9``): on Linux through ``prctl(PR_SET_PDEATHSIG)``, elsewhere by
polling ``os.getppid()`` every 0.5 s.  Only the main process holds the output
file's lock (a forked worker drops its inherited descriptor), so a sweep can be
resumed right after its main process was killed.  The pool uses the ``fork``
start method on Linux (workers inherit the imported solver: no start-up cost)
and the platform default elsewhere; the environment variable
``EFFCOEF_SWEEP_START_METHOD`` (``fork``, ``spawn`` or ``forkserver``)
overrides it.

This module is a consumer of the solver; the solver core never imports it.
"""

import concurrent.futures as cf
import hashlib
import itertools
import json
import math
import numbers
import os
import pickle
import signal
import stat
import string
import sys
import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Union

from potentials.expression import MAX_LENGTH

from .errors import AccuracyWarning

__all__ = ["sweep", "load_sweep", "read_rows", "expand_grid", "parse_range", "SweepSummary",
           "PointKind", "POINT_KINDS", "result_fields"]

_RESERVED = {"id", "status", "D", "K", "V", "lambda_1", "rel_error_estimate", "accurate",
             "error", "warning", "elapsed", "rtol", "expression", "potential"}
_RESULT_KEYS = ("D", "K", "V", "lambda_1", "rel_error_estimate", "accurate")
_CASES = ("A", "B", "C")

MAX_POINTS = 1_000_000       # points of one grid (expand_grid keeps them all in memory)
MAX_LINE = 1 << 20           # bytes of one line of a sweep file (rows are ~400 bytes)
MAX_TEMPLATE = MAX_LENGTH    # characters of a template and of a formatted expression
_FSYNC_INTERVAL = 1.0        # seconds between fsyncs of the output
_PARENT_POLL = 0.5           # seconds between parent checks in a worker
_MAX_BATCH = 10_000
_START_METHOD_ENV = "EFFCOEF_SWEEP_START_METHOD"


# --------------------------------------------------------------------------- point kinds

@dataclass(frozen=True)
class PointKind:
    """One kind of sweep point: which grid parameters it takes and how one point is computed.

    Parameters
    ----------
    name : str
        Stored in every point and hashed into its id (never rename a kind).
    compute : callable
        ``compute(point, row) -> result``; ``point`` has ``id``, ``params``, ``kind``,
        ``template``, ``rtol``; ``row`` is the row being built (extra fields such as
        ``theta`` may be set in it).  Returns a result object (see :func:`result_fields`)
        or a mapping of row fields.  Must be a module-level function (it is pickled
        by reference to the workers).
    params : tuple of str or None
        The grid parameters it accepts (None: any).
    required : tuple of str
        Grid parameters it needs.
    check : callable, optional
        ``check(keys, spec)`` at grid expansion: validates the grid keys and the
        ``family`` argument ``spec`` and returns the template stored in the point
        (part of the id) or None.  Raises ValueError.
    complete : callable, optional
        ``complete(params, spec)``: fills defaults into one point's parameters (in place).
    warm : callable, optional
        ``warm()``, run once per process in the main process before the local pool
        forks its workers: computes a cheap point, so that the modules imported lazily
        (``scipy.optimize`` via ``potentials``: ~0.3 s) and the per-process caches
        (threadpoolctl's library scan, quadrature rules, element tables: ~0.1 s) are
        inherited by every worker instead of being rebuilt by each worker of each sweep
        on its first point.  Only a speed-up: its errors are ignored.
    """

    name: str
    compute: Callable
    params: Optional[tuple] = None
    required: tuple = ()
    check: Optional[Callable] = None
    complete: Optional[Callable] = None
    warm: Optional[Callable] = None


def _family_check(keys, spec):
    if spec is not None and "case" in keys:
        raise ValueError("give the case either as family= or in the grid, not both")
    return None


def _family_complete(params, spec):
    params.setdefault("case", spec or "A")
    if not isinstance(params["case"], str) or params["case"].upper() not in _CASES:
        raise ValueError(f"case must be one of {_CASES}, got {params['case']!r}")
    params["case"] = params["case"].upper()


def _family_point(point, row):
    """The paper family (4.2), rescaled: W from case, gamma, delta; theta default 1/gamma."""
    import potentials

    from .solver import coefficients

    p = point["params"]
    pot = potentials.paper_family(p["case"], p["gamma"], delta=p.get("delta", 0.0),
                                  rescaled=True)
    theta = p["theta"] if "theta" in p else pot.theta
    row["theta"] = _num(theta)
    return coefficients(pot, theta, rtol=point["rtol"])


def _template_fields(template):
    """The placeholder names of a template; only plain ``{name}`` fields are allowed."""
    if len(template) > MAX_TEMPLATE:
        raise ValueError(f"template is longer than {MAX_TEMPLATE} characters ({len(template)})")
    literal, names = 0, []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"bad template {template!r}: {exc}") from None
    for text, name, spec, conv in parsed:
        literal += len(text)
        if name is None:
            continue
        if spec or conv or not name.isidentifier():
            raise ValueError(f"template placeholders must be plain {{name}}, got "
                             f"{{{name}{'!' + conv if conv else ''}{':' + spec if spec else ''}}}")
        names.append(name)
    return literal, names


def _expression_check(keys, spec):
    _, names = _template_fields(spec)
    missing = sorted(set(names) - set(keys))
    if missing:
        raise ValueError(f"template {spec!r} does not match the grid parameters {list(keys)}: "
                         f"no values for {missing}")
    return spec


def _format_template(template, params):
    return template.format(**{k: (f"({v!r})" if isinstance(v, float) else v)
                              for k, v in params.items()})


def _expression_point(point, row):
    """W from an expression template; theta from the grid."""
    import potentials

    from .solver import coefficients

    p = point["params"]
    expr = _format_template(point["template"], p)
    row["expression"] = expr
    pot = potentials.from_expression(expr)
    row["theta"] = _num(p["theta"]) if not isinstance(p["theta"], str) else p["theta"]
    return coefficients(pot, p["theta"], rtol=point["rtol"])


def _warm_solver():
    """One cheap 1D solve (paper family A, gamma = 1): imports and caches of the solver."""
    import potentials

    from .solver import coefficients

    pot = potentials.paper_family("A", 1.0, rescaled=True)
    coefficients(pot, pot.theta, rtol=1e-8)


_PERIODIC_OPTIONS = ("theta", "force", "force1", "force2", "period", "period1", "period2",
                     "friction", "gamma")


def _periodic_check(keys, spec):
    """The periodic kind: ``family="periodic:<U template in x or x1, x2>"``; the grid needs
    theta; force, period (or their components ...1, ...2), the template's placeholders and,
    for the underdamped route, the friction (``friction``, or ``gamma`` when it is not a
    placeholder)."""
    if not spec:
        raise ValueError("a periodic sweep needs the potential: family='periodic:<U in x>'")
    _, names = _template_fields(spec)
    missing = sorted(set(names) - set(keys))
    if missing:
        raise ValueError(f"template {spec!r} does not match the grid parameters {list(keys)}: "
                         f"no values for {missing}")
    extra = sorted(set(keys) - set(names) - set(_PERIODIC_OPTIONS))
    if extra:
        raise ValueError(f"grid parameter(s) {extra} are neither placeholders of {spec!r} nor "
                         f"options of the periodic route ({', '.join(_PERIODIC_OPTIONS)})")
    if "friction" in keys and "gamma" in keys and "gamma" not in names:
        raise ValueError("give the friction once: 'friction' or 'gamma', not both")
    return spec


def _periodic_point(point, row):
    """U from a template in x (or x1, x2): effcoef.periodic.periodic_point."""
    from .periodic import periodic_point

    p = point["params"]
    row["expression"] = _format_template(point["template"], p)
    _, names = _template_fields(point["template"])
    return periodic_point({"expression": row["expression"],
                           **{k: v for k, v in p.items()
                              if k in _PERIODIC_OPTIONS
                              and not (k == "gamma" and k in names)},   # placeholder only
                           "rtol": point["rtol"]})


def _warm_periodic():
    """One cheap periodic solve (imports and caches of the periodic route)."""
    from .periodic import effective_coefficients

    effective_coefficients("cos(2*pi*x)", 1.0)


#: The table of point kinds, by name (see the module docstring: "Adding a kind").
POINT_KINDS = {
    "family": PointKind("family", _family_point, params=("case", "gamma", "delta", "theta"),
                        required=("gamma",), check=_family_check, complete=_family_complete,
                        warm=_warm_solver),
    "expression": PointKind("expression", _expression_point, params=None,
                            required=("theta",), check=_expression_check, warm=_warm_solver),
    "periodic": PointKind("periodic", _periodic_point, params=None, required=("theta",),
                          check=_periodic_check, warm=_warm_periodic),
}


def _resolve(family):
    """(PointKind, spec) for the ``family`` argument of :func:`sweep`."""
    if family is None:
        return POINT_KINDS["family"], None
    if not isinstance(family, str):
        raise ValueError(f"family must be None, 'A', 'B', 'C' or an expression template, "
                         f"got {family!r}")
    name = family.strip()
    if name.upper() in _CASES:
        return POINT_KINDS["family"], name.upper()
    head, sep, rest = name.partition(":")
    if sep and head in POINT_KINDS and head not in ("family", "expression"):
        return POINT_KINDS[head], rest.strip()      # e.g. "periodic:cos(2*pi*x)"
    if name in POINT_KINDS and name != "expression":
        return POINT_KINDS[name], None
    return POINT_KINDS["expression"], family


def result_fields(res: Any) -> Dict[str, Any]:
    """The row fields of one computed result: D, K, V, lambda_1, rel_error_estimate, accurate.

    The one place where a sweep reads a result object (to become ``res.to_dict()``).
    A mapping is taken as the row fields themselves (missing result keys are null).
    Values are floats (or nested lists for arrays); non-finite values are kept here
    and turned into a failure by the caller."""
    if isinstance(res, Mapping):
        out = {k: None for k in _RESULT_KEYS}
        out.update({k: _plain(v) for k, v in res.items()})
        return out
    eig = getattr(res, "eigenvalues", None)  # results of other routes may lack some fields
    return dict(D=_num(res.D), K=_num(res.K), V=_num(getattr(res, "V", None)),
                lambda_1=_num(eig[1]) if eig is not None and len(eig) > 1 else None,
                rel_error_estimate=_num(getattr(res, "rel_error_estimate", None)),
                accurate=bool(getattr(res, "accurate", False)))


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
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"grid value for {key!r} must be a number or a string, "
                         f"got {x!r}") from None


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), allow_nan=True)


def _point_id(kind, template, params, rtol, point_function=None):
    canon = {"kind": kind, "template": template, "params": params, "rtol": rtol}
    if point_function is not None:
        canon["point_function"] = point_function
    return hashlib.sha256(_CANONICAL.encode(canon).encode()).hexdigest()[:16]


def _function_name(fn):
    if fn is None:
        return None
    if not callable(fn):
        raise ValueError(f"point_function must be callable, got {type(fn).__name__}")
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def expand_grid(grid: Dict[str, Any], family: Optional[str] = None, rtol: float = 1e-8, *,
                point_function: Optional[Callable[..., Any]] = None) -> List[Dict[str, Any]]:
    """The points of ``grid`` (Cartesian product, key order as given) as a list of dicts
    ``{"id": ..., "params": {...}, "kind": ..., "template": ..., "rtol": ...}``;
    duplicate points are listed once.  Values may be non-finite (such points are
    recorded as failed by :func:`sweep`).  With ``point_function`` (see :func:`sweep`)
    its qualified name is part of the ids."""
    if not isinstance(grid, dict) or not grid:
        raise ValueError("grid must be a non-empty dict of parameter lists")
    kind, spec = _resolve(family)
    fname = _function_name(point_function)
    keys = list(grid)
    for k in keys:
        if not isinstance(k, str) or k in _RESERVED:
            raise ValueError(f"invalid grid parameter name {k!r}")
    values, count = [], 1
    for k in keys:
        v = grid[k]
        if isinstance(v, (str, bytes)) or not hasattr(v, "__iter__"):
            v = [v]
        v = [_norm_value(k, x) for x in itertools.islice(v, MAX_POINTS + 1)]
        if not v:
            raise ValueError(f"grid parameter {k!r} has no values")
        count *= len(v)
        if count > MAX_POINTS:
            raise ValueError(f"the grid has more than {MAX_POINTS} points; split the sweep")
        values.append(v)
    if kind.params is not None:
        unknown = set(keys) - set(kind.params)
        if unknown:
            label = "the paper family" if kind.name == "family" else f"kind {kind.name!r}"
            raise ValueError(f"unknown parameters for {label}: {sorted(unknown)}")
    for r in kind.required:
        if r not in keys:
            if kind.name == "family":
                raise ValueError(f"the paper family needs {r!r} in the grid")
            if kind.name == "expression":
                raise ValueError(f"an expression template needs {r!r} in the grid")
            raise ValueError(f"kind {kind.name!r} needs {r!r} in the grid")
    template = kind.check(keys, spec) if kind.check is not None else None
    if kind.name == "expression":
        literal, names = _template_fields(template)
        widths = {k: max(len(f"({x!r})") if isinstance(x, float) else len(x) for x in v)
                  for k, v in zip(keys, values)}
        longest = literal + sum(widths[n] for n in names)
        if longest > MAX_TEMPLATE:
            raise ValueError(f"the template formats to expressions of up to {longest} "
                             f"characters, more than {MAX_TEMPLATE}")
    points, seen = [], set()
    for combo in itertools.product(*values):
        params = dict(zip(keys, combo))
        if kind.complete is not None:
            kind.complete(params, spec)
        pid = _point_id(kind.name, template, params, rtol, fname)
        if pid in seen:
            continue
        seen.add(pid)
        points.append({"id": pid, "params": params, "kind": kind.name,
                       "template": template, "rtol": rtol})
    return points


def parse_range(text: str) -> List[float]:
    """``"start:stop:num[:log]"`` (linear or logarithmic, endpoints included), a comma
    list ``"1,2,5"`` or one number -> list of floats (``nan``, ``inf`` are kept: such
    points are recorded as failed)."""
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
        if n > MAX_POINTS:
            raise ValueError(f"bad range {text!r}: num must be <= {MAX_POINTS}")
        with np.errstate(all="ignore"):
            if len(parts) == 4 and parts[3].strip().lower() == "log":
                if a <= 0 or b <= 0:
                    raise ValueError(f"bad range {text!r}: a log range needs start, stop > 0")
                out = [float(x) for x in np.geomspace(a, b, n)]
            else:
                out = [float(x) for x in np.linspace(a, b, n)]
        out[0] = a  # exact endpoints (linspace(1, inf) starts with 1 + 0*inf = nan)
        return out
    try:
        return [float(x) for x in s.split(",") if x.strip()]
    except ValueError:
        raise ValueError(f"bad value list {text!r}: expected numbers separated by commas "
                         "or start:stop:num[:log]") from None


# --------------------------------------------------------------------------- one point

def _num(x):
    """A float, nested lists of floats for arrays, None if not a number; non-finite kept."""
    try:
        return float(x)
    except TypeError:
        try:
            return [_num(y) for y in x]
        except TypeError:
            return None
    except (ValueError, OverflowError):
        return None


def _plain(x):
    """JSON-friendly value: numbers -> float (bool, int kept), arrays -> lists."""
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    if isinstance(x, numbers.Real):
        return float(x)
    if hasattr(x, "tolist"):  # numpy arrays and scalars
        return _plain(x.tolist())
    if isinstance(x, (list, tuple)):
        return [_plain(y) for y in x]
    return x


def _nonfinite(x):
    t = type(x)
    if t is float:
        return x - x != 0.0  # nan and +-inf (fast path of not math.isfinite)
    if t is list:
        return any(_nonfinite(y) for y in x)
    return isinstance(x, float) and not math.isfinite(x)


def _compute_point(point, point_function=None):
    """Compute one point; never raises for a bad point (the row says status "failed")."""
    params = point["params"]
    row = {"id": point["id"], **params}
    t0 = time.perf_counter()
    try:
        bad = [f"{k} = {v!r}" for k, v in params.items() if _nonfinite(v)]
        if bad:
            raise ValueError(f"non-finite parameter: {', '.join(bad)}")
        compute = point_function or POINT_KINDS[point["kind"]].compute
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AccuracyWarning)
            res = compute(point, row)
        row["status"] = "ok"
        row.update(result_fields(res))
        row.update(error=None)
        msgs = [str(w.message) for w in caught if issubclass(w.category, AccuracyWarning)]
        row["warning"] = " | ".join(" ".join(m.split()) for m in msgs) or None
        bad = [f"{k} = {v!r}" for k, v in row.items() if _nonfinite(v)]
        if bad:
            raise ArithmeticError(f"non-finite result: {', '.join(bad)}")
    except Exception as exc:  # noqa: BLE001 - recorded, the sweep goes on
        _fail(row, exc)
        for k, v in row.items():  # JSON has no NaN / Infinity: non-finite values become null
            if _nonfinite(v):
                row[k] = None
    row["rtol"] = point["rtol"]
    row["elapsed"] = time.perf_counter() - t0
    return row


def _fail(row, exc):
    row.update(status="failed", **{k: None for k in _RESULT_KEYS})
    row.update(accurate=False, error=f"{type(exc).__name__}: {' '.join(str(exc).split())}",
               warning=None)


def _encode(row):
    """The JSON line of a row; a row that cannot be encoded (a result field that is
    not a number, string or list) is recorded as failed instead."""
    try:
        return json.dumps(row, allow_nan=False)
    except (TypeError, ValueError) as exc:
        _fail(row, exc)
        return json.dumps(row, allow_nan=False, default=str)


class _Batch:
    """The ``(id, params)`` pairs of one task, pickled once in the main process: an
    opaque value for dask (which would otherwise walk every element of the arguments)
    and for the pool's pipes.  ``len()`` is the number of points."""

    __slots__ = ("data", "n")

    def __init__(self, points):
        self.data = pickle.dumps([(p["id"], p["params"]) for p in points],
                                 protocol=pickle.HIGHEST_PROTOCOL)
        self.n = len(points)

    def __len__(self):
        return self.n

    def __getstate__(self):
        return self.data, self.n

    def __setstate__(self, state):
        self.data, self.n = state

    def items(self):
        return pickle.loads(self.data)


def _compute_batch(batch, kind, template, rtol, compute):
    """One task: several points (a :class:`_Batch`), each computed independently by
    ``compute`` (the kind's function, sent along: the workers need no kind table).

    Returns the JSON lines of their rows (bytes,
    encoded here so the main process only writes them), a brief of each row
    (id, status, rel_error_estimate, accurate, error) and the compute seconds."""
    lines, briefs, seconds = [], [], 0.0
    for pid, params in batch.items():
        row = _compute_point({"id": pid, "params": params, "kind": kind, "template": template,
                              "rtol": rtol}, compute)
        lines.append(_encode(row))
        briefs.append(_brief(row))
        seconds += row["elapsed"]
    return ("\n".join(lines) + "\n").encode(), briefs, seconds


# --------------------------------------------------------------------------- file

class _Syncer:
    """fsync of the output in a background thread, at most once per _FSYNC_INTERVAL, so
    that a slow disk (a network file system: 10-100 ms per fsync) never stalls the main
    loop that feeds the workers.  Started after the local pool has forked."""

    def __init__(self, fd, path):
        self.fd, self.path = fd, path
        self.dirty = False
        self.error = None
        self.stop = False
        self.wake = threading.Event()
        self.thread = threading.Thread(target=self._run, name="effcoef-sweep-fsync",
                                       daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            self.wake.wait(_FSYNC_INTERVAL)
            if self.dirty and not self.stop:
                self.dirty = False
                try:
                    os.fsync(self.fd)
                except OSError as exc:
                    self.error = exc
                    return

    def mark(self):
        """Data was written; raise the error of an earlier background fsync."""
        self.dirty = True
        self.raise_error()

    def raise_error(self):
        if self.error is not None:
            exc = self.error
            raise OSError(exc.errno, f"cannot write {self.path}: {exc.strerror}")

    def close(self, final=True):
        """Stop the thread; with ``final`` fsync once more (errors raise)."""
        self.stop = True
        self.wake.set()
        self.thread.join()
        if final:
            self.raise_error()
            try:
                os.fsync(self.fd)
            except OSError as exc:
                raise OSError(exc.errno, f"cannot write {self.path}: {exc.strerror}") from None


def _check_regular(path):
    """Raise ValueError unless ``path`` is a regular file or does not exist."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise ValueError(f"cannot use {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(f"{path} is not a regular file (a sweep file is JSON Lines)")
    return True


def _strict_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _iter_rows(fh, path):
    """(row, end offset) of the complete rows of an open sweep file, from its start.

    A partial or unparseable last line (a write killed half-way) ends the iteration;
    any other bad line raises ValueError naming the line."""
    fh.seek(0)
    pos, lineno = 0, 0
    while True:
        line = fh.readline(MAX_LINE + 1)
        if not line:
            return
        lineno += 1
        if not line.endswith(b"\n"):
            if len(line) > MAX_LINE:
                raise ValueError(f"{path}:{lineno}: corrupt line longer than {MAX_LINE} bytes")
            return  # no newline: a killed write
        pos += len(line)
        text = line.strip()
        if not text:
            yield None, pos
            continue
        try:
            obj = json.loads(text, parse_constant=_strict_constant)
        except ValueError:
            if not fh.read(1):  # garbled last line
                return
            raise ValueError(f"{path}:{lineno}: corrupt line in the middle of the file: "
                             f"{text[:80]!r}") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
            raise ValueError(f"{path}:{lineno}: corrupt line (no string id): {text[:80]!r}")
        yield obj, pos


def _truncate(fd, size):
    os.ftruncate(fd, size)
    os.fsync(fd)


def _write_all(fd, data, path):
    """Append ``data`` (unbuffered: nothing is left to flush after an error)."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view):]
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write {path}: {exc.strerror}") from None


def read_rows(path: Union[str, os.PathLike], repair: bool = False) -> List[Dict[str, Any]]:
    """The complete rows of a sweep file (list of dicts, file order).  A partial or
    unparseable last line (a write killed half-way) is ignored; with ``repair=True``
    the file is truncated to its last complete line.  The file must be a regular
    file; a corrupt line elsewhere (not JSON, no string ``id``, longer than
    ``MAX_LINE`` bytes) raises ValueError naming it."""
    path = os.fspath(path)
    if not _check_regular(path):
        return []
    rows, good_end = [], 0
    with open(path, "rb") as fh:
        for obj, good_end in _iter_rows(fh, path):  # noqa: B007 (the last value is used below)
            if obj is not None:
                rows.append(obj)
        size = fh.seek(0, os.SEEK_END)
    if repair and good_end < size:
        fd = os.open(path, os.O_RDWR)
        try:
            _truncate(fd, good_end)
        finally:
            os.close(fd)
    return rows


def load_sweep(path: Union[str, os.PathLike], latest: bool = True) -> Any:  # pandas.DataFrame
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


def _lock(fd, path):
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise RuntimeError(f"{path} is being written by another sweep") from None


def _open_output(output):
    """Open (create) the output for appending and reading, after checking it is a
    regular file (a device or FIFO would be read forever or block); a descriptor."""
    _check_regular(output)
    flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(output, flags, 0o666)
    except OSError as exc:
        raise ValueError(f"cannot open {output}: {exc.strerror}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced between stat and open
            raise ValueError(f"{output} is not a regular file (a sweep file is JSON Lines)")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return fd
    except BaseException:
        os.close(fd)
        raise


# --------------------------------------------------------------------------- workers

def _start_method():
    import multiprocessing as mp

    methods = mp.get_all_start_methods()
    env = os.environ.get(_START_METHOD_ENV, "").strip()
    if env:
        if env not in methods:
            raise ValueError(f"{_START_METHOD_ENV}={env!r}: expected one of {methods}")
        return env
    return "fork" if sys.platform.startswith("linux") and "fork" in methods else None


def _set_parent_death_signal():
    """Linux: SIGKILL this process when its parent dies (prctl PR_SET_PDEATHSIG)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(1, int(signal.SIGKILL), 0, 0, 0) == 0  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - no libc prctl
        return False


def _watch_parent(parent, main_pid):
    """End this process when the main process is gone.

    The parent is the main process with 'fork' and 'spawn': the parent-death signal
    (Linux) and a daemon thread polling ``os.getppid()`` every 0.5 s.  With
    'forkserver' the parent is the fork server, which outlives the main process
    while the workers live; the thread then waits on a pidfd of the main process
    (Linux >= 5.3) or polls ``os.kill(main_pid, 0)``."""
    _set_parent_death_signal()
    if os.getppid() != parent:  # the parent died before the signal was armed
        os._exit(1)
    if parent == main_pid:
        def poll():
            while True:
                time.sleep(_PARENT_POLL)
                if os.getppid() != parent:
                    os._exit(1)
    else:
        try:
            pidfd = os.pidfd_open(main_pid)
        except ProcessLookupError:
            os._exit(1)
        except (AttributeError, OSError):
            pidfd = None

        def poll():
            import select

            while True:
                if pidfd is not None:
                    if select.select([pidfd], [], [], _PARENT_POLL)[0]:
                        os._exit(1)  # readable: the main process has exited
                    continue
                time.sleep(_PARENT_POLL)
                try:
                    os.kill(main_pid, 0)
                except ProcessLookupError:
                    os._exit(1)
                except PermissionError:  # the pid now belongs to someone else
                    os._exit(1)

    threading.Thread(target=poll, name="effcoef-parent-watch", daemon=True).start()


def _worker_init(main_pid, via_server, lock_fd, lock_ident):
    """Initializer of the local pool's workers.

    Drops a forked copy of the output's locked descriptor (the lock then belongs to
    the main process alone), ignores SIGINT (the main process handles Ctrl-C and
    ends the pool) and arms the parent watch (:func:`_watch_parent`).  Marks the process
    as a sweep worker (``EFFCOEF_SWEEP_WORKER``): the pool already uses the cores, so the
    routes do not add threads of their own."""
    os.environ["EFFCOEF_SWEEP_WORKER"] = "1"
    if lock_fd is not None:
        try:
            st = os.fstat(lock_fd)
            if (st.st_dev, st.st_ino) == lock_ident:
                null = os.open(os.devnull, os.O_RDWR)
                os.dup2(null, lock_fd)  # the number stays valid, the file is released
                os.close(null)
        except OSError:
            pass
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:  # pragma: no cover - not the main thread
        pass
    _watch_parent(os.getppid() if via_server else main_pid, main_pid)


_WARMED = set()


def _local_pool(n_workers, fd, warm=None):
    import multiprocessing as mp

    method = _start_method()
    ctx = mp.get_context(method)
    method = ctx.get_start_method()
    if method == "fork" and warm is not None and warm not in _WARMED:
        _WARMED.add(warm)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                warm()
        except Exception:  # noqa: BLE001 - only a speed-up; the points report real errors
            pass
    st = os.fstat(fd)
    lock = (fd, (st.st_dev, st.st_ino)) if method == "fork" else (None, None)
    return cf.ProcessPoolExecutor(max_workers=n_workers, mp_context=ctx,
                                  initializer=_worker_init,
                                  initargs=(os.getpid(), method == "forkserver", *lock))


def _terminate_pool(ex):
    """Stop a local pool now: end the workers (their batches are lost), cancel the rest."""
    if hasattr(ex, "terminate_workers"):  # Python >= 3.14
        ex.terminate_workers()
    else:  # the processes must be read before shutdown() forgets them
        for p in list((getattr(ex, "_processes", None) or {}).values()):
            try:
                p.terminate()
            except (OSError, ValueError, AttributeError):  # pragma: no cover - already gone
                pass
    ex.shutdown(wait=True, cancel_futures=True)


def _available_cores():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _as_executor(executor):
    """A concurrent.futures-style executor and its worker count (None if unknown);
    a dask ``Client`` via ``get_executor()``."""
    if hasattr(executor, "get_executor") and hasattr(executor, "scheduler_info"):
        def count():
            try:
                return sum(executor.nthreads().values()) or None
            except Exception:  # noqa: BLE001 - scheduler unreachable: keep the last count
                return None
        return executor.get_executor(pure=False), count
    if not hasattr(executor, "submit"):
        raise TypeError(f"executor must have submit() (concurrent.futures.Executor or a dask "
                        f"Client), got {type(executor).__name__}")
    n = getattr(executor, "_max_workers", None)
    return executor, (lambda: n if isinstance(n, int) and n > 0 else None)


class _Batcher:
    """Batch sizes from the measured compute time t per point (mean so far).

    ``min(target / t, remaining / (guided * workers))`` (guided self-scheduling: the
    tasks shrink towards the end so the workers finish together; ``guided`` is 4 on the
    local pool, 2 elsewhere, where fewer tasks matter more), but at least
    ``min(target / 10 / t, remaining / workers)`` (a task is never so short that its
    fixed cost matters: ~0.2 ms on the local pool, ~ms on dask) and at most
    _MAX_BATCH; 1 before any point was measured."""

    def __init__(self, target, guided):
        self.target = target
        self.guided = guided
        self.seconds = 0.0
        self.count = 0

    def observe(self, seconds, count):
        self.seconds += seconds
        self.count += count

    def size(self, remaining, workers):
        if self.count == 0:
            return 1
        per_point = max(self.seconds / self.count, 1e-7)
        n = min(int(self.target / per_point), -(-remaining // (self.guided * workers)))
        floor = min(int(self.target / 10 / per_point), -(-remaining // workers))
        return max(1, min(max(n, floor), _MAX_BATCH))


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
    def complete(self) -> bool:
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


def _brief(row):
    """What the summary needs of a row (rows themselves can be many):
    (id, status, rel_error_estimate, accurate, error)."""
    return (row["id"], row.get("status"), row.get("rel_error_estimate"), row.get("accurate"),
            row.get("error"))


def sweep(grid: Dict[str, Any], output: Union[str, os.PathLike], *,
          family: Optional[str] = None, executor: Any = None, workers: Optional[int] = None,
          rtol: float = 1e-8, progress: bool = True, resume: bool = True,
          retry_failed: bool = False, batch_seconds: Optional[float] = None,
          point_function: Optional[Callable[..., Any]] = None) -> SweepSummary:
    """Compute effective coefficients on every point of ``grid``, appending to ``output``.

    Parameters
    ----------
    grid : dict
        Parameter lists, e.g. ``{"case": ["A"], "gamma": [1, 10, 100], "delta": [0.0]}``.
    output : str or path
        JSON Lines file (one object per point: parameters, id, theta, status, D, K, V,
        lambda_1, rel_error_estimate, accurate, error, warning, rtol, elapsed).  Must be
        a regular file or not exist yet.
    family : None, "A"/"B"/"C" or str
        The paper family (case from the grid, default A), the name of another kind in
        :data:`POINT_KINDS`, or an expression template in v with ``{name}`` placeholders
        for grid parameters (the grid must have theta).
    executor : concurrent.futures.Executor or dask.distributed.Client, optional
        Where to run; default a local process pool of ``workers`` processes.
    workers : int, optional
        Local processes (default: the cores this process may use; more warns).  With an
        ``executor``: its worker count (default: the dask cluster's threads, or the
        executor's ``max_workers``); two tasks per worker are kept in flight.
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
    batch_seconds : float, optional
        Target compute time of one task (several points): default 0.1 s on the
        local pool, 0.5 s on other executors (the per-task cost of dask is ~ms).
    point_function : callable, optional
        Test and benchmark hook: ``point_function(point, row)`` replaces the kind's
        computation (same contract as :attr:`PointKind.compute`: return a mapping of
        row fields such as ``{"D": ..., "K": ...}`` or a result object).  Its
        qualified name is hashed into the point ids, so such rows never resume a
        normal sweep.  Must be picklable (a module-level function).

    Returns
    -------
    SweepSummary

    Notes
    -----
    A point with a non-finite parameter or result is recorded as failed (the JSON
    has no NaN/Infinity).  Rows of a task are written when it finishes; a kill
    loses at most the tasks in flight, and a resume computes exactly the rest.
    """
    t0 = time.perf_counter()
    output = os.fspath(output)
    if (isinstance(rtol, bool) or not isinstance(rtol, numbers.Real)
            or not math.isfinite(rtol) or rtol <= 0):
        raise ValueError(f"rtol must be a positive number, got {rtol!r}")
    rtol = float(rtol)
    points = expand_grid(grid, family=family, rtol=rtol, point_function=point_function)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ValueError(f"workers must be a positive integer, got {workers!r}")
    if batch_seconds is not None and not (isinstance(batch_seconds, numbers.Real)
                                          and 0 <= batch_seconds < math.inf):
        raise ValueError(f"batch_seconds must be a number >= 0, got {batch_seconds!r}")
    cores = _available_cores()
    if executor is None and workers is not None and workers > cores:
        warnings.warn(f"workers={workers} is more than the {cores} cores available: the "
                      "points will share cores and run slower", RuntimeWarning, stacklevel=2)

    parent = os.path.dirname(os.path.abspath(output))
    os.makedirs(parent, exist_ok=True)
    fd = _open_output(output)
    ex = None
    try:
        _lock(fd, output)
        if not resume and os.fstat(fd).st_size > 0:
            raise FileExistsError(f"{output} is not empty; resume=True to continue it "
                                  "or choose a new file")
        ids = {p["id"] for p in points}
        known = {}
        good_end = 0
        with open(fd, "rb", closefd=False) as reader:
            for row, good_end in _iter_rows(reader, output):  # noqa: B007 (the last value is used below)
                if row is not None and row["id"] in ids:
                    known[row["id"]] = _brief(row)[1:]
        if good_end < os.fstat(fd).st_size:
            _truncate(fd, good_end)

        kind, template = points[0]["kind"], points[0]["template"]
        compute = point_function or POINT_KINDS[kind].compute
        todo = [p for p in points if p["id"] not in known
                or (retry_failed and known[p["id"]][0] != "ok")]
        skipped = len(points) - len(todo)
        done = 0
        syncer = None
        n_failed = sum(k[0] != "ok" for k in known.values())

        def write(data, briefs):
            nonlocal n_failed
            _write_all(fd, data, output)  # O_APPEND: always at the end
            syncer.mark()
            for b in briefs:
                old = known.get(b[0])
                n_failed += (b[1] != "ok") - (old is not None and old[0] != "ok")
                known[b[0]] = b[1:]

        own = executor is None and bool(todo)
        n_workers, target = 1, 0.0
        if own and point_function is not None:
            try:
                pickle.dumps(point_function)
            except Exception as exc:  # noqa: BLE001 - any pickling failure
                raise ValueError(f"point_function must be picklable for the process pool (a "
                                 f"module-level function): {exc}") from None
        if own:
            n_workers = workers or cores
            ex = _local_pool(n_workers, fd, POINT_KINDS[kind].warm)
            count = lambda: n_workers  # noqa: E731
            target = 0.1 if batch_seconds is None else batch_seconds
        elif todo:
            ex, count = _as_executor(executor)
            n_workers = workers or count() or cores
            target = 0.5 if batch_seconds is None else batch_seconds
        batcher = _Batcher(target, 4 if own else 2)
        queue = iter(todo)
        left = len(todo)
        pending = set()
        bar = None

        def submit(size):
            nonlocal left
            batch = list(itertools.islice(queue, size))
            if batch:
                left -= len(batch)
                pending.add(ex.submit(_compute_batch, _Batch(batch), kind, template, rtol,
                                      compute))

        try:
            for _ in range(min(n_workers, left)):  # probes: one point each
                submit(1)
            # threads only now that the pool has forked its workers
            syncer = _Syncer(fd, output)
            from tqdm.auto import tqdm

            bar = tqdm(total=len(points), initial=skipped, disable=not progress, unit="pt",
                       desc="sweep", file=sys.stderr, dynamic_ncols=True)
            recount = time.monotonic()
            while pending:
                finished, pending = cf.wait(pending, return_when=cf.FIRST_COMPLETED)
                data, briefs = [], []
                for fut in finished:
                    d, b, seconds = fut.result()  # infrastructure failures propagate
                    data.append(d)
                    briefs.extend(b)
                    batcher.observe(seconds, len(b))
                write(b"".join(data), briefs)
                done += len(briefs)
                bar.update(len(briefs))
                if any(b[1] != "ok" for b in briefs):
                    bar.set_postfix_str(f"failed {n_failed}")
                if not own and workers is None and time.monotonic() - recount > 5:
                    n_workers = count() or n_workers  # a cluster may grow or shrink
                    recount = time.monotonic()
                while left and len(pending) < 2 * n_workers:
                    submit(batcher.size(left, n_workers))
            syncer.close()
        except BaseException:
            for f in pending:
                f.cancel()
            if own:
                _terminate_pool(ex)
            if syncer is not None:
                syncer.close(final=False)
            try:
                os.fsync(fd)
            except OSError:
                pass
            raise
        finally:
            if bar is not None:
                bar.close()
        if own:
            ex.shutdown(wait=True)
    finally:
        os.close(fd)

    grid_rows = [known[p["id"]] for p in points if p["id"] in known]
    ok_rows = [r for r in grid_rows if r[0] == "ok"]
    errs = [r[1] for r in ok_rows if isinstance(r[1], (int, float))]
    return SweepSummary(
        output=output, total=len(points), done=done, skipped=skipped,
        failed=sum(r[0] != "ok" for r in grid_rows), ok=len(ok_rows),
        inaccurate=sum(not r[2] for r in ok_rows),
        worst_rel_error=max(errs) if errs else None,
        elapsed=time.perf_counter() - t0,
        failures=[(p["id"], known[p["id"]][3]) for p in points
                  if p["id"] in known and known[p["id"]][0] != "ok"])
