"""Published tables (one score per model x arm x benchmark, no items): the paper's headline average,
table families, and arm comparisons on the cells both arms have.

Why: the paper's headline is "mean over benchmark columns per base model, then over base models",
computed per table: the long-horizon table (two agentic models x six columns) and the VQA table (two
VLMs x twelve benchmarks) are two headlines (+2.25 and +1.775), not one. And its baselines do not fill
every cell: the DA arms have scores only on the two SWE-bench columns, PAPO only for one VLM.
Averaging each arm over whatever cells it has and subtracting (what the report did) compares
different cell sets: the paper's own table then read "da-rl -18.9 vs grpo" and "total +2.25 = data
-18.94 + objective +21.19". So:

- `families` splits a table into its families: an explicit `family` column, else the connected
  components of the model-benchmark graph (models that share no benchmark with each other belong to
  different tables), each named by its models.
- `matched` compares two arms on the cells both have (per base model, the benchmarks both scored;
  the models both have), paper-style on those cells, and says how many cells that is and which
  models one arm lacks.
- `published_attribution` decomposes total = data + objective on the cells all three arms have.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ctxbench.core.errors import DataError


def paper_average(table, *, skipna: bool = False) -> float:
    """The paper's headline: mean over benchmark columns for each base model (row), then the mean of
    those over base models. `table`: DataFrame indexed by model, one column per benchmark. A missing
    cell is an error naming it (the paper's number would silently change) unless skipna; a model with
    no score at all is an error either way (it would silently drop out of the outer mean)."""
    vals = table.apply(lambda c: c.astype(float))
    if vals.shape[0] == 0 or vals.shape[1] == 0:
        raise DataError("paper_average needs a non-empty model x benchmark table")
    if not skipna and vals.isna().any().any():
        model, bench = next((m, b) for m in vals.index for b in vals.columns if np.isnan(vals.at[m, b]))
        raise DataError(f"paper_average: no score for model {model!r} on {bench!r}; fill it or pass skipna=True")
    empty = [m for m in vals.index if vals.loc[m].isna().all()]
    if empty:
        raise DataError(f"paper_average: model {empty[0]!r} has no score at all; drop it from the table")
    return float(vals.mean(axis=1, skipna=True).mean())


def _check_long(agg, value: str) -> None:
    need = {"model", "arm", "benchmark", value}
    if not need <= set(agg.columns):
        raise DataError(f"published table needs columns {sorted(need)}, got {list(agg.columns)}")
    dup = agg.duplicated(["model", "arm", "benchmark"])
    if dup.any():
        r = agg[dup].iloc[0]
        raise DataError(f"published table: several scores for model {r['model']!r}, arm {r['arm']!r}, "
                        f"benchmark {r['benchmark']!r}")


def paper_headline(agg, *, value: str = "score", skipna: bool = False):
    """paper_average per arm from a long (model, arm, benchmark, score) frame such as the store's
    `aggregates` table. Returns a frame indexed by arm: one column per model (its mean over
    benchmarks), `average` and `n_cells` (the cells the arm has)."""
    import pandas as pd

    _check_long(agg, value)
    rows = {}
    for arm, sub in agg.groupby("arm", sort=True):
        table = sub.pivot(index="model", columns="benchmark", values=value)
        per_model = table.astype(float).mean(axis=1)
        rows[arm] = {**per_model.to_dict(), "average": paper_average(table, skipna=skipna),
                     "n_cells": int(table.notna().sum().sum())}
    return pd.DataFrame.from_dict(rows, orient="index")


def families(agg, *, column: str = "family") -> dict[str, object]:
    """{family name: its rows}. An explicit `column` (non-empty) wins; otherwise models that share a
    benchmark (through any arm) are one family, named by its models (sorted) joined with ' + '."""
    if column in agg.columns and agg[column].notna().any() and (agg[column].astype(str) != "").any():
        fam = agg[column].fillna("").astype(str)
        return {name: agg[fam == name] for name in sorted(fam.unique())}
    parent: dict = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for m, b in zip(agg["model"], agg["benchmark"]):
        parent[find(("m", m))] = find(("b", b))
    groups: dict = {}
    for m in dict.fromkeys(agg["model"]):
        groups.setdefault(find(("m", m)), []).append(m)
    out = {}
    for models in sorted(sorted(g) for g in groups.values()):
        out[" + ".join(models)] = agg[agg["model"].isin(models)]
    return out


@dataclass
class Matched:
    """arm - baseline, paper-style, on the cells both have."""

    arm: str
    baseline: str
    delta: float
    arm_average: float
    baseline_average: float
    n_cells: int
    cells: list[tuple[str, str]]
    complete: bool                 # the matched cells are every cell of the baseline and of the arm
    notes: list[str] = field(default_factory=list)


def _cells(agg, arm: str, value: str) -> dict[str, dict[str, float]]:
    sub = agg[(agg["arm"] == arm) & agg[value].notna()]
    out: dict = {}
    for m, b, v in zip(sub["model"], sub["benchmark"], sub[value]):
        out.setdefault(m, {})[b] = float(v)
    return out


def _common(cells: list[dict]) -> dict[str, list[str]]:
    models = [m for m in cells[0] if all(m in c for c in cells[1:])]
    out = {}
    for m in models:
        benches = [b for b in cells[0][m] if all(b in c[m] for c in cells[1:])]
        if benches:
            out[m] = benches
    return out


def _avg(cells: dict, common: dict) -> float:
    return float(np.mean([np.mean([cells[m][b] for b in bs]) for m, bs in common.items()]))


def _missing_notes(arm: str, cells_arm: dict, others: list[tuple[str, dict]]) -> list[str]:
    notes = []
    for name, cells in others:
        for m in cells:
            if m not in cells_arm:
                notes.append(f"{arm} has no scores for model {m} (which {name} has)")
    return notes


def matched(agg, arm: str, baseline: str, *, value: str = "score") -> Matched | None:
    """arm - baseline on the cells both have (None when they share none)."""
    ca, cb = _cells(agg, arm, value), _cells(agg, baseline, value)
    common = _common([ca, cb])
    notes = _missing_notes(arm, ca, [(baseline, cb)]) + _missing_notes(baseline, cb, [(arm, ca)])
    if not common:
        return Matched(arm, baseline, float("nan"), float("nan"), float("nan"), 0, [], False,
                       notes + [f"{arm} and {baseline} share no cell"])
    cells = [(m, b) for m, bs in common.items() for b in bs]
    total = sum(len(v) for v in cb.values())
    complete = len(cells) == total == sum(len(v) for v in ca.values())
    if not complete:
        notes.append(f"{arm} vs {baseline} on the {len(cells)} cells both have (of {total} {baseline} cells)")
    return Matched(arm, baseline, _avg(ca, common) - _avg(cb, common), _avg(ca, common), _avg(cb, common),
                   len(cells), cells, complete, notes)


def published_attribution(agg, *, grpo: str, method: str, da: str, value: str = "score") -> dict | None:
    """total = method - grpo, data = da - grpo, objective = method - da on the cells all three have:
    {total, data, objective, n_cells, n_models, complete, notes}; None when one arm is absent."""
    arms = [grpo, da, method]
    cells = [_cells(agg, a, value) for a in arms]
    if any(not c for c in cells):
        return None
    common = _common(cells)
    if not common:
        return {"total": float("nan"), "data": float("nan"), "objective": float("nan"), "n_cells": 0,
                "n_models": 0, "complete": False, "notes": [f"{grpo}, {da} and {method} share no cell"]}
    g, d, c = (_avg(x, common) for x in cells)
    n = sum(len(v) for v in common.values())
    complete = all(n == sum(len(v) for v in x.values()) for x in cells)
    notes = _missing_notes(da, cells[1], [(grpo, cells[0])])
    return {"total": c - g, "data": d - g, "objective": c - d, "n_cells": n, "n_models": len(common),
            "complete": complete, "notes": notes}
