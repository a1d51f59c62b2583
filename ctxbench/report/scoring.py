"""Official and semantic accuracy side by side, per benchmark and arm.

Why: a benchmark with an official scorer stores two verdicts per item (eval/rows.py). The score of
record is the official one (it is what published tables computed), and ctxbench's semantic reading sits
beside it. A researcher comparing with a paper needs the first; one asking "did the model answer
right?" wants the second; and where the two differ by many points, the gap itself says the official
scorer is rejecting answers for their form. So the report and the app show both and count the items
where they disagree (the app lists them).
"""

from __future__ import annotations

from ctxbench.report.data import arm_order

COLUMNS = ["benchmark", "arm", "verdict", "n_items", "official", "semantic", "n_disagree"]


def official_vs_semantic(items):
    """One row per (benchmark, arm) of the benchmarks scored with an official scorer: which verdict is of
    record (official, or official-rule when the official pipeline's LLM judge was not configured), the
    mean score under each verdict, and how many items the two verdicts score differently. Benchmarks
    without an official scorer (every verdict semantic) are left out. Items stored before both verdicts
    were kept (no semantic score) count in `official` only."""
    import pandas as pd

    if items is None or items.empty or "verdict" not in items:
        return pd.DataFrame(columns=COLUMNS)
    off = items[items["verdict"].isin(["official", "official-rule"])]
    if off.empty:
        return pd.DataFrame(columns=COLUMNS)
    rows = []
    for (bench, arm), sub in off.groupby(["benchmark", "arm"], sort=True):
        both = sub[sub["semantic_score"].notna()]
        rows.append({
            "benchmark": bench, "arm": arm, "verdict": "/".join(sorted(sub["verdict"].unique())),
            "n_items": len(sub), "official": float(sub["score"].mean()),
            "semantic": float(both["semantic_score"].mean()) if len(both) else float("nan"),
            "n_disagree": int((both["score"] != both["semantic_score"]).sum()),
        })
    out = pd.DataFrame(rows, columns=COLUMNS)
    order = {a: i for i, a in enumerate(arm_order(out["arm"].unique()))}
    return out.sort_values(["benchmark", "arm"], key=lambda c: c.map(order) if c.name == "arm" else c,
                           ignore_index=True)


__all__ = ["COLUMNS", "official_vs_semantic"]
