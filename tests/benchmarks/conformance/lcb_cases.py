"""Golden LiveCodeBench cases: (problem, program, official verdict, semantic verdict).

The official verdicts were derived by reading lcb_runner/evaluation/testing_util.py (run_test,
grade_stdio, grade_call_based; LiveCodeBench/LiveCodeBench @28fef95) and checked once against that
file run unmodified, outside this repository. Each program is tiny; the stdin problem is "N, then N
integers: print their sum", the functional ones are named in PROBLEMS.
"""

from __future__ import annotations

SUM_TESTS = [{"input": "3\n1 2 3\n", "output": "6\n", "testtype": "stdin"}]
SUM2_TESTS = SUM_TESTS + [{"input": "2\n10 20\n", "output": "30\n", "testtype": "stdin"}]


def fn_tests(*pairs):
    return [{"input": i, "output": o, "testtype": "functional"} for i, o in pairs]


PROBLEMS = {
    "sum": (None, SUM_TESTS),     # one test keeps the suite fast; every quirk shows on the first test
    "sum2": (None, SUM2_TESTS),   # a second test, for programs that are right on the first only
    # indices of the pairs summing to target, as [[i, j], ...]
    "pairs": ("pairs", fn_tests(("[1, 2, 3, 4]\n5", "[[0, 3], [1, 2]]"), ("[1, 1]\n2", "[[0, 1]]"))),
    "count": ("count", fn_tests(("[1, 2, 3]", "3"), ("[]", "0"))),          # len(nums)
    "has": ("has", fn_tests(("[1, 2]\n3", "true"), ("[1, 2]\n4", "false"))),  # does a pair sum to target?
    "half": ("half", fn_tests(("3", "1.5"), ("4", "2"))),                      # n / 2
}

READ2 = "n = int(input())\nxs = list(map(int, input().split()))\n"
PAIRS = ("class Solution:\n    def pairs(self, nums, target):\n        out = []\n"
         "        for i in range(len(nums)):\n            for j in range(i + 1, len(nums)):\n"
         "                if nums[i] + nums[j] == target:\n                    out.append({ret})\n"
         "        return {wrap}\n")


def pairs(ret="[i, j]", wrap="out"):
    return PAIRS.format(ret=ret, wrap=wrap)


# name: (problem, program, official passes, semantic passes)
STDIN = {
    "input": ("sum", READ2 + "print(sum(xs))", True, True),
    "sys.stdin.read": ("sum", "import sys\nd = sys.stdin.read().split()\nprint(sum(map(int, d[1:])))", True, True),
    "sys.stdin.readline": ("sum", ("import sys\nn = int(sys.stdin.readline())\n"
                                  "print(sum(map(int, sys.stdin.readline().split())))"), True, True),
    "input = sys.stdin.readline": ("sum", "import sys\ninput = sys.stdin.readline\n" + READ2 + "print(sum(xs))",
                                   True, True),
    "sys.stdin.readline()[:-1]": ("sum", ("import sys\nn = int(sys.stdin.readline()[:-1])\n"
                                         "print(sum(map(int, sys.stdin.readline()[:-1].split())))"), True, True),
    "sys.stdin.readlines": ("sum", "import sys\nls = sys.stdin.readlines()\nprint(sum(map(int, ls[1].split())))",
                            True, True),
    "sys.stdin.read().splitlines": ("sum", ("import sys\nls = sys.stdin.read().splitlines()\n"
                                           "print(sum(map(int, ls[1].split())))"), True, True),
    "iter(sys.stdin.readline, '')": ("sum", ("import sys\nls = list(iter(sys.stdin.readline, ''))\n"
                                            "print(sum(map(int, ls[1].split())))"), True, True),
    "input() until EOFError": ("sum", ("ls = []\nwhile True:\n    try:\n        ls.append(input())\n"
                                      "    except EOFError:\n        break\nprint(sum(map(int, ls[1].split())))"),
                               True, True),
    "sys.stdin.buffer.read": ("sum", "import sys\nd = sys.stdin.buffer.read().split()\nprint(sum(map(int, d[1:])))",
                              True, True),
    "sys.stdin.buffer.readline": ("sum", ("import sys\nn = int(sys.stdin.buffer.readline())\n"
                                         "print(sum(map(int, sys.stdin.buffer.readline().split())))"), False, True),
    "input = sys.stdin.buffer.readline": ("sum", "import sys\ninput = sys.stdin.buffer.readline\n" + READ2
                                          + "print(sum(xs))", False, True),
    "for line in sys.stdin": ("sum", ("import sys\nls = [line for line in sys.stdin]\n"
                                     "print(sum(map(int, ls[1].split())))"), False, True),
    "enumerate(sys.stdin)": ("sum", ("import sys\nfor k, line in enumerate(sys.stdin):\n    if k == 1:\n"
                                    "        print(sum(map(int, line.split())))"), False, True),
    "open(0).read": ("sum", "d = open(0).read().split()\nprint(sum(map(int, d[1:])))", False, True),
    "open(0) unpacking": ("sum", "n, *xs = map(int, open(0).read().split())\nprint(sum(xs))", False, True),
    "os.read(0)": ("sum", "import os\nd = os.read(0, 1 << 20).split()\nprint(sum(map(int, d[1:])))", False, True),
    "sys.__stdin__": ("sum", "import sys\nd = sys.__stdin__.read().split()\nprint(sum(map(int, d[1:])))",
                      False, True),
    "from sys import stdin: readline": ("sum", ("from sys import stdin\nn = int(stdin.readline())\n"
                                               "print(sum(map(int, stdin.readline().split())))"), True, True),
    "from sys import stdin: read": ("sum", "from sys import stdin\nprint(sum(map(int, stdin.read().split()[1:])))",
                                    True, True),
    "from sys import stdin: buffer": ("sum", ("from sys import stdin\nd = stdin.buffer.read().split()\n"
                                             "print(sum(map(int, d[1:])))"), False, True),
    "exit() at the end": ("sum", READ2 + "print(sum(xs))\nexit()", True, True),
    "exit() early": ("sum", READ2 + "if n > 0:\n    print(sum(xs))\n    exit()\nprint(0)", True, True),
    "sys.exit(0)": ("sum", "import sys\n" + READ2 + "print(sum(xs))\nsys.exit(0)", True, True),
    "raise SystemExit": ("sum", READ2 + "print(sum(xs))\nraise SystemExit", True, True),
    "quit()": ("sum", READ2 + "print(sum(xs))\nquit()", False, True),
    "numpy": ("sum", "import numpy as np\n" + READ2 + "print(int(np.array(xs).sum()))", True, True),
    "numpy + buffer.read": ("sum", ("import sys\nimport numpy as np\n"
                                   "a = np.array(sys.stdin.buffer.read().split()[1:], dtype=np.int64)\n"
                                   "print(a.sum())"), True, True),
    "module-level global": ("sum", "total = 0\ndef add(x):\n    global total\n    total += x\n" + READ2
                                   + "for x in xs:\n    add(x)\nprint(total)", False, True),
    "nonlocal-free closure": ("sum", "acc = []\ndef add(x):\n    acc.append(x)\n" + READ2
                                     + "for x in xs:\n    add(x)\nprint(sum(acc))", True, True),
    "main guard last": ("sum", "def main():\n    " + READ2.replace("\n", "\n    ") + "print(sum(xs))\n"
                               'if __name__ == "__main__":\n    main()', True, True),
    "main guard not last": ("sum", "def main():\n    " + READ2.replace("\n", "\n    ") + "print(sum(xs))\n"
                                   "if __name__ == '__main__':\n    main()\nDEBUG = False", False, True),
    "main guard reversed": ("sum", "def main():\n    " + READ2.replace("\n", "\n    ") + "print(sum(xs))\n"
                                   "if '__main__' == __name__:\n    main()", False, True),
    "class Solution in a stdin program": ("sum", "class Solution:\n    def solve(self, xs):\n        return sum(xs)\n"
                                                 + READ2 + "print(Solution().solve(xs))", False, True),
    "from __future__": ("sum", "from __future__ import annotations\n" + READ2 + "print(sum(xs))", False, True),
    "import resource": ("sum", "import resource\n" + READ2 + "print(sum(xs))", False, True),
    "sys.stdout.write": ("sum", "import sys\n" + READ2 + "sys.stdout.write(str(sum(xs)) + '\\n')", True, True),
    "print(file=sys.stdout)": ("sum", "import sys\n" + READ2 + "print(sum(xs), file=sys.stdout)", True, True),
    "from sys import stdout": ("sum", "from sys import stdout\n" + READ2 + "stdout.write(str(sum(xs)) + '\\n')",
                               False, True),
    "os.write(1)": ("sum", "import os\n" + READ2 + "os.write(1, (str(sum(xs)) + '\\n').encode())", False, True),
    "debug on stderr": ("sum", "import sys\n" + READ2 + "print('debug', xs, file=sys.stderr)\nprint(sum(xs))",
                        True, True),
    "float spelling 6.0": ("sum", READ2 + "print(float(sum(xs)))", True, True),
    "trailing blank line": ("sum", READ2 + "print(sum(xs))\nprint()", True, True),
    "wrong answer": ("sum", READ2 + "print(sum(xs) + 1)", False, False),
    "public only": ("sum2", "print(6)", False, False),
    "both tests": ("sum2", READ2 + "print(sum(xs))", True, True),
    "runtime error": ("sum", READ2 + "print(sum(xs) // 0)", False, False),
    "syntax error": ("sum", "print(sum(", False, False),
}

CALL = {
    "list of lists": ("pairs", pairs(), True, True),
    "list of tuples": ("pairs", pairs(ret="(i, j)"), False, True),
    "tuple of tuples": ("pairs", pairs(ret="(i, j)", wrap="tuple(out)"), False, True),
    "tuple of lists": ("pairs", pairs(wrap="tuple(out)"), True, True),
    "module-level function": ("pairs", ("def pairs(nums, target):\n    return [[i, j] for i in range(len(nums)) "
                                       "for j in range(i + 1, len(nums)) if nums[i] + nums[j] == target]"),
                              True, True),
    "numpy int64": ("count", ("import numpy as np\nclass Solution:\n    def count(self, nums):\n"
                             "        return np.int64(len(nums))"), True, True),
    "numpy array": ("pairs", ("import numpy as np\nclass Solution:\n    def pairs(self, nums, target):\n"
                             "        return np.array([[i, j] for i in range(len(nums)) for j in range(i + 1, len(nums))"
                             " if nums[i] + nums[j] == target])"), False, True),
    "int for bool": ("has", ("class Solution:\n    def has(self, nums, t):\n"
                            "        return int(any(a + b == t for a in nums for b in nums if a is not b))"), True, True),
    "bool": ("has", ("class Solution:\n    def has(self, nums, t):\n"
                    "        return any(a + b == t for a in nums for b in nums if a is not b)"), True, True),
    "float for int": ("count", "class Solution:\n    def count(self, nums):\n        return float(len(nums))",
                      True, True),
    "exact float": ("half", "class Solution:\n    def half(self, n):\n        return n / 2", True, True),
    "float off by rounding": ("half", "class Solution:\n    def half(self, n):\n        return n * 0.1 * 5",
                              False, False),
    "set for list": ("pairs", "class Solution:\n    def pairs(self, nums, target):\n        return {(0, 3), (1, 2)}",
                     False, False),
    "prints noise": ("count", ("class Solution:\n    def count(self, nums):\n        print('noise')\n"
                              "        return len(nums)"), True, True),
    "module-level state": ("count", ("CALLS = 0\nclass Solution:\n    def count(self, nums):\n        global CALLS\n"
                                    "        CALLS += 1\n        return len(nums)"), True, True),
    "missing method": ("count", "class Solution:\n    def size(self, nums):\n        return len(nums)", False, False),
    "raises": ("count", "class Solution:\n    def count(self, nums):\n        return nums[10]", False, False),
    "exit() in a method": ("count", "class Solution:\n    def count(self, nums):\n        exit()", False, False),
}

# completions whose extraction differs: (problem, completion, official passes, semantic passes)
FENCE = "```python\n{}\n```"
GOOD = READ2 + "print(sum(xs))"
EXTRACTION = {
    "no code block": ("sum", "The answer is to sum the numbers.", False, False),
    "unterminated fence": ("sum", "```python\n" + GOOD, False, False),
    "last block wins": ("sum", FENCE.format("print(0)") + "\nBetter:\n" + FENCE.format(GOOD), True, True),
    "draft in think, answer after": ("sum", "<think>\n" + FENCE.format("print(0)") + "\n</think>\n"
                                     + FENCE.format(GOOD), True, True),
    "code only inside think": ("sum", "<think>\n" + FENCE.format(GOOD) + "\n</think>\nI am done.", True, False),
}
