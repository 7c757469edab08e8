"""The expression trees are hash-consed DAGs: shared subexpressions, memoised derivatives,
evaluation proportional to the number of distinct nodes (issue 14)."""

import copy
import pickle

import numpy as np
import pytest

import potentials.expression as E
from potentials import from_expression
from potentials.expression import MAX_DEPTH, MAX_LENGTH, parse
from potentials.nd import from_expression_nd

DEPTH = 93
NESTED = "+".join("sin(" * DEPTH + "v" + ")" * DEPTH for _ in range(4))


def test_repro_fits_the_parser_limits():
    assert len(NESTED) <= MAX_LENGTH and DEPTH + 4 <= MAX_DEPTH


def test_equal_subtrees_are_one_object():
    a = parse("sin(v)**2 + sin(v)**2")
    assert a.a is a.b
    assert parse("v**4/4 - v**2/2") is parse("v**4/4 - v**2/2")
    # -0.0 and 0.0 are different constants (they print differently)
    assert E.Const(-0.0) is not E.Const(0.0)
    assert E.Const(2.0, "2") is not E.Const(2.0)
    with pytest.raises(AttributeError):
        a.a = a.b


def test_pickle_and_copy_preserve_identity():
    t = from_expression("exp(-v**2)*cos(3*v) + v**4").d2tree
    assert pickle.loads(pickle.dumps(t)) is t
    assert copy.deepcopy(t) is t


def test_nested_expression_is_linear_in_distinct_nodes(monkeypatch):
    """W, W', W'' of 4 chains of sin nested 93 deep: the distinct nodes grow linearly
    with the depth (the tree forms have 379, 18227 and ~1.2e6 nodes), and evaluating
    on 1000 points evaluates each distinct node once."""
    p = from_expression(NESTED)
    counts = [p.tree.count_nodes(), p.dtree.count_nodes(), p.d2tree.count_nodes()]
    # sin^k(v) for k <= 93 (93 nodes + v + 3 sums); W' adds cos(sin^k) and the
    # partial products (~2 per level); W'' ~ 7 per level: all O(depth)
    assert counts[0] <= DEPTH + 10
    assert counts[1] <= 4 * DEPTH
    assert counts[2] <= 10 * DEPTH
    assert p.d2tree.tree_size() > 100 * counts[2]  # it really is a DAG

    calls = {"n": 0}
    for cls in (E.Const, E.Var, E.Add, E.Sub, E.Mul, E.Div, E.Pow, E.Neg, E.Func):
        orig = cls.__dict__["_np"]

        def counted(self, vals, env, _orig=orig):
            calls["n"] += 1
            return _orig(self, vals, env)

        monkeypatch.setattr(cls, "_np", counted)
    x = np.linspace(-2.0, 2.0, 1000)
    w, d1, d2 = p.W(x), p.dW(x), p.d2W(x)
    assert calls["n"] == sum(counts)
    # independent check: the chain rule by forward recursion on the composition
    s, ds, d2s = x.copy(), np.ones_like(x), np.zeros_like(x)
    for _ in range(DEPTH):
        s, ds, d2s = np.sin(s), np.cos(s) * ds, -np.sin(s) * ds**2 + np.cos(s) * d2s
    np.testing.assert_allclose(w, 4 * s, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(d1, 4 * ds, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(d2, 4 * d2s, rtol=1e-10, atol=1e-12)


def test_nested_3d_expression_distinct_nodes():
    text = "+".join("sin(" * 30 + f"v{i}*v{j}" + ")" * 30 for i in (1, 2, 3) for j in (1, 2, 3))
    assert len(text) <= MAX_LENGTH
    p = from_expression_nd(text, 3)
    n = p.laplacian_tree.count_nodes()
    assert n <= 9 * 30 * 12
    V = np.random.default_rng(1).uniform(-1, 1, (3, 1000))
    assert np.all(np.isfinite(p.laplacian(V)))
