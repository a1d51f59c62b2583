"""`ctxbench import-table CSV [--name NAME]`: import a published results table (aggregate scores only).

The rows become runs of kind "import" tagged `ablation = NAME`, with their scores in `aggregates`
(ctxbench.store.import_table), so `ctxbench report NAME` (or the report of an ablation named NAME)
recomputes the table's per-benchmark deltas and its paper-style headline average. The headline is
also printed here, right away, as a check against the number the paper states.
"""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser(
        "import-table", help="import a published results table (model, arm, benchmark, score) as runs",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Import published aggregate results as runs without item rows, one run per (model, arm),\n"
                    "tagged with the ablation NAME, so the report recomputes their per-benchmark deltas and the\n"
                    "paper-style headline (mean over benchmark columns per base model, then over base models).\n"
                    "Published numbers have no item rows, hence no intervals.",
        epilog="CSV (header required; n_items optional):\n"
               "  model,arm,benchmark,score,n_items\n"
               "  Qwen3-8B,grpo,swe-bench-verified,38.2,500\n"
               "  Qwen3-8B,contextrl,swe-bench-verified,41.0,500\n"
               "Arms the report knows: base, grpo, da-sft, da-rl, contextrl (deltas are against grpo).\n"
               "Use --name with an ablation's name to show the table beside that ablation's own runs.")
    p.add_argument("csv", metavar="CSV", help="the table: columns model, arm, benchmark, score[, n_items]")
    p.add_argument("--name", help="ablation name the table is filed under (default: the file name without .csv)")
    p.add_argument("--replace", action="store_true",
                   help="replace an earlier, different import under the same name (rebuilds the database)")
    p.add_argument("--no-ingest", action="store_true", help="leave the shards for a later `ctxbench ingest`")
    p.set_defaults(func=run)


def headline_lines(res) -> list[str]:
    """The paper-style average per arm (and vs grpo), from the parsed rows."""
    from ctxbench.core.errors import DataError
    from ctxbench.report.data import arm_order
    from ctxbench.stats.arms import paper_headline

    df = res.frame()
    note = ""
    try:
        head = paper_headline(df)
    except DataError as e:
        head, note = paper_headline(df, skipna=True), f"  (note: {e}; averaged over the benchmarks present)"
    models = [c for c in head.columns if c != "average"]
    width = max(len(a) for a in head.index)
    out = [f"paper-style headline (mean over benchmarks per model, then over {len(models)} model(s)):"]
    for arm in arm_order(head.index):
        avg = head.loc[arm, "average"]
        delta = f"  ({avg - head.loc['grpo', 'average']:+.2f} vs grpo)" if "grpo" in head.index and arm != "grpo" else ""
        out.append(f"  {arm:<{width}}  {avg:.2f}{delta}")
    return out + ([note] if note else [])


def run(args) -> int:
    from ctxbench.commands import root_of
    from ctxbench.store.import_table import import_table

    res = import_table(args.csv, root_of(args), name=args.name, replace=args.replace, ingest=not args.no_ingest)
    what = {"imported": "imported", "replaced": "replaced the earlier import with",
            "unchanged": "already imported (no change):"}[res.status]
    print(f"{res.name}: {what} {len(res.rows)} scores = {len(res.models)} model(s) x {len(res.arms)} arm(s) x "
          f"{len(res.benchmarks)} benchmark(s), {len(res.run_ids)} runs, from {res.path}")
    for line in headline_lines(res):
        print(line)
    if res.ingested is None:
        print("shards written; run `ctxbench ingest` to make them visible")
    else:
        print(f"report: ctxbench report {res.name}")
    return 0
