"""The condition-filtering cascade's bookkeeping and its shortcut filters (pure text; no sources here).

Why: the paper keeps ~1.5% of its candidate trajectory pairs (the ContextRL paper, §4.1), and
a pair set is only trustworthy when one can see what was thrown away and why. Every candidate passes
through the same stages, and every drop is recorded with its stage and reason in a `Ledger`, which
also gives the yield of each stage:

    source    same program (HumanEval) or task family (tau2), confounder trajectory usable
    sequence  same function events / tool sequence (identical control flow, values may differ)
    decisive  a question whose answer sits on one line, with a different answer in the confounder
    shortcut  masking, then rejection of shortcut cues: identical contexts, the answer in the query
              or anywhere in the confounder (leakage), unequal masking, length disparity, formatting
              differences outside the decisive line
    select    duplicates, per-source cap, total cap

The checks here work on rendered context lines, so they apply to any source: `shortcut_reason` is the
whole stage-4 verdict for one rendered candidate.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from difflib import SequenceMatcher

STAGES = ("source", "sequence", "decisive", "shortcut", "select")
STAGE_TITLES = {
    "source": "1 same program / task",
    "sequence": "2 same function / tool sequence",
    "decisive": "3 decisive region, different answers",
    "shortcut": "4 masking and shortcut filters",
    "select": "5 dedupe and caps",
}
MASK = "<MASKED>"


@dataclass(frozen=True)
class Rejection:
    stage: str
    reason: str
    source: str
    detail: str = ""


@dataclass
class Ledger:
    """Counts what entered and left each stage, and keeps every rejection (stage, reason, source).
    `stages`/`titles` default to the trajectory cascade; other builders (images) pass their own."""

    entered: Counter = field(default_factory=Counter)
    kept: Counter = field(default_factory=Counter)
    rejections: list[Rejection] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stages: tuple[str, ...] = STAGES
    titles: dict = field(default_factory=lambda: dict(STAGE_TITLES))

    def enter(self, stage: str, n: int = 1) -> None:
        assert stage in self.stages, stage
        self.entered[stage] += n

    def keep(self, stage: str, n: int = 1) -> None:
        self.kept[stage] += n

    def reject(self, stage: str, reason: str, source: str, detail: str = "") -> None:
        self.rejections.append(Rejection(stage, reason, source, detail))

    def yield_table(self) -> list[dict]:
        """One row per stage: entered, kept, rejected by reason (entered == kept + sum(rejected))."""
        by = Counter((r.stage, r.reason) for r in self.rejections)
        rows = []
        for s in self.stages:
            rej = {reason: n for (st, reason), n in sorted(by.items(), key=lambda kv: (-kv[1], kv[0][1])) if st == s}
            rows.append({"stage": s, "title": self.titles[s], "in": self.entered[s], "kept": self.kept[s],
                         "rejected": rej})
        return rows


def format_yield(table: list[dict], notes: list[str] = ()) -> str:
    """The yield table as text (what `ctxbench pairs build` prints)."""
    lines = list(notes)
    lines.append(f"{'stage':<40} {'in':>7} {'kept':>7} {'yield':>7}  rejected (reason: count)")
    for r in table:
        y = f"{100 * r['kept'] / r['in']:.1f}%" if r["in"] else "-"
        rej = ", ".join(f"{k}: {v}" for k, v in r["rejected"].items()) or "-"
        lines.append(f"{r['title']:<40} {r['in']:>7} {r['kept']:>7} {y:>7}  {rej}")
    first, last = table[0]["in"], table[-1]["kept"]
    if first:
        lines.append(f"overall: {last} pairs from {first} candidate couples ({100 * last / first:.2f}% kept)")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ text tools

_STR = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_NUM = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w])")
_KW = re.compile(r"\b(?:True|False|None|true|false|null)\b")


def skeleton(line: str) -> str:
    """A line's structure: string literals, numbers and True/False/None replaced by placeholders, so
    `x=3, s='ab'` and `x=41, s='c'` look the same but `x=[1, 2]` and `x=[1]` do not."""
    return _KW.sub("K", _NUM.sub("0", _STR.sub('"S"', line)))


def in_text(answer: str, text: str) -> bool:
    """`answer` occurs in `text` as a whole token (not inside a longer number or word)."""
    a = answer.strip()
    return bool(a) and re.search(r"(?<![\w.])" + re.escape(a) + r"(?![\w])", text) is not None


def _number(s: str) -> float | None:
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def value_matches(answer: str, value: str) -> bool:
    """The answer *is* this value (equal, or numerically equal), or — for answers of 4+ characters —
    occurs in it as a whole token. Short answers are not searched inside values: `1` is not "in" `[1, 2]`."""
    a, v = answer.strip(), value.strip()
    if a == v:
        return True
    na = _number(a)
    if na is not None and _number(v) == na:
        return True
    return len(a) >= 4 and in_text(a, v)


def leaks(answer: str, values) -> bool:
    return any(value_matches(answer, v) for v in values)


def mask_leaves(obj, answers: tuple[str, ...]):
    """(copy of a JSON value with every scalar leaf matching one of `answers` replaced by MASK,
    number of leaves masked). Dict keys are kept."""
    if isinstance(obj, dict):
        n, out = 0, {}
        for k, v in obj.items():
            out[k], m = mask_leaves(v, answers)
            n += m
        return out, n
    if isinstance(obj, list):
        n, out = 0, []
        for v in obj:
            w, m = mask_leaves(v, answers)
            out.append(w)
            n += m
        return out, n
    if obj is None or isinstance(obj, bool):
        return obj, 0
    if any(value_matches(a, str(obj)) for a in answers if a):
        return MASK, 1
    return obj, 0


def json_leaves(obj) -> list[str]:
    """Scalar leaves of a JSON value as strings (dict keys excluded)."""
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in json_leaves(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in json_leaves(v)]
    if obj is None:
        return []
    if isinstance(obj, bool):
        return ["true" if obj else "false"]
    return [str(obj)]


def line_diff(a: list[str], b: list[str]) -> list[tuple[int, int, int, int]]:
    """Differing line ranges (a_start, a_end, b_start, b_end), end-exclusive, in order."""
    sm = SequenceMatcher(a=a, b=b, autojunk=False)
    return [(i1, i2, j1, j2) for tag, i1, i2, j1, j2 in sm.get_opcodes() if tag != "equal"]


# ------------------------------------------------------------------------------------------ stage 4


@dataclass(frozen=True)
class Rendered:
    """One rendering of a candidate's two contexts, ready for the shortcut filters.

    decisive_pos/neg: index of the line that decides the answer in each context; neg_values: every
    value shown in the confounder (for the leakage check); masked: masks applied to (C+, C-)."""

    pos: tuple[str, ...]
    neg: tuple[str, ...]
    decisive_pos: int
    decisive_neg: int
    neg_values: tuple[str, ...]
    masked: tuple[int, int] = (0, 0)
    note: str = ""  # how it was rendered (window, truncation cap), kept in the pair's meta

    @property
    def ctx_pos(self) -> str:
        return "\n".join(self.pos)

    @property
    def ctx_neg(self) -> str:
        return "\n".join(self.neg)


def shortcut_reason(r: Rendered, query: str, answer: str, count_tokens, max_length_gap: float):
    """None when the rendered candidate passes every stage-4 filter, else (reason, detail)."""
    if r.pos == r.neg:
        return "identical-contexts", ""
    if in_text(answer, query):
        return "leak-query", f"answer {answer!r} appears in the question"
    if leaks(answer, r.neg_values):
        return "leak-confounder", f"answer {answer!r} appears in the confounder"
    if r.masked[0] != r.masked[1]:
        return "mask-inconsistent", f"{r.masked[0]} masks in C+ vs {r.masked[1]} in C-"
    tp, tn = count_tokens(r.ctx_pos), count_tokens(r.ctx_neg)
    gap = abs(tp - tn) / max(tp, tn, 1)
    if gap > max_length_gap:
        return "length-disparity", f"{tp} vs {tn} tokens ({100 * gap:.0f}% > {100 * max_length_gap:.0f}%)"
    ops = line_diff(list(r.pos), list(r.neg))
    for i1, i2, j1, j2 in ops:
        if i2 - i1 != j2 - j1:
            return "format-difference", f"line structure differs at C+ lines {i1}-{i2} / C- lines {j1}-{j2}"
        for i, j in zip(range(i1, i2), range(j1, j2)):
            if (i, j) != (r.decisive_pos, r.decisive_neg) and skeleton(r.pos[i]) != skeleton(r.neg[j]):
                return "format-difference", f"line {i} differs in form outside the decisive line"
    if not any(i1 <= r.decisive_pos < i2 and j1 <= r.decisive_neg < j2 for i1, i2, j1, j2 in ops):
        return "decisive-identical", "the decisive line is the same in both contexts"
    return None


def diff_record(r: Rendered) -> dict:
    """What the store's diff_json holds: differing line ranges (0-based, end-exclusive) of each context
    and the decisive line, for side-by-side highlighting."""
    ops = line_diff(list(r.pos), list(r.neg))
    return {"unit": "line", "pos": [[i1, i2] for i1, i2, _, _ in ops], "neg": [[j1, j2] for _, _, j1, j2 in ops],
            "decisive_pos": r.decisive_pos, "decisive_neg": r.decisive_neg}


__all__ = ["MASK", "STAGES", "STAGE_TITLES", "Ledger", "Rejection", "Rendered", "diff_record", "format_yield",
           "in_text", "json_leaves", "leaks", "line_diff", "mask_leaves", "shortcut_reason", "skeleton",
           "value_matches"]
