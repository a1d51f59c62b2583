"""Typed training configs (frozen dataclasses, loaded strictly by ctxbench.core.config) and recipes.

A recipe is a named set of defaults: `tiny` (the CPU default: small batches, short completions, a
warm-up SFT stage for the random-init preset) and the paper's two setups (`paper-agentic`: its SkyRL
scripts; `paper-multimodal`: its EasyR1 scripts; the comment above each recipe lists the settings it
copies). A TOML file or dict picks a recipe with `recipe = "..."` and overrides any key; unknown keys
are errors. The objective's table (ObjectiveConfig) is declared with the arms in trainers/arms.py, so
adding an arm need not touch this file.

    cfg = make_config({"recipe": "tiny", "objective": {"name": "contextrl"}, "data": {"tasks": ["niah"]}})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ctxbench.core.config import config_hash, deep_merge, dotted, load_config, naming_file, read_toml, to_dict
from trainers.arms import ObjectiveConfig

RecipeName = Literal["tiny", "paper-agentic", "paper-multimodal"]


@dataclass(frozen=True)
class DataConfig:
    """The data budget, explicit (every arm gets the same pools; the paper's ratio is 15%).

    total_instances > 0: round(total_instances * pair_share) pairs, the rest task items.
    total_instances = 0, pair_share > 0: every train-split task item, plus pairs making up pair_share
    of the total. Both 0: every train-split task item and pair. Too few available is a DataError;
    the pools are evenly spread subsets, so they do not depend on the seed."""

    tasks: tuple[str, ...] = ()
    pairs: str = ""                       # pairs JSONL (ctxbench.pairs.save_pairs format)
    pair_split: str = "train"
    total_instances: int = 0
    pair_share: float = 0.0
    max_items_per_task: int = 0           # 0 = all train-split items of each task
    data_paths: dict[str, str] = field(default_factory=dict)  # benchmark -> local data (official files)
    # The task reward, one function per run: "semantic" (Benchmark.score, ctxbench's reading of the
    # answer) or "official" (the benchmark's official scorer, as published numbers are computed; only
    # for tasks that have one)
    reward: Literal["semantic", "official"] = "semantic"

    def __post_init__(self):
        if not 0.0 <= self.pair_share < 1.0:
            raise ValueError("data.pair_share must be in [0, 1)")
        if self.total_instances < 0 or self.max_items_per_task < 0:
            raise ValueError("data.total_instances and data.max_items_per_task must be >= 0")


@dataclass(frozen=True)
class RolloutConfig:
    group_size: int = 8
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_new_tokens: int = 32
    max_prompt_tokens: int = 2048         # longer prompts are left out of the pool (counted in the log)

    def __post_init__(self):
        if self.group_size < 2:
            raise ValueError("rollout.group_size must be >= 2 (group-normalised advantages)")
        if self.temperature <= 0 or not 0 < self.top_p <= 1 or self.max_new_tokens < 1:
            raise ValueError("rollout: temperature > 0, 0 < top_p <= 1, max_new_tokens >= 1")


@dataclass(frozen=True)
class LossConfig:
    eps_low: float = 0.2
    eps_high: float = 0.28
    clip_ratio_c: float = 10.0            # dual clip for negative advantages; 0 = off
    kl_coef: float = 0.0                  # k3 KL to the frozen starting policy; 0 = no reference model
    kl_clamp: float = 0.0                 # 10 gives verl's low_var_kl; 0 = off
    agg: Literal["token-mean", "seq-mean-token-mean", "seq-mean-token-sum"] = "token-mean"
    adv_scale: Literal["group", "batch", "none"] = "group"

    def __post_init__(self):
        if self.clip_ratio_c and self.clip_ratio_c <= 1:
            raise ValueError("loss.clip_ratio_c must be > 1 (or 0 to disable)")


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 1e-5
    weight_decay: float = 0.0
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    grad_clip: float = 1.0                # 0 = off
    schedule: Literal["constant", "cosine"] = "constant"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0


@dataclass(frozen=True)
class WarmupConfig:
    """Warm-up SFT for random-init models: supervised (prompt, reference answer) on the training task
    items, run once and cached under the run root so every arm starts from the same checkpoint."""

    enabled: bool = False
    epochs: int = 2
    lr: float = 1e-3
    batch_size: int = 16
    max_items: int = 0                    # 0 = all train items of the configured tasks


@dataclass(frozen=True)
class TrainConfig:
    recipe: RecipeName = "tiny"
    model: str = "tiny"
    seed: int = 0
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    data: DataConfig = DataConfig()
    rollout: RolloutConfig = RolloutConfig()
    loss: LossConfig = LossConfig()
    optim: OptimConfig = OptimConfig()
    warmup: WarmupConfig = WarmupConfig()
    prompts_per_step: int = 8             # task prompts per rollout step (x group_size rollouts)
    ppo_mini_batches: int = 1             # optimizer steps per rollout step (policy mini-batches)
    micro_batch_size: int = 64            # sequences per forward/backward (gradient accumulation)
    pair_batch_size: int = 8              # contrastive pairs drawn per optimizer step (every arm)
    epochs: int = 1                       # passes over the task pool
    max_steps: int = 0                    # rollout steps; 0 = epochs * steps per epoch
    precision: Literal["fp32", "bf16"] = "fp32"  # bf16 = autocast for forwards, fp32 master weights
    threads: int = 0                      # torch threads; 0 = leave as is
    save_every: int = 0                   # checkpoint every N steps (always at the end); 0 = end only
    keep_last: int = 2                    # complete checkpoints kept (>= 2 keeps a fallback)
    run_name: str = ""                    # default: derived from objective, model, seed, config hash
    progress: bool = True

    def __post_init__(self):
        if self.prompts_per_step < 1 or self.ppo_mini_batches < 1 or self.micro_batch_size < 1:
            raise ValueError("prompts_per_step, ppo_mini_batches and micro_batch_size must be >= 1")
        if self.prompts_per_step % self.ppo_mini_batches:
            raise ValueError(
                f"prompts_per_step ({self.prompts_per_step}) must be divisible by ppo_mini_batches "
                f"({self.ppo_mini_batches})"
            )
        if self.keep_last < 1:
            raise ValueError("keep_last must be >= 1")


# Fields that do not change what is computed: a resume may change them.
OPERATIONAL_FIELDS = ("save_every", "keep_last", "progress", "threads")

RECIPES: dict[str, dict[str, Any]] = {
    # CPU default: the ~5M tiny preset, warmed up on the task format first.
    "tiny": {
        "rollout": {"group_size": 8, "max_new_tokens": 16, "temperature": 1.0},
        "loss": {"eps_low": 0.2, "eps_high": 0.28, "clip_ratio_c": 10.0, "kl_coef": 0.0},
        "optim": {"lr": 1e-4, "weight_decay": 0.0, "grad_clip": 1.0},
        "objective": {"ca_coef": 0.1, "margin_clip": 5.0, "sft_lr": 1e-4},
        "warmup": {"enabled": True},
        "prompts_per_step": 8, "pair_batch_size": 8, "micro_batch_size": 64,
    },
    # SkyRL mini-swe-agent scripts (Qwen3-8B): dual clip 0.2/0.28/10, k3 KL 5e-4, lr 2e-6, 16 prompts
    # x 8 with policy mini-batch 8 (2 updates), CT batch 8, λ 0.001, c 5, 3 epochs, data 7k + 1k.
    "paper-agentic": {
        "rollout": {"group_size": 8, "temperature": 1.0, "top_p": 1.0, "max_new_tokens": 4096,
                    "max_prompt_tokens": 4096},
        "loss": {"eps_low": 0.2, "eps_high": 0.28, "clip_ratio_c": 10.0, "kl_coef": 5e-4, "agg": "token-mean"},
        "optim": {"lr": 2e-6, "weight_decay": 0.01, "grad_clip": 1.0},
        "objective": {"ca_coef": 0.001, "margin_clip": 5.0},
        "data": {"total_instances": 8000, "pair_share": 0.125},
        "prompts_per_step": 16, "ppo_mini_batches": 2, "micro_batch_size": 1, "pair_batch_size": 8,
        "epochs": 3,
    },
    # EasyR1 scripts (Qwen2.5-VL-7B): EasyR1 default clip 0.2/0.3, dual 3; low_var_kl 1e-2; lr 1e-6,
    # wd 1e-2; rollout 256 prompts, global batch 64 (4 updates); CT batch 32, λ 0.005, c 5; 45k, 15%.
    "paper-multimodal": {
        "rollout": {"group_size": 8, "temperature": 1.0, "top_p": 1.0, "max_new_tokens": 4096,
                    "max_prompt_tokens": 16384},
        "loss": {"eps_low": 0.2, "eps_high": 0.3, "clip_ratio_c": 3.0, "kl_coef": 1e-2, "kl_clamp": 10.0,
                 "agg": "token-mean"},
        "optim": {"lr": 1e-6, "weight_decay": 1e-2, "grad_clip": 1.0},
        "objective": {"ca_coef": 0.005, "margin_clip": 5.0},
        "data": {"total_instances": 45000, "pair_share": 7000 / 45000},
        "prompts_per_step": 256, "ppo_mini_batches": 4, "micro_batch_size": 1, "pair_batch_size": 32,
        "epochs": 3,
    },
}


def make_config(data: dict | None = None, **overrides: Any) -> TrainConfig:
    """Recipe defaults, then `data` (e.g. a TOML table), then dotted `overrides`; strictly checked."""
    data = deep_merge(dict(data or {}), dotted(overrides))
    recipe = data.get("recipe", "tiny")
    if recipe not in RECIPES:
        load_config(TrainConfig, {"recipe": recipe})  # raises with the valid names
    return load_config(TrainConfig, deep_merge(RECIPES[recipe], data))


def load_train_config(path: str | Path | None = None, **overrides: Any) -> TrainConfig:
    with naming_file(path):
        return make_config(read_toml(path) if path else {}, **overrides)


def fingerprint_dict(cfg: TrainConfig) -> dict:
    """The resolved config minus operational fields: what a resume must not change."""
    d = to_dict(cfg)
    for k in OPERATIONAL_FIELDS:
        d.pop(k, None)
    return d


def config_fingerprint(cfg: TrainConfig) -> str:
    return config_hash(fingerprint_dict(cfg))


def run_id_for(cfg: TrainConfig) -> str:
    if cfg.run_name:
        return cfg.run_name
    model = "".join(c if c.isalnum() else "-" for c in cfg.model.split("/")[-1])[:24].strip("-") or "model"
    return f"{cfg.objective.name}-{model}-s{cfg.seed}-{config_fingerprint(cfg)[:8]}"
