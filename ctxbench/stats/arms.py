"""Statistics for arm comparisons: paired deltas, attribution, headline averages. numpy + pandas only.

Why: a benchmark delta between two training objectives is only evidence if it is bigger than what
re-drawing the items or re-training with another seed would move it by. Every function here takes
one long frame (arm, seed, benchmark, item_id, score; several rows per cell, e.g. samples, are
averaged) and returns plain DataFrames:

- `compare_arms`: per benchmark, delta = mean(B) - mean(A) with a two-level paired bootstrap interval
  (stats_bootstrap), a sign-flip permutation p-value on per-item seed-averaged differences, Holm
  across benchmarks, and P(B beats A on a random item).
- `attribution`: contextrl - grpo = (da - grpo) data effect + (contextrl - da) objective effect, all
  three from the same resamples, for every data-augmentation arm given (this layer knows no arm
  names: callers pass them from the objective registry, trainers/arms.py).
- `headline`: per arm, item-weighted and benchmark-averaged means with intervals; `paper_average`
  reproduces the paper's headline number (mean over benchmark columns per base model, then over
  base models) from a model x benchmark table; `paper_headline` does it per arm.
- `mechanism_view` (stats_mechanism): probe accuracy vs end-task score across trained models.

Means are taken over seeds within an item first, then over items: each item and each seed weigh
the same. Everything is seeded; the same inputs give the same numbers.
"""

from __future__ import annotations

import numpy as np

from ctxbench.core.errors import CtxbenchError, DataError
from ctxbench.stats.bootstrap import (
    Resampler,
    arm_mean_draws,
    check_arms,
    check_frame,
    interval,
    panel,
    superiority_draws,
)
from ctxbench.stats.mechanism import MechanismResult, mechanism_view, pearson_ci, spearman
from ctxbench.stats.paired import holm, prob_superiority, sign_flip_pvalue

MEAN_ROW = "(mean)"  # attribution/headline row averaging benchmarks with equal weight

__all__ = [
    "MechanismResult",
    "attribution",
    "compare_arms",
    "headline",
    "holm",
    "mechanism_view",
    "paper_average",
    "paper_headline",
    "pearson_ci",
    "prob_superiority",
    "sign_flip_pvalue",
    "spearman",
]


def _benchmarks(df, benchmarks) -> list[str]:
    have = sorted(df["benchmark"].unique())
    if benchmarks is None:
        return have
    for b in benchmarks:
        if b not in have:
            raise CtxbenchError(f"benchmark {b!r} not in the data; present: {have}")
    return list(benchmarks)


def compare_arms(df, arm_a: str, arm_b: str, *, benchmarks=None, n_boot: int = 2000,
                 n_perm: int = 10000, ci: float = 0.95, seed: int = 0,
                 exact_max_items: int = 16):
    """One row per benchmark comparing arm B against arm A (delta = B - A), Holm-corrected.

    Columns: benchmark, arm_a, arm_b, n_items, n_items_dropped, n_seeds_a, n_seeds_b, mean_a, mean_b,
    delta, delta_lo, delta_hi, p_value, p_method, p_holm, p_superiority, ps_lo, ps_hi.
    Items are those scored by every seed of both arms (n_items_dropped counts the others).
    """
    import pandas as pd

    check_frame(df)
    check_arms(df, [arm_a, arm_b])
    rs = Resampler(n_boot, seed)
    rows = []
    for bench in _benchmarks(df, benchmarks):
        p = panel(df, bench, [arm_a, arm_b])
        row = {"benchmark": bench, "arm_a": arm_a, "arm_b": arm_b, "n_items": p.n_items,
               "n_items_dropped": p.n_dropped, "n_seeds_a": len(p.seeds[arm_a]),
               "n_seeds_b": len(p.seeds[arm_b])}
        if p.n_items == 0:
            rows.append(row)
            continue
        a_items, b_items = p.X[arm_a].mean(axis=0), p.X[arm_b].mean(axis=0)
        draws = arm_mean_draws(p, [arm_a, arm_b], rs)
        delta_lo, delta_hi = interval(draws[arm_b] - draws[arm_a], ci)
        pval, method = sign_flip_pvalue(b_items - a_items, n_perm=n_perm, seed=seed, key=bench,
                                        exact_max_items=exact_max_items)
        ps_lo, ps_hi = interval(superiority_draws(p, arm_a, arm_b, rs), ci)
        row.update(mean_a=float(a_items.mean()), mean_b=float(b_items.mean()),
                   delta=float(b_items.mean() - a_items.mean()), delta_lo=delta_lo, delta_hi=delta_hi,
                   p_value=pval, p_method=method, p_superiority=prob_superiority(a_items, b_items),
                   ps_lo=ps_lo, ps_hi=ps_hi)
        rows.append(row)
    cols = ["benchmark", "arm_a", "arm_b", "n_items", "n_items_dropped", "n_seeds_a", "n_seeds_b",
            "mean_a", "mean_b", "delta", "delta_lo", "delta_hi", "p_value", "p_method", "p_holm",
            "p_superiority", "ps_lo", "ps_hi"]
    out = pd.DataFrame(rows).reindex(columns=cols)
    out["p_holm"] = holm(out["p_value"].to_numpy(dtype=float))
    return out


def _da_arms(df, da, others: tuple[str, str]) -> list[str]:
    present = sorted(df["arm"].unique())
    if da is None:
        arms = [a for a in present if a not in others]
    else:
        arms = [da] if isinstance(da, str) else list(da)
    if not arms:
        raise CtxbenchError(f"no data-augmentation arm in the data (arms present: {present}); pass da=...")
    check_arms(df, arms)
    return arms


def attribution(df, *, grpo: str = "grpo", contextrl: str = "contextrl", da=None, benchmarks=None,
                n_boot: int = 2000, ci: float = 0.95, seed: int = 0, return_draws: bool = False):
    """Decompose total = contextrl - grpo into data = da - grpo and objective = contextrl - da.

    da: a data-augmentation arm name or list, each in the data; default every arm in the data other
    than `grpo` and `contextrl` (callers holding other arms pass the registry's DA arms). One row per
    (da_arm, benchmark) plus a MEAN_ROW per da_arm averaging benchmarks with equal weight. Columns:
    da_arm, benchmark, n_items, total, total_lo, total_hi, data, data_lo, data_hi, objective,
    objective_lo, objective_hi. The three come from the same resamples, so per resample and for the
    point estimates total == data + objective (the interval endpoints, being percentiles, need not
    add up). return_draws: draws in `out.attrs["draws"][(da_arm, benchmark)]` as an n_boot x 3
    array (total, data, objective).
    """
    import pandas as pd

    check_frame(df)
    check_arms(df, [grpo, contextrl])
    rs = Resampler(n_boot, seed)
    rows, draws_out = [], {}
    for da_arm in _da_arms(df, da, (grpo, contextrl)):
        arms = [grpo, da_arm, contextrl]
        per_bench = []
        for bench in _benchmarks(df, benchmarks):
            p = panel(df, bench, arms)
            if p.n_items == 0:
                rows.append({"da_arm": da_arm, "benchmark": bench, "n_items": 0})
                continue
            point = {a: float(p.X[a].mean(axis=0).mean()) for a in arms}
            d = arm_mean_draws(p, arms, rs)
            est = np.array([point[contextrl] - point[grpo], point[da_arm] - point[grpo],
                            point[contextrl] - point[da_arm]])
            dr = np.stack([d[contextrl] - d[grpo], d[da_arm] - d[grpo], d[contextrl] - d[da_arm]], axis=1)
            per_bench.append((est, dr))
            rows.append(_attr_row(da_arm, bench, p.n_items, est, dr, ci))
            draws_out[(da_arm, bench)] = dr
        if len(per_bench) > 1:
            est = np.mean([e for e, _ in per_bench], axis=0)
            dr = np.mean([d for _, d in per_bench], axis=0)
            rows.append(_attr_row(da_arm, MEAN_ROW, None, est, dr, ci))
            draws_out[(da_arm, MEAN_ROW)] = dr
    cols = ["da_arm", "benchmark", "n_items"] + [f"{c}{s}" for c in ("total", "data", "objective")
                                                 for s in ("", "_lo", "_hi")]
    out = pd.DataFrame(rows).reindex(columns=cols)
    if return_draws:
        out.attrs["draws"] = draws_out
    return out


def _attr_row(da_arm, bench, n_items, est, dr, ci) -> dict:
    row = {"da_arm": da_arm, "benchmark": bench, "n_items": n_items}
    for j, name in enumerate(("total", "data", "objective")):
        lo, hi = interval(dr[:, j], ci)
        row.update({name: float(est[j]), f"{name}_lo": lo, f"{name}_hi": hi})
    return row


def headline(df, *, arms=None, benchmarks=None, baseline: str | None = None, n_boot: int = 2000,
             ci: float = 0.95, seed: int = 0):
    """Per arm: `macro` (mean over benchmarks of each benchmark's item mean) and `micro` (mean over
    all items pooled, i.e. item-weighted), seed-averaged, with bootstrap intervals. Items per
    benchmark are those every (arm, seed) scored. With `baseline`, also delta_macro/delta_micro
    (arm - baseline) with intervals from the same resamples.
    Columns: arm, n_benchmarks, n_items, macro, macro_lo, macro_hi, micro, micro_lo, micro_hi
    [, delta_macro, delta_macro_lo, delta_macro_hi, delta_micro, delta_micro_lo, delta_micro_hi].
    """
    import pandas as pd

    check_frame(df)
    arms = sorted(df["arm"].unique()) if arms is None else list(arms)
    check_arms(df, arms + ([baseline] if baseline else []))
    if baseline and baseline not in arms:
        arms.append(baseline)
    rs = Resampler(n_boot, seed)
    benches = _benchmarks(df, benchmarks)
    points = {a: [] for a in arms}
    draws = {a: [] for a in arms}
    sizes = []
    for bench in benches:
        p = panel(df, bench, arms)
        if p.n_items == 0:
            raise DataError(f"{bench}: no item was scored by every (arm, seed) of {arms}")
        d = arm_mean_draws(p, arms, rs)
        sizes.append(p.n_items)
        for a in arms:
            points[a].append(p.X[a].mean(axis=0).mean())
            draws[a].append(d[a])
    w = np.asarray(sizes, dtype=float) / sum(sizes)

    def stats_of(pt: np.ndarray, dr: np.ndarray) -> dict:
        macro, micro = pt.mean(), pt @ w
        mlo, mhi = interval(dr.mean(axis=0), ci)
        ilo, ihi = interval(w @ dr, ci)
        return {"macro": float(macro), "macro_lo": mlo, "macro_hi": mhi,
                "micro": float(micro), "micro_lo": ilo, "micro_hi": ihi}

    rows = []
    for a in arms:
        pt, dr = np.asarray(points[a]), np.stack(draws[a])
        row = dict(arm=a, n_benchmarks=len(benches), n_items=int(sum(sizes)), **stats_of(pt, dr))
        if baseline:
            delta = stats_of(pt - np.asarray(points[baseline]), dr - np.stack(draws[baseline]))
            row.update({f"delta_{k}": v for k, v in delta.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def paper_average(table, *, skipna: bool = False) -> float:
    """The paper's headline: mean over benchmark columns for each base model (row), then the mean of
    those over base models. `table`: DataFrame indexed by model, one column per benchmark. A missing
    cell is an error naming it (the paper's number would silently change) unless skipna."""
    vals = table.apply(lambda c: c.astype(float))
    if vals.shape[0] == 0 or vals.shape[1] == 0:
        raise DataError("paper_average needs a non-empty model x benchmark table")
    if not skipna and vals.isna().any().any():
        model, bench = next((m, b) for m in vals.index for b in vals.columns if np.isnan(vals.at[m, b]))
        raise DataError(f"paper_average: no score for model {model!r} on {bench!r}; fill it or pass skipna=True")
    return float(vals.mean(axis=1, skipna=True).mean())


def paper_headline(agg, *, value: str = "score", skipna: bool = False):
    """paper_average per arm from a long (model, arm, benchmark, score) frame such as the store's
    `aggregates` table. Returns a frame indexed by arm: one column per model (its mean over
    benchmarks) and `average`."""
    import pandas as pd

    need = {"model", "arm", "benchmark", value}
    if not need <= set(agg.columns):
        raise DataError(f"paper_headline needs columns {sorted(need)}, got {list(agg.columns)}")
    dup = agg.duplicated(["model", "arm", "benchmark"])
    if dup.any():
        r = agg[dup].iloc[0]
        raise DataError(f"paper_headline: several scores for model {r['model']!r}, arm {r['arm']!r}, "
                        f"benchmark {r['benchmark']!r}")
    rows = {}
    for arm, sub in agg.groupby("arm", sort=True):
        table = sub.pivot(index="model", columns="benchmark", values=value)
        per_model = table.astype(float).mean(axis=1)
        rows[arm] = {**per_model.to_dict(), "average": paper_average(table, skipna=skipna)}
    return pd.DataFrame.from_dict(rows, orient="index")
