"""`ctxbench eval --lm-eval-task NAME`: run lm-eval tasks on a checkpoint through lm-eval's own
evaluator, then store lm-eval's per-sample log as ordinary ctxbench rows.

Why: a user's existing lm-eval task (built in, or a folder passed with `--lm-eval-include`) should land
in the same store as ctxbench's own benchmarks, item by item, so the report, the app and the paired
statistics work on it unchanged. The scores are lm-eval's: lm-eval loads the task, the `hf` model at the
checkpoint path runs it (`simple_evaluate`, `log_samples=True`, offline), and each logged sample becomes
one `samples` row of benchmark `lm-eval:<task>` at the task's version:

- item_id: the doc's own id field when it has one (`item_id`, `id`, `_id`, `doc_id`, `question_id`,
  `task_id`, `instance_id`, `idx`), else `doc-<lm-eval doc_hash>` (stable across runs and limits); ids
  that still collide get `#<doc_id>` appended.
- output: the model's raw generation (generate_until), or the continuation with the highest
  log-likelihood (multiple_choice); extracted: the post-filter answer, or that choice.
- score: the task's primary metric (`correct` for ctxbench exports, then acc, exact_match, ... in
  `PRIMARY` order, else the first), correct: that metric at full marks (1.0; higher-is-better only).
  Tasks with several filters (e.g. gsm8k strict/flexible) keep the `none` filter, else the first.

Tasks written by `ctxbench export lm-eval` carry pre-rendered prompts (metadata `ctxbench_prerendered`):
they run without the chat template and are scored by ctxbench's own scorer (extracted, parse_ok), and
their rows keep the ctxbench item ids and prompt hashes, so they pair with `ctxbench eval` rows. Other
tasks get the chat template when the tokenizer has one (as ctxbench renders its own prompts; thinking
off); the choice is stored in the run's config. `--limit N` is lm-eval's: the first N docs.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ctxbench.core.errors import CtxbenchError
from ctxbench.core.hashing import stable_hash

BENCH_PREFIX = "lm-eval:"
PRIMARY = ("correct", "acc", "exact_match", "pass@1", "pass_at_1", "acc_norm", "em", "f1")
ID_FIELDS = ("item_id", "id", "_id", "doc_id", "question_id", "task_id", "instance_id", "idx")
INVALID = ("", "[invalid]")  # lm-eval filters' "no answer" values


@dataclass(frozen=True)
class LmEvalConfig:
    """What to run through lm-eval. Hashed (without `limit`) into the run id."""

    tasks: tuple[str, ...]
    model: str = "tiny"  # preset name or hf:PATH
    include_path: tuple[str, ...] = ()
    limit: int | None = None
    batch_size: int = 8
    dtype: Literal["float32", "bfloat16"] = "float32"
    device: str | None = None  # None: cuda when available, else cpu
    max_new_tokens: int | None = None  # overrides max_gen_toks of generate_until tasks
    seed: int = 0

    def __post_init__(self):
        if not self.tasks:
            raise ValueError("give at least one lm-eval task")
        if self.limit is not None and self.limit < 1:
            raise ValueError("limit must be >= 1")
        if self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")


# ----------------------------------------------------------------------------- sample log -> rows


def primary_metric(names) -> str:
    names = list(names)
    for m in PRIMARY:
        if m in names:
            return m
    if not names:
        raise CtxbenchError("an lm-eval sample has no metrics to store")
    return names[0]


def pick_filter(samples: list[dict]) -> str:
    filters = list(dict.fromkeys(s.get("filter", "none") for s in samples))
    return "none" if "none" in filters else filters[0]


def _doc_id_field(doc) -> str | None:
    if isinstance(doc, dict):
        for k in ID_FIELDS:
            v = doc.get(k)
            if isinstance(v, (str, int)) and not isinstance(v, bool) and str(v) != "":
                return str(v)
    return None


def item_ids(samples: list[dict]) -> list[str]:
    """Stable item ids for one task's samples (see the module docstring)."""
    ids = [_doc_id_field(s.get("doc")) or f"doc-{str(s['doc_hash'])[:16]}" for s in samples]
    counts: dict[str, int] = {}
    for i in ids:
        counts[i] = counts.get(i, 0) + 1
    return [i if counts[i] == 1 else f"{i}#{s['doc_id']}" for i, s in zip(ids, samples)]


def _is_export(doc) -> bool:
    return isinstance(doc, dict) and "item_json" in doc and "benchmark" in doc


def convert_sample(sample: dict, output_type: str, metric: str, higher_is_better: bool = True) -> dict:
    """One logged sample -> {prompt, choices, output, extracted, correct, score, parse_ok, answer,
    prompt_hash, gen, error} (the parts of a ctxbench row that come from lm-eval)."""
    args = [tuple(a) for a in sample["arguments"]]
    prompt = str(args[0][0]) if args else ""
    filtered = sample["filtered_resps"]
    choices = None
    gen: Any = None
    if output_type == "multiple_choice":
        choices = [str(a[1]) for a in args]
        lls = [float(r[0]) for r in filtered]
        best = max(range(len(lls)), key=lambda j: lls[j])
        output = extracted = choices[best]
        extracted = extracted.strip()
        tgt = sample.get("target")
        answer = choices[tgt].strip() if isinstance(tgt, int) and 0 <= tgt < len(choices) else str(tgt)
    elif output_type == "generate_until":
        raw = sample["resps"][0]
        output = str(raw[0] if isinstance(raw, (list, tuple)) else raw)
        f0 = filtered[0]
        extracted = str(f0[0] if isinstance(f0, (list, tuple)) and f0 else f0)
        gen = args[0][1] if len(args[0]) > 1 else None
        answer = str(sample.get("target"))
    else:  # loglikelihood / loglikelihood_rolling: the scored value is the output
        output = json.dumps([list(r) if isinstance(r, (list, tuple)) else r for r in filtered], default=str)
        extracted = None
        answer = str(sample.get("target"))
    value = float(sample.get(metric, 0.0) or 0.0)
    row = {"prompt": prompt, "choices": choices, "output": output, "extracted": extracted,
           "score": value, "correct": bool(higher_is_better and value >= 1.0 - 1e-9),
           "parse_ok": extracted is None or extracted.strip() not in INVALID, "answer": answer,
           "prompt_hash": stable_hash({"prompt": prompt, "choices": choices}), "gen": gen, "error": None}
    doc = sample.get("doc")
    if _is_export(doc):  # ctxbench's own scorer, ids and prompt hash
        from ctxbench.integrations.lmeval.export import doc_item, score_doc

        completion, sc, err = score_doc(doc, list(filtered))
        item = doc_item(doc)
        row.update(output=completion, prompt_hash=item.prompt_hash, answer=item.answer, error=err,
                   extracted=sc.extracted if sc else None, correct=bool(sc.correct) if sc else False,
                   score=float(sc.score) if sc else 0.0, parse_ok=bool(sc.parse_ok) if sc else False)
    return row


def task_rows(task: str, version: str, output_type: str, samples: list[dict], higher_is_better: dict,
              run: dict, latency_s: float | None = None) -> tuple[list[dict], list[dict], dict]:
    """(items rows, samples rows, info) for one task's logged samples. `run` holds run_id, ckpt_id,
    config_hash, lib_versions and created_at."""
    flt = pick_filter(samples)
    samples = sorted((s for s in samples if s.get("filter", "none") == flt), key=lambda s: s["doc_id"])
    if not samples:
        return [], [], {"filter": flt, "metric": None}
    metric = primary_metric(samples[0].get("metrics") or [k for k in higher_is_better])
    hib = bool(higher_is_better.get(metric, True))
    from ctxbench.eval.rows import item_row, sample_row

    bench = BENCH_PREFIX + task
    items, rows = [], []
    for iid, s in zip(item_ids(samples), samples):
        c = convert_sample(s, output_type, metric, hib)
        meta = {"lm_eval_task": task, "doc_id": s["doc_id"], "doc_hash": s.get("doc_hash"), "filter": flt,
                "metric": metric, "output_type": output_type, "doc": s.get("doc")}
        items.append(item_row(bench, version, iid, c["prompt_hash"], parts=[{"type": "text", "value": c["prompt"]}],
                              choices=c["choices"], answer=c["answer"], meta=meta))
        gen_hash = stable_hash([output_type, json.loads(json.dumps(c["gen"], default=str))])
        rows.append(sample_row(
            run_id=run["run_id"], ckpt_id=run["ckpt_id"], benchmark=bench, version=version, item_id=iid,
            prompt_hash=c["prompt_hash"], gen_hash=gen_hash, config_hash=run["config_hash"],
            lib_versions=run["lib_versions"], output=c["output"], extracted=c["extracted"], correct=c["correct"],
            score=c["score"], parse_ok=c["parse_ok"], error=c["error"], latency_s=latency_s,
            created_at=run["created_at"]))
    return items, rows, {"filter": flt, "metric": metric}


# ----------------------------------------------------------------------------- running lm-eval


def _task_manager(cfg: LmEvalConfig, model_args: dict):
    """lm-eval's TaskManager. Indexing lm-eval's own ~14k task names takes ~15 s on a small CPU, so when
    every requested name is a plain task of the --lm-eval-include folders, only those are indexed (they
    would take precedence over a built-in task of the same name anyway)."""
    from lm_eval.tasks import TaskManager
    from lm_eval.tasks._index import Kind

    for p in cfg.include_path:
        if not Path(p).is_dir():
            raise CtxbenchError(f"--lm-eval-include {p}: no such folder")
    if cfg.include_path:
        local = TaskManager(include_path=list(cfg.include_path), include_defaults=False, metadata=dict(model_args))
        index = local.task_index
        if all(n in index and index[n].kind in (Kind.TASK, Kind.PY_TASK) for n in cfg.tasks):
            return local
    return TaskManager(include_path=list(cfg.include_path) or None, metadata=dict(model_args))


def _check_names(tm, names) -> None:
    known = set(tm.all_tasks)
    for n in names:
        if n not in known:
            raise CtxbenchError(f"unknown lm-eval task {n!r}{_suggest(n, known)}. Tasks outside lm-eval's "
                                "own folder need --lm-eval-include DIR")


def _suggest(name: str, known) -> str:
    import difflib

    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(map(repr, close))}?)" if close else ""  # not all ~1000 names


def task_config_hash(task) -> str:
    """Hash of a loaded task's config without what is machine-specific: the metadata (model path,
    device; the version is stored on its own) and the folders of local data files."""
    cfg = json.loads(json.dumps(task.dump_config(), default=str))
    cfg.pop("metadata", None)
    files = (cfg.get("dataset_kwargs") or {}).get("data_files")
    if isinstance(files, dict):
        cfg["dataset_kwargs"]["data_files"] = {k: [Path(x).name for x in (v if isinstance(v, list) else [v])]
                                               for k, v in files.items()}
    return stable_hash(cfg)


def run_lmeval(cfg: LmEvalConfig, root: Path, progress: bool = True, ingest: bool = True):
    """Run `cfg.tasks` through lm-eval on `cfg.model`, write runs/items/samples shards, ingest; returns
    a harness.EvalReport (one line per task)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before datasets is imported: never reach the hub
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    import lm_eval
    from lm_eval.api.registry import get_model

    from ctxbench.core.config import config_hash, to_dict
    from ctxbench.core.versions import lib_versions_json
    from ctxbench.eval.harness import BenchResult, EvalReport
    from ctxbench.eval.rows import now, run_row
    from ctxbench.models.presets.registry import resolve_model
    from ctxbench.store.shards import write_shard

    if not progress:
        logging.getLogger("lm_eval").setLevel(logging.WARNING)
    resolved = resolve_model(cfg.model)
    device = cfg.device or _default_device()
    model_args = {"pretrained": str(resolved.path), "dtype": cfg.dtype, "device": device,
                  "batch_size": cfg.batch_size, "max_length": resolved.max_context}
    tm = _task_manager(cfg, model_args)
    _check_names(tm, cfg.tasks)  # before any model loads
    try:
        loaded = tm.load(list(cfg.tasks))["tasks"]
    except (ConnectionError, OSError) as e:  # datasets' offline refusal is a ConnectionError
        raise CtxbenchError(
            f"lm-eval could not load the data of {', '.join(cfg.tasks)}: {e}. ctxbench runs offline: the task's "
            "dataset must already be in the local Hugging Face cache (HF_DATASETS_CACHE), or the task must read "
            "local files (dataset_path: json with data_files, as `ctxbench export lm-eval` writes)") from None
    lm = get_model("hf").create_from_arg_obj({**model_args, "enable_thinking": False})
    chat = bool(getattr(lm.tokenizer, "chat_template", None))
    prerendered = {n: bool((t.config.metadata or {}).get("ctxbench_prerendered")) for n, t in loaded.items()}
    gen_kwargs = {"max_gen_toks": cfg.max_new_tokens} if cfg.max_new_tokens else None
    resolved_cfg = to_dict(cfg)
    resolved_cfg.pop("limit")
    resolved_cfg.pop("include_path")  # machine paths; the task configs are hashed instead
    resolved_cfg["task_configs"] = {n: task_config_hash(t) for n, t in sorted(loaded.items())}
    resolved_cfg["task_versions"] = {n: str(t.VERSION) for n, t in sorted(loaded.items())}
    resolved_cfg["chat_template"] = {n: chat and not p for n, p in sorted(prerendered.items())}
    chash = config_hash(resolved_cfg)
    run_id = "eval-" + stable_hash([resolved.identity, chash], 16)
    lib = lib_versions_json()
    run_info = dict(kind="eval", name=cfg.model, model=cfg.model, ckpt_id=resolved.identity, config_hash=chash,
                    config=resolved_cfg, lib_versions=lib)
    write_shard(root, "runs", [run_row(run_id, status="started", **run_info)], name=f"{run_id}-0start")
    results = []
    for use_chat in sorted({chat and not p for p in prerendered.values()}):
        group = [t for n, t in loaded.items() if (chat and not prerendered[n]) == use_chat]
        t0 = time.perf_counter()
        res = lm_eval.simple_evaluate(
            model=lm, tasks=group, task_manager=tm, limit=cfg.limit, log_samples=True, bootstrap_iters=0,
            apply_chat_template=use_chat, gen_kwargs=gen_kwargs, random_seed=cfg.seed, numpy_random_seed=cfg.seed,
            torch_random_seed=cfg.seed, fewshot_random_seed=cfg.seed)
        wall = time.perf_counter() - t0
        n_total = sum(len(v) for v in res["samples"].values()) or 1
        run = {"run_id": run_id, "ckpt_id": resolved.identity, "config_hash": chash, "lib_versions": lib,
               "created_at": now()}
        for task, samples in res["samples"].items():
            version = str(res["versions"].get(task))
            otype = res["configs"][task].get("output_type", "generate_until")
            items, rows, _ = task_rows(task, version, otype, samples, res["higher_is_better"].get(task, {}),
                                       run, latency_s=wall / n_total)
            if not rows:
                continue
            tag = stable_hash([r["item_id"] for r in rows], 8)
            safe = task.replace("/", "_")
            write_shard(root, "items", items, name=f"{run_id}-items-lmeval-{safe}-{tag}")
            write_shard(root, "samples", rows, name=f"{run_id}-lmeval-{safe}-{tag}")
            results.append(BenchResult(
                benchmark=BENCH_PREFIX + task, n=len(rows), n_correct=sum(r["correct"] for r in rows),
                n_parse_fail=sum(not r["parse_ok"] for r in rows), n_errors=sum(r["error"] is not None for r in rows),
                computed=len(rows), mean_score=sum(r["score"] for r in rows) / len(rows)))
    write_shard(root, "runs", [run_row(run_id, status="complete", **run_info)], name=f"{run_id}-1complete")
    if ingest:
        from ctxbench.store.ingest import ingest as do_ingest

        do_ingest(root, progress=False)
    return EvalReport(run_id, resolved.identity, results)


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def run_from_args(args, root: Path) -> int:
    """`ctxbench eval --lm-eval-task ...` (flags that only make sense for ctxbench benchmarks are refused)."""
    from ctxbench.core.config import load_config

    clash = [f for f, v in (("--benchmarks", args.benchmarks), ("--suite", args.suite), ("--data", args.data),
                            ("--scoring", args.scoring), ("--split", args.split), ("--config", args.config)) if v]
    if clash:
        raise CtxbenchError(f"--lm-eval-task runs lm-eval's own tasks; {', '.join(clash)} apply to ctxbench "
                            "benchmarks only (export those with `ctxbench export lm-eval` to run them in lm-eval)")
    if args.backend not in (None, "hf"):
        raise CtxbenchError("--lm-eval-task runs lm-eval's hf model; --backend vllm is not supported here")
    tasks = tuple(t.strip() for t in args.lm_eval_task.split(",") if t.strip())
    model = f"hf:{args.ckpt}" if args.ckpt else args.model
    cfg = load_config(LmEvalConfig, {}, tasks=tasks, model=model, include_path=tuple(args.lm_eval_include or ()) or None,
                      limit=args.limit, batch_size=args.batch_size, dtype=args.dtype,
                      max_new_tokens=args.max_new_tokens)
    report = run_lmeval(cfg, root, progress=not args.quiet, ingest=not args.no_ingest)
    print(report.table())
    return 0


__all__ = [
    "BENCH_PREFIX",
    "LmEvalConfig",
    "convert_sample",
    "item_ids",
    "primary_metric",
    "run_from_args",
    "run_lmeval",
    "task_rows",
]
