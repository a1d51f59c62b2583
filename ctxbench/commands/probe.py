"""`ctxbench probe`: context-selection accuracy on held-out pairs, in both A/B orders.

Runs the `probe` benchmark through the ordinary harness (results are stored like any benchmark's and
resume after a kill), then prints accuracy overall, per order (supporting context shown first / second),
the position bias and how many pairs the model gets right in both orders.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("probe", help="context-selection accuracy on held-out pairs (both A/B orders)",
                       description="Which of two closely matched contexts supports the answer? Scored by letter "
                                   "log-probabilities on held-out pairs, each in both orders to expose position bias.")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--ckpt", help="a local transformers checkpoint directory (what trainers write)")
    who.add_argument("--model", help="a preset (tiny, smollm2-135m) or hf:PATH (default: tiny)")
    p.add_argument("--pairs", help="pairs JSONL (default: build the default trajectory pairs under the run root)")
    p.add_argument("--limit", type=int, help="at most N items (N//2 pairs, both orders each)")
    p.add_argument("--backend", choices=["hf", "vllm", "auto"], help="backend (default hf)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--dtype", choices=["float32", "bfloat16"])
    p.add_argument("--scoring", choices=["choice", "generate"], default="choice",
                   help="letter log-probabilities (default) or a generated answer")
    p.add_argument("--no-ingest", action="store_true", help="leave the shards for a later `ctxbench ingest`")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def probe_rows(cfg, root: Path, backend, run_id: str) -> list[dict]:
    """The stored sample rows of exactly the probe items this config scores (keys recomputed as the
    harness computes them, so rows of other limits or pair files in the same run are not mixed in)."""
    from ctxbench.benchmarks import get_benchmark
    from ctxbench.benchmarks.base import LoadContext
    from ctxbench.eval.harness import load_items
    from ctxbench.eval.rows import bench_sample_key
    from ctxbench.store.shards import read_table

    bench = get_benchmark("probe")
    ctx = LoadContext(max_context_tokens=backend.max_context_tokens, count_tokens=backend.count_tokens,
                      data_path=cfg.data.get("probe"))
    keys = {bench_sample_key(run_id, bench, it): it.item_id
            for it in load_items(bench, cfg, ctx)}
    df = read_table(root, "samples", {"run_id": run_id})
    df = df[df["key"].isin(list(keys))].drop_duplicates("key")
    return df[["item_id", "extracted", "correct"]].to_dict("records")


def run_probe(cfg, root: Path, backend=None, progress: bool = True, ingest: bool = True):
    """Evaluate and summarise: (EvalReport, ProbeSummary)."""
    from ctxbench.eval.harness import run_eval
    from ctxbench.pairs.probe import summarize

    if backend is None:
        from ctxbench.models.loader import load_backend

        backend = load_backend(cfg.model, backend=cfg.backend, dtype=cfg.dtype, batch_size=cfg.batch_size)
    report = run_eval(cfg, root, backend=backend, progress=progress, ingest=ingest)
    return report, summarize(probe_rows(cfg, root, backend, report.run_id))


def run(args: argparse.Namespace) -> int:
    from ctxbench.commands import root_of
    from ctxbench.core.config import load_config
    from ctxbench.eval.config import EvalConfig

    root = root_of(args)
    pairs = args.pairs
    if not pairs:
        from ctxbench.pairs.domains import build_pairs
        from ctxbench.pairs.trajectory.config import TrajectoryPairsConfig

        res = build_pairs(TrajectoryPairsConfig(), root, progress=not args.quiet)
        print(f"pairs: default trajectory build {res.build_id} ({res.n_test} held-out) -> {res.path}")
        pairs = str(res.path)
    elif not Path(pairs).exists():
        from ctxbench.core.errors import CtxbenchError

        raise CtxbenchError(f"pairs file not found: {pairs} (build one with `ctxbench pairs build`)")
    cfg = load_config(EvalConfig, {}, model=f"hf:{args.ckpt}" if args.ckpt else args.model, benchmarks=["probe"],
                      limit=args.limit, backend=args.backend, batch_size=args.batch_size, dtype=args.dtype,
                      scoring=args.scoring, data={"probe": str(Path(pairs).resolve())})
    report, summary = run_probe(cfg, root, progress=not args.quiet, ingest=not args.no_ingest)
    print(report.table())
    print(summary.table())
    return 0
