"""The agentic recipe's loss is SkyRL's, computed by hand from its released code (commit e8fc363):

- `workers/worker.py` `_forward_backward_micro`: per micro-batch, policy_loss = ppo_policy_loss(...) with
  `reduce_loss("token_mean")` = masked_mean over the micro-batch, plus kl_loss_coef times
  `masked_mean(compute_approx_kl(...), mask, dim=-1).mean()` (a per-sequence KL); backward per micro-batch;
  `optim_step` scales the summed gradients by 1 / (number of micro-batches). The scripts use
  micro_train_batch_size_per_gpu=1, so each micro-batch is one sequence.
- `utils/ppo_utils.py`: the ratio is `safe_exp_delta(log_probs - old_log_probs, clip=20)`; the dual-clip
  loss is where(A < 0, min(-A * clip_ratio_c, loss), loss); the k3 KL clamps the log-ratio at +-20 and
  the estimate at +-10.

ctxbench's `aggregate(..., "seq-mean-token-mean")` over any micro-batching must equal that exactly, value
and gradient; the global token mean the recipe used before must not (it weighs long trajectories more).
"""

from __future__ import annotations

import math

import pytest
import torch

from trainers.config import make_config
from trainers.losses import aggregate, aggregation_denominator, clipped_policy_loss, kl_k3

EPS_LOW, EPS_HIGH, DUAL, BETA = 0.2, 0.28, 10.0, 5e-4


def _batch(seed: int = 0, B: int = 6, T: int = 9):
    """Rows of very different lengths (the case where the two aggregations disagree)."""
    g = torch.Generator().manual_seed(seed)
    logp = (-torch.rand(B, T, generator=g) * 3).requires_grad_(True)
    old = logp.detach() + torch.randn(B, T, generator=g) * 0.3
    ref = logp.detach() + torch.randn(B, T, generator=g) * 0.5
    adv = torch.randn(B, generator=g)
    lengths = [1, 9, 3, 7, 2, 5][:B]
    mask = (torch.arange(T)[None] < torch.tensor(lengths)[:, None]).float()
    return logp, old, ref, adv, mask


def _skyrl_masked_mean(x, mask, dim=None):  # skyrl_train.utils.torch_utils.masked_mean
    return (x * mask).sum(dim=dim) / mask.sum(dim=dim).clamp(min=1.0)


def _skyrl_ppo_token_loss(logp, old, adv):  # ppo_policy_loss before reduce_loss, policy_loss_type dual_clip
    ratio = torch.exp((logp - old).float().clamp(-20.0, 20.0))
    a = adv[:, None]
    surr1, surr2 = ratio * a, ratio.clamp(1 - EPS_LOW, 1 + EPS_HIGH) * a
    loss = -torch.min(surr1, surr2)
    return torch.where(a < 0, torch.min(-a * DUAL, loss), loss)


def _skyrl_k3(logp, ref):  # compute_approx_kl(kl_estimator_type="k3")
    kl = torch.clamp(ref - logp, min=-20, max=20)
    return torch.clamp(torch.exp(kl) - kl - 1, min=-10, max=10)


def _skyrl_mini_batch_loss(logp, old, ref, adv, mask):
    """One optimizer step of SkyRL with micro-batches of one sequence: sum of per-micro losses / n_micro
    (what the gradient equals after optim_step's 1/n scaling)."""
    n_micro = logp.shape[0]
    total = 0.0
    for i in range(n_micro):
        sl = slice(i, i + 1)
        policy_loss = _skyrl_masked_mean(_skyrl_ppo_token_loss(logp[sl], old[sl], adv[sl]), mask[sl])
        kl_loss = _skyrl_masked_mean(_skyrl_k3(logp[sl], ref[sl]) * mask[sl], mask[sl], dim=-1).mean()
        total = total + policy_loss + BETA * kl_loss
    return total / n_micro


def _ctxbench_mini_batch_loss(logp, old, ref, adv, mask, agg, micro):
    """The trainer's arithmetic (grpo.Trainer.train_step): per-token surrogate + beta * k3, aggregated per
    micro-batch with the mini-batch's global denominator, summed."""
    denom = aggregation_denominator(mask, agg)
    total = 0.0
    for rows in torch.arange(logp.shape[0]).split(micro):
        tok, _ = clipped_policy_loss(logp[rows], old[rows], adv[rows], EPS_LOW, EPS_HIGH, DUAL,
                                     log_ratio_clamp=20.0)
        tok = tok + BETA * kl_k3(logp[rows], ref[rows], clamp=10.0, log_ratio_clamp=20.0)
        total = total + aggregate(tok, mask[rows], agg, denom)
    return total


@pytest.mark.parametrize("micro", [1, 2, 6])
def test_seq_mean_token_mean_is_skyrls_micro_batch_one_loss_value_and_gradient(micro):
    logp, old, ref, adv, mask = _batch()
    want = _skyrl_mini_batch_loss(logp, old, ref, adv, mask)
    (g_want,) = torch.autograd.grad(want, logp)
    got = _ctxbench_mini_batch_loss(logp, old, ref, adv, mask, "seq-mean-token-mean", micro)
    (g_got,) = torch.autograd.grad(got, logp)
    assert float(got.detach()) == pytest.approx(float(want.detach()), rel=1e-6, abs=1e-9)
    assert torch.allclose(g_got, g_want, rtol=1e-5, atol=1e-9)
    # the global token mean is a different loss on rows of different lengths
    tm = _ctxbench_mini_batch_loss(logp, old, ref, adv, mask, "token-mean", micro)
    (g_tm,) = torch.autograd.grad(tm, logp)
    assert not torch.allclose(g_tm, g_want, rtol=1e-3)


def test_a_hand_computed_two_sequence_case():
    """Two sequences, lengths 1 and 3, on-policy (ratio 1), no KL: SkyRL's loss is the mean of the two
    per-sequence token means, -(A0 + A1) / 2, whatever the lengths; the token mean is -(A0 + 3 A1) / 4."""
    logp = torch.zeros(2, 3)
    mask = torch.tensor([[1.0, 0, 0], [1, 1, 1]])
    adv = torch.tensor([1.0, -0.5])
    tok, _ = clipped_policy_loss(logp, logp.detach(), adv, EPS_LOW, EPS_HIGH, DUAL)
    assert float(aggregate(tok, mask, "seq-mean-token-mean")) == pytest.approx(-(1.0 - 0.5) / 2)
    assert float(aggregate(tok, mask, "token-mean")) == pytest.approx(-(1.0 - 1.5) / 4)


def test_the_log_ratio_and_kl_clamps_are_skyrls():
    d = torch.tensor([[-30.0, -21.0, -5.0, 0.0, 3.0, 19.0, 25.0]])
    logp = torch.zeros_like(d, requires_grad=True)
    ref = logp.detach() + d
    assert torch.equal(kl_k3(logp, ref, clamp=10.0, log_ratio_clamp=20.0), _skyrl_k3(logp, ref))
    # the log-ratio clamp alone: exp(20) - 21 where the unclamped estimate would be exp(25) - 26
    only = kl_k3(logp, ref, log_ratio_clamp=20.0)
    assert float(only[0, -1]) == pytest.approx(math.exp(20) - 21, rel=1e-6)
    assert float(kl_k3(logp, ref)[0, -1]) == pytest.approx(math.exp(25) - 26, rel=1e-6)
    # beyond the bound the KL has no gradient; inside it is the plain k3 gradient 1 - exp(d)
    (g,) = torch.autograd.grad(only.sum(), logp)
    assert g[0, 0] == 0 and g[0, -1] == 0 and float(g[0, 2]) == pytest.approx(1 - math.exp(-5.0), rel=1e-6)
    # the PPO ratio: SkyRL's safe_exp_delta(clip=20) and its dual clip
    old = torch.zeros_like(d)
    adv = torch.tensor([-1.0])
    lp = torch.tensor([[-30.0, -21.0, -5.0, 0.0, 3.0, 19.0, 25.0]])
    got, _ = clipped_policy_loss(lp, old, adv, EPS_LOW, EPS_HIGH, DUAL, log_ratio_clamp=20.0)
    assert torch.allclose(got, _skyrl_ppo_token_loss(lp, old, adv))


def test_the_paper_recipes_choose_these_and_the_tiny_recipe_does_not():
    agentic = [make_config({"recipe": r}).loss for r in ("paper-agentic", "paper-agentic-klear")]
    want = ("seq-mean-token-mean", 5e-4, 10.0, 20.0)
    assert all((lc.agg, lc.kl_coef, lc.kl_clamp, lc.log_ratio_clamp) == want for lc in agentic)
    mm = [make_config({"recipe": r}).loss for r in ("paper-multimodal", "paper-multimodal-qwen3vl")]
    assert all((lc.agg, lc.kl_coef, lc.kl_clamp, lc.log_ratio_clamp) == ("token-mean", 1e-2, 10.0, 20.0)
               for lc in mm)
    tiny = make_config({"recipe": "tiny"}).loss
    assert (tiny.agg, tiny.kl_clamp, tiny.log_ratio_clamp) == ("token-mean", 0.0, 0.0)  # unchanged default


def test_the_trainer_gives_the_same_step_whatever_its_micro_batch(tmp_path):
    """The shared loop wires the seq-mean denominators through: micro-batches of 16 rows or of 1 row
    (SkyRL's) give the same weights. Adam's eps is raised so the update is ~linear in the gradient."""
    from toy import BENCHES, base_cfg, max_weight_diff, toy_pairs

    from ctxbench.pairs import save_pairs
    from trainers import train

    pairs = save_pairs(tmp_path / "pairs.jsonl", toy_pairs(16))
    runs = [train(base_cfg(pairs, micro_batch_size=micro, max_steps=2, run_name=f"smtm-{micro}",
                           loss={"agg": "seq-mean-token-mean", "kl_coef": 0.05, "log_ratio_clamp": 20.0},
                           optim={"lr": 1e-2, "eps": 1e-2}), tmp_path, benchmarks=BENCHES) for micro in (16, 1)]
    assert max_weight_diff(runs[0].ckpt_dir, runs[1].ckpt_dir) < 1e-6
    assert runs[0].metrics[-1]["pg_loss"] == pytest.approx(runs[1].metrics[-1]["pg_loss"], abs=1e-6)
