"""The `scylla` command: doit's commands on an experiment from any directory (`scylla run|status|verify|list|info
[PATH/experiment.yaml] [doit's options, tasks and globs]`, with doit's engine embedded and no dodo.py),
`scylla init DIR` (an experiment directory in which plain `doit` works), `scylla merge SHARD_ROOT...` (the runs
of `doit shard=i/N` trees into one) and `scylla adopt`.
The experiment is the first argument naming a .yaml/.yml file or a directory holding experiment.yaml,
else `exp=PATH`, else ./experiment.yaml."""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from doit.cmd_base import NamespaceTaskLoader
from doit.doit_cmd import DoitMain

from . import durable, tree
from .loader import default_spec, load_from_command_line


def _repo_map(items: list[str]) -> dict[str, Path]:
    pairs = {}
    for item in items:
        url, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"scylla: --repo expects URL=PATH, got {item!r}")
        pairs[url] = Path(path)
    return pairs


# doit's own commands that take no experiment (or would describe doit, not Scylla)
NOT_PASSED = {"help", "tabcompletion"}
EXAMPLE = Path(__file__).resolve().parent / ".example-hello"  # symlink to examples/hello (hidden: mypy skips it)
INIT_DODO = "from scylla.dodo import *  # noqa: F403  (doit runs ./experiment.yaml: see `scylla --help`)\n"


class _ExperimentLoader(NamespaceTaskLoader):
    """What a dodo.py gives doit, without one: the experiment named by `exp=`, else ./experiment.yaml."""

    def setup(self, opt_values):
        self.namespace = load_from_command_line()


def _doit_main() -> DoitMain:
    # `status` is a plugin command: registered here too, for a cwd without Scylla's pyproject.toml
    main = DoitMain(_ExperimentLoader(), extra_config={"COMMAND": {"status": "scylla.status:Status",
                                                                  "verify": "scylla.verify:Verify"}})
    main.BIN_NAME = "scylla"
    return main


def _is_spec(arg: str) -> bool:
    path = Path(arg).expanduser()
    return path.suffix in (".yaml", ".yml") or (path / "experiment.yaml").is_file()


def _value_options(main: DoitMain, command: str) -> set[str]:
    """The flags of doit's `command` that take a value (`-n 4`, `--tier T0`, `-o out.yaml`)."""
    cmds = main.get_cmds()
    options = cmds.get_plugin(command)(task_loader=main.task_loader, config=main.config, cmds=cmds).get_options()
    return {flag for opt in options if opt.type is not bool
            for flag in (opt.short and f"-{opt.short}", opt.long and f"--{opt.long}") if flag}


def _spec_var(args: list[str], takes_value: set[str]) -> tuple[list[str], str | None]:
    """Take the experiment path out of `args` as doit's `exp=` variable: the first argument (not an option
    or its value) that names a .yaml/.yml file or a directory holding experiment.yaml (made absolute, so
    that it means what it meant here)."""
    for i, arg in enumerate(args):
        if not arg.startswith("-") and "=" not in arg and (i == 0 or args[i - 1] not in takes_value) \
                and _is_spec(arg):
            path = Path(arg).expanduser().absolute()
            spec = path if path.suffix in (".yaml", ".yml") else path / "experiment.yaml"
            return args[:i] + args[i + 1:], f"exp={spec}"
    return args, None


def _doit(main: DoitMain, command: str, args: list[str]) -> int:
    """`doit COMMAND ARGS exp=SPEC` with doit's engine embedded: no dodo.py, from any directory."""
    if any(a in ("-h", "--help") for a in args):
        return main.run(["help", command])
    args, exp = _spec_var(args, _value_options(main, command))
    if exp is None and not any(a.startswith("exp=") for a in args) and not Path(default_spec()).is_file():
        print(f"scylla {command}: no experiment.yaml in {Path.cwd()}: name one, e.g. `scylla {command} "
              f"PATH/experiment.yaml` (or a directory holding one), or make one with `scylla init DIR`",
              file=sys.stderr)
        return 3
    return main.run([command, *args, *([exp] if exp else [])])


def _init_files(dest: Path) -> dict[Path, tuple[bytes, int]]:
    """What `scylla init DEST` writes: examples/hello (spec, fixture, tiers, repo, scripted agent and judge,
    all referenced relative to the spec) and a one-line dodo.py; experiment.yaml and dodo.py last."""
    files = {}
    for src in sorted(EXAMPLE.rglob("*")):
        rel = src.relative_to(EXAMPLE)
        if src.is_file() and not {"results", "__pycache__", tree.STATE_DIR} & set(rel.parts):
            files[dest / rel] = src.read_bytes(), src.stat().st_mode & 0o777
    files[dest / "experiment.yaml"] = files.pop(dest / "experiment.yaml")
    files[dest / "dodo.py"] = INIT_DODO.encode(), 0o644
    return files


def _init(dest: Path) -> int:
    if not (EXAMPLE / "experiment.yaml").is_file():
        print(f"scylla init: the example experiment is missing from the installation ({EXAMPLE}): "
              f"reinstall scylla", file=sys.stderr)
        return 1
    if dest.exists() and not dest.is_dir():
        print(f"scylla init: {dest} exists and is not a directory", file=sys.stderr)
        return 2
    files = _init_files(dest)
    for path in files:
        if path.exists() or path.is_symlink():
            print(f"scylla init: {path} already exists: init never overwrites a file; choose a new or empty "
                  f"directory", file=sys.stderr)
            return 2
    try:
        for path, (data, mode) in files.items():
            durable.write_bytes(path, data)
            path.chmod(mode)
    except OSError as exc:
        print(f"scylla init: cannot write {getattr(exc, 'filename', None) or dest}: {exc}", file=sys.stderr)
        return 1
    print(f"scylla init: wrote the hello experiment to {dest}/ (experiment.yaml, dodo.py, fixture, tiers, "
          f"repo, agent.py, judge.py)\nrun it: cd {dest} && doit    (or from anywhere: scylla run "
          f"{dest.resolve() / 'experiment.yaml'}; scylla status {dest.resolve()})")
    return 0


def _merge(sources: list[Path], into: Path) -> int:
    """`scylla merge SHARD_ROOT... [--into SPEC]`: the shards' sealed runs copied into the experiment's tree."""
    from .shards import ShardError, merge
    from .spec import SpecError, load_experiment
    spec = into if into.suffix in (".yaml", ".yml") else into / "experiment.yaml"
    try:
        counts = merge(load_experiment(spec), sources)
    except (SpecError, ShardError, durable.ArtifactError) as exc:
        print(f"scylla merge: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:          # (each run is copied whole or not at all: merging again completes it)
        print(f"scylla merge: {exc}; the runs merged so far are complete: run it again", file=sys.stderr)
        return 1
    print(f"scylla merge: {counts['copy']} run(s) copied, {counts['replace']} completed, {counts['skip']} already "
          f"there; next: `doit status` (0 agent runs, 0 judgments to run for them), then `doit`")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    doit = _doit_main()
    if argv and argv[0] not in ("adopt", "init", *NOT_PASSED) and argv[0] in doit.get_cmds():
        return _doit(doit, argv[0], argv[1:])  # everything after a doit command is doit's
    args = _parser().parse_args(argv)
    if args.command == "init":
        return _init(args.directory)
    if args.command == "merge":
        return _merge(args.shard_roots, args.into)
    # imported here: the doit commands need none of adopt's imports
    from .adopt import AdoptError
    from .adopt import adopt as run_adopt
    try:
        run_adopt(args.experiment_dir, args.tiers, args.fixture, _repo_map(args.repo))
    except AdoptError as exc:
        print(f"scylla adopt: {exc}\n{args.experiment_dir} is as it was: nothing was adopted", file=sys.stderr)
        return 2
    except Exception:  # noqa: BLE001  (any failure: say the experiment is untouched, with the traceback)
        traceback.print_exc()
        print(f"scylla adopt: failed unexpectedly (above); {args.experiment_dir} is as it was: nothing "
              f"was adopted", file=sys.stderr)
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scylla", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, what in [("run", "complete the experiment (`doit`)"),
                       ("status", "the experiment at a glance (`doit status`)"),
                       ("verify", "check the whole tree for tampering (`doit verify`; exit code 1 naming each file)"),
                       ("list", "its tasks (`doit list`, e.g. --all --status)"),
                       ("info", "one task as doit sees it (`doit info TASK`)"),
                       ("forget", "drop doit's record of tasks (`doit forget`; also ignore, clean, dumpdb, ...)")]:
        commands.add_parser(name, add_help=False, help=f"{what}; `scylla {name} --help` for its options")
    init = commands.add_parser("init", help="write an experiment directory (the offline hello example and a "
                                            "one-line dodo.py): `doit` inside it runs it")
    init.add_argument("directory", type=Path, nargs="?", default=Path("."),
                      help="where (default: here; made if missing; no existing file is overwritten)")
    merge = commands.add_parser("merge", help="copy the runs sealed in shards' trees (`doit shard=i/N`) into the "
                                              "experiment's tree; never overwrites a run it holds differently")
    merge.add_argument("shard_roots", type=Path, nargs="+", metavar="SHARD_ROOT",
                       help="a shard's experiment root (<results>/<experiment id>, as its runner left it)")
    merge.add_argument("--into", type=Path, default=Path("experiment.yaml"), metavar="SPEC",
                       help="the experiment to merge into (its experiment.yaml, or a directory holding one; "
                            "default: ./experiment.yaml)")
    adopt = commands.add_parser("adopt", help="take over a ProjectScylla experiment directory without re-running "
                                               "anything it finished (adds files, never changes its files)")
    adopt.add_argument("experiment_dir", type=Path, help="the directory holding config/experiment.json")
    adopt.add_argument("--tiers", type=Path, required=True, help="ProjectScylla tiers directory (subtests/, blocks/, ...)")
    adopt.add_argument("--fixture", type=Path, help="the task fixture directory (default: from task_prompt_file)")
    adopt.add_argument("--repo", action="append", default=[], metavar="URL=PATH",
                       help="a local clone (or plain directory) for the fixture's source.repo")
    return parser


if __name__ == "__main__":
    sys.exit(main())
