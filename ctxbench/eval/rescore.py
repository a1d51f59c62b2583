"""Rescore a stored eval run: both verdicts recomputed from its stored outputs, no model loaded.

Why: scorers change (an official mode is added, a bug in the semantic reading is fixed), and re-running
a model to re-read text it already wrote wastes hours of GPU. Every scorer change bumps its benchmark's
version, so a rescored row is written under today's version and old rows are never mixed with new ones:
the rescored run is the run `ctxbench eval` would write today for the same checkpoint and config (its
run id hashes the current benchmark versions), its outputs are the stored ones, and it keeps the old
run's labels (arm, seed, ablation), so reports pick it as the newer run of that cell. Rescoring twice
with the same scorers rewrites the same keys (idempotent). Items are rebuilt from the store's items rows
(prompt parts, prefill, choices, answer, meta): the benchmark's data files are not needed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from ctxbench.benchmarks import get_benchmark
from ctxbench.benchmarks.base import Item
from ctxbench.core.config import config_hash
from ctxbench.core.errors import CtxbenchError
from ctxbench.core.hashing import stable_hash
from ctxbench.core.versions import lib_versions_json
from ctxbench.eval.harness import scoring_mode
from ctxbench.eval.rows import bench_item_row, run_row, sample_row, scored_fields
from ctxbench.store.shards import read_table, write_shard

LABELS = ("arm", "seed", "ablation")


@dataclass
class RescoreResult:
    source_run: str
    run_id: str
    counts: dict        # benchmark -> (n, n official-correct, n semantic-correct, n changed vs the stored verdict)

    def table(self) -> str:
        lines = [f"rescored {self.source_run} -> {self.run_id}",
                 f"{'benchmark':<22} {'n':>5} {'record acc':>10} {'semantic acc':>12} {'changed':>8}"]
        for b, (n, rec, sem, changed) in sorted(self.counts.items()):
            lines.append(f"{b:<22} {n:>5} {rec / n if n else 0:>10.3f} {sem / n if n else 0:>12.3f} {changed:>8}")
        return "\n".join(lines)


def _item(row: dict) -> Item:
    prompt = json.loads(row["prompt_json"])
    choices = prompt.get("choices")
    return Item(item_id=row["item_id"], prompt=tuple(prompt["parts"]), answer=row["answer"],
                choices=tuple(choices) if choices else None, prefill=prompt.get("prefill") or "",
                meta=json.loads(row["meta_json"]) if row.get("meta_json") else {})


def _source_run(root, run_id: str) -> dict:
    runs = read_table(root, "runs", {"run_id": run_id})
    if runs.empty:
        raise CtxbenchError(f"no run {run_id!r} under {root} (see `ctxbench ls runs`)")
    run = runs.iloc[-1].to_dict()
    config = json.loads(run["config_json"]) if run.get("config_json") else {}
    if run["kind"] != "eval" or "benchmark_versions" not in config:
        raise CtxbenchError(f"run {run_id!r} is not a `ctxbench eval` run (kind {run['kind']!r}); rescore reads "
                            "harness runs. VLMEvalKit predictions are rescored by ingesting the prediction file "
                            "again (eval --vlmeval NAME --vlmeval-preds FILE)")
    return {**run, "config": config}


def rescore(root, run_id: str, *, ingest: bool = True) -> RescoreResult:
    """Rescore every sample of `run_id` with today's scorers into the run `ctxbench eval` would write now."""
    src = _source_run(root, run_id)
    samples = read_table(root, "samples", {"run_id": run_id})
    if samples.empty:
        raise CtxbenchError(f"run {run_id!r} has no stored samples to rescore")
    items = read_table(root, "items", {"item_uid": sorted(samples["item_uid"].dropna().unique())})
    by_uid = {r["item_uid"]: r for r in items.to_dict("records")}
    benches = {name: get_benchmark(name) for name in sorted(samples["benchmark"].unique())}
    config = dict(src["config"], benchmark_versions=[b.key for b in benches.values()])
    scoring = config.get("scoring", "auto")
    chash = config_hash(config)
    new_id = "eval-" + stable_hash([src["ckpt_id"], chash], 16)
    lib = lib_versions_json()
    labels = {k: src[k] for k in LABELS if src.get(k) is not None and src.get(k) == src.get(k)}
    run = dict(kind="eval", name=src.get("name") or src.get("model"), model=src.get("model"), ckpt_id=src["ckpt_id"],
               config_hash=chash, config={**config, "rescored_from": run_id}, lib_versions=lib, **labels)
    write_shard(root, "runs", [run_row(new_id, status="started", **run)], name=f"{new_id}-0start")
    counts: dict[str, list[int]] = {}
    for name, bench in benches.items():
        sub = samples[samples["benchmark"] == name]
        missing = sorted(set(sub["item_uid"].dropna()) - by_uid.keys())
        if missing or sub["item_uid"].isna().any():
            raise CtxbenchError(f"run {run_id!r}: {name} samples without their items rows (e.g. {missing[:1]}); "
                                "rescore rebuilds items from the store's items table")
        item_of = {uid: _item(by_uid[uid]) for uid in sub["item_uid"].unique()}
        write_shard(root, "items", [bench_item_row(bench, it) for it in item_of.values()],
                    name=f"{new_id}-items-{name}-{stable_hash(sorted(item_of), 8)}")
        rows, c = [], [0, 0, 0, 0]
        for s in sub.to_dict("records"):
            it = item_of[s["item_uid"]]
            err = s["error"] if isinstance(s["error"], str) and s["error"] else None
            verdicts = None
            if err is None:
                try:
                    verdicts = bench.verdicts(it, s["output"] or "", scoring_mode(bench, scoring, it))
                except Exception as e:  # noqa: BLE001  (a scorer crash is a recorded failure, as in the harness)
                    err = f"score: {type(e).__name__}: {e}"
            row = sample_row(run_id=new_id, ckpt_id=src["ckpt_id"], benchmark=name, version=bench.version,
                             item_id=it.item_id, prompt_hash=it.prompt_hash, gen_hash=s["gen_hash"],
                             config_hash=chash, lib_versions=lib, output=s["output"], error=err,
                             sample_idx=int(s["sample_idx"]), latency_s=s["latency_s"],
                             n_new_tokens=None if s["n_new_tokens"] != s["n_new_tokens"] else s["n_new_tokens"],
                             **scored_fields(verdicts))
            rows.append(row)
            c[0] += 1
            c[1] += bool(row["correct"])
            c[2] += bool(row["semantic_correct"])
            c[3] += bool(row["correct"]) != bool(s["correct"])
        write_shard(root, "samples", rows, name=f"{new_id}-{name}-rescored")
        counts[name] = c
    write_shard(root, "runs", [run_row(new_id, status="complete", **run)], name=f"{new_id}-1complete")
    if ingest:
        from ctxbench.store.ingest import ingest as do_ingest

        do_ingest(root, progress=False)
    return RescoreResult(run_id, new_id, {k: tuple(v) for k, v in counts.items()})


__all__ = ["RescoreResult", "rescore"]
