"""The VLMEvalKit bridge: job and subprocess command construction, the missing-vlmeval error, ingestion of
VLMEvalKit prediction files (generated here in its format), the CLI, and one end-to-end run of the
subprocess against a stand-in `vlmeval` package (VLMEvalKit itself is a GPU-box extra, not installed)."""

from __future__ import annotations

import csv
import json
import ssl
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
from vqa_fixtures import mmstar, olympiad, phyx

from ctxbench.cli import main
from ctxbench.core.errors import CtxbenchError, DataError
from ctxbench.integrations.vlmeval import bridge as vb
from ctxbench.store.read import connect_readonly


@pytest.fixture
def lmu(tmp_path, monkeypatch):
    monkeypatch.setenv("CTXBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LMUData", raising=False)
    folder = tmp_path / "LMUData"
    mmstar(folder)
    phyx(folder)
    olympiad(folder)
    return folder


def write_preds(folder: Path, preds: dict[int, str], file="ctxbench-ckpt_MMStar.tsv") -> Path:
    """A prediction file as VLMEvalKit's infer_data_job dumps it: the dataset's columns minus `image`,
    plus `prediction`, written by pandas with QUOTE_ALL."""
    data = pd.read_csv(folder / "MMStar.tsv", sep="\t")
    data = data[data["index"].isin(list(preds))].copy()
    data["prediction"] = [preds[i] for i in data["index"]]
    data.pop("image")
    out = folder.parent / "work" / file
    out.parent.mkdir(exist_ok=True)
    data.to_csv(out, sep="\t", index=False, encoding="utf-8", quoting=csv.QUOTE_ALL)
    return out


def test_job_command_and_environment(lmu, tmp_path):
    job = vb.make_job("MMStar", "hf:/models/ckpt-40", str(lmu), tmp_path / "vlm", limit=2, max_new_tokens=64)
    assert (job.benchmark, job.dataset, job.model_name) == ("MMStar", "MMStar", "ctxbench-ckpt-40")
    assert job.lmu_data == str(lmu.resolve()) and job.max_new_tokens == 64 and job.limit == 2
    f = vb.write_job(job)
    assert f == tmp_path / "vlm" / "ctxbench-ckpt-40_MMStar.job.json"
    assert json.loads(f.read_text())["model"] == "hf:/models/ckpt-40"
    assert vb.runner_command(f) == [sys.executable, "-m", "ctxbench.integrations.vlmeval.runner", str(f)]
    env = vb.runner_env(job, base={"PATH": "/bin"})
    assert env["LMUData"] == str(lmu.resolve()) and env["PRED_FORMAT"] == "tsv" and env["HF_HUB_OFFLINE"] == "1"
    assert env["PATH"] == "/bin"
    assert job.pred_stem() == tmp_path / "vlm" / "ctxbench-ckpt-40_MMStar"
    # the default length is the benchmark's own; PhyX / OlympiadBench take the file's VLMEvalKit name
    assert vb.make_job("MMStar", "tiny-vlm", str(lmu), tmp_path).max_new_tokens == 256
    assert vb.make_job("PhyX_MC", "tiny-vlm", str(lmu), tmp_path).dataset == "PhyX_mini_MC"
    assert vb.make_job("OlympiadBench", "tiny-vlm", str(lmu), tmp_path).dataset == "OlympiadBench"
    with pytest.raises(CtxbenchError, match="did you mean 'MMStar'"):
        vb.make_job("MMStarr", "tiny-vlm", str(lmu), tmp_path)
    with pytest.raises(DataError, match=r"\$LMUData/MMStar\.tsv"):
        vb.make_job("MMStar", "tiny-vlm", None, tmp_path)


def test_missing_vlmeval_is_a_clear_error_before_anything_runs(lmu, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "vlmeval" else real(n, *a))
    job = vb.make_job("MMStar", "tiny-vlm", str(lmu), tmp_path / "vlm")
    with pytest.raises(CtxbenchError, match=r"VLMEvalKit is not installed.*pip install -e \.\[vlm\].*--vlmeval-preds"):
        vb.run_vlmeval(job)
    assert not (tmp_path / "vlm").exists()  # nothing written, nothing launched
    assert "vlmeval" not in sys.modules


def test_ingest_prediction_file_scores_items_with_ctxbench_rules(lmu, root):
    pred = write_preds(lmu, {0: "The answer is A.", 1: "(C) blue", 2: "Hard to say"})
    assert vb.read_predictions(pred) == {"0": "The answer is A.", "1": "(C) blue", "2": "Hard to say"}
    report = vb.ingest_predictions(pred, "MMStar", root, data_path=str(lmu), ckpt_id="vlmeval:ckpt", model="hf:ckpt")
    (res,) = report.results
    assert (res.benchmark, res.n, res.n_correct, res.n_parse_fail, res.n_errors) == ("MMStar", 3, 1, 1, 0)
    con = connect_readonly(root)
    rows = con.execute("select item_id, extracted, correct, parse_ok, output from samples order by item_id").fetchall()
    assert rows == [("0", "A", True, True, "The answer is A."), ("1", "C", False, True, "(C) blue"),
                    ("2", "Z", False, False, "Hard to say")]  # VLMEvalKit's 'Z' (no option inferred), of record
    assert con.execute("select count(*) from items where benchmark = 'MMStar'").fetchone()[0] == 3
    assert con.execute("select kind, status from runs").fetchall() == [("eval", "complete")]
    con.close()
    again = vb.ingest_predictions(pred, "MMStar", root, data_path=str(lmu), ckpt_id="vlmeval:ckpt", model="hf:ckpt")
    assert again.run_id == report.run_id  # same file, same keys: re-ingesting adds nothing
    con = connect_readonly(root)
    assert con.execute("select count(*) from samples").fetchone()[0] == 3
    con.close()


def test_prediction_file_formats_and_errors(lmu, root, tmp_path):
    j = tmp_path / "p.json"
    j.write_text(json.dumps([{"index": 0, "prediction": "A"}, {"index": 2, "prediction": None}]))
    assert vb.read_predictions(j) == {"0": "A", "2": ""}
    pd.DataFrame({"index": [0, 1], "prediction": ["A", "B"]}).to_json(tmp_path / "cols.json")
    assert vb.read_predictions(tmp_path / "cols.json") == {"0": "A", "1": "B"}
    bad = tmp_path / "bad.tsv"
    pd.DataFrame({"index": [0], "answer": ["A"]}).to_csv(bad, sep="\t", index=False)
    with pytest.raises(DataError, match="missing column\\(s\\) prediction"):
        vb.read_predictions(bad)
    other = write_preds(lmu, {0: "A"}, file="x_Other.tsv")
    other.write_text(other.read_text().replace('"0"', '"99"'))
    with pytest.raises(DataError, match="indices not in MMStar's TSV \\(first: '99'\\)"):
        vb.ingest_predictions(other, "MMStar", root, data_path=str(lmu), ckpt_id="c", model="m")
    with pytest.raises(DataError, match="unsupported prediction file type '.pkl'"):
        (tmp_path / "p.pkl").write_bytes(b"x")
        vb.read_predictions(tmp_path / "p.pkl")


def test_cli_ingests_a_prediction_file(lmu, tmp_path, capsys):
    pred = write_preds(lmu, {0: "A", 1: "B"})
    rc = main(["--root", str(tmp_path / "runs"), "eval", "--vlmeval", "MMStar", "--vlmeval-preds", str(pred),
               "--data", f"MMStar={lmu}", "--quiet"])
    out = capsys.readouterr().out
    assert rc == 0 and "MMStar" in out and " 1.000 " in out
    rc = main(["--root", str(tmp_path / "runs"), "eval", "--vlmeval-preds", str(pred)])
    assert rc == 2 and "needs --vlmeval DATASET" in capsys.readouterr().err


FAKE_VLMEVAL = {
    "vlmeval/__init__.py": """
        import ssl
        ssl._create_default_https_context = ssl._create_unverified_context  # what the real package does
    """,
    "vlmeval/vlm/__init__.py": "",
    "vlmeval/vlm/base.py": """
        class BaseModel:
            INTERLEAVE = False
            def __init__(self):
                self.dump_image_func = None
            def generate(self, message, dataset=None):
                return self.generate_inner(message, dataset)
    """,
    "vlmeval/smp/__init__.py": """
        import os
        def get_pred_file_path(work_dir, model_name, dataset_name, use_env_format=True):
            return os.path.join(work_dir, f"{model_name}_{dataset_name}." + os.environ.get("PRED_FORMAT", "xlsx"))
    """,
    "vlmeval/dataset/__init__.py": """
        import base64, os, string
        import pandas as pd
        class _Dataset:
            def __init__(self, name):
                self.dataset_name = name
                self.data = pd.read_csv(os.path.join(os.environ["LMUData"], name + ".tsv"), sep="\\t")
            def build_prompt(self, line):
                root = os.path.join(os.environ["LMUData"], "images", self.dataset_name)
                os.makedirs(root, exist_ok=True)
                path = os.path.join(root, f"{line['index']}.jpg")
                img = line["image"] if len(str(line["image"])) > 64 else \\
                    self.data[self.data["index"].astype(str) == str(line["image"])]["image"].iloc[0]
                open(path, "wb").write(base64.b64decode(img))
                opts = "".join(f"{c}. {line[c]}\\n" for c in string.ascii_uppercase if c in line and not pd.isna(line[c]))
                return [dict(type="image", value=path), dict(type="text", value=f"Question: {line['question']}\\n{opts}")]
        def build_dataset(name):
            return _Dataset(name)
    """,
    "vlmeval/inference.py": """
        import csv
        from vlmeval.smp import get_pred_file_path
        def infer_data_job(model, work_dir, model_name, dataset, verbose=False, api_nproc=4, ignore_failed=False):
            data = dataset.data.copy()
            data["prediction"] = [model.generate(message=dataset.build_prompt(data.iloc[i]), dataset=dataset.dataset_name)
                                  for i in range(len(data))]
            data.pop("image")
            data.to_csv(get_pred_file_path(work_dir, model_name, dataset.dataset_name), sep="\\t", index=False,
                        quoting=csv.QUOTE_ALL)
    """,
}


@pytest.mark.slow
def test_end_to_end_subprocess_with_a_stand_in_vlmeval(tmp_path, monkeypatch, root):
    """The runner subprocess drives a real ctxbench backend (tiny-vlm) through a package with VLMEvalKit's
    interfaces; the parent ingests the result and never imports it (its TLS setting stays verified)."""
    fake = tmp_path / "fake"
    for rel, body in FAKE_VLMEVAL.items():
        (fake / rel).parent.mkdir(parents=True, exist_ok=True)
        (fake / rel).write_text(textwrap.dedent(body))
    monkeypatch.setenv("PYTHONPATH", f"{fake}:{Path(__file__).parents[2]}")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    folder = tmp_path / "LMUData"
    mmstar(folder)
    before = ssl._create_default_https_context
    job = vb.make_job("MMStar", "tiny-vlm", str(folder), root / "vlmeval", limit=2, max_new_tokens=4)
    result = vb.run_vlmeval(job, check_installed=False, timeout=300)
    assert Path(result["pred_file"]).name == "ctxbench-tiny-vlm_MMStar.tsv" and result["n_items"] == 2
    assert result["ckpt_id"]
    assert ssl._create_default_https_context is before and "vlmeval" not in sys.modules
    monkeypatch.setenv("CTXBENCH_CACHE", str(tmp_path / "cache"))  # parent-side image store: keep it local
    report = vb.ingest_predictions(result["pred_file"], "MMStar", root, data_path=str(folder),
                                   ckpt_id=result["ckpt_id"], model="tiny-vlm")
    assert report.results[0].n == 2 and report.ckpt_id == result["ckpt_id"]
