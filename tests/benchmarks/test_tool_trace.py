"""tau2 replay (hand-checked against db.json) and the tool-trace benchmark built on it."""

import collections
import json

import pytest

from ctxbench.benchmarks import get_benchmark
from ctxbench.benchmarks.base import LoadContext
from ctxbench.benchmarks.embedded.tool_trace import ToolTrace
from ctxbench.envs.tau2.replay import (
    DOMAINS,
    UNSUPPORTED,
    _db,
    gold_actions,
    load_tasks,
    replay,
    replay_all,
    toolkit,
)
from ctxbench.envs.tau2.tools import ToolError, calculate


def raw(domain):
    """The packaged db.json read independently of the replay code."""
    from ctxbench.sources.assets import tau2_domain_dir

    return json.loads((tau2_domain_dir(domain) / "db.json").read_text())


# ------------------------------------------------------------------------------------------- replay


def test_every_gold_tool_is_implemented():
    assert UNSUPPORTED == {}  # tools skipped for lack of a faithful implementation: none
    pairs = set()
    for d in DOMAINS:
        names = {a["name"] for t in load_tasks(d) for a in gold_actions(t)}
        assert names <= set(toolkit(d).TOOLS), names - set(toolkit(d).TOOLS)
        pairs |= {(d, n) for n in names}
    assert len(pairs) == 25


def test_replay_all_counts_and_the_deliberate_errors():
    air, ret = replay_all("airline"), replay_all("retail")
    assert (len(air), sum(map(len, air.values()))) == (43, 142)
    assert (len(ret), sum(map(len, ret.values()))) == (112, 550)
    assert [s for v in air.values() for s in v if s.error] == []
    errs = collections.Counter(s.error for v in ret.values() for s in v if s.error)
    # gold trajectories that probe wrong emails, zips, ids, or a not-yet-delivered order
    assert sum(errs.values()) == 18
    assert errs["User not found"] == 9 and errs["Order not found"] == 4 and errs["Product not found"] == 3
    assert errs["Non-delivered order cannot be exchanged"] == 1
    assert errs["Insufficient gift card balance to pay for the price difference"] == 1
    bad = next(s for v in ret.values() for s in v if s.error)
    assert bad.result == f"Error: {bad.error}" and not bad.ok


def test_airline_booking_hand_checked():
    db = raw("airline")
    steps = replay("airline", "8")
    assert [s.name for s in steps] == ["get_user_details", "get_reservation_details", "search_direct_flight",
                                       "book_reservation"]
    assert steps[0].result == db["users"]["sophia_silva_7557"]
    assert steps[1].result == db["reservations"]["WUNA5K"]
    day = db["flights"]["HAT271"]["dates"]["2024-05-26"]
    hat271 = next(f for f in steps[2].result if f["flight_number"] == "HAT271")
    assert hat271["prices"] == day["prices"] and hat271["available_seats"] == day["available_seats"]
    assert {f["flight_number"] for f in steps[2].result} == {
        n for n, f in db["flights"].items() if f["origin"] == "ORD" and f["destination"] == "PHL"
        and f["dates"].get("2024-05-26", {}).get("status") == "available"}
    booked = steps[3].result
    assert booked["reservation_id"] == "HATHAT" and booked["created_at"] == "2024-05-15T15:00:00"
    assert booked["flights"] == [{"origin": "ORD", "destination": "PHL", "flight_number": "HAT271",
                                  "date": "2024-05-26", "price": day["prices"]["economy"]}]
    assert 2 * day["prices"]["economy"] == 348  # what the gold call pays with its certificate
    assert booked["payment_history"] == [{"payment_id": "certificate_8045380", "amount": 348}]


def test_airline_three_bookings_get_sequential_ids_and_replays_are_independent():
    ids = [s.result["reservation_id"] for s in replay("airline", "23")[1:]]
    assert ids == ["HATHAT", "HATHAU", "HATHAV"]
    assert [s.result["reservation_id"] for s in replay("airline", "23")[1:]] == ids  # fresh db each time
    assert "HATHAT" not in _db("airline")["reservations"]  # the shared pristine db is never mutated
    cancelled = replay("airline", "23")[0].result
    orig = raw("airline")["reservations"]["K1NW8N"]
    assert cancelled["status"] == "cancelled"
    assert cancelled["payment_history"] == orig["payment_history"] + [
        {"payment_id": p["payment_id"], "amount": -p["amount"]} for p in orig["payment_history"]]


def test_retail_exchange_hand_checked():
    db = raw("retail")
    steps = replay("retail", "0")
    assert steps[0].result == "yusuf_rossi_9620"
    assert steps[1].result == db["orders"]["#W2378156"]
    assert steps[2].result == db["products"]["1656367028"]
    ex = steps[4].result
    old = {it["item_id"]: it["price"] for it in db["orders"]["#W2378156"]["items"]}
    new = {**db["products"]["1656367028"]["variants"], **db["products"]["4896585277"]["variants"]}
    diff = round(new["7706410293"]["price"] + new["7747408585"]["price"] - old["1151293680"] - old["4983901480"], 2)
    assert ex["status"] == "exchange requested" and ex["exchange_price_difference"] == diff
    assert ex["exchange_items"] == ["1151293680", "4983901480"]
    assert ex["exchange_payment_method_id"] == "credit_card_9513926"
    assert steps[1].result["status"] == "delivered"  # earlier snapshot unaffected by the exchange


def test_retail_cancel_snapshots_before_and_after():
    steps = replay("retail", "16")
    cancel = next(s for s in steps if s.name == "cancel_pending_order")
    oid = cancel.arguments["order_id"]
    before = next(s for s in steps if s.name == "get_order_details" and s.arguments["order_id"] == oid)
    assert before.index < cancel.index and before.result["status"] == "pending"
    assert cancel.result["status"] == "cancelled" and cancel.result["cancel_reason"] == cancel.arguments["reason"]
    pays = before.result["payment_history"]
    assert cancel.result["payment_history"][len(pays):] == [
        {"transaction_type": "refund", "amount": p["amount"], "payment_method_id": p["payment_method_id"]}
        for p in pays]


def test_calculate_matches_tau2():
    assert calculate("2 * ((350 - 122) + (499 - 127))") == "1200.0"
    assert calculate("155.33 - 147.05 + 268.77 - 235.13") == "41.92"
    assert calculate("10 / 4") == "2.5"
    for bad in ("__import__('os')", "2 ** 8", "1 / 0"):
        with pytest.raises(ToolError):
            calculate(bad)


# ------------------------------------------------------------------------------------------- benchmark


@pytest.fixture(scope="module")
def items():
    return ToolTrace().load(LoadContext(max_context_tokens=2048))


def test_registered_and_available():
    b = get_benchmark("tool-trace")
    assert isinstance(b, ToolTrace) and b.version == "1"
    st = b.data_status()
    assert st.available and "43 airline" in st.detail and "112 retail" in st.detail


def test_ids_unique_stable(items):
    again = ToolTrace().load(LoadContext(max_context_tokens=2048))
    assert [i.item_id for i in items] == [i.item_id for i in again]
    assert [(i.prompt_hash, i.answer) for i in items] == [(i.prompt_hash, i.answer) for i in again]
    assert len({i.item_id for i in items}) == len(items) > 250
    assert "airline/task_12#q0" in {i.item_id for i in items}
    assert {i.meta["domain"] for i in items} == {"airline", "retail"}


def _independent_answer(kind, r, q):
    """Recompute non-literal answers from the decisive result alone."""
    if kind.startswith("n_"):
        key = {"n_passengers": "passengers", "n_items": "items", "n_variants": "variants", "n_orders": "orders",
               "n_reservations": "reservations"}.get(kind)
        return str(len(r if kind == "n_flights" else r[key]))
    if kind == "paid_total":
        return f"{round(sum(p['amount'] for p in r['payment_history']), 2):g}"
    if kind == "baggages":
        return str(r["total_baggages"])
    if kind == "variant_available":
        iid = q.split("item ")[1].split(" ")[0]
        return "yes" if r["variants"][iid]["available"] else "no"
    raise AssertionError(kind)


def test_answer_is_in_the_decisive_result(items):
    count, checked = LoadContext().count_tokens, 0
    for it in items:
        p = it.prompt_text()
        a, b = it.meta["evidence_span"]
        steps = replay(it.meta["domain"], it.meta["task_id"])
        step = steps[it.meta["step"] - 1]
        assert p[a:b] == step.result_json()  # the decisive result is shown whole
        assert p[:a].rsplit("[step ", 1)[1].startswith(f"{it.meta['step']}] {step.name}(")
        assert f"step {it.meta['step']}" in it.meta["question"] and p.endswith(
            f'Question: {it.meta["question"]}\nAnswer with just the value, in the form "Answer: <value>".')
        if it.meta["literal"]:
            assert it.answer in p[a:b], it.item_id
        else:
            want = _independent_answer(it.meta["kind"], json.loads(p[a:b]), it.meta["question"])
            assert want == it.answer if want in ("yes", "no") else float(want) == float(it.answer), it.item_id
            checked += 1
        assert count(p) + ToolTrace.gen.max_new_tokens <= 2048
    assert checked >= 30  # the recomputed (non-literal) answers were really exercised


def test_long_logs_are_shortened_but_fit(items):
    assert any(i.meta["truncated_to"] is not None for i in items)
    wide = ToolTrace().load(LoadContext(max_context_tokens=32768))
    assert all(i.meta["truncated_to"] is None for i in wide) and len(wide) == len(items)


def test_small_window_skips_and_records():
    b = ToolTrace(domains=("retail",))
    got = b.load(LoadContext(max_context_tokens=400))
    assert b.skipped and all("does not fit" in why for _, why in b.skipped)
    assert all(LoadContext().count_tokens(i.prompt_text()) <= 400 - 32 for i in got)
    assert len(got) + len(b.skipped) == len(ToolTrace(domains=("retail",)).load(LoadContext(max_context_tokens=32768)))


def test_questions_per_task_and_limit():
    b = ToolTrace(domains=("airline",), questions_per_task=3)
    got = b.load(LoadContext(max_context_tokens=8192))
    per = collections.Counter(i.meta["task_id"] for i in got)
    assert max(per.values()) == 3
    for tid in per:  # distinct steps first
        steps = [i.meta["step"] for i in got if i.meta["task_id"] == tid]
        n_steps = next(i.meta["n_steps"] for i in got if i.meta["task_id"] == tid)
        if n_steps >= 3 and len(steps) == 3:
            assert len(set(steps)) >= 2
    assert len(b.load(LoadContext(max_context_tokens=8192), limit=10)) == 10


def test_score_golden(items):
    it = next(i for i in items if i.meta["kind"] == "order_payment")
    ans = it.answer
    table = [
        (f"Answer: {ans}", True, True),
        (ans, True, True),
        (f"The payment method is {ans}.", True, True),
        (f"Answer: {ans}0", False, True),
        ("Answer: paypal_0000000", False, True),
        ("", False, False),
        ("combined " * 30, False, False),  # rambling with no answer marker is a parse failure
        ("Answer: I am not sure which one it is", False, True),
    ]
    for completion, correct, parse_ok in table:
        s = ToolTrace().score(it, completion)
        assert (s.correct, s.parse_ok, s.score) == (correct, parse_ok, float(correct)), completion
    num = next(i for i in items if i.meta["kind"] == "item_price")
    assert ToolTrace().score(num, f"Answer: ${float(num.answer):,.2f}").correct
    assert not ToolTrace().score(num, f"Answer: {float(num.answer) + 1}").correct
