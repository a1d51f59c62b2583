"""Invariants of the shared loop: the arms differ only by objective.

- every arm draws the same task batches in the same order for a seed;
- ContextRL with λ = 0 gives bit-identical weights to GRPO (the aux forward/backward and the pair
  stream perturb nothing);
- gradient accumulation: 1 micro-batch of 16 rows equals 16 micro-batches of 1 (within float noise,
  with no one-sided drift).
"""

from __future__ import annotations

import pytest
from toy import BENCHES, base_cfg, max_weight_diff, toy_pairs, weights

from ctxbench.pairs import save_pairs
from trainers import train


@pytest.fixture(scope="module")
def pairs_path(tmp_path_factory):
    return save_pairs(tmp_path_factory.mktemp("pairs") / "pairs.jsonl", toy_pairs(24))


def test_arms_same_batches_and_lambda0_equals_grpo(tmp_path, pairs_path):
    arms = {
        "grpo": {"name": "grpo"},
        "ctx0": {"name": "contextrl", "ca_coef": 0.0},
        "ctx": {"name": "contextrl", "ca_coef": 0.5},
        "da-rl": {"name": "da-rl"},
        "da-sft": {"name": "da-sft"},
    }
    res = {k: train(base_cfg(pairs_path, objective=o, max_steps=3), tmp_path, benchmarks=BENCHES)
           for k, o in arms.items()}
    hashes = {k: [m["task_batch_hash"] for m in r.metrics] for k, r in res.items()}
    assert len({tuple(h) for h in hashes.values()}) == 1, hashes
    assert len(set(hashes["grpo"])) == 3  # and the batches do change from step to step

    w_grpo, w_ctx0 = weights(res["grpo"].ckpt_dir), weights(res["ctx0"].ckpt_dir)
    assert all((w_grpo[k] == w_ctx0[k]).all() for k in w_grpo), "contextrl(λ=0) must equal grpo bit for bit"
    assert [m["reward_mean"] for m in res["grpo"].metrics] == [m["reward_mean"] for m in res["ctx0"].metrics]
    # the arms that use the pairs do change the weights, and report what they did with them
    assert max_weight_diff(res["grpo"].ckpt_dir, res["ctx"].ckpt_dir) > 0
    assert all("ca_select_acc" in m and "ca_hard_frac" in m for m in res["ctx"].metrics)
    assert all("pair_reward_mean" in m for m in res["da-rl"].metrics)
    assert max_weight_diff(res["grpo"].ckpt_dir, res["da-sft"].ckpt_dir) > 0
    assert (res["da-sft"].run_dir / "checkpoints" / "step-0000000").exists()  # the SFT stage's output


def test_gradient_accumulation_matches_one_big_batch(tmp_path, pairs_path):
    # Adam's eps is raised so the update is ~linear in the gradient: with eps 1e-8, Adam maps the
    # float noise of near-zero gradients to +-lr steps, which says nothing about accumulation.
    runs = {}
    for micro in (16, 1):
        cfg = base_cfg(pairs_path, objective={"name": "contextrl"}, micro_batch_size=micro, max_steps=2,
                       run_name=f"gas-{micro}", loss={"kl_coef": 0.05}, optim={"lr": 1e-2, "eps": 1e-2})
        runs[micro] = train(cfg, tmp_path, benchmarks=BENCHES)
    a, b = runs[16], runs[1]
    assert max_weight_diff(a.ckpt_dir, b.ckpt_dir) < 1e-6
    for key in ("pg_loss", "grad_norm", "kl"):
        xs = [m[key] for m in a.metrics]
        ys = [m[key] for m in b.metrics]
        assert xs == pytest.approx(ys, rel=1e-4, abs=1e-6), key
    wa, wb = weights(a.ckpt_dir), weights(b.ckpt_dir)
    # zero-mean residual: a dropped or double-counted micro-batch would drift one way
    import torch

    resid = torch.cat([(wa[k] - wb[k]).flatten() for k in wa])
    assert abs(float(resid.mean())) < 1e-7
