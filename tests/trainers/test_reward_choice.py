"""The task reward is one function per run, named in the config: semantic (default) or official."""

from __future__ import annotations

import pytest

from ctxbench.benchmarks.base import Item, Score, text
from ctxbench.core.errors import ConfigError, DataError
from trainers.config import make_config
from trainers.data import reward_fn


class _Bench:
    name, version, official_scorer = "x", "1", ""

    def score(self, item, c):
        return Score(c, c == item.answer, float(c == item.answer), True)


class _Official(_Bench):
    official_scorer = "toy: exact, upper case only"

    def verdicts(self, item, c):
        from ctxbench.benchmarks.base import Verdicts

        ok = c == item.answer.upper()
        return Verdicts(self.score(item, c), Score(c, ok, float(ok), True), "official")


ITEM = Item("i", (text("q"),), "abc")


def test_semantic_is_the_default_and_official_reads_the_official_verdict():
    assert make_config({}).data.reward == "semantic"
    assert reward_fn(_Official(), ITEM)("abc").score == 1.0
    assert reward_fn(_Official(), ITEM, "official")("abc").score == 0.0
    assert reward_fn(_Official(), ITEM, "official")("ABC").score == 1.0


def test_official_reward_needs_an_official_scorer_and_a_known_name():
    with pytest.raises(DataError, match="no official scorer"):
        reward_fn(_Bench(), ITEM, "official")
    with pytest.raises(ConfigError, match="reward"):
        make_config({"data": {"reward": "oficial"}})
