"""What the report and the app read from the store for one ablation: parameterised, read-only queries.

Why one module: the report (a batch job) and the app (cached, per snapshot) must show the same
numbers, so both load an ablation through `load_ablation` and analyse it through `analysis.analyze`.
Conventions (set by the ablation runner): every run of an ablation carries `runs.ablation = NAME`
and `runs.arm` / `runs.seed`; eval runs score task benchmarks, the context-selection probe is the
benchmark "probe"; training runs (kind "train") log `train_metrics`; published tables arrive as
`aggregates` rows of import runs. Every query binds its values as parameters; only table and column
names from ctxbench.store.schema are ever part of the SQL text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ctxbench.core.errors import CtxbenchError, did_you_mean

PROBE = "probe"
EVAL_KINDS = ("eval", "probe")


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


ARM_ORDER = ("base", "grpo", "da-sft", "da-rl", "contextrl")


def arm_order(arms) -> list[str]:
    """Arms in a fixed, meaningful order (baseline first, the method last), unknown arms after."""
    arms = list(dict.fromkeys(str(a) for a in arms))
    known = [a for a in ARM_ORDER if a in arms]
    return known + sorted(a for a in arms if a not in ARM_ORDER)


def _df(con, sql: str, params: list | None = None):
    cur = con.cursor()
    try:
        return cur.execute(sql, params or []).df()
    finally:
        cur.close()


def list_ablations(con):
    """Ablations in the store, newest first: ablation, n_runs, n_eval, n_train, n_import, last_at."""
    return _df(con, """
        SELECT ablation, count(*) AS n_runs,
               count(*) FILTER (WHERE kind IN ('eval', 'probe')) AS n_eval,
               count(*) FILTER (WHERE kind = 'train') AS n_train,
               count(*) FILTER (WHERE kind = 'import') AS n_import,
               max(created_at) AS last_at
        FROM runs WHERE ablation IS NOT NULL
        GROUP BY ablation ORDER BY last_at DESC NULLS LAST, ablation""")


def latest_ablation(con) -> str | None:
    names = list_ablations(con)["ablation"].tolist()
    return names[0] if names else None


def resolve_name(con, name: str | None) -> str:
    """NAME, or the latest ablation when None; an unknown name is an error listing the known ones."""
    known = list_ablations(con)["ablation"].tolist()
    if not known:
        raise CtxbenchError("the store has no ablation runs (runs.ablation is empty everywhere); run "
                            "`ctxbench run-ablation` first, or import a published table")
    if name is None:
        return known[0]
    if name not in known:
        raise CtxbenchError(f"no ablation named {name!r} in the store{did_you_mean(name, known)} "
                            f"(known: {', '.join(known)})")
    return name


def latest_run_per_cell(items, runs):
    """Keep, per (arm, seed, benchmark), the items of the newest run only: a re-evaluation replaces
    an older one instead of being averaged with it."""
    if items.empty:
        return items, []
    created = runs.set_index("run_id")["created_at"]
    cells = items[["run_id", "arm", "seed", "benchmark"]].drop_duplicates()
    cells = cells.assign(created_at=cells["run_id"].map(created))
    cells = cells.sort_values(["created_at", "run_id"], na_position="first")
    keep = cells.drop_duplicates(["arm", "seed", "benchmark"], keep="last")
    dropped = len(cells) - len(keep)
    notes = [f"{dropped} older eval run(s) superseded by a newer run of the same arm/seed/benchmark"] if dropped else []
    key = keep.set_index(["run_id", "benchmark"]).index
    return items[items.set_index(["run_id", "benchmark"]).index.isin(key)].reset_index(drop=True), notes


def _one_version(items):
    """Restrict each benchmark to one version (the one with most rows); say so when others existed."""
    notes = []
    if items.empty:
        return items, notes
    keep = []
    for bench, sub in items.groupby("benchmark", sort=True):
        counts = sub["benchmark_version"].value_counts()
        if len(counts) > 1:
            notes.append(f"{bench}: runs scored on versions {sorted(counts.index)}; only version "
                         f"{counts.index[0]} is compared")
        keep.append(sub[sub["benchmark_version"] == counts.index[0]])
    import pandas as pd

    return pd.concat(keep, ignore_index=True), notes


# The aggregates key is (run_id, benchmark): an import run holds one (model, arm) row of a published
# table, so one table is the import runs sharing an ablation label or, without one, a config hash
# (one import invocation). `table_key` names that group.
AGG_SQL = """
    SELECT a.run_id, r.name AS run_name, coalesce(r.ablation, r.config_hash, a.run_id) AS table_key,
           a.model, a.arm, a.benchmark, a.score, a.n_items
    FROM aggregates a LEFT JOIN runs r USING (run_id) WHERE {where}
    ORDER BY table_key, a.model, a.arm, a.benchmark"""


def load_ablation(con, name: str) -> AblationData:
    """Read one ablation: its runs, per-item scores (mean over samples; score, else correct), training
    metrics and the published tables that belong to it (or, if it has none, the store's unassigned
    imports, as reference)."""
    runs = _df(con, "SELECT * FROM runs WHERE ablation = ? ORDER BY created_at NULLS FIRST, run_id", [name])
    items = _df(con, """
        SELECT s.run_id, r.arm, r.seed, s.benchmark, s.benchmark_version, s.item_id,
               avg(coalesce(s.score, CAST(s.correct AS DOUBLE))) AS score, count(*) AS n_samples
        FROM samples s JOIN runs r USING (run_id)
        WHERE r.ablation = ? AND r.kind IN (SELECT unnest(?::VARCHAR[]))
        GROUP BY ALL ORDER BY r.arm, r.seed, s.benchmark, s.item_id""", [name, list(EVAL_KINDS)])
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
    train = _df(con, """
        SELECT m.run_id, r.arm, r.seed, m.step, m.name, m.value
        FROM train_metrics m JOIN runs r USING (run_id)
        WHERE r.ablation = ? AND r.kind = 'train'
        ORDER BY r.arm, r.seed, m.name, m.step""", [name])
    agg = _df(con, AGG_SQL.format(where="r.ablation = ?"), [name])
    if agg.empty:
        agg = _df(con, AGG_SQL.format(where="r.kind = 'import' AND r.ablation IS NULL"))
        if not agg.empty:
            notes.append("published tables shown are the store's imports not tied to any ablation")
    return AblationData(name=name, runs=runs, items=items, train=train, aggregates=agg, notes=notes)
