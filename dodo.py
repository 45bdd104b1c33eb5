"""Scylla: `doit` runs the experiment named by `doit exp=PATH/experiment.yaml` (default: examples/hello)."""
from doit import get_var

from scylla.loader import load

globals().update(load(get_var("exp"), rejudge=get_var("rejudge"), over_budget=get_var("over_budget")))
