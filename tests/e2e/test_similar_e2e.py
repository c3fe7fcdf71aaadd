"""Similar functions on hover and through `asmLsp.similarFunctions`, over stdio, real model.

Test data: examples/add_two_arrays.c compiled by gcc and clang at -O0 into a temporary
workspace (gcc.s and clang.s hold add_two_arrays and dot, renamed per file so names differ).
"""
from __future__ import annotations

import asyncio
import os
import re
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from bench.common import compile_case

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.model, pytest.mark.slow, pytest.mark.compilers]


@pytest.fixture(scope="module")
def similar_ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ws = tmp_path_factory.mktemp("similar")
    src = ROOT / "examples" / "add_two_arrays.c"
    for name in ("gcc", "clang"):
        out = ws / f"{name}.s"
        compile_case(name, "O0", src, out, "-fno-asynchronous-unwind-tables")
        text = re.sub(r"\b(add_two_arrays|dot)\b", rf"\1_{name}", out.read_text())
        out.write_text(text)
    return ws


@pytest_lsp.fixture(config=ClientServerConfig(
    server_command=[sys.executable, "-m", "asm_lsp", "--stdio", "--adapter", "none"],
    server_env={**os.environ, "PYTHONPATH": str(ROOT / "server")}), scope="module")
async def client(lsp_client: LanguageClient, similar_ws: Path, tmp_path_factory: pytest.TempPathFactory):
    cache = tmp_path_factory.mktemp("cache")
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=similar_ws.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=similar_ws.as_uri(), name="ws")],
        initialization_options={"model": {"cacheDir": str(cache)}}))
    yield
    await lsp_client.shutdown_session()


async def test_hover_and_command_list_similar_functions(client: LanguageClient, similar_ws: Path):
    gcc = similar_ws / "gcc.s"
    text = gcc.read_text()
    line = text.split("\n").index("add_two_arrays_gcc:")
    uri = gcc.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="aarch64-asm", version=1, text=text)))
    hover = None
    for _ in range(600):  # embeddings of 4 functions on a busy 2-core machine
        hover = await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=line, character=3)))
        if hover is not None and "Similar functions" in hover.contents.value and "_clang" in hover.contents.value:
            break
        await asyncio.sleep(0.5)
    assert hover is not None and "**add_two_arrays_gcc**" in hover.contents.value
    value = hover.contents.value
    assert "Similar functions" in value and "embedding:" in value
    assert re.search(r"`(add_two_arrays|dot)_clang` [01]\.\d\d", value)
    locations = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="asmLsp.similarFunctions", arguments=[uri, {"line": line, "character": 3}]))
    assert locations and {loc["uri"] if isinstance(loc, dict) else loc.uri for loc in locations} <= {
        (similar_ws / "clang.s").as_uri(), uri}
