"""Compile C fixtures to AArch64 assembly with the real cross compilers, for tests.

Test data: tests/fixtures/c/*.c. Everything goes to a caller-given temporary folder.
Callers skip when `available()` is False (the compilers are not installed).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent / "fixtures"
C_SOURCES = sorted((FIXTURES / "c").glob("*.c"))
ASM_FIXTURES = FIXTURES / "asm"
OPT_LEVELS = ("-O0", "-O1", "-O2", "-O3")

COMPILERS: dict[str, list[str]] = {
    "gcc": ["aarch64-linux-gnu-gcc", "-S"],
    "clang": [
        "clang", "--target=aarch64-linux-gnu", "--sysroot=/usr/aarch64-linux-gnu", "-fno-addrsig", "-S",
    ],
}
ASSEMBLER = "aarch64-linux-gnu-as"
NM = "aarch64-linux-gnu-nm"


def available() -> bool:
    return all(shutil.which(tool) for tool in ("aarch64-linux-gnu-gcc", "clang", ASSEMBLER, NM))


@dataclass(frozen=True)
class Compiled:
    source: Path
    compiler: str
    opt: str
    asm: Path

    @property
    def id(self) -> str:
        return f"{self.source.stem}-{self.compiler}{self.opt}"


def compile_c(source: Path, out_dir: Path, compiler: str, opt: str, unwind_tables: bool = True) -> Compiled:
    """Compile one C file to `.s`; raises CalledProcessError with the compiler's message."""
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = "" if unwind_tables else "-nounwind"
    asm = out_dir / f"{source.stem}-{compiler}{opt}{suffix}.s"
    command = COMPILERS[compiler] + [opt, str(source), "-o", str(asm)]
    if not unwind_tables:
        command.insert(-3, "-fno-asynchronous-unwind-tables")
    subprocess.run(command, check=True, capture_output=True, text=True)
    return Compiled(source, compiler, opt, asm)


def assemble(asm: Path, obj: Path) -> subprocess.CompletedProcess[str]:
    """Run the GNU assembler; the caller checks returncode / stderr."""
    return subprocess.run([ASSEMBLER, str(asm), "-o", str(obj)], capture_output=True, text=True)


def nm_symbols(obj: Path) -> list[tuple[str, str]]:
    """(type letter, name) for every symbol `nm` lists (defined and undefined)."""
    out = subprocess.run([NM, str(obj)], check=True, capture_output=True, text=True).stdout
    symbols = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2:
            symbols.append((parts[-2], parts[-1]))
    return symbols


def defined_functions(obj: Path) -> set[str]:
    """Names nm marks as text symbols (T/t global or local, W weak)."""
    return {name for kind, name in nm_symbols(obj) if kind in "TtWi"}


def undefined_symbols(obj: Path) -> set[str]:
    return {name for kind, name in nm_symbols(obj) if kind == "U"}
