"""run-ablation end to end on a micro spec: a real pair build, warm-up SFT, three arms x two seeds of
real training, scoring and statistics; then the promise users rely on most: kill it midway (SIGKILL,
no chance to clean up), re-run, and get the same statistics as a run that was never interrupted,
without redoing a finished job.

Slow (~2-4 min on 2 cores): the same jobs run three times over (reference, killed, resumed).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from ctxbench.ablation.runner import run_ablation
from ctxbench.ablation.spec import load_spec

pytestmark = pytest.mark.slow

MICRO = """
name = "micro"
model = "tiny"
arms = ["grpo", "contextrl", "da-rl"]
seeds = [0, 1]
baseline = "grpo"

[pairs]
domain = "trajectory"
tokenizer = "tiny"
humaneval_limit = 12
tau2_domains = ["airline"]
max_pairs = 60
mutants_per_problem = 4
inputs_per_problem = 1
max_prompt_tokens = 500

[train]
recipe = "tiny"
max_steps = 2
prompts_per_step = 2
pair_batch_size = 2
threads = 1
progress = false

[train.data]
tasks = ["trace-qa"]
pair_share = 0.15
max_items_per_task = 20

[train.rollout]
group_size = 2
max_new_tokens = 4
max_prompt_tokens = 384

[train.warmup]
enabled = true
epochs = 1
max_items = 16

[eval]
suite = ""
benchmarks = ["trace-qa"]
split = "test"
limit = 4
probe = true
probe_limit = 8
max_new_tokens = 4
"""


def _tables_json(tables: dict) -> str:
    """Statistics as comparable text (data frames and dataclasses rendered the same way each time)."""
    def plain(o):
        if hasattr(o, "to_dict"):
            return o.to_dict()
        if hasattr(o, "__dataclass_fields__"):
            return {k: plain(getattr(o, k)) for k in o.__dataclass_fields__}
        if isinstance(o, dict):
            return {str(k): plain(v) for k, v in o.items()}
        if isinstance(o, (list, tuple)):
            return [plain(v) for v in o]
        return o

    return json.dumps(plain(tables), sort_keys=True, default=str)


@pytest.fixture(scope="module")
def spec_path(tmp_path_factory):
    p = tmp_path_factory.mktemp("spec") / "micro.toml"
    p.write_text(MICRO)
    return p


def _printed_deltas_are_the_reports(res, spec, root):
    """The table run-ablation prints and the report's deltas table: same rows, deltas and Holm p-values
    (one family, all arms x benchmarks; the printed one used to correct per arm)."""
    import numpy as np
    import pandas as pd

    from ctxbench.report.analysis import analyze
    from ctxbench.report.data import load_ablation
    from ctxbench.store.read import connect_readonly

    con = connect_readonly(root)
    try:
        report = analyze(load_ablation(con, spec.name), n_boot=100, n_perm=200).deltas
    finally:
        con.close()
    printed = pd.concat(res.tables["deltas"].values(), ignore_index=True)
    key = ["arm_b", "benchmark"]
    a, b = printed.sort_values(key).reset_index(drop=True), report.sort_values(key).reset_index(drop=True)
    assert a[key].equals(b[key]) and "base" in set(a["arm_b"])
    for col in ("delta", "delta_lo", "delta_hi", "p_holm", "mde"):
        assert np.allclose(a[col].astype(float), b[col].astype(float), equal_nan=True), col


def test_kill_midway_then_rerun_gives_identical_statistics(spec_path, tmp_path):
    spec = load_spec(spec_path)
    ref = run_ablation(spec, tmp_path / "ref", progress=False, report=False)
    assert ref.tables["samples"] > 0 and "attribution" in ref.tables and ref.tables["deltas"]
    _printed_deltas_are_the_reports(ref, spec, tmp_path / "ref")
    n_jobs = len(ref.ran)

    # Kill a fresh run as soon as its second training job has finished (the pairs, warm-up, base
    # scoring and one arm are done; the rest is not).
    root = tmp_path / "killed"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "ctxbench.cli", "--root", str(root), "run-ablation",
                             str(spec_path), "--no-report", "--quiet"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 600
    try:
        while time.time() < deadline and proc.poll() is None:
            if len(list((root / "jobs").glob("train-*.json"))) >= 2:
                break
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    finished = {p.stem for p in (root / "jobs").glob("*.json")}
    assert len(finished) < n_jobs

    res = run_ablation(spec, root, progress=False, report=False)
    assert set(res.skipped) == finished          # nothing finished is redone ...
    assert not set(res.ran) & finished
    assert len(res.ran) + len(res.skipped) == n_jobs
    assert _tables_json(res.tables) == _tables_json(ref.tables)  # ... and the statistics are identical

    again = run_ablation(spec, root, progress=False, report=False)  # a third run does nothing
    assert again.ran == [] and _tables_json(again.tables) == _tables_json(ref.tables)
