"""Trajectory pairs: shortcut filters (golden cases, each rejection reason), trace windows, and a small
real build (6 HumanEval problems + tau2 airline) checked for yields, reasons, split safety, pairs that
differ only in the decisive region, determinism, store rows and the CLI's yield printout."""

from __future__ import annotations

import hashlib
import os

import pytest

from ctxbench.core.errors import ConfigError
from ctxbench.pairs.base import choice_prompt, load_pairs
from ctxbench.pairs.common import split_for
from ctxbench.pairs.domains import build_pairs, pairs_config
from ctxbench.pairs.filters import (
    STAGES,
    Ledger,
    Rendered,
    line_diff,
    mask_leaves,
    shortcut_reason,
    skeleton,
    value_matches,
)


def chars4(s: str) -> int:
    return max(1, len(s) // 4)


# ------------------------------------------------------------------------------------------ filters


@pytest.mark.parametrize("a,b,same", [
    ("[step 3] line 5 in f: x=3, s='ab'", "[step 3] line 5 in f: x=41, s='c'", True),
    ("line 5 in f: x=[1, 2]", "line 5 in f: x=[1]", False),
    ("line 5 in f: ok=True", "line 5 in f: ok=False", True),
    ('-> {"cabin":"economy","n":2}', '-> {"cabin":"business","n":13}', True),
    ('-> {"cabin":"economy"}', '-> {"cabin":"economy","x":1}', False),
    ("return from f: 1.2000000000000002", "return from f: 1.2", True),
])
def test_skeleton(a, b, same):
    assert (skeleton(a) == skeleton(b)) is same


@pytest.mark.parametrize("answer,value,hit", [
    ("3", "3", True), ("3", "3.0", True), ("3", "[1, 3]", False), ("3", "13", False),
    ("economy", "economy", True), ("economy", "basic economy seat", True), ("economy", "basic_economy", False),
    ("True", "True", True), ("'ab'", "['ab', 'c']", True), ("'a'", "['a', 'c']", False), ("credit_card_42", "pay with credit_card_42 now", True),
])
def test_value_matches(answer, value, hit):
    assert value_matches(answer, value) is hit


def test_mask_leaves_masks_answers_in_action_arguments():
    args = {"reservation_id": "ABC123", "payment_id": "credit_card_7", "n": 2, "items": ["credit_card_7", "x"]}
    masked, n = mask_leaves(args, ("credit_card_7", "gift_card_1"))
    assert n == 2 and masked["payment_id"] == "<MASKED>" and masked["items"] == ["<MASKED>", "x"]
    assert masked["reservation_id"] == "ABC123" and masked["n"] == 2 and args["payment_id"] == "credit_card_7"


POS = ("[step 1] call f(n=3)", "[step 2] line 2 in f: y=6", "[step 3] line 3 in f: z=7", "[step 4] return from f: 7")
NEG = ("[step 1] call f(n=3)", "[step 2] line 2 in f: y=5", "[step 3] line 3 in f: z=6", "[step 4] return from f: 6")
Q = "What value did the traced call of `f` return?"


def rendered(pos=POS, neg=NEG, d=3, values=("3", "5", "6"), masked=(0, 0)):
    return Rendered(tuple(pos), tuple(neg), d, d, tuple(values), masked)


@pytest.mark.parametrize("r,query,answer,reason", [
    (rendered(), Q, "7", None),
    (rendered(neg=POS), Q, "7", "identical-contexts"),
    (rendered(), "What did f return after 7 steps?", "7", "leak-query"),
    (rendered(values=("3", "7", "6")), Q, "7", "leak-confounder"),
    (rendered(masked=(1, 0)), Q, "7", "mask-inconsistent"),
    (rendered(neg=NEG[:3] + ("[step 4] return from f: " + "6" * 40,)), Q, "7", "length-disparity"),
    (rendered(neg=NEG[:2] + ("[step 3] line 3 in f: z=[6]",) + NEG[3:]), Q, "7", "format-difference"),
    (rendered(neg=NEG[:2] + ("[step 3] line 3 in f: w=6",) + NEG[3:]), Q, "7", "format-difference"),
    (rendered(pos=POS[:3] + ("[step 4] return from f: 6",), neg=NEG[:2] + ("[step 3] line 3 in f: z=8",) + NEG[3:],
              values=("3", "5", "8")), Q, "7", "decisive-identical"),
])
def test_shortcut_filters(r, query, answer, reason):
    got = shortcut_reason(r, query, answer, chars4, 0.10)
    assert (got[0] if got else None) == reason


def test_line_structure_change_is_a_format_difference():
    r = rendered(neg=NEG[:2] + ("[step 3] line 3 in f: z=6", "[step 3b] extra") + NEG[3:])
    assert shortcut_reason(r, Q, "7", lambda s: 100, 0.5)[0] == "format-difference"
    assert line_diff(list(POS), list(POS)) == []


def test_ledger_table_accounts_for_every_candidate():
    led = Ledger()
    for i in range(5):
        led.enter("source")
        if i % 2:
            led.reject("source", "cross-split", f"s{i}")
        else:
            led.keep("source")
    row = led.yield_table()[0]
    assert [r["stage"] for r in led.yield_table()] == list(STAGES)
    assert (row["in"], row["kept"], row["rejected"]) == (5, 3, {"cross-split": 2})


# ------------------------------------------------------------------------------------------ trace windows

LOOP = """def f(xs):
    total = 0
    for x in xs:
        total = total + x
    return total
"""


def test_trace_window_keeps_the_decisive_line_and_marks_hidden_steps():
    from ctxbench.envs.tracing import record_many
    from ctxbench.pairs.trajectory.candidates import _trace_options

    pos, neg = (t[0] for t in record_many([(LOOP, "f", ["[1, 2, 3, 4, 5, 6, 7, 8]"]),
                                           (LOOP.replace("total + x", "total - x"), "f", ["[1, 2, 3, 4, 5, 6, 7, 8]"])]))
    assert [e.kind for e in pos] == [e.kind for e in neg] and pos[-1].result == "36" and neg[-1].result == "-36"
    full = next(_trace_options(pos, neg, len(pos) - 1)(lambda p, q: True))
    assert len(full.pos) == len(pos) and full.note == "full trace"
    budget = len("\n".join(full.pos)) // 2
    r = next(_trace_options(pos, neg, len(pos) - 1)(lambda p, q: len("\n".join(p)) <= budget))
    assert r.pos[0] == full.pos[0] and r.pos[1].startswith("[steps 2-") and r.pos[1].endswith("not shown]")
    assert r.pos[r.decisive_pos] == f"[step {len(pos)}] return from f: 36" == r.pos[-1]
    assert r.neg[r.decisive_neg] == f"[step {len(pos)}] return from f: -36"
    assert len("\n".join(r.pos)) <= budget < len("\n".join(r.pos)) + 40  # the largest window that fits
    assert list(_trace_options(pos, neg, len(pos) - 1)(lambda p, q: False)) == []


# ------------------------------------------------------------------------------------------ a real build

COUNTED = {"n_passengers", "paid_total", "n_items", "n_reservations", "n_orders", "n_variants", "n_flights"}
SMALL = {"humaneval_limit": 6, "tau2_domains": ["airline"], "max_per_source": 4}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    old = os.environ.get("CTXBENCH_CACHE")
    os.environ["CTXBENCH_CACHE"] = str(cache)
    try:
        root = tmp_path_factory.mktemp("runs")
        cfg = pairs_config(SMALL)
        res = build_pairs(cfg, root, progress=False)
        yield cfg, root, res, load_pairs(res.path)
    finally:
        if old is None:
            os.environ.pop("CTXBENCH_CACHE", None)
        else:
            os.environ["CTXBENCH_CACHE"] = old


def test_cascade_yield_accounts_and_chains(built):
    _, _, res, pairs = built
    rows = {r["stage"]: r for r in res.yield_table}
    for r in res.yield_table:
        assert r["in"] == r["kept"] + sum(r["rejected"].values()), r
    assert rows["sequence"]["in"] == rows["source"]["kept"]
    assert rows["select"]["in"] == rows["shortcut"]["kept"] == rows["decisive"]["kept"] - sum(
        rows["shortcut"]["rejected"].values())
    assert rows["shortcut"]["in"] == rows["decisive"]["kept"]
    assert rows["select"]["kept"] == len(pairs) == res.n_train + res.n_test > 20
    assert {"cross-split"} <= set(rows["source"]["rejected"])
    assert {"different-events", "different-tools"} <= set(rows["sequence"]["rejected"])
    assert "same-answer" in rows["decisive"]["rejected"]
    assert {"length-disparity", "leak-confounder"} <= set(rows["shortcut"]["rejected"])
    assert "per-source-cap" in rows["select"]["rejected"]
    assert {p.meta["origin"] for p in pairs} == {"mutant", "input", "task"}


def test_no_split_shares_a_source(built):
    cfg, _, _, pairs = built
    groups = {"train": set(), "test": set()}
    for p in pairs:
        assert p.split == split_for(p.source, cfg.heldout_frac) == split_for(p.meta["neg_source"], cfg.heldout_frac)
        groups[p.split] |= {p.source, p.meta["neg_source"]}
    assert groups["train"] and groups["test"] and not groups["train"] & groups["test"]
    assert max(sum(p.source == s for p in pairs) for s in groups["train"]) <= cfg.max_per_source


def test_pairs_differ_only_in_the_decisive_region(built):
    cfg, _, _, pairs = built
    for p in pairs:
        a, b, d = p.ctx_pos.split("\n"), p.ctx_neg.split("\n"), p.meta["diff"]
        assert len(a) == len(b) and d["pos"] == d["neg"]
        inside = {i for s, e in d["pos"] for i in range(s, e)}
        assert d["decisive_pos"] in inside
        assert all(a[i] == b[i] for i in range(len(a)) if i not in inside)
        assert all(skeleton(a[i]) == skeleton(b[i]) for i in inside if i != d["decisive_pos"])
        assert p.answer != p.meta["neg_answer"]
        if p.meta["kind"] not in COUNTED:  # the answer is written on the decisive line of each context
            assert p.answer in a[d["decisive_pos"]] and p.meta["neg_answer"] in b[d["decisive_neg"]]
        assert chars4(choice_prompt(p, True)[0]) <= cfg.max_prompt_tokens
        assert abs(chars4(p.ctx_pos) - chars4(p.ctx_neg)) <= cfg.max_length_gap * max(chars4(p.ctx_pos),
                                                                                      chars4(p.ctx_neg))


def test_build_is_deterministic_and_reused(built, tmp_path):
    cfg, root, res, _ = built
    again = build_pairs(cfg, root, progress=False)
    assert again.cached and again.path == res.path and again.yield_table == res.yield_table
    fresh = build_pairs(cfg, tmp_path, progress=False, write_store=False)
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (res.path, fresh.path)]
    assert not fresh.cached and digest[0] == digest[1]
    other = build_pairs(pairs_config({**SMALL, "seed": 1}), tmp_path, progress=False, write_store=False)
    assert other.path != res.path


def test_store_rows_carry_diffs_and_every_rejection(built):
    from ctxbench.store.shards import read_table

    _, root, res, pairs = built
    prs = read_table(root, "pairs")
    assert sorted(prs["pair_id"]) == sorted(p.pair_id for p in pairs) and set(prs["build_id"]) == {res.build_id}
    first = prs.iloc[0]
    assert '"decisive_pos"' in first["diff_json"] and first["stage"] == "accepted"
    rej = read_table(root, "pair_rejections")
    assert len(rej) == res.n_rejections == sum(sum(r["rejected"].values()) for r in res.yield_table)
    assert set(rej["stage"]) == set(STAGES) and rej["reason"].notna().all()


def test_cli_pairs_build_prints_the_yield_per_stage(built, tmp_path, capsys):
    from ctxbench.cli import main

    rc = main(["--root", str(tmp_path), "pairs", "build", "--humaneval-limit", "6", "--tau2-domains", "airline",
               "--max-per-source", "4", "--quiet", "--no-ingest"])
    out = capsys.readouterr().out
    assert rc == 0
    for title in ("1 same program / task", "2 same function / tool sequence", "3 decisive region, different answers",
                  "4 masking and shortcut filters", "5 dedupe and caps"):
        assert title in out
    assert "length-disparity" in out and "overall:" in out and "held-out" in out


def test_config_is_strict():
    with pytest.raises(ConfigError, match="max_pairs"):
        pairs_config({"max_pair": 3})
    with pytest.raises(ConfigError, match="heldout_frac"):
        pairs_config({"heldout_frac": 1.5})
    with pytest.raises(ConfigError, match="tau2_domains"):
        pairs_config({"tau2_domains": ["telecom"]})


def test_a_rebuild_removes_what_a_killed_build_left(built, tmp_path):
    """A build killed while writing pairs.jsonl leaves its hidden temporary; the re-run's folder must be
    an uninterrupted run's (tests/faults/test_kill_points.py hit this at a seeded kill point)."""
    cfg, _root, res, _ = built
    out = tmp_path / "pairs" / res.path.parent.name
    out.mkdir(parents=True)
    left = out / ".pairs.jsonl.tmp-999999999-0a1b2c3d"  # above any pid_max: its writer is gone
    left.write_bytes(b"")
    again = build_pairs(cfg, tmp_path, progress=False, write_store=False)
    assert not again.cached and again.path.parent == out
    assert sorted(p.name for p in out.iterdir()) == ["pairs.jsonl", "yield.json"]
