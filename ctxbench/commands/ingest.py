"""`ctxbench ingest`: fold new shards into the DuckDB store (the only database writer; idempotent)."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("ingest", help="ingest result shards into DuckDB (idempotent)",
                       description="The only DuckDB writer. Re-running adds nothing new; --rebuild recreates "
                                   "the database from the shards.")
    p.add_argument("--rebuild", action="store_true", help="rebuild the database from all shards")
    p.set_defaults(func=run)


def run(args) -> int:
    from ctxbench.commands import root_of
    from ctxbench.store.ingest import ingest, rebuild

    root = root_of(args)
    counts = rebuild(root) if args.rebuild else ingest(root)
    for table, n in counts.items():
        print(f"{table:<16} +{n}")
    return 0
