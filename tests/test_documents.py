"""Big documents are parsed on a worker thread (server/asm_lsp/documents.py), in-process.

Test data: gcc/clang output of tests/fixtures/c/*.c repeated with labels renamed per copy
(tests/test_large_input.big_text), ~3 MB (an outline: ~0.3 s of parsing) so that edits
arrive while a parse runs; each edit appends a function named after its version.
"""
from __future__ import annotations

import asyncio
import threading
import time

from asm_lsp.documents import DocumentParses
from asm_lsp.syntax.outline import OutlineDocument
from asm_lsp.workspace.index import WorkspaceIndex
from bench.samples import big_text

URI = "file:///virtual/big.s"


def version(base: str, n: int) -> str:
    return base + f"\t.globl\tedit_{n}\n\t.type\tedit_{n}, %function\nedit_{n}:\n\tret\n\t.size\tedit_{n}, .-edit_{n}\n"


def names(doc) -> set[str]:
    return {f.name for f in doc.functions}


def run(coro):
    return asyncio.run(coro)


def test_small_text_is_parsed_at_once_big_one_on_the_worker():
    async def main():
        parses = DocumentParses(WorkspaceIndex(), sync_chars=10_000)
        parses.loop = asyncio.get_running_loop()
        doc = parses.current("file:///small.s", version("", 7))
        assert doc is not None and names(doc) == {"edit_7"} and parses.stats["parsed_on_loop"] == 1
        text = big_text(3_000_000)
        parses.open(URI)
        assert parses.current(URI, text) is None  # nothing parsed yet: the caller answers "nothing here"
        assert parses.parsing()
        doc = await parses.wait(URI, text)
        assert isinstance(doc, OutlineDocument) and len(doc.functions) > 1000
        assert parses.index.get(URI) is doc and parses.current(URI, text) is doc
        assert parses.stats["parsed_in_background"] == 1 and not parses.parsing()
        parses.shutdown()
    run(main())


def test_edits_during_a_parse_coalesce_to_the_newest_text():
    async def main():
        parses = DocumentParses(WorkspaceIndex(), sync_chars=10_000)
        parses.loop = asyncio.get_running_loop()
        base = big_text(3_000_000)
        parses.open(URI)
        first = version(base, 0)
        parses.current(URI, first)
        await asyncio.sleep(0.05)  # the worker has taken version 0
        texts = [version(base, n) for n in range(1, 21)]
        for text in texts:  # 20 edits while version 0 is being parsed
            stale = parses.current(URI, text)
            assert stale is None or "edit_0" in names(stale)
        doc = await parses.wait(URI, texts[-1])
        assert "edit_20" in names(doc)
        # version 0, then at most one more before the newest: never one parse per edit
        assert parses.stats["parsed_in_background"] <= 3, parses.stats
        assert parses.index.definitions(URI, "edit_20") and not parses.index.definitions(URI, "edit_5")
        parses.shutdown()
    run(main())


def test_requests_get_the_last_parse_until_the_new_one_is_ready():
    async def main():
        parses = DocumentParses(WorkspaceIndex(), sync_chars=10_000)
        parses.loop = asyncio.get_running_loop()
        base = big_text(3_000_000)
        parses.open(URI)
        old = await parses.wait(URI, version(base, 1))
        new_text = version(base, 2)
        started = time.monotonic()
        assert parses.current(URI, new_text) is old  # stale but immediate
        assert await parses.wait(URI, new_text, timeout=0.01) is old  # a cursor request gives up waiting
        assert time.monotonic() - started < 0.5
        doc = await parses.wait(URI, new_text)
        assert "edit_2" in names(doc) and "edit_1" not in names(doc)
        parses.shutdown()
    run(main())


def test_event_loop_keeps_running_during_a_parse():
    """The loop's ticks stay short while a big parse runs on the worker (GIL shared)."""
    async def main():
        parses = DocumentParses(WorkspaceIndex(), sync_chars=10_000)
        parses.loop = asyncio.get_running_loop()
        text = big_text(6_000_000)
        parses.open(URI)
        parses.current(URI, text)
        gaps = []
        while parses.parsing():
            tick = time.monotonic()
            await asyncio.sleep(0.01)
            gaps.append(time.monotonic() - tick)
        assert len(gaps) > 10
        assert max(gaps) < 0.5, f"the loop stalled {max(gaps):.2f} s"
        parses.shutdown()
    run(main())


def test_closing_drops_a_running_parse_and_a_reopen_drops_a_closed_files_parse():
    async def main():
        index = WorkspaceIndex()
        parses = DocumentParses(index, sync_chars=10_000)
        parses.loop = asyncio.get_running_loop()
        base = big_text(3_000_000)
        parses.open(URI)
        parses.current(URI, version(base, 1))
        waiter = asyncio.ensure_future(parses.wait(URI, version(base, 1)))
        await asyncio.sleep(0.01)
        parses.close(URI)
        assert await waiter is None
        while parses.parsing():
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.05)  # let a late result reach the loop
        assert index.get(URI) is None  # the buffer's parse did not land after the close

        parses.index_file(URI, version(base, 2))  # the file on disk, big: parsed on the worker
        parses.open(URI)  # reopened before that parse is done
        assert names(parses.current(URI, version("", 3))) == {"edit_3"}
        while parses.parsing():
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.05)
        assert names(index.get(URI)) == {"edit_3"}  # the disk text did not overwrite the buffer
        parses.shutdown()
    run(main())


def test_without_a_loop_everything_is_parsed_synchronously():
    parses = DocumentParses(WorkspaceIndex(), sync_chars=10)
    text = version("", 1)
    assert names(parses.current(URI, text)) == {"edit_1"}
    assert threading.active_count() >= 1 and parses.stats["parsed_in_background"] == 0


def test_closing_an_unchanged_big_document_reuses_its_parse():
    async def main():
        index = WorkspaceIndex()
        parses = DocumentParses(index, sync_chars=10_000)
        parses.loop = asyncio.get_running_loop()
        text = version(big_text(3_000_000), 1)
        parses.open(URI)
        doc = await parses.wait(URI, text)
        on_disk = (text + " ")[:-1]  # equal text, another object
        assert on_disk is not text
        parses.index_file(URI, on_disk)
        assert index.get(URI) is doc and not parses.parsing()
        assert parses.stats["parsed_in_background"] == 1
        parses.shutdown()
    run(main())
