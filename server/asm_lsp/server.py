"""The pygls language server: state, and thin handlers that call features/.

Handlers read their params, call a feature function and return its result; ``None``
means "nothing here". Anything slow (assembling, indexing, the model, parsing a big
document: documents.py) runs off the event loop. Every handler is wrapped so that an
unexpected exception is logged and answered with an empty result instead of taking the
server down.
"""
from __future__ import annotations

import asyncio
import functools
import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path

from asm_lsp import VERSION_LINE, __version__
from asm_lsp.assembler import Assembler, AssemblerNotFound, find_assembler
from asm_lsp.documents import DocumentParses, run_big
from asm_lsp.features import completion as completion_feature
from asm_lsp.features import diagnostics as diagnostics_feature
from asm_lsp.features import hover as hover_feature
from asm_lsp.features import includes as includes_feature
from asm_lsp.features import mca as mca_feature
from asm_lsp.features import navigation, symbols
from asm_lsp.features import rename as rename_feature
from asm_lsp.features import semantic_tokens as semantic_feature
from asm_lsp.features import signature as signature_feature
from asm_lsp.features.positions import clamp_position
from asm_lsp.robust_io import Encoded, RobustProtocol, TolerantReader
from asm_lsp.settings import SettingsLayers, settings_from_dict
from asm_lsp.syntax import ParsedDocument
from asm_lsp.workspace.includes import IncludeResolver, include_at
from asm_lsp.workspace.index import WorkspaceIndex, find_asm_files, scan_files

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

#: Cursor requests (hover, definition, completion) wait this long for the parse of a big
#: document's newest text, then answer from its last completed parse.
CURSOR_WAIT_S = 0.25
SCAN_GIVES_WAY_S = 10.0  # longest pause of the workspace scan for one model request
#: documentSymbol of documents with more lines than this is built and encoded as JSON on a
#: worker thread (50 MB, 85,000 symbols: ~2.5 s of CPU), and kept until the next parse.
SYMBOLS_IN_THREAD_LINES = 50_000
#: Semantic tokens of more lines than this are made on a worker thread (20,000 lines: ~50 ms).
SEMANTIC_IN_THREAD_LINES = 5_000


class AsmLanguageServer(LanguageServer):
    """Server state: settings, the workspace index, the assembler, the model (optional)."""

    def __init__(self, overrides: dict[str, Any] | None = None) -> None:
        super().__init__("asm-lsp", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
                         protocol_cls=RobustProtocol)
        self.overrides = overrides or {}
        self.settings_layers = SettingsLayers(overrides=self.overrides)
        self.settings, _ = settings_from_dict(self.overrides)
        self.index = WorkspaceIndex()
        self.index.include_lookup = self._included_uris  # macros and names through #include/.include
        self.open_versions: dict[str, int] = {}
        self.parses = DocumentParses(self.index)
        self._symbols: dict[str, tuple[ParsedDocument, Encoded]] = {}
        self.semantic = semantic_feature.TokenResults()
        self._assembler: Assembler | None = None
        self._assembler_problem: str | None = None
        self._includes: tuple[tuple, IncludeResolver] | None = None  # made for (roots, settings)
        self._told: set[str] = set()  # messages shown once
        self._diag_tasks: dict[str, asyncio.Task] = {}
        self._last_change: dict[str, float] = {}
        self._pull_diagnostics = False
        self._index_cancel = threading.Event()
        self._progress_token: str | None = None  # the indexing progress the client may cancel
        self._status: dict[str, str] = {"model": "off", "indexing": "idle"}  # asmLsp/status, as last sent
        self.loop: asyncio.AbstractEventLoop | None = None
        self.completions: Any = None  # features.model_completion.ModelCompletions, when the model is on
        self.model_started = False  # the model layer was asked to start (after initialized)
        self.mca = mca_feature.McaAnalyzer()  # llvm-mca runs and their answers (asmLsp.analyzeThroughput)

    # -- transport ----------------------------------------------------------------
    def start_io(self, stdin: Any = None, stdout: Any = None) -> None:
        """Serve on stdio through a reader that survives junk and bad bytes (robust_io.py)."""
        super().start_io(TolerantReader(stdin or sys.stdin.buffer), stdout)

    def report_server_error(self, error: Exception, source: Any) -> None:
        if isinstance(error, (ValueError, RecursionError)):  # a body that is not JSON
            self.protocol.parse_error(error)
            return
        super().report_server_error(error, source)

    # -- settings -----------------------------------------------------------------
    def apply_settings(self, raw: Any, source: str) -> None:
        """Take settings from ``source`` (initializationOptions or workspace configuration:
        layered in settings.SettingsLayers, CLI flags on top) and tell the user what was wrong."""
        self.settings, problems = self.settings_layers.apply(raw, source)
        self._assembler = None
        self._assembler_problem = None
        for problem in problems:
            self.tell_once(f"asm-lsp settings ({source}): {problem}", types.MessageType.Warning)

    # -- messages -----------------------------------------------------------------
    def tell_once(self, message: str, kind: types.MessageType = types.MessageType.Warning) -> None:
        """Show ``message`` to the user once per session; always log it."""
        log.warning("%s", message)
        if message in self._told:
            return
        self._told.add(message)
        self.tell(message, kind)

    def tell(self, message: str, kind: types.MessageType = types.MessageType.Warning) -> None:
        """Show ``message`` and put it in the client's log too (window/logMessage): editors that
        show a message only briefly, or not at all (Neovim without a UI), still keep it."""
        self.send_threadsafe(self.window_show_message, types.ShowMessageParams(type=kind, message=message))
        self.send_threadsafe(self.window_log_message, types.LogMessageParams(type=kind, message=message))

    def send_threadsafe(self, method: Callable[[Any], None], params: Any) -> None:
        """Send a notification from any thread (the transport belongs to the event loop)."""
        loop = self.loop
        try:
            if loop is None or _on_loop(loop):
                method(params)
            else:
                loop.call_soon_threadsafe(method, params)
        except Exception:  # the client may be gone; never let a notification kill a worker
            log.debug("could not send notification", exc_info=True)

    def send_status(self, model: str | None = None, indexing: str | None = None) -> None:
        if model is not None:
            self._status["model"] = model
        if indexing is not None:
            self._status["indexing"] = indexing
        params = dict(self._status)
        self.send_threadsafe(lambda p: self.protocol.notify("asmLsp/status", p), params)

    # -- documents ----------------------------------------------------------------
    def document(self, uri: str) -> ParsedDocument | None:
        """The parsed text of ``uri``: the open buffer, else the indexed file, else None.

        Never blocks on a big buffer: while its newest text is being parsed (documents.py)
        this is its last completed parse, or None before the first. An outline above
        2 MB / 100k lines (syntax/outline.py)."""
        if uri in self.open_versions:
            return self.parses.current(uri, self.workspace.get_text_document(uri).source)
        return self.index.get(uri)

    async def parsed(self, uri: str, timeout: float | None = None) -> ParsedDocument | None:
        """As :meth:`document`, but awaits (at most ``timeout`` s) the parse of the newest text."""
        if uri in self.open_versions:
            return await self.parses.wait(uri, self.workspace.get_text_document(uri).source, timeout)
        return self.index.get(uri)

    async def document_symbols(self, uri: str) -> list[types.DocumentSymbol] | Encoded:
        doc = await self.parsed(uri)
        if doc is None:
            return []
        if len(doc.lines) <= SYMBOLS_IN_THREAD_LINES:
            return symbols.document_symbols(doc)
        cached = self._symbols.get(uri)
        if cached is not None and cached[0] is doc:
            return cached[1]
        encoded = await asyncio.to_thread(run_big, self._encode_symbols, doc)
        if uri in self.open_versions:
            self._symbols[uri] = (doc, encoded)
        return encoded

    def refresh_semantic_tokens(self) -> None:
        """The workspace index changed under tokens already sent (a name there may now be a
        function of another file): forget them and, if the client can, ask it to request again."""
        if not self.semantic.invalidate():
            return
        workspace = getattr(getattr(self.protocol, "client_capabilities", None), "workspace", None)
        tokens = workspace.semantic_tokens if workspace else None
        if tokens is not None and tokens.refresh_support:
            self.workspace_semantic_tokens_refresh(None)

    async def prepare_semantic_tokens(self, uri: str) -> None:
        """After an open or an edit, make the parse's semantic tokens before the client asks
        (editors ask a little later: after attaching, once typing stops); a request that
        comes meanwhile waits for them instead of making them twice."""
        doc = await self.parsed(uri)
        if doc is not None and uri in self.open_versions and semantic_feature.full_allowed(doc):
            await run_maybe_big(doc, self.semantic.prepare, uri, doc, self.index)

    def _encode_symbols(self, doc: ParsedDocument) -> Encoded:
        found = symbols.document_symbols(doc)
        return Encoded(json.dumps(self.protocol._converter.unstructure(found, list[types.DocumentSymbol])))

    def assembler(self) -> Assembler | None:
        if self._assembler is None and self._assembler_problem is None:
            cfg = self.settings.assembler
            try:
                self._assembler = find_assembler(cfg.path, cfg.flags)
                log.info("assembler: %s", self._assembler.describe())
            except AssemblerNotFound as exc:
                self._assembler_problem = str(exc)
        if self._assembler_problem:
            self.tell_once(self._assembler_problem, types.MessageType.Warning)
        return self._assembler

    def _included_uris(self, uri: str, lines: Any) -> list[str]:
        """The files a document includes, as URIs (for the workspace index; any thread)."""
        path = to_fs_path(uri)
        if not path:
            return []
        files = self.includes().included_files(Path(path), "\n".join(lines))
        return [from_fs_path(str(f)) or str(f) for f in files]

    def includes(self) -> IncludeResolver:
        """The include search for the current workspace folders and settings."""
        cfg = self.settings.assembler
        key = (tuple(self.workspace_roots()), tuple(cfg.include_paths), tuple(cfg.defines))
        if self._includes is None or self._includes[0] != key:
            self._includes = (key, IncludeResolver(key[0], cfg.include_paths, cfg.defines))
        return self._includes[1]

    async def compute_diagnostics(self, uri: str) -> list[types.Diagnostic]:
        doc = await self.parsed(uri)
        if doc is None or not self.settings.diagnostics.enabled:
            return []
        if getattr(doc, "is_outline", False):
            self.tell_once(f"asm-lsp: {uri.rsplit('/', 1)[-1]} is too large for assembler diagnostics "
                           "(over 2 MB or 100,000 lines); symbols, hover and navigation still work.",
                           types.MessageType.Info)
            return []
        text = self.workspace.get_text_document(uri).source if uri in self.open_versions else None
        asm = self.assembler()
        messages, failure, plan = [], None, None
        if asm is not None and text is not None:
            path = to_fs_path(uri)
            result, plan = await asyncio.to_thread(
                diagnostics_feature.assemble_document, asm, self.includes(), Path(path) if path else None, text,
                self.settings.assembler.timeout_ms / 1000)
            if result.failed_to_run:
                self.tell_once(result.failed_to_run, types.MessageType.Warning)
            messages, failure = result.messages, result.include_failure
        name = Path(asm.program).name if asm else diagnostics_feature.SOURCE
        return diagnostics_feature.build_diagnostics(doc, messages, name, failure, plan)

    def schedule_push_diagnostics(self, uri: str) -> None:
        """Debounced push of diagnostics for clients without pull diagnostics."""
        self._last_change[uri] = time.monotonic()
        if self._pull_diagnostics:
            return
        old = self._diag_tasks.pop(uri, None)
        if old is not None:
            old.cancel()

        async def run() -> None:
            await asyncio.sleep(self.settings.diagnostics.debounce_ms / 1000)
            version = self.open_versions.get(uri)
            found = await self.compute_diagnostics(uri)
            if self.open_versions.get(uri) == version and uri in self.open_versions:
                self.text_document_publish_diagnostics(
                    types.PublishDiagnosticsParams(uri=uri, diagnostics=found, version=version))

        self._diag_tasks[uri] = asyncio.ensure_future(run())

    # -- indexing ------------------------------------------------------------------
    def workspace_roots(self) -> list[Path]:
        """The workspace folders on disk, else the root path, else none."""
        roots = [Path(p) for p in (to_fs_path(f.uri) for f in self.workspace.folders.values()) if p]
        if not roots and self.workspace.root_path:
            roots = [Path(self.workspace.root_path)]
        return roots

    def _scan_cancelled(self) -> bool:
        """Asked by the workspace scan before each file (on its thread). While a completion
        request waits for the model, the scan waits too (at most SCAN_GIVES_WAY_S): a third
        busy thread on 2 cores stalls llama.cpp's two, which wait on each other at every step
        (on dav1d and x264, 69 prompt tokens and 4 decoded in a 2 s budget during the scan)."""
        deadline = time.monotonic() + SCAN_GIVES_WAY_S
        while self.completions is not None and self.completions.answering() and time.monotonic() < deadline:
            time.sleep(0.02)
        return self._index_cancel.is_set()

    async def index_workspace(self) -> None:
        roots = self.workspace_roots()
        if not roots or not self.settings.index.enabled:
            return
        token = str(uuid.uuid4())
        supports_progress = bool(self.client_capabilities.window and self.client_capabilities.window.work_done_progress)
        if supports_progress:
            try:
                await asyncio.wait_for(self.work_done_progress.create_async(token), 10)
                self.work_done_progress.begin(token, types.WorkDoneProgressBegin(
                    title="asm-lsp: indexing", cancellable=True, message="finding files", percentage=0))
                self._progress_token = token
            except Exception:
                supports_progress = False
        self.send_status(indexing="indexing")
        started = time.monotonic()
        files = await asyncio.to_thread(find_asm_files, roots, self.settings.index.max_files)
        pairs = [(from_fs_path(str(p)) or str(p), p) for p in files]

        def progress(done: int, total: int) -> None:
            if supports_progress:
                self.send_threadsafe(lambda _: self.work_done_progress.report(token, types.WorkDoneProgressReport(
                    message=f"{done}/{total} files", percentage=int(100 * done / max(total, 1)))), None)

        count = await asyncio.to_thread(scan_files, self.index, pairs, lambda u: u in self.open_versions,
                                        self._scan_cancelled, progress)
        elapsed = time.monotonic() - started
        log.info("indexed %d of %d files in %.2f s", count, len(pairs), elapsed)
        if supports_progress:
            self.work_done_progress.end(token, types.WorkDoneProgressEnd(message=f"{count} files indexed"))
        self.send_status(indexing=f"{len(self.index)} files")  # open buffers count too
        self.refresh_semantic_tokens()
        if self.completions is not None:
            self.completions.on_index_ready()


async def run_maybe_big(doc: ParsedDocument, fn: Callable[..., Any], *args: Any, span: int | None = None) -> Any:
    """``fn(*args)`` on the event loop for small work, on a worker thread above
    SEMANTIC_IN_THREAD_LINES lines (``span``: the lines a range covers; default the document's)."""
    if (span if span is not None else len(doc.lines)) <= SEMANTIC_IN_THREAD_LINES:
        return fn(*args)
    return await asyncio.to_thread(fn, *args)


def _edit_end(changes: Any) -> types.Position | None:
    """Where the cursor likely is after the last incremental change (LSP units), if known."""
    change = changes[-1] if changes else None
    if change is None or getattr(change, "range", None) is None:
        return None
    inserted = change.text.split("\n")
    start = change.range.start
    last = len(inserted[-1].encode("utf-16-le", "surrogatepass")) // 2
    if len(inserted) == 1:
        return types.Position(line=start.line, character=start.character + last)
    return types.Position(line=start.line + len(inserted) - 1, character=last)


def in_background(make: Callable[[], Any]) -> None:
    """Run the coroutine ``make()`` as a task on the running loop. Outside one (a handler called
    directly, as the fuzz harness does) there is no loop to run it on: ``ensure_future`` would take
    whatever loop the thread has set, or raise when it has none, so the work is left to the
    request that needs it instead."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    loop.create_task(make())


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def guarded(default: Any = None) -> Callable[[F], F]:
    """Log and swallow unexpected exceptions in a handler; answer ``default`` instead.
    A ``JsonRpcException`` is a deliberate error answer (a refused rename) and passes."""

    def wrap(fn: F) -> F:
        if asyncio.iscoroutinefunction(fn):
            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                try:
                    return await fn(*args, **kwargs)
                except (asyncio.CancelledError, JsonRpcException):
                    raise
                except Exception:
                    log.exception("%s failed", fn.__name__)
                    return default() if callable(default) else default
            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except JsonRpcException:
                raise
            except Exception:
                log.exception("%s failed", fn.__name__)
                return default() if callable(default) else default
        return wrapper  # type: ignore[return-value]

    return wrap


def create_server(overrides: dict[str, Any] | None = None) -> AsmLanguageServer:
    """A server with every feature registered. ``overrides`` win over client settings (CLI flags)."""
    server = AsmLanguageServer(overrides)

    @server.feature(types.INITIALIZE)
    @guarded()
    def initialize(ls: AsmLanguageServer, params: types.InitializeParams) -> None:
        ls.loop = ls.parses.loop = asyncio.get_running_loop()
        ls.apply_settings(params.initialization_options, "initializationOptions")
        caps = params.capabilities.text_document
        ls._pull_diagnostics = bool(caps and caps.diagnostic)
        log.info("%s; client %s; pull diagnostics: %s", VERSION_LINE,
                 params.client_info.name if params.client_info else "?", ls._pull_diagnostics)

    @server.feature(types.INITIALIZED)
    @guarded()
    async def initialized(ls: AsmLanguageServer, params: types.InitializedParams) -> None:
        workspace_caps = ls.client_capabilities.workspace
        if workspace_caps and workspace_caps.configuration:
            try:
                result = await asyncio.wait_for(ls.workspace_configuration_async(types.ConfigurationParams(
                    items=[types.ConfigurationItem(section="asmLsp")])), 5)
                if result and result[0] is not None:
                    ls.apply_settings(result[0], "workspace/configuration")
            except Exception as exc:
                log.info("workspace/configuration not answered: %s", exc)
        ls.assembler()
        from asm_lsp.features import model_completion  # imports the model layer lazily
        ls.completions = model_completion.start(ls)
        ls.model_started = True
        asyncio.ensure_future(guarded()(ls.index_workspace)())

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    @guarded()
    async def did_change_configuration(ls: AsmLanguageServer, params: types.DidChangeConfigurationParams) -> None:
        settings = params.settings
        if isinstance(settings, dict) and "asmLsp" in settings:
            ls.apply_settings(settings["asmLsp"], "didChangeConfiguration")
        elif ls.client_capabilities.workspace and ls.client_capabilities.workspace.configuration:
            result = await asyncio.wait_for(ls.workspace_configuration_async(types.ConfigurationParams(
                items=[types.ConfigurationItem(section="asmLsp")])), 5)
            if result:
                ls.apply_settings(result[0], "workspace/configuration")

    @server.feature(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def cancel_progress(ls: AsmLanguageServer, params: types.WorkDoneProgressCancelParams) -> None:
        if params.token == ls._progress_token:
            ls._index_cancel.set()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    @guarded()
    def did_open(ls: AsmLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.open_versions[params.text_document.uri] = params.text_document.version
        ls.parses.open(params.text_document.uri)
        ls.document(params.text_document.uri)  # a big one starts parsing on the worker
        ls.schedule_push_diagnostics(params.text_document.uri)
        caps = getattr(getattr(ls.protocol, "client_capabilities", None), "text_document", None)
        if caps is not None and caps.semantic_tokens is not None:  # the client will ask for them
            in_background(lambda: guarded()(ls.prepare_semantic_tokens)(params.text_document.uri))
        if ls.completions is not None:
            ls.completions.on_open(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    @guarded()
    def did_change(ls: AsmLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.open_versions[params.text_document.uri] = params.text_document.version
        ls.parses.prefetch(params.text_document.uri, ls.workspace.get_text_document(params.text_document.uri).source)
        ls.schedule_push_diagnostics(params.text_document.uri)
        if ls.semantic.wanted(params.text_document.uri):
            in_background(lambda: guarded()(ls.prepare_semantic_tokens)(params.text_document.uri))
        if ls.completions is not None:
            ls.completions.on_change(params.text_document.uri, _edit_end(params.content_changes))

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    @guarded()
    def did_save(ls: AsmLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        if params.text_document.uri in ls.open_versions:
            ls.schedule_push_diagnostics(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    @guarded()
    def did_close(ls: AsmLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.open_versions.pop(uri, None)
        ls._symbols.pop(uri, None)
        ls.semantic.forget(uri)
        if ls.completions is not None:
            ls.completions.on_close(uri)
        task = ls._diag_tasks.pop(uri, None)
        if task is not None:
            task.cancel()
        path = to_fs_path(uri)
        if path and Path(path).is_file():  # the file on disk is what the workspace has now
            ls.parses.index_file(uri, Path(path).read_bytes().decode("utf-8", "replace"))
        else:
            ls.parses.close(uri)
            ls.index.remove(uri)
        if not ls._pull_diagnostics:
            ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @guarded(default=list)
    async def document_symbol(ls: AsmLanguageServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
        return await ls.document_symbols(params.text_document.uri)

    @server.feature(types.WORKSPACE_SYMBOL)
    @guarded(default=list)
    def workspace_symbol(ls: AsmLanguageServer, params: types.WorkspaceSymbolParams) -> list[types.WorkspaceSymbol]:
        for uri in list(ls.open_versions):
            ls.document(uri)
        return symbols.workspace_symbols(ls.index, params.query)

    @server.feature(types.TEXT_DOCUMENT_FOLDING_RANGE)
    @guarded(default=list)
    async def folding_range(ls: AsmLanguageServer, params: types.FoldingRangeParams) -> list[types.FoldingRange]:
        doc = await ls.parsed(params.text_document.uri)
        return symbols.folding_ranges(doc) if doc else []

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    @guarded()
    async def definition(ls: AsmLanguageServer, params: types.DefinitionParams) -> list[types.Location] | None:
        uri = params.text_document.uri
        doc = await ls.parsed(uri, CURSOR_WAIT_S)
        if doc is None:
            return None
        line, col = clamp_position(doc.lines, params.position)
        if include_at(doc.lines, line, col) is not None:  # resolving reads the disk: off the loop
            return await asyncio.to_thread(includes_feature.definition, ls.includes(), uri, doc.lines, line, col)
        return navigation.definition(ls.index, uri, doc, line, col)

    @server.feature(types.TEXT_DOCUMENT_REFERENCES)
    @guarded()
    async def references(ls: AsmLanguageServer, params: types.ReferenceParams) -> list[types.Location] | None:
        uri = params.text_document.uri
        doc = await ls.parsed(uri, CURSOR_WAIT_S)
        if doc is None:
            return None
        line, col = clamp_position(doc.lines, params.position)
        return navigation.references(ls.index, uri, doc, line, col, params.context.include_declaration)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    @guarded()
    async def hover(ls: AsmLanguageServer, params: types.HoverParams) -> types.Hover | None:
        uri = params.text_document.uri
        doc = await ls.parsed(uri, CURSOR_WAIT_S)
        if doc is None:
            return None
        line, col = clamp_position(doc.lines, params.position)
        if include_at(doc.lines, line, col) is not None:
            return await asyncio.to_thread(includes_feature.hover, ls.includes(), uri, doc.lines, line, col)
        extra = ls.completions.similar_markdown if ls.completions is not None else None
        found = hover_feature.hover(ls.index, uri, doc, line, col, extra)
        if found is not None and ls.settings.analysis.mca_on_hover:
            target = mca_feature.hover_target(ls.index, uri, doc, line, col)
            if target is not None:
                try:
                    _, markdown = await ls.mca.run(ls.settings.analysis, target, detail=False)
                    found = mca_feature.add_section(found, markdown)
                except mca_feature.McaError as exc:
                    ls.tell_once(f"asm-lsp: pipeline analysis on hover: {exc}", types.MessageType.Warning)
        return found

    @server.feature(types.TEXT_DOCUMENT_COMPLETION,
                    types.CompletionOptions(trigger_characters=[".", " ", ","], resolve_provider=False))
    @guarded()
    async def completion(ls: AsmLanguageServer, params: types.CompletionParams) -> types.CompletionList | None:
        uri = params.text_document.uri
        doc = await ls.parsed(uri, CURSOR_WAIT_S)
        if doc is None:
            return None
        line, col = clamp_position(doc.lines, params.position)
        items = completion_feature.static_completions(ls.index, uri, doc, line, col)
        if ls.completions is not None and ls.settings.completion.mode in ("list", "both"):
            suggestion = await ls.completions.completion_item(uri, line, col)
            if suggestion is not None:
                items.insert(0, suggestion)
        return types.CompletionList(is_incomplete=ls.completions is not None, items=items)

    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    @guarded()
    async def inline_completion(ls: AsmLanguageServer, params: types.InlineCompletionParams) -> types.InlineCompletionList | None:
        uri = params.text_document.uri
        doc = await ls.parsed(uri, CURSOR_WAIT_S)
        if doc is None or ls.completions is None or ls.settings.completion.mode == "list":
            return None
        line, col = clamp_position(doc.lines, params.position)
        return await ls.completions.inline(uri, line, col)

    @server.feature(types.TEXT_DOCUMENT_DIAGNOSTIC,
                    types.DiagnosticOptions(identifier="asm-lsp", inter_file_dependencies=False,
                                            workspace_diagnostics=False))
    @guarded()
    async def pull_diagnostics(ls: AsmLanguageServer, params: types.DocumentDiagnosticParams) -> types.FullDocumentDiagnosticReport:
        uri = params.text_document.uri
        # Debounce: wait until typing pauses before running the assembler.
        while True:
            idle = time.monotonic() - ls._last_change.get(uri, 0.0)
            wait = ls.settings.diagnostics.debounce_ms / 1000 - idle
            if wait <= 0:
                break
            await asyncio.sleep(wait)
        found = await ls.compute_diagnostics(uri)
        return types.FullDocumentDiagnosticReport(items=found)

    @server.feature(types.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL, semantic_feature.LEGEND)
    @guarded()
    async def semantic_tokens_full(ls: AsmLanguageServer, params: types.SemanticTokensParams) -> Encoded | None:
        uri = params.text_document.uri
        doc = await ls.parsed(uri)
        if doc is None or not semantic_feature.full_allowed(doc):
            return None
        return await run_maybe_big(doc, ls.semantic.full, uri, doc, ls.index)

    @server.feature(types.TEXT_DOCUMENT_SEMANTIC_TOKENS_FULL_DELTA)
    @guarded()
    async def semantic_tokens_delta(ls: AsmLanguageServer, params: types.SemanticTokensDeltaParams) -> Encoded | None:
        uri = params.text_document.uri
        doc = await ls.parsed(uri)
        if doc is None or not semantic_feature.full_allowed(doc):
            return None
        return await run_maybe_big(doc, ls.semantic.delta, uri, params.previous_result_id, doc, ls.index)

    @server.feature(types.TEXT_DOCUMENT_SEMANTIC_TOKENS_RANGE)
    @guarded()
    async def semantic_tokens_range(ls: AsmLanguageServer, params: types.SemanticTokensRangeParams) -> types.SemanticTokens | None:
        uri = params.text_document.uri
        doc = await ls.parsed(uri)
        lines = semantic_feature.range_lines(doc, params.range) if doc is not None else None
        if lines is None:
            return types.SemanticTokens(data=[])
        return types.SemanticTokens(data=await run_maybe_big(
            doc, semantic_feature.document_data, doc, ls.index, uri, lines[0], lines[1], span=lines[1] - lines[0]))

    @server.feature(types.TEXT_DOCUMENT_SIGNATURE_HELP,
                    types.SignatureHelpOptions(trigger_characters=[",", " "], retrigger_characters=[","]))
    @guarded()
    async def signature_help(ls: AsmLanguageServer, params: types.SignatureHelpParams) -> types.SignatureHelp | None:
        doc = await ls.parsed(params.text_document.uri, CURSOR_WAIT_S)
        if doc is None or not 0 <= params.position.line < len(doc.lines):
            return None
        line, col = clamp_position(doc.lines, params.position)
        here = params.text_document.uri.rsplit("/", 1)[-1]
        macros = [(here, m) for m in getattr(doc, "macros", ())]
        macros += [(u.rsplit("/", 1)[-1], m) for u, m in ls.index.macros() if u != params.text_document.uri]
        return signature_feature.signature_help(doc.lines, line, col, macros)

    @server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)
    @guarded()
    async def prepare_rename(ls: AsmLanguageServer, params: types.PrepareRenameParams) -> types.PrepareRenamePlaceholder:
        doc = await ls.parsed(params.text_document.uri, CURSOR_WAIT_S)
        if doc is None:
            raise rename_feature.RenameRefused(f"{params.text_document.uri} is neither open nor in the workspace")
        return rename_feature.prepare_rename(doc, params.position, ls.index)

    @server.feature(types.TEXT_DOCUMENT_RENAME)
    @guarded()
    async def rename(ls: AsmLanguageServer, params: types.RenameParams) -> types.WorkspaceEdit:
        uri = params.text_document.uri
        doc = await ls.parsed(uri)
        if doc is None:
            raise rename_feature.RenameRefused(f"{uri} is neither open nor in the workspace")
        for open_uri in list(ls.open_versions):
            ls.document(open_uri)  # the index holds every open buffer's newest parse
        return rename_feature.rename(ls.index, uri, doc, params.position, params.new_name)

    @server.command("asmLsp.similarFunctions")
    @guarded(default=list)
    async def similar_functions(ls: AsmLanguageServer, *args: Any) -> list[types.Location]:
        if ls.completions is None:
            return []
        return await ls.completions.similar_locations(args)

    @server.command("asmLsp.analyzeThroughput")
    @guarded(default=lambda: mca_feature.command_result(None, "", "pipeline analysis failed (see the log)"))
    async def analyze_throughput(ls: AsmLanguageServer, *args: Any) -> dict:
        """llvm-mca on [uri, range | position | {"function": name}]: {ok, markdown, report | error}."""
        uri = args[0] if args and isinstance(args[0], str) else None
        doc = await ls.parsed(uri) if uri else None
        try:
            if uri is None or doc is None:
                raise mca_feature.McaError(f"asmLsp.analyzeThroughput: no open or indexed document {uri!r}")
            target = mca_feature.command_target(ls.index, uri, doc, args[1] if len(args) > 1 else None)
            report, markdown = await ls.mca.run(ls.settings.analysis, target, detail=True)
        except mca_feature.McaError as exc:
            ls.tell(f"asm-lsp: {exc}", types.MessageType.Warning)
            return mca_feature.command_result(None, "", str(exc))
        return mca_feature.command_result(report, markdown)

    @server.command("asmLsp.modelStatus")
    @guarded(default="model status unavailable")
    def model_status(ls: AsmLanguageServer, *args: Any) -> str:
        if ls.completions is None:
            if not ls.model_started and ls.settings.model.enabled:
                return "The model is starting."
            return "The model is off (asmLsp.model.enabled is false, or llama-cpp-python is not installed)."
        return ls.completions.status_markdown()

    @server.command("asmLsp.modelStats")
    @guarded(default=dict)
    def model_stats(ls: AsmLanguageServer, *args: Any) -> dict[str, Any]:
        """The model's state and counters as JSON (what asmLsp.modelStatus renders)."""
        if ls.completions is None:
            starting = not ls.model_started and ls.settings.model.enabled
            return {"state": "starting" if starting else "off"}
        return ls.completions.stats()

    @server.feature(types.SHUTDOWN)
    def shutdown(ls: AsmLanguageServer, params: Any) -> None:
        ls._index_cancel.set()
        ls.parses.shutdown()
        if ls.completions is not None:
            ls.completions.close()

    return server
