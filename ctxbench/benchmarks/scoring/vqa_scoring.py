"""Scoring the VQA benchmarks, ctxbench's `semantic` reading: option letters, and the pluggable judge hook.

Two verdicts are stored for every VQA item (benchmarks/base.py `verdicts`). The `official` one, the
score of record, follows VLMEvalKit exactly, quirks included (for the multiple-choice sets it lives in
vlmeval_mcq.py). This module is the `semantic` one (also the RL reward): what the reply means. It starts from VLMEvalKit's
exact-matching rule (`vlmeval.utils.matching_util.can_infer`, re-implemented, not imported: vlmeval
turns TLS verification off at import) but reads more replies:

  1. can_infer_option: a refusal phrase -> 'Z'; replace the characters .()[],:;!*#{} by spaces, split on
     whitespace; exactly one distinct option letter among the tokens -> that letter; no letter but a 'Z'
     token -> 'Z'; otherwise no answer. Deliberate deviation: VLMEvalKit accepts the lone letter only
     when it stands among the last four tokens ("B. Looking closely at the picture ..." is no answer
     there); here it counts wherever it stands.
  2. can_infer_text: the reply (lower-cased, at most twice as long as all option texts together) contains
     exactly one option's text -> that option.

VLMEvalKit sends whatever those rules miss to a GPT judge, or scores it wrong under `exact_matching`.
The semantic reading has no judge, so two stricter-than-a-judge passes follow (they only ever turn a
VLMEvalKit "no answer" into an answer):

  3. the last \\boxed{X} holding just an option letter;
  4. ctxbench's explicit-marker extractor ("the answer is (B)", "Answer: b", a reply that starts with
     "B." ...; see extract.extract_choice), which returns None when ambiguous.

Reasoning inside <think>...</think> is dropped first and an <answer>...</answer> span, when present, is
what is read (MME-RealWorld's evaluator does the same). Every departure from the official verdict is
listed in docs/official-scorers/mcq.md.

Judge hook: datasets VLMEvalKit scores with an LLM judge (MathVista, MathVerse, MathVision, PhyX's LLM
mode, and the MCQ sets' GPT choice extractor in `official` mode) can call a judge registered by name
here. It is off by default; `CTXBENCH_VQA_JUDGE=NAME` (a registered name, or `package.module:function`)
turns it on. When off, those datasets use the rules alone (official verdicts are then marked
"official-rule"), and `parse_ok` says whether the rules found an answer at all.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ctxbench.benchmarks.scoring.extract import before_explanation, extract_choice, strip_reasoning
from ctxbench.core.errors import ConfigError, did_you_mean

FAIL_MSG = "Failed to obtain answer via API"
REFUSALS = (
    "Sorry, I can't help with images of people yet.",
    "I can't process this file.",
    "I'm sorry, but without the image provided",
    "Cannot determine the answer",
)
_PUNCT = str.maketrans({c: " " for c in ".()[],:;!*#{}"})
_ANSWER_SPAN = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)


def prepare(prediction: str | None) -> str:
    """The part of a reply that is read: reasoning dropped, an <answer> span preferred, stripped."""
    t = strip_reasoning(prediction or "")
    m = _ANSWER_SPAN.search(t)
    if m:
        t = m.group(1)
    return t.strip()


def infer_option(answer: str, letters) -> str | None:
    """VLMEvalKit's can_infer_option without its last-tokens position rule (module docstring, rule 1;
    the exact rule is vlmeval_mcq.can_infer_option). Returns a letter, 'Z' or None."""
    if FAIL_MSG in answer:
        return None
    if any(r in answer for r in REFUSALS):
        return "Z"
    splits = answer.translate(_PUNCT).split()
    hits = [c for c in letters if c in splits]
    if len(hits) == 1:
        return hits[0]
    if not hits and "Z" in splits:
        return "Z"
    return None


def infer_text(answer: str, choices: Mapping[str, str]) -> str | None:
    """VLMEvalKit's can_infer_text (rule 2): exactly one option text inside a not-too-long reply."""
    a = answer.lower()
    if not choices or len(a) > 2 * sum(len(str(v)) for v in choices.values()):
        return None
    cands = [k for k, v in choices.items() if str(v).strip() and str(v).lower() in a]
    return cands[0] if len(cands) == 1 else None


def can_infer(answer: str, choices: Mapping[str, str]) -> str | None:
    """VLMEvalKit's can_infer as the semantic reading uses it: option rule (no position rule), then text rule."""
    return infer_option(answer, list(choices)) or infer_text(answer, dict(choices))


def boxed_contents(text: str) -> list[str]:
    """Contents of every \\boxed{...} / \\fbox{...}, braces balanced, in order."""
    out = []
    for m in re.finditer(r"\\(?:boxed|fbox)\s*\{", text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth == 0:
            out.append(text[m.end():i - 1])
    return out


def boxed_letter(text: str, letters) -> str | None:
    for content in reversed(boxed_contents(text)):
        c = re.sub(r"\\text\{([^}]*)\}", r"\1", content).strip().strip("()[] .")
        if c in letters:
            return c
        m = re.match(r"([A-Z])[.:)]\s", c + " ")
        if m and m.group(1) in letters:
            return m.group(1)
        return None
    return None


@dataclass(frozen=True)
class Extraction:
    letter: str | None  # an option letter, 'Z' (explicit refusal / none), or None
    rule: str           # which rule decided: "vlmeval", "boxed", "marker", "none"


def extract_option(prediction: str | None, choices: Mapping[str, str]) -> Extraction:
    """The option a reply picks, by the rules of the module docstring, in order; when the reply states
    an answer and then explains it, the part before the explanation header is read first."""
    t = prepare(prediction)
    if not t or not choices:
        return Extraction(None, "none")
    head = before_explanation(t)  # "The answer is B.\n\nExplanation: option A ...": the answer part first
    for part in ((head, t) if head else (t,)):
        got = _extract(part, choices)
        if got.letter:
            return got
    return Extraction(None, "none")


def _extract(t: str, choices: Mapping[str, str]) -> Extraction:
    letters = list(choices)
    got = can_infer(t, choices)
    if got:
        return Extraction(got, "vlmeval")
    got = boxed_letter(t, letters)
    if got:
        return Extraction(got, "boxed")
    got = extract_choice(t, "".join(letters))
    if got and got in letters:
        return Extraction(got, "marker")
    return Extraction(None, "none")


def mmerealworld_letter(prediction: str | None, letters: str = "ABCDE") -> str | None:
    """The semantic fallback for MME-RealWorld, after the option rules: like the official
    `extract_characters_regex` (answer prefixes removed, then the first capital option letter anywhere;
    a long reply with no such letter is no answer; a very short reply that is part of "(X)" names X),
    but on the prepared reply (<think> dropped, <answer> read), with \\boxed{X} first, every prefix
    removed (the official list misses two commas), and no answer for an empty reply (officially 'A') or
    one naming two option letters ("A or C"; officially the first capital).
    The exact official rule is vlmeval_mcq.mmerealworld_pick."""
    s = prepare(prediction)
    if not s:
        return None
    if len({c for c in letters if c in s.translate(_PUNCT).split()}) > 1:
        return None  # "A or C" names two options: ambiguous, not the first capital
    b = boxed_letter(s, letters)
    if b:
        return b
    for prefix in ("The best answer is", "The correct answer is", "The answer is", "The answer",
                   "The best option is", "The correct option is", "Best answer:", "Best option:"):
        s = s.replace(prefix, "")
    cls = f"[{letters}]"
    if len(s.split()) > 10 and not re.search(cls, s):
        return None
    m = re.search(cls, s)
    if m:
        return m.group(0)
    low = s.strip().lower()
    if not low:
        return None
    for c in letters:
        if low in f"({c})".lower():
            return c
    return None


def phyx_mc_letter(prediction: str | None) -> str | None:
    """PhyX's rule-based ('STR') multiple-choice extraction: the first A-D after a word 'answer',
    'correct' or 'option'; else the last 'X:'; else 'X**' / '**X' markdown emphasis."""
    p = (prediction or "").strip()
    if not p or p == FAIL_MSG:
        return None
    m = re.search(r"\b(?:correct|answer|option|Answer|Option|Correct)\b[\s\S]*?([A-D])", p)
    if m:
        return m.group(1)
    found = re.findall(r"([ABCD]):", p)
    if found:
        return found[-1]
    for c in "ABCD":
        if f"{c}**" in p or f"**{c}" in p:
            return c
    return None


# ----------------------------------------------------------------------------------------------- judge hook


@dataclass(frozen=True)
class JudgeRequest:
    """What a judge sees: the question as the model saw it (text only), the raw reply, the gold answer,
    the options when it is multiple choice, and the benchmark's scoring meta (answer type, precision)."""

    benchmark: str
    item_id: str
    question: str
    prediction: str
    answer: str
    choices: dict[str, str] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class JudgeVerdict:
    """`extracted`: the answer the judge read from the reply (None: it found none). `correct`: the
    judge's own verdict, or None to let the benchmark's rule compare `extracted` with the gold answer
    (VLMEvalKit's MathVista/MathVision judges only extract; MathVerse's also decides)."""

    extracted: str | None
    correct: bool | None = None


Judge = Callable[[JudgeRequest], JudgeVerdict]
JUDGES: dict[str, Judge] = {}
JUDGE_ENV = "CTXBENCH_VQA_JUDGE"
_active: list[str | None] = [None]


def register_judge(name: str, fn: Judge | None = None):
    """Register a judge callable by name (usable as a decorator)."""
    def deco(f: Judge) -> Judge:
        if not callable(f):
            raise ConfigError(f"judge {name!r} is not callable")
        JUDGES[name] = f
        return f

    return deco(fn) if fn is not None else deco


def set_judge(name: str | None) -> None:
    """Turn the judge on (a registered name or 'module:function') for this process, or off (None)."""
    if name is not None:
        _resolve(name)
    _active[0] = name


def active_judge() -> Judge | None:
    """The judge in use: set_judge(...) first, else $CTXBENCH_VQA_JUDGE, else none (the default)."""
    name = _active[0] or os.environ.get(JUDGE_ENV) or None
    return _resolve(name) if name else None


def _resolve(name: str) -> Judge:
    if name in JUDGES:
        return JUDGES[name]
    if ":" in name:
        mod, _, attr = name.partition(":")
        try:
            fn = getattr(importlib.import_module(mod), attr)
        except (ImportError, AttributeError) as e:
            raise ConfigError(f"{JUDGE_ENV}={name!r}: cannot import {attr!r} from {mod!r} ({e})") from None
        return register_judge(name, fn)
    raise ConfigError(f"unknown VQA judge {name!r}{did_you_mean(name, JUDGES)} (or give package.module:function)")


__all__ = [
    "JUDGES",
    "JUDGE_ENV",
    "Extraction",
    "JudgeRequest",
    "JudgeVerdict",
    "active_judge",
    "boxed_contents",
    "boxed_letter",
    "can_infer",
    "extract_option",
    "infer_option",
    "infer_text",
    "mmerealworld_letter",
    "phyx_mc_letter",
    "prepare",
    "register_judge",
    "set_judge",
]
