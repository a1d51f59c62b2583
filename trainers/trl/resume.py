"""Exact resume of an `--engine trl` run: what a checkpoint holds beside the weights, and how it is put back.

A resumed run must end with the weights of an uninterrupted one (tests/trainers/trl/test_trl_resume.py
holds them bit for bit on CPU). The pieces, and where each comes back:

  - global step, epoch, consumed batches: HF Trainer's own `train(resume_from_checkpoint=FOLDER)`. It
    reads `trainer_state.json` (HF's TrainerState, written into our checkpoint folder before its
    manifest, so the checkpoint stays atomic) and fast-forwards the dataloader past the consumed
    batches; the dataset is the compact trainer's draw order laid out up front with shuffle off, so
    the next batch is the one the uninterrupted run took next.
  - weights: HF loads `model.safetensors` into the policy. The policy is first built from the run's
    reference path (the starting model, or the DA-SFT output), because TRL builds its frozen KL
    reference from the policy's own path; loading the checkpoint first would make it the reference.
  - optimizer and LR schedule (same max_steps, so the same schedule): from our trainer_state.pt.
  - every rank's RNG (python, numpy, torch CPU, CUDA): TRL's default generation samples from each
    process's own RNG (seeded per device) and TRL shuffles each generation batch with it, so each
    rank's state is gathered to the main process (accelerate's gather_object) when a checkpoint is
    written, and each rank gets its own back. HF restores it at the one point where that is exact:
    after the fast-forward and the fetch of the next update's batches, where the uninterrupted run
    stood when it wrote the checkpoint (a DataLoader draws its base seed from the global RNG when its
    iterator is created, so restoring before that would be one draw off).
  - TRL's loop state: `_step` (micro-steps; it decides when TRL generates and which micro-batch's
    share of the pair batch ContextRL uses) is restored. `_buffered_inputs` needs nothing: checkpoints
    sit at rollout-step boundaries (global_step % ppo_mini_batches == 0, num_iterations = 1), where
    `_step % steps_per_generation == 0` and TRL generates afresh; `_metrics` is emptied by every log.
  - the objective's state, metric history, stage metrics: the engine, from the same trainer_state.pt.

Why HF's resume path with our own load hooks, and not HF's optimizer.pt / rng_state_N.pth files: HF's
path is the one TRL is tested under (step bookkeeping, dataloader skipping, when RNG is restored), so
it is used as is; but HF resumes silently inexactly when an RNG file is missing (an info log), and the
process count is not checked. The state lives in one file the manifest covers, and the hooks below
raise a one-line CheckpointError when a piece is missing or the process count changed.

Sharded optimizers (FSDP, DeepSpeed ZeRO) are not resumed: their state is spread over the ranks and not
gathered into the checkpoint (trainer_state.pt's "optimizer" is None); such a run is refused with
one line, as accelerate's save_state would need a sharded layout of its own.
"""

from __future__ import annotations

from pathlib import Path

import torch

from trainers import checkpoint as ck
from trainers.grpo import rng_state, set_rng_state

HF_STATE = "trainer_state.json"  # transformers.trainer.TRAINER_STATE_NAME


def local_rng() -> dict:
    """This process's RNG states (CUDA's too where there is a GPU: generation samples there)."""
    s = rng_state()
    if torch.cuda.is_available():
        s["cuda"] = torch.cuda.get_rng_state()
    return s


def capture(trainer) -> dict:
    """The resume state of a TRL trainer at a rollout-step boundary. Every process must call it (the RNG
    states are gathered); the result is complete on every process, the main one writes it."""
    from accelerate.utils import gather_object

    rngs = gather_object([local_rng()])
    sharded = trainer.is_fsdp_enabled or trainer.is_deepspeed_enabled
    return {"rng_per_rank": rngs, "trl_step": int(trainer._step),
            "scheduler": trainer.lr_scheduler.state_dict(),
            "optimizer": None if sharded else trainer.optimizer.state_dict()}


def write_hf_state(trainer, folder: Path) -> None:
    """HF's TrainerState (global step, epoch, log history) as HF writes it, for its resume path."""
    trainer.state.save_to_json(str(Path(folder) / HF_STATE))


def check_resumable(state: dict, meta: dict, processes: int, folder: Path) -> dict | None:
    """The state to resume a partly trained run from (None for a step-0 checkpoint: the DA-SFT output,
    written before TRL's trainer existed, is a starting point, not a trainer state)."""
    if int(meta["step"]) == 0:
        return None
    if "rng_per_rank" not in state or not (Path(folder) / HF_STATE).exists():
        raise ck.CheckpointError(f"{folder} has no TRL trainer state (written by a ctxbench without TRL resume); "
                                 "use --resume never to retrain the run")
    if state.get("optimizer") is None:
        raise ck.CheckpointError(f"{folder} was written under FSDP / DeepSpeed ZeRO, whose sharded optimizer state "
                                 "is not saved, so it cannot be resumed exactly; use --resume never to retrain")
    saved = len(state["rng_per_rank"])
    if saved != processes:
        raise ck.CheckpointError(f"{folder} was written by {saved} process(es), this run has {processes}: every rank's "
                                 f"RNG state is part of an exact resume; relaunch with {saved} processes")
    return state


class ResumeHooks:
    """HF Trainer's load hooks, fed from a ctxbench checkpoint's trainer state (set by `arm`)."""

    resume_state: dict | None = None

    def _load_optimizer_and_scheduler(self, checkpoint):
        if self.resume_state is None or checkpoint is None:
            return super()._load_optimizer_and_scheduler(checkpoint)
        self.optimizer.load_state_dict(self.resume_state["optimizer"])
        self.lr_scheduler.load_state_dict(self.resume_state["scheduler"])

    def _load_rng_state(self, checkpoint):
        if self.resume_state is None or checkpoint is None:
            return super()._load_rng_state(checkpoint)
        s = self.resume_state["rng_per_rank"][self.accelerator.process_index]
        set_rng_state(s)
        if "cuda" in s and torch.cuda.is_available():
            torch.cuda.set_rng_state(s["cuda"])


def arm(trainer, state: dict) -> None:
    """Prepare a freshly built trainer to continue from `state` (then call train(resume_from_checkpoint=...))."""
    trainer.resume_state = state
    trainer._step = int(state["trl_step"])
