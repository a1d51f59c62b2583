"""`ctxbench ls`: runs and per-benchmark results printed from the store through its query functions."""

from __future__ import annotations

import pytest
from ablation_fixture import ARMS, BENCHMARKS, SEEDS, make_store
from cli_fixture import cli

N_EVAL_RUNS = len(ARMS) * len(SEEDS) + 1  # + the untrained base


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = tmp_path_factory.mktemp("ls") / "runs"
    make_store(r, n_items=3)
    return r


def table(out: str) -> tuple[list[str], list[list[str]]]:
    lines = out.strip().splitlines()
    return lines[0].split(), [ln.split() for ln in lines[1:]]


def test_ls_runs_oldest_first_and_by_kind(root):
    rc, out, _ = cli("--root", str(root), "ls")
    head, rows = table(out)
    assert rc == 0 and head == ["run_id", "kind", "status", "model", "arm", "seed", "ablation", "ckpt_id",
                                "created_at"]
    assert len(rows) == N_EVAL_RUNS + len(ARMS) * len(SEEDS) + 6  # eval, train and 6 import runs
    assert rows[0][0] == "eval-abl-test-grpo-0" and rows[-1][1] == "import"
    rc, out, _ = cli("--root", str(root), "ls", "runs", "--kind", "train")
    assert {r[1] for r in table(out)[1]} == {"train"}
    assert cli("--root", str(root), "ls", "--kind", "x'; DROP TABLE runs; --")[1] == "(nothing)\n"


def test_ls_results_per_run_and_benchmark(root):
    rc, out, _ = cli("--root", str(root), "ls", "results", "--kind", "eval")
    head, rows = table(out)
    assert rc == 0 and head == ["run_id", "model", "arm", "seed", "benchmark", "version", "n", "accuracy",
                                "parse_fail"]
    assert len(rows) == N_EVAL_RUNS * (len(BENCHMARKS) + 1)  # + the probe
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)
    assert cli("--root", str(root), "ls", "results", "--kind", "train")[1] == "(nothing)\n"


def test_ls_without_a_database_says_to_ingest(tmp_path):
    rc, _, err = cli("--root", str(tmp_path / "none"), "ls")
    assert rc != 0 and "ctxbench ingest" in err
