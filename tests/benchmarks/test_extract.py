"""Golden tables for the shared answer extractors (every benchmark's reward goes through these)."""

import pytest

from ctxbench.benchmarks.scoring.extract import (
    answers_match,
    canonical_number,
    clean,
    extract_choice,
    extract_longbench_v2,
    extract_number,
    extract_short_answer,
    normalize_answer,
    numbers_in,
    parse_number,
)

CHOICE_TABLE = [
    # answer present, various spellings
    ("B", "B"),
    ("b", "B"),
    ("(B)", "B"),
    ("(b)", "B"),
    ("B.", "B"),
    ("B)", "B"),
    ("[C]", "C"),
    ("**D**", "D"),
    ("The answer is B", "B"),
    ("The answer is (c).", "C"),
    ("the answer is d", "D"),
    ("Answer: B", "B"),
    ("answer: b", "B"),
    ("Answer:(A)", "A"),
    ("The correct answer is (D)", "D"),
    ("The correct option is C because the text says so.", "C"),
    ("I choose option B.", "B"),
    ("Choice: A", "A"),
    ("B. Paris is the capital", "B"),
    ("(C) 48213", "C"),
    ("C) the second chain", "C"),
    ("```\nB\n```", "B"),
    ("```text\nThe answer is (A)\n```", "A"),
    ("<think>Maybe (A) or (B)... the answer is A</think>The answer is (C)", "C"),
    ("After checking, (B) fits best.", "B"),
    ("It must be D", "D"),
    # several candidates: the last explicit marker wins
    ("The answer is A. Wait, no. The answer is C.", "C"),
    ("Answer: A\nFinal answer: D", "D"),
    # absent or ambiguous -> None
    ("", None),
    (None, None),
    ("I don't know.", None),
    ("A good question; I cannot tell.", None),
    ("Either (A) or (B).", None),
    ("B or C", None),
    ("E", None),
    ("The answer is E", None),
]


@pytest.mark.parametrize("text,want", CHOICE_TABLE)
def test_extract_choice_golden(text, want):
    assert extract_choice(text) == want


# Bugs fixed in issue 11 (each failed on the earlier extractor).
EXPLANATION_TABLE = [
    ("The answer is B.\n\nExplanation: option A is incorrect", "B"),  # was A: the last marker won
    ("Answer: C\nReasoning: the answer: A would need a second dog", "C"),
    ("The answer is B. Here's why: choice: D is too small", "B"),
    ("Explanation: option A fails, so the answer is C", "C"),  # no answer before the header: read it all
]


@pytest.mark.parametrize("text,want", EXPLANATION_TABLE)
def test_marker_in_explanation_does_not_win(text, want):
    assert extract_choice(text) == want


@pytest.mark.parametrize("text,want", [
    ("The answer is B. Option A is incorrect, option C is too large.", "B"),  # was C
    ("I choose option B; option A is close but wrong.", "B"),  # was A
    ("Option B is correct; option A is wrong.", "B"),  # was A
    ("B is correct, A is not.", "B"),
])
def test_option_mention_is_not_an_answer_marker(text, want):
    assert extract_choice(text) == want


@pytest.mark.parametrize("text", [
    "A or C",  # was C: the "article A" rule dropped the A
    "A and B",  # was B
    "The answer is A or C",  # was A
    "Answer: B, D",  # was B
    "(A) or (C)",
])
def test_ambiguous_letters_are_none(text):
    assert extract_choice(text) is None


@pytest.mark.parametrize("text,labels,want", [
    ("A good question; the answer is B", "ABCD", "B"),
    ("A cat, not a dog", "ABCD", None),  # the article is no label
    ("A is correct", "ABCD", "A"),
    ("I think J", "ABCDEFGHIJ", "J"),  # the pronoun I is no label, even with ten options
    ("I would pick J", "ABCDEFGHIJ", "J"),
    ("I or J", "ABCDEFGHIJ", None),
    ("The answer is a bit unclear", "ABCD", None),  # lower-case article after a marker
])
def test_article_and_pronoun_are_not_labels(text, labels, want):
    assert extract_choice(text, labels) == want


def test_extract_choice_custom_labels():
    assert extract_choice("The answer is E", labels="ABCDE") == "E"
    assert extract_choice("(E)", labels="ABCDE") == "E"


LONGBENCH_TABLE = [
    ("The correct answer is (B)", "B"),
    ("The correct answer is B", "B"),
    ("The correct answer is **(C)**", "C"),
    ("**The correct answer is (D)**", "D"),
    ("Reasoning... The correct answer is (A). The correct answer is (B)", "A"),  # first match
    ("the correct answer is (B)", None),  # official regex is case-sensitive
    ("The correct answer is (b)", None),
    ("Answer: B", None),
    ("(B)", None),
    ("", None),
    (None, None),
]


@pytest.mark.parametrize("text,want", LONGBENCH_TABLE)
def test_extract_longbench_v2_golden(text, want):
    assert extract_longbench_v2(text) == want


NUMBER_TABLE = [
    ("42", "42"),
    ("The answer is 42.", "42"),
    ("Answer: 1,234", "1234"),
    ("Answer: $1,234.50", "1234.5"),
    ("It is -7", "-7"),
    ("first 3 then 5", "5"),  # no marker: the last number
    ("The result is 12 (out of 40)", "12"),  # marker: first number after it
    ("Answer: 3\nAnswer: 8", "8"),  # last marker wins
    ("```\n17\n```", "17"),
    ("<think>it's 5</think>Answer: 6", "6"),
    ("0.50", "0.5"),
    ("no number here", None),
    ("HAT136", None),  # digits inside an identifier are not a number
    ("", None),
]


@pytest.mark.parametrize("text,want", NUMBER_TABLE)
def test_extract_number_golden(text, want):
    assert extract_number(text) == want


def test_number_helpers():
    assert parse_number("1,234.50") == 1234.5
    assert parse_number("−2") == -2.0
    assert parse_number("12%") == 12.0
    assert parse_number("abc") is None
    assert canonical_number(12.0) == "12" and canonical_number(0.25) == "0.25"
    assert numbers_in("a 1,000 b 2.50 c -3 HAT001 x") == ["1000", "2.5", "-3"]


SHORT_TABLE = [
    ("Answer: HAT136", "HAT136"),
    ("answer: economy.", "economy"),
    ("The answer is 'gold'.", "gold"),
    ("Final answer: credit_card_4421486", "credit_card_4421486"),
    ("Let me look.\nAnswer:\n#W2378156", "#W2378156"),
    ("Answer: a\nAnswer: b", "b"),
    ("**Answer:** `business`", "business"),
    ("```\nANSWER: 2024-05-15\n```", "2024-05-15"),
    ("delivered", "delivered"),
    ("\n\n  Paris.  \nmore text", "Paris"),
    ("", None),
    ("   ", None),
]


@pytest.mark.parametrize("text,want", SHORT_TABLE)
def test_extract_short_answer_golden(text, want):
    assert extract_short_answer(text) == want


MATCH_TABLE = [
    ("1234.5", "1234.50", True),
    ("$1,234.50", "1234.5", True),
    ("1234", "1234.5", False),
    ("3 passengers", "3", True),
    ("credit_card_4421486", "credit_card_4421486", True),
    ("It is credit_card_4421486.", "credit_card_4421486", True),
    ("credit_card_44214860", "credit_card_4421486", False),
    ("#W2378156", "#W2378156", True),
    ("W2378156", "#W2378156", False),
    ("The Business", "business", True),
    ("business class", "business", False),
    ("Delivered.", "delivered", True),
    ("basic economy", "basic_economy", True),
    ("economy", "basic_economy", False),
    ("Exchange requested", "exchange requested", True),
    (None, "x", False),
]


@pytest.mark.parametrize("extracted,gold,want", MATCH_TABLE)
def test_answers_match_golden(extracted, gold, want):
    assert answers_match(extracted, gold) is want


def test_normalize_and_clean():
    assert normalize_answer("  The Quick, brown FOX! ") == "quick brown fox"
    assert normalize_answer(None) == ""
    assert clean("<think>x</think>**B**").strip() == "B"
    assert clean("reasoning</think>final").strip() == "final"
