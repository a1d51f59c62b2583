"""The Streamlit app's cached, read-only queries over the store.

Why this shape (reference/ecosystem.md §6.2):
- The connection is an `st.cache_resource` keyed on (root, snapshot_id): when ingest publishes a new
  database file the snapshot id changes, the next script run gets a new connection on the new file,
  and sessions still holding the old one keep their consistent snapshot. Old connections are evicted
  (max_entries) and closed when garbage-collected, never while a query uses them.
- Query results are `st.cache_data` keyed on (root, snapshot_id, selection); the connection is never
  an argument (cache_data hashes arguments), it is fetched inside.
- Every query runs on its own `con.cursor()` (a DuckDB connection is not thread-safe and Streamlit
  serves sessions from threads) and binds every value as a parameter: nothing a user types or picks
  is pasted into SQL text.
The analyses are the report's (ctxbench.report), so the app and the report show the same numbers.
"""

from __future__ import annotations

import json

import streamlit as st

from ctxbench.report.data import EVAL_KINDS, latest_run_per_cell, list_ablations, load_ablation
from ctxbench.store.read import connect_readonly, snapshot_id

ALL = "(all)"
PAIR_LIMIT = 500


def state(root: str):
    """The current snapshot id of the store at `root` (None: no database yet)."""
    return snapshot_id(root)


@st.cache_resource(max_entries=4, show_spinner=False)
def connection(root: str, snap):
    """A read-only connection on the snapshot `snap` of `root` (one per snapshot, shared by sessions)."""
    return connect_readonly(root)


def _df(root: str, snap, sql: str, params: list | None = None):
    cur = connection(root, snap).cursor()
    try:
        return cur.execute(sql, params or []).df()
    finally:
        cur.close()


@st.cache_data(max_entries=16, show_spinner=False)
def ablations(root: str, snap):
    return list_ablations(connection(root, snap))


@st.cache_data(max_entries=16, show_spinner=False)
def table_counts(root: str, snap) -> dict:
    from ctxbench.store.schema import TABLES

    return {t: int(_df(root, snap, f'SELECT count(*) AS n FROM "{t}"')["n"].iloc[0]) for t in TABLES}


@st.cache_data(max_entries=8, show_spinner="Computing statistics (bootstrap, permutation tests)…")
def analysis(root: str, snap, name: str, n_boot: int = 1000, n_perm: int = 5000):
    from ctxbench.report.analysis import analyze

    data = load_ablation(connection(root, snap), name)
    return analyze(data, n_boot=n_boot, n_perm=n_perm)


def _eval_runs(root: str, snap, name: str):
    return _df(root, snap, "SELECT * FROM runs WHERE ablation = ? AND kind IN (SELECT unnest(?::VARCHAR[]))",
               [name, list(EVAL_KINDS)])


@st.cache_data(max_entries=32, show_spinner=False)
def item_scores(root: str, snap, name: str, benchmark: str):
    """item_id x arm: mean score over seeds (latest run per arm/seed), for picking items to inspect."""
    df = _df(root, snap, """
        SELECT s.run_id, r.arm, coalesce(r.seed, 0) AS seed, s.benchmark, s.item_id,
               avg(coalesce(s.score, CAST(s.correct AS DOUBLE))) AS score
        FROM samples s JOIN runs r USING (run_id)
        WHERE r.ablation = ? AND s.benchmark = ? AND r.arm IS NOT NULL
          AND r.kind IN (SELECT unnest(?::VARCHAR[]))
        GROUP BY ALL""", [name, benchmark, list(EVAL_KINDS)])
    if df.empty:
        return df
    df, _ = latest_run_per_cell(df, _eval_runs(root, snap, name))
    from ctxbench.report.data import arm_order

    wide = df.pivot_table(index="item_id", columns="arm", values="score", aggfunc="mean")
    wide = wide[arm_order(wide.columns)]
    wide["spread"] = wide.max(axis=1) - wide.min(axis=1)
    return wide.reset_index()


@st.cache_data(max_entries=64, show_spinner=False)
def item_detail(root: str, snap, name: str, benchmark: str, item_id: str):
    """(item row as a dict with parsed prompt/meta, or None; samples: arm, seed, output, extracted,
    correct, score, parse_ok, error) for one item across the ablation's arms and seeds."""
    samples = _df(root, snap, """
        SELECT s.run_id, r.arm, coalesce(r.seed, 0) AS seed, s.benchmark, s.item_uid, s.sample_idx,
               s.output, s.extracted, s.correct, s.score, s.parse_ok, s.error
        FROM samples s JOIN runs r USING (run_id)
        WHERE r.ablation = ? AND s.benchmark = ? AND s.item_id = ? AND r.arm IS NOT NULL
          AND r.kind IN (SELECT unnest(?::VARCHAR[]))
        ORDER BY r.arm, r.seed, s.sample_idx""", [name, benchmark, item_id, list(EVAL_KINDS)])
    if not samples.empty:
        samples, _ = latest_run_per_cell(samples, _eval_runs(root, snap, name))
    uids = samples["item_uid"].dropna().value_counts().index.tolist() if not samples.empty else []
    if uids:
        rows = _df(root, snap, "SELECT * FROM items WHERE item_uid = ?", [uids[0]])
    else:
        rows = _df(root, snap, "SELECT * FROM items WHERE benchmark = ? AND item_id = ?", [benchmark, item_id])
    item = None
    if not rows.empty:
        item = rows.iloc[0].to_dict()
        item["prompt"] = _loads(item.get("prompt_json"), {})
        item["meta"] = _loads(item.get("meta_json"), {})
    return item, samples


def _loads(text, default):
    if not isinstance(text, str):
        return default
    try:
        v = json.loads(text)
    except ValueError:
        return default
    return v if default is None or isinstance(v, type(default)) else default


def prompt_text(prompt: dict) -> str:
    """The text parts joined, as Item.prompt_text() (what evidence offsets index into)."""
    parts = prompt.get("parts") or []
    return "".join(str(p.get("value", "")) for p in parts if isinstance(p, dict) and p.get("type") == "text")


@st.cache_data(max_entries=16, show_spinner=False)
def pair_facets(root: str, snap) -> dict:
    """Distinct domain / split / stage values of the pairs table, and its size."""
    out = {}
    for col in ("domain", "split", "stage"):
        vals = _df(root, snap, f'SELECT DISTINCT "{col}" AS v FROM pairs WHERE "{col}" IS NOT NULL ORDER BY v')
        out[col] = vals["v"].tolist()
    out["n"] = int(_df(root, snap, "SELECT count(*) AS n FROM pairs")["n"].iloc[0])
    return out


def _like(text: str) -> str:
    """An ILIKE pattern matching `text` literally (%, _ and \\ escaped)."""
    esc = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{esc}%"


@st.cache_data(max_entries=64, show_spinner=False)
def pairs_list(root: str, snap, domain: str = ALL, split: str = ALL, stage: str = ALL, search: str = "",
               limit: int = PAIR_LIMIT):
    """Pairs matching the filters (ALL = no filter; search: substring of query/answer/contexts/id)."""
    f = [None if v == ALL else v for v in (domain, split, stage)]
    pat = _like(search.strip()) if search and search.strip() else None
    return _df(root, snap, r"""
        SELECT pair_id, domain, split, stage, source, query, answer
        FROM pairs
        WHERE (? IS NULL OR domain = ?) AND (? IS NULL OR split = ?) AND (? IS NULL OR stage = ?)
          AND (? IS NULL OR pair_id ILIKE ? ESCAPE '\' OR query ILIKE ? ESCAPE '\'
               OR answer ILIKE ? ESCAPE '\' OR ctx_pos ILIKE ? ESCAPE '\' OR ctx_neg ILIKE ? ESCAPE '\')
        ORDER BY pair_id LIMIT ?""",
               [f[0], f[0], f[1], f[1], f[2], f[2], pat, pat, pat, pat, pat, pat, int(limit)])


@st.cache_data(max_entries=64, show_spinner=False)
def pair(root: str, snap, pair_id: str):
    rows = _df(root, snap, "SELECT * FROM pairs WHERE pair_id = ?", [pair_id])
    if rows.empty:
        return None
    p = rows.iloc[0].to_dict()
    p["diff"] = _loads(p.get("diff_json"), None) if p.get("diff_json") else None
    p["meta"] = _loads(p.get("meta_json"), {})
    return p
