-- asm-lsp for Neovim >= 0.11 with the built-in vim.lsp.config / vim.lsp.enable (no plugins).
-- docs/editors.md shows this file; tests/editors/test_neovim.py loads it unchanged.
-- A name other than `asm_lsp`: nvim-lspconfig uses that one for the unrelated Rust asm-lsp.
vim.lsp.config('aarch64_asm', {
  cmd = vim.g.asm_lsp_cmd or { 'asm-lsp', '--stdio' },
  filetypes = { 'asm' },
  root_markers = { '.git' },
  -- Settings of section `asmLsp` (README.md lists them all); unset fields keep their defaults.
  init_options = vim.g.asm_lsp_settings or {
    completion = { mode = 'both' },
    diagnostics = { debounceMs = 300 },
  },
})
vim.lsp.enable('aarch64_asm')
