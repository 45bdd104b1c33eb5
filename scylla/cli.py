"""The `scylla` command: operations around the doit graph (`doit` itself runs experiments)."""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path


def _repo_map(items: list[str]) -> dict[str, Path]:
    pairs = {}
    for item in items:
        url, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"scylla: --repo expects URL=PATH, got {item!r}")
        pairs[url] = Path(path)
    return pairs


def _doit_status(args: list[str]) -> int:
    """`doit status` on the experiment named by `exp=` (default: examples/hello), without a dodo.py."""
    from doit.cmd_base import NamespaceTaskLoader
    from doit.doit_cmd import DoitMain, get_var

    class ExperimentLoader(NamespaceTaskLoader):
        def setup(self, opt_values):
            from .loader import load
            self.namespace = load(get_var("exp"), rejudge=get_var("rejudge"), over_budget=get_var("over_budget"))

    if any(a in ("-h", "--help") for a in args):
        args = ["help", "status"]
    else:
        args = ["status", *args]
    return DoitMain(ExperimentLoader(), extra_config={"COMMAND": {"status": "scylla.status:Status"}}).run(args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scylla", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    adopt = commands.add_parser("adopt", help="take over a ProjectScylla experiment directory without re-running "
                                               "anything it finished (adds files, never changes its files)")
    adopt.add_argument("experiment_dir", type=Path, help="the directory holding config/experiment.json")
    adopt.add_argument("--tiers", type=Path, required=True, help="ProjectScylla tiers directory (subtests/, blocks/, ...)")
    adopt.add_argument("--fixture", type=Path, help="the task fixture directory (default: from task_prompt_file)")
    adopt.add_argument("--repo", action="append", default=[], metavar="URL=PATH",
                       help="a local clone (or plain directory) for the fixture's source.repo")
    commands.add_parser("status", add_help=False, help="the experiment at a glance (`doit status`; "
                                                       "`scylla status --help` for its options)")
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["status"]:                  # everything after `status` is doit's
        return _doit_status(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "adopt":
        from .adopt import AdoptError, adopt as run_adopt
        try:
            run_adopt(args.experiment_dir, args.tiers, args.fixture, _repo_map(args.repo))
        except AdoptError as exc:
            print(f"scylla adopt: {exc}\n{args.experiment_dir} is as it was: nothing was adopted", file=sys.stderr)
            return 2
        except Exception:
            traceback.print_exc()
            print(f"scylla adopt: failed unexpectedly (above); {args.experiment_dir} is as it was: nothing "
                  f"was adopted", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
