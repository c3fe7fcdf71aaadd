"""Emacs' eglot against the real server (no model) and the real assembler, in batch mode.

Test data: tests/fixtures/workspace/ (main.s calls sum_array and square from util.s),
copied to a temporary folder with an empty `.git` (the project root) and broken.s, a copy
of main.s that the script breaks. tests/editors/emacs_eglot.el loads
tests/editors/emacs/asm-lsp.el (the configuration docs/editors.md documents), drives
hover, definition, completion, xref and flymake diagnostics through eglot, and writes
what it saw to a JSON file that this test compares. Skipped without `emacs` or eglot
(Emacs 29+, or the elpa-eglot package on Emacs 28).
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE_WORKSPACE = ROOT / "tests" / "fixtures" / "workspace"
CHECK_SCRIPT = ROOT / "tests" / "editors" / "emacs_eglot.el"
CONFIG = ROOT / "tests" / "editors" / "emacs" / "asm-lsp.el"



@pytest.mark.assembler
@pytest.mark.emacs
def test_emacs_eglot_client(tmp_path: Path):
    workspace = tmp_path / "project"
    shutil.copytree(FIXTURE_WORKSPACE, workspace)
    (workspace / ".git").mkdir()
    shutil.copy(workspace / "main.s", workspace / "broken.s")
    result_file = tmp_path / "result.json"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT / "server") + os.pathsep + os.environ.get("PYTHONPATH", ""),
        "ASM_LSP_CHECK_WORKSPACE": str(workspace),
        "ASM_LSP_CHECK_RESULT": str(result_file),
        "ASM_LSP_CHECK_CMD": json.dumps([sys.executable, "-m", "asm_lsp", "--stdio", "--no-model"]),
    }
    # The script's own waits add up to less than this; the timeout only guards a wedged Emacs.
    proc = subprocess.run(["emacs", "--batch", "-l", str(CHECK_SCRIPT)], cwd=workspace, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=90)
    assert result_file.exists(), f"emacs wrote no result (exit {proc.returncode}): {proc.stderr[-2000:]}"
    result = json.loads(result_file.read_text())

    assert "error" not in result, result["error"]
    assert result["mode"] == "asm-mode" and result["attached_main.s"] and result["attached_broken.s"]
    # The script's initializationOptions hold `completion.maxLines = "eight"`; the server says so once.
    assert result["messages"] == ["asm-lsp settings (initializationOptions): asmLsp.completion.max_lines "
                                  "must be a whole number, got 'eight'; using the default"]
    assert result["hover"].startswith("**ADD** ")
    assert result["definition_uri"] == (workspace / "util.s").as_uri()
    assert result["completion_has_add"] is True
    # xref-find-definitions on `bl sum_array` lands on `sum_array:` (1-based line 6), same server.
    assert (result["jump_buffer"], result["jump_line"], result["util_same_server"]) == ("util.s", 6, True)
    assert result["broken_diagnostics"] == [{
        "line": 6, "type": "eglot-error", "text": "aarch64-linux-gnu-as: unknown mnemonic `bogus' -- `bogus x1'"}]
    assert result["broken_cleared"] is True
    assert result["server_stopped"] is True


def test_docs_show_the_tested_configuration():
    assert CONFIG.read_text() in (ROOT / "docs" / "editors.md").read_text(), "docs/editors.md differs from emacs/asm-lsp.el"
