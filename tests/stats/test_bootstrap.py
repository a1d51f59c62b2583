"""The P(superiority) bootstrap (ctxbench.stats.bootstrap): what the fast paths must keep.

superiority_draws groups resamples by their distinct seed draws instead of building a win matrix per
resample, and averages over drawn item indices instead of weighting by numpy's multinomial. Either shortcut
could silently change the statistic: the first is checked against the direct formula on the same
weights, the second against the multinomial's moments.
"""

from __future__ import annotations

import numpy as np
import pytest

from ctxbench.stats.bootstrap import CHUNK, Resampler, superiority_draws, win_matrix
from ctxbench.stats.panel import Panel


def _panel(rng, n_items=37, seeds=(3, 4)) -> Panel:
    items = np.array([f"i{k:03d}" for k in range(n_items)])
    X = {arm: (rng.random((s, n_items)) < 0.5).astype(float) for arm, s in zip(("A", "B"), seeds)}
    return Panel("b", items, {arm: np.arange(len(x)).astype(str) for arm, x in X.items()}, X, 0)


@pytest.mark.parametrize("seeds", [(3, 3), (1, 5), (8, 2)])
def test_grouped_draws_equal_a_win_matrix_per_resample(seeds):
    p = _panel(np.random.default_rng(seeds[0]), seeds=seeds)
    rs = Resampler(n_boot=CHUNK + 44, seed=3)  # two chunks, the second partial
    direct = []
    for k, size in rs.chunks():
        wi = _weights(rs.item_draws(p.benchmark, p.items, k, size))
        a = rs.seed_weights("A", p.seeds["A"], k, size) @ p.X["A"]
        b = rs.seed_weights("B", p.seeds["B"], k, size) @ p.X["B"]
        direct.append(np.einsum("rn,rn->r", win_matrix(a, b), wi))
    assert np.allclose(superiority_draws(p, "A", "B", rs), np.concatenate(direct), rtol=0, atol=1e-12)


def _weights(idx: np.ndarray) -> np.ndarray:
    """The multinomial resample weights of item draws: each row's counts over n."""
    n = idx.shape[1]
    return np.stack([np.bincount(r, minlength=n) for r in idx]) / n


def test_item_draws_give_the_multinomial_weights():
    n, size = 50, 4000
    rs = Resampler(n_boot=size, seed=1)
    counts = np.concatenate([_weights(rs.item_draws("b", np.arange(n).astype(str), k, s)) * n
                             for k, s in rs.chunks()])
    assert np.allclose(counts, np.round(counts)) and (counts.sum(axis=1) == n).all()
    # multinomial(n; 1/n each): mean 1, variance (n - 1) / n, covariance -1 / n between items
    assert abs(counts.mean() - 1.0) < 1e-12
    assert counts.var(axis=0).mean() == pytest.approx((n - 1) / n, rel=0.03)
    cov = np.cov(counts[:, :10], rowvar=False)[~np.eye(10, dtype=bool)]
    assert cov.mean() == pytest.approx(-1 / n, abs=0.004)
    # keyed: the same (seed, benchmark, items, chunk) gives the same weights, another chunk others
    items = np.arange(n).astype(str)
    assert np.array_equal(rs.item_draws("b", items, 0, 8), rs.item_draws("b", items, 0, 8))
    assert not np.array_equal(rs.item_draws("b", items, 0, 8), rs.item_draws("b", items, 1, 8))
