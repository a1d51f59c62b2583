"""One GRPO optimizer step: ctxbench's trainer vs TRL 1.16 GRPOTrainer, alternated in one process.

Shape (as in README.md, Performance): 8 prompts x 8 completions, 128-token prompts, 32 new tokens,
the ~5M-parameter tiny checkpoint, CPU, 2 threads, AdamW, clip 1.0, token-mean (TRL "dapo") loss;
with (β = 0.04, a frozen reference model) and without a KL term; fp32, plus a bf16 run.

Each TRL step (timed from on_step_begin to on_step_end: generation, loss, backward, clip, optimizer;
logging excluded) is followed, inside the same callback, by one ctxbench step (Trainer.train_step:
draw, rollout, reward, advantages, loss, backward, clip, optimizer). The first step of each arm is a
warm-up. Reported per arm: median seconds per step, the median of per-pair ratios TRL/ctxbench, and
model-FLOP utilisation against an fp32 (bf16) matmul peak measured in the same run, by the brief's
formula (2·N·tokens generation + 6·N·tokens training [+ 2·N·tokens reference], N = all parameters,
tokens = 64 x 160) and, for ctxbench, by the FLOPs it actually executes (each prompt is encoded once
per group, the LM head runs only where a token is sampled or scored), which is the honest number:
the formula charges work ctxbench skips, so its "MFU" can exceed what the hardware did.

A fourth row, `contextrl_fp32`: one ContextRL step (the same shape plus a pair batch of 8, λ = 0.1) on
ctxbench's TRL engine (trainers/trl: the GRPOTrainer subclass, TRL generation, the CA loss in the same
step) beside the compact trainer's ContextRL step, alternated the same way; median seconds and the
median of paired ratios.

The CPU is shared with other jobs: numbers are noisy; compare the paired ratios, not absolute seconds.

    python bench/train_step.py [--steps 6] [--threads 2] [--no-bf16] [--no-contextrl]  # one JSON line
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

P, G, L, T = 8, 8, 128, 32


def matmul_peak(dtype: torch.dtype, n: int = 2048, reps: int = 5) -> float:
    """Median GFLOP/s of square matmuls (each rep loops ~0.25 s)."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    torch.mm(a, b)
    t0 = time.perf_counter()
    torch.mm(a, b)
    k = max(1, int(0.25 / max(time.perf_counter() - t0, 1e-4)))
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        for _ in range(k):
            torch.mm(a, b)
        out.append(2 * n**3 * k / (time.perf_counter() - t0) / 1e9)
    return statistics.median(out)


def windows(tok, n: int) -> list[str]:
    """128-token windows of the tokenizer's own training corpus that re-tokenise to exactly 128."""
    from ctxbench.models.presets.tiny import tokenizer_corpus

    out = []
    for doc in tokenizer_corpus():
        ids = tok(doc, add_special_tokens=False)["input_ids"]
        for s in range(0, len(ids) - L, L * 4):
            text = tok.decode(ids[s:s + L])
            if len(tok(text, add_special_tokens=False)["input_ids"]) == L:
                out.append(text)
            if len(out) >= n:
                return out
    return out


def e_fraction(text: str) -> float:
    return text.count("e") / max(1, len(text))


def make_benchmark(texts):
    from ctxbench.benchmarks.base import Benchmark, DataStatus, Item, Score, text

    class Windows(Benchmark):
        name, version, family, source = "bench-windows", "1", "train", "generated"

        def data_status(self):
            return DataStatus(True, "generated")

        def load(self, ctx, limit=None):
            return [Item(item_id=f"w{i}", prompt=(text(t),), answer="") for i, t in enumerate(texts)]

        def score(self, item, completion):
            return Score(None, False, e_fraction(completion), True)

    return Windows()


def bench_pairs(root: Path, n: int = 32) -> str:
    from ctxbench.pairs import save_pairs
    from ctxbench.pairs.base import Pair

    pairs = [Pair(pair_id=f"b{i}", domain="toy", split="train", source=f"b{i}", query="what is x?",
                  answer=str(i % 10), ctx_pos=f"x = {i % 10}.", ctx_neg=f"x = {(i + 3) % 10}.",
                  meta={"neg_answer": str((i + 3) % 10)}) for i in range(n)]
    return str(save_pairs(root / "pairs.jsonl", pairs))


def bench_config(ckpt: Path, beta: float, precision: str, extra: dict | None = None):
    from ctxbench.core.config import deep_merge
    from trainers.config import make_config

    return make_config(deep_merge({
        "model": f"hf:{ckpt}", "warmup": {"enabled": False}, "data": {"tasks": ["bench-windows"]},
        "rollout": {"group_size": G, "max_new_tokens": T, "temperature": 1.0, "max_prompt_tokens": 256},
        "loss": {"kl_coef": beta, "eps_low": 0.2, "eps_high": 0.2, "clip_ratio_c": 0.0, "agg": "token-mean"},
        "optim": {"lr": 1e-6, "grad_clip": 1.0}, "prompts_per_step": P, "micro_batch_size": P * G,
        "precision": precision, "max_steps": 10_000, "progress": False, "run_name": f"bench-{beta}-{precision}",
    }, extra or {}))


def ours(ckpt: Path, texts, beta: float, precision: str, root: Path, extra: dict | None = None):
    from trainers.grpo import Trainer

    cfg = bench_config(ckpt, beta, precision, extra)
    t = Trainer(cfg, root, {"bench-windows": make_benchmark(texts)})
    t.setup("never")
    return t


def alternating(times: dict, mine, record=None):
    """A TRL callback that times each TRL step, then runs and times one compact step right after it, so
    both sides see the same machine load (times["trl"], times["ours"]); `record` gets the compact step's
    metrics."""
    from transformers import TrainerCallback

    class Alternate(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            self.t0 = time.perf_counter()

        def on_step_end(self, args, state, control, **kw):
            times["trl"].append(time.perf_counter() - self.t0)
            t0 = time.perf_counter()
            m = mine.train_step(state.global_step)
            times["ours"].append(time.perf_counter() - t0)
            if record is not None:
                record(m)

    return Alternate()


def run_arm(ckpt: Path, tok, texts, beta: float, bf16: bool, steps: int, tmp: Path) -> dict:
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import GRPOConfig, GRPOTrainer

    precision = "bf16" if bf16 else "fp32"
    mine = ours(ckpt, texts, beta, precision, tmp / "ours")
    times = {"trl": [], "ours": [], "ours_rollout": [], "ours_tokens": []}

    def record(m: dict) -> None:
        times["ours_rollout"].append(m["rollout_s"])
        times["ours_tokens"].append(m["completion_len"] * P * G)

    args = GRPOConfig(
        output_dir=str(tmp / f"trl-{beta}-{precision}"), use_cpu=True, bf16=bf16, per_device_train_batch_size=P * G,
        gradient_accumulation_steps=1, num_generations=G, max_completion_length=T, temperature=1.0, top_k=0,
        beta=beta, learning_rate=1e-6, max_steps=steps + 1, logging_steps=1, save_strategy="no", report_to=[],
        loss_type="dapo", epsilon=0.2, gradient_checkpointing=False, dataloader_num_workers=0, seed=0,
    )
    model = AutoModelForCausalLM.from_pretrained(str(ckpt), dtype=torch.float32)
    trl = GRPOTrainer(model=model, reward_funcs=[lambda completions, **kw: [e_fraction(c) for c in completions]],
                      args=args, train_dataset=Dataset.from_dict({"prompt": texts}), processing_class=tok,
                      callbacks=[alternating(times, mine, record)])
    trl.train()
    trl_s, ours_s = times["trl"][1:], times["ours"][1:]  # step 1 of each is the warm-up
    return {
        "trl_s": statistics.median(trl_s), "trl_s_range": [min(trl_s), max(trl_s)],
        "ours_s": statistics.median(ours_s), "ours_s_range": [min(ours_s), max(ours_s)],
        "ratio_trl_over_ours": statistics.median(a / b for a, b in zip(trl_s, ours_s)),
        "ours_rollout_s": statistics.median(times["ours_rollout"][1:]),
        "ours_completion_tokens": statistics.median(times["ours_tokens"][1:]),
    }


def run_contextrl(ckpt: Path, texts, steps: int, tmp: Path) -> dict:
    """The compact ContextRL step vs the TRL-subclass ContextRL step (trainers/trl), alternated."""
    from trainers.trl.engine import TRLEngine

    ctx = {"objective": {"name": "contextrl", "ca_coef": 0.1}, "data": {"pairs": bench_pairs(tmp)},
           "pair_batch_size": 8}
    mine = ours(ckpt, texts, 0.0, "fp32", tmp / "ours-ctx", ctx)
    cfg = bench_config(ckpt, 0.0, "fp32", {**ctx, "max_steps": steps + 1, "run_name": "bench-ctx-trl"})
    engine = TRLEngine(cfg, tmp / "trl-ctx", {"bench-windows": make_benchmark(texts)})
    engine.setup("never")
    times = {"trl": [], "ours": []}
    engine.trainer.add_callback(alternating(times, mine))
    engine.run()
    trl_s, ours_s = times["trl"][1:], times["ours"][1:]
    return {"trl_subclass_s": statistics.median(trl_s), "trl_subclass_s_range": [min(trl_s), max(trl_s)],
            "ours_s": statistics.median(ours_s), "ours_s_range": [min(ours_s), max(ours_s)],
            "ratio_trl_subclass_over_ours": statistics.median(a / b for a, b in zip(trl_s, ours_s)),
            "pair_batch": 8}


def flops(n_params: int, n_head: int, beta: float) -> dict:
    """Formula FLOPs of one step (the brief's 2N/6N count) and the FLOPs ctxbench executes."""
    tokens = P * G * (L + T)
    formula = 2 * n_params * tokens + 6 * n_params * tokens + (2 * n_params * tokens if beta else 0)
    body = n_params - n_head
    gen = 2 * (body * (P * L + P * G * (T - 1)) + n_head * (P + P * G * (T - 1)))
    fwd = 2 * (body * (P * L + P * G * (T - 1)) + n_head * (P + P * G * (T - 1)))  # head on 32 scored positions
    executed = gen + 3 * fwd + (fwd if beta else 0)
    return {"formula": formula, "executed": executed}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6, help="timed steps per arm (after one warm-up step)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-bf16", action="store_true")
    ap.add_argument("--no-contextrl", action="store_true", help="skip the TRL-subclass ContextRL row")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from transformers import AutoTokenizer

    from ctxbench.models.presets.tiny import ensure_tiny

    ckpt = ensure_tiny()
    tok = AutoTokenizer.from_pretrained(str(ckpt))
    tok.padding_side = "left"
    texts = windows(tok, 96)
    model = torch.nn.Module()
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(ckpt))
    n_params = sum(p.numel() for p in model.parameters())
    n_head = model.get_output_embeddings().weight.numel()
    del model
    peak = {"fp32": matmul_peak(torch.float32)}
    if not a.no_bf16:
        peak["bf16"] = matmul_peak(torch.bfloat16)
    arms = [(0.0, False), (0.04, False)] + ([(0.0, True)] if not a.no_bf16 else [])
    out = {"bench": "train_step", "threads": a.threads, "params": n_params, "steps": a.steps,
           "shape": {"prompts": P, "group": G, "prompt_tokens": L, "new_tokens": T}, "arms": {},
           "note": "shared CPU: medians of noisy timings; compare the paired ratios"}
    with tempfile.TemporaryDirectory() as d:
        for beta, bf16 in arms:
            name = f"beta{beta:g}_{'bf16' if bf16 else 'fp32'}"
            print(f"[train_step] running {name} ...", file=sys.stderr)
            r = run_arm(ckpt, tok, texts, beta, bf16, a.steps, Path(d))
            f = flops(n_params, n_head, beta)
            pk = peak["bf16" if bf16 else "fp32"] * 1e9
            r["peak_gflops"] = pk / 1e9
            r["mfu_formula_trl"] = f["formula"] / (r["trl_s"] * pk)
            r["mfu_formula_ours"] = f["formula"] / (r["ours_s"] * pk)
            r["mfu_executed_ours"] = f["executed"] / (r["ours_s"] * pk)
            r["gflop_formula"], r["gflop_executed_ours"] = f["formula"] / 1e9, f["executed"] / 1e9
            out["arms"][name] = r
            print(f"[train_step] {name}: TRL {r['trl_s']:.2f} s, ctxbench {r['ours_s']:.2f} s, "
                  f"ratio {r['ratio_trl_over_ours']:.2f}x, MFU formula TRL {r['mfu_formula_trl']:.0%} / ctxbench "
                  f"{r['mfu_formula_ours']:.0%}, executed ctxbench {r['mfu_executed_ours']:.0%}", file=sys.stderr)
        if not a.no_contextrl:
            print("[train_step] running contextrl_fp32 (TRL subclass vs compact) ...", file=sys.stderr)
            r = run_contextrl(ckpt, texts, a.steps, Path(d))
            out["arms"]["contextrl_fp32"] = r
            print(f"[train_step] contextrl_fp32: TRL subclass {r['trl_subclass_s']:.2f} s, ctxbench {r['ours_s']:.2f} s, "
                  f"ratio {r['ratio_trl_subclass_over_ours']:.2f}x", file=sys.stderr)
    out["peak_gflops"] = peak
    print(json.dumps(out))


if __name__ == "__main__":
    main()
