"""The Streamlit app under AppTest: every page on a missing store, an empty database, a populated
store, and while ingests publish new snapshots; selectors driven like a user would.

Why: the app is opened next to running ablations, so it must never crash (missing file, empty
tables, a database replaced under it) and must pick up new data by itself; and the drill-down and
pair views must escape what they show and keep user input out of SQL.
"""

from __future__ import annotations

import threading
import time

import pytest
from ablation_fixture import add_eval_run, make_store
from app_fixture import assert_ok, goto, open_app, texts

from ctxbench.store import ingest

PAGES = ("Overview", "Deltas", "Attribution", "Training curves", "Mechanism", "Verdicts", "Item drill-down",
         "Contrastive pairs", "Published tables")


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("app") / "runs"
    make_store(root, n_items=16)
    return root


def test_missing_store_explains_how_to_create_one(tmp_path, monkeypatch):
    at = open_app(tmp_path / "nothing-here", monkeypatch)
    at.run()
    assert_ok(at)
    assert "No database at" in texts(at, "info") and "ctxbench run-ablation" in texts(at, "info")


def test_empty_database_every_page(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    ingest(root, progress=False)  # a database with every table and no rows
    at = open_app(root, monkeypatch)
    at.run()
    for page in PAGES:
        goto(at, page)
        assert at.info, page
    assert "no ablation yet" in texts(at, "info")
    goto(at, "Contrastive pairs")
    assert "No contrastive pairs" in texts(at, "info")


def test_populated_store_every_page_and_selectors(store, monkeypatch):
    at = open_app(store, monkeypatch)
    at.run()
    assert_ok(at)
    assert "Verdict: " in texts(at, "success") + texts(at, "warning")
    assert len(at.get("plotly_chart")) == 1 and at.sidebar.selectbox(key="ablation").value == "abl-test"
    for page in PAGES:
        goto(at, page)
        if page not in ("Item drill-down", "Contrastive pairs"):
            assert at.get("plotly_chart"), page

    goto(at, "Deltas")
    at.multiselect(key="delta_arms").unselect("base").run()
    assert_ok(at)
    assert "base" not in set(at.dataframe[0].value["arm"])
    goto(at, "Attribution")
    at.selectbox(key="attr_benchmark").select("niah").run()
    assert_ok(at)
    goto(at, "Training curves")
    at.multiselect(key="curve_names").set_value(["KL"]).run()
    assert_ok(at)
    assert set(at.dataframe[0].value["curve"]) == {"KL"}


def test_item_drilldown_shows_every_arm_and_seed_with_evidence(store, monkeypatch):
    at = open_app(store, monkeypatch)
    at.run()
    goto(at, "Item drill-down")
    at.selectbox(key="item_benchmark").select("niah").run()
    at.selectbox(key="item_id").select("niah-003").run()
    assert_ok(at)
    (box,) = at.get("html")
    body = box.proto.body
    assert '<mark class="evidence"' in body and "The special magic number for city3 is 1003.</mark>" in body
    assert "&lt;ctx&gt;" in body and "<ctx>" not in body  # context text is escaped
    outputs = [c.proto.code_text for c in at.get("code")]
    assert len(outputs) == 4 * 3 + 1  # every arm x seed, plus the base model
    heads = texts(at, "markdown")
    for arm in ("base", "grpo", "da-sft", "da-rl", "contextrl"):
        assert f"**{arm}**" in heads
    assert "✓ right" in heads or "✗ wrong" in heads
    at.checkbox(key="item_disagree").check().run()
    assert_ok(at)
    at.selectbox(key="item_benchmark").select("probe").run()  # the probe's A/B items drill down too
    assert_ok(at)


def test_pair_browser_diff_and_parameterised_search(store, monkeypatch):
    at = open_app(store, monkeypatch)
    at.run()
    goto(at, "Contrastive pairs")
    at.selectbox(key="pair_split").select("test").run()
    assert_ok(at)
    assert all(int(p.split("-")[1]) % 3 == 0 for p in at.selectbox(key="pair_id").options)
    at.selectbox(key="pair_id").select("pair-003").run()
    left, right = (h.proto.body for h in at.get("html"))
    assert "<del" in left and ">CHANGED</ins>" in right and "103</del>" in left and "203</ins>" in right
    at.text_input(key="pair_search").input("x' OR 1=1; DROP TABLE pairs; --").run()
    assert_ok(at)
    assert "No pair matches" in texts(at, "info")
    at.text_input(key="pair_search").input("100_%").run()  # LIKE wildcards are matched literally
    assert_ok(at)
    assert "No pair matches" in texts(at, "info")
    at.selectbox(key="pair_split").select("(all)").run()
    at.text_input(key="pair_search").input("pair-01").run()
    assert_ok(at)
    assert at.selectbox(key="pair_id").options == [f"pair-{i:03d}" for i in range(10, 20)]


def test_sidebar_root_switches_store(tmp_path, store, monkeypatch):
    at = open_app(tmp_path / "none", monkeypatch)
    at.run()
    assert "No database at" in texts(at, "info")
    at.sidebar.text_input(key="root").input(str(store)).run()
    assert_ok(at)
    assert at.sidebar.selectbox(key="ablation").value == "abl-test"


def test_app_while_ingest_publishes_new_snapshots(tmp_path, monkeypatch):
    """A writer thread adds eval runs and ingests (publishing a new database file each time) while
    the app is driven through every page; afterwards the app shows the new runs without a restart."""
    root = tmp_path / "runs"
    make_store(root, n_items=6, published=False, train_steps=3)
    errors: list[BaseException] = []
    published = []

    def writer():
        try:
            for i in range(4):
                add_eval_run(root, arm=("grpo", "contextrl")[i % 2], seed=10 + i, n_items=6, t=5000 + i)
                ingest(root, progress=False)
                published.append(i)
                time.sleep(0.3)  # let the app run pages between publications
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    at = open_app(root, monkeypatch)
    at.run()
    first = at.sidebar.caption[0].value
    th = threading.Thread(target=writer, daemon=True)
    th.start()
    passes, seen = 0, []
    while th.is_alive() or passes < 1:
        for page in PAGES:
            goto(at, page)
            seen.append(at.sidebar.caption[0].value)
        passes += 1
    th.join(60)
    assert not errors, errors
    assert len(published) == 4
    goto(at, "Overview")
    assert at.sidebar.caption[0].value != first  # new runs are visible without restarting the app
    assert at.sidebar.caption[0].value.startswith(f"{int(first.split()[0]) + 4} runs")
    assert len(set(seen)) >= 2, seen


# ------------------------------------------------------------------------- diffview (pure functions)

def test_word_diff_round_trips_and_escapes():
    import re

    from ctxbench.app.diffview import diff_html, tokens, word_diff

    a = "The key <b>is</b> 100 &  it's  here.\n next"
    b = "The lock <b>is</b> 200 &  it's  here.\n next"
    assert "".join(tokens(a)) == a
    ops = word_diff(a, b)
    assert "".join(x for _, x, _ in ops) == a and "".join(y for _, _, y in ops) == b
    ha, hb, n = diff_html(a, b)
    assert n == 2 and "<b>" not in ha and "&lt;b&gt;" in ha and "&amp;" in hb
    assert re.findall(r"<del[^>]*>(.*?)</del>", ha) == ["key", "100"]
    assert re.findall(r"<ins[^>]*>(.*?)</ins>", hb) == ["lock", "200"]
    assert diff_html("same", "same")[2] == 0


def test_evidence_spans_from_each_benchmark_convention():
    from ctxbench.app.diffview import Span, evidence_spans, highlight_html

    text = "0123456789<x>abcdefghij"
    assert evidence_spans({"needle_span": [10, 13]}, text)[0] == [Span(10, 13, "evidence")]
    assert evidence_spans({"decisive_char_span": [0, 2]}, text)[0] == [Span(0, 2, "evidence")]
    spans, notes = evidence_spans({"evidence_spans": [[1, 3], [5, 99]], "distractor_spans": [[2, 8]]}, text)
    assert spans == [Span(1, 3, "evidence"), Span(2, 8, "distractor")] and "outside the context" in notes[0]
    assert evidence_spans({"decisive_text": "<x>"}, text)[0] == [Span(10, 13, "evidence")]  # located by search
    html = highlight_html(text, spans)
    # evidence wins where it overlaps the distractor; every character is kept and escaped
    assert html.count("<mark") == 1 and ">12</mark>" in html and ">34567</span>" in html and "&lt;x&gt;" in html
    long = "a" * 100_000 + "NEEDLE" + "b" * 100_000
    cut = highlight_html(long, [Span(100_000, 100_006, "evidence")], max_chars=10_000, radius=50)
    assert ">NEEDLE</mark>" in cut and len(cut) < 1_000 and "[… 99950 characters …]" in cut


def test_verdicts_page_lists_the_items_where_official_and_semantic_differ(store, monkeypatch):
    at = open_app(store, monkeypatch)
    at.run()
    goto(at, "Verdicts")
    assert_ok(at)
    table = at.dataframe[0].value
    n_diff = table["items scored differently"].astype(int)
    assert set(table["benchmark"]) == {"niah"} and (n_diff > 0).all()
    assert (table["semantic accuracy"].astype(float) >= table["official accuracy"].astype(float)).all()
    rows = at.dataframe[1].value
    assert len(rows) and (rows["correct"] != rows["semantic_correct"]).all()
    assert int(n_diff.sum()) == len(rows)  # one sample per item and seed in the fixture
