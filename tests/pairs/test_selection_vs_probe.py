"""The trainer's context-selection measurement and the probe's, on the same model and pairs: how they relate.

They ask the same A/B question (`choice_parts`) and decide the same way (`pick_letter`: the higher score,
ties to A), but score the letters differently, and this pins exactly how:

- the trainer (ChoiceScorer, behind ContextRL's loss and its `ca_select_acc`) scores a letter by its
  largest last-position logit among its single-token spellings (" A" and "A");
- the probe (the harness's choice mode) scores a letter by the log-probability of the option as a
  continuation of the rendered prompt: " A" here, one token, at that same position.

So the probe's score of a letter is the trainer's logit of the " A" spelling minus the log-normaliser,
which is the same for both letters: restricted to that spelling, the trainer's picks and the probe's
are the same picks, and its accuracy is the probe's accuracy. With both spellings (what training
uses) they differ only on items where the other spelling has the larger logit.
"""

from __future__ import annotations

import pytest

from ctxbench.eval.config import EvalConfig
from ctxbench.pairs.base import LETTERS, Pair, choice_parts, pick_letter, save_pairs, score_choice


def held_out_pairs(n: int = 8) -> list[Pair]:
    out = []
    for k in range(n):
        a, b = 10 + k, 60 + k
        out.append(Pair(f"sel-{k}", "toy", "test", f"toy/{k}", f"what is v{k}?", str(a),
                        f"v{k} = {a}.", f"v{k} = {b}.", {"neg_answer": str(b)}))
    return out


@pytest.fixture(scope="module")
def measured(tmp_path_factory, tiny_ckpt):
    """Both measurements on the tiny policy: the probe through the real harness, the trainer's scores."""
    import torch

    from ctxbench.commands.probe import probe_rows, run_probe
    from ctxbench.models.hf.text import HFBackend
    from trainers.modeling import encode, last_logits, left_pad, load_policy, pad_id, render
    from trainers.objectives import ChoiceScorer

    tmp = tmp_path_factory.mktemp("selection")
    pairs = held_out_pairs()
    path = save_pairs(tmp / "pairs.jsonl", pairs)
    model, tok = load_policy(tiny_ckpt)
    backend = HFBackend(model, tok, identity="tiny-selection-test", max_context=2048, batch_size=4)
    cfg = EvalConfig(model="tiny", benchmarks=("probe",), data={"probe": str(path)}, scoring="choice")
    report, summary = run_probe(cfg, tmp / "runs", backend=backend, progress=False, ingest=False)
    rows = {r["item_id"]: r for r in probe_rows(cfg, tmp / "runs", backend, report.run_id)}

    draws = [(p, pos_first) for p in pairs for pos_first in (True, False)]  # the probe's item order
    scorer = ChoiceScorer(tok)
    with torch.no_grad():
        scores = scorer.letter_scores(model, draws).tolist()
        texts = [choice_parts(p, pf)[0][0]["value"] for p, pf in draws]
        ids, mask = left_pad([encode(tok, render(tok, t)) for t in texts], pad_id(tok))
        logits = last_logits(model, ids, mask).float()
    spaced = [tok(f" {L}", add_special_tokens=False)["input_ids"] for L in LETTERS]
    assert all(len(s) == 1 for s in spaced)  # " A" is one token: the probe scores one position
    return {"draws": draws, "rows": rows, "summary": summary, "scorer": scorer, "model": model,
            "backend": backend, "scores": scores, "logits": logits, "logp": torch.log_softmax(logits, dim=-1),
            "spaced": [s[0] for s in spaced]}


def item_id(draw) -> str:
    pair, pos_first = draw
    return f"{pair.pair_id}#{'pos-first' if pos_first else 'pos-second'}"


def probe_logprobs(m, draw) -> list[float]:
    """What the harness scores for one probe item: each option as a continuation of the rendered prompt."""
    from ctxbench.eval.harness import choice_continuations
    from ctxbench.models.base import Prompt

    parts, _ = choice_parts(*draw)
    prompt = Prompt(tuple(parts))
    return m["backend"].score_continuations(prompt, choice_continuations(m["backend"].render(prompt), LETTERS))


def test_the_probe_scores_the_spaced_letter_at_the_position_the_trainer_reads(measured):
    m = measured
    for i, draw in enumerate(m["draws"]):
        lps = probe_logprobs(m, draw)
        assert lps == pytest.approx([float(m["logp"][i, t]) for t in m["spaced"]], abs=1e-4)
        assert m["rows"][item_id(draw)]["extracted"] == pick_letter(lps)  # the harness decides as pick_letter


def test_on_the_probes_spelling_the_trainer_and_the_probe_pick_alike(measured):
    m = measured
    restricted = [pick_letter([float(m["logp"][i, t]) for t in m["spaced"]]) for i in range(len(m["draws"]))]
    assert restricted == [m["rows"][item_id(d)]["extracted"] for d in m["draws"]]
    correct = [score_choice(pick, choice_parts(*d)[1]).correct for pick, d in zip(restricted, m["draws"])]
    assert sum(correct) / len(correct) == m["summary"].accuracy


def test_with_both_spellings_they_differ_only_where_the_other_spelling_wins(measured):
    """The trainer's letter score is the max over a set of spellings that holds the probe's, so it is never
    below the probe's logit, and the two pick alike wherever the probe's spelling is the max for both
    letters. (On the random-init tiny policy the unspaced "B" has the largest logit almost everywhere, so
    there the trainer picks B throughout while the probe mostly picks A: the same question, scored on
    different tokens.) `ca_select_acc` is the accuracy of the trainer's picks."""
    from trainers.losses import context_selection_loss

    m = measured
    picks = m["scorer"].picks(m["model"], m["draws"])
    assert picks == [pick_letter(s) for s in m["scores"]]
    for i, (pick, draw) in enumerate(zip(picks, m["draws"])):
        spaced = [float(m["logits"][i, t]) for t in m["spaced"]]
        assert all(m["scores"][i][j] >= spaced[j] - 1e-5 for j in range(len(LETTERS)))
        if m["scores"][i] == pytest.approx(spaced, abs=1e-5):
            assert pick == m["rows"][item_id(draw)]["extracted"]
    margins = m["scorer"].margins(m["model"], m["draws"]).detach()
    correct = [score_choice(p, choice_parts(*d)[1]).correct for p, d in zip(picks, m["draws"])]
    assert bool((margins != 0).all())  # no ties, where `margin > 0` and the pick rule (ties to A) would differ
    assert context_selection_loss(margins)[1]["ca_select_acc"] == pytest.approx(sum(correct) / len(correct))


def test_pick_letter_is_argmax_with_ties_to_a():
    assert pick_letter([0.1, 0.2]) == "B" and pick_letter([0.2, 0.1]) == "A" and pick_letter([0.5, 0.5]) == "A"
    assert pick_letter([-1.0, -3.0, 0.0], letters="ABC") == "C"
    with pytest.raises(ValueError, match="one score per letter"):
        pick_letter([1.0])
