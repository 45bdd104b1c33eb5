"""A scripted agent that tries to tamper with the experiment, then does its job.

Its first run is the hello example's honest agent. Later runs read their targets from $SCYLLA_TEST_TARGETS (JSON: paths and ports the test chose), tries each
attack once, and prints one line per attempt to stderr: `attempt NAME: ok` or `attempt NAME: denied: ERROR`.
It appends its environment (as JSON) and its attempts to $SCYLLA_CALL_LOG, the test's own record
(outside the experiment tree, writable to the sandbox only because the test says so). It leaves a
background process that tries to write after it ended. Finally it makes a legitimate edit in its
workspace and prints a Claude-Code-style result line.
"""

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

if os.environ["SCYLLA_RUN_NUMBER"] == "1":       # the first run is honest: the hello example's agent
    os.execv(sys.executable, [sys.executable, os.path.join(os.environ["SCYLLA_SPEC_DIR"], "agent.py")])
targets = json.loads(os.environ["SCYLLA_TEST_TARGETS"])
results = {}


def attempt(name, action):
    try:
        value = action()
        results[name] = f"ok {value!r}"[:200] if value is not None else "ok"
    except Exception as exc:  # noqa: BLE001 (every failure is the point)
        results[name] = f"denied: {type(exc).__name__}: {exc}"
    print(f"attempt {name}: {results[name]}", file=sys.stderr, flush=True)


def write(path, text="forged\n"):
    def action():
        Path(path).write_text(text)
    return action


def read(path):
    return lambda: Path(path).read_text()[:40]


def connect(port):
    def action():
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return s.recv(100).decode(errors="replace")
    return action


agent_dir = Path(os.environ["SCYLLA_PROMPT_FILE"]).parent
attempt("write other run", write(targets["other_run_file"]))
attempt("write own seal", write(agent_dir / ".seal.json", "{}"))
attempt("write judgment", write(targets["judgment"], '{"score": 1.0}'))
attempt("write .scylla", write(targets["scylla_file"]))
attempt("write repository cache", write(targets["cache_file"]))
attempt("write rubric", write(targets["rubric"]))
attempt("write user home", write(targets["user_home_file"]))
attempt("write judge script", write(targets["judge_script"], "print('{\"score\": 1.0}')\n"))
attempt("read rubric", read(targets["rubric"]))
attempt("read config rubric", read(targets["config_rubric"]))
attempt("read other patch", read(targets["other_patch"]))
attempt("read judge key", lambda: os.environ["OPENAI_API_KEY"])
attempt("connect other server", connect(targets["other_port"]))
model = urllib.request.urlopen(f"http://127.0.0.1:{targets['model_port']}/v1/model", timeout=10).read().decode()
print(f"model endpoint: {model}", file=sys.stderr)

# a process left behind, trying to write after the agent ended (and its captures were sealed)
LATE = "import sys, time; time.sleep(2); open(sys.argv[1], 'a').write('late write from a left-behind process\\n')"
subprocess.Popen([sys.executable, "-c", LATE, os.environ["SCYLLA_CALL_LOG"]], start_new_session=True)

with open(os.environ["SCYLLA_CALL_LOG"], "a") as log:
    log.write(f"agent {os.environ['SCYLLA_RUN_ID']}\n")
    log.write("env " + json.dumps(dict(os.environ)) + "\n")
    log.write("attempts " + json.dumps(results) + "\n")

textkit = Path("textkit.py")     # the legitimate work, in its own workspace
textkit.write_text(textkit.read_text().replace("    raise NotImplementedError", "    return len(text.split())", 1))
print(json.dumps({"type": "result", "subtype": "success", "is_error": False, "result": f"edited; model said {model}",
                  "num_turns": 1, "total_cost_usd": 0.01,
                  "usage": {"input_tokens": 10, "output_tokens": 5}}))
