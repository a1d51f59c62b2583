"""Resume equals an uninterrupted run, for every objective; damaged checkpoints are refused or skipped.

Runs are 4 steps with 2 steps per epoch, so the mid-run checkpoint at step 2 sits exactly on an epoch
boundary (verl #7401: resuming there must run the remaining epoch, not stop). KL (a reference model)
and two policy mini-batches per step (old log-probs, two pair draws) are on, so every piece of state
the loop keeps is exercised.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from toy import BENCHES, base_cfg, max_weight_diff, toy_pairs

from ctxbench.pairs import save_pairs
from trainers import CheckpointError, train
from trainers.arms import arm_names

OBJECTIVES = arm_names()
OVER = {"loss": {"kl_coef": 0.05}, "ppo_mini_batches": 2, "save_every": 2}
TIMING = {"rollout_s", "step_s"}


@pytest.fixture(scope="module")
def pairs_path(tmp_path_factory):
    return save_pairs(tmp_path_factory.mktemp("pairs") / "pairs.jsonl", toy_pairs(12))


@pytest.fixture(scope="module")
def straight(tmp_path_factory, pairs_path):
    """Uninterrupted 4-step runs, one per objective."""
    root = tmp_path_factory.mktemp("straight")
    return {o: train(base_cfg(pairs_path, objective={"name": o}, **OVER), root, benchmarks=BENCHES) for o in OBJECTIVES}


def _same_history(a, b):
    assert [m["step"] for m in a] == [m["step"] for m in b]
    for x, y in zip(a, b):
        assert {k: v for k, v in x.items() if k not in TIMING} == {k: v for k, v in y.items() if k not in TIMING}


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_stop_at_epoch_boundary_then_resume_equals_straight(objective, tmp_path, pairs_path, straight):
    cfg = base_cfg(pairs_path, objective={"name": objective}, **OVER)
    first = train(cfg, tmp_path, benchmarks=BENCHES, stop_at=2)
    assert first.final_step == 2 and first.ckpt_dir.name == "step-0000002"
    second = train(cfg, tmp_path, resume="auto", benchmarks=BENCHES)
    assert second.resumed_from == first.ckpt_dir and second.final_step == 4
    assert max_weight_diff(second.ckpt_dir, straight[objective].ckpt_dir) <= 1e-6
    _same_history(second.metrics, straight[objective].metrics)
    assert second.metrics[-1]["task_epoch"] == 1.0  # steps 3-4 were the second epoch
    # resuming a finished run trains nothing and returns the final checkpoint
    third = train(cfg, tmp_path, resume="auto", benchmarks=BENCHES)
    assert third.final_step == 4 and third.ckpt_dir == second.ckpt_dir


KILL_SCRIPT = """
import os, signal, sys
sys.path[:0] = [{tests!r}, {repo!r}]
from toy import BENCHES, base_cfg
from trainers import train
cfg = base_cfg({pairs!r}, objective={{"name": "contextrl"}}, **{over!r})
def die(step, path):
    if step == 2:
        os.kill(os.getpid(), signal.SIGKILL)
train(cfg, {root!r}, benchmarks=BENCHES, on_checkpoint=die)
"""


def test_sigkill_then_resume_auto_equals_straight(tmp_path, pairs_path, straight):
    here = Path(__file__).resolve().parent
    script = KILL_SCRIPT.format(tests=str(here), repo=str(here.parents[1]), pairs=str(pairs_path), over=OVER,
                                root=str(tmp_path))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", script], check=False, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    # a half-written checkpoint left by a kill during a save is never mistaken for one
    ckroot = next((tmp_path / "train").iterdir()) / "checkpoints"
    (ckroot / ".step-0000004.tmp-99999").mkdir()
    (ckroot / ".step-0000004.tmp-99999" / "model.safetensors").write_bytes(b"partial")
    cfg = base_cfg(pairs_path, objective={"name": "contextrl"}, **OVER)
    res = train(cfg, tmp_path, resume="auto", benchmarks=BENCHES)
    seen = sorted(p.relative_to(tmp_path).as_posix() for p in (tmp_path / "train").glob("*/checkpoints/*"))
    assert res.resumed_from is not None, f"resumed run {res.run_id} found no checkpoint; on disk: {seen}"
    assert res.resumed_from.name == "step-0000002"
    assert max_weight_diff(res.ckpt_dir, straight["contextrl"].ckpt_dir) <= 1e-6
    assert not (ckroot / ".step-0000004.tmp-99999").exists()


# ------------------------------------------------------------------------------- damaged checkpoints


def _three_checkpoints(tmp_path, pairs_path, **over):
    cfg = base_cfg(pairs_path, objective={"name": "grpo"}, max_steps=3, save_every=1, keep_last=3,
                   run_name="dmg", **over)
    train(cfg, tmp_path, benchmarks=BENCHES)
    return cfg, tmp_path / "train" / "dmg" / "checkpoints"


def _damage(kind: str, folder: Path) -> None:
    if kind == "truncated-weights":
        p = folder / "model.safetensors"
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    elif kind == "missing-optimizer":
        (folder / "trainer_state.pt").unlink()
    elif kind == "hash-mismatch":  # same size, different bytes
        p = folder / "meta.json"
        b = bytearray(p.read_bytes())
        b[-2] = ord(" ") if b[-2] != ord(" ") else ord("\n")
        p.write_bytes(bytes(b))
    elif kind == "no-manifest":
        (folder / "MANIFEST.json").unlink()
    elif kind == "garbage-manifest":
        (folder / "MANIFEST.json").write_text("{not json")


@pytest.mark.parametrize("kind", ["truncated-weights", "missing-optimizer", "hash-mismatch", "no-manifest",
                                  "garbage-manifest"])
def test_damaged_latest_falls_back_with_warning(kind, tmp_path, pairs_path):
    cfg, ckroot = _three_checkpoints(tmp_path, pairs_path)
    good = ckroot / "step-0000003"
    reference = tmp_path / "reference.safetensors"
    reference.write_bytes((good / "model.safetensors").read_bytes())
    _damage(kind, good)
    with pytest.warns(UserWarning, match="skipping damaged checkpoint"):
        res = train(cfg, tmp_path, resume="auto", benchmarks=BENCHES)
    assert res.resumed_from.name == "step-0000002" and res.final_step == 3
    # redoing step 3 from step 2 reproduces the lost checkpoint exactly
    assert (res.ckpt_dir / "model.safetensors").read_bytes() == reference.read_bytes()


def test_all_damaged_or_explicit_damaged_is_an_error(tmp_path, pairs_path):
    cfg, ckroot = _three_checkpoints(tmp_path, pairs_path)
    _damage("truncated-weights", ckroot / "step-0000003")
    with pytest.raises(CheckpointError, match="does not match|bytes"):
        train(cfg, tmp_path, resume=ckroot / "step-0000003", benchmarks=BENCHES)
    for d in ("step-0000001", "step-0000002"):
        _damage("missing-optimizer", ckroot / d)
    with pytest.warns(UserWarning), pytest.raises(CheckpointError, match="Refusing to start over silently"):
        train(cfg, tmp_path, resume="auto", benchmarks=BENCHES)


def test_changed_config_objective_or_data_is_refused(tmp_path, pairs_path):
    _cfg, ckroot = _three_checkpoints(tmp_path, pairs_path)
    # a longer run with the same name: resume is attempted and must be refused, naming what changed
    with pytest.raises(CheckpointError, match="training config"):
        train(base_cfg(pairs_path, objective={"name": "grpo"}, max_steps=3, save_every=1, keep_last=3,
                       run_name="dmg", optim={"lr": 5e-4}), tmp_path, benchmarks=BENCHES)
    with pytest.raises(CheckpointError, match="objective"):
        train(base_cfg(pairs_path, objective={"name": "contextrl"}, max_steps=3, save_every=1, keep_last=3,
                       run_name="dmg"), tmp_path, benchmarks=BENCHES)
    other = save_pairs(tmp_path / "other.jsonl", toy_pairs(12, seed=9))
    with pytest.raises(CheckpointError, match="training data"):
        train(base_cfg(other, objective={"name": "grpo"}, max_steps=3, save_every=1, keep_last=3, run_name="dmg"),
              tmp_path, benchmarks=BENCHES)
    # operational fields may change; the checkpoints are untouched by the refusals
    ok = train(base_cfg(pairs_path, objective={"name": "grpo"}, max_steps=3, save_every=2, keep_last=2,
                        run_name="dmg"), tmp_path, benchmarks=BENCHES)
    assert ok.resumed_from.name == "step-0000003"
    meta = json.loads((ckroot / "step-0000003" / "meta.json").read_text())
    assert meta["config"]["optim"]["lr"] == 1e-3
