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
- A named protocol (ctxbench/eval/protocol.py: the paper's, per benchmark and model family) sets each
  benchmark's sampling, length, template, reply post-processing, judge and rope scaling; without one the
  harness decodes greedily with each benchmark's own length, as it always did.
"""

from __future__ import annotations

import math
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from ctxbench.benchmarks import get_benchmark, resolve_benchmarks
from ctxbench.benchmarks.base import Benchmark, Item, LoadContext, split_of, spread_subset
from ctxbench.core.config import config_hash, to_dict
from ctxbench.core.errors import CtxbenchError
from ctxbench.core.hashing import stable_hash
from ctxbench.core.versions import lib_versions_json
from ctxbench.eval.config import EvalConfig, unchanged_defaults
from ctxbench.eval.protocol import BenchProtocol, think_answer
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


def gen_settings(bench: Benchmark, cfg: EvalConfig, item: Item, proto: BenchProtocol | None = None):
    """(mode, GenConfig) for one item: choice scoring when the item has choices and the benchmark or
    config asks for it, else generation with the benchmark's stop strings: greedy with the benchmark's
    own length, or the protocol's sampling and length. An eval's max_new_tokens wins over both."""
    from ctxbench.models.base import GenConfig

    mode = scoring_mode(bench, cfg.scoring, item)
    if proto is None:
        gen = GenConfig(max_new_tokens=cfg.max_new_tokens or bench.gen.max_new_tokens, stop=tuple(bench.gen.stop),
                        temperature=0.0, seed=cfg.seed)
        return mode, gen
    gen = GenConfig(max_new_tokens=cfg.max_new_tokens or proto.max_new_tokens or bench.gen.max_new_tokens,
                    stop=tuple(bench.gen.stop), temperature=proto.temperature, top_p=proto.top_p, top_k=proto.top_k,
                    seed=cfg.seed if proto.seed is None else proto.seed)
    return mode, gen


def bench_protocol(cfg: EvalConfig, bench_name: str, family: str) -> BenchProtocol | None:
    """The protocol entry for one benchmark and model family; None without a protocol or an entry."""
    if not cfg.protocol:
        return None
    from ctxbench.eval.protocol import load_protocol

    return load_protocol(cfg.protocol).entry(bench_name, family)


def bench_template(cfg: EvalConfig, bench_name: str, family: str, proto: BenchProtocol | None):
    """The TemplateConfig a benchmark's prompts carry; None = the backend's own (no protocol, the default
    template: the rendering ctxbench always used). The probe is the context-selection decision, so it is
    rendered as the trainers render CA prompts (TemplateConfig.for_ca: thinking off, the CA prefill)."""
    from ctxbench.models.chat import TemplateConfig

    if bench_name == "probe":
        return cfg.template.for_ca(family)
    tpl = proto.template_over(cfg.template) if proto is not None else cfg.template
    if proto is None and tpl == TemplateConfig():
        return None
    return tpl.for_family(family)


@contextmanager
def judge_on(bench: Benchmark, cfg: EvalConfig, proto: BenchProtocol | None):
    """The eval's judge switched on for a benchmark whose protocol scorer asks one (the VQA hook,
    ctxbench.benchmarks.scoring.vqa_scoring; NIAH's `judge` callable), and off again after it."""
    if proto is None or not proto.judge or not cfg.judge:
        yield
        return
    from ctxbench.benchmarks.scoring.vqa_scoring import JudgeRequest, active_judge, set_judge

    set_judge(cfg.judge)
    takes = "judge" in vars(bench)  # a benchmark built with a judge callable (niah): give it the same judge
    had = vars(bench).get("judge")
    if takes:
        judge = active_judge()

        def recall(question: str, answer: str, completion: str) -> float:
            v = judge(JudgeRequest(benchmark=bench.name, item_id="", question=question, prediction=completion,
                                   answer=answer))
            return 1.0 if (v.correct if v.correct is not None else v.extracted == answer) else 0.0

        bench.judge = recall
    try:
        yield
    finally:
        set_judge(None)
        if takes:
            bench.judge = had


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
    from ctxbench.models.chat import family_of_owner, family_of_spec
    from ctxbench.store.shards import read_keys, write_shard

    benches = configured_benchmarks(cfg)  # fails before loading any model
    given = backend is not None
    family = family_of_spec(cfg.model)
    protos = {b.name: bench_protocol(cfg, b.name, family) for b in benches}
    if not given:
        from ctxbench.models.loader import load_backend

        backend = load_backend(cfg.model, backend=cfg.backend, dtype=cfg.dtype, batch_size=cfg.batch_size)
    elif family == "other":  # an in-process backend (trainers, tests): its tokenizer names the family
        family = family_of_owner(getattr(backend, "tokenizer", None))
        protos = {b.name: bench_protocol(cfg, b.name, family) for b in benches}
    ckpt_id = backend.identity
    model = canonical_spec(cfg.model)  # hf:runs/x and hf:/abs/runs/x are one checkpoint, one run
    resolved = unchanged_defaults(to_dict(replace(cfg, model=model, limit=None)))
    resolved["benchmark_versions"] = [b.key for b in benches]
    resolved["labels"] = dict(extra_run or {})  # the same checkpoint scored for two arms stays two runs
    chash = config_hash(resolved)
    run_id = "eval-" + stable_hash([ckpt_id, chash], 16)
    lib = lib_versions_json()
    run = dict(kind="eval", name=name or cfg.model, model=model, ckpt_id=ckpt_id, config_hash=chash, config=resolved,
               lib_versions=lib, **(extra_run or {}))
    write_shard(root, "runs", [run_row(run_id, status="started", **run)], name=f"{run_id}-0start")
    done = set(read_keys(root, "samples", run_id))
    results = {}
    scaled = [b for b in benches if _rope(protos[b.name]) is not None]
    for bench in [b for b in benches if b not in scaled] + scaled:  # rope-scaled ones last: one reload
        proto = protos[bench.name]
        rope = _rope(proto)
        if rope is not None and getattr(backend, "rope_scaling", None) != rope:
            if given:
                raise CtxbenchError(f"benchmark {bench.name!r}: the protocol loads the model with rope scaling "
                                    f"({rope.rope_type} x{rope.factor}); run it without an in-process backend")
            backend = None  # the unscaled model goes first: two copies of an 8B model do not fit one GPU
            backend = _scaled_backend(cfg, rope)
        items = load_bench_items(bench, cfg, backend, progress)
        write_shard(root, "items", [bench_item_row(bench, it) for it in items],
                    name=f"{run_id}-items-{bench.name}-{stable_hash([it.item_id for it in items], 8)}")
        setup = BenchSetup(proto, bench_template(cfg, bench.name, family, proto))
        with judge_on(bench, cfg, proto):
            results[bench.name] = _eval_bench(bench, items, cfg, backend, ckpt_id, run_id, chash, lib, root, done,
                                              progress, setup)
    results = [results[b.name] for b in benches]
    write_shard(root, "runs", [run_row(run_id, status="complete", **run)], name=f"{run_id}-1complete")
    if ingest:
        from ctxbench.store.ingest import ingest as do_ingest

        do_ingest(root, progress=False)
    return EvalReport(run_id, ckpt_id, results)


@dataclass(frozen=True)
class BenchSetup:
    """What a protocol decides for one benchmark of a run: its entry (None: none) and the template its
    prompts carry (None: the backend's)."""

    proto: BenchProtocol | None = None
    template: object = None  # ctxbench.models.chat.TemplateConfig | None


def _rope(proto: BenchProtocol | None):
    return proto.rope_scaling if proto is not None else None


def _scaled_backend(cfg: EvalConfig, rope):
    """The model loaded again with the protocol's rope scaling (benchmarks without it ran before)."""
    import gc

    from ctxbench.models.loader import load_backend

    gc.collect()
    out = load_backend(cfg.model, backend=cfg.backend, dtype=cfg.dtype, batch_size=cfg.batch_size, rope_scaling=rope)
    out.rope_scaling = rope  # what the loop compares against before reloading
    return out


def _eval_bench(bench, items, cfg, backend, ckpt_id, run_id, chash, lib, root, done, progress,
                setup: BenchSetup = BenchSetup()) -> BenchResult:
    from ctxbench.store.shards import read_table, write_shard

    keyed = []
    for it in items:
        mode, gen = gen_settings(bench, cfg, it, setup.proto)
        keyed.append((it, mode, gen, bench_sample_key(run_id, bench, it)))
    by_id = {it.item_id: (it, mode, gen, key) for it, mode, gen, key in keyed}
    batches = make_batches(items, cfg.batch_size)
    pending = [[by_id[it.item_id] for it in b if by_id[it.item_id][3] not in done] for b in batches]
    pending = [b for b in pending if b]
    n_todo = sum(len(b) for b in pending)
    bar = _bar(n_todo, bench.name, progress)
    computed = 0
    for batch in pending:
        rows = _run_batch(bench, batch, backend, ckpt_id, run_id, chash, lib, setup)
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


def _run_batch(bench, batch, backend, ckpt_id, run_id, chash, lib, setup: BenchSetup = BenchSetup()) -> list[dict]:
    from ctxbench.models.base import Prompt

    t0 = time.perf_counter()
    outputs: list[tuple[str, int, str | None]] = [("", 0, None)] * len(batch)
    gen_idx = [i for i, (_, mode, _, _) in enumerate(batch) if mode == "generate"]
    post = think_answer if setup.proto is not None and setup.proto.answer == "think-answer" else None
    if gen_idx:
        prompts = [Prompt(tuple(batch[i][0].prompt), batch[i][0].prefill, template=setup.template) for i in gen_idx]
        gen = batch[gen_idx[0]][2]
        try:
            comps = backend.generate(prompts, gen)
            for i, c in zip(gen_idx, comps):
                outputs[i] = (post(c[0].text) if post else c[0].text, c[0].n_new_tokens, None)
        except Exception as e:  # a failing batch is recorded, not fatal
            for i in gen_idx:
                outputs[i] = ("", 0, f"{type(e).__name__}: {e}")
    for i, (it, mode, _, _) in enumerate(batch):
        if mode != "choice":
            continue
        try:
            prompt = Prompt(tuple(it.prompt), it.prefill, template=setup.template)
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


def describe_setup(cfg: EvalConfig) -> list[dict]:
    """Per benchmark, what this eval will do, resolved as the run resolves it (protocol entry, template,
    sampling, length, judge, rope scaling), without loading a model: what `ctxbench validate` prints."""
    from ctxbench.models.chat import TemplateConfig, family_of_spec

    family = family_of_spec(cfg.model)
    rows = []
    for name in resolve_benchmarks(cfg.suite, list(cfg.benchmarks)):
        bench = get_benchmark(name)
        proto = bench_protocol(cfg, name, family)
        tpl = bench_template(cfg, name, family, proto) or TemplateConfig().for_family(family)
        _, gen = gen_settings(bench, cfg, Item(item_id="-", prompt=(), answer=""), proto)
        judge = (proto.judge if proto else "") or ""
        rows.append({
            "benchmark": name, "family": tpl.family, "thinking": tpl.thinking,
            "template": ", ".join(f"{k}={getattr(tpl, k)!r}" for k in ("override", "system", "suffix", "prefix")
                                  if getattr(tpl, k)) or "checkpoint's",
            "sampling": "greedy" if gen.temperature == 0 else
                        f"T={gen.temperature:g} top_p={gen.top_p:g}" + (f" top_k={gen.top_k}" if gen.top_k else "")
                        + f" seed={gen.seed}",
            "max_new_tokens": gen.max_new_tokens,
            "judge": (f"{judge} via {cfg.judge}" if cfg.judge else f"{judge} (not configured: rule-based verdict)")
                     if judge else "none",
            "answer": proto.answer if proto else "raw",
            "rope": (f"{proto.rope_scaling.rope_type} x{proto.rope_scaling.factor:g} to "
                     f"{proto.rope_scaling.max_position_embeddings}") if proto and proto.rope_scaling else "native",
            "protocol": cfg.protocol or "none (harness defaults)",
            "source": proto.source if proto else "", "note": proto.note if proto else "",
        })
    return rows
