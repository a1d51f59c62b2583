"""The GRPO / ContextRL maths as small pure tensor functions (verl's three axes, no registry).

Advantage -> per-token surrogate -> KL -> aggregation are separate functions so each can be
golden-tested by hand and recombined without touching the training loop. Nothing here knows about
models, tokenizers or batches: tensors in, tensors (and float metrics) out.

Shapes: B sequences (rollouts) x T completion positions; `mask` is 1.0 on real completion tokens.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

AggMode = Literal["token-mean", "seq-mean-token-mean", "seq-mean-token-sum"]
AdvScale = Literal["group", "batch", "none"]


def group_advantages(rewards: torch.Tensor, group_size: int, scale: AdvScale = "group",
                     eps: float = 1e-6) -> torch.Tensor:
    """GRPO outcome advantages: reward minus its group mean, divided by a standard deviation.

    rewards: [B] with the G = group_size rollouts of each prompt contiguous (B = P * G).
    scale:   "group" divides by the group's std (GRPO), "batch" by the whole batch's std (REINFORCE++
             style), "none" keeps the centred reward (Dr. GRPO). Stds are unbiased (n - 1), as in
             TRL and verl; a group of identical rewards gets advantage 0.
    """
    if rewards.ndim != 1 or rewards.numel() % group_size:
        raise ValueError(f"rewards must be [P*G] with G={group_size}, got shape {tuple(rewards.shape)}")
    r = rewards.float().view(-1, group_size)
    centred = r - r.mean(dim=1, keepdim=True)
    if scale == "group":
        std = r.std(dim=1, keepdim=True) if group_size > 1 else torch.zeros_like(r[:, :1])
        out = torch.where(std > 0, centred / (std + eps), torch.zeros_like(centred))
    elif scale == "batch":
        std = r.flatten().std() if r.numel() > 1 else r.new_zeros(())
        out = centred / (std + eps) if std > 0 else torch.zeros_like(centred)
    elif scale == "none":
        out = centred
    else:
        raise ValueError(f"unknown advantage scale {scale!r}")
    return out.flatten()


def bounded_log_ratio(delta: torch.Tensor, bound: float | None) -> torch.Tensor:
    """`delta` (a log-probability difference) clamped to [-bound, bound] before it is exponentiated;
    None or 0 leaves it as is. SkyRL (`safe_exp_delta`, and `compute_approx_kl` for k3) and EasyR1
    (`compute_policy_loss`, `compute_kl` for low_var_kl) both bound it at 20 so that exp() cannot
    overflow; inside the bound the value and its gradient are unchanged, beyond it the gradient is 0."""
    return torch.clamp(delta, -bound, bound) if bound else delta


def clipped_policy_loss(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor,
                        eps_low: float = 0.2, eps_high: float = 0.28,
                        clip_ratio_c: float | None = 10.0,
                        log_ratio_clamp: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token PPO surrogate with asymmetric clipping and the dual clip.

    ratio = exp(logp - old_logp); loss = max(-A*ratio, -A*clip(ratio, 1-eps_low, 1+eps_high)); for
    A < 0 the loss is further capped at -A*clip_ratio_c (dual-clip PPO, Ye et al. 2020, as in SkyRL
    `dual_clip` and verl `clip_ratio_c`). advantages: [B] or [B, T]. `log_ratio_clamp` bounds the
    log-ratio before exp (bounded_log_ratio; the paper recipes use SkyRL's and EasyR1's 20).

    Returns (loss [B, T], clipped [B, T] as 0/1 floats: where a clip bound decided the value).
    """
    adv = advantages if advantages.ndim == 2 else advantages[:, None]
    ratio = torch.exp(bounded_log_ratio(logp - old_logp, log_ratio_clamp))
    unclipped = -adv * ratio
    clipped = -adv * torch.clamp(ratio, 1.0 - eps_low, 1.0 + eps_high)
    loss = torch.maximum(unclipped, clipped)
    was_clipped = (clipped > unclipped).float()
    if clip_ratio_c is not None:
        if clip_ratio_c <= 1.0:
            raise ValueError(f"clip_ratio_c must be > 1, got {clip_ratio_c}")
        cap = -adv * clip_ratio_c
        dual = (adv < 0) & (loss > cap)
        loss = torch.where(dual, cap, loss)
        was_clipped = torch.where(dual, torch.ones_like(was_clipped), was_clipped)
    return loss, was_clipped


def kl_k3(logp: torch.Tensor, ref_logp: torch.Tensor, clamp: float | None = None,
          log_ratio_clamp: float | None = None) -> torch.Tensor:
    """Per-token k3 estimate of KL(pi || ref) (Schulman): exp(ref - logp) - (ref - logp) - 1 >= 0.

    `clamp` bounds it to [-clamp, clamp] (verl's `low_var_kl` is k3 clamped at 10); `log_ratio_clamp`
    bounds ref - logp first (bounded_log_ratio). SkyRL's k3 (`compute_approx_kl`) and EasyR1's
    low_var_kl do both, at 20 and 10."""
    d = bounded_log_ratio(ref_logp - logp, log_ratio_clamp)
    kl = torch.exp(d) - d - 1.0
    if clamp is not None:
        kl = torch.clamp(kl, -clamp, clamp)
    return kl


def aggregate(values: torch.Tensor, mask: torch.Tensor, mode: AggMode = "token-mean",
              denom: float | None = None) -> torch.Tensor:
    """Reduce a [B, T] per-token matrix to a scalar.

    token-mean:          sum(values * mask) / number of tokens (DAPO; every token weighs the same;
                         EasyR1's loss_avg_mode "token" with its global mini-batch denominator).
    seq-mean-token-mean: mean over sequences of each sequence's token mean (original GRPO). This is
                         what SkyRL's agentic recipe computes: `reduce_loss("token_mean")` over a
                         micro-batch of ONE sequence, plus the per-sequence KL term
                         (`masked_mean(kl, mask, dim=-1).mean()`), gradients summed over micro-batches
                         and scaled by 1/n_micro in `optim_step`. Apply it to the summed per-token loss
                         (surrogate + beta * KL): both terms then get SkyRL's per-sequence weighting.
    seq-mean-token-sum:  mean over sequences of each sequence's token sum.

    `denom` replaces the divisor (token count, or sequence count for the seq-* modes) with a global
    one, so that summing the results of micro-batches gives exactly the full-batch value (gradient
    accumulation without a per-micro-batch mean bias).
    """
    mask = mask.to(values.dtype)
    if mode == "token-mean":
        total = (values * mask).sum()
        n = mask.sum().clamp(min=1.0) if denom is None else denom
        return total / n
    seq_sum = (values * mask).sum(dim=1)
    if mode == "seq-mean-token-mean":
        per_seq = seq_sum / mask.sum(dim=1).clamp(min=1.0)
    elif mode == "seq-mean-token-sum":
        per_seq = seq_sum
    else:
        raise ValueError(f"unknown aggregation mode {mode!r}")
    n = float(values.shape[0]) if denom is None else denom
    return per_seq.sum() / n


def aggregation_denominator(mask: torch.Tensor, mode: AggMode) -> float:
    """The divisor `aggregate` would use on the full batch (pass it as `denom` to micro-batches)."""
    if mode == "token-mean":
        return float(mask.sum().clamp(min=1.0))
    return float(mask.shape[0])


def token_logprobs(logits: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[token] for each position: logits [B, T, V], tokens [B, T] -> [B, T]."""
    logits = logits.float()
    return logits.gather(-1, tokens.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, dim=-1)


@torch.no_grad()
def token_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Entropy of the next-token distribution at each position (nats), [B, T, V] -> [B, T]."""
    logits = logits.float()
    logz = torch.logsumexp(logits, dim=-1, keepdim=True)
    p = torch.exp(logits - logz)
    return (logz.squeeze(-1) - (p * logits).sum(dim=-1))


def context_selection_loss(margin: torch.Tensor, clip: float = 5.0) -> tuple[torch.Tensor, dict[str, float]]:
    """ContextRL's L_CA = mean(-log sigmoid(clip(margin, -c, c))) over a batch of pairs.

    margin: [N] = logit(t+) - logit(t-) at the answer position (the softmax normaliser cancels, so this
    equals the log-probability margin the paper code computes). Clipping stops the gradient of pairs
    that are already separated by more than c (and of hopeless ones beyond -c).

    Metrics: selection accuracy (margin > 0), hard fraction (margin < 0), mean raw and clipped margin.
    """
    if clip <= 0:
        raise ValueError(f"margin clip must be > 0, got {clip}")
    clipped = torch.clamp(margin, -clip, clip)
    loss = -F.logsigmoid(clipped).mean()
    with torch.no_grad():
        m = margin.detach().float()
        metrics = {
            "ca_loss": float(loss.detach()),
            "ca_select_acc": float((m > 0).float().mean()),
            "ca_hard_frac": float((m < 0).float().mean()),
            "ca_margin_raw": float(m.mean()),
            "ca_margin_clipped": float(clipped.detach().float().mean()),
        }
    return loss, metrics


def masked_mean(values: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean over masked positions as a float (a metric helper, no gradient)."""
    mask = mask.to(values.dtype)
    return float((values.detach() * mask).sum() / mask.sum().clamp(min=1.0))
