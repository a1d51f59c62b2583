"""Long-context haystacks from the packaged Paul Graham essays, sized in the model's own tokens.

Why: NIAH and long-mcq must fill a given fraction of *this* model's window, so lengths are measured
with `LoadContext.count_tokens`, not characters. Planted text (needles, variable assignments) goes
at sentence boundaries, like needlehaystack, which backs the insertion point up to the previous
full stop so no sentence is cut in half. Every insertion returns its exact character span so the
app can highlight the evidence and tests can check the answer is really where the metadata says.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence

from ctxbench.sources import assets

_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+")


def essay_text(min_chars: int, start: int = 0) -> str:
    """The essays concatenated (sorted by name, beginning at essay `start`, cycling if needed) until
    at least `min_chars` characters; paragraphs keep their own line breaks."""
    es = assets.essays()
    parts, n, i = [], 0, start
    while n < min_chars:
        body = es[i % len(es)][1].strip()
        parts.append(body)
        n += len(body) + 2
        i += 1
        if i - start > 100 * len(es):  # pragma: no cover - essays are never empty
            break
    return "\n\n".join(parts)


def fit_prefix(text: str, n_tokens: int, count_tokens: Callable[[str], int]) -> str:
    """The longest prefix of `text`, cut at whitespace, with at most `n_tokens` tokens.

    Binary search over character positions (about 20 tokenizer calls); `text` must be long enough
    (use `essay_text` with a generous `min_chars`)."""
    if n_tokens <= 0:
        return ""
    if count_tokens(text) <= n_tokens:
        return text
    lo, hi = 0, len(text)  # count(text[:lo]) <= n < count(text[:hi])
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if count_tokens(text[:mid]) <= n_tokens:
            lo = mid
        else:
            hi = mid
    cut = text.rfind(" ", 0, lo + 1)
    cut2 = text.rfind("\n", 0, lo + 1)
    cut = max(cut, cut2)
    return text[: cut if cut > 0 else lo].rstrip()


def haystack(n_tokens: int, count_tokens: Callable[[str], int], start: int = 0) -> str:
    """Essay text of at most `n_tokens` tokens (and close to it)."""
    chars_per_token = max(1.0, len(sample := essay_text(4000, start)) / max(1, count_tokens(sample)))
    text = essay_text(int(n_tokens * chars_per_token * 1.5) + 1000, start)
    while count_tokens(text) <= n_tokens and len(text) < 50_000_000:
        text = essay_text(2 * len(text), start)
    return fit_prefix(text, n_tokens, count_tokens)


def sized_haystack(n_tokens: int, planted: Sequence[str], count_tokens: Callable[[str], int],
                   start: int = 0) -> str:
    """Essay text such that it plus the `planted` sentences is at most `n_tokens` tokens, and close
    to it. Counted together, since tokenizers are not additive across the seams."""
    target = max(1, n_tokens - count_tokens(" ".join(planted)))
    hay = haystack(target, count_tokens, start)
    for _ in range(5):
        spread = [(100 * (i + 1) / (len(planted) + 1), p) for i, p in enumerate(planted)]
        over = count_tokens(insert_many(hay, spread)[0]) - n_tokens
        if over <= 0:
            break
        target = max(1, target - over - 1)
        hay = haystack(target, count_tokens, start)
    return hay


def sentence_starts(text: str) -> list[int]:
    """Character offsets where a sentence begins (always includes 0), sorted."""
    return [0] + [m.end() for m in _SENTENCE_END.finditer(text) if m.end() < len(text)]


def insert_many(text: str, inserts: Sequence[tuple[float, str]]) -> tuple[str, list[tuple[int, int]]]:
    """Insert each sentence at the sentence start at or before `depth_percent` of the text.

    `inserts` is [(depth_percent, sentence), ...]; depth 100 appends at the very end. Returns the new
    text and, in the same order as `inserts`, the (start, end) span of each inserted sentence in it.
    Insertions that land on the same boundary keep their given order.
    """
    starts = sentence_starts(text)
    placed = []
    for k, (depth, sent) in enumerate(inserts):
        if not 0 <= depth <= 100:
            raise ValueError(f"depth must be within [0, 100], got {depth}")
        if depth >= 100:
            pos = len(text)
        else:
            target = int(len(text) * depth / 100)
            pos = starts[bisect.bisect_right(starts, target) - 1]
        placed.append((pos, k, sent))
    placed.sort()
    out, spans, prev, offset, last = [], [None] * len(inserts), 0, 0, ""
    for pos, k, sent in placed:
        out.append(text[prev:pos])
        offset += pos - prev
        last = text[pos - 1] if pos > prev else last
        prev = pos
        if last and not last.isspace():  # only at the very end: other boundaries follow whitespace
            out.append(" ")
            offset += 1
        spans[k] = (offset, offset + len(sent))
        piece = sent if pos == len(text) else sent + " "
        out.append(piece)
        offset += len(piece)
        last = piece[-1]
    out.append(text[prev:])
    return "".join(out), spans


def shift(spans: Sequence[tuple[int, int]], by: int) -> list[list[int]]:
    """Spans moved by `by` characters, as JSON-friendly lists."""
    return [[a + by, b + by] for a, b in spans]
