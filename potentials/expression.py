r"""Potentials given as expression strings.

The expression is parsed with :func:`ast.parse` (``mode="eval"``) and the
syntax tree is walked with a whitelist; nothing is ever evaluated by Python
(no ``eval``/``exec``/``sympify``).  Allowed are

* int and float literals, the variable (``v`` by default), ``pi`` and ``e``;
* unary ``+``/``-``, binary ``+ - * /`` and ``**``;
* calls by bare name of ``abs exp log sqrt sin cos tanh cosh`` with exactly
  one positional argument.

The expression is converted into a small immutable tree (:class:`Const`,
:class:`Var`, :class:`Add`, :class:`Sub`, :class:`Mul`, :class:`Div`,
:class:`Pow`, :class:`Neg`, :class:`Func`) that supports exact symbolic
differentiation :meth:`Node.diff`, vectorised numpy evaluation
:meth:`Node.eval_np` and mpmath evaluation :meth:`Node.eval_mp`.
"""

from __future__ import annotations

import ast
import math
import threading
import weakref
from fractions import Fraction
from typing import Any, Iterator, Optional, Sequence, Union

import mpmath as mp
import numpy as np

from .core import Potential, reconstructible
from .errors import ExpressionError

__all__ = [
    "from_expression", "parse", "Node", "Const", "Var", "Add", "Sub", "Mul",
    "Div", "Pow", "Neg", "Func", "USER_FUNCTIONS", "MAX_LENGTH", "MAX_DEPTH",
    "simplify", "dag_nodes", "substitute", "MP_FUNCS", "mp_power", "mp_div",
]

#: functions callable in user expressions
USER_FUNCTIONS = ("abs", "exp", "log", "sqrt", "sin", "cos", "tanh", "cosh")
#: functions only produced by differentiation
_INTERNAL_FUNCTIONS = ("sinh", "sign")
_ALL_FUNCTIONS = USER_FUNCTIONS + _INTERNAL_FUNCTIONS
#: maximal length of an expression string
MAX_LENGTH = 2000
#: maximal nesting depth of the syntax tree
MAX_DEPTH = 100

# ----------------------------------------------------------------------
# numerical helpers


def _np_log(x):
    return np.log(x)


def _np_sqrt(x):
    return np.sqrt(x)


_NP_FUNCS = {
    "abs": np.abs, "exp": np.exp, "log": _np_log, "sqrt": _np_sqrt,
    "sin": np.sin, "cos": np.cos, "tanh": np.tanh, "cosh": np.cosh,
    "sinh": np.sinh, "sign": np.sign,
}


def _mp_log(x):
    if x < 0:
        return mp.nan
    if x == 0:
        return mp.ninf
    return mp.log(x)


def _mp_sqrt(x):
    return mp.nan if x < 0 else mp.sqrt(x)


#: the grammar's functions in mpmath (real: nan outside the domain, log(0) = -inf)
MP_FUNCS = {
    "abs": abs, "exp": mp.exp, "log": _mp_log, "sqrt": _mp_sqrt,
    "sin": mp.sin, "cos": mp.cos, "tanh": mp.tanh, "cosh": mp.cosh,
    "sinh": mp.sinh, "sign": lambda x: mp.mpf(mp.sign(x)),
}


def _math_sign(x):
    return float((x > 0) - (x < 0))


_MATH_FUNCS = {
    "abs": abs, "exp": math.exp, "log": math.log, "sqrt": math.sqrt,
    "sin": math.sin, "cos": math.cos, "tanh": math.tanh, "cosh": math.cosh,
    "sinh": math.sinh, "sign": _math_sign,
}


def _is_int_valued(x) -> bool:
    return math.isfinite(x) and float(x).is_integer()


def _np_power(base, expo):
    """Real power: nan for a non-integer exponent of a negative base."""
    base = np.asarray(base, dtype=np.float64)
    expo = np.asarray(expo, dtype=np.float64)
    if expo.ndim == 0 and _is_int_valued(float(expo)):
        return np.power(base, expo)
    ok = (base >= 0) | (expo == np.round(expo))
    out = np.power(np.where(ok, base, 1.0), expo)
    return np.where(ok, out, np.nan)


def mp_power(base: mp.mpf, expo: mp.mpf) -> mp.mpf:
    """Real power in mpmath, the grammar's ``**``: nan for a non-integer power of a negative
    base, inf for 0 to a negative power."""
    if mp.isint(expo):
        n = int(expo)
        if base == 0 and n < 0:
            return mp.inf
        return base ** n
    if base < 0:
        return mp.nan
    if base == 0:
        return mp.mpf(0) if expo > 0 else mp.inf
    return mp.power(base, expo)


def mp_div(a: mp.mpf, b: mp.mpf) -> mp.mpf:
    """Division in mpmath, the grammar's ``/``: +-inf for x/0, nan for 0/0."""
    if b == 0:
        if a == 0 or mp.isnan(a):
            return mp.nan
        return mp.inf * mp.sign(a)
    return a / b


# ----------------------------------------------------------------------
# expression tree (hash-consed DAG)
#
# Nodes are interned ("hash-consing"): constructing a node whose type and
# children are those of a live node returns that node, so equal subtrees are
# one object.  Equality and hashing are therefore by identity (O(1), no
# recursive structural hash).  Derivatives are memoised per node, and every
# evaluation walks the distinct nodes once in a topological order (children
# before parents) with a per-call memo, so a DAG whose tree form is
# exponentially large (derivatives of deeply nested expressions) costs time
# proportional to its number of distinct nodes.  All walks are iterative (no
# Python recursion limit).

_INTERN = weakref.WeakValueDictionary()
_INTERN_LOCK = threading.Lock()


def _postorder(root: "Node") -> list:
    """Distinct nodes reachable from ``root``, children before parents."""
    order = []
    seen = set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        for c in reversed(node.children()):
            if c not in seen:
                stack.append((c, False))
    return order


def dag_nodes(*roots) -> list:
    """Distinct nodes reachable from any of ``roots``, children before parents.

    Evaluating the nodes in this order (each from its children's values)
    evaluates several expressions sharing subexpressions once per node.
    """
    order, seen = [], set()
    for r in roots:
        for n in r.nodes():
            if n not in seen:
                seen.add(n)
                order.append(n)
    return order


class Node:
    """Base class of the immutable, interned expression DAG.

    Two nodes are equal iff they are the same object; structurally equal
    expressions built anywhere in the process are the same object.
    """

    __slots__ = ("_vars", "_dcache", "_order", "__weakref__")
    _fields = ()

    @classmethod
    def _intern(cls, key, fields, vars_):
        with _INTERN_LOCK:
            obj = _INTERN.get(key)
            if obj is None:
                obj = object.__new__(cls)
                for k, v in fields:
                    object.__setattr__(obj, k, v)
                object.__setattr__(obj, "_vars", vars_)
                object.__setattr__(obj, "_dcache", {})
                object.__setattr__(obj, "_order", None)
                _INTERN[key] = obj
            return obj

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __reduce__(self):
        return (type(self), tuple(getattr(self, f) for f in self._fields))

    def __repr__(self):
        s = str(self)
        if len(s) > 80:
            s = s[:77] + "..."
        return f"{type(self).__name__}<{s}>"

    # -- structure ------------------------------------------------------
    def children(self) -> tuple:
        """Direct sub-expressions (a tuple)."""
        return ()

    def nodes(self) -> list:
        """The distinct nodes of the DAG, children before parents (cached)."""
        order = self._order
        if order is None:
            order = _postorder(self)
            object.__setattr__(self, "_order", order)
        return order

    def count_nodes(self) -> int:
        """Number of distinct nodes of the DAG."""
        return len(self.nodes())

    def tree_size(self) -> int:
        """Number of nodes of the equivalent tree (shared subtrees counted each time)."""
        size = {}
        for n in self.nodes():
            size[n] = 1 + sum(size[c] for c in n.children())
        return size[self]

    def walk(self) -> Iterator["Node"]:
        """Yield all nodes of the tree (pre-order, shared subtrees repeated)."""
        stack = [self]
        while stack:
            n = stack.pop()
            yield n
            stack.extend(reversed(n.children()))

    def has_var(self, var: str) -> bool:
        """Whether the expression depends on variable ``var``."""
        return var in self._vars

    @property
    def variables(self) -> frozenset:
        """Names of the variables the expression depends on."""
        return self._vars

    # -- differentiation ------------------------------------------------
    def diff(self, var: str) -> "Node":
        """Exact symbolic derivative with respect to ``var`` (simplified, memoised)."""
        d = self._dcache.get(var)
        if d is not None:
            return d
        for n in self.nodes():
            if var not in n._dcache:
                n._dcache[var] = n._diff(var, _dget) if var in n._vars else ZERO
        return self._dcache[var]

    def _diff(self, var, D):  # pragma: no cover - abstract
        raise NotImplementedError

    # -- evaluation -----------------------------------------------------
    def eval_np(self, env: dict) -> np.ndarray:
        """Evaluate with numpy; ``env`` maps variable names to float arrays."""
        vals = {}
        for n in self.nodes():
            vals[n] = n._np(vals, env)
        return vals[self]

    def eval_np_all(self, env: dict) -> dict:
        """Evaluate every distinct node with numpy: a dict node -> value."""
        vals = {}
        for n in self.nodes():
            vals[n] = n._np(vals, env)
        return vals

    def eval_mp(self, env: dict) -> Any:
        """Evaluate with mpmath at the current precision."""
        vals = {}
        for n in self.nodes():
            vals[n] = n._mp(vals, env)
        return vals[self]

    # -- printing -------------------------------------------------------
    # precedence used by __str__
    prec = 100

    def _parts(self):  # pragma: no cover - abstract
        """Pieces of the printed form: strings and (child, min_prec) pairs."""
        raise NotImplementedError

    def __str__(self):
        out = []
        stack = [(self, 0)]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                out.append(item)
                continue
            node, min_prec = item
            parts = node._parts()
            if node.prec < min_prec:
                parts = ["("] + parts + [")"]
            stack.extend(reversed(parts))
        return "".join(out)


def _text_is_exact(value: float, text) -> bool:
    """Whether the constant's meaning (its decimal text) is exactly the float ``value``."""
    if text is None:
        return True
    if text in ("pi", "e"):
        return False
    t = text.replace("_", "")
    try:
        return Fraction(t) == Fraction(value)
    except (ValueError, ZeroDivisionError):
        pass
    try:
        return int(t, 0) == Fraction(value)
    except ValueError:
        return False


def _dget(node, var):
    return node._dcache[var]


class Const(Node):
    """A real constant; ``text`` is the literal (or ``pi``/``e``) for mpmath."""

    __slots__ = ("value", "text", "exact")
    _fields = ("value", "text")

    def __new__(cls, value, text=None):
        value = float(value)
        key = (cls, value.hex(), text)
        obj = _INTERN.get(key)
        if obj is not None:
            return obj
        return cls._intern(key, (("value", value), ("text", text),
                                 ("exact", _text_is_exact(value, text))), frozenset())

    def _diff(self, var, D):
        return ZERO

    def _np(self, vals, env):
        return np.float64(self.value)  # numpy semantics (1/0 = inf, not ZeroDivisionError)

    def _mp(self, vals, env):
        if self.text == "pi":
            return +mp.pi
        if self.text == "e":
            return +mp.e
        if self.text is not None:
            return mp.mpf(self.text)
        return mp.mpf(self.value)

    @property
    def prec(self) -> int:
        return 100 if self.value >= 0 else 3

    def _parts(self):
        return [self._str()]

    def _str(self):
        if self.text is not None:
            return self.text
        v = self.value
        return str(int(v)) if _is_int_valued(v) and abs(v) < 1e16 else repr(v)


class Var(Node):
    """The independent variable."""

    __slots__ = ("name",)
    _fields = ("name",)

    def __new__(cls, name):
        name = str(name)
        return cls._intern((cls, name), (("name", name),), frozenset((name,)))

    def _diff(self, var, D):
        return ONE

    def _np(self, vals, env):
        return env[self.name]

    def _mp(self, vals, env):
        return env[self.name]

    def _parts(self):
        return [self.name]


class _Binary(Node):
    __slots__ = ("a", "b")
    _fields = ("a", "b")

    def __new__(cls, a, b):
        if not (isinstance(a, Node) and isinstance(b, Node)):
            raise TypeError(f"{cls.__name__} needs two Node operands")
        return cls._intern((cls, id(a), id(b)), (("a", a), ("b", b)), a._vars | b._vars)

    def children(self) -> tuple:
        return (self.a, self.b)


class Add(_Binary):
    """Sum ``a + b``."""

    __slots__ = ()
    prec = 1

    def _diff(self, var, D):
        return add(D(self.a, var), D(self.b, var))

    def _np(self, vals, env):
        return vals[self.a] + vals[self.b]

    def _mp(self, vals, env):
        return vals[self.a] + vals[self.b]

    def _parts(self):
        return [(self.a, 1), " + ", (self.b, 2)]


class Sub(_Binary):
    """Difference ``a - b``."""

    __slots__ = ()
    prec = 1

    def _diff(self, var, D):
        return sub(D(self.a, var), D(self.b, var))

    def _np(self, vals, env):
        return vals[self.a] - vals[self.b]

    def _mp(self, vals, env):
        return vals[self.a] - vals[self.b]

    def _parts(self):
        return [(self.a, 1), " - ", (self.b, 2)]


class Mul(_Binary):
    """Product ``a * b``."""

    __slots__ = ()
    prec = 2

    def _diff(self, var, D):
        return add(mul(D(self.a, var), self.b), mul(self.a, D(self.b, var)))

    def _np(self, vals, env):
        return vals[self.a] * vals[self.b]

    def _mp(self, vals, env):
        return vals[self.a] * vals[self.b]

    def _parts(self):
        return [(self.a, 2), "*", (self.b, 3)]


class Div(_Binary):
    """Quotient ``a / b``."""

    __slots__ = ()
    prec = 2

    def _diff(self, var, D):
        da, db = D(self.a, var), D(self.b, var)
        # (a/b)' = a'/b - a b'/b^2
        return sub(div(da, self.b), div(mul(self.a, db), pow_(self.b, Const(2.0))))

    def _np(self, vals, env):
        return vals[self.a] / vals[self.b]

    def _mp(self, vals, env):
        return mp_div(vals[self.a], vals[self.b])

    def _parts(self):
        return [(self.a, 2), "/", (self.b, 3)]


class Pow(_Binary):
    """Power ``a ** b`` (real: nan for a non-integer power of a negative base)."""

    __slots__ = ()
    prec = 4

    def _diff(self, var, D):
        u, w = self.a, self.b
        du = D(u, var)
        if not w.has_var(var):
            # (u^c)' = c u^(c-1) u'
            return mul(mul(w, pow_(u, sub(w, ONE))), du)
        dw = D(w, var)
        if not u.has_var(var):
            # (c^w)' = c^w log(c) w'
            return mul(mul(self, func("log", u)), dw)
        # (u^w)' = u^w (w' log u + w u'/u)
        return mul(self, add(mul(dw, func("log", u)), div(mul(w, du), u)))

    def _np(self, vals, env):
        return _np_power(vals[self.a], vals[self.b])

    def _mp(self, vals, env):
        return mp_power(vals[self.a], vals[self.b])

    def _parts(self):
        return [(self.a, 5), "**", (self.b, 4)]


class Neg(Node):
    """Negation ``-a``."""

    __slots__ = ("a",)
    _fields = ("a",)
    prec = 3

    def __new__(cls, a):
        if not isinstance(a, Node):
            raise TypeError("Neg needs a Node operand")
        return cls._intern((cls, id(a)), (("a", a),), a._vars)

    def children(self) -> tuple:
        return (self.a,)

    def _diff(self, var, D):
        return neg(D(self.a, var))

    def _np(self, vals, env):
        return -vals[self.a]

    def _mp(self, vals, env):
        return -vals[self.a]

    def _parts(self):
        return ["-", (self.a, 3)]


class Func(Node):
    """Elementary function ``name(arg)``.

    ``name`` is one of ``abs exp log sqrt sin cos tanh cosh`` or one of the
    internal functions ``sinh`` and ``sign`` produced by differentiation.
    """

    __slots__ = ("name", "arg")
    _fields = ("name", "arg")

    def __new__(cls, name, arg):
        if name not in _ALL_FUNCTIONS:
            raise ExpressionError(f"unknown function {name!r}")
        if not isinstance(arg, Node):
            raise TypeError("Func needs a Node argument")
        return cls._intern((cls, name, id(arg)), (("name", name), ("arg", arg)), arg._vars)

    def children(self) -> tuple:
        return (self.arg,)

    def _diff(self, var, D):
        u = self.arg
        du = D(u, var)
        if isinstance(du, Const) and du.value == 0.0:
            return ZERO
        n = self.name
        if n == "abs":
            d = func("sign", u)
        elif n == "exp":
            d = self
        elif n == "log":
            return div(du, u)
        elif n == "sqrt":
            return div(du, mul(Const(2.0), self))
        elif n == "sin":
            d = func("cos", u)
        elif n == "cos":
            d = neg(func("sin", u))
        elif n == "tanh":
            d = sub(ONE, pow_(self, Const(2.0)))
        elif n == "cosh":
            d = func("sinh", u)
        elif n == "sinh":
            d = func("cosh", u)
        elif n == "sign":
            return ZERO
        else:  # pragma: no cover
            raise ExpressionError(f"cannot differentiate function {n!r}")
        return mul(d, du)

    def _np(self, vals, env):
        u = self.arg
        # numerically stable log(cosh(w)) = logaddexp(w, -w) - log 2
        if self.name == "log" and isinstance(u, Func) and u.name == "cosh":
            w = np.asarray(vals[u.arg], dtype=np.float64)
            return np.logaddexp(w, -w) - math.log(2.0)
        return _NP_FUNCS[self.name](vals[u])

    def _mp(self, vals, env):
        return MP_FUNCS[self.name](vals[self.arg])

    def _parts(self):
        return [f"{self.name}(", (self.arg, 0), ")"]


ZERO = Const(0.0)
ONE = Const(1.0)


# ----------------------------------------------------------------------
# simplifying constructors (used by diff)


def _cval(x):
    """Value of an *exact* constant (its float is its value), else None."""
    return x.value if isinstance(x, Const) and x.exact else None


def _fold(value, exact_value, fallback: Node) -> Node:
    """Constant-fold only if the float ``value`` equals the exact rational result.

    Folding in floating point would silently change the expression (e.g.
    ``3*0.1`` is not ``0.30000000000000004``): derivative trees must be the
    exact derivatives for the certified interval bounds, so an inexact fold
    keeps the unfolded node instead.
    """
    try:
        if (value is not None and isinstance(value, float) and math.isfinite(value)
                and exact_value is not None and Fraction(value) == exact_value):
            return Const(value)
    except (OverflowError, ValueError, ZeroDivisionError):  # pragma: no cover
        pass
    return fallback


def _F(x):
    return Fraction(x)


def _exact_mul(x: float, y: float):
    """``x*y`` if the float product is exact, else None."""
    p = x * y
    if math.isfinite(p) and Fraction(p) == Fraction(x) * Fraction(y):
        return p
    return None


def _exact_div(x: float, y: float):
    if y == 0.0:
        return None
    q = x / y
    if math.isfinite(q) and Fraction(q) == Fraction(x) / Fraction(y):
        return q
    return None


def add(a: Node, b: Node) -> Node:
    """``a + b`` with (exact) constant folding and ``x + 0 -> x``."""
    ca, cb = _cval(a), _cval(b)
    if ca is not None and cb is not None:
        return _fold(ca + cb, _F(ca) + _F(cb), Add(a, b))
    if ca == 0.0:
        return b
    if cb == 0.0:
        return a
    if isinstance(b, Neg):
        return sub(a, b.a)
    if isinstance(a, Neg):
        return sub(b, a.a)
    if cb is not None and cb < 0:
        return Sub(a, Const(-cb))
    if isinstance(b, Mul) and _cval(b.a) is not None and b.a.value < 0:
        return sub(a, mul(Const(-b.a.value), b.b))
    return Add(a, b)


def sub(a: Node, b: Node) -> Node:
    """``a - b`` with (exact) constant folding, ``x - 0 -> x`` and ``0 - x -> -x``."""
    ca, cb = _cval(a), _cval(b)
    if ca is not None and cb is not None:
        return _fold(ca - cb, _F(ca) - _F(cb), Sub(a, b))
    if cb == 0.0:
        return a
    if ca == 0.0:
        return neg(b)
    if isinstance(b, Neg):
        return add(a, b.a)
    if cb is not None and cb < 0:
        return Add(a, Const(-cb))
    return Sub(a, b)


def neg(a: Node) -> Node:
    """``-a`` with ``--x -> x`` and constant folding (exact constants only)."""
    if isinstance(a, Const) and a.exact:
        return Const(-a.value)
    if isinstance(a, Neg):
        return a.a
    if isinstance(a, Mul) and _cval(a.a) is not None:
        return mul(Const(-a.a.value), a.b)
    return Neg(a)


def mul(a: Node, b: Node) -> Node:
    """``a * b`` with (exact) constant folding, ``0*x -> 0``, ``1*x -> x``; constants go left."""
    ca, cb = _cval(a), _cval(b)
    if ca is not None and cb is not None:
        return _fold(ca * cb, _F(ca) * _F(cb), Mul(a, b))
    if cb is not None:  # constants to the left
        a, b, ca, cb = b, a, cb, ca
    if ca is not None:
        if ca == 0.0:
            return ZERO
        if ca == 1.0:
            return b
        if ca == -1.0:
            return neg(b)
        if isinstance(b, Mul) and _cval(b.a) is not None:
            p = _exact_mul(ca, b.a.value)
            if p is not None:
                return mul(Const(p), b.b)
            return Mul(a, b)
        if isinstance(b, Neg):
            return mul(Const(-ca), b.a)
        if isinstance(b, Div) and _cval(b.a) is not None:
            p = _exact_mul(ca, b.a.value)
            if p is not None:
                return div(Const(p), b.b)
            return Mul(a, b)
        if isinstance(b, Div) and _cval(b.b) is not None and b.b.value != 0.0:
            q = _exact_div(ca, b.b.value)
            if q is not None:
                return mul(Const(q), b.a)
            return Mul(a, b)
        return Mul(a, b)
    if isinstance(a, Neg) and isinstance(b, Neg):
        return mul(a.a, b.a)
    if isinstance(a, Neg):
        return neg(mul(a.a, b))
    if isinstance(b, Neg):
        return neg(mul(a, b.a))
    if isinstance(a, Const):  # an inexact constant (e.g. pi, 0.1): keep as is
        return Mul(a, b)
    if isinstance(b, Mul) and isinstance(b.a, Const):
        return mul(b.a, mul(a, b.b))
    if isinstance(a, Mul) and isinstance(a.a, Const):
        return mul(a.a, mul(a.b, b))
    return Mul(a, b)


def div(a: Node, b: Node) -> Node:
    """``a / b`` with (exact) constant folding, ``0/x -> 0``, ``x/1 -> x``, ``sinh/cosh -> tanh``."""
    ca, cb = _cval(a), _cval(b)
    if ca is not None and cb is not None and cb != 0.0:
        return _fold(ca / cb, _F(ca) / _F(cb), Div(a, b))
    if ca == 0.0:
        return ZERO
    if cb == 1.0:
        return a
    if cb == -1.0:
        return neg(a)
    if (isinstance(a, Func) and isinstance(b, Func) and a.name == "sinh"
            and b.name == "cosh" and a.arg is b.arg):
        return func("tanh", a.arg)
    if isinstance(a, Mul) and isinstance(a.a, Const):
        return mul(a.a, div(a.b, b))
    if isinstance(a, Neg):
        return neg(div(a.a, b))
    return Div(a, b)


def _exact_pow(ca: float, cb: float):
    """Exact rational value of ``ca**cb`` for an integer ``cb`` (small), else None."""
    if not _is_int_valued(cb) or abs(cb) > 4096:
        return None
    n = int(cb)
    if ca == 0.0 and n < 0:
        return None
    return Fraction(ca) ** n


def pow_(a: Node, b: Node) -> Node:
    """``a ** b`` with (exact) constant folding, ``x**1 -> x``, ``x**0 -> 1``."""
    ca, cb = _cval(a), _cval(b)
    if cb == 1.0:
        return a
    if cb == 0.0:
        return ONE
    if ca is not None and cb is not None:
        if (ca > 0 or (ca < 0 and _is_int_valued(cb)) or (ca == 0 and cb > 0)):
            try:
                value = float(ca ** cb)
            except (OverflowError, ZeroDivisionError):
                return Pow(a, b)
            if not math.isfinite(value):
                return Pow(a, b)
            return _fold(value, _exact_pow(ca, cb), Pow(a, b))
        return Pow(a, b)
    if isinstance(a, Pow) and cb is not None and _is_int_valued(cb) and _cval(a.b) is not None \
            and _is_int_valued(a.b.value):
        p = _exact_mul(a.b.value, cb)
        if p is not None:
            # (u^m)^n = u^(m n) for integers m, n
            return pow_(a.a, Const(p))
    return Pow(a, b)


def _exact_func(name, c, r):
    """Whether ``r = name(c)`` (float) is the exact value."""
    if name in ("abs", "sign"):
        return True
    if name == "sqrt":
        return c >= 0 and Fraction(r) ** 2 == Fraction(c)
    if name == "log":
        return c == 1.0 and r == 0.0
    if name in ("exp", "cos", "cosh"):
        return c == 0.0 and r == 1.0
    if name in ("sin", "tanh", "sinh"):
        return c == 0.0 and r == 0.0
    return False


def func(name: str, arg: Node) -> Node:
    """``name(arg)`` with constant folding (only when the result is exact)."""
    c = _cval(arg)
    if c is not None:
        try:
            r = float(_MATH_FUNCS[name](c))
        except (ValueError, OverflowError):
            return Func(name, arg)
        if math.isfinite(r) and _exact_func(name, c, r):
            return Const(r)
        return Func(name, arg)
    if name == "abs" and isinstance(arg, Func) and arg.name == "abs":
        return arg
    return Func(name, arg)


def simplify(node: Node) -> Node:
    """Rebuild ``node`` bottom-up with the simplifying constructors (each distinct node once)."""
    new = {}
    for n in node.nodes():
        if isinstance(n, (Const, Var)):
            new[n] = n
        elif isinstance(n, Neg):
            new[n] = neg(new[n.a])
        elif isinstance(n, Func):
            new[n] = func(n.name, new[n.arg])
        else:
            new[n] = {Add: add, Sub: sub, Mul: mul, Div: div, Pow: pow_}[type(n)](new[n.a], new[n.b])
    return new[node]


def substitute(node: Node, mapping: dict, subtrees: Optional[dict] = None) -> Node:
    """Replace variables by expressions: ``mapping`` maps a variable name to a Node, and
    ``subtrees`` (optional) maps whole subtrees (Nodes) to Nodes.

    The result is rebuilt with the simplifying constructors (each distinct
    node once).
    """
    new = {}
    subtrees = subtrees or {}
    for n in node.nodes():
        if n in subtrees:
            new[n] = subtrees[n]
        elif isinstance(n, Var):
            new[n] = mapping.get(n.name, n)
        elif isinstance(n, Const):
            new[n] = n
        elif isinstance(n, Neg):
            new[n] = neg(new[n.a])
        elif isinstance(n, Func):
            new[n] = func(n.name, new[n.arg])
        else:
            new[n] = {Add: add, Sub: sub, Mul: mul, Div: div, Pow: pow_}[type(n)](new[n.a], new[n.b])
    return new[node]


# ----------------------------------------------------------------------
# parser


def _snippet(node) -> str:
    try:
        s = ast.unparse(node)
    except Exception:  # pragma: no cover
        s = type(node).__name__
    return s if len(s) <= 60 else s[:57] + "..."


_BINOPS = {ast.Add: Add, ast.Sub: Sub, ast.Mult: Mul, ast.Div: Div, ast.Pow: Pow}
_BINOP_NAMES = {
    ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<",
    ast.RShift: ">>", ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&",
}
_CONSTRUCT_NAMES = {
    ast.Lambda: "lambda expression", ast.Subscript: "subscript",
    ast.Compare: "comparison", ast.BoolOp: "boolean operator",
    ast.IfExp: "conditional expression", ast.List: "list", ast.Tuple: "tuple",
    ast.Set: "set", ast.Dict: "dict", ast.ListComp: "list comprehension",
    ast.SetComp: "set comprehension", ast.DictComp: "dict comprehension",
    ast.GeneratorExp: "generator expression", ast.JoinedStr: "f-string",
    ast.Starred: "starred expression", ast.Await: "await expression",
    ast.Yield: "yield expression", ast.YieldFrom: "yield expression",
    ast.NamedExpr: "assignment expression", ast.Slice: "slice",
    ast.FormattedValue: "f-string",
}


class _Converter:
    def __init__(self, var):
        # ``var``: one variable name, or a tuple of names (several variables)
        self.vars = (var,) if isinstance(var, str) else tuple(var)
        self.var = self.vars[0]

    def _allowed(self) -> str:
        if len(self.vars) == 1:
            return f"the variable {self.var!r}, 'pi', 'e'"
        names = ", ".join(repr(v) for v in self.vars)
        return f"the variables {names}, 'pi', 'e'"

    def convert(self, node, depth: int = 0) -> Node:
        if depth > MAX_DEPTH:
            raise ExpressionError(f"expression is nested deeper than {MAX_DEPTH} levels")
        d = depth + 1
        if isinstance(node, ast.Expression):
            return self.convert(node.body, d)
        if isinstance(node, ast.Constant):
            val = node.value
            if isinstance(val, bool) or val is None or val is Ellipsis:
                raise ExpressionError(f"constant {_snippet(node)} is not allowed")
            if isinstance(val, complex):
                raise ExpressionError(f"complex number {_snippet(node)} is not allowed")
            if isinstance(val, (str, bytes)):
                raise ExpressionError(f"string literal {_snippet(node)} is not allowed")
            if isinstance(val, (int, float)):
                try:
                    f = float(val)
                except OverflowError:
                    raise ExpressionError(f"number literal {_snippet(node)[:30]} is too large") from None
                if not math.isfinite(f):
                    raise ExpressionError(f"number literal {_snippet(node)[:30]} is not finite")
                return Const(f, repr(val) if isinstance(val, int) else repr(val))
            raise ExpressionError(f"constant {_snippet(node)} is not allowed")  # pragma: no cover
        if isinstance(node, ast.Name):
            if node.id in self.vars:
                return Var(node.id)
            if node.id == "pi":
                return Const(math.pi, "pi")
            if node.id == "e":
                return Const(math.e, "e")
            if node.id in USER_FUNCTIONS:
                raise ExpressionError(f"function {node.id!r} must be called, e.g. {node.id}({self.var})")
            raise ExpressionError(f"unknown name {node.id!r} (allowed: {self._allowed()})")
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                return Neg(self.convert(node.operand, d))
            if isinstance(node.op, ast.UAdd):
                return self.convert(node.operand, d)
            op = "not" if isinstance(node.op, ast.Not) else "~"
            raise ExpressionError(f"unary operator {op!r} is not allowed in {_snippet(node)!r}")
        if isinstance(node, ast.BinOp):
            cls = _BINOPS.get(type(node.op))
            if cls is None:
                sym = _BINOP_NAMES.get(type(node.op), type(node.op).__name__)
                hint = " (use ** for powers)" if sym == "^" else ""
                raise ExpressionError(
                    f"operator {sym!r} is not allowed in {_snippet(node)!r}{hint}")
            return cls(self.convert(node.left, d), self.convert(node.right, d))
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Attribute):
                raise ExpressionError(f"attribute access {_snippet(f)!r} is not allowed")
            if not isinstance(f, ast.Name):
                raise ExpressionError(f"call of {_snippet(f)!r} is not allowed")
            if f.id not in USER_FUNCTIONS:
                raise ExpressionError(
                    f"unknown function {f.id!r} (allowed: {', '.join(USER_FUNCTIONS)})")
            if node.keywords:
                kw = ", ".join(_snippet(k) for k in node.keywords)
                raise ExpressionError(f"keyword arguments are not allowed in call of {f.id}(): {kw}")
            if len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
                raise ExpressionError(
                    f"{f.id}() takes exactly one argument, got {_snippet(node)!r}")
            return Func(f.id, self.convert(node.args[0], d))
        if isinstance(node, ast.Attribute):
            raise ExpressionError(f"attribute access {_snippet(node)!r} is not allowed")
        what = _CONSTRUCT_NAMES.get(type(node), type(node).__name__)
        raise ExpressionError(f"{what} {_snippet(node)!r} is not allowed")


def parse(text: str, var: Union[str, Sequence[str]] = "v") -> Node:
    """Parse an expression string into an (unsimplified) expression tree.

    Parameters
    ----------
    text : str
        The expression, e.g. ``"v**4/4 - v**2/2"``.
    var : str or tuple of str, optional
        Name of the independent variable (default ``"v"``), or a tuple of
        names for an expression in several variables (e.g.
        ``("v1", "v2")``); every other name is rejected.

    Returns
    -------
    Node

    Raises
    ------
    ExpressionError
        On any syntax error or construct outside the whitelist.
    """
    if isinstance(var, str):
        _check_var(var)
    else:
        var = tuple(var)
        if not var or len(set(var)) != len(var):
            raise ValueError(f"invalid variable names {var!r}")
        for v in var:
            _check_var(v)
    if not isinstance(text, str):
        raise ExpressionError(f"expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression is longer than {MAX_LENGTH} characters ({len(text)})")
    if not text.strip():
        raise ExpressionError("expression is empty")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        shown = text if len(text) <= 60 else text[:57] + "..."
        raise ExpressionError(f"syntax error in expression {shown!r}: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise ExpressionError(f"cannot parse expression: {type(exc).__name__}: {exc}") from None
    return _Converter(var).convert(tree)


def _check_var(var):
    if (not isinstance(var, str) or not var.isidentifier() or var in ("pi", "e")
            or var in _ALL_FUNCTIONS):
        raise ValueError(f"invalid variable name {var!r}")


#: highest degree of a polynomial argument of abs() whose real roots become breakpoints
_BREAKPOINT_DEGREE = 12


def _is_polynomial(node: Node, var: str) -> bool:
    """Whether the tree is structurally a polynomial in ``var``: sums, differences,
    negations and products of such, non-negative integer powers of them, quotients by
    subtrees free of ``var``."""
    for n in node.nodes():
        if var not in n.variables or isinstance(n, (Var, Add, Sub, Mul, Neg)):
            continue
        if isinstance(n, Div) and var not in n.b.variables:
            continue
        if isinstance(n, Pow) and var not in n.b.variables and isinstance(n.b, Const) \
                and float(n.b.value).is_integer() and n.b.value >= 0:
            continue
        return False
    return True


def _polynomial_roots(arg: Node, var: str) -> list:
    """Real roots of ``arg`` if it is a polynomial in ``var`` of degree at most
    ``_BREAKPOINT_DEGREE`` (its derivatives vanish identically beyond that), else []: the
    Taylor coefficients at 0 from the exact derivative trees, ``numpy.roots``, and two
    Newton steps on the tree for each real root."""
    if not _is_polynomial(arg, var):
        return []                   # (differentiating a quotient 12 times took seconds)
    derivs = [arg]
    while True:
        nxt = derivs[-1].diff(var)
        if isinstance(nxt, Const) and nxt.value == 0.0:
            break
        if len(derivs) > _BREAKPOINT_DEGREE:
            return []
        derivs.append(nxt)
    n = len(derivs) - 1                      # the degree
    if n < 1:
        return []
    zero = {var: np.float64(0.0)}
    with np.errstate(all="ignore"):
        c = [float(np.asarray(t.eval_np(zero), dtype=float)) / math.factorial(k)
             for k, t in enumerate(derivs)]
    if not all(math.isfinite(x) for x in c) or c[n] == 0.0:
        return []
    if n == 1:
        return [-c[0] / c[1] + 0.0]
    out = []
    scale = max(abs(x) for x in c)
    for z in np.roots(c[::-1]):
        if abs(z.imag) > 1e-7 * max(1.0, abs(z)):
            continue
        x = float(z.real)
        for _ in range(2):                   # polish on the exact tree
            with np.errstate(all="ignore"):
                f = float(np.asarray(arg.eval_np({var: np.float64(x)}), dtype=float))
                df = float(np.asarray(derivs[1].eval_np({var: np.float64(x)}), dtype=float))
            if not (math.isfinite(f) and math.isfinite(df)) or df == 0.0:
                break
            x -= f / df
        with np.errstate(all="ignore"):
            f = float(np.asarray(arg.eval_np({var: np.float64(x)}), dtype=float))
        if math.isfinite(x) and abs(f) <= 1e-9 * scale * max(1.0, abs(x)) ** n:
            out.append(x + 0.0)
    return out


def _affine_breakpoints(tree: Node, var: str) -> tuple[float, ...]:
    """Kinks of the tree: the real roots of the arguments of ``abs()`` nodes that are
    polynomials in ``var`` (affine ``a*var + b``: ``-b/a``; degree up to
    ``_BREAKPOINT_DEGREE``: :func:`_polynomial_roots`).  A root found where the argument
    does not change sign (``abs((v - 1)**2)``) only adds a harmless mesh node."""
    out = set()
    for node in tree.nodes():
        if not (isinstance(node, Func) and node.name == "abs"):
            continue
        out.update(x for x in _polynomial_roots(node.arg, var) if math.isfinite(x))
    return tuple(sorted(out))


def _make_np(tree: Node, var: str):
    def f(x):
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(all="ignore"):
            y = tree.eval_np({var: x})
        return np.broadcast_to(np.asarray(y, dtype=np.float64), x.shape).copy()

    f.__doc__ = _doc(tree)
    return f


#: expressions whose tree form has more nodes than this get a short docstring
_DOC_MAX_TREE = 20000


def _doc(tree: Node) -> str:
    """``str(tree)``, or a short description if the tree form is very large."""
    if tree.tree_size() <= _DOC_MAX_TREE:
        return str(tree)
    return f"expression DAG with {tree.count_nodes()} distinct nodes (str() of the tree is long)"


@reconstructible
def from_expression(text: str, *, var: str = "v", name: Optional[str] = None,
                    symmetric: Optional[bool] = None, theta: Optional[float] = None) -> Potential:
    r"""Build a :class:`~potentials.Potential` from an expression string.

    Parameters
    ----------
    text : str
        Expression of :math:`W` in the variable ``var``, e.g.
        ``"v**4/4 - v**2/2 - 0.3*v"``.  See the module docstring for the
        allowed grammar.
    var : str, optional
        Name of the variable (default ``"v"``; e.g. ``"r"``).
    name : str, optional
        Name of the potential (default ``"W(v) = <text>"``).
    symmetric : bool or None, optional
        Symmetry flag; detected numerically if None.
    theta : float or None, optional
        Temperature to attach to the potential.

    Returns
    -------
    Potential
        With ``dW``, ``d2W`` from exact symbolic differentiation,
        :math:`\frac{d}{dv}|u| = \operatorname{sign}(u)\,u'` (so ``d2W`` is
        the a.e. value at kinks), ``W_mp`` evaluating the unsimplified tree
        with mpmath (literals are read exactly from their decimal text and
        ``pi``, ``e`` at full precision), and ``breakpoints`` the real roots of the
        polynomial arguments of ``abs()`` (degree <= 12).  The expression trees are attached
        as attributes ``tree``, ``dtree`` and ``d2tree`` (``str()`` gives a
        readable form).

    Raises
    ------
    ExpressionError
        For an invalid expression.
    """
    tree = parse(text, var)
    d1 = simplify(tree).diff(var)
    d2 = d1.diff(var)
    bps = _affine_breakpoints(tree, var)

    def W_mp(x):
        return tree.eval_mp({var: mp.mpf(x)})

    pot = Potential(
        _make_np(tree, var), _make_np(d1, var), _make_np(d2, var),
        name=name if name is not None else f"W({var}) = {text.strip()}",
        symmetric=symmetric, breakpoints=bps, theta=theta,
        params={"var": var}, W_mp=W_mp, expr=text.strip(),
    )
    pot.tree, pot.dtree, pot.d2tree, pot.var = tree, d1, d2, var
    return pot
