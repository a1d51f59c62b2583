"""The warm-up job runs at the spec's `[train] threads`, and the count is part of its key.

Why it matters: on some CPUs a 1- and a 2-thread matmul round differently, and a Ray task's thread
default (OMP_NUM_THREADS=1) is not the sequential executor's (every core). Before this, the warm-up
ignored `threads`, so on a fresh machine the two executors built different warm-up weights, and every
eval run id after them differed (test_ray_executor's equality tests caught it).
"""

from __future__ import annotations

import torch
from test_run_ablation_e2e import MICRO

import trainers
from ctxbench.ablation import runner
from ctxbench.ablation.jobs import JobContext
from ctxbench.ablation.spec import load_spec


def _warmup_job(tmp_path, threads: int):
    path = tmp_path / f"spec-{threads}.toml"
    path.write_text(MICRO.replace("threads = 1\n", f"threads = {threads}\n"))
    return runner.build_jobs(load_spec(path))[1]["warmup"]


def test_the_warmup_body_runs_at_the_spec_threads(tmp_path, monkeypatch):
    job = _warmup_job(tmp_path, 1)
    seen = []
    monkeypatch.setattr(trainers, "warmup_sft", lambda cfg, root: seen.append(torch.get_num_threads()) or root,
                        raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # the sequential executor's default on this machine
    try:
        runner._run_warmup(JobContext(job, tmp_path, {}, False, tmp_path))
    finally:
        torch.set_num_threads(before)
    assert seen == [1]


def test_the_thread_count_keys_the_warmup_job(tmp_path):
    one, two = _warmup_job(tmp_path, 1), _warmup_job(tmp_path, 2)
    assert one.inputs["train"]["threads"] == 1 and two.inputs["train"]["threads"] == 2
    assert one.key != two.key
