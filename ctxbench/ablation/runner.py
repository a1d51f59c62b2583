"""`run-ablation`: pairs -> warm-up -> arms x seeds training -> scoring -> ingest -> statistics -> report.

Every step is a hash-keyed job (ctxbench.ablation.jobs), so a killed ablation re-run skips finished
jobs and resumes the unfinished one (training from its last complete checkpoint, scoring from its
stored items). Arms share the pairs, the warm-up checkpoint, the RL task stream and the evaluation,
so what differs between arms is the objective (and, for the DA arms, how the same pairs are used).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from ctxbench.ablation.jobs import Job, JobContext
from ctxbench.ablation.spec import AblationSpec
from ctxbench.core.hashing import stable_hash


@dataclass
class AblationResult:
    name: str
    root: Path
    eval_runs: dict[tuple[str, int | None], str]   # (arm, seed) -> eval run id ("base", None) included
    ran: list[str]
    skipped: list[str]
    tables: dict                                   # statistics frames (attribution, deltas, headline)
    report: tuple[Path, Path] | None


def build_jobs(spec: AblationSpec, quick: bool = False) -> tuple[list[Job], dict]:
    """The job graph for a spec. Returns (jobs, handles) where handles name the eval jobs by arm/seed."""
    from trainers.config import make_config

    seeds = spec.quick_seeds if quick else spec.seeds
    pairs_job = None
    if spec.pairs and "file" in spec.pairs:  # a released file: its identity keys the job (a new copy re-imports)
        inputs = {"pairs": spec.pairs, "data": _file_identity(spec.pairs["file"])}
        pairs_job = Job("pairs", "import released pairs", inputs, _run_pairs)
    elif spec.pairs:
        pairs_job = Job("pairs", "build contrastive pairs", {"pairs": spec.pairs}, _run_pairs)
    first = make_config(spec.train_dict(spec.arms[0], seeds[0], quick))
    warm_job = None
    if first.warmup.enabled:
        warm_inputs = {"train": _warmup_view(spec.train_dict(spec.arms[0], seeds[0], quick))}
        warm_job = Job("warmup", "warm-up SFT", warm_inputs, _run_warmup)
    start_deps = [j for j in (pairs_job, warm_job) if j]
    train_jobs: dict[tuple[str, int], Job] = {}
    for arm in spec.arms:
        for seed in seeds:
            td = spec.train_dict(arm, seed, quick)
            train_jobs[(arm, seed)] = Job(
                "train", f"train {arm} seed {seed}",
                {"train": td, "ablation": spec.name, "arm": arm}, _run_train, deps=list(start_deps))
    ev = spec.eval
    eval_jobs: dict[tuple[str, int | None], Job] = {}
    common = {"eval": _eval_inputs(ev), "ablation": spec.name, "model": spec.model}
    if ev.score_base:
        eval_jobs[("base", None)] = Job("eval", "score base", {**common, "arm": "base", "seed": None},
                                        _run_eval, deps=list(start_deps))
    for (arm, seed), tj in train_jobs.items():
        deps = [tj] + ([pairs_job] if pairs_job else [])
        eval_jobs[(arm, seed)] = Job("eval", f"score {arm} seed {seed}", {**common, "arm": arm, "seed": seed},
                                     _run_eval, deps=deps)
    jobs = list(eval_jobs.values())
    return jobs, {"eval": eval_jobs, "train": train_jobs, "pairs": pairs_job, "warmup": warm_job}


def _eval_inputs(ev) -> dict:
    """The eval job's inputs: the [eval] table, without the protocol/template/judge keys while they are
    at their defaults, so specs that do not use them keep the job keys they had before those keys existed."""
    from ctxbench.eval.config import unchanged_defaults

    return unchanged_defaults(_as_plain(ev))


def _as_plain(obj):
    from dataclasses import asdict

    return asdict(obj)


def _warmup_view(td: dict) -> dict:
    """The parts of a training config the warm-up depends on (model, tasks, warm-up settings, and the
    torch thread count: on some CPUs a 1- and a 2-thread matmul round differently, so the warm-up's
    weights, and every score after them, would depend on the executor's thread default)."""
    keep = {k: td[k] for k in ("model", "recipe", "warmup", "precision", "threads") if k in td}
    keep["data"] = {k: v for k, v in td.get("data", {}).items()
                    if k in ("tasks", "max_items_per_task", "data_paths", "task_split")}
    keep["rollout"] = {k: v for k, v in td.get("rollout", {}).items() if k == "max_prompt_tokens"}
    return keep


# ------------------------------------------------------------------------------------------- job bodies

def _file_identity(path: str) -> dict:
    """Cheap identity of a data file or folder (path, sizes, mtimes); the import itself hashes the bytes."""
    p = Path(path)
    files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p] if p.exists() else []
    rows = [[str(f.relative_to(p) if p.is_dir() else f.name), f.stat().st_size, f.stat().st_mtime_ns] for f in files]
    return {"path": str(p.resolve()), "files": rows}


def _run_pairs(ctx: JobContext) -> dict:
    if "file" in ctx.job.inputs["pairs"]:
        from ctxbench.core.config import load_config
        from ctxbench.pairs.released import ReleasedPairsConfig, import_pairs

        imported = import_pairs(load_config(ReleasedPairsConfig, ctx.job.inputs["pairs"]), ctx.root)
        if ctx.progress:
            print(imported.summary())
        res = imported.pairs
        return {"path": str(res.path), "n_train": res.n_train, "n_test": res.n_test}
    from ctxbench.pairs.domains import build_pairs, pairs_config

    res = build_pairs(pairs_config(ctx.job.inputs["pairs"]), ctx.root, progress=ctx.progress)
    return {"path": str(res.path), "n_train": res.n_train, "n_test": res.n_test}


def _run_warmup(ctx: JobContext) -> dict:
    from trainers import make_config, warmup_sft

    cfg = make_config({**ctx.job.inputs["train"], "progress": ctx.progress})
    if cfg.threads:  # as the trainer does: [train] threads holds for its warm-up too (a Ray task's
        import torch  # default is OMP_NUM_THREADS=1, the sequential executor's is every core)

        torch.set_num_threads(cfg.threads)
    return {"path": str(warmup_sft(cfg, ctx.root))}


def _start_model(ctx: JobContext) -> str | None:
    for d in ctx.job.deps:
        if d.kind == "warmup":
            return "hf:" + ctx.dep(d)["path"]
    return None


def _pairs_path(ctx: JobContext) -> str | None:
    for d in ctx.job.deps:
        if d.kind == "pairs":
            return ctx.dep(d)["path"]
        for dd in d.deps:
            if dd.kind == "pairs":
                return ctx.dep_outputs.get(dd.key, {}).get("path")
    return None


def _run_train(ctx: JobContext) -> dict:
    from trainers import make_config, train

    td = dict(ctx.job.inputs["train"])
    start = _start_model(ctx)
    if start:
        td["model"] = start
        td["warmup"] = {**td.get("warmup", {}), "enabled": False}
    pairs = _pairs_path(ctx)
    if pairs:
        td["data"] = {**td.get("data", {}), "pairs": pairs}
    cfg = make_config({**td, "progress": ctx.progress})
    res = train(cfg, ctx.root, resume="auto")
    _label_train_run(ctx, res, cfg)
    return {"ckpt": str(res.ckpt_dir), "run_id": res.run_id}


def _label_train_run(ctx: JobContext, res, cfg) -> None:
    """Tag the trainer's run row with the ablation, arm and seed (a later shard wins on ingest)."""
    import json

    from ctxbench.core.config import config_hash, to_dict
    from ctxbench.core.versions import lib_versions_json
    from ctxbench.eval.rows import now as _now
    from ctxbench.store.shards import write_shard

    write_shard(ctx.root, "runs", [{
        "run_id": res.run_id, "kind": "train", "created_at": _now(), "name": f"{ctx.job.inputs['ablation']}/"
        f"{ctx.job.inputs['arm']}/s{cfg.seed}", "model": cfg.model, "arm": ctx.job.inputs["arm"], "seed": cfg.seed,
        "ablation": ctx.job.inputs["ablation"], "config_hash": config_hash(cfg),
        "config_json": json.dumps(to_dict(cfg), sort_keys=True, default=str), "lib_versions": lib_versions_json(),
        "status": "complete",
    }], name="zz-ablation-label")


def _run_eval(ctx: JobContext) -> dict:
    from ctxbench.core.config import load_config
    from ctxbench.eval.config import EvalConfig
    from ctxbench.eval.harness import run_eval
    from ctxbench.models.chat import TemplateConfig

    inp = ctx.job.inputs
    ev = inp["eval"]
    model = None
    for d in ctx.job.deps:
        if d.kind == "train":
            model = "hf:" + ctx.dep(d)["ckpt"]
    if model is None:
        model = _start_model(ctx) or inp.get("model") or "tiny"
    labels = {"ablation": inp["ablation"], "arm": inp["arm"], "seed": inp["seed"]}
    name = f"{inp['ablation']}/{inp['arm']}" + (f"/s{inp['seed']}" if inp["seed"] is not None else "")
    common = dict(model=model, batch_size=ev["batch_size"], max_new_tokens=ev["max_new_tokens"],
                  scoring=ev.get("scoring", "auto"), protocol=ev.get("protocol"), judge=ev.get("judge"),
                  template=load_config(TemplateConfig, ev.get("template") or {}))
    from ctxbench.eval.swe import BENCHES as SWE

    swe = [b for b in ev["benchmarks"] if b in SWE]  # SWE-bench: the agent loop, not one generation
    out: dict = {"acc": {}}
    if ev["suite"] or len(swe) < len(ev["benchmarks"]):
        cfg = EvalConfig(suite=ev["suite"] or None, benchmarks=tuple(b for b in ev["benchmarks"] if b not in SWE),
                         split=ev["split"], limit=ev["limit"], data=dict(ev["data"]), **common)
        rep = run_eval(cfg, ctx.root, progress=ctx.progress, ingest=False, name=name, extra_run=labels)
        out.update(run_id=rep.run_id, ckpt_id=rep.ckpt_id, acc={r.benchmark: r.accuracy for r in rep.results})
    if swe:
        from ctxbench.eval.swe import agentic_eval

        srep = agentic_eval(model, swe, dict(ev["data"]), ctx.root, split=ev["split"], limit=ev["limit"],
                            max_new_tokens=ev["max_new_tokens"], name=name, labels=labels, progress=ctx.progress)
        out.setdefault("run_id", srep["run_id"])
        out.setdefault("ckpt_id", srep["ckpt_id"])
        out["swe_run_id"] = srep["run_id"]
        out["acc"].update(srep["acc"])
    pairs = _pairs_path(ctx)
    if ev["probe"] and pairs and not _has_heldout(pairs):  # a released file imported with heldout_frac 0
        print(f"ctxbench: {name}: no probe: the pairs ({pairs}) hold none out (set [pairs] heldout_frac > 0)")
    elif ev["probe"] and pairs:
        # The probe keeps both A/B orders of each held-out pair together: its own limit, no split thinning.
        pcfg = EvalConfig(benchmarks=("probe",), split="all", limit=ev["probe_limit"], data={"probe": pairs},
                          **common)
        prep = run_eval(pcfg, ctx.root, progress=ctx.progress, ingest=False, name=name + "/probe",
                        extra_run=labels)
        out["probe_run_id"] = prep.run_id
        out["acc"]["probe"] = prep.results[0].accuracy
    return out


def _has_heldout(path: str) -> bool:
    from ctxbench.pairs.base import load_pairs

    return any(p.split == "test" for p in load_pairs(path))


# ------------------------------------------------------------------------------------------- driver

def run_ablation(spec: AblationSpec, root: Path, quick: bool = False, progress: bool = True,
                 report: bool = True, reports_dir: Path | None = None, executor: str = "local",
                 address: str | None = None) -> AblationResult:
    """`executor`: "local" (jobs one by one here) or "ray" (ctxbench.ablation.executors; `address` joins a
    running cluster). Either way the one ingest runs here, after the last job."""
    from ctxbench.ablation.executors import make_executor
    from ctxbench.store.ingest import ingest

    check_requirements(spec)
    if quick:
        spec = replace(spec, name=spec.name + "-quick")
    jobs, handles = build_jobs(spec, quick)
    runner = make_executor(executor, root, progress=progress, address=address, resources=spec.resources)
    outputs = runner.run(jobs)
    ingest(root, progress=False)
    eval_runs = {k: outputs[j.key]["run_id"] for k, j in handles["eval"].items()}
    tables = compute_tables(root, spec.name, spec)
    rep = None
    if report:
        from ctxbench.report import build_report

        out = (reports_dir or Path("reports")) / spec.name
        rep = build_report(root, spec.name, out)
    return AblationResult(spec.name, root, eval_runs, runner.ran, runner.skipped, tables, rep)


def check_requirements(spec: AblationSpec) -> None:
    """Fail before any job when the spec needs a GPU or official data that this machine lacks."""
    from ctxbench.core.errors import CtxbenchError

    if "gpu" in spec.requires:
        import torch

        if not torch.cuda.is_available():
            raise CtxbenchError(f"ablation {spec.name!r} needs a GPU (requires = {list(spec.requires)}); "
                                "it validates here but cannot run on this machine")
    if "official-data" in spec.requires:
        paths = {**spec.eval.data, **spec.train.get("data", {}).get("data_paths", {})}
        if "file" in spec.pairs:
            paths["pairs"] = spec.pairs["file"]
        missing = [f"{k}: {v}" for k, v in paths.items() if not Path(v).exists()]
        if missing:
            raise CtxbenchError(f"ablation {spec.name!r} needs official data files that are missing: "
                                + "; ".join(missing))


def compute_tables(root: Path, ablation: str, spec: AblationSpec) -> dict:
    """Statistics for one ablation from the store: per-benchmark deltas vs the baseline and vs the base
    model, probe deltas, attribution, headline. Deterministic (seeded), so a resumed ablation prints
    identical numbers."""
    import pandas as pd

    from ctxbench.report.analysis import compare_all
    from ctxbench.report.data import arm_order
    from ctxbench.stats.arms import attribution, compare_arms, headline
    from ctxbench.store.queries import ablation_items, eval_sample_scores
    from ctxbench.store.read import connect_readonly
    from trainers.arms import baseline, data_augmentation, method

    con = connect_readonly(root)
    df = eval_sample_scores(con, ablation)
    items = ablation_items(con, ablation)
    con.close()
    out: dict = {"samples": len(df)}
    if df.empty:
        return out
    df["seed"] = df["seed"].astype(int)
    task = df[df["benchmark"] != "probe"]
    arms = [a for a in spec.arms if a in set(df["arm"])]
    da = [a for a in data_augmentation() if a in set(task["arm"])]
    if {baseline(), method()} <= set(arms) and da:
        out["attribution"] = attribution(task, grpo=baseline(), contextrl=method(), da=da)
    base = items[(items["arm"] == "base") & (items["benchmark"] != "probe")] if not items.empty else items
    both = task
    if not base.empty:  # did training change anything? each arm against the starting model (one model: no seed term)
        both = pd.concat([task, base[list(task.columns)].assign(seed=0)], ignore_index=True)
        out["vs_base"] = {a: compare_arms(both, "base", a, fixed=("base",)) for a in arms}
    if spec.baseline in arms:  # the report's deltas table, its Holm family and all: every arm (and base) vs grpo
        family = compare_all(both, arm_order(both["arm"].unique()))
        out["deltas"] = {} if family is None else {a: rows.reset_index(drop=True)
                                                   for a, rows in family.groupby("arm_b", sort=False)}
    probe = df[df["benchmark"] == "probe"]
    if not probe.empty:  # held-out context-selection accuracy per arm (mean over seeds), both A/B orders
        out["probe"] = probe.groupby("arm")["score"].mean().reindex(arms).dropna().round(4).to_dict()
        if spec.baseline in set(probe["arm"]):  # what the auxiliary loss trains: each arm's probe vs the baseline
            out["probe_deltas"] = {a: compare_arms(probe, spec.baseline, a) for a in arms
                                   if a != spec.baseline and a in set(probe["arm"])}
    out["headline"] = headline(task, baseline=spec.baseline)  # task benchmarks, as the report; the probe is shown apart
    return out


def fingerprint(spec: AblationSpec, quick: bool) -> str:
    return stable_hash([spec.name, quick])
