"""Includes over stdio: a hand-written project opened as a new user would (no build), then
configured (build/config.h and build/compile_commands.json, as meson writes them).

Test data: tests/fixtures/handwritten/ (see its README), copied to a temporary folder.
"""
from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from asm_lsp.workspace.includes import DATABASE_REFRESH_S
from helpers import open_file

ROOT = Path(__file__).resolve().parents[2]
DSP = "libfoo/aarch64/dsp_neon.S"
pytestmark = pytest.mark.compilers  # aarch64-linux-gnu-gcc preprocesses .S


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Replaces conftest's workspace: the hand-written project."""
    target = tmp_path_factory.mktemp("ws") / "project"
    shutil.copytree(ROOT / "tests" / "fixtures" / "handwritten", target)
    return target


async def diagnostics(client: LanguageClient, uri: str) -> list[types.Diagnostic]:
    report = await client.text_document_diagnostic_async(types.DocumentDiagnosticParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))
    return list(report.items)


async def test_include_navigation_and_hover(client: LanguageClient, workspace: Path):
    uri = await open_file(client, workspace / DSP)
    at_include = types.TextDocumentPositionParams(types.TextDocumentIdentifier(uri=uri), types.Position(0, 15))
    found = await client.text_document_definition_async(types.DefinitionParams(
        at_include.text_document, at_include.position))
    start = types.Position(0, 0)
    assert found == [types.Location(uri=(workspace / "libfoo/aarch64/asm.S").as_uri(),
                                    range=types.Range(start, start))]
    hover = await client.text_document_hover_async(types.HoverParams(at_include.text_document, at_include.position))
    assert hover is not None and str(workspace / "libfoo/aarch64/asm.S") in hover.contents.value
    assert hover.range == types.Range(types.Position(0, 10), types.Position(0, 30))


async def test_missing_generated_header_then_configured(client: LanguageClient, workspace: Path):
    uri = await open_file(client, workspace / DSP)
    found = await diagnostics(client, uri)
    assert [(d.severity, d.range.start.line, d.source) for d in found] == [
        (types.DiagnosticSeverity.Information, 0, "asm-lsp")]
    assert found[0].message.startswith("config.h (included from libfoo/aarch64/asm.S) was not found")
    assert "compile_commands.json" in found[0].message and "includePaths" in found[0].message

    build = workspace / "build"
    build.mkdir()
    (build / "config.h").write_text("#define HAVE_AS_FUNC 0\n")
    (build / "compile_commands.json").write_text(json.dumps([{
        "directory": str(build), "file": f"../{DSP}", "output": "dsp_neon.S.o",
        "arguments": ["cc", "-I.", "-I..", "-c", f"../{DSP}", "-o", "dsp_neon.S.o"]}]))
    await asyncio.sleep(DATABASE_REFRESH_S + 0.1)
    assert await diagnostics(client, uri) == []

    text = (workspace / DSP).read_text().replace("movi    v0.16b, #0", "movi    v0.16q, #0")
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))
    found = await diagnostics(client, uri)
    assert [(d.severity, d.range.start.line) for d in found] == [(types.DiagnosticSeverity.Error, 15)]
