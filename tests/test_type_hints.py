"""The public API is typed: every function and method named in a module's ``__all__`` has
annotations for all its parameters and its return value, and they resolve
(``typing.get_type_hints``).  Not listed: the internal building blocks ``effcoef.kinetic``,
``effcoef.blockband``, ``effcoef.latticelu`` and ``effcoef.fem2d`` (the previous 2D route, kept
for the benchmark).
"""

import importlib
import inspect
import typing

import pytest

MODULES = [
    "potentials.core", "potentials.library", "potentials.nd", "potentials.validation",
    "potentials.expression",
    "effcoef.operator", "effcoef.fem1d", "effcoef.cli", "effcoef.plotting",
    "effcoef.reference.quadrature", "effcoef.reference.asymptotics",
    "effcoef.models.montecarlo", "effcoef.models.swarming", "effcoef.models.fhn",
    "effcoef.models.fhn_spatial", "effcoef.models.runtumble", "effcoef.models.chemotaxis",
    "potentials.periodic", "potentials.intervals", "potentials.bnb",
    "effcoef.solver", "effcoef.radial", "effcoef.results", "effcoef.series",
    "effcoef.separable", "effcoef.fend", "effcoef.sweep", "effcoef.domain", "effcoef.landscape",
    "effcoef.underdamped", "effcoef.periodic",
    "effcoef.reference.radial", "effcoef.reference.underdamped", "effcoef.reference.periodic",
    "effcoef.reference.periodic_fourier", "effcoef.reference.spectral",
    "effcoef.models.langevin_mc", "effcoef.models.periodic_mc",
]


def _public_callables(mod):
    for name in getattr(mod, "__all__", []):
        obj = getattr(mod, name)
        if inspect.isfunction(obj):
            yield name, obj
        elif inspect.isclass(obj) and obj.__module__ == mod.__name__:
            for attr, member in vars(obj).items():
                if attr.startswith("_") and attr != "__init__":
                    continue
                f = member.fget if isinstance(member, property) else \
                    getattr(member, "__func__", member)
                if inspect.isfunction(f):
                    yield f"{name}.{attr}", f


@pytest.mark.parametrize("modname", MODULES)
def test_public_api_is_annotated(modname):
    mod = importlib.import_module(modname)
    missing = []
    for qual, f in _public_callables(mod):
        hints = typing.get_type_hints(f)
        sig = inspect.signature(f)
        for p in sig.parameters.values():
            if p.name in ("self", "cls") or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                continue
            if p.name not in hints:
                missing.append(f"{qual}({p.name})")
        if "return" not in hints and f.__name__ != "__init__":
            missing.append(f"{qual} -> ?")
    assert not missing, missing
