"""The official verdicts of MathVista, MathVision and MathVerse: VLMEvalKit 0.0.20's rules, bugs included.

Sources read (VLMEvalKit 0.0.20, the ms-vlmeval wheel ctxbench pins in its `vlm` extra):
- vlmeval/utils/matching_util.py `can_infer_option`, `can_infer_text`, `can_infer`;
- vlmeval/dataset/utils/mathvista.py `post_check`, `MathVista_auxeval`;
- vlmeval/dataset/utils/mathv.py `is_equal`, `post_check`, `MATH_V_auxeval`;
- vlmeval/dataset/utils/mathverse.py `post_check_score`, `MathVerse_auxeval_extract`, `MathVerse_auxeval_score`;
- vlmeval/dataset/image_vqa.py `MathVista.evaluate_heuristic`, `MathVision.evaluate_heuristic`,
  `MathVerse.evaluate`. All three assert a working GPT judge; none has a judge-free mode.
Re-implemented here, not imported: vlmeval turns TLS verification off at import, and it `eval`s model
output. Here no model output is ever evaluated as code: `py_value` reads Python arithmetic from the
syntax tree, and `latex_value` reads the LaTeX numbers latex2sympy would turn into plain arithmetic.

The pipeline shape, shared by MathVista and MathVision: a rule "prefetch" runs on the raw reply. If it
succeeds, no judge is asked. Otherwise GPT extracts an answer. Either way `post_check` then grades
that answer. MathVerse always has GPT extract the answer; exact string equality with the gold answer
settles it, else a second GPT call judges consistency.

`can_infer` (option letter with its last-tokens position rule, then option text) is the one in
ctxbench.benchmarks.scoring.vlmeval_mcq: MCQ and math datasets run the same matching_util code.

MathVista `post_check` bugs reproduced: a free-form answer is compared with `int()` or `float()`
*exactly* (no rounding to `precision`: "1.5" is wrong for 1.45 and right for 1.50). For any other
answer type (list, text), `res = str(res)` stringifies the still-None result, so a list answer is
never correct. A prefetched integer or float answer of 0 is falsy, so that item goes to the judge.

MathVision `is_equal` bugs reproduced: equal lower-cased strings; else Python `eval` of both within
1e-6 (so "2^3" is 1, Python's XOR, and "1,000" is a tuple); else latex2sympy of both, then `eval` of
their printed forms. `sqrt`, `pi` and `E` are not defined in that module, so `\\sqrt{12}` vs
`2\\sqrt{3}` fails, and so does every answer whose value needs a root or pi. Percent signs and
degree signs (°) make latex2sympy fail; `30^\\circ` reads as 30.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from collections.abc import Mapping

from ctxbench.benchmarks.scoring.vlmeval_mcq import can_infer

# ----------------------------------------------------------------------------------------------- MathVista


def _py_int(s) -> int | None:
    try:
        return int(s)
    except (ValueError, TypeError):
        return None


def _py_float(s) -> float | None:
    try:
        return float(s)
    except (ValueError, TypeError):
        return None


def mathvista_post_check(question_type: str | None, answer_type: str | None, answer: str,
                         answer_option: str | None, choices: Mapping[str, object], response,
                         prefetch: bool = False):
    """mathvista.post_check on `response` (the raw reply when prefetching, else the extracted answer).
    Prefetching returns the prefetched value (falsy, 0 included: the judge is asked); otherwise the
    verdict."""
    if question_type == "multi_choice":
        res = can_infer(response, choices)
        if prefetch:
            return res
        return res is not None and res == answer_option
    if answer_type == "integer":
        res, ans = _py_int(response), _py_int(answer)
    elif answer_type == "float":
        res, ans = _py_float(response), _py_float(answer)
    else:
        res, ans = "None", str(answer)  # the official `str(res)` of a still-None result
    ok = res is not None and ans is not None and res == ans
    if prefetch:
        return res if ok else None
    return ok


# ----------------------------------------------------------------------------------------------- MathVision


class _TooBig(Exception):
    """The official 30 s timeout would fire (is_equal is then False as a whole)."""


_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
        ast.BitXor: operator.xor, ast.BitAnd: operator.and_, ast.BitOr: operator.or_,
        ast.LShift: operator.lshift, ast.RShift: operator.rshift}
_CALLS = {"abs": abs, "round": round, "min": min, "max": max, "pow": pow, "int": int, "float": float}


def py_value(s: str, names: dict | None = None):
    """What Python's `eval` makes of `s` when it is plain arithmetic (numbers, operators, parentheses,
    a few builtins, and the given numeric `names`), else None. Tuples, other names and strings are None:
    subtracting them fails officially."""
    try:
        tree = ast.parse(s.strip(), mode="eval")
    except (SyntaxError, ValueError):
        return None
    try:
        v = _ev(tree.body, names or {})
    except _TooBig:
        raise
    except Exception:  # noqa: BLE001  (ZeroDivisionError, TypeError ...: the official eval raised too)
        return None
    return v if isinstance(v, (int, float, complex)) and not isinstance(v, bool) else None


def _ev(node, names: dict):
    if isinstance(node, ast.Name) and node.id in names:
        return names[node.id]
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (int, float, complex)) and not isinstance(node.value, bool):
            return node.value
        raise TypeError("not a number")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub, ast.Invert)):
        v = _ev(node.operand, names)
        return {ast.UAdd: operator.pos, ast.USub: operator.neg, ast.Invert: operator.invert}[type(node.op)](v)
    if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
        a, b = _ev(node.left, names), _ev(node.right, names)
        if isinstance(node.op, ast.Pow) and (abs(b) > 4096 or (abs(a) > 1 and abs(b) * math.log2(abs(a)) > 4096)):
            raise _TooBig
        if isinstance(node.op, ast.LShift) and b > 4096:
            raise _TooBig
        return _BIN[type(node.op)](a, b)
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _CALLS
            and not node.keywords):
        return _CALLS[node.func.id](*[_ev(a, names) for a in node.args])
    raise TypeError("not arithmetic")


def latex_value(s: str):
    """What `eval(str(latex2sympy(s)))` starts from in mathv.is_equal: a sympy number, an expression in
    the symbols a and b (the only names that eval can resolve there, see `mathv_is_equal`), or None when
    latex2sympy fails or prints a name eval cannot resolve. Covered: numbers ("1,000" is 1000),
    + - * / : \\times \\cdot \\div, ^, \\frac / \\dfrac / \\tfrac, a mixed number (2\\frac{1}{2} = 5/2),
    \\sqrt[n]{x}, parentheses, \\text{} / \\mathrm{} / \\boxed{}, $ and \\$, ^\\circ (dropped), the letters
    a and b. A plain \\sqrt, \\pi, e, other letters, % and ° give None."""
    t = s.strip().replace("−", "-").replace("\\$", "").replace("$", "")
    t = re.sub(r"\\(?:left|right)", "", t)
    t = re.sub(r"\^\s*\{?\s*\\circ\s*\}?", "", t)
    try:
        p = _LatexNum(t)
        v = p.expr()
        if p.i != len(p.s):
            return None
        return v
    except (_NotNum, ZeroDivisionError, OverflowError, IndexError, TypeError, ValueError):
        return None


class _NotNum(Exception):
    pass


class _LatexNum:
    """A small recursive-descent reader of the LaTeX above, building sympy values."""

    def __init__(self, s: str):
        self.s, self.i = re.sub(r"\s+", " ", s).strip(), 0

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] == " ":
            self.i += 1

    def at(self, lit: str) -> bool:
        self.ws()
        if self.s.startswith(lit, self.i):
            if lit[0] == "\\" and self.s[self.i + len(lit):self.i + len(lit) + 1].isalpha():
                return False
            self.i += len(lit)
            return True
        return False

    def expr(self):
        v = self.term()
        while True:
            if self.at("+"):
                v = v + self.term()
            elif self.at("-"):
                v = v - self.term()
            else:
                return v

    def term(self):
        v = self.factor()
        while True:
            if self.at("*") or self.at("\\times") or self.at("\\cdot"):
                v = v * self.factor()
            elif self.at("/") or self.at("\\div") or self.at(":"):
                d = self.factor()
                if d == 0:
                    raise ZeroDivisionError
                v = v / d
            else:
                return v

    def factor(self):
        if self.at("-"):
            return -self.factor()
        if self.at("+"):
            return self.factor()
        v, literal = self.power()
        self.ws()
        if literal and self.s.startswith(("\\frac", "\\dfrac", "\\tfrac"), self.i):
            return v + self.power()[0]  # a mixed number: 2\frac{1}{2} = 5/2
        while self.i < len(self.s) and self.s[self.i] in "ab":
            v = v * self.power()[0]  # juxtaposed symbols: 2a, ab
        return v

    def power(self):
        base, literal = self.primary()
        while self.at("^"):
            e = self.group() if self.s.startswith("{", self.i) else self.number()
            if not e.is_number or abs(e) > 64:
                raise _NotNum
            base, literal = base ** e, False
        return base, literal

    def group(self):
        if not self.at("{"):
            raise _NotNum
        v = self.expr()
        if not self.at("}"):
            raise _NotNum
        return v

    def primary(self):
        import sympy

        self.ws()
        if self.at("("):
            v = self.expr()
            if not self.at(")"):
                raise _NotNum
            return v, False
        for cmd in ("\\frac", "\\dfrac", "\\tfrac"):
            if self.at(cmd):
                top, bot = self.group(), self.group()
                if bot == 0:
                    raise ZeroDivisionError
                return top / bot, False
        if self.at("\\sqrt"):
            if not self.at("["):
                raise _NotNum  # sqrt(x) does not eval in mathv's namespace
            n = self.expr()
            if not self.at("]"):
                raise _NotNum
            x = self.group()
            if not (x.is_number and n.is_number) or x < 0 or n == 0:
                raise _NotNum
            return sympy.Float(float(x) ** (1 / float(n))), False
        for cmd in ("\\text", "\\mathrm", "\\textbf", "\\mbox"):
            if self.at(cmd):
                m = re.compile(r"\{([^{}]*)\}").match(self.s, self.i)
                if not m:
                    raise _NotNum
                self.i = m.end()
                inner = m.group(1).replace(" ", "")
                if re.fullmatch(r"-?\d+(?:\.\d+)?", inner):
                    return sympy.Symbol(inner), False  # latex2sympy: a symbol named "14", printed as 14
                if re.fullmatch(r"\(?[ab]\)?", inner):
                    return sympy.Symbol(inner.strip("()")), False
                raise _NotNum
        if self.at("\\boxed"):
            return self.group(), False
        if self.i < len(self.s) and self.s[self.i] in "ab" and not self.s[self.i + 1:self.i + 2].isalpha():
            self.i += 1
            return sympy.Symbol(self.s[self.i - 1]), False
        return self.number(), True

    def number(self):
        import sympy

        self.ws()
        m = re.compile(r"(?:\d+(?:,\d{3})*)?(?:\.\d+)?").match(self.s, self.i)
        if not m or not m.group(0) or m.group(0) == ".":
            raise _NotNum
        self.i = m.end()
        txt = m.group(0).replace(",", "")
        return sympy.Integer(int(txt)) if "." not in txt else sympy.Rational(txt)


def _small(x) -> bool:
    """abs(x) < 1e-6 for a sympy value; a symbolic x raises TypeError officially (then: not equal)."""
    return bool(x.is_number) and abs(complex(x)) < 1e-6


def mathv_is_equal(asw, gt) -> bool:
    """mathv.is_equal(asw, gt_asw) (module docstring). Its two `eval` steps run inside is_equal, so the
    names a and b resolve to its own locals: in the first step `a` is eval(gt) (so an answer "a" equals
    any numeric gold), in the second `a` and `b` are latex2sympy(gt) and latex2sympy(asw) (so a gold
    "b" equals any numeric answer)."""
    a, g = str(asw).lower().strip(), str(gt).lower().strip()
    if a == g:
        return True
    try:
        first = py_value(g)
        second = py_value(a, {"a": first}) if first is not None else None
    except _TooBig:
        return False
    if first is not None and second is not None and abs(first - second) < 1e-6:
        return True
    import sympy

    la, lb = latex_value(g), latex_value(a)
    if la is None or lb is None:
        return False
    # eval(str(x)): a -> latex2sympy(gt), b -> latex2sympy(asw), a symbol named "14" -> the number 14
    names = {sympy.Symbol("a"): la, sympy.Symbol("b"): lb}
    for sym in la.free_symbols | lb.free_symbols:
        if re.fullmatch(r"-?\d+(?:\.\d+)?", sym.name):
            names[sym] = sympy.Rational(sym.name)
        elif sym not in names:
            return False  # NameError
    try:
        diff = la.xreplace(names) - lb.xreplace(names)
        if not diff.is_number:
            return False  # the comparison raises TypeError: not equal
        return _small(diff) or _small(la - lb)
    except (TypeError, ValueError, ZeroDivisionError):
        return False


def mathv_post_check(choices: Mapping[str, object] | None, answer: str, response, prefetch: bool = False):
    """mathv.post_check: option rules when the row has choices, else is_equal on the whole response."""
    if choices:
        res = can_infer(response, choices)
        if prefetch:
            return res
        return mathv_is_equal(str(res) if res is not None else "False", answer)
    res = str(response)
    ok = mathv_is_equal(res, answer)
    if prefetch:
        return res if ok else None
    return ok


# ----------------------------------------------------------------------------------------------- MathVerse


def mathverse_exact(answer: str, extract) -> bool:
    """mathverse.post_check_score: the extracted answer equals the gold answer, both stripped."""
    return str(extract).strip() == str(answer).strip()


__all__ = ["latex_value", "mathv_is_equal",
           "mathv_post_check", "mathverse_exact", "mathvista_post_check", "py_value"]
