"""Compact trainers: one shared GRPO loop (grpo.py), the arms declared by name (arms.py, torch-free) and
implemented as objects (objectives.py), the loss maths as pure functions (losses.py), atomic resumable
checkpoints (checkpoint.py).

    from trainers import make_config, train, warmup_sft
    cfg = make_config({"objective": {"name": "contextrl"}, "data": {"tasks": ["trace-qa"], "pairs": "p.jsonl"}})
    result = train(cfg, root="runs")            # TrainResult(ckpt_dir, run_id, metrics, ...)

Importing this package is cheap: torch and transformers load on first use of a name below.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "train": "grpo", "Trainer": "grpo", "TrainResult": "grpo",
    "warmup_sft": "sft", "run_sft": "sft",
    "TrainConfig": "config", "make_config": "config", "load_train_config": "config", "RECIPES": "config",
    "run_id_for": "config",
    "OBJECTIVES": "objectives", "Objective": "objectives", "make_objective": "objectives",
    "ChoiceScorer": "objectives",
    "CheckpointError": "checkpoint", "verify_checkpoint": "checkpoint", "find_resume": "checkpoint",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'trainers' has no attribute {name!r}")
