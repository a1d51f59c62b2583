"""Replay the gold tool calls of tau2-bench tasks against the packaged database.

Why: a tau2 task's `evaluation_criteria.actions` is the sequence of tool calls a correct agent
makes (name + arguments). Executing them, in order, on a fresh copy of the domain's db.json with
faithful tool implementations (ctxbench.envs.tau2.airline / ctxbench.envs.tau2.retail) gives the results the
agent would have seen: a real tool-use trajectory with no LLM in the loop. `tool-trace` asks
questions about these logs, and the pair builders use them for contrastive trajectories.

    from ctxbench.envs.tau2.replay import replay, load_tasks
    steps = replay("airline", load_tasks("airline")[12])
    steps[0]  # ToolStep(name='get_user_details', arguments={...}, result={...}, error=None, ...)

Each replay starts from the pristine database; state-changing calls mutate copy-on-write records
private to that replay, and every step's `result` is a snapshot taken right after the call (a later
step never changes an earlier result). A failing call is recorded as tau2 shows it to the agent:
`result = "Error: <message>"`, `error = <message>`. Every tool the packaged tasks' gold actions use
is implemented (25 tools over the two domains; `UNSUPPORTED` is empty and tests keep it so); a gold
action naming a tool not listed in a domain's toolkit is recorded with `error="unsupported: ..."`.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from ctxbench.core.errors import DataError
from ctxbench.envs.tau2.tools import ToolError, Toolkit
from ctxbench.sources.assets import tau2_domain_dir

DOMAINS = ("airline", "retail")

# Tools that appear in gold actions but are not replayed, with the reason. Empty: all are faithful.
UNSUPPORTED: dict[str, str] = {}


@dataclass(frozen=True)
class ToolStep:
    """One executed tool call. `result` is JSON-able (dict, list or str); `index` is 0-based."""

    name: str
    arguments: dict[str, Any]
    result: Any
    error: str | None = None
    index: int = 0
    action_id: str | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    def result_json(self) -> str:
        """The result as the agent reads it: compact JSON for records, the plain string otherwise."""
        if isinstance(self.result, str):
            return self.result
        return json.dumps(self.result, ensure_ascii=False, separators=(",", ":"))


def _read_json(domain: str, name: str):
    path = tau2_domain_dir(domain) / name
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: line {e.lineno}: invalid JSON ({e.msg}); reinstall the tau2 package") from None


@cache
def _db(domain: str) -> dict:
    db = _read_json(domain, "db.json")
    want = {"airline": ("flights", "users", "reservations"), "retail": ("products", "users", "orders")}[domain]
    missing = [k for k in want if k not in db]
    if missing:
        raise DataError(f"{tau2_domain_dir(domain) / 'db.json'}: missing top-level keys {missing}")
    return db


@cache
def _tasks(domain: str) -> tuple:
    tasks = _read_json(domain, "tasks.json")
    if not isinstance(tasks, list):
        raise DataError(f"{tau2_domain_dir(domain) / 'tasks.json'}: expected a JSON list of tasks")
    return tuple(tasks)


def load_tasks(domain: str) -> list[dict]:
    """The domain's tasks (tasks.json), as parsed dicts, in file order."""
    if domain not in DOMAINS:
        raise DataError(f"unknown tau2 domain {domain!r}; valid: {', '.join(DOMAINS)}")
    return [copy.deepcopy(t) for t in _tasks(domain)]


def gold_actions(task: dict) -> list[dict]:
    """`evaluation_criteria.actions` of a task ([] when the task has none), each {name, arguments}."""
    return list(((task.get("evaluation_criteria") or {}).get("actions")) or [])


def toolkit(domain: str) -> Toolkit:
    """A fresh toolkit over a pristine (copy-on-write) view of the domain's database."""
    if domain == "airline":
        from ctxbench.envs.tau2.airline import AirlineTools

        return AirlineTools(_db(domain))
    if domain == "retail":
        from ctxbench.envs.tau2.retail import RetailTools

        return RetailTools(_db(domain))
    raise DataError(f"unknown tau2 domain {domain!r}; valid: {', '.join(DOMAINS)}")


def replay(domain: str, task: dict | str) -> list[ToolStep]:
    """Execute a task's gold tool calls in order on a fresh database; one ToolStep per call.

    `task` is a task dict from `load_tasks` or a task id string."""
    if isinstance(task, str):
        found = [t for t in _tasks(domain) if str(t.get("id")) == task] if domain in DOMAINS else []
        if not found:
            raise DataError(f"tau2 {domain}: no task with id {task!r} in {tau2_domain_dir(domain) / 'tasks.json'}")
        task = found[0]
    kit = toolkit(domain)
    steps = []
    for i, action in enumerate(gold_actions(task)):
        name, args = action.get("name"), action.get("arguments") or {}
        aid = action.get("action_id")
        if name in UNSUPPORTED or name not in kit.TOOLS:
            why = UNSUPPORTED.get(name, f"tool {name!r} is not implemented for {domain}")
            steps.append(ToolStep(name, copy.deepcopy(args), None, f"unsupported: {why}", i, aid))
            continue
        try:
            out = kit.tool(name)(**copy.deepcopy(args))
            steps.append(ToolStep(name, copy.deepcopy(args), copy.deepcopy(out), None, i, aid))
        except (ToolError, KeyError, TypeError) as e:
            msg = str(e) if not isinstance(e, KeyError) else f"{e.args[0]} not found"
            steps.append(ToolStep(name, copy.deepcopy(args), f"Error: {msg}", msg, i, aid))
    return steps


def replay_all(domain: str) -> dict[str, list[ToolStep]]:
    """task id -> replayed steps, for every task that has gold actions."""
    return {str(t["id"]): replay(domain, t) for t in _tasks(domain) if gold_actions(t)}
