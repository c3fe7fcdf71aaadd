"""Find the functions in compiler output, cut holes, put fills back, compare.

Kept independent of `asm_lsp.syntax` on purpose: the benchmark must not share
bugs with the server it measures. Lines are 0-based here, like the LSP.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass

HOLE_KINDS = {"line": 1, "block": 3}  # kind -> number of consecutive instruction lines

_LABEL_DEF = re.compile(r"^\s*([A-Za-z_.$][\w.$]*|\d+):")
_TYPE_FUNCTION = re.compile(r"^\s*\.type\s+([\w.$]+)\s*,\s*[%@]function")
_SIZE = re.compile(r"^\s*\.size\s+([\w.$]+)\s*,")
_LOCAL_REF = re.compile(r"(?<![\w.$])(\.L[\w.$]+)")


def strip_comment(line: str) -> str:
    """Drop a `//` comment (AArch64 gas); compiler output has no strings on code lines."""
    cut = line.find("//")
    return line if cut < 0 else line[:cut]


def is_instruction(line: str) -> bool:
    code = strip_comment(line).strip()
    if not code or code.startswith((".", "#", "@")):
        return False
    return not _LABEL_DEF.match(code)


@dataclass(frozen=True)
class FunctionBody:
    name: str
    first_line: int   # line after `name:`
    last_line: int    # line before `.size name, ...` (inclusive)


def function_bodies(lines: list[str]) -> list[FunctionBody]:
    """Functions declared `.type NAME, %function` (gcc) or `@function` (clang)."""
    names = {m.group(1) for line in lines if (m := _TYPE_FUNCTION.match(line))}
    bodies: list[FunctionBody] = []
    for name in sorted(names):
        label = next((i for i, line in enumerate(lines) if line.strip().split("//")[0].strip() == f"{name}:"), None)
        size = next((i for i, line in enumerate(lines) if (m := _SIZE.match(line)) and m.group(1) == name), None)
        if label is not None and size is not None and size > label:
            bodies.append(FunctionBody(name, label + 1, size - 1))
    return bodies


def candidate_starts(lines: list[str], n_lines: int) -> list[int]:
    """Starts of runs of `n_lines` consecutive instruction lines inside function bodies."""
    starts: list[int] = []
    for body in function_bodies(lines):
        for start in range(body.first_line, body.last_line - n_lines + 2):
            if all(is_instruction(lines[i]) for i in range(start, start + n_lines)):
                starts.append(start)
    return starts


@dataclass(frozen=True)
class Hole:
    case: str
    compiler: str
    opt: str
    kind: str         # "line" | "block"
    start: int        # 0-based first line of the hole
    n_lines: int
    asm: str          # the whole original .s

    @property
    def id(self) -> str:
        return f"{self.case}/{self.compiler}-{self.opt}/{self.kind}@{self.start + 1}"

    @property
    def lines(self) -> list[str]:
        return self.asm.split("\n")

    @property
    def original(self) -> str:
        """The removed text (the oracle's answer), lines joined with `\\n`."""
        return "\n".join(self.lines[self.start:self.start + self.n_lines])

    def holed_text(self) -> str:
        """The document the filler sees: the hole's lines become one empty line."""
        lines = self.lines
        return "\n".join(lines[:self.start] + [""] + lines[self.start + self.n_lines:])

    def filled_text(self, middle: str, end_line: int | None = None, end_col: int = 0) -> str:
        """Insert `middle` at (start, 0) of the holed text, replacing up to
        (end_line, end_col) when the filler gave a range (0-based, code points)."""
        holed = self.holed_text().split("\n")
        end_line = self.start if end_line is None else end_line
        end_line = min(max(end_line, self.start), len(holed) - 1)
        head = "\n".join(holed[:self.start])
        tail = "\n".join([holed[end_line][end_col:]] + holed[end_line + 1:])
        return (head + "\n" if self.start else "") + middle + tail


def pick_holes(case: str, compiler: str, opt: str, asm: str, per_kind: int, seed: int) -> list[Hole]:
    """`per_kind` holes of each kind, chosen with a seed that depends on the
    configuration only, so adding a case does not move the others' holes."""
    lines = asm.split("\n")
    holes: list[Hole] = []
    for kind, n_lines in HOLE_KINDS.items():
        starts = candidate_starts(lines, n_lines)
        rng = random.Random(f"{seed}:{case}:{compiler}:{opt}:{kind}")
        for start in sorted(rng.sample(starts, min(per_kind, len(starts)))):
            holes.append(Hole(case, compiler, opt, kind, start, n_lines, asm))
    return holes


def normalize_code(text: str) -> list[str]:
    """Code lines without comments and blank lines; whitespace runs collapsed and
    no spaces around commas, so `add x0,x0, 1` equals `add\\tx0, x0, 1`."""
    out = []
    for line in text.split("\n"):
        code = " ".join(strip_comment(line).split())
        code = re.sub(r"\s*,\s*", ",", code)
        if code:
            out.append(code)
    return out


def undefined_local_labels(asm: str) -> list[str]:
    """`.L` labels referenced but never defined. GNU as accepts these (they become
    undefined symbols) and only the link fails, so we name them ourselves."""
    defined: set[str] = set()
    used: list[str] = []
    for line in asm.split("\n"):
        code = strip_comment(line)
        m = _LABEL_DEF.match(code)
        if m:
            defined.add(m.group(1))
            code = code[m.end():]
        used.extend(_LOCAL_REF.findall(code))
    return sorted({name for name in used if name not in defined})
