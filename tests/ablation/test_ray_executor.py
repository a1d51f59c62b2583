"""`run-ablation --executor ray` on a local two-CPU Ray cluster.

What could break and is checked: the Ray executor giving other outputs or other statistics than the
sequential one; a job starting before its deps are done; a worker SIGKILLed mid-job not being retried,
or its retry storing a row twice; a job that fails on both attempts not failing the run with one line
naming it (or naming a downstream job instead), and the re-run not resuming from the markers; a
`[resources]` table that accepts a typo or an impossible request; a request no node can meet hanging
forever instead of failing.

The toy graphs are fast (their bodies are functions of this module, which Ray's workers import through
the driver's sys.path); the two runs of a real micro ablation (the spec of test_run_ablation_e2e) are slow.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import pytest

from ctxbench.ablation.executors import make_executor
from ctxbench.ablation.jobs import Job, JobRunner
from ctxbench.ablation.spec import AblationSpec, ResourcesSpec
from ctxbench.core.config import ConfigError, load_config
from ctxbench.core.errors import CtxbenchError

sys.path.insert(0, str(Path(__file__).parents[1] / "faults"))
from store_helpers import VOLATILE, dump

FAULTS = "faults.json"  # in the run root: job label -> "kill-once" | "kill-always" | "raise" | "slow"


@pytest.fixture(scope="module")
def ray_cluster():
    import ray

    here = os.pathsep.join([str(Path(__file__).parent), *filter(None, [os.environ.get("PYTHONPATH")])])
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": here}})  # the workers import this module's job bodies
    yield ray
    ray.shutdown()


# ------------------------------------------------------------------------------------------- toy graph

def _body(ctx) -> dict:
    t0 = time.time()
    faults = json.loads((ctx.root / FAULTS).read_text()) if (ctx.root / FAULTS).exists() else {}
    mode = faults.get(ctx.job.label)
    attempts = ctx.workdir / "attempts.json"
    n = len(json.loads(attempts.read_text())) if attempts.exists() else 1
    if mode == "kill-always" or (mode == "kill-once" and n == 1):
        os.kill(os.getpid(), signal.SIGKILL)
    if mode == "raise":
        raise RuntimeError(f"boom in {ctx.job.label}\nsecond line of the cause")
    time.sleep(3.0 if mode == "slow" else 0.2)
    (ctx.workdir / "span.json").write_text(json.dumps([t0, time.time()]))
    return {"v": sum(o["v"] for o in ctx.dep_outputs.values()) + len(ctx.job.label)}


def _graph():
    a = Job("pairs", "a", {"x": 1}, _body)
    b = Job("train", "b", {"arm": "grpo"}, _body, deps=[a])
    c = Job("train", "c", {"arm": "contextrl"}, _body, deps=[a])
    d = Job("eval", "d", {}, _body, deps=[b, c])
    return [d], {j.label: j for j in (a, b, c, d)}


def _ray(root, **kw):
    return make_executor("ray", root, progress=False, **kw)


def _attempts(root: Path, job: Job) -> list[dict]:
    return json.loads((root / "work" / job.key / "attempts.json").read_text())


def _span(root: Path, job: Job) -> list[float]:
    return json.loads((root / "work" / job.key / "span.json").read_text())


def test_ray_runs_the_graph_as_the_local_runner_does(ray_cluster, tmp_path):
    jobs, by = _graph()
    local = JobRunner(tmp_path / "local", progress=False).run(jobs)
    ex = _ray(tmp_path / "ray")
    assert ex.run(jobs) == local and sorted(ex.ran) == sorted(j.key for j in by.values())
    for job in by.values():  # a job started only after its deps had finished
        assert all(_span(ex.root, job)[0] >= _span(ex.root, d)[1] for d in job.deps), job.label
    again = _ray(tmp_path / "ray")
    assert again.run(jobs) == local and again.ran == [] and len(again.skipped) == 4
    assert all(len(_attempts(ex.root, j)) == 1 for j in by.values())
    across = _ray(tmp_path / "local")  # the markers are the executors' common ground: a local run resumes on Ray
    assert across.run(jobs) == local and across.ran == []


LOCAL_CLUSTER = """
import json, sys
from pathlib import Path
import ray
import test_ray_executor as t
from ctxbench.ablation.executors.ray import machine_cpus
calls, init = [], ray.init
ray.init = lambda **kw: (calls.append(kw), init(**kw))[1]
jobs, _ = t._graph()
out = t._ray(Path(sys.argv[1])).run(jobs)
print(json.dumps({"jobs": len(out), "num_cpus": calls[0]["num_cpus"], "machine": machine_cpus(),
                  "still_up": ray.is_initialized()}))
"""


def test_without_a_cluster_a_local_one_is_started_and_shut_down(tmp_path):
    import subprocess

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    p = subprocess.run([sys.executable, "-c", LOCAL_CLUSTER, str(tmp_path)], env=env, capture_output=True, text=True,
                       timeout=300, check=False)
    assert p.returncode == 0, p.stderr[-2000:]
    got = json.loads(p.stdout.strip().splitlines()[-1])
    assert got == {"jobs": 4, "num_cpus": got["machine"], "machine": got["machine"], "still_up": False}


def test_a_worker_killed_mid_job_is_retried(ray_cluster, tmp_path):
    jobs, by = _graph()
    (tmp_path / FAULTS).write_text(json.dumps({"b": "kill-once"}))
    out = _ray(tmp_path).run(jobs)
    assert out == JobRunner(tmp_path / "ref", progress=False).run(jobs)
    pids = [a["pid"] for a in _attempts(tmp_path, by["b"])]
    assert len(pids) == 2 and pids[0] != pids[1]  # the first worker died; a second one ran the job


@pytest.mark.parametrize("mode,cause", [("raise", "RuntimeError: boom in c"), ("kill-always", "died")])
def test_a_job_failing_twice_fails_the_run_and_a_rerun_resumes(ray_cluster, tmp_path, mode, cause):
    jobs, by = _graph()
    (tmp_path / FAULTS).write_text(json.dumps({"c": mode, "b": "slow"}))  # b still runs when c has failed
    with pytest.raises(CtxbenchError) as e:
        _ray(tmp_path).run(jobs)
    msg = str(e.value)
    assert "\n" not in msg and by["c"].key in msg and "(c)" in msg and cause in msg, msg
    assert msg.endswith("(1 more job did not finish)"), msg  # d, which needs c
    assert by["d"].key not in msg  # d failed only because c did: the error names c
    assert len(_attempts(tmp_path, by["c"])) == 2
    finished = {p.stem for p in (tmp_path / "jobs").glob("*.json")}
    assert finished == {by["a"].key, by["b"].key}
    (tmp_path / FAULTS).unlink()
    again = _ray(tmp_path)
    again.run(jobs)
    assert set(again.skipped) == finished and sorted(again.ran) == sorted([by["c"].key, by["d"].key])


def test_a_request_no_node_can_meet_fails_before_any_job(ray_cluster, tmp_path):
    jobs, _ = _graph()
    res = load_config(ResourcesSpec, {"train": {"cpus": 3}})
    with pytest.raises(CtxbenchError, match=r"\[resources.train\] asks for 3 CPU .* \(2 CPU/0 GPU\)"):
        _ray(tmp_path, resources=res).run(jobs)
    assert not list((tmp_path / "jobs").glob("*.json"))


# ------------------------------------------------------------------------------------------- config, CLI

def _spec(resources: dict) -> AblationSpec:
    return load_config(AblationSpec, {"name": "t", "arms": ["grpo"], "resources": resources})


def test_the_resources_table_is_typed_and_strict():
    spec = _spec({"train": {"gpus": 1, "cpus": 2}, "eval": {"gpus": 0.5}})
    assert spec.resources.of("train").gpus == 1.0 and spec.resources.of("eval").gpus == 0.5
    assert spec.resources.of("pairs").cpus == 1.0 and _spec({}).resources == ResourcesSpec()
    bad = [({"train": {"gpu": 1}}, "resources.train.gpu' (did you mean 'gpus'"),
           ({"trian": {}}, "resources.trian' (did you mean 'train'"),
           ({"eval": {"cpus": -1}}, "resources.eval: cpus must be >= 0"),
           ({"train": {"gpus": 1.5}}, "fraction of one GPU or a whole number"),
           ({"train": {"cpus": "2"}}, "resources.train.cpus: expected a number")]
    for table, text in bad:
        with pytest.raises(ConfigError) as e:
            _spec(table)
        assert text in str(e.value), str(e.value)


def test_executor_choice_errors(tmp_path, capsys):
    from ctxbench.cli import main

    with pytest.raises(CtxbenchError, match="unknown executor 'slurm'"):
        make_executor("slurm", tmp_path)
    with pytest.raises(CtxbenchError, match="needs --executor ray"):
        make_executor("local", tmp_path, address="auto")
    with pytest.raises(SystemExit):
        main(["--root", str(tmp_path), "run-ablation", "--executor", "slurm"])
    assert "invalid choice: 'slurm'" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------- a real ablation

def store_essence(root: Path) -> dict[str, list[tuple]]:
    """What must be equal between two runs of one ablation: every keyed table's keys (no key twice:
    `dump` asserts it) and each sample's output and score."""
    from ctxbench.store.schema import TABLES

    out = {}
    for name, rows in dump(root).items():
        cols = [c for c in TABLES[name].columns if c not in VOLATILE]
        keep = [cols.index(c) for c in (*TABLES[name].key, *(("output", "score") if name == "samples" else ()))]
        out[name] = sorted(tuple(r[i] for i in keep) for r in rows)
    return out


@pytest.fixture(scope="module")
def micro(tmp_path_factory):
    """The micro spec, scoring in batches of 2 (several shards per eval job: a kill can fall between them),
    and its sequential run: the reference. Every run happens at one path (`live`), moved away after it:
    checkpoint paths enter the run ids, so only runs at one path can be compared key for key."""
    from test_run_ablation_e2e import MICRO

    from ctxbench.ablation.runner import run_ablation
    from ctxbench.ablation.spec import load_spec

    base = tmp_path_factory.mktemp("micro")
    (base / "micro.toml").write_text(MICRO.replace("[eval]\n", "[eval]\nbatch_size = 2\n"))
    spec = load_spec(base / "micro.toml")
    live = base / "live"
    ref = run_ablation(spec, live, progress=False, report=False)
    live.rename(base / "ref")
    return spec, ref, base / "ref", live


@pytest.fixture
def live(micro, tmp_path):
    """The one path every run of the micro spec happens at; moved into this test's folder afterwards."""
    path = micro[3]
    yield path
    if path.exists():
        path.rename(tmp_path / "run")


@pytest.mark.slow
def test_the_ray_ablation_gives_the_sequential_statistics(ray_cluster, micro, live):
    from test_run_ablation_e2e import _tables_json

    from ctxbench.ablation.runner import run_ablation

    spec, ref, ref_root, _ = micro
    res = run_ablation(spec, live, progress=False, report=False, executor="ray")
    assert sorted(res.ran) == sorted(ref.ran) and res.eval_runs == ref.eval_runs
    assert _tables_json(res.tables) == _tables_json(ref.tables)
    assert store_essence(live) == store_essence(ref_root)


def _kill_mid_eval(root: Path, job: Job, name: str, killed: list, stop: threading.Event) -> None:
    """SIGKILL the worker of eval job `job` once its first samples shard is stored (before its marker)."""
    import pyarrow.parquet as pq

    while not stop.is_set():
        if (root / "jobs" / f"{job.key}.json").exists():
            return
        prefix = None
        for p in (root / "shards" / "runs").glob("*0start*.parquet"):
            try:
                if name in pq.read_table(p, columns=["name"]).column("name").to_pylist():
                    prefix = p.name.split("--")[0]
            except OSError:
                pass
        if prefix and list((root / "shards" / "samples").glob(f"{prefix}--*.parquet")):
            pid = json.loads((root / "work" / job.key / "attempts.json").read_text())[-1]["pid"]
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            return
        time.sleep(0.02)


@pytest.mark.slow
def test_a_worker_killed_mid_eval_is_retried_and_stores_no_row_twice(ray_cluster, micro, live):
    from test_run_ablation_e2e import _tables_json

    from ctxbench.ablation.runner import build_jobs, run_ablation

    spec, ref, ref_root, _ = micro
    _, handles = build_jobs(spec)
    target = handles["eval"][("contextrl", 1)]
    killed, stop = [], threading.Event()
    watcher = threading.Thread(target=_kill_mid_eval, args=(live, target, "micro/contextrl/s1", killed, stop))
    watcher.start()
    try:
        res = run_ablation(spec, live, progress=False, report=False, executor="ray")
    finally:
        stop.set()
        watcher.join()
    assert killed, "the eval job finished before its worker could be killed"
    attempts = _attempts(live, target)
    assert len(attempts) == 2 and attempts[0]["pid"] == killed[0]
    assert _tables_json(res.tables) == _tables_json(ref.tables)
    assert store_essence(live) == store_essence(ref_root)  # dump() fails on a key stored twice


# ------------------------------------------------------------------------------------------- a dead cluster

class _DyingRay:
    """Ray's surface as the executor uses it, for a cluster whose nodes die after the jobs are submitted:
    `wait` never returns a result (what a real driver sees when the raylets are gone)."""

    def __init__(self, nodes_after):
        self.calls, self.nodes_after, self.cancelled = 0, nodes_after, []
        self.exceptions = type("E", (), {"GetTimeoutError": TimeoutError})

    def is_initialized(self):
        return True

    def nodes(self):
        self.calls += 1
        if self.calls == 1:  # check_fits, before any job
            return [{"Alive": True, "Resources": {"CPU": 2.0}}]
        return self.nodes_after()

    def remote(self, fn):
        class Task:
            def options(self, **_kw):
                return self

            def remote(self, *_a):
                return object()
        return Task()

    def wait(self, refs, num_returns=1, timeout=None):
        time.sleep(min(timeout or 0, 0.01))
        return [], refs

    def cancel(self, ref):
        self.cancelled.append(ref)


def _dead_nodes():
    return [{"Alive": False, "Resources": {"CPU": 2.0}}]


def _no_gcs():
    raise ConnectionError("failed to connect to GCS at 127.0.0.1:6379")


@pytest.mark.parametrize("nodes_after, text", [(_dead_nodes, "has no live node;"),
                                               (_no_gcs, "has no live node: ConnectionError: failed to connect")])
def test_a_cluster_that_dies_mid_run_fails_it_instead_of_hanging(tmp_path, monkeypatch, nodes_after, text):
    from ctxbench.ablation.executors import ray as ray_exec

    fake = _DyingRay(nodes_after)
    monkeypatch.setattr(ray_exec, "_ray", lambda: fake)
    monkeypatch.setattr(ray_exec, "HEARTBEAT_S", 0.01)
    jobs, _ = _graph()
    with pytest.raises(CtxbenchError, match=f"ray: the local Ray cluster {text}.*a re-run resumes"):
        _ray(tmp_path).run(jobs)
    assert fake.calls == 2 and len(fake.cancelled) == 4  # one liveness check, every pending task cancelled


def test_a_live_cluster_with_slow_jobs_keeps_waiting(tmp_path, monkeypatch):
    from ctxbench.ablation.executors import ray as ray_exec

    beats = []

    def alive():
        beats.append(1)
        if len(beats) == 3:
            raise KeyboardInterrupt  # stop the endless wait from the test's side after three heartbeats
        return [{"Alive": True, "Resources": {"CPU": 2.0}}]

    monkeypatch.setattr(ray_exec, "_ray", lambda: _DyingRay(alive))
    monkeypatch.setattr(ray_exec, "HEARTBEAT_S", 0.01)
    with pytest.raises(KeyboardInterrupt):
        _ray(tmp_path).run(_graph()[0])
    assert len(beats) == 3
