"""SWE-bench end to end: the agent over instances into an official predictions file, and the official
harness's verdicts into the store.

Why this shape: producing a patch (a model in a shell loop, hours of GPU) and scoring it (each
instance's tests in its Docker image) usually happen on different machines. So the two halves meet
only through the official files: `run_instances` writes the predictions JSONL the `swebench` harness
reads ({instance_id, model_name_or_path, model_patch}, one line per instance, appended and fsynced as
each instance finishes, so a killed run resumes where it stopped), and `store_import` turns a
predictions file plus the harness's report into per-instance store rows, wherever it was scored.
Every precondition (data, checkouts, sandbox, Docker when asked to evaluate) is checked before a
model loads.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from ctxbench.benchmarks import get_benchmark
from ctxbench.benchmarks.base import LoadContext, spread_subset
from ctxbench.benchmarks.official import swe_bench as sb
from ctxbench.core.errors import CtxbenchError, DataError, did_you_mean
from ctxbench.core.hashing import file_sha256, stable_hash
from ctxbench.envs.swe.agent import (
    AgentConfig,
    backend_chat,
    check_checkout,
    checkout,
    run_agent,
    shell_runner,
)

BENCHES = ("swe-bench-verified", "swe-bench-lite")


def _bench(name: str):
    if name not in BENCHES:
        raise CtxbenchError(f"unknown SWE-bench variant {name!r}{did_you_mean(name, BENCHES)}; valid: {', '.join(BENCHES)}")
    return get_benchmark(name)


# ------------------------------------------------------------------------------------------ run


@dataclass(frozen=True)
class SweRunConfig:
    """The agent run. Sampling defaults are the paper's mini-swe-agent settings (§8)."""

    data: str
    repos: str
    model: str = "tiny"
    benchmark: str = "swe-bench-verified"
    name: str | None = None          # model_name_or_path in the predictions (default: from the model spec)
    step_limit: int = 125
    command_timeout_s: float = 60.0
    temperature: float = 0.6
    top_p: float = 0.95
    max_new_tokens: int = 4096
    seed: int = 0
    limit: int | None = None
    instance_ids: tuple[str, ...] = ()
    allow_host_shell: bool = False

    def model_name(self) -> str:
        if self.name:
            return self.name
        return "hf:" + Path(self.model[3:]).name if self.model.startswith("hf:") else self.model

    def agent(self) -> AgentConfig:
        return AgentConfig(step_limit=self.step_limit, command_timeout_s=self.command_timeout_s,
                           allow_host_shell=self.allow_host_shell)


def select_instances(cfg: SweRunConfig) -> list[dict]:
    """The instances to run (sorted by id; `instance_ids` first, then a spread `limit`), each with
    its checkout verified, so a missing clone fails before any model loads."""
    bench = _bench(cfg.benchmark)
    rows = sb.read_instances(bench.SRC.locate(cfg.data), bench.SRC)
    rows.sort(key=lambda r: r["instance_id"])
    if cfg.instance_ids:
        by_id = {r["instance_id"]: r for r in rows}
        unknown = [i for i in cfg.instance_ids if i not in by_id]
        if unknown:
            raise DataError(f"{cfg.data}: no instance {unknown[0]!r}{did_you_mean(unknown[0], by_id)}")
        rows = [by_id[i] for i in cfg.instance_ids]
    rows = spread_subset(rows, cfg.limit)  # type: ignore[arg-type]
    repos = Path(cfg.repos)
    if not repos.is_dir():
        raise DataError(f"{repos}: repositories folder not found. Put one git clone per repository in it, "
                        f"named <owner>__<name> (e.g. {repos}/{rows[0]['repo'].replace('/', '__')})")
    problems = []
    for r in rows:
        try:
            check_checkout(repos, r["repo"], r["base_commit"])
        except DataError as e:
            problems.append(f"{r['instance_id']}: {e}")
    if problems:
        more = f"\n  ... and {len(problems) - 10} more" if len(problems) > 10 else ""
        raise DataError(f"{len(problems)} of {len(rows)} instances have no usable checkout under {repos}:\n  "
                        + "\n  ".join(problems[:10]) + more)
    shell_runner(cfg.agent(), repos, repos)  # raises now if commands could not run here
    return rows


def done_ids(preds: Path) -> set[str]:
    if not preds.exists():
        return set()
    out = set()
    for i, ln in enumerate(preds.read_text(encoding="utf-8").splitlines(), 1):
        if ln.strip():
            try:
                out.add(json.loads(ln)["instance_id"])
            except (json.JSONDecodeError, KeyError, TypeError):
                raise DataError(f"{preds}:{i}: not a prediction row; pass another --out") from None
    return out


def _append(path: Path, row: dict) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
        f.flush()
        os.fsync(f.fileno())


def run_instances(cfg: SweRunConfig, preds: Path, backend=None, progress: bool = True) -> list[dict]:
    """Run the agent on each selected instance not yet in `preds`; append its prediction there and
    write its trajectory to `<preds dir>/trajs/<instance_id>.traj.json`. Returns one summary per
    instance run now: {instance_id, exit_status, steps, patch_lines}."""
    from ctxbench.models.base import GenConfig

    rows = select_instances(cfg)
    preds = Path(preds)
    preds.parent.mkdir(parents=True, exist_ok=True)
    have = done_ids(preds)
    todo = [r for r in rows if r["instance_id"] not in have]
    if not todo:
        return []
    if backend is None:
        from ctxbench.models import loader

        backend = loader.load_backend(cfg.model)
    gen = GenConfig(max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature, top_p=cfg.top_p, seed=cfg.seed)
    chat = backend_chat(backend, gen)
    trajs = preds.parent / "trajs"
    trajs.mkdir(exist_ok=True)
    out = []
    for k, r in enumerate(todo, 1):
        iid = r["instance_id"]
        with checkout(cfg.repos, r["repo"], r["base_commit"]) as wt:
            res = run_agent(r["problem_statement"], chat, wt, cfg.agent())
        (trajs / f"{iid}.traj.json").write_text(json.dumps({
            "instance_id": iid, "model": cfg.model_name(), "ckpt_id": backend.identity,
            "exit_status": res.exit_status, "steps": res.steps, "submission": res.patch,
            "diff_at_exit": res.diff_at_exit, "config": asdict(cfg), "messages": res.messages,
        }, indent=1), encoding="utf-8")
        _append(preds, {"instance_id": iid, "model_name_or_path": cfg.model_name(), "model_patch": res.patch})
        out.append({"instance_id": iid, "exit_status": res.exit_status, "steps": res.steps,
                    "patch_lines": len(res.patch.splitlines())})
        if progress:
            print(f"[{k}/{len(todo)}] {iid}: {res.exit_status} after {res.steps} steps, "
                  f"{len(res.patch.splitlines())} patch lines", flush=True)
    return out


def harness_dataset(data: str, bench, workdir: Path) -> Path:
    """A dataset file the swebench harness reads (it takes local .json/.jsonl, not Parquet)."""
    f = sb.instance_file(bench.SRC.locate(data), bench.SRC)
    if f.suffix != ".parquet":
        return f
    rows = sb.read_instances(f, bench.SRC)
    out = Path(workdir) / f"{bench.name}.dataset.jsonl"
    out.write_text("".join(json.dumps(r, default=str) + "\n" for r in rows), encoding="utf-8")
    return out


# ------------------------------------------------------------------------------------------ in an ablation


def agentic_eval(model: str, benchmarks: list[str], data: dict[str, str], root: Path, *, split: str = "test",
                 limit: int | None = None, max_new_tokens: int | None = None, name: str = "",
                 labels: dict | None = None, backend=None, progress: bool = True) -> dict:
    """SWE-bench as `run-ablation` scores it: the agent loop (ctxbench.envs.swe.agent, the paper's
    mini-swe-agent settings: 125 steps, 60 s commands, T 0.6 / top_p 0.95, 4,096 tokens a turn unless
    `max_new_tokens`) on each selected instance, then its verdict: the official harness where it can
    run, else the local approximation (ctxbench.envs.swe.reward; always for generated task sets), named
    in the run's config as `swe_reward`. One run (kind "eval", `labels` as columns), one sample shard per
    instance, so a killed job resumes at the next instance. Returns {run_id, ckpt_id, acc}."""
    from ctxbench.benchmarks.base import split_of
    from ctxbench.core.config import config_hash
    from ctxbench.core.versions import lib_versions_json
    from ctxbench.envs.swe.reward import check_local_tests, local_verdict, reward_mode
    from ctxbench.envs.swe.tasks import repos_dir, resolve_data_path
    from ctxbench.eval.rows import bench_item_row, bench_sample_key, run_row, sample_row
    from ctxbench.models.base import GenConfig
    from ctxbench.store.shards import read_keys, read_table, write_shard

    benches = [_bench(b) for b in benchmarks]
    if backend is None:
        from ctxbench.models import loader

        backend = loader.load_backend(model)
    run_cfg = SweRunConfig(data="", repos="", model=model)
    gen = GenConfig(max_new_tokens=max_new_tokens or run_cfg.max_new_tokens, temperature=run_cfg.temperature,
                    top_p=run_cfg.top_p, seed=run_cfg.seed)
    agent = run_cfg.agent()
    try:
        sb.require_harness()
        harness_ok = True
    except CtxbenchError:
        harness_ok = False
    selected = []
    for bench in benches:
        path = resolve_data_path(data.get(bench.name))
        items = [it for it in bench.load(LoadContext(data_path=path)) if split == "all" or split_of(it) == split]
        items = spread_subset(items, limit)  # type: ignore[arg-type]
        if not items:
            raise CtxbenchError(f"benchmark {bench.name!r} produced no items (split={split})")
        insts = {r["instance_id"]: r for r in sb.read_instances(bench.SRC.locate(path), bench.SRC)}
        mode = reward_mode("auto", harness_ok, any(insts[it.item_id].get("ctxbench_generated") for it in items))
        selected.append((bench, items, insts, repos_dir(bench.SRC.locate(path)), mode))
    resolved = {"model": model, "benchmarks": [b.key for b in benches], "split": split, "gen": asdict(gen),
                "agent": asdict(agent), "swe_reward": {b.name: m for b, *_, m in selected}, "labels": labels or {}}
    chash = config_hash(resolved)
    run_id = "eval-" + stable_hash([backend.identity, chash], 16)
    lib = lib_versions_json()
    run = dict(kind="eval", name=name or model, model=model, ckpt_id=backend.identity, config_hash=chash,
               config=resolved, lib_versions=lib, **(labels or {}))
    write_shard(root, "runs", [run_row(run_id, status="started", **run)], name=f"{run_id}-0start")
    done = set(read_keys(root, "samples", run_id))
    chat = backend_chat(backend, gen)
    acc = {}
    for bench, items, insts, repos, mode in selected:
        write_shard(root, "items", [bench_item_row(bench, it) for it in items], name=f"{run_id}-items-{bench.name}")
        for k, it in enumerate(items, 1):
            inst = insts[it.item_id]
            key = bench_sample_key(run_id, bench, it)
            if key in done:
                continue
            with checkout(repos, inst["repo"], inst["base_commit"]) as wt:
                res = run_agent(inst["problem_statement"], chat, wt, agent)
            patch, error = res.patch, None
            if not patch.strip():
                ok, error = False, f"no submission ({res.exit_status})"
            elif mode == "harness":
                ok = bench.score(it, patch).correct
            else:
                check_local_tests(inst)
                verdict = local_verdict(inst, patch, repos, agent)
                ok, error = verdict.resolved, verdict.error
            write_shard(root, "samples", [sample_row(
                run_id=run_id, ckpt_id=backend.identity, benchmark=bench.name, version=bench.version,
                item_id=it.item_id, prompt_hash=it.prompt_hash, config_hash=chash, lib_versions=lib, output=patch,
                extracted=patch or None, correct=ok, score=float(ok), parse_ok=bool(patch.strip()),
                verdict="official" if mode == "harness" else "semantic", error=error)],
                name=f"{run_id}-{bench.name}-{key[:12]}")
            if progress:
                print(f"[{bench.name} {k}/{len(items)}] {it.item_id}: {res.exit_status} after {res.steps} steps, "
                      f"{'resolved' if ok else 'unresolved'} ({mode})", flush=True)
        df = read_table(root, "samples", {"run_id": run_id})
        df = df[df["benchmark"] == bench.name].drop_duplicates("key")
        acc[bench.name] = float(df["correct"].mean()) if len(df) else float("nan")
    write_shard(root, "runs", [run_row(run_id, status="complete", **run)], name=f"{run_id}-1complete")
    return {"run_id": run_id, "ckpt_id": backend.identity, "acc": acc}


# ------------------------------------------------------------------------------------------ import


@dataclass
class ImportSummary:
    run_id: str
    benchmark: str
    model: str
    n: int                 # predictions imported
    resolved: int
    total: int             # instances of the dataset (report's total_instances, else 500 / 300)
    statuses: dict

    @property
    def rate_submitted(self) -> float:
        return self.resolved / self.n if self.n else float("nan")

    @property
    def rate(self) -> float:
        """The published resolve rate: resolved / all instances of the dataset."""
        return self.resolved / self.total if self.total else float("nan")

    def text(self) -> str:
        st = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items()))
        return (f"run {self.run_id}  model {self.model}\n"
                f"{self.benchmark}: resolve rate {100 * self.rate:.1f}% ({self.resolved} of {self.total} instances); "
                f"{100 * self.rate_submitted:.1f}% of the {self.n} submitted\nstatuses: {st}")


def store_import(root: Path, preds, report, benchmark: str = "swe-bench-verified", name: str | None = None,
                 data: str | None = None, ckpt_id: str | None = None, ingest: bool = True) -> ImportSummary:
    """Per-instance rows (item_id = instance_id, correct = resolved, output = the patch) and one run
    row (kind 'import') in the store. The run id hashes the benchmark and the files' contents, so
    importing the same files again replaces the same rows. With `data` (the instance file) the items
    are stored too, keyed like `ctxbench eval` keys them."""
    from ctxbench.core.versions import lib_versions_json
    from ctxbench.eval.rows import bench_item_row, now, run_row, sample_row
    from ctxbench.store.shards import write_shard

    bench = _bench(benchmark)
    rows = sb.import_predictions(preds, report, benchmark)
    _status, total = sb.read_report(report)
    models = sorted({r["model"] for r in rows})
    if len(models) > 1:
        raise DataError(f"{preds}: predictions of several models ({', '.join(models[:4])}); import one model at a time")
    reports = sb._report_files(report)
    resolved = {"benchmark": bench.key, "preds": str(preds), "preds_sha256": file_sha256(preds),
                "reports": [str(p) for p in reports], "reports_sha256": [file_sha256(p) for p in reports],
                "total_instances": total or bench.N}
    chash = stable_hash(resolved)
    run_id = "import-swe-" + stable_hash([bench.key, resolved["preds_sha256"], resolved["reports_sha256"]], 16)
    ckpt = ckpt_id or models[0]
    lib = lib_versions_json()
    items = {}
    if data is not None:
        items = {it.item_id: it for it in bench.load(LoadContext(data_path=str(data)))}
        absent = [r["item_id"] for r in rows if r["item_id"] not in items]
        if absent:
            raise DataError(f"{preds}: instances absent from {data}: {', '.join(absent[:5])} (wrong --benchmark or data?)")
        write_shard(root, "items", [bench_item_row(bench, items[r["item_id"]]) for r in rows], name=f"{run_id}-items")
    at = now()
    write_shard(root, "runs", [run_row(run_id, kind="import", created_at=at, name=name or f"{benchmark}:{models[0]}",
                                       model=models[0], ckpt_id=ckpt, config_hash=chash, config=resolved,
                                       lib_versions=lib, status="complete")], name=f"{run_id}-run")
    errors = {"error": "swebench: error (no usable report: the patch did not apply, the tests crashed, or "
                       "report.json is empty or unreadable)",
              "not_evaluated": "not evaluated by the swebench harness"}
    samples = []
    for r in rows:
        it = items.get(r["item_id"])
        patch = r["output"]
        verdict = {"extracted": patch if patch.strip() else None, "correct": r["correct"], "score": r["score"],
                   "parse_ok": bool(patch.strip())}
        samples.append(sample_row(  # the harness's verdict is both the official and the semantic one
            run_id=run_id, ckpt_id=ckpt, benchmark=bench.name, version=bench.version, item_id=r["item_id"],
            prompt_hash=it.prompt_hash if it is not None else None, config_hash=chash, lib_versions=lib,
            output=patch, **verdict, verdict="official", **{f"semantic_{k}": v for k, v in verdict.items()},
            error=errors.get(r["status"]), created_at=at))
    write_shard(root, "samples", samples, name=f"{run_id}-samples")
    if ingest:
        from ctxbench.store.ingest import ingest as do_ingest

        do_ingest(root, progress=False)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return ImportSummary(run_id, bench.name, models[0], len(rows), sum(r["correct"] for r in rows),
                         total or bench.N, counts)


__all__ = ["BENCHES", "ImportSummary", "SweRunConfig", "agentic_eval", "done_ids", "harness_dataset", "run_instances",
           "select_instances", "store_import"]
