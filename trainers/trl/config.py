"""TrainConfig -> TRL's GRPOConfig: one mapping, and a refusal for what TRL cannot express.

Why a refusal and not a best effort: the TRL engine exists so that an arm trained on a cluster is the
same experiment as the arm trained by the compact trainer. A setting TRL's GRPOTrainer has no knob for
would silently train something else, so it is a ConfigError naming the setting and the way out.

| TrainConfig                      | GRPOConfig                                   | note                                   |
| rollout.group_size               | num_generations                              |                                        |
| rollout.max_new_tokens           | max_completion_length                        |                                        |
| rollout.temperature/top_p/top_k  | temperature/top_p/top_k                      | temperature must be 1 (below)          |
| loss.eps_low / eps_high          | epsilon / epsilon_high                       |                                        |
| loss.clip_ratio_c (dual clip)    | delta                                        | equal when c >= 1 + eps_high (below)   |
| loss.kl_coef                     | beta (k3 estimator, frozen reference)        | kl_clamp has no TRL knob: refused      |
| loss.log_ratio_clamp             | (none)                                       | refused unless 0                       |
| loss.agg token-mean              | loss_type "dapo"                             | global token count of the update       |
| loss.agg seq-mean-token-mean     | loss_type "grpo"                             |                                        |
| loss.agg seq-mean-token-sum      | loss_type "luspo" (sum over tokens, mean seq)|                                        |
| loss.adv_scale                   | scale_rewards (advantages are recomputed by  | trainers/trl/trainer.py                |
|                                  | trainers.losses.group_advantages anyway)     |                                        |
| optim.*                          | the same AdamW and LambdaLR schedule, built  | create_optimizer / create_scheduler    |
|                                  | by the subclass; max_grad_norm = grad_clip   |                                        |
| prompts_per_step, ppo_mini_batches, micro_batch_size | per_device_train_batch_size, gradient_accumulation_steps, steps_per_generation (geometry below) |
| precision bf16                   | bf16 (autocast, fp32 master weights)         |                                        |

Why temperature must be 1: TRL scores completions under logits / temperature (its fused LM head), the
compact trainer under the untempered policy; at temperature 1 the two are the same quantity.
Why c >= 1 + eps_high: TRL's `delta` caps the unclipped ratio at delta; for a negative advantage that
equals the dual clip's cap at c, and for a positive one it is inert, exactly when delta > 1 + eps_high.

Settings that do not change the maths (vLLM rollouts, gradient checkpointing, DeepSpeed generation
gathering) pass through unchanged from `--trl KEY=VALUE` (OPERATIONAL); every other GRPOConfig field is
set here or left at a default that matches the compact trainer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctxbench.core.errors import ConfigError, did_you_mean
from trainers.config import TrainConfig

LOSS_TYPE = {"token-mean": "dapo", "seq-mean-token-mean": "grpo", "seq-mean-token-sum": "luspo"}

# GRPOConfig fields a user may set on the command line: where and how rollouts are computed, memory
# and distribution, never the objective.
OPERATIONAL = frozenset({
    "use_vllm", "vllm_mode", "vllm_gpu_memory_utilization", "vllm_tensor_parallel_size", "vllm_enable_sleep_mode",
    "vllm_server_host", "vllm_server_port", "vllm_server_base_url", "vllm_server_timeout", "vllm_max_model_length",
    "vllm_importance_sampling_correction", "gradient_checkpointing", "ds3_gather_for_generation",
    "use_transformers_continuous_batching", "ddp_timeout", "dataloader_num_workers",
})


def unexpressible(cfg: TrainConfig) -> list[str]:
    """The settings of `cfg` that TRL's GRPOTrainer cannot reproduce, each with what to do instead."""
    out = []
    if cfg.rollout.temperature != 1.0:
        out.append(f"rollout.temperature = {cfg.rollout.temperature}: TRL scores completions under the tempered "
                   "policy (logits / temperature), the compact trainer under the untempered one; use 1.0")
    if cfg.loss.kl_clamp:
        out.append(f"loss.kl_clamp = {cfg.loss.kl_clamp}: TRL's k3 KL has no clamp; set loss.kl_clamp = 0")
    bound = getattr(cfg.loss, "log_ratio_clamp", 0.0)  # a LossConfig field added beside this engine (issue 13)
    if bound:
        out.append(f"loss.log_ratio_clamp = {bound}: TRL exponentiates the log-ratio unbounded; set 0")
    c, hi = cfg.loss.clip_ratio_c, cfg.loss.eps_high
    if c and c <= 1.0 + hi:
        out.append(f"loss.clip_ratio_c = {c}: TRL's delta equals the dual clip only above 1 + eps_high "
                   f"= {1 + hi}; raise it or set 0 (off)")
    return out


def check_expressible(cfg: TrainConfig) -> None:
    problems = unexpressible(cfg)
    if problems:
        raise ConfigError("--engine trl cannot express " + "; ".join(problems)
                          + " (or train with --engine compact)")


@dataclass(frozen=True)
class Geometry:
    """How one optimizer step's rows are spread over processes and micro-batches.

    rows: rollouts per optimizer step (the compact trainer's policy mini-batch: prompts_per_step /
    ppo_mini_batches task prompts, plus the arm's extra pair prompts, times group_size). Each process
    takes rows / processes of them, in grad_accum micro-batches of at most micro_batch_size."""

    rows: int
    processes: int
    per_device: int
    grad_accum: int
    steps_per_generation: int


def geometry(cfg: TrainConfig, rows: int, processes: int) -> Geometry:
    if processes < 1 or rows % processes:
        raise ConfigError(f"--engine trl: {rows} rollouts per optimizer step (prompts x rollout.group_size) do not "
                          f"split over {processes} processes; change prompts_per_step or the process count")
    local = rows // processes
    accum = next(g for g in range(1, local + 1) if local % g == 0 and local // g <= cfg.micro_batch_size)
    return Geometry(rows, processes, local // accum, accum, accum * cfg.ppo_mini_batches)


def check_operational(extra: dict[str, Any]) -> None:
    from trl import GRPOConfig

    fields = {f.name for f in dataclasses.fields(GRPOConfig)}
    for key in extra:
        if key not in fields:
            raise ConfigError(f"--trl {key}: not a GRPOConfig field{did_you_mean(key, sorted(OPERATIONAL))}")
        if key not in OPERATIONAL:
            raise ConfigError(f"--trl {key}: set from the training config (it changes what is trained); "
                              f"--trl takes only {', '.join(sorted(OPERATIONAL))}")


def grpo_kwargs(cfg: TrainConfig, geo: Geometry, total_updates: int, output_dir: Path,
                extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """GRPOConfig keyword arguments for `cfg` (after check_expressible)."""
    import torch

    r, loss, o = cfg.rollout, cfg.loss, cfg.optim
    kwargs = {
        "output_dir": str(output_dir), "use_cpu": not torch.cuda.is_available(),
        "bf16": cfg.precision == "bf16", "seed": cfg.seed, "per_device_train_batch_size": geo.per_device,
        "gradient_accumulation_steps": geo.grad_accum, "steps_per_generation": geo.steps_per_generation,
        "num_iterations": 1, "max_steps": total_updates, "num_generations": r.group_size,
        "max_completion_length": r.max_new_tokens, "temperature": r.temperature, "top_p": r.top_p,
        "top_k": r.top_k, "beta": loss.kl_coef, "epsilon": loss.eps_low, "epsilon_high": loss.eps_high,
        "delta": loss.clip_ratio_c or None, "loss_type": LOSS_TYPE[loss.agg],
        "scale_rewards": loss.adv_scale, "learning_rate": o.lr, "weight_decay": o.weight_decay,
        "adam_beta1": o.beta1, "adam_beta2": o.beta2, "adam_epsilon": o.eps, "max_grad_norm": o.grad_clip,
        "shuffle_dataset": False, "remove_unused_columns": False, "gradient_checkpointing": False,
        "logging_steps": 1, "save_strategy": "no", "report_to": [], "disable_tqdm": not cfg.progress,
        "dataloader_num_workers": 0,
    }
    check_operational(extra or {})
    kwargs.update(extra or {})
    return kwargs


def grpo_config(cfg: TrainConfig, geo: Geometry, total_updates: int, output_dir: Path,
                extra: dict[str, Any] | None = None):
    from trl import GRPOConfig

    return GRPOConfig(**grpo_kwargs(cfg, geo, total_updates, output_dir, extra))
