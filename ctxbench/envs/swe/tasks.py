"""Where SWE instances and their repositories come from: the user's files, or a generated task set.

Why a generated set: the agentic RL loop (trainers/agentic.py) and SWE scoring in `run-ablation` need
real repositories at real base commits to be exercised end to end, and SWE-bench's are gigabytes. The
generated set is a handful of one-file Python repositories, each with a bug, a passing test
(PASS_TO_PASS) at the base commit and a test_patch adding a failing one (FAIL_TO_PASS), written in the
official SWE-bench instance schema, so the same adapters, loop and rewards run on it. A spec names it
as a data path, `generated:swe-micro`; it is built once under the cache with fixed commit dates, so its
base commits (and the run's data fingerprint) are the same on every machine.

The checkouts of an instance file live in `repos/<owner>__<name>` next to it (`repos_dir`), or under
$CTXBENCH_SWE_REPOS.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ctxbench.core.errors import DataError, did_you_mean

GENERATED = "generated:"
VERSION = "1"

# name -> (module source at the base commit, the fix (old, new), passing test, failing test, issue text)
_BUGS: dict[str, tuple[str, tuple[str, str], str, str, str]] = {
    "calc": ("def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n",
             ("return a - b", "return a + b"),
             "def test_mul():\n    assert mod.mul(3, 4) == 12\n", "def test_add():\n    assert mod.add(2, 3) == 5\n",
             "add(2, 3) returns -1; it should return 5."),
    "maxer": ("def biggest(xs):\n    return min(xs)\n\n\ndef count(xs):\n    return len(xs)\n",
              ("return min(xs)", "return max(xs)"),
              "def test_count():\n    assert mod.count([1, 2]) == 2\n",
              "def test_biggest():\n    assert mod.biggest([3, 9, 4]) == 9\n",
              "biggest([3, 9, 4]) returns 3; it should return the largest element, 9."),
    "parity": ("def is_even(n):\n    return n % 2 == 1\n\n\ndef half(n):\n    return n // 2\n",
               ("n % 2 == 1", "n % 2 == 0"),
               "def test_half():\n    assert mod.half(8) == 4\n", "def test_is_even():\n    assert mod.is_even(4)\n",
               "is_even(4) is False; even numbers should give True."),
    "greet": ("def greet(name):\n    return 'Hello ' + name.lower()\n\n\ndef shout(s):\n    return s.upper()\n",
              ("name.lower()", "name"),
              "def test_shout():\n    assert mod.shout('a') == 'A'\n",
              "def test_greet():\n    assert mod.greet('Ada') == 'Hello Ada'\n",
              "greet('Ada') returns 'Hello ada'; the name must keep its case."),
    "clamp": (("def clamp(x, lo, hi):\n    return max(lo, min(x, lo))\n\n\ndef inside(x, lo, hi):\n"
               "    return lo <= x <= hi\n"),
              ("min(x, lo)", "min(x, hi)"),
              "def test_inside():\n    assert mod.inside(2, 1, 3)\n",
              "def test_clamp():\n    assert mod.clamp(5, 0, 3) == 3\n",
              "clamp(5, 0, 3) returns 0; values above hi should become hi."),
    "sign": ("def sign(x):\n    return 1 if x < 0 else -1 if x > 0 else 0\n\n\ndef neg(x):\n    return -x\n",
             ("1 if x < 0 else -1 if x > 0", "-1 if x < 0 else 1 if x > 0"),
             "def test_neg():\n    assert mod.neg(2) == -2\n", "def test_sign():\n    assert mod.sign(7) == 1\n",
             "sign(7) returns -1; positive numbers should give 1."),
    "wordcount": ("def words(s):\n    return len(s.split(','))\n\n\ndef chars(s):\n    return len(s)\n",
                  ("s.split(',')", "s.split()"),
                  "def test_chars():\n    assert mod.chars('ab') == 2\n",
                  "def test_words():\n    assert mod.words('a b c') == 3\n",
                  "words('a b c') returns 1; words are separated by whitespace."),
    "median": ("def median(xs):\n    xs = sorted(xs)\n    return xs[0]\n\n\ndef total(xs):\n    return sum(xs)\n",
               ("return xs[0]", "return xs[len(xs) // 2]"),
               "def test_total():\n    assert mod.total([1, 2]) == 3\n",
               "def test_median():\n    assert mod.median([5, 1, 3]) == 3\n",
               "median([5, 1, 3]) returns 1; it should return the middle value, 3."),
}
TASK_SETS = {"swe-micro": tuple(_BUGS)}


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "ctxbench", "GIT_AUTHOR_EMAIL": "ctxbench@example.com",
           "GIT_COMMITTER_NAME": "ctxbench", "GIT_COMMITTER_EMAIL": "ctxbench@example.com",
           "GIT_AUTHOR_DATE": "2024-01-01T00:00:00+0000", "GIT_COMMITTER_DATE": "2024-01-01T00:00:00+0000",
           "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout


def _diff_of(repo: Path, files: dict[str, str]) -> str:
    """The patch that writes `files` on top of HEAD (computed by git, then undone)."""
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    _git(repo, "add", "-A")
    patch = _git(repo, "diff", "--cached", "HEAD")
    _git(repo, "reset", "-q", "--hard", "HEAD")
    return patch


def _build_repo(repos: Path, name: str) -> dict:
    source, (old, new), passing, failing, issue = _BUGS[name]
    repo = repos / f"gen__{name}"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q")
    head = f"import {name} as mod\n\n\n"
    (repo / f"{name}.py").write_text(source)
    (repo / "tests").mkdir()
    (repo / "tests" / f"test_{name}.py").write_text(head + passing)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", f"{name}: initial")
    base = _git(repo, "rev-parse", "HEAD").strip()
    test_file = f"tests/test_{name}.py"
    return {
        "instance_id": f"gen__{name}-1", "repo": f"gen/{name}", "base_commit": base, "problem_statement": issue,
        "patch": _diff_of(repo, {f"{name}.py": source.replace(old, new)}),
        "test_patch": _diff_of(repo, {test_file: head + passing + "\n\n" + failing}),
        "FAIL_TO_PASS": json.dumps([f"{test_file}::{failing.split('(')[0][4:]}"]),
        "PASS_TO_PASS": json.dumps([f"{test_file}::{passing.split('(')[0][4:]}"]),
        "version": VERSION, "created_at": "2024-01-01", "environment_setup_commit": base,
        "hints_text": "", "ctxbench_generated": True,
    }


def generated_task_set(name: str) -> Path:
    """The folder of generated task set `name` (instances.jsonl + repos/), built once under the cache."""
    from ctxbench.core.atomic import publish_dir
    from ctxbench.core.paths import cache_dir

    if name not in TASK_SETS:
        raise DataError(f"unknown generated SWE task set {name!r}{did_you_mean(name, TASK_SETS)}; "
                        f"valid: {', '.join(TASK_SETS)}")
    final = cache_dir() / "swe-tasks" / f"{name}-v{VERSION}"
    if (final / "instances.jsonl").is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=final.parent))
    try:
        rows = [_build_repo(tmp / "repos", bug) for bug in TASK_SETS[name]]
        (tmp / "instances.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        try:
            publish_dir(tmp, final)
        except OSError:  # built meanwhile by another process: theirs is identical
            if not (final / "instances.jsonl").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def resolve_data_path(path: str | None) -> str | None:
    """A SWE data path as the adapters read it: `generated:NAME` becomes the built set's folder."""
    if path and path.startswith(GENERATED):
        return str(generated_task_set(path[len(GENERATED):]))
    return path


def repos_dir(data_path: str | os.PathLike) -> Path:
    """The folder of checkouts for an instance file or folder: $CTXBENCH_SWE_REPOS, else `repos/` beside it."""
    if os.environ.get("CTXBENCH_SWE_REPOS"):
        return Path(os.environ["CTXBENCH_SWE_REPOS"])
    p = Path(resolve_data_path(str(data_path)) or ".")
    return (p if p.is_dir() else p.parent) / "repos"


__all__ = ["GENERATED", "TASK_SETS", "generated_task_set", "repos_dir", "resolve_data_path"]
