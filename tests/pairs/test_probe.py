"""The context probe: items in both A/B orders with split-safe groups, pair sources (data path, env var),
whole-pair limits, and scoring through the real harness with scripted backends whose accuracy and
position bias are known in advance."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from ctxbench.benchmarks import get_benchmark
from ctxbench.benchmarks.base import LoadContext, split_of
from ctxbench.commands.probe import run_probe
from ctxbench.core.errors import DataError
from ctxbench.eval.config import EvalConfig
from ctxbench.models.base import Completion, Prompt
from ctxbench.pairs.base import Pair, choice_prompt, save_pairs
from ctxbench.pairs.common import split_for
from ctxbench.pairs.probe import ENV, Probe, probe_items, summarize


def sources(split: str, n: int) -> list[str]:
    """n source names that the 0.3 hold-out rule puts in `split`."""
    out = [f"HumanEval/{i}" for i in range(400) if split_for(f"HumanEval/{i}", 0.3) == split]
    return out[:n]


def make_pairs(n_test: int = 6, n_train: int = 3) -> list[Pair]:
    out = []
    for split, srcs in (("test", sources("test", n_test)), ("train", sources("train", n_train))):
        for k, src in enumerate(srcs):
            v = 40 + k
            pos = f"[step 1] call f(n={k})\n[step 2] line 2 in f: y={v}\n[step 3] return from f: {v}"
            neg = f"[step 1] call f(n={k})\n[step 2] line 2 in f: y={v + 50}\n[step 3] return from f: {v + 50}"
            out.append(Pair(f"p-{split}-{k}", "trajectory", split, src, "What value did the traced call of `f` "
                            "return?", str(v), pos, neg, {"neg_source": src, "kind": "return", "origin": "mutant",
                                                          "neg_answer": str(v + 50), "diff": {"pos": [[1, 3]]}}))
    return out


@pytest.fixture
def pairs_file(tmp_path):
    return save_pairs(tmp_path / "pairs.jsonl", make_pairs())


def test_registered_as_a_choice_benchmark():
    b = get_benchmark("probe")
    assert isinstance(b, Probe) and (b.family, b.source, b.gen.mode) == ("probe", "generated", "choice")


def test_items_come_in_both_orders_with_the_pairs_source_as_group():
    pairs = make_pairs()
    items = probe_items(pairs[:2])
    assert [it.item_id for it in items] == ["p-test-0#pos-first", "p-test-0#pos-second",
                                            "p-test-1#pos-first", "p-test-1#pos-second"]
    assert [it.answer for it in items] == ["A", "B", "A", "B"] and all(it.choices == ("A", "B") for it in items)
    assert items[0].prompt_text() == choice_prompt(pairs[0], True)[0]
    assert items[1].prompt_text() == choice_prompt(pairs[0], False)[0]
    assert items[0].prompt_text().index(pairs[0].ctx_pos) < items[0].prompt_text().index(pairs[0].ctx_neg)
    assert items[1].prompt_text().index(pairs[0].ctx_neg) < items[1].prompt_text().index(pairs[0].ctx_pos)
    m = items[1].meta
    assert (m["group"], m["pair_id"], m["order"], m["diff"]) == (pairs[0].source, "p-test-0", "pos-second",
                                                                 {"pos": [[1, 3]]})
    assert all(split_of(it) == "test" for it in items)  # eval --split test keeps every held-out pair


def test_load_takes_held_out_pairs_whole_and_from_the_env(pairs_file, monkeypatch):
    b = Probe()
    items = b.load(LoadContext(data_path=str(pairs_file)))
    assert len(items) == 12 and all(it.item_id.startswith("p-test-") for it in items)
    some = b.load(LoadContext(data_path=str(pairs_file)), limit=5)
    assert [it.item_id for it in some] == ["p-test-0#pos-first", "p-test-0#pos-second",
                                           "p-test-3#pos-first", "p-test-3#pos-second"]
    monkeypatch.setenv(ENV, str(pairs_file))
    assert [it.item_id for it in Probe().load(LoadContext())] == [it.item_id for it in items]
    assert Probe().data_status().available
    tiny = Probe().load(LoadContext(max_context_tokens=40))
    assert tiny == [] and len(Probe().load(LoadContext())) == 12


def test_a_file_without_held_out_pairs_is_a_clear_error(tmp_path):
    path = save_pairs(tmp_path / "train-only.jsonl", [p for p in make_pairs() if p.split == "train"])
    with pytest.raises(DataError, match="no held-out pairs"):
        Probe().load(LoadContext(data_path=str(path)))


@dataclass
class Chooser:
    """A scripted backend that picks a letter by a rule: 'oracle' picks the context whose return line
    shows the answer, 'always-a' always picks A, 'contrarian' picks the other one."""

    rule: str
    identity: str = ""
    name: str = "chooser"
    max_context_tokens: int = 2048

    def __post_init__(self):
        self.identity = f"chooser-{self.rule}"

    def count_tokens(self, s: str) -> int:
        return max(1, len(s) // 4)

    def render(self, prompt: Prompt) -> str:
        return "".join(p["value"] for p in prompt.parts if p["type"] == "text") + prompt.prefill

    def _letter(self, text: str) -> str:
        if self.rule == "always-a":
            return "A"
        answer = re.search(r"^Answer: (.*)$", text, re.MULTILINE).group(1)
        a = text.split("Context A:\n", 1)[1].split("Context B:\n", 1)[0]
        right = "A" if f"return from f: {answer}\n" in a + "\n" else "B"
        return right if self.rule == "oracle" else {"A": "B", "B": "A"}[right]

    def score_continuations(self, prompt, continuations):
        want = self._letter(self.render(prompt))
        return [0.0 if c.strip() == want else -3.0 for c in continuations]

    def generate(self, prompts, cfg):
        return [[Completion(f" {self._letter(self.render(p))}", 1, 1, "stop")] for p in prompts]


@pytest.mark.parametrize("rule,acc,first,second,bias,pair_acc", [
    ("oracle", 1.0, 1.0, 1.0, 0.0, 1.0),
    ("always-a", 0.5, 1.0, 0.0, 1.0, 0.0),
    ("contrarian", 0.0, 0.0, 0.0, 0.0, 0.0),
])
@pytest.mark.parametrize("scoring", ["choice", "generate"])
def test_probe_scores_through_the_harness(pairs_file, root, rule, acc, first, second, bias, pair_acc, scoring):
    cfg = EvalConfig(model="scripted", benchmarks=("probe",), data={"probe": str(pairs_file)}, scoring=scoring,
                     batch_size=4)
    report, s = run_probe(cfg, root, backend=Chooser(rule), progress=False, ingest=False)
    assert report.results[0].n == s.n == 12 and s.n_first == s.n_second == 6 and s.n_pairs_both == 6
    assert (s.accuracy, s.acc_first, s.acc_second, s.position_bias, s.pair_accuracy) == (acc, first, second, bias,
                                                                                         pair_acc)
    assert report.results[0].accuracy == acc
    assert "position bias" in s.table()


def test_probe_limit_and_resume_keep_the_summary_to_the_scored_items(pairs_file, root):
    cfg = EvalConfig(model="scripted", benchmarks=("probe",), data={"probe": str(pairs_file)}, limit=4)
    _, s = run_probe(cfg, root, backend=Chooser("always-a"), progress=False, ingest=False)
    assert (s.n, s.n_pairs_both, s.picks_a) == (4, 2, 1.0)
    full = EvalConfig(model="scripted", benchmarks=("probe",), data={"probe": str(pairs_file)})
    report, s = run_probe(full, root, backend=Chooser("always-a"), progress=False, ingest=False)
    assert s.n == 12 and report.results[0].computed == 8  # the 4 items already scored are reused


def test_summarize_golden():
    rows = [{"item_id": "a#pos-first", "extracted": "A", "correct": True},
            {"item_id": "a#pos-second", "extracted": "A", "correct": False},
            {"item_id": "b#pos-first", "extracted": "A", "correct": True},
            {"item_id": "b#pos-second", "extracted": "B", "correct": True},
            {"item_id": "c#pos-first", "extracted": None, "correct": False}]
    s = summarize(rows)
    assert (s.n, s.accuracy, s.acc_first, s.acc_second, s.picks_a) == (5, 0.6, 2 / 3, 0.5, 0.6)
    assert s.position_bias == pytest.approx(2 / 3 - 0.5) and (s.n_pairs_both, s.pair_accuracy) == (2, 0.5)
