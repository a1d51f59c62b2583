"""The store at scale: write N synthetic sample rows through the project's own shard writer, time
`ingest`, then time every app page's queries and the report on that store. Prints one JSON line.

    python bench/store_scale.py [--rows 1000000] [--root /tmp/store-scale] [--reps 3]

Why synthetic: what is measured is the store (shards -> DuckDB -> queries -> statistics), not a model.
The ablation has the default's shape (base + 4 arms x 3 seeds, 5 benchmarks, the probe), with items per
benchmark chosen so the total reaches --rows. Timings are medians of --reps runs of each query on a
fresh read-only snapshot; ingest runs once from shards into an empty database (a rebuild).
Targets (issue 15): ingest >= 500k rows/s, every page and the report < 1 s at 1M rows.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ARMS = ("grpo", "da-sft", "da-rl", "contextrl")
SEEDS = (0, 1, 2)
BENCHES = ("niah", "trace-qa", "code-exec", "tool-trace", "long-mcq")


def write_store(root: Path, n_rows: int) -> int:
    """Shards for one ablation (runs, items, samples), written with store.shards.write_shard."""
    import numpy as np
    import pyarrow as pa

    from ctxbench.eval.rows import now
    from ctxbench.store.schema import item_uid, sample_key
    from ctxbench.store.shards import write_shard

    cells = [("base", 0)] + [(a, s) for a in ARMS for s in SEEDS]
    per_bench = max(1, n_rows // (len(cells) * (len(BENCHES) + 1)))
    rng = np.random.default_rng(0)
    t = now()
    uids = {b: [item_uid(b, "1", f"{b}-{i:06d}", "ph") for i in range(per_bench)] for b in (*BENCHES, "probe")}
    for b, us in uids.items():
        write_shard(root, "items", pa.table({
            "item_uid": us, "benchmark": [b] * per_bench, "benchmark_version": ["1"] * per_bench,
            "item_id": [f"{b}-{i:06d}" for i in range(per_bench)], "prompt_hash": ["ph"] * per_bench,
            "prompt_json": ['{"parts": [{"type": "text", "value": "q"}], "prefill": "", "choices": null}'] * per_bench,
            "answer": ["1"] * per_bench, "meta_json": ["{}"] * per_bench}), name=f"items-{b}")
    total = 0
    for arm, seed in cells:
        run_id = f"eval-{arm}-{seed}"
        write_shard(root, "runs", [{"run_id": run_id, "kind": "eval", "created_at": t, "name": run_id, "model": "tiny",
                                    "ckpt_id": f"ck-{arm}-{seed}", "arm": arm, "seed": seed, "ablation": "scale",
                                    "config_hash": "c", "config_json": "{}", "lib_versions": "{}",
                                    "status": "complete"}], name=run_id)
        for b, us in uids.items():
            p = 0.3 + 0.1 * (arm == "contextrl") + 0.05 * seed
            ok = rng.random(per_bench) < p
            write_shard(root, "samples", pa.table({
                "key": [sample_key(run_id, u, 0) for u in us], "run_id": [run_id] * per_bench,
                "ckpt_id": [f"ck-{arm}-{seed}"] * per_bench, "benchmark": [b] * per_bench,
                "benchmark_version": ["1"] * per_bench, "item_id": [f"{b}-{i:06d}" for i in range(per_bench)],
                "item_uid": us, "prompt_hash": ["ph"] * per_bench, "gen_hash": ["g"] * per_bench,
                "config_hash": ["c"] * per_bench, "sample_idx": pa.array([0] * per_bench, pa.int32()),
                "output": ["the answer is 1" if o else "no idea" for o in ok],
                "extracted": ["1" if o else None for o in ok], "correct": ok, "score": ok.astype(float),
                "parse_ok": [True] * per_bench, "lib_versions": ["{}"] * per_bench,
                "created_at": pa.array([t] * per_bench, pa.timestamp("us")), "verdict": ["semantic"] * per_bench,
                "semantic_correct": ok, "semantic_score": ok.astype(float)}), name=f"{b}")
            total += per_bench
    return total


def timed(fn, reps: int) -> float:
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--root", default="/tmp/ctxbench-store-scale")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()

    from ctxbench.report import build_report
    from ctxbench.report.analysis import analyze
    from ctxbench.report.data import load_ablation
    from ctxbench.store import queries
    from ctxbench.store.ingest import ingest
    from ctxbench.store.read import connect_readonly

    root = Path(args.root)
    shutil.rmtree(root, ignore_errors=True)
    t0 = time.perf_counter()
    n = write_store(root, args.rows)
    write_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ingest(root, progress=False)
    ingest_s = time.perf_counter() - t0

    def q(fn):
        def run():
            con = connect_readonly(root)
            try:
                fn(con)
            finally:
                con.close()
        return timed(run, args.reps)

    pages = {
        "sidebar (ablations, table counts)": q(lambda c: (queries.ablations(c), queries.table_counts(c))),
        "load ablation (runs, items, curves, published)": q(lambda c: load_ablation(c, "scale")),
        "overview/deltas/attribution/mechanism (analyze, 1000 boots as the app)":
            q(lambda c: analyze(load_ablation(c, "scale"), n_boot=1000, n_perm=5000)),
        "item drill-down (one benchmark's items, one item's samples)":
            q(lambda c: (queries.ablation_items(c, "scale", benchmark="niah"),
                         queries.item_samples(c, "scale", "niah", "niah-000007"))),
        "verdicts (disagreements of one benchmark)": q(lambda c: queries.verdict_disagreements(c, "scale", "niah")),
        "ls results": q(lambda c: queries.benchmark_results(c)),
    }
    report_s = timed(lambda: build_report(root, "scale", out_dir=root / "report"), 1)
    print(json.dumps({
        "bench": "store_scale", "rows": n, "write_shards_s": round(write_s, 2), "ingest_s": round(ingest_s, 2),
        "ingest_rows_per_s": round(n / ingest_s), "pages_s": {k: round(v, 3) for k, v in pages.items()},
        "report_s": round(report_s, 2), "reps": args.reps,
    }))


if __name__ == "__main__":
    main()
