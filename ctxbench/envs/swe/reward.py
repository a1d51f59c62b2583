"""The SWE reward: does the patch make the instance's FAIL_TO_PASS tests pass and keep PASS_TO_PASS passing?

Two ways to answer, recorded with every verdict (`how`):
- "harness": the official swebench harness, each instance's tests in its Docker image. It is the
  paper's reward (SkyRL `evaluate_trajectory` -> `resolved`) and the score of record for SWE-bench. The
  callers (trainers/agentic.py, eval/swe.py) run it through the benchmark's own `score`, since this
  layer may not import the benchmarks.
- "local": a local approximation for machines without Docker, and the only way for generated task
  sets, which have no images. It follows the harness's steps on a fresh checkout at the base commit:
  apply the patch (git apply, then `patch --fuzz=5` as the harness falls back to), restore the files
  the test_patch touches, apply the test_patch, run the listed tests with pytest (`-rA`) inside the
  shell sandbox, and read each test's status the way the harness's pytest log parser does; resolved
  when every FAIL_TO_PASS and PASS_TO_PASS test PASSED (or XFAILed). It differs from the harness in
  the environment: the tests run with this interpreter and whatever the repository needs installed
  into it, not the instance's image; and it understands pytest node ids only (Django's and SymPy's
  own runners are refused with a DataError).
"""

from __future__ import annotations

import re
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ctxbench.core.errors import CtxbenchError, DataError
from ctxbench.envs.swe.agent import AgentConfig, checkout, shell_runner

RewardMode = Literal["auto", "harness", "local"]
PASSING = ("PASSED", "XFAIL")
_STATUS = re.compile(r"^(PASSED|FAILED|SKIPPED|ERROR|XFAIL|XPASS)\s+(\S+)")
_NODE = re.compile(r"^[\w./-]+\.py(::[^\s]+)?$")


@dataclass(frozen=True)
class TestVerdict:
    resolved: bool
    how: str                                    # "harness" | "local"
    tests: dict[str, str] = field(default_factory=dict)  # test id -> status (local only)
    error: str | None = None                    # why no test ran (the patch did not apply, ...)

    @property
    def reward(self) -> float:
        return 1.0 if self.resolved else 0.0


def reward_mode(mode: RewardMode, harness_ok: bool, generated: bool) -> str:
    """Which verdict runs: "auto" is the harness where it can run (Docker + swebench) and the instance
    has an official image, else local; asking for the harness where it cannot run is an error."""
    if mode == "local" or (mode == "auto" and (generated or not harness_ok)):
        return "local"
    if generated:
        raise CtxbenchError("rollout.swe_reward = 'harness', but generated SWE tasks have no official images; "
                            "use 'local' or 'auto'")
    if not harness_ok:
        raise CtxbenchError("rollout.swe_reward = 'harness' needs the official swebench harness (a running Docker "
                            "daemon and `pip install swebench`); use 'auto' or 'local' on this machine")
    return "harness"


def check_local_tests(instance: dict) -> None:
    """DataError unless every test of the instance is a pytest node id (what the local verdict runs)."""
    for key in ("FAIL_TO_PASS", "PASS_TO_PASS"):
        for t in instance[key]:
            if not _NODE.match(t):
                raise DataError(f"{instance['instance_id']}: {key} test {t!r} is not a pytest node id; the local "
                                "SWE reward runs pytest only (score this repository with the official harness)")


def parse_pytest(log: str) -> dict[str, str]:
    """test id -> status from `pytest -rA` output (the harness's parse_log_pytest rule)."""
    out: dict[str, str] = {}
    for line in log.splitlines():
        m = _STATUS.match(line.strip())
        if m:
            out[m.group(2)] = m.group(1)
    return out


def _files_of(patch: str) -> list[str]:
    return sorted(set(re.findall(r"^diff --git a/(\S+) b/", patch, re.MULTILINE)))


def local_verdict(instance: dict, patch: str, repos: str | Path, cfg: AgentConfig | None = None,
                  timeout_s: float = 1800.0) -> TestVerdict:
    """Run the instance's tests on its base commit with `patch` applied (see the module docstring);
    `cfg` says how commands are confined (the agent's sandbox settings)."""
    check_local_tests(instance)
    cfg = cfg or AgentConfig()
    if not patch.strip():
        return TestVerdict(False, "local", error="empty patch")
    scratch = Path(tempfile.mkdtemp(prefix="ctxbench-swe-eval-"))
    try:
        (scratch / "model.patch").write_text(patch if patch.endswith("\n") else patch + "\n", encoding="utf-8")
        (scratch / "test.patch").write_text(instance["test_patch"], encoding="utf-8")
        with checkout(repos, instance["repo"], instance["base_commit"]) as wt:
            run = shell_runner(cfg, wt, scratch)
            p = scratch / "model.patch"
            rc, out, _ = run(f"git apply --whitespace=nowarn {p} || patch --batch --fuzz=5 -p1 -i {p}", 120.0)
            if rc != 0:
                return TestVerdict(False, "local", error=f"the patch did not apply: {out.strip()[-300:]}")
            files = _files_of(instance["test_patch"])
            if files:  # the test files as at the base commit (the model's edits to them do not count)
                quoted = " ".join(f"'{f}'" for f in files)
                run(f"rm -f {quoted}; git checkout {instance['base_commit']} -- {quoted} 2>/dev/null; true", 120.0)
            rc, out, _ = run(f"git apply --whitespace=nowarn {scratch / 'test.patch'}", 120.0)
            if rc != 0:
                return TestVerdict(False, "local", error=f"the test patch did not apply: {out.strip()[-300:]}")
            tests = list(dict.fromkeys(instance["FAIL_TO_PASS"] + instance["PASS_TO_PASS"]))
            ids = " ".join(f"'{t}'" for t in tests)
            rc, out, timed_out = run(f"{sys.executable} -m pytest -rA --tb=no -p no:cacheprovider {ids}", timeout_s)
            status = parse_pytest(out)
            got = {t: status.get(t, "MISSING") for t in tests}
            ok = all(s in PASSING for s in got.values())
            return TestVerdict(ok, "local", got, error="the tests timed out" if timed_out else None)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


__all__ = ["PASSING", "RewardMode", "TestVerdict", "check_local_tests", "local_verdict", "parse_pytest",
           "reward_mode"]
