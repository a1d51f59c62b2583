"""VLMEvalKit's multiple-choice verdicts, reproduced rule for rule, quirks included (`official` mode).

Why a module of its own: published MMMU / MMStar / BLINK / ... numbers were computed by these rules,
surprises and all, so the score of record must follow them exactly, while ctxbench's own reading of a
reply (vqa_scoring.extract_option, `semantic` mode) stays free to be sensible. Keeping the two apart
means neither has to bend to the other, and a test can state, case by case, where they differ
(tests/benchmarks/conformance/test_vlmeval_mcq.py; the list is docs/official-scorers/mcq.md).

Everything here is re-implemented from reading ms-vlmeval 0.0.20 (the version the `vlm` extra pins),
not imported: vlmeval turns TLS verification off at import and pulls in its whole model zoo.

- vlmeval/utils/matching_util.py `can_infer_option`, `can_infer_text`, `can_infer`;
- vlmeval/dataset/utils/multiple_choice.py `mcq_vanilla_eval` (the answer map, MMMU's non-letter gold
  counted as 'A'), `MMMU_preproc`, `extract_answer_from_item` (exact matching: a failed prefetch is 'Z'),
  `extract_characters_regex` (MME-RealWorld);
- vlmeval/dataset/image_mcq.py `ImageMCQDataset.evaluate_heuristic` (reads predictions back with `str`)
  and `MMERealWorld.evaluate` (the `<answer>` span, upper-cased);
- vlmeval/run.py: MCQ datasets default to judge 'gpt-4o-mini', which only runs where `can_infer` fails;
  without a working judge the pipeline falls back to 'exact_matching' (our "official-rule" mode).

Settings reproduced are VLMEvalKit's defaults: VERBOSE unset (its "A might be a quantifier" rejection
is off), SPLIT_THINK unset (a <think> block stays in the prediction), PRED_FORMAT xlsx (an empty
prediction is read back as NaN and scored as the string "nan").
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# can_infer_option: a prediction containing the API failure message is "no answer" for the option rule
FAIL_MSG = "Failed to obtain answer via API"
# can_infer_option's `reject_to_answer`: any of these anywhere in the prediction -> 'Z'
REJECTIONS = (
    "Sorry, I can't help with images of people yet.",
    "I can't process this file.",
    "I'm sorry, but without the image provided",
    "Cannot determine the answer",
)
_SEPARATORS = str.maketrans({c: " " for c in ".()[],:;!*#{}"})  # the only characters turned into spaces
LAST_TOKENS = 5  # a lone letter counts only when its first occurrence has index > len(tokens) - 5


def tokens(answer: str) -> list[str]:
    """can_infer_option's split: the characters .()[],:;!*#{} become spaces, then whitespace splits.
    Nothing else separates: "<answer>C</answer>", "'C'", "$C$", "C?" and "c" are not the token "C"."""
    return answer.translate(_SEPARATORS).split()


def can_infer_option(answer: str, letters: Sequence[str]) -> str | None:
    """matching_util.can_infer_option: a letter, 'Z', or None (VLMEvalKit's False).

    1. the API failure message anywhere -> None; a rejection phrase anywhere -> 'Z';
    2. exactly one distinct option letter among the tokens -> that letter, but only if its FIRST
       occurrence is among the last four tokens (index > len - 5); else None ("B. Looking closely at
       the picture ..." is None, and so is "B ... so the answer is B" when the first B is early);
    3. no option letter and a token 'Z' -> 'Z' (a 'Z' then also blocks the option-text rule);
    4. two or more distinct letters -> None ("A or C").
    """
    if FAIL_MSG in answer:
        return None
    if any(r in answer for r in REJECTIONS):
        return "Z"
    toks = tokens(answer)
    present = [c for c in letters if c in toks]
    if len(present) == 1:
        ch = present[0]
        return ch if toks.index(ch) > len(toks) - LAST_TOKENS else None
    if not present and "Z" in toks:
        return "Z"
    return None


def can_infer_text(answer: str, choices: Mapping[str, str]) -> str | None:
    """matching_util.can_infer_text: lower-cased, the prediction may be at most twice as long as all
    option texts together; exactly one option text (lower-cased) occurring in it -> that option.
    Substrings count: option "red" is found in "reddish", "bear" in "teddy bear"."""
    a = answer.lower()
    if len(a) > 2 * sum(len(str(v)) for v in choices.values()):
        return None
    hits = [k for k, v in choices.items() if str(v).lower() in a]
    return hits[0] if len(hits) == 1 else None


def can_infer(answer, choices: Mapping[str, object]) -> str | None:
    """matching_util.can_infer: the option rule, and only when it gives nothing the option-text rule
    (`str(answer)` first, as the official code does with whatever the prediction cell holds)."""
    answer = str(answer)
    return can_infer_option(answer, list(choices)) or can_infer_text(answer, choices)


def prediction_cell(completion: str | None) -> str:
    """The prediction as ImageMCQDataset.evaluate_heuristic sees it: `str(x)` of the cell read back from
    the default xlsx prediction file, where an empty reply is a missing cell, NaN, hence "nan"."""
    return completion if completion else "nan"


@dataclass(frozen=True)
class Pick:
    """What mcq_vanilla_eval records for one row: `letter` (an option letter or 'Z'), and whether
    VLMEvalKit's default pipeline would now ask its GPT choice extractor (the prefetch failed)."""

    letter: str
    needs_judge: bool


def image_mcq_pick(completion: str | None, choices: Mapping[str, str]) -> Pick:
    """multiple_choice.extract_answer_from_item with the prefetch `can_infer`; under 'exact_matching' a
    failed prefetch is 'Z' (always wrong), in the default mode it goes to the GPT extractor."""
    got = can_infer(prediction_cell(completion), choices)
    return Pick(got, False) if got else Pick("Z", True)


def judge_pick(judge_output: str | None, choices: Mapping[str, str]) -> str:
    """The GPT extractor's reply read as VLMEvalKit reads it: `can_infer` again. VLMEvalKit retries three
    times and then picks a random option (or 'Z'); a judge hook answers once, so a reply that still
    names no option is 'Z' here (no coin is tossed)."""
    if not judge_output:
        return "Z"
    return can_infer(judge_output, choices) or "Z"


def mmmu_preproc(options: Mapping[str, str], answer: str) -> tuple[dict[str, str], str]:
    """MMMU_preproc + mcq_vanilla_eval's MMMU answer map, for any dataset whose name contains 'MMMU':
    an open question (no option A) becomes A = the gold answer text, B = "Other Answers"; the ground
    truth is the answer when it is one capital letter, else 'A' (also for "['A', 'C']")."""
    opts = dict(options)
    if not opts.get("A"):
        opts = {**opts, "A": answer, "B": "Other Answers"}
    gt = answer if len(answer) == 1 and answer.isupper() and answer.isascii() else "A"
    return opts, gt


# ------------------------------------------------------------------------------------------ MME-RealWorld

# extract_characters_regex's prefixes, removed (case-sensitive, every occurrence) in this order. Two
# commas are missing in the official list, so "The best option is" + "The correct option is" and
# "Best answer:" + "Best option:" are each ONE concatenated prefix that never occurs: "Best answer: C"
# keeps its "B".
MMERW_PREFIXES = (
    "The best answer is",
    "The correct answer is",
    "The answer is",
    "The answer",
    "The best option isThe correct option is",
    "Best answer:Best option:",
)
MMERW_CHOICES = ("(A)", "(B)", "(C)", "(D)", "(E)")


def extract_characters_regex(s: str) -> str:
    """multiple_choice.extract_characters_regex: '' when no answer.

    Strip, remove the prefixes above, then: more than ten words and no capital A-E -> ''; else the
    FIRST capital A-E anywhere ("Based on ..." -> B, "**Answer:** D" -> A, "Each ..." -> E); with no
    capital at all, the first of "(A)".."(E)" that contains the lower-cased reply ("" -> A, "b" -> B,
    ")" -> A); else ''."""
    s = s.strip()
    for prefix in MMERW_PREFIXES:
        s = s.replace(prefix, "")
    if len(s.split()) > 10 and not re.search("[ABCDE]", s):
        return ""
    m = re.search("[ABCDE]", s)
    if m is None:
        low = s.lower()
        for choice in MMERW_CHOICES:
            if low in choice.lower():
                return choice[1]
        return ""
    return m.group(0)


def mmerealworld_pick(completion: str | None) -> str:
    """MMERealWorld.evaluate for one prediction: the first <answer>...</answer> span, stripped and
    upper-cased, replaces the reply when present; then extract_characters_regex ('' = no answer, scored
    0). No <think> handling: reasoning is searched like the rest. An empty reply gives 'A' (as with a
    JSON prediction file; with the default xlsx file the NaN cell makes the official evaluate raise)."""
    pred = completion or ""
    m = re.search(r"<answer>(.*?)</answer>", pred, re.DOTALL)
    if m:
        pred = m.group(1).strip().upper()
    return extract_characters_regex(pred)


__all__ = [
    "FAIL_MSG",
    "MMERW_PREFIXES",
    "REJECTIONS",
    "Pick",
    "can_infer",
    "can_infer_option",
    "can_infer_text",
    "extract_characters_regex",
    "image_mcq_pick",
    "judge_pick",
    "mmerealworld_pick",
    "mmmu_preproc",
    "prediction_cell",
    "tokens",
]
