"""Assembly for tests and benchmarks: C fixtures compiled with the real cross compilers,
big documents made from them, and a small hand-checked function.

Test data: tests/fixtures/c/*.c (compiled into a caller-given folder), tests/fixtures/
workspace/*.s and asm/*.s (where the compilers are missing), FACT. Tests that need the
compilers carry ``@pytest.mark.compilers`` (tests/conftest.py skips them where absent).
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.common import CLANG, COMPILERS, GCC, compile_argv  # noqa: F401 - COMPILERS: the tests loop over it

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"
C_SOURCES = sorted((FIXTURES / "c").glob("*.c"))
ASM_FIXTURES = FIXTURES / "asm"
OPT_LEVELS = ("-O0", "-O1", "-O2", "-O3")
ASSEMBLER = "aarch64-linux-gnu-as"
NM = "aarch64-linux-gnu-nm"

# ``long fact(long n)`` as aarch64-linux-gnu-gcc -O1 -S writes it.
FACT = """\
\t.align\t2
\t.global\tfact
\t.type\tfact, %function
fact:
.LFB1:
\t.cfi_startproc
\tcmp\tx0, 1
\tbgt\t.L13
\tmov\tx0, 1
\tret
.L13:
\tstp\tx29, x30, [sp, -32]!
\tmov\tx29, sp
\tstr\tx19, [sp, 16]
\tmov\tx19, x0
\tsub\tx0, x0, #1
\tbl\tfact
\tmul\tx0, x0, x19
\tldr\tx19, [sp, 16]
\tldp\tx29, x30, [sp], 32
\tret
\t.cfi_endproc
.LFE1:
\t.size\tfact, .-fact
"""
LINES = FACT.split("\n")
MUL = LINES.index("\tmul\tx0, x0, x19")


def available() -> bool:
    """The cross compilers, assembler and nm are installed."""
    return all(shutil.which(tool) for tool in (GCC, CLANG, ASSEMBLER, NM))


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
    flags = () if unwind_tables else ("-fno-asynchronous-unwind-tables",)
    subprocess.run(compile_argv(compiler, opt, source, asm, *flags), check=True, capture_output=True, text=True)
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


@functools.lru_cache(maxsize=1)
def compiled_texts() -> tuple[str, ...]:
    """Every C fixture through gcc -O2 and clang -O1 (none where the compilers are missing)."""
    texts: list[str] = []
    if available():
        with tempfile.TemporaryDirectory() as tmp:
            for source in C_SOURCES:
                for compiler, opt in (("gcc", "-O2"), ("clang", "-O1")):
                    out = Path(tmp) / f"{source.stem}.{compiler}.s"
                    if subprocess.run(compile_argv(compiler, opt, source, out), capture_output=True).returncode == 0:
                        texts.append(out.read_text())
    return tuple(texts)


def fixture_texts() -> list[str]:
    """The hand-written and committed .s fixtures."""
    return [p.read_text() for p in sorted((FIXTURES / "workspace").glob("*.s")) + sorted(ASM_FIXTURES.glob("*.s"))]


def corpus() -> tuple[str, ...]:
    """Compiled fixtures, then the .s fixtures: documents to fuzz and to stress with."""
    return compiled_texts() + tuple(fixture_texts())


def sample_text() -> str:
    """Real compiler output (both compilers, all fixtures) as one text; the .s fixtures
    where the compilers are missing."""
    return "\n".join(compiled_texts() or fixture_texts())


def big_text(chars: int) -> str:
    """``sample_text()`` repeated to at least ``chars`` characters, labels renamed per copy."""
    sample = sample_text()
    names = sorted(set(re.findall(r"^([A-Za-z_.$][\w.$]*):", sample, re.M)), key=len, reverse=True)
    pattern = re.compile(r"(?<![\w.$])(" + "|".join(re.escape(n) for n in names) + r")(?![\w$])")
    parts, size, i = [], 0, 0
    while size < chars:
        part = pattern.sub(lambda m: f"{m.group(1)}_{i}", sample)
        parts.append(part)
        size += len(part)
        i += 1
    return "".join(parts)


def first_function(text: str) -> tuple[str, int, int]:
    """(name, line, column) of the first `bl NAME` in ``text`` whose NAME is defined there."""
    head = text[:2_000_000]
    for number, line in enumerate(head.split("\n")):
        m = re.match(r"\s*bl\s+([A-Za-z_]\w*)", line)
        if m and re.search(r"^" + re.escape(m.group(1)) + ":", head, re.M):
            return m.group(1), number, m.start(1)
    raise AssertionError("no call in the sample")
