"""Write ctxbench benchmarks as lm-eval tasks: one YAML + one JSONL per benchmark, plus `utils.py`.

Why this shape: people already run lm-eval, and a number is only comparable when both tools feed the
model the same text and score the answer the same way. So nothing is re-implemented on the lm-eval
side:

- Items are loaded exactly as `ctxbench eval` loads them (`harness.load_bench_items`: same limit, split and
  window-scaled grids, measured with the export model's tokenizer), and each prompt is stored
  *pre-rendered* by ctxbench's own renderer (`TextSide.render`: the chat template when the tokenizer
  has one, else the plain text, then the assistant prefill). lm-eval must therefore run these tasks
  without `--apply_chat_template`; the YAML metadata records `ctxbench_prerendered: true` and the
  model the text was rendered for.
- Generative items become `generate_until` with the harness's own stop strings and token budget
  (`harness.gen_settings`); choice-scored items become `multiple_choice` whose continuations are the
  harness's (`harness.choice_continuations`, separator included, so `target_delimiter` is "").
- Scoring goes through `process_results` in the generated `utils.py`, which calls this module, which
  calls the benchmark's own `score`: metric parity by construction (`correct`, `score`, `parse_ok`,
  each averaged).

`dataset_path: json` resolves relative `data_files` against the working directory, not the YAML, so
the data paths are written absolute: re-export after moving the folder.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctxbench.core.errors import CtxbenchError

TASK_PREFIX = "ctxbench_"
TAG = "ctxbench"
METRICS = ("correct", "score", "parse_ok")

UTILS_PY = '''"""lm-eval scoring hook for the ctxbench tasks in this folder (written by `ctxbench export lm-eval`).

It delegates to ctxbench's own benchmark scorer, so lm-eval reports ctxbench's metric exactly; the
ctxbench package must be importable wherever lm_eval runs these tasks.
"""

from ctxbench.integrations.lmeval.export import process_results  # noqa: F401
'''


def task_name(benchmark: str) -> str:
    """lm-eval task name for a ctxbench benchmark: `niah` -> `ctxbench_niah`, `long-mcq` -> `ctxbench_long_mcq`."""
    return TASK_PREFIX + re.sub(r"[^A-Za-z0-9]+", "_", benchmark).strip("_")


@dataclass(frozen=True)
class ExportedTask:
    task: str
    benchmark: str
    version: str
    mode: str          # "generate" | "choice"
    n_items: int
    yaml_path: Path
    data_path: Path


def _text_side(resolved):
    """ctxbench's own rendering and token counting (models.hf_backend.TextSide) for the export model,
    with its tokenizer only: the weights are not needed to write prompts."""
    from transformers import AutoTokenizer

    from ctxbench.models.hf.text import TextSide

    side = TextSide()
    try:
        side.tokenizer = AutoTokenizer.from_pretrained(str(resolved.path))
    except (OSError, ValueError) as e:
        raise CtxbenchError(f"model {resolved.spec!r}: could not load the tokenizer from {resolved.path}: {e}") from None
    side.max_context_tokens = resolved.max_context
    side.eos_ids = set()
    return side


def export_lmeval(out_dir: str | Path, cfg) -> list[ExportedTask]:
    """Write one lm-eval task per benchmark of `cfg` (a harness.EvalConfig: model, suite/benchmarks,
    limit, split, scoring, max_new_tokens, data) into `out_dir`; returns what was written."""
    import yaml

    from ctxbench.eval.harness import (
        choice_continuations,
        configured_benchmarks,
        gen_settings,
        load_bench_items,
    )
    from ctxbench.models.base import Prompt
    from ctxbench.models.presets.registry import resolve_model

    out = Path(out_dir).expanduser().resolve()
    benches = configured_benchmarks(cfg)  # fails before touching the tokenizer or the folder
    resolved = resolve_model(cfg.model)
    side = _text_side(resolved)
    out.mkdir(parents=True, exist_ok=True)
    (out / "utils.py").write_text(UTILS_PY, encoding="utf-8")
    written = []
    for bench in benches:
        items = load_bench_items(bench, cfg, side)
        settings = {gen_settings(bench, cfg, it) for it in items}
        if len(settings) != 1:
            raise CtxbenchError(f"benchmark {bench.name!r}: items need different query modes "
                                f"({sorted(m for m, _ in settings)}); one lm-eval task has one output type. "
                                "Pass --scoring generate or --scoring choice")
        (mode, gen), = settings
        docs = []
        for it in items:
            if any(p.get("type") != "text" for p in it.prompt):
                raise CtxbenchError(f"benchmark {bench.name!r} item {it.item_id!r} has image parts; "
                                    "only text benchmarks can be exported to lm-eval")
            rendered = side.render(Prompt(tuple(it.prompt), it.prefill))
            doc: dict[str, Any] = {
                "item_id": it.item_id, "benchmark": bench.name, "benchmark_version": bench.version,
                "mode": mode, "prompt": rendered, "target": it.answer,
                "item_json": json.dumps({"item_id": it.item_id, "prompt": list(it.prompt), "answer": it.answer,
                                         "choices": list(it.choices) if it.choices else None,
                                         "prefill": it.prefill, "meta": it.meta}, default=str),
            }
            if mode == "choice":
                doc["choices"] = choice_continuations(rendered, it.choices)
                doc["label"] = it.choices.index(it.answer) if it.answer in it.choices else -1
            docs.append(doc)
        name = task_name(bench.name)
        data_path = out / f"{name}.jsonl"
        tmp = data_path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
        tmp.replace(data_path)
        task: dict[str, Any] = {
            "task": name, "tag": [TAG],
            "dataset_path": "json", "dataset_kwargs": {"data_files": {"test": str(data_path)}},
            "test_split": "test", "num_fewshot": 0,
            "doc_to_text": "prompt",
        }
        if mode == "choice":
            task.update(output_type="multiple_choice", doc_to_choice="choices", doc_to_target="label",
                        target_delimiter="")
        else:
            task.update(output_type="generate_until", doc_to_target="target", generation_kwargs={
                "until": list(gen.stop), "max_gen_toks": gen.max_new_tokens, "do_sample": False,
                "temperature": 0.0})
        task["metric_list"] = [{"metric": m, "aggregation": "mean", "higher_is_better": True} for m in METRICS]
        task["metadata"] = {
            "version": bench.version, "ctxbench_benchmark": bench.name, "ctxbench_prerendered": True,
            "ctxbench_rendered_for": {"model": cfg.model, "ckpt_id": resolved.identity,
                                      "chat_template": side.chat, "max_context": side.max_context_tokens},
            "ctxbench_selection": {"limit": cfg.limit, "split": cfg.split, "scoring": cfg.scoring,
                                   "n_items": len(docs)},
        }
        body = yaml.safe_dump(task, sort_keys=False, allow_unicode=True, width=1 << 16)
        yaml_path = out / f"{name}.yaml"
        yaml_path.write_text(body + "process_results: !function utils.process_results\n", encoding="utf-8")
        written.append(ExportedTask(name, bench.name, bench.version, mode, len(docs), yaml_path, data_path))
    return written


# ----------------------------------------------------------------------------- scoring (lm-eval side)

_BENCHES: dict[str, Any] = {}


def doc_item(doc: dict):
    """The ctxbench Item an exported doc was written from."""
    from ctxbench.benchmarks.base import Item

    d = json.loads(doc["item_json"])
    return Item(item_id=d["item_id"], prompt=tuple(d["prompt"]), answer=d["answer"],
                choices=tuple(d["choices"]) if d.get("choices") is not None else None,
                prefill=d.get("prefill", ""), meta=d.get("meta") or {})


def doc_bench(doc: dict):
    """The registered benchmark behind a doc; refuses a version other than the exported one (its scorer
    may differ, and the numbers would silently stop matching ctxbench's)."""
    from ctxbench.benchmarks import get_benchmark

    name = doc["benchmark"]
    if name not in _BENCHES:
        _BENCHES[name] = get_benchmark(name)
    b = _BENCHES[name]
    if str(doc.get("benchmark_version")) != b.version:
        raise CtxbenchError(f"doc {doc.get('item_id')!r} was exported from {name}@{doc.get('benchmark_version')} "
                            f"but this ctxbench has {b.key}; re-run `ctxbench export lm-eval`")
    return b


def completion_of(doc: dict, item, results: list) -> str:
    """What the harness would score: the generated text, or in choice mode the label of the option
    with the highest log-likelihood (first on ties, as the harness)."""
    if doc.get("mode") == "choice":
        lls = [float(r[0]) for r in results]
        best = max(range(len(lls)), key=lambda j: lls[j])
        return item.choices[best]
    return results[0]


def score_doc(doc: dict, results: list):
    """(completion, Score or None, error or None) for one doc's lm-eval results."""
    bench, item = doc_bench(doc), doc_item(doc)
    completion = completion_of(doc, item, results)
    try:
        return completion, bench.verdicts(item, completion, doc.get("mode", "generate")).record, None
    except Exception as e:  # noqa: BLE001 - a scorer crash is a failed item, as in the harness
        return completion, None, f"score: {type(e).__name__}: {e}"


def process_results(doc: dict, results: list) -> dict[str, float]:
    """lm-eval `process_results` hook: ctxbench's Score as lm-eval metrics."""
    _, sc, _ = score_doc(doc, results)
    if sc is None:
        return {"correct": 0.0, "score": 0.0, "parse_ok": 0.0}
    return {"correct": float(sc.correct), "score": float(sc.score), "parse_ok": float(sc.parse_ok)}


__all__ = ["ExportedTask", "doc_item", "export_lmeval", "process_results", "score_doc", "task_name"]
