"""`ctxbench train --engine trl` writes what the compact engine writes, and refuses what it cannot do.

End to end through the CLI (tiny preset on 8 `niah` items, a one-step warm-up, contextrl with a small
pairs file, 2 prompts x 2 rollouts, 2 steps): a checkpoint in the compact layout (MANIFEST verified,
meta.json with the run's fingerprints and `engine = "trl"`), its rows ingested into the store (run,
checkpoint, per-step metrics under the compact metric names), and the eval harness scores the
checkpoint as `hf:PATH` with the same checkpoint identity the store recorded. Then the refusals: a
setting TRL cannot express, a --trl field that would change the maths, --stop-after, --resume PATH; a
finished run re-run trains nothing, and a partly trained one resumes to the same checkpoint identity
(tests/trainers/trl/test_trl_resume.py holds the resume to the straight run's weights and metrics).
"""

from __future__ import annotations

import json
import shutil

import pytest
from cli_fixture import cli, db_rows

from ctxbench.pairs import save_pairs
from ctxbench.pairs.base import Pair

TINY = """
recipe = "tiny"
prompts_per_step = 2
pair_batch_size = 2
micro_batch_size = 8
threads = 1
max_steps = 2
save_every = 1
[objective]
name = "contextrl"
[data]
tasks = ["niah"]
max_items_per_task = 8
[rollout]
group_size = 2
max_new_tokens = 6
max_prompt_tokens = 1024
[warmup]
epochs = 1
batch_size = 8
max_items = 8
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("trl-engine")
    (d / "tiny.toml").write_text(TINY)
    pairs = [Pair(pair_id=f"p{i}", domain="toy", split="train", source=f"p{i}", query="what is x?",
                  answer=str(i % 10), ctx_pos=f"x = {i % 10}.", ctx_neg=f"x = {(i + 3) % 10}.",
                  meta={"neg_answer": str((i + 3) % 10)}) for i in range(8)]
    save_pairs(d / "pairs.jsonl", pairs)
    return d


def train(env, *extra):
    return cli("--root", str(env / "runs"), "train", "--config", str(env / "tiny.toml"), "--pairs",
               str(env / "pairs.jsonl"), "--engine", "trl", "--quiet", *extra)


@pytest.fixture(scope="module")
def trained(env):
    rc, out, err = train(env)
    assert rc == 0, err[-3000:]
    return next(ln.split(": ", 1)[1] for ln in out.splitlines() if ln.startswith("checkpoint: ")), out


def test_trl_run_writes_the_compact_layout_and_rows(env, trained):
    from pathlib import Path

    from ctxbench.models.presets.registry import checkpoint_identity
    from trainers.checkpoint import META, STATE, verify_checkpoint

    ckpt, out = trained
    ckpt = Path(ckpt)
    assert ckpt.name == "step-0000002" and ckpt.parent.parent.name.endswith("-trl")
    verify_checkpoint(ckpt, required=(STATE, META))
    meta = json.loads((ckpt / META).read_text())
    assert meta["engine"] == "trl" and meta["step"] == 2 and meta["config"]["objective"]["name"] == "contextrl"
    assert {"config_fingerprint", "objective_fingerprint", "data_fingerprint", "init_identity"} <= meta.keys()
    assert "objective contextrl" in out and "step 2/2" in out
    root = env / "runs"
    run_id = ckpt.parent.parent.name
    assert db_rows(root, "SELECT arm, status FROM runs WHERE run_id = ?", [run_id]) == [("contextrl", "complete")]
    ckpts = db_rows(root, "SELECT step, ckpt_id FROM checkpoints WHERE run_id = ? ORDER BY step", [run_id])
    assert [s for s, _ in ckpts] == [1, 2] and ckpts[-1][1] == checkpoint_identity(ckpt)
    names = {n for (n,) in db_rows(root, "SELECT DISTINCT name FROM train_metrics WHERE run_id = ?", [run_id])}
    assert {"reward_mean", "pg_loss", "aux_loss", "ca_select_acc", "grad_norm", "lr", "task_batch_hash"} <= names


def test_the_eval_harness_scores_a_trl_checkpoint(env, trained):
    from ctxbench.eval.config import EvalConfig
    from ctxbench.eval.harness import run_eval

    ckpt, _ = trained
    root = env / "runs"
    rep = run_eval(EvalConfig(model=f"hf:{ckpt}", benchmarks=("niah",), limit=2, max_new_tokens=4), root,
                   progress=False)
    stored = db_rows(root, "SELECT ckpt_id FROM checkpoints WHERE path = ?", [ckpt])
    assert stored == [(rep.ckpt_id,)]
    assert db_rows(root, "SELECT count(*) FROM samples WHERE run_id = ?", [rep.run_id]) == [(2,)]


def test_a_finished_run_trains_nothing_and_a_partial_one_resumes_exactly(env, trained):
    from pathlib import Path

    from ctxbench.models.presets.registry import checkpoint_identity

    rc, out, err = train(env)
    assert rc == 0 and "already complete, nothing trained" in out, err[-2000:]
    ckpt = Path(trained[0])
    straight = checkpoint_identity(ckpt)
    shutil.copytree(ckpt.parent, env / "backup")
    shutil.rmtree(ckpt)  # as if the run had been killed after step 1
    rc, out, err = train(env)
    assert rc == 0 and "resumed from step-0000001" in out and "step 2/2" in out, err[-2000:]
    assert checkpoint_identity(ckpt) == straight  # the same weight bytes as the uninterrupted run
    rc, _, err = train(env, "--resume", str(ckpt.parent / "step-0000001"))
    assert rc == 2 and "cannot start from a checkpoint folder" in err
    shutil.rmtree(ckpt.parent)
    shutil.copytree(env / "backup", ckpt.parent)


@pytest.mark.parametrize("extra, message", [
    (("--set", "rollout.temperature=0.7"), "rollout.temperature = 0.7: TRL scores completions"),
    (("--set", "loss.kl_clamp=10.0"), "loss.kl_clamp = 10.0"),
    (("--set", "loss.clip_ratio_c=1.1"), "loss.clip_ratio_c = 1.1"),
    (("--set", "loss.log_ratio_clamp=20.0"), "loss.log_ratio_clamp = 20.0"),
    (("--trl", "loss_type=grpo"), "--trl loss_type: set from the training config"),
    (("--trl", "use_vlm=true"), "did you mean 'use_vllm'"),
    (("--stop-after", "1"), "--stop-after needs --engine compact"),
])
def test_one_line_refusals(env, extra, message):
    rc, _, err = train(env, "--run-name", "refused", *extra)
    assert rc == 2 and message in err, err[-2000:]
    assert len([ln for ln in err.splitlines() if ln.startswith("ctxbench: error")]) <= 1


def test_geometry_splits_rows_over_processes_and_micro_batches():
    from ctxbench.core.errors import ConfigError
    from trainers.config import make_config
    from trainers.trl.config import geometry

    cfg = make_config({"micro_batch_size": 8, "ppo_mini_batches": 2, "prompts_per_step": 8})
    g = geometry(cfg, rows=64, processes=2)  # 32 rows per process, at most 8 per forward
    assert (g.per_device, g.grad_accum, g.steps_per_generation) == (8, 4, 8)
    assert geometry(cfg, rows=64, processes=1).grad_accum == 8
    with pytest.raises(ConfigError, match="do not split over 3 processes"):
        geometry(cfg, rows=64, processes=3)


def test_the_mapping_to_grpo_config():
    from trainers.config import make_config
    from trainers.trl.config import geometry, grpo_kwargs

    cfg = make_config({"loss": {"kl_coef": 5e-4, "eps_low": 0.2, "eps_high": 0.28, "clip_ratio_c": 10.0,
                                "agg": "token-mean"}, "rollout": {"group_size": 8, "max_new_tokens": 4096},
                       "prompts_per_step": 16, "ppo_mini_batches": 2, "micro_batch_size": 1, "max_steps": 3})
    g = geometry(cfg, rows=64, processes=8)
    kw = grpo_kwargs(cfg, g, 6, "out", {"use_vllm": True})
    assert (kw["epsilon"], kw["epsilon_high"], kw["delta"], kw["beta"]) == (0.2, 0.28, 10.0, 5e-4)
    assert kw["loss_type"] == "dapo" and kw["num_generations"] == 8 and kw["max_completion_length"] == 4096
    assert kw["steps_per_generation"] == 2 * g.grad_accum and kw["max_steps"] == 6 and kw["use_vllm"] is True
    assert grpo_kwargs(make_config({"loss": {"agg": "seq-mean-token-sum", "clip_ratio_c": 0.0}}), g, 1,
                       "out")["loss_type"] == "luspo"
