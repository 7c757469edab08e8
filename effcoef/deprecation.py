"""Old flat import paths (``effcoef.quadrature``, ``effcoef.swarming``, ...) kept for one release.

Each old module is a two-line shim that calls :func:`alias_module`: it warns with a
:class:`DeprecationWarning` naming the new path and makes the old name an alias of the new
module in ``sys.modules`` (so ``effcoef.quadrature is effcoef.reference.quadrature``).
"""

import importlib
import sys
import warnings


def alias_module(old, new):
    """Replace module ``old`` by module ``new`` in ``sys.modules`` after a DeprecationWarning."""
    warnings.warn(f"{old} is deprecated and will be removed in the next release; "
                  f"import {new} instead", DeprecationWarning, stacklevel=3)
    module = importlib.import_module(new)
    sys.modules[old] = module
    return module
