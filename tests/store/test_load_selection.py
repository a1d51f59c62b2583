"""The report's row selection (report.data: the newest run per arm/seed/benchmark, one version per
benchmark) is written with integer group ids so a 1M-row ablation loads in about a second; here it is
checked against the plain pandas spelling of the same rules on generated frames with superseded runs,
several versions, missing seeds and rows in any order: same rows, same order, same notes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ctxbench.report.data import _one_version, latest_run_per_cell


def reference_latest(items, runs):
    created = runs.set_index("run_id")["created_at"]
    cells = items[["run_id", "arm", "seed", "benchmark"]].drop_duplicates()
    cells = cells.assign(created_at=cells["run_id"].map(created)).sort_values(["created_at", "run_id"],
                                                                              na_position="first")
    keep = cells.drop_duplicates(["arm", "seed", "benchmark"], keep="last")
    dropped = len(cells) - len(keep)
    notes = [f"{dropped} older eval run(s) superseded by a newer run of the same arm/seed/benchmark"] if dropped else []
    key = keep.set_index(["run_id", "benchmark"]).index
    return items[items.set_index(["run_id", "benchmark"]).index.isin(key)].reset_index(drop=True), notes


def reference_one_version(items):
    notes, keep = [], []
    for bench, sub in items.groupby("benchmark", sort=True):
        counts = sub["benchmark_version"].value_counts()
        if len(counts) > 1:
            notes.append(f"{bench}: runs scored on versions {sorted(counts.index)}; only version "
                         f"{counts.index[0]} is compared")
        keep.append(sub[sub["benchmark_version"] == counts.index[0]])
    return pd.concat(keep, ignore_index=True), notes


def frame(seed: int, *, shuffled: bool):
    rng = np.random.default_rng(seed)
    runs = pd.DataFrame({"run_id": [f"r{i}" for i in range(8)],
                         "created_at": pd.to_datetime(rng.integers(0, 4, 8), unit="D")})  # ties in time
    runs.loc[3, "created_at"] = pd.NaT
    arms = ["grpo", "contextrl", "grpo", "da-rl", "grpo", "contextrl", "base", "da-rl"]
    seeds = [0, 0, 0, 1, 1, 0, None, 1]  # r0, r2 (and r4 for another seed) compete for the grpo cells
    rows = []
    for i in range(8):
        for b in ("niah", "long-mcq", "trace-qa")[: 1 + (i % 3)]:
            for k in range(5):
                v = "2" if (b == "niah" and i in (1, 5) and k < 3) else "1"
                rows.append({"run_id": f"r{i}", "arm": arms[i], "seed": seeds[i], "benchmark": b,
                             "benchmark_version": v, "item_id": f"{b}-{k}", "score": float(rng.random())})
    items = pd.DataFrame(rows)
    items["seed"] = items["seed"].astype("Int32")
    if shuffled:
        items = items.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    else:
        items = items.sort_values(["benchmark", "arm", "seed", "item_id"], kind="stable").reset_index(drop=True)
    return items, runs


@pytest.mark.parametrize("shuffled", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_selection_matches_the_plain_pandas_rules(seed, shuffled):
    items, runs = frame(seed, shuffled=shuffled)
    got, notes = latest_run_per_cell(items, runs)
    want, want_notes = reference_latest(items, runs)
    pd.testing.assert_frame_equal(got, want)
    assert notes == want_notes and notes  # some run is superseded in every frame
    got1, notes1 = _one_version(got)
    want1, want_notes1 = reference_one_version(want)
    pd.testing.assert_frame_equal(got1, want1)
    assert notes1 == want_notes1


def test_nothing_to_drop_returns_the_rows_as_they_are():
    items, runs = frame(0, shuffled=False)
    one = items[items["run_id"].isin(["r1", "r3", "r6"])].reset_index(drop=True)
    got, notes = latest_run_per_cell(one, runs)
    pd.testing.assert_frame_equal(got, one)
    assert notes == []
    single = one[one["benchmark_version"] == "1"].reset_index(drop=True)
    got1, notes1 = _one_version(single)
    pd.testing.assert_frame_equal(got1, reference_one_version(single)[0])
    assert notes1 == []
