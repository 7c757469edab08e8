"""Deprecated: moved to :mod:`effcoef.models.runtumble` (this alias is removed in the next release)."""
from .deprecation import alias_module

alias_module(__name__, "effcoef.models.runtumble")
