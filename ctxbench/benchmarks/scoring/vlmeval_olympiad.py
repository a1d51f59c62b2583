"""OlympiadBench's official verdict: VLMEvalKit 0.0.20's rule-based MathJudger, bugs included.

Source read: vlmeval/dataset/image_vqa.py `OlympiadBench.evaluate` (the default path, without
`olympiad_use_api_judger`) and vlmeval/dataset/utils/olympiadbench.py `extract_answer` and `MathJudger`
(`judge`, `preprocess`, `is_equal`, `numerical_equal`, `expression_equal`, `equation_equal`,
`interval_equal`). Re-implemented here, not imported (vlmeval turns TLS verification off at import).

What the official pipeline does, step by step (and so what `official_verdict` does):

1. The answer: the text after the last "So the final answer is" on its line (stripped), else the whole
   reply (`extract_answer`, English rows).
2. The gold: the TSV's `final_answer` cell with its first two and last two characters cut off
   (`final_answer[2:-2]`). The cell is the `str()` of a Python list, so `['$\\frac{1}{2}$']` becomes
   `$\\\\frac{1}{2}$`: the backslashes stay doubled, and a LaTeX gold can then never parse.
3. `judge(model_answer, gold, precision)`. The model answer is the *first* argument, although the
   comments call it the ground truth. `preprocess` runs on both: every `\\boxed{}` joined by commas (a
   brace that never closes -> the judge returns False), else the `$...$` parts of the last line, else
   the text. Then `\\in ` keeps only what follows it; the listed marks are replaced (`\\left`,
   `\\right`, `$`, `%`, `^\\circ`, `\\approx` -> `=` ...); the characters `\\n$,.:;^_=+`!@#%&*~，。`
   are stripped from both ends (not spaces); `\\mathrm{x}` / `\\mathbf{x}` are unwrapped. Equal strings
   -> True. Otherwise CJK characters are removed, both sides are split on top-level commas, `\\pm`
   doubles an item, and the items must pair off greedily. The pairing goes through the model's items
   in a rotating order and keeps a precision list in step with them.
4. `is_equal(a, b)`: equal strings; two intervals compared bound by bound (zip, so extra bounds are
   ignored; an error in a bound -> False at once); `float(a)` and `float(b)` within `precision * 1.01`,
   or with a at x/100 or x*100 (the percentage rule); `expression_equal`; `equation_equal`.
5. `expression_equal` parses both right-hand sides with sympy's parse_latex. It returns True only
   when the two *unevaluated* trees are identical. Otherwise it calls `self.sympy_sub_pi`, a method
   that was commented out, so the AttributeError is caught as "not equal". So `0.5` vs
   `\\frac{1}{2}`, `\\frac{5}{2}` vs `2.5` and `4.05\\times10^{3}` vs `4050` all fail. `2x^2` vs
   `y=2x^2` passes (same tree after the `=`).
6. `equation_equal` (both sides contain exactly one `=`): (lhs - rhs) simplified on both, and one
   divided by the other is a nonzero integer.

parse_latex is reproduced by `latex_parse.parse_latex` (see there for what it covers).
"""

from __future__ import annotations

import re

from ctxbench.benchmarks.scoring.latex_parse import parse_latex

_MARKS = (("\\left", ""), ("\\right", ""), ("∶", ":"), ("，", ","), ("$", ""), ("\\approx", "="),
          ("\\simeq", "="), ("\\sim", "="), ("^\\prime", "'"), ("^{\\prime}", "'"), ("^\\circ", ""), ("%", ""))
_STRIP = "\n$,.:;^_=+`!@#$%^&*~，。"
_UNWRAP = re.compile(r"\\(?:mathrm|mathbf)\{~?([^}]*)\}")
_CJK = re.compile(r"[\u4e00-\u9fff]+")
DEFAULT_PRECISION = 1e-8
_MAX_SIMPLIFY = 200  # characters: longer equations are not simplified (the official 30 s timeout)


class _Unbalanced(ValueError):
    pass


def extract_answer(prediction: str | None) -> str:
    """`extract_answer(is_chinese=False, ...)`: the rest of the line after the last "So the final
    answer is", stripped; else the whole reply (an empty reply is read as pandas' 'nan')."""
    text = "nan" if prediction is None or str(prediction) == "" else str(prediction)
    found = re.findall(r"So the final answer is (.*)", text)
    return found[-1].strip() if found else text


def gold_from_cell(cell: str) -> str:
    """`line['final_answer'][2:-2]` on the raw TSV cell."""
    return cell[2:-2]


def precision_from_cell(cell: str | None) -> float | list[float]:
    """The `error` column as OlympiadBench.evaluate reads it: missing -> the default 1e-8; a comma list
    -> one precision per answer (empty parts 1e-8); else one float."""
    if cell is None or str(cell).strip() in ("", "nan", "NaN", "None"):
        return DEFAULT_PRECISION
    cell = str(cell)
    if "," in cell:
        return [float(p) if p else DEFAULT_PRECISION for p in cell.split(",")]
    return float(cell)


def _boxed_or_last_line(text: str) -> str:
    out = ""
    for m in re.finditer(r"\\boxed\{", text):
        i, depth = m.end(), 1
        while depth > 0 and i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if depth:
            raise _Unbalanced(text)
        out += text[m.end():i - 1] + ","
    if out:
        return out
    last = text.strip().split("\n")[-1]
    dollars = re.findall(r"\$(.*?)\$", last)
    return "".join(d + "," for d in dollars) if dollars else text


def _clean(expr: str) -> str:
    if "\\in " in expr:
        expr = expr.split("\\in ")[1]
    for old, new in _MARKS:
        expr = expr.replace(old, new)
    expr = expr.strip(_STRIP)
    return _UNWRAP.sub(r"\1", expr)


def preprocess(model_answer: str, gold: str) -> tuple[str, str]:
    return _clean(_boxed_or_last_line(model_answer)), _clean(_boxed_or_last_line(gold))


def split_by_comma(expr: str) -> list[str]:
    """Top-level commas; only ( and [ nest."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(expr):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(expr[start:i].strip())
            start = i + 1
    if start < len(expr):
        parts.append(expr[start:].strip())
    return parts


def _plus_minus(items: list[str]) -> list[str]:
    out = []
    for x in items:
        out += [x.replace("\\pm", "+"), x.replace("\\pm", "-")] if "\\pm" in x else [x]
    return out


def judge(model_answer: str, gold: str, precision: float | list[float] = DEFAULT_PRECISION) -> bool:
    """MathJudger.judge(model_answer, gold, precision) (see module docstring, step 3)."""
    precision = list(precision) if isinstance(precision, list) else [precision]
    try:
        a, b = preprocess(model_answer, gold)
    except _Unbalanced:
        return False
    if a == b:
        return True
    mine = _plus_minus(split_by_comma(_CJK.sub("", a)))
    golds = _plus_minus(split_by_comma(_CJK.sub("", b)))
    if len(precision) <= 1:
        precision = precision * len(mine)
    if len(mine) != len(golds):
        return False
    idx = -1
    while mine:
        idx = (idx + 1) % len(mine)
        item = mine[idx]
        if idx >= len(precision):
            return False  # the official code raises IndexError here and the evaluation stops
        tol = precision[idx]
        for other in golds:
            if is_equal(item, other, tol):
                mine.remove(item)
                golds.remove(other)
                precision.remove(tol)
                break
        else:
            return False
    return True


def is_equal(a: str, b: str, precision: float = DEFAULT_PRECISION) -> bool:
    """MathJudger.is_equal (module docstring, step 4); `a` is the model's item, `b` the gold's."""
    if a == b and a != "":
        return True
    if _is_interval(a) and _is_interval(b):
        try:
            if _interval_equal(a, b):
                return True
        except Exception:  # noqa: BLE001  (official: any error in a bound -> not equal, stop here)
            return False
    if _numerical_equal(a, b, precision):
        return True
    try:
        same_tree = _expression_equal(a, b) and not ("=" in a and "=" in b)
    except Exception:  # noqa: BLE001  (parse errors and the missing sympy_sub_pi: not equal)
        same_tree = False
    if same_tree:
        return True
    try:
        return _equation_equal(a, b)
    except Exception:  # noqa: BLE001  (as the official code: any failure is "not equal")
        return False


def _is_interval(s: str) -> bool:
    return s.startswith(("(", "[")) and s.endswith((")", "]"))


def _numerical_equal(a: str, b: str, precision: float) -> bool:
    try:
        ref, pred = float(a), float(b)
    except (ValueError, OverflowError):
        return False
    return any(abs(x - pred) <= precision * 1.01 for x in (ref / 100, ref, ref * 100))


def _rhs_of(expr: str) -> str:
    return (expr.split("=")[1] if "=" in expr else expr).strip()


def _expression_equal(a: str, b: str) -> bool:
    """True only for identical parse trees; anything else reaches the removed sympy_sub_pi."""
    ea, eb = parse_latex(_rhs_of(a)), parse_latex(_rhs_of(b))
    if ea == eb:
        return True
    raise AttributeError("'MathJudger' object has no attribute 'sympy_sub_pi'")


def _equation_equal(a: str, b: str) -> bool:
    import sympy

    def moved(eq: str):
        lhs, rhs = eq.split("=")  # ValueError unless exactly one '='
        if len(eq) > _MAX_SIMPLIFY:
            raise TimeoutError(eq)
        return sympy.simplify(parse_latex(lhs) - parse_latex(rhs))

    ea, eb = moved(a), moved(b)
    q1, q2 = sympy.simplify(ea / eb), sympy.simplify(eb / ea)
    return bool((q1.is_Integer and q1 != 0) or (q2.is_Integer and q2 != 0))


def _interval_equal(a: str, b: str) -> bool:
    if a == b:
        return True
    la, lb = a.split("\\cup"), b.split("\\cup")
    if len(la) != len(lb):
        return False
    for x, y in zip(la, lb):
        if x[0] != y[0] or x[-1] != y[-1]:
            return False
        for p, q in zip(x.strip("[]()").split(","), y.strip("[]()").split(",")):
            if not _expression_equal(p, q):  # raises unless identical trees: is_equal -> False
                return False
    return True


def official_verdict(prediction: str | None, final_answer_cell: str, error_cell: str | None,
                     answer_type: str | None) -> tuple[str, bool]:
    """(what the judge compared, verdict) for one reply, as OlympiadBench.evaluate scores it."""
    answer = extract_answer(prediction)
    gold = gold_from_cell(final_answer_cell)
    if answer_type is not None and "Tuple" in str(answer_type):
        return answer, judge(answer, gold)
    try:
        precision = precision_from_cell(error_cell)
    except ValueError:
        return answer, False  # the official evaluation would crash on this row
    return answer, judge(answer, gold, precision)


__all__ = ["extract_answer", "gold_from_cell", "is_equal", "judge", "official_verdict", "precision_from_cell",
           "preprocess", "split_by_comma"]
