"""The assembler check of model candidates (``completion.checkWithAssembler``) searches the
includes as the diagnostics do (features/model_completion.py ``_validator``).

In-process: a real AsmLanguageServer and ModelCompletions whose engine is never started (no
model needed: what is checked is the validator the engine would be given).

Test data (written to tmp_path): ``inc/defs.h`` defines ``DST`` as ``w3``; ``src/f.S``
includes it and has an empty line in ``f``'s body. ``mov DST, x1`` mixes register widths
once ``DST`` is known; without the include search the check cannot see ``DST`` and lets the
line through, as it must for names it cannot see.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from lsprotocol import types
from pygls.workspace import Workspace

from asm_lsp.features.model_completion import ModelCompletions
from asm_lsp.server import create_server

SOURCE = '#include "defs.h"\n\t.text\n\t.globl f\n\t.type f, %function\nf:\n\tmov x0, #1\n\n\tret\n\t.size f, .-f\n'
HOLE = 6  # 0-based: the empty line


def checker(tmp_path: Path, include_paths: list[str]) -> tuple[ModelCompletions, str]:
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "defs.h").write_text("#define DST w3\n")
    (tmp_path / "src").mkdir()
    source = tmp_path / "src" / "f.S"
    source.write_text(SOURCE)
    ls = create_server({"model": {"enabled": False}, "index": {"embeddings": False},
                        "assembler": {"includePaths": include_paths}})
    ls.protocol._workspace = Workspace(None)
    ls.protocol.client_capabilities = types.ClientCapabilities()
    completions = ModelCompletions(ls)  # its engine is never started
    return completions, source.as_uri()


@pytest.mark.assembler
def test_the_check_reads_the_includes_it_can_find(tmp_path: Path):
    completions, uri = checker(tmp_path, [str(tmp_path / "inc")])
    asm = completions.ls.assembler()
    assert asm is not None
    validate = completions._validator(asm, uri, SOURCE, HOLE, 0)
    assert validate("\tmov DST, w1")
    assert not validate("\tmov DST, x1")  # w3 <- x1: seen only through defs.h


@pytest.mark.assembler
def test_an_include_it_cannot_find_holds_nothing_against_the_candidate(tmp_path: Path):
    completions, uri = checker(tmp_path, [])  # defs.h is in no folder the search knows
    asm = completions.ls.assembler()
    assert asm is not None
    validate = completions._validator(asm, uri, SOURCE, HOLE, 0)
    assert validate("\tmov DST, x1")
    assert not validate("\tmov x0, x1, x2, x3")  # what can be checked still is


def test_the_workspace_scan_waits_while_a_completion_waits_for_the_model():
    """server._scan_cancelled, asked by the scan before each file: while a completion request
    waits for the model it waits too (a third busy thread stalls llama.cpp's two on 2 cores)."""
    import time

    class Answering:
        until = time.monotonic() + 0.5

        def answering(self) -> bool:
            return time.monotonic() < self.until

    ls = create_server({"model": {"enabled": False}, "index": {"embeddings": False}})
    ls.completions = Answering()
    started = time.monotonic()
    assert ls._scan_cancelled() is False  # not cancelled: it waited, then goes on
    assert time.monotonic() - started >= 0.45
    ls._index_cancel.set()
    assert ls._scan_cancelled() is True
    ls.completions = None  # no model: no wait
    started = time.monotonic()
    ls._scan_cancelled()
    assert time.monotonic() - started < 0.1
