"""SQL lives only in ctxbench/store/: every other layer asks the store's query functions.

Why a test: SQL over the schema was once written in four layers (store, report, app, commands), so
the same question had several spellings that could drift apart. This scan keeps it in one place. It
reads every string literal of ctxbench/ and app.py with `ast` (docstrings excepted; an f-string is
read as its text with `{}` for each placeholder) and flags SQL-shaped text. The house style writes
SQL keywords in capitals, which is what lets the scan tell `SELECT ... FROM runs` from a prompt
saying "select the answer from the options".
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STORE = REPO / "ctxbench" / "store"
SQL = re.compile(r"""
      \bSELECT\b | \bINSERT\s+INTO\b | \bDELETE\s+FROM\b | \bUPDATE\s+\S+\s+SET\b | \bMERGE\s+INTO\b
    | \b(?:CREATE|DROP|ALTER)\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+)?
        (?:TABLE|VIEW|INDEX|SCHEMA|SEQUENCE|MACRO)\b
    | \bATTACH\b | \bJOIN\s+\S+\s+(?:\w+\s+)?(?:USING|ON)\b | \b(?:GROUP|ORDER)\s+BY\b
    | \bFROM\s+"?\w+"?\s+(?:\w+\s+)?(?:WHERE|JOIN|LEFT|GROUP|ORDER|LIMIT)\b
    | \b(?:WHERE|AND|OR)\s+[\w."]+\s*(?:=|<>|!=|IN|IS|I?LIKE)\s | \w\s*(?:=|<>|!=)\s*\?
""", re.VERBOSE)


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes of a module and its classes and functions."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            value = first.value if isinstance(first, ast.Expr) else None
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                out.add(id(value))
    return out


def sql_literals(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string literal in `source` that looks like SQL."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            skip.update(id(v) for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            text = node.value
        else:
            continue
        if SQL.search(text):
            hits.append((node.lineno, " ".join(text.split())[:80]))
    return sorted(hits)


def sources() -> list[Path]:
    return sorted((REPO / "ctxbench").rglob("*.py")) + [REPO / "app.py"]


def test_sql_appears_only_in_the_store():
    found = [f"{p.relative_to(REPO)}:{line}: {text}" for p in sources() if STORE not in p.parents
             for line, text in sql_literals(p.read_text(encoding="utf-8"))]
    assert not found, ("SQL outside ctxbench/store/ (add a function to ctxbench/store/queries.py):\n"
                       + "\n".join(found))


def test_the_scan_sees_the_stores_own_sql():
    """Not blind: the store's queries are found (so an empty result elsewhere means something)."""
    assert len(sql_literals((STORE / "queries.py").read_text(encoding="utf-8"))) >= 15


def test_the_scan_catches_a_violation():
    bad = '''
def f(con, t, rid):
    con.execute("SELECT * FROM runs WHERE run_id = ?", [rid])
    con.execute(f'SELECT count(*) AS n FROM "{t}"')
    q = ("DELETE FROM samples "
         "WHERE run_id = ?")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {t} AS {q}")
    return " AND benchmark = ?", "items i LEFT JOIN runs r USING (run_id)", "ORDER BY run_id"
'''
    assert [line for line, _ in sql_literals(bad)] == [3, 4, 5, 7, 8, 8, 8]


def test_the_scan_leaves_prose_and_docstrings_alone():
    clean = '''
"""Reads SELECT * FROM runs WHERE kind = ? through the store (a docstring: documentation)."""
PROMPT = "Please select the correct answer from the options above. Order by importance: copy it."
HELP = f"only runs of this kind (eval, train); {PROMPT} from the table, in order"

def f():
    """ORDER BY created_at."""
    return "select", "key = value", "a ? b"
'''
    assert sql_literals(clean) == []
