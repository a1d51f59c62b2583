"""Inputs at the stats boundary (ids normalised, a missing arm is a row with a note, not an error) and
published tables (families, comparisons on the cells both arms have), on hand-made frames."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ctxbench.core.errors import DataError
from ctxbench.stats.arms import MEAN_ROW, attribution, compare_arms, headline
from ctxbench.stats.panel import canonical_id, normalise
from ctxbench.stats.published import families, matched, paper_average, published_attribution


def frame(arms=("grpo", "contextrl"), benches=("b1", "b2"), seeds=(0, 1, 2), n=30, seed=0, shift=None):
    rng = np.random.default_rng(seed)
    rows = []
    for b in benches:
        p = rng.uniform(0.2, 0.8, n)
        for a in arms:
            for s in seeds:
                y = (rng.random(n) < np.clip(p + (shift or {}).get(a, 0.0), 0, 1)).astype(float)
                rows += [(a, s, b, f"q{i}", v) for i, v in enumerate(y)]
    return pd.DataFrame(rows, columns=["arm", "seed", "benchmark", "item_id", "score"])


def test_ids_have_one_spelling():
    assert [canonical_id(v) for v in (1, 1.0, "1", np.int64(1), " 1 ")] == ["1"] * 5
    assert canonical_id(1.5) == "1.5" and canonical_id("1.0") == "1.0" and canonical_id("a") == "a"
    with pytest.raises(DataError):
        canonical_id(True)


def test_mixed_seed_and_item_id_types_compare_as_one():
    df = frame()
    mixed = df.copy().astype({"seed": object, "item_id": object})
    mixed.loc[mixed["arm"] == "grpo", "seed"] = mixed.loc[mixed["arm"] == "grpo", "seed"].astype(str)
    q = mixed["item_id"].str.slice(1).astype(int)
    mixed["item_id"] = [float(k) if a == "grpo" else str(k) for k, a in zip(q, mixed["arm"])]  # 1.0 vs "1"
    df["item_id"] = q.astype(str)
    a = compare_arms(df, "grpo", "contextrl", n_boot=20, n_perm=20)
    b = compare_arms(mixed, "grpo", "contextrl", n_boot=20, n_perm=20)
    assert (b["n_items"] == 30).all() and (b["n_items_dropped"] == 0).all()
    pd.testing.assert_frame_equal(a, b)
    seeds = df.astype({"seed": object})
    seeds.loc[seeds.index[:5], "seed"] = "x"  # a seed that is no number: a string id, never a TypeError
    assert len(compare_arms(seeds, "grpo", "contextrl", n_boot=20, n_perm=20)) == 2


def test_missing_ids_are_errors_naming_the_row():
    df = frame()
    df.loc[7, "seed"] = None
    with pytest.raises(DataError, match="missing seed in row 7"):
        normalise(df)


def test_a_missing_arm_on_one_benchmark_leaves_that_row_empty():
    df = frame(arms=("grpo", "da-rl", "contextrl"), shift={"contextrl": 0.2})
    df = df[~((df["arm"] == "da-rl") & (df["benchmark"] == "b2"))]
    out = compare_arms(df, "grpo", "da-rl", n_boot=20, n_perm=20).set_index("benchmark")
    assert out.loc["b1", "n_items"] == 30 and not math.isnan(out.loc["b1", "delta"])
    assert out.loc["b2", "n_items"] == 0 and math.isnan(out.loc["b2", "delta"])
    assert out.loc["b2", "note"] == "da-rl has no scores on b2: nothing to compare there"
    attr = attribution(df, da="da-rl").set_index("benchmark")
    assert attr.loc["b2", "n_items"] == 0 and "no scores on b2" in attr.loc["b2", "note"]
    assert MEAN_ROW not in attr.index  # one benchmark left: no mean row
    h = headline(df, baseline="grpo")
    assert (h["n_benchmarks"] == 1).all() and "no scores on b2" in h.attrs["notes"][0]


def test_one_seed_is_not_tested_and_the_base_checkpoint_needs_none():
    df = frame(seeds=(0,), shift={"contextrl": 0.3})
    r = compare_arms(df, "grpo", "contextrl", n_boot=20, n_perm=20).iloc[0]
    assert not r["seeds_estimated"] and math.isnan(r["p_value"]) and r["p_method"] == "not tested (one seed)"
    assert r["delta_lo"] < r["delta"] < r["delta_hi"] and "seed variance not estimated" in r["note"]
    base = pd.concat([frame(arms=("base",), seeds=(0,), seed=1), frame(arms=("grpo",), seed=1)])
    r = compare_arms(base, "base", "grpo", n_boot=20, n_perm=20, fixed=("base",)).iloc[0]
    assert r["seeds_estimated"] and not math.isnan(r["p_value"]) and r["seed_sd_a"] == 0


def test_headline_and_attribution_use_the_variance_components_model():
    df = frame(arms=("grpo", "da-rl", "contextrl"), shift={"contextrl": 0.15, "da-rl": 0.05}, n=200)
    attr = attribution(df, da="da-rl")
    assert np.allclose(attr["total"], attr["data"] + attr["objective"], atol=1e-12)
    cmp = compare_arms(df, "grpo", "contextrl", n_boot=20, n_perm=20).set_index("benchmark")
    row = attr.set_index("benchmark").loc["b1"]
    assert (row["total_lo"], row["total_hi"]) == pytest.approx((cmp.loc["b1", "delta_lo"], cmp.loc["b1", "delta_hi"]))
    h = headline(df, baseline="grpo").set_index("arm")
    mean_row = attr.set_index("benchmark").loc[MEAN_ROW]
    assert h.loc["contextrl", "delta_macro"] == pytest.approx(mean_row["total"])
    assert (h.loc["contextrl", "delta_macro_lo"], h.loc["contextrl", "delta_macro_hi"]) == pytest.approx(
        (mean_row["total_lo"], mean_row["total_hi"]))


# ------------------------------------------------------------------ published tables

def long_table(rows):
    return pd.DataFrame(rows, columns=["model", "arm", "benchmark", "score"])


def test_paper_average_refuses_a_model_without_scores():
    t = pd.DataFrame({"a": [1.0, np.nan], "b": [3.0, np.nan]}, index=["m1", "m2"])
    with pytest.raises(DataError, match="model 'm2' has no score at all"):
        paper_average(t, skipna=True)


def test_families_split_models_that_share_no_benchmark():
    t = long_table([("m1", "grpo", "x", 1.0), ("m2", "grpo", "y", 2.0), ("m3", "grpo", "y", 3.0),
                    ("m3", "da-rl", "z", 3.0)])
    fams = families(t)
    assert list(fams) == ["m1", "m2 + m3"] and len(fams["m2 + m3"]) == 3
    t["family"] = ["A", "A", "B", "B"]  # an explicit column wins
    assert {k: len(v) for k, v in families(t).items()} == {"A": 2, "B": 2}


def test_matched_uses_only_cells_both_arms_have():
    t = long_table([("m1", "grpo", "x", 10.0), ("m1", "grpo", "y", 20.0), ("m2", "grpo", "x", 30.0),
                    ("m2", "grpo", "y", 40.0), ("m1", "da", "x", 12.0), ("m2", "da", "x", 27.0),
                    ("m1", "new", "x", 11.0), ("m1", "new", "y", 23.0)])
    mt = matched(t, "da", "grpo")
    # per model on x only: m1 +2, m2 -3 -> -0.5 (averaging da's own cells against all of grpo's: 19.5 - 25 = -5.5)
    assert mt.delta == pytest.approx(-0.5) and mt.n_cells == 2 and not mt.complete
    assert "da vs grpo on the 2 cells both have (of 4 grpo cells)" in mt.notes
    mt = matched(t, "new", "grpo")
    assert mt.delta == pytest.approx(2.0) and "new has no scores for model m2 (which grpo has)" in mt.notes
    t2 = pd.concat([t, long_table([("m1", "ctx", "x", 14.0), ("m2", "ctx", "x", 31.0), ("m1", "ctx", "y", 25.0)])])
    r = published_attribution(t2, grpo="grpo", method="ctx", da="da")
    assert r["n_cells"] == 2 and r["total"] == pytest.approx(2.5) and r["data"] == pytest.approx(-0.5)
    assert r["total"] == pytest.approx(r["data"] + r["objective"])


def test_normalise_runs_once_per_frame_and_again_on_a_copy_or_slice():
    import pandas as pd

    from ctxbench.stats.panel import normalise

    raw = pd.DataFrame({"arm": ["a", "a"], "seed": [0, 1.0], "benchmark": ["b", "b"], "item_id": [1, "1 "],
                        "score": [1, 0]})
    once = normalise(raw)
    assert once["seed"].tolist() == ["0", "1"] and once["item_id"].tolist() == ["1", "1"]
    assert normalise(once) is once  # the statistics of one report share one pass
    for derived in (once.copy(), once[once["seed"] == "0"]):
        derived = derived.astype({"seed": object})
        derived.loc[derived.index[0], "seed"] = 7  # a frame built from it is not trusted: normalised again
        assert normalise(derived) is not derived and normalise(derived)["seed"].iloc[0] == "7"
