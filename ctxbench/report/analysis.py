"""All numbers of a report, computed once from an `AblationData` by ctxbench.stats.

Why separate from rendering: the HTML report, the Markdown summary and the app's pages draw the same
tables and figures, so they take one `Analysis` (plain DataFrames, picklable for st.cache_data).
A part that cannot be computed (no GRPO arm, no DA arm, no probe ...) is left empty with a note that
says why; nothing is silently skipped.

Significance is a property of a table, not of one comparison: the per-benchmark deltas table holds
every arm against grpo on every benchmark, so Holm runs over all of its rows (and the probe table is a
family of its own), and each row's minimum detectable effect is the one at the level Holm's first step
needs (alpha / rows), a conservative bound on what the "significant" column can see. A row whose arms
have one seed is not tested (seed variance is not estimated; see ctxbench.stats.variance).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ctxbench.core.errors import CtxbenchError
from ctxbench.report.data import BASE_ARM, PROBE, AblationData, arm_order
from ctxbench.report.scoring import official_vs_semantic
from ctxbench.report.verdict import Verdict, isnan, verdict_from
from trainers.arms import baseline, data_augmentation, method

BASELINE = baseline()  # the roles of the registered objectives (trainers/arms.py)
METHOD = method()
FIXED = (BASE_ARM,)  # the starting checkpoint is one model: no seed-to-seed variance
ALPHA = 0.05
POWER = 0.8
# Training curves: shown name -> metric names tried in order (the first one a run logged is used).
# DA-RL has no selection loss; its A/B pair reward is its selection accuracy during training.
CURVES = {
    "reward": ("reward_mean",),
    "selection accuracy": ("ca_select_acc", "pair_reward_mean"),
    "KL": ("kl",),
}


@dataclass
class Published:
    """One family of an imported published table, recomputed the paper's way."""

    key: str            # the import group (ablation label or config hash)
    name: str
    table: object       # model x benchmark x arm scores (long)
    headline: object    # per arm: per-model mean over its benchmarks, `average`, `n_cells`, matched delta
    deltas: object      # per model, benchmark, arm: score - grpo score (cells both have)
    attribution: list[str] = field(default_factory=list)  # "vs da-rl: total = data + objective" lines
    notes: list[str] = field(default_factory=list)
    family: str = ""
    headline_delta: float = float("nan")  # method - baseline, paper-style, on the cells both have


@dataclass
class Analysis:
    name: str
    arms: list[str]
    benchmarks: list[str]
    headline: object = None      # stats.headline (task benchmarks), delta vs grpo
    deltas: object = None        # stats.compare_arms(grpo, arm) per arm, concatenated, Holm over all rows
    probe_deltas: object = None  # same on the probe benchmark (its own family)
    attribution: object = None   # stats.attribution
    mechanism: object = None     # stats.MechanismResult
    curves: object = None        # arm, curve, metric, step, mean, lo, hi, n_seeds
    published: list[Published] = field(default_factory=list)
    scoring: object = None       # report.scoring.official_vs_semantic: official vs semantic accuracy
    verdict: Verdict | None = None
    notes: list[str] = field(default_factory=list)
    n_runs: dict = field(default_factory=dict)  # arm -> seeds evaluated


def significance(delta: float, p_holm: float, alpha: float = ALPHA, tested: bool = True) -> str:
    """'better' / 'worse' (Holm-corrected p < alpha, by the sign of the delta), 'n.s.', or
    'not tested' (seed variance not estimated)."""
    if not tested:
        return "not tested"
    if isnan(p_holm) or isnan(delta) or p_holm >= alpha:
        return "n.s."
    return "better" if delta > 0 else "worse"


def compare_all(frame, arms, n_boot: int = 2000, n_perm: int = 10000, seed: int = 0):
    """Every arm vs grpo on every benchmark, as one family: Holm over all rows, MDE at Holm's first step.
    The report's deltas table and `run-ablation`'s printed one (so both show the same p-values)."""
    import pandas as pd

    from ctxbench.stats.arms import compare_arms, holm, mde
    from ctxbench.stats.panel import normalise

    frame = normalise(frame)  # once for all the comparisons
    parts = [compare_arms(frame, BASELINE, a, n_boot=n_boot, n_perm=n_perm, seed=seed, fixed=FIXED)
             for a in arms if a != BASELINE]
    if not parts:
        return None
    out = pd.concat(parts, ignore_index=True)
    out["p_holm"] = holm(out["p_value"].to_numpy(dtype=float))
    m = max(1, int(out["p_value"].notna().sum()))
    out["family_size"] = m
    out["mde"] = [mde(se, df, ALPHA / m, POWER) for se, df in zip(out["se_test"], out["df_test"])]
    out["significance"] = [significance(d, p, tested=bool(t))
                           for d, p, t in zip(out["delta"], out["p_holm"], out["seeds_estimated"])]
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


def _published_attribution(sub) -> list[str]:
    """total = data + objective per DA arm present, on the cells grpo, that arm and the method all have."""
    from ctxbench.stats.published import published_attribution

    out = []
    for da in (a for a in data_augmentation() if a in set(sub["arm"])):
        r = published_attribution(sub, grpo=BASELINE, method=METHOD, da=da)
        if r is None or r["n_cells"] == 0:
            continue
        where = (f"all {r['n_cells']} cells" if r["complete"] else
                 f"only the {r['n_cells']} cells {BASELINE}, {da} and {METHOD} all have "
                 f"({r['n_models']} model{'s' if r['n_models'] != 1 else ''})")
        out.append(f"vs {da}: total {r['total']:+.3f} = data {r['data']:+.3f} + objective {r['objective']:+.3f} "
                   f"(on {where})")
    return out


def _published_family(key, name: str, family: str, sub) -> Published:
    import pandas as pd

    from ctxbench.stats.published import matched, paper_headline

    notes = []
    head = paper_headline(sub, skipna=True)
    head = head.loc[arm_order(head.index)]
    full = int(head["n_cells"].max())
    for arm, n in head["n_cells"].items():
        if n < full:
            notes.append(f"{arm} has scores in {n} of the table's {full} cells; its average is over those cells only "
                         "and is not comparable with the others'")
    deltas, headline_delta = None, float("nan")
    if BASELINE in head.index:
        delta, cells = {}, {}
        for arm in head.index:
            if arm == BASELINE:
                continue
            mt = matched(sub, arm, BASELINE)
            delta[arm], cells[arm] = mt.delta, mt.n_cells
            notes += [n for n in mt.notes if n not in notes]
            if arm == METHOD:
                headline_delta = mt.delta
        head["delta_vs_grpo"] = pd.Series(delta)
        head["matched_cells"] = pd.Series(cells)
        base = sub[sub["arm"] == BASELINE].set_index(["model", "benchmark"])["score"]
        d = sub[sub["arm"] != BASELINE].copy()
        d["grpo"] = [base.get((m, b)) for m, b in zip(d["model"], d["benchmark"])]
        d = d[d["grpo"].notna()]
        d["delta"] = d["score"] - d["grpo"].astype(float)
        deltas = d[["model", "benchmark", "arm", "score", "grpo", "delta"]]
    else:
        notes.append(f"no {BASELINE} row in this table: deltas vs {BASELINE} cannot be recomputed")
    return Published(str(key), name, sub, head, deltas, _published_attribution(sub), notes, family, headline_delta)


def _family_of(run_names):
    """The family an import run belongs to: NAME/family/model/arm (ctxbench.store.import_table)."""
    out = []
    for n in run_names:
        parts = str(n).split("/") if isinstance(n, str) else []
        out.append(parts[1] if len(parts) == 4 else "")
    return out


def published_views(agg) -> list[Published]:
    """Each imported table, split into its families (the paper's long-horizon and VQA tables are two
    headlines), with deltas vs grpo and the attribution on the cells the arms compared share."""
    from ctxbench.stats.published import families

    out = []
    if agg is None or agg.empty:
        return out
    for key, sub in agg.groupby("table_key", sort=True):
        name = _table_name(key, sub["run_name"].dropna().astype(str).tolist())
        sub = sub.assign(family=_family_of(sub["run_name"]))
        fams = families(sub)
        explicit = (sub["family"] != "").any()
        for fam, part in fams.items():
            shown = f"{name} · {fam}" if len(fams) > 1 else name
            try:
                pub = _published_family(key, shown, fam, part)
            except CtxbenchError as e:  # e.g. two scores for one cell: say so, keep the report
                import pandas as pd

                pub = Published(str(key), shown, part, pd.DataFrame(), None, [], [f"not recomputed: {e}"], fam)
            if len(fams) > 1:
                how = "its family column" if explicit else "the models that share benchmarks"
                pub.notes.insert(0, f"one of {len(fams)} families of {name} (split by {how}); each has its own "
                                    f"headline, as in the paper")
            out.append(pub)
    return out


def _seeds(values) -> list:
    """Seeds as shown: integers when they are, sorted."""
    vals = list(dict.fromkeys(values.dropna().tolist()))
    try:
        return sorted(int(v) for v in vals)
    except (TypeError, ValueError):
        return sorted(map(str, vals))


def analyze(data: AblationData, *, n_boot: int = 2000, n_perm: int = 10000, seed: int = 0) -> Analysis:
    """Every table behind the report (seeded: the same store gives the same numbers)."""
    from ctxbench.stats.arms import attribution, headline, mechanism_view
    from ctxbench.stats.panel import normalise

    task = data.task_items
    arms = data.arms
    res = Analysis(name=data.name, arms=arms, benchmarks=data.benchmarks, notes=list(data.notes))
    res.n_runs = {a: _seeds(task[task["arm"] == a]["seed"]) for a in arms}
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
            task = normalise(task)  # once: every statistic below takes this frame as it is
        except CtxbenchError:
            pass  # each statistic below normalises again and notes the error under its own table
        try:
            res.headline = headline(task, arms=task_arms, baseline=BASELINE if BASELINE in task_arms else None,
                                    fixed=FIXED)
            res.notes += res.headline.attrs.get("notes", [])
        except CtxbenchError as e:
            res.notes.append(f"headline table not computed: {e}")
        one = [a for a in task_arms if a not in FIXED and len(res.n_runs.get(a, [])) == 1]
        if one:
            res.notes.append(f"{', '.join(one)} {'has' if len(one) == 1 else 'have'} one seed: seed-to-seed variance "
                             "is not estimated, so the intervals of the comparisons involving "
                             f"{'it' if len(one) == 1 else 'them'} cover new items for these trained models only, "
                             "and nothing is labelled significant on them (train at least 3 seeds)")
        if BASELINE in task_arms:
            try:
                res.deltas = compare_all(task, task_arms, n_boot, n_perm, seed)
            except CtxbenchError as e:
                res.notes.append(f"per-benchmark deltas not computed: {e}")
        else:
            res.notes.append(f"no {BASELINE!r} arm evaluated: deltas and attribution need it")
        da = [a for a in data_augmentation() if a in task_arms]
        if BASELINE in task_arms and METHOD in task_arms and not da:
            res.notes.append(f"attribution not computed: no data-augmentation arm in the data (looked for "
                             f"{list(data_augmentation())}; arms present: {sorted(task_arms)})")
        elif BASELINE in task_arms and METHOD in task_arms:
            try:
                res.attribution = attribution(task, grpo=BASELINE, contextrl=METHOD, da=da, fixed=FIXED,
                                              alpha=ALPHA, power=POWER)
            except CtxbenchError as e:
                res.notes.append(f"attribution not computed: {e}")
        elif BASELINE in task_arms:
            res.notes.append(f"no {METHOD!r} arm evaluated: nothing to attribute")
    probe = data.probe_items
    if not probe.empty:
        probe_arms = arm_order(probe["arm"].unique())
        if BASELINE in probe_arms:
            try:
                res.probe_deltas = compare_all(probe, probe_arms, n_boot, n_perm, seed)
            except CtxbenchError as e:
                res.notes.append(f"probe deltas not computed: {e}")
        if not task.empty:
            try:
                res.mechanism = mechanism_view(data.items, probe_benchmark=PROBE)
            except CtxbenchError as e:
                res.notes.append(f"mechanism view not computed: {e}")
    else:
        res.notes.append("no probe results (benchmark 'probe'): the mechanism view needs them")
    res.verdict = verdict_from(res.attribution, BASELINE, METHOD)
    return res
