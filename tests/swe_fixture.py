"""A local git clone for the SWE-bench agent tests (library loop and `ctxbench swe-bench run`).

Why one copy: both suites need the same situation, a clone whose HEAD is *not* the instance's
base_commit, so a run that wrongly starts from HEAD shows up (LATER_FILE appears in its worktree or
patch). <repos>/acme__calc has a buggy add() (a - b) at the base commit and one later commit on top.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = "acme/calc"
LATER_FILE = "later.txt"  # added by the commit after base_commit


def git(cwd, *args) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def make_calc_repo(repos: Path) -> str:
    """Create <repos>/acme__calc; returns the base commit (the buggy add, before the later commit)."""
    clone = repos / REPO.replace("/", "__")
    clone.mkdir(parents=True)
    git(clone, "init", "-q")
    git(clone, "config", "user.email", "t@example.com")
    git(clone, "config", "user.name", "t")
    (clone / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", "buggy add")
    base = git(clone, "rev-parse", "HEAD")
    (clone / LATER_FILE).write_text("a later commit\n")
    git(clone, "add", "-A")
    git(clone, "commit", "-qm", "later")
    return base


def bash_reply(cmd: str, thought: str = "THOUGHT: next step.") -> str:
    """A model turn in the mini-swe-agent format: a thought, then exactly one bash block."""
    return f"{thought}\n\n```bash\n{cmd}\n```"
