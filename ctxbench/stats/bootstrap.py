"""Keyed bootstrap resampling, now used only for the interval of P(superiority).

Why it is still here: P(B beats A on a random item) is a descriptive statistic of these items and
these trained seeds, with no variance-components formula; its interval resamples both crossed
factors (Owen's "pigeonhole" bootstrap, Ann. Appl. Stat. 2007): per resample the same multinomial
item draw for every arm (paired by item) and an independent seed draw per arm. Every interval and
test of a delta, attribution or headline comes from ctxbench.stats.variance instead: the audit of
issue 14 (simulated 0/1 scores, item difficulty, seed variance) found this bootstrap 1.3-1.6x too
wide when 0/1 cell noise dominates (both levels count it) and short of nominal when seeds dominate (0.89 at 3 seeds; the
seed-level spread from S - 1 degrees of freedom is shrunk by (S - 1) / S), and blind to seed variance
with one seed.

Draws are keyed, not sequential: the item draw depends only on (seed, benchmark, the item ids) and an
arm's seed draw only on (seed, arm, its seed ids), so results do not depend on the order anything is
computed in.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ctxbench.core.errors import CtxbenchError
from ctxbench.stats.panel import Panel

CHUNK = 256  # resamples generated at a time (bounds memory at CHUNK x items)


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

    def item_draws(self, benchmark: str, items: np.ndarray, chunk: int, size: int) -> np.ndarray:
        """size x n item indices: each row n items drawn uniformly with replacement (a row's counts are
        the multinomial (n; 1/n, ..., 1/n) resample weights). Indices, not weights: a statistic that is
        a mean over items is then a gather, with neither numpy's multinomial (per-category binomial
        draws) nor a size x n weight matrix, which were most of the report's time at 1M rows."""
        n = len(items)
        rng = _rng(self.seed, "items", benchmark, _items_key(items), chunk)
        return rng.integers(0, n, size=(size, n))

    def seed_weights(self, arm: str, seeds: np.ndarray, chunk: int, size: int) -> np.ndarray:
        s = len(seeds)
        rng = _rng(self.seed, "seeds", arm, tuple(map(str, seeds)), chunk)
        return rng.multinomial(s, np.full(s, 1.0 / s), size=size) / s


def superiority_draws(p: Panel, arm_a: str, arm_b: str, rs: Resampler) -> np.ndarray:
    """Bootstrap draws of P(B beats A on a random item), ties counted half.

    A seed resample of S seeds takes few distinct values (10 at S = 3), so the item win vector is
    computed once per distinct (A draw, B draw) in the chunk, and each resample's statistic is the mean
    of its pair's win vector over its drawn items: the same numbers as a win matrix per resample dotted
    with multinomial weights, without building either.
    """
    out = np.empty(rs.n_boot)
    start = 0
    for k, size in rs.chunks():
        idx = rs.item_draws(p.benchmark, p.items, k, size)
        wa, ia = np.unique(rs.seed_weights(arm_a, p.seeds[arm_a], k, size), axis=0, return_inverse=True)
        wb, ib = np.unique(rs.seed_weights(arm_b, p.seeds[arm_b], k, size), axis=0, return_inverse=True)
        codes, row = np.unique(ia.ravel() * len(wb) + ib.ravel(), return_inverse=True)
        wins = win_matrix((wa @ p.X[arm_a])[codes // len(wb)], (wb @ p.X[arm_b])[codes % len(wb)])
        out[start:start + size] = wins[row.ravel()[:, None], idx].mean(axis=1)
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
