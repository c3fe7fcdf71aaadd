"""Pipeline analysis with llvm-mca: what it reads, how it runs, what its report says.

No LSP imports. :func:`build_input` turns a function or a range of lines into text
llvm-mca takes (instructions and labels; directives dropped; numeric labels renamed,
since llvm-mca cannot resolve ``1b``/``1f``), keeping the map back to source lines.
:func:`run_mca` runs the program (from the user's settings or the default search,
never a shell, always with a time limit) and :func:`parse_report` reads its summary:
cycles per iteration, IPC, the resource pressure per unit and the bottleneck
(``-bottleneck-analysis``). Lines are 0-based here; llvm-mca's messages are 1-based.
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass, field

from asm_lsp.syntax import ParsedDocument

#: Searched in this order when no program is set (Debian names versioned ones llvm-mca-NN).
CANDIDATES = ("llvm-mca",) + tuple(f"llvm-mca-{v}" for v in range(22, 12, -1))
#: CPU and feature names go on llvm-mca's command line: letters, digits and . _ - + , only.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+,-]*$")
#: Directives that put bytes in the section: llvm-mca cannot analyse them, so they are named as skipped.
_DATA_DIRECTIVES = frozenset((".inst", ".word", ".long", ".int", ".quad", ".xword", ".dword", ".byte", ".hword",
                              ".short", ".2byte", ".4byte", ".8byte", ".ascii", ".asciz", ".string", ".zero",
                              ".space", ".skip", ".fill"))


class McaError(Exception):
    """llvm-mca is missing, hung, failed, or there is nothing to analyse; the message says what next."""


@dataclass(frozen=True)
class McaInput:
    """What llvm-mca reads. ``source_lines[i]`` is the 0-based source line of input line ``i``."""

    text: str
    source_lines: tuple[int, ...]
    instructions: int
    skipped: tuple[tuple[int, str], ...] = ()  # (0-based source line, what was left out)


@dataclass(frozen=True)
class Bottleneck:
    """One line of llvm-mca's bottleneck analysis: ``depth`` 0 for a cause, 1 for its parts."""

    label: str
    percent: float
    depth: int


@dataclass
class McaReport:
    cpu: str
    iterations: int = 0
    instructions: int = 0
    total_cycles: int = 0
    dispatch_width: int = 0
    ipc: float = 0.0
    block_rthroughput: float = 0.0
    pressure: list[tuple[str, float]] = field(default_factory=list)  # resource unit, cycles per iteration
    backend_pressure: float | None = None  # % of cycles with backend pressure increase
    bottlenecks: list[Bottleneck] = field(default_factory=list)
    critical_sequence: str = ""
    messages: list[tuple[int | None, str]] = field(default_factory=list)  # (0-based source line or None, text)
    skipped: list[tuple[int, str]] = field(default_factory=list)

    @property
    def cycles_per_iteration(self) -> float:
        return self.total_cycles / self.iterations if self.iterations else 0.0

    def bottleneck(self) -> str:
        """One phrase: the main cause of lost cycles and its biggest part, or that none was found."""
        causes = [b for b in self.bottlenecks if b.depth == 0 and b.percent > 0]
        if self.backend_pressure is None or not causes:
            return "none found (no resource or data dependency bottleneck)"
        main = max(causes, key=lambda b: b.percent)
        index = self.bottlenecks.index(main)
        parts = []
        for b in self.bottlenecks[index + 1:]:
            if b.depth == 0:
                break
            parts.append(b)
        part = max(parts, key=lambda b: b.percent, default=None)
        detail = f" ({part.label})" if part is not None and part.percent > 0 else ""
        return f"{main.label.lower()}{detail.lower()}: {main.percent:.1f}% of cycles"

    def as_dict(self) -> dict:
        """Plain JSON for clients and tests."""
        return {
            "cpu": self.cpu, "iterations": self.iterations, "instructions": self.instructions,
            "totalCycles": self.total_cycles, "cyclesPerIteration": round(self.cycles_per_iteration, 3),
            "blockRThroughput": self.block_rthroughput, "ipc": self.ipc, "dispatchWidth": self.dispatch_width,
            "resourcePressure": [{"resource": r, "cycles": c} for r, c in self.pressure],
            "backendPressurePercent": self.backend_pressure,
            "bottleneck": self.bottleneck(),
            "bottlenecks": [{"label": b.label, "percent": b.percent, "depth": b.depth} for b in self.bottlenecks],
            "messages": [{"line": line, "message": text} for line, text in self.messages],
            "skipped": [{"line": line, "what": what} for line, what in self.skipped],
        }

    def markdown(self, where: str, detail: bool = True) -> str:
        """The summary as Markdown; ``where`` names what was analysed (lines are 1-based there)."""
        per_block = self.instructions // self.iterations if self.iterations else 0
        rows = [
            f"**Pipeline analysis** (llvm-mca, `{self.cpu}`) of {where}",
            "",
            "| | |",
            "|---|---|",
            f"| cycles per iteration | {self.cycles_per_iteration:.2f} "
            f"(block reciprocal throughput {self.block_rthroughput:g}) |",
            f"| IPC | {self.ipc:.2f} ({per_block} instructions, dispatch width {self.dispatch_width}) |",
            f"| bottleneck | {self.bottleneck()} |",
        ]
        busy = sorted((p for p in self.pressure if p[1] > 0), key=lambda p: -p[1])
        if busy:
            shown = busy if detail else busy[:6]
            rows += ["", "Resource pressure per iteration: " + " · ".join(f"`{r}` {c:.2f}" for r, c in shown)
                     + (" …" if len(shown) < len(busy) else "")]
        if detail and self.bottlenecks:
            rows += ["", "```", *(f"{'  ' * b.depth}{b.label} {b.percent:.2f}%" for b in self.bottlenecks), "```"]
        if detail and self.critical_sequence:
            rows += ["", "Critical sequence:", "```", self.critical_sequence, "```"]
        notes = [f"line {line + 1}: {text}" if line is not None else text for line, text in self.messages]
        notes += [f"line {line + 1}: {what} left out" for line, what in self.skipped]
        if notes:
            shown_notes = notes if detail else notes[:3]
            rows += ["", *(f"- {n}" for n in shown_notes)]
            if len(shown_notes) < len(notes):
                rows.append(f"- … {len(notes) - len(shown_notes)} more")
        return "\n".join(rows)


def valid_name(value: str) -> bool:
    """A CPU or feature list llvm-mca may be given (``neoverse-n1``, ``+sve,+crc``)."""
    return bool(_NAME.match(value)) and len(value) <= 200


def find_mca(path: str = "") -> str:
    """The llvm-mca program: ``path`` (a user setting) or the first of CANDIDATES on PATH."""
    if path:
        found = shutil.which(path) if os.sep not in path else (path if os.access(path, os.X_OK) else None)
        if not found:
            raise McaError(f"llvm-mca {path!r} (asmLsp.analysis.mcaPath) not found or not executable; "
                           "fix the setting or clear it to use llvm-mca from PATH")
        return found
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise McaError("llvm-mca not found (tried llvm-mca, llvm-mca-22 … llvm-mca-13); install LLVM "
                   "(Debian: apt-get install llvm) or set asmLsp.analysis.mcaPath in your user settings")


def build_input(doc: ParsedDocument, first_line: int, last_line: int) -> McaInput:
    """The instructions and labels of 0-based lines ``first_line``..``last_line`` (inclusive).

    Directives are dropped (``.cfi_*``, ``.loc``, ``.p2align``… change nothing llvm-mca models);
    those that emit data and statements the parser cannot read (macro calls) are listed in
    ``skipped``. Numeric labels become ``.Lmca_<line>_<n>`` and their ``1b``/``1f`` references
    follow (llvm-mca rejects ``b.ne 1b``).
    """
    first_line = max(0, first_line)
    last_line = min(last_line, len(doc.lines) - 1)
    out: list[str] = []
    lines: list[int] = []
    skipped: list[tuple[int, str]] = []
    count = 0
    numeric_refs: dict[int, list] = {}
    for ref in doc.refs:
        if ref.numeric and first_line <= ref.line <= last_line:
            numeric_refs.setdefault(ref.line, []).append(ref)
    for line in range(first_line, last_line + 1):
        text = doc.lines[line]
        for statement in doc.statements_on(line):
            if statement.kind == "label":
                name = statement.name
                if name.isdigit():
                    name = f".Lmca_{line}_{name}"
                out.append(f"{name}:")
                lines.append(line)
            elif statement.kind == "instruction":
                body = text[statement.start:statement.end]
                for ref in sorted(numeric_refs.get(line, ()), key=lambda r: -r.start):
                    if statement.start <= ref.start and ref.end <= statement.end:
                        digits = ref.name.rstrip("bfBF")
                        target = f".Lmca_{ref.target_line}_{digits}" if ref.target_line is not None \
                            else f".Lmca_undefined_{ref.name}"
                        at, end = ref.start - statement.start, ref.end - statement.start
                        body = body[:at] + target + body[end:]
                out.append("\t" + body.strip())
                lines.append(line)
                count += 1
            elif statement.kind == "directive" and statement.name in _DATA_DIRECTIVES:
                skipped.append((line, f"`{statement.name}` (data)"))
            elif statement.kind == "unknown":
                skipped.append((line, f"`{text[statement.start:statement.end].strip()[:40]}` (not an instruction)"))
    return McaInput("\n".join(out) + "\n", tuple(lines), count, tuple(skipped))


def run_mca(program: str, mca_input: McaInput, cpu: str, mattr: str = "", timeout_s: float = 10.0) -> McaReport:
    """Run llvm-mca on ``mca_input`` for ``cpu`` and parse its report; raise McaError with a reason."""
    if mca_input.instructions == 0:
        raise McaError("no instructions to analyse here (llvm-mca needs at least one instruction)")
    if not valid_name(cpu):
        raise McaError(f"asmLsp.analysis.cpu {cpu!r} is not a CPU name (e.g. cortex-a72, neoverse-n1, apple-m1)")
    argv = [program, "-mtriple=aarch64", f"-mcpu={cpu}", "-bottleneck-analysis"]
    if mattr:
        if not valid_name(mattr.lstrip("+-")):
            raise McaError(f"asmLsp.analysis.mattr {mattr!r} is not a feature list (e.g. +sve,+crc)")
        argv.append(f"-mattr={mattr}")
    argv.append("-")
    stdout, stderr, returncode = _run(argv, mca_input.text, timeout_s)
    report = parse_report(stdout, stderr, mca_input, cpu)
    if report.iterations == 0:
        first = next((m for _, m in report.messages), None) or (stderr.strip().splitlines() or [""])[0]
        raise McaError(f"llvm-mca ({program}) gave no analysis (exit code {returncode}): {first or 'no output'}")
    return report


def _run(argv: list[str], text: str, timeout_s: float) -> tuple[str, str, int]:
    """Run without a shell in its own process group, so a timeout stops its children too."""
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, shell=False)
    except OSError as exc:
        raise McaError(f"could not run llvm-mca {argv[0]}: {exc.strerror or exc}") from exc
    try:
        out, err = proc.communicate(text.encode("utf-8", "surrogatepass"), timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        raise McaError(f"llvm-mca {argv[0]} took longer than {timeout_s:g} s and was stopped "
                       "(asmLsp.analysis.timeoutMs)") from None
    return out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), proc.returncode


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()
    try:
        proc.communicate(timeout=2)
    except (subprocess.TimeoutExpired, OSError, ValueError):
        pass


_FIELD = re.compile(r"^(Iterations|Instructions|Total Cycles|Dispatch Width|IPC|Block RThroughput):\s+([\d.]+)\s*$")
_RESOURCE = re.compile(r"^\[([\d.]+)\]\s+-\s+(\S+)")
_PERCENT = re.compile(r"^(\s*)(?:-\s+)?(.*?):?\s*\[\s*([\d.]+)%\s*\]\s*$")
_MESSAGE = re.compile(r"^(?:<stdin>|-):(\d+):(\d+): (error|warning): (.*)$")


def parse_report(stdout: str, stderr: str, mca_input: McaInput, cpu: str) -> McaReport:
    """Read llvm-mca's default text report (LLVM 14-20 print the same sections)."""
    report = McaReport(cpu=cpu, skipped=list(mca_input.skipped))
    lines = stdout.splitlines()
    resources: list[tuple[str, str]] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        match = _FIELD.match(line)
        if match:
            key, value = match.groups()
            if key == "Iterations":
                report.iterations = int(value)
            elif key == "Instructions":
                report.instructions = int(value)
            elif key == "Total Cycles":
                report.total_cycles = int(value)
            elif key == "Dispatch Width":
                report.dispatch_width = int(value)
            elif key == "IPC":
                report.ipc = float(value)
            else:
                report.block_rthroughput = float(value)
        elif line.startswith("Cycles with backend pressure increase"):
            found = _PERCENT.match(line)
            report.backend_pressure = float(found.group(3)) if found else None
            i += 1
            while i < len(lines) and lines[i].strip() and not lines[i].startswith("Critical sequence"):
                found = _PERCENT.match(lines[i])
                if found:
                    depth = 1 if lines[i].lstrip().startswith("-") else 0
                    report.bottlenecks.append(Bottleneck(found.group(2).strip(), float(found.group(3)), depth))
                i += 1
            continue
        elif line.startswith("Critical sequence based on the simulation"):
            block = []
            i += 1
            while i < len(lines) and not lines[i].startswith(("Instruction Info:", "Resources:")):
                block.append(lines[i].rstrip())
                i += 1
            report.critical_sequence = "\n".join(block).strip("\n")
            continue
        elif line.startswith("Resources:"):
            i += 1
            while i < len(lines) and _RESOURCE.match(lines[i]):
                found = _RESOURCE.match(lines[i])
                resources.append((found.group(1), found.group(2)))  # type: ignore[union-attr]
                i += 1
            continue
        elif line.startswith("Resource pressure per iteration:") and i + 2 < len(lines):
            values = lines[i + 2].split()
            names = _unit_names(resources)
            for name, value in zip(names, values):
                report.pressure.append((name, 0.0 if value == "-" else float(value)))
            i += 3
            continue
        i += 1
    for raw in stderr.splitlines():
        found = _MESSAGE.match(raw.strip())
        if found:
            at = int(found.group(1)) - 1
            source = mca_input.source_lines[at] if 0 <= at < len(mca_input.source_lines) else None
            report.messages.append((source, f"{found.group(3)}: {found.group(4)}"))
        elif raw.startswith(("warning: ", "error: ")) or "is not a recognized processor" in raw:
            text = raw.strip()
            if (None, text) not in report.messages:
                report.messages.append((None, text))
        elif raw.startswith("note: ") and report.messages and report.messages[-1][0] is None:
            report.messages[-1] = (None, f"{report.messages[-1][1]} ({raw[6:].strip()})")
    return report


def _unit_names(resources: list[tuple[str, str]]) -> list[str]:
    """Resource names, with llvm-mca's unit index where one resource has several units (``N1UnitI.1``)."""
    counts: dict[str, int] = {}
    for _, name in resources:
        counts[name] = counts.get(name, 0) + 1
    return [f"{name}.{index.split('.', 1)[1]}" if counts[name] > 1 and "." in index else name
            for index, name in resources]
