"""The report's tables as rows of strings, and the Markdown summary built from them.

Why: the Markdown summary, the HTML report and the app show the same tables; formatting them once
(intervals as `+0.123 [+0.045, +0.201]`, NaN as an explicit dash) keeps the three identical. A table
is `(headers, rows)`; `md_table` renders it for Markdown, html.py for HTML.
"""

from __future__ import annotations

from ctxbench.report.analysis import ALPHA, BASELINE, METHOD, POWER, Analysis
from ctxbench.report.data import arm_order
from ctxbench.report.verdict import fmt_ci, isnan

DASH = "–"


def _num(v, digits: int = 3, sign: bool = False) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return DASH
    if isnan(f):
        return DASH
    return f"{f:+.{digits}f}" if sign else f"{f:.{digits}f}"


def _ci(est, lo, hi, sign: bool = True) -> str:
    if any(isnan(x) for x in (est, lo, hi)):
        return _num(est, sign=sign)
    if sign:
        return fmt_ci(est, lo, hi)
    return f"{est:.3f} [{lo:.3f}, {hi:.3f}]"


def _p(v) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return DASH
    return DASH if isnan(f) else (f"{f:.2g}" if f < 0.01 else f"{f:.3f}")


def headline_table(an: Analysis):
    h = an.headline
    if h is None or len(h) == 0:
        return None
    has_delta = "delta_macro" in h.columns
    headers = ["arm", "seeds", "benchmarks", "items", "mean over benchmarks [95% CI]", "item-weighted [95% CI]"]
    if has_delta:
        headers.append("Δ vs grpo (benchmark mean) [95% CI]")
    rows = []
    for _, r in h.set_index("arm").loc[arm_order(h["arm"])].reset_index().iterrows():
        row = [r["arm"], ",".join(map(str, an.n_runs.get(r["arm"], []))) or DASH, str(r["n_benchmarks"]),
               str(r["n_items"]), _ci(r["macro"], r["macro_lo"], r["macro_hi"], sign=False),
               _ci(r["micro"], r["micro_lo"], r["micro_hi"], sign=False)]
        if has_delta:
            row.append(DASH if r["arm"] == BASELINE else
                       _ci(r["delta_macro"], r["delta_macro_lo"], r["delta_macro_hi"]))
        rows.append(row)
    return headers, rows


SIGNIFICANCE = {"better": "yes, better", "worse": "yes, worse", "n.s.": "no",
                "not tested": "not tested (one seed)"}
METHOD_NOTE = ("Intervals: 95% variance-components t intervals for the population of new items and new training "
               "seeds (item x arm and seed-to-seed variance, Satterthwaite df); p: the same model's t-test, "
               f"Holm-corrected over every row of its table (all arms x benchmarks). MDE: the smallest true "
               f"delta the 'significant' column detects with {POWER:.0%} power for this run's items, seeds and "
               f"variance components, at Holm's first step (alpha / rows: conservative). Seed sd: the seed-to-seed "
               f"sd of each arm's mean. With one seed, seed variance is not estimated: the interval covers new "
               f"items for those trained models only and the row is not tested.")


def _mde(r) -> str:
    v = _num(r.get("mde"))
    if v == DASH:
        return v
    return v if bool(r.get("seeds_estimated")) else f"≥{v}"


def _sd_pair(a, b) -> str:
    return f"{_num(a)}/{_num(b)}"


def deltas_table(deltas):
    if deltas is None or len(deltas) == 0:
        return None
    headers = ["benchmark", "arm", "items", "seeds (grpo/arm)", "grpo", "arm score", "delta [95% CI]", "p",
               "Holm p", f"significant (Holm < {ALPHA})", f"MDE ({POWER:.0%} power)", "seed sd (grpo/arm)", "note"]
    order = {a: i for i, a in enumerate(arm_order(deltas["arm_b"].unique()))}
    d = deltas.assign(_o=deltas["arm_b"].map(order)).sort_values(["benchmark", "_o"])
    rows = [[r["benchmark"], r["arm_b"], str(int(r["n_items"])), f"{r['n_seeds_a']}/{r['n_seeds_b']}",
             _num(r.get("mean_a")), _num(r.get("mean_b")), _ci(r.get("delta"), r.get("delta_lo"), r.get("delta_hi")),
             _p(r.get("p_value")), _p(r.get("p_holm")),
             DASH if int(r["n_items"]) == 0 else SIGNIFICANCE.get(r.get("significance"), "no"), _mde(r),
             _sd_pair(r.get("seed_sd_a"), r.get("seed_sd_b")), _note(r.get("note"))]
            for _, r in d.iterrows()]
    return headers, rows


def _note(v) -> str:
    return v if isinstance(v, str) else ""


def attribution_table(attr):
    if attr is None or len(attr) == 0:
        return None
    headers = ["DA arm", "benchmark", "items", "total: contextrl − grpo [95% CI]", "data: da − grpo [95% CI]",
               "objective: contextrl − da [95% CI]", f"MDE objective ({POWER:.0%}, α={ALPHA})", "note"]
    rows = []
    for _, r in attr.iterrows():
        n = r["n_items"]
        rows.append([r["da_arm"], r["benchmark"], DASH if isnan(n) else str(int(n)),
                     _ci(r.get("total"), r.get("total_lo"), r.get("total_hi")),
                     _ci(r.get("data"), r.get("data_lo"), r.get("data_hi")),
                     _ci(r.get("objective"), r.get("objective_lo"), r.get("objective_hi")),
                     _mde({"mde": r.get("objective_mde"), "seeds_estimated": r.get("seeds_estimated")}),
                     _note(r.get("note"))])
    return headers, rows


def mechanism_table(mech):
    if mech is None:
        return None
    f = mech.frame
    rows = [[r["arm"], str(r["seed"]), _num(r["probe_acc"]), _num(r["task_score"])]
            for _, r in f.iterrows()]
    return ["arm", "seed", "probe accuracy", "end-task score"], rows


def curves_table(curves):
    """Last logged step per arm and curve (mean over seeds, min..max)."""
    if curves is None or len(curves) == 0:
        return None
    from ctxbench.report.analysis import CURVES

    last = curves.sort_values("step").groupby(["curve", "arm"], sort=False).tail(1)
    corder = {c: i for i, c in enumerate(CURVES)}
    aorder = {a: i for i, a in enumerate(arm_order(last["arm"].unique()))}
    last = last.assign(_c=last["curve"].map(corder).fillna(len(corder)), _a=last["arm"].map(aorder))
    rows = [[r["curve"], r["arm"], r["metric"], str(int(r["step"])), _num(r["mean"], 4),
             f"{_num(r['lo'], 4)} .. {_num(r['hi'], 4)}", str(int(r["n_seeds"]))]
            for _, r in last.sort_values(["_c", "curve", "_a"]).iterrows()]
    return ["curve", "arm", "metric", "last step", "mean", "min .. max over seeds", "seeds"], rows


def published_tables(pub):
    """(headline table, deltas table) for one family of an imported published table."""
    h = pub.headline
    extra = ("average", "delta_vs_grpo", "n_cells", "matched_cells")
    models = [c for c in h.columns if c not in extra]
    has_delta = "delta_vs_grpo" in h.columns
    headers = (["arm", *models, "paper-style average"] + ([f"Δ vs {BASELINE} (cells both have)"] if has_delta else [])
               + ["cells"] + (["cells compared"] if has_delta else []))
    rows = []
    for arm in h.index:
        row = [arm, *[_num(h.loc[arm, m], 2) for m in models], _num(h.loc[arm, "average"], 2)]
        if has_delta:
            row.append(_num(h.loc[arm, "delta_vs_grpo"], 2, sign=True))
        row.append(str(int(h.loc[arm, "n_cells"])))
        if has_delta:
            mc = h.loc[arm, "matched_cells"]
            row.append(DASH if isnan(mc) else str(int(mc)))
        rows.append(row)
    dt = None
    if pub.deltas is not None and len(pub.deltas):
        dt = (["model", "benchmark", "arm", "score", "grpo", "delta"],
              [[r["model"], r["benchmark"], r["arm"], _num(r["score"], 2), _num(r["grpo"], 2),
                _num(r["delta"], 2, sign=True)] for _, r in pub.deltas.iterrows()])
    return (headers, rows), dt


def published_headline(pub) -> str:
    """The family's headline sentence: method - baseline, the paper's way, on the cells both have."""
    if isnan(pub.headline_delta):
        return ""
    return (f"Headline: {METHOD} − {BASELINE} = {pub.headline_delta:+.3f} (mean over benchmark columns per base model, "
            f"then over base models).")


def _cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def md_table(table) -> str:
    if table is None:
        return "_(no data)_\n"
    headers, rows = table
    out = ["| " + " | ".join(map(_cell, headers)) + " |", "|" + "---|" * len(headers)]
    out += ["| " + " | ".join(map(_cell, r)) + " |" for r in rows]
    return "\n".join(out) + "\n"


def scoring_table(table):
    """Official vs semantic accuracy per benchmark and arm (None when no benchmark has an official scorer)."""
    if table is None or len(table) == 0:
        return None
    headers = ["benchmark", "arm", "score of record", "items", "official accuracy", "semantic accuracy",
               "items scored differently"]
    rows = [[r["benchmark"], r["arm"], r["verdict"], str(int(r["n_items"])), _num(r["official"]),
             _num(r["semantic"]), str(int(r["n_disagree"]))] for _, r in table.iterrows()]
    return headers, rows


SCORING_NOTE = ("Score of record: the official scorer's verdict, quirks included (published numbers include "
                "them); 'official-rule' where the official pipeline asks an LLM judge and none was configured. "
                "Semantic: ctxbench's reading of the answer's meaning. n_disagree: items the two score "
                "differently (listed in the app).")


def render_markdown(an: Analysis, meta: dict) -> str:
    """summary.md: verdict, headline, attribution, per-benchmark deltas, probe, mechanism, curves,
    published tables, notes."""
    v = an.verdict
    seeds = ", ".join(f"{a} ({len(s)} seed{'s' if len(s) != 1 else ''})" for a, s in an.n_runs.items())
    out = [f"# ctxbench report: {an.name}", "",
           (f"Store `{meta.get('root', '?')}`, generated {meta.get('generated', '?')}. "
            f"Arms evaluated: {seeds or 'none'}. Task benchmarks: {', '.join(an.benchmarks) or 'none'}."),
           METHOD_NOTE, "",
           "## Verdict", "", f"**{v.label}**: {v.text}" if v else "_(none)_", ""]
    out += ["## Headline (task benchmarks)", "", md_table(headline_table(an))]
    out += ["## Attribution", "",
            ("total = contextrl − grpo = (da − grpo) data effect + (contextrl − da) objective effect; the three "
             "are contrasts of the same arm means on the same items, so the point estimates add up exactly "
             "(interval endpoints need not); each interval is its own variance-components interval."),
            "", md_table(attribution_table(an.attribution))]
    out += ["## Per-benchmark deltas vs grpo", "", md_table(deltas_table(an.deltas))]
    if an.probe_deltas is not None:
        out += ["## Probe: held-out context-selection accuracy vs grpo", "", md_table(deltas_table(an.probe_deltas))]
    out += ["## Mechanism: probe accuracy vs end-task score", ""]
    m = an.mechanism
    if m is None:
        out += ["_(no probe results)_", ""]
    else:
        ci = "" if isnan(m.r_lo) else f" [{m.r_lo:+.2f}, {m.r_hi:+.2f}] (Fisher z)"
        out += [(f"Pearson r = {_num(m.r, 2, sign=True)}{ci}, Spearman ρ = {_num(m.spearman, 2, sign=True)} over "
                 f"{m.n} trained models; descriptive evidence across models, not a causal test."), "",
                md_table(mechanism_table(m))]
    out += ["## Training curves (last step)", "", md_table(curves_table(an.curves))]
    sc = scoring_table(an.scoring)
    if sc is not None:
        out += ["## Official and semantic verdicts", "", SCORING_NOTE, "", md_table(sc)]
    if an.published:
        out += ["## Published tables (recomputed)", ""]
        for pub in an.published:
            head, dt = published_tables(pub)
            out += [f"### {pub.name}", "", ("Average = mean over benchmark columns per base model, then over "
                                             "base models (the paper's way); Δ on the cells both arms have. No item "
                                             "rows: no intervals."), ""]
            if published_headline(pub):
                out += [f"**{published_headline(pub)}**", ""]
            out += [md_table(head)]
            if pub.attribution:
                out += ["Paper-style attribution of the averages: " + "; ".join(pub.attribution), ""]
            if dt is not None:
                out += ["Per-benchmark deltas vs grpo:", "", md_table(dt)]
            out += [f"- {n}" for n in pub.notes] + ([""] if pub.notes else [])
    if an.notes:
        out += ["## Notes", ""] + [f"- {n}" for n in an.notes] + [""]
    return "\n".join(out)
