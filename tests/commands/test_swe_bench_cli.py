"""`ctxbench swe-bench`: import of official predictions + harness reports into the store, the agent run
on a generated git repository with a scripted chat model (predictions in the official format,
resume), and the errors for missing data, checkouts and Docker (all raised before a model loads)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))
from cli_fixture import db_rows
from fakes import ScriptedChatBackend
from swe_fixture import LATER_FILE, REPO, bash_reply, make_calc_repo

from ctxbench.cli import main
from ctxbench.envs.swe.agent import AgentConfig, ContextLimitExceeded, backend_chat, checkout, run_agent
from ctxbench.models.base import GenConfig

FIX = Path(__file__).parents[1] / "fixtures" / "official" / "swe_bench"
IDS = ["astropy__astropy-12907", "django__django-11099", "psf__requests-2317", "sympy__sympy-20590"]


# ---------------------------------------------------------------------------------- import


def test_import_stores_per_instance_rows_and_prints_the_rate(root, capsys):
    args = ["--root", str(root), "swe-bench", "import", "--preds", str(FIX / "preds.jsonl"),
            "--report", str(FIX / "org__agent-8b.run1.json"), "--data", str(FIX / "instances.jsonl"), "--name", "r1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "swe-bench-verified: resolve rate 0.2% (1 of 500 instances); 25.0% of the 4 submitted" in out
    assert "empty_patch 1, error 1, resolved 1, unresolved 1" in out
    got = db_rows(root, "SELECT item_id, correct, score, parse_ok, error IS NOT NULL, output, item_uid IS NOT NULL, "
                      "benchmark FROM samples ORDER BY item_id")
    assert [r[0] for r in got] == IDS
    assert [r[1] for r in got] == [True, False, False, False] and [r[2] for r in got] == [1.0, 0.0, 0.0, 0.0]
    assert [r[3] for r in got] == [True, True, True, False]      # the empty patch is a parse failure
    assert [r[4] for r in got] == [False, False, True, False]    # the harness error is recorded as one
    assert got[0][5] == "diff --git a/x.py b/x.py\n+fix\n" and all(r[6] for r in got)
    assert {r[7] for r in got} == {"swe-bench-verified"}
    runs = db_rows(root, "SELECT run_id, kind, name, model, status FROM runs")
    assert len(runs) == 1 and runs[0][1:] == ("import", "r1", "org/agent-8b", "complete")
    assert db_rows(root, "SELECT count(*) FROM items WHERE benchmark = 'swe-bench-verified'")[0][0] == 4
    # the same files again: same run id, rows replaced, not duplicated
    assert main(args) == 0
    assert db_rows(root, "SELECT count(*), count(DISTINCT run_id) FROM samples") == [(4, 1)]


def test_import_per_instance_reports_as_lite(root, capsys):
    assert main(["--root", str(root), "swe-bench", "import", "--preds", str(FIX / "preds.jsonl"),
                 "--report", str(FIX / "logs"), "--benchmark", "swe-bench-lite"]) == 0
    out = capsys.readouterr().out
    assert "swe-bench-lite: resolve rate 0.3% (1 of 300 instances)" in out and "not_evaluated 2" in out
    got = dict(db_rows(root, "SELECT item_id, correct FROM samples WHERE benchmark = 'swe-bench-lite'"))
    assert got == {IDS[0]: True, IDS[1]: False, IDS[2]: False, IDS[3]: False}


def test_import_errors(root, tmp_path, capsys):
    assert main(["--root", str(root), "swe-bench", "import", "--preds", str(tmp_path / "none.jsonl"),
                 "--report", str(FIX / "logs")]) == 2
    assert "none.jsonl: predictions file not found" in capsys.readouterr().err
    assert main(["--root", str(root), "swe-bench", "import", "--preds", str(FIX / "preds.jsonl"),
                 "--report", str(tmp_path / "r.json")]) == 2
    assert "r.json: report not found" in capsys.readouterr().err


# ---------------------------------------------------------------------------------- run


@pytest.fixture
def task(tmp_path):
    """A clone <repos>/acme__calc with a buggy add() at base_commit, and a one-instance data file."""
    repos = tmp_path / "repos"
    base = make_calc_repo(repos)
    inst = {"instance_id": "acme__calc-1", "repo": REPO, "base_commit": base,
            "problem_statement": "add(2, 3) returns -1 instead of 5", "patch": "", "test_patch": "",
            "FAIL_TO_PASS": '["test_add"]', "PASS_TO_PASS": "[]"}
    data = tmp_path / "instances.jsonl"
    data.write_text(json.dumps(inst) + "\n")
    return data, repos, inst


SCRIPT = [
    bash_reply("cat calc.py"),
    bash_reply("sed -i 's/a - b/a + b/' calc.py && python3 -c 'import calc; print(calc.add(2, 3))'"),
    bash_reply("echo MINI_SWE_AGENT_FINAL_OUTPUT && git add -A && git diff --cached"),
]


def _no_model(*a, **k):
    raise AssertionError("the model must not load")


def test_run_writes_official_predictions_and_resumes(root, task, tmp_path, monkeypatch, capsys):
    data, repos, _inst = task
    be = ScriptedChatBackend(SCRIPT)
    monkeypatch.setattr("ctxbench.models.loader.load_backend", lambda spec, **k: be)
    preds = tmp_path / "out" / "preds.jsonl"
    args = ["--root", str(root), "swe-bench", "run", "--data", str(data), "--repos", str(repos),
            "--model", "tiny", "--step-limit", "5", "--out", str(preds), "--allow-host-shell"]  # if no sandbox
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "[1/1] acme__calc-1: submitted after 3 steps" in out and "swe-bench import --preds" in out
    rows = [json.loads(ln) for ln in preds.read_text().splitlines()]
    assert len(rows) == 1 and set(rows[0]) == {"instance_id", "model_name_or_path", "model_patch"}
    assert rows[0]["instance_id"] == "acme__calc-1" and rows[0]["model_name_or_path"] == "tiny"
    patch = rows[0]["model_patch"]
    assert patch.startswith("diff --git a/calc.py b/calc.py") and "-    return a - b\n+    return a + b" in patch
    assert LATER_FILE not in patch  # the run started from base_commit, not the clone's HEAD
    # the model saw a real conversation: system prompt, task, its own turns, observations
    last = be.seen[-1]
    assert [m["role"] for m in last.history] == ["system", "user", "assistant", "user", "assistant"]
    assert "add(2, 3) returns -1 instead of 5" in last.history[1]["content"]
    assert "<output>\n5\n</output>" in last.parts[0]["value"]
    traj = json.loads((preds.parent / "trajs" / "acme__calc-1.traj.json").read_text())
    assert traj["exit_status"] == "submitted" and traj["steps"] == 3 and traj["submission"] == patch
    assert (repos / "acme__calc" / "calc.py").read_text().endswith("a - b\n")  # the user's clone is untouched
    # re-running resumes: nothing left to do, no model loaded
    monkeypatch.setattr("ctxbench.models.loader.load_backend", _no_model)
    assert main(args) == 0
    assert "0 instance(s) run now, 1 already in" in capsys.readouterr().out


def test_run_errors_before_any_model_loads(root, task, tmp_path, monkeypatch, capsys):
    data, repos, inst = task
    monkeypatch.setattr("ctxbench.models.loader.load_backend", _no_model)
    base = ["--root", str(root), "swe-bench", "run", "--model", "tiny", "--allow-host-shell"]
    assert main(base + ["--data", str(tmp_path / "missing.jsonl"), "--repos", str(repos)]) == 2
    err = capsys.readouterr().err
    assert "missing.jsonl: not found (swe-bench-verified)" in err and "princeton-nlp/SWE-bench_Verified" in err
    assert main(base + ["--data", str(data), "--repos", str(tmp_path / "norepos")]) == 2
    assert "norepos: repositories folder not found" in capsys.readouterr().err
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps({**inst, "instance_id": "acme__other-1", "repo": "acme/other"}) + "\n")
    assert main(base + ["--data", str(other), "--repos", str(repos)]) == 2
    err = capsys.readouterr().err
    assert "1 of 1 instances have no usable checkout" in err
    assert "acme__other-1" in err and "git clone https://github.com/acme/other.git" in err
    monkeypatch.setattr("ctxbench.benchmarks.official.swe_bench.docker_available", lambda: False)
    assert main(base + ["--data", str(data), "--repos", str(repos), "--evaluate"]) == 2
    err = capsys.readouterr().err
    assert "--evaluate: SWE-bench scoring runs the official swebench harness, which needs a running Docker" in err
    assert "ctxbench swe-bench import --preds" in err
    monkeypatch.setattr("ctxbench.benchmarks.official.swe_bench.docker_available", lambda: True)
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    assert main(base + ["--data", str(data), "--repos", str(repos), "--evaluate"]) == 2
    assert "pip install swebench" in capsys.readouterr().err


def test_agent_stops_when_the_conversation_outgrows_the_window(task):
    _data, repos, inst = task
    be = ScriptedChatBackend([bash_reply("cat calc.py")] * 5, max_context_tokens=1500)  # the prompt: ~1,330
    chat = backend_chat(be, GenConfig(max_new_tokens=64))
    with checkout(repos, inst["repo"], inst["base_commit"]) as wt:
        res = run_agent("task", chat, wt, AgentConfig(step_limit=5, allow_host_shell=True))
    assert res.exit_status == "context_limit" and res.patch == "" and res.steps == len(be.seen) >= 1
    with pytest.raises(ContextLimitExceeded, match="exceeds the 10-token window"):
        backend_chat(ScriptedChatBackend([], max_context_tokens=10), GenConfig(max_new_tokens=8))(
            [{"role": "user", "content": "x" * 100}])
