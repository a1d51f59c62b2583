"""A minimal SWE agent loop in the mini-swe-agent style (the scaffold the paper evaluates with).

Why this shape: mini-swe-agent is deliberately tiny (bash only, one command per turn, no tools), which
keeps the measured skill the model's and not the scaffold's. The loop here keeps its contract:
- each model turn must hold exactly ONE ```bash block; otherwise a format-error message is the
  observation and the turn still counts;
- each command runs in a fresh `bash -c` subprocess in the checkout, with a timeout (60 s in the
  paper's config); the observation is the return code and the output (head and tail when long), in
  the paper's own texts (ctxbench.envs.swe.templates); `turn_reminder` adds the RL-time line "REMINDER:
  You have N turns left" that the paper's training generator appends (off for evaluation, as there);
- the agent submits by running `echo MINI_SWE_AGENT_FINAL_OUTPUT && git add -A && git diff --cached`
  (the newer sentinel COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT is accepted too). We then compute the
  patch ourselves with `git diff` against the base commit, so an agent that echoes the sentinel alone
  (a known mini-swe-agent failure mode that yields empty patches) still submits its edits;
- the run stops at the step limit (125 in the paper) with an empty submission, as mini-swe-agent does.

The checkout: `<repos>/<owner>__<name>/` must be a git clone of the instance's repository that contains
`base_commit`. Each run gets its own `git clone --shared` at that commit in a temporary directory
(objects are borrowed read-only from the user's clone, the index and new objects stay in the copy), so
instances never see each other's edits and the user's clone stays untouched.

Commands run in ctxbench.envs.shell (user + mount + network namespaces: the checkout and a scratch
HOME are writable, everything else read-only, no network) when this machine supports it; the final
`git diff` runs there too, so a hostile `.git/config` written by the model never runs git hooks or
filters on the host. Where the sandbox is unavailable the loop refuses unless
`AgentConfig.allow_host_shell=True` (then commands run on this machine: do that inside a VM or
container you are willing to let a model modify).
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

from ctxbench.core.errors import CtxbenchError, DataError
from ctxbench.envs import shell as shell_sandbox
from ctxbench.envs.swe.templates import (
    FORMAT_ERROR,
    INSTANCE_TEMPLATE,
    SUBMIT_COMMAND,
    SYSTEM_TEMPLATE,
    TIMEOUT_MESSAGE,
    observation,
    turn_reminder,
)

SENTINELS = ("MINI_SWE_AGENT_FINAL_OUTPUT", "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT")
ACTION_RE = re.compile(r"```bash\s*\n(.*?)\n```", re.DOTALL)

@dataclass(frozen=True)
class AgentConfig:
    step_limit: int = 125            # model turns (paper: 125)
    command_timeout_s: float = 60.0  # per command (paper: 60)
    max_output_chars: int = 10_000   # longer outputs are shown as head + tail
    turn_reminder: bool = False      # append the paper's RL-time "REMINDER: You have N turns left" line
    sandbox: bool = True             # run commands in ctxbench.envs.shell when it works here
    allow_host_shell: bool = False   # without the sandbox, run commands on this machine (explicit opt-in)
    memory_mb: int = 8192            # per-process address space inside the sandbox
    env: tuple[tuple[str, str], ...] = (("PAGER", "cat"), ("MANPAGER", "cat"), ("LESS", "-R"),
                                        ("PIP_PROGRESS_BAR", "off"), ("TQDM_DISABLE", "1"),
                                        ("PYTHONDONTWRITEBYTECODE", "1"))  # no .pyc files in the submitted diff

    def __post_init__(self):
        if self.step_limit < 1:
            raise ValueError("step_limit must be >= 1")
        if self.command_timeout_s <= 0:
            raise ValueError("command_timeout_s must be > 0")


class ContextLimitExceeded(CtxbenchError):
    """Raised by a ChatFn when the conversation no longer fits the model's window; the loop stops
    with exit status 'context_limit' and an empty submission (mini-swe-agent stops there too)."""


@dataclass
class AgentResult:
    exit_status: str          # "submitted" | "step_limit" | "context_limit"
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


def _git(args: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=check)


def git_diff(workdir: Path, base: str, runner: Callable[[str, float], tuple[int, str, bool]] | None = None) -> str:
    """Everything changed since `base` (tracked, untracked and committed), as one patch. With a
    sandbox `runner` git runs confined (the checkout's .git/config is model-writable)."""
    if runner is None:
        _git(["add", "-A"], workdir)
        return _git(["diff", "--cached", base], workdir).stdout
    if not re.fullmatch(r"[0-9a-f]{7,64}", base):
        raise CtxbenchError(f"git_diff: {base!r} is not a commit id")
    rc, out, timed_out = runner(f"git add -A >/dev/null 2>&1 && git diff --cached {base} 2>/dev/null", 600.0)
    if rc != 0 or timed_out:
        raise CtxbenchError(f"{workdir}: git diff failed in the sandbox (exit {rc}): {out[-500:]}")
    return out


def shell_runner(cfg: AgentConfig, workdir: Path, scratch: Path) -> Callable[[str, float], tuple[int, str, bool]]:
    """`runner(command, timeout) -> (rc, output, timed_out)` for this config: the shell sandbox when
    enabled and usable, else the host shell if allowed, else a CtxbenchError saying what to do."""
    keep = ("PATH", "LANG", "LC_ALL", "USER") if cfg.sandbox else ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(dict(cfg.env))
    if cfg.sandbox:
        ok, why = shell_sandbox.available()
        if ok:
            env.update(HOME=str(scratch), TMPDIR=str(scratch))
            limits = shell_sandbox.ShellLimits(memory_mb=cfg.memory_mb)
            return lambda cmd, t: shell_sandbox.run_shell(cmd, workdir, [workdir, scratch], t, env, limits)
        if not cfg.allow_host_shell:
            raise CtxbenchError(f"the SWE agent runs model-issued shell commands, and the shell sandbox is not "
                                f"usable here ({why}); allow running them on this machine with "
                                "AgentConfig(allow_host_shell=True) / --allow-host-shell, inside a VM or container")
    elif not cfg.allow_host_shell:
        raise CtxbenchError("AgentConfig(sandbox=False) runs model-issued shell commands on this machine; "
                            "set allow_host_shell=True as well to allow it (inside a VM or container)")
    return lambda cmd, t: run_command(cmd, workdir, t, env)


def run_agent(task: str, chat: ChatFn, workdir: Path, cfg: AgentConfig = AgentConfig()) -> AgentResult:
    """Run the loop on a checkout until the agent submits, the step limit is reached or the
    conversation outgrows the model's window."""
    workdir = Path(workdir)
    scratch = Path(tempfile.mkdtemp(prefix="ctxbench-swe-home-"))
    try:
        run = shell_runner(cfg, workdir, scratch)
        confined = run if cfg.sandbox and shell_sandbox.available()[0] else None
        base = _git(["rev-parse", "HEAD"], workdir).stdout.strip()
        messages = [{"role": "system", "content": SYSTEM_TEMPLATE},
                    {"role": "user", "content": INSTANCE_TEMPLATE.format(task=task)}]
        for step in range(1, cfg.step_limit + 1):
            try:
                reply = chat(list(messages))
            except ContextLimitExceeded:
                return AgentResult("context_limit", "", step - 1, git_diff(workdir, base, confined), messages)
            messages.append({"role": "assistant", "content": reply})
            actions = parse_actions(reply)
            if len(actions) != 1:
                messages.append({"role": "user", "content": FORMAT_ERROR.format(n=len(actions))})
                continue
            rc, out, timed_out = run(actions[0], cfg.command_timeout_s)
            lines = out.lstrip().splitlines()
            if not timed_out and lines and lines[0].strip() in SENTINELS:
                patch = git_diff(workdir, base, confined)
                return AgentResult("submitted", patch, step, patch, messages)
            if timed_out:
                obs = TIMEOUT_MESSAGE.format(command=actions[0], output=out[-cfg.max_output_chars:])
            else:
                obs = observation(rc, out, cfg.max_output_chars)
                if cfg.turn_reminder:
                    obs += turn_reminder(cfg.step_limit - step)
            messages.append({"role": "user", "content": obs})
        return AgentResult("step_limit", "", cfg.step_limit, git_diff(workdir, base, confined), messages)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# ------------------------------------------------------------------------------------------ checkouts


def clone_dir(repos_dir: str | os.PathLike, repo: str) -> Path:
    return Path(repos_dir) / repo.replace("/", "__")


def check_checkout(repos_dir: str | os.PathLike, repo: str, base_commit: str) -> Path:
    """The user's clone of `repo` under `repos_dir`, checked to hold `base_commit` (DataError naming
    the command that fixes it otherwise)."""
    clone = clone_dir(repos_dir, repo)
    if not clone.is_dir():
        raise DataError(f"{clone}: no checkout of {repo}. Clone it first: "
                        f"git clone https://github.com/{repo}.git {clone}")
    top = _git(["rev-parse", "--show-toplevel"], clone, check=False)
    bare = _git(["rev-parse", "--is-bare-repository"], clone, check=False).stdout.strip() == "true"
    if not bare and (top.returncode != 0 or Path(top.stdout.strip()).resolve() != clone.resolve()):
        raise DataError(f"{clone}: not a git repository (expected a clone of {repo})")
    if _git(["cat-file", "-e", f"{base_commit}^{{commit}}"], clone, check=False).returncode != 0:
        raise DataError(f"{clone}: commit {base_commit} of {repo} is missing; fetch it: "
                        f"git -C {clone} fetch origin {base_commit}")
    return clone


@contextmanager
def checkout(repos_dir: str | os.PathLike, repo: str, base_commit: str) -> Iterator[Path]:
    """A fresh `git clone --shared` of `<repos_dir>/<owner>__<name>` at `base_commit` (detached) in a
    temporary directory, removed afterwards. Nothing is written to the user's clone."""
    clone = check_checkout(repos_dir, repo, base_commit)
    tmp = Path(tempfile.mkdtemp(prefix="ctxbench-swe-"))
    wt = tmp / clone.name
    try:
        _git(["clone", "--quiet", "--shared", "--no-checkout", str(clone.resolve()), str(wt)], tmp)
        _git(["-c", "advice.detachedHead=false", "checkout", "--quiet", "--detach", base_commit], wt)
        yield wt
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def backend_chat(backend, gen_cfg) -> ChatFn:
    """A ChatFn over a ctxbench Backend: the conversation is sent as a multi-turn Prompt (history
    rendered through the model's chat template). Raises ContextLimitExceeded when the rendered
    conversation plus `gen_cfg.max_new_tokens` no longer fits the window (the backend would
    otherwise cut the system prompt and the task off the front)."""
    from ctxbench.models.base import Prompt

    def chat(messages: list[dict]) -> str:
        prompt = Prompt.chat(messages)
        n = backend.count_tokens(backend.render(prompt))
        if n + gen_cfg.max_new_tokens > backend.max_context_tokens:
            raise ContextLimitExceeded(f"conversation of {n} tokens + {gen_cfg.max_new_tokens} new tokens exceeds "
                                       f"the {backend.max_context_tokens}-token window")
        return backend.generate([prompt], gen_cfg)[0][0].text

    return chat


__all__ = [
    "INSTANCE_TEMPLATE",
    "SENTINELS",
    "SUBMIT_COMMAND",
    "SYSTEM_TEMPLATE",
    "AgentConfig",
    "AgentResult",
    "ChatFn",
    "ContextLimitExceeded",
    "backend_chat",
    "check_checkout",
    "checkout",
    "clone_dir",
    "git_diff",
    "observation",
    "parse_actions",
    "run_agent",
    "run_command",
    "shell_runner",
]
