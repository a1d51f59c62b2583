"""`accelerate launch --num_processes 2` (CPU, gloo) trains ContextRL to the same weights as one process.

Two optimizer steps of contextrl on the tiny preset (toy task, 4 prompts x 4 rollouts, 4 pairs per step):
once as two processes (each 8 rollouts and 2 pairs), once as one process with the same global batch.
What has to be right for the weights to agree: the advantages over the all-process batch, TRL's
token-mean normaliser over processes, the gradient all-reduce, and the ContextRL term split over
processes and weighted back to the full-batch mean. The rollouts are sampled from the policy one prompt
at a time with a per-(prompt, step) seed (trl_fixed.sampled_rollout_func), so both runs sample the same
completions; TRL's own generation would not (one RNG stream per process).

Why `--multi_gpu` on a CPU machine: `accelerate launch --cpu --num_processes 2` goes to accelerate's
simple launcher, which starts ONE process (an earlier version of this test compared one process with
itself); `--multi_gpu` starts two ranks through torchrun, and the engine's PartialState(cpu=True) makes
them one gloo group when there is no GPU. The test asserts the world size the run saw.

Tolerance 1e-6 on every weight: the two runs differ only in the order of float sums (the all-reduce).
Adam's eps is raised to 1e-2 as in tests/trainers/test_invariants.py, so float noise in near-zero
gradients is not amplified into +-lr steps.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from toy import max_weight_diff, toy_pairs

from ctxbench.pairs import save_pairs

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]

SCRIPT = """
import json, os, sys
sys.path[:0] = [{repo!r}, {trainers!r}, {here!r}]
import torch
torch.set_num_threads(1)
from toy import BENCHES, base_cfg
from trl_fixed import sampled_rollout_func
from trainers.trl.engine import train_trl

root, pairs = sys.argv[1], sys.argv[2]
cfg = base_cfg(pairs, objective={{"name": "contextrl", "ca_coef": 0.5}}, max_steps=2, run_name="dist",
               optim={{"lr": 1e-2, "eps": 1e-2}}, loss={{"kl_coef": 0.05}})
res = train_trl(cfg, root, "never", benchmarks=BENCHES, rollout_func=sampled_rollout_func(4))
if int(os.environ.get("RANK", "0")) == 0:  # every rank has the metrics; one reports
    world = torch.distributed.get_world_size() if torch.distributed.is_initialized() else 1
    print("RESULT " + json.dumps({{"ckpt": str(res.ckpt_dir), "metrics": res.metrics, "world": world}}))
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd, cwd) -> dict:
    import json

    env = {**os.environ, "OMP_NUM_THREADS": "1", "TRL_EXPERIMENTAL_SILENCE": "1", "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    out = subprocess.run(cmd, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=400)
    assert out.returncode == 0, out.stderr[-4000:]
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")]
    assert len(lines) == 1, out.stdout[-2000:]  # only the main process reports
    return json.loads(lines[0][len("RESULT "):])


@pytest.mark.slow
def test_two_processes_equal_one_process_with_the_same_global_batch(tmp_path):
    pairs = save_pairs(tmp_path / "pairs.jsonl", toy_pairs(16))
    script = tmp_path / "train_dist.py"
    script.write_text(SCRIPT.format(repo=str(REPO), trainers=str(HERE.parent), here=str(HERE)), encoding="utf-8")
    one = _run([sys.executable, str(script), str(tmp_path / "one"), str(pairs)], tmp_path)
    two = _run([sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
                "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
                "--main_process_port", str(_port()), str(script), str(tmp_path / "two"), str(pairs)], tmp_path)
    assert (one["world"], two["world"]) == (1, 2)  # two ranks really trained
    assert [m["step"] for m in two["metrics"]] == [1, 2]
    for a, b in zip(one["metrics"], two["metrics"]):
        assert a["task_batch_hash"] == b["task_batch_hash"]
        for key in ("reward_mean", "ca_select_acc"):
            assert a[key] == b[key], key
        for key in ("pg_loss", "aux_loss", "ca_loss", "kl", "grad_norm"):
            assert a[key] == pytest.approx(b[key], rel=1e-5, abs=1e-7), key
    from ctxbench.models.presets.tiny import ensure_tiny

    assert max_weight_diff(one["ckpt"], two["ckpt"]) < 1e-6
    assert max_weight_diff(one["ckpt"], ensure_tiny()) > 1e-3  # and training did move them
