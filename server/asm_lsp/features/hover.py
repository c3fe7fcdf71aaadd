"""Hover: A64 mnemonics, registers, directives, and functions/labels."""
from __future__ import annotations

from collections.abc import Callable

from lsprotocol import types

from asm_lsp import docs
from asm_lsp.features.navigation import symbol_at
from asm_lsp.features.positions import lsp_range
from asm_lsp.syntax import ParsedDocument, token_at
from asm_lsp.workspace.index import WorkspaceIndex

#: Extra Markdown for a function's hover (similar functions); gets (uri, function name).
FunctionExtra = Callable[[str, str], str | None]


def _markdown(value: str, doc: ParsedDocument, line: int, start: int, end: int) -> types.Hover:
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=value),
        range=lsp_range(doc.lines, line, start, end),
    )


def function_summary(index: WorkspaceIndex, uri: str, name: str) -> str | None:
    """Markdown describing the function (or label) ``name`` as seen from ``uri``."""
    definitions = index.definitions(uri, name)
    if not definitions:
        return None
    def_uri, label = definitions[0]
    def_doc = index.get(def_uri)
    if def_doc is None:
        return None
    where = def_uri.rsplit("/", 1)[-1]
    function = next((f for f in def_doc.functions if f.name == name), None)
    if function is None:
        owner = f" in function `{label.function}`" if label.function else ""
        return f"**{name}** — label{owner}, {where}:{label.line + 1}"
    body = [s for s in def_doc.statements if function.start_line <= s.line <= function.end_line]
    instructions = sum(1 for s in body if s.kind == "instruction")
    calls = sorted({r.name for r in def_doc.refs if function.start_line <= r.line <= function.end_line
                    and not r.numeric and not r.name.startswith(".L") and r.name != name})
    callers = sum(1 for place in index.references(uri, name, include_declaration=False))
    scope = "global" if name in def_doc.globals else "local"
    lines = [
        f"**{name}** — {scope} function, {where}:{function.start_line + 1}–{function.end_line + 1}",
        "",
        f"{instructions} instructions, {len(function.local_labels)} local labels, referenced {callers}×",
    ]
    if calls:
        shown = ", ".join(f"`{c}`" for c in calls[:12]) + (" …" if len(calls) > 12 else "")
        lines.append(f"\nrefers to: {shown}")
    if len(definitions) > 1:
        lines.append(f"\n({len(definitions)} definitions in the workspace)")
    return "\n".join(lines)


def hover(index: WorkspaceIndex, uri: str, doc: ParsedDocument, line: int, col: int,
          function_extra: FunctionExtra | None = None) -> types.Hover | None:
    """Hover at a 0-based line and code-point column; None when there is nothing to say."""
    if not 0 <= line < len(doc.lines):
        return None
    symbol = symbol_at(doc, line, col)
    token = token_at(doc.lines[line], col)
    if symbol is not None:
        name, _ = symbol
        target = doc.ref_at(line, col) or doc.label_at(line, col)
        text = function_summary(index, uri, name) if not name.isdigit() else f"**{name}** — numeric local label"
        if text is None:
            text = f"**{name}** — not defined in the workspace"
        if function_extra is not None and not name.isdigit():
            extra = function_extra(uri, name)
            if extra:
                text += "\n\n---\n" + extra
        return _markdown(text, doc, line, target.start, target.end)
    if token is None:
        return None
    text = None
    if token.kind == "mnemonic":
        found = docs.lookup_mnemonic(token.text)
        text = docs.format_mnemonic_markdown(found) if found else None
    elif token.kind == "register":
        found_reg = docs.lookup_register(token.text)
        text = docs.format_register_markdown(found_reg) if found_reg else None
    elif token.kind == "directive":
        found_dir = docs.lookup_directive(token.text)
        text = docs.format_directive_markdown(found_dir) if found_dir else None
    else:  # condition codes and the like: try the register table, then mnemonics
        found_reg = docs.lookup_register(token.text)
        text = docs.format_register_markdown(found_reg) if found_reg else None
    if text is None:
        return None
    return _markdown(text, doc, line, token.start, token.end)
