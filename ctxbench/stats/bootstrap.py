"""The two-level paired bootstrap behind every interval in ctxbench.stats.arms.

Why this design. Arms are compared on the same items, and each arm is trained with several seeds
that each evaluate every item: items and seeds are *crossed* random factors. The bootstrap resamples
both, independently (Owen's "pigeonhole" bootstrap for crossed designs, Ann. Appl. Stat. 2007):

  for each resample r = 1..R:
    1. items: draw N item indices with replacement from the N common items of the benchmark
       (multinomial counts c_i, weight c_i / N); the SAME draw is used for every arm (paired by item);
    2. seeds: for each arm, draw S_arm seed indices with replacement from that arm's seeds
       (weights k_s / S_arm), independently per arm (seeds are not matched across arms);
    3. arm mean  m_arm(r) = sum_i (c_i/N) * sum_s (k_s/S_arm) * X_arm[s, i]
       where X_arm[s, i] is the item's score for that seed (mean over samples).
  The interval is the percentile interval of the statistic over the R resamples.

Draws are keyed, not sequential: the item draw depends only on (seed, benchmark, the item ids) and an
arm's seed draw only on (seed, arm, its seed ids). So every statistic computed on the same benchmark
and arms (a delta, an attribution, a headline average) sees the same resamples: an attribution sums
exactly per resample, and averages across benchmarks share each arm's seed draw (a seed's model is
the same model on every benchmark). Results do not depend on the order anything is computed in.

Calibration (simulated 0/1 items, logit = item difficulty + seed effect + arm effect, 200 runs
each): 100 items x 4 seeds, seed sd 0.3: coverage 0.955-0.965; seed sd 0.1: 0.99 (conservative:
when per-cell noise dominates, both levels count it, as McCullagh 2000 shows no resampling of a
crossed design is exactly unbiased); seed sd 0.6 with 3-5 seeds: 0.92-0.935; 2 seeds: 0.885 (with
few seeds the seed level's spread is underestimated by about (S-1)/S, as in any bootstrap; with one
seed it is absent and the interval reflects items only). Train more seeds when seeds disagree.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ctxbench.core.errors import CtxbenchError, DataError, did_you_mean

COLUMNS = ("arm", "seed", "benchmark", "item_id", "score")
CHUNK = 256  # resamples generated at a time (bounds memory at CHUNK x items)


def check_frame(df) -> None:
    """The long frame every stats function takes: one row per (arm, seed, benchmark, item_id[, sample])."""
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"stats input lacks column(s) {missing}; expected a long frame with {list(COLUMNS)} "
                        f"(e.g. ctxbench.store.queries.eval_sample_scores), got {list(df.columns)}")


def check_arms(df, arms) -> None:
    have = set(df["arm"].dropna().unique())
    for a in arms:
        if a not in have:
            raise CtxbenchError(f"arm {a!r} is not in the data{did_you_mean(a, have)}")


@dataclass(frozen=True)
class Panel:
    """Scores of several arms on one benchmark, restricted to the items every (arm, seed) scored.
    X[arm] is seeds x items (mean over samples per cell); items are sorted ids."""

    benchmark: str
    items: np.ndarray
    seeds: dict[str, np.ndarray]
    X: dict[str, np.ndarray]
    n_dropped: int  # items scored by some but not all (arm, seed) cells

    @property
    def n_items(self) -> int:
        return len(self.items)


def panel(df, benchmark: str, arms) -> Panel:
    """Build the paired panel for one benchmark. NaN scores count as missing cells; several rows for
    one (arm, seed, item) cell (samples) are averaged."""
    sub = df[(df["benchmark"] == benchmark) & df["arm"].isin(list(arms)) & df["score"].notna()]
    item_ids, item_code = np.unique(sub["item_id"].to_numpy().astype(str), return_inverse=True)
    n = len(item_ids)
    arm_col, seed_col = sub["arm"].to_numpy(), sub["seed"].to_numpy()
    score = sub["score"].to_numpy(dtype=float)
    mats, seeds = {}, {}
    keep = np.ones(n, dtype=bool)
    for arm in arms:
        m = arm_col == arm
        if not m.any():
            raise CtxbenchError(f"{benchmark}: arm {arm!r} has no scores on this benchmark")
        seed_ids, seed_code = np.unique(seed_col[m], return_inverse=True)
        cell = seed_code * n + item_code[m]
        size = len(seed_ids) * n
        counts = np.bincount(cell, minlength=size).reshape(len(seed_ids), n)
        sums = np.bincount(cell, weights=score[m], minlength=size).reshape(len(seed_ids), n)
        with np.errstate(invalid="ignore", divide="ignore"):
            mats[arm] = sums / counts
        seeds[arm] = seed_ids
        keep &= (counts > 0).all(axis=0)
    X = {a: x[:, keep] for a, x in mats.items()}
    return Panel(benchmark, item_ids[keep].astype(object), seeds, X, int(n - keep.sum()))


def _rng(seed: int, *key) -> np.random.Generator:
    digest = hashlib.sha256(repr((int(seed),) + key).encode()).digest()
    words = np.frombuffer(digest, dtype=np.uint32)
    return np.random.default_rng(np.random.SeedSequence(words.tolist()))


def _items_key(items: np.ndarray) -> str:
    return hashlib.sha256("\x1f".join(map(str, items)).encode()).hexdigest()


class Resampler:
    """Keyed, deterministic bootstrap weights (see the module docstring)."""

    def __init__(self, n_boot: int = 2000, seed: int = 0):
        if n_boot < 1:
            raise CtxbenchError(f"n_boot must be >= 1, got {n_boot}")
        self.n_boot, self.seed = int(n_boot), int(seed)

    def chunks(self) -> list[tuple[int, int]]:
        """(chunk index, resamples in it) covering n_boot."""
        return [(k, min(CHUNK, self.n_boot - k * CHUNK)) for k in range(-(-self.n_boot // CHUNK))]

    def item_weights(self, benchmark: str, items: np.ndarray, chunk: int, size: int) -> np.ndarray:
        n = len(items)
        rng = _rng(self.seed, "items", benchmark, _items_key(items), chunk)
        return rng.multinomial(n, np.full(n, 1.0 / n), size=size) / n

    def seed_weights(self, arm: str, seeds: np.ndarray, chunk: int, size: int) -> np.ndarray:
        s = len(seeds)
        rng = _rng(self.seed, "seeds", arm, tuple(map(str, seeds)), chunk)
        return rng.multinomial(s, np.full(s, 1.0 / s), size=size) / s


def arm_item_means(p: Panel, arm: str, rs: Resampler, chunk: int, size: int) -> np.ndarray:
    """Seed-averaged item scores of one arm under the chunk's seed resamples: size x items."""
    return rs.seed_weights(arm, p.seeds[arm], chunk, size) @ p.X[arm]


def arm_mean_draws(p: Panel, arms, rs: Resampler) -> dict[str, np.ndarray]:
    """Bootstrap draws (length n_boot) of each arm's mean score on the panel's items."""
    out = {a: np.empty(rs.n_boot) for a in arms}
    start = 0
    for k, size in rs.chunks():
        wi = rs.item_weights(p.benchmark, p.items, k, size)
        for a in arms:
            out[a][start:start + size] = np.einsum("rn,rn->r", arm_item_means(p, a, rs, k, size), wi)
        start += size
    return out


def superiority_draws(p: Panel, arm_a: str, arm_b: str, rs: Resampler) -> np.ndarray:
    """Bootstrap draws of P(B beats A on a random item), ties counted half."""
    out = np.empty(rs.n_boot)
    start = 0
    for k, size in rs.chunks():
        wi = rs.item_weights(p.benchmark, p.items, k, size)
        a = arm_item_means(p, arm_a, rs, k, size)
        b = arm_item_means(p, arm_b, rs, k, size)
        out[start:start + size] = np.einsum("rn,rn->r", win_matrix(a, b), wi)
        start += size
    return out


def win_matrix(a: np.ndarray, b: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """1 where b > a, 0.5 where equal (within tol), 0 where b < a."""
    diff = b - a
    return np.where(diff > tol, 1.0, np.where(diff < -tol, 0.0, 0.5))


def interval(draws: np.ndarray, ci: float = 0.95) -> tuple[float, float]:
    """Percentile interval of bootstrap draws."""
    if not 0 < ci < 1:
        raise CtxbenchError(f"ci must be in (0, 1), got {ci}")
    lo, hi = np.quantile(draws, [(1 - ci) / 2, 1 - (1 - ci) / 2])
    return float(lo), float(hi)
