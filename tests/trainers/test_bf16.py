"""bf16 autocast over fp32 master weights (TrainConfig.precision = "bf16"), as both paper codebases train
(SkyRL: torch.autocast(bfloat16) over FSDP2 fp32 parameters; EasyR1: FSDP MixedPrecision bf16 over fp32
actor weights). On the CPU with the tiny preset, through every path that trains: the policy loss, the
context-selection loss, the rollout decode loop and SFT. Each bf16 result is compared with the fp32 one
from the same start: close (bf16 keeps ~3 significant digits), not identical (autocast really ran), and
the weights, gradients and optimizer state stay fp32.
"""

from __future__ import annotations

import math

import pytest
import torch
from safetensors.torch import load_file
from toy import BENCHES, ToyCopy, base_cfg, toy_pairs

from ctxbench.benchmarks.base import LoadContext
from ctxbench.pairs import save_pairs
from trainers import train
from trainers.config import make_config
from trainers.modeling import autocast, completion_logprobs, encode, left_pad, load_policy, pad_id, render
from trainers.objectives import ChoiceScorer
from trainers.rollout import sample
from trainers.sft import make_example, run_sft, sft_loss


@pytest.fixture(scope="module")
def pairs_path(tmp_path_factory):
    return save_pairs(tmp_path_factory.mktemp("pairs") / "pairs.jsonl", toy_pairs(16))


@pytest.fixture()
def policy(tiny_ckpt):
    torch.manual_seed(0)
    return load_policy(tiny_ckpt)


def _prompts(tok, n=4):
    items = ToyCopy().load(LoadContext())[:n]
    return [encode(tok, render(tok, it.prompt_text(), it.prefill)) for it in items]


def test_autocast_runs_the_forward_in_bf16_and_keeps_the_weights_fp32(policy):
    model, tok = policy
    ids, mask = left_pad(_prompts(tok), pad_id(tok))
    with autocast("bf16"):
        out = model(input_ids=ids, attention_mask=mask)
    assert out.logits.dtype == torch.bfloat16
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    with autocast("fp32"):
        assert model(input_ids=ids, attention_mask=mask).logits.dtype == torch.float32


def test_policy_logprobs_and_their_gradient_in_bf16_match_fp32(policy):
    model, tok = policy
    ids, mask = left_pad(_prompts(tok), pad_id(tok))
    comp = torch.randint(5, 200, (4, 6), generator=torch.Generator().manual_seed(1))
    grads, lps = {}, {}
    for prec in ("fp32", "bf16"):
        model.zero_grad(set_to_none=True)
        with autocast(prec):
            lp, _ = completion_logprobs(model, ids, mask, torch.arange(4), comp)
        assert lp.dtype == torch.float32  # log-softmax in fp32 (token_logprobs upcasts)
        lp.mean().backward()
        lps[prec] = lp.detach()
        grads[prec] = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
        assert grads[prec].dtype == torch.float32  # gradients land on the fp32 master weights
    assert not torch.equal(lps["bf16"], lps["fp32"])
    assert torch.allclose(lps["bf16"], lps["fp32"], atol=0.05)
    cos = torch.nn.functional.cosine_similarity(grads["bf16"], grads["fp32"], dim=0)
    assert float(cos) > 0.98


def test_ca_margins_in_bf16_match_fp32(policy, pairs_path):
    from ctxbench.pairs import load_pairs

    model, tok = policy
    draws = [(p, i % 2 == 0) for i, p in enumerate(load_pairs(pairs_path)[:8])]
    scorer = ChoiceScorer(tok)
    m32 = scorer.margins(model, draws, "fp32")
    m16 = scorer.margins(model, draws, "bf16")
    assert m16.dtype == torch.float32 and not torch.equal(m16, m32)
    assert torch.allclose(m16.detach(), m32.detach(), atol=0.02)  # margins here are ~0.5-0.7
    loss = -torch.nn.functional.logsigmoid(m16).mean()
    loss.backward()  # the CA loss backpropagates through the autocast forward
    assert all(p.grad is None or torch.isfinite(p.grad).all() for p in model.parameters())


def test_rollouts_decode_under_bf16(policy):
    model, tok = policy
    ids, mask = left_pad(_prompts(tok), pad_id(tok))
    with autocast("bf16"):
        out, omask, ent = sample(model, ids, mask, 2, 5, eos_id=tok.eos_token_id, pad_id=pad_id(tok),
                                 generator=torch.Generator().manual_seed(0), with_entropy=True)
    assert out.shape == (8, omask.shape[1]) and omask.shape[1] <= 5 and bool((omask[:, 0] == 1).all())
    assert int(out.max()) < model.config.vocab_size and torch.isfinite(ent).all()


def test_sft_in_bf16_lowers_the_loss_on_fp32_weights(policy):
    model, tok = policy
    items = ToyCopy().load(LoadContext())[:16]
    examples = [make_example(tok, it.prompt_text(), it.prefill, it.answer) for it in items]
    l32, l16 = (float(sft_loss(model, examples, pad_id(tok), prec).detach()) for prec in ("fp32", "bf16"))
    assert l16 != l32 and l16 == pytest.approx(l32, rel=0.02)
    metrics = run_sft(model, tok, examples, epochs=3, lr=1e-3, batch_size=8, seed=0, precision="bf16",
                      progress=False)
    assert all(math.isfinite(m["loss"]) for m in metrics) and metrics[-1]["loss"] < metrics[0]["loss"]
    assert {p.dtype for p in model.parameters()} == {torch.float32}


@pytest.mark.parametrize("arm", ["contextrl", "da-sft"])
def test_a_bf16_training_run_saves_fp32_weights_and_finite_metrics(pairs_path, tmp_path, arm):
    cfg = base_cfg(pairs_path, objective={"name": arm}, max_steps=2, precision="bf16", loss={"kl_coef": 0.05})
    res = train(cfg, tmp_path, benchmarks=BENCHES)
    assert {t.dtype for t in load_file(str(res.ckpt_dir / "model.safetensors")).values()} == {torch.float32}
    assert all(math.isfinite(v) for m in res.metrics for v in m.values())
    if arm == "contextrl":
        assert "ca_select_acc" in res.metrics[-1]


def test_both_paper_recipes_train_in_bf16_and_tiny_stays_fp32():
    for recipe in ("paper-agentic", "paper-agentic-klear", "paper-multimodal", "paper-multimodal-qwen3vl"):
        assert make_config({"recipe": recipe}).precision == "bf16"
    assert make_config({"recipe": "tiny"}).precision == "fp32"
