"""The architecture's import rules, checked on the source (AST; no extra dependency).

Layers (README, "Architecture"): ``potentials`` -> core (``effcoef/*.py``: operator, fem1d,
fem2d, spectrum, results, solver, radial, ...) -> ``effcoef/models`` -> outer layer (cli,
sweep, plotting).  ``effcoef/reference`` is independent of the discretisation and of the
eigensolver: it is what checks them.

Rules (each a list, so that a new module is one line):

1. ``potentials`` never imports ``effcoef``.
2. The core never imports ``effcoef.models`` or the outer layer.
3. ``effcoef.models`` never imports the outer layer.
4. ``effcoef.reference`` never imports the discretisation or eigen code.
5. No private name crosses a module boundary inside the project: no ``from m import _x``
   and no ``m._x`` for a project module ``m`` (dunder names are allowed).
6. No private module or name of a third-party package, except the listed ones (each with
   the reason it is safe).

Imports inside functions count as well.  Tests, notebooks and benchmarks are not checked
(tests may reach into internals on purpose).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("effcoef", "potentials")

#: outer layer: may import anything
OUTER = ["effcoef.cli", "effcoef.sweep", "effcoef.plotting", "effcoef.__main__"]
#: not part of any layer: the old import paths (aliases kept for one release) and their helper
ALIASES = ["effcoef.deprecation", "effcoef.asymptotics", "effcoef.quadrature",
           "effcoef.swarming", "effcoef.runtumble", "effcoef.fhn", "effcoef.fhn_spatial",
           "effcoef.chemotaxis", "effcoef.result_nd"]
#: what the core may not import
NOT_FOR_CORE = ["effcoef.models"] + OUTER
#: what the models may not import
NOT_FOR_MODELS = OUTER
#: what an independent reference may not import: the discretisation and the eigen code
NOT_FOR_REFERENCE = ["effcoef.fem1d", "effcoef.fem2d", "effcoef.fem3d", "effcoef.spectrum",
                     "effcoef.solver", "effcoef.radial", "effcoef.series", "effcoef.periodic",
                     "effcoef.fem_periodic", "effcoef.domain", "effcoef.fend", "effcoef.tensorfe",
                     "effcoef.separable", "effcoef.blockband", "effcoef.latticelu",
                     "effcoef.underdamped", "potentials.intervals", "potentials.bnb"]
#: private third-party names that are allowed, with the reason
THIRD_PARTY_PRIVATE_OK = {
    ("effcoef.fem1d", "scipy.sparse._sparsetools.csr_matvec"):
        "self-checked against the public product at import; the public fallback is tested "
        "(tests/test_fem1d_basis.py)",
    ("effcoef.sweep", "os._exit"):
        "documented public API despite the underscore: a worker whose parent died must end "
        "without running the inherited cleanup (atexit, finalisers of the parent's objects)",
}


def _modules():
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_pkg = parts[-1] == "__init__"
            if is_pkg:
                parts = parts[:-1]
            out[".".join(parts)] = (path, is_pkg)
    return out


MODULES = _modules()


def _is_private(name):
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _within(name, prefixes):
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _resolve(module, is_pkg, node):
    """Absolute module named by an ImportFrom node in ``module``."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_pkg else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module):
    """(imported module, imported name or None, line, bound local name) for every import."""
    path, is_pkg = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                bound = a.asname or a.name.split(".")[0]
                target = a.name if a.asname else a.name.split(".")[0]
                out.append((a.name, None, node.lineno, bound, target))
        elif isinstance(node, ast.ImportFrom):
            src = _resolve(module, is_pkg, node)
            for a in node.names:
                sub = f"{src}.{a.name}"
                out.append((src, a.name, node.lineno, a.asname or a.name,
                            sub if sub in MODULES else None))
    return tree, out


def _targets(src, name):
    """Modules an import reaches: the source, and the submodule if a module is imported."""
    sub = f"{src}.{name}" if name else None
    return [src] + ([sub] if sub and sub in MODULES else [])


def _violations(module, forbidden):
    _, imps = _imports(module)
    bad = []
    for src, name, line, _, _ in imps:
        for t in _targets(src, name):
            if _within(t, forbidden):
                bad.append(f"{module}:{line} imports {t}")
    return bad


def _core():
    return [m for m in MODULES if m.startswith("effcoef") and not _within(m, ["effcoef.models",
            "effcoef.reference"] + OUTER + ALIASES)]


def test_module_lists_are_current():
    """Every listed module exists (or is a planned name: fem3d, series, periodic), and the
    core is what remains - so a new outer or model module must be listed to be exempt."""
    planned = {"effcoef.fem3d", "effcoef.fend", "effcoef.tensorfe",  # landing with issue 16
               "effcoef.underdamped"}                              # landing with issue 19
    for m in OUTER + ALIASES:
        assert m in MODULES or m == "effcoef.__main__", m
    for m in NOT_FOR_REFERENCE:
        assert m in MODULES or m in planned, m
    assert {"effcoef.solver", "effcoef.fem1d", "effcoef.spectrum", "effcoef.operator"} <= set(
        _core())


def test_potentials_never_imports_effcoef():
    bad = [v for m in MODULES if _within(m, ["potentials"])
           for v in _violations(m, ["effcoef"])]
    assert not bad, bad


def test_core_never_imports_models_or_outer_layer():
    bad = [v for m in _core() for v in _violations(m, NOT_FOR_CORE)]
    assert not bad, bad


def test_models_never_import_outer_layer():
    bad = [v for m in MODULES if _within(m, ["effcoef.models"])
           for v in _violations(m, NOT_FOR_MODELS)]
    assert not bad, bad


def test_reference_is_independent_of_discretisation_and_eigensolver():
    bad = [v for m in MODULES if _within(m, ["effcoef.reference"])
           for v in _violations(m, NOT_FOR_REFERENCE)]
    assert not bad, bad


def _dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        return ".".join([node.id] + parts[::-1])
    return None


def test_no_private_name_crosses_a_module_boundary():
    bad = []
    for module in MODULES:
        tree, imps = _imports(module)
        aliases = {}                                 # local name -> project module
        for src, name, line, bound, target in imps:
            if _within(src, PACKAGES) and name and _is_private(name) and src != module:
                bad.append(f"{module}:{line} from {src} import {name}")
            if target and _within(target, PACKAGES):
                aliases[bound] = target
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _is_private(node.attr):
                owner = _dotted(node.value)
                if owner is None:
                    continue
                head, _, rest = owner.partition(".")
                if head in aliases:
                    full = aliases[head] + ("." + rest if rest else "")
                    if full in MODULES and full != module:
                        bad.append(f"{module}:{node.lineno} uses {full}.{node.attr}")
    assert not bad, bad


def test_no_private_third_party_api_unless_listed():
    """Private third-party modules or names, imported (``from scipy.sparse._sparsetools import
    x``) or reached as an attribute of an imported name (``ElementLinePp._reval_legendre``)."""
    bad = []
    for module in MODULES:
        tree, imps = _imports(module)
        bound = {}                                    # local name -> third-party dotted name
        for src, name, line, local, _ in imps:
            if _within(src, PACKAGES) or not src:
                continue
            full = f"{src}.{name}" if name else src
            bound[local] = full if name else (src if local != src.split(".")[0] else local)
            if any(_is_private(p) for p in full.split(".")) and \
                    (module, full) not in THIRD_PARTY_PRIVATE_OK:
                bad.append(f"{module}:{line} imports {full}")
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _is_private(node.attr):
                owner = _dotted(node.value)
                head = owner.partition(".")[0] if owner else None
                if head in bound:
                    full = bound[head] + owner[len(head):] + "." + node.attr
                    if (module, full) not in THIRD_PARTY_PRIVATE_OK:
                        bad.append(f"{module}:{node.lineno} uses {full}")
    assert not bad, bad


@pytest.mark.parametrize("code,expected", [
    ("from .fem1d import _gram\n", "from effcoef.fem1d import _gram"),
    ("from . import fem1d\nfem1d._gram(1, 2, 3)\n", "uses effcoef.fem1d._gram"),
    ("import effcoef.fem1d as f\nf._gram\n", "uses effcoef.fem1d._gram"),
    ("import effcoef\neffcoef.fem1d._gram\n", "uses effcoef.fem1d._gram"),
])
def test_the_private_name_rule_catches(code, expected, tmp_path, monkeypatch):
    """The checker itself: a planted violation in a fake core module is found."""
    fake = tmp_path / "fake.py"
    fake.write_text(code)
    monkeypatch.setitem(MODULES, "effcoef.fake", (fake, False))
    with pytest.raises(AssertionError, match=expected.replace(".", r"\.")):
        test_no_private_name_crosses_a_module_boundary()


@pytest.mark.parametrize("code,expected", [
    ("from skfem import ElementLinePp\nElementLinePp._reval_legendre(1, 2)\n",
     "uses skfem.ElementLinePp._reval_legendre"),
    ("import scipy.sparse._sparsetools\n", "imports scipy.sparse._sparsetools"),
    ("from scipy.sparse import _sparsetools\n", "imports scipy.sparse._sparsetools"),
    ("import numpy as np\nnp._core\n", "uses numpy._core"),
])
def test_the_third_party_rule_catches(code, expected, tmp_path, monkeypatch):
    fake = tmp_path / "fake.py"
    fake.write_text(code)
    monkeypatch.setitem(MODULES, "effcoef.fake", (fake, False))
    with pytest.raises(AssertionError, match=expected.replace(".", r"\.")):
        test_no_private_third_party_api_unless_listed()


def test_the_layer_rules_catch():
    """A planted forbidden import is found by each rule's helper."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        fake = Path(d) / "fake.py"
        fake.write_text("def f():\n    from .models import swarming\n    import effcoef.cli\n")
        MODULES["effcoef.fake"] = (fake, False)
        try:
            bad = _violations("effcoef.fake", NOT_FOR_CORE)
        finally:
            del MODULES["effcoef.fake"]
    assert any("effcoef.models.swarming" in b for b in bad) and \
        any("effcoef.cli" in b for b in bad), bad
