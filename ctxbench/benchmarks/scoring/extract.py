"""Answer extraction shared by every text benchmark: option letters, numbers, short answers.

Why one module: the extracted string is what the harness stores, what the app shows in drill-down and
what the RL reward is computed from, so every benchmark must read a completion the same way. The
rules are written as small ordered passes (explicit answer markers first, then weaker signals) and
each pass is covered by a golden table in tests/benchmarks/test_extract.py. When a weak signal is
ambiguous (two different bare letters, say) we return None instead of guessing: a parse failure is
reported as `parse_ok=False`, never silently scored as a wrong letter.
"""

from __future__ import annotations

import re
import string

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_OPEN_THINK = re.compile(r"^.*?</think>", re.DOTALL | re.IGNORECASE)  # completion started inside a prefilled <think>
_FENCE = re.compile(r"```[^\n`]*\n?(.*?)```", re.DOTALL)
_NUMBER = re.compile(r"(?<![\w.])[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w])|(?<![\w.])[-+−]?\.\d+(?!\w)")


def strip_reasoning(text: str) -> str:
    """Drop <think>...</think> blocks (and a leading unterminated one) so only the final answer is
    searched. Reasoning often mentions every option, which would make extraction ambiguous."""
    text = _THINK.sub(" ", text)
    if "</think>" in text.lower():
        text = _OPEN_THINK.sub(" ", text)
    return text


def unwrap_code_fences(text: str) -> str:
    """Replace ```lang ... ``` fences by their content (models often fence a one-word answer)."""
    return _FENCE.sub(lambda m: " " + m.group(1) + " ", text)


def clean(text: str | None) -> str:
    """The text an extractor searches: reasoning stripped, fences unwrapped, markdown emphasis gone."""
    if not text:
        return ""
    text = unwrap_code_fences(strip_reasoning(text))
    return text.replace("**", "").replace("__", " ").replace("`", "")


# ---------------------------------------------------------------------------------------------- letters


def extract_longbench_v2(response: str | None) -> str | None:
    """LongBench v2's official extraction (pred.py `extract_answer`): asterisks removed, then
    'The correct answer is (X)' or else 'The correct answer is X', first match, case-sensitive."""
    if not response:
        return None
    response = response.replace("*", "")
    m = re.search(r"The correct answer is \(([A-D])\)", response)
    if m:
        return m.group(1)
    m = re.search(r"The correct answer is ([A-D])", response)
    return m.group(1) if m else None


# Words that follow a label letter but never the article "A" / the pronoun "I": "A or C", "A and B",
# "A is correct", "I or J" name options; "A good answer", "I think", "I would pick B" do not.
_CONNECTIVES = frozenset({"or", "and", "nor", "vs", "versus", "is", "seems", "looks", "fits", "matches", "through",
                          "to"})
_CONNECTIVES_A = _CONNECTIVES | {"was", "are", "would", "could", "should", "might", "must", "can", "cannot",
                                 "because", "since", "but", "then"}
# A header after which a reply explains itself: letters there are discussed, not chosen.
_EXPLANATION = re.compile(r"\b(?:explanation|reasoning|rationale|justification)s?\s*(?::|-|\n)|\bwhy\s*:",
                          re.IGNORECASE)


def _article_like(t: str, start: int, end: int) -> bool:
    """Whether the one-letter word t[start:end] reads as the article 'a' / pronoun 'I' (followed by a
    lower-case word that is not a connective) rather than as an option label."""
    word = t[start:end].upper()
    if word not in ("A", "I"):
        return False
    m = re.match(r" ([a-z]+)", t[end:end + 30])
    return bool(m) and m.group(1) not in (_CONNECTIVES_A if word == "A" else _CONNECTIVES)


def _markers(t: str, labels: str) -> list[re.Match]:
    """Explicit commitments to a letter, in order of position. "option A" / "choice B" alone is a
    mention, not a commitment ("option A is incorrect"); "answer is", "correct option is", "Choice:",
    "I choose option B" and "B is correct" are commitments."""
    L = f"[{re.escape(labels.upper() + labels.lower())}]"
    letter = rf"[\(\[]?(?P<x>{L})[\)\]]?(?![\w'’-])"
    verb = r"(?:is|would be|should be|will be|must be|=|:|-)"
    upper = f"[{re.escape(labels.upper())}]"
    patterns = (  # (pattern, flags): the last one wants a capital label ("a is right" is no answer)
        (rf"\banswer\s*{verb}?\s*(?:(?:option|choice)\s*)?:?\s*{letter}", re.IGNORECASE),
        (rf"\b(?:option|choice)\s*{verb}\s*:?\s*{letter}", re.IGNORECASE),
        (rf"\b(?:choose|chose|select|selected|pick|picked|go with|going with)\s+(?:(?:option|choice)\s*)?{letter}",
         re.IGNORECASE),
        (rf"(?<![\w'’-])[\(\[]?(?P<x>{upper})[\)\]]?\s+is\s+(?:the\s+)?(?:correct|right|best)\b", 0),
    )
    found = []
    for pat, flags in patterns:
        for m in re.finditer(pat, t, flags):
            x0, x1 = m.span("x")
            if t[x0].islower() and _article_like(t, x0, x1):
                continue  # "the answer is a bit unclear", "answer: a good one"
            found.append(m)
    return sorted(found, key=lambda m: m.start("x"))


def _one_of_several(t: str, end: int, labels: str) -> bool:
    """Whether the letter ending at t[end] is one of a list: "the answer is A or C", "(A) or (C)",
    "answer: B, D"."""
    L = f"[{re.escape(labels.upper() + labels.lower())}]"
    rest = re.sub(r"^[\)\]]", "", t[end:])
    nxt = re.match(rf"(?:\s*(?:,|/|&|\bor\b|\band\b|\bnor\b))+\s*[\(\[]?({L})[\)\]]?(?![\w'’-])", rest)
    return bool(nxt) and nxt.group(1).upper() != t[end - 1].upper() and not _article_like(
        rest, nxt.start(1), nxt.end(1))


def _choose(t: str, labels: str) -> str | None:
    found = _markers(t, labels)
    if found:
        last = found[-1]
        return None if _one_of_several(t, last.end("x"), labels) else last.group("x").upper()
    L = f"[{re.escape(labels.upper() + labels.lower())}]"
    m = re.fullmatch(rf"[\(\[]?({L})[\)\]]?[.:]?", t)
    if m:
        return m.group(1).upper()
    m = re.match(rf"[\(\[]?([{re.escape(labels.upper())}])(?:[\)\]]|[.:](?=\s|$))", t)
    if m:
        return None if _one_of_several(t, m.end(1), labels) else m.group(1)
    paren = {c.upper() for c in re.findall(rf"\(({L})\)", t)}
    if len(paren) == 1:
        return paren.pop()
    if paren:
        return None
    bare = set()
    for m in re.finditer(rf"(?<![\w'’-])([{re.escape(labels.upper())}])(?![\w'’-])", t):
        if not _article_like(t, m.start(1), m.end(1)):
            bare.add(m.group(1))
    return bare.pop() if len(bare) == 1 else None


def extract_choice(text: str | None, labels: str = "ABCD") -> str | None:
    """The option letter a completion commits to, or None when absent or ambiguous.

    Passes, strongest first:
      1. an explicit commitment: "answer is (B)", "Answer: b", "correct option: B", "Choice: A",
         "I choose option B", "B is correct" (case-insensitive letter; the last one wins, since models
         restate after reasoning; "the answer is A or C" is ambiguous -> None). A mere mention such as
         "option A is incorrect" is not a commitment;
      2. the whole reply is a letter: "B", "(b)", "B.", "[B]", "B)";
      3. the reply starts with an option label: "B. Paris", "(B) Paris", "B) Paris";
      4. exactly one distinct parenthesised label "(B)" anywhere;
      5. exactly one distinct bare capital label, not counting the article "A" / pronoun "I" starting a
         phrase ("A good answer", "I think"); "A or C", "A and B" are two labels -> None.
    When the reply names its answer and then explains it ("The answer is B.\n\nExplanation: option A
    is incorrect"), only the part before the explanation header is read, so letters discussed in the
    explanation cannot override the answer.
    """
    t = clean(text).strip()
    if not t:
        return None
    head = before_explanation(t)
    if head:
        got = _choose(head, labels)
        if got is not None:
            return got
    return _choose(t, labels)


def before_explanation(text: str) -> str | None:
    """The part of a reply before its explanation header ("Explanation:", "Reasoning:", "Here's why:"),
    or None when there is no such header after some text. Readers try this part first, so letters and
    option texts discussed in an explanation cannot override the answer stated before it."""
    cut = _EXPLANATION.search(text)
    if cut is None or not text[:cut.start()].strip():
        return None
    return text[:cut.start()].strip()


# ---------------------------------------------------------------------------------------------- numbers


def parse_number(s: str | None) -> float | None:
    """'1,234.50' -> 1234.5, '$-3' -> -3.0, '−2' (unicode minus) -> -2.0; None if not a number."""
    if s is None:
        return None
    s = s.strip().replace(",", "").replace("−", "-").lstrip("$€£").rstrip("%").strip()
    try:
        return float(s)
    except ValueError:
        return None


def canonical_number(x: float) -> str:
    """Shortest stable spelling: 12.0 -> '12', 0.5 -> '0.5', 1e6 -> '1000000'."""
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.10f}".rstrip("0").rstrip(".")


def numbers_in(text: str | None) -> list[str]:
    """Every number in the text, canonicalised, in order ('1,234' and '1234.0' both -> '1234')."""
    out = []
    for m in _NUMBER.finditer(clean(text)):
        v = parse_number(m.group(0))
        if v is not None:
            out.append(canonical_number(v))
    return out


def extract_number(text: str | None) -> str | None:
    """The number a completion answers with: the first number after the last explicit answer marker,
    otherwise the last number in the text (where a final result usually is)."""
    t = clean(text)
    marks = list(re.finditer(r"(?:answer|result)\s*(?:is|:|=)", t, re.IGNORECASE))
    if marks:
        nums = numbers_in(t[marks[-1].end():])
        if nums:
            return nums[0]
    nums = numbers_in(t)
    return nums[-1] if nums else None


# ---------------------------------------------------------------------------------------------- short answers


def extract_short_answer(text: str | None) -> str | None:
    """The short answer a completion gives: what follows the last "Answer:" / "The answer is"
    marker up to the end of its line, else the first non-empty line. Surrounding quotes, brackets
    and a trailing full stop are removed."""
    t = clean(text)
    marks = list(re.finditer(r"\b(?:final answer\s*(?::|is)|the answer is\s*:?|answer\s*:)\s*", t, re.IGNORECASE))
    cand = None
    for m in reversed(marks):
        rest = t[m.end():].strip().split("\n", 1)[0].strip()  # "Answer:\nX" -> X
        if rest:
            cand = rest
            break
    if cand is None:
        lines = [ln.strip() for ln in t.strip().splitlines() if ln.strip()]
        if not lines:
            return None
        cand = lines[0]
    prev = None
    while cand != prev:  # "'gold'." -> gold: peel quotes and final punctuation in any order
        prev = cand
        cand = re.sub(r"[.;,!]+$", "", cand.strip().strip("\"'“”‘’<>[]")).strip()
    return cand or None


def normalize_answer(s: str | None) -> str:
    """SQuAD-style normalisation: lowercase, punctuation and articles removed, whitespace collapsed;
    '_' and '-' separate words first ('basic_economy' == 'basic economy')."""
    if not s:
        return ""
    s = s.lower().replace("_", " ").replace("-", " ")
    s = "".join(ch for ch in s if ch not in set(string.punctuation) | {"“", "”", "‘", "’"})
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def _is_identifier(s: str) -> bool:
    return len(s) >= 4 and bool(re.search(r"\d", s)) and " " not in s.strip()


def answers_match(extracted: str | None, gold: str) -> bool:
    """Whether an extracted short answer equals the gold one.

    Numeric gold: the first number in the extracted text equals it (to 1e-6; '$1,234.50' == 1234.5).
    Identifier-like gold (has digits, no spaces: 'credit_card_4421486', '#W2378156'): it appears as a
    whole token of the extracted text. Otherwise: normalised strings are equal.
    """
    if extracted is None:
        return False
    g = parse_number(gold)
    if g is not None:
        nums = numbers_in(extracted)
        return bool(nums) and abs(float(nums[0]) - g) <= 1e-6 * max(1.0, abs(g))
    if _is_identifier(gold):
        pat = rf"(?<![\w#]){re.escape(gold.strip())}(?![\w])"
        return re.search(pat, clean(extracted), re.IGNORECASE) is not None
    return normalize_answer(extracted) == normalize_answer(gold)


__all__ = [
    "answers_match",
    "before_explanation",
    "canonical_number",
    "clean",
    "extract_choice",
    "extract_longbench_v2",
    "extract_number",
    "extract_short_answer",
    "normalize_answer",
    "numbers_in",
    "parse_number",
    "strip_reasoning",
    "unwrap_code_fences",
]
