r"""Fast mpmath evaluation of an expression DAG: straight-line code, one statement per node.

``Potential.W_mp`` walks the DAG with a dictionary per call (~0.2-0.4 ms for a quartic);
the mpmath reference evaluates W at tens of thousands of nodes, so it compiles the DAG once
per working precision into a Python function of one ``mpf`` (~0.05 ms).  Same semantics as
``potentials.expression`` ``eval_mp``: literals read exactly from their decimal text,
``pi``/``e`` at the working precision, ``x/0 = +-inf`` (nan for 0/0), ``log`` of a
negative number nan and of 0 ``-inf``, ``sqrt`` of a negative number nan, a non-integer
power of a negative number nan.  No source text of the user is compiled: the code is
generated from the node types, the constants are passed as objects.
"""

from __future__ import annotations

import weakref

from mpmath import mp

from potentials.expression import MP_FUNCS, dag_nodes, mp_div, mp_power

__all__ = ["compile_mp"]

_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _const(node):
    t = node.text
    if t == "pi":
        return +mp.pi
    if t == "e":
        return +mp.e
    if t is not None:
        return mp.mpf(t.replace("_", ""))
    return mp.mpf(node.value)


def compile_mp(tree, var):
    """A function ``f(x)`` evaluating ``tree`` at the mpf ``x`` with the current mpmath
    precision (compiled once per precision and cached)."""
    prec = mp.prec
    per_tree = _CACHE.setdefault(tree, {})
    hit = per_tree.get((var, prec))
    if hit is not None:
        return hit
    nodes = dag_nodes(tree)
    name = {id(n): f"t{i}" for i, n in enumerate(nodes)}
    env = {"_div": mp_div, "_pow": mp_power, "_F": MP_FUNCS}
    lines = [f"def f({'x'}):"]
    for i, n in enumerate(nodes):
        k = type(n).__name__
        t = name[id(n)]
        if k == "Const":
            env[f"c{i}"] = _const(n)
            rhs = f"c{i}"
        elif k == "Var":
            if n.name != var:
                raise ValueError(f"unexpected variable {n.name!r} (expected {var!r})")
            rhs = "x"
        elif k == "Neg":
            rhs = f"-{name[id(n.a)]}"
        elif k == "Func":
            env[f"f{i}"] = MP_FUNCS[n.name]
            rhs = f"f{i}({name[id(n.arg)]})"
        else:
            a, b = name[id(n.a)], name[id(n.b)]
            rhs = {"Add": f"{a} + {b}", "Sub": f"{a} - {b}", "Mul": f"{a} * {b}",
                   "Div": f"_div({a}, {b})", "Pow": f"_pow({a}, {b})"}[k]
        lines.append(f"    {t} = {rhs}")
    lines.append(f"    return {name[id(tree)]}")
    code = compile("\n".join(lines), "<effcoef.reference.mpeval>", "exec")
    exec(code, env)  # noqa: S102 - generated from node types only, constants passed as objects
    f = env["f"]
    per_tree[(var, prec)] = f
    return f
