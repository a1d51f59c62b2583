"""The sandbox stops or refuses each adversarial case the issue names, reports it, and leaves the
calling process (and the rest of the file system) untouched."""

from __future__ import annotations

import os
import socket
import time

import pytest

from ctxbench.envs.sandbox import SandboxResult, run_python


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as f:
            return "State:\tZ" in f.read()  # killed, waiting for init to reap it
    except FileNotFoundError:
        return True


def test_runs_code_with_stdin_files_and_private_cwd():
    code = ("import os, sys\nprint(sys.stdin.read(), open('pkg/data.txt').read())\n"
            "open('made.txt', 'w').write('inside')\nprint(open('made.txt').read())\n"
            "import helper\nprint(helper.VALUE, os.environ.get('HOME') == os.getcwd())\n")
    r = run_python(code, stdin="IN", files={"pkg/data.txt": "FILE", "helper.py": "VALUE = 42\n"})
    assert isinstance(r, SandboxResult)
    assert r.ok and r.returncode == 0 and r.killed_reason is None and not r.refused
    assert r.stdout.split() == ["IN", "FILE", "inside", "42", "True"]


def test_exception_is_reported_with_the_users_traceback():
    r = run_python("def f():\n    return 1 / 0\nf()\n")
    assert not r.ok and r.returncode == 1 and r.killed_reason is None
    assert "ZeroDivisionError" in r.stderr and "main.py\", line 2, in f" in r.stderr


def test_hash_seed_is_fixed_so_runs_are_reproducible():
    code = "print(hash('ctxbench'), list({'a', 'b', 'c', 'd'}))"
    assert run_python(code).stdout == run_python(code).stdout


def test_infinite_loop_is_killed_at_the_wall_clock_limit():
    t0 = time.monotonic()
    r = run_python("while True:\n    pass\n", timeout_s=1.0)
    assert r.timed_out and not r.ok and r.killed_reason == "timeout"
    assert time.monotonic() - t0 < 5


def test_cpu_limit_stops_a_busy_loop():
    r = run_python("x = 0\nwhile True:\n    x += 1\n", cpu_s=1, timeout_s=20)
    assert not r.timed_out and r.killed_reason == "cpu_limit"


def test_fork_bomb_is_refused():
    r = run_python("import os\nwhile True:\n    os.fork()\n")
    assert not r.ok and r.killed_reason == "refused:os.fork"
    assert r.refused and r.refused[0].startswith("os.fork")
    for code, event in [("import subprocess\nsubprocess.run(['true'])", "subprocess.Popen"),
                        ("import os\nos.system('true')", "os.system"),
                        ("import multiprocessing as mp\nmp.get_context('spawn').Process(target=print).start()",
                         "subprocess.fork_exec")]:
        r = run_python(code)
        assert r.killed_reason == f"refused:{event}", (code, r)


def test_memory_hog_hits_the_address_space_limit():
    r = run_python("x = bytearray(8 * 1024 ** 3)\n", memory_mb=256)
    assert r.killed_reason == "memory_limit" and "MemoryError" in r.stderr
    r = run_python("chunks = []\nwhile True:\n    chunks.append(b' ' * 10 ** 7)\n", memory_mb=256)
    assert r.killed_reason == "memory_limit"


def test_network_connection_is_refused():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.setblocking(False)
    port = server.getsockname()[1]
    try:
        for code in [f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)",
                     f"import socket\ns = socket.socket()\ns.connect(('127.0.0.1', {port}))",
                     "import urllib.request\nurllib.request.urlopen('http://example.com', timeout=2)"]:
            r = run_python(code)
            assert not r.ok and r.killed_reason.startswith("refused:socket."), (code, r)
        with pytest.raises(BlockingIOError):
            server.accept()  # nothing ever reached the listening socket
    finally:
        server.close()


def test_writes_outside_the_directory_are_refused(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("original")
    cases = {
        f"open({str(tmp_path / 'new.txt')!r}, 'w').write('x')": "open",
        f"import os\nos.remove({str(victim)!r})": "os.remove",
        f"import os\nos.rename({str(victim)!r}, 'stolen.txt')": "os.rename",
        f"import os\nos.symlink({str(tmp_path / 'via_link.txt')!r}, 'link')\nopen('link', 'w').write('x')": "open",
        f"import pathlib\npathlib.Path({str(tmp_path)!r}, 'p.txt').write_text('x')": "open",
        f"import shutil\nshutil.rmtree({str(tmp_path)!r})": "shutil.rmtree",
        "open('../escape.txt', 'w').write('x')": "open",
        f"import os\nos.chdir({str(tmp_path)!r})": "os.chdir",
    }
    for code, event in cases.items():
        r = run_python(code)
        assert not r.ok and r.killed_reason == f"refused:{event}", (code, r)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["victim.txt"]
    assert victim.read_text() == "original"


def test_output_is_capped():
    r = run_python("while True:\n    print('x' * 1000)\n", max_output_bytes=10_000)
    assert r.killed_reason == "output_limit" and r.stdout_truncated and len(r.stdout) == 10_000


def test_guard_cannot_be_reached_or_lifted():
    for code in ["import gc\ngc.get_objects()", "import ctypes",
                 "import resource\nresource.setrlimit(resource.RLIMIT_CPU, (100, 100))"]:
        r = run_python(code)
        assert not r.ok and r.killed_reason.startswith("refused:"), (code, r)


def test_timeout_kills_the_whole_process_group_when_children_are_allowed():
    code = ("import subprocess\np = subprocess.Popen(['sleep', '60'])\nprint(p.pid, flush=True)\n"
            "while True:\n    pass\n")
    r = run_python(code, max_procs=4, timeout_s=1.0)
    assert r.timed_out
    pid = int(r.stdout.split()[0])
    deadline = time.monotonic() + 3
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(pid)


def test_caller_is_unaffected():
    cwd, env = os.getcwd(), dict(os.environ)
    run_python("import os\nos.environ['X'] = '1'\nwhile True:\n    pass\n", timeout_s=0.5)
    run_python("x = bytearray(8 * 1024 ** 3)\n", memory_mb=128)
    assert os.getcwd() == cwd and dict(os.environ) == env
    assert run_python("print('still fine')").stdout == "still fine\n"


def test_bad_file_names_are_rejected():
    for name in ["/etc/passwd", "../x", "main.py"]:
        with pytest.raises(ValueError):
            run_python("pass", files={name: ""})


def test_an_ordinary_interpreter_exit_quit_help_and_site_packages():
    """`-S` keeps site from running, yet exit()/quit()/help exist and installed packages import (exit()
    was a NameError and `import numpy` a ModuleNotFoundError, failing correct programs)."""
    r = run_python("print('before')\nexit()\nprint('after')")
    assert r.ok and r.stdout == "before\n"
    assert run_python("quit(3)").returncode == 3
    assert run_python("import sys\nprint(callable(help), sys.flags.no_site)").stdout.split() == ["True", "1"]
    pytest.importorskip("numpy")
    r = run_python("import numpy as np\nprint(int(np.arange(5).sum()))", memory_mb=512)
    assert r.ok and r.stdout == "10\n", r.stderr
    assert r.refused == ("import: ctypes",)  # numpy probes ctypes, gets an ImportError and goes on


def test_ctypes_stays_refused_as_an_import_error():
    r = run_python("try:\n    import ctypes\nexcept ImportError as e:\n    print('refused:', e)\n")
    assert r.ok and r.stdout.startswith("refused: sandbox refused import (ctypes)") and r.refused == ("import: ctypes",)
    r = run_python("import ctypes")
    assert r.killed_reason == "refused:import" and "ModuleNotFoundError: sandbox refused" in r.stderr
    site_dir = next(p for p in __import__("sys").path if p.endswith("site-packages"))
    r = run_python(f"open({site_dir + '/ctxbench-sbx-probe.pth'!r}, 'w').write('import os')")
    assert r.killed_reason == "refused:open"  # site-packages are readable, never writable
