"""The `ray` executor: every job of an ablation's graph a Ray task, run where the cluster has room.

Why Ray and not a scheduler of our own (DESIGN, "Scaling out"): arms x seeds x benchmarks are
independent by construction, and Ray already does the placement, the dataflow and the retries.
What this module adds is only the mapping:

- a job is a task reserving the spec's `[resources.KIND]` (cpus, gpus); its deps' results are passed
  as Ray object refs, so Ray starts it when they are done, exactly the local graph's order constraint;
- a task runs `JobRunner.execute` on the worker: the same body, the same run root (it must be the same
  absolute path on every node, a shared filesystem on a real cluster), the same done-marker;
- a worker that dies mid-job (SIGKILL, a lost node) and a job that raises are both retried once
  (`max_retries`, `retry_exceptions`); the retry finds what the first attempt stored (eval items are
  keyed, training resumes from its last complete checkpoint, shards are written atomically and keyed),
  so a retry adds no duplicate row. A task whose marker already exists returns the marker's outputs
  (a retry after the body finished but before Ray got the result);
- a job that fails on both attempts fails the run with one line, its key and the cause, once the jobs
  that do not need it have finished: on a cluster one bad job does not throw away the trainings running
  beside it (and a test cannot race them). Their markers stay, so a re-run (with either executor)
  resumes with only the failed job and what needs it;
- a cluster that loses its last node mid-run (raylets killed, the head stopped) fails the run with one
  line at the next heartbeat (HEARTBEAT_S without a finished job), where Ray would keep the driver
  waiting forever;
- the driver keeps one overall progress bar (workers run quiet) and, after the graph, the runner does
  the one ingest, here in the driver.

Without `--address` a local cluster is started with this machine's CPUs (and GPUs, as Ray detects
them) and shut down at the end; with it, the driver joins that cluster and leaves it running. A driver
that already called `ray.init` (a notebook, the tests) has its cluster used as it is.
Each attempt is recorded in `work/<key>/attempts.json` (pid, host, time): where a job ran, and how often.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ctxbench.ablation.jobs import Job, JobRunner, toposort
from ctxbench.ablation.spec import JobResources, ResourcesSpec
from ctxbench.core.atomic import write_json
from ctxbench.core.errors import CtxbenchError

MAX_RETRIES = 1          # one retry: a job fails the run when its second attempt fails too
HEARTBEAT_S = 30.0       # how often a driver with no finished job checks that the cluster still has a node
# Environment a worker on another node needs to read the same caches, offline, as the driver.
FORWARDED_ENV = ("CTXBENCH_CACHE", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TOKENIZERS_PARALLELISM")


def _ray():
    try:
        import ray
    except ImportError:
        raise CtxbenchError("--executor ray needs Ray: pip install 'ray==2.60.0' (it is in the dev extra)") from None
    return ray


def machine_cpus() -> int:
    """The CPUs this process may use (its affinity mask, not the host's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


@contextmanager
def cluster(address: str | None, quiet: bool) -> Iterator[bool]:
    """Ray initialised for the duration. Yields whether the cluster is fixed (no `--address`: a local one,
    or the one this process already joined), where a request no node meets is an error, not a wait."""
    ray = _ray()
    if ray.is_initialized():
        yield address is None
        return
    kw = {"include_dashboard": False, "log_to_driver": not quiet, "logging_level": logging.WARNING}
    try:
        if address:
            env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
            ray.init(address=address, runtime_env={"env_vars": env}, **kw)
        else:
            ray.init(address="local", num_cpus=machine_cpus(), **kw)  # "local": a new one, even beside `ray start`
    except (ConnectionError, RuntimeError, ValueError) as e:
        where = f"the Ray cluster at {address}" if address else "a local Ray cluster"
        hint = ""
        if address and address != "auto" and "RAY_AUTH_MODE" not in os.environ:
            hint = ("; a cluster with token authentication (Ray's default) needs RAY_AUTH_MODE=token and its "
                    "token (~/.ray/auth_token) on the driver")
        raise CtxbenchError(f"ray: cannot start or join {where}: {str(e).strip().splitlines()[0]}{hint}") from None
    try:
        yield address is None
    finally:
        ray.shutdown()


def _record_attempt(runner: JobRunner, job: Job) -> None:
    path = runner.workdir(job) / "attempts.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        seen = json.loads(path.read_text())
    except (OSError, ValueError):
        seen = []
    seen.append({"pid": os.getpid(), "host": socket.gethostname(), "at": time.time()})
    write_json(path, seen, indent=1)


def run_attempt(root: str, job: Job, *dep_outputs: dict) -> dict:
    """One attempt at `job` on a worker; `dep_outputs` are its deps' outputs, in `job.deps` order."""
    runner = JobRunner(Path(root), progress=False)
    done = runner.outputs(job)
    if done is not None:      # an earlier attempt finished the body: its marker is the result
        return done
    _record_attempt(runner, job)
    return runner.execute(job, {d.key: out for d, out in zip(job.deps, dep_outputs)})


def _cause(err: BaseException) -> str:
    """The failure as one line: the job's own exception where Ray carries it, else Ray's reason."""
    cause = getattr(err, "cause", None)
    if isinstance(cause, BaseException):
        text = f"{cause}" if isinstance(cause, CtxbenchError) else f"{type(cause).__name__}: {cause}"
    else:
        text = f"{type(err).__name__}: {err}"
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[0] if lines else type(err).__name__


def check_fits(ray, jobs: list[Job], resources: ResourcesSpec, fixed: bool) -> None:
    """Fail before any job when a job kind asks for more than any node has (Ray would wait forever).
    On a joined cluster only a warning: an autoscaler may add the node."""
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    for kind in sorted({j.kind for j in jobs}):
        r = resources.of(kind)
        if any(n.get("CPU", 0) >= r.cpus and n.get("GPU", 0) >= r.gpus for n in nodes):
            continue
        have = ", ".join(f"{n.get('CPU', 0):g} CPU/{n.get('GPU', 0):g} GPU" for n in nodes) or "no nodes"
        msg = (f"[resources.{kind}] asks for {r.cpus:g} CPU and {r.gpus:g} GPU per job, more than any node of "
               f"the Ray cluster has ({have})")
        if fixed:
            raise CtxbenchError(msg)
        print(f"ctxbench: warning: {msg}; its jobs wait until a node that fits joins", file=sys.stderr)


def check_alive(ray, address: str | None) -> None:
    """Fail, instead of waiting forever, when the cluster has no live node left (its raylets died, or the
    head was stopped): Ray itself would keep the driver's `wait` blocked."""
    try:
        alive = [n for n in ray.nodes() if n.get("Alive")]
    except Exception as e:  # noqa: BLE001 - an unreachable GCS is the same verdict
        alive, why = [], f": {_cause(e)}"
    else:
        why = ""
    if not alive:
        where = f"the Ray cluster at {address}" if address else "the local Ray cluster"
        raise CtxbenchError(f"ray: {where} has no live node{why}; the finished jobs' markers are kept, so a "
                            "re-run resumes")


class RayExecutor(JobRunner):
    """JobRunner's markers and results, with the jobs run as Ray tasks (see the module docstring)."""

    def __init__(self, root: Path, progress: bool = True, address: str | None = None,
                 resources: ResourcesSpec | None = None):
        super().__init__(Path(root).resolve(), progress=progress)  # workers may run in another directory
        self.address = address
        self.resources = resources or ResourcesSpec()

    def _options(self, job: Job) -> dict:
        r: JobResources = self.resources.of(job.kind)
        return {"num_cpus": r.cpus, "num_gpus": r.gpus, "max_retries": MAX_RETRIES, "retry_exceptions": True,
                "name": job.label}

    def run(self, jobs: list[Job]) -> dict[str, dict]:
        order = toposort(jobs)
        results: dict[str, dict] = {}
        todo = []
        for job in order:
            out = self.outputs(job)
            if out is None:
                todo.append(job)
            else:
                results[job.key] = out
                self.skipped.append(job.key)
        if not todo:
            return results
        with cluster(self.address, quiet=not self.progress) as fixed:
            ray = _ray()
            check_fits(ray, todo, self.resources, fixed)
            bar = None
            if self.progress:
                from tqdm.auto import tqdm

                bar = tqdm(total=len(order), initial=len(order) - len(todo), desc="ablation (ray)", unit="job",
                           dynamic_ncols=True)
            task = ray.remote(run_attempt)
            refs: dict[str, object] = {}
            for job in todo:  # in dependency order: every dep is already a result or a submitted ref
                args = [refs[d.key] if d.key in refs else results[d.key] for d in job.deps]
                refs[job.key] = task.options(**self._options(job)).remote(str(self.root), job, *args)
            pending = {refs[j.key]: j for j in todo}
            failures: dict[str, str] = {}  # the failed job furthest upstream -> its one-line error
            unfinished = 0                  # jobs that failed, themselves or through a dep
            try:
                while pending:
                    done, _ = ray.wait(list(pending), num_returns=1, timeout=HEARTBEAT_S)
                    if not done:
                        check_alive(ray, self.address)
                        continue
                    (ready,) = done
                    job = pending.pop(ready)
                    try:
                        results[job.key] = ray.get(ready)
                    except Exception as e:  # noqa: BLE001 - every Ray failure becomes one line
                        root, msg = self._failure(ray, job, e, refs)
                        failures.setdefault(root.key, msg)
                        unfinished += 1
                        continue  # the jobs that do not need it run on: their work is not thrown away
                    self.ran.append(job.key)
                    if bar:
                        bar.set_postfix_str(job.label)
                        bar.update(1)
            finally:
                for ref in pending:
                    ray.cancel(ref)
                if bar:
                    bar.close()
        if failures:
            first, others = next(iter(failures.values())), unfinished - 1
            if others:
                own = f", {len(failures) - 1} of them on their own" if len(failures) > 1 else ""
                first += f" ({others} more job{'s' if others != 1 else ''} did not finish{own})"
            raise CtxbenchError(first)
        return results

    def _failure(self, ray, job: Job, err: Exception, refs: dict) -> tuple[Job, str]:
        """The failed job furthest upstream and its one line (a job whose dep failed fails with the
        dep's error; name the dep, not it)."""
        for dep in job.deps:
            ref = refs.get(dep.key)
            if ref is None:
                continue
            try:
                ray.get(ref, timeout=0)
            except Exception as dep_err:  # noqa: BLE001
                if not isinstance(dep_err, ray.exceptions.GetTimeoutError):
                    return self._failure(ray, dep, dep_err, refs)
        return job, f"job {job.key} ({job.label}) failed on all {MAX_RETRIES + 1} attempts: {_cause(err)}"
