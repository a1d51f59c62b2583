"""ContextRL (and every ctxbench arm) as a subclass of TRL's GRPOTrainer.

What is TRL's and what is ctxbench's: generation (HF generate, or TRL's vLLM modes), the clipped
surrogate, the KL term, the loss aggregation, accelerate / DeepSpeed / FSDP, the training loop: TRL's.
The parts that define a ctxbench arm are the compact trainer's own functions, called here, so the two
engines cannot drift apart:

  - prompts are rendered and tokenized by trainers.modeling (render, encode), as the eval harness sees them;
  - a completion is cut at its benchmark's stop strings like trainers.rollout.decode_rows (tokens after
    the stop are not trained; the scorer sees the text before it);
  - the reward is the benchmark's own scorer (RLPrompt.scorer: reward == metric);
  - advantages are trainers.losses.group_advantages over the whole (all-process) batch: TRL's own
    formula divides by std + 1e-4 where the compact trainer divides by std + 1e-6, a difference far
    above the 1e-5 the two engines are held to;
  - the objective's auxiliary loss (ContextRL's λ·L_CA) is trainers.objectives' own `aux_loss` on the
    pair batch the compact trainer would draw for this optimizer step, added to the policy loss in the
    same backward; under several processes and micro-batches each computes it on its share of the
    pairs, weighted so the update equals one full-batch λ·mean over the pairs;
  - the optimizer and LR schedule are the compact trainer's (plain AdamW over every parameter, no
    weight-decay exemptions; trainers.grpo.lr_lambda).

Why overriding these hooks and not `_compute_loss`: it is TRL's 270-line core and the reason to use TRL;
everything ctxbench needs sits around it (ecosystem.md §4.3: aux loss in compute_loss).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from trl import GRPOTrainer

from trainers.data import RLPrompt
from trainers.losses import group_advantages
from trainers.modeling import encode
from trainers.rollout import truncate_at_stop
from trainers.trl.resume import ResumeHooks


@dataclass
class ArmSide:
    """What the subclass needs to know about the run (built by trainers.trl.engine)."""

    cfg: Any                                 # trainers.config.TrainConfig
    objective: Any                           # trainers.objectives.Objective
    tok: Any                                 # the policy's tokenizer
    prompts: dict[str, RLPrompt]             # dataset `key` -> prompt (its scorer and stop strings)
    stops: dict[str, tuple[str, ...]]        # rendered prompt text -> stop strings
    update_draws: list[list]                 # optimizer step -> the pair batch [(Pair, pos_first)]


class CtxbenchGRPOTrainer(ResumeHooks, GRPOTrainer):
    """GRPOTrainer + a ctxbench arm. `step_hook(trainer, logs)` runs after every optimizer step's log,
    on every process (the engine writes metrics and checkpoints from it). ResumeHooks: exact resume from
    a ctxbench checkpoint (trainers/trl/resume.py)."""

    def __init__(self, *, side: ArmSide, step_hook: Callable | None = None, **kwargs):
        self.side = side
        self.step_hook = step_hook
        self._rewards: torch.Tensor | None = None
        self._kinds: list[str] = []
        super().__init__(reward_funcs=[self.benchmark_reward], processing_class=side.tok, **kwargs)

    # --------------------------------------------------------------------------- data side

    def benchmark_reward(self, prompts, completions, completion_ids, key, **kwargs) -> list[float]:
        """The benchmark's own score of each completion (TRL's reward-function interface)."""
        return [float(self.side.prompts[k].scorer(c).score) for k, c in zip(key, completions)]

    def _tokenize_prompts(self, prompts: list):
        if not all(isinstance(p, str) for p in prompts):
            return super()._tokenize_prompts(prompts)
        return [encode(self.side.tok, p) for p in prompts], None, {}

    def _generate(self, prompts: list):
        out = list(super()._generate(prompts))
        _, completion_ids, _, completions, logprobs = out[:5]
        eos = self.side.tok.eos_token_id
        for i, prompt in enumerate(prompts):
            stops = self.side.stops.get(prompt, ()) if isinstance(prompt, str) else ()
            if not stops:
                continue
            ids = list(completion_ids[i])
            body = ids[:-1] if ids and ids[-1] == eos else ids
            k, text = truncate_at_stop(self.side.tok, body, stops)
            completions[i] = text
            if k < len(body):
                k = max(k, 1)  # TRL cannot hold an empty completion; the compact trainer masks it fully
                completion_ids[i] = ids[:k]
                if logprobs is not None:
                    logprobs[i] = logprobs[i][:k]
        return tuple(out)

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        from accelerate.utils import gather_object

        rewards = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
        self._rewards = rewards[:, 0].clone()  # all processes' rows, in process order
        self._kinds = gather_object([x["kind"] for x in inputs])
        return rewards

    def _generate_and_score_completions(self, inputs):
        out = super()._generate_and_score_completions(inputs)
        if self.model.training:
            adv = group_advantages(self._rewards.float().cpu(), self.num_generations, self.side.cfg.loss.adv_scale)
            lo = self.accelerator.process_index * len(inputs)
            out["advantages"] = adv[lo:lo + len(inputs)].to(out["advantages"].device)
            task = torch.tensor([k == "task" for k in self._kinds])
            r = self._rewards.float().cpu()
            m = self._metrics["train"]
            m["ctxbench/reward_mean"].append(float(r[task].mean()))
            m["ctxbench/reward_std"].append(float(r[task].std()) if int(task.sum()) > 1 else 0.0)
            if (~task).any():
                m["ctxbench/pair_reward_mean"].append(float(r[~task].mean()))
        return out

    # -------------------------------------------------------------------------------- loss

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        loss = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        accum = self.current_gradient_accumulation_steps
        m = self._metrics["train"]
        m["ctxbench/pg_loss"].append(float(self.accelerator.gather(loss.detach()[None]).mean()) * accum)
        aux, metrics = self._aux_share(model)
        if aux is not None:
            loss = loss + aux
            m["ctxbench/aux_loss"].append(float(self.accelerator.gather(aux.detach()[None]).mean()) * accum)
        for name, (total, count) in metrics.items():
            m[f"ctxbench/{name}"].append(total / count)
        return loss

    def _aux_share(self, model) -> tuple[torch.Tensor | None, dict[str, tuple[float, float]]]:
        """This process's and micro-batch's part of the objective's auxiliary loss for this optimizer step.

        The step's N pairs are cut into equal shares per process, each share into one chunk per
        micro-batch (the same cut on every process, so every process runs the same forwards, as FSDP
        and ZeRO-3 need). A chunk's loss is weighted by len(chunk) * processes / N: summed over
        micro-batches and averaged over processes by the gradient all-reduce, the update gets exactly
        the objective's loss on all N pairs. Metrics: (weighted sum, count) over all processes."""
        draws = self.side.update_draws[self.state.global_step]
        procs, rank = self.accelerator.num_processes, self.accelerator.process_index
        if len(draws) % procs:
            from ctxbench.core.errors import ConfigError

            raise ConfigError(f"pair_batch_size ({len(draws)}) must be divisible by the number of processes "
                              f"({procs}) with --engine trl")
        share = draws[rank * len(draws) // procs:(rank + 1) * len(draws) // procs]
        accum = self.current_gradient_accumulation_steps
        chunk = [share[int(i)] for i in np.array_split(np.arange(len(share)), accum)[self._step % accum]]
        if not chunk:
            return None, {}
        aux, metrics = self.side.objective.aux_loss(model, self.side.tok, chunk, self.side.cfg.precision)
        if aux is None:
            return None, {}
        sums = torch.tensor([[v * len(chunk), float(len(chunk))] for v in metrics.values()], dtype=torch.float64,
                            device=self.accelerator.device)
        sums = self.accelerator.reduce(sums, reduction="sum")
        out = {k: (float(s[0]), float(s[1])) for k, s in zip(metrics, sums)}
        return aux * (len(chunk) * procs / len(draws)), out

    # ------------------------------------------------------------------ optimizer, schedule

    def create_optimizer(self, model=None):
        if self.optimizer is None:
            o = self.side.cfg.optim
            params = (model if model is not None else self.model).parameters()
            self.optimizer = torch.optim.AdamW(params, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps,
                                               weight_decay=o.weight_decay)
        return self.optimizer

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        from trainers.grpo import lr_lambda

        if self.lr_scheduler is None:
            self.lr_scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer or self.optimizer,
                                                                  lr_lambda(self.side.cfg, num_training_steps))
        return self.lr_scheduler

    # ------------------------------------------------------------------------------ logging

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        super().log(logs, start_time)  # merges this step's metrics into `logs`
        if self.step_hook is not None and "train_runtime" not in logs:
            self.step_hook(self, logs)
