"""The store rows an evaluation writes (runs, items, samples), built in one place with one key recipe.

Why one builder: four writers (the harness, the lm-eval bridge, the VLMEvalKit bridge and the SWE-bench
import) store the same three tables. When each built its own dicts, each also invented its own
`samples.key` (four recipes, some scoped to the run, some to the checkpoint) and its own `item_uid`,
so the same sample could be stored twice under two keys and items did not join across writers.
Here every sample's key is `store.schema.sample_key(run_id, item_uid, sample_idx)` and every item's
uid is `store.schema.item_uid(benchmark, version, item_id, prompt_hash)`; the run id, built by each
writer from the checkpoint identity and its resolved config, is what scopes a sample to its run.
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

from ctxbench.store.schema import item_uid, sample_key


def now() -> _dt.datetime:
    """UTC now, naive (the store's TIMESTAMP columns carry no zone)."""
    return _dt.datetime.now(_dt.UTC).replace(tzinfo=None)


def run_row(run_id: str, *, kind: str, name: str, model: str, ckpt_id: str | None, config_hash: str,
            config: dict, lib_versions: str, status: str, created_at: _dt.datetime | None = None,
            **labels: Any) -> dict:
    """One `runs` row. `labels` are the optional columns (arm, seed, ablation)."""
    return {"run_id": run_id, "kind": kind, "created_at": created_at or now(), "name": name, "model": model,
            "ckpt_id": ckpt_id, "config_hash": config_hash, "config_json": json.dumps(config, sort_keys=True),
            "lib_versions": lib_versions, "status": status, **labels}


def item_row(benchmark: str, version: str, item_id: str, prompt_hash: str, *, parts: list, prefill: str = "",
             choices: list | None = None, answer: Any = None, meta: dict | None = None) -> dict:
    """One `items` row: the rendered prompt (message parts, prefill, choices), the answer and the meta."""
    return {
        "item_uid": item_uid(benchmark, version, item_id, prompt_hash), "benchmark": benchmark,
        "benchmark_version": version, "item_id": item_id, "prompt_hash": prompt_hash,
        "prompt_json": json.dumps({"parts": list(parts), "prefill": prefill, "choices": choices}),
        "answer": answer, "meta_json": json.dumps(meta or {}, default=str, sort_keys=True),
    }


def bench_item_row(bench, item) -> dict:
    """`item_row` for a ctxbench Benchmark's Item."""
    return item_row(bench.name, bench.version, item.item_id, item.prompt_hash, parts=list(item.prompt),
                    prefill=item.prefill, choices=item.choices, answer=item.answer, meta=item.meta)


def bench_sample_key(run_id: str, bench, item, sample_idx: int = 0) -> str:
    """The key `sample_row` gives a Benchmark Item's sample in a run (resume and readers recompute it)."""
    return sample_key(run_id, item_uid(bench.name, bench.version, item.item_id, item.prompt_hash), sample_idx)


def sample_row(*, run_id: str, ckpt_id: str, benchmark: str, version: str, item_id: str, prompt_hash: str | None,
               config_hash: str, lib_versions: str, output: str | None, extracted: str | None, correct: bool,
               score: float, parse_ok: bool, verdict: str = "semantic", semantic_extracted: str | None = None,
               semantic_correct: bool | None = None, semantic_score: float | None = None,
               semantic_parse_ok: bool | None = None, error: str | None = None, gen_hash: str | None = None,
               sample_idx: int = 0, latency_s: float | None = None, n_new_tokens: int | None = None,
               created_at: _dt.datetime | None = None) -> dict:
    """One `samples` row with its key. `prompt_hash` may be None when the writer never saw the prompt
    (a SWE-bench import without the instance file): the uid then hashes an empty prompt. The semantic_*
    columns default to the score of record when a writer has one verdict only (verdict="semantic")."""
    uid = item_uid(benchmark, version, item_id, prompt_hash or "")
    return {
        "key": sample_key(run_id, uid, sample_idx), "run_id": run_id, "ckpt_id": ckpt_id, "benchmark": benchmark,
        "benchmark_version": version, "item_id": item_id, "item_uid": uid, "prompt_hash": prompt_hash,
        "gen_hash": gen_hash, "config_hash": config_hash, "sample_idx": int(sample_idx), "output": output,
        "extracted": extracted, "correct": bool(correct), "score": float(score), "parse_ok": bool(parse_ok),
        "latency_s": latency_s, "n_new_tokens": n_new_tokens, "error": error, "lib_versions": lib_versions,
        "created_at": created_at or now(), "verdict": verdict,
        "semantic_extracted": extracted if verdict == "semantic" else semantic_extracted,
        "semantic_correct": bool(correct) if verdict == "semantic" else semantic_correct,
        "semantic_score": float(score) if verdict == "semantic" else semantic_score,
        "semantic_parse_ok": bool(parse_ok) if verdict == "semantic" else semantic_parse_ok,
    }


def _fields(score, prefix: str = "") -> dict:
    if score is None:
        return {f"{prefix}extracted": None, f"{prefix}correct": False, f"{prefix}score": 0.0,
                f"{prefix}parse_ok": False}
    return {f"{prefix}extracted": score.extracted, f"{prefix}correct": bool(score.correct),
            f"{prefix}score": float(score.score), f"{prefix}parse_ok": bool(score.parse_ok)}


def scored_fields(scored) -> dict:
    """The verdict columns of a samples row from a benchmark's Verdicts (or a bare Score, which is a
    semantic verdict; or None, a failed item): the score of record in extracted/correct/score/parse_ok,
    which verdict that is, and the semantic verdict beside it."""
    from ctxbench.benchmarks.base import Verdicts

    if scored is None or not isinstance(scored, Verdicts):
        return {**_fields(scored), "verdict": "semantic", **_fields(scored, "semantic_")}
    return {**_fields(scored.record), "verdict": scored.mode, **_fields(scored.semantic, "semantic_")}


__all__ = ["bench_item_row", "bench_sample_key", "item_row", "now", "run_row", "sample_row", "scored_fields"]
