"""Scylla's modules import downward only: each sits in one layer and imports (also inside functions) only
from its own layer or the layers below; the import graph has no cycle; planning loads no adapter.

A new module must be given its layer here (README, Layout): the test fails for a module it does not know.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "scylla"

# lowest first; a module's name is its path under scylla/ (agents.claude_code), a package's `.*` its modules
LAYERS = {
    "util": ["errors", "context", "safepath", "durable", "records", "reaper", "process", "secrets", "sandbox", "tree", "doit_plugins", "cluster", "throttle",
             "results", "reports", "analysis", "analysis.stats"],
    "registry": ["adapters", "prices"],
    "spec": ["spec"],
    "kinds": ["kinds"],
    "adapters": ["agents.*", "judges.*", "pipeline", "workspace", "resources"],
    "work": ["budget", "preflight", "remote", "actions", "analysis.frames", "analysis.across", "analysis.summary", "analysis.tables",
             "analysis.figures", "analysis.report"],
    "graph": ["graph"],
    "planning": ["plan", "forecast", "runplan", "shards"],
    "faces": ["status", "verify", "progress", "comparison", "loader", "dodo", "cli", "__main__", "adopt"],
}
ADAPTERS = ("scylla.agents.", "scylla.judges.", "scylla.pipeline", "scylla.workspace", "scylla.resources")


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _layer_of(name: str) -> int | None:
    for i, members in enumerate(LAYERS.values()):
        for m in members:
            if name == m or (m.endswith(".*") and (name == m[:-2] or name.startswith(m[:-1]))):
                return i
    return None


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every scylla module `name` imports, at module level or inside a function."""
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name.removeprefix("scylla.") for a in node.names if a.name.startswith("scylla.")]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1] + ([node.module] if node.module else [])
            elif (node.module or "").startswith("scylla"):
                base = (node.module or "").split(".")[1:]
            else:
                continue
            stem = ".".join(base)
            targets = [f"{stem}.{a.name}".lstrip(".") for a in node.names] + [stem]
        else:
            continue
        out |= {t for t in targets if t in known and t not in ("", name)}
    return out


def test_every_module_imports_only_downward_and_the_graph_has_no_cycle() -> None:
    modules = _modules()
    known = set(modules)
    unplaced = sorted(n for n in known if n and _layer_of(n) is None)
    assert not unplaced, f"modules without a layer (give them one in tests/test_layers.py LAYERS): {unplaced}"
    edges = {n: _imports(n, p, known) for n, p in modules.items() if n}
    layer = {n: i for n in known if (i := _layer_of(n)) is not None}     # (every module but "": asserted above)
    upward = [f"{a} ({list(LAYERS)[layer[a]]}) imports {b} ({list(LAYERS)[layer[b]]})"
              for a, bs in edges.items() for b in sorted(bs) if b and layer[b] > layer[a]]
    assert not upward, "\n".join(upward)
    state: dict[str, int] = {}         # 1: on the current path, 2: done

    def visit(n: str, path: list[str]) -> None:
        state[n] = 1
        for m in sorted(edges.get(n, ())):
            assert state.get(m) != 1, f"import cycle: {' -> '.join(path + [n, m])}"
            if m not in state:
                visit(m, path + [n])
        state[n] = 2
    for n in sorted(edges):
        if n not in state:
            visit(n, [])


@pytest.mark.e2e            # (a fresh interpreter per module)
def test_the_planning_modules_load_no_adapter():
    """`doit status` and the run plan need the graph's tasks, not the agents and judges that run them."""
    for module in ("scylla.kinds", "scylla.plan", "scylla.forecast", "scylla.runplan"):
        loaded = subprocess.run([sys.executable, "-c", f"import sys, {module}; print(*sorted(sys.modules))"],
                                capture_output=True, text=True, check=True).stdout.split()
        assert module in loaded
        assert not [m for m in loaded if m.startswith(ADAPTERS)], (module, [m for m in loaded if m.startswith(ADAPTERS)])
