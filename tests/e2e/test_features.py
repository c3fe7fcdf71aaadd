"""Every classic feature over stdio against the real server and the real assembler.

Test data: tests/fixtures/workspace/main.s and util.s (copied to a temp folder).
"""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from helpers import open_file

def pos(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


def rng(l1: int, c1: int, l2: int, c2: int) -> types.Range:
    return types.Range(start=pos(l1, c1), end=pos(l2, c2))


async def test_capabilities(client: LanguageClient):
    caps = client.init_result.capabilities
    assert caps.hover_provider and caps.definition_provider and caps.references_provider
    assert caps.document_symbol_provider and caps.workspace_symbol_provider and caps.folding_range_provider
    assert caps.completion_provider is not None and caps.diagnostic_provider is not None
    assert caps.inline_completion_provider is not None


async def test_document_symbols(client: LanguageClient, workspace: Path):
    uri = await open_file(client, workspace / "util.s")
    result = await client.text_document_document_symbol_async(types.DocumentSymbolParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    assert [(s.name, s.kind) for s in result] == [
        ("sum_array", types.SymbolKind.Function), ("square", types.SymbolKind.Function)]
    assert result[0].selection_range == rng(5, 0, 5, 9)
    assert result[0].range.start.line <= 5 and result[0].range.end.line == 13
    assert result[1].selection_range == rng(18, 0, 18, 6)


async def test_definition_across_files(client: LanguageClient, workspace: Path):
    uri = await open_file(client, workspace / "main.s")
    result = await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=pos(10, 6)))  # bl sum_array
    assert result == [types.Location(uri=(workspace / "util.s").as_uri(), range=rng(5, 0, 5, 9))]


async def test_definition_local_and_numeric(client: LanguageClient, workspace: Path):
    main_uri = (workspace / "main.s").as_uri()
    result = await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=main_uri), position=pos(12, 11)))  # cbz w0, .Lzero
    assert result == [types.Location(uri=main_uri, range=rng(14, 0, 14, 6))]
    util_uri = (workspace / "util.s").as_uri()
    result = await client.text_document_definition_async(types.DefinitionParams(
        text_document=types.TextDocumentIdentifier(uri=util_uri), position=pos(10, 3)))  # b 1b
    assert result == [types.Location(uri=util_uri, range=rng(7, 0, 7, 1))]


async def test_references_across_files(client: LanguageClient, workspace: Path):
    util_uri = (workspace / "util.s").as_uri()
    result = await client.text_document_references_async(types.ReferenceParams(
        text_document=types.TextDocumentIdentifier(uri=util_uri), position=pos(18, 2),
        context=types.ReferenceContext(include_declaration=False)))
    places = sorted((loc.uri.rsplit("/", 1)[-1], loc.range.start.line, loc.range.start.character) for loc in result)
    # the call in main.s; .globl, .type and both names in `.size square, .-square` in util.s
    assert places == [("main.s", 11, 4), ("util.s", 16, 8), ("util.s", 17, 7), ("util.s", 21, 7), ("util.s", 21, 17)]


async def test_hover_mnemonic_register_directive(client: LanguageClient, workspace: Path):
    uri = (workspace / "util.s").as_uri()
    ident = types.TextDocumentIdentifier(uri=uri)
    mnemonic = await client.text_document_hover_async(types.HoverParams(text_document=ident, position=pos(9, 2)))
    assert mnemonic is not None and "ADD" in mnemonic.contents.value.upper() and mnemonic.range == rng(9, 1, 9, 4)
    register = await client.text_document_hover_async(types.HoverParams(text_document=ident, position=pos(19, 7)))
    assert register is not None and "w0" in register.contents.value.lower() and register.range == rng(19, 5, 19, 7)
    directive = await client.text_document_hover_async(types.HoverParams(text_document=ident, position=pos(3, 3)))
    assert directive is not None and ".globl" in directive.contents.value
    function = await client.text_document_hover_async(types.HoverParams(text_document=ident, position=pos(18, 3)))
    assert function is not None and "**square**" in function.contents.value


async def test_completion(client: LanguageClient, workspace: Path):
    uri = await open_file(client, workspace / "scratch.s", "\t.text\nf:\n\tad\n\tb \n")
    ident = types.TextDocumentIdentifier(uri=uri)
    at_start = await client.text_document_completion_async(types.CompletionParams(text_document=ident, position=pos(2, 3)))
    labels = {item.label for item in at_start.items}
    assert {"add", "adrp", "adds"} <= labels and ".globl" in labels
    in_branch = await client.text_document_completion_async(types.CompletionParams(text_document=ident, position=pos(3, 3)))
    labels = [item.label for item in in_branch.items]
    assert "f" in labels and "sum_array" in labels and "x0" in labels
    assert labels.index("f") < labels.index("x0")  # labels first after a branch


async def test_folding(client: LanguageClient, workspace: Path):
    uri = (workspace / "util.s").as_uri()
    result = await client.text_document_folding_range_async(types.FoldingRangeParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    assert [(r.start_line, r.end_line) for r in result] == [(2, 13), (15, 21)]  # from each .p2align preamble to .size


async def test_workspace_symbol(client: LanguageClient, workspace: Path):
    result = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="sum"))
    assert [(s.name, s.location.uri.rsplit("/", 1)[-1]) for s in result] == [("sum_array", "util.s")]


@pytest.mark.assembler
async def test_pull_diagnostics_real_assembler(client: LanguageClient, workspace: Path):
    text = "\t.text\nf:\n\tadd x0, x1\n\tbogus x1\n\tb .Lnowhere\n\tret\n"
    uri = await open_file(client, workspace / "broken.s", text)
    report = await client.text_document_diagnostic_async(types.DocumentDiagnosticParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    found = [(d.range.start.line, d.severity, d.source) for d in report.items]
    assert found == [
        (2, types.DiagnosticSeverity.Error, "aarch64-linux-gnu-as"),
        (3, types.DiagnosticSeverity.Error, "aarch64-linux-gnu-as"),
        (4, types.DiagnosticSeverity.Error, "asm-lsp"),
    ]
    assert report.items[1].range == rng(3, 1, 3, 9)
    assert "unknown mnemonic" in report.items[1].message


@pytest.mark.assembler
async def test_unsaved_buffer_is_checked_not_the_file(client: LanguageClient, workspace: Path):
    uri = (workspace / "main.s").as_uri()
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangePartial(range=rng(6, 0, 6, 0), text="\tnotaninsn\n")]))
    report = await client.text_document_diagnostic_async(types.DocumentDiagnosticParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    assert [d.range.start.line for d in report.items] == [6]
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=3),
        content_changes=[types.TextDocumentContentChangePartial(range=rng(6, 0, 7, 0), text="")]))
    report = await client.text_document_diagnostic_async(types.DocumentDiagnosticParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    assert list(report.items) == []


@pytest.mark.assembler
async def test_push_diagnostics(push_client: LanguageClient, workspace: Path):
    uri = await open_file(push_client, workspace / "pushed.s", "\t.text\ng:\n\tmov x0\n\tret\n")
    for _ in range(100):
        if push_client.diagnostics.get(uri):
            break
        await asyncio.sleep(0.1)
    assert [(d.range.start.line, d.severity) for d in push_client.diagnostics[uri]] == [
        (2, types.DiagnosticSeverity.Error)]
