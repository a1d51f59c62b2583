"""The lm-eval bridge, both directions, on the tiny model.

export: `ctxbench export lm-eval DIR` writes tasks that lm-eval (python API, include_path) runs with the
same greedy predictions and the same scores as ctxbench's own harness, item by item, for generative
benchmarks (niah; trace-qa with its prefill and stop string) and a multiple-choice one (long-mcq scored
by option log-likelihood). import: `ctxbench eval --lm-eval-task` stores lm-eval's per-sample log as
items in DuckDB, and the sample-log conversion is checked on hand-written logs of ordinary lm-eval tasks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TQDM_DISABLE", "1")

BENCHES = ("niah", "long-mcq", "trace-qa")
LIMIT = 4
MAX_NEW = 8


def _cfg():
    from ctxbench.eval.config import EvalConfig

    return EvalConfig(model="tiny", benchmarks=BENCHES, limit=LIMIT, scoring="choice", max_new_tokens=MAX_NEW)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The three benchmarks exported once via the CLI (tokenizer only, no weights)."""
    from ctxbench.cli import main

    out = tmp_path_factory.mktemp("lmeval_tasks")
    assert main(["export", "lm-eval", str(out), "--benchmarks", ",".join(BENCHES), "--limit", str(LIMIT),
                 "--scoring", "choice", "--max-new-tokens", str(MAX_NEW)]) == 0
    return out


def _docs(folder: Path, task: str) -> list[dict]:
    return [json.loads(ln) for ln in (folder / f"{task}.jsonl").read_text(encoding="utf-8").splitlines()]


# ------------------------------------------------------------------------------------- export, no model


def test_export_writes_tasks_lm_eval_can_index(exported):
    import yaml
    from lm_eval.tasks import TaskManager

    from ctxbench.benchmarks import get_benchmark
    from ctxbench.benchmarks.base import Item
    from ctxbench.eval.harness import gen_settings
    from ctxbench.integrations.lmeval.export import task_name

    tm = TaskManager(include_path=str(exported), include_defaults=False)
    assert {"ctxbench_niah", "ctxbench_long_mcq", "ctxbench_trace_qa"} <= set(tm.all_tasks)
    assert "ctxbench" in tm.all_tags  # `--tasks ctxbench` runs them all
    assert (exported / "utils.py").read_text().count("from ctxbench.integrations.lmeval.export import process_results") == 1

    class Tagged(yaml.SafeLoader):
        pass

    Tagged.add_constructor("!function", lambda loader, node: ("function", loader.construct_scalar(node)))
    for name in BENCHES:
        cfg = yaml.load((exported / f"{task_name(name)}.yaml").read_text(), Loader=Tagged)
        assert cfg["process_results"] == ("function", "utils.process_results")
        assert Path(cfg["dataset_kwargs"]["data_files"]["test"]).is_absolute()
        assert cfg["metadata"]["ctxbench_prerendered"] is True
        assert cfg["metadata"]["version"] == get_benchmark(name).version
        docs = _docs(exported, task_name(name))
        assert len(docs) == LIMIT
        if name == "long-mcq":
            assert cfg["output_type"] == "multiple_choice" and cfg["target_delimiter"] == ""
            # the harness's continuations: the rendered prompt ends in '.', so a space, then the letter
            assert all(d["choices"] == [" A", " B", " C", " D"] for d in docs)
            assert all(d["choices"][d["label"]].strip() == d["target"] for d in docs)
        else:
            _, gen = gen_settings(get_benchmark(name), _cfg(), Item("x", (), "y"))
            assert cfg["output_type"] == "generate_until"
            assert cfg["generation_kwargs"]["until"] == list(gen.stop)
            assert cfg["generation_kwargs"]["max_gen_toks"] == MAX_NEW
    # trace-qa's assistant prefill is part of the pre-rendered prompt (tiny has no chat template)
    assert all(d["prompt"].endswith("Answer:") for d in _docs(exported, "ctxbench_trace_qa"))


def test_process_results_is_ctxbench_scorer(exported):
    from ctxbench.core.errors import CtxbenchError
    from ctxbench.integrations.lmeval.export import process_results

    niah = _docs(exported, "ctxbench_niah")[0]
    assert process_results(niah, [f" The number is {niah['target']}."])["correct"] == 1.0
    # the score of record (niah: RULER's string_match_all), as the harness stores it
    assert process_results(niah, [" no idea"])["correct"] == process_results(niah, [" no idea"])["score"] == 0.0
    assert process_results(niah, [f" {niah['target']}0"])["correct"] == 1.0  # RULER's substring match
    mcq = _docs(exported, "ctxbench_long_mcq")[0]
    lls = [(-5.0, False)] * 4
    lls[mcq["label"]] = (-1.0, True)
    assert process_results(mcq, lls) == {"correct": 1.0, "score": 1.0, "parse_ok": 1.0}
    lls = [(-1.0, False)] * 4  # a tie goes to the first option, as in the harness
    assert process_results(mcq, lls)["correct"] == float(mcq["label"] == 0)
    stale = {**niah, "benchmark_version": "0"}
    with pytest.raises(CtxbenchError, match="re-run `ctxbench export lm-eval`"):
        process_results(stale, ["1234567"])


# ------------------------------------------------------------------------------------- sample-log conversion


def _gen_sample(doc_id, doc, resp, filtered, em, flt="none"):
    return {"doc_id": doc_id, "doc": doc, "target": doc.get("answer"), "arguments": [(f"Q{doc_id}:", {"until": ["\n"]})],
            "resps": [[resp]], "filtered_resps": [filtered], "filter": flt, "metrics": ["exact_match"],
            "exact_match": em, "doc_hash": f"{doc_id:02d}" + "ab" * 20}


def test_task_rows_from_generic_lm_eval_logs():
    from ctxbench.integrations.lmeval.bridge import primary_metric, task_rows

    run = {"run_id": "eval-x", "ckpt_id": "c", "config_hash": "h", "lib_versions": "{}", "created_at": None}
    docs = [{"id": "q-7", "answer": "4"}, {"question": "same", "answer": "5"}, {"question": "same", "answer": "5"}]
    samples = [_gen_sample(0, docs[0], "so 4", "4", 1.0, "strict"), _gen_sample(0, docs[0], "so 4", "4", 1.0),
               _gen_sample(1, docs[1], "hmm", "[invalid]", 0.0), _gen_sample(2, docs[2], "5!", "5", 1.0)]
    samples[3]["doc_hash"] = samples[2]["doc_hash"]  # identical docs hash alike: ids must still differ
    items, rows, info = task_rows("toy_gen", "2.0", "generate_until", samples, {"exact_match": True}, run)
    assert info == {"filter": "none", "metric": "exact_match"}  # the "none" filter wins over "strict"
    assert [r["item_id"] for r in rows] == ["q-7", f"doc-{'01' + 'ab' * 7}#1", f"doc-{'01' + 'ab' * 7}#2"]
    assert [(r["output"], r["extracted"], r["correct"], r["parse_ok"]) for r in rows] == [
        ("so 4", "4", True, True), ("hmm", "[invalid]", False, False), ("5!", "5", True, True)]
    assert {r["benchmark"] for r in rows} == {"lm-eval:toy_gen"} and rows[0]["benchmark_version"] == "2.0"
    assert [i["item_uid"] for i in items] == [r["item_uid"] for r in rows]
    assert len({r["key"] for r in rows}) == 3

    mc = {"doc_id": 3, "doc": {"q": "sky?"}, "target": 1, "arguments": [("Sky is", " green"), ("Sky is", " blue")],
          "resps": [[(-3.0, False)], [(-1.0, True)]], "filtered_resps": [(-3.0, False), (-1.0, True)],
          "filter": "none", "metrics": ["acc", "acc_norm"], "acc": 1.0, "acc_norm": 0.0, "doc_hash": "ff" * 20}
    items, rows, info = task_rows("toy_mc", "1", "multiple_choice", [mc], {"acc": True, "acc_norm": True}, run)
    assert info["metric"] == "acc"
    (r,), (it,) = rows, items
    assert (r["output"], r["extracted"], r["correct"], r["score"]) == (" blue", "blue", True, 1.0)
    assert it["answer"] == "blue" and json.loads(it["prompt_json"])["choices"] == [" green", " blue"]
    assert primary_metric(["bleu", "chrf"]) == "bleu"


# ------------------------------------------------------------------------------------- parity on the tiny model


@pytest.fixture(scope="module")
def harness_rows(tmp_path_factory):
    """ctxbench's own harness on the same selection: {(benchmark, item_id): sample row}, and the backend."""
    from ctxbench.eval.harness import run_eval
    from ctxbench.models.loader import load_backend
    from ctxbench.store.shards import read_table

    root = tmp_path_factory.mktemp("harness_root")
    backend = load_backend("tiny")
    rep = run_eval(_cfg(), root, backend=backend, progress=False, ingest=False)
    df = read_table(root, "samples", {"run_id": rep.run_id})
    return {(r["benchmark"], r["item_id"]): r for r in df.to_dict("records")}, backend


def test_exported_tasks_match_ctxbench_harness(exported, harness_rows):
    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from ctxbench.eval.harness import choice_continuations
    from ctxbench.integrations.lmeval.export import doc_item, score_doc, task_name
    from ctxbench.models.base import Prompt
    from ctxbench.models.presets.registry import resolve_model

    rows, backend = harness_rows
    resolved = resolve_model("tiny")
    lm = HFLM(pretrained=str(resolved.path), device="cpu", dtype="float32", batch_size=4,
              max_length=resolved.max_context)
    tm = TaskManager(include_path=str(exported), include_defaults=False)
    tasks = [task_name(b) for b in BENCHES]
    res = lm_eval.simple_evaluate(model=lm, tasks=tasks, task_manager=tm, log_samples=True, bootstrap_iters=0)
    n_checked = 0
    for bench in BENCHES:
        samples = res["samples"][task_name(bench)]
        assert len(samples) == LIMIT
        for s in samples:
            doc = s["doc"]
            ours = rows[(bench, doc["item_id"])]
            completion, sc, err = score_doc(doc, s["filtered_resps"])
            assert err is None
            # identical greedy prediction ...
            assert completion == ours["output"], (bench, doc["item_id"])
            # ... and identical scores, through lm-eval's metric (process_results) and ctxbench's scorer
            assert (s["correct"], s["score"], s["parse_ok"]) == (
                float(ours["correct"]), ours["score"], float(ours["parse_ok"]))
            assert sc.extracted == (ours["extracted"] if isinstance(ours["extracted"], str) else None)
            if bench == "long-mcq":  # the same continuations, scored alike
                item = doc_item(doc)
                prompt = Prompt(tuple(item.prompt), item.prefill)
                ours_ll = backend.score_continuations(prompt, choice_continuations(backend.render(prompt), item.choices))
                theirs = [float(r[0]) for r in s["filtered_resps"]]
                assert max(abs(a - b) for a, b in zip(ours_ll, theirs)) < 1e-4
            n_checked += 1
    assert n_checked == LIMIT * len(BENCHES)
    assert res["results"]["ctxbench_long_mcq"]["correct,none"] == pytest.approx(
        sum(rows[("long-mcq", d["item_id"])]["correct"] for d in _docs(exported, "ctxbench_long_mcq")) / LIMIT)


def test_lm_eval_task_rows_land_in_store(exported, harness_rows, root):
    from ctxbench.cli import main
    from ctxbench.store.read import connect_readonly

    rows, _ = harness_rows
    rc = main(["--root", str(root), "eval", "--lm-eval-task", "ctxbench_niah,ctxbench_long_mcq",
               "--lm-eval-include", str(exported), "--model", "tiny", "--limit", "3", "--quiet"])
    assert rc == 0
    con = connect_readonly(root)
    got = con.cursor().execute(
        "SELECT s.benchmark, s.benchmark_version, s.item_id, s.output, s.correct, s.score, s.run_id, i.answer, "
        "i.prompt_hash FROM samples s JOIN items i USING (item_uid) ORDER BY s.benchmark, s.item_id").fetchall()
    assert {g[0] for g in got} == {"lm-eval:ctxbench_niah", "lm-eval:ctxbench_long_mcq"}
    from ctxbench.benchmarks import get_benchmark

    versions = {b: get_benchmark(b).version for b in ("niah", "long-mcq")}
    assert {g[1] for g in got} == set(versions.values())  # the exported tasks carry the benchmarks' versions
    for bench in ("niah", "long-mcq"):
        want = sorted(d["item_id"] for d in _docs(exported, f"ctxbench_{bench.replace('-', '_')}")[:3])
        mine = [g for g in got if g[0] == f"lm-eval:ctxbench_{bench.replace('-', '_')}"]
        assert [g[2] for g in mine] == want  # lm-eval's first 3 docs, under ctxbench's item ids
        for g in mine:  # same prediction, score and prompt hash as the harness row of that item
            ours = rows[(bench, g[2])]
            assert (g[3], g[4], g[5], g[8]) == (ours["output"], ours["correct"], ours["score"], ours["prompt_hash"])
    (run,) = con.cursor().execute("SELECT run_id, kind, status, config_json FROM runs").fetchall()
    assert run[0] == got[0][6] and run[1:3] == ("eval", "complete")
    assert json.loads(run[3])["task_versions"] == {"ctxbench_long_mcq": versions["long-mcq"],
                                                   "ctxbench_niah": versions["niah"]}


def test_lm_eval_task_errors_before_loading_a_model(exported, root, capsys):
    from lm_eval.tasks import TaskManager

    from ctxbench.cli import main
    from ctxbench.core.errors import CtxbenchError
    from ctxbench.integrations.lmeval.bridge import _check_names

    tm = TaskManager(include_path=str(exported), include_defaults=False)
    with pytest.raises(CtxbenchError, match="did you mean 'ctxbench_niah'"):
        _check_names(tm, ["ctxbench_niha"])
    assert main(["--root", str(root), "eval", "--lm-eval-task", "x", "--benchmarks", "niah"]) == 2
    assert "--benchmarks" in capsys.readouterr().err
    assert main(["--root", str(root), "eval", "--lm-eval-task", "x", "--lm-eval-include", str(root / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err


@pytest.mark.slow
def test_lm_eval_cli_runs_exported_task(exported, tmp_path):
    """`lm_eval run --include_path DIR --tasks ctxbench_niah` in a fresh process (~25 s)."""
    from ctxbench.models.presets.registry import resolve_model

    path = resolve_model("tiny").path
    exe = Path(sys.executable).with_name("lm_eval")
    out = tmp_path / "out"
    proc = subprocess.run(
        [str(exe), "run", "--model", "hf", "--model_args", f"pretrained={path},dtype=float32,max_length=2048",
         "--device", "cpu", "--tasks", "ctxbench_niah", "--include_path", str(exported), "--limit", "2", "--log_samples",
         "--output_path", str(out)],
        check=False, capture_output=True, text=True, timeout=300, cwd=tmp_path,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    (res_file,) = out.rglob("results_*.json")
    res = json.loads(res_file.read_text())
    assert set(res["results"]["ctxbench_niah"]) >= {"correct,none", "score,none", "parse_ok,none"}
    (samples_file,) = out.rglob("samples_ctxbench_niah_*.jsonl")
    assert len(samples_file.read_text().splitlines()) == 2


CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


@pytest.mark.slow
def test_chat_template_prompts_match_too(tmp_path):
    """A tiny checkpoint whose tokenizer has a chat template: the export pre-renders it (user turn,
    generation prompt, then the prefill), long-mcq continuations lose their leading space (the prompt
    ends in a newline), and lm-eval still predicts exactly what the harness does (~40 s)."""
    import shutil

    import lm_eval
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    from ctxbench.cli import main
    from ctxbench.eval.config import EvalConfig
    from ctxbench.eval.harness import run_eval
    from ctxbench.integrations.lmeval.export import score_doc
    from ctxbench.models.presets.registry import resolve_model
    from ctxbench.store.shards import read_table

    ckpt = tmp_path / "tiny-chat"
    shutil.copytree(resolve_model("tiny").path, ckpt)
    tc = json.loads((ckpt / "tokenizer_config.json").read_text())
    (ckpt / "tokenizer_config.json").write_text(json.dumps({**tc, "chat_template": CHATML}))
    spec, out = f"hf:{ckpt}", tmp_path / "tasks"
    assert main(["export", "lm-eval", str(out), "--benchmarks", "trace-qa,long-mcq", "--limit", "3",
                 "--scoring", "choice", "--max-new-tokens", str(MAX_NEW), "--model", spec]) == 0
    trace = _docs(out, "ctxbench_trace_qa")
    assert all(d["prompt"].startswith("<|im_start|>user\n") and d["prompt"].endswith("<|im_start|>assistant\nAnswer:")
               for d in trace)
    assert all(d["choices"] == ["A", "B", "C", "D"] for d in _docs(out, "ctxbench_long_mcq"))
    rep = run_eval(EvalConfig(model=spec, benchmarks=("trace-qa", "long-mcq"), limit=3, scoring="choice",
                              max_new_tokens=MAX_NEW), tmp_path / "root", progress=False, ingest=False)
    rows = {(r["benchmark"], r["item_id"]): r for r in read_table(tmp_path / "root", "samples",
                                                                   {"run_id": rep.run_id}).to_dict("records")}
    lm = HFLM(pretrained=str(ckpt), device="cpu", dtype="float32", batch_size=4,
              max_length=resolve_model(spec).max_context)
    res = lm_eval.simple_evaluate(model=lm, tasks=["ctxbench_trace_qa", "ctxbench_long_mcq"], log_samples=True,
                                  task_manager=TaskManager(include_path=str(out), include_defaults=False),
                                  bootstrap_iters=0)
    for task, bench in (("ctxbench_trace_qa", "trace-qa"), ("ctxbench_long_mcq", "long-mcq")):
        for s in res["samples"][task]:
            completion, _, _ = score_doc(s["doc"], s["filtered_resps"])
            ours = rows[(bench, s["doc"]["item_id"])]
            assert completion == ours["output"] and s["correct"] == float(ours["correct"])
