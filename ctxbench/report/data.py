"""What the report and the app read from the store for one ablation, and how it is cleaned.

Why one module: the report (a batch job) and the app (cached, per snapshot) must show the same
numbers, so both load an ablation through `load_ablation` and analyse it through `analysis.analyze`.
The rows come from ctxbench.store.queries (the store's conventions are described there); this module
decides which of them are compared: runs with an arm, the newest run per (arm, seed, benchmark), one
version per benchmark. The context-selection probe is the benchmark "probe".
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ctxbench.core.errors import CtxbenchError, did_you_mean
from ctxbench.store import queries

PROBE = "probe"


@dataclass
class AblationData:
    """Everything the analyses need, as pandas frames (empty frames, never None)."""

    name: str
    runs: object          # runs rows of the ablation (all kinds)
    items: object         # long per-item frame: run_id, arm, seed, benchmark, benchmark_version, item_id, score
    train: object         # train_metrics joined with arm/seed: run_id, arm, seed, step, name, value
    aggregates: object    # published numbers: run_id, run_name, table_key, model, arm, benchmark, score, n_items
    notes: list[str] = field(default_factory=list)  # data caveats shown in the report and the app

    @property
    def task_items(self):
        return self.items[self.items["benchmark"] != PROBE]

    @property
    def probe_items(self):
        return self.items[self.items["benchmark"] == PROBE]

    @property
    def arms(self) -> list[str]:
        return arm_order(self.items["arm"].dropna().unique())

    @property
    def benchmarks(self) -> list[str]:
        return sorted(b for b in self.items["benchmark"].unique() if b != PROBE)


BASE_ARM = "base"  # the starting checkpoint, scored next to the trained arms


def arm_order(arms) -> list[str]:
    """Arms in a fixed, meaningful order: the starting checkpoint, then the objectives in their declared
    report order (trainers/arms.py: baseline first, the method last), unknown arms (variants) after."""
    from trainers.arms import report_order

    order = (BASE_ARM, *report_order())
    arms = list(dict.fromkeys(str(a) for a in arms))
    known = [a for a in order if a in arms]
    return known + sorted(a for a in arms if a not in order)


def resolve_name(con, name: str | None) -> str:
    """NAME, or the latest ablation when None; an unknown name is an error listing the known ones."""
    known = queries.ablations(con)["ablation"].tolist()
    if not known:
        raise CtxbenchError("the store has no ablation runs (runs.ablation is empty everywhere); run "
                            "`ctxbench run-ablation` first, or import a published table")
    if name is None:
        return known[0]
    if name not in known:
        raise CtxbenchError(f"no ablation named {name!r} in the store{did_you_mean(name, known)} "
                            f"(known: {', '.join(known)})")
    return name


def _group_ids(frame, cols):
    """One integer per row, equal exactly for rows that agree on `cols` (missing values agree with each
    other). Why: at a million rows, pandas' drop_duplicates / isin / groupby over string columns turn
    every string into a Python object first; factorizing column by column stays in C."""
    import numpy as np
    import pandas as pd

    gid = np.zeros(len(frame), dtype=np.int64)
    for c in cols:
        codes, uniques = pd.factorize(frame[c], use_na_sentinel=True)
        gid = pd.factorize(gid * (len(uniques) + 1) + (codes + 1))[0].astype(np.int64)
    return gid


def latest_run_per_cell(items, runs):
    """Keep, per (arm, seed, benchmark), the items of the newest run only: a re-evaluation replaces
    an older one instead of being averaged with it."""
    import numpy as np

    if items.empty:
        return items, []
    created = runs.set_index("run_id")["created_at"]
    _, first = np.unique(_group_ids(items, ["run_id", "arm", "seed", "benchmark"]), return_index=True)
    cells = items.iloc[first][["run_id", "arm", "seed", "benchmark"]].assign(row=first)
    cells = cells.assign(created_at=cells["run_id"].map(created))
    cells = cells.sort_values(["created_at", "run_id"], na_position="first")
    keep = cells.drop_duplicates(["arm", "seed", "benchmark"], keep="last")
    dropped = len(cells) - len(keep)
    if not dropped:  # every row's cell is kept (the usual case)
        return items.reset_index(drop=True), []
    notes = [f"{dropped} older eval run(s) superseded by a newer run of the same arm/seed/benchmark"]
    run_bench = _group_ids(items, ["run_id", "benchmark"])  # a row stays when its (run, benchmark) is kept
    mask = np.isin(run_bench, run_bench[keep["row"].to_numpy()])
    return items[mask].reset_index(drop=True), notes


def _one_version(items):
    """Restrict each benchmark to one version (the one with most rows); say so when others existed.
    Rows come out grouped by benchmark (sorted), in their order within a benchmark."""
    import numpy as np
    import pandas as pd

    notes = []
    if items.empty:
        return items, notes
    bench, benches = pd.factorize(items["benchmark"], sort=True)
    ver, versions = pd.factorize(items["benchmark_version"], use_na_sentinel=False)
    drop = bench < 0  # no benchmark: never compared (groupby left such rows out before)
    per_bench = np.bincount((bench * len(versions) + ver)[~drop], minlength=len(benches) * len(versions))
    for b, name in enumerate(benches):
        if np.count_nonzero(per_bench[b * len(versions):(b + 1) * len(versions)]) < 2:
            continue
        rows = bench == b
        counts = items["benchmark_version"][rows].value_counts()
        notes.append(f"{name}: runs scored on versions {sorted(counts.index)}; only version "
                     f"{counts.index[0]} is compared")
        drop |= rows & (items["benchmark_version"] != counts.index[0]).to_numpy()
    out, bench = (items[~drop], bench[~drop]) if drop.any() else (items, bench)
    if not np.all(bench[1:] >= bench[:-1]):  # not grouped by benchmark yet: a stable sort keeps row order
        out = out.iloc[np.argsort(bench, kind="stable")]
    return out.reset_index(drop=True), notes


def load_ablation(con, name: str) -> AblationData:
    """Read one ablation: its runs, per-item scores (mean over samples; score, else correct), training
    metrics and the published tables that belong to it (or, if it has none, the store's unassigned
    imports, as reference)."""
    runs = queries.runs(con, ablation=name)
    items = queries.ablation_items(con, name)
    notes: list[str] = []
    if not items.empty:
        n_noarm = int(items["arm"].isna().sum())
        if n_noarm:
            notes.append(f"{n_noarm} item rows of runs without an arm were left out")
            items = items[items["arm"].notna()]
        items["seed"] = items["seed"].fillna(0).astype(int)  # an untrained base model has no seed
        items, n1 = latest_run_per_cell(items, runs)
        items, n2 = _one_version(items)
        notes += n1 + n2
    train = queries.ablation_train_metrics(con, name)
    agg = queries.aggregates(con, name)
    if agg.empty:
        agg = queries.aggregates(con, None)
        if not agg.empty:
            notes.append("published tables shown are the store's imports not tied to any ablation")
    return AblationData(name=name, runs=runs, items=items, train=train, aggregates=agg, notes=notes)
