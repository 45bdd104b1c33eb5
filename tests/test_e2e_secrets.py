"""Keys stay where they belong, end to end (real doit): the agent's tests run by the pipeline get no key,
and a key they print anyway is redacted from `commands/*.log`, whatever the name of the variable the
experiment configures it in; each command judge gets its own key and no other adapter's; no key's value
reaches any file of the tree."""

from __future__ import annotations

import json
import os
from pathlib import Path

from conftest import harness_env

from scylla import reaper, secrets

# the keys in the caller's environment: two judges' configured keys under names no pattern knows, and two
# secret-looking ones that no adapter of this experiment uses
KEYS = {"ROUTER_SESAME": "open-sesame-e2e-4242", "OTHER_SESAME": "other-judge-e2e-7777",
        "ANTHROPIC_API_KEY": "sk-ant-e2e-agent-0123456789", "OPENROUTER_KEY": "sk-or-v1-e2e-0123456789"}
# a command judge that records its environment (outside the tree), says its key, then judges
JUDGE = ('env -0 > "$SCYLLA_TEST_DUMPS/judge_$SCYLLA_JUDGE_SLOT.env"; echo "my key: ${ROUTER_SESAME:-$OTHER_SESAME}" >&2; '
         '"$SCYLLA_PYTHON" "$SCYLLA_SPEC_DIR/judge.py"')
# the agent solves the task, then leaves a test that records the pipeline's environment and prints every
# key it can find: in its environment, and in a file outside the workspace (the sandbox's business)
LEAKY_TEST = '''
import json, os, pathlib


def test_leak():
    pathlib.Path(os.environ["SCYLLA_TEST_DUMPS"], "pipeline.json").write_text(json.dumps(dict(os.environ)))
    found = [os.environ.get(k, "") for k in {names!r}] + pathlib.Path({keys_file!r}).read_text().split()
    assert False, "found keys: " + " ".join(found)
'''


def test_keys_reach_only_their_judge_and_no_artifact(fresh, tmp_path):
    dumps, keys_file = tmp_path / "dumps", tmp_path / "keys.txt"
    dumps.mkdir()
    keys_file.write_text("\n".join(KEYS.values()) + "\n")
    test = LEAKY_TEST.format(names=sorted(KEYS), keys_file=str(keys_file))

    def spec(s):
        s["tiers"] = {"T0": ["00"]}
        s["runs"] = 1
        s["agent"]["command"] = f'"$SCYLLA_PYTHON" "$SCYLLA_SPEC_DIR/agent.py" && cat > tests/test_leak.py <<\'EOF\'\n{test}EOF\n'
        s["judges"] = [{"adapter": "pipeline"},
                       {"adapter": "command", "model": "judge-a", "command": JUDGE, "api_key_env": "ROUTER_SESAME"},
                       {"adapter": "command", "model": "judge-b", "command": JUDGE, "api_key_env": "OTHER_SESAME"}]
    fresh.edit_spec(spec)
    # the dumps and the keys file are the test's, outside the tree: shown to the sandbox of the agent's pipeline
    fresh.doit(env={**KEYS, "SCYLLA_TEST_DUMPS": str(dumps), **harness_env(fresh.call_log, dumps, keys_file)})

    run = fresh.root / "T0/00/run_01"
    log = next(run.glob("**/commands/test.log")).read_text()
    assert "found keys: " in log and secrets.MASK in log, log
    pipeline_env = json.loads((dumps / "pipeline.json").read_text())
    secret_named = [k for k in pipeline_env if secrets.is_secret(k) and k != reaper.TOKEN_VAR]    # (doit's own token)
    assert not set(KEYS) & set(pipeline_env) and not secret_named, pipeline_env
    assert pipeline_env["HOME"] != os.environ.get("HOME") and Path(pipeline_env["HOME"]).name == "home"

    own = {1: "ROUTER_SESAME", 2: "OTHER_SESAME"}
    for n, name in own.items():
        env = dict(e.split("=", 1) for e in (dumps / f"judge_{n + 1}.env").read_text().split("\0") if e)
        assert env[name] == KEYS[name]
        assert not (set(KEYS) - {name}) & set(env), f"judge {n + 1} got another adapter's key"
        assert "my key: [REDACTED]" in (run / f"judge/judge_{n + 1:02d}/stdout.log").read_text()
    assert fresh.json("T0/00/run_01/run_result.json")["judges"][1]["is_valid"]

    leaked = [(path, name) for path in fresh.path.rglob("*") if path.is_file() and not path.is_symlink()
              for name, value in KEYS.items() if value.encode() in path.read_bytes()]
    assert not leaked
