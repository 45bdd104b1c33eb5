"""A dodo.py's whole content is `from scylla.dodo import *`: doit then runs the experiment named by
`exp=PATH`, else the experiment.yaml beside the dodo.py (or in the directory doit started from), else
examples/hello (loader.default_spec)."""

from .loader import load_from_command_line

_namespace = load_from_command_line()
globals().update(_namespace)
__all__ = list(_namespace)
