"""Golden tables for the VQA scorers: VLMEvalKit's option rules, MME-RealWorld / PhyX rules, numbers and
free-form math, and the judge hook."""

from __future__ import annotations

import pytest

from ctxbench.benchmarks.base import Item
from ctxbench.benchmarks.official.vqa_math import MathVistaMini
from ctxbench.benchmarks.official.vqa_science import olympiad_extract
from ctxbench.benchmarks.scoring.vqa_mathnorm import final_answer, math_equal, normalize, to_number
from ctxbench.benchmarks.scoring.vqa_scoring import (
    JUDGES,
    JudgeVerdict,
    can_infer,
    extract_option,
    infer_option,
    mmerealworld_letter,
    phyx_mc_letter,
    register_judge,
    set_judge,
)
from ctxbench.core.errors import ConfigError

OPTS = {"A": "teddy bear", "B": "rabbit", "C": "cat", "D": "dog"}


@pytest.mark.parametrize("reply, want", [
    ("B", "B"), ("(B)", "B"), ("B.", "B"), ("[C]", "C"), ("The answer is B", "B"), ("Answer: D.", "D"),
    ("**C**", "C"), ("{D}", "D"),
    ("a cute teddy bear", "A"),             # option text (can_infer_text)
    ("I see a cat and a dog", None),        # two option texts: no answer
    ("A or B", None),                       # two letters: no answer
    ("Z", "Z"), ("Cannot determine the answer", "Z"),
    ("Failed to obtain answer via API", None),
])
def test_can_infer_matches_vlmevalkit(reply, want):
    assert (can_infer(reply, OPTS) or None) == want


def test_can_infer_text_rejects_long_replies():
    long = "rabbit " + "x" * 200
    assert can_infer(long, OPTS) is None and can_infer("rabbit " + "x" * 10, OPTS) == "B"


@pytest.mark.parametrize("reply, letter, rule", [
    ("C", "C", "vlmeval"),
    ("<think>A? B? maybe D</think>The answer is C.", "C", "vlmeval"),       # reasoning dropped first
    ("A is wrong and B is wrong, so \\boxed{C}", "C", "boxed"),
    ("A is wrong, B is wrong. The answer is (C).", "C", "marker"),
    ("B. Because A would not fit", "B", "marker"),
    ("<answer>D</answer>", "D", "vlmeval"),
    ("Neither A nor B nor C", None, "none"),
    ("", None, "none"),
])
def test_extract_option_rules_in_order(reply, letter, rule):
    ex = extract_option(reply, OPTS)
    assert (ex.letter, ex.rule) == (letter, rule)


@pytest.mark.parametrize("reply, letter", [
    ("The answer is B.\n\nExplanation: option A is incorrect", "B"),  # was A (issue 11)
    ("The answer is J.\n\nExplanation: option C is the trap here", "J"),  # was C: option text in the explanation
    ("A or C", None),  # was C (issue 11)
    ("A and B", None),  # was B (issue 11)
])
def test_extract_option_answer_before_explanation_and_ambiguity(reply, letter):
    ten = {c: f"option {c.lower()}" for c in "ABCDEFGHIJ"}
    assert extract_option(reply, ten).letter == letter


def test_ten_options_and_quantifier_a():
    ten = {c: f"opt {c}" for c in "ABCDEFGHIJ"}
    assert extract_option("J", ten).letter == "J" and extract_option("(I)", ten).letter == "I"
    assert infer_option("A", list(ten)) == "A"


@pytest.mark.parametrize("reply, want", [
    ("C", "C"), ("The best answer is: D", "D"), ("(E)", "E"), ("<answer>b</answer>", "B"),
    ("a", "A"),  # a short reply inside "(A)"
    ("this reply is long enough to have more than ten words but no capital option", None),
    ("", None),
    ("\\boxed{B}", "B"),
    ("A or C", None),  # ambiguous: two option letters (officially the first capital, A)
])
def test_mmerealworld_official_regex(reply, want):
    assert mmerealworld_letter(reply) == want


@pytest.mark.parametrize("reply, want", [
    ("The correct answer is C", "C"), ("Option: B", "B"), ("A: 4.9 m/s^2 fits", "A"), ("**D** is right", "D"),
    ("no idea", None),
])
def test_phyx_str_rule(reply, want):
    assert phyx_mc_letter(reply) == want


@pytest.mark.parametrize("s, want", [
    ("1,234.5", 1234.5), ("3/4", 0.75), ("\\frac{1}{4}", 0.25), ("\\dfrac{3}{2}", 1.5), ("50%", 0.5),
    ("2\\sqrt{3}", 3.4641016151377544), ("\\pi/2", 1.5707963267948966), ("46.3 kN", 46.3), ("$-2$", -2.0),
    ("30^\\circ", 30.0), ("1.5e3", 1500.0), ("x", None), ("abc def", None), ("", None),
])
def test_to_number(s, want):
    got = to_number(s)
    assert (got is None and want is None) or (got is not None and want is not None and abs(got - want) < 1e-9)


@pytest.mark.parametrize("pred, gold, kw, want", [
    ("0.75", "\\frac{3}{4}", {}, True), ("2\\sqrt{3}", "\\sqrt{12}", {}, True), ("x^2+2x+1", "(x+1)^2", {}, True),
    ("3.14", "3.2", {"abs_tol": 0.1}, True), ("3.5", "3.2", {"abs_tol": 0.1}, False),
    ("3.2000000001", "3.2", {}, True), ("3.21", "3.2", {}, False),
    ("-2, 1", "1,-2", {}, True), ("1", "1,-2", {}, False), ("\\pm 2", "2,-2", {}, True),
    ("(1, 2]", "(1,2]", {}, True), ("[1, 2]", "(1,2]", {}, False),
    ("y = 3", "3", {}, True), ("45", "0.45", {"percent": True}, True), ("45", "0.45", {}, False),
    ("\\text{Paris}", "paris", {}, True), ("x+1", "x+2", {}, False), (None, "1", {}, False),
    ("9^{9^{9}}", "1", {}, False), ("__import__('os')", "1", {}, False),  # guarded: never evaluated
])
def test_math_equal(pred, gold, kw, want):
    assert math_equal(pred, gold, **kw) is want


@pytest.mark.parametrize("reply, want", [
    ("so x = \\boxed{\\frac{1}{2}}.", "\\frac{1}{2}"), ("The answer is 42.", "42"), ("Final answer: $7$", "7"),
    ("nothing stated", None), ("<think>\\boxed{1}</think>The answer is 2", "2"),
])
def test_final_answer(reply, want):
    assert final_answer(reply) == want


def test_normalize_and_olympiad_extract():
    assert normalize("$\\left( 1, 2 \\right]$.") == "( 1, 2 ]"
    assert olympiad_extract("work... So the final answer is \\boxed{3}, \\boxed{4}.") == "3,4"
    assert olympiad_extract("last line has $v = 5$ and $t=2$") == "v = 5,t=2"
    assert olympiad_extract("So the final answer is x \\in [0, 1].") == "[0, 1]"


# ------------------------------------------------------------------------------------------------ judge hook


def _free_item(answer="14"):
    return Item(item_id="1", prompt=({"type": "text", "value": "How many?"},), answer=answer,
                meta={"kind": "integer", "precision": None, "group": "1"})


@pytest.fixture
def judge_calls(monkeypatch):
    calls = []

    def fake(req):
        calls.append(req)
        return JudgeVerdict(extracted="14" if "fourteen" in req.prediction else "3")

    register_judge("fake", fake)
    monkeypatch.delenv("CTXBENCH_VQA_JUDGE", raising=False)
    yield calls
    set_judge(None)
    JUDGES.pop("fake", None)


def test_judge_off_by_default_rule_decides(judge_calls):
    bench = MathVistaMini()
    sc = bench.score(_free_item(), "It is fourteen.")
    assert not sc.correct and not sc.parse_ok and judge_calls == []  # no number: rule cannot parse


def test_judge_on_extracts_and_rule_compares(judge_calls, monkeypatch):
    bench = MathVistaMini()
    monkeypatch.setenv("CTXBENCH_VQA_JUDGE", "fake")
    sc = bench.score(_free_item(), "It is fourteen.")
    assert sc.correct and sc.parse_ok and sc.extracted == "14"
    req = judge_calls[0]
    assert req.benchmark == "MathVista_MINI" and req.answer == "14" and req.question == "How many?"
    assert bench.score(_free_item(), "14").correct and len(judge_calls) == 1  # rule prefetch: no judge call
    assert not bench.score(_free_item(), "maybe three").correct


def test_judge_own_verdict_wins_and_errors(judge_calls):
    register_judge("strict", lambda req: JudgeVerdict(extracted="14", correct=False))
    try:
        set_judge("strict")
        sc = MathVistaMini().score(_free_item(), "fourteen")
        assert sc.extracted == "14" and not sc.correct and sc.parse_ok
        set_judge(f"{__name__}:_module_judge")
        assert MathVistaMini().score(_free_item(), "anything").correct
    finally:
        set_judge(None)
        JUDGES.pop("strict", None)
    with pytest.raises(ConfigError, match="unknown VQA judge 'strickt'.*did you mean 'strict'|unknown VQA judge"):
        set_judge("strickt")
    with pytest.raises(ConfigError, match="cannot import"):
        set_judge("no.such.module:fn")


def _module_judge(req):
    return JudgeVerdict(extracted=req.answer)


def test_judge_not_used_for_rule_scored_datasets(judge_calls):
    from ctxbench.benchmarks.official.vqa_mcq import MMStar

    set_judge("fake")
    it = Item(item_id="0", prompt=({"type": "text", "value": "q"},), answer="A", choices=("A", "B"),
              meta={"options": {"A": "x", "B": "y"}, "gold": "A", "group": "0"})
    assert not MMStar().score(it, "no idea").correct and judge_calls == []
