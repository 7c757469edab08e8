"""The old flat import paths work for one release, with a DeprecationWarning naming the new one."""

import importlib
import sys

import pytest

MOVED = {
    "effcoef.quadrature": "effcoef.reference.quadrature",
    "effcoef.asymptotics": "effcoef.reference.asymptotics",
    "effcoef.swarming": "effcoef.models.swarming",
    "effcoef.runtumble": "effcoef.models.runtumble",
    "effcoef.fhn": "effcoef.models.fhn",
    "effcoef.fhn_spatial": "effcoef.models.fhn_spatial",
    "effcoef.chemotaxis": "effcoef.models.chemotaxis",
    "effcoef.result_nd": "effcoef.results",
}


@pytest.mark.parametrize("old,new", sorted(MOVED.items()))
def test_old_path_warns_and_aliases(old, new):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        mod = importlib.import_module(old)
    assert mod is importlib.import_module(new)
    assert sys.modules[old] is mod
