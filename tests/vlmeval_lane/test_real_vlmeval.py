"""The VLMEvalKit bridge against the real `ms-vlmeval==0.0.20`, on CPU, with the tiny-vlm checkpoint.

Runs in its own lane (.ci/vlmeval-lane: a third virtualenv with ms-vlmeval and what its import needs).
In the main lane vlmeval is absent and the module skips; with CTXBENCH_REQUIRE_VLMEVAL=1 (the lane sets
it) a missing vlmeval is a failure. The parent process never imports vlmeval (it turns TLS verification
off process-wide); only the bridge's runner subprocess does.

What runs: a TSV in VLMEvalKit's schema is generated here (six image MCQ rows, PNG and JPEG images, one
row reusing another's image by index), VLMEvalKit builds it as its CustomMCQDataset, runs its own
inference loop with ctxbench's tiny-vlm wrapped as a VLMEvalKit model, then its own MCQ evaluation under
`exact_matching`; the bridge ingests the predictions item by item and ctxbench's verdicts are compared
with the `hit` VLMEvalKit wrote. A second run resumes from a prediction file written beforehand with
replies chosen to hit VLMEvalKit's extraction quirks, so the comparison covers hits, misses and 'Z'.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import ssl
import sys
from pathlib import Path

import pytest

if importlib.util.find_spec("vlmeval") is None:
    if os.environ.get("CTXBENCH_REQUIRE_VLMEVAL") == "1":
        raise RuntimeError("CTXBENCH_REQUIRE_VLMEVAL=1 but vlmeval (ms-vlmeval) is not installed in "
                           f"{sys.prefix}: the VLMEvalKit lane's install failed")
    pytest.skip("vlmeval (ms-vlmeval) is not installed: .ci/vlmeval-lane runs this", allow_module_level=True)

import pandas as pd

from ctxbench.core.errors import DataError
from ctxbench.integrations.vlmeval import bridge as vb
from ctxbench.store.read import connect_readonly

sys.path.insert(0, str(Path(__file__).parent))
from vlmeval_tsv import CRAFTED, ROWS, write_tsv

NAME = "ctxbench_tinymcq"  # not an official VLMEvalKit name: $LMUData/<NAME>.tsv read as CustomMCQDataset


def stored(root: Path) -> dict[str, tuple]:
    con = connect_readonly(root)
    try:
        rows = con.execute("select item_id, correct, verdict, output from samples").fetchall()
    finally:
        con.close()
    return {r[0]: r[1:] for r in rows}


def run_and_ingest(folder: Path, root: Path) -> tuple[dict, object]:
    job = vb.make_job("MMStar", "tiny-vlm", str(folder), root / "vlmeval", max_new_tokens=8,
                      vlmeval_name=NAME)
    before = ssl._create_default_https_context
    result = vb.run_vlmeval(job, timeout=900)
    assert ssl._create_default_https_context is before and "vlmeval" not in sys.modules
    report = vb.ingest_predictions(result["pred_file"], "MMStar", root, data_path=str(folder),
                                   ckpt_id=result["ckpt_id"], model="tiny-vlm",
                                   gen_info={"dataset": job.dataset, "max_new_tokens": job.max_new_tokens,
                                             **{k: result[k] for k in ("vlmeval", "torchvision")}})
    return job, result, report


def test_tiny_vlm_through_vlmevalkit_ingested_item_by_item(tmp_path, root):
    folder = tmp_path / "data"
    write_tsv(folder)
    job, result, report = run_and_ingest(folder, root)
    print(f"\nms-vlmeval {result['vlmeval']} (torchvision: {result['torchvision']}): "
          f"{result['n_items']} items, prediction file {Path(result['pred_file']).name}")
    assert result["vlmeval"] == "0.0.20" and result["n_items"] == len(ROWS)
    assert result["torchvision"] in ("native", "python-only")
    pred_file = Path(result["pred_file"])
    assert pred_file.name == f"ctxbench-tiny-vlm_{NAME}.tsv"
    with open(pred_file, encoding="utf-8", newline="") as f:
        header = next(csv.reader(f, delimiter="\t"))
    assert "prediction" in header and "image" not in header  # VLMEvalKit's own prediction file
    # VLMEvalKit dumped every row's image (row 2's from row 0's cell) into the staging folder, not the data's
    dumped = sorted(p.stem for p in (Path(job.lmu_data) / "images" / NAME).iterdir())
    assert dumped == sorted(str(r["index"]) for r in ROWS)
    assert sorted(p.name for p in folder.iterdir()) == ["MMStar.tsv"]
    preds = vb.read_predictions(pred_file)
    # one store row per item, keyed by the TSV's index, holding exactly what VLMEvalKit recorded
    rows = stored(root)
    assert sorted(rows) == sorted(str(r["index"]) for r in ROWS) == sorted(preds)
    assert all(rows[k][2] == preds[k] for k in rows)
    assert report.results[0].n == len(ROWS)
    # ctxbench's official verdicts (no judge: 'official-rule') equal VLMEvalKit's exact-matching evaluation
    theirs = vb.read_verdicts(result["eval_file"])
    ours = {k: bool(v[0]) for k, v in rows.items()}
    print(f"VLMEvalKit evaluate vs ctxbench: {sum(ours[k] == theirs[k] for k in ours)}/{len(ours)} verdicts "
          f"agree; tiny-vlm replies: {sorted(set(preds.values()))[:3]}")
    assert ours == theirs
    assert {v[1] for v in rows.values()} <= {"official", "official-rule"}


def test_resumed_run_and_vlmevalkit_quirks_agree_with_ctxbench(tmp_path, root):
    """A prediction file already in the work dir is what VLMEvalKit resumes from: nothing is generated,
    its evaluation grades the crafted replies, and ctxbench's verdicts must match on each."""
    folder = tmp_path / "data"
    write_tsv(folder)
    job = vb.make_job("MMStar", "tiny-vlm", str(folder), root / "vlmeval", max_new_tokens=8,
                      vlmeval_name=NAME)
    seeded = pd.DataFrame(ROWS).drop(columns=["image"])
    seeded["prediction"] = [CRAFTED[i] for i in seeded["index"]]
    Path(job.work_dir).mkdir(parents=True)
    seeded.to_csv(str(job.pred_stem()) + ".tsv", sep="\t", index=False, quoting=csv.QUOTE_ALL)
    _, result, _ = run_and_ingest(folder, root)
    assert vb.read_predictions(result["pred_file"]) == {str(k): v for k, v in CRAFTED.items()}  # reused as is
    theirs = vb.read_verdicts(result["eval_file"])
    assert theirs == {"0": True, "1": True, "2": False, "3": False, "4": False, "5": False}
    ours = {k: bool(v[0]) for k, v in stored(root).items()}
    print(f"\ncrafted replies: VLMEvalKit hit {sum(theirs.values())}/{len(theirs)}, ctxbench agrees on "
          f"{sum(ours[k] == theirs[k] for k in ours)}/{len(ours)}")
    assert ours == theirs


@pytest.mark.parametrize("breakage, message", [
    (lambda rows: [{k: v for k, v in r.items() if k != "answer"} for r in rows],
     r"missing column\(s\) answer"),
    (lambda rows: [{**r, "image": "not base64 at all" * 8} if r["index"] == 3 else r for r in rows],
     r"MMStar\.tsv:\d+ \(index 3\): not an image"),
    (lambda rows: [{**r, "answer": "E"} if r["index"] == 1 else r for r in rows],
     r"answer 'E' is not one of"),
])
def test_bad_tsv_is_a_one_line_error_before_vlmevalkit_starts(tmp_path, root, breakage, message):
    folder = tmp_path / "data"
    write_tsv(folder, breakage(ROWS))
    job = vb.make_job("MMStar", "tiny-vlm", str(folder), root / "vlmeval", vlmeval_name=NAME)
    with pytest.raises(DataError, match=message) as err:
        vb.run_vlmeval(job, timeout=900)
    assert "\n" not in str(err.value) and "MMStar.tsv" in str(err.value)
    assert not (root / "vlmeval").exists()  # no job file, no staging, no subprocess
