"""End-to-end fixtures: the real server over stdio, driven by pytest-lsp.

Test data: tests/fixtures/workspace/ (main.s calls sum_array and square from util.s),
copied to a temporary folder so tests can edit files freely.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_WORKSPACE = ROOT / "tests" / "fixtures" / "workspace"
SERVER_ENV = {**os.environ, "PYTHONPATH": str(ROOT / "server") + os.pathsep + os.environ.get("PYTHONPATH", "")}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("ws") / "project"
    shutil.copytree(FIXTURE_WORKSPACE, target)
    return target


def answer_semantic_tokens_refresh(lsp_client: LanguageClient) -> None:
    """Answer workspace/semanticTokens/refresh as VS Code does (it asks for tokens again;
    a test asks itself), counting the requests."""
    lsp_client.semantic_tokens_refreshes = 0

    @lsp_client.feature(types.WORKSPACE_SEMANTIC_TOKENS_REFRESH)
    def refresh(client: LanguageClient, params: None) -> None:
        client.semantic_tokens_refreshes += 1


def server_command(*extra: str) -> list[str]:
    return [sys.executable, "-m", "asm_lsp", "--stdio", "--no-model", *extra]


@pytest_lsp.fixture(config=ClientServerConfig(server_command=server_command(), server_env=SERVER_ENV), scope="module")
async def client(lsp_client: LanguageClient, workspace: Path):
    """A VS Code-like client (pull diagnostics, work-done progress) on the fixture workspace."""
    params = types.InitializeParams(
        capabilities=client_capabilities("visual-studio-code"),
        root_uri=workspace.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="project")],
    )
    answer_semantic_tokens_refresh(lsp_client)
    lsp_client.init_result = await lsp_client.initialize_session(params)
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=server_command(), server_env=SERVER_ENV), scope="module")
async def push_client(lsp_client: LanguageClient, workspace: Path):
    """A Neovim 0.7-like client: no pull diagnostics, so the server pushes them."""
    params = types.InitializeParams(
        capabilities=client_capabilities("neovim@v0.7.0"),
        root_uri=workspace.as_uri(),
        initialization_options={"diagnostics": {"debounceMs": 50}},
    )
    lsp_client.init_result = await lsp_client.initialize_session(params)
    yield
    await lsp_client.shutdown_session()
