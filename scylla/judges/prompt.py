"""The judge prompt: everything a judge sees about one run, in deterministic markdown."""

from __future__ import annotations

from .. import durable, records

PATCH_LIMIT = 60_000
# The judges read the pipeline's results, not its tool versions: a new toolchain that leaves every result
# the same leaves the prompt the same, so no judge is paid again for it.
NOT_EVIDENCE = ("toolchain",)


def _fenced(text: str, lang: str = "") -> str:
    fence = "````" if "```" in text else "```"
    return f"{fence}{lang}\n{text.rstrip()}\n{fence}\n"


def build(prompt: str, rubric_yaml: str, criteria: str, output: str, patch: str, state: dict,
          pipeline: records.PipelineResult, baseline: records.PipelineResult) -> str:
    if len(patch) > PATCH_LIMIT:
        patch = patch[:PATCH_LIMIT] + f"\n... [patch truncated: {len(patch) - PATCH_LIMIT} more characters]\n"
    changed = "\n".join(f"- `{c['status']}` {c['path']}" for c in state.get("changed_files", [])) or "- (none)"
    return "\n".join([
        "# Judge this agent run", "",
        "## Task prompt", "", prompt.strip(), "",
        "## Rubric", "", _fenced(rubric_yaml, "yaml"),
        "## Evaluation criteria", "", criteria.strip(), "",
        "## Agent's final message", "", _fenced(output or "(empty)"),
        "## Changed files", "", changed, "",
        (f"Agent commits: {len(state.get('agent_commits', []))}; "
        f"untracked files left: {len(state.get('untracked_files', []))}"), "",
        "## Patch", "", _fenced(patch or "(no changes)", "diff"),
        "## Build/test pipeline", "", "Results on the agent's workspace:", "",
        _fenced(_results(pipeline), "json"),
        "## Baseline pipeline", "", "Results on the untouched repository:", "",
        _fenced(_results(baseline), "json"),
    ])


def _results(pipeline: records.PipelineResult) -> str:
    return durable.dumps({k: v for k, v in pipeline.items() if k not in NOT_EVIDENCE}).decode()
