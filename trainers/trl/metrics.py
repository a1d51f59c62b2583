"""TRL's per-step log, renamed to the compact trainer's metric names (the store's train_metrics rows).

Why a rename table: the report and the app read `reward_mean`, `clip_frac`, `ca_select_acc` ... by name;
a TRL-trained run must land under the same names or it would look like a different kind of run. The
ctxbench-defined quantities (task-only reward, policy loss, the objective's metrics) are computed by
the subclass under a `ctxbench/` prefix; the rest are TRL's own measurements of the same thing.
"""

from __future__ import annotations

import math

PREFIX = "ctxbench/"
RENAMES = {
    "entropy": "entropy",
    "clip_ratio/region_mean": "clip_frac",
    "completions/mean_length": "completion_len",
    "grad_norm": "grad_norm",
    "learning_rate": "lr",
    "kl": "kl",
    "step_time": "step_s",
}


def step_metrics(logs: dict) -> dict[str, float]:
    """One optimizer step's log -> {ctxbench metric name: value} (non-numbers and NaNs dropped)."""
    out: dict[str, float] = {}
    for key, value in logs.items():
        name = key[len(PREFIX):] if key.startswith(PREFIX) else RENAMES.get(key)
        if name is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if math.isfinite(float(value)):
            out[name] = float(value)
    return out
