"""Macros and functions defined by macros over stdio, against the real server.

Test data: tests/fixtures/handwritten/ (copied to a temporary workspace): ffstyle/ has the
FFmpeg-style shared macros in libutil/aarch64/asm.S and blend_neon.S using them;
linux_style.S uses SYM_FUNC_START/SYM_FUNC_END, which no file defines (CONVENTIONS).
libfoo/ (the includes tests' project) defines its own `function` and `movrel` in its own
asm.S: definitions and references resolve through the file's includes to ffstyle's.
"""
from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from conftest import SERVER_ENV, server_command
from helpers import open_file

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "handwritten"
BLEND = Path("ffstyle/libcodec/aarch64/blend_neon.S")
ASM_S = Path("ffstyle/libutil/aarch64/asm.S")


@pytest.fixture(scope="module")
def hw_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("hw") / "project"
    shutil.copytree(FIXTURES, target)
    return target


@pytest_lsp.fixture(config=ClientServerConfig(server_command=server_command(), server_env=SERVER_ENV), scope="module")
async def hw(lsp_client: LanguageClient, hw_workspace: Path):
    params = types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        root_uri=hw_workspace.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=hw_workspace.as_uri(), name="project")],
    )
    await lsp_client.initialize_session(params)
    # The workspace scan runs after `initialized`: wait until asm.S's macros are indexed.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = await lsp_client.workspace_symbol_async(types.WorkspaceSymbolParams(query="movrel"))
        if found:
            break
        await asyncio.sleep(0.1)
    yield
    await lsp_client.shutdown_session()


def pos(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


def rng(l1: int, c1: int, l2: int, c2: int) -> types.Range:
    return types.Range(start=pos(l1, c1), end=pos(l2, c2))


def ident(uri: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri)


async def test_outline_has_macro_functions_and_macros(hw: LanguageClient, hw_workspace: Path):
    uri = await open_file(hw, hw_workspace / BLEND)
    result = await hw.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=ident(uri)))
    F, O, C, V = (types.SymbolKind.Function, types.SymbolKind.Operator, types.SymbolKind.Constant,
                  types.SymbolKind.Variable)
    assert [(s.name, s.kind, s.range.start.line, s.range.end.line) for s in result] == [
        ("BLEND_SHIFT", C, 2, 2), ("load_rows", O, 4, 11),
        ("blend_weights", V, 13, 13),  # `const` from asm.S defines data, not a function
        ("blend_rows_neon", F, 17, 24), ("blend_helper", F, 26, 29), ("blend_fn", O, 31, 36),
        ("avg_8bpc_neon", F, 38, 38), ("w_avg_10bpc_neon", F, 39, 39), ("blend_tail_neon", F, 41, 44),
    ]
    rows = result[3]
    assert rows.selection_range == rng(17, 9, 17, 24)
    assert [(c.name, c.selection_range.start.line) for c in rows.children] == [("1", 20)]
    assert result[1].detail == ".macro load_rows dst:req, src:req, n=4, rest:vararg"


async def test_definition_of_macros_and_macro_functions(hw: LanguageClient, hw_workspace: Path):
    uri = (hw_workspace / BLEND).as_uri()
    asm_uri = (hw_workspace / ASM_S).as_uri()

    async def definition(line: int, col: int):
        return await hw.text_document_definition_async(types.DefinitionParams(text_document=ident(uri),
                                                                              position=pos(line, col)))
    assert await definition(17, 3) == [types.Location(uri=asm_uri, range=rng(13, 8, 13, 16))]  # `function`
    assert await definition(24, 2) == [types.Location(uri=asm_uri, range=rng(14, 11, 14, 18))]  # `endfunc`, nested
    assert await definition(18, 10) == [types.Location(uri=asm_uri, range=rng(40, 8, 40, 14))]  # `movrel`
    assert await definition(21, 36) == [types.Location(uri=uri, range=rng(2, 8, 2, 19))]  # BLEND_SHIFT
    assert await definition(34, 20) == [types.Location(uri=uri, range=rng(26, 9, 26, 21))]  # b blend_helper
    assert await definition(38, 2) == [types.Location(uri=uri, range=rng(31, 8, 31, 16))]  # blend_fn avg, 8


async def test_references_of_a_macro_and_a_macro_function(hw: LanguageClient, hw_workspace: Path):
    uri = (hw_workspace / BLEND).as_uri()
    asm_uri = (hw_workspace / ASM_S).as_uri()
    movrel = await hw.text_document_references_async(types.ReferenceParams(
        text_document=ident(uri), position=pos(18, 10), context=types.ReferenceContext(include_declaration=True)))
    assert sorted((r.uri, r.range.start.line, r.range.start.character) for r in movrel) == sorted(
        [(asm_uri, 40, 8), (uri, 18, 8)])
    rows = await hw.text_document_references_async(types.ReferenceParams(
        text_document=ident(uri), position=pos(17, 12), context=types.ReferenceContext(include_declaration=True)))
    assert [(r.range.start.line, r.range.start.character) for r in rows] == [(17, 9), (42, 16)]


async def test_hover_on_a_macro_invocation_a_constant_and_a_macro_function(hw: LanguageClient, hw_workspace: Path):
    uri = (hw_workspace / BLEND).as_uri()

    async def hover(line: int, col: int) -> types.Hover | None:
        return await hw.text_document_hover_async(types.HoverParams(text_document=ident(uri), position=pos(line, col)))
    load_rows = await hover(19, 9)
    assert load_rows == types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value="\n".join([
        "**load_rows** — macro, blend_neon.S:5", "", "```asm",
        ".macro load_rows dst:req, src:req, n=4, rest:vararg",
        "        .irp i, 0, 1, 2, 3", "        ld1     {v\\i\\().16b}, [\\src], x2", "        .endr",
        "        .rept \\n", "        nop", "        .endr", ".endm", "```",
        "Parameters: `\\dst` (required), `\\src` (required), `\\n` (default `4`), `\\rest` (the rest of the arguments)",
    ])), range=rng(19, 8, 19, 17))
    function = await hover(17, 3)
    assert function.contents.value.startswith("**function** — macro, asm.S:14\n\n```asm\n.macro function name, export=0, align=2\n")
    assert function.contents.value.endswith(
        "Parameters: `\\name`, `\\export` (default `0`), `\\align` (default `2`)\n\n"
        "Begins a function named `\\name`, global when `export` is set.")
    constant = await hover(21, 36)
    assert constant.contents.value == "**BLEND_SHIFT** — constant, blend_neon.S:3\n\n```c\n#define BLEND_SHIFT 6\n```"
    made = await hover(17, 12)
    assert made.contents.value.startswith("**blend_rows_neon** — global function, blend_neon.S:18–25\n")


async def test_linux_style_by_convention(hw: LanguageClient, hw_workspace: Path):
    uri = await open_file(hw, hw_workspace / "linux_style.S")
    result = await hw.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=ident(uri)))
    assert [(s.name, s.kind, s.range.start.line, s.range.end.line) for s in result] == [
        ("copy_words", types.SymbolKind.Function, 5, 12), ("__zero_words", types.SymbolKind.Function, 14, 17),
        ("vector_entry", types.SymbolKind.Function, 19, 22), ("old_style", types.SymbolKind.Function, 24, 26)]
    hover = await hw.text_document_hover_async(types.HoverParams(text_document=ident(uri), position=pos(5, 4)))
    assert hover.contents.value == ("**SYM_FUNC_START** — macro, not defined in the workspace\n\n"
                                    "By the Linux `linkage.h` convention it begins a function named by its first argument.")
    definition = await hw.text_document_definition_async(types.DefinitionParams(
        text_document=ident(uri), position=pos(20, 16)))  # bl __zero_words
    assert definition == [types.Location(uri=uri, range=rng(14, 21, 14, 33))]
    symbols = await hw.workspace_symbol_async(types.WorkspaceSymbolParams(query="copy_words"))
    assert [(s.name, s.kind) for s in symbols] == [("copy_words", types.SymbolKind.Function)]


async def test_completion_offers_macros_and_params(hw: LanguageClient, hw_workspace: Path):
    path = hw_workspace / BLEND
    text = path.read_text().replace("        nop\n", "        mov x0, \\s\n        lo\n", 1)
    uri = await open_file(hw, path, text)
    in_body = await hw.text_document_completion_async(types.CompletionParams(text_document=ident(uri), position=pos(9, 18)))
    assert [(i.label, i.insert_text) for i in in_body.items] == [
        ("\\dst", "dst"), ("\\src", "src"), ("\\n", "n"), ("\\rest", "rest")]
    at_start = await hw.text_document_completion_async(types.CompletionParams(text_document=ident(uri), position=pos(10, 10)))
    labels = [i.label for i in at_start.items]
    assert {"load_rows", "blend_fn", "function", "endfunc", "movrel", "const"} <= set(labels)
    assert "BLEND_SHIFT" not in labels and "ldr" in labels
    operand = await hw.text_document_completion_async(types.CompletionParams(text_document=ident(uri), position=pos(22, 36)))  # #BLEND_SHIFT
    assert "BLEND_SHIFT" in [i.label for i in operand.items]
    hw.text_document_did_close(types.DidCloseTextDocumentParams(text_document=ident(uri)))


async def test_folding_macros_and_repetitions(hw: LanguageClient, hw_workspace: Path):
    uri = (hw_workspace / BLEND).as_uri()
    await open_file(hw, hw_workspace / BLEND)
    result = await hw.text_document_folding_range_async(types.FoldingRangeParams(text_document=ident(uri)))
    assert [(r.start_line, r.end_line) for r in result] == [
        (4, 11), (5, 7), (8, 10), (17, 24), (26, 29), (31, 36), (41, 44)]  # .macro, .irp, .rept, functions
