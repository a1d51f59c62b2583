"""The twelve paper VQA adapters on tiny TSVs in VLMEvalKit's official schema (vqa_fixtures)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from vqa_fixtures import BUILDERS, GOLD, b64_image, write_all

from ctxbench.benchmarks import SUITES, get_benchmark, resolve_benchmarks
from ctxbench.benchmarks.base import LoadContext
from ctxbench.core.errors import CtxbenchError, DataError
from ctxbench.sources.images import image_key, load_image

NAMES = sorted(BUILDERS)


@pytest.fixture(autouse=True)
def _isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("CTXBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("LMUData", raising=False)
    for n in NAMES:
        monkeypatch.delenv("CTXBENCH_DATA_" + "".join(c if c.isalnum() else "_" for c in n).upper(), raising=False)


@pytest.fixture(scope="module")
def lmu(tmp_path_factory):
    folder = tmp_path_factory.mktemp("LMUData")
    write_all(folder)
    return folder


def test_paper_vqa_suite_names_the_twelve():
    assert len(SUITES["paper-vqa"]) == 12 and sorted(SUITES["paper-vqa"]) == NAMES
    assert resolve_benchmarks("paper-vqa") == list(SUITES["paper-vqa"])
    for n in NAMES:
        b = get_benchmark(n)
        assert b.family == "vqa" and b.source == "official-file" and b.key == f"{n}@{b.version}"


@pytest.mark.parametrize("name", NAMES)
def test_loads_ids_parts_and_scores_known_answers(name, lmu):
    bench = get_benchmark(name)
    items = bench.load(LoadContext(data_path=str(lmu)))
    ids, cases = GOLD[name]
    assert [it.item_id for it in items] == ids
    assert bench.validate(LoadContext(data_path=str(lmu))) == []
    for it in items:
        kinds = [p["type"] for p in it.prompt]
        assert "image" in kinds and "text" in kinds
        for p in it.prompt:
            if p["type"] == "image":
                assert Path(p["value"]).is_file() and load_image(p["value"]).size[0] >= 24
        assert it.meta["group"] == it.item_id
    by_id = {it.item_id: it for it in items}
    for idx, good, bad in cases:
        it = by_id[idx]
        sc = bench.score(it, good)
        assert sc.correct and sc.score == 1.0 and sc.parse_ok, (name, idx, good, sc)
        sc = bench.score(it, bad)
        assert not sc.correct and sc.score == 0.0, (name, idx, bad, sc)
        if it.choices:  # choice mode: the harness passes the chosen label itself
            assert bench.score(it, it.answer).correct
            assert not bench.score(it, next(c for c in it.choices if c != it.answer)).correct


def test_mcq_prompt_is_vlmevalkits_image_mcq_prompt(lmu):
    sqa = get_benchmark("ScienceQA_TEST").load(LoadContext(data_path=str(lmu)))
    assert [p["type"] for p in sqa[0].prompt] == ["image", "text"]
    assert sqa[0].prompt[1]["value"] == (
        "Hint: The picture was taken at a farm.\nQuestion: Which animal is shown?\nOptions:\nA. cow\nB. shark\n"
        "Please select the correct answer from the options above. \n")
    assert sqa[0].choices == ("A", "B")
    assert sqa[1].prompt[1]["value"].startswith("Question: Which direction")  # no hint line when empty


def test_image_reuse_by_index_and_jpeg_bytes(lmu):
    items = get_benchmark("MMStar").load(LoadContext(data_path=str(lmu)))
    img = [p["value"] for it in items for p in it.prompt if p["type"] == "image"]
    assert img[2] == img[0] and img[1] != img[0]  # row 2's image cell is "0": row 0's image
    assert image_key(img[0]).startswith("sha256:")
    assert load_image(img[1]).size == (24, 24)  # a JPEG stored as the bytes the TSV holds


def test_mmmu_interleaves_image_tags_and_grades_open_questions(lmu):
    items = {it.item_id: it for it in get_benchmark("MMMU_DEV_VAL").load(LoadContext(data_path=str(lmu)))}
    first = items["1"].prompt
    assert [p["type"] for p in first] == ["text", "image", "text", "image", "text"]
    assert first[0]["value"] == "Question: Compare " and first[2]["value"] == " and "
    assert first[1]["value"] != first[3]["value"]
    assert items["1"].choices == ("A", "B", "C") and items["1"].meta["split"] == "validation"
    opt_img = items["3"].prompt  # an option that is an image
    assert [p["type"] for p in opt_img] == ["text", "image", "text"] and "A. nucleus\nB. " in opt_img[0]["value"]
    open_q = items["2"]
    assert open_q.choices is None and open_q.answer == "42" and open_q.meta["open"]
    assert "Options:" not in open_q.prompt_text()


def test_mmmu_pro_ten_options_and_instruction(lmu):
    it = get_benchmark("MMMU_Pro_10c").load(LoadContext(data_path=str(lmu)))[0]
    assert it.choices == tuple("ABCDEFGHIJ")
    txt = it.prompt_text()
    assert "J. option j\n" in txt and txt.endswith("Answer directly with the option letter from the given choices. ")
    assert "Hint:" not in txt


def test_blink_multi_image_and_mme_realworld_prompt(lmu):
    jig = get_benchmark("BLINK").load(LoadContext(data_path=str(lmu)))[0]
    assert [p["type"] for p in jig.prompt] == ["image", "image", "text"]
    mme = get_benchmark("MME-RealWorld-Lite").load(LoadContext(data_path=str(lmu)))[0]
    assert mme.prompt[1]["value"] == (
        "What is the colour of the car? The choices are listed below:\n(A) red\n(B) green\n(C) blue\n(D) black\n"
        "(E) The image does not feature the car.\nSelect the best answer to the above multiple-choice question "
        "based on the image. Respond with only the letter (A, B, C, D, or E) of the correct option. \n"
        "The best answer is:")
    assert mme.meta["options"]["E"] == "The image does not feature the car." and mme.meta["category"].startswith("Perc")


def test_math_items_carry_answer_types(lmu):
    mv = {it.item_id: it for it in get_benchmark("MathVista_MINI").load(LoadContext(data_path=str(lmu)))}
    assert mv["1"].meta["kind"] == "mcq" and mv["1"].answer == "B" and mv["1"].choices == ("A", "B", "C", "D")
    assert mv["3"].meta["kind"] == "float" and mv["3"].meta["precision"] == 2
    bench = get_benchmark("MathVista_MINI")
    assert bench.score(mv["3"], "about 1.449").correct  # rounded to the item's two decimals
    assert not bench.score(mv["2"], "14.5").correct
    verse = {it.item_id: it for it in get_benchmark("MathVerse_MINI").load(LoadContext(data_path=str(lmu)))}
    assert verse["1"].meta["options"]["C"] == "√{3}" and verse["2"].meta["problem_version"] == "Vision Intensive"
    assert get_benchmark("MathVerse_MINI").score(verse["2"], "The answer is 0.25").correct


def test_olympiadbench_keeps_physics_en_and_official_prompt(lmu):
    items = get_benchmark("OlympiadBench").load(LoadContext(data_path=str(lmu)))
    first, second = items[0], items[1]
    assert first.prompt[0]["type"] == "text" and first.prompt[-1]["type"] == "image"  # text first, then images
    t = first.prompt[0]["value"]
    assert t.startswith("The following is an open-ended problem from an International Physics competition. "
                        "The answer of The problem should be a numerical value. ")
    assert 'So the final answer is \\boxed{answer}(unit)."' in t and "should not be included in \\boxed{}" in t
    assert t.endswith("\nA ball falls for 0.8 s from rest. How far does it fall?")
    assert first.answer == "3.2" and first.meta["tolerance"] == 0.1
    assert second.answer == "1,-2" and second.meta["multiple"] and "multiple answers connected with commas" in \
        second.prompt[0]["value"] and "\nA particle moves on a line.\nFind both" in second.prompt[0]["value"]
    assert [p["type"] for p in second.prompt] == ["text", "image", "image"]


def test_phyx_reads_options_column_and_falls_back_to_mini(lmu):
    it = get_benchmark("PhyX").load(LoadContext(data_path=str(lmu)))[0]
    assert it.meta["options"]["A"] == "4.9 m/s^2" and it.meta["file"] == "PhyX_mini_MC.tsv"


def test_limit_spreads_and_decodes_only_chosen_images(lmu, tmp_path):
    bench = get_benchmark("MathVista_MINI")
    items = bench.load(LoadContext(data_path=str(lmu)), limit=2)
    assert [it.item_id for it in items] == ["1", "3"]
    stored = list((tmp_path / "cache" / "images").rglob("*.png"))
    assert len(stored) == 2


def test_data_location_file_folder_env_and_missing(lmu, monkeypatch, tmp_path):
    bench = get_benchmark("MMStar")
    st = bench.data_status()
    assert not st.available and "$LMUData/MMStar.tsv" in st.detail and "--data MMStar=PATH" in st.detail
    with pytest.raises(DataError, match=r"\$LMUData/MMStar\.tsv.*MMStar\.tsv"):
        bench.load(LoadContext())
    with pytest.raises(DataError, match=r"folder has no MMStar\.tsv"):
        bench.load(LoadContext(data_path=str(tmp_path)))
    assert len(bench.load(LoadContext(data_path=str(lmu / "MMStar.tsv")))) == 3
    monkeypatch.setenv("LMUData", str(lmu))
    assert bench.data_status().available and len(bench.load(LoadContext())) == 3
    mme = get_benchmark("MME-RealWorld-Lite")
    assert "mme_realworld_lite.tsv" in mme.data_status().detail  # VLMEvalKit's download name is found
    monkeypatch.delenv("LMUData")
    monkeypatch.setenv("CTXBENCH_DATA_MME_REALWORLD_LITE", str(lmu))
    assert mme.data_status().available


def _mmstar_rows():
    return [{"index": i, "question": f"q{i}", "A": "x", "B": "y", "answer": "A", "category": "c", "image": b64_image((i, 0, 0))}
            for i in range(3)]


@pytest.mark.parametrize("mutate, message", [
    (lambda rows: rows[2].update(index=0), r"MMStar\.tsv:4: duplicate index '0' \(first at line 2\)"),
    (lambda rows: rows[1].update(image="not-base64-" + "x" * 80), r"MMStar\.tsv:3 \(index 1\): .*(base64|not an image)"),
    (lambda rows: rows[1].update(image="7"), r"MMStar\.tsv:3: image cell '7' \(index 1\) names no row's index"),
    (lambda rows: rows[0].update(answer="E"), r"MMStar\.tsv:2 \(index 0\): answer 'E' is not one of the options"),
    (lambda rows: [r.pop("answer") for r in rows], r"MMStar\.tsv:1: missing column\(s\) answer"),
])
def test_bad_rows_fail_naming_file_line_and_index(tmp_path, mutate, message):
    rows = _mmstar_rows()
    mutate(rows)
    pd.DataFrame(rows).to_csv(tmp_path / "MMStar.tsv", sep="\t", index=False)
    with pytest.raises(DataError, match=message):
        get_benchmark("MMStar").load(LoadContext(data_path=str(tmp_path)))


def test_unknown_name_suggests_closest():
    with pytest.raises(CtxbenchError, match="did you mean 'MMStar'"):
        get_benchmark("MMstar")


class OracleBackend:
    """Replies with the fixture's known-correct answer for the prompt it is shown (and ranks the gold option
    first in choice mode), so a harness run over the fixtures must score 1.0 everywhere."""

    identity, name, max_context_tokens = "oracle-v1", "oracle", 4096

    def __init__(self, replies: dict[str, str], gold: dict[str, str]):
        self.replies, self.gold = replies, gold

    def count_tokens(self, s):
        return max(1, len(s) // 4)

    def render(self, prompt):
        return "".join(p["value"] for p in prompt.parts if p["type"] == "text")

    def generate(self, prompts, cfg):
        from ctxbench.models.base import Completion

        assert all(any(p["type"] == "image" for p in pr.parts) for pr in prompts)
        return [[Completion(self.replies[self.render(p)], 10, 3, "stop")] for p in prompts]

    def score_continuations(self, prompt, continuations):
        want = self.gold[self.render(prompt)]
        return [0.0 if c.strip() == want else -3.0 for c in continuations]


@pytest.mark.parametrize("scoring", ["generate", "choice"])
def test_harness_scores_fixture_items_through_the_store(lmu, root, scoring):
    from ctxbench.eval.config import EvalConfig
    from ctxbench.eval.harness import run_eval
    from ctxbench.store.read import connect_readonly

    names = ("MMStar", "MathVista_MINI", "OlympiadBench")
    replies, gold = {}, {}
    for n in names:
        items = {it.item_id: it for it in get_benchmark(n).load(LoadContext(data_path=str(lmu)))}
        for idx, good, _ in GOLD[n][1]:
            replies[items[idx].prompt_text()] = good
            gold[items[idx].prompt_text()] = items[idx].answer
    cfg = EvalConfig(model="oracle", benchmarks=names, scoring=scoring, data={n: str(lmu) for n in names})
    report = run_eval(cfg, root, backend=OracleBackend(replies, gold), progress=False)
    # accuracy is the score of record (official): VLMEvalKit never scores MathVista's list item correct,
    # and OlympiadBench's LaTeX gold keeps str(list)'s doubled backslashes (docs/official-scorers/math.md)
    assert [(r.benchmark, r.n, r.accuracy) for r in report.results] == [
        ("MMStar", 3, 1.0), ("MathVista_MINI", 4, 0.75), ("OlympiadBench", 3, pytest.approx(2 / 3))]
    con = connect_readonly(root)
    parts = con.execute("select prompt_json from items where benchmark = 'MMStar' and item_id = '0'").fetchone()[0]
    assert '"type": "image"' in parts
    # both verdicts are stored: official of record, semantic beside it (choice mode: semantic only)
    rows = dict(con.execute("select benchmark, list(distinct verdict) from samples group by benchmark").fetchall())
    sem = dict(con.execute("select benchmark, avg(semantic_score) from samples group by benchmark").fetchall())
    con.close()
    if scoring == "choice":
        assert rows["MMStar"] == ["semantic"]
    else:
        assert set(rows["MMStar"]) <= {"official", "official-rule"} and set(rows["MathVista_MINI"]) <= {"official", "official-rule"}
        assert sem["MathVista_MINI"] == 1.0  # the list answer is right by meaning, wrong officially


def test_unreadable_files_fail_clearly(tmp_path):
    bench = get_benchmark("MMStar")
    (tmp_path / "MMStar.tsv").write_bytes(b"")
    with pytest.raises(DataError, match=r"MMStar\.tsv: file is empty"):
        bench.load(LoadContext(data_path=str(tmp_path)))
    (tmp_path / "MMStar.tsv").write_bytes(b"index\tquestion\tanswer\timage\n0\tq\xff\tA\tx\n")
    with pytest.raises(DataError, match=r"MMStar\.tsv: not valid UTF-8"):
        bench.load(LoadContext(data_path=str(tmp_path)))
    (tmp_path / "MMStar.tsv").write_text("index\tquestion\tanswer\timage\n0\tq\tA\n")
    with pytest.raises(DataError, match=r"MMStar\.tsv:2: 3 cells, header has 4"):
        bench.load(LoadContext(data_path=str(tmp_path)))


def test_mmmu_non_letter_gold_counts_as_a_like_vlmevalkit(tmp_path):
    rows = [{"index": 1, "question": "Pick two.", "A": "x", "B": "y", "C": "z", "answer": "['A', 'C']",
             "category": "Art", "image": b64_image((9, 9, 9))}]
    pd.DataFrame(rows).to_csv(tmp_path / "MMMU_DEV_VAL.tsv", sep="\t", index=False)
    (it,) = get_benchmark("MMMU_DEV_VAL").load(LoadContext(data_path=str(tmp_path)))
    assert it.answer == "A" and it.meta["answer_raw"] == "['A', 'C']"
    pd.DataFrame(rows).to_csv(tmp_path / "MMStar.tsv", sep="\t", index=False)
    with pytest.raises(DataError, match="is not one of the options"):  # other datasets: a data error
        get_benchmark("MMStar").load(LoadContext(data_path=str(tmp_path)))
