"""Shared machinery for the pure-python tau2-bench tools (airline in tau2_airline.py, retail in
tau2_retail.py), which run over the packaged db.json.

Why: replaying the tasks' gold tool calls gives real tool-use trajectories (real arguments, real
results from a real database) without installing tau2-bench or its LLM user simulator. The
semantics follow tau2-bench's `AirlineTools` / `RetailTools` (sierra-research/tau2-bench,
src/tau2/domains/*/tools.py), including their quirks, so the replayed results are the ones an agent
would have seen:
  * airline `cancel_reservation` does not release seats; `update_reservation_flights` does not
    change seat counts either; new reservation ids are HATHAT, HATHAU, HATHAV in order;
  * retail `modify_pending_order_items` prices every modified item at the *last* new variant's
    price (the loop variable leaks in upstream; most gold calls modify one item);
  * the clock is fixed at 2024-05-15T15:00:00 (airline policy "current time").
Results are the database records as stored (plain JSON), not pydantic dumps: optional fields that
were never set are absent rather than null. A tool that fails raises ToolError; the replay records
it the way tau2 shows it to the agent ("Error: <message>").

The database is wrapped in copy-on-write tables, so a replay mutates private copies of only the
records it touches and 160 replays cost milliseconds, not 160 deep copies of a 7 MB file.
"""

from __future__ import annotations

import ast
import copy
import operator
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from typing import Any

NOW = "2024-05-15T15:00:00"


class ToolError(ValueError):
    """A tool refused the call (unknown id, wrong status, insufficient balance ...)."""


class Table(Mapping):
    """A copy-on-write view of one db.json collection: `t[k]` hands out a private deep copy of the
    record (made on first access), `t.peek(k)` reads without copying (for scans)."""

    def __init__(self, base: dict):
        self.base, self.over = base, {}

    def __getitem__(self, key):
        if key not in self.over:
            self.over[key] = copy.deepcopy(self.base[key])
        return self.over[key]

    def __setitem__(self, key, value):
        self.over[key] = value

    def peek(self, key):
        return self.over[key] if key in self.over else self.base[key]

    def __contains__(self, key):
        return key in self.over or key in self.base

    def __iter__(self) -> Iterator:
        yield from self.base
        yield from (k for k in self.over if k not in self.base)

    def __len__(self):
        return len(self.base) + sum(1 for k in self.over if k not in self.base)


def fold(s: str) -> str:
    """Case- and accent-insensitive form of a name or id (tau2's fold_for_match)."""
    s = unicodedata.normalize("NFKD", s.strip())
    return "".join(c for c in s if not unicodedata.combining(c)).casefold()


def resolve(table: Table, key: str, what: str) -> str:
    if key in table:
        return key
    if key.strip() in table:
        return key.strip()
    f = fold(key)
    for k in table:
        if fold(k) == f:
            return k
    raise ToolError(f"{what} {key} not found")


_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.USub: operator.neg, ast.UAdd: operator.pos}


def calculate(expression: str) -> str:
    """tau2's `calculate`: digits, + - * / ( ) . and spaces only; result rounded to 2 decimals."""
    if not all(ch in "0123456789+-*/(). " for ch in expression):
        raise ToolError("Invalid characters in expression")

    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](ev(node.operand))
        raise ToolError("Invalid expression")

    try:
        return str(round(float(ev(ast.parse(expression, mode="eval"))), 2))
    except (SyntaxError, ZeroDivisionError) as e:
        raise ToolError(f"Invalid expression: {e}") from None


class Toolkit:
    """Base: a dict of tables plus the tools (methods listed in TOOLS)."""

    TOOLS: tuple[str, ...] = ()

    def __init__(self, db: dict):
        self.db = {name: Table(records) for name, records in db.items()}

    def tool(self, name: str) -> Callable[..., Any]:
        if name not in self.TOOLS:
            raise KeyError(name)
        return getattr(self, name)

    def calculate(self, expression: str) -> str:
        return calculate(expression)

    def transfer_to_human_agents(self, summary: str) -> str:
        return "Transfer successful"
