"""Import a published results table (aggregate scores, no item rows) into the store.

Why: the paper's claims rest on its tables (e.g. GRPO vs ContextRL vs DA baselines per benchmark and
base model). Imported as runs of kind "import" with their scores in `aggregates`, a published table
sits beside one's own ablation runs and the same code (ctxbench.stats.arms.paper_headline, the report's
"published tables" section) recomputes its per-benchmark deltas and its headline average the paper's
way, so a reader can check the published headline and compare it with a reproduction.

CSV format (header required, one score per line):

    model,arm,benchmark,score[,n_items][,family]
    Qwen3-8B,grpo,swe-bench-verified,38.2,500,long-horizon

`family` names the table a row belongs to when one file holds several (the paper's long-horizon and
VQA tables are two headlines). Without it the report splits a file into the groups of models that
share benchmarks (ctxbench.stats.published.families).

Strict: an unknown or missing column, an empty field, a non-numeric or non-finite score, a bad
n_items or a repeated (model, arm, benchmark) within a family is a DataError naming `file:line`;
`family` is either given on every row or on none.

Layout in the store: one run per (family, model, arm), `runs.ablation = NAME` (default: the file's
stem), `runs.arm = arm`, `runs.name = NAME/model/arm` (with a family: `NAME/family/model/arm`; a '/'
inside a part is written ':'), `runs.config_json.family`, `runs.config_hash` = the table's content
hash; one `aggregates` row per score. Rows are written as shards (deterministic names, so a re-import replaces
the same files) and folded in by `ingest`, the only database writer. Re-importing the same content
adds nothing; importing different content under a NAME that already holds an import is an error
unless `replace=True`, which removes the old import's shards and rebuilds the database from shards
(ingest cannot delete rows whose keys vanished, and a stale published row must not survive).
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import re
from dataclasses import dataclass
from pathlib import Path

from ctxbench.core.errors import DataError, did_you_mean
from ctxbench.core.hashing import file_sha256, stable_hash

REQUIRED = ("model", "arm", "benchmark", "score")
OPTIONAL = ("n_items", "family")
KIND = "import"


@dataclass(frozen=True)
class PublishedScore:
    model: str
    arm: str
    benchmark: str
    score: float
    n_items: int | None
    line: int
    family: str | None = None


@dataclass
class ImportResult:
    name: str
    path: Path
    rows: list[PublishedScore]
    run_ids: dict[tuple, str]             # (model, arm) or, with families, (family, model, arm) -> run id
    content_hash: str
    status: str                           # "imported", "unchanged" or "replaced"
    ingested: dict[str, int] | None = None

    @property
    def models(self) -> list[str]:
        return list(dict.fromkeys(r.model for r in self.rows))

    @property
    def arms(self) -> list[str]:
        return list(dict.fromkeys(r.arm for r in self.rows))

    @property
    def benchmarks(self) -> list[str]:
        return list(dict.fromkeys(r.benchmark for r in self.rows))

    @property
    def families(self) -> list[str]:
        return list(dict.fromkeys(r.family for r in self.rows if r.family))

    def frame(self):
        import pandas as pd

        return pd.DataFrame([{"model": r.model, "arm": r.arm, "benchmark": r.benchmark, "score": r.score,
                              "n_items": r.n_items, "family": r.family or ""} for r in self.rows])


# ------------------------------------------------------------------------------------------ parsing

def _number(raw: str, where: str, what: str) -> float:
    try:
        v = float(raw)
    except ValueError:
        raise DataError(f"{where}: {what} {raw!r} is not a number") from None
    if not math.isfinite(v):
        raise DataError(f"{where}: {what} {raw!r} is not a finite number")
    return v


def parse_table(path: str | Path) -> list[PublishedScore]:
    """The scores of a published-table CSV, strictly checked (errors name file:line)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"published table not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")  # a BOM from spreadsheet exports is not part of a name
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e})") from None
    reader = csv.reader(text.splitlines(keepends=True))
    header: list[str] | None = None
    rows: list[PublishedScore] = []
    seen: dict[tuple, int] = {}
    for rec in reader:
        line = reader.line_num
        if not rec or all(not c.strip() for c in rec):
            continue
        cells = [c.strip() for c in rec]
        if header is None:
            header = [c.lower() for c in cells]
            allowed = REQUIRED + OPTIONAL
            for c in header:
                if c not in allowed:
                    raise DataError(f"{path}:{line}: unknown column {c!r}{did_you_mean(c, allowed)}")
            dup = sorted({c for c in header if header.count(c) > 1})
            if dup:
                raise DataError(f"{path}:{line}: column {dup[0]!r} appears twice")
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                raise DataError(f"{path}:{line}: missing column(s) {', '.join(missing)}; the header must be "
                                f"{','.join(REQUIRED)}[,n_items][,family]")
            continue
        where = f"{path}:{line}"
        if len(cells) != len(header):
            raise DataError(f"{where}: {len(cells)} fields, the header has {len(header)} ({','.join(header)})")
        rec_d = dict(zip(header, cells))
        for c in REQUIRED:
            if not rec_d[c]:
                raise DataError(f"{where}: empty {c}")
        score = _number(rec_d["score"], where, "score")
        n_items = None
        if rec_d.get("n_items"):
            n = _number(rec_d["n_items"], where, "n_items")
            if n < 0 or n != int(n):
                raise DataError(f"{where}: n_items {rec_d['n_items']!r} is not a non-negative whole number")
            n_items = int(n)
        family = rec_d.get("family") or None
        if "family" in header and family is None and rows and any(r.family for r in rows):
            raise DataError(f"{where}: empty family (give every row a family, or none)")
        if family is not None and rows and not any(r.family for r in rows):
            raise DataError(f"{where}: family {family!r} on a table whose earlier rows have none "
                            "(give every row a family, or none)")
        key = (rec_d["model"], rec_d["arm"], rec_d["benchmark"])
        fkey = (family, *key)
        if fkey in seen:
            fam = f"family {family!r}, " if family else ""
            raise DataError(f"{where}: {fam}model {key[0]!r}, arm {key[1]!r}, benchmark {key[2]!r} already has a "
                            f"score on line {seen[fkey]}")
        seen[fkey] = line
        rows.append(PublishedScore(*key, score=score, n_items=n_items, line=line, family=family))
    if header is None:
        raise DataError(f"{path}: empty file; expected a header {','.join(REQUIRED)}[,n_items][,family]")
    if not rows:
        raise DataError(f"{path}: a header but no scores")
    return rows


# ------------------------------------------------------------------------------------------ store

def default_name(path: str | Path) -> str:
    return Path(path).stem


def check_name(name: str) -> str:
    name = name.strip()
    if not name or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+=-]*", name):
        raise DataError(f"import name {name!r}: use letters, digits and . _ + = - (it names the ablation "
                        "the table belongs to and its shard files)")
    return name


def run_id_for(name: str, model: str, arm: str, family: str | None = None) -> str:
    """Stable per (table name, [family,] model, arm): a re-import replaces the same run's rows."""
    key = [name, model, arm] if family is None else [name, family, model, arm]
    return f"import-{name}-{stable_hash(key, 12)}"


def _run_key(r: PublishedScore) -> tuple:
    return (r.model, r.arm) if r.family is None else (r.family, r.model, r.arm)


def run_name(name: str, key: tuple) -> str:
    """NAME/model/arm or NAME/family/model/arm, each part without '/' (the report splits on it)."""
    return "/".join([name, *(str(k).replace("/", ":") for k in key)])


def content_hash(rows: list[PublishedScore]) -> str:
    return stable_hash(sorted((r.model, r.arm, r.benchmark, r.score, r.n_items) + ((r.family,) if r.family else ())
                              for r in rows))


def shard_name(name: str) -> str:
    return f"import-{name}"


def _import_shards(root: Path, name: str) -> list[Path]:
    from ctxbench.store.shards import iter_shards

    suffix = f"--{shard_name(name)}.parquet"
    return [p for t in ("runs", "aggregates") for p in iter_shards(root, t) if p.name.endswith(suffix)]


def existing_import(root: Path, name: str):
    """The runs rows (shards, not the database) of an earlier import under `name`."""
    from ctxbench.store.shards import read_table

    return read_table(root, "runs", {"kind": KIND, "ablation": name})


def import_table(path: str | Path, root, *, name: str | None = None, replace: bool = False,
                 ingest: bool = True) -> ImportResult:
    """Parse `path`, write its runs and aggregates shards under `root` and ingest them."""
    from ctxbench.core.paths import run_root
    from ctxbench.core.versions import lib_versions_json
    from ctxbench.store.ingest import ingest as do_ingest
    from ctxbench.store.ingest import rebuild
    from ctxbench.store.shards import write_shard

    path = Path(path)
    root = Path(run_root(root))
    name = check_name(name if name is not None else default_name(path))
    rows = parse_table(path)
    chash = content_hash(rows)
    run_ids = {_run_key(r): run_id_for(name, r.model, r.arm, r.family) for r in rows}
    res = ImportResult(name, path, rows, run_ids, chash, "imported")

    old = existing_import(root, name)
    if len(old):
        if set(old["config_hash"]) == {chash} and set(old["run_id"]) == set(run_ids.values()):
            res.status = "unchanged"
            res.ingested = do_ingest(root, progress=False) if ingest else None
            return res
        if not replace:
            src = sorted(set(old["name"].dropna().str.split("/").str[0])) or [name]
            raise DataError(f"{path}: the name {name!r} already holds a different imported table "
                            f"({len(old)} runs of {', '.join(src)}); re-import with --replace to swap it, "
                            "or pick another --name")
        for p in _import_shards(root, name):
            p.unlink()
        if len(existing_import(root, name)):
            raise DataError(f"the earlier import {name!r} has rows in shards this importer did not write; "
                            f"remove them under {root / 'shards'} and run `ctxbench ingest --rebuild`")
        res.status = "replaced"

    now = dt.datetime.now(dt.UTC)
    config = {"source": str(path.resolve()), "file_sha256": file_sha256(path), "name": name,
              "columns": list(REQUIRED + OPTIONAL), "n_scores": len(rows)}
    versions = lib_versions_json()
    run_rows = [{
        "run_id": rid, "kind": KIND, "created_at": now, "name": run_name(name, key),
        "model": key[-2], "ckpt_id": None, "arm": key[-1], "seed": None, "ablation": name, "config_hash": chash,
        "config_json": {**config, **({"family": key[0]} if len(key) == 3 else {})}, "lib_versions": versions,
        "status": "complete",
    } for key, rid in run_ids.items()]
    agg_rows = [{"run_id": run_ids[_run_key(r)], "model": r.model, "arm": r.arm, "benchmark": r.benchmark,
                 "score": r.score, "n_items": r.n_items} for r in rows]
    write_shard(root, "runs", run_rows, name=shard_name(name))
    write_shard(root, "aggregates", agg_rows, name=shard_name(name))
    if ingest:
        res.ingested = rebuild(root, progress=False) if res.status == "replaced" else do_ingest(root, progress=False)
    return res
