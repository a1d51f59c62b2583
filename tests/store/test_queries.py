"""The store's query functions (ctxbench.store.queries): what each returns on a known synthetic
ablation, that one connection serves many threads, and that quotes and semicolons in any string
parameter stay values (empty results, every table intact), never SQL.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import duckdb
import pytest
from ablation_fixture import ARMS, BENCHMARKS, SEEDS, make_store

from ctxbench.core.errors import CtxbenchError
from ctxbench.core.paths import db_path
from ctxbench.store import queries as q
from ctxbench.store.read import connect_readonly
from ctxbench.store.schema import TABLES

N_ITEMS = 4
N_PROBE = 16  # 8 held-out pairs x 2 A/B orders
N_EVAL_RUNS = len(ARMS) * len(SEEDS) + 1  # + the untrained base
EVIL = ("x'; DROP TABLE samples; --", "x' OR '1'='1", 'x"; DROP TABLE runs; --', "'); DELETE FROM pairs; --")


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    root = tmp_path_factory.mktemp("queries") / "runs"
    make_store(root, n_items=N_ITEMS)
    c = connect_readonly(root)
    yield c
    c.close()


def test_runs_filters_order_and_columns(con):
    every = q.runs(con)
    assert len(every) == N_EVAL_RUNS + len(ARMS) * len(SEEDS) + 6  # eval, train, 6 import runs
    keys = list(zip(every["created_at"], every["run_id"]))
    assert keys == sorted(keys)  # oldest first, ties by run_id
    assert set(q.runs(con, kinds="train")["kind"]) == {"train"}
    evals = q.runs(con, kinds=q.EVAL_KINDS, ablation="abl-test")
    assert len(evals) == N_EVAL_RUNS and set(evals["kind"]) == {"eval"}
    assert list(q.runs(con, columns=("run_id", "kind")).columns) == ["run_id", "kind"]
    with pytest.raises(CtxbenchError, match="runs has no column 'knd'"):
        q.runs(con, columns=("run_id", "knd"))


def test_benchmark_results_per_run_and_benchmark(con):
    res = q.benchmark_results(con, kind="eval")
    assert list(res.columns) == ["run_id", "model", "arm", "seed", "benchmark", "version", "n", "accuracy",
                                 "parse_fail"]
    assert len(res) == N_EVAL_RUNS * (len(BENCHMARKS) + 1)
    assert list(zip(res["run_id"], res["benchmark"])) == sorted(zip(res["run_id"], res["benchmark"]))
    assert set(res.loc[res["benchmark"] != "probe", "n"]) == {N_ITEMS}
    assert set(res.loc[res["benchmark"] == "probe", "n"]) == {N_PROBE}
    assert set(res["parse_fail"]) == {0}
    row = res.iloc[5]  # accuracy is the mean of `correct`; the fixture's score is float(correct)
    items = q.ablation_items(con, "abl-test", benchmark=row["benchmark"])
    assert row["accuracy"] == items.loc[items["run_id"] == row["run_id"], "score"].mean()
    assert q.benchmark_results(con, kind="train").empty  # training runs score no samples
    assert len(q.benchmark_results(con)) == len(res)


def test_ablation_queries(con):
    abl = q.ablations(con)
    assert abl[["ablation", "n_runs", "n_eval", "n_train", "n_import"]].values.tolist() == [
        ["abl-test", N_EVAL_RUNS + 12, N_EVAL_RUNS, 12, 0]]
    items = q.ablation_items(con, "abl-test")
    assert len(items) == N_EVAL_RUNS * (len(BENCHMARKS) * N_ITEMS + N_PROBE)
    per_run = len(BENCHMARKS) * N_ITEMS + N_PROBE
    assert set(items["n_samples"]) == {1} and items["seed"].isna().sum() == per_run  # the base has no seed
    assert set(q.ablation_items(con, "abl-test", benchmark="niah")["benchmark"]) == {"niah"}
    scores = q.eval_sample_scores(con, "abl-test")
    assert "base" not in set(scores["arm"]) and len(scores) == len(items) - per_run
    train = q.ablation_train_metrics(con, "abl-test")
    assert set(train["run_id"]) == set(q.runs(con, kinds="train")["run_id"])
    assert list(train.columns) == ["run_id", "arm", "seed", "step", "name", "value"]
    assert q.aggregates(con, "abl-test").empty  # the fixture's published table belongs to no ablation
    pub = q.aggregates(con, None)
    assert len(pub) == 18 and set(pub["table_key"]) == {"paper-table-2-hash"}


def test_item_and_pair_queries(con):
    samples = q.item_samples(con, "abl-test", "niah", "niah-001")
    assert len(samples) == N_EVAL_RUNS and samples.loc[samples["arm"] == "base", "seed"].tolist() == [0]
    by_id = q.item_rows(con, "niah", "niah-001")
    assert len(by_id) == 1
    assert q.item_rows(con, "niah", "niah-001", by_id["item_uid"].iloc[0]).equals(by_id)
    assert q.item_rows(con, "niah", "niah-001", "no-such-uid").empty
    assert q.pair_facets(con) == {"domain": ["code", "text"], "split": ["test", "train"], "stage": ["final"],
                                  "n": 24}
    assert len(q.find_pairs(con, limit=500)) == 24
    assert len(q.find_pairs(con, limit=3)) == 3
    picked = q.find_pairs(con, domain="text", split="test", limit=500)["pair_id"]
    assert picked.tolist() == ["pair-003", "pair-009", "pair-015", "pair-021"]
    assert len(q.find_pairs(con, search=" PAIR-00 ", limit=500)) == 10  # case-insensitive, blanks ignored
    assert q.find_pairs(con, search="%", limit=500).empty  # % and _ are literal, not wildcards
    assert q.find_pairs(con, search="pair_00", limit=500).empty
    assert q.pair_row(con, "pair-001")["answer"].tolist() == ["101"]
    assert q.pair_row(con, "pair-999").empty


def test_table_counts_cover_the_schema(con):
    counts = q.table_counts(con)
    assert set(counts) == set(TABLES) and counts["pairs"] == 24 and counts["checkpoints"] == 0


def test_one_connection_serves_many_threads(con):
    """Streamlit serves sessions from threads that share one connection: each query takes its own cursor."""
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: len(q.benchmark_results(con)), range(16)))
    assert got == [N_EVAL_RUNS * (len(BENCHMARKS) + 1)] * 16


def test_quotes_and_semicolons_are_values_not_sql(tmp_path):
    """Every string parameter gets hostile text, on a *writable* connection (so an injected DROP or
    DELETE would succeed): every result is empty and every table keeps its rows."""
    root = tmp_path / "runs"
    make_store(root, n_items=2, published=False)
    con = duckdb.connect(str(db_path(root)))
    try:
        before = q.table_counts(con)
        for evil in EVIL:
            results = [
                q.runs(con, kinds=evil), q.runs(con, ablation=evil), q.benchmark_results(con, kind=evil),
                q.ablation_items(con, evil), q.ablation_items(con, "abl-test", benchmark=evil),
                q.eval_sample_scores(con, evil), q.ablation_train_metrics(con, evil), q.aggregates(con, evil),
                q.item_samples(con, evil, "niah", "niah-001"), q.item_samples(con, "abl-test", evil, "niah-001"),
                q.item_samples(con, "abl-test", "niah", evil), q.item_rows(con, evil, "niah-001"),
                q.item_rows(con, "niah", evil), q.item_rows(con, "niah", "niah-001", evil),
                q.find_pairs(con, domain=evil, limit=10), q.find_pairs(con, split=evil, limit=10),
                q.find_pairs(con, stage=evil, limit=10), q.find_pairs(con, search=evil, limit=10),
                q.pair_row(con, evil),
            ]
            assert [len(r) for r in results] == [0] * len(results), evil
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        assert set(TABLES) <= tables
        assert q.table_counts(con) == before and before["samples"] > 0 and before["pairs"] > 0
    finally:
        con.close()


def test_the_arrow_fetch_gives_the_frame_df_gives(con):
    """ablation_items and eval_sample_scores fetch through Arrow (a million rows of strings: .df() builds a
    Python str per value); the frame must be exactly what .df() gives, NULL-holding columns included."""
    import pandas as pd

    from ctxbench.store.queries import _arrow_frame

    items = q.ablation_items(con, "abl-test")
    assert items["seed"].isna().any()  # the base has no seed: a nullable integer column
    cases = [
        "SELECT * FROM samples ORDER BY key", "SELECT * FROM runs ORDER BY run_id",
        ("SELECT CAST(NULL AS INTEGER) AS i, CAST(NULL AS BOOLEAN) AS b, true AS t, CAST(NULL AS VARCHAR) AS s, "
         "CAST(NULL AS DOUBLE) AS d, CAST(NULL AS BIGINT) AS g, TIMESTAMP '2026-01-02 03:04:05' AS ts "
         "UNION ALL SELECT 1, true, false, 'x', 1.5, 7, NULL"),
        "SELECT CAST(NULL AS INTEGER) AS i, CAST(NULL AS BOOLEAN) AS b, CAST(NULL AS VARCHAR) AS s",
        "SELECT 1 AS x WHERE false",
    ]
    for sql in cases:
        pd.testing.assert_frame_equal(_arrow_frame(con.cursor().sql(sql).to_arrow_table()), con.cursor().sql(sql).df())
    sql_items = ("SELECT * FROM (SELECT s.run_id, r.arm, r.seed, s.item_id, s.score FROM samples s JOIN runs r "
                 "USING (run_id)) ORDER BY run_id, item_id")
    pd.testing.assert_frame_equal(_arrow_frame(con.cursor().sql(sql_items).to_arrow_table()),
                                  con.cursor().sql(sql_items).df())
    order = list(zip(items["benchmark"], items["arm"], items["seed"].fillna(10**6), items["item_id"]))
    assert order == sorted(order)  # benchmark first: the order the report compares rows in
