"""`ctxbench ls`: list runs and their per-benchmark results from the store (read-only)."""

from __future__ import annotations

RUN_COLUMNS = ("run_id", "kind", "status", "model", "arm", "seed", "ablation", "ckpt_id", "created_at")


def add_parser(sub) -> None:
    p = sub.add_parser("ls", help="list runs and results in the store",
                       description="Reads the DuckDB store read-only (run `ctxbench ingest` first if shards are newer).")
    p.add_argument("what", nargs="?", choices=["runs", "results"], default="runs")
    p.add_argument("--kind", help="only runs of this kind (eval, train, probe, import, pairs)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ctxbench.commands import root_of
    from ctxbench.store import queries
    from ctxbench.store.read import connect_readonly

    con = connect_readonly(root_of(args))  # no database: a CtxbenchError saying to ingest
    try:
        if args.what == "runs":
            df = queries.runs(con, kinds=args.kind or None, columns=RUN_COLUMNS)
        else:
            df = queries.benchmark_results(con, kind=args.kind or None)
    finally:
        con.close()
    if df.empty:
        print("(nothing)")
    else:
        import pandas as pd

        with pd.option_context("display.max_rows", 500, "display.width", 200, "display.max_columns", 20):
            print(df.to_string(index=False))
    return 0
