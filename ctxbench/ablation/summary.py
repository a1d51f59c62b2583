"""The plain-text summary `run-ablation` prints: headline, attribution and per-benchmark deltas."""

from __future__ import annotations

import math


def _ci(x, lo, hi) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def format_summary(res, spec, seconds: float) -> str:
    t = res.tables
    lines = [f"ablation {res.name}: {len(res.ran)} job(s) run, {len(res.skipped)} reused, {seconds:.0f} s",
             f"{t.get('samples', 0)} scored samples in {res.root / 'ctxbench.duckdb'}"]
    if "headline" in t:
        lines += ["", "headline (task benchmarks: mean over benchmarks; delta vs " + spec.baseline + ", 95% CI)"]
        for _, r in t["headline"].iterrows():
            lines.append(f"  {r['arm']:<12} {r['macro']:.3f}   delta {_ci(r['delta_macro'], r['delta_macro_lo'], r['delta_macro_hi'])}")
    if t.get("probe"):
        lines += ["", "probe: held-out context-selection accuracy (both A/B orders; 0.5 = chance or pure position bias)"]
        lines += [f"  {arm:<12} {acc:.3f}" for arm, acc in t["probe"].items()]
    for arm, df in t.get("probe_deltas", {}).items():
        for _, r in df.iterrows():
            lines.append(f"  {arm} - {spec.baseline}: {_ci(r['delta'], r['delta_lo'], r['delta_hi'])}")
    if t.get("vs_base"):
        lines += ["", "trained arm - base model (the warmed-up start) per benchmark, 95% CI"]
        for arm, df in t["vs_base"].items():
            for _, r in df.iterrows():
                lines.append(f"  {arm:<12} {r['benchmark']:<12} {_ci(r['delta'], r['delta_lo'], r['delta_hi'])}")
    if "attribution" in t:
        lines += ["", "attribution: total (contextrl - grpo) = data (da - grpo) + objective (contextrl - da)"]
        for _, r in t["attribution"].iterrows():
            lines.append(f"  {r['da_arm']:<7} {r['benchmark']:<12} total {_ci(r['total'], r['total_lo'], r['total_hi'])}"
                         f"  data {_ci(r['data'], r['data_lo'], r['data_hi'])}"
                         f"  objective {_ci(r['objective'], r['objective_lo'], r['objective_hi'])}")
    deltas = t.get("deltas", {})
    if deltas:
        m = max((int(df["family_size"].iloc[0]) for df in deltas.values() if len(df)), default=0)
        lines += ["", (f"every arm - {spec.baseline} per benchmark (p: Holm over the {m} tested rows, as in the "
                       "report's table)")]
    for arm, df in deltas.items():
        for _, r in df.iterrows():
            p = r["p_holm"]
            # NaN: one seed, so seed variance is not estimated and nothing is tested (the report says so)
            shown = "n/a (one seed: seed variance not estimated)" if math.isnan(p) else f"{p:.3f}"
            lines.append(f"  {arm:<12} {r['benchmark']:<12} {_ci(r['delta'], r['delta_lo'], r['delta_hi'])}"
                         f"  p_holm={shown}")
    if res.report:
        lines += ["", f"report: {res.report[0]}", f"summary: {res.report[1]}"]
    return "\n".join(lines)
