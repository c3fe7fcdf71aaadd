"""Glue between the LSP server and the model layer: suggestions and similar functions.

The engine (``asm_lsp.model.engine``) owns the llama.cpp model in its own thread; here
we turn its suggestions into ``InlineCompletionList``/``CompletionItem`` results, check
candidates with the real assembler before showing them, and forward ``$/cancelRequest``
(pygls cancels the handler's task; we cancel the engine's job). Nothing here blocks the
event loop: loading, prefill and generation run in the engine's worker.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lsprotocol import types

from asm_lsp import textsync
from asm_lsp.assembler import insertion_assembles
from asm_lsp.features.includes import check_options
from asm_lsp.features.positions import from_utf16, to_utf16

if TYPE_CHECKING:
    from pygls.workspace import Workspace

    from asm_lsp.assembler import Assembler
    from asm_lsp.documents import DocumentParses
    from asm_lsp.settings import Settings
    from asm_lsp.syntax import ParsedDocument
    from asm_lsp.workspace.includes import IncludeResolver


class ModelHost(Protocol):
    """What the model features need from the server (``AsmLanguageServer`` is one): the open
    documents, the settings, a way to tell the user, and the status bar."""

    settings: Settings
    parses: DocumentParses  # big documents' parses: a prefill waits for them
    loop: asyncio.AbstractEventLoop | None  # $/progress is sent from it (features/progress.py)

    @property
    def client_capabilities(self) -> types.ClientCapabilities | None: ...  # does the client show progress

    @property
    def workspace(self) -> Workspace: ...  # the open documents' text

    def document(self, uri: str) -> ParsedDocument | None: ...
    def assembler(self) -> Assembler | None: ...
    def includes(self) -> IncludeResolver: ...  # the include search (compile_commands.json, settings)
    def workspace_roots(self) -> list[Path]: ...
    def tell_once(self, message: str, kind: types.MessageType = types.MessageType.Warning) -> None: ...
    def send_status(self, model: str | None = None, indexing: str | None = None) -> None: ...


log = logging.getLogger(__name__)
_ids = itertools.count(1)


class ModelCompletions:
    """Model features of one server: completions now, similar functions when embeddings are on."""

    def __init__(self, ls: ModelHost) -> None:
        from asm_lsp.features.progress import WorkDone
        from asm_lsp.model.engine import CompletionEngine
        from asm_lsp.model.store import resolve_model

        self.ls = ls
        cfg = ls.settings.model
        # $/progress while the model is assembled, verified and loaded (the engine's worker reports).
        self.preparing = WorkDone(ls, "asm-lsp: preparing the model", lambda text: ls.send_status(model=text))

        def prepare() -> Any:
            files = resolve_model(cfg.path, cfg.adapter, cfg.cache_dir, size=cfg.size, progress=self.preparing.report)
            self.preparing.report(f"loading {files.model.name} into llama.cpp", None)
            return files

        self.engine = CompletionEngine(
            prepare, threads=cfg.threads,
            context_size=cfg.context_size, kv_shift=cfg.kv_shift,
            cold_window=cfg.cold_window, gpu_layers=cfg.gpu_layers)
        self.similar: Any = None  # asm_lsp.embed.service.SimilarFunctions, when available
        from asm_lsp.features.repo_context import RepoContext

        self.repo = RepoContext(ls.document, getattr(ls, "index", None),
                                lambda: self.similar.index if self.similar is not None else None,
                                ls.workspace_roots)
        self._waiting_prefills: dict[str, asyncio.Task] = {}  # big documents' prefills, waiting for their parse

    def start(self) -> None:
        self.ls.send_status(model="loading")
        self.engine.start()
        threading.Thread(target=self._watch_load, name="asm-lsp-model-watch", daemon=True).start()
        if self.ls.settings.index.embeddings:
            self._start_embeddings()

    def _watch_load(self) -> None:
        if self.engine.wait_ready(timeout=None):
            self.preparing.end("model ready")
            self.ls.send_status(model="ready")
            log.info("model ready: %s", self.engine.status())
        else:
            status = self.engine.status()
            self.preparing.end(f"model unavailable: {status}")
            self.ls.send_status(model="unavailable")
            self.ls.tell_once(f"asm-lsp: the code model is unavailable ({status}); "
                              "completions are off, everything else keeps working.", types.MessageType.Warning)

    def _start_embeddings(self) -> None:
        """Similar functions: a second llama.cpp context (embeddings) on the engine's model."""
        try:
            from asm_lsp.embed.service import SimilarFunctions
        except ImportError as exc:
            log.info("similar functions unavailable: %s", exc)
            return
        def progress(done: int, total: int, message: str) -> None:
            # "N/M" reads as busy in status bars: once all are embedded, say so without it.
            self.ls.send_status(indexing=f"embeddings {done}/{total}" if total and done < total
                                else f"{total} functions embedded" if total else message)
            note = getattr(getattr(self.similar, "store", None), "note", "")
            if note:  # the embeddings cache is locked, was corrupt, cannot be written: say so once
                self.ls.tell_once(f"asm-lsp: {note}", types.MessageType.Warning)

        try:
            self.similar = SimilarFunctions(self.ls.settings, progress=progress, shared=self.engine.shared_model)
            self.similar.start(self.ls.workspace_roots() if self.ls.settings.index.enabled else [])
        except Exception as exc:  # embeddings are a bonus: never take completions down with them
            log.warning("similar functions failed to start: %s", exc, exc_info=True)
            self.similar = None

    # -- suggestions ----------------------------------------------------------------
    async def suggest(self, uri: str, line: int, col: int) -> str | None:
        """The suggestion text for the cursor at (0-based line, code-point col), or None."""
        found = await self.suggestions(uri, line, col)
        return found[0] if found else None

    async def suggestions(self, uri: str, line: int, col: int) -> list[str]:
        """Distinct suggestions for the cursor, best first (up to ``completion.candidates``);
        the extra ones only from lines the engine has already decoded."""
        from asm_lsp.model.engine import CompletionRequest

        cfg = self.ls.settings.completion
        if not cfg.enabled or not self.engine.ready and self.engine.status().startswith(("error", "closed")):
            return []
        text = self.ls.workspace.get_text_document(uri).source
        validate = None
        asm = self.ls.assembler() if cfg.check_with_assembler else None
        if asm is not None:
            validate = self._validator(asm, uri, text, line, col)
        request_id = next(_ids)
        request = CompletionRequest(text, line, col, max_lines=cfg.max_lines, request_id=request_id,
                                    validate=validate, candidates=cfg.candidates if validate else 1,
                                    time_budget_ms=cfg.time_budget_ms, alternatives=cfg.candidates - 1,
                                    context=self._context(uri, line, col))
        future = self.engine.submit(request)
        try:
            suggestion = await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            self.engine.cancel(request_id)
            raise
        log.debug("suggestion at %s:%d:%d: %r", uri, line, col, suggestion)
        if suggestion is None or not suggestion.text.strip() or suggestion.validated is False:
            return []
        return list(dict.fromkeys([suggestion.text, *suggestion.alternatives]))[: max(1, cfg.candidates)]

    def _validator(self, asm: Assembler, uri: str, text: str, line: int, col: int) -> Callable[[str], bool]:
        """The assembler check of a candidate at (0-based line, code-point col) of ``text``, with the
        include search and the preprocessor the diagnostics use (``includes.check_options``), so a
        ``.S`` file whose includes are found is checked whole. The options read files: they are
        worked out on the first call, in the engine's worker, never on the event loop."""
        timeout = self.ls.settings.assembler.timeout_ms / 1000
        resolver = self.ls.includes()
        options: list[dict[str, Any]] = []

        def validate(insert: str) -> bool:
            if not options:
                try:
                    options.append(check_options(resolver, uri, text))
                except Exception as exc:  # the check still runs, on the candidate alone where needed
                    log.info("include search for the assembler check failed: %s", exc)
                    options.append({})
            return insertion_assembles(asm, text, line, col, insert, timeout, **options[0])

        return validate

    async def inline(self, uri: str, line: int, col: int) -> types.InlineCompletionList | None:
        """Up to ``completion.candidates`` items, best first (VS Code and Neovim cycle them)."""
        found = await self.suggestions(uri, line, col)
        if not found:
            return None
        line_text = textsync.line_text(self.ls.workspace.get_text_document(uri).source, line) or ""
        at = types.Position(line=line, character=to_utf16(line_text, col))
        return types.InlineCompletionList(items=[
            types.InlineCompletionItem(insert_text=text, range=types.Range(start=at, end=at)) for text in found])

    async def completion_item(self, uri: str, line: int, col: int) -> types.CompletionItem | None:
        """The model's suggestion as a completion item that replaces the word being typed."""
        text = await self.suggest(uri, line, col)
        if text is None:
            return None
        line_text = textsync.line_text(self.ls.workspace.get_text_document(uri).source, line) or ""
        start = col
        while start > 0 and (line_text[start - 1].isalnum() or line_text[start - 1] in "._"):
            start -= 1
        typed = line_text[start:col]
        first_line = text.split("\n", 1)[0]
        return types.CompletionItem(
            label=f"{(typed + first_line).strip()[:60]}",
            kind=types.CompletionItemKind.Snippet,
            detail="asm-lsp model suggestion",
            documentation=types.MarkupContent(kind=types.MarkupKind.Markdown,
                                              value=f"Suggested by the AArch64 model:\n```asm\n{typed + text}\n```"),
            sort_text="0000",
            filter_text=typed + first_line.strip(),
            preselect=True,
            text_edit=types.TextEdit(
                range=types.Range(start=types.Position(line=line, character=to_utf16(line_text, start)),
                                  end=types.Position(line=line, character=to_utf16(line_text, col))),
                new_text=typed + text),
        )

    # -- document events ------------------------------------------------------------
    def on_open(self, uri: str) -> None:
        """Warm the model's cache where typing is likely to start (``suggest.likely_place``:
        a gap left in a dense file, else the end of the document)."""
        from asm_lsp.model.suggest import likely_place

        document = self.ls.workspace.get_text_document(uri)
        source = document.source
        self._prefill(uri, source, *likely_place(source))
        if self.similar is not None:
            self.similar.update_document(uri, document.source)

    def on_change(self, uri: str, cursor: types.Position | None = None) -> None:
        """Warm the model where the user is typing (the engine keeps only the newest prefill)."""
        document = self.ls.workspace.get_text_document(uri)
        if cursor is not None and self.ls.settings.completion.enabled:
            line_text = textsync.line_text(document.source, cursor.line)  # not pygls's .lines: 2.5M strings on 50 MB
            if line_text is not None:
                col = from_utf16(line_text, cursor.character)
                self._prefill(uri, document.source, cursor.line, col)
        if self.similar is not None:
            self.similar.update_document(uri, document.source)

    def _context(self, uri: str, line: int, col: int) -> str:
        """The repo-level block for the cursor (``completion.repoContext``), "" when off or on error."""
        if not self.ls.settings.completion.repo_context:
            return ""
        try:
            return self.repo.block(uri, line, col)
        except Exception:  # a bonus: never take a suggestion down with it
            log.warning("repo context failed at %s:%d", uri, line, exc_info=True)
            return ""

    def _prefill(self, uri: str, text: str, line: int, col: int) -> None:
        """Prefill at (0-based line, code-point col) of ``text``; in a big document once its parse
        on the worker thread is done: llama.cpp's prompt evaluation takes every core, and beside
        it a 50 MB document took 21 s to outline instead of 8 (bench/results/large_input.md)."""
        waiting = self._waiting_prefills.pop(uri, None)
        if waiting is not None:
            waiting.cancel()  # a newer place (or text) replaces it
        parses = self.ls.parses
        if len(text) <= parses.sync_chars or parses.loop is None:
            self.engine.prefill(text, line, col, self._context(uri, line, col))
            return

        async def after_parse() -> None:
            await parses.wait(uri, text)
            if self._waiting_prefills.get(uri) is task:
                del self._waiting_prefills[uri]
                self.engine.prefill(text, line, col, self._context(uri, line, col))

        task = parses.loop.create_task(after_parse())
        self._waiting_prefills[uri] = task

    def on_close(self, uri: str) -> None:
        waiting = self._waiting_prefills.pop(uri, None)
        if waiting is not None:
            waiting.cancel()
        if self.similar is not None:
            self.similar.close_document(uri)

    def answering(self) -> bool:
        """A completion request waits for the model: the workspace scan gives way meanwhile."""
        return bool(getattr(self.engine, "answering", False))

    def on_index_ready(self) -> None:
        """The symbol index is built; the embedding index scans on its own thread."""

    # -- similar functions -------------------------------------------------------------
    def similar_markdown(self, uri: str, name: str) -> str | None:
        if self.similar is None:
            return None
        return self.similar.hover_markdown(uri, name)

    async def similar_locations(self, args: tuple[Any, ...]) -> list[types.Location]:
        if self.similar is None or len(args) < 2:
            return []
        uri = args[0] if isinstance(args[0], str) else None
        position = args[1] if isinstance(args[1], dict) else None
        if uri is None or position is None:
            return []
        doc = self.ls.document(uri)
        if doc is None:
            return []
        line = int(position.get("line", 0))
        line_text = doc.lines[line] if 0 <= line < len(doc.lines) else ""
        col = from_utf16(line_text, int(position.get("character", 0)))
        ref = doc.ref_at(line, col) or doc.label_at(line, col)
        function = doc.function_at(line)
        name = ref.name if ref is not None else function.name if function is not None else None
        if name is None:
            return []
        found = self.similar.similar(uri, name, 10)
        locations = []
        for other_uri, _name, other_line, _score in found:
            at = types.Position(line=other_line, character=0)
            locations.append(types.Location(uri=other_uri, range=types.Range(start=at, end=at)))
        return locations

    def stats(self) -> dict[str, Any]:
        """``asmLsp.modelStats``: the engine's state and counters, machine-readable."""
        stats = self.engine.stats_dict()
        files = self.engine.files
        stats["files"] = files.describe() if files is not None and hasattr(files, "describe") else None
        stats["similar"] = self.similar.status() if self.similar is not None else None
        return stats

    def status_markdown(self) -> str:
        """``asmLsp.modelStatus``: ``stats()`` for people."""
        return render_status(self.stats())

    def close(self) -> None:
        self.engine.close()
        if self.similar is not None:
            self.similar.close()


def render_status(stats: dict[str, Any]) -> str:
    """The Markdown of ``asmLsp.modelStatus`` from ``asmLsp.modelStats``'s dict."""
    state = f"{stats['state']}: {stats['detail']}" if stats.get("detail") else stats["state"]
    parts = [f"**Model**: {state}"]
    if stats.get("files"):
        parts.append(f"\n\n```\n{stats['files']}\n```")
    if stats.get("placement"):
        parts.append(f"\n\nruns on {stats['placement']}, {stats['threads']} threads")
    counters = stats.get("counters", {})
    parts.append(f"\n\ncompletions {counters.get('completions', 0)}, cache hits {counters.get('cache_hits', 0)}, "
                 f"follow-ups {counters.get('follow_ups', 0)}; {'busy' if stats.get('busy') else 'idle'}")
    last = stats.get("last") or {}
    if last:  # the last completion the model computed (cache hits leave it as it was)
        parts.append(f"; last computed: {int(last.get('prompt_tokens', 0))} prompt tokens, "
                     f"{int(last.get('reused_tokens', 0))} reused from the KV cache, {last.get('elapsed_ms', 0):.0f} ms")
    if stats.get("similar"):
        parts.append(f"\n\n**Similar functions**: {stats['similar']}")
    return "".join(parts)


def start(ls: ModelHost) -> ModelCompletions | None:
    """Start the model features unless they are switched off or cannot be imported."""
    if not ls.settings.model.enabled:
        ls.send_status(model="off")
        return None
    try:
        import llama_cpp  # noqa: F401  (present only with the 'model' extra)
    except ImportError:
        ls.tell_once("asm-lsp: llama-cpp-python is not installed, so model completions are off; "
                     "install with: pip install 'asm-lsp-aarch64[model]'", types.MessageType.Info)
        ls.send_status(model="not installed")
        return None
    completions = ModelCompletions(ls)
    completions.start()
    return completions
