"""The transformers backend on the tiny preset: rendering, the own decode loop against HF generate,
stop strings, seeded sampling, batching order, and shared-prefix scoring against a naive forward."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from chat_templates import QWEN3_LIKE

from ctxbench.core.errors import CtxbenchError
from ctxbench.models.base import GenConfig, Prompt
from ctxbench.models.hf import decode as hf_decode
from ctxbench.models.hf.text import HFBackend
from ctxbench.models.loader import load_backend

TEXTS = [
    "The quick brown fox jumps over the lazy dog because",
    "def add(a, b):\n    return",
    "In the beginning the startup had no customers, no revenue and a single idea about how people "
    "would want to share documents, which turned out to be",
    "x",
    "Question: what is two plus two?\nAnswer:",
]


@pytest.fixture(scope="module")
def be():
    torch.set_num_threads(2)
    return load_backend("tiny", batch_size=8)


def clone(be, **kw):
    args = dict(identity=be.identity, max_context=be.max_context_tokens, batch_size=be.batch_size,
                decode_batch=be.decode_batch)
    args.update(kw)
    tok = args.pop("tokenizer", be.tokenizer)
    return HFBackend(be.model, tok, **args)


# ------------------------------------------------------------------ rendering


def test_render_plain_text_joins_parts_and_appends_prefill(be):
    assert not be.chat
    p = Prompt(({"type": "text", "value": "Context. "}, {"type": "text", "value": "Question?"}), prefill=" A:")
    assert be.render(p) == "Context. Question? A:"
    with pytest.raises(CtxbenchError, match="'image' message part"):
        be.render(Prompt(({"type": "image", "value": "x.png"},)))


def test_render_with_chat_template(be):
    tok = copy.deepcopy(be.tokenizer)
    tok.chat_template = QWEN3_LIKE
    chat = clone(be, tokenizer=tok)
    assert chat.chat
    text = chat.render(Prompt.of("hi there", prefill="The answer is"))
    assert text == "<|im_start|>user\nhi there<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nThe answer is"
    ids = chat._encode_many([text])[0]
    assert ids[0] == tok.convert_tokens_to_ids("<|im_start|>")  # specials parsed, nothing prepended
    out = chat.generate([Prompt.of("hi there")], GenConfig(max_new_tokens=3))
    assert out[0][0].n_prompt_tokens == len(chat._encode_many([chat.render(Prompt.of("hi there"))])[0])


# ------------------------------------------------------------------ generation


def test_decode_loop_equals_hf_generate(be):
    tok, model = be.tokenizer, be.model
    encs = be._encode_many(TEXTS)
    ids, mask = hf_decode.left_pad(encs, be.pad_id, "cpu")
    ref = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=10, do_sample=False,
                         pad_token_id=be.pad_id, eos_token_id=sorted(be.eos_ids))
    for chunk in (None, 2):  # one prefill, or chunked prefill with caches of different widths merged
        mine = hf_decode.decode(model, encs, pad_id=be.pad_id, eos_ids=be.eos_ids, max_new_tokens=10,
                                prefill_batch=chunk)
        for (tokens, steps, finish), row in zip(mine, ref[:, ids.shape[1]:].tolist()):
            assert tokens == row and steps == 10 and finish == "length"


def test_greedy_generate_equals_hf_generate_text_in_input_order(be):
    out = be.generate([Prompt.of(t) for t in TEXTS], GenConfig(max_new_tokens=8))
    tok = be.tokenizer
    for text, comps in zip(TEXTS, out):
        enc = tok([text], return_tensors="pt")
        ref = be.model.generate(**enc, max_new_tokens=8, do_sample=False, pad_token_id=be.pad_id)
        assert comps[0].text == tok.decode(ref[0, enc["input_ids"].shape[1]:], skip_special_tokens=True)
        assert comps[0].n_prompt_tokens == enc["input_ids"].shape[1] and comps[0].n_new_tokens == 8


def test_length_sorted_batching_restores_order(be):
    prompts = [Prompt.of(t) for t in TEXTS]
    cfg = GenConfig(max_new_tokens=6)
    alone = [clone(be, batch_size=1).generate([p], cfg)[0][0].text for p in prompts]
    for bs, dec in ((2, 2), (3, 64), (2, 4), (8, 8)):
        got = clone(be, batch_size=bs, decode_batch=dec).generate(prompts, cfg)
        assert [c[0].text for c in got] == alone
    assert [c[0].text for c in be.generate(prompts[::-1], cfg)] == alone[::-1]


def test_stop_strings_cut_text_and_stop_early(be):
    prompts = [Prompt.of(t) for t in TEXTS[:3]]
    full = [c[0].text for c in be.generate(prompts, GenConfig(max_new_tokens=20))]
    target = full[0]
    stop = target[len(target) // 3: len(target) // 3 + 3]
    first = target.find(stop)
    assert len(stop) == 3 and first > 0
    out = be.generate(prompts, GenConfig(max_new_tokens=20, stop=(stop, "\x00never")))
    assert out[0][0].text == target[:first] and out[0][0].finish_reason == "stop"
    assert out[0][0].n_new_tokens < 20
    for k in (1, 2):  # rows without the stop string are unaffected by the row that stopped
        if stop not in full[k]:
            assert out[k][0].text == full[k] and out[k][0].finish_reason == "length"
    # the earliest of several stop strings wins
    later = target[-2:]
    both = be.generate(prompts[:1], GenConfig(max_new_tokens=20, stop=(later, stop)))[0][0]
    assert both.text == target[: min(target.find(later), first)]


def test_eos_stops_a_row_and_is_not_in_the_text(be):
    rows = hf_decode.decode(be.model, be._encode_many(TEXTS), pad_id=be.pad_id, eos_ids=be.eos_ids,
                            max_new_tokens=12)
    # a prompt whose greedy continuation has a token that first appears after position 0
    j, k = next((j, i) for j, (tokens, _, _) in enumerate(rows)
                for i, t in enumerate(tokens) if i >= 1 and t not in tokens[:i])
    tokens = rows[j][0]
    eos_be = clone(be)
    eos_be.eos_ids = {tokens[k]}
    c = eos_be.generate([Prompt.of(TEXTS[j])], GenConfig(max_new_tokens=12))[0][0]
    assert c.finish_reason == "stop" and c.n_new_tokens == k + 1
    assert c.text == be.tokenizer.decode(tokens[:k], skip_special_tokens=True)


def test_sampling_is_seeded_and_batch_independent(be):
    prompts = [Prompt.of(t) for t in TEXTS[:3]]
    cfg = GenConfig(max_new_tokens=8, temperature=1.0, n=4, seed=7)
    a = be.generate(prompts, cfg)
    b = be.generate(prompts, cfg)
    assert [[c.text for c in r] for r in a] == [[c.text for c in r] for r in b]
    assert all(len(r) == 4 for r in a) and len({c.text for c in a[0]}) > 1
    alone = clone(be, batch_size=1, decode_batch=4).generate(prompts[2:], cfg)
    assert [c.text for c in alone[0]] == [c.text for c in a[2]]
    other = be.generate(prompts, GenConfig(max_new_tokens=8, temperature=1.0, n=4, seed=8))
    assert [c.text for c in other[0]] != [c.text for c in a[0]]


def test_top_k_1_and_tiny_top_p_sample_the_greedy_path(be):
    prompts = [Prompt.of(t) for t in TEXTS[:2]]
    greedy = [c[0].text for c in be.generate(prompts, GenConfig(max_new_tokens=8))]
    for cfg in (GenConfig(max_new_tokens=8, temperature=1.5, top_k=1, n=2, seed=1),
                GenConfig(max_new_tokens=8, temperature=1.5, top_p=1e-6, n=2, seed=1)):
        assert [[c.text for c in r] for r in be.generate(prompts, cfg)] == [[g, g] for g in greedy]


def test_greedy_n_copies_and_progress_callback(be):
    seen = []
    cb = clone(be, batch_size=2, decode_batch=2, progress=seen.append)
    out = cb.generate([Prompt.of(t) for t in TEXTS], GenConfig(max_new_tokens=4, n=3))
    assert all(len(r) == 3 and len({c.text for c in r}) == 1 for r in out)
    assert sum(seen) == len(TEXTS)


def test_overlong_prompts_are_cut_from_the_left_with_a_warning(be):
    small = clone(be, max_context=32)
    long_text = " ".join(["word"] * 200)
    with pytest.warns(UserWarning, match="1 prompts longer than the model window"):
        c = small.generate([Prompt.of(long_text), Prompt.of("short")], GenConfig(max_new_tokens=4))
    assert c[0][0].n_prompt_tokens == 28 and small.truncated == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small.generate([Prompt.of("short")], GenConfig(max_new_tokens=4))


# ------------------------------------------------------------------ scoring


def test_encode_pairs_follows_lm_eval(be):
    ctx, conts = be.encode_pairs("Answer: ", ["Paris", " is here"])
    enc = be._encode_many
    assert ctx == enc(["Answer:"])[0]
    assert conts[0] == enc(["Answer: Paris"])[0][len(ctx):]
    assert conts[1] == enc(["Answer:  is here"])[0][len(ctx):]


def test_shared_prefix_scoring_equals_naive(be):
    prompts = [Prompt.of(TEXTS[2]), Prompt.of("Answer: "), Prompt.of(TEXTS[0], prefill=" so"), Prompt.of(TEXTS[1])]
    conts = [[" a good idea", " bad", " something much longer than the other two choices"],
             ["Paris", "London, the capital of England"],
             [" it", ""],
             ["  a + b", " a - b", " a * b", " None"]]
    small_batches = clone(be, batch_size=2)
    got = small_batches.score_many(prompts, conts)
    for p, cs, scores in zip(prompts, conts, got):
        ctx, cids = be.encode_pairs(be.render(p), cs)
        for c, ids, s in zip(cs, cids, scores):
            ref = hf_decode.score_naive(be.model, ctx, ids) if ids else 0.0
            assert s == pytest.approx(ref, abs=1e-4), (c, s, ref)
    assert be.score_continuations(prompts[1], conts[1]) == pytest.approx(got[1], abs=1e-5)
    assert got[2][1] == 0.0 and all(s < 0 for s in got[0])


def test_score_many_rejects_mismatched_lengths(be):
    with pytest.raises(ValueError):
        be.score_many([Prompt.of("a")], [])


def test_plan_batches_keeps_the_kv_cache_in_budget():
    from ctxbench.models.hf.text import plan_batches

    lengths = [100, 2000, 50, 400, 3000]
    order = sorted(range(5), key=lambda i: -lengths[i])  # 4, 1, 3, 0, 2
    assert plan_batches(order, lengths, 64, 10, 10**9) == [order]
    assert plan_batches(order, lengths, 2, 10, 10**9) == [[4, 1], [3, 0], [2]]
    # 10 bytes/token, budget 40,000: a batch led by a 3000-token row holds one row, by 2000 two rows
    # (the 400-token one rides along at the batch's width), by 100 the rest
    assert plan_batches(order, lengths, 64, 10, 40_000) == [[4], [1, 3], [0, 2]]
    assert plan_batches(order, lengths, 64, 10, 1) == [[4], [1], [3], [0], [2]]  # too long alone: still one


def test_kv_budget_changes_batching_not_outputs(be):
    prompts = [Prompt.of(t) for t in TEXTS]
    cfg = GenConfig(max_new_tokens=5)
    ref = be.generate(prompts, cfg)
    per_token = be.kv_per_token
    assert per_token == 4 * 2 * 2 * 64 * 4  # tiny: 4 layers x (k, v) x 2 KV heads x 64 x fp32
    tight = clone(be, kv_cache_gb=per_token * 40 / 2**30)  # room for 40 tokens: short prompts pair up
    calls = []
    tight.progress = calls.append
    assert [c[0].text for c in tight.generate(prompts, cfg)] == [c[0].text for c in ref]
    assert sum(calls) == len(TEXTS) and len(calls) == 4  # the two shortest prompts share a batch
