"""Hash-keyed jobs with completion markers, so an ablation killed midway resumes where it stopped.

Why: an ablation is dozens of independent trainings and evaluations. Each job is keyed by the hash of
its resolved inputs (config, upstream job keys, code-relevant versions); when it finishes, a marker
`jobs/<key>.json` holding its outputs is written atomically. A re-run skips every job whose marker
exists and re-enters unfinished ones, which resume themselves (trainers from their last complete
checkpoint, evaluations from their stored items). Changing any input changes the key, so stale results
are never reused.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctxbench.core.atomic import write_json
from ctxbench.core.hashing import stable_hash


@dataclass
class Job:
    kind: str                      # pairs | warmup | train | eval | probe | ...
    label: str                     # what the progress bar shows, e.g. "train contextrl seed 1"
    inputs: dict[str, Any]         # everything that determines the result (hashed into the key)
    fn: Callable[[JobContext], dict]
    deps: list[Job] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.kind}-" + stable_hash({"inputs": self.inputs, "deps": [d.key for d in self.deps]}, 16)


@dataclass
class JobContext:
    job: Job
    root: Path
    dep_outputs: dict[str, dict]   # upstream job key -> its outputs
    progress: bool
    workdir: Path                  # a stable directory for this job's files (same across re-runs)

    def dep(self, job: Job) -> dict:
        return self.dep_outputs[job.key]


class JobRunner:
    def __init__(self, root: Path, progress: bool = True):
        self.root = Path(root)
        self.dir = self.root / "jobs"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.progress = progress
        self.ran: list[str] = []      # keys executed in this invocation
        self.skipped: list[str] = []  # keys found finished

    def marker(self, job: Job) -> Path:
        return self.dir / f"{job.key}.json"

    def outputs(self, job: Job) -> dict | None:
        p = self.marker(job)
        if not p.exists():
            return None
        try:
            return json.loads(p.read_text())["outputs"]
        except (json.JSONDecodeError, KeyError):
            return None  # a torn marker cannot exist (atomic rename), but never trust a bad file

    def _finish(self, job: Job, outputs: dict, seconds: float) -> None:
        p = self.marker(job)
        write_json(p, {"key": job.key, "kind": job.kind, "label": job.label, "inputs": job.inputs,
                       "outputs": outputs, "seconds": round(seconds, 2)}, indent=1, default=str)

    def workdir(self, job: Job) -> Path:
        return self.root / "work" / job.key

    def execute(self, job: Job, dep_outputs: dict[str, dict]) -> dict:
        """Run one job whose deps are done and write its marker: the one place a job body is called,
        by this sequential runner and by every executor (ctxbench.ablation.executors) alike."""
        t0 = time.perf_counter()
        ctx = JobContext(job, self.root, dep_outputs, self.progress, self.workdir(job))
        ctx.workdir.mkdir(parents=True, exist_ok=True)
        out = job.fn(ctx)
        self._finish(job, out, time.perf_counter() - t0)
        return out

    def run(self, jobs: list[Job]) -> dict[str, dict]:
        """Run `jobs` (and their deps) one by one in dependency order, in this process (the `local`
        executor); returns outputs by key."""
        order = toposort(jobs)
        results: dict[str, dict] = {}
        bar = None
        if self.progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(order), desc="ablation", unit="job", position=0, dynamic_ncols=True)
        try:
            for job in order:
                out = self.outputs(job)
                if out is not None:
                    self.skipped.append(job.key)
                else:
                    if bar:
                        bar.set_postfix_str(job.label)
                    out = self.execute(job, {d.key: results[d.key] for d in job.deps})
                    self.ran.append(job.key)
                results[job.key] = out
                if bar:
                    bar.update(1)
        finally:
            if bar:
                bar.close()
        return results


def toposort(jobs: list[Job]) -> list[Job]:
    """`jobs` and everything they depend on, each once, every job after its deps."""
    seen: dict[str, Job] = {}
    order: list[Job] = []

    def visit(j: Job, stack: tuple[str, ...] = ()):
        if j.key in seen:
            return
        if j.key in stack:
            raise ValueError(f"job cycle through {j.label}")
        for d in j.deps:
            visit(d, stack + (j.key,))
        seen[j.key] = j
        order.append(j)

    for j in jobs:
        visit(j)
    return order
