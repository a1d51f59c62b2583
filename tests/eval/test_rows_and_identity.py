"""One row builder and one key recipe for every writer; checkpoint identity independent of spelling."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))
from fakes import ScriptedBackend  # noqa: E402

from ctxbench.benchmarks.base import Item, Score, text  # noqa: E402
from ctxbench.eval.config import EvalConfig  # noqa: E402
from ctxbench.eval.harness import run_eval  # noqa: E402
from ctxbench.eval.rows import bench_item_row, bench_sample_key, sample_row, scored_fields  # noqa: E402
from ctxbench.models.presets.registry import canonical_spec  # noqa: E402
from ctxbench.store.schema import item_uid, sample_key  # noqa: E402


class _Bench:
    name, version = "toy-recall", "1"


def _item(i: int = 0) -> Item:
    return Item(item_id=f"toy-{i:03d}", prompt=(text(f"x = {i}"),), answer=str(i))


def test_sample_row_key_is_the_schema_recipe_and_matches_the_pending_key():
    it = _item(3)
    row = sample_row(run_id="eval-abc", ckpt_id="c", benchmark="toy-recall", version="1", item_id=it.item_id,
                     prompt_hash=it.prompt_hash, config_hash="h", lib_versions="{}", output="3",
                     **scored_fields(Score("3", True, 1.0, True)))
    uid = item_uid("toy-recall", "1", it.item_id, it.prompt_hash)
    assert row["item_uid"] == uid == bench_item_row(_Bench, it)["item_uid"]
    assert row["key"] == sample_key("eval-abc", uid, 0) == bench_sample_key("eval-abc", _Bench, it)
    # another run, another sample index, another prompt: another key
    assert sample_key("eval-abd", uid, 0) != row["key"] != sample_key("eval-abc", uid, 1)
    assert bench_sample_key("eval-abc", _Bench, _item(4)) != row["key"]


def test_failed_item_fields():
    assert scored_fields(None) == {"extracted": None, "correct": False, "score": 0.0, "parse_ok": False,
                                   "verdict": "semantic", "semantic_extracted": None, "semantic_correct": False,
                                   "semantic_score": 0.0, "semantic_parse_ok": False}


def test_both_verdicts_are_stored_with_the_official_one_of_record():
    from ctxbench.benchmarks.base import Verdicts

    semantic, official = Score("B", True, 1.0, True), Score(None, False, 0.0, False)
    f = scored_fields(Verdicts(semantic, official, "official-rule"))
    assert (f["extracted"], f["correct"], f["verdict"]) == (None, False, "official-rule")
    assert (f["semantic_extracted"], f["semantic_correct"], f["semantic_score"]) == ("B", True, 1.0)
    # a benchmark with no official scorer: the semantic verdict is the record
    g = scored_fields(Verdicts(semantic))
    assert g["correct"] is True and g["verdict"] == "semantic" and g["semantic_correct"] is True


def test_no_writer_builds_sample_keys_by_hand():
    """The bridges and the SWE import use eval.rows (the issue found four recipes in four files)."""
    root = Path(__file__).parents[2] / "ctxbench"
    for rel in ("eval/harness.py", "eval/swe.py", "integrations/lmeval/bridge.py", "integrations/vlmeval/bridge.py"):
        src = (root / rel).read_text(encoding="utf-8")
        assert '"key":' not in src and "'key':" not in src, rel
        assert "sample_row(" in src or "bench_sample_key(" in src, rel


def test_canonical_spec(tmp_path, monkeypatch):
    (tmp_path / "ckpt").mkdir()
    monkeypatch.chdir(tmp_path)
    absolute = "hf:" + str((tmp_path / "ckpt").resolve())
    assert canonical_spec("hf:ckpt") == canonical_spec("hf:./ckpt") == canonical_spec(absolute) == absolute
    assert canonical_spec("ckpt") == absolute  # a bare folder path is a local checkpoint too
    assert canonical_spec("tiny") == "tiny" and canonical_spec("tiny@3") == "tiny@3"


def test_ckpt_spelling_does_not_change_the_run(tmp_path, monkeypatch):
    """`eval --ckpt runs/x` and the same folder as an absolute path are one run: the second computes nothing."""
    from ctxbench.commands.eval import model_spec

    (tmp_path / "work" / "ckpt").mkdir(parents=True)
    root = tmp_path / "runs"
    monkeypatch.chdir(tmp_path / "work")
    rel = model_spec(argparse.Namespace(ckpt="ckpt", model=None))
    first = run_eval(EvalConfig(model="hf:ckpt", benchmarks=("toy-recall",), limit=6), root,
                     backend=ScriptedBackend(), progress=False, ingest=False)
    monkeypatch.chdir(tmp_path)
    absolute = str((tmp_path / "work" / "ckpt").resolve())
    assert model_spec(argparse.Namespace(ckpt=absolute, model=None)) == rel == f"hf:{absolute}"
    second = run_eval(EvalConfig(model=f"hf:{absolute}", benchmarks=("toy-recall",), limit=6), root,
                      backend=ScriptedBackend(), progress=False, ingest=False)
    assert second.run_id == first.run_id
    assert first.results[0].computed == 6 and second.results[0].computed == 0
    os.chdir(tmp_path)
