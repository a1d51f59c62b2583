"""`ctxbench import-table CSV [--name NAME]`: import a published results table (aggregate scores only).

The rows become runs of kind "import" tagged `ablation = NAME`, with their scores in `aggregates`
(ctxbench.store.import_table), so `ctxbench report NAME` (or the report of an ablation named NAME)
recomputes the table's per-benchmark deltas and its paper-style headline average, one per family of the
table (long-horizon and VQA are two headlines, as in the paper), comparing arms only on the cells both
have. The headlines are also printed here, right away, as a check against the numbers the paper states.
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
        epilog="CSV (header required; n_items and family optional):\n"
               "  model,arm,benchmark,score,n_items,family\n"
               "  Qwen3-8B,grpo,swe-bench-verified,38.2,500,long-horizon\n"
               "  Qwen3-8B,contextrl,swe-bench-verified,41.0,500,long-horizon\n"
               "A table with several families (e.g. long-horizon and VQA) gets one headline each; without a\n"
               "family column the models that share benchmarks form one family. Deltas vs grpo use only the\n"
               "cells both arms have.\n"
               "Arms the report knows: base, grpo, da-sft, da-rl, contextrl (deltas are against grpo).\n"
               "Use --name with an ablation's name to show the table beside that ablation's own runs.")
    p.add_argument("csv", metavar="CSV", help="the table: columns model, arm, benchmark, score[, n_items][, family]")
    p.add_argument("--name", help="ablation name the table is filed under (default: the file name without .csv)")
    p.add_argument("--replace", action="store_true",
                   help="replace an earlier, different import under the same name (rebuilds the database)")
    p.add_argument("--no-ingest", action="store_true", help="leave the shards for a later `ctxbench ingest`")
    p.set_defaults(func=run)


def headline_lines(res) -> list[str]:
    """Per family of the table: the paper-style average per arm over the cells it has, and its delta vs
    grpo on the cells both have (saying how many when that is not every cell)."""
    from ctxbench.report.data import arm_order
    from ctxbench.stats.published import families, matched, paper_headline
    from trainers.arms import baseline

    base = baseline()
    df = res.frame()
    fams = families(df)
    out = []
    for fam, sub in fams.items():
        head = paper_headline(sub, skipna=True)
        models = [c for c in head.columns if c not in ("average", "n_cells")]
        title = f"family {fam}: " if len(fams) > 1 else ""
        out.append(f"{title}paper-style headline (mean over benchmarks per model, then over {len(models)} model(s)):")
        width = max(len(a) for a in head.index)
        full = int(head["n_cells"].max())
        for arm in arm_order(head.index):
            avg, n = head.loc[arm, "average"], int(head.loc[arm, "n_cells"])
            line = f"  {arm:<{width}}  {avg:.2f}"
            if n < full:
                line += f"  [{n} of {full} cells]"
            if base in head.index and arm != base:
                mt = matched(sub, arm, base)
                if mt.n_cells:
                    line += f"  ({mt.delta:+.2f} vs {base}" + ("" if mt.complete else f", on the {mt.n_cells} cells both have") + ")"
                else:
                    line += f"  (no cell shared with {base})"
            out.append(line)
    if len(fams) > 1 and not res.families:
        out.append(f"  (no family column: split into {len(fams)} families by the models that share benchmarks)")
    return out


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
