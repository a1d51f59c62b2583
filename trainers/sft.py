"""Supervised stages: the warm-up SFT that teaches a random-init model the task format, and the
DA-SFT stage (the pairs as A/B answers) that runs before GRPO in the `da-sft` arm.

Both are teacher-forced cross-entropy on the target tokens only, computed with the same
completion-only log-prob code as the RL loss. The warm-up result is cached under the run root by a
hash of (starting model, task data, warm-up settings) and deliberately NOT of the objective or seed:
every arm and seed starts from the same checkpoint, as they would from one pretrained model.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import torch

from ctxbench.core.hashing import stable_hash
from ctxbench.models.chat import TemplateConfig
from ctxbench.pairs.base import Pair, choice_parts, choice_prompt
from trainers.data import pos_first_for
from trainers.losses import aggregate
from trainers.modeling import (
    autocast,
    ca_template,
    completion_logprobs,
    encode,
    left_pad,
    pad_id,
    render,
    right_pad,
)

Example = tuple  # (prompt token ids, target token ids incl. EOS[, vision inputs]) — vision: VLM prompts


def target_text(rendered_prompt: str, answer: str, chat: bool, after: str = "") -> str:
    """The answer as it should follow the prompt: verbatim after a chat template's assistant header, but
    with a leading space where the prompt ends in text the model continues, i.e. the rendered prompt does
    not end in whitespace and either there is no chat template (raw text) or text follows the header
    (`after`: the template's assistant prefix and the prefill, e.g. "The correct option is", after which
    the letter is " A", the spelling the ChoiceScorer resolves)."""
    if (after or not chat) and rendered_prompt and not rendered_prompt[-1].isspace():
        return " " + answer
    return answer


def _rendering(owner, template, prefill: str, ca: bool):
    """(TemplateConfig, the item's prefill, the text after the chat template's header) of an example:
    a context-selection prompt by the CA rule (modeling.ca_template, the prefill folded into its
    prefix), anything else by `template` (None: thinking off, as always)."""
    if ca:
        tpl = ca_template(owner, template, prefill)
        return tpl, "", tpl.prefix
    tpl = template if template is not None else TemplateConfig(thinking="off")
    return tpl, prefill, tpl.prefix + prefill


def make_example(tok, user_text: str, prefill: str, answer: str, parts: tuple = (), template=None,
                 ca: bool = False) -> Example:
    """(prompt ids, target ids) for a text tokenizer; with a trainers.vision.VisionIO as `tok`, the
    prompt (its `parts` when it has images) goes through the processor and the example carries the
    vision inputs as a third element. The prompt is rendered as the RL loop renders it (`template`,
    TrainConfig.template), or, with `ca`, as the ContextRL loss renders a pair (`prefill`: the pair's)."""
    from trainers.vision import VisionIO

    if isinstance(tok, VisionIO):
        tpl, pre, after = _rendering(tok.owner, template, prefill, ca)
        parts = parts or ({"type": "text", "value": user_text},)
        ids, vision = tok.encode(parts, pre, tpl)
        t = tok.tokenizer
        ans = target_text(tok.render(parts, pre, tpl), answer, tok.chat, after)
        return ids, t(ans, add_special_tokens=False)["input_ids"] + [t.eos_token_id], vision
    tpl, pre, after = _rendering(tok, template, prefill, ca)
    prompt = render(tok, user_text, pre, tpl)
    chat = bool(getattr(tok, "chat_template", None) or tpl.override)
    target = tok(target_text(prompt, answer, chat, after), add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    return encode(tok, prompt), target


def pair_sft_examples(tok, pairs: list[Pair], seed: int, template=None) -> list[Example]:
    """DA-SFT data: each pair's A/B prompt with the correct letter as the target, rendered exactly as
    the ContextRL loss renders it (the CA rule of `template`: thinking off, the pair's prefill or the
    template's CA prefill, the letter after it), so the two arms are taught on the same prompt. Image
    pairs: the two-image prompt, through the processor when `tok` is a VisionIO. A verbatim pair
    (released data) gives its stored prompt, letter and prefill, in its authored option order."""
    out = []
    for p in pairs:
        pos_first = pos_first_for(seed, 0, p.pair_id)
        if p.has_parts:
            parts, letter = choice_parts(p, pos_first)
            out.append(make_example(tok, "", p.prefill, letter, parts, template, ca=True))
        else:
            text, letter = choice_prompt(p, pos_first)
            out.append(make_example(tok, text, p.prefill, letter, (), template, ca=True))
    return out


def sft_loss(model, examples: list[Example], pad: int, precision: str = "fp32") -> torch.Tensor:
    """Token-mean negative log-likelihood of the targets given their prompts."""
    pids, pmask = left_pad([e[0] for e in examples], pad)
    tids, tmask = right_pad([e[1] for e in examples], pad)
    vision = [e[2] for e in examples] if any(len(e) > 2 and e[2] is not None for e in examples) else None
    with autocast(precision, model):
        logp, _ = completion_logprobs(model, pids, pmask, torch.arange(len(examples)), tids, vision=vision)
    return -aggregate(logp, tmask.to(logp.device), "token-mean")


def run_sft(model, tok, examples: list[Example], *, epochs: int, lr: float, batch_size: int, seed: int,
            precision: str = "fp32", grad_clip: float = 1.0, desc: str = "sft", progress: bool = True) -> list[dict]:
    """Plain AdamW SFT over `examples` (a fresh optimizer; seeded shuffles). Returns per-step metrics."""
    from tqdm import tqdm

    if not examples:
        return []
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    pad = pad_id(tok)
    steps_per_epoch = max(1, len(examples) // batch_size)
    metrics = []
    bar = tqdm(total=epochs * steps_per_epoch, desc=desc, file=sys.stderr, disable=not progress, unit="step")
    for epoch in range(epochs):
        order = np.random.default_rng([seed, 7919, epoch]).permutation(len(examples))
        for s in range(steps_per_epoch):
            batch = [examples[i] for i in order[s * batch_size:(s + 1) * batch_size]]
            opt.zero_grad(set_to_none=True)
            loss = sft_loss(model, batch, pad, precision)
            loss.backward()
            gn = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip if grad_clip > 0 else float("inf"))
            opt.step()
            metrics.append({"loss": float(loss.detach()), "grad_norm": float(gn)})
            bar.update(1)
            bar.set_postfix(loss=f"{metrics[-1]['loss']:.3f}")
    bar.close()
    return metrics


def warmup_key(cfg, model_identity: str, data_fp: str) -> str:
    """The warm-up cache key. The template is in it only when set (the warm-up prompts are rendered with
    it), so the default's key, and its cached checkpoint, are what they were before templates existed."""
    key = {"model": model_identity, "data": data_fp, "warmup": cfg.warmup, "precision": cfg.precision,
           "max_prompt_tokens": cfg.rollout.max_prompt_tokens}
    if cfg.template != TemplateConfig():
        key["template"] = cfg.template
    return stable_hash(key)


def warmup_sft(cfg, root: str | Path, benchmarks: dict | None = None) -> Path:
    """The warm-up checkpoint for `cfg` (cfg.model + cfg.data.tasks + cfg.warmup), built on first use.

    Returns a transformers checkpoint folder (usable as `hf:PATH`). Concurrent callers with the same
    key build identical folders; the first complete rename wins.
    """
    from ctxbench.core.atomic import publish_dir, temp_path
    from ctxbench.core.errors import CtxbenchError
    from trainers.checkpoint import verify_checkpoint, write_manifest
    from trainers.data import sft_examples_from_tasks
    from trainers.modeling import load_policy, resolve_model_path
    from trainers.vision import VisionIO, is_vlm_path

    base_path, identity = resolve_model_path(cfg.model)
    io = None
    if is_vlm_path(base_path):  # a VLM: prompts (with their images) go through the processor
        from trainers.modeling import load_model

        io = VisionIO.load(base_path)
        model, tok = load_model(base_path), io.tokenizer
    else:
        model, tok = load_policy(base_path)
    count = lambda s: len(tok(s, add_special_tokens=False)["input_ids"])
    prompts = sft_examples_from_tasks(cfg, count, benchmarks)
    fp_rows = [(p.key, p.text, p.prefill, p.answer) for p in prompts]
    if any(p.has_images for p in prompts):
        fp_rows = [(*row, p.image_keys()) for row, p in zip(fp_rows, prompts)]
    data_fp = stable_hash(fp_rows)
    key = warmup_key(cfg, identity, data_fp)
    out = Path(root) / "warmup" / f"{cfg.model.split('/')[-1].replace(':', '-')}-{key}"
    if out.exists():
        verify_checkpoint(out)  # a damaged cache is an error, never silently rebuilt over
        return out
    # rendered as the RL loop renders the same prompts (Trainer.prompt_ids: cfg.template)
    examples = [make_example(io or tok, p.text, p.prefill, p.answer, p.parts if io else (), cfg.template)
                for p in prompts]
    examples = [e for e in examples if len(e[0]) <= cfg.rollout.max_prompt_tokens]
    if not examples:
        raise CtxbenchError("warm-up SFT: no training examples (check data.tasks)")
    torch.manual_seed(0)
    w = cfg.warmup
    run_sft(model, io or tok, examples, epochs=w.epochs, lr=w.lr, batch_size=w.batch_size, seed=0,
            precision=cfg.precision, grad_clip=cfg.optim.grad_clip, desc="warm-up sft", progress=cfg.progress)
    tmp = temp_path(out)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp)
    (io or tok).save_pretrained(tmp)  # a VLM's processor: tokenizer, chat template, image processor
    write_manifest(tmp, {"kind": "warmup", "base_model": cfg.model, "base_identity": identity, "key": key,
                         "examples": len(examples)})
    try:
        publish_dir(tmp, out)
    except OSError:  # another process published the same warm-up first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
        if not out.exists():
            raise
    return out
