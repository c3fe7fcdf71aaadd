"""The model's prefill waits for a big document's parse (features/model_completion.py).

llama.cpp's prompt evaluation takes every core; started beside the outline parse of a
50 MB document it made the open take 21 s instead of 8. In-process: a real
AsmLanguageServer's didOpen/didChange handlers, ModelCompletions with its engine replaced
by a recorder (no model needed: what is checked is when prefill is asked, and where).

Test data: tests/test_large_input.big_text, ~3 MB of gcc/clang output (an outline parse on
the worker thread, ~0.3 s), and tests/fixtures/workspace/util.s.
"""
from __future__ import annotations

import asyncio
from pathlib import Path

from lsprotocol import types
from pygls.workspace import Workspace

from asm_lsp.features.model_completion import ModelCompletions
from asm_lsp.server import create_server
from bench.samples import big_text

SMALL = Path(__file__).parent / "fixtures" / "workspace" / "util.s"


class RecordingEngine:
    def __init__(self) -> None:
        self.prefills: list[tuple[int, int, int]] = []  # (text length, line, col)

    def prefill(self, text: str, line: int, col: int, context: str = "") -> None:
        self.prefills.append((len(text), line, col))

    def close(self) -> None:
        pass


def test_prefill_waits_for_a_big_documents_parse_and_keeps_only_the_newest_place():
    async def main() -> None:
        ls = create_server({"model": {"enabled": False}, "index": {"embeddings": False}})
        ls.protocol._workspace = Workspace(None)
        ls.protocol.client_capabilities = types.ClientCapabilities()  # as after initialize
        ls.loop = ls.parses.loop = asyncio.get_running_loop()
        completions = ModelCompletions(ls)
        completions.engine = RecordingEngine()  # type: ignore[assignment]
        ls.completions = completions
        handler = ls.protocol.fm.features

        def open_doc(uri: str, text: str) -> None:
            item = types.TextDocumentItem(uri=uri, language_id="asm", version=1, text=text)
            ls.workspace.put_text_document(item)
            handler[types.TEXT_DOCUMENT_DID_OPEN](types.DidOpenTextDocumentParams(text_document=item))

        small = SMALL.read_text()
        open_doc(SMALL.as_uri(), small)
        assert completions.engine.prefills == [(len(small), small.count("\n"), 0)]  # small: at once

        text = big_text(3_000_000)
        uri = "file:///virtual/big.s"
        open_doc(uri, text)
        for _ in range(3):
            await asyncio.sleep(0)  # the waiting prefill's task runs up to its wait
        assert ls.parses.parsing()
        assert completions.engine.prefills == [(len(small), small.count("\n"), 0)]  # big: not while it parses
        # An edit before the parse is done: only its place is prefilled, after the new text's parse.
        change = types.TextDocumentContentChangePartial(
            range=types.Range(start=types.Position(line=10, character=0), end=types.Position(line=10, character=0)),
            text="\tnop\n")
        versioned = types.VersionedTextDocumentIdentifier(uri=uri, version=2)
        ls.workspace.update_text_document(versioned, change)
        handler[types.TEXT_DOCUMENT_DID_CHANGE](types.DidChangeTextDocumentParams(
            text_document=versioned, content_changes=[change]))
        edited = ls.workspace.get_text_document(uri).source
        await asyncio.sleep(0)
        assert ls.parses.parsing() and completions.engine.prefills[1:] == []
        assert await ls.parses.wait(uri, edited, timeout=60) is not None
        for _ in range(3):
            await asyncio.sleep(0)
        assert completions.engine.prefills[1:] == [(len(edited), 11, 0)]
        assert completions._waiting_prefills == {}

    asyncio.run(main())
