"""``python -m asm_lsp`` is the same as the ``asm-lsp`` command."""
from asm_lsp.cli import main

raise SystemExit(main())
