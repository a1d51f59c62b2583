"""Find the code in a model's reply to a "complete this function" prompt.

Why a module of its own: the same rule decides the code-exec metric and the code RL reward, and
models answer in two styles. Chat models fence the whole function (often with prose, examples or a
second "usage" block around it); base-like models just continue the prompt with the indented body.
The rules, strongest first (each covered by a golden table in tests/benchmarks/test_code_exec.py):

1. complete ```python (or bare ```) blocks: the last one that defines the entry point, else the last;
2. an unclosed fence (generation cut off or stopped): everything after it;
3. a lone closing fence after code (the reply started inside a block): everything before it;
4. unfenced: from the first top-level `def entry_point` / import to the end, trailing prose dropped
   until it parses; or an indented body that continues the prompt (unfenced text that never parses,
   e.g. " the the the", is not code);
5. anything else (prose only, empty) is "no code": `parse_ok=False`.

`build_program` then turns the extracted code into a runnable module: the prompt (imports, helpers
such as HumanEval/38's `encode_cyclic`, and the signature) followed by the model's code, so a reply
that redefines the whole function overrides the prompt's docstring-only stub.
"""

from __future__ import annotations

import ast
import re
import textwrap
from dataclasses import dataclass
from typing import Literal

_FENCE_LINE = re.compile(r"^[ \t]*```+[ \t]*([\w.+-]*)[ \t]*$")
_PY_LANGS = {"", "python", "py", "python3", "py3"}
_CODE_START = re.compile(r"^(?:def |async def |class |import |from \S+ import |@)")


@dataclass(frozen=True)
class ExtractedCode:
    code: str
    kind: Literal["function", "body"]  # a full definition, or an indented body continuing the prompt
    source: Literal["block", "unclosed", "before-fence", "plain"]


def _defines(code: str, entry_point: str) -> bool:
    return re.search(rf"^(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", code, re.MULTILINE) is not None


def _parses(src: str) -> bool:
    try:
        ast.parse(src)
    except (SyntaxError, ValueError):
        return False
    return True


def _fenced(text: str) -> tuple[list[tuple[str, str]], str | None, str | None]:
    """(complete blocks as (lang, code), unclosed block text, text before a lone closing fence)."""
    lines = text.split("\n")
    fences = [(i, m.group(1).lower()) for i, ln in enumerate(lines) if (m := _FENCE_LINE.match(ln))]
    before = None
    if fences:
        head = "\n".join(lines[: fences[0][0]])
        if fences[0][1] == "" and _looks_like_code(head):
            before = head  # the reply began inside a code block: its first fence closes it
            fences = fences[1:]
    blocks, unclosed = [], None
    for k in range(0, len(fences), 2):
        (i, lang) = fences[k]
        if k + 1 < len(fences):
            blocks.append((lang, "\n".join(lines[i + 1: fences[k + 1][0]])))
        else:
            unclosed = "\n".join(lines[i + 1:]) if lang in _PY_LANGS else None
    return blocks, unclosed, before


def _looks_like_code(s: str) -> bool:
    first = next((ln for ln in s.split("\n") if ln.strip()), "")
    return bool(first) and (first[0] in " \t" or bool(_CODE_START.match(first)))


def _trim_to_parse(code: str, prompt: str, kind: str) -> str | None:
    """Drop trailing lines (prose after the code) until the program parses; None if no prefix does."""
    lines = code.rstrip().split("\n")
    for end in range(len(lines), 0, -1):
        cand = "\n".join(lines[:end])
        if cand.strip() and _parses(build_program(prompt, ExtractedCode(cand, kind, "plain"))):  # type: ignore[arg-type]
            return cand
    return None


def _classify(code: str, entry_point: str) -> tuple[str, Literal["function", "body"]] | None:
    if not code.strip():
        return None
    dedented = textwrap.dedent(code)
    if _defines(dedented, entry_point):
        return dedented, "function"
    first = next(ln for ln in code.split("\n") if ln.strip())
    if first[0] in " \t":
        return code, "body"
    return None


def extract_code(completion: str | None, prompt: str, entry_point: str) -> ExtractedCode | None:
    """The code in `completion` (see the module docstring for the rules), or None when there is none."""
    if not completion or not completion.strip():
        return None
    text = completion.replace("\r\n", "\n")
    blocks, unclosed, before = _fenced(text)
    py = [code for lang, code in blocks if lang in _PY_LANGS and code.strip()]
    if py:
        defining = [c for c in py if _defines(textwrap.dedent(c), entry_point)]
        code = (defining or py)[-1]
        got = _classify(code, entry_point)
        if got is None:  # a fenced snippet without the def and without indentation: the body, unindented
            got = (textwrap.indent(textwrap.dedent(code), "    "), "body")
        return ExtractedCode(got[0], got[1], "block")
    for chunk, source in ((unclosed, "unclosed"), (before, "before-fence")):
        if chunk is not None and (got := _classify(chunk, entry_point)):  # fenced: code even if broken
            code = _trim_to_parse(got[0], prompt, got[1]) or got[0]
            return ExtractedCode(code, got[1], source)  # type: ignore[arg-type]
    if blocks:
        return None  # only non-Python blocks (```text, ```json ...)
    # unfenced: only what parses counts as code (" the the the" is prose, not an indented body)
    lines = text.split("\n")
    start = next((i for i, ln in enumerate(lines) if _CODE_START.match(ln) and
                  (ln.startswith(("import ", "from ", "@")) or _defines(ln, entry_point))), None)
    if start is not None and _defines("\n".join(lines[start:]), entry_point):
        code = _trim_to_parse("\n".join(lines[start:]), prompt, "function")
        if code is not None and _defines(code, entry_point):
            return ExtractedCode(code, "function", "plain")
    got = _classify(text, entry_point)
    if got is not None and got[1] == "body" and (code := _trim_to_parse(got[0], prompt, "body")):
        return ExtractedCode(code, "body", "plain")
    return None


def build_program(prompt: str, extracted: ExtractedCode) -> str:
    """A module defining the entry point: the prompt followed by the model's function or body."""
    if extracted.kind == "body":
        return prompt + extracted.code.rstrip() + "\n"
    return prompt.rstrip() + "\n    pass\n\n\n" + extracted.code.rstrip() + "\n"


__all__ = ["ExtractedCode", "build_program", "extract_code"]
