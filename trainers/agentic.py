"""Multi-turn agentic rollouts for SWE tasks: the policy acts in the agent loop, the trajectory becomes
one token sequence whose loss mask covers the policy's own tokens only.

Why this shape (the paper's SkyRL mini-swe-agent generator; docs/agentic-rl.md):
- the rollout of a SWE item is ctxbench.envs.swe.agent.run_agent, the same loop `ctxbench swe-bench run`
  and SWE scoring in `run-ablation` use, in a sandboxed checkout of the instance's repository at its base
  commit, for at most `rollout.max_turns` turns of at most `rollout.max_new_tokens` tokens, no new turn
  once the trajectory holds `rollout.max_input_tokens` tokens, the paper's turn reminder on every
  observation, and `rollout.command_timeout_s` per command;
- the policy is the trainer's own model, sampled with the rollout settings through a KV cache that is
  kept across turns (each turn feeds only the new observation tokens);
- the trajectory is built token by token, never re-tokenized ("tokens in, tokens out"): the system and
  instance messages are the prompt, then per turn the generation prompt (mask 0), the sampled tokens up
  to and including EOS (mask 1, with their sampling log-probs recorded), the template's tokens after
  EOS (mask 0) and the observation as a user turn (mask 0). This is SkyRL's loss-mask layout
  (`get_response_ids_and_loss_mask_from_messages`); the pieces of the chat template are cut out with its
  "fixed base" method. A turn cut by the token limit gets the EOS the model did not emit, masked;
- the reward is the instance's verdict (ctxbench.envs.swe.reward): the official harness where Docker is
  present, else the tests run in the sandboxed checkout, `rollout.swe_reward`; the metrics record which.

GRPO then needs nothing new: the trajectories are Encoded rows whose completion mask is the loss mask,
so the group advantages, the clipped surrogate, the KL and the aggregation of trainers/grpo.py apply to
the policy tokens alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ctxbench.core.errors import CtxbenchError
from ctxbench.envs.swe.agent import AgentConfig, ContextLimitExceeded, checkout, run_agent
from ctxbench.envs.swe.reward import check_local_tests, local_verdict, reward_mode
from trainers.losses import token_entropy
from trainers.modeling import Encoded, left_pad, model_device, right_pad
from trainers.rollout import Rollouts, make_rollouts, sample_next

_BASE = [{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "I am a user."}]


class ChatPieces:
    """The chat template cut into the token pieces a trajectory is made of. With a template: the
    generation prompt is rendered through ctxbench.models.chat.apply_chat with the run's template
    settings (TrainConfig.template: thinking per family, so Qwen3 and Klear think in RL as SkyRL's
    generator does with the tokenizer's default template; an override file; the assistant prefix), and
    the turns around it by the same template text; without one (the tiny preset): the role-labelled
    transcript ctxbench's text backend writes ("system: ...\\n\\nuser: ...\\n\\nassistant:").

    Why the generation prompt alone goes through apply_chat: it is the only piece thinking changes (a
    Qwen3 template writes the empty think block there when thinking is off; a template without the
    switch gets the family's opener), and apply_chat renders only with the generation prompt on. The
    history pieces (the prompt, an observation turn, what follows EOS) are the same template rendered
    without it, and must be a prefix of apply_chat's text; a template for which they are not cannot be
    cut into turns and is an error."""

    def __init__(self, tok, template=None):
        from ctxbench.models.chat import TemplateConfig, family_of_owner, override_text

        self.tok = tok
        self.tpl = (template if template is not None else TemplateConfig(thinking="off")).for_family(
            family_of_owner(tok))
        self.chat_template = override_text(self.tpl.override) if self.tpl.override else \
            getattr(tok, "chat_template", None)
        self.templated = bool(self.chat_template)
        if self.templated:
            from ctxbench.models.chat import apply_chat

            base = self._text(_BASE)
            with_gen = apply_chat(tok, [dict(m) for m in _BASE], self.tpl) + self.tpl.prefix
            if not with_gen.startswith(base):
                raise CtxbenchError("agentic rollouts: the chat template's generation prompt does not extend the "
                                    "rendered conversation, so it cannot be cut into turns (template.override)")
            self.gen_prompt = self._ids(with_gen[len(base):])
            full = self._text(_BASE + [{"role": "assistant", "content": "x"}])
            eos = tok.eos_token or ""
            self.after_eos = self._ids(full[full.rfind(eos) + len(eos):]) if eos and eos in full else []
        else:
            self.gen_prompt, self.after_eos = self._ids("assistant:"), self._ids("\n\n")

    def _text(self, messages: list[dict]) -> str:
        """The conversation without a generation prompt, by the same template text apply_chat uses
        (`enable_thinking` passed where the template reads it, as apply_chat does)."""
        kw = {"enable_thinking": self.tpl.thinking == "on"} if "enable_thinking" in self.chat_template else {}
        return self.tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=False,
                                            chat_template=self.chat_template, **kw)

    def _ids(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"] if text else []

    def prompt(self, system: str, user: str) -> list[int]:
        if not self.templated:
            return self.tok(f"system: {system}\n\nuser: {user}\n\n", add_special_tokens=True)["input_ids"]
        return self._ids(self._text([{"role": "system", "content": system}, {"role": "user", "content": user}]))

    def user(self, content: str) -> list[int]:
        if not self.templated:
            return self._ids(f"user: {content}\n\n")
        base = self._text(_BASE)
        return self._ids(self._text(_BASE + [{"role": "user", "content": content}])[len(base):])


@dataclass
class Trajectory:
    """One rollout: the prompt, the response tokens after it, their loss mask, sampling log-probs and
    entropies (0 where the mask is 0)."""

    prompt: list[int]
    ids: list[int] = field(default_factory=list)
    mask: list[float] = field(default_factory=list)
    logps: list[float] = field(default_factory=list)
    entropy: list[float] = field(default_factory=list)

    def add(self, ids: list[int], policy: bool = False, logps=None, ents=None) -> None:
        self.ids += ids
        self.mask += [1.0 if policy else 0.0] * len(ids)
        self.logps += list(logps) if logps is not None else [0.0] * len(ids)
        self.entropy += list(ents) if ents is not None else [0.0] * len(ids)


class ModelPolicy:
    """Samples one trajectory's turns from the model, its KV cache kept across turns."""

    def __init__(self, model, generator: torch.Generator, temperature: float, top_p: float, top_k: int):
        self.model, self.gen = model, generator
        self.temperature, self.top_p, self.top_k = temperature, top_p, top_k
        self.cache, self.n, self.logits = None, 0, None

    @torch.no_grad()
    def feed(self, ids: list[int]) -> None:
        from transformers import DynamicCache

        if not ids:
            return
        dev = model_device(self.model)
        if self.cache is None:
            self.cache = DynamicCache(config=self.model.config)
        x = torch.tensor([ids], device=dev)
        pos = torch.arange(self.n, self.n + len(ids), device=dev)[None]
        out = self.model(input_ids=x, position_ids=pos, past_key_values=self.cache, use_cache=True, logits_to_keep=1)
        self.n += len(ids)
        self.logits = out.logits[:, -1].float()

    @torch.no_grad()
    def sample(self, pending: list[int], max_new: int, eos: int) -> tuple[list[int], list[float], list[float]]:
        """Feed `pending`, then sample up to `max_new` tokens (stopping after EOS): ids, log-probs, entropies."""
        self.feed(pending)
        ids, logps, ents = [], [], []
        for t in range(max_new):
            nxt = int(sample_next(self.logits, self.temperature, self.top_p, self.top_k, self.gen)[0])
            ids.append(nxt)
            logps.append(float(torch.log_softmax(self.logits[0], -1)[nxt]))
            ents.append(float(token_entropy(self.logits)[0]))
            if nxt == eos:
                break
            if t < max_new - 1:
                self.feed([nxt])
        return ids, logps, ents


class TrajectoryChat:
    """A ChatFn for run_agent that writes the conversation into a Trajectory as it goes. `policy` is a
    ModelPolicy or anything with the same `sample(pending, max_new, eos)` (a scripted test policy)."""

    def __init__(self, pieces: ChatPieces, policy, eos: int, max_new: int, max_input: int):
        self.pieces, self.policy, self.eos, self.max_new, self.max_input = pieces, policy, eos, max_new, max_input
        self.traj: Trajectory | None = None
        self.pending: list[int] = []
        self.seen = 0
        self.turns = 0

    def __call__(self, messages: list[dict]) -> str:
        if self.traj is None:
            self.traj = Trajectory(self.pieces.prompt(messages[0]["content"], messages[1]["content"]))
            self.pending, self.seen = list(self.traj.prompt), 2
        for m in messages[self.seen:]:  # the observations since the last turn, as user turns
            ids = self.pieces.user(m["content"])
            self.traj.add(ids)
            self.pending += ids
        self.seen = len(messages) + 1  # + the reply run_agent appends
        if len(self.traj.prompt) + len(self.traj.ids) >= self.max_input:
            raise ContextLimitExceeded(f"trajectory of {len(self.traj.prompt) + len(self.traj.ids)} tokens")
        self.traj.add(self.pieces.gen_prompt)
        ids, logps, ents = self.policy.sample(self.pending + self.pieces.gen_prompt, self.max_new, self.eos)
        self.traj.add(ids, policy=True, logps=logps, ents=ents)
        ended = bool(ids) and ids[-1] == self.eos
        tail = list(self.pieces.after_eos) if ended else [self.eos, *self.pieces.after_eos]
        self.traj.add(tail)
        self.pending = ids[-1:] + tail  # the policy has not fed its last sampled token yet
        self.turns += 1
        body = ids[:-1] if ids and ids[-1] == self.eos else ids
        return self.pieces.tok.decode(body, skip_special_tokens=True)


def harness_available() -> bool:
    from ctxbench.benchmarks.official.swe_bench import require_harness

    try:
        require_harness()
    except CtxbenchError:
        return False
    return True


def score_patch(prompt, patch: str, mode: str, agent: AgentConfig) -> tuple[float, str]:
    """(reward, how) for a submitted patch: the harness through the benchmark's own score, or local."""
    inst = prompt.env["instance"]
    if mode == "harness":
        return float(prompt.scorer(patch).score), "harness"
    return local_verdict(inst, patch, prompt.env["repos"], agent).reward, "local"


class MaskedEncoded(Encoded):
    """Encoded whose completion mask has holes (the observations): rows are trimmed at the last policy
    token, not at the mask's count."""

    def rows(self, idx: torch.Tensor) -> MaskedEncoded:
        m = self.completion_mask[idx]
        pos = torch.arange(m.shape[1])[None].expand_as(m)
        T = int(torch.where(m > 0, pos + 1, torch.zeros_like(pos)).max().clamp(min=1))
        return MaskedEncoded(self.prompt_ids, self.prompt_mask, self.group[idx], self.completion_ids[idx, :T],
                             self.completion_mask[idx, :T], self.vision)


@dataclass
class AgenticRollouts(Rollouts):
    metrics: dict = field(default_factory=dict)   # swe_* rollout metrics, merged into the step's


def agent_config(r) -> AgentConfig:
    """The agent loop as the rollout settings configure it (the paper's RL-time turn reminder on)."""
    return AgentConfig(step_limit=r.max_turns, command_timeout_s=r.command_timeout_s, turn_reminder=True)


def run_trajectories(model, tok, prompts: list, group_size: int, r, generator: torch.Generator,
                     policy_factory=None, template=None) -> tuple[list[Trajectory], list[float], dict]:
    """G agent-loop trajectories per prompt (rows of a prompt contiguous), their rewards and metrics.
    `template`: the run's TrainConfig.template (ChatPieces; None: thinking off)."""
    agent = agent_config(r)
    mode = reward_mode(r.swe_reward, harness_available(), any(p.env["instance"].get("ctxbench_generated")
                                                              for p in prompts))
    if mode == "local":
        for p in prompts:
            check_local_tests(p.env["instance"])
    window = getattr(getattr(model, "config", None), "max_position_embeddings", None) or r.max_input_tokens + r.max_new_tokens + 16
    max_input = min(r.max_input_tokens, window - r.max_new_tokens - 16)  # 16: the template glue of a turn
    pieces = ChatPieces(tok, template)
    trajs, rewards, turns, submitted, ctx_limit = [], [], [], 0, 0
    for p in prompts:
        inst = p.env["instance"]
        for _ in range(group_size):
            policy = (policy_factory or (lambda: ModelPolicy(model, generator, r.temperature, r.top_p, r.top_k)))()
            chat = TrajectoryChat(pieces, policy, tok.eos_token_id, r.max_new_tokens, max_input)
            with checkout(p.env["repos"], inst["repo"], inst["base_commit"]) as wt:
                res = run_agent(inst["problem_statement"], chat, wt, agent)
            reward, _how = score_patch(p, res.patch, mode, agent) if res.patch.strip() else (0.0, mode)
            trajs.append(chat.traj)
            rewards.append(reward)
            turns.append(chat.turns)
            submitted += res.exit_status == "submitted"
            ctx_limit += res.exit_status == "context_limit"
    n = max(len(trajs), 1)
    metrics = {"swe_turns": sum(turns) / n, "swe_submitted": submitted / n, "swe_context_limit": ctx_limit / n,
               "swe_reward_local": 1.0 if mode == "local" else 0.0,
               "swe_resolved": sum(rewards) / n, "swe_obs_tokens": sum(len(t.ids) - sum(t.mask) for t in trajs) / n}
    return trajs, rewards, metrics


def encode_trajectories(trajs: list[Trajectory], group_size: int, pad: int) -> tuple[MaskedEncoded, torch.Tensor]:
    """Trajectories (G per prompt, contiguous) as Encoded rows: one left-padded prompt per group, the
    response as the completion, the loss mask as its mask; plus the entropies [B, T]."""
    pids, pmask = left_pad([trajs[i].prompt for i in range(0, len(trajs), group_size)], pad)
    ids, _ = right_pad([t.ids for t in trajs], pad)
    T = ids.shape[1]
    mask = torch.tensor([t.mask + [0.0] * (T - len(t.mask)) for t in trajs])
    ent = torch.tensor([t.entropy + [0.0] * (T - len(t.entropy)) for t in trajs])
    group = torch.arange(len(trajs)) // group_size
    return MaskedEncoded(pids, pmask, group, ids, mask, None), ent


def _merge(parts: list[tuple[list[int], Rollouts]], n_prompts: int, group_size: int, pad: int) -> Rollouts:
    """Rollouts of disjoint prompt subsets (prompt indices, their rollouts) merged back into prompt order."""
    prompts_ids: list[list[int]] = [[] for _ in range(n_prompts)]
    rows: list[tuple] = [None] * (n_prompts * group_size)  # type: ignore[list-item]
    for idx, ro in parts:
        e = ro.enc
        for j, i in enumerate(idx):
            prompts_ids[i] = e.prompt_ids[j][e.prompt_mask[j].bool()].tolist()
        for b in range(e.group.shape[0]):
            i = idx[int(e.group[b])]
            k = i * group_size + b % group_size
            rows[k] = (e.completion_ids[b], e.completion_mask[b], ro.entropy[b] if ro.entropy is not None else None,
                       ro.texts[b], float(ro.rewards[b]))
    pids, pmask = left_pad(prompts_ids, pad)
    T = max(r[0].shape[0] for r in rows)

    def padded(t, value):
        return torch.cat([t.float(), torch.full((T - t.shape[0],), float(value))])

    ids = torch.stack([padded(r[0], pad) for r in rows]).long()
    mask = torch.stack([padded(r[1], 0) for r in rows])
    ent = torch.stack([padded(r[2] if r[2] is not None else torch.zeros(0), 0) for r in rows])
    group = torch.arange(len(rows)) // group_size
    return Rollouts(MaskedEncoded(pids, pmask, group, ids, mask, None), [r[3] for r in rows],
                    torch.tensor([r[4] for r in rows]), group.tolist(), ent)


def agentic_rollouts(trainer, prompts: list, generator: torch.Generator) -> Rollouts:
    """The step's rollouts when some prompts are SWE tasks: the agent loop for those, the single-turn
    sampler for the rest (DA-RL's pair prompts), merged back into prompt order."""
    cfg, G = trainer.cfg, trainer.cfg.rollout.group_size
    if trainer.io is not None:
        raise CtxbenchError("agentic (SWE) rollouts need a text policy; this run trains a vision-language model")
    swe = [i for i, p in enumerate(prompts) if p.env is not None]
    rest = [i for i, p in enumerate(prompts) if p.env is None]
    trajs, rewards, metrics = run_trajectories(trainer.model, trainer.tok, [prompts[i] for i in swe], G,
                                               cfg.rollout, generator, template=cfg.template)
    enc, ent = encode_trajectories(trajs, G, trainer.pad)
    ro = AgenticRollouts(enc, [""] * len(trajs), torch.tensor(rewards), [i for i in swe for _ in range(G)], ent,
                         metrics=metrics)
    if not rest:
        return ro
    r = cfg.rollout
    single = make_rollouts(trainer.model, trainer.tok, [prompts[i] for i in rest],
                           [trainer.prompt_ids(prompts[i]) for i in rest], G, r.max_new_tokens, generator=generator,
                           temperature=r.temperature, top_p=r.top_p, top_k=r.top_k, pad=trainer.pad)
    merged = _merge([(swe, ro), (rest, single)], len(prompts), G, trainer.pad)
    return AgenticRollouts(merged.enc, merged.texts, merged.rewards, merged.prompt_of_row, merged.entropy,
                           metrics=metrics)


__all__ = ["AgenticRollouts", "ChatPieces", "MaskedEncoded", "ModelPolicy", "Trajectory", "TrajectoryChat",
           "agent_config", "agentic_rollouts", "encode_trajectories", "run_trajectories", "score_patch"]
