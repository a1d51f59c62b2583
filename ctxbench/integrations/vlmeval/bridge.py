"""Hand a ctxbench checkpoint to VLMEvalKit as a custom model, then ingest its per-item predictions.

Why a bridge at all: the paper ran eight of its VQA columns through VLMEvalKit. Running VLMEvalKit's own
inference loop on a ctxbench checkpoint (same dataset classes, same prompts, same image dumping) and
reading the result back item by item gives a cross-check of ctxbench's adapters and lets any VLMEvalKit
output file enter the store, the statistics and the app like a native eval.

Why a subprocess: `import vlmeval` sets `ssl._create_default_https_context` to the unverified context,
turning TLS verification off for the whole process. So ctxbench never imports it. The parent checks the
TSV (the benchmark's own strict reader: a malformed file is a one-line error before anything starts),
writes a job file, launches `python -m ctxbench.integrations.vlmeval.runner JOB.json` (the only module
that imports vlmeval), and reads back VLMEvalKit's prediction file
`<work_dir>/<model_name>_<dataset>.<tsv|xlsx|json>` (`PRED_FORMAT=tsv` is asked for, so no Excel writer
is needed): one row per item with the dataset's columns minus the image, plus `prediction`.

Dataset names: by default VLMEvalKit runs the benchmark under its official name. VLMEvalKit checks an
official TSV's md5 and re-downloads (over the user's file) when it differs, so a subset, a modified or a
generated TSV runs under a custom name instead (`make_job(..., vlmeval_name=...)`): the parent links the
TSV as `<work_dir>/lmudata/<key>/<name>.tsv` (`key` follows the file's path, size and mtime, so
VLMEvalKit's dumped images never outlive the file) and VLMEvalKit reads it as its CustomMCQDataset,
the same prompts and evaluation as ImageMCQDataset, which reads MMStar, BLINK, VStarBench and
ScienceQA_TEST (CUSTOM_NAME_OK; the other benchmarks have VLMEvalKit classes of their own).

Ingestion scores every prediction with ctxbench's own scorer for that benchmark (the same rules as a
native `ctxbench eval`) and writes run / item / sample shards keyed like the harness's, with the
official `index` as item id. For multiple-choice datasets the runner also runs VLMEvalKit's own
`evaluate` under `exact_matching` (no GPT judge); `read_verdicts` reads its per-item `hit`, which
ctxbench's official verdict (mode "official-rule" without a judge) must equal. vlmeval (`ms-vlmeval`)
is the `vlm` extra on a GPU box, or the CPU lane's install (.ci/vlmeval-lane); when it is missing the
command says so before anything starts.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import math
import os
import re
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from ctxbench.core.atomic import write_json
from ctxbench.core.errors import CtxbenchError, DataError

RUNNER_MODULE = "ctxbench.integrations.vlmeval.runner"
PRED_SUFFIXES = (".tsv", ".xlsx", ".json", ".csv")

# ctxbench benchmark name -> VLMEvalKit dataset name; PhyX and OlympiadBench take the name of the file found.
VLMEVAL_NAMES = {
    "MathVista_MINI": "MathVista_MINI", "MathVerse_MINI": "MathVerse_MINI", "MathVision": "MathVision",
    "MMMU_DEV_VAL": "MMMU_DEV_VAL", "MMMU_Pro_10c": "MMMU_Pro_10c", "VStarBench": "VStarBench", "MMStar": "MMStar",
    "BLINK": "BLINK", "ScienceQA_TEST": "ScienceQA_TEST", "PhyX": "PhyX_MC", "OlympiadBench": "OlympiadBench_EN",
    "MME-RealWorld-Lite": "MME-RealWorld-Lite",
}
# Benchmarks VLMEvalKit reads with plain ImageMCQDataset: under a custom name (its CustomMCQDataset, a
# subclass that only changes where the TSV comes from) prompts and evaluation stay the same. The others
# have their own classes (MMMU's preprocessing, MME-RealWorld's prompt) or need a GPT judge.
CUSTOM_NAME_OK = ("MMStar", "BLINK", "VStarBench", "ScienceQA_TEST")
ALIASES = {"PhyX_MC": "PhyX", "PhyX_mini_MC": "PhyX", "OlympiadBench_EN": "OlympiadBench",
           "MathVerse_MINIV": "MathVerse_MINI", "mme_realworld_lite": "MME-RealWorld-Lite"}


def benchmark_for(name: str) -> str:
    """The ctxbench benchmark behind a ctxbench or VLMEvalKit dataset name."""
    from ctxbench.core.errors import did_you_mean

    if name in VLMEVAL_NAMES:
        return name
    if name in ALIASES:
        return ALIASES[name]
    raise CtxbenchError(f"--vlmeval {name!r} is not one of the paper's VQA benchmarks"
                        f"{did_you_mean(name, list(VLMEVAL_NAMES) + list(ALIASES))}")


def vlmeval_dataset(benchmark: str, tsv: Path) -> str:
    """The VLMEvalKit dataset name for the TSV found (PhyX_mini_MC.tsv -> PhyX_mini_MC)."""
    if benchmark in ("PhyX", "OlympiadBench"):
        return tsv.stem
    return VLMEVAL_NAMES[benchmark]


def require_vlmeval() -> None:
    """Clear error when VLMEvalKit is not installed (checked without importing it)."""
    if importlib.util.find_spec("vlmeval") is None:
        raise CtxbenchError(
            "VLMEvalKit is not installed (module 'vlmeval'): install the vlm extra on a GPU machine, "
            "`pip install -e .[vlm]` (ms-vlmeval==0.0.20 + torchvision), build the CPU install of "
            ".ci/vlmeval-lane, or pass --vlmeval-preds FILE to ingest a prediction file VLMEvalKit wrote "
            "elsewhere")


# ------------------------------------------------------------------------------------------------ the job


@dataclass(frozen=True)
class BridgeJob:
    """Everything the runner subprocess needs, written as JSON next to VLMEvalKit's outputs."""

    benchmark: str            # ctxbench benchmark name
    dataset: str              # VLMEvalKit dataset name (official, or a custom name for a local TSV)
    model: str                # ctxbench model spec: preset, preset@seed or hf:PATH
    tsv: str                  # the benchmark's TSV, as ctxbench located it
    lmu_data: str             # folder holding <dataset>.tsv (becomes $LMUData in the subprocess)
    work_dir: str             # VLMEvalKit's work_dir: predictions land here
    model_name: str           # VLMEvalKit's model name: <model_name>_<dataset>.tsv
    backend: str = "hf"
    dtype: str = "float32"
    batch_size: int = 8
    max_new_tokens: int = 256
    limit: int | None = None  # rows spread over the dataset (harness --limit semantics)

    def pred_stem(self) -> Path:
        return Path(self.work_dir) / f"{self.model_name}_{self.dataset}"

    def result_file(self) -> Path:
        return Path(self.work_dir) / f"{self.model_name}_{self.dataset}.ctxbench.json"


def model_name_for(spec: str) -> str:
    """A file-name-safe VLMEvalKit model name for a ctxbench model spec ('hf:/x/ckpt-40' -> 'ctxbench-ckpt-40')."""
    tail = spec.split(":", 1)[-1].rstrip("/").rsplit("/", 1)[-1] or spec
    return "ctxbench-" + re.sub(r"[^A-Za-z0-9.=+-]", "_", tail)[:60]


def make_job(benchmark: str, model: str, data_path: str | None, work_dir: Path, *, backend: str = "hf",
             dtype: str = "float32", batch_size: int = 8, max_new_tokens: int | None = None,
             limit: int | None = None, vlmeval_name: str | None = None) -> BridgeJob:
    """Resolve names and the data folder (the benchmark's own lookup: --data, CTXBENCH_DATA_*, LMUData).

    vlmeval_name: run under this VLMEvalKit dataset name instead of the official one (a local TSV that is
    not byte for byte the published file; see the module docstring)."""
    from ctxbench.benchmarks import get_benchmark

    bench_name = benchmark_for(benchmark)
    bench = get_benchmark(bench_name)
    if vlmeval_name is not None:
        if bench_name not in CUSTOM_NAME_OK:
            raise CtxbenchError(f"a custom VLMEvalKit dataset name is for {', '.join(CUSTOM_NAME_OK)} "
                                f"(read by ImageMCQDataset either way); {bench_name} has its own VLMEvalKit "
                                f"class")
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", vlmeval_name):
            raise CtxbenchError(f"VLMEvalKit dataset name {vlmeval_name!r}: use letters, digits, '_', '.' "
                                f"and '-' (it becomes a file name)")
    tsv = bench.tsv.locate(data_path).resolve()
    work = Path(work_dir).resolve()
    dataset, lmu = vlmeval_dataset(bench_name, tsv), tsv.parent
    if vlmeval_name is not None:
        dataset = vlmeval_name
        if vlmeval_name != tsv.stem:  # the file goes by another name: linked into a staging folder
            lmu = _staging_dir(work, tsv)
    return BridgeJob(
        benchmark=bench_name, dataset=dataset, model=model, tsv=str(tsv), lmu_data=str(lmu),
        work_dir=str(work), model_name=model_name_for(model), backend=backend, dtype=dtype,
        batch_size=batch_size, max_new_tokens=max_new_tokens or bench.gen.max_new_tokens, limit=limit,
    )


def _staging_dir(work_dir: Path, tsv: Path) -> Path:
    """The $LMUData folder for a TSV run under a custom name: keyed by the file's path, size and mtime,
    so the images VLMEvalKit dumps beside it (and reuses when present) never belong to an older file."""
    from ctxbench.core.hashing import stable_hash

    st = tsv.stat()
    return work_dir / "lmudata" / stable_hash([str(tsv), st.st_size, st.st_mtime_ns], 12)


def check_data(job: BridgeJob) -> int:
    """Read the job's TSV with the benchmark's strict reader before anything is launched: a malformed
    file (missing column, bad image, an answer that is not an option, ...) is a one-line DataError naming
    the file and line. Returns the number of items."""
    from ctxbench.benchmarks import get_benchmark
    from ctxbench.benchmarks.base import LoadContext

    items = get_benchmark(job.benchmark).load(LoadContext(data_path=job.tsv, progress=False))
    if not items:
        raise DataError(f"{job.tsv}: no items with an image (VLMEvalKit skips rows without one)")
    return len(items)


def stage_data(job: BridgeJob) -> Path:
    """Link the TSV under its custom name into the job's staging folder; under the official name VLMEvalKit
    reads the user's data folder as it is (nothing is written there)."""
    target = Path(job.lmu_data) / f"{job.dataset}.tsv"
    if Path(job.lmu_data) == Path(job.tsv).parent:
        return target
    if target.is_symlink() or target.exists():
        target.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(job.tsv)
    return target


def write_job(job: BridgeJob) -> Path:
    path = Path(job.work_dir) / f"{job.model_name}_{job.dataset}.job.json"
    return write_json(path, asdict(job), indent=2, sort_keys=True)


def runner_command(job_file: Path, python: str | None = None) -> list[str]:
    return [python or sys.executable, "-m", RUNNER_MODULE, str(job_file)]


def runner_env(job: BridgeJob, base: dict[str, str] | None = None) -> dict[str, str]:
    """The subprocess environment: VLMEvalKit reads $LMUData and $PRED_FORMAT; nothing is downloaded."""
    env = dict(os.environ if base is None else base)
    env.update(LMUData=job.lmu_data, PRED_FORMAT="tsv", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    return env


def run_vlmeval(job: BridgeJob, python: str | None = None, timeout: float | None = None,
                check_installed: bool = True) -> dict:
    """Run VLMEvalKit's inference (and, for MCQ datasets, its exact-matching evaluation) on the job in a
    subprocess; return the runner's result
    ({pred_file, eval_file, ckpt_id, n_items, vlmeval, torchvision})."""
    if check_installed:
        require_vlmeval()
    check_data(job)
    stage_data(job)
    job_file = write_job(job)
    cmd = runner_command(job_file, python)
    try:
        proc = subprocess.run(cmd, check=False, env=runner_env(job), timeout=timeout, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    except subprocess.TimeoutExpired:
        raise CtxbenchError(f"VLMEvalKit runner exceeded {timeout} s: {' '.join(cmd)}") from None
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-25:])
        raise CtxbenchError(f"VLMEvalKit runner failed (exit {proc.returncode}): {' '.join(cmd)}\n{tail}")
    res_file = job.result_file()
    if not res_file.is_file():
        raise CtxbenchError(f"VLMEvalKit runner exited 0 but wrote no {res_file}")
    return json.loads(res_file.read_text())


# ------------------------------------------------------------------------------------------------ predictions


def find_pred_file(job: BridgeJob) -> Path:
    for suf in PRED_SUFFIXES:
        p = Path(str(job.pred_stem()) + suf)
        if p.is_file():
            return p
    raise DataError(f"no VLMEvalKit prediction file {job.pred_stem()}{{{','.join(PRED_SUFFIXES)}}}")


def _read_table(path: Path) -> list[dict]:
    """The rows of a VLMEvalKit output file (.tsv / .csv / .json / .xlsx) as dicts."""
    suf = path.suffix.lower()
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    if suf in (".tsv", ".csv"):
        csv.field_size_limit(2**31 - 1)
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f, delimiter="\t" if suf == ".tsv" else ","))
    elif suf == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and "index" in data and isinstance(data["index"], (dict, list)):
            cols = {k: (list(v.values()) if isinstance(v, dict) else v) for k, v in data.items()}
            rows = [dict(zip(cols, vals)) for vals in zip(*cols.values())]  # pandas to_json(orient="columns")
        else:
            rows = data if isinstance(data, list) else [data]
    elif suf == ".xlsx":
        if importlib.util.find_spec("openpyxl") is None:
            raise DataError(f"{path}: reading .xlsx needs openpyxl (not installed); rerun VLMEvalKit with "
                            f"PRED_FORMAT=tsv, or `pip install openpyxl`")
        import pandas as pd

        rows = pd.read_excel(path).to_dict(orient="records")
    else:
        raise DataError(f"{path}: unsupported prediction file type {suf!r} (expected {', '.join(PRED_SUFFIXES)})")
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def _require(path: Path, rows: list[dict], cols: tuple[str, ...], what: str) -> None:
    missing = [c for c in cols if c not in rows[0]]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)} ({what})")


def read_predictions(path: str | Path) -> dict[str, str]:
    """{index: prediction} from a VLMEvalKit prediction file (.tsv / .csv / .json / .xlsx)."""
    path = Path(path)
    rows = _read_table(path)
    _require(path, rows, ("index", "prediction"), "a VLMEvalKit prediction file has the dataset's columns "
             "plus 'prediction'")
    out: dict[str, str] = {}
    for i, r in enumerate(rows, 2):
        idx = _index_text(r["index"])
        if idx in out:
            raise DataError(f"{path}: row {i}: duplicate index {idx!r}")
        p = r["prediction"]
        out[idx] = "" if p is None or (isinstance(p, float) and math.isnan(p)) else str(p)
    return out


def read_verdicts(path: str | Path) -> dict[str, bool]:
    """{index: hit} from VLMEvalKit's evaluation record of an MCQ dataset
    (`<pred>_exact_matching_result.tsv`: the prediction rows plus `hit` 0/1 and `log`)."""
    path = Path(path)
    rows = _read_table(path)
    _require(path, rows, ("index", "hit"), "VLMEvalKit's MCQ evaluation record has 'hit' per index")
    out: dict[str, bool] = {}
    for i, r in enumerate(rows, 2):
        try:
            out[_index_text(r["index"])] = float(r["hit"]) == 1.0
        except (TypeError, ValueError):
            raise DataError(f"{path}: row {i}: hit {r['hit']!r} is not 0 or 1") from None
    return out


def _index_text(v) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v).strip()


# ------------------------------------------------------------------------------------------------ ingestion


def ingest_predictions(pred_file: str | Path, benchmark: str, root: Path, *, data_path: str | None = None,
                       ckpt_id: str, model: str, gen_info: dict | None = None, name: str | None = None,
                       ingest: bool = True):
    """Score every prediction with ctxbench's scorer and store it like a native eval run.

    Item ids are the TSV's `index`; a prediction whose index is not in the TSV is an error (VLMEvalKit's
    evaluate asserts the same); TSV items without a prediction are simply absent from the run.
    Returns the harness's EvalReport (one BenchResult)."""
    from ctxbench.benchmarks import get_benchmark
    from ctxbench.benchmarks.base import LoadContext
    from ctxbench.core.config import config_hash
    from ctxbench.core.hashing import stable_hash
    from ctxbench.core.versions import lib_versions_json
    from ctxbench.eval.harness import BenchResult, EvalReport
    from ctxbench.eval.rows import bench_item_row, run_row, sample_row, scored_fields
    from ctxbench.store.shards import write_shard

    bench = get_benchmark(benchmark_for(benchmark))
    preds = read_predictions(pred_file)
    by_id = {it.item_id: it for it in bench.load(LoadContext(data_path=data_path))}
    unknown = [k for k in preds if k not in by_id]
    if unknown:
        raise DataError(f"{pred_file}: {len(unknown)} prediction(s) for indices not in {bench.name}'s TSV "
                        f"(first: {unknown[0]!r}); is this the prediction file of another dataset?")
    items = [by_id[k] for k in by_id if k in preds]
    gen = {"source": "vlmeval", **(gen_info or {})}
    resolved = {"bridge": "vlmeval", "benchmark": bench.key, "model": model, "gen": gen}
    chash = config_hash(resolved)
    run_id = "vlmeval-" + stable_hash([ckpt_id, chash], 16)
    lib = lib_versions_json()
    run = {"kind": "eval", "name": name or model, "model": model, "ckpt_id": ckpt_id, "config_hash": chash,
           "config": resolved, "lib_versions": lib}
    write_shard(root, "runs", [run_row(run_id, status="started", **run)], name=f"{run_id}-0start")
    write_shard(root, "items", [bench_item_row(bench, it) for it in items],
                name=f"{run_id}-items-{bench.name}-{stable_hash([it.item_id for it in items], 8)}")
    gen_hash = stable_hash(gen)
    rows, n_correct, n_fail, n_err = [], 0, 0, 0
    for it in items:
        text = preds[it.item_id]
        err = None
        try:
            sc = bench.verdicts(it, text)
        except Exception as e:  # noqa: BLE001  (a scorer crash is a recorded failure of this item, as in the harness)
            sc, err = None, f"score: {type(e).__name__}: {e}"
        n_correct += bool(sc and sc.record.correct)
        n_fail += not (sc and sc.record.parse_ok)
        n_err += err is not None
        rows.append(sample_row(run_id=run_id, ckpt_id=ckpt_id, benchmark=bench.name, version=bench.version,
                               item_id=it.item_id, prompt_hash=it.prompt_hash, gen_hash=gen_hash, config_hash=chash,
                               lib_versions=lib, output=text, error=err, **scored_fields(sc)))
    if rows:
        write_shard(root, "samples", rows, name=f"{run_id}-{bench.name}-samples")
    write_shard(root, "runs", [run_row(run_id, status="complete", **run)], name=f"{run_id}-1complete")
    if ingest:
        from ctxbench.store.ingest import ingest as do_ingest

        do_ingest(root, progress=False)
    n = len(rows)
    mean = sum(r["score"] for r in rows) / n if n else float("nan")
    return EvalReport(run_id, ckpt_id, [BenchResult(bench.name, n, n_correct, n_fail, n_err, n, mean)])


__all__ = [
    "ALIASES",
    "CUSTOM_NAME_OK",
    "VLMEVAL_NAMES",
    "BridgeJob",
    "benchmark_for",
    "check_data",
    "find_pred_file",
    "ingest_predictions",
    "make_job",
    "model_name_for",
    "read_predictions",
    "read_verdicts",
    "require_vlmeval",
    "run_vlmeval",
    "runner_command",
    "runner_env",
    "stage_data",
    "vlmeval_dataset",
    "write_job",
]
