"""Hash-keyed jobs: finished jobs are skipped on a re-run, a changed input re-runs, a failure keeps
what finished before it."""

from __future__ import annotations

import pytest

from ctxbench.ablation.jobs import Job, JobRunner


def _graph(calls, fail_on=None, value=1):
    def body(name):
        def fn(ctx):
            calls.append(name)
            if name == fail_on:
                raise RuntimeError("boom")
            return {"v": sum(o["v"] for o in ctx.dep_outputs.values()) + value}
        return fn

    a = Job("pairs", "a", {"x": value}, body("a"))
    b = Job("train", "b", {"arm": "grpo"}, body("b"), deps=[a])
    c = Job("train", "c", {"arm": "contextrl"}, body("c"), deps=[a])
    d = Job("eval", "d", {}, body("d"), deps=[b, c])
    return [d], (a, b, c, d)


def test_rerun_skips_finished_jobs(tmp_path):
    calls = []
    jobs, (a, b, c, d) = _graph(calls)
    out = JobRunner(tmp_path, progress=False).run(jobs)
    assert calls == ["a", "b", "c", "d"] and out[d.key] == {"v": 5}
    calls.clear()
    r = JobRunner(tmp_path, progress=False)
    assert r.run(jobs)[d.key] == {"v": 5}
    assert calls == [] and len(r.skipped) == 4


def test_failure_keeps_finished_and_resumes(tmp_path):
    calls = []
    jobs, _ = _graph(calls, fail_on="c")
    with pytest.raises(RuntimeError):
        JobRunner(tmp_path, progress=False).run(jobs)
    assert calls == ["a", "b", "c"]
    calls.clear()
    jobs, _ = _graph(calls)
    JobRunner(tmp_path, progress=False).run(jobs)
    assert calls == ["c", "d"]


def test_changed_input_changes_downstream_keys(tmp_path):
    calls = []
    jobs, (a, b, c, d) = _graph(calls)
    JobRunner(tmp_path, progress=False).run(jobs)
    calls.clear()
    jobs2, (a2, b2, c2, d2) = _graph(calls, value=2)
    assert a2.key != a.key and d2.key != d.key  # upstream change propagates through keys
    JobRunner(tmp_path, progress=False).run(jobs2)
    assert calls == ["a", "b", "c", "d"]
