"""niah: grid scaling to the window, needle placement at the recorded span, exact-recall scoring."""

import re

import pytest

from ctxbench.benchmarks import get_benchmark
from ctxbench.benchmarks.base import LoadContext
from ctxbench.benchmarks.embedded.niah import (
    PAPER_DEPTHS,
    PAPER_LENGTHS,
    SYSTEM,
    Niah,
    linspace_int,
    paper_grid,
)
from ctxbench.core.errors import DataError


def words(s: str) -> int:  # a second, very different tokenizer: whitespace words
    return max(1, len(s.split()))


@pytest.fixture(scope="module")
def bpe():
    """A real byte-level BPE trained in-process on two essays (fast), to count like a model does."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    from ctxbench.sources import assets

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator([t for _, t in assets.essays()[:3]], trainers.BpeTrainer(vocab_size=600))
    return lambda s: len(tok.encode(s).ids)


def test_registered_and_data_available():
    b = get_benchmark("niah")
    assert isinstance(b, Niah) and b.version == "2"
    st = b.data_status()
    assert st.available and "essays" in st.detail


def test_paper_grid_matches_needlehaystack_linspace():
    lengths, depths = paper_grid()
    assert len(lengths) == 15 and len(depths) == 10
    assert lengths[0] == 1000 and lengths[-1] == 32000 and depths == (0, 11, 22, 33, 44, 56, 67, 78, 89, 100)
    assert list(PAPER_LENGTHS) == linspace_int(1000, 32000, 15)
    assert list(PAPER_DEPTHS) == linspace_int(0, 100, 10)


@pytest.mark.parametrize("window", [1024, 2048, 8192, 131072])
def test_scaled_grid_fits_window(window):
    ctx = LoadContext(max_context_tokens=window)
    b = Niah()
    lengths, depths = b.grid(ctx)
    assert depths == [0, 25, 50, 75, 100]
    assert len(lengths) == 6 and lengths == sorted(lengths)
    assert abs(lengths[0] - 0.1 * window) <= 1
    assert lengths[-1] <= 0.9 * window + 1
    assert lengths[-1] <= window - b.room(ctx)
    if window >= 8192:
        assert lengths[-1] >= 0.89 * window  # the cap is the 90 % fraction, not the prompt room


def test_window_too_small_is_a_clear_error():
    with pytest.raises(DataError, match="window"):
        Niah().grid(LoadContext(max_context_tokens=64))


def test_paper_grid_skips_cells_beyond_the_window():
    b = Niah.paper()
    lengths, _ = b.grid(LoadContext(max_context_tokens=65536))
    assert lengths == list(PAPER_LENGTHS) and b.skipped == []
    lengths, _ = b.grid(LoadContext(max_context_tokens=8192))
    assert lengths == [1000, 3214, 5429, 7643] and b.skipped == list(PAPER_LENGTHS[4:])
    items = b.load(LoadContext(max_context_tokens=8192), limit=4)
    assert [i.item_id for i in items] == ["L1000-D0-n0", "L3214-D11-n0", "L5429-D22-n0", "L7643-D33-n0"]


@pytest.mark.parametrize("counter", ["chars", "words", "bpe"])
def test_needle_at_recorded_span_and_prompt_fits(counter, bpe):
    count = {"chars": LoadContext().count_tokens, "words": words, "bpe": bpe}[counter]
    ctx = LoadContext(max_context_tokens=2048, count_tokens=count)
    b = Niah()
    items = b.load(ctx)
    assert len(items) == 30
    for it in items:
        s, e = it.meta["needle_span"]
        body = it.prompt_text()
        assert body[s:e] == it.meta["needle"]
        assert it.answer in it.meta["needle"] and re.fullmatch(r"\d{7}", it.answer)
        assert body.count(it.answer) == 1  # the only place the number occurs
        assert it.meta["city"] in it.meta["question"] and it.meta["question"] in body
        L = it.meta["length_tokens"]
        assert 0.9 * L - 8 <= it.meta["context_tokens"] <= L + 2
        assert count(body + it.prefill) + b.gen.max_new_tokens <= ctx.max_context_tokens
        if it.meta["depth"] not in (0, 100) and s != len(SYSTEM) + 2:  # a sentence boundary inside
            assert body[s - 1].isspace() and body[:s].rstrip()[-1] in ".!?\"')]", (it.item_id, s, body[s - 80:s])
    # deeper needles sit later in the same haystack
    by_len = {}
    for it in items:
        by_len.setdefault(it.meta["length_tokens"], []).append((it.meta["depth"], it.meta["needle_span"][0]))
    for cells in by_len.values():
        starts = [s for _, s in sorted(cells)]
        assert starts == sorted(starts)


def test_ids_unique_stable_and_seeded():
    ctx = LoadContext(max_context_tokens=4096)
    a, b = Niah(needles_per_cell=2).load(ctx), Niah(needles_per_cell=2).load(ctx)
    assert [i.item_id for i in a] == [i.item_id for i in b]
    assert [i.prompt_hash for i in a] == [i.prompt_hash for i in b]
    assert len({i.item_id for i in a}) == len(a) == 60
    assert a[0].item_id == "L410-D0-n0" and a[1].item_id == "L410-D0-n1"
    assert a[0].answer != a[1].answer
    c = Niah(seed=1).load(ctx)
    assert [i.item_id for i in c] == [i.item_id for i in a if i.item_id.endswith("n0")]
    assert sum(x.answer != y.answer for x, y in zip(c, a[::2])) >= 25


def test_limit_spreads_over_the_grid():
    items = Niah().load(LoadContext(), limit=6)
    assert len(items) == 6
    assert len({i.meta["length_tokens"] for i in items}) >= 5
    assert len({i.meta["depth"] for i in items}) >= 3


def test_explicit_grid_and_prefill():
    b = Niah(lengths=[300, 600], depths=[10, 90], prefill=True)
    items = b.load(LoadContext())
    assert [i.item_id for i in items] == ["L300-D10-n0", "L300-D90-n0", "L600-D10-n0", "L600-D90-n0"]
    assert items[0].prefill.startswith("The special magic number for " + items[0].meta["city"])


def _item():
    return Niah(lengths=[300], depths=[50]).load(LoadContext())[0]


def test_score_golden_table():
    it = _item()
    n = it.answer
    table = [
        (n, True, True),
        (f"The special magic number for {it.meta['city']} is {n}.", True, True),
        (f"{int(n):,}", True, True),  # 1,234,567
        (f"**{n}**", True, True),
        (f"<think>maybe 1234567</think>{n}", True, True),
        (f"```\n{n}\n```", True, True),  # answer in a code block
        (f"Either 1234567 or {n}.", True, True),  # several numbers: recall = the needle is among them (RULER)
        ("```\nno number here\n```", False, False),
        (str(int(n) + 1), False, True),
        (f"{n}0", False, True),  # a longer number is not the needle
        ("I could not find it.", False, False),
        ("", False, False),
    ]
    for completion, correct, parse_ok in table:
        s = Niah().score(it, completion)
        assert (s.correct, s.parse_ok) == (correct, parse_ok), completion
        assert s.score == (1.0 if correct else 0.0)
        if correct:
            assert s.extracted == n


def test_judge_hook_replaces_exact_recall():
    it = _item()
    seen = []

    def judge(question, answer, completion):
        seen.append((question, answer, completion))
        return 0.7

    s = Niah(judge=judge).score(it, "no idea")
    assert s.correct and s.score == 0.7 and seen == [(it.meta["question"], it.answer, "no idea")]


def test_judge_is_off_by_default():
    assert Niah().judge is None and get_benchmark("niah").judge is None
    it = _item()
    assert Niah().score(it, "no idea").score == 0.0  # exact recall, no judge call


@pytest.mark.parametrize("completion, official, semantic", [
    ("The special magic number for Lisbon is 4823917.", True, True),
    ("4,823,917", False, True),       # RULER: no substring; ctxbench: the number 4823917
    ("48239170", True, False),        # RULER: a substring; ctxbench: another number
    ("<think>4823917</think>not sure", True, False),
    ("", False, False),
])
def test_official_verdict_is_rulers_substring_match(completion, official, semantic):
    from ctxbench.benchmarks.base import Item, text

    b = Niah()
    v = b.verdicts(Item("x", (text("q"),), "4823917"), completion)
    assert "string_match_all" in b.official_scorer and v.mode == "official" and v.record is v.official
    assert v.official.correct is official and v.semantic.correct is semantic
    assert v.official.parse_ok == bool(completion)
