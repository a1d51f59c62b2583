"""ctxbench explorer: `streamlit run app.py` (read-only over the store; safe while a run is writing).

Pages: overview (verdict, headline, deltas) · per-benchmark deltas · attribution · training curves ·
mechanism · item drill-down (one item across every arm and seed, evidence highlighted) · contrastive
pairs (C+ vs C- word diff) · published tables. The store is `$CTXBENCH_ROOT` (default runs/) or the
path typed in the sidebar. Every number comes from ctxbench.report (the same as `ctxbench report`);
every read is cached per database snapshot (ctxbench/app/data.py) and goes through the store's
parameterised query functions (ctxbench/store/queries.py, shared with `ctxbench ls`). When an ingest
publishes a new snapshot, the page notices within seconds and re-reads.
"""

from __future__ import annotations

import os

import pandas as pd
import streamlit as st

from ctxbench.app import data, imageview
from ctxbench.app.diffview import box, diff_html, evidence_spans, highlight_html
from ctxbench.core.errors import CtxbenchError
from ctxbench.report import figures
from ctxbench.report import summary as tables
from ctxbench.report.data import arm_order
from ctxbench.stats.arms import MEAN_ROW

PAGES = ("Overview", "Deltas", "Attribution", "Training curves", "Mechanism", "Verdicts", "Item drill-down",
         "Contrastive pairs", "Published tables")
CREATE_HELP = """No database at `{db}` yet. Create one, then come back (this page notices new data by itself):

```
ctxbench run-ablation --quick              # the embedded ablation, CPU: pairs, 4 arms, scoring, report
# or score one model and ingest:
ctxbench eval --model tiny --suite embedded-long && ctxbench ingest
```

Or point the sidebar's *run root* at an existing store (a folder holding `ctxbench.duckdb`)."""


def frame(table) -> pd.DataFrame:
    """A (headers, rows) table from ctxbench.report.summary as a DataFrame."""
    if table is None:
        return pd.DataFrame()
    headers, rows = table
    return pd.DataFrame(rows, columns=headers)


def show_table(table, key: str) -> None:
    df = frame(table)
    if df.empty:
        st.caption("(no data)")
    else:
        st.dataframe(df, hide_index=True, key=key)


def show_fig(fig, key: str, empty: str = "Nothing to plot yet.") -> None:
    if fig is None:
        st.info(empty)
    else:
        st.plotly_chart(fig, key=key, width="stretch")


# ------------------------------------------------------------------------------------------- pages

def page_overview(an) -> None:
    v = an.verdict
    if v is not None:
        box_ = {"objective": st.success, "both": st.success, "data": st.error}.get(v.label, st.warning)
        box_(f"**Verdict: {v.label}.** {v.text}")
    st.subheader("Headline (task benchmarks)")
    show_table(tables.headline_table(an), "tbl_headline")
    st.subheader("Per-benchmark deltas vs grpo")
    show_fig(figures.delta_figure(an.deltas), "fig_overview_deltas",
             "No deltas: the ablation needs a grpo arm and at least one other arm evaluated.")
    for n in an.notes:
        st.caption(f"Note: {n}")


def page_deltas(an) -> None:
    d = an.deltas
    if d is None or d.empty:
        st.info("No deltas: the ablation needs a grpo arm and at least one other arm evaluated.")
        return
    arms = [a for a in arm_order(d["arm_b"].unique())]
    benches = sorted(d["benchmark"].unique())
    c1, c2 = st.columns(2)
    pick_arms = c1.multiselect("arms (vs grpo)", arms, default=arms, key="delta_arms")
    pick_b = c2.multiselect("benchmarks", benches, default=benches, key="delta_benchmarks")
    sub = d[d["arm_b"].isin(pick_arms) & d["benchmark"].isin(pick_b)]
    show_fig(figures.delta_figure(sub), "fig_deltas", "Nothing selected.")
    show_table(tables.deltas_table(sub), "tbl_deltas")
    st.caption("Colour: variance-components t-test (new items and new seeds), Holm-corrected over every row of "
               "the table (all arms x benchmarks). Bars: its 95% interval. MDE: the smallest true delta the "
               "'significant' column detects with 80% power for this run's items, seeds and variance components "
               "(≥: seed variance not estimated, one seed).")
    if an.probe_deltas is not None:
        st.subheader("Probe: held-out context-selection accuracy vs grpo")
        show_table(tables.deltas_table(an.probe_deltas), "tbl_probe_deltas")


def page_attribution(an) -> None:
    a = an.attribution
    if a is None or a.empty:
        st.info("No attribution: it needs grpo, contextrl and a data-augmentation arm (da-rl or da-sft).")
        return
    benches = [b for b in a["benchmark"].dropna().unique()]
    opts = ([MEAN_ROW] if MEAN_ROW in benches else []) + sorted(b for b in benches if b != MEAN_ROW)
    pick = st.selectbox("benchmark", opts, key="attr_benchmark",
                        format_func=lambda b: "mean over benchmarks" if b == MEAN_ROW else b)
    show_fig(figures.waterfall_figure(a, pick if pick != MEAN_ROW else None), "fig_waterfall")
    show_table(tables.attribution_table(a), "tbl_attribution")


def page_curves(an) -> None:
    c = an.curves
    if c is None or c.empty:
        st.info("No training metrics for this ablation (train runs log them to train_metrics).")
        return
    names = [n for n in ("reward", "selection accuracy", "KL") if n in set(c["curve"])]
    arms = arm_order(c["arm"].unique())
    c1, c2 = st.columns(2)
    pick = c1.multiselect("curves", names, default=names, key="curve_names")
    pick_arms = c2.multiselect("arms", arms, default=arms, key="curve_arms")
    sub = c[c["arm"].isin(pick_arms) & c["curve"].isin(pick or names)]
    show_fig(figures.curves_figure(sub, pick or None), "fig_curves", "Nothing selected.")
    show_table(tables.curves_table(sub), "tbl_curves")


def page_mechanism(an) -> None:
    show_fig(figures.mechanism_figure(an.mechanism), "fig_mechanism",
             "No mechanism view: it needs probe results (benchmark 'probe') and task results per model.")
    if an.mechanism is not None:
        st.caption("Each point is one trained model (arm, seed). Descriptive evidence across models, "
                   "not a causal test.")
        show_table(tables.mechanism_table(an.mechanism), "tbl_mechanism")


def show_images(container, paths, boxes=(), caption: str = "") -> None:
    """Stored images (evidence boxes outlined), at least 256 px wide so 64 px images stay legible."""
    for i, path in enumerate(paths):
        img = imageview.annotated(path, boxes)
        label = f"{caption} image {i + 1}" if len(paths) > 1 else caption
        if img is None:
            container.warning(f"{label or 'image'}: file not found ({path})")
        else:
            container.image(img, caption=label or None, width=max(256, min(img.width, 640)))


def _verdict_mark(row) -> str:
    if isinstance(row.get("error"), str) and row["error"]:
        return "⚠ error"
    if not bool(row.get("parse_ok", True)):
        return "✗ no answer parsed"
    return "✓ right" if bool(row.get("correct")) else "✗ wrong"


def page_items(root, snap, name, an) -> None:
    benches = an.benchmarks + (["probe"] if an.mechanism is not None or an.probe_deltas is not None else [])
    if not benches:
        st.info("No evaluated items in this ablation yet.")
        return
    c1, c2 = st.columns([1, 1])
    bench = c1.selectbox("benchmark", benches, key="item_benchmark")
    disagree = c2.checkbox("only items where arms disagree", key="item_disagree")
    scores = data.item_scores(root, snap, name, bench)
    if scores.empty:
        st.info("No items scored on this benchmark.")
        return
    if disagree:
        scores = scores[scores["spread"] > 0]
        if scores.empty:
            st.info("Every arm scores every item the same.")
            return
    item_id = st.selectbox("item", scores["item_id"].tolist(), key="item_id")
    st.dataframe(scores[scores["item_id"] == item_id], hide_index=True, key="item_row")
    item, samples = data.item_detail(root, snap, name, bench, item_id)
    if item is None:
        st.warning("This item's prompt is not in the items table (its eval wrote no items shard).")
    else:
        text = data.prompt_text(item["prompt"])
        spans, notes = evidence_spans(item["meta"], text)
        st.markdown(f"**Context** ({len(text):,} characters; decisive evidence highlighted"
                    f"{', distractors shaded' if any(s.kind == 'distractor' for s in spans) else ''}). "
                    f"Reference answer: `{item.get('answer')}`")
        st.html(box(highlight_html(text, spans)))
        images = imageview.image_parts(item["prompt"].get("parts"))
        if images:
            boxes = imageview.boxes_in(item["meta"])
            st.markdown(f"**Image{'s' if len(images) > 1 else ''}** ({len(images)} in the prompt"
                        f"{'; evidence boxed' if boxes else ''})")
            cols = st.columns(min(len(images), 2))
            for i, path in enumerate(images):
                show_images(cols[i % len(cols)], [path], boxes, f"image {i + 1}" if len(images) > 1 else "")
        for n in notes:
            st.caption(f"Note: {n}")
        with st.expander("item metadata"):
            st.json(item["meta"])
    if samples.empty:
        st.info("No outputs for this item.")
        return
    arms = arm_order(samples["arm"].unique())
    cols = st.columns(len(arms))
    for col, arm in zip(cols, arms):
        col.markdown(f"**{arm}**")
        for _, r in samples[samples["arm"] == arm].sort_values(["seed", "sample_idx"]).iterrows():
            col.markdown(f"seed {int(r['seed'])} · {_verdict_mark(r)} · score {r['score']:.2f}")
            col.caption(f"extracted: {r['extracted']!r}")
            if r.get("verdict") in ("official", "official-rule") and r.get("semantic_correct") is not None:
                col.caption(f"{r['verdict']} verdict; semantic: {'right' if r['semantic_correct'] else 'wrong'} "
                            f"(read {r['semantic_extracted']!r})")
            col.code(r["output"] if isinstance(r["output"], str) else "", language=None, wrap_lines=True)
            if isinstance(r["error"], str) and r["error"]:
                col.caption(f"error: {r['error']}")


def page_verdicts(root, snap, name, an) -> None:
    """Official vs semantic accuracy per benchmark and arm, and the items where the two verdicts differ."""
    table = tables.scoring_table(an.scoring)
    if table is None:
        st.info("No benchmark in this ablation has an official scorer: every verdict is ctxbench's own "
                "(semantic). The official-format benchmarks (paper-vqa, longbench-v2, livecodebench-v6, "
                "swe-bench-*, niah) store both.")
        return
    st.caption(tables.SCORING_NOTE)
    show_fig(figures.scoring_figure(an.scoring), "fig_scoring")
    show_table(table, "scoring_table")
    bench = st.selectbox("benchmark", sorted(an.scoring["benchmark"].unique()), key="verdict_benchmark")
    rows = data.verdict_disagreements(root, snap, name, bench)
    if rows.empty:
        st.success("The official and the semantic verdict agree on every item of this benchmark.")
        return
    st.markdown(f"**{rows['item_id'].nunique()} item(s), {len(rows)} sample(s) scored differently.** "
                "Open one in *Item drill-down* to see its prompt.")
    st.dataframe(rows[["item_id", "arm", "seed", "verdict", "extracted", "correct", "semantic_extracted",
                       "semantic_correct", "output"]], hide_index=True, key="verdict_rows")


def page_pairs(root, snap) -> None:
    facets = data.pair_facets(root, snap)
    if facets["n"] == 0:
        st.info("No contrastive pairs in the store (the ablation's pairs job writes them).")
        return
    c1, c2, c3, c4 = st.columns([1, 1, 1, 2])
    dom = c1.selectbox("domain", [data.ALL] + facets["domain"], key="pair_domain")
    split = c2.selectbox("split", [data.ALL] + facets["split"], key="pair_split")
    stage = c3.selectbox("stage", [data.ALL] + facets["stage"], key="pair_stage")
    search = c4.text_input("search (id, query, answer, contexts)", key="pair_search")
    found = data.pairs_list(root, snap, dom, split, stage, search)
    st.caption(f"{len(found)} of {facets['n']} pairs" + (" (first shown)" if len(found) >= data.PAIR_LIMIT else ""))
    if found.empty:
        st.info("No pair matches.")
        return
    pid = st.selectbox("pair", found["pair_id"].tolist(), key="pair_id")
    p = data.pair(root, snap, pid)
    if p is None:
        st.warning("That pair is gone from this snapshot.")
        return
    st.markdown("**Question**")
    st.text(p["query"])
    st.markdown("**Answer (supported by C+)**")
    st.text(p["answer"])
    pos_images, neg_images = imageview.image_parts(p["ctx_pos"]), imageview.image_parts(p["ctx_neg"])
    if pos_images or neg_images:  # image pairs: contexts are image parts; the edit's box is outlined
        boxes = imageview.boxes_in(p["diff"])
        st.caption("Changed region outlined." if boxes else "Images side by side.")
        left, right = st.columns(2)
        left.markdown("**C+ (supports the answer)**")
        show_images(left, pos_images, boxes, "C+")
        right.markdown("**C- (confounder)**")
        show_images(right, neg_images, boxes, "C-")
    else:
        a, b, n = diff_html(p["ctx_pos"] or "", p["ctx_neg"] or "")
        st.caption(f"{n} changed segment(s): removed in C- struck through on the left, added in C- on the right.")
        left, right = st.columns(2)
        left.markdown("**C+ (supports the answer)**")
        left.html(box(a))
        right.markdown("**C- (confounder)**")
        right.html(box(b))
    with st.expander("provenance (source, diff_json, meta)"):
        st.json({"source": p["source"], "stage": p["stage"], "diff": p["diff"], "meta": p["meta"]})


def page_published(an) -> None:
    if not an.published:
        st.info("No published tables imported (`ctxbench import-table` writes them to the aggregates table).")
        return
    for i, pub in enumerate(an.published):
        st.subheader(pub.name)
        if tables.published_headline(pub):
            st.markdown(f"**{tables.published_headline(pub)}**")
        show_fig(figures.published_figure(pub), f"fig_pub_{i}")
        head, dt = tables.published_tables(pub)
        show_table(head, f"tbl_pub_head_{i}")
        for line in pub.attribution:
            st.caption(f"Paper-style attribution: {line}")
        if dt is not None:
            show_table(dt, f"tbl_pub_deltas_{i}")
        for n in pub.notes:
            st.caption(f"Note: {n}")


# -------------------------------------------------------------------------------------------- main

@st.fragment(run_every=5)
def watch(root: str, snap) -> None:
    """Re-run the page when ingest publishes a new snapshot."""
    if data.state(root) != snap:
        st.rerun(scope="app")


def main() -> None:
    st.set_page_config(page_title="ctxbench", layout="wide")
    st.sidebar.title("ctxbench")
    root = st.sidebar.text_input("run root", value=os.environ.get("CTXBENCH_ROOT", "runs"), key="root").strip()
    root = root or "runs"
    snap = data.state(root)
    if snap is None:
        st.title("ctxbench explorer")
        st.info(CREATE_HELP.format(db=os.path.join(root, "ctxbench.duckdb")))
        watch(root, snap)
        return
    watch(root, snap)
    linked = st.query_params.get("page")  # deep link: ?page=Item+drill-down
    page = st.sidebar.radio("page", PAGES, index=PAGES.index(linked) if linked in PAGES else 0, key="page")
    st.query_params["page"] = page
    abl = data.ablations(root, snap)
    counts = data.table_counts(root, snap)
    st.sidebar.caption(f"{counts['runs']} runs · {counts['samples']:,} samples · {counts['pairs']:,} pairs")
    if page == "Contrastive pairs":
        st.title("Contrastive pairs")
        page_pairs(root, snap)
        return
    if abl.empty:
        st.title("ctxbench explorer")
        st.info("The store has no ablation yet (no run carries an ablation name). Run `ctxbench run-ablation`; "
                "the contrastive-pairs page works already.")
        return
    name = st.sidebar.selectbox("ablation", abl["ablation"].tolist(), key="ablation")
    st.title(f"{page}: {name}")
    an = data.analysis(root, snap, name)
    if page == "Item drill-down":
        page_items(root, snap, name, an)
    elif page == "Verdicts":
        page_verdicts(root, snap, name, an)
    else:
        {"Overview": page_overview, "Deltas": page_deltas, "Attribution": page_attribution,
         "Training curves": page_curves, "Mechanism": page_mechanism,
         "Published tables": page_published}[page](an)


try:
    main()
except CtxbenchError as e:  # a user-facing problem (bad root, unreadable store): say it, do not crash
    st.error(str(e))
