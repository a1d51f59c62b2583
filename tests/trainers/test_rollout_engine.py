"""`rollout.engine`: the option, the missing-vLLM error, and the one hook through which train_step samples.

Runs in the main virtualenv (no vLLM). The engine here is a fake with the real engine's interface
(trainers.vllm_rollout.VLLMRollout: `sample`, `sync_weights`): a private copy of the policy, synced by
load_state_dict, sampling with the hf sampler from the seed it is handed. Through the hook it must give
the hf engine's run bit for bit (the seed reaches it, it samples from synced weights, its rows feed the
loss); a copy that is never synced must not. vLLM itself is tested in tests/vllm_lane/.
"""

from __future__ import annotations

import copy
import importlib.util
from types import SimpleNamespace

import pytest
import torch
from toy import BENCHES, base_cfg, max_weight_diff, toy_pairs

from ctxbench.core.errors import ConfigError, CtxbenchError
from ctxbench.pairs import save_pairs
from trainers.config import make_config
from trainers.grpo import Trainer
from trainers.modeling import left_pad, load_policy
from trainers.rollout import make_rollouts, sample
from trainers.vllm_rollout import make_engine, prompt_seeds, rows_from_outputs, sampling_kwargs

HAS_VLLM = importlib.util.find_spec("vllm") is not None


@pytest.fixture(scope="module")
def pairs_path(tmp_path_factory):
    return save_pairs(tmp_path_factory.mktemp("pairs") / "pairs.jsonl", toy_pairs(16))


# ------------------------------------------------------------------------------------------ option


def test_engine_option_validates():
    assert make_config().rollout.engine == "hf"  # the default: nothing else changes
    assert make_config({"rollout": {"engine": "vllm"}}).rollout.engine == "vllm"
    with pytest.raises(ConfigError, match="rollout.engine") as e:
        make_config({"rollout": {"engine": "vlm"}})
    assert "vllm" in str(e.value) and "\n" not in str(e.value)


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here: tests/vllm_lane runs the engine")
def test_vllm_engine_without_vllm_is_one_line_error(tmp_path, pairs_path):
    cfg = base_cfg(pairs_path, rollout={"engine": "vllm"}, max_steps=1, warmup={"enabled": True})
    t = Trainer(cfg, tmp_path, BENCHES)
    with pytest.raises(CtxbenchError) as e:
        t.setup()
    msg = str(e.value)
    assert "rollout.engine = 'vllm' needs vLLM" in msg and "rollout.engine = 'hf'" in msg and "\n" not in msg
    assert not (tmp_path / "warmup").exists()  # it fails before the warm-up stage, not after it


# ------------------------------------------------------------------------------- pure mappings


def test_sampling_kwargs_match_the_hf_sampler():
    kw = sampling_kwargs(4, 16, temperature=1.0, top_p=0.9, top_k=0, seed=7, eos_id=3)
    assert kw["n"] == 4 and kw["max_tokens"] == 16 and kw["top_p"] == 0.9
    assert kw["top_k"] == -1 and kw["seed"] == 7  # top_k 0 (off) is vLLM's -1
    assert kw["stop_token_ids"] == [3] and kw["logprobs"] == 0 and kw["detokenize"] is False
    greedy = sampling_kwargs(1, 8, temperature=0.0, top_p=0.5, top_k=5, seed=7, eos_id=3)
    assert greedy["temperature"] == 0.0 and greedy["seed"] is None and greedy["top_k"] == -1
    assert len(set(prompt_seeds(2**63 - 2, 5))) == 5  # one distinct seed per prompt, in range


def _out(*samples):
    """A fake vllm RequestOutput: samples of (token ids, log-probs), vLLM's Logprob objects per position."""
    outs = [SimpleNamespace(index=i, token_ids=ids,
                            logprobs=[{t: SimpleNamespace(logprob=lp)} for t, lp in zip(ids, lps)])
            for i, (ids, lps) in enumerate(samples)]
    return SimpleNamespace(outputs=list(reversed(outs)))  # vLLM's order is not relied on: sorted by index


def test_rows_from_outputs_is_the_hf_layout():
    ids, mask, logp = rows_from_outputs([_out(([5, 6, 0], [-0.1, -0.2, -0.3]), ([7], [-1.0])),
                                         _out(([8, 9], [-0.5, -0.6]), ([], []))], group_size=2, pad_id=0)
    assert ids.tolist() == [[5, 6, 0], [7, 0, 0], [8, 9, 0], [0, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0], [1, 1, 0], [0, 0, 0]]
    assert logp[0].tolist() == pytest.approx([-0.1, -0.2, -0.3]) and float(logp[3].abs().sum()) == 0
    with pytest.raises(CtxbenchError, match="expected 3"):
        rows_from_outputs([_out(([5], [-0.1]))], group_size=3, pad_id=0)


# --------------------------------------------------------------------------------------- the hook


class CopyEngine:
    """The rollout engine's interface over a private copy of the policy (what vLLM holds, in miniature)."""

    def __init__(self, policy, eos_id: int, pad_id: int, sync: bool = True):
        self.model, self.eos_id, self.pad_id, self.sync = copy.deepcopy(policy), eos_id, pad_id, sync
        self.syncs = 0

    def sync_weights(self, policy) -> None:
        self.syncs += 1
        if self.sync:
            self.model.load_state_dict(policy.state_dict())

    def sample(self, prompt_token_ids, group_size, max_new_tokens, *, temperature, top_p=1.0, top_k=0, seed=0):
        from trainers.modeling import completion_logprobs

        pids, pmask = left_pad(prompt_token_ids, self.pad_id)
        ids, mask = sample(self.model, pids, pmask, group_size, max_new_tokens, eos_id=self.eos_id,
                           pad_id=self.pad_id, generator=torch.Generator().manual_seed(seed),
                           temperature=temperature, top_p=top_p, top_k=top_k)
        group = torch.arange(len(prompt_token_ids)).repeat_interleave(group_size)
        with torch.no_grad():
            logp, _ = completion_logprobs(self.model, pids, pmask, group, ids)
        return ids, mask, logp


class Scripted:
    """An engine that returns fixed rows: make_rollouts must use them and never touch the model."""

    def __init__(self, ids, mask, logp):
        self.rows, self.calls = (ids, mask, logp), []

    def sample(self, prompt_token_ids, group_size, max_new_tokens, **kw):
        self.calls.append((prompt_token_ids, group_size, max_new_tokens, kw))
        return self.rows


def test_make_rollouts_dispatches_to_the_engine(tiny_ckpt):
    _, tok = load_policy(tiny_ckpt)
    seven = tok("7", add_special_tokens=False)["input_ids"]
    items = BENCHES["toy-copy"].load(None, limit=2)
    prompts = [SimpleNamespace(stop=(), scorer=lambda c, it=it: BENCHES["toy-copy"].score(it, c)) for it in items]
    rows = [seven + [tok.eos_token_id], seven, seven, seven]
    ids = torch.tensor([r + [tok.eos_token_id] * (max(map(len, rows)) - len(r)) for r in rows])
    mask = torch.tensor([[1.0] * len(r) + [0.0] * (ids.shape[1] - len(r)) for r in rows])
    logp = -torch.rand(ids.shape)
    eng = Scripted(ids, mask, logp)
    gen = torch.Generator().manual_seed(1234)
    ro = make_rollouts(None, tok, prompts, [[1, 2, 3], [4, 5]], 2, 4, generator=gen, temperature=1.0, top_p=0.9,
                       top_k=0, pad=tok.eos_token_id, engine=eng)  # model None: the engine alone samples
    assert eng.calls == [([[1, 2, 3], [4, 5]], 2, 4, {"temperature": 1.0, "top_p": 0.9, "top_k": 0, "seed": 1234})]
    assert torch.equal(ro.enc.completion_ids, ids) and ro.texts == ["7"] * 4
    assert ro.rewards.tolist() == [float(it.answer == "7") for it in items for _ in range(2)]
    assert torch.equal(ro.sample_logprobs, logp * mask) and torch.equal(ro.entropy, -logp * mask)


def test_make_engine_is_none_for_hf():
    assert make_engine(SimpleNamespace(cfg=make_config())) is None


def _run(cfg, root, engine=None):
    t = Trainer(cfg, root, BENCHES)
    t.setup("never")
    if engine is not None:
        t.rollout_engine = engine(t)
    return t, t.run()


def test_train_step_samples_through_the_hook_and_syncs_every_update(tmp_path, pairs_path):
    # a KL term makes every sampled token move the weights (the toy reward is ~0 from a random init)
    cfg = base_cfg(pairs_path, objective={"name": "contextrl"}, max_steps=3, ppo_mini_batches=2,
                   loss={"kl_coef": 0.05})
    _, hf = _run(cfg, tmp_path / "hf")
    t, synced = _run(cfg, tmp_path / "copy", lambda t: CopyEngine(t.model, t.tok.eos_token_id, t.pad))
    _, stale = _run(cfg, tmp_path / "stale", lambda t: CopyEngine(t.model, t.tok.eos_token_id, t.pad, sync=False))
    assert t.rollout_engine.syncs == 3 * 2  # after every optimizer step
    assert max_weight_diff(hf.ckpt_dir, synced.ckpt_dir) == 0.0  # same seed, same weights: the hf run
    assert [m["reward_mean"] for m in hf.metrics] == [m["reward_mean"] for m in synced.metrics]
    assert max_weight_diff(hf.ckpt_dir, stale.ckpt_dir) > 0  # without the sync the rollouts go stale
