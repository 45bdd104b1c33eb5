"""The sandbox's pieces: the spec setting, endpoints, the bubblewrap mount order, the evidence scan."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from scylla import sandbox, spec
from scylla.errors import SpecError

pytestmark = pytest.mark.unit


def test_endpoints_parse_urls_and_host_port():
    assert sandbox.endpoint("https://api.anthropic.com") == sandbox.Endpoint("api.anthropic.com", 443)
    assert sandbox.endpoint("http://127.0.0.1:8080/v1") == sandbox.Endpoint("127.0.0.1", 8080)
    assert sandbox.endpoint("example.org:3128").label == "example.org:3128"
    with pytest.raises(ValueError, match="no port"):
        sandbox.endpoint("example.org")


def test_only_a_named_kind_is_part_of_the_agents_identity():
    assert sandbox.Setting().identity() is None                      # default auto: what works here
    assert sandbox.Setting("auto", explicit=True).identity() is None
    assert sandbox.Setting("none", explicit=True).identity() == {"kind": "none"}
    assert sandbox.Setting("docker", "img:1", ("h:1",), explicit=True).identity() == {"kind": "docker", "image": "img:1"}


def _spec(tmp_path: Path, sandbox_value) -> Path:
    hello = Path(__file__).resolve().parents[1] / "examples/hello"
    data = yaml.safe_load((hello / "experiment.yaml").read_text())
    data.update(fixture=str(hello / "fixture"), tiers_dir=str(hello / "tiers"), results=str(tmp_path / "r"),
                repos={k: str(hello / v) for k, v in data["repos"].items()}, sandbox=sandbox_value)
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_spec_reads_the_setting_and_names_the_key_when_wrong(tmp_path):
    exp = spec.load_experiment(_spec(tmp_path, {"kind": "bubblewrap", "allow": ["http://127.0.0.1:9/v1"]}))
    assert exp.sandbox == sandbox.Setting("bubblewrap", None, ("http://127.0.0.1:9/v1",), explicit=True)
    assert exp.agent_identity()["sandbox"] == {"kind": "bubblewrap"}
    assert "sandbox" not in spec.load_experiment(_spec(tmp_path, None)).agent_identity()
    assert spec.load_experiment(_spec(tmp_path, "none")).sandbox.kind == "none"
    for value, message in (("jail", "key 'sandbox.kind': expected one of auto, bubblewrap, docker, none"),
                           ({"kind": "docker"}, "key 'sandbox.image'"),
                           ({"allow": ["nohost"]}, "key 'sandbox.allow': 'nohost': no port"),
                           ({"kind": "none", "net": 1}, "unknown key 'sandbox.net'")):
        with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")):
            spec.load_experiment(_spec(tmp_path, value))


def test_hidden_trees_are_mounted_before_what_is_shown_inside_them(tmp_path):
    root, spec_dir = tmp_path / "spec/results/exp", tmp_path / "spec"
    ws = root / ".scylla/workspaces/run"
    expected = spec_dir / "fixture/expected"
    for d in (ws, expected):
        d.mkdir(parents=True)
    prompt = root / "T0/00/run_01/agent/prompt.md"
    prompt.parent.mkdir(parents=True)
    prompt.write_text("task")
    policy = sandbox.Policy("bubblewrap", ws, writable=(ws,), readable=(prompt, spec_dir), hidden=(root, expected))
    args = sandbox._bwrap_args(policy)
    assert args[args.index(str(root)) - 1] == "--tmpfs" and args[args.index(str(ws)) - 1] == "--bind"
    assert args.index(str(spec_dir)) < args.index(str(root)) < args.index(str(ws))     # parents first
    assert args.index(str(root)) < args.index(str(prompt))
    tail = args[args.index("--remount-ro"):]
    assert tail[:4] == ["--remount-ro", str(root), "--remount-ro", str(expected)]      # after what is inside
    assert args[args.index("--chdir") + 1] == str(ws)


def test_remote_endpoints_get_loopback_addresses_of_their_own():
    a, b, c = sandbox.Endpoint("127.0.0.1", 8080), sandbox.Endpoint("api.example.com", 443), \
        sandbox.Endpoint("other.example.com", 443)
    addresses = sandbox._addresses([a, b, c, sandbox.Endpoint("localhost", 9)])
    assert addresses[a] == "127.0.0.1" and addresses[sandbox.Endpoint("localhost", 9)] == "127.0.0.1"
    assert addresses[b] != addresses[c] and all(x.startswith("127.0.") for x in addresses.values())


def test_violations_name_what_the_sandbox_denied(tmp_path):
    root, ws = tmp_path / "exp", tmp_path / "exp/.scylla/workspaces/r"
    policy = sandbox.Policy("bubblewrap", ws, writable=(ws,), readable=(root / "T0/00/run_02/agent/prompt.md",),
                            hidden=(root, Path("/home/user")))
    text = "\n".join([
        "PermissionError: [Errno 30] Read-only file system: '/usr/lib/x'",
        f"FileNotFoundError: [Errno 2] No such file or directory: '{root}/T0/00/run_01/agent/patch.diff'",
        f"FileNotFoundError: [Errno 2] No such file or directory: '{ws}/missing.py'",     # its own: not a denial
        "ConnectionRefusedError: [Errno 111] Connection refused",
        "all fine here"])
    found = sandbox.violations(policy, {"stderr.log": text})
    assert [(v["kind"], v["path"], v["line"]) for v in found] == [
        ("write", "/usr/lib/x", 1), ("hidden", f"{root}/T0/00/run_01/agent/patch.diff", 2), ("connect", None, 4)]
    assert sandbox.violations(sandbox.Policy("none", ws), {"stderr.log": text}) == []


def test_auto_falls_back_to_none_with_the_reason(monkeypatch):
    monkeypatch.setattr(sandbox, "probe", lambda kind: "bwrap not found (apt-get install bubblewrap)")
    kind, note = sandbox.resolve(sandbox.Setting())
    assert kind == "none" and "bwrap not found" in note and "unconfined" in note
    assert sandbox.resolve(sandbox.Setting("bubblewrap", explicit=True)) == ("bubblewrap", "")
    assert "does not work here" in sandbox.problem(sandbox.Setting("bubblewrap", explicit=True))
    assert sandbox.problem(sandbox.Setting()) is None          # auto never refuses: it warns
    policy = sandbox.Confinement(sandbox.Setting(), (Path("/x"),)).policy(Path("/w"), (Path("/w"),))
    assert policy.kind == "none" and policy.record()["network"] == "unrestricted" and policy.record()["note"] == note


def test_a_path_both_shown_and_hidden_stays_hidden(tmp_path):
    home, ws = tmp_path / "home", tmp_path / "ws"
    for d in (home, ws):
        d.mkdir()
    args = sandbox._bwrap_args(sandbox.Policy("bubblewrap", ws, writable=(ws,), readable=(home,), hidden=(home,)))
    shown, hidden = args.index(str(home)), max(i for i, a in enumerate(args) if a == str(home) and args[i - 1] == "--tmpfs")
    assert args[shown - 1] == "--ro-bind" and shown < hidden          # shown first, then hidden over it
