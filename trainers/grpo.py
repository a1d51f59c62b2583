"""The one shared GRPO loop. Every arm runs this file; only the Objective object differs.

One rollout step, top to bottom:
  1. draw the task batch (prompts_per_step) and the pair batch of each optimizer step (a fresh one per
     step, or one per rollout step re-applied: `pair_draw`), in EVERY arm;
  2. sample G completions per prompt from the policy (KV cache, seeded per step), score each with
     the benchmark's own `score` (reward == metric), group-normalise the rewards into advantages;
  3. for each policy mini-batch (an optimizer step): micro-batched forward/backward of the clipped
     surrogate (+ β·k3 KL to the frozen starting policy), aggregated with global denominators so that
     gradient accumulation equals one big batch; plus the objective's auxiliary loss on its pair
     batch; clip, AdamW, LR schedule;
  4. log metrics; checkpoint every `save_every` steps (atomic, resumable).

Old log-probs: with one mini-batch the update is on-policy and old = current.detach(); with several,
they are computed once, before the first update, like verl's "recompute old log-prob".
"""

from __future__ import annotations

import math
import random
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ctxbench.core.config import to_dict
from ctxbench.core.errors import CtxbenchError
from ctxbench.core.hashing import stable_hash
from ctxbench.models.presets.registry import checkpoint_identity
from trainers import checkpoint as ck
from trainers.agentic import agentic_rollouts
from trainers.config import TrainConfig, config_fingerprint, run_id_for
from trainers.data import DataPools, Stream, build_pools, pos_first_for
from trainers.losses import aggregate, aggregation_denominator, clipped_policy_loss, group_advantages, kl_k3
from trainers.metrics import metric_rows, write_checkpoint_row, write_metric_shard, write_run_row
from trainers.modeling import (
    autocast,
    completion_logprobs,
    encode,
    load_model,
    load_tokenizer,
    pad_id,
    render,
    resolve_device,
    resolve_model_path,
)
from trainers.objectives import make_objective
from trainers.rollout import make_rollouts
from trainers.vision import VisionIO, freeze_vision_tower, is_vlm_path
from trainers.vllm_rollout import check_engine, make_engine


@dataclass
class TrainResult:
    ckpt_dir: Path            # the last checkpoint (a save_pretrained folder: `hf:<ckpt_dir>` loads it)
    run_id: str
    metrics: list[dict]       # one dict per step: {"step": n, "reward_mean": ..., ...}
    run_dir: Path = field(default=Path("."))
    final_step: int = 0
    resumed_from: Path | None = None


def lr_lambda(cfg: TrainConfig, total_updates: int) -> Callable[[int], float]:
    o = cfg.optim

    def f(i: int) -> float:
        if o.warmup_steps and i < o.warmup_steps:
            return (i + 1) / o.warmup_steps
        if o.schedule == "constant":
            return 1.0
        span = max(1, total_updates - o.warmup_steps)
        progress = min(1.0, (i - o.warmup_steps) / span)
        return o.min_lr_ratio + (1 - o.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return f


def rng_state() -> dict:
    np_state = np.random.get_state()
    return {"python": random.getstate(), "torch": torch.get_rng_state(),
            "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])]}


def set_rng_state(s: dict) -> None:
    py = s["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    torch.set_rng_state(s["torch"])
    n = s["numpy"]
    np.random.set_state((n[0], np.array(n[1], dtype=np.uint32), n[2], n[3], n[4]))


def run_fingerprints(cfg: TrainConfig, objective, pools: DataPools, init_identity: str) -> dict:
    """What a resume must find unchanged in a checkpoint's meta (config, objective, data, starting
    weights); one recipe for both engines, so a checkpoint of either is checked the same way."""
    return {
        "config_fingerprint": config_fingerprint(cfg),
        "objective_fingerprint": stable_hash(objective.fingerprint()),
        "data_fingerprint": pools.fingerprint,
        "init_identity": init_identity,
    }


def rl_pair_batches(cfg: TrainConfig, pair_batches: list[list]) -> list[list]:
    """The pairs that may become RL prompts (DA-RL's rl_extra) in each optimizer step. A batch that
    is re-applied across the mini-batches (pair_draw "per-rollout-step") is spread over them
    instead, so each drawn pair is rolled out once per step, as in the per-update draw. A function,
    not only a method, so the TRL engine lays out its steps by the same rule."""
    if cfg.pair_draw == "per-update":
        return pair_batches
    M, batch = len(pair_batches), pair_batches[0]
    edges = [round(k * len(batch) / M) for k in range(M + 1)]
    return [batch[edges[k]:edges[k + 1]] for k in range(M)]


class Trainer:
    def __init__(self, cfg: TrainConfig, root: str | Path, benchmarks: dict | None = None):
        self.cfg, self.root, self.benchmarks = cfg, Path(root), benchmarks
        self.run_id = run_id_for(cfg)
        self.run_dir = self.root / "train" / self.run_id
        self.ckpt_root = self.run_dir / "checkpoints"
        self.history: list[dict] = []
        self.stage_metrics: dict[str, list[dict]] = {}
        self._pending: list[dict] = []
        self._prompt_ids: dict[str, list[int]] = {}
        self._prompt_vision: dict[str, dict | None] = {}
        self.io = None  # trainers.vision.VisionIO for a vision-language policy
        self.rollout_engine = None  # rollout.engine = "vllm": trainers.vllm_rollout.VLLMRollout, synced per update
        self.step = 0
        self.resumed_from: Path | None = None

    # ------------------------------------------------------------------------------------ setup

    def setup(self, resume: str | Path = "auto") -> None:
        cfg = self.cfg
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        self.device = resolve_device(cfg.device)  # before anything loads: a 'cuda' run without CUDA fails here
        check_engine(cfg)  # and rollout.engine = "vllm" without vLLM
        if cfg.warmup.enabled:
            from trainers.sft import warmup_sft

            self.init_path = warmup_sft(cfg, self.root, self.benchmarks)
            self.init_identity = checkpoint_identity(self.init_path)
        else:
            self.init_path, self.init_identity = resolve_model_path(cfg.model)
        if is_vlm_path(self.init_path):  # prompts (and their images) go through the checkpoint's processor
            self.io = VisionIO.load(self.init_path, cfg.vision.min_pixels, cfg.vision.max_pixels)
            self.tok = self.io.tokenizer
        else:
            self.tok = load_tokenizer(self.init_path)
        self.pad = pad_id(self.tok)
        self.pools: DataPools = build_pools(cfg, self.count_tokens, self.benchmarks)
        if self.io is None:
            self._check_text_only()
        self.objective = make_objective(cfg.objective, cfg.template)
        self.expected = run_fingerprints(cfg, self.objective, self.pools, self.init_identity)
        self.task_stream = Stream(len(self.pools.tasks), cfg.seed, "tasks")
        self.pair_stream = Stream(len(self.pools.pairs), cfg.seed, "pairs")
        self.steps_per_epoch = max(1, len(self.pools.tasks) // cfg.prompts_per_step)
        self.total_steps = cfg.max_steps or cfg.epochs * self.steps_per_epoch

        found = self._find_checkpoint(resume)
        state = None
        if found is not None:
            state, meta = ck.load_state(found)
            ck.check_compatible(meta, self.expected, found)
            self.ref_path = Path(meta["ref_path"])
        self.model = load_model(found or self.init_path).to(self.device)  # before the optimizer sees it
        if cfg.vision.freeze_tower and self.io is not None:  # before any stage trains (DA-SFT included)
            freeze_vision_tower(self.model)
        o = cfg.optim
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps,
                                     weight_decay=o.weight_decay)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lr_lambda(cfg, self.total_steps * cfg.ppo_mini_batches))
        if state is not None:
            self._restore(found, state)
        else:
            self.ref_path = self.init_path
            if self.objective.before_rl(self):  # e.g. the DA-SFT stage: its output is the RL start (step 0)
                self.ref_path = self.ckpt_root / ck.step_dir_name(0)
                self.save(0)
        self.ref = None
        if cfg.loss.kl_coef > 0:
            self.ref = load_model(self.ref_path).eval().to(self.device)
            self.ref.requires_grad_(False)
        self.rollout_engine = make_engine(self)  # after every change to the weights above (resume, DA-SFT)

    def count_tokens(self, text: str) -> int:
        """Tokens of a task prompt as the policy will see it (rendered with cfg.template, as prompt_ids)."""
        if self.io is not None:
            return self.io.count_tokens(text, self.cfg.template)
        return len(encode(self.tok, render(self.tok, text, template=self.cfg.template)))

    def _check_text_only(self) -> None:
        """Image prompts or image pairs need a vision-language policy: say so before training."""
        img = next((t.key for t in self.pools.tasks if t.has_images), None) or \
            next((f"pair {p.pair_id}" for p in self.pools.pairs if p.has_parts), None)
        if img:
            raise CtxbenchError(f"{img} has images but model {self.cfg.model!r} is a text-only checkpoint; "
                                "train a vision-language model (e.g. model = \"tiny-vlm\") on image data")

    def _find_checkpoint(self, resume) -> Path | None:
        if resume == "never":
            if self.ckpt_root.exists():
                print(f"ctxbench: resume='never': discarding earlier checkpoints of {self.run_id}", file=sys.stderr)
                shutil.rmtree(self.ckpt_root)
            return None
        if resume == "auto":
            ck.clean_stale_tmp(self.ckpt_root)
            return ck.find_resume(self.ckpt_root)
        path = Path(resume)
        ck.verify_checkpoint(path, required=(ck.STATE, ck.META))
        return path

    def _restore(self, folder: Path, state: dict) -> None:
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        self.task_stream.load_state_dict(state["streams"]["tasks"])
        self.pair_stream.load_state_dict(state["streams"]["pairs"])
        self.objective.load_state_dict(state["objective"])
        set_rng_state(state["rng"])
        self.step = int(state["step"])
        self.history = list(state["history"])
        self.stage_metrics = dict(state.get("stage_metrics", {}))
        self.resumed_from = folder
        print(f"ctxbench: resuming {self.run_id} from {folder.name} (step {self.step}/{self.total_steps}, "
              f"task epoch {self.task_stream.epoch} pos {self.task_stream.pos})", file=sys.stderr)
        if folder.parent.resolve() == self.ckpt_root.resolve():  # this run's own checkpoint: a kill between
            ck.prune(self.ckpt_root, self.cfg.keep_last)       # its publish and its row (or prune) left them undone
            self._checkpoint_row(folder, self.step)

    def record_stage_metrics(self, stage: str, metrics: list[dict]) -> None:
        self.stage_metrics[stage] = metrics

    # --------------------------------------------------------------------------------- one step

    def prompt_ids(self, p) -> list[int]:
        """An RL prompt's token ids, rendered with the recipe's template (cfg.template: thinking, override,
        system, suffix, prefix) exactly as the eval backends render it; cached per prompt key."""
        if p.key not in self._prompt_ids:
            tpl = self.cfg.template
            if self.io is not None:
                parts = p.parts or ({"type": "text", "value": p.text},)
                self._prompt_ids[p.key], self._prompt_vision[p.key] = self.io.encode(parts, p.prefill, tpl)
            else:
                self._prompt_ids[p.key] = encode(self.tok, render(self.tok, p.text, p.prefill, tpl))
        return self._prompt_ids[p.key]

    def prompt_vision(self, prompts) -> list | None:
        """Per prompt, its vision inputs (after prompt_ids); None for a text policy."""
        return None if self.io is None else [self._prompt_vision.get(p.key) for p in prompts]

    def draw(self) -> tuple[list, list[list]]:
        """This step's task prompts and, per optimizer step, the pair batch it uses (identical in every
        arm). pair_draw "per-update": a fresh batch for each optimizer step (SkyRL's ct_trainer);
        "per-rollout-step": one batch for the whole rollout step, the same list at every optimizer step
        (EasyR1 draws one choose-image batch per step and re-applies it in every PPO mini-batch)."""
        cfg = self.cfg
        tasks = [self.pools.tasks[i] for i, _ in self.task_stream.take(cfg.prompts_per_step)]
        n_draws = cfg.ppo_mini_batches if cfg.pair_draw == "per-update" else 1
        batches = []
        for _ in range(n_draws):
            drawn = self.pair_stream.take(cfg.pair_batch_size)
            batches.append([(self.pools.pairs[i], pos_first_for(cfg.seed, ep, self.pools.pairs[i].pair_id))
                            for i, ep in drawn])
        return tasks, batches if n_draws == cfg.ppo_mini_batches else batches * cfg.ppo_mini_batches

    def rl_pair_batches(self, pair_batches: list[list]) -> list[list]:
        return rl_pair_batches(self.cfg, pair_batches)

    @torch.no_grad()
    def _logprobs_all(self, model, enc) -> torch.Tensor:
        """Per-token log-probs of every row under `model`, micro-batched, no gradient."""
        out = torch.zeros_like(enc.completion_mask)
        for rows in torch.arange(enc.group.shape[0]).split(self.cfg.micro_batch_size):
            sub = enc.rows(rows)
            with autocast(self.cfg.precision, model):
                lp, _ = completion_logprobs(model, sub.prompt_ids, sub.prompt_mask, sub.group, sub.completion_ids,
                                            vision=sub.vision)
            out[rows, : lp.shape[1]] = lp.float().cpu()
        return out

    def train_step(self, step: int) -> dict:
        cfg, G, M = self.cfg, self.cfg.rollout.group_size, self.cfg.ppo_mini_batches
        t0 = time.perf_counter()
        tasks, pair_batches = self.draw()
        per_mb = cfg.prompts_per_step // M
        rl_pairs = self.rl_pair_batches(pair_batches)
        mb_prompts = [tasks[k * per_mb:(k + 1) * per_mb] + self.objective.rl_extra(rl_pairs[k])
                      for k in range(M)]
        prompts = [p for mb in mb_prompts for p in mb]
        dev = self.device
        # on the model's device: the sampler draws its uniforms there (on the CPU the same stream as before)
        gen = torch.Generator(device=dev).manual_seed(int(stable_hash(["rollout", cfg.seed, step], 12), 16))
        r = cfg.rollout
        prompt_ids = [self.prompt_ids(p) for p in prompts]
        with autocast(cfg.precision, self.model):
            if any(p.env is not None for p in prompts):  # SWE tasks: the multi-turn agent loop
                ro = agentic_rollouts(self, prompts, gen)
            else:
                ro = make_rollouts(self.model, self.tok, prompts, prompt_ids, G, r.max_new_tokens, generator=gen,
                                   temperature=r.temperature, top_p=r.top_p, top_k=r.top_k, pad=self.pad,
                                   vision=self.prompt_vision(prompts), engine=self.rollout_engine)
        t_rollout = time.perf_counter() - t0
        enc, mask = ro.enc, ro.enc.completion_mask
        adv = group_advantages(ro.rewards, G, cfg.loss.adv_scale).to(dev)
        old_all = self._logprobs_all(self.model, enc) if M > 1 else None
        ref_all = self._logprobs_all(self.ref, enc) if self.ref is not None else None

        sums = {"clip": 0.0, "kl": 0.0, "tok": 0.0, "live": 0.0, "loss": 0.0}
        aux_metrics: list[dict] = []
        grad_norms = []
        start = 0
        for k in range(M):
            rows = torch.arange(start, start + len(mb_prompts[k]) * G)
            start += len(rows)
            self.opt.zero_grad(set_to_none=True)
            denom = aggregation_denominator(mask[rows], cfg.loss.agg)
            sums["tok"] += float(mask[rows].sum())
            # A row whose advantage is 0 adds exactly 0 to the loss and its gradient unless a KL term
            # is on. When no row of the mini-batch carries signal (early in training every group is
            # all-wrong) the policy-loss forward and backward are skipped: most of the step's compute.
            # All or nothing on purpose: forwarding a subset would change the batch shapes, hence the
            # float rounding, hence the trajectory, whenever some rows do carry signal.
            live = rows if ref_all is not None or bool((adv[rows] != 0).any()) else rows[:0]
            for micro in (live.split(cfg.micro_batch_size) if live.numel() else ()):
                sub = enc.rows(micro)
                T = sub.completion_ids.shape[1]
                with autocast(cfg.precision, self.model):
                    logp, _ = completion_logprobs(self.model, sub.prompt_ids, sub.prompt_mask, sub.group,
                                                  sub.completion_ids, vision=sub.vision)
                m = sub.completion_mask.to(dev)
                old = old_all[micro, :T].to(dev) if old_all is not None else logp.detach()
                tok_loss, clipped = clipped_policy_loss(logp, old, adv[micro], cfg.loss.eps_low, cfg.loss.eps_high,
                                                        cfg.loss.clip_ratio_c or None,
                                                        cfg.loss.log_ratio_clamp)
                if ref_all is not None:
                    kl = kl_k3(logp, ref_all[micro, :T].to(dev), cfg.loss.kl_clamp or None, cfg.loss.log_ratio_clamp)
                    tok_loss = tok_loss + cfg.loss.kl_coef * kl
                    sums["kl"] += float((kl.detach() * m).sum())
                loss = aggregate(tok_loss, m, cfg.loss.agg, denom)
                loss.backward()
                sums["loss"] += float(loss.detach())
                sums["clip"] += float((clipped * m).sum())
                sums["live"] += float(m.sum())
            aux, am = self.objective.aux_loss(self.model, self.io or self.tok, pair_batches[k], cfg.precision)
            if aux is not None:
                aux.backward()
                am["aux_loss"] = float(aux.detach())
            aux_metrics.append(am)
            for p in self.model.parameters():  # no live rows and no aux loss: a zero gradient, as before
                if p.grad is None and p.requires_grad:
                    p.grad = torch.zeros_like(p)
            max_norm = cfg.optim.grad_clip if cfg.optim.grad_clip > 0 else float("inf")
            grad_norms.append(float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)))
            self.opt.step()
            self.sched.step()
            if self.rollout_engine is not None:  # the next rollouts sample from the updated weights
                self.rollout_engine.sync_weights(self.model)

        is_task = torch.tensor([prompts[i].kind == "task" for i in ro.prompt_of_row])
        task_r = ro.rewards[is_task]
        n_tok = max(sums["tok"], 1.0)
        metrics = {
            "reward_mean": float(task_r.mean()), "reward_std": float(task_r.std()) if task_r.numel() > 1 else 0.0,
            "clip_frac": sums["clip"] / n_tok, "entropy": float(ro.entropy.sum()) / max(float(mask.sum()), 1.0),
            "live_frac": sums["live"] / n_tok,
            "completion_len": float(mask.sum(1).mean()), "pg_loss": sums["loss"] / M,
            "grad_norm": float(np.mean(grad_norms)), "lr": float(self.sched.get_last_lr()[0]),
            "rollout_s": t_rollout, "step_s": time.perf_counter() - t0,
            "task_epoch": float(self.task_stream.epoch),
        }
        if ref_all is not None:
            metrics["kl"] = sums["kl"] / n_tok
        if (~is_task).any():
            metrics["pair_reward_mean"] = float(ro.rewards[~is_task].mean())
        for key in sorted({k for am in aux_metrics for k in am}):
            vals = [am[key] for am in aux_metrics if key in am]
            metrics[key] = float(np.mean(vals))
        metrics["task_batch_hash"] = float(int(stable_hash([p.key for p in tasks], 8), 16))
        metrics.update(getattr(ro, "metrics", {}))  # agentic rollouts: turns, submissions, which reward ran
        return metrics

    # ------------------------------------------------------------------------------ checkpoints

    def save(self, step: int) -> Path:
        cfg = self.cfg
        write_metric_shard(self.root, self.run_id, self._pending)  # before the commit: a replay rewrites it
        self._pending = []
        state = {
            "step": step, "optimizer": self.opt.state_dict(), "scheduler": self.sched.state_dict(),
            "rng": rng_state(), "objective": self.objective.state_dict(), "history": self.history,
            "streams": {"tasks": self.task_stream.state_dict(), "pairs": self.pair_stream.state_dict()},
            "stage_metrics": self.stage_metrics,
        }
        ref_path = getattr(self, "ref_path", None)
        meta = {**self.expected, "run_id": self.run_id, "step": step, "config": to_dict(cfg),
                "init_path": str(self.init_path), "data": self.pools.describe(),
                "ref_path": str(ref_path) if ref_path is not None else None}
        name = ck.step_dir_name(step)
        path = ck.save_checkpoint(self.ckpt_root, name, self.model, self.io or self.tok, state, meta)
        ck.prune(self.ckpt_root, cfg.keep_last)
        self._checkpoint_row(path, step)
        return path

    def _checkpoint_row(self, path: Path, step: int) -> None:
        """The checkpoint's store row, under a name per step: writing it again (on resume) replaces it."""
        cfg = self.cfg
        write_checkpoint_row(self.root, ckpt_id=checkpoint_identity(path), path=path, model=cfg.model,
                             arm=cfg.objective.name, seed=cfg.seed, step=step, run_id=self.run_id,
                             parent_ckpt_id=self.init_identity)

    # ------------------------------------------------------------------------------------ loop

    def run(self, stop_at: int | None = None, on_checkpoint: Callable[[int, Path], None] | None = None) -> TrainResult:
        from tqdm import tqdm

        cfg = self.cfg
        last = self.resumed_from
        bar = tqdm(total=self.total_steps, initial=self.step, desc=f"train {self.run_id}", unit="step",
                   file=sys.stderr, disable=not cfg.progress)
        for step in range(self.step + 1, self.total_steps + 1):
            m = self.train_step(step)
            self.step = step
            self.history.append({"step": step, **m})
            self._pending.extend(metric_rows(self.run_id, step, m))
            bar.update(1)
            bar.set_postfix(reward=f"{m['reward_mean']:.3f}", **({"ca_acc": f"{m['ca_select_acc']:.2f}"}
                                                                   if "ca_select_acc" in m else {}))
            stop = stop_at is not None and step >= stop_at
            if step == self.total_steps or stop or (cfg.save_every and step % cfg.save_every == 0):
                last = self.save(step)
                if on_checkpoint is not None:
                    on_checkpoint(step, last)
            if stop:
                break
        bar.close()
        if last is None:
            raise CtxbenchError(f"{self.run_id}: nothing to train (0 steps) and no checkpoint")
        if self.step >= self.total_steps:
            write_run_row(self.root, run_id=self.run_id, model=cfg.model, ckpt_id=checkpoint_identity(last),
                          arm=cfg.objective.name, seed=cfg.seed, config_hash=self.expected["config_fingerprint"],
                          config=to_dict(cfg), status="complete")
        return TrainResult(last, self.run_id, self.history, self.run_dir, self.step, self.resumed_from)


def train(cfg: TrainConfig, root: str | Path, resume: str | Path = "auto", *, benchmarks: dict | None = None,
          stop_at: int | None = None, on_checkpoint: Callable[[int, Path], None] | None = None) -> TrainResult:
    """Train one arm (cfg.objective) and return its last checkpoint, run id and per-step metrics.

    resume: "auto" continues from the newest complete checkpoint of this run (falling back past a
    damaged one, refusing a changed config / objective / data), "never" discards them and starts over,
    or a checkpoint folder. stop_at: stop (with a checkpoint) after that step, as a preemption would.
    benchmarks: name -> Benchmark instances overriding the registry (tests, custom tasks).
    """
    t = Trainer(cfg, root, benchmarks)
    t.setup(resume)
    return t.run(stop_at=stop_at, on_checkpoint=on_checkpoint)
