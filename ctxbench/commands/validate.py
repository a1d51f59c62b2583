"""`ctxbench validate`: check configs and benchmark data before any model loads.

Config files are recognised by their shape (an ablation spec has `arms`, a training config has
`objective`, anything else is an eval config) and loaded strictly, so an unknown key, a wrong type or an
unknown benchmark/model name fails here with the key named. Benchmark data is loaded and checked
(empty file, missing column, duplicate item id, non-UTF-8 -> an error naming the file and line).

A config that names an eval protocol (`[eval] protocol = "paper"`) gets its resolved protocol printed per
benchmark (template, thinking, sampling, max tokens, judge, rope scaling), so a user can check what a run
will do before spending GPU hours on it.
"""

from __future__ import annotations

import importlib


def add_parser(sub) -> None:
    p = sub.add_parser("validate", help="check configs and benchmark data before any model loads",
                       description="Exit 0 when every config and benchmark checks out; otherwise print each "
                                   "problem (file, line, key) and exit 2.")
    p.add_argument("configs", nargs="*", help="TOML files: eval configs, training configs, ablation specs")
    p.add_argument("--benchmarks", help="comma-separated benchmarks to check (default: all with data present)")
    p.add_argument("--data", action="append", default=[], metavar="NAME=PATH",
                   help="local data file for an official-format benchmark (repeatable)")
    p.set_defaults(func=run)


# (module, loader function) per config kind, imported on use so `validate` of one kind loads only its loader.
CONFIG_KINDS = {
    "ablation": ("ctxbench.ablation.spec", "load_spec"),
    "train": ("trainers.config", "load_train_config"),
    "eval": ("ctxbench.eval.config", "load_eval_config"),
}


def config_kind(data: dict) -> str:
    if "arms" in data:
        return "ablation"
    if "objective" in data:
        return "train"
    return "eval"


def check_config(path):
    """The loaded config (strictly checked)."""
    from ctxbench.core.config import read_toml

    kind = config_kind(read_toml(path))
    mod, fn = CONFIG_KINDS[kind]
    return getattr(importlib.import_module(mod), fn)(path)  # every loader ships with ctxbench: a failure is a bug


def eval_of(cfg):
    """The EvalConfig an eval config or an ablation spec scores with (the spec's as its base model),
    when it names a protocol; else None (nothing to print)."""
    from ctxbench.ablation.spec import AblationSpec
    from ctxbench.eval.config import EvalConfig

    if isinstance(cfg, EvalConfig):
        return cfg if cfg.protocol else None
    if isinstance(cfg, AblationSpec) and cfg.eval.protocol:
        ev = cfg.eval
        return EvalConfig(model=cfg.model, suite=ev.suite or None, benchmarks=tuple(ev.benchmarks),
                          max_new_tokens=ev.max_new_tokens, scoring=ev.scoring, protocol=ev.protocol,
                          template=ev.template, judge=ev.judge)
    return None


def protocol_lines(ev) -> list[str]:
    """The resolved protocol, one block per benchmark."""
    from ctxbench.eval.harness import describe_setup

    rows = describe_setup(ev)
    family = rows[0]["family"] if rows else "?"
    out = [f"        protocol {ev.protocol} for {ev.model} (family {family}):"]
    for r in rows:
        out.append(f"          {r['benchmark']:<20} template: {r['template']}; thinking {r['thinking']}; "
                   f"sampling {r['sampling']}; max_new_tokens {r['max_new_tokens']}; judge {r['judge']}; "
                   f"answer {r['answer']}; rope {r['rope']}")
        if r["note"]:
            out.append(f"          {'':<20} differs: {r['note']}")
    return out


def check_benchmark(name: str, data_path: str | None) -> list[str]:
    from ctxbench.benchmarks import get_benchmark
    from ctxbench.benchmarks.base import LoadContext
    from ctxbench.core.errors import CtxbenchError

    bench = get_benchmark(name)
    if data_path is None:
        st = bench.data_status()
        if not st.available:
            return [f"{name}: data missing: {st.detail}"]
    try:
        return bench.validate(LoadContext(data_path=data_path))
    except CtxbenchError as e:
        return [f"{name}: {e}"]


def run(args) -> int:
    from ctxbench.benchmarks import benchmark_names, get_benchmark
    from ctxbench.commands.eval import parse_data_args
    from ctxbench.core.errors import CtxbenchError

    problems: list[str] = []
    for path in args.configs:
        try:
            cfg = check_config(path)
            print(f"ok      {path}")
            ev = eval_of(cfg)
            if ev is not None:
                print("\n".join(protocol_lines(ev)))
        except CtxbenchError as e:
            problems.append(str(e))
            print(f"FAILED  {path}: {e}")
    names = [n.strip() for n in (args.benchmarks or "").split(",") if n.strip()]
    data = parse_data_args(args.data, names)
    if names or data or not args.configs:
        for name in names or benchmark_names():
            if not names and get_benchmark(name).source == "official-file" and name not in data:
                continue  # not asked for and no data given: nothing to check
            found = check_benchmark(name, data.get(name))
            problems += found
            print(f"{'ok' if not found else 'FAILED':<7} benchmark {name}" + ("" if not found else ": " + "; ".join(found)))
    if problems:
        print(f"\n{len(problems)} problem(s)")
        return 2
    return 0
