"""SWE-bench adapters: instance files, the mini-swe-agent-style loop on a real local git repo with a
scripted model, and import of official harness reports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from swe_fixture import LATER_FILE, bash_reply, git, make_calc_repo

from ctxbench.benchmarks import get_benchmark
from ctxbench.benchmarks.base import LoadContext
from ctxbench.benchmarks.official import swe_bench as sb
from ctxbench.core.errors import CtxbenchError, DataError
from ctxbench.envs.swe.agent import AgentConfig, checkout, parse_actions, run_agent

FIX = Path(__file__).parents[1] / "fixtures" / "official" / "swe_bench"
IDS = ["astropy__astropy-12907", "django__django-11099", "sympy__sympy-20590", "psf__requests-2317"]


# ---------------------------------------------------------------------------------- instances


def test_loads_instances(monkeypatch):
    bench = get_benchmark("swe-bench-verified")
    items = bench.load(LoadContext(data_path=str(FIX / "instances.jsonl")))
    assert sorted(it.item_id for it in items) == sorted(IDS)
    it = {i.item_id: i for i in items}["django__django-11099"]
    assert it.meta["repo"] == "django/django" and it.meta["base_commit"] == f"{2:040x}"
    assert it.meta["FAIL_TO_PASS"] == ["tests/test_1.py::test_fix"] and len(it.meta["PASS_TO_PASS"]) == 2
    assert "Bug 1: something is wrong in django/django." in it.prompt_text()
    assert "echo MINI_SWE_AGENT_FINAL_OUTPUT && git add -A && git diff --cached" in it.prompt_text()
    assert it.answer.startswith("diff --git a/f1.py")
    lite = get_benchmark("swe-bench-lite")
    monkeypatch.delenv("CTXBENCH_DATA_SWE_BENCH_LITE", raising=False)
    assert not lite.data_status().available
    with pytest.raises(DataError, match=r"princeton-nlp/SWE-bench_Lite.*CTXBENCH_DATA_SWE_BENCH_LITE"):
        lite.load(LoadContext())
    monkeypatch.setenv("CTXBENCH_DATA_SWE_BENCH_LITE", str(FIX / "instances.jsonl"))
    assert len(lite.load(LoadContext(), limit=2)) == 2


def test_reads_the_hf_parquet_layout(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [json.loads(ln) for ln in (FIX / "instances.jsonl").read_text().splitlines()]
    (tmp_path / "data").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "data" / "test-00000-of-00001.parquet")
    items = get_benchmark("swe-bench-lite").load(LoadContext(data_path=str(tmp_path)))
    assert sorted(it.item_id for it in items) == sorted(IDS)
    assert items[0].meta["PASS_TO_PASS"][0].startswith("tests/test_")
    with pytest.raises(DataError, match=r"several files match \*\.jsonl"):
        get_benchmark("swe-bench-lite").load(LoadContext(data_path=str(FIX)))


def test_bad_instance_rows(tmp_path):
    rows = [json.loads(ln) for ln in (FIX / "instances.jsonl").read_text().splitlines()]
    rows[1]["FAIL_TO_PASS"] = "not json"
    f = tmp_path / "inst.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=r"row 2 \(django__django-11099\): FAIL_TO_PASS is not a JSON list"):
        get_benchmark("swe-bench-verified").load(LoadContext(data_path=str(f)))


def test_scoring_needs_docker(monkeypatch):
    monkeypatch.setattr(sb, "docker_available", lambda: False)
    bench = get_benchmark("swe-bench-verified")
    item = bench.load(LoadContext(data_path=str(FIX / "instances.jsonl")), limit=1)[0]
    with pytest.raises(CtxbenchError, match="Docker.*import_predictions"):
        bench.score(item, "diff --git a/x b/x\n")


@pytest.mark.parametrize("completion, patch", [
    ("diff --git a/x b/x\n+1\n", "diff --git a/x b/x\n+1\n"),
    ("Here is the fix:\ndiff --git a/x b/x\n+1\n", "diff --git a/x b/x\n+1\n"),
    ("Fix:\n```diff\ndiff --git a/x b/x\n+1\n```\nDone.", "diff --git a/x b/x\n+1\n"),
    ("", ""), (None, ""),
])
def test_extract_patch(completion, patch):
    assert sb.extract_patch(completion) == patch


# ---------------------------------------------------------------------------------- report import


def _by_id(rows):
    return {r["item_id"]: r for r in rows}


def test_import_summary_report():
    rows = sb.import_predictions(FIX / "preds.jsonl", FIX / "org__agent-8b.run1.json")
    got = _by_id(rows)
    assert [got[i]["status"] for i in IDS] == ["resolved", "unresolved", "empty_patch", "error"]
    assert [got[i]["correct"] for i in IDS] == [True, False, False, False]
    assert [got[i]["score"] for i in IDS] == [1.0, 0.0, 0.0, 0.0]
    assert got[IDS[0]]["output"] == "diff --git a/x.py b/x.py\n+fix\n" and got[IDS[0]]["model"] == "org/agent-8b"
    assert {r["benchmark"] for r in rows} == {"swe-bench-verified"}
    assert sb.resolve_rate(rows) == pytest.approx(0.25)
    total = sb.read_report(FIX / "org__agent-8b.run1.json")[1]
    assert total == 500 and sb.resolve_rate(rows, total) == pytest.approx(1 / 500)


def test_import_per_instance_reports_and_both():
    rows = _by_id(sb.import_predictions(FIX / "preds.jsonl", FIX / "logs"))
    assert [rows[i]["status"] for i in IDS] == ["resolved", "unresolved", "not_evaluated", "not_evaluated"]
    both = _by_id(sb.import_predictions(FIX / "preds.jsonl", [FIX / "org__agent-8b.run1.json", FIX / "logs"],
                                        benchmark="swe-bench-lite"))
    assert [both[i]["correct"] for i in IDS] == [True, False, False, False]
    assert both[IDS[3]]["status"] == "error" and both[IDS[0]]["benchmark"] == "swe-bench-lite"


def test_empty_per_instance_report_is_an_error_instance(tmp_path):
    """make_run_report counts an empty report.json as an error instance; the import used to raise
    DataError, so a real log folder with one such file could not be imported at all."""
    import shutil

    logs = tmp_path / "logs"
    shutil.copytree(FIX / "logs", logs)
    run = logs / "run_evaluation" / "run1" / "org__agent-8b"
    (run / IDS[3]).mkdir()
    (run / IDS[3] / "report.json").write_text("")
    (run / IDS[1] / "report.json").write_text("{\"django__django-11099\": {\"resolved\": tr")  # cut short
    rows = _by_id(sb.import_predictions(FIX / "preds.jsonl", logs))
    assert [rows[i]["status"] for i in IDS] == ["resolved", "error", "not_evaluated", "error"]
    assert [rows[i]["correct"] for i in IDS] == [True, False, False, False]
    both = _by_id(sb.import_predictions(FIX / "preds.jsonl", [FIX / "org__agent-8b.run1.json", logs]))
    assert both[IDS[3]]["status"] == "error"  # the summary and the empty report agree


def test_store_import_of_a_log_folder_with_an_empty_report(tmp_path):
    import shutil

    from ctxbench.eval.swe import store_import
    from ctxbench.store.shards import read_table

    logs = tmp_path / "logs"
    shutil.copytree(FIX / "logs", logs)
    empty = logs / "run_evaluation" / "run1" / "org__agent-8b" / IDS[3]
    empty.mkdir()
    (empty / "report.json").write_text("\n")
    root = tmp_path / "runs"
    summary = store_import(root, FIX / "preds.jsonl", logs, ingest=False)
    assert summary.statuses == {"resolved": 1, "unresolved": 1, "not_evaluated": 1, "error": 1}
    df = read_table(root, "samples", {"run_id": summary.run_id}).set_index("item_id")
    assert set(df["verdict"]) == {"official"} and set(df["benchmark_version"]) == {"2"}
    assert list(df.loc[IDS, "correct"]) == list(df.loc[IDS, "semantic_correct"]) == [True, False, False, False]
    assert "report.json is empty or unreadable" in df.loc[IDS[3], "error"]


def test_import_rejects_inconsistent_files(tmp_path):
    bad = tmp_path / "report.json"
    bad.write_text(json.dumps({IDS[1]: {"resolved": True}}))
    with pytest.raises(DataError, match="django__django-11099 is 'resolved' here but 'unresolved'"):
        sb.import_predictions(FIX / "preds.jsonl", [FIX / "org__agent-8b.run1.json", bad])
    stray = tmp_path / "stray.json"
    stray.write_text(json.dumps({"other__repo-1": {"resolved": True}}))
    with pytest.raises(DataError, match="absent from"):
        sb.import_predictions(FIX / "preds.jsonl", stray)
    notreport = tmp_path / "x.json"
    notreport.write_text(json.dumps({IDS[0]: {"status": "ok"}}))
    with pytest.raises(DataError, match="no 'resolved' flag"):
        sb.import_predictions(FIX / "preds.jsonl", notreport)
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"instance_id": IDS[0], "model_patch": "x"}) + "\n")
    with pytest.raises(DataError, match=r"p\.jsonl:1: missing model_name_or_path"):
        sb.import_predictions(preds, FIX / "logs")


# ---------------------------------------------------------------------------------- agent loop


@pytest.fixture
def repos(tmp_path):
    """<repos>/acme__calc (tests/swe_fixture.py) and its base commit."""
    return tmp_path / "repos", make_calc_repo(tmp_path / "repos")


class ScriptedModel:
    """A fake chat model: replies from a script, records every conversation it was shown."""

    def __init__(self, replies):
        self.replies, self.seen = list(replies), []

    def __call__(self, messages):
        self.seen.append(messages)
        return self.replies.pop(0)


CFG = AgentConfig(allow_host_shell=True, step_limit=10, command_timeout_s=10)


def test_agent_edits_and_submits_a_diff(repos):
    repos_dir, base = repos
    model = ScriptedModel([
        bash_reply("cat calc.py"),
        bash_reply("ls") + "\n\nand also\n\n```bash\npwd\n```",  # two actions: a format error, still a step
        bash_reply("sed -i 's/a - b/a + b/' calc.py && python3 -c 'import calc; print(calc.add(2, 3))'"),
        bash_reply("echo MINI_SWE_AGENT_FINAL_OUTPUT && git add -A && git diff --cached"),
    ])
    with checkout(repos_dir, "acme/calc", base) as wt:
        assert not (wt / LATER_FILE).exists()  # the worktree is at base_commit, not at the clone's HEAD
        res = run_agent("add() subtracts instead of adding", model, wt, CFG)
    assert res.exit_status == "submitted" and res.steps == 4
    assert "-    return a - b\n+    return a + b" in res.patch and res.patch == res.diff_at_exit
    sys_msg, task = model.seen[0][0], model.seen[0][1]
    assert sys_msg["role"] == "system" and "exactly ONE bash code block" in sys_msg["content"]
    assert "add() subtracts instead of adding" in task["content"]
    obs1 = model.seen[1][-1]["content"]
    assert obs1 == "<returncode>0</returncode>\n<output>\ndef add(a, b):\n    return a - b\n</output>"  # no reminder
    assert "EXACTLY ONE action in triple backticks, found 2 actions" in model.seen[2][-1]["content"]
    assert "<output>\n5\n</output>" in model.seen[3][-1]["content"]
    clone = repos_dir / "acme__calc"
    assert (clone / "calc.py").read_text().endswith("a - b\n")  # the user's clone is untouched
    assert len(git(clone, "worktree", "list").splitlines()) == 1  # the worktree is gone


def test_sentinel_alone_still_submits_the_edits_and_step_limit(repos):
    repos_dir, base = repos
    model = ScriptedModel([bash_reply("printf 'x = 1\\n' > new.py"),
                           bash_reply("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT")])
    with checkout(repos_dir, "acme/calc", base) as wt:
        res = run_agent("task", model, wt, CFG)
    assert res.exit_status == "submitted" and "+++ b/new.py" in res.patch and "+x = 1" in res.patch
    model = ScriptedModel([bash_reply("echo edit >> calc.py"), bash_reply("true"), bash_reply("true")])
    cfg = AgentConfig(allow_host_shell=True, step_limit=3, turn_reminder=True)  # the paper's RL-time reminder
    with checkout(repos_dir, "acme/calc", base) as wt:
        res = run_agent("task", model, wt, cfg)
    assert res.exit_status == "step_limit" and res.steps == 3 and res.patch == ""
    obs = [m["content"] for m in res.messages if m["role"] == "user"][1:]
    assert obs[0].endswith("\nREMINDER: You have 2 turns left to arrive at the solution.")
    assert obs[1].endswith("\nREMINDER: You only have 1 turn left. Please provide the final answer")
    assert "+edit" in res.diff_at_exit and "REMINDER" not in obs[2]


def test_command_timeout_and_long_output(repos):
    repos_dir, base = repos
    model = ScriptedModel([bash_reply("sleep 30"), bash_reply("seq 1 20000"),
                           bash_reply("echo MINI_SWE_AGENT_FINAL_OUTPUT")])
    cfg = AgentConfig(allow_host_shell=True, step_limit=5, command_timeout_s=0.5, max_output_chars=1000)
    with checkout(repos_dir, "acme/calc", base) as wt:
        res = run_agent("task", model, wt, cfg)
    assert model.seen[1][-1]["content"].startswith("The last command <command>sleep 30</command> timed out and has "
                                                   "been killed.\nThe output of the command was:")
    long_obs = model.seen[2][-1]["content"]
    assert "<output_head>\n1\n2\n" in long_obs and "19999\n20000\n" in long_obs.split("<output_tail>")[1] and "elided" in long_obs
    assert res.exit_status == "submitted" and res.patch == ""


def test_agent_guards_and_checkout_errors(repos, tmp_path, monkeypatch):
    repos_dir, base = repos
    with pytest.raises(CtxbenchError, match="allow_host_shell"):
        run_agent("t", ScriptedModel([]), tmp_path, AgentConfig(sandbox=False))
    monkeypatch.setattr("ctxbench.envs.shell.available", lambda: (False, "no user namespaces"))
    with pytest.raises(CtxbenchError, match=r"shell sandbox is not usable here \(no user namespaces\).*--allow-host-shell"):
        run_agent("t", ScriptedModel([]), tmp_path, AgentConfig())
    (repos_dir / "plain__dir").mkdir()
    with pytest.raises(DataError, match="not a git repository"), checkout(repos_dir, "plain/dir", base):
        pass
    with pytest.raises(DataError, match=r"no checkout of acme/other.*git clone https://github.com/acme/other.git"), \
            checkout(repos_dir, "acme/other", base):
        pass
    with pytest.raises(DataError, match="commit 0{39}9 of acme/calc is missing; fetch it"), \
            checkout(repos_dir, "acme/calc", "0" * 39 + "9"):
        pass
    assert parse_actions("```bash\nls -la\n```\ntext") == ["ls -la"]
    assert parse_actions("```sh\nls\n```") == []


@pytest.mark.skipif(not __import__("ctxbench.envs.shell").envs.shell.available()[0],
                    reason="shell sandbox unavailable here")
def test_agent_commands_are_confined_to_the_checkout(repos, tmp_path):
    repos_dir, base = repos
    outside = repos_dir / "acme__calc" / "pwned"
    model = ScriptedModel([bash_reply(f"touch {outside}; echo home=$HOME"),
                           bash_reply("echo MINI_SWE_AGENT_FINAL_OUTPUT")])
    with checkout(repos_dir, "acme/calc", base) as wt:
        res = run_agent("task", model, wt, AgentConfig(step_limit=3))  # sandbox on, no host opt-in needed
    obs = model.seen[1][-1]["content"]
    assert "Read-only file system" in obs and "ctxbench-swe-home-" in obs.split("home=")[1]
    assert res.exit_status == "submitted" and not outside.exists()
