"""Running `ctxbench` in-process and reading what it stored, for the CLI test files.

Why one copy: the end-to-end CLI suites (train, import-table, swe-bench) all check a command by its exit
code, what it printed, and the rows it left in the store; they should capture output and open the
database the same way (read-only, through the store's own snapshot reader, as report and app do).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

from ctxbench.cli import main


def cli(*argv: str) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `ctxbench ARGV...` run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def db_rows(root: Path, sql: str, params=()) -> list[tuple]:
    """Rows of `sql` on a read-only snapshot of the run root's database."""
    from ctxbench.store.read import connect_readonly

    con = connect_readonly(root)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()
