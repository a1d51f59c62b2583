"""Writes a synthetic ablation into a run root the way the ablation runner does, then ingests it.

Why: the report, the app and their tests need a store with a *known* effect to check that the
numbers and the verdict come out right. Scores are drawn from a logistic model: item difficulty +
seed effect + the arm's effect (in logits), deterministic per (scenario seed, arm, seed, item).
Layout (conventions of the ablation runner): eval runs with runs.ablation / arm / seed, one per
(arm, seed) that also scores the probe (benchmark "probe": one item per held-out pair and A/B order),
training runs with train_metrics, contrastive pairs, an import run with a published table.
"""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np

from ctxbench.core.hashing import stable_hash
from ctxbench.store import ingest, item_uid, sample_key, write_shard

ARMS = ("grpo", "da-rl", "da-sft", "contextrl")
SEEDS = (0, 1, 2)
BENCHMARKS = ("niah", "long-mcq", "trace-qa")
# Effects in logits added to every item of an arm (task benchmarks) / probe accuracy shift.
SCENARIOS = {
    "objective": {"grpo": 0.0, "da-rl": 0.0, "da-sft": 0.0, "contextrl": 1.6},
    "data": {"grpo": 0.0, "da-rl": 1.6, "da-sft": 1.6, "contextrl": 1.6},
    "none": {"grpo": 0.0, "da-rl": 0.0, "da-sft": 0.0, "contextrl": 0.0},
}
PROBE_EFFECT = {"base": -0.5, "grpo": 0.0, "da-rl": 0.8, "da-sft": 0.6, "contextrl": 1.5}
T0 = dt.datetime(2026, 1, 1, 12, 0, 0)
WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu"]


def _rng(*key) -> np.random.Generator:
    return np.random.default_rng(int(stable_hash(list(key), 12), 16))


def _item(bench: str, k: int) -> dict:
    """A prompt with a decisive evidence span recorded the way the real benchmark records it."""
    r = _rng("item", bench, k)
    filler = " ".join(r.choice(WORDS, 60))
    answer = str(1000 + k)
    needle = f"The special magic number for city{k} is {answer}."
    head = "Read the text. <ctx> "
    prompt = f"{head}{filler[:150]} {needle} {filler[150:]}\nWhat is the number for city{k}? & <b>"
    s = prompt.index(needle)
    span = [s, s + len(needle)]
    if bench == "niah":
        meta = {"needle": needle, "needle_span": span, "depth": k % 10}
    elif bench == "long-mcq":
        d = prompt.index(filler[:20])
        meta = {"evidence_spans": [span], "distractor_spans": [[d, d + 20]], "hops": 1}
    else:
        meta = {"decisive_char_span": span, "decisive_text": needle, "decisive_step": k}
    parts = [{"type": "text", "value": prompt}]
    ph = stable_hash(parts, 16)
    return {"item_uid": item_uid(bench, "1", f"{bench}-{k:03d}", ph), "benchmark": bench,
            "benchmark_version": "1", "item_id": f"{bench}-{k:03d}", "prompt_hash": ph,
            "prompt_json": json.dumps({"parts": parts, "prefill": "", "choices": None}),
            "answer": answer, "meta_json": json.dumps(meta)}


def _run_row(run_id, kind, arm, seed, ablation, t, name=None) -> dict:
    return {"run_id": run_id, "kind": kind, "created_at": T0 + dt.timedelta(minutes=t), "name": name or run_id,
            "model": "tiny", "ckpt_id": f"ckpt-{arm}-{seed}", "arm": arm, "seed": seed, "ablation": ablation,
            "config_hash": stable_hash([run_id], 12), "config_json": {"arm": arm}, "lib_versions": {"x": "1"},
            "status": "complete"}


def _samples(run_id, arm, seed, items, effect, seed_sd=0.25, scen="s") -> list[dict]:
    seed_eff = 0.0 if seed is None else float(_rng("seed", scen, arm, seed).normal(0, seed_sd))
    rows = []
    for it in items:
        k = int(it["item_id"].rsplit("-", 1)[-1].split("#")[0].removeprefix("p"))
        diff = float(_rng("diff", it["benchmark"], k).normal(0.0, 1.2))
        p = 1 / (1 + math.exp(-(diff + effect + seed_eff)))
        ok = bool(_rng("draw", scen, arm, seed, it["item_uid"]).random() < p)
        out = it["answer"] if ok else str(int(it["answer"]) + 7) if it["answer"].isdigit() else "B"
        # niah stands in for a benchmark with an official scorer: the score of record is the official
        # verdict, and the semantic one also accepts ~1 in 5 of the replies the official one rejects
        official = it["benchmark"] == "niah"
        sem = ok or (official and _rng("semantic", scen, arm, seed, it["item_uid"]).random() < 0.2)
        rows.append({"key": sample_key(run_id, it["item_uid"], 0), "run_id": run_id, "ckpt_id": f"ckpt-{arm}-{seed}",
                     "benchmark": it["benchmark"], "benchmark_version": "1", "item_id": it["item_id"],
                     "item_uid": it["item_uid"], "prompt_hash": it["prompt_hash"], "gen_hash": "g",
                     "config_hash": "c", "sample_idx": 0, "output": f"I think it is {out} <tag>",
                     "extracted": out, "correct": ok, "score": float(ok), "parse_ok": True,
                     "latency_s": 0.01, "n_new_tokens": 5, "error": None, "lib_versions": {"x": "1"},
                     "created_at": T0, "verdict": "official" if official else "semantic",
                     "semantic_extracted": out, "semantic_correct": sem, "semantic_score": float(sem),
                     "semantic_parse_ok": True})
    return rows


def _probe_items(pairs) -> list[dict]:
    out = []
    for i, p in enumerate(pairs):
        if p["split"] != "test":
            continue
        for order in ("AB", "BA"):
            first, second = (p["ctx_pos"], p["ctx_neg"]) if order == "AB" else (p["ctx_neg"], p["ctx_pos"])
            text = f"Question: {p['query']}\nContext A:\n{first}\nContext B:\n{second}\nOutput A or B directly."
            parts = [{"type": "text", "value": text}]
            ph = stable_hash(parts, 16)
            iid = f"p{i:03d}#{order}"
            out.append({"item_uid": item_uid("probe", "1", iid, ph), "benchmark": "probe", "benchmark_version": "1",
                        "item_id": iid, "prompt_hash": ph,
                        "prompt_json": json.dumps({"parts": parts, "prefill": "", "choices": ["A", "B"]}),
                        "answer": "A" if order == "AB" else "B", "meta_json": json.dumps({"pair_id": p["pair_id"]})})
    return out


def make_pairs(n: int = 24) -> list[dict]:
    rows = []
    for i in range(n):
        r = _rng("pair", i)
        words = list(r.choice(WORDS, 30))
        pos = " ".join(words) + f" The key is {100 + i}."
        neg_words = list(words)
        neg_words[5] = "CHANGED"
        neg = " ".join(neg_words) + f" The key is {200 + i}."
        rows.append({"pair_id": f"pair-{i:03d}", "domain": "text" if i % 2 else "code",
                     "split": "test" if i % 3 == 0 else "train", "source": f"builder/item{i}", "stage": "final",
                     "query": f"What is the key of <doc {i}>?", "answer": str(100 + i), "ctx_pos": pos,
                     "ctx_neg": neg, "diff_json": {"edits": [{"pos": 5, "from": words[5], "to": "CHANGED"}]},
                     "meta_json": {"neg_answer": str(200 + i)}})
    return rows


def published_rows() -> list[dict]:
    """A small paper-style table (two base models): arm averages hand-checkable in tests."""
    table = {  # model -> arm -> [b1, b2, b3]
        "Qwen2.5-VL-7B": {"grpo": [50.0, 60.0, 70.0], "da-rl": [51.0, 61.0, 71.0], "contextrl": [54.0, 63.0, 72.0]},
        "Qwen3-VL-8B": {"grpo": [60.0, 70.0, 80.0], "da-rl": [60.0, 72.0, 80.0], "contextrl": [63.0, 74.0, 82.0]},
    }
    return [{"model": m, "arm": a, "benchmark": f"bench{j}", "score": v, "n_items": 100}
            for m, arms in table.items() for a, vals in arms.items() for j, v in enumerate(vals)]


def make_store(root, *, scenario: str = "objective", name: str = "abl-test", n_items: int = 40,
               arms=ARMS, seeds=SEEDS, benchmarks=BENCHMARKS, base: bool = True, train_steps: int = 12,
               published: bool = True, do_ingest: bool = True, t_offset: int = 0) -> dict:
    """Write one synthetic ablation under `root` and ingest it. Returns what was written (counts)."""
    eff = SCENARIOS[scenario]
    items = {b: [_item(b, k) for k in range(n_items)] for b in benchmarks}
    pairs = make_pairs()
    probe = _probe_items(pairs)
    write_shard(root, "items", [it for b in benchmarks for it in items[b]] + probe,
                name="items-" + stable_hash([name], 8))
    write_shard(root, "pairs", pairs, name="pairs")
    t = t_offset
    cells = [(a, s) for a in arms for s in seeds] + ([("base", None)] if base else [])
    for arm, seed in cells:
        t += 1
        rid = f"eval-{name}-{arm}-{seed}"
        write_shard(root, "runs", [_run_row(rid, "eval", arm, seed, name, t)], name="run")
        rows = [r for b in benchmarks for r in _samples(rid, arm, seed, items[b], eff.get(arm, -0.8), scen=scenario)]
        write_shard(root, "samples", rows, name="samples")
        write_shard(root, "samples", _samples(rid, arm, seed, probe, PROBE_EFFECT.get(arm, 0.0), scen=scenario),
                    name="probe")
    for arm in arms:
        for seed in seeds:
            t += 1
            rid = f"train-{name}-{arm}-{seed}"
            write_shard(root, "runs", [_run_row(rid, "train", arm, seed, name, t)], name="run")
            r = _rng("train", arm, seed)
            m = []
            for step in range(1, train_steps + 1):
                m.append({"run_id": rid, "step": step, "name": "reward_mean",
                          "value": 0.2 + 0.03 * step + eff.get(arm, 0) * 0.02 * step + r.normal(0, 0.02)})
                m.append({"run_id": rid, "step": step, "name": "kl", "value": 0.001 * step + abs(r.normal(0, 1e-4))})
                if arm == "contextrl":
                    m.append({"run_id": rid, "step": step, "name": "ca_select_acc",
                              "value": min(1.0, 0.5 + 0.04 * step + r.normal(0, 0.02))})
                if arm == "da-rl":
                    m.append({"run_id": rid, "step": step, "name": "pair_reward_mean",
                              "value": min(1.0, 0.5 + 0.02 * step + r.normal(0, 0.02))})
            write_shard(root, "train_metrics", m, name="metrics")
    if published:  # one import run per (model, arm) row (the aggregates key is run_id, benchmark)
        rows = published_rows()
        for model, arm in sorted({(r["model"], r["arm"]) for r in rows}):
            rid = f"import-paper-{model}-{arm}"
            run = _run_row(rid, "import", arm, None, None, t + 1, f"paper-table-2/{model}/{arm}")
            write_shard(root, "runs", [{**run, "config_hash": "paper-table-2-hash"}], name="run")
            write_shard(root, "aggregates", [{**r, "run_id": rid} for r in rows
                                             if (r["model"], r["arm"]) == (model, arm)], name="table")
    if do_ingest:
        ingest(root, progress=False)
    return {"cells": len(cells), "items": n_items, "pairs": len(pairs), "probe_items": len(probe)}


def add_eval_run(root, *, name: str = "abl-test", arm: str = "grpo", seed: int = 9, scenario: str = "objective",
                 n_items: int = 40, benchmarks=BENCHMARKS, t: int = 5000) -> str:
    """One more eval run of an existing synthetic ablation (shards only; the caller ingests)."""
    rid = f"eval-{name}-{arm}-{seed}"
    write_shard(root, "runs", [_run_row(rid, "eval", arm, seed, name, t)], name="run")
    items = [_item(b, k) for b in benchmarks for k in range(n_items)]
    write_shard(root, "samples", _samples(rid, arm, seed, items, SCENARIOS[scenario].get(arm, -0.8), scen=scenario),
                name="samples")
    return rid
