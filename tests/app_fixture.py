"""Driving app.py under Streamlit's AppTest, for every app test file (pages, images).

Why one copy: how the app is opened (CTXBENCH_ROOT pointing at a test store, a generous timeout for
the first run on a loaded machine) and what counts as a clean page (no exception, no st.error) must
be the same in every suite, or one suite can pass on a page another would fail.
"""

from __future__ import annotations

from pathlib import Path

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_app(root, monkeypatch):
    """An AppTest of app.py over the store at `root` (not run yet)."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("CTXBENCH_ROOT", str(root))
    return AppTest.from_file(APP, default_timeout=60)


def assert_ok(at):
    """The page rendered without an exception or an st.error."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def goto(at, page):
    """Pick `page` in the sidebar, run, and check it rendered cleanly."""
    at.sidebar.radio(key="page").set_value(page).run()
    assert_ok(at)
    return at


def texts(at, kind):
    """All rendered elements of one kind ("markdown", "info", "caption", ...) as one string."""
    return " ".join(str(e.value) for e in getattr(at, kind))
