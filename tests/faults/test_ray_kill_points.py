"""SIGKILL of a Ray worker at seeded random points of a real ablation job (the tiny model scoring the
base checkpoint, `run-ablation --executor ray`'s eval job, in 6 batches of two; a point is how many of
its shards are stored when the kill comes): Ray retries the job on a
new worker, and after the one ingest the store holds exactly the rows of an uninterrupted run, none
twice. Each kill that lands mid-job counts as a kill point in the suite's ledger."""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "ablation"))
from test_ray_executor import store_essence

pytestmark = pytest.mark.slow
SEED = 13
SPEC = {"name": "raykill", "arms": ["grpo"], "seeds": [0],
        "train": {"recipe": "tiny", "warmup": {"enabled": False}},
        "eval": {"suite": "", "benchmarks": ["note-lookup"], "limit": 12, "batch_size": 2, "probe": False,
                 "max_new_tokens": 4}}


@pytest.fixture(scope="module")
def ray_cluster():
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()


def _base_eval_job():
    from ctxbench.ablation.runner import build_jobs
    from ctxbench.ablation.spec import AblationSpec
    from ctxbench.core.config import load_config

    _, handles = build_jobs(load_config(AblationSpec, SPEC))
    job = handles["eval"][("base", None)]
    assert job.deps == []  # no pairs, no warm-up: the job starts at once
    return job


def _kill_after(root: Path, job, n_shards: int, killed: list, stop: threading.Event) -> None:
    """SIGKILL the job's first worker once `n_shards` samples shards are stored (0: as soon as the attempt
    has begun, while the model loads), unless the job finished first."""
    from ctxbench.core.atomic import is_temp

    attempts = root / "work" / job.key / "attempts.json"
    shards = root / "shards" / "samples"
    while not stop.is_set():
        stored = [p for p in shards.glob("*.parquet") if not is_temp(p)] if shards.exists() else []
        if attempts.exists() and len(stored) >= n_shards:
            if (root / "jobs" / f"{job.key}.json").exists():
                return
            pid = json.loads(attempts.read_text())[0]["pid"]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            return
        time.sleep(0.01)


def test_sigkill_ray_worker_at_seeded_points(ray_cluster, tmp_path, faults):
    from ctxbench.ablation.executors import make_executor
    from ctxbench.ablation.jobs import JobRunner
    from ctxbench.store.ingest import ingest

    job = _base_eval_job()
    ref_root = tmp_path / "ref"
    JobRunner(ref_root, progress=False).run([job])
    ingest(ref_root, progress=False)
    ref = store_essence(ref_root)
    assert len(ref["samples"]) == 12  # 6 batches of 2: 6 shards, a kill point before each of them
    for i, point in enumerate(sorted(random.Random(SEED).sample(range(6), 3))):
        root = tmp_path / f"k{i}"
        killed, stop = [], threading.Event()
        watcher = threading.Thread(target=_kill_after, args=(root, job, point, killed, stop))
        watcher.start()
        try:
            make_executor("ray", root, progress=False).run([job])
        finally:
            stop.set()
            watcher.join()
        assert killed, f"the job finished before its worker could be killed after {point} shards"
        faults.kill_point("ray-worker")
        attempts = json.loads((root / "work" / job.key / "attempts.json").read_text())
        assert [a["pid"] for a in attempts][:1] == killed and len(attempts) == 2  # retried once, elsewhere
        ingest(root, progress=False)
        got = store_essence(root)  # fails on a key stored twice
        faults.rows_lost(max(0, len(ref["samples"]) - len(got["samples"])))
        assert got == ref, f"a kill after {point} of 6 shards changed the stored rows"
