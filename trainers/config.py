"""Typed training configs (frozen dataclasses, loaded strictly by ctxbench.core.config) and recipes.

A recipe is a named set of defaults: `tiny` (the CPU default: small batches, short completions, a
warm-up SFT stage for the random-init preset) and one per paper model (`paper-agentic` Qwen3-8B and
`paper-agentic-klear` Klear-AgentForge-8B: its SkyRL scripts; `paper-multimodal` Qwen2.5-VL-7B and
`paper-multimodal-qwen3vl` Qwen3-VL-8B: its EasyR1 scripts; the comment above each recipe lists the
settings it copies). A TOML file or dict picks a recipe with `recipe = "..."` and overrides any key;
unknown keys are errors. The objective's table (ObjectiveConfig) is declared with the arms in trainers/arms.py, so
adding an arm need not touch this file.

    cfg = make_config({"recipe": "tiny", "objective": {"name": "contextrl"}, "data": {"tasks": ["niah"]}})
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ctxbench.core.config import config_hash, deep_merge, dotted, load_config, naming_file, read_toml, to_dict
from ctxbench.models.chat import TemplateConfig
from trainers.arms import ObjectiveConfig

RecipeName = Literal["tiny", "paper-agentic", "paper-agentic-klear", "paper-multimodal",
                     "paper-multimodal-qwen3vl"]


@dataclass(frozen=True)
class DataConfig:
    """The data budget, explicit (the same for every arm, or equal in total: `budget`; the paper's ratio is 15%).

    total_instances > 0: round(total_instances * pair_share) pairs, the rest task items.
    total_instances = 0, pair_share > 0: every train-split task item, plus pairs making up pair_share
    of the total. Both 0: every train-split task item and pair. Too few available is a DataError;
    the pools are evenly spread subsets, so they do not depend on the seed.

    task_split: "train" (the held-out rule of benchmarks.base.split_of) or "all" (every item: for a
      training-only source such as the released EasyR1 mix or SWE-Gym, none of which is scored).
    budget: "shared" gives every arm the same task pool (an arm without pairs draws and ignores them);
      "equal-total" is the paper's: an arm that uses no pairs (grpo) gets the pair slots as extra task
      items, so every arm trains on the same number of instances (the pair arms' tasks are a subset of
      its tasks); "equal-total-repeat" is the same, but when the source has too few task items the
      shortfall is filled by repeating evenly spread ones (the released EasyR1 mix has 38k QA rows, the
      paper's GRPO baseline had 45k); plain "equal-total" is then a DataError.
    da_rl_mix: how DA-RL receives the pairs. "pool" (the paper's): the pairs join the task pool as A/B
      prompts (fixed option order per pair), so each is drawn once per epoch at the budget's pair share;
      "per-step": every optimizer step's pair batch is appended to its task prompts, so every arm draws
      the same task batches (the invariant the embedded ablations check), at a heavier dose (pair_batch_size
      pairs per optimizer step, each pair repeated several times an epoch)."""

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
    task_split: Literal["train", "all"] = "train"
    budget: Literal["shared", "equal-total", "equal-total-repeat"] = "shared"
    da_rl_mix: Literal["per-step", "pool"] = "per-step"

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
    # who samples: "hf" the policy itself (trainers/rollout.py); "vllm" a colocated vLLM engine whose
    # weights are synced from the policy after every optimizer step (trainers/vllm_rollout.py; text policies)
    engine: Literal["hf", "vllm"] = "hf"
    # Agentic (SWE) tasks only, trainers/agentic.py: the rollout is the agent loop, max_new_tokens per turn
    max_turns: int = 35                   # model turns per trajectory (SkyRL generator.max_turns)
    max_input_tokens: int = 28672         # no new turn once the trajectory is this long (generator.max_input_length)
    command_timeout_s: float = 180.0      # per shell command (the training swebench.yaml's timeout)
    # the reward: "harness" (official swebench, Docker), "local" (the tests in the sandboxed checkout,
    # ctxbench.envs.swe.reward), "auto" (the harness where it can run, else local)
    swe_reward: Literal["auto", "harness", "local"] = "auto"

    def __post_init__(self):
        if self.group_size < 2:
            raise ValueError("rollout.group_size must be >= 2 (group-normalised advantages)")
        if self.temperature <= 0 or not 0 < self.top_p <= 1 or self.max_new_tokens < 1:
            raise ValueError("rollout: temperature > 0, 0 < top_p <= 1, max_new_tokens >= 1")
        if self.max_turns < 1 or self.max_input_tokens < 1 or self.command_timeout_s <= 0:
            raise ValueError("rollout: max_turns >= 1, max_input_tokens >= 1, command_timeout_s > 0")


@dataclass(frozen=True)
class LossConfig:
    eps_low: float = 0.2
    eps_high: float = 0.28
    clip_ratio_c: float = 10.0            # dual clip for negative advantages; 0 = off
    kl_coef: float = 0.0                  # k3 KL to the frozen starting policy; 0 = no reference model
    kl_clamp: float = 0.0                 # 10 gives verl's low_var_kl; 0 = off
    # |log-ratio| bound before exp() in the PPO ratio and the k3 KL (SkyRL and EasyR1: 20); 0 = off
    log_ratio_clamp: float = 0.0
    # seq-mean-token-mean = SkyRL's agentic loss (token_mean over micro-batches of one sequence)
    agg: Literal["token-mean", "seq-mean-token-mean", "seq-mean-token-sum"] = "token-mean"
    adv_scale: Literal["group", "batch", "none"] = "group"

    def __post_init__(self):
        if self.clip_ratio_c and self.clip_ratio_c <= 1:
            raise ValueError("loss.clip_ratio_c must be > 1 (or 0 to disable)")
        if self.kl_clamp < 0 or self.log_ratio_clamp < 0:
            raise ValueError("loss.kl_clamp and loss.log_ratio_clamp must be >= 0 (0 = off)")


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
class VisionConfig:
    """Vision-language policies only (a text-only policy has no images and no tower: no effect).

    freeze_tower: the vision encoder gets no gradient (EasyR1 `freeze_vision_tower`, true in the
    released config): Qwen-VL's `visual` (its merger included, as EasyR1 freezes it), LLaVA's
    `vision_tower` (its projector stays trainable). min_pixels / max_pixels: every image is resized
    before the processor sees it, exactly as EasyR1's `process_image` does (the released config: 784 and
    1,003,520); 0 = no bound."""

    freeze_tower: bool = False
    min_pixels: int = 0
    max_pixels: int = 0

    def __post_init__(self):
        if self.min_pixels < 0 or self.max_pixels < 0:
            raise ValueError("vision.min_pixels and vision.max_pixels must be >= 0 (0 = no bound)")
        if self.min_pixels and self.max_pixels and self.min_pixels > self.max_pixels:
            raise ValueError(f"vision.min_pixels ({self.min_pixels}) must be <= "
                             f"vision.max_pixels ({self.max_pixels})")


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
    template: TemplateConfig = field(default_factory=TemplateConfig)  # chat-template control (models/chat.py)
    prompts_per_step: int = 8             # task prompts per rollout step (x group_size rollouts)
    ppo_mini_batches: int = 1             # optimizer steps per rollout step (policy mini-batches)
    micro_batch_size: int = 64            # sequences per forward/backward (gradient accumulation)
    pair_batch_size: int = 8              # contrastive pairs per draw (every arm)
    # when a pair batch is drawn: "per-update" a fresh one for every optimizer step (SkyRL's agentic
    # trainer); "per-rollout-step" one per rollout step, its CA loss re-applied at every optimizer step
    # of that step (EasyR1's ray_trainer.fit + dp_actor.update_policy)
    pair_draw: Literal["per-update", "per-rollout-step"] = "per-update"
    vision: VisionConfig = VisionConfig()
    epochs: int = 1                       # passes over the task pool
    max_steps: int = 0                    # rollout steps; 0 = epochs * steps per epoch
    precision: Literal["fp32", "bf16"] = "fp32"  # bf16 = autocast for forwards, fp32 master weights
    # where the policy and the reference model train: "auto" = the GPU when CUDA is available, else the
    # CPU (trainers.modeling.resolve_device); bf16 autocast follows the model's device
    device: Literal["auto", "cpu", "cuda"] = "auto"
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


# Fields that do not change what is computed: a resume may change them (`device`: the same run may
# continue on another machine; CPU and GPU kernels round differently, the computation is the same).
OPERATIONAL_FIELDS = ("save_every", "keep_last", "progress", "threads", "device")

_AGENTIC: dict[str, Any] = {
    "rollout": {"group_size": 8, "temperature": 1.0, "top_p": 1.0, "max_new_tokens": 4096,
                "max_prompt_tokens": 4096, "max_turns": 35, "max_input_tokens": 28672, "command_timeout_s": 180.0},
    "loss": {"eps_low": 0.2, "eps_high": 0.28, "clip_ratio_c": 10.0, "kl_coef": 5e-4, "kl_clamp": 10.0,
             "log_ratio_clamp": 20.0, "agg": "seq-mean-token-mean"},
    "optim": {"lr": 2e-6, "weight_decay": 0.01, "grad_clip": 1.0},
    "objective": {"ca_coef": 0.001, "margin_clip": 5.0},
    "data": {"total_instances": 8000, "pair_share": 0.125},
    "prompts_per_step": 16, "ppo_mini_batches": 2, "micro_batch_size": 1, "pair_batch_size": 8,
    "pair_draw": "per-update", "precision": "bf16", "epochs": 3,
}
_MULTIMODAL: dict[str, Any] = {
    "rollout": {"group_size": 8, "temperature": 1.0, "top_p": 1.0, "max_new_tokens": 4096,
                "max_prompt_tokens": 16384},
    "loss": {"eps_low": 0.2, "eps_high": 0.3, "clip_ratio_c": 3.0, "kl_coef": 1e-2, "kl_clamp": 10.0,
             "log_ratio_clamp": 20.0, "agg": "token-mean"},
    "optim": {"lr": 1e-6, "weight_decay": 1e-2, "grad_clip": 1.0},
    "objective": {"ca_coef": 0.005, "margin_clip": 5.0},
    "data": {"total_instances": 45000, "pair_share": 7000 / 45000},
    "prompts_per_step": 256, "ppo_mini_batches": 4, "micro_batch_size": 1, "pair_batch_size": 32,
    "pair_draw": "per-rollout-step", "precision": "bf16", "epochs": 3,
    "vision": {"freeze_tower": True, "min_pixels": 784, "max_pixels": 1003520},
}

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
    # SkyRL mini-swe-agent, run_mini_swe_qwen3_8b.sh (Qwen3-8B): dual clip 0.2/0.28/10, k3 KL 5e-4
    # (log-ratio clamped at 20, KL at 10, as ppo_utils.compute_approx_kl), lr 2e-6, wd 1e-2 (default),
    # 16 prompts x 8 with policy mini-batch 8 (2 updates), micro-batch 1 with loss_reduction token_mean
    # = seq-mean-token-mean here (losses.aggregate), CT batch 8 drawn fresh per optimizer step
    # (ct_trainer), λ 0.001, c 5, bf16 autocast over fp32 master weights (FSDP2), max prompt 4096,
    # 3 epochs, data 7k + 1k.
    "paper-agentic": _AGENTIC,
    # run_mini_swe_agentforge8B.sh (Klear-AgentForge-8B-SFT): the same, except max prompt 8192 and 2
    # epochs; λ 0.005 is the paper's value (its λ ablation: 0.005 best for Klear, 0.01 hurts) and the
    # released script's 0.01 is a variant in ablations/paper-agentic-klear.toml. The script's CA prefill
    # "The correct option is" and its SWE-Gym + SWE-Smith pool are set by the spec.
    "paper-agentic-klear": deep_merge(_AGENTIC, {
        "rollout": {"max_prompt_tokens": 8192}, "objective": {"ca_coef": 0.005}, "epochs": 2,
    }),
    # EasyR1 qwen_V2_5.sh + examples/config.yaml (Qwen2.5-VL-7B): EasyR1 default clip 0.2/0.3, dual 3;
    # low_var_kl 1e-2 (log-ratio clamped at 20, KL at 10); global token-mean; lr 1e-6, wd 1e-2;
    # rollout 256 prompts, global batch 64 (4 updates); one CA batch of 32 per rollout step, re-applied
    # at each of the 4 updates (ray_trainer.fit, dp_actor.update_policy); λ 0.005, c 5; vision tower
    # frozen, images resized to 784..1,003,520 pixels; bf16 (FSDP mixed precision); 45k, 15%.
    "paper-multimodal": _MULTIMODAL,
    # EasyR1 qwen_V3.sh (Qwen3-VL-8B-Instruct): the same config.yaml, λ 0.001. Its thinking chat
    # template (override_chat_template) and limit_images 10 are not recipe settings here.
    "paper-multimodal-qwen3vl": deep_merge(_MULTIMODAL, {"objective": {"ca_coef": 0.001}}),
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
