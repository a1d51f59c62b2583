"""The notes pair domain (the default ablation's pairs): minimal perturbations, seeded, split by source,
built through the same entry point and files as the other domains."""

from __future__ import annotations

import pytest

from ctxbench.core.config import ConfigError
from ctxbench.pairs import load_pairs
from ctxbench.pairs.domains import build_pairs, pairs_config
from ctxbench.pairs.filters import Ledger
from ctxbench.pairs.notes import NOTES_STAGES, NOTES_TITLES, NotesPairsConfig, generate


def _gen(**kw):
    return generate(NotesPairsConfig(**kw), Ledger(stages=NOTES_STAGES, titles=dict(NOTES_TITLES)))


def test_one_note_pairs_differ_in_the_value_only_and_the_answer_is_in_c_plus_only():
    pairs = _gen(max_pairs=200)
    assert len(pairs) == 200 and len({p.pair_id for p in pairs}) == 200
    for p in pairs:
        name = p.meta["asked"]
        assert p.query == f"what is {name}?"
        assert p.ctx_pos == f"{name} = {p.answer}." and p.ctx_neg == f"{name} = {p.meta['neg_answer']}."
        assert p.answer not in p.ctx_neg and p.meta["neg_answer"] != p.answer


def test_multi_note_contexts_share_every_line_but_the_asked_one():
    for p in _gen(max_pairs=50, n_notes=3):
        pos, neg = p.ctx_pos.splitlines(), p.ctx_neg.splitlines()
        assert len(pos) == len(neg) == 3
        assert sum(a != b for a, b in zip(pos, neg)) == 1


def test_seeded_split_by_source_and_capped_by_what_exists():
    a, b = _gen(max_pairs=300), _gen(max_pairs=300)
    assert [p.pair_id for p in a] == [p.pair_id for p in b] and [p.split for p in a] == [p.split for p in b]
    assert {p.split for p in a} == {"train", "test"}
    assert 0.15 < sum(p.split == "test" for p in a) / len(a) < 0.45
    assert [p.ctx_pos for p in _gen(max_pairs=50, seed=1)] != [p.ctx_pos for p in a[:50]]
    ledger = Ledger(stages=NOTES_STAGES, titles=dict(NOTES_TITLES))
    every = generate(NotesPairsConfig(max_pairs=5000), ledger)
    assert len(every) == 8 * 10 * 9  # names x answer x other value: every distinct one-note pair
    assert ledger.notes and "only 720" in ledger.notes[0]


def test_built_through_the_domain_entry_point_and_reused(tmp_path):
    cfg = pairs_config({"domain": "notes", "max_pairs": 60})
    assert isinstance(cfg, NotesPairsConfig)
    res = build_pairs(cfg, tmp_path, progress=False, write_store=False)
    assert res.n_train + res.n_test == 60 and not res.cached
    assert len(load_pairs(res.path)) == 60
    again = build_pairs(cfg, tmp_path, progress=False, write_store=False)
    assert again.cached and again.path == res.path


def test_bad_config_is_rejected():
    with pytest.raises(ConfigError, match="max_per_source"):
        pairs_config({"domain": "notes", "max_per_source": 2})
    with pytest.raises(ConfigError, match="n_notes"):
        pairs_config({"domain": "notes", "n_notes": 0})
