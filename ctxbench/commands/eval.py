"""`ctxbench eval`: score a checkpoint or preset on benchmarks, item by item, resumable."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="score a model on benchmarks (resumable, per item)",
                       description="Infer then score, per item. A killed run re-run computes only the missing "
                                   "items. Rows go to shards under the run root and are ingested into DuckDB.")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--ckpt", help="a local transformers checkpoint directory (what trainers write)")
    who.add_argument("--model", help="a preset (tiny, smollm2-135m) or hf:PATH (default: tiny)")
    p.add_argument("--suite", help="a named suite, e.g. embedded-long")
    p.add_argument("--benchmarks", help="comma-separated benchmark names")
    p.add_argument("--limit", type=int, help="at most N items per benchmark (spread over the benchmark)")
    p.add_argument("--split", choices=["all", "train", "test"], help="score only one split (default: all)")
    p.add_argument("--data", action="append", default=[], metavar="[NAME=]PATH",
                   help="local data file for official-format benchmarks (repeatable)")
    p.add_argument("--backend", choices=["hf", "vllm", "auto"], help="generation backend (default hf)")
    p.add_argument("--batch-size", type=int)
    p.add_argument("--dtype", choices=["float32", "bfloat16"])
    p.add_argument("--scoring", choices=["auto", "generate", "choice"],
                   help="multiple choice by letter log-probs (choice) or by generation (default: per benchmark)")
    p.add_argument("--max-new-tokens", type=int)
    p.add_argument("--protocol", metavar="NAME|FILE",
                   help="per-benchmark decoding and scoring from a protocol file: 'paper' (the released eval "
                        "scripts' sampling, lengths, templates, judges, YaRN; docs/eval-protocol.md)")
    p.add_argument("--thinking", choices=["auto", "on", "off"],
                   help="chat-template thinking (default auto: the model family's paper default)")
    p.add_argument("--template", metavar="JINJA", help="a chat-template file used instead of the checkpoint's")
    p.add_argument("--judge", metavar="NAME",
                   help="a registered judge (or module:function) for benchmarks whose protocol scorer uses one")
    p.add_argument("--lm-eval-task", metavar="NAME[,NAME]",
                   help="run installed lm-eval task(s) through lm-eval's evaluator and store its per-sample log")
    p.add_argument("--lm-eval-include", action="append", metavar="DIR",
                   help="extra lm-eval task folder for --lm-eval-task, e.g. from `ctxbench export lm-eval` (repeatable)")
    p.add_argument("--vlmeval", metavar="DATASET",
                   help="run VLMEvalKit's inference on DATASET (a paper VQA benchmark) with this model in a subprocess "
                        "and ingest its per-item predictions, scored by ctxbench (needs the vlm extra)")
    p.add_argument("--vlmeval-preds", metavar="FILE",
                   help="with --vlmeval: ingest this VLMEvalKit prediction file instead of running VLMEvalKit")
    p.add_argument("--config", help="TOML file with EvalConfig keys (flags override it)")
    p.add_argument("--no-ingest", action="store_true", help="leave the shards for a later `ctxbench ingest`")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run)


def parse_data_args(values: list[str], benchmarks: list[str]) -> dict[str, str]:
    from ctxbench.core.errors import CtxbenchError

    out = {}
    for v in values:
        if "=" in v:
            k, path = v.split("=", 1)
            out[k] = path
        elif len(benchmarks) == 1:
            out[benchmarks[0]] = v
        else:
            raise CtxbenchError("--data PATH without NAME= needs exactly one benchmark; use --data NAME=PATH")
    return out


def model_spec(args: argparse.Namespace, default: str | None = "tiny") -> str | None:
    """The model the flags name. `--ckpt DIR` becomes `hf:` + the folder's resolved absolute path, so the
    same checkpoint given from another directory (or as a relative path) is the same run."""
    from ctxbench.models.presets.registry import canonical_spec

    if args.ckpt:
        return canonical_spec(f"hf:{args.ckpt}")
    return args.model or default


def run(args: argparse.Namespace) -> int:
    from ctxbench.commands import root_of
    from ctxbench.core.config import load_config, read_toml
    from ctxbench.eval.config import EvalConfig
    from ctxbench.eval.harness import run_eval

    if args.lm_eval_task:
        from ctxbench.integrations.lmeval.bridge import run_from_args

        return run_from_args(args, root_of(args))
    if args.vlmeval or args.vlmeval_preds:
        return run_vlmeval_cli(args)
    base = read_toml(args.config) if args.config else {}
    benches = [b.strip() for b in (args.benchmarks or "").split(",") if b.strip()]
    overrides = dict(
        model=model_spec(args, default=None), suite=args.suite,
        benchmarks=benches or None, limit=args.limit, split=args.split,
        backend=args.backend, batch_size=args.batch_size, dtype=args.dtype, scoring=args.scoring,
        max_new_tokens=args.max_new_tokens,
        data=parse_data_args(args.data, benches) or None,
        protocol=args.protocol, judge=args.judge,
    )
    tpl = {k: v for k, v in (("thinking", args.thinking), ("override", args.template)) if v}
    if tpl:
        base = {**base, "template": {**base.get("template", {}), **tpl}}
    cfg = load_config(EvalConfig, base, **overrides)
    report = run_eval(cfg, root_of(args), progress=not args.quiet, ingest=not args.no_ingest)
    print(report.table())
    return 0


def run_vlmeval_cli(args: argparse.Namespace) -> int:
    """`ctxbench eval --vlmeval NAME [--vlmeval-preds FILE]`: run VLMEvalKit in a subprocess (or take the
    prediction file it wrote elsewhere) and store its predictions, scored by ctxbench."""
    from pathlib import Path

    from ctxbench.commands import root_of
    from ctxbench.core.errors import CtxbenchError
    from ctxbench.integrations.vlmeval.bridge import benchmark_for, ingest_predictions, make_job, run_vlmeval

    if not args.vlmeval:
        raise CtxbenchError("--vlmeval-preds FILE needs --vlmeval DATASET (which benchmark the file is for)")
    bench = benchmark_for(args.vlmeval)
    given = parse_data_args(args.data, [bench])
    data = given.get(bench) or given.get(args.vlmeval)
    model = model_spec(args, default="tiny-vlm")
    root = root_of(args)
    if getattr(args, "vlmeval_preds", None):  # a file VLMEvalKit wrote elsewhere: identity from the flags or the file
        named = args.ckpt or args.model
        ckpt_id = f"vlmeval:{model}" if named else f"vlmeval:{Path(args.vlmeval_preds).name}"
        report = ingest_predictions(args.vlmeval_preds, bench, root, data_path=data, ckpt_id=ckpt_id, model=model,
                                    gen_info={"pred_file": Path(args.vlmeval_preds).name},
                                    ingest=not args.no_ingest)
        print(report.table())
        return 0
    job = make_job(bench, model, data, root / "vlmeval", backend=args.backend or "hf", dtype=args.dtype or "float32",
                   batch_size=args.batch_size or 8, max_new_tokens=args.max_new_tokens, limit=args.limit)
    result = run_vlmeval(job)
    report = ingest_predictions(result["pred_file"], bench, root, data_path=data, ckpt_id=result["ckpt_id"],
                                model=model, gen_info={"dataset": job.dataset, "max_new_tokens": job.max_new_tokens,
                                                       "limit": job.limit}, ingest=not args.no_ingest)
    print(report.table())
    return 0
