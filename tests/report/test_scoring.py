"""The official-vs-semantic table: per benchmark and arm, both accuracies and the disagreement count."""

from __future__ import annotations

import pandas as pd

from ctxbench.report.scoring import official_vs_semantic
from ctxbench.report.summary import scoring_table


def _items(rows):
    return pd.DataFrame(rows, columns=["run_id", "arm", "seed", "benchmark", "benchmark_version", "item_id", "score",
                                       "n_samples", "semantic_score", "verdict"])


def test_both_accuracies_and_disagreements():
    items = _items([
        ("r1", "grpo", 0, "MMStar", "2", "1", 1.0, 1, 1.0, "official"),
        ("r1", "grpo", 0, "MMStar", "2", "2", 0.0, 1, 1.0, "official"),  # official rejects the form
        ("r1", "grpo", 0, "MMStar", "2", "3", 0.0, 1, None, "official"),  # stored before both verdicts
        ("r2", "contextrl", 0, "MathVista_MINI", "2", "1", 0.0, 1, 1.0, "official-rule"),
        ("r1", "grpo", 0, "niah-embedded", "1", "1", 1.0, 1, 1.0, "semantic"),  # no official scorer: left out
    ])
    t = official_vs_semantic(items)
    assert list(t["benchmark"]) == ["MMStar", "MathVista_MINI"]
    mm = t.iloc[0]
    assert (mm["n_items"], round(mm["official"], 4), mm["semantic"], mm["n_disagree"]) == (3, 0.3333, 1.0, 1)
    assert t.iloc[1]["verdict"] == "official-rule" and t.iloc[1]["n_disagree"] == 1
    headers, rows = scoring_table(t)
    assert "semantic accuracy" in headers and rows[0][:3] == ["MMStar", "grpo", "official"]


def test_nothing_official_gives_no_table():
    t = official_vs_semantic(_items([("r", "grpo", 0, "niah", "1", "1", 1.0, 1, 1.0, "semantic")]))
    assert t.empty and scoring_table(t) is None
    assert official_vs_semantic(None).empty


def test_the_report_shows_both_verdicts(tmp_path):
    from ablation_fixture import make_store

    from ctxbench.report import build_report

    root = tmp_path / "runs"
    make_store(root, n_items=12)
    html, md = build_report(root, "abl-test", out_dir=tmp_path / "rep", n_boot=200, n_perm=200)
    text = md.read_text()
    assert "## Official and semantic verdicts" in text and "| niah | contextrl | official |" in text
    assert "Official (score of record) vs semantic accuracy" in html.read_text()
