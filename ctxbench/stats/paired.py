"""Paired tests and corrections: sign-flip permutation p-values, Holm, probability of superiority.

Why these: arms are scored on the same items, so "for each item, the difference between arms is as
likely to be +d as -d" is a natural null for these trained models (a paired sign-flip permutation test
on the per-item, seed-averaged differences; it assumes nothing about the score distribution). It holds
the trained seeds fixed, so it does not answer whether a fresh seed would differ: a seed's luck shifts
every item the same way and reads as signal. ctxbench therefore labels significance with the
variance-components t-test (ctxbench.stats.variance) and keeps the sign-flip p-value only as
`p_fixed_seeds`, "these models, new items". Several comparisons are tested at once, so p-values are
Holm-corrected (step-down, controls the family-wise error rate without independence assumptions); the
report runs Holm over every row of a table.
"""

from __future__ import annotations

import numpy as np

from ctxbench.core.errors import CtxbenchError
from ctxbench.stats.bootstrap import _rng, win_matrix

EXACT_MAX_ITEMS = 16  # 2**16 sign patterns: exact enumeration is cheap up to here
PERM_CHUNK = 2048
GROUPED_MIN_TIES = 8  # draw by distinct value when the differences repeat this often on average


def sign_flip_pvalue(d, *, n_perm: int = 10000, seed: int = 0, exact_max_items: int = EXACT_MAX_ITEMS,
                     key: str = "") -> tuple[float, str]:
    """Two-sided paired sign-flip permutation p-value for mean(d) = 0.

    d: per-item differences (B - A, each averaged over seeds). Zero differences are dropped (their
    sign cannot matter). With at most `exact_max_items` non-zero differences every one of the 2^n
    sign patterns is enumerated ("exact"); otherwise `n_perm` random patterns are drawn from an RNG
    keyed by (seed, key) and p = (1 + #{|T*| >= |T|}) / (n_perm + 1) ("monte-carlo"), which is a
    valid p-value. Returns (p, method).

    0/1 scores averaged over a few seeds give few distinct differences (7 with 3 seeds), and a
    pattern's statistic depends only on how many items of each value flip. Then each pattern is drawn
    as one Binomial(count, 1/2) per distinct value: the same distribution of T* as one sign per item,
    at a cost in distinct values instead of items (at 13k items this test was a third of the report).
    """
    d = np.asarray(d, dtype=float)
    if d.ndim != 1 or np.isnan(d).any():
        raise CtxbenchError("sign_flip_pvalue needs a 1-d array of differences without NaN")
    d = d[d != 0]
    n = len(d)
    if n == 0:
        return 1.0, "exact"
    t_obs = abs(d.sum())
    tol = 1e-9 * max(1.0, np.abs(d).sum())
    if n <= exact_max_items:
        patterns = (np.arange(2**n)[:, None] >> np.arange(n)) & 1
        t = np.abs((1 - 2 * patterns) @ d)
        return float(np.mean(t >= t_obs - tol)), "exact"
    rng = _rng(seed, "perm", key)
    values, counts = np.unique(d, return_counts=True)
    grouped = len(values) * GROUPED_MIN_TIES <= n
    hits, done = 0, 0
    while done < n_perm:
        size = min(PERM_CHUNK, n_perm - done)
        if grouped:  # per distinct value, how many of its items flip: Binomial(count, 1/2)
            t = (counts - 2 * rng.binomial(counts, 0.5, size=(size, len(values)))) @ values
        else:
            t = (1 - 2 * rng.integers(0, 2, size=(size, n), dtype=np.int8)) @ d
        hits += int(np.count_nonzero(np.abs(t) >= t_obs - tol))
        done += size
    return (1 + hits) / (n_perm + 1), "monte-carlo"


def holm(pvals) -> np.ndarray:
    """Holm step-down adjusted p-values, in the input order. NaNs stay NaN and do not count.

    Sorted ascending p_(1..m): adj_(j) = max_{k<=j} min(1, (m - k + 1) p_(k)).
    """
    p = np.asarray(pvals, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any() and ((p[ok] < 0) | (p[ok] > 1)).any():
        raise CtxbenchError(f"p-values must lie in [0, 1], got {p[ok].tolist()}")
    q = p[ok]
    m = len(q)
    order = np.argsort(q, kind="stable")
    adj = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * q[order]))
    res = np.empty(m)
    res[order] = adj
    out[ok] = res
    return out


def prob_superiority(a, b) -> float:
    """P(B beats A on a random item), ties half: mean over items of 1[b>a] + 0.5*1[b=a], where a
    and b are the items' seed-averaged scores (paired by item)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) == 0:
        raise CtxbenchError("prob_superiority needs two equal-length, non-empty 1-d arrays")
    return float(win_matrix(a, b).mean())
