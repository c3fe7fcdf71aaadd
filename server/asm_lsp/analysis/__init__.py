"""Analyses of assembly text by outside tools (llvm-mca). No LSP imports."""
