"""The evaluation harness: infer, then score, item by item, resumable.

Why this shape:
- Items are grouped into fixed batches (sorted by prompt length, so padding stays small) *before*
  anything is skipped. Each batch is written as one atomic shard, so after a kill a batch is either fully
  stored or absent, and a re-run recomputes exactly the missing batches with the same batch composition:
  results are bit-identical to an uninterrupted run and no key is stored twice.
- Every sample's key hashes the checkpoint identity, benchmark name@version, item id, prompt hash and the
  generation config, so a different checkpoint, benchmark version, prompt template or decoding setup
  can never reuse an earlier result.
- Scoring uses the benchmark's own `score` (the same function the trainers use as reward).
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path

from ctxbench.benchmarks import get_benchmark, resolve_benchmarks
from ctxbench.benchmarks.base import Benchmark, Item, LoadContext, split_of, spread_subset
from ctxbench.core.config import config_hash, to_dict
from ctxbench.core.errors import CtxbenchError
from ctxbench.core.hashing import stable_hash
from ctxbench.core.versions import lib_versions_json
from ctxbench.eval.config import EvalConfig
from ctxbench.eval.rows import bench_item_row, bench_sample_key, run_row, sample_row, scored_fields
from ctxbench.models.presets.registry import canonical_spec
from ctxbench.pairs.base import pick_letter


@dataclass
class BenchResult:
    benchmark: str
    n: int
    n_correct: int
    n_parse_fail: int
    n_errors: int
    computed: int  # items computed in this invocation (the rest came from earlier shards)
    mean_score: float
    # (category, n, accuracy %) rows of the benchmark's official breakdown, for benchmarks that define
    # `breakdown(df)` (longbench-v2: Overall, Easy, Hard, Short, Medium, Long)
    breakdown: list[tuple[str, int, float]] | None = None

    @property
    def accuracy(self) -> float:
        return self.n_correct / self.n if self.n else float("nan")

    def interval(self, z: float = 1.96) -> tuple[float, float]:
        """Wilson score interval for the accuracy (well-behaved at 0/n and n/n)."""
        if not self.n:
            return (float("nan"), float("nan"))
        p, n = self.accuracy, self.n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
        return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass
class EvalReport:
    run_id: str
    ckpt_id: str
    results: list[BenchResult]

    def table(self) -> str:
        lines = [f"run {self.run_id}  checkpoint {self.ckpt_id}",
                 f"{'benchmark':<20} {'acc':>6} {'95% CI':>15} {'n':>5} {'parse-fail':>10} {'errors':>6}"]
        for r in self.results:
            lo, hi = r.interval()
            lines.append(f"{r.benchmark:<20} {r.accuracy:>6.3f} {f'[{lo:.3f}, {hi:.3f}]':>15} {r.n:>5} "
                         f"{r.n_parse_fail:>10} {r.n_errors:>6}")
            for cat, n, acc in r.breakdown or ():
                lines.append(f"  {cat:<18} {acc / 100:>6.3f} {'':>15} {n:>5}")
        return "\n".join(lines)


def scoring_mode(bench: Benchmark, scoring: str, item: Item) -> str:
    """"choice" (options scored by log-probabilities) or "generate" for one item under EvalConfig.scoring."""
    mode = bench.gen.mode if scoring == "auto" else scoring
    return "generate" if mode == "choice" and not item.choices else mode


def gen_settings(bench: Benchmark, cfg: EvalConfig, item: Item):
    """(mode, GenConfig) for one item: choice scoring when the item has choices and the benchmark or
    config asks for it, else greedy generation with the benchmark's own length and stop strings."""
    from ctxbench.models.base import GenConfig

    mode = scoring_mode(bench, cfg.scoring, item)
    gen = GenConfig(max_new_tokens=cfg.max_new_tokens or bench.gen.max_new_tokens, stop=tuple(bench.gen.stop),
                    temperature=0.0, seed=cfg.seed)
    return mode, gen


def load_items(bench: Benchmark, cfg: EvalConfig, ctx: LoadContext) -> list[Item]:
    if cfg.split == "all":
        return bench.load(ctx, cfg.limit)
    items = [it for it in bench.load(ctx, None) if split_of(it) == cfg.split]
    return spread_subset(items, cfg.limit)


def configured_benchmarks(cfg: EvalConfig) -> list[Benchmark]:
    """The benchmarks `cfg` names (suite and list), failing before any model or tokenizer loads when
    one has no data here and no `data` path was given for it."""
    benches = [get_benchmark(n) for n in resolve_benchmarks(cfg.suite, list(cfg.benchmarks))]
    for b in benches:
        st = b.data_status()
        if not st.available and not cfg.data.get(b.name):
            raise CtxbenchError(f"benchmark {b.name!r} has no data: {st.detail}")
    return benches


def load_bench_items(bench: Benchmark, cfg: EvalConfig, side, progress: bool = True) -> list[Item]:
    """`bench`'s items as an eval selects them, fitted to `side`'s window and tokenizer (a backend, or
    any object with max_context_tokens and count_tokens); an empty selection is an error."""
    ctx = LoadContext(max_context_tokens=side.max_context_tokens, count_tokens=side.count_tokens,
                      data_path=cfg.data.get(bench.name), progress=progress)
    items = load_items(bench, cfg, ctx)
    if not items:
        raise CtxbenchError(f"benchmark {bench.name!r} produced no items (split={cfg.split})")
    return items


def make_batches(items: list[Item], batch_size: int) -> list[list[Item]]:
    """Fixed, deterministic batches: length-sorted (ties by id) so a batch pads little."""
    order = sorted(items, key=lambda it: (len(it.prompt_text()) + len(it.prefill), it.item_id))
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def run_eval(cfg: EvalConfig, root: Path, backend=None, progress: bool = True, ingest: bool = True,
             name: str | None = None, extra_run: dict | None = None) -> EvalReport:
    """Evaluate one model on the configured benchmarks; resumable; returns the per-benchmark report.

    `backend` may be passed in (tests, trainers evaluating in-process); otherwise it is loaded from
    `cfg.model`. `extra_run` adds columns (arm, seed, ablation) to the run row.
    """
    from ctxbench.store.shards import read_keys, write_shard

    benches = configured_benchmarks(cfg)  # fails before loading any model
    if backend is None:
        from ctxbench.models.loader import load_backend

        backend = load_backend(cfg.model, backend=cfg.backend, dtype=cfg.dtype, batch_size=cfg.batch_size)
    ckpt_id = backend.identity
    model = canonical_spec(cfg.model)  # hf:runs/x and hf:/abs/runs/x are one checkpoint, one run
    resolved = to_dict(replace(cfg, model=model, limit=None))
    resolved["benchmark_versions"] = [b.key for b in benches]
    resolved["labels"] = dict(extra_run or {})  # the same checkpoint scored for two arms stays two runs
    chash = config_hash(resolved)
    run_id = "eval-" + stable_hash([ckpt_id, chash], 16)
    lib = lib_versions_json()
    run = dict(kind="eval", name=name or cfg.model, model=model, ckpt_id=ckpt_id, config_hash=chash, config=resolved,
               lib_versions=lib, **(extra_run or {}))
    write_shard(root, "runs", [run_row(run_id, status="started", **run)], name=f"{run_id}-0start")
    done = set(read_keys(root, "samples", run_id))
    results = []
    for bench in benches:
        items = load_bench_items(bench, cfg, backend, progress)
        write_shard(root, "items", [bench_item_row(bench, it) for it in items],
                    name=f"{run_id}-items-{bench.name}-{stable_hash([it.item_id for it in items], 8)}")
        results.append(_eval_bench(bench, items, cfg, backend, ckpt_id, run_id, chash, lib, root, done, progress))
    write_shard(root, "runs", [run_row(run_id, status="complete", **run)], name=f"{run_id}-1complete")
    if ingest:
        from ctxbench.store.ingest import ingest as do_ingest

        do_ingest(root, progress=False)
    return EvalReport(run_id, ckpt_id, results)


def _eval_bench(bench, items, cfg, backend, ckpt_id, run_id, chash, lib, root, done, progress) -> BenchResult:
    from ctxbench.store.shards import read_table, write_shard

    keyed = []
    for it in items:
        mode, gen = gen_settings(bench, cfg, it)
        keyed.append((it, mode, gen, bench_sample_key(run_id, bench, it)))
    by_id = {it.item_id: (it, mode, gen, key) for it, mode, gen, key in keyed}
    batches = make_batches(items, cfg.batch_size)
    pending = [[by_id[it.item_id] for it in b if by_id[it.item_id][3] not in done] for b in batches]
    pending = [b for b in pending if b]
    n_todo = sum(len(b) for b in pending)
    bar = _bar(n_todo, bench.name, progress)
    computed = 0
    for batch in pending:
        rows = _run_batch(bench, batch, backend, ckpt_id, run_id, chash, lib)
        write_shard(root, "samples", rows, name=f"{run_id}-{bench.name}-{rows[0]['key'][:12]}-{uuid.uuid4().hex[:6]}")
        done.update(r["key"] for r in rows)
        computed += len(rows)
        if bar:
            bar.update(len(rows))
    if bar:
        bar.close()
    keys = [k for *_, k in keyed]
    df = read_table(root, "samples", {"run_id": run_id})
    df = df[df["key"].isin(keys)].drop_duplicates("key")
    return BenchResult(
        benchmark=bench.name, n=len(df), n_correct=int(df["correct"].sum()),
        n_parse_fail=int((~df["parse_ok"].astype(bool)).sum()), n_errors=int(df["error"].notna().sum()),
        computed=computed, mean_score=float(df["score"].mean()) if len(df) else float("nan"),
        breakdown=_breakdown(bench, items, df),
    )


def _breakdown(bench, items, df) -> list[tuple[str, int, float]] | None:
    """The benchmark's own breakdown of these results (item meta joined by item id), if it has one."""
    if not callable(getattr(bench, "breakdown", None)) or df.empty:
        return None
    meta = {it.item_id: it.meta for it in items}
    frame = df[["item_id", "correct"]].assign(meta=df["item_id"].map(meta)).reset_index(drop=True)
    table = bench.breakdown(frame)
    return [(str(cat), int(row["n"]), float(row["accuracy"])) for cat, row in table.iterrows()]


def _run_batch(bench, batch, backend, ckpt_id, run_id, chash, lib) -> list[dict]:
    from ctxbench.models.base import Prompt

    t0 = time.perf_counter()
    outputs: list[tuple[str, int, str | None]] = [("", 0, None)] * len(batch)
    gen_idx = [i for i, (_, mode, _, _) in enumerate(batch) if mode == "generate"]
    if gen_idx:
        prompts = [Prompt(tuple(batch[i][0].prompt), batch[i][0].prefill) for i in gen_idx]
        gen = batch[gen_idx[0]][2]
        try:
            comps = backend.generate(prompts, gen)
            for i, c in zip(gen_idx, comps):
                outputs[i] = (c[0].text, c[0].n_new_tokens, None)
        except Exception as e:  # a failing batch is recorded, not fatal
            for i in gen_idx:
                outputs[i] = ("", 0, f"{type(e).__name__}: {e}")
    for i, (it, mode, _, _) in enumerate(batch):
        if mode != "choice":
            continue
        try:
            prompt = Prompt(tuple(it.prompt), it.prefill)
            lps = backend.score_continuations(prompt, choice_continuations(backend.render(prompt), it.choices))
            outputs[i] = (pick_letter(lps, it.choices), 0, None)  # the trainers' selection rule
        except Exception as e:
            outputs[i] = ("", 0, f"{type(e).__name__}: {e}")
    latency = (time.perf_counter() - t0) / len(batch)
    rows = []
    for (it, mode, gen, key), (text, n_new, err) in zip(batch, outputs):
        if err is None:
            try:
                sc = bench.verdicts(it, text, mode)
            except Exception as e:  # a scorer crash is a recorded failure of this item
                sc, err = None, f"score: {type(e).__name__}: {e}"
        else:
            sc = None
        row = sample_row(run_id=run_id, ckpt_id=ckpt_id, benchmark=bench.name, version=bench.version,
                         item_id=it.item_id, prompt_hash=it.prompt_hash, gen_hash=stable_hash([mode, to_dict(gen)]),
                         config_hash=chash, lib_versions=lib, output=text, error=err, latency_s=latency,
                         n_new_tokens=n_new, **scored_fields(sc))
        assert row["key"] == key, "the pending key and the stored key are one recipe"
        rows.append(row)
    return rows


def choice_continuations(rendered_prompt: str, choices) -> list[str]:
    """The text scored for each option: a leading space unless the prompt already ends in whitespace or an
    opening bracket (a prefill like 'The correct answer is (' is continued directly by the letter)."""
    sep = "" if not rendered_prompt or rendered_prompt[-1].isspace() or rendered_prompt[-1] in "([{" else " "
    return [sep + c for c in choices]


def _bar(total: int, desc: str, progress: bool):
    if not progress or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="item", dynamic_ncols=True)
