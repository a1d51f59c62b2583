"""All numbers of a report, computed once from an `AblationData` by ctxbench.stats.arms.

Why separate from rendering: the HTML report, the Markdown summary and the app's pages draw the same
tables and figures, so they take one `Analysis` (plain DataFrames, picklable for st.cache_data).
A part that cannot be computed (no GRPO arm, no DA arm, no probe ...) is left empty with a note that
says why; nothing is silently skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ctxbench.core.errors import CtxbenchError
from ctxbench.report.data import PROBE, AblationData, arm_order
from ctxbench.report.scoring import official_vs_semantic
from ctxbench.report.verdict import Verdict, isnan, verdict_from
from trainers.arms import baseline, data_augmentation, method

BASELINE = baseline()  # the roles of the registered objectives (trainers/arms.py)
METHOD = method()
ALPHA = 0.05
# Training curves: shown name -> metric names tried in order (the first one a run logged is used).
# DA-RL has no selection loss; its A/B pair reward is its selection accuracy during training.
CURVES = {
    "reward": ("reward_mean",),
    "selection accuracy": ("ca_select_acc", "pair_reward_mean"),
    "KL": ("kl",),
}


@dataclass
class Published:
    """One imported published table, recomputed the paper's way."""

    key: str            # the import group (ablation label or config hash)
    name: str
    table: object       # model x benchmark x arm scores (long)
    headline: object    # per arm: per-model mean over benchmarks, `average` (paper_headline)
    deltas: object      # per model, benchmark, arm: score - grpo score
    attribution: list[str] = field(default_factory=list)  # "vs da-rl: total = data + objective" lines
    notes: list[str] = field(default_factory=list)


@dataclass
class Analysis:
    name: str
    arms: list[str]
    benchmarks: list[str]
    headline: object = None      # stats.headline (task benchmarks), delta vs grpo
    deltas: object = None        # stats.compare_arms(grpo, arm) per arm, concatenated, + `significance`
    probe_deltas: object = None  # same on the probe benchmark
    attribution: object = None   # stats.attribution
    mechanism: object = None     # stats.MechanismResult
    curves: object = None        # arm, curve, metric, step, mean, lo, hi, n_seeds
    published: list[Published] = field(default_factory=list)
    scoring: object = None       # report.scoring.official_vs_semantic: official vs semantic accuracy
    verdict: Verdict | None = None
    notes: list[str] = field(default_factory=list)
    n_runs: dict = field(default_factory=dict)  # arm -> seeds evaluated


def significance(delta: float, p_holm: float, alpha: float = ALPHA) -> str:
    """'better' / 'worse' (Holm-corrected p < alpha, by the sign of the delta) or 'n.s.'."""
    if isnan(p_holm) or isnan(delta) or p_holm >= alpha:
        return "n.s."
    return "better" if delta > 0 else "worse"


def _compare_all(frame, arms, n_boot, n_perm, seed):
    import pandas as pd

    from ctxbench.stats.arms import compare_arms

    parts = [compare_arms(frame, BASELINE, a, n_boot=n_boot, n_perm=n_perm, seed=seed)
             for a in arms if a != BASELINE]
    if not parts:
        return None
    out = pd.concat(parts, ignore_index=True)
    out["significance"] = [significance(d, p) for d, p in zip(out["delta"], out["p_holm"])]
    return out


def training_curves(train):
    """Mean over seeds per (arm, curve, step) with the min-max band across seeds."""
    import pandas as pd

    cols = ["arm", "curve", "metric", "step", "mean", "lo", "hi", "n_seeds"]
    if train is None or train.empty:
        return pd.DataFrame(columns=cols)
    parts = []
    for curve, names in CURVES.items():
        for run_id, sub in train.groupby("run_id", sort=False):
            have = set(sub["name"])
            metric = next((n for n in names if n in have), None)
            if metric is not None:
                parts.append(sub[sub["name"] == metric].assign(curve=curve, metric=metric))
    if not parts:
        return pd.DataFrame(columns=cols)
    df = pd.concat(parts, ignore_index=True)
    g = df.groupby(["arm", "curve", "metric", "step"])["value"]
    out = g.agg(mean="mean", lo="min", hi="max", n_seeds="count").reset_index()
    return out[cols]


def _table_name(key: str, names: list[str]) -> str:
    """A table's display name: the common leading path components of its import runs' names
    ("paper-table-2/Qwen3/grpo", ...), else the group key."""
    if len(set(names)) == 1:
        return names[0]
    split = [n.split("/") for n in names]
    common = []
    for comps in zip(*split) if split else ():
        if len(set(comps)) != 1:
            break
        common.append(comps[0])
    return "/".join(common) or str(key)


def _published_attribution(head) -> list[str]:
    """total = data + objective on paper-style averages, per DA arm present (no intervals)."""
    if BASELINE not in head.index or METHOD not in head.index:
        return []
    avg = head["average"]
    out = []
    for da in (a for a in data_augmentation() if a in head.index):
        out.append(f"vs {da}: total {avg[METHOD] - avg[BASELINE]:+.2f} = data {avg[da] - avg[BASELINE]:+.2f} "
                   f"+ objective {avg[METHOD] - avg[da]:+.2f}")
    return out


def published_views(agg) -> list[Published]:
    """Recompute each imported table's deltas vs grpo and its paper-style headline averages."""
    from ctxbench.core.errors import DataError
    from ctxbench.stats.arms import paper_headline

    out = []
    if agg is None or agg.empty:
        return out
    for key, sub in agg.groupby("table_key", sort=True):
        notes = []
        name = _table_name(key, sub["run_name"].dropna().astype(str).tolist())
        try:
            head = paper_headline(sub)
        except DataError as e:
            notes.append(f"{e}; averaged over the benchmarks present instead")
            head = paper_headline(sub, skipna=True)
        head = head.loc[arm_order(head.index)]
        if BASELINE in head.index:
            head["delta_vs_grpo"] = head["average"] - head.loc[BASELINE, "average"]
            base = sub[sub["arm"] == BASELINE].set_index(["model", "benchmark"])["score"]
            deltas = sub[sub["arm"] != BASELINE].copy()
            deltas["grpo"] = [base.get((m, b)) for m, b in zip(deltas["model"], deltas["benchmark"])]
            deltas["delta"] = deltas["score"] - deltas["grpo"]
            deltas = deltas[["model", "benchmark", "arm", "score", "grpo", "delta"]]
        else:
            notes.append(f"no {BASELINE} row in this table: deltas vs {BASELINE} cannot be recomputed")
            deltas = None
        out.append(Published(str(key), name, sub, head, deltas, _published_attribution(head), notes))
    return out


def analyze(data: AblationData, *, n_boot: int = 2000, n_perm: int = 10000, seed: int = 0) -> Analysis:
    """Every table behind the report (seeded: the same store gives the same numbers)."""
    from ctxbench.stats.arms import attribution, headline, mechanism_view

    task = data.task_items
    arms = data.arms
    res = Analysis(name=data.name, arms=arms, benchmarks=data.benchmarks, notes=list(data.notes))
    res.n_runs = {a: sorted(int(s) for s in task[task["arm"] == a]["seed"].unique()) for a in arms}
    res.curves = training_curves(data.train)
    res.scoring = official_vs_semantic(data.items)
    res.published = published_views(data.aggregates)
    if task.empty and res.published and data.runs["kind"].eq("import").all():
        res.notes.append("this ablation holds only imported published tables (aggregate scores, no item rows): "
                         "their deltas and paper-style averages are under 'Published tables'; the per-item "
                         "sections (intervals, tests, attribution, probe) need eval runs")
    elif task.empty:
        res.notes.append("no eval results for this ablation yet (per-item tables are empty)")
    else:
        task_arms = arm_order(task["arm"].unique())
        try:
            res.headline = headline(task, arms=task_arms,
                                    baseline=BASELINE if BASELINE in task_arms else None,
                                    n_boot=n_boot, seed=seed)
        except CtxbenchError as e:
            res.notes.append(f"headline table not computed: {e}")
        if BASELINE in task_arms:
            res.deltas = _compare_all(task, task_arms, n_boot, n_perm, seed)
        else:
            res.notes.append(f"no {BASELINE!r} arm evaluated: deltas and attribution need it")
        da = [a for a in data_augmentation() if a in task_arms]
        if BASELINE in task_arms and METHOD in task_arms and not da:
            res.notes.append(f"attribution not computed: no data-augmentation arm in the data (looked for "
                             f"{list(data_augmentation())}; arms present: {sorted(task_arms)})")
        elif BASELINE in task_arms and METHOD in task_arms:
            try:
                res.attribution = attribution(task, grpo=BASELINE, contextrl=METHOD, da=da, n_boot=n_boot, seed=seed)
            except CtxbenchError as e:
                res.notes.append(f"attribution not computed: {e}")
        elif BASELINE in task_arms:
            res.notes.append(f"no {METHOD!r} arm evaluated: nothing to attribute")
    probe = data.probe_items
    if not probe.empty:
        probe_arms = arm_order(probe["arm"].unique())
        if BASELINE in probe_arms:
            res.probe_deltas = _compare_all(probe, probe_arms, n_boot, n_perm, seed)
        if not task.empty:
            try:
                res.mechanism = mechanism_view(data.items, probe_benchmark=PROBE)
            except CtxbenchError as e:
                res.notes.append(f"mechanism view not computed: {e}")
    else:
        res.notes.append("no probe results (benchmark 'probe'): the mechanism view needs them")
    res.verdict = verdict_from(res.attribution, BASELINE, METHOD)
    return res
