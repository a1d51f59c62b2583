"""The standalone HTML report: one file, Plotly's JavaScript embedded, opens offline.

Why standalone: reports are copied around (mail, a paper's supplement, a laptop on a plane); a page
that fetches plotly.js from a CDN shows nothing offline. The bundle is embedded once (first figure)
and every later figure reuses it. Every piece of text from the store is HTML-escaped.
"""

from __future__ import annotations

import html

from ctxbench.report import figures
from ctxbench.report.analysis import Analysis
from ctxbench.report.summary import (
    METHOD_NOTE,
    SCORING_NOTE,
    attribution_table,
    curves_table,
    deltas_table,
    headline_table,
    mechanism_table,
    published_headline,
    published_tables,
    scoring_table,
)

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;max-width:1200px;color:#222}
h1{font-size:1.6em} h2{margin-top:2em;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;font-size:13px;margin:8px 0 16px} th,td{border:1px solid #ddd;padding:4px 8px}
th{background:#f5f5f5;text-align:left} td{font-variant-numeric:tabular-nums}
.verdict{padding:12px 16px;border-left:6px solid #2ca02c;background:#f3faf3}
.verdict.no-gain,.verdict.inconclusive,.verdict.mixed,.verdict.unavailable{border-color:#e0a800;background:#fffaf0}
.verdict.data{border-color:#d73027;background:#fdf3f2} .note{color:#666;font-size:13px}
"""


def html_table(table) -> str:
    if table is None:
        return '<p class="note">(no data)</p>'
    headers, rows = table
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


class _Figs:
    """Figures to HTML; the first one carries the plotly.js bundle inline."""

    def __init__(self):
        self.n = 0

    def __call__(self, fig, div_id: str) -> str:
        if fig is None:
            return '<p class="note">(nothing to plot)</p>'
        self.n += 1
        return fig.to_html(full_html=False, include_plotlyjs=(self.n == 1), div_id=div_id,
                           config={"displaylogo": False, "responsive": True})


def render_html(an: Analysis, meta: dict) -> str:
    e = html.escape
    fig = _Figs()
    v = an.verdict
    seeds = ", ".join(f"{a}: {len(s)} seed(s)" for a, s in an.n_runs.items())
    parts = [
        f"<h1>ctxbench report: {e(an.name)}</h1>",
        (f'<p class="note">Store {e(str(meta.get("root", "?")))} · generated {e(str(meta.get("generated", "?")))}'
         f" · arms: {e(seeds or 'none')} · task benchmarks: {e(', '.join(an.benchmarks) or 'none')}</p>"),
        f'<p class="note">{e(METHOD_NOTE)}</p>',
        "<h2>Verdict</h2>",
        (f'<div class="verdict {e(v.label) if v else ""}"><b>{e(v.label) if v else ""}</b>: '
         f"{e(v.text) if v else ''}</div>"),
        "<h2>Headline (task benchmarks)</h2>", html_table(headline_table(an)),
        "<h2>Per-benchmark deltas vs grpo</h2>",
        fig(figures.delta_figure(an.deltas), "fig-deltas"), html_table(deltas_table(an.deltas)),
        "<h2>Attribution</h2>",
        ('<p class="note">total = contextrl − grpo = (da − grpo) data effect + (contextrl − da) objective effect.'
         " Point estimates add up exactly; each bar's error bar is that effect's own interval.</p>"),
        fig(figures.waterfall_figure(an.attribution), "fig-waterfall"), html_table(attribution_table(an.attribution)),
        "<h2>Training curves</h2>",
        fig(figures.curves_figure(an.curves), "fig-curves"), html_table(curves_table(an.curves)),
        "<h2>Mechanism: probe accuracy vs end-task score</h2>",
        fig(figures.mechanism_figure(an.mechanism), "fig-mechanism"), html_table(mechanism_table(an.mechanism)),
    ]
    if an.probe_deltas is not None:
        parts += ["<h3>Probe accuracy vs grpo</h3>",
                  fig(figures.delta_figure(an.probe_deltas, "Probe (context-selection accuracy) delta vs grpo"),
                      "fig-probe"), html_table(deltas_table(an.probe_deltas))]
    sc = scoring_table(an.scoring)
    if sc is not None:
        parts += ["<h2>Official and semantic verdicts</h2>", f'<p class="note">{e(SCORING_NOTE)}</p>',
                  fig(figures.scoring_figure(an.scoring), "fig-scoring"), html_table(sc)]
    if an.published:
        parts.append("<h2>Published tables (recomputed)</h2>")
        for i, pub in enumerate(an.published):
            head, dt = published_tables(pub)
            parts += [f"<h3>{e(pub.name)}</h3>",
                      ('<p class="note">Average = mean over benchmark columns per base model, then over base '
                       "models (the paper's way). Imported numbers have no item rows, hence no intervals.</p>"),
                      fig(figures.published_figure(pub), f"fig-published-{i}")]
            if published_headline(pub):
                parts.append(f"<p><b>{e(published_headline(pub))}</b></p>")
            parts.append(html_table(head))
            if pub.attribution:
                parts.append(f"<p>Paper-style attribution of the averages: {e('; '.join(pub.attribution))}</p>")
            if dt is not None:
                parts.append(html_table(dt))
            parts += [f'<p class="note">{e(n)}</p>' for n in pub.notes]
    if an.notes:
        parts += ["<h2>Notes</h2>", "<ul>" + "".join(f"<li>{e(n)}</li>" for n in an.notes) + "</ul>"]
    if fig.n == 0:
        parts.append('<p class="note">No figures: the ablation has no results to plot yet.</p>')
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
            f"<title>ctxbench report: {e(an.name)}</title><style>{CSS}</style></head><body>"
            + "\n".join(parts) + "</body></html>")
