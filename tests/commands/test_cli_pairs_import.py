"""`ctxbench pairs import`: the released files become pairs in the store like `pairs build`, the counts are
printed, a spec names such a file as its pairs (validated, and imported by run-ablation's pairs job)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from cli_fixture import cli, db_rows

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pairs"))  # the released-format writers
from released_fixtures import mixed_rows, write_ct_jsonl, write_mixed_parquet

from ctxbench.pairs.base import load_pairs


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CTXBENCH_CACHE", str(tmp_path / "cache"))


def test_import_agentic_writes_pairs_and_store_rows(tmp_path):
    root, ct = tmp_path / "runs", write_ct_jsonl(tmp_path / "eval_prompts.jsonl", 6)
    rc, out, err = cli("--root", str(root), "pairs", "import", str(ct), "--prefill", "The correct option is")
    assert rc == 0, err
    first, = out.splitlines()
    assert first.startswith("contextrl-agentic: 6 pairs (6 train, 0 held-out) -> ") and "released-contextrl-agentic-" in first
    pairs = load_pairs(first.rsplit(" -> ", 1)[1])
    assert len(pairs) == 6 and all(p.verbatim and p.prefill == "The correct option is" for p in pairs)
    assert db_rows(root, "SELECT count(*), min(domain) FROM pairs") == [(6, "trajectory")]
    assert db_rows(root, "SELECT name, status FROM runs WHERE kind = 'pairs'") == [
        ("pairs/released-contextrl-agentic", "complete")]
    again = cli("--root", str(root), "pairs", "import", str(ct), "--prefill", "The correct option is", "--no-ingest")
    assert again[0] == 0 and again[1] == out  # the same bytes and config: the finished import is reused


def test_import_easyr1_counts_pairs_and_grpo_rows(tmp_path):
    folder = tmp_path / "ContextRL_Multimodal"
    write_mixed_parquet(folder / "data" / "train-00000-of-00001.parquet", mixed_rows(8, 3))
    out_dir = tmp_path / "imported"
    rc, out, err = cli("--root", str(tmp_path / "runs"), "pairs", "import", str(folder), "--out", str(out_dir),
                       "--heldout-frac", "0.5", "--no-ingest")
    assert rc == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("easyr1: 3 pairs (") and lines[0].endswith(f"-> {out_dir / 'pairs.jsonl'}")
    assert lines[1] == "8 QA rows for GRPO in the same data (the easyr1-qa task reads them)"
    assert all(p.has_parts for p in load_pairs(out_dir / "pairs.jsonl"))


def test_errors_are_one_line(tmp_path):
    ct = write_ct_jsonl(tmp_path / "ct.jsonl", 2)
    rc, _, err = cli("--root", str(tmp_path / "runs"), "pairs", "import", str(ct), "--format", "easyr1")
    assert rc != 0 and "ct.jsonl:row 1: missing column(s) answer" in err
    rc, _, err = cli("--root", str(tmp_path / "runs"), "pairs", "import", str(tmp_path / "none.jsonl"))
    assert rc != 0 and "none.jsonl: not found" in err


SPEC = """
name = "released-pairs"
arms = ["grpo", "contextrl"]
seeds = [0]
model = "tiny"

[pairs]
file = "{file}"
format = "contextrl-agentic"
{extra}

[train]
recipe = "tiny"

[train.data]
tasks = ["niah"]

[eval]
suite = ""
benchmarks = ["niah"]
"""


def test_a_spec_names_a_released_file_as_its_pairs(tmp_path):
    from ctxbench.ablation.jobs import JobRunner
    from ctxbench.ablation.runner import build_jobs
    from ctxbench.ablation.spec import load_spec

    ct = write_ct_jsonl(tmp_path / "ct.jsonl", 4)
    spec_path = tmp_path / "spec.toml"
    spec_path.write_text(SPEC.format(file=ct, extra="heldout_frac = 0.0"))
    assert cli("validate", str(spec_path))[0] == 0
    spec = load_spec(spec_path)
    _, handles = build_jobs(spec)
    job = handles["pairs"]
    assert job.label == "import released pairs" and all(job in j.deps for j in handles["train"].values())
    out = JobRunner(tmp_path / "runs", progress=False).run([job])[job.key]
    assert out["n_train"] == 4 and out["n_test"] == 0 and len(load_pairs(out["path"])) == 4
    write_ct_jsonl(ct, 5)  # a new copy of the file is a new job (and a new import)
    assert build_jobs(load_spec(spec_path))[1]["pairs"].key != job.key
    spec_path.write_text(SPEC.format(file=ct, extra='domain = "image"'))
    rc, out, _ = cli("validate", str(spec_path))  # a released file takes the reader's keys only
    assert rc != 0 and "unknown config key 'domain' (did you mean 'format'?)" in out
