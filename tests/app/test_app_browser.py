"""The real app in a real browser: `streamlit run app.py` on a populated store, headless Chromium
driven over the DevTools protocol, the delta chart must be rendered (an SVG plot, not just a div), and
a snapshot published by ingest afterwards must appear in the open page without a reload.

Why beside the AppTest tests: AppTest runs the script but renders nothing; this catches a page that
builds fine and then shows a blank chart (missing plotly bundle, a front-end error). Needs Debian's
`chromium` (/usr/bin/chromium; .ci/run installs it) and the `websockets` client that Streamlit's
server already depends on. A screenshot is saved in the test's tmp dir.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"{CHROMIUM} is absent (apt-get install -y chromium; .ci/run installs it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(pred, timeout: float, what: str, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: process exited with {proc.returncode}")
        try:
            v = pred()
        except OSError:
            v = None
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=2) as r:
        return r.read().decode()


class CDP:
    """A minimal DevTools-protocol client (one page target)."""

    def __init__(self, ws):
        self.ws = ws
        self.ids = itertools.count(1)

    def call(self, method: str, **params):
        i = next(self.ids)
        self.ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=30))
            if msg.get("id") == i:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return msg["result"]

    def eval(self, js: str):
        return self.call("Runtime.evaluate", expression=js, returnByValue=True)["result"].get("value")



@pytest.fixture
def served_app(tmp_path):
    from ablation_fixture import make_store

    root = tmp_path / "runs"
    make_store(root)
    port = _free_port()
    env = {**os.environ, "CTXBENCH_ROOT": str(root), "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    log = open(tmp_path / "streamlit.log", "wb")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false"],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait(lambda: _get(f"http://127.0.0.1:{port}/_stcore/health") == "ok", 60, "streamlit health", proc)
        yield f"http://127.0.0.1:{port}/", root
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def browser(tmp_path):
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    proc = subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "--remote-debugging-address=127.0.0.1", "--window-size=1400,1600", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        active = profile / "DevToolsActivePort"
        port = _wait(lambda: active.exists() and active.read_text().split("\n")[0].strip(), 30,
                     "chromium DevTools port", proc)
        pages = _wait(lambda: [t for t in json.loads(_get(f"http://127.0.0.1:{port}/json/list"))
                               if t.get("type") == "page"], 20, "a chromium page target", proc)
        from websockets.sync.client import connect

        with connect(pages[0]["webSocketDebuggerUrl"], max_size=None, open_timeout=10) as ws:
            yield CDP(ws)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


RENDERED = """(() => {
  const plots = [...document.querySelectorAll('.js-plotly-plot')];
  const withSvg = plots.filter(p => p.querySelector('svg.main-svg') && p.querySelectorAll('.point, path.xerror, .scatterlayer .trace').length);
  const text = document.body ? document.body.innerText : '';
  return {plots: plots.length, rendered: withSvg.length,
          title: plots.map(p => (p.querySelector('.gtitle') || {}).textContent || '').join(' | '),
          has_verdict: text.includes('Verdict'), exception: !!document.querySelector('[data-testid="stException"]')};
})()"""


RUNS = "(() => { const m = document.body.innerText.match(/(\\d+) runs ·/); return m ? m[1] : null })()"


def test_delta_chart_renders_in_chromium(served_app, browser, tmp_path):
    from ablation_fixture import add_eval_run

    from ctxbench.store import ingest

    url, root = served_app
    browser.call("Page.enable")
    browser.call("Page.navigate", url=url)
    state = _wait(lambda: (s := browser.eval(RENDERED)) and s["rendered"] >= 1 and s["has_verdict"] and s,
                  60, "the rendered delta chart")
    time.sleep(1.0)  # let the layout settle before the screenshot
    state = browser.eval(RENDERED)
    shot = base64.b64decode(browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)["data"])
    out = tmp_path / "app.png"
    out.write_bytes(shot)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 20_000
    assert not state["exception"], "the app shows an exception"
    assert "Per-benchmark delta vs grpo" in state["title"], state
    # the forest plot has one marker per (benchmark, arm): 3 benchmarks x 4 arms vs grpo
    n_points = browser.eval("document.querySelectorAll('.js-plotly-plot .scatterlayer .point').length")
    assert n_points >= 12, n_points
    print(f"screenshot: {out}")
    # a new snapshot published by ingest shows up in the open page by itself (the app polls snapshot_id)
    before = browser.eval(RUNS)
    add_eval_run(root, arm="grpo", seed=11)
    ingest(root, progress=False)
    after = _wait(lambda: (v := browser.eval(RUNS)) and v != before and v, 30, "the page to show the new run")
    assert int(after) == int(before) + 1
