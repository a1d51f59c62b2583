"""Where an ablation's jobs run: `local` (one by one, in this process) or `ray` (each job a Ray task).

Why one seam: the job graph, the keys, the done-markers and the job bodies are the same whichever
executor runs them. An executor only decides where and when a job whose deps are done is executed
(`JobRunner.execute`, the one caller of a job body), so a run started on one executor resumes on the
other, and both give the same rows and statistics (tests/ablation/test_ray_executor.py).

`local` is ctxbench.ablation.jobs.JobRunner itself (today's sequential runner, unchanged); `ray` is
ctxbench.ablation.executors.ray.RayExecutor, imported only when chosen (Ray is not needed otherwise).
"""

from __future__ import annotations

from pathlib import Path

from ctxbench.ablation.jobs import JobRunner
from ctxbench.ablation.spec import ResourcesSpec
from ctxbench.core.errors import CtxbenchError, did_you_mean

EXECUTORS = ("local", "ray")


def make_executor(name: str, root: Path, *, progress: bool = True, address: str | None = None,
                  resources: ResourcesSpec | None = None) -> JobRunner:
    """The executor `name` over run root `root`. `address` (ray only) joins an existing cluster;
    `resources` is the spec's `[resources]` table (what each job kind reserves; ray only)."""
    if name not in EXECUTORS:
        raise CtxbenchError(f"unknown executor {name!r}{did_you_mean(name, EXECUTORS)}")
    if name == "local":
        if address:
            raise CtxbenchError("--address names a Ray cluster: it needs --executor ray")
        return JobRunner(root, progress=progress)
    from ctxbench.ablation.executors.ray import RayExecutor

    return RayExecutor(root, progress=progress, address=address, resources=resources or ResourcesSpec())
