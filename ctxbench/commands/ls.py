"""`ctxbench ls`: list runs and their per-benchmark results from the store (read-only)."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("ls", help="list runs and results in the store",
                       description="Reads the DuckDB store read-only (run `ctxbench ingest` first if shards are newer).")
    p.add_argument("what", nargs="?", choices=["runs", "results"], default="runs")
    p.add_argument("--kind", help="only runs of this kind (eval, train, probe, import, pairs)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ctxbench.commands import root_of
    from ctxbench.store.read import connect_readonly

    con = connect_readonly(root_of(args))
    if con is None:
        print("no database yet: run `ctxbench eval ...` or `ctxbench ingest`")
        return 0
    cur = con.cursor()
    if args.what == "runs":
        q = ("SELECT run_id, kind, status, model, arm, seed, ablation, ckpt_id, created_at FROM runs "
             + ("WHERE kind = ? " if args.kind else "") + "ORDER BY created_at")
        df = cur.execute(q, [args.kind] if args.kind else []).df()
    else:
        q = ("SELECT s.run_id, r.model, r.arm, r.seed, s.benchmark, s.benchmark_version AS version, "
             "count(*) AS n, avg(CAST(s.correct AS DOUBLE)) AS accuracy, "
             "sum(CASE WHEN s.parse_ok THEN 0 ELSE 1 END) AS parse_fail "
             "FROM samples s LEFT JOIN runs r USING (run_id) "
             + ("WHERE r.kind = ? " if args.kind else "")
             + "GROUP BY ALL ORDER BY s.run_id, s.benchmark")
        df = cur.execute(q, [args.kind] if args.kind else []).df()
    if df.empty:
        print("(nothing)")
    else:
        import pandas as pd

        with pd.option_context("display.max_rows", 500, "display.width", 200, "display.max_columns", 20):
            print(df.to_string(index=False))
    return 0
