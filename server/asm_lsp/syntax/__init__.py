"""Pure AArch64 GNU-as text model (no pygls, no llama_cpp). Nothing here raises.

Positions are 0-based lines and 0-based Python string (code point) columns.
"""

from __future__ import annotations

from .functions import split_functions
from .macros import CONVENTIONS, Block, FunctionRole, Macro, MacroParam, macro_roles
from .model import Function, FunctionText, LabelDef, LabelRef, Operand, Statement, Token
from .normalize import normalize_function
from .outline import OutlineDocument, needs_outline, outline, parse_bounded
from .parser import ParsedDocument, parse, split_lines
from .tokens import token_at

__all__ = [
    "CONVENTIONS",
    "Block",
    "FunctionRole",
    "Macro",
    "MacroParam",
    "macro_roles",
    "Function",
    "FunctionText",
    "LabelDef",
    "LabelRef",
    "Operand",
    "OutlineDocument",
    "ParsedDocument",
    "Statement",
    "Token",
    "needs_outline",
    "normalize_function",
    "outline",
    "parse",
    "parse_bounded",
    "split_functions",
    "split_lines",
    "token_at",
]
