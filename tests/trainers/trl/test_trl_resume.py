"""`--engine trl` resumes a partly trained run exactly: stopped after rollout step k and resumed with "auto",
it ends with the uninterrupted run's weights (bit for bit: max difference 0.0), metric history and store rows.

ContextRL with KL on, two policy mini-batches per rollout step (so TRL's micro-step counter, the
mid-step optimizer steps and the checkpoint-at-a-boundary rule are all exercised), TRL's own
generation (sampled from the process's torch RNG, so the RNG state matters), 4 steps of the toy task,
a checkpoint after every step. A DA-SFT run stopped after its stage resumes from checkpoint 0. The
negative controls show the comparison can fail: a resume that does not restore the RNG, or the
optimizer state, ends with different weights (by ~5e-3 and ~7e-3 here).
"""

from __future__ import annotations

import pytest
from toy import BENCHES, base_cfg, max_weight_diff, toy_pairs

from ctxbench.pairs import save_pairs
from trainers import checkpoint as ck
from trainers.trl import resume as trl_resume

TIMING = {"step_s"}
OVER = {"objective": {"name": "contextrl", "ca_coef": 0.5}, "loss": {"kl_coef": 0.05}, "ppo_mini_batches": 2,
        "max_steps": 4, "save_every": 1, "keep_last": 2, "run_name": "res"}


@pytest.fixture(scope="module")
def pairs_path(tmp_path_factory):
    return save_pairs(tmp_path_factory.mktemp("pairs") / "pairs.jsonl", toy_pairs(16))


@pytest.fixture(scope="module")
def straight(tmp_path_factory, pairs_path):
    from trainers.trl.engine import train_trl

    root = tmp_path_factory.mktemp("straight")
    return root, train_trl(base_cfg(pairs_path, **OVER), root, "never", benchmarks=BENCHES)


def stop_after(pairs_path, root, k: int) -> None:
    """Train until rollout step k's checkpoint is written, then stop as a preemption would."""
    from transformers import TrainerCallback

    from ctxbench.core.errors import CtxbenchError
    from trainers.trl.engine import TRLEngine

    class Stop(TrainerCallback):
        def on_step_end(self, args, state, control, **kw):
            control.should_training_stop = state.global_step >= k * OVER["ppo_mini_batches"]

    engine = TRLEngine(base_cfg(pairs_path, **OVER), root, BENCHES)
    engine.setup("never")
    engine.trainer.add_callback(Stop())
    with pytest.raises(CtxbenchError, match=f"TRL stopped at step {k} of 4"):
        engine.run()


def resumed(pairs_path, root):
    from trainers.trl.engine import train_trl

    return train_trl(base_cfg(pairs_path, **OVER), root, "auto", benchmarks=BENCHES)


def without_timing(history):
    return [{k: v for k, v in m.items() if k not in TIMING} for m in history]


def stored_metrics(root, run_id):
    from cli_fixture import db_rows

    from ctxbench.store.ingest import ingest

    ingest(root, progress=False)
    rows = db_rows(root, "SELECT step, name, value FROM train_metrics WHERE run_id = ? ORDER BY step, name", [run_id])
    ckpts = db_rows(root, "SELECT step, ckpt_id FROM checkpoints WHERE run_id = ? ORDER BY step", [run_id])
    runs = db_rows(root, "SELECT status, ckpt_id FROM runs WHERE run_id = ?", [run_id])
    return [r for r in rows if r[1] not in TIMING], ckpts, runs


@pytest.mark.parametrize("k", [1, 3])
def test_stop_then_resume_auto_equals_straight(k, tmp_path, pairs_path, straight):
    ref_root, ref = straight
    stop_after(pairs_path, tmp_path, k)
    res = resumed(pairs_path, tmp_path)
    assert res.resumed_from.name == ck.step_dir_name(k) and res.final_step == 4
    assert max_weight_diff(res.ckpt_dir, ref.ckpt_dir) == 0.0
    assert without_timing(res.metrics) == without_timing(ref.metrics)
    assert {"kl", "aux_loss", "pg_loss", "lr", "grad_norm"} <= res.metrics[-1].keys()
    assert stored_metrics(tmp_path, res.run_id) == stored_metrics(ref_root, ref.run_id)  # rows: none lost, none twice
    again = resumed(pairs_path, tmp_path)  # a finished run trains nothing
    assert again.final_step == 4 and again.ckpt_dir == res.ckpt_dir


def test_a_run_stopped_after_its_da_sft_stage_resumes_from_step_0(tmp_path, pairs_path):
    """DA-SFT's output is checkpoint 0 (and the KL reference); a run killed before RL step 1 was saved
    starts RL from it without re-running the stage, and ends where the uninterrupted run did."""
    import shutil

    from toy import weights

    from trainers.trl.engine import train_trl

    cfg = base_cfg(pairs_path, **{**OVER, "objective": {"name": "da-sft", "sft_epochs": 1}, "max_steps": 2})
    first = train_trl(cfg, tmp_path, "never", benchmarks=BENCHES)
    want = weights(first.ckpt_dir)
    for step in (1, 2):
        shutil.rmtree(first.ckpt_dir.parent / ck.step_dir_name(step))
    res = train_trl(cfg, tmp_path, "auto", benchmarks=BENCHES)
    assert res.resumed_from.name == ck.step_dir_name(0) and res.final_step == 2
    assert without_timing(res.metrics) == without_timing(first.metrics)
    got = weights(res.ckpt_dir)
    assert max(float((got[k] - want[k]).abs().max()) for k in want) == 0.0


def _skip_rng(self, checkpoint):
    return None


def _skip_optimizer(self, checkpoint):
    self.lr_scheduler.load_state_dict(self.resume_state["scheduler"])


@pytest.mark.parametrize("broken", [_skip_rng, _skip_optimizer], ids=["rng-not-restored", "optimizer-not-restored"])
def test_a_resume_missing_a_piece_is_caught(broken, tmp_path, pairs_path, straight, monkeypatch):
    _, ref = straight
    stop_after(pairs_path, tmp_path, 2)
    hook = "_load_rng_state" if broken is _skip_rng else "_load_optimizer_and_scheduler"
    monkeypatch.setattr(trl_resume.ResumeHooks, hook, broken)
    res = resumed(pairs_path, tmp_path)
    assert max_weight_diff(res.ckpt_dir, ref.ckpt_dir) > 1e-4


def test_checkpoints_that_cannot_be_resumed_exactly_are_refused(tmp_path):
    (tmp_path / trl_resume.HF_STATE).write_text("{}")
    state = {"rng_per_rank": [{}, {}], "optimizer": {"state": {}}}
    assert trl_resume.check_resumable(state, {"step": 2}, 2, tmp_path) is state
    assert trl_resume.check_resumable({}, {"step": 0}, 1, tmp_path) is None  # the DA-SFT output: a start
    with pytest.raises(ck.CheckpointError, match=r"written by 2 process\(es\), this run has 1"):
        trl_resume.check_resumable(state, {"step": 2}, 1, tmp_path)
    with pytest.raises(ck.CheckpointError, match="FSDP / DeepSpeed ZeRO"):
        trl_resume.check_resumable({**state, "optimizer": None}, {"step": 2}, 2, tmp_path)
    with pytest.raises(ck.CheckpointError, match="no TRL trainer state"):
        trl_resume.check_resumable({"optimizer": {}}, {"step": 2}, 1, tmp_path)
