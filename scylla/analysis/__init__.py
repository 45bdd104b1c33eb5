"""The analysis: data frames, statistics, tables and figures of an experiment's results (graph tasks)."""

from __future__ import annotations

import importlib
import threading

# In doit's thread mode two analysis tasks can import numpy (scipy, statsmodels, altair) for the first time at
# once; Python's per-module import locks then break a cross-thread deadlock by handing one thread the module
# half initialized ("partially initialized module 'numpy' has no attribute 'ndarray'"). One thread at a time.
_HEAVY = threading.RLock()


def load(*modules: str) -> None:
    """Import `modules` (the heavy libraries an analysis task needs) one thread at a time; after the first
    time each is a dictionary lookup."""
    with _HEAVY:
        for name in modules:
            importlib.import_module(name)
