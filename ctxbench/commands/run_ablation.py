"""`ctxbench run-ablation [SPEC] [--quick] [--executor ray [--address ADDR]]`: the main job, end to end,
resumable (on either executor)."""

from __future__ import annotations

import time
from pathlib import Path

from ctxbench.ablation.executors import EXECUTORS


def add_parser(sub) -> None:
    p = sub.add_parser(
        "run-ablation", help="train every arm x seed, score every checkpoint, attribute the gain",
        description="pairs -> warm-up -> arms x seeds -> scoring -> ingest -> statistics -> report. Every job "
                    "is keyed by its inputs; a re-run after a kill skips finished jobs and resumes the rest.")
    p.add_argument("spec", nargs="?", help="ablation spec TOML (default: ablations/embedded.toml)")
    p.add_argument("--quick", action="store_true", help="one seed and the spec's quick overrides")
    p.add_argument("--no-report", action="store_true", help="skip the HTML/Markdown report")
    p.add_argument("--reports", default="reports", help="where reports go (default: reports/)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="local: jobs one by one in this process (default); ray: every job a Ray task, "
                        "reserving the spec's [resources] (needs Ray)")
    p.add_argument("--address", help="with --executor ray: join the Ray cluster at this address (HEAD:6379, "
                                     "or auto for one started here by `ray start`) instead of starting a local one")
    p.set_defaults(func=run)


def default_spec() -> Path:
    """ablations/embedded.toml next to the package (a checkout or an editable install), else ./ablations."""
    here = Path(__file__).resolve().parents[2] / "ablations" / "embedded.toml"
    return here if here.exists() else Path("ablations") / "embedded.toml"


def run(args) -> int:
    from ctxbench.ablation.runner import run_ablation
    from ctxbench.ablation.spec import load_spec
    from ctxbench.ablation.summary import format_summary
    from ctxbench.commands import root_of

    spec = load_spec(args.spec or default_spec())
    t0 = time.perf_counter()
    res = run_ablation(spec, root_of(args), quick=args.quick, progress=not args.quiet,
                       report=not args.no_report, reports_dir=Path(args.reports), executor=args.executor,
                       address=args.address)
    print(format_summary(res, spec, time.perf_counter() - t0))
    return 0
