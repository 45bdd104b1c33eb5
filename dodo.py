"""Scylla: `doit` runs the experiment named by `doit exp=PATH/experiment.yaml` (default: examples/hello)."""
from scylla.dodo import *  # noqa: F403  (DOIT_CONFIG and the task creator: scylla/dodo.py)
