"""Command line interface: ``effcoef coefficients ...``, ``effcoef periodic ...``.

Examples
--------
::

    effcoef coefficients --family A --gamma 10
    effcoef coefficients --family C --gamma 5 --delta 2 --json
    effcoef coefficients --potential "v**4/4 - v**2/2" --theta 0.1 --modes 20
    effcoef coefficients --dim 2 --potential "v1**4/4 - v1**2/2 + v2**2/2" --theta 0.5
    effcoef coefficients --dim 3 --potential "v1**4/4 + v2**4/4 + v3**4/4 + v1*v2*v3" --theta 1
    effcoef coefficients --dim 3 --radial "r**4/4 - r**2/2" --theta 0.2
    effcoef coefficients --dim 2 --family S --gamma 5
    effcoef periodic --potential "cos(2*pi*x)" --theta 0.2 --force 3.0 --json
    effcoef periodic --potential "-(cos(x1) + cos(x2))/2" --period 6.283185307179586 --theta 0.5
    effcoef periodic --potential "-cos(x)/2" --theta 1 --friction 1      # underdamped Langevin

Bad input exits with status 2 and a one-line reason on stderr; an accuracy
that cannot be certified is reported as a warning (status 3 with ``--strict``).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import warnings
from typing import Optional, Sequence

import numpy as np

__all__ = ["main", "build_parser"]


def _build_parser():
    from . import __version__

    p = argparse.ArgumentParser(prog="effcoef", description="Effective drift and diffusion "
                                "coefficients of Fokker-Planck operators (diffusion limit).")
    p.add_argument("--version", action="version", version=f"effcoef {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("coefficients", help="compute D and K for one potential",
                       description="Compute D and K for Q(f) = div(grad W f + theta grad f) in "
                       "velocity dimension 1, 2 or 3 (--dim).")
    src = c.add_mutually_exclusive_group(required=True)
    src.add_argument("--potential", metavar="EXPR",
                     help="W(v) as an expression in v, e.g. 'v**4/4 - v**2/2' "
                          "(+ - * / **, abs exp log sqrt sin cos tanh cosh, pi, e)")
    src.add_argument("--family", choices=["A", "B", "C", "S", "a", "b", "c", "s"],
                     help="paper 004 family (4.2), rescaled: theta = 1/gamma; S = swarming "
                          "potential |v|^4/4 - |v|^2/2 of (2.1) in dimension --dim")
    src.add_argument("--radial", metavar="EXPR",
                     help="radial W(|v|) as an expression in r (with --dim 2 or 3)")
    c.add_argument("--dim", type=int, default=1, help="velocity dimension 1, 2 or 3 "
                   "(--potential in v1, v2[, v3], or --radial in r)")
    c.add_argument("--theta", type=float, help="temperature (required with --potential)")
    c.add_argument("--gamma", type=float, help="family parameter gamma > 0")
    c.add_argument("--delta", type=float, default=0.0, help="tilt delta >= 0 (family C)")
    c.add_argument("--original", action="store_true",
                   help="family in original variables (W = v^4/(4 gamma) - ..., theta = 1 "
                        "unless --theta)")
    c.add_argument("--modes", type=int, default=None, help="number N of eigenmodes in the series "
                   "(default: automatic)")
    c.add_argument("--degree", type=int, default=None,
                   help="finite element degree (default 8 in 1D; raised automatically in 2D/3D)")
    c.add_argument("--rtol", type=float, default=None,
                   help="requested relative accuracy (default 1e-8; 1e-6 for general 3D W)")
    c.add_argument("--method", choices=["weighted", "schrodinger", "general"],
                   default="weighted",
                   help="1D discretisation: 'weighted' (default: sqrt(M)-weighted elements, "
                        "exact kernel) or 'schrodinger' (the paper's plain elements for "
                        "H = -theta d^2 + Phi); 'general' (--dim 2, 3): the tensor-product "
                        "elements even for a W that is radial, quadratic or separable (in "
                        "turned axes), which are otherwise recognised and solved as 1D problems")
    c.add_argument("--strict", action="store_true", help="exit with status 3 if the accuracy "
                   "estimate exceeds --rtol")
    c.add_argument("--json", action="store_true", help="print one JSON object")
    _add_sweep_parser(sub)
    _add_periodic_parser(sub)
    return p


def _add_periodic_parser(sub):
    s = sub.add_parser("periodic", help="effective drift and diffusion in a periodic potential",
                       description="Periodic homogenisation of dX = (-grad U + F) dt + "
                       "sqrt(2 theta) dB: effective drift V = lim X/t and diffusion D = lim "
                       "Cov(X)/2t for U periodic on the cell [0, L1] (x [0, L2]). With "
                       "--friction G: the underdamped Langevin dynamics dx = p dt, dp = "
                       "(-grad U + F - G p) dt + sqrt(2 G theta) dB instead.")
    s.add_argument("--potential", metavar="EXPR", required=True,
                   help="U as an expression in x (1D) or x1, x2 (2D), e.g. 'cos(2*pi*x)'")
    s.add_argument("--theta", type=float, required=True, help="temperature theta > 0")
    s.add_argument("--period", default=None,
                   help="cell period(s): one value or L1,L2 (default 1; with --friction: 1 if "
                        "U is 1-periodic, else 2*pi)")
    s.add_argument("--force", default=None,
                   help="constant tilt F: one value or F1,F2 (default 0; leading '-': --force=-2)")
    s.add_argument("--friction", type=float, default=None, metavar="G",
                   help="friction gamma > 0: the underdamped (kinetic) Langevin route")
    s.add_argument("--rtol", type=float, default=None,
                   help="requested relative accuracy (default 1e-10 in 1D, 1e-8 in 2D; with "
                        "--friction 1e-8 in 1D, 1e-6 in 2D)")
    s.add_argument("--modes", type=int, default=None,
                   help="eigenmodes: series length for F = 0 (default 12), number of leading "
                        "eigenvalues (eigs) for F != 0 (default none); with --friction: "
                        "number of leading eigenvalues of the generator (1D)")
    s.add_argument("--degree", type=int, default=None, help="element degree (default 8 / 6)")
    s.add_argument("--strict", action="store_true", help="exit with status 3 if the accuracy "
                   "estimate exceeds --rtol")
    s.add_argument("--json", action="store_true", help="print one JSON object")


def _floats(text, what):
    """'1' -> 1.0, '1,2' -> (1.0, 2.0); None stays None."""
    if text is None:
        return None
    try:
        vals = [float(x) for x in str(text).split(",")]
    except ValueError:
        raise ValueError(f"--{what} must be one number or two separated by a comma, "
                         f"got {text!r}") from None
    if len(vals) not in (1, 2):
        raise ValueError(f"--{what} must be one number or two separated by a comma, got {text!r}")
    return vals[0] if len(vals) == 1 else tuple(vals)


def _periodic_cmd(args):
    from .errors import AccuracyError, AccuracyWarning
    from .periodic import effective_coefficients, underdamped_coefficients

    period = _floats(args.period, "period")
    force = _floats(args.force, "force")
    if args.friction is not None and args.degree is not None:
        raise ValueError("--degree is an option of the overdamped route; the underdamped route "
                         "(--friction) chooses its Hermite and Fourier sizes from --rtol")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AccuracyWarning)
        try:
            if args.friction is not None:
                res = underdamped_coefficients(args.potential, args.theta, args.friction,
                                               period=period, force=force, rtol=args.rtol,
                                               n_eigenvalues=args.modes or 0,
                                               strict=args.strict)
            else:
                res = effective_coefficients(args.potential, args.theta, period=period,
                                             force=force, rtol=args.rtol, n_modes=args.modes,
                                             degree=args.degree, strict=args.strict)
        except AccuracyError as exc:
            print(f"effcoef: accuracy not reached: {exc}", file=sys.stderr)
            return 3
    for w in caught:
        if issubclass(w.category, AccuracyWarning):
            print(f"effcoef: warning: {w.message}", file=sys.stderr)
    if args.json:
        print(json.dumps(res.to_dict()))
        return 0
    np.set_printoptions(precision=12)
    fmt = lambda x: (f"{x:.15g}" if np.ndim(x) == 0  # noqa: E731
                     else np.array2string(np.asarray(x), precision=12))
    print(f"potential : {res.potential}")
    print(f"theta     : {res.theta:.15g}")
    if args.friction is not None:
        print(f"friction  : {args.friction:.15g}   (underdamped Langevin)")
    print(f"period    : {res.info['period']}")
    print(f"force     : {res.info['force']}")
    print(f"V_eff     : {fmt(res.V)}")
    print(f"D_eff     : {fmt(res.D)}")
    if args.friction is not None and res.dim == 1:
        print(f"gamma*D   : {args.friction * res.D:.15g}")
    elif res.dim == 1:
        print(f"D/theta   : {res.D / res.theta:.15g}   (log D = {res.info['log_D']:.15g})")
    gap = res.info.get("spectral_gap", math.nan)
    if gap == gap:
        print(f"gap       : {gap:.10g}   (cell spectral gap lambda_1)")
    if len(res.eigenvalues) > 1:
        print(f"lambda    : {', '.join(f'{x:.10g}' for x in res.eigenvalues[1:6])}")
    print(f"rel. error: {res.rel_error_estimate:.1e} ({res.error_method})")
    return 0


def _add_sweep_parser(sub):
    s = sub.add_parser("sweep", help="parameter sweep into a resumable JSON Lines file",
                       description="Compute D, K on a grid of parameters (Cartesian product), "
                       "one JSON line per finished point; re-running the same command resumes. "
                       "Values: start:stop:num[:log] or a comma list.")
    src = s.add_mutually_exclusive_group()
    src.add_argument("--case", default=None,
                     help="paper 004 family case(s): A, B or C, or a comma list such as A,C "
                          "(default: A)")
    src.add_argument("--expression", metavar="TEMPLATE",
                     help="W(v) template with {gamma}/{delta}/{theta} placeholders, "
                          "e.g. 'v**4/4 - v**2/2 - {delta}*v' (needs --theta)")
    src.add_argument("--periodic", metavar="TEMPLATE",
                     help="periodic homogenisation: U(x) (or U(x1, x2)) template with "
                          "placeholders such as {V0}, e.g. '{V0}*cos(2*pi*x)'; grid over "
                          "--theta (required), --force, --period and --param NAME=VALUES")
    s.add_argument("--gamma", help="gamma values (family: required)")
    s.add_argument("--delta", help="delta values (default 0 for the family)")
    s.add_argument("--theta", help="theta values (family default 1/gamma)")
    s.add_argument("--force", help="tilt F values (--periodic)")
    s.add_argument("--friction", help="friction values (--periodic: the underdamped Langevin "
                   "route; --gamma means the same there unless {gamma} is a placeholder)")
    s.add_argument("--period", help="cell period values (--periodic; default 1)")
    s.add_argument("--param", action="append", default=[], metavar="NAME=VALUES",
                   help="values of a template placeholder (repeatable), e.g. V0=0.5,1,2")
    s.add_argument("--output", "-o", required=True, help="output file (.jsonl)")
    s.add_argument("--workers", type=int, default=None,
                   help="local worker processes (default: the available cores; more warns); "
                        "with --scheduler: the cluster threads to keep busy")
    s.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on a dask.distributed scheduler, e.g. tcp://host:8786")
    s.add_argument("--rtol", type=float, default=1e-8,
                   help="requested relative accuracy of every point (default: %(default)g)")
    s.add_argument("--retry-failed", action="store_true",
                   help="recompute points recorded as failed")
    s.add_argument("--no-progress", action="store_true", help="no progress bar")


def _show_warning(message, category, filename, lineno, file=None, line=None):
    """Warnings of the sweep command as one line on stderr."""
    print(f"effcoef: warning: {' '.join(str(message).split())}", file=sys.stderr)


def _sweep_cmd(args):
    from .sweep import parse_range, sweep

    grid = {}
    for spec in args.param:
        name, sep, values = spec.partition("=")
        if not sep or not name.strip().isidentifier():
            raise ValueError(f"--param must be NAME=VALUES, got {spec!r}")
        grid[name.strip()] = parse_range(values)
    if args.periodic is not None:
        if args.theta is None:
            raise ValueError("--theta is required with --periodic")
        for name in ("force", "period", "friction"):
            if getattr(args, name) is not None:
                grid[name] = parse_range(getattr(args, name))
        if args.gamma is not None:      # a placeholder {gamma}, or the friction
            if args.friction is not None and "{gamma}" not in args.periodic:
                raise ValueError("give the friction once: --friction or --gamma")
            grid["gamma"] = parse_range(args.gamma)
        if args.delta is not None:
            grid["delta"] = parse_range(args.delta)
        family = "periodic:" + args.periodic
    elif args.friction is not None:
        raise ValueError("--friction goes with --periodic")
    elif args.expression is None:
        cases = [c.strip().upper() for c in (args.case or "A").split(",") if c.strip()]
        if args.gamma is None:
            raise ValueError("--gamma is required for the paper family")
        grid["case"] = cases
        grid["gamma"] = parse_range(args.gamma)
        grid["delta"] = parse_range(args.delta) if args.delta is not None else [0.0]
        family = None
        if args.param:
            raise ValueError("--param goes with --expression or --periodic templates")
    else:
        if args.theta is None:
            raise ValueError("--theta is required with --expression")
        for name in ("gamma", "delta"):
            if getattr(args, name) is not None:
                grid[name] = parse_range(getattr(args, name))
        family = args.expression
    if args.theta is not None:
        grid["theta"] = parse_range(args.theta)
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    client = None
    if args.scheduler:
        try:
            from dask.distributed import Client
        except ImportError:
            raise ValueError("--scheduler needs dask.distributed: run "
                             "pip install -e '.[sweep]' in the effcoef folder") from None
        try:
            client = Client(args.scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise ValueError(f"cannot connect to scheduler {args.scheduler}: {exc}") from None
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            summary = sweep(grid, args.output, family=family, executor=client,
                            workers=args.workers, rtol=args.rtol,
                            progress=not args.no_progress, retry_failed=args.retry_failed)
    except (FileExistsError, RuntimeError, OSError) as exc:
        raise ValueError(str(exc)) from None
    except KeyboardInterrupt:
        print(f"effcoef: interrupted; the finished points are in {args.output}, run the same "
              "command again to resume", file=sys.stderr)
        return 130
    finally:
        if client is not None:
            client.close()
    print(summary)
    return 0 if summary.failed == 0 else 1


def _potential(args):
    import potentials

    dim = args.dim
    if dim not in (1, 2, 3):
        raise ValueError(f"--dim must be 1, 2 or 3, got {dim}")
    if args.potential is not None or args.radial is not None:
        if args.theta is None:
            raise ValueError("--theta is required with --potential / --radial")
        if args.radial is not None:
            if dim == 1:
                raise ValueError("--radial needs --dim 2 or 3")
            return potentials.radial_from_expression(args.radial, dim), args.theta
        if dim == 1:
            return potentials.from_expression(args.potential), args.theta
        return potentials.from_expression_nd(args.potential, dim), args.theta
    if args.gamma is None:
        raise ValueError("--gamma is required with --family")
    fam = args.family.upper()
    if fam != "C" and args.delta:
        raise ValueError("--delta is only meaningful for family C")
    if fam == "S":
        pot = potentials.swarming(args.gamma, dim, rescaled=not args.original) if dim > 1 \
            else potentials.paper_family("A", args.gamma, rescaled=not args.original)
    elif dim != 1:
        raise ValueError(f"family {fam} is one-dimensional; use --family S with --dim {dim}")
    else:
        pot = potentials.paper_family(fam, args.gamma, delta=args.delta,
                                      rescaled=not args.original)
    theta = args.theta if args.theta is not None else (pot.theta if pot.theta is not None
                                                      else 1.0)
    return pot, theta


def _odd_sector(res):
    """True only for a 1D result whose eigenvalues are all from the odd sector (the default for
    even W): radial and 2D results, and 1D results with both sectors, are not labelled odd."""
    parity = getattr(res, "parity", None)
    if int(getattr(res, "dim", 1)) != 1 or parity is None:
        return False
    parity = np.asarray(parity)
    return parity.size > 1 and bool(np.all(parity[1:] == -1))


def _coefficients(args):
    from .errors import AccuracyError, AccuracyWarning
    from .solver import coefficients

    pot, theta = _potential(args)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AccuracyWarning)
        try:
            # progress: stderr only, and only once a solve has run for 2 s
            res = coefficients(pot, theta, n_modes=args.modes, degree=args.degree,
                               rtol=args.rtol, method=args.method, strict=args.strict,
                               progress=True)
        except AccuracyError as exc:
            print(f"effcoef: accuracy not reached: {exc}", file=sys.stderr)
            return 3
    for w in caught:          # accuracy, and a series that could not be computed
        if issubclass(w.category, (AccuracyWarning, RuntimeWarning)):
            print(f"effcoef: warning: {w.message}", file=sys.stderr)
    if args.json:
        print(json.dumps(res.to_dict()))
    else:
        np.set_printoptions(precision=10)
        print(f"potential : {pot.name}")
        print(f"theta     : {res.theta:.15g}")
        fmt = lambda x: (f"{x:.15g}" if np.ndim(x) == 0  # noqa: E731
                         else np.array2string(np.asarray(x), precision=12))
        print(f"D         : {fmt(res.D)}")
        print(f"K         : {fmt(res.K)}")
        print(f"V         : {fmt(res.V)}")
        label = "lambda odd" if _odd_sector(res) else "lambda_1..."
        print(f"{label:<10}: {', '.join(f'{x:.10g}' for x in res.eigenvalues[1:6])}")
        print(f"modes N   : {res.n_modes}")
        print(f"rel. error: {res.rel_error_estimate:.1e} ({res.error_method})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``effcoef`` argument parser (subcommands ``coefficients`` and ``sweep``).

    Public so that the documentation generates the command line reference from it.
    """
    return _build_parser()


#: options whose value may begin with '-' (an expression such as "-cos(x)/2", a negative tilt)
_EXPRESSION_OPTIONS = frozenset({"--potential", "--radial", "--expression", "--periodic",
                                 "--force", "--delta", "--param", "--period"})


def _join_dash_values(argv: Sequence[str]) -> list:
    """``--potential -cos(x)/2`` -> ``--potential=-cos(x)/2``: argparse takes a value that
    begins with '-' (and is not a number) for an option and fails with "expected one
    argument"; for the options above such a value is an expression, never an option."""
    out, i = [], 0
    argv = list(argv)
    while i < len(argv):
        tok = argv[i]
        nxt = argv[i + 1] if i + 1 < len(argv) else None
        if (tok in _EXPRESSION_OPTIONS and nxt is not None and nxt.startswith("-")
                and not nxt.startswith("--") and len(nxt) > 2):
            out.append(f"{tok}={nxt}")
            i += 2
            continue
        out.append(tok)
        i += 1
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = _build_parser()
    args = parser.parse_args(_join_dash_values(sys.argv[1:] if argv is None else argv))
    try:
        status = 1
        if args.command == "coefficients":
            status = _coefficients(args)
        elif args.command == "sweep":
            status = _sweep_cmd(args)
        elif args.command == "periodic":
            status = _periodic_cmd(args)
        sys.stdout.flush()              # a closed pipe shows up here, not at interpreter exit
        return status
    except (ValueError, ArithmeticError) as exc:  # PotentialError, EffcoefError are ValueErrors
        msg = " ".join(str(exc).split())
        print(f"effcoef: error: {msg}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return _broken_pipe()


def _broken_pipe():
    """The reader of stdout went away (``effcoef ... | head``): no traceback, status 141
    (128 + SIGPIPE, what a shell reports for a command killed by the signal).  stdout is
    pointed at devnull so that the interpreter's final flush does not raise again."""
    import os
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):   # stdout without a file descriptor
        pass
    return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
