"""Pipeline analysis over stdio: asmLsp.analyzeThroughput and the hover section, with the
real llvm-mca (Debian's `llvm`, installed by scripts/install-deps.sh), a missing one, a
hanging fake, and a workspace that tries to name the program.

Test data: tests/fixtures/workspace/ (util.s: sum_array with numeric labels, square).
"""
from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from helpers import open_file

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ClientServerConfig(
    server_command=[sys.executable, "-m", "asm_lsp", "--stdio", "--no-model"],
    server_env={**os.environ, "PYTHONPATH": str(ROOT / "server") + os.pathsep + os.environ.get("PYTHONPATH", "")})


async def start(client: LanguageClient, workspace: Path, analysis: dict) -> None:
    await client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        root_uri=workspace.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="project")],
        initialization_options={"analysis": analysis},
    ))


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def client(lsp_client: LanguageClient, workspace: Path):
    await start(lsp_client, workspace, {"cpu": "cortex-a72", "mcaOnHover": True})
    yield
    await lsp_client.shutdown_session()


async def analyze(client: LanguageClient, *args: object) -> dict:
    return await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="asmLsp.analyzeThroughput", arguments=list(args)))


async def test_function_by_name_position_and_selection(client: LanguageClient, workspace: Path):
    uri = await open_file(client, workspace / "util.s")
    by_name = await analyze(client, uri, {"function": "sum_array"})
    assert by_name["ok"] is True, by_name
    report = by_name["report"]
    assert (report["cpu"], report["iterations"]) == ("cortex-a72", 100)
    assert report["instructions"] == 100 * 8  # sum_array's 8 instructions (util.s lines 7-13)
    assert report["cyclesPerIteration"] == pytest.approx(report["totalCycles"] / 100, abs=0.001)
    assert report["ipc"] > 0 and report["blockRThroughput"] > 0
    assert [r for r in report["resourcePressure"] if r["cycles"] > 0]
    assert report["bottleneck"].endswith("% of cycles") or report["bottleneck"].startswith("none found")
    assert by_name["markdown"].startswith("**Pipeline analysis** (llvm-mca, `cortex-a72`) of `sum_array` (util.s:3–14)")
    # A position inside sum_array (line 9, `ldr`): the same function, the same answer.
    at_position = await analyze(client, uri, {"line": 8, "character": 3})
    assert at_position == by_name
    # Lines 9-10 selected (ldr; add ; sub): 3 instructions.
    selected = await analyze(client, uri, {"start": {"line": 8, "character": 0}, "end": {"line": 10, "character": 0}})
    assert selected["ok"] is True and selected["report"]["instructions"] == 300
    assert "of lines 9–10 of util.s" in selected["markdown"]


async def test_bad_arguments_get_a_message(client: LanguageClient, workspace: Path):
    uri = await open_file(client, workspace / "util.s")
    answers = [
        await analyze(client, uri, {"function": "no_such"}),
        await analyze(client, uri, {"line": 999, "character": 0}),
        await analyze(client, uri, {"line": 0, "character": 0}),  # the comment above the functions
        await analyze(client, uri, 42),
        await analyze(client, "file:///nowhere.s", {"line": 0, "character": 0}),
        await analyze(client),
    ]
    assert [a["ok"] for a in answers] == [False] * 6
    assert "no function 'no_such'" in answers[0]["error"]
    assert "outside util.s" in answers[1]["error"]
    assert "not inside a function" in answers[2]["error"]
    assert "takes [uri, range]" in answers[3]["error"]
    assert any(f"asm-lsp: {answers[0]['error']}" == m.message for m in client.log_messages)


async def test_hover_on_a_function_label_adds_the_summary(client: LanguageClient, workspace: Path):
    uri = await open_file(client, workspace / "util.s")
    hover = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=18, character=2)))
    assert hover is not None
    assert "**square** — global function" in hover.contents.value
    assert "---\n**Pipeline analysis** (llvm-mca, `cortex-a72`) of `square`" in hover.contents.value
    assert "| cycles per iteration |" in hover.contents.value
    mnemonic = await client.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=19, character=2)))
    assert mnemonic is not None and "Pipeline analysis" not in mnemonic.contents.value


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def missing(lsp_client: LanguageClient, workspace: Path):
    await start(lsp_client, workspace, {"mcaPath": "/nonexistent/llvm-mca", "mcaOnHover": True})
    yield
    await lsp_client.shutdown_session()


async def test_missing_llvm_mca_is_one_clear_message(missing: LanguageClient, workspace: Path):
    client = missing
    uri = await open_file(client, workspace / "util.s")
    answer = await analyze(client, uri, {"function": "square"})
    assert answer == {"ok": False, "markdown": answer["error"], "error": answer["error"]}
    assert "'/nonexistent/llvm-mca' (asmLsp.analysis.mcaPath) not found" in answer["error"]
    for _ in range(2):  # hovering twice still answers, and tells once
        hover = await client.text_document_hover_async(types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=18, character=2)))
        assert hover is not None and "**square**" in hover.contents.value
    told = [m.message for m in client.messages if "pipeline analysis on hover" in m.message]
    assert len(told) == 1 and "not found" in told[0]
    assert [m.message for m in client.log_messages if "pipeline analysis on hover" in m.message] == told


@pytest.fixture(scope="module")
def hanging(tmp_path_factory: pytest.TempPathFactory) -> Path:
    fake = tmp_path_factory.mktemp("fake") / "llvm-mca"
    fake.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")
    fake.chmod(0o755)
    return fake


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def slow(lsp_client: LanguageClient, workspace: Path, hanging: Path):
    await start(lsp_client, workspace, {"mcaPath": str(hanging), "timeoutMs": 500})
    yield
    await lsp_client.shutdown_session()


async def test_hanging_llvm_mca_is_stopped(slow: LanguageClient, workspace: Path):
    uri = await open_file(slow, workspace / "util.s")
    started = time.monotonic()
    answer = await analyze(slow, uri, {"function": "square"})
    assert answer["ok"] is False and "took longer than 0.5 s and was stopped" in answer["error"]
    assert time.monotonic() - started < 10
    hover = await slow.text_document_hover_async(types.HoverParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=19, character=2)))
    assert hover is not None  # the server still answers


@pytest.fixture(scope="module")
def marker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("evil") / "ran"


@pytest_lsp.fixture(config=CONFIG, scope="module")
async def from_workspace(lsp_client: LanguageClient, workspace: Path, marker: Path):
    evil = marker.parent / "llvm-mca"
    evil.write_text(f"#!/bin/sh\ntouch {marker}\n")
    evil.chmod(0o755)
    lsp_client.set_configuration({"analysis": {"mcaPath": str(evil), "cpu": "cortex-a72"}}, section="asmLsp")
    await start(lsp_client, workspace, {})
    yield
    await lsp_client.shutdown_session()


async def test_workspace_settings_cannot_name_llvm_mca(from_workspace: LanguageClient, workspace: Path, marker: Path):
    client = from_workspace
    for _ in range(200):  # the server asks for workspace/configuration after `initialized`
        if any("asmLsp.analysis.mcaPath is ignored in workspace settings" in m.message for m in client.messages):
            break
        await asyncio.sleep(0.05)
    uri = await open_file(client, workspace / "util.s")
    answer = await analyze(client, uri, {"function": "square"})
    assert answer["ok"] is True and answer["report"]["cpu"] == "cortex-a72"  # the cpu is taken
    assert not marker.exists()
    assert any("asmLsp.analysis.mcaPath is ignored in workspace settings" in m.message for m in client.messages)
