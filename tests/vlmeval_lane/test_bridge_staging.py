"""The bridge pieces the real-VLMEvalKit lane relies on, checked without vlmeval (so in every lane):
custom dataset names and their staging folder, VLMEvalKit's evaluation record, and the torchvision
compatibility step (in a subprocess: it registers operators process-wide)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ctxbench.core.errors import CtxbenchError, DataError
from ctxbench.integrations.vlmeval import bridge as vb

sys.path.insert(0, str(Path(__file__).parent))
from vlmeval_tsv import ROWS, write_tsv


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setenv("CTXBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LMUData", raising=False)
    write_tsv(tmp_path / "data")
    return tmp_path / "data"


def test_official_name_reads_the_data_folder_as_it_is(folder, tmp_path):
    job = vb.make_job("MMStar", "tiny-vlm", str(folder), tmp_path / "work")
    here = folder.resolve()
    assert (job.dataset, job.lmu_data, job.tsv) == ("MMStar", str(here), str(here / "MMStar.tsv"))
    assert vb.stage_data(job) == folder.resolve() / "MMStar.tsv"
    assert sorted(p.name for p in folder.iterdir()) == ["MMStar.tsv"]  # nothing beside the user's file


def test_custom_name_links_the_tsv_into_a_staging_folder_keyed_by_the_file(folder, tmp_path):
    job = vb.make_job("MMStar", "tiny-vlm", str(folder), tmp_path / "work", vlmeval_name="my_subset")
    assert job.dataset == "my_subset"
    assert Path(job.lmu_data).parent == (tmp_path / "work" / "lmudata").resolve()
    assert job.pred_stem().name == "ctxbench-tiny-vlm_my_subset"
    link = vb.stage_data(job)
    assert link == Path(job.lmu_data) / "my_subset.tsv" and link.is_symlink()
    assert link.read_bytes() == (folder / "MMStar.tsv").read_bytes()
    assert vb.stage_data(job) == link  # idempotent
    assert vb.runner_env(job, base={})["LMUData"] == job.lmu_data
    # a rewritten file gets a fresh folder: images VLMEvalKit dumped for the old one are never reused
    write_tsv(folder, ROWS[:3])
    os.utime(folder / "MMStar.tsv", ns=(1, 1))
    again = vb.make_job("MMStar", "tiny-vlm", str(folder), tmp_path / "work", vlmeval_name="my_subset")
    assert again.lmu_data != job.lmu_data
    # the name that is the file's own stem is the plain case
    own = vb.make_job("MMStar", "tiny-vlm", str(folder), tmp_path / "w", vlmeval_name="MMStar")
    assert (own.dataset, own.lmu_data) == ("MMStar", str(folder.resolve()))
    with pytest.raises(CtxbenchError, match=r"VLMEvalKit dataset name '\.\./x'.*becomes a file name"):
        vb.make_job("MMStar", "tiny-vlm", str(folder), tmp_path / "work", vlmeval_name="../x")


def test_check_data_counts_items_and_names_the_bad_line(folder, tmp_path):
    job = vb.make_job("MMStar", "tiny-vlm", str(folder), tmp_path / "work", vlmeval_name="s")
    assert vb.check_data(job) == len(ROWS)
    write_tsv(folder, [{**r, "answer": "Q"} if r["index"] == 4 else r for r in ROWS])
    with pytest.raises(DataError, match=r"MMStar\.tsv:\d+.*answer 'Q' is not one of the options A, B, C"):
        vb.check_data(job)


def test_read_verdicts_of_an_evaluation_record(tmp_path):
    rec = tmp_path / "m_d_exact_matching_result.tsv"
    pd.DataFrame({"index": [0, 1, 2], "prediction": ["A", "x", "B"], "hit": [1, 0, 1],
                  "log": ["Match Log: A. "] * 3}).to_csv(rec, sep="\t", index=False)
    assert vb.read_verdicts(rec) == {"0": True, "1": False, "2": True}
    pd.DataFrame({"index": [0], "prediction": ["A"]}).to_csv(rec, sep="\t", index=False)
    with pytest.raises(DataError, match=r"missing column\(s\) hit"):
        vb.read_verdicts(rec)
    pd.DataFrame({"index": [0], "hit": ["yes"]}).to_csv(rec, sep="\t", index=False)
    with pytest.raises(DataError, match="row 2: hit 'yes' is not 0 or 1"):
        vb.read_verdicts(rec)
    with pytest.raises(DataError, match="file not found"):
        vb.read_verdicts(tmp_path / "absent.tsv")


def test_torchvision_compat_reports_how_torchvision_loads():
    """'absent' without torchvision; with it, 'native' where its C++ ops load, else 'python-only' and then
    `import torchvision` works (it raises 'operator torchvision::nms does not exist' without the step)."""
    code = ("from ctxbench.integrations.vlmeval.torchvision_compat import prepare\n"
            "mode = prepare()\n"
            "if mode != 'absent':\n"
            "    import torchvision, torchvision.transforms\n"
            "print(mode)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    mode = out.stdout.strip().splitlines()[-1]
    if importlib.util.find_spec("torchvision") is None:
        assert mode == "absent"
    else:
        assert mode in ("native", "python-only")


def test_custom_names_only_for_benchmarks_vlmevalkit_reads_as_imagemcq(tmp_path):
    """MMMU under a custom name would lose MMMUDataset's prompt and MMMU_preproc: refused before any file."""
    with pytest.raises(CtxbenchError, match="dataset name is for MMStar.*MMMU_DEV_VAL has its own"):
        vb.make_job("MMMU_DEV_VAL", "tiny-vlm", str(tmp_path / "absent"), tmp_path / "w", vlmeval_name="mine")
