"""Agents cannot tamper with the experiment: a hostile scripted agent inside the bubblewrap sandbox.

Real doit in a subprocess over a real tree; the agent (tests/data/hostile_agent.py) tries every attack
the issue lists, one by one, and reports each attempt. Two loopback servers stand for its model endpoint
(allowed by the spec) and for any other host (not allowed).
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import threading
import time
from pathlib import Path

import orjson
import pytest
from conftest import REPO

from scylla import sandbox

pytestmark = pytest.mark.skipif(sandbox.probe("bubblewrap") is not None and os.environ.get("SCYLLA_REQUIRE_SANDBOX") != "1",
                                reason=f"bubblewrap does not work here: {sandbox.probe('bubblewrap')}")
JUDGE_KEY = "sk-judge-key-0123456789abcdef"


class _Server:
    """A loopback HTTP server counting the requests it answers."""

    def __init__(self, body: bytes):
        self.hits: list[str] = []
        hits = self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def _digests(*roots: Path, skip: tuple[str, ...] = ()) -> dict[str, str]:
    out = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            rel = str(path)
            if path.is_file() and not any(part in skip for part in path.relative_to(root).parts):
                out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def test_hostile_agent_is_confined_and_judged_on_its_work(fresh):
    model, other = _Server(b"model-ok"), _Server(b"other-reached")
    try:
        _run_hostile(fresh, model, other)
    finally:
        model.close()
        other.close()


def _run_hostile(fresh, model, other):
    shutil.copy(REPO / "tests/data/hostile_agent.py", fresh.spec.parent / "hostile_agent.py")

    def hostile(s):
        s.update(tiers={"T0": ["00"]}, runs=1)
        s["agent"]["command"] = '"$SCYLLA_PYTHON" "$SCYLLA_SPEC_DIR/hostile_agent.py"'
        s["sandbox"] = {"kind": "bubblewrap", "allow": [f"http://127.0.0.1:{model.port}/v1"]}
    fresh.edit_spec(hostile)
    fresh.doit()                               # run_01: honest, judged and aggregated
    fresh.edit_spec(lambda s: s.update(runs=2))     # run_02: the same agent, hostile
    root, spec_dir = fresh.root, fresh.spec.parent
    run1 = root / "T0/00/run_01"
    cache = next((root / ".scylla/repos").iterdir())
    victim = Path.home() / f"scylla-victim-{os.getpid()}"
    targets = {
        "other_run_file": str(run1 / "agent/output.txt"), "judgment": str(run1 / "judge/judge_01/judgment.json"),
        "scylla_file": str(root / ".scylla/evil"), "cache_file": str(cache / "objects/info/alternates"),
        "rubric": str(spec_dir / "fixture/expected/rubric.yaml"), "config_rubric": str(root / "config/rubric.yaml"),
        "user_home_file": str(victim), "judge_script": str(spec_dir / "judge.py"),
        "other_patch": str(run1 / "agent/patch.diff"), "other_port": other.port, "model_port": model.port}
    # the run's own outputs and what aggregates them change; nothing else may
    def protected():
        return {k: v for k, v in (_digests(run1, spec_dir / "fixture", cache, root / "config")
                                  | _digests(spec_dir, skip=("results",))).items()
                if not k.endswith(("experiment.yaml", "experiment.json"))}     # (runs: 1 -> 2)
    before = protected()

    fresh.doit(env={"SCYLLA_TEST_TARGETS": json.dumps(targets), "OPENAI_API_KEY": JUDGE_KEY,
                    "ANTHROPIC_API_KEY": JUDGE_KEY + "-anthropic"})
    time.sleep(3)                              # the left-behind process would have written by now

    log = fresh.call_log.read_text()
    attempts = json.loads(next(ln for ln in log.splitlines() if ln.startswith("attempts "))[len("attempts "):])
    assert set(attempts) == {"write other run", "write own seal", "write judgment", "write .scylla",
                             "write repository cache", "write rubric", "write user home", "write judge script",
                             "read rubric", "read config rubric", "read other patch", "read judge key",
                             "connect other server"}
    assert all(v.startswith("denied") for v in attempts.values()), attempts
    assert "late write" not in log, "a process the agent left behind outlived it"
    env = json.loads(next(ln for ln in log.splitlines() if ln.startswith("env "))[len("env "):])
    assert JUDGE_KEY not in json.dumps(env) and "OPENAI_API_KEY" not in env and "ANTHROPIC_API_KEY" not in env
    assert env["HOME"] != str(Path.home())

    assert protected() == before
    assert not victim.exists() and not (root / ".scylla/evil").exists()
    assert other.hits == [] and model.hits == ["/v1/model"]

    run2 = root / "T0/00/run_02"
    record = orjson.loads((run2 / "agent/command_log.json").read_bytes())["sandbox"]
    assert record["kind"] == "bubblewrap" and record["network"] == [f"127.0.0.1:{model.port}"]
    assert record["connections"] == {f"127.0.0.1:{model.port}": 1}
    denied = {(v["kind"], v["path"]) for v in record["violations"]}
    assert {("hidden", targets[k]) for k in ("other_run_file", "judgment", "other_patch", "config_rubric")} < denied
    assert {("write", targets[k]) for k in ("scylla_file", "cache_file", "rubric", "judge_script")} < denied
    assert ("write", str(victim)) in denied and ("write", str(run2 / "agent/.seal.json")) in denied
    assert ("connect", None) in denied

    patch = (run2 / "agent/patch.diff").read_text()
    assert "+    return len(text.split())" in patch and "textkit.py" in patch
    pipeline = orjson.loads((run2 / "commands/pipeline.json").read_bytes())
    assert pipeline["tests"]["passed"] >= 1 and pipeline["steps"]["test"]["status"] == "fail"
    result = orjson.loads((run2 / "run_result.json").read_bytes())
    assert result["judges"] and orjson.loads((run2 / "agent/result.json").read_bytes())["sandbox"]["kind"] == "bubblewrap"
    assert f"Sandbox: bubblewrap; {len(record['violations'])} denied attempt(s)" in (run2 / "report.md").read_text()
    page = (root / "analysis/report/T0/00/run_02.html").read_text()
    assert "denied attempts its output reported" in page and "Read-only file system" in page


@pytest.mark.e2e
def test_unconfined_processes_left_behind_are_killed_when_the_agent_ends(fresh):
    """sandbox: none has no PID namespace; what the agent left running, in its session or a new one, is
    still killed when it ends (found by its command's tag), before anything is sealed."""
    def spec(s):
        s.update(tiers={"T0": ["00"]}, runs=1, sandbox="none")
        s["agent"]["command"] = ('(sleep 2; echo late-child >> "$SCYLLA_CALL_LOG") & '
                                 'setsid bash -c \'sleep 2; echo late-session >> "$SCYLLA_CALL_LOG"\' & '
                                 + s["agent"]["command"])
    fresh.edit_spec(spec)
    fresh.doit()
    time.sleep(3)
    assert "late" not in fresh.call_log.read_text()
    assert orjson.loads((fresh.root / "T0/00/run_01/agent/command_log.json").read_bytes())["sandbox"]["kind"] == "none"


@pytest.mark.e2e
def test_a_sandbox_that_does_not_work_here_refuses_paid_work_before_any_call(fresh):
    if sandbox.probe("docker") is None:
        pytest.skip("a docker daemon answers here: the refusal needs a host without one")
    fresh.edit_spec(lambda s: s.update(tiers={"T0": ["00"]}, runs=1, sandbox={"kind": "docker", "image": "python:3.11"}))
    status = fresh.doit("status", check=False)
    assert "sandbox docker does not work here" in status.stdout and status.returncode != 0
    run = fresh.doit(check=False)
    assert run.returncode != 0 and "refused by preflight" in run.stdout + run.stderr
    assert fresh.calls("agent") == [] and not (fresh.root / "T0/00/run_01/agent/.seal.json").exists()


@pytest.mark.e2e
def test_docker_runs_the_agent_in_a_container_of_the_image(fresh):
    if reason := sandbox.probe("docker"):
        pytest.skip(f"no docker daemon here: {reason}")
    image = os.environ.get("SCYLLA_TEST_DOCKER_IMAGE", "python:3.11-slim")
    edit = ("python3 -c \"import pathlib; p = pathlib.Path('textkit.py'); "
            "p.write_text(p.read_text().replace('    raise NotImplementedError', '    return len(text.split())', 1))\"")

    def spec(s):
        s.update(tiers={"T0": ["00"]}, runs=1, sandbox={"kind": "docker", "image": image})
        s["agent"]["command"] = edit
    fresh.edit_spec(spec)
    fresh.doit()
    run = fresh.root / "T0/00/run_01"
    assert orjson.loads((run / "agent/command_log.json").read_bytes())["sandbox"]["kind"] == "docker"
    assert "+    return len(text.split())" in (run / "agent/patch.diff").read_text()
