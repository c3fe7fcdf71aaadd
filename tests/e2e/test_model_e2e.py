"""Model completions through the real server over stdio, with the real model.

Test data: examples/add_two_arrays.s (gcc -O0 output with `add w1, w2, w1` removed at
line 30). The server runs the base GGUF from the chunk packages with the shipped LoRA
(the product default); these tests check the
plumbing and the guarantees (suggestion shown only if it assembles, cancellation, clear
failure), not the model's accuracy, which bench/exec_completion measures.
"""
from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from asm_lsp.assembler import insertion_assembles
from asm_lsp.assembler import find_assembler

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "add_two_arrays.s"
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "server")}
pytestmark = [pytest.mark.model, pytest.mark.slow]


def hole_position() -> types.Position:
    """The removed instruction's line (1-based line 30 of the example), which is empty."""
    assert EXAMPLE.read_text().split("\n")[29] == ""
    return types.Position(line=29, character=0)


@pytest_lsp.fixture(config=ClientServerConfig(
    server_command=[sys.executable, "-m", "asm_lsp", "--stdio", "--adapter", "default"], server_env=ENV), scope="module")
async def model_client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=(ROOT / "examples").as_uri(),
        initialization_options={"completion": {"maxLines": 1, "timeBudgetMs": 150000, "checkWithAssembler": True}}))
    yield
    await lsp_client.shutdown_session()


async def wait_for_model(client: LanguageClient, timeout: float = 240) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        stats = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="asmLsp.modelStats"))
        if stats["state"] == "ready":
            status = await client.workspace_execute_command_async(types.ExecuteCommandParams(command="asmLsp.modelStatus"))
            assert status.startswith("**Model**: ready") and f"runs on {stats['placement']}" in status, status
            assert stats["placement"] in ("CPU",) or stats["placement"].startswith("GPU (")
            return
        assert stats["state"] not in ("error", "off"), stats
        await asyncio.sleep(0.5)
    raise AssertionError("model did not load in time")


async def test_inline_completion_assembles(model_client: LanguageClient):
    text = EXAMPLE.read_text()
    uri = EXAMPLE.as_uri()
    model_client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="aarch64-asm", version=1, text=text)))
    await wait_for_model(model_client)
    result = await model_client.text_document_inline_completion_async(types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=hole_position(),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked)))
    assert result is not None, "no suggestion: every candidate failed the assembler check, or the model did not answer"
    suggestion = result.items[0].insert_text
    assert isinstance(suggestion, str) and suggestion.strip()
    assert "\n" not in suggestion.strip()  # maxLines 1
    # The server promised it assembles: check independently.
    assert insertion_assembles(find_assembler(), text, 29, 0, suggestion, 10)


async def test_cancelled_request_and_the_next_one(model_client: LanguageClient):
    uri = EXAMPLE.as_uri()
    params = types.InlineCompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=20, character=0),
        context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Automatic))
    loop = asyncio.get_running_loop()
    started = loop.time()
    pending = model_client.protocol.send_request(types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id="cancel-me")
    await asyncio.sleep(0.05)
    model_client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="cancel-me"))
    hover = await model_client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=11, character=2)))
    assert hover is not None and "STR" in hover.contents.value.upper()  # hovers are not blocked by the model
    try:
        answer = await asyncio.wait_for(asyncio.wrap_future(pending), 20)
    except Exception as exc:  # the server answers RequestCancelled (-32800)
        answer = exc
    # With a 150 s budget, an answer within seconds means the cancel reached the engine.
    assert loop.time() - started < 20
    assert answer is None or "cancel" in str(answer).lower()


@pytest_lsp.fixture(config=ClientServerConfig(
    server_command=[sys.executable, "-m", "asm_lsp", "--stdio", "--model", "/nonexistent/model.gguf"],
    server_env=ENV), scope="module")
async def broken_model_client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"), root_uri=(ROOT / "examples").as_uri()))
    yield
    await lsp_client.shutdown_session()


async def test_missing_model_is_explained_and_classic_features_work(broken_model_client: LanguageClient):
    uri = EXAMPLE.as_uri()
    broken_model_client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="aarch64-asm", version=1, text=EXAMPLE.read_text())))
    for _ in range(100):
        if any("model" in m.message for m in broken_model_client.messages):
            break
        await asyncio.sleep(0.1)
    messages = [m.message for m in broken_model_client.messages if "model" in m.message]
    assert len(messages) == 1 and "/nonexistent/model.gguf" in messages[0]
    hover = await broken_model_client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=11, character=2)))
    assert hover is not None
