"""`ctxbench rescore RUN`: verdicts recomputed from stored outputs, no model, never mixed across versions."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))
from cli_fixture import cli  # noqa: E402
from fakes import ScriptedBackend, ToyRecall  # noqa: E402

from ctxbench.benchmarks import BENCHMARKS  # noqa: E402
from ctxbench.benchmarks.base import Score  # noqa: E402
from ctxbench.core.errors import CtxbenchError  # noqa: E402
from ctxbench.eval.config import EvalConfig  # noqa: E402
from ctxbench.eval.harness import run_eval  # noqa: E402
from ctxbench.eval.rescore import rescore  # noqa: E402


class StrictToyRecall(ToyRecall):
    """toy-recall v2: an 'official' scorer that accepts the number only when it ends the reply."""

    version = "2"
    official_scorer = "toy: the reply's last token"

    def score_official(self, item, completion):
        tail = completion.strip().split()[-1:] or [""]
        ok = tail[0] == item.answer
        return Score(tail[0] or None, ok, float(ok), bool(tail[0])), "official"


def _db(root, sql):
    con = duckdb.connect(str(root / "ctxbench.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def evaluated(root):
    rep = run_eval(EvalConfig(benchmarks=("toy-recall",), limit=12), root, backend=ScriptedBackend(),
                   extra_run={"arm": "grpo", "seed": 1, "ablation": "abl"}, progress=False)
    return rep.run_id


def test_rescore_writes_todays_verdicts_under_todays_version_without_a_model(root, evaluated, monkeypatch):
    import ctxbench.models.loader as loader

    monkeypatch.setattr(loader, "load_backend", lambda *a, **k: pytest.fail("rescore must not load a model"))
    monkeypatch.setitem(BENCHMARKS._items, "toy-recall", StrictToyRecall)
    res = rescore(root, evaluated)
    assert res.run_id != evaluated
    old = _db(root, f"SELECT item_id, output, correct FROM samples WHERE run_id = '{evaluated}' ORDER BY 1")
    new = _db(root, f"SELECT item_id, output, correct, semantic_correct, verdict, benchmark_version FROM samples "
                    f"WHERE run_id = '{res.run_id}' ORDER BY 1")
    assert [r[:2] for r in new] == [r[:2] for r in old]  # the stored outputs, item for item
    assert {r[4] for r in new} == {"official"} and {r[5] for r in new} == {"2"}
    assert [r[3] for r in new] == [r[2] for r in old]  # semantic = the v1 reading
    # the official column is the strict rule applied to the stored output
    answers = {f"toy-{i:03d}": str(100 + i) for i in range(24)}
    assert [r[2] for r in new] == [(r[1].strip().split()[-1:] or [""])[0] == answers[r[0]] for r in new]
    assert res.counts["toy-recall"][3] == sum(a[2] != b[2] for a, b in zip(old, new))
    labels = _db(root, f"SELECT arm, seed, ablation FROM runs WHERE run_id = '{res.run_id}'")
    assert labels == [("grpo", 1, "abl")]
    assert _db(root, f"SELECT count(*) FROM samples WHERE run_id = '{evaluated}'") == [(12,)]  # untouched
    again = rescore(root, evaluated)  # idempotent: the same run, the same keys
    assert again.run_id == res.run_id
    assert _db(root, f"SELECT count(*) FROM samples WHERE run_id = '{res.run_id}'") == [(12,)]


def test_rescore_refuses_what_it_cannot_read(root):
    with pytest.raises(CtxbenchError, match="no run"):
        rescore(root, "eval-missing")


def test_cli(root, evaluated):
    rc, out, err = cli("--root", str(root), "rescore", evaluated)
    assert rc == 0, err
    assert "rescored" in out and "toy-recall" in out
    rc, _, err = cli("--root", str(root), "rescore", "eval-nope")
    assert rc == 2 and "no run 'eval-nope'" in err
