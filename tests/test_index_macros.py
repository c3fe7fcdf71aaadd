"""The workspace index hands function macros from one file to the files that invoke them.

Test data: tests/fixtures/handwritten/ffstyle/ (asm.S defines `function`, `endfunc` and
`const`; blend_neon.S uses them) and tests/fixtures/handwritten/libfoo/aarch64/asm.S
(another project's `function`).
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

from asm_lsp.syntax import parse
from asm_lsp.workspace.index import WorkspaceIndex

HW = ROOT / "tests" / "fixtures" / "handwritten"
ASM_S = HW / "ffstyle" / "libutil" / "aarch64" / "asm.S"
BLEND = HW / "ffstyle" / "libcodec" / "aarch64" / "blend_neon.S"
OTHER_ASM_S = HW / "libfoo" / "aarch64" / "asm.S"


def test_a_file_indexed_before_its_macros_is_parsed_again_in_place() -> None:
    index = WorkspaceIndex()
    blend = parse(BLEND.read_text())
    index.put(BLEND.as_uri(), blend)
    assert "blend_weights" not in {d.name for d in blend.labels}  # `const` is not known yet
    index.put(ASM_S.as_uri(), parse(ASM_S.read_text()))
    assert set(blend.external_roles) == {"function", "endfunc", "const"}  # the same object, parsed again
    assert [d.defined_by for d in blend.definitions("blend_weights")] == ["const"]
    assert index.definitions(BLEND.as_uri(), "blend_weights")[0][1].line == 13
    assert [(u, d.line) for u, d in index.definitions(BLEND.as_uri(), "movrel")] == [(ASM_S.as_uri(), 40)]
    index.remove(ASM_S.as_uri())
    assert blend.external_roles == {} and "blend_weights" not in {d.name for d in blend.labels}


def test_of_two_projects_the_included_asm_s_wins() -> None:
    index = WorkspaceIndex()
    for path in (OTHER_ASM_S, ASM_S, BLEND):
        index.put(path.as_uri(), parse(path.read_text()))
    assert {u for u, _ in index.definitions(BLEND.as_uri(), "function")} == {OTHER_ASM_S.as_uri(), ASM_S.as_uri()}
    index.include_lookup = lambda uri, lines: [ASM_S.as_uri()] if uri == BLEND.as_uri() else []
    index.put(BLEND.as_uri(), parse(BLEND.read_text()))  # a new parse: the includes are asked again
    assert [u for u, _ in index.definitions(BLEND.as_uri(), "function")] == [ASM_S.as_uri()]
    movrel = index.references(BLEND.as_uri(), "movrel")
    assert sorted({p.uri for p in movrel}) == sorted({ASM_S.as_uri(), BLEND.as_uri()})  # not libfoo's
