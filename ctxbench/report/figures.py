"""Plotly figure builders shared by the HTML report and the Streamlit app.

Why shared: a figure in the report and the same figure in the app must not drift apart. Every builder
takes frames from `analysis.Analysis` and returns a `plotly.graph_objects.Figure` (or None when there
is nothing to draw), with a stable colour per arm and every interval drawn as an error bar or band.
"""

from __future__ import annotations

from ctxbench.report.analysis import BASELINE, CURVES, METHOD
from ctxbench.report.data import BASE_ARM, arm_order
from ctxbench.report.verdict import isnan
from trainers.arms import arm_names, get_arm

BASE_COLOR = "#7f7f7f"  # the starting checkpoint; every objective's colour is declared in trainers/arms.py
_EXTRA = ("#8c564b", "#e377c2", "#17becf", "#bcbd22", "#d62728")
SIG_COLORS = {"better": "#1a9850", "worse": "#d73027", "n.s.": "#9e9e9e", "not tested": "#c7c7c7"}
SIG_NAMES = {"better": f"better than {BASELINE} (Holm p < 0.05)", "worse": f"worse than {BASELINE} (Holm p < 0.05)",
             "n.s.": "not significant after Holm", "not tested": "not tested: one seed (seed variance not estimated)"}


def arm_color(arm: str) -> str:
    """The arm's declared colour (grey for the starting checkpoint); other arms, e.g. variants, get a
    stable colour from a small palette."""
    if arm == BASE_ARM:
        return BASE_COLOR
    if arm in arm_names():
        return get_arm(arm).color
    return _EXTRA[sum(map(ord, str(arm))) % len(_EXTRA)]


def _rgba(hex_color: str, alpha: float) -> str:
    h = hex_color.lstrip("#")
    r, g, b = (int(h[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _layout(fig, title: str, height: int = 420):
    fig.update_layout(title=title, height=height, template="plotly_white", margin={"l": 60, "r": 20, "t": 90, "b": 50},
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.06, "xanchor": "right", "x": 1.0})
    return fig


def delta_figure(deltas, title: str = f"Per-benchmark delta vs {BASELINE} (95% interval, new items and seeds)"):
    """Forest plot: one row per (benchmark, arm), delta vs the baseline with its interval, coloured by the
    Holm-corrected significance of the variance-components test (over the whole table); the hover
    gives the minimum detectable effect."""
    import plotly.graph_objects as go

    if deltas is None or len(deltas) == 0 or deltas["delta"].notna().sum() == 0:
        return None
    d = deltas[deltas["delta"].notna()].copy()
    order = {a: i for i, a in enumerate(arm_order(d["arm_b"].unique()))}
    d = d.assign(_o=d["arm_b"].map(order)).sort_values(["benchmark", "_o"], ascending=[False, False])
    d["label"] = d["benchmark"] + " · " + d["arm_b"]
    fig = go.Figure()
    mdes = d["mde"] if "mde" in d.columns else [float("nan")] * len(d)
    d = d.assign(_mde=list(mdes))
    for sig in ("better", "n.s.", "not tested", "worse"):
        s = d[d["significance"] == sig]
        if s.empty:
            continue
        hover = [f"{b} · {a}<br>delta {x:+.3f} [{lo:+.3f}, {hi:+.3f}]<br>{ma:.3f} ({BASELINE}) → {mb:.3f}"
                 f"<br>p={p:.3g}, Holm p={ph:.3g}<br>MDE (80% power) {m:.3f}<br>items {n}"
                 for b, a, x, lo, hi, ma, mb, p, ph, m, n in zip(s["benchmark"], s["arm_b"], s["delta"], s["delta_lo"],
                                                                 s["delta_hi"], s["mean_a"], s["mean_b"], s["p_value"],
                                                                 s["p_holm"], s["_mde"], s["n_items"])]
        fig.add_trace(go.Scatter(
            x=s["delta"], y=s["label"], mode="markers", name=SIG_NAMES[sig],
            marker={"color": SIG_COLORS[sig], "size": 10, "symbol": "diamond" if sig != "n.s." else "circle"},
            error_x={"type": "data", "symmetric": False, "array": s["delta_hi"] - s["delta"],
                         "arrayminus": s["delta"] - s["delta_lo"], "color": SIG_COLORS[sig], "thickness": 2},
            hovertext=hover, hoverinfo="text"))
    fig.add_vline(x=0, line={"color": "#444", "dash": "dash"})
    fig.update_yaxes(categoryorder="array", categoryarray=list(d["label"]))
    fig.update_xaxes(title=f"delta (arm − {BASELINE})", zeroline=False)
    return _layout(fig, title, height=max(320, 40 + 28 * len(d)))


def waterfall_figure(attr, benchmark: str | None = None):
    """Attribution waterfall per DA arm: data effect + objective effect = total, with intervals."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from ctxbench.stats.arms import MEAN_ROW

    if attr is None or len(attr) == 0 or attr["total"].notna().sum() == 0:
        return None
    rows = []
    for da in sorted(attr["da_arm"].dropna().unique()):
        sub = attr[(attr["da_arm"] == da) & attr["total"].notna()]
        pick = sub[sub["benchmark"] == (benchmark or MEAN_ROW)]
        if pick.empty and benchmark is None and len(sub) == 1:
            pick = sub
        if not pick.empty:
            rows.append((da, pick.iloc[0]))
    if not rows:
        return None
    fig = make_subplots(rows=1, cols=len(rows), shared_yaxes=True,
                        subplot_titles=[f"vs {da} ({'mean over benchmarks' if r['benchmark'] == MEAN_ROW else r['benchmark']})"
                                        for da, r in rows])
    for j, (da, r) in enumerate(rows, start=1):
        x = [f"data<br>({da} − {BASELINE})", f"objective<br>({METHOD} − {da})", f"total<br>({METHOD} − {BASELINE})"]
        fig.add_trace(go.Waterfall(
            x=x, y=[r["data"], r["objective"], r["total"]], measure=["relative", "relative", "total"],
            text=[f"{v:+.3f}" for v in (r["data"], r["objective"], r["total"])], textposition="outside",
            increasing={"marker": {"color": "#1a9850"}}, decreasing={"marker": {"color": "#d73027"}},
            totals={"marker": {"color": arm_color(METHOD)}}, connector={"line": {"color": "#888"}},
            showlegend=False, name=f"vs {da}"), row=1, col=j)
        # intervals at the bar ends: each effect's own interval, placed where its bar ends
        ends = [r["data"], r["data"] + r["objective"], r["total"]]
        up = [r["data_hi"] - r["data"], r["objective_hi"] - r["objective"], r["total_hi"] - r["total"]]
        down = [r["data"] - r["data_lo"], r["objective"] - r["objective_lo"], r["total"] - r["total_lo"]]
        fig.add_trace(go.Scatter(
            x=x, y=ends, mode="markers", marker={"color": "#222", "size": 5}, showlegend=(j == 1),
            name="95% interval of each effect",
            error_y={"type": "data", "symmetric": False, "array": up, "arrayminus": down, "color": "#222", "thickness": 1.5},
            hovertext=[f"{lbl.split('<br>')[0]}: {e:+.3f} [{e - dn:+.3f}, {e + u:+.3f}]"
                       for lbl, e, u, dn in zip(x, [r["data"], r["objective"], r["total"]], up, down)],
            hoverinfo="text"), row=1, col=j)
    fig.add_hline(y=0, line={"color": "#444", "width": 1})
    fig.update_yaxes(title_text="score difference", row=1, col=1)
    return _layout(fig, "Attribution: data effect + objective effect = total", height=460)


def curves_figure(curves, which=None):
    """Training curves per arm: mean over seeds, band = min..max over seeds, one panel per curve."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if curves is None or len(curves) == 0:
        return None
    present = list(dict.fromkeys(curves["curve"]))
    default = [c for c in CURVES if c in present] + [c for c in present if c not in CURVES]
    names = [c for c in (which or default) if c in set(present)]
    if not names:
        return None
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=names)
    for j, name in enumerate(names, start=1):
        sub = curves[curves["curve"] == name]
        for arm in arm_order(sub["arm"].unique()):
            a = sub[sub["arm"] == arm].sort_values("step")
            color = arm_color(arm)
            fig.add_trace(go.Scatter(
                x=list(a["step"]) + list(a["step"])[::-1], y=list(a["hi"]) + list(a["lo"])[::-1],
                fill="toself", fillcolor=_rgba(color, 0.18), line={"width": 0}, hoverinfo="skip",
                showlegend=False, legendgroup=arm, name=f"{arm} band"), row=1, col=j)
            metric = a["metric"].iloc[0]
            fig.add_trace(go.Scatter(
                x=a["step"], y=a["mean"], mode="lines", line={"color": color, "width": 2}, legendgroup=arm,
                name=arm, showlegend=(j == 1),
                hovertemplate=f"{arm} · {metric}<br>step %{{x}}<br>mean %{{y:.4f}}<extra></extra>"),
                row=1, col=j)
        fig.update_xaxes(title_text="step", row=1, col=j)
    return _layout(fig, "Training curves (mean over seeds; band: min–max over seeds)", height=400)


def mechanism_figure(mech):
    """Probe (held-out context-selection) accuracy vs end-task score, one point per (arm, seed)."""
    import plotly.graph_objects as go

    if mech is None or len(mech.frame) == 0:
        return None
    f = mech.frame
    fig = go.Figure()
    for arm in arm_order(f["arm"].unique()):
        s = f[f["arm"] == arm]
        fig.add_trace(go.Scatter(
            x=s["probe_acc"], y=s["task_score"], mode="markers+text", name=arm,
            text=[f"s{x}" for x in s["seed"]], textposition="top center",
            marker={"color": arm_color(arm), "size": 12, "line": {"color": "#222", "width": 1}},
            hovertemplate=f"{arm}<br>probe %{{x:.3f}}<br>task %{{y:.3f}}<extra></extra>"))
    if len(f) >= 2 and f["probe_acc"].std() > 0:
        import numpy as np

        k, b = np.polyfit(f["probe_acc"].astype(float), f["task_score"].astype(float), 1)
        xs = np.array([f["probe_acc"].min(), f["probe_acc"].max()])
        fig.add_trace(go.Scatter(x=xs, y=k * xs + b, mode="lines", line={"color": "#444", "dash": "dot"},
                                 name="least-squares line", hoverinfo="skip"))
    ci = "" if isnan(mech.r_lo) else f" [{mech.r_lo:+.2f}, {mech.r_hi:+.2f}]"
    r = "n/a" if isnan(mech.r) else f"{mech.r:+.2f}"
    fig.update_xaxes(title="probe accuracy (held-out context selection)")
    fig.update_yaxes(title=f"end-task score (mean of {len(mech.task_benchmarks)} benchmarks)")
    return _layout(fig, f"Mechanism: Pearson r = {r}{ci}, Spearman ρ = {mech.spearman:+.2f}, n = {mech.n}",
                   height=440)


def published_figure(pub):
    """Paper-style headline average per arm for one imported table."""
    import plotly.graph_objects as go

    head = pub.headline
    if head is None or len(head) == 0:
        return None
    arms = list(head.index)
    cells = head["n_cells"] if "n_cells" in head.columns else [None] * len(arms)
    fig = go.Figure(go.Bar(x=arms, y=head["average"], marker_color=[arm_color(a) for a in arms],
                           text=[f"{v:.2f}" + (f" ({int(c)} cells)" if c is not None and c < max(cells) else "")
                                 for v, c in zip(head["average"], cells)], textposition="outside"))
    fig.update_yaxes(title="mean over benchmarks, then over base models")
    return _layout(fig, f"Published table {pub.name}: paper-style headline average", height=360)


def scoring_figure(table):
    """Official vs semantic accuracy per benchmark (mean over arms), with the disagreement count."""
    import plotly.graph_objects as go

    if table is None or len(table) == 0:
        return None
    per = table.groupby("benchmark", sort=True).agg(official=("official", "mean"), semantic=("semantic", "mean"),
                                                    n_disagree=("n_disagree", "sum"))
    fig = go.Figure()
    for col, color in (("official", "#444444"), ("semantic", "#8fbcd4")):
        fig.add_trace(go.Bar(x=list(per.index), y=per[col], name=col, marker_color=color,
                             text=[f"{v:.3f}" for v in per[col]], textposition="outside"))
    fig.update_layout(barmode="group")
    fig.update_xaxes(ticktext=[f"{b}<br>{n} disagree" for b, n in per["n_disagree"].items()],
                     tickvals=list(per.index))
    fig.update_yaxes(title="accuracy (mean over arms)", range=[0, 1.1])
    return _layout(fig, "Official (score of record) vs semantic accuracy", height=400)
