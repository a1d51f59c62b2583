"""PhyX's official string-level ('STR') verdict, VLMEvalKit 0.0.20, quirks included.

Sources read: vlmeval/dataset/image_vqa.py `PhyX.evaluate` with `valid_type="STR"` (the rule-only
mode; its LLM mode needs a DeepSeek judge). It picks `PhyX_process_line_MC` when the result file name
contains "_MC" (ctxbench reads PhyX_MC.tsv / PhyX_mini_MC.tsv), else `PhyX_process_line`; both are in
vlmeval/dataset/utils/phyx.py. Re-implemented, not imported. The raw reply is read, with no <think>
stripping.

Multiple choice (`PhyX_process_line_MC`), on the stripped reply:
1. the first capital A-D anywhere after a whole word "correct", "answer" or "option" (also capitalised,
   never upper-case), lazily, across lines. So "The answer is clockwise. Because ..." reads as B (the
   B of "Because"). The letter equal to the gold letter -> correct;
2. only when step 1 found no such word-and-letter: the last "X:" (X in A-D) equal to the gold -> correct;
3. otherwise the reply is still correct if it contains the gold followed by ":" or "**", or "**" followed
   by the gold, anywhere. So "Answer: A ... (B: ...)" is correct for gold B.
A bare "B", "(A)", "\\boxed{C}" or "A. clockwise" has none of these, so it is wrong.

Open ended (`PhyX_process_line`): a reply that is a dict literal with a non-empty 'content' is read
as that content. The answer is the first `\\boxed{}` (\\dfrac -> \\frac, \\pi -> 3.14), else what
follows "final answer" / "correct answer" and a colon, else nothing. Correct when the gold equals that
answer or the whole reply (case-insensitive, stripped), or when the gold occurs *anywhere* in the reply
(case-sensitive): gold "5" is matched by "15 m".
"""

from __future__ import annotations

import ast
import re

FAIL_MSG = "Failed to obtain answer via API."
_MC_WORD = re.compile(r"\b(?:correct|answer|option|Answer|Option|Correct)\b[\s\S]*?([A-D])")
_OE_FINAL = re.compile(r"\b(?:final\s+answer|correct\s+answer)\b[^:：]*[:：]\s*(.*?)(?=\n\n\n|\Z)",
                       re.IGNORECASE | re.DOTALL)


def mc_verdict(prediction: str | None, gold: str) -> tuple[str | None, bool]:
    """(the letter read, or None; correct) by PhyX_process_line_MC."""
    pred = str(prediction if prediction is not None else "").strip()
    gold = str(gold)
    if pred == FAIL_MSG:
        return None, False
    m = _MC_WORD.search(pred)
    extracted = None
    if m:
        extracted = m.group(1)
        if gold.strip().lower() == extracted.lower():
            return extracted, True
    else:
        found = re.findall(r"([ABCD]):", pred)
        if found:
            extracted = found[-1]
            if gold.strip().lower() == extracted.lower():
                return extracted, True
    ok = (gold + ":") in pred or (gold + "**") in pred or ("**" + gold) in pred
    return (gold if ok and extracted is None else extracted), ok


def _literal_dict(s: str):
    """safe_literal_eval: the reply as a Python literal, else as `{key: value}` with keys quoted."""
    s = s.strip()
    try:
        return ast.literal_eval(s)
    except Exception:  # noqa: BLE001  (not a literal: try the dict spelling below)
        s = s.strip()
    if not s.startswith("{"):
        s = "{" + s
    if not s.endswith("}"):
        s = s + "}"
    s = re.sub(r'([{,]\s*)([^"\{\}\:\,\s]+)\s*:', r'\1"\2":', s)
    try:
        return ast.literal_eval(s)
    except Exception:  # noqa: BLE001
        return None


def _first_boxed(s: str) -> str | None:
    start = s.find("\\boxed{")
    if start == -1:
        return None
    rest, depth = s[start + len("\\boxed{"):], 0
    for i, ch in enumerate(rest):
        if ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return rest[:i]
            depth -= 1
    return None


def _mapping(s: str) -> str:
    return s.replace("\\dfrac", "\\frac").replace("\\pi", "3.14")


def oe_verdict(prediction: str | None, gold: str) -> tuple[str | None, bool]:
    """(the answer read, or None; correct) by PhyX_process_line."""
    raw = str(prediction if prediction is not None else "")
    pred = raw.strip()
    d = _literal_dict(raw)
    if isinstance(d, dict) and "content" in d and d["content"] != "" and isinstance(d["content"], str):
        pred = d["content"].strip()
    if pred == FAIL_MSG:
        return None, False
    boxed = _first_boxed(pred)
    if boxed is not None:
        extracted = _mapping(boxed)
    else:
        m = _OE_FINAL.search(pred)
        extracted = _mapping(m.group(1)) if m else "SAME as predict"
    g = str(gold)
    ok = (g.strip().lower() == extracted.strip().lower() or g.strip().lower() == pred.strip().lower()
          or g in pred)
    return (None if extracted == "SAME as predict" else extracted), ok


__all__ = ["FAIL_MSG", "mc_verdict", "oe_verdict"]
