"""Golden (item, reply, official verdict) cases for the seven VLMEvalKit multiple-choice benchmarks.

Each expected official verdict was derived by reading ms-vlmeval 0.0.20 (matching_util.can_infer_option
/ can_infer_text, multiple_choice.MMMU_preproc / extract_answer_from_item / extract_characters_regex,
image_mcq.ImageMCQDataset.evaluate_heuristic / MMERealWorld.evaluate; see scoring/vlmeval_mcq.py).
Where ctxbench's semantic verdict differs, the case says what semantic reads and why; the same list,
summarised, is docs/official-scorers/mcq.md.

A case is (item id, reply, official, semantic, tag):
- official: the letter VLMEvalKit records. For the ImageMCQ sets, "Z" is `can_infer`'s own 'Z' (a
  refusal or a 'Z' token) and None means `can_infer` found nothing: 'Z' under exact matching, the GPT
  extractor's turn in the default pipeline (stored as mode "official-rule" when no judge is set). For
  MME-RealWorld, None is extract_characters_regex's '' (scored 0).
- semantic: SAME when semantic reads the same verdict (same letter, or no answer for both), else the
  letter (or None) the semantic reading extracts.

Items are the small fixture rows of tests/benchmarks/vqa_fixtures.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/benchmarks: vqa_fixtures
from vqa_fixtures import BUILDERS

from ctxbench.benchmarks import get_benchmark
from ctxbench.benchmarks.base import LoadContext
from ctxbench.benchmarks.scoring.vlmeval_mcq import can_infer_option, mmmu_preproc, tokens
from ctxbench.benchmarks.scoring.vqa_scoring import JUDGES, JudgeVerdict, register_judge, set_judge

SAME = "same"
IMAGE_MCQ = ("MMStar", "VStarBench", "BLINK", "ScienceQA_TEST", "MMMU_DEV_VAL", "MMMU_Pro_10c")
MMERW = "MME-RealWorld-Lite"


def letter_cases(item: str, g: str, w: str, **overrides) -> list[tuple]:
    """Reply shapes whose official verdict depends only on the letters (the item's option texts never
    occur in them): g is the gold letter, w a wrong one. `overrides` replace (official, semantic) by tag
    where an item's option texts or labels change the outcome."""
    shapes = [
        (g, g, SAME, "bare letter"),
        (f"({g})", g, SAME, "parenthesised"),
        (f"{g}.", g, SAME, "letter and full stop"),
        (f"**{g}**", g, SAME, "markdown bold: * is a separator"),
        (f"The answer is {g}.", g, SAME, "marker, letter among the last tokens"),
        (f"The correct answer is ({g}).", g, SAME, "5 tokens, letter is the 5th"),
        (f"answer: ({g})", g, SAME, "lower-case marker word"),
        (f"Option {g}", g, SAME, "option word"),
        (g.lower(), None, g, "lower case: not a token match; semantic reads it"),
        (f"Answer: {g.lower()}", None, g, "lower case after a marker"),
        (f"\\boxed{{{g}}}", g, SAME, "LaTeX boxed: {} are separators"),
        (f"$\\boxed{{{g}}}$", g, SAME, "boxed in math mode"),
        (f"\\text{{{g}}}", g, SAME, "LaTeX text"),
        (f"${g}$", None, g, "$ is no separator: '$X$' is one token"),
        (f"<answer>{g}</answer>", None, g, "answer tags are no separators; semantic reads the span"),
        (f"<think>Is it {w}? No.</think>{g}", None, g, "think kept officially: '</think>X' is one token"),
        (f"<think>The answer is {g}.</think>", g, None, "official reads inside think; semantic drops it"),
        (f"{g}. Looking closely at the picture, this is clearly the right one.", None, g,
         "position rule: the lone letter is not among the last four tokens"),
        (f"{g} is the answer because it matches the picture best", None, g, "position rule, letter first"),
        (f"Final Answer: The final answer is $\\boxed{{{g}}}$. I hope it is correct.", None, g,
         "position rule: boxed letter followed by a sentence"),
        (f"Answer: {g}\nThe other options do not match the image at all, so they are ruled out.", None, g,
         "position rule: marker then explanation"),
        (f"The answer is {g}.\n\nExplanation: option {w} is incorrect.", None, g,
         "marker inside the explanation: two letters officially; semantic reads the answer before it"),
        (f"{g} or {w}", None, None, "ambiguous letters"),
        (f"{g} and {w}", None, None, "ambiguous letters (the 'article A' rule must not drop one)"),
        (f"I think it is {g}", g, SAME, "pronoun I is not an option here"),
        ("Z", "Z", SAME, "a Z token"),
        ("Cannot determine the answer", "Z", SAME, "refusal phrase"),
        ("", None, SAME, "empty reply (read back as 'nan')"),
        ("zq xv wk", None, SAME, "garbage"),
        (w, w, SAME, "wrong letter"),
        (f"The answer is {w}.", w, SAME, "wrong letter after a marker"),
        ("Failed to obtain answer via API", None, SAME, "API failure message"),
    ]
    out = []
    for reply, official, semantic, tag in shapes:
        if tag in overrides:
            official, semantic = overrides.pop(tag)
        out.append((item, reply, official, semantic, tag))
    assert not overrides, f"unknown tags {list(overrides)}"
    return out


CASES: dict[str, list[tuple]] = {
    "MMStar": letter_cases("1", "B", "C") + [
        ("0", "red", "A", SAME, "option text instead of the letter"),
        ("0", "The square is red.", "A", SAME, "option text in a short sentence"),
        ("0", "It is reddish, not green.", None, SAME, "two option texts (substring 'red' of 'reddish')"),
        ("0", "A cat sits next to a red square", "A", SAME,
         "article A fails the position rule, then the text rule finds 'red'"),
        ("0", "A. Looking closely at the picture, the square is red.", None, "A",
         "position rule; too long for the text rule"),
        ("1", "The answer is B. A red square would look different.", None, "B",
         "article 'A' counts as a second letter officially"),
        ("1", "The answer is (B) green.", "B", SAME, "letter and its text"),
        ("2", "yes", "A", SAME, "option text 'yes'"),
        ("2", "No, it is not.", "B", SAME, "option text 'no' (wrong)"),
        ("2", "Yes, I know it.", None, SAME, "'no' is a substring of 'know': two option texts"),
    ],
    "VStarBench": letter_cases("102", "C", "A") + [
        ("101", "right", "B", SAME, "option text"),
        ("101", "Right.", "B", SAME, "option text, capitalised (text rule lower-cases)"),
        ("101", "The flag is to the right of the dog.", None, SAME,
         "more than twice the option texts' length: the text rule is off"),
        ("101", "B) right", "B", SAME, "letter and text"),
        ("101", "left or right? right", None, SAME, "two option texts"),
        ("101", "A", "A", SAME, "wrong letter on a two-option item"),
    ],
    "BLINK": letter_cases("val_Counting_2", "A", "D") + [
        ("val_Jigsaw_1", "the second", "B", SAME, "option text"),
        ("val_Jigsaw_1", "The second image", "B", SAME, "option text in a short phrase"),
        ("val_Jigsaw_1", "(B)", "B", SAME, "parenthesised"),
        ("val_Counting_2", "1", "A", SAME, "numeric option text"),
        ("val_Counting_2", "There is 1 square", None, SAME, "numeric text in a reply too long for the text rule"),
        ("val_Counting_2", "12", None, SAME, "'1' and '2' both occur: two option texts"),
        ("val_Counting_2", "(A) 1", "A", SAME, "letter and text"),
    ],
    "ScienceQA_TEST": letter_cases("1", "A", "B", **{
        "pronoun I is not an option here": ("A", SAME),
    }) + [
        ("1", "cow", "A", SAME, "option text"),
        ("1", "A cow.", "A", SAME, "the article 'A' read as the letter (right by luck)"),
        ("1", "It is a shark", "B", SAME, "option text (wrong); lower-case article is no letter"),
        ("3", "up", "A", SAME, "option text"),
        ("3", "Up is north", "A", SAME, "option text, short reply"),
        ("3", "North is up, not down", None, SAME, "too long for the text rule (> 2 x 10 characters)"),
    ],
    "MMMU_DEV_VAL": letter_cases("1", "B", "A") + [
        ("2", "42", "A", SAME, "open question: MMMU_preproc makes the gold text option A"),
        ("2", "x = 42", "A", SAME, "open question, gold text in a short reply"),
        ("2", "The value of x is 42", "A", SAME, "open question, 20 characters (limit 30)"),
        ("2", "The value of x is 42 because the angles sum to 180 degrees", None, SAME,
         "open question: too long for the text rule"),
        ("2", "A", "A", SAME, "open question: the letter A is 'the gold answer'"),
        ("2", "B", "B", SAME, "open question: B is 'Other Answers'"),
        ("2", "420", "A", SAME, "open question: '42' is a substring of '420'"),
        ("2", "41", None, SAME, "open question, wrong number"),
        ("2", "\\boxed{42}", "A", SAME, "open question, boxed number via the text rule"),
        ("3", "nucleus", "A", SAME, "option text"),
        ("3", "<image 1>", "B", SAME, "an image option's text is its tag"),
    ],
    "MMMU_Pro_10c": letter_cases("7", "J", "C", **{
        "marker inside the explanation: two letters officially; semantic reads the answer before it":
            ("C", "J"),  # two letters, then the text rule finds "option c" in the explanation
        "pronoun I is not an option here": (None, "J"),  # I is option I: two letters officially
    }) + [
        ("8", "option c", "C", SAME, "option text"),
        ("8", "<think>A or C?</think>C", None, "C", "think kept officially: no token is a letter"),
        ("8", "<think>A or C?</think>\nThe answer is C", "C", SAME, "letter outside think, among the last tokens"),
        ("7", "I", "I", SAME, "ten options: I is a letter"),
        ("7", "I or J", None, None, "ambiguous"),
        ("7", "I would pick J", None, "J", "ten options: the pronoun I counts officially"),
    ],
    MMERW: [
        ("1001", "C", "C", SAME, "bare letter"),
        ("1001", "(C)", "C", SAME, "parenthesised"),
        ("1001", "C. blue", "C", SAME, "letter and text"),
        ("1001", "The answer is C", "C", SAME, "prefix removed"),
        ("1001", "The best answer is: C", "C", SAME, "prefix removed, colon left"),
        ("1001", "The correct option is C", "C", SAME, "prefix not in the list (missing comma), but T is no option"),
        ("1001", "Based on the image, the answer is C", "B", "C", "first capital A-E anywhere: the B of 'Based'"),
        ("1001", "**Answer:** C", "A", "C", "first capital: the A of 'Answer'"),
        ("1001", "Answer: C", "A", "C", "first capital: the A of 'Answer'"),
        ("1001", "Best answer: C", "B", "C", "'Best answer:' is never removed (two prefixes concatenated)"),
        ("1001", "c", "C", SAME, "lower case: no capital, 'c' is inside '(c)'"),
        ("1001", "(c)", "C", SAME, "lower case in parentheses"),
        ("1001", "the answer is c", None, "C", "lower-case prefix is not removed; no capital; not inside '(x)'"),
        ("1001", "", "A", None, "empty reply: '' is inside '(a)'"),
        ("1001", "The answer", "A", None, "prefix removed leaves '': A"),
        ("1001", ")", "A", SAME, "')' is inside '(a)' (semantic keeps this)"),
        ("1001", "<answer>c</answer>", "C", SAME, "answer span, upper-cased"),
        ("1001", "<think>Looking at the car, it is blue.</think><answer>C</answer>", "C", SAME, "answer span"),
        ("1001", "<think>Each option is a colour.</think>C", "E", "C", "no think handling: the E of 'Each'"),
        ("1001", "blue", None, "C", "option text: no capital, not inside '(x)'; semantic's text rule reads it"),
        ("1001", "The car is blue.", None, "C", "option text in a sentence with no capital A-E"),
        ("1001", "this reply is long enough to have more than ten words but no capital option", None, SAME,
         "long reply without a capital"),
        ("1001", "\\boxed{C}", "C", SAME, "boxed"),
        ("1001", "$\\boxed{\\text{C}}$", "C", SAME, "boxed text"),
        ("1001", "Determining the colour, I pick C", "D", "C", "first capital: the D of 'Determining'"),
        ("1001", "E", "E", SAME, "wrong letter"),
        ("1001", "A or C", "A", None, "ambiguous: the first capital wins; semantic: no answer"),
        ("1001", "The answer is C.\n\nExplanation: option A is incorrect", "C", SAME,
         "marker inside the explanation comes after the answer"),
        ("1001", "Explanation: option A is incorrect, so the answer is C", "E", "C",
         "explanation first: the E of 'Explanation'"),
        ("1001", "Z", None, SAME, "Z is no option"),
        ("1002", "D", "D", SAME, "bare letter"),
        ("1002", "4", None, "D", "numeric option text: no capital, not inside '(x)'"),
        ("1002", "There are 4 lanes (D).", "D", SAME, "first capital A-E is the D (T is no option)"),
        ("1002", "Counting carefully, D", "C", "D", "first capital: the C of 'Counting'"),
        ("1002", "<answer>d</answer>", "D", SAME, "answer span upper-cased"),
        ("1002", "<answer>4</answer>", None, "D", "answer span holding the option text"),
    ],
}
PARAMS = [pytest.param(b, *c, id=f"{b}-{i:02d}-{c[4]}") for b, cs in CASES.items() for i, c in enumerate(cs)]


@pytest.fixture(scope="module")
def items(tmp_path_factory):
    folder = tmp_path_factory.mktemp("LMUData")
    out = {}
    for name in CASES:
        BUILDERS[name](folder)
        out[name] = {it.item_id: it for it in get_benchmark(name).load(LoadContext(data_path=str(folder)))}
    return out


@pytest.fixture(autouse=True)
def _no_judge(monkeypatch):
    monkeypatch.delenv("CTXBENCH_VQA_JUDGE", raising=False)
    set_judge(None)


def test_at_least_thirty_cases_per_benchmark():
    assert set(CASES) == {*IMAGE_MCQ, MMERW}
    assert all(len(c) >= 30 for c in CASES.values()), {b: len(c) for b, c in CASES.items()}


@pytest.mark.parametrize("bench, item_id, reply, official, semantic, tag", PARAMS)
def test_official_and_semantic_verdicts(items, bench, item_id, reply, official, semantic, tag):
    b = get_benchmark(bench)
    it = items[bench][item_id]
    gold = it.meta["gold"]
    off, mode = b.score_official(it, reply)
    if bench == MMERW or official is not None:
        assert (off.extracted, mode) == (official, "official"), tag
    else:  # can_infer found nothing: 'Z' under exact matching, the GPT extractor's turn by default
        assert (off.extracted, mode) == ("Z", "official-rule"), tag
    assert off.correct is (official == gold) and off.score == float(official == gold)
    assert off.parse_ok is (official not in (None, "Z"))
    v = b.verdicts(it, reply)
    assert v.record == off and v.mode == mode and v.semantic == b.score(it, reply)
    sem = v.semantic
    if semantic == SAME:
        assert sem.correct is off.correct, tag
        if off.parse_ok:
            assert sem.extracted == official, tag
        else:
            assert not sem.parse_ok, (tag, sem)
    else:
        assert (sem.extracted, sem.correct) == (semantic, semantic == gold), (tag, sem)


# ------------------------------------------------------------------------------------------ the rules


def test_tokens_and_position_rule():
    assert tokens("(B) Looking: at {C}!*#") == ["B", "Looking", "at", "C"]
    assert tokens("<answer>C</answer> 'D' $E$ F? g") == ["<answer>C</answer>", "'D'", "$E$", "F?", "g"]
    letters = list("ABCD")
    assert can_infer_option("w w w B", letters) == "B" and can_infer_option("w w w B w", letters) == "B"
    assert can_infer_option("B w w w w", letters) is None  # index 0 of 5: not > 0
    assert can_infer_option("w B w w w", letters) == "B"
    assert can_infer_option("B w w w w w B", letters) is None  # the FIRST occurrence is what counts


def test_mmmu_preproc_and_answer_map():
    assert mmmu_preproc({}, "42") == ({"A": "42", "B": "Other Answers"}, "A")
    assert mmmu_preproc({"A": "x", "B": "y"}, "['A', 'C']") == ({"A": "x", "B": "y"}, "A")
    assert mmmu_preproc({"A": "x", "B": "y"}, "B")[1] == "B"


# ------------------------------------------------------------------------------------------ judge hook


@pytest.fixture
def judge(monkeypatch):
    calls = []

    def fake(req):
        calls.append(req)
        return JudgeVerdict(extracted={"a": "The answer is A", "ok?": "B", "none": None}.get(req.prediction, "no idea"))

    register_judge("mcq-fake", fake)
    set_judge("mcq-fake")
    yield calls
    set_judge(None)
    JUDGES.pop("mcq-fake", None)


def test_judge_is_asked_only_where_the_prefetch_fails(items, judge):
    b = get_benchmark("MMStar")
    it = items["MMStar"]["0"]  # gold A
    off, mode = b.score_official(it, "A")
    assert (off.extracted, off.correct, mode) == ("A", True, "official") and judge == []
    off, mode = b.score_official(it, "a")  # lower case: prefetch fails, the extractor reads "The answer is A"
    assert (off.extracted, off.correct, mode) == ("A", True, "official")
    assert judge[-1].benchmark == "MMStar" and judge[-1].choices == it.meta["options"]
    off, mode = b.score_official(it, "ok?")  # the judge says B: can_infer("B") -> B, wrong
    assert (off.extracted, off.correct, mode) == ("B", False, "official")
    for reply in ("none", "whatever"):  # no extraction / an unreadable one: 'Z' (VLMEvalKit would toss a coin)
        off, mode = b.score_official(it, reply)
        assert (off.extracted, off.correct, mode) == ("Z", False, "official")
    assert b.score(it, "a").correct and len(judge) == 4  # the semantic verdict never asks the judge


def test_mme_realworld_never_asks_a_judge(items, judge):
    b = get_benchmark(MMERW)
    off, mode = b.score_official(items[MMERW]["1001"], "blue")
    assert (off.extracted, off.correct, mode) == (None, False, "official") and judge == []


def test_official_scorer_is_cited():
    for name in (*IMAGE_MCQ, MMERW):
        b = get_benchmark(name)
        assert b.official_scorer.startswith("VLMEvalKit 0.0.20: vlmeval/dataset/image_mcq.py") and b.version == "2"
    assert "MMERealWorld.evaluate" in get_benchmark(MMERW).official_scorer
