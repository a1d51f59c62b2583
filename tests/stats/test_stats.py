"""ctxbench.stats.arms on simulated data with known effects, plus hand-computed worked examples."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from ctxbench.core.errors import CtxbenchError, DataError
from ctxbench.stats.arms import (
    MEAN_ROW,
    attribution,
    compare_arms,
    headline,
    holm,
    mechanism_view,
    paper_average,
    paper_headline,
    pearson_ci,
    prob_superiority,
    sign_flip_pvalue,
)


def expit(x):
    return 1 / (1 + np.exp(-x))


def simulate(rng, arms: dict[str, float], n_items=100, n_seeds=4, seed_sd=0.3, item_sd=1.5,
             benchmarks=("b",), binary=True):
    """Long frame: logit p = item difficulty + seed effect + arm effect; 0/1 score (or p + noise)."""
    frames = []
    for bench in benchmarks:
        theta = rng.normal(0, item_sd, n_items)
        for arm, eff in arms.items():
            u = rng.normal(0, seed_sd, n_seeds)
            p = expit(theta[None, :] + u[:, None] + eff)
            y = (rng.random(p.shape) < p).astype(float) if binary else np.clip(p + rng.normal(0, .2, p.shape), 0, 1)
            s, i = np.meshgrid(np.arange(n_seeds), np.arange(n_items), indexing="ij")
            frames.append(pd.DataFrame({"arm": arm, "seed": s.ravel(), "benchmark": bench,
                                        "item_id": [f"i{k:04d}" for k in i.ravel()], "score": y.ravel()}))
    return pd.concat(frames, ignore_index=True)


def true_delta(delta, seed_sd=0.3, item_sd=1.5, m=1_000_000):
    r = np.random.default_rng(99)
    th = r.normal(0, item_sd, m)
    return float(np.mean(expit(th + r.normal(0, seed_sd, m) + delta) - expit(th + r.normal(0, seed_sd, m))))


# ---------------------------------------------------------------- worked examples

def test_holm_worked_example():
    # sorted: .005*4=.02, .01*3=.03, .03*2=.06, .04*1=.04 -> running max .06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    got = holm([0.5, np.nan, 0.01])
    assert got[0] == pytest.approx(0.5) and np.isnan(got[1]) and got[2] == pytest.approx(0.02)
    assert holm([0.6, 0.7]).tolist() == [1.0, 1.0]
    with pytest.raises(CtxbenchError):
        holm([1.5])


def test_sign_flip_exact_and_monte_carlo():
    # 8 sign patterns of (1,2,3): only +++ and --- reach |sum| = 6
    assert sign_flip_pvalue([1.0, 2.0, 3.0]) == (0.25, "exact")
    assert sign_flip_pvalue([1.0, -1.0, 0.0]) == (1.0, "exact")
    assert sign_flip_pvalue([0.0, 0.0]) == (1.0, "exact")
    d = np.random.default_rng(0).normal(0.3, 1, 14)
    exact, m1 = sign_flip_pvalue(d)
    mc, m2 = sign_flip_pvalue(d, exact_max_items=0, n_perm=20000, seed=1)
    assert (m1, m2) == ("exact", "monte-carlo") and abs(exact - mc) < 0.01
    assert sign_flip_pvalue(d, exact_max_items=0, seed=3) == sign_flip_pvalue(d, exact_max_items=0, seed=3)


def test_sign_flip_by_distinct_value_matches_exact_enumeration(monkeypatch):
    """Tied differences (0/1 scores averaged over seeds) are flipped as one binomial per value: the same
    null as one sign per item, checked against the exact enumeration and the per-item draw."""
    from ctxbench.stats import paired

    d = np.repeat([1 / 3, -2 / 3, 1.0], [8, 3, 5])  # 16 items (enumerable: 2^16 patterns), 3 values
    exact, _ = sign_flip_pvalue(d)
    monkeypatch.setattr(paired, "GROUPED_MIN_TIES", 4)  # 3 values x 4 <= 16 items: grouped
    grouped, _ = sign_flip_pvalue(d, exact_max_items=0, n_perm=40000, seed=2)
    monkeypatch.setattr(paired, "GROUPED_MIN_TIES", 10**9)  # force one sign per item
    per_item, _ = sign_flip_pvalue(d, exact_max_items=0, n_perm=40000, seed=2)
    assert abs(grouped - exact) < 0.006 and abs(per_item - exact) < 0.006
    assert grouped != per_item  # the two paths really are different draws
    monkeypatch.undo()
    big = np.random.default_rng(5).choice([-1.0, -0.5, 0.5, 1.0, 1.0], 3000)
    assert abs(sign_flip_pvalue(big, n_perm=4000, seed=1)[0] - per_item_p(big)) < 0.03


def per_item_p(d, n=4000):
    """The per-item sign-flip p-value, written out (the reference for the grouped draw)."""
    rng = np.random.default_rng(9)
    t = np.abs((1 - 2 * rng.integers(0, 2, (n, len(d)))) @ d)
    return (1 + np.count_nonzero(t >= abs(d.sum()) - 1e-9)) / (n + 1)


def test_prob_superiority_ties_half():
    assert prob_superiority([0, 1, 0.5, 0], [1, 1, 0, 0.25]) == pytest.approx((1 + 0.5 + 0 + 1) / 4)


def test_paper_average_by_hand():
    table = pd.DataFrame({"mmmu": [50.0, 40.0], "docvqa": [60.0, 45.0], "chart": [np.nan, 50.0]},
                         index=["qwen-3b", "qwen-7b"])
    # per model: 55 (skipping the gap) and 45 -> 50; the grand mean of the 5 cells would be 49
    assert paper_average(table, skipna=True) == pytest.approx(50.0)
    with pytest.raises(DataError, match="model 'qwen-3b' on 'chart'"):
        paper_average(table)
    full = table.fillna(70.0)  # (60 + 45) / 2
    assert paper_average(full) == pytest.approx(52.5)
    agg = pd.concat([full.stack().rename("score").reset_index().set_axis(["model", "benchmark", "score"], axis=1)
                     .assign(arm=arm, score=lambda d, k=k: d["score"] + k) for arm, k in (("grpo", 0), ("contextrl", 2))])
    ph = paper_headline(agg)
    assert ph.loc["grpo", "average"] == pytest.approx(52.5) and ph.loc["contextrl", "average"] == pytest.approx(54.5)
    assert ph.loc["grpo", "qwen-3b"] == pytest.approx(60.0)


def test_pearson_fisher_interval_by_hand():
    x = np.arange(12.0)
    y = np.array([0, 3, 1, 4, 2, 8, 3, 9, 5, 4, 11, 6.0])
    r, lo, hi = pearson_ci(x, y)
    z, half = math.atanh(r), NormalDist().inv_cdf(0.975) / math.sqrt(9)
    assert r == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert (lo, hi) == pytest.approx((math.tanh(z - half), math.tanh(z + half)))


def test_headline_micro_macro_by_hand():
    rows = []
    for arm, (v1, v2) in {"grpo": (1.0, 0.0), "contextrl": (1.0, 0.5)}.items():
        for seed in range(2):
            rows += [(arm, seed, "small", f"s{i}", v1) for i in range(10)]
            rows += [(arm, seed, "big", f"b{i}", v2) for i in range(30)]
    df = pd.DataFrame(rows, columns=["arm", "seed", "benchmark", "item_id", "score"])
    h = headline(df, baseline="grpo").set_index("arm")
    assert h.loc["grpo", "macro"] == pytest.approx(0.5) and h.loc["grpo", "micro"] == pytest.approx(0.25)
    assert h.loc["contextrl", "micro"] == pytest.approx((10 + 15) / 40)
    assert h.loc["contextrl", "delta_macro"] == pytest.approx(0.25)
    assert h.loc["contextrl", ["delta_micro_lo", "delta_micro_hi"]].tolist() == pytest.approx([0.375, 0.375])
    assert h.loc["grpo", "n_items"] == 40


# ---------------------------------------------------------------- simulated, known effects

def test_interval_coverage_near_nominal():
    truth = true_delta(0.3)
    rng = np.random.default_rng(1)
    cover = 0
    for k in range(200):
        df = simulate(rng, {"A": 0.0, "B": 0.3}, n_items=100, n_seeds=4)
        r = compare_arms(df, "A", "B", n_boot=500, n_perm=200, seed=k).iloc[0]
        cover += r.delta_lo <= truth <= r.delta_hi
    assert 0.90 <= cover / 200 <= 0.99, cover / 200


def test_pvalues_uniform_under_null():
    rng = np.random.default_rng(5)
    p_cont, p_bin = [], []
    for k in range(200):
        p_cont.append(sign_flip_pvalue(
            simulate_diffs(rng, binary=False), n_perm=999, seed=k, exact_max_items=0)[0])
        p_bin.append(sign_flip_pvalue(simulate_diffs(rng, binary=True), n_perm=999, seed=k)[0])
    p = np.sort(p_cont)
    n = len(p)
    ks = max(np.max(np.arange(1, n + 1) / n - p), np.max(p - np.arange(n) / n))
    assert ks < 0.12, ks  # 1% critical value for n=200 is about 0.115
    for alpha in (0.05, 0.1, 0.25):  # 0/1 scores: discrete p-values, but still valid
        assert np.mean(np.array(p_bin) <= alpha) <= alpha + 0.04


def simulate_diffs(rng, binary: bool, n_items=30, n_seeds=3):
    """Per-item seed-averaged B - A differences for two arms identical in distribution."""
    p = expit(rng.normal(0, 1.5, n_items))[None, None, :].repeat(2, 0).repeat(n_seeds, 1)
    y = (rng.random(p.shape) < p).astype(float) if binary else np.clip(p + rng.normal(0, .2, p.shape), 0, 1)
    return y[1].mean(axis=0) - y[0].mean(axis=0)


def test_known_effect_recovered_and_holm_applied():
    rng = np.random.default_rng(7)
    # little seed-to-seed spread: with seed_sd=0.3 and 3 seeds the interval rightly spans 0. Four seeds:
    # with three, this draw's seed means of A on x (0.455, 0.515, 0.482) are 2.3x the cell noise apart,
    # and the population interval rightly includes 0 although the true seed sd is small
    df = simulate(rng, {"A": 0.0, "B": 0.4}, n_items=1500, n_seeds=4, seed_sd=0.05, benchmarks=("x", "y"))
    df = pd.concat([df, simulate(rng, {"A": 0.0, "B": 0.0}, n_items=200, n_seeds=4, benchmarks=("z",))])
    out = compare_arms(df, "A", "B", n_boot=400, n_perm=2000).set_index("benchmark")
    truth = true_delta(0.4, seed_sd=0.05)
    for b in ("x", "y"):
        assert out.loc[b, "delta_lo"] > 0 and abs(out.loc[b, "delta"] - truth) < 0.025
        # the population test (new seeds too) cannot be as sure as the one for these four models
        assert out.loc[b, "p_value"] < 0.05 and out.loc[b, "p_method"] == "vc-t"
        assert out.loc[b, "p_fixed_seeds"] < 0.001 and out.loc[b, "seeds_estimated"]
        assert out.loc[b, "p_superiority"] > 0.5 and out.loc[b, "ps_lo"] > 0.5
    assert out.loc["z", "delta_lo"] < 0 < out.loc["z", "delta_hi"]
    assert out["p_holm"].tolist() == pytest.approx(holm(out["p_value"]).tolist())
    assert out.loc["x", "mean_b"] - out.loc["x", "mean_a"] == pytest.approx(out.loc["x", "delta"])


def test_attribution_sums_exactly_and_recovers_effects():
    rng = np.random.default_rng(3)
    arms = {"grpo": 0.0, "da-rl": 0.2, "da-sft": 0.0, "contextrl": 0.6}
    df = simulate(rng, arms, n_items=1500, n_seeds=3, seed_sd=0.05, benchmarks=("b1", "b2"))
    out = attribution(df)
    assert set(out["da_arm"]) == {"da-rl", "da-sft"} and MEAN_ROW in set(out["benchmark"])
    assert np.allclose(out["total"], out["data"] + out["objective"], rtol=0, atol=1e-12)
    assert out["seeds_estimated"].all() and (out["objective_mde"] > 0).all()
    rl = out[(out.da_arm == "da-rl") & (out.benchmark == MEAN_ROW)].iloc[0]
    data_true, total_true = true_delta(0.2, seed_sd=0.05), true_delta(0.6, seed_sd=0.05)
    assert rl.data_lo < data_true < rl.data_hi and rl.total_lo < total_true < rl.total_hi
    sft = out[(out.da_arm == "da-sft") & (out.benchmark == MEAN_ROW)].iloc[0]
    assert sft.data_lo < 0 < sft.data_hi and sft.objective_lo > 0
    # the total is the same statistic, on the same items, as compare_arms' delta
    cmp = compare_arms(df, "grpo", "contextrl", n_boot=300).set_index("benchmark")
    b1 = out[(out.da_arm == "da-rl") & (out.benchmark == "b1")].iloc[0]
    assert (b1.total, b1.total_lo, b1.total_hi) == pytest.approx(
        (cmp.loc["b1", "delta"], cmp.loc["b1", "delta_lo"], cmp.loc["b1", "delta_hi"]))
    with pytest.raises(CtxbenchError, match="did you mean 'da-rl'"):
        attribution(df, da="da_rl")


def test_deterministic_and_order_independent():
    rng = np.random.default_rng(11)
    df = simulate(rng, {"A": 0.0, "B": 0.2}, n_items=40, n_seeds=3, benchmarks=("p", "q"))
    a = compare_arms(df, "A", "B", n_boot=200, n_perm=500, seed=4)
    b = compare_arms(df.sample(frac=1.0, random_state=0), "A", "B", n_boot=200, n_perm=500, seed=4)
    pd.testing.assert_frame_equal(a, b)
    # the interval and test are analytic (no seed); the seed drives only the resampled extras
    c = compare_arms(df, "A", "B", n_boot=200, n_perm=500, seed=5)
    assert np.allclose(a["delta_lo"], c["delta_lo"]) and not np.allclose(a["ps_lo"], c["ps_lo"])


def test_missing_cells_are_dropped_and_counted():
    rng = np.random.default_rng(2)
    df = simulate(rng, {"A": 0.0, "B": 0.0}, n_items=20, n_seeds=2)
    df = df[~((df.arm == "B") & (df.seed == 1) & (df.item_id == "i0003"))]
    df = pd.concat([df, df.iloc[:5].assign(score=np.nan)])  # NaN scores are missing cells, not zeros
    r = compare_arms(df, "A", "B", n_boot=50, n_perm=100).iloc[0]
    assert (r.n_items, r.n_items_dropped, r.n_seeds_a, r.n_seeds_b) == (19, 1, 2, 2)


def test_mechanism_view_tracks_probe():
    rows = []
    rng = np.random.default_rng(4)
    for arm, skill in {"grpo": 0.3, "da-rl": 0.45, "contextrl": 0.7}.items():
        for seed in range(4):
            s = skill + rng.normal(0, 0.03)
            rows += [(arm, seed, "probe", f"p{i}", float(rng.random() < s)) for i in range(400)]
            for bench in ("t1", "t2"):
                rows += [(arm, seed, bench, f"{bench}{i}", float(rng.random() < 0.2 + 0.5 * s)) for i in range(400)]
    df = pd.DataFrame(rows, columns=["arm", "seed", "benchmark", "item_id", "score"])
    res = mechanism_view(df, probe_benchmark="probe")
    assert res.n == 12 and res.task_benchmarks == ("t1", "t2")
    assert list(res.frame.columns) == ["arm", "seed", "probe_acc", "task_score", "n_task_benchmarks"]
    assert res.r > 0.8 and res.r_lo > 0.3 and res.r_lo < res.r < res.r_hi and res.spearman > 0.7
    with pytest.raises(CtxbenchError, match="did you mean 'probe'"):
        mechanism_view(df, probe_benchmark="prob")


def test_input_errors():
    with pytest.raises(DataError, match=r"lacks column\(s\) \['score'\]"):
        compare_arms(pd.DataFrame({"arm": [], "seed": [], "benchmark": [], "item_id": []}), "a", "b")
    df = pd.DataFrame({"arm": ["grpo"], "seed": [0], "benchmark": ["b"], "item_id": ["1"], "score": [1.0]})
    with pytest.raises(CtxbenchError, match="arm 'contextrl' is not in the data"):
        compare_arms(df, "grpo", "contextrl")
