"""Shared-prefix log-probs equal a plain full forward; the decode loop stops at EOS and is seeded."""

from __future__ import annotations

import pytest
import torch

from trainers.modeling import completion_logprobs, left_pad, letter_token_ids, load_policy, pad_id
from trainers.rollout import sample


@pytest.fixture(scope="module")
def policy(tiny_ckpt):
    return load_policy(tiny_ckpt)


def _full_forward_logprobs(model, prompts, group, comp):
    """Reference: each row's prompt + completion as one left-padded sequence, all logits."""
    seqs = [prompts[g] + comp[r].tolist() for r, g in enumerate(group.tolist())]
    ids, mask = left_pad(seqs, 0)
    pos = (mask.cumsum(1) - 1).clamp(min=0)
    logits = model(input_ids=ids, attention_mask=mask, position_ids=pos).logits
    T = comp.shape[1]
    lp = torch.log_softmax(logits[:, -T - 1:-1].float(), -1)
    return lp.gather(-1, comp[..., None])[..., 0]


def test_shared_prefix_logprobs_and_grads_match_full_forward(policy):
    model, tok = policy
    g = torch.Generator().manual_seed(0)
    prompts = [torch.randint(5, 8000, (n,), generator=g).tolist() for n in (7, 12, 3)]
    group = torch.tensor([0, 0, 1, 2, 2, 1])
    comp = torch.randint(5, 8000, (6, 5), generator=g)
    pids, pmask = left_pad(prompts, 0)

    model.zero_grad()
    lp, ent = completion_logprobs(model, pids, pmask, group, comp, with_entropy=True)
    lp.sum().backward()
    g_shared = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    ref = _full_forward_logprobs(model, prompts, group, comp)
    ref.sum().backward()
    g_full = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    assert torch.allclose(lp, ref, atol=2e-5), (lp - ref).abs().max()
    for a, b in zip(g_shared, g_full):
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)
    assert ent.shape == (6, 5) and (ent > 0).all()
    # a subset of rows (a micro-batch) gives the same numbers as the full batch
    sub, _ = completion_logprobs(model, pids, pmask, group[[3, 1]], comp[[3, 1]])
    assert torch.allclose(sub, lp[[3, 1]].detach(), atol=1e-5)


def test_sample_is_seeded_groups_contiguous_and_stops_at_eos(policy):
    model, tok = policy
    pids, pmask = left_pad([[11, 12, 13], [21, 22]], pad_id(tok))
    kw = dict(eos_id=tok.eos_token_id, pad_id=pad_id(tok), temperature=1.0)
    a_ids, a_mask = sample(model, pids, pmask, 3, 6, generator=torch.Generator().manual_seed(5), **kw)
    b_ids, b_mask = sample(model, pids, pmask, 3, 6, generator=torch.Generator().manual_seed(5), **kw)
    assert torch.equal(a_ids, b_ids) and torch.equal(a_mask, b_mask)
    assert a_ids.shape == (6, 6)
    # force EOS: a huge EOS logit bias through the model's own head makes every row stop at once
    with torch.no_grad():
        bias = torch.zeros(model.config.vocab_size)
        bias[tok.eos_token_id] = 1e4
        model.lm_head.bias = torch.nn.Parameter(bias)
        try:
            ids, mask = sample(model, pids, pmask, 2, 6, generator=torch.Generator().manual_seed(1), **kw)
        finally:
            model.lm_head.bias = None
    assert ids.shape == (4, 1) and mask.tolist() == [[1.0]] * 4 and (ids == tok.eos_token_id).all()


def test_letter_tokens(policy):
    _, tok = policy
    for L in "AB":
        ids = letter_token_ids(tok, L)
        assert ids and all(len(tok.decode([i]).strip()) == 1 for i in ids)
