"""The fenced blocks of the project's docs, and what running them must show.

The conventions the docs follow (README.md, "Documented commands"):

- A ```sh block is a script: run with bash (`set -e -o pipefail`) in the project's
  root, every command must succeed; its output is not compared.
- A ```console block is a transcript: `$ COMMAND` lines (a trailing `\\` continues the
  command on the next line) and, under each, what it prints (standard output and standard
  error together). A command must exit 0 unless the next one is `echo $?`, which shows the
  code. A line `...` (indented or not) in the output stands for any number of lines.
- A block whose first line is `# file: PATH` (any language) is the content of PATH:
  it is written there before the blocks after it run.
- A ```sh or ```console block whose first line is `# not run by tests: REASON` is left
  out, for the reason given (deploys to AWS, starts a server, is the test suite itself).

Output is compared line by line after two normalisations: trailing white space is
dropped, and a policy revision (12 hexadecimal digits) reads `REVISION` on both sides,
since it changes with every edit of the policy's text.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
                   re.S | re.M)
FILE_MARK = re.compile(r"^# file: (?P<path>\S+)\s*$")
NO_RUN_MARK = re.compile(r"^# not run by tests:(?P<reason>.*)$")
RUNNABLE = ("sh", "console")
ELISION = "..."
REVISION = re.compile(r"(?<![0-9a-z])[0-9a-f]{12}(?![0-9a-z])")


@dataclass(frozen=True)
class Block:
    """One fenced block: where it starts, its language and its body (indentation removed)."""
    doc: str
    line: int
    lang: str
    body: str

    @property
    def where(self) -> str:
        return f"{self.doc}:{self.line}"

    @property
    def first_line(self) -> str:
        return self.body.split("\n", 1)[0]

    @property
    def file(self) -> str | None:
        """The file this block is the content of (`# file: PATH`), if any."""
        found = FILE_MARK.match(self.first_line)
        return found["path"] if found else None

    @property
    def no_run_reason(self) -> str | None:
        """Why this block is not run (`# not run by tests: REASON`); '' when the reason is missing."""
        found = NO_RUN_MARK.match(self.first_line)
        return found["reason"].strip() if found else None

    @property
    def runs(self) -> bool:
        return self.lang in RUNNABLE and self.no_run_reason is None


def blocks(path: Path, root: Path) -> list[Block]:
    """Every fenced block of a Markdown file, in order."""
    text = path.read_text(encoding="utf-8")
    found = []
    for match in FENCE.finditer(text):
        indent = len(match["indent"])
        body = "".join(line[indent:] if line.startswith(" " * indent) else line.lstrip(" ")
                       for line in match["body"].splitlines(keepends=True))
        line = text.count("\n", 0, match.start()) + 1
        found.append(Block(path.relative_to(root).as_posix(), line, match["lang"], body))
    return found


@dataclass(frozen=True)
class Step:
    """One `$ COMMAND` of a console block and the output the doc shows for it."""
    command: str
    expected: list[str]
    shows_exit_code: bool = False    # the next command is `echo $?`


def transcript(body: str) -> list[Step]:
    """A console block as commands and their shown output; output before any command is an error."""
    steps: list[tuple[list[str], list[str]]] = []
    continuing = False
    for line in body.rstrip("\n").split("\n"):
        if continuing:
            steps[-1][0].append(line)
        elif line.startswith("$ "):
            steps.append(([line[2:]], []))
        elif not steps:
            raise ValueError(f"output before the first `$ ` command: {line!r}")
        else:
            steps[-1][1].append(line)
        continuing = line.endswith("\\") and (continuing or line.startswith("$ "))
    commands = ["\n".join(command) for command, _ in steps]
    return [Step(command, output, i + 1 < len(commands) and commands[i + 1].strip() == "echo $?")
            for i, (command, (_, output)) in enumerate(zip(commands, steps))]


def normalise(lines: list[str]) -> list[str]:
    """What comparison ignores: trailing white space and the revision hash of a policy."""
    return [REVISION.sub("REVISION", line.rstrip()) for line in lines]


def _pattern(lines: list[str]) -> str:
    return "".join(r"(?:[^\n]*\n)*?" if line.strip() == ELISION else re.escape(line + "\n") for line in lines)


def mismatch(expected: list[str], actual: list[str]) -> str | None:
    """None when `actual` is what the doc shows, else the first shown line it does not match.

    Line by line after normalising; an `...` line of `expected` matches any run of lines.
    """
    want, got = normalise(expected), normalise(actual)
    text = "".join(line + "\n" for line in got)
    if re.fullmatch(_pattern(want), text):
        return None
    for count in range(1, len(want) + 1):
        if not re.match(_pattern(want[:count]), text):
            return f"line {count} of the shown output: {expected[count - 1]!r}"
    return "the output goes on after the last line shown (end it with `...`?)"
