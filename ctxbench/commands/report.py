"""`ctxbench report [NAME]`: the HTML + Markdown report of one ablation (default: the latest)."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="write the HTML/Markdown report of an ablation",
                       description="Reads the store read-only (safe while a run ingests) and writes "
                                   "<out>/index.html (standalone, opens offline) and <out>/summary.md: "
                                   "per-benchmark deltas vs grpo, the attribution, training curves, the "
                                   "mechanism view, imported published tables, and a verdict.")
    p.add_argument("name", nargs="?", help="ablation name (default: the latest ablation in the store)")
    p.add_argument("--root", dest="report_root", metavar="ROOT",
                   help="run root holding the database (default: the global --root, $CTXBENCH_ROOT or ./runs)")
    p.add_argument("--out", metavar="DIR", help="output folder (default: reports/<name>)")
    p.add_argument("--n-boot", type=int, default=2000, help="bootstrap resamples (default 2000)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from ctxbench.commands import root_of
    from ctxbench.report import build_report

    root = Path(args.report_root) if args.report_root else root_of(args)
    html_path, md_path = build_report(root, args.name, args.out, n_boot=args.n_boot)
    print(f"report:  {html_path}")
    print(f"summary: {md_path}")
    return 0
