"""The transformers backend: CPU by default, CUDA when asked. Implements models.base.Backend.

It owns what happens around the two inner loops in hf_decode: rendering (chat template or plain
text, then the assistant prefill), tokenization that matches lm-eval's (so scores are comparable),
left truncation of over-long prompts (counted, warned once per call), length-sorted batching with
the input order restored, per-row seeds, stop strings, and progress reporting.

Sampling seeds are derived from (GenConfig.seed, rendered prompt, sample index), so a completion is
reproducible no matter which other prompts share the call or the batch (resumed runs re-draw the
same samples). Greedy prompts with n > 1 are decoded once and copied.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Sequence

import torch

from ctxbench.core.errors import CtxbenchError
from ctxbench.models.base import Completion, GenConfig, Prompt
from ctxbench.models.chat import TemplateConfig, apply_chat, family_of_owner, with_system
from ctxbench.models.hf import decode as hf_decode
from ctxbench.models.hf.common import (
    apply_torch_options,
    load_model_and_tokenizer,
    progress_fn,
    row_seed,
    stop_and_pad_ids,
    window,
)
from ctxbench.models.options import BackendOptions
from ctxbench.models.presets.registry import ResolvedModel


def prompt_text(prompt: Prompt) -> str:
    """The user turn's text: text parts joined as in benchmarks.base.Item.prompt_text."""
    for part in prompt.parts:
        if part.get("type") != "text":
            raise CtxbenchError(
                f"this text-only model got a {part.get('type')!r} message part; use a vision preset "
                "or a benchmark variant without images"
            )
    return "".join(p["value"] for p in prompt.parts)


def render_with(tokenizer, prompt: Prompt, template: TemplateConfig | None = None) -> str:
    """Chat template (the history, then the user turn, generation prompt, thinking as the template
    config says: `prompt.template`, else `template`, else the family default; ctxbench.models.chat)
    when the tokenizer or the override has one, else the plain text; then the template's assistant
    prefix and the prompt's prefill. Without a template a conversation with history (or a system
    prompt) is written as a transcript with role labels ("system: ...", "user: ...", "assistant:"),
    since a base model has no turn markers."""
    tpl = (prompt.template or template or TemplateConfig()).for_family(family_of_owner(tokenizer))
    text = prompt_text(prompt) + tpl.suffix
    messages = with_system(prompt.messages(text), tpl.system)
    chat = apply_chat(tokenizer, messages, tpl)
    if chat is not None:
        text = chat
    elif len(messages) > 1:
        text = "".join(f"{m['role']}: {m['content']}\n\n" for m in messages[:-1]) + f"user: {text}\n\nassistant:"
    return text + tpl.prefix + prompt.prefill


def kv_bytes_per_token(model) -> int:
    """Bytes of KV cache one token of one sequence holds: layers x (keys + values) x KV heads x head
    dim x element size."""
    cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    heads = cfg.num_attention_heads
    kv = getattr(cfg, "num_key_value_heads", None) or heads
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // heads
    return cfg.num_hidden_layers * 2 * kv * head_dim * next(model.parameters()).element_size()


def plan_batches(order: list[int], lengths: list[int], max_rows: int, bytes_per_token: int,
                 budget: int) -> list[list[int]]:
    """Cut the length-sorted (longest first) prompt order into decode batches of at most `max_rows`
    prompts whose KV cache (rows x the batch's longest prompt + new tokens x bytes per token) fits
    in `budget` bytes; a prompt too long for the budget on its own still gets a batch of one.
    Without the budget, 64 rows of 2048-token prompts would hold ~6 GB of cache on SmolLM2-135M."""
    batches, start = [], 0
    while start < len(order):
        fit = max(1, budget // (bytes_per_token * lengths[order[start]]))
        n = min(max_rows, fit)
        batches.append(order[start:start + n])
        start += n
    return batches


class TextSide:
    """Rendering, tokenization, truncation and lm-eval-style pair encoding, shared by the hf and
    vllm backends so both feed the model the same token ids. Needs self.tokenizer,
    self.max_context_tokens and self.eos_ids."""

    tokenizer: Any
    max_context_tokens: int
    eos_ids: set[int]
    template: TemplateConfig | None = None  # the rendering of prompts that name none (BackendOptions.template)
    truncated: int = 0  # prompts/contexts cut from the left over this backend's life
    _cut: int = 0

    @property
    def chat(self) -> bool:
        return bool(getattr(self.tokenizer, "chat_template", None) or (self.template and self.template.override))

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def render(self, prompt: Prompt) -> str:
        return render_with(self.tokenizer, prompt, self.template)

    def _encode_many(self, texts: Sequence[str]) -> list[list[int]]:
        """Rendered chat text already carries its special tokens; plain text gets the tokenizer's
        defaults (lm-eval does the same)."""
        if not texts:
            return []
        kw = {"add_special_tokens": False} if self.chat else {}
        return [list(x) for x in self.tokenizer(list(texts), **kw)["input_ids"]]

    def _truncate(self, ids: list[int], budget: int) -> list[int]:
        budget = max(1, budget)
        if len(ids) > budget:
            self._cut += 1
            return ids[-budget:]
        return ids

    def _warn_cut(self, what: str, hint: str = "") -> None:
        if self._cut:
            self.truncated += self._cut
            warnings.warn(f"{self._cut} {what} longer than the model window ({self.max_context_tokens} "
                          f"tokens) were truncated from the left{hint}", stacklevel=3)
        self._cut = 0

    def encode_prompts(self, prompts: Sequence[Prompt], max_new_tokens: int) -> tuple[list[str], list[list[int]]]:
        """(rendered texts, token ids) with room left for `max_new_tokens`."""
        texts = [self.render(p) for p in prompts]
        self._cut = 0
        budget = self.max_context_tokens - max_new_tokens
        encs = [self._truncate(e, budget) for e in self._encode_many(texts)]
        self._warn_cut("prompts", f" to {max(1, budget)} tokens (the window minus max_new_tokens={max_new_tokens}; "
                                  "a smaller --max-new-tokens keeps more of the prompt)")
        return texts, encs

    def encode_pairs(self, context: str, continuations: Sequence[str]) -> tuple[list[int], list[list[int]]]:
        """lm-eval's split: trailing whitespace moves from context to continuation, and continuation
        tokens are the tail of the encoded whole (so token merges at the boundary match lm-eval)."""
        n_spaces = len(context) - len(context.rstrip())
        head, moved = (context[:-n_spaces], context[-n_spaces:]) if n_spaces else (context, "")
        if not head:  # empty context: condition on the end-of-text token, as lm-eval does
            eot = self.tokenizer.eos_token_id
            return [min(self.eos_ids) if eot is None else eot], self._encode_many([moved + c for c in continuations])
        encs = self._encode_many([head] + [head + moved + c for c in continuations])
        ctx = encs[0]
        return ctx, [whole[len(ctx):] for whole in encs[1:]]

    def encode_scoring(self, prompts: Sequence[Prompt], continuations: Sequence[Sequence[str]]):
        """[(context ids, [continuation ids])] per prompt, contexts cut from the left to fit."""
        if len(prompts) != len(continuations):
            raise ValueError("score_many needs one continuation list per prompt")
        self._cut = 0
        pairs = []
        for p, conts in zip(prompts, continuations):
            ctx, cids = self.encode_pairs(self.render(p), list(conts))
            longest = max((len(c) for c in cids), default=0)
            pairs.append((self._truncate(ctx, self.max_context_tokens - longest + 1), cids))
        self._warn_cut("contexts")
        return pairs

    def score_continuations(self, prompt: Prompt, continuations: Sequence[str]) -> list[float]:
        return self.score_many([prompt], [continuations])[0]

    def score_many(self, prompts: Sequence[Prompt], continuations: Sequence[Sequence[str]]) -> list[list[float]]:
        raise NotImplementedError


class HFBackend(TextSide):
    name = "hf"

    def __init__(self, model, tokenizer, *, identity: str, max_context: int, batch_size: int = 8,
                 decode_batch: int = 64, kv_cache_gb: float = 2.0,
                 progress: bool | Callable[[int], Any] | None = None, template: TemplateConfig | None = None):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.template = template
        self.identity = identity
        self.max_context_tokens = int(max_context)
        self.batch_size = int(batch_size)  # prompts prefilled / contexts scored together
        self.decode_batch = max(int(decode_batch), self.batch_size)  # rows decoded together
        self.kv_budget = int(kv_cache_gb * 2**30)  # bytes of KV cache one decode batch may hold
        self.kv_per_token = kv_bytes_per_token(model)
        self.progress = progress
        self.device = next(model.parameters()).device
        self.eos_ids, self.pad_id = stop_and_pad_ids(model, tokenizer)

    @classmethod
    def load(cls, resolved: ResolvedModel, options: BackendOptions = BackendOptions(),
             progress: bool | Callable[[int], Any] | None = None) -> "HFBackend":
        apply_torch_options(options)
        model, tok, resolved = load_model_and_tokenizer(resolved, dtype=options.dtype, device=options.device,
                                                        rope=options.rope_scaling)
        return cls(model, tok, identity=resolved.identity, max_context=window(resolved, options.rope_scaling),
                   batch_size=options.batch_size, decode_batch=options.decode_batch,
                   kv_cache_gb=options.kv_cache_gb, progress=progress, template=options.template)

    def _decode_text(self, tokens: list[int]) -> str:
        return self.tokenizer.decode(tokens, skip_special_tokens=True)

    # ------------------------------------------------------------ generation

    def generate(self, prompts: Sequence[Prompt], cfg: GenConfig) -> list[list[Completion]]:
        texts, encs = self.encode_prompts(prompts, cfg.max_new_tokens)
        sampled = cfg.temperature > 0
        reps = cfg.n if sampled else 1
        per_batch = max(1, self.decode_batch // reps)
        order = sorted(range(len(encs)), key=lambda i: -len(encs[i]))
        results: list[list[Completion]] = [[] for _ in encs]
        stop_fn = self._stop_checker(cfg.stop)
        update, close = progress_fn(self.progress, len(encs), "generate")
        try:
            lengths = [len(e) + cfg.max_new_tokens for e in encs]
            for batch in plan_batches(order, lengths, per_batch, self.kv_per_token * reps, self.kv_budget):
                gens = None
                if sampled:
                    gens = [torch.Generator(device="cpu").manual_seed(row_seed(cfg.seed, texts[i], j))
                            for i in batch for j in range(reps)]
                rows = hf_decode.decode(
                    self.model, [encs[i] for i in batch], pad_id=self.pad_id, eos_ids=self.eos_ids,
                    max_new_tokens=cfg.max_new_tokens, repeats=reps, temperature=cfg.temperature,
                    top_p=cfg.top_p, top_k=cfg.top_k, generators=gens, stop_fn=stop_fn,
                    prefill_batch=self.batch_size,
                )
                for b, i in enumerate(batch):
                    outs = [self._completion(*rows[b * reps + j], len(encs[i]), cfg.stop) for j in range(reps)]
                    results[i] = outs if sampled else outs * cfg.n
                update(len(batch))
        finally:
            close()
        return results

    def _stop_checker(self, stops: Sequence[str]):
        if not stops:
            return None
        # A stop string of s characters spans at most 4*s byte-level tokens: decode only that tail.
        window = 4 * max(len(s) for s in stops) + 4

        def hit(_row: int, tokens: list[int]) -> bool:
            tail = self._decode_text(tokens[-window:])
            return any(s in tail for s in stops)

        return hit

    def _completion(self, tokens: list[int], steps: int, finish: str, n_prompt: int,
                    stops: Sequence[str]) -> Completion:
        text = self._decode_text(tokens)
        cut = min((k for k in (text.find(s) for s in stops) if k >= 0), default=-1)
        if cut >= 0:
            text, finish = text[:cut], "stop"
        return Completion(text=text, n_prompt_tokens=n_prompt, n_new_tokens=steps, finish_reason=finish)

    # ------------------------------------------------------------ scoring

    def score_many(self, prompts: Sequence[Prompt], continuations: Sequence[Sequence[str]]) -> list[list[float]]:
        """Log-likelihood sums for each prompt's continuations; contexts are batched by length,
        each context runs once and is shared by its continuations."""
        pairs = self.encode_scoring(prompts, continuations)
        order = sorted(range(len(pairs)), key=lambda i: -(len(pairs[i][0]) + max(map(len, pairs[i][1]), default=0)))
        out: list[list[float]] = [[] for _ in pairs]
        update, close = progress_fn(self.progress, len(pairs), "score")
        try:
            for start in range(0, len(order), self.batch_size):
                batch = order[start:start + self.batch_size]
                scores = hf_decode.score_shared_prefix(
                    self.model, [pairs[i][0] for i in batch], [pairs[i][1] for i in batch], pad_id=self.pad_id
                )
                for i, s in zip(batch, scores):
                    out[i] = s
                update(len(batch))
        finally:
            close()
        return out
