"""`ctxbench swe-bench`: run the mini-swe-agent-style loop on SWE-bench instances, or import the
official harness's verdicts into the store.

    ctxbench swe-bench run --data FILE --repos DIR --model tiny [--step-limit N] [--limit N] [--evaluate]
    ctxbench swe-bench import --preds PREDS.jsonl --report REPORT.json [--benchmark swe-bench-lite] [--name RUN]

Scoring needs Docker and the `swebench` package; without them `run` still produces the official
predictions file, to be scored elsewhere and brought back with `import`.
"""

from __future__ import annotations

import argparse

VARIANTS = ("swe-bench-verified", "swe-bench-lite")


def add_parser(sub) -> None:
    p = sub.add_parser("swe-bench", help="SWE-bench: run the agent on local checkouts, or import harness reports",
                       description="Run the agent loop (one shell command per turn, submission by git diff) on "
                                   "checkouts you provide, writing official predictions; or import predictions plus "
                                   "the official swebench report into the store as per-instance rows.")
    sp = p.add_subparsers(dest="swe_command", metavar="{run,import}", required=True)

    r = sp.add_parser("run", help="run the agent on instances (writes predictions JSONL)",
                      description="Each instance runs on a fresh shared clone of DIR/<owner>__<name> at its "
                                  "base_commit, commands confined by the shell sandbox. Re-running resumes: "
                                  "instances already in the predictions file are skipped.")
    r.add_argument("--data", required=True, help="the official instance file (Parquet/JSONL) or its folder")
    r.add_argument("--repos", required=True, metavar="DIR", help="folder of git clones named <owner>__<name>")
    r.add_argument("--model", default="tiny", help="a preset (tiny, smollm2-135m) or hf:PATH (default: tiny)")
    r.add_argument("--benchmark", choices=VARIANTS, default="swe-bench-verified")
    r.add_argument("--out", help="predictions JSONL (default: <root>/swe-bench/<benchmark>/<model>/preds.jsonl)")
    r.add_argument("--name", help="model_name_or_path written in the predictions (default: from --model)")
    r.add_argument("--step-limit", type=int, default=125, help="model turns per instance (paper: 125)")
    r.add_argument("--limit", type=int, help="at most N instances (spread over the file)")
    r.add_argument("--instance-ids", help="comma-separated instance ids to run")
    r.add_argument("--command-timeout", type=float, default=60.0, help="seconds per shell command (paper: 60)")
    r.add_argument("--temperature", type=float, default=0.6, help="sampling temperature (paper: 0.6; 0 = greedy)")
    r.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling (paper: 0.95)")
    r.add_argument("--max-new-tokens", type=int, default=4096, help="tokens per model turn")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--allow-host-shell", action="store_true",
                   help="where the shell sandbox is unusable, run model commands unconfined on this machine")
    r.add_argument("--evaluate", action="store_true",
                   help="then score with the official swebench harness (needs Docker and `pip install swebench`) "
                        "and import the verdicts into the store")
    r.add_argument("--run-id", default="ctxbench", help="harness run id (with --evaluate)")
    r.add_argument("--max-workers", type=int, default=4, help="harness workers (with --evaluate)")
    r.set_defaults(func=run_cmd)

    i = sp.add_parser("import", help="import predictions + the official harness report into the store",
                      description="Per-instance rows: item_id = instance_id, correct = resolved, output = the patch; "
                                  "one run row (kind 'import'). Re-importing the same files replaces the same rows.")
    i.add_argument("--preds", required=True, help="predictions JSONL (instance_id, model_name_or_path, model_patch)")
    i.add_argument("--report", required=True, action="append",
                   help="the harness summary <model>.<run_id>.json, or a logs/run_evaluation folder of report.json "
                        "files (repeatable)")
    i.add_argument("--benchmark", choices=VARIANTS, default="swe-bench-verified")
    i.add_argument("--name", help="a name for the run (default: <benchmark>:<model>)")
    i.add_argument("--data", help="the instance file: also store the items (prompts, gold patches)")
    i.add_argument("--no-ingest", action="store_true", help="leave the shards for a later `ctxbench ingest`")
    i.set_defaults(func=import_cmd)


def _report_arg(values: list[str]):
    return values[0] if len(values) == 1 else values


def import_cmd(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ctxbench.commands import root_of
    from ctxbench.core.errors import DataError
    from ctxbench.eval.swe import store_import

    preds = Path(args.preds)
    if not preds.is_file():
        raise DataError(f"{preds}: predictions file not found")
    summary = store_import(root_of(args), preds, _report_arg(args.report), benchmark=args.benchmark,
                           name=args.name, data=args.data, ingest=not args.no_ingest)
    print(summary.text())
    return 0


def run_cmd(args: argparse.Namespace) -> int:
    import re
    from pathlib import Path

    from ctxbench.benchmarks import get_benchmark
    from ctxbench.benchmarks.official.swe_bench import require_harness, run_official_harness
    from ctxbench.commands import root_of
    from ctxbench.core.errors import CtxbenchError
    from ctxbench.eval.swe import SweRunConfig, harness_dataset, run_instances, select_instances, store_import

    ids = tuple(x.strip() for x in (args.instance_ids or "").split(",") if x.strip())
    cfg = SweRunConfig(data=args.data, repos=args.repos, model=args.model, benchmark=args.benchmark, name=args.name,
                       step_limit=args.step_limit, command_timeout_s=args.command_timeout,
                       temperature=args.temperature, top_p=args.top_p, max_new_tokens=args.max_new_tokens,
                       seed=args.seed, limit=args.limit, instance_ids=ids, allow_host_shell=args.allow_host_shell)
    root = root_of(args)
    preds = Path(args.out) if args.out else \
        root / "swe-bench" / args.benchmark / re.sub(r"[^A-Za-z0-9._=+-]", "_", cfg.model_name()) / "preds.jsonl"
    rows = select_instances(cfg)  # data, checkouts and sandbox: checked before anything loads
    if args.evaluate:
        try:
            require_harness()
        except CtxbenchError as e:
            raise CtxbenchError(f"--evaluate: {e}\nTo score later: run without --evaluate, score {preds} with "
                                f"`python -m swebench.harness.run_evaluation --dataset_name {args.data} "
                                f"--predictions_path {preds} --run_id {args.run_id}` on a machine with Docker, then "
                                f"`ctxbench swe-bench import --preds {preds} --report <model>.{args.run_id}.json "
                                f"--benchmark {args.benchmark}`") from None
    done = run_instances(cfg, preds)
    print(f"{len(done)} instance(s) run now, {len(rows) - len(done)} already in {preds}")
    print(f"predictions: {preds}\ntrajectories: {preds.parent / 'trajs'}")
    if not args.evaluate:
        print(f"score with the official harness (Docker), then: ctxbench swe-bench import --preds {preds} "
              f"--report <model>.<run_id>.json --benchmark {args.benchmark}")
        return 0
    bench = get_benchmark(args.benchmark)
    dataset = harness_dataset(args.data, bench, preds.parent)
    report = run_official_harness(preds, dataset, args.run_id, preds.parent,
                                  [r["instance_id"] for r in rows], max_workers=args.max_workers)
    summary = store_import(root, preds, report, benchmark=args.benchmark, data=args.data)
    print(summary.text())
    return 0
