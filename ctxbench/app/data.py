"""The Streamlit app's cached reads of the store (the queries themselves are ctxbench.store.queries).

Why this shape (Streamlit's documented caching model: cache_resource for connections, cache_data for
results):
- The connection is an `st.cache_resource` keyed on (root, snapshot_id): when ingest publishes a new
  database file the snapshot id changes, the next script run gets a new connection on the new file,
  and sessions still holding the old one keep their consistent snapshot. Old connections are evicted
  (max_entries) and closed when garbage-collected, never while a query uses them.
- Query results are `st.cache_data` keyed on (root, snapshot_id, selection); the connection is never
  an argument (cache_data hashes arguments), it is fetched inside.
- The store's query functions run each query on its own `con.cursor()` (a DuckDB connection is not
  thread-safe and Streamlit serves sessions from threads) and bind every value as a parameter:
  nothing a user types or picks is pasted into SQL text.
The analyses are the report's (ctxbench.report), so the app and the report show the same numbers;
`ctxbench ls` reads runs through the same functions.
"""

from __future__ import annotations

import json

import streamlit as st

from ctxbench.report.data import arm_order, latest_run_per_cell, load_ablation
from ctxbench.store import queries
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


@st.cache_data(max_entries=16, show_spinner=False)
def ablations(root: str, snap):
    return queries.ablations(connection(root, snap))


@st.cache_data(max_entries=16, show_spinner=False)
def table_counts(root: str, snap) -> dict:
    return queries.table_counts(connection(root, snap))


@st.cache_data(max_entries=8, show_spinner="Computing statistics (bootstrap, permutation tests)…")
def analysis(root: str, snap, name: str, n_boot: int = 1000, n_perm: int = 5000):
    from ctxbench.report.analysis import analyze

    data = load_ablation(connection(root, snap), name)
    return analyze(data, n_boot=n_boot, n_perm=n_perm)


def _eval_runs(root: str, snap, name: str):
    return queries.runs(connection(root, snap), kinds=queries.EVAL_KINDS, ablation=name)


@st.cache_data(max_entries=32, show_spinner=False)
def item_scores(root: str, snap, name: str, benchmark: str):
    """item_id x arm: mean score over seeds (latest run per arm/seed), for picking items to inspect."""
    df = queries.ablation_items(connection(root, snap), name, benchmark=benchmark)
    df = df[df["arm"].notna()]
    if df.empty:
        return df
    df = df.assign(seed=df["seed"].fillna(0).astype(int))
    df, _ = latest_run_per_cell(df, _eval_runs(root, snap, name))
    wide = df.pivot_table(index="item_id", columns="arm", values="score", aggfunc="mean")
    wide = wide[arm_order(wide.columns)]
    wide["spread"] = wide.max(axis=1) - wide.min(axis=1)
    return wide.reset_index()


@st.cache_data(max_entries=64, show_spinner=False)
def item_detail(root: str, snap, name: str, benchmark: str, item_id: str):
    """(item row as a dict with parsed prompt/meta, or None; samples: arm, seed, output, extracted,
    correct, score, parse_ok, error) for one item across the ablation's arms and seeds."""
    con = connection(root, snap)
    samples = queries.item_samples(con, name, benchmark, item_id)
    if not samples.empty:
        samples, _ = latest_run_per_cell(samples, _eval_runs(root, snap, name))
    uids = samples["item_uid"].dropna().value_counts().index.tolist() if not samples.empty else []
    rows = queries.item_rows(con, benchmark, item_id, uids[0] if uids else None)
    item = None
    if not rows.empty:
        item = rows.iloc[0].to_dict()
        item["prompt"] = _loads(item.get("prompt_json"), {})
        item["meta"] = _loads(item.get("meta_json"), {})
    return item, samples


@st.cache_data(max_entries=32, show_spinner=False)
def verdict_disagreements(root: str, snap, name: str, benchmark: str):
    """Samples whose official and semantic verdicts differ (latest run per arm/seed), for the Verdicts page."""
    df = queries.verdict_disagreements(connection(root, snap), name, benchmark)
    if not df.empty:
        df, _ = latest_run_per_cell(df.assign(benchmark=benchmark), _eval_runs(root, snap, name))
    return df


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
    return queries.pair_facets(connection(root, snap))


@st.cache_data(max_entries=64, show_spinner=False)
def pairs_list(root: str, snap, domain: str = ALL, split: str = ALL, stage: str = ALL, search: str = "",
               limit: int = PAIR_LIMIT):
    """Pairs matching the filters (ALL = no filter; search: substring of query/answer/contexts/id)."""
    dom, spl, stg = (None if v == ALL else v for v in (domain, split, stage))
    return queries.find_pairs(connection(root, snap), domain=dom, split=spl, stage=stg, search=search,
                              limit=limit)


@st.cache_data(max_entries=64, show_spinner=False)
def pair(root: str, snap, pair_id: str):
    rows = queries.pair_row(connection(root, snap), pair_id)
    if rows.empty:
        return None
    p = rows.iloc[0].to_dict()
    p["diff"] = _loads(p.get("diff_json"), None) if p.get("diff_json") else None
    p["meta"] = _loads(p.get("meta_json"), {})
    return p
