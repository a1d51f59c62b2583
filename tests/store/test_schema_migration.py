"""Shards written before the one-key-recipe change (store schema 1) ingest cleanly: their derived keys
are recomputed, a re-run's new rows replace them instead of doubling them, and a database built at
schema 1 is rebuilt by the next ingest."""

from __future__ import annotations

import duckdb
import pyarrow.parquet as pq

from ctxbench.core.hashing import stable_hash
from ctxbench.eval.rows import item_row, sample_row
from ctxbench.store.ingest import ingest
from ctxbench.store.schema import SCHEMA_VERSION, item_uid, sample_key
from ctxbench.store.shards import iter_shards, read_keys, read_table, write_shard

RUN = "vlmeval-0123456789abcdef"


def _v1_rows(n: int = 5) -> tuple[list[dict], list[dict]]:
    """Item and sample rows as the schema-1 VLMEvalKit bridge keyed them (its own recipes)."""
    items, samples = [], []
    for i in range(n):
        iid, ph = f"q{i}", stable_hash([i])
        items.append({**item_row("MMStar", "1", iid, ph, parts=[], answer="A"),
                      "item_uid": stable_hash(["MMStar@1", iid, ph])})  # lm-eval-style uid
        row = sample_row(run_id=RUN, ckpt_id="ck", benchmark="MMStar", version="1", item_id=iid, prompt_hash=ph,
                         config_hash="h", lib_versions="{}", output="A", extracted="A", correct=True, score=1.0,
                         parse_ok=True)
        row["key"] = stable_hash(["ck", "MMStar@1", iid, ph, "vlmeval", {}], 24)  # the old bridge's recipe
        row["item_uid"] = stable_hash(["MMStar@1", iid, ph])
        samples.append(row)
    return items, samples


def _write_v1(root, table: str, rows: list[dict], name: str) -> None:
    """A shard exactly as schema 1 wrote it: no schema marker in the Parquet metadata."""
    path = write_shard(root, table, rows, name=name)
    t = pq.read_table(path)
    pq.write_table(t.replace_schema_metadata(None), path, compression="zstd")


def _db(root, sql: str):
    con = duckdb.connect(str(root / "ctxbench.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_new_shards_carry_the_schema_version(root):
    items, _ = _v1_rows(1)
    path = write_shard(root, "items", items, name="x")
    assert pq.read_schema(path).metadata[b"ctxbench.schema"] == str(SCHEMA_VERSION).encode()


def test_old_shards_are_upgraded_and_a_rerun_does_not_duplicate(root):
    items, samples = _v1_rows()
    _write_v1(root, "items", items, "old-items")
    _write_v1(root, "samples", samples, "old-samples")
    ingest(root, progress=False)
    keys = {r[0] for r in _db(root, "SELECT key FROM samples")}
    want = {sample_key(RUN, item_uid("MMStar", "1", s["item_id"], s["prompt_hash"]), 0) for s in samples}
    assert keys == want and len(keys) == 5  # recomputed with today's recipe, none of the old keys left
    assert {s["key"] for s in samples}.isdisjoint(keys)
    assert _db(root, "SELECT count(*) FROM items")[0][0] == 5
    assert _db(root, "SELECT count(*) FROM samples s JOIN items i USING (item_uid)")[0][0] == 5  # uids join
    # shard readers see the same keys as the database (resume reads shards, not the database)
    assert read_keys(root, "samples", RUN) == want
    assert set(read_table(root, "samples", {"key": sorted(want)[:2]})["key"]) == set(sorted(want)[:2])
    # the same samples written again by today's writer (a re-run after the upgrade): replaced, not doubled
    rerun = [sample_row(run_id=RUN, ckpt_id="ck", benchmark="MMStar", version="1", item_id=s["item_id"],
                        prompt_hash=s["prompt_hash"], config_hash="h", lib_versions="{}", output="B", extracted="B",
                        correct=False, score=0.0, parse_ok=True) for s in samples]
    write_shard(root, "samples", rerun, name="new-samples")
    ingest(root, progress=False)
    assert _db(root, "SELECT count(*), count(DISTINCT key), sum(score) FROM samples")[0] == (5, 5, 0.0)
    # and a rebuild from all shards, old and new, gives the same rows
    ingest(root, fresh=True, progress=False)
    assert _db(root, "SELECT count(*), sum(score) FROM samples")[0] == (5, 0.0)


def test_a_database_built_at_an_older_schema_is_rebuilt(root, capsys):
    items, samples = _v1_rows(3)
    write_shard(root, "items", items, name="items")
    ingest(root, progress=False)
    con = duckdb.connect(str(root / "ctxbench.duckdb"))
    con.execute("UPDATE _meta SET v = '1' WHERE k = 'schema_version'")
    con.execute("DELETE FROM items")  # what an older build would hold differently
    con.close()
    assert ingest(root, progress=False)["items"] == 3
    assert "rebuilding it from the shards" in capsys.readouterr().err
    assert _db(root, "SELECT v FROM _meta WHERE k = 'schema_version'") == [(str(SCHEMA_VERSION),)]
    assert len(list(iter_shards(root, "items"))) == 1
