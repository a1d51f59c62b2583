"""The SWE reward on a generated task set: a correct patch resolves, a wrong or empty one does not, and
the choice between the official harness and the local approximation is explicit."""

from __future__ import annotations

import json

import pytest

from ctxbench.core.errors import CtxbenchError, DataError
from ctxbench.envs.swe.reward import check_local_tests, local_verdict, parse_pytest, reward_mode
from ctxbench.envs.swe.tasks import generated_task_set, repos_dir, resolve_data_path
from ctxbench.envs.swe.templates import observation, turn_reminder


def _instances(folder) -> dict[str, dict]:
    rows = [json.loads(ln) for ln in (folder / "instances.jsonl").read_text().splitlines()]
    for r in rows:
        r["FAIL_TO_PASS"], r["PASS_TO_PASS"] = json.loads(r["FAIL_TO_PASS"]), json.loads(r["PASS_TO_PASS"])
    return {r["instance_id"]: r for r in rows}


@pytest.fixture(scope="module")
def micro():
    folder = generated_task_set("swe-micro")
    return folder, _instances(folder)


def test_generated_task_set_is_deterministic(micro, tmp_path, monkeypatch):
    folder, insts = micro
    assert resolve_data_path("generated:swe-micro") == str(folder) and repos_dir(folder) == folder / "repos"
    monkeypatch.setenv("CTXBENCH_CACHE", str(tmp_path))
    again = _instances(generated_task_set("swe-micro"))
    assert {i: r["base_commit"] for i, r in again.items()} == {i: r["base_commit"] for i, r in insts.items()}
    with pytest.raises(DataError, match="unknown generated SWE task set 'swe-mikro'.*swe-micro"):
        resolve_data_path("generated:swe-mikro")


@pytest.mark.skipif(not __import__("ctxbench.envs.shell").envs.shell.available()[0],
                    reason="shell sandbox unavailable here")
def test_correct_patch_resolves_wrong_and_empty_do_not(micro):
    folder, insts = micro
    inst = insts["gen__calc-1"]
    ok = local_verdict(inst, inst["patch"], repos_dir(folder))
    assert ok.resolved and ok.reward == 1.0 and ok.how == "local"
    assert ok.tests == {"tests/test_calc.py::test_add": "PASSED", "tests/test_calc.py::test_mul": "PASSED"}
    wrong = local_verdict(inst, inst["patch"].replace("a + b", "a * b"), repos_dir(folder))
    assert not wrong.resolved and wrong.tests["tests/test_calc.py::test_add"] == "FAILED"
    breaks = local_verdict(inst, inst["patch"].replace("a + b", "a + b\n\n\ndef mul(a, b):\n    return 0"),
                           repos_dir(folder))
    assert not breaks.resolved  # the fix lands but PASS_TO_PASS (test_mul) breaks, or the patch is refused
    assert local_verdict(inst, "", repos_dir(folder)).error == "empty patch"
    assert "did not apply" in local_verdict(inst, "not a diff\n", repos_dir(folder)).error


def test_reward_mode_and_local_test_ids():
    assert reward_mode("auto", harness_ok=True, generated=False) == "harness"
    assert reward_mode("auto", harness_ok=False, generated=False) == "local"
    assert reward_mode("auto", harness_ok=True, generated=True) == "local"
    with pytest.raises(CtxbenchError, match="needs the official swebench harness"):
        reward_mode("harness", harness_ok=False, generated=False)
    with pytest.raises(CtxbenchError, match="generated SWE tasks have no official images"):
        reward_mode("harness", harness_ok=True, generated=True)
    django = {"instance_id": "django__django-1", "FAIL_TO_PASS": ["test_x (admin.tests.T)"], "PASS_TO_PASS": []}
    with pytest.raises(DataError, match=r"django__django-1: FAIL_TO_PASS test .* is not a pytest node id"):
        check_local_tests(django)
    log = "PASSED tests/a.py::test_x\nFAILED tests/a.py::test_y - AssertionError\nnoise\nXFAIL tests/a.py::t[1]"
    assert parse_pytest(log) == {"tests/a.py::test_x": "PASSED", "tests/a.py::test_y": "FAILED",
                                 "tests/a.py::t[1]": "XFAIL"}


def test_observation_texts_follow_the_paper_config():
    assert observation(0, "hi\n") == "<returncode>0</returncode>\n<output>\nhi\n</output>"
    long = observation(1, "x" * 30, max_chars=10)
    assert long.startswith("<returncode>1</returncode>\n<warning>\nThe output of your last command was too long.")
    assert "</warning><output_head>\nxxxxx\n</output_head>\n<elided_chars>\n20 characters elided" in long
    assert turn_reminder(3) == "\nREMINDER: You have 3 turns left to arrive at the solution."
    assert turn_reminder(0) == ""
