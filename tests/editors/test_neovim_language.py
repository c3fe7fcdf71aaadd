"""Semantic tokens, signature help and rename through Neovim's own LSP client.

Test data: tests/fixtures/workspace/ (main.s calls sum_array and square from util.s),
copied to a temporary folder with an empty `.git` so the configurations find the root.
tests/editors/nvim/check_language.lua loads the documented configuration (asm_lsp.lua on
Neovim >= 0.7, asm_lsp_0_11.lua on >= 0.11), lets Neovim ask for and apply semantic
tokens (0.9+ has a client for them; 0.7 does not, so that part runs on 0.11 only), opens
signature help with vim.lsp.buf.signature_help() and renames with vim.lsp.buf.rename(),
then writes what it saw as JSON for this test to compare.

ASM_LSP_TEST_NVIM lists the Neovim programs to try, as for tests/editors/test_neovim.py.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from helpers import NVIMS, ROOT, nvim_workspace, run_nvim_check

CHECK_SCRIPT = ROOT / "tests" / "editors" / "nvim" / "check_language.lua"


def token(kind: str, start: int, end: int, *modifiers: str) -> dict:
    return {"type": kind, "modifiers": list(modifiers), "start_col": start, "end_col": end}


@pytest.mark.parametrize(("config", "oldest"), [("asm_lsp.lua", (0, 7)), ("asm_lsp_0_11.lua", (0, 11))])
@pytest.mark.parametrize("nvim", NVIMS)
def test_neovim_language_features(nvim: str, config: str, oldest: tuple[int, int], tmp_path: Path):
    version, workspace = nvim_workspace(nvim, config, oldest, tmp_path)

    result = run_nvim_check(nvim, CHECK_SCRIPT, config, workspace, tmp_path, timeout=120)

    assert "error" not in result, result["error"]
    assert result["nvim"].startswith(f"{version[0]}.{version[1]}.") and result["attached_main.s"]
    assert result["semantic_provider"] is True and result["signature_triggers"] == [",", " "]

    if version >= (0, 9):  # Neovim's semantic token client, fed by full and delta requests
        assert result["tokens_arrived"] is True
        assert result["tokens"] == {
            "mnemonic": token("keyword", 1, 3), "call": token("function", 4, 13),
            "register": token("variable", 5, 8, "defaultLibrary"), "reloc": token("modifier", 13, 19),
            "local_label": token("label", 9, 15, "static"), "directive": token("macro", 1, 6, "defaultLibrary"),
            "comment": token("comment", 0, 65), "function_def": token("function", 0, 4, "declaration"),
            "number": token("number", 9, 10),
            # after inserting `csel x1, x2, x3, ne` above: the new line and the shifted call
            "after_edit": token("enumMember", 18, 20, "defaultLibrary"), "shifted_call": token("function", 4, 13),
        }
    else:
        assert "tokens" not in result

    # Signature help: the float shows the form that fits what is written, with its summary.
    assert "ADD Xd, Xn, #:lo12:symbol" in result["signature"]["text"]
    assert "Add a register, an extended register or a 12-bit immediate to a register." in result["signature"]["text"]
    assert "STP Xt1, Xt2, [Xn|SP{, #imm}]" in result["signature_stp"]["text"]
    if version >= (0, 11):  # this version marks the active operand with an extmark we can read
        assert result["signature"]["active"] == "#:lo12:symbol" and result["signature_stp"]["active"] == "Xt1"

    # Rename through prepareRename + rename, applied by Neovim to main.s and to util.s.
    assert result["main_after_rename"] == "\tbl\tsquare_it"
    assert result["util_after_rename"] == ["\t.globl\tsquare_it", "\t.type\tsquare_it, %function", "square_it:",
                                           "\tmul\tw0, w0, w0", "\tret", "\t.size\tsquare_it, .-square_it"]
    # A refused rename: the server's message reaches the user and nothing changes.
    assert "'x0' is a register; only labels and symbols can be renamed" in result["refused_rename_message"]
    assert result["main_unchanged"] == "\tadd\tx0, x0, :lo12:values"
    assert result["server_stopped"] is True
