"""Cross toolchain steps for the execution benchmark: compile, assemble, link, run.

Every step is a subprocess with a timeout; none raises on a failing tool, they
return a `Step` that says what happened so the caller can record it.
"""
from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import COMPILERS, GCC, compile_argv

GAS = "aarch64-linux-gnu-as"
QEMU = "qemu-aarch64"
OPT_LEVELS = ("O0", "O2")
# No unwind tables, no debug info: the .s holds only what the function needs.
ASM_FLAGS = ["-fno-asynchronous-unwind-tables", "-fno-unwind-tables", "-g0"]

COMPILE_TIMEOUT_S = 60.0
TOOL_TIMEOUT_S = 30.0


@dataclass
class Step:
    ok: bool
    output: str = ""      # stderr+stdout, trimmed
    returncode: int | None = None
    timed_out: bool = False
    seconds: float = 0.0


def run_tool(argv: list[str], timeout: float, cwd: Path | None = None) -> Step:
    start = time.monotonic()
    try:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, errors="replace", timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        parts = [p.decode(errors="replace") if isinstance(p, bytes) else p for p in (exc.stdout, exc.stderr) if p]
        return Step(False, "".join(parts)[-2000:], None, True, time.monotonic() - start)
    except OSError as exc:  # tool missing
        return Step(False, f"{argv[0]}: {exc}", None, False, time.monotonic() - start)
    out = (proc.stdout + proc.stderr).strip()
    return Step(proc.returncode == 0, out[-2000:], proc.returncode, False, time.monotonic() - start)


def compile_to_asm(compiler: str, opt: str, source: Path, out: Path) -> Step:
    """C -> .s with the benchmark's flags."""
    return run_tool(compile_argv(compiler, opt, source, out, *ASM_FLAGS), COMPILE_TIMEOUT_S)


def compile_to_object(compiler: str, opt: str, source: Path, out: Path) -> Step:
    return run_tool([*COMPILERS[compiler], f"-{opt}", "-c", str(source), "-o", str(out)], COMPILE_TIMEOUT_S)


def assemble(asm: Path, out: Path) -> Step:
    return run_tool([GAS, str(asm), "-o", str(out)], TOOL_TIMEOUT_S)


def link_static(objects: list[Path], out: Path) -> Step:
    return run_tool([GCC, "-static", *map(str, objects), "-o", str(out)], TOOL_TIMEOUT_S)


def run_program(binary: Path, timeout: float) -> Step:
    """Run a static AArch64 binary under qemu user mode (no binfmt here)."""
    return run_tool([QEMU, str(binary)], timeout, cwd=binary.parent)
