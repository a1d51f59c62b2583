"""`ctxbench plan [--from RUN_OR_ABLATION] --effect 0.02`: how many seeds x items a comparison needs.

The variance components (item x arm interaction, cell noise, seed-to-seed variance per arm) are
estimated from a pilot ablation in the store (ctxbench.stats.power.components), per benchmark, for one
arm against the baseline; the table printed gives, for each number of seeds per arm, the items needed
for the report's test to detect `--effect` with the given power. The assumptions are printed with it.
"""

from __future__ import annotations

import argparse
import math

DEFAULT_SEEDS = (2, 3, 4, 5, 8, 10, 20)


def add_parser(sub) -> None:
    from trainers.arms import baseline, method

    p = sub.add_parser(
        "plan", help="seeds x items needed to detect an effect, from a pilot ablation's variance components",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Estimates, per benchmark, the variance components of ARM - BASELINE from a pilot in the\n"
                    "store (the ablation's eval runs) and prints the items needed, for each number of seeds per\n"
                    "arm, for the report's significance test to detect EFFECT with the given power.",
        epilog="Effects are in score units: on 0/1 accuracy, --effect 0.02 is two points.\n"
               "With a one-seed pilot the seed variance is not estimated: pass --seed-sd to assume one.")
    p.add_argument("--from", dest="source", metavar="RUN_OR_ABLATION",
                   help="pilot: an ablation name, or an eval run id (its ablation) (default: the latest ablation)")
    p.add_argument("--effect", type=float, required=True, help="the true delta to detect, in score units")
    p.add_argument("--arm", default=method(), help=f"the arm compared (default {method()})")
    p.add_argument("--vs", dest="against", default=baseline(), help=f"the arm it is compared with (default {baseline()})")
    p.add_argument("--alpha", type=float, default=0.05, help="two-sided level of the test (default 0.05)")
    p.add_argument("--family", type=int, default=1,
                   help="rows in the Holm family (the report's deltas table: arms x benchmarks); the plan uses "
                        "alpha / family, Holm's first step (default 1)")
    p.add_argument("--power", type=float, default=0.8, help="power (default 0.8)")
    p.add_argument("--seeds", default=",".join(map(str, DEFAULT_SEEDS)),
                   help=f"seeds per arm to tabulate (default {','.join(map(str, DEFAULT_SEEDS))})")
    p.add_argument("--seed-sd", type=float, default=None,
                   help="seed-to-seed sd (score units) to assume where the pilot has one seed (default 0)")
    p.add_argument("--max-items", type=int, default=10_000_000, help="largest item count searched")
    p.set_defaults(func=run)


def _resolve(con, source: str | None) -> tuple[str, str]:
    """(ablation name, how it was found) for an ablation name or an eval run id."""
    from ctxbench.core.errors import CtxbenchError
    from ctxbench.report.data import resolve_name
    from ctxbench.store import queries

    if source is None:
        name = resolve_name(con, None)
        return name, f"the latest ablation, {name!r}"
    known = queries.ablations(con)["ablation"].tolist()
    if source in known:
        return source, f"ablation {source!r}"
    runs = queries.runs(con, columns=("run_id", "ablation"))
    hit = runs[runs["run_id"] == source]
    if len(hit):
        abl = hit["ablation"].iloc[0]
        if abl is None or (isinstance(abl, float) and math.isnan(abl)):
            raise CtxbenchError(f"run {source!r} belongs to no ablation; a plan needs a pilot with both arms "
                                "(run them under one ablation name)")
        return str(abl), f"ablation {abl!r} (of run {source!r})"
    return resolve_name(con, source), ""  # an unknown name: the error lists the known ones


def _parse_seeds(text: str) -> list[int]:
    from ctxbench.core.errors import CtxbenchError

    try:
        seeds = sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError:
        raise CtxbenchError(f"--seeds {text!r}: give whole numbers separated by commas, e.g. 2,3,5,10") from None
    if not seeds or seeds[0] < 1:
        raise CtxbenchError(f"--seeds {text!r}: give whole numbers >= 1")
    return seeds


def plan_lines(data, args, found: str) -> list[str]:
    """The printed plan for one loaded ablation (report.data.AblationData)."""
    from ctxbench.core.errors import CtxbenchError, did_you_mean
    from ctxbench.report.analysis import FIXED
    from ctxbench.stats import power
    from ctxbench.stats.panel import normalise, panel

    items = data.items
    have = sorted(items["arm"].dropna().unique())
    for a in (args.arm, args.against):
        if a not in have:
            raise CtxbenchError(f"arm {a!r} has no eval results in {data.name!r}{did_you_mean(a, have)} "
                                f"(arms evaluated: {', '.join(have) or 'none'})")
    if args.effect == 0:
        raise CtxbenchError("--effect must be non-zero (the delta to detect)")
    if args.family < 1:
        raise CtxbenchError("--family must be >= 1")
    seeds = _parse_seeds(args.seeds)
    alpha = args.alpha / args.family
    df = normalise(items[items["arm"].isin([args.arm, args.against])])
    eff = args.effect
    out = [f"plan from {found}: {args.arm} - {args.against}, effect {eff:+.4g} ({100 * eff:+.2g} points on 0-1 scores), "
           f"two-sided alpha {args.alpha:g}" + (f" / {args.family} (Holm's first step over {args.family} rows)"
                                               if args.family > 1 else "") + f", power {args.power:.0%}",
           "assumptions:",
           "  - the model of the report's test (ctxbench.stats.variance): per item, an item x arm interaction,",
           "    cell noise (0/1 draws) that averages out over items and seeds, and seed-to-seed variance per arm",
           "    that only more seeds average out; all three estimated from the pilot, floored at zero",
           "  - new items and seeds are like the pilot's (same benchmark, same difficulty mix, same training),",
           "    both arms get the same number of seeds, and the test's own Satterthwaite df is used",
           "  - items needed counts scored items per benchmark; a benchmark smaller than that cannot reach it"]
    if args.against in FIXED or args.arm in FIXED:
        out.append(f"  - {', '.join(a for a in (args.arm, args.against) if a in FIXED)} is one model (the starting "
                   "checkpoint): no seeds, scored once")
    for bench in sorted(df["benchmark"].unique()):
        p = panel(df, bench, [args.against, args.arm])
        out.append("")
        if p.n_items < 2:
            out.append(f"{bench}: {p.note() or 'fewer than 2 items shared by both arms'}: no plan")
            continue
        c = power.components(p, args.against, args.arm, fixed=FIXED, seed_sd=args.seed_sd)
        sd = {a: ("n/a" if math.isnan(c.seed.get(a, 0.0)) else f"{c.seed.get(a, 0.0) ** 0.5:.4f}")
              for a in (args.against, args.arm)}
        cell = ", ".join(f"{a} {v ** 0.5:.3f}" for a, v in c.cell.items()) or "not separable (one seed)"
        pilot = power.plan_mde(c, max(c.n_seeds.values()), c.n_items, alpha=alpha, power=args.power, fixed=FIXED)
        out += [(f"{bench}: pilot {c.n_items} items x {c.n_seeds[args.against]}/{c.n_seeds[args.arm]} seeds "
                 f"({args.against}/{args.arm}), observed delta {c.delta:+.4f}"),
                f"  per-item sd: interaction {c.interaction ** 0.5:.4f}; cell noise {cell}",
                f"  seed-to-seed sd: {args.against} {sd[args.against]}, {args.arm} {sd[args.arm]}"
                + ("" if c.seeds_estimated else
                   f" (n/a: one seed in the pilot; assumed {args.seed_sd or 0:g}"
                   + ("" if args.seed_sd else ", i.e. none: an optimistic plan") + ")"),
                f"  MDE at the pilot's design: {_fmt(pilot)}",
                "  seeds/arm   items needed"]
        for s in seeds:
            if s == 1:
                out.append(f"  {s:>9}   no test: one seed does not estimate seed variance")
                continue
            n = power.items_needed(c, s, eff, alpha=alpha, power=args.power, fixed=FIXED, max_items=args.max_items)
            if n is None:
                floor = power.mde_floor(c, s, alpha=alpha, power=args.power, fixed=FIXED)
                out.append(f"  {s:>9}   unreachable: with {s} seeds the seed variance alone gives an MDE of "
                           f"{_fmt(floor)} > {abs(eff):g}")
            else:
                more = "" if n <= c.n_items else f"  ({n / c.n_items:.1f}x the pilot's {c.n_items})"
                out.append(f"  {s:>9}   {n:,}{more}")
        least = power.seeds_needed(c, eff, alpha=alpha, power=args.power, fixed=FIXED)
        out.append("  fewest seeds per arm that can reach it (with enough items): "
                   + (f"{least:,}" if least is not None else "more than 100,000"))
    return out


def _fmt(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.4f}"


def run(args) -> int:
    from ctxbench.commands import root_of
    from ctxbench.report.data import load_ablation
    from ctxbench.store.read import connect_readonly

    con = connect_readonly(root_of(args))
    try:
        name, found = _resolve(con, args.source)
        data = load_ablation(con, name)
    finally:
        con.close()
    if data.items.empty:
        from ctxbench.core.errors import CtxbenchError

        raise CtxbenchError(f"ablation {name!r} has no eval results to estimate variance components from")
    for line in plan_lines(data, args, found or f"ablation {name!r}"):
        print(line)
    return 0
