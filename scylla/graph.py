"""Experiment -> doit task dicts: which tasks an experiment is made of, what each reads and writes, and
in which order (the task kinds and how they are checked: kinds.py). Pure: it reads the spec and the
sources it names, never the tree's results.
"""

from __future__ import annotations

import os
from pathlib import Path

from doit.tools import config_changed

from . import actions, adapters, kinds, pipeline, preflight, resources, tree
from .analysis import figures, frames, report, summary, tables
from .kinds import _where
from .spec import Experiment, Study
from .tree import RunPaths, SubtestPaths, TierPaths


def _rel(path: Path) -> str:
    """Inputs outside the tree are named relative to the experiment root (relocatable DB keys)."""
    return os.path.relpath(path, Path.cwd()).replace(os.sep, "/")


# ---------------------------------------------------------------- tasks

def tasks(exp: Experiment, rejudge: str | None = None):
    retry_invalid = rejudge == "invalid"
    for basename, doc in kinds.KIND_DOCS.items():
        # a group only gathers its subtasks (which doit checks on their own): never "R" in `doit list --status`
        yield {"basename": basename, "name": None, "doc": doc, "uptodate": [True]}
    fx = exp.fixture
    # not a cheap_action: plan.py never dry-runs it (it starts the CLIs to read their versions)
    yield {"basename": preflight.TASK, "actions": [(kinds.space_checked, (actions.check_preflight, exp))],
           "targets": [tree.PREFLIGHT], "verbosity": 1,
           "uptodate": [config_changed(preflight.facts(exp)), preflight.clean],
           "doc": "check what would make paid work fail (CLIs, keys, repository, resources, tools)"}
    # the experiment as configured, not the spec's bytes: a comment, or another agent of a comparison
    # added to the same spec, changes nothing here
    yield kinds.cheap_task("setup", None, actions.setup, (exp,),
                           [_rel(p) for p in (fx.test_yaml, fx.prompt, fx.rubric_path, fx.criteria)],
                           [tree.EXPERIMENT_JSON, tree.PROMPT, tree.RUBRIC, tree.CRITERIA, tree.JUDGE_SYSTEM_PROMPT],
                           doc="copy the spec, prompt, rubric and criteria into config/",
                           uptodate=[config_changed({"judge_system_prompt": actions.system_prompt_source().decode(),
                                                     "experiment": actions.describe(exp)})])
    toolchain = pipeline.toolchain(fx.language)     # (once: it reads installed distributions' metadata)
    yield kinds.sealed_task("baseline", None, actions.baseline, (exp,), tree.BASELINE_DIR, [], pipeline.identity(fx),
                            [tree.BASELINE], [preflight.TASK], toolchain=toolchain,
                            doc="build/test pipeline on the untouched repository (sealed)")
    for s in exp.all_subtests():
        yield _subtest_config(exp, s)
        for n in range(1, exp.runs + 1):
            yield from _run_tasks(exp, RunPaths(s.tier, s.id, n), retry_invalid, toolchain)
        sp = SubtestPaths(s.tier, s.id)
        yield kinds.cheap_task("subtest", sp.dir, actions.subtest, (exp, sp),
                               [sp.run(n).run_result for n in range(1, exp.runs + 1)], [sp.result] + sp.reports(),
                               where=_where(tier=s.tier, subtest=sp.dir), meta=kinds.timed(sp.result))
    for t in exp.tiers:
        yield kinds.cheap_task("tier", t, actions.tier, (exp, t),
                               [SubtestPaths(t, s.id).result for s in exp.subtests[t]], TierPaths(t).outputs(),
                               where=_where(tier=t), meta=kinds.timed(TierPaths(t).result))
    yield kinds.cheap_task("experiment", None, actions.experiment, (exp,),
                           [TierPaths(t).result for t in exp.tiers] + [tree.EXPERIMENT_JSON], list(tree.EXPERIMENT_OUTPUTS),
                           doc="experiment result, tier comparison and reports", meta=kinds.timed(tree.EXPERIMENT_RESULT))
    yield from _frame_tasks(exp)
    yield from _figure_tasks(exp.tiers, figures.FIGURES)
    yield from _report_tasks(exp)


def _frame_tasks(exp: Experiment):
    """The analysis frames, per subtest -> per tier -> experiment: no task's fan-in grows with the number
    of subtests times runs (doit links implicit dependencies in time quadratic in a task's fan-in)."""
    spec = [config_changed(frames.identity(exp))]       # (the key columns come from the spec)
    for s in exp.all_subtests():
        sp = SubtestPaths(s.tier, s.id)
        yield _frames_task(f"frames/{sp.dir}", frames.build_subtest, (exp, sp), frames.subtest_inputs(exp, sp),
                           frames.part_dir(sp.dir), where=_where(tier=s.tier, subtest=sp.dir), uptodate=spec)
    for t in exp.tiers:
        parts = [frames.part_dir(f"{t}/{s.id}") for s in exp.subtests[t]]
        yield _frames_task(f"frames/{t}", frames.concatenate, (parts, frames.part_dir(t)),
                           [p for d in parts for p in frames.paths(d)], frames.part_dir(t), where=_where(tier=t))
    parts = [frames.part_dir(t) for t in exp.tiers]
    yield _frames_task("frames", frames.concatenate, (parts, frames.DATA_DIR), [p for d in parts for p in frames.paths(d)],
                       frames.DATA_DIR, doc="the experiment's data frames: analysis/data/{runs,judges,criteria,subtests}.csv")
    yield from _statistics_tasks(summary.Scope.of(exp), tables.of_experiment())


def study_tasks(study: Study):
    """A study's tasks: the experiments' frames stacked (each experiment builds its own), then the same
    statistics and tables as an experiment's, with the per-task views and the paired comparison."""
    yield {"basename": "analysis", "name": None, "doc": kinds.KIND_DOCS["analysis"], "uptodate": [True]}
    sources = [_rel(e.root / frames.DATA_DIR) for e in study.experiments]
    yield _frames_task("frames", frames.concatenate, (sources, frames.DATA_DIR),
                       [p for d in sources for p in frames.paths(d)], frames.DATA_DIR,
                       doc="the experiments' data frames stacked: analysis/data/{runs,judges,criteria,subtests}.csv")
    yield from _statistics_tasks(summary.Scope.of_study(study), tables.of_study(study.compare is not None))
    yield from _figure_tasks(study.tiers, {**figures.FIGURES, **figures.STUDY_FIGURES})


def _statistics_tasks(scope: summary.Scope, table_names: list[str]):
    """The statistics from the frames in analysis/data/, then each table from them."""
    yield kinds.cheap_task("analysis", "stats", summary.build, (scope,), list(summary.INPUTS), list(summary.OUTPUTS),
                           uptodate=[config_changed(scope.identity())],
                           doc="the statistics: analysis/summary.json and analysis/statistical_results.json")
    for name in table_names:
        yield kinds.cheap_task("analysis", f"tables/{name}", tables.build, (name,), tables.inputs(name),
                               tables.targets(name))


def _frames_task(name: str, action, args: tuple, inputs: list[str], out_dir: str, **extra) -> dict:
    return kinds.cheap_task("analysis", name, action, args, inputs, frames.paths(out_dir),
                            meta=kinds.timed(frames.runs_csv(out_dir)), **extra)


def _report_tasks(exp: Experiment):
    """The HTML report (analysis/report/): each subtest's pages from its own runs' files, the index from the
    statistics and the experiment's frames, so no task's fan-in grows with the number of runs."""
    for s in exp.all_subtests():
        sp = SubtestPaths(s.tier, s.id)
        yield kinds.cheap_task("analysis", f"report/{sp.dir}", report.build_subtest, (exp, sp),
                               report.subtest_inputs(exp, sp), report.subtest_targets(exp, sp),
                               where=_where(tier=s.tier, subtest=sp.dir),
                               uptodate=[config_changed(report.subtest_identity(exp, s))])
    yield kinds.cheap_task("analysis", "report", report.build_index, (exp,), report.index_inputs(exp), [report.INDEX],
                           uptodate=[config_changed(report.index_identity(exp))],
                           doc="the HTML report: analysis/report/index.html, with a page per subtest and run")


def _figure_tasks(tiers: tuple[str, ...] | list[str], drawn: dict[str, figures.Figure]):
    """One task per figure, reading exactly its inputs: a frame or statistics file that comes out the same bytes
    stops the cascade there. `tiers`: the experiment's (or study's), which index the colours."""
    spec = config_changed(figures.identity(tiers))       # (computed once: it reads two packages' metadata)
    for name, figure in drawn.items():
        yield kinds.cheap_task("analysis", f"figures/{name}", figures.build, (name, tuple(tiers)), figure.file_dep,
                               figures.targets(name), doc=f"figure: {figure.title} (analysis/figures/{name}.*)",
                               uptodate=[spec])


def _subtest_config(exp: Experiment, s) -> dict:
    sp = SubtestPaths(s.tier, s.id)
    deps = [_rel(p) for p in resources.source_files(exp.tiers_dir, s)]
    for parent in exp.parent_tiers(s):
        deps.append(TierPaths(parent).best)
        deps += [SubtestPaths(parent, p.id).manifest for p in exp.subtests[parent]]
    # the agent's adapter renders the resources (CLAUDE.md + .claude/, AGENTS.md, ...): another one re-renders
    return kinds.cheap_task("subtest_config", sp.dir, actions.subtest_config, (exp, s), deps, [sp.manifest],
                            where=_where(tier=s.tier, subtest=sp.dir),
                            uptodate=[config_changed({"rendered_for": exp.agent.adapter})])


def _run_tasks(exp: Experiment, run: RunPaths, retry_invalid: bool, toolchain: dict):
    sp, rid, at = run.subtest_paths, run.id, _where(run)
    yield kinds.sealed_task("agent", rid, actions.agent, (exp, run), run.agent_dir, [tree.PROMPT, sp.manifest],
                            exp.agent_identity(), [], [preflight.TASK, "setup", f"subtest_config:{sp.dir}"],
                            paid=adapters.agent(exp.agent.adapter).paid, where=at)
    yield kinds.cheap_task("agent_result", rid, actions.agent_result, (run,),
                           [run.agent(f) for f in ("stdout.log", "stderr.log", "command_log.json")], [run.agent_result],
                           where=at, task_dep=[f"agent:{rid}"])
    yield kinds.sealed_task("pipeline", rid, actions.run_pipeline, (exp, run), run.commands_dir,
                            [run.agent("patch.diff"), sp.manifest], pipeline.identity(exp.fixture), [run.pipeline],
                            [f"agent:{rid}"], toolchain=toolchain, where=at)
    evidence = [tree.PROMPT, tree.RUBRIC, tree.CRITERIA, run.agent("output.txt"), run.agent("patch.diff"),
                run.agent("workspace_state.json"), run.pipeline, tree.BASELINE]
    yield kinds.cheap_task("judge_prompt", rid, actions.judge_prompt, (run,), evidence, [run.judge_prompt],
                           where=at, task_dep=[f"agent:{rid}", f"pipeline:{rid}", "baseline"])
    for slot in exp.judges:
        inputs = [run.judge_prompt, tree.JUDGE_SYSTEM_PROMPT, *adapters.judge(slot.adapter).inputs(run)]
        judge = f"{rid}/{slot.name}"
        yield kinds.sealed_task("judge", judge, actions.judge, (exp, run, slot.number),
                                run.judge_dir(slot.number), sorted(set(inputs)), slot.identity(),
                                [], [preflight.TASK, f"judge_prompt:{rid}"], retry_invalid,   # which waits for the rest
                                paid=slot.paid, where=_where(run, slot=slot.name))
        # the rubric gives the pass threshold of a reply that states none
        yield kinds.cheap_task("judgment", judge, actions.judgment, (exp, run, slot.number),
                               [run.judge(slot.number, f) for f in ("response.txt", tree.JUDGE_CALL)] + [tree.RUBRIC],
                               [run.judge(slot.number, "judgment.json")], where=at, task_dep=[f"judge:{judge}"])
    judgments = [run.judge(j.number, "judgment.json") for j in exp.judges]
    yield kinds.cheap_task("consensus", rid, actions.consensus, (exp, run), judgments, [run.consensus], where=at)
    yield kinds.cheap_task("run", rid, actions.run_result, (exp, run),
                           [run.agent_result, run.agent("timing.json"), run.consensus] + judgments
                           + [run.judge(j.number, "timing.json") for j in exp.judges],
                           [run.run_result] + run.reports(), where=at, meta=kinds.timed(run.run_result))
