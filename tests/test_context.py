"""The run-time context comes from what doit says (its command objects), not from guessing at sys.argv."""

from __future__ import annotations

from pathlib import Path

import pytest
from doit.cmd_base import DodoTaskLoader
from doit.cmd_forget import Forget
from doit.cmd_info import Info
from doit.cmd_list import List
from doit.cmd_run import Run

from scylla import context
from scylla.status import Status


@pytest.mark.parametrize("command, writes", [(Run, True), (Forget, True), (List, False), (Info, False),
                                             (Status, False)])
def test_the_context_of_each_doit_command(command, writes):
    cmd = command(task_loader=DodoTaskLoader())
    ctx = context.for_command(cmd, Path("/x"), "..")
    assert (ctx.command, ctx.writes, ctx.read_only) == (cmd.name, writes, not writes)
    # a read-only command stats each file once; one that writes caches only its inputs' stats
    assert (ctx.stat_cache is not None, ctx.input_stats is not None) == (not writes, writes)
    assert (ctx.runs_prefix, ctx.runs_depth) == ("../", 1)


def test_a_scoped_change_is_undone():
    before = context.CURRENT
    with context.scoped(adopting=True) as ctx:
        assert context.CURRENT is ctx and ctx.adopting and ctx.root == before.root
    assert context.CURRENT is before and not before.adopting
