"""`ctxbench benchmarks`: list registered benchmarks with version, family and data status."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("benchmarks", help="list benchmarks: name, version, family, data status",
                       description="List every registered benchmark and whether its data is available here. "
                                   "Name one benchmark for the full data note (where its file is expected, how "
                                   "to obtain it).")
    p.add_argument("name", nargs="?", help="one benchmark: print its full data status")
    p.set_defaults(func=run)


def run(args) -> int:
    from ctxbench.benchmarks import SUITES, benchmark_names, get_benchmark

    if args.name:
        b = get_benchmark(args.name)  # unknown names: an error with the closest valid choice
        st = b.data_status()
        print(f"{b.name} {b.version} ({b.family}, {b.source}): {'ok' if st.available else 'MISSING'}\n{st.detail}")
        return 0
    print(f"{'name':<20} {'version':<8} {'family':<13} {'source':<14} data")
    for n in benchmark_names():
        b = get_benchmark(n)
        st = b.data_status()
        detail = st.short if st.available else f"{st.short} (ctxbench benchmarks {n})"
        print(f"{n:<20} {b.version:<8} {b.family:<13} {b.source:<14} {'ok' if st.available else 'MISSING'}: {detail}")
    print()
    for s, names in SUITES.items():
        print(f"suite {s}: {', '.join(names)}")
    return 0
