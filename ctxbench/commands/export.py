"""`ctxbench export lm-eval DIR`: write benchmarks as lm-eval tasks (YAML + local JSONL + utils.py)."""

from __future__ import annotations

import argparse

FORMATS = ("lm-eval",)


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="write benchmarks in another tool's format (lm-eval tasks)",
                       description="Write each benchmark as an lm-eval task: a YAML and a JSONL data file, "
                                   "with prompts rendered exactly as `ctxbench eval` renders them for --model "
                                   "and scoring through ctxbench's own scorer (utils.py). Then: "
                                   "lm_eval run --include_path DIR --tasks ctxbench_niah ... "
                                   "(without --apply_chat_template: prompts are pre-rendered).")
    p.add_argument("format", choices=FORMATS, help="target format")
    p.add_argument("dir", help="output folder (created; files of the same name are replaced)")
    p.add_argument("--benchmarks", help="comma-separated benchmark names (default: the embedded-long suite)")
    p.add_argument("--suite", help="a named suite instead of --benchmarks")
    p.add_argument("--limit", type=int, help="at most N items per benchmark (the same subset `ctxbench eval` takes)")
    p.add_argument("--split", choices=["all", "train", "test"], help="export only one split (default: all)")
    p.add_argument("--model", help="model whose tokenizer renders the prompts and sizes the grids (default: tiny)")
    p.add_argument("--scoring", choices=["auto", "generate", "choice"],
                   help="choice: multiple_choice tasks for benchmarks with options (default: per benchmark)")
    p.add_argument("--max-new-tokens", type=int, help="override each benchmark's generation budget")
    p.add_argument("--data", action="append", default=[], metavar="[NAME=]PATH",
                   help="local data file for official-format benchmarks (repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ctxbench.commands.eval import parse_data_args
    from ctxbench.core.config import load_config
    from ctxbench.eval.config import EvalConfig
    from ctxbench.integrations.lmeval.export import export_lmeval

    benches = [b.strip() for b in (args.benchmarks or "").split(",") if b.strip()]
    suite = args.suite or (None if benches else "embedded-long")
    cfg = load_config(EvalConfig, {}, model=args.model, suite=suite, benchmarks=benches or None, limit=args.limit,
                      split=args.split, scoring=args.scoring, max_new_tokens=args.max_new_tokens,
                      data=parse_data_args(args.data, benches) or None)
    tasks = export_lmeval(args.dir, cfg)
    for t in tasks:
        print(f"{t.task:<28} {t.benchmark}@{t.version:<6} {t.mode:<9} {t.n_items:>5} items  {t.yaml_path}")
    from ctxbench.models.presets.registry import resolve_model

    # max_length = the window the items were sized for, so lm-eval truncates (if ever) as ctxbench does
    print(f"run: lm_eval run --model hf --model_args pretrained=PATH,max_length={resolve_model(cfg.model).max_context} "
          f"--include_path {tasks[0].yaml_path.parent} --tasks {','.join(t.task for t in tasks)}  "
          "(no --apply_chat_template: prompts are pre-rendered)")
    return 0
