"""SIGKILL of one accelerate rank at seeded random points of a 2-process `--engine trl` ContextRL run; the
same command re-run (resume auto) ends with the weights of an uninterrupted 2-process run (bit for bit:
max difference 0.0), the same metric history, and a store holding exactly its rows, none twice.

The run: the toy task, contextrl with KL, 4 prompts x 4 rollouts, TRL's own generation (each rank samples
from its own torch RNG, so every rank's RNG is part of the exact resume), 6 steps, a checkpoint every
step. A kill point is (rank, step, delay): once that rank has finished optimizer step `step` (0: as soon
as it has started, while it loads), wait `delay` seconds and SIGKILL that rank's process, a child of the
launcher, never the launcher. The points are chained: each re-run resumes from what the previous kill
left and is killed again further on; a last re-run completes. After each kill: the launcher exits
non-zero within a timeout (no hang), no rank outlives it, every visible checkpoint verifies against its
manifest, and no checkpoint row names a checkpoint that is not complete.

Why `--multi_gpu` in the launch line on a CPU machine: `accelerate launch --cpu --num_processes 2` goes
to accelerate's simple launcher, which starts ONE process (multi-CPU there needs mpirun); `--multi_gpu`
starts two ranks through torchrun's elastic agent, and the engine's PartialState(cpu=True) makes them a
gloo MULTI_CPU group when there is no GPU.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
SEED = 15
STEPS = 6
KILLS = 5
TIMEOUT_S = 120  # one launch: ~12 s on 2 cores; a hang is far beyond
TIMING = {"step_s"}
REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests" / "trainers"

SCRIPT = """
import json, os, sys
from pathlib import Path
sys.path[:0] = [{repo!r}, {tests!r}]
import torch
torch.set_num_threads(1)
from transformers import TrainerCallback
from toy import BENCHES, base_cfg
from trainers.trl.engine import TRLEngine

root, pairs, marks = sys.argv[1], sys.argv[2], Path(sys.argv[3])
rank = int(os.environ.get("RANK", "0"))
(marks / f"pid-{{rank}}").write_text(str(os.getpid()))


class Progress(TrainerCallback):  # this rank's last finished optimizer step, for the test's kill trigger
    def on_step_end(self, args, state, control, **kw):
        (marks / f".step-{{rank}}").write_text(str(state.global_step))
        os.replace(marks / f".step-{{rank}}", marks / f"step-{{rank}}")


cfg = base_cfg(pairs, objective={{"name": "contextrl", "ca_coef": 0.5}}, loss={{"kl_coef": 0.05}}, max_steps={steps},
               save_every=1, keep_last=2, run_name="akill")
engine = TRLEngine(cfg, root, BENCHES)
engine.setup("auto")
if engine.done is None:
    engine.trainer.add_callback(Progress())
res = engine.run()
if engine.is_main:
    print("RESULT " + json.dumps({{"ckpt": str(res.ckpt_dir), "metrics": res.metrics,
                                  "resumed_from": res.resumed_from and res.resumed_from.name}}))
"""


def kill_points(rng: random.Random) -> list[tuple[int, int, float]]:
    """(rank, step, delay) per kill, steps increasing; rank 0 and rank 1 each killed at least once."""
    ranks = [0, 1] + [rng.randrange(2) for _ in range(KILLS - 2)]
    rng.shuffle(ranks)
    steps = sorted(rng.sample(range(STEPS), KILLS))
    return [(r, s, round(rng.uniform(0.0, 0.4), 3)) for r, s in zip(ranks, steps)]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(tmp: Path, root: Path, pairs: Path, tag: str) -> tuple[subprocess.Popen, Path]:
    marks = tmp / f"marks-{tag}"
    marks.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TRL_EXPERIMENTAL_SILENCE": "1", "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "--main_process_port", str(_port()), str(tmp / "train_akill.py"), str(root), str(pairs), str(marks)]
    with open(tmp / f"{tag}.out", "w") as out, open(tmp / f"{tag}.err", "w") as err:
        proc = subprocess.Popen(cmd, cwd=tmp, env=env, stdout=out, stderr=err, start_new_session=True)
    return proc, marks


def wait(proc: subprocess.Popen, tmp: Path, tag: str) -> int:
    try:
        return proc.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # our own launcher's session: the launcher and its ranks
        proc.wait()
        pytest.fail(f"{tag}: the launcher hung for {TIMEOUT_S} s: {(tmp / f'{tag}.err').read_text()[-2000:]}")


def result(tmp: Path, tag: str) -> dict:
    lines = [ln for ln in (tmp / f"{tag}.out").read_text().splitlines() if ln.startswith("RESULT ")]
    assert len(lines) == 1, (tmp / f"{tag}.err").read_text()[-3000:]
    return json.loads(lines[0][len("RESULT "):])


def rank_pids(marks: Path) -> list[int]:
    return [int((marks / f"pid-{r}").read_text()) for r in (0, 1) if (marks / f"pid-{r}").exists()]


def kill_at(proc: subprocess.Popen, marks: Path, rank: int, step: int, delay: float) -> int | None:
    """SIGKILL `rank` once it has finished `step` (0: once it runs) plus `delay` s; its pid, None if the
    launch ended first."""
    import psutil

    pid_file, step_file = marks / f"pid-{rank}", marks / f"step-{rank}"
    while proc.poll() is None:
        done = int(step_file.read_text() or 0) if step_file.exists() else 0
        if pid_file.exists() and done >= step:
            time.sleep(delay)
            pid = int(pid_file.read_text())
            assert psutil.Process(pid).ppid() == proc.pid  # a rank child of the launcher, not the launcher
            os.kill(pid, signal.SIGKILL)
            return pid
        time.sleep(0.005)
    return None


def assert_no_rank_left(pids: list[int]) -> None:
    import psutil

    deadline = time.monotonic() + 10
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
        time.sleep(0.05)
    assert not alive, f"ranks {alive} outlived their launcher"


def assert_checkpoints_complete(root: Path, run_id: str) -> None:
    """Every visible checkpoint is complete, and every checkpoint row names a complete (or since pruned
    older) checkpoint: a killed save leaves only a hidden temporary folder."""
    from ctxbench.store.shards import iter_shards, read_shard
    from trainers import checkpoint as ck
    from trainers.trl.resume import HF_STATE

    folders = ck.list_step_checkpoints(root / "train" / run_id / "checkpoints")
    for f in folders:
        ck.verify_checkpoint(f, required=(ck.STATE, ck.META, HF_STATE))
    newest = int(folders[-1].name[len(ck.PREFIX):]) if folders else -1
    rows = [r for p in iter_shards(root, "checkpoints", run_id) for r in read_shard(p, "checkpoints").to_pylist()]
    assert all(r["step"] <= newest for r in rows), (newest, sorted(r["step"] for r in rows))
    assert all(Path(r["path"]).is_dir() for r in rows if r["step"] >= newest - 1)  # keep_last = 2


def store_rows(root: Path, run_id: str) -> dict[str, list[tuple]]:
    """The run's rows per table after one ingest (wall-clock columns left out); fails on a key stored twice."""
    from cli_fixture import db_rows

    from ctxbench.store.ingest import ingest

    ingest(root, progress=False)
    out = {
        "train_metrics": db_rows(root, "SELECT step, name, value FROM train_metrics WHERE run_id = ? "
                                       "ORDER BY step, name", [run_id]),
        "checkpoints": db_rows(root, "SELECT step, ckpt_id, arm, seed FROM checkpoints WHERE run_id = ? ORDER BY step",
                               [run_id]),
        "runs": db_rows(root, "SELECT run_id, status, ckpt_id, arm, config_hash FROM runs WHERE run_id = ?", [run_id]),
    }
    for table, key in (("train_metrics", "step, name"), ("checkpoints", "ckpt_id"), ("runs", "run_id")):
        (n, distinct), = db_rows(root, f"SELECT count(*), count(DISTINCT ({key})) FROM {table} WHERE run_id = ?",
                                 [run_id])
        assert n == distinct, f"{table}: {n - distinct} rows stored twice"
    out["train_metrics"] = [r for r in out["train_metrics"] if r[1] not in TIMING]
    return out


def without_timing(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in m.items() if k not in TIMING} for m in history]


def test_sigkill_one_accelerate_rank_at_seeded_points(tmp_path, faults):
    sys.path.insert(0, str(TESTS))
    from toy import max_weight_diff, toy_pairs

    from ctxbench.pairs import save_pairs

    pairs = save_pairs(tmp_path / "pairs.jsonl", toy_pairs(16))
    (tmp_path / "train_akill.py").write_text(SCRIPT.format(repo=str(REPO), tests=str(TESTS), steps=STEPS))
    proc, _ = launch(tmp_path, tmp_path / "ref", pairs, "ref")
    assert wait(proc, tmp_path, "ref") == 0, (tmp_path / "ref.err").read_text()[-3000:]
    ref = result(tmp_path, "ref")
    assert [m["step"] for m in ref["metrics"]] == list(range(1, STEPS + 1))
    ref_rows = store_rows(tmp_path / "ref", "akill")

    root, points = tmp_path / "killed", kill_points(random.Random(SEED))
    assert {r for r, _, _ in points} == {0, 1}
    for i, (rank, step, delay) in enumerate(points):
        proc, marks = launch(tmp_path, root, pairs, f"kill{i}")
        pid = kill_at(proc, marks, rank, step, delay)
        rc = wait(proc, tmp_path, f"kill{i}")
        assert pid is not None, f"the run ended (rc {rc}) before rank {rank} could be killed after step {step}"
        faults.kill_point("accelerate-rank")
        assert rc != 0, f"the launcher exited 0 after rank {rank} was killed"
        assert_no_rank_left(rank_pids(marks))
        assert_checkpoints_complete(root, "akill")

    proc, _ = launch(tmp_path, root, pairs, "rerun")
    assert wait(proc, tmp_path, "rerun") == 0, (tmp_path / "rerun.err").read_text()[-3000:]
    got = result(tmp_path, "rerun")
    assert max_weight_diff(got["ckpt"], ref["ckpt"]) == 0.0
    assert without_timing(got["metrics"]) == without_timing(ref["metrics"])
    rows = store_rows(root, "akill")
    faults.rows_lost(sum(len(set(ref_rows[t]) - set(rows.get(t, []))) for t in ref_rows))
    assert rows == ref_rows
