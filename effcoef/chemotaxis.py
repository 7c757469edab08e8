"""Deprecated: moved to :mod:`effcoef.models.chemotaxis` (this alias is removed in the next release)."""
from .deprecation import alias_module

alias_module(__name__, "effcoef.models.chemotaxis")
