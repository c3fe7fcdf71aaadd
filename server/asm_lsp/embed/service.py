"""Similar functions for the server and the CLI: embedder + sqlite cache + workspace index.

No LSP imports: the server's handlers call this and build lsprotocol results. Every public
method returns at once (none raises); the work runs on two threads of ours: the indexer
(parse, normalise, cache look-ups, decide what to embed next) and the embedder's worker
(the only thread that touches its ``Llama``). Order of work: open documents (debounced
``update_document``) before the workspace scan; in each, parsing and cache look-ups for
everything first, so reopening a cached workspace is fast, then embedding.

Lines are 0-based (syntax layer); hover links are ``uri#L<1-based line>``.
"""
from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from asm_lsp.settings import Settings
from asm_lsp.workspace.index import find_asm_files, read_text

from .index import FunctionEntry, FunctionIndex, Similar, extract_functions
from .store import FILE_NAME, EmbeddingStore

log = logging.getLogger(__name__)

EMBED_BATCH = 8  # functions per embedder job: ~1-4 s on 2 cores; open documents can cut in between
DEFAULT_DEBOUNCE_S = 0.5
_BARS = "▁▂▃▄▅▆▇█"

Progress = Callable[[int, int, str], None]  # (functions embedded, functions found, message)


def sparkline(values: Iterable[float]) -> str:
    vals = np.asarray(list(values), dtype=np.float64)
    if vals.size == 0:
        return ""
    low, high = float(vals.min()), float(vals.max())
    span = high - low or 1.0
    return "".join(_BARS[min(len(_BARS) - 1, int((v - low) / span * len(_BARS)))] for v in vals)


def embedding_summary(vector: np.ndarray, bins: int = 16) -> str:
    """One line: dimension, norm, and a histogram of the components as a sparkline."""
    counts, edges = np.histogram(vector, bins=bins)
    return (f"{vector.shape[0]} dims, norm {float(np.linalg.norm(vector)):.1f}, "
            f"values {edges[0]:+.1f} `{sparkline(counts)}` {edges[-1]:+.1f}")


def _path_of(uri: str) -> str:
    from urllib.parse import unquote, urlparse

    parsed = urlparse(uri)
    return unquote(parsed.path) if parsed.scheme == "file" else uri


class SimilarFunctions:
    """Workspace function embeddings. ``embedder`` is any object with the Embedder API
    (``start``, ``submit``, ``status``, ``close``, ``identity``, ``state``); by default one is
    built from ``settings.model`` (resolved in its worker, so construction is instant), on
    ``shared``'s model when given (the server: ``CompletionEngine.shared_model``)."""

    def __init__(
        self,
        settings: Settings,
        cache_dir: Path | None = None,
        *,
        embedder: object | None = None,
        progress: Progress | None = None,
        debounce_s: float = DEFAULT_DEBOUNCE_S,
        background: bool = True,
        shared: Callable[[], object] | None = None,
    ) -> None:
        """``background``: the embedder takes 1 thread at nice 10 (server); False: all cores (CLI)."""
        from asm_lsp.model.store import default_cache_dir

        self.settings = settings
        root = cache_dir or (Path(settings.model.cache_dir).expanduser() if settings.model.cache_dir else default_cache_dir())
        self.cache_path = root / FILE_NAME
        self.enabled = settings.model.enabled and settings.index.embeddings
        self._embedder = embedder if embedder is not None else (
            self._default_embedder(background, shared) if self.enabled else None)
        self.store: EmbeddingStore | None = None
        self.index = FunctionIndex()
        self.progress = progress
        self.debounce_s = debounce_s
        self._cv = threading.Condition()
        self._urgent: dict[str, str] = {}  # uri -> latest text of open documents
        self._timers: dict[str, threading.Timer] = {}
        self._scan: deque[Path] = deque()
        self._open: set[str] = set()
        self._cancel = threading.Event()
        self._closed = False
        self._busy = False
        self._cache_attached = False
        self._thread: threading.Thread | None = None
        self._state = "off" if not self.enabled else "not started"
        self.stats = {"embedded": 0, "from_cache": 0, "scanned_files": 0}

    def _default_embedder(self, background: bool, shared: Callable[[], object] | None) -> object:
        from asm_lsp.model.store import resolve_model

        from .embedder import DEFAULT_BATCH_TOKENS, EMBEDDING_ADAPTER, SHARED_BATCH_TOKENS, Embedder

        m = self.settings.model
        shipped = Path(__file__).resolve().parent.parent / "data" / EMBEDDING_ADAPTER
        adapter = shipped if m.adapter == "default" and shipped.is_file() else None
        # Background work: one thread at nice 10 unless asmLsp.model.threads says otherwise, so
        # indexing a workspace leaves the cores to completions and the editor.
        threads = m.threads or (1 if background else 0)
        return Embedder(lambda: resolve_model(m.path, m.adapter, m.cache_dir, size=m.size), threads=threads,
                        adapter=adapter, nice=10 if background else 0, shared=shared,  # type: ignore[arg-type]
                        batch_tokens=SHARED_BATCH_TOKENS if shared is not None else DEFAULT_BATCH_TOKENS)

    # ------------------------------------------------------------ lifecycle

    def start(self, roots: Iterable[Path] = ()) -> None:
        """Open the cache, start the model, and scan ``roots`` for .s/.S files in the background."""
        if not self.enabled or self._thread is not None:
            return
        self._embedder.start()  # type: ignore[union-attr]
        self._thread = threading.Thread(target=self._run, args=(list(roots),), name="asm-lsp-embed-index", daemon=True)
        self._thread.start()

    def add_files(self, paths: Iterable[Path]) -> None:
        with self._cv:
            self._scan.extend(paths)
            self._cv.notify_all()

    def cancel(self) -> None:
        """Stop the workspace scan and embedding (open documents still get embedded)."""
        self._cancel.set()
        with self._cv:
            self._scan.clear()
            self._cv.notify_all()

    def close(self) -> None:
        with self._cv:
            self._closed = True
            for timer in self._timers.values():
                timer.cancel()
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._embedder is not None:
            self._embedder.close()  # type: ignore[attr-defined]
        if self.store is not None:
            self.store.close()

    # ------------------------------------------------------------ documents

    def update_document(self, uri: str, text: str, *, opened: bool = True) -> None:
        """An open document changed: re-index it after ``debounce_s`` of quiet."""
        if not self.enabled:
            return
        with self._cv:
            if opened:
                self._open.add(uri)
            old = self._timers.pop(uri, None)
            if old is not None:
                old.cancel()

            def fire() -> None:
                with self._cv:
                    self._timers.pop(uri, None)
                    self._urgent[uri] = text
                    self._cv.notify_all()

            if self.debounce_s <= 0:
                self._urgent[uri] = text
                self._cv.notify_all()
            else:
                timer = threading.Timer(self.debounce_s, fire)
                timer.daemon = True
                self._timers[uri] = timer
                timer.start()

    def close_document(self, uri: str) -> None:
        with self._cv:
            self._open.discard(uri)

    def remove_document(self, uri: str) -> None:
        """The file was deleted."""
        with self._cv:
            self._open.discard(uri)
            self._urgent.pop(uri, None)
            timer = self._timers.pop(uri, None)
            if timer is not None:
                timer.cancel()
        self.index.remove_document(uri)

    # ------------------------------------------------------------ queries

    def similar(self, uri: str, function_name: str, k: int = 5) -> list[Similar]:
        """Top-``k`` (uri, name, 0-based line, cosine) like ``function_name``; [] while not embedded."""
        return self.index.similar(uri, function_name, k) or []

    def similar_at(self, uri: str, line: int, k: int = 5) -> list[Similar]:
        """Same for the function holding 0-based ``line`` (``asmLsp.similarFunctions``)."""
        entry = self.index.entry_at(uri, line)
        return self.similar(uri, entry.name, k) if entry else []

    def hover_markdown(self, uri: str, name: str, k: int = 5) -> str | None:
        """Markdown: the top-``k`` similar functions with links, and a compact view of the vector.
        None when the function is unknown or not embedded yet."""
        vector = self.index.vector(uri, name)
        if vector is None:
            return None
        hits = self.index.similar(uri, name, k) or []
        lines = [f"**Similar functions** to `{name}`"]
        if not hits:
            lines.append("\n(no other function indexed yet)")
        for hit in hits:
            where = f"{Path(_path_of(hit.uri)).name}:{hit.line + 1}"
            lines.append(f"- `{hit.name}` {hit.score:.2f} — [{where}]({hit.uri}#L{hit.line + 1})")
        lines.append(f"\n<sub>embedding: {embedding_summary(vector)}</sub>")
        return "\n".join(lines)

    def status(self) -> str:
        done, total = self.index.counts()
        if not self.enabled:
            return "similar functions: off (asmLsp.model.enabled / asmLsp.index.embeddings)"
        model = self._embedder.status() if self._embedder is not None else "none"  # type: ignore[attr-defined]
        note = f"; {self.store.note}" if self.store is not None and self.store.note else ""
        return f"similar functions: {self._state}, {done:,}/{total:,} functions embedded; model {model}{note}"

    def counts(self) -> tuple[int, int]:
        return self.index.counts()

    def idle(self) -> bool:
        """Nothing queued or running (tests, CLI)."""
        with self._cv:
            return (not self._busy and not self._urgent and not self._timers and not self._scan
                    and self._thread is not None)

    def wait_idle(self, timeout: float | None = None) -> bool:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.idle():
            if self._state == "error" or (deadline is not None and time.monotonic() > deadline):
                return False
            time.sleep(0.05)
        return True

    # ------------------------------------------------------------ indexer thread

    def _report(self, message: str) -> None:
        if self.progress is None:
            return
        done, total = self.index.counts()
        try:
            self.progress(done, total, message)
        except Exception:
            log.exception("progress callback failed")

    def _run(self, roots: list[Path]) -> None:
        self._busy = True
        self.store = EmbeddingStore(self.cache_path)
        if roots:
            self._scan.extend(find_asm_files(roots, self.settings.index.max_files))
        self._state = "indexing"
        while True:
            with self._cv:
                self._busy = False
                while not self._closed and not self._urgent and not self._scan and not self._has_embedding_work():
                    self._state = "ready" if self._state != "error" else "error"
                    self._cv.wait(timeout=1.0)
                if self._closed:
                    return
                self._busy = True
                urgent = dict(self._urgent)
                self._urgent.clear()
            try:
                if urgent:
                    for uri, text in urgent.items():
                        self._put_document(uri, text)
                elif self._scan:
                    self._scan_some()
                else:
                    self._embed_some()
            except Exception:  # keep indexing the rest; a bug here must not stop the thread
                log.exception("embedding index step failed")
                time.sleep(0.5)

    def _has_embedding_work(self) -> bool:
        if self._embedder is None or self._embedder.state == "error" or self._state == "error":
            return False
        return bool(self._pending_entries(1))

    def _put_document(self, uri: str, text: str) -> list[FunctionEntry]:
        entries = extract_functions(uri, text)
        self.index.set_document(uri, entries)
        self._attach_cached(entries)
        return entries

    def _attach_cached(self, entries: list[FunctionEntry]) -> None:
        ident = self._identity()
        if not ident or not entries or self.store is None:
            return
        cached = self.store.get_many([e.sha for e in entries], ident)
        if cached:
            self.stats["from_cache"] += self.index.set_vectors(cached)

    def _identity(self) -> str:
        """The model identity, once known (the embedder resolves files in its worker)."""
        return getattr(self._embedder, "identity", "") or ""

    def _scan_some(self, budget_s: float = 0.2) -> None:
        """Read workspace files for up to ``budget_s``. A file unchanged since it was last parsed
        (size, mtime in the cache) is not read: its functions come from the cache, their text
        (needed only to embed them) is read when a vector turns out missing."""
        deadline = time.monotonic() + budget_s
        parsed: list[tuple[str, int, int, list[list]]] = []
        while time.monotonic() < deadline:
            with self._cv:
                if not self._scan or self._urgent:
                    break
                path = self._scan.popleft()
            uri = path.resolve().as_uri()
            if uri in self._open:
                continue  # the editor's buffer wins over the file on disk
            try:
                st = path.stat()
                known = self.store.get_file(uri, st.st_size, st.st_mtime_ns) if self.store else None
                if known is not None:
                    entries = [FunctionEntry(uri, n, line, start, end, sha, "") for n, line, start, end, sha in known]
                    self.index.set_document(uri, entries)
                    self._attach_cached(entries)
                    self.stats["scanned_files"] += 1
                    continue
                text = read_text(path)
            except (OSError, ValueError, TypeError) as e:
                log.info("cannot read %s: %s", path, e)
                continue
            self.stats["scanned_files"] += 1
            entries = self._put_document(uri, text)
            parsed.append((uri, st.st_size, st.st_mtime_ns,
                           [[e.name, e.line, e.start_line, e.end_line, e.sha] for e in entries]))
        if self.store is not None:
            self.store.put_files(parsed)
        self._report("reading files")

    def _reload_from_disk(self, uri: str) -> None:
        """Full entries (with text) for a file listed from the cache."""
        try:
            text = read_text(Path(_path_of(uri)))
        except OSError as e:
            log.info("cannot read %s: %s", uri, e)
            self.index.remove_document(uri)
            return
        self._put_document(uri, text)

    def _pending_entries(self, limit: int) -> list[FunctionEntry]:
        missing = self.index.missing()
        if self._cancel.is_set():
            missing = [e for e in missing if e.uri in self._open]
        missing.sort(key=lambda e: e.uri not in self._open)  # open documents first
        return missing[:limit]

    def _embed_some(self) -> None:
        embedder = self._embedder
        if not self._cache_attached:
            if not embedder.identity:  # type: ignore[union-attr]
                if embedder.state == "error":  # type: ignore[union-attr]
                    self._state = "error"
                    self._report(f"model failed: {embedder.status()}")  # type: ignore[union-attr]
                else:
                    time.sleep(0.02)  # model files still being resolved
                return
            # Identity known: everything parsed so far may be in the cache.
            self._cache_attached = True
            self._attach_cached(self.index.entries())
            self._report("read cache")
            return
        if embedder.state != "ready" and not embedder.wait_ready(1.0):  # type: ignore[union-attr]
            if embedder.state == "error":  # type: ignore[union-attr]
                self._state = "error"
                self._report(f"model failed: {embedder.status()}")  # type: ignore[union-attr]
            return
        batch = self._pending_entries(EMBED_BATCH)
        if not batch:
            return
        lazy = list(dict.fromkeys(e.uri for e in batch if not e.text))
        if lazy:
            for uri in lazy:
                self._reload_from_disk(uri)
            return
        ident = embedder.identity  # type: ignore[union-attr]
        cached = self.store.get_many([e.sha for e in batch], ident) if self.store else {}
        todo = [e for e in batch if e.sha not in cached]
        vectors = dict(cached)
        if todo:
            try:
                result = embedder.submit([e.text for e in todo]).result()  # type: ignore[union-attr]
            except Exception as e:
                log.warning("embedding failed: %s", e)
                self._state = "error"
                return
            fresh = {entry.sha: vec for entry, vec in zip(todo, result)}
            if self.store is not None:
                self.store.put_many(fresh.items(), ident)
            vectors.update(fresh)
            self.stats["embedded"] += len(fresh)
        self.index.set_vectors(vectors)
        self._report("embedding functions")
