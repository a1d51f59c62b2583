"""Free-form math answers: find the final answer in a reply, normalise LaTeX-ish forms, compare.

Why: MathVista, MathVerse, MathVision, OlympiadBench and PhyX grade numbers and expressions, not
letters. VLMEvalKit compares them with a mix of rules (MathVision `is_equal`: equal strings, or values
within 1e-6; OlympiadBench's `MathJudger`: boxed answers, comma-separated multiple answers matched in
any order, ±, intervals, numbers within the item's `error` tolerance, the ×/÷100 percentage variants,
expressions equal after sympy simplification) and an LLM judge for the rest. This module is the rule
part, shared by those adapters:

- `final_answer`: the last \\boxed{...}, else the text after the last "final answer is" / "answer is" /
  "Answer:", else None.
- `normalize`: strips $, \\left/\\right, spacing commands, \\text{}/\\mathrm{} wrappers, degree and percent
  signs, \\dfrac -> \\frac, a trailing full stop.
- `to_number`: decimals, thousands separators, fractions (3/4, \\frac{3}{4}), and small closed forms
  (2\\sqrt{3}, \\pi/2) through sympy, evaluated numerically.
- `math_equal`: the comparison, with an absolute tolerance (`abs_tol`, e.g. OlympiadBench's `error`) or a
  relative one, multiple answers, intervals, equations by their right-hand side, units ignored on
  numbers (gold "46.3 kN" vs reply "46.3").

Safety: model output is never passed to `eval`. The sympy path only accepts a whitelisted alphabet of
short strings and rejects huge powers, so a reply cannot make the scorer run arbitrary code or hang.
"""

from __future__ import annotations

import math
import re

from ctxbench.benchmarks.scoring.extract import numbers_in, parse_number
from ctxbench.benchmarks.scoring.vqa_scoring import boxed_contents, prepare

_FINAL = re.compile(r"(?:so the final answer is|final answer\s*(?:is|:)|the answer is|answer\s*:)\s*",
                    re.IGNORECASE)


def final_answer(prediction: str | None) -> str | None:
    """The final answer a reply states (see module docstring), or None."""
    t = prepare(prediction)
    if not t:
        return None
    boxed = boxed_contents(t)
    if boxed:
        return boxed[-1].strip() or None
    marks = list(_FINAL.finditer(t))
    for m in reversed(marks):
        rest = t[m.end():].strip().split("\n", 1)[0].strip()
        rest = re.sub(r"[.;。]+$", "", rest).strip().strip("$").strip()
        if rest:
            return rest
    return None


def answer_or_last_number(prediction: str | None) -> str | None:
    """`final_answer`; else the whole reply when it is itself a number ("1/2", "$\\frac{1}{2}$",
    "2\\sqrt{3}"); else the last number in the reply, a fraction counting as one number ("so it is 3/5"
    -> "3/5", not "5")."""
    fa = final_answer(prediction)
    if fa is not None:
        return fa
    t = prepare(prediction)
    whole = re.sub(r"[.。]+$", "", t.strip().strip("$")).strip().strip("$").strip()
    if whole and len(whole) <= 60 and to_number(whole) is not None:
        return whole
    return last_number(t)


_FRAC_NUM = r"-?\\[dt]?frac\s*\{\s*-?\d+(?:\.\d+)?\s*\}\s*\{\s*-?\d+(?:\.\d+)?\s*\}"
_SLASH_NUM = r"(?<![\w.])[-+−]?\d+(?:\.\d+)?\s*/\s*\d+(?:\.\d+)?(?![\w]|\.\d|\s*/)"
_PLAIN_NUM = r"(?<![\w.])[-+−]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?![\w])|(?<![\w.])[-+−]?\.\d+(?!\w)"
_LAST_NUMBER = re.compile(f"({_FRAC_NUM})|({_SLASH_NUM})|({_PLAIN_NUM})")


def last_number(text: str | None) -> str | None:
    """The last number in the text: a \\frac{a}{b} or a/b as written, else a canonical number
    (extract.numbers_in's spelling: "1,234" -> "1234")."""
    last = None
    for m in _LAST_NUMBER.finditer(text or ""):
        last = m
    if last is None:
        return None
    if last.group(1) or last.group(2):
        return last.group(0).strip()
    nums = numbers_in(last.group(0))
    return nums[0] if nums else None


_WRAPPERS = re.compile(r"\\(?:text|mathrm|textbf|mathbf|operatorname|mbox|rm)\s*\{([^{}]*)\}")
_SPACING = re.compile(r"\\[,;:! ]|\\quad|\\qquad|\\displaystyle|\\left|\\right|\\big|\\Big")


def normalize(s: str | None) -> str:
    """LaTeX-ish answer text in a canonical spelling (see module docstring)."""
    if s is None:
        return ""
    s = str(s).strip()
    s = s.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac").replace("−", "-").replace("∶", ":")
    s = _SPACING.sub("", s)
    for _ in range(3):
        s = _WRAPPERS.sub(r"\1", s)
    s = re.sub(r"\^\s*\{?\\circ\}?|°|\\degree|\\circ", "", s)
    s = s.replace("\\%", "%").replace("$", "")
    s = re.sub(r"\s+", " ", s).strip()
    s = re.sub(r"[.。]+$", "", s).strip()
    return s


def _strip_percent(s: str) -> tuple[str, bool]:
    return (s[:-1].strip(), True) if s.endswith("%") else (s, False)


_NUM_UNIT = re.compile(r"^([-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+]?\d+)?)\s*([A-Za-zΩμ°/·^0-9{}²³* \-\\]*)$")


def to_number(s: str | None) -> float | None:
    """The numeric value of an answer, or None (see module docstring). A trailing unit is ignored."""
    t = normalize(s)
    if not t:
        return None
    t, pct = _strip_percent(t)
    v = parse_number(t)
    if v is None:
        m = re.fullmatch(r"([-+]?\d+)\s*/\s*(\d+)", t)
        if m and int(m.group(2)) != 0:
            v = int(m.group(1)) / int(m.group(2))
    if v is None:
        num = number_before_unit(t)
        v = parse_number(num) if num is not None else None
    if v is None:
        v = _sympy_number(t)
    if v is None:
        return None
    return v / 100 if pct else v


def number_before_unit(s: str | None) -> str | None:
    """"46.3 kN" -> "46.3", "14 apples" -> "14"; None unless the text is a number and a unit (see
    `_looks_like_unit`)."""
    m = _NUM_UNIT.match(normalize(s))
    if m and m.group(1) and re.search(r"\d", m.group(1)) and m.group(2).strip() and _looks_like_unit(m.group(2)):
        return m.group(1)
    return None


# Unit symbols a number may carry ("46.3 kN", "12 m/s^2", "3 cm"). Deliberately absent: letters that
# are far more often a quantity than a unit in a math or physics answer (g, t, h, L, x ...), and "mg":
# "2.5 g" is 2.5 times g, "2.5 t^2" an expression, "2x^2" not the number 2.
_UNIT_PREFIXABLE = ("m", "s", "N", "J", "W", "V", "A", "Pa", "Hz", "C", "T", "F", "Ω", "eV", "mol", "Wb", "L", "H")
_UNIT_PREFIXES = ("k", "M", "G", "m", "μ", "u", "n", "p", "c", "d")
_UNIT_SINGLE = {"m", "s", "N", "J", "W", "V", "A", "K", "C", "T", "F", "Ω"}
_UNITS = (_UNIT_SINGLE | {p + b for p in _UNIT_PREFIXES for b in _UNIT_PREFIXABLE} | {
    "kg", "Pa", "Hz", "eV", "mol", "Wb", "rad", "sr", "lm", "lx", "Bq", "Gy", "Sv", "cd", "atm", "bar", "min",
    "hr", "yr", "ohm", "deg", "cal", "kcal", "mph", "kmh", "ft", "in", "yd", "mi", "lb", "oz", "psi"}) - {"mg", "cd"}
_MATH_WORDS = {"sin", "cos", "tan", "cot", "sec", "csc", "log", "exp", "sqrt", "frac", "pi", "ln", "lim", "max", "min"}
_UNIT_TOKEN = re.compile(r"([A-Za-zΩμ]+)(?:\s*\^\s*\{?-?\d\}?|[²³])?")


def _looks_like_unit(u: str) -> bool:
    """A trailing unit: known unit symbols (with powers, joined by / · * or spaces), or plain words of
    three letters or more ("12 apples", "3 meters")."""
    u = u.strip()
    if not u or len(u) > 40:
        return False
    pos = 0
    for part in re.split(r"\s*(?:/|·|\*|\\cdot|\s)\s*", u):
        if not part:
            continue
        m = _UNIT_TOKEN.fullmatch(part)
        if not m:
            return False
        word = m.group(1)
        plain = m.group(0) == word
        if word in _UNITS or (plain and len(word) >= 3 and word.lower() not in _MATH_WORDS and word.isascii()):
            pos += 1
            continue
        return False
    return pos > 0


# ------------------------------------------------------------------------------------------ sympy (guarded)

_FUNCS = {"sqrt", "pi", "log", "ln", "sin", "cos", "tan", "exp", "E", "e", "I"}
_SAFE = re.compile(r"[0-9A-Za-z+\-*/^().,\s]*")


def latex_to_expr(s: str) -> str | None:
    """A LaTeX-ish answer as a sympy-parsable string, or None when it uses anything outside the
    whitelist (see module docstring)."""
    t = normalize(s)
    if not t or len(t) > 200:
        return None
    t = re.sub(r"\\sqrt\s*\[([^\]]+)\]\s*\{", r"root{\1}{", t)
    for _ in range(6):
        t2 = re.sub(r"\\frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}", r"((\1)/(\2))", t)
        t2 = re.sub(r"\\sqrt\s*\{([^{}]*)\}", r"sqrt(\1)", t2)
        t2 = re.sub(r"root\{([^{}]*)\}\{([^{}]*)\}", r"((\2)**(1/(\1)))", t2)
        t2 = re.sub(r"\\frac\s*(\d)\s*(\d)", r"((\1)/(\2))", t2)
        t2 = re.sub(r"\\sqrt\s*(\d+|[a-zA-Z])", r"sqrt(\1)", t2)
        if t2 == t:
            break
        t = t2
    t = (t.replace("\\pi", " pi ").replace("π", " pi ").replace("\\cdot", "*").replace("\\times", "*")
         .replace("×", "*").replace("÷", "/").replace("\\ln", " log ").replace("\\log", " log ")
         .replace("\\sin", " sin ").replace("\\cos", " cos ").replace("\\tan", " tan ").replace("√", "sqrt")
         .replace("{", "(").replace("}", ")"))
    t = t.replace("^", "**")
    if "\\" in t or "__" in t or not _SAFE.fullmatch(t.replace("**", "^")):
        return None
    for word in re.findall(r"[A-Za-z]+", t):
        if word not in _FUNCS and len(word) > 1:
            return None
    if t.count("**") > 3:
        return None
    return t


def _sympy(s: str):
    expr = latex_to_expr(s)
    if expr is None:
        return None
    try:
        from sympy import E, I, Symbol, cos, exp, log, pi, sin, sqrt, tan
        from sympy.parsing.sympy_parser import (
            convert_xor,
            implicit_multiplication_application,
            parse_expr,
            standard_transformations,
        )

        names = {"pi": pi, "sqrt": sqrt, "log": log, "ln": log, "sin": sin, "cos": cos, "tan": tan,
                 "exp": exp, "E": E, "e": E, "I": I}
        local = dict(names)
        for v in set(re.findall(r"\b[a-zA-Z]\b", expr)) - set(names):
            local[v] = Symbol(v)
        e = parse_expr(expr, local_dict=local, global_dict=dict(_sympy_globals()),
                       transformations=standard_transformations + (implicit_multiplication_application,
                                                                   convert_xor), evaluate=False)
        return e.doit() if _bounded(e) else None
    except Exception:  # noqa: BLE001  (sympy raises many types on malformed input: all mean "not comparable")
        return None


def _bounded(e) -> bool:
    """No power towers and no huge integer exponents: evaluating stays cheap."""
    from sympy import Pow

    for node in e.atoms(Pow) | ({e} if isinstance(e, Pow) else set()):
        exp = node.exp
        if exp.atoms(Pow) or (exp.is_number and abs(float(exp)) > 1000):
            return False
    return True


_GLOBALS: dict = {}


def _sympy_globals() -> dict:
    """sympy's names (what parse_expr's generated code calls: Mul, Pow, Integer ...), no builtins."""
    if not _GLOBALS:
        exec("from sympy import *", _GLOBALS)  # noqa: S102 (a fixed import, not user input)
        _GLOBALS["__builtins__"] = {}
    return _GLOBALS


def _sympy_number(s: str) -> float | None:
    e = _sympy(s)
    if e is None or getattr(e, "free_symbols", True):
        return None
    try:
        v = complex(e.evalf(30))
    except (TypeError, ValueError, OverflowError):
        return None
    if abs(v.imag) > 1e-12 or not math.isfinite(v.real):
        return None
    return v.real


def _sympy_equal(a: str, b: str) -> bool:
    ea, eb = _sympy(a), _sympy(b)
    if ea is None or eb is None or len(str(ea)) > 120 or len(str(eb)) > 120:
        return False
    try:
        from sympy import simplify

        return bool(simplify(ea - eb) == 0)
    except Exception:  # noqa: BLE001  (see _sympy)
        return False


# ------------------------------------------------------------------------------------------ comparison


def numbers_close(p: float, g: float, abs_tol: float | None = None, rel_tol: float = 1e-6) -> bool:
    if abs_tol is not None:
        return abs(p - g) <= abs_tol * 1.01 + 1e-12
    return abs(p - g) <= rel_tol * max(1.0, abs(g))


def split_top_level(s: str, sep: str = ",") -> list[str]:
    """Split on `sep` outside brackets ("(1,2), 3" -> ["(1,2)", "3"])."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(s):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            out.append(s[start:i].strip())
            start = i + 1
    out.append(s[start:].strip())
    return [x for x in out if x]


def _is_interval(s: str) -> bool:
    return len(s) >= 5 and s[0] in "([" and s[-1] in ")]" and "," in s


def _rhs(s: str) -> str:
    return s.split("=")[-1].strip() if "=" in s and s.count("=") == 1 else s


def single_equal(pred: str, gold: str, abs_tol: float | None = None, rel_tol: float = 1e-6,
                 percent: bool = False) -> bool:
    """One answer against one gold answer (see math_equal)."""
    p, g = normalize(pred), normalize(gold)
    if not p or not g:
        return False
    if p.lower() == g.lower() or p.replace(" ", "").lower() == g.replace(" ", "").lower():
        return True
    if _is_interval(p) and _is_interval(g):
        if p[0] != g[0] or p[-1] != g[-1]:
            return False
        ps, gs = split_top_level(p[1:-1]), split_top_level(g[1:-1])
        return len(ps) == len(gs) and all(single_equal(a, b, abs_tol, rel_tol) for a, b in zip(ps, gs))
    if p.count("=") == 1 and g.count("=") == 1 and _equations_equal(p, g):
        return True
    p, g = _rhs(p), _rhs(g)
    pv, gv = to_number(p), to_number(g)
    if pv is not None and gv is not None:
        targets = [gv / 100, gv, gv * 100] if percent else [gv]
        return any(numbers_close(pv, t, abs_tol, rel_tol) for t in targets)
    if (pv is None) != (gv is None):
        return False
    return _sympy_equal(p, g)


def _equations_equal(p: str, g: str) -> bool:
    """"2x^2 = y" equals "y=2x^2": lhs - rhs agree up to sign."""
    (pl, pr), (gl, gr) = p.split("="), g.split("=")
    moved = f"({gl.strip()})-({gr.strip()})"
    return (_sympy_equal(f"({pl.strip()})-({pr.strip()})", moved)
            or _sympy_equal(f"({pr.strip()})-({pl.strip()})", moved))


def math_equal(pred: str | None, gold: str | None, abs_tol: float | list[float | None] | None = None,
               rel_tol: float = 1e-6, percent: bool = False) -> bool:
    """Whether a reply's answer equals the gold answer. Several comma-separated answers match in any
    order (each gold answer may carry its own tolerance); '\\pm' expands to both signs."""
    if pred is None or gold is None:
        return False
    if single_equal(pred, gold, abs_tol if not isinstance(abs_tol, list) else abs_tol[0], rel_tol, percent):
        return True
    golds = _expand_pm(split_top_level(normalize(gold)))
    preds = _expand_pm(split_top_level(normalize(pred)))
    if len(golds) < 2 or len(golds) != len(preds):
        return False
    tols = abs_tol if isinstance(abs_tol, list) else [abs_tol] * len(golds)
    tols = (tols + [tols[-1] if tols else None] * len(golds))[:len(golds)]
    remaining = list(preds)
    for g, tol in zip(golds, tols):
        hit = next((p for p in remaining if single_equal(p, g, tol, rel_tol, percent)), None)
        if hit is None:
            return False
        remaining.remove(hit)
    return True


def _expand_pm(items: list[str]) -> list[str]:
    out = []
    for x in items:
        if "\\pm" in x or "±" in x:
            out += [x.replace("\\pm", "+").replace("±", "+"), x.replace("\\pm", "-").replace("±", "-")]
        else:
            out.append(x)
    return out


def round_to(v: float, precision: int | None) -> float:
    return round(v, precision) if precision is not None else v


__all__ = [
    "answer_or_last_number",
    "final_answer",
    "last_number",
    "latex_to_expr",
    "math_equal",
    "normalize",
    "number_before_unit",
    "numbers_close",
    "round_to",
    "single_equal",
    "split_top_level",
    "to_number",
]
