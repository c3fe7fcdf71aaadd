"""The syntax model against real gcc and clang output at -O0..-O3.

Test data: tests/fixtures/c/*.c compiled by bench/samples.py into a temporary folder
(aarch64-linux-gnu-gcc -S and clang --target=aarch64-linux-gnu -S); `as` and `nm`
give the ground truth for functions and symbols.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from asm_lsp.syntax import normalize_function, parse, split_functions
from bench import samples

pytestmark = pytest.mark.compilers

CASES = [(source, compiler, opt) for source in samples.C_SOURCES for compiler in samples.COMPILERS for opt in samples.OPT_LEVELS]


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory):
    """Compile and assemble each case once: (asm text, object path)."""
    root = tmp_path_factory.mktemp("asmgen")
    done: dict[tuple, tuple[str, Path]] = {}

    def get(source: Path, compiler: str, opt: str, unwind_tables: bool = True) -> tuple[str, Path]:
        key = (source, compiler, opt, unwind_tables)
        if key not in done:
            compiled = samples.compile_c(source, root, compiler, opt, unwind_tables)
            obj = compiled.asm.with_suffix(".o")
            result = samples.assemble(compiled.asm, obj)
            assert result.returncode == 0, result.stderr
            done[key] = (compiled.asm.read_text(), obj)
        return done[key]

    return get


def _ids(case) -> str:
    source, compiler, opt = case
    return f"{source.stem}-{compiler}{opt}"


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_every_function_nm_defines_is_split(build, case) -> None:
    text, obj = build(*case)
    pieces = split_functions(text)
    assert {p.name for p in pieces} == samples.defined_functions(obj)
    lines = parse(text).lines
    previous_end = -1
    for piece in pieces:
        # Pieces are the file's own lines, in order, without overlap.
        assert piece.start_line > previous_end
        assert piece.text == "\n".join(lines[piece.start_line : piece.end_line + 1])
        previous_end = piece.end_line
        body = piece.text.splitlines()
        assert f"{piece.name}:" in [line.split("//")[0].strip() for line in body]
        size_lines = [i for i, line in enumerate(body) if line.split()[:2] == [".size", f"{piece.name},"]]
        assert size_lines, f"{piece.name} has no .size line"
        assert all(line.split()[0] == ".cfi_endproc" for line in body[size_lines[-1] + 1 :])


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_refs_are_symbols_the_object_knows(build, case) -> None:
    """Every non-numeric ref is a label of the file or an undefined symbol nm reports,
    and every undefined symbol is referenced: so no registers/keywords leak in."""
    text, obj = build(*case)
    doc = parse(text)
    defined = {label.name for label in doc.labels}
    undefined = samples.undefined_symbols(obj)
    names = {ref.name for ref in doc.refs if not ref.numeric}
    assert names - defined == undefined
    for ref in doc.refs:
        assert doc.lines[ref.line][ref.start : ref.end].startswith(ref.name)


@pytest.mark.parametrize("opt", ["-O0", "-O2"])
@pytest.mark.parametrize("compiler", list(samples.COMPILERS))
def test_each_function_assembles_alone(build, tmp_path: Path, compiler: str, opt: str) -> None:
    for source in samples.C_SOURCES:
        text, _ = build(source, compiler, opt)
        for piece in split_functions(text):
            asm = tmp_path / f"{source.stem}-{piece.name}.s"
            asm.write_text("\t.text\n" + piece.text + "\n")
            result = samples.assemble(asm, asm.with_suffix(".o"))
            assert result.returncode == 0, f"{source.name} {piece.name}: {result.stderr}"
            assert piece.name in samples.defined_functions(asm.with_suffix(".o"))


@pytest.mark.parametrize("compiler", list(samples.COMPILERS))
def test_without_unwind_tables(build, compiler: str) -> None:
    for source in samples.C_SOURCES:
        text, obj = build(source, compiler, "-O1", unwind_tables=False)
        assert {p.name for p in split_functions(text)} == samples.defined_functions(obj)


def test_normalize_is_stable_across_label_numbering(build) -> None:
    """The same function compiled in two files with different .L numbering normalises
    to the same text."""
    text, _ = build(samples.FIXTURES / "c" / "bits.c", "gcc", "-O2")
    pieces = {p.name: p.text for p in split_functions(text)}
    alone = {p.name: p.text for p in split_functions("\n".join(pieces.values()))}
    assert alone.keys() == pieces.keys()
    renamed = pieces["popcount"].replace("popcount", "counter")
    assert normalize_function(pieces["popcount"]) == normalize_function(renamed, "counter")
    normal = normalize_function(pieces["popcount"])
    assert "FUNC:" in normal and ".cfi" not in normal and "//" not in normal and "\n\n" not in normal
