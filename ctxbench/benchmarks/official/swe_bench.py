"""SWE-bench Verified and Lite, read from the user's copy of the official instance files.

Why this shape: a SWE-bench result is only comparable with published numbers when the patch is scored
by the official `swebench` harness (each instance's tests in its Docker image). So ctxbench never
re-implements that scoring. It offers two ways in:
- run: `ctxbench.envs.swe.agent` produces a patch per instance on a local checkout (CLI `ctxbench swe-bench
  run`, driver ctxbench.eval.swe); scoring then calls the official harness, which needs Docker
  (detected; a clear error otherwise);
- import: `import_predictions(preds.jsonl, report)` (CLI `ctxbench swe-bench import`) turns a
  predictions file plus the harness's report (the `<model>.<run_id>.json` summary and/or per-instance
  `report.json` files) into per-instance rows, so runs scored elsewhere (a cluster with Docker) land in
  the same store and statistics.
The resolve rate is resolved / total instances of the dataset (500 Verified, 300 Lite), as published.

The verdict is the harness's own, so the official and semantic verdicts are one. Reports are read as
`swebench.harness.reporting.make_run_report` (swebench 5.0.2) reads them: a prediction with an empty
patch is `empty_patch`; a per-instance `logs/run_evaluation/<run>/<model>/<instance>/report.json` that
is empty, not JSON, or lacks the instance or its "resolved" key makes the instance an `error`;
"resolved" counts when it is truthy. One labelling difference, never a verdict one: a prediction with
no report at all is `not_evaluated` here (unresolved), where make_run_report, looking at its own log
folder, says `empty_patch` or `error`.

Changelog: 2: an empty or unreadable per-instance report.json, or one without the instance's
"resolved" key, counts as an error instance instead of failing the import; "resolved" is read by
truthiness; a report never resolves an empty patch; the official verdict is declared (official_scorer).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from ctxbench.benchmarks import register
from ctxbench.benchmarks.base import (
    Benchmark,
    DataStatus,
    GenSpec,
    Item,
    LoadContext,
    Score,
    Verdicts,
    spread_subset,
    text,
)
from ctxbench.benchmarks.official.source import OfficialSource
from ctxbench.core.errors import CtxbenchError, DataError

COLUMNS = ("instance_id", "repo", "base_commit", "problem_statement", "patch", "test_patch",
           "FAIL_TO_PASS", "PASS_TO_PASS")


def _source(bench: str, hf: str, n: int) -> OfficialSource:
    return OfficialSource(
        bench=bench,
        expected=f"the {hf} test split ({n} instances): data/test-00000-of-00001.parquet, or a .jsonl/.json export",
        obtain=f"https://huggingface.co/datasets/{hf}, e.g. `huggingface-cli download {hf} --repo-type dataset "
               f"--local-dir DIR` and pass DIR",
    )


def _list(v, where: str, key: str) -> list[str]:
    if isinstance(v, str):
        try:
            v = json.loads(v)
        except json.JSONDecodeError:
            raise DataError(f"{where}: {key} is not a JSON list") from None
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise DataError(f"{where}: {key} must be a list of test names")
    return v


def instance_file(path: Path, src: OfficialSource) -> Path:
    if path.is_file():
        return path
    for pattern in ("data/test-*.parquet", "test-*.parquet", "*.parquet", "*.jsonl", "*.json"):
        hits = sorted(path.glob(pattern))
        if len(hits) == 1:
            return hits[0]
        if len(hits) > 1:
            raise DataError(f"{path}: several files match {pattern} ({', '.join(h.name for h in hits)}); "
                            f"pass the test-split file itself")
    raise DataError(f"{path}: no instance file found. {src.hint()}")


def read_instances(path: Path, src: OfficialSource) -> list[dict]:
    from ctxbench.sources.datafiles import read_records

    f = instance_file(path, src)
    rows = read_records(f, required=COLUMNS, id_col="instance_id")
    for i, r in enumerate(rows, 1):
        where = f"{f}: row {i} ({r['instance_id']})"
        r["FAIL_TO_PASS"] = _list(r["FAIL_TO_PASS"], where, "FAIL_TO_PASS")
        r["PASS_TO_PASS"] = _list(r["PASS_TO_PASS"], where, "PASS_TO_PASS")
    return rows


def extract_patch(completion: str | None) -> str:
    """The patch in a completion: an agent submission is a bare diff; a single-shot reply may wrap it
    in a ```diff block or put prose before the first `diff --git`."""
    c = completion or ""
    m = re.search(r"```(?:diff|patch)\s*\n(.*?)```", c, re.DOTALL)
    if m:
        return m.group(1)
    i = c.find("diff --git")
    return c[i:] if i > 0 else c


# ------------------------------------------------------------------------------------------ harness


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def require_harness() -> None:
    """Raise a clear error unless the official harness can run here (Docker daemon + swebench)."""
    if not docker_available():
        raise CtxbenchError("SWE-bench scoring runs the official swebench harness, which needs a running Docker "
                            "daemon (none found: `docker info` failed). Score the predictions on a machine with "
                            "Docker (python -m swebench.harness.run_evaluation ...) and import the report with "
                            "`ctxbench swe-bench import --preds PREDS --report REPORT` "
                            "(ctxbench.benchmarks.official.swe_bench.import_predictions).")
    import importlib.util

    if importlib.util.find_spec("swebench") is None:
        raise CtxbenchError("SWE-bench scoring needs the official harness: pip install swebench")


def run_official_harness(predictions: Path, dataset: Path, run_id: str, workdir: Path,
                         instance_ids: list[str] | None = None, max_workers: int = 4) -> Path:
    """Run `swebench.harness.run_evaluation` on a predictions JSONL against a local dataset file
    (JSON/JSONL, as the harness accepts). Returns the path of its summary report."""
    require_harness()
    preds = [json.loads(ln) for ln in Path(predictions).read_text(encoding="utf-8").splitlines() if ln.strip()]
    if not preds:
        raise DataError(f"{predictions}: no predictions")
    cmd = [sys.executable, "-m", "swebench.harness.run_evaluation", "--dataset_name", str(dataset),
           "--predictions_path", str(predictions), "--run_id", run_id, "--max_workers", str(max_workers)]
    if instance_ids:
        cmd += ["--instance_ids", *instance_ids]
    res = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, check=False)
    report = Path(workdir) / f"{preds[0]['model_name_or_path'].replace('/', '__')}.{run_id}.json"
    if res.returncode != 0 or not report.exists():
        raise CtxbenchError(f"swebench harness failed (exit {res.returncode}): {res.stderr[-2000:]}")
    return report


# ------------------------------------------------------------------------------------------ import


def _read_preds(path: Path) -> dict[str, dict]:
    out: dict[str, dict] = {}
    text_ = Path(path).read_text(encoding="utf-8")
    rows = json.loads(text_) if text_.lstrip().startswith("[") else \
        [json.loads(ln) for ln in text_.splitlines() if ln.strip()]
    for i, r in enumerate(rows, 1):
        missing = [k for k in ("instance_id", "model_name_or_path", "model_patch") if k not in r]
        if missing:
            raise DataError(f"{path}:{i}: missing {', '.join(missing)}")
        if r["instance_id"] in out:
            raise DataError(f"{path}:{i}: duplicate instance_id {r['instance_id']!r}")
        out[r["instance_id"]] = r
    if not out:
        raise DataError(f"{path}: no predictions")
    return out


def _report_files(report) -> list[Path]:
    paths = [report] if isinstance(report, (str, Path)) else list(report)
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files += sorted(p.rglob("report.json"))
        elif p.exists():
            files.append(p)
        else:
            raise DataError(f"{p}: report not found")
    if not files:
        raise DataError(f"{report}: no report files (expected <model>.<run_id>.json or .../report.json)")
    return files


def _harness_status(f: Path, text_: str, iid: str) -> str:
    """make_run_report's reading of the report.json of instance `iid`: 'error' when the file is empty
    (whitespace only), not JSON, or has no `[iid]["resolved"]`; else resolved when that is truthy. A
    document the harness itself would crash on (a list, null, a non-object entry) is a DataError."""
    content = text_.strip()
    if not content:
        return "error"
    try:
        data = json.loads(content)
    except json.JSONDecodeError:
        return "error"
    try:
        return "resolved" if data[iid]["resolved"] else "unresolved"
    except KeyError:
        return "error"
    except TypeError:
        raise DataError(f"{f}: not a swebench report (expected {{{iid!r}: {{\"resolved\": ...}}}}); "
                        f"the harness's make_run_report would fail on it too") from None


def read_report(report, instance_ids=None) -> tuple[dict[str, str], int | None]:
    """Status per instance ('resolved' | 'unresolved' | 'error' | 'empty_patch' | 'incomplete') from
    summary and/or per-instance reports, plus the summary's total_instances when present.

    A file named report.json in a folder named after an instance (in `instance_ids`, when given) is
    read the way the harness reads it (`_harness_status`); other files must be a summary or an
    {instance_id: {"resolved": ...}} mapping."""
    status: dict[str, str] = {}
    total = None
    ids = set(instance_ids) if instance_ids is not None else None

    def put(iid: str, st: str, f: Path):
        prev = status.get(iid)
        if prev is not None and prev != st and {prev, st} != {"unresolved", "error"}:
            raise DataError(f"{f}: {iid} is {st!r} here but {prev!r} in another report")
        if prev is None or st == "resolved":
            status[iid] = st

    for f in _report_files(report):
        raw = f.read_text(encoding="utf-8")
        iid = f.parent.name
        harness = f.name == "report.json" and (ids is None or iid in ids)
        try:
            data = json.loads(raw) if raw.strip() or not harness else None
        except json.JSONDecodeError as e:
            if not harness:
                raise DataError(f"{f}:{e.lineno}: invalid JSON: {e.msg}") from None
            data = None
        if harness and (data is None or ids is not None or (isinstance(data, dict) and iid in data)):
            put(iid, _harness_status(f, raw, iid), f)
            continue
        if not isinstance(data, dict):
            raise DataError(f"{f}: expected a JSON object")
        if "resolved_ids" in data:  # summary <model>.<run_id>.json
            total = data.get("total_instances", total)
            for key, st in (("resolved_ids", "resolved"), ("unresolved_ids", "unresolved"),
                            ("error_ids", "error"), ("empty_patch_ids", "empty_patch"),
                            ("incomplete_ids", "incomplete")):
                for iid in data.get(key, []):
                    put(iid, st, f)
            continue
        for iid, rep in data.items():  # per-instance report.json: {iid: {"resolved": bool, ...}}
            if not isinstance(rep, dict) or "resolved" not in rep:
                raise DataError(f"{f}: {iid!r} has no 'resolved' flag (not a swebench report)")
            put(iid, "resolved" if rep["resolved"] else "unresolved", f)
    return status, total


def import_predictions(preds_jsonl, report_json, benchmark: str = "swe-bench-verified") -> list[dict]:
    """Per-instance rows from a predictions file and the official harness report(s):
    {benchmark, item_id, model, output (the patch), correct (resolved), score, status}. Predictions the
    harness did not evaluate get status 'not_evaluated' and count as unresolved. As in make_run_report,
    an empty patch is never resolved: a (stale) report for one gives 'empty_patch'."""
    preds = _read_preds(Path(preds_jsonl))
    status, _total = read_report(report_json, instance_ids=preds)
    stray = sorted(set(status) - set(preds))
    stray = [s for s in stray if status[s] != "incomplete"]
    if stray:
        raise DataError(f"{report_json}: reports instances absent from {preds_jsonl}: {', '.join(stray[:5])}"
                        f"{' ...' if len(stray) > 5 else ''} (mismatched files?)")
    rows = []
    for iid in sorted(preds):
        p = preds[iid]
        st = status.get(iid, "not_evaluated")
        if p["model_patch"] in ("", None) and iid in status:
            st = "empty_patch"  # make_run_report looks no further than the patch
        elif st == "incomplete":
            st = "not_evaluated"
        ok = st == "resolved"
        rows.append({"benchmark": benchmark, "item_id": iid, "model": p["model_name_or_path"],
                     "output": p["model_patch"] or "", "correct": ok, "score": 1.0 if ok else 0.0, "status": st})
    return rows


def resolve_rate(rows: list[dict], total: int | None = None) -> float:
    """Resolved / total. Pass the dataset size (500 Verified, 300 Lite) for the published definition;
    by default the number of rows (the submitted instances)."""
    n = total if total is not None else len(rows)
    if n <= 0:
        raise DataError("resolve_rate: no instances")
    return sum(1 for r in rows if r["correct"]) / n


# ------------------------------------------------------------------------------------------ benchmarks


class _SweBench(Benchmark):
    version = "2"
    official_scorer = ("swebench 5.0.2: swebench/harness/reporting.py make_run_report "
                       "(+ harness/grading.py get_eval_report)")
    family = "long-horizon"
    source = "official-file"
    gen = GenSpec(mode="generate", max_new_tokens=4096)
    SRC: OfficialSource
    N: int

    def data_status(self) -> DataStatus:
        return self.SRC.status()

    def load(self, ctx: LoadContext, limit: int | None = None) -> list[Item]:
        from ctxbench.envs.swe.agent import INSTANCE_TEMPLATE, SUBMIT_COMMAND, SYSTEM_TEMPLATE

        self._path = self.SRC.locate(ctx.data_path)
        rows = read_instances(self._path, self.SRC)
        items = [Item(
            item_id=r["instance_id"],
            prompt=(text(INSTANCE_TEMPLATE.format(task=r["problem_statement"], submit=SUBMIT_COMMAND)),),
            answer=r["patch"],
            meta={"repo": r["repo"], "base_commit": r["base_commit"], "version": str(r.get("version", "")),
                  "FAIL_TO_PASS": r["FAIL_TO_PASS"], "PASS_TO_PASS": r["PASS_TO_PASS"],
                  "system_prompt": SYSTEM_TEMPLATE, "agentic": True, "group": r["repo"]},
        ) for r in rows]
        items.sort(key=lambda it: it.item_id)
        return spread_subset(items, limit)

    def score(self, item: Item, completion: str) -> Score:
        """Score a patch with the official harness (Docker required; see import_predictions otherwise)."""
        require_harness()
        patch = extract_patch(completion)
        if not patch.strip():
            return Score(extracted=None, correct=False, score=0.0, parse_ok=False)
        with tempfile.TemporaryDirectory(prefix="ctxbench-swebench-") as tmp:
            tmp = Path(tmp)
            preds = tmp / "preds.jsonl"
            preds.write_text(json.dumps({"instance_id": item.item_id, "model_name_or_path": "ctxbench",
                                         "model_patch": patch}) + "\n", encoding="utf-8")
            f = instance_file(getattr(self, "_path", None) or self.SRC.locate(), self.SRC)
            if f.suffix == ".parquet":  # the harness reads local .json/.jsonl datasets
                rows = read_instances(f, self.SRC)
                f = tmp / "dataset.jsonl"
                f.write_text("".join(json.dumps(r, default=str) + "\n" for r in rows), encoding="utf-8")
            report = run_official_harness(preds, f, "ctxbench", tmp, [item.item_id], max_workers=1)
            ok = read_report(report)[0].get(item.item_id) == "resolved"
        return Score(extracted=patch, correct=ok, score=1.0 if ok else 0.0, parse_ok=True)

    def score_official(self, item: Item, completion: str) -> tuple[Score, str]:
        """The harness's verdict, which `score` already is."""
        return self.score(item, completion), "official"

    def verdicts(self, item: Item, completion: str, mode: str = "generate") -> Verdicts:
        """One harness run serves both verdicts (they are the same)."""
        s = self.score(item, completion)
        return Verdicts(semantic=s, official=s, mode="official")


@register
class SweBenchVerified(_SweBench):
    name = "swe-bench-verified"
    N = 500
    SRC = _source(name, "princeton-nlp/SWE-bench_Verified", N)


@register
class SweBenchLite(_SweBench):
    name = "swe-bench-lite"
    N = 300
    SRC = _source(name, "princeton-nlp/SWE-bench_Lite", N)


__all__ = [
    "COLUMNS",
    "SweBenchLite",
    "SweBenchVerified",
    "docker_available",
    "extract_patch",
    "import_predictions",
    "read_instances",
    "read_report",
    "require_harness",
    "resolve_rate",
    "run_official_harness",
]
