"""HTML highlighting for the app: the difference between two contexts, and an item's decisive evidence.

Why a module of its own (no Streamlit here): both views take untrusted text (benchmark contexts, model
outputs, pair builders' output) and must escape every character of it before adding markup, so the
logic is pure and unit-tested. Word-level diffs keep whitespace tokens, so each side renders back
to exactly its original text. Evidence spans are the character offsets benchmarks record in
`items.meta_json` (into the prompt's text parts joined, as `Item.prompt_text()`):

  niah: needle_span [s, e] · long-mcq: evidence_spans [[s, e], ...], distractor_spans · tool-trace:
  evidence_span · trace-qa: decisive_char_span (+ decisive_text) · any benchmark: chain_spans.

A span that does not match the text is dropped and reported; recorded evidence strings (`needle`,
`decisive_text`) are located by search when no span is given.
"""

from __future__ import annotations

import difflib
import html
import itertools
import re
from typing import NamedTuple

EVIDENCE_SPAN_KEYS = ("needle_span", "evidence_span", "evidence_spans", "decisive_char_span", "chain_spans")
DISTRACTOR_SPAN_KEYS = ("distractor_spans",)
EVIDENCE_TEXT_KEYS = ("needle", "decisive_text")
STYLE = {
    "evidence": "background:#ffe066;outline:1px solid #e0a800;",
    "distractor": "background:#e3e3ff;",
    "del": "background:#ffd6d6;text-decoration:line-through;",
    "ins": "background:#c9f7c9;",
}
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)


class Span(NamedTuple):
    start: int
    end: int
    kind: str  # "evidence" | "distractor"


def _pairs(v) -> list[tuple[int, int]]:
    """[s, e] or [[s, e], ...] as a list of int pairs; anything else -> []."""
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, (int, float)) for x in v):
        return [(int(v[0]), int(v[1]))]
    if isinstance(v, (list, tuple)):
        out = []
        for x in v:
            out += _pairs(x) if isinstance(x, (list, tuple)) and len(x) == 2 else []
        return out
    return []


def evidence_spans(meta: dict, text: str) -> tuple[list[Span], list[str]]:
    """Spans to highlight in `text` from an item's meta, and notes about spans that did not fit."""
    spans, notes = [], []
    for kind, keys in (("evidence", EVIDENCE_SPAN_KEYS), ("distractor", DISTRACTOR_SPAN_KEYS)):
        for k in keys:
            for s, e in _pairs(meta.get(k)):
                if 0 <= s < e <= len(text):
                    spans.append(Span(s, e, kind))
                else:
                    notes.append(f"{k} [{s}, {e}] lies outside the context ({len(text)} characters)")
    if not any(s.kind == "evidence" for s in spans):
        for k in EVIDENCE_TEXT_KEYS:
            needle = meta.get(k)
            if isinstance(needle, str) and needle:
                i = text.find(needle)
                if i >= 0:
                    spans.append(Span(i, i + len(needle), "evidence"))
                else:
                    notes.append(f"{k} text not found in the context")
    return sorted(set(spans)), notes


def _merge(spans: list[Span]) -> list[Span]:
    """Disjoint, sorted spans covering the same characters; evidence wins where kinds overlap."""
    cuts = sorted({x for sp in spans for x in (sp.start, sp.end)})
    out: list[Span] = []
    for a, b in itertools.pairwise(cuts):
        kinds = {sp.kind for sp in spans if sp.start <= a and b <= sp.end}
        if not kinds:
            continue
        kind = "evidence" if "evidence" in kinds else "distractor"
        if out and out[-1].end == a and out[-1].kind == kind:
            out[-1] = Span(out[-1].start, b, kind)
        else:
            out.append(Span(a, b, kind))
    return out


def _windows(n: int, spans: list[Span], max_chars: int, radius: int) -> list[tuple[int, int]]:
    """Ranges of the text to show: all of it when short, else windows around the spans."""
    if n <= max_chars:
        return [(0, n)]
    if not spans:
        return [(0, max_chars)]
    wins: list[tuple[int, int]] = []
    for sp in spans:
        a, b = max(0, sp.start - radius), min(n, sp.end + radius)
        if wins and a <= wins[-1][1]:
            wins[-1] = (wins[-1][0], max(b, wins[-1][1]))
        else:
            wins.append((a, b))
    return wins


def highlight_html(text: str, spans: list[Span], *, max_chars: int = 60000, radius: int = 1500) -> str:
    """`text` HTML-escaped, with spans wrapped in <mark> (evidence) / <span> (distractor). Long texts
    are cut to windows around the spans, with the elided amount shown."""
    spans = _merge(spans)
    n = len(text)
    out = []
    prev_end = 0
    for a, b in _windows(n, spans, max_chars, radius):
        if a > prev_end:
            out.append(f'<span style="color:#888">[… {a - prev_end} characters …]</span>')
        pos = a
        for sp in spans:
            if sp.end <= a or sp.start >= b:
                continue
            s, e = max(sp.start, a), min(sp.end, b)
            out.append(html.escape(text[pos:s]))
            tag = "mark" if sp.kind == "evidence" else "span"
            out.append(f'<{tag} class="{sp.kind}" style="{STYLE[sp.kind]}">{html.escape(text[s:e])}</{tag}>')
            pos = e
        out.append(html.escape(text[pos:b]))
        prev_end = b
    if prev_end < n:
        out.append(f'<span style="color:#888">[… {n - prev_end} characters …]</span>')
    return "".join(out)


def tokens(text: str) -> list[str]:
    """Words, single punctuation marks and whitespace runs; ''.join(tokens(t)) == t."""
    return _TOKEN.findall(text)


def word_diff(a: str, b: str) -> list[tuple[str, str, str]]:
    """difflib opcodes over word tokens: (tag, a_text, b_text) with tag equal/replace/delete/insert."""
    ta, tb = tokens(a), tokens(b)
    sm = difflib.SequenceMatcher(None, ta, tb, autojunk=False)
    return [(tag, "".join(ta[i1:i2]), "".join(tb[j1:j2])) for tag, i1, i2, j1, j2 in sm.get_opcodes()]


def diff_html(a: str, b: str) -> tuple[str, str, int]:
    """(html of a with removed words marked, html of b with added words marked, number of changed
    segments). Everything is escaped; only our <del>/<ins> tags are markup."""
    ha, hb, n = [], [], 0
    for tag, x, y in word_diff(a, b):
        if tag == "equal":
            ha.append(html.escape(x))
            hb.append(html.escape(y))
            continue
        n += 1
        if x:
            ha.append(f'<del style="{STYLE["del"]}">{html.escape(x)}</del>')
        if y:
            hb.append(f'<ins style="{STYLE["ins"]}">{html.escape(y)}</ins>')
    return "".join(ha), "".join(hb), n


def box(inner_html: str, max_height: int = 420) -> str:
    """A scrollable, whitespace-preserving container for highlighted text."""
    return (f'<div style="white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:12.5px;'
            f'max-height:{max_height}px;overflow:auto;border:1px solid #ddd;border-radius:4px;padding:8px;'
            f'background:#fcfcfc">{inner_html}</div>')
