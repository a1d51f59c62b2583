"""A re-implementation of sympy's ANTLR LaTeX parser (`sympy.parsing.latex.parse_latex`, sympy 1.14), for
the subset of LaTeX that math answers use.

Why: OlympiadBench's official MathJudger (VLMEvalKit 0.0.20, vlmeval/dataset/utils/olympiadbench.py)
decides "expression equal" by comparing the *unevaluated* trees parse_latex builds, and decides
"equation equal" by simplifying them. Reproducing its verdicts means building the same trees. The real
parser needs the antlr4 runtime at exactly version 4.11, which ctxbench does not install, so this module
follows sympy's grammar (sympy/parsing/latex/LaTeX.g4) and its tree construction
(_parse_latex_antlr.py: convert_add, convert_mp, convert_unary, convert_postfix_list, convert_exp,
convert_atom, convert_frac, convert_func) and calls the same sympy constructors with evaluate=False.

Lexing as the grammar does: whitespace and spacing commands are skipped (so "1 000" is the number
1000), digits are single tokens that the parser joins (commas only before exactly three digits),
`\\left`/`\\right` are skipped, `d` followed by a letter is a differential (`dx` -> Symbol('dx')), a
backslash word is a keyword or else a SYMBOL (`\\pi` -> Symbol('pi'), `\\infty` -> oo), and any other
character (`%`, `°`, `\\\\`, non-ASCII) is a lexer error. Like parse_latex in its default (non-strict)
mode, tokens left over after a complete relation are ignored.

Not covered (LatexError, which MathJudger treats like sympy's parse error): integrals, sums, products,
limits, bra/ket, `|_{a}^{b}` evaluation bars, \\overline, \\mathit, floors and ceilings. An answer
using those is rare and then counts as "does not parse", so two such answers are only equal as strings.
"""

from __future__ import annotations

import re

_SKIP_CMDS = {"thinspace", "medspace", "thickspace", "quad", "qquad", "negthinspace", "negmedspace",
              "negthickspace", "left", "right", "vrule", "vcenter", "vbox", "vskip", "vspace", "hfil"}
_FUNCS = {"exp", "log", "lg", "ln", "sin", "cos", "tan", "csc", "sec", "cot", "arcsin", "arccos", "arctan",
          "arccsc", "arcsec", "arccot", "sinh", "cosh", "tanh", "arsinh", "arcosh", "artanh"}
_KEYWORDS = {"times": "MUL", "cdot": "MUL", "div": "DIV", "frac": "FRAC", "dfrac": "FRAC", "tfrac": "FRAC",
             "sqrt": "SQRT", "binom": "BINOM", "dbinom": "BINOM", "tbinom": "BINOM", "neq": "REL",
             "leq": "REL", "le": "REL", "leqq": "REL", "leqslant": "REL", "geq": "REL", "ge": "REL",
             "geqq": "REL", "geqslant": "REL"}
_UNSUPPORTED = {"int", "sum", "prod", "lim", "overline", "mathit", "lfloor", "rfloor", "lceil", "rceil",
                "langle", "rangle", "to", "rightarrow", "Rightarrow", "longrightarrow", "Longrightarrow"}
_REL_NAMES = {"=": "Eq", "<": "Lt", ">": "Gt", "neq": "Ne", "leq": "Le", "le": "Le", "leqq": "Le",
              "leqslant": "Le", "geq": "Ge", "ge": "Ge", "geqq": "Ge", "geqslant": "Ge"}


class LatexError(ValueError):
    """The input is not LaTeX that parse_latex would accept (or uses a construct not covered here)."""


def tokenize(s: str) -> list[tuple[str, str]]:
    """(kind, text) tokens; kinds: DIGIT LETTER SYMBOL DIFF FUNC FRAC SQRT BINOM MUL DIV ADD SUB CARET
    UNDER LP RP LB RB LBL RBL LK RK BAR BANG QUOTE REL COMMA DOT."""
    out: list[tuple[str, str]] = []
    i, n = 0, len(s)
    single = {"+": "ADD", "-": "SUB", "*": "MUL", "/": "DIV", ":": "DIV", "(": "LP", ")": "RP", "{": "LB",
              "}": "RB", "[": "LK", "]": "RK", "|": "BAR", "^": "CARET", "_": "UNDER", "!": "BANG",
              ",": "COMMA", ".": "DOT", "<": "REL", ">": "REL"}
    while i < n:
        c = s[i]
        if c in " \t\r\n":
            i += 1
        elif c == "\\":
            m = re.compile(r"[a-zA-Z]+").match(s, i + 1)
            if m:
                word = m.group(0)
                i = m.end()
                if word in _SKIP_CMDS:
                    continue
                if word in _UNSUPPORTED:
                    raise LatexError(f"\\{word} is not covered")
                if word in _FUNCS:
                    out.append(("FUNC", word))
                elif word in _KEYWORDS:
                    out.append((_KEYWORDS[word], word))
                else:
                    out.append(("SYMBOL", word))
            elif i + 1 < n and s[i + 1] in ",:;!":
                i += 2  # \, \: \; \!  (spacing)
            elif i + 1 < n and s[i + 1] in "*-./\"(=":
                i += 2  # the grammar's IGNORE tokens
            elif i + 1 < n and s[i + 1] in "{}":
                out.append(("LBL" if s[i + 1] == "{" else "RBL", s[i + 1]))
                i += 2
            else:
                raise LatexError(f"unexpected backslash at {i}")
        elif c == "d" and i + 1 < n:
            m = re.compile(r"d[ \t\r\n]*?(?:([a-zA-Z])|\\([a-zA-Z]+))").match(s, i)
            if m:
                out.append(("DIFF", "d" + (m.group(1) or m.group(2))))
                i = m.end()
            else:
                out.append(("LETTER", "d"))
                i += 1
        elif c.isascii() and c.isalpha():
            out.append(("LETTER", c))
            i += 1
        elif c.isascii() and c.isdigit():
            out.append(("DIGIT", c))
            i += 1
        elif c == "=" or (c == "&" and s[i + 1:].lstrip().startswith("=")):
            j = s.index("=", i) + 1
            k = j
            while k < n and s[k] in " \t\r\n":
                k += 1
            if c == "=" and k < n and s[k] == "&":
                j = k + 1
            out.append(("REL", "="))
            i = j
        elif c == "'":
            j = i
            while j < n and s[j] == "'":
                j += 1
            out.append(("QUOTE", s[i:j]))
            i = j
        elif c in single:
            out.append((single[c], c))
            i += 1
        else:
            raise LatexError(f"unexpected character {c!r}")
    return out


def parse_latex(s: str):
    """The sympy expression sympy's parse_latex would return for `s` (see module docstring)."""
    import sympy  # noqa: F401  (heavy; only when an answer is actually parsed)

    return _Parser(tokenize(s.strip())).relation()


class _Parser:
    def __init__(self, toks: list[tuple[str, str]]):
        self.t, self.i = toks, 0
        self.in_abs = 0

    def peek(self, k: int = 0) -> str | None:
        j = self.i + k
        return self.t[j][0] if j < len(self.t) else None

    def take(self, kind: str | None = None) -> tuple[str, str]:
        if self.i >= len(self.t) or (kind is not None and self.t[self.i][0] != kind):
            raise LatexError(f"expected {kind} at token {self.i}")
        tok = self.t[self.i]
        self.i += 1
        return tok

    # relation / expr ---------------------------------------------------------------------------
    def relation(self):
        import sympy

        lh = self.expr()
        while self.peek() == "REL":
            op = self.take()[1]
            rh = self.expr()
            lh = getattr(sympy, _REL_NAMES[op])(lh, rh)
        return lh

    def expr(self):
        import sympy

        lh = self.mp()
        while self.peek() in ("ADD", "SUB"):
            op = self.take()[0]
            rh = self.mp()
            if op == "ADD":
                lh = sympy.Add(lh, rh, evaluate=False)
            elif getattr(rh, "is_Atom", False):
                lh = sympy.Add(lh, -1 * rh, evaluate=False)
            else:
                lh = sympy.Add(lh, sympy.Mul(-1, rh, evaluate=False), evaluate=False)
        return lh

    def mp(self, nofunc: bool = False):
        import sympy

        lh = self.unary(nofunc)
        while self.peek() in ("MUL", "DIV"):
            op = self.take()[0]
            rh = self.unary(nofunc)
            if op == "MUL":
                lh = sympy.Mul(lh, rh, evaluate=False)
            else:
                lh = sympy.Mul(lh, sympy.Pow(rh, -1, evaluate=False), evaluate=False)
        return lh

    def unary(self, nofunc: bool = False):
        if self.peek() == "ADD":
            self.take()
            return self.unary(nofunc)
        if self.peek() == "SUB":
            self.take()
            return -self.unary(nofunc)
        parts = [self.postfix(nofunc=False)]
        while self.starts_postfix():
            parts.append(self.postfix(nofunc=nofunc))
        return _postfix_list(parts)

    def starts_postfix(self) -> bool:
        k = self.peek()
        if k == "BAR":
            return not self.in_abs
        return k in ("DIGIT", "LETTER", "SYMBOL", "DIFF", "FUNC", "FRAC", "SQRT", "BINOM", "LP", "LB", "LK",
                     "LBL")

    # postfix / exp / comp ----------------------------------------------------------------------
    def postfix(self, nofunc: bool = False):
        import sympy

        e = self.exp(nofunc)
        while self.peek() == "BANG":
            self.take()
            e = sympy.factorial(e, evaluate=False)
        return e

    def exp(self, nofunc: bool = False):
        import sympy

        base = self.comp(nofunc)
        atom_start = ("LETTER", "SYMBOL", "DIGIT", "DIFF", "FRAC", "BINOM", "LB")
        while self.peek() == "CARET" and self.peek(1) in atom_start:  # else the rule ends here
            self.take()
            if self.peek() == "LB":
                self.take()
                ex = self.expr()
                self.take("RB")
            else:
                ex = self.atom()
            if self.peek() == "UNDER":
                self.subexpr()
            base = sympy.Pow(base, ex, evaluate=False)
        return base

    def comp(self, nofunc: bool = False):
        import sympy

        k = self.peek()
        close = {"LP": "RP", "LK": "RK", "LB": "RB", "LBL": "RBL"}
        if k in close:
            self.take()
            e = self.expr()
            self.take(close[k])
            return e
        if k == "BAR":
            self.take()
            self.in_abs += 1
            e = self.expr()
            self.in_abs -= 1
            self.take("BAR")
            return sympy.Abs(e, evaluate=False)
        if not nofunc and k == "FUNC":
            return self.func_normal()
        if k == "SQRT":
            self.take()
            root = None
            if self.peek() == "LK":
                self.take()
                root = self.expr()
                self.take("RK")
            self.take("LB")
            base = self.expr()
            self.take("RB")
            return sympy.root(base, root, evaluate=False) if root is not None else sympy.sqrt(base, evaluate=False)
        if not nofunc and k in ("LETTER", "SYMBOL") and self._is_call():
            return self.call()
        return self.atom()

    def _is_call(self) -> bool:
        j = self.i + 1
        if self.peek(1) == "UNDER":
            j = self._skip_sub(j)
        while j < len(self.t) and self.t[j][0] == "QUOTE":
            j += 1
        return j < len(self.t) and self.t[j][0] == "LP"

    def _skip_sub(self, j: int) -> int:
        j += 1
        if j < len(self.t) and self.t[j][0] == "LB":
            depth = 0
            while j < len(self.t):
                depth += {"LB": 1, "RB": -1}.get(self.t[j][0], 0)
                j += 1
                if depth == 0:
                    break
            return j
        return j + 1

    def call(self):
        import sympy

        name = self.take()[1]
        if self.peek() == "UNDER":
            name += "_{" + _str(self.subexpr()) + "}"
        if self.peek() == "QUOTE":
            name += self.take()[1]
        self.take("LP")
        args = [self.expr()]
        while self.peek() == "COMMA":
            self.take()
            args.append(self.expr())
        self.take("RP")
        return sympy.Function(name)(*args)

    def func_normal(self):
        import sympy

        name = self.take("FUNC")[1]
        sub = sup = None
        for _ in range(2):
            if self.peek() == "UNDER" and sub is None:
                sub = self.subexpr()
            elif self.peek() == "CARET" and sup is None:
                self.take()
                sup = self._braced_or_atom()
        if self.peek() == "LP":
            self.take()
            arg = self.expr()
            self.take("RP")
        else:
            arg = self.mp(nofunc=True)
        expr = None
        if name.startswith("arc") and name[3:] in ("sin", "cos", "tan", "csc", "sec", "cot"):
            name = "a" + name[3:]
            expr = getattr(sympy.functions, name)(arg, evaluate=False)
        elif name in ("arsinh", "arcosh", "artanh"):
            name = "a" + name[2:]
            expr = getattr(sympy.functions, name)(arg, evaluate=False)
        elif name == "exp":
            expr = sympy.exp(arg, evaluate=False)
        elif name in ("log", "lg", "ln"):
            base = sub if sub is not None else (10 if name == "lg" else sympy.E)
            expr = sympy.log(arg, base, evaluate=False)
        should_pow = True
        if name in ("sin", "cos", "tan", "csc", "sec", "cot", "sinh", "cosh", "tanh"):
            if sup == -1:
                name, should_pow = "a" + name, False
            expr = getattr(sympy.functions, name)(arg, evaluate=False)
        if sup is not None and sup != 0 and should_pow:
            expr = sympy.Pow(expr, sup, evaluate=False)
        return expr

    def _braced_or_atom(self):
        if self.peek() == "LB":
            self.take()
            e = self.expr()
            self.take("RB")
            return e
        return self.atom()

    def subexpr(self):
        self.take("UNDER")
        return self._braced_or_atom()

    def atom(self):
        import sympy

        k = self.peek()
        if k in ("LETTER", "SYMBOL"):
            name = self.take()[1]
            if k == "SYMBOL" and name == "infty":
                return sympy.oo
            quotes = ""
            if self.peek() == "QUOTE":
                quotes = self.take()[1]
            if self.peek() == "UNDER":
                name += "_{" + _str(self.subexpr()) + "}"
            if not quotes and self.peek() == "QUOTE" and k == "LETTER":
                quotes = self.take()[1]
            return sympy.Symbol(name + quotes)
        if k == "DIGIT":
            return self.number()
        if k == "DIFF":
            return sympy.Symbol(self.take()[1])
        if k == "FRAC":
            return self.frac()
        if k == "BINOM":
            self.take()
            self.take("LB")
            n = self.expr()
            self.take("RB")
            self.take("LB")
            kk = self.expr()
            self.take("RB")
            return sympy.binomial(n, kk, evaluate=False)
        raise LatexError(f"unexpected token {self.t[self.i] if self.i < len(self.t) else 'end'}")

    def number(self):
        import sympy

        text = ""
        while self.peek() == "DIGIT":
            text += self.take()[1]
        while (self.peek() == "COMMA" and all(self.peek(j) == "DIGIT" for j in (1, 2, 3))):
            self.take()
            text += "".join(self.take()[1] for _ in range(3))
        if self.peek() == "DOT":
            self.take()
            text += "." + self.take("DIGIT")[1]
            while self.peek() == "DIGIT":
                text += self.take()[1]
        return sympy.Number(text)

    def frac(self):
        import sympy

        self.take("FRAC")
        parts = []
        for _ in range(2):
            if self.peek() == "DIGIT":
                parts.append(sympy.Number(self.take()[1]))
            else:
                self.take("LB")
                parts.append(self.expr())
                self.take("RB")
        top, bot = parts
        inverse = sympy.Pow(bot, -1, evaluate=False)
        return inverse if top == 1 else sympy.Mul(top, inverse, evaluate=False)


def _str(e) -> str:
    from sympy.printing.str import StrPrinter

    return StrPrinter().doprint(e)


def _postfix_list(parts: list, i: int = 0):
    """convert_postfix_list: implicit multiplication, right-nested; an `x` between two symbol-free
    factors is a times sign."""
    import sympy

    res = parts[i]
    if i == len(parts) - 1:
        return res
    if i > 0:
        left, right = parts[i - 1], parts[i + 1]
        if not (left.atoms(sympy.Symbol) or right.atoms(sympy.Symbol)) and str(res) == "x":
            return _postfix_list(parts, i + 1)
    return sympy.Mul(res, _postfix_list(parts, i + 1), evaluate=False)


__all__ = ["LatexError", "parse_latex", "tokenize"]
