"""`ctxbench import-table`: published aggregate tables as runs without item rows, and the report's
recomputation of their per-benchmark deltas and paper-style headline.

What could break and is checked: the round trip CSV -> shards -> DuckDB (one run per model x arm,
tagged with the ablation name and arm; one aggregates row per score); strict parsing with file:line in
every error; the headline average against a hand computation (mean over benchmark columns per base
model, then over base models, NOT item-weighted); idempotent re-import; a changed table under the same
name refused unless --replace, which leaves no stale row; `ctxbench report NAME` on an import-only
ablation; a table filed under an existing ablation's name shows beside its own runs.
"""

from __future__ import annotations

import pytest
from cli_fixture import cli, db_rows

from ctxbench.core.errors import DataError
from ctxbench.report import load_analysis
from ctxbench.store.import_table import import_table, parse_table

# Two base models x three arms x three benchmarks; n_items differ so that an item-weighted mean would
# differ from the paper's unweighted one.
TABLE = """model,arm,benchmark,score,n_items
Qwen3-8B,grpo,swe,30.0,500
Qwen3-8B,grpo,lcb,40.0,100
Qwen3-8B,grpo,tau2,50.0,50
Qwen3-8B,da-rl,swe,31.0,500
Qwen3-8B,da-rl,lcb,43.0,100
Qwen3-8B,da-rl,tau2,50.0,50
Qwen3-8B,contextrl,swe,34.0,500
Qwen3-8B,contextrl,lcb,44.0,100
Qwen3-8B,contextrl,tau2,57.0,50
Qwen3-4B,grpo,swe,20.0,500
Qwen3-4B,grpo,lcb,35.0,100
Qwen3-4B,grpo,tau2,41.0,50
Qwen3-4B,da-rl,swe,20.0,500
Qwen3-4B,da-rl,lcb,38.0,100
Qwen3-4B,da-rl,tau2,41.0,50
Qwen3-4B,contextrl,swe,22.0,500
Qwen3-4B,contextrl,lcb,39.0,100
Qwen3-4B,contextrl,tau2,47.0,50
"""
# By hand, per model then over models:
#   grpo:      8B (30+40+50)/3 = 40,          4B (20+35+41)/3 = 32          -> 36
#   da-rl:     8B (31+43+50)/3 = 41.333...,   4B (20+38+41)/3 = 33          -> 37.1666...
#   contextrl: 8B (34+44+57)/3 = 45,          4B (22+39+47)/3 = 36          -> 40.5
HAND = {"grpo": 36.0, "da-rl": (124 / 3 + 33) / 2, "contextrl": 40.5}


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    d = tmp_path_factory.mktemp("import")
    csv = d / "paper-table.csv"
    csv.write_text(TABLE)
    root = d / "runs"
    rc, out, err = cli("--root", str(root), "import-table", str(csv), "--name", "paper")
    assert rc == 0, err
    return {"root": root, "csv": csv, "out": out, "dir": d}


def test_round_trip(imported):
    root = imported["root"]
    runs = db_rows(root, "SELECT kind, ablation, model, arm, name, seed, status FROM runs ORDER BY model, arm")
    assert len(runs) == 6
    assert {r[:2] for r in runs} == {("import", "paper")}
    assert {(r[2], r[3]) for r in runs} == {(m, a) for m in ("Qwen3-8B", "Qwen3-4B")
                                           for a in ("grpo", "da-rl", "contextrl")}
    assert ("Qwen3-4B", "contextrl", "paper/Qwen3-4B/contextrl", None, "complete") in {r[2:] for r in runs}
    agg = db_rows(root, "SELECT a.model, a.arm, a.benchmark, a.score, a.n_items, r.arm FROM aggregates a "
                      "JOIN runs r USING (run_id) ORDER BY 1, 2, 3")
    assert len(agg) == 18
    assert all(row[1] == row[5] for row in agg)  # every score sits under the run of its own arm
    assert ("Qwen3-8B", "contextrl", "tau2", 57.0, 50, "contextrl") in agg
    assert db_rows(root, "SELECT count(*) FROM samples")[0][0] == 0  # aggregates only, no item rows


def test_headline_matches_the_hand_computation(imported):
    out = imported["out"]
    assert "18 scores = 2 model(s) x 3 arm(s) x 3 benchmark(s), 6 runs" in out
    assert "grpo       36.00" in out and "contextrl  40.50  (+4.50 vs grpo)" in out
    an = load_analysis(imported["root"], "paper", n_boot=50, n_perm=50)
    (pub,) = an.published
    assert pub.name == "paper"
    for arm, value in HAND.items():
        assert pub.headline.loc[arm, "average"] == pytest.approx(value)
    assert pub.headline.loc["grpo", "Qwen3-8B"] == pytest.approx(40.0)
    weighted = (30 * 500 + 40 * 100 + 50 * 50 + 20 * 500 + 35 * 100 + 41 * 50) / 1300
    assert abs(pub.headline.loc["grpo", "average"] - weighted) > 1  # the paper's way is not item-weighted
    d = pub.deltas.set_index(["model", "benchmark", "arm"])["delta"]
    assert d[("Qwen3-8B", "tau2", "contextrl")] == pytest.approx(7.0)
    assert d[("Qwen3-4B", "lcb", "da-rl")] == pytest.approx(3.0)
    # data effect (da-rl - grpo) + objective effect (contextrl - da-rl) = total, on the averages
    assert pub.attribution == [(f"vs da-rl: total +4.500 = data {HAND['da-rl'] - 36:+.3f} "
                               f"+ objective {40.5 - HAND['da-rl']:+.3f} (on all 6 cells)")]
    assert pub.headline_delta == pytest.approx(4.5)


def test_report_shows_deltas_and_headline_without_intervals(imported):
    out_dir = imported["dir"] / "report"
    rc, _out, err = cli("--root", str(imported["root"]), "report", "paper", "--out", str(out_dir), "--n-boot", "50")
    assert rc == 0, err
    md = (out_dir / "summary.md").read_text()
    published = md.split("## Published tables (recomputed)")[1].split("## Notes")[0]
    assert "| contextrl | 36.00 | 45.00 | 40.50 | +4.50 |" in published
    assert "| Qwen3-8B | tau2 | contextrl | 57.00 | 50.00 | +7.00 |" in published
    assert "[" not in published  # aggregates only: no intervals
    assert "only imported published tables" in md
    assert 'id="fig-published-0"' in (out_dir / "index.html").read_text()


def test_reimport_is_idempotent(imported):
    root, csv = imported["root"], imported["csv"]
    shards = sorted(p.name for p in (root / "shards").rglob("*.parquet"))
    rc, out, err = cli("--root", str(root), "import-table", str(csv), "--name", "paper")
    assert rc == 0, err
    assert "paper: already imported (no change): 18 scores" in out
    assert sorted(p.name for p in (root / "shards").rglob("*.parquet")) == shards
    assert db_rows(root, "SELECT count(*) FROM runs")[0][0] == 6
    assert db_rows(root, "SELECT count(*) FROM aggregates")[0][0] == 18


def test_default_name_is_the_file_stem(tmp_path):
    csv = tmp_path / "table-3.csv"
    csv.write_text(TABLE)
    res = import_table(csv, tmp_path / "runs", ingest=False)
    assert res.name == "table-3" and res.ingested is None and len(res.run_ids) == 6


def test_changed_table_needs_replace_and_leaves_no_stale_rows(tmp_path):
    root = tmp_path / "runs"
    csv = tmp_path / "t.csv"
    csv.write_text(TABLE)
    import_table(csv, root, name="t")
    smaller = "\n".join(ln for ln in TABLE.splitlines() if ",da-rl," not in ln).replace("57.0", "58.0") + "\n"
    csv.write_text(smaller)
    with pytest.raises(DataError, match="already holds a different imported table.*--replace"):
        import_table(csv, root, name="t")
    res = import_table(csv, root, name="t", replace=True)
    assert res.status == "replaced"
    assert db_rows(root, "SELECT count(*) FROM runs")[0][0] == 4
    assert db_rows(root, "SELECT count(*) FROM aggregates WHERE arm = 'da-rl'")[0][0] == 0
    assert db_rows(root, "SELECT score FROM aggregates WHERE model = 'Qwen3-8B' AND arm = 'contextrl' "
                       "AND benchmark = 'tau2'") == [(58.0,)]


BAD = {
    "unknown column": ("model,arm,benchmark,scor\nm,grpo,b,1\n", 1, "unknown column 'scor' (did you mean 'score'?)"),
    "missing column": ("model,arm,score\nm,grpo,1\n", 1, "missing column(s) benchmark"),
    "non-numeric score": ("model,arm,benchmark,score\nm,grpo,b,1\nm,grpo,c,12.5%\n", 3, "score '12.5%' is not a number"),
    "non-finite score": ("model,arm,benchmark,score\nm,grpo,b,nan\n", 2, "not a finite number"),
    "empty field": ("model,arm,benchmark,score\nm,,b,1\n", 2, "empty arm"),
    "field count": ("model,arm,benchmark,score\nm,grpo,b,1,7\n", 2, "5 fields, the header has 4"),
    "bad n_items": ("model,arm,benchmark,score,n_items\nm,grpo,b,1,2.5\n", 2, "n_items '2.5'"),
    "duplicate": ("model,arm,benchmark,score\nm,grpo,b,1\n\nm,grpo,b,2\n", 4, "already has a score on line 2"),
    "duplicate column": ("model,arm,benchmark,score,score\n", 1, "column 'score' appears twice"),
    "header only": ("model,arm,benchmark,score\n", None, "a header but no scores"),
    "empty file": ("\n", None, "empty file"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_strict_parsing_names_file_and_line(tmp_path, case):
    text, line, message = BAD[case]
    path = tmp_path / "bad.csv"
    path.write_text(text)
    where = f"{path}:{line}: " if line else f"{path}: "
    with pytest.raises(DataError) as e:
        parse_table(path)
    assert str(e.value).startswith(where) and message in str(e.value)


def test_cli_error_is_one_line_and_writes_nothing(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("model,arm,benchmark,score\nm,grpo,b,high\n")
    rc, out, err = cli("--root", str(tmp_path / "runs"), "import-table", str(path))
    assert rc == 2 and out == ""
    assert err.strip() == f"ctxbench: error: {path}:2: score 'high' is not a number"
    assert not (tmp_path / "runs" / "shards").exists()


def test_parse_accepts_bom_whitespace_and_blank_lines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("\ufeff Model , arm,benchmark,score\n\n m1 , grpo , b , 1e1 \n", encoding="utf-8")
    (row,) = parse_table(path)
    assert (row.model, row.arm, row.benchmark, row.score, row.n_items, row.line) == ("m1", "grpo", "b", 10.0, None, 3)


def test_table_filed_under_an_ablation_sits_beside_its_runs(tmp_path):
    from ablation_fixture import make_store

    root = tmp_path / "runs"
    make_store(root, name="abl", arms=("grpo", "contextrl"), seeds=(0,), n_items=6, base=False,
               published=False, train_steps=2)
    csv = tmp_path / "paper.csv"
    csv.write_text(TABLE)
    import_table(csv, root, name="abl")
    an = load_analysis(root, "abl", n_boot=50, n_perm=50)
    assert an.deltas is not None and set(an.deltas["arm_b"]) == {"contextrl"}  # its own item-level deltas
    (pub,) = an.published
    assert pub.name == "abl" and pub.headline.loc["contextrl", "average"] == pytest.approx(40.5)


# ------------------------------------------------------------------ a table shaped like the paper's
# Built from the paper's structure (its evaluation setup: five long-horizon benchmarks in six columns,
# twelve VQA benchmarks): a long-horizon table (Qwen3-8B and Klear-AgentForge-8B x six columns, LongBench v2 twice) and a VQA table
# (Qwen2.5-VL-7B and Qwen3-VL-8B x twelve benchmarks), both with base, grpo and contextrl; the DA arms
# only on the two SWE-bench columns; PAPO only for Qwen2.5-VL-7B. The scores are made up so that the
# paper's headlines come out: contextrl - grpo = +2.25 (per model +1.3 and +3.2) and +1.775 (per model
# +1.9833 and +1.5667); on the SWE cells total +1.65 = data -0.175 + objective +1.825 (da-rl) and
# data -12.725 + objective +14.375 (da-sft); papo - grpo = +0.73 on Qwen2.5-VL-7B.
LONG = ["swe-bench-verified", "swe-bench-lite", "livecodebench-v6", "longbench-v2", "longbench-v2-long", "niah"]
VQA = ["mathvista", "mathverse", "mathvision", "mmmu-pro", "mmmu", "vstar", "mmstar", "blink", "scienceqa-img",
       "phyx", "olympiadbench-physics", "mme-realworld-lite"]
PAPER = {
    "Qwen3-8B": {"grpo": [40.0, 30.0, 25.0, 35.0, 30.0, 45.0], "contextrl": [1.2, 0.6, 2.0, 1.0, 1.5, 1.5],
                 "da-rl": [-0.4, 0.2], "da-sft": [-12.0, -10.4], "base": [-6.0] * 6},
    "Klear-AgentForge-8B": {"grpo": [48.0, 39.0, 20.0, 30.0, 24.0, 35.0], "contextrl": [3.0, 1.8, 4.0, 3.4, 3.5, 3.5],
                            "da-rl": [0.1, -0.6], "da-sft": [-15.5, -13.0], "base": [-4.0] * 6},
    "Qwen2.5-VL-7B": {"grpo": [71.0, 48.0, 28.0, 41.0, 55.0, 78.0, 65.0, 53.0, 83.0, 43.0, 23.0, 48.0],
                      "contextrl": [2.5, 1.5, 2.0, 1.8, 2.2, 3.0, 1.6, 1.4, 2.6, 1.7, 1.5, 2.0],
                      "papo": [1.0, 0.5, 0.7, 0.6, 0.9, 1.2, 0.5, 0.4, 1.0, 0.8, 0.5, 0.66], "base": [-3.0] * 12},
    "Qwen3-VL-8B": {"grpo": [76.0, 61.0, 46.0, 56.0, 66.0, 81.0, 71.0, 61.0, 91.0, 51.0, 35.0, 55.1],
                    "contextrl": [1.8, 1.2, 1.5, 1.4, 2.0, 2.1, 1.3, 1.0, 1.9, 1.6, 1.4, 1.6], "base": [-2.0] * 12},
}


def paper_csv(path, family_column: bool = False):
    lines = ["model,arm,benchmark,score" + (",family" if family_column else "")]
    for model, arms in PAPER.items():
        benches = LONG if model in ("Qwen3-8B", "Klear-AgentForge-8B") else VQA
        fam = ",long-horizon" if benches is LONG else ",vqa"
        grpo = arms["grpo"]
        for arm, vals in arms.items():
            for b, g, v in zip(benches, grpo, vals):
                score = v if arm == "grpo" else g + v  # every other arm is written as grpo + its offset
                lines.append(f"{model},{arm},{b},{score:.4f}" + (fam if family_column else ""))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_paper_table_gives_the_two_family_headlines(tmp_path):
    csv = paper_csv(tmp_path / "paper-tables.csv")
    root = tmp_path / "runs"
    rc, out, err = cli("--root", str(root), "import-table", str(csv))
    assert rc == 0, err
    assert "family Klear-AgentForge-8B + Qwen3-8B: paper-style headline" in out
    assert "family Qwen2.5-VL-7B + Qwen3-VL-8B: paper-style headline" in out
    assert "(+2.25 vs grpo)" in out and "(+1.77 vs grpo)" in out.replace("+1.78", "+1.77")
    assert "da-rl      39.08  [4 of 12 cells]  (-0.17 vs grpo, on the 4 cells both have)" in out.replace("-0.18", "-0.17")
    assert "split into 2 families by the models that share benchmarks" in out

    an = load_analysis(root, "paper-tables", n_boot=20, n_perm=20)
    pubs = {p.family: p for p in an.published}
    long, vqa = pubs["Klear-AgentForge-8B + Qwen3-8B"], pubs["Qwen2.5-VL-7B + Qwen3-VL-8B"]
    assert long.headline_delta == pytest.approx(2.25) and vqa.headline_delta == pytest.approx(1.775)
    assert long.headline.loc["grpo", "average"] == pytest.approx(401 / 12)
    assert long.headline.loc["contextrl", "average"] == pytest.approx(428 / 12)
    assert long.headline.loc["grpo", "Qwen3-8B"] == pytest.approx(205 / 6)
    assert vqa.headline.loc["grpo", "average"] == pytest.approx(1386.1 / 24)  # 57.754, as in the paper
    assert vqa.headline.loc["contextrl", "average"] == pytest.approx(1428.7 / 24)  # 59.529
    # arms compared on the cells both have: never the -18.9 of averaging different cell sets
    h = long.headline
    assert h.loc["da-rl", "delta_vs_grpo"] == pytest.approx(-0.175) and h.loc["da-rl", "matched_cells"] == 4
    assert h.loc["da-sft", "delta_vs_grpo"] == pytest.approx(-12.725) and h.loc["da-sft", "n_cells"] == 4
    assert sorted(long.attribution) == [
        ("vs da-rl: total +1.650 = data -0.175 + objective +1.825 (on only the 4 cells grpo, da-rl and contextrl "
         "all have (2 models))"),
        ("vs da-sft: total +1.650 = data -12.725 + objective +14.375 (on only the 4 cells grpo, da-sft and "
         "contextrl all have (2 models))")]
    assert any("da-rl vs grpo on the 4 cells both have (of 12 grpo cells)" in n for n in long.notes)
    assert vqa.headline.loc["papo", "delta_vs_grpo"] == pytest.approx(0.73)
    assert any("papo has no scores for model Qwen3-VL-8B" in n for n in vqa.notes)
    assert vqa.attribution == []  # no DA arm in the VQA table: nothing to attribute

    out_dir = tmp_path / "report"
    rc, _out, err = cli("--root", str(root), "report", "paper-tables", "--out", str(out_dir), "--n-boot", "20")
    assert rc == 0, err
    md = (out_dir / "summary.md").read_text()
    assert "### paper-tables · Klear-AgentForge-8B + Qwen3-8B" in md and "### paper-tables · Qwen2.5-VL-7B + Qwen3-VL-8B" in md
    assert "**Headline: contextrl − grpo = +2.250" in md and "**Headline: contextrl − grpo = +1.775" in md
    assert "-18.9" not in md and "-31.5" not in md and "+21.19" not in md


def test_family_column_is_kept_and_named_in_the_runs(tmp_path):
    csv = paper_csv(tmp_path / "paper.csv", family_column=True)
    root = tmp_path / "runs"
    res = import_table(csv, root, name="paper")
    assert res.families == ["long-horizon", "vqa"]
    names = {r[0] for r in db_rows(root, "SELECT name FROM runs")}
    assert "paper/long-horizon/Qwen3-8B/grpo" in names and "paper/vqa/Qwen3-VL-8B/contextrl" in names
    an = load_analysis(root, "paper", n_boot=20, n_perm=20)
    pubs = {p.family: p for p in an.published}
    assert set(pubs) == {"long-horizon", "vqa"} and pubs["vqa"].name == "paper · vqa"
    assert pubs["long-horizon"].headline_delta == pytest.approx(2.25)
    assert any("split by its family column" in n for n in pubs["vqa"].notes)


def test_family_given_on_some_rows_only_is_an_error(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("model,arm,benchmark,score,family\nm,grpo,b,1,x\nm,grpo,c,2,\n")
    with pytest.raises(DataError, match=r"t.csv:3: empty family"):
        parse_table(path)
