"""dense_forward (the direct llama/qwen2/qwen3/mistral inference path) against transformers' own
forward and generate, on tiny random-init models of each architecture; and the generic path
(HFDecoder) for architectures it does not cover."""

from __future__ import annotations

import pytest
import torch
import transformers

from ctxbench.models.hf import decode as hf_decode
from ctxbench.models.hf import dense_forward

PROMPTS = [[5, 17, 33, 2, 90, 41, 7, 7, 12], [3, 4], [60, 61, 62, 63, 64, 65], [9], [100, 3, 55, 21, 8]]
PAD, EOS = 0, 1


def tiny(arch: str, **extra):
    """A few-thousand-parameter model; a wide init spreads the logits so greedy picks have margins
    far above float rounding."""
    common = dict(vocab_size=128, hidden_size=64, intermediate_size=96, num_hidden_layers=3,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                  initializer_range=0.3, pad_token_id=PAD, eos_token_id=EOS, bos_token_id=EOS)
    if arch == "gpt2":
        common = dict(vocab_size=128, n_embd=64, n_layer=2, n_head=4, n_positions=256,
                      initializer_range=0.3, pad_token_id=PAD, eos_token_id=EOS, bos_token_id=EOS)
    cfg = transformers.AutoConfig.for_model(arch, **common, **extra)
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(cfg).eval()
    model.generation_config.eos_token_id = None  # decode() below stops on no token either
    return model


def generate_ref(model, prompts, new: int):
    ids, mask = hf_decode.left_pad(prompts, PAD, "cpu")
    out = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=new, do_sample=False, pad_token_id=PAD)
    return out[:, ids.shape[1]:].tolist()


@pytest.mark.parametrize("arch, extra", [("qwen2", {}), ("llama", {}), ("qwen3", {"head_dim": 16}),
                                         ("mistral", {"sliding_window": None})])
def test_dense_path_matches_transformers(arch, extra):
    torch.set_num_threads(1)
    model = tiny(arch, **extra)
    assert dense_forward.supports(model, 64)
    # prefill logits at each prompt's end equal the plain forward's (each prompt alone, no padding)
    state = hf_decode.start_decoder(model, PROMPTS, PAD, chunk=2, max_new_tokens=6)
    assert isinstance(state, hf_decode.DenseDecoder)
    with torch.no_grad():
        for row, p in enumerate(PROMPTS):
            ref = model(input_ids=torch.tensor([p])).logits[0, -1]
            torch.testing.assert_close(state.logits[row], ref, atol=1e-4, rtol=1e-4)
    # greedy tokens equal generate's (left-padded batch, DynamicCache), chunked or not
    ref = generate_ref(model, PROMPTS, 6)
    for chunk in (None, 2):
        rows = hf_decode.decode(model, PROMPTS, pad_id=PAD, eos_ids=set(), max_new_tokens=6, prefill_batch=chunk)
        assert [tokens for tokens, _, _ in rows] == ref


def test_dense_path_in_bfloat16_matches_generate():
    torch.set_num_threads(1)
    model = tiny("llama").to(torch.bfloat16)
    state = hf_decode.start_decoder(model, PROMPTS, PAD, chunk=2, max_new_tokens=6)
    assert isinstance(state, hf_decode.DenseDecoder) and state.slab.k[0].dtype == torch.bfloat16
    rows = hf_decode.decode(model, PROMPTS, pad_id=PAD, eos_ids=set(), max_new_tokens=6, prefill_batch=2)
    assert [tokens for tokens, _, _ in rows] == generate_ref(model, PROMPTS, 6)


def test_dense_path_fans_out_samples_from_one_prefill():
    model = tiny("qwen2")
    greedy = hf_decode.decode(model, PROMPTS, pad_id=PAD, eos_ids=set(), max_new_tokens=5)
    gens = [torch.Generator().manual_seed(i) for i in range(len(PROMPTS) * 3)]
    rows = hf_decode.decode(model, PROMPTS, pad_id=PAD, eos_ids=set(), max_new_tokens=5, repeats=3,
                            temperature=1.0, top_k=1, generators=gens)
    assert [r[0] for r in rows] == [g[0] for g in greedy for _ in range(3)]


def test_supports_only_what_it_reproduces():
    assert dense_forward.supports(tiny("mistral", sliding_window=None), 10_000)
    windowed = tiny("mistral", sliding_window=16)
    assert dense_forward.supports(windowed, 16) and not dense_forward.supports(windowed, 17)
    sliding = tiny("qwen2", use_sliding_window=True, sliding_window=8, max_window_layers=1)
    assert not dense_forward.supports(sliding, 4)
    assert not dense_forward.supports(tiny("llama", hidden_act="gelu"), 4)
    assert not dense_forward.supports(tiny("gpt2"), 4)


@pytest.mark.parametrize("arch", ["gpt2", "gemma"])
def test_generic_path_matches_generate(arch):
    torch.set_num_threads(1)
    model = tiny(arch)
    state = hf_decode.start_decoder(model, PROMPTS, PAD, chunk=2, max_new_tokens=6)
    assert isinstance(state, hf_decode.HFDecoder)
    rows = hf_decode.decode(model, PROMPTS, pad_id=PAD, eos_ids=set(), max_new_tokens=6, prefill_batch=2)
    assert [tokens for tokens, _, _ in rows] == generate_ref(model, PROMPTS, 6)


def test_empty_prompt_takes_the_generic_path():
    model = tiny("qwen2")
    assert isinstance(hf_decode.start_decoder(model, [[], [4, 5]], PAD, None, 3), hf_decode.HFDecoder)

