"""The executor setting and how `doit status` shows a cluster (scylla/cluster.py)."""

from __future__ import annotations

import pytest

from scylla import cluster


@pytest.mark.parametrize(("setting", "address"), [
    (None, None), ("", None), ("local", None), ("LOCAL", None),
    ("dask://127.0.0.1:8786", "tcp://127.0.0.1:8786"), ("tcp://scheduler.lab:8786", "tcp://scheduler.lab:8786"),
    ("tls://10.0.0.5:8786", "tls://10.0.0.5:8786"),
])
def test_an_executor_setting_names_the_local_executor_or_a_scheduler(setting, address):
    assert cluster.address(setting) == address


@pytest.mark.parametrize("setting", ["dask", "dask://host", "http://host:8786", "127.0.0.1:8786", "dask://:8786"])
def test_a_setting_that_names_no_scheduler_says_what_is_expected(setting):
    with pytest.raises(cluster.ExecutorError, match=r"expected `local` or `dask://HOST:PORT`"):
        cluster.address(setting)


def test_the_status_lines_name_each_task_its_state_and_its_worker():
    state = {"scheduler": "tcp://127.0.0.1:8786", "workers": 2, "threads": 8, "tasks": [
        {"task": "agent:T0/00/run_01", "state": "running", "worker": "tcp://127.0.0.1:4100", "seconds": 12.4},
        {"task": "agent:T0/00/run_02", "state": "paused until 2026-12-05T10:00:00+00:00",
         "worker": "tcp://127.0.0.1:4101", "seconds": 3.0},
        {"task": "judge:T0/00/run_01/judge_02", "state": "sent", "worker": None, "seconds": 0.5}]}
    assert cluster.render(state) == [
        ("Cluster tcp://127.0.0.1:8786: 2 workers, 8 threads; this experiment's tasks there: 1 running, "
         "2 sent or waiting"),
        "  ⟳ agent:T0/00/run_01 on tcp://127.0.0.1:4100: running for 12 s",
        "  … agent:T0/00/run_02 (tcp://127.0.0.1:4101): paused until 2026-12-05T10:00:00+00:00 for 3 s",
        "  … judge:T0/00/run_01/judge_02: sent for 0 s", ""]
    assert cluster.render({"scheduler": "tcp://x:1", "error": "no Dask scheduler answers there"})[0] == \
        "Cluster tcp://x:1: ✗ no Dask scheduler answers there"


def test_each_experiment_tree_has_its_own_cluster_state(tmp_path):
    a, b = tmp_path / "a" / "hello", tmp_path / "b" / "hello"
    assert cluster.namespace(a) != cluster.namespace(b) and cluster.namespace(a) == cluster.namespace(a)
    assert cluster.key(cluster.namespace(a), "done", "k") == ["scylla", cluster.namespace(a), "done", "k"]
