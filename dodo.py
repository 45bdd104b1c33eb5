"""Scylla: `doit` runs the experiment named by `doit exp=PATH/experiment.yaml` (default: the experiment.yaml
of the directory doit starts in, else examples/hello; elsewhere, `scylla run|status|... PATH`)."""
from scylla.dodo import *  # DOIT_CONFIG and the task creator: scylla/dodo.py
