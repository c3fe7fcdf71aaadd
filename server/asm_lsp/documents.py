"""Open documents' parses: small texts parsed on the spot, big ones on a worker thread.

The outline of a 50 MB file takes ~6 s of CPU and the full parser runs at ~4 MB/s; done
on the event loop, every request (a hover in another file too) waited for it. Here:

- A text of up to ``SYNC_PARSE_CHARS`` characters (~50 ms of the full parser) is parsed
  when asked for, as before.
- A bigger one goes to one worker thread. Until its parse is done, :meth:`current`
  answers at once with the last completed parse of that document (its positions may be
  off by the edits made since) or None before the first one; :meth:`wait` awaits the
  parse of the newest text without blocking the event loop (whole-document requests),
  or gives up after a timeout and takes what there is (cursor requests).
- Edits coalesce: the worker always takes a document's newest text, so while a parse
  runs, any number of edits cost one more parse.
- The worker also prepares the workspace index's entries and the lookup tables a first
  hover would build; the event loop only swaps them in (~50 ms for a 50 MB file).

Python threads share one interpreter lock: the parse gets about half of the CPU while
requests are being answered, and the event loop waits at most a switch interval (5 ms)
plus the longest single C call of the parse (splitting a 50 MB text: ~0.15 s).

Every method runs on the event loop's thread. Without a loop (``loop is None``: tests
that call handlers directly, the CLI) every text is parsed synchronously.
"""
from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from asm_lsp.syntax import ParsedDocument
from asm_lsp.workspace.index import DocumentNames, WorkspaceIndex

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Larger texts are parsed on the worker thread. The full parser does ~4 MB/s on compiler
#: output (200,000 characters: ~50 ms); pathological lines (33,000 labels on one line)
#: are ~10x slower, still under a second at this size.
SYNC_PARSE_CHARS = 200_000


@dataclass
class _Entry:
    seq: int  # sequence number of ``doc`` (results with a lower one are older)
    is_open: bool = True
    text: str | None = None  # the text ``doc`` was parsed from
    doc: ParsedDocument | None = None
    newest: tuple[int, str] | None = None  # handed to the worker, not parsed yet
    waiters: list[asyncio.Future] = field(default_factory=list)


class DocumentParses:
    """Parses of open documents (and of big closed files being re-indexed), kept in ``index``."""

    def __init__(self, index: WorkspaceIndex, sync_chars: int = SYNC_PARSE_CHARS) -> None:
        self.index = index
        self.sync_chars = sync_chars
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stats = {"parsed_on_loop": 0, "parsed_in_background": 0}
        self._entries: dict[str, _Entry] = {}
        self._seq = itertools.count(1)
        self._cv = threading.Condition()
        self._queue: dict[str, tuple[int, str]] = {}  # uri -> (seq, newest text); shared with the worker
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- documents ---------------------------------------------------------------------
    def open(self, uri: str) -> None:
        """``uri`` was opened: results of earlier parses of it (a closed file's) are dropped."""
        self.close(uri)
        self._entries[uri] = _Entry(next(self._seq))

    def close(self, uri: str) -> None:
        entry = self._entries.pop(uri, None)
        with self._cv:
            self._queue.pop(uri, None)
        if entry is not None:
            _resolve(entry.waiters, None)

    def current(self, uri: str, text: str) -> ParsedDocument | None:
        """The parse of ``text`` if ready (small texts are parsed now); else the last
        completed parse of ``uri``, or None before its first one."""
        entry = self._entries.get(uri)
        if entry is None:
            entry = self._entries[uri] = _Entry(next(self._seq))
        if entry.text is not None and (entry.text is text or entry.text == text):
            entry.text = text
            return entry.doc
        if len(text) <= self.sync_chars or self.loop is None:
            self.stats["parsed_on_loop"] += 1
            self._store(uri, entry, next(self._seq), text, self.index.parse(text, uri), None)
            return entry.doc
        self._schedule(uri, entry, text)
        return entry.doc

    def prefetch(self, uri: str, text: str) -> None:
        """Start parsing a big ``text`` now (an edit); a small one is parsed when asked for."""
        if len(text) > self.sync_chars and self.loop is not None:
            self.current(uri, text)

    async def wait(self, uri: str, text: str, timeout: float | None = None) -> ParsedDocument | None:
        """The parse of ``text`` (or of a newer text of ``uri``), awaited for at most
        ``timeout`` seconds; after that, :meth:`current`'s answer."""
        doc = self.current(uri, text)
        entry = self._entries.get(uri)
        if entry is None or entry.newest is None or self.loop is None:
            return doc
        future = self.loop.create_future()
        entry.waiters.append(future)
        try:
            done, _ = await asyncio.wait({future}, timeout=timeout)
        finally:
            if not future.done():
                future.cancel()
            if future in entry.waiters:
                entry.waiters.remove(future)
        if done and not future.cancelled():
            return future.result()
        latest = self._entries.get(uri)
        return latest.doc if latest is not None else None

    def index_file(self, uri: str, text: str) -> None:
        """Index a closed file's text; a big one on the worker (unless ``uri`` is reopened first)."""
        entry = self._entries.get(uri)
        if entry is not None and entry.text is not None and entry.newest is None and entry.text == text:
            self.close(uri)  # saved, or unchanged: the buffer's parse is the file's; it stays indexed
            return
        self.close(uri)
        if len(text) <= self.sync_chars or self.loop is None:
            self.index.put(uri, self.index.parse(text, uri))
            return
        entry = self._entries[uri] = _Entry(next(self._seq), is_open=False)
        self._schedule(uri, entry, text)

    def parsing(self) -> bool:
        """True while some document's newest text is not parsed yet."""
        return any(entry.newest is not None for entry in self._entries.values())

    def shutdown(self) -> None:
        with self._cv:
            self._closed = True
            self._queue.clear()
            self._cv.notify_all()

    # -- the event loop's side ---------------------------------------------------------------
    def _schedule(self, uri: str, entry: _Entry, text: str) -> None:
        if entry.newest is not None and entry.newest[1] is text:
            return  # queued or being parsed already
        entry.newest = (next(self._seq), text)
        with self._cv:
            self._queue[uri] = entry.newest  # replaces an older text not yet taken: edits coalesce
            self._cv.notify()
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="asm-lsp-parse", daemon=True)
                self._thread.start()

    def _store(self, uri: str, entry: _Entry, seq: int, text: str, doc: ParsedDocument,
               names: DocumentNames | None) -> None:
        if seq < entry.seq:
            return  # an older text than the one already stored
        entry.seq, entry.text, entry.doc = seq, text, doc
        self.index.put(uri, doc, names)
        if entry.newest is None or entry.newest[0] <= seq:
            entry.newest = None
            with self._cv:
                if self._queue.get(uri, (seq + 1,))[0] <= seq:
                    del self._queue[uri]
            _resolve(entry.waiters, doc)
        if not entry.is_open and entry.newest is None:
            del self._entries[uri]  # a closed file: it lives on in the index only

    def _finished(self, uri: str, seq: int, text: str, doc: ParsedDocument, names: DocumentNames) -> None:
        entry = self._entries.get(uri)
        if entry is not None and seq > entry.seq:
            self._store(uri, entry, seq, text, doc, names)

    # -- the worker --------------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._closed:
                    self._cv.wait()
                if self._closed:
                    return
                uri = next(iter(self._queue))
                seq, text = self._queue.pop(uri)
            try:
                with big_allocation():
                    doc = self.index.parse(text, uri)  # with the workspace's function macros
                    _warm(doc)
                    names = WorkspaceIndex.prepare(doc)
            except Exception:  # parse never raises; a bug elsewhere must not end the worker
                log.exception("parsing %s failed", uri)
                continue
            self.stats["parsed_in_background"] += 1
            loop = self.loop
            try:
                if loop is not None:
                    loop.call_soon_threadsafe(self._finished, uri, seq, text, doc, names)
            except RuntimeError:  # the loop is closed: the server is going away
                return
            del doc, names, text


_gc_lock = threading.Lock()
_gc_depth = 0


@contextmanager
def big_allocation() -> Iterator[None]:
    """Build millions of long-lived objects without the cyclic GC stalling every thread.

    A 50 MB outline is ~5 million objects. While they are made, the collector would run
    full collections over the whole heap again and again (each 0.1-0.6 s with the GIL
    held: the event loop stops too); afterwards every full collection would walk them all
    again. So: no collections while building, then ``gc.freeze()`` puts what exists in the
    permanent generation, which collections skip (reference counting still frees it all
    when the document goes).
    """
    global _gc_depth
    with _gc_lock:
        _gc_depth += 1
        if _gc_depth == 1:
            gc.disable()
    try:
        yield
    finally:
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0:
                gc.freeze()
                gc.enable()


def run_big(fn: Callable[..., T], *args: object) -> T:
    """``fn(*args)`` inside :func:`big_allocation` (for ``asyncio.to_thread``)."""
    with big_allocation():
        return fn(*args)


def _warm(doc: ParsedDocument) -> None:
    """Build the lookup tables the first hover or definition would build on the event loop."""
    doc.label_at(0, 0)
    doc.definitions("")
    doc.function_at(0)
    if not getattr(doc, "is_outline", False):  # an outline parses the asked line instead
        doc.ref_at(0, 0)
        doc.statements_on(0)


def _resolve(waiters: list[asyncio.Future], doc: ParsedDocument | None) -> None:
    for future in waiters:
        if not future.done():
            future.set_result(doc)
    waiters.clear()
