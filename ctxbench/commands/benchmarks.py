"""`ctxbench benchmarks`: list registered benchmarks with version, family and data status."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("benchmarks", help="list benchmarks: name, version, family, data status",
                       description="List every registered benchmark and whether its data is available here.")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..benchmarks import SUITES, benchmark_names, get_benchmark

    print(f"{'name':<20} {'version':<8} {'family':<13} {'source':<14} data")
    for n in benchmark_names():
        b = get_benchmark(n)
        st = b.data_status()
        print(f"{n:<20} {b.version:<8} {b.family:<13} {b.source:<14} {'ok' if st.available else 'MISSING'}: {st.detail}")
    print()
    for s, names in SUITES.items():
        print(f"suite {s}: {', '.join(names)}")
    return 0
