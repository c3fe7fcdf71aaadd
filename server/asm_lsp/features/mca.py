"""Glue for pipeline analysis (llvm-mca): the ``asmLsp.analyzeThroughput`` command and the
optional hover section on a function label. The pure parts are in ``analysis/mca.py``.

llvm-mca runs on a worker thread, at most one at a time per server, and its answers are
kept per (program, CPU, features, input text): hovering the same function again costs nothing.
"""
from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from lsprotocol import types

from asm_lsp.analysis.mca import McaError, McaInput, McaReport, build_input, find_mca, run_mca
from asm_lsp.settings import AnalysisSettings
from asm_lsp.syntax import ParsedDocument
from asm_lsp.workspace.index import WorkspaceIndex

CACHE_SIZE = 64


@dataclass(frozen=True)
class Target:
    """What to analyse: 0-based ``first``..``last`` lines of ``uri``, described for people (1-based)."""

    uri: str
    doc: ParsedDocument
    first: int
    last: int
    where: str


class McaAnalyzer:
    """Runs llvm-mca for one server; remembers recent answers (reports and failures alike)."""

    def __init__(self) -> None:
        self._cache: OrderedDict[tuple, McaReport | McaError] = OrderedDict()
        self._lock = threading.Lock()  # one llvm-mca at a time: hovers do not pile up processes

    def analyze(self, settings: AnalysisSettings, mca_input: McaInput) -> McaReport:
        """Blocking: the report, or McaError. Call from a worker thread."""
        program = find_mca(settings.mca_path)
        key = (program, settings.cpu, settings.mattr, mca_input.text)
        with self._lock:
            cached = self._cache.get(key)
            if cached is None:
                try:
                    cached = run_mca(program, mca_input, settings.cpu, settings.mattr, settings.timeout_ms / 1000)
                except McaError as exc:
                    cached = exc
                self._cache[key] = cached
                while len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
            else:
                self._cache.move_to_end(key)
        if isinstance(cached, McaError):
            raise cached
        return cached

    async def run(self, settings: AnalysisSettings, target: Target, detail: bool) -> tuple[McaReport, str]:
        """The report and its Markdown for ``target``; raises McaError."""
        mca_input = build_input(target.doc, target.first, target.last)
        report = await asyncio.to_thread(self.analyze, settings, mca_input)
        return report, report.markdown(target.where, detail)


def _function_target(index: WorkspaceIndex, uri: str, doc: ParsedDocument, name: str) -> Target | None:
    """The function ``name`` as seen from ``uri``: this document's, else its workspace definition."""
    places = [(uri, doc)] + [(u, index.get(u)) for u, _ in index.definitions(uri, name) if u != uri]
    for place_uri, place_doc in places:
        if place_doc is None:
            continue
        function = next((f for f in place_doc.functions if f.name == name), None)
        if function is not None:
            file = place_uri.rsplit("/", 1)[-1]
            where = f"`{name}` ({file}:{function.start_line + 1}–{function.end_line + 1})"
            return Target(place_uri, place_doc, function.start_line, function.end_line, where)
    return None


def command_target(index: WorkspaceIndex, uri: str, doc: ParsedDocument, what: Any) -> Target:
    """The target of ``asmLsp.analyzeThroughput``'s second argument; raises McaError if unusable.

    ``what``: a Range (``{start, end}``; lines as selected, an empty one means the function
    holding its line), a Position (the function holding it), ``{"function": NAME}`` or NAME.
    """
    if isinstance(what, dict) and isinstance(what.get("function"), str):
        what = what["function"]
    if isinstance(what, str):
        target = _function_target(index, uri, doc, what)
        if target is None:
            raise McaError(f"no function {what!r} in {uri.rsplit('/', 1)[-1]} or the workspace")
        return target
    start, end, end_char = _range_lines(what)
    if start is None or end is None:
        raise McaError("asmLsp.analyzeThroughput takes [uri, range], [uri, position] or [uri, {\"function\": name}]")
    file = uri.rsplit("/", 1)[-1]
    if start < 0 or start >= len(doc.lines) or end < start:
        raise McaError(f"line {start + 1} is outside {file} ({len(doc.lines)} lines)")
    if end > start or (end_char is not None and end_char > 0 and "start" in what
                       and what["start"].get("character") != end_char):  # a selection: its lines
        if end > start and end_char == 0:
            end -= 1  # a selection of whole lines ends at column 0 of the next line
        end = min(end, len(doc.lines) - 1)
        return Target(uri, doc, start, end, f"lines {start + 1}–{end + 1} of {file}")
    function = doc.function_at(start)  # an empty selection or a position: its function
    if function is None:
        raise McaError(f"line {start + 1} of {file} is not inside a function; select the lines to analyse")
    target = _function_target(index, uri, doc, function.name)
    assert target is not None
    return target


def _range_lines(what: Any) -> tuple[int | None, int | None, int | None]:
    """(start line, end line, end character) of a Range or Position in JSON form."""
    try:
        if isinstance(what, dict) and isinstance(what.get("start"), dict) and isinstance(what.get("end"), dict):
            return int(what["start"]["line"]), int(what["end"]["line"]), int(what["end"].get("character", 0))
        if isinstance(what, dict) and "line" in what:
            line = int(what["line"])
            return line, line, None
    except (TypeError, ValueError, KeyError, AttributeError):
        pass
    return None, None, None


def hover_target(index: WorkspaceIndex, uri: str, doc: ParsedDocument, line: int, col: int) -> Target | None:
    """The function whose label (or a call of it) is at 0-based ``line``/``col``, if any."""
    found = doc.label_at(line, col) or doc.ref_at(line, col)
    if found is None or found.name.isdigit() or found.name.startswith(".L"):
        return None
    return _function_target(index, uri, doc, found.name)


def add_section(hover: types.Hover | None, markdown: str) -> types.Hover | None:
    """``hover`` with ``markdown`` appended below a rule."""
    if hover is None or not isinstance(hover.contents, types.MarkupContent):
        return hover
    value = hover.contents.value + "\n\n---\n" + markdown
    return types.Hover(contents=types.MarkupContent(kind=hover.contents.kind, value=value), range=hover.range)


def command_result(report: McaReport | None, markdown: str, error: str | None = None) -> dict:
    """The command's JSON answer: ``ok``, ``markdown`` to show, and the parsed ``report``."""
    if report is None:
        return {"ok": False, "markdown": error or markdown, "error": error or markdown}
    return {"ok": True, "markdown": markdown, "report": report.as_dict()}
