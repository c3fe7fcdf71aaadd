"""Hover: A64 mnemonics, registers, directives, functions/labels and macros."""
from __future__ import annotations

from collections.abc import Callable

from lsprotocol import types

from asm_lsp import docs
from asm_lsp.features.navigation import macro_at, symbol_at
from asm_lsp.features.positions import lsp_range
from asm_lsp.syntax import CONVENTIONS, Macro, ParsedDocument, token_at
from asm_lsp.workspace.index import WorkspaceIndex

#: Body lines a macro's hover shows.
MACRO_BODY_LINES = 8
_CONVENTION_SOURCES = {
    "function": "FFmpeg/x264/dav1d `asm.S`", "endfunc": "FFmpeg/x264/dav1d `asm.S`",
    "asm_function": "libjpeg-turbo", "entry": "glibc `sysdep.h` / Linux `linkage.h`",
    "end": "glibc `sysdep.h`", "end_chk": "glibc `sysdep.h`", "endproc": "Linux `linkage.h`",
}

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
    macro_names = {m.name.lower() for _, m in index.macros()} | set(CONVENTIONS)
    invocations = sum(1 for s in body if s.kind == "instruction" and s.name in macro_names)
    instructions = sum(1 for s in body if s.kind == "instruction") - invocations
    calls = sorted({r.name for r in def_doc.refs if function.start_line <= r.line <= function.end_line
                    and not r.numeric and not r.name.startswith(".L") and r.name != name})
    callers = sum(1 for place in index.references(uri, name, include_declaration=False))
    scope = "global" if name in def_doc.globals else "local"
    lines = [
        f"**{name}** — {scope} function, {where}:{function.start_line + 1}–{function.end_line + 1}",
        "",
        f"{instructions} instructions, " + (f"{invocations} macro invocations, " if invocations else "")
        + f"{len(function.local_labels)} local labels, referenced {callers}×",
    ]
    if function.kind == "macro" and label.defined_by not in (":", "macro"):
        lines.append(f"\ndefined by the macro `{label.defined_by}`")
    if calls:
        shown = ", ".join(f"`{c}`" for c in calls[:12]) + (" …" if len(calls) > 12 else "")
        lines.append(f"\nrefers to: {shown}")
    if len(definitions) > 1:
        lines.append(f"\n({len(definitions)} definitions in the workspace)")
    return "\n".join(lines)


def macro_markdown(def_uri: str, macro: Macro, lines) -> str:
    """A macro's signature, parameters, the start of its body and its role."""
    where = def_uri.rsplit("/", 1)[-1]
    kind = "macro" if macro.kind == "macro" else ("function-like macro" if macro.params is not None else "constant")
    parts = [f"**{macro.name}** — {kind}, {where}:{macro.line + 1}", ""]
    if macro.kind == "define":
        parts += ["```c", macro.signature()[:400], "```"]
    else:
        body = [lines[i] for i in range(macro.line + 1, min(macro.end_line, len(lines)))]
        shown = body[:MACRO_BODY_LINES] + (["…"] if len(body) > MACRO_BODY_LINES else [])
        parts += ["```asm", macro.signature(), *shown, ".endm", "```"]
        if macro.params:
            described = []
            for param in macro.params:
                text = f"`\\{param.name}`"
                notes = (["required"] if param.required else []) + (["the rest of the arguments"] if param.vararg else [])
                if param.default is not None:
                    notes.append(f"default `{param.default}`")
                described.append(text + (f" ({', '.join(notes)})" if notes else ""))
            parts.append("Parameters: " + ", ".join(described))
    role = macro.role
    if role is not None and role.kind == "start":
        exported = {"": ", global", None: ""}.get(role.global_if, f", global when `{role.global_if}` is set")
        parts.append(f"\nBegins a function named `{role.template}`{exported}.")
    elif role is not None and role.kind == "end":
        parts.append("\nEnds the function it follows.")
    elif role is not None and role.kind == "data":
        parts.append(f"\nDefines the data symbol `{role.template}`.")
    return "\n".join(parts)


def _macro_hover(index: WorkspaceIndex, uri: str, name: str) -> str | None:
    found = index.macro(uri, name)
    if found is None:
        return None
    def_uri, macro = found
    def_doc = index.get(def_uri)
    return macro_markdown(def_uri, macro, def_doc.lines) if def_doc is not None else None


def _convention_hover(name: str) -> str | None:
    entry = CONVENTIONS.get(name.lower())
    if entry is None:
        return None
    kind, _ = entry
    source = _CONVENTION_SOURCES.get(name.lower(), "Linux `linkage.h`")
    what = "begins a function named by its first argument" if kind == "start" else "ends the function it follows"
    return f"**{name}** — macro, not defined in the workspace\n\nBy the {source} convention it {what}."


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
        text = None
        if not name.isdigit() and index.is_macro(name) and not any(f.name == name for f in doc.functions):
            text = _macro_hover(index, uri, name)  # a #define constant in an operand, a macro's definition
        if text is None:
            text = function_summary(index, uri, name) if not name.isdigit() else f"**{name}** — numeric local label"
        if text is None:
            text = f"**{name}** — not defined in the workspace"
        if function_extra is not None and not name.isdigit():
            extra = function_extra(uri, name)
            if extra:
                text += "\n\n---\n" + extra
        return _markdown(text, doc, line, target.start, target.end)
    macro = macro_at(index, doc, line, col)
    if macro is not None:
        text = _macro_hover(index, uri, macro[0])
        if text is not None:
            return _markdown(text, doc, line, macro[1], macro[2])
    if token is None:
        return None
    text = None
    if token.kind == "mnemonic" and docs.lookup_mnemonic(token.text) is None:
        text = _convention_hover(token.text)
        if text is not None:
            return _markdown(text, doc, line, token.start, token.end)
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
