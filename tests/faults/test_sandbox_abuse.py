"""Abuse of the Python sandbox (code-exec and LiveCodeBench programs): each abusive program is stopped,
leaks nothing (no file outside, no connection to a loopback listener, no surviving process, no file
deleted) and its item is recorded as failed; correct programs that use exit(), numpy or stdin in every
common way pass, as they do under the official runners."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from sandbox_checks import Listener, assert_contained, processes_with

from ctxbench.benchmarks.embedded.code_exec import run_tests
from ctxbench.envs.sandbox import run_python

TAG = "37.4242"  # abusive programs sleep this long: survivors are found by it
HOME = os.path.realpath(os.path.expanduser("~"))

ABUSE = {
    "infinite_loop": "while True:\n    pass\n",
    "fork_bomb_64": f"import os, time\nfor i in range(64):\n    if os.fork() == 0:\n        time.sleep({TAG})\n",
    "subprocess_bomb_64": f"import subprocess\nfor i in range(64):\n    subprocess.Popen(['sleep', '{TAG}'])\n",
    "system_call": f"import os\nos.system('sleep {TAG} &')\n",
    "alloc_20gb": "x = bytearray(20 << 30)\n",
    "alloc_20gb_numpy": "import numpy as np\nx = np.ones((20 << 30) // 8)\n",
    "write_outside": "open({outside!r} + '/evil.txt', 'w').write('x')\n",
    "write_outside_os_open": "import os\nfd = os.open({outside!r} + '/evil2.txt', os.O_WRONLY | os.O_CREAT)\n",
    "write_via_dotdot": "open('../../../..' + {outside!r} + '/evil3.txt', 'w').write('x')\n",
    "symlink_out": "import os\nos.symlink({outside!r}, 'link')\nopen('link/evil4.txt', 'w').write('x')\n",
    "read_etc_passwd": "print(open('/etc/passwd').read())\n",
    "list_etc": "import os\nprint(os.listdir('/etc'))\n",
    "list_home": f"import os\nprint(os.listdir({HOME!r}))\n",
    "read_home_file": "print(open({home_file!r}).read())\n",
    "socket_loopback": "import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).send(b'x')\n",
    "raw_socket": "import _socket\ns = _socket.socket()\ns.connect(('127.0.0.1', {port}))\n",
    "outlive_double_fork": (f"import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                            f"        time.sleep({TAG})\n"),
    "ctypes_system": "import ctypes\nctypes.CDLL(None).system(b'touch ' + {outside!r}.encode() + b'/ct')\n",
    "ctypes_via_importlib": "import importlib\nimportlib.import_module('_ctypes')\n",
    "delete_file": "import os\nos.remove({victim!r})\n",
    "delete_tree": "import shutil\nshutil.rmtree({outside!r})\n",
    "rename_out": "import os\nos.rename({victim!r}, 'stolen.txt')\n",
    "truncate_file": "open({victim!r}, 'r+').truncate(0)\n",
    "chmod_file": "import os\nos.chmod({victim!r}, 0)\n",
    "kill_parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n",
    "lift_limits": "import resource\nresource.setrlimit(resource.RLIMIT_AS, (-1, -1))\nx = bytearray(20 << 30)\n",
}
ENTRY = "\n\ndef f():\n    return 1\n"
TEST = "def check(candidate):\n    assert candidate() == 1\n"


@pytest.fixture
def outside(tmp_path):
    d = tmp_path / "outside"
    d.mkdir()
    (d / "victim.txt").write_text("keep\n")
    return d


def home_file() -> str:
    for name in sorted(os.listdir(HOME)):
        p = os.path.join(HOME, name)
        if os.path.isfile(p) and os.access(p, os.R_OK):
            return p
    return "/nonexistent-home-file"


def abuse_program(name: str, outside: Path, port: int) -> str:
    return ABUSE[name].format(outside=str(outside), victim=str(outside / "victim.txt"), port=port,
                              home_file=home_file())


def run_abuse(name: str, outside: Path, port: int):
    """The abusive program as a code-exec item (its official tests would pass): the SandboxResult."""
    return run_tests(abuse_program(name, outside, port) + ENTRY, TEST, "f", timeout_s=2)


@pytest.mark.parametrize("name", sorted(ABUSE))
def test_abuse_is_stopped_and_leaks_nothing(name, outside, faults):
    with Listener() as lst:
        r = run_abuse(name, outside, lst.port)
    faults.inject("sandbox")
    assert_contained(ok=r.ok, outside=outside, listener=lst, tag=TAG, victim=outside / "victim.txt")
    assert r.killed_reason is not None or r.returncode != 0, r


def test_a_child_that_leaves_the_group_dies_with_the_run(outside, faults):
    """With children allowed (max_procs > 0), a double-forked, setsid'd grandchild is killed too."""
    code = (f"import os, sys, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
            f"        print(os.getpid(), flush=True)\n        time.sleep({TAG})\n    os._exit(0)\n"
            "time.sleep(0.3)\nraise SystemExit(3)\n")
    r = run_python(code, max_procs=4, timeout_s=5)
    faults.inject("sandbox")
    pids = [int(x) for x in r.stdout.split()]
    assert pids, r
    assert_contained(ok=r.ok, outside=outside, pids=pids, settle_s=0.2)


CORRECT = {  # (program, stdin, expected stdout)
    "exit": ("print(6)\nexit()\n", "", "6\n"),
    "exit_0": ("print(6)\nexit(0)\n", "", "6\n"),
    "quit": ("print(6)\nquit()\n", "", "6\n"),
    "sys_exit": ("import sys\nprint(6)\nsys.exit()\n", "", "6\n"),
    "sys_exit_0_in_main": (("import sys\ndef main():\n    print(6)\n    sys.exit(0)\n"
                           "if __name__ == '__main__':\n    main()\n"), "", "6\n"),
    "raise_systemexit": ("print(6)\nraise SystemExit\n", "", "6\n"),
    "os_exit_after_flush": ("import os, sys\nprint(6)\nsys.stdout.flush()\nos._exit(0)\n", "", "6\n"),
    "numpy": ("import numpy as np\nprint(int(np.arange(4).sum()))\n", "", "6\n"),
    "numpy_linalg": ("import numpy as np\nprint(round(float(np.linalg.det(np.eye(3) * 2)) - 2))\n", "", "6\n"),
    "input": ("a = int(input())\nb = int(input())\nprint(a + b)\n", "1\n5\n", "6\n"),
    "input_split_map": ("a, b = map(int, input().split())\nprint(a + b)\n", "1 5\n", "6\n"),
    "stdin_read": ("import sys\nprint(sum(map(int, sys.stdin.read().split())))\n", "1 2\n3\n", "6\n"),
    "stdin_readline": (("import sys\ninput = sys.stdin.readline\nn = int(input())\n"
                       "print(sum(int(input()) for _ in range(n)))\n"), "3\n1\n2\n3\n", "6\n"),
    "stdin_iterate": ("import sys\nprint(sum(int(l) for l in sys.stdin))\n", "1\n2\n3\n", "6\n"),
    "stdin_readlines": ("import sys\nprint(sum(int(l) for l in sys.stdin.readlines()))\n", "1\n5\n", "6\n"),
    "stdin_buffer": ("import sys\nprint(sum(map(int, sys.stdin.buffer.read().split())))\n", "1 5", "6\n"),
    "open_fd_0": ("print(sum(map(int, open(0).read().split())))\n", "1 5\n", "6\n"),
    "os_read_0": ("import os\nprint(sum(map(int, os.read(0, 100).split())))\n", "1 5\n", "6\n"),
    "fileinput": ("import fileinput\nprint(sum(int(l) for l in fileinput.input()))\n", "1\n5\n", "6\n"),
    "eof_loop": (("s = 0\nwhile True:\n    try:\n        s += int(input())\n    except EOFError:\n"
                 "        break\nprint(s)\n"), "1\n5\n", "6\n"),
    "stdout_write": ("import sys\nsys.stdout.write('6\\n')\n", "", "6\n"),
    "recursion_limit": ("import sys\nsys.setrecursionlimit(10 ** 6)\nprint(6)\n", "", "6\n"),
    "threading_and_tempfile": (("import tempfile, threading\nt = threading.Thread(target=lambda: None)\n"
                               "t.start()\nt.join()\nwith tempfile.TemporaryFile('w+') as f:\n"
                               "    f.write('6')\n    f.seek(0)\n    print(f.read())\n"), "", "6\n"),
    "stdlib_reads": (("import mimetypes, inspect, json, heapq\nmimetypes.guess_type('a.txt')\n"
                     "inspect.getsource(json.dumps)\nprint(len(heapq.nsmallest(6, range(9))))\n"), "", "6\n"),
    "files_in_the_work_dir": (("import os\nopen('x.txt', 'w').write('6')\nos.rename('x.txt', 'y.txt')\n"
                              "print(open('y.txt').read())\nos.remove('y.txt')\n"), "", "6\n"),
}


@pytest.mark.parametrize("name", sorted(CORRECT))
def test_correct_programs_pass(name, faults):
    code, stdin, want = CORRECT[name]
    r = run_python(code, stdin=stdin, timeout_s=10)
    faults.inputs()
    assert r.ok and r.stdout == want, r


def test_a_correct_code_exec_item_passes_through_the_same_runner(faults):
    r = run_tests("def f():\n    import numpy as np\n    return int(np.ones(1)[0])\n", TEST, "f", timeout_s=5)
    faults.inputs()
    assert r.ok, r


def test_nothing_survives_the_suite():
    assert not processes_with(TAG)
