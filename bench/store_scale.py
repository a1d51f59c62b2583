"""The store at scale: write N synthetic sample rows through the project's own shard writer, time
`ingest`, then time every app page's data and the report on that store. Prints one JSON line.

    python bench/store_scale.py [--rows 1000000] [--root /tmp/store-scale] [--reps 3]

Why synthetic: what is measured is the store (shards -> DuckDB -> queries -> statistics), not a model.
The ablation has a first ablation's shape (base + 4 arms x 3 seeds, 5 benchmarks, the probe), with items per
benchmark chosen so the total reaches --rows, plus PAIRS context pairs for the Pairs page. Each page is
timed through the app's own data functions (ctxbench.app.data: the cached connection and every cache
cleared before each rep, so a rep opens the snapshot and runs every query and its pandas work, as the
first visit of a page after an ingest does); medians of --reps. ingest runs once from the shards into an
empty database (a rebuild), and, after the pages, once more for one new eval run (an incremental ingest
into the big store). The statistics and the report run once each (seeded, so a rep would repeat the same work).
Targets (issue 15): ingest >= 500k rows/s, every page and the report < 1 s at 1M rows.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ARMS = ("grpo", "da-sft", "da-rl", "contextrl")
SEEDS = (0, 1, 2)
BENCHES = ("niah", "trace-qa", "code-exec", "tool-trace", "long-mcq")
PAIRS = 20_000


def write_pairs(root: Path, n: int) -> None:
    """Context pairs (a positive and a negative context of ~60 words each) for the Pairs page."""
    import numpy as np
    import pyarrow as pa

    from ctxbench.store.shards import write_shard

    rng = np.random.default_rng(1)
    words = np.array(["the", "of", "key", "river", "city", "note", "value", "record", "table", "window", "answer"])
    ctx = [" ".join(rng.choice(words, 60)) for _ in range(n)]
    write_shard(root, "pairs", pa.table({
        "pair_id": [f"pair-{i:06d}" for i in range(n)], "domain": [("text", "code", "image")[i % 3] for i in range(n)],
        "split": ["test" if i % 5 == 0 else "train" for i in range(n)], "source": ["bench"] * n,
        "stage": ["final"] * n, "query": [f"What is the key of doc {i}?" for i in range(n)],
        "answer": [str(i) for i in range(n)], "ctx_pos": ctx, "ctx_neg": [c + " CHANGED" for c in ctx],
        "diff_json": ['{"edits": []}'] * n, "meta_json": ["{}"] * n}), name="pairs")


def write_run(root: Path, arm: str, seed: int, uids: dict, t, rng) -> int:
    """One eval run's runs row and sample shards (one per benchmark); returns its number of rows."""
    import pyarrow as pa

    from ctxbench.store.schema import sample_key
    from ctxbench.store.shards import write_shard

    run_id = f"eval-{arm}-{seed}"
    write_shard(root, "runs", [{"run_id": run_id, "kind": "eval", "created_at": t, "name": run_id, "model": "tiny",
                                "ckpt_id": f"ck-{arm}-{seed}", "arm": arm, "seed": seed, "ablation": "scale",
                                "config_hash": "c", "config_json": "{}", "lib_versions": "{}",
                                "status": "complete"}], name=run_id)
    total = 0
    for b, us in uids.items():
        n = len(us)
        p = 0.3 + 0.1 * (arm == "contextrl") + 0.05 * seed
        ok = rng.random(n) < p
        write_shard(root, "samples", pa.table({
            "key": [sample_key(run_id, u, 0) for u in us], "run_id": [run_id] * n,
            "ckpt_id": [f"ck-{arm}-{seed}"] * n, "benchmark": [b] * n,
            "benchmark_version": ["1"] * n, "item_id": [f"{b}-{i:06d}" for i in range(n)],
            "item_uid": us, "prompt_hash": ["ph"] * n, "gen_hash": ["g"] * n,
            "config_hash": ["c"] * n, "sample_idx": pa.array([0] * n, pa.int32()),
            "output": ["the answer is 1" if o else "no idea" for o in ok],
            "extracted": ["1" if o else None for o in ok], "correct": ok, "score": ok.astype(float),
            "parse_ok": [True] * n, "lib_versions": ["{}"] * n,
            "created_at": pa.array([t] * n, pa.timestamp("us")), "verdict": ["semantic"] * n,
            "semantic_correct": ok, "semantic_score": ok.astype(float)}), name=f"{b}")
        total += n
    return total


def write_store(root: Path, n_rows: int) -> tuple[int, dict]:
    """Shards for one ablation (runs, items, samples) and the pairs, written with store.shards.write_shard;
    returns (sample rows, the item uids per benchmark)."""
    import numpy as np
    import pyarrow as pa

    from ctxbench.eval.rows import now
    from ctxbench.store.schema import item_uid
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
    write_pairs(root, PAIRS)
    total = sum(write_run(root, arm, seed, uids, t, rng) for arm, seed in cells)
    return total, uids


def timed(fn, reps: int) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds of this process) of `reps` calls. CPU time is printed too
    because a shared machine stretches wall time: with DuckDB's threads, an idle machine's wall time lies
    between CPU time / cores and CPU time."""
    wall, cpu = [], []
    for _ in range(reps):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--root", default="/tmp/ctxbench-store-scale")
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()

    import logging

    import numpy as np

    logging.getLogger("streamlit").setLevel(logging.ERROR)  # "no runtime" warnings: the app runs headless here
    from ctxbench.app import data as app
    from ctxbench.eval.rows import now
    from ctxbench.report import build_report
    from ctxbench.report.analysis import analyze
    from ctxbench.report.data import load_ablation
    from ctxbench.store import queries
    from ctxbench.store.ingest import ingest
    from ctxbench.store.read import connect_readonly

    root = Path(args.root)
    shutil.rmtree(root, ignore_errors=True)
    t0 = time.perf_counter()
    n, uids = write_store(root, args.rows)
    write_s = time.perf_counter() - t0
    ingest_s, ingest_cpu = timed(lambda: ingest(root, progress=False), 1)
    r, snap = str(root), app.state(str(root))

    def page(fn, reps=args.reps):
        def run():
            for f in (app.connection, app.ablations, app.table_counts, app.analysis, app.item_scores,
                      app.item_detail, app.verdict_disagreements, app.pair_facets, app.pairs_list, app.pair):
                f.clear()
            fn()
        return timed(run, reps)

    def with_con(fn):
        def run():
            con = connect_readonly(root)
            try:
                fn(con)
            finally:
                con.close()
        return run

    pages = {
        "sidebar (ablations, table counts)": page(lambda: (app.ablations(r, snap), app.table_counts(r, snap))),
        "load ablation (runs, per-item scores, curves, published: report and app)":
            timed(with_con(lambda c: load_ablation(c, "scale")), args.reps),
        "item drill-down (one benchmark's item table, one item's samples)":
            page(lambda: (app.item_scores(r, snap, "scale", "niah"), app.item_detail(r, snap, "scale", "niah",
                                                                                     "niah-000007"))),
        "verdicts (disagreements of one benchmark)": page(lambda: app.verdict_disagreements(r, snap, "scale", "niah")),
        "pairs (facets, a search, one pair)":
            page(lambda: (app.pair_facets(r, snap), app.pairs_list(r, snap, search="river city"),
                          app.pair(r, snap, "pair-000123"))),
        "ls results": timed(with_con(queries.benchmark_results), args.reps),
        "overview/deltas/attribution/mechanism (analyze, 1000 boots as the app)":
            timed(with_con(lambda c: analyze(load_ablation(c, "scale"), n_boot=1000, n_perm=5000)), 1),
    }
    report_s, report_cpu = timed(lambda: build_report(root, "scale", out_dir=root / "report"), 1)
    n_new = write_run(root, "contextrl", 3, uids, now(), np.random.default_rng(3))  # after the pages: they see 1M
    incremental_s, _ = timed(lambda: ingest(root, progress=False), 1)
    print(json.dumps({
        "bench": "store_scale", "rows": n, "shards": sum(1 for _ in root.glob("shards/*/*.parquet")),
        "write_shards_s": round(write_s, 2), "ingest_s": round(ingest_s, 2), "ingest_cpu_s": round(ingest_cpu, 2),
        "ingest_rows_per_s": round(n / ingest_s), "incremental_rows": n_new, "incremental_ingest_s": round(incremental_s, 2),
        "pages_s": {k: round(v[0], 3) for k, v in pages.items()},
        "pages_cpu_s": {k: round(v[1], 3) for k, v in pages.items()},
        "report_s": round(report_s, 2), "report_cpu_s": round(report_cpu, 2), "reps": args.reps,
        "load_avg_1m": round(os.getloadavg()[0], 1), "cpus": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
