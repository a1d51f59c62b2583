"""The ablation report: `build_report(root, name, out_dir)` writes index.html (standalone, Plotly
embedded) and summary.md for one ablation in the store.

Pipeline: data.load_ablation (read-only queries) -> analysis.analyze (ctxbench.stats.arms) ->
html.render_html / summary.render_markdown (both from the same tables; figures.py is shared with the
Streamlit app). Heavy imports (duckdb, pandas, plotly) happen inside functions.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ctxbench.core.atomic import write_text

__all__ = ["build_report", "load_analysis"]


def load_analysis(root, name: str | None = None, *, n_boot: int = 2000, n_perm: int = 10000, seed: int = 0):
    """Analysis of ablation NAME (default: the latest ablation in the store)."""
    from ctxbench.report.analysis import analyze
    from ctxbench.report.data import load_ablation, resolve_name
    from ctxbench.store.read import connect_readonly

    con = connect_readonly(root)
    try:
        data = load_ablation(con, resolve_name(con, name))
    finally:
        con.close()
    return analyze(data, n_boot=n_boot, n_perm=n_perm, seed=seed)


def build_report(root, name: str | None = None, out_dir=None, *, n_boot: int = 2000,
                 n_perm: int = 10000, seed: int = 0) -> tuple[Path, Path]:
    """Write `<out_dir>/index.html` and `<out_dir>/summary.md` (default out_dir: reports/<name>);
    returns (html_path, md_path). Files are replaced atomically."""
    from ctxbench.core.paths import run_root
    from ctxbench.report.html import render_html
    from ctxbench.report.summary import render_markdown

    root = Path(run_root(root))
    an = load_analysis(root, name, n_boot=n_boot, n_perm=n_perm, seed=seed)
    out = Path(out_dir) if out_dir is not None else Path("reports") / an.name
    out.mkdir(parents=True, exist_ok=True)
    meta = {"root": str(root), "generated": dt.datetime.now().strftime("%Y-%m-%d %H:%M")}
    html_path, md_path = out / "index.html", out / "summary.md"
    write_text(html_path, render_html(an, meta))
    write_text(md_path, render_markdown(an, meta))
    return html_path, md_path
