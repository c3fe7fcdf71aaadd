"""Progress and logs over stdio: $/progress while the real model store assembles, verifies,
merges the adapter into and loads the model into a fresh cache folder; warnings in window/logMessage as well as shown.

Test data: tests/fixtures/workspace/ (any folder does; the model's progress is the subject).
"""
from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT / "server") + os.pathsep + os.environ.get("PYTHONPATH", "")}
TITLE = "asm-lsp: preparing the model"


@pytest.fixture(scope="module")
def fresh_cache(tmp_path_factory: pytest.TempPathFactory):
    cache = tmp_path_factory.mktemp("cache")
    yield cache
    shutil.rmtree(cache, ignore_errors=True)  # 491 MB


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "asm_lsp", "--stdio"],
                                              server_env=ENV), scope="module")
async def model_client(lsp_client: LanguageClient, workspace: Path, fresh_cache: Path):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),  # window.workDoneProgress: true
        root_uri=workspace.as_uri(),
        initialization_options={"model": {"cacheDir": str(fresh_cache)}, "index": {"embeddings": False}},
    ))
    yield
    await lsp_client.shutdown_session()


def preparing(client: LanguageClient) -> list | None:
    """The progress items of the model's preparation, once it has ended."""
    for items in client.progress_reports.values():
        if items and isinstance(items[0], types.WorkDoneProgressBegin) and items[0].title == TITLE:
            return items if isinstance(items[-1], types.WorkDoneProgressEnd) else None
    return None


@pytest.mark.model
@pytest.mark.slow
async def test_model_preparation_is_reported_from_begin_to_end(model_client: LanguageClient):
    lsp_client = model_client
    items = None
    for _ in range(3000):  # assembling 491 MB and loading it: ~10-60 s on a loaded machine
        items = preparing(lsp_client)
        if items is not None:
            break
        await asyncio.sleep(0.1)
    assert items is not None, lsp_client.progress_reports
    begin, *reports, end = items
    what = "assembling the base model from its 6 packages (sha256 checked as it goes)"
    assert (begin.message, begin.percentage) == (what, 0)
    assembling = [r.percentage for r in reports if r.message.startswith(what)]
    assert len(assembling) >= 20 and assembling == sorted(assembling) and assembling[-1] >= 95
    # Then the shipped adapter is merged into the base (first use), and the merged model loaded.
    steps = []
    for r in reports:
        step = r.message.split(":")[0].split(" (")[0]
        if not steps or steps[-1] != step:
            steps.append(step)
    assert steps == ["assembling the base model from its 6 packages", "checking the adapter",
                     "merging the adapter into the model", reports[-1].message]
    merging = [r.percentage for r in reports if r.message.startswith("merging the adapter")]
    assert len(merging) >= 20 and merging == sorted(merging) and merging[-1] >= 95
    assert reports[-1].message.startswith("loading ") and reports[-1].message.endswith(".gguf into llama.cpp")
    assert end.message == "model ready"
    status = await lsp_client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="asmLsp.modelStatus", arguments=[]))
    assert status.startswith("**Model**: ready")


@pytest_lsp.fixture(config=ClientServerConfig(server_command=[sys.executable, "-m", "asm_lsp", "--stdio", "--no-model"],
                                              server_env=ENV), scope="module")
async def no_assembler(lsp_client: LanguageClient, workspace: Path):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=client_capabilities("neovim@v0.7.0"),
        root_uri=workspace.as_uri(),
        initialization_options={"assembler": {"path": "/nonexistent/as"}, "completion": {"maxLines": "two"}},
    ))
    yield
    await lsp_client.shutdown_session()


async def test_warnings_also_go_to_the_log(no_assembler: LanguageClient):
    lsp_client = no_assembler
    for _ in range(100):
        if len(lsp_client.log_messages) >= 2:
            break
        await asyncio.sleep(0.05)
    shown = [(m.type, m.message) for m in lsp_client.messages]
    logged = [(m.type, m.message) for m in lsp_client.log_messages]
    assert shown == logged
    assert [message for _, message in shown] == [
        "asm-lsp settings (initializationOptions): asmLsp.completion.max_lines must be a whole number, "
        "got 'two'; using the default",
        "assembler '/nonexistent/as' (asmLsp.assembler.path) not found or not executable; "
        "fix the setting or clear it to use aarch64-linux-gnu-as / llvm-mc",
    ]
