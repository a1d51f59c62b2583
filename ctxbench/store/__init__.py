"""The results store: append-only Parquet shards (written by runs), one idempotent ingest into
DuckDB (the only DB writer), read-only snapshots for the report and the app.

pyarrow and duckdb are imported inside functions, so importing this package stays cheap.
Note: `ctxbench.store.ingest` is the *function* here; the module is
`importlib.import_module("ctxbench.store.ingest")`.
"""

from ctxbench.store.ingest import ingest, rebuild
from ctxbench.store.read import connect_readonly, snapshot_id
from ctxbench.store.schema import TABLES, Table, item_uid, sample_key
from ctxbench.store.shards import iter_shards, read_keys, read_table, write_shard

__all__ = ["TABLES", "Table", "connect_readonly", "ingest", "item_uid", "iter_shards", "read_keys",
           "read_table", "rebuild", "sample_key", "snapshot_id", "write_shard"]
