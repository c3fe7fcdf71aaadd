"""asm-lsp: a language server for AArch64 GNU assembly, written in Python."""
from __future__ import annotations

__version__ = "0.1.0"

#: One line that tells this program apart from the Rust `asm-lsp` of the same name.
VERSION_LINE = f"asm-lsp {__version__} (AArch64 GNU assembly language server, Python/pygls)"
