"""Run the real assembler on an unsaved buffer and parse what it says.

No LSP imports. The buffer goes in on stdin, the object file to /dev/null; the program
is run without a shell, from user settings or a fixed default list, never from a path
named by the workspace. Message lines are 1-based; :class:`AsmMessage` holds 0-based.
"""
from __future__ import annotations

import logging
import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from asm_lsp import textsync
from asm_lsp.syntax import parse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AsmMessage:
    """One assembler message. ``line`` is 0-based; ``column`` 0-based when known."""

    line: int
    severity: str  # "error" | "warning"
    message: str
    column: int | None = None


@dataclass(frozen=True)
class Assembler:
    """A resolved assembler command: ``argv`` ends where the input options go."""

    kind: str  # "gnu" | "llvm-mc"
    program: str
    flags: tuple[str, ...] = ()
    cpp_driver: str | None = None  # gcc driver used for .S (preprocessed) buffers

    def describe(self) -> str:
        return " ".join([self.program, *self.flags])


@dataclass
class AssembleResult:
    messages: list[AsmMessage] = field(default_factory=list)
    failed_to_run: str | None = None  # why the assembler could not be run (timeout, missing...)


class AssemblerNotFound(Exception):
    pass


_GNU_CANDIDATES = ("aarch64-linux-gnu-as", "aarch64-none-elf-as", "aarch64-elf-as")
_LLVM_CANDIDATES = ("llvm-mc",) + tuple(f"llvm-mc-{v}" for v in range(22, 12, -1))


def _kind_of(program: str) -> str:
    return "llvm-mc" if "llvm-mc" in Path(program).name else "gnu"


def find_assembler(path: str = "", flags: list[str] | tuple[str, ...] = ()) -> Assembler:
    """Resolve the assembler from a user-set ``path`` or the default search order.

    Raises :class:`AssemblerNotFound` with a message that says what to install or set.
    """
    if path:
        resolved = shutil.which(path) if os.sep not in path else (path if os.access(path, os.X_OK) else None)
        if not resolved:
            raise AssemblerNotFound(
                f"assembler {path!r} (asmLsp.assembler.path) not found or not executable; "
                "fix the setting or clear it to use aarch64-linux-gnu-as / llvm-mc"
            )
        return _with_driver(Assembler(_kind_of(resolved), resolved, tuple(flags)))
    for name in _GNU_CANDIDATES:
        found = shutil.which(name)
        if found:
            return _with_driver(Assembler("gnu", found, tuple(flags)))
    for name in _LLVM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return Assembler("llvm-mc", found, tuple(flags))
    if platform.machine() in ("aarch64", "arm64") and shutil.which("as"):
        return Assembler("gnu", shutil.which("as") or "as", tuple(flags))
    raise AssemblerNotFound(
        "no AArch64 assembler found (tried aarch64-linux-gnu-as, llvm-mc); install binutils-aarch64-linux-gnu "
        "or llvm, or set asmLsp.assembler.path. Diagnostics are off; everything else keeps working."
    )


def _with_driver(asm: Assembler) -> Assembler:
    if asm.kind != "gnu":
        return asm
    driver = Path(asm.program).with_name(Path(asm.program).name[: -len("as")] + "gcc")
    if Path(asm.program).name.endswith("-as") and driver.exists():
        return Assembler(asm.kind, asm.program, asm.flags, str(driver))
    return asm


_GNU_LINE = re.compile(r"^(?P<file>[^:]*):(?P<line>\d+): (?P<sev>Error|Warning|Fatal error|Info): (?P<msg>.*)$")
# llvm-mc, and the C preprocessor in front of GNU as for .S buffers
_LLVM_LINE = re.compile(r"^(?P<file>[^:]*):(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning|note|fatal error): (?P<msg>.*)$")
_BUFFER_NAMES = ("{standard input}", "<stdin>", "-")


def parse_messages(kind: str, output: str) -> list[AsmMessage]:
    """Parse assembler output into messages for the buffer itself (1-based lines in, 0-based out)."""
    messages: list[AsmMessage] = []
    patterns = (_LLVM_LINE,) if kind == "llvm-mc" else (_GNU_LINE, _LLVM_LINE)
    for raw in output.splitlines():
        match = next((m for m in (p.match(raw.strip()) for p in patterns) if m), None)
        if not match or match.group("file") not in _BUFFER_NAMES:
            continue
        severity = match.group("sev").lower()
        if severity == "note":
            continue
        severity = "warning" if severity in ("warning", "info") else "error"  # "fatal error" too
        column = int(match.group("col")) - 1 if "col" in match.groupdict() else None
        messages.append(AsmMessage(max(0, int(match.group("line")) - 1), severity, match.group("msg"), column))
    return messages


def assemble(asm: Assembler, text: str, preprocess: bool = False, include_dir: Path | None = None,
             timeout_s: float = 5.0) -> AssembleResult:
    """Assemble ``text`` (the unsaved buffer) and return its messages.

    ``preprocess`` runs the C preprocessor first (``.S`` files) through the gcc driver
    next to the assembler, when there is one.
    """
    if asm.kind == "llvm-mc":
        argv = [asm.program, "--triple=aarch64", "-filetype=obj", "-o", os.devnull, *asm.flags]
    elif preprocess and asm.cpp_driver:
        argv = [asm.cpp_driver, "-c", "-x", "assembler-with-cpp", "-o", os.devnull, *asm.flags]
        if include_dir is not None:
            argv += ["-I", str(include_dir)]
        argv.append("-")
    else:
        argv = [asm.program, "-o", os.devnull, *asm.flags]
    try:
        proc = subprocess.run(
            argv, input=text.encode("utf-8", "surrogatepass"), capture_output=True, timeout=timeout_s,
            shell=False, stdin=None, check=False,
        )
    except subprocess.TimeoutExpired:
        return AssembleResult(failed_to_run=f"assembler {asm.program} took longer than {timeout_s:.1f} s and was stopped")
    except OSError as exc:
        return AssembleResult(failed_to_run=f"could not run assembler {asm.program}: {exc}")
    output = proc.stderr.decode("utf-8", "replace") + proc.stdout.decode("utf-8", "replace")
    messages = parse_messages(asm.kind, output)
    if proc.returncode != 0 and not any(m.severity == "error" for m in messages):
        # e.g. a preprocessor error or a crash: keep the first line so the user sees something.
        first = next((line for line in output.splitlines() if line.strip()), f"exit code {proc.returncode}")
        messages.append(AsmMessage(0, "error", first.strip()))
    return AssembleResult(messages)


#: Bigger buffers are checked in CHECK_WINDOW_LINES lines either side of the insertion:
#: assembling and fully parsing a 50 MB buffer for each candidate took minutes and 1.7 GB.
CHECK_WINDOW_CHARS = 200_000
CHECK_WINDOW_LINES = 2_000  # longer than nearly every compiled function, so its .L labels are in


def insertion_assembles(asm: Assembler, text: str, line: int, col: int, insert: str, timeout_s: float) -> bool:
    """Does ``insert`` at (0-based line, code-point col) of ``text`` assemble cleanly?

    Only errors on the inserted lines count (the rest of a buffer being edited may be
    broken), and the inserted lines must not branch to ``.L`` labels the file lacks
    (in a big buffer: the window around them).
    """
    if len(text) > CHECK_WINDOW_CHARS:
        text, line = check_window(text, line)
    lines = text.split("\n")
    if not lines:
        return False
    line = max(0, min(line, len(lines) - 1))
    head, tail = lines[line][:col], lines[line][col:]
    new_lines = (head + insert + tail).split("\n")
    candidate = "\n".join(lines[:line] + new_lines + lines[line + 1:])
    first, last = line, line + len(new_lines) - 1
    result = assemble(asm, candidate, timeout_s=timeout_s)
    if result.failed_to_run:
        return True  # cannot check: do not hide suggestions because the assembler is unwell
    if any(m.severity == "error" and first <= m.line <= last for m in result.messages):
        return False
    doc = parse(candidate)
    defined = {d.name for d in doc.labels}
    for ref in doc.refs:
        if first <= ref.line <= last:
            if ref.numeric and ref.target_line is None:
                return False
            if ref.name.startswith(".L") and ref.name not in defined:
                return False
    return True


def check_window(text: str, line: int) -> tuple[str, int]:
    """The lines of ``text`` (split at "\\n") within CHECK_WINDOW_LINES of 0-based ``line``,
    and ``line``'s number among them (a line past the end counts as the last)."""
    first = max(0, line - CHECK_WINDOW_LINES)
    start = textsync.line_start(text, first)
    if start is None:  # past the end: the window before the last line
        line = text.count("\n")
        first = max(0, line - CHECK_WINDOW_LINES)
        start = textsync.line_start(text, first) or 0
    end = textsync.line_start(text, line - first + CHECK_WINDOW_LINES + 1, start)
    return text[start:end] if end is not None else text[start:], line - first
