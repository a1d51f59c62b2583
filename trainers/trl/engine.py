"""`ctxbench train --engine trl`: one arm on TRL's GRPOTrainer, with the compact trainer's data, outputs
and identities, so eval, run-ablation, the store and the app cannot tell the engines apart.

Same as the compact trainer (trainers/grpo.py), by calling its code:
  - the warm-up SFT (cached, shared by every arm and seed), the data pools and budget (build_pools),
    the objective (make_objective), the DA-SFT stage (Objective.before_rl, its output saved as step 0
    and used as the KL reference, as there);
  - the batches: the task and pair streams are drawn by the compact trainer's own `Trainer.draw`, up
    front, and laid out as TRL's dataset in that order (shuffle off), so every arm and both engines see
    the same prompts at the same step for a seed;
  - the outputs: checkpoints in trainers/checkpoint.py's layout (save_pretrained folder, trainer
    state, meta.json, MANIFEST.json last, atomic), metric shards, checkpoint rows and the run row
    (trainers/metrics.py), written by the main process only.

Different, on purpose and stated: the run id ends in "-trl" (a run trained twice, once per engine, is
two runs); meta.json says `"engine": "trl"`; a checkpoint also holds HF's trainer_state.json, and
its trainer state holds every rank's RNG state and TRL's micro-step counter beside the compact
trainer's pieces (trainers/trl/resume.py).

Resume (`--resume auto`, the default) continues a partly trained run from its newest complete
checkpoint and ends with the weights and metric history of an uninterrupted run (resume.py says what
is restored, where, and why through HF Trainer's own resume path). Refused, with one line: a checkpoint
written by another process count (each rank's RNG is part of the state), or under FSDP / DeepSpeed
ZeRO (the sharded optimizer state is not saved); `--resume PATH` (the compact engine's). Store rows: a
replayed step rewrites its metric shard under the same name, and the resumed-from checkpoint's row
and a finished run's run row are rewritten too (same shard names), so a kill between a checkpoint and
its row loses nothing and duplicates nothing.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ctxbench.core.config import to_dict
from ctxbench.core.errors import CtxbenchError
from ctxbench.core.hashing import stable_hash
from ctxbench.models.presets.registry import checkpoint_identity
from trainers import checkpoint as ck
from trainers.config import TrainConfig, run_id_for
from trainers.data import Stream, build_pools
from trainers.grpo import Trainer, TrainResult, rl_pair_batches, run_fingerprints
from trainers.metrics import metric_rows, write_checkpoint_row, write_metric_shard, write_run_row
from trainers.modeling import encode, load_model, load_tokenizer, pad_id, render, resolve_model_path
from trainers.objectives import make_objective
from trainers.trl import resume as trl_resume
from trainers.trl.config import check_expressible, geometry, grpo_config
from trainers.trl.metrics import step_metrics

ENGINE = "trl"


class _Draws:
    """The compact trainer's draw order, run ahead of time: `Trainer.draw` on the same streams."""

    draw = Trainer.draw

    def __init__(self, cfg: TrainConfig, pools):
        self.cfg, self.pools = cfg, pools
        self.task_stream = Stream(len(pools.tasks), cfg.seed, "tasks")
        self.pair_stream = Stream(len(pools.pairs), cfg.seed, "pairs")


class _WithStateDict:
    """A model whose save_pretrained writes a gathered (FSDP / ZeRO-3) state dict."""

    def __init__(self, model, state_dict):
        self.model, self.state_dict = model, state_dict

    def save_pretrained(self, folder):
        self.model.save_pretrained(folder, state_dict=self.state_dict)


class TRLEngine:
    def __init__(self, cfg: TrainConfig, root: str | Path, benchmarks: dict | None = None,
                 trl_args: dict[str, Any] | None = None, rollout_func: Callable | None = None):
        self.cfg, self.root, self.benchmarks = cfg, Path(root), benchmarks
        self.trl_args, self.rollout_func = dict(trl_args or {}), rollout_func
        self.run_id = cfg.run_name or f"{run_id_for(cfg)}-{ENGINE}"
        self.run_dir = self.root / "train" / self.run_id
        self.ckpt_root = self.run_dir / "checkpoints"
        self.history: list[dict] = []
        self.stage_metrics: dict[str, list[dict]] = {}
        self._pending: list[dict] = []
        self._updates: list[dict] = []
        self.step = 0
        self.resumed_from: Path | None = None
        self.resume_state: dict | None = None  # a partly trained run's trainer state (trainers/trl/resume.py)
        self.done: Path | None = None
        self.io = None  # text policies only (the compact trainer's DA-SFT stage reads it)

    # ------------------------------------------------------------------------------ setup

    def setup(self, resume: str | Path = "auto") -> None:
        import torch
        from accelerate import PartialState

        cfg = self.cfg
        check_expressible(cfg)
        self.state = PartialState(cpu=not torch.cuda.is_available())  # as GRPOConfig(use_cpu): under torchrun
        # on a CPU machine that makes the ranks one gloo MULTI_CPU group, not a single process each
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        if cfg.warmup.enabled:
            from trainers.sft import warmup_sft

            with self.state.main_process_first():
                self.init_path = warmup_sft(cfg, self.root, self.benchmarks)
            self.init_identity = checkpoint_identity(self.init_path)
        else:
            self.init_path, self.init_identity = resolve_model_path(cfg.model)
        from trainers.vision import is_vlm_path

        if is_vlm_path(self.init_path):
            raise CtxbenchError(f"--engine trl trains text models; {cfg.model!r} is a vision-language checkpoint "
                                "(train it with --engine compact)")
        self.tok = load_tokenizer(self.init_path)
        self.pad = pad_id(self.tok)
        self.pools = build_pools(cfg, self.count_tokens, self.benchmarks)
        self.objective = make_objective(cfg.objective, cfg.template)
        self.expected = run_fingerprints(cfg, self.objective, self.pools, self.init_identity)
        self.steps_per_epoch = max(1, len(self.pools.tasks) // cfg.prompts_per_step)
        self.total_steps = cfg.max_steps or cfg.epochs * self.steps_per_epoch
        self._layout()
        self._check_existing(resume)
        if self.done is not None:
            return
        if self.resumed_from is not None:  # TRL builds its KL reference from the policy's own path: load the
            self.model = load_model(self.ref_path)  # reference; HF's resume puts the checkpoint's weights in
        else:
            self.model = load_model(self.init_path)
            self.ref_path = self.init_path
            if self.objective.before_rl(self):  # the DA-SFT stage; its output is step 0 and the KL reference
                self.ref_path = self.ckpt_root / ck.step_dir_name(0)
                self._save(0, self.model, self.model.state_dict())
                self.model = load_model(self.ref_path)  # TRL builds the reference from the policy's own path
        self._build_trainer()
        if self.resume_state is not None:
            trl_resume.arm(self.trainer, self.resume_state)

    def count_tokens(self, text: str) -> int:
        return len(encode(self.tok, render(self.tok, text, template=self.cfg.template)))

    def record_stage_metrics(self, stage: str, metrics: list[dict]) -> None:
        self.stage_metrics[stage] = metrics

    def _layout(self) -> None:
        """Every step's prompts, in the compact trainer's order, and every optimizer step's pair batch."""
        from trainers.trl.trainer import ArmSide

        cfg, M = self.cfg, self.cfg.ppo_mini_batches
        drawer, per_mb = _Draws(cfg, self.pools), cfg.prompts_per_step // M
        rows, update_draws, self.task_keys = [], [], []
        for _ in range(self.total_steps):
            tasks, pair_batches = drawer.draw()
            self.task_keys.append([p.key for p in tasks])
            rl_pairs = rl_pair_batches(cfg, pair_batches)
            for k in range(M):
                rows.extend(tasks[k * per_mb:(k + 1) * per_mb] + self.objective.rl_extra(rl_pairs[k]))
                update_draws.append(pair_batches[k])
        self.rows_per_update = len(rows) // (self.total_steps * M) * cfg.rollout.group_size
        self.stream_state = {"tasks": drawer.task_stream.state_dict(), "pairs": drawer.pair_stream.state_dict()}
        texts = [render(self.tok, p.text, p.prefill, template=cfg.template) for p in rows]
        self.dataset_rows = {"prompt": texts, "key": [p.key for p in rows], "kind": [p.kind for p in rows]}
        self.side = ArmSide(cfg, self.objective, self.tok, {p.key: p for p in rows},
                            {t: p.stop for t, p in zip(texts, rows)}, update_draws)

    def _check_existing(self, resume) -> None:
        if resume == "never":
            if self.ckpt_root.exists() and self.state.is_main_process:
                print(f"ctxbench: resume='never': discarding earlier checkpoints of {self.run_id}", file=sys.stderr)
                shutil.rmtree(self.ckpt_root)
            self.state.wait_for_everyone()
            return
        if resume != "auto":
            raise CtxbenchError("--engine trl cannot start from a checkpoint folder (--resume PATH); use "
                                "--resume never or --engine compact")
        if self.state.is_main_process:  # half-written folders of killed processes: one rank cleans, all read
            ck.clean_stale_tmp(self.ckpt_root)
        self.state.wait_for_everyone()
        found = ck.find_resume(self.ckpt_root)
        if found is None:
            return
        state, meta = ck.load_state(found)
        if meta.get("engine") != ENGINE:
            raise ck.CheckpointError(f"{found} was written by the compact engine, not --engine trl; use another "
                                     "--run-name, or --engine compact to continue it")
        ck.check_compatible(meta, self.expected, found)
        self.step, self.history = int(meta["step"]), list(state["history"])
        self.stage_metrics = dict(state.get("stage_metrics", {}))
        self.resumed_from = found
        if self.step >= self.total_steps:
            self.done = found
        else:
            self.resume_state = trl_resume.check_resumable(state, meta, self.state.num_processes, found)
            self.ref_path = Path(meta["ref_path"])
            self.objective.load_state_dict(state["objective"])
            if self.state.is_main_process:
                print(f"ctxbench: resuming {self.run_id} from {found.name} (step {self.step}/{self.total_steps})",
                      file=sys.stderr)
        if self.state.is_main_process:  # a kill between a checkpoint and its row (or a prune) leaves it undone
            self._checkpoint_row(found, self.step)
            ck.prune(self.ckpt_root, self.cfg.keep_last)

    def _build_trainer(self) -> None:
        from datasets import Dataset

        from trainers.trl.trainer import CtxbenchGRPOTrainer

        cfg = self.cfg
        self.geo = geometry(cfg, self.rows_per_update, self.state.num_processes)
        args = grpo_config(cfg, self.geo, self.total_steps * cfg.ppo_mini_batches, self.run_dir / "trl",
                           self.trl_args)
        self.trainer = CtxbenchGRPOTrainer(side=self.side, step_hook=self._on_update, model=self.model, args=args,
                                           train_dataset=Dataset.from_dict(self.dataset_rows),
                                           rollout_func=self.rollout_func)
        if not cfg.progress:  # HF prints every log line when its progress bar is off
            from transformers.trainer_callback import PrinterCallback

            self.trainer.remove_callback(PrinterCallback)

    # --------------------------------------------------------------------------- progress

    def _on_update(self, trainer, logs: dict) -> None:
        """After each optimizer step: a rollout step's metrics once its mini-batches are done; checkpoints."""
        self._updates.append(step_metrics(logs))
        M = self.cfg.ppo_mini_batches
        if trainer.state.global_step % M:
            return
        step = trainer.state.global_step // M
        keys = sorted({k for u in self._updates for k in u})
        m = {k: sum(u[k] for u in self._updates if k in u) / sum(k in u for u in self._updates) for k in keys}
        m["task_batch_hash"] = float(int(stable_hash(self.task_keys[step - 1], 8), 16))
        self._updates = []
        self.step = step
        self.history.append({"step": step, **m})
        self._pending.extend(metric_rows(self.run_id, step, m))
        if step == self.total_steps or (self.cfg.save_every and step % self.cfg.save_every == 0):
            acc = trainer.accelerator
            self._save(step, acc.unwrap_model(trainer.model), acc.get_state_dict(trainer.model), trainer)

    def _save(self, step: int, model, state_dict, trainer=None) -> Path:
        path = self.ckpt_root / ck.step_dir_name(step)
        resumable = trl_resume.capture(trainer) if trainer is not None else None  # every process: gathers RNG
        if self.state.is_main_process:
            write_metric_shard(self.root, self.run_id, self._pending)
            self._pending = []
            state = {"step": step, "engine": ENGINE, "history": self.history, "stage_metrics": self.stage_metrics,
                     "streams": self.stream_state, "objective": self.objective.state_dict()}  # RNG: resume.capture
            if trainer is not None:
                state.update(resumable)
            meta = {**self.expected, "engine": ENGINE, "run_id": self.run_id, "step": step, "config": to_dict(self.cfg),
                    "init_path": str(self.init_path), "data": self.pools.describe(), "ref_path": str(self.ref_path),
                    "num_processes": self.state.num_processes, "trl_args": self.trl_args}
            extra = (lambda folder: trl_resume.write_hf_state(trainer, folder)) if trainer is not None else None
            ck.save_checkpoint(self.ckpt_root, path.name, _WithStateDict(model, state_dict), self.tok, state, meta,
                               extra)
            ck.prune(self.ckpt_root, self.cfg.keep_last)
            self._checkpoint_row(path, step)
        self.state.wait_for_everyone()
        return path

    def _checkpoint_row(self, path: Path, step: int) -> None:
        write_checkpoint_row(self.root, ckpt_id=checkpoint_identity(path), path=path, model=self.cfg.model,
                             arm=self.cfg.objective.name, seed=self.cfg.seed, step=step, run_id=self.run_id,
                             parent_ckpt_id=self.init_identity)

    # -------------------------------------------------------------------------------- run

    @property
    def is_main(self) -> bool:
        return self.state.is_main_process

    def run(self) -> TrainResult:
        if self.done is None:
            partial = self.resume_state is not None
            self.trainer.train(resume_from_checkpoint=str(self.resumed_from) if partial else None)
            if self.step < self.total_steps:
                raise CtxbenchError(f"{self.run_id}: TRL stopped at step {self.step} of {self.total_steps}")
        last = self.ckpt_root / ck.step_dir_name(self.step)
        if self.is_main:  # a finished run's too: a kill after its last checkpoint would lose it (same shard name)
            cfg = self.cfg
            write_run_row(self.root, run_id=self.run_id, model=cfg.model, ckpt_id=checkpoint_identity(last),
                          arm=cfg.objective.name, seed=cfg.seed, config_hash=self.expected["config_fingerprint"],
                          config=to_dict(cfg), status="complete")
        return TrainResult(last, self.run_id, self.history, self.run_dir, self.step, self.resumed_from)


def train_trl(cfg: TrainConfig, root: str | Path, resume: str | Path = "auto", *, benchmarks: dict | None = None,
              trl_args: dict[str, Any] | None = None, rollout_func: Callable | None = None) -> TrainResult:
    """Train one arm on TRL's GRPOTrainer (the library entry point behind `ctxbench train --engine trl`).

    trl_args: operational GRPOConfig fields (trainers.trl.config.OPERATIONAL), e.g. {"use_vllm": True}.
    rollout_func: TRL's custom-rollout hook, passed through (tests use a deterministic one)."""
    engine = TRLEngine(cfg, root, benchmarks, trl_args, rollout_func)
    engine.setup(resume)
    return engine.run()
