"""Power and planning: how many seeds and items a comparison needs, from a pilot's variance components.

Why: the audit found that +2 points on 500 items with 3 seeds is detected 9-28% of the time; nobody
was told. The test behind the report's "significant" column (ctxbench.stats.variance: the
interaction of items and arms plus the spread of each arm's seed means, Satterthwaite df) has, for S
seeds per arm and N items,

  V(S, N) = sigma2_int / N + sum_a (sigma2_seed,a + sigma2_cell,a / N) / S

per item: sigma2_int the item x arm interaction of the difference (what more items average away),
sigma2_cell,a arm a's cell noise (0/1 draws: averaged away by items and seeds), sigma2_seed,a its
seed-to-seed variance (averaged away by seeds only: with few seeds, no number of items detects a small
effect). `components` estimates the three from a pilot panel (the same mean squares the test uses;
variances floored at zero); `plan_mde` is the minimum detectable effect of a design,
(t_{1-alpha/2, df} + t_{power, df}) sqrt(V) with the test's df; `items_needed` the smallest N that
brings it to the effect. An arm with one seed in the pilot has no seed or cell estimate: its cell
noise stays in the interaction (not averaged by seeds: conservative) and its seed variance is the
caller's assumption (`seed_sd`, default 0: optimistic, and said so). An arm in `fixed` (the starting
checkpoint) is one model evaluated once: no seed term, its cell noise not averaged by seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ctxbench.stats.panel import Panel
from ctxbench.stats.variance import mde, resid_ms


@dataclass(frozen=True)
class Components:
    """Variance components (per item / per seed, score units squared) of arm_b - arm_a on one benchmark."""

    benchmark: str
    arm_a: str
    arm_b: str
    n_items: int
    n_seeds: dict
    delta: float
    interaction: float                 # sigma2_int
    cell: dict                         # arm -> sigma2_cell (only arms whose cell noise averages over seeds)
    seed: dict                         # arm -> sigma2_seed (NaN: not estimated; an assumption replaces it)
    assumed: dict = field(default_factory=dict)  # arm -> the seed variance assumed for it

    @property
    def seeds_estimated(self) -> bool:
        return all(not math.isnan(v) for v in self.seed.values())

    def seed_var(self, arm: str) -> float:
        v = self.seed.get(arm, 0.0)
        return self.assumed.get(arm, 0.0) if math.isnan(v) else v


def components(p: Panel, arm_a: str, arm_b: str, *, fixed=(), seed_sd: float | None = None) -> Components:
    """The components of arm_b - arm_a from a pilot panel with items. `seed_sd`: the seed-to-seed sd
    (score units) to assume for an arm whose seed variance the pilot cannot estimate (one seed)."""
    n = p.n_items
    d = p.X[arm_b].mean(axis=0) - p.X[arm_a].mean(axis=0)
    item_var = float(np.var(d, ddof=1)) if n > 1 else float("nan")
    cell, seed, assumed = {}, {}, {}
    for a in (arm_a, arm_b):
        s = len(p.seeds[a])
        if a in fixed:
            continue
        if s < 2:
            seed[a] = float("nan")
            assumed[a] = (seed_sd or 0.0) ** 2
            continue
        ms = resid_ms(p.X[a])
        cell[a] = ms
        seed[a] = max(0.0, float(np.var(p.X[a].mean(axis=1), ddof=1)) - ms / n)
    interaction = max(0.0, item_var - sum(cell[a] / len(p.seeds[a]) for a in cell))
    return Components(p.benchmark, arm_a, arm_b, n, {a: len(p.seeds[a]) for a in (arm_a, arm_b)},
                      float(d.mean()), interaction, cell, seed, assumed)


def plan_variance(c: Components, seeds: int, items: int, *, fixed=()) -> tuple[float, float]:
    """(V, Satterthwaite df) of the test for `seeds` per arm (fixed arms: one model) and `items`."""
    v_int = c.interaction / items
    den = 0.0
    spreads = 0.0
    for a in (c.arm_a, c.arm_b):
        if a in fixed:
            continue
        b = (c.seed_var(a) + c.cell.get(a, 0.0) / items) / seeds
        spreads += b
        if seeds > 1:
            den += b * b / (seeds - 1)
        elif b > 0:
            return v_int + spreads, float("nan")  # one seed: no seed variance can be estimated, no test
    if v_int > 0 and items > 1:
        item_part = v_int + sum(c.cell.get(a, 0.0) / (items * seeds) for a in (c.arm_a, c.arm_b) if a not in fixed)
        den += item_part * item_part / (items - 1)
    v = v_int + spreads
    return v, (v * v / den if den > 0 else math.inf)


def plan_mde(c: Components, seeds: int, items: int, *, alpha: float = 0.05, power: float = 0.8, fixed=()) -> float:
    v, df = plan_variance(c, seeds, items, fixed=fixed)
    return mde(math.sqrt(v), df, alpha, power)


def items_needed(c: Components, seeds: int, effect: float, *, alpha: float = 0.05, power: float = 0.8,
                 fixed=(), max_items: int = 10_000_000) -> int | None:
    """The smallest number of items whose MDE is <= |effect| with `seeds` per arm; None if even
    `max_items` items do not get there (the seed variance alone is too large)."""
    effect = abs(effect)

    def ok(n: int) -> bool:
        m = plan_mde(c, seeds, n, alpha=alpha, power=power, fixed=fixed)
        return not math.isnan(m) and m <= effect

    return _smallest(ok, max_items)


def _smallest(ok, top: int) -> int | None:
    """The smallest n in [2, top] with ok(n), for a monotone ok (bisection); None when ok(top) fails."""
    if not ok(top):
        return None
    lo, hi = 2, top
    if ok(lo):
        return lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


def mde_floor(c: Components, seeds: int, *, alpha: float = 0.05, power: float = 0.8, fixed=()) -> float:
    """The MDE with infinitely many items: what the seed variance alone allows with `seeds` per arm."""
    return plan_mde(c, seeds, 10**12, alpha=alpha, power=power, fixed=fixed)


def seeds_needed(c: Components, effect: float, *, alpha: float = 0.05, power: float = 0.8, fixed=(),
                 max_seeds: int = 100_000) -> int | None:
    """The fewest seeds per arm with which enough items can detect |effect| (None beyond max_seeds)."""
    effect = abs(effect)

    def ok(s: int) -> bool:
        m = mde_floor(c, s, alpha=alpha, power=power, fixed=fixed)
        return not math.isnan(m) and m <= effect

    return _smallest(ok, max_seeds)
