"""`ctxbench rescore RUN`: recompute both verdicts of a stored eval run from its outputs (no model)."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("rescore", help="recompute official and semantic verdicts of stored eval runs (no model)",
                       description="Re-read every stored output of the given eval run(s) with today's scorers and "
                                   "store the result as the run `ctxbench eval` would write now (its id hashes the "
                                   "current benchmark versions, so old and new verdicts are never mixed). The "
                                   "run's arm/seed/ablation labels are kept.")
    p.add_argument("runs", nargs="+", metavar="RUN", help="eval run id(s), as `ctxbench ls runs` prints them")
    p.add_argument("--no-ingest", action="store_true", help="leave the shards for a later `ctxbench ingest`")
    p.set_defaults(func=run)


def run(args) -> int:
    from ctxbench.commands import root_of
    from ctxbench.eval.rescore import rescore

    root = root_of(args)
    for i, run_id in enumerate(args.runs):
        res = rescore(root, run_id, ingest=not args.no_ingest and i == len(args.runs) - 1)
        print(res.table())
    return 0
