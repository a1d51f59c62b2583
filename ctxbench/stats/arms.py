"""Statistics for arm comparisons: paired deltas, attribution, headline averages. numpy + pandas only.

Why: a benchmark delta between two training objectives is only evidence if it is bigger than what
re-drawing the items or re-training with another seed would move it by. Every function here takes
one long frame (arm, seed, benchmark, item_id, score; several rows per cell, e.g. samples, are
averaged; ids normalised by stats.panel) and returns plain DataFrames:

- `compare_arms`: per benchmark, delta = mean(B) - mean(A) with the variance-components interval and
  t-test of stats.variance (the population: new items and new seeds), Holm across the call's
  benchmarks (callers showing a bigger table re-run Holm over all of it), the minimum detectable
  effect, P(B beats A on a random item), and the sign-flip p-value for these trained models
  (`p_fixed_seeds`, seeds held fixed; kept for reference, not used for any label).
  An arm without scores on a benchmark gives that benchmark an empty row with a note.
- `attribution`: contextrl - grpo = (da - grpo) data effect + (contextrl - da) objective effect, all
  three on the same items and seeds, for every data-augmentation arm given (this layer knows no arm
  names: callers pass them from the objective registry, trainers/arms.py).
- `headline`: per arm, item-weighted and benchmark-averaged means with intervals.
- published tables (stats.published, re-exported): `paper_average`, `paper_headline`, families and
  matched-cell comparisons; `mechanism_view` (stats.mechanism).

Means are taken over seeds within an item first, then over items: each item and each seed weigh the
same. Everything is deterministic; the same inputs give the same numbers.
"""

from __future__ import annotations

import numpy as np

from ctxbench.core.errors import CtxbenchError, DataError
from ctxbench.stats.bootstrap import Resampler, interval, superiority_draws
from ctxbench.stats.mechanism import MechanismResult, mechanism_view, pearson_ci, spearman
from ctxbench.stats.paired import holm, prob_superiority, sign_flip_pvalue
from ctxbench.stats.panel import check_arms, normalise, panel
from ctxbench.stats.published import paper_average, paper_headline
from ctxbench.stats.variance import estimate, mde

MEAN_ROW = "(mean)"  # attribution/headline row averaging benchmarks with equal weight
ONE_SEED = "one seed: seed variance not estimated (interval for new items, these models)"

__all__ = [
    "MEAN_ROW",
    "MechanismResult",
    "attribution",
    "compare_arms",
    "headline",
    "holm",
    "mde",
    "mechanism_view",
    "paper_average",
    "paper_headline",
    "pearson_ci",
    "prob_superiority",
    "sign_flip_pvalue",
    "spearman",
]

COMPARE_COLUMNS = [
    "benchmark", "arm_a", "arm_b", "n_items", "n_items_dropped", "n_seeds_a", "n_seeds_b", "mean_a", "mean_b",
    "delta", "delta_lo", "delta_hi", "df", "p_value", "p_method", "p_holm", "se_test", "df_test", "mde",
    "seeds_estimated", "seed_sd_a", "seed_sd_b", "p_fixed_seeds", "p_superiority", "ps_lo", "ps_hi", "note",
]


def _benchmarks(df, benchmarks) -> list[str]:
    have = sorted(df["benchmark"].unique())
    if benchmarks is None:
        return have
    for b in benchmarks:
        if b not in have:
            raise CtxbenchError(f"benchmark {b!r} not in the data; present: {have}")
    return list(benchmarks)


def _join(*notes) -> str:
    return "; ".join(n for n in notes if n)


def compare_arms(df, arm_a: str, arm_b: str, *, benchmarks=None, n_boot: int = 2000,
                 n_perm: int = 10000, ci: float = 0.95, seed: int = 0, exact_max_items: int = 16,
                 fixed=(), alpha: float = 0.05, power: float = 0.8):
    """One row per benchmark comparing arm B against arm A (delta = B - A), Holm-corrected.

    Columns: COMPARE_COLUMNS. delta_lo/hi: the variance-components interval (df: its Satterthwaite
    df); p_value: the variance-components t-test (NaN when seed variance is not estimated; then
    seeds_estimated is False); mde: the smallest true delta that test detects at `alpha` with
    `power`; seed_sd_*: each arm's seed-to-seed sd of its mean; n_boot drives only the P(superiority)
    interval, n_perm only p_fixed_seeds. Items are those scored by every seed of both arms
    (n_items_dropped counts the others). `fixed`: arms that are one model (no seed term).
    """
    import pandas as pd

    df = normalise(df)
    check_arms(df, [arm_a, arm_b])
    rs = Resampler(n_boot, seed)
    rows = []
    for bench in _benchmarks(df, benchmarks):
        p = panel(df, bench, [arm_a, arm_b])
        row = {"benchmark": bench, "arm_a": arm_a, "arm_b": arm_b, "n_items": p.n_items,
               "n_items_dropped": p.n_dropped if not p.missing else 0,
               "n_seeds_a": len(p.seeds.get(arm_a, ())), "n_seeds_b": len(p.seeds.get(arm_b, ())),
               "seeds_estimated": False, "note": p.note()}
        if p.n_items == 0:
            rows.append(row)
            continue
        a_items, b_items = p.X[arm_a].mean(axis=0), p.X[arm_b].mean(axis=0)
        e = estimate([p], {arm_b: 1.0, arm_a: -1.0}, fixed=fixed)
        lo, hi = e.interval(ci)
        p_fixed, _ = sign_flip_pvalue(b_items - a_items, n_perm=n_perm, seed=seed, key=bench,
                                      exact_max_items=exact_max_items)
        ps_lo, ps_hi = interval(superiority_draws(p, arm_a, arm_b, rs), ci)
        row.update(mean_a=float(a_items.mean()), mean_b=float(b_items.mean()), delta=e.estimate,
                   delta_lo=lo, delta_hi=hi, df=e.df, p_value=e.p_value(),
                   p_method="vc-t" if e.seeds_estimated else "not tested (one seed)",
                   se_test=e.se_test, df_test=e.df_test, mde=e.mde(alpha, power),
                   seeds_estimated=e.seeds_estimated, seed_sd_a=e.seed_sd.get(arm_a),
                   seed_sd_b=e.seed_sd.get(arm_b), p_fixed_seeds=p_fixed,
                   p_superiority=prob_superiority(a_items, b_items), ps_lo=ps_lo, ps_hi=ps_hi,
                   note=_join(e.note, "" if e.seeds_estimated else ONE_SEED))
        rows.append(row)
    out = pd.DataFrame(rows).reindex(columns=COMPARE_COLUMNS)
    out["p_holm"] = holm(out["p_value"].to_numpy(dtype=float))
    out["seeds_estimated"] = out["seeds_estimated"].fillna(False).astype(bool)
    out["note"] = out["note"].fillna("")
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


EFFECTS = ("total", "data", "objective")
ATTR_COLUMNS = (["da_arm", "benchmark", "n_items"] + [f"{c}{s}" for c in EFFECTS for s in ("", "_lo", "_hi")]
                + ["objective_p", "objective_mde", "seeds_estimated", "note"])


def attribution(df, *, grpo: str = "grpo", contextrl: str = "contextrl", da=None, benchmarks=None,
                ci: float = 0.95, fixed=(), alpha: float = 0.05, power: float = 0.8):
    """Decompose total = contextrl - grpo into data = da - grpo and objective = contextrl - da.

    da: a data-augmentation arm name or list, each in the data; default every arm in the data other
    than `grpo` and `contextrl` (callers holding other arms pass the registry's DA arms). One row per
    (da_arm, benchmark) plus a MEAN_ROW per da_arm averaging the benchmarks with items with equal
    weight. Columns: ATTR_COLUMNS. The three effects are contrasts of the same arm means on the same
    items, so total == data + objective exactly for the point estimates (interval endpoints need not
    add up); each interval is its own variance-components interval. objective_p / objective_mde: the
    test of the objective effect and its minimum detectable effect. A benchmark one of the three arms
    lacks gets an empty row with a note.
    """
    import pandas as pd

    df = normalise(df)
    check_arms(df, [grpo, contextrl])
    rows = []
    for da_arm in _da_arms(df, da, (grpo, contextrl)):
        arms = [grpo, da_arm, contextrl]
        coefs = {"total": {contextrl: 1.0, grpo: -1.0}, "data": {da_arm: 1.0, grpo: -1.0},
                 "objective": {contextrl: 1.0, da_arm: -1.0}}
        good = []
        for bench in _benchmarks(df, benchmarks):
            p = panel(df, bench, arms)
            if p.n_items == 0:
                rows.append({"da_arm": da_arm, "benchmark": bench, "n_items": 0, "note": p.note()})
                continue
            good.append(p)
            rows.append(_attr_row(da_arm, bench, [p], coefs, ci, fixed, alpha, power))
        if len(good) > 1:
            skipped = len(_benchmarks(df, benchmarks)) - len(good)
            row = _attr_row(da_arm, MEAN_ROW, good, coefs, ci, fixed, alpha, power)
            row["n_items"] = None
            if skipped:
                row["note"] = _join(row["note"], f"mean over the {len(good)} benchmarks all three arms scored "
                                                 f"({skipped} left out)")
            rows.append(row)
    out = pd.DataFrame(rows).reindex(columns=ATTR_COLUMNS)
    out["seeds_estimated"] = out["seeds_estimated"].fillna(False).astype(bool)
    out["note"] = out["note"].fillna("")
    return out


def _attr_row(da_arm, bench, panels, coefs, ci, fixed, alpha, power) -> dict:
    row = {"da_arm": da_arm, "benchmark": bench, "n_items": panels[0].n_items}
    ests = {name: estimate(panels, coefs[name], fixed=fixed) for name in EFFECTS}
    for name, e in ests.items():
        lo, hi = e.interval(ci)
        row.update({name: e.estimate, f"{name}_lo": lo, f"{name}_hi": hi})
    obj = ests["objective"]
    row.update(objective_p=obj.p_value(), objective_mde=obj.mde(alpha, power),
               seeds_estimated=all(e.seeds_estimated for e in ests.values()),
               note=_join(obj.note, "" if obj.seeds_estimated else ONE_SEED))
    return row


def headline(df, *, arms=None, benchmarks=None, baseline: str | None = None, ci: float = 0.95, fixed=()):
    """Per arm: `macro` (mean over benchmarks of each benchmark's item mean) and `micro` (mean over
    all items pooled, i.e. item-weighted), seed-averaged, with variance-components intervals. Items
    per benchmark are those every (arm, seed) scored; a benchmark some arm lacks is left out and
    named in `out.attrs["notes"]`. With `baseline`, also delta_macro/delta_micro (arm - baseline).
    Columns: arm, n_benchmarks, n_items, macro, macro_lo, macro_hi, micro, micro_lo, micro_hi,
    seeds_estimated [, delta_macro, delta_macro_lo, delta_macro_hi, delta_micro, delta_micro_lo,
    delta_micro_hi].
    """
    import pandas as pd

    df = normalise(df)
    arms = sorted(df["arm"].unique()) if arms is None else list(arms)
    check_arms(df, arms + ([baseline] if baseline else []))
    if baseline and baseline not in arms:
        arms.append(baseline)
    panels, notes = [], []
    for bench in _benchmarks(df, benchmarks):
        p = panel(df, bench, arms)
        if p.n_items == 0:
            notes.append(f"headline leaves out {p.note()}")
        else:
            panels.append(p)
    if not panels:
        raise DataError(f"no benchmark has items scored by every (arm, seed) of {arms}")
    sizes = np.array([p.n_items for p in panels], dtype=float)
    weights = {"macro": None, "micro": sizes / sizes.sum()}

    def stats_of(coef) -> tuple[dict, bool]:
        out, ok = {}, True
        for kind, w in weights.items():
            e = estimate(panels, coef, weights=w, fixed=fixed)
            lo, hi = e.interval(ci)
            out.update({kind: e.estimate, f"{kind}_lo": lo, f"{kind}_hi": hi})
            ok = ok and e.seeds_estimated
        return out, ok

    rows = []
    for a in arms:
        level, ok = stats_of({a: 1.0})
        row = dict(arm=a, n_benchmarks=len(panels), n_items=int(sizes.sum()), **level, seeds_estimated=ok)
        if baseline:
            if a == baseline:
                delta = {f"{k}{s}": 0.0 for k in weights for s in ("", "_lo", "_hi")}
            else:
                delta, dok = stats_of({a: 1.0, baseline: -1.0})
                row["seeds_estimated"] = ok and dok
            row.update({f"delta_{k}": v for k, v in delta.items()})
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs["notes"] = notes
    return out
