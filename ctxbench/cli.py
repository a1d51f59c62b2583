"""The `ctxbench` command line. Each subcommand lives in ctxbench/commands/<name>.py and exposes
`add_parser(subparsers)`; this file only wires them up and turns user errors into one clean line.

Importing this module must stay cheap (no torch): command modules import heavy things inside `run`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from ctxbench import __version__
from ctxbench.core.errors import CtxbenchError

# Order here is the order in `ctxbench --help`.
COMMANDS = (
    "run_ablation", "eval", "rescore", "train", "pairs", "probe", "report", "plan", "validate", "ingest", "ls",
    "models", "benchmarks", "import_table", "export", "swe_bench",
)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ctxbench",
        description="Does a post-training gain come from the objective or from the data? "
        "Train GRPO / ContextRL / DA arms, score every checkpoint item by item, attribute the gain.",
    )
    p.add_argument("--version", action="version", version=f"ctxbench {__version__}")
    p.add_argument("--root", default=None,
                   help="run root holding runs, shards, checkpoints and the database "
                        "(default: $CTXBENCH_ROOT or ./runs)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:  # a name here without its module is an error, never a silently missing command
        importlib.import_module(f"ctxbench.commands.{name}").add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing is ever downloaded at run time
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        rc = args.func(args)
    except CtxbenchError as e:
        print(f"ctxbench: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `ctxbench ls | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("ctxbench: interrupted; finished work is kept and a re-run resumes it", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
