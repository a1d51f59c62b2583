"""The input every statistic takes: one long frame of item scores, checked, normalised and cut into
per-benchmark panels (arms x seeds x items).

Why one home: the ids in a frame come from several places (the store, where item ids are VARCHAR and
seeds INTEGER; a user's CSV or notebook, where a seed may be 0, "0" or 0.0 and an item id "1" or 1.0).
Comparing arms pairs their scores by item and counts their seeds, so the ids must mean the same thing
everywhere: `normalise` turns every seed and item id into one canonical string at the boundary
(an integer-valued number -> its integer digits, so 1, 1.0 and "1" are one id; any other value ->
its text), and a missing seed or item id is an error naming the rows. Mixed types therefore never
reach numpy's sorting (which raises a bare TypeError on int vs str).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from ctxbench.core.errors import CtxbenchError, DataError, did_you_mean

COLUMNS = ("arm", "seed", "benchmark", "item_id", "score")


def check_frame(df) -> None:
    """The long frame every stats function takes: one row per (arm, seed, benchmark, item_id[, sample])."""
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise DataError(f"stats input lacks column(s) {missing}; expected a long frame with {list(COLUMNS)} "
                        f"(e.g. ctxbench.store.queries.eval_sample_scores), got {list(df.columns)}")


def canonical_id(value, what: str = "id") -> str:
    """One spelling per id: integer-valued numbers (1, 1.0, numpy ints) -> '1'; other numbers -> repr
    of the float; strings stripped. None/NaN is an error (the caller names the rows)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        raise DataError(f"missing {what}")
    if isinstance(value, bool | np.bool_):
        raise DataError(f"{what} {value!r} is a boolean, not an id")
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        f = float(value)
        if math.isnan(f):
            raise DataError(f"missing {what}")
        return str(int(f)) if f.is_integer() else repr(f)
    return str(value).strip()


def _canonical_column(values, what: str):
    import pandas as pd

    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    if (codes < 0).any():
        raise DataError(f"missing {what} in row {int(np.argmax(codes < 0))} of the stats input "
                        f"(every row needs a {what})")
    canon = np.array([canonical_id(u, what) for u in uniques], dtype=object)
    return canon[codes]


_NORMALISED = "ctxbench.stats.normalised"  # attrs key: the id of the frame normalise returned


def normalise(df):
    """A copy of the long frame with `seed` and `item_id` as canonical strings, `arm` and `benchmark`
    as strings, `score` as float (NaN = missing cell).

    A frame this function returned comes back as it is: a report compares every pair of arms on one
    frame, and each statistic normalises its input, which at 1M rows cost a quarter of the analysis.
    The mark is the frame's own id, so a copy or a slice (which inherit attrs) is normalised again.
    """
    if df.attrs.get(_NORMALISED) == id(df):
        return df
    check_frame(df)
    out = df.copy()
    out["seed"] = _canonical_column(out["seed"].to_numpy(dtype=object), "seed")
    out["item_id"] = _canonical_column(out["item_id"].to_numpy(dtype=object), "item_id")
    if out["arm"].isna().any() or out["benchmark"].isna().any():
        raise DataError("stats input has rows without an arm or a benchmark")
    out["arm"] = out["arm"].astype(str)
    out["benchmark"] = out["benchmark"].astype(str)
    try:
        out["score"] = out["score"].astype(float)
    except (TypeError, ValueError) as e:
        raise DataError(f"stats input: scores must be numbers ({e})") from None
    out.attrs[_NORMALISED] = id(out)
    return out


def check_arms(df, arms) -> None:
    have = set(df["arm"].dropna().unique())
    for a in arms:
        if a not in have:
            raise CtxbenchError(f"arm {a!r} is not in the data{did_you_mean(a, have)}")


@dataclass(frozen=True)
class Panel:
    """Scores of several arms on one benchmark, restricted to the items every (arm, seed) scored.
    X[arm] is seeds x items (mean over samples per cell); items are sorted canonical ids.
    `missing`: arms given that have no score on this benchmark (then there are no items)."""

    benchmark: str
    items: np.ndarray
    seeds: dict[str, np.ndarray]
    X: dict[str, np.ndarray]
    n_dropped: int  # items scored by some but not all (arm, seed) cells
    missing: tuple[str, ...] = ()

    @property
    def n_items(self) -> int:
        return len(self.items)

    def note(self) -> str:
        if self.missing:
            return (f"{', '.join(self.missing)} {'has' if len(self.missing) == 1 else 'have'} no scores on "
                    f"{self.benchmark}: nothing to compare there")
        if self.n_items == 0:
            return f"{self.benchmark}: no item was scored by every seed of every arm compared"
        return ""


def panel(df, benchmark: str, arms) -> Panel:
    """The paired panel of one benchmark (df: a `normalise`d frame). NaN scores count as missing
    cells; several rows for one (arm, seed, item) cell (samples) are averaged."""
    import pandas as pd

    sub = df[(df["benchmark"] == benchmark) & df["arm"].isin(list(arms)) & df["score"].notna()]
    # sorted ids and codes in one hash pass (np.unique on a str copy sorted every row: most of a panel's time)
    item_code, item_ids = pd.factorize(sub["item_id"].to_numpy(dtype=object), sort=True)
    item_ids = np.asarray(item_ids, dtype=object)
    n = len(item_ids)
    arm_col, seed_col = sub["arm"].to_numpy(), sub["seed"].to_numpy(dtype=object)
    score = sub["score"].to_numpy(dtype=float)
    mats, seeds, missing = {}, {}, []
    keep = np.ones(n, dtype=bool)
    for arm in arms:
        m = arm_col == arm
        if not m.any():
            missing.append(arm)
            continue
        seed_code, seed_ids = pd.factorize(seed_col[m], sort=True)
        seed_ids = np.asarray(seed_ids, dtype=object)
        cell = seed_code * n + item_code[m]
        size = len(seed_ids) * n
        counts = np.bincount(cell, minlength=size).reshape(len(seed_ids), n)
        sums = np.bincount(cell, weights=score[m], minlength=size).reshape(len(seed_ids), n)
        with np.errstate(invalid="ignore", divide="ignore"):
            mats[arm] = sums / counts
        seeds[arm] = seed_ids.astype(object)
        keep &= (counts > 0).all(axis=0)
    if missing:
        keep[:] = False
    X = {a: x[:, keep] for a, x in mats.items()}
    return Panel(benchmark, item_ids[keep], seeds, X, int(n - keep.sum()), tuple(missing))
