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
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from asm_lsp import docs, textsync
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


@dataclass(frozen=True)
class IncludeFailure:
    """Why the buffer could not be preprocessed or assembled as a whole: an included file
    is missing (``missing`` names it) or failed in the preprocessor. ``line`` (0-based) is
    the buffer's line whose include leads there, when known."""

    message: str
    line: int = 0
    missing: str | None = None


@dataclass
class AssembleResult:
    messages: list[AsmMessage] = field(default_factory=list)
    failed_to_run: str | None = None  # why the assembler could not be run (timeout, missing...)
    include_failure: IncludeFailure | None = None  # then ``messages`` is empty: nothing else was checked


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
_LLVM_LINE = re.compile(r"^(?P<file>[^:]*):(?P<line>\d+):(?:(?P<col>\d+):)? (?P<sev>error|warning|note|fatal error): (?P<msg>.*)$")
_BUFFER_NAMES = ("{standard input}", "<stdin>", "-")


_INVOKED = re.compile(r"^(?P<file>[^:]*):(?P<line>\d+):\s+Info: macro invoked from here")


def parse_messages(kind: str, output: str) -> list[AsmMessage]:
    """Parse assembler output into messages for the buffer itself (1-based lines in, 0-based out).

    GNU as names the line inside a macro's body for an error in its expansion, then
    "macro invoked from here" for each level: the message moves to the outermost
    invocation in the buffer (the body may be in another file; its line numbers are not ours).
    """
    messages: list[AsmMessage] = []
    patterns = (_LLVM_LINE,) if kind == "llvm-mc" else (_GNU_LINE, _LLVM_LINE)
    last: AsmMessage | None = None  # the previous message, buffer or not, for "invoked from here"
    last_index: int | None = None
    for raw in output.splitlines():
        invoked = _INVOKED.match(raw.strip())
        if invoked:
            if last is not None and invoked.group("file") in _BUFFER_NAMES:
                moved = AsmMessage(int(invoked.group("line")) - 1, last.severity, last.message, None)
                if last_index is None:
                    messages.append(moved)
                    last_index = len(messages) - 1
                else:
                    messages[last_index] = moved
                last = moved
            continue
        match = next((m for m in (p.match(raw.strip()) for p in patterns) if m), None)
        if not match:
            continue
        severity = match.group("sev").lower()
        if severity == "note":
            continue
        severity = "warning" if severity in ("warning", "info") else "error"  # "fatal error" too
        column = int(match.group("col")) - 1 if match.groupdict().get("col") else None
        last = AsmMessage(max(0, int(match.group("line")) - 1), severity, match.group("msg"), column)
        last_index = None
        if match.group("file") in _BUFFER_NAMES:
            messages.append(last)
            last_index = len(messages) - 1
    return messages


_MISSING_CPP = re.compile(r"fatal error: (?P<name>.+?): No such file or directory")
_MISSING_AS = re.compile(r"can't open (?P<name>.+?) for reading: No such file or directory")
_INCLUDED_FROM = re.compile(r"(?:In file included|\s*) from (?P<file>[^:]*):(?P<line>\d+)[:,]")


def include_failure(kind: str, output: str) -> IncludeFailure | None:
    """A missing included file, or a preprocessor error inside an included file, in the
    output of the assembler (or of the gcc driver for ``.S``); None when there is none."""
    buffer_line: int | None = None
    for raw in output.splitlines():
        frm = _INCLUDED_FROM.match(raw)
        if frm and frm.group("file") in _BUFFER_NAMES:
            buffer_line = int(frm.group("line")) - 1
            continue
        match = _LLVM_LINE.match(raw.strip()) or _GNU_LINE.match(raw.strip())
        if match is None or match.group("sev").lower() not in ("error", "fatal error"):
            continue
        in_buffer = match.group("file") in _BUFFER_NAMES
        missing = _MISSING_CPP.search(raw) or _MISSING_AS.search(raw)
        line = int(match.group("line")) - 1 if in_buffer else (buffer_line or 0)
        if missing is not None:
            return IncludeFailure(match.group("msg"), line, missing.group("name"))
        if not in_buffer and match.re is _LLVM_LINE and kind == "gnu":  # cpp, in an included file
            return IncludeFailure(f"{match.group('file')}:{match.group('line')}: {match.group('msg')}", line)
    return None


def assemble(asm: Assembler, text: str, preprocess: bool = False, include_dir: Path | None = None,
             timeout_s: float = 5.0, cpp_args: Sequence[str] | None = None,
             as_args: Sequence[str] | None = None) -> AssembleResult:
    """Assemble ``text`` (the unsaved buffer) and return its messages.

    ``preprocess`` runs the C preprocessor first (``.S`` files) through the gcc driver
    next to the assembler, when there is one. ``cpp_args`` (``-iquote``/``-I``/``-D``/``-U``/
    ``-include`` with absolute paths, from :class:`asm_lsp.workspace.includes.SearchPlan`)
    go to the preprocessor, ``as_args`` (``-I``) to the assembler; without them the
    folder ``include_dir`` is searched. A missing include gives ``include_failure`` and
    no messages (the errors that follow from it are not the user's).
    """
    dirs = [str(include_dir)] if include_dir is not None else []
    as_search = list(as_args) if as_args is not None else [f"-I{d}" for d in dirs]
    if asm.kind == "llvm-mc":
        argv = [asm.program, "--triple=aarch64", "-filetype=obj", "-o", os.devnull, *asm.flags, *as_search]
    elif preprocess and asm.cpp_driver:
        argv = [asm.cpp_driver, "-c", "-x", "assembler-with-cpp", "-o", os.devnull, *asm.flags]
        argv += list(cpp_args) if cpp_args is not None else [f"-I{d}" for d in dirs]
        # .include inside a .S file: the assembler's own search path (a comma would split it).
        argv += [f"-Wa,{a}" for a in as_search if "," not in a]
        argv.append("-")
    else:
        argv = [asm.program, "-o", os.devnull, *asm.flags, *as_search]
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
    failure = include_failure(asm.kind, output) if proc.returncode != 0 else None
    if failure is not None:
        return AssembleResult(include_failure=failure)
    messages = parse_messages(asm.kind, output)
    if proc.returncode != 0 and not any(m.severity == "error" for m in messages):
        # e.g. an error inside an included file, or a crash: keep its first message so the user sees something.
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        first = next((line for line in lines if _GNU_LINE.match(line) or _LLVM_LINE.match(line)),
                     next(iter(lines), f"exit code {proc.returncode}"))
        messages.append(AsmMessage(0, "error", first))
    return AssembleResult(messages)


#: Bigger buffers are checked in CHECK_WINDOW_LINES lines either side of the insertion:
#: assembling and fully parsing a 50 MB buffer for each candidate took minutes and 1.7 GB.
CHECK_WINDOW_CHARS = 200_000
CHECK_WINDOW_LINES = 2_000  # longer than nearly every compiled function, so its .L labels are in


_CPP_DIRECTIVE = re.compile(r"^\s*#\s*(include|define|undef|if|ifdef|ifndef|elif|else|endif|error)\b")
_INCLUDE_LINE = re.compile(r"^\s*(#\s*include|\.include)\b", re.I)
_BLOCK_OPEN = re.compile(r"^\s*(?:[\w.$]+:\s*)?\.(macro|irp|irpc|rept)\b", re.I)
_BLOCK_CLOSE = re.compile(r"^\s*\.(endm|endr)\b", re.I)
#: Lines that define what code may use without emitting any: kept as the context of a
#: candidate checked on its own.
_DEFINING = re.compile(r"^\s*(\w+\s+\.(req|unreq)\b|\.(req|unreq|set|equ|equiv|eqv|arch|arch_extension|cpu)\b"
                       r"|[A-Za-z_.$][\w.$]*\s*=[^=]|#\s*(define|undef)\b)", re.I)
#: Errors that say only that something comes from elsewhere (an include, an equate).
_ELSEWHERE = ("undefined symbol", "is not defined")


def insertion_assembles(asm: Assembler, text: str, line: int, col: int, insert: str, timeout_s: float,
                        preprocess: bool = False, cpp_args: Sequence[str] | None = None,
                        as_args: Sequence[str] | None = None) -> bool:
    """Does ``insert`` at (0-based line, code-point col) of ``text`` assemble cleanly?

    Only errors on the inserted lines count (the rest of a buffer being edited may be
    broken), and the inserted lines must not branch to ``.L`` labels the file lacks
    (in a big buffer: the window around them).

    A hand-written file often cannot be assembled as it is here: its includes are not
    found (``cpp_args``/``as_args`` are the include search, see ``workspace.includes``),
    it needs the C preprocessor (``preprocess``: a ``.S`` file), or the candidate sits in
    a ``.macro``/``.irp``/``.rept`` body, which is assembled only where it is expanded.
    Then the candidate is checked on its own (see :func:`lines_assemble`), and what
    cannot be checked there is not held against it.
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
    uses_cpp = any(_CPP_DIRECTIVE.match(x) for x in lines)
    whole_file = not _inside_block(lines, line) and (preprocess or not uses_cpp) and (
        preprocess and cpp_args is not None or as_args is not None or not any(_INCLUDE_LINE.match(x) for x in lines))
    if whole_file:
        result = assemble(asm, candidate, preprocess, None, timeout_s, cpp_args, as_args)
        if result.failed_to_run:
            return True  # cannot check: do not hide suggestions because the assembler is unwell
        if result.include_failure is None:
            if any(m.severity == "error" and first <= m.line <= last for m in result.messages):
                return False
            return _local_refs_resolve(candidate, first, last)
    if not lines_assemble(asm, lines, line, new_lines, timeout_s, preprocess or uses_cpp, cpp_args, as_args):
        return False
    return _local_refs_resolve(candidate, first, last)


def _local_refs_resolve(candidate: str, first: int, last: int) -> bool:
    doc = parse(candidate)
    defined = {d.name for d in doc.labels}
    for ref in doc.refs:
        if first <= ref.line <= last:
            if ref.numeric and ref.target_line is None:
                return False
            if ref.name.startswith(".L") and ref.name not in defined:
                return False
    return True


def _inside_block(lines: list[str], line: int) -> bool:
    """Is 0-based ``line`` inside a ``.macro``/``.irp``/``.irpc``/``.rept`` body?"""
    depth = 0
    for text in lines[:line]:
        if _BLOCK_OPEN.match(text):
            depth += 1
        elif _BLOCK_CLOSE.match(text) and depth:
            depth -= 1
    return depth > 0


def lines_assemble(asm: Assembler, lines: list[str], line: int, new_lines: list[str], timeout_s: float,
                   preprocess: bool = False, cpp_args: Sequence[str] | None = None,
                   as_args: Sequence[str] | None = None) -> bool:
    """Check the candidate's lines ``new_lines`` (replacing 0-based ``line`` of ``lines``)
    on their own, after what the file defines without emitting code: its includes,
    ``.req`` aliases, equates, ``#define``s, ``.arch`` and its complete macros.

    Not held against a candidate: lines with macro parameters (``\\arg``: only an
    expansion has them); symbols the assembler cannot see (an equate in a missing include
    is an "undefined symbol"); and, when the includes cannot be read, unknown mnemonics
    and operand errors on lines that use names the file does not define (macros and
    register aliases from those includes).
    """
    if any("\\" in x for x in new_lines):
        return True
    context: list[str] = []
    depth, outer, outer_start = 0, "", 0
    for number, text in enumerate(lines):
        opened = _BLOCK_OPEN.match(text)
        if opened and depth == 0:
            outer, outer_start = opened.group(1).lower(), number
        depth += bool(opened)
        if depth:  # complete macros are definitions; .irp/.rept bodies and the candidate's own macro are not
            keep = outer == "macro" and not _block_holds(lines, outer_start, line)
        else:
            keep = bool(_DEFINING.match(text) or _INCLUDE_LINE.match(text))
        context.append(text if keep and number != line else "")  # "" keeps the line numbers
        if depth and _BLOCK_CLOSE.match(text):
            depth -= 1
    body = context[:line] + ["\t.text"] + new_lines
    first = line + 1
    last = first + len(new_lines) - 1
    # Without an include search the includes cannot be found (the assembler runs in the
    # server's folder): leave them out at once rather than fail on them first.
    readable = not (cpp_args is None and as_args is None and any(_INCLUDE_LINE.match(x) for x in body))
    if not readable:
        body = [("" if _INCLUDE_LINE.match(x) else x) for x in body]
    # The preprocessor only where something is left for it (gcc costs more than as alone).
    preprocess = preprocess and any(_CPP_DIRECTIVE.match(x) for x in body)
    result = assemble(asm, "\n".join(body) + "\n", preprocess, None, timeout_s, cpp_args, as_args)
    if result.include_failure is not None:
        readable = False
        body = [("" if _INCLUDE_LINE.match(x) else x) for x in body]
        result = assemble(asm, "\n".join(body) + "\n", preprocess, None, timeout_s, cpp_args, as_args)
    if result.failed_to_run or result.include_failure is not None:
        return True
    errors = [m for m in result.messages if m.severity == "error" and first <= m.line <= last
              and not any(e in m.message for e in _ELSEWHERE)]
    if not errors:
        return True
    if readable:
        return False
    defined = set()
    doc = parse("\n".join(lines))
    defined |= {d.name for d in doc.labels}
    for error in errors:
        statements = parse(body[error.line]).statements
        unknown = [s for s in statements if s.kind == "instruction" and docs.lookup_mnemonic(s.name) is None]
        foreign = [r for r in parse(body[error.line]).refs if r.name not in defined and not r.numeric]
        if not unknown and not foreign:
            return False
    return True


def _block_holds(lines: list[str], start: int, line: int) -> bool:
    """Does the block opened at ``start`` contain ``line`` (the candidate's own macro)?"""
    if start > line:
        return False
    depth = 0
    for text in lines[start:line]:
        if _BLOCK_OPEN.match(text):
            depth += 1
        elif _BLOCK_CLOSE.match(text):
            depth -= 1
    return depth > 0


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
