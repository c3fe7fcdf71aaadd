"""Static completion items: mnemonics, directives, registers, macros and labels in scope."""
from __future__ import annotations

import re
from functools import lru_cache

from lsprotocol import types

from asm_lsp import docs
from asm_lsp.syntax import ParsedDocument
from asm_lsp.workspace.index import MACRO_DEFINERS, WorkspaceIndex

_WORD_BEFORE = re.compile(r"[\w.$]*$")
_BRANCHES = {"b", "bl", "cbz", "cbnz", "tbz", "tbnz", "adr", "adrp", "br", "blr"}


@lru_cache(maxsize=1)
def _mnemonic_items() -> tuple[types.CompletionItem, ...]:
    return tuple(
        types.CompletionItem(label=d.name.lower(), kind=types.CompletionItemKind.Keyword, detail=d.summary,
                             sort_text="1" + d.name.lower())
        for d in docs.all_mnemonics()
    )


@lru_cache(maxsize=1)
def _directive_items() -> tuple[types.CompletionItem, ...]:
    return tuple(
        types.CompletionItem(label=d.name, kind=types.CompletionItemKind.Keyword, detail=d.summary,
                             filter_text=d.name, sort_text="2" + d.name)
        for d in docs.all_directives()
    )


@lru_cache(maxsize=1)
def _register_items() -> tuple[types.CompletionItem, ...]:
    items = []
    for name in docs.all_registers():
        found = docs.lookup_register(name)
        items.append(types.CompletionItem(label=name, kind=types.CompletionItemKind.Variable,
                                          detail=found.summary if found else None, sort_text="3" + name))
    return tuple(items)


def completion_context(line_text: str, col: int) -> str:
    """Where the cursor is: "mnemonic" (statement start), "directive" or "operand"."""
    head = line_text[:col]
    for sep in (";",):
        head = head.rsplit(sep, 1)[-1]
    head = re.sub(r"^\s*(?:[\w.$]+:\s*)+", " ", head)  # labels before the statement
    stripped = head.lstrip()
    word = _WORD_BEFORE.search(stripped)
    before_word = stripped[: word.start()] if word else stripped
    if not before_word.strip():
        return "directive" if stripped.startswith(".") else "mnemonic"
    return "operand"


def macro_items(index: WorkspaceIndex, uri: str, doc: ParsedDocument, statement_start: bool) -> list[types.CompletionItem]:
    """Macros visible from ``uri`` (its own and the workspace's): ``.macro`` names and
    function-like ``#define``s where a statement starts, ``#define`` constants in operands."""
    items: list[types.CompletionItem] = []
    seen: set[str] = set()
    found = [(uri, m) for m in doc.macros] + [(u, m) for u, m in index.macros() if u != uri]
    for def_uri, macro in found:
        invocable = macro.kind == "macro" or macro.params is not None
        if macro.name in seen or invocable != statement_start:
            continue
        seen.add(macro.name)
        where = f"{def_uri.rsplit('/', 1)[-1]}:{macro.line + 1}"
        kind = types.CompletionItemKind.Constant if not invocable else types.CompletionItemKind.Snippet
        items.append(types.CompletionItem(label=macro.name, kind=kind, detail=f"{macro.signature()[:60]} ({where})",
                                          sort_text="0" + macro.name))
    return items


def param_items(doc: ParsedDocument, line: int) -> list[types.CompletionItem]:
    """``\\param`` items of the innermost ``.macro`` whose body holds ``line``."""
    inner = None
    for macro in doc.macros:
        if macro.kind == "macro" and macro.line < line < macro.end_line:
            inner = macro  # sorted by line: the last one holding it is the innermost
    if inner is None:
        return []
    return [
        types.CompletionItem(label="\\" + p.name, kind=types.CompletionItemKind.Variable, filter_text=p.name,
                             insert_text=p.name, detail=f"parameter of .macro {inner.name}: {p.signature()}",
                             sort_text="0" + p.name)
        for p in inner.params or ()
    ]


def label_items(index: WorkspaceIndex, uri: str, doc: ParsedDocument, line: int) -> list[types.CompletionItem]:
    """Labels in scope: this file's (local ones only of the enclosing function) and the workspace's globals."""
    function = doc.function_at(line)
    seen: set[str] = set()
    items: list[types.CompletionItem] = []
    for label in doc.labels:
        if label.kind == "numeric" or label.name in seen or label.defined_by in MACRO_DEFINERS:
            continue  # macros: macro_items
        if label.name.startswith(".L") and function is not None and label.function not in (None, function.name):
            continue
        seen.add(label.name)
        kind = types.CompletionItemKind.Function if label.function == label.name else types.CompletionItemKind.Reference
        items.append(types.CompletionItem(label=label.name, kind=kind, detail=f"label, line {label.line + 1}",
                                          sort_text="0" + label.name))
    for other_uri, label in index.symbols("", limit=2000):
        if label.name in seen or other_uri == uri:
            continue
        other = index.get(other_uri)
        if other is None or label.name not in other.globals:
            continue
        seen.add(label.name)
        items.append(types.CompletionItem(label=label.name, kind=types.CompletionItemKind.Function,
                                          detail=f"global, {other_uri.rsplit('/', 1)[-1]}:{label.line + 1}",
                                          sort_text="0" + label.name))
    return items


def static_completions(index: WorkspaceIndex, uri: str, doc: ParsedDocument, line: int, col: int) -> list[types.CompletionItem]:
    line_text = doc.lines[line] if 0 <= line < len(doc.lines) else ""
    where = completion_context(line_text, col)
    word = _WORD_BEFORE.search(line_text[:col])
    if word is not None and line_text[: word.start()].endswith("\\"):
        return param_items(doc, line)  # `\\par|` in a macro body
    if where == "directive":
        return list(_directive_items())
    if where == "mnemonic":
        return macro_items(index, uri, doc, True) + list(_mnemonic_items()) + list(_directive_items())
    statement = next((s for s in doc.statements if s.line == line and s.start <= col <= max(s.end, col)
                      and s.kind == "instruction"), None)
    labels = label_items(index, uri, doc, line) + macro_items(index, uri, doc, False)
    if statement is not None and (statement.name in _BRANCHES or statement.name.startswith("b.")):
        return labels + list(_register_items())
    return list(_register_items()) + labels
