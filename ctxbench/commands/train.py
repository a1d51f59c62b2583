"""`ctxbench train`: train one arm (GRPO / ContextRL / DA-RL / DA-SFT) and write transformers checkpoints.

A thin wrapper over the compact trainers (trainers/): it resolves one TrainConfig (recipe defaults, then
the --config file, then flags), runs the shared warm-up SFT when the config enables it (cached under the
run root by its key, so every arm and seed starts from the same checkpoint), trains with a progress bar,
ingests the run's shards (per-step metrics, checkpoint and run rows) and prints the final checkpoint
folder, which `ctxbench eval --ckpt` and `ctxbench probe --ckpt` score.

Why resume is the default: a killed or preempted run re-run with the same settings continues from its
last complete checkpoint (a finished run trains nothing), and a run whose config, objective or data
changed under the same run name is refused in one line instead of silently starting over or mixing runs.
The run name defaults to objective-model-seed-<config hash>, so a changed config normally becomes a new
run; the refusal guards an explicit --run-name and pair or task data that changed behind the same path.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from pathlib import Path

# Trained on when neither --tasks nor the config names any (a short-prompt embedded task,
# so the tiny preset's warm-up SFT takes seconds, not the ~6 minutes the long-horizon tasks took).
DEFAULT_TASKS = ("note-lookup",)
# Warm-up settings for the default task when the config leaves them unset: a format lesson (reply with a digit, then stop), not a training
# set. 128 note-lookup items x 2 epochs = 16 SFT steps; at lr 3e-3 the loss reaches ~1.4 (format learned) by then.
DEFAULT_WARMUP = {"warmup.max_items": 128, "warmup.lr": 3e-3}
RESUME_HELP = ("auto: continue from the last complete checkpoint of this run (default; refuses a changed "
               "config, objective or data); never: discard this run's checkpoints and start over; or a "
               "checkpoint folder to start from")


def add_parser(sub) -> None:
    from trainers.arms import arm_names, baseline, names_text

    p = sub.add_parser(
        "train", help=f"train one arm ({', '.join(arm_names())}) and write checkpoints",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train one arm with the shared GRPO loop and write transformers checkpoints under\n"
                    "<root>/train/<run>/checkpoints/step-NNNNNNN/ (atomic: MANIFEST.json with sha256s is\n"
                    "written last). Settings: the recipe's defaults, then --config, then the flags below.\n"
                    "The warm-up SFT (tiny recipe) runs once and is shared by every arm and seed. A re-run\n"
                    "with the same settings resumes (a finished run just reports) instead of starting over.\n"
                    "Metrics, checkpoint and run rows are ingested into the store for report and app.",
        epilog="examples:\n"
               "  ctxbench train --objective grpo --model tiny --seed 0\n"
               "  ctxbench train --objective contextrl --seed 1 --pairs runs/pairs/trajectory-xxxx/pairs.jsonl \\\n"
               "      --set objective.ca_coef=0.05 --max-steps 20\n"
               "  ctxbench train --config ablations/embedded.toml --objective da-rl   # its [train] table\n"
               "  accelerate launch --config_file configs/accelerate/node8_fsdp.yaml -m ctxbench.cli train \\\n"
               "      --engine trl --objective contextrl --model hf:/models/qwen3-8b --recipe paper-agentic\n"
               "  ctxbench eval --ckpt <printed checkpoint folder> --suite embedded-long")
    p.add_argument("--objective", metavar="NAME",
                   help=f"the arm: {names_text()} (default: the config's, else {baseline()})")
    p.add_argument("--model", metavar="PRESET|hf:PATH",
                   help="starting model: a preset (tiny, smollm2-135m) or hf:PATH (default: the config's, else tiny)")
    p.add_argument("--seed", type=int, help="training seed (default: the config's, else 0)")
    p.add_argument("--config", metavar="FILE",
                   help="TOML with TrainConfig keys (top level, or an ablation spec's [train] table); "
                        "unknown keys are errors")
    from trainers.config import RECIPES

    p.add_argument("--recipe", metavar="NAME",
                   help=f"defaults to start from: {', '.join(RECIPES)} (tiny: CPU, warm-up SFT on; paper-*: one "
                        "per paper model, the released scripts' settings, trainers/config.py)")
    p.add_argument("--tasks", metavar="A,B", help=f"benchmarks to train on (default: the config's, else "
                                                   f"{','.join(DEFAULT_TASKS)})")
    p.add_argument("--pairs", metavar="FILE", help="contrastive pairs JSONL (`ctxbench pairs build`); default for "
                                                   "the pair-using arms: build the default trajectory pairs")
    p.add_argument("--max-steps", type=int, metavar="N", help="rollout steps (default: epochs over the task pool)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="sets",
                   help="override any config key by its dotted path, value in TOML syntax "
                        "(e.g. --set optim.lr=1e-4 --set rollout.group_size=4); repeatable")
    p.add_argument("--run-name", metavar="NAME", help="run folder name (default: objective-model-seed-<config hash>)")
    p.add_argument("--resume", default="auto", metavar="auto|never|PATH", help=RESUME_HELP)
    p.add_argument("--stop-after", type=int, metavar="STEP",
                   help="stop with a checkpoint after this step, as a preemption would (a re-run continues)")
    p.add_argument("--engine", choices=("compact", "trl"), default="compact",
                   help="compact: ctxbench's own loop (one process, resumable); trl: the same arm on TRL's "
                        "GRPOTrainer, for accelerate / DeepSpeed / FSDP (run it under `accelerate launch "
                        "--config_file configs/accelerate/...`); same checkpoints, metrics and store rows")
    p.add_argument("--trl", action="append", default=[], metavar="KEY=VALUE", dest="trl_args",
                   help="with --engine trl: an operational GRPOConfig field, value in TOML syntax (e.g. "
                        "--trl use_vllm=true --trl gradient_checkpointing=true); fields that change what is "
                        "trained are refused (they come from the training config)")
    p.add_argument("--no-ingest", action="store_true", help="leave the shards for a later `ctxbench ingest`")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


# ------------------------------------------------------------------------------------------ config

def read_config_file(path: str) -> dict:
    from ctxbench.core.config import read_toml

    data = read_toml(path)
    if isinstance(data.get("train"), dict):  # an ablation spec: take its [train] table
        data = data["train"]
    return data


def check_objective(name: str) -> None:
    from ctxbench.core.errors import ConfigError, did_you_mean
    from trainers.arms import arm_names

    if name not in arm_names():
        raise ConfigError(f"--objective: unknown objective {name!r}{did_you_mean(name, arm_names())}")


def flag_overrides(args: argparse.Namespace) -> dict:
    """Flags as dotted overrides (None = not given); --set first so that the named flags win."""
    from ctxbench.core.config import parse_sets

    model = args.model
    if model and model.startswith("hf:"):  # store an absolute path: the run must not depend on the cwd
        model = "hf:" + str(Path(model[3:]).expanduser().resolve())
    over = parse_sets(args.sets)
    named = {
        "objective.name": args.objective, "model": model, "seed": args.seed, "recipe": args.recipe,
        "max_steps": args.max_steps, "run_name": args.run_name,
        "data.tasks": [t.strip() for t in args.tasks.split(",") if t.strip()] if args.tasks else None,
        "data.pairs": str(Path(args.pairs).resolve()) if args.pairs else None,
    }
    over.update({k: v for k, v in named.items() if v is not None})
    if args.quiet:
        over["progress"] = False
    return over


def build_config(args: argparse.Namespace, root: Path):
    """The resolved TrainConfig: recipe, then --config, then flags. Errors name the file or the flag."""
    from ctxbench.core.config import deep_merge, dotted, has_value, naming_file
    from ctxbench.core.errors import ConfigError, CtxbenchError
    from trainers.arms import get_arm
    from trainers.config import make_config

    if args.objective is not None:
        check_objective(args.objective)
    base = read_config_file(args.config) if args.config else {}
    over = flag_overrides(args)
    if args.pairs and not Path(args.pairs).exists():
        raise CtxbenchError(f"--pairs: file not found: {args.pairs} (build one with `ctxbench pairs build`)")
    merged = deep_merge(base, dotted(over))
    if not has_value(merged, "data.tasks"):
        over["data.tasks"] = list(DEFAULT_TASKS)
        # only with the default task: a --config or --tasks run keeps its own (or its recipe's) warm-up, so
        # `train --config SPEC` still trains exactly what the ablation's arm trains
        for key, value in DEFAULT_WARMUP.items():
            if not has_value(merged, key):
                over[key] = value
    try:
        cfg = make_config(base, **over)
    except ConfigError as e:
        if args.config:
            with naming_file(args.config):
                make_config(base)  # the file alone is wrong: name the file
        raise ConfigError(f"command-line options: {e}") from None
    if get_arm(cfg.objective.name).uses_pairs and not cfg.data.pairs:
        cfg = _with_default_pairs(cfg, root, progress=cfg.progress)
    return cfg


def _with_default_pairs(cfg, root: Path, progress: bool):
    """The pair-using arms need pairs: build (or reuse) the default trajectory pairs, as `probe` does."""
    from dataclasses import replace

    from ctxbench.pairs.domains import build_pairs
    from ctxbench.pairs.trajectory.config import TrajectoryPairsConfig

    res = build_pairs(TrajectoryPairsConfig(), root, progress=progress)
    print(f"pairs: default trajectory build {res.build_id} ({res.n_train} train) -> {res.path}", file=sys.stderr)
    return replace(cfg, data=replace(cfg.data, pairs=str(Path(res.path).resolve())))


# ------------------------------------------------------------------------------------------ resume

def config_changes(old: dict, new: dict, limit: int = 4) -> list[str]:
    """'optim.lr 0.001 -> 0.0005' for each dotted key whose value differs (operational fields ignored)."""
    from ctxbench.core.config import flatten
    from trainers.config import OPERATIONAL_FIELDS

    a = flatten(json.loads(json.dumps(old, default=str)))
    b = flatten(json.loads(json.dumps(new, default=str)))
    keys = sorted(k for k in a.keys() | b.keys() if k.split(".")[0] not in OPERATIONAL_FIELDS and a.get(k) != b.get(k))
    out = [f"{k} {a.get(k)!r} -> {b.get(k)!r}" for k in keys[:limit]]
    if len(keys) > limit:
        out.append(f"and {len(keys) - limit} more")
    return out


def refusal_message(trainer, resume: str, err: Exception) -> str:
    """One line saying what changed since the checkpoint and what to do about it."""
    from ctxbench.core.config import to_dict
    from trainers import checkpoint as ck

    labels = {"config_fingerprint": "training config", "objective_fingerprint": "objective",
              "data_fingerprint": "training data (tasks, pairs or budget)", "init_identity": "starting model"}
    try:
        folder = ck.find_resume(trainer.ckpt_root) if resume == "auto" else Path(resume)
        meta = json.loads((folder / ck.META).read_text(encoding="utf-8"))
    except Exception:  # noqa: BLE001 - fall back to the trainer's own words
        return " ".join(str(err).split())
    changed = [labels.get(k, k) for k, v in trainer.expected.items() if meta.get(k) != v]
    details = config_changes(meta.get("config", {}), to_dict(trainer.cfg))
    return (f"cannot resume run {trainer.run_id} from {folder}: the {', '.join(changed) or 'run'} changed"
            + (f" ({'; '.join(details)})" if details else "")
            + "; use --run-name NEW for a separate run, --resume never to retrain this run from scratch, "
              "or restore the original settings")


# ------------------------------------------------------------------------------------------ run

def make_trainer(args: argparse.Namespace, cfg, root: Path):
    """The compact Trainer, or the TRL engine (same setup/run/outputs; it takes no --stop-after)."""
    from ctxbench.core.errors import ConfigError

    if args.engine == "compact":
        if args.trl_args:
            raise ConfigError("--trl needs --engine trl")
        from trainers.grpo import Trainer

        return Trainer(cfg, root)
    if args.stop_after is not None:
        raise ConfigError("--stop-after needs --engine compact (the trl engine stops only at its max steps)")
    from ctxbench.core.config import parse_sets
    from trainers.trl.engine import TRLEngine

    return TRLEngine(cfg, root, trl_args=parse_sets(args.trl_args))


@contextlib.contextmanager
def _hf_bars(enabled: bool):
    """With --quiet, also silence transformers' own load/save progress bars (restored afterwards)."""
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    if not enabled:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was and not enabled:
            hf_logging.enable_progress_bar()


def summary_line(res, trainer, cfg, seconds: float, already_done: bool) -> str:
    hist = res.metrics
    parts = [f"trained {res.run_id}: objective {cfg.objective.name}, model {cfg.model}, seed {cfg.seed}",
             f"step {res.final_step}/{trainer.total_steps}"]
    if already_done:
        parts.append("already complete, nothing trained")
    elif res.resumed_from is not None:
        parts.append(f"resumed from {res.resumed_from.name}")
    if hist:
        parts.append(f"reward {hist[0]['reward_mean']:.3f} -> {hist[-1]['reward_mean']:.3f}")
        if "ca_select_acc" in hist[-1]:
            parts.append(f"selection acc {hist[-1]['ca_select_acc']:.2f}")
    d = trainer.pools.describe()
    parts.append(f"data {d['tasks']} task items + {d['pairs']} pairs")
    parts.append(f"{seconds:.1f} s")
    return ", ".join(parts)


def run(args: argparse.Namespace) -> int:
    from ctxbench.commands import root_of
    from ctxbench.core.errors import CtxbenchError

    root = root_of(args)
    cfg = build_config(args, root)
    resume = args.resume
    if resume not in ("auto", "never"):
        if not Path(resume).is_dir():
            raise CtxbenchError(f"--resume: {resume!r} is neither auto, never nor a checkpoint folder")
        resume = str(Path(resume).resolve())

    from trainers.checkpoint import CheckpointError

    t0 = time.perf_counter()
    trainer = make_trainer(args, cfg, root)
    print(f"run {trainer.run_id} -> {trainer.run_dir}", file=sys.stderr)
    with _hf_bars(not args.quiet):
        try:
            trainer.setup(resume)
        except CheckpointError as e:
            if hasattr(trainer, "expected") and "cannot resume" in str(e):
                raise CtxbenchError(refusal_message(trainer, resume, e)) from None
            raise CtxbenchError(" ".join(str(e).split())) from None
        already_done = trainer.step >= trainer.total_steps
        res = trainer.run() if args.engine == "trl" else trainer.run(stop_at=args.stop_after)
    seconds = time.perf_counter() - t0
    if not getattr(trainer, "is_main", True):  # another process of an `accelerate launch`: the main one reports
        return 0
    if not args.no_ingest:
        from ctxbench.store.ingest import ingest

        added = ingest(root, progress=False)
        print("ingested: " + ", ".join(f"{k} +{v}" for k, v in added.items() if v) if any(added.values())
              else "ingested: nothing new", file=sys.stderr)
    if res.final_step < trainer.total_steps:
        print(f"stopped after step {res.final_step} of {trainer.total_steps}; re-run the same command to continue",
              file=sys.stderr)
    print(f"checkpoint: {res.ckpt_dir}")
    print(summary_line(res, trainer, cfg, seconds, already_done))
    return 0
