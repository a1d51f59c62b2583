"""Golden tests for trainers.losses against values computed by hand (comments show the arithmetic)."""

from __future__ import annotations

import math

import pytest
import torch

from trainers.losses import (
    aggregate,
    aggregation_denominator,
    clipped_policy_loss,
    context_selection_loss,
    group_advantages,
    kl_k3,
    masked_mean,
    token_entropy,
    token_logprobs,
)


def test_group_advantages_group_scale():
    r = torch.tensor([1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    adv = group_advantages(r, 4, "group", eps=0.0)
    # group 1: mean .5, unbiased std sqrt(4 * .25 / 3) = sqrt(1/3) -> +-.5 / .57735 = +-.866025
    s = 0.5 / math.sqrt(1 / 3)
    assert torch.allclose(adv, torch.tensor([s, -s, -s, s, 0, 0, 0, 0]), atol=1e-6)


def test_group_advantages_other_scales():
    r = torch.tensor([2.0, 0.0, 1.0, 1.0])
    assert torch.allclose(group_advantages(r, 2, "none"), torch.tensor([1.0, -1.0, 0.0, 0.0]))
    # batch std of [2,0,1,1]: mean 1, unbiased var (1+1+0+0)/3 -> std .816497
    b = group_advantages(r, 2, "batch", eps=0.0)
    assert torch.allclose(b, torch.tensor([1 / 0.816497, -1 / 0.816497, 0, 0]), atol=1e-5)
    with pytest.raises(ValueError):
        group_advantages(torch.ones(5), 2)


def test_clipped_policy_loss_cases():
    # (delta logp, advantage) -> expected loss, clipped?   eps 0.2 / 0.28, dual clip c = 10
    cases = [
        (math.log(1.5), 1.0, -1.28, 1.0),   # A>0, ratio 1.5: max(-1.5, -1.28) = -1.28, upper clip active
        (math.log(1.5), -1.0, 1.5, 0.0),    # A<0, ratio 1.5: max(1.5, 1.28) = 1.5, unclipped
        (math.log(20.0), -1.0, 10.0, 1.0),  # A<0, ratio 20: 20 capped by the dual clip at -A*c = 10
        (math.log(0.5), 1.0, -0.5, 0.0),    # A>0, ratio .5: max(-.5, -.8) = -.5
        (math.log(0.5), -1.0, 0.8, 1.0),    # A<0, ratio .5: max(.5, .8) = .8, lower clip active
        (0.0, 2.0, -2.0, 0.0),              # on-policy: ratio 1, loss -A
    ]
    d = torch.tensor([[c[0] for c in cases]])
    adv = torch.tensor([[c[1] for c in cases]])
    logp = d.clone().requires_grad_(True)
    loss, clipped = clipped_policy_loss(logp, torch.zeros_like(d), adv, 0.2, 0.28, 10.0)
    assert torch.allclose(loss, torch.tensor([[c[2] for c in cases]]), atol=1e-5)
    assert clipped.tolist() == [[c[3] for c in cases]]
    loss.sum().backward()
    g = logp.grad[0]
    # clipped tokens get no gradient; unclipped ones get -A * ratio
    assert g[0] == 0 and g[2] == 0 and g[4] == 0
    assert torch.allclose(g[[1, 3, 5]], torch.tensor([1.5, -0.5, -2.0]), atol=1e-5)


def test_clipped_policy_loss_without_dual_clip():
    loss, _ = clipped_policy_loss(torch.tensor([[math.log(20.0)]]), torch.zeros(1, 1), torch.tensor([-1.0]), 0.2, 0.28, None)
    assert loss.item() == pytest.approx(20.0)


def test_kl_k3_golden():
    # logp = log .5, ref = log .25: d = log .5; exp(d) - d - 1 = .5 + .693147 - 1 = .193147
    kl = kl_k3(torch.tensor([math.log(0.5), 0.0]), torch.tensor([math.log(0.25), 0.0]))
    assert kl[0].item() == pytest.approx(0.193147, abs=1e-6) and kl[1].item() == 0.0
    assert kl_k3(torch.tensor([0.0]), torch.tensor([20.0]), clamp=10.0).item() == 10.0


def test_aggregate_modes_and_micro_batch_sum():
    v = torch.tensor([[1.0, 2.0, 3.0], [4.0, 9.0, 9.0]])
    m = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    assert aggregate(v, m, "token-mean").item() == pytest.approx(2.5)          # (1+2+3+4)/4
    assert aggregate(v, m, "seq-mean-token-mean").item() == pytest.approx(3.0)  # (2 + 4) / 2
    assert aggregate(v, m, "seq-mean-token-sum").item() == pytest.approx(5.0)   # (6 + 4) / 2
    for mode in ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum"):
        d = aggregation_denominator(m, mode)
        parts = sum(aggregate(v[i:i + 1], m[i:i + 1], mode, d) for i in range(2))
        assert parts.item() == pytest.approx(aggregate(v, m, mode).item())


def test_token_logprobs_and_entropy_uniform():
    V = 8
    logits = torch.zeros(2, 3, V)
    lp = token_logprobs(logits, torch.zeros(2, 3, dtype=torch.long))
    assert torch.allclose(lp, torch.full((2, 3), -math.log(V)))
    assert torch.allclose(token_entropy(logits), torch.full((2, 3), math.log(V)))
    # a peaked distribution: logits [log 3, 0] -> p = [.75, .25]; H = -(.75 ln .75 + .25 ln .25) = .562335
    h = token_entropy(torch.tensor([[[math.log(3.0), 0.0]]]))
    assert h.item() == pytest.approx(0.562335, abs=1e-6)
    assert masked_mean(torch.tensor([[1.0, 5.0]]), torch.tensor([[1.0, 0.0]])) == 1.0


def test_context_selection_loss_golden():
    margin = torch.tensor([0.0, 2.0, -1.0, 10.0], requires_grad=True)
    loss, m = context_selection_loss(margin, clip=5.0)
    # clipped [0, 2, -1, 5]; -log sigmoid(x) = log(1 + e^-x):
    # log 2 = .693147, log(1+e^-2) = .126928, log(1+e) = 1.313262, log(1+e^-5) = .006715 -> mean .535013
    assert loss.item() == pytest.approx(0.535013, abs=1e-6)
    assert m["ca_select_acc"] == 0.5 and m["ca_hard_frac"] == 0.25
    assert m["ca_margin_raw"] == pytest.approx(2.75) and m["ca_margin_clipped"] == pytest.approx(1.5)
    loss.backward()
    # d/dx log(1+e^-x) = -sigmoid(-x), /4 for the mean; zero where the clip is active
    expect = [-0.5 / 4, -(1 / (1 + math.e ** 2)) / 4, -(1 / (1 + math.e ** -1)) / 4, 0.0]
    assert torch.allclose(margin.grad, torch.tensor(expect), atol=1e-6)
    with pytest.raises(ValueError):
        context_selection_loss(margin, clip=0.0)
