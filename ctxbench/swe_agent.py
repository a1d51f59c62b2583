"""A minimal SWE agent loop in the mini-swe-agent style (the scaffold the paper evaluates with).

Why this shape: mini-swe-agent is deliberately tiny (bash only, one command per turn, no tools), which
keeps the measured skill the model's and not the scaffold's. The loop here keeps its contract:
- each model turn must hold exactly ONE ```bash block; otherwise a format-error message is the
  observation and the turn still counts;
- each command runs in a fresh `bash -c` subprocess in the checkout, with a timeout (60 s in the
  paper's config); the observation is the return code and the output (head and tail when long), plus a
  reminder of how many steps are left;
- the agent submits by running `echo MINI_SWE_AGENT_FINAL_OUTPUT && git add -A && git diff --cached`
  (the newer sentinel COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT is accepted too). We then compute the
  patch ourselves with `git diff` against the base commit, so an agent that echoes the sentinel alone
  (a known mini-swe-agent failure mode that yields empty patches) still submits its edits;
- the run stops at the step limit (125 in the paper) with an empty submission, as mini-swe-agent does.

The checkout: `<repos>/<owner>__<name>/` must be a git clone of the instance's repository that contains
`base_commit`. Each run gets its own detached `git worktree` at that commit, so instances never see
each other's edits and the user's clone stays untouched.

Commands run on this machine, not in a container: `AgentConfig.allow_host_shell` must be set to True
explicitly (run it inside a VM or container you are willing to let a model modify).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CtxbenchError, DataError

SENTINELS = ("MINI_SWE_AGENT_FINAL_OUTPUT", "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT")
SUBMIT_COMMAND = f"echo {SENTINELS[0]} && git add -A && git diff --cached"
ACTION_RE = re.compile(r"```bash\s*\n(.*?)\n```", re.DOTALL)

SYSTEM_TEMPLATE = """\
You are a helpful assistant that can interact multiple times with a computer shell to solve programming tasks.
Your response must contain exactly ONE bash code block with ONE command (or commands connected with && or ||).
Include a THOUGHT section before your command where you explain your reasoning process.

<format_example>
THOUGHT: Your reasoning and analysis here

```bash
your_command_here
```
</format_example>"""

INSTANCE_TEMPLATE = """\
<pr_description>
Consider the following PR description:
{task}
</pr_description>

<instructions>
You're a software engineer working in the repository in the current directory. Make changes to non-test
files so that the issue in the PR description is fixed, in a way that is general and consistent with the
codebase. Do not modify tests or configuration files (pyproject.toml, setup.cfg, ...).

Work step by step: find and read the relevant code, reproduce the issue with a small script, edit the
source, re-run the script, check edge cases.

Rules:
- Each response has a THOUGHT section and EXACTLY ONE ```bash block with ONE command (join several with && or ||).
- Every command runs in a new subshell: `cd` and environment variables do not persist between commands.
- Use non-interactive commands only (no vi or nano). Edit files with sed -i or cat <<'EOF' > file.
- View parts of files with, e.g., nl -ba file.py | sed -n '10,20p'.

When you are done and cannot make further progress, submit with exactly this command:

```bash
{submit}
```

You cannot continue working after submitting.
</instructions>"""

FORMAT_ERROR = """\
Please always provide EXACTLY ONE action in triple backticks, found {n} actions.

<response_example>
THOUGHT: why you want to perform the action.

```bash
<action>
```
</response_example>

If you have completed your assignment, submit with the command given in the first message."""

TIMEOUT_MESSAGE = ("The command timed out after {timeout:g} s and was killed. Partial output:\n<output>\n{output}\n</output>\n"
                   "Run commands that finish quickly (add timeouts, avoid interactive programs).")


@dataclass(frozen=True)
class AgentConfig:
    step_limit: int = 125            # model turns (paper: 125)
    command_timeout_s: float = 60.0  # per command (paper: 60)
    max_output_chars: int = 10_000   # longer outputs are shown as head + tail
    allow_host_shell: bool = False   # commands run on this machine: must be enabled explicitly
    env: tuple[tuple[str, str], ...] = (("PAGER", "cat"), ("MANPAGER", "cat"), ("LESS", "-R"),
                                        ("PIP_PROGRESS_BAR", "off"), ("TQDM_DISABLE", "1"))

    def __post_init__(self):
        if self.step_limit < 1:
            raise ValueError("step_limit must be >= 1")
        if self.command_timeout_s <= 0:
            raise ValueError("command_timeout_s must be > 0")


@dataclass
class AgentResult:
    exit_status: str          # "submitted" | "step_limit"
    patch: str                # the submission ("" unless submitted, as in mini-swe-agent)
    steps: int                # model turns used
    diff_at_exit: str         # git diff against the base commit when the loop ended, submitted or not
    messages: list[dict] = field(default_factory=list)


ChatFn = Callable[[list[dict]], str]  # messages [{"role": "system"|"user"|"assistant", "content"}] -> reply


def parse_actions(reply: str) -> list[str]:
    return [m.strip() for m in ACTION_RE.findall(reply or "")]


def run_command(command: str, cwd: Path, timeout_s: float, env: dict[str, str]) -> tuple[int, str, bool]:
    """(returncode, combined output, timed_out) of `bash -c command`; on timeout the whole process
    group is killed (so background children do not outlive the turn)."""
    p = subprocess.Popen(["bash", "-c", command], cwd=cwd, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, _ = p.communicate(timeout=timeout_s)
        return p.returncode, out.decode("utf-8", errors="replace"), False
    except subprocess.TimeoutExpired:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        out, _ = p.communicate()
        return -9, (out or b"").decode("utf-8", errors="replace"), True


def observation(returncode: int, output: str, step: int, limit: int, max_chars: int) -> str:
    if len(output) <= max_chars:
        body = f"<returncode>{returncode}</returncode>\n<output>\n{output}</output>"
    else:
        half = max_chars // 2
        body = (f"<returncode>{returncode}</returncode>\n<warning>\nThe output of your last command was too long. "
                "Use head, tail, sed -n or a more selective grep, or redirect the output to a file and search it.\n"
                f"</warning>\n<output_head>\n{output[:half]}\n</output_head>\n<elided_chars>\n"
                f"{len(output) - 2 * half} characters elided\n</elided_chars>\n<output_tail>\n{output[-half:]}\n"
                "</output_tail>")
    return body + f"\n<steps_remaining>{limit - step} of {limit} steps left</steps_remaining>"


def _git(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=check)


def git_diff(workdir: Path, base: str) -> str:
    """Everything changed since `base` (tracked, untracked and committed), as one patch."""
    _git(["add", "-A"], workdir)
    return _git(["diff", "--cached", base], workdir).stdout


def run_agent(task: str, chat: ChatFn, workdir: Path, cfg: AgentConfig = AgentConfig()) -> AgentResult:
    """Run the loop on a checkout until the agent submits or the step limit is reached."""
    if not cfg.allow_host_shell:
        raise CtxbenchError("the SWE agent runs model-issued shell commands on this machine; set "
                            "AgentConfig(allow_host_shell=True) to allow it (inside a VM or container)")
    workdir = Path(workdir)
    base = _git(["rev-parse", "HEAD"], workdir).stdout.strip()
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER")}
    env.update(dict(cfg.env))
    messages = [{"role": "system", "content": SYSTEM_TEMPLATE},
                {"role": "user", "content": INSTANCE_TEMPLATE.format(task=task, submit=SUBMIT_COMMAND)}]
    for step in range(1, cfg.step_limit + 1):
        reply = chat(list(messages))
        messages.append({"role": "assistant", "content": reply})
        actions = parse_actions(reply)
        if len(actions) != 1:
            messages.append({"role": "user", "content": FORMAT_ERROR.format(n=len(actions))})
            continue
        rc, out, timed_out = run_command(actions[0], workdir, cfg.command_timeout_s, env)
        lines = out.lstrip().splitlines()
        if not timed_out and lines and lines[0].strip() in SENTINELS:
            patch = git_diff(workdir, base)
            return AgentResult("submitted", patch, step, patch, messages)
        if timed_out:
            obs = TIMEOUT_MESSAGE.format(timeout=cfg.command_timeout_s, output=out[-cfg.max_output_chars:])
            obs += f"\n<steps_remaining>{cfg.step_limit - step} of {cfg.step_limit} steps left</steps_remaining>"
        else:
            obs = observation(rc, out, step, cfg.step_limit, cfg.max_output_chars)
        messages.append({"role": "user", "content": obs})
    return AgentResult("step_limit", "", cfg.step_limit, git_diff(workdir, base), messages)


# ------------------------------------------------------------------------------------------ checkouts


def clone_dir(repos_dir: str | os.PathLike, repo: str) -> Path:
    return Path(repos_dir) / repo.replace("/", "__")


@contextmanager
def checkout(repos_dir: str | os.PathLike, repo: str, base_commit: str) -> Iterator[Path]:
    """A fresh detached worktree of `<repos_dir>/<owner>__<name>` at `base_commit`, removed afterwards."""
    clone = clone_dir(repos_dir, repo)
    if not clone.is_dir():
        raise DataError(f"{clone}: no checkout of {repo}. Clone it first: "
                        f"git clone https://github.com/{repo}.git {clone}")
    if _git(["rev-parse", "--git-dir"], clone, check=False).returncode != 0:
        raise DataError(f"{clone}: not a git repository (expected a clone of {repo})")
    if _git(["cat-file", "-e", f"{base_commit}^{{commit}}"], clone, check=False).returncode != 0:
        raise DataError(f"{clone}: commit {base_commit} of {repo} is missing; fetch it: "
                        f"git -C {clone} fetch origin {base_commit}")
    tmp = Path(tempfile.mkdtemp(prefix="ctxbench-swe-"))
    wt = tmp / clone.name
    try:
        _git(["worktree", "add", "--detach", str(wt), base_commit], clone)
        yield wt
    finally:
        _git(["worktree", "remove", "--force", str(wt)], clone, check=False)
        _git(["worktree", "prune"], clone, check=False)
        shutil.rmtree(tmp, ignore_errors=True)


def flatten_chat(backend, gen_cfg) -> ChatFn:
    """A ChatFn over a single-turn ctxbench Backend: the conversation so far is rendered as one user
    turn with role headers. A stop-gap until backends take multi-turn messages; prefer a real chat API."""
    from .models.base import Prompt

    def chat(messages: list[dict]) -> str:
        transcript = "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in messages) + "\n\n[assistant]\n"
        return backend.generate([Prompt.of(transcript)], gen_cfg)[0][0].text

    return chat


__all__ = [
    "INSTANCE_TEMPLATE",
    "SENTINELS",
    "SUBMIT_COMMAND",
    "SYSTEM_TEMPLATE",
    "AgentConfig",
    "AgentResult",
    "ChatFn",
    "checkout",
    "clone_dir",
    "flatten_chat",
    "git_diff",
    "observation",
    "parse_actions",
    "run_agent",
    "run_command",
]
