"""Contrastive trajectory pairs from the embedded sources: HumanEval execution traces and tau2 tool logs.

Why: ContextRL's agentic pairs are two agent trajectories on the same code that support different
patches (the ContextRL paper, §4.1). The offline analogue here uses real trajectories that
ship with the suite:

- HumanEval: the sandboxed trace of a canonical solution on an official test input (C+) against the
  trace of a one-point mutant of the same program on the same input, or of the same program on
  another official input (C-). Questions: the value the call returned, or a variable's value right
  after step N. Both traces must run the same lines in the same order (only values differ), so the
  contexts differ in values, not in shape.
- tau2: the replayed gold tool-call log of a task (C+) against the log of another task of the same
  domain with the same tool sequence (C-); the question asks for one fact of one step's result.

This module enumerates candidate couples and applies cascade stages 1-3 (recording every drop in the
Ledger); ctxbench.pairs.trajectory.build renders them, applies the shortcut filters and writes the pairs.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ctxbench.core import paths
from ctxbench.core.atomic import write_json
from ctxbench.core.hashing import stable_hash
from ctxbench.envs.tracing import (
    TRACER_VERSION,
    TraceEvent,
    event_text,
    literal_calls,
    mutate_program,
    record_many,
    strip_docstrings,
)
from ctxbench.pairs.filters import Ledger, Rendered, json_leaves, mask_leaves
from ctxbench.pairs.trajectory.config import TrajectoryPairsConfig
from ctxbench.sources import assets

SOURCES_VERSION = "2"   # bump when traces, questions or renderings change (pair builds key on it)
TRACE_EVENTS = 120      # events recorded per call; longer calls are not used
MAX_ANSWER_CHARS = 40   # answers are short values shown in full
Fits = Callable[[list[str], list[str]], bool]


@dataclass
class Candidate:
    """A question about two aligned trajectories, before rendering (stage-3 output).

    source/neg_source: split groups of the C+ and C- trajectories (`HumanEval/12`, `airline/task_3`:
    the same groups trace-qa and tool-trace use). options(fits) yields renderings, most complete
    first, each fitting the prompt budget as judged by `fits(pos_lines, neg_lines)`."""

    source: str
    neg_source: str
    origin: str          # mutant | input | task
    kind: str
    query: str
    answer: str
    neg_answer: str
    options: Callable[[Fits], Iterator[Rendered]]
    meta: dict = field(default_factory=dict)


def _exact(v) -> bool:
    return isinstance(v, str) and 0 < len(v) <= MAX_ANSWER_CHARS and "..." not in v


def _pick(seed: int, *key) -> random.Random:
    return random.Random(stable_hash(["pairs", SOURCES_VERSION, seed, *key]))


# ------------------------------------------------------------------------------------------ HumanEval


def trace_cache_root() -> Path:
    return paths.cache_dir() / f"pairs-traces-v{SOURCES_VERSION}"


def _usable(events: list[TraceEvent]) -> bool:
    return bool(events) and events[-1].kind == "return" and events[-1].depth == 0


def _plan(problem: dict, cfg: TrajectoryPairsConfig) -> tuple[str, list[str], list[tuple[str, str]], Path]:
    source = strip_docstrings(problem["prompt"] + problem["canonical_solution"])
    calls = literal_calls(problem["test"])[:10]
    mutants = mutate_program(source, seed=int(stable_hash(problem["task_id"], 8), 16))[:cfg.mutants_per_problem]
    key = stable_hash({"v": SOURCES_VERSION, "tracer": TRACER_VERSION, "src": source, "calls": calls,
                       "mutants": [d for d, _ in mutants], "events": TRACE_EVENTS, "k": cfg.inputs_per_problem}, 12)
    return source, calls, mutants, trace_cache_root() / f"{problem['task_id'].replace('/', '_')}-{key}.json"


def _trace_problems(batch: list[tuple[dict, str, list[str], list[tuple[str, str]]]], k: int) -> list[dict]:
    """Traces for a batch of problems in two sandbox runs: originals on every input, then each mutant
    on the k shortest inputs whose original trace returns normally."""
    origs = record_many([(src, p["entry_point"], calls) for p, src, calls, _ in batch], max_events=TRACE_EVENTS)
    plans, jobs = [], []
    for (p, src, calls, muts), tr in zip(batch, origs):
        ok = sorted((i for i, t in enumerate(tr) if _usable(t)), key=lambda i: (len(tr[i]), i))
        base = ok[:k]
        plans.append((p, src, calls, muts, tr, ok, base))
        jobs += [(m, p["entry_point"], [calls[i] for i in base]) for _, m in muts] if base else []
    mtr = iter(record_many(jobs, max_events=TRACE_EVENTS, timeout_s=5.0) if jobs else [])
    out = []
    for p, src, calls, muts, tr, ok, base in plans:
        mut_rows = []
        for desc, msrc in (muts if base else []):
            traces = next(mtr)
            mut_rows.append({"desc": desc, "traces": {str(i): ([e.to_json() for e in t] if _usable(t) else
                                                              {"failed": t[-1].kind if t else "empty"})
                                                      for i, t in zip(base, traces)}})
        out.append({"task_id": p["task_id"], "entry_point": p["entry_point"], "calls": calls, "base": base,
                    "traces": {str(i): [e.to_json() for e in tr[i]] for i in ok}, "mutants": mut_rows})
    return out


def humaneval_material(problems, cfg: TrajectoryPairsConfig, progress: bool = True) -> list[dict]:
    """Per problem: official inputs, traces of the original on usable inputs, mutant traces on the
    base inputs. Computed in batches in the sandbox once, then read from the cache."""
    from tqdm.auto import tqdm

    plans = [(p, *_plan(p, cfg)) for p in problems]
    todo = [pl for pl in plans if not pl[4].exists()]
    bar = tqdm(total=len(todo), desc="pair traces", unit="problem", leave=False, disable=not progress or not todo)
    for i in range(0, len(todo), 16):
        chunk = todo[i:i + 16]
        for (p, _, _, _, path), data in zip(chunk, _trace_problems([pl[:4] for pl in chunk], cfg.inputs_per_problem)):
            write_json(path, data)
        bar.update(len(chunk))
    bar.close()
    return [json.loads(pl[4].read_text(encoding="utf-8")) for pl in plans]


def _shape(events: list[TraceEvent]) -> list[tuple]:
    return [(e.kind, e.func, e.line, e.depth, tuple(k for k, _ in e.values)) for e in events]


def _window_order(n: int, d: int) -> list[int]:
    """Event indices 1..n-1 in the order a window around the decisive event d grows (right, left, ...)."""
    order, lo, hi, right = [d], d - 1, d + 1, True
    while lo >= 1 or hi < n:
        if (right and hi < n) or lo < 1:
            order.append(hi)
            hi += 1
        else:
            order.append(lo)
            lo -= 1
        right = not right
    return order


def _span_text(a: int, b: int) -> str:
    return f"[step {a} not shown]" if a == b else f"[steps {a}-{b} not shown]"


def _trace_lines(events: list[TraceEvent], lo: int, hi: int) -> list[str]:
    """The call line, then events lo..hi-1, with markers for the steps not shown."""
    lines = [event_text(events[0])]
    if lo > 1:
        lines.append(_span_text(2, lo))
    lines += [event_text(e) for e in events[lo:hi]]
    if hi < len(events):
        lines.append(_span_text(hi + 1, len(events)))
    return lines


def _event_values(events: list[TraceEvent]) -> list[str]:
    return [v for e in events for _, v in e.values] + [e.result for e in events if e.result]


def _trace_options(pos: list[TraceEvent], neg: list[TraceEvent], d: int):
    """Renderings of two aligned traces: the largest window around event d (always with the call line)
    that fits the budget, found by bisection over the window size (windows nest as they grow)."""
    n = len(pos)

    def render(k: int) -> Rendered:
        idx = sorted(_window_order(n, d)[:k])
        lo, hi = idx[0], idx[-1] + 1
        p, q = _trace_lines(pos, lo, hi), _trace_lines(neg, lo, hi)
        at = 1 + (lo > 1) + d - lo
        shown = [neg[0], *neg[lo:hi]]
        note = "full trace" if (lo, hi) == (1, n) else f"steps {lo + 1}-{hi} of {n} shown"
        return Rendered(tuple(p), tuple(q), at, at, tuple(_event_values(shown)), note=note)

    def options(fits: Fits) -> Iterator[Rendered]:
        if d == 0 or n < 2:
            return
        lo_k, hi_k = 0, n - 1  # invariant: render(lo_k) fits (0: nothing fits yet)
        r = render(hi_k)
        if fits(list(r.pos), list(r.neg)):
            yield r
            return
        while hi_k - lo_k > 1:
            mid = (lo_k + hi_k) // 2
            r = render(mid)
            if fits(list(r.pos), list(r.neg)):
                lo_k = mid
            else:
                hi_k = mid
        if lo_k:
            yield render(lo_k)

    return options


def _trace_questions(pos: list[TraceEvent], neg: list[TraceEvent], ep: str, rng: random.Random):
    """(kind, query, answer, neg answer, decisive event index) for each question kind, or
    (kind, None, reason, detail, None) when the kind has no usable question for this couple."""
    recursive = any(e.kind == "call" and e.func == ep and e.depth > 0 for e in pos)
    where = f"the outermost call of `{ep}`" if recursive else f"`{ep}`"
    out = []
    a, b = pos[-1].result, neg[-1].result
    if not (_exact(a) and _exact(b)):
        out.append(("return", None, "answer-not-exact", f"return value {a!r} / {b!r}", None))
    elif a == b:
        out.append(("return", None, "same-answer", f"both return {a}", None))
    else:
        out.append(("return", f"What value did the traced call of {where} return?", a, b, len(pos) - 1))
    diffs = [(i, k, v, w) for i, (e, f) in enumerate(zip(pos, neg)) if e.kind == "line" and e.depth == 0
             for (k, v), (_, w) in zip(e.values, f.values) if v != w and _exact(v) and _exact(w)
             and not k.startswith("_")]
    if not diffs:
        out.append(("value", None, "same-answer", "no variable takes a different exact value", None))
    else:
        i, var, v, w = diffs[rng.randrange(len(diffs))]
        out.append(("value", f"What was the value of `{var}` in {where} right after step {pos[i].step}?", v, w, i))
    return out


def humaneval_candidates(cfg: TrajectoryPairsConfig, ledger: Ledger, progress: bool = True) -> Iterator[Candidate]:
    """Stages 1-3 for HumanEval couples: (original, mutant) on a base input, (input i, input j) of the
    original program."""
    problems = list(assets.humaneval_problems())
    if cfg.humaneval_limit is not None:
        problems = problems[:cfg.humaneval_limit]
    if not problems:
        return
    material = humaneval_material(problems, cfg, progress)
    no_trace = sum(1 for m in material if not m["traces"])
    ledger.notes.append(f"HumanEval: {len(material)} problems, {len(material) - no_trace} with an official input "
                        f"whose trace returns within {TRACE_EVENTS} steps")
    for m in material:
        tid, ep = m["task_id"], m["entry_point"]
        traces = {int(i): [TraceEvent.from_json(e) for e in t] for i, t in m["traces"].items()}
        couples = []  # (origin, pos events, neg events, meta) after stage 1
        for mut in m["mutants"]:
            for i, t in mut["traces"].items():
                ledger.enter("source")
                label = f"mutant {mut['desc']} on input {i}"
                if isinstance(t, dict):
                    ledger.reject("source", "confounder-failed", tid, f"{label}: {t['failed']}")
                    continue
                ledger.keep("source")
                couples.append(("mutant", label, traces[int(i)], [TraceEvent.from_json(e) for e in t],
                                {"mutation": mut["desc"], "call": f"{ep}({m['calls'][int(i)]})"}))
        ids = sorted(traces)
        for x, i in enumerate(ids):
            for j in ids[x + 1:]:
                ledger.enter("source")
                ledger.keep("source")
                a, b = (i, j) if _pick(cfg.seed, tid, i, j).random() < 0.5 else (j, i)
                couples.append(("input", f"input {a} vs input {b}", traces[a], traces[b],
                                {"call": f"{ep}({m['calls'][a]})", "neg_call": f"{ep}({m['calls'][b]})"}))
        for origin, label, pos, neg, meta in couples:
            ledger.enter("sequence")
            if _shape(pos) != _shape(neg):
                k = next((k for k, (x, y) in enumerate(zip(_shape(pos), _shape(neg))) if x != y), min(len(pos), len(neg)))
                ledger.reject("sequence", "different-events", tid, f"{label}: diverges at step {k + 1}")
                continue
            ledger.keep("sequence")
            rng = _pick(cfg.seed, tid, label)
            for kind, query, ans, neg_ans, d in _trace_questions(pos, neg, ep, rng):
                ledger.enter("decisive")
                if query is None:
                    ledger.reject("decisive", ans, tid, f"{kind} ({label}): {neg_ans}")
                    continue
                ledger.keep("decisive")
                yield Candidate(tid, tid, origin, kind, query, ans, neg_ans, _trace_options(pos, neg, d),
                                {**meta, "n_steps": len(pos), "decisive_step": pos[d].step})


# ------------------------------------------------------------------------------------------ tau2

# Facts a step's result states once (tool-trace question kinds), phrased without ids so the question
# does not name anything that only one of the two logs contains.
LABELS = {
    "cabin": "the cabin class of the reservation", "n_passengers": "the number of passengers on the reservation",
    "baggages": "the total number of baggages on the reservation",
    "created": "the date (YYYY-MM-DD) the reservation was created",
    "first_flight": "the flight number of the reservation's first flight segment",
    "segment_price": "the price of the reservation's first flight segment",
    "payment_id": "the payment id of the reservation's first payment",
    "paid_total": "the sum of all amounts in the reservation's payment history",
    "status": "the status of the reservation", "email": "the user's email address",
    "zip": "the zip code of the user's address", "membership": "the user's membership level",
    "n_reservations": "the number of reservations the user has", "n_orders": "the number of orders the user has",
    "order_status": "the status of the order", "n_items": "the number of items in the order",
    "ship_city": "the city the order is shipped to",
    "order_payment": "the payment method id of the order's first payment",
    "tracking": "the first tracking id of the order", "exchange_diff": "the price difference of the order's exchange",
    "n_variants": "the number of variants of the product", "n_flights": "the number of flights listed",
    "user_id": "the user id it returned", "calc": "the value the calculation returned",
    "error": "the error message it returned",
}
CAPS = (None, 2000, 800, 300, 100, 0)  # characters kept of each non-decisive result, tried in order


def _facts(step) -> dict[str, str]:
    from ctxbench.benchmarks.embedded.tool_trace import questions

    qs = questions(step)
    count = {}
    for q in qs:
        count[q.kind] = count.get(q.kind, 0) + 1
    return {q.kind: q.answer for q in qs if count[q.kind] == 1 and q.kind in LABELS}


def _tau2_lines(steps, decisive: int, cap, answers: tuple[str, ...]):
    """Log lines in tool-trace's format (call, `-> result`, blank), the decisive line's index, the
    values shown and the number of masks: answers inside call arguments (the agent's own actions, like
    patch text inside edit commands) are masked."""
    lines, values, masks, at = [], [], 0, 0
    for s in steps:
        args, n = mask_leaves(s.arguments, answers)
        masks += n
        values += json_leaves(args)
        res = s.result_json()
        if s.index == decisive:
            at = len(lines) + 1
        if s.index != decisive and cap is not None and len(res) > cap:
            res = "[result omitted]" if cap == 0 else f"{res[:cap]}... [{len(res) - cap} more characters]"
            values += [res] if cap else []
        else:
            values += json_leaves(s.result) if not isinstance(s.result, str) else [s.result]
        lines += [f"[step {s.index + 1}] {s.name}({json.dumps(args, ensure_ascii=False)})", f"-> {res}", ""]
    return lines[:-1], at, values, masks


def _tau2_options(pos_steps, neg_steps, i: int, answers: tuple[str, ...]):
    def options(fits: Fits) -> Iterator[Rendered]:
        for cap in CAPS:
            p, at, _, mp = _tau2_lines(pos_steps, i, cap, answers)
            q, at_n, vals, mn = _tau2_lines(neg_steps, i, cap, answers)
            if fits(p, q):
                note = "full log" if cap is None else ("other results omitted" if cap == 0 else
                                                        f"other results cut to {cap} characters")
                yield Rendered(tuple(p), tuple(q), at, at_n, tuple(vals), (mp, mn), note)

    return options


def tau2_candidates(cfg: TrajectoryPairsConfig, ledger: Ledger, split_for: Callable[[str], str]) -> Iterator[Candidate]:
    """Stages 1-3 for tau2 couples: two tasks of one domain (same split), same tool sequence, a fact of
    one step's result that differs."""
    from ctxbench.envs.tau2.replay import replay_all

    for domain in cfg.tau2_domains:
        runs = replay_all(domain)
        ids = sorted(runs, key=lambda t: (len(t), t))
        ledger.notes.append(f"tau2 {domain}: {len(ids)} tasks with gold tool calls")
        for x, a in enumerate(ids):
            for b in ids[x + 1:]:
                ga, gb = f"{domain}/task_{a}", f"{domain}/task_{b}"
                ledger.enter("source")
                if split_for(ga) != split_for(gb):
                    ledger.reject("source", "cross-split", ga, f"{gb} is in the other split")
                    continue
                ledger.keep("source")
                ledger.enter("sequence")
                sa, sb = runs[a], runs[b]
                if [s.name for s in sa] != [s.name for s in sb]:
                    ledger.reject("sequence", "different-tools", ga, f"vs {gb}: {len(sa)} vs {len(sb)} calls")
                    continue
                ledger.keep("sequence")
                for i, (s, t) in enumerate(zip(sa, sb)):
                    fa, fb = _facts(s), _facts(t)
                    for kind in sorted(set(fa) & set(fb)):
                        ledger.enter("decisive")
                        flip = _pick(cfg.seed, domain, a, b, i, kind).random() < 0.5
                        (gp, sp, fp), (gn, sn, fn) = ((gb, sb, fb), (ga, sa, fa)) if flip else ((ga, sa, fa), (gb, sb, fb))
                        if fp[kind] == fn[kind]:
                            ledger.reject("decisive", "same-answer", gp, f"{kind} of step {i + 1} is {fp[kind]} in both")
                            continue
                        ledger.keep("decisive")
                        query = f"According to the result of step {i + 1} ({s.name}), what is {LABELS[kind]}?"
                        yield Candidate(gp, gn, "task", kind, query, fp[kind], fn[kind],
                                        _tau2_options(sp, sn, i, (fp[kind], fn[kind])),
                                        {"tool": s.name, "step": i + 1, "n_steps": len(sp)})


__all__ = ["CAPS", "LABELS", "SOURCES_VERSION", "Candidate", "humaneval_candidates", "humaneval_material",
           "tau2_candidates", "trace_cache_root"]
