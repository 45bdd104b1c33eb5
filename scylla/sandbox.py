"""The sandbox an agent (and the pipeline on its workspace) runs in: what it may write, read and reach.

Kinds (the spec's `sandbox:`): `bubblewrap` (Linux namespaces through `bwrap`), `docker` (a container of a
configured image), `none` (as the user, unconfined: only when asked for, and recorded), and `auto` (the
default): bubblewrap where it works here, else none with a warning in status and reports.

The bubblewrap policy: the host read-only; writable only the run's workspace, its private HOME, a private
/tmp and what the caller adds; *hidden* (empty, read-only directories in its view): the experiment tree
(results, `.scylla/`, other runs' workspaces), the fixture's `expected/` (rubric, criteria) and the user's
home; what the run must read inside them (its prompt, the repository cache's objects, the interpreter and
CLIs on PATH, the spec's directory) is shown again read-only. Private PID, IPC, UTS and network
namespaces: every process the agent left behind dies with it, and the network is loopback only. Each
allowed endpoint (the adapter's model endpoint, `sandbox.allow`) is bridged in: inside, socat listens on
the endpoint's address (a remote host gets a loopback address of its own through /etc/hosts) and
forwards to a unix socket that Scylla serves outside, connecting to the real endpoint. Anything else is
unreachable.

bubblewrap reports nothing itself: a denied write fails with EROFS, a hidden file does not exist, a
refused connection is refused. What the run's own output says about protected paths and refused
connections is recorded as evidence (`violations`).
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import os
import re
import shlex
import shutil
import site
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

KINDS = ("auto", "bubblewrap", "docker", "none")
BRIDGE_DIR = "/run/scylla-net"   # where the endpoints' sockets appear inside the sandbox
NEEDS = {"bubblewrap": ("bwrap", "socat"), "docker": ("docker",)}
INSTALL = {"bwrap": "apt-get install bubblewrap", "socat": "apt-get install socat",
           "docker": "install Docker (or podman with its docker CLI shim) and start its daemon"}


@dataclass(frozen=True)
class Setting:
    """The spec's `sandbox:` (a kind, or a mapping with `kind`, `image`, `allow`)."""
    kind: str = "auto"
    image: str | None = None             # docker: the image agents run in
    allow: tuple[str, ...] = ()          # endpoints reachable besides the adapter's own (URL or host:port)
    explicit: bool = False               # set in the spec (then part of the agent's identity)

    def identity(self) -> dict | None:
        """What of it decides an agent's behaviour: a kind the spec names (and its image). `auto` is not
        part of it (it means "what works here", so a tree moved to a host without bubblewrap is not
        re-bought), nor are the endpoints (where the model is, not how the agent runs)."""
        if not self.explicit or self.kind == "auto":
            return None
        return {"kind": self.kind, **({"image": self.image} if self.image else {})}


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"


def endpoint(text: str) -> Endpoint:
    """'https://api.example.com/v1', 'http://127.0.0.1:8080' or 'host:port' -> Endpoint (ValueError if not)."""
    parts = urlsplit(text if "://" in text else f"tcp://{text}")
    if not parts.hostname:
        raise ValueError(f"{text!r}: expected a URL or host:port")
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    if port is None:
        raise ValueError(f"{text!r}: no port (write host:port, or an http(s) URL)")
    return Endpoint(parts.hostname, port)


@dataclass(frozen=True)
class Policy:
    """What one sandboxed command may touch. Paths are absolute; `readable` paths are shown read-only
    where a hidden directory (or the private /tmp) would otherwise cover them."""
    kind: str                                   # bubblewrap | docker | none
    workdir: Path
    writable: tuple[Path, ...] = ()
    readable: tuple[Path, ...] = ()             # what the run must read (its prompt, the repository's objects)
    tools: tuple[Path, ...] = ()                # the host's programs it runs (bubblewrap shows them; an image has its own)
    hidden: tuple[Path, ...] = ()
    endpoints: tuple[Endpoint, ...] = ()
    image: str | None = None
    note: str = ""                              # e.g. why `auto` ran without a sandbox

    def record(self) -> dict:
        """The sandbox as it ran (command_log.json's `sandbox`: what a report and a replay need)."""
        return {"kind": self.kind, "image": self.image, "note": self.note or None,
                "network": [e.label for e in self.endpoints] if self.kind != "none" else "unrestricted",
                "writable": [str(p) for p in self.writable], "hidden": [str(p) for p in self.hidden]}


# ---------------------------------------------------------------- which kind runs here

@functools.cache
def probe(kind: str) -> str | None:
    """Why `kind` cannot run on this host (None: it works). Tried once per process."""
    if kind == "none":
        return None
    missing = [tool for tool in NEEDS[kind] if shutil.which(tool) is None]
    if missing:
        return "; ".join(f"{tool} not found ({INSTALL[tool]})" for tool in missing)
    test = [*_bwrap_args(Policy("bubblewrap", Path("/"))), "--", "true"] if kind == "bubblewrap" \
        else ["docker", "info", "--format", "{{.ServerVersion}}"]
    try:
        done = subprocess.run(test, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{test[0]} cannot run: {exc}"
    if done.returncode != 0:
        return f"{' '.join(test[:1])} fails here: {(done.stderr or done.stdout).strip()[-300:]}"
    return None


def resolve(setting: Setting) -> tuple[str, str]:
    """(the kind that runs, a note): `auto` is bubblewrap where it works, else none with the reason."""
    if setting.kind != "auto":
        return setting.kind, ""
    reason = probe("bubblewrap")
    if reason is None:
        return "bubblewrap", ""
    return "none", f"sandbox: auto found no working bubblewrap ({reason}): agents run unconfined"


def problem(setting: Setting) -> str | None:
    """What keeps the configured sandbox from running (preflight refuses paid work over it)."""
    if setting.kind in ("auto", "none"):
        return None
    if setting.kind == "docker" and not setting.image:
        return "sandbox.kind is docker but sandbox.image is not set: name the image agents run in"
    if reason := probe(setting.kind):
        return f"sandbox {setting.kind} does not work here: {reason}"
    return None


# ---------------------------------------------------------------- the policies Scylla uses

def tool_paths(*extra: str | os.PathLike) -> list[Path]:
    """What a sandboxed command needs to read to start at all: this interpreter's installation (and the user's
    site-packages, if any), the directories on PATH (a node_modules/.bin with its packages), and `extra` programs' own directories."""
    found = {Path(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, site.getusersitepackages())
             if os.path.exists(p)}
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        if entry and os.path.isabs(entry):
            path = Path(entry)
            found.add(path.parent if path.name == ".bin" else path)
    for program in extra:
        real = Path(os.path.realpath(program))
        found.add(real.parent.parent if real.parent.name == "bin" else real.parent)
    return sorted(found)


@dataclass(frozen=True)
class Confinement:
    """An experiment's sandbox: its setting and what every sandboxed command of it must not see (the
    experiment tree, the fixture's expected outputs; the user's home is always added)."""
    setting: Setting
    hidden: tuple[Path, ...]

    def on_host(self) -> Confinement:
        """For what runs the host's own tools (the pipeline runs Scylla's toolchain, which an agent's image
        does not have): a docker setting becomes auto (bubblewrap where it works)."""
        return Confinement(Setting(), self.hidden) if self.setting.kind == "docker" else self

    def policy(self, workdir: Path, writable: Sequence[Path], readable: Sequence[Path] = (),
               endpoints: Sequence[str] = (), programs: Sequence[str] = ()) -> Policy:
        """A command's policy: `writable` (existing directories) and what the caller's environment adds
        (extra_writable); `readable`, the programs it runs and the tools on PATH shown read-only."""
        kind, note = resolve(self.setting)
        return Policy(kind, workdir, writable=_real(*writable, *extra_writable()), readable=_real(*readable),
                      tools=_real(*tool_paths(*programs)), hidden=_real(*self.hidden, Path(os.path.expanduser("~"))),
                      endpoints=tuple(endpoint(e) for e in (*endpoints, *self.setting.allow)),
                      image=self.setting.image, note=note)


def _real(*paths: Path) -> tuple[Path, ...]:
    """Each path once, as bubblewrap mounts it (symbolic links resolved)."""
    return tuple(dict.fromkeys(Path(os.path.realpath(p)) for p in paths))


def extra_writable() -> list[Path]:
    """Paths the caller's environment leaves writable to every sandboxed run (SCYLLA_SANDBOX_WRITABLE,
    os.pathsep-separated: e.g. a test harness's call log, a shared package cache). A missing one is
    created as an empty file (bubblewrap can only show what exists)."""
    paths = [Path(p).absolute() for p in os.environ.get("SCYLLA_SANDBOX_WRITABLE", "").split(os.pathsep) if p]
    for path in paths:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
    return paths


# ---------------------------------------------------------------- running a command inside

def _depth(path: Path) -> int:
    return len(path.parts)


def _under(path: Path, roots: Sequence[Path]) -> bool:
    return any(path == r or r in path.parents for r in roots)


def _bwrap_args(policy: Policy, hosts_file: Path | None = None, bridge: Path | None = None) -> list[str]:
    args = ["bwrap", "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-net", "--unshare-cgroup-try", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--tmpfs", "/tmp", "--tmpfs", "/run"]
    if os.geteuid() != 0:
        args.insert(1, "--unshare-user")
    covered = [Path("/tmp"), Path("/run")]
    hidden = [p for p in policy.hidden if p.exists() and p != Path("/")]
    mounts: list[tuple[Path, int, list[str]]] = []       # (path, rank at equal depth, bwrap options)
    for path in (*policy.readable, *policy.tools):
        if path.exists() and _under(path, [*hidden, *covered]):
            mounts.append((path, 0, ["--ro-bind", str(path), str(path)]))
    for path in hidden:
        mounts.append((path, 1, ["--tmpfs", str(path)] if path.is_dir() else ["--ro-bind", "/dev/null", str(path)]))
    for path in policy.writable:
        if path.exists():
            mounts.append((path, 2, ["--bind", str(path), str(path)]))
    # parents before what lies inside them: a hidden tree, then the paths shown again inside it; a path
    # both shown and hidden (a spec in the home directory) stays hidden
    for _, _, op in sorted(mounts, key=lambda m: (_depth(m[0]), m[1])):
        args += op
    if bridge is not None:
        args += ["--bind", str(bridge), BRIDGE_DIR]
    if hosts_file is not None:
        args += ["--ro-bind", str(hosts_file), "/etc/hosts"]
    for path in hidden:             # (not recursive: what is shown again inside keeps its own mode)
        if path.is_dir():
            args += ["--remount-ro", str(path)]
    args += ["--remount-ro", "/run", "--chdir", str(policy.workdir)]
    return args


def _addresses(endpoints: Sequence[Endpoint]) -> dict[Endpoint, str]:
    """The loopback address each endpoint listens on inside: its own when it is loopback already,
    else one of 127.0.0.0/8 per remote host (named in the sandbox's /etc/hosts)."""
    out: dict[Endpoint, str] = {}
    remote: dict[str, str] = {}
    for e in endpoints:
        try:
            loopback = ipaddress.ip_address(e.host).is_loopback
        except ValueError:
            loopback = e.host == "localhost"
        out[e] = "127.0.0.1" if e.host == "localhost" else e.host if loopback else \
            remote.setdefault(e.host, f"127.0.{len(remote) // 250 + 1}.{len(remote) % 250 + 2}")
    return out


def _inside_script(endpoints: dict[Endpoint, str], command: str) -> str:
    """Start one socat per endpoint, wait until each listens, then run the command."""
    lines = []
    for i, (e, address) in enumerate(endpoints.items()):
        lines.append(f"socat TCP-LISTEN:{e.port},bind={address},fork,reuseaddr "
                     f"UNIX-CONNECT:{BRIDGE_DIR}/{i}.sock 2>/dev/null &")
        hex_port = f"{e.port:04X}"
        lines.append(f"for _ in $(seq 500); do grep -q ':{hex_port} 00000000:0000 0A' /proc/net/tcp && break; "
                     f"sleep 0.01; done")
    return "\n".join([*lines, command])


class _Bridge:
    """Outside end of the endpoints: a unix socket per endpoint, each connection forwarded to it."""

    def __init__(self, directory: Path, endpoints: Sequence[Endpoint]):
        self.connections: dict[str, int] = {e.label: 0 for e in endpoints}
        self.errors: list[str] = []
        self.servers = []
        for i, e in enumerate(endpoints):
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.bind(str(directory / f"{i}.sock"))
            server.listen(64)
            self.servers.append(server)
            threading.Thread(target=self._accept, args=(server, e), daemon=True, name=f"bridge-{e.label}").start()

    def _accept(self, server: socket.socket, e: Endpoint) -> None:
        while True:
            try:
                inside, _ = server.accept()
            except OSError:
                return                  # closed: the sandbox ended
            self.connections[e.label] += 1
            try:
                outside = socket.create_connection((e.host, e.port), timeout=30)
                outside.settimeout(None)
            except OSError as exc:
                self.errors.append(f"{e.label}: {exc}")
                inside.close()
                continue
            for a, b in ((inside, outside), (outside, inside)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    def close(self) -> None:
        for server in self.servers:
            server.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(1 << 16):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@dataclass
class Session:
    """A policy being applied: `argv(command, env)` is what to execute instead of `bash -c command`."""
    policy: Policy
    argv: Callable[[str, dict], list[str]]
    connections: dict[str, int] = field(default_factory=dict)     # endpoint -> connections bridged
    errors: list[str] = field(default_factory=list)               # why an endpoint could not be reached


@contextlib.contextmanager
def session(policy: Policy) -> Iterator[Session]:
    """The bridge for the policy's endpoints while the block runs; its argv builder."""
    if policy.kind == "none":
        yield Session(policy, lambda command, env: ["bash", "-c", command])
        return
    addresses = _addresses(policy.endpoints)
    with tempfile.TemporaryDirectory(prefix="scylla-net-") as tmp:     # (short: socket paths are limited)
        bridge = _Bridge(Path(tmp), policy.endpoints)
        hosts = Path(tmp, "hosts")
        hosts.write_text("127.0.0.1 localhost\n::1 localhost\n" + "".join(
            f"{a} {e.host}\n" for e, a in addresses.items() if a != e.host and e.host != "localhost"))
        try:
            if policy.kind == "bubblewrap":
                args = _bwrap_args(policy, hosts, Path(tmp))
                yield Session(policy, lambda command, env: [*args, "--", "bash", "-c",
                                                            _inside_script(addresses, command)],
                              bridge.connections, bridge.errors)
            else:
                yield Session(policy, lambda command, env: _docker_argv(policy, Path(tmp), hosts, addresses,
                                                                        command, env), bridge.connections, bridge.errors)
        finally:
            bridge.close()


def _docker_argv(policy: Policy, bridge: Path, hosts: Path, addresses: dict, command: str, env: dict) -> list[str]:
    """The same policy as a container of the configured image (which brings its own tools, bash and
    socat): no network but the bridged endpoints; mounted at their own paths only the writable paths and
    what the run must read; the caller's user; the command's environment (PATH is the image's)."""
    args = ["docker", "run", "--rm", "-i", "--network", "none", "--init", "--user", f"{os.getuid()}:{os.getgid()}",
            "-w", str(policy.workdir), "-v", f"{bridge}:{BRIDGE_DIR}", "-v", f"{hosts}:/etc/hosts:ro"]
    for path in policy.writable:
        args += ["-v", f"{path}:{path}"]
    for path in policy.readable:
        if path.exists():
            args += ["-v", f"{path}:{path}:ro"]
    for name in sorted(env):
        if name != "PATH":
            args += ["-e", name]        # (docker takes the value from its own environment: env)
    assert policy.image is not None         # (spec and preflight require it)
    return [*args, policy.image, "bash", "-c", _inside_script(addresses, command)]


def replay_prefix(policy: Policy) -> str:
    """The start of replay.sh's last line: the run's bubblewrap policy around the repeated call (what it
    hid hidden again, its programs shown), the working directory and a fresh HOME writable instead of the
    run's; the network is the host's, since the run's bridge to its endpoints is gone."""
    if policy.kind != "bubblewrap":
        return ""
    args = [a for a in _bwrap_args(replace(policy, writable=())) if a != "--unshare-net"]
    args = args[:args.index("--chdir")]
    return " ".join(map(shlex.quote, args)) + ' --bind "$PWD" "$PWD" --bind "$HOME" "$HOME" --chdir "$PWD" -- '


# ---------------------------------------------------------------- evidence

_READ_ONLY = re.compile(r"Read-only file system|Errno 30\b|EROFS", re.IGNORECASE)
_HIDDEN = re.compile(r"No such file or directory|Permission denied|Errno (?:2|13)\b|ENOENT|EACCES", re.IGNORECASE)
_REFUSED = re.compile(r"Connection refused|Errno 111\b|ECONNREFUSED|Network is unreachable|Errno 101\b",
                      re.IGNORECASE)
_PATH = re.compile(r"/[^\s'\"`:,()\]\[]+")


def violations(policy: Policy, texts: dict[str, str], limit: int = 50) -> list[dict]:
    """What the run's own output says the sandbox denied (bubblewrap reports nothing itself): a write
    refused by the read-only host, a path under a hidden directory that was not there (for reading or
    writing), a refused connection. Each: {"kind": write | hidden | connect, "file", "line", "text", "path"}."""
    if policy.kind == "none":
        return []
    found: list[dict] = []
    for name, text in texts.items():
        for number, line in enumerate(text.splitlines(), 1):
            kind, path = _denial(policy, line)
            if kind:
                found.append({"kind": kind, "file": name, "line": number, "text": line.strip()[:300], "path": path})
                if len(found) >= limit:
                    return found
    return found


def _hidden(policy: Policy, path: Path) -> bool:
    """Whether the sandbox hides `path`: the deepest of its paths that holds it is a hidden one."""
    holders = [(len(r.parts), r in policy.hidden) for r in (*policy.hidden, *policy.readable, *policy.writable)
               if _under(path, [r])]
    return bool(holders) and max(holders)[1]


def _denial(policy: Policy, line: str) -> tuple[str | None, str | None]:
    paths = [Path(p) for p in _PATH.findall(line)]
    if _READ_ONLY.search(line):
        outside = [p for p in paths if not _under(p, policy.writable)]
        return "write", str(outside[0]) if outside else None
    if _HIDDEN.search(line):
        hidden = [p for p in paths if _hidden(policy, p)]
        if hidden:
            return "hidden", str(hidden[0])
    if _REFUSED.search(line):
        return "connect", None
    return None, None
