"""The paper's mini-swe-agent texts, verbatim: what the model reads at every SWE turn.

Why verbatim: the agent's prompt is part of the measured setup (a paraphrase is a different task), so
these are copied from the paper's configs rather than rewritten:
- system, instance, observation and format-error templates: Evaluation/Agentic/SWE-Bench/mini-swe-agent/
  src/minisweagent/config/benchmarks/swebench_klear.yaml (ContextAwareRL commit 4580269); the training
  config Training/SkyRL/examples/train/mini_swe_agent/swebench.yaml (commit e8fc363) has the same four;
- the timeout message: mini-swe-agent's default `timeout_template` (neither yaml overrides it);
- the turn reminder: the paper's training generator (SkyRL mini_swe_generator.py, commit 008ead1,
  DefaultAgentWithReminder), appended to observations during RL only (the evaluation config has none).

mini-swe-agent renders them with Jinja, which drops one trailing newline; the constants here are the
rendered text. `{{task}}` is written `{task}` (str.format); the texts hold no other braces.
"""

from __future__ import annotations

SUBMIT_COMMAND = "echo MINI_SWE_AGENT_FINAL_OUTPUT && git add -A && git diff --cached"

SYSTEM_TEMPLATE = """\
You are a helpful assistant that can interact multiple times with a computer shell to solve programming tasks.
Your response must contain exactly ONE bash code block with ONE command (or commands connected with && or ||).

Include a THOUGHT section before your command where you explain your reasoning process.
Format your response as shown in <format_example>.

<format_example>
THOUGHT: Your reasoning and analysis here

```bash
your_command_here
```
</format_example>

Failure to follow these rules will cause your response to be rejected."""

INSTANCE_TEMPLATE = """\
<pr_description>
Consider the following PR description:
{task}
</pr_description>

<instructions>
# Task Instructions

## Overview
You're a software engineer interacting continuously with a computer by submitting commands.
You'll be helping implement necessary changes to meet requirements in the PR description.
Your task is specifically to make changes to non-test files in the current directory in order to fix the issue \
described in the PR description in a way that is general and consistent with the codebase.

IMPORTANT: This is an interactive process where you will think and issue ONE command, see its result, then think \
and issue your next command.

For each response:
1. Include a THOUGHT section explaining your reasoning and what you're trying to accomplish
2. Provide exactly ONE bash command to execute

## Important Boundaries
- MODIFY: Regular source code files in /testbed (this is the working directory for all your subsequent commands)
- DO NOT MODIFY: Tests, configuration files (pyproject.toml, setup.cfg, etc.)

## Recommended Workflow
1. Analyze the codebase by finding and reading relevant files
2. Create a script to reproduce the issue
3. Edit the source code to resolve the issue
4. Verify your fix works by running your script again
5. Test edge cases to ensure your fix is robust

## Command Execution Rules
You are operating in an environment where
1. You write a single command
2. The system executes that command in a subshell
3. You see the result
4. You write your next command

Each response should include:
1. A **THOUGHT** section where you explain your reasoning and plan
2. A single bash code block with your command

Format your responses like this:

<format_example>
THOUGHT: Here I explain my reasoning process, analysis of the current situation,
and what I'm trying to accomplish with the command below.

```bash
your_command_here
```
</format_example>

Commands must be specified in a single bash code block:

```bash
your_command_here
```

**CRITICAL REQUIREMENTS:**
- Your response SHOULD include a THOUGHT section explaining your reasoning
- Your response MUST include EXACTLY ONE bash code block
- This bash block MUST contain EXACTLY ONE command (or a set of commands connected with && or ||)
- If you include zero or multiple bash blocks, or no command at all, YOUR RESPONSE WILL FAIL
- Do NOT try to run multiple independent commands in separate blocks in one response
- Directory or environment variable changes are not persistent. Every action is executed in a new subshell.
- However, you can prefix any action with `MY_ENV_VAR=MY_VALUE cd /path/to/working/dir && ...` or write/load \
environment variables from files

Example of a CORRECT response:
<example_response>
THOUGHT: I need to understand the structure of the repository first. Let me check what files are in the current \
directory to get a better understanding of the codebase.

```bash
ls -la
```
</example_response>

Example of an INCORRECT response:
<example_response>
THOUGHT: I need to examine the codebase and then look at a specific file. I'll run multiple commands to do this.

```bash
ls -la
```

Now I'll read the file:

```bash
cat file.txt
```
</example_response>

If you need to run multiple commands, either:
1. Combine them in one block using && or ||
```bash
command1 && command2 || echo "Error occurred"
```

2. Wait for the first command to complete, see its output, then issue the next command in your following response.

## Environment Details
- You have a full Linux shell environment
- Always use non-interactive flags (-y, -f) for commands
- Avoid interactive tools like vi, nano, or any that require user input
- If a command isn't available, you can install it

## Useful Command Examples

### Create a new file:
```bash
cat <<'EOF' > newfile.py
import numpy as np
hello = "world"
print(hello)
EOF
```

### Edit files with sed:
```bash
# Replace all occurrences
sed -i 's/old_string/new_string/g' filename.py

# Replace only first occurrence
sed -i 's/old_string/new_string/' filename.py

# Replace first occurrence on line 1
sed -i '1s/old_string/new_string/' filename.py

# Replace all occurrences in lines 1-10
sed -i '1,10s/old_string/new_string/g' filename.py
```

### View file content:
```bash
# View specific lines with numbers
nl -ba filename.py | sed -n '10,20p'
```

### Any other command you want to run
```bash
anything
```

## Submission
When you've completed your work (reading, editing, testing), and cannot make further progress
issue exactly the following command:

```bash
echo MINI_SWE_AGENT_FINAL_OUTPUT && git add -A && git diff --cached
```

This command will submit your work.
You cannot continue working (reading, editing, testing) in any way on this task after submitting.
</instructions>"""

FORMAT_ERROR = """\
Please always provide EXACTLY ONE action in triple backticks, found {n} actions.

Please format your action in triple backticks as shown in <response_example>.

<response_example>
Here are some thoughts about why you want to perform the action.

```bash
<action>
```
</response_example>

If you have completed your assignment, please consult the first message about how to
submit your solution (you will not be able to continue working on this task after that)."""

TIMEOUT_MESSAGE = ("The last command <command>{command}</command> timed out and has been killed.\n"
                   "The output of the command was:\n <output>\n{output}\n</output>\n"
                   "Please try another command and make sure to avoid those requiring interactive input.")

TOO_LONG = """\
<warning>
The output of your last command was too long.
Please try a different command that produces less output.
If you're looking at a file you can try use head, tail or sed to view a smaller number of lines selectively.
If you're using grep or find and it produced too much output, you can use a more selective search pattern.
If you really need to see something from the full command's output, you can redirect output to a file and then \
search in that file.
</warning>"""


def observation(returncode: int, output: str, max_chars: int = 10_000) -> str:
    """The yaml's observation_template: the output whole below `max_chars` characters (10,000 in the
    paper), else a warning plus its first and last max_chars/2 characters."""
    if len(output) < max_chars:
        return f"<returncode>{returncode}</returncode>\n<output>\n{output}</output>"
    half = max_chars // 2
    return (f"<returncode>{returncode}</returncode>\n{TOO_LONG}<output_head>\n{output[:half]}\n</output_head>\n"
            f"<elided_chars>\n{len(output) - max_chars} characters elided\n</elided_chars>\n"
            f"<output_tail>\n{output[-half:]}\n</output_tail>")


def turn_reminder(remaining: int) -> str:
    """What the training generator appends to an observation when `remaining` turns are left."""
    if remaining == 1:
        return "\nREMINDER: You only have 1 turn left. Please provide the final answer"
    return f"\nREMINDER: You have {remaining} turns left to arrive at the solution." if remaining > 1 else ""


__all__ = ["FORMAT_ERROR", "INSTANCE_TEMPLATE", "SUBMIT_COMMAND", "SYSTEM_TEMPLATE", "TIMEOUT_MESSAGE", "TOO_LONG",
           "observation", "turn_reminder"]
