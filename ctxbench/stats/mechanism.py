"""Mechanism view: does context-selection skill track end-task gains across trained models?

Why: ContextRL's claim is that training the model to prefer the informative context is *why* it
improves. If so, across (arm, seed) models the held-out context-selection accuracy (the probe) should
correlate with the end-task score. Each trained model is one point; the correlation is reported with
a Fisher-z interval (exact under bivariate normality, and deterministic) and Spearman's rho beside it
as a rank-based check. With a handful of models this is descriptive evidence, not a causal test.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from ctxbench.core.errors import CtxbenchError, did_you_mean
from ctxbench.stats.panel import normalise


@dataclass(frozen=True)
class MechanismResult:
    frame: object  # pandas DataFrame: arm, seed, probe_acc, task_score, n_task_benchmarks
    r: float         # Pearson correlation over (arm, seed) points
    r_lo: float
    r_hi: float
    spearman: float
    n: int
    task_benchmarks: tuple[str, ...]


def pearson_ci(x, y, ci: float = 0.95) -> tuple[float, float, float]:
    """Pearson r with a Fisher-z interval: tanh(atanh(r) +- z_{(1+ci)/2} / sqrt(n - 3)).
    NaN interval when n < 4 or r is undefined (a constant variable)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = len(x)
    if n < 2 or np.std(x) == 0 or np.std(y) == 0:
        return float("nan"), float("nan"), float("nan")
    r = float(np.corrcoef(x, y)[0, 1])
    if n < 4:
        return r, float("nan"), float("nan")
    z = np.arctanh(np.clip(r, -1 + 1e-15, 1 - 1e-15))
    half = NormalDist().inv_cdf((1 + ci) / 2) / np.sqrt(n - 3)
    return r, float(np.tanh(z - half)), float(np.tanh(z + half))


def _ranks(v: np.ndarray) -> np.ndarray:
    order = np.argsort(v, kind="stable")
    ranks = np.empty(len(v))
    ranks[order] = np.arange(len(v), dtype=float)
    for val in np.unique(v):  # average ranks over ties
        m = v == val
        ranks[m] = ranks[m].mean()
    return ranks


def spearman(x, y) -> float:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    return pearson_ci(_ranks(x), _ranks(y))[0]


def mechanism_view(df, *, probe_benchmark: str, task_benchmarks=None, ci: float = 0.95) -> MechanismResult:
    """Per (arm, seed): the probe's mean score (held-out context-selection accuracy) and the mean
    end-task score (mean over task benchmarks of the item-mean score; only benchmarks every model
    was scored on count). Returns the frame and their correlation across models."""
    df = normalise(df)
    benches = set(df["benchmark"].unique())
    if probe_benchmark not in benches:
        raise CtxbenchError(f"probe benchmark {probe_benchmark!r} not in the data{did_you_mean(probe_benchmark, benches)}")
    per = df[df["score"].notna()].groupby(["arm", "seed", "benchmark"])["score"].mean().unstack("benchmark")
    probe = per[probe_benchmark]
    tasks = [b for b in (task_benchmarks or sorted(benches - {probe_benchmark})) if b != probe_benchmark]
    for b in tasks:
        if b not in per.columns:
            raise CtxbenchError(f"task benchmark {b!r} not in the data{did_you_mean(b, per.columns)}")
    models = probe.notna()
    shared = [b for b in tasks if per.loc[models, b].notna().all()]
    if not shared:
        raise CtxbenchError(f"no task benchmark was scored by every model that ran {probe_benchmark!r}")
    frame = (per.loc[models, shared].mean(axis=1).rename("task_score").to_frame()
             .assign(probe_acc=probe[models], n_task_benchmarks=len(shared))
             .reset_index()[["arm", "seed", "probe_acc", "task_score", "n_task_benchmarks"]])
    r, lo, hi = pearson_ci(frame["probe_acc"], frame["task_score"], ci)
    return MechanismResult(frame, r, lo, hi, spearman(frame["probe_acc"], frame["task_score"]),
                           len(frame), tuple(shared))
